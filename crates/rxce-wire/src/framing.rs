//! Length-prefixed message framing of an established session.
//!
//! Both transports SMB runs over put a 4-byte header in front of every
//! message:
//!
//! * [`Framing::NetbiosSession`] (port 139, after a positive session
//!   response): byte 0 is the session service packet type. Session messages
//!   (type 0x00) carry data; keepalives (0x85) may arrive at any time and
//!   carry nothing. RFC 1002 gives the length 17 bits (bit 0 of byte 1 plus
//!   bytes 2..4), but SMB2 servers such as Samba and Windows use the whole
//!   of byte 1 as the high length byte for large messages, so messages are
//!   read with a 24-bit length. Both readings agree up to 0x1FFFF.
//! * [`Framing::DirectTcp`] (port 445, SMB direct hosting): byte 0 is
//!   always zero and bytes 1..4 hold a 24-bit length. There is no keepalive.
//!
//! Lengths are big-endian and count the bytes after the header.
//!
//! Observed with Samba 4.17 on a NetBIOS session: once SMB2 is negotiated,
//! smbd reads a message length as 24 bits (a header `00 02 00 44` makes it
//! wait for 0x20044 bytes); for the very first message it ignored flag bits
//! other than bit 0, as RFC 1002 does. Senders should therefore keep byte 1
//! at 0 or 1 whenever the length allows, which
//! [`Framing::encode_message_header`] does.

use crate::error::WireError;
use crate::nbss::{KEEPALIVE, SESSION_MESSAGE};

/// Length of a frame header, for both framings.
pub const HEADER_LEN: usize = 4;

/// TCP port of SMB direct hosting.
pub const DIRECT_TCP_PORT: u16 = 445;

/// Largest message length a 24-bit length field can carry.
const MAX_24_BIT: usize = 0xff_ffff;

/// The framing of an established session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Framing {
    /// NetBIOS session service framing (RFC 1002 §4.3), port 139.
    NetbiosSession,
    /// SMB direct-hosted TCP framing, port 445.
    DirectTcp,
}

/// What a frame header announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FrameHeader {
    /// A message of `len` bytes follows the header.
    Message {
        /// Length of the message after the header.
        len: usize,
    },
    /// A session keepalive; nothing follows the header.
    Keepalive,
    /// Another session service packet, which has no place in an
    /// established session (the caller treats it as a protocol error).
    /// `len` is the RFC 1002 17-bit trailer length, reserved flag bits
    /// ignored.
    Control {
        /// The session service packet type (byte 0).
        packet_type: u8,
        /// Length of the trailer after the header.
        len: usize,
    },
}

impl Framing {
    /// Decodes a 4-byte frame header.
    ///
    /// * `DirectTcp`: byte 0 must be zero (else
    ///   [`WireError::InvalidPacket`]); bytes 1..4 are the 24-bit length.
    /// * `NetbiosSession`: a session message takes bytes 1..4 as a 24-bit
    ///   length; a keepalive must have all of bytes 1..4 zero (else
    ///   [`WireError::InvalidPacket`]); any other type is
    ///   [`FrameHeader::Control`].
    pub fn decode_header(self, header: [u8; HEADER_LEN]) -> Result<FrameHeader, WireError> {
        let len24 = (usize::from(header[1]) << 16) | (usize::from(header[2]) << 8) | usize::from(header[3]);
        match self {
            Framing::DirectTcp => {
                if header[0] != 0 {
                    return Err(WireError::InvalidPacket(
                        "direct TCP frame header does not start with zero",
                    ));
                }
                Ok(FrameHeader::Message { len: len24 })
            }
            Framing::NetbiosSession => match header[0] {
                SESSION_MESSAGE => Ok(FrameHeader::Message { len: len24 }),
                KEEPALIVE => {
                    if len24 != 0 {
                        return Err(WireError::InvalidPacket("session keepalive with flags or length"));
                    }
                    Ok(FrameHeader::Keepalive)
                }
                packet_type => Ok(FrameHeader::Control {
                    packet_type,
                    len: (usize::from(header[1] & 0x01) << 16)
                        | usize::from(u16::from_be_bytes([header[2], header[3]])),
                }),
            },
        }
    }

    /// Encodes the header of a message of `len` bytes.
    ///
    /// For `NetbiosSession`, lengths up to 0x1FFFF come out in the strict
    /// RFC 1002 form (flags byte 0 or 1); larger ones use the 24-bit form
    /// (which is the same byte layout). Lengths above
    /// [`Framing::max_message_len`] are [`WireError::TooLong`].
    pub fn encode_message_header(self, len: usize) -> Result<[u8; HEADER_LEN], WireError> {
        let max = self.max_message_len();
        if len > max {
            return Err(WireError::TooLong { len, max });
        }
        // Up to 0x1FFFF the 24-bit big-endian layout leaves byte 1 at 0
        // or 1, which is exactly the RFC form with the length extension
        // flag; above it, byte 1 carries the high length bits.
        Ok([SESSION_MESSAGE, (len >> 16) as u8, (len >> 8) as u8, len as u8])
    }

    /// Largest message length this framing can carry (0xFF_FFFF for both).
    pub const fn max_message_len(self) -> usize {
        match self {
            Framing::NetbiosSession | Framing::DirectTcp => MAX_24_BIT,
        }
    }

    /// Whether this framing has session keepalives.
    pub const fn has_keepalive(self) -> bool {
        matches!(self, Framing::NetbiosSession)
    }
}

/// A NetBIOS session keepalive frame: type 0x85, flags 0, length 0.
///
/// Only for [`Framing::NetbiosSession`]. Observed with Samba 4.17: smbd
/// drops the connection ("Invalid message type 133") when a keepalive
/// arrives before the first SMB2 NEGOTIATE, and ignores keepalives after it.
pub const fn keepalive_frame() -> [u8; HEADER_LEN] {
    [KEEPALIVE, 0, 0, 0]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NB: Framing = Framing::NetbiosSession;
    const TCP: Framing = Framing::DirectTcp;

    #[test]
    fn keepalive_bytes() {
        assert_eq!(keepalive_frame(), [0x85, 0, 0, 0]);
        assert_eq!(NB.decode_header(keepalive_frame()), Ok(FrameHeader::Keepalive));
        assert!(NB.has_keepalive());
        assert!(!TCP.has_keepalive());
    }

    #[test]
    fn message_headers_both_framings() {
        // (length, header): 24-bit big-endian after a zero type byte.
        let cases = [
            (0, [0, 0, 0, 0]),
            (0x44, [0, 0, 0, 0x44]),
            (0xffff, [0, 0, 0xff, 0xff]),
            (0x1_0000, [0, 1, 0, 0]),
            (0x1_ffff, [0, 1, 0xff, 0xff]),
            (0x2_0000, [0, 2, 0, 0]),
            (0x80_0041, [0, 0x80, 0, 0x41]),
            (0xff_ffff, [0, 0xff, 0xff, 0xff]),
        ];
        for framing in [NB, TCP] {
            for (len, header) in cases {
                assert_eq!(framing.encode_message_header(len), Ok(header));
                assert_eq!(framing.decode_header(header), Ok(FrameHeader::Message { len }));
            }
            assert_eq!(framing.max_message_len(), 0xff_ffff);
            assert_eq!(
                framing.encode_message_header(0x100_0000),
                Err(WireError::TooLong {
                    len: 0x100_0000,
                    max: 0xff_ffff
                })
            );
            assert_eq!(
                framing.encode_message_header(usize::MAX),
                Err(WireError::TooLong {
                    len: usize::MAX,
                    max: 0xff_ffff
                })
            );
        }
    }

    #[test]
    fn direct_tcp_rejects_nonzero_first_byte() {
        for first in [0x01, 0x81, 0x82, 0x85, 0xfe, 0xff] {
            assert_eq!(
                TCP.decode_header([first, 0, 0, 0]),
                Err(WireError::InvalidPacket(
                    "direct TCP frame header does not start with zero"
                )),
                "{first:#x}"
            );
        }
    }

    #[test]
    fn netbios_keepalive_must_be_empty() {
        for header in [[0x85, 0, 0, 1], [0x85, 1, 0, 0], [0x85, 0x80, 0, 0], [0x85, 0, 1, 0]] {
            assert_eq!(
                NB.decode_header(header),
                Err(WireError::InvalidPacket("session keepalive with flags or length")),
                "{header:02x?}"
            );
        }
    }

    #[test]
    fn netbios_control_packets() {
        let cases = [
            ([0x81, 0, 0, 0x44], 0x81, 0x44),
            ([0x82, 0, 0, 0], 0x82, 0),
            ([0x83, 0, 0, 1], 0x83, 1),
            ([0x84, 0, 0, 6], 0x84, 6),
            // 17-bit length: the extension bit counts, reserved bits do not.
            ([0x86, 0x01, 0x00, 0x02], 0x86, 0x1_0002),
            ([0xff, 0xfe, 0x12, 0x34], 0xff, 0x1234),
        ];
        for (header, packet_type, len) in cases {
            assert_eq!(NB.decode_header(header), Ok(FrameHeader::Control { packet_type, len }));
        }
    }

    proptest! {
        #[test]
        fn message_headers_round_trip(len in 0usize..=0xff_ffff, nb in any::<bool>()) {
            let framing = if nb { NB } else { TCP };
            let header = framing.encode_message_header(len).unwrap();
            prop_assert_eq!(framing.decode_header(header), Ok(FrameHeader::Message { len }));
            if len <= 0x1_ffff {
                // Strict RFC 1002 form: flags byte is the length extension bit.
                prop_assert_eq!(usize::from(header[1]), len >> 16);
                prop_assert!(header[1] <= 1);
            }
        }

        #[test]
        fn decode_never_panics(header in any::<[u8; 4]>()) {
            let _ = NB.decode_header(header);
            let _ = TCP.decode_header(header);
        }
    }
}
