//! The NEGOTIATE response parser.

use crate::context::{parse_context_list, NegotiateContext};
use crate::error::Smb2Error;
use crate::header::parse_response_header;
use crate::wire::{array_at, u16_at, u32_at, u64_at};
use crate::HEADER_LEN;
use crate::{command, context_type, dialect, security_mode, status};

/// `StructureSize` of the NEGOTIATE response body.
const RESPONSE_STRUCTURE_SIZE: u16 = 65;
/// Length of the fixed part of the NEGOTIATE response body (the structure
/// size counts one byte of the variable buffer too).
const RESPONSE_FIXED_LEN: usize = 64;
/// `StructureSize` of the SMB2 ERROR response body.
const ERROR_STRUCTURE_SIZE: u16 = 9;
/// The first offset (from the header start) where variable data may lie.
const VARIABLE_START: usize = HEADER_LEN + RESPONSE_FIXED_LEN;

/// A parsed SMB2 NEGOTIATE response: the interesting header fields and the
/// whole response body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiateResponse {
    /// `Status` of the header: [`status::SUCCESS`] in practice, or a
    /// warning/informational status that came with a full NEGOTIATE body.
    pub status: u32,
    /// `MessageId` of the header, the id of the request answered.
    pub message_id: u64,
    /// `CreditResponse` of the header.
    pub credits_granted: u16,
    /// `SecurityMode`: [`security_mode`](crate::security_mode) bits.
    pub security_mode: u16,
    /// `DialectRevision`: the dialect the server chose (see
    /// [`dialect`](crate::dialect)).
    pub dialect: u16,
    /// `ServerGuid`; print it with [`format_guid`](crate::format_guid).
    pub server_guid: [u8; 16],
    /// `Capabilities`: [`capability`](crate::capability) bits.
    pub capabilities: u32,
    /// `MaxTransactSize` in bytes.
    pub max_transact_size: u32,
    /// `MaxReadSize` in bytes.
    pub max_read_size: u32,
    /// `MaxWriteSize` in bytes.
    pub max_write_size: u32,
    /// `SystemTime`: the server's clock as a Windows FILETIME (100 ns ticks
    /// since 1601-01-01 UTC).
    pub system_time: u64,
    /// `ServerStartTime`: a FILETIME, usually 0.
    pub server_start_time: u64,
    /// The security buffer: usually a SPNEGO `negTokenInit` (GSS-API) blob
    /// listing the server's authentication mechanisms; may be empty.
    pub security_blob: Vec<u8>,
    /// Negotiate contexts, present only when [`dialect`](Self::dialect) is
    /// SMB 3.1.1; empty otherwise.
    pub contexts: Vec<NegotiateContext>,
}

impl NegotiateResponse {
    /// The first context of the given [`context_type`](crate::context_type),
    /// if the server sent one.
    pub fn context(&self, context_type: u16) -> Option<&NegotiateContext> {
        self.contexts.iter().find(|c| c.context_type == context_type)
    }

    /// The cipher the server selected in its `ENCRYPTION_CAPABILITIES`
    /// context: `Ok(None)` when there is no such context, `Ok(Some(`
    /// [`cipher::NONE`](crate::cipher::NONE)`))` when it accepted none.
    ///
    /// # Errors
    ///
    /// [`Smb2Error::MalformedContext`] if the context is malformed or does
    /// not hold exactly one cipher.
    pub fn cipher(&self) -> Result<Option<u16>, Smb2Error> {
        let Some(ctx) = self.context(context_type::ENCRYPTION_CAPABILITIES) else {
            return Ok(None);
        };
        match ctx.ciphers()?.as_slice() {
            [one] => Ok(Some(*one)),
            _ => Err(Smb2Error::MalformedContext {
                context_type: ctx.context_type,
                reason: "a response must select exactly one cipher",
            }),
        }
    }

    /// Whether the server requires signing (`SIGNING_REQUIRED` in its
    /// security mode).
    pub fn signing_required(&self) -> bool {
        self.security_mode & security_mode::SIGNING_REQUIRED != 0
    }
}

/// Parses an SMB2 NEGOTIATE response. `bytes` is one SMB2 message starting at
/// its header, without transport framing; bytes after the message are
/// ignored.
///
/// Checks, in order: the `ProtocolId` (an SMB1 message gives
/// [`Smb2Error::Smb1Reply`]), the header `StructureSize` (64), the
/// `SERVER_TO_REDIR` flag, the command (NEGOTIATE). A non-success status with
/// an ERROR body (`StructureSize` 9) gives [`Smb2Error::ServerStatus`].
/// Otherwise the body must have `StructureSize` 65 and its 64-byte fixed part
/// must be present; the security buffer must lie between the end of the fixed
/// body and the end of the message; for SMB 3.1.1 the negotiate contexts must
/// start 8-byte aligned after the fixed body and each must fit in the message.
///
/// Never panics, whatever the input.
///
/// # Errors
///
/// The first failed check, as an [`Smb2Error`].
pub fn parse_negotiate_response(bytes: &[u8]) -> Result<NegotiateResponse, Smb2Error> {
    let truncated = |needed: usize| Smb2Error::Truncated {
        needed,
        actual: bytes.len(),
    };

    // --- Header -----------------------------------------------------------
    let header = parse_response_header(bytes, command::NEGOTIATE)?;
    let (status, credits_granted, message_id) = (header.status, header.credits_granted, header.message_id);
    let read16 = |off| u16_at(bytes, off).ok_or(truncated(off + 2));
    let read32 = |off| u32_at(bytes, off).ok_or(truncated(off + 4));
    let read64 = |off| u64_at(bytes, off).ok_or(truncated(off + 8));

    // --- Body -------------------------------------------------------------
    let b = HEADER_LEN; // body start
    let body_size = read16(b)?;
    if status != status::SUCCESS && body_size == ERROR_STRUCTURE_SIZE {
        return Err(Smb2Error::ServerStatus(status));
    }
    if body_size != RESPONSE_STRUCTURE_SIZE {
        return Err(Smb2Error::BadBodyStructureSize(body_size));
    }
    if bytes.len() < VARIABLE_START {
        return Err(truncated(VARIABLE_START));
    }
    let security_mode = read16(b + 2)?;
    let dialect = read16(b + 4)?;
    let context_count = read16(b + 6)?;
    let server_guid: [u8; 16] = array_at(bytes, b + 8).ok_or(truncated(b + 24))?;
    let capabilities = read32(b + 24)?;
    let max_transact_size = read32(b + 28)?;
    let max_read_size = read32(b + 32)?;
    let max_write_size = read32(b + 36)?;
    let system_time = read64(b + 40)?;
    let server_start_time = read64(b + 48)?;
    let sec_offset = read16(b + 56)?;
    let sec_length = read16(b + 58)?;
    let context_offset = read32(b + 60)?;

    // --- Security buffer --------------------------------------------------
    let security_blob = if sec_length == 0 {
        // Servers with nothing to send may leave the offset at anything.
        Vec::new()
    } else {
        let start = usize::from(sec_offset);
        let end = start + usize::from(sec_length);
        if start < VARIABLE_START {
            None
        } else {
            bytes.get(start..end)
        }
        .ok_or(Smb2Error::SecurityBufferOutOfBounds {
            offset: sec_offset,
            length: sec_length,
            message_len: bytes.len(),
        })?
        .to_vec()
    };

    // --- Negotiate contexts (3.1.1 only) ------------------------------------
    let contexts = if dialect == dialect::SMB3_1_1 && context_count > 0 {
        parse_context_list(bytes, context_offset, context_count, VARIABLE_START)?
    } else {
        Vec::new()
    };

    Ok(NegotiateResponse {
        status,
        message_id,
        credits_granted,
        security_mode,
        dialect,
        server_guid,
        capabilities,
        max_transact_size,
        max_read_size,
        max_write_size,
        system_time,
        server_start_time,
        security_blob,
        contexts,
    })
}
