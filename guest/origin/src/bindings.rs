//! The generated WIT bindings, fenced here so the rest of the crate sees only plain names: of the current
//! ABI, or of the frozen first one with the feature `abi-v0-1` (the compatibility test's build).

#[cfg(not(feature = "abi-v0-1"))]
wit_bindgen::generate!({
    path: "../../wit",
    world: "origin-handler",
});

#[cfg(feature = "abi-v0-1")]
wit_bindgen::generate!({
    path: "../../wit/v0.1.0",
    world: "origin-handler",
});
