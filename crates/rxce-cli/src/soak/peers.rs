//! The soak's peers: an embedded echo peer per transport (the peers of
//! `rxce serve`), the private smbd where Samba is installed, places nobody
//! listens on, and a fault proxy per faulted connection.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};

use rxce::{ConnectionInformation, Engine, Status, TransportAddress};
use tokio_util::task::TaskTracker;

use super::op::{Fault, Peer};
use super::proxy::FaultProxy;
use super::smbd::PrivateSmbd;
use crate::endpoint::{Endpoint, Host, Kind, Target};
use crate::serve::{self, Mode, PeerOptions};

/// Every peer of one soak.
pub struct Peers {
    echo: HashMap<Kind, serve::Peer>,
    refused: HashMap<Kind, Endpoint>,
    smbd: Option<PrivateSmbd>,
    proxies: TaskTracker,
    /// Holds the closed port of the `refused` endpoints.
    _closed: socket2::Socket,
}

impl std::fmt::Debug for Peers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peers")
            .field("echo", &self.echo.keys().collect::<Vec<_>>())
            .field("smbd", &self.smbd)
            .finish()
    }
}

fn parse(text: &str) -> Endpoint {
    text.parse().expect("the soak's own endpoints parse")
}

/// A TCP port nobody listens on, held for the whole soak by a socket bound
/// to it that never listens: a connect to it is refused, and the system
/// never picks it as the local port of a connection. (A port bound once and
/// closed was picked again: a loopback connect from that port to itself is
/// a TCP simultaneous open, and "a connection to nobody" was built.)
fn closed_port() -> Result<(u16, socket2::Socket), Status> {
    let reserve = |e| Status::from_io(e, "reserving a closed port");
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).map_err(reserve)?;
    socket
        .bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())
        .map_err(reserve)?;
    let port = socket
        .local_addr()
        .map_err(reserve)?
        .as_socket()
        .map(|a| a.port())
        .ok_or_else(|| Status::NOT_IMPLEMENTED.with_message("a bound IPv4 socket without an IPv4 address"))?;
    Ok((port, socket))
}

impl Peers {
    /// Starts an echo peer for every kind (the memory one on `engine`) and
    /// `smbd`, when given.
    pub async fn start(engine: &Engine, kinds: &[Kind], smbd: Option<PrivateSmbd>) -> Result<Peers, Status> {
        let pid = std::process::id();
        let options = PeerOptions {
            engine: Some(engine.clone()),
            keepalive: None,
            ..PeerOptions::new(Mode::Echo)
        };
        let (closed, closed_socket) = closed_port()?;
        let mut echo = HashMap::new();
        let mut refused = HashMap::new();
        for &kind in kinds {
            let (listen, nobody) = match kind {
                Kind::Tcp => ("tcp://127.0.0.1:0".to_owned(), format!("tcp://127.0.0.1:{closed}")),
                Kind::TcpSmb => (
                    "tcp+smb://127.0.0.1:0".to_owned(),
                    format!("tcp+smb://127.0.0.1:{closed}"),
                ),
                Kind::TcpRpc | Kind::Tcp9p => (format!("{kind}://127.0.0.1:0"), format!("{kind}://127.0.0.1:{closed}")),
                Kind::Netbt => ("netbt://127.0.0.1:0".to_owned(), format!("netbt://127.0.0.1:{closed}")),
                Kind::Quic => ("quic://127.0.0.1:0".to_owned(), format!("quic://127.0.0.1:{closed}")),
                Kind::Udp => ("udp://127.0.0.1:0".to_owned(), format!("udp://127.0.0.1:{closed}")),
                Kind::Unix => (
                    format!("unix:@rxce-soak-{pid}"),
                    format!("unix:@rxce-soak-{pid}-nobody"),
                ),
                Kind::Memory => (
                    format!("memory:rxce-soak-{pid}"),
                    format!("memory:rxce-soak-{pid}-nobody"),
                ),
            };
            echo.insert(kind, serve::Peer::start(&parse(&listen), &options).await?);
            refused.insert(kind, parse(&nobody));
        }
        Ok(Peers {
            echo,
            refused,
            smbd,
            proxies: TaskTracker::new(),
            _closed: closed_socket,
        })
    }

    /// True when a private smbd serves `tcp+smb` and `netbt` routes.
    pub fn has_smbd(&self) -> bool {
        self.smbd.is_some()
    }

    /// The endpoint of `peer` for transport `kind`, before any proxy.
    fn endpoint(&self, kind: Kind, peer: Peer) -> Endpoint {
        match (peer, &self.smbd) {
            (Peer::Smbd, Some(smbd)) if kind == Kind::TcpSmb => parse(&format!("tcp+smb://{}", smbd.direct)),
            (Peer::Smbd, Some(smbd)) if kind == Kind::Netbt => parse(&format!("netbt://{}", smbd.netbt)),
            (Peer::Refused, _) => self.refused[&kind].clone(),
            _ => self.echo[&kind].endpoint().clone(),
        }
    }

    /// Where a connection of transport `kind` to `peer` through `fault`
    /// goes: the remote to build with, and the proxy that must live as
    /// long as the connection (for a fault).
    pub async fn route(
        &self,
        kind: Kind,
        peer: Peer,
        fault: Fault,
    ) -> Result<(ConnectionInformation, Option<FaultProxy>), Status> {
        let endpoint = self.endpoint(kind, peer);
        let upstream = match (fault, endpoint.target()) {
            (Fault::None, _) | (_, Target::Unix(_) | Target::Memory(_)) => return Ok((endpoint.remote(), None)),
            (_, Target::Inet { port, .. }) => SocketAddr::from((Ipv4Addr::LOCALHOST, *port)),
        };
        let proxy = FaultProxy::start(upstream, fault, &self.proxies)
            .await
            .map_err(|e| Status::from_io(e, "starting a fault proxy"))?;
        let through = endpoint.with_target(Target::Inet {
            host: Host::Ip(proxy.addr().ip()),
            port: proxy.addr().port(),
        });
        Ok((through.remote(), Some(proxy)))
    }

    /// The local address an address of transport `kind` is built with.
    pub fn local_address(&self, kind: Kind) -> TransportAddress {
        self.refused[&kind].local_address()
    }

    /// Where datagrams go (the `udp` echo peer).
    pub fn datagram_remote(&self) -> Option<ConnectionInformation> {
        self.echo.get(&Kind::Udp).map(|peer| peer.endpoint().remote())
    }

    /// Waits until every proxied connection is closed (every proxy must
    /// have been dropped).
    pub async fn close_proxies(&self) {
        self.proxies.close();
        self.proxies.wait().await;
        self.proxies.reopen();
    }

    /// Stops every peer and smbd.
    pub async fn stop(self) {
        for (_, peer) in self.echo {
            peer.stop().await;
        }
        drop(self.smbd);
    }
}
