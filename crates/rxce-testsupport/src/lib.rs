//! Test support for rxce: real Samba servers on loopback, misbehaving
//! peers, and file-descriptor accounting.
//!
//! * [`samba`] (Linux only: it drives Debian's Samba, process groups and
//!   loopback aliases with `ip`): [`SambaServer`](samba::SambaServer) starts
//!   a private smbd (and optionally nmbd) with all its state in a temporary
//!   directory, listening on 127.0.0.1 only, and stops it on drop.
//! * [`fileservers`] (Linux only): rpcbind and a private diod (9P) on
//!   loopback, stopped on drop.
//! * [`nbns`]: hand-built NetBIOS name queries, to talk to nmbd.
//! * [`peers`]: a [`BlackHole`](peers::BlackHole) listener that never
//!   accepts, a [`closed_port`](peers::closed_port) that refuses, and
//!   [`free_port`](peers::free_port).
//! * [`proxy`]: a [`FaultProxy`](proxy::FaultProxy) that adds latency or a
//!   partition between a client and its server (there is no netem here).
//! * [`fds`]: [`open_fd_count`](fds::open_fd_count) for leak checks (it
//!   reads `/proc/self/fd`, so Linux only).
//!
//! Tests that need Samba must fail rather than skip when it is missing;
//! call [`samba::require_samba`] first, and install it with
//! `scripts/install-test-deps.sh`.
//!
//! # Example
//!
//! ```no_run
//! use std::io::{Read, Write};
//! use std::net::TcpStream;
//! use rxce_testsupport::nbns;
//! use rxce_testsupport::samba::{require_samba, SambaOptions};
//!
//! require_samba();
//! let server = SambaOptions::new().nmbd(true).start().expect("start Samba");
//!
//! // NetBIOS session request: called = server name <20>, calling = RXCECLIENT <00>.
//! let mut request = vec![0x81, 0, 0, 68];
//! request.extend_from_slice(&nbns::encode_name(server.netbios_name(), 0x20));
//! request.extend_from_slice(&nbns::encode_name("RXCECLIENT", 0x00));
//! let mut s = TcpStream::connect(server.netbt_addr()).unwrap();
//! s.write_all(&request).unwrap();
//! let mut reply = [0u8; 4];
//! s.read_exact(&mut reply).unwrap();
//! assert_eq!(reply, [0x82, 0, 0, 0]);
//!
//! // nmbd answers for the server's name with its loopback alias.
//! let answer = nbns::query_name(
//!     server.nmbd_addr().unwrap(),
//!     server.netbios_name(),
//!     nbns::SUFFIX_FILE_SERVER,
//!     false,
//!     std::time::Duration::from_secs(1),
//! )
//! .unwrap();
//! assert_eq!(answer.addresses(), &[server.netbios_ip().unwrap()]);
//! // Dropping `server` stops smbd, nmbd and their children.
//! ```
//!
//! ```
//! use std::net::TcpStream;
//! use std::time::Duration;
//! use rxce_testsupport::peers::{closed_port, BlackHole};
//!
//! let hole = BlackHole::new().unwrap();
//! let err = TcpStream::connect_timeout(&hole.addr(), Duration::from_millis(200)).unwrap_err();
//! assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
//! let err = TcpStream::connect(closed_port()).unwrap_err();
//! assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
//! ```

#![warn(missing_docs)]

#[cfg(target_os = "linux")]
pub mod fds;
#[cfg(target_os = "linux")]
pub mod fileservers;
pub mod nbns;
pub mod peers;
pub mod proxy;
#[cfg(target_os = "linux")]
pub mod samba;
