//! A deployment: one compiled, linked version of a named guest, ready to instantiate per request.
//!
//! Requests hold an `Arc<Deployment>` for all their decisions, so a swap never changes a request's version
//! midway and the old version is freed when its last request ends.
//!
//! A component is linked against the ABI version it was built for, read from the names of its exports
//! (`strata:origin/handler@0.1.0`); a version this host does not run is refused with the versions it does.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use wasmtime::Engine;
use wasmtime::component::{Component, Linker};

use super::bindings::{v0_1, v0_2};
use super::{GuestError, GuestState};

/// The ABI versions this host runs, oldest first.
pub const ABI_VERSIONS: &[&str] = &["0.1.0", "0.2.0"];

/// The WIT package every guest world belongs to.
pub const WIT_PACKAGE: &str = "strata:origin";

/// Which world a guest implements, fixed by its first deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GuestKind {
    /// `origin-handler`: decides data-plane requests.
    Handler,
    /// `manifest-filter`: rewrites playlist responses.
    Filter,
}

impl GuestKind {
    /// The WIT world's name, for error messages.
    pub fn world(self) -> &'static str {
        match self {
            GuestKind::Handler => "strata:origin/origin-handler",
            GuestKind::Filter => "strata:origin/manifest-filter",
        }
    }

    /// The interface the world exports.
    fn export(self) -> &'static str {
        match self {
            GuestKind::Handler => "handler",
            GuestKind::Filter => "filter",
        }
    }
}

/// A component linked against its world and ABI version, ready to instantiate.
pub enum Linked {
    /// A request handler of 0.1.0.
    HandlerV0_1(v0_1::OriginHandlerPre<GuestState>),
    /// A request handler of 0.2.0.
    HandlerV0_2(v0_2::OriginHandlerPre<GuestState>),
    /// A manifest filter plugin of 0.1.0.
    FilterV0_1(v0_1::filter::ManifestFilterPre<GuestState>),
    /// A manifest filter plugin of 0.2.0.
    FilterV0_2(v0_2::filter::ManifestFilterPre<GuestState>),
}

impl Linked {
    /// The world it implements.
    pub fn kind(&self) -> GuestKind {
        match self {
            Linked::HandlerV0_1(_) | Linked::HandlerV0_2(_) => GuestKind::Handler,
            Linked::FilterV0_1(_) | Linked::FilterV0_2(_) => GuestKind::Filter,
        }
    }

    /// The ABI version it was built for.
    pub fn abi(&self) -> &'static str {
        match self {
            Linked::HandlerV0_1(_) | Linked::FilterV0_1(_) => "0.1.0",
            Linked::HandlerV0_2(_) | Linked::FilterV0_2(_) => "0.2.0",
        }
    }
}

/// Identity of one version of a guest, as the admin API reports it and the data folder records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionInfo {
    /// Short id: the first 16 hex digits of the SHA-256.
    pub id: String,
    /// SHA-256 of the `.wasm`, hex.
    pub sha256: String,
    /// When it was (last) activated, seconds since the Unix epoch.
    pub activated_at: u64,
}

/// One live version of a named guest.
pub struct Deployment {
    /// The guest's name, e.g. `origin`.
    pub name: String,
    /// Which version this is.
    pub version: VersionInfo,
    /// The key prefix this guest is confined to, if any; a handler also receives the requests under it.
    pub namespace: Option<Arc<str>>,
    /// The linked component.
    pub linked: Linked,
}

/// The linkers of every world and version.
pub struct Linkers {
    /// Handlers: WASI with nothing granted, and the `tiers` import of every version.
    pub handler: Linker<GuestState>,
    /// Filters: WASI with nothing granted (Rust's standard library for wasm32-wasip2 imports a few of its
    /// interfaces: stderr, exit, clocks); the world itself imports nothing.
    pub filter: Linker<GuestState>,
}

/// Links `component` against the world and version it implements, which must be `expected` (or either
/// world when `None`).
///
/// # Errors
/// `Invalid` naming what is wrong: no `strata:origin` world, an ABI version this host does not run, the
/// wrong world, or imports the linker cannot satisfy.
pub fn link(
    engine: &Engine,
    linkers: &Linkers,
    component: &Component,
    expected: Option<GuestKind>,
) -> Result<Linked, GuestError> {
    let (kind, version) = implemented(engine, component)?;
    if let Some(expected) = expected.filter(|e| *e != kind) {
        return Err(invalid(format!(
            "the component implements {}, not {}",
            kind.world(),
            expected.world()
        )));
    }
    let linked = match (kind, version.as_str()) {
        (GuestKind::Handler, "0.2.0") => linkers
            .handler
            .instantiate_pre(component)
            .and_then(v0_2::OriginHandlerPre::new)
            .map(Linked::HandlerV0_2),
        (GuestKind::Handler, "0.1.0") => linkers
            .handler
            .instantiate_pre(component)
            .and_then(v0_1::OriginHandlerPre::new)
            .map(Linked::HandlerV0_1),
        (GuestKind::Filter, "0.2.0") => linkers
            .filter
            .instantiate_pre(component)
            .and_then(v0_2::filter::ManifestFilterPre::new)
            .map(Linked::FilterV0_2),
        (GuestKind::Filter, "0.1.0") => linkers
            .filter
            .instantiate_pre(component)
            .and_then(v0_1::filter::ManifestFilterPre::new)
            .map(Linked::FilterV0_1),
        (_, other) => return Err(unknown_version(other)),
    };
    linked.map_err(|e| {
        GuestError::Invalid(e.context(format!(
            "the component does not link as {}@{version}",
            kind.world()
        )))
    })
}

/// The world and ABI version `component` exports, read from its exported interface names.
fn implemented(engine: &Engine, component: &Component) -> Result<(GuestKind, String), GuestError> {
    let ty = component.component_type();
    let exports = ty.exports(engine).map(|(name, _)| name);
    implemented_by_exports(exports).map(|(kind, version)| (kind, version.to_owned()))
}

/// The world and ABI version named by the first of `exports` (a component's top-level export names) that
/// is a `strata:origin` world's interface (`strata:origin/handler@0.2.0`).
///
/// # Errors
/// `Invalid` when none is.
pub(crate) fn implemented_by_exports<'a>(
    exports: impl IntoIterator<Item = &'a str>,
) -> Result<(GuestKind, &'a str), GuestError> {
    for name in exports {
        let Some((interface, version)) = name
            .strip_prefix(WIT_PACKAGE)
            .and_then(|rest| rest.strip_prefix('/'))
            .and_then(|rest| rest.split_once('@'))
        else {
            continue;
        };
        for kind in [GuestKind::Handler, GuestKind::Filter] {
            if interface == kind.export() {
                return Ok((kind, version));
            }
        }
    }
    Err(invalid(format!(
        "the component exports neither {WIT_PACKAGE}/handler nor {WIT_PACKAGE}/filter: it implements neither {} \
         nor {}",
        GuestKind::Handler.world(),
        GuestKind::Filter.world()
    )))
}

/// The refusal of a component built for an ABI version this host does not run.
pub(crate) fn unknown_version(version: &str) -> GuestError {
    invalid(format!(
        "the component implements {WIT_PACKAGE}@{version}, which this host does not run (it runs {})",
        ABI_VERSIONS.join(" and ")
    ))
}

/// A component refused for `reason`.
pub(crate) fn invalid(reason: String) -> GuestError {
    GuestError::Invalid(wasmtime::Error::msg(reason))
}
