//! Faults in the network, made in user space (this kernel has no netem):
//! latency and a partition with its repair, through a fault proxy, while
//! the engine sends and reconnects. Loss on a real link is in netns.rs.

mod common;

use std::time::Duration;

use common::*;
use rxce::{DisconnectFlags, EngineConfig, ReconnectPolicy, SendOptions, Status};
use rxce_testsupport::proxy::{Fault, FaultProxy};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_keeps_every_byte_in_order_and_every_send_completes_once() {
    let echo = tcp_echo().await;
    let proxy = FaultProxy::new(echo).unwrap();
    proxy.set(Fault::Latency(Duration::from_millis(15)));
    let engine = engine();
    let (_t, address) = tcp_address(&engine);
    let handler = Recorder::taking_all();
    let (_c, vc) = address
        .build_connection(to(proxy.addr()), handler.clone())
        .await
        .unwrap();
    let mut expected = Vec::new();
    for context in 0..60usize {
        let chunk = pattern(1 + context * 301, context as u8);
        expected.extend_from_slice(&chunk);
        assert_eq!(
            vc.submit_send(chunk, SendOptions::empty(), context).await,
            Status::PENDING
        );
    }
    assert!(
        handler.wait_for_bytes(expected.len()).await == expected,
        "the echo differs"
    );
    let completions = handler.completions();
    assert_eq!(completions.len(), 60);
    assert!(completions
        .iter()
        .enumerate()
        .all(|(i, c)| c.0 == i && c.1 == Status::SUCCESS));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_is_detected_and_the_vc_rebuilt_after_the_repair() {
    let echo = tcp_echo().await;
    let proxy = FaultProxy::new(echo).unwrap();
    let engine = engine_with(EngineConfig {
        dead_peer_timeout: Some(Duration::from_millis(300)),
        ..EngineConfig::default()
    });
    let (_t, address) = tcp_address(&engine);
    let handler = Recorder::taking_all();
    let (connection, first) = address
        .build_connection(to(proxy.addr()), handler.clone())
        .await
        .unwrap();
    connection.set_reconnect_policy(Some(ReconnectPolicy {
        attempts: 100,
        initial_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(100),
    }));
    first.send(&b"before"[..], SendOptions::empty()).await.unwrap();
    handler.wait_for_bytes(6).await;

    proxy.set(Fault::Partition);
    // Data sent into the partition is held, not lost, by the "network".
    first.send(&b"held"[..], SendOptions::empty()).await.unwrap();
    handler
        .wait_for("the dead peer", |e| {
            e.iter().any(|e| matches!(e, Event::Disconnect { .. }))
        })
        .await;
    assert_eq!(
        handler.disconnects(),
        vec![(DisconnectFlags::ABORT, Status::IO_TIMEOUT)]
    );
    // Rebuilds are refused across the partition.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(!handler.events().iter().any(|e| matches!(e, Event::Reconnected { .. })));

    proxy.set(Fault::None);
    handler
        .wait_for("the rebuilt VC", |e| {
            e.iter().any(|e| matches!(e, Event::Reconnected { .. }))
        })
        .await;
    let restored = handler.restored.lock().unwrap()[0].clone();
    let before = handler.stream().len();
    restored
        .send(&b"after the repair"[..], SendOptions::empty())
        .await
        .unwrap();
    let stream = handler.wait_for_bytes(before + 16).await;
    assert!(
        stream.ends_with(b"after the repair"),
        "{:?}",
        String::from_utf8_lossy(&stream)
    );
    assert_eq!(
        handler
            .events()
            .iter()
            .filter(|e| matches!(e, Event::Disconnect { vc, .. } if *vc == first.id()))
            .count(),
        1,
        "one disconnect for the lost VC"
    );
    assert!(!handler
        .events()
        .iter()
        .any(|e| matches!(e, Event::ReconnectFailed { .. })));
}
