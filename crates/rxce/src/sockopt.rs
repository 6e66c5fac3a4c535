//! Socket options socket2 does not cover: one `getsockopt` call, one of the
//! two modules of the engine with `unsafe` code (the other is `adapter`).

use std::os::fd::AsRawFd;
use std::time::Duration;

/// The kernel's smoothed round-trip time of a TCP connection (`TCP_INFO`).
pub(crate) fn tcp_rtt(socket: &impl AsRawFd) -> Option<Duration> {
    // SAFETY: `tcp_info` is plain old data, so a zeroed value is valid.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: the descriptor is open for the borrow of `socket`; `info` and
    // `len` are valid for writes and `len` holds the size of `info`, so the
    // kernel writes at most that many bytes.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    (rc == 0 && info.tcpi_rtt > 0).then(|| Duration::from_micros(u64::from(info.tcpi_rtt)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtt_of_a_loopback_connection_is_known() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let _server = listener.accept().unwrap();
        let rtt = tcp_rtt(&client).expect("TCP_INFO gives an RTT on a connected socket");
        assert!(rtt < Duration::from_secs(1), "{rtt:?}");
        let unconnected = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        assert_eq!(tcp_rtt(&unconnected), None);
    }
}
