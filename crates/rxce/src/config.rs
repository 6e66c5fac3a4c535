//! Engine configuration.

use std::time::Duration;

use crate::status::Status;

/// The smallest receive buffer: TDI's minimum lookahead.
pub const MIN_RECEIVE_BUFFER_SIZE: usize = 128;

/// How an [`Engine`](crate::Engine) runs and what it may spend.
///
/// ```
/// let config = rxce::EngineConfig {
///     budget_bytes: 64 * 1024 * 1024,
///     ..rxce::EngineConfig::default()
/// };
/// assert_eq!(config.receive_buffer_size, 256 * 1024);
/// ```
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Worker threads of the engine's own runtime (ignored when the engine
    /// runs on a runtime the embedder passes).
    pub worker_threads: usize,
    /// The resource budget in bytes: objects (transports, addresses,
    /// connections, VCs) and receive buffers are charged against it; past
    /// it, builds fail with STATUS_INSUFFICIENT_RESOURCES and a VC waits
    /// for room before it reads more. Queued sends are not charged: they
    /// hold the caller's own buffers, and `send_queue_limit` bounds them
    /// per VC.
    pub budget_bytes: usize,
    /// Size of the pooled receive (lookahead) buffers: the most bytes one
    /// receive indication carries, and the most one read of the socket
    /// takes. The default, 256 KiB, lets a bulk receiver drain the kernel's
    /// buffer in a quarter of the reads 64 KiB needs (BENCHMARKS.md); a VC
    /// holds a buffer only while it holds unindicated bytes, so idle VCs
    /// cost nothing of it.
    pub receive_buffer_size: usize,
    /// How many idle receive buffers the pool keeps for reuse (the default,
    /// 64, keeps at most 16 MiB).
    pub pooled_buffers: usize,
    /// Unsent bytes a VC queues before senders wait (or, non-blocking, get
    /// STATUS_DEVICE_NOT_READY). A single send larger than this is accepted
    /// when the queue is empty.
    pub send_queue_limit: usize,
    /// How long a connect attempt may take (STATUS_IO_TIMEOUT after).
    pub connect_timeout: Duration,
    /// How long a graceful disconnect waits for the peer's end before the
    /// VC is closed abortively.
    pub disconnect_timeout: Duration,
    /// Disable Nagle's algorithm on TCP VCs (small requests go out at once).
    pub tcp_nodelay: bool,
    /// The largest message a framed transport (`tcp+smb`, `netbt`) accepts;
    /// a longer one is a protocol error.
    pub max_message_size: usize,
    /// The NetBIOS session service (`netbt`) and name service settings.
    pub netbt: NetbtConfig,
    /// TCP keepalive probes on TCP-based VCs (the kernel's, `SO_KEEPALIVE`):
    /// `None` leaves them off.
    pub tcp_keepalive: Option<TcpKeepalive>,
    /// A VC that receives no byte from its peer for this long is
    /// disconnected (ABORT, STATUS_IO_TIMEOUT). `None`: never.
    pub dead_peer_timeout: Option<Duration>,
    /// A client callback that runs longer than this is logged (a warning
    /// naming the object and the callback) and counted
    /// ([`Engine::slow_callbacks`](crate::Engine::slow_callbacks)):
    /// callbacks run on the engine's workers, and one that blocks holds up
    /// every VC and timer that worker serves. `None`: callbacks are not
    /// timed.
    pub slow_callback: Option<Duration>,
    /// A client callback that runs longer than this is taken as blocked:
    /// the engine's watchdog thread wakes an idle worker, which then serves
    /// the I/O and timers of every other VC (without it, one blocked
    /// callback can hold them all up, idle workers or not). Each callback
    /// that blocks still holds its own worker: size `worker_threads` for
    /// the callbacks that may block at once. `None`: no watchdog thread.
    pub blocked_callback: Option<Duration>,
}

/// The kernel's TCP keepalive settings of a VC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpKeepalive {
    /// Idle time before the first probe.
    pub idle: Duration,
    /// Time between probes.
    pub interval: Duration,
    /// Unanswered probes before the connection is dropped.
    pub retries: u32,
}

impl Default for TcpKeepalive {
    fn default() -> TcpKeepalive {
        TcpKeepalive {
            idle: Duration::from_secs(60),
            interval: Duration::from_secs(10),
            retries: 5,
        }
    }
}

/// How the engine rebuilds a lost VC of a connection (see
/// [`Connection::set_reconnect_policy`](crate::Connection::set_reconnect_policy)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconnectPolicy {
    /// How many rebuilds are tried before the engine gives up.
    pub attempts: u32,
    /// The wait before the first rebuild; it doubles after each failure.
    pub initial_backoff: Duration,
    /// The longest wait between rebuilds.
    pub max_backoff: Duration,
}

impl Default for ReconnectPolicy {
    fn default() -> ReconnectPolicy {
        ReconnectPolicy {
            attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
        }
    }
}

/// Settings of the `netbt` transport and of NetBIOS name queries.
#[derive(Debug, Clone)]
pub struct NetbtConfig {
    /// The session service port used when a remote address gives none.
    pub port: u16,
    /// The calling name sent in session requests when the local address
    /// has no NetBIOS entry (default `RXCE`).
    pub calling_name: String,
    /// The NetBIOS scope (none by default).
    pub scope: Option<String>,
    /// Retry once with `*SMBSERVER<20>` when the called name is refused
    /// (negative responses 0x80 and 0x82), as Samba's client does.
    pub retry_smbserver: bool,
    /// Follow a retarget response once (never a second time).
    pub follow_retarget: bool,
    /// Send a keepalive frame when nothing was sent for this long (only
    /// after the first message: Samba drops a session whose first frame is
    /// a keepalive). `None` sends none.
    pub keepalive_interval: Option<Duration>,
    /// Where name queries go: a name server (unicast), or `None` for a
    /// broadcast to `broadcast_address`.
    pub name_server: Option<std::net::SocketAddr>,
    /// The broadcast destination of name queries without a name server.
    pub broadcast_address: std::net::SocketAddr,
    /// How long one name query waits for its answer.
    pub name_query_timeout: Duration,
    /// How many times a name query is sent before it gives up.
    pub name_query_attempts: u32,
    /// Ask a name server to recurse (the RD bit; WINS servers want it, a
    /// plain nmbd answers unknown names negatively only without it).
    pub recursion_desired: bool,
}

impl Default for NetbtConfig {
    fn default() -> NetbtConfig {
        NetbtConfig {
            port: 139,
            calling_name: "RXCE".into(),
            scope: None,
            retry_smbserver: true,
            follow_retarget: true,
            keepalive_interval: Some(Duration::from_secs(60)),
            name_server: None,
            broadcast_address: std::net::SocketAddr::from(([255, 255, 255, 255], 137)),
            // RFC 1002's broadcast retry timeout and count; a unicast query
            // to a name server gets the same count with this timeout.
            name_query_timeout: Duration::from_millis(250),
            name_query_attempts: 3,
            recursion_desired: true,
        }
    }
}

impl Default for EngineConfig {
    fn default() -> EngineConfig {
        EngineConfig {
            worker_threads: 2,
            budget_bytes: 1 << 30,
            receive_buffer_size: 256 * 1024,
            pooled_buffers: 64,
            send_queue_limit: 1 << 20,
            connect_timeout: Duration::from_secs(20),
            disconnect_timeout: Duration::from_secs(20),
            tcp_nodelay: true,
            max_message_size: 16 * 1024 * 1024 - 1,
            netbt: NetbtConfig::default(),
            tcp_keepalive: None,
            dead_peer_timeout: None,
            slow_callback: Some(Duration::from_millis(100)),
            blocked_callback: Some(Duration::from_millis(2)),
        }
    }
}

impl EngineConfig {
    /// Checks that the engine can run with this configuration.
    pub fn check(&self) -> Result<(), Status> {
        let bad = |what: String| Err(Status::INVALID_PARAMETER.with_message(what));
        if self.receive_buffer_size < MIN_RECEIVE_BUFFER_SIZE {
            return bad(format!(
                "receive_buffer_size {} is below the minimum lookahead of {MIN_RECEIVE_BUFFER_SIZE} bytes",
                self.receive_buffer_size
            ));
        }
        if self.worker_threads == 0 {
            return bad("worker_threads must be at least 1".into());
        }
        if self.connect_timeout.is_zero() || self.disconnect_timeout.is_zero() {
            return bad("connect and disconnect timeouts must be longer than zero".into());
        }
        if self.netbt.name_query_attempts == 0 || self.netbt.name_query_timeout.is_zero() {
            return bad("name queries need at least one attempt and a timeout".into());
        }
        if self.netbt.keepalive_interval.is_some_and(|d| d.is_zero()) {
            return bad("a keepalive interval must be longer than zero".into());
        }
        if self.dead_peer_timeout.is_some_and(|d| d.is_zero()) {
            return bad("a dead-peer timeout must be longer than zero".into());
        }
        if self.blocked_callback.is_some_and(|d| d.is_zero()) {
            return bad("a blocked-callback threshold must be longer than zero".into());
        }
        if self.slow_callback.is_some_and(|d| d.is_zero()) {
            return bad("a slow-callback threshold must be longer than zero".into());
        }
        if self.max_message_size == 0 {
            return bad("max_message_size must be at least 1".into());
        }
        Ok(())
    }
}
