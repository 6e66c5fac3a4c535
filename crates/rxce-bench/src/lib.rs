//! `rxce-bench`: the engine side by side with raw tokio sockets (and with
//! the `smb-transport` crate), in one process, as ratios.
//!
//! Every scenario runs once per runtime flavour (current-thread and
//! multi-thread with two workers); rxce and its baselines run on the same
//! runtime (the engine through [`Engine::with_runtime`]), against the same
//! peer, with the same sizes, interleaved round by round after a warm-up
//! (see [`harness`]). Each row reports rxce's figure, the baseline's, and
//! the median and spread of the per-round ratios, where a ratio above 1.0
//! means rxce did better. `BENCHMARKS.md` at the repository root says what
//! each scenario measures and keeps the latest figures.

#![warn(missing_docs)]

mod connect;
pub mod fanout;
pub mod harness;
pub mod link;
pub mod machine;
pub mod plot;
pub mod progress;
mod quic;
mod race;
pub mod report;
pub mod rpc;
mod scale;
mod smb;
// It starts Samba's smbd and smbclient through the Linux-only harness.
#[cfg(target_os = "linux")]
mod smb_read;
mod throughput;

use std::path::PathBuf;
use std::time::Duration;

use rxce::{Engine, EngineConfig, Status};
// The command line's parts the scenarios drive: its endpoint URLs, its
// peers (those of `rxce serve`), its tables, its Unix-domain sockets and
// what it reads of /proc.
use rxce_cli::{endpoint, process, serve, table, unix};

use endpoint::{Endpoint, Kind};
use harness::Flavour;
use progress::Progress;
use report::{Facts, Row, Target};

/// A scenario of the bench.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// One-way bulk transfer.
    Throughput,
    /// 64-byte request/response round trips.
    Rpc,
    /// Connections built per second.
    Connect,
    /// A first-successful race over a black hole and a live transport.
    Race,
    /// Thousands of idle connections held at once (peer in a child process).
    Scale,
    /// N VCs (1 to 5,000, up to --connections) doing 64-byte round trips at
    /// once, and 1, 4, 16 sending 64 KiB at once, against N raw streams.
    Fanout,
    /// SMB-framed bulk transfer, rxce's tcp+smb against the smb-transport crate.
    SmbTransport,
    /// SMB over QUIC: throughput, 64 B rpc and handshake against raw quinn
    /// (not part of `all` yet).
    Quic,
    /// A 256 MiB file read from a private smbd: rxce's `smb get` path
    /// against smbclient and smb-rs (needs Samba and smbclient; not part
    /// of `all`).
    SmbRead,
    /// Every scenario.
    All,
}

impl Scenario {
    /// What `all` runs: every scenario with embedded peers (smb-read needs
    /// Samba and runs only when named).
    const EVERY: [Scenario; 7] = [
        Scenario::Throughput,
        Scenario::Rpc,
        Scenario::Connect,
        Scenario::Race,
        Scenario::Scale,
        Scenario::Fanout,
        Scenario::SmbTransport,
    ];

    fn name(self) -> &'static str {
        match self {
            Scenario::Throughput => "throughput",
            Scenario::Rpc => "rpc",
            Scenario::Connect => "connect",
            Scenario::Race => "race",
            Scenario::Scale => "scale",
            Scenario::Fanout => "fanout",
            Scenario::SmbTransport => "smb-transport",
            Scenario::SmbRead => "smb-read",
            Scenario::Quic => "quic",
            Scenario::All => "all",
        }
    }
}

/// The transports `--transport` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TransportChoice {
    /// TCP, a bare byte stream.
    Tcp,
    /// TCP with SMB direct-hosted framing.
    #[value(name = "tcp+smb")]
    TcpSmb,
    /// TCP with ONC RPC record marking.
    #[value(name = "tcp+rpc")]
    TcpRpc,
    /// TCP with 9P framing.
    #[value(name = "tcp+9p")]
    Tcp9p,
    /// The NetBIOS session service.
    Netbt,
    /// Unix-domain stream sockets (abstract names).
    Unix,
    /// The engine's in-process memory transport.
    Memory,
}

impl TransportChoice {
    fn kind(self) -> Kind {
        match self {
            TransportChoice::Tcp => Kind::Tcp,
            TransportChoice::TcpSmb => Kind::TcpSmb,
            TransportChoice::TcpRpc => Kind::TcpRpc,
            TransportChoice::Tcp9p => Kind::Tcp9p,
            TransportChoice::Netbt => Kind::Netbt,
            TransportChoice::Unix => Kind::Unix,
            TransportChoice::Memory => Kind::Memory,
        }
    }
}

/// The runtime flavours `--flavour` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FlavourChoice {
    /// Both, current-thread first.
    Both,
    /// Only the current-thread runtime.
    CurrentThread,
    /// Only the multi-thread runtime with two workers.
    MultiThread,
}

/// The arguments of `rxce-bench`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// The scenario to run.
    #[arg(long, value_enum, default_value_t = Scenario::All)]
    pub scenario: Scenario,
    /// The transport of the throughput, rpc and connect scenarios (race and
    /// scale run over tcp, smb-transport over tcp+smb).
    #[arg(long, value_enum, default_value_t = TransportChoice::Tcp)]
    pub transport: TransportChoice,
    /// `embedded` (peers inside the bench, on loopback or in memory), or
    /// the URL of a running peer (`rxce serve`: a sink for throughput, an
    /// echo for rpc and connect) of the --transport kind.
    #[arg(long, value_name = "embedded|URL", default_value = "embedded")]
    pub peer: String,
    /// Seconds each scenario measures on each runtime flavour (after its
    /// warm-up); decimals allowed, or a duration with units (`500ms`).
    #[arg(long, value_name = "SECS", default_value = "3", value_parser = rxce_cli::parse_nonzero_duration)]
    pub duration: Duration,
    /// Idle connections the scale scenario holds open at once; the largest
    /// fan-out level of the fanout scenario (at most 5,000 there).
    #[arg(long, value_name = "N", default_value_t = 9000, value_parser = clap::value_parser!(u64).range(1..19000))]
    pub connections: u64,
    /// The send size of the throughput and smb-transport scenarios (65536
    /// by default; 1048576 for 1 MiB).
    #[arg(long, value_name = "BYTES", default_value_t = 65536, value_parser = clap::value_parser!(u64).range(1..=16_777_215))]
    pub size: u64,
    /// The runtime flavours to run.
    #[arg(long, value_enum, default_value_t = FlavourChoice::Both)]
    pub flavour: FlavourChoice,
    /// Print one JSON object on stdout instead of the tables.
    #[arg(long)]
    pub json: bool,
    /// Write the rpc latency distributions (rxce and raw tokio) to this SVG
    /// file; the fanout curves (round trips per second and p99 against N)
    /// go to FILE-fanout.svg beside it, or to FILE when rpc did not run.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
    /// Internal: run as the scale scenario's peer (a child process).
    #[arg(long, hide = true)]
    pub scale_peer: bool,
}

/// What a bench run does.
#[derive(Debug, Clone)]
pub struct Options {
    /// The scenarios, in order.
    pub scenarios: Vec<Scenario>,
    /// The transport of throughput, rpc and connect.
    pub transport: Kind,
    /// A running peer instead of embedded ones.
    pub peer: Option<Endpoint>,
    /// Measuring time per scenario and flavour.
    pub duration: Duration,
    /// Connections of the scale scenario.
    pub connections: usize,
    /// Send size of the bulk scenarios.
    pub size: usize,
    /// The runtime flavours.
    pub flavours: Vec<Flavour>,
    /// The program started as the scale scenario's peer (`PROGRAM
    /// --scale-peer`); this executable when `None`.
    pub peer_program: Option<PathBuf>,
}

impl Options {
    /// Options from the command line's arguments.
    pub fn from_args(args: &BenchArgs) -> Result<Options, String> {
        let transport = args.transport.kind();
        let peer = match args.peer.as_str() {
            "embedded" => None,
            url => {
                let endpoint = Endpoint::parse(url).map_err(|e| e.to_string())?;
                if endpoint.kind() != transport {
                    return Err(format!(
                        "--peer {url} is a {} endpoint but --transport is {}",
                        endpoint.transport_name(),
                        transport.transport_name()
                    ));
                }
                if matches!(endpoint.kind(), Kind::Memory | Kind::Udp) {
                    return Err(format!(
                        "--peer {url}: a {} peer cannot be reached",
                        endpoint.transport_name()
                    ));
                }
                Some(endpoint)
            }
        };
        let scenarios = match args.scenario {
            Scenario::All => Scenario::EVERY.to_vec(),
            one => vec![one],
        };
        let flavours = match args.flavour {
            FlavourChoice::Both => Flavour::ALL.to_vec(),
            FlavourChoice::CurrentThread => vec![Flavour::CurrentThread],
            FlavourChoice::MultiThread => vec![Flavour::MultiThread],
        };
        Ok(Options {
            scenarios,
            transport,
            peer,
            duration: args.duration,
            connections: args.connections as usize,
            size: args.size as usize,
            flavours,
            peer_program: None,
        })
    }
}

/// What one scenario on one runtime flavour gets.
pub(crate) struct Ctx<'a> {
    pub(crate) engine: Engine,
    pub(crate) flavour: Flavour,
    pub(crate) options: &'a Options,
    pub(crate) progress: &'a Progress,
}

impl Ctx<'_> {
    /// The transport of throughput, rpc and connect.
    pub(crate) fn kind(&self) -> Kind {
        self.options.transport
    }
}

/// Everything a bench run found.
#[derive(Debug)]
pub struct Outcome {
    /// The machine section.
    pub machine: serde_json::Value,
    /// Every row, in scenario then flavour order.
    pub rows: Vec<Row>,
    /// The targets, checked.
    pub targets: Vec<Target>,
    /// The rpc latencies per flavour, for the plot.
    pub latencies: Vec<rpc::Latencies>,
    /// The fanout levels' medians, for the plot.
    pub fanout: Vec<fanout::Point>,
}

/// Runs the bench.
pub fn run(options: &Options) -> Result<Outcome, Status> {
    let load = machine::load_average();
    let progress = Progress::start((options.scenarios.len() * options.flavours.len()) as u64);
    let mut rows: Vec<Row> = Vec::new();
    let mut latencies = Vec::new();
    let mut points = Vec::new();
    let mut facts = Facts {
        size: options.size,
        connections: options.connections,
        attempt_timeout_ms: race::ATTEMPT_TIMEOUT.as_secs_f64() * 1e3,
        ..Facts::default()
    };
    for &scenario in &options.scenarios {
        for &flavour in &options.flavours {
            progress.message(&format!("{} {}", scenario.name(), flavour.name()));
            let runtime = flavour.runtime().inspect_err(|_| progress.finish())?;
            let (task_options, task_progress) = (options.clone(), progress.clone());
            // The scenario runs as a task of the runtime, as an application's
            // code would (not as the `block_on` future, which tokio treats
            // differently when another task wakes it).
            let ran = runtime.block_on(async move {
                tokio::spawn(async move { scenario_task(scenario, flavour, &task_options, &task_progress).await })
                    .await
                    .map_err(|e| Status::CANCELLED.with_message(format!("the scenario task failed: {e}")))?
            });
            runtime.shutdown_timeout(Duration::from_secs(2));
            let ran = match ran {
                Ok(ran) => ran,
                Err(status) => {
                    progress.finish();
                    return Err(status);
                }
            };
            match ran {
                Ran::Rows(more) => rows.extend(more),
                Ran::Rpc(more, samples) => {
                    rows.extend(more);
                    latencies.push(samples);
                }
                Ran::Fanout(more, more_points) => {
                    rows.extend(more);
                    points.extend(more_points);
                }
                Ran::Race(more, slowest) => {
                    rows.extend(more);
                    facts
                        .slowest_race_ms
                        .push((flavour.name().to_owned(), slowest.as_secs_f64() * 1e3));
                }
            }
            progress.step();
        }
    }
    progress.finish();
    let targets = report::targets(&rows, &facts);
    Ok(Outcome {
        machine: machine::describe(load),
        rows,
        targets,
        latencies,
        fanout: points,
    })
}

/// What a scenario task hands back.
enum Ran {
    Rows(Vec<Row>),
    Rpc(Vec<Row>, rpc::Latencies),
    Race(Vec<Row>, Duration),
    Fanout(Vec<Row>, Vec<fanout::Point>),
}

/// One scenario on the current runtime, with an engine of its own.
async fn scenario_task(
    scenario: Scenario,
    flavour: Flavour,
    options: &Options,
    progress: &Progress,
) -> Result<Ran, Status> {
    let engine = Engine::with_runtime(tokio::runtime::Handle::current(), EngineConfig::default())?;
    let ctx = Ctx {
        engine: engine.clone(),
        flavour,
        options,
        progress,
    };
    let ran = match scenario {
        Scenario::Throughput => throughput::run(&ctx).await.map(Ran::Rows),
        Scenario::Rpc => rpc::run(&ctx).await.map(|(rows, samples)| Ran::Rpc(rows, samples)),
        Scenario::Connect => connect::run(&ctx).await.map(Ran::Rows),
        Scenario::Race => race::run(&ctx).await.map(|(rows, slowest)| Ran::Race(rows, slowest)),
        Scenario::Scale => scale::run(&ctx).await.map(Ran::Rows),
        Scenario::Fanout => fanout::run(&ctx).await.map(|(rows, points)| Ran::Fanout(rows, points)),
        Scenario::SmbTransport => smb::run(&ctx).await.map(Ran::Rows),
        Scenario::Quic => quic::run(&ctx).await.map(Ran::Rows),
        #[cfg(target_os = "linux")]
        Scenario::SmbRead => smb_read::run(&ctx).await.map(Ran::Rows),
        #[cfg(not(target_os = "linux"))]
        Scenario::SmbRead => Err(Status::NOT_SUPPORTED
            .with_message("the smb-read scenario starts a private smbd, which rxce does on Linux only")),
        Scenario::All => Ok(Ran::Rows(Vec::new())),
    };
    drop(ctx);
    engine.shutdown().await;
    ran.map_err(|status| {
        Status::from_code(status.code()).with_message(format!("{} on {}: {status}", scenario.name(), flavour.name()))
    })
}

/// Runs `rxce-bench` with its arguments: prints the tables (or the JSON)
/// on stdout and writes the plot. `command` is the command line as typed,
/// kept in the JSON.
pub fn main(args: &BenchArgs, command: &str) -> Result<String, Status> {
    if args.scale_peer {
        scale::child_main()?;
        return Ok(String::new());
    }
    let options = Options::from_args(args).map_err(|e| Status::INVALID_PARAMETER.with_message(e))?;
    let outcome = run(&options)?;
    if let Some(path) = &args.plot {
        let write = |path: &std::path::Path, svg: String| {
            std::fs::write(path, svg).map_err(|e| Status::from_io(e, format!("writing {}", path.display())))
        };
        let fanout = !outcome.fanout.is_empty();
        if !outcome.latencies.is_empty() || !fanout {
            write(path, plot::svg(&outcome.latencies))?;
        }
        if fanout {
            let beside = match outcome.latencies.is_empty() {
                true => path.clone(),
                false => plot::beside(path, "fanout"),
            };
            write(&beside, plot::fanout_svg(&outcome.fanout))?;
        }
    }
    if args.json {
        let value = report::json(command, outcome.machine, &outcome.rows, &outcome.targets);
        return Ok(value.to_string());
    }
    let mut text = report::render(&outcome.rows);
    if !outcome.targets.is_empty() {
        text.push_str("\n\nTargets (one run, ratios above 1.0: rxce did better)\n");
        text.push_str(&report::render_targets(&outcome.targets));
    }
    let load = &outcome.machine["load_average_at_start"];
    text.push_str(&format!(
        "\n\n{} cpus, load average at start {load}, {} build",
        outcome.machine["cpus"], outcome.machine["build"]
    ));
    Ok(text)
}
