//! The `quic` peer (SMB over QUIC): a quinn endpoint with ALPN `smb`, its
//! certificate from `--cert`/`--key` or generated (self-signed, rcgen) at
//! start; each connection's first bidirectional stream is served like a
//! `tcp+smb` connection (direct-hosted framing).

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use rxce::provider::quic::quinn;
use rxce::provider::quic::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rxce::provider::quic::{options, tls};
use rxce::wire::Framing;
use rxce::Status;

use super::listen::Listener;
use super::{framed, Shared};

/// A bound QUIC server endpoint and its certificate's SHA-256 fingerprint.
pub(crate) struct Bound {
    pub(crate) endpoint: quinn::Endpoint,
    pub(crate) fingerprint: String,
}

/// Binds a QUIC server on `addr` with the certificate files given, or a
/// generated self-signed certificate for `localhost` and the bound IP.
pub(crate) fn bind(addr: SocketAddr, certificate: Option<&(PathBuf, PathBuf)>) -> Result<Bound, Status> {
    let (chain, key) = match certificate {
        Some((cert, key)) => (tls::read_certificates(cert)?, tls::read_key(key)?),
        None => self_signed(addr)?,
    };
    let fingerprint = options::hex(&options::fingerprint(&chain[0]));
    let config = tls::server_config(chain, key, None)?;
    let endpoint =
        quinn::Endpoint::server(config, addr).map_err(|e| Status::from_io(e, format!("listening on udp {addr}")))?;
    Ok(Bound { endpoint, fingerprint })
}

fn self_signed(addr: SocketAddr) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), Status> {
    let mut names = vec!["localhost".to_owned()];
    if !addr.ip().is_unspecified() {
        names.push(addr.ip().to_string());
    }
    let generated = rcgen::generate_simple_self_signed(names)
        .map_err(|e| Status::INSUFFICIENT_RESOURCES.with_message(format!("generating a certificate: {e}")))?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(generated.signing_key.serialize_der()));
    Ok((vec![generated.cert.der().clone()], key))
}

impl Listener for quinn::Endpoint {
    type Stream = quinn::Incoming;

    async fn accept_one(&mut self) -> io::Result<Option<quinn::Incoming>> {
        Ok(self.accept().await)
    }
}

/// Serves one QUIC connection: the handshake, its first bidirectional
/// stream as a direct-hosted SMB connection, then waits for the client to
/// close the connection.
pub(crate) async fn serve(shared: Arc<Shared>, incoming: quinn::Incoming) -> io::Result<()> {
    let connection = incoming.await.map_err(io::Error::other)?;
    let (send, recv) = connection.accept_bi().await.map_err(io::Error::other)?;
    framed::serve(
        Framing::DirectTcp,
        shared.mode,
        recv,
        send,
        Default::default(),
        None,
        &shared.counters,
    )
    .await?;
    connection.closed().await;
    Ok(())
}
