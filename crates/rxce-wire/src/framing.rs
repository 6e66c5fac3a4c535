//! Length-prefixed message framing of an established session.
//!
//! Every framing rxce knows puts a 4-byte header in front of each message
//! (or, for ONC RPC, of each fragment of a message). SMB runs over two:
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
//! Their lengths are big-endian and count the bytes after the header.
//!
//! Two more carry the file protocols of the other redirectors:
//!
//! * [`Framing::RpcRecord`] (ONC RPC over TCP, NFS; see [`crate::record`]):
//!   a message is one or more fragments, each behind a header with the
//!   last-fragment bit and a 31-bit length. The headers are not part of the
//!   message; a receiver joins the fragments' data.
//! * [`Framing::NineP`] (9P; see [`crate::ninep`]): the header is the
//!   message's own `size[4]`, little-endian and counting itself; the
//!   message a client sees starts at `type[1]`.
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
use crate::{ninep, record};

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
    /// ONC RPC record marking (RFC 5531 §11), port 111 for rpcbind.
    RpcRecord,
    /// 9P message framing (`size[4]` little-endian, counting itself), port
    /// 564.
    NineP,
}

/// What a frame header announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FrameHeader {
    /// A message of `len` bytes follows the header.
    Message {
        /// Length of the message after the header.
        len: usize,
    },
    /// A fragment of an ONC RPC record ([`Framing::RpcRecord`]): `len`
    /// bytes of the message follow; more fragments follow unless `last`.
    Fragment {
        /// Length of the fragment's data.
        len: usize,
        /// The record's last fragment.
        last: bool,
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
    /// * `RpcRecord`: always a [`FrameHeader::Fragment`].
    /// * `NineP`: `size[4]` little-endian; below 7 is
    ///   [`WireError::InvalidPacket`]; the message length is `size - 4`.
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
            Framing::RpcRecord => {
                let (len, last) = record::decode_fragment_header(header);
                Ok(FrameHeader::Fragment { len, last })
            }
            Framing::NineP => Ok(FrameHeader::Message {
                len: ninep::decode_size(header)?,
            }),
        }
    }

    /// Encodes the header of a message of `len` bytes.
    ///
    /// For `NetbiosSession`, lengths up to 0x1FFFF come out in the strict
    /// RFC 1002 form (flags byte 0 or 1); larger ones use the 24-bit form
    /// (which is the same byte layout). For `RpcRecord` it is the header
    /// of the record's first fragment when the record is cut at
    /// [`Framing::fragment_size`] (the only header when the message fits
    /// one fragment; see [`crate::record::fragments`] for the others). For
    /// `NineP` it is `size[4]`: a message shorter than `type[1] tag[2]`
    /// is [`WireError::InvalidPacket`]. Lengths above
    /// [`Framing::max_message_len`] are [`WireError::TooLong`].
    pub fn encode_message_header(self, len: usize) -> Result<[u8; HEADER_LEN], WireError> {
        let max = self.max_message_len();
        if len > max {
            return Err(WireError::TooLong { len, max });
        }
        match self {
            // Up to 0x1FFFF the 24-bit big-endian layout leaves byte 1 at 0
            // or 1, which is exactly the RFC form with the length extension
            // flag; above it, byte 1 carries the high length bits.
            Framing::NetbiosSession | Framing::DirectTcp => {
                Ok([SESSION_MESSAGE, (len >> 16) as u8, (len >> 8) as u8, len as u8])
            }
            Framing::RpcRecord => {
                record::encode_fragment_header(len.min(record::FRAGMENT_SIZE), len <= record::FRAGMENT_SIZE)
            }
            Framing::NineP => ninep::encode_size(len),
        }
    }

    /// Largest message length this framing can carry: 0xFF_FFFF for the
    /// SMB framings, 0xFFFF_FFFB for 9P (`size[4]` counts itself), and
    /// 0xFFFF_FFFF for an ONC RPC record (fragments have no limit on their
    /// number; rxce caps a record at what a u32 counts).
    pub const fn max_message_len(self) -> usize {
        match self {
            Framing::NetbiosSession | Framing::DirectTcp => MAX_24_BIT,
            Framing::RpcRecord => u32::MAX as usize,
            Framing::NineP => ninep::MAX_BODY,
        }
    }

    /// The smallest message the framing carries (3 for 9P, `type[1]`
    /// and `tag[2]`; 0 for the others).
    pub const fn min_message_len(self) -> usize {
        match self {
            Framing::NineP => ninep::MIN_MESSAGE - ninep::SIZE_LEN,
            _ => 0,
        }
    }

    /// The size outgoing messages are cut into fragments at, for a framing
    /// with fragments ([`record::FRAGMENT_SIZE`] for `RpcRecord`).
    pub const fn fragment_size(self) -> Option<usize> {
        match self {
            Framing::RpcRecord => Some(record::FRAGMENT_SIZE),
            _ => None,
        }
    }

    /// The TCP port a client connects to when none is given: 445 for
    /// direct TCP, 139 for NetBIOS sessions, 111 (rpcbind) for ONC RPC, 564
    /// for 9P.
    pub const fn default_port(self) -> u16 {
        match self {
            Framing::NetbiosSession => 139,
            Framing::DirectTcp => DIRECT_TCP_PORT,
            Framing::RpcRecord => record::RPCBIND_PORT,
            Framing::NineP => ninep::PORT,
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
    /// A further fragment of this many bytes of the message that started
    /// ([`Framing::RpcRecord`]): its header was read; its data come as
    /// [`Piece::Payload`]s of the same message.
    Fragment(usize),
    /// A session keepalive: nothing to deliver.
    Keepalive,
}

/// Where a [`Deframer`] is in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Header,
    Body { remaining: usize, last: bool },
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
/// the limit ([`Deframer::with_max_message`]) is [`WireError::TooLong`]
/// (for an RPC record: once the fragments announced so far add up to
/// more; more than [`record::MAX_EMPTY_FRAGMENTS`] empty fragments before
/// the last is [`WireError::InvalidPacket`]). After an error the stream
/// cannot be read further.
#[derive(Debug, Clone)]
pub struct Deframer {
    framing: Framing,
    max_message: usize,
    place: Place,
    /// RPC: inside a record, between fragments.
    in_record: bool,
    /// RPC: the record's length so far, and its empty non-final fragments.
    record_len: usize,
    empty_fragments: usize,
}

impl Deframer {
    /// A deframer at the start of a message header, taking messages up to
    /// [`Framing::max_message_len`].
    pub const fn new(framing: Framing) -> Deframer {
        Deframer {
            framing,
            max_message: framing.max_message_len(),
            place: Place::Header,
            in_record: false,
            record_len: 0,
            empty_fragments: 0,
        }
    }

    /// The same, refusing messages longer than `max_message` bytes.
    pub const fn with_max_message(framing: Framing, max_message: usize) -> Deframer {
        Deframer {
            framing,
            max_message,
            place: Place::Header,
            in_record: false,
            record_len: 0,
            empty_fragments: 0,
        }
    }

    /// True between a message's [`Piece::Start`] and its [`Piece::End`]:
    /// a stream that ends here ends inside a message.
    pub const fn mid_message(&self) -> bool {
        self.in_record || !matches!(self.place, Place::Header)
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
                            Place::Body {
                                remaining: len,
                                last: true,
                            }
                        };
                        Ok(Some((Piece::Start(len), HEADER_LEN)))
                    }
                    FrameHeader::Fragment { len, last } => {
                        let (total, piece) = if self.in_record {
                            (self.record_len.saturating_add(len), Piece::Fragment(len))
                        } else {
                            self.empty_fragments = 0;
                            (len, Piece::Start(len))
                        };
                        if total > self.max_message {
                            return Err(WireError::TooLong {
                                len: total,
                                max: self.max_message,
                            });
                        }
                        if len == 0 && !last {
                            self.empty_fragments += 1;
                            if self.empty_fragments > record::MAX_EMPTY_FRAGMENTS {
                                return Err(WireError::InvalidPacket("too many empty fragments in one RPC record"));
                            }
                        }
                        self.record_len = total;
                        self.in_record = !last;
                        self.place = match (len, last) {
                            (0, true) => Place::End,
                            (0, false) => Place::Header,
                            (remaining, last) => Place::Body { remaining, last },
                        };
                        Ok(Some((piece, HEADER_LEN)))
                    }
                    FrameHeader::Keepalive => Ok(Some((Piece::Keepalive, HEADER_LEN))),
                    FrameHeader::Control { packet_type, len } => Err(WireError::ControlPacket { packet_type, len }),
                }
            }
            Place::Body { remaining, last } => {
                if received.is_empty() {
                    return Ok(None);
                }
                let n = remaining.min(received.len());
                self.place = match (n == remaining, last) {
                    (true, true) => Place::End,
                    (true, false) => Place::Header,
                    (false, _) => Place::Body {
                        remaining: remaining - n,
                        last,
                    },
                };
                Ok(Some((Piece::Payload(n), n)))
            }
            Place::End => {
                self.place = Place::Header;
                self.in_record = false;
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

    const RPC: Framing = Framing::RpcRecord;
    const P9: Framing = Framing::NineP;

    #[test]
    fn rpc_and_9p_headers() {
        assert_eq!(RPC.encode_message_header(0), Ok([0x80, 0, 0, 0]));
        assert_eq!(RPC.encode_message_header(0x28), Ok([0x80, 0, 0, 0x28]));
        assert_eq!(RPC.encode_message_header(0x1_0000), Ok([0x80, 1, 0, 0]));
        // Longer than a fragment: the first fragment's header, not last.
        assert_eq!(RPC.encode_message_header(0x1_0001), Ok([0, 1, 0, 0]));
        assert_eq!(
            RPC.decode_header([0x80, 0, 1, 2]),
            Ok(FrameHeader::Fragment { len: 0x102, last: true })
        );
        assert_eq!(
            RPC.decode_header([0x7f, 0xff, 0xff, 0xff]),
            Ok(FrameHeader::Fragment {
                len: 0x7fff_ffff,
                last: false
            })
        );
        assert_eq!(RPC.fragment_size(), Some(65536));
        assert_eq!(RPC.default_port(), 111);
        assert!(!RPC.has_keepalive());

        assert_eq!(P9.encode_message_header(3), Ok([7, 0, 0, 0]));
        assert_eq!(P9.encode_message_header(0x1_0000), Ok([4, 0, 1, 0]));
        assert!(P9.encode_message_header(2).is_err());
        assert_eq!(
            P9.decode_header([4, 0, 1, 0]),
            Ok(FrameHeader::Message { len: 0x1_0000 })
        );
        assert_eq!(
            P9.decode_header([3, 0, 0, 0]),
            Err(WireError::InvalidPacket("9P message size below 7"))
        );
        assert_eq!(P9.min_message_len(), 3);
        assert_eq!(P9.default_port(), 564);
        assert_eq!(P9.max_message_len(), 0xffff_fffb);
        assert_eq!(TCP.default_port(), 445);
        assert_eq!(NB.default_port(), 139);
    }

    #[test]
    fn deframer_joins_rpc_fragments() {
        // "ab" in two fragments, an empty record, then the start of "xyz".
        let bytes = [
            0, 0, 0, 1, b'a', 0x80, 0, 0, 1, b'b', 0x80, 0, 0, 0, 0, 0, 0, 0, 0x80, 0, 0, 3, b'x',
        ];
        let mut d = Deframer::new(RPC);
        assert_eq!(
            pieces(&mut d, &bytes).unwrap(),
            [
                Piece::Start(1),
                Piece::Payload(1),
                Piece::Fragment(1),
                Piece::Payload(1),
                Piece::End,
                Piece::Start(0),
                Piece::End,
                Piece::Start(0),
                Piece::Fragment(3),
                Piece::Payload(1),
            ]
        );
        assert!(d.mid_message());
        // Between two fragments the record is still open.
        let mut d = Deframer::new(RPC);
        assert_eq!(
            pieces(&mut d, &[0, 0, 0, 1, b'a']).unwrap(),
            [Piece::Start(1), Piece::Payload(1)]
        );
        assert!(d.mid_message());
    }

    #[test]
    fn deframer_refuses_long_records_and_empty_fragment_floods() {
        // The limit counts the record, fragment by fragment, on each header.
        let mut d = Deframer::with_max_message(RPC, 4);
        assert_eq!(
            pieces(&mut d, &[0, 0, 0, 2, 1, 2, 0x80, 0, 0, 2, 3, 4]),
            Ok(vec![
                Piece::Start(2),
                Piece::Payload(2),
                Piece::Fragment(2),
                Piece::Payload(2),
                Piece::End
            ])
        );
        assert_eq!(
            pieces(&mut d, &[0, 0, 0, 2, 1, 2, 0x80, 0, 0, 3]),
            Err(WireError::TooLong { len: 5, max: 4 })
        );
        assert_eq!(
            Deframer::new(RPC)
                .next(&[0x7f, 0xff, 0xff, 0xff])
                .map(|p| p.map(|(p, _)| p)),
            Ok(Some(Piece::Start(0x7fff_ffff)))
        );
        assert_eq!(
            Deframer::with_max_message(RPC, 1 << 20).next(&[0xff, 0xff, 0xff, 0xff]),
            Err(WireError::TooLong {
                len: 0x7fff_ffff,
                max: 1 << 20
            })
        );
        let flood: Vec<u8> = std::iter::repeat([0u8, 0, 0, 0]).take(100).flatten().collect();
        let mut d = Deframer::new(RPC);
        assert_eq!(
            pieces(&mut d, &flood),
            Err(WireError::InvalidPacket("too many empty fragments in one RPC record"))
        );
        // Up to the limit, empty fragments are fine.
        let mut ok: Vec<u8> = std::iter::repeat([0u8, 0, 0, 0])
            .take(crate::record::MAX_EMPTY_FRAGMENTS)
            .flatten()
            .collect();
        ok.extend_from_slice(&[0x80, 0, 0, 1, 9]);
        let got = pieces(&mut Deframer::new(RPC), &ok).unwrap();
        assert_eq!(got.last(), Some(&Piece::End));
    }

    #[test]
    fn deframer_cuts_9p_messages() {
        let bytes = [
            7, 0, 0, 0, 100, 0xff, 0xff, 9, 0, 0, 0, 101, 1, 0, 0xaa, 0xbb, 3, 0, 0, 0,
        ];
        let mut d = Deframer::new(P9);
        let mut out = Vec::new();
        let mut at = &bytes[..];
        let err = loop {
            match d.next(at) {
                Ok(Some((piece, used))) => {
                    out.push(piece);
                    at = &at[used..];
                }
                Ok(None) => break None,
                Err(e) => break Some(e),
            }
        };
        assert_eq!(
            out,
            [
                Piece::Start(3),
                Piece::Payload(3),
                Piece::End,
                Piece::Start(5),
                Piece::Payload(5),
                Piece::End
            ]
        );
        assert_eq!(err, Some(WireError::InvalidPacket("9P message size below 7")));
        assert_eq!(
            Deframer::with_max_message(P9, 8188).next(&[0x01, 0x20, 0, 0]),
            Err(WireError::TooLong { len: 8189, max: 8188 })
        );
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
                        Piece::Fragment(_) => unreachable!("no fragments in SMB framings"),
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
        fn rpc_records_any_fragments_any_cut(
            records in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..60), 0..6),
            fragment in 1usize..20,
            cut in 1usize..13,
        ) {
            let mut stream = Vec::new();
            for record in &records {
                stream.extend_from_slice(&crate::record::encode_record(record, fragment));
            }
            let mut deframer = Deframer::new(RPC);
            let (mut held, mut got, mut body) = (Vec::new(), Vec::new(), None::<Vec<u8>>);
            for chunk in stream.chunks(cut) {
                held.extend_from_slice(chunk);
                while let Some((piece, used)) = deframer.next(&held).unwrap() {
                    match piece {
                        Piece::Start(_) => body = Some(Vec::new()),
                        Piece::Fragment(_) => prop_assert!(body.is_some()),
                        Piece::Payload(n) => body.as_mut().unwrap().extend_from_slice(&held[..n]),
                        Piece::End => got.push(body.take().unwrap()),
                        Piece::Keepalive => prop_assert!(false, "no keepalives in RPC"),
                    }
                    held.drain(..used);
                }
            }
            prop_assert!(held.is_empty() && !deframer.mid_message());
            prop_assert_eq!(got, records);
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
