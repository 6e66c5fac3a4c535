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
//!
//! A receiver cuts the byte stream into messages with a [`Deframer`]:
//!
//! ```
//! use rxce_wire::framing::{Deframer, Framing, Piece};
//!
//! let mut deframer = Deframer::new(Framing::NetbiosSession);
//! // A 3-byte message, a keepalive, and the start of a 5-byte message.
//! let mut received: &[u8] = &[0, 0, 0, 3, b'a', b'b', b'c', 0x85, 0, 0, 0, 0, 0, 0, 5, b'x'];
//! let mut pieces = Vec::new();
//! while let Some((piece, used)) = deframer.next(received)? {
//!     pieces.push(piece);
//!     received = &received[used..];
//! }
//! use Piece::*;
//! assert_eq!(pieces, [Start(3), Payload(3), End, Keepalive, Start(5), Payload(1)]);
//! assert!(deframer.mid_message()); // 4 bytes of the body are still to come
//! # Ok::<(), rxce_wire::WireError>(())
//! ```

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

/// One step through the received bytes of an established session (see
/// [`Deframer`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Piece {
    /// A message of this many bytes starts: its header was read.
    Start(usize),
    /// The next this-many bytes are message body.
    Payload(usize),
    /// The message that started is complete (after its last payload; at
    /// once for an empty message).
    End,
    /// A session keepalive: nothing to deliver.
    Keepalive,
}

/// Where a [`Deframer`] is in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Header,
    Body { remaining: usize },
    End,
}

/// Cuts the received byte stream of an established session into
/// [`Piece`]s, without holding any of it: the caller keeps the bytes, shows
/// the deframer what it has at the front, and drops what each piece used.
/// A body comes out in as many [`Piece::Payload`]s as the bytes arrive in,
/// so nothing has to hold a message whole.
///
/// Headers are judged as soon as their 4 bytes are in (before any byte of
/// the body): a header the framing refuses is that [`WireError`]; a
/// control packet is [`WireError::ControlPacket`]; a message longer than
/// the limit ([`Deframer::with_max_message`]) is [`WireError::TooLong`].
/// After an error the stream cannot be read further.
#[derive(Debug, Clone)]
pub struct Deframer {
    framing: Framing,
    max_message: usize,
    place: Place,
}

impl Deframer {
    /// A deframer at the start of a message header, taking messages up to
    /// [`Framing::max_message_len`].
    pub const fn new(framing: Framing) -> Deframer {
        Deframer {
            framing,
            max_message: framing.max_message_len(),
            place: Place::Header,
        }
    }

    /// The same, refusing messages longer than `max_message` bytes.
    pub const fn with_max_message(framing: Framing, max_message: usize) -> Deframer {
        Deframer {
            framing,
            max_message,
            place: Place::Header,
        }
    }

    /// True between a message's [`Piece::Start`] and its [`Piece::End`]:
    /// a stream that ends here ends inside a message.
    pub const fn mid_message(&self) -> bool {
        !matches!(self.place, Place::Header)
    }

    /// The next piece at the front of `received` and how many of its bytes
    /// the piece uses (drop them before the next call); `None` when more
    /// bytes are needed.
    pub fn next(&mut self, received: &[u8]) -> Result<Option<(Piece, usize)>, WireError> {
        match self.place {
            Place::Header => {
                let Some(&header) = received.first_chunk::<HEADER_LEN>() else {
                    return Ok(None);
                };
                match self.framing.decode_header(header)? {
                    FrameHeader::Message { len } if len > self.max_message => Err(WireError::TooLong {
                        len,
                        max: self.max_message,
                    }),
                    FrameHeader::Message { len } => {
                        self.place = if len == 0 {
                            Place::End
                        } else {
                            Place::Body { remaining: len }
                        };
                        Ok(Some((Piece::Start(len), HEADER_LEN)))
                    }
                    FrameHeader::Keepalive => Ok(Some((Piece::Keepalive, HEADER_LEN))),
                    FrameHeader::Control { packet_type, len } => Err(WireError::ControlPacket { packet_type, len }),
                }
            }
            Place::Body { remaining } => {
                if received.is_empty() {
                    return Ok(None);
                }
                let n = remaining.min(received.len());
                self.place = if n == remaining {
                    Place::End
                } else {
                    Place::Body {
                        remaining: remaining - n,
                    }
                };
                Ok(Some((Piece::Payload(n), n)))
            }
            Place::End => {
                self.place = Place::Header;
                Ok(Some((Piece::End, 0)))
            }
        }
    }
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

    fn pieces(deframer: &mut Deframer, mut bytes: &[u8]) -> Result<Vec<Piece>, WireError> {
        let mut out = Vec::new();
        while let Some((piece, used)) = deframer.next(bytes)? {
            out.push(piece);
            bytes = &bytes[used..];
        }
        Ok(out)
    }

    #[test]
    fn deframer_cuts_messages_and_skips_keepalives() {
        let bytes = [0, 0, 0, 3, b'a', b'b', b'c', 0x85, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        let mut d = Deframer::new(NB);
        assert_eq!(
            pieces(&mut d, &bytes).unwrap(),
            [
                Piece::Start(3),
                Piece::Payload(3),
                Piece::End,
                Piece::Keepalive,
                Piece::Start(0),
                Piece::End,
                Piece::Start(1)
            ]
        );
        assert!(d.mid_message());
    }

    #[test]
    fn deframer_refuses_control_packets_bad_headers_and_long_messages() {
        assert_eq!(
            pieces(&mut Deframer::new(NB), &[0x81, 0, 0, 0x44]),
            Err(WireError::ControlPacket {
                packet_type: 0x81,
                len: 0x44
            })
        );
        assert_eq!(
            pieces(&mut Deframer::new(TCP), &[0x85, 0, 0, 0]),
            Err(WireError::InvalidPacket(
                "direct TCP frame header does not start with zero"
            ))
        );
        // The limit is judged on the header, before any body byte.
        let mut d = Deframer::with_max_message(TCP, 4);
        assert_eq!(
            pieces(&mut d, &[0, 0, 0, 4, 1, 2, 3, 4]),
            Ok(vec![Piece::Start(4), Piece::Payload(4), Piece::End])
        );
        assert_eq!(d.next(&[0, 0, 0, 5]), Err(WireError::TooLong { len: 5, max: 4 }));
    }

    #[test]
    fn deframer_takes_a_body_in_parts() {
        let mut d = Deframer::new(TCP);
        assert_eq!(d.next(&[0, 0]), Ok(None));
        assert!(!d.mid_message());
        assert_eq!(d.next(&[0, 0, 0, 5]), Ok(Some((Piece::Start(5), 4))));
        assert!(d.mid_message());
        assert_eq!(d.next(&[1, 2]), Ok(Some((Piece::Payload(2), 2))));
        assert_eq!(d.next(&[]), Ok(None));
        assert_eq!(d.next(&[3, 4, 5, 9]), Ok(Some((Piece::Payload(3), 3))));
        assert_eq!(d.next(&[9]), Ok(Some((Piece::End, 0))));
        assert!(!d.mid_message());
    }

    /// Messages (`None`: a keepalive) framed into one stream.
    fn stream_of(framing: Framing, frames: &[Option<Vec<u8>>]) -> Vec<u8> {
        let mut stream = Vec::new();
        for frame in frames {
            match frame {
                Some(body) => {
                    stream.extend_from_slice(&framing.encode_message_header(body.len()).unwrap());
                    stream.extend_from_slice(body);
                }
                None => stream.extend_from_slice(&keepalive_frame()),
            }
        }
        stream
    }

    proptest! {
        #[test]
        fn deframing_any_cut_gives_back_the_frames(
            frames in proptest::collection::vec(
                proptest::option::weighted(0.8, proptest::collection::vec(any::<u8>(), 0..40)),
                0..8,
            ),
            cuts in proptest::collection::vec(1usize..16, 1..8),
            nb in any::<bool>(),
        ) {
            let framing = if nb { NB } else { TCP };
            let frames: Vec<_> = frames.into_iter().filter(|f| f.is_some() || framing.has_keepalive()).collect();
            let stream = stream_of(framing, &frames);
            // Bytes arrive in chunks of the sizes in `cuts`; the receiver
            // keeps what the deframer has not used yet.
            let mut deframer = Deframer::new(framing);
            let (mut held, mut at, mut got) = (Vec::new(), 0, Vec::new());
            let mut body: Option<Vec<u8>> = None;
            for &cut in cuts.iter().cycle() {
                let end = (at + cut).min(stream.len());
                held.extend_from_slice(&stream[at..end]);
                at = end;
                while let Some((piece, used)) = deframer.next(&held).unwrap() {
                    match piece {
                        Piece::Start(_) => body = Some(Vec::new()),
                        Piece::Payload(n) => body.as_mut().unwrap().extend_from_slice(&held[..n]),
                        Piece::End => got.push(body.take()),
                        Piece::Keepalive => got.push(None),
                    }
                    held.drain(..used);
                }
                if at == stream.len() {
                    break;
                }
            }
            prop_assert!(held.is_empty() && !deframer.mid_message());
            prop_assert_eq!(got, frames);
        }

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
