//! A lane's objects: the handles behind the generator's slots, what each
//! connection talks to, and a few torn-down handles kept for stale use.

use std::collections::VecDeque;

use rxce::{Address, Connection, Transport, Vc};

use super::ledger::Content;
use super::mix::{ADDRESSES, CONNECTIONS, MULTIS, TRANSPORTS, VCS};
use super::op::{AddrRef, ConnRef, VcRef};
use super::proxy::FaultProxy;
use crate::endpoint::Kind;

/// Torn-down handles kept for [`Op::UseStale`](super::op::Op::UseStale).
const GRAVEYARD: usize = 8;

/// A connection and its VCs.
pub struct ConnEntry {
    /// The connection.
    pub connection: Connection,
    /// The VCs in the generator's slots.
    pub vcs: [Option<Vc>; VCS],
    /// VCs outside the slots (more successes of a race, VCs a rebuild
    /// replaced): torn down with the connection.
    pub extras: Vec<Vc>,
    /// What a new VC of the connection talks to.
    pub content: Content,
    /// Proxies that must live as long as the connection.
    pub proxies: Vec<FaultProxy>,
}

impl ConnEntry {
    /// A connection with its first VC.
    pub fn new(connection: Connection, first: Vc, content: Content) -> ConnEntry {
        let mut vcs: [Option<Vc>; VCS] = Default::default();
        vcs[0] = Some(first);
        ConnEntry {
            connection,
            vcs,
            extras: Vec::new(),
            content,
            proxies: Vec::new(),
        }
    }

    fn holds(&self, id: u64) -> bool {
        let address = self.connection.address();
        [self.connection.id(), address.id(), address.transport().id()].contains(&id)
    }
}

/// An address and its connections.
pub struct AddressEntry {
    /// The address.
    pub address: Address,
    /// Connections in the generator's slots.
    pub connections: [Option<ConnEntry>; CONNECTIONS],
}

/// A transport and its addresses.
pub struct TransportEntry {
    /// The transport.
    pub transport: Transport,
    /// Its kind.
    pub kind: Kind,
    /// Addresses in the generator's slots.
    pub addresses: [Option<AddressEntry>; ADDRESSES],
}

/// A handle whose tear-down returned.
#[derive(Clone)]
pub enum Stale {
    /// A transport.
    Transport(Transport),
    /// An address.
    Address(Address),
    /// A connection.
    Connection(Connection),
    /// A VC.
    Vc(Vc),
}

/// Every object of one lane.
#[derive(Default)]
pub struct World {
    /// Transports in the generator's slots.
    pub transports: [Option<TransportEntry>; TRANSPORTS],
    /// Multi-transport connections.
    pub multis: [Option<ConnEntry>; MULTIS],
    graveyard: VecDeque<Stale>,
}

/// True when tearing down object `id` tears `vc` down.
fn below(vc: &Vc, id: u64) -> bool {
    super::books::lineage(vc).contains(id)
}

impl World {
    /// The transport in slot `t`.
    pub fn transport(&mut self, t: usize) -> Option<&mut TransportEntry> {
        self.transports[t].as_mut()
    }

    /// The address at `at`.
    pub fn address(&mut self, at: AddrRef) -> Option<&mut AddressEntry> {
        self.transports[at.t].as_mut()?.addresses[at.a].as_mut()
    }

    /// The kind of the transport of `at`.
    pub fn kind(&self, at: AddrRef) -> Option<Kind> {
        self.transports[at.t].as_ref().map(|t| t.kind)
    }

    /// The connection `conn`.
    pub fn connection(&mut self, conn: ConnRef) -> Option<&mut ConnEntry> {
        match conn {
            ConnRef::On { at, c } => self.address(at)?.connections[c].as_mut(),
            ConnRef::Multi(m) => self.multis[m].as_mut(),
        }
    }

    /// The slot of connection `conn` (to fill or empty it).
    pub fn connection_slot(&mut self, conn: ConnRef) -> Option<&mut Option<ConnEntry>> {
        match conn {
            ConnRef::On { at, c } => Some(&mut self.address(at)?.connections[c]),
            ConnRef::Multi(m) => Some(&mut self.multis[m]),
        }
    }

    /// The VC in slot `vc`, with a VC rebuilt in its place (by
    /// `replacement`) taken up first.
    pub fn vc(&mut self, vc: VcRef, replacement: impl Fn(u64) -> Option<Vc>) -> Option<Vc> {
        let entry = self.connection(vc.conn)?;
        loop {
            let current = entry.vcs[vc.v].clone()?;
            let Some(restored) = replacement(current.id()) else {
                return Some(current);
            };
            entry.extras.push(current);
            entry.vcs[vc.v] = Some(restored);
        }
    }

    /// Keeps a torn-down handle for stale use.
    pub fn bury(&mut self, stale: Stale) {
        if self.graveyard.len() == GRAVEYARD {
            self.graveyard.pop_front();
        }
        self.graveyard.push_back(stale);
    }

    /// The `n`th kept handle (wrapping), if any.
    pub fn stale(&self, n: usize) -> Option<Stale> {
        (!self.graveyard.is_empty()).then(|| self.graveyard[n % self.graveyard.len()].clone())
    }

    /// Forgets every handle the tear-down of object `id` took down
    /// (connections on it, VCs below it, wherever they sit).
    pub fn forget(&mut self, id: u64) {
        let mut connections: Vec<&mut Option<ConnEntry>> = self.multis.iter_mut().collect();
        for transport in self.transports.iter_mut().flatten() {
            for address in transport.addresses.iter_mut().flatten() {
                connections.extend(address.connections.iter_mut());
            }
        }
        for slot in connections {
            if slot.as_ref().is_some_and(|entry| entry.holds(id)) {
                *slot = None;
            } else if let Some(entry) = slot.as_mut() {
                for vc in entry.vcs.iter_mut() {
                    if vc.as_ref().is_some_and(|vc| below(vc, id)) {
                        *vc = None;
                    }
                }
                entry.extras.retain(|vc| !below(vc, id));
            }
        }
    }

    /// Every transport and multi-transport connection left, emptying the
    /// world (the lane's end).
    pub fn drain(&mut self) -> (Vec<Transport>, Vec<Connection>) {
        self.graveyard.clear();
        let transports = self
            .transports
            .iter_mut()
            .filter_map(Option::take)
            .map(|t| t.transport)
            .collect();
        let multis = self
            .multis
            .iter_mut()
            .filter_map(Option::take)
            .map(|m| m.connection)
            .collect();
        (transports, multis)
    }
}
