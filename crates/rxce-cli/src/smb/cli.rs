//! The arguments and output of `rxce smb get` and `rxce smb ls`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rxce::{Engine, EngineConfig, Status};

use super::files::ReadOptions;
use super::get::{get, list, render_listing, GetOptions};
use super::session::SessionOptions;
use super::url::{SmbTransport, SmbUrl};
use super::{status_line, Logon};
use crate::table::bytes;

/// `rxce smb`: read from an SMB2 server.
#[derive(Debug, Args)]
pub struct SmbArgs {
    #[command(subcommand)]
    command: SmbCommand,
}

#[derive(Debug, Subcommand)]
enum SmbCommand {
    /// Copy a file from the server: smb://HOST[:PORT]/SHARE/PATH.
    ///
    /// Writes to -o FILE (default: the file's name, in the current
    /// directory) through a temporary `.NAME.rxce-part` renamed once the
    /// last byte is in; a failed transfer removes it. A progress bar shows
    /// on a terminal. Prints one summary line on stdout.
    ///
    /// Exit status: 0 when the whole file was written; 1 with the NTSTATUS
    /// name, code and message on stderr (STATUS_BAD_NETWORK_NAME for an
    /// unknown share, STATUS_OBJECT_NAME_NOT_FOUND for an unknown file,
    /// STATUS_ACCESS_DENIED, STATUS_CONNECTION_RESET when the server goes
    /// away mid-read, STATUS_NOT_SUPPORTED when it requires signing or
    /// encryption); 2 for bad arguments.
    Get(GetArgs),
    /// List a directory: smb://HOST[:PORT]/SHARE[/DIR].
    ///
    /// One line per entry (type, size, last write in UTC, name), sorted by
    /// name, then the count. Exit status as for get.
    Ls(LsArgs),
}

/// What both commands share.
#[derive(Debug, Args)]
struct Common {
    /// The transport: tcp+smb (direct-hosted, port 445) or netbt (NetBIOS
    /// session service, port 139, calling the server *SMBSERVER or by the
    /// first label of its DNS name).
    #[arg(long, value_name = "tcp+smb|netbt", default_value = "tcp+smb", value_parser = SmbTransport::parse)]
    transport: SmbTransport,
    /// Log on as guest with this user name (one the server does not know,
    /// mapped to guest by `map to guest = Bad User`); default: anonymous.
    #[arg(long, value_name = "NAME")]
    user: Option<String>,
    /// The longest wait for the connection or any answer, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(1..))]
    timeout: u64,
}

impl Common {
    fn session(&self) -> SessionOptions {
        SessionOptions {
            logon: match &self.user {
                Some(user) => Logon::Guest { user: user.clone() },
                None => Logon::Anonymous,
            },
            timeout: Duration::from_millis(self.timeout),
        }
    }
}

#[derive(Debug, Args)]
struct GetArgs {
    /// smb://HOST[:PORT]/SHARE/PATH
    #[arg(value_name = "URL", value_parser = SmbUrl::parse)]
    url: SmbUrl,
    /// Where to write the file.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Bytes per READ (default and maximum: the server's MaxReadSize).
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u32).range(1..))]
    read_size: Option<u32>,
    /// READs in flight at most (credits permitting).
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=256))]
    window: u64,
    #[command(flatten)]
    common: Common,
}

#[derive(Debug, Args)]
struct LsArgs {
    /// smb://HOST[:PORT]/SHARE[/DIR]
    #[arg(value_name = "URL", value_parser = SmbUrl::parse)]
    url: SmbUrl,
    #[command(flatten)]
    common: Common,
}

/// Runs `rxce smb ...` on `runtime`.
pub fn main(runtime: &tokio::runtime::Runtime, args: SmbArgs) -> ExitCode {
    let (name, result) = match args.command {
        SmbCommand::Get(args) => ("get", runtime.block_on(run_get(args))),
        SmbCommand::Ls(args) => ("ls", runtime.block_on(run_ls(args))),
    };
    match result {
        Ok(text) => {
            use std::io::Write;
            let mut stdout = std::io::stdout().lock();
            let _ = writeln!(stdout, "{text}").and_then(|()| stdout.flush());
            ExitCode::SUCCESS
        }
        Err(status) => {
            eprintln!("rxce smb {name}: {}", status_line(&status));
            ExitCode::from(1)
        }
    }
}

fn engine() -> Result<Engine, Status> {
    Engine::with_runtime(tokio::runtime::Handle::current(), EngineConfig::default())
}

async fn run_get(args: GetArgs) -> Result<String, Status> {
    let mut url = args.url;
    url.transport = args.common.transport;
    if url.path.is_empty() {
        return Err(Status::INVALID_PARAMETER.with_message(format!("{url} names no file")));
    }
    let output = args.output.unwrap_or_else(|| PathBuf::from(url.file_name()));
    let options = GetOptions {
        url: url.clone(),
        output: output.clone(),
        session: args.common.session(),
        read: ReadOptions {
            read_size: args.read_size,
            window: args.window as usize,
        },
    };
    let engine = engine()?;
    let bar = progress_bar();
    let mut progress = |done: u64, total: u64| {
        if let Some(bar) = &bar {
            bar.set_length(total);
            bar.set_position(done);
        }
    };
    let result = get(&engine, &options, &mut progress).await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    engine.shutdown().await;
    let report = result?;
    let secs = report.read_time.as_secs_f64().max(1e-9);
    let stats = report.stats;
    let straight = if stats.bytes == 0 {
        100.0
    } else {
        100.0 * stats.direct as f64 / stats.bytes as f64
    };
    Ok(format!(
        "{url} -> {}: {} B in {:.3} s ({}/s read; {:.3} s with logon); {} {}, {} session; \
         {} READs, up to {} in flight; {straight:.1}% of the payload straight from the socket into the buffers",
        output.display(),
        report.bytes,
        secs,
        bytes((report.bytes as f64 / secs) as u64),
        report.elapsed.as_secs_f64(),
        url.transport.provider(),
        rxce_smb2::dialect::name(report.server.dialect),
        report.server.session_kind(),
        stats.reads,
        stats.max_in_flight,
    ))
}

async fn run_ls(args: LsArgs) -> Result<String, Status> {
    let mut url = args.url;
    url.transport = args.common.transport;
    let engine = engine()?;
    let listed = list(&engine, &url, &args.common.session()).await;
    engine.shutdown().await;
    Ok(render_listing(&listed?))
}

/// A byte progress bar on stderr when it is a terminal.
fn progress_bar() -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} {eta}") {
        bar.set_style(style);
    }
    Some(bar)
}
