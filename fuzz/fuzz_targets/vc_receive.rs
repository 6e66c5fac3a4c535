//! The engine's receive path end to end, through the public API only: the
//! input is what a hostile peer sends on a real loopback TCP connection to
//! a VC of the `tcp` (bare stream), `tcp+smb` (direct-hosted framing) or
//! `netbt` (session request and response, then NetBIOS framing) transport,
//! and a script of the client's answers to the receive indications.
//!
//! This reaches the crate-private receive indication machine
//! (`crates/rxce/src/vc/indication.rs`), the VC's driver and, for `netbt`,
//! the session setup, exactly as a server's bytes do; nothing is added to
//! the engine. The engine runs with the smallest lookahead (128 bytes), so
//! messages longer than that are indicated in pieces, and a 1000-byte
//! message limit, so over-long messages are cheap to announce.
//!
//! Input: byte 0 picks the transport; byte 1 the number of script entries
//! (up to 31), 3 bytes each; the rest is the peer's byte stream, after
//! which the peer closes its direction. The handler answers each receive
//! indication with the next script entry — take n bytes (n may be 0: the
//! client then calls resume, as it may), take everything, not accepted
//! (then resume), or more processing required with a client buffer of some
//! size — and takes everything once the script is used up.
//!
//! Properties, checked against a model of the stream built on `rxce_wire`:
//! - no panic, no hang (a VC that gives no disconnect indication within
//!   10 s is a failure), callbacks of the VC never overlap and none follows
//!   the disconnect indication;
//! - every indication is at most the lookahead, `available` covers it, and
//!   on a framed transport ENTIRE_MESSAGE is set exactly when the whole
//!   rest of the message is indicated (on a stream `available` is what is
//!   indicated);
//! - `netbt`: the connect succeeds exactly when the stream starts with a
//!   positive session response (after any keepalives);
//! - stream: the bytes the client took (indications and filled buffers, in
//!   order) are the peer's bytes, all of them unless the client's last
//!   answer left some untaken; then a RELEASE disconnect, no error;
//! - framed: the client gets exactly the payloads of the complete messages
//!   up to the first bad, over-long or truncated frame, in order, with
//!   nothing of a refused frame; a clean end is a RELEASE disconnect
//!   without an error indication, anything else one error indication with
//!   STATUS_INVALID_NETWORK_RESPONSE and an ABORT disconnect (a truncated
//!   message may have been indicated in part first);
//! - after the tear-down, the engine has no more live objects than before.
#![no_main]

use std::any::Any;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use rxce::wire::framing::{FrameHeader, Framing, HEADER_LEN};
use rxce::wire::nbss::{parse_session_response, SessionResponse};
use rxce::{
    Address, ConnectionEventHandler, ConnectionInformation, DisconnectFlags, Engine, EngineConfig, Indication,
    LiveObjects, NetbtConfig, NoEvents, ReceiveAnswer, ReceiveBuffer, ReceiveFlags, Status, TaAddress,
    TransportAddress, Vc,
};

/// The lookahead: TDI's minimum, so that messages come in pieces.
const LOOKAHEAD: usize = 128;
/// The engine's message limit.
const MAX_MESSAGE: usize = 1000;
/// Script entries at most.
const MAX_SCRIPT: usize = 31;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Tcp,
    TcpSmb,
    Netbt,
}

/// What the peer thread does for one connection.
struct Job {
    /// Bytes of the session request to read first (netbt).
    request_len: usize,
    stream: Vec<u8>,
}

struct World {
    engine: Engine,
    addresses: [Address; 3],
    server: SocketAddr,
    jobs: Sender<Job>,
    done: Mutex<Receiver<()>>,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let config = EngineConfig {
            worker_threads: 1,
            receive_buffer_size: LOOKAHEAD,
            pooled_buffers: 4,
            max_message_size: MAX_MESSAGE,
            connect_timeout: Duration::from_secs(5),
            disconnect_timeout: Duration::from_secs(1),
            netbt: NetbtConfig {
                calling_name: "FUZZ".into(),
                retry_smbserver: false,
                follow_retarget: false,
                keepalive_interval: None,
                ..NetbtConfig::default()
            },
            ..EngineConfig::default()
        };
        let engine = Engine::new(config).expect("engine");
        let local = TransportAddress::ip("127.0.0.1:0".parse().expect("address"));
        let address = |name: &str| {
            let transport = engine.build_transport(name, 0).expect("transport");
            transport
                .build_address(local.clone(), Arc::new(NoEvents))
                .expect("address")
        };
        let addresses = [address("tcp"), address("tcp+smb"), address("netbt")];
        let listener = TcpListener::bind("127.0.0.1:0").expect("listener");
        let server = listener.local_addr().expect("listener address");
        let (jobs, job_rx) = mpsc::channel::<Job>();
        let (done_tx, done) = mpsc::channel();
        std::thread::spawn(move || peer(listener, job_rx, done_tx));
        World {
            engine,
            addresses,
            server,
            jobs,
            done: Mutex::new(done),
        }
    })
}

/// The hostile peer: for each job, accepts one connection, reads the
/// session request (netbt), writes the stream, ends its direction, and
/// waits for the engine to close (so nothing it sent is lost to a reset).
fn peer(listener: TcpListener, jobs: Receiver<Job>, done: Sender<()>) {
    for job in jobs {
        let (mut socket, _) = listener.accept().expect("accept");
        let _ = socket.set_read_timeout(Some(Duration::from_secs(20)));
        let _ = socket.set_nodelay(true);
        let mut request = vec![0u8; job.request_len];
        if socket.read_exact(&mut request).is_ok() {
            // Errors: the engine closed first (a refused response or frame).
            let _ = socket.write_all(&job.stream);
            let _ = socket.shutdown(Shutdown::Write);
            let _ = std::io::copy(&mut socket, &mut std::io::sink());
        }
        drop(socket);
        let _ = done.send(());
    }
}

/// One script entry.
#[derive(Clone, Copy, Debug)]
struct Answer {
    kind: u8,
    a: u8,
    b: u8,
}

#[derive(Default)]
struct Record {
    script: Vec<Answer>,
    next: usize,
    /// Bytes the client took, in order.
    taken: Vec<u8>,
    /// The last answer took nothing of a non-empty indication and was not
    /// followed by another indication.
    starved: bool,
    errors: Vec<Status>,
    disconnect: Option<(DisconnectFlags, Status)>,
}

struct Client {
    framed: bool,
    in_callback: AtomicBool,
    record: Mutex<Record>,
    ended: Condvar,
}

impl Client {
    fn enter(&self) -> CallbackGuard<'_> {
        assert!(
            !self.in_callback.swap(true, Ordering::SeqCst),
            "two callbacks of one VC overlap"
        );
        CallbackGuard(&self.in_callback)
    }
}

struct CallbackGuard<'a>(&'a AtomicBool);

impl Drop for CallbackGuard<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

impl ConnectionEventHandler for Client {
    fn receive(&self, vc: &Vc, indication: &Indication<'_>) -> ReceiveAnswer {
        let _guard = self.enter();
        let data = indication.data;
        assert!(data.len() <= LOOKAHEAD, "an indication of {} bytes", data.len());
        assert!(indication.available >= data.len());
        assert!(indication.flags.contains(ReceiveFlags::NORMAL));
        if self.framed {
            assert_eq!(
                indication.flags.contains(ReceiveFlags::ENTIRE_MESSAGE),
                indication.available == data.len(),
                "ENTIRE_MESSAGE with {} of {} bytes",
                data.len(),
                indication.available
            );
        } else {
            assert_eq!(indication.available, data.len());
            assert!(!indication.flags.contains(ReceiveFlags::ENTIRE_MESSAGE));
        }
        let mut record = self.record.lock().expect("record");
        assert!(record.disconnect.is_none(), "an indication after the disconnect");
        let answer = record.script.get(record.next).copied();
        record.next += 1;
        let len = data.len();
        let (answer, took) = match answer {
            None => (ReceiveAnswer::take_all(indication), len),
            Some(Answer { kind, a, b }) => match kind % 4 {
                0 => {
                    let n = usize::from(a) % (len + 1);
                    (ReceiveAnswer::Taken(n), n)
                }
                1 => (ReceiveAnswer::take_all(indication), len),
                2 => (ReceiveAnswer::NotAccepted, 0),
                _ => {
                    let taken = usize::from(a) % (len + 1);
                    let buffer: Box<dyn ReceiveBuffer> = Box::new(vec![0u8; usize::from(b) * 4]);
                    let size = usize::from(kind >> 2) * 16;
                    (ReceiveAnswer::MoreProcessingRequired { taken, buffer, size }, taken)
                }
            },
        };
        record.taken.extend_from_slice(&data[..took]);
        record.starved = took == 0 && len > 0 && matches!(answer, ReceiveAnswer::Taken(_));
        drop(record);
        if matches!(answer, ReceiveAnswer::Taken(0) | ReceiveAnswer::NotAccepted) {
            // The client wants the bytes again (RxCeResumeReceive is allowed
            // from inside a callback).
            vc.resume_receive().expect("resume");
        }
        answer
    }

    fn data_ready(&self, _vc: &Vc, buffer: Box<dyn ReceiveBuffer>, copied: usize, _status: Status) {
        let _guard = self.enter();
        let buffer: Box<dyn Any> = buffer;
        let buffer = buffer.downcast::<Vec<u8>>().expect("our buffer comes back");
        assert!(copied <= buffer.len(), "{copied} bytes copied into {}", buffer.len());
        let mut record = self.record.lock().expect("record");
        assert!(record.disconnect.is_none(), "data-ready after the disconnect");
        record.taken.extend_from_slice(&buffer[..copied]);
        record.starved = false;
    }

    fn error(&self, _vc: &Vc, status: Status) {
        let _guard = self.enter();
        let mut record = self.record.lock().expect("record");
        assert!(record.disconnect.is_none(), "an error after the disconnect");
        record.errors.push(status);
    }

    fn disconnect(&self, _vc: &Vc, flags: DisconnectFlags, status: Status) {
        let _guard = self.enter();
        let mut record = self.record.lock().expect("record");
        assert!(record.disconnect.is_none(), "a second disconnect indication");
        record.disconnect = Some((flags, status));
        self.ended.notify_all();
    }
}

/// How a framed stream ends, per the model.
#[derive(Debug, PartialEq, Eq)]
enum End {
    Clean,
    /// Ended inside a message body: these bytes of it had arrived.
    TruncatedBody(Vec<u8>),
    /// Ended inside a header, or a bad, control or over-long header.
    Refused,
}

/// The payloads of the complete messages, and how the stream ends.
fn model_framed(framing: Framing, mut stream: &[u8]) -> (Vec<u8>, End) {
    let mut payload = Vec::new();
    loop {
        if stream.is_empty() {
            return (payload, End::Clean);
        }
        if stream.len() < HEADER_LEN {
            return (payload, End::Refused);
        }
        let header: [u8; 4] = stream[..4].try_into().expect("4 bytes");
        stream = &stream[4..];
        match framing.decode_header(header) {
            Ok(FrameHeader::Message { len }) if len <= MAX_MESSAGE => {
                if stream.len() < len {
                    return (payload, End::TruncatedBody(stream.to_vec()));
                }
                payload.extend_from_slice(&stream[..len]);
                stream = &stream[len..];
            }
            Ok(FrameHeader::Keepalive) => {}
            _ => return (payload, End::Refused),
        }
    }
}

/// Where the session is established in a netbt stream, per the engine's
/// documented handling: keepalives are skipped, a positive response
/// establishes it, anything else (or an end) refuses it.
fn model_session(mut stream: &[u8]) -> Option<usize> {
    let mut at = 0;
    loop {
        if stream.len() < 4 {
            return None;
        }
        let len = (usize::from(stream[1] & 1) << 16) | usize::from(u16::from_be_bytes([stream[2], stream[3]]));
        if len > 6 || stream.len() < 4 + len {
            return None;
        }
        match parse_session_response(&stream[..4 + len]) {
            Ok(Some((SessionResponse::Keepalive, _))) => {}
            Ok(Some((SessionResponse::Positive, _))) => return Some(at + 4 + len),
            _ => return None,
        }
        at += 4 + len;
        stream = &stream[4 + len..];
    }
}

fuzz_target!(|data: &[u8]| {
    let world = world();
    let kind = match data.first().copied().unwrap_or(0) % 3 {
        0 => Kind::Tcp,
        1 => Kind::TcpSmb,
        _ => Kind::Netbt,
    };
    let count = usize::from(data.get(1).copied().unwrap_or(0)) % (MAX_SCRIPT + 1);
    let body = data.get(2..).unwrap_or_default();
    let script_len = (count * 3).min(body.len());
    let script: Vec<Answer> = body[..script_len]
        .chunks_exact(3)
        .map(|c| Answer {
            kind: c[0],
            a: c[1],
            b: c[2],
        })
        .collect();
    let stream = &body[script_len..];
    run(world, kind, script, stream);
});

fn run(world: &World, kind: Kind, script: Vec<Answer>, stream: &[u8]) {
    let before = world.engine.live_objects();
    let client = Arc::new(Client {
        framed: kind != Kind::Tcp,
        in_callback: AtomicBool::new(false),
        record: Mutex::new(Record {
            script,
            ..Record::default()
        }),
        ended: Condvar::new(),
    });
    let (address, remote, request_len) = match kind {
        Kind::Tcp => (&world.addresses[0], TransportAddress::ip(world.server), 0),
        Kind::TcpSmb => (&world.addresses[1], TransportAddress::ip(world.server), 0),
        Kind::Netbt => {
            let mut name = *b"FUZZSERVER      ";
            name[15] = 0x20;
            let remote = TransportAddress {
                entries: vec![TaAddress::Ip(world.server), TaAddress::NetBios { name }],
            };
            // Two 34-byte names without scope after the 4-byte header.
            (&world.addresses[2], remote, 4 + 2 * 34)
        }
    };
    world
        .jobs
        .send(Job {
            request_len,
            stream: stream.to_vec(),
        })
        .expect("peer thread");
    let built = world.engine.runtime().block_on(address.build_connection(
        ConnectionInformation::to(remote),
        client.clone() as Arc<dyn ConnectionEventHandler>,
    ));

    let established = match kind {
        Kind::Netbt => model_session(stream),
        _ => Some(0),
    };
    let (connection, vc) = match (built, established) {
        (Ok(built), Some(_)) => built,
        (Err(status), None) => {
            assert!(status.is_error());
            wait_for_peer(world);
            settle(world, before, "a failed connect");
            return;
        }
        (Ok(_), None) => panic!("netbt: the session was established without a positive response"),
        (Err(status), Some(_)) => panic!("the connect failed: {status}"),
    };
    let rest = &stream[established.expect("established")..];

    // Wait for the VC's last indication.
    let record = {
        let guard = client.record.lock().expect("record");
        let (mut guard, timeout) = client
            .ended
            .wait_timeout_while(guard, Duration::from_secs(10), |r| r.disconnect.is_none())
            .expect("record");
        assert!(
            !timeout.timed_out(),
            "no disconnect indication within 10 s (the VC hangs); {} bytes taken",
            guard.taken.len()
        );
        std::mem::take(&mut *guard)
    };
    world
        .engine
        .runtime()
        .block_on(connection.tear_down())
        .expect("tear-down");
    assert!(!vc.is_valid());
    drop((connection, vc));
    wait_for_peer(world);
    settle(world, before, "the tear-down");

    let (flags, status) = record.disconnect.clone().expect("disconnected");
    match kind {
        Kind::Tcp => {
            assert!(
                rest.starts_with(&record.taken),
                "the client got bytes the peer did not send"
            );
            if !record.starved {
                assert_eq!(record.taken.len(), rest.len(), "bytes lost");
            }
            assert!(record.errors.is_empty(), "errors on a stream: {:?}", record.errors);
            assert_eq!(flags, DisconnectFlags::RELEASE, "{status}");
        }
        Kind::TcpSmb | Kind::Netbt => {
            let framing = if kind == Kind::Netbt {
                Framing::NetbiosSession
            } else {
                Framing::DirectTcp
            };
            let (payload, end) = model_framed(framing, rest);
            match end {
                End::Clean => {
                    assert_eq!(record.taken, payload, "the messages' payloads");
                    assert!(
                        record.errors.is_empty(),
                        "errors on a clean stream: {:?}",
                        record.errors
                    );
                    assert_eq!(flags, DisconnectFlags::RELEASE, "{status}");
                }
                End::Refused | End::TruncatedBody(_) => {
                    assert!(record.taken.starts_with(&payload), "the complete messages' payloads");
                    let extra = &record.taken[payload.len()..];
                    match &end {
                        End::TruncatedBody(partial) => {
                            assert!(partial.starts_with(extra), "bytes of a truncated message")
                        }
                        _ => assert!(extra.is_empty(), "bytes of a refused frame: {extra:02x?}"),
                    }
                    assert_eq!(record.errors.len(), 1, "one error indication");
                    assert_eq!(record.errors[0], Status::INVALID_NETWORK_RESPONSE);
                    assert_eq!(flags, DisconnectFlags::ABORT, "{status}");
                }
            }
        }
    }
}

/// Waits (up to 5 s) for the engine's live objects to be back to `before`:
/// the VC's task lets go of the objects right after the tear-down returns.
fn settle(world: &World, before: LiveObjects, after: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let now = world.engine.live_objects();
        if now == before {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{after} left objects behind: {now:?}, before {before:?}"
        );
        std::thread::sleep(Duration::from_micros(50));
    }
}

fn wait_for_peer(world: &World) {
    world
        .done
        .lock()
        .expect("peer")
        .recv_timeout(Duration::from_secs(30))
        .expect("the peer finished its connection");
}
