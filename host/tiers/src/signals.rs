//! Change signals per key, so a change wakes only the requests parked on that key.
//!
//! LL-HLS parks thousands of blocking playlist reloads at once, spread over many playlists. One signal for
//! the whole store would wake every parked request on every segment, part and playlist PUT (a thundering
//! herd of index lookups); a signal per key wakes only the requests that can be satisfied. A key's signal
//! exists only while someone waits on it: the last waiter to leave removes it, so the map holds one entry
//! per watched key and nothing for the millions of keys nobody waits on.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use super::lock;

/// The signals of the keys someone is waiting on.
#[derive(Debug, Default)]
pub struct Signals {
    watched: Mutex<HashMap<String, watch::Sender<()>>>,
}

/// A subscription to one key's changes; leaving removes the key's signal when nobody else waits on it.
pub struct Subscription<'a> {
    signals: &'a Signals,
    key: Arc<str>,
    receiver: Option<watch::Receiver<()>>,
}

impl Signals {
    /// Subscribes to changes of `key` announced from now on. Subscribe before checking the condition waited
    /// for, so a change between the check and the wait is not missed.
    pub fn subscribe(&self, key: &str) -> Subscription<'_> {
        let receiver = lock(&self.watched)
            .entry(key.to_owned())
            .or_insert_with(|| watch::channel(()).0)
            .subscribe();
        Subscription {
            signals: self,
            key: key.into(),
            receiver: Some(receiver),
        }
    }

    /// Wakes the waiters on `key`, if any.
    pub fn announce(&self, key: &str) {
        if let Some(sender) = lock(&self.watched).get(key) {
            sender.send_replace(());
        }
    }

    /// How many keys have waiters.
    #[cfg(test)]
    pub fn watched_keys(&self) -> usize {
        lock(&self.watched).len()
    }
}

impl Subscription<'_> {
    /// Resolves at the next change announced for the key since the subscription or the last call.
    pub async fn changed(&mut self) {
        if let Some(receiver) = self.receiver.as_mut() {
            // The sender lives in the map while this receiver does, so this cannot fail; if it ever did,
            // waking early is harmless (the caller checks its condition again).
            let _ = receiver.changed().await;
        }
    }
}

impl Drop for Subscription<'_> {
    fn drop(&mut self) {
        drop(self.receiver.take());
        let mut watched = lock(&self.signals.watched);
        if watched
            .get(&*self.key)
            .is_some_and(|sender| sender.receiver_count() == 0)
        {
            watched.remove(&*self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn only_waiters_on_the_key_wake() {
        let signals = Signals::default();
        let mut a = signals.subscribe("a.m3u8");
        let mut b = signals.subscribe("b.m3u8");
        signals.announce("a.m3u8");
        tokio::time::timeout(Duration::from_secs(5), a.changed())
            .await
            .unwrap();
        let woke = tokio::time::timeout(Duration::from_millis(50), b.changed()).await;
        assert!(woke.is_err(), "a change of a.m3u8 woke a waiter on b.m3u8");
    }

    #[tokio::test]
    async fn the_last_waiter_removes_the_signal() {
        let signals = Signals::default();
        let first = signals.subscribe("k");
        let second = signals.subscribe("k");
        assert_eq!(signals.watched_keys(), 1);
        drop(first);
        assert_eq!(signals.watched_keys(), 1);
        drop(second);
        assert_eq!(signals.watched_keys(), 0);
        // Announcing a key nobody waits on creates nothing.
        signals.announce("k");
        assert_eq!(signals.watched_keys(), 0);
    }

    #[tokio::test]
    async fn a_change_before_the_wait_is_not_lost() {
        let signals = Signals::default();
        let mut s = signals.subscribe("k");
        signals.announce("k");
        tokio::time::timeout(Duration::from_secs(5), s.changed())
            .await
            .unwrap();
    }
}
