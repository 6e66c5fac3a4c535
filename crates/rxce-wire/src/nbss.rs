//! NetBIOS session service packets (RFC 1002 §4.3): the session request a
//! client sends right after connecting to port 139, and the responses a
//! server may answer with.
//!
//! Every session service packet starts with a 4-byte header:
//!
//! ```text
//!  byte 0       byte 1       bytes 2..4
//! +-----------+------------+------------------------+
//! | type      | flags      | length (16 bits, BE)   |
//! +-----------+------------+------------------------+
//! ```
//!
//! Bit 0 of the flags byte extends the length to 17 bits; the other flag
//! bits are reserved and must be zero. The length counts the bytes after
//! the header ("trailer").
//!
//! Messages of an established session are framed by [`crate::framing`].
//!
//! Observed with Samba 4.17: smbd answers every well-formed session request
//! positively, whatever the called name (a wrong name, a wrong suffix,
//! `*SMBSERVER`, the wildcard `*`, a scope). It answers a malformed one
//! (say a 3-byte trailer) with a negative response, code 0x82 (called name
//! not present), then closes the connection. It also accepts an SMB2
//! NEGOTIATE without any session request on its NetBIOS port, and closes the
//! connection on a second session request or an unknown packet type.

use std::fmt;
use std::net::Ipv4Addr;

use crate::error::WireError;
use crate::nbname::{self, decode_name, encode_name, NetbiosName};

/// TCP port of the NetBIOS session service.
pub const NBSS_PORT: u16 = 139;

/// Packet type of a session message (data of an established session).
pub const SESSION_MESSAGE: u8 = 0x00;
/// Packet type of a session request (client to server).
pub const SESSION_REQUEST: u8 = 0x81;
/// Packet type of a positive session response.
pub const POSITIVE_RESPONSE: u8 = 0x82;
/// Packet type of a negative session response (one-byte error code).
pub const NEGATIVE_RESPONSE: u8 = 0x83;
/// Packet type of a retarget session response (IPv4 address and port).
pub const RETARGET_RESPONSE: u8 = 0x84;
/// Packet type of a session keepalive.
pub const KEEPALIVE: u8 = 0x85;

/// Length of the session service packet header.
pub const HEADER_LEN: usize = 4;

/// Flag bit extending the header length field to 17 bits.
const LENGTH_EXTENSION: u8 = 0x01;

/// Largest trailer of a session request: two encoded names of at most 255
/// bytes each.
const MAX_REQUEST_TRAILER: usize = 2 * nbname::MAX_ENCODED_NAME_LEN;

/// Smallest trailer of a session request: two encoded names without scope.
const MIN_REQUEST_TRAILER: usize = 2 * nbname::ENCODED_NAME_LEN_WITHOUT_SCOPE;

/// Error code of a negative session response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NegativeCode {
    /// 0x80: the server is not listening on the called name.
    NotListeningOnCalledName,
    /// 0x81: the server is not listening for the calling name.
    NotListeningForCallingName,
    /// 0x82: the called name is not present on the server.
    CalledNameNotPresent,
    /// 0x83: the called name is present, but the server lacks resources.
    InsufficientResources,
    /// 0x8F: unspecified error.
    Unspecified,
    /// Any other code (never one of the codes named above).
    Other(u8),
}

impl NegativeCode {
    /// The variant for a code byte; known codes never map to `Other`.
    pub const fn from_u8(code: u8) -> NegativeCode {
        match code {
            0x80 => NegativeCode::NotListeningOnCalledName,
            0x81 => NegativeCode::NotListeningForCallingName,
            0x82 => NegativeCode::CalledNameNotPresent,
            0x83 => NegativeCode::InsufficientResources,
            0x8f => NegativeCode::Unspecified,
            other => NegativeCode::Other(other),
        }
    }

    /// The code byte sent on the wire.
    pub const fn code(self) -> u8 {
        match self {
            NegativeCode::NotListeningOnCalledName => 0x80,
            NegativeCode::NotListeningForCallingName => 0x81,
            NegativeCode::CalledNameNotPresent => 0x82,
            NegativeCode::InsufficientResources => 0x83,
            NegativeCode::Unspecified => 0x8f,
            NegativeCode::Other(code) => code,
        }
    }
}

impl fmt::Display for NegativeCode {
    /// The reason in words followed by the code, e.g.
    /// `called name not present (0x82)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reason = match self {
            NegativeCode::NotListeningOnCalledName => "not listening on called name",
            NegativeCode::NotListeningForCallingName => "not listening for calling name",
            NegativeCode::CalledNameNotPresent => "called name not present",
            NegativeCode::InsufficientResources => "called name present, but insufficient resources",
            NegativeCode::Unspecified => "unspecified error",
            NegativeCode::Other(_) => "unknown error code",
        };
        write!(f, "{reason} ({:#04x})", self.code())
    }
}

/// A server's answer to a session request (or a keepalive received while
/// waiting for one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionResponse {
    /// The session is established.
    Positive,
    /// The session was refused.
    Negative(NegativeCode),
    /// The client should connect to another address and port and send its
    /// session request there.
    Retarget {
        /// Address to connect to.
        ip: Ipv4Addr,
        /// TCP port to connect to.
        port: u16,
    },
    /// A session keepalive: no answer yet, keep waiting.
    Keepalive,
}

/// A session request as received by a server.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionRequest {
    /// The name the client wants to talk to.
    pub called: NetbiosName,
    /// The client's own name.
    pub calling: NetbiosName,
    /// The NetBIOS scope of both names.
    pub scope: Option<String>,
}

impl SessionRequest {
    /// Encodes this request; same as [`encode_session_request`].
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        encode_session_request(&self.called, &self.calling, self.scope.as_deref())
    }
}

/// Reads a session service header: packet type and 17-bit trailer length.
/// Rejects reserved flag bits.
fn read_header(header: &[u8]) -> Result<(u8, usize), WireError> {
    let flags = header[1];
    if flags & !LENGTH_EXTENSION != 0 {
        return Err(WireError::InvalidPacket("reserved header flags set"));
    }
    let len = (usize::from(flags & LENGTH_EXTENSION) << 16) | usize::from(u16::from_be_bytes([header[2], header[3]]));
    Ok((header[0], len))
}

/// Writes a session service header; `len` must fit in 17 bits.
fn header(packet_type: u8, len: usize) -> [u8; HEADER_LEN] {
    debug_assert!(len <= 0x1_ffff);
    [
        packet_type,
        ((len >> 16) as u8) & LENGTH_EXTENSION,
        (len >> 8) as u8,
        len as u8,
    ]
}

/// Encodes a session request: the 4-byte header with type 0x81, then the
/// encoded called name, then the encoded calling name, both with `scope`.
pub fn encode_session_request(
    called: &NetbiosName,
    calling: &NetbiosName,
    scope: Option<&str>,
) -> Result<Vec<u8>, WireError> {
    let name_len = nbname::encoded_name_len(scope)?;
    let mut out = Vec::with_capacity(HEADER_LEN + 2 * name_len);
    out.extend_from_slice(&header(SESSION_REQUEST, 2 * name_len));
    encode_name(called, scope, &mut out)?;
    encode_name(calling, scope, &mut out)?;
    Ok(out)
}

/// Parses a session response at the start of `bytes`.
///
/// Returns `Ok(None)` while the packet is incomplete, otherwise the
/// response and the number of bytes it occupies. The trailer length must
/// be exactly what the type calls for (positive 0, negative 1, retarget 6,
/// keepalive 0). Any other packet type — a session message, a session
/// request or an unknown type — is [`WireError::InvalidPacket`], as are
/// reserved flag bits.
pub fn parse_session_response(bytes: &[u8]) -> Result<Option<(SessionResponse, usize)>, WireError> {
    if bytes.len() < HEADER_LEN {
        return Ok(None);
    }
    let (packet_type, len) = read_header(bytes)?;
    let expected = match packet_type {
        POSITIVE_RESPONSE | KEEPALIVE => 0,
        NEGATIVE_RESPONSE => 1,
        RETARGET_RESPONSE => 6,
        SESSION_MESSAGE => {
            return Err(WireError::InvalidPacket(
                "session message where a session response was expected",
            ))
        }
        _ => return Err(WireError::InvalidPacket("not a session response")),
    };
    if len != expected {
        return Err(WireError::InvalidPacket("wrong session response length"));
    }
    let total = HEADER_LEN + len;
    let Some(trailer) = bytes.get(HEADER_LEN..total) else {
        return Ok(None);
    };
    let response = match packet_type {
        POSITIVE_RESPONSE => SessionResponse::Positive,
        KEEPALIVE => SessionResponse::Keepalive,
        NEGATIVE_RESPONSE => SessionResponse::Negative(NegativeCode::from_u8(trailer[0])),
        _ => SessionResponse::Retarget {
            ip: Ipv4Addr::new(trailer[0], trailer[1], trailer[2], trailer[3]),
            port: u16::from_be_bytes([trailer[4], trailer[5]]),
        },
    };
    Ok(Some((response, total)))
}

/// Parses a session request at the start of `bytes` (server side).
///
/// Returns `Ok(None)` while the packet is incomplete, otherwise the request
/// and the number of bytes it occupies. The packet type must be 0x81, the
/// trailer must hold exactly two encoded names, and both names must carry
/// the same scope. A length that cannot hold two names (below 68 or above
/// 510 bytes) is rejected as soon as the header is complete.
pub fn parse_session_request(bytes: &[u8]) -> Result<Option<(SessionRequest, usize)>, WireError> {
    if bytes.len() < HEADER_LEN {
        return Ok(None);
    }
    let (packet_type, len) = read_header(bytes)?;
    if packet_type != SESSION_REQUEST {
        return Err(WireError::InvalidPacket("not a session request"));
    }
    if !(MIN_REQUEST_TRAILER..=MAX_REQUEST_TRAILER).contains(&len) {
        return Err(WireError::InvalidPacket("bad session request length"));
    }
    let total = HEADER_LEN + len;
    let Some(trailer) = bytes.get(HEADER_LEN..total) else {
        return Ok(None);
    };
    // The trailer is complete, so running out of bytes inside it means the
    // names disagree with the length.
    let in_trailer = |e: WireError| match e {
        WireError::Truncated { .. } => WireError::InvalidPacket("names overrun the session request length"),
        other => other,
    };
    let (called, called_scope, used) = decode_name(trailer).map_err(in_trailer)?;
    let (calling, calling_scope, used2) = decode_name(&trailer[used..]).map_err(in_trailer)?;
    if used + used2 != len {
        return Err(WireError::InvalidPacket(
            "session request length does not match its names",
        ));
    }
    if called_scope != calling_scope {
        return Err(WireError::InvalidPacket(
            "called and calling names have different scopes",
        ));
    }
    let request = SessionRequest {
        called,
        calling,
        scope: called_scope,
    };
    Ok(Some((request, total)))
}

/// Encodes a session response (server side).
pub fn encode_session_response(r: &SessionResponse) -> Vec<u8> {
    match *r {
        SessionResponse::Positive => header(POSITIVE_RESPONSE, 0).to_vec(),
        SessionResponse::Keepalive => header(KEEPALIVE, 0).to_vec(),
        SessionResponse::Negative(code) => {
            let mut out = header(NEGATIVE_RESPONSE, 1).to_vec();
            out.push(code.code());
            out
        }
        SessionResponse::Retarget { ip, port } => {
            let mut out = header(RETARGET_RESPONSE, 6).to_vec();
            out.extend_from_slice(&ip.octets());
            out.extend_from_slice(&port.to_be_bytes());
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // FRED<20> and *SMBSERVER<20> first-level encodings, derived in
    // nbname's tests; "MYPC<00>": M=0x4D "EN", Y=0x59 "FJ", P=0x50 "FA",
    // C=0x43 "ED", 11 spaces "CA" x11, suffix 0x00 "AA".
    const SMBSERVER: &[u8; 32] = b"CKFDENECFDEFFCFGEFFCCACACACACACA";
    const MYPC: &[u8; 32] = b"ENFJFAEDCACACACACACACACACACACAAA";

    /// Session request for *SMBSERVER<20> from MYPC<00>, no scope:
    /// header 0x81, flags 0, length 68 = 0x0044, then two 34-byte names.
    fn smbserver_request() -> Vec<u8> {
        let mut v = vec![0x81, 0x00, 0x00, 0x44, 0x20];
        v.extend_from_slice(SMBSERVER);
        v.extend_from_slice(&[0x00, 0x20]);
        v.extend_from_slice(MYPC);
        v.push(0x00);
        assert_eq!(v.len(), 72);
        v
    }

    fn mypc() -> NetbiosName {
        NetbiosName::new("mypc", 0x00).unwrap()
    }

    #[test]
    fn encode_request_vector() {
        let got = encode_session_request(&NetbiosName::SMBSERVER, &mypc(), None).unwrap();
        assert_eq!(got, smbserver_request());
    }

    #[test]
    fn encode_request_with_scope() {
        // Each name grows by 1+7+1+3 = 12 bytes: 46 each, 92 = 0x5C in all.
        let got = encode_session_request(&NetbiosName::SMBSERVER, &mypc(), Some("NETBIOS.COM")).unwrap();
        assert_eq!(&got[..4], &[0x81, 0x00, 0x00, 0x5c]);
        assert_eq!(got.len(), 96);
        assert_eq!(&got[4 + 33..4 + 46], b"\x07NETBIOS\x03COM\x00");
        assert_eq!(&got[50 + 33..], b"\x07NETBIOS\x03COM\x00");
        let (req, used) = parse_session_request(&got).unwrap().unwrap();
        assert_eq!(used, 96);
        assert_eq!(req.scope.as_deref(), Some("NETBIOS.COM"));
    }

    #[test]
    fn encode_request_bad_scope() {
        assert!(matches!(
            encode_session_request(&NetbiosName::SMBSERVER, &mypc(), Some("A..B")),
            Err(WireError::InvalidName(_))
        ));
    }

    #[test]
    fn largest_request_uses_length_that_fits_16_bits() {
        // Two 255-byte names: 510 = 0x01FE, the flags byte stays 0.
        let l63 = "X".repeat(63);
        let scope = format!("{l63}.{l63}.{l63}.{}", "Y".repeat(28));
        let got = encode_session_request(&mypc(), &mypc(), Some(&scope)).unwrap();
        assert_eq!(&got[..4], &[0x81, 0x00, 0x01, 0xfe]);
        let (req, used) = parse_session_request(&got).unwrap().unwrap();
        assert_eq!((used, req.scope), (514, Some(scope)));
    }

    #[test]
    fn parse_request_vector() {
        let mut v = smbserver_request();
        v.extend_from_slice(&[0xde, 0xad]);
        let (req, used) = parse_session_request(&v).unwrap().unwrap();
        assert_eq!(used, 72);
        assert_eq!(
            req,
            SessionRequest {
                called: NetbiosName::SMBSERVER,
                calling: mypc(),
                scope: None,
            }
        );
        assert_eq!(req.encode().unwrap(), smbserver_request());
    }

    #[test]
    fn parse_request_every_prefix_needs_more() {
        let v = smbserver_request();
        for cut in 0..v.len() {
            assert_eq!(parse_session_request(&v[..cut]), Ok(None), "cut {cut}");
        }
    }

    #[test]
    fn parse_request_rejects() {
        let good = smbserver_request();
        let with = |i: usize, b: u8| {
            let mut v = good.clone();
            v[i] = b;
            parse_session_request(&v)
        };
        assert_eq!(with(0, 0x82), Err(WireError::InvalidPacket("not a session request")));
        assert_eq!(
            with(1, 0x02),
            Err(WireError::InvalidPacket("reserved header flags set"))
        );
        // 17-bit length 0x10044 is far above 510.
        assert_eq!(
            with(1, 0x01),
            Err(WireError::InvalidPacket("bad session request length"))
        );
        assert_eq!(with(3, 67), Err(WireError::InvalidPacket("bad session request length")));
        // Rejected from the header alone, before the trailer arrives.
        assert_eq!(
            parse_session_request(&[0x81, 0x00, 0x01, 0xff]),
            Err(WireError::InvalidPacket("bad session request length"))
        );
        // Length one longer than the names: the calling name is followed
        // by a stray byte inside the trailer.
        let mut v = good.clone();
        v[3] = 69;
        v.push(0);
        assert_eq!(
            parse_session_request(&v),
            Err(WireError::InvalidPacket(
                "session request length does not match its names"
            ))
        );
        // Length one shorter than the names: the calling name's terminator
        // falls outside the trailer. (67 is below the minimum length, so use
        // two 37-byte names with scope "AB" and claim 73 instead of 74.)
        let mut v = encode_session_request(&mypc(), &mypc(), Some("AB")).unwrap();
        assert_eq!(v[3], 74);
        v[3] = 73;
        assert_eq!(
            parse_session_request(&v),
            Err(WireError::InvalidPacket("names overrun the session request length"))
        );
        // Bad half-ASCII in the calling name.
        assert_eq!(with(40, b'Z'), Err(WireError::InvalidName("character outside A..=P")));
        // Compression pointer in place of the calling name.
        let mut v = good[..38].to_vec();
        v.extend_from_slice(&[0xc0, 0x04]);
        v.extend_from_slice(&[0; 32]);
        assert_eq!(
            parse_session_request(&v),
            Err(WireError::InvalidName("unexpected compression pointer"))
        );
    }

    #[test]
    fn parse_request_rejects_mixed_scopes() {
        // Called name with scope "AB" (37 bytes), calling without (34).
        let mut v = vec![0x81, 0x00, 0x00, 71];
        encode_name(&NetbiosName::SMBSERVER, Some("AB"), &mut v).unwrap();
        encode_name(&mypc(), None, &mut v).unwrap();
        assert_eq!(v.len(), 75);
        assert_eq!(
            parse_session_request(&v),
            Err(WireError::InvalidPacket(
                "called and calling names have different scopes"
            ))
        );
    }

    #[test]
    fn response_vectors() {
        // (bytes, expected) for each response type, derived from the header
        // layout: type, flags 0, 16-bit trailer length, trailer.
        let cases: Vec<(Vec<u8>, SessionResponse)> = vec![
            (vec![0x82, 0, 0, 0], SessionResponse::Positive),
            (vec![0x85, 0, 0, 0], SessionResponse::Keepalive),
            (
                vec![0x83, 0, 0, 1, 0x80],
                SessionResponse::Negative(NegativeCode::NotListeningOnCalledName),
            ),
            (
                vec![0x83, 0, 0, 1, 0x81],
                SessionResponse::Negative(NegativeCode::NotListeningForCallingName),
            ),
            (
                vec![0x83, 0, 0, 1, 0x82],
                SessionResponse::Negative(NegativeCode::CalledNameNotPresent),
            ),
            (
                vec![0x83, 0, 0, 1, 0x83],
                SessionResponse::Negative(NegativeCode::InsufficientResources),
            ),
            (
                vec![0x83, 0, 0, 1, 0x8f],
                SessionResponse::Negative(NegativeCode::Unspecified),
            ),
            (
                vec![0x83, 0, 0, 1, 0x42],
                SessionResponse::Negative(NegativeCode::Other(0x42)),
            ),
            // 192.168.1.20 port 139 = 0x008B.
            (
                vec![0x84, 0, 0, 6, 192, 168, 1, 20, 0x00, 0x8b],
                SessionResponse::Retarget {
                    ip: Ipv4Addr::new(192, 168, 1, 20),
                    port: 139,
                },
            ),
        ];
        for (bytes, expected) in cases {
            assert_eq!(encode_session_response(&expected), bytes);
            let mut padded = bytes.clone();
            padded.extend_from_slice(&[0x00, 0x00, 0x00, 0x10]);
            assert_eq!(
                parse_session_response(&padded),
                Ok(Some((expected, bytes.len()))),
                "{bytes:02x?}"
            );
            for cut in 0..bytes.len() {
                assert_eq!(
                    parse_session_response(&bytes[..cut]),
                    Ok(None),
                    "{bytes:02x?} cut {cut}"
                );
            }
        }
    }

    #[test]
    fn response_wrong_lengths() {
        let bad = WireError::InvalidPacket("wrong session response length");
        for header in [
            [0x82, 0, 0, 1],
            [0x85, 0, 0, 4],
            [0x83, 0, 0, 0],
            [0x83, 0, 0, 2],
            [0x84, 0, 0, 4],
            [0x84, 0, 0, 7],
            [0x82, 0, 1, 0],
            // Length extension bit: 0x10000.
            [0x82, 1, 0, 0],
        ] {
            assert_eq!(parse_session_response(&header), Err(bad.clone()), "{header:02x?}");
        }
        assert_eq!(
            parse_session_response(&[0x82, 0x80, 0, 0]),
            Err(WireError::InvalidPacket("reserved header flags set"))
        );
    }

    #[test]
    fn response_other_types() {
        assert_eq!(
            parse_session_response(&[0x00, 0, 0, 4, 0xfe, b'S', b'M', b'B']),
            Err(WireError::InvalidPacket(
                "session message where a session response was expected"
            ))
        );
        for t in [0x01, 0x81, 0x86, 0xff] {
            assert_eq!(
                parse_session_response(&[t, 0, 0, 0]),
                Err(WireError::InvalidPacket("not a session response")),
                "{t:#x}"
            );
        }
    }

    #[test]
    fn negative_code_text() {
        let texts = [
            (0x80, "not listening on called name (0x80)"),
            (0x81, "not listening for calling name (0x81)"),
            (0x82, "called name not present (0x82)"),
            (0x83, "called name present, but insufficient resources (0x83)"),
            (0x8f, "unspecified error (0x8f)"),
            (0x00, "unknown error code (0x00)"),
            (0x99, "unknown error code (0x99)"),
        ];
        for (code, text) in texts {
            let c = NegativeCode::from_u8(code);
            assert_eq!(c.code(), code);
            assert_eq!(c.to_string(), text);
        }
    }

    fn response_strategy() -> impl Strategy<Value = SessionResponse> {
        prop_oneof![
            Just(SessionResponse::Positive),
            Just(SessionResponse::Keepalive),
            any::<u8>().prop_map(|c| SessionResponse::Negative(NegativeCode::from_u8(c))),
            (any::<[u8; 4]>(), any::<u16>()).prop_map(|(ip, port)| SessionResponse::Retarget {
                ip: Ipv4Addr::from(ip),
                port
            }),
        ]
    }

    proptest! {
        #[test]
        fn negative_codes_round_trip(code in any::<u8>()) {
            prop_assert_eq!(NegativeCode::from_u8(code).code(), code);
        }

        #[test]
        fn responses_round_trip(r in response_strategy(), tail in prop::collection::vec(any::<u8>(), 0..8)) {
            let mut bytes = encode_session_response(&r);
            let len = bytes.len();
            bytes.extend_from_slice(&tail);
            prop_assert_eq!(parse_session_response(&bytes), Ok(Some((r, len))));
        }

        #[test]
        fn requests_round_trip(
            called in any::<[u8; 16]>(),
            calling in any::<[u8; 16]>(),
            scope in prop::option::of(
                prop::collection::vec("[A-Za-z0-9-]{1,63}", 1..4).prop_map(|l| l.join("."))
            ),
        ) {
            let req = SessionRequest {
                called: NetbiosName::from_bytes(called),
                calling: NetbiosName::from_bytes(calling),
                scope,
            };
            match req.encode() {
                Ok(bytes) => {
                    prop_assert_eq!(
                        parse_session_request(&bytes),
                        Ok(Some((req, bytes.len())))
                    );
                }
                // Only a scope too long for a 255-byte name may fail.
                Err(e) => {
                    let too_long = matches!(e, WireError::TooLong { max: 255, .. });
                    prop_assert!(too_long, "unexpected error {:?}", e);
                }
            }
        }

        #[test]
        fn parsers_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
            let _ = parse_session_response(&bytes);
            let _ = parse_session_request(&bytes);
        }

        #[test]
        fn request_parser_never_panics_on_plausible_input(
            len in 0u16..600,
            body in prop::collection::vec(prop_oneof![Just(0x20u8), Just(0u8), b'A'..=b'P', any::<u8>()], 0..600),
        ) {
            let mut bytes = vec![SESSION_REQUEST, 0];
            bytes.extend_from_slice(&len.to_be_bytes());
            bytes.extend_from_slice(&body);
            let _ = parse_session_request(&bytes);
        }
    }
}
