//! The listener: HTTP/1.1 and HTTP/2 on one socket, with deadlines on everything a client can hold and a
//! bounded graceful shutdown. In plain TCP, HTTP/2 is h2c with prior knowledge; with TLS, ALPN negotiates
//! `h2` or `http/1.1` and the same builder serves either.
//!
//! What a client can hold, and what bounds it: a connection slot (`http.max_connections`; past it new
//! connections wait in the kernel's backlog), a TLS handshake ([`HANDSHAKE_TIMEOUT`]), a request head
//! (`http.header_timeout_ms`, which for HTTP/1.1 also bounds a kept-alive connection between requests), an
//! idle or stalled connection, a reader that stopped reading (`http.idle_timeout_ms`, see `connection.rs`)
//! and, at shutdown, the drain
//! (`http.shutdown_grace_ms`).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;

use super::accept::Backoff;
use super::body::Watched;
use super::connection::{Activity, IdleLimits, Watchdog};
use super::dispatch;
use super::socket_watch::WatchedSocket;
use super::workers::{Job, Workers};
use crate::state::AppState;

/// Longest a client may take over its TLS handshake before its connection is dropped, so idle or
/// stalled handshakes do not hold sockets.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves connections from `listener` (through `tls` when set) until `shutdown` resolves, then drains:
/// connections close once their open requests finish, parked requests answer 503, and after
/// `http.shutdown_grace_ms` whatever is still open is dropped (an upload still arriving stores nothing).
/// Connections are served on connection threads, one per CPU (`workers.rs`).
///
/// # Errors
/// The operating system refused a connection thread.
pub async fn run(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let builder = builder();
    let max_connections = state.config.http.max_connections;
    let slots = Arc::new(Semaphore::new(max_connections as usize));
    let mut backoff = Backoff::default();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = Workers::start(threads)?;
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    backoff.failed(&e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        backoff.succeeded();
        let _ = stream.set_nodelay(true);
        match stream.into_std() {
            Ok(stream) => workers.hand(connection(stream, peer, slot, &builder, &tls, &state)),
            Err(e) => {
                tracing::debug!(%peer, error = %e, "cannot hand the connection to its thread")
            }
        }
    }
    drop(listener);
    state.drain.begin();
    let grace = state.config.http.shutdown_grace();
    tracing::info!(grace_ms = grace.as_millis() as u64, "draining");
    let drained = tokio::time::timeout(grace, slots.acquire_many(max_connections)).await;
    if drained.is_err() {
        let open = max_connections as usize - slots.available_permits();
        tracing::warn!(
            open,
            "connections still open at the end of the shutdown grace; their unfinished uploads are discarded"
        );
    }
    let _ = tokio::task::spawn_blocking(move || workers.stop()).await;
    Ok(())
}

/// The work of one accepted connection, for a connection thread: TLS handshake when `tls` is set, then
/// HTTP until the connection ends.
fn connection(
    stream: std::net::TcpStream,
    peer: SocketAddr,
    slot: OwnedSemaphorePermit,
    builder: &auto::Builder<TokioExecutor>,
    tls: &Option<TlsAcceptor>,
    state: &Arc<AppState>,
) -> Job {
    let (builder, tls, state) = (builder.clone(), tls.clone(), Arc::clone(state));
    Box::new(move || {
        Box::pin(async move {
            let stream = match TcpStream::from_std(stream) {
                Ok(stream) => stream,
                Err(e) => return tracing::debug!(%peer, error = %e, "cannot poll the connection"),
            };
            let Some(tls) = tls else {
                return serve(&builder, stream, state, peer, slot).await;
            };
            // Each handshake runs in its connection's task: a slow or failing client delays no other.
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(stream)).await {
                Ok(Ok(stream)) => serve(&builder, stream, state, peer, slot).await,
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        })
    })
}

/// The connection builder: HTTP/1.1 with half-closed clients answered (its head deadline is the idle
/// watch's), HTTP/2 with its timer.
fn builder() -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        // The connection's idle watch keeps the head deadline (`connection.rs`): hyper's own timer is armed
        // for every request head.
        .header_read_timeout(None)
        // A client (or TCP proxy) that shuts down its sending side after the request still gets its answer.
        .half_close(true);
    builder.http2().timer(TokioTimer::new());
    builder
}

/// Serves HTTP/1.1 or HTTP/2 (told apart by the client's first bytes) on one connection until it ends, it
/// goes idle, or the drain closes it; `slot` is its place under `http.max_connections`.
async fn serve<I>(
    builder: &auto::Builder<TokioExecutor>,
    io: I,
    state: Arc<AppState>,
    peer: SocketAddr,
    slot: OwnedSemaphorePermit,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Activity::new(IdleLimits {
        header: state.config.http.header_timeout(),
        idle: state.config.http.idle_timeout(),
    });
    let service = {
        let state = Arc::clone(&state);
        let activity = Arc::clone(&activity);
        service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
            let in_flight = activity.request(request.version());
            let activity = Arc::clone(&activity);
            // A combinator, not an `async` block: a block holding `answer` and awaiting it would store the
            // request's future twice, and hyper moves it on every request.
            dispatch::handle(Arc::clone(&state), peer, request).map(move |response| {
                drop(in_flight);
                response.map(|response| response.map(|body| Watched::new(body, activity.sending())))
            })
        })
    };
    let io = TokioIo::new(WatchedSocket::new(io, Arc::clone(&activity)));
    let connection = builder.serve_connection_with_upgrades(io, service);
    tokio::pin!(connection);
    let watchdog = {
        let state = Arc::clone(&state);
        Watchdog::start(
            Arc::clone(&activity),
            async move { state.drain.begun().await },
        )
    };
    let finished = tokio::select! {
        biased;
        ended = connection.as_mut() => Some(ended),
        () = watchdog.closing() => None,
    };
    let ended = match finished {
        Some(ended) => ended,
        None => {
            // HTTP/1.1 closes after the response in progress, HTTP/2 sends GOAWAY and lets its streams
            // finish; a connection that then makes no progress is dropped (a draining process exits at its
            // own deadline).
            tracing::debug!(%peer, "closing the connection gracefully");
            connection.as_mut().graceful_shutdown();
            let closing = activity.now();
            tokio::select! {
                ended = connection.as_mut() => ended,
                () = activity.until_stalled(closing) => {
                    tracing::debug!(%peer, "dropping a closing connection that made no progress");
                    Ok(())
                }
            }
        }
    };
    if let Err(e) = ended {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
    drop(slot);
}
