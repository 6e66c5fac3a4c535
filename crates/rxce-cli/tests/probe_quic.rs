//! `rxce probe --quic-port` against aioquic (an independent QUIC
//! implementation) answering the SMB 3.1.1 NEGOTIATE with Samba's captured
//! response (`crates/rxce-smb2/tests/data/samba-4.17-negotiate-311.bin`),
//! beside closed tcp and netbt ports. aioquic lives in `.venv/aioquic`
//! (`scripts/install-test-deps.sh`); these tests fail without it.
#![cfg(unix)] // Unix only: the virtual environment's bin/python

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::*;
use rxce::provider::quic::options;
use rxce_testsupport::peers::closed_port;
use serde_json::Value;

struct Aioquic(Child);

impl Drop for Aioquic {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The aioquic peer in `mode`, its port, and the pin of its certificate.
fn aioquic(dir: &Path, response: &Path) -> (Aioquic, u16, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = root.join(".venv/aioquic/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/install-test-deps.sh",
        python.display()
    );
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    std::fs::write(dir.join("cert.pem"), generated.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), generated.signing_key.serialize_pem()).unwrap();
    let pin = options::hex(&options::fingerprint(generated.cert.der()));
    let mut child = Command::new(python)
        .arg(root.join("crates/rxce/tests/aioquic/smb_server.py"))
        .args(["--mode", "negotiate", "--response"])
        .arg(response)
        .arg("--cert")
        .arg(dir.join("cert.pem"))
        .arg("--key")
        .arg(dir.join("key.pem"))
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
    (Aioquic(child), port, pin)
}

fn samba_response(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../rxce-smb2/tests/data")
        .join(name)
}

#[test]
fn quic_negotiates_311_beside_closed_tcp_and_netbt_in_table_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let (_peer, port, pin) = aioquic(dir.path(), &samba_response("samba-4.17-negotiate-311.bin"));
    let closed = closed_port().port();
    let (closed, port, quic_options) = (closed.to_string(), port.to_string(), format!("pin={pin}"));
    let args = [
        "probe",
        "127.0.0.1",
        "--direct-port",
        &closed,
        "--netbt-port",
        &closed,
        "--quic-port",
        &port,
        "--quic-options",
        &quic_options,
        "--timeout",
        "3000",
    ];
    let output = run(&args);
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    print!("{stdout}");
    let table = rxce_cli::table::cells(&stdout);
    assert_eq!(table[0], ["transport", "tcp", "netbt", "quic"]);
    let status = table.iter().find(|r| r[0] == "status").unwrap();
    assert_eq!(
        status[1..],
        [
            "STATUS_CONNECTION_REFUSED",
            "STATUS_CONNECTION_REFUSED",
            "STATUS_SUCCESS"
        ]
    );
    let dialect = table.iter().find(|r| r[0] == "dialect").unwrap();
    assert!(dialect[3].contains("3.1.1"), "{dialect:?}");
    assert!(stdout.contains("winner: quic"), "{stdout}");

    let mut json_args = args.to_vec();
    json_args.push("--json");
    let output = run(&json_args);
    let stdout = String::from_utf8(output.stdout).unwrap();
    println!("{stdout}");
    let value: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(value["winner"], "quic");
    let quic = &value["attempts"][2];
    assert_eq!(quic["transport"], "quic");
    assert_eq!(quic["status"], "STATUS_SUCCESS");
    assert_eq!(quic["negotiate"]["dialect"], "0x0311");
    assert_eq!(quic["address"], format!("127.0.0.1:{port}"));
}

#[test]
fn quic_refuses_a_dialect_other_than_311() {
    let dir = tempfile::tempdir().unwrap();
    // Samba's 3.1.1 answer made a 3.0.2 one: DialectRevision 0x0302 and no
    // negotiate contexts (body offsets 4 and 6 after the 64-byte header).
    let mut older = std::fs::read(samba_response("samba-4.17-negotiate-311.bin")).unwrap();
    older[68..70].copy_from_slice(&0x0302u16.to_le_bytes());
    older[70..72].copy_from_slice(&0u16.to_le_bytes());
    let response = dir.path().join("negotiate-302.bin");
    std::fs::write(&response, older).unwrap();
    let (_peer, port, pin) = aioquic(dir.path(), &response);
    let closed = closed_port().port();
    let (closed, port, quic_options) = (closed.to_string(), port.to_string(), format!("pin={pin}"));
    let output = run(&[
        "probe",
        "127.0.0.1",
        "--direct-port",
        &closed,
        "--netbt-port",
        &closed,
        "--quic-port",
        &port,
        "--quic-options",
        &quic_options,
        "--json",
    ]);
    let stdout = String::from_utf8(output.stdout).unwrap();
    let value: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    let quic = &value["attempts"][2];
    assert_eq!(quic["status"], "STATUS_INVALID_NETWORK_RESPONSE", "{stdout}");
    assert_eq!(value["winner"], Value::Null, "{stdout}");
    let output = run(&[
        "probe",
        "127.0.0.1",
        "--direct-port",
        &closed,
        "--netbt-port",
        &closed,
        "--quic-port",
        &port,
        "--quic-options",
        &quic_options,
    ]);
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("only SMB 3.1.1"), "{stdout}");
}
