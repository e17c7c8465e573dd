//! The uploads in progress, by key: what `head` reports for a key whose first version is still arriving,
//! and what a reader follows. An upload leaves the registry when it commits or aborts, unless a newer
//! upload of the same key has replaced it meanwhile.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::lock;
use super::meta::ObjectMeta;
use super::upload::Upload;

/// The newest upload in progress of each key.
#[derive(Debug, Default)]
pub struct Uploads {
    by_key: Mutex<HashMap<String, Arc<Upload>>>,
}

impl Uploads {
    /// Registers `upload` as the newest of `key`.
    pub fn start(&self, key: &str, upload: Arc<Upload>) {
        lock(&self.by_key).insert(key.to_owned(), upload);
    }

    /// The newest upload of `key` in progress.
    pub fn current(&self, key: &str) -> Option<Arc<Upload>> {
        lock(&self.by_key).get(key).cloned()
    }

    /// What readers see of the newest upload of `key`.
    pub fn meta(&self, key: &str) -> Option<ObjectMeta> {
        lock(&self.by_key).get(key).map(|upload| upload.meta())
    }

    /// Removes `upload` from `key`, if it is still the newest.
    pub fn end(&self, key: &str, upload: &Upload) {
        let mut by_key = lock(&self.by_key);
        if by_key.get(key).is_some_and(|u| u.seq() == upload.seq()) {
            by_key.remove(key);
        }
    }
}
