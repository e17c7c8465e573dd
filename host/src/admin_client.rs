//! A blocking client of a running origin's admin API, shared by the subcommands that drive it
//! (`strata guest`, `strata harvest`): which origin, which token, and one refusal format.

use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use reqwest::blocking::{Client, RequestBuilder};

/// Which origin to talk to.
#[derive(Debug, Clone, Args)]
pub struct Target {
    /// Base URL of the origin.
    #[arg(long, env = "STRATA_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// Admin bearer token.
    #[arg(long, env = "STRATA_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
}

/// An HTTP client bound to one origin's admin API.
pub struct AdminClient {
    http: Client,
    target: Target,
}

impl AdminClient {
    /// A client of `target` whose requests each give up after `timeout`.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(target: Target, timeout: Duration) -> anyhow::Result<Self> {
        let http = Client::builder()
            .timeout(timeout)
            .build()
            .context("cannot build the HTTP client")?;
        Ok(AdminClient { http, target })
    }

    /// The underlying client, to build requests with.
    pub fn http(&self) -> &Client {
        &self.http
    }

    /// The URL of admin route `route` (`guests`, `harvest/ID`).
    pub fn url(&self, route: &str) -> String {
        format!("{}/_strata/{route}", self.target.url.trim_end_matches('/'))
    }

    /// Sends `request` with the admin token; the body of a 2xx answer.
    ///
    /// # Errors
    /// When the origin cannot be reached or refuses; the message carries its status and one-line reason.
    pub fn send(&self, request: RequestBuilder) -> anyhow::Result<String> {
        let request = match &self.target.admin_token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        let response = request
            .send()
            .with_context(|| format!("cannot reach {}", self.target.url))?;
        let status = response.status();
        let body = response.text().unwrap_or_default();
        if !status.is_success() {
            bail!("{status}: {}", body.trim());
        }
        Ok(body)
    }
}
