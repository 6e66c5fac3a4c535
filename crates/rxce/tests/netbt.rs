//! The `netbt` transport against rxce's own NetBIOS session peers: positive,
//! negative and retarget responses, the `*SMBSERVER` retry, keepalives,
//! hostile frames, and names resolved with a name query.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use rxce::wire::nbns::{encode_negative_response, encode_positive_response, NameQuery, NbAddress};
use rxce::wire::nbss::{encode_session_response, parse_session_request, NegativeCode, SessionRequest, SessionResponse};
use rxce::wire::NetbiosName;
use rxce::{
    ConnectionInformation, DisconnectFlags, EngineConfig, NetbtConfig, NoEvents, ReceiveFlags, SendOptions, Status,
    TaAddress, TransportAddress,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;

/// How a scripted peer answers a session request.
#[derive(Clone, Debug)]
enum Reply {
    Positive,
    Negative(u8),
    Retarget(SocketAddr),
    Raw(Vec<u8>),
}

/// A NetBIOS session peer: answers every session request with `reply`
/// (given the request and how many came before), records the requests, and
/// hands each accepted session's socket to the test.
struct Peer {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<SessionRequest>>>,
    sessions: mpsc::UnboundedReceiver<TcpStream>,
}

async fn read_request(stream: &mut TcpStream) -> Option<SessionRequest> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 256];
    loop {
        if let Ok(Some((request, _))) = parse_session_request(&buf) {
            return Some(request);
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn peer(reply: impl Fn(&SessionRequest, usize) -> Reply + Send + Sync + 'static) -> Peer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let (tx, sessions) = mpsc::unbounded_channel();
    let reply = Arc::new(reply);
    tokio::spawn({
        let requests = requests.clone();
        async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let Some(request) = read_request(&mut stream).await else {
                    continue;
                };
                let before = {
                    let mut seen = requests.lock().unwrap();
                    seen.push(request.clone());
                    seen.len() - 1
                };
                let bytes = match reply(&request, before) {
                    Reply::Positive => encode_session_response(&SessionResponse::Positive),
                    Reply::Negative(code) => {
                        encode_session_response(&SessionResponse::Negative(NegativeCode::from_u8(code)))
                    }
                    Reply::Retarget(to) => {
                        let SocketAddr::V4(to) = to else { unreachable!() };
                        encode_session_response(&SessionResponse::Retarget {
                            ip: *to.ip(),
                            port: to.port(),
                        })
                    }
                    Reply::Raw(bytes) => bytes,
                };
                let positive = bytes == encode_session_response(&SessionResponse::Positive);
                let _ = stream.write_all(&bytes).await;
                if positive {
                    let _ = tx.send(stream);
                }
            }
        }
    });
    Peer {
        addr,
        requests,
        sessions,
    }
}

fn name(text: &str) -> NetbiosName {
    NetbiosName::parse(text).unwrap()
}

fn remote(addr: SocketAddr, called: &str) -> ConnectionInformation {
    ConnectionInformation::to(TransportAddress {
        entries: vec![
            TaAddress::Ip(addr),
            TaAddress::NetBios {
                name: *name(called).as_bytes(),
            },
        ],
    })
}

fn netbt_engine(netbt: NetbtConfig) -> rxce::Engine {
    engine_with(EngineConfig {
        netbt,
        ..EngineConfig::default()
    })
}

fn netbt_address(engine: &rxce::Engine) -> rxce::Address {
    engine
        .build_transport("netbt", 0)
        .unwrap()
        .build_address(TransportAddress::any_ipv4(), Arc::new(NoEvents))
        .unwrap()
}

/// A session message as the session service frames it.
fn message(payload: &[u8]) -> Vec<u8> {
    let len = payload.len();
    let mut v = vec![0, (len >> 16) as u8, (len >> 8) as u8, len as u8];
    v.extend_from_slice(payload);
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_positive_response_makes_a_vc_of_whole_messages() {
    let mut peer = peer(|_, _| Reply::Positive).await;
    let engine = netbt_engine(NetbtConfig {
        calling_name: "TESTCLIENT".into(),
        ..NetbtConfig::default()
    });
    let address = netbt_address(&engine);
    let handler = Recorder::taking_all();
    let (_c, vc) = address
        .build_connection(remote(peer.addr, "FILESERVER"), handler.clone())
        .await
        .unwrap();
    let request = peer.requests.lock().unwrap()[0].clone();
    assert_eq!(request.called, name("FILESERVER"));
    assert_eq!(request.calling, NetbiosName::new("TESTCLIENT", 0x00).unwrap());
    let mut session = peer.sessions.recv().await.unwrap();
    vc.send(&b"hello"[..], SendOptions::empty()).await.unwrap();
    assert_eq!(read_n(&mut session, 9).await, message(b"hello"));
    let mut wire = message(b"one");
    wire.extend_from_slice(&[0x85, 0, 0, 0]);
    wire.extend(message(&pattern(70_000, 2)));
    session.write_all(&wire).await.unwrap();
    let events = handler
        .wait_for("two messages", |e| {
            e.iter().filter(|e| matches!(e, Event::Received { .. })).count() >= 2
        })
        .await;
    match &events[0] {
        Event::Received {
            data, available, flags, ..
        } => {
            assert_eq!((data.as_slice(), *available), (&b"one"[..], 3));
            assert!(flags.contains(ReceiveFlags::ENTIRE_MESSAGE));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(handler.wait_for_bytes(70_003).await[3..], pattern(70_000, 2)[..]);
    match vc.query_information(rxce::InformationClass::RemoteAddress).unwrap() {
        rxce::Information::RemoteAddress(info) => {
            assert_eq!(info.address.ip_entry(), Some(peer.addr));
            assert_eq!(info.address.netbios_entry(), Some(*name("FILESERVER").as_bytes()));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_negative_response_has_its_own_status_and_keeps_the_code() {
    let cases = [
        (0x80, Status::REMOTE_NOT_LISTENING),
        (0x81, Status::REQUEST_NOT_ACCEPTED),
        (0x82, Status::BAD_NETWORK_NAME),
        (0x83, Status::REMOTE_RESOURCES),
        (0x8F, Status::UNEXPECTED_NETWORK_ERROR),
        (0x99, Status::INVALID_NETWORK_RESPONSE),
    ];
    let engine = netbt_engine(NetbtConfig {
        retry_smbserver: false,
        ..NetbtConfig::default()
    });
    let address = netbt_address(&engine);
    for (code, want) in cases {
        let peer = peer(move |_, _| Reply::Negative(code)).await;
        let err = address
            .build_connection(remote(peer.addr, "NOBODY"), Recorder::taking_all())
            .await
            .unwrap_err();
        assert_eq!(err, want, "code {code:#x}");
        assert!(
            err.to_string().to_lowercase().contains(&format!("0x{code:02x}")),
            "{err}"
        );
        assert_eq!(peer.requests.lock().unwrap().len(), 1, "no retry when it is off");
    }
    assert_eq!(engine.live_objects().connections, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_called_name_is_retried_once_as_smbserver() {
    let mut picky = peer(|request, _| {
        if request.called == NetbiosName::SMBSERVER {
            Reply::Positive
        } else {
            Reply::Negative(0x82)
        }
    })
    .await;
    let engine = netbt_engine(NetbtConfig::default());
    let address = netbt_address(&engine);
    let (_c, vc) = address
        .build_connection(remote(picky.addr, "WRONGNAME"), Recorder::taking_all())
        .await
        .unwrap();
    let called: Vec<NetbiosName> = picky.requests.lock().unwrap().iter().map(|r| r.called).collect();
    assert_eq!(called, vec![name("WRONGNAME"), NetbiosName::SMBSERVER]);
    assert!(picky.sessions.recv().await.is_some());
    vc.send(&b"x"[..], SendOptions::empty()).await.unwrap();

    // Refused again: one retry only, and the second refusal is reported.
    let stubborn = peer(|_, _| Reply::Negative(0x80)).await;
    let err = address
        .build_connection(remote(stubborn.addr, "WRONGNAME"), Recorder::taking_all())
        .await
        .unwrap_err();
    assert_eq!(err, Status::REMOTE_NOT_LISTENING);
    assert_eq!(stubborn.requests.lock().unwrap().len(), 2);
    // A refused *SMBSERVER is not retried with itself.
    let smbserver = peer(|_, _| Reply::Negative(0x82)).await;
    let err = address
        .build_connection(remote(smbserver.addr, "*SMBSERVER"), Recorder::taking_all())
        .await
        .unwrap_err();
    assert_eq!(err, Status::BAD_NETWORK_NAME);
    assert_eq!(smbserver.requests.lock().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retarget_is_followed_once_and_never_in_a_loop() {
    let mut target = peer(|_, _| Reply::Positive).await;
    let redirector = peer({
        let to = target.addr;
        move |_, _| Reply::Retarget(to)
    })
    .await;
    let engine = netbt_engine(NetbtConfig::default());
    let address = netbt_address(&engine);
    let (_c, vc) = address
        .build_connection(remote(redirector.addr, "SERVER"), Recorder::taking_all())
        .await
        .unwrap();
    assert!(target.sessions.recv().await.is_some());
    assert_eq!(target.requests.lock().unwrap()[0].called, name("SERVER"));
    match vc.query_information(rxce::InformationClass::RemoteAddress).unwrap() {
        rxce::Information::RemoteAddress(info) => {
            assert_eq!(info.address.ip_entry(), Some(target.addr))
        }
        other => panic!("{other:?}"),
    }

    // A peer that retargets to itself.
    let me = Arc::new(Mutex::new(None::<SocketAddr>));
    let to_itself = peer({
        let me = me.clone();
        move |_, _| Reply::Retarget(me.lock().unwrap().expect("set before any connect"))
    })
    .await;
    *me.lock().unwrap() = Some(to_itself.addr);
    let err = address
        .build_connection(remote(to_itself.addr, "SERVER"), Recorder::taking_all())
        .await
        .unwrap_err();
    assert_eq!(err, Status::INVALID_NETWORK_RESPONSE);
    assert!(err.to_string().contains("only once"), "{err}");
    assert_eq!(
        to_itself.requests.lock().unwrap().len(),
        2,
        "followed once, then stopped"
    );

    let off = netbt_engine(NetbtConfig {
        follow_retarget: false,
        ..NetbtConfig::default()
    });
    let err = netbt_address(&off)
        .build_connection(remote(redirector.addr, "SERVER"), Recorder::taking_all())
        .await
        .unwrap_err();
    assert_eq!(err, Status::INVALID_NETWORK_RESPONSE);
    assert!(err.to_string().contains("following is off"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keepalives_go_out_on_an_idle_session_only_after_the_first_message() {
    let mut peer = peer(|_, _| Reply::Positive).await;
    let engine = netbt_engine(NetbtConfig {
        keepalive_interval: Some(Duration::from_millis(100)),
        ..NetbtConfig::default()
    });
    let address = netbt_address(&engine);
    let (_c, vc) = address
        .build_connection(remote(peer.addr, "SERVER"), Recorder::taking_all())
        .await
        .unwrap();
    let mut session = peer.sessions.recv().await.unwrap();
    let mut early = [0u8; 4];
    let nothing = tokio::time::timeout(Duration::from_millis(350), session.read(&mut early)).await;
    assert!(nothing.is_err(), "no keepalive before the first message");
    vc.send(&b"first"[..], SendOptions::empty()).await.unwrap();
    assert_eq!(read_n(&mut session, 9).await, message(b"first"));
    let started = std::time::Instant::now();
    assert_eq!(read_n(&mut session, 8).await, [0x85, 0, 0, 0, 0x85, 0, 0, 0]);
    assert!(
        started.elapsed() >= Duration::from_millis(180),
        "{:?}",
        started.elapsed()
    );
    match vc
        .query_information(rxce::InformationClass::ConnectionEndpoint)
        .unwrap()
    {
        rxce::Information::ConnectionEndpoint(e) => {
            assert_eq!(e.transmitted_tsdus, 1, "keepalives are no TSDUs")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_frames_are_protocol_errors_with_an_abortive_disconnect() {
    let cases: [(&str, Vec<u8>, bool); 4] = [
        ("a message over the limit", vec![0, 0x10, 0, 0], false),
        ("a session packet mid-session", vec![0x82, 0, 0, 0], false),
        ("a header cut short by the end", vec![0, 0], true),
        ("a message cut short by the end", vec![0, 0, 0, 10, 1, 2], true),
    ];
    let engine = engine_with(EngineConfig {
        max_message_size: 0x8000,
        ..EngineConfig::default()
    });
    let address = netbt_address(&engine);
    for (what, bytes, close) in cases {
        let mut peer = peer(|_, _| Reply::Positive).await;
        let handler = Recorder::taking_all();
        let (_c, vc) = address
            .build_connection(remote(peer.addr, "SERVER"), handler.clone())
            .await
            .unwrap();
        let mut session = peer.sessions.recv().await.unwrap();
        session.write_all(&bytes).await.unwrap();
        if close {
            session.shutdown().await.unwrap();
        }
        let events = handler
            .wait_for(what, |e| e.iter().any(|e| matches!(e, Event::Disconnect { .. })))
            .await;
        assert!(
            matches!(&events[0], Event::Error { status, .. } if *status == Status::INVALID_NETWORK_RESPONSE),
            "{what}: {events:?}"
        );
        assert_eq!(handler.disconnects()[0].0, DisconnectFlags::ABORT, "{what}: {events:?}");
        assert_eq!(handler.disconnects().len(), 1);
        vc.tear_down().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_session_responses_are_reported() {
    let engine = netbt_engine(NetbtConfig::default());
    let address = netbt_address(&engine);
    let garbage = peer(|_, _| Reply::Raw(b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec())).await;
    let err = address
        .build_connection(remote(garbage.addr, "SERVER"), Recorder::taking_all())
        .await
        .unwrap_err();
    assert_eq!(err, Status::INVALID_NETWORK_RESPONSE);
    let silent_close = peer(|_, _| Reply::Raw(Vec::new())).await;
    let err = address
        .build_connection(remote(silent_close.addr, "SERVER"), Recorder::taking_all())
        .await
        .unwrap_err();
    assert_eq!(err, Status::CONNECTION_DISCONNECTED);
    let truncated = peer(|_, _| Reply::Raw(vec![0x84, 0, 0, 6, 127, 0])).await;
    let err = address
        .build_connection(remote(truncated.addr, "SERVER"), Recorder::taking_all())
        .await
        .unwrap_err();
    assert_eq!(err, Status::CONNECTION_DISCONNECTED);
}

/// A name server that knows one name.
async fn name_server(known: NetbiosName, ip: Ipv4Addr) -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 576];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            let Ok(query) = NameQuery::parse(&buf[..n]) else {
                continue;
            };
            let answer = if query.name == known {
                encode_positive_response(query.transaction_id, &query.name, None, 60, &[NbAddress::new(ip)])
            } else {
                encode_negative_response(query.transaction_id, &query.name, None, 3)
            };
            let _ = socket.send_to(&answer.unwrap(), from).await;
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_netbios_name_alone_is_resolved_with_a_name_query() {
    let mut session_peer = peer(|_, _| Reply::Positive).await;
    let server = name_server(name("FILES"), Ipv4Addr::LOCALHOST).await;
    let engine = netbt_engine(NetbtConfig {
        name_server: Some(server),
        port: session_peer.addr.port(),
        ..NetbtConfig::default()
    });
    let address = netbt_address(&engine);
    let by_name = |text: &str| {
        ConnectionInformation::to(TransportAddress::new(TaAddress::NetBios {
            name: *name(text).as_bytes(),
        }))
    };
    let (_c, _vc) = address
        .build_connection(by_name("FILES"), Recorder::taking_all())
        .await
        .unwrap();
    assert!(session_peer.sessions.recv().await.is_some());
    assert_eq!(session_peer.requests.lock().unwrap()[0].called, name("FILES"));
    let err = address
        .build_connection(by_name("UNKNOWN"), Recorder::taking_all())
        .await
        .unwrap_err();
    assert_eq!(err, Status::BAD_NETWORK_NAME);
}
