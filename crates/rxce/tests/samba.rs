//! Against Samba itself: a private smbd (and nmbd) on loopback, reached
//! through rxce only. Each test starts its own server; they fail (not skip)
//! when Samba is missing — `scripts/install-test-deps.sh` installs it.
#![cfg(target_os = "linux")] // Linux only: Samba (smbd, nmbd) from Debian packages

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use rxce::wire::NetbiosName;
use rxce::{
    ConnectionInformation, EngineConfig, NetbtConfig, NoEvents, ReceiveAnswer, ReceiveFlags, SendOptions, Status,
    TaAddress, TransportAddress,
};
use rxce_smb2::{dialect, parse_negotiate_response, NegotiateRequest, NegotiateResponse};
use rxce_testsupport::samba::{require_samba, SambaOptions, SambaServer};

fn start(nmbd: bool) -> SambaServer {
    require_samba();
    SambaOptions::new()
        .nmbd(nmbd)
        .start()
        .expect("a private Samba server starts")
}

fn netbt_remote(addr: SocketAddr, called: &str) -> ConnectionInformation {
    ConnectionInformation::to(TransportAddress {
        entries: vec![
            TaAddress::Ip(addr),
            TaAddress::NetBios {
                name: *NetbiosName::parse(called).unwrap().as_bytes(),
            },
        ],
    })
}

/// Builds a VC, sends a NEGOTIATE offering every dialect, and parses the
/// server's whole-message answer.
async fn negotiate(
    engine: &rxce::Engine,
    transport: &str,
    remote: ConnectionInformation,
) -> Result<(NegotiateResponse, ReceiveFlags, usize), Status> {
    let address = engine
        .build_transport(transport, 0)?
        .build_address(TransportAddress::any_ipv4(), Arc::new(NoEvents))?;
    let handler = Recorder::taking_all();
    let (connection, vc) = address.build_connection(remote, handler.clone()).await?;
    let request = NegotiateRequest::default().encode().unwrap();
    vc.send(request, SendOptions::empty()).await?;
    let events = handler
        .wait_for("the NEGOTIATE response", |e| {
            e.iter().any(|e| matches!(e, Event::Received { .. }))
        })
        .await;
    let (data, flags, available) = events
        .into_iter()
        .find_map(|e| match e {
            Event::Received {
                data, flags, available, ..
            } => Some((data, flags, available)),
            _ => None,
        })
        .unwrap();
    connection.tear_down().await?;
    let response = parse_negotiate_response(&data).expect("an SMB2 NEGOTIATE response");
    Ok((response, flags, available))
}

fn check(response: &NegotiateResponse, flags: ReceiveFlags, available: usize) {
    assert_eq!(response.status, 0, "STATUS_SUCCESS");
    assert!(dialect::ALL.contains(&response.dialect), "{:#06x}", response.dialect);
    assert!(response.max_read_size > 0 && response.max_write_size > 0);
    assert!(
        flags.contains(ReceiveFlags::ENTIRE_MESSAGE),
        "indicated whole: {flags:?}"
    );
    assert!(available >= rxce_smb2::HEADER_LEN + 65);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn netbt_negotiates_smb2_with_smbd_by_its_netbios_name() {
    let server = start(false);
    let engine = engine();
    let (response, flags, available) = negotiate(
        &engine,
        "netbt",
        netbt_remote(server.netbt_addr(), server.netbios_name()),
    )
    .await
    .unwrap();
    check(&response, flags, available);
    assert_eq!(response.dialect, dialect::SMB3_1_1);
    eprintln!(
        "netbt: smbd negotiated {} ({})",
        dialect::hex(response.dialect),
        dialect::name(response.dialect)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smbd_takes_any_called_name_so_no_retry_is_needed() {
    // Samba 4.17 answers every well-formed session request positively (the
    // harness's finding); the *SMBSERVER retry and the negative statuses are
    // proven against rxce's own peers in tests/netbt.rs.
    let server = start(false);
    let engine = engine_with(EngineConfig {
        netbt: NetbtConfig {
            retry_smbserver: false,
            ..NetbtConfig::default()
        },
        ..EngineConfig::default()
    });
    let (response, flags, available) = negotiate(&engine, "netbt", netbt_remote(server.netbt_addr(), "NOSUCHNAME"))
        .await
        .unwrap();
    check(&response, flags, available);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_hosted_tcp_negotiates_smb2_with_smbd() {
    let server = start(false);
    let engine = engine();
    let (response, flags, available) = negotiate(&engine, "tcp+smb", ConnectionInformation::to(server.direct_addr()))
        .await
        .unwrap();
    check(&response, flags, available);
    assert_eq!(response.dialect, dialect::SMB3_1_1);
    eprintln!(
        "tcp+smb: smbd negotiated {} ({})",
        dialect::hex(response.dialect),
        dialect::name(response.dialect)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_larger_than_the_lookahead_lands_in_a_client_buffer() {
    let server = start(false);
    // The smallest lookahead: smbd's NEGOTIATE response is larger.
    let engine = engine_with(EngineConfig {
        receive_buffer_size: 128,
        ..EngineConfig::default()
    });
    let address = engine
        .build_transport("tcp+smb", 0)
        .unwrap()
        .build_address(TransportAddress::any_ipv4(), Arc::new(NoEvents))
        .unwrap();
    let indicated = Arc::new(Mutex::new(None));
    let handler = Recorder::answering({
        let indicated = indicated.clone();
        move |_, ind| {
            *indicated.lock().unwrap() = Some((ind.data.len(), ind.available, ind.flags));
            ReceiveAnswer::MoreProcessingRequired {
                taken: 0,
                buffer: Box::new(vec![0u8; ind.available]),
                size: ind.available,
            }
        }
    });
    let (_c, vc) = address
        .build_connection(ConnectionInformation::to(server.direct_addr()), handler.clone())
        .await
        .unwrap();
    vc.send(NegotiateRequest::default().encode().unwrap(), SendOptions::empty())
        .await
        .unwrap();
    let events = handler
        .wait_for("data ready", |e| e.iter().any(|e| matches!(e, Event::DataReady { .. })))
        .await;
    let (len, available, flags) = indicated.lock().unwrap().unwrap();
    assert_eq!(len, 128 - 4, "the lookahead was full (less the frame header)");
    assert!(available > 128, "the message is larger: {available}");
    assert!(!flags.contains(ReceiveFlags::ENTIRE_MESSAGE));
    let (data, status) = events
        .into_iter()
        .find_map(|e| match e {
            Event::DataReady { data, status, .. } => Some((data, status)),
            _ => None,
        })
        .unwrap();
    assert_eq!(status, Status::SUCCESS);
    assert_eq!(data.len(), available);
    let response = parse_negotiate_response(&data).unwrap();
    assert_eq!(response.status, 0);
    assert_eq!(response.dialect, dialect::SMB3_1_1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nmbd_resolves_the_server_name_and_refuses_an_unknown_one() {
    let server = start(true);
    let config = NetbtConfig {
        name_server: server.nmbd_addr(),
        recursion_desired: false,
        name_query_timeout: Duration::from_millis(500),
        ..NetbtConfig::default()
    };
    let name = NetbiosName::parse(server.netbios_name()).unwrap();
    let addresses = rxce::resolve_netbios_name(&name, &config).await.unwrap();
    assert_eq!(addresses, vec![server.netbios_ip().unwrap()]);
    assert!(addresses[0].is_loopback());
    let unknown = NetbiosName::parse("NOSUCHHOST").unwrap();
    let err = rxce::resolve_netbios_name(&unknown, &config).await.unwrap_err();
    assert_eq!(err, Status::BAD_NETWORK_NAME);
    assert!(err.to_string().contains("not registered"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn netbt_reaches_smbd_by_netbios_name_alone() {
    let server = start(true);
    let engine = engine_with(EngineConfig {
        netbt: NetbtConfig {
            name_server: server.nmbd_addr(),
            port: server.netbt_port(),
            name_query_timeout: Duration::from_millis(500),
            ..NetbtConfig::default()
        },
        ..EngineConfig::default()
    });
    let remote = ConnectionInformation::to(TransportAddress::new(TaAddress::NetBios {
        name: *NetbiosName::parse(server.netbios_name()).unwrap().as_bytes(),
    }));
    let (response, flags, available) = negotiate(&engine, "netbt", remote).await.unwrap();
    check(&response, flags, available);
}
