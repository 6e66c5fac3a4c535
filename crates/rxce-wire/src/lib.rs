//! Sans-I/O wire formats of the transports used by rxce: NetBIOS, and the
//! message framings of SMB, ONC RPC and 9P.
//!
//! This crate turns byte slices into typed values and typed values into
//! bytes. It opens no sockets, never blocks or awaits, and reads no clock:
//! the engine in `rxce` owns all I/O and timing and hands this crate the
//! bytes it has received so far. Parsers that work on a stream say "not
//! yet" (`Ok(None)` or [`WireError::Truncated`]) instead of waiting, and
//! every length read from the wire is validated once, before the bytes it
//! covers are used.
//!
//! These formats are covered, one module each:
//!
//! * [`nbname`] — NetBIOS names (RFC 1001 §14): the 16-byte name with its
//!   type suffix, its text forms (`FRED`, `FRED<20>`), and its on-the-wire
//!   encoding (first-level half-ASCII characters, then length-prefixed
//!   labels with the optional scope).
//! * [`nbss`] — NetBIOS session service packets (RFC 1002 §4.3): the
//!   session request sent after connecting to port 139, and the positive,
//!   negative, retarget and keepalive responses.
//! * [`framing`] — the 4-byte length header in front of every message of an
//!   established session, for NetBIOS sessions (port 139) and for SMB
//!   direct-hosted TCP (port 445).
//! * [`nbns`] — NetBIOS name service packets (RFC 1002 §4.2): the name
//!   query a client broadcasts or sends to a name server, and the positive,
//!   negative, WACK and redirect responses it may get back.
//! * [`record`] — ONC RPC record marking (RFC 5531 §11): fragment headers,
//!   and how rxce cuts an outgoing record into fragments.
//! * [`ninep`] — 9P's `size[4]` in front of every message, and the 9P2000.L
//!   messages a client needs to attach to a tree and read a file.
//! * [`oncrpc`] — ONC RPC calls and replies (AUTH_NONE) and the
//!   portmapper's GETPORT and DUMP.
//!
//! All fallible functions return [`WireError`].
//!
//! # Example
//!
//! A client opening a NetBIOS session builds a session request, sends it,
//! and parses whatever has arrived so far until a response is complete:
//!
//! ```
//! use rxce_wire::{
//!     encode_session_request, parse_session_response, Framing, FrameHeader, NetbiosName,
//!     SessionResponse,
//! };
//!
//! let called = NetbiosName::parse("fileserver")?; // suffix 0x20 by default
//! let calling = NetbiosName::new("mypc", 0x00)?;
//! let request = encode_session_request(&called, &calling, None)?;
//! assert_eq!(&request[..4], &[0x81, 0x00, 0x00, 68]); // two 34-byte names
//!
//! // Bytes trickle in from the server: first an incomplete header...
//! assert_eq!(parse_session_response(&[0x82, 0x00])?, None);
//! // ...then a positive response and the start of the next frame.
//! let received = [0x82, 0x00, 0x00, 0x00, 0x00, 0x00];
//! let (response, used) = parse_session_response(&received)?.expect("complete");
//! assert_eq!((response, used), (SessionResponse::Positive, 4));
//!
//! // From now on messages are framed with a 4-byte header.
//! let framing = Framing::NetbiosSession;
//! let header = framing.encode_message_header(100)?;
//! assert_eq!(framing.decode_header(header)?, FrameHeader::Message { len: 100 });
//! # Ok::<(), rxce_wire::WireError>(())
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod error;
pub mod framing;
pub mod nbname;
pub mod nbns;
pub mod nbss;
pub mod ninep;
pub mod oncrpc;
pub mod record;

pub use error::WireError;
pub use framing::{keepalive_frame, Deframer, FrameHeader, Framing, Piece};
pub use nbname::{decode_name, encode_name, NetbiosName};
pub use nbns::{
    encode_negative_response, encode_positive_response, parse_name_query_response, NameQuery, NameQueryResponse,
    NbAddress,
};
pub use nbss::{
    encode_session_request, encode_session_response, parse_session_request, parse_session_response, NegativeCode,
    SessionRequest, SessionResponse,
};
