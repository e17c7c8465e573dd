//! Writing access log lines without ever making a request wait for the disk: each line goes into a
//! queue bounded in lines ([`QUEUE_LINES`]) and in bytes ([`QUEUE_BYTES`], so long request targets cannot
//! make it hold much memory) that one thread of its own drains into the file (or stderr); when the queue
//! is full the line is dropped and counted (`strata_access_log_dropped_lines_total`). The file is reopened
//! on request ([`AccessLog::reopen`], on SIGHUP) so logrotate can rename it away.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::config::{Format, LogConfig};

/// Lines waiting for the writer at most; past it new lines are dropped (and counted).
pub const QUEUE_LINES: usize = 16 * 1024;

/// Bytes of lines waiting for the writer at most; past it new lines are dropped (and counted).
pub const QUEUE_BYTES: usize = 8 * 1024 * 1024;

/// Longest the writer sleeps without a line before it looks for a reopen request.
const WAKE_EVERY: Duration = Duration::from_millis(100);

/// Where lines go, and in which format; cheap to clone. [`AccessLog::off`] writes nothing.
#[derive(Clone, Debug, Default)]
pub struct AccessLog {
    sink: Option<Arc<Sink>>,
}

#[derive(Debug)]
struct Sink {
    format: Format,
    queue: SyncSender<Message>,
    /// Set when a reopen could not be queued (the queue was full).
    reopen: Arc<AtomicBool>,
    /// Bytes of the lines queued and not written yet.
    queued: Arc<AtomicUsize>,
    /// Disconnected when the writer thread has written its last line; taken by [`AccessLog::closed`].
    closed: Mutex<Option<Receiver<()>>>,
}

/// The end of the writer thread, to wait for at exit: the process must not end before the lines of the
/// requests dropped at shutdown are written (nor wait long for a disk that does not answer).
#[derive(Debug)]
pub struct Closed(Option<Receiver<()>>);

impl Closed {
    /// Waits at most `limit` for the writer to write every queued line and close its file, which it does
    /// once every clone of the [`AccessLog`] is dropped; whether it did.
    pub fn wait(self, limit: Duration) -> bool {
        self.0.is_none_or(|closed| {
            !matches!(closed.recv_timeout(limit), Err(RecvTimeoutError::Timeout))
        })
    }
}

/// What the writer thread receives, in order.
#[derive(Debug)]
enum Message {
    /// A line to write.
    Line(String),
    /// Reopen the file: lines queued after this go to the file now at its path.
    Reopen,
}

/// Why the access log cannot start.
#[derive(Debug, thiserror::Error)]
#[error("cannot open the access log {} (log.access_file): {source}", path.display())]
pub struct OpenError {
    /// The file.
    pub path: PathBuf,
    /// Why.
    pub source: io::Error,
}

impl AccessLog {
    /// An access log that writes nothing.
    pub fn off() -> Self {
        AccessLog::default()
    }

    /// Whether lines are written: when not, a request's record keeps only what the metrics need.
    pub fn is_on(&self) -> bool {
        self.sink.is_some()
    }

    /// Starts the writer `config` asks for (none when `access = "off"`), opening its file now so a path
    /// that cannot be written stops the start.
    ///
    /// # Errors
    /// [`OpenError`] naming the file.
    pub fn start(config: &LogConfig) -> Result<Self, OpenError> {
        if config.access == Format::Off {
            return Ok(AccessLog::off());
        }
        let out = match &config.access_file {
            Some(path) => Output::File {
                writer: BufWriter::new(open(path)?),
                path: path.clone(),
            },
            None => Output::Stderr,
        };
        let (sender, queue) = sync_channel(QUEUE_LINES);
        let reopen = Arc::new(AtomicBool::new(false));
        let queued = Arc::new(AtomicUsize::new(0));
        let (asked, written) = (Arc::clone(&reopen), Arc::clone(&queued));
        let (running, closed) = sync_channel::<()>(0);
        std::thread::Builder::new()
            .name("strata-access-log".into())
            .spawn(move || {
                drain(queue, out, &asked, &written);
                drop(running);
            })
            .map_err(|source| OpenError {
                path: config.access_file.clone().unwrap_or_default(),
                source,
            })?;
        Ok(AccessLog {
            sink: Some(Arc::new(Sink {
                format: config.access,
                queue: sender,
                reopen,
                queued,
                closed: Mutex::new(Some(closed)),
            })),
        })
    }

    /// The format lines are written in; `None` when the log is off.
    pub fn format(&self) -> Option<Format> {
        self.sink.as_ref().map(|sink| sink.format)
    }

    /// The writer's end, to wait for at exit (once: later calls, and a log that is off, wait for nothing).
    pub fn closed(&self) -> Closed {
        let closed = self.sink.as_ref().and_then(|sink| {
            sink.closed
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take()
        });
        Closed(closed)
    }

    /// Queues `line` (without its newline); drops and counts it when the writer is behind.
    pub fn write(&self, line: String) {
        let Some(sink) = &self.sink else { return };
        let bytes = line.len();
        if sink.queued.fetch_add(bytes, Ordering::Relaxed) + bytes > QUEUE_BYTES {
            sink.queued.fetch_sub(bytes, Ordering::Relaxed);
            crate::metrics::record_dropped_log_line();
            return;
        }
        match sink.queue.try_send(Message::Line(line)) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                sink.queued.fetch_sub(bytes, Ordering::Relaxed);
                crate::metrics::record_dropped_log_line();
            }
        }
    }

    /// Asks the writer to reopen its file (after logrotate renamed it): lines queued from now on go to a
    /// file at the configured path (when the queue is full, from the writer's next wake-up on). Nothing
    /// for stderr.
    pub fn reopen(&self) {
        if let Some(sink) = &self.sink
            && sink.queue.try_send(Message::Reopen).is_err()
        {
            sink.reopen.store(true, Ordering::Relaxed);
        }
    }
}

/// Opens `path` to append. Opened non-blocking, so a FIFO that nobody reads fails at once ("No such device
/// or address") instead of hanging the start or the writer thread for good; then made blocking again, so
/// lines written to a pipe that has a reader (`/dev/stdout` under a supervisor) are never cut short.
fn open(path: &Path) -> Result<File, OpenError> {
    let opened = OpenOptions::new()
        .create(true)
        .append(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits().cast_signed())
        .open(path)
        .and_then(|file| {
            let flags = rustix::fs::fcntl_getfl(&file)?;
            rustix::fs::fcntl_setfl(&file, flags - rustix::fs::OFlags::NONBLOCK)?;
            Ok(file)
        });
    opened.map_err(|source| OpenError {
        path: path.to_owned(),
        source,
    })
}

/// Where the writer thread writes.
enum Output {
    Stderr,
    File {
        writer: BufWriter<File>,
        path: PathBuf,
    },
}

impl Output {
    fn write_line(&mut self, line: &str) -> io::Result<()> {
        match self {
            // One write per line: other writers of stderr (the tracing logs) never split it.
            Output::Stderr => io::stderr()
                .lock()
                .write_all(format!("{line}\n").as_bytes()),
            Output::File { writer, .. } => {
                writer.write_all(line.as_bytes())?;
                writer.write_all(b"\n")
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::Stderr => Ok(()),
            Output::File { writer, .. } => writer.flush(),
        }
    }

    /// Flushes the old file and opens the path again; on failure the old file keeps the lines.
    fn reopen(&mut self) {
        let Output::File { writer, path } = self else {
            return;
        };
        let _ = writer.flush();
        match open(path) {
            Ok(file) => {
                *writer = BufWriter::new(file);
                tracing::info!(path = %path.display(), "access log reopened");
            }
            Err(e) => {
                tracing::warn!(error = %e, "access log not reopened; writing to the old file")
            }
        }
    }
}

/// The writer thread: lines as they come, flushed whenever the queue is empty; reopens when asked; ends
/// when every [`AccessLog`] is gone.
fn drain(queue: Receiver<Message>, mut out: Output, reopen: &AtomicBool, queued: &AtomicUsize) {
    let mut failing = false;
    loop {
        if reopen.swap(false, Ordering::Relaxed) {
            out.reopen();
        }
        let first = match queue.recv_timeout(WAKE_EVERY) {
            Ok(message) => message,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let mut result = Ok(());
        for message in std::iter::once(first).chain(std::iter::from_fn(|| queue.try_recv().ok())) {
            match message {
                Message::Reopen => out.reopen(),
                Message::Line(line) => {
                    queued.fetch_sub(line.len(), Ordering::Relaxed);
                    if result.is_ok() {
                        result = out.write_line(&line);
                    } else {
                        crate::metrics::record_dropped_log_line();
                    }
                }
            }
        }
        let result = result.and_then(|()| out.flush());
        match result {
            Err(e) if !failing => {
                failing = true;
                crate::metrics::record_dropped_log_line();
                tracing::warn!(error = %e, "cannot write the access log; lines are dropped until it works");
            }
            Err(_) => crate::metrics::record_dropped_log_line(),
            Ok(()) => failing = false,
        }
    }
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(path: &Path) -> LogConfig {
        LogConfig {
            access: Format::Json,
            access_file: Some(path.to_owned()),
        }
    }

    fn wait_for(path: &Path, text: &str) -> String {
        for _ in 0..500 {
            let written = std::fs::read_to_string(path).unwrap_or_default();
            if written.contains(text) {
                return written;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("{text:?} never reached {}", path.display());
    }

    #[test]
    fn lines_reach_the_file_and_a_reopen_follows_a_rename() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("access.log");
        let log = AccessLog::start(&config(&path)).unwrap();
        log.write("one".into());
        wait_for(&path, "one\n");
        let rotated = dir.path().join("access.log.1");
        std::fs::rename(&path, &rotated).unwrap();
        log.reopen();
        log.write("two".into());
        assert_eq!(wait_for(&path, "two\n"), "two\n");
        assert_eq!(wait_for(&rotated, "one\n"), "one\n");
    }

    #[test]
    fn a_file_that_cannot_be_opened_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing/access.log");
        let error = AccessLog::start(&config(&path)).unwrap_err().to_string();
        assert!(
            error.contains("log.access_file") && error.contains("missing"),
            "{error}"
        );
    }

    #[test]
    fn lines_past_the_byte_budget_are_dropped_not_queued() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("access.log");
        let log = AccessLog::start(&config(&path)).unwrap();
        log.write("x".repeat(QUEUE_BYTES + 1));
        log.write("small".into());
        assert_eq!(wait_for(&path, "small\n"), "small\n");
    }

    #[test]
    fn a_fifo_nobody_reads_is_refused_at_once_and_never_blocks_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("access.fifo");
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR,
        )
        .unwrap();
        let error = AccessLog::start(&config(&fifo)).unwrap_err().to_string();
        assert!(error.contains("access.fifo"), "{error}");
        // A log whose file is swapped for a FIFO by the time of the reopen keeps writing to the old file.
        let path = dir.path().join("access.log");
        let log = AccessLog::start(&config(&path)).unwrap();
        std::fs::rename(&path, dir.path().join("access.log.1")).unwrap();
        std::fs::rename(&fifo, &path).unwrap();
        log.reopen();
        log.write("after".into());
        wait_for(&dir.path().join("access.log.1"), "after\n");
    }

    #[test]
    fn the_lines_queued_before_the_last_clone_goes_are_written_when_it_is_closed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("access.log");
        let log = AccessLog::start(&config(&path)).unwrap();
        let closed = log.closed();
        let lines: Vec<String> = (0..2000).map(|n| format!("line {n}")).collect();
        let clone = log.clone();
        for line in &lines {
            clone.write(line.clone());
        }
        drop((log, clone));
        assert!(closed.wait(Duration::from_secs(20)));
        let written = std::fs::read_to_string(&path).unwrap();
        assert_eq!(written, format!("{}\n", lines.join("\n")));
    }

    #[test]
    fn off_writes_nothing() {
        let log = AccessLog::start(&LogConfig::default()).unwrap();
        assert_eq!(log.format(), None);
        log.write("x".into());
        assert!(log.closed().wait(Duration::ZERO));
    }
}
