//! What a component file is, read without compiling it: valid WebAssembly (checked by wasmparser, the
//! validator wasmtime itself runs) whose exports name a `strata:origin` world at a version this host runs.
//!
//! Compiling and linking it against its imports need the engine `strata serve` builds; this check is the
//! part that costs milliseconds, for `strata check-config`.

use wasmparser::{Parser, Payload, Validator};

use crate::GuestError;
use crate::deployment::{
    ABI_VERSIONS, GuestKind, implemented_by_exports, invalid, unknown_version,
};

/// The world and ABI version a component's exports claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    /// The world it implements.
    pub kind: GuestKind,
    /// The `strata:origin` version it was built for, one of [`ABI_VERSIONS`].
    pub abi: String,
}

/// Validates `wasm` as a component and reads which world and ABI version it implements, without compiling
/// it: its imports are not linked, so a component this accepts may still be refused by `serve`.
///
/// # Errors
/// `Invalid` naming the problem: not valid WebAssembly, a core module rather than a component, no
/// `strata:origin` world, or an ABI version this host does not run.
pub fn inspect(wasm: &[u8]) -> Result<Claimed, GuestError> {
    if !Parser::is_component(wasm) {
        return Err(invalid(
            "not a WebAssembly component (build it for wasm32-wasip2)".to_owned(),
        ));
    }
    Validator::new()
        .validate_all(wasm)
        .map_err(|e| invalid(format!("not valid WebAssembly: {e}")))?;
    let exports = top_level_exports(wasm)?;
    let (kind, abi) = implemented_by_exports(exports.iter().map(String::as_str))?;
    if !ABI_VERSIONS.contains(&abi) {
        return Err(unknown_version(abi));
    }
    Ok(Claimed {
        kind,
        abi: abi.to_owned(),
    })
}

/// The names the component exports at its top level (nested components' exports are internal).
fn top_level_exports(wasm: &[u8]) -> Result<Vec<String>, GuestError> {
    let mut depth = 0usize;
    let mut names = Vec::new();
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload.map_err(|e| invalid(format!("not valid WebAssembly: {e}")))?;
        match payload {
            Payload::Version { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentExportSection(reader) if depth == 1 => {
                for export in reader {
                    let export =
                        export.map_err(|e| invalid(format!("not valid WebAssembly: {e}")))?;
                    names.push(export.name.name.to_owned());
                }
            }
            _ => {}
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(path: &str) -> Vec<u8> {
        std::fs::read(path).unwrap()
    }

    #[test]
    fn handlers_and_filters_of_each_version_are_named() {
        for (path, kind, abi) in [
            (strata_test_guests::VERSION_ONE, GuestKind::Handler, "0.2.0"),
            (
                strata_test_guests::ORIGIN_ABI_V0_1,
                GuestKind::Handler,
                "0.1.0",
            ),
            (
                strata_test_guests::FILTER_VARIANT_CAP,
                GuestKind::Filter,
                "0.2.0",
            ),
        ] {
            let claimed = inspect(&read(path)).unwrap();
            assert_eq!(
                claimed,
                Claimed {
                    kind,
                    abi: abi.to_owned()
                },
                "{path}"
            );
        }
    }

    #[test]
    fn a_version_this_host_does_not_run_is_refused() {
        let error = inspect(&read(strata_test_guests::FUTURE_ABI))
            .unwrap_err()
            .to_string();
        assert!(error.contains("does not run"), "{error}");
    }

    #[test]
    fn what_is_not_a_valid_component_is_refused() {
        let error = inspect(b"not wasm at all").unwrap_err().to_string();
        assert!(error.contains("not a WebAssembly component"), "{error}");
        let mut truncated = read(strata_test_guests::VERSION_ONE);
        truncated.truncate(truncated.len() / 2);
        let error = inspect(&truncated).unwrap_err().to_string();
        assert!(error.contains("not valid WebAssembly"), "{error}");
        // A core module header: valid WebAssembly, but not a component.
        let core = b"\0asm\x01\0\0\0";
        let error = inspect(core).unwrap_err().to_string();
        assert!(error.contains("not a WebAssembly component"), "{error}");
    }
}
