//! Time to rebuild the disk index at start, against a bare directory walk of the same files (the floor any
//! recovery pays). `STRATA_BENCH_OBJECTS` (default 100000) and `STRATA_BENCH_RUNS` (default 5) set the size.
//!
//! The fixture is written through the tiers' own writer, each object synced as in service, but with
//! `FIXTURE_IN_FLIGHT` uploads at once so the filesystem batches their syncs: only its creation is faster,
//! the files (and so what `Tiers::open` reads) are the same as sequential PUTs would leave.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt, stream};
use strata_tiers::{NewObject, TierSettings, Tiers};

/// Fixture uploads in flight at once.
const FIXTURE_IN_FLIGHT: usize = 64;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

fn walk(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => walk(&entry.path()),
            _ => usize::from(entry.metadata().is_ok()),
        })
        .sum()
}

fn main() -> anyhow::Result<()> {
    let objects = env("STRATA_BENCH_OBJECTS", 100_000);
    let runs = env("STRATA_BENCH_RUNS", 5);
    let dir = tempfile::tempdir()?;
    let settings = || TierSettings {
        memory_bytes: 64 << 20,
        ..TierSettings::default()
    };
    let runtime = tokio::runtime::Runtime::new()?;
    let started = Instant::now();
    runtime.block_on(async {
        let tiers = Arc::new(Tiers::open(dir.path(), settings())?);
        stream::iter(0..objects)
            .map(|i| {
                let tiers = Arc::clone(&tiers);
                tokio::spawn(async move {
                    let key = format!("vod/title{}/seg{i}.m4s", i % 100);
                    let mut writer = tiers.writer(&key, NewObject::default(), 1 << 20).await?;
                    writer
                        .write(Bytes::from(vec![(i % 251) as u8; 1024]))
                        .await?;
                    writer.commit().await?;
                    anyhow::Ok(())
                })
            })
            .buffer_unordered(FIXTURE_IN_FLIGHT)
            .map(|joined| joined?)
            .try_collect::<()>()
            .await
    })?;
    eprintln!("wrote {objects} objects in {:.1?}", started.elapsed());
    let mut recover = Vec::new();
    let mut walked = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let tiers = Tiers::open(dir.path(), settings())?;
        recover.push(t.elapsed());
        assert_eq!(tiers.stats().objects, objects);
        let t = Instant::now();
        assert_eq!(walk(&dir.path().join("objects")), objects);
        walked.push(t.elapsed());
    }
    let (recover, walked) = (median(recover), median(walked));
    println!("| objects | Tiers::open (median of {runs}) | directory walk + stat | ratio |");
    println!("| --- | --- | --- | --- |");
    println!(
        "| {objects} | {recover:.1?} | {walked:.1?} | {:.1}x |",
        recover.as_secs_f64() / walked.as_secs_f64()
    );
    Ok(())
}
