//! NetBIOS name service packets (RFC 1002 §4.2): what a client needs to
//! resolve a name (the name query request and the responses to it), and
//! what a test responder needs to answer one.
//!
//! Every name service packet starts with a 12-byte header:
//!
//! ```text
//!  bytes 0..2        bytes 2..4                          bytes 4..12
//! +----------------+------------------------------------+------------------+
//! | transaction id | R | OPCODE | AA TC RD RA 0 0 B | RCODE | 4 x 16-bit counts |
//! +----------------+------------------------------------+------------------+
//! ```
//!
//! The flags word holds, from the top bit down: R (response), a 4-bit
//! OPCODE, the NM_FLAGS AA, TC, RD, RA, two zero bits and B (broadcast),
//! then a 4-bit RCODE. The counts are QDCOUNT, ANCOUNT, NSCOUNT and
//! ARCOUNT. Questions and resource records follow, their names encoded as
//! described in [`crate::nbname`]. All integers are big-endian.

use std::net::Ipv4Addr;

use crate::error::WireError;
use crate::nbname::{decode_name, encode_name, NetbiosName};

/// UDP port of the NetBIOS name service.
pub const NBNS_PORT: u16 = 137;

/// Length of the name service packet header.
pub const HEADER_LEN: usize = 12;

/// Flags word bit: the packet is a response.
pub const FLAG_RESPONSE: u16 = 0x8000;
/// Flags word bit: authoritative answer.
pub const FLAG_AA: u16 = 0x0400;
/// Flags word bit: truncated (the answer did not fit in the datagram).
pub const FLAG_TC: u16 = 0x0200;
/// Flags word bit: recursion desired.
pub const FLAG_RD: u16 = 0x0100;
/// Flags word bit: recursion available.
pub const FLAG_RA: u16 = 0x0080;
/// Flags word bit: broadcast.
pub const FLAG_B: u16 = 0x0010;

/// OPCODE of a name query.
pub const OPCODE_QUERY: u8 = 0x0;
/// OPCODE of a wait for acknowledgement (WACK) response.
pub const OPCODE_WACK: u8 = 0x7;

/// RCODE: format error, the request was badly formed.
pub const FMT_ERR: u8 = 0x1;
/// RCODE: server failure, the name server cannot process the request.
pub const SRV_ERR: u8 = 0x2;
/// RCODE: name error, the name does not exist.
pub const NAM_ERR: u8 = 0x3;
/// RCODE: unsupported request.
pub const IMP_ERR: u8 = 0x4;
/// RCODE: refused for policy reasons.
pub const RFS_ERR: u8 = 0x5;
/// RCODE: the name is owned by another node.
pub const ACT_ERR: u8 = 0x6;
/// RCODE: name in conflict.
pub const CFT_ERR: u8 = 0x7;

/// Resource record / question type NB (NetBIOS general name service).
pub const RR_TYPE_NB: u16 = 0x0020;
/// Resource record / question type NBSTAT (node status).
pub const RR_TYPE_NBSTAT: u16 = 0x0021;
/// Resource record type NULL (negative responses and WACK).
pub const RR_TYPE_NULL: u16 = 0x000a;
/// Resource record type NS (name server, in redirect responses).
pub const RR_TYPE_NS: u16 = 0x0002;
/// Resource record type A (IPv4 address, in redirect responses).
pub const RR_TYPE_A: u16 = 0x0001;
/// Resource record / question class IN (Internet).
pub const RR_CLASS_IN: u16 = 0x0001;

/// NB_FLAGS bit: the name is a group name.
pub const NB_FLAG_GROUP: u16 = 0x8000;
/// NB_FLAGS mask of the owner node type (ONT).
pub const NB_FLAG_ONT_MASK: u16 = 0x6000;
/// Owner node type B (broadcast node).
pub const ONT_B: u8 = 0;
/// Owner node type P (point-to-point node).
pub const ONT_P: u8 = 1;
/// Owner node type M (mixed node).
pub const ONT_M: u8 = 2;
/// Owner node type H (hybrid node; reserved in RFC 1002, used since).
pub const ONT_H: u8 = 3;

/// Size of one NB address entry in RDATA: NB_FLAGS and the IPv4 address.
const NB_ADDRESS_LEN: usize = 6;

/// Largest number of NB address entries that fit in a 16-bit RDLENGTH.
pub const MAX_ADDRESSES: usize = u16::MAX as usize / NB_ADDRESS_LEN;

/// One address of a name: its NB_FLAGS and its IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NbAddress {
    /// NB_FLAGS: [`NB_FLAG_GROUP`] and the owner node type in
    /// [`NB_FLAG_ONT_MASK`]; the other bits are reserved.
    pub flags: u16,
    /// The address owning the name.
    pub ip: Ipv4Addr,
}

impl NbAddress {
    /// A unique name owned by a B node at `ip` (flags 0).
    pub const fn new(ip: Ipv4Addr) -> NbAddress {
        NbAddress { flags: 0, ip }
    }

    /// Whether the name is a group name.
    pub const fn is_group(&self) -> bool {
        self.flags & NB_FLAG_GROUP != 0
    }

    /// The owner node type: [`ONT_B`], [`ONT_P`], [`ONT_M`] or [`ONT_H`].
    pub const fn owner_node_type(&self) -> u8 {
        ((self.flags & NB_FLAG_ONT_MASK) >> 13) as u8
    }
}

/// A name query request (opcode QUERY, one NB question of class IN).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NameQuery {
    /// Transaction id, echoed in the response.
    pub transaction_id: u16,
    /// The name to resolve.
    pub name: NetbiosName,
    /// The NetBIOS scope of the name.
    pub scope: Option<String>,
    /// The B flag: the query is broadcast on the local network.
    pub broadcast: bool,
    /// The RD flag: the name server should resolve the name itself.
    pub recursion_desired: bool,
}

impl NameQuery {
    /// The flags word of this query.
    pub const fn flags(&self) -> u16 {
        let mut flags = (OPCODE_QUERY as u16) << 11;
        if self.recursion_desired {
            flags |= FLAG_RD;
        }
        if self.broadcast {
            flags |= FLAG_B;
        }
        flags
    }

    /// Encodes the query: header with QDCOUNT 1, then the question (the
    /// encoded name, QTYPE NB, QCLASS IN).
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        let mut out = Vec::with_capacity(HEADER_LEN + 38);
        put_header(&mut out, self.transaction_id, self.flags(), [1, 0, 0, 0]);
        encode_name(&self.name, self.scope.as_deref(), &mut out)?;
        put_u16(&mut out, RR_TYPE_NB);
        put_u16(&mut out, RR_CLASS_IN);
        Ok(out)
    }

    /// Parses a name query request (for responders).
    ///
    /// The R bit must be clear, the opcode QUERY and QDCOUNT at least 1;
    /// the first question must be of type NB and class IN (a node status
    /// query is rejected). Other questions and records are ignored.
    pub fn parse(bytes: &[u8]) -> Result<NameQuery, WireError> {
        let mut r = Reader::new(bytes);
        let h = r.header()?;
        if h.flags & FLAG_RESPONSE != 0 {
            return Err(WireError::InvalidPacket("not a request"));
        }
        if h.opcode() != OPCODE_QUERY {
            return Err(WireError::InvalidPacket("not a name query"));
        }
        if h.qdcount == 0 {
            return Err(WireError::InvalidPacket("name query without a question"));
        }
        let (name, scope) = r.name()?;
        let qtype = r.u16()?;
        let qclass = r.u16()?;
        if qtype != RR_TYPE_NB {
            return Err(WireError::InvalidPacket("question type is not NB"));
        }
        if qclass != RR_CLASS_IN {
            return Err(WireError::InvalidPacket("question class is not IN"));
        }
        Ok(NameQuery {
            transaction_id: h.transaction_id,
            name,
            scope,
            broadcast: h.flags & FLAG_B != 0,
            recursion_desired: h.flags & FLAG_RD != 0,
        })
    }
}

/// A response to a name query.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NameQueryResponse {
    /// The name was found.
    Positive {
        /// Transaction id of the query answered.
        transaction_id: u16,
        /// The name answered for (from the answer record).
        name: NetbiosName,
        /// How long the answer may be cached, in seconds.
        ttl: u32,
        /// The addresses owning the name (at least one).
        addresses: Vec<NbAddress>,
    },
    /// The query failed; `rcode` tells why ([`NAM_ERR`] for an unknown name).
    Negative {
        /// Transaction id of the query answered.
        transaction_id: u16,
        /// The nonzero RCODE.
        rcode: u8,
    },
    /// Wait for acknowledgement: the server is busy with the query and asks
    /// the client to wait up to `ttl` seconds for the real answer.
    WaitForAck {
        /// Transaction id of the query answered.
        transaction_id: u16,
        /// How long to wait, in seconds.
        ttl: u32,
    },
    /// The server does not resolve the name itself and points to another
    /// name server (an obsolete response the client may treat as a failure).
    Redirect {
        /// Transaction id of the query answered.
        transaction_id: u16,
    },
}

impl NameQueryResponse {
    /// The transaction id of the query this response answers.
    pub const fn transaction_id(&self) -> u16 {
        match *self {
            NameQueryResponse::Positive { transaction_id, .. }
            | NameQueryResponse::Negative { transaction_id, .. }
            | NameQueryResponse::WaitForAck { transaction_id, .. }
            | NameQueryResponse::Redirect { transaction_id } => transaction_id,
        }
    }
}

/// Parses a response to a name query.
///
/// * The R bit must be set and the opcode be QUERY or WACK, else
///   [`WireError::InvalidPacket`].
/// * A nonzero RCODE gives [`NameQueryResponse::Negative`] straight from the
///   header; the rest of the packet is not inspected.
/// * Questions (QDCOUNT of them) are skipped; they matter only as targets of
///   compression pointers.
/// * WACK: the first answer record gives the TTL.
/// * QUERY with an answer record: the record name is either a full encoded
///   name or a compression pointer to an earlier name (such as `0xC00C`, the
///   question right after the header); its type must be NB, its class IN and
///   its RDATA a nonzero multiple of 6 bytes (NB_FLAGS, IPv4 address).
/// * QUERY without an answer, with AA clear and at least one NS record: a
///   redirect. The NS and additional records are checked for completeness.
///
/// Bytes after the records that were read are ignored.
pub fn parse_name_query_response(bytes: &[u8]) -> Result<NameQueryResponse, WireError> {
    let mut r = Reader::new(bytes);
    let h = r.header()?;
    let transaction_id = h.transaction_id;
    if h.flags & FLAG_RESPONSE == 0 {
        return Err(WireError::InvalidPacket("not a response"));
    }
    let opcode = h.opcode();
    if opcode != OPCODE_QUERY && opcode != OPCODE_WACK {
        return Err(WireError::InvalidPacket("not a name query response"));
    }
    let rcode = (h.flags & 0x000f) as u8;
    if rcode != 0 {
        return Ok(NameQueryResponse::Negative { transaction_id, rcode });
    }
    for _ in 0..h.qdcount {
        r.name()?;
        r.take(4)?;
    }
    if opcode == OPCODE_WACK {
        if h.ancount == 0 {
            return Err(WireError::InvalidPacket("WACK without an answer record"));
        }
        // The record type is NULL per RFC 1002, but implementations differ;
        // only the TTL matters.
        r.name()?;
        let rr = r.rr_fixed()?;
        r.take(rr.rdlength)?;
        return Ok(NameQueryResponse::WaitForAck {
            transaction_id,
            ttl: rr.ttl,
        });
    }
    if h.ancount > 0 {
        let (name, _scope) = r.name()?;
        let rr = r.rr_fixed()?;
        if rr.rr_type != RR_TYPE_NB {
            return Err(WireError::InvalidPacket("answer record type is not NB"));
        }
        if rr.rr_class != RR_CLASS_IN {
            return Err(WireError::InvalidPacket("answer record class is not IN"));
        }
        if rr.rdlength == 0 || rr.rdlength % NB_ADDRESS_LEN != 0 {
            return Err(WireError::InvalidPacket(
                "NB RDATA length is not a nonzero multiple of 6",
            ));
        }
        let rdata = r.take(rr.rdlength)?;
        let addresses = rdata
            .chunks_exact(NB_ADDRESS_LEN)
            .map(|e| NbAddress {
                flags: u16::from_be_bytes([e[0], e[1]]),
                ip: Ipv4Addr::new(e[2], e[3], e[4], e[5]),
            })
            .collect();
        return Ok(NameQueryResponse::Positive {
            transaction_id,
            name,
            ttl: rr.ttl,
            addresses,
        });
    }
    if h.flags & FLAG_AA == 0 && h.nscount > 0 {
        for _ in 0..u32::from(h.nscount) + u32::from(h.arcount) {
            r.skip_domain_name()?;
            let rr = r.rr_fixed()?;
            r.take(rr.rdlength)?;
        }
        return Ok(NameQueryResponse::Redirect { transaction_id });
    }
    Err(WireError::InvalidPacket("name query response without an answer"))
}

/// Encodes a positive name query response (for test responders): flags
/// R, AA and RD, one NB answer record for `name` in `scope` with the given
/// TTL and addresses. There must be 1 to [`MAX_ADDRESSES`] addresses.
pub fn encode_positive_response(
    transaction_id: u16,
    name: &NetbiosName,
    scope: Option<&str>,
    ttl: u32,
    addresses: &[NbAddress],
) -> Result<Vec<u8>, WireError> {
    if addresses.is_empty() {
        return Err(WireError::InvalidPacket("positive response without addresses"));
    }
    if addresses.len() > MAX_ADDRESSES {
        return Err(WireError::TooLong {
            len: addresses.len(),
            max: MAX_ADDRESSES,
        });
    }
    let rdlength = addresses.len() * NB_ADDRESS_LEN;
    let mut out = Vec::with_capacity(HEADER_LEN + 44 + rdlength);
    put_header(
        &mut out,
        transaction_id,
        FLAG_RESPONSE | FLAG_AA | FLAG_RD,
        [0, 1, 0, 0],
    );
    encode_name(name, scope, &mut out)?;
    put_rr_fixed(&mut out, RR_TYPE_NB, ttl, rdlength);
    for a in addresses {
        put_u16(&mut out, a.flags);
        out.extend_from_slice(&a.ip.octets());
    }
    Ok(out)
}

/// Encodes a negative name query response (for test responders): flags R,
/// AA and RD with `rcode`, and a NULL answer record for `name` with TTL 0
/// and no RDATA. `rcode` must be 1 to 15.
pub fn encode_negative_response(
    transaction_id: u16,
    name: &NetbiosName,
    scope: Option<&str>,
    rcode: u8,
) -> Result<Vec<u8>, WireError> {
    if rcode == 0 || rcode > 0x0f {
        return Err(WireError::InvalidPacket("negative RCODE must be 1 to 15"));
    }
    let mut out = Vec::with_capacity(HEADER_LEN + 44);
    put_header(
        &mut out,
        transaction_id,
        FLAG_RESPONSE | FLAG_AA | FLAG_RD | u16::from(rcode),
        [0, 1, 0, 0],
    );
    encode_name(name, scope, &mut out)?;
    put_rr_fixed(&mut out, RR_TYPE_NULL, 0, 0);
    Ok(out)
}

/// Encodes a WACK response to `query` (for test responders): opcode WACK,
/// flags R and AA, a NULL answer record for the queried name with the given
/// TTL and, as RDATA, the flags word of the query.
pub fn encode_wack_response(query: &NameQuery, ttl: u32) -> Result<Vec<u8>, WireError> {
    let mut out = Vec::with_capacity(HEADER_LEN + 46);
    put_header(
        &mut out,
        query.transaction_id,
        FLAG_RESPONSE | (u16::from(OPCODE_WACK) << 11) | FLAG_AA,
        [0, 1, 0, 0],
    );
    encode_name(&query.name, query.scope.as_deref(), &mut out)?;
    put_rr_fixed(&mut out, RR_TYPE_NULL, ttl, 2);
    put_u16(&mut out, query.flags());
    Ok(out)
}

/// Encodes a redirect name query response (for test responders): flags R,
/// RD and RA (AA clear), an NS record for `name` whose RDATA is the name
/// server's domain name `ns_name` (dotted, labels of 1 to 63 printable
/// ASCII bytes, 255 bytes at most encoded), and an additional A record
/// giving that server's address `ns_ip`.
pub fn encode_redirect_response(
    transaction_id: u16,
    name: &NetbiosName,
    scope: Option<&str>,
    ttl: u32,
    ns_name: &str,
    ns_ip: Ipv4Addr,
) -> Result<Vec<u8>, WireError> {
    let mut nsd = Vec::new();
    put_domain_name(&mut nsd, ns_name)?;
    let mut out = Vec::with_capacity(HEADER_LEN + 44 + 2 * nsd.len() + 14);
    put_header(
        &mut out,
        transaction_id,
        FLAG_RESPONSE | FLAG_RD | FLAG_RA,
        [0, 0, 1, 1],
    );
    encode_name(name, scope, &mut out)?;
    put_rr_fixed(&mut out, RR_TYPE_NS, ttl, nsd.len());
    out.extend_from_slice(&nsd);
    out.extend_from_slice(&nsd);
    put_rr_fixed(&mut out, RR_TYPE_A, ttl, 4);
    out.extend_from_slice(&ns_ip.octets());
    Ok(out)
}

fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn put_header(out: &mut Vec<u8>, transaction_id: u16, flags: u16, counts: [u16; 4]) {
    put_u16(out, transaction_id);
    put_u16(out, flags);
    for c in counts {
        put_u16(out, c);
    }
}

/// Writes RR_TYPE, RR_CLASS IN, TTL and RDLENGTH; `rdlength` must fit in
/// 16 bits (checked by the callers).
fn put_rr_fixed(out: &mut Vec<u8>, rr_type: u16, ttl: u32, rdlength: usize) {
    put_u16(out, rr_type);
    put_u16(out, RR_CLASS_IN);
    out.extend_from_slice(&ttl.to_be_bytes());
    put_u16(out, rdlength as u16);
}

/// Writes a plain DNS-style domain name (labels, then a zero byte).
fn put_domain_name(out: &mut Vec<u8>, name: &str) -> Result<(), WireError> {
    let mut total = 1;
    for label in name.as_bytes().split(|&b| b == b'.') {
        if label.is_empty() {
            return Err(WireError::InvalidName("empty domain name label"));
        }
        if label.len() > 63 {
            return Err(WireError::TooLong {
                len: label.len(),
                max: 63,
            });
        }
        if !label.iter().all(|b| b.is_ascii_graphic()) {
            return Err(WireError::InvalidName("bad character in domain name"));
        }
        total += 1 + label.len();
        out.push(label.len() as u8);
        out.extend_from_slice(label);
    }
    if total > 255 {
        return Err(WireError::TooLong { len: total, max: 255 });
    }
    out.push(0);
    Ok(())
}

/// The fixed fields of a name service header.
struct Header {
    transaction_id: u16,
    flags: u16,
    qdcount: u16,
    ancount: u16,
    nscount: u16,
    arcount: u16,
}

impl Header {
    fn opcode(&self) -> u8 {
        ((self.flags >> 11) & 0x0f) as u8
    }
}

/// The fixed part of a resource record, after its name.
struct RrFixed {
    rr_type: u16,
    rr_class: u16,
    ttl: u32,
    rdlength: usize,
}

/// A bounds-checked cursor over a whole packet. Every shortfall is reported
/// as [`WireError::Truncated`] with `needed` counted from the packet start.
struct Reader<'a> {
    packet: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(packet: &'a [u8]) -> Reader<'a> {
        Reader { packet, pos: 0 }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self.pos + n;
        let Some(slice) = self.packet.get(self.pos..end) else {
            return Err(WireError::Truncated { needed: end });
        };
        self.pos = end;
        Ok(slice)
    }

    fn u16(&mut self) -> Result<u16, WireError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, WireError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn header(&mut self) -> Result<Header, WireError> {
        if self.packet.len() < HEADER_LEN {
            return Err(WireError::Truncated { needed: HEADER_LEN });
        }
        Ok(Header {
            transaction_id: self.u16()?,
            flags: self.u16()?,
            qdcount: self.u16()?,
            ancount: self.u16()?,
            nscount: self.u16()?,
            arcount: self.u16()?,
        })
    }

    fn rr_fixed(&mut self) -> Result<RrFixed, WireError> {
        Ok(RrFixed {
            rr_type: self.u16()?,
            rr_class: self.u16()?,
            ttl: self.u32()?,
            rdlength: usize::from(self.u16()?),
        })
    }

    fn peek(&self) -> Result<u8, WireError> {
        self.packet
            .get(self.pos)
            .copied()
            .ok_or(WireError::Truncated { needed: self.pos + 1 })
    }

    /// Reads an encoded NetBIOS name, or a compression pointer to one that
    /// starts earlier in the packet.
    fn name(&mut self) -> Result<(NetbiosName, Option<String>), WireError> {
        let start = self.pos;
        if self.peek()? & 0xc0 == 0xc0 {
            let p = self.u16()?;
            let target = usize::from(p & 0x3fff);
            if target >= start {
                return Err(WireError::InvalidPacket("compression pointer does not point backwards"));
            }
            let (name, scope, _) = decode_name(&self.packet[target..]).map_err(|e| match e {
                WireError::Truncated { .. } => WireError::InvalidPacket("compression pointer to an incomplete name"),
                other => other,
            })?;
            return Ok((name, scope));
        }
        let (name, scope, used) = decode_name(&self.packet[start..]).map_err(|e| e.at_offset(start))?;
        self.pos += used;
        Ok((name, scope))
    }

    /// Skips a plain domain name: labels up to a zero byte or a
    /// compression pointer.
    fn skip_domain_name(&mut self) -> Result<(), WireError> {
        loop {
            let len = self.peek()?;
            match len & 0xc0 {
                0xc0 => {
                    self.take(2)?;
                    return Ok(());
                }
                0x00 => {
                    self.take(1 + usize::from(len))?;
                    if len == 0 {
                        return Ok(());
                    }
                }
                _ => return Err(WireError::InvalidPacket("bad label length in domain name")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nbname;
    use proptest::prelude::*;

    // FRED<20> first-level encoding, derived in nbname's tests.
    const FRED_CHARS: &[u8; 32] = b"EGFCEFEECACACACACACACACACACACACA";

    fn fred() -> NetbiosName {
        NetbiosName::new("FRED", 0x20).unwrap()
    }

    /// 0x20, the 32 characters of FRED<20>, 0x00: 34 bytes.
    fn fred_encoded() -> Vec<u8> {
        let mut v = vec![0x20];
        v.extend_from_slice(FRED_CHARS);
        v.push(0);
        v
    }

    /// Broadcast query for FRED<20>, transaction 0x1234, RD set:
    /// flags = RD 0x0100 | B 0x0010 = 0x0110, QDCOUNT 1, then the question:
    /// the name, QTYPE NB 0x0020, QCLASS IN 0x0001. 12 + 34 + 4 = 50 bytes.
    fn query_vector() -> Vec<u8> {
        let mut v = vec![0x12, 0x34, 0x01, 0x10, 0, 1, 0, 0, 0, 0, 0, 0];
        v.extend_from_slice(&fred_encoded());
        v.extend_from_slice(&[0x00, 0x20, 0x00, 0x01]);
        assert_eq!(v.len(), 50);
        v
    }

    /// Positive response: flags R 0x8000 | AA 0x0400 | RD 0x0100 = 0x8500,
    /// ANCOUNT 1; answer: the name, type NB, class IN, TTL 300000 =
    /// 0x000493E0, RDLENGTH 6, NB_FLAGS 0 (unique, B node), 192.168.1.20.
    /// 12 + 34 + 10 + 6 = 62 bytes.
    fn positive_vector() -> Vec<u8> {
        let mut v = vec![0x12, 0x34, 0x85, 0x00, 0, 0, 0, 1, 0, 0, 0, 0];
        v.extend_from_slice(&fred_encoded());
        v.extend_from_slice(&[0x00, 0x20, 0x00, 0x01]);
        v.extend_from_slice(&[0x00, 0x04, 0x93, 0xe0]);
        v.extend_from_slice(&[0x00, 0x06]);
        v.extend_from_slice(&[0x00, 0x00, 192, 168, 1, 20]);
        assert_eq!(v.len(), 62);
        v
    }

    /// Positive response that echoes the question (QDCOUNT 1) and names the
    /// answer by the pointer 0xC00C (offset 12, the question name). Two
    /// addresses: a group H node (0x8000 | 3 << 13 = 0xE000) at 10.0.0.1 and
    /// a unique P node (1 << 13 = 0x2000) at 10.0.0.2; TTL 0.
    fn pointer_vector() -> Vec<u8> {
        let mut v = vec![0xbe, 0xef, 0x85, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
        v.extend_from_slice(&fred_encoded());
        v.extend_from_slice(&[0x00, 0x20, 0x00, 0x01]);
        v.extend_from_slice(&[0xc0, 0x0c]);
        v.extend_from_slice(&[0x00, 0x20, 0x00, 0x01, 0, 0, 0, 0, 0x00, 0x0c]);
        v.extend_from_slice(&[0xe0, 0x00, 10, 0, 0, 1, 0x20, 0x00, 10, 0, 0, 2]);
        assert_eq!(v.len(), 12 + 38 + 2 + 10 + 12);
        v
    }

    /// Negative response NAM_ERR: flags 0x8500 | 3 = 0x8503, ANCOUNT 1;
    /// answer: the name, type NULL 0x000A, class IN, TTL 0, RDLENGTH 0.
    fn negative_vector() -> Vec<u8> {
        let mut v = vec![0x12, 0x34, 0x85, 0x03, 0, 0, 0, 1, 0, 0, 0, 0];
        v.extend_from_slice(&fred_encoded());
        v.extend_from_slice(&[0x00, 0x0a, 0x00, 0x01, 0, 0, 0, 0, 0, 0]);
        v
    }

    /// WACK: flags R 0x8000 | opcode 7 << 11 = 0x3800 | AA 0x0400 = 0xBC00,
    /// ANCOUNT 1; answer: the name, type NULL, class IN, TTL 15 = 0x0000000F,
    /// RDLENGTH 2, RDATA the query's flags 0x0100 (unicast, RD).
    fn wack_vector() -> Vec<u8> {
        let mut v = vec![0x12, 0x34, 0xbc, 0x00, 0, 0, 0, 1, 0, 0, 0, 0];
        v.extend_from_slice(&fred_encoded());
        v.extend_from_slice(&[0x00, 0x0a, 0x00, 0x01, 0, 0, 0, 15, 0, 2, 0x01, 0x00]);
        v
    }

    /// Redirect: flags R 0x8000 | RD 0x0100 | RA 0x0080 = 0x8180, NSCOUNT 1,
    /// ARCOUNT 1. NS record: the name, type NS 0x0002, class IN, TTL 60,
    /// RDLENGTH 10, RDATA "\x03ns1\x04corp\x00" (10 bytes). Additional
    /// record: name "\x03ns1\x04corp\x00", type A, class IN, TTL 60,
    /// RDLENGTH 4, 10.1.2.3.
    fn redirect_vector() -> Vec<u8> {
        let nsd = b"\x03ns1\x04corp\x00";
        let mut v = vec![0x12, 0x34, 0x81, 0x80, 0, 0, 0, 0, 0, 1, 0, 1];
        v.extend_from_slice(&fred_encoded());
        v.extend_from_slice(&[0x00, 0x02, 0x00, 0x01, 0, 0, 0, 60, 0, 10]);
        v.extend_from_slice(nsd);
        v.extend_from_slice(nsd);
        v.extend_from_slice(&[0x00, 0x01, 0x00, 0x01, 0, 0, 0, 60, 0, 4, 10, 1, 2, 3]);
        v
    }

    fn assert_prefixes_truncated(v: &[u8]) {
        for cut in 0..v.len() {
            match parse_name_query_response(&v[..cut]) {
                Err(WireError::Truncated { needed }) => {
                    assert!(needed > cut && needed <= v.len(), "cut {cut}: needed {needed}")
                }
                other => panic!("cut {cut}: {other:?}"),
            }
        }
    }

    #[test]
    fn query_encode_vector() {
        let q = NameQuery {
            transaction_id: 0x1234,
            name: fred(),
            scope: None,
            broadcast: true,
            recursion_desired: true,
        };
        assert_eq!(q.encode().unwrap(), query_vector());
        assert_eq!(NameQuery::parse(&query_vector()).unwrap(), q);
        // Unicast without RD: flags word 0.
        let q2 = NameQuery {
            broadcast: false,
            recursion_desired: false,
            ..q
        };
        assert_eq!(&q2.encode().unwrap()[2..4], &[0, 0]);
    }

    #[test]
    fn query_with_scope() {
        let q = NameQuery {
            transaction_id: 1,
            name: fred(),
            scope: Some("NETBIOS.COM".into()),
            broadcast: false,
            recursion_desired: true,
        };
        let v = q.encode().unwrap();
        assert_eq!(v.len(), 12 + 46 + 4);
        assert_eq!(&v[12 + 33..12 + 46], b"\x07NETBIOS\x03COM\x00");
        assert_eq!(NameQuery::parse(&v).unwrap(), q);
    }

    #[test]
    fn query_parse_rejects() {
        let good = query_vector();
        let with = |i: usize, b: u8| {
            let mut v = good.clone();
            v[i] = b;
            NameQuery::parse(&v)
        };
        assert_eq!(with(2, 0x81), Err(WireError::InvalidPacket("not a request")));
        // Opcode 5 (registration): 5 << 11 = 0x2800.
        assert_eq!(with(2, 0x29), Err(WireError::InvalidPacket("not a name query")));
        assert_eq!(
            with(5, 0),
            Err(WireError::InvalidPacket("name query without a question"))
        );
        // Node status question (NBSTAT 0x0021).
        assert_eq!(with(47, 0x21), Err(WireError::InvalidPacket("question type is not NB")));
        assert_eq!(
            with(49, 0x03),
            Err(WireError::InvalidPacket("question class is not IN"))
        );
        assert_eq!(with(13, b'z'), Err(WireError::InvalidName("character outside A..=P")));
        assert_eq!(
            with(12, 0x21),
            Err(WireError::InvalidName("first label length is not 32"))
        );
        for cut in 0..good.len() {
            assert!(
                matches!(NameQuery::parse(&good[..cut]), Err(WireError::Truncated { needed }) if needed > cut),
                "cut {cut}"
            );
        }
        assert_eq!(NameQuery::parse(&good[..20]), Err(WireError::Truncated { needed: 46 }));
    }

    #[test]
    fn positive_vector_parses() {
        let expected = NameQueryResponse::Positive {
            transaction_id: 0x1234,
            name: fred(),
            ttl: 300_000,
            addresses: vec![NbAddress::new(Ipv4Addr::new(192, 168, 1, 20))],
        };
        assert_eq!(parse_name_query_response(&positive_vector()), Ok(expected));
        let encoded = encode_positive_response(
            0x1234,
            &fred(),
            None,
            300_000,
            &[NbAddress::new(Ipv4Addr::new(192, 168, 1, 20))],
        )
        .unwrap();
        assert_eq!(encoded, positive_vector());
        assert_prefixes_truncated(&positive_vector());
    }

    #[test]
    fn pointer_answer_name() {
        let r = parse_name_query_response(&pointer_vector()).unwrap();
        let NameQueryResponse::Positive {
            transaction_id,
            name,
            ttl,
            addresses,
        } = r
        else {
            panic!("{r:?}")
        };
        assert_eq!((transaction_id, name, ttl), (0xbeef, fred(), 0));
        assert_eq!(addresses.len(), 2);
        assert!(addresses[0].is_group());
        assert_eq!(addresses[0].owner_node_type(), ONT_H);
        assert_eq!(addresses[0].ip, Ipv4Addr::new(10, 0, 0, 1));
        assert!(!addresses[1].is_group());
        assert_eq!(addresses[1].owner_node_type(), ONT_P);
        assert_prefixes_truncated(&pointer_vector());
    }

    #[test]
    fn bad_pointers() {
        // Pointer to itself (offset 50 is where the answer starts).
        let mut v = pointer_vector();
        v[50..52].copy_from_slice(&[0xc0, 50]);
        assert_eq!(
            parse_name_query_response(&v),
            Err(WireError::InvalidPacket("compression pointer does not point backwards"))
        );
        // Forward pointer.
        v[50..52].copy_from_slice(&[0xc0, 60]);
        assert_eq!(
            parse_name_query_response(&v),
            Err(WireError::InvalidPacket("compression pointer does not point backwards"))
        );
        // Pointer into the header: byte 0 (0xBE) is no valid first length.
        v[50..52].copy_from_slice(&[0xc0, 0x00]);
        assert_eq!(
            parse_name_query_response(&v),
            Err(WireError::InvalidName("first label length is not 32"))
        );
        // Pointer to the middle of the question name (offset 13, an 'E').
        v[50..52].copy_from_slice(&[0xc0, 13]);
        assert_eq!(
            parse_name_query_response(&v),
            Err(WireError::InvalidName("first label length is not 32"))
        );
        // A pointer as the question name itself (no earlier name).
        let mut v = pointer_vector();
        v[12] = 0xc0;
        v[13] = 0x0c;
        assert_eq!(
            parse_name_query_response(&v),
            Err(WireError::InvalidPacket("compression pointer does not point backwards"))
        );
        // Pointer to offset 10 (ARCOUNT = 0x2041 reads as a first length
        // 0x20 and an 'A'); the packet ends before the 34 bytes such a name
        // needs, although nothing is missing after the pointer.
        let mut v = vec![0, 1, 0x85, 0, 0, 0, 0, 1, 0, 0, 0x20, b'A', 0xc0, 10];
        v.extend_from_slice(&[0, 0x20, 0, 1, 0, 0, 0, 0, 0, 6, 0, 0, 1, 2, 3, 4]);
        assert_eq!(
            parse_name_query_response(&v),
            Err(WireError::InvalidPacket("compression pointer to an incomplete name"))
        );
        // Padded so that the target name is complete: its third character
        // is the pointer byte 0xC0, not half-ASCII.
        v.extend_from_slice(&[0; 30]);
        assert_eq!(
            parse_name_query_response(&v),
            Err(WireError::InvalidName("character outside A..=P"))
        );
    }

    #[test]
    fn negative_every_rcode() {
        for rcode in [FMT_ERR, SRV_ERR, NAM_ERR, IMP_ERR, RFS_ERR, ACT_ERR, CFT_ERR, 0x0f] {
            let v = encode_negative_response(0x1234, &fred(), None, rcode).unwrap();
            let mut expected = negative_vector();
            expected[3] = rcode;
            assert_eq!(v, expected);
            assert_eq!(
                parse_name_query_response(&v),
                Ok(NameQueryResponse::Negative {
                    transaction_id: 0x1234,
                    rcode
                })
            );
        }
        // The header alone decides.
        assert_eq!(
            parse_name_query_response(&negative_vector()[..12]),
            Ok(NameQueryResponse::Negative {
                transaction_id: 0x1234,
                rcode: NAM_ERR
            })
        );
        for cut in 0..12 {
            assert_eq!(
                parse_name_query_response(&negative_vector()[..cut]),
                Err(WireError::Truncated { needed: 12 })
            );
        }
        for rcode in [0, 16, 0xff] {
            assert_eq!(
                encode_negative_response(1, &fred(), None, rcode),
                Err(WireError::InvalidPacket("negative RCODE must be 1 to 15"))
            );
        }
    }

    #[test]
    fn wack_vector_parses() {
        assert_eq!(
            parse_name_query_response(&wack_vector()),
            Ok(NameQueryResponse::WaitForAck {
                transaction_id: 0x1234,
                ttl: 15
            })
        );
        let q = NameQuery {
            transaction_id: 0x1234,
            name: fred(),
            scope: None,
            broadcast: false,
            recursion_desired: true,
        };
        assert_eq!(encode_wack_response(&q, 15).unwrap(), wack_vector());
        assert_prefixes_truncated(&wack_vector());
        let mut v = wack_vector();
        v[7] = 0;
        assert_eq!(
            parse_name_query_response(&v),
            Err(WireError::InvalidPacket("WACK without an answer record"))
        );
    }

    #[test]
    fn redirect_vector_parses() {
        assert_eq!(
            parse_name_query_response(&redirect_vector()),
            Ok(NameQueryResponse::Redirect { transaction_id: 0x1234 })
        );
        let encoded =
            encode_redirect_response(0x1234, &fred(), None, 60, "ns1.corp", Ipv4Addr::new(10, 1, 2, 3)).unwrap();
        assert_eq!(encoded, redirect_vector());
        assert_prefixes_truncated(&redirect_vector());
        // With AA set, NS records are no redirect.
        let mut v = redirect_vector();
        v[2] |= 0x04;
        assert_eq!(
            parse_name_query_response(&v),
            Err(WireError::InvalidPacket("name query response without an answer"))
        );
        // Bad label type in the NSD name.
        let mut v = redirect_vector();
        v[12 + 34 + 10 + 10] = 0x40;
        assert_eq!(
            parse_name_query_response(&v),
            Err(WireError::InvalidPacket("bad label length in domain name"))
        );
        assert!(matches!(
            encode_redirect_response(1, &fred(), None, 1, "a..b", Ipv4Addr::LOCALHOST),
            Err(WireError::InvalidName(_))
        ));
    }

    #[test]
    fn response_rejects() {
        let good = positive_vector();
        let with = |i: usize, b: u8| {
            let mut v = good.clone();
            v[i] = b;
            parse_name_query_response(&v)
        };
        // R bit clear.
        assert_eq!(with(2, 0x05), Err(WireError::InvalidPacket("not a response")));
        // Opcode 5 (registration) and 8 (refresh): 0x8000 | 5 << 11 = 0xA800,
        // 0x8000 | 8 << 11 = 0xC000.
        assert_eq!(
            with(2, 0xa8),
            Err(WireError::InvalidPacket("not a name query response"))
        );
        assert_eq!(
            with(2, 0xc0),
            Err(WireError::InvalidPacket("not a name query response"))
        );
        // Answer type NBSTAT, type NULL, class 2.
        assert_eq!(
            with(47, 0x21),
            Err(WireError::InvalidPacket("answer record type is not NB"))
        );
        assert_eq!(
            with(47, 0x0a),
            Err(WireError::InvalidPacket("answer record type is not NB"))
        );
        assert_eq!(
            with(49, 0x02),
            Err(WireError::InvalidPacket("answer record class is not IN"))
        );
        // RDLENGTH 0, 5, 7.
        for rdlength in [0, 5, 7] {
            assert_eq!(
                with(55, rdlength),
                Err(WireError::InvalidPacket(
                    "NB RDATA length is not a nonzero multiple of 6"
                ))
            );
        }
        // RDLENGTH 12 with only 6 bytes present.
        assert_eq!(with(55, 12), Err(WireError::Truncated { needed: 68 }));
        // No answer, AA set, no NS: nothing to report.
        assert_eq!(
            with(7, 0),
            Err(WireError::InvalidPacket("name query response without an answer"))
        );
        // Bad half-ASCII in the answer name.
        assert_eq!(with(20, b'Q'), Err(WireError::InvalidName("character outside A..=P")));
        // Trailing bytes are ignored.
        let mut v = good.clone();
        v.extend_from_slice(&[0; 8]);
        assert!(parse_name_query_response(&v).is_ok());
    }

    #[test]
    fn positive_encode_limits() {
        assert_eq!(
            encode_positive_response(1, &fred(), None, 0, &[]),
            Err(WireError::InvalidPacket("positive response without addresses"))
        );
        let many = vec![NbAddress::new(Ipv4Addr::LOCALHOST); MAX_ADDRESSES + 1];
        assert_eq!(
            encode_positive_response(1, &fred(), None, 0, &many),
            Err(WireError::TooLong {
                len: 10_923,
                max: 10_922
            })
        );
        let v = encode_positive_response(1, &fred(), None, 0, &many[1..]).unwrap();
        assert_eq!(&v[12 + 34 + 8..12 + 34 + 10], &[0xff, 0xfc]);
        match parse_name_query_response(&v).unwrap() {
            NameQueryResponse::Positive { addresses, .. } => {
                assert_eq!(addresses.len(), MAX_ADDRESSES)
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            encode_positive_response(1, &fred(), Some("a b"), 0, &many[..1]),
            Err(WireError::InvalidName(_))
        ));
    }

    #[test]
    fn nb_address_flags() {
        let a = NbAddress {
            flags: NB_FLAG_GROUP | (u16::from(ONT_M) << 13),
            ip: Ipv4Addr::LOCALHOST,
        };
        assert!(a.is_group());
        assert_eq!(a.owner_node_type(), ONT_M);
        assert_eq!(NbAddress::new(Ipv4Addr::LOCALHOST).owner_node_type(), ONT_B);
    }

    #[test]
    fn transaction_id_accessor() {
        for v in [positive_vector(), negative_vector(), wack_vector(), redirect_vector()] {
            assert_eq!(parse_name_query_response(&v).unwrap().transaction_id(), 0x1234);
        }
    }

    fn scope_strategy() -> impl Strategy<Value = Option<String>> {
        prop::option::of(prop::collection::vec("[A-Za-z0-9-]{1,20}", 1..4).prop_map(|l| l.join(".")))
    }

    fn name_strategy() -> impl Strategy<Value = NetbiosName> {
        any::<[u8; 16]>().prop_map(NetbiosName::from_bytes)
    }

    fn query_strategy() -> impl Strategy<Value = NameQuery> {
        (
            any::<u16>(),
            name_strategy(),
            scope_strategy(),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(
                |(transaction_id, name, scope, broadcast, recursion_desired)| NameQuery {
                    transaction_id,
                    name,
                    scope,
                    broadcast,
                    recursion_desired,
                },
            )
    }

    fn address_strategy() -> impl Strategy<Value = NbAddress> {
        (any::<u16>(), any::<[u8; 4]>()).prop_map(|(flags, ip)| NbAddress {
            flags,
            ip: Ipv4Addr::from(ip),
        })
    }

    proptest! {
        #[test]
        fn queries_round_trip(q in query_strategy()) {
            let v = q.encode().unwrap();
            prop_assert_eq!(v.len(), HEADER_LEN + nbname::encoded_name_len(q.scope.as_deref()).unwrap() + 4);
            prop_assert_eq!(NameQuery::parse(&v).unwrap(), q);
        }

        #[test]
        fn positive_round_trip(
            id in any::<u16>(),
            name in name_strategy(),
            scope in scope_strategy(),
            ttl in any::<u32>(),
            addresses in prop::collection::vec(address_strategy(), 1..8),
        ) {
            let v = encode_positive_response(id, &name, scope.as_deref(), ttl, &addresses).unwrap();
            prop_assert_eq!(
                parse_name_query_response(&v).unwrap(),
                NameQueryResponse::Positive { transaction_id: id, name, ttl, addresses }
            );
        }

        #[test]
        fn negative_round_trip(
            id in any::<u16>(),
            name in name_strategy(),
            scope in scope_strategy(),
            rcode in 1u8..=15,
        ) {
            let v = encode_negative_response(id, &name, scope.as_deref(), rcode).unwrap();
            prop_assert_eq!(
                parse_name_query_response(&v).unwrap(),
                NameQueryResponse::Negative { transaction_id: id, rcode }
            );
        }

        #[test]
        fn wack_round_trip(q in query_strategy(), ttl in any::<u32>()) {
            let v = encode_wack_response(&q, ttl).unwrap();
            prop_assert_eq!(
                parse_name_query_response(&v).unwrap(),
                NameQueryResponse::WaitForAck { transaction_id: q.transaction_id, ttl }
            );
        }

        #[test]
        fn redirect_round_trip(
            id in any::<u16>(),
            name in name_strategy(),
            scope in scope_strategy(),
            ttl in any::<u32>(),
            ns in prop::collection::vec("[a-z0-9-]{1,20}", 1..4).prop_map(|l| l.join(".")),
            ip in any::<[u8; 4]>(),
        ) {
            let v = encode_redirect_response(id, &name, scope.as_deref(), ttl, &ns, Ipv4Addr::from(ip)).unwrap();
            prop_assert_eq!(
                parse_name_query_response(&v).unwrap(),
                NameQueryResponse::Redirect { transaction_id: id }
            );
        }

        #[test]
        fn parsers_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_name_query_response(&bytes);
            let _ = NameQuery::parse(&bytes);
        }

        #[test]
        fn mutated_packets_never_panic(
            which in 0usize..6,
            edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut v = match which {
                0 => query_vector(),
                1 => positive_vector(),
                2 => pointer_vector(),
                3 => negative_vector(),
                4 => wack_vector(),
                _ => redirect_vector(),
            };
            for (i, b) in edits {
                let i = i.index(v.len());
                v[i] = b;
            }
            let keep = cut.index(v.len() + 1);
            v.truncate(keep.max(v.len() / 2));
            let _ = parse_name_query_response(&v);
            let _ = NameQuery::parse(&v);
        }
    }
}
