//! The soak's fault proxy: a loopback TCP listener in front of one peer
//! that does one [`Fault`] to every connection through it — latency, a
//! reset, a stall or a partition after a number of bytes. This kernel has
//! no netem, so faults on a link come from user space; each faulted
//! connection of the soak gets a proxy of its own (its extra VCs and
//! rebuilds go through it too), stopped when the connection goes.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::op::Fault;

/// A running proxy; dropping it closes its listener and every connection
/// through it.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    stop: CancellationToken,
}

/// One proxied connection's state, shared by its two directions.
struct Link {
    fault: Fault,
    forwarded: AtomicUsize,
    /// Set once: both sockets are reset.
    reset: CancellationToken,
    /// Nothing is written before this instant (a stall).
    stalled_until: Mutex<Option<Instant>>,
    /// The proxy's partition (shared by every link).
    partition: CancellationToken,
    stop: CancellationToken,
}

impl FaultProxy {
    /// A proxy on 127.0.0.1 (a free port) to `upstream`, its tasks
    /// tracked by `tasks` (so that the soak can wait for every socket to
    /// close).
    pub async fn start(upstream: SocketAddr, fault: Fault, tasks: &TaskTracker) -> io::Result<FaultProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let stop = CancellationToken::new();
        tasks.spawn(accept_loop(listener, upstream, fault, stop.clone(), tasks.clone()));
        Ok(FaultProxy { addr, stop })
    }

    /// Where connections through the proxy go.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn accept_loop(
    listener: TcpListener,
    upstream: SocketAddr,
    fault: Fault,
    stop: CancellationToken,
    tasks: TaskTracker,
) {
    let partition = CancellationToken::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            // Across a partition nobody listens: connects are refused.
            () = partition.cancelled() => return,
            () = stop.cancelled() => return,
        };
        let Ok((client, _)) = accepted else { continue };
        let (link_stop, partition, tasks2) = (stop.clone(), partition.clone(), tasks.clone());
        tasks.spawn(async move {
            let server = tokio::select! {
                server = TcpStream::connect(upstream) => server,
                () = link_stop.cancelled() => return,
            };
            let Ok(server) = server else { return };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let link = Arc::new(Link {
                fault,
                forwarded: AtomicUsize::new(0),
                reset: CancellationToken::new(),
                stalled_until: Mutex::new(None),
                partition,
                stop: link_stop,
            });
            let (client_read, client_write) = client.into_split();
            let (server_read, server_write) = server.into_split();
            tasks2.spawn(pump(client_read, server_write, link.clone()));
            tasks2.spawn(pump(server_read, client_write, link));
        });
    }
}

/// Resets both sockets of a link: zero linger on each, and the halves go
/// without the FIN a dropped write half would send first, so that each
/// socket's close is a reset.
fn abort(from: OwnedReadHalf, to: OwnedWriteHalf, link: &Link) {
    for stream in [from.as_ref(), to.as_ref()] {
        let _ = socket2::SockRef::from(stream).set_linger(Some(Duration::ZERO));
    }
    link.reset.cancel();
    to.forget();
}

/// What the fault makes of a chunk that brings the link's total to
/// `total`: false when the link is reset.
fn apply(link: &Link, total: usize) -> bool {
    match link.fault {
        Fault::Reset { after } if total > after => return false,
        Fault::Stall { after, pause } if total > after => {
            let mut until = link.stalled_until.lock().unwrap_or_else(|e| e.into_inner());
            // Once per link: from when the threshold is first crossed.
            if until.is_none() {
                *until = Some(Instant::now() + pause);
            }
        }
        Fault::Partition { after } if total > after => link.partition.cancel(),
        _ => {}
    }
    true
}

/// Forwards one direction of a link until its end, a reset or the stop.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, link: Arc<Link>) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let read = tokio::select! {
            read = from.read(&mut buf) => read,
            () = link.reset.cancelled() => return abort(from, to, &link),
            () = link.stop.cancelled() => return,
        };
        let n = match read {
            Ok(0) => {
                let _ = to.shutdown().await;
                return;
            }
            Ok(n) => n,
            // A reset on one side reaches the other as a reset.
            Err(_) => return abort(from, to, &link),
        };
        let total = link.forwarded.fetch_add(n, Ordering::Relaxed) + n;
        if !apply(&link, total) {
            return abort(from, to, &link);
        }
        let hold = match link.fault {
            Fault::Latency(delay) => Some(Instant::now() + delay),
            _ => *link.stalled_until.lock().unwrap_or_else(|e| e.into_inner()),
        };
        let partitioned = link.partition.is_cancelled();
        tokio::select! {
            () = async {
                if partitioned {
                    // Held, never delivered: the peers see a dead link.
                    std::future::pending::<()>().await;
                }
                if let Some(until) = hold {
                    tokio::time::sleep_until(until).await;
                }
            } => {}
            () = link.reset.cancelled() => return abort(from, to, &link),
            () = link.stop.cancelled() => return,
        }
        let written = tokio::select! {
            written = to.write_all(&buf[..n]) => written,
            () = link.reset.cancelled() => return abort(from, to, &link),
            () = link.stop.cancelled() => return,
        };
        if written.is_err() {
            return abort(from, to, &link);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn echo_server() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = stream.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        addr
    }

    #[tokio::test]
    async fn latency_delays_and_delivers_everything() {
        let tasks = TaskTracker::new();
        let proxy = FaultProxy::start(echo_server().await, Fault::Latency(Duration::from_millis(30)), &tasks)
            .await
            .unwrap();
        let mut client = TcpStream::connect(proxy.addr()).await.unwrap();
        let started = Instant::now();
        client.write_all(b"through").await.unwrap();
        let mut back = [0u8; 7];
        client.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"through");
        assert!(started.elapsed() >= Duration::from_millis(60), "30 ms each way");
        drop(proxy);
        tasks.close();
        tasks.wait().await;
    }

    #[tokio::test]
    async fn a_reset_after_some_bytes_resets_the_client() {
        let tasks = TaskTracker::new();
        let proxy = FaultProxy::start(echo_server().await, Fault::Reset { after: 8 }, &tasks)
            .await
            .unwrap();
        let mut client = TcpStream::connect(proxy.addr()).await.unwrap();
        client.write_all(b"1234").await.unwrap();
        let mut back = [0u8; 4];
        client.read_exact(&mut back).await.unwrap();
        // 4 out and 4 back make 8; the next byte crosses the line.
        client.write_all(b"5").await.unwrap();
        let mut rest = Vec::new();
        let err = client.read_to_end(&mut rest).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionReset);
    }

    #[tokio::test]
    async fn a_stall_holds_the_bytes_then_delivers_them() {
        let tasks = TaskTracker::new();
        let pause = Duration::from_millis(300);
        let proxy = FaultProxy::start(echo_server().await, Fault::Stall { after: 0, pause }, &tasks)
            .await
            .unwrap();
        let mut client = TcpStream::connect(proxy.addr()).await.unwrap();
        let started = Instant::now();
        client.write_all(b"held").await.unwrap();
        let mut back = [0u8; 4];
        client.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"held");
        assert!(started.elapsed() >= pause);
    }

    #[tokio::test]
    async fn a_partition_holds_everything_and_refuses_new_connects() {
        let tasks = TaskTracker::new();
        let proxy = FaultProxy::start(echo_server().await, Fault::Partition { after: 0 }, &tasks)
            .await
            .unwrap();
        let mut client = TcpStream::connect(proxy.addr()).await.unwrap();
        client.write_all(b"lost").await.unwrap();
        let mut back = [0u8; 4];
        let read = tokio::time::timeout(Duration::from_millis(300), client.read_exact(&mut back)).await;
        assert!(read.is_err(), "nothing crosses a partition");
        let refused = tokio::time::timeout(Duration::from_secs(2), async {
            loop {
                match TcpStream::connect(proxy.addr()).await {
                    Err(e) => return e.kind(),
                    Ok(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                }
            }
        })
        .await
        .unwrap();
        assert_eq!(refused, io::ErrorKind::ConnectionRefused);
        drop(proxy);
        tasks.close();
        tokio::time::timeout(Duration::from_secs(2), tasks.wait())
            .await
            .unwrap();
    }
}
