//! `rxce-bench`: the engine side by side with raw tokio sockets (and the
//! smb-transport crate) in one process, as ratios. See the library's docs
//! and `BENCHMARKS.md`.

use std::process::ExitCode;

use clap::Parser;

/// Measure the engine side by side with raw tokio sockets (and the
/// smb-transport crate) in one process, as ratios.
///
/// Scenarios: throughput (one-way bulk, vs raw tokio and a blocking
/// std-socket copy), rpc (64-byte round trips: p50, p99, rate), connect
/// (connections per second and latency), race (first-successful over a
/// black hole and a live peer), scale (--connections idle VCs, the peer in
/// a child process: memory per VC, build time) and smb-transport (framed
/// bulk vs the smb-transport crate). Each runs on a current-thread and a
/// multi-thread(2) runtime, rxce and baselines interleaved round by round
/// after a warm-up. A ratio above 1.0 means rxce did better.
///
/// With --json, stdout gets exactly one JSON object: {"command", "machine":
/// {...}, "scenarios": [{"name", "metric", "transport", "flavour", "unit",
/// "rxce", "baseline": {"name", "value"}, "ratio", "rounds", "spread"}],
/// "targets": [{"scenario", "flavour", "target", "measured", "holds"}]}.
///
/// Exit status: 0 when every scenario ran (whether or not targets hold), 1
/// when one failed, 2 for bad arguments.
#[derive(Debug, Parser)]
#[command(name = "rxce-bench", version)]
struct Cli {
    /// More log output on stderr (-v info, -vv debug, -vvv trace);
    /// `RUST_LOG` overrides it.
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(flatten)]
    args: rxce_bench::BenchArgs,
}

/// Builds its own runtimes, one per flavour.
fn main() -> ExitCode {
    let cli = Cli::parse();
    rxce_cli::init_logging(cli.verbose);
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    match rxce_bench::main(&cli.args, &command) {
        Ok(text) => {
            if !text.is_empty() {
                use std::io::Write;
                // A closed stdout (`| head`) is not worth a panic.
                let mut stdout = std::io::stdout().lock();
                let _ = writeln!(stdout, "{text}").and_then(|()| stdout.flush());
            }
            ExitCode::SUCCESS
        }
        Err(status) => {
            eprintln!("rxce-bench: {status}");
            ExitCode::from(1)
        }
    }
}
