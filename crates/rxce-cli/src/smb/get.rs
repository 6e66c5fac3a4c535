//! `rxce smb get` and `rxce smb ls`: one session, one file or directory.
//!
//! `get` writes into a temporary file beside the output (`.NAME.rxce-part`)
//! and renames it only once every byte is in: a transfer that fails leaves
//! no file that looks complete (the temporary one is removed). An output
//! that exists and is not a regular file (`/dev/null`, a pipe) is written
//! directly.

use std::fs::{self, File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rxce::{Engine, ReceiveBuffer, Status};
use rxce_smb2::directory::DirectoryEntry;

use super::files::{ReadBuffers, ReadOptions, ReadSink, ReadStats};
use super::session::{ServerInfo, Session, SessionOptions};
use super::url::SmbUrl;

/// What `get` reads and where it writes.
#[derive(Debug, Clone)]
pub struct GetOptions {
    /// The file.
    pub url: SmbUrl,
    /// Where to write it.
    pub output: PathBuf,
    /// Logon and timeout.
    pub session: SessionOptions,
    /// READ size and window.
    pub read: ReadOptions,
}

/// What `get` did.
#[derive(Debug, Clone)]
pub struct GetReport {
    /// Bytes written.
    pub bytes: u64,
    /// From the connection's start to the file's close.
    pub elapsed: Duration,
    /// The read alone (first READ sent to last answer).
    pub read_time: Duration,
    /// What the server said at NEGOTIATE and SESSION_SETUP.
    pub server: ServerInfo,
    /// How the payload travelled.
    pub stats: ReadStats,
}

/// Reads `options.url` into `options.output`; `progress(done, total)` hears
/// of every answer.
///
/// # Errors
///
/// The failure that ended the transfer (the server's status, the VC's end,
/// a timeout, or writing the output); the temporary file is removed.
pub async fn get(
    engine: &Engine,
    options: &GetOptions,
    progress: &mut (dyn FnMut(u64, u64) + Send),
) -> Result<GetReport, Status> {
    let started = Instant::now();
    let direct = fs::metadata(&options.output).is_ok_and(|m| !m.is_file());
    let target = if direct {
        options.output.clone()
    } else {
        part_name(&options.output)
    };
    let mut session = Session::open(engine, &options.url, &options.session).await?;
    let server = session.server_info();
    let result = read_into(&mut session, options, &target, progress).await;
    let closed = session.close().await;
    let finished = result.and_then(|(stats, read_time)| {
        closed?;
        if !direct {
            fs::rename(&target, &options.output).map_err(|e| {
                Status::from_io(
                    e,
                    format!("renaming {} to {}", target.display(), options.output.display()),
                )
            })?;
        }
        Ok((stats, read_time))
    });
    match finished {
        Ok((stats, read_time)) => Ok(GetReport {
            bytes: stats.bytes,
            elapsed: started.elapsed(),
            read_time,
            server,
            stats,
        }),
        Err(status) => {
            if !direct {
                let _ = fs::remove_file(&target);
            }
            Err(status)
        }
    }
}

async fn read_into(
    session: &mut Session,
    options: &GetOptions,
    target: &Path,
    progress: &mut (dyn FnMut(u64, u64) + Send),
) -> Result<(ReadStats, Duration), Status> {
    let file = session.open_file(&options.url.path, false).await?;
    let output = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(target)
        .map_err(|e| Status::from_io(e, format!("creating {}", target.display())))?;
    let mut sink = FileSink {
        file: output,
        buffers: ReadBuffers::default(),
    };
    let total = file.size;
    progress(0, total);
    let read_started = Instant::now();
    let read = session
        .read_file(&file, &mut sink, options.read, &mut |done| progress(done, total))
        .await;
    let read_time = read_started.elapsed();
    // The close is sent even after a failed read, unless the VC is gone.
    let closed = session.close_file(&file).await;
    let stats = read?;
    closed?;
    Ok((stats, read_time))
}

/// `.NAME.rxce-part` beside `output`.
fn part_name(output: &Path) -> PathBuf {
    let name = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    output.with_file_name(format!(".{name}.rxce-part"))
}

/// Writes each filled buffer at its offset and keeps it for the next READ.
struct FileSink {
    file: File,
    buffers: ReadBuffers,
}

impl ReadSink for FileSink {
    fn buffer(&mut self, _offset: u64, len: usize) -> Box<dyn ReceiveBuffer> {
        self.buffers.take(len)
    }

    fn filled(&mut self, offset: u64, buffer: Box<dyn ReceiveBuffer>, len: usize) -> Result<(), Status> {
        let buffer = ReadBuffers::bytes(buffer)?;
        // A seek and a write (rather than Unix's pwrite) work on every OS.
        self.file
            .seek(SeekFrom::Start(offset))
            .and_then(|_| self.file.write_all(&buffer[..len]))
            .map_err(|e| Status::from_io(e, "writing the output file"))?;
        self.buffers.give_back(buffer);
        Ok(())
    }
}

/// Lists the directory of `url` (its path; the share's root when empty).
///
/// # Errors
///
/// The server's refusal, the VC's end, or a timeout.
pub async fn list(engine: &Engine, url: &SmbUrl, options: &SessionOptions) -> Result<Vec<DirectoryEntry>, Status> {
    let mut session = Session::open(engine, url, options).await?;
    let listed = session.list(&url.path).await;
    let closed = session.close().await;
    let mut entries = listed?;
    closed?;
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}

/// One line per entry, `ls -l` style: type, size, last write (UTC), name.
pub fn render_listing(entries: &[DirectoryEntry]) -> String {
    let width = entries.iter().map(|e| e.size.to_string().len()).max().unwrap_or(1);
    let mut out = String::new();
    for e in entries {
        let kind = if e.is_directory() { 'd' } else { '-' };
        let name = if e.is_directory() {
            format!("{}/", e.name)
        } else {
            e.name.clone()
        };
        out.push_str(&format!(
            "{kind} {:>width$}  {}  {name}\n",
            e.size,
            format_filetime(e.last_write_time)
        ));
    }
    out.push_str(&format!("{} entries", entries.len()));
    out
}

/// A FILETIME (100 ns ticks since 1601-01-01 UTC) as `YYYY-MM-DD HH:MM`.
///
/// ```
/// // 2024-01-02 03:04:05 UTC.
/// assert_eq!(rxce_cli::smb::format_filetime(133_486_382_450_000_000), "2024-01-02 03:04");
/// assert_eq!(rxce_cli::smb::format_filetime(0), "1601-01-01 00:00");
/// ```
pub fn format_filetime(filetime: u64) -> String {
    let secs = filetime / 10_000_000;
    let days = secs / 86_400;
    let (hour, minute) = ((secs % 86_400) / 3600, (secs % 3600) / 60);
    // Civil date from days since 1601-01-01, a 400-year cycle start.
    let (cycles, mut rest) = (days / 146_097, days % 146_097);
    let mut year = 1601 + 400 * cycles;
    let leap = |y: u64| (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400);
    loop {
        let len = if leap(year) { 366 } else { 365 };
        if rest < len {
            break;
        }
        rest -= len;
        year += 1;
    }
    let months = [
        31,
        if leap(year) { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let mut month = 1;
    for len in months {
        if rest < len {
            break;
        }
        rest -= len;
        month += 1;
    }
    format!("{year:04}-{month:02}-{:02} {hour:02}:{minute:02}", rest + 1)
}
