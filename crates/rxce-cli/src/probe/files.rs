//! `rxce probe nfs HOST` and `rxce probe 9p HOST[:PORT]`: how an ONC RPC
//! (NFS) server and a 9P server answer, through the engine's `tcp+rpc`,
//! `udp` and `tcp+9p` transports, with the SMB probe's table and JSON
//! conventions.
//!
//! NFS: rpcbind (port 111 by default) is asked over `tcp+rpc` for its
//! registrations (PMAP version 2 DUMP); then the NULL procedure is called
//! on every registered version of NFS, mountd and the lock manager, over
//! the protocol and port each is registered with (`tcp+rpc` or `udp`),
//! each with its round-trip time and the reply's accept state by name.
//!
//! 9P: Tversion offering 9P2000.L, then 9P2000.u, then 9P2000 when the
//! server answers "unknown"; the version and msize it chose; with an
//! attach name, Tattach and the root's qid.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rxce::wire::ninep::{self, msg};
use rxce::wire::oncrpc::{self, Call, Mapping, ReplyBody};
use rxce::{
    Address, AddressEventHandler, ConnectionInformation, DatagramIndication, Delivery, Engine, EngineConfig, Inbox,
    ReceiveAnswer, SendOptions, Status, TransportAddress,
};
use serde::Serialize;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::table;

/// Milliseconds with microsecond precision.
fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

/// The unspecified local address of `to`'s family, port 0.
fn any_for(to: SocketAddr) -> TransportAddress {
    match to {
        SocketAddr::V4(_) => TransportAddress::any_ipv4(),
        SocketAddr::V6(_) => TransportAddress::ip(SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, 0))),
    }
}

fn timed_out(what: &str, timeout: Duration) -> Status {
    Status::IO_TIMEOUT.with_message(format!("no answer to {what} within {}", table::millis(timeout)))
}

/// A connected message VC with its inbox.
struct Line {
    transport: rxce::Transport,
    vc: rxce::Vc,
    inbox: Inbox,
    timeout: Duration,
}

impl Line {
    async fn open(engine: &Engine, provider: &str, to: SocketAddr, timeout: Duration) -> Result<Line, Status> {
        let transport = engine.build_transport(provider, 0)?;
        let address = transport.build_address(any_for(to), Arc::new(rxce::NoEvents))?;
        let (handler, inbox) = Inbox::new(1 << 24);
        let built = tokio::time::timeout(
            timeout,
            address.build_connection(ConnectionInformation::to(to), handler),
        )
        .await;
        let vc = match built {
            Ok(Ok((_connection, vc))) => vc,
            Ok(Err(status)) => {
                let _ = transport.tear_down().await;
                return Err(status);
            }
            Err(_) => {
                let _ = transport.tear_down().await;
                return Err(timed_out(&format!("a connection to {to}"), timeout));
            }
        };
        Ok(Line {
            transport,
            vc,
            inbox,
            timeout,
        })
    }

    /// Sends `message` and returns the next message that comes back.
    async fn exchange(&mut self, message: Vec<u8>, what: &str) -> Result<Vec<u8>, Status> {
        self.vc.send(message, SendOptions::empty()).await?;
        match tokio::time::timeout(self.timeout, self.inbox.recv()).await {
            Ok(Some(Delivery::Data { bytes, .. })) => Ok(bytes.to_vec()),
            Ok(Some(Delivery::Disconnected { status, .. })) => Err(status),
            Ok(None) => Err(Status::CONNECTION_DISCONNECTED.with_message("the connection is gone")),
            Err(_) => Err(timed_out(what, self.timeout)),
        }
    }

    async fn close(self) {
        let _ = self.transport.tear_down().await;
    }
}

/// What to probe on an NFS server.
#[derive(Debug, Clone)]
pub struct NfsOptions {
    /// The server's address (rpcbind's port).
    pub rpcbind: SocketAddr,
    /// The longest each connection and each call may take.
    pub timeout: Duration,
}

/// One NULL call to a registered program.
#[derive(Debug, Clone, Serialize)]
pub struct ProgramPing {
    /// Program number.
    pub program: u32,
    /// Its name (`nfs`, `mountd`, `nlockmgr`, ...).
    pub name: String,
    /// Version.
    pub version: u32,
    /// `tcp` or `udp`.
    pub transport: &'static str,
    /// Port.
    pub port: u32,
    /// The call's status by name (STATUS_SUCCESS when a reply came).
    pub status: &'static str,
    /// Why it failed, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Round trip, when a reply came.
    pub rtt_ms: Option<f64>,
    /// The reply's accept or reject state (`SUCCESS`, `PROG_UNAVAIL`, ...).
    pub reply: Option<String>,
}

/// An NFS probe's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct NfsProbe {
    /// rpcbind's address.
    pub rpcbind: String,
    /// The DUMP's status by name.
    pub rpcbind_status: &'static str,
    /// Why the DUMP failed, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rpcbind_detail: Option<String>,
    /// The DUMP's round trip (connect excluded).
    pub rpcbind_rtt_ms: Option<f64>,
    /// Every registration rpcbind reported.
    pub registrations: usize,
    /// The NULL calls, by program, version, transport.
    pub programs: Vec<ProgramPing>,
}

impl NfsProbe {
    /// True when rpcbind answered and some NFS version answered its NULL.
    pub fn found_nfs(&self) -> bool {
        self.programs
            .iter()
            .any(|p| p.program == oncrpc::NFS_PROG && p.reply.as_deref() == Some("SUCCESS"))
    }
}

fn detail(status: &Status) -> Option<String> {
    (!status.is_success()).then(|| status.message().unwrap_or(status.text()).to_owned())
}

/// Probes an NFS server.
pub async fn probe_nfs(options: &NfsOptions) -> Result<NfsProbe, Status> {
    let engine = Engine::with_runtime(tokio::runtime::Handle::current(), EngineConfig::default())?;
    let mut out = NfsProbe {
        rpcbind: options.rpcbind.to_string(),
        rpcbind_status: Status::SUCCESS.name(),
        rpcbind_detail: None,
        rpcbind_rtt_ms: None,
        registrations: 0,
        programs: Vec::new(),
    };
    let dump = async {
        let mut line = Line::open(&engine, "tcp+rpc", options.rpcbind, options.timeout).await?;
        let started = Instant::now();
        let call = Call {
            xid: 1,
            prog: oncrpc::PMAP_PROG,
            vers: oncrpc::PMAP_VERS,
            proc_: oncrpc::PMAPPROC_DUMP,
        };
        let reply = line.exchange(call.encode(&[]), "rpcbind's DUMP").await;
        line.close().await;
        let message = reply?;
        let rtt = started.elapsed();
        let parsed = oncrpc::parse_reply(&message).map_err(protocol)?;
        match parsed.body {
            ReplyBody::Success { results } => Ok((oncrpc::parse_dump(&message[results..]).map_err(protocol)?, rtt)),
            other => {
                Err(Status::REQUEST_NOT_ACCEPTED.with_message(format!("rpcbind answered DUMP with {}", other.name())))
            }
        }
    }
    .await;
    let mappings = match dump {
        Ok((mappings, rtt)) => {
            out.rpcbind_rtt_ms = Some(ms(rtt));
            mappings
        }
        Err(status) => {
            out.rpcbind_status = status.name();
            out.rpcbind_detail = detail(&status);
            engine.shutdown().await;
            return Ok(out);
        }
    };
    out.registrations = mappings.len();
    let mut wanted: Vec<Mapping> = mappings
        .into_iter()
        .filter(|m| matches!(m.prog, oncrpc::NFS_PROG | oncrpc::MOUNT_PROG | oncrpc::NLM_PROG))
        .collect();
    wanted.sort();
    wanted.dedup();
    for (i, m) in wanted.iter().enumerate() {
        let xid = 100 + i as u32;
        let call = Call {
            xid,
            prog: m.prog,
            vers: m.vers,
            proc_: oncrpc::NULL_PROC,
        };
        let to = SocketAddr::new(options.rpcbind.ip(), m.port as u16);
        let started = Instant::now();
        let answered = if m.prot == oncrpc::IPPROTO_UDP {
            null_over_udp(&engine, to, call, options.timeout).await
        } else {
            match Line::open(&engine, "tcp+rpc", to, options.timeout).await {
                Ok(mut line) => {
                    let started = Instant::now();
                    let reply = line.exchange(call.encode(&[]), "the NULL call").await;
                    line.close().await;
                    reply.map(|r| (r, started.elapsed()))
                }
                Err(status) => Err(status),
            }
        };
        let _ = started;
        let (status, rtt, reply) = match answered {
            Ok((message, rtt)) => match oncrpc::parse_reply(&message) {
                Ok(reply) if reply.xid == xid => (Status::SUCCESS, Some(ms(rtt)), Some(reply.body.name())),
                Ok(_) => (protocol("a reply to another call"), Some(ms(rtt)), None),
                Err(e) => (protocol(e), Some(ms(rtt)), None),
            },
            Err(status) => (status, None, None),
        };
        out.programs.push(ProgramPing {
            program: m.prog,
            name: oncrpc::program_name(m.prog).unwrap_or("?").to_owned(),
            version: m.vers,
            transport: if m.prot == oncrpc::IPPROTO_UDP { "udp" } else { "tcp" },
            port: m.port,
            status: status.name(),
            detail: detail(&status),
            rtt_ms: rtt,
            reply,
        });
    }
    engine.shutdown().await;
    Ok(out)
}

fn protocol(e: impl std::fmt::Display) -> Status {
    Status::INVALID_NETWORK_RESPONSE.with_message(e.to_string())
}

/// A udp address's datagrams, to a channel.
struct Datagrams(mpsc::UnboundedSender<Vec<u8>>);

impl AddressEventHandler for Datagrams {
    fn receive_datagram(&self, _address: &Address, indication: &DatagramIndication<'_>) -> ReceiveAnswer {
        let _ = self.0.send(indication.indication.data.to_vec());
        ReceiveAnswer::take_all(&indication.indication)
    }
}

async fn null_over_udp(
    engine: &Engine,
    to: SocketAddr,
    call: Call,
    timeout: Duration,
) -> Result<(Vec<u8>, Duration), Status> {
    let transport = engine.build_transport("udp", 0)?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let result = async {
        let address = transport.build_address(any_for(to), Arc::new(Datagrams(tx)))?;
        let started = Instant::now();
        address
            .send_datagram(&ConnectionInformation::to(to), call.encode(&[]), SendOptions::empty())
            .await?;
        let deadline = started + timeout;
        loop {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(message)) if message.get(..4) == Some(&call.xid.to_be_bytes()[..]) => {
                    return Ok((message, started.elapsed()))
                }
                Ok(Some(_)) => continue,
                Ok(None) => return Err(Status::CONNECTION_DISCONNECTED.with_message("the address is gone")),
                Err(_) => return Err(timed_out("the NULL call", timeout)),
            }
        }
    }
    .await;
    let _ = transport.tear_down().await;
    result
}

/// The NFS probe as a table: rpcbind's line, then a row per call.
pub fn render_nfs(probe: &NfsProbe) -> String {
    let mut out = format!(
        "rpcbind {}: {}{}{}\n",
        probe.rpcbind,
        probe.rpcbind_status,
        probe
            .rpcbind_detail
            .as_ref()
            .map(|d| format!(" ({d})"))
            .unwrap_or_default(),
        probe
            .rpcbind_rtt_ms
            .map(|t| format!(", {} registrations, DUMP {t:.3} ms", probe.registrations))
            .unwrap_or_default()
    );
    if probe.programs.is_empty() {
        if probe.rpcbind_status == Status::SUCCESS.name() {
            out.push_str("no NFS, mountd or lock manager is registered (\"program not registered\")");
        }
        return out.trim_end().to_owned();
    }
    let mut t = table::table(
        &["program", "version", "transport", "port", "status", "NULL", "reply"],
        &["version", "port", "NULL"],
    );
    for p in &probe.programs {
        t.add_row(vec![
            format!("{} ({})", p.name, p.program),
            p.version.to_string(),
            p.transport.to_owned(),
            p.port.to_string(),
            match &p.detail {
                Some(d) => format!("{} ({d})", p.status),
                None => p.status.to_owned(),
            },
            p.rtt_ms.map(|t| format!("{t:.3} ms")).unwrap_or_default(),
            p.reply.clone().unwrap_or_default(),
        ]);
    }
    out.push_str(&t.to_string());
    out
}

/// The NFS probe as one line of JSON.
pub fn json_nfs(probe: &NfsProbe) -> String {
    serde_json::to_string(probe).unwrap_or_default()
}

/// What to probe on a 9P server.
#[derive(Debug, Clone)]
pub struct NinePOptions {
    /// The server.
    pub server: SocketAddr,
    /// The msize to offer.
    pub msize: u32,
    /// Attach to this tree (`aname`) after the version.
    pub attach: Option<String>,
    /// The user name for Tattach.
    pub uname: String,
    /// The longest the connection and each exchange may take.
    pub timeout: Duration,
}

/// One Tversion offer.
#[derive(Debug, Clone, Serialize)]
pub struct VersionOffer {
    /// The version offered.
    pub offered: &'static str,
    /// What the server answered (`unknown` when it refused it).
    pub answered: String,
    /// The msize it answered.
    pub msize: u32,
    /// The round trip.
    pub rtt_ms: f64,
}

/// A 9P probe's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct NinePProbe {
    /// The server.
    pub server: String,
    /// The status by name (SUCCESS when a version was agreed).
    pub status: &'static str,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Connect time.
    pub connect_ms: Option<f64>,
    /// The offers made, in order.
    pub offers: Vec<VersionOffer>,
    /// The version agreed on.
    pub version: Option<String>,
    /// Its msize.
    pub msize: Option<u32>,
    /// The attach name, when asked.
    pub attach: Option<String>,
    /// The attach's outcome (`SUCCESS`, or the server's error).
    pub attach_result: Option<String>,
    /// The root's qid: type, version, path.
    pub root_qid: Option<(u8, u32, u64)>,
}

/// The versions offered, best first.
const VERSIONS: [&str; 3] = ["9P2000.L", "9P2000.u", "9P2000"];

/// Probes a 9P server.
pub async fn probe_9p(options: &NinePOptions) -> Result<NinePProbe, Status> {
    let engine = Engine::with_runtime(
        tokio::runtime::Handle::current(),
        EngineConfig {
            max_message_size: options.msize.saturating_sub(4).max(64) as usize,
            ..EngineConfig::default()
        },
    )?;
    let mut out = NinePProbe {
        server: options.server.to_string(),
        status: Status::SUCCESS.name(),
        detail: None,
        connect_ms: None,
        offers: Vec::new(),
        version: None,
        msize: None,
        attach: options.attach.clone(),
        attach_result: None,
        root_qid: None,
    };
    let result = async {
        let started = Instant::now();
        let mut line = Line::open(&engine, "tcp+9p", options.server, options.timeout).await?;
        out.connect_ms = Some(ms(started.elapsed()));
        let outcome = async {
            for offered in VERSIONS {
                let started = Instant::now();
                let reply = line
                    .exchange(ninep::tversion(options.msize, offered), "Tversion")
                    .await?;
                let rtt = started.elapsed();
                let (mut r, _) = match ninep::expect_reply(&reply, msg::RVERSION).map_err(protocol)? {
                    Ok(ok) => ok,
                    Err(error) => return Err(Status::REQUEST_NOT_ACCEPTED.with_message(format!("Tversion: {error}"))),
                };
                let msize = r.u32().map_err(protocol)?;
                let answered = r.str().map_err(protocol)?;
                out.offers.push(VersionOffer {
                    offered,
                    answered: answered.clone(),
                    msize,
                    rtt_ms: ms(rtt),
                });
                if answered != "unknown" {
                    out.version = Some(answered);
                    out.msize = Some(msize);
                    break;
                }
            }
            let Some(version) = out.version.clone() else {
                return Err(Status::NOT_SUPPORTED.with_message("the server knows none of 9P2000.L, 9P2000.u, 9P2000"));
            };
            if let Some(aname) = &options.attach {
                let request = if version == "9P2000" {
                    ninep::Builder::new(msg::TATTACH, 1)
                        .u32(0)
                        .u32(ninep::NOFID)
                        .str(&options.uname)
                        .str(aname)
                        .finish()
                } else {
                    ninep::tattach(1, 0, &options.uname, aname, 0)
                };
                let reply = line.exchange(request, "Tattach").await?;
                match ninep::expect_reply(&reply, msg::RATTACH).map_err(protocol)? {
                    Ok((mut r, _)) => {
                        let qid = r.qid().map_err(protocol)?;
                        out.attach_result = Some("SUCCESS".into());
                        out.root_qid = Some((qid.kind, qid.version, qid.path));
                    }
                    Err(error) => out.attach_result = Some(error.to_string()),
                }
            }
            Ok(())
        }
        .await;
        line.close().await;
        outcome
    }
    .await;
    if let Err(status) = result {
        out.status = status.name();
        out.detail = detail(&status);
    }
    engine.shutdown().await;
    Ok(out)
}

/// The 9P probe as a table of fields.
pub fn render_9p(probe: &NinePProbe) -> String {
    let mut t = table::table(&["field", "value"], &[]);
    t.add_row(vec!["server".to_owned(), probe.server.clone()]);
    t.add_row(vec![
        "status".to_owned(),
        match &probe.detail {
            Some(d) => format!("{} ({d})", probe.status),
            None => probe.status.to_owned(),
        },
    ]);
    if let Some(c) = probe.connect_ms {
        t.add_row(vec!["connect".to_owned(), format!("{c:.3} ms")]);
    }
    for o in &probe.offers {
        t.add_row(vec![
            format!("Tversion {}", o.offered),
            format!("{} msize {} ({:.3} ms)", o.answered, o.msize, o.rtt_ms),
        ]);
    }
    if let (Some(v), Some(m)) = (&probe.version, probe.msize) {
        t.add_row(vec!["version".to_owned(), v.clone()]);
        t.add_row(vec!["msize".to_owned(), m.to_string()]);
    }
    if let Some(a) = &probe.attach {
        t.add_row(vec!["attach".to_owned(), a.clone()]);
        t.add_row(vec![
            "attach result".to_owned(),
            probe.attach_result.clone().unwrap_or_default(),
        ]);
        if let Some((kind, version, path)) = probe.root_qid {
            t.add_row(vec![
                "root qid".to_owned(),
                format!("type {kind:#04x} version {version} path {path:#x}"),
            ]);
        }
    }
    t.to_string()
}

/// The 9P probe as one line of JSON.
pub fn json_9p(probe: &NinePProbe) -> String {
    serde_json::to_string(probe).unwrap_or_default()
}
