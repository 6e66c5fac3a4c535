//! quic: SMB over QUIC, rxce's `quic` transport against raw quinn on the
//! same runtime, to the same embedded peer (`rxce serve`'s quic peer,
//! its generated certificate pinned), with the same TLS configuration
//! (`rxce::provider::quic::tls::client_config` of the same options).
//!
//! * throughput: `--size` messages (64 KiB by default) to the sink peer:
//!   `Vc::send` against `SendStream::write_all` of the framed message.
//! * rpc: 64-byte requests echoed one at a time: `Vc::send` and the
//!   receive indication against `write_all` then `read_exact`.
//! * handshake: connection to a first usable VC (build_connection) against
//!   quinn's `connect` (handshake done) and `open_bi`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rxce::provider::quic::options::QuicOptions;
use rxce::provider::quic::quinn;
use rxce::provider::quic::tls;
use rxce::{NoEvents, SendOptions, Status, Vc};

use super::harness::{compare, interleave, quantile, Better, Comparison, Contest, Figures, Plan};
use super::link::{self, Client, Counting};
use super::report::Row;
use super::throughput::wait_for_peer;
use super::Ctx;
use crate::endpoint::{Endpoint, Kind, Target};
use crate::serve::{Mode, Peer};

fn quinn_error(what: &str) -> impl Fn(&dyn std::fmt::Display) -> Status + '_ {
    move |e| Status::CONNECTION_DISCONNECTED.with_message(format!("raw quinn {what}: {e}"))
}

/// A raw quinn client endpoint configured as rxce's quic transport would
/// be for `endpoint`'s options.
fn raw_client(endpoint: &Endpoint) -> Result<(quinn::Endpoint, quinn::ClientConfig, std::net::SocketAddr), Status> {
    let options = QuicOptions::parse(endpoint.quic_options().as_bytes())?;
    let tls = tls::client_config(&options)?;
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls)
        .map_err(|e| Status::NOT_SUPPORTED.with_message(format!("QUIC TLS: {e}")))?;
    let config = quinn::ClientConfig::new(Arc::new(crypto));
    let Target::Inet { host, port } = endpoint.target() else {
        return Err(Status::INVALID_PARAMETER.with_message("a quic endpoint is inet"));
    };
    let addr = match host {
        crate::endpoint::Host::Ip(ip) => std::net::SocketAddr::new(*ip, *port),
        crate::endpoint::Host::Name(_) => {
            return Err(Status::INVALID_PARAMETER.with_message("the bench's peer is an IP"))
        }
    };
    let local = quinn::Endpoint::client("127.0.0.1:0".parse().expect("an address"))
        .map_err(|e| Status::from_io(e, "binding the raw quinn client"))?;
    Ok((local, config, addr))
}

async fn raw_stream(
    local: &quinn::Endpoint,
    config: &quinn::ClientConfig,
    addr: std::net::SocketAddr,
) -> Result<(quinn::Connection, quinn::SendStream, quinn::RecvStream), Status> {
    let connection = local
        .connect_with(config.clone(), addr, "localhost")
        .map_err(|e| quinn_error("connect")(&e))?
        .await
        .map_err(|e| quinn_error("handshake")(&e))?;
    let (send, recv) = connection.open_bi().await.map_err(|e| quinn_error("open_bi")(&e))?;
    Ok((connection, send, recv))
}

fn framed(payload: &[u8]) -> Vec<u8> {
    let header = rxce::wire::Framing::DirectTcp
        .encode_message_header(payload.len())
        .expect("the message fits a frame");
    [&header[..], payload].concat()
}

struct Bulk {
    peer: Peer,
    vc: Vc,
    payload: Bytes,
    raw: quinn::SendStream,
    raw_message: Bytes,
    expected: u64,
}

impl Contest for Bulk {
    async fn run(&mut self, contender: usize, slice: Duration) -> Result<Figures, Status> {
        let started = Instant::now();
        let mut sent = 0u64;
        while started.elapsed() < slice {
            if contender == 0 {
                self.vc.send(self.payload.clone(), SendOptions::empty()).await?;
            } else {
                self.raw
                    .write_all(&self.raw_message)
                    .await
                    .map_err(|e| quinn_error("write")(&e))?;
            }
            sent += self.payload.len() as u64;
        }
        self.expected += sent;
        wait_for_peer(Some(&self.peer), self.expected).await;
        Ok(Figures::of(vec![sent as f64 / started.elapsed().as_secs_f64()]))
    }
}

struct PingPong {
    vc: Vc,
    counting: Arc<Counting>,
    expected: u64,
    request: Bytes,
    send: quinn::SendStream,
    recv: quinn::RecvStream,
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
                self.expected += self.request.len() as u64;
                self.counting.wait_for(self.expected).await;
            } else {
                self.send
                    .write_all(&self.raw_request)
                    .await
                    .map_err(|e| quinn_error("write")(&e))?;
                self.recv
                    .read_exact(&mut self.raw_response)
                    .await
                    .map_err(|e| quinn_error("read")(&e))?;
            }
            samples.push(t0.elapsed().as_secs_f64() * 1e6);
        }
        Ok(Figures {
            values: vec![quantile(&samples, 0.5)],
            samples,
        })
    }
}

struct Handshakes {
    client: Client,
    local: quinn::Endpoint,
    config: quinn::ClientConfig,
    addr: std::net::SocketAddr,
}

impl Contest for Handshakes {
    async fn run(&mut self, contender: usize, slice: Duration) -> Result<Figures, Status> {
        let mut samples = Vec::with_capacity(256);
        let started = Instant::now();
        while started.elapsed() < slice {
            let t0 = Instant::now();
            if contender == 0 {
                let (connection, _vc) = self
                    .client
                    .address
                    .build_connection(self.client.remote.clone(), Arc::new(NoEvents))
                    .await?;
                samples.push(t0.elapsed().as_secs_f64() * 1e6);
                connection.tear_down().await?;
            } else {
                let (connection, _send, _recv) = raw_stream(&self.local, &self.config, self.addr).await?;
                samples.push(t0.elapsed().as_secs_f64() * 1e6);
                connection.close(0u8.into(), b"");
            }
        }
        Ok(Figures {
            values: vec![quantile(&samples, 0.5)],
            samples,
        })
    }
}

pub(crate) async fn run(ctx: &Ctx<'_>) -> Result<Vec<Row>, Status> {
    let mut rows = Vec::new();
    let flavour = ctx.flavour;

    // Throughput.
    let size = ctx.options.size;
    let peer = link::embedded_peer(Kind::Quic, Mode::Sink, &ctx.engine).await?;
    let endpoint = peer.endpoint().clone();
    let client = Client::new(&ctx.engine, &endpoint)?;
    let vc = client.connect(Arc::new(NoEvents)).await?;
    let (local, config, addr) = raw_client(&endpoint)?;
    let (_raw_connection, raw, _raw_recv) = raw_stream(&local, &config, addr).await?;
    let body = crate::serve::pattern_bytes(size);
    let mut bulk = Bulk {
        peer,
        vc,
        raw_message: Bytes::from(framed(&body)),
        payload: Bytes::from(body),
        raw,
        expected: 0,
    };
    let plan = Plan::new(ctx.options.duration, 2);
    let recorded = interleave(
        &plan,
        2,
        ctx.progress,
        &format!("quic throughput {}", flavour.name()),
        &mut bulk,
    )
    .await?;
    let Bulk { peer, .. } = bulk;
    client.close().await;
    peer.stop().await;
    let mib = |c: Comparison| Comparison {
        rxce: c.rxce / f64::from(1 << 20),
        baseline: c.baseline / f64::from(1 << 20),
        ..c
    };
    rows.push(Row::new(
        "quic",
        &format!("{} messages, throughput", crate::table::bytes(size as u64)),
        "quic",
        flavour,
        "MiB/s",
        "raw quinn 0.11",
        mib(compare(&recorded.series(0, 0), &recorded.series(1, 0), Better::Higher)),
    ));

    // Request/response.
    let peer = link::embedded_peer(Kind::Quic, Mode::Echo, &ctx.engine).await?;
    let endpoint = peer.endpoint().clone();
    let client = Client::new(&ctx.engine, &endpoint)?;
    let counting = Arc::new(Counting::default());
    let vc = client.connect(counting.clone()).await?;
    let (local, config, addr) = raw_client(&endpoint)?;
    let (_raw_connection, send, recv) = raw_stream(&local, &config, addr).await?;
    let request = crate::serve::pattern_bytes(super::rpc::MESSAGE);
    let raw_request = framed(&request);
    let mut pingpong = PingPong {
        vc,
        counting,
        expected: 0,
        request: Bytes::from(request),
        send,
        recv,
        raw_response: vec![0; raw_request.len()],
        raw_request,
    };
    let recorded = interleave(
        &plan,
        2,
        ctx.progress,
        &format!("quic rpc {}", flavour.name()),
        &mut pingpong,
    )
    .await?;
    drop(pingpong);
    client.close().await;
    rows.push(Row::new(
        "quic",
        "64 B request/response, p50",
        "quic",
        flavour,
        "µs",
        "raw quinn 0.11",
        compare(&recorded.series(0, 0), &recorded.series(1, 0), Better::Lower),
    ));

    // Handshake to a first usable VC.
    let client = Client::new(&ctx.engine, &endpoint)?;
    let mut handshakes = Handshakes {
        client,
        local,
        config,
        addr,
    };
    let recorded = interleave(
        &plan,
        2,
        ctx.progress,
        &format!("quic handshake {}", flavour.name()),
        &mut handshakes,
    )
    .await?;
    let Handshakes { client, .. } = handshakes;
    client.close().await;
    peer.stop().await;
    rows.push(Row::new(
        "quic",
        "handshake to a first VC, p50",
        "quic",
        flavour,
        "µs",
        "raw quinn connect + open_bi",
        compare(&recorded.series(0, 0), &recorded.series(1, 0), Better::Lower),
    ));
    Ok(rows)
}
