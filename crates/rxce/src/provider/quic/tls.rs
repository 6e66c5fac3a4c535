//! The `quic` transport's TLS side: whom it trusts (the system's roots, a
//! CA file, or pinned fingerprints), its client certificate, and which
//! NTSTATUS each certificate failure becomes (decision 46).

use std::path::Path;
use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::pem::PemObject;

use super::options::{fingerprint, hex, Fingerprint, QuicOptions};
use crate::status::Status;

/// The ALPN of SMB over QUIC.
pub const ALPN: &[u8] = b"smb";

/// The crypto provider everything here uses: ring (decision 44).
pub(crate) fn crypto() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Whom a connection trusts, built once per distinct options.
pub(crate) enum Trust {
    /// A chain to these roots, and the name.
    Roots(Arc<WebPkiServerVerifier>),
    /// Exactly these certificates, name unchecked.
    Pins(Vec<Fingerprint>),
}

/// What a connection's options resolve to: trust and client certificate.
pub(crate) struct Credentials {
    pub(crate) trust: Trust,
    pub(crate) client: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
}

impl Credentials {
    /// Loads the files the options name (`system` gives the system's
    /// roots when neither a CA file nor pins are given).
    pub(crate) fn load(
        options: &QuicOptions,
        system: impl FnOnce() -> Result<Arc<rustls::RootCertStore>, Status>,
    ) -> Result<Credentials, Status> {
        let trust = if !options.pins.is_empty() {
            Trust::Pins(options.pins.clone())
        } else {
            let roots = match &options.ca {
                Some(path) => {
                    let mut store = rustls::RootCertStore::empty();
                    for cert in read_certificates(path)? {
                        store.add(cert).map_err(|e| {
                            Status::INVALID_PARAMETER.with_message(format!(
                                "the CA file {} has a certificate rustls refuses: {e}",
                                path.display()
                            ))
                        })?;
                    }
                    Arc::new(store)
                }
                None => system()?,
            };
            let verifier = WebPkiServerVerifier::builder_with_provider(roots, crypto())
                .build()
                .map_err(|e| Status::INVALID_PARAMETER.with_message(format!("no usable root certificates: {e}")))?;
            Trust::Roots(verifier)
        };
        let client = match (&options.cert, &options.key) {
            (Some(cert), Some(key)) => Some((read_certificates(cert)?, read_key(key)?)),
            _ => None,
        };
        Ok(Credentials { trust, client })
    }

    /// A rustls client configuration for one connection, its verifier
    /// recording why it refused a certificate in `failure`.
    pub(crate) fn client_config(&self, failure: Arc<Mutex<Option<Refusal>>>) -> Result<rustls::ClientConfig, Status> {
        let verifier = Arc::new(Recording {
            trust: match &self.trust {
                Trust::Roots(v) => Trust::Roots(v.clone()),
                Trust::Pins(p) => Trust::Pins(p.clone()),
            },
            provider: crypto(),
            failure,
        });
        let builder = rustls::ClientConfig::builder_with_provider(crypto())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| Status::NOT_SUPPORTED.with_message(format!("TLS 1.3 with ring: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let mut config = match &self.client {
            Some((chain, key)) => builder
                .with_client_auth_cert(chain.clone(), key.clone_key())
                .map_err(|e| Status::INVALID_PARAMETER.with_message(format!("the client certificate or key: {e}")))?,
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![ALPN.to_vec()];
        Ok(config)
    }
}

/// Reads certificates from a PEM file (every CERTIFICATE block) or a DER
/// file (one certificate).
pub fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, Status> {
    let bytes = read(path)?;
    if looks_pem(&bytes) {
        let certs = CertificateDer::pem_slice_iter(&bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                Status::INVALID_PARAMETER.with_message(format!("{}: not PEM certificates: {e}", path.display()))
            })?;
        if certs.is_empty() {
            return Err(
                Status::INVALID_PARAMETER.with_message(format!("{} holds no CERTIFICATE block", path.display()))
            );
        }
        Ok(certs)
    } else {
        Ok(vec![CertificateDer::from(bytes)])
    }
}

/// Reads a private key from a PEM file (PKCS#8, PKCS#1 or SEC1) or a DER
/// file (PKCS#8).
pub fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, Status> {
    let bytes = read(path)?;
    if looks_pem(&bytes) {
        PrivateKeyDer::from_pem_slice(&bytes)
            .map_err(|e| Status::INVALID_PARAMETER.with_message(format!("{}: no PEM private key: {e}", path.display())))
    } else {
        Ok(PrivateKeyDer::Pkcs8(bytes.into()))
    }
}

fn read(path: &Path) -> Result<Vec<u8>, Status> {
    std::fs::read(path).map_err(|e| Status::INVALID_PARAMETER.with_message(format!("reading {}: {e}", path.display())))
}

fn looks_pem(bytes: &[u8]) -> bool {
    bytes.windows(11).any(|w| w == b"-----BEGIN ")
}

/// The system's root certificates (the OS store).
pub(crate) fn system_roots() -> Result<Arc<rustls::RootCertStore>, Status> {
    let found = rustls_native_certs::load_native_certs();
    let mut store = rustls::RootCertStore::empty();
    let (added, _) = store.add_parsable_certificates(found.certs);
    if added == 0 {
        let why = found.errors.first().map(|e| e.to_string()).unwrap_or_default();
        return Err(Status::ISSUING_CA_UNTRUSTED.with_message(format!(
            "no system root certificates were found ({why}); give a CA file (ca=) or pin the server (pin=)"
        )));
    }
    Ok(Arc::new(store))
}

/// Why our verifier refused the server's certificate.
#[derive(Debug, Clone)]
pub(crate) enum Refusal {
    /// Its fingerprint is not pinned.
    NotPinned(Fingerprint),
    /// rustls/webpki said no.
    Certificate(rustls::Error),
}

impl Refusal {
    /// The status of this refusal (the table of decision 46).
    pub(crate) fn status(&self, server: &str) -> Status {
        match self {
            Refusal::NotPinned(seen) => Status::TRUST_FAILURE.with_message(format!(
                "the certificate of {server} (SHA-256 {}) is not one of the pinned fingerprints",
                hex(seen)
            )),
            Refusal::Certificate(error) => {
                let reason = format!("{error}");
                let debug = format!("{error:?}");
                let with = |status: Status, what: &str| {
                    status.with_message(format!("the certificate of {server} {what} (TLS: {reason})"))
                };
                match error {
                    rustls::Error::InvalidCertificate(e) => match e {
                        CertificateError::UnknownIssuer => with(Status::ISSUING_CA_UNTRUSTED, "has an unknown issuer"),
                        CertificateError::Expired
                        | CertificateError::ExpiredContext { .. }
                        | CertificateError::NotValidYet
                        | CertificateError::NotValidYetContext { .. } => {
                            with(Status::SMARTCARD_CERT_EXPIRED, "has expired or is not valid yet")
                        }
                        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                            with(Status::MUTUAL_AUTHENTICATION_FAILED, "does not name the server")
                        }
                        _ if debug.contains("CaUsedAsEndEntity") => with(
                            Status::ISSUING_CA_UNTRUSTED,
                            "is a CA certificate used as the server's own: a self-signed certificate must be pinned (pin=), not given as a CA file",
                        ),
                        _ => with(Status::INVALID_SIGNATURE, "is not valid"),
                    },
                    _ => with(Status::INVALID_SIGNATURE, "is not valid"),
                }
            }
        }
    }
}

/// The verifier of one connection: the trust, and a note of why it
/// refused, for the connect's status.
#[derive(Debug)]
struct Recording {
    trust: Trust,
    provider: Arc<CryptoProvider>,
    failure: Arc<Mutex<Option<Refusal>>>,
}

impl std::fmt::Debug for Trust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Trust::Roots(_) => f.write_str("Roots"),
            Trust::Pins(p) => write!(f, "Pins({})", p.len()),
        }
    }
}

impl Recording {
    fn refuse(&self, refusal: Refusal) -> rustls::Error {
        let error = match &refusal {
            Refusal::NotPinned(_) => {
                rustls::Error::InvalidCertificate(CertificateError::ApplicationVerificationFailure)
            }
            Refusal::Certificate(e) => e.clone(),
        };
        if let Ok(mut slot) = self.failure.lock() {
            *slot = Some(refusal);
        }
        error
    }
}

impl ServerCertVerifier for Recording {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match &self.trust {
            Trust::Roots(verifier) => verifier
                .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
                .map_err(|e| self.refuse(Refusal::Certificate(e))),
            Trust::Pins(pins) => {
                let seen = fingerprint(end_entity);
                if pins.contains(&seen) {
                    Ok(ServerCertVerified::assertion())
                } else {
                    Err(self.refuse(Refusal::NotPinned(seen)))
                }
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
            .map_err(|e| self.refuse(Refusal::Certificate(e)))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
            .map_err(|e| self.refuse(Refusal::Certificate(e)))
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// A quinn server configuration for SMB over QUIC (ALPN `smb`, TLS 1.3,
/// ring): what `rxce serve`, the bench and the tests listen with. With
/// `client_roots`, a client certificate chaining to them is required.
pub fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    client_roots: Option<Arc<rustls::RootCertStore>>,
) -> Result<quinn::ServerConfig, Status> {
    server_config_with_alpn(chain, key, client_roots, ALPN)
}

/// [`server_config`] offering another ALPN (tests of a non-SMB server).
pub fn server_config_with_alpn(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    client_roots: Option<Arc<rustls::RootCertStore>>,
    alpn: &[u8],
) -> Result<quinn::ServerConfig, Status> {
    let bad = |what: &str, e: &dyn std::fmt::Display| Status::INVALID_PARAMETER.with_message(format!("{what}: {e}"));
    let builder = rustls::ServerConfig::builder_with_provider(crypto())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| bad("TLS 1.3 with ring", &e))?;
    let builder = match client_roots {
        Some(roots) => {
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(roots, crypto())
                .build()
                .map_err(|e| bad("the client roots", &e))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut tls = builder
        .with_single_cert(chain, key)
        .map_err(|e| bad("the server certificate or key", &e))?;
    tls.alpn_protocols = vec![alpn.to_vec()];
    let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(tls).map_err(|e| bad("QUIC needs TLS 1.3", &e))?;
    Ok(quinn::ServerConfig::with_crypto(Arc::new(crypto)))
}

/// The rustls client configuration the `quic` transport uses for these
/// options (trust, client certificate, TLS 1.3, ALPN `smb`): for programs
/// that compare with or drive quinn themselves (the bench's raw quinn).
pub fn client_config(options: &QuicOptions) -> Result<rustls::ClientConfig, Status> {
    Credentials::load(options, system_roots)?.client_config(Arc::new(Mutex::new(None)))
}
