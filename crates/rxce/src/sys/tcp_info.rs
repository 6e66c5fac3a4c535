//! The kernel's smoothed round-trip time of a TCP connection, for the
//! `delay` of RxCeQueryInformation's connection-endpoint class.
//!
//! | OS | source | unit |
//! |---|---|---|
//! | Linux, Android | `getsockopt(IPPROTO_TCP, TCP_INFO)`, `tcpi_rtt` | µs |
//! | FreeBSD | `getsockopt(IPPROTO_TCP, TCP_INFO)`, `tcpi_rtt` | µs |
//! | macOS, iOS | `getsockopt(IPPROTO_TCP, TCP_CONNECTION_INFO)`, `tcpi_srtt` | ms |
//! | Windows 10 1703 and later | `WSAIoctl(SIO_TCP_INFO)`, version 0, `RttUs` | µs |
//! | anything else, or a call that fails | unavailable: `None` (a `delay` of 0) | |
//!
//! A connection that has not measured a round trip yet (an RTT of 0) also
//! reports `None`.

use std::time::Duration;

use socket2::SockRef;

/// The smoothed round-trip time of a connected TCP socket, where the OS
/// gives one (see the module docs).
pub(crate) fn smoothed_rtt(socket: &SockRef<'_>) -> Option<Duration> {
    os::smoothed_rtt(socket).filter(|rtt| !rtt.is_zero())
}

#[cfg(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_vendor = "apple"
))]
mod os {
    use std::os::fd::AsRawFd;
    use std::time::Duration;

    #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
    pub(super) fn smoothed_rtt(socket: &socket2::Socket) -> Option<Duration> {
        let info: libc::tcp_info = tcp_option(socket, libc::TCP_INFO)?;
        Some(Duration::from_micros(u64::from(info.tcpi_rtt)))
    }

    #[cfg(target_vendor = "apple")]
    pub(super) fn smoothed_rtt(socket: &socket2::Socket) -> Option<Duration> {
        let info: libc::tcp_connection_info = tcp_option(socket, libc::TCP_CONNECTION_INFO)?;
        Some(Duration::from_millis(u64::from(info.tcpi_srtt)))
    }

    /// `getsockopt(IPPROTO_TCP, name)` into a `T`; `None` when it fails.
    ///
    /// `T` must be the plain-old-data structure the kernel writes for
    /// `name` (or a prefix of it: the kernel writes at most its size).
    fn tcp_option<T>(socket: &impl AsRawFd, name: libc::c_int) -> Option<T> {
        let mut value = std::mem::MaybeUninit::<T>::zeroed();
        let mut len = std::mem::size_of::<T>() as libc::socklen_t;
        // SAFETY: the descriptor is open for the borrow of `socket`; `value`
        // and `len` are valid for writes and `len` holds the size of
        // `value`, so the kernel writes at most that many bytes.
        let rc = unsafe {
            libc::getsockopt(
                socket.as_raw_fd(),
                libc::IPPROTO_TCP,
                name,
                value.as_mut_ptr().cast(),
                &mut len,
            )
        };
        // SAFETY: `T` is plain old data, so any bytes (zeroes where the
        // kernel wrote none) are a valid `T`.
        (rc == 0).then(|| unsafe { value.assume_init() })
    }
}

#[cfg(windows)]
mod os {
    use std::os::windows::io::AsRawSocket;
    use std::time::Duration;

    use windows_sys::Win32::Networking::WinSock::{TCP_INFO_v0, WSAIoctl, SIO_TCP_INFO};

    pub(super) fn smoothed_rtt(socket: &socket2::Socket) -> Option<Duration> {
        let version: u32 = 0;
        let mut info = TCP_INFO_v0::default();
        let mut returned: u32 = 0;
        // SAFETY: the socket is open for the borrow of `socket`; the input
        // is a 4-byte version number and the output buffer is a whole
        // `TCP_INFO_v0` whose size is passed, so Winsock writes at most
        // that; no overlapped I/O (both pointers NULL), so the call
        // completes before it returns.
        let rc = unsafe {
            WSAIoctl(
                socket.as_raw_socket() as usize,
                SIO_TCP_INFO,
                (&version as *const u32).cast(),
                std::mem::size_of::<u32>() as u32,
                (&mut info as *mut TCP_INFO_v0).cast(),
                std::mem::size_of::<TCP_INFO_v0>() as u32,
                &mut returned,
                std::ptr::null_mut(),
                None,
            )
        };
        (rc == 0).then(|| Duration::from_micros(u64::from(info.RttUs)))
    }
}

#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_vendor = "apple",
    windows
)))]
mod os {
    use std::time::Duration;

    pub(super) fn smoothed_rtt(_socket: &socket2::Socket) -> Option<Duration> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtt_of_a_loopback_connection_is_known() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let _server = listener.accept().unwrap();
        match smoothed_rtt(&SockRef::from(&client)) {
            Some(rtt) => assert!(rtt < Duration::from_secs(1), "{rtt:?}"),
            // macOS counts in milliseconds: a loopback round trip rounds to
            // 0, which reads as unmeasured. Windows before 10 1703 (and
            // wine) has no SIO_TCP_INFO.
            None if cfg!(any(target_vendor = "apple", windows)) => {}
            None => panic!("the OS gives an RTT on a connected socket"),
        }
        let unconnected = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        assert_eq!(smoothed_rtt(&SockRef::from(&unconnected)), None);
    }
}
