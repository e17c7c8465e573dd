//! `strata serve`: open the tiers (behind a cluster's shared store when `[cluster]` is set), start the
//! guest runtime over them, load the guests, listen. The one place the crates meet: the storage
//! (strata-tiers, or strata-cluster in front of them) is handed to the runtime as read access and to the
//! server as the whole storage trait.

use std::sync::Arc;

use anyhow::Context;
use strata_cluster::Cluster;
use strata_runtime::{Guests, PluginConfig, Runtime, StateWrites};
use strata_server::access_log::AccessLog;
use strata_server::auth::{CdnAuth, IngestAuth};
use strata_server::harvest::Harvests;
use strata_server::http::{Certificates, DecisionCache, Drain, Herds, Load, Throttle};
use strata_server::metrics::streams::Streams;
use strata_server::state::AppState;
use strata_tiers::{Storage, StorageRead, Tiers};
use tokio::net::TcpListener;

use crate::config::Config;

/// The default handler, built from `guest/origin` by `build.rs` and embedded so `strata serve` needs no file.
const DEFAULT_HANDLER: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/strata_guest_origin.wasm"));

/// How often objects past their TTL are swept from both tiers (a read of one removes it at once anyway).
const EXPIRY_PERIOD: std::time::Duration = std::time::Duration::from_secs(1);

/// Longest the process waits at exit for the access log's last lines (those of the requests dropped at the
/// end of the shutdown grace): bounded, for a disk that no longer answers.
pub const ACCESS_LOG_CLOSE: std::time::Duration = std::time::Duration::from_secs(5);

/// Runs the origin until SIGINT or SIGTERM, logging requests to `access_log` (started by the caller, which
/// waits for its last lines once the runtime is gone).
pub async fn serve(config: Config, access_log: AccessLog) -> anyhow::Result<()> {
    // Checked first: a certificate problem is reported before the slower work of opening tiers and guests.
    let certificates = config.tls.as_ref().map(Certificates::load).transpose()?;
    let tls = certificates
        .as_ref()
        .map(Certificates::acceptor)
        .transpose()?;
    tokio::spawn(reload_on_hangup(certificates, access_log.clone()));
    let metrics =
        strata_server::metrics::install().context("cannot install the metrics recorder")?;
    let settings = config.tier_settings().context("invalid storage rules")?;
    let tiers = Tiers::open(&config.data_dir, settings)
        .with_context(|| format!("cannot open the data folder {}", config.data_dir.display()))?;
    let tiers = Arc::new(tiers);
    tiers.spawn_expiry(EXPIRY_PERIOD);
    let storage: Arc<dyn Storage> = match &config.cluster {
        Some(cluster) => {
            let disk_budget = config.storage.disk_bytes.map(|b| b.as_u64());
            Cluster::join(cluster, Arc::clone(&tiers), disk_budget).await? as Arc<dyn Storage>
        }
        None => tiers as Arc<dyn Storage>,
    };
    let wasm = match &config.guest.handler {
        Some(path) => std::fs::read(path)
            .with_context(|| format!("cannot read handler {}", path.display()))?,
        None => DEFAULT_HANDLER.to_vec(),
    };
    let plugin_memory = config
        .plugins
        .values()
        .map(|p| p.memory_bytes.as_u64())
        .chain([PluginConfig::default().memory_bytes.as_u64()])
        .max()
        .unwrap_or_default();
    let runtime = Runtime::new(
        Arc::clone(&storage) as Arc<dyn StorageRead>,
        config.guest.limits(),
        plugin_memory,
        &config.data_dir.join("guest-cache"),
    )
    .context("cannot start the guest runtime")?
    .with_state_writes(StateWrites::new(Arc::clone(&storage)));
    let runtime = Arc::new(runtime);
    let started = std::time::Instant::now();
    let guests = Guests::open(
        Arc::clone(&runtime),
        &config.data_dir.join("guests"),
        &wasm,
        PluginConfig::default().limits(),
        config.guest.settings_with(&config.live)?,
    )
    .context("cannot load the deployed guests")?;
    tracing::info!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        compiled = runtime.compiles(),
        from_cache = runtime.cache_hits(),
        "guests loaded"
    );
    let guests = Arc::new(guests);
    if let Some(dir) = &config.guest.guests_dir {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the guests folder {}", dir.display()))?;
        tokio::spawn(strata_runtime::watch(Arc::clone(&guests), dir.clone()));
    }
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let address = listener.local_addr().context("listener has no address")?;
    warn_about_open_access(&config);
    let state = Arc::new(AppState {
        config: config.server(),
        storage,
        runtime,
        guests,
        ingest_auth: IngestAuth::new(&config.auth.ingest),
        cdn_auth: CdnAuth::new(&config.auth.cdn),
        throttle: Throttle::new(
            &config.limits,
            !config.auth.ingest.is_empty(),
            config.max_object_bytes.as_u64(),
        ),
        metrics,
        herds: Herds::default(),
        decisions: DecisionCache::new(config.guest.decision_cache_bytes.as_u64()),
        load: Load::new(config.guest.max_instances),
        drain: Drain::default(),
        harvests: Arc::new(Harvests::new(tokio::runtime::Handle::current())),
        access_log,
        streams: Streams::new(config.metrics.max_streams),
    });
    // Scripts and tests read this line to learn the port when listening on port 0.
    let scheme = if tls.is_some() { "https" } else { "http" };
    println!("strata listening on {scheme}://{address}");
    tracing::info!(%address, "serving");
    strata_server::http::run(listener, tls, state, shutdown_signal())
        .await
        .context("cannot start the connection threads")?;
    tracing::info!("stopped");
    Ok(())
}

/// Says at start what any local process (or a proxy on this machine) may do without credentials.
fn warn_about_open_access(config: &Config) {
    if config.admin.token.is_none() {
        tracing::warn!(
            "the admin API has no token: any client on this machine may deploy guests (proxied requests are \
             refused); set [admin] token or --admin-token"
        );
    }
    if config.auth.ingest.is_empty() {
        tracing::warn!(
            listen = %config.listen,
            "ingest has no credentials: any client that reaches the listener may PUT and DELETE objects; \
             add an [[auth.ingest]] rule"
        );
    }
}

/// On each SIGHUP, as operators signal a renewal or a rotation: reads the TLS certificate and key again (a
/// failed reload is logged and the previous certificate keeps serving) and reopens the access log file
/// (logrotate renamed it). A SIGHUP never stops the origin, so `systemctl reload` is always safe.
async fn reload_on_hangup(certificates: Option<Arc<Certificates>>, access_log: AccessLog) {
    let Ok(mut hangups) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
    else {
        tracing::warn!(
            "cannot listen for SIGHUP: TLS certificates reload and the access log reopens only on restart"
        );
        return;
    };
    while hangups.recv().await.is_some() {
        access_log.reopen();
        let Some(certificates) = &certificates else {
            tracing::info!("SIGHUP: access log reopened; no TLS certificate to reload");
            continue;
        };
        match certificates.reload() {
            Ok(()) => tracing::info!("SIGHUP: TLS certificate reloaded, access log reopened"),
            Err(e) => {
                tracing::warn!(error = %e, "TLS certificate reload failed; the previous one keeps serving")
            }
        }
    }
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
