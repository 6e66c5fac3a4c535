//! One QUIC connection's bidirectional stream as a readiness-based
//! [`Stream`]: quinn's poll-based reads and writes behind `try_*` calls.
//!
//! quinn keeps one waker per stream and direction; the VC's task and its
//! senders on other threads may wait at once, so every poll hands quinn
//! the same waker of a [`Signal`], which wakes whoever waits on it: the one
//! reader (a stored permit, so a wake between a `WouldBlock` and the wait
//! is kept) or every writer.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use quinn::{ConnectionError, ReadError, VarInt, WriteError};
use tokio::sync::Notify;

use crate::provider::{BoxFuture, Stream, StreamInfo};
use crate::tdi::TransportAddress;

/// The application error code of an abortive close or a stream reset.
pub const ABORT_CODE: u32 = 1;

/// A waker that wakes the waiters of a [`Notify`].
struct Signal {
    notify: Notify,
    /// Every waiter (writers), or the one with a stored permit (the reader).
    all: bool,
}

impl Wake for Signal {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.all {
            self.notify.notify_waiters();
        } else {
            self.notify.notify_one();
        }
    }
}

/// A VC's QUIC stream (and the connection it alone uses).
pub(crate) struct QuicStream {
    connection: quinn::Connection,
    recv: Mutex<quinn::RecvStream>,
    send: Mutex<quinn::SendStream>,
    read_signal: Arc<Signal>,
    read_waker: Waker,
    write_signal: Arc<Signal>,
    write_waker: Waker,
    /// quinn holds our read waker: the next wake is worth waiting for.
    read_armed: AtomicBool,
    closed: AtomicBool,
    peer: TransportAddress,
    /// How long an orderly close waits for the peer to acknowledge our data
    /// before closing the connection.
    linger: Duration,
    runtime: tokio::runtime::Handle,
}

impl QuicStream {
    pub(crate) fn new(
        connection: quinn::Connection,
        send: quinn::SendStream,
        recv: quinn::RecvStream,
        peer: TransportAddress,
        linger: Duration,
    ) -> QuicStream {
        let read_signal = Arc::new(Signal {
            notify: Notify::new(),
            all: false,
        });
        let write_signal = Arc::new(Signal {
            notify: Notify::new(),
            all: true,
        });
        QuicStream {
            connection,
            recv: Mutex::new(recv),
            send: Mutex::new(send),
            read_waker: Waker::from(read_signal.clone()),
            read_signal,
            write_waker: Waker::from(write_signal.clone()),
            write_signal,
            read_armed: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            peer,
            linger,
            runtime: tokio::runtime::Handle::current(),
        }
    }

    fn closed_error() -> io::Error {
        io::Error::new(io::ErrorKind::NotConnected, "the QUIC stream was closed")
    }
}

/// The io::Error of a lost QUIC connection, with the kind the engine maps
/// to its status (`Status::from_io`).
pub(crate) fn connection_io_error(error: &ConnectionError) -> io::Error {
    if let ConnectionError::ConnectionClosed(close) = error {
        let code = u64::from(close.error_code);
        if (0x100..0x200).contains(&code) {
            // A TLS alert after our side of the handshake was done: in TLS
            // 1.3 a client learns only now that the server refused its
            // certificate (or wanted one).
            return io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "the peer refused the TLS handshake with alert {}: it refused our client certificate or wanted one ({close})",
                    code - 0x100
                ),
            );
        }
    }
    let kind = match error {
        ConnectionError::TimedOut => io::ErrorKind::TimedOut,
        ConnectionError::LocallyClosed => io::ErrorKind::ConnectionAborted,
        ConnectionError::ApplicationClosed(_) | ConnectionError::ConnectionClosed(_) | ConnectionError::Reset => {
            io::ErrorKind::ConnectionReset
        }
        ConnectionError::TransportError(_) => io::ErrorKind::InvalidData,
        ConnectionError::VersionMismatch => io::ErrorKind::Unsupported,
        ConnectionError::CidsExhausted => io::ErrorKind::OutOfMemory,
    };
    let what = match error {
        ConnectionError::TimedOut => "the QUIC connection timed out (idle timeout: the peer is dead)".to_owned(),
        ConnectionError::ApplicationClosed(close) => format!(
            "the peer closed the QUIC connection with application error {} ({})",
            close.error_code,
            String::from_utf8_lossy(&close.reason)
        ),
        other => format!("the QUIC connection was lost: {other}"),
    };
    io::Error::new(kind, what)
}

fn read_io_error(error: ReadError) -> io::Error {
    match error {
        ReadError::ConnectionLost(e) => connection_io_error(&e),
        ReadError::Reset(code) => io::Error::new(
            io::ErrorKind::ConnectionReset,
            format!("the peer reset the QUIC stream (error {code})"),
        ),
        other => io::Error::new(io::ErrorKind::NotConnected, other),
    }
}

fn write_io_error(error: WriteError) -> io::Error {
    match error {
        WriteError::ConnectionLost(e) => connection_io_error(&e),
        WriteError::Stopped(code) => io::Error::new(
            io::ErrorKind::ConnectionReset,
            format!("the peer stopped reading the QUIC stream (error {code})"),
        ),
        other => io::Error::new(io::ErrorKind::NotConnected, other),
    }
}

impl Stream for QuicStream {
    fn readable(&self) -> BoxFuture<'_, io::Result<()>> {
        Box::pin(async move {
            if self.read_armed.load(Ordering::Acquire) && !self.closed.load(Ordering::Acquire) {
                self.read_signal.notify.notified().await;
            }
            self.read_armed.store(false, Ordering::Release);
            Ok(())
        })
    }

    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        if self.closed.load(Ordering::Acquire) {
            return Err(QuicStream::closed_error());
        }
        let mut recv = self.recv.lock().unwrap_or_else(|p| p.into_inner());
        match recv.poll_read(&mut Context::from_waker(&self.read_waker), buf) {
            Poll::Ready(Ok(n)) => Ok(n),
            Poll::Ready(Err(e)) => Err(read_io_error(e)),
            Poll::Pending => {
                self.read_armed.store(true, Ordering::Release);
                Err(io::ErrorKind::WouldBlock.into())
            }
        }
    }

    fn writable(&self) -> BoxFuture<'_, io::Result<()>> {
        Box::pin(async move {
            loop {
                let notified = self.write_signal.notify.notified();
                let mut notified = std::pin::pin!(notified);
                notified.as_mut().enable();
                if self.closed.load(Ordering::Acquire) {
                    return Ok(());
                }
                {
                    let mut send = self.send.lock().unwrap_or_else(|p| p.into_inner());
                    // A write of nothing: ready unless quinn is blocked
                    // (flow control or its send window), and then our
                    // waker is registered.
                    let probe = Pin::new(&mut *send).poll_write(&mut Context::from_waker(&self.write_waker), &[]);
                    if probe.is_ready() {
                        return Ok(());
                    }
                }
                notified.await;
            }
        })
    }

    fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        if self.closed.load(Ordering::Acquire) {
            return Err(QuicStream::closed_error());
        }
        let mut send = self.send.lock().unwrap_or_else(|p| p.into_inner());
        let mut cx = Context::from_waker(&self.write_waker);
        let (mut total, mut wanted) = (0, 0);
        for buf in bufs.iter().filter(|b| !b.is_empty()) {
            wanted += buf.len();
            match Pin::new(&mut *send).poll_write(&mut cx, buf) {
                Poll::Ready(Ok(n)) => {
                    total += n;
                    if n < buf.len() {
                        break;
                    }
                }
                Poll::Ready(Err(e)) if total == 0 => return Err(write_io_error(e)),
                Poll::Ready(Err(_)) | Poll::Pending => break,
            }
        }
        if total == 0 && wanted > 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(total)
    }

    fn shutdown_write(&self) -> io::Result<()> {
        let mut send = self.send.lock().unwrap_or_else(|p| p.into_inner());
        send.finish()
            .map_err(|e| io::Error::new(io::ErrorKind::NotConnected, e))
    }

    fn close(&self, abortive: bool) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        {
            let mut send = self.send.lock().unwrap_or_else(|p| p.into_inner());
            let mut recv = self.recv.lock().unwrap_or_else(|p| p.into_inner());
            if abortive {
                // RESET_STREAM, STOP_SENDING and CONNECTION_CLOSE at once.
                let _ = send.reset(VarInt::from_u32(ABORT_CODE));
                let _ = recv.stop(VarInt::from_u32(ABORT_CODE));
                self.connection
                    .close(VarInt::from_u32(ABORT_CODE), b"rxce: abortive disconnect");
            } else {
                // FIN now; the connection closes (application error 0)
                // once the peer has acknowledged all our data, or after
                // the linger time.
                let _ = send.finish();
                let stopped = send.stopped();
                let connection = self.connection.clone();
                let linger = self.linger;
                self.runtime.spawn(async move {
                    let _ = tokio::time::timeout(linger, stopped).await;
                    connection.close(VarInt::from_u32(0), b"");
                });
            }
        }
        self.read_signal.notify.notify_one();
        self.write_signal.notify.notify_waiters();
    }

    fn info(&self) -> StreamInfo {
        let stats = self.connection.stats();
        StreamInfo {
            rtt: Some(self.connection.rtt()),
            send_buffer_size: 0,
            receive_buffer_size: 0,
            lost_packets: stats.path.lost_packets,
        }
    }

    fn peer_address(&self) -> TransportAddress {
        self.peer.clone()
    }
}
