//! Accept errors without a busy loop: when the process runs out of file descriptors (EMFILE) or the
//! kernel of buffers, `accept` fails at once and keeps failing; retrying immediately spins a core and
//! floods the log. Each failure in a row doubles a pause (1 ms up to 1 s), and the log says so at most once
//! a second, with how many failures it did not print.

use std::io;
use std::time::Duration;

use tokio::time::Instant;

/// First pause after a failed accept.
const FIRST_PAUSE: Duration = Duration::from_millis(1);
/// Longest pause between accepts while they keep failing.
const MAX_PAUSE: Duration = Duration::from_secs(1);
/// At most one log line per this period.
const LOG_PERIOD: Duration = Duration::from_secs(1);

/// The accept loop's state after failures.
#[derive(Debug, Default)]
pub struct Backoff {
    pause: Option<Duration>,
    last_log: Option<Instant>,
    unlogged: u64,
}

impl Backoff {
    /// Records a failed accept, logs it (rate-limited) and pauses before the next one.
    pub async fn failed(&mut self, error: &io::Error) {
        let pause = self.pause.map_or(FIRST_PAUSE, |p| (p * 2).min(MAX_PAUSE));
        self.pause = Some(pause);
        self.unlogged += 1;
        let now = Instant::now();
        if self.last_log.is_none_or(|at| now - at >= LOG_PERIOD) {
            tracing::warn!(
                error = %error,
                failures = self.unlogged,
                pause_ms = pause.as_millis() as u64,
                "accept failed; pausing before the next accept"
            );
            crate::metrics::record_accept_failures(self.unlogged);
            self.unlogged = 0;
            self.last_log = Some(now);
        }
        tokio::time::sleep(pause).await;
    }

    /// Records a successful accept: the next failure starts over from the first pause.
    pub fn succeeded(&mut self) {
        self.pause = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn pauses_double_up_to_the_cap_and_reset_on_success() {
        let mut backoff = Backoff::default();
        let error = io::Error::from_raw_os_error(24);
        let mut pauses = Vec::new();
        for _ in 0..13 {
            let started = Instant::now();
            backoff.failed(&error).await;
            pauses.push(started.elapsed());
        }
        assert_eq!(pauses[0], FIRST_PAUSE);
        assert_eq!(pauses[1], FIRST_PAUSE * 2);
        assert_eq!(*pauses.last().unwrap(), MAX_PAUSE);
        backoff.succeeded();
        let started = Instant::now();
        backoff.failed(&error).await;
        assert_eq!(started.elapsed(), FIRST_PAUSE);
    }
}
