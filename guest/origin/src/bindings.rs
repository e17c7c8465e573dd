//! The generated WIT bindings, fenced here so the rest of the crate sees only plain names.

wit_bindgen::generate!({
    path: "../../wit",
    world: "origin-handler",
});
