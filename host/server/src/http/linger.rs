//! Reading and discarding the rest of a request body before answering early (413, 400, 404 to a PUT), like
//! nginx's lingering close: a client still sending would otherwise hit a reset and never read the answer.

use std::time::Duration;

use bytes::Buf;
use http::{HeaderMap, Request, header};
use http_body_util::BodyExt;
use hyper::body::{Body, Incoming};

/// Most bytes discarded; past this the connection is closed and the client may miss the answer.
const MAX_DISCARD: u64 = 16 * 1024 * 1024;
/// Longest time spent discarding.
const MAX_WAIT: Duration = Duration::from_secs(2);

/// Discards the body of `request`, refused before it was read, unless its client waits for `100 Continue`
/// before sending it (`Expect: 100-continue`): reading would ask for the body only to throw it away, so it
/// is left unread, hyper sends no `100 Continue` and closes the connection after the answer.
pub async fn refused(request: Request<Incoming>) {
    if !expects_continue(request.headers()) {
        discard(request.into_body()).await;
    }
}

/// Whether the client sends its body only after a `100 Continue`.
fn expects_continue(headers: &HeaderMap) -> bool {
    headers
        .get(header::EXPECT)
        .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"100-continue"))
}

/// Discards what is left of `body`, within `MAX_DISCARD` bytes and `MAX_WAIT`.
pub async fn discard<B: Body + Unpin>(body: B) {
    if body.is_end_stream() {
        return;
    }
    // Boxed: most requests have no body left, and their futures should not carry this one's state.
    Box::pin(drain(body)).await;
}

async fn drain<B: Body + Unpin>(mut body: B) {
    let drain = async {
        let mut discarded = 0u64;
        while let Some(Ok(frame)) = body.frame().await {
            if let Some(data) = frame.data_ref() {
                crate::access_log::received(data.remaining() as u64);
                discarded += data.remaining() as u64;
                if discarded > MAX_DISCARD {
                    break;
                }
            }
        }
    };
    let _ = tokio::time::timeout(MAX_WAIT, drain).await;
}
