//! Faults: resets, half-closes, graceful and timed-out disconnects, and
//! tear-down racing with sends and indications.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use rxce::{
    ConnectionInformation, DisconnectFlags, EngineConfig, ReceiveAnswer, SendOptions, Status, TransportAddress, VcState,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn reset(stream: tokio::net::TcpStream) {
    let std = stream.into_std().unwrap();
    socket2::SockRef::from(&std).set_linger(Some(Duration::ZERO)).unwrap();
    drop(std);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_mid_stream_fails_pending_sends_and_disconnects_once() {
    let engine = engine();
    let handler = Recorder::taking_all();
    let (_c, vc, peer) = tcp_vc(&engine, "tcp", handler.clone()).await;
    // The peer reads nothing: fill the kernel's buffers, then the queue.
    let mut submitted = 0usize;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = vc.try_submit_send(vec![9u8; 64 * 1024], SendOptions::NON_BLOCKING, submitted);
        if status == Status::DEVICE_NOT_READY {
            break;
        }
        assert_eq!(status, Status::PENDING);
        submitted += 1;
        if submitted % 16 == 0 {
            tokio::task::yield_now().await;
        }
        assert!(Instant::now() < deadline, "the queue never filled");
    }
    reset(peer);
    let events = handler
        .wait_for("the disconnect", |e| {
            e.iter().any(|e| matches!(e, Event::Disconnect { .. }))
        })
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let disconnects = handler.disconnects();
    assert_eq!(disconnects.len(), 1, "{events:#?}");
    assert_eq!(disconnects[0].0, DisconnectFlags::ABORT);
    assert_eq!(disconnects[0].1, Status::CONNECTION_RESET);
    let completions = handler.completions();
    assert_eq!(completions.len(), submitted, "every send completes exactly once");
    let failed = completions.iter().filter(|c| c.1 == Status::CONNECTION_RESET).count();
    assert!(failed > 0, "queued sends fail with the reset");
    assert!(completions
        .iter()
        .all(|c| c.1 == Status::SUCCESS || c.1 == Status::CONNECTION_RESET));
    // The disconnect is the last indication.
    assert!(matches!(handler.events().last(), Some(Event::Disconnect { .. })));
    assert_eq!(vc.state(), VcState::Disconnected);
    let refused = vc.send(&b"more"[..], SendOptions::empty()).await.unwrap_err();
    assert_eq!(refused, Status::CONNECTION_DISCONNECTED);
    assert!(refused.to_string().contains("RESET"), "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_on_an_idle_vc_is_one_abortive_disconnect() {
    let engine = engine();
    let handler = Recorder::taking_all();
    let (_c, vc, mut peer) = tcp_vc(&engine, "tcp", handler.clone()).await;
    peer.write_all(b"last words").await.unwrap();
    handler.wait_for_bytes(10).await;
    reset(peer);
    handler
        .wait_for("the disconnect", |e| {
            e.iter().any(|e| matches!(e, Event::Disconnect { .. }))
        })
        .await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        handler.disconnects(),
        vec![(DisconnectFlags::ABORT, Status::CONNECTION_RESET)]
    );
    assert_eq!(handler.stream(), b"last words");
    vc.tear_down().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_close_is_a_release_and_our_side_can_still_send() {
    let engine = engine();
    let handler = Recorder::taking_all();
    let (_c, vc, mut peer) = tcp_vc(&engine, "tcp", handler.clone()).await;
    peer.write_all(b"bye").await.unwrap();
    peer.shutdown().await.unwrap();
    handler
        .wait_for("the release", |e| {
            e.iter().any(|e| matches!(e, Event::Disconnect { .. }))
        })
        .await;
    assert_eq!(handler.stream(), b"bye", "the data comes before the disconnect");
    let (flags, status) = handler.disconnects()[0].clone();
    assert_eq!(flags, DisconnectFlags::RELEASE);
    assert_eq!(status, Status::REMOTE_DISCONNECT);
    assert_eq!(vc.state(), VcState::PeerReleased);
    vc.send(&b"still here"[..], SendOptions::empty()).await.unwrap();
    assert_eq!(read_n(&mut peer, 10).await, b"still here");
    vc.initiate_disconnect().unwrap();
    assert!(read_to_end(&mut peer).await.is_empty(), "the peer sees our end");
    let deadline = Instant::now() + Duration::from_secs(5);
    while vc.state() != VcState::Disconnected {
        assert!(Instant::now() < deadline, "{:?}", vc.state());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(handler.disconnects().len(), 1, "exactly one disconnect indication");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_disconnect_writes_queued_sends_first() {
    let engine = engine();
    let handler = Recorder::taking_all();
    let (_c, vc, mut peer) = memory_vc(&engine, handler.clone()).await;
    vc.send(vec![1u8; 256 * 1024], SendOptions::empty()).await.unwrap();
    let mut expected = vec![1u8; 256 * 1024];
    for context in 0..10 {
        let chunk = pattern(50_000, context as u8);
        expected.extend_from_slice(&chunk);
        assert_eq!(
            vc.submit_send(chunk, SendOptions::empty(), context).await,
            Status::PENDING
        );
    }
    vc.initiate_disconnect().unwrap();
    assert_eq!(vc.state(), VcState::Disconnecting);
    assert_eq!(
        vc.send(&b"late"[..], SendOptions::empty()).await.unwrap_err(),
        Status::CONNECTION_DISCONNECTED
    );
    assert_eq!(vc.initiate_disconnect(), Ok(()), "a second initiate is harmless");
    let got = read_to_end(&mut peer).await;
    assert!(got == expected, "every queued byte, then the end");
    drop(peer);
    handler
        .wait_for("the release", |e| {
            e.iter().any(|e| matches!(e, Event::Disconnect { .. }))
        })
        .await;
    assert_eq!(handler.disconnects(), vec![(DisconnectFlags::RELEASE, Status::SUCCESS)]);
    assert!(handler.completions().iter().all(|c| c.1 == Status::SUCCESS));
    assert_eq!(handler.completions().len(), 10);
    assert_eq!(vc.state(), VcState::Disconnected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_never_ends_its_side_is_cut_off_after_the_disconnect_timeout() {
    let engine = engine_with(EngineConfig {
        disconnect_timeout: Duration::from_millis(200),
        ..EngineConfig::default()
    });
    let handler = Recorder::taking_all();
    let (_c, vc, mut peer) = tcp_vc(&engine, "tcp", handler.clone()).await;
    let started = Instant::now();
    vc.initiate_disconnect().unwrap();
    assert!(read_to_end(&mut peer).await.is_empty());
    handler
        .wait_for("the timeout", |e| {
            e.iter().any(|e| matches!(e, Event::Disconnect { .. }))
        })
        .await;
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(
        handler.disconnects(),
        vec![(DisconnectFlags::ABORT, Status::IO_TIMEOUT)]
    );
    drop(peer);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tear_down_cancels_pending_sends_before_it_returns() {
    let engine = engine_with(EngineConfig {
        send_queue_limit: 100_000,
        ..EngineConfig::default()
    });
    let handler = Recorder::taking_all();
    let (_c, vc, _peer) = memory_vc(&engine, handler.clone()).await;
    vc.send(vec![0u8; 256 * 1024], SendOptions::empty()).await.unwrap();
    for context in 0..5 {
        assert_eq!(
            vc.submit_send(vec![1u8; 20_000], SendOptions::empty(), context).await,
            Status::PENDING
        );
    }
    let blocked = tokio::spawn({
        let vc = vc.clone();
        async move { vc.send(vec![2u8; 50_000], SendOptions::empty()).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!blocked.is_finished());
    vc.tear_down().await.unwrap();
    let completions = handler.completions();
    assert_eq!(completions.len(), 5, "every completion ran before tear-down returned");
    assert!(completions.iter().all(|c| c.1 == Status::CANCELLED && c.2 == 0));
    assert_eq!(blocked.await.unwrap().unwrap_err(), Status::CANCELLED);
    let after = handler.events().len();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(handler.events().len(), after, "nothing after tear-down");
    assert!(
        handler.disconnects().is_empty(),
        "a local tear-down indicates no disconnect"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tear_down_waits_for_a_running_indication() {
    let engine = engine();
    let (listener, addr) = tcp_listener().await;
    let (_t, address) = tcp_address(&engine);
    let in_callback = Arc::new(tokio::sync::Notify::new());
    let callback_done_at = Arc::new(Mutex::new(None::<Instant>));
    let calls = Arc::new(AtomicUsize::new(0));
    let handler = Recorder::answering({
        let in_callback = in_callback.clone();
        let done = callback_done_at.clone();
        let calls = calls.clone();
        move |_, ind| {
            calls.fetch_add(1, Ordering::SeqCst);
            // Wakes the test thread directly: with a worker blocked here,
            // the runtime's timers are not a reliable way to notice.
            in_callback.notify_one();
            std::thread::sleep(Duration::from_millis(300));
            *done.lock().unwrap() = Some(Instant::now());
            ReceiveAnswer::take_all(ind)
        }
    });
    let (_c, vc) = address.build_connection(to(addr), handler.clone()).await.unwrap();
    let (mut peer, _) = listener.accept().await.unwrap();
    peer.write_all(b"slow").await.unwrap();
    in_callback.notified().await;
    peer.write_all(b"more").await.unwrap();
    vc.tear_down().await.unwrap();
    let returned = Instant::now();
    let done = callback_done_at.lock().unwrap().expect("the callback finished");
    assert!(done <= returned, "tear-down returned while the indication ran");
    let calls_at_return = calls.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        calls_at_return,
        "no indication after tear-down"
    );
    assert_eq!(calls_at_return, 1, "{:?}", handler.events());
    assert!(read_to_end(&mut peer).await.is_empty(), "the socket is closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tear_down_from_inside_a_callback_of_the_vc_finishes_at_once() {
    let engine = engine();
    let (listener, addr) = tcp_listener().await;
    let (_t, address) = tcp_address(&engine);
    let outcome = Arc::new(Mutex::new(None));
    let handler = Recorder::answering({
        let outcome = outcome.clone();
        move |vc, ind| {
            // Inside its own callback the tear-down never waits, so one
            // poll finishes it.
            let mut future = std::pin::pin!(vc.tear_down());
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            *outcome.lock().unwrap() = Some(std::future::Future::poll(future.as_mut(), &mut cx));
            ReceiveAnswer::take_all(ind)
        }
    });
    let (_c, vc) = address.build_connection(to(addr), handler.clone()).await.unwrap();
    let (mut peer, _) = listener.accept().await.unwrap();
    peer.write_all(b"one").await.unwrap();
    handler.wait_for_bytes(3).await;
    assert_eq!(*outcome.lock().unwrap(), Some(std::task::Poll::Ready(Ok(()))));
    peer.write_all(b"two").await.ok();
    assert!(read_to_end(&mut peer).await.is_empty());
    assert_eq!(handler.stream(), b"one");
    assert!(!vc.is_valid());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_framing_violation_is_an_error_then_an_abortive_disconnect() {
    let engine = engine();
    let handler = Recorder::taking_all();
    let (_c, vc, mut peer) = tcp_vc(&engine, "tcp+smb", handler.clone()).await;
    // A 16 MiB - 1 announcement is within the framing but over the limit
    // only if configured lower; 0x01 first byte is not direct-hosted framing.
    peer.write_all(&[0x01, 0, 0, 4, 1, 2, 3, 4]).await.unwrap();
    handler
        .wait_for("the disconnect", |e| {
            e.iter().any(|e| matches!(e, Event::Disconnect { .. }))
        })
        .await;
    let events = handler.events();
    assert!(matches!(&events[0], Event::Error { status, .. } if *status == Status::INVALID_NETWORK_RESPONSE));
    assert_eq!(
        handler.disconnects(),
        vec![(DisconnectFlags::ABORT, Status::INVALID_NETWORK_RESPONSE)]
    );
    let mut rest = Vec::new();
    let _ = peer.read_to_end(&mut rest).await;
    assert_eq!(vc.state(), VcState::Disconnected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_announced_message_over_the_limit_is_refused_without_waiting_for_it() {
    let engine = engine_with(EngineConfig {
        max_message_size: 1 << 20,
        ..EngineConfig::default()
    });
    let handler = Recorder::taking_all();
    let (_c, _vc, mut peer) = tcp_vc(&engine, "tcp+smb", handler.clone()).await;
    peer.write_all(&[0, 0xFF, 0xFF, 0xFF]).await.unwrap();
    handler
        .wait_for("the disconnect", |e| {
            e.iter().any(|e| matches!(e, Event::Disconnect { .. }))
        })
        .await;
    match &handler.events()[0] {
        Event::Error { status, .. } => assert!(status.to_string().contains("16777215-byte message"), "{status}"),
        other => panic!("{other:?}"),
    }
    assert!(engine.budget_in_use() < 1 << 20, "no buffer of the announced size");
}

/// What a VC's receive callback tears down, blocking (as C code does),
/// once both VCs of the connection are inside theirs.
enum Victim {
    /// The other VC.
    OtherVc,
    /// The whole connection, after a pause (the other callback starts
    /// waiting first).
    ConnectionAfter(Duration),
}

/// Two VCs of one connection whose receive callbacks, entered together,
/// each tear something down; `plan` says what, per VC (0 or 1).
struct TearDownsInCallbacks {
    vcs: Mutex<Vec<rxce::Vc>>,
    plan: [Victim; 2],
    results: Mutex<Vec<(usize, Result<(), Status>)>>,
    both_inside: std::sync::Barrier,
}

impl rxce::ConnectionEventHandler for TearDownsInCallbacks {
    fn receive(&self, vc: &rxce::Vc, indication: &rxce::Indication<'_>) -> ReceiveAnswer {
        let vcs = self.vcs.lock().unwrap().clone();
        let me = vcs.iter().position(|v| v == vc).unwrap();
        self.both_inside.wait();
        let handle = tokio::runtime::Handle::current();
        let result = match self.plan[me] {
            Victim::OtherVc => {
                let other = vcs[1 - me].clone();
                tokio::task::block_in_place(|| handle.block_on(other.tear_down()))
            }
            Victim::ConnectionAfter(pause) => {
                std::thread::sleep(pause);
                let connection = vc.connection();
                tokio::task::block_in_place(|| handle.block_on(connection.tear_down()))
            }
        };
        self.results.lock().unwrap().push((me, result));
        ReceiveAnswer::take_all(indication)
    }
}

/// Runs `plan` on two VCs of a memory connection: returns the handler
/// (with both results), the VCs and their peers.
async fn tear_downs_in_callbacks(
    engine: &rxce::Engine,
    plan: [Victim; 2],
) -> (
    Arc<TearDownsInCallbacks>,
    [rxce::Vc; 2],
    [rxce::provider::MemoryStream; 2],
) {
    let mut listener = engine.memory_listen("server").unwrap();
    let (_t, address) = memory_address(engine, "client");
    let handler = Arc::new(TearDownsInCallbacks {
        vcs: Mutex::new(Vec::new()),
        plan,
        results: Mutex::new(Vec::new()),
        both_inside: std::sync::Barrier::new(2),
    });
    let (connection, first) = address
        .build_connection(
            ConnectionInformation::to(TransportAddress::memory("server")),
            handler.clone(),
        )
        .await
        .unwrap();
    let second = connection.build_vc().await.unwrap();
    handler.vcs.lock().unwrap().extend([first.clone(), second.clone()]);
    let mut peers = [listener.accept().await.unwrap(), listener.accept().await.unwrap()];
    for peer in &mut peers {
        peer.write_all(b"go").await.unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while handler.results.lock().unwrap().len() < 2 {
        assert!(Instant::now() < deadline, "the tear-downs deadlocked");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    (handler, [first, second], peers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_vcs_tearing_each_other_down_from_their_callbacks_do_not_deadlock() {
    let engine = engine();
    let (handler, _vcs, _peers) = tear_downs_in_callbacks(&engine, [Victim::OtherVc, Victim::OtherVc]).await;
    let results: Vec<_> = handler.results.lock().unwrap().iter().map(|r| r.1.clone()).collect();
    assert!(results.contains(&Ok(())), "{results:?}");
    assert!(results.contains(&Err(Status::INVALID_DEVICE_STATE)), "{results:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_connection_torn_down_in_a_cycle_leaves_no_vc_running() {
    let engine = engine();
    // The second VC's callback waits for the first's, which then tears the
    // whole connection down: a cycle through the parent.
    let plan = [Victim::ConnectionAfter(Duration::from_millis(100)), Victim::OtherVc];
    let (handler, [first, second], [_peer_one, mut peer_two]) = tear_downs_in_callbacks(&engine, plan).await;
    let results = handler.results.lock().unwrap().clone();
    assert!(
        results.contains(&(0, Ok(()))),
        "the connection's tear-down: {results:?}"
    );
    // Both VCs are gone, not only the one the cycle let through.
    assert!(!first.is_valid() && !second.is_valid(), "{results:?}");
    // Once the client lets go of them, nothing of the connection is left.
    handler.vcs.lock().unwrap().clear();
    drop((first, second));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let live = engine.live_objects();
        if live.vcs == 0 && live.connections == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "left alive: {live:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The second VC's peer sees its end.
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), peer_two.read_to_end(&mut rest))
        .await
        .expect("the second VC's peer sees the end");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_receive_aborts_its_vc_and_nothing_hangs() {
    let engine = engine();
    let handler = Recorder::answering(|_, _| panic!("the handler's own bug"));
    let (connection, vc, mut peer) = tcp_vc(&engine, "tcp", handler.clone()).await;
    // A reconnect policy does not rebuild what the client's own panic ended.
    connection.set_reconnect_policy(Some(rxce::ReconnectPolicy {
        attempts: 1,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(10),
    }));
    assert_eq!(
        vc.submit_send(&b"queued before"[..], SendOptions::empty(), 1).await,
        Status::PENDING
    );
    assert_eq!(read_n(&mut peer, 13).await, b"queued before");
    peer.write_all(b"trigger").await.unwrap();
    let events = handler
        .wait_for("the disconnect", |e| {
            e.iter().any(|e| matches!(e, Event::Disconnect { .. }))
        })
        .await;
    let disconnects = handler.disconnects();
    assert_eq!(disconnects.len(), 1, "{events:#?}");
    assert_eq!(disconnects[0].0, DisconnectFlags::ABORT);
    assert_eq!(disconnects[0].1, Status::UNHANDLED_EXCEPTION);
    let text = disconnects[0].1.to_string();
    assert!(
        text.contains("receive callback panicked: the handler's own bug"),
        "{text}"
    );
    assert_eq!(handler.completions(), vec![(1, Status::SUCCESS, 13)]);
    assert_eq!(vc.state(), VcState::Disconnected);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !handler
            .events()
            .iter()
            .any(|e| matches!(e, Event::Reconnected { .. } | Event::ReconnectFailed { .. })),
        "{:#?}",
        handler.events()
    );
    let refused = vc.send(&b"more"[..], SendOptions::empty()).await.unwrap_err();
    assert_eq!(refused, Status::CONNECTION_DISCONNECTED);
    // The VC was aborted: the peer sees a reset, not an orderly end.
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), peer.read_to_end(&mut rest))
        .await
        .expect("the peer sees the VC end");
    assert_eq!(read.unwrap_err().kind(), std::io::ErrorKind::ConnectionReset);
    // The engine goes on: another connection works, tear-down returns.
    let (_other, other_vc, mut other_peer) = tcp_vc(&engine, "tcp", Recorder::taking_all()).await;
    assert_eq!(
        other_vc.send(&b"still here"[..], SendOptions::empty()).await.unwrap(),
        10
    );
    assert_eq!(read_n(&mut other_peer, 10).await, b"still here");
    tokio::time::timeout(Duration::from_secs(10), connection.tear_down())
        .await
        .expect("tear-down returns")
        .unwrap();
}

/// Panics in the completion of send 2; records every completion.
#[derive(Default)]
struct PanicsOnSecondCompletion {
    completions: Mutex<Vec<(usize, Status)>>,
    disconnects: Mutex<Vec<(DisconnectFlags, Status)>>,
}

impl rxce::ConnectionEventHandler for PanicsOnSecondCompletion {
    fn send_complete(&self, _vc: &rxce::Vc, context: usize, status: Status, _bytes: usize) {
        self.completions.lock().unwrap().push((context, status));
        if context == 2 {
            panic!("completion 2 is broken");
        }
    }

    fn disconnect(&self, _vc: &rxce::Vc, flags: DisconnectFlags, status: Status) {
        self.disconnects.lock().unwrap().push((flags, status));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_completion_still_completes_every_other_send_once() {
    let engine = engine();
    let handler = Arc::new(PanicsOnSecondCompletion::default());
    let (connection, vc, mut peer) = tcp_vc(&engine, "tcp", handler.clone()).await;
    for context in 1..=6 {
        let status = vc
            .submit_send(vec![context as u8; 1000], SendOptions::empty(), context)
            .await;
        // Once the panic failed the VC, later submissions are refused.
        assert!(
            status == Status::PENDING || status == Status::CONNECTION_DISCONNECTED,
            "{status}"
        );
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while handler.disconnects.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "no disconnect after the panic");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let disconnects = handler.disconnects.lock().unwrap().clone();
    assert_eq!(disconnects.len(), 1);
    assert_eq!(disconnects[0].0, DisconnectFlags::ABORT);
    assert_eq!(disconnects[0].1, Status::UNHANDLED_EXCEPTION);
    assert!(disconnects[0].1.to_string().contains("send complete callback panicked"));
    // Every accepted send completed exactly once; 1 and 2 went out.
    let completions = handler.completions.lock().unwrap().clone();
    let mut contexts: Vec<usize> = completions.iter().map(|c| c.0).collect();
    contexts.sort_unstable();
    contexts.dedup();
    assert_eq!(contexts.len(), completions.len(), "{completions:?}");
    assert_eq!(&completions[..2], &[(1, Status::SUCCESS), (2, Status::SUCCESS)]);
    assert!(completions
        .iter()
        .all(|c| c.1 == Status::SUCCESS || c.1 == Status::UNHANDLED_EXCEPTION));
    assert_eq!(
        read_n(&mut peer, 2000).await,
        [vec![1u8; 1000], vec![2u8; 1000]].concat()
    );
    connection.tear_down().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_that_blocks_a_worker_is_reported() {
    let engine = engine_with(EngineConfig {
        slow_callback: Some(Duration::from_millis(50)),
        ..EngineConfig::default()
    });
    // Blocks its worker on the second indication only.
    let calls = Arc::new(AtomicUsize::new(0));
    let handler = Recorder::answering({
        let calls = calls.clone();
        move |_, ind| {
            if calls.fetch_add(1, Ordering::SeqCst) == 1 {
                std::thread::sleep(Duration::from_millis(150));
            }
            ReceiveAnswer::take_all(ind)
        }
    });
    let (_c, _vc, mut peer) = tcp_vc(&engine, "tcp", handler.clone()).await;
    peer.write_all(b"quick").await.unwrap();
    handler.wait_for_bytes(5).await;
    assert_eq!(engine.slow_callbacks(), 0, "a quick callback is not reported");
    peer.write_all(b"slow").await.unwrap();
    assert_eq!(handler.wait_for_bytes(9).await, b"quickslow");
    // Counted as the callback returns, just after it recorded the bytes.
    let deadline = Instant::now() + Duration::from_secs(10);
    while engine.slow_callbacks() == 0 {
        assert!(Instant::now() < deadline, "the slow callback was not reported");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(engine.slow_callbacks(), 1);
    // Off, nothing is timed, not even the same slow callback; zero is no
    // threshold.
    let untimed = engine_with(EngineConfig {
        slow_callback: None,
        ..EngineConfig::default()
    });
    let slow = Recorder::answering(|_, ind| {
        std::thread::sleep(Duration::from_millis(150));
        ReceiveAnswer::take_all(ind)
    });
    let (_c, _vc, mut peer) = tcp_vc(&untimed, "tcp", slow.clone()).await;
    peer.write_all(b"slow").await.unwrap();
    slow.wait_for_bytes(4).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(untimed.slow_callbacks(), 0);
    let Err(zero) = rxce::Engine::new(EngineConfig {
        slow_callback: Some(Duration::ZERO),
        ..EngineConfig::default()
    }) else {
        panic!("a zero threshold is refused");
    };
    assert_eq!(zero, Status::INVALID_PARAMETER);
}
