//! A minimal, sans-I/O SMB2 client: the messages a read-only redirector
//! needs (and ECHO, the smallest request a negotiated connection answers),
//! and its credit and READ state machines.
//!
//! This crate knows how to build the first message an SMB2/SMB3 client sends
//! (a NEGOTIATE request, see [`NegotiateRequest`]) and how to read the server's
//! answer (see [`parse_negotiate_response`]); the requests and answers that
//! follow ([`RequestHeader`], [`Compound`] and [`ResponseHeader`] for every
//! message, then [`ntlmssp`] and [`session`] to log on and reach a share,
//! [`file`](mod@file) and [`directory`] to open, read, list and close); and two state
//! machines for the client's side: the credit window ([`credits`]) and the
//! pipeline of READs of one file ([`pipeline`]). It never touches a socket:
//! byte slices go in, values come out. It also never adds or strips a transport
//! header — the caller frames the message itself (for direct TCP on port 445
//! that is one zero byte followed by the 24-bit big-endian message length).
//!
//! All multi-byte fields on the wire are little-endian. Offsets found inside
//! an SMB2 message (security buffer, negotiate contexts) count from the first
//! byte of the 64-byte SMB2 header, which is the first byte of the slices this
//! crate takes and returns.
//!
//! Parsing is total: any byte slice yields either a value or an
//! [`Smb2Error`], never a panic.
//!
//! # Example
//!
//! ```
//! use rxce_smb2::{capability, dialect, format_guid, is_smb2, parse_negotiate_response};
//! use rxce_smb2::{NegotiateRequest, Smb2Error, HEADER_LEN};
//!
//! // Offer every dialect this crate knows, with signing enabled.
//! let request = NegotiateRequest { message_id: 0, ..NegotiateRequest::default() };
//! let bytes = request.encode()?;
//! assert!(is_smb2(&bytes));
//! // The dialect array follows the 64-byte header and the 36-byte fixed body.
//! let first = u16::from_le_bytes([bytes[HEADER_LEN + 36], bytes[HEADER_LEN + 37]]);
//! assert_eq!(first, dialect::SMB2_0_2);
//!
//! // Offering nothing is refused.
//! let empty = NegotiateRequest { dialects: vec![], ..NegotiateRequest::default() };
//! assert_eq!(empty.encode(), Err(Smb2Error::NoDialects));
//!
//! // Responses are validated; a short read is an error, not a panic.
//! assert!(matches!(
//!     parse_negotiate_response(&bytes[..10]),
//!     Err(Smb2Error::Truncated { .. })
//! ));
//!
//! // Helpers for printing what a server answered.
//! assert_eq!(dialect::name(dialect::SMB3_1_1), "SMB 3.1.1");
//! assert_eq!(dialect::hex(dialect::SMB3_1_1), "0x0311");
//! assert_eq!(
//!     capability::names(capability::DFS | capability::LARGE_MTU),
//!     ["DFS", "LARGE_MTU"]
//! );
//! assert_eq!(
//!     format_guid(&[0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66,
//!                   0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]),
//!     "00112233-4455-6677-8899-aabbccddeeff"
//! );
//! # Ok::<(), Smb2Error>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod context;
pub mod credits;
pub mod directory;
mod echo;
mod error;
pub mod file;
mod header;
pub mod ntlmssp;
pub mod pipeline;
mod request;
mod response;
pub mod session;
mod status_names;
mod wire;

pub use context::{NegotiateContext, PreauthIntegrity};
pub use echo::{parse_echo_response, EchoRequest, EchoResponse};
pub use error::Smb2Error;
pub use header::{credit_charge, encode_request, next_in_chain, Compound, RequestHeader, ResponseHeader};
pub use request::{NegotiateRequest, DEFAULT_CLIENT_GUID, DEFAULT_PREAUTH_SALT, OFFERED_CIPHERS};
pub use response::{parse_negotiate_response, NegotiateResponse};

/// Length in bytes of the SMB2 sync (and async) packet header.
pub const HEADER_LEN: usize = 64;

/// The `ProtocolId` that opens every SMB2/SMB3 message: `0xFE 'S' 'M' 'B'`.
pub const PROTOCOL_ID: [u8; 4] = [0xFE, b'S', b'M', b'B'];

/// The `Protocol` field that opens every SMB1 (CIFS) message: `0xFF 'S' 'M' 'B'`.
///
/// A server that does not speak SMB2 answers an SMB2 NEGOTIATE, if at all,
/// with an SMB1 message; [`parse_negotiate_response`] reports that as
/// [`Smb2Error::Smb1Reply`].
pub const SMB1_PROTOCOL_ID: [u8; 4] = [0xFF, b'S', b'M', b'B'];

/// Tells whether `bytes` starts with the SMB2 `ProtocolId` (`0xFE 'S' 'M' 'B'`).
///
/// Only the first four bytes are looked at; a `true` answer says nothing about
/// the rest of the message being well formed.
///
/// ```
/// assert!(rxce_smb2::is_smb2(b"\xfeSMB@\0"));
/// assert!(!rxce_smb2::is_smb2(b"\xffSMBr"));
/// assert!(!rxce_smb2::is_smb2(b"\xfeSM"));
/// ```
pub fn is_smb2(bytes: &[u8]) -> bool {
    bytes.starts_with(&PROTOCOL_ID)
}

/// Formats a GUID as stored on the wire in the usual registry form
/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (lower-case hex).
///
/// SMB2 carries GUIDs in the Windows memory layout: the first group is a
/// little-endian `u32`, the second and third are little-endian `u16`s, and the
/// last eight bytes are printed in the order they appear.
///
/// ```
/// let guid = *b"\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10";
/// assert_eq!(
///     rxce_smb2::format_guid(&guid),
///     "04030201-0605-0807-090a-0b0c0d0e0f10"
/// );
/// ```
pub fn format_guid(guid: &[u8; 16]) -> String {
    use std::fmt::Write as _;

    let mut out = String::with_capacity(36);
    // The byte order to print in: groups 1-3 reversed, groups 4-5 as stored.
    const ORDER: [usize; 16] = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
    for (n, &i) in ORDER.iter().enumerate() {
        if matches!(n, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        // Writing to a String cannot fail.
        let _ = write!(out, "{:02x}", guid[i]);
    }
    out
}

/// SMB2 dialect revision numbers and helpers to print them.
pub mod dialect {
    /// SMB 2.0.2 (Windows Vista SP1 / Server 2008).
    pub const SMB2_0_2: u16 = 0x0202;
    /// SMB 2.1 (Windows 7 / Server 2008 R2).
    pub const SMB2_1: u16 = 0x0210;
    /// SMB 3.0 (Windows 8 / Server 2012).
    pub const SMB3_0: u16 = 0x0300;
    /// SMB 3.0.2 (Windows 8.1 / Server 2012 R2).
    pub const SMB3_0_2: u16 = 0x0302;
    /// SMB 3.1.1 (Windows 10 / Server 2016 and later); the only dialect that
    /// carries negotiate contexts.
    pub const SMB3_1_1: u16 = 0x0311;
    /// The "SMB 2.???" wildcard revision a server returns when it answers an
    /// SMB1 multi-protocol negotiate that offered `SMB 2.???`; a client must
    /// then send a real SMB2 NEGOTIATE.
    pub const SMB2_WILDCARD: u16 = 0x02FF;

    /// Every concrete dialect this crate can offer, oldest first.
    pub const ALL: [u16; 5] = [SMB2_0_2, SMB2_1, SMB3_0, SMB3_0_2, SMB3_1_1];

    /// A human-readable name for a dialect revision, such as `"SMB 3.1.1"`,
    /// or `"unknown"` for a value this crate does not know.
    ///
    /// ```
    /// use rxce_smb2::dialect;
    /// assert_eq!(dialect::name(dialect::SMB2_1), "SMB 2.1");
    /// assert_eq!(dialect::name(0x0400), "unknown");
    /// ```
    pub fn name(d: u16) -> &'static str {
        match d {
            SMB2_0_2 => "SMB 2.0.2",
            SMB2_1 => "SMB 2.1",
            SMB3_0 => "SMB 3.0",
            SMB3_0_2 => "SMB 3.0.2",
            SMB3_1_1 => "SMB 3.1.1",
            SMB2_WILDCARD => "SMB 2.???",
            _ => "unknown",
        }
    }

    /// The dialect revision as four lower-case hex digits with a `0x` prefix,
    /// such as `"0x0311"`.
    ///
    /// ```
    /// assert_eq!(rxce_smb2::dialect::hex(0x0202), "0x0202");
    /// assert_eq!(rxce_smb2::dialect::hex(0x02FF), "0x02ff");
    /// ```
    pub fn hex(d: u16) -> String {
        format!("{d:#06x}")
    }
}

/// Global capability bits of the NEGOTIATE request and response
/// (`SMB2_GLOBAL_CAP_*`).
pub mod capability {
    /// `SMB2_GLOBAL_CAP_DFS`: Distributed File System support.
    pub const DFS: u32 = 0x0000_0001;
    /// `SMB2_GLOBAL_CAP_LEASING`: file leasing.
    pub const LEASING: u32 = 0x0000_0002;
    /// `SMB2_GLOBAL_CAP_LARGE_MTU`: multi-credit operations.
    pub const LARGE_MTU: u32 = 0x0000_0004;
    /// `SMB2_GLOBAL_CAP_MULTI_CHANNEL`: multiple channels per session.
    pub const MULTI_CHANNEL: u32 = 0x0000_0008;
    /// `SMB2_GLOBAL_CAP_PERSISTENT_HANDLES`: persistent handles.
    pub const PERSISTENT_HANDLES: u32 = 0x0000_0010;
    /// `SMB2_GLOBAL_CAP_DIRECTORY_LEASING`: directory leasing.
    pub const DIRECTORY_LEASING: u32 = 0x0000_0020;
    /// `SMB2_GLOBAL_CAP_ENCRYPTION`: SMB 3.0/3.0.2 encryption.
    pub const ENCRYPTION: u32 = 0x0000_0040;
    /// `SMB2_GLOBAL_CAP_NOTIFICATIONS`: server-to-client notifications.
    pub const NOTIFICATIONS: u32 = 0x0000_0080;

    /// Every capability bit this crate names, with its name, lowest bit first.
    pub const ALL: [(u32, &str); 8] = [
        (DFS, "DFS"),
        (LEASING, "LEASING"),
        (LARGE_MTU, "LARGE_MTU"),
        (MULTI_CHANNEL, "MULTI_CHANNEL"),
        (PERSISTENT_HANDLES, "PERSISTENT_HANDLES"),
        (DIRECTORY_LEASING, "DIRECTORY_LEASING"),
        (ENCRYPTION, "ENCRYPTION"),
        (NOTIFICATIONS, "NOTIFICATIONS"),
    ];

    /// The names of the known capability bits set in `caps`, lowest bit
    /// first. Bits this crate does not know are left out; see [`unknown`].
    ///
    /// ```
    /// use rxce_smb2::capability;
    /// let caps = capability::DFS | capability::LEASING | capability::LARGE_MTU;
    /// assert_eq!(capability::names(caps), ["DFS", "LEASING", "LARGE_MTU"]);
    /// assert!(capability::names(0).is_empty());
    /// ```
    pub fn names(caps: u32) -> Vec<&'static str> {
        ALL.iter()
            .filter(|(bit, _)| caps & bit != 0)
            .map(|&(_, name)| name)
            .collect()
    }

    /// The bits of `caps` that [`names`] does not name.
    ///
    /// ```
    /// assert_eq!(rxce_smb2::capability::unknown(0x8000_0001), 0x8000_0000);
    /// ```
    pub fn unknown(caps: u32) -> u32 {
        caps & !ALL.iter().fold(0, |acc, (bit, _)| acc | bit)
    }
}

/// `SecurityMode` bits of the NEGOTIATE request and response.
pub mod security_mode {
    /// `SMB2_NEGOTIATE_SIGNING_ENABLED`: signing is supported.
    pub const SIGNING_ENABLED: u16 = 0x0001;
    /// `SMB2_NEGOTIATE_SIGNING_REQUIRED`: signing is required.
    pub const SIGNING_REQUIRED: u16 = 0x0002;
}

/// SMB2 header `Command` codes used by this crate.
pub mod command {
    /// `SMB2 NEGOTIATE`.
    pub const NEGOTIATE: u16 = 0x0000;
    /// `SMB2 SESSION_SETUP`.
    pub const SESSION_SETUP: u16 = 0x0001;
    /// `SMB2 LOGOFF`.
    pub const LOGOFF: u16 = 0x0002;
    /// `SMB2 TREE_CONNECT`.
    pub const TREE_CONNECT: u16 = 0x0003;
    /// `SMB2 TREE_DISCONNECT`.
    pub const TREE_DISCONNECT: u16 = 0x0004;
    /// `SMB2 CREATE`.
    pub const CREATE: u16 = 0x0005;
    /// `SMB2 CLOSE`.
    pub const CLOSE: u16 = 0x0006;
    /// `SMB2 READ`.
    pub const READ: u16 = 0x0008;
    /// `SMB2 ECHO`.
    pub const ECHO: u16 = 0x000D;
    /// `SMB2 QUERY_DIRECTORY`.
    pub const QUERY_DIRECTORY: u16 = 0x000E;

    /// The command's name, such as `"READ"`, or `"unknown"`.
    ///
    /// ```
    /// assert_eq!(rxce_smb2::command::name(rxce_smb2::command::TREE_CONNECT), "TREE_CONNECT");
    /// ```
    pub fn name(c: u16) -> &'static str {
        match c {
            NEGOTIATE => "NEGOTIATE",
            SESSION_SETUP => "SESSION_SETUP",
            LOGOFF => "LOGOFF",
            TREE_CONNECT => "TREE_CONNECT",
            TREE_DISCONNECT => "TREE_DISCONNECT",
            CREATE => "CREATE",
            CLOSE => "CLOSE",
            READ => "READ",
            ECHO => "ECHO",
            QUERY_DIRECTORY => "QUERY_DIRECTORY",
            _ => "unknown",
        }
    }
}

/// SMB2 header `Flags` bits used by this crate.
pub mod flags {
    /// `SMB2_FLAGS_SERVER_TO_REDIR`: the message is a response.
    pub const SERVER_TO_REDIR: u32 = 0x0000_0001;
    /// `SMB2_FLAGS_ASYNC_COMMAND`: the header is the async form.
    pub const ASYNC_COMMAND: u32 = 0x0000_0002;
    /// `SMB2_FLAGS_SIGNED`: the message is signed.
    pub const SIGNED: u32 = 0x0000_0008;
    /// `SMB2_FLAGS_RELATED_OPERATIONS`: a compound request acting on the
    /// session, tree and file of the one before.
    pub const RELATED_OPERATIONS: u32 = 0x0000_0004;
}

/// NT status codes this crate refers to.
pub mod status {
    pub use crate::status_names::name;

    /// `STATUS_SUCCESS`.
    pub const SUCCESS: u32 = 0x0000_0000;
    /// `STATUS_PENDING`: an interim response; the final one follows.
    pub const PENDING: u32 = 0x0000_0103;
    /// `STATUS_NO_MORE_FILES`: the end of a directory listing.
    pub const NO_MORE_FILES: u32 = 0x8000_0006;
    /// `STATUS_INVALID_PARAMETER`.
    pub const INVALID_PARAMETER: u32 = 0xC000_000D;
    /// `STATUS_END_OF_FILE`: a READ at or past the end of the file.
    pub const END_OF_FILE: u32 = 0xC000_0011;
    /// `STATUS_MORE_PROCESSING_REQUIRED`: another SESSION_SETUP round is
    /// needed.
    pub const MORE_PROCESSING_REQUIRED: u32 = 0xC000_0016;
    /// `STATUS_ACCESS_DENIED`.
    pub const ACCESS_DENIED: u32 = 0xC000_0022;
    /// `STATUS_OBJECT_NAME_NOT_FOUND`: no such file.
    pub const OBJECT_NAME_NOT_FOUND: u32 = 0xC000_0034;
    /// `STATUS_OBJECT_PATH_NOT_FOUND`: a directory on the way does not exist.
    pub const OBJECT_PATH_NOT_FOUND: u32 = 0xC000_003A;
    /// `STATUS_LOGON_FAILURE`.
    pub const LOGON_FAILURE: u32 = 0xC000_006D;
    /// `STATUS_NOT_SUPPORTED`, what servers answer when no offered dialect is
    /// acceptable.
    pub const NOT_SUPPORTED: u32 = 0xC000_00BB;
    /// `STATUS_BAD_NETWORK_NAME`: no such share.
    pub const BAD_NETWORK_NAME: u32 = 0xC000_00CC;
    /// `STATUS_FILE_IS_A_DIRECTORY`.
    pub const FILE_IS_A_DIRECTORY: u32 = 0xC000_00BA;
    /// `STATUS_NOT_A_DIRECTORY`.
    pub const NOT_A_DIRECTORY: u32 = 0xC000_0103;
    /// `STATUS_USER_SESSION_DELETED`.
    pub const USER_SESSION_DELETED: u32 = 0xC000_0203;
    /// `STATUS_NETWORK_SESSION_EXPIRED`.
    pub const NETWORK_SESSION_EXPIRED: u32 = 0xC000_035C;
}

/// Negotiate context types (`SMB2_*_CAPABILITIES` and friends), SMB 3.1.1 only.
pub mod context_type {
    /// `SMB2_PREAUTH_INTEGRITY_CAPABILITIES`.
    pub const PREAUTH_INTEGRITY_CAPABILITIES: u16 = 0x0001;
    /// `SMB2_ENCRYPTION_CAPABILITIES`.
    pub const ENCRYPTION_CAPABILITIES: u16 = 0x0002;
    /// `SMB2_COMPRESSION_CAPABILITIES`.
    pub const COMPRESSION_CAPABILITIES: u16 = 0x0003;
    /// `SMB2_NETNAME_NEGOTIATE_CONTEXT_ID`.
    pub const NETNAME_NEGOTIATE_CONTEXT_ID: u16 = 0x0005;
    /// `SMB2_TRANSPORT_CAPABILITIES`.
    pub const TRANSPORT_CAPABILITIES: u16 = 0x0006;
    /// `SMB2_RDMA_TRANSFORM_CAPABILITIES`.
    pub const RDMA_TRANSFORM_CAPABILITIES: u16 = 0x0007;
    /// `SMB2_SIGNING_CAPABILITIES`.
    pub const SIGNING_CAPABILITIES: u16 = 0x0008;

    /// A short name for a context type, or `"unknown"`.
    ///
    /// ```
    /// use rxce_smb2::context_type;
    /// assert_eq!(context_type::name(context_type::ENCRYPTION_CAPABILITIES), "ENCRYPTION");
    /// ```
    pub fn name(t: u16) -> &'static str {
        match t {
            PREAUTH_INTEGRITY_CAPABILITIES => "PREAUTH_INTEGRITY",
            ENCRYPTION_CAPABILITIES => "ENCRYPTION",
            COMPRESSION_CAPABILITIES => "COMPRESSION",
            NETNAME_NEGOTIATE_CONTEXT_ID => "NETNAME",
            TRANSPORT_CAPABILITIES => "TRANSPORT",
            RDMA_TRANSFORM_CAPABILITIES => "RDMA_TRANSFORM",
            SIGNING_CAPABILITIES => "SIGNING",
            _ => "unknown",
        }
    }
}

/// Pre-authentication integrity hash algorithm identifiers.
pub mod hash_algorithm {
    /// SHA-512, the only algorithm SMB 3.1.1 defines.
    pub const SHA_512: u16 = 0x0001;

    /// A short name for a hash algorithm id, or `"unknown"`.
    pub fn name(h: u16) -> &'static str {
        match h {
            SHA_512 => "SHA-512",
            _ => "unknown",
        }
    }
}

/// Encryption cipher identifiers of the `ENCRYPTION_CAPABILITIES` context.
pub mod cipher {
    /// No common cipher: what a server answers when it accepts none offered.
    pub const NONE: u16 = 0x0000;
    /// AES-128-CCM.
    pub const AES_128_CCM: u16 = 0x0001;
    /// AES-128-GCM.
    pub const AES_128_GCM: u16 = 0x0002;
    /// AES-256-CCM.
    pub const AES_256_CCM: u16 = 0x0003;
    /// AES-256-GCM.
    pub const AES_256_GCM: u16 = 0x0004;

    /// A short name for a cipher id, such as `"AES-128-GCM"`, or `"unknown"`.
    ///
    /// ```
    /// assert_eq!(rxce_smb2::cipher::name(rxce_smb2::cipher::AES_128_GCM), "AES-128-GCM");
    /// ```
    pub fn name(c: u16) -> &'static str {
        match c {
            NONE => "none",
            AES_128_CCM => "AES-128-CCM",
            AES_128_GCM => "AES-128-GCM",
            AES_256_CCM => "AES-256-CCM",
            AES_256_GCM => "AES-256-GCM",
            _ => "unknown",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_all_zero_and_all_ff() {
        assert_eq!(format_guid(&[0; 16]), "00000000-0000-0000-0000-000000000000");
        assert_eq!(format_guid(&[0xff; 16]), "ffffffff-ffff-ffff-ffff-ffffffffffff");
    }

    #[test]
    fn dialect_names_and_hex() {
        let expected = ["SMB 2.0.2", "SMB 2.1", "SMB 3.0", "SMB 3.0.2", "SMB 3.1.1"];
        for (d, name) in dialect::ALL.iter().zip(expected) {
            assert_eq!(dialect::name(*d), name);
        }
        assert_eq!(dialect::name(0), "unknown");
        assert_eq!(dialect::hex(dialect::SMB3_1_1), "0x0311");
        assert_eq!(dialect::hex(dialect::SMB2_1), "0x0210");
        assert_eq!(dialect::hex(0xffff), "0xffff");
    }

    #[test]
    fn capability_names_every_bit() {
        assert_eq!(
            capability::names(0xff),
            [
                "DFS",
                "LEASING",
                "LARGE_MTU",
                "MULTI_CHANNEL",
                "PERSISTENT_HANDLES",
                "DIRECTORY_LEASING",
                "ENCRYPTION",
                "NOTIFICATIONS"
            ]
        );
        assert_eq!(capability::names(0xffff_ff00), Vec::<&str>::new());
        assert_eq!(capability::unknown(0xffff_ffff), 0xffff_ff00);
        assert_eq!(capability::unknown(0xff), 0);
    }

    #[test]
    fn is_smb2_checks_only_the_protocol_id() {
        assert!(is_smb2(&PROTOCOL_ID));
        assert!(!is_smb2(&SMB1_PROTOCOL_ID));
        assert!(!is_smb2(&[]));
        assert!(!is_smb2(&[0xfe, b'S', b'M', b'b']));
    }
}
