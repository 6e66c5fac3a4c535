//! `rxce probe` against a private smbd on loopback, a closed port and a
//! black hole. These tests fail (not skip) without Samba:
//! `scripts/install-test-deps.sh` installs it.
#![cfg(target_os = "linux")] // Linux only: Samba (smbd, nmbd) from Debian packages

mod common;

use std::time::{Duration, Instant};

use common::*;
use rxce_testsupport::peers::{closed_port, BlackHole};
use rxce_testsupport::samba::{require_samba, SambaServer};
use serde_json::Value;

fn start() -> SambaServer {
    require_samba();
    SambaServer::start().expect("a private Samba server starts")
}

/// Runs `rxce probe SERVER --direct-port D --netbt-port N EXTRA...`.
fn probe(server: &str, direct: u16, netbt: u16, extra: &[&str]) -> (Option<i32>, String, String) {
    let (direct, netbt) = (direct.to_string(), netbt.to_string());
    let mut args = vec!["probe", server, "--direct-port", &direct, "--netbt-port", &netbt];
    args.extend_from_slice(extra);
    let output = run(&args);
    (
        output.status.code(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

/// The probe table's row for `field`: the field and a value per transport.
fn field(table: &[Vec<String>], name: &str) -> Vec<String> {
    table
        .iter()
        .find(|row| row[0] == name)
        .unwrap_or_else(|| panic!("no {name} row in {table:?}"))
        .clone()
}

fn json(stdout: &str) -> Value {
    assert_eq!(stdout.lines().count(), 1, "one line of JSON: {stdout}");
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

#[test]
fn both_transports_negotiate_with_smbd() {
    let server = start();
    let (code, stdout, stderr) = probe("127.0.0.1", server.direct_port(), server.netbt_port(), &[]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(
        stderr.is_empty(),
        "no spinner or logs when stderr is no terminal: {stderr}"
    );
    let table = rxce_cli::table::cells(&stdout);
    assert_eq!(table[0], ["transport", "tcp", "netbt"]);
    assert_eq!(
        field(&table, "address"),
        [
            "address".to_owned(),
            server.direct_addr().to_string(),
            server.netbt_addr().to_string()
        ]
    );
    assert_eq!(field(&table, "called name"), ["called name", "", "*SMBSERVER<20>"]);
    assert_eq!(field(&table, "status"), ["status", "STATUS_SUCCESS", "STATUS_SUCCESS"]);
    assert_eq!(
        field(&table, "dialect"),
        ["dialect", "0x0311 (SMB 3.1.1)", "0x0311 (SMB 3.1.1)"]
    );
    let guid = field(&table, "server GUID");
    assert_eq!(guid[1], guid[2], "one server behind both transports");
    assert_eq!(guid[1].len(), 36);
    for name in ["connect", "negotiate"] {
        let row = field(&table, name);
        assert!(row[1..].iter().all(|c| c.ends_with(" ms")), "{row:?}");
    }
    for name in ["max read", "max write", "max transact"] {
        let row = field(&table, name);
        assert!(row[1..].iter().all(|c| parse_bytes(c) >= 65_536.0), "{row:?}");
    }
    assert!(field(&table, "capabilities")[1..].iter().all(|c| !c.is_empty()));
    assert!(!table.iter().any(|row| row[0] == "detail"), "nothing failed");
    assert!(
        stdout.starts_with("rxce probe 127.0.0.1 (netbt calls *SMBSERVER<20>)"),
        "{stdout}"
    );
    assert!(
        stdout
            .trim_end()
            .ends_with("winner: tcp (the first of tcp, netbt that negotiated)"),
        "{stdout}"
    );
}

#[test]
fn json_is_one_object_checked_field_by_field() {
    let server = start();
    let (code, stdout, stderr) = probe("127.0.0.1", server.direct_port(), server.netbt_port(), &["--json"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let value = json(&stdout);
    let object = value.as_object().unwrap();
    assert_eq!(object.len(), 3, "{value}");
    assert_eq!(value["server"], "127.0.0.1");
    assert_eq!(value["winner"], "tcp");
    let attempts = value["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2);
    let addresses = [server.direct_addr().to_string(), server.netbt_addr().to_string()];
    for ((attempt, transport), address) in attempts.iter().zip(["tcp", "netbt"]).zip(addresses) {
        assert_eq!(attempt.as_object().unwrap().len(), 5, "{attempt}");
        assert_eq!(attempt["transport"], transport);
        assert_eq!(attempt["address"], address.as_str());
        assert_eq!(attempt["status"], "STATUS_SUCCESS");
        let connect_ms = attempt["connect_ms"].as_f64().unwrap();
        assert!(connect_ms > 0.0 && connect_ms < 5000.0, "{attempt}");
        let negotiate = &attempt["negotiate"];
        assert_eq!(negotiate.as_object().unwrap().len(), 6, "{negotiate}");
        assert_eq!(negotiate["dialect"], "0x0311");
        let guid = negotiate["server_guid"].as_str().unwrap();
        assert_eq!(guid.len(), 36);
        assert_eq!(guid.matches('-').count(), 4);
        for size in ["max_read", "max_write", "max_transact"] {
            assert!(negotiate[size].as_u64().unwrap() >= 65_536, "{size}: {negotiate}");
        }
        let caps = negotiate["capabilities"].as_array().unwrap();
        assert!(caps.iter().any(|c| c == "LARGE_MTU"), "{caps:?}");
    }
    assert_eq!(
        attempts[0]["negotiate"]["server_guid"],
        attempts[1]["negotiate"]["server_guid"]
    );
}

#[test]
fn a_closed_direct_port_is_refused_while_netbt_negotiates() {
    let server = start();
    let closed = closed_port();
    let (code, stdout, stderr) = probe("127.0.0.1", closed.port(), server.netbt_port(), &[]);
    assert_eq!(code, Some(0), "netbt negotiated: {stdout}{stderr}");
    let table = rxce_cli::table::cells(&stdout);
    assert_eq!(
        field(&table, "status"),
        ["status", "STATUS_CONNECTION_REFUSED", "STATUS_SUCCESS"]
    );
    assert_eq!(field(&table, "address")[1], closed.to_string());
    let detail = field(&table, "detail");
    assert!(detail[1].contains("refused"), "{detail:?}");
    assert_eq!(detail[2], "");
    assert_eq!(field(&table, "dialect"), ["dialect", "", "0x0311 (SMB 3.1.1)"]);
    assert!(stdout
        .trim_end()
        .ends_with("winner: netbt (the first of tcp, netbt that negotiated)"));

    let (code, stdout, _) = probe("127.0.0.1", closed.port(), server.netbt_port(), &["--json"]);
    assert_eq!(code, Some(0));
    let value = json(&stdout);
    assert_eq!(value["attempts"][0]["status"], "STATUS_CONNECTION_REFUSED");
    assert_eq!(value["attempts"][0]["negotiate"], Value::Null);
    assert_eq!(value["attempts"][1]["status"], "STATUS_SUCCESS");
    assert_eq!(value["winner"], "netbt");
}

#[test]
fn a_black_hole_ends_within_the_timeout() {
    let hole = BlackHole::new().unwrap();
    let port = hole.addr().port();
    let started = Instant::now();
    let (code, stdout, stderr) = probe("127.0.0.1", port, port, &["--timeout", "800", "--json"]);
    let took = started.elapsed();
    assert_eq!(code, Some(1), "nothing negotiated: {stdout}{stderr}");
    assert!(took >= Duration::from_millis(800), "{took:?}");
    assert!(
        took < Duration::from_millis(800 + 1500),
        "bounded by the timeout: {took:?}"
    );
    let value = json(&stdout);
    for attempt in value["attempts"].as_array().unwrap() {
        assert_eq!(attempt["status"], "STATUS_IO_TIMEOUT", "{attempt}");
        assert_eq!(attempt["negotiate"], Value::Null);
        let connect_ms = attempt["connect_ms"].as_f64().unwrap();
        assert!((790.0..1500.0).contains(&connect_ms), "{attempt}");
    }
    assert_eq!(value["winner"], Value::Null);
}

#[test]
fn a_black_holed_direct_port_does_not_hold_up_netbt() {
    let server = start();
    let hole = BlackHole::new().unwrap();
    let started = Instant::now();
    let (code, stdout, stderr) = probe(
        "127.0.0.1",
        hole.addr().port(),
        server.netbt_port(),
        &["--timeout", "1000"],
    );
    let took = started.elapsed();
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(took < Duration::from_millis(1000 + 1500), "{took:?}");
    let table = rxce_cli::table::cells(&stdout);
    assert_eq!(
        field(&table, "status"),
        ["status", "STATUS_IO_TIMEOUT", "STATUS_SUCCESS"]
    );
}

/// Starts `rxce serve` on tcp+smb and netbt in `mode` and probes it.
fn probe_rxce_serve(mode: &str, timeout: &str) -> (Option<i32>, Value) {
    let served = serve(&[
        "--listen",
        "tcp+smb://127.0.0.1:0",
        "--listen",
        "netbt://127.0.0.1:0",
        "--mode",
        mode,
    ]);
    let (code, stdout, stderr) = probe(
        "127.0.0.1",
        served.addr(0).port(),
        served.addr(1).port(),
        &["--json", "--timeout", timeout],
    );
    assert!(stderr.is_empty(), "{stderr}");
    drop(served.terminate());
    (code, json(&stdout))
}

#[test]
fn a_peer_that_echoes_the_request_gives_an_invalid_network_response() {
    let (code, value) = probe_rxce_serve("echo", "5000");
    assert_eq!(code, Some(1), "{value}");
    for attempt in value["attempts"].as_array().unwrap() {
        assert_eq!(attempt["status"], "STATUS_INVALID_NETWORK_RESPONSE", "{attempt}");
        assert_eq!(attempt["negotiate"], Value::Null);
    }
    assert_eq!(value["winner"], Value::Null);
}

#[test]
fn a_peer_that_never_answers_the_negotiate_times_out() {
    let started = Instant::now();
    let (code, value) = probe_rxce_serve("sink", "600");
    assert!(
        started.elapsed() < Duration::from_millis(600 + 2000),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(code, Some(1), "{value}");
    for attempt in value["attempts"].as_array().unwrap() {
        assert_eq!(attempt["status"], "STATUS_IO_TIMEOUT", "{attempt}");
        assert!(
            attempt["connect_ms"].as_f64().unwrap() < 500.0,
            "connected at once: {attempt}"
        );
    }
}

#[test]
fn a_dns_name_calls_its_first_label_and_a_name_can_be_given() {
    let server = start();
    let (code, stdout, stderr) = probe("localhost", server.direct_port(), server.netbt_port(), &[]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let table = rxce_cli::table::cells(&stdout);
    // smbd accepts any called name, so no *SMBSERVER retry happens.
    assert_eq!(field(&table, "called name")[2], "LOCALHOST<20>");
    assert_eq!(field(&table, "status"), ["status", "STATUS_SUCCESS", "STATUS_SUCCESS"]);
    assert_eq!(field(&table, "address")[2], server.netbt_addr().to_string(), "resolved");

    let name = server.netbios_name().to_owned();
    let (code, stdout, _) = probe(
        "127.0.0.1",
        server.direct_port(),
        server.netbt_port(),
        &["--called-name", &name],
    );
    assert_eq!(code, Some(0));
    let table = rxce_cli::table::cells(&stdout);
    assert_eq!(field(&table, "called name")[2], format!("{name}<20>"));
}
