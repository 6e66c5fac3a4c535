//! Listening sockets and their accept loops: TCP (for `tcp`, `tcp+smb`
//! and `netbt`), Unix-domain (see [`crate::unix`]), and the engine's
//! memory transport.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use rxce::provider::{MemoryListener, MemoryStream};
use rxce::Status;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::stats::Counters;
use crate::endpoint::Host;

/// A listening socket of some kind.
pub(crate) trait Listener: Send + 'static {
    /// A connection it accepts.
    type Stream: Send + 'static;
    /// Waits for the next connection (`Ok(None)`: no more will come).
    fn accept_one(&mut self) -> impl Future<Output = io::Result<Option<Self::Stream>>> + Send;
}

impl Listener for TcpListener {
    type Stream = TcpStream;

    async fn accept_one(&mut self) -> io::Result<Option<TcpStream>> {
        let (stream, from) = self.accept().await?;
        // Echoed replies go out at once, not after the client's delayed ACK.
        stream.set_nodelay(true)?;
        tracing::debug!(%from, "accepted");
        Ok(Some(stream))
    }
}

impl Listener for crate::unix::Listener {
    type Stream = crate::unix::Connection;

    async fn accept_one(&mut self) -> io::Result<Option<crate::unix::Connection>> {
        Ok(Some(crate::unix::accept(self).await?))
    }
}

impl Listener for MemoryListener {
    type Stream = MemoryStream;

    async fn accept_one(&mut self) -> io::Result<Option<MemoryStream>> {
        Ok(self.accept().await)
    }
}

/// Accepts connections until `stop`, counting each and serving it with
/// `serve` in a task of `tasks` (which ends with `stop` too).
pub(crate) async fn accept_loop<L, S, F>(
    mut listener: L,
    counters: Arc<Counters>,
    stop: CancellationToken,
    tasks: TaskTracker,
    serve: S,
) where
    L: Listener,
    S: Fn(L::Stream) -> F + Send,
    F: Future<Output = io::Result<()>> + Send + 'static,
{
    loop {
        let accepted = tokio::select! {
            () = stop.cancelled() => return,
            accepted = listener.accept_one() => accepted,
        };
        match accepted {
            Ok(Some(stream)) => {
                counters.connection();
                let connection = serve(stream);
                let stop = stop.clone();
                tasks.spawn(async move {
                    tokio::select! {
                        () = stop.cancelled() => {}
                        served = connection => {
                            if let Err(e) = served {
                                tracing::debug!("connection ended: {e}");
                            }
                        }
                    }
                });
            }
            Ok(None) => return,
            Err(e) => {
                // Out of descriptors and the like: let connections finish.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

/// The socket address of a host (a name resolves to its first address).
pub async fn resolve(host: &Host, port: u16) -> Result<SocketAddr, Status> {
    match host {
        Host::Ip(ip) => Ok(SocketAddr::new(*ip, port)),
        Host::Name(name) => tokio::net::lookup_host((name.as_str(), port))
            .await
            .map_err(|e| Status::from_io(e, format!("resolving {name}")))?
            .next()
            .ok_or_else(|| Status::BAD_NETWORK_PATH.with_message(format!("the host name {name:?} has no address"))),
    }
}

/// A TCP listener on `addr`.
pub(crate) async fn tcp(addr: SocketAddr) -> Result<TcpListener, Status> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| Status::from_io(e, format!("listening on {addr}")))
}

/// A UDP socket on `addr`.
pub(crate) async fn udp(addr: SocketAddr) -> Result<tokio::net::UdpSocket, Status> {
    tokio::net::UdpSocket::bind(addr)
        .await
        .map_err(|e| Status::from_io(e, format!("binding udp {addr}")))
}
