//! What one client connection is doing, so a connection that holds a slot without using it is closed:
//! bytes moved (read or written, through [`Watched`]) and requests in flight ([`Activity::request`]).
//!
//! While no request is in flight (a request in flight is bounded by its own deadlines: the guest's wall
//! clock, the longest park, the upload body's idle timeout), a connection is closed gracefully when it
//! started no request within the header timeout of opening (a silent client, or one that sent only the
//! HTTP/2 preface), or started or finished none for the idle timeout (an idle keep-alive, an HTTP/2 client
//! that only pings). Once closing, what it had open may finish, but a connection that then moves no byte
//! for the idle timeout (a client that stopped reading its answer) is dropped ([`Activity::until_stalled`]).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

/// The time limits a connection is held to.
#[derive(Debug, Clone, Copy)]
pub struct IdleLimits {
    /// Time from opening to the first request.
    pub header: Duration,
    /// Time without requests (and, once closing, without bytes).
    pub idle: Duration,
}

/// The connection's last activity, shared by its IO wrapper, its requests and its watchdog.
#[derive(Debug)]
pub struct Activity {
    started: Instant,
    limits: IdleLimits,
    /// Milliseconds after `started` of the last byte read or written.
    last_io_ms: AtomicU64,
    /// Milliseconds after `started` of the last request started or finished.
    last_request_ms: AtomicU64,
    /// Requests started so far.
    requests: AtomicU64,
    in_flight: AtomicU32,
}

impl Activity {
    /// A connection that opens now, held to `limits`.
    pub fn new(limits: IdleLimits) -> Arc<Self> {
        Arc::new(Activity {
            started: Instant::now(),
            limits,
            last_io_ms: AtomicU64::new(0),
            last_request_ms: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            in_flight: AtomicU32::new(0),
        })
    }

    fn now_ms(&self) -> u64 {
        millis(self.started.elapsed())
    }

    fn touch_io(&self) {
        self.last_io_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    /// Counts a request in flight until the guard drops.
    pub fn request(self: &Arc<Self>) -> InFlight {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.last_request_ms.store(self.now_ms(), Ordering::Relaxed);
        InFlight(Arc::clone(self))
    }

    /// Resolves when the connection should be closed gracefully.
    pub async fn until_idle(&self) {
        while !self.is_idle() {
            tokio::time::sleep(self.recheck()).await;
        }
    }

    /// Resolves when a connection that began closing at `since` (a time from [`Activity::now`]) has had
    /// no request in flight and moved no byte for the idle timeout, counted from `since` at the earliest.
    pub async fn until_stalled(&self, since: Duration) {
        let since = millis(since);
        let idle = millis(self.limits.idle);
        loop {
            let last = self.last_io_ms.load(Ordering::Relaxed).max(since);
            let due = last.saturating_add(idle);
            let now = self.now_ms();
            if self.in_flight.load(Ordering::Relaxed) == 0 && now >= due {
                return;
            }
            let wait = due.saturating_sub(now).max(idle / 8).max(1);
            tokio::time::sleep(Duration::from_millis(wait)).await;
        }
    }

    /// Time since the connection opened.
    pub fn now(&self) -> Duration {
        self.started.elapsed()
    }

    /// Whether, with no request in flight, the connection broke the header or the idle rule.
    fn is_idle(&self) -> bool {
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            return false;
        }
        let now = self.now_ms();
        if self.requests.load(Ordering::Relaxed) == 0 {
            return now >= millis(self.limits.header);
        }
        now.saturating_sub(self.last_request_ms.load(Ordering::Relaxed)) >= millis(self.limits.idle)
    }

    /// How long until the rules may next be broken; requests in flight are checked on an eighth of the
    /// idle timeout.
    fn recheck(&self) -> Duration {
        let now = self.now_ms();
        let due = if self.requests.load(Ordering::Relaxed) == 0 {
            millis(self.limits.header)
        } else {
            self.last_request_ms
                .load(Ordering::Relaxed)
                .saturating_add(millis(self.limits.idle))
        };
        let floor = millis(self.limits.idle.min(self.limits.header)) / 8;
        Duration::from_millis(due.saturating_sub(now).max(floor).max(1))
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
        self.0
            .last_request_ms
            .store(self.0.now_ms(), Ordering::Relaxed);
    }
}

/// A connection's IO that records when bytes last moved.
#[derive(Debug)]
pub struct Watched<I> {
    io: I,
    activity: Arc<Activity>,
}

impl<I> Watched<I> {
    /// Wraps `io`, reporting to `activity`.
    pub fn new(io: I, activity: Arc<Activity>) -> Self {
        Watched { io, activity }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Watched<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch_io();
        }
        polled
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Watched<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch_io();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch_io();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: IdleLimits = IdleLimits {
        header: Duration::from_secs(10),
        idle: Duration::from_secs(60),
    };

    #[tokio::test(start_paused = true)]
    async fn a_connection_without_a_first_request_closes_at_the_header_timeout() {
        let activity = Activity::new(LIMITS);
        activity.touch_io();
        let started = Instant::now();
        activity.until_idle().await;
        assert_eq!(started.elapsed(), LIMITS.header);
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_that_only_pings_goes_idle() {
        let activity = Activity::new(LIMITS);
        drop(activity.request());
        let pinger = async {
            loop {
                tokio::time::sleep(Duration::from_secs(10)).await;
                activity.touch_io();
            }
        };
        let started = Instant::now();
        tokio::select! { () = activity.until_idle() => {}, () = pinger => unreachable!() }
        assert!(started.elapsed() >= LIMITS.idle);
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_in_flight_holds_it_open_then_silence_drops_it() {
        let activity = Activity::new(LIMITS);
        let request = activity.request();
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
}
