//! The 64-byte SMB2 packet header of every request and response after the
//! NEGOTIATE, and compound chains of messages.
//!
//! A request is built as a header plus a body written by one of the request
//! types of this crate ([`Compound`] chains several into one transport
//! message); a response is first split off its chain with
//! [`next_in_chain`], then checked with [`ResponseHeader::parse`] and read
//! by the parser of its command.

use crate::error::Smb2Error;
use crate::wire::{array_at, pad8, u16_at, u32_at, u64_at};
use crate::{flags, status, HEADER_LEN, PROTOCOL_ID, SMB1_PROTOCOL_ID};

/// The header fields a client chooses for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RequestHeader {
    /// `Command`: one of the [`command`](crate::command) codes.
    pub command: u16,
    /// `CreditCharge`: credits this request consumes (one per started 64 KiB
    /// of payload with LARGE_MTU, see [`credit_charge`]); 0 on SMB 2.0.2.
    pub credit_charge: u16,
    /// `CreditRequest`: how many credits the client would like to hold.
    pub credit_request: u16,
    /// `Flags`: [`flags`](crate::flags) bits (RELATED_OPERATIONS is set by
    /// [`Compound`] itself).
    pub flags: u32,
    /// `MessageId`: the first of the `credit_charge.max(1)` ids it uses.
    pub message_id: u64,
    /// `TreeId` (0 before TREE_CONNECT).
    pub tree_id: u32,
    /// `SessionId` (0 before the first SESSION_SETUP response).
    pub session_id: u64,
}

impl RequestHeader {
    /// Appends the 64-byte sync header with `NextCommand` 0.
    pub(crate) fn emit(&self, buf: &mut Vec<u8>) {
        buf.extend_from_slice(&PROTOCOL_ID);
        buf.extend_from_slice(&(HEADER_LEN as u16).to_le_bytes()); // StructureSize
        buf.extend_from_slice(&self.credit_charge.to_le_bytes());
        buf.extend_from_slice(&0u32.to_le_bytes()); // ChannelSequence/Reserved
        buf.extend_from_slice(&self.command.to_le_bytes());
        buf.extend_from_slice(&self.credit_request.to_le_bytes());
        buf.extend_from_slice(&self.flags.to_le_bytes());
        buf.extend_from_slice(&0u32.to_le_bytes()); // NextCommand
        buf.extend_from_slice(&self.message_id.to_le_bytes());
        buf.extend_from_slice(&0u32.to_le_bytes()); // Reserved (ProcessId)
        buf.extend_from_slice(&self.tree_id.to_le_bytes());
        buf.extend_from_slice(&self.session_id.to_le_bytes());
        buf.extend_from_slice(&[0u8; 16]); // Signature
    }
}

/// Appends the sync header of a request with no session, tree or
/// signature (NEGOTIATE, ECHO): `command` with `credit_charge`, asking for
/// `credit_request` credits, as message `message_id`.
pub(crate) fn encode_request_header(
    buf: &mut Vec<u8>,
    command: u16,
    credit_charge: u16,
    credit_request: u16,
    message_id: u64,
) {
    RequestHeader {
        command,
        credit_charge,
        credit_request,
        message_id,
        ..RequestHeader::default()
    }
    .emit(buf);
}

/// The credits a request or response with `payload` bytes costs under
/// LARGE_MTU: one per started 64 KiB, at least one.
///
/// ```
/// use rxce_smb2::credit_charge;
/// assert_eq!(credit_charge(0), 1);
/// assert_eq!(credit_charge(65_536), 1);
/// assert_eq!(credit_charge(65_537), 2);
/// assert_eq!(credit_charge(8 << 20), 128);
/// ```
pub fn credit_charge(payload: u32) -> u16 {
    let charge = payload.div_ceil(65_536).max(1);
    u16::try_from(charge).unwrap_or(u16::MAX)
}

/// One request, or a chain of requests sent as one transport message
/// (MS-SMB2 3.2.4.1.4): each header's `NextCommand` gives the offset of the
/// next, 8-byte aligned; the requests after the first carry
/// `SMB2_FLAGS_RELATED_OPERATIONS`, so that they act on the session, tree
/// and file of the one before.
#[derive(Debug, Default)]
pub struct Compound {
    bytes: Vec<u8>,
    last: Option<usize>,
    count: usize,
}

impl Compound {
    /// An empty chain.
    pub fn new() -> Compound {
        Compound::default()
    }

    /// Appends one request: `header`, then the body `body` writes.
    /// `related` sets RELATED_OPERATIONS (ignored on the first request).
    pub fn push(&mut self, mut header: RequestHeader, related: bool, body: impl FnOnce(&mut Vec<u8>)) {
        if let Some(last) = self.last {
            pad8(&mut self.bytes);
            let next = u32::try_from(self.bytes.len() - last).unwrap_or(u32::MAX);
            self.bytes[last + 20..last + 24].copy_from_slice(&next.to_le_bytes());
            if related {
                header.flags |= flags::RELATED_OPERATIONS;
            }
        }
        self.last = Some(self.bytes.len());
        header.emit(&mut self.bytes);
        body(&mut self.bytes);
        self.count += 1;
    }

    /// How many requests the chain holds.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when no request was pushed.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The encoded chain (one transport message).
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

/// A request alone: `header` then the body `body` writes.
pub fn encode_request(header: RequestHeader, body: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut compound = Compound::new();
    compound.push(header, false, body);
    compound.into_bytes()
}

/// Splits the first message off a compound response: the message (from its
/// header to the next one, or to the end) and the rest (empty at the end of
/// the chain).
///
/// # Errors
///
/// [`Smb2Error::Truncated`] when `bytes` holds no whole header, and
/// [`Smb2Error::BadNextCommand`] when `NextCommand` is not 8-byte aligned,
/// shorter than a header or past the end.
pub fn next_in_chain(bytes: &[u8]) -> Result<(&[u8], &[u8]), Smb2Error> {
    if bytes.len() < HEADER_LEN {
        return Err(Smb2Error::Truncated {
            needed: HEADER_LEN,
            actual: bytes.len(),
        });
    }
    let next = u32_at(bytes, 20).unwrap_or(0);
    if next == 0 {
        return Ok((bytes, &[]));
    }
    let at = usize::try_from(next).unwrap_or(usize::MAX);
    if at < HEADER_LEN || at % 8 != 0 || at >= bytes.len() {
        return Err(Smb2Error::BadNextCommand {
            next_command: next,
            message_len: bytes.len(),
        });
    }
    Ok(bytes.split_at(at))
}

/// The checked header of a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseHeader {
    /// `CreditCharge`.
    pub credit_charge: u16,
    /// `Status`: the NT status of the operation.
    pub status: u32,
    /// `Command`.
    pub command: u16,
    /// `CreditResponse`: credits granted with this response.
    pub credits_granted: u16,
    /// `Flags`.
    pub flags: u32,
    /// `NextCommand`: offset of the next response of a chain, or 0.
    pub next_command: u32,
    /// `MessageId` of the request answered.
    pub message_id: u64,
    /// `AsyncId` for an async header (`ASYNC_COMMAND` set), else 0.
    pub async_id: u64,
    /// `TreeId` of a sync header, else 0.
    pub tree_id: u32,
    /// `SessionId`.
    pub session_id: u64,
}

impl ResponseHeader {
    /// Checks and reads the header at the start of `bytes`: the protocol id,
    /// the structure size (64) and the SERVER_TO_REDIR flag.
    ///
    /// # Errors
    ///
    /// The first check that fails, as an [`Smb2Error`].
    pub fn parse(bytes: &[u8]) -> Result<ResponseHeader, Smb2Error> {
        let truncated = |needed| Smb2Error::Truncated {
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
        let field16 = |off| u16_at(bytes, off).unwrap_or(0);
        let field32 = |off| u32_at(bytes, off).unwrap_or(0);
        let field64 = |off| u64_at(bytes, off).unwrap_or(0);
        if usize::from(field16(4)) != HEADER_LEN {
            return Err(Smb2Error::BadHeaderStructureSize(field16(4)));
        }
        let header_flags = field32(16);
        if header_flags & flags::SERVER_TO_REDIR == 0 {
            return Err(Smb2Error::NotAResponse(header_flags));
        }
        let is_async = header_flags & flags::ASYNC_COMMAND != 0;
        Ok(ResponseHeader {
            credit_charge: field16(6),
            status: field32(8),
            command: field16(12),
            credits_granted: field16(14),
            flags: header_flags,
            next_command: field32(20),
            message_id: field64(24),
            async_id: if is_async { field64(32) } else { 0 },
            tree_id: if is_async { 0 } else { field32(36) },
            session_id: field64(40),
        })
    }

    /// True for an interim response (STATUS_PENDING in an async header): the
    /// final response to the same message id follows later.
    pub fn is_interim(&self) -> bool {
        self.status == status::PENDING && self.flags & flags::ASYNC_COMMAND != 0
    }

    /// True when the status has error severity (the two top bits set).
    pub fn is_error(&self) -> bool {
        self.status >> 30 == 3
    }
}

/// Checks the header of a response to `command`: [`ResponseHeader::parse`],
/// then the command ([`Smb2Error::UnexpectedCommand`] for another).
pub(crate) fn parse_response_header(bytes: &[u8], command: u16) -> Result<ResponseHeader, Smb2Error> {
    let header = ResponseHeader::parse(bytes)?;
    if header.command != command {
        return Err(Smb2Error::UnexpectedCommand(header.command));
    }
    Ok(header)
}

/// [`parse_response_header`], then the status: an error status (other than
/// one of `accepted`) gives [`Smb2Error::ServerStatus`].
pub(crate) fn response_for(bytes: &[u8], command: u16, accepted: &[u32]) -> Result<ResponseHeader, Smb2Error> {
    let header = parse_response_header(bytes, command)?;
    if header.is_error() && !accepted.contains(&header.status) {
        return Err(Smb2Error::ServerStatus(header.status));
    }
    Ok(header)
}

/// Checks that a response body starts with the `StructureSize` a command
/// uses and that its fixed part (`fixed` bytes) is present.
pub(crate) fn check_body(bytes: &[u8], structure_size: u16, fixed: usize) -> Result<(), Smb2Error> {
    let size = u16_at(bytes, HEADER_LEN).ok_or(Smb2Error::Truncated {
        needed: HEADER_LEN + 2,
        actual: bytes.len(),
    })?;
    if size != structure_size {
        return Err(Smb2Error::BadBodyStructureSize(size));
    }
    if bytes.len() < HEADER_LEN + fixed {
        return Err(Smb2Error::Truncated {
            needed: HEADER_LEN + fixed,
            actual: bytes.len(),
        });
    }
    Ok(())
}

/// The `offset`/`length` buffer of a response, checked to lie after the
/// fixed body (`fixed` bytes) and within the message.
pub(crate) fn buffer_at(bytes: &[u8], offset: usize, length: usize, fixed: usize) -> Result<&[u8], Smb2Error> {
    if length == 0 {
        return Ok(&[]);
    }
    let end = offset.checked_add(length);
    match end {
        Some(end) if offset >= HEADER_LEN + fixed && end <= bytes.len() => Ok(&bytes[offset..end]),
        _ => Err(Smb2Error::BufferOutOfBounds {
            offset,
            length,
            message_len: bytes.len(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command;

    fn response(command: u16, status: u32, next: u32) -> Vec<u8> {
        let mut b = encode_request(
            RequestHeader {
                command,
                message_id: 7,
                ..RequestHeader::default()
            },
            |buf| buf.extend_from_slice(&[9, 0, 0, 0, 0, 0, 0, 0]),
        );
        b[16] |= 1;
        b[8..12].copy_from_slice(&status.to_le_bytes());
        b[20..24].copy_from_slice(&next.to_le_bytes());
        b
    }

    #[test]
    fn compound_links_and_aligns() {
        let mut c = Compound::new();
        c.push(
            RequestHeader {
                command: command::CREATE,
                ..RequestHeader::default()
            },
            false,
            |b| b.extend_from_slice(&[1; 5]),
        );
        c.push(
            RequestHeader {
                command: command::CLOSE,
                ..RequestHeader::default()
            },
            true,
            |b| b.extend_from_slice(&[2; 3]),
        );
        assert_eq!(c.len(), 2);
        let bytes = c.into_bytes();
        // 64 + 5 = 69, padded to 72.
        assert_eq!(u32_at(&bytes, 20), Some(72));
        assert_eq!(bytes.len(), 72 + 64 + 3);
        assert_eq!(u32_at(&bytes, 72 + 16), Some(flags::RELATED_OPERATIONS));
        assert_eq!(u32_at(&bytes, 72 + 20), Some(0));
        assert_eq!(u32_at(&bytes, 16), Some(0));
    }

    #[test]
    fn chains_split_and_refuse_bad_offsets() {
        let mut two = response(command::CREATE, 0, 72);
        two.resize(72, 0);
        two.extend(response(command::CLOSE, 0, 0));
        let (first, rest) = next_in_chain(&two).unwrap();
        assert_eq!(first.len(), 72);
        assert_eq!(ResponseHeader::parse(rest).unwrap().command, command::CLOSE);
        assert_eq!(next_in_chain(rest).unwrap().1, &[] as &[u8]);
        for bad in [8u32, 70, 4096] {
            let mut b = two.clone();
            b[20..24].copy_from_slice(&bad.to_le_bytes());
            assert!(
                matches!(next_in_chain(&b), Err(Smb2Error::BadNextCommand { .. })),
                "{bad}"
            );
        }
        assert!(matches!(next_in_chain(&two[..10]), Err(Smb2Error::Truncated { .. })));
    }

    #[test]
    fn response_checks_command_and_status() {
        let ok = response(command::CLOSE, 0, 0);
        assert_eq!(response_for(&ok, command::CLOSE, &[]).unwrap().message_id, 7);
        assert_eq!(
            response_for(&ok, command::READ, &[]),
            Err(Smb2Error::UnexpectedCommand(command::CLOSE))
        );
        let denied = response(command::CREATE, status::ACCESS_DENIED, 0);
        assert_eq!(
            response_for(&denied, command::CREATE, &[]),
            Err(Smb2Error::ServerStatus(status::ACCESS_DENIED))
        );
        assert!(response_for(&denied, command::CREATE, &[status::ACCESS_DENIED]).is_ok());
        let mut request = ok.clone();
        request[16] = 0;
        assert!(matches!(
            ResponseHeader::parse(&request),
            Err(Smb2Error::NotAResponse(_))
        ));
    }

    #[test]
    fn interim_responses_are_async_pending() {
        let mut b = response(command::READ, status::PENDING, 0);
        assert!(!ResponseHeader::parse(&b).unwrap().is_interim());
        b[16] |= flags::ASYNC_COMMAND as u8;
        b[32..40].copy_from_slice(&99u64.to_le_bytes());
        let h = ResponseHeader::parse(&b).unwrap();
        assert!(h.is_interim());
        assert_eq!(h.async_id, 99);
        assert_eq!(h.tree_id, 0);
    }

    #[test]
    fn buffers_must_lie_after_the_fixed_body() {
        let msg = [0u8; 100];
        assert_eq!(buffer_at(&msg, 72, 28, 8).unwrap().len(), 28);
        assert!(buffer_at(&msg, 72, 29, 8).is_err());
        assert!(buffer_at(&msg, 71, 1, 8).is_err());
        assert!(buffer_at(&msg, usize::MAX, 2, 8).is_err());
        assert_eq!(buffer_at(&msg, 5000, 0, 8).unwrap(), &[] as &[u8]);
    }
}
