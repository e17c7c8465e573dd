//! The connection's socket, watched: every write or flush the socket accepts is progress on the connection,
//! and one it refuses marks answer bytes as waiting for the client (`connection.rs`). Over TLS the flush is
//! what tells: the TLS layer takes a write into its own buffer and flushes that to the socket. Without this the idle
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
}

impl<I> WatchedSocket<I> {
    /// Counts `io`'s writes on `activity`.
    pub fn new(io: I, activity: Arc<Activity>) -> Self {
        WatchedSocket { io, activity }
    }

    fn noted(&self, written: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
        match &written {
            Poll::Ready(Ok(bytes)) if *bytes > 0 => self.activity.wrote(),
            Poll::Pending => self.activity.write_refused(),
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
            Poll::Ready(Ok(())) => self.activity.wrote(),
            Poll::Pending => self.activity.write_refused(),
            Poll::Ready(Err(_)) => {}
        }
        flushed
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
