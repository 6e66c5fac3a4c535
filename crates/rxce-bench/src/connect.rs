//! connect: connections built one after another to a peer: over tcp (and
//! tcp+smb) a listener served by a thread outside the runtime being
//! measured (it accepts and holds the latest connections, see
//! [`Acceptor`]); over the other transports the embedded echo peer.
//!
//! * rxce: `Address::build_connection` (address to a ready VC, its task
//!   started), then the connection's tear-down.
//! * raw tokio: `TcpStream::connect` plus TCP_NODELAY (what the engine
//!   sets), then drop.
//!
//! Figures per slice: connections built per second of build time (one at a
//! time: the inverse of the mean build latency — what the target is
//! about), the p50 build latency, and, as information, whole cycles per
//! second (build and tear-down against connect and drop: rxce's tear-down
//! waits for the VC's task to finish, a drop does not).

use std::sync::Arc;
use std::time::{Duration, Instant};

use rxce::{NoEvents, Status};

use super::harness::{compare, interleave, quantile, Better, Contest, Figures, Plan};
use super::link::{self, Acceptor, Client};
use super::report::Row;
use super::Ctx;
use crate::endpoint::{Endpoint, Kind};
use crate::serve::{Mode, Peer};

struct Connects {
    client: Client,
    endpoint: Endpoint,
    handler: Arc<NoEvents>,
    /// The peer's accept loop is a task of this runtime: yield after each
    /// connection so that it keeps up (a loop that never waits would fill
    /// its listen queue and stall, or block on a full Unix-domain backlog).
    peer_in_runtime: bool,
}

impl Contest for Connects {
    async fn run(&mut self, contender: usize, slice: Duration) -> Result<Figures, Status> {
        let mut samples = Vec::with_capacity(1024);
        let started = Instant::now();
        while started.elapsed() < slice {
            let t0 = Instant::now();
            if contender == 0 {
                let (connection, _vc) = self
                    .client
                    .address
                    .build_connection(self.client.remote.clone(), self.handler.clone())
                    .await?;
                samples.push(t0.elapsed().as_secs_f64() * 1e6);
                connection.tear_down().await?;
            } else if self.endpoint.kind() == Kind::Memory {
                let stream = link::raw_memory_peer(Mode::Echo);
                samples.push(t0.elapsed().as_secs_f64() * 1e6);
                drop(stream);
            } else {
                let stream = link::raw_connect(&self.endpoint).await?;
                samples.push(t0.elapsed().as_secs_f64() * 1e6);
                drop(stream);
            }
            if self.peer_in_runtime {
                tokio::task::yield_now().await;
            }
        }
        let building: f64 = samples.iter().sum::<f64>() / 1e6;
        let builds = samples.len() as f64 / building;
        let cycles = samples.len() as f64 / started.elapsed().as_secs_f64();
        Ok(Figures::of(vec![builds, quantile(&samples, 0.5), cycles]))
    }
}

pub(crate) async fn run(ctx: &Ctx<'_>) -> Result<Vec<Row>, Status> {
    let kind = ctx.kind();
    let mut peer: Option<Peer> = None;
    let mut acceptor: Option<Acceptor> = None;
    let endpoint = match &ctx.options.peer {
        Some(url) => url.clone(),
        None if matches!(kind, Kind::Tcp | Kind::TcpSmb) => {
            let a = Acceptor::start()?;
            let endpoint = a.endpoint(kind);
            acceptor = Some(a);
            endpoint
        }
        None => {
            let p = link::embedded_peer(kind, Mode::Echo, &ctx.engine).await?;
            let endpoint = p.endpoint().clone();
            peer = Some(p);
            endpoint
        }
    };
    let mut contest = Connects {
        client: Client::new(&ctx.engine, &endpoint)?,
        endpoint,
        handler: Arc::new(NoEvents),
        peer_in_runtime: peer.is_some(),
    };
    let plan = Plan::new(ctx.options.duration, 2);
    let label = format!("connect {} {}", kind.transport_name(), ctx.flavour.name());
    let recorded = interleave(&plan, 2, ctx.progress, &label, &mut contest).await?;
    contest.client.close().await;
    if let Some(peer) = peer {
        peer.stop().await;
    }
    drop(acceptor);
    let transport = kind.transport_name();
    let baseline = "raw tokio connect";
    Ok(vec![
        Row::new(
            "connect",
            "builds per second of build time",
            transport,
            ctx.flavour,
            "connections/s",
            baseline,
            compare(&recorded.series(0, 0), &recorded.series(1, 0), Better::Higher),
        ),
        Row::new(
            "connect",
            "build latency, p50",
            transport,
            ctx.flavour,
            "µs",
            baseline,
            compare(&recorded.series(0, 1), &recorded.series(1, 1), Better::Lower),
        ),
        Row::new(
            "connect",
            "build + tear-down cycles per second",
            transport,
            ctx.flavour,
            "cycles/s",
            "raw tokio connect + drop",
            compare(&recorded.series(0, 2), &recorded.series(1, 2), Better::Higher),
        ),
    ])
}
