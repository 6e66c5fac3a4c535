//! Everything the engine asks of the operating system that differs from
//! one OS to the next, one module per concern, each with its fallback
//! where an OS has no answer. The rest of the engine is the same on every
//! OS (through tokio, socket2 and std).
//!
//! | concern | module | Linux | macOS | FreeBSD | Windows |
//! |---|---|---|---|---|---|
//! | round-trip time for query information | [`tcp_info`] | `TCP_INFO` | `TCP_CONNECTION_INFO` | `TCP_INFO` | `SIO_TCP_INFO` |
//! | interface facts and default route for the adapter status | [`interface`] | sysfs, procfs | not read (0) | not read (0) | not read (0) |
//! | no SIGPIPE raised by a socket write | [`sigpipe`] | `MSG_NOSIGNAL` | `SO_NOSIGPIPE` | `MSG_NOSIGNAL` | none needed |
//!
//! The `unix` transport is the provider module `provider::unix`, built on
//! Unix systems only (abstract names on Linux and Android only); Windows,
//! where tokio has no Unix-domain stream sockets, does not offer it.

pub(crate) mod interface;
mod sigpipe;
pub(crate) mod tcp_info;

pub(crate) use sigpipe::{guard_socket, send_to_vectored, send_vectored, write_all};
