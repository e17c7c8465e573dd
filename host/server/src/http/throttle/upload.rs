//! A write's request body as the store path reads it, charged to the client's bytes bucket frame by frame
//! as it arrives when the write declared no length: an upload refused as too large, aborted or stalled
//! has still moved its bytes, and a bytes limit must see them.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};

use super::bucket::Buckets;
use super::lock;

/// Hyper's request body, with its bytes charged as they arrive when a limit counts them.
#[derive(Debug)]
pub struct UploadBody {
    inner: Incoming,
    meter: Option<Arc<Mutex<Buckets>>>,
}

impl UploadBody {
    /// `inner`, its bytes charged to `meter` when there is one.
    pub(super) fn new(inner: Incoming, meter: Option<Arc<Mutex<Buckets>>>) -> Self {
        UploadBody { inner, meter }
    }
}

impl Body for UploadBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let (Some(meter), Poll::Ready(Some(Ok(frame)))) = (&this.meter, &polled)
            && let Some(data) = frame.data_ref()
        {
            lock(meter).charge(data.len() as u64, Instant::now());
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
