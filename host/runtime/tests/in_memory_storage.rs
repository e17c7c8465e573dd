//! The runtime needs no disk tier: any [`StorageRead`] backs the guests' `tiers` import. Here a map in
//! memory does, and a guest reads through it, confined to its namespace.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use strata_abi::types::{Outcome, Request};
use strata_runtime::{Deployment, GuestKind, GuestLimits, Runtime, VersionInfo};
use strata_tiers::{ObjectMeta, Placement, ReadError, StorageRead};

/// Objects held in a map.
struct MapStorage(BTreeMap<String, Bytes>);

impl StorageRead for MapStorage {
    fn head<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Option<Arc<ObjectMeta>>> {
        Box::pin(std::future::ready(self.0.get(key).map(|body| {
            Arc::new(ObjectMeta {
                key: key.to_owned(),
                size: body.len() as u64,
                content_type: "text/plain".into(),
                etag: "\"map\"".into(),
                last_modified: 0,
                cache_control: None,
                metadata: Vec::new(),
                seq: 1,
                placement: Placement::Memory,
                expires_at: None,
                complete: true,
            })
        })))
    }

    fn read_small<'a>(
        &'a self,
        key: &'a str,
        max_bytes: u64,
    ) -> BoxFuture<'a, Result<Bytes, ReadError>> {
        Box::pin(async move {
            match self.0.get(key) {
                Some(body) if body.len() as u64 > max_bytes => {
                    Err(ReadError::TooLarge(body.len() as u64))
                }
                Some(body) => Ok(body.clone()),
                None => Err(ReadError::NotFound),
            }
        })
    }

    fn list<'a>(
        &'a self,
        prefix: &'a str,
        _suffixes: &'a [String],
        limit: usize,
    ) -> BoxFuture<'a, Vec<String>> {
        let keys = self
            .0
            .keys()
            .filter(|k| k.starts_with(prefix))
            .take(limit)
            .cloned()
            .collect();
        Box::pin(std::future::ready(keys))
    }
}

fn request(query: &str) -> Request {
    Request {
        method: "GET".into(),
        key: "tenant/x".into(),
        path: "/tenant/x".into(),
        query: query.into(),
        headers: Vec::new(),
        waited_ms: 0,
        limits: strata_abi::types::Limits {
            max_object_bytes: 1 << 20,
        },
        settings: Default::default(),
        now_ms: 0,
        load_permille: 0,
    }
}

#[tokio::test]
async fn a_guest_reads_through_any_storage_within_its_namespace() {
    let storage = MapStorage(
        [("tenant/note", "mine"), ("other/secret", "not yours")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), Bytes::from_static(v.as_bytes())))
            .collect(),
    );
    let cache = tempfile::tempdir().expect("artifact cache folder");
    let limits = GuestLimits {
        memory_bytes: 16 << 20,
        deadline: Duration::from_millis(500),
        wall_deadline: Duration::from_secs(2),
        max_read_bytes: 1 << 20,
        max_instances: 2,
    };
    let runtime = Runtime::new(Arc::new(storage), limits, 16 << 20, cache.path()).expect("runtime");
    let wasm = std::fs::read(strata_test_guests::SNOOPER).expect("the snooper guest");
    let deployment = Deployment {
        name: "tenant".into(),
        version: VersionInfo {
            id: "test".into(),
            sha256: "test".into(),
            activated_at: 0,
        },
        namespace: Some(Arc::from("tenant/")),
        linked: runtime
            .link(&wasm, "snooper", Some(GuestKind::Handler))
            .expect("the snooper links as a handler"),
    };
    let body = |outcome: Outcome| match outcome {
        Outcome::Respond(r) => (r.status, String::from_utf8(r.body).expect("UTF-8")),
        other => panic!("expected a response, got {other:?}"),
    };
    let mine = runtime
        .decide(&deployment, &request("key=tenant/note"))
        .await
        .expect("decides");
    assert_eq!(body(mine.decision.outcome), (200, "mine".to_owned()));
    let theirs = runtime
        .decide(&deployment, &request("key=other/secret"))
        .await
        .expect("decides");
    assert_eq!(body(theirs.decision.outcome), (403, "denied".to_owned()));
}
