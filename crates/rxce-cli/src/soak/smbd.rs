//! A private smbd for the soak, where Samba is installed: its own
//! configuration and state in a temporary directory, two ports on
//! 127.0.0.1 (smbd answers the NetBIOS session service and direct-hosted
//! SMB on each; one stands for 139, the other for 445), in a process group
//! of its own, stopped with it when the soak ends.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rxce::Status;

/// Ports are picked below Linux's ephemeral range, so that the soak's own
/// outgoing connections never hold one.
const PORTS: std::ops::Range<u16> = 20_000..32_000;
/// How long smbd may take to listen.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A running private smbd.
pub struct PrivateSmbd {
    child: Child,
    /// Where direct-hosted SMB (`tcp+smb`) connects.
    pub direct: SocketAddr,
    /// Where the NetBIOS session service (`netbt`) connects.
    pub netbt: SocketAddr,
    dir: tempfile::TempDir,
}

impl std::fmt::Debug for PrivateSmbd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivateSmbd")
            .field("pid", &self.child.id())
            .field("direct", &self.direct)
            .field("netbt", &self.netbt)
            .finish()
    }
}

/// Where smbd is installed, if it is.
pub fn find_smbd() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join("smbd"))
        .find(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

fn free_port(taken: &[u16]) -> Result<u16, Status> {
    let mut rng = fastrand::Rng::new();
    for _ in 0..200 {
        let port = rng.u16(PORTS);
        if !taken.contains(&port) && TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return Ok(port);
        }
    }
    Err(Status::INSUFFICIENT_RESOURCES.with_message("no free port for smbd"))
}

fn configuration(dir: &Path, ports: [u16; 2]) -> String {
    let d = dir.display();
    let mut c = String::from("[global]\n");
    let mut line = |text: String| {
        let _ = writeln!(c, "    {text}");
    };
    line("netbios name = RXCESOAK".into());
    line("server role = standalone server".into());
    line("interfaces = 127.0.0.1".into());
    line("bind interfaces only = yes".into());
    line(format!("smb ports = {} {}", ports[0], ports[1]));
    for (param, sub) in [
        ("lock directory", "lock"),
        ("state directory", "state"),
        ("cache directory", "cache"),
        ("pid directory", "pid"),
        ("private dir", "private"),
        ("ncalrpc dir", "ncalrpc"),
    ] {
        line(format!("{param} = {d}/{sub}"));
    }
    line(format!("log file = {d}/smbd.log"));
    for fixed in [
        "log level = 0",
        "max log size = 0",
        "load printers = no",
        "disable spoolss = yes",
        // The soak only negotiates and echoes: no RPC helpers to start.
        "rpc start on demand helpers = no",
        "smb2 max credits = 8192",
    ] {
        line(fixed.into());
    }
    c
}

impl PrivateSmbd {
    /// Starts smbd from `program` and waits until both ports answer.
    pub fn start(program: &Path) -> Result<PrivateSmbd, Status> {
        let io = |doing: &str| {
            let doing = doing.to_owned();
            move |e: std::io::Error| Status::from_io(e, doing)
        };
        let dir = tempfile::Builder::new()
            .prefix("rxce-soak-smbd-")
            .tempdir()
            .map_err(io("creating smbd's directory"))?;
        for sub in ["lock", "state", "cache", "pid", "private", "ncalrpc"] {
            std::fs::create_dir(dir.path().join(sub)).map_err(io("creating smbd's directories"))?;
        }
        let netbt = free_port(&[])?;
        let direct = free_port(&[netbt])?;
        let config = dir.path().join("smb.conf");
        std::fs::write(&config, configuration(dir.path(), [netbt, direct])).map_err(io("writing smb.conf"))?;
        let log = std::fs::File::create(dir.path().join("smbd.out")).map_err(io("creating smbd's log"))?;
        let child = Command::new(program)
            .args(["-F", "--no-process-group", "--debug-stdout", "-s"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(io("opening smbd's log"))?)
            .stderr(log)
            // Its own group: smbd signals its whole group when it stops.
            .process_group(0)
            .spawn()
            .map_err(io("starting smbd"))?;
        let mut smbd = PrivateSmbd {
            child,
            netbt: (Ipv4Addr::LOCALHOST, netbt).into(),
            direct: (Ipv4Addr::LOCALHOST, direct).into(),
            dir,
        };
        smbd.wait_ready()?;
        Ok(smbd)
    }

    fn wait_ready(&mut self) -> Result<(), Status> {
        let deadline = Instant::now() + START_TIMEOUT;
        let mut waiting = vec![self.netbt, self.direct];
        while !waiting.is_empty() {
            if let Ok(Some(exit)) = self.child.try_wait() {
                return Err(Status::UNEXPECTED_NETWORK_ERROR
                    .with_message(format!("smbd exited at start ({exit}): {}", self.log_tail())));
            }
            if Instant::now() > deadline {
                return Err(Status::IO_TIMEOUT.with_message(format!(
                    "smbd did not listen within {START_TIMEOUT:?}: {}",
                    self.log_tail()
                )));
            }
            waiting.retain(|addr| TcpStream::connect_timeout(addr, Duration::from_millis(200)).is_err());
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("smbd.out")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(10)..].join("\n")
    }
}

impl Drop for PrivateSmbd {
    fn drop(&mut self) {
        let group = self.child.id() as i32;
        for (signal, grace) in [
            (libc::SIGTERM, Duration::from_secs(2)),
            (libc::SIGKILL, Duration::from_secs(5)),
        ] {
            // SAFETY: signals the process group this soak created for smbd.
            unsafe {
                libc::kill(-group, signal);
            }
            let deadline = Instant::now() + grace;
            while Instant::now() < deadline {
                if matches!(self.child.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = self.child.wait();
    }
}
