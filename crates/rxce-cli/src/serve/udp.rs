//! The `udp` peer: echo sends each datagram back to its source; sink
//! counts and drops. (Source needs a client that can close, which UDP has
//! not: it is refused when the peer starts.)

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

use super::stats::Counters;
use super::Mode;

/// The largest datagram received whole.
const MAX_DATAGRAM: usize = 64 * 1024;
/// Distinct sources remembered for the connection count.
const MAX_TRACKED_SOURCES: usize = 65_536;

/// Receives datagrams until `stop`.
pub(crate) async fn run(socket: UdpSocket, mode: Mode, counters: Arc<Counters>, stop: CancellationToken) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut sources: HashSet<SocketAddr> = HashSet::new();
    loop {
        let received = tokio::select! {
            () = stop.cancelled() => return,
            received = socket.recv_from(&mut buf) => received,
        };
        let (n, from) = match received {
            Ok(received) => received,
            Err(e) => {
                // ICMP errors of earlier sends surface here; the socket is fine.
                tracing::debug!("udp receive: {e}");
                continue;
            }
        };
        if sources.len() < MAX_TRACKED_SOURCES && sources.insert(from) {
            counters.connection();
        }
        counters.received(n);
        counters.message_received();
        if mode == Mode::Echo {
            match socket.send_to(&buf[..n], from).await {
                Ok(sent) => {
                    counters.sent(sent);
                    counters.message_sent();
                }
                Err(e) => tracing::debug!(%from, "udp echo: {e}"),
            }
        }
    }
}
