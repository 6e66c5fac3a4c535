//! What the soak prints: a progress line every few seconds, then the
//! summary — operations, outcomes, throughput, latency, memory and
//! descriptors with their trend, and the promises, each held or broken.

use std::collections::BTreeMap;
use std::time::Duration;

use rxce::{Engine, LiveObjects};
use serde_json::{json, Value};

use super::stats::{trend, OpRow, Sample, Stats, Totals, Trend};
use super::{SoakOptions, TREND_BOUNDS, TREND_MIN_WINDOW};
use crate::process::{open_descriptors, resident_bytes};
use crate::table::{bytes, millis, table};

/// Where the previous report left off.
#[derive(Debug, Default)]
pub(crate) struct Mark {
    at: Duration,
    totals: Totals,
}

/// One progress report.
#[derive(Debug, Clone)]
pub struct Progress {
    /// Since the start.
    pub elapsed: Duration,
    /// Running totals.
    pub totals: Totals,
    /// Operations per second since the last report.
    pub rate: f64,
    /// Payload bytes per second (sent and received) since the last report.
    pub throughput: f64,
    /// 99th percentile latency of the operations since the last report.
    pub p99: Duration,
    /// Resident memory, bytes.
    pub rss: usize,
    /// Open descriptors.
    pub fds: usize,
    /// Live objects.
    pub live: LiveObjects,
    /// Broken promises so far.
    pub broken: u64,
}

impl Mark {
    pub(crate) fn progress(&mut self, elapsed: Duration, stats: &Stats, engine: &Engine) -> Progress {
        let totals = stats.totals();
        let seconds = (elapsed - self.at).as_secs_f64().max(1e-9);
        let (count, p99) = stats.take_interval();
        let moved = (totals.sent + totals.received) - (self.totals.sent + self.totals.received);
        let progress = Progress {
            elapsed,
            totals,
            rate: count as f64 / seconds,
            throughput: moved as f64 / seconds,
            p99,
            rss: resident_bytes(),
            fds: open_descriptors(),
            live: engine.live_objects(),
            broken: stats.violation_count(),
        };
        *self = Mark { at: elapsed, totals };
        progress
    }
}

fn live(l: &LiveObjects) -> String {
    format!("{}/{}/{}/{}", l.transports, l.addresses, l.connections, l.vcs)
}

fn live_json(l: &LiveObjects) -> Value {
    json!({"transports": l.transports, "addresses": l.addresses, "connections": l.connections, "vcs": l.vcs})
}

impl Progress {
    /// One line for people.
    pub fn render(&self) -> String {
        format!(
            "[{:>5.0} s] {} operations ({:.0}/s), {}/s, p99 {}, resident {}, {} descriptors, live t/a/c/v {}, {} broken",
            self.elapsed.as_secs_f64(),
            self.totals.operations,
            self.rate,
            bytes(self.throughput as u64),
            millis(self.p99),
            bytes(self.rss as u64),
            self.fds,
            live(&self.live),
            self.broken
        )
    }

    /// One JSON object.
    pub fn json(&self) -> Value {
        json!({
            "event": "progress",
            "elapsed_s": self.elapsed.as_secs_f64(),
            "operations": self.totals.operations,
            "operations_per_s": self.rate,
            "bytes_per_s": self.throughput,
            "p99_ms": self.p99.as_secs_f64() * 1000.0,
            "resident_bytes": self.rss,
            "descriptors": self.fds,
            "live": live_json(&self.live),
            "broken": self.broken,
        })
    }
}

/// What was found once everything was torn down.
#[derive(Debug)]
pub(crate) struct Ends {
    /// VCs whose tear-down never returned.
    pub not_torn_down: Vec<u64>,
    /// Live objects after the tear-down (all zero when they went).
    pub live: LiveObjects,
    /// Descriptors before the mix and after the tear-down.
    pub descriptors: (usize, usize),
    /// Callbacks that ran over the slow-callback threshold.
    pub slow_callbacks: u64,
}

/// One promise and whether it held.
#[derive(Debug, Clone)]
pub struct Promise {
    /// What is promised.
    pub name: &'static str,
    /// `Some(true)` held, `Some(false)` broken, `None` not checked.
    pub held: Option<bool>,
    /// Figures.
    pub detail: String,
}

/// The soak's result.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The seed that replays the mix.
    pub seed: u64,
    /// How long the mix was asked to run.
    pub duration: Duration,
    /// How long the mix ran (to the end of its last operations).
    pub ran: Duration,
    /// Lanes.
    pub lanes: usize,
    /// A private smbd was a peer.
    pub smbd: bool,
    /// Operations by kind.
    pub operations: Vec<OpRow>,
    /// Outcomes: status → (operations, completions, disconnects).
    pub outcomes: BTreeMap<&'static str, [u64; 3]>,
    /// Totals.
    pub totals: Totals,
    /// Datagrams echoed intact, and lost.
    pub datagrams: (u64, u64),
    /// Resident memory at the first and last sample, KiB.
    pub rss_kib: (f64, f64),
    /// The trend after the warm-up.
    pub trend: Option<Trend>,
    /// The warm-up.
    pub warm_up: Duration,
    /// Callbacks over the slow-callback threshold.
    pub slow_callbacks: u64,
    /// Every promise.
    pub promises: Vec<Promise>,
    /// The broken promises seen while running (the first 50), and how
    /// many there were.
    pub broken: (Vec<String>, u64),
}

impl Summary {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        options: &SoakOptions,
        ran: Duration,
        stats: &Stats,
        samples: &[Sample],
        warm_up: Duration,
        smbd: bool,
        datagrams: (u64, u64),
        ends: Ends,
    ) -> Summary {
        let trend = trend(samples, warm_up.as_secs_f64());
        let broken = (stats.violations(), stats.violation_count());
        let checked = |held: bool| Some(held);
        let trend_promise = match trend {
            Some(t) if t.window >= TREND_MIN_WINDOW.as_secs_f64() => Promise {
                name: "memory and descriptors flat after the warm-up",
                held: checked(t.rss_kib_per_min <= TREND_BOUNDS.0 && t.fds_per_min <= TREND_BOUNDS.1),
                detail: format!(
                    "{:+.0} KiB/min (bound {:.0}), {:+.2} descriptors/min (bound {:.0}) over {:.0} s",
                    t.rss_kib_per_min, TREND_BOUNDS.0, t.fds_per_min, TREND_BOUNDS.1, t.window
                ),
            },
            Some(t) => Promise {
                name: "memory and descriptors flat after the warm-up",
                held: None,
                detail: format!(
                    "{:+.0} KiB/min, {:+.2} descriptors/min over {:.0} s (checked from {} s on)",
                    t.rss_kib_per_min,
                    t.fds_per_min,
                    t.window,
                    TREND_MIN_WINDOW.as_secs()
                ),
            },
            None => Promise {
                name: "memory and descriptors flat after the warm-up",
                held: None,
                detail: "too short to sample".into(),
            },
        };
        let promises = vec![
            Promise {
                name: "every promise checked while running",
                held: checked(broken.1 == 0),
                detail: format!("{} broken", broken.1),
            },
            Promise {
                name: "every VC torn down with its ancestors",
                held: checked(ends.not_torn_down.is_empty()),
                detail: if ends.not_torn_down.is_empty() {
                    "all".into()
                } else {
                    format!("not torn down: {:?}", ends.not_torn_down)
                },
            },
            Promise {
                name: "no live object after the tear-down",
                held: checked(ends.live.total() == 0),
                detail: format!("live t/a/c/v {}", live(&ends.live)),
            },
            Promise {
                name: "descriptors back to where they started",
                held: checked(ends.descriptors.1 <= ends.descriptors.0),
                detail: format!("{} before, {} after", ends.descriptors.0, ends.descriptors.1),
            },
            trend_promise,
        ];
        Summary {
            seed: options.seed,
            duration: options.duration,
            ran,
            lanes: options.lanes,
            smbd,
            operations: stats.operations(),
            outcomes: stats.outcomes(),
            totals: stats.totals(),
            datagrams,
            rss_kib: (
                samples.first().map_or(0.0, |s| s.rss_kib),
                samples.last().map_or(0.0, |s| s.rss_kib),
            ),
            trend,
            warm_up,
            slow_callbacks: ends.slow_callbacks,
            promises,
            broken,
        }
    }

    /// True when no promise was broken.
    pub fn held(&self) -> bool {
        self.promises.iter().all(|p| p.held != Some(false))
    }

    /// The command that replays this soak's mix.
    pub fn replay(&self) -> String {
        let smbd = if self.smbd { "" } else { " --no-smbd" };
        format!(
            "rxce soak --seed {} --duration {} --lanes {}{smbd}",
            self.seed,
            self.duration.as_secs_f64(),
            self.lanes
        )
    }

    /// Tables for people.
    pub fn render(&self) -> String {
        let seconds = self.ran.as_secs_f64().max(1e-9);
        let mut out = format!(
            "rxce soak: seed {}, {:.0} s, {} lanes, peers: embedded echo{} (replay: {})\n",
            self.seed,
            seconds,
            self.lanes,
            if self.smbd { " and a private smbd" } else { "" },
            self.replay()
        );
        let mut ops = table(
            &["operation", "count", "objects gone", "p50", "p99", "max"],
            &["count", "objects gone", "p50", "p99", "max"],
        );
        for row in &self.operations {
            ops.add_row(vec![
                row.kind.name().to_owned(),
                row.count.to_string(),
                row.skipped.to_string(),
                millis(row.p50),
                millis(row.p99),
                millis(row.max),
            ]);
        }
        out.push_str(&format!("{ops}\n"));
        let mut outcomes = table(
            &["status", "operations", "completions", "disconnects"],
            &["operations", "completions", "disconnects"],
        );
        for (name, counts) in &self.outcomes {
            let cell = |n: u64| if n == 0 { String::new() } else { n.to_string() };
            outcomes.add_row(vec![
                (*name).to_owned(),
                cell(counts[0]),
                cell(counts[1]),
                cell(counts[2]),
            ]);
        }
        out.push_str(&format!("{outcomes}\n"));
        let t = &self.totals;
        out.push_str(&format!(
            "{} operations ({:.0}/s; {} found their objects gone), {} sent and {} received ({}/s), \
             {} VCs rebuilt, {} datagrams echoed and {} lost, {} slow callbacks\n",
            t.operations,
            t.operations as f64 / seconds,
            t.skipped,
            bytes(t.sent),
            bytes(t.received),
            bytes(((t.sent + t.received) as f64 / seconds) as u64),
            t.reconnects,
            self.datagrams.0,
            self.datagrams.1,
            self.slow_callbacks,
        ));
        out.push_str(&format!(
            "resident memory {} → {} KiB; trend after a {} s warm-up: {}\n",
            self.rss_kib.0.round(),
            self.rss_kib.1.round(),
            self.warm_up.as_secs(),
            match &self.trend {
                Some(t) => format!(
                    "{:+.0} KiB/min, {:+.2} descriptors/min over {:.0} s",
                    t.rss_kib_per_min, t.fds_per_min, t.window
                ),
                None => "not enough samples".into(),
            }
        ));
        let mut promises = table(&["promise", "held", "figures"], &[]);
        for p in &self.promises {
            let held = match p.held {
                Some(true) => "yes",
                Some(false) => "NO",
                None => "not checked",
            };
            promises.add_row(vec![p.name.to_owned(), held.to_owned(), p.detail.clone()]);
        }
        out.push_str(&format!("{promises}"));
        for broken in &self.broken.0 {
            out.push_str(&format!("\nbroken: {broken}"));
        }
        if self.broken.1 > self.broken.0.len() as u64 {
            out.push_str(&format!(
                "\n... and {} more",
                self.broken.1 - self.broken.0.len() as u64
            ));
        }
        out
    }

    /// One JSON object.
    pub fn json(&self) -> Value {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        json!({
            "event": "summary",
            "seed": self.seed,
            "replay": self.replay(),
            "ran_s": self.ran.as_secs_f64(),
            "lanes": self.lanes,
            "smbd": self.smbd,
            "operations": self.operations.iter().map(|r| json!({
                "operation": r.kind.name(), "count": r.count, "objects_gone": r.skipped,
                "p50_ms": ms(r.p50), "p99_ms": ms(r.p99), "max_ms": ms(r.max),
            })).collect::<Vec<_>>(),
            "outcomes": self.outcomes.iter().map(|(name, c)| json!({
                "status": name, "operations": c[0], "completions": c[1], "disconnects": c[2],
            })).collect::<Vec<_>>(),
            "totals": {
                "operations": self.totals.operations,
                "skipped": self.totals.skipped,
                "bytes_sent": self.totals.sent,
                "bytes_received": self.totals.received,
                "reconnects": self.totals.reconnects,
                "datagrams_echoed": self.datagrams.0,
                "datagrams_lost": self.datagrams.1,
                "slow_callbacks": self.slow_callbacks,
            },
            "resident_kib": {"first": self.rss_kib.0, "last": self.rss_kib.1},
            "trend": self.trend.map(|t| json!({
                "warm_up_s": self.warm_up.as_secs_f64(),
                "window_s": t.window,
                "rss_kib_per_min": t.rss_kib_per_min,
                "descriptors_per_min": t.fds_per_min,
                "bounds": {"rss_kib_per_min": TREND_BOUNDS.0, "descriptors_per_min": TREND_BOUNDS.1},
            })),
            "promises": self.promises.iter().map(|p| json!({
                "promise": p.name, "held": p.held, "figures": p.detail,
            })).collect::<Vec<_>>(),
            "broken": self.broken.0,
            "broken_count": self.broken.1,
            "held": self.held(),
        })
    }
}
