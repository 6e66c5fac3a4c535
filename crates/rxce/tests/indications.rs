//! Receive indications end to end: the three answers, framed messages,
//! query information, and a property test of the whole byte stream.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use proptest::prelude::*;
use rxce::{
    BufferChain, ConnectionInformation, DisconnectFlags, EngineConfig, Information, InformationClass, ReceiveAnswer,
    ReceiveFlags, SendOptions, Status, TransportAddress,
};
use tokio::io::AsyncWriteExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_processing_lands_a_large_payload_in_the_client_buffer() {
    let engine = engine();
    let (listener, addr) = tcp_listener().await;
    let (_t, address) = tcp_address(&engine);
    // An application protocol: a 4-byte big-endian length, then the payload.
    let handler = Recorder::answering(|_, ind| {
        if ind.data.len() < 4 {
            return ReceiveAnswer::Taken(0);
        }
        let len = u32::from_be_bytes(ind.data[..4].try_into().unwrap()) as usize;
        ReceiveAnswer::MoreProcessingRequired {
            taken: 4,
            buffer: Box::new(vec![0u8; len]),
            size: len,
        }
    });
    let (_c, _vc) = address.build_connection(to(addr), handler.clone()).await.unwrap();
    let (mut peer, _) = listener.accept().await.unwrap();
    let payload = pattern(3 * 1024 * 1024 + 17, 9);
    let mut wire = (payload.len() as u32).to_be_bytes().to_vec();
    wire.extend_from_slice(&payload);
    write_all(&mut peer, &wire).await;
    let events = handler
        .wait_for("data ready", |e| e.iter().any(|e| matches!(e, Event::DataReady { .. })))
        .await;
    let ready: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::DataReady {
                data, copied, status, ..
            } => Some((data, copied, status)),
            _ => None,
        })
        .collect();
    assert_eq!(ready.len(), 1);
    assert_eq!(*ready[0].1, payload.len());
    assert_eq!(*ready[0].2, Status::SUCCESS);
    assert!(ready[0].0 == &payload, "the payload arrived intact");
    let indications = events.iter().filter(|e| matches!(e, Event::Received { .. })).count();
    assert_eq!(indications, 1, "one indication, then straight into the buffer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multi_segment_client_buffer_is_filled_in_order() {
    let engine = engine();
    let echo = tcp_echo().await;
    let (_t, address) = tcp_address(&engine);
    let used = Arc::new(AtomicUsize::new(0));
    let handler = Recorder::answering({
        let used = used.clone();
        move |_, _| {
            if used.fetch_add(1, Ordering::SeqCst) == 0 {
                ReceiveAnswer::MoreProcessingRequired {
                    taken: 1,
                    buffer: Box::new(BufferChain::with_lengths(&[3, 1, 0, 100_000])),
                    size: 50_000,
                }
            } else {
                ReceiveAnswer::Taken(usize::MAX)
            }
        }
    });
    let (_c, vc) = address.build_connection(to(echo), handler.clone()).await.unwrap();
    let data = pattern(60_000, 4);
    vc.send(data.clone(), SendOptions::empty()).await.unwrap();
    assert_eq!(handler.wait_for_bytes(60_000).await, data);
    let ready = handler
        .events()
        .into_iter()
        .find_map(|e| match e {
            Event::DataReady { data, status, .. } => Some((data, status)),
            _ => None,
        })
        .unwrap();
    assert_eq!(ready.0, data[1..50_001].to_vec());
    assert_eq!(ready.1, Status::SUCCESS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_accepted_holds_the_bytes_applies_backpressure_and_resume_replays_them() {
    let engine = engine();
    let handler = Recorder::answering(|_, _| ReceiveAnswer::NotAccepted);
    let (_c, vc, mut peer) = memory_vc(&engine, handler.clone()).await;
    // More than the engine's lookahead plus the pipe can hold: the peer's
    // write stalls while the client does not accept.
    let data = pattern(600 * 1024, 5);
    let writer = tokio::spawn({
        let data = data.clone();
        async move {
            peer.write_all(&data).await.unwrap();
            peer
        }
    });
    handler
        .wait_for("the first indication", |e| {
            e.iter().any(|e| matches!(e, Event::Received { .. }))
        })
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(handler.events().len(), 1, "no more indications while not accepted");
    assert!(!writer.is_finished(), "the peer is held back");
    handler.set_answer(|_, ind| ReceiveAnswer::take_all(ind));
    vc.resume_receive().unwrap();
    assert_eq!(handler.wait_for_bytes(data.len()).await, data);
    let _peer = writer.await.unwrap();
    let events = handler.events();
    match (&events[0], &events[1]) {
        (Event::Received { data: first, .. }, Event::Received { data: again, flags, .. }) => {
            assert_eq!(first, again, "the same bytes, indicated again");
            assert!(flags.contains(ReceiveFlags::FORCE_INDICATION));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn framed_messages_trickled_byte_by_byte_arrive_whole() {
    let engine = engine();
    let handler = Recorder::taking_all();
    let (_c, _vc, mut peer) = tcp_vc(&engine, "tcp+smb", handler.clone()).await;
    peer.set_nodelay(true).unwrap();
    let mut wire = Vec::new();
    for message in [&b"negotiate"[..], b"", b"x", &pattern(5000, 1)] {
        wire.extend_from_slice(&(message.len() as u32).to_be_bytes());
        wire.extend_from_slice(message);
    }
    for byte in &wire[..40] {
        peer.write_all(&[*byte]).await.unwrap();
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    peer.write_all(&wire[40..]).await.unwrap();
    let events = handler
        .wait_for("three messages", |e| {
            e.iter().filter(|e| matches!(e, Event::Received { .. })).count() == 3
        })
        .await;
    let messages: Vec<(Vec<u8>, usize, ReceiveFlags)> = events
        .into_iter()
        .filter_map(|e| match e {
            Event::Received {
                data, available, flags, ..
            } => Some((data, available, flags)),
            _ => None,
        })
        .collect();
    let whole = ReceiveFlags::NORMAL | ReceiveFlags::ENTIRE_MESSAGE;
    assert_eq!(messages[0], (b"negotiate".to_vec(), 9, whole));
    assert_eq!(messages[1], (b"x".to_vec(), 1, whole));
    assert_eq!(messages[2], (pattern(5000, 1), 5000, whole));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_information_reports_every_class_with_real_counters() {
    let engine = engine();
    let echo = tcp_echo().await;
    let (_t, address) = tcp_address(&engine);
    let handler = Recorder::taking_all();
    let info = to(echo);
    let (_c, vc) = address.build_connection(info.clone(), handler.clone()).await.unwrap();
    for size in [10, 20, 30] {
        vc.send(vec![7u8; size], SendOptions::empty()).await.unwrap();
    }
    handler.wait_for_bytes(60).await;
    match vc.query_information(InformationClass::TransportProvider).unwrap() {
        Information::TransportProvider(p) => assert_eq!(p.version, 0x0200),
        other => panic!("{other:?}"),
    }
    match vc.query_information(InformationClass::Connection).unwrap() {
        Information::Connection(c) => assert_eq!(c, info),
        other => panic!("{other:?}"),
    }
    match vc.query_information(InformationClass::RemoteAddress).unwrap() {
        Information::RemoteAddress(a) => {
            assert_eq!(a.address, TransportAddress::ip(echo));
            assert_eq!(a.activity_count, 1);
        }
        other => panic!("{other:?}"),
    }
    // Counters are published right after each indication returns.
    let mut endpoint = vc.query_information(InformationClass::ConnectionEndpoint).unwrap();
    for _ in 0..100 {
        if matches!(&endpoint, Information::ConnectionEndpoint(e) if e.received_tsdus > 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        endpoint = vc.query_information(InformationClass::ConnectionEndpoint).unwrap();
    }
    match endpoint {
        Information::ConnectionEndpoint(e) => {
            assert_eq!(e.state, rxce::VcState::Active as u32);
            assert_eq!(e.transmitted_tsdus, 3);
            assert!(e.received_tsdus >= 1 && e.received_tsdus <= 3, "{}", e.received_tsdus);
            assert_eq!((e.transmission_errors, e.receive_errors), (0, 0));
            assert!(e.send_buffer_size > 0 && e.receive_buffer_size > 0);
            assert!(e.delay < 0, "the kernel's RTT as a negative 100 ns count: {}", e.delay);
            assert!(e.throughput > 0);
            assert!(!e.unreliable);
        }
        other => panic!("{other:?}"),
    }
}

/// What the property-test client does with each indication.
#[derive(Debug, Clone)]
enum Choice {
    TakeAll,
    Take(usize),
    More(usize, Vec<usize>),
    RejectThenResume,
}

fn choice() -> impl Strategy<Value = Choice> {
    prop_oneof![
        3 => Just(Choice::TakeAll),
        3 => (0usize..3000).prop_map(Choice::Take),
        2 => ((0usize..100), proptest::collection::vec(0usize..40_000, 1..4)).prop_map(|(t, s)| Choice::More(t, s)),
        1 => Just(Choice::RejectThenResume),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Over a real engine and the memory transport: whatever the handler
    /// answers, it rebuilds exactly the bytes the peer sent, in order.
    #[test]
    fn the_receiver_rebuilds_exactly_the_bytes_sent(
        sizes in proptest::collection::vec(1usize..100_000, 1..8),
        choices in proptest::collection::vec(choice(), 1..6),
    ) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(async move {
            let engine = engine_with(EngineConfig { receive_buffer_size: 4096, ..EngineConfig::default() });
            let mut listener = engine.memory_listen("peer").unwrap();
            let (_t, address) = memory_address(&engine, "me");
            let next = Arc::new(Mutex::new(0usize));
            let resume_me: Arc<Mutex<Option<rxce::Vc>>> = Arc::new(Mutex::new(None));
            let handler = Recorder::answering({
                let next = next.clone();
                let resume_me = resume_me.clone();
                move |vc, ind| {
                    let mut n = next.lock().unwrap();
                    let mut choice = choices[*n % choices.len()].clone();
                    *n += 1;
                    if ind.flags.contains(ReceiveFlags::FORCE_INDICATION) {
                        // Resumed: make progress now, or nothing ever would.
                        choice = Choice::TakeAll;
                    }
                    match choice {
                        Choice::TakeAll => ReceiveAnswer::take_all(ind),
                        Choice::Take(k) => ReceiveAnswer::Taken(k.min(ind.data.len()).max(1)),
                        Choice::More(t, segments) => {
                            let chain = BufferChain::with_lengths(&segments);
                            let size = chain.segments.iter().map(Vec::len).sum();
                            ReceiveAnswer::MoreProcessingRequired { taken: t, buffer: Box::new(chain), size }
                        }
                        Choice::RejectThenResume => {
                            *resume_me.lock().unwrap() = Some(vc.clone());
                            ReceiveAnswer::NotAccepted
                        }
                    }
                }
            });
            let (_c, vc) = address
                .build_connection(ConnectionInformation::to(TransportAddress::memory("peer")), handler.clone())
                .await
                .unwrap();
            let mut peer = listener.accept().await.unwrap();
            let total: usize = sizes.iter().sum();
            let sent: Vec<u8> = pattern(total, 77);
            let writer = tokio::spawn({
                let sent = sent.clone();
                async move {
                    let mut at = 0;
                    for size in sizes {
                        peer.write_all(&sent[at..at + size]).await.unwrap();
                        at += size;
                    }
                    // The end cuts short a client buffer asking for more
                    // than was sent: it comes back with what it holds.
                    drop(peer);
                }
            });
            // A resumer, as a client would resume after a pause.
            let resumer = tokio::spawn({
                let resume_me = resume_me.clone();
                async move {
                    loop {
                        if let Some(vc) = resume_me.lock().unwrap().take() {
                            let _ = vc.resume_receive();
                        }
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }
            });
            let got = handler.wait_for_bytes(total).await;
            resumer.abort();
            writer.await.unwrap();
            assert_eq!(got.len(), total);
            assert!(got == sent, "the bytes differ");
            vc.tear_down().await.unwrap();
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_held_for_more_lookahead_come_again_when_the_peer_ends() {
    let engine = engine();
    // Waits for a whole 8-byte record; takes what it is given once forced.
    let handler = Recorder::answering(|_, ind| {
        if ind.data.len() < 8 && !ind.flags.contains(ReceiveFlags::FORCE_INDICATION) {
            ReceiveAnswer::Taken(0)
        } else {
            ReceiveAnswer::take_all(ind)
        }
    });
    let (_c, _vc, mut peer) = tcp_vc(&engine, "tcp", handler.clone()).await;
    peer.write_all(b"abc").await.unwrap();
    handler
        .wait_for("the first indication", |e| {
            e.iter().any(|e| matches!(e, Event::Received { .. }))
        })
        .await;
    drop(peer);
    let events = handler
        .wait_for("the disconnect", |e| {
            e.iter().any(|e| matches!(e, Event::Disconnect { .. }))
        })
        .await;
    let received: Vec<(Vec<u8>, ReceiveFlags)> = events
        .iter()
        .filter_map(|e| match e {
            Event::Received { data, flags, .. } => Some((data.clone(), *flags)),
            _ => None,
        })
        .collect();
    assert_eq!(
        received,
        vec![
            (b"abc".to_vec(), ReceiveFlags::NORMAL),
            (b"abc".to_vec(), ReceiveFlags::NORMAL | ReceiveFlags::FORCE_INDICATION),
        ]
    );
    assert_eq!(handler.stream(), b"abc", "nothing is dropped at the end");
    assert_eq!(
        handler.disconnects(),
        vec![(DisconnectFlags::RELEASE, Status::REMOTE_DISCONNECT)]
    );

    // A client that declines even the forced indication still hears of the
    // end, and the disconnect says what it left.
    let stubborn = Recorder::answering(|_, _| ReceiveAnswer::Taken(0));
    let (_c, _vc, mut peer) = tcp_vc(&engine, "tcp", stubborn.clone()).await;
    peer.write_all(b"abc").await.unwrap();
    stubborn
        .wait_for("the first indication", |e| {
            e.iter().any(|e| matches!(e, Event::Received { .. }))
        })
        .await;
    drop(peer);
    stubborn
        .wait_for("the disconnect", |e| {
            e.iter().any(|e| matches!(e, Event::Disconnect { .. }))
        })
        .await;
    let disconnects = stubborn.disconnects();
    assert_eq!(disconnects.len(), 1);
    assert_eq!(
        (disconnects[0].0, disconnects[0].1.clone()),
        (DisconnectFlags::RELEASE, Status::REMOTE_DISCONNECT)
    );
    let text = disconnects[0].1.to_string();
    assert!(text.contains("declined its last 3 bytes"), "{text}");
    assert!(stubborn.stream().is_empty());
}
