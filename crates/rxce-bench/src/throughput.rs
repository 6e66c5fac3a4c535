//! throughput: one-way bulk transfer in `--size` sends (64 KiB by default).
//!
//! * rxce: `Vc::send` on a VC whose other end is an rxce VC too (the
//!   bench accepts the connection and hands it to the engine through the
//!   [`Accepted`] provider); that end takes the bytes through receive
//!   indications. With `--peer URL` or `netbt` the other end is the peer.
//! * raw tokio: `write_all` of the same sizes on a `TcpStream` (or the
//!   transport's socket), the other end `read` into a buffer of the
//!   engine's receive buffer size (256 KiB by default).
//! * blocking (tcp only): std sockets, a writer and a reader thread with
//!   1 MiB buffers — the machine's loopback limit.
//!
//! A slice sends for its time, then waits until the receiver has every
//! byte; the figure is bytes / (time until the receiver has them all).

use std::io::{Read, Write};
use std::net::TcpListener as StdListener;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rxce::provider::{Stream, TcpEndpoint};
use rxce::{SendOptions, Status, TransportAddress, Vc};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

use super::harness::{compare, interleave, Better, Contest, Figures, Plan};
use super::link::{self, Accepted, Client, Counting, RawIo};
use super::report::Row;
use super::Ctx;
use crate::endpoint::{Endpoint, Kind, Target, UnixName};
use crate::serve::{Mode, Peer};

/// The blocking copy's buffer size.
const BLOCKING_BUFFER: usize = 1 << 20;
/// The raw receiver's read size: the engine's receive buffer size.
fn raw_read() -> usize {
    rxce::EngineConfig::default().receive_buffer_size
}

/// Where the rxce side's bytes are counted.
enum RxceEnd {
    /// The other end is an rxce VC counting through indications.
    Vc(Arc<Counting>, Vc),
    /// An embedded peer counts (by its statistics).
    Peer,
    /// An external peer: only the sender's side is seen.
    Blind,
}

pub(crate) async fn run(ctx: &Ctx<'_>) -> Result<Vec<Row>, Status> {
    let kind = ctx.kind();
    let size = ctx.options.size;
    let payload = Bytes::from(crate::serve::pattern_bytes(size));
    let external = ctx.options.peer.clone();
    let both_rxce = external.is_none() && kind != Kind::Netbt;
    let framing = match kind {
        Kind::Netbt => None,
        _ => kind.framing(),
    };

    // The rxce pair.
    let mut peer: Option<Peer> = None;
    let (endpoint, listener) = match &external {
        Some(url) => (url.clone(), None),
        None if both_rxce => {
            let (endpoint, listener) = listen(kind, ctx).await?;
            (endpoint, Some(listener))
        }
        None => {
            let p = link::embedded_peer(kind, Mode::Sink, &ctx.engine).await?;
            let endpoint = p.endpoint().clone();
            peer = Some(p);
            (endpoint, None)
        }
    };
    let client = Client::new(&ctx.engine, &endpoint)?;
    let (sender, end) = match listener {
        Some(mut listener) => {
            let counting = Arc::new(Counting::default());
            let (sender, accepted) = tokio::join!(client.connect(Arc::new(rxce::NoEvents)), listener.accept());
            let accepted = accepted?;
            let provider = Accepted::register(&ctx.engine)?;
            provider.push(accepted, framing);
            let receiving = Client::new_accepted(&ctx.engine)?;
            let receiver = receiving.connect(counting.clone()).await?;
            (sender?, (RxceEnd::Vc(counting, receiver), Some(receiving)))
        }
        None if peer.is_some() => (client.connect(Arc::new(rxce::NoEvents)).await?, (RxceEnd::Peer, None)),
        None => (client.connect(Arc::new(rxce::NoEvents)).await?, (RxceEnd::Blind, None)),
    };
    let (end, receiving) = end;

    // The raw tokio pair, to the same kind of listener or peer.
    let raw_counting = Arc::new(Counting::default());
    let raw_writer: Box<dyn RawIo> = match (&external, kind) {
        (Some(url), _) => link::raw_connect(url).await?,
        (None, Kind::Memory) => {
            let (client, server) = rxce::provider::MemoryStream::pair("bench-writer", "bench-reader");
            tokio::spawn(link::drain_into(server, raw_counting.clone(), raw_read()));
            Box::new(client)
        }
        (None, Kind::Netbt) => link::raw_connect(&endpoint).await?,
        (None, _) => {
            let (endpoint, mut listener) = listen(kind, ctx).await?;
            let (writer, reader) = tokio::join!(link::raw_connect(&endpoint), listener.accept_raw());
            tokio::spawn(link::drain_into(reader?, raw_counting.clone(), raw_read()));
            writer?
        }
    };
    let raw_blind = external.is_some() || kind == Kind::Netbt;

    // The loopback limit (tcp, embedded only).
    let blocking = if kind == Kind::Tcp && external.is_none() {
        Some(Blocking::start()?)
    } else {
        None
    };

    let contenders = if blocking.is_some() { 3 } else { 2 };
    let mut contest = Transfer {
        header: framing_header(kind, size)?,
        payload,
        sender,
        end,
        peer,
        raw_writer,
        raw_counting,
        raw_blind,
        blocking,
        rxce_expected: 0,
        raw_expected: 0,
    };
    let plan = Plan::new(ctx.options.duration, contenders);
    let label = format!("throughput {} {}", kind.transport_name(), ctx.flavour.name());
    let recorded = interleave(&plan, contenders, ctx.progress, &label, &mut contest).await?;
    let Transfer {
        end,
        raw_writer,
        blocking,
        peer,
        ..
    } = contest;
    if let RxceEnd::Vc(_, receiver) = &end {
        let _ = receiver.tear_down().await;
    }
    drop(raw_writer);
    if let Some(blocking) = blocking {
        blocking.stop();
    }
    client.close().await;
    if let Some(receiving) = receiving {
        receiving.close().await;
    }
    if let Some(peer) = peer {
        peer.stop().await;
    }

    let rxce = recorded.series(0, 0);
    let mut rows = Vec::new();
    let transport = kind.transport_name();
    let size_note = crate::table::bytes(size as u64);
    let to_mib = |c: super::harness::Comparison| super::harness::Comparison {
        rxce: c.rxce / f64::from(1 << 20),
        baseline: c.baseline / f64::from(1 << 20),
        ..c
    };
    let raw = to_mib(compare(&rxce, &recorded.series(1, 0), Better::Higher));
    rows.push(Row::new(
        "throughput",
        &format!("{size_note} sends"),
        transport,
        ctx.flavour,
        "MiB/s",
        "raw tokio",
        raw,
    ));
    if contenders == 3 {
        let limit = to_mib(compare(&rxce, &recorded.series(2, 0), Better::Higher));
        rows.push(Row::new(
            "throughput",
            &format!("{size_note} sends"),
            transport,
            ctx.flavour,
            "MiB/s",
            "blocking std, 1 MiB buffers",
            limit,
        ));
    }
    Ok(rows)
}

/// The contenders of a transfer and their connections.
struct Transfer {
    header: Option<Vec<u8>>,
    payload: Bytes,
    sender: Vc,
    end: RxceEnd,
    peer: Option<Peer>,
    raw_writer: Box<dyn RawIo>,
    raw_counting: Arc<Counting>,
    raw_blind: bool,
    blocking: Option<Blocking>,
    rxce_expected: u64,
    raw_expected: u64,
}

impl Contest for Transfer {
    async fn run(&mut self, contender: usize, slice: Duration) -> Result<Figures, Status> {
        let started = Instant::now();
        let mut sent = 0u64;
        match contender {
            0 => {
                while started.elapsed() < slice {
                    self.sender.send(self.payload.clone(), SendOptions::empty()).await?;
                    sent += self.payload.len() as u64;
                }
                self.rxce_expected += sent;
                match &self.end {
                    RxceEnd::Vc(counting, _) => counting.wait_for(self.rxce_expected).await,
                    RxceEnd::Peer => wait_for_peer(self.peer.as_ref(), self.rxce_expected).await,
                    RxceEnd::Blind => {}
                }
            }
            1 => {
                let io = |e: std::io::Error| Status::from_io(e, "writing the raw connection");
                let header_len = self.header.as_ref().map_or(0, Vec::len) as u64;
                while started.elapsed() < slice {
                    if let Some(header) = &self.header {
                        self.raw_writer.write_all(header).await.map_err(io)?;
                    }
                    self.raw_writer.write_all(&self.payload).await.map_err(io)?;
                    sent += self.payload.len() as u64;
                    self.raw_expected += header_len + self.payload.len() as u64;
                }
                if self.raw_blind {
                    self.raw_writer.flush().await.map_err(io)?;
                } else {
                    self.raw_counting.wait_for(self.raw_expected).await;
                }
            }
            _ => {
                let blocking = self
                    .blocking
                    .as_mut()
                    .expect("the third contender is the blocking copy");
                return Ok(Figures::of(vec![blocking.round(slice)?]));
            }
        }
        Ok(Figures::of(vec![sent as f64 / started.elapsed().as_secs_f64()]))
    }
}

/// The frame header a raw writer puts before each message, if framed.
fn framing_header(kind: Kind, size: usize) -> Result<Option<Vec<u8>>, Status> {
    let Some(framing) = kind.framing() else {
        return Ok(None);
    };
    if framing == rxce::wire::Framing::RpcRecord {
        // By hand: each record as one fragment.
        let header = rxce::wire::record::encode_fragment_header(size, true)
            .map_err(|e| Status::INVALID_PARAMETER.with_message(format!("a {size}-byte record: {e}")))?;
        return Ok(Some(header.to_vec()));
    }
    let header = framing
        .encode_message_header(size)
        .map_err(|e| Status::INVALID_PARAMETER.with_message(format!("a {size}-byte message: {e}")))?;
    Ok(Some(header.to_vec()))
}

/// Waits until the embedded peer has received `total` payload bytes.
pub(crate) async fn wait_for_peer(peer: Option<&Peer>, total: u64) {
    let Some(peer) = peer else { return };
    while peer.stats().bytes_received < total {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// A listener the bench accepts from itself.
pub(crate) enum Listening {
    Tcp(TcpListener),
    Unix(crate::unix::Listener),
    Memory(rxce::provider::MemoryListener),
}

/// A listener of `kind` on a fresh endpoint.
pub(crate) async fn listen(kind: Kind, ctx: &Ctx<'_>) -> Result<(Endpoint, Listening), Status> {
    let failed = |e: std::io::Error| Status::from_io(e, "listening for the bench");
    match kind {
        Kind::Tcp | Kind::TcpSmb | Kind::TcpRpc | Kind::Tcp9p | Kind::Netbt => {
            let listener = TcpListener::bind("127.0.0.1:0").await.map_err(failed)?;
            let port = listener.local_addr().map_err(failed)?.port();
            // A netbt sink is reached by a raw tcp connection.
            let scheme = if kind == Kind::Netbt {
                "tcp"
            } else {
                kind.transport_name()
            };
            Ok((
                parse(&format!("{scheme}://127.0.0.1:{port}"))?,
                Listening::Tcp(listener),
            ))
        }
        Kind::Unix => {
            let name = format!("rxce-bench-{}-{}", std::process::id(), next());
            let unix = UnixName::Abstract(name.clone());
            let listener = crate::unix::listen(&unix)?;
            Ok((parse(&format!("unix:@{name}"))?, Listening::Unix(listener)))
        }
        Kind::Memory => {
            let name = format!("rxce-bench-sink-{}", next());
            let listener = ctx.engine.memory_listen(&name)?;
            Ok((
                Endpoint::new(Kind::Memory, Target::Memory(name)),
                Listening::Memory(listener),
            ))
        }
        Kind::Udp => Err(Status::INVALID_PARAMETER.with_message("the bench has no udp scenario")),
        Kind::Quic => {
            Err(Status::INVALID_PARAMETER.with_message("the bench's accepted-stream scenarios have no quic yet"))
        }
    }
}

fn next() -> u64 {
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

fn parse(url: &str) -> Result<Endpoint, Status> {
    Endpoint::parse(url).map_err(|e| Status::INVALID_PARAMETER.with_message(e.to_string()))
}

impl Listening {
    /// The next connection as an engine stream.
    pub(crate) async fn accept(&mut self) -> Result<Arc<dyn Stream>, Status> {
        let failed = |e: std::io::Error| Status::from_io(e, "accepting for the bench");
        Ok(match self {
            Listening::Tcp(l) => {
                let (s, peer) = l.accept().await.map_err(failed)?;
                s.set_nodelay(true).map_err(failed)?;
                Arc::new(TcpEndpoint::new(s, TransportAddress::ip(peer)))
            }
            Listening::Unix(l) => crate::unix::endpoint(crate::unix::accept(l).await.map_err(failed)?),
            Listening::Memory(l) => {
                let stream = l.accept().await;
                Arc::new(stream.ok_or_else(|| Status::CONNECTION_DISCONNECTED.with_message("listener closed"))?)
            }
        })
    }

    /// The next connection as a raw tokio stream.
    pub(crate) async fn accept_raw(&mut self) -> Result<Box<dyn RawIo>, Status> {
        let failed = |e: std::io::Error| Status::from_io(e, "accepting for the bench");
        Ok(match self {
            Listening::Tcp(l) => {
                let (s, _) = l.accept().await.map_err(failed)?;
                s.set_nodelay(true).map_err(failed)?;
                Box::new(s)
            }
            Listening::Unix(l) => Box::new(crate::unix::accept(l).await.map_err(failed)?),
            Listening::Memory(l) => Box::new(
                l.accept()
                    .await
                    .ok_or_else(|| Status::CONNECTION_DISCONNECTED.with_message("listener closed"))?,
            ),
        })
    }
}

/// The blocking std-socket copy: a reader thread drains a loopback TCP
/// connection with 1 MiB reads; the bench's thread writes 1 MiB buffers.
struct Blocking {
    writer: std::net::TcpStream,
    received: Arc<(Mutex<u64>, Condvar)>,
    expected: u64,
    buffer: Vec<u8>,
    stop: Arc<AtomicBool>,
    reader: Option<JoinHandle<()>>,
}

impl Blocking {
    fn start() -> Result<Blocking, Status> {
        let failed = |e: std::io::Error| Status::from_io(e, "the blocking loopback copy");
        let listener = StdListener::bind("127.0.0.1:0").map_err(failed)?;
        let writer = std::net::TcpStream::connect(listener.local_addr().map_err(failed)?).map_err(failed)?;
        let (mut reader, _) = listener.accept().map_err(failed)?;
        let received = Arc::new((Mutex::new(0u64), Condvar::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (counted, stopped) = (received.clone(), stop.clone());
        let reader = std::thread::Builder::new()
            .name("bench-blocking-reader".into())
            .spawn(move || {
                let mut buf = vec![0u8; BLOCKING_BUFFER];
                while !stopped.load(Ordering::Relaxed) {
                    match reader.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            let (count, changed) = &*counted;
                            *count.lock().unwrap_or_else(|e| e.into_inner()) += n as u64;
                            changed.notify_all();
                        }
                    }
                }
            })
            .map_err(failed)?;
        Ok(Blocking {
            writer,
            received,
            expected: 0,
            buffer: crate::serve::pattern_bytes(BLOCKING_BUFFER),
            stop,
            reader: Some(reader),
        })
    }

    /// Writes for `slice`, waits for the reader, returns bytes per second.
    fn round(&mut self, slice: Duration) -> Result<f64, Status> {
        let started = Instant::now();
        let mut sent = 0u64;
        while started.elapsed() < slice {
            self.writer
                .write_all(&self.buffer)
                .map_err(|e| Status::from_io(e, "the blocking loopback copy"))?;
            sent += self.buffer.len() as u64;
        }
        self.expected += sent;
        let (count, changed) = &*self.received;
        let mut got = count.lock().unwrap_or_else(|e| e.into_inner());
        while *got < self.expected {
            got = changed.wait(got).unwrap_or_else(|e| e.into_inner());
        }
        Ok(sent as f64 / started.elapsed().as_secs_f64())
    }

    fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.writer.shutdown(std::net::Shutdown::Both);
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}
