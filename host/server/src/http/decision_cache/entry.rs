//! A remembered decision: the outcome ready to carry out again (its head checked once), what the guest read
//! to make it, and until when it holds.

use std::time::{Duration, Instant};

use strata_abi::types as abi;
use strata_tiers::ChangeStamps;
use strata_tiers::stamps::ReadSet;

use super::super::outcome::{Prepared, Serving};
use super::front::Retired;

/// An outcome the host may carry out again without the guest.
#[derive(Debug)]
pub enum Replay {
    /// The guest's response, whole.
    Respond(Prepared),
    /// Stream the object the plan names, as it is now (a changed object makes the request decide again).
    /// Its prefetch hint is not kept: it is what one player announced.
    Serve {
        /// The object, version, range and response head.
        serving: Serving,
    },
    /// Park on a key, then ask the guest.
    Wait(abi::WaitPlan),
}

impl Replay {
    /// The replayable form of `outcome`; `None` for writes, and for heads HTTP cannot carry (the fresh
    /// path answers those with the reason).
    pub fn of(outcome: &abi::Outcome) -> Option<Replay> {
        match outcome {
            abi::Outcome::Respond(response) => {
                Prepared::new(response.clone()).ok().map(Replay::Respond)
            }
            abi::Outcome::Serve(plan) => Serving::new(plan)
                .ok()
                .map(|serving| Replay::Serve { serving }),
            abi::Outcome::Wait(plan) => Some(Replay::Wait(plan.clone())),
            abi::Outcome::Store(_) | abi::Outcome::Delete(_) => None,
        }
    }

    fn weight(&self) -> usize {
        match self {
            Replay::Respond(prepared) => prepared.weight(),
            Replay::Serve { serving } => serving.weight(),
            Replay::Wait(plan) => plan.key.len() + plan.unless_etag.as_ref().map_or(0, String::len),
        }
    }
}

/// One remembered decision.
#[derive(Debug)]
pub struct Entry {
    /// What to carry out.
    pub replay: Replay,
    reads: ReadSet,
    /// Wall clock past which the decision no longer holds, ms since the Unix epoch: the guest's lifetime or
    /// the first expiry among the objects it read.
    until_ms: u64,
    stored: Instant,
    /// Set when it leaves the cache, for the fronts that keep it (`front.rs`).
    pub(super) retired: Retired,
}

impl Entry {
    /// A decision made at `now_ms` (the request's clock) that holds `max_age_ms` at most.
    pub fn new(replay: Replay, mut reads: ReadSet, now_ms: u64, max_age_ms: u32) -> Entry {
        reads.compact();
        let lifetime = now_ms.saturating_add(u64::from(max_age_ms));
        let until_ms = reads
            .expires_at()
            .map_or(lifetime, |at| lifetime.min(at.saturating_mul(1000)));
        Entry {
            replay,
            reads,
            until_ms,
            stored: Instant::now(),
            retired: Retired::default(),
        }
    }

    /// Whether the decision still holds at `now_ms`: within its lifetime, nothing it read has changed, and
    /// not older than `unstamped` (how long a change may go unseen by the stamps), if any.
    pub fn holds(&self, stamps: &ChangeStamps, now_ms: u64, unstamped: Option<Duration>) -> bool {
        now_ms < self.until_ms
            && unstamped.is_none_or(|bound| self.stored.elapsed() < bound)
            && stamps.unchanged_all(&self.reads)
    }

    /// Whether anything it read has changed, at the moment of asking.
    pub fn reads_changed(&self, stamps: &ChangeStamps) -> bool {
        !stamps.unchanged_all(&self.reads)
    }

    /// Bytes it holds, for the cache's budget.
    pub fn weight(&self) -> usize {
        // Its own size (the replay's inline part included), the `Arc`'s two counters, what it holds on the
        // heap.
        std::mem::size_of::<Entry>() + 16 + self.replay.weight() + self.reads.weight()
    }
}
