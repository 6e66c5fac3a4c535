//! TRANSPORT_ADDRESS ⇄ [`TransportAddress`].
//!
//! The C form is a LONG count and then that many packed TA_ADDRESS entries
//! (USHORT length, USHORT type, `length` bytes), read unaligned. Entry
//! types rxce does not know are skipped, as a TDI transport does; a known
//! type with a payload shorter than its structure is refused.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use rxce::{Status, TaAddress, TransportAddress};

use super::bad;
use crate::types::{
    RXCE_ADDRESS_TYPE_HOST_NAME, RXCE_ADDRESS_TYPE_MEMORY, TDI_ADDRESS_LENGTH_IP, TDI_ADDRESS_LENGTH_IP6,
    TDI_ADDRESS_LENGTH_NETBIOS, TDI_ADDRESS_NETBIOS_TYPE_UNIQUE, TDI_ADDRESS_TYPE_IP, TDI_ADDRESS_TYPE_IP6,
    TDI_ADDRESS_TYPE_NETBIOS, TDI_ADDRESS_TYPE_UNIX,
};

/// Most entries one TRANSPORT_ADDRESS may have.
const MAX_ENTRIES: i32 = 64;
/// Longest entry payload accepted when the caller declared no total length.
const MAX_ENTRY_LENGTH: usize = 1024;
/// Longest Unix-domain path (`sun_path`).
const MAX_UNIX_PATH: usize = 108;
/// Longest memory-transport name, and longest host name (DNS's limit).
const MAX_NAME: usize = 255;

/// Reads forward from a caller's pointer, within the declared length.
struct Reader {
    at: *const u8,
    offset: usize,
    limit: usize,
}

impl Reader {
    /// `n` bytes, or STATUS_INVALID_PARAMETER past the declared length.
    ///
    /// # Safety
    ///
    /// The caller's bytes from `at` up to `limit` (or, without a declared
    /// limit, up to what the entries' own lengths say) are readable.
    unsafe fn take(&mut self, n: usize) -> Result<Vec<u8>, Status> {
        let end = self.offset.checked_add(n).filter(|&end| end <= self.limit);
        let Some(end) = end else {
            return Err(bad(format!(
                "the TRANSPORT_ADDRESS needs more than its {} declared bytes",
                self.limit
            )));
        };
        // SAFETY: `offset..end` lies within what the caller declared
        // readable (see above); we copy the bytes out at once.
        let bytes = unsafe { std::slice::from_raw_parts(self.at.add(self.offset), n) }.to_vec();
        self.offset = end;
        Ok(bytes)
    }

    unsafe fn u16(&mut self) -> Result<u16, Status> {
        // SAFETY: forwarded caller promise.
        let b = unsafe { self.take(2) }?;
        Ok(u16::from_ne_bytes([b[0], b[1]]))
    }
}

/// The TRANSPORT_ADDRESS at `p`. `declared` is the length the caller gave
/// for it (RemoteAddressLength), if any: every entry must lie within it.
///
/// # Safety
///
/// `p` is NULL or points to a TRANSPORT_ADDRESS readable for `declared`
/// bytes, or (without `declared`) as far as its count and entry lengths say.
pub(crate) unsafe fn transport_address(p: *const u8, declared: Option<usize>) -> Result<TransportAddress, Status> {
    if p.is_null() {
        return Err(bad("the TRANSPORT_ADDRESS is NULL"));
    }
    let mut reader = Reader {
        at: p,
        offset: 0,
        limit: declared.unwrap_or(usize::MAX),
    };
    // SAFETY (for every read below): the caller's promise, and the reader
    // stops at the declared length.
    let count = unsafe { reader.take(4) }?;
    let count = i32::from_ne_bytes([count[0], count[1], count[2], count[3]]);
    if !(1..=MAX_ENTRIES).contains(&count) {
        return Err(bad(format!(
            "a TRANSPORT_ADDRESS with {count} entries (1 to {MAX_ENTRIES} are allowed)"
        )));
    }
    let mut entries = Vec::new();
    for _ in 0..count {
        // SAFETY: the caller's promise, and the reader stops at the declared length.
        let length = usize::from(unsafe { reader.u16() }?);
        // SAFETY: as above.
        let kind = unsafe { reader.u16() }?;
        if declared.is_none() && length > MAX_ENTRY_LENGTH {
            return Err(bad(format!("a TA_ADDRESS of {length} bytes")));
        }
        // SAFETY: as above.
        let payload = unsafe { reader.take(length) }?;
        if let Some(entry) = entry(kind, &payload)? {
            entries.push(entry);
        }
    }
    if entries.is_empty() {
        return Err(bad("the TRANSPORT_ADDRESS has no entry of a type rxce knows"));
    }
    Ok(TransportAddress { entries })
}

fn too_short(kind: &str, length: usize, needed: u16) -> Status {
    bad(format!("a {kind} TA_ADDRESS of {length} bytes (it needs {needed})"))
}

/// One entry; `None` for a type rxce does not know.
fn entry(kind: u16, payload: &[u8]) -> Result<Option<TaAddress>, Status> {
    let at = |i: usize, n: usize| &payload[i..i + n];
    Ok(Some(match kind {
        TDI_ADDRESS_TYPE_IP => {
            if payload.len() < usize::from(TDI_ADDRESS_LENGTH_IP) {
                return Err(too_short("TDI_ADDRESS_IP", payload.len(), TDI_ADDRESS_LENGTH_IP));
            }
            let port = u16::from_be_bytes([payload[0], payload[1]]);
            let ip = Ipv4Addr::new(payload[2], payload[3], payload[4], payload[5]);
            TaAddress::Ip(SocketAddr::V4(SocketAddrV4::new(ip, port)))
        }
        TDI_ADDRESS_TYPE_IP6 => {
            if payload.len() < usize::from(TDI_ADDRESS_LENGTH_IP6) {
                return Err(too_short("TDI_ADDRESS_IP6", payload.len(), TDI_ADDRESS_LENGTH_IP6));
            }
            let port = u16::from_be_bytes([payload[0], payload[1]]);
            let flowinfo = u32::from_be_bytes(at(2, 4).try_into().expect("4 bytes"));
            let octets: [u8; 16] = at(6, 16).try_into().expect("16 bytes");
            let scope_id = u32::from_ne_bytes(at(22, 4).try_into().expect("4 bytes"));
            TaAddress::Ip(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(octets),
                port,
                flowinfo,
                scope_id,
            )))
        }
        TDI_ADDRESS_TYPE_NETBIOS => {
            if payload.len() < usize::from(TDI_ADDRESS_LENGTH_NETBIOS) {
                return Err(too_short(
                    "TDI_ADDRESS_NETBIOS",
                    payload.len(),
                    TDI_ADDRESS_LENGTH_NETBIOS,
                ));
            }
            TaAddress::NetBios {
                name: at(2, 16).try_into().expect("16 bytes"),
            }
        }
        TDI_ADDRESS_TYPE_UNIX => {
            // Empty is allowed: a client's local address need not be bound.
            if payload.len() > MAX_UNIX_PATH {
                return Err(bad(format!(
                    "a Unix-domain path of {} bytes (at most {MAX_UNIX_PATH})",
                    payload.len()
                )));
            }
            TaAddress::Unix(payload.to_vec())
        }
        RXCE_ADDRESS_TYPE_MEMORY => TaAddress::Memory(name("memory endpoint", payload)?),
        RXCE_ADDRESS_TYPE_HOST_NAME => {
            if payload.len() < 2 {
                return Err(bad("a host-name TA_ADDRESS without its port"));
            }
            TaAddress::HostName {
                port: u16::from_be_bytes([payload[0], payload[1]]),
                name: name("host", &payload[2..])?,
            }
        }
        _ => return Ok(None),
    }))
}

/// A name of 1 to 255 UTF-8 bytes.
fn name(what: &str, bytes: &[u8]) -> Result<String, Status> {
    if bytes.is_empty() || bytes.len() > MAX_NAME {
        return Err(bad(format!("a {what} name of {} bytes (1 to {MAX_NAME})", bytes.len())));
    }
    let name = std::str::from_utf8(bytes).map_err(|_| bad(format!("a {what} name that is not UTF-8")))?;
    Ok(name.to_owned())
}

/// The C form of `address`: a TRANSPORT_ADDRESS, byte for byte.
pub(crate) fn encode_transport_address(address: &TransportAddress) -> Vec<u8> {
    let mut out = Vec::new();
    let count = i32::try_from(address.entries.len()).unwrap_or(i32::MAX);
    out.extend_from_slice(&count.to_ne_bytes());
    for entry in &address.entries {
        let (kind, payload) = encode_entry(entry);
        let length = u16::try_from(payload.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&length.to_ne_bytes());
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(&payload[..usize::from(length)]);
    }
    out
}

fn encode_entry(entry: &TaAddress) -> (u16, Vec<u8>) {
    match entry {
        TaAddress::Ip(SocketAddr::V4(v4)) => {
            let mut p = Vec::with_capacity(usize::from(TDI_ADDRESS_LENGTH_IP));
            p.extend_from_slice(&v4.port().to_be_bytes());
            p.extend_from_slice(&v4.ip().octets());
            p.extend_from_slice(&[0; 8]);
            (TDI_ADDRESS_TYPE_IP, p)
        }
        TaAddress::Ip(SocketAddr::V6(v6)) => {
            let mut p = Vec::with_capacity(usize::from(TDI_ADDRESS_LENGTH_IP6));
            p.extend_from_slice(&v6.port().to_be_bytes());
            p.extend_from_slice(&v6.flowinfo().to_be_bytes());
            p.extend_from_slice(&v6.ip().octets());
            p.extend_from_slice(&v6.scope_id().to_ne_bytes());
            (TDI_ADDRESS_TYPE_IP6, p)
        }
        TaAddress::NetBios { name } => {
            let mut p = TDI_ADDRESS_NETBIOS_TYPE_UNIQUE.to_ne_bytes().to_vec();
            p.extend_from_slice(name);
            (TDI_ADDRESS_TYPE_NETBIOS, p)
        }
        TaAddress::Unix(path) => (TDI_ADDRESS_TYPE_UNIX, path.clone()),
        TaAddress::Memory(name) => (RXCE_ADDRESS_TYPE_MEMORY, name.as_bytes().to_vec()),
        TaAddress::HostName { name, port } => {
            let mut p = port.to_be_bytes().to_vec();
            p.extend_from_slice(name.as_bytes());
            (RXCE_ADDRESS_TYPE_HOST_NAME, p)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8], declared: Option<usize>) -> Result<TransportAddress, Status> {
        // SAFETY: `bytes` is readable for its whole length, and every test
        // below declares at most that (or describes exactly it).
        unsafe { transport_address(bytes.as_ptr(), declared) }
    }

    #[test]
    fn every_known_type_round_trips() {
        let mut name = [b' '; 16];
        name[..4].copy_from_slice(b"FRED");
        name[15] = 0x20;
        let address = TransportAddress {
            entries: vec![
                TaAddress::Ip("127.0.0.1:445".parse().unwrap()),
                TaAddress::NetBios { name },
                TaAddress::Ip(SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::LOCALHOST, 139, 7, 3))),
                TaAddress::Unix(b"\0abstract".to_vec()),
                TaAddress::Memory("echo".into()),
                TaAddress::HostName {
                    name: "files.example".into(),
                    port: 445,
                },
            ],
        };
        let bytes = encode_transport_address(&address);
        assert_eq!(parse(&bytes, Some(bytes.len())).unwrap(), address);
        assert_eq!(parse(&bytes, None).unwrap(), address);
    }

    #[test]
    fn ip_entries_are_in_network_byte_order() {
        let bytes = encode_transport_address(&TransportAddress::ip("10.1.2.3:80".parse().unwrap()));
        assert_eq!(&bytes[4..8], &[14, 0, 2, 0][..]);
        assert_eq!(&bytes[8..14], &[0, 80, 10, 1, 2, 3][..]);
        assert_eq!(bytes.len(), 4 + 4 + 14);
    }

    #[test]
    fn entries_beyond_the_declared_length_are_refused() {
        let bytes = encode_transport_address(&TransportAddress::ip("10.1.2.3:80".parse().unwrap()));
        for declared in [0, 3, 4, 8, bytes.len() - 1] {
            assert_eq!(
                parse(&bytes, Some(declared)).unwrap_err(),
                Status::INVALID_PARAMETER,
                "{declared}"
            );
        }
    }

    #[test]
    fn bad_counts_and_short_entries_are_refused_and_unknown_types_skipped() {
        let mut bytes = encode_transport_address(&TransportAddress::ip("10.1.2.3:80".parse().unwrap()));
        let declared = Some(bytes.len());
        for count in [0i32, -1, MAX_ENTRIES + 1] {
            bytes[..4].copy_from_slice(&count.to_ne_bytes());
            assert!(parse(&bytes, declared).is_err(), "{count}");
        }
        bytes[..4].copy_from_slice(&1i32.to_ne_bytes());
        bytes[4..6].copy_from_slice(&13u16.to_ne_bytes());
        assert!(parse(&bytes, declared).is_err());
        bytes[4..6].copy_from_slice(&14u16.to_ne_bytes());
        bytes[6..8].copy_from_slice(&6u16.to_ne_bytes());
        assert!(parse(&bytes, declared).is_err(), "only an IPX entry");
        assert!(parse(&[], Some(0)).is_err());
    }
}
