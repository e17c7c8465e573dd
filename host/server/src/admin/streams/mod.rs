//! `GET /_strata/streams`: the live and VOD streams the stored playlists and MPDs describe, for the
//! console's Streams view: renditions, segment duration, window, age of the last update, ingest bitrate,
//! errors, and whether a live stream went stale.
//!
//! A store can hold millions of keys, so the work is bounded: the manifests come from the index's side
//! set of playlist keys, at most [`MAX_MANIFESTS`] of them are read (each at most [`MAX_MANIFEST_BYTES`],
//! all together at most [`READ_BUDGET`]), measuring bitrates looks up at most [`LOOKUP_BUDGET`] keys, and
//! the whole answer has [`DEADLINE`]. One listing runs at a time, and it parses one manifest at a time on
//! a blocking thread, so however hostile the manifests, a listing takes at most one core from the data
//! plane.

mod assemble;
mod manifest;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::StreamExt;
use http::{Response, StatusCode};
use serde::Serialize;
use strata_tiers::{ReadError, Storage};

use super::json;
use crate::http::{ResponseBody, error_response};
use crate::state::AppState;
pub use assemble::Stream;
use assemble::{Measure, Stored, assemble};

/// Most manifests one listing reads.
const MAX_MANIFESTS: usize = 500;
/// Largest manifest read; a larger one is listed with an error.
const MAX_MANIFEST_BYTES: u64 = 1 << 20;
/// Most manifest bytes one listing reads: past it, manifests are listed unread, with an error.
const READ_BUDGET: u64 = 64 << 20;
/// Most keys one listing looks up to measure ingest bitrates.
const LOOKUP_BUDGET: usize = 20_000;
/// Most keys of one DASH stream's folder looked at to measure its ingest.
const FOLDER_SCAN_LIMIT: usize = 1_000;
/// The span over which a DASH stream's ingest is measured, seconds.
const INGEST_WINDOW_S: u64 = 10;
/// Manifests read at once.
const READS_AT_ONCE: usize = 16;
/// Longest a listing may take.
const DEADLINE: Duration = Duration::from_secs(5);
/// Manifest endings the listing reads.
const MANIFEST_SUFFIXES: [&str; 2] = [".m3u8", ".mpd"];

/// The answer: every stream found, and whether manifests were left out.
#[derive(Debug, Serialize)]
struct Listing {
    streams: Vec<Stream>,
    /// Manifests read.
    manifests: usize,
    /// More manifests are stored than one listing reads.
    truncated: bool,
    /// The bound `truncated` refers to.
    max_manifests: usize,
}

/// One listing at a time in the whole server: a second request (another tab, a script in a loop) waits
/// for the first within its own deadline instead of adding its reads and parsing to the data plane's.
static ONE_AT_A_TIME: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// `GET /_strata/streams`.
pub async fn list(state: &AppState) -> Response<ResponseBody> {
    let bounded = tokio::time::timeout(DEADLINE, async {
        let _turn = ONE_AT_A_TIME.acquire().await;
        listing(state.storage.as_ref(), now_s()).await
    });
    match bounded.await {
        Ok(listing) => json(StatusCode::OK, &listing),
        Err(_) => error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "listing the streams took longer than {} s",
                DEADLINE.as_secs()
            ),
        ),
    }
}

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

async fn listing(storage: &dyn Storage, now_s: u64) -> Listing {
    let suffixes: Vec<String> = MANIFEST_SUFFIXES.iter().map(|s| s.to_string()).collect();
    let mut keys = storage.list("", &suffixes, MAX_MANIFESTS + 1).await;
    let truncated = keys.len() > MAX_MANIFESTS;
    keys.truncate(MAX_MANIFESTS);
    let budget = AtomicU64::new(READ_BUDGET);
    let stored: Vec<Stored> = futures_util::stream::iter(keys)
        .map(|key| read(storage, key, now_s, &budget))
        .buffered(READS_AT_ONCE)
        .filter_map(std::future::ready)
        .collect()
        .await;
    let manifests = stored.len();
    let mut lookups = LOOKUP_BUDGET;
    let mut streams = Vec::new();
    for (mut stream, measure) in assemble(&stored) {
        if stream.live {
            stream.ingest_bitrate_bps = match ingest_bps(storage, &measure, now_s, &mut lookups)
                .await
            {
                Some(bps) => Some(bps),
                None if lookups == 0 => {
                    stream.errors.push(format!(
                        "ingest bitrate not measured: this listing looked up {LOOKUP_BUDGET} keys already"
                    ));
                    None
                }
                None => None,
            };
        }
        streams.push(stream);
    }
    Listing {
        streams,
        manifests,
        truncated,
        max_manifests: MAX_MANIFESTS,
    }
}

/// One stored manifest with its age and what it says, its size taken from `budget` (bytes left to read);
/// `None` when it vanished meanwhile.
async fn read(
    storage: &dyn Storage,
    key: String,
    now_s: u64,
    budget: &AtomicU64,
) -> Option<Stored> {
    let meta = storage.head(&key).await?;
    let age_s = now_s.saturating_sub(meta.last_modified);
    // One too large to read costs nothing (`read_small` refuses it from its metadata): an encoder storing
    // huge playlists must not use up the budget and leave everyone else's manifests unread.
    let size = match meta.size > MAX_MANIFEST_BYTES {
        true => 0,
        false => meta.size,
    };
    if budget
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
            left.checked_sub(size)
        })
        .is_err()
    {
        let parsed = Err(format!(
            "not read: this listing read {READ_BUDGET} bytes of manifests already"
        ));
        return Some(Stored { key, age_s, parsed });
    }
    let parsed = match storage.read_small(&key, MAX_MANIFEST_BYTES).await {
        Ok(body) => parse_aside(&key, body).await,
        Err(ReadError::NotFound) => return None,
        Err(ReadError::TooLarge(size)) => Err(format!(
            "{size} bytes: larger than the {MAX_MANIFEST_BYTES} bytes the console reads"
        )),
        Err(e) => Err(format!("cannot be read: {e}")),
    };
    Some(Stored { key, age_s, parsed })
}

/// Parses a manifest on a blocking thread: a megabyte of hostile playlist is milliseconds of CPU that
/// must not hold up the runtime's workers, which serve the data plane.
/// One at a time, so the parse trees of many hostile MPDs (tens of bytes of memory per byte read) are
/// never held at once, and a listing's parsing takes at most one core.
async fn parse_aside(key: &str, body: Bytes) -> Result<manifest::Parsed, String> {
    static ONE_PARSE: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);
    let Ok(turn) = ONE_PARSE.acquire().await else {
        return Err("not read: the server is stopping".to_owned());
    };
    let owned = key.to_owned();
    tokio::task::spawn_blocking(move || {
        let _turn = turn;
        manifest::parse(&owned, &body)
    })
    .await
    .unwrap_or_else(|e| Err(format!("its parser failed: {e}")))
}

/// Bits per second the encoder pushes, measured as [`Measure`] says; `None` when nothing was measured
/// (no segment found, or the lookup budget is spent).
async fn ingest_bps(
    storage: &dyn Storage,
    measure: &Measure,
    now_s: u64,
    lookups: &mut usize,
) -> Option<u64> {
    match measure {
        Measure::Segments(renditions) => {
            let mut total = None;
            for segments in renditions {
                let (mut bytes, mut seconds) = (0u64, 0f64);
                for (key, duration) in segments {
                    *lookups = lookups.checked_sub(1)?;
                    if let Some(meta) = storage.head(key).await
                        && meta.complete
                    {
                        bytes += meta.size;
                        seconds += duration;
                    }
                }
                if seconds > 0.0 {
                    *total.get_or_insert(0) += (bytes as f64 * 8.0 / seconds) as u64;
                }
            }
            total
        }
        Measure::Folder(folder) => {
            // Listing the folder is work too: none once the lookups are spent.
            if *lookups == 0 {
                return None;
            }
            let keys = storage.list(folder, &[], FOLDER_SCAN_LIMIT).await;
            let mut bytes = 0;
            let mut found = false;
            for key in keys.iter().filter(|k| !is_manifest(k)) {
                *lookups = lookups.checked_sub(1)?;
                if let Some(meta) = storage.head(key).await
                    && meta.complete
                    && meta.last_modified + INGEST_WINDOW_S >= now_s
                {
                    bytes += meta.size;
                    found = true;
                }
            }
            found.then(|| bytes * 8 / INGEST_WINDOW_S)
        }
    }
}

fn is_manifest(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    MANIFEST_SUFFIXES.iter().any(|s| lower.ends_with(s))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use strata_tiers::{NewObject, TierSettings, Tiers};

    use super::*;

    async fn put(tiers: &Arc<Tiers>, key: &str, body: &[u8]) {
        let mut writer = tiers
            .writer(key, NewObject::default(), 8 << 20)
            .await
            .expect("writer");
        writer
            .write(Bytes::copy_from_slice(body))
            .await
            .expect("write");
        writer.commit().await.expect("commit");
    }

    #[tokio::test]
    async fn stored_manifests_become_streams_with_their_ingest_measured() {
        let dir = tempfile::tempdir().expect("temp dir");
        let tiers = Arc::new(Tiers::open(dir.path(), TierSettings::default()).expect("tiers"));
        put(&tiers, "live/a/s1.ts", &[0; 1000]).await;
        put(&tiers, "live/a/s2.ts", &[0; 3000]).await;
        let media = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\ns1.ts\n#EXTINF:2,\ns2.ts\n";
        put(&tiers, "live/a/index.m3u8", media.as_bytes()).await;
        put(&tiers, "live/b/manifest.mpd", b"<MPD type=\"dynamic\"/>").await;
        put(&tiers, "live/b/chunk-1.m4s", &[0; 5000]).await;
        put(&tiers, "broken.m3u8", b"<html>").await;
        let huge = format!(
            "#EXTM3U\n#EXT-X-TARGETDURATION:2\n{}",
            "#EXTINF:2,\ns.ts\n".repeat(200_000)
        );
        put(&tiers, "huge.m3u8", huge.as_bytes()).await;
        put(&tiers, "live/a/not-a-manifest.ts", b"x").await;

        let now = now_s();
        let found = listing(tiers.as_ref(), now).await;
        assert_eq!((found.manifests, found.truncated), (4, false));
        let keys: Vec<&str> = found.streams.iter().map(|s| s.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "broken.m3u8",
                "huge.m3u8",
                "live/a/index.m3u8",
                "live/b/manifest.mpd"
            ]
        );
        let [broken, huge, hls, dash] = &found.streams[..] else {
            panic!("four streams")
        };
        assert!(broken.errors[0].starts_with("not a valid playlist"));
        assert_eq!(
            huge.errors,
            ["3200032 bytes: larger than the 1048576 bytes the console reads"]
        );
        assert!(hls.live && !hls.stale);
        // 4000 bytes in 4 s of media.
        assert_eq!(hls.ingest_bitrate_bps, Some(8000));
        // 5000 bytes written within the last 10 s.
        assert_eq!(dash.ingest_bitrate_bps, Some(4000));

        // A manifest too large to read takes nothing from the read budget; one that is read takes its size.
        let budget = AtomicU64::new(10);
        let huge = read(tiers.as_ref(), "huge.m3u8".into(), now, &budget).await;
        assert!(huge.is_some_and(|h| h.parsed.is_err()));
        assert_eq!(budget.load(Ordering::Relaxed), 10);
        let broken = read(tiers.as_ref(), "broken.m3u8".into(), now, &budget).await;
        assert!(broken.is_some());
        assert_eq!(budget.load(Ordering::Relaxed), 4);
        let unread = read(tiers.as_ref(), "live/a/index.m3u8".into(), now, &budget).await;
        assert!(unread.is_some_and(|u| u.parsed.is_err_and(|e| e.starts_with("not read"))));

        // Later, with nothing new: the HLS stream is stale, the DASH folder has no recent ingest.
        let later = listing(tiers.as_ref(), now + 60).await;
        assert!(later.streams[2].stale);
        assert_eq!(later.streams[3].ingest_bitrate_bps, None);
    }
}
