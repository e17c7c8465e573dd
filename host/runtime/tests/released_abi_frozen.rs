//! A released ABI version never changes (decision 0048): its WIT files are pinned by hash, so an edit to
//! `wit/v0.1.0/` fails here and has to go to a new version instead.

use sha2::{Digest, Sha256};

/// The files of `strata:origin@0.1.0` as released, with their SHA-256.
const RELEASED_V0_1_0: &[(&str, &str)] = &[
    (
        "origin.wit",
        "073e8e6440b46ed3a7d459cd87ec30da463f28329bfc540c98580bea8e19aefa",
    ),
    (
        "manifest-filter.wit",
        "8a321239d3e0b83c9b6a0f2a4d953d15b95957ca914262e939f6ff992b1e42be",
    ),
];

#[test]
fn the_released_0_1_0_wit_is_unchanged() {
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../wit/v0.1.0");
    for (file, pinned) in RELEASED_V0_1_0 {
        let text = std::fs::read(folder.join(file)).unwrap();
        assert_eq!(
            hex::encode(Sha256::digest(&text)),
            *pinned,
            "wit/v0.1.0/{file} changed: a released ABI version is frozen; change wit/ (the next version) instead"
        );
    }
}
