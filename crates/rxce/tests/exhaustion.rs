//! Resource exhaustion: the engine's budget, the process's descriptor limit,
//! and ten thousand connections built and torn down with no growth. One test
//! in its own binary: it lowers the process's descriptor limit and counts
//! descriptors and resident memory, which other tests beside it would
//! disturb.
#![cfg(target_os = "linux")] // Linux only: counts descriptors in /proc/self/fd and memory in /proc/self/status

mod common;

use std::time::Duration;

use common::*;
use rxce::{ConnectionInformation, EngineConfig, SendOptions, Status, TransportAddress};
use rxce_testsupport::fds::open_fd_count;

fn resident_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status")
}

fn set_fd_limit(soft: u64) -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid, writable struct.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        let old = limit.rlim_cur;
        limit.rlim_cur = soft;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
        old
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_survives_every_kind_of_exhaustion() {
    // 1. A budget that fills: builds fail cleanly, and work again once
    //    connections are torn down.
    let engine = engine_with(EngineConfig {
        budget_bytes: 64 * 1024,
        receive_buffer_size: 4096,
        ..EngineConfig::default()
    });
    let mut listener = engine.memory_listen("peer").unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Some(stream) = listener.accept().await {
            held.push(stream);
        }
    });
    let (_t, address) = memory_address(&engine, "client");
    let remote = ConnectionInformation::to(TransportAddress::memory("peer"));
    let mut built = Vec::new();
    let refusal = loop {
        match address.build_connection(remote.clone(), Recorder::taking_all()).await {
            Ok(pair) => built.push(pair),
            Err(status) => break status,
        }
        assert!(built.len() < 1000, "the budget is bounded");
    };
    assert_eq!(refusal, Status::INSUFFICIENT_RESOURCES);
    assert!(!built.is_empty());
    assert!(engine.budget_in_use() <= engine.budget_limit());
    for (connection, _) in built.drain(..) {
        connection.tear_down().await.unwrap();
    }
    let (connection, vc) = address
        .build_connection(remote.clone(), Recorder::taking_all())
        .await
        .unwrap();
    vc.send(&b"after"[..], SendOptions::empty()).await.unwrap();
    connection.tear_down().await.unwrap();
    drop((connection, vc));
    // What stays charged: the transport (1 KiB) and the address (512 B).
    assert_eq!(engine.budget_in_use(), 1024 + 512);

    // 2. Ten thousand connections built and torn down: no growth in
    //    memory or descriptors.
    let engine = common::engine();
    let mut listener = engine.memory_listen("churn").unwrap();
    tokio::spawn(async move {
        while let Some(mut stream) = listener.accept().await {
            // Reads everything until the client's end, then closes.
            tokio::spawn(async move { tokio::io::copy(&mut stream, &mut tokio::io::sink()).await });
        }
    });
    let (_t, address) = memory_address(&engine, "client");
    let remote = ConnectionInformation::to(TransportAddress::memory("churn"));
    let (tcp_listener, tcp_addr) = tcp_listener().await;
    tokio::spawn(async move {
        while let Ok((stream, _)) = tcp_listener.accept().await {
            drop(stream);
        }
    });
    let (_tcp_t, tcp_address) = tcp_address(&engine);
    let churn = |rounds: usize| {
        let address = address.clone();
        let tcp_address = tcp_address.clone();
        let remote = remote.clone();
        async move {
            for round in 0..rounds {
                let (connection, vc) = address
                    .build_connection(remote.clone(), Recorder::taking_all())
                    .await
                    .unwrap();
                vc.send(vec![round as u8; 100], SendOptions::empty()).await.unwrap();
                connection.tear_down().await.unwrap();
                if round % 5 == 0 {
                    let (connection, _vc) = tcp_address
                        .build_connection(to(tcp_addr), Recorder::taking_all())
                        .await
                        .unwrap();
                    connection.tear_down().await.unwrap();
                }
            }
        }
    };
    churn(1000).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (rss_before, fds_before) = (resident_kib(), open_fd_count());
    let started = std::time::Instant::now();
    churn(10_000).await;
    let elapsed = started.elapsed();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (rss_after, fds_after) = (resident_kib(), open_fd_count());
    eprintln!(
        "churn: 10,000 memory + 2,000 tcp connections in {elapsed:?}; RSS {rss_before} -> {rss_after} KiB; fds {fds_before} -> {fds_after}"
    );
    assert_eq!(engine.live_objects().connections, 0);
    assert!(
        fds_after <= fds_before + 2,
        "descriptors grew: {fds_before} -> {fds_after}"
    );
    assert!(
        rss_after <= rss_before + 2048,
        "memory grew: {rss_before} -> {rss_after} KiB"
    );

    // 3. The process's descriptor limit: connects fail with
    //    INSUFFICIENT_RESOURCES, and work again when descriptors free up.
    let quiet = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let target = quiet.local_addr().unwrap();
    let old = set_fd_limit(open_fd_count() as u64 + 30);
    let mut held = Vec::new();
    let refusal = loop {
        match tcp_address.build_connection(to(target), Recorder::taking_all()).await {
            Ok(pair) => held.push(pair),
            Err(status) => break status,
        }
        assert!(held.len() < 100, "the limit is 30 more descriptors");
    };
    assert_eq!(refusal, Status::INSUFFICIENT_RESOURCES, "{refusal}");
    assert!(refusal.to_string().contains("Too many open files"), "{refusal}");
    for (connection, _) in held.drain(..).take(5) {
        connection.tear_down().await.unwrap();
    }
    let again = tcp_address.build_connection(to(target), Recorder::taking_all()).await;
    assert!(again.is_ok(), "{:?}", again.err());
    drop(again);
    for (connection, _) in held {
        connection.tear_down().await.unwrap();
    }
    set_fd_limit(old);
}
