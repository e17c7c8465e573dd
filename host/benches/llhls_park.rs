//! LL-HLS parking at scale: parks many blocking playlist reloads in a running `strata` (release build) and
//! reports the extra RSS they cost and how fast they are answered once the playlist PUT that satisfies them
//! completes. Two shapes: spread (10 requests per playlist over many renditions, the playlists updated one
//! after the other, as a fleet of live streams does) and herd (every request on one playlist, one PUT);
//! each over HTTP/2 (100 requests per connection, as LL-HLS players and CDNs connect) and over HTTP/1.1
//! (one connection per request).
//! The reference in the same run is a plain, non-blocking GET of the same playlist under the same load.
//!
//! Run with `bench/llhls_park.sh` (raises the file limit; `--quick` for short settings), which calls
//! `cargo bench -p strata --bench llhls_park`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// Playlist of one rendition whose newest part is `(msn, part)`: 1 s parts, and a 10 s target duration so
/// the 30 s hold outlasts parking 10,000 requests and a thousand durable PUTs on a small machine.
fn playlist(msn: u64, parts: u64) -> String {
    let mut text = String::from(
        "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:10\n\
         #EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=3.0\n\
         #EXT-X-PART-INF:PART-TARGET=1.0\n#EXT-X-MEDIA-SEQUENCE:0\n",
    );
    for s in 0..msn {
        for p in 0..4 {
            text.push_str(&format!("#EXT-X-PART:DURATION=1.0,URI=\"{s}.{p}.m4s\"\n"));
        }
        text.push_str(&format!("#EXTINF:4.0,\n{s}.m4s\n"));
    }
    for p in 0..parts {
        text.push_str(&format!("#EXT-X-PART:DURATION=1.0,URI=\"{msn}.{p}.m4s\"\n"));
    }
    text.push_str(&format!(
        "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"{msn}.{parts}.m4s\"\n"
    ));
    text
}

/// How parked requests reach the origin.
#[derive(Clone, Copy)]
enum Transport {
    /// HTTP/1.1, one connection per request.
    Http1,
    /// HTTP/2 with prior knowledge, [`STREAMS_PER_CONNECTION`] requests per connection: how LL-HLS players
    /// and CDNs connect.
    Http2,
}

/// Parked requests per HTTP/2 connection; hyper's default limit of concurrent streams is 200.
const STREAMS_PER_CONNECTION: usize = 100;

/// Concurrent requests of each warm-up burst: twice the default guest instance cap.
const WARM_CONCURRENCY: usize = 256;

struct Server {
    child: Child,
    base: String,
    _data: tempfile::TempDir,
}

impl Server {
    fn start() -> anyhow::Result<Server> {
        let binary = std::env::var("STRATA_BIN").unwrap_or_else(|_| {
            concat!(env!("CARGO_MANIFEST_DIR"), "/../target/release/strata").to_string()
        });
        let data = tempfile::tempdir()?;
        let mut child = Command::new(&binary)
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("start {binary} (build it with cargo build --release)"))?;
        let stdout = child.stdout.take().context("stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let Some(base) = line.trim().strip_prefix("strata listening on ") else {
            bail!("unexpected first line {line:?}");
        };
        Ok(Server {
            child,
            base: base.to_string(),
            _data: data,
        })
    }

    fn rss_kib(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .context("VmRSS")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One scenario's figures.
struct Figures {
    extra_rss_mib: f64,
    wake: Vec<Duration>,
    reference: Vec<Duration>,
}

async fn parked(client: &reqwest::Client, base: &str) -> anyhow::Result<u64> {
    let text = client
        .get(format!("{base}/_strata/metrics"))
        .send()
        .await?
        .text()
        .await?;
    Ok(text
        .lines()
        .find_map(|l| l.strip_prefix("strata_parked_requests "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .unwrap_or(0.0) as u64)
}

/// Parks `requests` blocking reloads spread over `playlists` playlists, then updates the playlists one
/// after the other and measures each request's answer against the end of its playlist's PUT.
async fn scenario(
    requests: usize,
    playlists: usize,
    transport: Transport,
) -> anyhow::Result<Figures> {
    let server = Server::start()?;
    let base = server.base.clone();
    let client = reqwest::Client::builder()
        .http1_only()
        .pool_max_idle_per_host(requests + 16)
        .timeout(Duration::from_secs(60))
        .build()?;
    // The clients the parked requests use: the HTTP/1.1 pool (a connection each), or one HTTP/2 client
    // (one connection) per STREAMS_PER_CONNECTION requests.
    let parking: Vec<reqwest::Client> = match transport {
        Transport::Http1 => vec![client.clone()],
        Transport::Http2 => (0..requests.div_ceil(STREAMS_PER_CONNECTION))
            .map(|_| {
                reqwest::Client::builder()
                    .http2_prior_knowledge()
                    .timeout(Duration::from_secs(60))
                    .build()
            })
            .collect::<Result<_, _>>()?,
    };
    for i in 0..playlists {
        client
            .put(format!("{base}/live/r{i}/index.m3u8"))
            .body(playlist(3, 1))
            .send()
            .await?
            .error_for_status()?;
    }
    // Warm the guest's whole instance pool (128 slots by default; a pool's RSS grows with every slot ever
    // used) with bursts of concurrent plain reloads, so the baseline holds it and the extra RSS is what the
    // parked requests themselves cost.
    for _ in 0..4 {
        let burst: Vec<_> = (0..WARM_CONCURRENCY)
            .map(|n| {
                let (client, base) = (client.clone(), base.clone());
                let i = n % playlists;
                tokio::spawn(async move {
                    client
                        .get(format!("{base}/live/r{i}/index.m3u8"))
                        .send()
                        .await?
                        .bytes()
                        .await
                })
            })
            .collect();
        for request in burst {
            request.await??;
        }
    }
    let baseline = server.rss_kib()?;
    let put_done: Arc<Vec<std::sync::OnceLock<Instant>>> =
        Arc::new((0..playlists).map(|_| std::sync::OnceLock::new()).collect());
    let mut waiters = Vec::with_capacity(requests);
    for r in 0..requests {
        let client = parking[(r / STREAMS_PER_CONNECTION) % parking.len()].clone();
        let (base, put_done) = (base.clone(), Arc::clone(&put_done));
        let i = r % playlists;
        waiters.push(tokio::spawn(async move {
            let url = format!("{base}/live/r{i}/index.m3u8?_HLS_msn=3&_HLS_part=1");
            let response = client.get(url).send().await?;
            let answered = Instant::now();
            let status = response.status();
            let body = response.bytes().await?;
            if !status.is_success() {
                bail!(
                    "blocking reload answered {status}: {}",
                    String::from_utf8_lossy(&body).trim()
                );
            }
            let put = put_done[i].get().copied().unwrap_or(answered);
            anyhow::Ok(answered.saturating_duration_since(put))
        }));
    }
    let started = Instant::now();
    while parked(&client, &base).await? < requests as u64 {
        if started.elapsed() > Duration::from_secs(60) {
            bail!(
                "only {} of {requests} requests parked",
                parked(&client, &base).await?
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let extra_rss_mib = server.rss_kib()?.saturating_sub(baseline) as f64 / 1024.0;
    // The reference: plain reloads of the same playlists while everything is parked.
    let mut reference = Vec::new();
    for i in 0..playlists.min(200) {
        let t = Instant::now();
        client
            .get(format!("{base}/live/r{i}/index.m3u8"))
            .send()
            .await?
            .bytes()
            .await?;
        reference.push(t.elapsed());
    }
    for (i, done) in put_done.iter().enumerate() {
        client
            .put(format!("{base}/live/r{i}/index.m3u8"))
            .body(playlist(3, 2))
            .send()
            .await?
            .error_for_status()?;
        let _ = done.set(Instant::now());
    }
    let mut wake = Vec::with_capacity(requests);
    for waiter in waiters {
        wake.push(waiter.await??);
    }
    Ok(Figures {
        extra_rss_mib,
        wake,
        reference,
    })
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() as f64 - 1.0) * p).round() as usize]
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() -> anyhow::Result<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    let (requests, runs) = if quick { (2_000, 1) } else { (10_000, 3) };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    println!("## LL-HLS parked blocking reloads: {requests} parked, {runs} run(s), medians");
    println!();
    println!(
        "| shape | extra RSS (MiB) | per request (KiB) | wake p50 (ms) | wake p99 (ms) | wake max (ms) | plain GET p99 (ms) | wake p99 / plain GET p99 |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (shape, playlists, transport) in [
        (
            "HTTP/2, spread: 10 per playlist",
            requests / 10,
            Transport::Http2,
        ),
        ("HTTP/2, herd: all on one playlist", 1, Transport::Http2),
        (
            "HTTP/1.1, spread: 10 per playlist",
            requests / 10,
            Transport::Http1,
        ),
        ("HTTP/1.1, herd: all on one playlist", 1, Transport::Http1),
    ] {
        let mut rows: Vec<[f64; 6]> = Vec::new();
        for _ in 0..runs {
            let mut f = rt.block_on(scenario(requests, playlists, transport))?;
            let reference_p99 = ms(percentile(&mut f.reference, 0.99));
            let p99 = ms(percentile(&mut f.wake, 0.99));
            rows.push([
                f.extra_rss_mib,
                ms(percentile(&mut f.wake, 0.5)),
                p99,
                ms(percentile(&mut f.wake, 1.0)),
                reference_p99,
                p99 / reference_p99.max(0.001),
            ]);
        }
        let col = |k: usize| median(rows.iter().map(|r| r[k]).collect());
        println!(
            "| {shape} | {:.1} | {:.1} | {:.2} | {:.2} | {:.2} | {:.2} | {:.1} |",
            col(0),
            col(0) * 1024.0 / requests as f64,
            col(1),
            col(2),
            col(3),
            col(4),
            col(5)
        );
    }
    Ok(())
}
