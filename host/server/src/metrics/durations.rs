//! Request durations by class, as a Prometheus histogram kept in atomic counters.
//!
//! Written here rather than recorded through the exporter: its histograms store every sample with a
//! timestamp and sort them into buckets at each scrape, which costs a remembered decision's answer more than
//! the rest of its metrics; a request here adds to two counters, each split per thread
//! (`strata_tiers::sharded`).

use std::fmt::Write as _;
use std::time::Duration;

use strata_tiers::sharded::Sharded;

use super::Class;
use super::families::{self as names};

/// Bucket bounds of request durations, in seconds: a remembered decision's answer (0.1 ms) to the longest
/// park (30 s).
const BOUNDS: [f64; 17] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0,
];

/// The same bounds in nanoseconds, to place a sample without floating point.
const BOUNDS_NANOS: [u64; 17] = {
    let mut nanos = [0; 17];
    let mut i = 0;
    while i < BOUNDS.len() {
        nanos[i] = (BOUNDS[i] * 1e9) as u64;
        i += 1;
    }
    nanos
};

/// One class's histogram: counts per bucket (not cumulative; the last one is `+Inf`) and the sum.
struct Histogram {
    buckets: [Sharded; BOUNDS.len() + 1],
    sum_nanos: Sharded,
}

impl Histogram {
    const fn new() -> Histogram {
        Histogram {
            buckets: [const { Sharded::new() }; BOUNDS.len() + 1],
            sum_nanos: Sharded::new(),
        }
    }

    fn record(&self, took: Duration) {
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        let bucket = BOUNDS_NANOS.partition_point(|bound| *bound < nanos);
        self.buckets[bucket].add(1);
        self.sum_nanos.add(nanos);
    }
}

static BY_CLASS: [Histogram; Class::ALL.len()] = [const { Histogram::new() }; Class::ALL.len()];

/// Records one request of `class` that took `took` to its response head.
pub fn record(class: Class, took: Duration) {
    BY_CLASS[class.index()].record(took);
}

/// Appends the family, with a series for each class that has had a request.
pub fn render(out: &mut String) {
    super::write_family_head(out, &names::REQUEST_DURATION);
    let name = names::REQUEST_DURATION.name;
    for class in Class::ALL {
        let histogram = &BY_CLASS[class.index()];
        // Each bucket read once: a request recorded meanwhile must not make a bound count more than `+Inf`.
        let counts: Vec<u64> = histogram.buckets.iter().map(Sharded::get).collect();
        let count: u64 = counts.iter().sum();
        if count == 0 {
            continue;
        }
        let label = class.as_str();
        let mut cumulative = 0;
        for (bound, bucket) in BOUNDS.iter().zip(&counts) {
            cumulative += bucket;
            let _ = writeln!(
                out,
                "{name}_bucket{{class=\"{label}\",le=\"{bound}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{class=\"{label}\",le=\"+Inf\"}} {count}"
        );
        let sum = histogram.sum_nanos.get() as f64 / 1e9;
        let _ = writeln!(out, "{name}_sum{{class=\"{label}\"}} {sum}");
        let _ = writeln!(out, "{name}_count{{class=\"{label}\"}} {count}");
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_lands_in_the_first_bucket_whose_bound_holds_it() {
        let histogram = Histogram::new();
        histogram.record(Duration::from_micros(100));
        histogram.record(Duration::from_micros(101));
        histogram.record(Duration::from_secs(60));
        let counts: Vec<u64> = histogram.buckets.iter().map(Sharded::get).collect();
        assert_eq!((counts[0], counts[1], counts[BOUNDS.len()]), (1, 1, 1));
        assert_eq!(counts.iter().sum::<u64>(), 3);
    }

    #[test]
    fn buckets_are_written_cumulative_with_the_class_label() {
        record(Class::Other, Duration::from_millis(3));
        let mut out = String::new();
        render(&mut out);
        assert!(
            out.contains("# TYPE strata_request_duration_seconds histogram"),
            "{out}"
        );
        let line = |le: &str| {
            out.lines()
                .find(|l| {
                    l.starts_with(&format!(
                        "strata_request_duration_seconds_bucket{{class=\"other\",le=\"{le}\"}}"
                    ))
                })
                .and_then(|l| l.rsplit(' ').next())
                .and_then(|n| n.parse::<u64>().ok())
        };
        let (below, above) = (line("0.0025").unwrap_or(0), line("0.005"));
        assert!(above.is_some_and(|n| n > below), "{out}");
        assert!(
            out.contains("strata_request_duration_seconds_count{class=\"other\"}"),
            "{out}"
        );
    }
}
