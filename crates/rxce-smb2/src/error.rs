//! The error type of this crate.

/// Everything that can go wrong while encoding a request or parsing a
/// response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Smb2Error {
    /// [`NegotiateRequest::encode`](crate::NegotiateRequest::encode) was asked
    /// to offer no dialect at all.
    #[error("a NEGOTIATE request must offer at least one dialect")]
    NoDialects,

    /// More dialects were offered than the 16-bit `DialectCount` can hold.
    #[error("{0} dialects offered, at most 65535 fit in a NEGOTIATE request")]
    TooManyDialects(usize),

    /// The message ends before a fixed-size part that must be present.
    #[error("SMB2 message truncated: {needed} bytes needed, {actual} present")]
    Truncated {
        /// How many bytes the message needed to have at least.
        needed: usize,
        /// How many bytes it had.
        actual: usize,
    },

    /// The message is an SMB1 (`0xFF 'S' 'M' 'B'`) message: the server does
    /// not speak SMB2, or answered in SMB1 for another reason.
    #[error("the server answered with an SMB1 message (0xFF 'SMB'), not SMB2")]
    Smb1Reply,

    /// The message does not start with the SMB2 `ProtocolId`.
    #[error(
        "not an SMB2 message: protocol id {:02x} {:02x} {:02x} {:02x}",
        .0[0], .0[1], .0[2], .0[3]
    )]
    BadProtocolId([u8; 4]),

    /// The header's `StructureSize` is not 64.
    #[error("SMB2 header StructureSize is {0}, expected 64")]
    BadHeaderStructureSize(u16),

    /// The `SMB2_FLAGS_SERVER_TO_REDIR` flag is clear: this is a request.
    #[error("SMB2 message is not a response (SERVER_TO_REDIR flag clear, flags {0:#010x})")]
    NotAResponse(u32),

    /// The header's `Command` is not the one the parser reads (NEGOTIATE,
    /// or ECHO).
    #[error("SMB2 command is {0:#06x}, not the command this parser reads")]
    UnexpectedCommand(u16),

    /// The server refused the request with this NT status and an SMB2
    /// ERROR response body.
    #[error("server answered the request with status {0:#010x}")]
    ServerStatus(u32),

    /// The NEGOTIATE response body's `StructureSize` is not 65.
    #[error("NEGOTIATE response StructureSize is {0}, expected 65")]
    BadBodyStructureSize(u16),

    /// The security buffer does not lie within the variable part of the
    /// message (after the fixed response body, before the end).
    #[error(
        "security buffer (offset {offset}, length {length}) does not fit in the \
         {message_len}-byte message"
    )]
    SecurityBufferOutOfBounds {
        /// `SecurityBufferOffset`, from the start of the SMB2 header.
        offset: u16,
        /// `SecurityBufferLength`.
        length: u16,
        /// Length of the whole SMB2 message.
        message_len: usize,
    },

    /// `NegotiateContextOffset` is not a multiple of 8, or points into the
    /// fixed part of the message or past its end.
    #[error("negotiate context offset {offset} is misaligned or out of bounds")]
    BadNegotiateContextOffset {
        /// `NegotiateContextOffset`, from the start of the SMB2 header.
        offset: u32,
    },

    /// A negotiate context (its 8-byte header or its data) runs past the end
    /// of the message.
    #[error(
        "negotiate context #{index} at offset {offset} runs past the end of the \
         {message_len}-byte message"
    )]
    NegotiateContextOutOfBounds {
        /// Zero-based position of the context in the list.
        index: usize,
        /// Where the context starts, from the start of the SMB2 header.
        offset: usize,
        /// Length of the whole SMB2 message.
        message_len: usize,
    },

    /// The data of a negotiate context cannot be decoded as its type says.
    #[error("malformed negotiate context of type {context_type:#06x}: {reason}")]
    MalformedContext {
        /// The context's `ContextType`.
        context_type: u16,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// `NextCommand` of a compound response is misaligned, shorter than a
    /// header, or past the end of the transport message.
    #[error("NextCommand {next_command} is misaligned or outside the {message_len}-byte chain")]
    BadNextCommand {
        /// The header's `NextCommand`.
        next_command: u32,
        /// Length of the rest of the chain.
        message_len: usize,
    },

    /// A response's variable buffer (security token, directory entries)
    /// does not lie between its fixed body and the end of the message.
    #[error("buffer (offset {offset}, length {length}) does not fit in the {message_len}-byte message")]
    BufferOutOfBounds {
        /// The buffer's offset, from the start of the SMB2 header.
        offset: usize,
        /// The buffer's length.
        length: usize,
        /// Length of the whole SMB2 message.
        message_len: usize,
    },

    /// A READ response's data does not lie between its fixed body and the
    /// end of the message.
    #[error("READ data (offset {offset}, length {length}) does not fit in the {message_len}-byte message")]
    ReadDataOutOfBounds {
        /// `DataOffset`.
        offset: usize,
        /// `DataLength`.
        length: usize,
        /// Length of the whole message, as the transport announced it.
        message_len: usize,
    },

    /// A QUERY_DIRECTORY entry is malformed.
    #[error("directory entry at offset {offset}: {reason}")]
    BadDirectoryEntry {
        /// Where the entry starts in the output buffer.
        offset: usize,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// An NTLMSSP token is malformed.
    #[error("bad NTLMSSP message: {0}")]
    BadNtlmssp(&'static str),
}
