//! The connection's socket, watched: every write the socket accepts, and the flush that follows writes, is
//! progress on the connection, and one it refuses marks answer bytes as waiting for the client
//! (`connection.rs`). Over TLS the flush is what tells: the TLS layer takes a write into its own buffer and
//! flushes that to the socket. hyper flushes whenever the connection wakes, even with nothing to send (a
//! byte arrived): such a flush is not progress, or a client trickling bytes would hold its connection. Without this the idle
//! watch could only see body frames hyper takes, not the bytes hyper still holds for a slow reader: a body
//! held in memory is one frame, so its last megabytes would look sent while the client was still reading.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::connection::Activity;

/// A connection's socket (plain or TLS) whose writes are counted on its [`Activity`].
pub struct WatchedSocket<I> {
    io: I,
    activity: Arc<Activity>,
    /// Bytes were written (or refused) since the last flush that completed.
    unflushed: bool,
}

impl<I> WatchedSocket<I> {
    /// Counts `io`'s writes on `activity`.
    pub fn new(io: I, activity: Arc<Activity>) -> Self {
        WatchedSocket {
            io,
            activity,
            unflushed: false,
        }
    }

    fn noted(&mut self, written: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
        match &written {
            Poll::Ready(Ok(bytes)) if *bytes > 0 => {
                self.unflushed = true;
                self.activity.wrote();
            }
            Poll::Pending => {
                self.unflushed = true;
                self.activity.write_refused();
            }
            Poll::Ready(_) => {}
        }
        written
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for WatchedSocket<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for WatchedSocket<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.io).poll_write(cx, buf);
        self.noted(written)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.noted(written)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let flushed = Pin::new(&mut self.io).poll_flush(cx);
        match &flushed {
            Poll::Ready(Ok(())) if self.unflushed => {
                self.unflushed = false;
                self.activity.wrote();
            }
            Poll::Pending => self.activity.write_refused(),
            Poll::Ready(_) => {}
        }
        flushed
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::http::connection::IdleLimits;

    const LIMITS: IdleLimits = IdleLimits {
        header: Duration::from_secs(10),
        idle: Duration::from_secs(60),
    };

    #[tokio::test]
    async fn written_bytes_are_progress_and_a_flush_with_nothing_written_is_not() {
        let activity = Activity::new(LIMITS);
        drop(activity.request(http::Version::HTTP_11));
        let before = activity.progress_made();
        let (server, mut client) = tokio::io::duplex(64);
        let mut socket = WatchedSocket::new(server, Arc::clone(&activity));
        socket.flush().await.expect("flush");
        assert_eq!(activity.progress_made(), before, "an empty flush");
        socket
            .write_all(b"HTTP/1.1 200 OK\r\n")
            .await
            .expect("write");
        socket.flush().await.expect("flush");
        let after_write = activity.progress_made();
        assert!(after_write > before, "a write");
        socket.flush().await.expect("flush");
        assert_eq!(
            activity.progress_made(),
            after_write,
            "a second, empty flush"
        );
        let mut received = [0u8; 17];
        client.read_exact(&mut received).await.expect("read");
    }

    #[tokio::test]
    async fn a_write_the_socket_refuses_marks_the_answer_waiting() {
        let activity = Activity::new(LIMITS);
        drop(activity.request(http::Version::HTTP_11));
        let (server, _client) = tokio::io::duplex(8);
        let mut socket = WatchedSocket::new(server, Arc::clone(&activity));
        let blocked =
            tokio::time::timeout(Duration::from_millis(50), socket.write_all(&[0u8; 64])).await;
        assert!(
            blocked.is_err(),
            "the client read nothing, so the write waits"
        );
        assert!(activity.answer_waiting());
    }

    #[tokio::test]
    async fn http2_writes_are_not_progress() {
        let activity = Activity::new(LIMITS);
        let (server, mut client) = tokio::io::duplex(64);
        let mut socket = WatchedSocket::new(server, Arc::clone(&activity));
        // The server's SETTINGS before any request, then a PING acknowledgement after one.
        socket.write_all(b"settings").await.expect("write");
        socket.flush().await.expect("flush");
        assert_eq!(activity.progress_made(), 0);
        drop(activity.request(http::Version::HTTP_2));
        let before = activity.progress_made();
        socket.write_all(b"ping ack").await.expect("write");
        socket.flush().await.expect("flush");
        assert_eq!(activity.progress_made(), before);
        let mut received = [0u8; 16];
        client.read_exact(&mut received).await.expect("read");
    }
}
