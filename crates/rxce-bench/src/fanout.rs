//! fanout: how the cost grows with the number of VCs. N connections (N =
//! 1, 10, 100, 1,000, 5,000, up to `--connections`) to the embedded echo
//! peer, each doing 64-byte request/response round trips at once for the
//! slice; and N = 1, 4, 16 connections to the embedded sink, each sending
//! 64 KiB at once.
//!
//! * rxce: N `build_connection`s; per VC a task sending with `Vc::send`
//!   and waiting for the echo through its receive indication (as rpc
//!   does), or sending 64 KiB TSDUs.
//! * raw tokio: N `TcpStream`s (TCP_NODELAY); per stream a task doing
//!   `write_all` + `read_exact`, or `write_all` of 64 KiB.
//!
//! Each contender's connections are built before its slice and closed
//! after it (both sides' sets at once would pass the open-file limit at N
//! = 5,000); building is not measured. Figures per slice: aggregate round
//! trips per second and the p99 round trip over every VC (or MiB/s handed
//! to the kernel for bulk).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rxce::{Connection, SendOptions, Status, Vc};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use super::harness::{compare, interleave, quantile, Better, Contest, Figures, Plan};
use super::link::{self, Client, Counting};
use super::report::Row;
use super::Ctx;
use crate::endpoint::{Endpoint, Kind};
use crate::serve::Mode;

/// The request/response fan-out levels (those up to `--connections`).
pub const LEVELS: [usize; 5] = [1, 10, 100, 1000, 5000];
/// The bulk fan-out levels.
pub const BULK_LEVELS: [usize; 3] = [1, 4, 16];
/// Request and response size.
const MESSAGE: usize = 64;
/// Bulk send size.
const BULK: usize = 64 * 1024;
/// Connections built at once.
const BUILDING: usize = 64;

/// The levels run for `largest` (`--connections`): the fixed ones up to
/// it, and `largest` itself when it is below the top one.
pub fn levels(largest: usize) -> Vec<usize> {
    let mut levels: Vec<usize> = LEVELS.iter().copied().filter(|&n| n <= largest).collect();
    if largest < LEVELS[LEVELS.len() - 1] && !levels.contains(&largest) {
        levels.push(largest);
    }
    levels
}

/// One level's medians, for the plot.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// The runtime flavour's name.
    pub flavour: String,
    /// VCs at once.
    pub n: usize,
    /// Aggregate round trips per second: rxce, raw tokio.
    pub rate: (f64, f64),
    /// p99 round trip in µs: rxce, raw tokio.
    pub p99: (f64, f64),
}

struct Fan {
    client: Client,
    endpoint: Endpoint,
    n: usize,
    bulk: bool,
}

impl Fan {
    /// N rxce VCs, each with its own counting handler.
    async fn build_rxce(&self) -> Result<Vec<(Connection, Vc, Arc<Counting>)>, Status> {
        let mut built = Vec::with_capacity(self.n);
        while built.len() < self.n {
            let mut set = JoinSet::new();
            for _ in built.len()..(built.len() + BUILDING).min(self.n) {
                let (address, remote) = (self.client.address.clone(), self.client.remote.clone());
                set.spawn(async move {
                    let counting = Arc::new(Counting::default());
                    let (connection, vc) = address.build_connection(remote, counting.clone()).await?;
                    Ok::<_, Status>((connection, vc, counting))
                });
            }
            while let Some(joined) = set.join_next().await {
                built.push(joined.map_err(|e| Status::CANCELLED.with_message(e.to_string()))??);
            }
        }
        Ok(built)
    }

    /// N raw tokio streams.
    async fn build_raw(&self) -> Result<Vec<TcpStream>, Status> {
        let addr = match self.endpoint.target() {
            crate::endpoint::Target::Inet { host, port } => crate::serve::resolve_host(host, *port).await?,
            _ => return Err(Status::INVALID_PARAMETER.with_message("fanout runs over tcp")),
        };
        let mut built = Vec::with_capacity(self.n);
        while built.len() < self.n {
            let mut set = JoinSet::new();
            for _ in built.len()..(built.len() + BUILDING).min(self.n) {
                set.spawn(async move {
                    let stream = TcpStream::connect(addr)
                        .await
                        .map_err(|e| Status::from_io(e, format!("connecting to {addr}")))?;
                    stream
                        .set_nodelay(true)
                        .map_err(|e| Status::from_io(e, "setting TCP_NODELAY"))?;
                    Ok::<_, Status>(stream)
                });
            }
            while let Some(joined) = set.join_next().await {
                built.push(joined.map_err(|e| Status::CANCELLED.with_message(e.to_string()))??);
            }
        }
        Ok(built)
    }
}

/// What one VC's or stream's task did in the slice: round-trip samples
/// (µs), or bytes sent.
type Done = Result<(Vec<f64>, u64), Status>;

async fn collect(mut set: JoinSet<Done>, started: Instant, bulk: bool) -> Result<Figures, Status> {
    let mut samples = Vec::new();
    let mut bytes = 0u64;
    while let Some(joined) = set.join_next().await {
        let (more, sent) = joined.map_err(|e| Status::CANCELLED.with_message(e.to_string()))??;
        samples.extend(more);
        bytes += sent;
    }
    let elapsed = started.elapsed().as_secs_f64();
    Ok(if bulk {
        Figures::of(vec![bytes as f64 / elapsed / (1024.0 * 1024.0)])
    } else {
        Figures::of(vec![samples.len() as f64 / elapsed, quantile(&samples, 0.99)])
    })
}

impl Contest for Fan {
    async fn run(&mut self, contender: usize, slice: Duration) -> Result<Figures, Status> {
        let bulk = self.bulk;
        let mut set = JoinSet::new();
        let figures = if contender == 0 {
            let built = self.build_rxce().await?;
            let started = Instant::now();
            let deadline = started + slice;
            let message = Bytes::from(crate::serve::pattern_bytes(if bulk { BULK } else { MESSAGE }));
            for (_, vc, counting) in &built {
                let (vc, counting, message) = (vc.clone(), counting.clone(), message.clone());
                set.spawn(async move {
                    let (mut samples, mut sent, mut expected) = (Vec::new(), 0u64, 0u64);
                    while Instant::now() < deadline {
                        let t0 = Instant::now();
                        sent += vc.send(message.clone(), SendOptions::empty()).await? as u64;
                        if !bulk {
                            expected += MESSAGE as u64;
                            counting.wait_for(expected).await;
                            samples.push(t0.elapsed().as_secs_f64() * 1e6);
                        }
                    }
                    Ok((samples, sent))
                });
            }
            let figures = collect(set, started, bulk).await;
            for (connection, _, _) in built {
                let _ = connection.tear_down().await;
            }
            figures?
        } else {
            let built = self.build_raw().await?;
            let started = Instant::now();
            let deadline = started + slice;
            let message = crate::serve::pattern_bytes(if bulk { BULK } else { MESSAGE });
            for mut stream in built {
                let message = message.clone();
                set.spawn(async move {
                    let io = |e: std::io::Error| Status::from_io(e, "the raw fan-out");
                    let (mut samples, mut sent) = (Vec::new(), 0u64);
                    let mut response = vec![0u8; message.len()];
                    while Instant::now() < deadline {
                        let t0 = Instant::now();
                        stream.write_all(&message).await.map_err(io)?;
                        sent += message.len() as u64;
                        if !bulk {
                            stream.read_exact(&mut response).await.map_err(io)?;
                            samples.push(t0.elapsed().as_secs_f64() * 1e6);
                        }
                    }
                    Ok((samples, sent))
                });
            }
            collect(set, started, bulk).await?
        };
        // Let the peer see the closes before the other side builds its set.
        tokio::time::sleep(Duration::from_millis(20)).await;
        Ok(figures)
    }
}

/// The plan of one level: a share of the scenario's time, with slices long
/// enough for every VC to make round trips at the large levels.
fn plan(budget: Duration, n: usize) -> Plan {
    let mut plan = Plan::new(budget, 2);
    if n >= 1000 {
        plan.slice = plan.slice.max(Duration::from_millis(300));
        plan.max_rounds = 3;
    } else {
        plan.slice = plan.slice.max(Duration::from_millis(50));
    }
    plan
}

pub(crate) async fn run(ctx: &Ctx<'_>) -> Result<(Vec<Row>, Vec<Point>), Status> {
    let mut rows = Vec::new();
    let mut points = Vec::new();
    let levels = levels(ctx.options.connections);
    let share = ctx.options.duration / (levels.len() + BULK_LEVELS.len()) as u32;
    for (mode, bulk) in [(Mode::Echo, false), (Mode::Sink, true)] {
        let peer = link::embedded_peer(Kind::Tcp, mode, &ctx.engine).await?;
        let endpoint = peer.endpoint().clone();
        let list: &[usize] = if bulk { &BULK_LEVELS } else { &levels };
        for &n in list {
            let mut fan = Fan {
                client: Client::new(&ctx.engine, &endpoint)?,
                endpoint: endpoint.clone(),
                n,
                bulk,
            };
            let label = format!("fanout {n}{} {}", if bulk { " bulk" } else { "" }, ctx.flavour.name());
            let recorded = interleave(&plan(share, n), 2, ctx.progress, &label, &mut fan).await;
            fan.client.close().await;
            let recorded = recorded?;
            if bulk {
                rows.push(Row::new(
                    "fanout",
                    &format!("{n} VCs at once, 64 KiB sends"),
                    "tcp",
                    ctx.flavour,
                    "MiB/s",
                    "raw tokio, N streams",
                    compare(&recorded.series(0, 0), &recorded.series(1, 0), Better::Higher),
                ));
            } else {
                let rate = compare(&recorded.series(0, 0), &recorded.series(1, 0), Better::Higher);
                let p99 = compare(&recorded.series(0, 1), &recorded.series(1, 1), Better::Lower);
                points.push(Point {
                    flavour: ctx.flavour.name().to_owned(),
                    n,
                    rate: (rate.rxce, rate.baseline),
                    p99: (p99.rxce, p99.baseline),
                });
                let metric = format!("{n} VCs at once, {MESSAGE} B request/response");
                rows.push(Row::new(
                    "fanout",
                    &format!("{metric}, rate"),
                    "tcp",
                    ctx.flavour,
                    "round trips/s",
                    "raw tokio, N streams",
                    rate,
                ));
                rows.push(Row::new(
                    "fanout",
                    &format!("{metric}, p99"),
                    "tcp",
                    ctx.flavour,
                    "µs",
                    "raw tokio, N streams",
                    p99,
                ));
            }
        }
        peer.stop().await;
    }
    Ok((rows, points))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_stop_at_the_largest() {
        assert_eq!(levels(9000), [1, 10, 100, 1000, 5000]);
        assert_eq!(levels(5000), [1, 10, 100, 1000, 5000]);
        assert_eq!(levels(200), [1, 10, 100, 200]);
        assert_eq!(levels(1), [1]);
    }
}
