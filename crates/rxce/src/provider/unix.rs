//! The `unix` provider: Unix-domain stream sockets, by path or by abstract
//! name (an address whose first byte is NUL).

use std::os::unix::net::SocketAddr as UnixSocketAddr;

use tokio::net::UnixStream;

use super::{BoxFuture, ConnectRequest, Connected, Framing, Provider, Stream, StreamInfo};
use crate::status::Status;
use crate::tdi::{ProviderInfo, TransportAddress};

/// Unix-domain stream connections.
pub(crate) struct UnixProvider;

/// The socket address of a path or (leading NUL) abstract name.
fn socket_address(name: &[u8]) -> Result<UnixSocketAddr, Status> {
    let bad = |why: &str| Status::INVALID_PARAMETER.with_message(format!("unix address {name:?}: {why}"));
    match name.split_first() {
        None => Err(bad("empty")),
        Some((0, abstract_name)) => {
            use std::os::linux::net::SocketAddrExt;
            UnixSocketAddr::from_abstract_name(abstract_name).map_err(|e| bad(&e.to_string()))
        }
        Some(_) => {
            use std::os::unix::ffi::OsStrExt;
            UnixSocketAddr::from_pathname(std::ffi::OsStr::from_bytes(name)).map_err(|e| bad(&e.to_string()))
        }
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
            // A Unix-domain connect completes (or fails) at once unless the
            // listener's queue is full; the blocking call is bounded by that.
            let std_stream =
                tokio::task::spawn_blocking(move || std::os::unix::net::UnixStream::connect_addr(&address))
                    .await
                    .map_err(|_| Status::CANCELLED.with_message("the connect attempt was cancelled"))?
                    .map_err(|e| Status::from_io(e, format!("connecting to {remote}")))?;
            std_stream
                .set_nonblocking(true)
                .map_err(|e| Status::from_io(e, "making the socket non-blocking"))?;
            let stream = UnixStream::from_std(std_stream).map_err(|e| Status::from_io(e, "registering the socket"))?;
            Ok(Connected {
                stream: std::sync::Arc::new(UnixEndpoint {
                    stream,
                    peer: remote.clone(),
                }),
                framing: Framing::Stream,
                keepalive: None,
            })
        })
    }
}

/// A connected Unix-domain socket as a [`Stream`].
struct UnixEndpoint {
    stream: UnixStream,
    peer: TransportAddress,
}

impl Stream for UnixEndpoint {
    super::socket_stream_methods!();

    fn info(&self) -> StreamInfo {
        let sock = socket2::SockRef::from(&self.stream);
        StreamInfo {
            rtt: None,
            send_buffer_size: sock.send_buffer_size().unwrap_or(0) as u32,
            receive_buffer_size: sock.recv_buffer_size().unwrap_or(0) as u32,
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
        assert!(socket_address(b"/tmp/x.sock").unwrap().as_pathname().is_some());
        use std::os::linux::net::SocketAddrExt;
        assert_eq!(
            socket_address(b"\0rxce").unwrap().as_abstract_name(),
            Some(&b"rxce"[..])
        );
        assert_eq!(socket_address(b"").unwrap_err(), Status::INVALID_PARAMETER);
        assert_eq!(socket_address(&[b'a'; 200]).unwrap_err(), Status::INVALID_PARAMETER);
    }
}
