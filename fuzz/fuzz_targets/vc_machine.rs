//! The VC machine (`rxce_proto::vc::VcMachine`) driven directly, with no
//! socket and no runtime: the input is a program of operations — the peer's
//! bytes and end, partial writes, synchronous, asynchronous and
//! non-blocking sends, time passing, resumes, a graceful disconnect, a
//! tear-down, a socket error — and a script of the client's answers to
//! indications.
//!
//! Input: byte 0 picks the framing (bare stream, direct-hosted or NetBIOS
//! with keepalives and a dead-peer timeout); then one operation per byte,
//! some reading one or more argument bytes.
//!
//! Properties:
//! - no panic;
//! - every asynchronous send gets exactly one send-submitted, then exactly
//!   one send-complete; every waited-for send gets one outcome;
//! - at most one disconnect indication; nothing after an ABORT one; after
//!   a tear-down only cancelled completions and client buffers coming back
//!   (0 bytes copied if offered after it), never an indication;
//! - every client buffer offered comes back exactly once;
//! - on a bare stream, the bytes the client took (indications and filled
//!   buffers, in order) are a prefix of the peer's bytes, and the bytes
//!   written are a prefix of the bytes sent, in order;
//! - at the end, after a tear-down, the machine is finished.
#![no_main]

use std::collections::HashMap;
use std::io::IoSlice;
use std::sync::Arc;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use rxce_proto::budget::Budget;
use rxce_proto::buffer::{BufferPool, SendBuffers};
use rxce_proto::tdi::{DisconnectFlags, SendOptions};
use rxce_proto::vc::{Admit, Completion, Transmit, VcConfig, VcEvent, VcMachine, VcState, MAX_SLICES};
use rxce_proto::{ReceiveAnswer, Status};
use rxce_wire::framing::Framing;
use smallvec::SmallVec;

/// The lookahead: small, so that indications come in pieces.
const LOOKAHEAD: usize = 96;

struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn bytes(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head
    }
}

#[derive(Default)]
struct Checks {
    /// Asynchronous sends: 0 submitted, 1 after send-submitted, 2 after
    /// send-complete.
    async_sends: HashMap<usize, u8>,
    disconnects: usize,
    aborted: bool,
    torn_down: bool,
    /// Client buffers out with the machine.
    buffers_out: usize,
    /// Bytes the client took, in order (bare stream).
    taken: Vec<u8>,
}

struct Harness {
    m: VcMachine,
    now: Instant,
    framed: bool,
    checks: Checks,
    /// The peer's bytes, in order.
    peer: Vec<u8>,
    /// The payloads sent, in order (bare stream).
    sent: Vec<u8>,
    written: Vec<u8>,
    answers: Vec<u8>,
    next_answer: usize,
    next_context: usize,
    waited: Vec<(u64, usize)>,
}

impl Harness {
    fn answer(&mut self, data: &[u8]) -> ReceiveAnswer {
        let choice = self.answers.get(self.next_answer).copied().unwrap_or(0);
        self.next_answer += 1;
        let n = data.len();
        let arg = usize::from(choice >> 2);
        match choice & 3 {
            0 => {
                self.checks.taken.extend_from_slice(data);
                ReceiveAnswer::Taken(n)
            }
            1 => {
                let k = arg.min(n);
                self.checks.taken.extend_from_slice(&data[..k]);
                ReceiveAnswer::Taken(k)
            }
            2 => ReceiveAnswer::NotAccepted,
            _ => {
                let k = (arg % 4).min(n);
                self.checks.taken.extend_from_slice(&data[..k]);
                self.checks.buffers_out += 1;
                ReceiveAnswer::MoreProcessingRequired {
                    taken: k,
                    buffer: Box::new(vec![0u8; arg * 3 + 1]),
                    size: arg * 3 + 1,
                }
            }
        }
    }

    fn events(&mut self) {
        while let Some(event) = self.m.poll_event() {
            assert!(!self.checks.aborted, "an event after an abortive disconnect: {event:?}");
            match event {
                VcEvent::Indicate(lent) => {
                    assert!(!self.checks.torn_down, "an indication after the tear-down");
                    let indication = lent.indication();
                    assert!(indication.data.len() <= LOOKAHEAD);
                    assert!(indication.available >= indication.data.len());
                    let data = indication.data.to_vec();
                    let answer = self.answer(&data);
                    self.m.answer(lent, answer);
                }
                VcEvent::DataReady { buffer, copied, status } => {
                    assert!(self.checks.buffers_out > 0, "a buffer came back twice");
                    self.checks.buffers_out -= 1;
                    assert!(copied <= buffer.capacity());
                    assert!(status != Status::PENDING);
                    let any: Box<dyn std::any::Any> = buffer;
                    let bytes = any.downcast::<Vec<u8>>().expect("a Vec buffer");
                    self.checks.taken.extend_from_slice(&bytes[..copied]);
                }
                VcEvent::Error(status) => {
                    assert!(!self.checks.torn_down);
                    assert_eq!(status, Status::INVALID_NETWORK_RESPONSE);
                }
                VcEvent::SendSubmitted(context) => {
                    let state = self.checks.async_sends.get_mut(&context).expect("a known send");
                    assert_eq!(*state, 0, "send-submitted twice");
                    *state = 1;
                }
                VcEvent::SendComplete { context, status, .. } => {
                    let state = self.checks.async_sends.get_mut(&context).expect("a known send");
                    assert_eq!(*state, 1, "send-complete without send-submitted, or twice");
                    *state = 2;
                    if self.checks.torn_down {
                        assert!(status == Status::CANCELLED || status == Status::SUCCESS);
                    }
                }
                VcEvent::SendPossible(room) => {
                    assert!(!self.checks.torn_down);
                    assert!(room > 0);
                }
                VcEvent::Disconnect { flags, .. } => {
                    assert!(!self.checks.torn_down, "a disconnect after the tear-down");
                    self.checks.disconnects += 1;
                    assert_eq!(self.checks.disconnects, 1, "two disconnect indications");
                    self.checks.aborted = flags.contains(DisconnectFlags::ABORT);
                }
            }
        }
    }

    fn write(&mut self, allow: usize) {
        let mut allow = allow;
        loop {
            match self.m.poll_transmit() {
                Transmit::Idle => return,
                Transmit::Shutdown => self.m.handle_shutdown_sent(),
                Transmit::Bytes => {
                    if allow == 0 {
                        return;
                    }
                    let bytes: Vec<u8> = {
                        let mut slices: SmallVec<[IoSlice<'_>; MAX_SLICES]> = SmallVec::new();
                        self.m.gather(&mut slices);
                        slices.iter().flat_map(|s| s.to_vec()).take(allow).collect()
                    };
                    allow -= bytes.len();
                    self.written.extend_from_slice(&bytes);
                    self.m.handle_written(bytes.len(), None);
                }
            }
        }
    }

    fn send(&mut self, payload: &[u8], options: SendOptions, asynchronous: bool) {
        let mut data = SendBuffers::from(payload.to_vec());
        let admitted = self.m.admit(&mut data, options);
        if admitted != Ok(Admit::Now) {
            return;
        }
        if !self.framed {
            self.sent.extend(data.chunks().iter().flat_map(|c| c.iter().copied()));
        }
        let len = data.len();
        if asynchronous {
            let context = self.next_context;
            self.next_context += 1;
            self.checks.async_sends.insert(context, 0);
            self.m.push(data, options, Completion::Callback(context));
        } else {
            let id = self.m.push(data, options, Completion::Waiter);
            self.waited.push((id, len));
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let Some(mode) = input.byte() else {
        return;
    };
    let framing = match mode % 3 {
        0 => None,
        1 => Some(Framing::DirectTcp),
        _ => Some(Framing::NetbiosSession),
    };
    let config = VcConfig {
        framing,
        max_message_size: 1000,
        send_queue_limit: 64,
        keepalive: (framing == Some(Framing::NetbiosSession)).then_some(Duration::from_secs(60)),
        dead_peer_timeout: (mode & 4 != 0).then_some(Duration::from_secs(5)),
        disconnect_timeout: Duration::from_secs(20),
    };
    let pool = Arc::new(BufferPool::new(LOOKAHEAD, 2, Budget::new(LOOKAHEAD * 2)));
    let now = Instant::now();
    let answers_len = usize::from(input.byte().unwrap_or(0) % 32);
    let answers = input.bytes(answers_len).to_vec();
    let mut h = Harness {
        m: VcMachine::new(config, pool, now),
        now,
        framed: framing.is_some(),
        checks: Checks::default(),
        peer: Vec::new(),
        sent: Vec::new(),
        written: Vec::new(),
        answers,
        next_answer: 0,
        next_context: 1,
        waited: Vec::new(),
    };
    let mut pattern = 0u8;
    while let Some(op) = input.byte() {
        match op % 12 {
            0 => {
                let len = usize::from(input.byte().unwrap_or(1));
                let bytes = input.bytes(len).to_vec();
                let mut at = 0;
                while at < bytes.len() {
                    let Some(target) = h.m.read_target() else {
                        break;
                    };
                    let n = target.len().min(bytes.len() - at);
                    target[..n].copy_from_slice(&bytes[at..at + n]);
                    h.peer.extend_from_slice(&bytes[at..at + n]);
                    at += n;
                    h.m.handle_read(n);
                    h.events();
                }
            }
            1 => {
                if h.m.read_target().is_some() {
                    h.m.handle_end();
                }
            }
            2 => {
                let allow = usize::from(input.byte().unwrap_or(0));
                h.write(allow);
            }
            3..=5 => {
                let len = usize::from(input.byte().unwrap_or(0) % 80);
                let payload: Vec<u8> = (0..len)
                    .map(|_| {
                        pattern = pattern.wrapping_add(1);
                        pattern
                    })
                    .collect();
                let options = match op % 12 {
                    5 => SendOptions::NON_BLOCKING | SendOptions::PARTIAL,
                    _ => SendOptions::empty(),
                };
                h.send(&payload, options, op % 12 != 3);
            }
            6 => {
                let ms = u64::from(input.byte().unwrap_or(0)) * 250;
                h.now += Duration::from_millis(ms);
                let _ = h.m.poll_timeout(h.now);
                h.m.handle_timeout(h.now);
            }
            7 => {
                let _ = h.m.resume_receive();
            }
            8 => {
                let _ = h.m.initiate_disconnect(h.now);
            }
            9 => {
                if h.m.tear_down().is_ok() {
                    h.checks.torn_down = true;
                }
            }
            10 => h.m.handle_io_error(Status::CONNECTION_RESET),
            _ => {
                h.m.handle_read_idle();
            }
        }
        h.events();
        if let Some(deadline) = h.m.poll_timeout(h.now) {
            assert!(deadline + Duration::from_secs(3600) > h.now, "a deadline far in the past");
        }
    }
    // The end: everything owed comes out, then a tear-down finishes it.
    h.events();
    if h.m.state() != VcState::TornDown {
        h.m.tear_down().expect("the first tear-down");
        h.checks.torn_down = true;
    }
    h.events();
    assert!(h.m.is_finished());
    assert_eq!(h.checks.buffers_out, 0, "a client buffer never came back");
    for (context, state) in &h.checks.async_sends {
        assert_eq!(*state, 2, "send {context} did not complete exactly once");
    }
    for (id, len) in h.waited.clone() {
        assert!(h.m.outcome(id, len).is_some(), "a waited-for send has no outcome");
    }
    if !h.framed {
        assert!(h.peer.starts_with(&h.checks.taken), "the client got bytes the peer did not send");
        assert!(h.sent.starts_with(&h.written), "bytes written that were not sent");
    }
});
