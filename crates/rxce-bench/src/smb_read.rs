//! smb-read: one 256 MiB file, page-cached, read from a private smbd on
//! loopback by three clients, interleaved round by round:
//!
//! * rxce: `rxce smb get`'s path in process — connect, NEGOTIATE, anonymous
//!   SESSION_SETUP, TREE_CONNECT, CREATE, pipelined READs of the server's
//!   MaxReadSize (8 MiB, 4 in flight) whose payloads land in reused
//!   buffers that are then dropped, CLOSE, TREE_DISCONNECT and LOGOFF, all
//!   timed (logon included);
//! * smbclient (Samba's, a process): `smbclient //127.0.0.1/rxce -p PORT -N
//!   -c 'get FILE /dev/null'`, timed from spawn to exit; its fixed cost
//!   (process start, logon, goodbye: the same command on an empty file,
//!   run right before in the same round) is subtracted from its time and
//!   CPU;
//! * smb-rs (the `smb` crate, built with `--features smb-rs` only: it
//!   brings some 220 crates): a user logon (a password account added to
//!   the private smbd: smb-rs 0.12 cannot log on to Samba as guest or
//!   anonymously, see BENCHMARKS.md), then the crate's own parallel copy
//!   (`block_copy`, 16 jobs of 64 KiB READs) into a sink that drops the
//!   bytes, timed from connect to close.
//!
//! Each run gives MB/s (10^6 bytes per second) and CPU seconds (user +
//! system) per GiB read: the process's own for the in-process clients, the
//! reaped child's for smbclient; smbd's CPU is not counted for anyone.

use std::path::Path;
use std::time::{Duration, Instant};

use rxce::{ReceiveBuffer, Status};
use rxce_testsupport::samba::SambaServer;

use super::harness::{compare, interleave, Better, Comparison, Contest, Figures, Plan};
use super::report::Row;
use super::Ctx;
use rxce_cli::smb::{Logon, ReadBuffers, ReadOptions, ReadSink, Session, SessionOptions, SmbUrl};

/// The file's size.
const FILE_SIZE: usize = 256 << 20;
const FILE_NAME: &str = "read-256m";
const EMPTY_NAME: &str = "empty";
const GIB: f64 = (1u64 << 30) as f64;

/// Reuses one buffer per READ in flight and drops the bytes.
struct Discard(ReadBuffers);

impl ReadSink for Discard {
    fn buffer(&mut self, _offset: u64, len: usize) -> Box<dyn ReceiveBuffer> {
        self.0.take(len)
    }

    fn filled(&mut self, _offset: u64, buffer: Box<dyn ReceiveBuffer>, _len: usize) -> Result<(), Status> {
        self.0.give_back(ReadBuffers::bytes(buffer)?);
        Ok(())
    }
}

/// The account smb-rs logs on with (an existing Unix user, added to the
/// private smbd's password database).
#[cfg(feature = "smb-rs")]
const SMB_RS_USER: &str = "root";
#[cfg(feature = "smb-rs")]
const SMB_RS_PASSWORD: &str = "rxce-bench";

/// Clients compared: rxce, smbclient, and smb-rs when built in.
const CONTENDERS: usize = if cfg!(feature = "smb-rs") { 3 } else { 2 };

/// smb-rs's copy target: takes every block, keeps nothing.
#[cfg(feature = "smb-rs")]
struct DiscardAt;

#[cfg(feature = "smb-rs")]
impl smb::resource::file_util::WriteAtChannel for DiscardAt {
    async fn write_at_channel(&self, buf: &[u8], _offset: u64, _channel: Option<u32>) -> smb::Result<usize> {
        Ok(buf.len())
    }
}

#[cfg(feature = "smb-rs")]
impl smb::resource::file_util::SetLen for DiscardAt {
    async fn set_len(&self, _len: u64) -> smb::Result<()> {
        Ok(())
    }
}

/// smb-rs's copy source: the open file, kept by the caller so that it is
/// closed (before the session) once the copy is done.
#[cfg(feature = "smb-rs")]
struct SharedFile(std::sync::Arc<smb::File>);

#[cfg(feature = "smb-rs")]
impl smb::resource::file_util::ReadAtChannel for SharedFile {
    async fn read_at_channel(&self, buf: &mut [u8], offset: u64, channel: Option<u32>) -> smb::Result<usize> {
        self.0.read_at_channel(buf, offset, channel).await
    }
}

#[cfg(feature = "smb-rs")]
impl smb::resource::file_util::GetLen for SharedFile {
    async fn get_len(&self) -> smb::Result<u64> {
        self.0.get_len().await
    }
}

/// CPU seconds (user + system) of this process (`RUSAGE_SELF`) or of its
/// reaped children (`RUSAGE_CHILDREN`).
fn cpu_seconds(who: libc::c_int) -> f64 {
    // SAFETY: getrusage fills the zeroed struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(who, &mut usage);
        usage
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

struct SmbRead {
    server: SambaServer,
    engine: rxce::Engine,
    url: SmbUrl,
    smbclient: std::path::PathBuf,
    sink: Discard,
}

impl SmbRead {
    async fn rxce(&mut self) -> Result<(f64, f64), Status> {
        let options = SessionOptions {
            logon: Logon::Anonymous,
            timeout: Duration::from_secs(30),
        };
        let (cpu, started) = (cpu_seconds(libc::RUSAGE_SELF), Instant::now());
        let mut session = Session::open(&self.engine, &self.url, &options).await?;
        let file = session.open_file(FILE_NAME, false).await?;
        let stats = session
            .read_file(&file, &mut self.sink, ReadOptions::default(), &mut |_| {})
            .await?;
        session.close_file(&file).await?;
        session.close().await?;
        let (elapsed, cpu) = (started.elapsed().as_secs_f64(), cpu_seconds(libc::RUSAGE_SELF) - cpu);
        check_size(stats.bytes)?;
        Ok((elapsed, cpu))
    }

    /// One `smbclient ... -c 'get NAME /dev/null'`: wall and CPU seconds.
    async fn smbclient_get(&self, name: &str) -> Result<(f64, f64), Status> {
        let mut command = std::process::Command::new(&self.smbclient);
        command
            .arg(format!("//127.0.0.1/{}", self.server.share_name()))
            .args(["-p", &self.server.direct_port().to_string(), "-N", "-c"])
            .arg(format!("get {name} /dev/null"))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        tokio::task::spawn_blocking(move || {
            let (cpu, started) = (cpu_seconds(libc::RUSAGE_CHILDREN), Instant::now());
            let output = command.output().map_err(|e| Status::from_io(e, "running smbclient"))?;
            let (elapsed, cpu) = (
                started.elapsed().as_secs_f64(),
                cpu_seconds(libc::RUSAGE_CHILDREN) - cpu,
            );
            if !output.status.success() {
                return Err(Status::UNEXPECTED_NETWORK_ERROR.with_message(format!(
                    "smbclient failed ({}): {}",
                    output.status,
                    String::from_utf8_lossy(&output.stderr).trim()
                )));
            }
            Ok((elapsed, cpu))
        })
        .await
        .map_err(|e| Status::CANCELLED.with_message(format!("the smbclient task failed: {e}")))?
    }

    async fn smbclient(&self) -> Result<(f64, f64), Status> {
        let (fixed, fixed_cpu) = self.smbclient_get(EMPTY_NAME).await?;
        let (elapsed, cpu) = self.smbclient_get(FILE_NAME).await?;
        Ok(((elapsed - fixed).max(1e-6), (cpu - fixed_cpu).max(0.0)))
    }

    #[cfg(feature = "smb-rs")]
    async fn smb_rs(&self) -> Result<(f64, f64), Status> {
        let failed =
            |what: &str, e: smb::Error| Status::UNEXPECTED_NETWORK_ERROR.with_message(format!("smb-rs {what}: {e}"));
        let mut config = smb::ClientConfig {
            dfs: false,
            ..smb::ClientConfig::default()
        };
        config.connection.port = Some(self.server.direct_port());
        config.connection.allow_unsigned_guest_access = true;
        use std::str::FromStr;
        let share = smb::UncPath::from_str(&format!(r"\\127.0.0.1\{}", self.server.share_name()))
            .map_err(|e| failed("path", e))?;
        let (cpu, started) = (cpu_seconds(libc::RUSAGE_SELF), Instant::now());
        let client = smb::Client::new(config);
        client
            .share_connect(&share, SMB_RS_USER, SMB_RS_PASSWORD.to_string())
            .await
            .map_err(|e| failed("logon", e))?;
        let args = smb::FileCreateArgs::make_open_existing(smb::FileAccessMask::new().with_generic_read(true));
        let file = client
            .create_file(&share.clone().with_path(FILE_NAME), &args)
            .await
            .map_err(|e| failed("create", e))?
            .unwrap_file();
        let file = std::sync::Arc::new(file);
        let size = smb::resource::file_util::GetLen::get_len(file.as_ref())
            .await
            .map_err(|e| failed("size", e))?;
        smb::resource::file_util::block_copy(SharedFile(file.clone()), DiscardAt, 0)
            .await
            .map_err(|e| failed("copy", e))?;
        file.close().await.map_err(|e| failed("close", e))?;
        client.close().await.map_err(|e| failed("close", e))?;
        let (elapsed, cpu) = (started.elapsed().as_secs_f64(), cpu_seconds(libc::RUSAGE_SELF) - cpu);
        check_size(size)?;
        Ok((elapsed, cpu))
    }
}

fn check_size(bytes: u64) -> Result<(), Status> {
    if bytes == FILE_SIZE as u64 {
        Ok(())
    } else {
        Err(Status::INVALID_NETWORK_RESPONSE.with_message(format!("read {bytes} B of a {FILE_SIZE}-byte file")))
    }
}

impl Contest for SmbRead {
    async fn run(&mut self, contender: usize, _slice: Duration) -> Result<Figures, Status> {
        let (elapsed, cpu) = match contender {
            0 => self.rxce().await?,
            1 => self.smbclient().await?,
            #[cfg(feature = "smb-rs")]
            2 => self.smb_rs().await?,
            other => return Err(Status::INVALID_PARAMETER.with_message(format!("no contender {other}"))),
        };
        let gib = FILE_SIZE as f64 / GIB;
        Ok(Figures::of(vec![FILE_SIZE as f64 / elapsed / 1e6, cpu / gib]))
    }
}

/// Writes the file and reads it once, so that it is in the page cache.
fn prepare(share: &Path) -> Result<(), Status> {
    let io = |e| Status::from_io(e, "writing the smb-read file");
    let block: Vec<u8> = (0..1 << 20)
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let mut file = std::fs::File::create(share.join(FILE_NAME)).map_err(io)?;
    for _ in 0..FILE_SIZE >> 20 {
        std::io::Write::write_all(&mut file, &block).map_err(io)?;
    }
    std::fs::write(share.join(EMPTY_NAME), b"").map_err(io)?;
    std::fs::read(share.join(FILE_NAME)).map_err(io)?;
    Ok(())
}

pub(crate) async fn run(ctx: &Ctx<'_>) -> Result<Vec<Row>, Status> {
    let smbclient = rxce_testsupport::samba::find_program("smbclient").ok_or_else(|| {
        Status::NOT_SUPPORTED.with_message("smbclient is not installed: run scripts/install-test-deps.sh")
    })?;
    let server = SambaServer::start().map_err(|e| {
        Status::from_io(
            e,
            "starting a private smbd (scripts/install-test-deps.sh installs Samba)",
        )
    })?;
    prepare(server.share_path())?;
    #[cfg(feature = "smb-rs")]
    server
        .add_user(SMB_RS_USER, SMB_RS_PASSWORD)
        .map_err(|e| Status::from_io(e, "adding smb-rs's account to the private smbd"))?;
    let url = SmbUrl::parse(&format!(
        "smb://127.0.0.1:{}/{}/{FILE_NAME}",
        server.direct_port(),
        server.share_name()
    ))
    .map_err(|e| Status::INVALID_PARAMETER.with_message(e))?;
    let mut contest = SmbRead {
        server,
        engine: ctx.engine.clone(),
        url,
        smbclient,
        sink: Discard(ReadBuffers::default()),
    };
    let plan = Plan::new(ctx.options.duration, CONTENDERS);
    let label = format!("smb-read {}", ctx.flavour.name());
    let recorded = interleave(&plan, CONTENDERS, ctx.progress, &label, &mut contest).await?;
    drop(contest);
    let row = |metric: &str, unit: &str, baseline: &str, c: Comparison| {
        Row::new("smb-read", metric, "tcp+smb", ctx.flavour, unit, baseline, c)
    };
    let rate = |c| compare(&recorded.series(0, 0), &recorded.series(c, 0), Better::Higher);
    let cpu = |c| compare(&recorded.series(0, 1), &recorded.series(c, 1), Better::Lower);
    let baselines = [
        "smbclient 4.17 (start and logon subtracted)",
        "smb-rs 0.12 block_copy (user logon, 16 x 64 KiB)",
    ];
    let mut rows = Vec::new();
    for (c, baseline) in (1..CONTENDERS).zip(baselines) {
        rows.push(row("256 MiB page-cached file, read rate", "MB/s", baseline, rate(c)));
        rows.push(row(
            "256 MiB page-cached file, CPU per GiB",
            "CPU s/GiB",
            baseline,
            cpu(c),
        ));
    }
    Ok(rows)
}
