//! The `quic` provider: SMB over QUIC (decisions 44-47).
//!
//! QUIC with TLS 1.3 and ALPN `smb` (default UDP port 443, the server's
//! name as SNI); each VC is its own QUIC connection carrying one
//! bidirectional stream of direct-TCP-framed messages (the `tcp+smb`
//! framing of rxce-wire), so indications, sends and disconnects behave as
//! on `tcp+smb`. A transport keeps one quinn `Endpoint` (one UDP socket)
//! per local address, shared by all its connections.

/// The QUIC and TLS crates the provider is built on, for servers and
/// tests that need the same versions.
pub use {quinn, rustls};

pub mod options;
pub(crate) mod stream;
pub mod tls;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use quinn::{ConnectionError, TransportErrorCode};

use super::tcp::{check_bindable, local_ip};
use super::{BoxFuture, ConnectRequest, Connected, Framing, Provider, ProviderContext};
use crate::status::Status;
use crate::tdi::{ProviderInfo, TransportAddress};
use options::QuicOptions;
use tls::{Credentials, Refusal};

/// The default UDP port of SMB over QUIC.
pub const DEFAULT_PORT: u16 = 443;

/// The QUIC idle timeout when the engine sets no dead-peer timeout.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// The TLS alert a server sends when it offers none of our ALPNs.
const NO_APPLICATION_PROTOCOL: u8 = 120;

/// SMB over QUIC connections.
pub(crate) struct QuicProvider {
    max_message: usize,
    idle_timeout: Duration,
    keep_alive: Duration,
    linger: Duration,
    /// One endpoint (UDP socket) per local address.
    endpoints: Mutex<HashMap<SocketAddr, quinn::Endpoint>>,
    /// Loaded trust and client certificates, per distinct options text.
    credentials: Mutex<HashMap<Vec<u8>, Arc<Credentials>>>,
    system_roots: Mutex<Option<Arc<rustls::RootCertStore>>>,
}

impl QuicProvider {
    pub(crate) fn new(cx: &ProviderContext) -> QuicProvider {
        let config = &cx.config;
        // The engine's dead-peer timeout is QUIC's idle timeout; keep-alive
        // PINGs (at the TCP keepalive interval if one is set, else at a
        // third of the idle timeout) keep a quiet but live peer from it.
        let idle_timeout = config.dead_peer_timeout.unwrap_or(DEFAULT_IDLE_TIMEOUT);
        let keep_alive = config
            .tcp_keepalive
            .map(|k| k.interval)
            .unwrap_or(idle_timeout / 3)
            .min(idle_timeout / 2);
        QuicProvider {
            max_message: config.max_message_size,
            idle_timeout,
            keep_alive,
            linger: config.disconnect_timeout,
            endpoints: Mutex::new(HashMap::new()),
            credentials: Mutex::new(HashMap::new()),
            system_roots: Mutex::new(None),
        }
    }

    /// The endpoint of `local` (made on first use) for reaching `remote`.
    fn endpoint(&self, local: SocketAddr, remote: SocketAddr) -> Result<quinn::Endpoint, Status> {
        let bind = match (local.ip(), remote) {
            (IpAddr::V4(ip), SocketAddr::V6(_)) if ip.is_unspecified() => {
                SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), local.port())
            }
            _ => local,
        };
        if bind.is_ipv4() != remote.is_ipv4() {
            return Err(Status::INVALID_PARAMETER.with_message(format!(
                "local address {local} and remote {remote} are of different families"
            )));
        }
        let mut endpoints = self.endpoints.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(endpoint) = endpoints.get(&bind) {
            return Ok(endpoint.clone());
        }
        let endpoint =
            quinn::Endpoint::client(bind).map_err(|e| Status::from_io(e, format!("binding a UDP socket to {bind}")))?;
        endpoints.insert(bind, endpoint.clone());
        Ok(endpoint)
    }

    fn credentials(&self, raw: &[u8], options: &QuicOptions) -> Result<Arc<Credentials>, Status> {
        if let Some(found) = self.credentials.lock().unwrap_or_else(|p| p.into_inner()).get(raw) {
            return Ok(found.clone());
        }
        let loaded = Arc::new(Credentials::load(options, || {
            let mut roots = self.system_roots.lock().unwrap_or_else(|p| p.into_inner());
            match &*roots {
                Some(r) => Ok(r.clone()),
                None => {
                    let r = tls::system_roots()?;
                    *roots = Some(r.clone());
                    Ok(r)
                }
            }
        })?);
        self.credentials
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(raw.to_vec(), loaded.clone());
        Ok(loaded)
    }

    fn transport_config(&self) -> quinn::TransportConfig {
        let mut transport = quinn::TransportConfig::default();
        transport.max_idle_timeout(quinn::IdleTimeout::try_from(self.idle_timeout).ok());
        transport.keep_alive_interval(Some(self.keep_alive));
        // One bidirectional stream, opened by us; the server opens none.
        transport.max_concurrent_bidi_streams(0u8.into());
        transport.max_concurrent_uni_streams(0u8.into());
        transport
    }

    async fn connect_one(
        &self,
        local: SocketAddr,
        target: SocketAddr,
        server_name: &str,
        credentials: &Credentials,
        deadline: tokio::time::Instant,
    ) -> Result<Connected, Status> {
        let endpoint = self.endpoint(local, target)?;
        let refusal = Arc::new(Mutex::new(None));
        let tls = credentials.client_config(refusal.clone())?;
        let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls)
            .map_err(|e| Status::NOT_SUPPORTED.with_message(format!("QUIC needs TLS 1.3: {e}")))?;
        let mut client = quinn::ClientConfig::new(Arc::new(crypto));
        client.transport_config(Arc::new(self.transport_config()));
        let connecting = endpoint.connect_with(client, target, server_name).map_err(|e| {
            Status::INVALID_PARAMETER.with_message(format!("connecting to {target} ({server_name}): {e}"))
        })?;
        let timeout = deadline.saturating_duration_since(tokio::time::Instant::now());
        let connection = match tokio::time::timeout_at(deadline, connecting).await {
            Ok(Ok(connection)) => connection,
            Ok(Err(error)) => {
                let refused = refusal.lock().unwrap_or_else(|p| p.into_inner()).clone();
                return Err(handshake_status(
                    &error,
                    refused,
                    target,
                    server_name,
                    credentials.client.is_some(),
                ));
            }
            Err(_) => {
                return Err(Status::IO_TIMEOUT.with_message(format!(
                    "connecting to {target} over QUIC: no handshake within {} ms",
                    timeout.as_millis()
                )))
            }
        };
        let alpn = connection
            .handshake_data()
            .and_then(|d| d.downcast::<quinn::crypto::rustls::HandshakeData>().ok())
            .and_then(|d| d.protocol);
        if alpn.as_deref() != Some(tls::ALPN) {
            connection.close(2u8.into(), b"rxce: ALPN smb was not chosen");
            return Err(Status::NOT_SUPPORTED.with_message(format!(
                "{target} ({server_name}) did not choose ALPN `smb` (chose {:?}): not an SMB over QUIC server",
                alpn.map(|a| String::from_utf8_lossy(&a).into_owned())
            )));
        }
        let (send, recv) = connection
            .open_bi()
            .await
            .map_err(|e| Status::from_io(stream::connection_io_error(&e), "opening the QUIC stream"))?;
        Ok(Connected {
            stream: Arc::new(stream::QuicStream::new(
                connection,
                send,
                recv,
                TransportAddress::ip(target),
                self.linger,
            )),
            framing: Some(Framing::DirectTcp),
            keepalive: None,
        })
    }
}

/// The status of a failed handshake (decision 46's table).
fn handshake_status(
    error: &ConnectionError,
    refused: Option<Refusal>,
    target: SocketAddr,
    server: &str,
    had_client_cert: bool,
) -> Status {
    if let Some(refusal) = refused {
        return refusal.status(server);
    }
    let crypto_alert = |code: TransportErrorCode| -> Option<u8> {
        let raw = u64::from(code);
        (0x100..0x200).contains(&raw).then_some((raw - 0x100) as u8)
    };
    match error {
        ConnectionError::ConnectionClosed(close) => match crypto_alert(close.error_code) {
            Some(NO_APPLICATION_PROTOCOL) => Status::NOT_SUPPORTED.with_message(format!(
                "{target} ({server}) does not offer ALPN `smb`: not an SMB over QUIC server ({close})"
            )),
            Some(alert) => Status::ACCESS_DENIED.with_message(format!(
                "{target} ({server}) refused the TLS handshake with alert {alert} ({}): {close}",
                if had_client_cert {
                    "our client certificate was refused"
                } else {
                    "it may want a client certificate"
                }
            )),
            None => Status::CONNECTION_REFUSED
                .with_message(format!("{target} ({server}) refused the QUIC connection: {close}")),
        },
        ConnectionError::ApplicationClosed(close) => Status::CONNECTION_REFUSED.with_message(format!(
            "{target} ({server}) closed the QUIC connection during the handshake: application error {} ({})",
            close.error_code,
            String::from_utf8_lossy(&close.reason)
        )),
        ConnectionError::TimedOut => {
            Status::IO_TIMEOUT.with_message(format!("connecting to {target} over QUIC: the handshake timed out"))
        }
        other => Status::from_io(
            stream::connection_io_error(other),
            format!("connecting to {target} ({server}) over QUIC"),
        ),
    }
}

impl Provider for QuicProvider {
    fn provider_info(&self) -> ProviderInfo {
        ProviderInfo::connection_mode(Some(Framing::DirectTcp.max_message_len().min(self.max_message) as u32))
    }

    fn check_local_address(&self, local: &TransportAddress) -> Result<(), Status> {
        check_bindable(local_ip(local)?)
    }

    fn connect<'a>(&'a self, request: ConnectRequest<'a>) -> BoxFuture<'a, Result<Connected, Status>> {
        Box::pin(async move {
            let local = local_ip(request.local)?;
            let raw = &request.remote.options[..];
            let options = QuicOptions::parse(raw)?;
            let credentials = self.credentials(raw, &options)?;
            let remote = &request.remote.remote_address;
            let deadline = tokio::time::Instant::now() + request.timeout;
            let targets = tokio::time::timeout_at(deadline, crate::resolve::remote_ips(remote, DEFAULT_PORT))
                .await
                .map_err(|_| Status::IO_TIMEOUT.with_message(format!("resolving {remote} took too long")))?
                .ok_or_else(|| {
                    Status::INVALID_PARAMETER.with_message(format!(
                        "the remote address {remote} has no IP or host-name entry for a quic transport"
                    ))
                })??;
            let mut failure = None;
            for target in targets {
                if target.port() == 0 || target.ip().is_unspecified() {
                    failure = Some(Status::INVALID_PARAMETER.with_message(format!("cannot connect to {target}")));
                    continue;
                }
                let server_name = match (&options.sni, remote.host_name_entry()) {
                    (Some(sni), _) => sni.clone(),
                    (None, Some((host, _))) => host.to_owned(),
                    (None, None) => target.ip().to_string(),
                };
                match self
                    .connect_one(local, target, &server_name, &credentials, deadline)
                    .await
                {
                    Ok(connected) => return Ok(connected),
                    // A certificate or ALPN refusal is the server's answer,
                    // not a reason to try its next address.
                    Err(status) if status != Status::IO_TIMEOUT && status != Status::CONNECTION_REFUSED => {
                        return Err(status)
                    }
                    Err(status) => failure = Some(status),
                }
                if tokio::time::Instant::now() >= deadline {
                    break;
                }
            }
            Err(failure.unwrap_or_else(|| Status::IO_TIMEOUT.with_message("no time was left to connect")))
        })
    }
}
