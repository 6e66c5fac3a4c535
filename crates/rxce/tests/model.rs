//! The whole API against a model: random sequences of builds, sends with
//! every option in both modes, receive answers, resumes, disconnects, peer
//! closes and resets, and tear-downs at every level, on the memory, tcp,
//! tcp+rpc (record marking) and tcp+9p transports; the peers of the framed
//! ones frame what they write and deframe what they get. After every
//! sequence:
//! - every asynchronous send completed exactly once, and every synchronous
//!   one returned;
//! - the peer got whole TSDUs: each successful send exactly once and intact,
//!   normal sends in submission order, no byte of anything else (a send cut
//!   short by a failure may only end the stream);
//! - the client got a prefix of the peer's bytes, in order;
//! - no indication of a VC ran after its tear-down returned;
//! - no object outlived its parent, and nothing outlived the engine;
//! - a VC's transmitted-TSDU counter is its number of successful sends.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use proptest::prelude::*;
use rxce::provider::{MemoryStream, Stream};
use rxce::{
    BufferChain, ConnectionEventHandler, ConnectionInformation, DisconnectFlags, EngineConfig, Indication, Information,
    InformationClass, ReceiveAnswer, ReceiveBuffer, SendOptions, Status, TransportAddress, Vc,
};

/// How the client answers receive indications.
#[derive(Debug, Clone, Copy)]
enum Answer {
    TakeAll,
    TakeSome(usize),
    More(usize),
    NotAccepted,
}

#[derive(Debug, Clone)]
enum Op {
    /// A connection (with its first VC) on transport `n % 4` (memory, tcp,
    /// tcp+rpc, tcp+9p).
    Build(usize),
    BuildVc(usize),
    Send {
        vc: usize,
        len: usize,
        options: u32,
        wait: bool,
    },
    Answer(usize, Answer),
    PeerWrite(usize, usize),
    Resume(usize),
    Disconnect(usize),
    PeerClose(usize),
    PeerReset(usize),
    TearDownVc(usize),
    TearDownConnection(usize),
    TearDownTransport(usize),
}

/// The transports of the model, by index.
const TRANSPORTS: [&str; 4] = ["memory", "tcp", "tcp+rpc", "tcp+9p"];

fn framing_of(t: usize) -> Option<rxce::wire::Framing> {
    match t {
        2 => Some(rxce::wire::Framing::RpcRecord),
        3 => Some(rxce::wire::Framing::NineP),
        _ => None,
    }
}

/// The payload bytes a receiver makes of `raw` under `framing` (up to the
/// first refused header; all of `raw` on a bare stream).
fn deframed(framing: Option<rxce::wire::Framing>, raw: &[u8]) -> Vec<u8> {
    let Some(framing) = framing else { return raw.to_vec() };
    let mut deframer = rxce::wire::Deframer::new(framing);
    let (mut out, mut rest) = (Vec::new(), raw);
    while let Ok(Some((piece, used))) = deframer.next(rest) {
        if let rxce::wire::Piece::Payload(n) = piece {
            out.extend_from_slice(&rest[..n]);
        }
        rest = &rest[used..];
    }
    out
}

fn op() -> impl Strategy<Value = Op> {
    let answer = prop_oneof![
        Just(Answer::TakeAll),
        (1usize..500).prop_map(Answer::TakeSome),
        (1usize..5000).prop_map(Answer::More),
        Just(Answer::NotAccepted),
    ];
    // PARTIAL cuts a TSDU short by design, which the peer's TSDU check
    // cannot tell from damage; tests/send.rs covers it on its own.
    let options = proptest::sample::subsequence(vec![0x20u32, 0x80, 0x100], 0..=3)
        .prop_map(|bits| bits.into_iter().fold(0, |a, b| a | b));
    prop_oneof![
        2 => (0usize..4).prop_map(Op::Build),
        1 => (0usize..8).prop_map(Op::BuildVc),
        6 => ((0usize..8), (1usize..40_000), options, any::<bool>())
            .prop_map(|(vc, len, options, wait)| Op::Send { vc, len, options, wait }),
        2 => ((0usize..8), answer).prop_map(|(vc, a)| Op::Answer(vc, a)),
        4 => ((0usize..8), (1usize..30_000)).prop_map(|(vc, n)| Op::PeerWrite(vc, n)),
        2 => (0usize..8).prop_map(Op::Resume),
        1 => (0usize..8).prop_map(Op::Disconnect),
        1 => (0usize..8).prop_map(Op::PeerClose),
        1 => (0usize..8).prop_map(Op::PeerReset),
        1 => (0usize..8).prop_map(Op::TearDownVc),
        1 => (0usize..8).prop_map(Op::TearDownConnection),
        1 => (0usize..4).prop_map(Op::TearDownTransport),
    ]
}

/// What one VC's handler saw.
#[derive(Default)]
struct Seen {
    answer: Option<Answer>,
    received: Vec<u8>,
    completions: HashMap<usize, Vec<Status>>,
    submitted: Vec<usize>,
    torn_down: bool,
    after_tear_down: usize,
    disconnects: usize,
    paused: bool,
}

/// The handler of every connection: per-VC records.
#[derive(Default)]
struct Model {
    vcs: Mutex<HashMap<u64, Seen>>,
}

impl Model {
    /// The test's own access to a VC's record.
    fn with<R>(&self, vc: &Vc, f: impl FnOnce(&mut Seen) -> R) -> R {
        f(self.vcs.lock().unwrap().entry(vc.id()).or_default())
    }

    /// A callback's access: counted when it comes after the tear-down.
    fn indicated<R>(&self, vc: &Vc, f: impl FnOnce(&mut Seen) -> R) -> R {
        self.with(vc, |seen| {
            if seen.torn_down {
                seen.after_tear_down += 1;
            }
            f(seen)
        })
    }
}

impl ConnectionEventHandler for Model {
    fn receive(&self, vc: &Vc, ind: &Indication<'_>) -> ReceiveAnswer {
        self.indicated(vc, |seen| {
            let n = ind.data.len();
            match seen.answer.unwrap_or(Answer::TakeAll) {
                Answer::TakeAll => {
                    seen.received.extend_from_slice(ind.data);
                    ReceiveAnswer::Taken(n)
                }
                Answer::TakeSome(k) => {
                    let k = k.min(n).max(1);
                    seen.received.extend_from_slice(&ind.data[..k]);
                    ReceiveAnswer::Taken(k)
                }
                Answer::More(size) => {
                    let chain = BufferChain::with_lengths(&[size / 2, size - size / 2]);
                    ReceiveAnswer::MoreProcessingRequired {
                        taken: 0,
                        buffer: Box::new(chain),
                        size,
                    }
                }
                Answer::NotAccepted => {
                    seen.paused = true;
                    ReceiveAnswer::NotAccepted
                }
            }
        })
    }

    fn data_ready(&self, vc: &Vc, buffer: Box<dyn ReceiveBuffer>, copied: usize, _status: Status) {
        let any: Box<dyn std::any::Any + Send> = buffer;
        let chain = any.downcast::<BufferChain>().expect("the model's own buffer");
        self.indicated(vc, |seen| seen.received.extend(chain.prefix(copied)));
    }

    fn disconnect(&self, vc: &Vc, _flags: DisconnectFlags, _status: Status) {
        self.indicated(vc, |seen| seen.disconnects += 1);
    }

    fn send_submitted(&self, vc: &Vc, context: usize, _status: Status) {
        self.indicated(vc, |seen| seen.submitted.push(context));
    }

    fn send_complete(&self, vc: &Vc, context: usize, status: Status, _bytes: usize) {
        self.indicated(vc, |seen| seen.completions.entry(context).or_default().push(status));
    }
}

/// The peer's end of one VC: a reader task keeps what arrives.
struct PeerEnd {
    socket: Option<PeerSocket>,
    /// The peer closed or reset its end: bytes in flight may be lost.
    closed: bool,
    reader: tokio::task::JoinHandle<()>,
    got: Arc<Mutex<Vec<u8>>>,
    wrote: Vec<u8>,
}

#[derive(Clone)]
enum PeerSocket {
    Memory(Arc<MemoryStream>),
    Tcp(Arc<tokio::net::TcpStream>),
}

impl PeerSocket {
    async fn readable(&self) -> std::io::Result<()> {
        match self {
            PeerSocket::Memory(s) => s.readable().await,
            PeerSocket::Tcp(s) => s.readable().await,
        }
    }

    fn try_read(&self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            PeerSocket::Memory(s) => Stream::try_read(&**s, buf),
            PeerSocket::Tcp(s) => s.try_read(buf),
        }
    }

    /// Writes what the socket takes now: a stalled client must not stall
    /// the test.
    fn try_write(&self, bytes: &[u8]) -> usize {
        let result = match self {
            PeerSocket::Memory(s) => s.try_write_vectored(&[std::io::IoSlice::new(bytes)]),
            PeerSocket::Tcp(s) => s.try_write(bytes),
        };
        result.unwrap_or(0)
    }
}

impl PeerEnd {
    fn new(socket: PeerSocket) -> PeerEnd {
        let got = Arc::new(Mutex::new(Vec::new()));
        let reader = tokio::spawn({
            let socket = socket.clone();
            let got = got.clone();
            async move {
                let mut buf = vec![0u8; 65536];
                loop {
                    match socket.try_read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => got.lock().unwrap().extend_from_slice(&buf[..n]),
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            if socket.readable().await.is_err() {
                                break;
                            }
                        }
                        Err(_) => break,
                    }
                }
            }
        });
        PeerEnd {
            socket: Some(socket),
            closed: false,
            reader,
            got,
            wrote: Vec::new(),
        }
    }

    /// Closes the peer's end: orderly, or with a reset.
    async fn close(&mut self, reset: bool) {
        let Some(socket) = self.socket.take() else { return };
        self.closed = true;
        self.reader.abort();
        let _ = (&mut self.reader).await;
        match socket {
            PeerSocket::Memory(s) => s.close(reset),
            PeerSocket::Tcp(s) => {
                if reset {
                    let _ = socket2::SockRef::from(&*s).set_linger(Some(Duration::ZERO));
                }
                // The last reference: the descriptor closes (a reset with
                // zero linger).
                drop(s);
            }
        }
    }
}

/// One send as the test made it.
struct Sent {
    id: u32,
    expedited: bool,
    outcome: Option<Result<usize, Status>>,
}

struct Vcs {
    vc: Vc,
    connection: usize,
    /// Index into TRANSPORTS.
    transport: usize,
    peer: PeerEnd,
    sends: Vec<Sent>,
}

/// A TSDU the peer can recognise: id, length, then a pattern.
fn tsdu(id: u32, len: usize) -> Vec<u8> {
    let len = len.max(8);
    let mut v = Vec::with_capacity(len);
    v.extend_from_slice(&id.to_be_bytes());
    v.extend_from_slice(&(len as u32).to_be_bytes());
    v.extend((8..len).map(|i| (i as u32).wrapping_mul(id | 1) as u8));
    v
}

/// Splits what the peer got into whole TSDUs; a cut-short last one is
/// returned apart.
fn tsdus(mut stream: &[u8]) -> (Vec<(u32, Vec<u8>)>, Option<u32>) {
    let mut out = Vec::new();
    while stream.len() >= 8 {
        let id = u32::from_be_bytes(stream[..4].try_into().unwrap());
        let len = u32::from_be_bytes(stream[4..8].try_into().unwrap()) as usize;
        if stream.len() < len {
            return (out, Some(id));
        }
        out.push((id, stream[..len].to_vec()));
        stream = &stream[len..];
    }
    (out, (!stream.is_empty()).then_some(u32::MAX))
}

async fn run(ops: Vec<Op>) {
    let engine = common::engine_with(EngineConfig {
        send_queue_limit: 64 * 1024,
        receive_buffer_size: 4096,
        disconnect_timeout: Duration::from_millis(500),
        ..EngineConfig::default()
    });
    let model = Arc::new(Model::default());
    let mut memory_listener = engine.memory_listen("peer").unwrap();
    let tcp_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tcp_addr = tcp_listener.local_addr().unwrap();
    let memory = common::memory_address(&engine, "client");
    let tcp = common::tcp_address(&engine);
    let framed: Vec<(rxce::Transport, rxce::Address)> = ["tcp+rpc", "tcp+9p"]
        .iter()
        .map(|name| {
            let transport = engine.build_transport(name, 0).unwrap();
            let address = transport
                .build_address(TransportAddress::any_ipv4(), Arc::new(rxce::NoEvents))
                .unwrap();
            (transport, address)
        })
        .collect();
    let transports: [&(rxce::Transport, rxce::Address); 4] = [&memory, &tcp, &framed[0], &framed[1]];
    let mut transports_alive = [true; 4];
    let mut connections: Vec<rxce::Connection> = Vec::new();
    let mut vcs: Vec<Vcs> = Vec::new();
    let mut next_id = 1u32;
    let pick = |n: usize, len: usize| (len > 0).then(|| n % len);

    for op in ops {
        match op {
            Op::Build(t) => {
                let t = t % TRANSPORTS.len();
                let address = &transports[t].1;
                let remote = if t == 0 {
                    ConnectionInformation::to(TransportAddress::memory("peer"))
                } else {
                    ConnectionInformation::to(tcp_addr)
                };
                let Ok((connection, vc)) = address.build_connection(remote, model.clone()).await else {
                    assert!(!transports_alive[t], "a build on a live transport works");
                    continue;
                };
                let peer = accept(t != 0, &mut memory_listener, &tcp_listener).await;
                connections.push(connection);
                vcs.push(Vcs {
                    vc,
                    connection: connections.len() - 1,
                    transport: t,
                    peer,
                    sends: Vec::new(),
                });
            }
            Op::BuildVc(c) => {
                let Some(c) = pick(c, connections.len()) else { continue };
                let name = connections[c].address().transport().name().to_owned();
                let t = TRANSPORTS.iter().position(|n| *n == name).expect("a model transport");
                match connections[c].build_vc().await {
                    Ok(vc) => {
                        let peer = accept(t != 0, &mut memory_listener, &tcp_listener).await;
                        vcs.push(Vcs {
                            vc,
                            connection: c,
                            transport: t,
                            peer,
                            sends: Vec::new(),
                        });
                    }
                    Err(status) => assert!(!connections[c].is_valid(), "{status}"),
                }
            }
            Op::Send { vc, len, options, wait } => {
                let Some(v) = pick(vc, vcs.len()) else { continue };
                let id = next_id;
                next_id += 1;
                let options = SendOptions::from_bits_retain(options);
                let target = &mut vcs[v];
                let data = tsdu(id, len);
                let expedited = options.contains(SendOptions::EXPEDITED);
                if wait {
                    // A synchronous send of a peer that reads: it ends.
                    let outcome = tokio::time::timeout(Duration::from_secs(10), target.vc.send(data, options))
                        .await
                        .expect("a synchronous send returns");
                    let partial = matches!(&outcome, Ok(n) if *n < len.max(8));
                    assert!(!partial || options.contains(SendOptions::PARTIAL));
                    target.sends.push(Sent {
                        id,
                        expedited,
                        outcome: Some(outcome),
                    });
                } else {
                    let status = target.vc.try_submit_send(data, options, id as usize);
                    if status == Status::PENDING {
                        target.sends.push(Sent {
                            id,
                            expedited,
                            outcome: None,
                        });
                    } else {
                        assert!(status.is_error(), "{status}");
                    }
                }
            }
            Op::Answer(vc, answer) => {
                let Some(v) = pick(vc, vcs.len()) else { continue };
                model.with(&vcs[v].vc, |seen| seen.answer = Some(answer));
            }
            Op::PeerWrite(vc, n) => {
                let Some(v) = pick(vc, vcs.len()) else { continue };
                let framing = framing_of(vcs[v].transport);
                let peer = &mut vcs[v].peer;
                let mut bytes = common::pattern(n.max(3), peer.wrote.len() as u8);
                if let Some(framing) = framing {
                    // One framed message (an RPC record in fragments of up
                    // to 4 KiB); a write the socket cuts short leaves the
                    // stream cut there, as a peer's would.
                    bytes = match framing {
                        rxce::wire::Framing::RpcRecord => rxce::wire::record::encode_record(&bytes, 4096),
                        _ => [framing.encode_message_header(bytes.len()).unwrap().as_slice(), &bytes].concat(),
                    };
                }
                let written = peer.socket.as_ref().map_or(0, |socket| socket.try_write(&bytes));
                peer.wrote.extend_from_slice(&bytes[..written]);
            }
            Op::Resume(vc) => {
                let Some(v) = pick(vc, vcs.len()) else { continue };
                model.with(&vcs[v].vc, |seen| {
                    seen.answer = Some(Answer::TakeAll);
                    seen.paused = false;
                });
                let valid = vcs[v].vc.is_valid();
                assert_eq!(vcs[v].vc.resume_receive().is_ok(), valid);
            }
            Op::Disconnect(vc) => {
                let Some(v) = pick(vc, vcs.len()) else { continue };
                let _ = vcs[v].vc.initiate_disconnect();
            }
            Op::PeerClose(vc) | Op::PeerReset(vc) => {
                let reset = matches!(op, Op::PeerReset(_));
                let Some(v) = pick(vc, vcs.len()) else { continue };
                vcs[v].peer.close(reset).await;
            }
            Op::TearDownVc(vc) => {
                let Some(v) = pick(vc, vcs.len()) else { continue };
                let valid = vcs[v].vc.is_valid();
                let outcome = vcs[v].vc.tear_down().await;
                assert_eq!(outcome.is_ok(), valid, "{outcome:?}");
                model.with(&vcs[v].vc, |seen| seen.torn_down = true);
            }
            Op::TearDownConnection(c) => {
                let Some(c) = pick(c, connections.len()) else { continue };
                let valid = connections[c].is_valid();
                assert_eq!(connections[c].tear_down().await.is_ok(), valid);
                for v in vcs.iter().filter(|v| v.connection == c) {
                    assert!(!v.vc.is_valid(), "no VC outlives its connection");
                    model.with(&v.vc, |seen| seen.torn_down = true);
                }
            }
            Op::TearDownTransport(t) => {
                let t = t % TRANSPORTS.len();
                let transport = &transports[t].0;
                assert_eq!(transport.tear_down().await.is_ok(), transports_alive[t]);
                transports_alive[t] = false;
                for v in vcs.iter().filter(|v| v.transport == t) {
                    assert!(!v.vc.is_valid(), "no VC outlives its transport");
                    assert!(!connections[v.connection].is_valid());
                    model.with(&v.vc, |seen| seen.torn_down = true);
                }
            }
        }
    }

    // Let the peers drain what was sent, then end everything.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let counters: Vec<Option<u32>> = vcs
        .iter()
        .map(|v| match v.vc.query_information(InformationClass::ConnectionEndpoint) {
            Ok(Information::ConnectionEndpoint(e)) => Some(e.transmitted_tsdus),
            _ => None,
        })
        .collect();
    for v in &vcs {
        if v.vc.is_valid() {
            v.vc.tear_down().await.unwrap();
        }
        model.with(&v.vc, |seen| seen.torn_down = true);
    }
    for (v, counted) in vcs.iter().zip(counters) {
        check(v, &model, counted).await;
    }
    engine.shutdown().await;
    drop((connections, vcs, memory, tcp, framed));
    assert_eq!(
        engine.live_objects(),
        rxce::LiveObjects::default(),
        "nothing outlives the engine"
    );
}

async fn accept(tcp: bool, memory: &mut rxce::provider::MemoryListener, listener: &tokio::net::TcpListener) -> PeerEnd {
    let socket = if tcp {
        PeerSocket::Tcp(Arc::new(listener.accept().await.unwrap().0))
    } else {
        PeerSocket::Memory(Arc::new(memory.accept().await.unwrap()))
    };
    PeerEnd::new(socket)
}

async fn check(v: &Vcs, model: &Model, counted: Option<u32>) {
    // Give the peer's reader a moment to take the last bytes.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let vcs = model.vcs.lock().unwrap();
    let empty = Seen::default();
    let seen = vcs.get(&v.vc.id()).unwrap_or(&empty);
    assert_eq!(
        seen.after_tear_down, 0,
        "an indication ran after the tear-down returned"
    );
    assert!(seen.disconnects <= 1, "one disconnect indication at most");
    // Every asynchronous send completed exactly once, after its submission.
    for sent in v.sends.iter().filter(|s| s.outcome.is_none()) {
        let completions = seen.completions.get(&(sent.id as usize)).map_or(0, Vec::len);
        assert_eq!(completions, 1, "send {} completed {completions} times", sent.id);
        assert!(seen.submitted.contains(&(sent.id as usize)));
    }
    let succeeded = |sent: &Sent| match &sent.outcome {
        Some(outcome) => outcome.is_ok(),
        None => seen.completions[&(sent.id as usize)][0] == Status::SUCCESS,
    };
    // The peer got whole TSDUs: each success once and intact (on a framed
    // transport, each one message).
    let framing = framing_of(v.transport);
    let got = deframed(framing, &v.peer.got.lock().unwrap());
    let (whole, cut) = tsdus(&got);
    let mut order = Vec::new();
    for (id, bytes) in &whole {
        let sent = v
            .sends
            .iter()
            .find(|s| s.id == *id)
            .unwrap_or_else(|| panic!("a TSDU {id} nobody sent"));
        let expected = tsdu(*id, bytes.len());
        assert_eq!(bytes, &expected, "TSDU {id} arrived damaged");
        assert!(!order.contains(id), "TSDU {id} arrived twice");
        order.push(*id);
        let _ = sent;
    }
    // Handed over is not delivered when the peer went away meanwhile.
    if !v.peer.closed {
        for sent in v.sends.iter().filter(|s| succeeded(s)) {
            assert!(
                order.contains(&sent.id),
                "successful send {} never arrived whole (cut short: {cut:?})",
                sent.id
            );
        }
    }
    // Normal sends keep their order.
    let normal: Vec<u32> = v.sends.iter().filter(|s| !s.expedited).map(|s| s.id).collect();
    let arrived_normal: Vec<u32> = order.iter().copied().filter(|id| normal.contains(id)).collect();
    let mut sorted = arrived_normal.clone();
    sorted.sort_unstable();
    assert_eq!(arrived_normal, sorted, "normal sends out of order");
    // The client got a prefix of what the peer wrote (its messages'
    // payload bytes on a framed transport).
    assert!(
        deframed(framing, &v.peer.wrote).starts_with(&seen.received),
        "the client's bytes are not the peer's"
    );
    // The counter counts the successful sends (those done when it was read).
    if let Some(counted) = counted {
        let successes = v.sends.iter().filter(|s| succeeded(s)).count() as u32;
        assert!(counted <= successes, "{counted} counted, {successes} succeeded");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn the_api_keeps_its_promises_under_random_use(ops in proptest::collection::vec(op(), 1..40)) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime
            .block_on(async { tokio::time::timeout(Duration::from_secs(60), run(ops)).await })
            .expect("no hang");
    }
}
