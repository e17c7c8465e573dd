//! The `strata` binary: parse the command line, set up logging, run. It assembles the crates (`serve`),
//! reads the configuration (`config`, `cli`), checks it without starting (`check_config`), says what it runs
//! (`version`) and drives a running origin's admin API (`admin_client`: `guest_cli`, `harvest_cli`).

use std::io::IsTerminal;
use std::process::ExitCode;

mod admin_client;
mod check_config;
mod cli;
mod config;
mod guest_cli;
mod harvest_cli;
mod serve;
mod version;

use clap::Parser;
use cli::{Cli, Command, LogFormat};

/// mimalloc, not glibc's allocator: a request allocates and frees small blocks on its connection thread
/// (header maps, the response future, its body), and mimalloc's per-thread free lists make those cheaper
/// (decision 0060).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let logs = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        );
    match cli.log_format {
        LogFormat::Json => logs.json().init(),
        LogFormat::Text => logs.with_ansi(std::io::stderr().is_terminal()).init(),
    }
    let result = match cli.command {
        Command::Serve(args) => match args.resolve() {
            Ok(config) => serve_then_close_the_access_log(config),
            Err(e) => Err(e.into()),
        },
        Command::Guest(command) => guest_cli::run(command),
        Command::Harvest(args) => harvest_cli::run(*args),
        Command::CheckConfig(args) => return check_config::run(&args.file),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("strata: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `strata serve` until stopped; then, once the runtime has dropped the requests still open (each logged as
/// it goes), waits for their access log lines to be written, at most [`serve::ACCESS_LOG_CLOSE`].
fn serve_then_close_the_access_log(config: config::Config) -> anyhow::Result<()> {
    let access_log = strata_server::access_log::AccessLog::start(&config.log)?;
    let closed = access_log.closed();
    let result = run(serve::serve(config, access_log));
    if !closed.wait(serve::ACCESS_LOG_CLOSE) {
        tracing::warn!("the access log was not finished in time; its last lines may be missing");
    }
    result
}

fn run(future: impl std::future::Future<Output = anyhow::Result<()>>) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(future)
}
