//! ONC RPC record marking (RFC 5531 §11): how RPC messages travel over a
//! byte stream.
//!
//! A record (one RPC call or reply) is sent as one or more fragments. Each
//! fragment starts with a 4-byte big-endian header: the high bit says
//! whether this is the record's last fragment, the low 31 bits give the
//! length of the fragment's data that follows. A receiver joins the
//! fragments' data; the headers are not part of the message.
//!
//! rxce sends a record in fragments of at most [`FRAGMENT_SIZE`] bytes
//! (64 KiB) and takes fragments of any length up to 0x7FFF_FFFF, but a
//! record only up to the receiver's message limit, judged on each header
//! before any of its data is read.
//!
//! ```
//! use rxce_wire::record::{decode_fragment_header, encode_fragment_header, encode_record};
//!
//! assert_eq!(encode_fragment_header(0x28, true)?, [0x80, 0, 0, 0x28]);
//! assert_eq!(decode_fragment_header([0x00, 0x01, 0x00, 0x00]), (0x1_0000, false));
//! // A 5-byte record in fragments of at most 2 bytes.
//! assert_eq!(
//!     encode_record(b"hello", 2),
//!     [0, 0, 0, 2, b'h', b'e', 0, 0, 0, 2, b'l', b'l', 0x80, 0, 0, 1, b'o']
//! );
//! # Ok::<(), rxce_wire::WireError>(())
//! ```

use crate::error::WireError;

/// Length of a fragment header.
pub const FRAGMENT_HEADER_LEN: usize = 4;

/// The last-fragment bit of a fragment header.
pub const LAST_FRAGMENT: u32 = 0x8000_0000;

/// The largest fragment a header can announce (31 bits).
pub const MAX_FRAGMENT_LEN: usize = 0x7fff_ffff;

/// The size rxce cuts outgoing records into: each fragment but the last
/// carries exactly this many bytes of data (64 KiB, the fragment size of
/// common RPC implementations).
pub const FRAGMENT_SIZE: usize = 64 * 1024;

/// The most empty fragments that are not the last one a record may have
/// before the receiver calls it a protocol error (they carry nothing; a
/// peer sending them endlessly would keep a record open for ever).
pub const MAX_EMPTY_FRAGMENTS: usize = 16;

/// TCP and UDP port of rpcbind (the portmapper).
pub const RPCBIND_PORT: u16 = 111;

/// The header of a fragment of `len` bytes; `last` sets the last-fragment
/// bit. Lengths above [`MAX_FRAGMENT_LEN`] are [`WireError::TooLong`].
pub fn encode_fragment_header(len: usize, last: bool) -> Result<[u8; FRAGMENT_HEADER_LEN], WireError> {
    if len > MAX_FRAGMENT_LEN {
        return Err(WireError::TooLong {
            len,
            max: MAX_FRAGMENT_LEN,
        });
    }
    let word = len as u32 | if last { LAST_FRAGMENT } else { 0 };
    Ok(word.to_be_bytes())
}

/// The length of the fragment a header announces and whether it is the
/// record's last. Every header is valid.
pub fn decode_fragment_header(header: [u8; FRAGMENT_HEADER_LEN]) -> (usize, bool) {
    let word = u32::from_be_bytes(header);
    ((word & !LAST_FRAGMENT) as usize, word & LAST_FRAGMENT != 0)
}

/// The fragments rxce sends a record of `len` bytes in, cut at
/// `fragment_size` (at least 1): each as (offset of its data in the record,
/// its length, whether it is the last). An empty record is one empty last
/// fragment.
pub fn fragments(len: usize, fragment_size: usize) -> impl Iterator<Item = (usize, usize, bool)> {
    let size = fragment_size.clamp(1, MAX_FRAGMENT_LEN);
    let count = if len == 0 { 1 } else { len.div_ceil(size) };
    (0..count).map(move |i| {
        let offset = i * size;
        let n = size.min(len - offset);
        (offset, n, i + 1 == count)
    })
}

/// A whole record: `payload` cut into fragments of at most `fragment_size`
/// bytes, each behind its header.
pub fn encode_record(payload: &[u8], fragment_size: usize) -> Vec<u8> {
    let size = fragment_size.clamp(1, MAX_FRAGMENT_LEN);
    let count = payload.len().div_ceil(size).max(1);
    let mut out = Vec::with_capacity(payload.len() + count * FRAGMENT_HEADER_LEN);
    for (offset, n, last) in fragments(payload.len(), size) {
        out.extend_from_slice(&encode_fragment_header(n, last).expect("n is at most MAX_FRAGMENT_LEN"));
        out.extend_from_slice(&payload[offset..offset + n]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn header_bytes() {
        let cases = [
            (0, true, [0x80, 0, 0, 0]),
            (0, false, [0, 0, 0, 0]),
            (0x28, true, [0x80, 0, 0, 0x28]),
            (0x1_0000, false, [0, 1, 0, 0]),
            (0x12_3456, true, [0x80, 0x12, 0x34, 0x56]),
            (0x7fff_ffff, false, [0x7f, 0xff, 0xff, 0xff]),
            (0x7fff_ffff, true, [0xff, 0xff, 0xff, 0xff]),
        ];
        for (len, last, header) in cases {
            assert_eq!(encode_fragment_header(len, last), Ok(header));
            assert_eq!(decode_fragment_header(header), (len, last));
        }
        assert_eq!(
            encode_fragment_header(0x8000_0000, true),
            Err(WireError::TooLong {
                len: 0x8000_0000,
                max: 0x7fff_ffff
            })
        );
    }

    #[test]
    fn records_are_cut_at_the_fragment_size() {
        assert_eq!(encode_record(b"", FRAGMENT_SIZE), [0x80, 0, 0, 0]);
        assert_eq!(encode_record(b"ab", FRAGMENT_SIZE), [0x80, 0, 0, 2, b'a', b'b']);
        assert_eq!(encode_record(b"ab", 2), [0x80, 0, 0, 2, b'a', b'b']);
        assert_eq!(encode_record(b"abc", 2), [0, 0, 0, 2, b'a', b'b', 0x80, 0, 0, 1, b'c']);
        let big = vec![7u8; FRAGMENT_SIZE * 2 + 1];
        let out = encode_record(&big, FRAGMENT_SIZE);
        assert_eq!(out.len(), big.len() + 12);
        assert_eq!(out[..4], [0, 1, 0, 0]);
        assert_eq!(out[4 + FRAGMENT_SIZE..8 + FRAGMENT_SIZE], [0, 1, 0, 0]);
        assert_eq!(out[8 + 2 * FRAGMENT_SIZE..12 + 2 * FRAGMENT_SIZE], [0x80, 0, 0, 1]);
        assert_eq!(
            fragments(5, 0).collect::<Vec<_>>(),
            (0..5).map(|i| (i, 1, i == 4)).collect::<Vec<_>>()
        );
    }

    proptest! {
        #[test]
        fn header_round_trip(len in 0usize..=MAX_FRAGMENT_LEN, last in any::<bool>()) {
            let header = encode_fragment_header(len, last).unwrap();
            prop_assert_eq!(decode_fragment_header(header), (len, last));
        }

        #[test]
        fn fragments_cover_the_record(len in 0usize..5000, size in 1usize..300) {
            let mut at = 0;
            let all: Vec<_> = fragments(len, size).collect();
            for (i, &(offset, n, last)) in all.iter().enumerate() {
                prop_assert_eq!(offset, at);
                prop_assert!(n <= size);
                prop_assert!(n == size || last);
                prop_assert_eq!(last, i + 1 == all.len());
                at += n;
            }
            prop_assert_eq!(at, len);
        }
    }
}
