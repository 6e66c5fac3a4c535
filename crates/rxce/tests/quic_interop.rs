//! The `quic` transport against an independent QUIC implementation: an
//! aioquic (Python) SMB-over-QUIC peer (`tests/aioquic/smb_server.py`)
//! that echoes direct-TCP-framed messages. aioquic lives in the virtual
//! environment `.venv/aioquic` that `scripts/install-test-deps.sh` makes.
#![cfg(unix)] // Unix only: the virtual environment's bin/python

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use common::*;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rxce::{ConnectionInformation, DisconnectFlags, NoEvents, SendOptions, Status, TransportAddress};

fn python() -> PathBuf {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/aioquic/bin/python");
    assert!(
        venv.exists(),
        "{} is missing: run scripts/install-test-deps.sh (it installs aioquic from PyPI into .venv/aioquic)",
        venv.display()
    );
    venv
}

/// A CA and a `localhost` leaf it signed, as PEM files in `dir`.
fn certificates(dir: &Path) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "rxce interop CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(dir.join("leaf.pem"), leaf.pem()).unwrap();
    std::fs::write(dir.join("leaf.key"), leaf_key.serialize_pem()).unwrap();
}

/// The aioquic peer, killed on drop.
struct Aioquic {
    child: Child,
    port: u16,
}

impl Drop for Aioquic {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn aioquic(dir: &Path, extra: &[&str]) -> Aioquic {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/aioquic/smb_server.py");
    let mut child = Command::new(python())
        .arg(script)
        .arg("--cert")
        .arg(dir.join("leaf.pem"))
        .arg("--key")
        .arg(dir.join("leaf.key"))
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the aioquic peer starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .trim()
        .strip_prefix("port ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("the aioquic peer said {line:?}"));
    Aioquic { child, port }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_echo_whole_through_aioquic() {
    let dir = tempfile::tempdir().unwrap();
    certificates(dir.path());
    let peer = aioquic(dir.path(), &[]);
    let engine = engine();
    let transport = engine.build_transport("quic", 0).unwrap();
    let address = transport
        .build_address(TransportAddress::any_ipv4(), Arc::new(NoEvents))
        .unwrap();
    let remote = ConnectionInformation {
        options: format!("ca={}&sni=localhost", dir.path().join("ca.pem").display())
            .into_bytes()
            .into(),
        ..ConnectionInformation::to(std::net::SocketAddr::from(([127, 0, 0, 1], peer.port)))
    };
    let recorder = Recorder::taking_all();
    let (_c, vc) = address.build_connection(remote, recorder.clone()).await.unwrap();
    let sizes = [1usize, 100, 65_536, 300_000, 1 << 20];
    let mut expected = Vec::new();
    for (i, size) in sizes.iter().enumerate() {
        let message = pattern(*size, i as u8);
        vc.send(message.clone(), SendOptions::empty()).await.unwrap();
        expected.extend_from_slice(&message);
    }
    let got = recorder.wait_for_bytes(expected.len()).await;
    assert!(got == expected, "{} bytes came back of {}", got.len(), expected.len());
    // Whole messages: every message ends with ENTIRE_MESSAGE.
    let entire = recorder
        .events()
        .iter()
        .filter(|e| matches!(e, Event::Received { flags, .. } if flags.contains(rxce::ReceiveFlags::ENTIRE_MESSAGE)))
        .count();
    assert_eq!(entire, sizes.len(), "{:?}", recorder.events().len());
    // Our FIN, aioquic's FIN back: an orderly release.
    vc.initiate_disconnect().unwrap();
    recorder
        .wait_for("the release", |e| {
            e.iter().any(|e| matches!(e, Event::Disconnect { .. }))
        })
        .await;
    let (flags, status) = recorder.disconnects()[0].clone();
    assert!(flags.contains(DisconnectFlags::RELEASE), "{flags:?} {status}");
    assert_eq!(status, Status::SUCCESS, "our own disconnect completed: {status}");
    transport.tear_down().await.unwrap();
}
