//! The `quic` transport (SMB over QUIC) against a quinn server on
//! loopback: messages both ways, client buffers, query information,
//! orderly and abortive disconnects, the faults of a hostile peer, and the
//! certificate failures (decisions 44-47).

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rxce::provider::quic::quinn::{self, VarInt};
use rxce::provider::quic::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rxce::provider::quic::{options, tls};
use rxce::{
    ConnectionInformation, DisconnectFlags, EngineConfig, Information, InformationClass, NoEvents, ReceiveAnswer,
    SendBuffers, SendOptions, Status, TransportAddress,
};

fn unique() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// A CA and a leaf certificate it signed, written to files.
struct Pki {
    dir: tempfile::TempDir,
    leaf: CertificateDer<'static>,
    leaf_key: Vec<u8>,
}

impl Pki {
    /// A CA, and a leaf for `names` valid from `not_before` to `not_after`
    /// (years).
    fn new(names: &[&str], years: (i32, i32)) -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, format!("rxce test CA {}", unique()));
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf_key = KeyPair::generate().unwrap();
        let mut leaf_params = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
        leaf_params.not_before = rcgen::date_time_ymd(years.0, 1, 1);
        leaf_params.not_after = rcgen::date_time_ymd(years.1, 1, 1);
        let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
        std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
        std::fs::write(dir.path().join("leaf.pem"), leaf.pem()).unwrap();
        std::fs::write(dir.path().join("leaf.key"), leaf_key.serialize_pem()).unwrap();
        Pki {
            dir,
            leaf: leaf.der().clone(),
            leaf_key: leaf_key.serialize_der(),
        }
    }

    fn good() -> Pki {
        Pki::new(&["localhost", "127.0.0.1"], (2020, 4000))
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.leaf_key.clone()))
    }

    fn server_config(&self) -> quinn::ServerConfig {
        tls::server_config(vec![self.leaf.clone()], self.key(), None).unwrap()
    }

    /// Options trusting this CA (and asking for `sni`).
    fn trusting(&self, sni: &str) -> String {
        format!("ca={}&sni={sni}", self.path("ca.pem").display())
    }
}

/// What the test's server does with each accepted stream.
type Behaviour =
    Arc<dyn Fn(quinn::Connection, quinn::SendStream, quinn::RecvStream) -> tokio::task::JoinHandle<()> + Send + Sync>;

fn echo() -> Behaviour {
    Arc::new(|conn, mut send, mut recv| {
        tokio::spawn(async move {
            let mut buf = vec![0u8; 64 * 1024];
            while let Ok(Some(n)) = recv.read(&mut buf).await {
                if send.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
            let _ = send.finish();
            let _ = conn.closed().await;
        })
    })
}

/// A quinn server on loopback; returns its address.
fn server(config: quinn::ServerConfig, behaviour: Behaviour) -> (quinn::Endpoint, SocketAddr) {
    let endpoint = quinn::Endpoint::server(config, "127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = endpoint.local_addr().unwrap();
    let accepting = endpoint.clone();
    tokio::spawn(async move {
        while let Some(incoming) = accepting.accept().await {
            let behaviour = behaviour.clone();
            tokio::spawn(async move {
                let Ok(conn) = incoming.await else { return };
                if let Ok((send, recv)) = conn.accept_bi().await {
                    let _ = behaviour(conn, send, recv).await;
                }
            });
        }
    });
    (endpoint, addr)
}

fn quic_address(engine: &rxce::Engine) -> (rxce::Transport, rxce::Address) {
    let transport = engine.build_transport("quic", 0).unwrap();
    let address = transport
        .build_address(TransportAddress::any_ipv4(), Arc::new(NoEvents))
        .unwrap();
    (transport, address)
}

fn remote(addr: SocketAddr, options: &str) -> ConnectionInformation {
    ConnectionInformation {
        options: options.as_bytes().to_vec().into(),
        ..ConnectionInformation::to(addr)
    }
}

/// A direct-TCP frame (what the peer sees of one send).
fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = vec![
        0,
        (payload.len() >> 16) as u8,
        (payload.len() >> 8) as u8,
        payload.len() as u8,
    ];
    out.extend_from_slice(payload);
    out
}

fn messages(events: &[Event]) -> Vec<Vec<u8>> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Received { data, available, .. } if data.len() == *available => Some(data.clone()),
            Event::DataReady { data, .. } => Some(data.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_go_both_ways_whole_over_one_stream() {
    let pki = Pki::good();
    let (_server, addr) = server(pki.server_config(), echo());
    let engine = engine();
    let (_t, address) = quic_address(&engine);
    let recorder = Recorder::taking_all();
    let (_c, vc) = address
        .build_connection(remote(addr, &pki.trusting("localhost")), recorder.clone())
        .await
        .unwrap();
    // Synchronous, a chain of three pieces, and asynchronous sends.
    assert_eq!(vc.send(&b"negotiate"[..], SendOptions::SYNCHRONOUS).await.unwrap(), 9);
    let chain = SendBuffers::from(vec![
        bytes::Bytes::from_static(b"one "),
        bytes::Bytes::from_static(b"two "),
        bytes::Bytes::from_static(b"three"),
    ]);
    vc.send(chain, SendOptions::empty()).await.unwrap();
    let big = pattern(200_000, 7);
    assert_eq!(
        vc.submit_send(big.clone(), SendOptions::empty(), 42).await,
        Status::PENDING
    );
    let events = recorder
        .wait_for("three echoed messages", |e| messages(e).len() >= 3)
        .await;
    let got = messages(&events);
    assert_eq!(got[0], b"negotiate");
    assert_eq!(got[1], b"one two three");
    assert_eq!(got[2], big);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::SendComplete { context: 42, status, bytes, .. } if *status == Status::SUCCESS && *bytes == 200_000)),
        "{events:?}"
    );
    // Query information: the RTT from quinn's statistics.
    let Information::ConnectionEndpoint(info) = vc.query_information(InformationClass::ConnectionEndpoint).unwrap()
    else {
        panic!("endpoint information")
    };
    assert!(info.delay < 0, "a measured round trip: {info:?}");
    assert_eq!(info.transmitted_tsdus, 3);
    let Information::RemoteAddress(remote) = vc.query_information(InformationClass::RemoteAddress).unwrap() else {
        panic!("remote address")
    };
    assert_eq!(remote.address.ip_entry(), Some(addr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_message_goes_straight_into_the_client_buffer() {
    let pki = Pki::good();
    let (_server, addr) = server(pki.server_config(), echo());
    let engine = engine();
    let (_t, address) = quic_address(&engine);
    // MORE_PROCESSING_REQUIRED: take 4 bytes, the rest into our buffer.
    let recorder = Recorder::answering(|_, ind| ReceiveAnswer::MoreProcessingRequired {
        taken: 4,
        buffer: Box::new(vec![0u8; ind.available - 4]),
        size: ind.available - 4,
    });
    let (_c, vc) = address
        .build_connection(remote(addr, &pki.trusting("localhost")), recorder.clone())
        .await
        .unwrap();
    let big = pattern(1 << 20, 3);
    vc.send(big.clone(), SendOptions::empty()).await.unwrap();
    let events = recorder
        .wait_for("the data-ready", |e| {
            e.iter().any(|e| matches!(e, Event::DataReady { .. }))
        })
        .await;
    let ready = events
        .iter()
        .find_map(|e| match e {
            Event::DataReady {
                data, copied, status, ..
            } => Some((data.clone(), *copied, status.clone())),
            _ => None,
        })
        .unwrap();
    assert_eq!(ready.2, Status::SUCCESS);
    assert_eq!(ready.1, big.len() - 4);
    assert_eq!(ready.0[..], big[4..]);
    assert_eq!(recorder.stream(), big);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orderly_disconnect_sends_fin_and_the_peer_fin_is_a_release() {
    let pki = Pki::good();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let behaviour: Behaviour = Arc::new(move |conn, mut send, mut recv| {
        let tx = tx.clone();
        tokio::spawn(async move {
            // Everything up to our FIN, then ours.
            let all = recv.read_to_end(1 << 20).await;
            let _ = tx.send(all.map_err(|e| e.to_string()));
            let _ = send.write_all(&frame(b"bye")).await;
            let _ = send.finish();
            let _ = conn.closed().await;
        })
    });
    let (_server, addr) = server(pki.server_config(), behaviour);
    let engine = engine();
    let (_t, address) = quic_address(&engine);
    let recorder = Recorder::taking_all();
    let (_c, vc) = address
        .build_connection(remote(addr, &pki.trusting("localhost")), recorder.clone())
        .await
        .unwrap();
    vc.send(&b"last words"[..], SendOptions::empty()).await.unwrap();
    vc.initiate_disconnect().unwrap();
    let seen = rx.recv().await.unwrap().unwrap();
    assert_eq!(seen, frame(b"last words"), "the peer read our message, then our FIN");
    let events = recorder
        .wait_for("the release", |e| {
            e.iter().any(|e| matches!(e, Event::Disconnect { .. }))
        })
        .await;
    assert_eq!(messages(&events), vec![b"bye".to_vec()]);
    let (flags, status) = recorder.disconnects()[0].clone();
    assert!(flags.contains(DisconnectFlags::RELEASE), "{flags:?} {status}");
}

/// Connects to a server whose stream does `then` after reading the first
/// message; returns the disconnect the VC reported.
async fn fault(
    config: EngineConfig,
    then: impl Fn(quinn::Connection, quinn::SendStream) -> tokio::task::JoinHandle<()> + Send + Sync + 'static,
) -> (DisconnectFlags, Status) {
    let pki = Pki::good();
    let then = Arc::new(then);
    let behaviour: Behaviour = Arc::new(move |conn, send, mut recv| {
        let then = then.clone();
        tokio::spawn(async move {
            let mut first = [0u8; 9];
            if recv.read_exact(&mut first).await.is_ok() {
                let _ = then(conn, send).await;
            }
            tokio::time::sleep(Duration::from_secs(30)).await;
            drop(recv);
        })
    });
    let (_server, addr) = server(pki.server_config(), behaviour);
    let engine = engine_with(config);
    let (_t, address) = quic_address(&engine);
    let recorder = Recorder::taking_all();
    let (_c, vc) = address
        .build_connection(remote(addr, &pki.trusting("localhost")), recorder.clone())
        .await
        .unwrap();
    vc.send(&b"hello"[..], SendOptions::empty()).await.unwrap();
    recorder
        .wait_for("the disconnect", |e| {
            e.iter().any(|e| matches!(e, Event::Disconnect { .. }))
        })
        .await;
    recorder.disconnects()[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_close_is_a_reset_with_the_code_in_the_message() {
    let (flags, status) = fault(EngineConfig::default(), |conn, send| {
        tokio::spawn(async move {
            conn.close(VarInt::from_u32(7), b"go away");
            // (Dropping a send stream of a live connection finishes it.)
            drop(send);
        })
    })
    .await;
    assert!(flags.contains(DisconnectFlags::ABORT), "{flags:?} {status}");
    assert_eq!(status, Status::CONNECTION_RESET, "{status}");
    assert!(status.to_string().contains("application error 7"), "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_reset_mid_message_is_a_reset() {
    let (flags, status) = fault(EngineConfig::default(), |_conn, mut send| {
        tokio::spawn(async move {
            let whole = frame(&pattern(1000, 1));
            let _ = send.write_all(&whole[..500]).await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            let _ = send.reset(VarInt::from_u32(9));
        })
    })
    .await;
    assert!(flags.contains(DisconnectFlags::ABORT), "{flags:?}");
    assert_eq!(status, Status::CONNECTION_RESET, "{status}");
    assert!(status.to_string().contains("reset the QUIC stream"), "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fin_mid_message_is_a_broken_message() {
    let (flags, status) = fault(EngineConfig::default(), |_conn, mut send| {
        tokio::spawn(async move {
            let whole = frame(&pattern(1000, 1));
            let _ = send.write_all(&whole[..500]).await;
            let _ = send.finish();
        })
    })
    .await;
    // As on tcp+smb: the end of data inside a message breaks the framing.
    assert!(flags.contains(DisconnectFlags::ABORT), "{flags:?} {status}");
    assert!(status.is_error(), "{status}");
    assert_ne!(status, Status::CONNECTION_RESET, "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_over_long_announced_frame_is_a_protocol_error() {
    let (flags, status) = fault(
        EngineConfig {
            max_message_size: 1 << 16,
            ..EngineConfig::default()
        },
        |_conn, mut send| {
            tokio::spawn(async move {
                let _ = send.write_all(&[0x00, 0xFF, 0xFF, 0xFF, 1, 2, 3]).await;
            })
        },
    )
    .await;
    assert!(flags.contains(DisconnectFlags::ABORT), "{flags:?}");
    assert_eq!(status, Status::INVALID_NETWORK_RESPONSE, "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_peer_times_out_by_the_idle_timeout() {
    // The server runs on its own runtime, which is then shut down: no
    // more packets, no close.
    let pki = Pki::good();
    let config = pki.server_config();
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (server_endpoint, addr) = server_rt.spawn(async { server(config, echo()) }).await.unwrap();
    let engine = engine_with(EngineConfig {
        dead_peer_timeout: Some(Duration::from_millis(600)),
        ..EngineConfig::default()
    });
    let (_t, address) = quic_address(&engine);
    let recorder = Recorder::taking_all();
    let (_c, vc) = address
        .build_connection(remote(addr, &pki.trusting("localhost")), recorder.clone())
        .await
        .unwrap();
    vc.send(&b"ping"[..], SendOptions::empty()).await.unwrap();
    recorder.wait_for("the echo", |e| !messages(e).is_empty()).await;
    let started = Instant::now();
    server_rt.shutdown_background();
    std::mem::forget(server_endpoint);
    recorder
        .wait_for("the dead peer", |e| {
            e.iter().any(|e| matches!(e, Event::Disconnect { .. }))
        })
        .await;
    let elapsed = started.elapsed();
    let (flags, status) = recorder.disconnects()[0].clone();
    assert!(flags.contains(DisconnectFlags::ABORT), "{flags:?}");
    assert_eq!(status, Status::IO_TIMEOUT, "{status}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_udp_port_times_out_within_the_connect_timeout() {
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let engine = engine_with(EngineConfig {
        connect_timeout: Duration::from_millis(700),
        ..EngineConfig::default()
    });
    let (_t, address) = quic_address(&engine);
    let started = Instant::now();
    let err = address
        .build_connection(remote(addr, "sni=localhost"), Recorder::taking_all())
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(err, Status::IO_TIMEOUT, "{err}");
    assert!(
        elapsed >= Duration::from_millis(600) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_vc_closes_abortively_and_a_torn_down_one_in_order() {
    let pki = Pki::good();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let behaviour: Behaviour = Arc::new(move |conn, mut send, mut recv| {
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut first = [0u8; 8];
            let _ = recv.read_exact(&mut first).await;
            if &first[4..] == b"bad!" {
                // An over-long frame: the VC fails.
                let _ = send.write_all(&[0x00, 0xFF, 0xFF, 0xFF]).await;
            }
            let rest = recv.read_to_end(1 << 20).await.map_err(|e| e.to_string());
            let _ = tx.send((rest, conn.closed().await));
        })
    });
    let (_server, addr) = server(pki.server_config(), behaviour);
    let engine = engine_with(EngineConfig {
        max_message_size: 1 << 16,
        ..EngineConfig::default()
    });
    let (_t, address) = quic_address(&engine);
    // A failure: RESET_STREAM and CONNECTION_CLOSE with error 1.
    let (_c, vc) = address
        .build_connection(remote(addr, &pki.trusting("localhost")), Recorder::taking_all())
        .await
        .unwrap();
    vc.send(&b"bad!"[..], SendOptions::empty()).await.unwrap();
    let (rest, closed) = rx.recv().await.unwrap();
    assert!(
        rest.is_err(),
        "the stream was reset or the connection closed, not ended: {rest:?}"
    );
    match closed {
        quinn::ConnectionError::ApplicationClosed(close) => assert_eq!(close.error_code, VarInt::from_u32(1)),
        other => panic!("the peer saw {other}"),
    }
    // A tear-down: FIN, then CONNECTION_CLOSE with error 0.
    let (_c, vc) = address
        .build_connection(remote(addr, &pki.trusting("localhost")), Recorder::taking_all())
        .await
        .unwrap();
    vc.send(&b"fine"[..], SendOptions::empty()).await.unwrap();
    vc.tear_down().await.unwrap();
    let (rest, closed) = rx.recv().await.unwrap();
    assert_eq!(rest.unwrap(), b"", "an orderly end of the stream");
    match closed {
        quinn::ConnectionError::ApplicationClosed(close) => assert_eq!(close.error_code, VarInt::from_u32(0)),
        other => panic!("the peer saw {other}"),
    }
}

/// Connects with `options` to a server with `config`; the build's outcome.
async fn handshake(config: quinn::ServerConfig, options: &str) -> Result<(), Status> {
    let (_server, addr) = server(config, echo());
    let engine = engine_with(EngineConfig {
        connect_timeout: Duration::from_secs(5),
        ..EngineConfig::default()
    });
    let (_t, address) = quic_address(&engine);
    let recorder = Recorder::taking_all();
    let (_c, vc) = address
        .build_connection(remote(addr, options), recorder.clone())
        .await?;
    vc.send(&b"ok?"[..], SendOptions::empty()).await?;
    // A refused client certificate shows after the handshake (TLS 1.3):
    // the VC then fails.
    let events = recorder
        .wait_for("the echo or a failure", |e| {
            !messages(e).is_empty() || e.iter().any(|e| matches!(e, Event::Disconnect { .. }))
        })
        .await;
    match recorder.disconnects().first() {
        Some((_, status)) if messages(&events).is_empty() => Err(status.clone()),
        _ => Ok(()),
    }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_certificate_failure_has_its_own_status_and_says_why() {
    let pki = Pki::good();
    let other = Pki::good();
    let expired = Pki::new(&["localhost"], (2001, 2002));
    let pin = options::hex(&options::fingerprint(&pki.leaf));
    let wrong_pin = "00".repeat(32);
    // Self-signed leaves: a plain one (rcgen's) works as its own CA file;
    // one marked as a CA (as `openssl req -x509` makes by default) does
    // not (webpki: CaUsedAsEndEntity) and must be pinned.
    let self_signed = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let self_pem = write(other.dir.path(), "self.pem", self_signed.cert.pem().as_bytes());
    let self_config = tls::server_config(
        vec![self_signed.cert.der().clone()],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self_signed.signing_key.serialize_der())),
        None,
    )
    .unwrap();
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_leaf = ca_params.self_signed(&ca_key).unwrap();
    let ca_leaf_pem = write(other.dir.path(), "ca-leaf.pem", ca_leaf.pem().as_bytes());
    let ca_leaf_config = tls::server_config(
        vec![ca_leaf.der().clone()],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ca_key.serialize_der())),
        None,
    )
    .unwrap();
    let ca_leaf_pin = options::hex(&options::fingerprint(ca_leaf.der()));

    let mut table = Vec::new();
    let cases: Vec<(&str, quinn::ServerConfig, String, Result<(), Status>)> = vec![
        ("trusted CA", pki.server_config(), pki.trusting("localhost"), Ok(())),
        (
            "CA file as DER",
            pki.server_config(),
            {
                let ca = tls::read_certificates(&pki.path("ca.pem")).unwrap();
                let der = write(pki.dir.path(), "ca.der", ca[0].as_ref());
                format!("ca={}&sni=localhost", der.display())
            },
            Ok(()),
        ),
        (
            "pinned, name not checked",
            pki.server_config(),
            format!("pin={pin}&sni=not-the-name"),
            Ok(()),
        ),
        (
            "unknown CA",
            pki.server_config(),
            other.trusting("localhost"),
            Err(Status::ISSUING_CA_UNTRUSTED),
        ),
        (
            "wrong name",
            pki.server_config(),
            pki.trusting("other.example"),
            Err(Status::MUTUAL_AUTHENTICATION_FAILED),
        ),
        (
            "expired",
            expired.server_config(),
            expired.trusting("localhost"),
            Err(Status::SMARTCARD_CERT_EXPIRED),
        ),
        (
            "pin mismatch",
            pki.server_config(),
            format!("pin={wrong_pin}"),
            Err(Status::TRUST_FAILURE),
        ),
        (
            "self-signed as CA file",
            self_config,
            format!("ca={}&sni=localhost", self_pem.display()),
            Ok(()),
        ),
        (
            "self-signed CA as CA file",
            ca_leaf_config.clone(),
            format!("ca={}&sni=localhost", ca_leaf_pem.display()),
            Err(Status::ISSUING_CA_UNTRUSTED),
        ),
        (
            "self-signed CA pinned",
            ca_leaf_config,
            format!("pin={ca_leaf_pin}"),
            Ok(()),
        ),
        (
            "wrong ALPN",
            tls::server_config_with_alpn(vec![pki.leaf.clone()], pki.key(), None, b"h3").unwrap(),
            pki.trusting("localhost"),
            Err(Status::NOT_SUPPORTED),
        ),
    ];
    for (case, config, options, expected) in cases {
        let outcome = handshake(config, &options).await;
        table.push(format!("{case:28} -> {outcome:?}"));
        match (&outcome, &expected) {
            (Ok(()), Ok(())) => {}
            (Err(got), Err(want)) => {
                assert_eq!(got, want, "{case}: {got}");
                assert!(got.to_string().len() > 40, "{case}: a message with the reason: {got}");
            }
            _ => panic!("{case}: {outcome:?}, wanted {expected:?}"),
        }
        if case == "self-signed CA as CA file" {
            assert!(format!("{outcome:?}").contains("must be pinned"), "{outcome:?}");
        }
    }
    println!("{}", table.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_is_sent_when_the_server_requires_one() {
    let server_pki = Pki::good();
    let client_pki = Pki::new(&["client.example"], (2020, 4000));
    let mut roots = rustls_roots(&client_pki.path("ca.pem"));
    let requiring = tls::server_config(
        vec![server_pki.leaf.clone()],
        server_pki.key(),
        Some(Arc::new(roots.clone())),
    )
    .unwrap();
    // Without a certificate: refused, ACCESS_DENIED.
    let err = handshake(requiring.clone(), &server_pki.trusting("localhost"))
        .await
        .unwrap_err();
    assert_eq!(err, Status::ACCESS_DENIED, "{err}");
    // With one the server trusts: through.
    let with_cert = format!(
        "{}&cert={}&key={}",
        server_pki.trusting("localhost"),
        client_pki.path("leaf.pem").display(),
        client_pki.path("leaf.key").display()
    );
    handshake(requiring, &with_cert).await.unwrap();
    // With one it does not trust: refused.
    roots = rustls_roots(&server_pki.path("ca.pem"));
    let distrusting =
        tls::server_config(vec![server_pki.leaf.clone()], server_pki.key(), Some(Arc::new(roots))).unwrap();
    let err = handshake(distrusting, &with_cert).await.unwrap_err();
    assert_eq!(err, Status::ACCESS_DENIED, "{err}");
}

fn rustls_roots(ca: &Path) -> rxce::provider::quic::rustls::RootCertStore {
    let mut roots = rxce::provider::quic::rustls::RootCertStore::empty();
    for cert in tls::read_certificates(ca).unwrap() {
        roots.add(cert).unwrap();
    }
    roots
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_of_one_address_share_one_udp_socket() {
    let pki = Pki::good();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let echoing = echo();
    let behaviour: Behaviour = Arc::new(move |conn, send, recv| {
        let _ = tx.send(conn.remote_address());
        echoing(conn, send, recv)
    });
    let (_server, addr) = server(pki.server_config(), behaviour);
    let engine = engine();
    let (_t, address) = quic_address(&engine);
    let mut vcs = Vec::new();
    let mut sources = std::collections::HashSet::new();
    for _ in 0..3 {
        let recorder = Recorder::taking_all();
        let (c, vc) = address
            .build_connection(remote(addr, &pki.trusting("localhost")), recorder.clone())
            .await
            .unwrap();
        vc.send(&b"hi"[..], SendOptions::empty()).await.unwrap();
        recorder.wait_for("the echo", |e| !messages(e).is_empty()).await;
        sources.insert(rx.recv().await.unwrap());
        vcs.push((c, vc));
    }
    assert_eq!(
        sources.len(),
        1,
        "three QUIC connections from one UDP socket: {sources:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quic_takes_part_in_races_and_follows_a_failed_tcp_at_once() {
    use rxce::{build_connection_over_multiple_transports, MultiConnectOptions, SelectPolicy};
    let pki = Pki::good();
    let (_server, addr) = server(pki.server_config(), echo());
    let engine = engine();
    let (_tq, quic) = quic_address(&engine);
    let tcp_transport = engine.build_transport("tcp+smb", 0).unwrap();
    let tcp = tcp_transport
        .build_address(TransportAddress::any_ipv4(), Arc::new(NoEvents))
        .unwrap();
    // A closed TCP port: refused at once.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_addr = closed.local_addr().unwrap();
    drop(closed);
    let remotes = [
        ConnectionInformation::to(closed_addr),
        remote(addr, &pki.trusting("localhost")),
    ];
    // Windows' order: tcp+smb first, quic 10 s later unless tcp+smb fails.
    let windows = MultiConnectOptions {
        policy: SelectPolicy::FirstSuccessful,
        transport_stagger: Duration::from_secs(10),
        ..MultiConnectOptions::default()
    };
    let started = Instant::now();
    let built = build_connection_over_multiple_transports(
        &[tcp.clone(), quic.clone()],
        &remotes,
        Recorder::taking_all(),
        &windows,
    )
    .await
    .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "quic started when tcp+smb failed: {:?}",
        started.elapsed()
    );
    assert_eq!(built.address_index, 1);
    assert_eq!(built.attempts[0].status, Status::CONNECTION_REFUSED);
    // All successful: a tcp+smb VC and a quic VC of one connection.
    let tcp_peer = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let remotes = [
        ConnectionInformation::to(tcp_peer.local_addr().unwrap()),
        remote(addr, &pki.trusting("localhost")),
    ];
    let all = MultiConnectOptions {
        policy: SelectPolicy::AllSuccessful,
        ..MultiConnectOptions::default()
    };
    let built = build_connection_over_multiple_transports(&[tcp, quic], &remotes, Recorder::taking_all(), &all)
        .await
        .unwrap();
    assert_eq!(built.vcs.len(), 2);
}
