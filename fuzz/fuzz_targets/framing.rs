//! The 4-byte length prefix of an established session
//! (`Framing::decode_header`), for every framing: NetBIOS session (port
//! 139), SMB direct-hosted TCP (port 445), ONC RPC record marking (its
//! fragments joined into one message) and 9P (`size[4]`).
//!
//! Properties, on every input:
//! - `decode_header` never panics and is exact: a message header is the
//!   canonical encoding of its length (`encode_message_header` gives back
//!   the same 4 bytes) and within `max_message_len`; a keepalive is exactly
//!   `keepalive_frame()` and only on a framing that has keepalives; a
//!   control frame only on a NetBIOS session, never for type 0x00 or 0x85,
//!   with a 17-bit length; an error only for the headers the docs name;
//! - `encode_message_header(len)` succeeds exactly up to the maximum and
//!   decodes back to `len`;
//! - reassembly: the byte stream after the input's parameters, cut into
//!   chunks of sizes taken from the input and fed through a `Deframer`
//!   (with a message limit from the input, as a receiver would), gives the
//!   same messages, keepalives and final outcome (clean end, truncated,
//!   over-long or bad header) as the whole stream at once, and an
//!   over-long or bad header is reported as soon as its 4 bytes are in,
//!   before any byte of its body is taken.
//!
//! The engine's own receive machine (`rxce::vc::indication`, crate-private)
//! is fuzzed end to end by the `vc_receive` target.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rxce_fuzz::Cursor;
use rxce_wire::framing::{keepalive_frame, Deframer, FrameHeader, Framing, Piece, HEADER_LEN};
use rxce_wire::WireError;

const FRAMINGS: [Framing; 4] = [
    Framing::NetbiosSession,
    Framing::DirectTcp,
    Framing::RpcRecord,
    Framing::NineP,
];

fuzz_target!(|data: &[u8]| {
    let mut c = Cursor::new(data);
    let header: [u8; 4] = Cursor::new(data).array();
    for framing in FRAMINGS {
        check_header(framing, header);
    }
    // Parameters: framing, message limit, chunk sizes; then the stream.
    let framing = FRAMINGS[usize::from(c.u8() & 3)];
    let limit = usize::from(c.u16());
    let len = c.u32() as usize;
    check_encode(framing, len);
    let count = usize::from(c.u8() % 9);
    let mut chunks: Vec<usize> = c.take(count).iter().map(|&b| usize::from(b) + 1).collect();
    if chunks.is_empty() {
        chunks.push(1);
    }
    let stream = c.rest();
    let whole = reassemble(framing, limit, stream, &[stream.len().max(1)]);
    let chunked = reassemble(framing, limit, stream, &chunks);
    assert_eq!(whole, chunked, "chunks {chunks:?}");
});

fn check_header(framing: Framing, header: [u8; 4]) {
    match framing.decode_header(header) {
        Ok(FrameHeader::Message { len }) => {
            assert!(len <= framing.max_message_len());
            assert!(len >= framing.min_message_len());
            assert_ne!(framing, Framing::RpcRecord);
            assert_eq!(framing.encode_message_header(len), Ok(header), "not canonical");
        }
        Ok(FrameHeader::Fragment { len, last }) => {
            assert_eq!(framing, Framing::RpcRecord);
            assert_eq!(rxce_wire::record::encode_fragment_header(len, last), Ok(header));
        }
        Ok(FrameHeader::Keepalive) => {
            assert!(framing.has_keepalive());
            assert_eq!(header, keepalive_frame());
        }
        Ok(FrameHeader::Control { packet_type, len }) => {
            assert_eq!(framing, Framing::NetbiosSession);
            assert!(packet_type != 0x00 && packet_type != 0x85);
            assert_eq!(packet_type, header[0]);
            assert!(len <= 0x1_ffff);
        }
        Err(WireError::InvalidPacket(_)) => match framing {
            Framing::DirectTcp => assert_ne!(header[0], 0),
            Framing::NetbiosSession => assert!(header[0] == 0x85 && header[1..] != [0, 0, 0]),
            Framing::NineP => assert!(u32::from_le_bytes(header) < 7),
            Framing::RpcRecord => panic!("every RPC fragment header decodes"),
        },
        Err(other) => panic!("{framing:?} {header:02x?}: unexpected {other:?}"),
    }
}

fn check_encode(framing: Framing, len: usize) {
    match framing.encode_message_header(len) {
        Ok(header) => {
            assert!(len <= framing.max_message_len());
            let expected = match framing {
                Framing::RpcRecord => FrameHeader::Fragment {
                    len: len.min(rxce_wire::record::FRAGMENT_SIZE),
                    last: len <= rxce_wire::record::FRAGMENT_SIZE,
                },
                _ => FrameHeader::Message { len },
            };
            assert_eq!(framing.decode_header(header), Ok(expected));
        }
        Err(WireError::InvalidPacket(_)) => {
            assert_eq!(framing, Framing::NineP);
            assert!(len < 3);
        }
        Err(WireError::TooLong { len: l, max }) => {
            assert_eq!((l, max), (len, framing.max_message_len()));
            assert!(len > max);
        }
        Err(other) => panic!("encode {len}: unexpected {other:?}"),
    }
}

/// What a receiver makes of a stream.
#[derive(Debug, PartialEq, Eq)]
enum Event {
    Message(Vec<u8>),
    Keepalive,
}

#[derive(Debug, PartialEq, Eq)]
enum End {
    /// The stream ended between frames.
    Clean,
    /// The stream ended inside a header or a message.
    Truncated,
    /// A message longer than the limit, announced at this stream offset
    /// (the offset of the byte after its header).
    TooLong(usize),
    /// A header the framing refuses (or a control frame), ending at this
    /// stream offset.
    BadHeader(usize),
}

/// A receiver: bytes arrive in chunks and are held until the deframer has
/// used them; at most one message body is collected at a time.
struct Reassembler {
    deframer: Deframer,
    rpc: bool,
    held: Vec<u8>,
    body: Option<Vec<u8>>,
    /// Stream offset of the first held byte.
    offset: usize,
    events: Vec<Event>,
    failed: Option<End>,
}

impl Reassembler {
    fn push(&mut self, chunk: &[u8]) {
        if self.failed.is_some() {
            return;
        }
        self.held.extend_from_slice(chunk);
        loop {
            let (piece, used) = match self.deframer.next(&self.held) {
                Ok(Some(next)) => next,
                Ok(None) => return,
                Err(e) => {
                    // A refused header comes before any byte of its body
                    // (for RPC, of the fragment it announces).
                    assert!(self.body.is_none() || self.rpc, "nothing of a refused frame is taken");
                    let at = self.offset + HEADER_LEN;
                    self.failed = Some(match e {
                        WireError::TooLong { .. } => End::TooLong(at),
                        _ => End::BadHeader(at),
                    });
                    return;
                }
            };
            match piece {
                Piece::Start(_) => self.body = Some(Vec::new()),
                Piece::Fragment(_) => assert!(self.rpc && self.body.is_some()),
                Piece::Payload(n) => self.body.as_mut().expect("started").extend_from_slice(&self.held[..n]),
                Piece::End => self.events.push(Event::Message(self.body.take().expect("started"))),
                Piece::Keepalive => self.events.push(Event::Keepalive),
            }
            self.held.drain(..used);
            self.offset += used;
        }
    }

    fn finish(self) -> (Vec<Event>, End) {
        let end = match self.failed {
            Some(end) => end,
            None if self.deframer.mid_message() || !self.held.is_empty() => End::Truncated,
            None => End::Clean,
        };
        (self.events, end)
    }
}

fn reassemble(framing: Framing, limit: usize, stream: &[u8], chunks: &[usize]) -> (Vec<Event>, End) {
    let mut r = Reassembler {
        deframer: Deframer::with_max_message(framing, limit),
        rpc: framing == Framing::RpcRecord,
        held: Vec::new(),
        body: None,
        offset: 0,
        events: Vec::new(),
        failed: None,
    };
    let mut rest = stream;
    for &size in chunks.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (chunk, tail) = rest.split_at(size.min(rest.len()));
        r.push(chunk);
        rest = tail;
    }
    r.finish()
}
