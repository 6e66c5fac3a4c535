//! Liveness: the dead-peer timeout, TCP keepalive probes, and the reconnect
//! policy rebuilding a lost VC.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::*;
use rxce::{DisconnectFlags, EngineConfig, ReceiveAnswer, ReconnectPolicy, SendOptions, Status, TcpKeepalive};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_peer_is_declared_dead_after_the_timeout() {
    let engine = engine_with(EngineConfig {
        dead_peer_timeout: Some(Duration::from_millis(300)),
        ..EngineConfig::default()
    });
    let (listener, addr) = tcp_listener().await;
    let (_t, address) = tcp_address(&engine);
    let silent = Recorder::taking_all();
    let started = Instant::now();
    let (_c, _vc) = address.build_connection(to(addr), silent.clone()).await.unwrap();
    let (_peer, _) = listener.accept().await.unwrap();
    silent
        .wait_for("the dead-peer disconnect", |e| {
            e.iter().any(|e| matches!(e, Event::Disconnect { .. }))
        })
        .await;
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
    assert_eq!(silent.disconnects(), vec![(DisconnectFlags::ABORT, Status::IO_TIMEOUT)]);
    assert!(silent.disconnects()[0].1.to_string().contains("dead"));

    // A peer that keeps talking stays alive past the timeout.
    let chatty = Recorder::taking_all();
    let (_c2, _vc2) = address.build_connection(to(addr), chatty.clone()).await.unwrap();
    let (mut peer, _) = listener.accept().await.unwrap();
    for _ in 0..8 {
        peer.write_all(b"tick").await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(chatty.stream().len(), 32);
    assert!(chatty.disconnects().is_empty(), "{:?}", chatty.events());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "reads the kernel's keepalive timer with ss (iproute2), Linux only"
)]
async fn tcp_keepalive_probes_are_armed_on_the_socket() {
    let engine = engine_with(EngineConfig {
        tcp_keepalive: Some(TcpKeepalive {
            idle: Duration::from_secs(7),
            interval: Duration::from_secs(3),
            retries: 4,
        }),
        ..EngineConfig::default()
    });
    let (_c, _vc, peer) = tcp_vc(&engine, "tcp", Recorder::taking_all()).await;
    let addr = peer.local_addr().unwrap();
    // The kernel's own view: `ss -o` shows the keepalive timer.
    let out = std::process::Command::new("ss")
        .args(["-tno", "state", "established", &format!("dport = :{}", addr.port())])
        .output()
        .expect("ss from iproute2 runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("timer:(keepalive"), "{text}");
}

/// A peer on `addr` that accepts and echoes until told to stop.
async fn echo_on(addr: SocketAddr) -> tokio::task::JoinHandle<()> {
    let listener = TcpListener::bind(addr).await.unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = stream.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    })
}

/// A connection with a reconnect policy to a listener of the test's: the
/// transport (kept alive), the connection, its VC, the listener and the
/// server's side of the VC.
async fn with_policy(
    engine: &rxce::Engine,
    handler: std::sync::Arc<dyn rxce::ConnectionEventHandler>,
    attempts: u32,
    backoff: Duration,
) -> (
    rxce::Transport,
    rxce::Connection,
    rxce::Vc,
    TcpListener,
    tokio::net::TcpStream,
) {
    let (listener, addr) = tcp_listener().await;
    let (transport, address) = tcp_address(engine);
    let (connection, vc) = address.build_connection(to(addr), handler).await.unwrap();
    connection.set_reconnect_policy(Some(ReconnectPolicy {
        attempts,
        initial_backoff: backoff,
        max_backoff: backoff * 4,
    }));
    let (peer, _) = listener.accept().await.unwrap();
    (transport, connection, vc, listener, peer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_goes_away_and_comes_back_gets_its_vc_rebuilt() {
    let engine = engine();
    let handler = Recorder::taking_all();
    let (_t, connection, lost, listener, peer) =
        with_policy(&engine, handler.clone(), 20, Duration::from_millis(50)).await;
    let addr = listener.local_addr().unwrap();
    // The server goes away: its listener and the connection, abruptly.
    drop(listener);
    let std = peer.into_std().unwrap();
    socket2::SockRef::from(&std).set_linger(Some(Duration::ZERO)).unwrap();
    drop(std);
    handler
        .wait_for("the loss", |e| e.iter().any(|e| matches!(e, Event::Disconnect { .. })))
        .await;
    // ... and comes back on the same port a little later.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let server = echo_on(addr).await;
    let events = handler
        .wait_for("the rebuilt VC", |e| {
            e.iter().any(|e| matches!(e, Event::Reconnected { .. }))
        })
        .await;
    let restored = handler.restored.lock().unwrap()[0].clone();
    assert!(events.contains(&Event::Reconnected {
        lost: lost.id(),
        restored: restored.id()
    }));
    assert_eq!(
        connection.virtual_circuit_count(),
        2,
        "the lost VC stays until torn down"
    );
    restored.send(&b"back again"[..], SendOptions::empty()).await.unwrap();
    assert_eq!(handler.wait_for_bytes(10).await, b"back again");
    lost.tear_down().await.unwrap();
    assert_eq!(connection.least_loaded_vc(), Some(restored));
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_gives_up_after_the_policy_s_attempts() {
    let engine = engine();
    let handler = Recorder::taking_all();
    let (transport, _connection, lost, listener, peer) =
        with_policy(&engine, handler.clone(), 3, Duration::from_millis(20)).await;
    drop(listener);
    drop(peer);
    let events = handler
        .wait_for("giving up", |e| {
            e.iter().any(|e| matches!(e, Event::ReconnectFailed { .. }))
        })
        .await;
    let (why, status) = events
        .iter()
        .find_map(|e| match e {
            Event::ReconnectFailed { lost: id, status } => Some((*id, status.clone())),
            _ => None,
        })
        .unwrap();
    assert_eq!(why, lost.id());
    assert_eq!(status, Status::CONNECTION_REFUSED);
    assert!(status.to_string().contains("after 3 attempts"), "{status}");
    // A graceful disconnect of our own is no loss: nothing is rebuilt.
    let (listener, addr) = tcp_listener().await;
    let quiet = Recorder::taking_all();
    let address = transport.addresses()[0].clone();
    let (connection, vc) = address.build_connection(to(addr), quiet.clone()).await.unwrap();
    connection.set_reconnect_policy(Some(ReconnectPolicy::default()));
    let (peer, _) = listener.accept().await.unwrap();
    vc.initiate_disconnect().unwrap();
    drop(peer);
    quiet
        .wait_for("the release", |e| {
            e.iter().any(|e| matches!(e, Event::Disconnect { .. }))
        })
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(connection.virtual_circuit_count(), 1);
    assert!(!quiet
        .events()
        .iter()
        .any(|e| matches!(e, Event::Reconnected { .. } | Event::ReconnectFailed { .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_holding_bytes_is_not_mistaken_for_a_dead_peer() {
    let engine = engine_with(EngineConfig {
        dead_peer_timeout: Some(Duration::from_millis(200)),
        ..EngineConfig::default()
    });
    let (listener, addr) = tcp_listener().await;
    let (_t, address) = tcp_address(&engine);
    // Refuses everything until told otherwise: the engine stops reading.
    let holding = Recorder::answering(|_, _| ReceiveAnswer::NotAccepted);
    let (_c, vc) = address.build_connection(to(addr), holding.clone()).await.unwrap();
    let (mut peer, _) = listener.accept().await.unwrap();
    peer.write_all(b"held").await.unwrap();
    holding
        .wait_for("the refused indication", |e| {
            e.iter().any(|e| matches!(e, Event::Received { .. }))
        })
        .await;
    // Three dead-peer timeouts while the client holds the bytes.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(holding.disconnects().is_empty(), "{:?}", holding.events());
    holding.set_answer(|_, ind| ReceiveAnswer::take_all(ind));
    vc.resume_receive().unwrap();
    assert_eq!(holding.wait_for_bytes(4).await, b"held");
    // Reading again, the clock runs again: a silent peer is now dead.
    let events = holding
        .wait_for("the dead-peer disconnect", |e| {
            e.iter().any(|e| matches!(e, Event::Disconnect { .. }))
        })
        .await;
    assert_eq!(
        holding.disconnects(),
        vec![(DisconnectFlags::ABORT, Status::IO_TIMEOUT)],
        "{events:?}"
    );
}

/// Resets the peer's side of a connection (the server "crashes").
fn reset(peer: tokio::net::TcpStream) {
    let std = peer.into_std().unwrap();
    socket2::SockRef::from(&std).set_linger(Some(Duration::ZERO)).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_vc_torn_down_before_its_rebuild_is_not_rebuilt_nor_reported() {
    let engine = engine();
    let handler = Recorder::taking_all();
    let (_t, connection, lost, listener, peer) =
        with_policy(&engine, handler.clone(), 20, Duration::from_millis(300)).await;
    reset(peer);
    handler
        .wait_for("the loss", |e| e.iter().any(|e| matches!(e, Event::Disconnect { .. })))
        .await;
    // The client is done with the lost VC before the first rebuild (the
    // server still listens: a rebuild would succeed at once).
    lost.tear_down().await.unwrap();
    let rebuilt = tokio::time::timeout(Duration::from_millis(900), listener.accept()).await;
    assert!(rebuilt.is_err(), "no rebuild after the lost VC's tear-down");
    assert!(
        !handler
            .events()
            .iter()
            .any(|e| matches!(e, Event::Reconnected { .. } | Event::ReconnectFailed { .. })),
        "nothing is reported about a VC after its tear-down returned: {:?}",
        handler.events()
    );
    assert_eq!(connection.virtual_circuit_count(), 0);
}

/// Takes its time to hear that a lost VC could not be rebuilt, and notes
/// when it did.
#[derive(Default)]
struct SlowToHear {
    started: std::sync::atomic::AtomicBool,
    heard: std::sync::Mutex<Option<Instant>>,
}

impl rxce::ConnectionEventHandler for SlowToHear {
    fn reconnect_failed(&self, _lost: &rxce::Vc, _status: Status) {
        self.started.store(true, std::sync::atomic::Ordering::SeqCst);
        std::thread::sleep(Duration::from_secs(1));
        *self.heard.lock().unwrap() = Some(Instant::now());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_tear_down_waits_for_a_rebuild_being_reported() {
    let engine = engine_with(EngineConfig {
        slow_callback: None,
        ..EngineConfig::default()
    });
    let handler = std::sync::Arc::new(SlowToHear::default());
    let (_t, connection, _lost, listener, peer) =
        with_policy(&engine, handler.clone(), 1, Duration::from_millis(20)).await;
    drop(listener);
    reset(peer);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !handler.started.load(std::sync::atomic::Ordering::SeqCst) {
        assert!(Instant::now() < deadline, "the engine did not give up");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    connection.tear_down().await.unwrap();
    let returned = Instant::now();
    let heard = handler
        .heard
        .lock()
        .unwrap()
        .expect("the report ran to its end before the tear-down returned");
    assert!(heard <= returned);
}
