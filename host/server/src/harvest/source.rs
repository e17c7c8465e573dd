//! Reading the source: a stored playlist, parsed, and checked against a window.

use std::time::Duration;

use http::StatusCode;
use strata_guest_core::hls::Playlist;
use strata_tiers::{ReadError, Storage};

use super::clip::{self, ClipError, Coverage, KeyMap, Window};

/// Longest a harvest waits for a live stream to reach the end of its window, counted from the newest
/// segment's end: a window may end at most this far in the future.
pub const MAX_LIVE_WAIT: Duration = Duration::from_secs(600);

/// Why a harvest cannot go on: an HTTP status (when refused at once) and the one-line reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Failure {
    /// The status a refused request gets.
    pub status: StatusCode,
    /// What went wrong, naming the playlist or object.
    pub reason: String,
}

impl Failure {
    /// A failure with `status`.
    pub fn new(status: StatusCode, reason: impl Into<String>) -> Self {
        Failure {
            status,
            reason: reason.into(),
        }
    }
}

impl From<ClipError> for Failure {
    fn from(e: ClipError) -> Self {
        Failure::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string())
    }
}

/// The playlist stored at `key`, parsed.
///
/// # Errors
/// 404 when there is none, 422 when it is too large or not a playlist, 500 when the storage fails.
pub async fn playlist(
    storage: &dyn Storage,
    key: &str,
    max_bytes: u64,
) -> Result<Playlist, Failure> {
    let bytes = storage
        .read_small(key, max_bytes)
        .await
        .map_err(|e| match e {
            ReadError::NotFound => {
                Failure::new(StatusCode::NOT_FOUND, format!("no playlist at {key}"))
            }
            ReadError::TooLarge(size) => Failure::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("{key} is {size} bytes, larger than the {max_bytes}-byte playlist limit"),
            ),
            ReadError::Tier(e) => Failure::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot read {key}: {}", e.client_reason()),
            ),
        })?;
    Playlist::parse_bytes(&bytes)
        .map_err(|e| Failure::new(StatusCode::UNPROCESSABLE_ENTITY, format!("{key}: {e}")))
}

/// How far a media playlist is from covering a window now.
///
/// # Errors
/// [`Failure`] when it cannot be read or clipped, or its live edge is more than [`MAX_LIVE_WAIT`] short of
/// the window's end.
pub async fn check(
    storage: &dyn Storage,
    key: &str,
    window: Window,
    map: &KeyMap,
    max_bytes: u64,
) -> Result<Coverage, Failure> {
    let p = playlist(storage, key, max_bytes).await?;
    let coverage = clip::clip(&p, key, window, map)?;
    if let Coverage::Pending { edge_ms } = coverage
        && window.end_ms.saturating_sub(edge_ms) > MAX_LIVE_WAIT.as_millis() as i64
    {
        return Err(Failure::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "the window ends {} s after the newest segment of {key}; a harvest waits at most {} s for a live stream",
                window.end_ms.saturating_sub(edge_ms) / 1000,
                MAX_LIVE_WAIT.as_secs()
            ),
        ));
    }
    Ok(coverage)
}
