//! Real file-protocol servers on loopback, from Debian's packages: rpcbind
//! (an ONC RPC server, port 111), nfs-ganesha (a user-space NFS server) and
//! diod (a 9P2000.L server). Each stops on drop. Tests that need them fail rather than skip when they are
//! missing (install them with `scripts/install-test-deps.sh`).

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

const INSTALL_HINT: &str = "is not installed: run `scripts/install-test-deps.sh` (as root) to install \
                            rpcbind, diod and nfs-ganesha from Debian's packages";

/// The path of `program` in the usual directories, or a panic that says
/// how to install it.
pub fn require(program: &str) -> PathBuf {
    for dir in [
        "/usr/sbin",
        "/usr/bin",
        "/sbin",
        "/bin",
        "/usr/local/sbin",
        "/usr/local/bin",
    ] {
        let path = Path::new(dir).join(program);
        if path.is_file() {
            return path;
        }
    }
    panic!("{program} {INSTALL_HINT}");
}

fn answers(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}

fn wait_until_answering(addr: SocketAddr, child: &mut Child, what: &str) -> io::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !answers(addr) {
        if let Some(status) = child.try_wait()? {
            return Err(io::Error::other(format!("{what} exited before it answered: {status}")));
        }
        if Instant::now() > deadline {
            return Err(io::Error::other(format!("{what} did not answer on {addr} within 10 s")));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// rpcbind on port 111 (all addresses: rpcbind has no option to bind TCP
/// to loopback only). One per process, shared by the tests that hold it;
/// when something already answers on 127.0.0.1:111 it is used as it is.
pub struct Rpcbind {
    child: Mutex<Option<Child>>,
}

static RPCBIND: Mutex<Weak<Rpcbind>> = Mutex::new(Weak::new());

impl Rpcbind {
    /// The address rpcbind answers on.
    pub const ADDR: &'static str = "127.0.0.1:111";

    /// The shared rpcbind, started (`rpcbind -f -w`) when nothing answers
    /// on port 111 yet; it stops when the last holder drops it.
    pub fn shared() -> io::Result<Arc<Rpcbind>> {
        let mut slot = RPCBIND.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(running) = slot.upgrade() {
            return Ok(running);
        }
        let addr: SocketAddr = Rpcbind::ADDR.parse().expect("a socket address");
        let child = if answers(addr) {
            None
        } else {
            let program = require("rpcbind");
            let mut child = Command::new(program)
                .args(["-f", "-w"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()?;
            if let Err(e) = wait_until_answering(addr, &mut child, "rpcbind") {
                stop(&mut child);
                return Err(e);
            }
            Some(child)
        };
        let rpcbind = Arc::new(Rpcbind {
            child: Mutex::new(child),
        });
        *slot = Arc::downgrade(&rpcbind);
        Ok(rpcbind)
    }

    /// True when this process started it (false: one was running).
    pub fn started_here(&self) -> bool {
        self.child.lock().unwrap_or_else(|e| e.into_inner()).is_some()
    }
}

impl Drop for Rpcbind {
    fn drop(&mut self) {
        if let Some(child) = self.child.get_mut().unwrap_or_else(|e| e.into_inner()).as_mut() {
            stop(child);
        }
    }
}

/// A private diod (`diod -f -n -l 127.0.0.1:PORT -e DIR -u 0`) exporting a
/// fresh temporary directory.
pub struct Diod {
    child: Child,
    addr: SocketAddr,
    export: tempfile::TempDir,
}

impl Diod {
    /// Starts it on a free loopback port.
    pub fn start() -> io::Result<Diod> {
        let program = require("diod");
        let export = tempfile::Builder::new().prefix("rxce-diod-").tempdir()?;
        let mut last = None;
        for _ in 0..5 {
            let port = crate::peers::free_port();
            let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("a socket address");
            let mut child = Command::new(&program)
                .args(["-f", "-n", "-l", &addr.to_string(), "-e"])
                .arg(export.path())
                .args(["-u", "0"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()?;
            match wait_until_answering(addr, &mut child, "diod") {
                Ok(()) => return Ok(Diod { child, addr, export }),
                Err(e) => {
                    stop(&mut child);
                    last = Some(e);
                }
            }
        }
        Err(last.expect("five attempts"))
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The exported directory (the attach name).
    pub fn export(&self) -> &Path {
        self.export.path()
    }
}

impl Drop for Diod {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// A private nfs-ganesha (`ganesha.nfsd -F`, VFS back end, bound to
/// 127.0.0.1, graceless) exporting a fresh temporary directory as NFS v3
/// and v4 over TCP and UDP, registered with the shared [`Rpcbind`]. Its NFS
/// port is a free one; mountd and the lock manager take what ganesha picks.
pub struct Ganesha {
    child: Child,
    nfs_port: u16,
    dir: tempfile::TempDir,
    _rpcbind: Arc<Rpcbind>,
}

impl Ganesha {
    /// Starts it and waits (up to 30 s) until it says it is initialized.
    pub fn start() -> io::Result<Ganesha> {
        let program = require("ganesha.nfsd");
        let rpcbind = Rpcbind::shared()?;
        let dir = tempfile::Builder::new().prefix("rxce-ganesha-").tempdir()?;
        let export = dir.path().join("export");
        std::fs::create_dir(&export)?;
        let nfs_port = crate::peers::free_port();
        let config = dir.path().join("ganesha.conf");
        std::fs::write(
            &config,
            format!(
                "NFS_CORE_PARAM {{ Bind_addr = 127.0.0.1; NFS_Port = {nfs_port}; Protocols = 3, 4; }}\n\
                 NFSV4 {{ Graceless = true; RecoveryBackend = fs; }}\n\
                 NFS_KRB5 {{ Active_krb5 = false; }}\n\
                 EXPORT {{ Export_Id = 1; Path = {}; Pseudo = /export; Access_Type = RO; \
                 Squash = No_Root_Squash; Protocols = 3, 4; Transports = TCP, UDP; FSAL {{ Name = VFS; }} }}\n",
                export.display()
            ),
        )?;
        let log = dir.path().join("ganesha.log");
        let mut child = Command::new(program)
            .arg("-F")
            .arg("-f")
            .arg(&config)
            .arg("-L")
            .arg(&log)
            .arg("-p")
            .arg(dir.path().join("ganesha.pid"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if text.contains("NFS SERVER INITIALIZED") {
                break;
            }
            if let Some(status) = child.try_wait()? {
                return Err(io::Error::other(format!(
                    "ganesha.nfsd exited ({status}); its log ends: {}",
                    text.lines().rev().take(5).collect::<Vec<_>>().join(" / ")
                )));
            }
            if Instant::now() > deadline {
                stop(&mut child);
                return Err(io::Error::other("ganesha.nfsd did not initialize within 30 s"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Ganesha {
            child,
            nfs_port,
            dir,
            _rpcbind: rpcbind,
        })
    }

    /// The NFS port it registered.
    pub fn nfs_port(&self) -> u16 {
        self.nfs_port
    }

    /// The exported directory.
    pub fn export(&self) -> PathBuf {
        self.dir.path().join("export")
    }
}

impl Drop for Ganesha {
    fn drop(&mut self) {
        // SIGTERM lets ganesha take its registrations off rpcbind.
        // SAFETY: a plain kill(2) of our own child.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        stop(&mut self.child);
    }
}
