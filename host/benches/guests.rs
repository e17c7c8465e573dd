//! Guest platform benchmark: per-request guest overhead (instantiate + decide) against the same decision
//! made natively, request latency while the handler is hot-swapped, swap latency, and time to first
//! request with ten deployed guests from a cold and a warm artifact cache, and what CMSD `d`/`br` (the
//! lookup of the playlist naming a segment) adds to a segment GET, and what an anonymous GET of a missing
//! segment costs in a folder of a hundred 1 MiB playlists (the bounded lookup). Prints tables; run with
//! `cargo bench -p strata --bench guests` (`-- --quick` for short settings).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use strata_abi::types as abi;
use strata_runtime::{FilterLimits, GuestLimits, Guests, Runtime};
use strata_tiers::{NewObject, StorageRead, TierSettings, Tiers};

/// The default handler, as the `strata` binary embeds it (`build.rs`).
const DEFAULT_HANDLER: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/strata_guest_origin.wasm"));

const LIMITS: GuestLimits = GuestLimits {
    memory_bytes: 64 << 20,
    deadline: Duration::from_millis(500),
    wall_deadline: Duration::from_secs(1),
    max_read_bytes: 4 << 20,
    max_instances: 128,
};
const FILTER_LIMITS: FilterLimits = FilterLimits {
    memory_bytes: 16 << 20,
    deadline: Duration::from_millis(50),
    wall_deadline: Duration::from_millis(200),
};

fn main() -> anyhow::Result<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    let (requests, runs) = if quick { (500, 3) } else { (5000, 5) };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let data = tempfile::tempdir()?;
        let settings = TierSettings {
            memory_bytes: 64 << 20,
            ..TierSettings::default()
        };
        let tiers = Arc::new(Tiers::open(data.path(), settings)?);
        let runtime = Arc::new(Runtime::new(Arc::clone(&tiers) as Arc<dyn StorageRead>, LIMITS, 16 << 20, &data.path().join("cache"))?);
        let guests = Arc::new(Guests::open(Arc::clone(&runtime), &data.path().join("guests"), DEFAULT_HANDLER, FILTER_LIMITS, Default::default())?);
        let request = abi::Request {
            method: "GET".into(),
            key: "live/missing.m3u8".into(),
            path: "/live/missing.m3u8".into(),
            query: String::new(),
            headers: vec![("user-agent".into(), "bench".into())],
            waited_ms: 0,
            limits: abi::Limits { max_object_bytes: 1 << 26 },
            settings: Default::default(),
            now_ms: 0,
            load_permille: 0,
        };

        println!("## Guest overhead per request (instantiate + decide), default handler, {requests} requests x {runs} runs");
        let mut medians = Vec::new();
        let mut p99s = Vec::new();
        for _ in 0..runs {
            let mut samples = Vec::with_capacity(requests);
            for _ in 0..requests {
                let deployment = guests.handler_for(request.path.trim_start_matches('/')).expect("origin").deployment;
                let started = Instant::now();
                runtime.decide(&deployment, &request).await?;
                samples.push(started.elapsed());
            }
            let (m, p) = stats(&mut samples);
            medians.push(m);
            p99s.push(p);
        }
        println!("| measure | median of runs (µs) |\n| --- | --- |");
        println!("| median | {:.1} |", median(&mut medians));
        println!("| p99 | {:.1} |", median(&mut p99s));

        // Before the hot swaps, which leave a test guest deployed as the handler.
        cmsd_lookup(&tiers, &guests, &runtime, &request, requests, runs).await?;
        missing_segment_lookup(&tiers, &guests, &runtime, &request, requests / 10, runs).await?;

        println!("\n## Request latency during hot swaps (4 concurrent decision loops)");
        let versions = [
            std::fs::read(strata_test_guests::VERSION_ONE)?,
            std::fs::read(strata_test_guests::VERSION_TWO)?,
        ];
        let swaps = if quick { 20 } else { 100 };
        for (label, swapping) in [("no swaps", false), ("swapping", true)] {
            let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let loops: Vec<_> = (0..4)
                .map(|_| {
                    let (guests, runtime, request, stop) =
                        (Arc::clone(&guests), Arc::clone(&runtime), request.clone(), Arc::clone(&stop));
                    tokio::spawn(async move {
                        let mut samples = Vec::new();
                        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                            let deployment = guests.handler_for(request.path.trim_start_matches('/')).expect("origin").deployment;
                            let started = Instant::now();
                            runtime.decide(&deployment, &request).await.expect("decide");
                            samples.push(started.elapsed());
                            tokio::task::yield_now().await;
                        }
                        samples
                    })
                })
                .collect();
            let mut swap_times = Vec::new();
            for i in 0..swaps {
                if swapping {
                    let started = Instant::now();
                    guests.deploy("origin", versions[i % 2].clone(), None).await?;
                    swap_times.push(started.elapsed());
                } else {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            let mut samples = Vec::new();
            for l in loops {
                samples.extend(l.await?);
            }
            let (m, p) = stats(&mut samples);
            println!("| {label} | requests {} | median {m:.1} µs | p99 {p:.1} µs |", samples.len());
            if swapping {
                let (m, p) = stats(&mut swap_times);
                println!("| swap latency (validate, cached compile, canary, activate) | {swaps} swaps | median {:.2} ms | p99 {:.2} ms |", m / 1000.0, p / 1000.0);
            }
        }

        println!("\n## Time to first request with ten deployed guests");
        let ten = tempfile::tempdir()?;
        {
            let runtime = Arc::new(Runtime::new(Arc::clone(&tiers) as Arc<dyn StorageRead>, LIMITS, 16 << 20, &ten.path().join("cache"))?);
            let guests = Guests::open(Arc::clone(&runtime), &ten.path().join("guests"), DEFAULT_HANDLER, FILTER_LIMITS, Default::default())?;
            let handlers = [
                strata_test_guests::LOOPING,
                strata_test_guests::MEMORY_HOG,
                strata_test_guests::SNOOPER,
                strata_test_guests::VERSION_ONE,
                strata_test_guests::VERSION_TWO,
            ];
            // origin + eight namespaced handlers + one plugin: ten guests, seven distinct components.
            for (i, path) in handlers.iter().chain(handlers.iter().take(3)).enumerate() {
                guests.deploy(&format!("g{i}"), std::fs::read(path)?, Some(format!("g{i}/"))).await?;
            }
            guests.deploy("variant-cap", std::fs::read(strata_test_guests::FILTER_VARIANT_CAP)?, None).await?;
            println!("deployed guests: {}", guests.list().len());
        }
        println!("| start | load all guests (ms), median of {runs} | compiled |\n| --- | --- | --- |");
        for (label, cold) in [("cold cache", true), ("warm cache", false)] {
            let mut times = Vec::new();
            let mut compiled = 0;
            for _ in 0..runs {
                if cold {
                    let _ = std::fs::remove_dir_all(ten.path().join("cache"));
                }
                let started = Instant::now();
                let runtime = Arc::new(Runtime::new(Arc::clone(&tiers) as Arc<dyn StorageRead>, LIMITS, 16 << 20, &ten.path().join("cache"))?);
                let guests = Guests::open(Arc::clone(&runtime), &ten.path().join("guests"), DEFAULT_HANDLER, FILTER_LIMITS, Default::default())?;
                let deployment = guests.handler_for("x").expect("origin").deployment;
                runtime.decide(&deployment, &request).await?;
                times.push(started.elapsed());
                compiled = runtime.compiles();
            }
            let (m, _) = stats(&mut times);
            println!("| {label} | {:.1} | {compiled} |", m / 1000.0);
        }
        anyhow::Ok(())
    })
}

/// A segment GET decision with the CMSD `d`/`br` lookup (list the folder, read and scan its playlist)
/// against the same GET of an object the lookup skips (same folder and size, not a segment), in a VOD-sized
/// folder and an LL-HLS folder of 300 parts.
async fn cmsd_lookup(
    tiers: &Arc<Tiers>,
    guests: &Guests,
    runtime: &Runtime,
    request: &abi::Request,
    requests: usize,
    runs: usize,
) -> anyhow::Result<()> {
    let put = |key: String, body: Vec<u8>| async move {
        let mut writer = tiers.writer(&key, NewObject::default(), 1 << 24).await?;
        writer.write(Bytes::from(body)).await?;
        writer.commit().await?;
        anyhow::Ok(())
    };
    let mut vod = String::from("#EXTM3U\n#EXT-X-TARGETDURATION:4\n");
    for i in 0..60 {
        vod.push_str(&format!("#EXTINF:4.000,\nseg{i}.ts\n"));
        put(format!("cmsd/vod/seg{i}.ts"), vec![0x47; 4096]).await?;
    }
    put("cmsd/vod/index.m3u8".into(), vod.into_bytes()).await?;
    put("cmsd/vod/notes.bin".into(), vec![0x47; 4096]).await?;
    let mut ll =
        String::from("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-PART-INF:PART-TARGET=0.5\n");
    for i in 0..300 {
        ll.push_str(&format!(
            "#EXT-X-PART:DURATION=0.5,URI=\"part{i:03}.m4s\"\n"
        ));
        put(format!("cmsd/ll/part{i:03}.m4s"), vec![0; 4096]).await?;
    }
    put("cmsd/ll/index.m3u8".into(), ll.into_bytes()).await?;
    put("cmsd/ll/notes.bin".into(), vec![0; 4096]).await?;

    println!(
        "\n## Segment GET decision with the CMSD d/br lookup, {requests} requests x {runs} runs"
    );
    println!("| folder | no lookup (µs) | with lookup (µs) | ratio |\n| --- | --- | --- | --- |");
    for (label, without, with) in [
        (
            "VOD, 60 segments",
            "/cmsd/vod/notes.bin",
            "/cmsd/vod/seg30.ts",
        ),
        (
            "LL-HLS, 300 parts",
            "/cmsd/ll/notes.bin",
            "/cmsd/ll/part299.m4s",
        ),
    ] {
        let mut medians = [Vec::new(), Vec::new()];
        for _ in 0..runs {
            for (i, path) in [without, with].into_iter().enumerate() {
                let request = abi::Request {
                    key: path.trim_start_matches('/').into(),
                    path: path.into(),
                    ..request.clone()
                };
                let deployment = guests
                    .handler_for(path.trim_start_matches('/'))
                    .expect("origin")
                    .deployment;
                let mut samples = Vec::with_capacity(requests);
                for _ in 0..requests {
                    let started = Instant::now();
                    let outcome = runtime.decide(&deployment, &request).await?;
                    samples.push(started.elapsed());
                    let abi::Outcome::Serve(plan) = outcome.decision.outcome else {
                        anyhow::bail!("{path}: not served");
                    };
                    let has_d = plan
                        .headers
                        .iter()
                        .any(|(n, v)| n == "cmsd-static" && v.contains(",d="));
                    anyhow::ensure!(has_d == (i == 1), "{path}: CMSD d present: {has_d}");
                }
                medians[i].push(stats(&mut samples).0);
            }
        }
        let (a, b) = (median(&mut medians[0]), median(&mut medians[1]));
        println!("| {label} | {a:.1} | {b:.1} | {:.2}x |", b / a);
    }
    Ok(())
}

/// The decision for a GET of a segment that does not exist in a folder holding 100 playlists of 1 MiB (none
/// naming it: every one is a candidate for the naming-playlist lookup), against a plain GET of a small
/// segment beside them. The lookup's budget (`guest/core/src/lookup_budget.rs`) bounds the first.
async fn missing_segment_lookup(
    tiers: &Arc<Tiers>,
    guests: &Guests,
    runtime: &Runtime,
    request: &abi::Request,
    requests: usize,
    runs: usize,
) -> anyhow::Result<()> {
    for i in 0..100 {
        let mut playlist = String::from("#EXTM3U\n#EXT-X-TARGETDURATION:4\n");
        while playlist.len() < 1 << 20 {
            playlist.push_str(&format!("#EXTINF:4.000,\nother{i}-{}.ts\n", playlist.len()));
        }
        let mut writer = tiers
            .writer(&format!("amp/p{i:03}.m3u8"), NewObject::default(), 1 << 24)
            .await?;
        writer.write(Bytes::from(playlist)).await?;
        writer.commit().await?;
    }
    let mut writer = tiers
        .writer("amp/present.ts", NewObject::default(), 1 << 24)
        .await?;
    writer.write(Bytes::from(vec![0x47; 4096])).await?;
    writer.commit().await?;
    println!(
        "\n## Anonymous GET of a missing segment in a folder of 100 x 1 MiB playlists, {requests} requests x {runs} runs"
    );
    println!(
        "| GET | median (µs) | p99 (µs) | ratio to the plain GET |\n| --- | --- | --- | --- |"
    );
    let mut results = Vec::new();
    for path in ["/amp/present.ts", "/amp/missing.ts"] {
        let request = abi::Request {
            key: path.trim_start_matches('/').into(),
            path: path.into(),
            ..request.clone()
        };
        let deployment = guests
            .handler_for(path.trim_start_matches('/'))
            .expect("origin")
            .deployment;
        let (mut medians, mut p99s) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            let mut samples = Vec::with_capacity(requests);
            for _ in 0..requests {
                let started = Instant::now();
                runtime.decide(&deployment, &request).await?;
                samples.push(started.elapsed());
            }
            let (m, p) = stats(&mut samples);
            medians.push(m);
            p99s.push(p);
        }
        results.push((path, median(&mut medians), median(&mut p99s)));
    }
    let plain = results[0].1;
    for (path, m, p) in results {
        println!("| {path} | {m:.1} | {p:.1} | {:.2}x |", m / plain);
    }
    Ok(())
}

/// Median and p99 of `samples`, in microseconds.
fn stats(samples: &mut [Duration]) -> (f64, f64) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e6;
    (at(0.5), at(0.99))
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
