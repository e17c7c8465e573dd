//! The token-bucket arithmetic of one client under one limit: a level that refills at a rate up to a
//! capacity. Requests take one token and must find one; bytes are charged after they are sent (a body
//! cannot be un-sent), so the bytes bucket may go below zero and the client then waits until it is back to
//! zero. Time is passed in, so the arithmetic is tested without a clock.

use std::time::{Duration, Instant};

/// One bucket: tokens (requests or bytes) refilling at `rate` per second, up to `capacity`.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenBucket {
    level: f64,
    rate: f64,
    capacity: f64,
}

impl TokenBucket {
    /// A full bucket. `rate` and `capacity` are above zero (checked with the configuration).
    pub fn full(rate: f64, capacity: f64) -> Self {
        TokenBucket {
            level: capacity,
            rate,
            capacity,
        }
    }

    /// Adds what `elapsed` seconds refill, up to the capacity.
    fn refill(&mut self, elapsed: f64) {
        self.level = (self.level + self.rate * elapsed).min(self.capacity);
    }

    /// How long until the level reaches `needed` (zero when it already has).
    fn wait_for(&self, needed: f64) -> Duration {
        if self.level >= needed {
            return Duration::ZERO;
        }
        Duration::from_secs_f64(((needed - self.level) / self.rate).min(MAX_WAIT_SECS))
    }
}

/// Longest wait ever reported (a day): a client's own huge charge must not overflow a `Duration`.
const MAX_WAIT_SECS: f64 = 86_400.0;

/// The buckets one client has under one limit: requests, bytes, or both.
#[derive(Debug, Clone, PartialEq)]
pub struct Buckets {
    requests: Option<TokenBucket>,
    bytes: Option<TokenBucket>,
    refilled_at: Instant,
}

impl Buckets {
    /// Full buckets, as of `now`.
    pub fn new(requests: Option<TokenBucket>, bytes: Option<TokenBucket>, now: Instant) -> Self {
        Buckets {
            requests,
            bytes,
            refilled_at: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now
            .saturating_duration_since(self.refilled_at)
            .as_secs_f64();
        self.refilled_at = self.refilled_at.max(now);
        for bucket in [&mut self.requests, &mut self.bytes].into_iter().flatten() {
            bucket.refill(elapsed);
        }
    }

    /// Admits one request at `now`, taking a request token, when there is a request token and the bytes
    /// bucket is not below zero; otherwise takes nothing and says how long until both hold.
    ///
    /// # Errors
    /// The time until a request would be admitted (above zero).
    pub fn admit(&mut self, now: Instant) -> Result<(), Duration> {
        self.refill(now);
        let wait = self
            .requests
            .as_ref()
            .map_or(Duration::ZERO, |b| b.wait_for(1.0))
            .max(
                self.bytes
                    .as_ref()
                    .map_or(Duration::ZERO, |b| b.wait_for(0.0)),
            );
        if !wait.is_zero() {
            return Err(wait);
        }
        if let Some(requests) = &mut self.requests {
            requests.level -= 1.0;
        }
        Ok(())
    }

    /// Charges `bytes` sent or received at `now`; the level may go below zero.
    pub fn charge(&mut self, bytes: u64, now: Instant) {
        self.refill(now);
        if let Some(bucket) = &mut self.bytes {
            bucket.level -= bytes as f64;
        }
    }

    /// Whether this limit counts bytes at all.
    pub fn counts_bytes(&self) -> bool {
        self.bytes.is_some()
    }
}

/// A `Retry-After` value: whole seconds, rounded up, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    let whole = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    whole.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(start: Instant, secs: f64) -> Instant {
        start + Duration::from_secs_f64(secs)
    }

    #[test]
    fn a_burst_passes_then_requests_wait_for_the_rate() {
        let t0 = Instant::now();
        let mut buckets = Buckets::new(Some(TokenBucket::full(2.0, 3.0)), None, t0);
        for _ in 0..3 {
            buckets.admit(t0).unwrap();
        }
        let wait = buckets.admit(t0).unwrap_err();
        assert_eq!(wait, Duration::from_millis(500));
        // A refused request takes nothing: half a second later exactly one more passes.
        buckets.admit(at(t0, 0.5)).unwrap();
        assert!(buckets.admit(at(t0, 0.5)).is_err());
    }

    #[test]
    fn refill_stops_at_the_capacity() {
        let t0 = Instant::now();
        let mut buckets = Buckets::new(Some(TokenBucket::full(1.0, 2.0)), None, t0);
        buckets.admit(t0).unwrap();
        let later = at(t0, 3600.0);
        buckets.admit(later).unwrap();
        buckets.admit(later).unwrap();
        assert!(buckets.admit(later).is_err());
    }

    #[test]
    fn bytes_go_below_zero_and_the_next_request_waits_for_them() {
        let t0 = Instant::now();
        let mut buckets = Buckets::new(None, Some(TokenBucket::full(1000.0, 1000.0)), t0);
        buckets.admit(t0).unwrap();
        buckets.charge(3500, t0);
        // 2500 bytes below zero at 1000 bytes/s.
        assert_eq!(buckets.admit(t0).unwrap_err(), Duration::from_millis(2500));
        assert_eq!(
            buckets.admit(at(t0, 2.0)).unwrap_err(),
            Duration::from_millis(500)
        );
        buckets.admit(at(t0, 2.5)).unwrap();
    }

    #[test]
    fn both_buckets_must_hold_and_the_longer_wait_is_reported() {
        let t0 = Instant::now();
        let mut buckets = Buckets::new(
            Some(TokenBucket::full(10.0, 1.0)),
            Some(TokenBucket::full(100.0, 100.0)),
            t0,
        );
        buckets.admit(t0).unwrap();
        buckets.charge(400, t0);
        // The request bucket is back in 0.1 s, the bytes in 3 s.
        assert_eq!(buckets.admit(t0).unwrap_err(), Duration::from_secs(3));
        // Refused for bytes: the request token stays.
        buckets.admit(at(t0, 3.0)).unwrap();
    }

    #[test]
    fn a_huge_charge_reports_a_bounded_wait() {
        let t0 = Instant::now();
        let mut buckets = Buckets::new(None, Some(TokenBucket::full(1.0, 1.0)), t0);
        buckets.charge(u64::MAX, t0);
        assert_eq!(buckets.admit(t0).unwrap_err(), Duration::from_secs(86_400));
    }

    #[test]
    fn a_clock_going_back_refills_nothing() {
        let t0 = Instant::now();
        let later = at(t0, 1.0);
        let mut buckets = Buckets::new(Some(TokenBucket::full(1.0, 1.0)), None, later);
        buckets.admit(later).unwrap();
        assert!(buckets.admit(t0).is_err());
        assert!(buckets.admit(later).is_err());
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds_at_least_one() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1000)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1001)), 2);
        assert_eq!(retry_after_secs(Duration::from_millis(2500)), 3);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }
}
