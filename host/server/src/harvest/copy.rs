//! Moving a clip's bytes inside the host: an object copied from one key to another through the storage
//! trait (opened where it lies, streamed into a new version's writer, which syncs and renames it into place
//! before it becomes current), and a clip's playlist written the same way. In a cluster the same calls read
//! through the node's copies and write to the shared store.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::io::AsyncReadExt;

use strata_tiers::{Naming, NewObject, ObjectBody, Storage, TierError, Writer};

/// Bytes read from a file per chunk.
const CHUNK: usize = 256 * 1024;

/// Longest a source upload still arriving may send nothing before the copy gives up.
const SOURCE_IDLE: Duration = Duration::from_secs(10);

/// Longest a copy waits for upload memory while live uploads hold all of it.
const MEMORY_WAIT: Duration = Duration::from_secs(10);

/// Content-Type of the playlists a harvest writes.
pub const PLAYLIST_TYPE: &str = "application/vnd.apple.mpegurl";

/// Why a copy failed; the message names the object.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// The source object is gone (the live window deleted it).
    #[error("source object {0} vanished before it was copied")]
    Vanished(String),
    /// The source upload stalled or was aborted.
    #[error("source object {key} could not be read: {reason}")]
    Source {
        /// Its key.
        key: String,
        /// Why.
        reason: String,
    },
    /// The storage refused or failed the write.
    #[error("cannot write {key}: {reason}")]
    Write {
        /// The destination key.
        key: String,
        /// The storage's one-line reason.
        reason: String,
    },
}

/// Copies the current version of `from` to `to` (its type, cache control and metadata with it); returns the
/// bytes copied.
///
/// # Errors
/// [`CopyError`] naming the object: the source vanished, stalled, or the write failed.
pub async fn object(
    storage: &Arc<dyn Storage>,
    from: &str,
    to: &str,
    max_bytes: u64,
) -> Result<u64, CopyError> {
    let source = |reason: String| CopyError::Source {
        key: from.to_owned(),
        reason,
    };
    let opened = storage
        .open(from)
        .await
        .map_err(|e| source(e.client_reason()))?
        .ok_or_else(|| CopyError::Vanished(from.to_owned()))?;
    let spec = NewObject {
        content_type: opened.meta.content_type.clone(),
        cache_control: opened.meta.cache_control.clone(),
        metadata: opened.meta.metadata.clone(),
        ttl_seconds: None,
        naming: Naming::Local,
    };
    let mut writer = writer(storage, to, spec, max_bytes).await?;
    let write = |e: TierError| CopyError::Write {
        key: to.to_owned(),
        reason: e.client_reason(),
    };
    let mut copied = 0u64;
    match opened.body {
        ObjectBody::Memory(bytes) => {
            copied = bytes.len() as u64;
            writer.write(bytes).await.map_err(write)?;
        }
        ObjectBody::Disk(file) => {
            let mut file = file.take(opened.meta.size);
            loop {
                let mut chunk = Vec::with_capacity(CHUNK);
                let read = (&mut file)
                    .take(CHUNK as u64)
                    .read_to_end(&mut chunk)
                    .await
                    .map_err(|e| source(e.kind().to_string()))?;
                if read == 0 {
                    break;
                }
                copied += read as u64;
                writer.write(Bytes::from(chunk)).await.map_err(write)?;
            }
            if copied != opened.meta.size {
                return Err(source(format!(
                    "{copied} of {} bytes on disk",
                    opened.meta.size
                )));
            }
        }
        ObjectBody::Growing(upload) => {
            let mut chunks = std::pin::pin!(upload.reader(0, None));
            loop {
                let next = tokio::time::timeout(SOURCE_IDLE, chunks.next())
                    .await
                    .map_err(|_| {
                        source(format!(
                            "its upload sent nothing for {} s",
                            SOURCE_IDLE.as_secs()
                        ))
                    })?;
                let Some(chunk) = next else { break };
                let chunk = chunk.map_err(|e| source(format!("its upload failed: {e}")))?;
                copied += chunk.len() as u64;
                writer.write(chunk).await.map_err(write)?;
            }
        }
    }
    writer.commit().await.map_err(write)?;
    crate::metrics::record_harvest_copy(copied);
    Ok(copied)
}

/// Writes a playlist the harvest made at `key`.
///
/// # Errors
/// [`CopyError::Write`] when the storage refuses or fails.
pub async fn playlist(
    storage: &Arc<dyn Storage>,
    key: &str,
    text: String,
    max_bytes: u64,
) -> Result<(), CopyError> {
    let spec = NewObject {
        content_type: PLAYLIST_TYPE.to_owned(),
        ..NewObject::default()
    };
    let mut writer = writer(storage, key, spec, max_bytes).await?;
    let write = |e: TierError| CopyError::Write {
        key: key.to_owned(),
        reason: e.client_reason(),
    };
    writer.write(Bytes::from(text)).await.map_err(write)?;
    writer.commit().await.map_err(write)?;
    Ok(())
}

/// A writer for `key`, waiting up to [`MEMORY_WAIT`] while live uploads hold the whole upload memory
/// budget: a harvest yields to ingest.
async fn writer(
    storage: &Arc<dyn Storage>,
    key: &str,
    spec: NewObject,
    max_bytes: u64,
) -> Result<Box<dyn Writer>, CopyError> {
    let deadline = tokio::time::Instant::now() + MEMORY_WAIT;
    loop {
        match Arc::clone(storage)
            .store(key.to_owned(), spec.clone(), max_bytes)
            .await
        {
            Err(TierError::UploadMemoryFull { .. }) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => {
                return Err(CopyError::Write {
                    key: key.to_owned(),
                    reason: e.client_reason(),
                });
            }
            Ok(writer) => return Ok(writer),
        }
    }
}
