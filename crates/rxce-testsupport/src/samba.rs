//! A private Samba server (smbd, optionally nmbd) on loopback, per test.
//!
//! [`SambaServer::start`] writes a configuration into a fresh temporary
//! directory, starts `smbd` (and, with [`SambaOptions::nmbd`], `nmbd`) in
//! the foreground as children of the test process, waits until they answer,
//! and hands back the ports. Dropping the server stops every process it
//! started and removes the directory. Nothing outside the temporary
//! directory is touched, except the loopback alias address described below
//! when nmbd is enabled.
//!
//! # What was found out about Samba 4.17 on loopback
//!
//! **Session service on any port.** smbd answers a NetBIOS session request
//! (type 0x81) on every port listed in `smb ports`, not only on 139, and it
//! equally accepts a bare SMB2 message framed with the 4-byte direct-hosting
//! header on every port. The harness therefore uses two free high ports and
//! merely *calls* one the NetBIOS port ([`SambaServer::netbt_port`]) and the
//! other the direct-hosted port ([`SambaServer::direct_port`]); port 139 is
//! never needed.
//!
//! **The called name is not checked.** smbd sends a positive session
//! response (`82 00 00 00`) whatever called name the request carries, its
//! own, `*SMBSERVER` or a name it has never heard of.
//!
//! **nmbd refuses 127.0.0.1.** nmbd only serves IPv4 interfaces that are
//! not *the* loopback address: with `interfaces = 127.0.0.1`,
//! `127.0.0.1/8`, `127.0.0.0/8` or `lo` it logs "No local IPv4
//! non-loopback interfaces available, waiting for interface" and never
//! answers anything. Its test is for the single address 127.0.0.1, though,
//! not for the 127/8 range or the `lo` device. So, with nmbd enabled, the
//! harness adds a second address from 127.0.0.0/8 to `lo`
//! (`ip -4 addr add 127.77.X.Y/32 dev lo label lo:rx<pid>`; needs root,
//! which tests have) and lists it in `interfaces`. nmbd then registers the
//! server's names with that address, and smbd listens on it too, so a name
//! resolved through nmbd can be connected to. With
//! `nbt client socket address = 127.0.0.1` nmbd's unicast socket is bound
//! to 127.0.0.1 at the `-p` port, and a query sent there from 127.0.0.1 is
//! answered (Samba 4.17 logs that this parameter is deprecated, but it
//! is honoured; without it nmbd would bind 0.0.0.0. With
//! `bind interfaces only = yes` nmbd drops queries on that
//! socket from addresses outside its interfaces' networks; 127.0.0.1/8 of
//! `lo` is one of them). So: a unicast query to 127.0.0.1 for the server's
//! own name is answered, but with the alias address
//! ([`SambaServer::netbios_ip`]), never with 127.0.0.1. No network
//! namespace is needed. The alias is removed again on drop; aliases left by
//! a killed test process are removed by the next start (their label names
//! the owning process).
//!
//! **Unknown names.** For a name it does not know, nmbd sends a negative
//! response (RCODE 3, name error) when the query has RD (recursion desired)
//! clear, and does not answer at all when RD is set. See [`crate::nbns`].
//!
//! # Configuration written
//!
//! With `D` the temporary directory, `P1 P2` the two TCP ports and `A` the
//! alias (present only with nmbd):
//!
//! ```text
//! [global]
//!     netbios name = RXCETEST
//!     workgroup = RXCEWG
//!     server role = standalone server
//!     interfaces = 127.0.0.1 A/32
//!     bind interfaces only = yes
//!     nbt client socket address = 127.0.0.1    (only with nmbd)
//!     smb ports = P1 P2
//!     lock directory = D/lock
//!     state directory = D/state
//!     cache directory = D/cache
//!     pid directory = D/pid
//!     private dir = D/private
//!     ncalrpc dir = D/ncalrpc
//!     binddns dir = D/bind-dns
//!     winbindd socket directory = D/winbindd
//!     log file = D/log/samba.log
//!     log level = 1
//!     max log size = 0
//!     load printers = no
//!     printing = bsd
//!     printcap name = /dev/null
//!     disable spoolss = yes
//!     map to guest = bad user
//!     local master = no
//!     domain master = no
//!     preferred master = no
//!     dns proxy = no
//!     wins support = no
//!     (extra global lines)
//! [rxce]
//!     path = D/share
//!     guest ok = yes
//!     read only = no
//! ```
//!
//! The daemons run as `smbd -F --no-process-group --debug-stdout -s D/smb.conf`
//! and `nmbd -F --no-process-group --debug-stdout -s D/smb.conf -p PORT`,
//! each in a process group of its own, with stdout and stderr in
//! `D/log/<daemon>.stdout` / `.stderr`.
//!
//! # Processes and clean-up
//!
//! smbd forks a child per connection, in its process group, and on demand
//! starts `samba-dcerpcd` (with `--configfile=D/smb.conf`), which detaches
//! into a session of its own. Stopping therefore signals both process
//! groups and every process whose command line names this configuration
//! file: SIGTERM, up to 2 s grace, then SIGKILL. To be able to reap the
//! processes that detach or outlive their parent (this machine's PID 1 does
//! not reap orphans), the first start marks the test process as a child
//! subreaper (`PR_SET_CHILD_SUBREAPER`); the harness only ever waits for
//! process ids it found to belong to its own servers.
//!
//! Each server directory holds `owner.pid`. The first start in a test
//! process kills the daemons of servers whose owner no longer exists (a
//! test process that was SIGKILLed cannot clean up) and removes their
//! directories and loopback aliases.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::hash::{BuildHasher, RandomState};
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use crate::nbns::{self, QueryOutcome};

/// Message shown when Samba is missing.
const INSTALL_HINT: &str = "Samba (smbd and nmbd) is not installed: run `scripts/install-test-deps.sh` \
     (as root) to install the test dependencies, then re-run the tests";

/// Prefix of every server's temporary directory.
const DIR_PREFIX: &str = "rxce-samba-";
/// Name of the share the harness exports.
const SHARE_NAME: &str = "rxce";
/// Label prefix of loopback aliases (`lo:rx<pid>`).
const ALIAS_LABEL_PREFIX: &str = "lo:rx";
/// Grace period between SIGTERM and SIGKILL when stopping.
const TERM_GRACE: Duration = Duration::from_secs(2);
/// Ports are picked from this range, below Linux's default ephemeral
/// range (32768-60999) so outgoing connections do not collide with them.
const PORT_RANGE: std::ops::Range<u16> = 20000..32000;

/// Options for [`SambaServer::start_with`]; build with [`Default`] or
/// [`SambaOptions::new`] and the chainable setters.
#[derive(Debug, Clone)]
pub struct SambaOptions {
    /// Also start nmbd (needs root: a loopback alias is added, see the
    /// [module docs](self)). Default: `false`.
    pub nmbd: bool,
    /// NetBIOS name of the server. Default: `"RXCETEST"`.
    pub netbios_name: String,
    /// Workgroup. Default: `"RXCEWG"`.
    pub workgroup: String,
    /// Lines appended verbatim to `[global]` (after the harness's own, so
    /// they override them), e.g. `"server min protocol = NT1"`.
    pub extra_global_lines: Vec<String>,
    /// How long to wait for the daemons to answer. Default: 30 s.
    pub start_timeout: Duration,
}

impl Default for SambaOptions {
    fn default() -> Self {
        SambaOptions {
            nmbd: false,
            netbios_name: "RXCETEST".to_string(),
            workgroup: "RXCEWG".to_string(),
            extra_global_lines: Vec::new(),
            start_timeout: Duration::from_secs(30),
        }
    }
}

impl SambaOptions {
    /// Same as [`SambaOptions::default`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Enable or disable nmbd.
    pub fn nmbd(mut self, enabled: bool) -> Self {
        self.nmbd = enabled;
        self
    }

    /// Set the NetBIOS name (at most 15 ASCII characters).
    pub fn netbios_name(mut self, name: impl Into<String>) -> Self {
        self.netbios_name = name.into();
        self
    }

    /// Set the workgroup.
    pub fn workgroup(mut self, workgroup: impl Into<String>) -> Self {
        self.workgroup = workgroup.into();
        self
    }

    /// Append one line to `[global]`.
    pub fn global_line(mut self, line: impl Into<String>) -> Self {
        self.extra_global_lines.push(line.into());
        self
    }

    /// Set how long [`start`](Self::start) waits for readiness.
    pub fn start_timeout(mut self, timeout: Duration) -> Self {
        self.start_timeout = timeout;
        self
    }

    /// Start a server with these options; see [`SambaServer::start_with`].
    pub fn start(self) -> io::Result<SambaServer> {
        SambaServer::start_with(self)
    }
}

/// One started daemon.
#[derive(Debug)]
struct Daemon {
    name: &'static str,
    child: Child,
    /// Process group id; equal to the child's pid (`process_group(0)`).
    pgid: i32,
}

/// A private smbd (and optionally nmbd) listening on loopback; stopped and
/// cleaned up on drop. See the [module docs](self).
#[derive(Debug)]
pub struct SambaServer {
    netbios_name: String,
    workgroup: String,
    netbt_port: u16,
    direct_port: u16,
    nmbd_port: Option<u16>,
    config_path: PathBuf,
    share_path: PathBuf,
    daemons: Vec<Daemon>,
    /// Dropped after the daemons are stopped (see `Drop`).
    alias: Option<LoopbackAlias>,
    /// Dropped last: removes configuration, state and logs.
    dir: tempfile::TempDir,
}

impl SambaServer {
    /// Start smbd only, with default options, and wait until it accepts
    /// connections on both ports.
    pub fn start() -> io::Result<SambaServer> {
        Self::start_with(SambaOptions::default())
    }

    /// Start with `options`: smbd, and nmbd if asked for.
    ///
    /// Returns once smbd accepts TCP connections on both ports (on
    /// 127.0.0.1 and on the alias address, if any) and, with nmbd, once
    /// nmbd answers a name query for the server's name. A daemon that exits
    /// during start-up is retried (up to three attempts, with new ports, in
    /// case a port was taken in between); a timeout is not. Errors carry
    /// the tail of the logs.
    ///
    /// An error of kind `NotFound` means Samba is not installed (see
    /// [`require_samba`]).
    pub fn start_with(options: SambaOptions) -> io::Result<SambaServer> {
        validate_name(&options.netbios_name)?;
        let smbd = find_program("smbd").ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, INSTALL_HINT))?;
        let nmbd = if options.nmbd {
            Some(find_program("nmbd").ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, INSTALL_HINT))?)
        } else {
            None
        };
        become_subreaper();
        sweep_leftovers();

        const ATTEMPTS: u32 = 3;
        let mut attempt = 1;
        loop {
            match Self::try_start(&options, &smbd, nmbd.as_deref()) {
                Ok(server) => return Ok(server),
                Err(StartError::Retryable(_)) if attempt < ATTEMPTS => attempt += 1,
                Err(StartError::Retryable(e)) | Err(StartError::Fatal(e)) => return Err(e),
            }
        }
    }

    fn try_start(options: &SambaOptions, smbd: &Path, nmbd: Option<&Path>) -> Result<SambaServer, StartError> {
        let fatal = StartError::Fatal;
        let dir = tempfile::Builder::new().prefix(DIR_PREFIX).tempdir().map_err(fatal)?;
        let base = dir.path().to_path_buf();
        // The guest user must be able to reach the share below the
        // (otherwise 0700) temporary directory.
        fs::set_permissions(&base, fs::Permissions::from_mode(0o755)).map_err(fatal)?;
        for sub in [
            "lock", "state", "cache", "pid", "private", "ncalrpc", "bind-dns", "winbindd", "log", "share",
        ] {
            fs::create_dir(base.join(sub)).map_err(fatal)?;
        }
        fs::set_permissions(base.join("private"), fs::Permissions::from_mode(0o700)).map_err(fatal)?;
        let share_path = base.join("share");
        fs::set_permissions(&share_path, fs::Permissions::from_mode(0o777)).map_err(fatal)?;
        // Lets a later test process recognise servers of a process that
        // died without cleaning up.
        fs::write(base.join("owner.pid"), std::process::id().to_string()).map_err(fatal)?;

        let alias = if nmbd.is_some() {
            Some(LoopbackAlias::create().map_err(fatal)?)
        } else {
            None
        };
        let mut ips = vec![Ipv4Addr::LOCALHOST];
        ips.extend(alias.as_ref().map(|a| a.ip));

        let mut taken = HashSet::new();
        let netbt_port = pick_port(&ips, false, &mut taken).map_err(fatal)?;
        let direct_port = pick_port(&ips, false, &mut taken).map_err(fatal)?;
        let nmbd_port = match nmbd {
            Some(_) => Some(pick_port(&ips, true, &mut taken).map_err(fatal)?),
            None => None,
        };

        let config_path = base.join("smb.conf");
        let config = render_config(
            options,
            &base,
            &share_path,
            alias.as_ref().map(|a| a.ip),
            netbt_port,
            direct_port,
        );
        fs::write(&config_path, config).map_err(fatal)?;

        let mut server = SambaServer {
            netbios_name: options.netbios_name.to_ascii_uppercase(),
            workgroup: options.workgroup.clone(),
            netbt_port,
            direct_port,
            nmbd_port,
            config_path,
            share_path,
            daemons: Vec::new(),
            alias,
            dir,
        };
        // From here on, dropping `server` cleans up whatever was started.
        server.spawn_daemons(smbd, nmbd)?;
        server.wait_ready(Instant::now() + options.start_timeout)?;
        Ok(server)
    }

    /// Starts smbd (and nmbd, when the server has it) with the server's
    /// configuration.
    fn spawn_daemons(&mut self, smbd: &Path, nmbd: Option<&Path>) -> Result<(), StartError> {
        let fatal = StartError::Fatal;
        let conf = self.config_path.to_string_lossy().into_owned();
        let smbd_args = ["-F", "--no-process-group", "--debug-stdout", "-s", &conf];
        self.spawn("smbd", smbd, &smbd_args).map_err(fatal)?;
        if let (Some(nmbd), Some(port)) = (nmbd, self.nmbd_port) {
            let port = port.to_string();
            let nmbd_args = ["-F", "--no-process-group", "--debug-stdout", "-s", &conf, "-p", &port];
            self.spawn("nmbd", nmbd, &nmbd_args).map_err(fatal)?;
        }
        Ok(())
    }

    /// Starts the server again after [`stop`](Self::stop): the same
    /// configuration, state and ports, new processes — a server restart
    /// (its clients' connections are gone, its addresses are not). Returns
    /// once it answers again, as [`start_with`](Self::start_with) does
    /// (waiting up to 20 s).
    ///
    /// # Errors
    ///
    /// When the server still runs, when Samba is gone, or when a daemon
    /// does not come up (with the logs' tail).
    pub fn start_again(&mut self) -> io::Result<()> {
        if !self.daemons.is_empty() {
            return Err(io::Error::other("the server is still running: stop it first"));
        }
        let missing = || io::Error::new(io::ErrorKind::NotFound, INSTALL_HINT);
        let smbd = find_program("smbd").ok_or_else(missing)?;
        let nmbd = match self.nmbd_port {
            Some(_) => Some(find_program("nmbd").ok_or_else(missing)?),
            None => None,
        };
        self.spawn_daemons(&smbd, nmbd.as_deref())?;
        self.wait_ready(Instant::now() + Duration::from_secs(20))?;
        Ok(())
    }

    /// Freezes every process of the server (SIGSTOP to its process groups):
    /// it keeps its connections but reads and answers nothing, as a hung
    /// server would, until [`stop`](Self::stop) kills it.
    pub fn freeze(&self) {
        for daemon in &self.daemons {
            // SAFETY: signals a process group this server created.
            unsafe {
                libc::kill(-daemon.pgid, libc::SIGSTOP);
            }
        }
    }

    fn spawn(&mut self, name: &'static str, program: &Path, args: &[&str]) -> io::Result<()> {
        let log = self.dir.path().join("log");
        let stdout = File::create(log.join(format!("{name}.stdout")))?;
        let stderr = File::create(log.join(format!("{name}.stderr")))?;
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .process_group(0)
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("starting {}: {e}", program.display())))?;
        let pgid = child.id() as i32;
        self.daemons.push(Daemon { name, child, pgid });
        Ok(())
    }

    fn wait_ready(&mut self, deadline: Instant) -> Result<(), StartError> {
        let mut ips = vec![Ipv4Addr::LOCALHOST];
        ips.extend(self.netbios_ip());
        let mut pending_tcp: Vec<SocketAddr> = ips
            .iter()
            .flat_map(|ip| [self.netbt_port, self.direct_port].map(|p| SocketAddr::from((*ip, p))))
            .collect();
        let mut nmbd_ready = self.nmbd_port.is_none();
        loop {
            for daemon in &mut self.daemons {
                if let Ok(Some(status)) = daemon.child.try_wait() {
                    let msg = format!(
                        "{} exited during start-up ({status}); logs:\n{}",
                        daemon.name,
                        log_tail_of(self.dir.path())
                    );
                    return Err(StartError::Retryable(io::Error::other(msg)));
                }
            }
            pending_tcp.retain(|addr| TcpStream::connect_timeout(addr, Duration::from_millis(200)).is_err());
            if !nmbd_ready {
                nmbd_ready = self.nmbd_answers();
            }
            if pending_tcp.is_empty() && nmbd_ready {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let mut waiting: Vec<String> = pending_tcp.iter().map(|a| format!("smbd on {a}")).collect();
                if !nmbd_ready {
                    waiting.push(format!("nmbd on 127.0.0.1:{}", self.nmbd_port.unwrap_or(0)));
                }
                let msg = format!(
                    "Samba did not become ready in time (still waiting for {}); logs:\n{}",
                    waiting.join(", "),
                    self.log_tail()
                );
                return Err(StartError::Fatal(io::Error::new(io::ErrorKind::TimedOut, msg)));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether nmbd answers a query for our name with the alias address.
    fn nmbd_answers(&self) -> bool {
        let (Some(addr), Some(ip)) = (self.nmbd_addr(), self.netbios_ip()) else {
            return false;
        };
        matches!(
            nbns::query_name(addr, &self.netbios_name, nbns::SUFFIX_FILE_SERVER, false, Duration::from_millis(250)),
            Ok(QueryOutcome::Positive { ref addresses, .. }) if addresses.contains(&ip)
        )
    }

    /// The server's NetBIOS name, upper-cased (as smbd and nmbd use it).
    pub fn netbios_name(&self) -> &str {
        &self.netbios_name
    }

    /// The workgroup.
    pub fn workgroup(&self) -> &str {
        &self.workgroup
    }

    /// The address smbd listens on: always 127.0.0.1.
    pub fn ip(&self) -> Ipv4Addr {
        Ipv4Addr::LOCALHOST
    }

    /// The port used as the "NetBIOS session service" port (the role port
    /// 139 has on a real server). smbd treats it exactly like
    /// [`direct_port`](Self::direct_port): a session request is optional.
    pub fn netbt_port(&self) -> u16 {
        self.netbt_port
    }

    /// The port used as the "direct-hosted" SMB port (the role of 445).
    pub fn direct_port(&self) -> u16 {
        self.direct_port
    }

    /// `127.0.0.1:`[`netbt_port`](Self::netbt_port).
    pub fn netbt_addr(&self) -> SocketAddr {
        (self.ip(), self.netbt_port).into()
    }

    /// `127.0.0.1:`[`direct_port`](Self::direct_port).
    pub fn direct_addr(&self) -> SocketAddr {
        (self.ip(), self.direct_port).into()
    }

    /// nmbd's UDP name-service port, if nmbd runs.
    pub fn nmbd_port(&self) -> Option<u16> {
        self.nmbd_port
    }

    /// `127.0.0.1:`[`nmbd_port`](Self::nmbd_port): where to send name
    /// queries. nmbd also listens on the same port at
    /// [`netbios_ip`](Self::netbios_ip).
    pub fn nmbd_addr(&self) -> Option<SocketAddr> {
        self.nmbd_port.map(|p| (self.ip(), p).into())
    }

    /// With nmbd: the loopback alias (127.77.x.y) that nmbd answers name
    /// queries for the server's name with, and on which smbd also listens
    /// (both ports). `None` without nmbd.
    pub fn netbios_ip(&self) -> Option<Ipv4Addr> {
        self.alias.as_ref().map(|a| a.ip)
    }

    /// Name of the exported share (`rxce`), readable and writable by guests.
    pub fn share_name(&self) -> &str {
        SHARE_NAME
    }

    /// Directory exported as the share.
    pub fn share_path(&self) -> &Path {
        &self.share_path
    }

    /// The generated `smb.conf`.
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// The temporary directory holding configuration, state and logs.
    pub fn base_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Process id of the main smbd, if it is still running.
    pub fn smbd_pid(&self) -> Option<u32> {
        self.daemon_pid("smbd")
    }

    /// Process id of nmbd, if it was started and still runs.
    pub fn nmbd_pid(&self) -> Option<u32> {
        self.daemon_pid("nmbd")
    }

    fn daemon_pid(&self, name: &str) -> Option<u32> {
        self.daemons.iter().find(|d| d.name == name).map(|d| d.child.id())
    }

    /// The last lines of every log file of this server (daemon stdout and
    /// stderr, Samba's own log), each under a `==> file <==` heading.
    pub fn log_tail(&self) -> String {
        log_tail_of(self.dir.path())
    }

    /// Adds `user` (an existing Unix account) with `password` to this
    /// server's private password database (`smbpasswd -a`), for clients
    /// that cannot log on as guest.
    ///
    /// # Errors
    ///
    /// smbpasswd missing or failing (its output is in the error).
    pub fn add_user(&self, user: &str, password: &str) -> io::Result<()> {
        let smbpasswd =
            find_program("smbpasswd").ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, INSTALL_HINT))?;
        let mut child = Command::new(smbpasswd)
            .arg("-c")
            .arg(&self.config_path)
            .args(["-s", "-a", user])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        if let Some(mut stdin) = child.stdin.take() {
            use std::io::Write as _;
            writeln!(stdin, "{password}\n{password}")?;
        }
        let out = child.wait_with_output()?;
        if out.status.success() {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "smbpasswd -a {user} failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )))
        }
    }

    /// Stop every process of this server now (as `Drop` does). Calling it
    /// again does nothing.
    ///
    /// Sends SIGTERM to both process groups and to every process running
    /// with this configuration, waits up to 2 s for all of them to exit,
    /// then repeats with SIGKILL. Every process seen is waited for until it
    /// has disappeared from /proc (reaped by us, or by its own parent).
    pub fn stop(&mut self) {
        let mut daemons = std::mem::take(&mut self.daemons);
        if daemons.is_empty() {
            return;
        }
        let conf = self.config_path.to_string_lossy().into_owned();
        let pgids: Vec<i32> = daemons.iter().map(|d| d.pgid).collect();
        let own: HashSet<i32> = daemons.iter().map(|d| d.child.id() as i32).collect();
        // Other processes of this server seen so far, until they are gone.
        let mut tracked: HashSet<i32> = HashSet::new();

        for signal in [libc::SIGTERM, libc::SIGKILL] {
            let deadline = Instant::now() + TERM_GRACE;
            let mut signalled = HashSet::new();
            for &pgid in &pgids {
                // SAFETY: signals the process groups we created.
                unsafe {
                    libc::kill(-pgid, signal);
                }
            }
            loop {
                // Rescan each round: smbd may have forked meanwhile.
                for p in server_processes(&pgids, &conf) {
                    if !own.contains(&p.pid) {
                        tracked.insert(p.pid);
                    }
                    if !p.zombie && signalled.insert(p.pid) {
                        // SAFETY: kill(2) on a pid found to be one of ours.
                        unsafe {
                            libc::kill(p.pid, signal);
                        }
                    }
                }
                tracked.retain(|&pid| !reap_if_gone(pid));
                let running = daemons
                    .iter_mut()
                    .map(|d| d.child.try_wait())
                    .filter(|w| matches!(w, Ok(None)))
                    .count();
                if running == 0 && tracked.is_empty() {
                    break;
                }
                if Instant::now() >= deadline {
                    break;
                }
                thread::sleep(Duration::from_millis(20));
            }
            let daemons_done = daemons.iter_mut().all(|d| !matches!(d.child.try_wait(), Ok(None)));
            if daemons_done && tracked.is_empty() {
                break;
            }
        }
        for d in &mut daemons {
            let _ = d.child.wait();
        }
    }
}

/// Reap `pid` if it is our (possibly adopted) child and has exited; return
/// whether it no longer exists at all.
fn reap_if_gone(pid: i32) -> bool {
    let mut status = 0;
    // SAFETY: WNOHANG wait for one specific pid that belongs to one of our
    // servers; fails harmlessly with ECHILD if it is not our child.
    unsafe {
        libc::waitpid(pid, &mut status, libc::WNOHANG);
    }
    !pid_alive(pid)
}

impl Drop for SambaServer {
    fn drop(&mut self) {
        self.stop();
        // Fields drop next: the alias is removed, then the directory.
    }
}

/// Why a start attempt failed.
enum StartError {
    /// A daemon exited early (possibly a port clash): worth another try.
    Retryable(io::Error),
    /// Anything else.
    Fatal(io::Error),
}

impl From<StartError> for io::Error {
    fn from(e: StartError) -> io::Error {
        match e {
            StartError::Retryable(e) | StartError::Fatal(e) => e,
        }
    }
}

/// Whether smbd and nmbd are installed (found in `PATH`, `/usr/sbin`,
/// `/usr/local/sbin` or `/sbin`).
pub fn samba_available() -> bool {
    find_program("smbd").is_some() && find_program("nmbd").is_some()
}

/// Panic with instructions unless Samba is installed.
///
/// Tests that need Samba call this first, so that a machine without it
/// fails loudly instead of skipping: the project's test command installs
/// Samba with `scripts/install-test-deps.sh`.
///
/// # Panics
///
/// Panics if [`samba_available`] is false.
pub fn require_samba() {
    if !samba_available() {
        panic!("{INSTALL_HINT}");
    }
}

fn validate_name(name: &str) -> io::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 15
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("NetBIOS name {name:?} must be 1-15 ASCII letters, digits, '-' or '_'"),
        ))
    }
}

fn render_config(
    options: &SambaOptions,
    base: &Path,
    share: &Path,
    alias: Option<Ipv4Addr>,
    netbt_port: u16,
    direct_port: u16,
) -> String {
    let d = base.display();
    let interfaces = match alias {
        Some(ip) => format!("127.0.0.1 {ip}/32"),
        None => "127.0.0.1".to_string(),
    };
    let mut c = String::new();
    let mut line = |s: String| {
        c.push_str(&s);
        c.push('\n');
    };
    line("# Private Samba configuration generated by rxce-testsupport.".into());
    line("[global]".into());
    line(format!("    netbios name = {}", options.netbios_name));
    line(format!("    workgroup = {}", options.workgroup));
    line("    server role = standalone server".into());
    line(format!("    interfaces = {interfaces}"));
    line("    bind interfaces only = yes".into());
    if alias.is_some() {
        // nmbd's unicast and datagram sockets, otherwise bound to 0.0.0.0.
        line("    nbt client socket address = 127.0.0.1".into());
    }
    line(format!("    smb ports = {netbt_port} {direct_port}"));
    for (param, sub) in [
        ("lock directory", "lock"),
        ("state directory", "state"),
        ("cache directory", "cache"),
        ("pid directory", "pid"),
        ("private dir", "private"),
        ("ncalrpc dir", "ncalrpc"),
        ("binddns dir", "bind-dns"),
        ("winbindd socket directory", "winbindd"),
    ] {
        line(format!("    {param} = {d}/{sub}"));
    }
    line(format!("    log file = {d}/log/samba.log"));
    for fixed in [
        "log level = 1",
        "max log size = 0",
        "load printers = no",
        "printing = bsd",
        "printcap name = /dev/null",
        "disable spoolss = yes",
        "map to guest = bad user",
        "local master = no",
        "domain master = no",
        "preferred master = no",
        "dns proxy = no",
        "wins support = no",
    ] {
        line(format!("    {fixed}"));
    }
    for extra in &options.extra_global_lines {
        line(format!("    {extra}"));
    }
    line(format!("[{SHARE_NAME}]"));
    line(format!("    path = {}", share.display()));
    line("    guest ok = yes".into());
    line("    read only = no".into());
    c
}

/// The last lines of each log file in `base/log`.
fn log_tail_of(base: &Path) -> String {
    const LINES: usize = 40;
    let mut files: Vec<PathBuf> = fs::read_dir(base.join("log"))
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    let mut out = String::new();
    for path in files {
        let Ok(bytes) = fs::read(&path) else { continue };
        if bytes.is_empty() {
            continue;
        }
        let text = String::from_utf8_lossy(&bytes);
        let lines: Vec<&str> = text.lines().collect();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let _ = writeln!(out, "==> {name} <==");
        for l in &lines[lines.len().saturating_sub(LINES)..] {
            let _ = writeln!(out, "{l}");
        }
    }
    if out.is_empty() {
        out.push_str("(all logs empty)\n");
    }
    out
}

/// Look a program up in `PATH` and the sbin directories (often missing
/// from a non-login `PATH`): smbd, nmbd, smbclient...
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| {
            fs::metadata(p)
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

/// A pseudo-random number; good enough to spread port and address picks.
fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    RandomState::new().hash_one((
        COUNTER.fetch_add(1, Ordering::Relaxed),
        SystemTime::now(),
        std::process::id(),
    ))
}

/// Pick a port in [`PORT_RANGE`] that is free for TCP (and UDP, if `udp`)
/// on every address in `ips`, and not in `taken`.
fn pick_port(ips: &[Ipv4Addr], udp: bool, taken: &mut HashSet<u16>) -> io::Result<u16> {
    let span = u64::from(PORT_RANGE.end - PORT_RANGE.start);
    for _ in 0..200 {
        let port = PORT_RANGE.start + (random_u64() % span) as u16;
        if taken.contains(&port) {
            continue;
        }
        let free = ips.iter().all(|ip| {
            let addr = SocketAddrV4::new(*ip, port);
            TcpListener::bind(addr).is_ok() && (!udp || UdpSocket::bind(addr).is_ok())
        });
        if free {
            taken.insert(port);
            return Ok(port);
        }
    }
    Err(io::Error::new(io::ErrorKind::AddrInUse, "no free port found for Samba"))
}

/// Mark this process a child subreaper, once, so that orphaned Samba
/// processes are re-parented to us and can be reaped.
fn become_subreaper() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: prctl with integer arguments only.
        unsafe {
            libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong, 0, 0, 0);
        }
    });
}

/// Once per process: remove loopback aliases and stop Samba processes left
/// behind by test processes that died without cleaning up.
fn sweep_leftovers() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        LoopbackAlias::remove_stale();
        kill_orphaned_servers();
    });
}

fn pid_alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Kill processes of harness servers whose owning test process is gone,
/// and remove their directories.
fn kill_orphaned_servers() {
    let tmp = std::env::temp_dir();
    for p in all_processes() {
        let Some(dir) = p.cmdline.iter().find_map(|arg| harness_dir_in_arg(arg, &tmp)) else {
            continue;
        };
        let owner = fs::read_to_string(dir.join("owner.pid"))
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok());
        if owner.is_some_and(pid_alive) {
            continue;
        }
        // SAFETY: kill(2) on a process running a configuration from a
        // harness directory whose owner no longer exists.
        unsafe {
            libc::kill(p.pid, libc::SIGKILL);
        }
        let mut status = 0;
        // SAFETY: specific-pid wait; ECHILD if it is not our child.
        unsafe {
            libc::waitpid(p.pid, &mut status, 0);
        }
        let _ = fs::remove_dir_all(&dir);
    }
}

/// If `arg` mentions `<tmp>/rxce-samba-XXXX/smb.conf` (possibly after
/// `--configfile=`), return the harness directory.
fn harness_dir_in_arg(arg: &str, tmp: &Path) -> Option<PathBuf> {
    let path = arg.strip_prefix("--configfile=").unwrap_or(arg);
    let path = Path::new(path);
    if path.file_name()? != "smb.conf" {
        return None;
    }
    let dir = path.parent()?;
    let is_ours = dir.parent()? == tmp && dir.file_name()?.to_str()?.starts_with(DIR_PREFIX);
    is_ours.then(|| dir.to_path_buf())
}

/// A process as seen in /proc.
#[derive(Debug)]
struct ProcInfo {
    pid: i32,
    pgid: i32,
    zombie: bool,
    cmdline: Vec<String>,
}

fn all_processes() -> Vec<ProcInfo> {
    let Ok(rd) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(read_proc)
        .collect()
}

fn read_proc(pid: i32) -> Option<ProcInfo> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid pgrp ...": comm may contain anything, so
    // split after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?;
    let _ppid = fields.next()?;
    let pgid = fields.next()?.parse().ok()?;
    let cmdline = fs::read(format!("/proc/{pid}/cmdline"))
        .map(|raw| {
            raw.split(|b| *b == 0)
                .filter(|s| !s.is_empty())
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect()
        })
        .unwrap_or_default();
    Some(ProcInfo {
        pid,
        pgid,
        zombie: state == "Z",
        cmdline,
    })
}

/// Processes belonging to a server: members of its process groups, and
/// anything whose command line names its configuration file.
fn server_processes(pgids: &[i32], conf: &str) -> Vec<ProcInfo> {
    let me = std::process::id() as i32;
    all_processes()
        .into_iter()
        .filter(|p| p.pid != me)
        .filter(|p| pgids.contains(&p.pgid) || p.cmdline.iter().any(|a| a.contains(conf)))
        .collect()
}

fn find_ip_command() -> io::Result<PathBuf> {
    find_program("ip").ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            "the `ip` command (iproute2) is needed for nmbd's loopback alias: run scripts/install-test-deps.sh",
        )
    })
}

/// An extra 127.77.x.y/32 address on `lo`, for nmbd; removed on drop.
#[derive(Debug)]
struct LoopbackAlias {
    ip: Ipv4Addr,
    ip_cmd: PathBuf,
}

impl LoopbackAlias {
    fn create() -> io::Result<LoopbackAlias> {
        let ip_cmd = find_ip_command()?;
        let label = format!("{ALIAS_LABEL_PREFIX}{}", std::process::id());
        let mut last_error = String::new();
        for _ in 0..32 {
            let r = random_u64();
            let ip = Ipv4Addr::new(127, 77, (r >> 8) as u8, 1 + (r % 254) as u8);
            let out = Command::new(&ip_cmd)
                .args(["-4", "addr", "add", &format!("{ip}/32"), "dev", "lo", "label", &label])
                .stdin(Stdio::null())
                .output()?;
            if out.status.success() {
                return Ok(LoopbackAlias { ip, ip_cmd });
            }
            last_error = String::from_utf8_lossy(&out.stderr).trim().to_string();
            // Taken by another server: try another address. Anything else
            // (typically "Operation not permitted") will not get better.
            if !(last_error.contains("exists") || last_error.contains("already")) {
                break;
            }
        }
        Err(io::Error::other(format!(
            "could not add a loopback alias for nmbd (`ip addr add ... dev lo`, needs root): {last_error}"
        )))
    }

    /// Remove aliases whose label names a process that no longer exists.
    fn remove_stale() {
        let Ok(ip_cmd) = find_ip_command() else {
            return;
        };
        let Ok(out) = Command::new(&ip_cmd)
            .args(["-4", "-o", "addr", "show", "dev", "lo"])
            .stdin(Stdio::null())
            .output()
        else {
            return;
        };
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            let Some(addr) = words.iter().position(|w| *w == "inet").and_then(|i| words.get(i + 1)) else {
                continue;
            };
            let owner = words
                .iter()
                .find_map(|w| w.strip_prefix(ALIAS_LABEL_PREFIX))
                .and_then(|pid| pid.trim_end_matches('\\').parse::<i32>().ok());
            if let Some(owner) = owner {
                if !pid_alive(owner) {
                    let _ = Command::new(&ip_cmd)
                        .args(["-4", "addr", "del", addr, "dev", "lo"])
                        .stdin(Stdio::null())
                        .output();
                }
            }
        }
    }
}

impl Drop for LoopbackAlias {
    fn drop(&mut self) {
        let _ = Command::new(&self.ip_cmd)
            .args(["-4", "addr", "del", &format!("{}/32", self.ip), "dev", "lo"])
            .stdin(Stdio::null())
            .output();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_harness_config_arguments() {
        let tmp = Path::new("/tmp");
        assert_eq!(
            harness_dir_in_arg("--configfile=/tmp/rxce-samba-ab12/smb.conf", tmp),
            Some(PathBuf::from("/tmp/rxce-samba-ab12"))
        );
        assert_eq!(
            harness_dir_in_arg("/tmp/rxce-samba-x/smb.conf", tmp),
            Some(PathBuf::from("/tmp/rxce-samba-x"))
        );
        assert_eq!(harness_dir_in_arg("/tmp/other/smb.conf", tmp), None);
        assert_eq!(harness_dir_in_arg("/etc/samba/smb.conf", tmp), None);
        assert_eq!(harness_dir_in_arg("-F", tmp), None);
    }

    #[test]
    fn config_lists_alias_and_ports() {
        let opts = SambaOptions::new().global_line("server min protocol = SMB2_10");
        let c = render_config(
            &opts,
            Path::new("/t"),
            Path::new("/t/share"),
            Some(Ipv4Addr::new(127, 77, 1, 2)),
            21000,
            21001,
        );
        assert!(c.contains("    interfaces = 127.0.0.1 127.77.1.2/32\n"));
        assert!(c.contains("    smb ports = 21000 21001\n"));
        assert!(c.contains("    nbt client socket address = 127.0.0.1\n"));
        let plain = render_config(&opts, Path::new("/t"), Path::new("/t/share"), None, 1, 2);
        assert!(plain.contains("    interfaces = 127.0.0.1\n"));
        assert!(!plain.contains("nbt client socket address"));
        assert!(c.contains("    lock directory = /t/lock\n"));
        assert!(c.trim_end().ends_with("read only = no"));
        let extra = c.find("server min protocol").unwrap();
        assert!(extra < c.find("[rxce]").unwrap());
    }

    #[test]
    fn rejects_bad_names() {
        assert!(validate_name("RXCETEST").is_ok());
        assert!(validate_name("").is_err());
        assert!(validate_name("SIXTEEN_CHARS_XX").is_err());
        assert!(validate_name("A B").is_err());
    }
}
