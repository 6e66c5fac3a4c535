//! `rxce serve` as a user runs it: the real binary on loopback, in each mode
//! on each transport, talked to with plain sockets or through the rxce
//! engine, stopped with SIGTERM, SIGINT or --duration, and its exit table
//! checked.
#![cfg(unix)] // Unix only: stops rxce serve with SIGTERM and SIGINT

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use common::*;
use rxce::wire::nbss::{encode_session_request, encode_session_response, NegativeCode, SessionResponse};
use rxce::wire::{keepalive_frame, Framing, NetbiosName};
use rxce::{Engine, EngineConfig, NoEvents, SendOptions, Status};
use rxce_cli::endpoint::Endpoint;

const WAIT: Duration = Duration::from_secs(10);

/// The payload pattern of source mode.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// Compares without printing megabytes when they differ.
#[track_caller]
fn assert_same(got: &[u8], expected: &[u8], what: &str) {
    if let Some(at) = got.iter().zip(expected).position(|(a, b)| a != b) {
        panic!("{what}: byte {at} differs ({} != {})", got[at], expected[at]);
    }
    assert_eq!(got.len(), expected.len(), "{what}: length");
}

fn payload(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn connect(addr: std::net::SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream
}

fn framed(message: &[u8]) -> Vec<u8> {
    let mut out = Framing::DirectTcp
        .encode_message_header(message.len())
        .unwrap()
        .to_vec();
    out.extend_from_slice(message);
    out
}

fn session_request(called: &str) -> Vec<u8> {
    encode_session_request(
        &NetbiosName::parse(called).unwrap(),
        &NetbiosName::new("TESTPC", 0).unwrap(),
        None,
    )
    .unwrap()
}

fn exited_cleanly(done: &Finished) {
    assert!(done.status.success(), "{done:?}");
    assert!(done.stdout.starts_with("rxce serve: stopped by "), "{}", done.stdout);
}

/// Stops the server (SIGTERM) and checks that it exited cleanly.
fn stop(served: Served) -> Finished {
    let done = served.terminate();
    exited_cleanly(&done);
    done
}

#[test]
fn tcp_echo_sends_back_every_byte() {
    let served = serve(&["--listen", "tcp://127.0.0.1:0"]);
    let url = served.urls[0].clone();
    assert!(url.starts_with("tcp://127.0.0.1:") && !url.ends_with(":0"), "{url}");
    let data = payload(100_000, 1);
    let mut stream = connect(served.addr(0));
    stream.write_all(&data).unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    let mut back = Vec::new();
    stream.read_to_end(&mut back).unwrap();
    assert_same(&back, &data, "the echo");
    let done = stop(served);
    assert!(
        done.stdout.starts_with("rxce serve: stopped by SIGTERM"),
        "{}",
        done.stdout
    );
    let row = done.row(&url);
    assert_eq!(row["mode"], "echo");
    assert_eq!(row["connections"], "1");
    assert_eq!(
        (row["received"].as_str(), row["sent"].as_str()),
        (bytes(100_000).as_str(), bytes(100_000).as_str())
    );
    assert_eq!(row["messages in"], "", "streams have no messages");
}

#[test]
fn tcp_sink_discards_and_source_streams_until_the_client_closes() {
    let served = serve(&["--listen", "tcp://127.0.0.1:0", "--mode", "sink"]);
    let mut stream = connect(served.addr(0));
    stream.write_all(&payload(50_000, 2)).unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    let mut back = Vec::new();
    stream.read_to_end(&mut back).unwrap();
    assert!(back.is_empty());
    let done = stop(served);
    let row = done.first_row();
    assert_eq!(row["mode"], "sink");
    assert_eq!(
        (row["received"].as_str(), row["sent"].as_str()),
        (bytes(50_000).as_str(), "0 B")
    );

    let served = serve(&["--listen", "tcp://127.0.0.1:0", "--mode", "source"]);
    let mut stream = connect(served.addr(0));
    let mut got = vec![0u8; 200_000];
    stream.read_exact(&mut got).unwrap();
    assert_same(&got, &pattern(200_000), "an unbroken 251-byte cycle");
    drop(stream);
    let done = stop(served);
    let row = done.first_row();
    assert_eq!(row["connections"], "1");
    assert!(parse_bytes(&row["sent"]) >= 190_000.0, "{row:?}");
}

#[test]
#[cfg(target_os = "linux")] // abstract socket names are Linux-only
fn unix_paths_and_abstract_sockets_in_every_mode() {
    let dir = std::env::temp_dir().join(format!("rxce-cli-serve-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("echo.sock");
    let path_url = format!("unix:{}", path.display());
    let abstract_sink = format!("unix:@rxce-cli-test-sink-{}", std::process::id());
    let abstract_source = format!("unix:@rxce-cli-test-source-{}", std::process::id());
    let echo = serve(&["--listen", &path_url]);
    let sink = serve(&["--listen", &abstract_sink, "--mode", "sink"]);
    let source = serve(&["--listen", &abstract_source, "--mode", "source"]);
    assert_eq!(echo.urls, std::slice::from_ref(&path_url));
    assert_eq!(sink.urls, std::slice::from_ref(&abstract_sink));
    assert!(path.exists());

    let abstract_stream = |url: &str| {
        use std::os::linux::net::SocketAddrExt;
        let name = url.strip_prefix("unix:@").unwrap();
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name).unwrap();
        let stream = std::os::unix::net::UnixStream::connect_addr(&addr).unwrap();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        stream
    };

    let data = payload(30_000, 3);
    let mut stream = std::os::unix::net::UnixStream::connect(&path).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.write_all(&data).unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    let mut back = Vec::new();
    stream.read_to_end(&mut back).unwrap();
    assert_same(&back, &data, "the echo");

    let mut stream = abstract_stream(&abstract_sink);
    stream.write_all(&data).unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    let mut back = Vec::new();
    stream.read_to_end(&mut back).unwrap();
    assert!(back.is_empty());

    let mut stream = abstract_stream(&abstract_source);
    let mut got = vec![0u8; 100_000];
    stream.read_exact(&mut got).unwrap();
    assert_same(&got, &pattern(100_000), "an unbroken 251-byte cycle");
    drop(stream);

    let done = echo.terminate();
    exited_cleanly(&done);
    let row = done.row(&path_url);
    assert_eq!(
        (row["received"].as_str(), row["sent"].as_str()),
        (bytes(30_000).as_str(), bytes(30_000).as_str())
    );
    assert!(!path.exists(), "the socket file is removed on exit");
    let done = sink.terminate();
    let row = done.row(&abstract_sink);
    assert_eq!(
        (row["received"].as_str(), row["sent"].as_str()),
        (bytes(30_000).as_str(), "0 B")
    );
    let done = source.terminate();
    let row = done.row(&abstract_source);
    assert!(parse_bytes(&row["sent"]) >= 95_000.0, "{row:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Builds a VC to `url` through the engine and echoes `messages`, each
/// coming back whole; returns what came back.
fn echo_through_rxce(url: &str, messages: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let endpoint: Endpoint = url.parse().unwrap();
    let engine = Engine::new(EngineConfig::default()).unwrap();
    let runtime = engine.runtime().clone();
    runtime.block_on(async {
        let transport = engine.build_transport(endpoint.transport_name(), 0).unwrap();
        let address = transport
            .build_address(endpoint.local_address(), std::sync::Arc::new(NoEvents))
            .unwrap();
        let (handler, rx) = Messages::new();
        let (_connection, vc) = address.build_connection(endpoint.remote(), handler).await.unwrap();
        let mut back = Vec::new();
        for message in messages {
            vc.send(message.clone(), SendOptions::empty()).await.unwrap();
            back.push(rx.recv_timeout(WAIT).expect("the echo of a message"));
        }
        transport.tear_down().await.unwrap();
        back
    })
}

#[test]
fn tcp_smb_echoes_each_message_whole_through_rxce() {
    let served = serve(&["--listen", "tcp+smb://127.0.0.1:0"]);
    let url = served.urls[0].clone();
    assert!(url.starts_with("tcp+smb://127.0.0.1:"), "{url}");
    // Larger than the engine's 256 KiB lookahead: it comes back whole all the same.
    let messages = vec![payload(10, 1), payload(300_000, 2), payload(300, 3)];
    let back = echo_through_rxce(&url, &messages);
    assert_eq!(back.len(), messages.len());
    for (got, sent) in back.iter().zip(&messages) {
        assert_same(got, sent, "an echoed message");
    }
    let done = stop(served);
    let row = done.row(&url);
    assert_eq!(row["connections"], "1");
    assert_eq!((row["messages in"].as_str(), row["messages out"].as_str()), ("3", "3"));
    assert_eq!(row["received"], bytes(300_310));
    assert_eq!(row["sent"], bytes(300_310));
    assert_eq!(row["refused"], "", "only netbt refuses sessions");
}

#[test]
fn tcp_smb_sink_and_source_keep_the_framing() {
    let served = serve(&["--listen", "tcp+smb://127.0.0.1:0", "--mode", "sink"]);
    let mut stream = connect(served.addr(0));
    let mut sent = framed(&payload(1000, 1));
    sent.extend(framed(&payload(0, 0)));
    sent.extend(framed(&payload(5000, 2)));
    stream.write_all(&sent).unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    let mut back = Vec::new();
    stream.read_to_end(&mut back).unwrap();
    assert!(back.is_empty());
    let done = stop(served);
    let row = done.first_row();
    assert_eq!(
        (row["messages in"].as_str(), row["received"].as_str()),
        ("3", bytes(6000).as_str())
    );

    let served = serve(&["--listen", "tcp+smb://127.0.0.1:0", "--mode", "source"]);
    let mut stream = connect(served.addr(0));
    for _ in 0..3 {
        let mut header = [0u8; 4];
        stream.read_exact(&mut header).unwrap();
        assert_eq!(header, [0, 1, 0, 0], "64 KiB messages");
        let mut body = vec![0u8; 65_536];
        stream.read_exact(&mut body).unwrap();
        assert_same(&body, &pattern(65_536), "a source message");
    }
    drop(stream);
    let done = stop(served);
    let row = done.first_row();
    assert!(row["messages out"].parse::<u64>().unwrap() >= 3, "{row:?}");
}

/// Echoes `messages` through the engine's [`rxce::Inbox`] (which gathers
/// an RPC record longer than the lookahead whole).
fn echo_through_inbox(url: &str, messages: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let endpoint: Endpoint = url.parse().unwrap();
    let engine = Engine::new(EngineConfig::default()).unwrap();
    let runtime = engine.runtime().clone();
    runtime.block_on(async {
        let transport = engine.build_transport(endpoint.transport_name(), 0).unwrap();
        let address = transport
            .build_address(endpoint.local_address(), std::sync::Arc::new(NoEvents))
            .unwrap();
        let (handler, mut inbox) = rxce::Inbox::new(1 << 24);
        let (_connection, vc) = address.build_connection(endpoint.remote(), handler).await.unwrap();
        let mut back = Vec::new();
        for message in messages {
            vc.send(message.clone(), SendOptions::empty()).await.unwrap();
            match tokio::time::timeout(WAIT, inbox.recv()).await.expect("an echo in time") {
                Some(rxce::Delivery::Data { bytes, .. }) => back.push(bytes.to_vec()),
                other => panic!("{other:?}"),
            }
        }
        transport.tear_down().await.unwrap();
        back
    })
}

#[test]
fn tcp_rpc_and_tcp_9p_echo_each_message_whole_through_rxce() {
    for scheme in ["tcp+rpc", "tcp+9p"] {
        let served = serve(&["--listen", &format!("{scheme}://127.0.0.1:0")]);
        let url = served.urls[0].clone();
        assert!(url.starts_with(&format!("{scheme}://127.0.0.1:")), "{url}");
        // 300,000 bytes: five 64 KiB fragments of one RPC record, longer
        // than the lookahead; the peer echoes the fragments as they came.
        let messages = vec![payload(10, 1), payload(300_000, 2), payload(300, 3)];
        let back = echo_through_inbox(&url, &messages);
        assert_eq!(back.len(), messages.len());
        for (got, sent) in back.iter().zip(&messages) {
            assert_same(got, sent, "an echoed message");
        }
        let done = stop(served);
        let row = done.row(&url);
        assert_eq!((row["messages in"].as_str(), row["messages out"].as_str()), ("3", "3"));
        assert_eq!(row["received"], bytes(300_310));
    }
}

#[test]
fn tcp_rpc_source_sends_records_and_tcp_9p_source_sends_sized_messages() {
    let served = serve(&["--listen", "tcp+rpc://127.0.0.1:0", "--mode", "source"]);
    let mut stream = connect(served.addr(0));
    let mut header = [0u8; 4];
    stream.read_exact(&mut header).unwrap();
    assert_eq!(header, [0x80, 1, 0, 0], "one 64 KiB last fragment");
    drop(stream);
    stop(served);
    let served = serve(&["--listen", "tcp+9p://127.0.0.1:0", "--mode", "source"]);
    let mut stream = connect(served.addr(0));
    stream.read_exact(&mut header).unwrap();
    assert_eq!(u32::from_le_bytes(header), 65_536 + 4, "size[4] counts itself");
    drop(stream);
    stop(served);
}

#[test]
fn netbt_accepts_its_names_and_echoes_through_rxce() {
    let served = serve(&[
        "--listen",
        "netbt://127.0.0.1:0",
        "--accept-name",
        "FILES",
        "--accept-name",
        "OTHER<1F>",
    ]);
    let url = served.urls[0].clone();
    let messages = vec![payload(100, 1), payload(100_000, 2)];
    let back = echo_through_rxce(&format!("{url}?called=files"), &messages);
    assert_eq!(back.len(), messages.len());
    for (got, sent) in back.iter().zip(&messages) {
        assert_same(got, sent, "an echoed message");
    }
    let done = stop(served);
    let row = done.row(&url);
    assert_eq!((row["connections"].as_str(), row["refused"].as_str()), ("1", "0"));
    assert_eq!((row["messages in"].as_str(), row["messages out"].as_str()), ("2", "2"));
    assert_eq!(row["received"], bytes(100_100));
    assert_eq!(row["keepalives"], "0");
}

#[test]
fn netbt_refuses_other_names_with_0x82() {
    let served = serve(&["--listen", "netbt://127.0.0.1:0", "--accept-name", "FILES"]);
    let url = served.urls[0].clone();
    let mut stream = connect(served.addr(0));
    stream.write_all(&session_request("NOTHERE")).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    assert_eq!(
        answer,
        encode_session_response(&SessionResponse::Negative(NegativeCode::CalledNameNotPresent))
    );

    // Through the engine: refused, retried with *SMBSERVER, refused again.
    let endpoint: Endpoint = format!("{url}?called=NOTHERE").parse().unwrap();
    let engine = Engine::new(EngineConfig::default()).unwrap();
    let status = engine.runtime().clone().block_on(async {
        let transport = engine.build_transport("netbt", 0).unwrap();
        let address = transport
            .build_address(endpoint.local_address(), std::sync::Arc::new(NoEvents))
            .unwrap();
        let (handler, _rx) = Messages::new();
        let status = address.build_connection(endpoint.remote(), handler).await.unwrap_err();
        transport.tear_down().await.unwrap();
        status
    });
    assert_eq!(status, Status::BAD_NETWORK_NAME, "{status}");
    assert!(status.to_string().contains("0x82"), "{status}");

    let done = stop(served);
    let row = done.row(&url);
    assert_eq!((row["connections"].as_str(), row["refused"].as_str()), ("3", "3"));
}

#[test]
fn netbt_sends_keepalives_on_idle_sessions() {
    let served = serve(&[
        "--listen",
        "netbt://127.0.0.1:0",
        "--mode",
        "sink",
        "--keepalive",
        "0.3",
    ]);
    let mut stream = connect(served.addr(0));
    stream.write_all(&session_request("ANYNAME")).unwrap();
    let mut answer = [0u8; 4];
    stream.read_exact(&mut answer).unwrap();
    assert_eq!(answer, [0x82, 0, 0, 0], "any name is accepted without --accept-name");
    let started = Instant::now();
    for _ in 0..2 {
        let mut frame = [0u8; 4];
        stream.read_exact(&mut frame).unwrap();
        assert_eq!(frame, keepalive_frame());
    }
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(450), "two intervals: {waited:?}");
    drop(stream);
    let done = stop(served);
    let row = done.first_row();
    assert!(row["keepalives"].parse::<u64>().unwrap() >= 2, "{row:?}");
}

#[test]
fn netbt_source_sends_session_messages() {
    let served = serve(&[
        "--listen",
        "netbt://127.0.0.1:0",
        "--mode",
        "source",
        "--keepalive",
        "0",
    ]);
    let mut stream = connect(served.addr(0));
    stream.write_all(&session_request("FILES")).unwrap();
    let mut answer = [0u8; 4];
    stream.read_exact(&mut answer).unwrap();
    assert_eq!(answer, [0x82, 0, 0, 0]);
    let mut header = [0u8; 4];
    stream.read_exact(&mut header).unwrap();
    assert_eq!(header, [0, 1, 0, 0]);
    let mut body = vec![0u8; 65_536];
    stream.read_exact(&mut body).unwrap();
    assert_same(&body, &pattern(65_536), "a source message");
    drop(stream);
    stop(served);
}

#[test]
fn udp_echoes_each_datagram_to_its_source_and_sink_drops_them() {
    let served = serve(&[
        "--listen",
        "udp://127.0.0.1:0",
        "--listen",
        "udp://127.0.0.1:0",
        "--mode",
        "echo",
    ]);
    let sink = serve(&["--listen", "udp://127.0.0.1:0", "--mode", "sink"]);
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(WAIT)).unwrap();
    let sizes = [1, 1000, 60_000];
    for (k, size) in sizes.iter().enumerate() {
        let datagram = payload(*size, k as u8);
        socket.send_to(&datagram, served.addr(0)).unwrap();
        let mut buf = vec![0u8; 65_536];
        let (n, from) = socket.recv_from(&mut buf).unwrap();
        assert_eq!(from, served.addr(0));
        assert_same(&buf[..n], &datagram, "an echoed datagram");
    }
    socket.send_to(b"x", sink.addr(0)).unwrap();
    socket.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let mut buf = [0u8; 16];
    let err = socket.recv_from(&mut buf).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{err}"
    );

    let done = stop(served);
    let row = done.first_row();
    assert_eq!(row["connections"], "1", "one source");
    assert_eq!((row["messages in"].as_str(), row["messages out"].as_str()), ("3", "3"));
    assert_eq!(row["received"], bytes(61_001));
    assert_eq!(row["sent"], bytes(61_001));
    let idle = done.row(&done.table[2][0]);
    assert_eq!((idle["connections"].as_str(), idle["received"].as_str()), ("0", "0 B"));
    let done = sink.terminate();
    let row = done.first_row();
    assert_eq!((row["messages in"].as_str(), row["sent"].as_str()), ("1", "0 B"));
}

#[test]
#[cfg(target_os = "linux")] // abstract socket names are Linux-only
fn several_endpoints_stop_after_the_duration() {
    let abstract_name = format!("unix:@rxce-cli-test-duration-{}", std::process::id());
    let started = Instant::now();
    let served = serve(&[
        "--listen",
        "tcp://127.0.0.1:0",
        "--listen",
        "udp://[::1]:0",
        "--listen",
        &abstract_name,
        "--listen",
        "tcp+smb://localhost:0",
        "--duration",
        "1",
    ]);
    assert!(served.urls[1].starts_with("udp://[::1]:"), "{:?}", served.urls);
    assert!(
        served.urls[3].starts_with("tcp+smb://127.0.0.1:") || served.urls[3].starts_with("tcp+smb://[::1]:"),
        "a name is resolved: {:?}",
        served.urls
    );
    let urls = served.urls.clone();
    let done = served.finish(WAIT);
    let took = started.elapsed();
    exited_cleanly(&done);
    assert!(
        done.stdout.starts_with("rxce serve: stopped by --duration after 1.0"),
        "{}",
        done.stdout
    );
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(5),
        "{took:?}"
    );
    assert_eq!(done.table.len(), 1 + urls.len(), "{}", done.stdout);
    for url in &urls {
        assert_eq!(done.row(url)["connections"], "0");
    }
}

#[test]
fn sigint_stops_it_too() {
    let served = serve(&["--listen", "tcp://127.0.0.1:0"]);
    // SAFETY: kill(2) on our own child, not yet reaped.
    assert_eq!(unsafe { libc::kill(served.pid() as libc::pid_t, libc::SIGINT) }, 0);
    let done = served.finish(WAIT);
    exited_cleanly(&done);
    assert!(
        done.stdout.starts_with("rxce serve: stopped by SIGINT"),
        "{}",
        done.stdout
    );
}

#[test]
fn a_port_in_use_fails_with_its_status() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("tcp://{}", taken.local_addr().unwrap());
    let output = run(&["serve", "--listen", "tcp://127.0.0.1:0", "--listen", &url]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with("rxce serve: STATUS_INVALID_PARAMETER"), "{stderr}");
    assert!(stderr.contains("Address already in use"), "{stderr}");
    assert!(
        output.stdout.is_empty(),
        "nothing is announced when a peer cannot start"
    );
}
