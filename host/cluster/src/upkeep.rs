//! Once a second: versions past their lifetime leave the catalog, so listings and lookups stop naming
//! them. They stay in the store (no S3 DELETE is conditional: removing one could remove a newer write
//! that lands meanwhile); a bucket lifecycle rule reclaims them (decision 0050).

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::Cluster;
use crate::shared_store::unix_now;

/// How often the catalog is swept.
const EVERY: Duration = Duration::from_secs(1);

/// Sweeps for as long as the process runs.
pub async fn run(cluster: Arc<Cluster>) {
    loop {
        tokio::time::sleep(EVERY).await;
        cluster.catalog().sweep(Instant::now(), unix_now());
    }
}
