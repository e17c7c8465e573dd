//! The host's load as guests see it (`request.load-permille`): data-plane requests in flight (being decided
//! or uploading) per guest instance slot, in permille. Requests parked by a `wait` do not count: they cost
//! a few KiB and no work, and LL-HLS keeps one per player parked in normal operation, so counting them would
//! tell every player to step down whenever many watch. Reads answered without awaiting (`remembered.rs`) do
//! not count either: they are never in flight while another request reads the load, so each counts only in
//! the load it sees itself ([`Load::permille_with_one_more`]).
//!
//! `guest.max_instances` is the concurrency the operator sized the origin for (it bounds the guests' pool
//! and memory); requests past it queue for a slot at each decision, so a ratio at or above 1000 means
//! decisions are about to wait. Response bodies streaming after the decision are not counted: they cost
//! the host bytes, not decisions.

use std::sync::atomic::{AtomicU32, Ordering};

/// Requests in flight against the capacity.
#[derive(Debug)]
pub struct Load {
    in_flight: AtomicU32,
    capacity: u32,
}

impl Load {
    /// No requests in flight yet, against `capacity` slots (at least 1).
    pub fn new(capacity: u32) -> Self {
        Load {
            in_flight: AtomicU32::new(0),
            capacity: capacity.max(1),
        }
    }

    /// Counts one request in flight until the returned guard drops (`strata_in_flight_requests` reads it).
    pub fn enter(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self)
    }

    /// Requests in flight now (parked ones excepted).
    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Requests in flight per capacity, in permille, saturating at `u16::MAX`.
    pub fn permille(&self) -> u16 {
        self.permille_of(self.in_flight.load(Ordering::Relaxed))
    }

    /// The load a request that is not counted sees if it counts itself: a read answered without awaiting
    /// (`remembered.rs`) is never in flight across an await, so it does not write the count every
    /// connection thread shares.
    pub fn permille_with_one_more(&self) -> u16 {
        self.permille_of(self.in_flight.load(Ordering::Relaxed).saturating_add(1))
    }

    fn permille_of(&self, in_flight: u32) -> u16 {
        u16::try_from(u64::from(in_flight) * 1000 / u64::from(self.capacity)).unwrap_or(u16::MAX)
    }
}

/// A counted request taken out of [`Load`] while it is parked; dropping it counts the request again.
#[derive(Debug)]
pub struct Parked<'a>(&'a Load);

impl Load {
    /// Takes a request counted by [`Load::enter`] out of the count while it is parked by a `wait`.
    pub fn park(&self) -> Parked<'_> {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        Parked(self)
    }
}

impl Drop for Parked<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_add(1, Ordering::Relaxed);
    }
}

/// One request counted in [`Load`]; dropping it (answered, failed, or the client left) uncounts it.
#[derive(Debug)]
pub struct InFlight<'a>(&'a Load);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_requests_while_their_guards_live() {
        let load = Load::new(4);
        assert_eq!(load.permille(), 0);
        let a = load.enter();
        let b = load.enter();
        assert_eq!(load.permille(), 500);
        assert_eq!(load.permille_with_one_more(), 750, "as if it had entered");
        drop(a);
        assert_eq!(load.permille(), 250);
        drop(b);
        assert_eq!(load.permille(), 0);
        let tiny = Load::new(0);
        let guards: Vec<_> = (0..70).map(|_| tiny.enter()).collect();
        assert_eq!(tiny.permille(), u16::MAX);
        drop(guards);
    }

    #[test]
    fn a_parked_request_does_not_count_until_it_wakes() {
        let load = Load::new(4);
        let request = load.enter();
        let parked = load.park();
        assert_eq!(load.permille(), 0);
        drop(parked);
        assert_eq!(load.permille(), 250);
        drop(request);
        assert_eq!(load.permille(), 0);
    }
}
