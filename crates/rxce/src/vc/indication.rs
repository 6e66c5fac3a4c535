//! The receive indication protocol of one VC, as a sans-I/O state machine.
//!
//! Bytes go in ([`ReceiveMachine::read_target`] then
//! [`ReceiveMachine::on_read`], [`ReceiveMachine::on_end`]), indications come
//! out through an [`IndicationSink`], and the machine says what it needs next
//! ([`Progress`]). It owns the VC's lookahead buffer (taken from the pool only
//! while bytes are held), the client buffer being filled on the
//! more-processing-required path, and the framing of message transports.
//!
//! The rules (decision 8 of `decisions.md`):
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

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rxce_wire::framing::{FrameHeader, Framing, HEADER_LEN};

use crate::buffer::{BufferPool, PooledBuffer, ReceiveBuffer};
use crate::handler::{Indication, ReceiveAnswer};
use crate::status::Status;
use crate::tdi::ReceiveFlags;

/// Where the machine's indications go (the VC's connection handler).
pub(crate) trait IndicationSink {
    /// A receive indication; the answer says what the client did.
    fn receive(&mut self, indication: &Indication<'_>) -> ReceiveAnswer;
    /// A client buffer is handed back.
    fn data_ready(&mut self, buffer: Box<dyn ReceiveBuffer>, copied: usize, status: Status);
    /// A protocol error.
    fn error(&mut self, status: Status);
    /// True once the VC is torn down: stop indicating at once.
    fn closed(&self) -> bool;
}

/// What the machine waits for after a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Progress {
    /// More bytes from the socket ([`ReceiveMachine::read_target`] says where).
    NeedBytes,
    /// Nothing until [`ReceiveMachine::resume`]: the client did not accept
    /// the indicated bytes.
    Paused,
    /// The peer's data ended and everything was indicated.
    Ended,
    /// The VC failed (a protocol error, or [`ReceiveMachine::fail`]).
    Failed(Status),
    /// The VC was torn down during an indication.
    Closed,
}

struct Fill {
    buffer: Box<dyn ReceiveBuffer>,
    size: usize,
    filled: usize,
}

/// Counters of what was received, shared with the VC's queries (updated
/// before the indication that reports the bytes runs).
#[derive(Debug, Default)]
pub(crate) struct ReceiveCounters {
    pub(crate) tsdus: AtomicU64,
    pub(crate) bytes: AtomicU64,
    pub(crate) errors: AtomicU64,
}

/// A snapshot of [`ReceiveCounters`].
#[cfg(test)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReceiveStats {
    /// TSDUs received: whole messages on framed transports, indications
    /// that consumed bytes on streams.
    pub(crate) tsdus: u64,
    /// Payload bytes read from the socket.
    pub(crate) bytes: u64,
    /// Receive errors (protocol errors).
    pub(crate) errors: u64,
}

/// The receive side of one VC.
pub(crate) struct ReceiveMachine {
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
    paused: bool,
    /// The handler took nothing of the last indication: wait for new bytes.
    starved: bool,
    /// The next indication repeats rejected data.
    force_next: bool,
    ended: bool,
    /// Bytes the client declined after the peer's end (see `step_indicate`).
    declined: usize,
    failed: Option<Status>,
    stats: Arc<ReceiveCounters>,
}

impl ReceiveMachine {
    pub(crate) fn new(
        pool: Arc<BufferPool>,
        framing: Option<Framing>,
        max_message: usize,
        stats: Arc<ReceiveCounters>,
    ) -> ReceiveMachine {
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
            paused: false,
            starved: false,
            force_next: false,
            ended: false,
            declined: 0,
            failed: None,
            stats,
        }
    }

    #[cfg(test)]
    pub(crate) fn stats(&self) -> ReceiveStats {
        ReceiveStats {
            tsdus: self.stats.tsdus.load(Ordering::Relaxed),
            bytes: self.stats.bytes.load(Ordering::Relaxed),
            errors: self.stats.errors.load(Ordering::Relaxed),
        }
    }

    /// True when a client buffer is being filled.
    #[cfg(test)]
    pub(crate) fn filling(&self) -> bool {
        self.fill.is_some()
    }

    /// Bytes the client declined after the peer's end: indicated with
    /// FORCE_INDICATION once the data could not grow, and still not taken.
    pub(crate) fn declined(&self) -> usize {
        self.declined
    }

    /// True when the machine would read now: not paused, ended or failed,
    /// and with room for bytes (in the client buffer or the lookahead).
    pub(crate) fn wants_bytes(&self) -> bool {
        if self.paused || self.ended || self.failed.is_some() {
            return false;
        }
        if self.fill.is_some() {
            return self.start == self.end;
        }
        let capacity = self.pool.buffer_size();
        !(self.start == 0 && self.end == capacity)
    }

    /// Where the next socket read should land, or `None` when the machine
    /// reads nothing now (paused, ended, failed, or out of budget — the
    /// error says which when it is the budget).
    pub(crate) fn read_target(&mut self) -> Result<Option<&mut [u8]>, Status> {
        if self.paused || self.ended || self.failed.is_some() {
            return Ok(None);
        }
        if let Some(fill) = &mut self.fill {
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
            return Ok(Some(&mut segment[..len]));
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
    pub(crate) fn on_read(&mut self, n: usize, sink: &mut dyn IndicationSink) -> Progress {
        self.stats.bytes.fetch_add(n as u64, Ordering::Relaxed);
        match &mut self.fill {
            Some(fill) if self.start == self.end => {
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
        self.process(sink)
    }

    /// The peer's data ended.
    pub(crate) fn on_end(&mut self, sink: &mut dyn IndicationSink) -> Progress {
        self.ended = true;
        self.process(sink)
    }

    /// The client wants its rejected bytes again.
    pub(crate) fn resume(&mut self, sink: &mut dyn IndicationSink) -> Progress {
        if self.paused {
            self.paused = false;
            self.starved = false;
            self.force_next = true;
        }
        self.process(sink)
    }

    /// The VC failed (reset, tear-down): a client buffer being filled is
    /// handed back with what it holds and `status`; held bytes are freed.
    pub(crate) fn fail(&mut self, status: Status, sink: &mut dyn IndicationSink) {
        if self.failed.is_none() {
            self.failed = Some(status.clone());
        }
        if let Some(fill) = self.fill.take() {
            sink.data_ready(fill.buffer, fill.filled, status);
        }
        self.start = 0;
        self.end = 0;
        self.release_idle_buffer();
    }

    /// Gives the lookahead buffer back to the pool when it holds nothing.
    pub(crate) fn release_idle_buffer(&mut self) {
        if self.start == self.end {
            if let Some(buffer) = self.lookahead.take() {
                self.pool.give_back(buffer);
            }
        }
    }

    /// Runs indications until the machine needs something from outside.
    pub(crate) fn process(&mut self, sink: &mut dyn IndicationSink) -> Progress {
        loop {
            if let Some(status) = &self.failed {
                return Progress::Failed(status.clone());
            }
            if sink.closed() {
                return Progress::Closed;
            }
            if self.paused {
                return Progress::Paused;
            }
            if self.fill.is_some() {
                if let Some(progress) = self.step_fill(sink) {
                    return progress;
                }
                continue;
            }
            if self.framing.is_some() && !self.in_message {
                if let Some(progress) = self.step_header(sink) {
                    return progress;
                }
                continue;
            }
            if let Some(progress) = self.step_indicate(sink) {
                return progress;
            }
        }
    }

    fn step_fill(&mut self, sink: &mut dyn IndicationSink) -> Option<Progress> {
        let framed = self.framing.is_some();
        let fill = self.fill.as_mut().expect("filling");
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
        let complete = fill.filled == fill.size || (framed && self.message_left == 0);
        if complete {
            self.finish_fill(Status::SUCCESS, sink);
            return None;
        }
        if self.ended {
            let status = Status::CONNECTION_DISCONNECTED
                .with_message("the peer ended its data before the client buffer was filled");
            self.finish_fill(status.clone(), sink);
            if framed {
                return Some(self.protocol_error(
                    Status::INVALID_NETWORK_RESPONSE.with_message("the peer ended its data in the middle of a message"),
                    sink,
                ));
            }
            return None;
        }
        Some(Progress::NeedBytes)
    }

    fn finish_fill(&mut self, status: Status, sink: &mut dyn IndicationSink) {
        let fill = self.fill.take().expect("filling");
        if self.framing.is_some() {
            self.end_of_message_check();
        } else if fill.filled > 0 {
            self.stats.tsdus.fetch_add(1, Ordering::Relaxed);
        }
        sink.data_ready(fill.buffer, fill.filled, status);
    }

    fn end_of_message_check(&mut self) {
        if self.in_message && self.message_left == 0 {
            self.in_message = false;
            self.stats.tsdus.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn step_header(&mut self, sink: &mut dyn IndicationSink) -> Option<Progress> {
        let framing = self.framing.expect("framed");
        let held = self.end - self.start;
        if held < HEADER_LEN {
            if !self.ended {
                return Some(Progress::NeedBytes);
            }
            if held == 0 {
                return Some(Progress::Ended);
            }
            return Some(self.protocol_error(
                Status::INVALID_NETWORK_RESPONSE.with_message(format!(
                    "the peer ended its data after {held} bytes of a message header"
                )),
                sink,
            ));
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
                sink,
            )),
            Ok(FrameHeader::Message { len }) => {
                self.start += HEADER_LEN;
                if len == 0 {
                    self.stats.tsdus.fetch_add(1, Ordering::Relaxed);
                } else {
                    self.in_message = true;
                    self.message_left = len;
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
                sink,
            )),
            Err(e) => Some(self.protocol_error(
                Status::INVALID_NETWORK_RESPONSE.with_message(format!("bad message header {header:02X?}: {e}")),
                sink,
            )),
        }
    }

    fn step_indicate(&mut self, sink: &mut dyn IndicationSink) -> Option<Progress> {
        let held = self.end - self.start;
        let framed = self.framing.is_some();
        if held == 0 || self.starved {
            if !self.ended {
                return Some(Progress::NeedBytes);
            }
            if framed && self.in_message {
                return Some(self.protocol_error(
                    Status::INVALID_NETWORK_RESPONSE.with_message("the peer ended its data in the middle of a message"),
                    sink,
                ));
            }
            if held == 0 {
                return Some(Progress::Ended);
            }
            // The client took nothing, waiting for more bytes, and the
            // peer's data ended: no more will come. The same bytes are
            // indicated again at once, with FORCE_INDICATION: the last
            // chance (see the answer below).
            self.starved = false;
            self.force_next = true;
        }
        let capacity = self.pool.buffer_size();
        let (indicated, available) = if framed {
            (held.min(self.message_left), self.message_left)
        } else {
            (held, held)
        };
        if framed && indicated < available && available <= capacity {
            if self.ended {
                // A message that fits is indicated whole or not at all.
                return Some(self.protocol_error(
                    Status::INVALID_NETWORK_RESPONSE.with_message("the peer ended its data in the middle of a message"),
                    sink,
                ));
            }
            // The whole message fits in the lookahead: wait for all of it.
            return Some(Progress::NeedBytes);
        }
        let mut flags = ReceiveFlags::NORMAL;
        if framed && indicated == available {
            flags |= ReceiveFlags::ENTIRE_MESSAGE;
        }
        let forced = std::mem::take(&mut self.force_next);
        if forced {
            flags |= ReceiveFlags::FORCE_INDICATION;
        }
        let lookahead = self.lookahead.as_ref().expect("bytes are held in the lookahead");
        let data = &lookahead[self.start..self.start + indicated];
        let answer = sink.receive(&Indication { flags, data, available });
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
                    if self.end - self.start == capacity || (framed && held >= available) {
                        // More bytes cannot change this indication (the
                        // lookahead is full, or the whole message is there):
                        // wait for the client to resume, as if it had not
                        // accepted.
                        self.paused = true;
                    }
                } else if !framed {
                    self.stats.tsdus.fetch_add(1, Ordering::Relaxed);
                }
            }
            ReceiveAnswer::MoreProcessingRequired { taken, buffer, size } => {
                let taken = taken.min(indicated);
                self.consume(taken);
                let mut size = size.min(buffer.capacity());
                if framed {
                    size = size.min(self.message_left);
                }
                if size == 0 {
                    sink.data_ready(buffer, 0, Status::SUCCESS);
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
        None
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.framing.is_some() {
            self.message_left -= n;
            self.end_of_message_check();
        }
    }

    fn protocol_error(&mut self, status: Status, sink: &mut dyn IndicationSink) -> Progress {
        self.stats.errors.fetch_add(1, Ordering::Relaxed);
        sink.error(status.clone());
        self.fail(status.clone(), sink);
        Progress::Failed(status)
    }
}

#[cfg(test)]
mod tests;
