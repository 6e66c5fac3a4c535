//! No write of the engine raises SIGPIPE in its host. A Rust test binary
//! ignores SIGPIPE (as every Rust program does), which would hide the
//! signal, so each test runs itself again in a child process that gives
//! SIGPIPE back its default disposition — as in a C host, where the signal
//! ends the process with status 141 — and sends to a peer that went away.
//! The child must exit normally, every send refused with a status.
#![cfg(unix)] // Unix only: Windows has no SIGPIPE

mod common;

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use rxce::{ConnectionInformation, NoEvents, SendOptions, Status, TaAddress, TransportAddress, Vc};

/// Set in the child process.
const CHILD: &str = "RXCE_SIGPIPE_CHILD";

/// In the test process: runs test `name` again in a child with SIGPIPE's
/// default disposition and checks that it passed, and returns false. In the
/// child: restores the default disposition and returns true (run the test).
fn in_child_with_default_sigpipe(name: &str) -> bool {
    if std::env::var_os(CHILD).is_some() {
        // SAFETY: called before the test starts any thread of its own;
        // SIG_DFL is a valid disposition for SIGPIPE.
        let previous = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
        assert_ne!(previous, libc::SIG_ERR);
        return true;
    }
    let output = Command::new(std::env::current_exe().expect("the test binary"))
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .expect("running the child");
    print!("{}", String::from_utf8_lossy(&output.stdout));
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        output.status.signal(),
        None,
        "the child was killed by a signal (13 is SIGPIPE)"
    );
    assert!(output.status.success(), "the child failed: {}", output.status);
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("1 passed"),
        "the child did not run the test"
    );
    false
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Sends 64 KiB at a time until a send fails (at most 200 times, a few ms
/// apart); returns that failure.
async fn send_until_refused(vc: &Vc) -> Status {
    let data = pattern(64 * 1024, 1);
    for _ in 0..200 {
        if let Err(status) = vc.send(data.clone(), SendOptions::empty()).await {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("200 sends to a peer that went away all succeeded");
}

fn assert_refused(status: &Status) {
    println!("refused with {status}");
    assert!(
        *status == Status::CONNECTION_RESET || *status == Status::CONNECTION_DISCONNECTED,
        "{status}"
    );
}

async fn tcp_peer_leaves(reset: bool) {
    let engine = engine();
    let (_connection, vc, peer) = tcp_vc(&engine, "tcp", Recorder::taking_all()).await;
    if reset {
        socket2::SockRef::from(&peer).set_linger(Some(Duration::ZERO)).unwrap();
    }
    drop(peer);
    assert_refused(&send_until_refused(&vc).await);
}

#[test]
fn a_tcp_send_after_the_peer_closed_raises_no_sigpipe() {
    if in_child_with_default_sigpipe("a_tcp_send_after_the_peer_closed_raises_no_sigpipe") {
        runtime().block_on(tcp_peer_leaves(false));
    }
}

#[test]
fn a_tcp_send_after_the_peer_reset_raises_no_sigpipe() {
    if in_child_with_default_sigpipe("a_tcp_send_after_the_peer_reset_raises_no_sigpipe") {
        runtime().block_on(tcp_peer_leaves(true));
    }
}

#[test]
fn a_unix_send_after_the_peer_closed_raises_no_sigpipe() {
    if !in_child_with_default_sigpipe("a_unix_send_after_the_peer_closed_raises_no_sigpipe") {
        return;
    }
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gone.sock");
        let listener = tokio::net::UnixListener::bind(&path).unwrap();
        let engine = engine();
        let unix = |name: &[u8]| TransportAddress::new(TaAddress::Unix(name.to_vec()));
        let address = engine
            .build_transport("unix", 0)
            .unwrap()
            .build_address(unix(b""), Arc::new(NoEvents))
            .unwrap();
        let remote = ConnectionInformation::to(unix(path.as_os_str().as_encoded_bytes()));
        let (_connection, vc) = address.build_connection(remote, Recorder::taking_all()).await.unwrap();
        drop(listener.accept().await.unwrap());
        assert_refused(&send_until_refused(&vc).await);
    });
}

#[test]
fn datagrams_to_a_closed_port_raise_no_sigpipe() {
    if !in_child_with_default_sigpipe("datagrams_to_a_closed_port_raise_no_sigpipe") {
        return;
    }
    runtime().block_on(async {
        let closed = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = ConnectionInformation::to(closed.local_addr().unwrap());
        drop(closed);
        let engine = engine();
        let address = engine
            .build_transport("udp", 0)
            .unwrap()
            .build_address(TransportAddress::ip("127.0.0.1:0".parse().unwrap()), Arc::new(NoEvents))
            .unwrap();
        let mut refused = 0;
        for _ in 0..20 {
            if address
                .send_datagram(&to, &b"anyone?"[..], SendOptions::empty())
                .await
                .is_err()
            {
                refused += 1;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        println!("{refused} of 20 datagrams refused (ICMP port unreachable)");
    });
}
