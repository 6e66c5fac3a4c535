//! One lane of the soak: the thin driver that runs its generator's
//! operations one after another against the engine, and checks what each
//! returns.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rxce::{
    build_connection_over_multiple_transports, Engine, InformationClass, MultiConnectOptions, ReconnectPolicy,
    SelectPolicy, SendBuffers, SendOptions, Status, Vc,
};

use super::books::{lock, Books};
use super::handler::SoakHandler;
use super::ledger::Content;
use super::mix::Mix;
use super::op::{AddrRef, ConnRef, Fault, Op, Peer, Policy, Route, SendMode, VcRef};
use super::peers::Peers;
use super::stats::Source;
use super::world::{ConnEntry, Stale, World};
use crate::endpoint::Kind;

/// The rebuilds of a connection with a reconnect policy.
const RECONNECT: ReconnectPolicy = ReconnectPolicy {
    attempts: 3,
    initial_backoff: Duration::from_millis(50),
    max_backoff: Duration::from_millis(400),
};

/// Statuses a VC's failure may carry (what a send on a failed VC, a
/// failed build or an abortive end reports).
fn is_vc_failure(status: &Status) -> bool {
    [
        Status::CONNECTION_DISCONNECTED,
        Status::CONNECTION_RESET,
        Status::CONNECTION_ABORTED,
        Status::CONNECTION_REFUSED,
        Status::IO_TIMEOUT,
        Status::REMOTE_DISCONNECT,
        Status::LOCAL_DISCONNECT,
        Status::CANCELLED,
    ]
    .contains(status)
}

/// One lane.
pub struct Lane {
    mix: Mix,
    world: World,
    engine: Engine,
    peers: Arc<Peers>,
    books: Arc<Books>,
    handler: Arc<SoakHandler>,
    /// The operation running found none of the objects it names.
    skipped: bool,
}

impl Lane {
    /// A lane running `mix` on `engine`.
    pub fn new(mix: Mix, engine: Engine, peers: Arc<Peers>, books: Arc<Books>) -> Lane {
        let handler = SoakHandler::new(books.clone());
        Lane {
            mix,
            world: World::default(),
            engine,
            peers,
            books,
            handler,
            skipped: false,
        }
    }

    /// Notes that the operation found none of its objects (the network
    /// refused their build, or a parent's tear-down took them).
    fn skip(&mut self) {
        self.skipped = true;
    }

    /// The next operation of the mix.
    pub fn next_op(&mut self) -> Op {
        self.mix.next_op()
    }

    fn outcome(&self, status: &Status) {
        self.books.stats.outcome(Source::Operation, status);
    }

    fn broken(&self, id: u64, what: impl std::fmt::Display) {
        self.books.violation(id, what);
    }

    /// Runs one operation; false when it found none of its objects.
    pub async fn run(&mut self, op: Op) -> bool {
        self.skipped = false;
        self.execute(op).await;
        !self.skipped
    }

    async fn execute(&mut self, op: Op) {
        match op {
            Op::BuildTransport { t, kind } => match self.engine.build_transport(kind.transport_name(), 0) {
                Ok(transport) => {
                    self.outcome(&Status::SUCCESS);
                    self.world.transports[t] = Some(super::world::TransportEntry {
                        transport,
                        kind,
                        addresses: Default::default(),
                    });
                }
                Err(status) => {
                    self.outcome(&status);
                    self.broken(0, format!("building a {kind} transport failed: {status}"));
                }
            },
            Op::BuildAddress(at) => self.build_address(at),
            Op::BuildConnection { at, c, route } => self.build_connection(at, c, route).await,
            Op::BuildMulti { m, legs, policy } => self.build_multi(m, &legs, policy).await,
            Op::BuildVc(vc) => self.build_vc(vc).await,
            Op::Send { vc, size, pieces, mode } => self.send(vc, size, pieces, mode).await,
            Op::Resume(vc) => self.on_vc(vc, "resume receive", |vc| vc.resume_receive()),
            Op::Query { vc, class } => {
                let class = [
                    InformationClass::TransportProvider,
                    InformationClass::Connection,
                    InformationClass::ConnectionEndpoint,
                    InformationClass::RemoteAddress,
                ][usize::from(class) % 4];
                self.on_vc(vc, "query information", |vc| vc.query_information(class).map(drop));
            }
            Op::Disconnect(vc) => {
                let Some(handle) = self.vc(vc) else {
                    return self.skip();
                };
                lock(&self.books.vc(&handle)).ledger.initiated_disconnect();
                match handle.initiate_disconnect() {
                    Ok(()) => self.outcome(&Status::SUCCESS),
                    Err(status) => {
                        self.outcome(&status);
                        if status != Status::CONNECTION_DISCONNECTED {
                            self.broken(handle.id(), format!("initiate disconnect: {status}"));
                        }
                    }
                }
            }
            Op::Datagram { at, size, asynchronous } => self.datagram(at, size, asynchronous).await,
            Op::TearDownVc(vc) => {
                let Some(handle) = self.vc(vc) else {
                    return self.skip();
                };
                let torn = handle.tear_down().await;
                self.torn_down(handle.id(), torn, Stale::Vc(handle));
            }
            Op::TearDownConnection(conn) => {
                let Some(connection) = self.world.connection(conn).map(|e| e.connection.clone()) else {
                    return self.skip();
                };
                let torn = connection.tear_down().await;
                self.torn_down(connection.id(), torn, Stale::Connection(connection));
            }
            Op::TearDownAddress(at) => {
                let Some(address) = self.world.address(at).map(|e| e.address.clone()) else {
                    return self.skip();
                };
                let torn = address.tear_down().await;
                self.torn_down(address.id(), torn, Stale::Address(address));
            }
            Op::TearDownTransport(t) => {
                let Some(transport) = self.world.transport(t).map(|e| e.transport.clone()) else {
                    return self.skip();
                };
                let torn = transport.tear_down().await;
                self.torn_down(transport.id(), torn, Stale::Transport(transport));
            }
            Op::UseStale(n) => self.use_stale(n).await,
            Op::Pause(d) => tokio::time::sleep(d).await,
        }
    }

    /// The handle of `vc`, a rebuilt one taken up in its place.
    fn vc(&mut self, vc: VcRef) -> Option<Vc> {
        let books = &self.books;
        self.world.vc(vc, |id| books.take_replacement(id))
    }

    fn on_vc(&mut self, vc: VcRef, what: &str, call: impl FnOnce(&Vc) -> Result<(), Status>) {
        let Some(handle) = self.vc(vc) else {
            return self.skip();
        };
        let status = call(&handle).err().unwrap_or(Status::SUCCESS);
        self.outcome(&status);
        if !status.is_success() {
            self.broken(handle.id(), format!("{what} on a live VC: {status}"));
        }
    }

    /// A tear-down of object `id` returned `torn`: nothing of it may
    /// indicate any more, and its handles are gone from the world.
    fn torn_down(&mut self, id: u64, torn: Result<(), Status>, stale: Stale) {
        let status = torn.err().unwrap_or(Status::SUCCESS);
        self.outcome(&status);
        if !status.is_success() {
            self.broken(id, format!("tearing down a live object: {status}"));
        }
        self.books.torn_down(id);
        self.world.forget(id);
        match &stale {
            Stale::Transport(_) => {
                for slot in self.world.transports.iter_mut() {
                    if slot.as_ref().is_some_and(|t| t.transport.id() == id) {
                        *slot = None;
                    }
                }
            }
            Stale::Address(_) => {
                for transport in self.world.transports.iter_mut().flatten() {
                    for slot in transport.addresses.iter_mut() {
                        if slot.as_ref().is_some_and(|a| a.address.id() == id) {
                            *slot = None;
                        }
                    }
                }
            }
            Stale::Connection(_) | Stale::Vc(_) => {}
        }
        self.world.bury(stale);
    }

    fn build_address(&mut self, at: AddrRef) {
        let Some(kind) = self.world.kind(at) else {
            return self.skip();
        };
        let local = self.peers.local_address(kind);
        let handler = self.handler.clone();
        let Some(transport) = self.world.transport(at.t).map(|t| t.transport.clone()) else {
            return;
        };
        match transport.build_address(local, handler) {
            Ok(address) => {
                self.outcome(&Status::SUCCESS);
                if kind == Kind::Udp {
                    let _ = self.books.datagram(address.id(), address.transport().id());
                }
                if let Some(transport) = self.world.transport(at.t) {
                    transport.addresses[at.a] = Some(super::world::AddressEntry {
                        address,
                        connections: Default::default(),
                    });
                }
            }
            Err(status) => {
                self.outcome(&status);
                self.broken(0, format!("building a {kind} address failed: {status}"));
            }
        }
    }

    fn content(kind: Kind, peer: Peer) -> Content {
        match peer {
            Peer::Smbd => Content::Smb(Default::default()),
            _ => Content::Echo {
                framed: kind.is_framed(),
            },
        }
    }

    /// Checks a build's failure against its route: a clean route to a
    /// live peer must connect; a refused one must not.
    fn build_failed(&self, kind: Kind, route: Route, status: &Status) {
        let clean = route.fault == Fault::None && route.peer != Peer::Refused;
        if clean || !is_vc_failure(status) && *status != Status::INVALID_NETWORK_RESPONSE {
            self.broken(
                0,
                format!(
                    "a {kind} build to {:?} via {:?} failed: {status}",
                    route.peer, route.fault
                ),
            );
        }
    }

    async fn build_connection(&mut self, at: AddrRef, c: usize, route: Route) {
        let (Some(kind), Some(address)) = (self.world.kind(at), self.world.address(at).map(|a| a.address.clone()))
        else {
            return self.skip();
        };
        let (remote, proxy) = match self.peers.route(kind, route.peer, route.fault).await {
            Ok(target) => target,
            Err(status) => return self.broken(0, status),
        };
        let built = address.build_connection(remote, self.handler.clone()).await;
        match built {
            Ok((connection, vc)) => {
                self.outcome(&Status::SUCCESS);
                if route.peer == Peer::Refused {
                    self.broken(vc.id(), format!("a {kind} connection to nobody was built"));
                }
                if route.reconnect {
                    connection.set_reconnect_policy(Some(RECONNECT));
                }
                let content = Self::content(kind, route.peer);
                self.books.register(&vc, content.clone());
                let mut entry = ConnEntry::new(connection, vc, content);
                entry.proxies.extend(proxy);
                if let Some(slot) = self.world.connection_slot(ConnRef::On { at, c }) {
                    *slot = Some(entry);
                }
            }
            Err(status) => {
                self.outcome(&status);
                if route.peer != Peer::Refused {
                    self.build_failed(kind, route, &status);
                }
            }
        }
    }

    async fn build_multi(&mut self, m: usize, legs: &[(AddrRef, Route)], policy: Policy) {
        // The generator forgets a raced connection when any address it
        // raced over goes; the winner's may still be here.
        if let Some(old) = self.world.multis[m].as_ref().map(|e| e.connection.clone()) {
            let torn = old.tear_down().await;
            self.torn_down(old.id(), torn, Stale::Connection(old));
        }
        let mut addresses = Vec::new();
        let mut remotes = Vec::new();
        let mut proxies = Vec::new();
        let mut plans = Vec::new();
        for &(at, route) in legs {
            let (Some(kind), Some(address)) = (self.world.kind(at), self.world.address(at).map(|a| a.address.clone()))
            else {
                continue;
            };
            let (remote, proxy) = match self.peers.route(kind, route.peer, route.fault).await {
                Ok(target) => target,
                Err(status) => return self.broken(0, status),
            };
            plans.push((address.id(), kind, route));
            addresses.push(address);
            remotes.push(remote);
            proxies.extend(proxy);
        }
        if addresses.is_empty() {
            return self.skip();
        }
        let options = MultiConnectOptions {
            policy: match policy {
                Policy::First => SelectPolicy::FirstSuccessful,
                Policy::Best => SelectPolicy::BestSuccessful,
                Policy::All => SelectPolicy::AllSuccessful,
            },
            attempt_timeout: Some(Duration::from_secs(5)),
            deadline: Some(Duration::from_secs(10)),
            best_wait: Duration::from_millis(100),
            ..MultiConnectOptions::default()
        };
        let built =
            build_connection_over_multiple_transports(&addresses, &remotes, self.handler.clone(), &options).await;
        let content_of = |vc: &Vc| {
            let id = vc.address().id();
            plans
                .iter()
                .find(|(address, ..)| *address == id)
                .map(|(_, kind, route)| Self::content(*kind, route.peer))
                .unwrap_or(Content::Unknown)
        };
        match built {
            Ok(multi) => {
                self.outcome(&Status::SUCCESS);
                let mut vcs = multi.vcs.into_iter();
                let Some(first) = vcs.next() else {
                    return self.broken(multi.connection.id(), "a multi-transport build with no VC");
                };
                for vc in std::iter::once(&first).chain(vcs.as_slice()) {
                    self.books.register(vc, content_of(vc));
                }
                let mut entry = ConnEntry::new(multi.connection, first.clone(), content_of(&first));
                entry.extras.extend(vcs);
                entry.proxies = proxies;
                self.world.multis[m] = Some(entry);
            }
            Err(error) => {
                self.outcome(&error.status);
                if let Some((_, kind, route)) = plans
                    .iter()
                    .find(|(_, _, r)| r.fault == Fault::None && r.peer != Peer::Refused)
                {
                    self.build_failed(*kind, *route, &error.status);
                }
            }
        }
    }

    async fn build_vc(&mut self, vc: VcRef) {
        let Some(entry) = self.world.connection(vc.conn) else {
            return self.skip();
        };
        let connection = entry.connection.clone();
        let content = entry.content.clone();
        let fresh = match &content {
            Content::Smb(_) => Content::Smb(Default::default()),
            other => other.clone(),
        };
        let faulted = !entry.proxies.is_empty();
        match connection.build_vc().await {
            Ok(built) => {
                self.outcome(&Status::SUCCESS);
                self.books.register(&built, fresh);
                if let Some(entry) = self.world.connection(vc.conn) {
                    if let Some(old) = entry.vcs[vc.v].replace(built) {
                        entry.extras.push(old);
                    }
                }
            }
            Err(status) => {
                self.outcome(&status);
                if !faulted || !is_vc_failure(&status) {
                    self.broken(connection.id(), format!("building another VC failed: {status}"));
                }
            }
        }
    }

    async fn send(&mut self, vc: VcRef, size: usize, pieces: usize, mode: SendMode) {
        let Some(handle) = self.vc(vc) else {
            return self.skip();
        };
        let entry = self.books.vc(&handle);
        let Some(payload) = lock(&entry).ledger.next_payload(size) else {
            return self.skip();
        };
        let payload = payload.into_bytes();
        let len = payload.len();
        let buffers = chain(payload, pieces);
        let options = match mode {
            SendMode::Sync | SendMode::Async | SendMode::TrySubmit => SendOptions::empty(),
            SendMode::NonBlocking => SendOptions::NON_BLOCKING,
            SendMode::Partial => SendOptions::NON_BLOCKING | SendOptions::PARTIAL,
        };
        let (status, sent) = match mode {
            SendMode::Async | SendMode::TrySubmit => {
                let context = self.books.next_context();
                lock(&entry).ledger.submit(context);
                let status = if mode == SendMode::Async {
                    handle.submit_send(buffers, options, context).await
                } else {
                    handle.try_submit_send(buffers, options, context)
                };
                if status != Status::PENDING {
                    if let Err(broken) = lock(&entry).ledger.refused(context) {
                        self.broken(handle.id(), broken);
                    }
                }
                let sent = if status == Status::PENDING { len } else { 0 };
                (status, sent)
            }
            _ => match handle.send(buffers, options).await {
                Ok(n) => (Status::SUCCESS, n),
                Err(status) => (status, 0),
            },
        };
        self.outcome(&status);
        self.books.stats.sent(sent);
        let mut entry = lock(&entry);
        if status.is_success() {
            if sent > len || (sent < len && mode != SendMode::Partial) {
                self.broken(handle.id(), format!("a {len}-byte send reported {sent} bytes"));
            }
            if sent < len {
                entry.ledger.not_sent(len, sent);
            }
            return;
        }
        let refused = status == Status::DEVICE_NOT_READY && mode != SendMode::Sync && mode != SendMode::Async
            || status == Status::INVALID_PARAMETER && len == 0;
        if refused {
            // Refused before it was queued: nothing of it went out.
            entry.ledger.not_sent(len, 0);
        } else {
            entry.ledger.send_failed();
            if !is_vc_failure(&status) {
                self.broken(handle.id(), format!("a {mode:?} send of {len} bytes: {status}"));
            }
        }
    }

    async fn datagram(&mut self, at: AddrRef, size: usize, asynchronous: bool) {
        let (Some(address), Some(remote)) = (
            self.world.address(at).map(|a| a.address.clone()),
            self.peers.datagram_remote(),
        ) else {
            return self.skip();
        };
        let ledger = self.books.datagram(address.id(), address.transport().id());
        let (seq, bytes) = lock(&ledger).next_datagram(size, std::time::Instant::now());
        let len = bytes.len();
        let status = if asynchronous {
            let context = self.books.next_context();
            lock(&ledger).submit(context);
            let status = address
                .submit_datagram(&remote, Bytes::from(bytes), SendOptions::empty(), context)
                .await;
            if status != Status::PENDING {
                if let Err(broken) = lock(&ledger).refused(context) {
                    self.broken(address.id(), broken);
                }
            }
            status
        } else {
            match address
                .send_datagram(&remote, Bytes::from(bytes), SendOptions::empty())
                .await
            {
                Ok(n) if n == len => Status::SUCCESS,
                Ok(n) => {
                    self.broken(address.id(), format!("a {len}-byte datagram reported {n} bytes sent"));
                    Status::SUCCESS
                }
                Err(status) => status,
            }
        };
        self.outcome(&status);
        if status.is_success() {
            self.books.stats.sent(len);
            return;
        }
        lock(&ledger).not_sent(seq);
        let too_long = len > 65_507 && status == Status::INVALID_PARAMETER;
        if !too_long {
            self.broken(address.id(), format!("a {len}-byte datagram: {status}"));
        }
    }

    async fn use_stale(&mut self, n: usize) {
        let Some(stale) = self.world.stale(n) else {
            return self.skip();
        };
        let (id, status) = match stale {
            Stale::Transport(t) => (
                t.id(),
                t.build_address(self.peers.local_address(Kind::Memory), self.handler.clone())
                    .err(),
            ),
            Stale::Address(a) => (a.id(), a.query_information(InformationClass::TransportProvider).err()),
            Stale::Connection(c) => (c.id(), c.build_vc().await.err()),
            Stale::Vc(v) => (v.id(), v.send(&b"stale"[..], SendOptions::empty()).await.err()),
        };
        let status = status.unwrap_or(Status::SUCCESS);
        self.outcome(&status);
        if status != Status::INVALID_HANDLE {
            self.broken(
                id,
                format!("a torn-down handle was used: {status}, not STATUS_INVALID_HANDLE"),
            );
        }
    }

    /// Tears down everything the lane still has.
    pub async fn finish(&mut self) {
        let (transports, multis) = self.world.drain();
        for connection in multis {
            let id = connection.id();
            if let Err(status) = connection.tear_down().await {
                self.broken(id, format!("tearing down a connection at the end: {status}"));
            }
            self.books.torn_down(id);
        }
        for transport in transports {
            let id = transport.id();
            let status = transport.tear_down().await.err().unwrap_or(Status::SUCCESS);
            if !status.is_success() {
                self.broken(id, format!("tearing down a transport at the end: {status}"));
            }
            self.books.torn_down(id);
        }
    }
}

/// `payload` as a chain of `pieces` buffers.
fn chain(payload: Vec<u8>, pieces: usize) -> SendBuffers {
    let payload = Bytes::from(payload);
    let mut buffers = SendBuffers::new();
    let pieces = pieces.clamp(1, payload.len().max(1));
    let step = payload.len().div_ceil(pieces).max(1);
    let mut at = 0;
    while at < payload.len() {
        let end = (at + step).min(payload.len());
        buffers.push(payload.slice(at..end));
        at = end;
    }
    buffers
}
