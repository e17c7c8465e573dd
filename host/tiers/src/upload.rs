//! Objects readable while being written: an upload publishes each chunk through a `watch` channel, so a
//! reader streams what has arrived and follows the writer to the end. An aborted upload ends every reader's
//! body with an error, so HTTP clients see a failed transfer, never a short success.
//!
//! Chunks are kept in memory (as the `Bytes` hyper handed over, no copy) for the upload's lifetime and freed
//! when the last reader finishes; they count against the upload memory budget (`upload_memory.rs`) until
//! then.

use std::io;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::Stream;
use tokio::sync::watch;

use super::meta::ObjectMeta;
use super::upload_memory::Held;

/// How an upload ended, if it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Open,
    Complete,
    Aborted,
}

#[derive(Debug)]
struct Progress {
    chunks: Vec<Bytes>,
    len: u64,
    end: End,
    /// The chunks' bytes on the upload memory account.
    held: Held,
}

/// An upload in progress, shared by its writer and its readers.
#[derive(Debug)]
pub struct Upload {
    /// Provisional metadata: `complete` is false, the entity tag names the upload, not the content.
    meta: ObjectMeta,
    progress: watch::Sender<Progress>,
}

impl Upload {
    /// A new, empty upload described by `meta`, whose chunks count on `held`.
    pub fn new(meta: ObjectMeta, held: Held) -> Arc<Self> {
        let (progress, _) = watch::channel(Progress {
            chunks: Vec::new(),
            len: 0,
            end: End::Open,
            held,
        });
        Arc::new(Upload { meta, progress })
    }

    /// The commit sequence of the version being uploaded.
    pub fn seq(&self) -> u64 {
        self.meta.seq
    }

    /// The metadata readers see: the provisional one, with the bytes received so far as its size.
    pub fn meta(&self) -> ObjectMeta {
        let mut meta = self.meta.clone();
        meta.size = self.progress.borrow().len;
        meta
    }

    /// Publishes a chunk to readers.
    pub fn push(&self, chunk: Bytes) {
        self.progress.send_modify(|p| {
            p.len += chunk.len() as u64;
            p.held.add(chunk.len() as u64);
            p.chunks.push(chunk);
        });
    }

    /// Marks the upload complete: readers end their bodies normally. Its chunks leave the upload memory
    /// account: the upload is no longer in progress, and what readers still hold is theirs.
    pub fn complete(&self) {
        self.progress.send_modify(|p| {
            p.end = End::Complete;
            p.held.release();
        });
    }

    /// Marks the upload aborted (unless it completed): readers end their bodies with an error, and its
    /// chunks leave the upload memory account.
    pub fn abort(&self) {
        self.progress.send_if_modified(|p| {
            let open = p.end == End::Open;
            if open {
                p.end = End::Aborted;
                p.held.release();
            }
            open
        });
    }

    /// A body of bytes `first..end` (to the upload's end if `end` is `None`), delivered as they arrive.
    pub fn reader(
        &self,
        first: u64,
        end: Option<u64>,
    ) -> impl Stream<Item = io::Result<Bytes>> + use<> {
        let reader = Reader {
            progress: self.progress.subscribe(),
            next_chunk: 0,
            offset: 0,
            first,
            end,
        };
        futures_util::stream::unfold(Some(reader), |reader| async move {
            let mut reader = reader?;
            match reader.next().await {
                Some(Ok(bytes)) => Some((Ok(bytes), Some(reader))),
                Some(Err(e)) => Some((Err(e), None)),
                None => None,
            }
        })
    }
}

/// A reader's position in an upload.
struct Reader {
    progress: watch::Receiver<Progress>,
    next_chunk: usize,
    /// Offset of `next_chunk` in the object.
    offset: u64,
    first: u64,
    end: Option<u64>,
}

enum Step {
    Chunk(Bytes),
    Wait,
    Done(u64),
    Aborted,
}

impl Reader {
    async fn next(&mut self) -> Option<io::Result<Bytes>> {
        loop {
            if self.end.is_some_and(|end| self.offset >= end) {
                return None;
            }
            let step = {
                let progress = self.progress.borrow_and_update();
                match progress.chunks.get(self.next_chunk) {
                    Some(chunk) => Step::Chunk(chunk.clone()),
                    None => match progress.end {
                        End::Open => Step::Wait,
                        End::Complete => Step::Done(progress.len),
                        End::Aborted => Step::Aborted,
                    },
                }
            };
            match step {
                Step::Chunk(chunk) => {
                    let start = self.offset;
                    self.offset += chunk.len() as u64;
                    self.next_chunk += 1;
                    let from = self.first.max(start);
                    let to = self.end.map_or(self.offset, |end| end.min(self.offset));
                    if from < to {
                        return Some(Ok(
                            chunk.slice((from - start) as usize..(to - start) as usize)
                        ));
                    }
                }
                Step::Wait => {
                    if self.progress.changed().await.is_err() {
                        return Some(Err(aborted()));
                    }
                }
                Step::Done(len) => {
                    let wanted = self.end.unwrap_or(len).max(self.first);
                    return (len < wanted).then(|| {
                        Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            format!("the object ended at {len} bytes, before the range asked for"),
                        ))
                    });
                }
                Step::Aborted => return Some(Err(aborted())),
            }
        }
    }
}

fn aborted() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, "the upload was aborted")
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;

    use super::*;
    use crate::placement::Placement;
    use crate::upload_memory::UploadMemory;

    fn upload() -> Arc<Upload> {
        upload_on(&UploadMemory::new(1 << 20))
    }

    fn upload_on(memory: &Arc<UploadMemory>) -> Arc<Upload> {
        Upload::new(
            ObjectMeta {
                key: "live/part1.m4s".into(),
                size: 0,
                content_type: "video/iso.segment".into(),
                etag: "\"upload-1\"".into(),
                last_modified: 0,
                cache_control: None,
                metadata: vec![],
                seq: 1,
                placement: Placement::Memory,
                expires_at: None,
                complete: false,
            },
            memory.hold(),
        )
    }

    #[tokio::test]
    async fn chunks_count_on_the_upload_memory_while_the_upload_is_in_progress() {
        let memory = UploadMemory::new(1 << 20);
        let up = upload_on(&memory);
        up.push(Bytes::from_static(b"0123"));
        let reader = up.reader(0, None);
        assert_eq!(memory.used(), 4);
        up.complete();
        // A reader that has not read yet still gets every byte, but no longer holds ingest's budget.
        assert_eq!(memory.used(), 0);
        drop(up);
        assert_eq!(collect(reader).await.unwrap(), b"0123");
        let aborted = upload_on(&memory);
        aborted.push(Bytes::from_static(b"0123"));
        aborted.abort();
        assert_eq!(memory.used(), 0);
    }

    async fn collect(stream: impl Stream<Item = io::Result<Bytes>>) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut stream = std::pin::pin!(stream);
        while let Some(chunk) = stream.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(out)
    }

    #[tokio::test]
    async fn readers_follow_the_writer_to_the_end() {
        let up = upload();
        up.push(Bytes::from_static(b"0123"));
        let whole = tokio::spawn(collect(up.reader(0, None)));
        let range = tokio::spawn(collect(up.reader(2, Some(7))));
        tokio::task::yield_now().await;
        up.push(Bytes::from_static(b"4567"));
        up.push(Bytes::from_static(b"89"));
        assert_eq!(up.meta().size, 10);
        up.complete();
        assert_eq!(whole.await.unwrap().unwrap(), b"0123456789");
        assert_eq!(range.await.unwrap().unwrap(), b"23456");
    }

    #[tokio::test]
    async fn an_abort_fails_every_reader() {
        let up = upload();
        up.push(Bytes::from_static(b"0123"));
        let reader = tokio::spawn(collect(up.reader(0, None)));
        tokio::task::yield_now().await;
        up.abort();
        let error = reader.await.unwrap().unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::ConnectionAborted);
        // A writer that vanishes without a word is an abort too.
        let up = upload();
        let reader = tokio::spawn(collect(up.reader(0, None)));
        drop(up);
        assert!(reader.await.unwrap().is_err());
    }

    #[tokio::test]
    async fn a_range_past_the_final_size_is_an_error() {
        let up = upload();
        up.push(Bytes::from_static(b"0123"));
        up.complete();
        assert!(collect(up.reader(2, Some(10))).await.is_err());
        assert_eq!(collect(up.reader(2, Some(4))).await.unwrap(), b"23");
    }
}
