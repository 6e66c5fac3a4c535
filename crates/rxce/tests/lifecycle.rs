//! Build and tear-down of every object, the registry, the budget, and the
//! handles' validity.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use rxce::tdi::service_flags;
use rxce::{
    ConnectionInformation, EngineConfig, Information, InformationClass, LiveObjects, NoEvents, SendOptions, Status,
    TransportAddress, VcState,
};
use rxce_testsupport::peers::{closed_port, BlackHole};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transports_bind_by_name_and_report_their_information() {
    let engine = engine();
    let tcp = engine.build_transport("tcp", 7).unwrap();
    assert_eq!(tcp.name(), "tcp");
    let info = tcp.query_information().unwrap();
    assert_eq!((info.connection_count, info.quality_of_service), (0, 7));
    let provider = tcp.provider_info().unwrap();
    assert_eq!(provider.version, 0x0200);
    assert_ne!(provider.service_flags & service_flags::CONNECTION_MODE, 0);
    assert_eq!(provider.service_flags & service_flags::MESSAGE_MODE, 0);
    let smb = engine.build_transport("tcp+smb", 0).unwrap();
    assert_ne!(
        smb.provider_info().unwrap().service_flags & service_flags::MESSAGE_MODE,
        0
    );
    let err = engine.build_transport("nope", 0).unwrap_err();
    assert_eq!(err, Status::INVALID_PARAMETER);
    assert!(err.to_string().contains("nope"), "{err}");
    assert_eq!(engine.build_transport("", 0).unwrap_err(), Status::INVALID_PARAMETER);
    assert_eq!(engine.live_objects().transports, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn addresses_must_be_ones_the_provider_can_own() {
    let engine = engine();
    let tcp = engine.build_transport("tcp", 0).unwrap();
    let ok = tcp
        .build_address(TransportAddress::ip("127.0.0.1:0".parse().unwrap()), Arc::new(NoEvents))
        .unwrap();
    assert_eq!(ok.local_address().to_string(), "127.0.0.1:0");
    // TEST-NET-1 is no address of this host.
    let foreign = tcp
        .build_address(TransportAddress::ip("192.0.2.1:0".parse().unwrap()), Arc::new(NoEvents))
        .unwrap_err();
    assert_eq!(foreign, Status::INVALID_PARAMETER);
    let wrong_kind = tcp
        .build_address(TransportAddress::memory("x"), Arc::new(NoEvents))
        .unwrap_err();
    assert_eq!(wrong_kind, Status::INVALID_PARAMETER);
    let memory = engine.build_transport("memory", 0).unwrap();
    assert_eq!(
        memory
            .build_address(TransportAddress::any_ipv4(), Arc::new(NoEvents))
            .unwrap_err(),
        Status::INVALID_PARAMETER
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_comes_with_its_first_vc_and_goes_with_it() {
    let engine = engine();
    let echo = tcp_echo().await;
    let (transport, address) = tcp_address(&engine);
    let handler = Recorder::taking_all();
    let (connection, vc) = address.build_connection(to(echo), handler.clone()).await.unwrap();
    assert_eq!(vc.state(), VcState::Active);
    assert_eq!(vc.connection().id(), connection.id());
    assert_eq!(connection.virtual_circuit_count(), 1);
    assert_eq!(connection.vcs(), vec![vc.clone()]);
    assert_eq!(transport.query_information().unwrap().connection_count, 1);
    assert_eq!(
        engine.live_objects(),
        LiveObjects {
            transports: 1,
            addresses: 1,
            connections: 1,
            vcs: 1
        }
    );

    vc.send(&b"ping"[..], SendOptions::empty()).await.unwrap();
    assert_eq!(handler.wait_for_bytes(4).await, b"ping");

    connection.tear_down().await.unwrap();
    assert!(!vc.is_valid());
    assert!(!connection.is_valid());
    assert_eq!(transport.query_information().unwrap().connection_count, 0);
    let again = connection.tear_down().await.unwrap_err();
    assert_eq!(again, Status::INVALID_HANDLE);
    assert_eq!(vc.tear_down().await.unwrap_err(), Status::INVALID_HANDLE);
    assert_eq!(
        vc.send(&b"x"[..], SendOptions::empty()).await.unwrap_err(),
        Status::INVALID_HANDLE
    );
    assert_eq!(
        vc.query_information(InformationClass::ConnectionEndpoint).unwrap_err(),
        Status::INVALID_HANDLE
    );
    assert_eq!(vc.resume_receive().unwrap_err(), Status::INVALID_HANDLE);
    assert_eq!(vc.initiate_disconnect().unwrap_err(), Status::INVALID_HANDLE);
    assert_eq!(connection.build_vc().await.unwrap_err(), Status::INVALID_HANDLE);
    drop((connection, vc));
    assert_eq!(engine.live_objects().vcs, 0);
    assert_eq!(engine.live_objects().connections, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn build_vc_adds_a_second_circuit_to_the_same_remote() {
    let engine = engine();
    let echo = tcp_echo().await;
    let (_transport, address) = tcp_address(&engine);
    let handler = Recorder::taking_all();
    let (connection, first) = address.build_connection(to(echo), handler.clone()).await.unwrap();
    let second = connection.build_vc().await.unwrap();
    assert_ne!(first, second);
    assert_eq!(connection.virtual_circuit_count(), 2);
    second.send(&b"two"[..], SendOptions::empty()).await.unwrap();
    let events = handler
        .wait_for("the echo on the second VC", |e| {
            e.iter()
                .any(|e| matches!(e, Event::Received { vc, .. } if *vc == second.id()))
        })
        .await;
    assert!(events
        .iter()
        .all(|e| !matches!(e, Event::Received { vc, .. } if *vc == first.id())));
    second.tear_down().await.unwrap();
    assert_eq!(connection.virtual_circuit_count(), 1);
    assert!(first.is_valid());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tearing_down_a_transport_tears_down_everything_under_it() {
    let engine = engine();
    let echo = tcp_echo().await;
    let budget_before = engine.budget_in_use();
    let (transport, address) = tcp_address(&engine);
    let mut vcs = Vec::new();
    for _ in 0..5 {
        let (connection, vc) = address
            .build_connection(to(echo), Recorder::taking_all())
            .await
            .unwrap();
        connection.build_vc().await.unwrap();
        vcs.push((connection, vc));
    }
    assert_eq!(engine.live_objects().vcs, 10);
    transport.tear_down().await.unwrap();
    for (connection, vc) in &vcs {
        assert!(!connection.is_valid());
        assert!(!vc.is_valid());
    }
    assert!(!address.is_valid());
    assert_eq!(transport.tear_down().await.unwrap_err(), Status::INVALID_HANDLE);
    assert_eq!(address.tear_down().await.unwrap_err(), Status::INVALID_HANDLE);
    assert_eq!(
        transport
            .build_address(TransportAddress::any_ipv4(), Arc::new(NoEvents))
            .unwrap_err(),
        Status::INVALID_HANDLE
    );
    assert_eq!(transport.query_information().unwrap_err(), Status::INVALID_HANDLE);
    drop(vcs);
    drop(address);
    drop(transport);
    assert_eq!(engine.live_objects(), LiveObjects::default());
    assert_eq!(engine.budget_in_use(), budget_before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connect_reports_connection_refused_and_leaves_nothing() {
    let engine = engine();
    let (transport, address) = tcp_address(&engine);
    let err = address
        .build_connection(to(closed_port()), Recorder::taking_all())
        .await
        .unwrap_err();
    assert_eq!(err, Status::CONNECTION_REFUSED);
    assert!(err.to_string().contains("connecting to"), "{err}");
    assert!(std::error::Error::source(&err).is_some(), "the OS error is kept");
    assert!(address.connections().is_empty());
    assert_eq!(transport.query_information().unwrap().connection_count, 0);
    assert_eq!(engine.live_objects().connections, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_black_holed_connect_times_out_with_io_timeout() {
    let engine = engine_with(EngineConfig {
        connect_timeout: Duration::from_millis(300),
        ..EngineConfig::default()
    });
    let hole = BlackHole::new().unwrap();
    let (_transport, address) = tcp_address(&engine);
    let started = std::time::Instant::now();
    let err = address
        .build_connection(to(hole.addr()), Recorder::taking_all())
        .await
        .unwrap_err();
    assert_eq!(err, Status::IO_TIMEOUT);
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(engine.live_objects().connections, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_loopback_works_like_ipv4() {
    let Ok(listener) = tokio::net::TcpListener::bind("[::1]:0").await else {
        panic!("IPv6 loopback is available on these machines");
    };
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let (mut r, mut w) = s.split();
        let _ = tokio::io::copy(&mut r, &mut w).await;
    });
    let engine = engine();
    let transport = engine.build_transport("tcp", 0).unwrap();
    let address = transport
        .build_address(TransportAddress::ip("[::]:0".parse().unwrap()), Arc::new(NoEvents))
        .unwrap();
    let handler = Recorder::taking_all();
    let (_c, vc) = address.build_connection(to(addr), handler.clone()).await.unwrap();
    vc.send(&b"six"[..], SendOptions::empty()).await.unwrap();
    assert_eq!(handler.wait_for_bytes(3).await, b"six");
    match vc.query_information(InformationClass::RemoteAddress).unwrap() {
        Information::RemoteAddress(info) => assert_eq!(info.address, TransportAddress::ip(addr)),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_connection_information_is_an_invalid_parameter() {
    let engine = engine();
    let (_transport, address) = tcp_address(&engine);
    let cases = [
        ConnectionInformation::default(),
        ConnectionInformation::to(TransportAddress::memory("x")),
        ConnectionInformation::to(TransportAddress::ip("127.0.0.1:0".parse().unwrap())),
        ConnectionInformation::to(TransportAddress::ip("0.0.0.0:445".parse().unwrap())),
    ];
    for info in cases {
        let err = address
            .build_connection(info.clone(), Recorder::taking_all())
            .await
            .unwrap_err();
        assert_eq!(err, Status::INVALID_PARAMETER, "{info:?}");
    }
    assert_eq!(engine.live_objects().connections, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_budget_too_small_gives_insufficient_resources() {
    let nothing = engine_with(EngineConfig {
        budget_bytes: 0,
        ..EngineConfig::default()
    });
    assert_eq!(
        nothing.build_transport("tcp", 0).unwrap_err(),
        Status::INSUFFICIENT_RESOURCES
    );
    // Room for a transport, an address and a connection but not a VC.
    let tiny = engine_with(EngineConfig {
        budget_bytes: 3000,
        ..EngineConfig::default()
    });
    let echo = tcp_echo().await;
    let (_transport, address) = tcp_address(&tiny);
    let err = address
        .build_connection(to(echo), Recorder::taking_all())
        .await
        .unwrap_err();
    assert_eq!(err, Status::INSUFFICIENT_RESOURCES);
    assert!(err.to_string().contains("budget"), "{err}");
    assert_eq!(tiny.live_objects().connections, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configuration_the_engine_cannot_run_with_is_refused() {
    for config in [
        EngineConfig {
            receive_buffer_size: 16,
            ..EngineConfig::default()
        },
        EngineConfig {
            connect_timeout: Duration::ZERO,
            ..EngineConfig::default()
        },
    ] {
        let err = rxce::Engine::with_runtime(tokio::runtime::Handle::current(), config).unwrap_err();
        assert_eq!(err, Status::INVALID_PARAMETER);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_engine_closes_every_connection() {
    let (listener, addr) = tcp_listener().await;
    let engine = engine();
    let (_transport, address) = tcp_address(&engine);
    let (_connection, _vc) = address
        .build_connection(to(addr), Recorder::taking_all())
        .await
        .unwrap();
    let (mut peer, _) = listener.accept().await.unwrap();
    drop(engine);
    drop(address);
    assert!(read_to_end(&mut peer).await.is_empty(), "the peer sees the end");
}

#[test]
fn an_engine_with_its_own_threads_runs_and_shuts_down() {
    let engine = rxce::Engine::new(EngineConfig {
        worker_threads: 1,
        ..EngineConfig::default()
    })
    .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let echo = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            std::thread::spawn(move || {
                let (mut s, _) = listener.accept().unwrap();
                let mut r = s.try_clone().unwrap();
                let _ = std::io::copy(&mut r, &mut s);
            });
            addr
        };
        let transport = engine.build_transport("tcp", 0).unwrap();
        let address = transport
            .build_address(TransportAddress::any_ipv4(), Arc::new(NoEvents))
            .unwrap();
        let handler = Recorder::taking_all();
        // Awaited from another runtime: the engine's own threads do the work.
        let (_c, vc) = address.build_connection(to(echo), handler.clone()).await.unwrap();
        vc.send(&b"threads"[..], SendOptions::empty()).await.unwrap();
        assert_eq!(handler.wait_for_bytes(7).await, b"threads");
        engine.shutdown().await;
        assert!(!vc.is_valid());
        assert_eq!(engine.build_transport("tcp", 0).unwrap_err(), Status::INVALID_HANDLE);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_names_resolve_through_the_system_resolver() {
    let engine = engine();
    let echo = tcp_echo().await;
    let (_transport, address) = tcp_address(&engine);
    let handler = Recorder::taking_all();
    let by_name = ConnectionInformation::to(TransportAddress::host_name("localhost", echo.port()));
    let (_c, vc) = address.build_connection(by_name, handler.clone()).await.unwrap();
    vc.send(&b"named"[..], SendOptions::empty()).await.unwrap();
    assert_eq!(handler.wait_for_bytes(5).await, b"named");
    let nowhere = ConnectionInformation::to(TransportAddress::host_name("no-such-host.invalid", 445));
    let err = address
        .build_connection(nowhere, Recorder::taking_all())
        .await
        .unwrap_err();
    assert_eq!(err, Status::BAD_NETWORK_PATH);
}
