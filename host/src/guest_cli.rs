//! `strata guest push|list|rollback`: a thin client of a running origin's admin API, so operators script
//! deployments without hand-written curl lines.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};

/// The guest subcommands.
#[derive(Debug, Subcommand)]
pub enum GuestCommand {
    /// Deploy a component (.wasm) as the next version of a guest.
    Push {
        /// Guest name, e.g. `origin` or a manifest plugin's name.
        name: String,
        /// The component file.
        file: PathBuf,
        /// Confine a handler to this key prefix, e.g. `tenant-a/`.
        #[arg(long)]
        namespace: Option<String>,
        #[command(flatten)]
        target: Target,
    },
    /// List the guests with their live and kept versions (JSON).
    List {
        #[command(flatten)]
        target: Target,
    },
    /// Make a guest's previous version live again.
    Rollback {
        /// Guest name.
        name: String,
        #[command(flatten)]
        target: Target,
    },
}

/// Which origin to talk to.
#[derive(Debug, Args)]
pub struct Target {
    /// Base URL of the origin.
    #[arg(long, env = "STRATA_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// Admin bearer token.
    #[arg(long, env = "STRATA_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
}

/// Runs one subcommand, printing the API's answer on stdout.
///
/// # Errors
/// When the origin cannot be reached or refuses; the message carries its one-line reason.
pub fn run(command: GuestCommand) -> anyhow::Result<()> {
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(300))
        .build()
        .context("cannot build the HTTP client")?;
    let (request, target) = match command {
        GuestCommand::Push {
            name,
            file,
            namespace,
            target,
        } => {
            let wasm =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let mut url = format!("{}/_strata/guests/{name}", target.url.trim_end_matches('/'));
            if let Some(ns) = namespace {
                url.push_str(&format!("?namespace={ns}"));
            }
            (client.put(url).body(wasm), target)
        }
        GuestCommand::List { target } => (
            client.get(format!(
                "{}/_strata/guests",
                target.url.trim_end_matches('/')
            )),
            target,
        ),
        GuestCommand::Rollback { name, target } => (
            client.post(format!(
                "{}/_strata/guests/{name}/rollback",
                target.url.trim_end_matches('/')
            )),
            target,
        ),
    };
    let request = match &target.admin_token {
        Some(token) => request.bearer_auth(token),
        None => request,
    };
    let response = request
        .send()
        .with_context(|| format!("cannot reach {}", target.url))?;
    let status = response.status();
    let body = response.text().unwrap_or_default();
    if !status.is_success() {
        bail!("{status}: {}", body.trim());
    }
    println!("{}", body.trim_end());
    Ok(())
}
