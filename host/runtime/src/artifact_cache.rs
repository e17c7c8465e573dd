//! Compiled components cached on disk, so a restart deserialises instead of recompiling.
//!
//! A `.cwasm` is only valid for the exact wasmtime build and settings that made it, so the cache folder is
//! named after `Engine::precompile_compatibility_hash`; the `.wasm` stays the source of truth and a miss (or
//! an artifact wasmtime refuses) just compiles again.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use strata_tiers::files::write_atomically;
use wasmtime::Engine;
use wasmtime::component::Component;

/// Compiled components under `<root>/<compatibility hash>/<sha256>.cwasm`.
pub struct ArtifactCache {
    dir: PathBuf,
    compiles: AtomicU64,
    hits: AtomicU64,
}

impl ArtifactCache {
    /// The cache for `engine`'s compatibility hash under `root`.
    pub fn new(root: &Path, engine: &Engine) -> Self {
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        ArtifactCache {
            dir: root.join(format!("{:016x}", hasher.finish())),
            compiles: AtomicU64::new(0),
            hits: AtomicU64::new(0),
        }
    }

    /// The component of `wasm` (whose SHA-256 is `sha256`), from the cache or freshly compiled and cached.
    ///
    /// # Errors
    /// When `wasm` is not a valid component. A cache that cannot be written is logged, not fatal.
    pub fn component(
        &self,
        engine: &Engine,
        wasm: &[u8],
        sha256: &str,
    ) -> wasmtime::Result<Component> {
        let path = self.dir.join(format!("{sha256}.cwasm"));
        if path.exists() {
            // SAFETY: the file is one this process family wrote with `Component::serialize` into the data
            // folder, under a folder keyed by this engine's compatibility hash; wasmtime still checks its
            // header and refuses an incompatible artifact, which falls through to a fresh compile.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => {
                    self.hits.fetch_add(1, Ordering::Relaxed);
                    return Ok(component);
                }
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "cached artifact refused; recompiling")
                }
            }
        }
        let component = Component::new(engine, wasm)?;
        self.compiles.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = component
            .serialize()
            .map_err(std::io::Error::other)
            .and_then(|bytes| write_atomically(&path, &bytes))
        {
            tracing::warn!(path = %path.display(), error = %e, "cannot cache the compiled guest");
        }
        Ok(component)
    }

    /// How many components were compiled (cache misses) since start.
    pub fn compiles(&self) -> u64 {
        self.compiles.load(Ordering::Relaxed)
    }

    /// How many components were loaded from the cache since start.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }
}
