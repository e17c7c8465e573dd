//! Running a customer manifest plugin: its own store, its own (small) memory cap and deadlines, and the
//! context converted to the ABI version the plugin was built for.

use std::sync::Arc;
use std::time::Duration;

use super::bindings::{v0_1, v0_2};
use super::{Deployment, GuestError, Linked, Runtime, failure};

/// What a plugin is told about the playlist it rewrites (the `filter.context` record of every version).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterContext {
    /// The canonical path of the requested key, starting with `/`.
    pub path: String,
    /// The query string without the leading `?`.
    pub query: String,
    /// The playlist's media type.
    pub content_type: String,
    /// Request header fields in arrival order; names lower-case.
    pub headers: Vec<(String, String)>,
}

/// Bounds on one plugin call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilterLimits {
    /// Linear memory cap, in bytes.
    pub memory_bytes: u64,
    /// CPU deadline of one rewrite.
    pub deadline: Duration,
    /// Wall-clock deadline of one rewrite.
    pub wall_deadline: Duration,
}

impl Runtime {
    /// Runs the plugin `deployment` on `playlist` in a fresh sandbox: the rewritten text, or the plugin's
    /// own reason for refusing it.
    ///
    /// # Errors
    /// When the plugin traps, runs out of time or memory, or is not a filter.
    pub async fn rewrite(
        &self,
        deployment: &Deployment,
        limits: FilterLimits,
        context: &FilterContext,
        playlist: &str,
    ) -> Result<Result<String, String>, GuestError> {
        let mut store = self
            .store(None::<Arc<str>>, limits.memory_bytes, limits.deadline)
            .await?;
        let call = async {
            match &deployment.linked {
                Linked::FilterV0_2(filter) => {
                    let context = v0_2::filter::exports::strata::origin::filter::Context {
                        path: context.path.clone(),
                        query: context.query.clone(),
                        content_type: context.content_type.clone(),
                        headers: context.headers.clone(),
                    };
                    let instance = filter.instantiate_async(&mut store).await?;
                    instance
                        .strata_origin_filter()
                        .call_rewrite(&mut store, &context, playlist)
                        .await
                }
                Linked::FilterV0_1(filter) => {
                    let context = v0_1::filter::exports::strata::origin::filter::Context {
                        path: context.path.clone(),
                        query: context.query.clone(),
                        content_type: context.content_type.clone(),
                        headers: context.headers.clone(),
                    };
                    let instance = filter.instantiate_async(&mut store).await?;
                    instance
                        .strata_origin_filter()
                        .call_rewrite(&mut store, &context, playlist)
                        .await
                }
                Linked::HandlerV0_1(_) | Linked::HandlerV0_2(_) => Err(wasmtime::Error::msg(
                    format!("{} is a handler, not a manifest filter", deployment.name),
                )),
            }
        };
        match tokio::time::timeout(limits.wall_deadline, call).await {
            Ok(result) => result.map_err(|error| failure(&store, error, limits.deadline)),
            Err(_) => Err(GuestError::WallClock(limits.wall_deadline.as_millis())),
        }
    }
}
