//! `rxce probe nfs` against rpcbind and nfs-ganesha, and `rxce probe 9p`
//! against diod: the real binary, table and JSON, and the errors a person
//! can act on (issue 16).
#![cfg(target_os = "linux")] // Linux only: rpcbind, diod and nfs-ganesha from Debian packages

mod common;

use common::*;
use rxce_testsupport::fileservers::{Diod, Ganesha, Rpcbind};
use serde_json::Value;

fn probe(args: &[&str]) -> (Option<i32>, String, String) {
    let mut all = vec!["probe"];
    all.extend_from_slice(args);
    let out = run(&all);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn probe_nfs_finds_ganesha_v3_v4_mountd_and_nlm() {
    let ganesha = Ganesha::start().expect("nfs-ganesha runs");
    let (code, stdout, stderr) = probe(&["nfs", "127.0.0.1", "--json"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let v: Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    assert_eq!(v["rpcbind_status"], "STATUS_SUCCESS");
    let programs = v["programs"].as_array().unwrap();
    let answered = |name: &str, version: u64, transport: &str| {
        programs.iter().any(|p| {
            p["name"] == name && p["version"] == version && p["transport"] == transport && p["reply"] == "SUCCESS"
        })
    };
    for version in [3, 4] {
        assert!(answered("nfs", version, "tcp"), "NFS v{version} over tcp: {stdout}");
        assert!(answered("nfs", version, "udp"), "NFS v{version} over udp: {stdout}");
    }
    assert!(answered("mountd", 3, "tcp"), "{stdout}");
    assert!(programs
        .iter()
        .any(|p| p["name"] == "nfs" && p["port"] == u64::from(ganesha.nfs_port())));
    let (code, table, _) = probe(&["nfs", "127.0.0.1"]);
    assert_eq!(code, Some(0));
    assert!(table.starts_with("rpcbind 127.0.0.1:111: STATUS_SUCCESS"), "{table}");
    assert!(
        table.contains("nfs (100003)") && table.contains("mountd (100005)"),
        "{table}"
    );
    println!("{table}\n{stdout}");
}

#[test]
fn probe_nfs_without_an_rpcbind_is_refused_by_name() {
    let closed = rxce_testsupport::peers::closed_port().port().to_string();
    let (code, stdout, _) = probe(&["nfs", "127.0.0.1", "--rpcbind-port", &closed]);
    assert_eq!(code, Some(1));
    assert!(stdout.contains("STATUS_CONNECTION_REFUSED"), "{stdout}");
}

#[test]
fn probe_nfs_on_a_bare_rpcbind_says_program_not_registered() {
    // Only when this process owns rpcbind can it know nothing else is
    // registered.
    let rpcbind = Rpcbind::shared().expect("rpcbind runs");
    if !rpcbind.started_here() {
        return;
    }
    let (code, stdout, _) = probe(&["nfs", "127.0.0.1"]);
    if stdout.contains('│') {
        return; // a ganesha of another test registered (part of) its programs meanwhile
    }
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("program not registered"), "{stdout}");
}

#[test]
fn probe_9p_reports_diod_s_version_msize_and_root() {
    let diod = Diod::start().expect("diod runs");
    let server = diod.addr().to_string();
    let export = diod.export().to_str().unwrap().to_owned();
    let (code, stdout, stderr) = probe(&["9p", &server, "--attach", &export, "--json"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let v: Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    assert_eq!(v["status"], "STATUS_SUCCESS");
    assert_eq!(v["version"], "9P2000.L");
    assert_eq!(v["msize"], 65536);
    assert_eq!(v["offers"][0]["offered"], "9P2000.L");
    assert_eq!(v["attach_result"], "SUCCESS");
    assert_eq!(v["root_qid"][0], 0x80, "the root is a directory");
    let (code, table, _) = probe(&["9p", &server, "--attach", &export]);
    assert_eq!(code, Some(0));
    assert!(table.contains("9P2000.L msize 65536"), "{table}");
    println!("{table}\n{stdout}");
    // An attach the server refuses: its error by name, exit 1.
    let (code, stdout, _) = probe(&["9p", &server, "--attach", "/no/such/tree"]);
    assert_eq!(code, Some(1));
    assert!(stdout.contains("Rlerror"), "{stdout}");
}

#[test]
fn probe_9p_to_a_closed_port_is_refused_and_bad_arguments_are_usage_errors() {
    let closed = rxce_testsupport::peers::closed_port().to_string();
    let (code, stdout, _) = probe(&["9p", &closed]);
    assert_eq!(code, Some(1));
    assert!(stdout.contains("STATUS_CONNECTION_REFUSED"), "{stdout}");
    let (code, _, stderr) = probe(&["gopher", "127.0.0.1"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("unknown protocol"), "{stderr}");
}
