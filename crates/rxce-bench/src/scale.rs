//! scale: N idle connections held open at once (9,000 by default), the
//! peer in a child process (this program re-run as `rxce-bench
//! --scale-peer`: the open-file limit is 20,000 per process and a peer in
//! this one would double the descriptors). The child accepts on a thread of
//! its own with a deep backlog, so that neither side waits for the peer.
//!
//! * rxce: N `build_connection`s (64 in flight at a time) on one address,
//!   every VC idle with its receive pump waiting.
//! * raw tokio: N `TcpStream::connect`s held in a vector.
//!
//! Figures per round: the resident memory the connections added (the
//! process's VmRSS after building them all minus before, divided by N) and
//! the time to build them all. Between rounds everything is closed and the
//! allocator gives free memory back (`malloc_trim`), so each round starts
//! from the same footing; the two sides alternate which goes first.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rxce::{NoEvents, Status, Vc};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use super::harness::{compare, interleave, Better, Contest, Figures, Plan};
use super::link::Client;
use super::machine::{resident_bytes, trim_heap};
use super::report::Row;
use super::Ctx;
use crate::endpoint::Endpoint;

/// Connections being built at once.
const IN_FLIGHT: usize = 64;

/// The listen backlog of the child peer: connections the bench completes
/// faster than the child accepts wait there instead of being dropped.
const CHILD_BACKLOG: i32 = 4096;

/// The scale peer's child process (this program re-run as
/// `--scale-peer`), killed when dropped.
pub struct ChildPeer {
    child: Child,
    stdin: std::process::ChildStdin,
    /// Where it listens.
    pub endpoint: Endpoint,
}

impl ChildPeer {
    /// Starts `program --scale-peer` and reads the URL it prints.
    pub fn start(program: &PathBuf) -> Result<ChildPeer, Status> {
        let failed = |e: std::io::Error| Status::from_io(e, format!("starting the peer {}", program.display()));
        let mut child = Command::new(program)
            .arg("--scale-peer")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(failed)?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = child.stdout.take().expect("piped");
        let mut line = String::new();
        let read = BufReader::new(stdout).read_line(&mut line);
        let url = line.trim().strip_prefix("listening ").map(str::to_owned);
        let endpoint = match (read, url) {
            (Ok(_), Some(url)) => {
                Endpoint::parse(&url).map_err(|e| Status::INVALID_PARAMETER.with_message(e.to_string()))
            }
            _ => Err(Status::CONNECTION_REFUSED.with_message(format!("the peer did not start: {line:?}"))),
        };
        match endpoint {
            Ok(endpoint) => Ok(ChildPeer { child, stdin, endpoint }),
            Err(status) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(status)
            }
        }
    }

    /// Tells the child to close every connection it holds.
    pub fn close_all(&mut self) -> Result<(), Status> {
        use std::io::Write;
        self.stdin
            .write_all(b"close\n")
            .and_then(|()| self.stdin.flush())
            .map_err(|e| Status::from_io(e, "talking to the scale peer"))
    }
}

impl Drop for ChildPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The child's side (`rxce-bench --scale-peer`): listens on a loopback
/// port with a deep backlog, prints `listening tcp://127.0.0.1:PORT`,
/// accepts on a thread of its own and holds every connection (idle, as the
/// bench's are) until a `close` line on stdin; exits when stdin ends.
pub fn child_main() -> Result<(), Status> {
    use std::io::Write;
    let failed = |e: std::io::Error| Status::from_io(e, "the scale peer");
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).map_err(failed)?;
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], 0).into();
    socket.bind(&addr.into()).map_err(failed)?;
    socket.listen(CHILD_BACKLOG).map_err(failed)?;
    let listener: std::net::TcpListener = socket.into();
    let port = listener.local_addr().map_err(failed)?.port();
    let mut stdout = std::io::stdout();
    writeln!(stdout, "listening tcp://127.0.0.1:{port}")
        .and_then(|()| stdout.flush())
        .map_err(failed)?;
    let held: Arc<std::sync::Mutex<Vec<std::net::TcpStream>>> = Arc::default();
    let holder = held.clone();
    std::thread::Builder::new()
        .name("scale-peer-accept".into())
        .spawn(move || {
            for stream in listener.incoming().flatten() {
                holder.lock().unwrap_or_else(|e| e.into_inner()).push(stream);
            }
        })
        .map_err(failed)?;
    for line in std::io::stdin().lines() {
        match line {
            Ok(line) if line.trim() == "close" => held.lock().unwrap_or_else(|e| e.into_inner()).clear(),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    Ok(())
}

struct Hold {
    ctx_engine: rxce::Engine,
    peer: ChildPeer,
    n: usize,
}

impl Hold {
    async fn rxce(&mut self) -> Result<(usize, Duration), Status> {
        let client = Client::new(&self.ctx_engine, &self.peer.endpoint)?;
        let handler = Arc::new(NoEvents);
        let before = resident_bytes();
        let started = Instant::now();
        let mut vcs: Vec<Vc> = Vec::with_capacity(self.n);
        let mut building = JoinSet::new();
        let mut launched = 0;
        let mut failure = None;
        while vcs.len() + building.len() < self.n || !building.is_empty() {
            while launched < self.n && building.len() < IN_FLIGHT && failure.is_none() {
                let (address, remote, handler) = (client.address.clone(), client.remote.clone(), handler.clone());
                building.spawn(async move { address.build_connection(remote, handler).await });
                launched += 1;
            }
            match building.join_next().await {
                Some(Ok(Ok((_connection, vc)))) => vcs.push(vc),
                Some(Ok(Err(status))) => failure = Some(status),
                Some(Err(e)) => failure = Some(Status::CANCELLED.with_message(format!("a build task failed: {e}"))),
                None => break,
            }
        }
        let took = started.elapsed();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let grown = resident_bytes().saturating_sub(before);
        drop(vcs);
        client.close().await;
        self.peer.close_all()?;
        settle().await;
        match failure {
            Some(status) => Err(status),
            None => Ok((grown, took)),
        }
    }

    async fn raw(&mut self) -> Result<(usize, Duration), Status> {
        let addr = match self.peer.endpoint.target() {
            crate::endpoint::Target::Inet { host, port } => crate::serve::resolve_host(host, *port).await?,
            _ => return Err(Status::INVALID_PARAMETER.with_message("scale runs over tcp")),
        };
        let before = resident_bytes();
        let started = Instant::now();
        let mut streams: Vec<TcpStream> = Vec::with_capacity(self.n);
        let mut building = JoinSet::new();
        let mut launched = 0;
        let mut failure = None;
        while streams.len() + building.len() < self.n || !building.is_empty() {
            while launched < self.n && building.len() < IN_FLIGHT && failure.is_none() {
                building.spawn(async move {
                    let stream = TcpStream::connect(addr).await?;
                    stream.set_nodelay(true)?;
                    Ok::<_, std::io::Error>(stream)
                });
                launched += 1;
            }
            match building.join_next().await {
                Some(Ok(Ok(stream))) => streams.push(stream),
                Some(Ok(Err(e))) => failure = Some(Status::from_io(e, format!("connecting to {addr}"))),
                Some(Err(e)) => failure = Some(Status::CANCELLED.with_message(format!("a connect task failed: {e}"))),
                None => break,
            }
        }
        let took = started.elapsed();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let grown = resident_bytes().saturating_sub(before);
        drop(streams);
        self.peer.close_all()?;
        settle().await;
        match failure {
            Some(status) => Err(status),
            None => Ok((grown, took)),
        }
    }
}

/// Lets closed connections go and gives free heap back to the system.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(100)).await;
    trim_heap();
}

impl Contest for Hold {
    async fn run(&mut self, contender: usize, _slice: Duration) -> Result<Figures, Status> {
        trim_heap();
        let (grown, took) = if contender == 0 {
            self.rxce().await?
        } else {
            self.raw().await?
        };
        Ok(Figures::of(vec![grown as f64 / self.n as f64, took.as_secs_f64()]))
    }
}

pub(crate) async fn run(ctx: &Ctx<'_>) -> Result<Vec<Row>, Status> {
    let n = ctx.options.connections;
    let program = match &ctx.options.peer_program {
        Some(p) => p.clone(),
        None => std::env::current_exe().map_err(|e| Status::from_io(e, "finding the rxce-bench binary"))?,
    };
    let mut contest = Hold {
        ctx_engine: ctx.engine.clone(),
        peer: ChildPeer::start(&program)?,
        n,
    };
    let plan = Plan {
        slice: Duration::ZERO,
        warmup: 0,
        min_rounds: 2,
        max_rounds: 2,
        budget: Duration::ZERO,
    };
    let label = format!("scale {n} tcp {}", ctx.flavour.name());
    let recorded = interleave(&plan, 2, ctx.progress, &label, &mut contest).await?;
    drop(contest);
    let what = format!("{n} idle connections");
    Ok(vec![
        Row::new(
            "scale",
            &format!("{what}, resident memory per connection"),
            "tcp",
            ctx.flavour,
            "B",
            "raw tokio TcpStream held",
            compare(&recorded.series(0, 0), &recorded.series(1, 0), Better::Lower),
        ),
        Row::new(
            "scale",
            &format!("{what}, time to build all"),
            "tcp",
            ctx.flavour,
            "s",
            "raw tokio connects",
            compare(&recorded.series(0, 1), &recorded.series(1, 1), Better::Lower),
        ),
    ])
}
