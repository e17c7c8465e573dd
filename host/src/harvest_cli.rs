//! `strata harvest`: cut a live-to-VOD clip through a running origin's admin API (`POST /_strata/harvest`)
//! and, unless told not to, follow the job until the clip is written or the job fails.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use serde_json::{Value, json};

use crate::admin_client::{AdminClient, Target};

/// How often a followed job is asked for its report.
const POLL_EVERY: Duration = Duration::from_millis(500);

/// Longest `--wait-seconds`: a year, far past any job, and a deadline the clock can always represent.
const MAX_WAIT_SECONDS: u64 = 365 * 24 * 3600;

/// Arguments of `strata harvest`.
#[derive(Debug, Args)]
pub struct HarvestArgs {
    /// The source playlist (media or multivariant), e.g. `live/ch1/index.m3u8`.
    #[arg(long, required_unless_present = "job", conflicts_with = "job")]
    pub source: Option<String>,
    /// Start of the window: RFC 3339 (`2026-12-02T00:10:00Z`) or epoch seconds.
    #[arg(long, required_unless_present = "job", allow_hyphen_values = true)]
    pub start: Option<String>,
    /// End of the window, in the same forms.
    #[arg(long, required_unless_present = "job", allow_hyphen_values = true)]
    pub end: Option<String>,
    /// Destination folder for the clip, e.g. `vod/clip1/`.
    #[arg(long, required_unless_present = "job")]
    pub destination: Option<String>,
    /// Print the queued job and return instead of following it.
    #[arg(long)]
    pub no_wait: bool,
    /// Longest to follow the job, in seconds (at most a year).
    #[arg(long, default_value_t = 900, value_parser = clap::value_parser!(u64).range(..=MAX_WAIT_SECONDS))]
    pub wait_seconds: u64,
    /// Report on an earlier job by its id instead of starting one.
    #[arg(long)]
    pub job: Option<String>,
    #[command(flatten)]
    pub target: Target,
}

/// Runs `strata harvest`, printing the job's report (JSON) on stdout.
///
/// # Errors
/// When the origin cannot be reached or refuses, the job fails (with its reason), or it is still going
/// after `--wait-seconds`.
pub fn run(args: HarvestArgs) -> anyhow::Result<()> {
    let client = AdminClient::new(args.target.clone(), Duration::from_secs(60))?;
    if let Some(id) = &args.job {
        job_id(id)?;
        let body = client.send(client.http().get(client.url(&format!("harvest/{id}"))))?;
        println!("{}", body.trim_end());
        return Ok(());
    }
    let body = json!({
        "source": args.source,
        "start": time(args.start.as_deref().unwrap_or_default()),
        "end": time(args.end.as_deref().unwrap_or_default()),
        "destination": args.destination,
    });
    let request = client
        .http()
        .post(client.url("harvest"))
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body.to_string());
    let accepted = client.send(request)?;
    if args.no_wait {
        println!("{}", accepted.trim_end());
        return Ok(());
    }
    let id = report(&accepted)?["id"]
        .as_str()
        .context("the origin's answer has no job id")?
        .to_owned();
    let deadline = Instant::now() + Duration::from_secs(args.wait_seconds);
    loop {
        let body = client.send(client.http().get(client.url(&format!("harvest/{id}"))))?;
        let report = report(&body)?;
        match report["state"].as_str() {
            Some("done") => {
                println!("{}", body.trim_end());
                return Ok(());
            }
            Some("failed") => bail!(
                "harvest {id} failed: {}",
                report["reason"].as_str().unwrap_or("no reason given")
            ),
            state if Instant::now() >= deadline => bail!(
                "harvest {id} is still {} after {} s; follow it with `strata harvest --job {id}`",
                state.unwrap_or("unknown"),
                args.wait_seconds
            ),
            _ => std::thread::sleep(POLL_EVERY),
        }
    }
}

/// Checks that `id` looks like a job id (hex, as `POST /_strata/harvest` answers it), so that `--job
/// ../guests` or `--job 'a?b'` cannot turn into a request for another admin route.
///
/// # Errors
/// When `id` is empty or holds anything but hex digits.
fn job_id(id: &str) -> anyhow::Result<()> {
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!(
            "--job {id:?} is not a harvest job id: the id is the hex string the origin answered, e.g. 3f2a…"
        );
    }
    Ok(())
}

/// A time as the API takes it: epoch seconds as a number, anything else as the string given.
fn time(text: &str) -> Value {
    match text.trim().parse::<f64>() {
        Ok(seconds) if seconds.is_finite() => json!(seconds),
        _ => json!(text),
    }
}

fn report(body: &str) -> anyhow::Result<Value> {
    serde_json::from_str(body).with_context(|| format!("the origin's answer is not JSON: {body}"))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{HarvestArgs, job_id, time};

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: HarvestArgs,
    }

    #[test]
    fn a_wait_past_what_the_clock_holds_is_refused() {
        let parse =
            |wait: &str| Cli::try_parse_from(["strata", "--job", "ab", "--wait-seconds", wait]);
        assert_eq!(
            parse("31536000").map(|c| c.args.wait_seconds).ok(),
            Some(31_536_000)
        );
        let e = parse("18446744073709551615")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("--wait-seconds"), "{e}");
    }

    #[test]
    fn a_job_id_cannot_name_another_route() {
        assert!(job_id("0123456789abcdef0123456789ABCDEF").is_ok());
        for id in ["", "../guests", "..", "%2e%2e", "a?b", "a/b", "a b"] {
            let e = job_id(id).unwrap_err().to_string();
            assert!(e.contains("is not a harvest job id"), "{id}: {e}");
        }
    }

    #[test]
    fn epoch_seconds_are_numbers_and_dates_strings() {
        assert_eq!(time("1764634200"), serde_json::json!(1764634200.0));
        assert_eq!(time("1764634200.5"), serde_json::json!(1764634200.5));
        assert_eq!(
            time("2026-12-02T00:10:00Z"),
            serde_json::json!("2026-12-02T00:10:00Z")
        );
    }
}
