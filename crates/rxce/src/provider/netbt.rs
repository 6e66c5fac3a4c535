//! The `netbt` provider: the NetBIOS session service over TCP (RFC 1001 /
//! 1002). A VC is a TCP connection on which a session request (called and
//! calling NetBIOS names) got a positive response; its messages are framed
//! by the session service and indicated whole.
//!
//! - A negative response fails the VC with a status naming the reason (the
//!   code stays in the message): 0x80 STATUS_REMOTE_NOT_LISTENING, 0x81
//!   STATUS_REQUEST_NOT_ACCEPTED, 0x82 STATUS_BAD_NETWORK_NAME, 0x83
//!   STATUS_REMOTE_RESOURCES, 0x8F STATUS_UNEXPECTED_NETWORK_ERROR, any
//!   other code STATUS_INVALID_NETWORK_RESPONSE.
//! - When the called name is refused (0x80, 0x82) and was not `*SMBSERVER`,
//!   the request is retried once on a new connection with `*SMBSERVER<20>`.
//! - A retarget response is followed once to its IP and port; a second one
//!   fails the VC (no loops).
//! - The remote address names where to connect (an IP entry; port 0 means
//!   the configured port) and whom (a NetBIOS entry; `*SMBSERVER<20>` when
//!   there is none). Without an IP entry the NetBIOS name is resolved with a
//!   name query.

use std::net::SocketAddr;

use rxce_wire::nbss::{encode_session_request, parse_session_response, NegativeCode, SessionResponse};
use rxce_wire::NetbiosName;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::tcp::{check_bindable, connect_tcp, local_ip, TcpEndpoint};
use super::{BoxFuture, ConnectRequest, Connected, Framing, Provider, ProviderContext};
use crate::config::NetbtConfig;
use crate::resolve::resolve_netbios_name;
use crate::status::Status;
use crate::tdi::{ProviderInfo, TaAddress, TransportAddress};

/// NetBIOS session service connections.
pub(crate) struct NetbtProvider {
    config: NetbtConfig,
    nodelay: bool,
    keepalive: Option<crate::config::TcpKeepalive>,
    max_message: usize,
}

impl NetbtProvider {
    pub(crate) fn new(cx: &ProviderContext) -> NetbtProvider {
        NetbtProvider {
            config: cx.config.netbt.clone(),
            nodelay: cx.config.tcp_nodelay,
            keepalive: cx.config.tcp_keepalive,
            max_message: cx.config.max_message_size,
        }
    }
}

/// The status a negative session response stands for.
pub(crate) fn negative_status(code: NegativeCode, called: &NetbiosName, server: SocketAddr) -> Status {
    let status = match code {
        NegativeCode::NotListeningOnCalledName => Status::REMOTE_NOT_LISTENING,
        NegativeCode::NotListeningForCallingName => Status::REQUEST_NOT_ACCEPTED,
        NegativeCode::CalledNameNotPresent => Status::BAD_NETWORK_NAME,
        NegativeCode::InsufficientResources => Status::REMOTE_RESOURCES,
        NegativeCode::Unspecified => Status::UNEXPECTED_NETWORK_ERROR,
        NegativeCode::Other(_) => Status::INVALID_NETWORK_RESPONSE,
    };
    status.with_message(format!(
        "{server} refused a NetBIOS session with {called}: negative response {code}"
    ))
}

/// Sends a session request and reads the response (skipping keepalives).
async fn request_session(
    stream: &mut TcpStream,
    called: &NetbiosName,
    calling: &NetbiosName,
    scope: Option<&str>,
) -> Result<SessionResponse, Status> {
    let server = stream
        .peer_addr()
        .map_err(|e| Status::from_io(e, "reading the server's address"))?;
    let request = encode_session_request(called, calling, scope)
        .map_err(|e| Status::INVALID_PARAMETER.with_message(format!("cannot encode a session request: {e}")))?;
    crate::sys::write_all(stream, &request)
        .await
        .map_err(|e| Status::from_io(e, format!("sending a session request to {server}")))?;
    loop {
        let mut packet = [0u8; 10];
        read_exactly(stream, &mut packet[..4], server).await?;
        // The trailer length (17 bits); no response has more than 6 bytes.
        let len = (usize::from(packet[1] & 1) << 16) | usize::from(u16::from_be_bytes([packet[2], packet[3]]));
        if len > 6 {
            return Err(Status::INVALID_NETWORK_RESPONSE.with_message(format!(
                "{server} answered the session request with a {len}-byte packet of type 0x{:02X}",
                packet[0]
            )));
        }
        read_exactly(stream, &mut packet[4..4 + len], server).await?;
        match parse_session_response(&packet[..4 + len]) {
            Ok(Some((SessionResponse::Keepalive, _))) => continue,
            Ok(Some((response, _))) => return Ok(response),
            Ok(None) | Err(_) => {
                return Err(Status::INVALID_NETWORK_RESPONSE.with_message(format!(
                    "{server} answered the session request with {:02X?}",
                    &packet[..4 + len]
                )))
            }
        }
    }
}

async fn read_exactly(stream: &mut TcpStream, buf: &mut [u8], server: SocketAddr) -> Result<(), Status> {
    match stream.read_exact(buf).await {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(Status::CONNECTION_DISCONNECTED.with_message(
            format!("{server} closed the connection before answering the session request"),
        )),
        Err(e) => Err(Status::from_io(
            e,
            format!("reading the session response from {server}"),
        )),
    }
}

impl NetbtProvider {
    /// Connects and establishes a session with `target`, retrying with
    /// `*SMBSERVER` and following one retarget as configured.
    async fn session(
        &self,
        local: SocketAddr,
        mut target: SocketAddr,
        mut called: NetbiosName,
        calling: &NetbiosName,
        deadline: Instant,
    ) -> Result<(TcpStream, SocketAddr, NetbiosName), Status> {
        let mut retargeted = false;
        let mut retried = false;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let mut stream = connect_tcp(local, target, remaining, self.nodelay).await?;
            let response = tokio::time::timeout_at(
                deadline,
                request_session(&mut stream, &called, calling, self.config.scope.as_deref()),
            )
            .await
            .map_err(|_| {
                Status::IO_TIMEOUT.with_message(format!("{target} did not answer the session request in time"))
            })??;
            match response {
                SessionResponse::Positive => return Ok((stream, target, called)),
                SessionResponse::Negative(code) => {
                    let status = negative_status(code, &called, target);
                    let called_refused = matches!(
                        code,
                        NegativeCode::NotListeningOnCalledName | NegativeCode::CalledNameNotPresent
                    );
                    if called_refused && self.config.retry_smbserver && !retried && called != NetbiosName::SMBSERVER {
                        tracing::debug!(%status, "retrying the session request with *SMBSERVER");
                        retried = true;
                        called = NetbiosName::SMBSERVER;
                        continue;
                    }
                    return Err(status);
                }
                SessionResponse::Retarget { ip, port } => {
                    let to = SocketAddr::from((ip, port));
                    if !self.config.follow_retarget {
                        return Err(Status::INVALID_NETWORK_RESPONSE
                            .with_message(format!("{target} retargeted the session to {to}; following is off")));
                    }
                    if retargeted {
                        return Err(Status::INVALID_NETWORK_RESPONSE.with_message(format!(
                            "{target} retargeted the session again (to {to}); a retarget is followed only once"
                        )));
                    }
                    tracing::debug!(from = %target, %to, "following a session retarget");
                    retargeted = true;
                    target = to;
                }
                SessionResponse::Keepalive => {
                    unreachable!("keepalives are skipped while reading the response")
                }
            }
        }
    }

    /// Where to connect: the IP entry (with the configured port for port
    /// 0), or the addresses a name query finds for the NetBIOS entry.
    async fn targets(&self, remote: &TransportAddress) -> Result<Vec<SocketAddr>, Status> {
        if let Some(ips) = crate::resolve::remote_ips(remote, self.config.port).await {
            return ips;
        }
        let name = remote.netbios_entry().ok_or_else(|| {
            Status::INVALID_PARAMETER.with_message(format!(
                "the remote address {remote} has no IP, host-name or NetBIOS entry"
            ))
        })?;
        let addresses = resolve_netbios_name(&NetbiosName::from_bytes(name), &self.config).await?;
        Ok(addresses
            .into_iter()
            .map(|ip| SocketAddr::from((ip, self.config.port)))
            .collect())
    }
}

impl Provider for NetbtProvider {
    fn provider_info(&self) -> ProviderInfo {
        let limit = rxce_wire::framing::Framing::NetbiosSession
            .max_message_len()
            .min(self.max_message);
        ProviderInfo::connection_mode(Some(limit as u32))
    }

    fn check_local_address(&self, local: &TransportAddress) -> Result<(), Status> {
        check_bindable(local_ip(local)?)
    }

    fn connect<'a>(&'a self, request: ConnectRequest<'a>) -> BoxFuture<'a, Result<Connected, Status>> {
        Box::pin(async move {
            let deadline = Instant::now() + request.timeout;
            let local = local_ip(request.local)?;
            let calling = match request.local.netbios_entry() {
                Some(name) => NetbiosName::from_bytes(name),
                None => NetbiosName::new(&self.config.calling_name, 0x00).map_err(|e| {
                    Status::INVALID_PARAMETER.with_message(format!(
                        "the configured calling name {:?} is not a NetBIOS name: {e}",
                        self.config.calling_name
                    ))
                })?,
            };
            let remote = &request.remote.remote_address;
            let called = remote
                .netbios_entry()
                .map_or(NetbiosName::SMBSERVER, NetbiosName::from_bytes);
            let targets = tokio::time::timeout_at(deadline, self.targets(remote))
                .await
                .map_err(|_| Status::IO_TIMEOUT.with_message(format!("resolving {remote} took too long")))??;
            let mut failure = None;
            for target in targets {
                match self.session(local, target, called, &calling, deadline).await {
                    Ok((stream, peer, called)) => {
                        super::tcp::set_keepalive(&stream, self.keepalive)?;
                        let peer_address = TransportAddress {
                            entries: vec![
                                TaAddress::Ip(peer),
                                TaAddress::NetBios {
                                    name: *called.as_bytes(),
                                },
                            ],
                        };
                        return Ok(Connected {
                            stream: std::sync::Arc::new(TcpEndpoint::new(stream, peer_address)),
                            framing: Some(Framing::NetbiosSession),
                            keepalive: self.config.keepalive_interval,
                        });
                    }
                    Err(status) => failure = Some(status),
                }
            }
            Err(failure
                .unwrap_or_else(|| Status::BAD_NETWORK_NAME.with_message(format!("{remote} resolved to no address"))))
        })
    }
}
