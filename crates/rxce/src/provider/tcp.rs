//! The `tcp` provider (and `tcp+smb`, the same with SMB direct-hosted
//! framing): TCP over IPv4 and IPv6.

use std::net::{IpAddr, SocketAddr};

use tokio::net::{TcpSocket, TcpStream};

use super::{BoxFuture, ConnectRequest, Connected, Framing, Provider, ProviderContext, Stream, StreamInfo};
use crate::status::Status;
use crate::sys;
use crate::tdi::{ProviderInfo, TransportAddress};

/// TCP connections, bare or framed.
pub(crate) struct TcpProvider {
    framing: Option<Framing>,
    nodelay: bool,
    keepalive: Option<crate::config::TcpKeepalive>,
    max_message: usize,
}

impl TcpProvider {
    pub(crate) fn new(cx: &ProviderContext, framing: Option<Framing>) -> TcpProvider {
        TcpProvider {
            framing,
            nodelay: cx.config.tcp_nodelay,
            keepalive: cx.config.tcp_keepalive,
            max_message: cx.config.max_message_size,
        }
    }
}

/// The local IP (and port) a connection binds to, from an address entry.
pub(crate) fn local_ip(local: &TransportAddress) -> Result<SocketAddr, Status> {
    local
        .ip_entry()
        .ok_or_else(|| Status::INVALID_PARAMETER.with_message(format!("the local address {local} has no IP entry")))
}

/// Checks that `addr` is an address of this host by binding a throwaway
/// socket to it.
pub(crate) fn check_bindable(addr: SocketAddr) -> Result<(), Status> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(|e| Status::from_io(e, "creating a TCP socket"))?;
    socket
        .bind(SocketAddr::new(addr.ip(), 0))
        .map_err(|e| Status::from_io(e, format!("binding to {}", addr.ip())))
}

/// Connects a TCP socket from `local` to `remote` within `timeout`.
pub(crate) async fn connect_tcp(
    local: SocketAddr,
    remote: SocketAddr,
    timeout: std::time::Duration,
    nodelay: bool,
) -> Result<TcpStream, Status> {
    if local.is_ipv4() != remote.is_ipv4() && !local.ip().is_unspecified() {
        return Err(Status::INVALID_PARAMETER.with_message(format!(
            "local address {local} and remote {remote} are of different families"
        )));
    }
    if remote.port() == 0 || remote.ip().is_unspecified() {
        return Err(Status::INVALID_PARAMETER.with_message(format!("cannot connect to {remote}")));
    }
    let socket = match remote {
        SocketAddr::V4(_) => TcpSocket::new_v4(),
        SocketAddr::V6(_) => TcpSocket::new_v6(),
    }
    .map_err(|e| Status::from_io(e, "creating a TCP socket"))?;
    if !local.ip().is_unspecified() || local.port() != 0 {
        if local.port() != 0 {
            socket
                .set_reuseaddr(true)
                .map_err(|e| Status::from_io(e, "setting SO_REUSEADDR"))?;
        }
        let bind_to = match (local.ip(), remote) {
            (IpAddr::V4(ip), SocketAddr::V6(_)) if ip.is_unspecified() => {
                SocketAddr::new(IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED), local.port())
            }
            _ => local,
        };
        socket
            .bind(bind_to)
            .map_err(|e| Status::from_io(e, format!("binding to {bind_to}")))?;
    }
    let stream = match tokio::time::timeout(timeout, socket.connect(remote)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => return Err(Status::from_io(e, format!("connecting to {remote}"))),
        Err(_) => {
            return Err(Status::IO_TIMEOUT.with_message(format!(
                "connecting to {remote}: no answer within {} ms",
                timeout.as_millis()
            )))
        }
    };
    if nodelay {
        stream
            .set_nodelay(true)
            .map_err(|e| Status::from_io(e, "setting TCP_NODELAY"))?;
    }
    Ok(stream)
}

/// Turns on the kernel's keepalive probes of a TCP connection.
pub(crate) fn set_keepalive(stream: &TcpStream, keepalive: Option<crate::config::TcpKeepalive>) -> Result<(), Status> {
    let Some(k) = keepalive else {
        return Ok(());
    };
    let params = socket2::TcpKeepalive::new()
        .with_time(k.idle)
        .with_interval(k.interval)
        .with_retries(k.retries);
    socket2::SockRef::from(stream)
        .set_tcp_keepalive(&params)
        .map_err(|e| Status::from_io(e, "setting TCP keepalive"))
}

/// Connects to the first of `targets` that answers, in order, all within
/// `deadline`; the last failure when none does.
pub(crate) async fn connect_first(
    local: SocketAddr,
    targets: &[SocketAddr],
    deadline: tokio::time::Instant,
    nodelay: bool,
) -> Result<(TcpStream, SocketAddr), Status> {
    let mut failure = None;
    for target in targets {
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        if remaining.is_zero() {
            break;
        }
        match connect_tcp(local, *target, remaining, nodelay).await {
            Ok(stream) => return Ok((stream, *target)),
            Err(status) => failure = Some(status),
        }
    }
    Err(failure.unwrap_or_else(|| Status::IO_TIMEOUT.with_message("no time was left to connect")))
}

impl Provider for TcpProvider {
    fn provider_info(&self) -> ProviderInfo {
        let limit = self
            .framing
            .map(|framing| framing.max_message_len().min(self.max_message) as u32);
        ProviderInfo::connection_mode(limit)
    }

    fn check_local_address(&self, local: &TransportAddress) -> Result<(), Status> {
        check_bindable(local_ip(local)?)
    }

    fn connect<'a>(&'a self, request: ConnectRequest<'a>) -> BoxFuture<'a, Result<Connected, Status>> {
        Box::pin(async move {
            let local = local_ip(request.local)?;
            let remote = &request.remote.remote_address;
            // A framed transport has its well-known port (445 for SMB, 111
            // for rpcbind, 564 for 9P); plain TCP has none.
            let default_port = self.framing.map_or(0, Framing::default_port);
            let deadline = tokio::time::Instant::now() + request.timeout;
            let targets = tokio::time::timeout_at(deadline, crate::resolve::remote_ips(remote, default_port))
                .await
                .map_err(|_| Status::IO_TIMEOUT.with_message(format!("resolving {remote} took too long")))?
                .ok_or_else(|| {
                    Status::INVALID_PARAMETER.with_message(format!(
                        "the remote address {remote} has no IP or host-name entry for a tcp transport"
                    ))
                })??;
            let (stream, remote) = connect_first(local, &targets, deadline, self.nodelay).await?;
            set_keepalive(&stream, self.keepalive)?;
            Ok(Connected {
                stream: std::sync::Arc::new(TcpEndpoint::to_ip(stream, remote)),
                framing: self.framing,
                keepalive: None,
            })
        })
    }
}

/// A connected TCP socket as a [`Stream`]: what the `tcp` providers make of
/// their connections, and what a custom provider can make of a socket of its
/// own (an accepted one, say).
pub struct TcpEndpoint {
    stream: TcpStream,
    peer: Peer,
}

/// The remote address a [`TcpEndpoint`] reports: an IP one kept as it is
/// (no list of entries allocated per connection), or any other as given.
enum Peer {
    Ip(SocketAddr),
    Other(TransportAddress),
}

impl TcpEndpoint {
    /// Wraps a connected socket; `peer` is what the VC reports as its
    /// remote address. Writes to it never raise SIGPIPE.
    pub fn new(stream: TcpStream, peer: TransportAddress) -> TcpEndpoint {
        let peer = match peer.entries.as_slice() {
            [crate::tdi::TaAddress::Ip(ip)] => Peer::Ip(*ip),
            _ => Peer::Other(peer),
        };
        TcpEndpoint::with_peer(stream, peer)
    }

    /// [`TcpEndpoint::new`] for a peer that is one IP address.
    pub(crate) fn to_ip(stream: TcpStream, peer: SocketAddr) -> TcpEndpoint {
        TcpEndpoint::with_peer(stream, Peer::Ip(peer))
    }

    fn with_peer(stream: TcpStream, peer: Peer) -> TcpEndpoint {
        crate::sys::guard_socket(socket2::SockRef::from(&stream));
        TcpEndpoint { stream, peer }
    }
}

impl Stream for TcpEndpoint {
    super::socket_stream_methods!();

    fn info(&self) -> StreamInfo {
        let sock = socket2::SockRef::from(&self.stream);
        StreamInfo {
            rtt: sys::tcp_info::smoothed_rtt(&sock),
            send_buffer_size: sock.send_buffer_size().unwrap_or(0) as u32,
            receive_buffer_size: sock.recv_buffer_size().unwrap_or(0) as u32,
            lost_packets: 0,
        }
    }

    fn peer_address(&self) -> TransportAddress {
        match &self.peer {
            Peer::Ip(ip) => TransportAddress::ip(*ip),
            Peer::Other(peer) => peer.clone(),
        }
    }
}
