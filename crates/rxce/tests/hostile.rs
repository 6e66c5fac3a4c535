//! Hostile peers, each with its expected outcome: one that never reads,
//! one that trickles a byte at a time, one that floods keepalives, one that
//! resets in the middle of a message, and a datagram flood.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use rxce::{
    AddressEventHandler, DatagramIndication, DisconnectFlags, EngineConfig, ReceiveAnswer, ReceiveFlags, SendOptions,
    Status, TransportAddress,
};
use tokio::io::AsyncWriteExt;

fn framed_address(engine: &rxce::Engine, transport: &str) -> rxce::Address {
    engine
        .build_transport(transport, 0)
        .unwrap()
        .build_address(TransportAddress::any_ipv4(), Arc::new(rxce::NoEvents))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_never_reads_gets_backpressure_and_tear_down_still_completes() {
    let engine = engine_with(EngineConfig {
        send_queue_limit: 256 * 1024,
        ..EngineConfig::default()
    });
    let handler = Recorder::taking_all();
    let (_c, vc, _never_reads) = tcp_vc(&engine, "tcp", handler.clone()).await;
    let started = Instant::now();
    let mut queued = 0usize;
    let refusal = loop {
        let status = vc.try_submit_send(vec![7u8; 64 * 1024], SendOptions::NON_BLOCKING, queued);
        if status != Status::PENDING {
            break status;
        }
        queued += 1;
        if queued % 8 == 0 {
            tokio::task::yield_now().await;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the kernel and the queue are bounded"
        );
    };
    assert_eq!(refusal, Status::DEVICE_NOT_READY);
    // A blocking send waits rather than grow the queue.
    let blocked = tokio::spawn({
        let vc = vc.clone();
        async move { vc.send(vec![1u8; 64 * 1024], SendOptions::empty()).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!blocked.is_finished());
    let tear_down = Instant::now();
    vc.tear_down().await.unwrap();
    assert!(
        tear_down.elapsed() < Duration::from_secs(2),
        "tear-down does not wait for the peer"
    );
    assert_eq!(blocked.await.unwrap().unwrap_err(), Status::CANCELLED);
    let completions = handler.completions();
    assert_eq!(completions.len(), queued, "every queued send completed");
    assert!(completions.iter().any(|c| c.1 == Status::CANCELLED));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_trickles_a_byte_at_a_time_is_reassembled() {
    let engine = engine();
    let (listener, addr) = tcp_listener().await;
    let address = framed_address(&engine, "tcp+smb");
    let handler = Recorder::taking_all();
    let (_c, _vc) = address.build_connection(to(addr), handler.clone()).await.unwrap();
    let (mut peer, _) = listener.accept().await.unwrap();
    peer.set_nodelay(true).unwrap();
    let payload = pattern(300, 3);
    let mut wire = (payload.len() as u32).to_be_bytes().to_vec();
    wire.extend_from_slice(&payload);
    for byte in &wire {
        peer.write_all(&[*byte]).await.unwrap();
        tokio::time::sleep(Duration::from_micros(100)).await;
    }
    let events = handler
        .wait_for("the message", |e| e.iter().any(|e| matches!(e, Event::Received { .. })))
        .await;
    let received: Vec<_> = events.iter().filter(|e| matches!(e, Event::Received { .. })).collect();
    assert_eq!(received.len(), 1, "one indication for the whole message");
    match received[0] {
        Event::Received { data, flags, .. } => {
            assert_eq!(*data, payload);
            assert!(flags.contains(ReceiveFlags::ENTIRE_MESSAGE));
        }
        _ => unreachable!(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keepalive_flood_is_skipped_without_indications_or_growth() {
    let engine = engine();
    let (listener, addr) = tcp_listener().await;
    let address = framed_address(&engine, "netbt");
    let handler = Recorder::taking_all();
    // The session request is answered by hand: the peer is the test.
    let build = tokio::spawn(async move {
        let address = address;
        let built = address.build_connection(to(addr), handler.clone()).await;
        (address, built, handler)
    });
    let (mut peer, _) = listener.accept().await.unwrap();
    let mut request = [0u8; 72];
    tokio::io::AsyncReadExt::read_exact(&mut peer, &mut request)
        .await
        .unwrap();
    peer.write_all(&[0x82, 0, 0, 0]).await.unwrap();
    let (_address, built, handler) = build.await.unwrap();
    let (_c, _vc) = built.unwrap();
    let budget_before = engine.budget_in_use();
    let flood = [0x85u8, 0, 0, 0].repeat(250_000);
    peer.write_all(&flood).await.unwrap();
    peer.write_all(&[0, 0, 0, 2, b'o', b'k']).await.unwrap();
    let events = handler
        .wait_for("the message after the flood", |e| {
            e.iter().any(|e| matches!(e, Event::Received { .. }))
        })
        .await;
    assert_eq!(
        events.len(),
        1,
        "a million keepalive bytes indicate nothing: {events:?}"
    );
    assert_eq!(handler.stream(), b"ok");
    assert!(
        engine.budget_in_use() <= budget_before + rxce::EngineConfig::default().receive_buffer_size,
        "no growth beyond one receive buffer"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_in_the_middle_of_a_message_hands_the_client_buffer_back() {
    let engine = engine();
    let (listener, addr) = tcp_listener().await;
    let address = framed_address(&engine, "tcp+smb");
    let handler = Recorder::answering(|_, ind| ReceiveAnswer::MoreProcessingRequired {
        taken: 0,
        buffer: Box::new(vec![0u8; ind.available]),
        size: ind.available,
    });
    let (_c, _vc) = address.build_connection(to(addr), handler.clone()).await.unwrap();
    let (mut peer, _) = listener.accept().await.unwrap();
    // Announce 1 MiB, send 100 KiB of it, reset.
    peer.write_all(&[0, 0x10, 0, 0]).await.unwrap();
    peer.write_all(&pattern(100 * 1024, 1)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let std = peer.into_std().unwrap();
    socket2::SockRef::from(&std).set_linger(Some(Duration::ZERO)).unwrap();
    drop(std);
    let events = handler
        .wait_for("the disconnect", |e| {
            e.iter().any(|e| matches!(e, Event::Disconnect { .. }))
        })
        .await;
    let ready = events
        .iter()
        .find_map(|e| match e {
            Event::DataReady {
                copied, status, data, ..
            } => Some((*copied, status.clone(), data.clone())),
            _ => None,
        })
        .expect("the client buffer comes back");
    assert_eq!(ready.1, Status::CONNECTION_RESET);
    assert_eq!(ready.0, ready.2.len());
    assert!(ready.0 <= 100 * 1024);
    assert_eq!(
        ready.2,
        pattern(100 * 1024, 1)[..ready.0].to_vec(),
        "what was copied is intact"
    );
    assert_eq!(
        handler.disconnects(),
        vec![(DisconnectFlags::ABORT, Status::CONNECTION_RESET)]
    );
    assert!(
        matches!(events.last(), Some(Event::Disconnect { .. })),
        "data-ready comes before the disconnect"
    );
}

/// Counts datagrams; takes them all.
#[derive(Default)]
struct Counter(std::sync::atomic::AtomicUsize);

impl AddressEventHandler for Counter {
    fn receive_datagram(&self, _address: &rxce::Address, indication: &DatagramIndication<'_>) -> ReceiveAnswer {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        ReceiveAnswer::take_all(&indication.indication)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_datagram_flood_is_indicated_or_dropped_by_the_kernel_never_queued_without_bound() {
    let engine = engine();
    let counter = Arc::new(Counter::default());
    let transport = engine.build_transport("udp", 0).unwrap();
    let address = transport
        .build_address(TransportAddress::ip("127.0.0.1:0".parse().unwrap()), counter.clone())
        .unwrap();
    let target = address.bound_address().ip_entry().unwrap();
    let budget_before = engine.budget_in_use();
    let flooder = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let datagram = [0xAAu8; 1200];
    let sent = 50_000;
    for _ in 0..sent {
        let _ = flooder.send_to(&datagram, target);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let indicated = counter.0.load(std::sync::atomic::Ordering::Relaxed);
    assert!(indicated > 0 && indicated <= sent, "{indicated} of {sent}");
    assert_eq!(
        engine.budget_in_use(),
        budget_before,
        "the flood holds nothing in the engine"
    );
    // The address still answers.
    let mut reply = [0u8; 16];
    flooder.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    address
        .send_datagram(
            &rxce::ConnectionInformation::to(flooder.local_addr().unwrap()),
            &b"alive"[..],
            SendOptions::empty(),
        )
        .await
        .unwrap();
    let n = flooder.recv(&mut reply).unwrap();
    assert_eq!(&reply[..n], b"alive");
}
