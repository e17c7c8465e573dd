//! Concurrent reads of one cold object share one disk read: the first caller for a version leads the read,
//! callers arriving while it runs wait for its result, and the entry leaves the table once the read ends
//! (by then the bytes are in the memory tier, where later callers find them).

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::OnceCell;

use super::lock;

/// The outcome of one shared read: the bytes, or the error's kind and text (`io::Error` is not `Clone`).
pub type ReadResult = Result<Bytes, (io::ErrorKind, String)>;

/// Reads in progress, by object version.
#[derive(Debug, Default)]
pub struct CoalescedReads {
    reads: Mutex<HashMap<u64, Arc<OnceCell<ReadResult>>>>,
}

impl CoalescedReads {
    /// The result of `read` for version `seq`, run by this caller unless a read of `seq` is under way, whose
    /// result is shared instead; `true` with it when this caller led the read.
    pub async fn read<F, Fut>(&self, seq: u64, read: F) -> (ReadResult, bool)
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = ReadResult>,
    {
        let shared = Arc::clone(lock(&self.reads).entry(seq).or_default());
        let mut led = false;
        let result = shared
            .get_or_init(|| {
                led = true;
                read()
            })
            .await
            .clone();
        let mut reads = lock(&self.reads);
        if reads
            .get(&seq)
            .is_some_and(|current| Arc::ptr_eq(current, &shared))
        {
            reads.remove(&seq);
        }
        (result, led)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn callers_during_a_read_share_it() {
        let reads = Arc::new(CoalescedReads::default());
        let started = Arc::new(AtomicUsize::new(0));
        let (release, wait) = tokio::sync::watch::channel(false);
        let callers: Vec<_> = (0..10)
            .map(|_| {
                let (reads, started, mut wait) =
                    (Arc::clone(&reads), Arc::clone(&started), wait.clone());
                tokio::spawn(async move {
                    reads
                        .read(7, || async move {
                            started.fetch_add(1, Ordering::Relaxed);
                            let _ = wait.wait_for(|go| *go).await;
                            Ok(Bytes::from_static(b"x"))
                        })
                        .await
                })
            })
            .collect();
        tokio::task::yield_now().await;
        release.send_replace(true);
        let mut leaders = 0;
        for caller in callers {
            let (result, led) = caller.await.unwrap();
            assert_eq!(result.unwrap(), Bytes::from_static(b"x"));
            leaders += usize::from(led);
        }
        assert_eq!(started.load(Ordering::Relaxed), leaders);
        assert!(leaders >= 1);
    }
}
