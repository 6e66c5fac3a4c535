//! The operations of the soak's mix: what a lane can do, naming its
//! objects by the generator's slots.

use std::time::Duration;

use crate::endpoint::Kind;

/// An address by its slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddrRef {
    /// The transport's slot.
    pub t: usize,
    /// The address's slot under it.
    pub a: usize,
}

/// A connection by its slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnRef {
    /// Built on an address by `build_connection`.
    On {
        /// Its address.
        at: AddrRef,
        /// Its slot under the address.
        c: usize,
    },
    /// Built by a multi-transport race (on whichever address won).
    Multi(usize),
}

/// A VC by its slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VcRef {
    /// Its connection.
    pub conn: ConnRef,
    /// Its slot under the connection (0: the connection's first VC).
    pub v: usize,
}

/// Who answers a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Peer {
    /// The embedded echo peer of the transport.
    Echo,
    /// The private smbd (`tcp+smb` and `netbt` only): SMB2 NEGOTIATE, then
    /// ECHO requests.
    Smbd,
    /// Nobody: the connect is refused.
    Refused,
}

/// What the fault proxy does to one connection (TCP-based transports).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// Straight to the peer, no proxy.
    None,
    /// Every chunk is held this long, each way.
    Latency(Duration),
    /// Both sides are reset after this many bytes (either way).
    Reset {
        /// Bytes forwarded before the reset.
        after: usize,
    },
    /// Nothing flows for a while after this many bytes.
    Stall {
        /// Bytes forwarded before the stall.
        after: usize,
        /// How long nothing flows.
        pause: Duration,
    },
    /// Nothing flows any more after this many bytes, and new connects to
    /// the route are refused.
    Partition {
        /// Bytes forwarded before the partition.
        after: usize,
    },
}

/// Where a connection goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Route {
    /// Who answers.
    pub peer: Peer,
    /// What the proxy does on the way.
    pub fault: Fault,
    /// Rebuild lost VCs (a reconnect policy on the connection).
    pub reconnect: bool,
}

/// How a send is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SendMode {
    /// `Vc::send`, awaited.
    Sync,
    /// `Vc::submit_send`: PENDING, then send-submitted and send-complete.
    Async,
    /// `Vc::send` with NON_BLOCKING: DEVICE_NOT_READY when the queue is full.
    NonBlocking,
    /// `Vc::send` with NON_BLOCKING | PARTIAL: what fits of a stream send.
    Partial,
    /// `Vc::try_submit_send`: never waits.
    TrySubmit,
}

/// The multi-transport policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Policy {
    /// The first success wins.
    First,
    /// The best success (quality of service, then position).
    Best,
    /// Every success is a VC.
    All,
}

/// One operation of the mix.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// Build a transport of `kind` into slot `t`.
    BuildTransport {
        /// The slot.
        t: usize,
        /// The transport.
        kind: Kind,
    },
    /// Build an address on transport `t` into slot `a`.
    BuildAddress(AddrRef),
    /// Build a connection (and its first VC) on an address.
    BuildConnection {
        /// The address.
        at: AddrRef,
        /// The connection's slot.
        c: usize,
        /// Where it goes.
        route: Route,
    },
    /// Race connections over several addresses into multi slot `m`.
    BuildMulti {
        /// The slot.
        m: usize,
        /// Each attempt's address and route.
        legs: Vec<(AddrRef, Route)>,
        /// What is kept.
        policy: Policy,
    },
    /// Build one more VC of a connection into slot `v`.
    BuildVc(VcRef),
    /// Send `size` bytes in `pieces` buffers.
    Send {
        /// The VC.
        vc: VcRef,
        /// Bytes (0 is refused on a stream, an empty message when framed).
        size: usize,
        /// Buffers of the chain.
        pieces: usize,
        /// How.
        mode: SendMode,
    },
    /// `Vc::resume_receive`.
    Resume(VcRef),
    /// `Vc::query_information` of one class (0..4).
    Query {
        /// The VC.
        vc: VcRef,
        /// Which information class.
        class: u8,
    },
    /// `Vc::initiate_disconnect`.
    Disconnect(VcRef),
    /// A datagram of `size` bytes to the echo peer.
    Datagram {
        /// The `udp` address.
        at: AddrRef,
        /// Bytes (over 65,507 is refused).
        size: usize,
        /// `submit_datagram` rather than `send_datagram`.
        asynchronous: bool,
    },
    /// Tear a VC down.
    TearDownVc(VcRef),
    /// Tear a connection down.
    TearDownConnection(ConnRef),
    /// Tear an address down.
    TearDownAddress(AddrRef),
    /// Tear a transport down.
    TearDownTransport(usize),
    /// Use a handle torn down earlier (the `n`th most recent one the driver
    /// kept): STATUS_INVALID_HANDLE.
    UseStale(usize),
    /// Nothing for a while: timers run, peers catch up.
    Pause(Duration),
}

/// The kinds of operations, for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OpKind {
    /// [`Op::BuildTransport`].
    BuildTransport,
    /// [`Op::BuildAddress`].
    BuildAddress,
    /// [`Op::BuildConnection`].
    BuildConnection,
    /// [`Op::BuildMulti`].
    BuildMulti,
    /// [`Op::BuildVc`].
    BuildVc,
    /// [`Op::Send`], [`SendMode::Sync`].
    SendSync,
    /// [`Op::Send`], [`SendMode::Async`].
    SendAsync,
    /// [`Op::Send`], [`SendMode::NonBlocking`].
    SendNonBlocking,
    /// [`Op::Send`], [`SendMode::Partial`].
    SendPartial,
    /// [`Op::Send`], [`SendMode::TrySubmit`].
    TrySubmit,
    /// [`Op::Resume`].
    Resume,
    /// [`Op::Query`].
    Query,
    /// [`Op::Disconnect`].
    Disconnect,
    /// [`Op::Datagram`], synchronous.
    Datagram,
    /// [`Op::Datagram`], asynchronous.
    DatagramAsync,
    /// [`Op::TearDownVc`].
    TearDownVc,
    /// [`Op::TearDownConnection`].
    TearDownConnection,
    /// [`Op::TearDownAddress`].
    TearDownAddress,
    /// [`Op::TearDownTransport`].
    TearDownTransport,
    /// [`Op::UseStale`].
    UseStale,
    /// [`Op::Pause`].
    Pause,
}

impl OpKind {
    /// Every kind, in report order.
    pub const ALL: [OpKind; 21] = [
        OpKind::BuildTransport,
        OpKind::BuildAddress,
        OpKind::BuildConnection,
        OpKind::BuildMulti,
        OpKind::BuildVc,
        OpKind::SendSync,
        OpKind::SendAsync,
        OpKind::SendNonBlocking,
        OpKind::SendPartial,
        OpKind::TrySubmit,
        OpKind::Resume,
        OpKind::Query,
        OpKind::Disconnect,
        OpKind::Datagram,
        OpKind::DatagramAsync,
        OpKind::TearDownVc,
        OpKind::TearDownConnection,
        OpKind::TearDownAddress,
        OpKind::TearDownTransport,
        OpKind::UseStale,
        OpKind::Pause,
    ];

    /// The name in reports.
    pub const fn name(self) -> &'static str {
        match self {
            OpKind::BuildTransport => "build transport",
            OpKind::BuildAddress => "build address",
            OpKind::BuildConnection => "build connection",
            OpKind::BuildMulti => "build over multiple transports",
            OpKind::BuildVc => "build VC",
            OpKind::SendSync => "send",
            OpKind::SendAsync => "submit send",
            OpKind::SendNonBlocking => "send non-blocking",
            OpKind::SendPartial => "send non-blocking partial",
            OpKind::TrySubmit => "try submit send",
            OpKind::Resume => "resume receive",
            OpKind::Query => "query information",
            OpKind::Disconnect => "initiate disconnect",
            OpKind::Datagram => "send datagram",
            OpKind::DatagramAsync => "submit datagram",
            OpKind::TearDownVc => "tear down VC",
            OpKind::TearDownConnection => "tear down connection",
            OpKind::TearDownAddress => "tear down address",
            OpKind::TearDownTransport => "tear down transport",
            OpKind::UseStale => "use a torn-down handle",
            OpKind::Pause => "pause",
        }
    }
}

impl Op {
    /// The operation's kind.
    pub fn kind(&self) -> OpKind {
        match self {
            Op::BuildTransport { .. } => OpKind::BuildTransport,
            Op::BuildAddress(_) => OpKind::BuildAddress,
            Op::BuildConnection { .. } => OpKind::BuildConnection,
            Op::BuildMulti { .. } => OpKind::BuildMulti,
            Op::BuildVc(_) => OpKind::BuildVc,
            Op::Send { mode, .. } => match mode {
                SendMode::Sync => OpKind::SendSync,
                SendMode::Async => OpKind::SendAsync,
                SendMode::NonBlocking => OpKind::SendNonBlocking,
                SendMode::Partial => OpKind::SendPartial,
                SendMode::TrySubmit => OpKind::TrySubmit,
            },
            Op::Resume(_) => OpKind::Resume,
            Op::Query { .. } => OpKind::Query,
            Op::Disconnect(_) => OpKind::Disconnect,
            Op::Datagram {
                asynchronous: false, ..
            } => OpKind::Datagram,
            Op::Datagram { asynchronous: true, .. } => OpKind::DatagramAsync,
            Op::TearDownVc(_) => OpKind::TearDownVc,
            Op::TearDownConnection(_) => OpKind::TearDownConnection,
            Op::TearDownAddress(_) => OpKind::TearDownAddress,
            Op::TearDownTransport(_) => OpKind::TearDownTransport,
            Op::UseStale(_) => OpKind::UseStale,
            Op::Pause(_) => OpKind::Pause,
        }
    }
}
