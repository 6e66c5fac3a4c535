//! The receive indication protocol of one VC, as a sans-I/O state machine.
//!
//! Bytes go in ([`ReceiveMachine::read_target`] then
//! [`ReceiveMachine::handle_read`], [`ReceiveMachine::handle_end`]); what the
//! client must hear comes out of [`ReceiveMachine::poll`] one step at a time:
//! an indication to answer ([`ReceiveStep::Indicate`], answered with
//! [`ReceiveMachine::answer`]), a client buffer handed back, a protocol
//! error, or what the machine waits for ([`Progress`]). The indicated bytes
//! are *lent* with the indication (the lookahead buffer moves out and comes
//! back with the answer), so a driver can call the client without holding
//! any lock on the machine. [`ReceiveMachine::drive`] runs the steps against
//! an [`IndicationSink`] for drivers that need no such care.
//!
//! The machine owns the VC's lookahead buffer (taken from the pool only
//! while bytes are held), the client buffer being filled on the
//! more-processing-required path, and the framing of message transports.
//!
//! The rules (decisions 8, 17 and 18):
//! - taken(n): the n bytes are consumed; the rest is indicated again, first,
//!   once more bytes arrive (a handler that took nothing wants more
//!   lookahead).
//! - more processing required: after the taken bytes, the next bytes go into
//!   the client buffer — first those already indicated, then straight from the
//!   socket — up to the size asked (and the end of the message on a framed
//!   transport); then data-ready with the count and the status.
//! - not accepted: the bytes stay; nothing is read until resume, which
//!   indicates them again with FORCE_INDICATION.
//! - On a framed transport a message that fits in the lookahead buffer is
//!   indicated whole with ENTIRE_MESSAGE; a longer one in pieces, with
//!   `available` the rest of the message. Keepalive frames are skipped; an
//!   over-long message, a control frame or a truncated message is a protocol
//!   error (error indication, then the VC fails) — never a large allocation.
//! - ONC RPC records (decision 48) come in fragments: fragment headers are
//!   taken out of the lookahead as soon as they are in (the message's bytes
//!   close up behind them), so the client sees only the message. While the
//!   record's last fragment has not been announced its end is unknown: the
//!   machine waits for more bytes until the lookahead is full, then
//!   indicates what it holds without ENTIRE_MESSAGE; a client buffer fills
//!   across fragment boundaries up to the record's end. The limit counts
//!   the whole record, judged on each header; more than
//!   [`MAX_EMPTY_FRAGMENTS`] empty fragments before the last is a protocol
//!   error.
//! - After the machine failed (a reset, a tear-down), an answer that still
//!   comes back returns its client buffer untouched: data-ready with 0 bytes
//!   and the failure.

use std::collections::VecDeque;
use std::sync::Arc;

use rxce_wire::framing::{FrameHeader, Framing, HEADER_LEN};
use rxce_wire::record::{decode_fragment_header, MAX_EMPTY_FRAGMENTS};

use crate::buffer::{BufferPool, PooledBuffer, ReceiveBuffer};
use crate::indication::{Indication, ReceiveAnswer};
use crate::status::Status;
use crate::tdi::ReceiveFlags;

/// A client that answers indications at once (see [`ReceiveMachine::drive`]).
pub trait IndicationSink {
    /// A receive indication; the answer says what the client did.
    fn receive(&mut self, indication: &Indication<'_>) -> ReceiveAnswer;
    /// A client buffer is handed back.
    fn data_ready(&mut self, buffer: Box<dyn ReceiveBuffer>, copied: usize, status: Status);
    /// A protocol error.
    fn error(&mut self, status: Status);
}

/// What the machine waits for when it has nothing to tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// More bytes from the socket ([`ReceiveMachine::read_target`] says where).
    NeedBytes,
    /// Nothing until [`ReceiveMachine::handle_resume`]: the client did not
    /// accept the indicated bytes.
    Paused,
    /// The peer's data ended and everything was indicated.
    Ended,
    /// The VC failed (a protocol error, or [`ReceiveMachine::handle_failure`]).
    Failed(Status),
    /// An indication is out: nothing happens until its answer.
    Answering,
}

/// The next thing the client must hear, from [`ReceiveMachine::poll`].
#[derive(Debug)]
pub enum ReceiveStep {
    /// Call the receive handler with [`Lent::indication`], then give its
    /// answer and the lent bytes back to [`ReceiveMachine::answer`].
    Indicate(Lent),
    /// A client buffer comes back (the data-ready indication).
    DataReady {
        /// The buffer the client returned with MORE_PROCESSING_REQUIRED.
        buffer: Box<dyn ReceiveBuffer>,
        /// Bytes written into it from offset 0.
        copied: usize,
        /// SUCCESS, or the failure that ended the copy early.
        status: Status,
    },
    /// A protocol error (the error indication); the VC fails after it.
    Error(Status),
    /// Nothing to tell: what the machine waits for.
    Wait(Progress),
}

/// An indication's bytes, lent to the driver while the client looks at
/// them (the lookahead buffer itself, moved out of the machine).
pub struct Lent {
    buffer: PooledBuffer,
    start: usize,
    len: usize,
    flags: ReceiveFlags,
    available: usize,
}

impl Lent {
    /// The indication to hand to the client's receive handler.
    pub fn indication(&self) -> Indication<'_> {
        Indication {
            flags: self.flags,
            data: &self.buffer[self.start..self.start + self.len],
            available: self.available,
        }
    }
}

impl std::fmt::Debug for Lent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lent")
            .field("len", &self.len)
            .field("flags", &self.flags)
            .field("available", &self.available)
            .finish()
    }
}

/// What the machine remembers of the indication that is out.
struct Out {
    indicated: usize,
    available: usize,
    held: usize,
    forced: bool,
}

/// What an indication step produced.
enum Step {
    Indicate(Lent),
    Wait(Progress),
}

struct Fill {
    buffer: Box<dyn ReceiveBuffer>,
    size: usize,
    filled: usize,
}

/// Counts of what was received (updated before the indication that reports
/// the bytes runs).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReceiveStats {
    /// TSDUs received: whole messages on framed transports, indications
    /// that consumed bytes on streams.
    pub tsdus: u64,
    /// Bytes read from the socket (frame headers included).
    pub bytes: u64,
    /// Receive errors (protocol errors).
    pub errors: u64,
}

/// The receive side of one VC.
pub struct ReceiveMachine {
    pool: Arc<BufferPool>,
    framing: Option<Framing>,
    max_message: usize,
    lookahead: Option<PooledBuffer>,
    start: usize,
    end: usize,
    fill: Option<Fill>,
    /// Framed transports: a message header was read and `message_left`
    /// bytes of its payload are still to be consumed.
    in_message: bool,
    message_left: usize,
    /// RPC records: `message_left` ends with a fragment that is not the
    /// record's last (more fragment headers follow inside the message).
    more_fragments: bool,
    /// RPC records: the record's length so far (its fragments announced),
    /// and its empty fragments before the last.
    record_len: usize,
    empty_fragments: usize,
    /// The last read target was the client buffer (not the lookahead).
    read_into_fill: bool,
    paused: bool,
    /// The handler took nothing of the last indication: wait for new bytes.
    starved: bool,
    /// The next indication repeats rejected data.
    force_next: bool,
    ended: bool,
    /// Bytes the client declined after the peer's end (see `step_indicate`).
    declined: usize,
    failed: Option<Status>,
    /// Datagram mode: each input is one whole datagram (decision 24).
    datagrams: bool,
    /// Something changed since [`ReceiveMachine::poll`] last found nothing
    /// to do: polling again may find work.
    dirty: bool,
    /// The indication that is out, until its answer.
    out: Option<Out>,
    /// Client buffers handed back and errors, in order, before anything else.
    notices: VecDeque<ReceiveStep>,
    stats: ReceiveStats,
}

impl ReceiveMachine {
    /// A machine reading into `pool`'s buffers; with `framing`, messages of
    /// at most `max_message` bytes.
    pub fn new(pool: Arc<BufferPool>, framing: Option<Framing>, max_message: usize) -> ReceiveMachine {
        let max_message = framing.map_or(max_message, |f| max_message.min(f.max_message_len()));
        ReceiveMachine {
            pool,
            framing,
            max_message,
            lookahead: None,
            start: 0,
            end: 0,
            fill: None,
            in_message: false,
            message_left: 0,
            more_fragments: false,
            record_len: 0,
            empty_fragments: 0,
            read_into_fill: false,
            paused: false,
            starved: false,
            force_next: false,
            ended: false,
            declined: 0,
            failed: None,
            datagrams: false,
            dirty: false,
            out: None,
            notices: VecDeque::new(),
            stats: ReceiveStats::default(),
        }
    }

    /// A machine for the datagrams of an address (decision 24): each input
    /// ([`ReceiveMachine::handle_datagram`]) is indicated once and whole;
    /// bytes the client neither takes nor copies are dropped; a copy into a
    /// client buffer too small is cut, with BUFFER_OVERFLOW; a datagram not
    /// accepted is held, nothing more is read, and it comes again with
    /// FORCE_INDICATION after the resume. `pool`'s buffers must hold the
    /// largest datagram.
    pub fn for_datagrams(pool: Arc<BufferPool>) -> ReceiveMachine {
        let mut machine = ReceiveMachine::new(pool, None, usize::MAX);
        machine.datagrams = true;
        machine
    }

    /// True on a framed transport or for datagrams: indications stop at the
    /// end of a message.
    #[inline]
    fn framed(&self) -> bool {
        self.framing.is_some() || self.datagrams
    }

    /// What was received so far.
    pub fn stats(&self) -> ReceiveStats {
        self.stats
    }

    /// True when a client buffer is being filled.
    pub fn filling(&self) -> bool {
        self.fill.is_some()
    }

    /// Bytes the client declined after the peer's end: indicated with
    /// FORCE_INDICATION once the data could not grow, and still not taken.
    pub fn declined(&self) -> usize {
        self.declined
    }

    /// True when something changed since [`ReceiveMachine::poll`] last
    /// found nothing to do (polling a machine that is not dirty finds
    /// nothing).
    #[inline]
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// True while an indication is out, waiting for its answer.
    #[inline]
    pub fn is_answering(&self) -> bool {
        self.out.is_some()
    }

    /// True when nothing is owed to the client: no indication out, no
    /// buffer or error to hand over.
    #[inline]
    pub fn is_quiet(&self) -> bool {
        self.out.is_none() && self.notices.is_empty()
    }

    /// True until the peer's data ended or the machine failed: more bytes
    /// may still come from the socket.
    #[inline]
    pub fn reads_on(&self) -> bool {
        !self.ended && self.failed.is_none()
    }

    /// True when the machine would read now: not paused, ended or failed,
    /// no indication out, nothing to tell first, and with room for bytes (in
    /// the client buffer or the lookahead).
    #[inline]
    pub fn wants_bytes(&self) -> bool {
        if self.paused || self.ended || self.failed.is_some() || self.out.is_some() || !self.notices.is_empty() {
            return false;
        }
        let capacity = self.pool.buffer_size();
        if self.fill.is_some() && !self.wants_fragment_header() {
            return self.start == self.end;
        }
        !(self.start == 0 && self.end == capacity)
    }

    /// True when the next bytes of the message are a fragment header (an
    /// RPC record whose current fragment was all read).
    #[inline]
    fn wants_fragment_header(&self) -> bool {
        self.more_fragments && self.message_left == 0
    }

    /// Where the next socket read should land, or `None` when the machine
    /// reads nothing now (paused, ended, failed, or out of budget — the
    /// error says which when it is the budget).
    #[inline]
    pub fn read_target(&mut self) -> Result<Option<&mut [u8]>, Status> {
        if self.paused || self.ended || self.failed.is_some() || self.out.is_some() {
            return Ok(None);
        }
        let wants_header = self.wants_fragment_header();
        self.read_into_fill = false;
        if let Some(fill) = &mut self.fill {
            if !wants_header {
                if self.start < self.end {
                    // Indicated bytes go into the client buffer first (process).
                    return Ok(None);
                }
                let mut limit = fill.size - fill.filled;
                if self.framing.is_some() {
                    limit = limit.min(self.message_left);
                }
                let segment = fill.buffer.segment_mut(fill.filled);
                let len = segment.len().min(limit);
                self.read_into_fill = true;
                return Ok(Some(&mut segment[..len]));
            }
            // A fragment header comes next: it is read into the lookahead
            // (with whatever follows it), and the fill goes on from there.
        }
        if self.datagrams && (self.in_message || self.start < self.end) {
            // One datagram at a time: it is held until its answer.
            return Ok(None);
        }
        if self.lookahead.is_none() {
            self.lookahead = Some(self.pool.take()?);
        }
        let buffer = self.lookahead.as_mut().expect("just ensured");
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end == buffer.len() && self.start > 0 {
            buffer.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == buffer.len() {
            return Ok(None);
        }
        Ok(Some(&mut buffer[self.end..]))
    }

    /// `n` bytes were read into the last read target.
    #[inline]
    pub fn handle_read(&mut self, n: usize) {
        self.dirty = true;
        self.stats.bytes += n as u64;
        match &mut self.fill {
            Some(fill) if self.read_into_fill => {
                fill.filled += n;
                if self.framing.is_some() {
                    self.message_left -= n;
                }
            }
            _ => {
                self.end += n;
                if n > 0 {
                    self.starved = false;
                }
            }
        }
    }

    /// A datagram of `len` bytes was received into the last read target
    /// (datagram mode).
    pub fn handle_datagram(&mut self, len: usize) {
        debug_assert!(self.datagrams && !self.in_message);
        self.dirty = true;
        self.stats.bytes += len as u64;
        self.stats.tsdus += 1;
        self.start = 0;
        self.end = len;
        self.in_message = true;
        self.message_left = len;
    }

    /// The peer's data ended.
    pub fn handle_end(&mut self) {
        self.dirty = true;
        self.ended = true;
    }

    /// The client wants its rejected bytes again (they come with
    /// FORCE_INDICATION).
    pub fn handle_resume(&mut self) {
        self.dirty = true;
        if self.paused {
            self.paused = false;
            self.starved = false;
            self.force_next = true;
        }
    }

    /// The VC failed (reset, tear-down): a client buffer being filled is
    /// handed back with what it holds and `status`; held bytes are freed.
    pub fn handle_failure(&mut self, status: Status) {
        self.dirty = true;
        if self.failed.is_none() {
            self.failed = Some(status.clone());
        }
        if let Some(fill) = self.fill.take() {
            self.notices.push_back(ReceiveStep::DataReady {
                buffer: fill.buffer,
                copied: fill.filled,
                status,
            });
        }
        self.start = 0;
        self.end = 0;
        self.release_idle_buffer();
    }

    /// Gives the lookahead buffer back to the pool when it holds nothing.
    #[inline]
    pub fn release_idle_buffer(&mut self) {
        if self.start == self.end {
            if let Some(buffer) = self.lookahead.take() {
                self.pool.give_back(buffer);
            }
        }
    }

    /// The next thing the client must hear, or what the machine waits for.
    /// Steps run until one has something for outside.
    pub fn poll(&mut self) -> ReceiveStep {
        loop {
            if let Some(notice) = self.notices.pop_front() {
                return notice;
            }
            let waiting = if self.out.is_some() {
                Some(Progress::Answering)
            } else if let Some(status) = &self.failed {
                Some(Progress::Failed(status.clone()))
            } else if self.paused {
                Some(Progress::Paused)
            } else if self.fill.is_some() {
                self.step_fill()
            } else if self.framing.is_some() && !self.in_message {
                self.step_header()
            } else {
                match self.step_indicate() {
                    Some(Step::Indicate(lent)) => return ReceiveStep::Indicate(lent),
                    Some(Step::Wait(progress)) => Some(progress),
                    None => None,
                }
            };
            // A step that stops the machine may have left notices (a client
            // buffer, an error): they come out first, then the same state
            // gives the same progress again.
            match waiting {
                Some(progress) if self.notices.is_empty() => {
                    self.dirty = false;
                    return ReceiveStep::Wait(progress);
                }
                _ => {}
            }
        }
    }

    /// Runs every step against `sink` until the machine waits.
    pub fn drive(&mut self, sink: &mut dyn IndicationSink) -> Progress {
        loop {
            match self.poll() {
                ReceiveStep::Indicate(lent) => {
                    let answer = sink.receive(&lent.indication());
                    self.answer(lent, answer);
                }
                ReceiveStep::DataReady { buffer, copied, status } => sink.data_ready(buffer, copied, status),
                ReceiveStep::Error(status) => sink.error(status),
                ReceiveStep::Wait(progress) => return progress,
            }
        }
    }

    fn step_fill(&mut self) -> Option<Progress> {
        let framed = self.framed();
        loop {
            if let Some(progress) = self.join_fragments() {
                return Some(progress);
            }
            let fill = self.fill.as_mut().expect("filling");
            let before = self.start;
            // Bytes already indicated go in first.
            while self.start < self.end && fill.filled < fill.size && (!framed || self.message_left > 0) {
                let lookahead = self.lookahead.as_ref().expect("bytes are held in the lookahead");
                let segment = fill.buffer.segment_mut(fill.filled);
                let mut n = segment.len().min(self.end - self.start).min(fill.size - fill.filled);
                if framed {
                    n = n.min(self.message_left);
                    self.message_left -= n;
                }
                segment[..n].copy_from_slice(&lookahead[self.start..self.start + n]);
                self.start += n;
                fill.filled += n;
            }
            // A fragment header behind the bytes copied may now be whole.
            if self.start == before || !self.wants_fragment_header() {
                break;
            }
        }
        let fill = self.fill.as_ref().expect("filling");
        let complete = fill.filled == fill.size || (framed && self.message_left == 0 && !self.more_fragments);
        if complete {
            self.finish_fill(Status::SUCCESS);
            return None;
        }
        if self.ended {
            let status = Status::CONNECTION_DISCONNECTED
                .with_message("the peer ended its data before the client buffer was filled");
            self.finish_fill(status);
            if framed {
                return Some(self.protocol_error(
                    Status::INVALID_NETWORK_RESPONSE.with_message("the peer ended its data in the middle of a message"),
                ));
            }
            return None;
        }
        Some(Progress::NeedBytes)
    }

    fn finish_fill(&mut self, mut status: Status) {
        let fill = self.fill.take().expect("filling");
        if self.datagrams {
            // A datagram longer than the client's buffer is cut, as TDI
            // says; the status tells.
            if self.message_left > 0 && status == Status::SUCCESS {
                status = Status::BUFFER_OVERFLOW.with_message("the datagram was longer than the client buffer");
            }
            self.drop_datagram();
        } else if self.framing.is_some() {
            self.end_of_message_check();
        } else if fill.filled > 0 {
            self.stats.tsdus += 1;
        }
        self.notices.push_back(ReceiveStep::DataReady {
            buffer: fill.buffer,
            copied: fill.filled,
            status,
        });
    }

    fn end_of_message_check(&mut self) {
        if self.in_message && self.message_left == 0 && !self.more_fragments && !self.datagrams {
            self.in_message = false;
            self.stats.tsdus += 1;
        }
    }

    /// RPC records: reads the fragment headers held in the lookahead
    /// behind the current fragment's data and takes them out, closing up
    /// the message's bytes (one pass over what is held). An over-long
    /// record or an empty-fragment flood is a protocol error.
    fn join_fragments(&mut self) -> Option<Progress> {
        if !(self.in_message && self.more_fragments) {
            return None;
        }
        let mut read = self.start + self.message_left;
        if read > self.end || self.end - read < HEADER_LEN {
            return None;
        }
        let buffer = self.lookahead.as_mut().expect("bytes are held in the lookahead");
        let mut write = read;
        let mut error = None;
        while self.more_fragments && self.end - read >= HEADER_LEN {
            let header = [buffer[read], buffer[read + 1], buffer[read + 2], buffer[read + 3]];
            let (len, last) = decode_fragment_header(header);
            let total = self.record_len.saturating_add(len);
            if total > self.max_message {
                error = Some(format!(
                    "the peer announced an RPC record of at least {total} bytes; the limit is {} bytes",
                    self.max_message
                ));
                break;
            }
            if len == 0 && !last {
                self.empty_fragments += 1;
                if self.empty_fragments > MAX_EMPTY_FRAGMENTS {
                    error = Some(format!(
                        "the peer sent more than {MAX_EMPTY_FRAGMENTS} empty fragments in one RPC record"
                    ));
                    break;
                }
            }
            self.record_len = total;
            self.more_fragments = !last;
            read += HEADER_LEN;
            let n = len.min(self.end - read);
            if read != write {
                buffer.copy_within(read..read + n, write);
            }
            read += n;
            write += n;
            self.message_left += len;
            if n < len {
                break;
            }
        }
        if let Some(error) = error {
            return Some(self.protocol_error(Status::INVALID_NETWORK_RESPONSE.with_message(error)));
        }
        // What follows (part of a header, the next message) closes up too.
        if read != write {
            buffer.copy_within(read..self.end, write);
            self.end -= read - write;
        }
        // A record that ended with nothing in it (empty fragments only).
        if self.message_left == 0 && !self.more_fragments {
            self.end_of_message_check();
        }
        None
    }

    /// Drops what is left of the datagram held (its answer was given).
    fn drop_datagram(&mut self) {
        self.start = self.end;
        self.message_left = 0;
        self.in_message = false;
    }

    fn step_header(&mut self) -> Option<Progress> {
        let framing = self.framing.expect("framed");
        let held = self.end - self.start;
        if held < HEADER_LEN {
            if !self.ended {
                return Some(Progress::NeedBytes);
            }
            if held == 0 {
                return Some(Progress::Ended);
            }
            return Some(
                self.protocol_error(Status::INVALID_NETWORK_RESPONSE.with_message(format!(
                    "the peer ended its data after {held} bytes of a message header"
                ))),
            );
        }
        let lookahead = self.lookahead.as_ref().expect("bytes are held in the lookahead");
        let mut header = [0u8; HEADER_LEN];
        header.copy_from_slice(&lookahead[self.start..self.start + HEADER_LEN]);
        let decoded = framing.decode_header(header);
        match decoded {
            Ok(FrameHeader::Message { len }) if len > self.max_message => Some(self.protocol_error(
                Status::INVALID_NETWORK_RESPONSE.with_message(format!(
                    "the peer announced a {len}-byte message; the limit is {} bytes",
                    self.max_message
                )),
            )),
            Ok(FrameHeader::Message { len }) => {
                self.start += HEADER_LEN;
                if len == 0 {
                    self.stats.tsdus += 1;
                } else {
                    self.in_message = true;
                    self.message_left = len;
                }
                None
            }
            Ok(FrameHeader::Fragment { len, .. }) if len > self.max_message => Some(self.protocol_error(
                Status::INVALID_NETWORK_RESPONSE.with_message(format!(
                    "the peer announced an RPC record fragment of {len} bytes; the limit is {} bytes",
                    self.max_message
                )),
            )),
            Ok(FrameHeader::Fragment { len, last }) => {
                self.start += HEADER_LEN;
                self.record_len = len;
                self.empty_fragments = usize::from(len == 0 && !last);
                if len == 0 && last {
                    self.stats.tsdus += 1;
                } else {
                    self.in_message = true;
                    self.message_left = len;
                    self.more_fragments = !last;
                }
                None
            }
            Ok(FrameHeader::Keepalive) => {
                self.start += HEADER_LEN;
                None
            }
            Ok(FrameHeader::Control { packet_type, len }) => Some(self.protocol_error(
                Status::INVALID_NETWORK_RESPONSE.with_message(format!(
                    "the peer sent a session packet of type 0x{packet_type:02X} ({len} bytes) in an established session"
                )),
            )),
            Err(e) => Some(self.protocol_error(
                Status::INVALID_NETWORK_RESPONSE.with_message(format!("bad message header {header:02X?}: {e}")),
            )),
        }
    }

    fn step_indicate(&mut self) -> Option<Step> {
        if let Some(progress) = self.join_fragments() {
            return Some(Step::Wait(progress));
        }
        if self.framing.is_some() && !self.in_message {
            // The message was empty (an RPC record of empty fragments).
            return None;
        }
        let held = self.end - self.start;
        let framed = self.framed();
        if self.datagrams {
            // Every datagram is indicated, an empty one too.
            if !self.in_message {
                return Some(Step::Wait(Progress::NeedBytes));
            }
            if self.lookahead.is_none() {
                match self.pool.take() {
                    Ok(buffer) => self.lookahead = Some(buffer),
                    Err(_) => return Some(Step::Wait(Progress::NeedBytes)),
                }
            }
        } else if held == 0 || self.starved {
            if !self.ended {
                return Some(Step::Wait(Progress::NeedBytes));
            }
            if framed && self.in_message {
                return Some(Step::Wait(self.protocol_error(
                    Status::INVALID_NETWORK_RESPONSE.with_message("the peer ended its data in the middle of a message"),
                )));
            }
            if held == 0 {
                return Some(Step::Wait(Progress::Ended));
            }
            // The client took nothing, waiting for more bytes, and the
            // peer's data ended: no more will come. The same bytes are
            // indicated again at once, with FORCE_INDICATION: the last
            // chance (see `answer`).
            self.starved = false;
            self.force_next = true;
        }
        let capacity = self.pool.buffer_size();
        if self.more_fragments {
            // The record's end is not known yet.
            if self.ended {
                return Some(Step::Wait(
                    self.protocol_error(
                        Status::INVALID_NETWORK_RESPONSE
                            .with_message("the peer ended its data in the middle of an RPC record"),
                    ),
                ));
            }
            if held < capacity || self.message_left == 0 {
                // Until the lookahead is full, more bytes may show it.
                return Some(Step::Wait(Progress::NeedBytes));
            }
        }
        let (indicated, available) = if framed {
            (held.min(self.message_left), self.message_left)
        } else {
            (held, held)
        };
        if framed && indicated < available && available <= capacity {
            if self.ended {
                // A message that fits is indicated whole or not at all.
                return Some(Step::Wait(self.protocol_error(
                    Status::INVALID_NETWORK_RESPONSE.with_message("the peer ended its data in the middle of a message"),
                )));
            }
            // The whole message fits in the lookahead: wait for all of it.
            return Some(Step::Wait(Progress::NeedBytes));
        }
        let mut flags = ReceiveFlags::NORMAL;
        if framed && indicated == available && !self.more_fragments {
            flags |= ReceiveFlags::ENTIRE_MESSAGE;
        }
        let forced = std::mem::take(&mut self.force_next);
        if forced {
            flags |= ReceiveFlags::FORCE_INDICATION;
        }
        let buffer = self.lookahead.take().expect("bytes are held in the lookahead");
        self.out = Some(Out {
            indicated,
            available,
            held,
            forced,
        });
        Some(Step::Indicate(Lent {
            buffer,
            start: self.start,
            len: indicated,
            flags,
            available,
        }))
    }

    /// The client's answer to the indication that was out, with its bytes.
    pub fn answer(&mut self, lent: Lent, answer: ReceiveAnswer) {
        self.dirty = true;
        self.lookahead = Some(lent.buffer);
        let Some(out) = self.out.take() else {
            debug_assert!(false, "an answer without an indication");
            return;
        };
        if let Some(status) = &self.failed {
            // The VC failed or was torn down while the client looked: its
            // bytes are gone, and a buffer it offered is handed back
            // untouched.
            if let ReceiveAnswer::MoreProcessingRequired { buffer, .. } = answer {
                let status = status.clone();
                self.notices.push_back(ReceiveStep::DataReady {
                    buffer,
                    copied: 0,
                    status,
                });
            }
            self.start = 0;
            self.end = 0;
            self.release_idle_buffer();
            return;
        }
        if self.datagrams {
            self.answer_datagram(out.indicated, answer);
            return;
        }
        let framed = self.framed();
        let capacity = self.pool.buffer_size();
        let Out {
            indicated,
            available,
            held,
            forced,
        } = out;
        match answer {
            ReceiveAnswer::Taken(0) if self.ended && forced => {
                // Refused again after the peer's end, when the indication
                // said these bytes will never grow: the client declined
                // them. They are discarded, and counted (the disconnect
                // says so), so that the VC comes to its end instead of
                // waiting for a resume nobody will make.
                self.declined += indicated;
                self.consume(indicated);
            }
            ReceiveAnswer::Taken(n) => {
                let n = n.min(indicated);
                self.consume(n);
                if n == 0 {
                    self.starved = true;
                    if self.end - self.start == capacity || (framed && held >= available && !self.more_fragments) {
                        // More bytes cannot change this indication (the
                        // lookahead is full, or the whole message is there):
                        // wait for the client to resume, as if it had not
                        // accepted.
                        self.paused = true;
                    }
                } else if !framed {
                    self.stats.tsdus += 1;
                }
            }
            ReceiveAnswer::MoreProcessingRequired { taken, buffer, size } => {
                let taken = taken.min(indicated);
                self.consume(taken);
                let mut size = size.min(buffer.capacity());
                if framed && !self.more_fragments {
                    size = size.min(self.message_left);
                }
                if size == 0 {
                    self.notices.push_back(ReceiveStep::DataReady {
                        buffer,
                        copied: 0,
                        status: Status::SUCCESS,
                    });
                } else {
                    self.fill = Some(Fill {
                        buffer,
                        size,
                        filled: 0,
                    });
                }
            }
            ReceiveAnswer::NotAccepted => {
                self.paused = true;
            }
        }
        // Nothing held, nothing to tell: the next poll would only say "more
        // bytes" (the common end of an answer), so none is needed.
        self.dirty = !self.notices.is_empty() || self.start < self.end || self.ended || self.fill.is_some();
    }

    /// A datagram's answer: bytes neither taken nor copied are dropped.
    fn answer_datagram(&mut self, indicated: usize, answer: ReceiveAnswer) {
        match answer {
            ReceiveAnswer::Taken(_) => self.drop_datagram(),
            ReceiveAnswer::MoreProcessingRequired { taken, buffer, size } => {
                self.consume(taken.min(indicated));
                let size = size.min(buffer.capacity());
                if size == 0 {
                    let status = match self.message_left {
                        0 => Status::SUCCESS,
                        _ => Status::BUFFER_OVERFLOW.with_message("the datagram was longer than the client buffer"),
                    };
                    self.drop_datagram();
                    self.notices.push_back(ReceiveStep::DataReady {
                        buffer,
                        copied: 0,
                        status,
                    });
                } else {
                    self.fill = Some(Fill {
                        buffer,
                        size,
                        filled: 0,
                    });
                }
            }
            ReceiveAnswer::NotAccepted => self.paused = true,
        }
    }

    #[inline]
    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.framed() {
            self.message_left -= n;
            self.end_of_message_check();
        }
    }

    fn protocol_error(&mut self, status: Status) -> Progress {
        self.stats.errors += 1;
        self.notices.push_back(ReceiveStep::Error(status.clone()));
        self.handle_failure(status.clone());
        Progress::Failed(status)
    }
}

#[cfg(test)]
mod tests;
