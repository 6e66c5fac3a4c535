//! smb-transport: the same SMB-framed bulk transfer (direct-hosted TCP,
//! a 4-byte header per message) to the same embedded framed sink peer
//! (`rxce serve`'s `tcp+smb` sink), in `--size` messages.
//!
//! * rxce: `Vc::send` of each message on a `tcp+smb` VC (the engine writes
//!   the header and the body with one vectored write).
//! * smb-transport: the `smb-transport` crate's `TcpTransport` (async),
//!   `SmbTransportWrite::send` of an `IoVec` holding the message (the crate
//!   writes the header, then the body).
//!
//! A slice sends for its time, then waits until the peer has counted every
//! payload byte (its statistics, read every millisecond).

use std::time::{Duration, Instant};

use bytes::Bytes;
use rxce::{SendOptions, Status, Vc};
use smb_transport::{IoVec, SmbTransport, SmbTransportWrite, TcpTransport};

use super::harness::{compare, interleave, Better, Comparison, Contest, Figures, Plan};
use super::link::{self, Client};
use super::report::Row;
use super::throughput::wait_for_peer;
use super::Ctx;
use crate::endpoint::Kind;
use crate::serve::{Mode, Peer};

struct Framed {
    peer: Peer,
    vc: Vc,
    payload: Bytes,
    message: IoVec,
    writer: Box<dyn SmbTransportWrite>,
    expected: u64,
}

impl Contest for Framed {
    async fn run(&mut self, contender: usize, slice: Duration) -> Result<Figures, Status> {
        let started = Instant::now();
        let mut sent = 0u64;
        while started.elapsed() < slice {
            if contender == 0 {
                self.vc.send(self.payload.clone(), SendOptions::empty()).await?;
            } else {
                self.writer.send(&self.message).await.map_err(|e| {
                    Status::CONNECTION_DISCONNECTED.with_message(format!("smb-transport send failed: {e}"))
                })?;
            }
            sent += self.payload.len() as u64;
        }
        self.expected += sent;
        wait_for_peer(Some(&self.peer), self.expected).await;
        Ok(Figures::of(vec![sent as f64 / started.elapsed().as_secs_f64()]))
    }
}

pub(crate) async fn run(ctx: &Ctx<'_>) -> Result<Vec<Row>, Status> {
    let size = ctx.options.size;
    let peer = link::embedded_peer(Kind::TcpSmb, Mode::Sink, &ctx.engine).await?;
    let endpoint = peer.endpoint().clone();
    let addr = peer
        .local_addr()
        .ok_or_else(|| Status::INVALID_PARAMETER.with_message("the framed peer has no address"))?;
    let client = Client::new(&ctx.engine, &endpoint)?;
    let vc = client.connect(std::sync::Arc::new(rxce::NoEvents)).await?;
    let mut transport = Box::new(TcpTransport::new(Duration::from_secs(10)));
    transport
        .connect("rxce-bench", addr)
        .await
        .map_err(|e| Status::CONNECTION_REFUSED.with_message(format!("smb-transport connect failed: {e}")))?;
    let (_reader, writer) = (transport as Box<dyn SmbTransport>)
        .split()
        .map_err(|e| Status::INVALID_PARAMETER.with_message(format!("smb-transport split failed: {e}")))?;
    let body = crate::serve::pattern_bytes(size);
    let mut contest = Framed {
        peer,
        vc,
        message: IoVec::from(body.clone()),
        payload: Bytes::from(body),
        writer,
        expected: 0,
    };
    let plan = Plan::new(ctx.options.duration, 2);
    let label = format!("smb-transport tcp+smb {}", ctx.flavour.name());
    let recorded = interleave(&plan, 2, ctx.progress, &label, &mut contest).await?;
    let Framed { peer, writer, .. } = contest;
    drop(writer);
    client.close().await;
    peer.stop().await;
    let mib = |c: Comparison| Comparison {
        rxce: c.rxce / f64::from(1 << 20),
        baseline: c.baseline / f64::from(1 << 20),
        ..c
    };
    Ok(vec![Row::new(
        "smb-transport",
        &format!("{} messages, framed bulk", crate::table::bytes(size as u64)),
        "tcp+smb",
        ctx.flavour,
        "MiB/s",
        "smb-transport 0.12 TcpTransport",
        mib(compare(&recorded.series(0, 0), &recorded.series(1, 0), Better::Higher)),
    )])
}
