//! Event handlers: the RxCe dispatch vectors as Rust traits.
//!
//! [`ConnectionEventHandler`] has the nine members of
//! `RXCE_CONNECTION_EVENT_HANDLER`, [`AddressEventHandler`] the five of
//! `RXCE_ADDRESS_EVENT_HANDLER`; every member has a default, as a NULL member
//! of the C vectors does. The handler value *is* the event context: the
//! `pEventContext` of the C routines becomes `&self` of every call.
//!
//! Callbacks run on engine worker threads and must not block. The callbacks
//! of one VC never run concurrently or re-entrantly with each other.

use crate::address::Address;
use crate::buffer::ReceiveBuffer;
use crate::status::Status;
use crate::tdi::DisconnectFlags;
use crate::vc::Vc;
pub use rxce_proto::indication::{DatagramIndication, Indication, ReceiveAnswer};

/// `RXCE_CONNECTION_EVENT_HANDLER`: what a connection's VCs tell the client.
///
/// Callbacks run on the engine's worker threads and should return quickly:
/// a callback that blocks holds up that worker (one that runs longer than
/// [`EngineConfig::slow_callback`](crate::EngineConfig::slow_callback), 100 ms
/// by default, is logged and counted). A callback that panics does
/// not take the engine down: the engine stops the panic and aborts the VC
/// it was called for; its sends still complete once each and the disconnect
/// indication carries [`Status::UNHANDLED_EXCEPTION`] with the panic's
/// message.
///
/// ```
/// use rxce::{ConnectionEventHandler, Indication, ReceiveAnswer, Vc};
/// use std::sync::Mutex;
///
/// /// Collects every byte the server sends.
/// #[derive(Default)]
/// struct Collect(Mutex<Vec<u8>>);
///
/// impl ConnectionEventHandler for Collect {
///     fn receive(&self, _vc: &Vc, indication: &Indication<'_>) -> ReceiveAnswer {
///         self.0.lock().unwrap().extend_from_slice(indication.data);
///         ReceiveAnswer::take_all(indication)
///     }
/// }
/// ```
///
/// The three answers to a receive indication: take bytes, have the rest of
/// a message go straight into a client buffer (data-ready hands it back),
/// or leave the bytes with the engine until [`Vc::resume_receive`].
///
/// ```
/// use std::sync::{mpsc, Arc, Mutex};
/// use rxce::{ConnectionEventHandler, ConnectionInformation, Engine, EngineConfig, Indication, NoEvents};
/// use rxce::{ReceiveAnswer, ReceiveBuffer, Status, TransportAddress, Vc};
/// use tokio::io::AsyncWriteExt;
///
/// /// Takes 4-byte headers; a header saying "body" has the next 6 bytes
/// /// copied into a buffer of its own; a header saying "wait" is declined
/// /// until the client resumes.
/// struct Answers(Mutex<mpsc::Sender<String>>);
///
/// impl ConnectionEventHandler for Answers {
///     fn receive(&self, _vc: &Vc, indication: &Indication<'_>) -> ReceiveAnswer {
///         let data = indication.data;
///         if data.len() < 4 {
///             return ReceiveAnswer::Taken(0); // more lookahead, please
///         }
///         let tell = |what: String| self.0.lock().unwrap().send(what).unwrap();
///         match &data[..4] {
///             b"body" => ReceiveAnswer::MoreProcessingRequired { taken: 4, buffer: Box::new(vec![0u8; 6]), size: 6 },
///             b"wait" => {
///                 tell("declined".into());
///                 ReceiveAnswer::NotAccepted
///             }
///             other => {
///                 tell(String::from_utf8_lossy(other).into_owned());
///                 ReceiveAnswer::Taken(4)
///             }
///         }
///     }
///
///     fn data_ready(&self, _vc: &Vc, buffer: Box<dyn ReceiveBuffer>, copied: usize, status: Status) {
///         let buffer: Box<dyn std::any::Any> = buffer;
///         let bytes = buffer.downcast::<Vec<u8>>().unwrap();
///         let text = format!("{} ({})", String::from_utf8_lossy(&bytes[..copied]), status.name());
///         self.0.lock().unwrap().send(text).unwrap();
///     }
/// }
///
/// let engine = Engine::new(EngineConfig::default())?;
/// engine.runtime().clone().block_on(async {
///     let mut listener = engine.memory_listen("server")?;
///     let transport = engine.build_transport("memory", 0)?;
///     let address = transport.build_address(TransportAddress::memory("client"), Arc::new(NoEvents))?;
///     let (tx, rx) = mpsc::channel();
///     let server = ConnectionInformation::to(TransportAddress::memory("server"));
///     let (connection, vc) = address.build_connection(server, Arc::new(Answers(Mutex::new(tx)))).await?;
///     let mut peer = listener.accept().await.expect("a peer");
///     peer.write_all(b"headbody123456wait").await.unwrap();
///     let next = || rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
///     assert_eq!(next(), "head");
///     assert_eq!(next(), "123456 (STATUS_SUCCESS)");
///     assert_eq!(next(), "declined");
///     vc.resume_receive()?; // indicated again, with FORCE_INDICATION
///     assert_eq!(next(), "declined");
///     connection.tear_down().await?;
///     transport.tear_down().await
/// })?;
/// # Ok::<(), rxce::Status>(())
/// ```
pub trait ConnectionEventHandler: Send + Sync + 'static {
    /// The VC is disconnected: `RELEASE` for the peer's orderly close (or
    /// the end of a graceful disconnect we started), `ABORT` for a reset, a
    /// protocol error or a timeout; `status` says why. The last indication
    /// of the VC.
    fn disconnect(&self, vc: &Vc, flags: DisconnectFlags, status: Status) {
        let _ = (vc, flags, status);
    }

    /// A fault on the VC (a protocol error, a lost VC of a multichannel
    /// connection); a disconnect indication usually follows.
    fn error(&self, vc: &Vc, status: Status) {
        let _ = (vc, status);
    }

    /// Normal data arrived. The default keeps the data (not accepted), so
    /// nothing is lost when a client registers no receive handler.
    fn receive(&self, vc: &Vc, indication: &Indication<'_>) -> ReceiveAnswer {
        let _ = (vc, indication);
        ReceiveAnswer::NotAccepted
    }

    /// A datagram arrived on a connection (datagram transports). The default
    /// takes (drops) it.
    fn receive_datagram(&self, vc: &Vc, indication: &DatagramIndication<'_>) -> ReceiveAnswer {
        let _ = vc;
        ReceiveAnswer::take_all(&indication.indication)
    }

    /// Expedited data arrived. The default hands it to
    /// [`receive`](ConnectionEventHandler::receive), as TDI does when no
    /// expedited handler is registered.
    fn receive_expedited(&self, vc: &Vc, indication: &Indication<'_>) -> ReceiveAnswer {
        self.receive(vc, indication)
    }

    /// After a non-blocking send was refused with STATUS_DEVICE_NOT_READY:
    /// there is room again (`bytes_available` is a hint).
    fn send_possible(&self, vc: &Vc, bytes_available: usize) {
        let _ = (vc, bytes_available);
    }

    /// The buffer returned with [`ReceiveAnswer::MoreProcessingRequired`]
    /// holds `copied` bytes; `status` is SUCCESS, or the failure that ended
    /// the copy early (with what was copied until then).
    fn data_ready(&self, vc: &Vc, buffer: Box<dyn ReceiveBuffer>, copied: usize, status: Status) {
        let _ = (vc, buffer, copied, status);
    }

    /// An asynchronous send ([`Vc::submit_send`]) finished: all of its
    /// `bytes` were handed to the kernel (SUCCESS), or it failed.
    fn send_complete(&self, vc: &Vc, completion_context: usize, status: Status, bytes: usize) {
        let _ = (vc, completion_context, status, bytes);
    }

    /// An asynchronous send was queued on its VC (STATUS_PENDING).
    fn send_submitted(&self, vc: &Vc, completion_context: usize, status: Status) {
        let _ = (vc, completion_context, status);
    }

    /// With a reconnect policy: the engine rebuilt `lost` (after its
    /// disconnect indication) as `restored`, a new VC of the same
    /// connection. `lost` stays until the client tears it down; tearing it
    /// down (or the connection) stops its rebuild, and neither this nor
    /// `reconnect_failed` comes after that tear-down returned. `restored`
    /// is live already: its first indications may come before or while
    /// this runs (on another worker).
    fn reconnected(&self, lost: &Vc, restored: &Vc) {
        let _ = (lost, restored);
    }

    /// With a reconnect policy: the engine gave up rebuilding `lost`;
    /// `status` is the last attempt's failure.
    fn reconnect_failed(&self, lost: &Vc, status: Status) {
        let _ = (lost, status);
    }
}

/// `RXCE_ADDRESS_EVENT_HANDLER`: what a local address tells the client.
///
/// A panic in a datagram indication loses that datagram only (it is logged);
/// the address goes on receiving.
pub trait AddressEventHandler: Send + Sync + 'static {
    /// A fault on the address (`ClientEventError`): stop using it.
    fn error(&self, address: &Address, status: Status) {
        let _ = (address, status);
    }

    /// A datagram arrived on the address. The default takes (drops) it.
    fn receive_datagram(&self, address: &Address, indication: &DatagramIndication<'_>) -> ReceiveAnswer {
        let _ = address;
        ReceiveAnswer::take_all(&indication.indication)
    }

    /// A datagram client buffer is filled (see
    /// [`ConnectionEventHandler::data_ready`]).
    fn data_ready(&self, address: &Address, buffer: Box<dyn ReceiveBuffer>, copied: usize, status: Status) {
        let _ = (address, buffer, copied, status);
    }

    /// Room for sends again (`vc` is `None` for datagram addresses).
    fn send_possible(&self, address: &Address, vc: Option<&Vc>, bytes_available: usize) {
        let _ = (address, vc, bytes_available);
    }

    /// An asynchronous datagram send finished.
    fn send_complete(&self, address: &Address, completion_context: usize, status: Status) {
        let _ = (address, completion_context, status);
    }
}

/// A handler that takes no interest: every member has its default.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoEvents;

impl ConnectionEventHandler for NoEvents {}
impl AddressEventHandler for NoEvents {}
