//! Memory held by uploads in progress, under its own budget: each upload's hot copy (kept so the object is
//! in the memory tier the moment it commits) and the chunks kept for readers following it. Neither belongs
//! to the memory tier until commit, so without this budget slow or stalled uploads could grow the process
//! outside every limit. When uploads hold the whole budget a new upload is refused (503 with
//! `Retry-After`); an upload in progress first gives up its hot copy if it is durable (its bytes are on disk
//! anyway), and fails (503) when it cannot keep a chunk its readers need. An upload's bytes leave the
//! account when it completes or aborts: what readers still hold then is bounded by their connection's idle
//! timeout, and an anonymous reader can never hold ingest's budget.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::TierError;

/// Bytes held by uploads against the budget.
#[derive(Debug)]
pub struct UploadMemory {
    used: AtomicU64,
    budget: u64,
    refused: AtomicU64,
}

impl UploadMemory {
    /// An empty account with `budget` bytes.
    pub fn new(budget: u64) -> Arc<Self> {
        Arc::new(UploadMemory {
            used: AtomicU64::new(0),
            budget,
            refused: AtomicU64::new(0),
        })
    }

    /// Whether a new upload may start.
    ///
    /// # Errors
    /// `UploadMemoryFull` when uploads already hold the whole budget.
    pub fn admit(&self) -> Result<(), TierError> {
        if self.used() >= self.budget {
            return Err(self.full());
        }
        Ok(())
    }

    /// The refusal of an upload that found no room (counted).
    pub fn full(&self) -> TierError {
        self.refused.fetch_add(1, Ordering::Relaxed);
        TierError::UploadMemoryFull { limit: self.budget }
    }

    /// Whether holding `more` bytes stays within the budget.
    pub fn has_room(&self, more: u64) -> bool {
        self.used().saturating_add(more) <= self.budget
    }

    /// Bytes held now.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// The budget, in bytes.
    pub fn budget(&self) -> u64 {
        self.budget
    }

    /// Uploads refused or failed for want of room since start.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// A new, empty holding on this account.
    pub fn hold(self: &Arc<Self>) -> Held {
        Held {
            memory: Arc::clone(self),
            bytes: 0,
        }
    }
}

/// Bytes one holder (an upload's hot copy, or its readers' chunks) has taken; given back on drop.
#[derive(Debug)]
pub struct Held {
    memory: Arc<UploadMemory>,
    bytes: u64,
}

impl Held {
    /// Takes `bytes` more.
    pub fn add(&mut self, bytes: u64) {
        self.bytes += bytes;
        self.memory.used.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Gives everything back now (the bytes left this holder's keeping).
    pub fn release(&mut self) {
        self.memory.used.fetch_sub(self.bytes, Ordering::Relaxed);
        self.bytes = 0;
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holdings_count_until_released_and_full_refuses_new_uploads() {
        let memory = UploadMemory::new(100);
        let mut a = memory.hold();
        a.add(60);
        assert!(memory.admit().is_ok());
        let mut b = memory.hold();
        b.add(40);
        assert_eq!(memory.used(), 100);
        assert!(!memory.has_room(1));
        assert!(matches!(
            memory.admit(),
            Err(TierError::UploadMemoryFull { limit: 100 })
        ));
        assert_eq!(memory.refused(), 1);
        a.release();
        assert_eq!(memory.used(), 40);
        drop(b);
        assert_eq!(memory.used(), 0);
        assert!(memory.admit().is_ok());
    }
}
