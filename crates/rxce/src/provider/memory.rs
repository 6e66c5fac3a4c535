//! The `memory` provider: in-process byte pipes with the same readiness,
//! back-pressure, orderly-close and reset behaviour as a socket, for tests and
//! embedding. No descriptors are used.

use std::collections::{HashMap, VecDeque};
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::mpsc;

use super::{BoxFuture, ConnectRequest, Connected, Provider, ProviderContext, Stream};
use crate::status::Status;
use crate::tdi::{ProviderInfo, TransportAddress};

/// Bytes one direction of a memory pipe holds before writers wait.
const PIPE_CAPACITY: usize = 256 * 1024;
/// Connections a memory listener queues before connects are refused.
const BACKLOG: usize = 1024;

#[derive(Default)]
struct PipeState {
    bytes: VecDeque<u8>,
    /// The writer ended its direction: the reader sees the end once drained.
    write_closed: bool,
    /// The reader is gone: writes fail.
    read_closed: bool,
    /// An abortive close: both sides see a reset.
    reset: bool,
    readers: Vec<Waker>,
    writers: Vec<Waker>,
}

/// One direction of a connection.
#[derive(Default)]
struct Pipe {
    state: Mutex<PipeState>,
}

fn register(wakers: &mut Vec<Waker>, waker: &Waker) {
    if !wakers.iter().any(|w| w.will_wake(waker)) {
        wakers.push(waker.clone());
    }
}

fn wake_all(wakers: &mut Vec<Waker>) {
    for waker in wakers.drain(..) {
        waker.wake();
    }
}

impl Pipe {
    fn lock(&self) -> MutexGuard<'_, PipeState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One end of an in-process connection of the `memory` transport.
///
/// It is a [`Stream`] for the engine and an `AsyncRead + AsyncWrite` for peers
/// written with tokio's I/O traits. Dropping it closes both directions in an
/// orderly way.
pub struct MemoryStream {
    rx: Arc<Pipe>,
    tx: Arc<Pipe>,
    peer: String,
}

impl std::fmt::Debug for MemoryStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStream").field("peer", &self.peer).finish()
    }
}

impl MemoryStream {
    /// A connected pair: what one end writes, the other reads.
    pub fn pair(a_name: &str, b_name: &str) -> (MemoryStream, MemoryStream) {
        let ab = Arc::new(Pipe::default());
        let ba = Arc::new(Pipe::default());
        (
            MemoryStream {
                rx: ba.clone(),
                tx: ab.clone(),
                peer: b_name.to_owned(),
            },
            MemoryStream {
                rx: ab,
                tx: ba,
                peer: a_name.to_owned(),
            },
        )
    }

    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut st = self.rx.lock();
        if !st.bytes.is_empty() || st.write_closed || st.read_closed || st.reset {
            return Poll::Ready(Ok(()));
        }
        register(&mut st.readers, cx.waker());
        Poll::Pending
    }

    fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut st = self.tx.lock();
        if st.bytes.len() < PIPE_CAPACITY || st.write_closed || st.read_closed || st.reset {
            return Poll::Ready(Ok(()));
        }
        register(&mut st.writers, cx.waker());
        Poll::Pending
    }

    fn read_now(&self, buf: &mut [u8]) -> io::Result<usize> {
        let mut st = self.rx.lock();
        if st.reset {
            return Err(io::ErrorKind::ConnectionReset.into());
        }
        if st.bytes.is_empty() {
            if st.write_closed || st.read_closed {
                return Ok(0);
            }
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = buf.len().min(st.bytes.len());
        let (front, back) = st.bytes.as_slices();
        let from_front = n.min(front.len());
        buf[..from_front].copy_from_slice(&front[..from_front]);
        buf[from_front..n].copy_from_slice(&back[..n - from_front]);
        st.bytes.drain(..n);
        wake_all(&mut st.writers);
        Ok(n)
    }

    fn write_now(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let mut st = self.tx.lock();
        if st.reset {
            return Err(io::ErrorKind::ConnectionReset.into());
        }
        if st.write_closed || st.read_closed {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        let room = PIPE_CAPACITY.saturating_sub(st.bytes.len());
        if room == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let mut written = 0;
        for buf in bufs {
            let take = buf.len().min(room - written);
            st.bytes.extend(&buf[..take]);
            written += take;
            if written == room {
                break;
            }
        }
        if written > 0 {
            wake_all(&mut st.readers);
        }
        Ok(written)
    }

    fn end_write(&self) {
        let mut st = self.tx.lock();
        st.write_closed = true;
        wake_all(&mut st.readers);
        wake_all(&mut st.writers);
    }

    fn end_read(&self) {
        let mut st = self.rx.lock();
        st.read_closed = true;
        wake_all(&mut st.readers);
        wake_all(&mut st.writers);
    }

    fn reset(&self) {
        for pipe in [&self.rx, &self.tx] {
            let mut st = pipe.lock();
            st.reset = true;
            st.bytes.clear();
            wake_all(&mut st.readers);
            wake_all(&mut st.writers);
        }
    }
}

impl Drop for MemoryStream {
    fn drop(&mut self) {
        self.end_write();
        self.end_read();
    }
}

impl Stream for MemoryStream {
    fn readable(&self) -> BoxFuture<'_, io::Result<()>> {
        Box::pin(std::future::poll_fn(move |cx| self.poll_read_ready(cx)))
    }

    fn poll_readable(&self, cx: &mut std::task::Context<'_>) -> Option<std::task::Poll<io::Result<()>>> {
        Some(self.poll_read_ready(cx))
    }

    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_now(buf)
    }

    fn writable(&self) -> BoxFuture<'_, io::Result<()>> {
        Box::pin(std::future::poll_fn(move |cx| self.poll_write_ready(cx)))
    }

    fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.write_now(bufs)
    }

    fn shutdown_write(&self) -> io::Result<()> {
        self.end_write();
        Ok(())
    }

    fn close(&self, abortive: bool) {
        if abortive {
            self.reset();
        } else {
            self.end_write();
            self.end_read();
        }
    }

    fn peer_address(&self) -> TransportAddress {
        TransportAddress::memory(self.peer.clone())
    }
}

impl AsyncRead for MemoryStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        loop {
            match self.read_now(buf.initialize_unfilled()) {
                Ok(n) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    std::task::ready!(self.poll_read_ready(cx))?;
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for MemoryStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        loop {
            match self.write_now(bufs) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    std::task::ready!(self.poll_write_ready(cx))?;
                }
                other => return Poll::Ready(other),
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.end_write();
        Poll::Ready(Ok(()))
    }
}

/// The names memory listeners own within one engine.
#[derive(Default)]
pub(crate) struct MemoryNetwork {
    listeners: Mutex<HashMap<String, mpsc::Sender<MemoryStream>>>,
}

impl MemoryNetwork {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, mpsc::Sender<MemoryStream>>> {
        self.listeners.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn listen(self: &Arc<Self>, name: &str) -> Result<MemoryListener, Status> {
        if name.is_empty() {
            return Err(Status::INVALID_PARAMETER.with_message("a memory listener needs a name"));
        }
        let mut listeners = self.lock();
        if listeners.get(name).is_some_and(|tx| !tx.is_closed()) {
            return Err(Status::INVALID_PARAMETER.with_message(format!("memory:{name} is already listening")));
        }
        let (tx, rx) = mpsc::channel(BACKLOG);
        listeners.insert(name.to_owned(), tx);
        Ok(MemoryListener {
            name: name.to_owned(),
            incoming: rx,
            network: self.clone(),
        })
    }

    fn connect(&self, from: &str, to: &str) -> Result<MemoryStream, Status> {
        let listeners = self.lock();
        let refused = || Status::CONNECTION_REFUSED.with_message(format!("nothing listens on memory:{to}"));
        let tx = listeners.get(to).ok_or_else(refused)?;
        let (client, server) = MemoryStream::pair(from, to);
        tx.try_send(server).map_err(|_| refused())?;
        Ok(client)
    }
}

/// A named listening endpoint of the `memory` transport (a test or embedded
/// peer). Connections built to `memory:NAME` arrive through
/// [`accept`](MemoryListener::accept). Dropping it frees the name.
pub struct MemoryListener {
    name: String,
    incoming: mpsc::Receiver<MemoryStream>,
    network: Arc<MemoryNetwork>,
}

impl std::fmt::Debug for MemoryListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryListener").field("name", &self.name).finish()
    }
}

impl MemoryListener {
    /// The next connection built to this listener's name.
    pub async fn accept(&mut self) -> Option<MemoryStream> {
        self.incoming.recv().await
    }

    /// The name connections address (`memory:NAME`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The transport address of this listener.
    pub fn address(&self) -> TransportAddress {
        TransportAddress::memory(self.name.clone())
    }
}

impl Drop for MemoryListener {
    fn drop(&mut self) {
        // Once our receiver is closed its sender reports closed, which tells
        // our entry apart from a newer listener's of the same name.
        self.incoming.close();
        let mut listeners = self.network.lock();
        if listeners.get(&self.name).is_some_and(|tx| tx.is_closed()) {
            listeners.remove(&self.name);
        }
    }
}

/// In-process connections between named endpoints of one engine.
pub(crate) struct MemoryProvider {
    network: Arc<MemoryNetwork>,
}

impl MemoryProvider {
    pub(crate) fn new(cx: &ProviderContext) -> MemoryProvider {
        MemoryProvider {
            network: cx.memory.clone(),
        }
    }
}

impl Provider for MemoryProvider {
    fn provider_info(&self) -> ProviderInfo {
        ProviderInfo::connection_mode(None)
    }

    fn check_local_address(&self, local: &TransportAddress) -> Result<(), Status> {
        match local.memory_entry() {
            Some(_) => Ok(()),
            None => {
                Err(Status::INVALID_PARAMETER.with_message(format!("the local address {local} has no memory entry")))
            }
        }
    }

    fn connect<'a>(&'a self, request: ConnectRequest<'a>) -> BoxFuture<'a, Result<Connected, Status>> {
        Box::pin(async move {
            let from = request.local.memory_entry().unwrap_or_default();
            let to = request.remote.remote_address.memory_entry().ok_or_else(|| {
                Status::INVALID_PARAMETER.with_message(format!(
                    "the remote address {} has no memory entry",
                    request.remote.remote_address
                ))
            })?;
            let stream = self.network.connect(from, to)?;
            Ok(Connected {
                stream: Arc::new(stream),
                framing: None,
                keepalive: None,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn bytes_flow_both_ways_and_end_in_order() {
        let (mut a, mut b) = MemoryStream::pair("a", "b");
        a.write_all(b"hello").await.unwrap();
        a.shutdown().await.unwrap();
        let mut got = Vec::new();
        b.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"hello");
        b.write_all(b"back").await.unwrap();
        let mut four = [0; 4];
        a.read_exact(&mut four).await.unwrap();
        assert_eq!(&four, b"back");
    }

    #[tokio::test]
    async fn a_full_pipe_blocks_writers_until_read() {
        let (a, b) = MemoryStream::pair("a", "b");
        let chunk = vec![7u8; 64 * 1024];
        let mut total = 0;
        loop {
            match a.try_write_vectored(&[IoSlice::new(&chunk)]) {
                Ok(n) => total += n,
                Err(e) => {
                    assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
                    break;
                }
            }
        }
        assert_eq!(total, PIPE_CAPACITY);
        let mut buf = vec![0; 1000];
        assert_eq!(b.try_read(&mut buf).unwrap(), 1000);
        a.writable().await.unwrap();
        assert_eq!(a.try_write_vectored(&[IoSlice::new(&chunk)]).unwrap(), 1000);
    }

    #[tokio::test]
    async fn reset_fails_both_sides_and_drop_is_an_orderly_end() {
        let (a, b) = MemoryStream::pair("a", "b");
        a.close(true);
        assert_eq!(
            b.try_read(&mut [0; 4]).unwrap_err().kind(),
            io::ErrorKind::ConnectionReset
        );
        assert_eq!(
            b.try_write_vectored(&[IoSlice::new(b"x")]).unwrap_err().kind(),
            io::ErrorKind::ConnectionReset
        );
        let (c, d) = MemoryStream::pair("c", "d");
        drop(c);
        d.readable().await.unwrap();
        assert_eq!(d.try_read(&mut [0; 4]).unwrap(), 0);
        assert_eq!(
            d.try_write_vectored(&[IoSlice::new(b"x")]).unwrap_err().kind(),
            io::ErrorKind::BrokenPipe
        );
    }

    #[tokio::test]
    async fn listeners_own_names_until_dropped() {
        let network = Arc::new(MemoryNetwork::default());
        let mut listener = network.listen("srv").unwrap();
        assert_eq!(network.listen("srv").unwrap_err(), Status::INVALID_PARAMETER);
        let client = network.connect("cli", "srv").unwrap();
        let server = listener.accept().await.unwrap();
        assert_eq!(client.peer_address(), TransportAddress::memory("srv"));
        assert_eq!(server.peer_address(), TransportAddress::memory("cli"));
        drop(listener);
        assert_eq!(network.connect("cli", "srv").unwrap_err(), Status::CONNECTION_REFUSED);
        assert!(network.listen("srv").is_ok());
    }
}
