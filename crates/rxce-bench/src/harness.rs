//! The bench's harness: runtime flavours, interleaved rounds after a
//! warm-up, and the statistics of per-pair ratios.
//!
//! A scenario has contenders (index 0 is always rxce, then its baselines).
//! Each round runs every contender once for the same time slice, in turn,
//! in the same process and on the same runtime; odd rounds run them in the
//! reverse order (A B, B A, ...), so that neither side always inherits the
//! other's warm caches or its leftover kernel work. The first rounds are a
//! warm-up and are not recorded. A row then reports, for rxce and one
//! baseline, the median of their per-round figures, and the median and
//! spread of the per-round ratios.

use std::time::{Duration, Instant};

use rxce::Status;

use super::progress::Progress;

/// The tokio runtime a scenario runs on (rxce and its baselines alike).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// `new_current_thread`: everything on the bench's thread.
    CurrentThread,
    /// `new_multi_thread` with two workers (the machine's two cores).
    MultiThread,
}

impl Flavour {
    /// Both flavours, in report order.
    pub const ALL: [Flavour; 2] = [Flavour::CurrentThread, Flavour::MultiThread];

    /// The name in tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Flavour::CurrentThread => "current-thread",
            Flavour::MultiThread => "multi-thread(2)",
        }
    }

    /// A fresh runtime of this flavour with I/O and time enabled.
    pub fn runtime(self) -> Result<tokio::runtime::Runtime, Status> {
        let mut builder = match self {
            Flavour::CurrentThread => tokio::runtime::Builder::new_current_thread(),
            Flavour::MultiThread => {
                let mut b = tokio::runtime::Builder::new_multi_thread();
                b.worker_threads(2);
                b
            }
        };
        builder
            .enable_all()
            .build()
            .map_err(|e| Status::from_io(e, "starting the bench runtime"))
    }
}

/// Whether a bigger figure is better (rates) or a smaller one (times,
/// memory).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    /// Rates: ratio = rxce / baseline.
    Higher,
    /// Times and memory: ratio = baseline / rxce.
    Lower,
}

impl Better {
    /// rxce's relative performance: above 1.0 means rxce did better.
    pub fn ratio(self, rxce: f64, baseline: f64) -> f64 {
        match self {
            Better::Higher => rxce / baseline,
            Better::Lower => baseline / rxce,
        }
    }
}

/// How long a scenario measures and how it slices the time.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Each contender's time per round.
    pub slice: Duration,
    /// Unrecorded rounds first.
    pub warmup: usize,
    /// Recorded rounds at least (even past the time budget) ...
    pub min_rounds: usize,
    /// ... and at most.
    pub max_rounds: usize,
    /// The time budget of the recorded rounds.
    pub budget: Duration,
}

/// Rounds a scenario aims for within its budget.
const ROUNDS_AIMED: u32 = 12;

impl Plan {
    /// A plan for `contenders` sharing `budget`: about a dozen rounds, each
    /// contender's slice between 10 ms and 500 ms.
    pub fn new(budget: Duration, contenders: usize) -> Plan {
        let slice = budget / (ROUNDS_AIMED * contenders.max(1) as u32);
        Plan {
            slice: slice.clamp(Duration::from_millis(10), Duration::from_millis(500)),
            warmup: 1,
            min_rounds: 3,
            max_rounds: 200,
            budget,
        }
    }
}

/// The figures of one contender in one round (one value per metric of the
/// scenario), and optionally raw samples (latencies) kept for the plot.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    /// One value per metric, in the scenario's metric order.
    pub values: Vec<f64>,
    /// Raw samples of the round (microseconds), if the scenario keeps any.
    pub samples: Vec<f64>,
}

impl Figures {
    /// Figures without samples.
    pub fn of(values: Vec<f64>) -> Figures {
        Figures {
            values,
            samples: Vec::new(),
        }
    }
}

/// Every recorded round: `rounds[r][c]` are contender c's figures in round r.
#[derive(Debug, Default)]
pub struct Recorded {
    /// The rounds, in order.
    pub rounds: Vec<Vec<Figures>>,
}

impl Recorded {
    /// Contender `c`'s metric `m`, round by round.
    pub fn series(&self, c: usize, m: usize) -> Vec<f64> {
        self.rounds.iter().map(|r| r[c].values[m]).collect()
    }

    /// Contender `c`'s samples of every round, in one vector.
    pub fn samples(&self, c: usize) -> Vec<f64> {
        self.rounds.iter().flat_map(|r| r[c].samples.iter().copied()).collect()
    }
}

/// A scenario's contenders: contender 0 is rxce, the others its baselines.
pub(crate) trait Contest {
    /// Runs contender `contender` for one slice and returns its figures.
    async fn run(&mut self, contender: usize, slice: Duration) -> Result<Figures, Status>;
}

/// Runs the `contenders` of `contest` in interleaved rounds (see the
/// module docs) and returns the recorded rounds.
pub(crate) async fn interleave<C: Contest>(
    plan: &Plan,
    contenders: usize,
    progress: &Progress,
    label: &str,
    contest: &mut C,
) -> Result<Recorded, Status> {
    let mut recorded = Recorded::default();
    let mut round = 0usize;
    let mut measuring = Duration::ZERO;
    loop {
        let warm = round < plan.warmup;
        let recorded_rounds = recorded.rounds.len();
        if !warm
            && recorded_rounds >= plan.min_rounds
            && (measuring >= plan.budget || recorded_rounds >= plan.max_rounds)
        {
            break;
        }
        progress.message(&format!(
            "{label}: {} round {}",
            if warm { "warm-up" } else { "measuring" },
            if warm { round + 1 } else { recorded_rounds + 1 }
        ));
        let started = Instant::now();
        let mut figures: Vec<Option<Figures>> = vec![None; contenders];
        for k in 0..contenders {
            let c = if round.is_multiple_of(2) { k } else { contenders - 1 - k };
            figures[c] = Some(contest.run(c, plan.slice).await?);
        }
        if !warm {
            measuring += started.elapsed();
            recorded
                .rounds
                .push(figures.into_iter().map(Option::unwrap_or_default).collect());
        }
        round += 1;
    }
    Ok(recorded)
}

/// The value at quantile `q` (0..=1) of `values`, interpolated; NaN when
/// empty.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted.sort_by(f64::total_cmp);
    let at = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let (lo, hi) = (at.floor() as usize, at.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo as f64)
}

/// The median of `values`.
pub fn median(values: &[f64]) -> f64 {
    quantile(values, 0.5)
}

/// What a row says about rxce against one baseline over the rounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comparison {
    /// Median of rxce's per-round figures.
    pub rxce: f64,
    /// Median of the baseline's per-round figures.
    pub baseline: f64,
    /// Median of the per-round ratios (above 1.0: rxce did better).
    pub ratio: f64,
    /// Interquartile range of the per-round ratios (q3 − q1).
    pub spread: f64,
    /// Rounds compared.
    pub rounds: usize,
}

/// Compares two per-round series (paired by round).
pub fn compare(rxce: &[f64], baseline: &[f64], better: Better) -> Comparison {
    let ratios: Vec<f64> = rxce.iter().zip(baseline).map(|(&a, &b)| better.ratio(a, b)).collect();
    Comparison {
        rxce: median(rxce),
        baseline: median(baseline),
        ratio: median(&ratios),
        spread: quantile(&ratios, 0.75) - quantile(&ratios, 0.25),
        rounds: ratios.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[1.0, 2.0, 3.0, 4.0]), 2.5);
        assert_eq!(quantile(&[0.0, 10.0], 0.9), 9.0);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn ratios_say_better_above_one() {
        let c = compare(&[200.0, 220.0], &[100.0, 110.0], Better::Higher);
        assert_eq!(c.ratio, 2.0);
        assert_eq!(c.spread, 0.0);
        let c = compare(&[50.0], &[100.0], Better::Lower);
        assert_eq!(c.ratio, 2.0);
        assert_eq!(c.rounds, 1);
    }

    #[test]
    fn rounds_alternate_order_after_a_warm_up() {
        let plan = Plan {
            slice: Duration::from_millis(1),
            warmup: 1,
            min_rounds: 3,
            max_rounds: 3,
            budget: Duration::ZERO,
        };
        struct Log(Vec<usize>);
        impl Contest for Log {
            async fn run(&mut self, c: usize, _: Duration) -> Result<Figures, Status> {
                self.0.push(c);
                Ok(Figures::of(vec![c as f64]))
            }
        }
        let mut log = Log(Vec::new());
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let recorded = rt
            .block_on(interleave(&plan, 2, &Progress::hidden(), "t", &mut log))
            .unwrap();
        assert_eq!(recorded.rounds.len(), 3);
        assert_eq!(log.0, [0, 1, 1, 0, 0, 1, 1, 0]);
        assert_eq!(recorded.series(1, 0), [1.0, 1.0, 1.0]);
    }
}
