//! The `udp` provider: datagrams. An address on `udp` owns a bound UDP
//! socket; datagrams arriving there are indicated on the address's event
//! handler, and the address sends datagrams to any remote. It builds no
//! connections.

use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::Interest;
use tokio::net::UdpSocket;

use super::{BoxFuture, ConnectRequest, Connected, DatagramSocket, Provider, StreamInfo};
use crate::status::Status;
use crate::tdi::{ProviderInfo, TransportAddress};

/// The largest UDP payload over IPv4.
pub(crate) const MAX_DATAGRAM: usize = 65_507;

/// UDP datagrams.
pub(crate) struct UdpProvider;

impl Provider for UdpProvider {
    fn provider_info(&self) -> ProviderInfo {
        ProviderInfo::datagram(MAX_DATAGRAM as u32)
    }

    fn check_local_address(&self, local: &TransportAddress) -> Result<(), Status> {
        super::tcp::local_ip(local).map(|_| ())
    }

    fn connect<'a>(&'a self, request: ConnectRequest<'a>) -> BoxFuture<'a, Result<Connected, Status>> {
        let remote = request.remote.remote_address.clone();
        Box::pin(async move {
            Err(Status::NOT_SUPPORTED.with_message(format!(
                "udp builds no connections (to {remote}): send datagrams from the address"
            )))
        })
    }

    fn bind_datagram(&self, local: &TransportAddress) -> Result<Option<Arc<dyn DatagramSocket>>, Status> {
        let addr = super::tcp::local_ip(local)?;
        let std_socket = std::net::UdpSocket::bind(addr)
            .map_err(|e| Status::from_io(e, format!("binding a UDP socket to {addr}")))?;
        std_socket
            .set_nonblocking(true)
            .map_err(|e| Status::from_io(e, "making the UDP socket non-blocking"))?;
        if addr.is_ipv4() {
            std_socket
                .set_broadcast(true)
                .map_err(|e| Status::from_io(e, "allowing broadcast datagrams"))?;
        }
        let socket = UdpSocket::from_std(std_socket).map_err(|e| Status::from_io(e, "registering the UDP socket"))?;
        let local = socket
            .local_addr()
            .map_err(|e| Status::from_io(e, "reading the UDP socket's address"))?;
        Ok(Some(Arc::new(UdpEndpoint { socket, local })))
    }
}

/// A bound UDP socket.
struct UdpEndpoint {
    socket: UdpSocket,
    local: SocketAddr,
}

impl DatagramSocket for UdpEndpoint {
    fn readable(&self) -> BoxFuture<'_, io::Result<()>> {
        Box::pin(self.socket.readable())
    }

    fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, TransportAddress)> {
        let (n, from) = self.socket.try_recv_from(buf)?;
        Ok((n, TransportAddress::ip(from)))
    }

    fn send_to<'a>(&'a self, bufs: &'a [IoSlice<'a>], to: &'a TransportAddress) -> BoxFuture<'a, io::Result<usize>> {
        Box::pin(async move {
            let to = to
                .ip_entry()
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the remote address has no IP entry"))?;
            let to = socket2::SockAddr::from(to);
            loop {
                self.socket.writable().await?;
                // One sendmsg gathers the chain into one datagram.
                match self.socket.try_io(Interest::WRITABLE, || {
                    crate::sys::send_to_vectored(socket2::SockRef::from(&self.socket), bufs, &to)
                }) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    other => return other,
                }
            }
        })
    }

    fn local_address(&self) -> TransportAddress {
        TransportAddress::ip(self.local)
    }

    fn info(&self) -> StreamInfo {
        let sock = socket2::SockRef::from(&self.socket);
        StreamInfo {
            rtt: None,
            send_buffer_size: sock.send_buffer_size().unwrap_or(0) as u32,
            receive_buffer_size: sock.recv_buffer_size().unwrap_or(0) as u32,
            lost_packets: 0,
        }
    }
}
