//! Helpers shared by the fuzz targets: a cursor that turns the fuzzer's
//! bytes into structured values (and never fails: past the end it yields
//! zeros), and the value builders the round-trip properties use.

use std::net::Ipv4Addr;

pub mod framed_receive;

use rxce_wire::NetbiosName;

/// Reads values off the front of the fuzzer's input.
#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    data: &'a [u8],
}

impl<'a> Cursor<'a> {
    /// A cursor over `data`.
    pub fn new(data: &'a [u8]) -> Cursor<'a> {
        Cursor { data }
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        self.data
    }

    /// True when every byte was read.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Up to `n` bytes (fewer at the end of the input).
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.data.len());
        let (head, tail) = self.data.split_at(n);
        self.data = tail;
        head
    }

    /// One byte, 0 past the end.
    pub fn u8(&mut self) -> u8 {
        self.take(1).first().copied().unwrap_or(0)
    }

    /// A big-endian u16, zero-padded past the end.
    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes(self.array())
    }

    /// A big-endian u32, zero-padded past the end.
    pub fn u32(&mut self) -> u32 {
        u32::from_be_bytes(self.array())
    }

    /// `N` bytes, zero-padded past the end.
    pub fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        let head = self.take(N);
        out[..head.len()].copy_from_slice(head);
        out
    }

    /// A bool from one byte's low bit.
    pub fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }

    /// An IPv4 address.
    pub fn ipv4(&mut self) -> Ipv4Addr {
        Ipv4Addr::from(self.array::<4>())
    }

    /// A raw 16-byte NetBIOS name (any bytes, as from the wire).
    pub fn raw_name(&mut self) -> NetbiosName {
        NetbiosName::from_bytes(self.array())
    }

    /// A length-prefixed (one byte) string, lossily decoded as UTF-8.
    pub fn short_string(&mut self) -> String {
        let n = usize::from(self.u8());
        String::from_utf8_lossy(self.take(n)).into_owned()
    }

    /// An optional scope: `None`, or a length-prefixed string (which may be
    /// invalid as a scope: the encoders must refuse it, not panic).
    pub fn scope(&mut self) -> Option<String> {
        if self.bool() {
            Some(self.short_string())
        } else {
            None
        }
    }
}
