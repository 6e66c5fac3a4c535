//! The peers of `rxce serve`: a server on an endpoint that echoes, sinks
//! or sources data, for tests, demonstrations and benchmarks.
//!
//! * `tcp`, `unix` (and, in-process, `memory`): byte streams.
//! * `tcp+smb`, `netbt`: framed; echo works per message (each message comes
//!   back as one message). `netbt` first answers the session request:
//!   positively for an accepted called name, negatively (0x82, called name
//!   not present) otherwise; it sends keepalives on idle sessions.
//! * `udp`: each datagram is echoed to its source (or dropped by a sink).
//! * `quic`: SMB over QUIC (ALPN `smb`); each connection's stream is served
//!   like `tcp+smb`. The certificate comes from [`PeerOptions::certificate`]
//!   or is generated (self-signed); the bound endpoint carries its SHA-256
//!   fingerprint as `?pin=`, so a client can connect with it as it is.
//!
//! [`Peer::start`] binds and returns at once with the bound endpoint (port
//! 0 becomes the port the system chose); [`Peer::stop`] closes the listener
//! and every connection and returns the counters.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use rxce_cli::endpoint::Endpoint;
//! use rxce_cli::serve::{Mode, Peer, PeerOptions};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! let endpoint: Endpoint = "tcp://127.0.0.1:0".parse().unwrap();
//! let peer = Peer::start(&endpoint, &PeerOptions::new(Mode::Echo)).await.unwrap();
//! let addr = peer.local_addr().unwrap();
//! let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
//! client.write_all(b"ping").await.unwrap();
//! let mut back = [0u8; 4];
//! client.read_exact(&mut back).await.unwrap();
//! assert_eq!(&back, b"ping");
//! let stats = peer.stop().await;
//! assert_eq!((stats.connections, stats.bytes_received, stats.bytes_sent), (1, 4, 4));
//! # });
//! ```

mod framed;
mod listen;
mod netbt;
mod quic;
mod report;
mod stats;
mod stream;
mod udp;

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rxce::wire::{Framing, NetbiosName};
use rxce::{Engine, Status};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::endpoint::{Endpoint, Host, Kind, Target, UnixName};

pub use framed::SOURCE_MESSAGE_SIZE;
pub use report::{run, Report, Row};
pub use stats::{Counters, Snapshot};

// For the bench (`rxce-bench`): the stream peers' code and host resolution.
pub use listen::resolve as resolve_host;
pub use stream::pattern as pattern_bytes;
pub use stream::serve as serve_stream;

/// What a peer does with a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Mode {
    /// Send back what arrives (per message on framed transports, per
    /// datagram on `udp`).
    Echo,
    /// Read and discard.
    Sink,
    /// Send data until the client closes: on streams an unbroken byte
    /// cycle 0, 1, ..., 250, 0, ...; on framed transports 64 KiB messages of
    /// that cycle. What the client sends is discarded.
    Source,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Echo => "echo",
            Mode::Sink => "sink",
            Mode::Source => "source",
        })
    }
}

/// How peers behave.
#[derive(Debug, Clone)]
pub struct PeerOptions {
    /// Echo, sink or source.
    pub mode: Mode,
    /// The called names a `netbt` peer accepts; empty accepts any.
    pub accept_names: Vec<NetbiosName>,
    /// Send a keepalive on a `netbt` session after this long without
    /// sending; `None` sends none.
    pub keepalive: Option<Duration>,
    /// The engine whose memory transport a `memory` peer listens on (a
    /// `memory` endpoint is refused without one).
    pub engine: Option<Engine>,
    /// The certificate chain and key files (PEM or DER) of `quic` peers;
    /// `None` generates a self-signed certificate at start.
    pub certificate: Option<(std::path::PathBuf, std::path::PathBuf)>,
}

impl PeerOptions {
    /// Options for `mode`: any called name, keepalives every 60 s, no engine.
    pub fn new(mode: Mode) -> PeerOptions {
        PeerOptions {
            mode,
            accept_names: Vec::new(),
            keepalive: Some(Duration::from_secs(60)),
            engine: None,
            certificate: None,
        }
    }
}

/// What every connection of one peer needs.
struct Shared {
    kind: Kind,
    mode: Mode,
    accept_names: Vec<NetbiosName>,
    keepalive: Option<Duration>,
    counters: Arc<Counters>,
}

/// A running peer on one endpoint.
pub struct Peer {
    endpoint: Endpoint,
    local: Option<SocketAddr>,
    mode: Mode,
    counters: Arc<Counters>,
    stop: CancellationToken,
    tasks: TaskTracker,
    socket_file: Option<String>,
    fingerprint: Option<String>,
}

impl fmt::Debug for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Peer")
            .field("endpoint", &self.endpoint.to_string())
            .field("mode", &self.mode)
            .field("stats", &self.stats())
            .finish()
    }
}

impl Peer {
    /// Binds `endpoint` and starts serving it. Fails with
    /// STATUS_INVALID_PARAMETER for what cannot be served (`udp` in source
    /// mode, `memory` without an engine, an address in use) and with the
    /// system's status when binding fails otherwise.
    pub async fn start(endpoint: &Endpoint, options: &PeerOptions) -> Result<Peer, Status> {
        let kind = endpoint.kind();
        if kind == Kind::Udp && options.mode == Mode::Source {
            return Err(Status::INVALID_PARAMETER.with_message(
                "udp has no connection for a client to close: source mode serves tcp, tcp+smb, netbt and unix",
            ));
        }
        let mut peer = Peer {
            endpoint: endpoint.clone(),
            local: None,
            mode: options.mode,
            counters: Arc::default(),
            stop: CancellationToken::new(),
            tasks: TaskTracker::new(),
            socket_file: None,
            fingerprint: None,
        };
        let shared = Arc::new(Shared {
            kind,
            mode: options.mode,
            accept_names: options.accept_names.clone(),
            keepalive: options.keepalive,
            counters: peer.counters.clone(),
        });
        match endpoint.target() {
            Target::Memory(name) => {
                let engine = options.engine.as_ref().ok_or_else(|| {
                    Status::INVALID_PARAMETER
                        .with_message(format!("{endpoint}: a memory endpoint exists only inside one process"))
                })?;
                peer.serve(engine.memory_listen(name)?, shared, |shared, stream| async move {
                    let (r, w) = tokio::io::split(stream);
                    stream::serve(shared.mode, r, w, &shared.counters).await
                });
            }
            Target::Unix(name) => {
                peer.serve(crate::unix::listen(name)?, shared, |shared, mut stream| async move {
                    let (r, w) = crate::unix::split(&mut stream);
                    stream::serve(shared.mode, r, w, &shared.counters).await
                });
                if let UnixName::Path(path) = name {
                    peer.socket_file = Some(path.clone());
                }
            }
            Target::Inet { host, port } => {
                let addr = listen::resolve(host, *port).await?;
                let bound = if kind == Kind::Quic {
                    let quic = quic::bind(addr, options.certificate.as_ref())?;
                    let bound = local_addr(quic.endpoint.local_addr())?;
                    peer.fingerprint = Some(quic.fingerprint);
                    peer.serve(quic.endpoint, shared, quic::serve);
                    bound
                } else if kind == Kind::Udp {
                    let socket = listen::udp(addr).await?;
                    let bound = local_addr(socket.local_addr())?;
                    let (mode, counters, stop) = (options.mode, peer.counters.clone(), peer.stop.clone());
                    peer.tasks.spawn(udp::run(socket, mode, counters, stop));
                    bound
                } else {
                    let listener = listen::tcp(addr).await?;
                    let bound = local_addr(listener.local_addr())?;
                    peer.serve(listener, shared, serve_tcp);
                    bound
                };
                peer.local = Some(bound);
                peer.endpoint = endpoint.with_target(Target::Inet {
                    host: Host::Ip(bound.ip()),
                    port: bound.port(),
                });
                if let Some(pin) = &peer.fingerprint {
                    if !peer.endpoint.quic_options().contains("pin=") {
                        peer.endpoint = peer.endpoint.clone().with_quic_option("pin", pin);
                    }
                }
            }
        }
        tracing::info!(endpoint = %peer.endpoint, mode = %peer.mode, "serving");
        Ok(peer)
    }

    /// Runs the accept loop of `listener`, serving each connection with
    /// `serve` in a task of its own.
    fn serve<L, S, F>(&self, listener: L, shared: Arc<Shared>, serve: S)
    where
        L: listen::Listener,
        S: Fn(Arc<Shared>, L::Stream) -> F + Send + 'static,
        F: std::future::Future<Output = std::io::Result<()>> + Send + 'static,
    {
        let accept = listen::accept_loop(
            listener,
            self.counters.clone(),
            self.stop.clone(),
            self.tasks.clone(),
            move |stream| serve(shared.clone(), stream),
        );
        self.tasks.spawn(accept);
    }

    /// The endpoint as bound (port 0 replaced by the port chosen, a host
    /// name by the address it resolved to).
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The bound IP address and port (`None` for `unix` and `memory`).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local
    }

    /// The SHA-256 fingerprint (hex) of a `quic` peer's certificate.
    pub fn fingerprint(&self) -> Option<&str> {
        self.fingerprint.as_deref()
    }

    /// The peer's mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The counters now.
    pub fn stats(&self) -> Snapshot {
        self.counters.snapshot()
    }

    /// Stops listening, closes every connection, removes the socket file
    /// of a `unix` path, and returns the final counters.
    pub async fn stop(self) -> Snapshot {
        self.stop.cancel();
        self.tasks.close();
        self.tasks.wait().await;
        if let Some(path) = &self.socket_file {
            if let Err(e) = std::fs::remove_file(path) {
                tracing::warn!("removing the socket file {path}: {e}");
            }
        }
        self.counters.snapshot()
    }
}

fn local_addr(addr: std::io::Result<SocketAddr>) -> Result<SocketAddr, Status> {
    addr.map_err(|e| Status::from_io(e, "reading the bound address"))
}

/// Serves one TCP connection as the peer's kind says.
async fn serve_tcp(shared: Arc<Shared>, mut stream: TcpStream) -> std::io::Result<()> {
    let counters = &shared.counters;
    match shared.kind {
        Kind::TcpSmb | Kind::TcpRpc | Kind::Tcp9p => {
            let framing = shared.kind.framing().expect("a framed kind");
            let (r, w) = stream.split();
            framed::serve(framing, shared.mode, r, w, Default::default(), None, counters).await
        }
        Kind::Netbt => {
            let Some(received) = netbt::accept_session(&mut stream, &shared.accept_names, counters).await? else {
                return Ok(());
            };
            let (r, w) = stream.split();
            framed::serve(
                Framing::NetbiosSession,
                shared.mode,
                r,
                w,
                received,
                shared.keepalive,
                counters,
            )
            .await
        }
        _ => {
            let (r, w) = stream.split();
            stream::serve(shared.mode, r, w, counters).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_memory_peer_serves_the_engine_it_is_given() {
        let engine =
            rxce::Engine::with_runtime(tokio::runtime::Handle::current(), rxce::EngineConfig::default()).unwrap();
        let endpoint: Endpoint = "memory:echo".parse().unwrap();
        let refused = Peer::start(&endpoint, &PeerOptions::new(Mode::Echo)).await.unwrap_err();
        assert_eq!(refused, Status::INVALID_PARAMETER);
        let options = PeerOptions {
            engine: Some(engine.clone()),
            ..PeerOptions::new(Mode::Echo)
        };
        let peer = Peer::start(&endpoint, &options).await.unwrap();
        assert_eq!(peer.endpoint(), &endpoint);
        assert_eq!(peer.local_addr(), None);
        // Through the engine's memory transport, as a client would connect.
        let transport = engine.build_transport("memory", 0).unwrap();
        let address = transport
            .build_address(endpoint.local_address(), Arc::new(rxce::NoEvents))
            .unwrap();
        let (handler, mut rx) = Collect::new();
        let (_connection, vc) = address.build_connection(endpoint.remote(), handler).await.unwrap();
        vc.send(&b"hello"[..], rxce::SendOptions::empty()).await.unwrap();
        let back = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(back, b"hello");
        transport.tear_down().await.unwrap();
        let stats = peer.stop().await;
        assert_eq!((stats.connections, stats.bytes_received, stats.bytes_sent), (1, 5, 5));
    }

    #[tokio::test]
    async fn udp_source_is_refused() {
        let endpoint: Endpoint = "udp://127.0.0.1:0".parse().unwrap();
        let status = Peer::start(&endpoint, &PeerOptions::new(Mode::Source))
            .await
            .unwrap_err();
        assert_eq!(status, Status::INVALID_PARAMETER);
        assert!(status.to_string().contains("source mode serves"), "{status}");
    }

    /// Hands every indication to a channel.
    struct Collect(std::sync::Mutex<tokio::sync::mpsc::UnboundedSender<Vec<u8>>>);

    impl Collect {
        fn new() -> (Arc<Collect>, tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>) {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            (Arc::new(Collect(std::sync::Mutex::new(tx))), rx)
        }
    }

    impl rxce::ConnectionEventHandler for Collect {
        fn receive(&self, _vc: &rxce::Vc, indication: &rxce::Indication<'_>) -> rxce::ReceiveAnswer {
            let _ = self.0.lock().unwrap().send(indication.data.to_vec());
            rxce::ReceiveAnswer::take_all(indication)
        }
    }
}
