//! `rxce`: try the RDBSS connection engine from the command line.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use rxce::Status;

/// The rxce connection engine on the command line.
#[derive(Debug, Parser)]
#[command(name = "rxce", version, about, long_about = None)]
struct Cli {
    /// More log output on stderr (-v info, -vv debug, -vvv trace);
    /// `RUST_LOG` overrides it.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the engine end to end against embedded peers (TCP on loopback
    /// and in memory) and print what happened. Needs no server.
    Demo,
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// Prints a failing status the same way for every command.
fn fail(command: &str, status: &Status) -> ExitCode {
    eprintln!("rxce {command}: {status}");
    ExitCode::from(1)
}

fn runtime() -> Result<tokio::runtime::Runtime, Status> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Status::from_io(e, "starting the runtime"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    match cli.command {
        Command::Demo => {
            let runtime = match runtime() {
                Ok(runtime) => runtime,
                Err(status) => return fail("demo", &status),
            };
            match runtime.block_on(rxce_cli::demo::run()) {
                Ok(rows) => {
                    println!("{}", rxce_cli::demo::render(&rows));
                    println!("rxce demo: every step succeeded");
                    ExitCode::SUCCESS
                }
                Err((rows, status)) => {
                    println!("{}", rxce_cli::demo::render(&rows));
                    fail("demo", &status)
                }
            }
        }
    }
}
