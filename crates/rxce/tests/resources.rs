//! Descriptors, budget and live objects come back after tear-down. The only
//! test of this binary: it counts the process's descriptors, which other
//! tests running beside it would disturb.
#![cfg(target_os = "linux")] // Linux only: counts descriptors in /proc/self/fd

mod common;

use common::*;
use rxce::{LiveObjects, SendOptions};
use rxce_testsupport::fds::open_fd_count;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn building_and_tearing_down_returns_every_descriptor_and_byte() {
    let engine = engine();
    let echo = tcp_echo().await;
    // Warm up: the runtime and the echo peer open what they keep.
    {
        let (transport, address) = tcp_address(&engine);
        let (_c, vc) = address
            .build_connection(to(echo), Recorder::taking_all())
            .await
            .unwrap();
        vc.send(&b"warm"[..], SendOptions::empty()).await.unwrap();
        transport.tear_down().await.unwrap();
    }
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let fds_before = open_fd_count();
    let budget_before = engine.budget_in_use();
    for round in 0..10 {
        let (transport, address) = tcp_address(&engine);
        let mut held = Vec::new();
        for _ in 0..20 {
            let handler = Recorder::taking_all();
            let (connection, vc) = address.build_connection(to(echo), handler.clone()).await.unwrap();
            let second = connection.build_vc().await.unwrap();
            vc.send(pattern(1000, round), SendOptions::empty()).await.unwrap();
            second.send(pattern(1000, round), SendOptions::empty()).await.unwrap();
            handler.wait_for_bytes(2000).await;
            held.push(connection);
        }
        assert_eq!(engine.live_objects().vcs, 40);
        assert!(open_fd_count() >= fds_before + 40);
        // Half by connection, the rest with the transport.
        for connection in held.iter().take(10) {
            connection.tear_down().await.unwrap();
        }
        transport.tear_down().await.unwrap();
        drop((held, address, transport));
        assert_eq!(engine.live_objects(), LiveObjects::default());
        assert_eq!(engine.budget_in_use(), budget_before);
    }
    // A race's losers close their sockets before the build returns.
    let hole = rxce_testsupport::peers::BlackHole::new().unwrap();
    let addresses: Vec<rxce::Address> = (0..3).map(|_| tcp_address(&engine).1).collect();
    // A listener that never accepts: the winner's connection completes in
    // its backlog and adds no descriptor of the peer's to this process.
    let quiet = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let remotes = [
        to(hole.addr()),
        to(rxce_testsupport::peers::closed_port()),
        to(quiet.local_addr().unwrap()),
    ];
    let before_race = open_fd_count();
    let built = rxce::build_connection_over_multiple_transports(
        &addresses,
        &remotes,
        Recorder::taking_all(),
        &rxce::MultiConnectOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(built.address_index, 2);
    assert_eq!(
        open_fd_count(),
        before_race + 1,
        "only the winner's socket is open when the build returns"
    );
    for address in &addresses {
        address.transport().tear_down().await.unwrap();
    }
    drop((built, addresses, quiet, hole));
    // The echo peer closes its side once it reads our end.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while open_fd_count() != fds_before {
        assert!(
            std::time::Instant::now() < deadline,
            "descriptors: {} before, {} after",
            fds_before,
            open_fd_count()
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
