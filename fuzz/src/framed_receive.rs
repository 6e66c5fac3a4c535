//! The receive machine (`rxce_proto::vc::ReceiveMachine`) on one framing,
//! driven with no socket, checked against the wire crate's `Deframer`
//! (shared by the `rpc_receive` and `ninep_receive` targets).
//!
//! Input: the lookahead size, the message limit, the socket's read sizes
//! and a script of the client's answers; then the peer's byte stream,
//! after which the peer ends its data.
//!
//! Properties:
//! - no panic, no stall (the driver resumes a paused client; every step
//!   makes progress);
//! - the machine fails exactly when the deframer refuses a header or the
//!   stream ends inside a message; otherwise it ends cleanly;
//! - the bytes the client takes and gets in filled buffers are, in order, a
//!   prefix of the messages' bytes with no header byte among them; on a
//!   clean end, all of them (less those declined at the very end);
//! - an indication with ENTIRE_MESSAGE is the whole rest of one message
//!   (`available` is its length, all of it indicated); one without it
//!   never reaches past its message's end, and `available` covers it.

use std::sync::Arc;

use rxce_proto::budget::Budget;
use rxce_proto::buffer::{BufferChain, BufferPool, ReceiveBuffer};
use rxce_proto::tdi::ReceiveFlags;
use rxce_proto::vc::{Progress, ReceiveMachine, ReceiveStep};
use rxce_proto::{ReceiveAnswer, Status};
use rxce_wire::framing::{Deframer, Framing, Piece};

use crate::Cursor;

/// What the peer's stream holds, as the deframer reads it whole.
struct Expected {
    /// Every payload byte, in order (of the failing message too).
    bytes: Vec<u8>,
    /// The offset in `bytes` where each message ends (complete ones).
    ends: Vec<usize>,
    /// The stream is refused or cut inside a message.
    fails: bool,
}

fn expected(framing: Framing, limit: usize, stream: &[u8]) -> Expected {
    let mut deframer = Deframer::with_max_message(framing, limit);
    let (mut bytes, mut ends, mut rest) = (Vec::new(), Vec::new(), stream);
    loop {
        match deframer.next(rest) {
            Ok(Some((piece, used))) => {
                match piece {
                    Piece::Payload(n) => bytes.extend_from_slice(&rest[..n]),
                    Piece::End => ends.push(bytes.len()),
                    Piece::Start(_) | Piece::Fragment(_) | Piece::Keepalive => {}
                }
                rest = &rest[used..];
            }
            Ok(None) => {
                let fails = deframer.mid_message() || !rest.is_empty();
                return Expected { bytes, ends, fails };
            }
            Err(_) => {
                return Expected {
                    bytes,
                    ends,
                    fails: true,
                }
            }
        }
    }
}

/// Runs one input on `framing`.
pub fn run(framing: Framing, data: &[u8]) {
    let mut c = Cursor::new(data);
    let lookahead = 4 + usize::from(c.u8());
    let limit = usize::from(c.u16());
    let reads: Vec<usize> = (0..1 + c.u8() % 4).map(|_| 1 + usize::from(c.u8())).collect();
    let count = usize::from(c.u8() % 16);
    let script: Vec<u8> = c.take(count).to_vec();
    let stream = c.rest();
    let want = expected(framing, limit, stream);

    let pool = Arc::new(BufferPool::new(lookahead, 2, Budget::new(usize::MAX)));
    let mut m = ReceiveMachine::new(pool, Some(framing), limit);
    let mut got: Vec<u8> = Vec::new();
    let (mut at, mut r, mut k, mut failed, mut steps) = (0usize, 0usize, 0usize, false, 0usize);
    let mut resumed = false;
    loop {
        steps += 1;
        assert!(steps < 1_000_000, "no progress");
        match m.poll() {
            ReceiveStep::Indicate(lent) => {
                let indication = lent.indication();
                let n = indication.data.len();
                let position = got.len() + m.declined();
                assert!(n <= lookahead && n <= indication.available);
                let end = want
                    .ends
                    .iter()
                    .copied()
                    .find(|&e| e > position)
                    .unwrap_or(want.bytes.len().max(position + indication.available));
                assert!(position + indication.available <= end, "available past the message end");
                if indication.flags.contains(ReceiveFlags::ENTIRE_MESSAGE) {
                    assert_eq!(n, indication.available);
                    assert_eq!(position + n, end, "ENTIRE_MESSAGE before the message's end");
                }
                let choice = if std::mem::take(&mut resumed) {
                    0
                } else {
                    script.get(k % script.len().max(1)).copied().unwrap_or(0)
                };
                k += 1;
                let answer = match choice % 4 {
                    0 => {
                        got.extend_from_slice(indication.data);
                        ReceiveAnswer::Taken(n)
                    }
                    1 => {
                        let t = usize::from(choice >> 2).min(n);
                        got.extend_from_slice(&indication.data[..t]);
                        ReceiveAnswer::Taken(t)
                    }
                    2 => {
                        let t = usize::from(choice >> 4).min(n);
                        got.extend_from_slice(&indication.data[..t]);
                        let chain = BufferChain::with_lengths(&[usize::from(choice >> 2), 7, 300]);
                        let size = chain.capacity();
                        ReceiveAnswer::MoreProcessingRequired {
                            taken: t,
                            buffer: Box::new(chain),
                            size,
                        }
                    }
                    _ => ReceiveAnswer::NotAccepted,
                };
                m.answer(lent, answer);
            }
            ReceiveStep::DataReady { buffer, copied, status } => {
                assert!(
                    status == Status::SUCCESS || failed || m.declined() > 0 || !m.reads_on(),
                    "{status}"
                );
                let any: Box<dyn std::any::Any> = buffer;
                let chain = any.downcast::<BufferChain>().expect("our buffer");
                got.extend_from_slice(&chain.prefix(copied));
            }
            ReceiveStep::Error(status) => {
                assert_eq!(status, Status::INVALID_NETWORK_RESPONSE);
                failed = true;
            }
            ReceiveStep::Wait(Progress::Ended) => break,
            ReceiveStep::Wait(Progress::Failed(_)) => {
                failed = true;
                break;
            }
            ReceiveStep::Wait(Progress::Paused) => {
                resumed = true;
                m.handle_resume();
            }
            ReceiveStep::Wait(Progress::Answering) => unreachable!("answers are given at once"),
            ReceiveStep::Wait(Progress::NeedBytes) => {
                if at == stream.len() {
                    m.handle_end();
                    continue;
                }
                let target = m
                    .read_target()
                    .expect("an unlimited budget")
                    .expect("a machine that needs bytes has room for them");
                let n = target.len().min(reads[r % reads.len()]).min(stream.len() - at);
                r += 1;
                target[..n].copy_from_slice(&stream[at..at + n]);
                at += n;
                m.handle_read(n);
            }
        }
    }
    assert_eq!(failed, want.fails, "the machine fails exactly when the stream is bad");
    assert!(
        want.bytes.starts_with(&got),
        "the client's bytes are the messages' bytes"
    );
    if !failed {
        assert_eq!(got.len() + m.declined(), want.bytes.len(), "every message's bytes");
    }
}
