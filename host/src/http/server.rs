//! The listener: HTTP/1.1 and HTTP/2 on one socket, with graceful shutdown. In plain TCP, HTTP/2 is h2c
//! with prior knowledge; with TLS, ALPN negotiates `h2` or `http/1.1` and the same builder serves either.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::dispatch;
use crate::state::AppState;

/// Longest a client may take over its TLS handshake before its connection is dropped, so idle or
/// stalled handshakes do not hold sockets.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves connections from `listener` (through `tls` when set) until `shutdown` resolves, then lets open
/// requests finish.
pub async fn run(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()>,
) {
    let builder = auto::Builder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let state = Arc::clone(&state);
                let builder = builder.clone();
                let watcher = graceful.watcher();
                let Some(tls) = tls.clone() else {
                    tokio::spawn(async move { serve(&builder, watcher, stream, state, peer).await });
                    continue;
                };
                // Each handshake runs in its connection's task: a slow or failing client delays no other.
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(stream)).await {
                        Ok(Ok(stream)) => serve(&builder, watcher, stream, state, peer).await,
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    graceful.shutdown().await;
}

/// Serves HTTP/1.1 or HTTP/2 (told apart by the client's first bytes) on one connection until it ends.
async fn serve<I>(
    builder: &auto::Builder<TokioExecutor>,
    watcher: Watcher,
    io: I,
    state: Arc<AppState>,
    peer: SocketAddr,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |request| dispatch::handle(Arc::clone(&state), peer, request));
    let connection = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    if let Err(e) = watcher.watch(connection.into_owned()).await {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}
