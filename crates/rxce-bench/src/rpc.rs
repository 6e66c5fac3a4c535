//! rpc: 64-byte requests, each answered by a 64-byte response, one at a
//! time on one connection to an echo peer.
//!
//! * rxce: `Vc::send` of the request; the response arrives through a
//!   receive indication, whose handler wakes the waiting caller (as a
//!   redirector's request/response matching would).
//! * raw tokio: `write_all` then `read_exact` on a `TcpStream` (or the
//!   transport's socket) to the same echo peer.
//!
//! Figures per slice: the p50 and p99 round-trip latency and round trips
//! per second.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rxce::{SendOptions, Status, Vc};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::harness::{compare, interleave, quantile, Better, Contest, Figures, Plan};
use super::link::{self, Client, Counting, RawIo};
use super::report::Row;
use super::Ctx;
use crate::endpoint::Kind;
use crate::serve::{Mode, Peer};

/// Request and response size.
pub const MESSAGE: usize = 64;

/// The latencies of both sides, for the plot.
#[derive(Debug, Clone, Default)]
pub struct Latencies {
    /// The runtime flavour's name.
    pub flavour: String,
    /// rxce round trips, in microseconds.
    pub rxce: Vec<f64>,
    /// Raw tokio round trips, in microseconds.
    pub baseline: Vec<f64>,
}

struct PingPong {
    vc: Vc,
    counting: Arc<Counting>,
    expected: u64,
    raw: Box<dyn RawIo>,
    request: Bytes,
    raw_request: Vec<u8>,
    raw_response: Vec<u8>,
}

impl Contest for PingPong {
    async fn run(&mut self, contender: usize, slice: Duration) -> Result<Figures, Status> {
        let mut samples = Vec::with_capacity(4096);
        let started = Instant::now();
        while started.elapsed() < slice {
            let t0 = Instant::now();
            if contender == 0 {
                self.vc.send(self.request.clone(), SendOptions::empty()).await?;
                self.expected += MESSAGE as u64;
                self.counting.wait_for(self.expected).await;
            } else {
                let io = |e: std::io::Error| Status::from_io(e, "the raw round trip");
                self.raw.write_all(&self.raw_request).await.map_err(io)?;
                self.raw.read_exact(&mut self.raw_response).await.map_err(io)?;
            }
            samples.push(t0.elapsed().as_secs_f64() * 1e6);
        }
        let rate = samples.len() as f64 / started.elapsed().as_secs_f64();
        Ok(Figures {
            values: vec![quantile(&samples, 0.5), quantile(&samples, 0.99), rate],
            samples,
        })
    }
}

pub(crate) async fn run(ctx: &Ctx<'_>) -> Result<(Vec<Row>, Latencies), Status> {
    let kind = ctx.kind();
    let mut peer: Option<Peer> = None;
    let endpoint = match &ctx.options.peer {
        Some(url) => url.clone(),
        None => {
            let p = link::embedded_peer(kind, Mode::Echo, &ctx.engine).await?;
            let endpoint = p.endpoint().clone();
            peer = Some(p);
            endpoint
        }
    };
    let client = Client::new(&ctx.engine, &endpoint)?;
    let counting = Arc::new(Counting::default());
    let vc = client.connect(counting.clone()).await?;
    let raw: Box<dyn RawIo> = if kind == Kind::Memory && ctx.options.peer.is_none() {
        Box::new(link::raw_memory_peer(Mode::Echo))
    } else {
        link::raw_connect(&endpoint).await?
    };
    let request = crate::serve::pattern_bytes(MESSAGE);
    // The raw side frames by hand: the 4-byte header (an RPC record as one
    // last fragment, 9P's size[4]), then the message.
    let header = kind
        .framing()
        .map(|f| f.encode_message_header(MESSAGE).expect("64 bytes fit a frame").to_vec())
        .unwrap_or_default();
    let raw_request = [header.as_slice(), &request].concat();
    let mut contest = PingPong {
        vc,
        counting,
        expected: 0,
        raw,
        request: Bytes::from(request),
        raw_response: vec![0; raw_request.len()],
        raw_request,
    };
    let plan = Plan::new(ctx.options.duration, 2);
    let label = format!("rpc {} {}", kind.transport_name(), ctx.flavour.name());
    let recorded = interleave(&plan, 2, ctx.progress, &label, &mut contest).await?;
    drop(contest);
    client.close().await;
    if let Some(peer) = peer {
        peer.stop().await;
    }

    let transport = kind.transport_name();
    let baseline = "raw tokio";
    let metric = format!("{MESSAGE} B request/response");
    let rows = vec![
        Row::new(
            "rpc",
            &format!("{metric}, p50"),
            transport,
            ctx.flavour,
            "µs",
            baseline,
            compare(&recorded.series(0, 0), &recorded.series(1, 0), Better::Lower),
        ),
        Row::new(
            "rpc",
            &format!("{metric}, p99"),
            transport,
            ctx.flavour,
            "µs",
            baseline,
            compare(&recorded.series(0, 1), &recorded.series(1, 1), Better::Lower),
        ),
        Row::new(
            "rpc",
            &format!("{metric}, rate"),
            transport,
            ctx.flavour,
            "round trips/s",
            baseline,
            compare(&recorded.series(0, 2), &recorded.series(1, 2), Better::Higher),
        ),
    ];
    let latencies = Latencies {
        flavour: ctx.flavour.name().to_owned(),
        rxce: recorded.samples(0),
        baseline: recorded.samples(1),
    };
    Ok((rows, latencies))
}
