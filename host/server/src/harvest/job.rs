//! One harvest, from the checked request to the written clip: planned against the stored source when it is
//! asked for (so a bad source is refused at once), then run: follow every rendition's live playlist at once
//! until it covers the window, copying each part of the window as soon as it is published (before the live
//! window deletes it; each object once, a few at a time), then write the renditions' VOD playlists, and the
//! multivariant playlist last, so a clip's entry point appears only once all it names is in place.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::{StreamExt, TryStreamExt};
use http::StatusCode;
use strata_guest_core::hls::Kind;
use strata_tiers::Storage;
use tokio::sync::Semaphore;

use super::clip::{self, KeyMap, ObjectCopy};
use super::copy;
use super::follow::{Follow, Step};
use super::request::HarvestRequest;
use super::source::{self, Failure};
use super::uris::folder;

/// Most renditions one multivariant playlist may name.
pub const MAX_RENDITIONS: usize = 64;

/// Objects one job copies at once.
const PARALLEL_COPIES: usize = 4;

/// What bounds a job's reads and writes.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest playlist read.
    pub max_playlist_bytes: u64,
    /// Largest object copied.
    pub max_object_bytes: u64,
}

/// A harvest checked against the stored source.
#[derive(Debug, Clone)]
pub struct Plan {
    /// What was asked.
    pub request: HarvestRequest,
    /// Where copies go.
    pub map: KeyMap,
    /// The key of the clip's entry point: the source playlist's copy.
    pub entry: String,
}

/// Checks `request` against the stored source: the playlist (and each rendition's) exists, is clipped by
/// the window or will be within [`source::MAX_LIVE_WAIT`], and the destination holds nothing yet.
///
/// # Errors
/// [`Failure`]: 404 for a missing playlist, 422 for one that cannot be clipped, 409 for a destination in use.
pub async fn plan(
    storage: &dyn Storage,
    request: HarvestRequest,
    limits: Limits,
) -> Result<Plan, Failure> {
    let map = KeyMap {
        root: folder(&request.source).to_owned(),
        destination: request.destination.clone(),
    };
    let (key, window, max) = (&request.source, request.window, limits.max_playlist_bytes);
    let p = source::playlist(storage, key, max).await?;
    match p.kind() {
        Kind::Media => {
            source::check(storage, key, window, &map, max).await?;
        }
        Kind::Multivariant => {
            let renditions = clip::multivariant(&p, key, &map)?.renditions;
            if renditions.len() > MAX_RENDITIONS {
                return Err(Failure::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!(
                        "{key} names {} renditions; a harvest clips at most {MAX_RENDITIONS}",
                        renditions.len()
                    ),
                ));
            }
            for rendition in &renditions {
                source::check(storage, rendition, window, &map, max).await?;
            }
        }
    }
    let dest = &request.destination;
    if let Some(held) = storage.list(dest, &[], 1).await.first() {
        return Err(Failure::new(
            StatusCode::CONFLICT,
            format!("destination {dest} already holds objects ({held}): harvest into a new folder"),
        ));
    }
    let entry = map.to(key)?;
    Ok(Plan {
        request,
        map,
        entry,
    })
}

/// What a job has done so far.
#[derive(Debug, Default)]
pub struct Progress {
    /// Objects copied.
    pub objects: AtomicU64,
    /// Bytes copied.
    pub bytes: AtomicU64,
}

/// What a finished clip holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Segments across renditions.
    pub segments: usize,
    /// Program date time of the clip's first segment, ms since the epoch.
    pub start_ms: i64,
    /// ... and of its end.
    pub end_ms: i64,
}

/// Runs a planned harvest to the end.
///
/// # Errors
/// [`Failure`] naming the playlist or object at fault: a source that cannot be read or clipped any more, a
/// live stream that does not reach the window's end, a segment that vanished before it was copied, a
/// write the storage refused.
pub async fn run(
    storage: &Arc<dyn Storage>,
    plan: &Plan,
    limits: Limits,
    progress: &Progress,
) -> Result<Summary, Failure> {
    let (key, window, map) = (&plan.request.source, plan.request.window, &plan.map);
    let max = limits.max_playlist_bytes;
    let p = source::playlist(storage.as_ref(), key, max).await?;
    let (multivariant, renditions) = match p.kind() {
        Kind::Media => (None, vec![key.clone()]),
        Kind::Multivariant => {
            let m = clip::multivariant(&p, key, map)?;
            let renditions = m.renditions.clone();
            (Some(m), renditions)
        }
    };
    let copier = Copier {
        storage,
        max_object_bytes: limits.max_object_bytes,
        progress,
        claimed: Mutex::new(HashSet::new()),
        permits: Semaphore::new(PARALLEL_COPIES),
    };
    let clips = futures_util::future::try_join_all(renditions.iter().map(|rendition| {
        let mut follow = Follow::new(rendition, window, map, max);
        let copier = &copier;
        async move {
            loop {
                match follow.next(storage.as_ref()).await? {
                    Step::Partial(objects) => copier.copy(objects).await?,
                    Step::Done(clip) => {
                        copier.copy(clip.objects.clone()).await?;
                        return Ok::<_, Failure>((rendition, clip));
                    }
                }
            }
        }
    }))
    .await?;
    if let Some(m) = &multivariant {
        copier.copy(m.objects.clone()).await?;
    }
    let written =
        |e: copy::CopyError| Failure::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    for (rendition, clip) in &clips {
        let to = map.to(rendition)?;
        copy::playlist(storage, &to, clip.playlist.write(), max)
            .await
            .map_err(written)?;
    }
    if let Some(m) = multivariant {
        copy::playlist(storage, &plan.entry, m.playlist.write(), max)
            .await
            .map_err(written)?;
    }
    Ok(Summary {
        segments: clips.iter().map(|(_, c)| c.segments).sum(),
        start_ms: clips
            .iter()
            .map(|(_, c)| c.start_ms)
            .min()
            .unwrap_or(window.start_ms),
        end_ms: clips
            .iter()
            .map(|(_, c)| c.end_ms)
            .max()
            .unwrap_or(window.end_ms),
    })
}

/// Copies a job's objects: each once however many renditions name it, at most [`PARALLEL_COPIES`] at a
/// time across renditions.
struct Copier<'a> {
    storage: &'a Arc<dyn Storage>,
    max_object_bytes: u64,
    progress: &'a Progress,
    /// Source keys copied or being copied.
    claimed: Mutex<HashSet<String>>,
    permits: Semaphore,
}

impl Copier<'_> {
    /// Copies those of `objects` not claimed yet, in order; the first failure stops the job.
    async fn copy(&self, objects: Vec<ObjectCopy>) -> Result<(), Failure> {
        let fresh: Vec<ObjectCopy> = {
            let mut claimed = self
                .claimed
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            objects
                .into_iter()
                .filter(|(from, _)| claimed.insert(from.clone()))
                .collect()
        };
        futures_util::stream::iter(fresh)
            .map(|(from, to)| async move {
                let _permit = self.permits.acquire().await;
                copy::object(self.storage, &from, &to, self.max_object_bytes).await
            })
            .buffered(PARALLEL_COPIES)
            .map_err(|e| {
                let status = match e {
                    copy::CopyError::Vanished(_) => StatusCode::GONE,
                    _ => StatusCode::INTERNAL_SERVER_ERROR,
                };
                Failure::new(status, e.to_string())
            })
            .try_for_each(|bytes| {
                self.progress.objects.fetch_add(1, Ordering::Relaxed);
                self.progress.bytes.fetch_add(bytes, Ordering::Relaxed);
                std::future::ready(Ok(()))
            })
            .await
    }
}
