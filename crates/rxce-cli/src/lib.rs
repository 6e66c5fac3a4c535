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

/// A duration as the command line takes it: a number of seconds (decimals
/// allowed: `1.5`), or a number with a unit, as many as wanted (`500ms`,
/// `2m 30s`; humantime's units).
///
/// ```
/// use std::time::Duration;
/// use rxce_cli::parse_duration;
///
/// assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
/// assert_eq!(parse_duration("2m 30s"), Ok(Duration::from_secs(150)));
/// assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
/// assert!(parse_duration("soon").unwrap_err().contains("\"soon\" is not a number of seconds"));
/// ```
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    match text.parse::<f64>() {
        Ok(secs) => std::time::Duration::try_from_secs_f64(secs)
            .map_err(|_| format!("{text:?} is not a usable number of seconds")),
        Err(_) => humantime::parse_duration(text)
            .map_err(|e| format!("{text:?} is not a number of seconds nor a duration such as 500ms or 2m ({e})")),
    }
}

/// [`parse_duration`], refusing a zero duration.
pub fn parse_nonzero_duration(text: &str) -> Result<std::time::Duration, String> {
    let duration = parse_duration(text)?;
    if duration.is_zero() {
        return Err("the duration must be longer than 0 seconds".into());
    }
    Ok(duration)
}

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
