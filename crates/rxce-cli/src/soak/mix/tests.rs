use std::collections::{HashMap, HashSet};

use super::*;
use crate::soak::op::OpKind;

fn ops(seed: u64, lane: usize, config: &MixConfig, n: usize) -> Vec<Op> {
    let mut mix = Mix::new(seed, lane, config.clone());
    (0..n).map(|_| mix.next_op()).collect()
}

fn everything() -> MixConfig {
    MixConfig {
        smbd: true,
        ..MixConfig::default()
    }
}

#[test]
fn a_seed_gives_the_same_operations_every_time() {
    let config = everything();
    assert_eq!(ops(7, 0, &config, 5000), ops(7, 0, &config, 5000));
    assert_ne!(ops(7, 0, &config, 200), ops(8, 0, &config, 200));
    assert_ne!(ops(7, 0, &config, 200), ops(7, 1, &config, 200));
}

#[test]
fn the_mix_reaches_every_kind_of_operation_route_and_fault() {
    let all = ops(1, 0, &everything(), 30_000);
    let kinds: HashSet<OpKind> = all.iter().map(Op::kind).collect();
    for kind in OpKind::ALL {
        assert!(kinds.contains(&kind), "{kind:?} never came");
    }
    let routes: Vec<Route> = all
        .iter()
        .flat_map(|op| match op {
            Op::BuildConnection { route, .. } => vec![*route],
            Op::BuildMulti { legs, .. } => legs.iter().map(|(_, r)| *r).collect(),
            _ => vec![],
        })
        .collect();
    for peer in [Peer::Echo, Peer::Smbd, Peer::Refused] {
        assert!(routes.iter().any(|r| r.peer == peer), "{peer:?}");
    }
    let faults: HashSet<std::mem::Discriminant<Fault>> =
        routes.iter().map(|r| std::mem::discriminant(&r.fault)).collect();
    assert_eq!(faults.len(), 5, "none, latency, reset, stall, partition");
    assert!(routes.iter().any(|r| r.reconnect));
    let policies: HashSet<Policy> = all
        .iter()
        .filter_map(|op| match op {
            Op::BuildMulti { policy, .. } => Some(*policy),
            _ => None,
        })
        .collect();
    assert_eq!(policies.len(), 3);
    let sizes: Vec<usize> = all
        .iter()
        .filter_map(|op| match op {
            Op::Send { size, .. } => Some(*size),
            _ => None,
        })
        .collect();
    assert!(sizes.contains(&0));
    assert!(sizes.iter().any(|&s| s > 1 << 20), "larger than the queue limit");
    assert!(all
        .iter()
        .any(|op| matches!(op, Op::Send { pieces, .. } if *pieces > 1)));
}

#[test]
fn the_mix_keeps_to_the_transports_it_is_given() {
    let config = MixConfig {
        kinds: vec![Kind::Memory, Kind::Unix],
        smbd: true,
        fault_share: 1.0,
    };
    for op in ops(3, 2, &config, 20_000) {
        match op {
            Op::BuildTransport { kind, .. } => assert!(config.kinds.contains(&kind)),
            Op::Datagram { .. } => panic!("no udp transport was given"),
            Op::BuildConnection { route, .. } => {
                assert_ne!(route.peer, Peer::Smbd, "smbd serves tcp+smb and netbt only");
                assert_eq!(route.fault, Fault::None, "the proxy is for TCP-based transports");
            }
            _ => {}
        }
    }
    let tcp_only = MixConfig {
        kinds: vec![Kind::Tcp],
        smbd: false,
        fault_share: 0.0,
    };
    for op in ops(3, 0, &tcp_only, 20_000) {
        if let Op::BuildConnection { route, .. } = op {
            assert_eq!(route.fault, Fault::None);
            assert_ne!(route.peer, Peer::Smbd);
        }
    }
}

/// An independent account of what exists, kept from the operations alone.
#[derive(Default)]
struct World {
    transports: HashMap<usize, Kind>,
    addresses: HashSet<AddrRef>,
    connections: HashSet<ConnRef>,
    vcs: HashSet<VcRef>,
    multi_legs: HashMap<usize, Vec<AddrRef>>,
}

impl World {
    fn drop_connection(&mut self, conn: ConnRef) {
        self.connections.remove(&conn);
        self.vcs.retain(|vc| vc.conn != conn);
    }

    fn drop_address(&mut self, at: AddrRef) {
        self.addresses.remove(&at);
        let gone: Vec<ConnRef> = self
            .connections
            .iter()
            .copied()
            .filter(|c| matches!(c, ConnRef::On { at: a, .. } if *a == at))
            .collect();
        for conn in gone {
            self.drop_connection(conn);
        }
        let raced: Vec<usize> = self
            .multi_legs
            .iter()
            .filter(|(_, legs)| legs.contains(&at))
            .map(|(m, _)| *m)
            .collect();
        for m in raced {
            self.multi_legs.remove(&m);
            self.drop_connection(ConnRef::Multi(m));
        }
    }
}

#[test]
fn every_operation_names_what_was_built_and_every_build_a_free_slot() {
    for seed in 0..20 {
        let mut world = World::default();
        for op in ops(seed, seed as usize % 4, &everything(), 5000) {
            match &op {
                Op::BuildTransport { t, kind } => {
                    assert!(world.transports.insert(*t, *kind).is_none(), "{op:?}");
                }
                Op::BuildAddress(at) => {
                    assert!(world.transports.contains_key(&at.t), "{op:?}");
                    assert!(world.addresses.insert(*at), "{op:?}");
                }
                Op::BuildConnection { at, c, route } => {
                    assert!(world.addresses.contains(at), "{op:?}");
                    assert_ne!(world.transports[&at.t], Kind::Udp, "{op:?}");
                    let conn = ConnRef::On { at: *at, c: *c };
                    assert!(!world.connections.contains(&conn), "{op:?}");
                    if route.peer != Peer::Refused {
                        world.connections.insert(conn);
                        world.vcs.insert(VcRef { conn, v: 0 });
                    }
                }
                Op::BuildMulti { m, legs, .. } => {
                    let conn = ConnRef::Multi(*m);
                    assert!(!world.connections.contains(&conn), "{op:?}");
                    assert!((2..=3).contains(&legs.len()), "{op:?}");
                    let distinct: HashSet<AddrRef> = legs.iter().map(|(at, _)| *at).collect();
                    assert_eq!(distinct.len(), legs.len(), "{op:?}");
                    for (at, route) in legs {
                        assert!(world.addresses.contains(at), "{op:?}");
                        assert!(!route.reconnect);
                    }
                    if legs.iter().any(|(_, r)| r.peer != Peer::Refused) {
                        world.connections.insert(conn);
                        world.vcs.insert(VcRef { conn, v: 0 });
                        world.multi_legs.insert(*m, legs.iter().map(|(at, _)| *at).collect());
                    }
                }
                Op::BuildVc(vc) => {
                    assert!(world.connections.contains(&vc.conn), "{op:?}");
                    assert!(world.vcs.insert(*vc), "{op:?}");
                }
                Op::Send { vc, .. } | Op::Resume(vc) | Op::Query { vc, .. } | Op::Disconnect(vc) => {
                    assert!(world.vcs.contains(vc), "{op:?}");
                }
                Op::TearDownVc(vc) => assert!(world.vcs.remove(vc), "{op:?}"),
                Op::Datagram { at, .. } => {
                    assert!(world.addresses.contains(at), "{op:?}");
                    assert_eq!(world.transports[&at.t], Kind::Udp, "{op:?}");
                }
                Op::TearDownConnection(conn) => {
                    assert!(world.connections.contains(conn), "{op:?}");
                    world.drop_connection(*conn);
                }
                Op::TearDownAddress(at) => {
                    assert!(world.addresses.contains(at), "{op:?}");
                    world.drop_address(*at);
                }
                Op::TearDownTransport(t) => {
                    assert!(world.transports.remove(t).is_some(), "{op:?}");
                    for a in 0..ADDRESSES {
                        world.drop_address(AddrRef { t: *t, a });
                    }
                }
                Op::UseStale(_) | Op::Pause(_) => {}
            }
        }
    }
}

#[test]
fn the_population_churns_rather_than_filling_up_or_dying_out() {
    let all = ops(11, 0, &everything(), 50_000);
    let builds = all
        .iter()
        .filter(|op| matches!(op, Op::BuildConnection { .. } | Op::BuildMulti { .. }))
        .count();
    let sends = all.iter().filter(|op| matches!(op, Op::Send { .. })).count();
    assert!(builds > 1000, "{builds} connection builds in 50,000 operations");
    assert!(sends > 15_000, "{sends} sends in 50,000 operations");
}
