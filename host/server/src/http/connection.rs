//! What one client connection is doing, so a connection that holds a slot without using it is closed:
//! requests in flight ([`Activity::request`]), response bodies still being sent ([`Activity::sending`]),
//! answer bytes the socket has not taken yet (`socket_watch.rs`), and when any of them last made progress.
//! Progress is counted where the client takes bytes: a body frame handed on, or a write the socket
//! accepted. Bytes the client sends do not count: an HTTP/2 client that only pings, a client that trickles a
//! request head, or one that never reads its answer makes no progress.
//!
//! While no request is in flight (a request in flight is bounded by its own deadlines: the guest's wall
//! clock, the longest park, the upload body's idle timeout), a connection is closed gracefully when it
//! completed no request head within the header timeout of opening (a silent client, one that trickles its
//! first head, or one that sent only the HTTP/2 preface); when, over HTTP/1.1, it sent no next head within
//! the header timeout of the socket taking its last answer's last byte (an idle keep-alive, a trickled
//! head); or when it made no progress
//! for the idle timeout (a pinging HTTP/2 client, a reader that stopped reading). The header rule is the
//! one hyper's own head timer kept, which this watch replaces: that timer cost an allocation and a clock
//! read on every request (decision 0060). Once closing, what it had open may finish while it makes
//! progress; a closing connection that makes none for the idle timeout (one beat if it never completed a
//! head: hyper leaves an unfinished first head open when asked to close) is dropped
//! ([`Activity::until_stalled`]), so neither an HTTP/2 client that never acknowledges the GOAWAY nor a
//! stalled reader nor a trickling client keeps it.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::task::Poll;
use std::time::Duration;

use futures_util::task::AtomicWaker;
use http::Version;

use tokio::time::Instant;

use super::body::BodyWatch;

/// The time limits a connection is held to.
#[derive(Debug, Clone, Copy)]
pub struct IdleLimits {
    /// Time from opening to the first request.
    pub header: Duration,
    /// Time without progress.
    pub idle: Duration,
}

/// The connection's progress, shared by its requests, its response bodies and its watchdog.
///
/// Requests and bodies only count their progress (an atomic add, no clock read on a request's path); the
/// watchdog, waking at least every eighth of the shorter limit, notes when it first sees the count move, so
/// a connection is closed at most that beat later than its limit.
#[derive(Debug)]
pub struct Activity {
    started: Instant,
    limits: IdleLimits,
    /// Progress made so far: requests started and finished, body frames sent, bodies finished.
    progress: AtomicU64,
    /// The progress count the watchdog saw last, and when (ms after `started`) it first saw it.
    seen: AtomicU64,
    seen_at_ms: AtomicU64,
    /// Requests started so far.
    requests: AtomicU64,
    /// Requests being decided or parked.
    in_flight: AtomicU32,
    /// Response bodies being sent.
    sending: AtomicU32,
    /// The socket refused the connection's last write: answer bytes wait for the client to read.
    unsent: AtomicBool,
    /// Whether the connection speaks HTTP/2 (seen on its first request): between requests it is held to
    /// the idle limit, where an HTTP/1.1 connection is held to the header limit.
    multiplexed: AtomicBool,
}

impl Activity {
    /// A connection that opens now, held to `limits`.
    pub fn new(limits: IdleLimits) -> Arc<Self> {
        Arc::new(Activity {
            started: Instant::now(),
            limits,
            progress: AtomicU64::new(0),
            seen: AtomicU64::new(0),
            seen_at_ms: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            in_flight: AtomicU32::new(0),
            sending: AtomicU32::new(0),
            unsent: AtomicBool::new(false),
            multiplexed: AtomicBool::new(false),
        })
    }

    fn now_ms(&self) -> u64 {
        millis(self.started.elapsed())
    }

    fn progress(&self) {
        self.progress.fetch_add(1, Ordering::Relaxed);
    }

    /// When (ms after opening) the last progress was seen, as of `now_ms`.
    fn last_progress_ms(&self, now_ms: u64) -> u64 {
        let count = self.progress.load(Ordering::Relaxed);
        if self.seen.swap(count, Ordering::Relaxed) != count {
            self.seen_at_ms.store(now_ms, Ordering::Relaxed);
        }
        self.seen_at_ms.load(Ordering::Relaxed)
    }

    /// Counts a request of `version` in flight until the guard drops.
    pub fn request(self: &Arc<Self>, version: Version) -> InFlight {
        if self.requests.fetch_add(1, Ordering::Relaxed) == 0 && version == Version::HTTP_2 {
            self.multiplexed.store(true, Ordering::Relaxed);
        }
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.progress();
        InFlight(Arc::clone(self))
    }

    /// Counts a response body being sent until the returned watch reports its end.
    pub fn sending(self: &Arc<Self>) -> Sending {
        self.sending.fetch_add(1, Ordering::Relaxed);
        Sending(Arc::clone(self))
    }

    /// The socket took bytes of an answer: progress, and nothing waits for the client. Only HTTP/1.1's
    /// answers count: over HTTP/2 (or before a first request shows which it is) the server also writes what
    /// is no progress, such as acknowledgements of a client's pings, and a slow reader is seen by its body
    /// frames.
    pub fn wrote(&self) {
        if self.answers_http1() {
            self.unsent.store(false, Ordering::Relaxed);
            self.progress();
        }
    }

    /// The socket took no more bytes: what is left of the answer waits for the client to read.
    pub fn write_refused(&self) {
        if self.answers_http1() {
            self.unsent.store(true, Ordering::Relaxed);
        }
    }

    fn answers_http1(&self) -> bool {
        self.requests.load(Ordering::Relaxed) > 0 && !self.multiplexed.load(Ordering::Relaxed)
    }

    /// Progress counted so far.
    #[cfg(test)]
    pub fn progress_made(&self) -> u64 {
        self.progress.load(Ordering::Relaxed)
    }

    /// Whether answer bytes wait for the client to read them.
    #[cfg(test)]
    pub fn answer_waiting(&self) -> bool {
        self.unsent.load(Ordering::Relaxed)
    }

    /// Time since the connection opened.
    pub fn now(&self) -> Duration {
        self.started.elapsed()
    }

    fn beat(&self) -> u64 {
        (millis(self.limits.idle.min(self.limits.header)) / 8).max(1)
    }

    /// Resolves when the connection should be closed gracefully. The rules are checked again at least every
    /// eighth of the shorter limit, so a request that starts during a wait is seen soon after.
    pub async fn until_idle(&self) {
        loop {
            let wait = self.idle_in();
            if wait.is_zero() {
                return;
            }
            tokio::time::sleep(wait.min(Duration::from_millis(self.beat()))).await;
        }
    }

    /// Resolves when a connection that began closing at `since` (a time from [`Activity::now`]) has had
    /// no request in flight and made no progress for the idle timeout, counted from `since` at the earliest.
    pub async fn until_stalled(&self, since: Duration) {
        let since = millis(since);
        loop {
            // Read each time: a head that completes while closing earns its answer the idle timeout.
            let idle = if self.requests.load(Ordering::Relaxed) == 0 {
                self.beat()
            } else {
                millis(self.limits.idle)
            };
            let now = self.now_ms();
            let last = self.last_progress_ms(now).max(since);
            let due = last.saturating_add(idle);
            if self.in_flight.load(Ordering::Relaxed) == 0 && now >= due {
                return;
            }
            let wait = due.saturating_sub(now).min(self.beat()).max(1);
            tokio::time::sleep(Duration::from_millis(wait)).await;
        }
    }

    /// How long until the connection breaks the header or the idle rule if nothing happens (zero: it has).
    fn idle_in(&self) -> Duration {
        let now = self.now_ms();
        let last = self.last_progress_ms(now);
        let idle = millis(self.limits.idle);
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            return Duration::from_millis(idle.max(1));
        }
        let header = millis(self.limits.header);
        let due = if self.requests.load(Ordering::Relaxed) == 0 {
            header
        } else if !self.multiplexed.load(Ordering::Relaxed)
            && self.sending.load(Ordering::Relaxed) == 0
            && !self.unsent.load(Ordering::Relaxed)
        {
            last.saturating_add(header.min(idle))
        } else {
            last.saturating_add(idle)
        };
        Duration::from_millis(due.saturating_sub(now))
    }
}

/// The connection's watchdog, run as a task of its own so the connection's polls (several per request) do
/// not also poll the drain and the idle rules: [`Watchdog::closing`] resolves once either says to close.
/// The task ends when the watchdog is dropped.
pub struct Watchdog {
    signal: Arc<Signal>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
struct Signal {
    closing: AtomicBool,
    waker: AtomicWaker,
}

impl Watchdog {
    /// Watches `activity` until it goes idle or `drain` resolves.
    pub fn start(
        activity: Arc<Activity>,
        drain: impl Future<Output = ()> + Send + 'static,
    ) -> Watchdog {
        let signal = Arc::new(Signal::default());
        let raised = Arc::clone(&signal);
        let task = tokio::spawn(async move {
            tokio::select! {
                () = drain => {}
                () = activity.until_idle() => {}
            }
            raised.closing.store(true, Ordering::Release);
            raised.waker.wake();
        });
        Watchdog { signal, task }
    }

    /// Resolves when the connection should be closed gracefully.
    pub fn closing(&self) -> impl Future<Output = ()> + '_ {
        std::future::poll_fn(|cx| {
            if self.signal.closing.load(Ordering::Acquire) {
                return Poll::Ready(());
            }
            self.signal.waker.register(cx.waker());
            if self.signal.closing.load(Ordering::Acquire) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// One request counted in flight on its connection.
#[derive(Debug)]
pub struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.0.progress();
    }
}

/// A response body being sent ([`Activity::sending`]): each frame it yields (the client is reading) and
/// its end are progress.
#[derive(Debug)]
pub struct Sending(Arc<Activity>);

impl BodyWatch for Sending {
    fn sent(&self, _bytes: usize) {
        self.0.progress();
    }

    fn finished(&self, _ended: bool) {
        self.0.sending.fetch_sub(1, Ordering::Relaxed);
        self.0.progress();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http_body::Body;
    use std::pin::Pin;

    const LIMITS: IdleLimits = IdleLimits {
        header: Duration::from_secs(10),
        idle: Duration::from_secs(60),
    };

    #[tokio::test(start_paused = true)]
    async fn a_connection_without_a_first_request_closes_at_the_header_timeout() {
        let activity = Activity::new(LIMITS);
        let started = Instant::now();
        activity.until_idle().await;
        assert_eq!(started.elapsed(), LIMITS.header);
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_soon_after_opening_is_seen_before_the_header_timeout() {
        let activity = Activity::new(LIMITS);
        let idle = activity.until_idle();
        tokio::pin!(idle);
        assert!(
            tokio::time::timeout(Duration::from_secs(1), idle.as_mut())
                .await
                .is_err()
        );
        drop(activity.request(Version::HTTP_2));
        let started = Instant::now();
        idle.await;
        // Idle a minute after that request, not at the header timeout counted from opening.
        assert!(started.elapsed() >= LIMITS.idle);
        assert!(started.elapsed() <= LIMITS.idle + LIMITS.header / 8);
    }

    #[tokio::test(start_paused = true)]
    async fn an_http2_connection_without_progress_goes_idle_after_its_last_request() {
        let activity = Activity::new(LIMITS);
        drop(activity.request(Version::HTTP_2));
        let started = Instant::now();
        activity.until_idle().await;
        assert_eq!(started.elapsed(), LIMITS.idle);
    }

    #[tokio::test(start_paused = true)]
    async fn an_http1_connection_gets_the_header_timeout_for_its_next_head() {
        let activity = Activity::new(LIMITS);
        drop(activity.request(Version::HTTP_11));
        let started = Instant::now();
        activity.until_idle().await;
        assert_eq!(started.elapsed(), LIMITS.header);
    }

    #[tokio::test(start_paused = true)]
    async fn an_http1_answer_being_sent_is_held_to_the_idle_timeout() {
        let activity = Activity::new(LIMITS);
        drop(activity.request(Version::HTTP_11));
        let body = activity.sending();
        let started = Instant::now();
        activity.until_idle().await;
        assert_eq!(started.elapsed(), LIMITS.idle, "a stalled reader");
        body.finished(true);
        let finished = Instant::now();
        activity.until_idle().await;
        let waited = finished.elapsed();
        assert!(
            waited >= LIMITS.header && waited <= LIMITS.header + LIMITS.header / 8,
            "{waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_http1_answer_the_socket_has_not_taken_is_held_to_the_idle_timeout() {
        let activity = Activity::new(LIMITS);
        drop(activity.request(Version::HTTP_11));
        activity.sending().finished(true);
        // The body went to hyper whole; the socket then refused the rest of it.
        activity.write_refused();
        let started = Instant::now();
        activity.until_idle().await;
        assert_eq!(started.elapsed(), LIMITS.idle, "a stalled reader");
        activity.wrote();
        let written = Instant::now();
        activity.until_idle().await;
        let waited = written.elapsed();
        assert!(
            waited >= LIMITS.header && waited <= LIMITS.header + LIMITS.header / 8,
            "{waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_head_completed_while_closing_gets_the_idle_timeout_for_its_answer() {
        let activity = Activity::new(LIMITS);
        activity.until_idle().await;
        let closing = activity.now();
        let stalled = activity.until_stalled(closing);
        tokio::pin!(stalled);
        // Watched from before the head completes (less than a beat: not yet dropped).
        let early = tokio::time::timeout(LIMITS.header / 16, stalled.as_mut()).await;
        assert!(early.is_err(), "dropped before a beat");
        drop(activity.request(Version::HTTP_11));
        let answered = Instant::now();
        stalled.await;
        let waited = answered.elapsed();
        assert!(
            waited >= LIMITS.idle && waited <= LIMITS.idle + LIMITS.header / 8,
            "{waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_closing_connection_that_never_completed_a_head_is_dropped_after_one_beat() {
        let activity = Activity::new(LIMITS);
        activity.until_idle().await;
        let closing = Instant::now();
        activity.until_stalled(activity.now()).await;
        assert_eq!(closing.elapsed(), LIMITS.header / 8);
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_in_flight_holds_it_open_then_a_closing_connection_without_progress_drops() {
        let activity = Activity::new(LIMITS);
        let request = activity.request(Version::HTTP_11);
        let parked = tokio::time::timeout(Duration::from_secs(600), activity.until_idle());
        assert!(parked.await.is_err(), "a parked request was cut off");
        let closing = activity.now();
        let stalled =
            tokio::time::timeout(Duration::from_secs(600), activity.until_stalled(closing));
        assert!(
            stalled.await.is_err(),
            "a request in flight was dropped while closing"
        );
        drop(request);
        let started = Instant::now();
        activity.until_stalled(activity.now()).await;
        assert_eq!(started.elapsed(), LIMITS.idle);
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_is_read_keeps_a_closing_connection_alive() {
        let activity = Activity::new(LIMITS);
        drop(activity.request(Version::HTTP_11));
        let mut body = super::super::body::Watched::new(
            super::super::body::full(Bytes::from_static(b"x")),
            activity.sending(),
        );
        tokio::time::sleep(Duration::from_secs(50)).await;
        let closing = activity.now();
        // The client reads at 50 s: progress, so the stall is counted from there.
        let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
        assert!(frame.is_some());
        let started = Instant::now();
        activity.until_stalled(closing).await;
        assert_eq!(started.elapsed(), LIMITS.idle);
    }
}
