//! The canary: one synthetic request a candidate version must answer without trapping before it goes live
//! (a handler decides a GET of its namespace's root; a plugin rewrites an empty playlist).

use strata_abi::settings::Settings;
use strata_abi::types as abi;

use super::{DeployError, Guests};
use crate::{Deployment, FilterContext, GuestKind};

impl Guests {
    /// Runs one synthetic request through `candidate`; it must answer without trapping.
    pub(super) async fn canary(&self, candidate: &Deployment) -> Result<(), DeployError> {
        let path = format!("/{}", candidate.namespace.as_deref().unwrap_or_default());
        let result = match candidate.linked.kind() {
            GuestKind::Handler => {
                let request = abi::Request {
                    method: "GET".into(),
                    key: path.trim_start_matches('/').trim_end_matches('/').into(),
                    path,
                    query: String::new(),
                    headers: vec![("x-strata-canary".into(), "1".into())],
                    waited_ms: 0,
                    limits: abi::Limits {
                        max_object_bytes: 0,
                    },
                    settings: Settings::default(),
                    now_ms: 0,
                    load_permille: 0,
                };
                self.runtime.decide(candidate, &request).await.map(drop)
            }
            GuestKind::Filter => {
                let context = FilterContext {
                    path: "/canary.m3u8".into(),
                    query: String::new(),
                    content_type: "application/vnd.apple.mpegurl".into(),
                    headers: vec![("x-strata-canary".into(), "1".into())],
                };
                self.runtime
                    .rewrite(candidate, self.canary_filter_limits, &context, "#EXTM3U\n")
                    .await
                    .map(drop)
            }
        };
        result.map_err(|e| DeployError::Canary(e.to_string()))
    }
}
