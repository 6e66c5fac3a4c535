//! # rxce — the RDBSS connection engine, in user space
//!
//! rxce is the connection engine a network redirector (an SMB, NFS or 9P
//! client) sits on, modelled on the Windows RDBSS connection engine ("RxCe",
//! `rxce.h`): bind **transports**, own local **addresses**, build
//! **connections** and their **virtual circuits** (VCs) to a server, send
//! TSDUs, and receive the server's bytes through **indication** callbacks that
//! can hand large payloads straight into the client's buffers. Every outcome
//! is an NTSTATUS ([`Status`]).
//!
//! ```
//! use std::sync::{mpsc, Arc, Mutex};
//! use rxce::{
//!     ConnectionEventHandler, ConnectionInformation, Engine, EngineConfig, Indication, NoEvents,
//!     ReceiveAnswer, SendOptions, TransportAddress, Vc,
//! };
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! /// Forwards every received byte to a channel.
//! struct Client(Mutex<mpsc::Sender<Vec<u8>>>);
//!
//! impl ConnectionEventHandler for Client {
//!     fn receive(&self, _vc: &Vc, indication: &Indication<'_>) -> ReceiveAnswer {
//!         self.0.lock().unwrap().send(indication.data.to_vec()).unwrap();
//!         ReceiveAnswer::take_all(indication)
//!     }
//! }
//!
//! let engine = Engine::new(EngineConfig::default())?;
//! engine.runtime().clone().block_on(async {
//!     // An echo server on the in-process `memory` transport.
//!     let mut listener = engine.memory_listen("echo")?;
//!     tokio::spawn(async move {
//!         let mut peer = listener.accept().await.unwrap();
//!         let mut buf = [0u8; 5];
//!         peer.read_exact(&mut buf).await.unwrap();
//!         peer.write_all(&buf).await.unwrap();
//!     });
//!
//!     let transport = engine.build_transport("memory", 0)?;
//!     let address = transport.build_address(TransportAddress::memory("client"), Arc::new(NoEvents))?;
//!     let (tx, rx) = mpsc::channel();
//!     let (connection, vc) = address
//!         .build_connection(
//!             ConnectionInformation::to(TransportAddress::memory("echo")),
//!             Arc::new(Client(Mutex::new(tx))),
//!         )
//!         .await?;
//!     vc.send(&b"hello"[..], SendOptions::empty()).await?;
//!     assert_eq!(rx.recv().unwrap(), b"hello");
//!     connection.tear_down().await?;
//!     transport.tear_down().await
//! })?;
//! # Ok::<(), rxce::Status>(())
//! ```
//!
//! ## The object model
//!
//! [`Engine`] → [`Transport`] (a binding to a provider by name) →
//! [`Address`] (a local endpoint, with an [`AddressEventHandler`]) →
//! [`Connection`] (to one remote address, with a
//! [`ConnectionEventHandler`]) → [`Vc`] (one transport connection).
//! Tearing down a parent tears down its children first; when a tear-down
//! returns, every queued send has completed, no indication of that object
//! runs or will run, and its sockets are closed. A handle used after its
//! tear-down gets STATUS_INVALID_HANDLE.
//!
//! ## Transports
//!
//! | name | local address | remote address | what a VC carries |
//! |---|---|---|---|
//! | `tcp` | an IP of this host ([`TransportAddress::ip`], [`TransportAddress::any_ipv4`]) | [`TransportAddress::ip`], or [`TransportAddress::host_name`] (resolved, IPv6 and IPv4 raced as RFC 8305 orders them) | a byte stream |
//! | `tcp+smb` | as `tcp` | as `tcp`; port 0 means 445 | SMB direct-hosted messages (4-byte header, indicated whole) |
//! | `netbt` | as `tcp` | an IP entry (port 0 means 139) and/or a NetBIOS name ([`TransportAddress::netbios`], [`TransportAddress::with_netbios`]; the called name is `*SMBSERVER<20>` when there is none, and a name without an IP is resolved by a NetBIOS name query) | NetBIOS session messages (indicated whole; keepalives) |
//! | `udp` | as `tcp` | — (datagrams go from the address: [`Address::send_datagram`]) | datagrams, each indicated once and whole |
//! | `unix` | any | a path ([`TaAddress::Unix`]); a leading NUL byte names an abstract socket (Linux) | a byte stream |
//! | `memory` | [`TransportAddress::memory`] | [`TransportAddress::memory`] (see [`Engine::memory_listen`]) | a byte stream, in process |
//!
//! Other transports plug in as [`provider::Provider`]s
//! ([`Engine::register_provider`]). A connection may race several
//! transports ([`build_connection_over_multiple_transports`]) and carry
//! several VCs ([`Connection::build_vc`]). Code that prefers awaiting
//! messages to callbacks builds its connection with an [`Inbox`].
//!
//! ## Indications
//!
//! A VC's receive handler answers each indication with one of the three
//! [`ReceiveAnswer`]s: take some bytes (the rest come again first), more
//! processing required (the engine fills the client's buffer straight from
//! the socket and then calls data-ready), or not accepted (the engine keeps
//! the bytes, stops reading the VC and indicates them again after
//! [`Vc::resume_receive`]). Nothing is ever dropped on a stream.
#![warn(missing_docs)]
#![deny(unsafe_code)]

mod adapter;
mod address;
mod cancel;
mod config;
mod connection;
mod datagram;
mod engine;
mod handler;
mod inbox;
mod multi;
pub mod provider;
mod registry;
mod resolve;
mod sync;
#[allow(unsafe_code)]
mod sys;
mod teardown;
mod transport;
mod vc;
mod watchdog;

// The sans-I/O core's modules, under the names the engine's own modules use.
/// The sans-I/O core (statuses, TDI values, buffers, the VC machine).
pub use rxce_proto as proto;
pub use rxce_proto::tdi;
use rxce_proto::{budget, buffer, status};

pub use adapter::AdapterStatus;
pub use address::Address;
pub use buffer::{BufferChain, ReceiveBuffer, SendBuffers};
pub use config::{EngineConfig, NetbtConfig, ReconnectPolicy, TcpKeepalive};
pub use connection::Connection;
pub use engine::Engine;
pub use handler::{
    AddressEventHandler, ConnectionEventHandler, DatagramIndication, Indication, NoEvents, ReceiveAnswer,
};
pub use inbox::{Delivery, Inbox, InboxHandler};
pub use multi::{
    build_connection_over_multiple_transports, AttemptReport, MultiConnectError, MultiConnectOptions, MultiConnection,
    SelectPolicy,
};
pub use registry::{IdHasher, LiveObjects};
pub use resolve::resolve_netbios_name;
/// The wire formats rxce speaks (NetBIOS names, session and name service
/// packets, message framing).
pub use rxce_wire as wire;
pub use status::{Severity, Status};
pub use tdi::{
    ConnectionInformation, DisconnectFlags, Information, InformationClass, ReceiveFlags, SendOptions, TaAddress,
    TransportAddress,
};
pub use transport::Transport;
pub use vc::{Vc, VcData, VcState};

#[cfg(rxce_loom)]
#[doc(hidden)]
pub use sync::loom_support;

/// The README's example compiles (it is not run: it needs a server).
#[doc = include_str!("../../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
