//! NetBIOS Name Service queries (RFC 1002, section 4.2.12), built by hand.
//!
//! Just enough of the name service to ask a server "what is the address of
//! `NAME<suffix>`?" over unicast UDP and read its answer: used by
//! [`crate::samba`] to tell when nmbd is ready, and by tests that check
//! what nmbd answers. The encoder here is deliberately independent of the
//! crates under test.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

/// Suffix (16th byte) of the name a file server registers (`<20>`).
pub const SUFFIX_FILE_SERVER: u8 = 0x20;
/// Suffix of the workstation / computer name (`<00>`).
pub const SUFFIX_WORKSTATION: u8 = 0x00;

/// Length of an encoded name as it appears in a packet: one length byte,
/// 32 encoded characters, one terminating zero-length label.
pub const ENCODED_NAME_LEN: usize = 34;
/// Length of a name query request without a scope: 12 (header) + 34
/// (name) + 2 (type) + 2 (class).
pub const NAME_QUERY_LEN: usize = 50;

/// Record type NB (NetBIOS general name service resource record).
const RR_TYPE_NB: u16 = 0x0020;
/// Record class IN (Internet).
const RR_CLASS_IN: u16 = 0x0001;

/// First-level-encode a NetBIOS name with no scope (RFC 1001 section 14.1).
///
/// The name is upper-cased and padded with spaces to 15 bytes (the
/// wildcard `*` is padded with zero bytes instead), then `suffix` is
/// appended as byte 16. Each of the 16 bytes becomes two characters:
/// `'A' + high nibble`, then `'A' + low nibble`. The 32 characters are
/// preceded by their length (0x20) and followed by a zero byte, the empty
/// root label.
///
/// # Panics
///
/// Panics if `name` is longer than 15 bytes or is not ASCII.
pub fn encode_name(name: &str, suffix: u8) -> [u8; ENCODED_NAME_LEN] {
    assert!(name.is_ascii(), "NetBIOS name {name:?} is not ASCII");
    assert!(name.len() <= 15, "NetBIOS name {name:?} is longer than 15 bytes");
    let pad = if name == "*" { 0u8 } else { b' ' };
    let mut raw = [pad; 16];
    for (dst, src) in raw.iter_mut().zip(name.bytes()) {
        *dst = src.to_ascii_uppercase();
    }
    raw[15] = suffix;

    let mut out = [0u8; ENCODED_NAME_LEN];
    out[0] = 32; // label length
    for (i, byte) in raw.iter().enumerate() {
        out[1 + 2 * i] = b'A' + (byte >> 4);
        out[2 + 2 * i] = b'A' + (byte & 0x0f);
    }
    out[33] = 0; // terminating empty label
    out
}

/// Build a 50-byte NAME QUERY REQUEST for `name<suffix>`.
///
/// Layout (all integers big-endian):
///
/// | offset | size | field | value |
/// |-------:|-----:|-------|-------|
/// | 0  | 2  | NAME_TRN_ID | `transaction_id`, echoed in the response |
/// | 2  | 2  | flags: R (bit 15) = 0 request; OPCODE (bits 14-11) = 0 query; AA, TC = 0; RD (bit 8) = `recursion_desired`; RA = 0; B (bit 4) = 0 unicast; RCODE = 0 | `0x0100` or `0x0000` |
/// | 4  | 2  | QDCOUNT | 1 |
/// | 6  | 2  | ANCOUNT | 0 |
/// | 8  | 2  | NSCOUNT | 0 |
/// | 10 | 2  | ARCOUNT | 0 |
/// | 12 | 34 | QUESTION_NAME | [`encode_name`]`(name, suffix)` |
/// | 46 | 2  | QUESTION_TYPE | `0x0020` (NB) |
/// | 48 | 2  | QUESTION_CLASS | `0x0001` (IN) |
///
/// Samba's nmbd (4.17) stays silent about a name it does not know when RD
/// is set, and sends a negative response (RCODE 3) when it is clear; own
/// names get a positive answer either way.
pub fn name_query_packet(transaction_id: u16, name: &str, suffix: u8, recursion_desired: bool) -> [u8; NAME_QUERY_LEN] {
    let mut p = [0u8; NAME_QUERY_LEN];
    p[0..2].copy_from_slice(&transaction_id.to_be_bytes());
    let flags: u16 = if recursion_desired { 0x0100 } else { 0x0000 };
    p[2..4].copy_from_slice(&flags.to_be_bytes());
    p[4..6].copy_from_slice(&1u16.to_be_bytes()); // QDCOUNT
                                                  // ANCOUNT, NSCOUNT, ARCOUNT stay 0 (bytes 6..12).
    p[12..46].copy_from_slice(&encode_name(name, suffix));
    p[46..48].copy_from_slice(&RR_TYPE_NB.to_be_bytes());
    p[48..50].copy_from_slice(&RR_CLASS_IN.to_be_bytes());
    p
}

/// What a name server said to a name query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryOutcome {
    /// Positive response (RCODE 0) with the addresses from the answer's
    /// NB records, in order, and the answer's TTL in seconds.
    Positive {
        /// IPv4 addresses (`NB_ADDRESS` fields) of the answer record.
        addresses: Vec<Ipv4Addr>,
        /// TTL of the answer record, seconds.
        ttl: u32,
    },
    /// Negative response; `rcode` is the response code (3 = name error,
    /// i.e. the name does not exist).
    Negative {
        /// RCODE from the flags field.
        rcode: u8,
    },
    /// No response arrived before the timeout.
    NoAnswer,
}

impl QueryOutcome {
    /// The addresses of a positive answer, or an empty slice.
    pub fn addresses(&self) -> &[Ipv4Addr] {
        match self {
            QueryOutcome::Positive { addresses, .. } => addresses,
            _ => &[],
        }
    }
}

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// Parse a datagram as the response to the query with `transaction_id`.
///
/// Returns `Ok(None)` for a datagram that is not a name query response
/// with that transaction id (a caller keeps waiting), `Ok(Some(_))` for a
/// positive or negative response, and an error for a matching response
/// that is malformed.
pub fn parse_name_query_response(transaction_id: u16, packet: &[u8]) -> io::Result<Option<QueryOutcome>> {
    if packet.len() < 12 {
        return Ok(None);
    }
    let be16 = |at: usize| u16::from_be_bytes([packet[at], packet[at + 1]]);
    let flags = be16(2);
    let is_response = flags & 0x8000 != 0;
    let opcode = (flags >> 11) & 0x0f;
    if be16(0) != transaction_id || !is_response || opcode != 0 {
        return Ok(None);
    }
    let rcode = (flags & 0x000f) as u8;
    if rcode != 0 {
        return Ok(Some(QueryOutcome::Negative { rcode }));
    }
    let ancount = be16(6);
    if ancount == 0 {
        return Err(invalid("positive name query response without an answer"));
    }
    // Answer record: RR_NAME, RR_TYPE, RR_CLASS, TTL, RDLENGTH, RDATA.
    let mut at = 12;
    at = skip_name(packet, at)?;
    if packet.len() < at + 10 {
        return Err(invalid("name query response truncated in answer header"));
    }
    let rr_type = be16(at);
    let ttl = u32::from_be_bytes([packet[at + 4], packet[at + 5], packet[at + 6], packet[at + 7]]);
    let rdlength = usize::from(be16(at + 8));
    at += 10;
    if rr_type != RR_TYPE_NB {
        return Err(invalid(format!("answer record type {rr_type:#06x}, expected NB")));
    }
    if packet.len() < at + rdlength || rdlength % 6 != 0 {
        return Err(invalid(format!("bad NB RDATA length {rdlength}")));
    }
    // RDATA: repeated (NB_FLAGS: u16, NB_ADDRESS: 4 bytes).
    let addresses = packet[at..at + rdlength]
        .chunks_exact(6)
        .map(|entry| Ipv4Addr::new(entry[2], entry[3], entry[4], entry[5]))
        .collect();
    Ok(Some(QueryOutcome::Positive { addresses, ttl }))
}

/// Skip an encoded (possibly compressed) domain name starting at `at`.
fn skip_name(packet: &[u8], mut at: usize) -> io::Result<usize> {
    loop {
        let len = *packet
            .get(at)
            .ok_or_else(|| invalid("name query response truncated in a name"))?;
        if len & 0xc0 == 0xc0 {
            // Label pointer: two bytes, ends the name.
            return Ok(at + 2);
        }
        at += 1 + usize::from(len);
        if len == 0 {
            return Ok(at);
        }
    }
}

static NEXT_ID: AtomicU16 = AtomicU16::new(0);

fn next_transaction_id() -> u16 {
    // Start somewhere different in each process; uniqueness within a
    // process is what matters for matching responses.
    let seed = (std::process::id() as u16).wrapping_mul(0x9e37);
    seed.wrapping_add(NEXT_ID.fetch_add(1, Ordering::Relaxed))
}

/// Send one unicast name query for `name<suffix>` to `server` and wait up
/// to `timeout` for its response.
///
/// The socket is connected to `server`, so only datagrams from that address
/// count, and a port with nothing bound is reported as an
/// `ErrorKind::ConnectionRefused` error (from the ICMP port-unreachable)
/// rather than as [`QueryOutcome::NoAnswer`].
pub fn query_name(
    server: SocketAddr,
    name: &str,
    suffix: u8,
    recursion_desired: bool,
    timeout: Duration,
) -> io::Result<QueryOutcome> {
    let local: SocketAddr = if server.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local)?;
    socket.connect(server)?;
    let id = next_transaction_id();
    socket.send(&name_query_packet(id, name, suffix, recursion_desired))?;

    let deadline = Instant::now() + timeout;
    let mut buf = [0u8; 576];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(QueryOutcome::NoAnswer);
        }
        socket.set_read_timeout(Some(left))?;
        match socket.recv(&mut buf) {
            Ok(n) => {
                if let Some(outcome) = parse_name_query_response(id, &buf[..n])? {
                    return Ok(outcome);
                }
            }
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                return Ok(QueryOutcome::NoAnswer);
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_names_nibble_by_nibble() {
        let enc = encode_name("rxcetest", 0x20);
        assert_eq!(enc[0], 32);
        // 'R' = 0x52 -> 'F' 'C'; space = 0x20 -> 'C' 'A'; suffix 0x20 -> "CA".
        assert_eq!(&enc[1..3], b"FC");
        assert_eq!(&enc[17..19], b"CA");
        assert_eq!(&enc[31..33], b"CA");
        assert_eq!(enc[33], 0);
        let wildcard = encode_name("*", 0);
        assert_eq!(&wildcard[1..5], b"CKAA");
    }

    #[test]
    fn query_packet_is_50_bytes_with_expected_fields() {
        let p = name_query_packet(0x1234, "RXCETEST", 0x20, true);
        assert_eq!(p.len(), 50);
        assert_eq!(&p[0..4], &[0x12, 0x34, 0x01, 0x00]);
        assert_eq!(&p[4..12], &[0, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&p[46..50], &[0x00, 0x20, 0x00, 0x01]);
        assert_eq!(name_query_packet(1, "X", 0, false)[2..4], [0, 0]);
    }

    #[test]
    fn parses_positive_and_negative_responses() {
        let mut pos = vec![0x12, 0x34, 0x85, 0x80, 0, 0, 0, 1, 0, 0, 0, 0];
        pos.extend_from_slice(&encode_name("RXCETEST", 0x20));
        pos.extend_from_slice(&[0, 0x20, 0, 1, 0, 0x03, 0xf4, 0x80, 0, 6, 0, 0, 127, 0, 0, 2]);
        assert_eq!(
            parse_name_query_response(0x1234, &pos).unwrap(),
            Some(QueryOutcome::Positive {
                addresses: vec![Ipv4Addr::new(127, 0, 0, 2)],
                ttl: 259_200
            })
        );
        assert_eq!(parse_name_query_response(0x1235, &pos).unwrap(), None);

        let mut neg = vec![0x12, 0x34, 0x85, 0x83, 0, 0, 0, 1, 0, 0, 0, 0];
        neg.extend_from_slice(&encode_name("NOSUCH", 0x20));
        neg.extend_from_slice(&[0, 0x0a, 0, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            parse_name_query_response(0x1234, &neg).unwrap(),
            Some(QueryOutcome::Negative { rcode: 3 })
        );
    }
}
