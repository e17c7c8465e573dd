//! Durable file writes, written once for the whole host: a file replaced whole (temporary file, sync,
//! rename, folder sync), so a crash leaves the old content or the new, never a torn file, and the rename
//! itself survives the crash. The disk tier's objects, the guest registry's records and versions, and the
//! compiled-artifact cache all write this way.

use std::io;
use std::path::{Path, PathBuf};

use super::TierError;

/// Writes `bytes` to `path` through a temporary file in the same folder, synced and renamed into place,
/// then syncs the folder so the rename is durable too.
///
/// # Errors
/// When the folder cannot be created, or the file written, synced or renamed.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut temp = tempfile::NamedTempFile::new_in(dir)?;
    io::Write::write_all(&mut temp, bytes)?;
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|e| e.error)?;
    std::fs::File::open(dir)?.sync_all()
}

/// Makes a rename or unlink in `path`'s folder durable.
///
/// # Errors
/// When the folder cannot be opened or synced.
pub async fn sync_parent(path: &Path) -> Result<(), TierError> {
    let Some(dir) = path.parent().map(Path::to_path_buf) else {
        return Ok(());
    };
    tokio::task::spawn_blocking(move || {
        std::fs::File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| TierError::io("sync", &dir, e))
    })
    .await
    .map_err(|e| TierError::io("sync", PathBuf::new(), io::Error::other(e)))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/record.json");
        write_atomically(&path, b"one").unwrap();
        write_atomically(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1
        );
    }
}
