//! Sends: both modes, every option, order, buffer chains, the bounded queue.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use rxce::{EngineConfig, SendBuffers, SendOptions, Status, TransportAddress};
use tokio::io::AsyncReadExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_synchronous_send_returns_once_the_bytes_are_handed_over() {
    let engine = engine();
    let (_c, vc, mut peer) = tcp_vc(&engine, "tcp", Recorder::taking_all()).await;
    let data = pattern(300_000, 1);
    let sent = vc.send(data.clone(), SendOptions::SYNCHRONOUS).await.unwrap();
    assert_eq!(sent, data.len());
    assert_eq!(read_n(&mut peer, data.len()).await, data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asynchronous_sends_pend_then_complete_once_each_in_order() {
    let engine = engine();
    let handler = Recorder::taking_all();
    let (_c, vc, mut peer) = tcp_vc(&engine, "tcp", handler.clone()).await;
    let mut expected = Vec::new();
    for context in 1..=50usize {
        let chunk = pattern(context * 997, context as u8);
        expected.extend_from_slice(&chunk);
        assert_eq!(
            vc.submit_send(chunk, SendOptions::empty(), context).await,
            Status::PENDING
        );
    }
    assert_eq!(read_n(&mut peer, expected.len()).await, expected);
    let events = handler
        .wait_for("50 completions", |e| {
            e.iter().filter(|e| matches!(e, Event::SendComplete { .. })).count() == 50
        })
        .await;
    let mut submitted = Vec::new();
    let mut completed = Vec::new();
    for event in &events {
        match event {
            Event::SendSubmitted { context, status, .. } => {
                assert_eq!(*status, Status::PENDING);
                assert!(!completed.contains(context), "submitted before completed");
                submitted.push(*context);
            }
            Event::SendComplete {
                context, status, bytes, ..
            } => {
                assert_eq!(*status, Status::SUCCESS);
                assert_eq!(*bytes, context * 997);
                completed.push(*context);
            }
            _ => {}
        }
    }
    let in_order: Vec<usize> = (1..=50).collect();
    assert_eq!(submitted, in_order);
    assert_eq!(completed, in_order);
    // Exactly once: nothing more arrives.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(handler.completions().len(), 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buffer_chain_goes_out_as_one_tsdu_in_order() {
    let engine = engine();
    let (_c, vc, mut peer) = tcp_vc(&engine, "tcp", Recorder::taking_all()).await;
    let mut chain = SendBuffers::new();
    for i in 0..100u8 {
        chain.push(Bytes::from(vec![i; 1 + i as usize]));
    }
    chain.push(Bytes::new());
    let len = chain.len();
    assert_eq!(vc.send(chain, SendOptions::empty()).await.unwrap(), len);
    let got = read_n(&mut peer, len).await;
    let want: Vec<u8> = (0..100u8).flat_map(|i| vec![i; 1 + i as usize]).collect();
    assert_eq!(got, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_senders_never_interleave_their_tsdus() {
    let engine = engine();
    let (_c, vc, mut peer) = tcp_vc(&engine, "tcp", Recorder::taking_all()).await;
    let mut tasks = Vec::new();
    for sender in 0..8u8 {
        let vc = vc.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..20 {
                vc.send(vec![sender; 10_000], SendOptions::empty()).await.unwrap();
            }
        }));
    }
    let got = read_n(&mut peer, 8 * 20 * 10_000).await;
    for task in tasks {
        task.await.unwrap();
    }
    for tsdu in got.chunks(10_000) {
        assert!(tsdu.iter().all(|b| *b == tsdu[0]), "a TSDU was split by another");
    }
}

/// A memory VC whose peer does not read (yet): the pipe fills, then sends
/// queue up in the engine.
async fn stalled_memory_vc(
    config: EngineConfig,
) -> (
    rxce::Engine,
    rxce::Vc,
    std::sync::Arc<Recorder>,
    rxce::provider::MemoryStream,
) {
    let engine = engine_with(config);
    let mut listener = engine.memory_listen("server").unwrap();
    let (_t, address) = memory_address(&engine, "client");
    let handler = Recorder::taking_all();
    let (_c, vc) = address
        .build_connection(
            rxce::ConnectionInformation::to(TransportAddress::memory("server")),
            handler.clone(),
        )
        .await
        .unwrap();
    let peer = listener.accept().await.unwrap();
    // Fill the 256 KiB pipe so the engine's queue is what holds later sends.
    vc.send(vec![0xEE; 256 * 1024], SendOptions::empty()).await.unwrap();
    (engine, vc, handler, peer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expedited_sends_pass_queued_normal_ones() {
    let (_engine, vc, handler, mut peer) = stalled_memory_vc(EngineConfig::default()).await;
    assert_eq!(
        vc.submit_send(&b"AAAA"[..], SendOptions::empty(), 1).await,
        Status::PENDING
    );
    assert_eq!(
        vc.submit_send(&b"BBBB"[..], SendOptions::empty(), 2).await,
        Status::PENDING
    );
    assert_eq!(
        vc.submit_send(&b"XX"[..], SendOptions::EXPEDITED, 3).await,
        Status::PENDING
    );
    let mut filler = vec![0u8; 256 * 1024];
    peer.read_exact(&mut filler).await.unwrap();
    assert_eq!(read_n(&mut peer, 10).await, b"XXAAAABBBB");
    handler
        .wait_for("three completions", |e| {
            e.iter().filter(|e| matches!(e, Event::SendComplete { .. })).count() == 3
        })
        .await;
    let order: Vec<usize> = handler.completions().iter().map(|c| c.0).collect();
    assert_eq!(order, vec![3, 1, 2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_blocking_sends_get_device_not_ready_then_send_possible() {
    let (_engine, vc, handler, mut peer) = stalled_memory_vc(EngineConfig {
        send_queue_limit: 64 * 1024,
        ..EngineConfig::default()
    })
    .await;
    let mut accepted = 0;
    let refusal = loop {
        let status = vc.try_submit_send(vec![1u8; 16 * 1024], SendOptions::NON_BLOCKING, accepted);
        if status != Status::PENDING {
            break status;
        }
        accepted += 1;
        assert!(accepted < 100, "the queue is bounded");
    };
    assert_eq!(refusal, Status::DEVICE_NOT_READY);
    assert!(refusal.to_string().contains("non-blocking"), "{refusal}");
    assert_eq!(accepted, 4, "64 KiB of 16 KiB sends");
    let sync_refusal = vc
        .send(vec![1u8; 16 * 1024], SendOptions::NON_BLOCKING)
        .await
        .unwrap_err();
    assert_eq!(sync_refusal, Status::DEVICE_NOT_READY);
    // Refused sends call nothing.
    assert!(handler
        .events()
        .iter()
        .all(|e| !matches!(e, Event::SendSubmitted { context, .. } if *context >= accepted)));
    let mut drained = vec![0u8; 256 * 1024 + 16 * 1024];
    peer.read_exact(&mut drained).await.unwrap();
    let events = handler
        .wait_for("send possible", |e| {
            e.iter().any(|e| matches!(e, Event::SendPossible { .. }))
        })
        .await;
    let room = events
        .iter()
        .find_map(|e| match e {
            Event::SendPossible { bytes, .. } => Some(*bytes),
            _ => None,
        })
        .unwrap();
    assert!(room > 0 && room <= 64 * 1024, "{room}");
    assert_eq!(
        vc.try_submit_send(vec![1u8; 1024], SendOptions::NON_BLOCKING, 999),
        Status::PENDING
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_blocking_partial_sends_take_what_fits() {
    let (_engine, vc, _handler, mut peer) = stalled_memory_vc(EngineConfig {
        send_queue_limit: 10_000,
        ..EngineConfig::default()
    })
    .await;
    assert_eq!(
        vc.submit_send(vec![2u8; 6_000], SendOptions::empty(), 1).await,
        Status::PENDING
    );
    let sent = vc.send(pattern(9_000, 3), SendOptions::NON_BLOCKING | SendOptions::PARTIAL);
    let mut filler = vec![0u8; 256 * 1024 + 6_000];
    let reader = async {
        peer.read_exact(&mut filler).await.unwrap();
        read_n(&mut peer, 4_000).await
    };
    let (sent, got) = tokio::join!(sent, reader);
    assert_eq!(sent.unwrap(), 4_000, "the room left under the bound");
    assert_eq!(got, pattern(4_000, 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocking_send_waits_for_room_and_completes_when_the_peer_reads() {
    let (_engine, vc, _handler, mut peer) = stalled_memory_vc(EngineConfig {
        send_queue_limit: 10_000,
        ..EngineConfig::default()
    })
    .await;
    assert_eq!(
        vc.submit_send(vec![4u8; 9_000], SendOptions::empty(), 1).await,
        Status::PENDING
    );
    let blocked = tokio::spawn({
        let vc = vc.clone();
        async move { vc.send(vec![5u8; 5_000], SendOptions::NO_RESPONSE_EXPECTED).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!blocked.is_finished(), "no room: the sender waits");
    let mut all = vec![0u8; 256 * 1024 + 14_000];
    peer.read_exact(&mut all).await.unwrap();
    assert_eq!(blocked.await.unwrap().unwrap(), 5_000);
    assert!(all[256 * 1024..256 * 1024 + 9_000].iter().all(|b| *b == 4));
    assert!(all[256 * 1024 + 9_000..].iter().all(|b| *b == 5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_sends_are_invalid_parameters_and_call_nothing() {
    let engine = engine();
    let echo = tcp_echo().await;
    let (_t, address) = tcp_address(&engine);
    let handler = Recorder::taking_all();
    let (_c, vc) = address.build_connection(to(echo), handler.clone()).await.unwrap();
    let empty = vc.send(SendBuffers::new(), SendOptions::empty()).await.unwrap_err();
    assert_eq!(empty, Status::INVALID_PARAMETER);
    let unknown = vc
        .send(&b"x"[..], SendOptions::from_bits_retain(0x4))
        .await
        .unwrap_err();
    assert_eq!(unknown, Status::INVALID_PARAMETER);
    assert_eq!(
        vc.submit_send(SendBuffers::new(), SendOptions::empty(), 5).await,
        Status::INVALID_PARAMETER
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(handler.events().is_empty(), "{:?}", handler.events());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn framed_sends_carry_the_direct_hosted_header() {
    let engine = engine();
    let (listener, addr) = tcp_listener().await;
    let transport = engine.build_transport("tcp+smb", 0).unwrap();
    let address = transport
        .build_address(TransportAddress::any_ipv4(), std::sync::Arc::new(rxce::NoEvents))
        .unwrap();
    let (_c, vc) = address
        .build_connection(to(addr), Recorder::taking_all())
        .await
        .unwrap();
    let (mut peer, _) = listener.accept().await.unwrap();
    vc.send(&b"SMB"[..], SendOptions::empty()).await.unwrap();
    vc.send(SendBuffers::new(), SendOptions::empty()).await.unwrap();
    assert_eq!(read_n(&mut peer, 11).await, b"\0\0\0\x03SMB\0\0\0\0");
    let too_long = vc.send(vec![0u8; 0x100_0000], SendOptions::empty()).await.unwrap_err();
    assert_eq!(too_long, Status::INVALID_PARAMETER);
}
