//! `rxce probe`: how an SMB server answers on each of its transports.
//!
//! Two attempts run at once through the engine, each with a transport, an
//! address and a connection of its own: direct-hosted TCP (`tcp+smb`, port
//! 445) and the NetBIOS session service (`netbt`, port 139, calling the
//! server by a NetBIOS name: the one given, else the first label of a DNS
//! name uppercased, else `*SMBSERVER`; the engine retries with
//! `*SMBSERVER` when the name is refused). Each VC that comes up sends an
//! SMB2 NEGOTIATE offering every dialect and parses the whole-message
//! answer. Every wait ends by the probe's timeout, counted from the start
//! of each attempt. With a QUIC port (`--quic-port`), a third attempt runs
//! beside them over `quic` (SMB over QUIC, certificate options from
//! `--quic-options`), offering SMB 3.1.1 only: the only dialect SMB over
//! QUIC allows (another answer is STATUS_INVALID_NETWORK_RESPONSE).

pub mod files;
mod negotiate;
mod report;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use rxce::wire::NetbiosName;
use rxce::{
    ConnectionInformation, Engine, EngineConfig, Information, InformationClass, NetbtConfig, NoEvents, SendOptions,
    Status, TaAddress, Transport, TransportAddress,
};
use rxce_smb2::{parse_negotiate_response, NegotiateRequest, NegotiateResponse};
use tokio::time::Instant;

use crate::endpoint::Host;
use negotiate::{answer_status, NegotiateClient};

pub use report::{json, render};

/// The transports a probe tries, in the order that picks the winner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProbeTransport {
    /// Direct-hosted SMB over TCP (the engine's `tcp+smb`).
    Tcp,
    /// The NetBIOS session service (the engine's `netbt`).
    Netbt,
    /// SMB over QUIC (the engine's `quic`).
    Quic,
}

impl ProbeTransport {
    /// All three, in the order that picks the winner (Windows tries QUIC
    /// after TCP).
    pub const ALL: [ProbeTransport; 3] = [ProbeTransport::Tcp, ProbeTransport::Netbt, ProbeTransport::Quic];

    /// The name in the probe's output: `tcp` or `netbt`.
    pub const fn label(self) -> &'static str {
        match self {
            ProbeTransport::Tcp => "tcp",
            ProbeTransport::Netbt => "netbt",
            ProbeTransport::Quic => "quic",
        }
    }

    /// The engine's provider name: `tcp+smb`, `netbt` or `quic`.
    pub const fn provider(self) -> &'static str {
        match self {
            ProbeTransport::Tcp => "tcp+smb",
            ProbeTransport::Netbt => "netbt",
            ProbeTransport::Quic => "quic",
        }
    }
}

/// What to probe and how long to wait.
#[derive(Debug, Clone)]
pub struct ProbeOptions {
    /// The server.
    pub server: Host,
    /// The direct-hosted TCP port (445).
    pub direct_port: u16,
    /// The NetBIOS session service port (139).
    pub netbt_port: u16,
    /// The called name for `netbt`; `None` derives it from the server.
    pub called_name: Option<NetbiosName>,
    /// The longest each attempt (connect and NEGOTIATE) may take.
    pub timeout: Duration,
    /// The UDP port of SMB over QUIC; `None` tries no QUIC.
    pub quic_port: Option<u16>,
    /// The `quic` transport's certificate options (`sni=...&pin=...`,
    /// decision 45); empty trusts the system's roots.
    pub quic_options: String,
}

/// One transport's attempt.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// Which transport.
    pub transport: ProbeTransport,
    /// The address connected to (`IP:PORT`), or the one tried (a host name
    /// and port when the connection failed before it was resolved).
    pub address: String,
    /// For `netbt`: the called name of the session (after a `*SMBSERVER`
    /// retry, that one), or the name requested when it failed.
    pub called_name: Option<NetbiosName>,
    /// SUCCESS when the server negotiated; otherwise the first failure.
    pub status: Status,
    /// Time to the connection (or its failure).
    pub connect_time: Duration,
    /// Time from the NEGOTIATE request to its answer, when one came.
    pub negotiate_time: Option<Duration>,
    /// The server's NEGOTIATE response.
    pub negotiate: Option<NegotiateResponse>,
}

/// A probe's outcome.
#[derive(Debug, Clone)]
pub struct Probe {
    /// The server as given.
    pub server: String,
    /// The called name `netbt` asked for first.
    pub called_name: NetbiosName,
    /// The attempts, tcp first.
    pub attempts: Vec<Attempt>,
}

impl Probe {
    /// The winner: the first attempt, in the order tcp, netbt, that
    /// negotiated.
    pub fn winner(&self) -> Option<&Attempt> {
        self.attempts.iter().find(|a| a.negotiate.is_some())
    }
}

/// Probes the server: both attempts at once on the current runtime.
/// Fails only when the engine cannot start.
pub async fn run(options: &ProbeOptions) -> Result<Probe, Status> {
    let config = EngineConfig {
        connect_timeout: options.timeout,
        netbt: NetbtConfig {
            port: options.netbt_port,
            ..NetbtConfig::default()
        },
        ..EngineConfig::default()
    };
    let engine = Engine::with_runtime(tokio::runtime::Handle::current(), config)?;
    let called_name = options
        .called_name
        .unwrap_or_else(|| options.server.default_called_name());
    let local = TransportAddress::ip(SocketAddr::new(
        if options.server.is_ipv6() {
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        } else {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        },
        0,
    ));
    let tcp_remote = TransportAddress::new(options.server.entry(options.direct_port));
    let netbt_remote = TransportAddress {
        entries: vec![
            options.server.entry(options.netbt_port),
            TaAddress::NetBios {
                name: *called_name.as_bytes(),
            },
        ],
    };
    let quic = async {
        match options.quic_port {
            Some(port) => {
                let remote = ConnectionInformation {
                    options: options.quic_options.clone().into_bytes().into(),
                    ..ConnectionInformation::to(TransportAddress::new(options.server.entry(port)))
                };
                Some(attempt(&engine, ProbeTransport::Quic, &local, remote, options.timeout).await)
            }
            None => None,
        }
    };
    let (tcp, netbt, quic) = tokio::join!(
        attempt(
            &engine,
            ProbeTransport::Tcp,
            &local,
            ConnectionInformation::to(tcp_remote),
            options.timeout
        ),
        attempt(
            &engine,
            ProbeTransport::Netbt,
            &local,
            ConnectionInformation::to(netbt_remote),
            options.timeout
        ),
        quic,
    );
    engine.shutdown().await;
    let mut attempts = vec![tcp, netbt];
    attempts.extend(quic);
    Ok(Probe {
        server: options.server.to_string(),
        called_name,
        attempts,
    })
}

/// One transport's attempt, torn down before it returns.
async fn attempt(
    engine: &Engine,
    transport: ProbeTransport,
    local: &TransportAddress,
    remote: ConnectionInformation,
    timeout: Duration,
) -> Attempt {
    let started = Instant::now();
    let mut attempt = Attempt {
        transport,
        address: remote
            .remote_address
            .entries
            .first()
            .map(ToString::to_string)
            .unwrap_or_default(),
        called_name: remote.remote_address.netbios_entry().map(NetbiosName::from_bytes),
        status: Status::SUCCESS,
        connect_time: Duration::ZERO,
        negotiate_time: None,
        negotiate: None,
    };
    match engine.build_transport(transport.provider(), 0) {
        Ok(bound) => {
            let deadline = started + timeout;
            if let Err(status) = exchange(&bound, local, remote, started, deadline, &mut attempt).await {
                attempt.status = status;
            }
            let _ = bound.tear_down().await;
        }
        Err(status) => attempt.status = status,
    }
    if attempt.connect_time.is_zero() {
        attempt.connect_time = started.elapsed();
    }
    tracing::debug!(transport = transport.label(), status = %attempt.status, "probe attempt done");
    attempt
}

/// Connects, negotiates and records both in `attempt`.
async fn exchange(
    transport: &Transport,
    local: &TransportAddress,
    remote: ConnectionInformation,
    started: Instant,
    deadline: Instant,
    attempt: &mut Attempt,
) -> Result<(), Status> {
    let timeout = deadline - started;
    let address = transport.build_address(local.clone(), Arc::new(NoEvents))?;
    let (client, answer) = NegotiateClient::new();
    let built = tokio::time::timeout_at(deadline, address.build_connection(remote, client)).await;
    attempt.connect_time = started.elapsed();
    let (_connection, vc) = built
        .map_err(|_| Status::IO_TIMEOUT.with_message(format!("no connection within {} ms", timeout.as_millis())))??;
    if let Ok(Information::RemoteAddress(peer)) = vc.query_information(InformationClass::RemoteAddress) {
        if let Some(ip) = peer.address.ip_entry() {
            attempt.address = ip.to_string();
        }
        if let Some(name) = peer.address.netbios_entry() {
            attempt.called_name = Some(NetbiosName::from_bytes(name));
        }
    }
    let quic = attempt.transport == ProbeTransport::Quic;
    let mut request = NegotiateRequest::default();
    if quic {
        request.dialects = vec![rxce_smb2::dialect::SMB3_1_1];
    }
    let request = request
        .encode()
        .map_err(|e| Status::INVALID_PARAMETER.with_message(format!("encoding the NEGOTIATE request: {e}")))?;
    let asked = Instant::now();
    let answered = tokio::time::timeout_at(deadline, async {
        vc.send(request, SendOptions::empty()).await?;
        answer
            .await
            .map_err(|_| Status::CANCELLED.with_message("the VC went away before an answer"))?
    })
    .await
    .map_err(|_| {
        Status::IO_TIMEOUT.with_message(format!("no NEGOTIATE response within {} ms", timeout.as_millis()))
    })??;
    attempt.negotiate_time = Some(asked.elapsed());
    let negotiated = parse_negotiate_response(&answered).map_err(answer_status)?;
    if quic && negotiated.dialect != rxce_smb2::dialect::SMB3_1_1 {
        return Err(Status::INVALID_NETWORK_RESPONSE.with_message(format!(
            "over QUIC only SMB 3.1.1 may run; the server chose dialect {}",
            rxce_smb2::dialect::hex(negotiated.dialect)
        )));
    }
    attempt.negotiate = Some(negotiated);
    Ok(())
}
