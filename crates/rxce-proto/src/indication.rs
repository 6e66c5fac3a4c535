//! What an indication carries and what the client answers: the values of
//! a TDI receive indication, apart from the handlers that receive them.

use crate::buffer::ReceiveBuffer;
use crate::status::Status;
use crate::tdi::{ReceiveFlags, TransportAddress};

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
    /// the VC and indicates them again after the VC's `resume_receive`.
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
