//! 9P message framing (9P2000, 9P2000.u, 9P2000.L).
//!
//! Every 9P message starts with `size[4]`, little-endian, counting the
//! whole message including those 4 bytes, then `type[1] tag[2]`. So the
//! smallest message is 7 bytes, and the largest is the `msize` the client
//! and the server agreed on in Tversion/Rversion.
//!
//! rxce treats `size[4]` as the transport's frame header, as the 4-byte
//! header of SMB: a client sends and receives `type[1] tag[2] ...`, and the
//! transport adds and strips the size ([`encode_size`], [`decode_size`]).
//!
//! ```
//! use rxce_wire::ninep::{decode_size, encode_size};
//!
//! // Tversion tag NOTAG msize 8192 "9P2000": 19 bytes in all, 15 after size[4].
//! assert_eq!(encode_size(15)?, [19, 0, 0, 0]);
//! assert_eq!(decode_size([19, 0, 0, 0])?, 15);
//! assert!(decode_size([3, 0, 0, 0]).is_err()); // shorter than size[4] type[1] tag[2]
//! # Ok::<(), rxce_wire::WireError>(())
//! ```

use crate::error::WireError;

/// Length of `size[4]`.
pub const SIZE_LEN: usize = 4;

/// The smallest 9P message: `size[4] type[1] tag[2]`.
pub const MIN_MESSAGE: usize = 7;

/// The largest message after `size[4]` that the field can describe.
pub const MAX_BODY: usize = u32::MAX as usize - SIZE_LEN;

/// TCP port of 9P servers (IANA "9pfs").
pub const PORT: u16 = 564;

/// `size[4]` of a message whose bytes after the size field number `body`.
/// A body shorter than `type[1] tag[2]` is [`WireError::InvalidPacket`];
/// one above [`MAX_BODY`] is [`WireError::TooLong`].
pub fn encode_size(body: usize) -> Result<[u8; SIZE_LEN], WireError> {
    if body < MIN_MESSAGE - SIZE_LEN {
        return Err(WireError::InvalidPacket("a 9P message needs at least type[1] tag[2]"));
    }
    if body > MAX_BODY {
        return Err(WireError::TooLong {
            len: body,
            max: MAX_BODY,
        });
    }
    Ok(((body + SIZE_LEN) as u32).to_le_bytes())
}

/// How many bytes follow a message's `size[4]`. A size below 7 is
/// [`WireError::InvalidPacket`].
pub fn decode_size(size: [u8; SIZE_LEN]) -> Result<usize, WireError> {
    let size = u32::from_le_bytes(size) as usize;
    if size < MIN_MESSAGE {
        return Err(WireError::InvalidPacket("9P message size below 7"));
    }
    Ok(size - SIZE_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn size_bytes() {
        let cases = [
            (3, [7, 0, 0, 0]),
            (15, [19, 0, 0, 0]),
            (0xfffc, [0, 0, 1, 0]),
            (0x1234_5674, [0x78, 0x56, 0x34, 0x12]),
            (MAX_BODY, [0xff, 0xff, 0xff, 0xff]),
        ];
        for (body, size) in cases {
            assert_eq!(encode_size(body), Ok(size));
            assert_eq!(decode_size(size), Ok(body));
        }
        for size in [[0, 0, 0, 0], [3, 0, 0, 0], [6, 0, 0, 0]] {
            assert_eq!(
                decode_size(size),
                Err(WireError::InvalidPacket("9P message size below 7"))
            );
        }
        for body in [0, 1, 2] {
            assert!(matches!(encode_size(body), Err(WireError::InvalidPacket(_))));
        }
        assert_eq!(
            encode_size(MAX_BODY + 1),
            Err(WireError::TooLong {
                len: MAX_BODY + 1,
                max: MAX_BODY
            })
        );
    }

    proptest! {
        #[test]
        fn size_round_trip(body in 3usize..=MAX_BODY) {
            prop_assert_eq!(decode_size(encode_size(body).unwrap()), Ok(body));
        }
    }
}
