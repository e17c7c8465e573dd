//! Graceful shutdown as every part of a request sees it: once the drain begins, the listener stops
//! accepting, connections close after their open requests, and parked requests answer 503 at once instead of
//! holding the process past its shutdown deadline.

use tokio::sync::watch;

/// Whether the process is draining; cheap to check, and awaitable.
#[derive(Debug)]
pub struct Drain {
    begun: watch::Sender<bool>,
}

impl Default for Drain {
    fn default() -> Self {
        Drain {
            begun: watch::Sender::new(false),
        }
    }
}

impl Drain {
    /// Starts the drain; idempotent.
    pub fn begin(&self) {
        self.begun.send_replace(true);
    }

    /// Whether the drain has begun.
    pub fn has_begun(&self) -> bool {
        *self.begun.borrow()
    }

    /// Resolves once the drain has begun (at once if it has).
    pub async fn begun(&self) {
        let mut receiver = self.begun.subscribe();
        // The sender lives as long as `self`, so this only ends when the drain begins.
        let _ = receiver.wait_for(|begun| *begun).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn waiters_wake_when_the_drain_begins() {
        let drain = std::sync::Arc::new(Drain::default());
        assert!(!drain.has_begun());
        let waiter = {
            let drain = std::sync::Arc::clone(&drain);
            tokio::spawn(async move { drain.begun().await })
        };
        drain.begin();
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .unwrap()
            .unwrap();
        assert!(drain.has_begun());
        tokio::time::timeout(Duration::from_secs(5), drain.begun())
            .await
            .unwrap();
    }
}
