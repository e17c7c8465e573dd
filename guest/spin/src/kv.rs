//! The key-value store the Spin shell keeps objects in, reduced to the four calls it needs, so the storage
//! and outcome logic can run natively against a map in tests and against Spin's store in the component.

/// A flat, string-keyed store of byte values: Spin's `key_value::Store`, or a map in tests.
pub trait Kv {
    /// The value under `key`, if any.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError>;
    /// Stores `value` under `key`, replacing any value there.
    fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError>;
    /// Removes `key`; removing a missing key is not an error.
    fn delete(&self, key: &str) -> Result<(), KvError>;
    /// Every key in the store, in no particular order.
    fn keys(&self) -> Result<Vec<String>, KvError>;
}

/// A failed key-value call, with the store's own reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("key-value store: {0}")]
pub struct KvError(pub String);

/// An in-memory [`Kv`] that also refuses values over a size, as Spin's stores may.
#[cfg(test)]
pub mod memory {
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    use super::{Kv, KvError};

    /// A map behind a `RefCell`, refusing values longer than `max_value_bytes`.
    pub struct MemoryKv {
        pub map: RefCell<BTreeMap<String, Vec<u8>>>,
        pub max_value_bytes: usize,
    }

    impl MemoryKv {
        /// An empty store that accepts values up to `max_value_bytes` long.
        pub fn new(max_value_bytes: usize) -> Self {
            MemoryKv {
                map: RefCell::new(BTreeMap::new()),
                max_value_bytes,
            }
        }
    }

    impl Kv for MemoryKv {
        fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
            Ok(self.map.borrow().get(key).cloned())
        }
        fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
            if value.len() > self.max_value_bytes {
                return Err(KvError(format!(
                    "value of {} bytes over the {}-byte limit",
                    value.len(),
                    self.max_value_bytes
                )));
            }
            self.map.borrow_mut().insert(key.into(), value.to_vec());
            Ok(())
        }
        fn delete(&self, key: &str) -> Result<(), KvError> {
            self.map.borrow_mut().remove(key);
            Ok(())
        }
        fn keys(&self) -> Result<Vec<String>, KvError> {
            Ok(self.map.borrow().keys().cloned().collect())
        }
    }
}
