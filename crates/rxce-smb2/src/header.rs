//! The 64-byte SMB2 sync header: written for requests, checked for
//! responses.

use crate::error::Smb2Error;
use crate::wire::{array_at, u16_at, u32_at, u64_at};
use crate::{flags, HEADER_LEN, PROTOCOL_ID, SMB1_PROTOCOL_ID};

/// Appends the sync header of a request: `command` with `credit_charge`,
/// asking for `credit_request` credits, as message `message_id`; no
/// session, tree or signature.
pub(crate) fn encode_request_header(
    buf: &mut Vec<u8>,
    command: u16,
    credit_charge: u16,
    credit_request: u16,
    message_id: u64,
) {
    buf.extend_from_slice(&PROTOCOL_ID); // 0: ProtocolId
    buf.extend_from_slice(&(HEADER_LEN as u16).to_le_bytes()); // 4: StructureSize
    buf.extend_from_slice(&credit_charge.to_le_bytes()); // 6: CreditCharge
    buf.extend_from_slice(&0u32.to_le_bytes()); // 8: ChannelSequence/Reserved
    buf.extend_from_slice(&command.to_le_bytes()); // 12: Command
    buf.extend_from_slice(&credit_request.to_le_bytes()); // 14: CreditRequest
    buf.extend_from_slice(&0u32.to_le_bytes()); // 16: Flags
    buf.extend_from_slice(&0u32.to_le_bytes()); // 20: NextCommand
    buf.extend_from_slice(&message_id.to_le_bytes()); // 24: MessageId
    buf.extend_from_slice(&0u32.to_le_bytes()); // 32: Reserved (ProcessId)
    buf.extend_from_slice(&0u32.to_le_bytes()); // 36: TreeId
    buf.extend_from_slice(&0u64.to_le_bytes()); // 40: SessionId
    buf.extend_from_slice(&[0u8; 16]); // 48: Signature
}

/// The fields of a response header the parsers use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ResponseHeader {
    /// `Status`.
    pub(crate) status: u32,
    /// `CreditResponse`.
    pub(crate) credits_granted: u16,
    /// `MessageId`.
    pub(crate) message_id: u64,
}

/// Checks the header of a response to `command`, in order: the protocol id
/// (an SMB1 message gives [`Smb2Error::Smb1Reply`]), the header's length
/// and `StructureSize` (64), the `SERVER_TO_REDIR` flag, the command.
pub(crate) fn parse_response_header(bytes: &[u8], command: u16) -> Result<ResponseHeader, Smb2Error> {
    let truncated = |needed: usize| Smb2Error::Truncated {
        needed,
        actual: bytes.len(),
    };
    let protocol_id: [u8; 4] = array_at(bytes, 0).ok_or(truncated(4))?;
    if protocol_id == SMB1_PROTOCOL_ID {
        return Err(Smb2Error::Smb1Reply);
    }
    if protocol_id != PROTOCOL_ID {
        return Err(Smb2Error::BadProtocolId(protocol_id));
    }
    if bytes.len() < HEADER_LEN {
        return Err(truncated(HEADER_LEN));
    }
    // Within the 64 bytes just checked: these reads cannot fail.
    let read16 = |off| u16_at(bytes, off).ok_or(truncated(off + 2));
    let header_size = read16(4)?;
    if usize::from(header_size) != HEADER_LEN {
        return Err(Smb2Error::BadHeaderStructureSize(header_size));
    }
    let header_flags = u32_at(bytes, 16).ok_or(truncated(20))?;
    if header_flags & flags::SERVER_TO_REDIR == 0 {
        return Err(Smb2Error::NotAResponse(header_flags));
    }
    let got = read16(12)?;
    if got != command {
        return Err(Smb2Error::UnexpectedCommand(got));
    }
    Ok(ResponseHeader {
        status: u32_at(bytes, 8).ok_or(truncated(12))?,
        credits_granted: read16(14)?,
        message_id: u64_at(bytes, 24).ok_or(truncated(32))?,
    })
}
