//! Running a customer manifest plugin: its own store, its own (small) memory cap and deadline.

use std::sync::Arc;
use std::time::Duration;

use super::bindings::filter::exports::strata::origin::filter::Context;
use super::{Deployment, GuestError, Linked, Runtime, failure};

/// What a plugin is told about the playlist it rewrites.
pub type FilterContext = Context;

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
        let Linked::Filter(filter) = &deployment.linked else {
            return Err(GuestError::Trap(format!(
                "{} is a handler, not a manifest filter",
                deployment.name
            )));
        };
        let mut store = self
            .store(None::<Arc<str>>, limits.memory_bytes, limits.deadline)
            .await?;
        let result = tokio::time::timeout(limits.wall_deadline, async {
            let instance = filter.instantiate_async(&mut store).await?;
            instance
                .strata_origin_filter()
                .call_rewrite(&mut store, context, playlist)
                .await
        })
        .await;
        match result {
            Ok(result) => result.map_err(|error| failure(&store, error, limits.deadline)),
            Err(_) => Err(GuestError::WallClock(limits.wall_deadline.as_millis())),
        }
    }
}
