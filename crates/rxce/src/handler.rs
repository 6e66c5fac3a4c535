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
use crate::tdi::{DisconnectFlags, ReceiveFlags, TransportAddress};
use crate::vc::Vc;

/// A receive indication: the bytes the engine has for the client now.
#[derive(Debug)]
pub struct Indication<'a> {
    /// `TDI_RECEIVE_*` flags: NORMAL, ENTIRE_MESSAGE when `data` is the whole
    /// rest of a message, FORCE_INDICATION when rejected data comes again.
    pub flags: ReceiveFlags,
    /// The indicated bytes (`Tsdu`, `BytesIndicated` long). Valid only during
    /// the call.
    pub data: &'a [u8],
    /// `BytesAvailable`: bytes known to belong to this TSDU, at least
    /// `data.len()` (the whole rest of the message on framed transports).
    pub available: usize,
}

/// A datagram receive indication: an [`Indication`] with its source.
#[derive(Debug)]
pub struct DatagramIndication<'a> {
    /// Where the datagram came from.
    pub source: &'a TransportAddress,
    /// The datagram's bytes and flags.
    pub indication: Indication<'a>,
}

/// A receive handler's answer (the NTSTATUS plus out-parameters of a TDI
/// receive indication).
pub enum ReceiveAnswer {
    /// STATUS_SUCCESS with `BytesTaken`: the client consumed this many of the
    /// indicated bytes. The rest are indicated again, first: at once when
    /// some were taken; when more bytes arrive when none were (the client
    /// wants more lookahead; with a full lookahead or a whole message the
    /// VC waits for a resume instead); at once, with FORCE_INDICATION, when
    /// the peer's data ends while none were taken. Refused even then, they
    /// are declined: discarded, and counted in the disconnect's message.
    Taken(usize),
    /// STATUS_MORE_PROCESSING_REQUIRED: `taken` bytes were consumed and the
    /// next `size` bytes (capped by the buffer's capacity and, on a framed
    /// transport, by the end of the message) go straight into `buffer`; then
    /// the data-ready indication hands the buffer back.
    MoreProcessingRequired {
        /// Bytes consumed from the indication before the buffer.
        taken: usize,
        /// The client buffer (the returned MDL chain).
        buffer: Box<dyn ReceiveBuffer>,
        /// How many bytes to put into it.
        size: usize,
    },
    /// STATUS_DATA_NOT_ACCEPTED: the engine keeps the bytes, stops reading
    /// the VC and indicates them again after [`Vc::resume_receive`].
    NotAccepted,
}

impl ReceiveAnswer {
    /// Takes every indicated byte.
    pub fn take_all(indication: &Indication<'_>) -> ReceiveAnswer {
        ReceiveAnswer::Taken(indication.data.len())
    }

    /// The NTSTATUS this answer stands for.
    pub fn status(&self) -> Status {
        match self {
            ReceiveAnswer::Taken(_) => Status::SUCCESS,
            ReceiveAnswer::MoreProcessingRequired { .. } => Status::MORE_PROCESSING_REQUIRED,
            ReceiveAnswer::NotAccepted => Status::DATA_NOT_ACCEPTED,
        }
    }
}

impl std::fmt::Debug for ReceiveAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReceiveAnswer::Taken(n) => write!(f, "Taken({n})"),
            ReceiveAnswer::MoreProcessingRequired { taken, buffer, size } => f
                .debug_struct("MoreProcessingRequired")
                .field("taken", taken)
                .field("capacity", &buffer.capacity())
                .field("size", size)
                .finish(),
            ReceiveAnswer::NotAccepted => f.write_str("NotAccepted"),
        }
    }
}

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
    /// connection. `lost` stays until the client tears it down. `restored`
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
