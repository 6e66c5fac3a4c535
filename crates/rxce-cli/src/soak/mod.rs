//! `rxce soak`: a seeded random mix of the whole API against real peers
//! for a while, checking the engine's promises as it goes.
//!
//! Lanes run side by side, each one operation at a time from its own
//! [generator](mix) (seed and lane number → operations): builds and
//! tear-downs at every level (transport, address, connection, VC),
//! multi-transport races, sends in every mode, receive answers of all
//! three kinds, resumes, graceful disconnects, datagrams, stale handles —
//! over `tcp`, `tcp+smb`, `netbt`, `udp`, `unix` and `memory`, to embedded
//! echo peers and (where Samba is installed) a private smbd, a share of the
//! TCP-based connections through a fault proxy (latency, resets,
//! stalls, partitions). The books check, as indications come, that:
//!
//! - every asynchronous send is submitted and completed exactly once
//!   (a synchronous one returns once, within the operation limit);
//! - every byte an echo peer sends back is the next byte sent, intact and
//!   in order, each message whole on framed transports, and after a clean
//!   end every byte came back; datagrams come back whole or not at all;
//!   smbd answers each request;
//! - no indication of an object comes after its tear-down (or an
//!   ancestor's) returned; a lost VC is rebuilt or given up once;
//! - a torn-down handle gives STATUS_INVALID_HANDLE; statuses are the
//!   documented ones;
//! - at the end, with everything torn down, no object is alive and the
//!   process's descriptors are back where they started; after the warm-up,
//!   resident memory and descriptors do not trend upwards (see
//!   [`TREND_BOUNDS`]).
//!
//! Any broken promise makes the soak fail, naming the seed that replays
//! the same mix.

mod books;
mod datagrams;
mod handler;
mod lane;
mod ledger;
pub mod mix;
pub mod op;
mod pattern;
mod peers;
mod proxy;
mod report;
mod smb;
// smbd runs as a Unix process group; Windows has none to run.
#[cfg(unix)]
mod smbd;
#[cfg(not(unix))]
#[path = "no_smbd.rs"]
mod smbd;
mod stats;
mod world;

use std::sync::Arc;
use std::time::{Duration, Instant};

use rxce::{Engine, EngineConfig, Status};

use crate::endpoint::Kind;
use crate::process::{open_descriptors, resident_bytes};
pub use report::{Progress, Summary};
use stats::{Sample, Stats};

/// How a soak runs.
#[derive(Debug, Clone)]
pub struct SoakOptions {
    /// How long the mix runs (the tear-down and checks come after).
    pub duration: Duration,
    /// The seed of the mix.
    pub seed: u64,
    /// Lanes running side by side.
    pub lanes: usize,
    /// Use a private smbd when Samba is installed.
    pub smbd: bool,
    /// How often progress is reported.
    pub every: Duration,
}

impl SoakOptions {
    /// `duration` with `seed`, four lanes, smbd where installed, a report
    /// every 10 s.
    pub fn new(duration: Duration, seed: u64) -> SoakOptions {
        SoakOptions {
            duration,
            seed,
            lanes: 4,
            smbd: true,
            every: Duration::from_secs(10),
        }
    }
}

/// The most an operation may take before it counts as hung: every wait in
/// the mix is bounded by a timeout far below it.
const OPERATION_LIMIT: Duration = Duration::from_secs(60);

/// The trend bounds: after the warm-up, resident memory may grow by at
/// most this many KiB per minute and descriptors by at most this many per
/// minute (least-squares slopes of one sample a second). They are checked
/// once the window after the warm-up is at least [`TREND_MIN_WINDOW`]; a
/// leak of one descriptor per hundred connections, or of a kilobyte per
/// connection, is far above them (the mix builds thousands of connections a
/// minute).
pub const TREND_BOUNDS: (f64, f64) = (1024.0, 6.0);

/// The shortest window after the warm-up over which the trend is a
/// promise (shorter runs print it for information).
pub const TREND_MIN_WINDOW: Duration = Duration::from_secs(240);

/// The warm-up: the first quarter of the run, at most two minutes (the
/// buffer pool and the allocator's arenas fill during it).
fn warm_up(duration: Duration) -> Duration {
    (duration / 4).min(Duration::from_secs(120))
}

/// The engine as the soak runs it: short timeouts, so that every wait
/// ends well within the operation limit.
fn engine_config() -> EngineConfig {
    EngineConfig {
        connect_timeout: Duration::from_secs(5),
        disconnect_timeout: Duration::from_secs(3),
        dead_peer_timeout: Some(Duration::from_secs(5)),
        ..EngineConfig::default()
    }
}

/// Waits (up to `limit`) until `check` holds; true when it did.
async fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs one soak; `progress` gets a report every `options.every`. The
/// summary says which promises held; an error means the soak could not
/// run (a peer did not start).
pub async fn run(options: &SoakOptions, mut progress: impl FnMut(&Progress)) -> Result<Summary, Status> {
    let engine = Engine::new(engine_config())?;
    let smbd = match smbd::find_smbd().filter(|_| options.smbd) {
        Some(program) => Some(
            tokio::task::spawn_blocking(move || smbd::PrivateSmbd::start(&program))
                .await
                .map_err(|e| Status::UNEXPECTED_NETWORK_ERROR.with_message(format!("starting smbd: {e}")))??,
        ),
        None => None,
    };
    // The unix peers listen on abstract names (see crate::unix). The RPC
    // and 9P framings are not in the soak's mix yet (its sends of 0 to 2
    // bytes are no 9P message), nor is quic (its refused endpoint is a
    // silent UDP port: each attempt would wait out the connect timeout).
    let kinds: Vec<Kind> = Kind::ALL
        .into_iter()
        .filter(|&kind| kind != Kind::Quic)
        .filter(|&kind| kind != Kind::Unix || crate::unix::ABSTRACT_NAMES)
        .filter(|&kind| !matches!(kind, Kind::TcpRpc | Kind::Tcp9p))
        .collect();
    let peers = Arc::new(peers::Peers::start(&engine, &kinds, smbd).await?);
    let config = mix::MixConfig {
        kinds: kinds.clone(),
        smbd: peers.has_smbd(),
        ..mix::MixConfig::default()
    };
    let stats = Arc::new(Stats::default());
    let books = Arc::new(books::Books::new(options.seed, stats.clone()));
    let descriptors_before = open_descriptors();
    let started = Instant::now();
    let deadline = started + options.duration;

    let mut lanes = tokio::task::JoinSet::new();
    for n in 0..options.lanes {
        let mix = mix::Mix::new(options.seed, n, config.clone());
        let mut lane = lane::Lane::new(mix, engine.clone(), peers.clone(), books.clone());
        let stats = stats.clone();
        lanes.spawn(async move {
            while Instant::now() < deadline {
                let op = lane.next_op();
                let kind = op.kind();
                let began = Instant::now();
                let ran = match tokio::time::timeout(OPERATION_LIMIT, lane.run(op.clone())).await {
                    Ok(ran) => ran,
                    Err(_) => {
                        stats.violation(format!("lane {n}: {op:?} did not return within {OPERATION_LIMIT:?}"));
                        true
                    }
                };
                stats.op(kind, began.elapsed(), ran);
            }
            lane.finish().await;
        });
    }

    let mut samples = Vec::new();
    let mut last = report::Mark::default();
    let mut next_report = started + options.every;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    while !lanes.is_empty() {
        tokio::select! {
            joined = lanes.join_next() => {
                if let Some(Err(e)) = joined {
                    stats.violation(format!("a lane panicked: {e}"));
                }
                continue;
            }
            _ = tick.tick() => {}
        }
        let now = Instant::now();
        if now > deadline {
            continue;
        }
        books.prune();
        samples.push(Sample {
            at: now.duration_since(started).as_secs_f64(),
            rss_kib: resident_bytes() as f64 / 1024.0,
            fds: open_descriptors() as f64,
        });
        if now >= next_report {
            next_report += options.every;
            progress(&last.progress(now.duration_since(started), &stats, &engine));
        }
    }
    let mix_ended = started.elapsed();

    // Everything is torn down: what must hold now.
    let not_torn_down = books.not_torn_down();
    let datagrams = books.datagram_totals();
    books.clear();
    // Objects go when their last handle does: a resume a handler scheduled
    // may hold one for a few milliseconds.
    eventually(Duration::from_secs(10), || engine.live_objects().total() == 0).await;
    peers.close_proxies().await;
    eventually(Duration::from_secs(10), || open_descriptors() <= descriptors_before).await;
    let ends = report::Ends {
        not_torn_down,
        live: engine.live_objects(),
        descriptors: (descriptors_before, open_descriptors()),
        slow_callbacks: engine.slow_callbacks(),
    };
    let summary = report::Summary::new(
        options,
        mix_ended,
        &stats,
        &samples,
        warm_up(options.duration),
        peers.has_smbd(),
        datagrams,
        ends,
    );
    drop(engine);
    if let Some(peers) = Arc::into_inner(peers) {
        peers.stop().await;
    }
    Ok(summary)
}
