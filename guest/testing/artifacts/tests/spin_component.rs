//! The Spin component (`guest/spin`) imports only what Spin 3.x provides, and spin.toml runs it.
//!
//! Spin refuses to start a component with an import it does not provide, and the `spin` CLI cannot run
//! here, so the built component's imports are checked against the world Spin provides: spin-sdk 5.2's
//! `spin:up@3.6.0` `platform` world (WASI 0.2 up to 0.2.6, `fermyon:spin@2.0.0`, the draft
//! `wasi:keyvalue`/`wasi:config`, `spin:postgres`, `spin:sqlite`).

use std::collections::BTreeSet;

/// Interfaces (without versions) Spin 3.6 gives a component, and the versions of each family it accepts.
const SPIN_PROVIDES: &[(&str, &[&str])] = &[
    ("wasi:cli/", &["0.2.0", "0.2.3", "0.2.6"]),
    ("wasi:clocks/", &["0.2.0", "0.2.3", "0.2.6"]),
    ("wasi:filesystem/", &["0.2.0", "0.2.3", "0.2.6"]),
    ("wasi:io/", &["0.2.0", "0.2.3", "0.2.6"]),
    ("wasi:random/", &["0.2.0", "0.2.3", "0.2.6"]),
    ("wasi:sockets/", &["0.2.0", "0.2.3", "0.2.6"]),
    ("wasi:http/", &["0.2.0", "0.2.3", "0.2.6"]),
    ("fermyon:spin/", &["2.0.0"]),
    ("wasi:keyvalue/", &["0.2.0-draft2"]),
    ("wasi:config/store", &["0.2.0-draft-2024-09-27"]),
    ("spin:postgres/postgres", &["3.0.0", "4.0.0"]),
    ("spin:sqlite/sqlite", &["3.0.0"]),
];

/// The names a component imports at its top level (nested modules' and components' imports are internal).
fn component_imports(wasm: &[u8]) -> BTreeSet<String> {
    let mut depth = 0usize;
    let mut names = BTreeSet::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        match payload.expect("the Spin component parses") {
            wasmparser::Payload::Version { .. } => depth += 1,
            wasmparser::Payload::End(_) => depth -= 1,
            wasmparser::Payload::ComponentImportSection(reader) if depth == 1 => {
                for import in reader {
                    names.insert(import.expect("an import parses").name.name.to_string());
                }
            }
            _ => {}
        }
    }
    names
}

fn provided_by_spin(import: &str) -> bool {
    let (interface, version) = import.split_once('@').unwrap_or((import, ""));
    SPIN_PROVIDES
        .iter()
        .any(|(family, versions)| interface.starts_with(family) && versions.contains(&version))
}

#[test]
fn the_spin_component_imports_only_what_spin_provides() {
    let wasm = std::fs::read(strata_test_guests::SPIN).expect("the Spin component was built");
    let imports = component_imports(&wasm);
    assert!(
        imports
            .iter()
            .any(|i| i.starts_with("fermyon:spin/key-value@")),
        "the component keeps objects in Spin's key-value store: {imports:?}"
    );
    assert!(
        imports
            .iter()
            .any(|i| i.starts_with("fermyon:spin/variables@")),
        "the component reads its settings from a Spin variable: {imports:?}"
    );
    let foreign: Vec<&String> = imports.iter().filter(|i| !provided_by_spin(i)).collect();
    assert!(foreign.is_empty(), "Spin does not provide {foreign:?}");
}

#[test]
fn the_import_check_refuses_what_spin_lacks() {
    assert!(provided_by_spin("wasi:io/streams@0.2.6"));
    assert!(!provided_by_spin("strata:origin/tiers@0.1.0"));
    assert!(!provided_by_spin("wasi:io/streams@0.3.0-rc-2026-01-06"));
    assert!(!provided_by_spin("wasi:http/types@0.2.9"));
}

#[test]
fn spin_toml_serves_every_path_from_the_component_with_the_default_store() {
    let manifest =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../spin.toml"))
            .expect("spin.toml at the workspace root");
    let manifest: toml::Table = toml::from_str(&manifest).expect("spin.toml is TOML");
    let trigger = &manifest["trigger"]["http"][0];
    assert_eq!(trigger["route"].as_str(), Some("/..."));
    let component = &manifest["component"][trigger["component"].as_str().expect("a component")];
    assert_eq!(
        component["source"].as_str(),
        Some("target/wasm32-wasip2/release/strata_guest_spin.wasm")
    );
    assert_eq!(
        component["key_value_stores"].as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(component["key_value_stores"][0].as_str(), Some("default"));
    let build = component["build"]["command"]
        .as_str()
        .expect("a build command");
    assert!(build.contains("strata-guest-spin") && build.contains("wasm32-wasip2"));
    // The guest's settings come from the application variable `strata_settings`, empty by default.
    assert_eq!(
        component["variables"]["settings"].as_str(),
        Some("{{ strata_settings }}")
    );
    assert_eq!(
        manifest["variables"]["strata_settings"]["default"].as_str(),
        Some("")
    );
}
