//! What the soak counts while it runs: operations by kind with their
//! latencies, outcomes by NTSTATUS, bytes, broken promises, and the
//! process's memory and descriptors over time with their trend.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::op::OpKind;

/// Where an outcome was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    /// What an operation returned.
    Operation,
    /// An asynchronous send's completion (VC or datagram).
    Completion,
    /// A disconnect indication.
    Disconnect,
}

/// The longest latency the histograms hold: an operation is cut off long
/// before (see the soak's operation limit).
const MAX_LATENCY_US: u64 = 600_000_000;

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 2).expect("valid histogram bounds")
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// How many broken promises are kept with their text (all are counted).
const KEPT_VIOLATIONS: usize = 50;

/// The counters of one soak, shared by its lanes and handlers.
pub struct Stats {
    ops: Vec<AtomicU64>,
    skipped_ops: Vec<AtomicU64>,
    latency: Vec<Mutex<Histogram<u64>>>,
    /// Every operation's latency since the last report.
    interval: Mutex<Histogram<u64>>,
    outcomes: Mutex<BTreeMap<(Source, &'static str), u64>>,
    sent: AtomicU64,
    received: AtomicU64,
    reconnects: AtomicU64,
    violations: AtomicU64,
    kept: Mutex<Vec<String>>,
}

impl Default for Stats {
    fn default() -> Stats {
        Stats {
            ops: OpKind::ALL.iter().map(|_| AtomicU64::new(0)).collect(),
            skipped_ops: OpKind::ALL.iter().map(|_| AtomicU64::new(0)).collect(),
            latency: OpKind::ALL.iter().map(|_| Mutex::new(histogram())).collect(),
            interval: Mutex::new(histogram()),
            outcomes: Mutex::default(),
            sent: AtomicU64::new(0),
            received: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            violations: AtomicU64::new(0),
            kept: Mutex::default(),
        }
    }
}

fn index(kind: OpKind) -> usize {
    OpKind::ALL
        .iter()
        .position(|k| *k == kind)
        .expect("every kind is listed")
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros())
        .unwrap_or(u64::MAX)
        .clamp(1, MAX_LATENCY_US)
}

impl Stats {
    /// One operation of `kind` took `took`; `ran` is false when it found
    /// none of the objects it names (the network refused their build, or
    /// a parent's tear-down took them).
    pub fn op(&self, kind: OpKind, took: Duration, ran: bool) {
        let i = index(kind);
        self.ops[i].fetch_add(1, Ordering::Relaxed);
        if !ran {
            self.skipped_ops[i].fetch_add(1, Ordering::Relaxed);
        }
        let us = micros(took);
        let _ = lock(&self.latency[i]).record(us);
        let _ = lock(&self.interval).record(us);
    }

    /// An outcome: `status` seen as `source`.
    pub fn outcome(&self, source: Source, status: &rxce::Status) {
        *lock(&self.outcomes).entry((source, status.name())).or_default() += 1;
    }

    /// Payload bytes handed to the engine.
    pub fn sent(&self, bytes: usize) {
        self.sent.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Payload bytes that came back.
    pub fn received(&self, bytes: usize) {
        self.received.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// A VC was rebuilt by a reconnect policy.
    pub fn reconnected(&self) {
        self.reconnects.fetch_add(1, Ordering::Relaxed);
    }

    /// A broken promise.
    pub fn violation(&self, what: String) {
        tracing::error!("broken promise: {what}");
        self.violations.fetch_add(1, Ordering::Relaxed);
        let mut kept = lock(&self.kept);
        if kept.len() < KEPT_VIOLATIONS {
            kept.push(what);
        }
    }

    /// Broken promises so far.
    pub fn violation_count(&self) -> u64 {
        self.violations.load(Ordering::Relaxed)
    }

    /// The broken promises kept with their text.
    pub fn violations(&self) -> Vec<String> {
        lock(&self.kept).clone()
    }

    /// Operations of every kind, with their median, 99th percentile and
    /// longest latency (operations that ran at least once).
    pub fn operations(&self) -> Vec<OpRow> {
        OpKind::ALL
            .iter()
            .enumerate()
            .filter_map(|(i, kind)| {
                let count = self.ops[i].load(Ordering::Relaxed);
                let h = lock(&self.latency[i]);
                (count > 0).then(|| OpRow {
                    kind: *kind,
                    count,
                    skipped: self.skipped_ops[i].load(Ordering::Relaxed),
                    p50: Duration::from_micros(h.value_at_quantile(0.5)),
                    p99: Duration::from_micros(h.value_at_quantile(0.99)),
                    max: Duration::from_micros(h.max()),
                })
            })
            .collect()
    }

    /// The 99th percentile of every operation since the last call, and
    /// how many there were.
    pub fn take_interval(&self) -> (u64, Duration) {
        let mut h = lock(&self.interval);
        let result = (h.len(), Duration::from_micros(h.value_at_quantile(0.99)));
        h.reset();
        result
    }

    /// Outcomes by status: (operations, completions, disconnects) per name.
    pub fn outcomes(&self) -> BTreeMap<&'static str, [u64; 3]> {
        let mut table: BTreeMap<&'static str, [u64; 3]> = BTreeMap::new();
        for ((source, name), count) in lock(&self.outcomes).iter() {
            table.entry(name).or_default()[*source as usize] += count;
        }
        table
    }

    /// Totals: (operations, skipped, bytes sent, bytes received, reconnects).
    pub fn totals(&self) -> Totals {
        Totals {
            operations: self.ops.iter().map(|c| c.load(Ordering::Relaxed)).sum(),
            skipped: self.skipped_ops.iter().map(|c| c.load(Ordering::Relaxed)).sum(),
            sent: self.sent.load(Ordering::Relaxed),
            received: self.received.load(Ordering::Relaxed),
            reconnects: self.reconnects.load(Ordering::Relaxed),
        }
    }
}

/// One operation kind's counts.
#[derive(Debug, Clone, Copy)]
pub struct OpRow {
    /// The kind.
    pub kind: OpKind,
    /// How many ran.
    pub count: u64,
    /// How many found none of their objects.
    pub skipped: u64,
    /// Median latency.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
    /// Longest.
    pub max: Duration,
}

/// Running totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Operations run.
    pub operations: u64,
    /// Operations whose objects did not exist.
    pub skipped: u64,
    /// Payload bytes sent.
    pub sent: u64,
    /// Payload bytes that came back.
    pub received: u64,
    /// VCs rebuilt by reconnect policies.
    pub reconnects: u64,
}

/// One sample of the process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Seconds since the start.
    pub at: f64,
    /// Resident memory, KiB.
    pub rss_kib: f64,
    /// Open descriptors.
    pub fds: f64,
}

/// Least-squares slope of `y` over `x`, per unit of `x`.
fn slope(points: impl Iterator<Item = (f64, f64)> + Clone) -> Option<f64> {
    let n = points.clone().count() as f64;
    if n < 2.0 {
        return None;
    }
    let (sx, sy) = points.clone().fold((0.0, 0.0), |(sx, sy), (x, y)| (sx + x, sy + y));
    let (mx, my) = (sx / n, sy / n);
    let (num, den) = points.fold((0.0, 0.0), |(num, den), (x, y)| {
        (num + (x - mx) * (y - my), den + (x - mx) * (x - mx))
    });
    (den > 0.0).then(|| num / den)
}

/// The trend of memory and descriptors after a warm-up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trend {
    /// Seconds of samples after the warm-up.
    pub window: f64,
    /// Resident memory's slope, KiB per minute.
    pub rss_kib_per_min: f64,
    /// Open descriptors' slope, per minute.
    pub fds_per_min: f64,
}

/// The trend of the samples taken after `warm_up` seconds, or `None`
/// with fewer than two of them.
pub fn trend(samples: &[Sample], warm_up: f64) -> Option<Trend> {
    let after: Vec<&Sample> = samples.iter().filter(|s| s.at >= warm_up).collect();
    let window = after.last()?.at - after.first()?.at;
    Some(Trend {
        window,
        rss_kib_per_min: slope(after.iter().map(|s| (s.at, s.rss_kib)))? * 60.0,
        fds_per_min: slope(after.iter().map(|s| (s.at, s.fds)))? * 60.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trend_is_the_slope_after_the_warm_up() {
        // Memory climbs 100 KiB/s for 10 s, then holds with noise;
        // descriptors grow one every 2 s throughout.
        let samples: Vec<Sample> = (0..120)
            .map(|s| Sample {
                at: s as f64,
                rss_kib: 1000.0 * (s.min(10) as f64) / 10.0 + if s % 2 == 0 { 5.0 } else { -5.0 },
                fds: (s / 2) as f64,
            })
            .collect();
        let t = trend(&samples, 10.0).unwrap();
        assert_eq!(t.window, 109.0);
        assert!(t.rss_kib_per_min.abs() < 1.0, "{t:?}");
        assert!((t.fds_per_min - 30.0).abs() < 0.5, "{t:?}");
        assert_eq!(trend(&samples, 119.0), None, "one sample is no trend");
    }

    #[test]
    fn counts_and_percentiles_come_back() {
        let stats = Stats::default();
        for ms in 1..=100 {
            stats.op(OpKind::SendSync, Duration::from_millis(ms), ms % 2 == 0);
        }
        stats.op(OpKind::Pause, Duration::from_millis(5), true);
        stats.outcome(Source::Operation, &rxce::Status::SUCCESS);
        stats.outcome(Source::Completion, &rxce::Status::SUCCESS);
        stats.outcome(Source::Disconnect, &rxce::Status::CONNECTION_RESET);
        let rows = stats.operations();
        assert_eq!(rows.len(), 2);
        let send = rows.iter().find(|r| r.kind == OpKind::SendSync).unwrap();
        assert_eq!((send.count, send.skipped), (100, 50));
        assert!((98..=100).contains(&send.p99.as_millis()), "{send:?}");
        assert_eq!(stats.outcomes()["STATUS_SUCCESS"], [1, 1, 0]);
        assert_eq!(stats.outcomes()["STATUS_CONNECTION_RESET"], [0, 0, 1]);
        let (n, p99) = stats.take_interval();
        assert_eq!(n, 101);
        assert!(p99 >= Duration::from_millis(98));
        assert_eq!(stats.take_interval().0, 0, "the interval starts again");
        assert_eq!(stats.totals().operations, 101);
    }
}
