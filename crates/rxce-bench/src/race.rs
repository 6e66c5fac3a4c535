//! race: a first-successful build over two `tcp` transports, the first to a
//! black-holed listener (full backlog: its connect neither succeeds nor
//! fails), the second, started after the engine's transport stagger, to a
//! live echo peer.
//!
//! * rxce: `build_connection_over_multiple_transports` until it returns
//!   the winner (the black-holed attempt cancelled and reaped), then the
//!   connection's tear-down.
//! * baseline: a raw tokio connect to the live peer, plus the stagger — the
//!   least any racing client must wait for the live transport.
//!
//! The target: the winner comes within the baseline + 20 ms, never after
//! the black hole's attempt timeout.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rxce::{
    build_connection_over_multiple_transports, Address, ConnectionInformation, MultiConnectOptions, NoEvents, Status,
    Transport, TransportAddress,
};
use rxce_testsupport::peers::BlackHole;

use super::harness::{compare, interleave, median, Better, Contest, Figures, Plan};
use super::link;
use super::report::Row;
use super::Ctx;
use crate::endpoint::Kind;
use crate::serve::Mode;

/// How long the black-holed attempt may take: far beyond any winner.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

struct Race {
    addresses: Vec<Address>,
    remotes: Vec<ConnectionInformation>,
    options: MultiConnectOptions,
    live: std::net::SocketAddr,
    /// The slowest rxce winner seen.
    slowest: Duration,
}

impl Contest for Race {
    async fn run(&mut self, contender: usize, slice: Duration) -> Result<Figures, Status> {
        let mut samples = Vec::new();
        let started = Instant::now();
        while started.elapsed() < slice || samples.is_empty() {
            let t0 = Instant::now();
            if contender == 0 {
                let built = build_connection_over_multiple_transports(
                    &self.addresses,
                    &self.remotes,
                    Arc::new(NoEvents),
                    &self.options,
                )
                .await
                .map_err(|e| e.status)?;
                let took = t0.elapsed();
                self.slowest = self.slowest.max(took);
                if built.address_index != 1 {
                    return Err(Status::INVALID_NETWORK_RESPONSE
                        .with_message(format!("the black hole won the race (address {})", built.address_index)));
                }
                samples.push(took.as_secs_f64() * 1e3);
                built.connection.tear_down().await?;
            } else {
                let stream = tokio::net::TcpStream::connect(self.live)
                    .await
                    .map_err(|e| Status::from_io(e, "connecting to the live peer"))?;
                stream
                    .set_nodelay(true)
                    .map_err(|e| Status::from_io(e, "setting TCP_NODELAY"))?;
                let took = t0.elapsed() + self.options.transport_stagger;
                samples.push(took.as_secs_f64() * 1e3);
                drop(stream);
            }
        }
        Ok(Figures::of(vec![median(&samples)]))
    }
}

/// The race's rows, and the slowest winner seen (for the target check).
pub(crate) async fn run(ctx: &Ctx<'_>) -> Result<(Vec<Row>, Duration), Status> {
    let hole = BlackHole::new().map_err(|e| Status::from_io(e, "making a black-holed listener"))?;
    let peer = link::embedded_peer(Kind::Tcp, Mode::Echo, &ctx.engine).await?;
    let live = peer
        .local_addr()
        .ok_or_else(|| Status::INVALID_PARAMETER.with_message("the live peer has no address"))?;
    let mut transports: Vec<Transport> = Vec::new();
    let mut addresses = Vec::new();
    for _ in 0..2 {
        let transport = ctx.engine.build_transport("tcp", 0)?;
        addresses.push(transport.build_address(TransportAddress::any_ipv4(), Arc::new(NoEvents))?);
        transports.push(transport);
    }
    let options = MultiConnectOptions {
        attempt_timeout: Some(ATTEMPT_TIMEOUT),
        ..MultiConnectOptions::default()
    };
    let stagger = options.transport_stagger;
    let mut contest = Race {
        addresses,
        remotes: vec![
            ConnectionInformation::to(TransportAddress::ip(hole.addr())),
            ConnectionInformation::to(TransportAddress::ip(live)),
        ],
        options,
        live,
        slowest: Duration::ZERO,
    };
    let plan = Plan::new(ctx.options.duration, 2);
    let label = format!("race tcp {}", ctx.flavour.name());
    let recorded = interleave(&plan, 2, ctx.progress, &label, &mut contest).await?;
    for transport in transports {
        let _ = transport.tear_down().await;
    }
    peer.stop().await;
    drop(hole);
    let row = Row::new(
        "race",
        "black hole + live, time to winner",
        "tcp",
        ctx.flavour,
        "ms",
        &format!("raw tokio connect + {} ms stagger", stagger.as_millis()),
        compare(&recorded.series(0, 0), &recorded.series(1, 0), Better::Lower),
    );
    Ok((vec![row], contest.slowest))
}
