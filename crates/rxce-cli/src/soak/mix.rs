//! The soak's random mix, as a sans-I/O generator: a seed and a lane number
//! give one endless sequence of operations, the same on every run and every
//! machine, whatever the engine answers.
//!
//! The generator keeps a model of the objects it asked for — transports in
//! a few slots, addresses under them, connections under those (and
//! multi-transport connections apart), VCs under connections — and picks
//! each next operation among those the model allows, by weight: builds
//! where a slot is empty, sends and the rest where an object is. The model
//! is what was *asked for*: a build the network refused still fills its
//! slot, and the driver answers an operation on an object it does not have
//! by skipping it. That keeps the sequence a function of the seed alone, so
//! a broken promise can be replayed with the same mix.

use std::time::Duration;

use super::op::{AddrRef, ConnRef, Fault, Op, Peer, Policy, Route, SendMode, VcRef};
use crate::endpoint::Kind;

/// Transport slots per lane.
pub const TRANSPORTS: usize = 3;
/// Address slots per transport.
pub const ADDRESSES: usize = 2;
/// Connection slots per address.
pub const CONNECTIONS: usize = 2;
/// VC slots per connection.
pub const VCS: usize = 3;
/// Multi-transport connection slots per lane.
pub const MULTIS: usize = 2;

/// What a lane may use.
#[derive(Debug, Clone, PartialEq)]
pub struct MixConfig {
    /// The transports the mix builds.
    pub kinds: Vec<Kind>,
    /// A private smbd serves `tcp+smb` and `netbt` routes too.
    pub smbd: bool,
    /// The share of TCP-based connections that go through the fault proxy.
    pub fault_share: f64,
}

impl Default for MixConfig {
    fn default() -> MixConfig {
        MixConfig {
            kinds: Kind::ALL.to_vec(),
            smbd: false,
            fault_share: 0.25,
        }
    }
}

/// The generator's model of one connection: which VC slots it asked for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct ConnModel {
    vcs: [bool; VCS],
}

impl ConnModel {
    fn first() -> ConnModel {
        let mut vcs = [false; VCS];
        vcs[0] = true;
        ConnModel { vcs }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct AddressModel {
    connections: [Option<ConnModel>; CONNECTIONS],
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct TransportModel {
    kind: Kind,
    addresses: [Option<AddressModel>; ADDRESSES],
}

/// Candidate targets of each category, gathered from the model.
#[derive(Default)]
struct Candidates {
    free_transports: Vec<usize>,
    free_addresses: Vec<AddrRef>,
    free_connections: Vec<(AddrRef, usize)>,
    stream_addresses: Vec<AddrRef>,
    datagram_addresses: Vec<AddrRef>,
    free_multis: Vec<usize>,
    free_vcs: Vec<VcRef>,
    vcs: Vec<VcRef>,
    connections: Vec<ConnRef>,
    addresses: Vec<AddrRef>,
    transports: Vec<usize>,
}

/// The categories the generator picks from first, with their weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Category {
    BuildTransport,
    BuildAddress,
    BuildConnection,
    BuildMulti,
    BuildVc,
    Send,
    Resume,
    Query,
    Disconnect,
    Datagram,
    TearDownVc,
    TearDownConnection,
    TearDownAddress,
    TearDownTransport,
    UseStale,
    Pause,
}

const WEIGHTS: [(Category, u32); 16] = [
    (Category::BuildTransport, 3),
    (Category::BuildAddress, 4),
    (Category::BuildConnection, 8),
    (Category::BuildMulti, 2),
    (Category::BuildVc, 3),
    (Category::Send, 45),
    (Category::Resume, 2),
    (Category::Query, 1),
    (Category::Disconnect, 2),
    (Category::Datagram, 10),
    (Category::TearDownVc, 2),
    (Category::TearDownConnection, 2),
    (Category::TearDownAddress, 1),
    (Category::TearDownTransport, 1),
    (Category::UseStale, 1),
    (Category::Pause, 1),
];

/// One lane's generator.
#[derive(Debug, Clone)]
pub struct Mix {
    rng: fastrand::Rng,
    config: MixConfig,
    transports: [Option<TransportModel>; TRANSPORTS],
    multis: [Option<ConnModel>; MULTIS],
    /// The addresses each multi-transport connection raced over: it lives
    /// on the winner's, which only the engine knows, so the tear-down of
    /// any of them counts as its end too.
    multi_legs: [Vec<AddrRef>; MULTIS],
}

impl Mix {
    /// The generator of `lane` for `seed`.
    pub fn new(seed: u64, lane: usize, config: MixConfig) -> Mix {
        // Lanes get unrelated streams from one seed.
        let lane_seed = seed ^ (lane as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        Mix {
            rng: fastrand::Rng::with_seed(lane_seed),
            config,
            transports: Default::default(),
            multis: Default::default(),
            multi_legs: Default::default(),
        }
    }

    /// The next operation.
    pub fn next_op(&mut self) -> Op {
        let candidates = self.candidates();
        let applicable: Vec<(Category, u32)> = WEIGHTS
            .iter()
            .copied()
            .filter(|(category, _)| self.applies(*category, &candidates))
            .collect();
        let total: u32 = applicable.iter().map(|(_, w)| w).sum();
        let mut pick = self.rng.u32(0..total);
        let category = applicable
            .iter()
            .find(|(_, w)| {
                if pick < *w {
                    true
                } else {
                    pick -= w;
                    false
                }
            })
            .map(|(c, _)| *c)
            .expect("a pick below the total weight");
        let op = self.make(category, &candidates);
        self.apply(&op);
        op
    }

    fn applies(&self, category: Category, c: &Candidates) -> bool {
        match category {
            Category::BuildTransport => !c.free_transports.is_empty() && !self.config.kinds.is_empty(),
            Category::BuildAddress => !c.free_addresses.is_empty(),
            Category::BuildConnection => !c.free_connections.is_empty(),
            Category::BuildMulti => c.stream_addresses.len() >= 2 && !c.free_multis.is_empty(),
            Category::BuildVc => !c.free_vcs.is_empty(),
            Category::Send | Category::Resume | Category::Query | Category::Disconnect | Category::TearDownVc => {
                !c.vcs.is_empty()
            }
            Category::Datagram => !c.datagram_addresses.is_empty(),
            Category::TearDownConnection => !c.connections.is_empty(),
            Category::TearDownAddress => !c.addresses.is_empty(),
            Category::TearDownTransport => !c.transports.is_empty(),
            Category::UseStale | Category::Pause => true,
        }
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.rng.usize(0..items.len())]
    }

    fn make(&mut self, category: Category, c: &Candidates) -> Op {
        match category {
            Category::BuildTransport => {
                let t = self.pick(&c.free_transports);
                let kinds = self.config.kinds.clone();
                Op::BuildTransport {
                    t,
                    kind: self.pick(&kinds),
                }
            }
            Category::BuildAddress => Op::BuildAddress(self.pick(&c.free_addresses)),
            Category::BuildConnection => {
                let (at, slot) = self.pick(&c.free_connections);
                let kind = self.kind_of(at);
                Op::BuildConnection {
                    at,
                    c: slot,
                    route: self.route(kind),
                }
            }
            Category::BuildMulti => {
                let m = self.pick(&c.free_multis);
                let mut pool = c.stream_addresses.clone();
                let legs = self.rng.usize(2..=pool.len().min(3));
                let mut chosen = Vec::with_capacity(legs);
                for _ in 0..legs {
                    let at = pool.swap_remove(self.rng.usize(0..pool.len()));
                    let mut route = self.route(self.kind_of(at));
                    // The race itself is the subject: no rebuilds.
                    route.reconnect = false;
                    chosen.push((at, route));
                }
                let policy = self.pick(&[Policy::First, Policy::First, Policy::Best, Policy::All]);
                Op::BuildMulti {
                    m,
                    legs: chosen,
                    policy,
                }
            }
            Category::BuildVc => Op::BuildVc(self.pick(&c.free_vcs)),
            Category::Send => {
                let vc = self.pick(&c.vcs);
                let size = self.send_size();
                let pieces = if size > 1 && self.rng.u8(0..10) < 3 {
                    self.rng.usize(2..=4.min(size))
                } else {
                    1
                };
                let mode = self.pick(&[
                    SendMode::Sync,
                    SendMode::Sync,
                    SendMode::Sync,
                    SendMode::Async,
                    SendMode::Async,
                    SendMode::Async,
                    SendMode::NonBlocking,
                    SendMode::Partial,
                    SendMode::TrySubmit,
                ]);
                Op::Send { vc, size, pieces, mode }
            }
            Category::Resume => Op::Resume(self.pick(&c.vcs)),
            Category::Query => Op::Query {
                vc: self.pick(&c.vcs),
                class: self.rng.u8(0..4),
            },
            Category::Disconnect => Op::Disconnect(self.pick(&c.vcs)),
            Category::Datagram => {
                let at = self.pick(&c.datagram_addresses);
                let size = match self.rng.u8(0..100) {
                    0 => 70_000,
                    1..=9 => self.rng.usize(1401..=8192),
                    _ => self.rng.usize(8..=1400),
                };
                Op::Datagram {
                    at,
                    size,
                    asynchronous: self.rng.bool(),
                }
            }
            Category::TearDownVc => Op::TearDownVc(self.pick(&c.vcs)),
            Category::TearDownConnection => Op::TearDownConnection(self.pick(&c.connections)),
            Category::TearDownAddress => Op::TearDownAddress(self.pick(&c.addresses)),
            Category::TearDownTransport => Op::TearDownTransport(self.pick(&c.transports)),
            Category::UseStale => Op::UseStale(self.rng.usize(0..8)),
            Category::Pause => Op::Pause(Duration::from_millis(self.rng.u64(1..=50))),
        }
    }

    /// Mostly small sends, some large, a few over the VC's queue limit
    /// (1 MiB), and now and then an empty one.
    fn send_size(&mut self) -> usize {
        match self.rng.u8(0..100) {
            0 | 1 => 0,
            2..=41 => self.rng.usize(1..=64),
            42..=71 => self.rng.usize(65..=4096),
            72..=91 => self.rng.usize(4097..=65_536),
            92..=98 => self.rng.usize(65_537..=1 << 20),
            _ => self.rng.usize((1 << 20) + 1..=3 << 20),
        }
    }

    fn route(&mut self, kind: Kind) -> Route {
        let peer = match self.rng.u8(0..100) {
            0..=4 => Peer::Refused,
            5..=34 if self.config.smbd && matches!(kind, Kind::TcpSmb | Kind::Netbt) => Peer::Smbd,
            _ => Peer::Echo,
        };
        let tcp_based = matches!(kind, Kind::Tcp | Kind::TcpSmb | Kind::Netbt);
        let faulted = tcp_based && peer != Peer::Refused && self.rng.f64() < self.config.fault_share;
        let fault = if !faulted {
            Fault::None
        } else {
            let after = match self.rng.u8(0..4) {
                0 => 0,
                1 => self.rng.usize(1..=512),
                _ => self.rng.usize(513..=256 * 1024),
            };
            match self.rng.u8(0..20) {
                0..=7 => Fault::Latency(Duration::from_millis(self.rng.u64(1..=20))),
                8..=12 => Fault::Reset { after },
                13..=16 => Fault::Stall {
                    after,
                    pause: Duration::from_millis(self.rng.u64(200..=3000)),
                },
                _ => Fault::Partition { after },
            }
        };
        Route {
            peer,
            fault,
            reconnect: peer != Peer::Refused && self.rng.u8(0..10) < 3,
        }
    }

    fn kind_of(&self, at: AddrRef) -> Kind {
        self.transports[at.t].as_ref().expect("a built transport").kind
    }

    fn candidates(&self) -> Candidates {
        let mut c = Candidates::default();
        for (t, transport) in self.transports.iter().enumerate() {
            let Some(transport) = transport else {
                c.free_transports.push(t);
                continue;
            };
            c.transports.push(t);
            let datagrams = transport.kind == Kind::Udp;
            for (a, address) in transport.addresses.iter().enumerate() {
                let at = AddrRef { t, a };
                let Some(address) = address else {
                    c.free_addresses.push(at);
                    continue;
                };
                c.addresses.push(at);
                if datagrams {
                    c.datagram_addresses.push(at);
                    continue;
                }
                c.stream_addresses.push(at);
                for (slot, connection) in address.connections.iter().enumerate() {
                    match connection {
                        None => c.free_connections.push((at, slot)),
                        Some(model) => Self::gather_connection(&mut c, ConnRef::On { at, c: slot }, model),
                    }
                }
            }
        }
        for (m, multi) in self.multis.iter().enumerate() {
            match multi {
                None => c.free_multis.push(m),
                Some(model) => Self::gather_connection(&mut c, ConnRef::Multi(m), model),
            }
        }
        c
    }

    fn gather_connection(c: &mut Candidates, conn: ConnRef, model: &ConnModel) {
        c.connections.push(conn);
        for (v, built) in model.vcs.iter().enumerate() {
            let vc = VcRef { conn, v };
            if *built {
                c.vcs.push(vc);
            } else {
                c.free_vcs.push(vc);
            }
        }
    }

    fn connection_mut(&mut self, conn: ConnRef) -> Option<&mut ConnModel> {
        match conn {
            ConnRef::On { at, c } => self.transports[at.t].as_mut()?.addresses[at.a].as_mut()?.connections[c].as_mut(),
            ConnRef::Multi(m) => self.multis[m].as_mut(),
        }
    }

    /// What the operation changes in the model (what was asked for).
    fn apply(&mut self, op: &Op) {
        match op {
            Op::BuildTransport { t, kind } => {
                self.transports[*t] = Some(TransportModel {
                    kind: *kind,
                    addresses: Default::default(),
                });
            }
            Op::BuildAddress(at) => {
                if let Some(transport) = self.transports[at.t].as_mut() {
                    transport.addresses[at.a] = Some(AddressModel::default());
                }
            }
            Op::BuildConnection { at, c, route } if route.peer != Peer::Refused => {
                if let Some(address) = self.transports[at.t].as_mut().and_then(|t| t.addresses[at.a].as_mut()) {
                    address.connections[*c] = Some(ConnModel::first());
                }
            }
            Op::BuildMulti { m, legs, .. } if legs.iter().any(|(_, r)| r.peer != Peer::Refused) => {
                self.multis[*m] = Some(ConnModel::first());
                self.multi_legs[*m] = legs.iter().map(|(at, _)| *at).collect();
            }
            Op::BuildVc(vc) => {
                if let Some(model) = self.connection_mut(vc.conn) {
                    model.vcs[vc.v] = true;
                }
            }
            Op::TearDownVc(vc) => {
                if let Some(model) = self.connection_mut(vc.conn) {
                    model.vcs[vc.v] = false;
                }
            }
            Op::TearDownConnection(conn) => match *conn {
                ConnRef::On { at, c } => {
                    if let Some(address) = self.transports[at.t].as_mut().and_then(|t| t.addresses[at.a].as_mut()) {
                        address.connections[c] = None;
                    }
                }
                ConnRef::Multi(m) => self.multis[m] = None,
            },
            Op::TearDownAddress(at) => {
                if let Some(transport) = self.transports[at.t].as_mut() {
                    transport.addresses[at.a] = None;
                }
                self.forget_multis(|leg| leg == *at);
            }
            Op::TearDownTransport(t) => {
                self.transports[*t] = None;
                self.forget_multis(|leg| leg.t == *t);
            }
            _ => {}
        }
    }

    /// Forgets the multi-transport connections with a leg on an address
    /// that `gone` says was torn down.
    fn forget_multis(&mut self, gone: impl Fn(AddrRef) -> bool) {
        for (multi, legs) in self.multis.iter_mut().zip(&self.multi_legs) {
            if legs.iter().any(|leg| gone(*leg)) {
                *multi = None;
            }
        }
    }
}

#[cfg(test)]
mod tests;
