//! The disk tier: one file per object version, written to a temporary file, synced, then renamed into place,
//! so a crash leaves either the old version or the new one, never a torn object.
//!
//! File layout: `body | meta JSON | meta length (u32 LE) | MAGIC`. The metadata sits in a footer because the
//! size and hash are known only once the body has streamed in; the body starts at offset 0 so reads seek
//! straight to a range. Files are named `objects/<2 hex>/<key hash>.<seq hex>`: hashing the key keeps
//! `a` and `a/b` from colliding as file and folder, and the sequence suffix lets an open reader keep the
//! version it opened while a writer replaces it.

use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::AsyncWriteExt;

use super::error::TierError;
use super::meta::ObjectMeta;

/// Marks the end of a complete object file.
const MAGIC: &[u8; 8] = b"STRATA01";
/// Footer length after the metadata: its length then the magic.
const TRAILER_LEN: u64 = 4 + MAGIC.len() as u64;
/// Write buffer for uploads; large enough that a chunked upload becomes few syscalls.
const WRITE_BUFFER: usize = 256 * 1024;

/// Numbers the temporary files of this process: two writers of one version of a key (a node copying an
/// object in from the cluster's store for two readers at once) each get a file of their own, so neither
/// renames or removes the other's.
static TEMPORARY_FILES: AtomicU64 = AtomicU64::new(0);

/// Durable storage of objects under one folder.
#[derive(Debug)]
pub struct DiskTier {
    objects: PathBuf,
    tmp: PathBuf,
}

/// An object found on disk at start.
#[derive(Debug)]
pub struct Recovered {
    /// Its metadata, from the footer.
    pub meta: ObjectMeta,
    /// The file holding it.
    pub path: PathBuf,
}

impl DiskTier {
    /// Opens (creating if needed) the tier under `root` and returns every complete object found there.
    /// Unfinished temporary files, files with a broken footer and older versions of a key are removed.
    pub fn open(root: &Path) -> Result<(Self, Vec<Recovered>), TierError> {
        let objects = root.join("objects");
        let tmp = root.join("tmp");
        for dir in [&objects, &tmp] {
            fs::create_dir_all(dir).map_err(|e| TierError::io("create", dir, e))?;
        }
        if let Ok(entries) = fs::read_dir(&tmp) {
            for entry in entries.flatten() {
                let _ = fs::remove_file(entry.path());
            }
        }
        let tier = DiskTier { objects, tmp };
        let recovered = tier.recover()?;
        Ok((tier, recovered))
    }

    fn recover(&self) -> Result<Vec<Recovered>, TierError> {
        let mut newest: std::collections::HashMap<String, Recovered> = Default::default();
        let shards =
            fs::read_dir(&self.objects).map_err(|e| TierError::io("list", &self.objects, e))?;
        for shard in shards.flatten() {
            let Ok(files) = fs::read_dir(shard.path()) else {
                continue;
            };
            for file in files.flatten() {
                let path = file.path();
                let meta = match read_footer(&path) {
                    Ok(meta) => meta,
                    Err(reason) => {
                        tracing::warn!(path = %path.display(), %reason, "removing unreadable object file");
                        let _ = fs::remove_file(&path);
                        continue;
                    }
                };
                let candidate = Recovered { meta, path };
                match newest.get(&candidate.meta.key) {
                    Some(kept) if kept.meta.seq >= candidate.meta.seq => {
                        let _ = fs::remove_file(&candidate.path);
                    }
                    _ => {
                        if let Some(old) = newest.insert(candidate.meta.key.clone(), candidate) {
                            let _ = fs::remove_file(&old.path);
                        }
                    }
                }
            }
        }
        Ok(newest.into_values().collect())
    }

    /// Where version `seq` of `key` lives once committed.
    pub fn path_for(&self, key: &str, seq: u64) -> PathBuf {
        let hash = blake3::hash(key.as_bytes()).to_hex();
        self.objects
            .join(&hash[..2])
            .join(format!("{}.{seq:016x}", &hash[..32]))
    }

    /// Starts writing a new object into a temporary file.
    pub async fn begin(&self, seq: u64) -> Result<DiskWrite, TierError> {
        let n = TEMPORARY_FILES.fetch_add(1, Ordering::Relaxed);
        let tmp_path = self.tmp.join(format!("{seq:016x}-{n:x}.part"));
        let file = tokio::fs::File::create(&tmp_path)
            .await
            .map_err(|e| TierError::io("create", &tmp_path, e))?;
        Ok(DiskWrite {
            file: tokio::io::BufWriter::with_capacity(WRITE_BUFFER, file),
            tmp_path,
        })
    }
}

/// An object being written to a temporary file; dropped without `finish`, it removes the file.
#[derive(Debug)]
pub struct DiskWrite {
    file: tokio::io::BufWriter<tokio::fs::File>,
    tmp_path: PathBuf,
}

impl DiskWrite {
    /// Appends body bytes.
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), TierError> {
        self.file
            .write_all(chunk)
            .await
            .map_err(|e| TierError::io("write", &self.tmp_path, e))
    }

    /// Writes the footer and syncs the file to disk; returns a file ready to be renamed into place.
    pub async fn finish(mut self, meta: &ObjectMeta) -> Result<SyncedFile, TierError> {
        let json = serde_json::to_vec(meta).map_err(|e| {
            TierError::io(
                "encode metadata for",
                &self.tmp_path,
                std::io::Error::other(e),
            )
        })?;
        let len = u32::try_from(json.len()).map_err(|_| {
            TierError::io(
                "encode metadata for",
                &self.tmp_path,
                std::io::Error::other("metadata too large"),
            )
        })?;
        let mut footer = json;
        footer.extend_from_slice(&len.to_le_bytes());
        footer.extend_from_slice(MAGIC);
        self.write(&footer).await?;
        self.file
            .flush()
            .await
            .map_err(|e| TierError::io("flush", &self.tmp_path, e))?;
        self.file
            .get_ref()
            .sync_all()
            .await
            .map_err(|e| TierError::io("sync", &self.tmp_path, e))?;
        let path = std::mem::take(&mut self.tmp_path);
        Ok(SyncedFile { tmp_path: path })
    }
}

impl Drop for DiskWrite {
    fn drop(&mut self) {
        if !self.tmp_path.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.tmp_path);
        }
    }
}

/// A complete, synced temporary file waiting to be published under its final name.
#[derive(Debug)]
pub struct SyncedFile {
    tmp_path: PathBuf,
}

impl SyncedFile {
    /// Renames the file into place. Fast (one rename), so the caller may hold its index lock around it.
    pub fn publish(mut self, path: &Path) -> Result<(), TierError> {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(|e| TierError::io("create", dir, e))?;
        }
        fs::rename(&self.tmp_path, path).map_err(|e| TierError::io("rename", &self.tmp_path, e))?;
        self.tmp_path = PathBuf::new();
        Ok(())
    }
}

impl Drop for SyncedFile {
    fn drop(&mut self) {
        if !self.tmp_path.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.tmp_path);
        }
    }
}

/// Reads and checks the footer of an object file.
fn read_footer(path: &Path) -> Result<ObjectMeta, String> {
    let mut file = fs::File::open(path).map_err(|e| e.to_string())?;
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    if len < TRAILER_LEN {
        return Err("shorter than its footer".into());
    }
    let mut trailer = [0u8; TRAILER_LEN as usize];
    file.seek(SeekFrom::Start(len - TRAILER_LEN))
        .and_then(|_| file.read_exact(&mut trailer))
        .map_err(|e| e.to_string())?;
    if &trailer[4..] != MAGIC {
        return Err("no end marker".into());
    }
    let meta_len = u64::from(u32::from_le_bytes([
        trailer[0], trailer[1], trailer[2], trailer[3],
    ]));
    if meta_len + TRAILER_LEN > len {
        return Err("metadata length past the start of the file".into());
    }
    let mut json = vec![0u8; meta_len as usize];
    file.seek(SeekFrom::Start(len - TRAILER_LEN - meta_len))
        .and_then(|_| file.read_exact(&mut json))
        .map_err(|e| e.to_string())?;
    let meta: ObjectMeta = serde_json::from_slice(&json).map_err(|e| e.to_string())?;
    if meta.size + meta_len + TRAILER_LEN != len {
        return Err(format!("body is not the {} bytes recorded", meta.size));
    }
    Ok(meta)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(key: &str, size: u64, seq: u64) -> ObjectMeta {
        ObjectMeta {
            key: key.into(),
            size,
            content_type: "video/mp2t".into(),
            etag: "\"x\"".into(),
            last_modified: 1,
            cache_control: None,
            metadata: vec![],
            seq,
            placement: crate::Placement::Durable,
            expires_at: None,
            complete: true,
        }
    }

    async fn put(tier: &DiskTier, key: &str, body: &[u8], seq: u64) -> PathBuf {
        let mut write = tier.begin(seq).await.unwrap();
        write.write(body).await.unwrap();
        let synced = write
            .finish(&meta(key, body.len() as u64, seq))
            .await
            .unwrap();
        let path = tier.path_for(key, seq);
        synced.publish(&path).unwrap();
        path
    }

    #[tokio::test]
    async fn recovery_keeps_the_newest_version_and_drops_torn_files() {
        let dir = tempfile::tempdir().unwrap();
        let (tier, found) = DiskTier::open(dir.path()).unwrap();
        assert!(found.is_empty());
        let old = put(&tier, "a/b.ts", b"old", 1).await;
        let new = put(&tier, "a/b.ts", b"newer", 2).await;
        let torn = tier.path_for("c.ts", 3);
        fs::create_dir_all(torn.parent().unwrap()).unwrap();
        fs::write(&torn, b"half a segment").unwrap();
        let abandoned = tier.begin(4).await.unwrap();
        std::mem::forget(abandoned);

        let (_, found) = DiskTier::open(dir.path()).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].meta.seq, 2);
        assert_eq!(found[0].path, new);
        assert!(!old.exists());
        assert!(!torn.exists());
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn two_writers_of_one_version_keep_their_own_files() {
        let dir = tempfile::tempdir().unwrap();
        let (tier, _) = DiskTier::open(dir.path()).unwrap();
        let mut first = tier.begin(7).await.unwrap();
        let mut second = tier.begin(7).await.unwrap();
        first.write(b"copy").await.unwrap();
        second.write(b"copy").await.unwrap();
        let first = first.finish(&meta("k.ts", 4, 7)).await.unwrap();
        let second = second.finish(&meta("k.ts", 4, 7)).await.unwrap();
        let path = tier.path_for("k.ts", 7);
        first.publish(&path).unwrap();
        second.publish(&path).unwrap();
        assert_eq!(read_footer(&path).unwrap().size, 4);
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn a_dropped_write_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let (tier, _) = DiskTier::open(dir.path()).unwrap();
        let mut write = tier.begin(9).await.unwrap();
        write.write(b"partial").await.unwrap();
        drop(write);
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }
}
