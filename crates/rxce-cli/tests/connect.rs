//! `rxce connect` driven as a user runs it, against `rxce serve`.
#![cfg(unix)] // Unix only: stops rxce serve with SIGTERM and uses Unix-domain sockets

mod common;

use std::io::Write;
use std::process::{Output, Stdio};

use common::*;

/// Runs `rxce connect ARGS` with `input` on stdin.
fn connect(args: &[&str], input: &[u8]) -> Output {
    let mut child = rxce()
        .arg("connect")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rxce connect starts");
    // Written from a thread while the output is read: a relay whose output
    // nobody reads stops reading its input (backpressure), by design.
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    output
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn stdin_goes_through_each_transport_and_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let socket = format!("unix:{}", dir.path().join("echo.sock").display());
    let served = serve(&[
        "--listen",
        "tcp://127.0.0.1:0",
        "--listen",
        "tcp+smb://127.0.0.1:0",
        "--listen",
        "netbt://127.0.0.1:0",
        "--listen",
        &socket,
    ]);
    let input: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    for url in &served.urls {
        let out = connect(&[url], &input);
        assert!(out.status.success(), "{url}: {}", text(&out.stderr));
        assert!(out.stdout == input, "{url}: {} bytes came back", out.stdout.len());
        let stderr = text(&out.stderr);
        assert!(stderr.contains("STATUS_SUCCESS") && stderr.contains("yes"), "{stderr}");
        assert!(stderr.contains("195.3 KiB sent, 195.3 KiB received"), "{stderr}");
    }
    let finished = served.terminate();
    assert!(finished.status.success());
}

#[test]
fn the_first_policy_skips_a_refusing_endpoint_and_reports_it() {
    let served = serve(&["--listen", "tcp://127.0.0.1:0"]);
    let refused = format!("tcp://{}", rxce_testsupport::peers::closed_port());
    let out = connect(&["--policy", "first", &refused, &served.urls[0]], b"ping\n");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(out.stdout, b"ping\n");
    let stderr = text(&out.stderr);
    let refused_row = stderr.lines().find(|l| l.contains(&refused)).unwrap();
    assert!(refused_row.contains("STATUS_CONNECTION_REFUSED"), "{stderr}");
    let live_row = stderr.lines().find(|l| l.contains(&served.urls[0])).unwrap();
    assert!(
        live_row.contains("STATUS_SUCCESS") && live_row.contains("yes"),
        "{stderr}"
    );
}

#[test]
fn best_and_all_keep_what_their_policy_says() {
    let served = serve(&["--listen", "tcp://127.0.0.1:0", "--listen", "tcp+smb://127.0.0.1:0"]);
    let (a, b) = (&served.urls[0], &served.urls[1]);
    let best = connect(&["--policy", "best", a, b], b"best");
    assert!(best.status.success(), "{}", text(&best.stderr));
    assert_eq!(best.stdout, b"best");
    let stderr = text(&best.stderr);
    let kept: Vec<&str> = stderr.lines().filter(|l| l.contains(" yes ")).collect();
    assert_eq!(kept.len(), 1, "{stderr}");
    assert!(
        kept[0].contains(a.as_str()),
        "equal quality: the earlier URL wins: {stderr}"
    );
    let all = connect(&["--policy", "all", a, b], b"all");
    assert!(all.status.success(), "{}", text(&all.stderr));
    assert_eq!(all.stdout, b"all", "the input goes out on the first VC only");
    assert_eq!(text(&all.stderr).lines().filter(|l| l.contains(" yes ")).count(), 2);
}

#[test]
fn nothing_to_connect_to_is_exit_one_with_the_status() {
    let refused = format!("tcp://{}", rxce_testsupport::peers::closed_port());
    let out = connect(&[&refused], b"");
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("rxce connect: STATUS_CONNECTION_REFUSED (0xC0000236)"),
        "{stderr}"
    );
    let hole = rxce_testsupport::peers::BlackHole::new().unwrap();
    let started = std::time::Instant::now();
    let out = connect(&["--timeout", "300", &format!("tcp://{}", hole.addr())], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("STATUS_IO_TIMEOUT"), "{}", text(&out.stderr));
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn bad_urls_and_flags_are_usage_errors() {
    for args in [
        &["tcp://nowhere"][..],
        &["--policy", "fastest", "tcp://127.0.0.1:1"],
        &[],
    ] {
        let out = connect(args, b"");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out.stderr));
        assert_eq!(text(&out.stderr).lines().filter(|l| l.starts_with("error:")).count(), 1);
    }
}

#[test]
fn quic_with_a_generated_certificate_and_with_given_files() {
    // A generated self-signed certificate: the listening URL pins it.
    let served = serve(&["--listen", "quic://127.0.0.1:0"]);
    let url = served.urls[0].clone();
    assert!(url.starts_with("quic://127.0.0.1:") && url.contains("?pin="), "{url}");
    let input: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let out = connect(&[&url], &input);
    assert!(out.status.success(), "{url}: {}", text(&out.stderr));
    assert!(out.stdout == input, "{url}: {} bytes came back", out.stdout.len());
    // The same port without the pin: the system's roots do not know it.
    let unpinned = url.split('?').next().unwrap().to_owned();
    let out = connect(&[&unpinned], b"x");
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("STATUS_ISSUING_CA_UNTRUSTED"),
        "{}",
        text(&out.stderr)
    );
    // Raced with tcp+smb, every transport kept.
    let smb = serve(&["--listen", "tcp+smb://127.0.0.1:0"]);
    let out = connect(&["--policy", "all", &smb.urls[0], &url], b"both ways");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.matches("STATUS_SUCCESS").count(), 2, "{stderr}");
    let finished = served.terminate();
    assert!(finished.status.success());
    assert!(
        finished.stderr.contains("certificate SHA-256 fingerprint"),
        "{}",
        finished.stderr
    );
    let row = finished.first_row();
    assert!(row["connections"].parse::<u32>().unwrap() >= 2, "{row:?}");
    smb.terminate();

    // --cert/--key files: the fingerprint is theirs.
    let dir = tempfile::tempdir().unwrap();
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, generated.cert.pem()).unwrap();
    std::fs::write(&key, generated.signing_key.serialize_pem()).unwrap();
    let served = serve(&[
        "--listen",
        "quic://127.0.0.1:0",
        "--cert",
        cert.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
    ]);
    let pin = rxce::provider::quic::options::hex(&rxce::provider::quic::options::fingerprint(generated.cert.der()));
    assert!(served.urls[0].ends_with(&format!("?pin={pin}")), "{}", served.urls[0]);
    // Trusting it as its own CA file, by name.
    let port = served.urls[0]
        .split(':')
        .nth(2)
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let by_ca = format!("quic://127.0.0.1:{port}?ca={}&sni=localhost", cert.display());
    let out = connect(&[&by_ca], b"by CA file");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(out.stdout, b"by CA file");
    served.terminate();
}
