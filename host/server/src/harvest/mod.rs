//! Harvest: live-to-VOD clips cut by the host (`POST /_strata/harvest`, `docs/decisions/0055`). A clip's
//! segments are copied object to object through the storage trait (no byte through a guest, none over
//! HTTP) and named by VOD playlists that end with `EXT-X-ENDLIST`, so the clip outlives the live window.
//!
//! One job a module: [`request`] (the body), [`uris`] (playlist URIs ⇄ keys), [`clip`] (windowing and
//! rewriting playlists, plain data), [`source`] (reading the source), [`follow`] (following a live
//! playlist through the window), [`copy`] (moving bytes), [`job`] (planning and running one harvest); here, the jobs: a bounded queue, bounded
//! concurrency, and their reports kept for a while.

pub mod clip;
pub mod copy;
pub mod follow;
pub mod job;
pub mod request;
pub mod source;
pub mod uris;

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use http::StatusCode;
use serde::Serialize;
use strata_guest_core::iso8601::format_date_time_ms;
use strata_tiers::Storage;
use tokio::sync::Semaphore;

pub use job::{Limits, Plan, Progress, Summary};
pub use request::HarvestRequest;
pub use source::Failure;

/// Jobs that run at once; the others wait in the queue.
pub const CONCURRENT_JOBS: usize = 2;

/// Jobs queued or running at once; past it a request is refused with 503.
pub const MAX_ACTIVE_JOBS: usize = 16;

/// How long a finished job's report stays readable.
pub const RETENTION: Duration = Duration::from_secs(3600);

/// Most finished reports kept; the oldest go first past it.
pub const MAX_FINISHED: usize = 1000;

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Waiting for a free slot.
    Queued,
    /// Following the source or copying.
    Running,
    /// The clip is written.
    Done,
    /// It stopped; `reason` says why.
    Failed,
}

/// A job's report, as `GET /_strata/harvest/{id}` answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The job's id: 128 random bits, hex.
    pub id: String,
    /// Where it is.
    pub state: State,
    /// The source playlist's key.
    pub source: String,
    /// The destination folder.
    pub destination: String,
    /// The clip's entry point: the copy of the source playlist.
    pub playlist: String,
    /// The window asked for (RFC 3339).
    pub start: String,
    /// ... its end.
    pub end: String,
    /// Objects copied so far.
    pub objects_copied: u64,
    /// Bytes copied so far.
    pub bytes_copied: u64,
    /// Segments in the clip, across renditions (when done).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segments: Option<usize>,
    /// Program date time of the clip's first segment (when done): the window widened to whole segments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clip_start: Option<String>,
    /// ... and of its end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clip_end: Option<String>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// One job's record.
struct Record {
    report: Report,
    progress: Arc<Progress>,
    finished: Option<Instant>,
}

impl Record {
    fn report(&self) -> Report {
        let mut report = self.report.clone();
        report.objects_copied = self.progress.objects.load(Ordering::Relaxed);
        report.bytes_copied = self.progress.bytes.load(Ordering::Relaxed);
        report
    }
}

/// Every harvest job of this process: queued, running, and finished ones for [`RETENTION`]. In memory
/// only: a restart forgets them (a clip whose job was cut short lacks its entry playlist, `job.rs`).
pub struct Harvests {
    records: Mutex<HashMap<String, Record>>,
    slots: Arc<Semaphore>,
    /// Where jobs run: the main runtime, not the connection thread that accepted the request (a job
    /// follows a live window for minutes; decision 0059).
    runtime: tokio::runtime::Handle,
}

impl Harvests {
    /// No jobs yet; they will run on `runtime`.
    pub fn new(runtime: tokio::runtime::Handle) -> Self {
        Harvests {
            records: Mutex::new(HashMap::new()),
            slots: Arc::new(Semaphore::new(CONCURRENT_JOBS)),
            runtime,
        }
    }

    /// Queues a planned harvest; it starts when a slot is free.
    ///
    /// # Errors
    /// 503 when [`MAX_ACTIVE_JOBS`] are queued or running; 409 when an active job writes into or around
    /// the same destination.
    pub fn submit(
        self: &Arc<Self>,
        storage: Arc<dyn Storage>,
        plan: Plan,
        limits: Limits,
    ) -> Result<Report, Failure> {
        let mut records = self.lock();
        prune(&mut records);
        let active: Vec<&Record> = records.values().filter(|r| r.finished.is_none()).collect();
        if active.len() >= MAX_ACTIVE_JOBS {
            return Err(busy());
        }
        let dest = &plan.request.destination;
        if let Some(other) = active.iter().find(|r| {
            r.report.destination.starts_with(dest.as_str())
                || dest.starts_with(&r.report.destination)
        }) {
            crate::metrics::record_harvest_refused("conflict");
            return Err(Failure::new(
                StatusCode::CONFLICT,
                format!(
                    "harvest {} is writing into {}; choose another destination",
                    other.report.id, other.report.destination
                ),
            ));
        }
        let id = format!("{:032x}", rand::random::<u128>());
        let request = &plan.request;
        let report = Report {
            id: id.clone(),
            state: State::Queued,
            source: request.source.clone(),
            destination: request.destination.clone(),
            playlist: plan.entry.clone(),
            start: format_date_time_ms(request.window.start_ms),
            end: format_date_time_ms(request.window.end_ms),
            objects_copied: 0,
            bytes_copied: 0,
            segments: None,
            clip_start: None,
            clip_end: None,
            reason: None,
        };
        let progress = Arc::new(Progress::default());
        records.insert(
            id.clone(),
            Record {
                report: report.clone(),
                progress: Arc::clone(&progress),
                finished: None,
            },
        );
        drop(records);
        crate::metrics::record_harvest_accepted();
        let harvests = Arc::clone(self);
        let runtime = self.runtime.clone();
        self.runtime.spawn(async move {
            let Ok(_slot) = Arc::clone(&harvests.slots).acquire_owned().await else {
                return;
            };
            harvests.update(&id, |r| r.state = State::Running);
            tracing::info!(harvest = %id, source = %plan.request.source, "harvest started");
            let run = async move { job::run(&storage, &plan, limits, &progress).await };
            harvests.finish(&id, settled(runtime.spawn(run).await));
        });
        Ok(report)
    }

    /// Refuses at once, before the source is read, when [`MAX_ACTIVE_JOBS`] are queued or running: a flood
    /// of requests costs no storage reads. [`Harvests::submit`] checks again.
    ///
    /// # Errors
    /// 503 when the queue is full.
    pub fn admit(&self) -> Result<(), Failure> {
        let active = self
            .lock()
            .values()
            .filter(|r| r.finished.is_none())
            .count();
        match active >= MAX_ACTIVE_JOBS {
            true => Err(busy()),
            false => Ok(()),
        }
    }

    /// The report of job `id`, if it is known.
    pub fn report(&self, id: &str) -> Option<Report> {
        let mut records = self.lock();
        prune(&mut records);
        records.get(id).map(Record::report)
    }

    /// Jobs queued and running now.
    pub fn active(&self) -> (usize, usize) {
        let records = self.lock();
        let count = |state| records.values().filter(|r| r.report.state == state).count();
        (count(State::Queued), count(State::Running))
    }

    fn finish(&self, id: &str, result: Result<Summary, Failure>) {
        match &result {
            Ok(summary) => {
                tracing::info!(harvest = %id, segments = summary.segments, "harvest done")
            }
            Err(e) => tracing::warn!(harvest = %id, reason = %e.reason, "harvest failed"),
        }
        crate::metrics::record_harvest_finished(result.is_ok());
        let mut records = self.lock();
        let Some(record) = records.get_mut(id) else {
            return;
        };
        let report = &mut record.report;
        match result {
            Ok(summary) => {
                report.state = State::Done;
                report.segments = Some(summary.segments);
                report.clip_start = Some(format_date_time_ms(summary.start_ms));
                report.clip_end = Some(format_date_time_ms(summary.end_ms));
            }
            Err(e) => {
                report.state = State::Failed;
                report.reason = Some(e.reason);
            }
        }
        record.finished = Some(Instant::now());
    }

    fn update(&self, id: &str, change: impl FnOnce(&mut Report)) {
        if let Some(record) = self.lock().get_mut(id) {
            change(&mut record.report);
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Record>> {
        self.records
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The refusal of a request while the queue is full, counted.
fn busy() -> Failure {
    crate::metrics::record_harvest_refused("busy");
    Failure::new(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("{MAX_ACTIVE_JOBS} harvests are queued or running; retry when one finishes"),
    )
}

/// A job's result once its task has ended: a task that panicked is a failed job, so its report does not
/// stay `running` (holding a place among [`MAX_ACTIVE_JOBS`]) for ever.
fn settled(
    joined: Result<Result<Summary, Failure>, tokio::task::JoinError>,
) -> Result<Summary, Failure> {
    joined.unwrap_or_else(|e| {
        Err(Failure::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the harvest stopped unexpectedly: {e}"),
        ))
    })
}

/// Drops finished reports older than [`RETENTION`], then the oldest past [`MAX_FINISHED`].
fn prune(records: &mut HashMap<String, Record>) {
    records.retain(|_, r| r.finished.is_none_or(|at| at.elapsed() < RETENTION));
    let mut finished: Vec<(Instant, String)> = records
        .iter()
        .filter_map(|(id, r)| r.finished.map(|at| (at, id.clone())))
        .collect();
    if finished.len() > MAX_FINISHED {
        finished.sort();
        for (_, id) in &finished[..finished.len() - MAX_FINISHED] {
            records.remove(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_job_that_panics_is_a_failed_job() {
        let joined = tokio::spawn(async { panic!("a bug") }).await;
        let e = settled(joined).unwrap_err();
        assert_eq!(e.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(
            e.reason.starts_with("the harvest stopped unexpectedly: "),
            "{e}"
        );
        assert!(e.reason.contains("panicked"), "{e}");
    }
}
