//! What is current: the catalog's answer while it may be trusted, else the store's (one question per key
//! at a time, however many requests ask), with an upload in progress on this node when nothing is
//! committed. Waiting for a change, and listing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use strata_tiers::ObjectMeta;
use strata_tiers::storage::SCAN_LIMIT;
use tokio::sync::OnceCell;

use crate::catalog::Known;
use crate::shared_store::{StoreError, unix_now};
use crate::{Cluster, lock};

/// The store's answer about one key, shared by everyone who asked while it was pending.
pub type Question = Arc<OnceCell<Result<Option<Arc<ObjectMeta>>, StoreError>>>;

/// Keys of a store listing asked about at once.
const LISTING_QUESTIONS: usize = 16;

/// Longest a question about one key may wait for the store; past it the node answers from what it knows,
/// as when the store is down (well inside the guest's decision deadline).
const QUESTION_DEADLINE: Duration = Duration::from_millis(300);

/// How often a waiter checks again while the feed is down (it cannot be woken by other nodes' changes).
const POLL_WITHOUT_FEED: Duration = Duration::from_millis(250);

impl Cluster {
    /// The current version of `key`: committed in the cluster, else an upload in progress here.
    pub(crate) async fn current(&self, key: &str) -> Option<Arc<ObjectMeta>> {
        let known = self.known(key);
        let known = match known {
            Known::Unknown => self.ask_store(key).await,
            known => known,
        };
        match known {
            Known::Present(meta) => Some(meta),
            Known::Absent | Known::Unknown => {
                self.local.upload(key).map(|upload| Arc::new(upload.meta()))
            }
        }
    }

    /// What the catalog says of `key` now.
    pub(crate) fn known(&self, key: &str) -> Known {
        self.catalog()
            .lookup(key, self.feed.state(), Instant::now(), unix_now())
    }

    /// Asks the store about `key` and records its answer. When the store cannot answer, what this node
    /// last knew stands (reads of cached objects go on while the store is down).
    async fn ask_store(&self, key: &str) -> Known {
        let asked_at = Instant::now();
        let question = Arc::clone(lock(&self.questions).entry(key.to_owned()).or_default());
        let answer = question
            .get_or_init(|| async {
                let _slot = self.question_slots.acquire().await;
                self.store.head_within(key, QUESTION_DEADLINE).await
            })
            .await
            .clone();
        {
            let mut questions = lock(&self.questions);
            if questions
                .get(key)
                .is_some_and(|q| Arc::ptr_eq(q, &question))
            {
                questions.remove(key);
            }
        }
        match answer {
            Ok(Some(found)) if found.expired(unix_now()) => {
                // Past its lifetime: absent on every node. It stays in the store, since no S3 DELETE is
                // conditional and removing it could remove a newer write landing meanwhile (decision 0050).
                self.catalog().learn_from_store(
                    key,
                    None,
                    asked_at,
                    self.feed.state(),
                    Instant::now(),
                );
                Known::Absent
            }
            Ok(found) => {
                let gone = self.catalog().learn_from_store(
                    key,
                    found,
                    asked_at,
                    self.feed.state(),
                    Instant::now(),
                );
                if let Some(gone) = gone {
                    self.drop_replaced_copy(&gone).await;
                }
                match self.catalog().current(key) {
                    Some(meta) if !meta.expired(unix_now()) => Known::Present(Arc::clone(meta)),
                    _ => Known::Absent,
                }
            }
            Err(e) => {
                tracing::debug!(%key, error = %e, "store unreachable; answering from what this node knows");
                match self.catalog().current(key) {
                    Some(meta) if !meta.expired(unix_now()) => Known::Present(Arc::clone(meta)),
                    _ => Known::Absent,
                }
            }
        }
    }

    /// Waits until `key` exists with an entity tag other than `unless_etag`, or `timeout`; returns how
    /// long it waited. Changes on other nodes wake it through the feed; without the feed it checks again
    /// every [`POLL_WITHOUT_FEED`].
    pub(crate) async fn wait_for_change(
        &self,
        key: &str,
        unless_etag: Option<&str>,
        timeout: Duration,
    ) -> Duration {
        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + timeout;
        let mut changes = self.local.subscribe(key);
        loop {
            let current = self.current(key).await;
            if strata_tiers::ends_watch(current.as_deref(), unless_etag)
                || tokio::time::Instant::now() >= deadline
            {
                break;
            }
            let wake_at = match self.feed.state().up {
                true => deadline,
                false => deadline.min(tokio::time::Instant::now() + POLL_WITHOUT_FEED),
            };
            let _ = tokio::time::timeout_at(wake_at, changes.changed()).await;
        }
        started.elapsed()
    }

    /// Up to `limit` keys under `prefix` ending with one of `suffixes`: those this node knows, after
    /// listing the prefix's folder from the store when this node has not done so recently.
    pub(crate) async fn keys(
        &self,
        prefix: &str,
        suffixes: &[String],
        limit: usize,
    ) -> Vec<String> {
        let feed = self.feed.state();
        if self.catalog().needs_listing(prefix, feed, Instant::now()) {
            let asked_at = Instant::now();
            match self.store.list(prefix, SCAN_LIMIT).await {
                Ok(keys) => {
                    let unknown: Vec<String> = {
                        let catalog = self.catalog();
                        keys.into_iter()
                            .filter(|key| catalog.current(key).is_none())
                            .filter(|key| {
                                suffixes.is_empty()
                                    || suffixes.iter().any(|s| {
                                        key.len() >= s.len()
                                            && key.as_bytes()[key.len() - s.len()..]
                                                .eq_ignore_ascii_case(s.as_bytes())
                                    })
                            })
                            .take(limit)
                            .collect()
                    };
                    futures_util::stream::iter(unknown)
                        .for_each_concurrent(LISTING_QUESTIONS, |key| async move {
                            self.ask_store(&key).await;
                        })
                        .await;
                    self.catalog().listed(prefix, asked_at, feed);
                }
                Err(e) => {
                    tracing::debug!(%prefix, error = %e, "store listing failed; listing what this node knows")
                }
            }
        }
        let mut keys = self.catalog().list(prefix, suffixes, limit, SCAN_LIMIT);
        keys.retain(|key| !matches!(self.known(key), Known::Absent));
        keys
    }
}
