//! The `rxce` command line's parts, as a library so that tests and
//! benchmarks (the `rxce-bench` crate) can drive them: the peers of `rxce
//! serve`, the SMB probe of `rxce probe`, the demo, the soak of `rxce soak`,
//! and the output helpers.

#![warn(missing_docs)]

pub mod connect;
pub mod demo;
pub mod probe;
pub mod process;
pub mod serve;
pub mod smb;
pub mod soak;
pub mod spinner;
pub mod table;
pub mod unix;

/// Endpoint URLs: the `rxce-endpoint` crate.
pub use rxce_endpoint as endpoint;

/// Sends log output to stderr: warnings by default, more with each
/// `verbose` step (-v info, -vv debug, -vvv trace); `RUST_LOG` overrides it.
pub fn init_logging(verbose: u8) {
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
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}
