//! Transport providers: what a transport binds to.
//!
//! A [`Provider`] knows one kind of network (`tcp`, `tcp+smb`, `tcp+rpc`, `tcp+9p`, `quic`, `netbt`,
//! `udp`, `unix`, `memory`, or one of the client's own): it validates local addresses, opens connection
//! endpoints to a remote address and describes itself as a TDI provider. The
//! engine core never names a concrete socket type: a connected endpoint is a
//! [`Stream`], a readiness-based byte stream, and any framing the transport
//! puts around messages is described by a [`Framing`]. A new provider slots in
//! by implementing these two traits and registering a [`ProviderFactory`]
//! with [`Engine::register_provider`](crate::Engine::register_provider).

/// The [`Stream`] methods of a struct whose `stream` field is a tokio
/// socket (`TcpStream`, `UnixStream`): readiness and `try_*` I/O straight
/// through (writes never raise SIGPIPE, see [`crate::sys`]), shutdown and
/// close through socket2.
macro_rules! socket_stream_methods {
    () => {
        fn readable(&self) -> $crate::provider::BoxFuture<'_, std::io::Result<()>> {
            Box::pin(self.stream.readable())
        }

        fn poll_readable(&self, cx: &mut std::task::Context<'_>) -> Option<std::task::Poll<std::io::Result<()>>> {
            Some(self.stream.poll_read_ready(cx))
        }

        fn try_read(&self, buf: &mut [u8]) -> std::io::Result<usize> {
            let wanted = buf.len();
            $crate::provider::clearing_on_short(&self.stream, tokio::io::Interest::READABLE, wanted, || {
                std::io::Read::read(&mut &*socket2::SockRef::from(&self.stream), buf)
            })
        }

        fn writable(&self) -> $crate::provider::BoxFuture<'_, std::io::Result<()>> {
            Box::pin(self.stream.writable())
        }

        fn try_write_vectored(&self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
            let wanted = bufs.iter().map(|b| b.len()).sum();
            $crate::provider::clearing_on_short(&self.stream, tokio::io::Interest::WRITABLE, wanted, || {
                $crate::sys::send_vectored(socket2::SockRef::from(&self.stream), bufs)
            })
        }

        fn shutdown_write(&self) -> std::io::Result<()> {
            socket2::SockRef::from(&self.stream).shutdown(std::net::Shutdown::Write)
        }

        fn close(&self, abortive: bool) {
            let sock = socket2::SockRef::from(&self.stream);
            if abortive {
                // Zero linger makes the descriptor's close (when the last
                // reference to the endpoint drops) send a reset, not an end.
                let _ = sock.set_linger(Some(std::time::Duration::ZERO));
            } else {
                // Sends the end now and wakes readiness waiters; the
                // descriptor itself closes when the last reference drops.
                let _ = sock.shutdown(std::net::Shutdown::Both);
            }
        }
    };
}
pub(crate) use socket_stream_methods;

/// A tokio socket's `try_io`: the readiness-checked I/O of the macro above.
pub(crate) trait TryIo {
    fn try_io_with<R>(&self, interest: tokio::io::Interest, f: impl FnOnce() -> io::Result<R>) -> io::Result<R>;
}

impl TryIo for tokio::net::TcpStream {
    fn try_io_with<R>(&self, interest: tokio::io::Interest, f: impl FnOnce() -> io::Result<R>) -> io::Result<R> {
        self.try_io(interest, f)
    }
}

/// Runs a read or write `io` of up to `wanted` bytes and, as tokio's own
/// `poll_read`/`poll_write` do, clears the socket's readiness when it moved
/// fewer bytes than asked (the kernel had no more data, or no more room):
/// the next attempt then waits for readiness instead of making a system
/// call that returns `EAGAIN`. The I/O runs inside `try_io`, so the
/// readiness cleared is the one seen before it: an edge that arrives during
/// the call is kept. An end of stream (`Ok(0)`) clears nothing.
pub(crate) fn clearing_on_short(
    socket: &impl TryIo,
    interest: tokio::io::Interest,
    wanted: usize,
    io: impl FnOnce() -> io::Result<usize>,
) -> io::Result<usize> {
    let mut short = 0;
    let outcome = socket.try_io_with(interest, || match io()? {
        n if n > 0 && n < wanted => {
            short = n;
            Err(io::ErrorKind::WouldBlock.into())
        }
        n => Ok(n),
    });
    match outcome {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock && short > 0 => Ok(short),
        other => other,
    }
}

pub(crate) mod memory;
pub(crate) mod netbt;
pub mod quic;
pub(crate) mod tcp;
pub(crate) mod udp;
#[cfg(unix)]
pub(crate) mod unix;

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::config::EngineConfig;
use crate::status::Status;
use crate::tdi::{ConnectionInformation, ProviderInfo, TransportAddress};

pub use memory::{MemoryListener, MemoryStream};
pub use tcp::TcpEndpoint;
#[cfg(unix)]
pub use unix::UnixEndpoint;

/// A boxed, sendable future, as providers and streams return them.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The message framing a transport may put around each TSDU on its byte
/// stream (rxce-wire's): NetBIOS session messages or SMB direct-hosted
/// TCP. With framing, every send is one message and receive indications
/// carry whole messages (see the crate docs on indications).
pub use rxce_wire::framing::Framing;

/// What the kernel says about a connected endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamInfo {
    /// Smoothed round-trip time, where the transport measures one.
    pub rtt: Option<Duration>,
    /// The send buffer size in bytes (0 when not buffered).
    pub send_buffer_size: u32,
    /// The receive buffer size in bytes (0 when not buffered).
    pub receive_buffer_size: u32,
    /// Packets the transport declared lost (QUIC's loss detection; 0 where
    /// the transport does not count them). Added to the transmission errors
    /// of RxCeQueryInformation's ConnectionEndpointInformation.
    pub lost_packets: u64,
}

/// A connected, readiness-based byte stream: one VC's endpoint.
///
/// All methods take `&self`: the receive pump reads while senders on other
/// threads write. `try_*` never block; `readable` / `writable` wait until the
/// next `try_*` may make progress (they may wake spuriously).
pub trait Stream: Send + Sync + 'static {
    /// Waits until the stream may have bytes to read (or an end or error).
    fn readable(&self) -> BoxFuture<'_, io::Result<()>>;
    /// [`readable`](Stream::readable) as a poll, for streams that can wait
    /// without a future of their own (tokio's sockets: `poll_read_ready`):
    /// the engine's VC task, the only reader, then holds no boxed future
    /// while it waits (an idle VC's memory) and makes none per wait.
    /// `None` (the provided default): the stream cannot, and the engine
    /// waits with `readable`. Only the latest waker given is woken.
    fn poll_readable(&self, cx: &mut std::task::Context<'_>) -> Option<std::task::Poll<io::Result<()>>> {
        let _ = cx;
        None
    }
    /// Reads what is there; `Ok(0)` is the end of the peer's data,
    /// `WouldBlock` means nothing yet.
    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize>;
    /// Waits until the stream may accept bytes.
    fn writable(&self) -> BoxFuture<'_, io::Result<()>>;
    /// Writes what the stream takes now, gathering from `bufs` in order.
    fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize>;
    /// Ends our direction in an orderly way (the peer reads an end).
    fn shutdown_write(&self) -> io::Result<()>;
    /// Closes both directions now; `abortive` resets instead of an orderly
    /// end. Later calls fail; readiness futures wake.
    fn close(&self, abortive: bool);
    /// Buffer sizes and round-trip time, as far as the transport knows them.
    fn info(&self) -> StreamInfo {
        StreamInfo::default()
    }
    /// The remote address the stream is connected to.
    fn peer_address(&self) -> TransportAddress;
}

/// A bound datagram socket: a datagram transport's address.
pub trait DatagramSocket: Send + Sync + 'static {
    /// Waits until a datagram may be there to receive.
    fn readable(&self) -> BoxFuture<'_, io::Result<()>>;
    /// Receives one datagram if one is there (`WouldBlock` if not); returns
    /// its length and source. `buf` holds the largest datagram.
    fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, TransportAddress)>;
    /// Sends one datagram gathered from `bufs` to `to`.
    fn send_to<'a>(&'a self, bufs: &'a [IoSlice<'a>], to: &'a TransportAddress) -> BoxFuture<'a, io::Result<usize>>;
    /// The address the socket is bound to.
    fn local_address(&self) -> TransportAddress;
    /// Buffer sizes, as far as the transport knows them.
    fn info(&self) -> StreamInfo {
        StreamInfo::default()
    }
}

/// A connection endpoint a provider opened.
pub struct Connected {
    /// The endpoint.
    pub stream: Arc<dyn Stream>,
    /// The framing of the session on it (`None`: a bare byte stream).
    pub framing: Option<Framing>,
    /// Send the framing's keepalive frame after this long without sends
    /// (framings with keepalives only).
    pub keepalive: Option<Duration>,
}

impl std::fmt::Debug for Connected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connected")
            .field("peer", &self.stream.peer_address())
            .field("framing", &self.framing)
            .finish()
    }
}

/// One connect attempt's inputs.
#[derive(Debug, Clone, Copy)]
pub struct ConnectRequest<'a> {
    /// The local address the connection is built on.
    pub local: &'a TransportAddress,
    /// The remote side (RXCE_CONNECTION_INFORMATION).
    pub remote: &'a ConnectionInformation,
    /// How long the attempt may take before it fails with IO_TIMEOUT.
    pub timeout: Duration,
}

/// A transport provider: one kind of network.
///
/// A minimal one: a `loopback` transport whose every connection is an
/// in-process pipe with an echo on its far end, registered on an engine and
/// then used like any built-in transport.
///
/// ```
/// use std::sync::Arc;
/// use rxce::provider::{BoxFuture, ConnectRequest, Connected, MemoryStream, Provider, ProviderContext};
/// use rxce::tdi::ProviderInfo;
/// use rxce::{ConnectionInformation, Engine, EngineConfig, NoEvents, SendOptions, Status, TransportAddress};
///
/// struct Loopback;
///
/// impl Provider for Loopback {
///     fn provider_info(&self) -> ProviderInfo {
///         ProviderInfo::connection_mode(None)
///     }
///
///     fn check_local_address(&self, local: &TransportAddress) -> Result<(), Status> {
///         match local.memory_entry() {
///             Some(_) => Ok(()),
///             None => Err(Status::INVALID_PARAMETER.with_message("a loopback address is a name")),
///         }
///     }
///
///     fn connect<'a>(&'a self, request: ConnectRequest<'a>) -> BoxFuture<'a, Result<Connected, Status>> {
///         Box::pin(async move {
///             let name = request.remote.remote_address.memory_entry().unwrap_or("echo");
///             let (ours, mut theirs) = MemoryStream::pair("me", name);
///             tokio::spawn(async move {
///                 let (mut r, mut w) = tokio::io::split(&mut theirs);
///                 let _ = tokio::io::copy(&mut r, &mut w).await;
///             });
///             Ok(Connected { stream: Arc::new(ours), framing: None, keepalive: None })
///         })
///     }
/// }
///
/// let engine = Engine::new(EngineConfig::default())?;
/// engine.register_provider("loopback", |_: &ProviderContext| Ok(Arc::new(Loopback) as Arc<dyn Provider>))?;
/// engine.runtime().clone().block_on(async {
///     let transport = engine.build_transport("loopback", 0)?;
///     let address = transport.build_address(TransportAddress::memory("me"), Arc::new(NoEvents))?;
///     let remote = ConnectionInformation::to(TransportAddress::memory("echo"));
///     let (_connection, vc) = address.build_connection(remote, Arc::new(NoEvents)).await?;
///     vc.send(&b"ping"[..], SendOptions::empty()).await?;
///     transport.tear_down().await
/// })?;
/// # Ok::<(), rxce::Status>(())
/// ```
pub trait Provider: Send + Sync + 'static {
    /// The provider's TDI description (the engine fills in the start time).
    fn provider_info(&self) -> ProviderInfo;
    /// Checks that `local` names an address this provider can own here.
    fn check_local_address(&self, local: &TransportAddress) -> Result<(), Status>;
    /// Opens a connection endpoint to `request.remote`.
    fn connect<'a>(&'a self, request: ConnectRequest<'a>) -> BoxFuture<'a, Result<Connected, Status>>;
    /// For datagram transports: binds the socket of an address (`None` for
    /// connection-only transports).
    fn bind_datagram(&self, local: &TransportAddress) -> Result<Option<Arc<dyn DatagramSocket>>, Status> {
        let _ = local;
        Ok(None)
    }
}

/// Builds providers by transport name for an engine.
pub trait ProviderFactory: Send + Sync + 'static {
    /// A provider for a transport bound with this engine configuration.
    fn create(&self, context: &ProviderContext) -> Result<Arc<dyn Provider>, Status>;
}

/// What a provider may use from its engine.
#[derive(Clone)]
pub struct ProviderContext {
    pub(crate) config: Arc<EngineConfig>,
    pub(crate) memory: Arc<memory::MemoryNetwork>,
}

impl ProviderContext {
    /// The engine's configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }
}

impl<F> ProviderFactory for F
where
    F: Fn(&ProviderContext) -> Result<Arc<dyn Provider>, Status> + Send + Sync + 'static,
{
    fn create(&self, context: &ProviderContext) -> Result<Arc<dyn Provider>, Status> {
        self(context)
    }
}

/// The providers every engine knows.
pub(crate) fn builtin_factories() -> Vec<(&'static str, Arc<dyn ProviderFactory>)> {
    vec![
        (
            "tcp",
            Arc::new(|cx: &ProviderContext| Ok(Arc::new(tcp::TcpProvider::new(cx, None)) as Arc<dyn Provider>)),
        ),
        (
            "tcp+smb",
            Arc::new(|cx: &ProviderContext| {
                Ok(Arc::new(tcp::TcpProvider::new(cx, Some(Framing::DirectTcp))) as Arc<dyn Provider>)
            }),
        ),
        (
            "tcp+rpc",
            Arc::new(|cx: &ProviderContext| {
                Ok(Arc::new(tcp::TcpProvider::new(cx, Some(Framing::RpcRecord))) as Arc<dyn Provider>)
            }),
        ),
        (
            "tcp+9p",
            Arc::new(|cx: &ProviderContext| {
                Ok(Arc::new(tcp::TcpProvider::new(cx, Some(Framing::NineP))) as Arc<dyn Provider>)
            }),
        ),
        (
            "quic",
            Arc::new(|cx: &ProviderContext| Ok(Arc::new(quic::QuicProvider::new(cx)) as Arc<dyn Provider>)),
        ),
        (
            "netbt",
            Arc::new(|cx: &ProviderContext| Ok(Arc::new(netbt::NetbtProvider::new(cx)) as Arc<dyn Provider>)),
        ),
        (
            "udp",
            Arc::new(|_: &ProviderContext| Ok(Arc::new(udp::UdpProvider) as Arc<dyn Provider>)),
        ),
        ("unix", Arc::new(|_: &ProviderContext| unix_provider())),
        (
            "memory",
            Arc::new(|cx: &ProviderContext| Ok(Arc::new(memory::MemoryProvider::new(cx)) as Arc<dyn Provider>)),
        ),
    ]
}

/// The `unix` provider, on the systems that have Unix-domain stream sockets.
#[cfg(unix)]
fn unix_provider() -> Result<Arc<dyn Provider>, Status> {
    Ok(Arc::new(unix::UnixProvider))
}

/// Not offered here: the name is known, so that building it says why.
#[cfg(not(unix))]
fn unix_provider() -> Result<Arc<dyn Provider>, Status> {
    Err(Status::NOT_SUPPORTED
        .with_message("the unix transport is not offered on this OS: tokio has no Unix-domain stream sockets here"))
}

#[cfg(all(test, not(unix)))]
mod tests {
    use crate::{Engine, EngineConfig, Status};

    #[test]
    fn the_unix_transport_is_not_offered_and_says_so() {
        let engine = Engine::new(EngineConfig::default()).unwrap();
        let err = engine.build_transport("unix", 0).unwrap_err();
        assert_eq!(err, Status::NOT_SUPPORTED);
        assert!(err.to_string().contains("not offered"), "{err}");
    }
}
