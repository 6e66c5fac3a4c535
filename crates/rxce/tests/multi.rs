//! Connections over several transports: the three policies racing refused,
//! black-holed, slow and fast transports; cancellation; deadlines;
//! multichannel VCs.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use rxce::wire::nbss::{encode_session_response, parse_session_request, SessionResponse};
use rxce::{
    build_connection_over_multiple_transports, Address, ConnectionInformation, DisconnectFlags, Engine,
    MultiConnectOptions, NoEvents, SelectPolicy, SendOptions, Status, TransportAddress,
};
use rxce_testsupport::peers::{closed_port, BlackHole};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn address(engine: &Engine, transport: &str, quality: u32) -> Address {
    engine
        .build_transport(transport, quality)
        .unwrap()
        .build_address(TransportAddress::any_ipv4(), Arc::new(NoEvents))
        .unwrap()
}

/// A NetBIOS session peer that answers positively after `delay`, then
/// echoes session messages.
async fn slow_session_peer(delay: Duration) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 256];
                loop {
                    if let Ok(Some(_)) = parse_session_request(&buf) {
                        break;
                    }
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                tokio::time::sleep(delay).await;
                if stream
                    .write_all(&encode_session_response(&SessionResponse::Positive))
                    .await
                    .is_err()
                {
                    return;
                }
                let (mut r, mut w) = stream.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    addr
}

fn options(policy: SelectPolicy) -> MultiConnectOptions {
    MultiConnectOptions {
        policy,
        attempt_timeout: Some(Duration::from_secs(5)),
        ..MultiConnectOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_successful_picks_the_fast_transport_without_waiting_for_the_black_hole() {
    let engine = engine();
    let hole = BlackHole::new().unwrap();
    let slow = slow_session_peer(Duration::from_millis(400)).await;
    let fast = tcp_echo().await;
    let addresses = [
        address(&engine, "tcp", 0),
        address(&engine, "tcp", 0),
        address(&engine, "netbt", 0),
        address(&engine, "tcp", 0),
    ];
    let remotes = [to(hole.addr()), to(closed_port()), to(slow), to(fast)];
    // The fast path's own connect time, measured in the same run.
    let plain = Instant::now();
    let (c, vc) = addresses[3]
        .build_connection(to(fast), Recorder::taking_all())
        .await
        .unwrap();
    let plain = plain.elapsed();
    c.tear_down().await.unwrap();
    drop((c, vc));
    let handler = Recorder::taking_all();
    let started = Instant::now();
    let built = build_connection_over_multiple_transports(
        &addresses,
        &remotes,
        handler.clone(),
        &options(SelectPolicy::FirstSuccessful),
    )
    .await
    .unwrap();
    let elapsed = started.elapsed();
    eprintln!("race: winner after {elapsed:?}; the fast path's own connect took {plain:?}");
    assert_eq!(built.address_index, 3);
    assert_eq!(built.vcs.len(), 1);
    let stagger = MultiConnectOptions::default().transport_stagger * 3;
    assert!(
        elapsed < plain + stagger + Duration::from_millis(200),
        "never the black hole's timeout: {elapsed:?}"
    );
    let statuses: Vec<Status> = built.attempts.iter().map(|a| a.status.clone()).collect();
    assert_eq!(
        statuses,
        vec![
            Status::CANCELLED,
            Status::CONNECTION_REFUSED,
            Status::CANCELLED,
            Status::SUCCESS
        ]
    );
    assert!(built.attempts[3].chosen && built.attempts.iter().filter(|a| a.chosen).count() == 1);
    assert_eq!(built.attempts[2].transport, "netbt");
    assert_eq!(built.connection.address().id(), addresses[3].id());
    built.vcs[0].send(&b"won"[..], SendOptions::empty()).await.unwrap();
    assert_eq!(handler.wait_for_bytes(3).await, b"won");
    assert_eq!(engine.live_objects().vcs, 1, "losers left nothing behind");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn best_successful_waits_for_the_higher_quality_of_service() {
    let engine = engine();
    let slow = slow_session_peer(Duration::from_millis(300)).await;
    let fast = tcp_echo().await;
    let addresses = [address(&engine, "tcp", 10), address(&engine, "netbt", 20)];
    let started = Instant::now();
    let built = build_connection_over_multiple_transports(
        &addresses,
        &[to(fast), to(slow)],
        Recorder::taking_all(),
        &MultiConnectOptions {
            best_wait: Duration::from_secs(3),
            ..options(SelectPolicy::BestSuccessful)
        },
    )
    .await
    .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(built.address_index, 1, "netbt has the higher quality of service");
    assert_eq!(built.attempts[0].status, Status::CANCELLED, "the loser was closed");
    assert!(built.attempts[1].chosen);
    assert_eq!(engine.live_objects().vcs, 1);

    // Equal quality: the earlier address wins.
    let equal = [address(&engine, "tcp", 5), address(&engine, "tcp", 5)];
    let built = build_connection_over_multiple_transports(
        &equal,
        &[to(fast)],
        Recorder::taking_all(),
        &options(SelectPolicy::BestSuccessful),
    )
    .await
    .unwrap();
    assert_eq!(built.address_index, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_successful_makes_one_multichannel_connection() {
    let engine = engine();
    let (listener_a, a) = tcp_listener().await;
    let (listener_b, b) = tcp_listener().await;
    let addresses = [
        address(&engine, "tcp", 0),
        address(&engine, "tcp+smb", 0),
        address(&engine, "tcp", 0),
    ];
    let handler = Recorder::taking_all();
    let built = build_connection_over_multiple_transports(
        &addresses,
        &[to(a), to(b), to(closed_port())],
        handler.clone(),
        &options(SelectPolicy::AllSuccessful),
    )
    .await
    .unwrap();
    let (mut peer_a, _) = listener_a.accept().await.unwrap();
    let (mut peer_b, _) = listener_b.accept().await.unwrap();
    assert_eq!(built.vcs.len(), 2);
    assert_eq!(built.connection.virtual_circuit_count(), 2);
    assert_eq!(built.attempts[2].status, Status::CONNECTION_REFUSED);
    // The first VC (the first to connect) names the connection's address.
    assert!(built
        .attempts
        .iter()
        .any(|r| r.chosen && r.address_index == built.address_index));
    assert_eq!(built.connection.address().id(), addresses[built.address_index].id());
    for vc in &built.vcs {
        vc.send(&b"both"[..], SendOptions::empty()).await.unwrap();
    }
    assert_eq!(read_n(&mut peer_a, 4).await, b"both");
    assert_eq!(
        read_n(&mut peer_b, 8).await,
        b"\0\0\0\x04both",
        "the second VC is framed"
    );
    // The VC over tcp+smb reports its own transport.
    let framed = built
        .vcs
        .iter()
        .find(
            |vc| match vc.query_information(rxce::InformationClass::TransportProvider).unwrap() {
                rxce::Information::TransportProvider(p) => {
                    p.service_flags & rxce::tdi::service_flags::MESSAGE_MODE != 0
                }
                _ => false,
            },
        )
        .expect("one VC is framed");
    // Losing one VC leaves the connection up on the other.
    let other = built.vcs.iter().find(|vc| *vc != framed).unwrap().clone();
    drop(peer_b);
    handler
        .wait_for("the framed VC's disconnect", |e| {
            e.iter().any(|e| matches!(e, Event::Disconnect { .. }))
        })
        .await;
    let disconnected: Vec<u64> = handler
        .events()
        .iter()
        .filter_map(|e| match e {
            Event::Disconnect { vc, flags, .. } => {
                assert_eq!(*flags, DisconnectFlags::RELEASE);
                Some(*vc)
            }
            _ => None,
        })
        .collect();
    assert_eq!(disconnected, vec![framed.id()], "the handler learns which VC went");
    assert!(built.connection.is_valid());
    assert_eq!(built.connection.least_loaded_vc(), Some(other.clone()));
    other.send(&b"still"[..], SendOptions::empty()).await.unwrap();
    assert_eq!(read_n(&mut peer_a, 5).await, b"still");
    // The connection lives on its first VC's address; tearing down the
    // other VC's address takes that VC only.
    let home = built.connection.address();
    let (borrowed, at_home) = if framed.address().id() == home.id() {
        (other.clone(), framed.clone())
    } else {
        (framed.clone(), other.clone())
    };
    assert_eq!(at_home.address().id(), home.id());
    borrowed.address().tear_down().await.unwrap();
    assert!(!borrowed.is_valid());
    assert!(at_home.is_valid());
    assert!(built.connection.is_valid());
    home.tear_down().await.unwrap();
    assert!(!at_home.is_valid() && !built.connection.is_valid());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connect_request_in_flight_can_be_cancelled() {
    let engine = engine();
    let hole = BlackHole::new().unwrap();
    let addr = address(&engine, "tcp", 0);
    let remote = to(hole.addr());
    let build = tokio::spawn({
        let addresses = vec![addr.clone()];
        let remote = remote.clone();
        async move {
            build_connection_over_multiple_transports(
                &addresses,
                &[remote],
                Recorder::taking_all(),
                &options(SelectPolicy::FirstSuccessful),
            )
            .await
        }
    });
    let started = Instant::now();
    let mut cancelled = 0;
    while cancelled == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the attempt never showed up"
        );
        cancelled = addr.cancel_connect_request(&remote).unwrap_or(0);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(cancelled, 1);
    let err = build.await.unwrap().unwrap_err();
    assert_eq!(err.status, Status::CANCELLED);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(
        addr.cancel_connect_request(&remote).unwrap_err(),
        Status::INVALID_PARAMETER,
        "nothing left to cancel"
    );
    // A plain build in flight is cancelled the same way.
    let single = tokio::spawn({
        let addr = addr.clone();
        let remote = remote.clone();
        async move { addr.build_connection(remote, Recorder::taking_all()).await }
    });
    while addr.cancel_connect_request(&remote).is_err() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(single.await.unwrap().unwrap_err(), Status::CANCELLED);
    assert_eq!(engine.live_objects().connections, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overall_deadline_ends_a_build_of_black_holes() {
    let engine = engine();
    let holes = [BlackHole::new().unwrap(), BlackHole::new().unwrap()];
    let addresses = [address(&engine, "tcp", 0), address(&engine, "tcp", 0)];
    let started = Instant::now();
    let err = build_connection_over_multiple_transports(
        &addresses,
        &[to(holes[0].addr()), to(holes[1].addr())],
        Recorder::taking_all(),
        &MultiConnectOptions {
            deadline: Some(Duration::from_millis(300)),
            ..options(SelectPolicy::AllSuccessful)
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.status, Status::IO_TIMEOUT);
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(2),
        "{elapsed:?}"
    );
    assert!(
        err.attempts.iter().all(|a| a.status == Status::IO_TIMEOUT),
        "{:?}",
        err.attempts
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_succeeding_reports_the_most_telling_status() {
    let engine = engine();
    let hole = BlackHole::new().unwrap();
    let addresses = [address(&engine, "tcp", 0), address(&engine, "tcp", 0)];
    let err = build_connection_over_multiple_transports(
        &addresses,
        &[to(closed_port()), to(hole.addr())],
        Recorder::taking_all(),
        &MultiConnectOptions {
            attempt_timeout: Some(Duration::from_millis(200)),
            ..options(SelectPolicy::FirstSuccessful)
        },
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.status,
        Status::CONNECTION_REFUSED,
        "a refusal tells more than a timeout"
    );
    assert_eq!(err.attempts[1].status, Status::IO_TIMEOUT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_arguments_and_dead_addresses_are_refused_at_once() {
    let engine = engine();
    let echo = tcp_echo().await;
    let a = address(&engine, "tcp", 0);
    let b = address(&engine, "tcp", 0);
    let none: [Address; 0] = [];
    let err = build_connection_over_multiple_transports(
        &none,
        &[to(echo)],
        Recorder::taking_all(),
        &MultiConnectOptions::default(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.status, Status::INVALID_PARAMETER);
    let err = build_connection_over_multiple_transports(
        &[a.clone(), b.clone()],
        &[to(echo), to(echo), to(echo)],
        Recorder::taking_all(),
        &MultiConnectOptions::default(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.status, Status::INVALID_PARAMETER);
    let err = build_connection_over_multiple_transports(
        std::slice::from_ref(&a),
        &[ConnectionInformation::default()],
        Recorder::taking_all(),
        &MultiConnectOptions::default(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.status, Status::INVALID_PARAMETER);
    a.tear_down().await.unwrap();
    b.tear_down().await.unwrap();
    let err = build_connection_over_multiple_transports(
        &[a, b],
        &[to(echo)],
        Recorder::taking_all(),
        &MultiConnectOptions::default(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.status, Status::INVALID_HANDLE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_name_becomes_one_attempt_per_address() {
    let engine = engine();
    let echo = tcp_echo().await;
    let addresses = [address(&engine, "tcp", 0)];
    let built = build_connection_over_multiple_transports(
        &addresses,
        &[ConnectionInformation::to(TransportAddress::host_name(
            "localhost",
            echo.port(),
        ))],
        Recorder::taking_all(),
        &MultiConnectOptions {
            server_name: Some("localhost".into()),
            ..options(SelectPolicy::FirstSuccessful)
        },
    )
    .await
    .unwrap();
    assert_eq!(built.connection.server_name(), Some("localhost"));
    let winner = built.attempts.iter().find(|a| a.chosen).unwrap();
    assert_eq!(
        winner.remote,
        TransportAddress::ip(echo),
        "the resolved address that answered"
    );
    assert!(built.attempts.iter().all(|a| a.remote.ip_entry().is_some()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_least_loaded_vc_is_the_one_with_the_fewest_bytes_waiting() {
    let engine = engine_with(rxce::EngineConfig::default());
    let mut listener = engine.memory_listen("server").unwrap();
    let (_t, addr) = memory_address(&engine, "client");
    let (connection, first) = addr
        .build_connection(
            ConnectionInformation::to(TransportAddress::memory("server")),
            Recorder::taking_all(),
        )
        .await
        .unwrap();
    let second = connection.build_vc().await.unwrap();
    let _peer_one = listener.accept().await.unwrap();
    let _peer_two = listener.accept().await.unwrap();
    // Fill the first VC's pipe and queue more behind it.
    first.send(vec![0u8; 256 * 1024], SendOptions::empty()).await.unwrap();
    assert_eq!(
        first.submit_send(vec![0u8; 1000], SendOptions::empty(), 1).await,
        Status::PENDING
    );
    assert_eq!(connection.least_loaded_vc(), Some(second.clone()));
    second.tear_down().await.unwrap();
    assert_eq!(connection.least_loaded_vc(), Some(first));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_given_up_by_its_caller_leaves_nothing_behind() {
    let engine = engine();
    let hole = BlackHole::new().unwrap();
    let addr = address(&engine, "tcp", 0);
    let remote = to(hole.addr());
    let gave_up = tokio::time::timeout(
        Duration::from_millis(100),
        addr.build_connection(remote.clone(), Recorder::taking_all()),
    )
    .await;
    assert!(gave_up.is_err(), "the black hole never answers");
    assert!(addr.connections().is_empty(), "the unfinished connection is gone");
    assert_eq!(
        addr.cancel_connect_request(&remote).unwrap_err(),
        Status::INVALID_PARAMETER,
        "no attempt is left in flight"
    );
    assert_eq!(engine.live_objects().connections, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tearing_down_an_address_cancels_its_attempts_in_a_build() {
    let engine = engine();
    let hole = BlackHole::new().unwrap();
    let addr = address(&engine, "tcp", 0);
    let build = tokio::spawn({
        let addresses = vec![addr.clone()];
        let remote = to(hole.addr());
        async move {
            build_connection_over_multiple_transports(
                &addresses,
                &[remote],
                Recorder::taking_all(),
                &options(SelectPolicy::FirstSuccessful),
            )
            .await
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    addr.tear_down().await.unwrap();
    let err = build.await.unwrap().unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    assert_eq!(err.status, Status::CANCELLED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staggered_attempt_that_has_not_started_can_be_cancelled() {
    let engine = engine();
    let holes = [BlackHole::new().unwrap(), BlackHole::new().unwrap()];
    let addresses = [address(&engine, "tcp", 0), address(&engine, "tcp", 0)];
    let remotes = [to(holes[0].addr()), to(holes[1].addr())];
    let build = tokio::spawn({
        let addresses = addresses.to_vec();
        let remotes = remotes.to_vec();
        async move {
            build_connection_over_multiple_transports(
                &addresses,
                &remotes,
                Recorder::taking_all(),
                &MultiConnectOptions {
                    transport_stagger: Duration::from_secs(2),
                    ..options(SelectPolicy::FirstSuccessful)
                },
            )
            .await
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    assert_eq!(
        addresses[1].cancel_connect_request(&remotes[1]),
        Ok(1),
        "waiting to start, yet cancellable"
    );
    assert_eq!(addresses[0].cancel_connect_request(&remotes[0]), Ok(1));
    let err = build.await.unwrap().unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
    assert_eq!(err.status, Status::CANCELLED);
    assert!(err.attempts.iter().all(|a| a.status == Status::CANCELLED));
}
