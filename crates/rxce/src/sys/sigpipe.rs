//! Socket writes that never raise SIGPIPE.
//!
//! A write to a stream socket whose peer has gone (closed, then reset)
//! fails with EPIPE and, unless told otherwise, also sends the writing
//! thread SIGPIPE, whose default action ends the process. Rust programs
//! ignore SIGPIPE, but a C program that links librxce does not, so the
//! engine must never let the kernel raise it: every socket write of the
//! engine goes through this module, and the failure comes back as EPIPE
//! (STATUS_CONNECTION_RESET).
//!
//! - Linux, Android, the BSDs, illumos, Solaris: each write is a `sendmsg`
//!   with `MSG_NOSIGNAL` (`writev` takes no flags).
//! - Apple's systems (and Windows, which has no SIGPIPE) have no such flag:
//!   the write goes out with none. On macOS and iOS that is only safe on a
//!   socket that carries `SO_NOSIGPIPE`: [`guard_socket`] sets it on every
//!   stream socket the engine writes to, when a `TcpEndpoint` or
//!   `UnixEndpoint` takes the socket (the engine's own sockets, made
//!   through socket2 and mio, carry it from birth already; one a custom
//!   provider hands in may not).
//!
//! The engine's other socket writes need nothing: NetBIOS name queries go
//! out on unconnected UDP sockets, which never get EPIPE.

use std::io::{self, IoSlice};

use socket2::{SockAddr, SockRef};

/// `sendmsg` flags that keep the kernel from raising SIGPIPE.
#[cfg(not(any(target_vendor = "apple", windows)))]
const NO_SIGPIPE: std::ffi::c_int = libc::MSG_NOSIGNAL;

/// No flag for it here: see the module documentation.
#[cfg(any(target_vendor = "apple", windows))]
const NO_SIGPIPE: std::ffi::c_int = 0;

/// Makes `socket` safe to write without a per-write flag where the OS has
/// none: `SO_NOSIGPIPE` on Apple's systems. It does not fail on an open
/// socket; if it ever did, the failure is logged.
#[cfg(target_vendor = "apple")]
pub(crate) fn guard_socket(socket: SockRef<'_>) {
    if let Err(e) = socket.set_nosigpipe(true) {
        tracing::warn!("setting SO_NOSIGPIPE: {e}");
    }
}

/// Nothing to do: the writes carry `MSG_NOSIGNAL` (or, on Windows, there is
/// no SIGPIPE).
#[cfg(not(target_vendor = "apple"))]
pub(crate) fn guard_socket(_socket: SockRef<'_>) {}

/// Writes what the connected stream socket takes now, gathered from `bufs`
/// in order, without raising SIGPIPE.
pub(crate) fn send_vectored(socket: SockRef<'_>, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    socket.send_vectored_with_flags(bufs, NO_SIGPIPE)
}

/// Sends one datagram gathered from `bufs` to `to`, without raising
/// SIGPIPE.
pub(crate) fn send_to_vectored(socket: SockRef<'_>, bufs: &[IoSlice<'_>], to: &SockAddr) -> io::Result<usize> {
    socket.send_to_vectored_with_flags(bufs, to, NO_SIGPIPE)
}

/// Writes all of `bytes` to a connected tokio TCP stream, waiting for room
/// as needed, without raising SIGPIPE.
pub(crate) async fn write_all(stream: &tokio::net::TcpStream, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        stream.writable().await?;
        let sent = stream.try_io(tokio::io::Interest::WRITABLE, || {
            send_vectored(SockRef::from(stream), &[IoSlice::new(bytes)])
        });
        match sent {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A write to a socket whose peer has gone is EPIPE; the test harness
    /// ignores SIGPIPE, so this proves the error path, and the
    /// `sigpipe` integration test proves no signal is raised.
    #[test]
    #[cfg(unix)]
    fn a_write_after_the_peer_left_is_epipe() {
        let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        drop(theirs);
        let error = send_vectored(SockRef::from(&ours), &[IoSlice::new(b"x")]).unwrap_err();
        assert_eq!(error.raw_os_error(), Some(libc::EPIPE));
    }

    #[tokio::test]
    async fn write_all_writes_every_byte() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        let bytes = vec![7u8; 1 << 20];
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            tokio::io::AsyncReadExt::read_to_end(&mut server, &mut got)
                .await
                .unwrap();
            got
        });
        write_all(&client, &bytes).await.unwrap();
        drop(client);
        assert_eq!(reader.await.unwrap(), bytes);
    }
}
