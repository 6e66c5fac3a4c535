//! A user-space fault proxy: this kernel has no netem, so latency,
//! partitions and resets come from a TCP proxy between a client and its
//! server. Each connection is forwarded by two threads; the proxy's
//! [`Fault`] applies to every connection at once and can change at any time.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// What the proxy does to traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forward everything at once.
    None,
    /// Forward each chunk after this delay (each direction).
    Latency(Duration),
    /// A partition: existing connections forward nothing (bytes are held,
    /// not lost, and flow again on repair, as TCP retransmission would
    /// deliver them), and new connections are refused (the proxy stops
    /// listening until the repair).
    Partition,
}

struct Shared {
    fault: Mutex<Fault>,
    stop: AtomicBool,
    streams: Mutex<Vec<TcpStream>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

/// A fault proxy on a loopback port in front of `upstream`.
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// Starts a proxy on 127.0.0.1 (a free port) forwarding to `upstream`.
    pub fn new(upstream: SocketAddr) -> io::Result<FaultProxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        let shared = Arc::new(Shared {
            fault: Mutex::new(Fault::None),
            stop: AtomicBool::new(false),
            streams: Mutex::new(Vec::new()),
            threads: Mutex::new(Vec::new()),
        });
        let acceptor = std::thread::spawn({
            let shared = shared.clone();
            move || accept_loop(listener, upstream, shared)
        });
        Ok(FaultProxy {
            addr,
            shared,
            acceptor: Some(acceptor),
        })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Changes the fault for every connection, now.
    pub fn set(&self, fault: Fault) {
        *self.shared.fault.lock().unwrap() = fault;
    }
}

fn accept_loop(listener: TcpListener, upstream: SocketAddr, shared: Arc<Shared>) {
    let addr = listener.local_addr().ok();
    let mut listener = Some(listener);
    while !shared.stop.load(Ordering::Relaxed) {
        let partitioned = *shared.fault.lock().unwrap() == Fault::Partition;
        if partitioned {
            // Nobody listens: connects are refused across the partition.
            listener = None;
            std::thread::sleep(Duration::from_millis(2));
            continue;
        }
        if listener.is_none() {
            let rebound = addr.and_then(|addr| rebind(addr).ok());
            if rebound.is_none() {
                std::thread::sleep(Duration::from_millis(2));
                continue;
            }
            listener = rebound;
        }
        let client = match listener.as_ref().map(TcpListener::accept) {
            Some(Ok((client, _))) => client,
            Some(Err(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(2));
                continue;
            }
            _ => return,
        };
        let _ = client.set_nonblocking(false);
        let Ok(server) = TcpStream::connect(upstream) else {
            continue;
        };
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        for stream in [&client, &server] {
            if let Ok(clone) = stream.try_clone() {
                shared.streams.lock().unwrap().push(clone);
            }
        }
        for (from, to) in [
            (client.try_clone(), server.try_clone()),
            (server.try_clone(), client.try_clone()),
        ] {
            if let (Ok(from), Ok(to)) = (from, to) {
                let shared2 = shared.clone();
                let thread = std::thread::spawn(move || forward(from, to, shared2));
                shared.threads.lock().unwrap().push(thread);
            }
        }
    }
}

/// Listens on `addr` again after a partition.
fn rebind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(128)?;
    let listener: TcpListener = socket.into();
    listener.set_nonblocking(true)?;
    Ok(listener)
}

fn forward(mut from: TcpStream, mut to: TcpStream, shared: Arc<Shared>) {
    let _ = from.set_read_timeout(Some(Duration::from_millis(50)));
    let mut buf = vec![0u8; 64 * 1024];
    while !shared.stop.load(Ordering::Relaxed) {
        let n = match from.read(&mut buf) {
            Ok(0) => {
                let _ = to.shutdown(Shutdown::Write);
                return;
            }
            Ok(n) => n,
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => continue,
            Err(_) => {
                // The other side's reset reaches this side as one.
                let _ = socket2::SockRef::from(&to).set_linger(Some(Duration::ZERO));
                let _ = to.shutdown(Shutdown::Both);
                return;
            }
        };
        loop {
            if shared.stop.load(Ordering::Relaxed) {
                return;
            }
            let fault = *shared.fault.lock().unwrap();
            match fault {
                Fault::Partition => std::thread::sleep(Duration::from_millis(10)),
                Fault::Latency(delay) => {
                    std::thread::sleep(delay);
                    break;
                }
                Fault::None => break,
            }
        }
        if to.write_all(&buf[..n]).is_err() {
            return;
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        for stream in self.shared.streams.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        for thread in self.shared.threads.lock().unwrap().drain(..) {
            let _ = thread.join();
        }
    }
}
