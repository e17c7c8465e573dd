//! Response bodies: whole (`Bytes` from memory or a guest), streamed from a file, or empty; and a body
//! that reports its progress as it is sent ([`Watched`]).

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::TryStreamExt;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::body::{Body, Frame, SizeHint};
use tokio::io::AsyncRead;
use tokio_util::io::ReaderStream;

/// The one body type every response uses.
pub type ResponseBody = BoxBody<Bytes, io::Error>;

/// Chunk size when streaming from disk: large enough for few syscalls, small enough to interleave clients.
const FILE_CHUNK: usize = 256 * 1024;

/// A body that is already in memory; `Bytes` is shared, never copied.
pub fn full(bytes: impl Into<Bytes>) -> ResponseBody {
    Full::new(bytes.into())
        .map_err(|never: Infallible| match never {})
        .boxed()
}

/// No body.
pub fn empty() -> ResponseBody {
    Empty::new()
        .map_err(|never: Infallible| match never {})
        .boxed()
}

/// A body streamed from a reader (a file positioned at the first byte, limited to the length to send).
pub fn stream(reader: impl AsyncRead + Send + Sync + 'static) -> ResponseBody {
    let frames = ReaderStream::with_capacity(reader, FILE_CHUNK).map_ok(Frame::data);
    BodyExt::boxed(StreamBody::new(frames))
}

/// A body of chunks produced as they become available (an object still being uploaded); an `Err` item
/// makes hyper abort the response, so the client sees a failed transfer rather than a short one.
pub fn chunks(
    stream: impl futures_util::Stream<Item = io::Result<Bytes>> + Send + Sync + 'static,
) -> ResponseBody {
    let logged = stream.inspect_err(|e| {
        tracing::warn!(error = %e, "a response body failed after its head was sent; the client sees a failed transfer");
    });
    BodyExt::boxed(StreamBody::new(logged.map_ok(Frame::data)))
}

/// A plain-text error with a one-line reason, never cached: the host's own failures.
pub fn error(status: StatusCode, reason: impl std::fmt::Display) -> Response<ResponseBody> {
    let mut response = Response::new(full(format!("{reason}\n")));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

/// What is told about a response body as it is sent: the connection's idle watch, the access log.
pub trait BodyWatch: Send + Sync + Unpin + 'static {
    /// A frame carrying `bytes` bytes of data (0 for trailers) went to the connection.
    fn sent(&self, bytes: usize);
    /// The body was dropped, after its end (`ended`) or before it (the client left, or the connection
    /// closed).
    fn finished(&self, ended: bool);
}

/// A response body (`B`, a [`ResponseBody`] unless one watch wraps another) that reports to `W` what it
/// sends and when it is done.
pub struct Watched<W: BodyWatch, B: Body = ResponseBody> {
    inner: B,
    watch: W,
    ended: bool,
}

impl<W: BodyWatch, B: Body> Watched<W, B> {
    /// Wraps `inner`, reporting to `watch`.
    pub fn new(inner: B, watch: W) -> Self {
        Watched {
            inner,
            watch,
            ended: false,
        }
    }
}

impl<W, B> Body for Watched<W, B>
where
    W: BodyWatch,
    B: Body<Data = Bytes, Error = io::Error> + Unpin,
{
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                self.watch.sent(frame.data_ref().map_or(0, Bytes::len));
            }
            Poll::Ready(None) => self.ended = true,
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<W: BodyWatch, B: Body> Drop for Watched<W, B> {
    fn drop(&mut self) {
        // hyper stops polling a body that says it has ended (an empty body, a whole one once yielded).
        let ended = self.ended || self.inner.is_end_stream();
        self.watch.finished(ended);
    }
}
