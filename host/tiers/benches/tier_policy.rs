//! Hit ratio and read latency of the memory tier's policy (`clock-pro`, the default) against plain LRU with
//! the same byte budget, on one deterministic request sequence driven through the real `Tiers`.
//!
//! Mixed workload: a VOD catalogue on disk (`vod/**`, placement `disk`, segments of 256 KiB-1 MiB, several
//! times the memory budget) read with Zipf popularity, mixed with a live working set (`live/**`, placement
//! `memory`): a few renditions whose newest segments and playlists are written every period and read by
//! viewers at the live edge. A read is `Tiers::read_small` of the whole object (open + read); hits are the
//! tiers' own `memory_hits` counter. A live object evicted is lost (memory-only) and counted as such.
//!
//! Scan: the whole catalogue (10x the budget) read once, `SCAN_PER_HOT` segments per read of a hot set of
//! `budget / 8` bytes that was read three times before; prints the hot set's hit ratio during the scan.
//!
//! Each round opens fresh tiers (empty memory) on the same files for each policy, in alternating order;
//! the tables give medians over rounds. Environment knobs: `STRATA_BENCH_SEGMENTS` (2000),
//! `STRATA_BENCH_MEMORY_MIB` (256), `STRATA_BENCH_REQUESTS` (20000), `STRATA_BENCH_ROUNDS` (3),
//! `STRATA_BENCH_ZIPF` (0.9, the exponent), `STRATA_BENCH_LIVE_SHARE` (0.3, the fraction of live reads).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt, stream};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Zipf};
use strata_tiers::{MemoryPolicy, NewObject, ReadError, Rules, StorageConfig, TierSettings, Tiers};

/// Placement of the three families of keys.
const RULES: &str = r#"
[[rules]]
pattern = "live/**"
placement = "memory"
[[rules]]
pattern = "vod/**"
placement = "disk"
[[rules]]
pattern = "hot/**"
placement = "disk"
"#;

/// Live renditions and the size of their segments (0.5 to 4 Mb/s for 2 s).
const RENDITIONS: [usize; 4] = [128 << 10, 256 << 10, 512 << 10, 1 << 20];
/// Segments listed by a live playlist; older ones are deleted, as `-hls_flags delete_segments` does.
const LIVE_WINDOW: u64 = 6;
/// Requests between two live segments (of every rendition).
const LIVE_PERIOD: usize = 200;
/// Share of the requests run before measuring, to fill the memory tier.
const WARM_UP: f64 = 0.2;
/// Catalogue segments read per hot-set read during the scan.
const SCAN_PER_HOT: usize = 4;
/// Size of a hot-set object in the scan scenario.
const HOT_SIZE: usize = 256 << 10;
/// No size limit on writes and reads.
const UNLIMITED: u64 = u64::MAX;

const POLICIES: [(MemoryPolicy, &str); 2] = [
    (MemoryPolicy::ClockPro, "clock-pro"),
    (MemoryPolicy::Lru, "lru"),
];

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn settings(memory_bytes: u64, memory_policy: MemoryPolicy) -> anyhow::Result<TierSettings> {
    let config: StorageConfig = toml::from_str(RULES)?;
    Ok(TierSettings {
        memory_bytes,
        rules: Rules::compile(&config)?,
        memory_policy,
        ..TierSettings::default()
    })
}

async fn put(tiers: &Arc<Tiers>, key: &str, body: Bytes) -> anyhow::Result<()> {
    let mut writer = tiers.writer(key, NewObject::default(), UNLIMITED).await?;
    writer.write(body).await?;
    writer.commit().await?;
    Ok(())
}

/// One request of the sequence.
#[derive(Debug, Clone)]
enum Step {
    /// Read a catalogue segment.
    Vod(usize),
    /// Read a live object.
    Live(String),
    /// The encoders publish segment `n` of every rendition.
    Publish(u64),
}

/// The request sequence: identical for both policies.
fn workload(
    segments: usize,
    requests: usize,
    zipf: f64,
    live_share: f64,
) -> anyhow::Result<Vec<Step>> {
    let mut rng = StdRng::seed_from_u64(0x5742_4154);
    let popularity = Zipf::new(segments as f64, zipf)?;
    // Popularity rank -> segment, so the popular segments are scattered through the catalogue.
    let mut by_rank: Vec<usize> = (0..segments).collect();
    for i in (1..segments).rev() {
        by_rank.swap(i, rng.random_range(0..=i));
    }
    let mut steps = Vec::with_capacity(requests + requests / LIVE_PERIOD + 1);
    let mut newest = 0;
    steps.push(Step::Publish(newest));
    for i in 0..requests {
        if i > 0 && i % LIVE_PERIOD == 0 {
            newest += 1;
            steps.push(Step::Publish(newest));
        }
        if rng.random_bool(live_share) {
            let rendition = rng.random_range(0..RENDITIONS.len());
            let behind = match rng.random_range(0..10) {
                0..5 => None,
                5..8 => Some(0),
                8 => Some(1),
                _ => Some(2),
            };
            let key = match behind {
                None => format!("live/{rendition}/index.m3u8"),
                Some(back) => format!("live/{rendition}/seg{}.m4s", newest.saturating_sub(back)),
            };
            steps.push(Step::Live(key));
        } else {
            let rank = popularity.sample(&mut rng) as usize;
            steps.push(Step::Vod(by_rank[rank.clamp(1, segments) - 1]));
        }
    }
    Ok(steps)
}

fn vod_key(i: usize) -> String {
    format!("vod/title{}/seg{i}.m4s", i % 40)
}

/// Writes the catalogue and the hot set (in parallel: the fixture is not what is measured).
fn write_fixture(dir: &Path, segments: usize, hot: usize) -> anyhow::Result<u64> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let tiers = Arc::new(Tiers::open(dir, settings(0, MemoryPolicy::ClockPro)?)?);
        let mut rng = StdRng::seed_from_u64(7);
        let mut objects: Vec<(String, usize)> = (0..segments)
            .map(|i| (vod_key(i), rng.random_range((256 << 10)..=(1 << 20))))
            .collect();
        objects.extend((0..hot).map(|i| (format!("hot/{i}.m4s"), HOT_SIZE)));
        let total: usize = objects.iter().map(|(_, size)| size).sum();
        stream::iter(objects)
            .map(|(key, size)| {
                let tiers = Arc::clone(&tiers);
                async move { put(&tiers, &key, Bytes::from(vec![key.len() as u8; size])).await }
            })
            .buffer_unordered(8)
            .try_collect::<()>()
            .await?;
        anyhow::Ok(total as u64)
    })
}

/// What one run of the workload measured.
#[derive(Debug, Default, Clone, Copy)]
struct Run {
    hit_ratio: f64,
    live_hit_ratio: f64,
    vod_hit_ratio: f64,
    p50: Duration,
    p99: Duration,
    live_lost: u64,
}

/// Reads `key` whole; returns whether memory served it, or `None` if the object is gone.
async fn read(
    tiers: &Tiers,
    key: &str,
    latencies: &mut Vec<Duration>,
) -> anyhow::Result<Option<bool>> {
    let hits = tiers.stats().memory_hits;
    let started = Instant::now();
    let result = tiers.read_small(key, UNLIMITED).await;
    latencies.push(started.elapsed());
    match result {
        Ok(_) => Ok(Some(tiers.stats().memory_hits > hits)),
        Err(ReadError::NotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn playlist(newest: u64) -> Bytes {
    let mut text = format!(
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:{}\n",
        newest.saturating_sub(LIVE_WINDOW - 1)
    );
    for n in newest.saturating_sub(LIVE_WINDOW - 1)..=newest {
        text.push_str(&format!("#EXTINF:2.000,\nseg{n}.m4s\n"));
    }
    Bytes::from(text)
}

async fn run_mixed(
    dir: &Path,
    budget: u64,
    policy: MemoryPolicy,
    steps: &[Step],
) -> anyhow::Result<Run> {
    let tiers = Arc::new(Tiers::open(dir, settings(budget, policy)?)?);
    let warm_up = (steps.len() as f64 * WARM_UP) as usize;
    let mut latencies = Vec::with_capacity(steps.len());
    let (mut live, mut live_hits, mut vod, mut vod_hits, mut lost) = (0u64, 0u64, 0u64, 0u64, 0u64);
    for (i, step) in steps.iter().enumerate() {
        let measured = i >= warm_up;
        let mut ignored = Vec::new();
        let sink = if measured {
            &mut latencies
        } else {
            &mut ignored
        };
        match step {
            Step::Publish(n) => {
                for (rendition, &size) in RENDITIONS.iter().enumerate() {
                    let segment = Bytes::from(vec![*n as u8; size]);
                    put(&tiers, &format!("live/{rendition}/seg{n}.m4s"), segment).await?;
                    put(
                        &tiers,
                        &format!("live/{rendition}/index.m3u8"),
                        playlist(*n),
                    )
                    .await?;
                    if let Some(old) = n.checked_sub(LIVE_WINDOW) {
                        tiers
                            .delete(&format!("live/{rendition}/seg{old}.m4s"))
                            .await?;
                    }
                }
            }
            Step::Live(key) => {
                let hit = read(&tiers, key, sink).await?;
                if measured {
                    live += 1;
                    match hit {
                        Some(true) => live_hits += 1,
                        Some(false) => {}
                        None => lost += 1,
                    }
                }
            }
            Step::Vod(segment) => {
                let hit = read(&tiers, &vod_key(*segment), sink).await?;
                if measured {
                    vod += 1;
                    vod_hits += u64::from(hit == Some(true));
                }
            }
        }
    }
    latencies.sort();
    let ratio = |hits: u64, of: u64| hits as f64 / of.max(1) as f64;
    Ok(Run {
        hit_ratio: ratio(live_hits + vod_hits, live + vod),
        live_hit_ratio: ratio(live_hits, live),
        vod_hit_ratio: ratio(vod_hits, vod),
        p50: latencies[latencies.len() / 2],
        p99: latencies[latencies.len() * 99 / 100],
        live_lost: lost,
    })
}

/// The hot set's hit ratio while the catalogue is read once.
async fn run_scan(
    dir: &Path,
    budget: u64,
    policy: MemoryPolicy,
    segments: usize,
    hot: usize,
) -> anyhow::Result<f64> {
    let tiers = Arc::new(Tiers::open(dir, settings(budget, policy)?)?);
    let mut ignored = Vec::new();
    for _ in 0..3 {
        for i in 0..hot {
            read(&tiers, &format!("hot/{i}.m4s"), &mut ignored).await?;
        }
    }
    let (mut reads, mut hits) = (0u64, 0u64);
    for (n, segment) in (0..segments).enumerate() {
        read(&tiers, &vod_key(segment), &mut ignored).await?;
        if n % SCAN_PER_HOT == 0 {
            let key = format!("hot/{}.m4s", (n / SCAN_PER_HOT) % hot);
            reads += 1;
            hits += u64::from(read(&tiers, &key, &mut ignored).await? == Some(true));
        }
    }
    Ok(hits as f64 / reads.max(1) as f64)
}

fn median<T: Copy>(mut values: Vec<T>, by: impl Fn(&T) -> f64) -> T {
    values.sort_by(|a, b| by(a).total_cmp(&by(b)));
    values[values.len() / 2]
}

fn micros(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

fn main() -> anyhow::Result<()> {
    let segments: usize = env("STRATA_BENCH_SEGMENTS", 2000);
    let budget: u64 = env::<u64>("STRATA_BENCH_MEMORY_MIB", 256) << 20;
    let requests: usize = env("STRATA_BENCH_REQUESTS", 20_000);
    let rounds: usize = env("STRATA_BENCH_ROUNDS", 3).max(1);
    let zipf: f64 = env("STRATA_BENCH_ZIPF", 0.9);
    let live_share: f64 = env("STRATA_BENCH_LIVE_SHARE", 0.3);

    let dir = tempfile::tempdir()?;
    let started = Instant::now();
    // The scan's budget is a tenth of the catalogue; its hot set an eighth of that budget.
    let expected_catalogue = segments as u64 * (640 << 10);
    let hot = ((expected_catalogue / 10 / 8) as usize / HOT_SIZE).max(1);
    let catalogue = write_fixture(dir.path(), segments, hot)? - (hot * HOT_SIZE) as u64;
    let scan_budget = catalogue / 10;
    eprintln!(
        "wrote {segments} segments ({} MiB) and {hot} hot objects in {:.1?}",
        catalogue >> 20,
        started.elapsed()
    );
    let steps = workload(segments, requests, zipf, live_share)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut mixed: Vec<Vec<Run>> = vec![Vec::new(); POLICIES.len()];
    let mut scans: Vec<Vec<f64>> = vec![Vec::new(); POLICIES.len()];
    for round in 0..rounds {
        let mut order: Vec<usize> = (0..POLICIES.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for p in order {
            let (policy, name) = POLICIES[p];
            let run = runtime.block_on(run_mixed(dir.path(), budget, policy, &steps))?;
            let scan =
                runtime.block_on(run_scan(dir.path(), scan_budget, policy, segments, hot))?;
            eprintln!("round {round} {name}: {run:?}, hot set during scan {scan:.3}");
            mixed[p].push(run);
            scans[p].push(scan);
        }
    }

    println!(
        "Mixed: {segments} VOD segments ({} MiB, Zipf s={zipf}) + {} live renditions ({:.0} % of {requests} reads), \
         memory budget {} MiB, median of {rounds} rounds\n",
        catalogue >> 20,
        RENDITIONS.len(),
        live_share * 100.0,
        budget >> 20
    );
    println!(
        "| policy | hit ratio | live hit ratio | VOD hit ratio | p50 read | p99 read | live objects lost |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    let medians: Vec<Run> = mixed
        .iter()
        .map(|runs| Run {
            hit_ratio: median(runs.clone(), |r| r.hit_ratio).hit_ratio,
            live_hit_ratio: median(runs.clone(), |r| r.live_hit_ratio).live_hit_ratio,
            vod_hit_ratio: median(runs.clone(), |r| r.vod_hit_ratio).vod_hit_ratio,
            p50: median(runs.clone(), |r| r.p50.as_secs_f64()).p50,
            p99: median(runs.clone(), |r| r.p99.as_secs_f64()).p99,
            live_lost: median(runs.clone(), |r| r.live_lost as f64).live_lost,
        })
        .collect();
    for ((_, name), m) in POLICIES.iter().zip(&medians) {
        println!(
            "| {name} | {:.3} | {:.3} | {:.3} | {} | {} | {} |",
            m.hit_ratio,
            m.live_hit_ratio,
            m.vod_hit_ratio,
            micros(m.p50),
            micros(m.p99),
            m.live_lost
        );
    }
    let (ours, lru) = (medians[0], medians[1]);
    let ratio = |a: f64, b: f64| {
        if b > 0.0 {
            format!("{:.2}x", a / b)
        } else {
            "-".into()
        }
    };
    println!(
        "| clock-pro / lru | {} | {} | {} | {} | {} | |",
        ratio(ours.hit_ratio, lru.hit_ratio),
        ratio(ours.live_hit_ratio, lru.live_hit_ratio),
        ratio(ours.vod_hit_ratio, lru.vod_hit_ratio),
        ratio(ours.p50.as_secs_f64(), lru.p50.as_secs_f64()),
        ratio(ours.p99.as_secs_f64(), lru.p99.as_secs_f64()),
    );

    println!(
        "\nOne-pass scan: catalogue ({} MiB) read once with a budget of {} MiB, one read of a {hot}-object \
         hot set ({} MiB) per {SCAN_PER_HOT} segments, median of {rounds} rounds\n",
        catalogue >> 20,
        scan_budget >> 20,
        (hot * HOT_SIZE) >> 20
    );
    println!("| policy | hot set hit ratio during the scan |");
    println!("| --- | --- |");
    for ((_, name), runs) in POLICIES.iter().zip(scans) {
        println!("| {name} | {:.3} |", median(runs, |r| *r));
    }
    Ok(())
}
