//! The `unix` provider: Unix-domain stream sockets, by path or by abstract
//! name (an address whose first byte is NUL). Built on Unix systems only:
//! on Windows tokio has no Unix-domain stream sockets, so the transport is
//! not offered there. Abstract names are a Linux (and Android) feature;
//! elsewhere an address with one is refused with STATUS_NOT_SUPPORTED.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use socket2::SockAddr;
use tokio::net::UnixStream;

use super::{BoxFuture, ConnectRequest, Connected, Provider, Stream, StreamInfo, TryIo};
use crate::status::Status;
use crate::tdi::{ProviderInfo, TransportAddress};

/// Unix-domain stream connections.
pub(crate) struct UnixProvider;

/// Whether this OS has abstract socket names.
const ABSTRACT_NAMES: bool = cfg!(any(target_os = "linux", target_os = "android"));

/// The socket address of a path or (leading NUL) abstract name.
fn socket_address(name: &[u8]) -> Result<SockAddr, Status> {
    let bad = |why: &str| Status::INVALID_PARAMETER.with_message(format!("unix address {name:?}: {why}"));
    match name.first() {
        None => Err(bad("empty")),
        Some(0) if !ABSTRACT_NAMES => Err(Status::NOT_SUPPORTED.with_message(format!(
            "unix address {name:?}: abstract socket names (a leading NUL byte) exist on Linux only"
        ))),
        Some(b) if *b != 0 && name.contains(&0) => Err(bad("a path holds no NUL byte")),
        // socket2 names an abstract socket by its leading NUL byte.
        Some(_) => SockAddr::unix(OsStr::from_bytes(name)).map_err(|e| bad(&e.to_string())),
    }
}

/// A non-blocking Unix-domain connect: it completes or fails at once (a
/// listener with a full queue refuses with EAGAIN rather than wait).
fn connect_now(address: &SockAddr) -> std::io::Result<std::os::unix::net::UnixStream> {
    let socket = socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None)?;
    socket.set_nonblocking(true)?;
    match socket.connect(address) {
        Ok(()) => Ok(socket.into()),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "the listener's queue is full",
        )),
        Err(e) => Err(e),
    }
}

impl TryIo for UnixStream {
    fn try_io_with<R>(
        &self,
        interest: tokio::io::Interest,
        f: impl FnOnce() -> std::io::Result<R>,
    ) -> std::io::Result<R> {
        self.try_io(interest, f)
    }
}

impl Provider for UnixProvider {
    fn provider_info(&self) -> ProviderInfo {
        ProviderInfo::connection_mode(None)
    }

    fn check_local_address(&self, local: &TransportAddress) -> Result<(), Status> {
        // Client sockets are not bound: any unix entry (even empty) will do.
        local.unix_entry().map(|_| ()).ok_or_else(|| {
            Status::INVALID_PARAMETER.with_message(format!("the local address {local} has no unix entry"))
        })
    }

    fn connect<'a>(&'a self, request: ConnectRequest<'a>) -> BoxFuture<'a, Result<Connected, Status>> {
        Box::pin(async move {
            let remote = &request.remote.remote_address;
            let name = remote.unix_entry().ok_or_else(|| {
                Status::INVALID_PARAMETER.with_message(format!("the remote address {remote} has no unix entry"))
            })?;
            let address = socket_address(name)?;
            let stream = connect_now(&address).map_err(|e| Status::from_io(e, format!("connecting to {remote}")))?;
            let stream = UnixStream::from_std(stream).map_err(|e| Status::from_io(e, "registering the socket"))?;
            Ok(Connected {
                stream: std::sync::Arc::new(UnixEndpoint::new(stream, remote.clone())),
                framing: None,
                keepalive: None,
            })
        })
    }
}

/// A connected Unix-domain socket as a [`Stream`] (see
/// [`TcpEndpoint`](super::TcpEndpoint)).
pub struct UnixEndpoint {
    stream: UnixStream,
    peer: TransportAddress,
}

impl UnixEndpoint {
    /// Wraps a connected socket; `peer` is what the VC reports as its
    /// remote address. Writes to it never raise SIGPIPE.
    pub fn new(stream: UnixStream, peer: TransportAddress) -> UnixEndpoint {
        crate::sys::guard_socket(socket2::SockRef::from(&stream));
        UnixEndpoint { stream, peer }
    }
}

impl Stream for UnixEndpoint {
    super::socket_stream_methods!();

    fn info(&self) -> StreamInfo {
        let sock = socket2::SockRef::from(&self.stream);
        StreamInfo {
            rtt: None,
            send_buffer_size: sock.send_buffer_size().unwrap_or(0) as u32,
            receive_buffer_size: sock.recv_buffer_size().unwrap_or(0) as u32,
            lost_packets: 0,
        }
    }

    fn peer_address(&self) -> TransportAddress {
        self.peer.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_abstract_names_become_socket_addresses() {
        assert_eq!(
            socket_address(b"/tmp/x.sock").unwrap().as_pathname(),
            Some(std::path::Path::new("/tmp/x.sock"))
        );
        match socket_address(b"\0rxce") {
            Ok(address) => assert_eq!(address.as_abstract_namespace(), Some(&b"rxce"[..])),
            Err(status) => assert_eq!((ABSTRACT_NAMES, status), (false, Status::NOT_SUPPORTED)),
        }
        assert_eq!(socket_address(b"").unwrap_err(), Status::INVALID_PARAMETER);
        assert_eq!(socket_address(&[b'a'; 200]).unwrap_err(), Status::INVALID_PARAMETER);
        assert_eq!(socket_address(b"/tmp/x\0y").unwrap_err(), Status::INVALID_PARAMETER);
    }
}
