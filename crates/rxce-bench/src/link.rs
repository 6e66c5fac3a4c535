//! What the scenarios connect with: raw tokio connections to an endpoint
//! (the baselines), a counting receive handler, the engine objects of a
//! client, and a provider that turns an accepted connection into an rxce VC
//! so that both ends of a transfer can be rxce.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};

use rxce::provider::{BoxFuture, ConnectRequest, Connected, Framing, MemoryStream, Provider, ProviderContext, Stream};
use rxce::tdi::ProviderInfo;
use rxce::{
    Address, ConnectionEventHandler, ConnectionInformation, Engine, Indication, NoEvents, ReceiveAnswer, Status,
    Transport, TransportAddress, Vc,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::endpoint::{Endpoint, Kind, Target};
use crate::serve::{Mode, Peer, PeerOptions};

/// Counts the bytes a VC's receive indications carry, takes them all, and
/// wakes the one waiter once a target count is reached (the client side of
/// a request: the indication completes what a caller waits for). The wake
/// is a waker slot, the lightest a single waiter needs.
#[derive(Debug)]
pub struct Counting {
    received: AtomicU64,
    target: AtomicU64,
    waker: Mutex<Option<Waker>>,
}

impl Default for Counting {
    fn default() -> Counting {
        Counting {
            received: AtomicU64::new(0),
            target: AtomicU64::new(u64::MAX),
            waker: Mutex::new(None),
        }
    }
}

impl Counting {
    /// Bytes counted so far.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Acquire)
    }

    /// Counts `n` more bytes.
    pub fn add(&self, n: usize) {
        let total = self.received.fetch_add(n as u64, Ordering::AcqRel) + n as u64;
        if total >= self.target.load(Ordering::Acquire) {
            let waker = self.waker.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(waker) = waker {
                waker.wake();
            }
        }
    }

    /// Waits until `total` bytes were counted in all (one waiter at a time).
    pub async fn wait_for(&self, total: u64) {
        if self.received() >= total {
            return;
        }
        self.target.store(total, Ordering::Release);
        std::future::poll_fn(|cx| {
            if self.received() >= total {
                return Poll::Ready(());
            }
            *self.waker.lock().unwrap_or_else(|e| e.into_inner()) = Some(cx.waker().clone());
            if self.received() >= total {
                return Poll::Ready(());
            }
            Poll::Pending
        })
        .await;
        self.target.store(u64::MAX, Ordering::Release);
    }
}

impl ConnectionEventHandler for Counting {
    fn receive(&self, _vc: &Vc, indication: &Indication<'_>) -> ReceiveAnswer {
        self.add(indication.data.len());
        ReceiveAnswer::take_all(indication)
    }
}

/// A raw byte stream of a baseline.
pub trait RawIo: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> RawIo for T {}

/// A raw tokio connection to `endpoint` (TCP with TCP_NODELAY, as the
/// engine sets it; a NetBIOS session request answered positively first on
/// `netbt`; a Unix-domain socket). Memory endpoints have no raw form here:
/// see [`raw_memory_peer`].
pub async fn raw_connect(endpoint: &Endpoint) -> Result<Box<dyn RawIo>, Status> {
    match endpoint.target() {
        Target::Inet { host, port } => {
            let addr = crate::serve::resolve_host(host, *port).await?;
            let mut stream = TcpStream::connect(addr)
                .await
                .map_err(|e| Status::from_io(e, format!("connecting to {addr}")))?;
            stream
                .set_nodelay(true)
                .map_err(|e| Status::from_io(e, "setting TCP_NODELAY"))?;
            if endpoint.kind() == Kind::Netbt {
                netbt_session(&mut stream, endpoint).await?;
            }
            Ok(Box::new(stream))
        }
        Target::Unix(name) => {
            let stream = crate::unix::connect(name).await?;
            Ok(Box::new(stream))
        }
        Target::Memory(_) => Err(Status::INVALID_PARAMETER.with_message("a memory endpoint has no raw connection")),
    }
}

/// Asks for a NetBIOS session with the endpoint's called name, as the
/// engine's `netbt` provider does, and checks that the answer is positive.
async fn netbt_session(stream: &mut TcpStream, endpoint: &Endpoint) -> Result<(), Status> {
    let called = endpoint
        .called_name()
        .ok_or_else(|| Status::INVALID_PARAMETER.with_message("a netbt endpoint without a called name"))?;
    let calling = endpoint
        .calling_name()
        .unwrap_or_else(|| rxce::wire::NetbiosName::new("RXCE", 0).expect("a valid name"));
    let request = rxce::wire::encode_session_request(&called, &calling, None)
        .map_err(|e| Status::INVALID_PARAMETER.with_message(e.to_string()))?;
    let io = |e: io::Error| Status::from_io(e, "the NetBIOS session request");
    stream.write_all(&request).await.map_err(io)?;
    let mut answer = [0u8; 4];
    stream.read_exact(&mut answer).await.map_err(io)?;
    if answer[0] != 0x82 {
        return Err(Status::CONNECTION_REFUSED.with_message(format!("session refused: {answer:02X?}")));
    }
    Ok(())
}

/// A raw connection to an in-process echo or sink served by the same code
/// as `rxce serve`'s peers, over a memory pipe (the memory transport's
/// baseline).
pub fn raw_memory_peer(mode: Mode) -> MemoryStream {
    let (client, server) = MemoryStream::pair("bench-raw", "bench-raw-peer");
    tokio::spawn(async move {
        let counters = crate::serve::Counters::default();
        let (r, w) = tokio::io::split(server);
        let _ = crate::serve::serve_stream(mode, r, w, &counters).await;
    });
    client
}

/// Starts an embedded peer in `mode` on a fresh endpoint of `kind` (on
/// loopback, an abstract Unix name, or a memory name of `engine`).
pub async fn embedded_peer(kind: Kind, mode: Mode, engine: &Engine) -> Result<Peer, Status> {
    let n = NEXT_NAME.fetch_add(1, Ordering::Relaxed);
    let pid = std::process::id();
    let url = match kind {
        Kind::Tcp => "tcp://127.0.0.1:0".to_owned(),
        Kind::TcpSmb | Kind::TcpRpc | Kind::Tcp9p => format!("{kind}://127.0.0.1:0"),
        // A generated certificate, pinned in the bound endpoint.
        Kind::Quic => "quic://127.0.0.1:0".to_owned(),
        Kind::Netbt => "netbt://127.0.0.1:0".to_owned(),
        Kind::Unix => format!("unix:@rxce-bench-{pid}-{n}"),
        Kind::Memory => format!("memory:rxce-bench-{pid}-{n}"),
        Kind::Udp => return Err(Status::INVALID_PARAMETER.with_message("the bench has no udp scenario")),
    };
    let endpoint = Endpoint::parse(&url).map_err(|e| Status::INVALID_PARAMETER.with_message(e.to_string()))?;
    let options = PeerOptions {
        keepalive: None,
        engine: Some(engine.clone()),
        ..PeerOptions::new(mode)
    };
    Peer::start(&endpoint, &options).await
}

static NEXT_NAME: AtomicU64 = AtomicU64::new(0);

/// A client's engine objects for one endpoint: transport and address.
pub struct Client {
    /// The transport (torn down by [`Client::close`]).
    pub transport: Transport,
    /// The local address connections are built on.
    pub address: Address,
    /// Where connections go.
    pub remote: ConnectionInformation,
}

impl Client {
    /// A transport of the endpoint's kind and an address for it.
    pub fn new(engine: &Engine, endpoint: &Endpoint) -> Result<Client, Status> {
        let transport = engine.build_transport(endpoint.transport_name(), 0)?;
        let address = transport.build_address(endpoint.local_address(), Arc::new(NoEvents))?;
        Ok(Client {
            transport,
            address,
            remote: endpoint.remote(),
        })
    }

    /// The receiving side of the [`Accepted`] provider (registered first).
    pub fn new_accepted(engine: &Engine) -> Result<Client, Status> {
        let transport = engine.build_transport(ACCEPTED, 0)?;
        let address = transport.build_address(TransportAddress::memory("bench-receiver"), Arc::new(NoEvents))?;
        Ok(Client {
            transport,
            address,
            remote: ConnectionInformation::to(TransportAddress::memory("bench-accepted")),
        })
    }

    /// Builds a connection with `handler` and returns its VC.
    pub async fn connect(&self, handler: Arc<dyn ConnectionEventHandler>) -> Result<Vc, Status> {
        let (_connection, vc) = self.address.build_connection(self.remote.clone(), handler).await?;
        Ok(vc)
    }

    /// Tears the transport down (and every connection on it).
    pub async fn close(self) {
        let _ = self.transport.tear_down().await;
    }
}

/// The name of the provider that hands out accepted connections.
pub const ACCEPTED: &str = "bench-accepted";

/// A provider whose "connect" takes the next connection the bench accepted
/// itself: the receiving end of a transfer becomes an rxce VC, with the
/// engine's own receive path (pump, pooled buffers, indications).
#[derive(Default)]
pub struct Accepted {
    queue: Mutex<Vec<AcceptedStream>>,
}

/// An accepted connection and the framing of its session.
type AcceptedStream = (Arc<dyn Stream>, Option<Framing>);

impl Accepted {
    /// Registers the provider on `engine` and returns it.
    pub fn register(engine: &Engine) -> Result<Arc<Accepted>, Status> {
        let accepted = Arc::new(Accepted::default());
        let provider = accepted.clone();
        engine.register_provider(ACCEPTED, move |_: &ProviderContext| {
            Ok(provider.clone() as Arc<dyn Provider>)
        })?;
        Ok(accepted)
    }

    /// Queues an accepted connection for the next connect.
    pub fn push(&self, stream: Arc<dyn Stream>, framing: Option<Framing>) {
        self.queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((stream, framing));
    }
}

impl Provider for Accepted {
    fn provider_info(&self) -> ProviderInfo {
        ProviderInfo::connection_mode(None)
    }

    fn check_local_address(&self, _local: &TransportAddress) -> Result<(), Status> {
        Ok(())
    }

    fn connect<'a>(&'a self, _request: ConnectRequest<'a>) -> BoxFuture<'a, Result<Connected, Status>> {
        let next = self.queue.lock().unwrap_or_else(|e| e.into_inner()).pop();
        Box::pin(async move {
            let (stream, framing) =
                next.ok_or_else(|| Status::CONNECTION_REFUSED.with_message("no accepted connection is waiting"))?;
            Ok(Connected {
                stream,
                framing,
                keepalive: None,
            })
        })
    }
}

/// Reads everything from `reader` into `counting` until the end (the raw
/// receiving side of a baseline transfer), with `buffer` bytes per read.
pub async fn drain_into<R: AsyncRead + Unpin>(mut reader: R, counting: Arc<Counting>, buffer: usize) {
    let mut buf = vec![0u8; buffer];
    loop {
        match reader.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => counting.add(n),
        }
    }
}

/// A TCP listener on loopback served by a thread of its own, outside the
/// bench's runtime: it accepts (with a deep backlog) and holds the last
/// [`Acceptor::HELD`] connections, closing older ones — a peer for connect
/// loops whose own cost stays off the runtime being measured.
pub struct Acceptor {
    addr: std::net::SocketAddr,
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Acceptor {
    /// Connections held before the oldest is closed.
    pub const HELD: usize = 1024;

    /// Listens on `127.0.0.1` at a port the system picks.
    pub fn start() -> Result<Acceptor, Status> {
        let failed = |e: io::Error| Status::from_io(e, "the bench's acceptor");
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).map_err(failed)?;
        let addr: std::net::SocketAddr = ([127, 0, 0, 1], 0).into();
        socket.bind(&addr.into()).map_err(failed)?;
        socket.listen(4096).map_err(failed)?;
        let listener: std::net::TcpListener = socket.into();
        let addr = listener.local_addr().map_err(failed)?;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::Builder::new()
            .name("bench-acceptor".into())
            .spawn(move || {
                let mut held = std::collections::VecDeque::with_capacity(Acceptor::HELD);
                for stream in listener.incoming() {
                    if stopped.load(Ordering::Acquire) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        if held.len() == Acceptor::HELD {
                            held.pop_front();
                        }
                        held.push_back(stream);
                    }
                }
            })
            .map_err(failed)?;
        Ok(Acceptor {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    /// The endpoint of `kind` (`tcp` or `tcp+smb`) at the acceptor.
    pub fn endpoint(&self, kind: Kind) -> Endpoint {
        Endpoint::new(
            kind,
            Target::Inet {
                host: crate::endpoint::Host::Ip(self.addr.ip()),
                port: self.addr.port(),
            },
        )
    }
}

impl Drop for Acceptor {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        // Wakes the blocked accept.
        let _ = std::net::TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
