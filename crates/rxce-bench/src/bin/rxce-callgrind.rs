//! A fixed workload for callgrind: instruction counts per byte sent and per
//! receive indication, without wall-clock noise.
//!
//! Two rxce VCs joined by the engine's `memory` transport on a
//! current-thread runtime (one thread: the counts repeat run to run): the
//! sender's `Vc::send`s go through the send queue, the memory pipe and the
//! receiver's pump, and come out as receive indications on the other VC.
//!
//! * `bulk N`: N sends of 64 KiB, waiting for every byte at the end
//!   (instructions per byte sent).
//! * `small N`: N sends of 64 bytes, each waited for (one indication per
//!   send: instructions per indication).
//! * `tcp N` and `tcp-raw N`: `bulk` over TCP on loopback, rxce on both
//!   ends, and the same with raw tokio sockets (a writer and a reading
//!   task): user-space instructions per byte of each (the kernel's work is
//!   not counted), to see what the engine adds over the socket.
//!
//! * `rr N` and `rr-raw N`: N round trips of 64 bytes over TCP on loopback
//!   to an echo served by a thread outside the runtime (not counted): an
//!   rxce VC's `Vc::send` with the answer through a receive indication that
//!   wakes the caller, against raw tokio's `write_all` + `read_exact`:
//!   user-space instructions per round trip, client side only.
//!
//! * `connect N` and `connect-raw N`: N connections to a loopback listener
//!   (a thread accepts and closes them): `Address::build_connection` and
//!   the connection's tear-down, against raw tokio's `TcpStream::connect`
//!   with TCP_NODELAY and a drop: user-space instructions per connection.
//!
//! * `race N`: N multi-transport builds (first successful, no stagger)
//!   over two `tcp` addresses, the first to a black-holed listener (its
//!   connect never completes), the second to the loopback listener: the
//!   live one wins, the black hole's attempt is cancelled and reaped, and
//!   the connection is torn down: user-space instructions per build, to
//!   set against `connect` (one plain build).
//!
//! * `small-inbox N` and `rr-inbox N`: `small` and `rr` with the answer
//!   received through an [`rxce::Inbox`] (`recv().await` of each message)
//!   instead of a receive handler that wakes the caller: the Inbox's cost
//!   against the callback path.
//!
//! Only the workload function is measured (`--toggle-collect`); setting up
//! the engine and the VCs is not. See `scripts/callgrind.sh` and
//! `BENCHMARKS.md` for the command and the baseline counts.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use rxce::{ConnectionEventHandler, Engine, EngineConfig, Indication, ReceiveAnswer, SendOptions, Vc};
use rxce_bench::link::{Accepted, Client, Counting};
use rxce_cli::endpoint::{Endpoint, Kind, Target};

/// Counts bytes (through [`Counting`]) and indications.
#[derive(Default)]
struct Receiver {
    bytes: Counting,
    indications: AtomicU64,
}

impl ConnectionEventHandler for Receiver {
    fn receive(&self, _vc: &Vc, indication: &Indication<'_>) -> ReceiveAnswer {
        self.indications.fetch_add(1, Ordering::Relaxed);
        self.bytes.add(indication.data.len());
        ReceiveAnswer::take_all(indication)
    }
}

/// What sends: an rxce VC, or (for comparison) a raw tokio socket.
enum Sender {
    Vc(Vc),
    Raw(Arc<tokio::sync::Mutex<tokio::net::TcpStream>>),
    /// A raw round trip: the answer read on the same stream.
    RawRoundTrip(Arc<tokio::sync::Mutex<tokio::net::TcpStream>>),
}

/// The measured call (callgrind collects inside it only).
#[inline(never)]
fn rxce_callgrind_workload(
    runtime: &tokio::runtime::Runtime,
    sender: &Sender,
    receiver: &Arc<Receiver>,
    payload: &Bytes,
    count: u64,
    each: bool,
) {
    sends(runtime, sender, receiver, payload, count, each);
}

/// `count` sends of `payload`, each waited for when `each`, else all at
/// the end — in a task of the runtime, as an application's code runs.
#[inline(never)]
fn sends(
    runtime: &tokio::runtime::Runtime,
    sender: &Sender,
    receiver: &Arc<Receiver>,
    payload: &Bytes,
    count: u64,
    each: bool,
) {
    let (receiver, payload) = (receiver.clone(), payload.clone());
    let sender = match sender {
        Sender::Vc(vc) => Sender::Vc(vc.clone()),
        Sender::Raw(raw) => Sender::Raw(raw.clone()),
        Sender::RawRoundTrip(raw) => Sender::RawRoundTrip(raw.clone()),
    };
    let task = runtime.spawn(async move {
        let mut expected = receiver.bytes.received();
        for _ in 0..count {
            match &sender {
                Sender::Vc(vc) => {
                    vc.send(payload.clone(), SendOptions::empty()).await.expect("a send");
                }
                Sender::Raw(raw) => {
                    use tokio::io::AsyncWriteExt;
                    raw.lock().await.write_all(&payload).await.expect("a raw write");
                }
                Sender::RawRoundTrip(raw) => {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    let mut raw = raw.lock().await;
                    raw.write_all(&payload).await.expect("a raw write");
                    let mut answer = [0u8; 64];
                    let answer = &mut answer[..payload.len().min(64)];
                    raw.read_exact(answer).await.expect("a raw read");
                    receiver.indications.fetch_add(1, Ordering::Relaxed);
                    receiver.bytes.add(answer.len());
                }
            }
            expected += payload.len() as u64;
            if each {
                receiver.bytes.wait_for(expected).await;
            }
        }
        receiver.bytes.wait_for(expected).await;
    });
    runtime.block_on(task).expect("the workload task");
}

/// The measured connect loop (callgrind collects inside it only).
#[inline(never)]
fn rxce_callgrind_workload_connects(
    runtime: &tokio::runtime::Runtime,
    client: Option<&Client>,
    to: SocketAddr,
    count: u64,
) {
    connects(runtime, client, to, count);
}

/// `count` connections one after another: built and torn down through
/// `client`, or raw tokio connects and drops without one.
#[inline(never)]
fn connects(runtime: &tokio::runtime::Runtime, client: Option<&Client>, to: SocketAddr, count: u64) {
    runtime.block_on(async {
        for _ in 0..count {
            match client {
                Some(client) => {
                    let (connection, _vc) = client
                        .address
                        .build_connection(client.remote.clone(), Arc::new(rxce::NoEvents))
                        .await
                        .expect("a connection");
                    connection.tear_down().await.expect("a tear-down");
                }
                None => {
                    let stream = tokio::net::TcpStream::connect(to).await.expect("a raw connect");
                    stream.set_nodelay(true).expect("nodelay");
                    drop(stream);
                }
            }
        }
    });
}

/// The measured race loop (callgrind collects inside it only).
#[inline(never)]
fn rxce_callgrind_workload_races(runtime: &tokio::runtime::Runtime, race: &Race, count: u64) {
    races(runtime, race, count);
}

/// What the race mode builds over: a black hole and a live listener.
struct Race {
    addresses: Vec<rxce::Address>,
    remotes: Vec<rxce::ConnectionInformation>,
    options: rxce::MultiConnectOptions,
}

/// `count` races one after another, each winner torn down.
#[inline(never)]
fn races(runtime: &tokio::runtime::Runtime, race: &Race, count: u64) {
    runtime.block_on(async {
        for _ in 0..count {
            let built = rxce::build_connection_over_multiple_transports(
                &race.addresses,
                &race.remotes,
                Arc::new(rxce::NoEvents),
                &race.options,
            )
            .await
            .expect("a winner");
            assert_eq!(built.address_index, 1, "the live listener wins");
            built.connection.tear_down().await.expect("a tear-down");
        }
    });
}

/// `race`: a black hole and a listener whose thread accepts and closes.
fn race_mode(runtime: &tokio::runtime::Runtime, count: u64) {
    let hole = rxce_testsupport::peers::BlackHole::new().expect("a black hole");
    let to = accept_and_close();
    let engine = runtime.block_on(async {
        Engine::with_runtime(tokio::runtime::Handle::current(), EngineConfig::default()).expect("engine")
    });
    let mut addresses = Vec::new();
    for _ in 0..2 {
        let transport = engine.build_transport("tcp", 0).expect("tcp");
        let address = transport
            .build_address(rxce::TransportAddress::any_ipv4(), Arc::new(rxce::NoEvents))
            .expect("address");
        addresses.push(address);
    }
    let race = Race {
        addresses,
        remotes: vec![
            rxce::ConnectionInformation::to(rxce::TransportAddress::ip(hole.addr())),
            rxce::ConnectionInformation::to(rxce::TransportAddress::ip(to)),
        ],
        options: rxce::MultiConnectOptions {
            transport_stagger: std::time::Duration::ZERO,
            attempt_timeout: Some(std::time::Duration::from_secs(60)),
            ..rxce::MultiConnectOptions::default()
        },
    };
    // One unmeasured round first, as in steady state.
    races(runtime, &race, 10);
    rxce_callgrind_workload_races(runtime, &race, count);
    println!("mode=race builds={count}");
    runtime.block_on(engine.shutdown());
}

/// The measured Inbox loop (callgrind collects inside it only).
#[inline(never)]
fn rxce_callgrind_workload_inbox(
    runtime: &tokio::runtime::Runtime,
    vc: &Vc,
    inbox: rxce::Inbox,
    payload: &Bytes,
    count: u64,
) -> (rxce::Inbox, u64, u64) {
    inbox_sends(runtime, vc, inbox, payload, count)
}

/// `count` sends of `payload` on `vc`, each waited for by awaiting the
/// inbox's messages until as many bytes came back; in a task of the
/// runtime, as `sends` does. The inbox, and the bytes and messages it gave.
#[inline(never)]
fn inbox_sends(
    runtime: &tokio::runtime::Runtime,
    vc: &Vc,
    mut inbox: rxce::Inbox,
    payload: &Bytes,
    count: u64,
) -> (rxce::Inbox, u64, u64) {
    let (vc, payload) = (vc.clone(), payload.clone());
    let task = runtime.spawn(async move {
        let (mut bytes, mut messages) = (0u64, 0u64);
        for _ in 0..count {
            vc.send(payload.clone(), SendOptions::empty()).await.expect("a send");
            let expected = bytes + payload.len() as u64;
            while bytes < expected {
                match inbox.recv().await {
                    Some(rxce::Delivery::Data { bytes: message, .. }) => {
                        bytes += message.len() as u64;
                        messages += 1;
                    }
                    other => panic!("the inbox gave {other:?}"),
                }
            }
        }
        (inbox, bytes, messages)
    });
    runtime.block_on(task).expect("the workload task")
}

/// `small-inbox` (memory transport: the accepted VC's indications into an
/// inbox) and `rr-inbox` (the TCP echo's answers into an inbox).
fn inbox_mode(runtime: &tokio::runtime::Runtime, mode: &str, count: u64) {
    let (handler, inbox) = rxce::Inbox::new(1 << 20);
    let (engine, vc, _clients) = runtime.block_on(async {
        let engine = Engine::with_runtime(tokio::runtime::Handle::current(), EngineConfig::default()).expect("engine");
        if mode == "rr-inbox" {
            let endpoint = Endpoint::parse(&format!("tcp://{}", echo_thread())).expect("endpoint");
            let client = Client::new(&engine, &endpoint).expect("client");
            let vc = client.connect(handler).await.expect("a VC");
            return (engine, vc, vec![client]);
        }
        let provider = Accepted::register(&engine).expect("provider");
        let mut listener = engine.memory_listen("callgrind-sink").expect("listen");
        let endpoint = Endpoint::new(Kind::Memory, Target::Memory("callgrind-sink".into()));
        let client = Client::new(&engine, &endpoint).expect("client");
        let (sender, accepted) = tokio::join!(client.connect(Arc::new(rxce::NoEvents)), listener.accept());
        provider.push(Arc::new(accepted.expect("accepted")), None);
        let receiving = Client::new_accepted(&engine).expect("receiving side");
        receiving.connect(handler).await.expect("receiving VC");
        (engine, sender.expect("sending VC"), vec![client, receiving])
    });
    // One unmeasured round first: pools and buffers as in steady state.
    let payload = Bytes::from(vec![7u8; 64]);
    let (inbox, _, _) = inbox_sends(runtime, &vc, inbox, &payload, 10);
    let (_inbox, bytes, messages) = rxce_callgrind_workload_inbox(runtime, &vc, inbox, &payload, count);
    println!(
        "mode={mode} sends={count} size={} bytes={bytes} indications={messages}",
        payload.len()
    );
    runtime.block_on(engine.shutdown());
}

/// A loopback listener whose thread accepts and closes every connection.
fn accept_and_close() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
    let to = listener.local_addr().expect("address");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            drop(stream);
        }
    });
    to
}

/// `connect` and `connect-raw`: a listener whose thread accepts and closes.
fn connect_mode(runtime: &tokio::runtime::Runtime, mode: &str, count: u64) {
    let to = accept_and_close();
    let engine = runtime.block_on(async {
        Engine::with_runtime(tokio::runtime::Handle::current(), EngineConfig::default()).expect("engine")
    });
    let endpoint = Endpoint::parse(&format!("tcp://{to}")).expect("endpoint");
    let client = (mode == "connect").then(|| Client::new(&engine, &endpoint).expect("client"));
    // One unmeasured round first, as in steady state.
    connects(runtime, client.as_ref(), to, 10);
    rxce_callgrind_workload_connects(runtime, client.as_ref(), to, count);
    println!("mode={mode} connections={count}");
    runtime.block_on(engine.shutdown());
}

/// A loopback echo served by a thread outside the runtime (its work is not
/// counted): one connection at a time, what arrives goes back.
fn echo_thread() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
    let to = listener.local_addr().expect("address");
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_nodelay(true);
            let mut buf = [0u8; 4096];
            while let Ok(n) = stream.read(&mut buf) {
                if n == 0 || stream.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    });
    to
}

/// Counts what a raw reader reads (the raw comparison's receiver).
async fn raw_reader(mut stream: tokio::net::TcpStream, receiver: Arc<Receiver>) {
    use tokio::io::AsyncReadExt;
    let mut buf = vec![0u8; 64 * 1024];
    while let Ok(n) = stream.read(&mut buf).await {
        if n == 0 {
            return;
        }
        receiver.indications.fetch_add(1, Ordering::Relaxed);
        receiver.bytes.add(n);
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "bulk".into());
    let (size, each, default_count) = match mode.as_str() {
        "bulk" => (64 * 1024, false, 2000),
        "small" => (64, true, 20_000),
        "tcp" | "tcp-raw" => (64 * 1024, false, 2000),
        "rr" | "rr-raw" => (64, true, 20_000),
        "connect" | "connect-raw" | "race" => (0, false, 1000),
        "small-inbox" | "rr-inbox" => (64, true, 20_000),
        other => {
            eprintln!("usage: rxce-callgrind bulk|small|tcp|tcp-raw|rr|rr-raw|connect|connect-raw|race|small-inbox|rr-inbox [COUNT] (not {other:?})");
            std::process::exit(2);
        }
    };
    let count: u64 = args
        .next()
        .map_or(default_count, |n| n.parse().expect("COUNT is a number"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    if mode.starts_with("connect") {
        connect_mode(&runtime, &mode, count);
        return;
    }
    if mode == "race" {
        race_mode(&runtime, count);
        return;
    }
    if mode.ends_with("-inbox") {
        inbox_mode(&runtime, &mode, count);
        return;
    }
    let receiver = Arc::new(Receiver::default());
    let (engine, sender, _clients) = runtime.block_on(async {
        let engine = Engine::with_runtime(tokio::runtime::Handle::current(), EngineConfig::default()).expect("engine");
        if mode == "rr-raw" {
            let stream = tokio::net::TcpStream::connect(echo_thread()).await.expect("connect");
            stream.set_nodelay(true).expect("nodelay");
            return (
                engine,
                Sender::RawRoundTrip(Arc::new(tokio::sync::Mutex::new(stream))),
                Vec::new(),
            );
        }
        if mode == "rr" {
            let endpoint = Endpoint::parse(&format!("tcp://{}", echo_thread())).expect("endpoint");
            let client = Client::new(&engine, &endpoint).expect("client");
            let vc = client.connect(receiver.clone()).await.expect("a VC");
            return (engine, Sender::Vc(vc), vec![client]);
        }
        if mode == "tcp-raw" {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("listen");
            let addr = listener.local_addr().expect("address");
            let (writer, accepted) = tokio::join!(tokio::net::TcpStream::connect(addr), listener.accept());
            let writer = writer.expect("connect");
            writer.set_nodelay(true).expect("nodelay");
            let (reader, _) = accepted.expect("accept");
            reader.set_nodelay(true).expect("nodelay");
            tokio::spawn(raw_reader(reader, receiver.clone()));
            return (
                engine,
                Sender::Raw(Arc::new(tokio::sync::Mutex::new(writer))),
                Vec::new(),
            );
        }
        let provider = Accepted::register(&engine).expect("provider");
        let (client, sender) = if mode == "tcp" {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("listen");
            let port = listener.local_addr().expect("address").port();
            let endpoint = Endpoint::parse(&format!("tcp://127.0.0.1:{port}")).expect("endpoint");
            let client = Client::new(&engine, &endpoint).expect("client");
            let (sender, accepted) = tokio::join!(client.connect(Arc::new(rxce::NoEvents)), listener.accept());
            let (stream, peer) = accepted.expect("accept");
            stream.set_nodelay(true).expect("nodelay");
            let endpoint = rxce::provider::TcpEndpoint::new(stream, rxce::TransportAddress::ip(peer));
            provider.push(Arc::new(endpoint), None);
            (client, sender.expect("sending VC"))
        } else {
            let mut listener = engine.memory_listen("callgrind-sink").expect("listen");
            let endpoint = Endpoint::new(Kind::Memory, Target::Memory("callgrind-sink".into()));
            let client = Client::new(&engine, &endpoint).expect("client");
            let (sender, accepted) = tokio::join!(client.connect(Arc::new(rxce::NoEvents)), listener.accept());
            provider.push(Arc::new(accepted.expect("accepted")), None);
            (client, sender.expect("sending VC"))
        };
        let receiving = Client::new_accepted(&engine).expect("receiving side");
        receiving.connect(receiver.clone()).await.expect("receiving VC");
        (engine, Sender::Vc(sender), vec![client, receiving])
    });
    // One unmeasured round first: pools and buffers as in steady state.
    let payload = Bytes::from(vec![7u8; size]);
    sends(&runtime, &sender, &receiver, &payload, 10, each);
    let (bytes0, indications0) = (receiver.bytes.received(), receiver.indications.load(Ordering::Relaxed));
    rxce_callgrind_workload(&runtime, &sender, &receiver, &payload, count, each);
    let bytes = receiver.bytes.received() - bytes0;
    let indications = receiver.indications.load(Ordering::Relaxed) - indications0;
    println!("mode={mode} sends={count} size={size} bytes={bytes} indications={indications}");
    runtime.block_on(engine.shutdown());
}
