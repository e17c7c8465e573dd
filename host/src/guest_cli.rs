//! `strata guest push|list|rollback`: a thin client of a running origin's admin API, so operators script
//! deployments without hand-written curl lines.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Subcommand;

use crate::admin_client::{AdminClient, Target};

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

/// Runs one subcommand, printing the API's answer on stdout.
///
/// # Errors
/// When the origin cannot be reached or refuses; the message carries its one-line reason.
pub fn run(command: GuestCommand) -> anyhow::Result<()> {
    let target = match &command {
        GuestCommand::Push { target, .. }
        | GuestCommand::List { target }
        | GuestCommand::Rollback { target, .. } => target.clone(),
    };
    let client = AdminClient::new(target, Duration::from_secs(300))?;
    let request = match command {
        GuestCommand::Push {
            name,
            file,
            namespace,
            ..
        } => {
            let wasm =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let mut url = client.url(&format!("guests/{name}"));
            if let Some(ns) = namespace {
                url.push_str(&format!("?namespace={ns}"));
            }
            client.http().put(url).body(wasm)
        }
        GuestCommand::List { .. } => client.http().get(client.url("guests")),
        GuestCommand::Rollback { name, .. } => client
            .http()
            .post(client.url(&format!("guests/{name}/rollback"))),
    };
    let body = client.send(request)?;
    println!("{}", body.trim_end());
    Ok(())
}
