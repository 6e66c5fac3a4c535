//! Fault peers and fd counting.

use std::io;
use std::net::{TcpListener, TcpStream};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rxce_testsupport::peers::{closed_port, free_port, BlackHole};

/// The fd-count test must not see sockets of the other tests come and go,
/// so the tests in this file run one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn connect_to_black_hole_times_out() {
    let _g = serial();
    let hole = BlackHole::new().expect("black hole");
    assert!(hole.addr().ip().is_loopback());
    assert!(hole.queued() >= 1, "accept queue was pre-filled");
    let timeout = Duration::from_millis(300);
    for _ in 0..2 {
        let start = Instant::now();
        let err = TcpStream::connect_timeout(&hole.addr(), timeout).expect_err("connect must not succeed");
        let took = start.elapsed();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
        assert!(
            took >= timeout - Duration::from_millis(20),
            "gave up after only {took:?}"
        );
        assert!(took < timeout * 4, "took {took:?}");
    }
    let addr = hole.addr();
    drop(hole);
    let err = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).expect_err("closed after drop");
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{err}");
}

#[test]
fn connect_to_closed_port_is_refused() {
    let _g = serial();
    let addr = closed_port();
    assert!(addr.ip().is_loopback());
    let start = Instant::now();
    let err = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).expect_err("nothing listens");
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{err}");
    assert!(start.elapsed() < Duration::from_secs(1), "refusal is immediate");
}

#[test]
fn free_port_can_be_bound() {
    let _g = serial();
    let port = free_port();
    assert_ne!(port, 0);
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("free port is bindable");
    assert_eq!(listener.local_addr().unwrap().port(), port);
}

#[test]
#[cfg(target_os = "linux")] // fds reads /proc/self/fd
fn fd_count_follows_open_and_close() {
    use rxce_testsupport::fds::open_fd_count;
    use std::fs::File;
    let _g = serial();
    let before = open_fd_count();
    assert!(before >= 3, "stdin, stdout, stderr at least: {before}");
    let file = File::open("/proc/self/status").unwrap();
    assert_eq!(open_fd_count(), before + 1);
    let second = File::open("/proc/self/status").unwrap();
    assert_eq!(open_fd_count(), before + 2);
    drop(file);
    drop(second);
    assert_eq!(open_fd_count(), before);
}
