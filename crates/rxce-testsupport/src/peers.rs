//! Misbehaving and absent TCP peers on loopback, for fault tests.
//!
//! * [`BlackHole`]: a listener whose accept queue is full and which never
//!   accepts, so a new `connect` neither succeeds nor fails until the
//!   caller's own timeout fires.
//! * [`closed_port`]: an address with nothing listening, so `connect` is
//!   refused at once.
//! * [`free_port`]: a port number that was free a moment ago.
//!
//! Everything here binds to `127.0.0.1` only.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::time::Duration;

use socket2::{Domain, Socket, Type};

/// How long a filler connection may take before we decide the accept queue
/// is full. Loopback handshakes complete inside the `connect` call, so this
/// is very generous.
const FILL_PROBE_TIMEOUT: Duration = Duration::from_millis(150);

/// Upper bound on filler connections, in case a kernel queues more than
/// `backlog + 1` connections.
const MAX_FILLERS: usize = 16;

/// A TCP listener on `127.0.0.1` that never accepts and whose accept queue
/// is already full, so further connection attempts hang.
///
/// It is created with `listen(fd, 0)`; Linux still queues one completed
/// connection for a zero backlog, so the constructor connects filler
/// clients until one of them no longer completes. From then on the kernel
/// drops every new SYN to the port: a client sees neither an accept nor a
/// refusal, only its own connect timeout (or the kernel's SYN retry limit,
/// about two minutes, if it set none).
///
/// Dropping the `BlackHole` closes the listener and the fillers; after that
/// the port refuses connections.
#[derive(Debug)]
pub struct BlackHole {
    listener: TcpListener,
    fillers: Vec<TcpStream>,
    addr: SocketAddr,
}

impl BlackHole {
    /// Bind a black hole on `127.0.0.1` at a kernel-chosen port and fill its
    /// accept queue.
    ///
    /// Takes about 150 ms, the time the last filler
    /// is given to prove the queue is full.
    pub fn new() -> io::Result<BlackHole> {
        let listener = listen_with_zero_backlog()?;
        let addr = listener.local_addr()?;
        let mut fillers = Vec::new();
        loop {
            if fillers.len() >= MAX_FILLERS {
                return Err(io::Error::other(format!(
                    "black hole at {addr}: accept queue still taking connections after {MAX_FILLERS}"
                )));
            }
            match TcpStream::connect_timeout(&addr, FILL_PROBE_TIMEOUT) {
                Ok(stream) => fillers.push(stream),
                Err(e) if e.kind() == io::ErrorKind::TimedOut => break,
                Err(e) => return Err(e),
            }
        }
        Ok(BlackHole {
            listener,
            fillers,
            addr,
        })
    }

    /// The address to connect to (always `127.0.0.1:<port>`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many filler connections sit in the accept queue (1 on Linux).
    pub fn queued(&self) -> usize {
        self.fillers.len()
    }

    /// The underlying listener, for tests that want to inspect it. Do not
    /// accept on it, or the black hole stops being one.
    pub fn listener(&self) -> &TcpListener {
        &self.listener
    }
}

/// Create a TCP socket bound to `127.0.0.1:0` listening with backlog 0
/// (`std::net::TcpListener::bind` always uses a large backlog).
fn listen_with_zero_backlog() -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    socket.bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())?;
    socket.listen(0)?;
    Ok(socket.into())
}

/// A loopback address with nothing listening on it: connecting is refused
/// (`ECONNREFUSED`) straight away.
///
/// The port is one the kernel just handed out for a listener that was then
/// closed. Another process could in principle bind it in between; with
/// ephemeral ports that is very unlikely within a test.
///
/// # Panics
///
/// Panics if no loopback port can be bound.
pub fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0))
        .expect("binding a loopback port to find a closed one");
    let addr = listener.local_addr().expect("local_addr of a bound listener");
    drop(listener);
    addr
}

/// A TCP port on `127.0.0.1` that was free when this returned (the kernel
/// picked it for a listener that was then closed).
///
/// # Panics
///
/// Panics if no loopback port can be bound.
pub fn free_port() -> u16 {
    closed_port().port()
}
