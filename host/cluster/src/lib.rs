//! Strata past one machine: nodes share an S3-compatible object store (the durable truth) and a Redis
//! change feed (freshness), behind the same [`Storage`] trait the rest of the host uses for local tiers.
//!
//! On each node the local memory and disk tiers become caches of the store: a write is acknowledged once
//! the store has it, then kept locally and announced to the other nodes (small objects with their bytes);
//! a read of a version the node lacks is copied in from the store once, however many ask at the same time.
//! Why and what each engine is trusted for: `docs/decisions/0050-cluster-store-and-feed.md`.
//!
//! One job a module: [`config`] (`[cluster]`), [`shared_store`] (S3), [`feed`] (Redis), [`change`] (the
//! messages), [`catalog`] (what this node knows and how long to trust it), `lookup` (answering what is
//! current), `copies` (reading through to the store), `writer` (acknowledged writes), `apply` (changes
//! from other nodes), `upkeep` (expiry and the local disk budget), [`health`].

pub mod catalog;
pub mod change;
pub mod config;
pub mod feed;
pub mod health;
pub mod shared_store;

mod apply;
mod copies;
mod lookup;
mod removal;
mod upkeep;
mod writer;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use strata_tiers::{
    NewObject, ObjectMeta, OpenedObject, ReadError, ServiceHealth, Storage, StorageRead, TierError,
    TierStats, Tiers,
};
use tokio::sync::Semaphore;

use catalog::Catalog;
use config::ClusterConfig;
use feed::Feed;
use shared_store::SharedStore;

pub use writer::ClusterWriter;

/// Longest the store and the feed may take to answer at start.
const START_DEADLINE: Duration = Duration::from_secs(5);

/// Most questions to the store in flight at once from one node (misses of keys nobody wrote included).
const STORE_QUESTIONS: usize = 64;

/// Why a node cannot join its cluster; each names the service and says why in one line.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The object store cannot be used.
    #[error("cluster store {url} is unreachable: {reason}")]
    Store {
        /// `[cluster] store`.
        url: String,
        /// Why.
        reason: String,
    },
    /// The change feed cannot be used.
    #[error("cluster feed {url} is unreachable: {reason}")]
    Feed {
        /// `[cluster] feed`.
        url: String,
        /// Why.
        reason: String,
    },
}

/// One node of a cluster: its local tiers in front of the shared store, kept fresh by the feed.
pub struct Cluster {
    local: Arc<Tiers>,
    store: SharedStore,
    feed: Arc<Feed>,
    catalog: Mutex<Catalog>,
    inline_bytes: u64,
    node: String,
    instance: u64,
    disk_budget: Option<u64>,
    /// Questions to the store in flight, by key, so concurrent ones share one request.
    questions: Mutex<HashMap<String, lookup::Question>>,
    question_slots: Semaphore,
    /// Copies from the store in progress, by key, so concurrent cold reads share one download.
    copying: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Local copies by recency of use, for the local disk budget.
    recency: Mutex<lru::LruCache<String, u64>>,
    /// Where copies from the store run: the runtime the node joined on, not the connection thread of
    /// the read that started one (readers on every thread follow a copy; decision 0059).
    runtime: tokio::runtime::Handle,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Cluster {
    /// Joins the cluster `config` describes with `local` as this node's tiers: checks that the store and
    /// the feed answer, then follows the feed in the background.
    ///
    /// # Errors
    /// Naming the store or the feed that cannot be reached.
    pub async fn join(
        config: &ClusterConfig,
        local: Arc<Tiers>,
        disk_budget: Option<u64>,
    ) -> Result<Arc<Cluster>, ClusterError> {
        let store_error = |reason: String| ClusterError::Store {
            url: config.store.clone(),
            reason,
        };
        let store = SharedStore::new(config).map_err(|e| store_error(e.to_string()))?;
        store
            .probe(START_DEADLINE)
            .await
            .map_err(|e| store_error(e.to_string()))?;
        let channel = format!("strata:changes:{}", config.store);
        let feed = Feed::connect(&config.feed, channel, START_DEADLINE)
            .await
            .map_err(|reason| ClusterError::Feed {
                url: config.feed.clone(),
                reason,
            })?;
        let cluster = Arc::new(Cluster {
            local,
            store,
            feed: Arc::clone(&feed),
            catalog: Mutex::new(Catalog::default()),
            inline_bytes: config.inline_bytes.as_u64(),
            node: config.node_name(),
            instance: rand::random(),
            disk_budget,
            questions: Mutex::new(HashMap::new()),
            question_slots: Semaphore::new(STORE_QUESTIONS),
            copying: Mutex::new(HashMap::new()),
            recency: Mutex::new(lru::LruCache::unbounded()),
            runtime: tokio::runtime::Handle::current(),
        });
        let messages = feed.subscribe();
        tokio::spawn(apply::follow(Arc::clone(&cluster), messages));
        tokio::spawn(upkeep::run(Arc::clone(&cluster)));
        tracing::info!(node = %cluster.node, store = %config.store, feed = %config.feed, "joined the cluster");
        Ok(cluster)
    }

    fn catalog(&self) -> MutexGuard<'_, Catalog> {
        lock(&self.catalog)
    }
}

impl StorageRead for Cluster {
    fn head<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Option<Arc<ObjectMeta>>> {
        Box::pin(self.current(key))
    }

    fn read_small<'a>(
        &'a self,
        key: &'a str,
        max_bytes: u64,
    ) -> BoxFuture<'a, Result<Bytes, ReadError>> {
        Box::pin(self.read_whole(key, max_bytes))
    }

    fn list<'a>(
        &'a self,
        prefix: &'a str,
        suffixes: &'a [String],
        limit: usize,
    ) -> BoxFuture<'a, Vec<String>> {
        Box::pin(self.keys(prefix, suffixes, limit))
    }

    /// The local tiers' stamps: this node's writes and every change the feed brings move them.
    fn stamps(&self) -> Option<&strata_tiers::ChangeStamps> {
        Some(self.local.stamps())
    }

    /// A change the feed did not bring (a lost message, the feed down, the store written behind Strata's
    /// back) moves no stamp: what was read is trusted no longer than the catalog trusts an answer without
    /// the feed.
    fn unstamped_change_bound(&self) -> Option<Duration> {
        Some(catalog::STALE_BOUND)
    }
}

impl Storage for Cluster {
    fn open<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<OpenedObject>, TierError>> {
        Box::pin(self.open_current(key))
    }

    fn watch<'a>(
        &'a self,
        key: &'a str,
        unless_etag: Option<&'a str>,
        timeout: Duration,
    ) -> BoxFuture<'a, Duration> {
        Box::pin(self.wait_for_change(key, unless_etag, timeout))
    }

    fn store(
        self: Arc<Self>,
        key: String,
        spec: NewObject,
        max_bytes: u64,
    ) -> BoxFuture<'static, Result<Box<dyn strata_tiers::Writer>, TierError>> {
        Box::pin(async move {
            let writer = ClusterWriter::start(self, &key, spec, max_bytes).await?;
            Ok(Box::new(writer) as Box<dyn strata_tiers::Writer>)
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<bool, TierError>> {
        Box::pin(self.remove(key))
    }

    fn prefetch<'a>(&'a self, key: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if let Ok(Some(opened)) = self.open_current(key).await {
                drop(opened);
            }
        })
    }

    fn stats(&self) -> TierStats {
        let mut stats = self.local.stats();
        stats.objects = self.catalog().len();
        stats
    }

    fn services(&self) -> Vec<ServiceHealth> {
        vec![self.store.service.health(), self.feed.service.health()]
    }
}
