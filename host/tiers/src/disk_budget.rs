//! The disk tier's byte budget: bytes on disk (objects and uploads in progress) against the operator's
//! `storage.disk_bytes`. An upload reserves each chunk before writing it; the index owns what a committed
//! object took; removing or replacing an object gives its bytes back.

use std::sync::atomic::{AtomicU64, Ordering};

use super::TierError;

/// Bytes on disk against an optional limit.
#[derive(Debug)]
pub struct DiskBudget {
    used: AtomicU64,
    limit: Option<u64>,
}

impl DiskBudget {
    /// A budget of `limit` bytes (none: the filesystem's free space) with `used` already taken.
    pub fn new(used: u64, limit: Option<u64>) -> Self {
        DiskBudget {
            used: AtomicU64::new(used),
            limit,
        }
    }

    /// Takes `bytes` more, or refuses when that passes the limit.
    ///
    /// # Errors
    /// `DiskBudget` naming the limit.
    pub fn reserve(&self, bytes: u64) -> Result<(), TierError> {
        let used = self.used.fetch_add(bytes, Ordering::Relaxed) + bytes;
        match self.limit {
            Some(limit) if used > limit => {
                self.release(bytes);
                Err(TierError::DiskBudget { limit })
            }
            _ => Ok(()),
        }
    }

    /// Gives `bytes` back.
    pub fn release(&self, bytes: u64) {
        self.used.fetch_sub(bytes, Ordering::Relaxed);
    }

    /// Bytes taken now.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// The limit; `None`: the filesystem's free space.
    pub fn limit(&self) -> Option<u64> {
        self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_past_the_limit_are_refused_and_take_nothing() {
        let budget = DiskBudget::new(6, Some(10));
        assert!(budget.reserve(4).is_ok());
        assert!(matches!(
            budget.reserve(1),
            Err(TierError::DiskBudget { limit: 10 })
        ));
        assert_eq!(budget.used(), 10);
        budget.release(10);
        assert_eq!(budget.used(), 0);
        assert!(DiskBudget::new(0, None).reserve(u64::MAX / 2).is_ok());
    }
}
