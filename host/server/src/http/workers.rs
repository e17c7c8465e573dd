//! Connection threads, one per CPU, each a single-threaded tokio runtime that keeps every connection it is
//! handed until the connection ends (nginx's worker model, decision 0059). A connection's requests never
//! move between threads: no work stealing and no cross-thread wake-ups on the hit path, and its socket and
//! timers live in the runtime that polls them. A new connection goes to the thread with the fewest open.
//!
//! A guest that computes for long does not hold up the other connections of its thread: guests yield to
//! the runtime at every epoch tick (`strata_runtime`), so the thread serves its other requests in between.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;

use tokio::sync::mpsc;

/// A connection's work: made on the accepting thread, started on a connection thread, so its socket is
/// registered with the runtime that will poll it.
pub type Job = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// One connection thread: where to send it work, how many connections it has open, the thread itself.
struct Worker {
    jobs: mpsc::UnboundedSender<Job>,
    open: Arc<AtomicUsize>,
    thread: JoinHandle<()>,
}

/// The connection threads.
pub struct Workers(Vec<Worker>);

impl Workers {
    /// Starts `count` connection threads (at least one).
    ///
    /// # Errors
    /// The operating system refused a thread or a runtime.
    pub fn start(count: usize) -> std::io::Result<Self> {
        (0..count.max(1))
            .map(Worker::start)
            .collect::<Result<_, _>>()
            .map(Workers)
    }

    /// Runs `job` on the thread with the fewest connections open.
    pub fn hand(&self, job: Job) {
        let Some(worker) = self.0.iter().min_by_key(|w| w.open.load(Ordering::Relaxed)) else {
            return;
        };
        worker.open.fetch_add(1, Ordering::Relaxed);
        // Counted closed when the connection's future ends, or when the job is dropped unstarted.
        let closed = Closed(Arc::clone(&worker.open));
        let counted: Job = Box::new(move || {
            let connection = job();
            Box::pin(async move {
                let _closed = closed;
                connection.await;
            })
        });
        // Refused only once `stop` has dropped the senders: the connection then closes.
        let _ = worker.jobs.send(counted);
    }

    /// Stops the threads once they have no connection left to start; connections still open are dropped
    /// with their runtimes (each request's access log line is written as it drops).
    pub fn stop(self) {
        let threads: Vec<_> = self
            .0
            .into_iter()
            .map(|worker| {
                drop(worker.jobs);
                worker.thread
            })
            .collect();
        for thread in threads {
            if thread.join().is_err() {
                tracing::warn!("a connection thread panicked");
            }
        }
    }
}

impl Worker {
    fn start(index: usize) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (jobs, mut received) = mpsc::unbounded_channel::<Job>();
        let thread = std::thread::Builder::new()
            .name(format!("strata-conn-{index}"))
            .spawn(move || {
                runtime.block_on(async move {
                    while let Some(job) = received.recv().await {
                        tokio::spawn(job());
                    }
                });
            })?;
        Ok(Worker {
            jobs,
            open: Arc::new(AtomicUsize::new(0)),
            thread,
        })
    }
}

/// Counts a connection closed when its future ends or is dropped.
struct Closed(Arc<AtomicUsize>);

impl Drop for Closed {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn connections_go_to_the_thread_with_the_fewest_open_and_each_stays_on_its_thread() {
        let workers = Workers::start(2).unwrap();
        let (seen, threads) = std::sync::mpsc::channel();
        let (release, held) = tokio::sync::watch::channel(false);
        for _ in 0..4 {
            let seen = seen.clone();
            let mut held = held.clone();
            workers.hand(Box::new(move || {
                Box::pin(async move {
                    let before = std::thread::current().id();
                    let _ = held.wait_for(|released| *released).await;
                    let after = std::thread::current().id();
                    let _ = seen.send((before, after));
                })
            }));
        }
        let open: Vec<_> = workers
            .0
            .iter()
            .map(|w| w.open.load(Ordering::Relaxed))
            .collect();
        assert_eq!(open, [2, 2]);
        release.send_replace(true);
        let ran: Vec<_> = (0..4)
            .map(|_| threads.recv_timeout(Duration::from_secs(10)).unwrap())
            .collect();
        assert!(ran.iter().all(|(before, after)| before == after));
        let distinct: std::collections::HashSet<_> =
            ran.iter().map(|(thread, _)| *thread).collect();
        assert_eq!(distinct.len(), 2);
        workers.stop();
    }
}
