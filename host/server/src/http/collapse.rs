//! One guest decision for a herd of identical requests woken by the same change.
//!
//! Thousands of players parked on one live playlist (`_HLS_msn=N`) all wake when the PUT that completes
//! point N lands. Asked one by one, the guest would read, parse and render the same playlist thousands of
//! times, and the last player would be answered a second after the first. A CDN in front collapses such
//! requests because the directives are in its cache key; without one, the host does the same here: woken
//! requests with the same head, on the same guest version, woken by the same version of the same key, share
//! the first one's decision.
//!
//! Only answers that stay right for every request of the herd are shared: a successful response, or a plan
//! to serve an object. A `wait`, an error or a write depends on how long each request has already waited
//! (its `waited-ms`) or must not be repeated, so each request decides those for itself. A shared response
//! carries the first request's `waited-ms` wherever the guest used it (e.g. CMSD `ht`), exactly as a CDN's
//! collapsed copy does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::OnceCell;

use strata_abi::types as abi;
use strata_runtime::GuestError;

/// What makes two woken requests the same: their head, the guest version deciding, and the change that
/// woke them.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct HerdKey {
    guest: String,
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    woken_by: String,
    version: Option<String>,
}

impl HerdKey {
    /// The key of `request` as decided by guest version `guest`, woken by a change of `woken_by`, whose
    /// entity tag is now `version` (`None` when it is gone).
    pub fn new(
        guest: &str,
        request: &abi::Request,
        woken_by: &str,
        version: Option<&str>,
    ) -> HerdKey {
        HerdKey {
            guest: guest.to_owned(),
            method: request.method.clone(),
            path: request.path.clone(),
            query: request.query.clone(),
            headers: request.headers.clone(),
            woken_by: woken_by.to_owned(),
            version: version.map(str::to_owned),
        }
    }
}

/// A decision a whole herd can use, or `None` when each request must decide for itself.
type Shared = Option<abi::Outcome>;

/// The decisions being made for herds, by key; an entry lives while some request of its herd holds it.
#[derive(Default)]
pub struct Herds {
    deciding: Mutex<HashMap<HerdKey, Arc<OnceCell<Shared>>>>,
}

impl Herds {
    /// The decision for `key`: the one already made for its herd when it can be shared, else `decide`'s.
    /// If the request deciding for the herd goes away (its client left), the next one in the herd decides.
    pub async fn decide<F, D>(&self, key: HerdKey, decide: F) -> Result<abi::Outcome, GuestError>
    where
        F: Fn() -> D,
        D: Future<Output = Result<abi::Outcome, GuestError>>,
    {
        let member = Member::join(self, key);
        let mut own = None;
        let shared = member
            .cell
            .get_or_init(|| async {
                // The herd wakes at once, but its requests are polled one after the other: let the rest
                // of it join before deciding, or on a busy (or single) worker the first request could
                // decide and leave before the others arrive, and each would decide again.
                tokio::task::yield_now().await;
                let outcome = decide().await;
                let shared = outcome.as_ref().ok().filter(|o| shareable(o)).cloned();
                own = Some(outcome);
                shared
            })
            .await;
        if let Some(outcome) = own {
            return outcome;
        }
        match shared {
            Some(outcome) => {
                crate::metrics::record_collapsed_decision();
                crate::access_log::decided(crate::access_log::Decided::Herd);
                Ok(outcome.clone())
            }
            None => decide().await,
        }
    }

    /// How many herds are deciding now.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<HerdKey, Arc<OnceCell<Shared>>>> {
        self.deciding.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Whether every request of a herd may use `outcome`.
fn shareable(outcome: &abi::Outcome) -> bool {
    match outcome {
        abi::Outcome::Respond(response) => (200..300).contains(&response.status),
        abi::Outcome::Serve(_) => true,
        abi::Outcome::Store(_) | abi::Outcome::Delete(_) | abi::Outcome::Wait(_) => false,
    }
}

/// One request's place in a herd; the last to leave removes the herd's entry.
struct Member<'a> {
    herds: &'a Herds,
    key: HerdKey,
    cell: Arc<OnceCell<Shared>>,
}

impl<'a> Member<'a> {
    fn join(herds: &'a Herds, key: HerdKey) -> Member<'a> {
        let cell = Arc::clone(herds.lock().entry(key.clone()).or_default());
        Member { herds, key, cell }
    }
}

impl Drop for Member<'_> {
    fn drop(&mut self) {
        let mut deciding = self.herds.lock();
        // The map's reference and this one: nobody else is in the herd.
        if Arc::strong_count(&self.cell) <= 2 {
            deciding.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    fn request(path: &str) -> abi::Request {
        abi::Request {
            method: "GET".into(),
            key: path.trim_start_matches('/').into(),
            path: path.into(),
            query: "_HLS_msn=3".into(),
            headers: vec![("host".into(), "origin".into())],
            waited_ms: 40,
            limits: abi::Limits {
                max_object_bytes: 1 << 20,
            },
            settings: abi::Settings::default(),
            now_ms: 0,
            load_permille: 0,
        }
    }

    fn key(path: &str, version: &str) -> HerdKey {
        HerdKey::new("v1", &request(path), "live/index.m3u8", Some(version))
    }

    fn respond(status: u16) -> abi::Outcome {
        abi::Outcome::Respond(abi::Response {
            status,
            headers: Vec::new(),
            body: b"#EXTM3U\n".to_vec(),
        })
    }

    fn status(outcome: &Result<abi::Outcome, GuestError>) -> u16 {
        match outcome {
            Ok(abi::Outcome::Respond(response)) => response.status,
            other => panic!("expected a response, got {other:?}"),
        }
    }

    /// Runs `herd` concurrent decisions for `keys`, each taking 20 ms and answering `outcome`; returns how
    /// many times the guest was asked and the outcomes.
    async fn herd(
        keys: Vec<HerdKey>,
        outcome: abi::Outcome,
    ) -> (usize, Vec<Result<abi::Outcome, GuestError>>) {
        let herds = Arc::new(Herds::default());
        let asked = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = keys
            .into_iter()
            .map(|key| {
                let (herds, asked, outcome) =
                    (Arc::clone(&herds), Arc::clone(&asked), outcome.clone());
                tokio::spawn(async move {
                    herds
                        .decide(key, || async {
                            asked.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            Ok(outcome.clone())
                        })
                        .await
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        for task in tasks {
            outcomes.push(task.await.unwrap());
        }
        assert_eq!(herds.len(), 0, "a herd's entry outlived its requests");
        (asked.load(Ordering::SeqCst), outcomes)
    }

    #[tokio::test]
    async fn a_herd_shares_one_successful_answer() {
        let (asked, outcomes) = herd(vec![key("/a.m3u8", "\"e2\""); 100], respond(200)).await;
        assert_eq!(asked, 1);
        assert!(outcomes.iter().all(|o| status(o) == 200));
    }

    /// One worker thread, and a decision that never yields: the herd still gathers behind the first.
    #[tokio::test(flavor = "current_thread")]
    async fn a_herd_gathers_before_a_decision_that_never_yields() {
        let herds = Arc::new(Herds::default());
        let asked = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..10)
            .map(|_| {
                let (herds, asked) = (Arc::clone(&herds), Arc::clone(&asked));
                tokio::spawn(async move {
                    herds
                        .decide(key("/a.m3u8", "\"e2\""), || async {
                            asked.fetch_add(1, Ordering::SeqCst);
                            Ok(respond(200))
                        })
                        .await
                })
            })
            .collect();
        for task in tasks {
            assert_eq!(status(&task.await.unwrap()), 200);
        }
        assert_eq!(asked.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn waits_and_errors_are_decided_by_each_request() {
        let wait = abi::Outcome::Wait(abi::WaitPlan {
            key: "live/index.m3u8".into(),
            unless_etag: Some("\"e2\"".into()),
            timeout_ms: 100,
        });
        assert_eq!(herd(vec![key("/a.m3u8", "\"e2\""); 10], wait).await.0, 10);
        assert_eq!(
            herd(vec![key("/a.m3u8", "\"e2\""); 10], respond(503))
                .await
                .0,
            10
        );
    }

    #[tokio::test]
    async fn other_requests_or_other_changes_are_other_herds() {
        let keys = vec![
            key("/a.m3u8", "\"e2\""),
            key("/b.m3u8", "\"e2\""),
            key("/a.m3u8", "\"e3\""),
        ];
        assert_eq!(herd(keys, respond(200)).await.0, 3);
    }

    #[tokio::test]
    async fn when_the_deciding_request_leaves_the_next_one_decides() {
        let herds = Arc::new(Herds::default());
        let leader = {
            let herds = Arc::clone(&herds);
            tokio::spawn(async move {
                herds
                    .decide(key("/a.m3u8", "\"e2\""), std::future::pending)
                    .await
            })
        };
        while herds.len() == 0 {
            tokio::task::yield_now().await;
        }
        leader.abort();
        let outcome = tokio::time::timeout(
            Duration::from_secs(5),
            herds.decide(key("/a.m3u8", "\"e2\""), || async { Ok(respond(200)) }),
        )
        .await
        .unwrap();
        assert_eq!(status(&outcome), 200);
    }
}
