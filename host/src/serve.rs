//! `strata serve`: open the tiers, compile the handler, listen.

use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::runtime::{DEFAULT_HANDLER, GuestLimits, Runtime};
use crate::state::AppState;
use crate::tiers::Tiers;

/// How often objects past their TTL are swept from both tiers (a read of one removes it at once anyway).
const EXPIRY_PERIOD: std::time::Duration = std::time::Duration::from_secs(1);

/// Runs the origin until SIGINT or SIGTERM.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let metrics = crate::metrics::install().context("cannot install the metrics recorder")?;
    let settings = config.tier_settings().context("invalid storage rules")?;
    let tiers = Tiers::open(&config.data_dir, settings)
        .with_context(|| format!("cannot open the data folder {}", config.data_dir.display()))?;
    let tiers = Arc::new(tiers);
    tiers.spawn_expiry(EXPIRY_PERIOD);
    let wasm = match &config.guest.handler {
        Some(path) => std::fs::read(path)
            .with_context(|| format!("cannot read handler {}", path.display()))?,
        None => DEFAULT_HANDLER.to_vec(),
    };
    let limits = GuestLimits {
        memory_bytes: config.guest.memory_bytes.as_u64(),
        deadline: config.guest_deadline(),
        max_read_bytes: config.guest.max_read_bytes.as_u64(),
    };
    let runtime =
        Runtime::new(&wasm, Arc::clone(&tiers), limits).context("cannot load the handler")?;
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let address = listener.local_addr().context("listener has no address")?;
    let state = Arc::new(AppState {
        config,
        tiers,
        runtime,
        metrics,
    });
    // Scripts and tests read this line to learn the port when listening on port 0.
    println!("strata listening on http://{address}");
    tracing::info!(%address, "serving");
    crate::http::run(listener, state, shutdown_signal()).await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}
