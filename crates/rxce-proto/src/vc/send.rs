//! The send side of the VC machine: admission against the queue's bound
//! (decision 23), queuing with the frame header of a framed transport,
//! what to write next, completion as bytes are written, and the failure of
//! everything queued when the VC fails or is torn down.

use std::io::IoSlice;

use smallvec::SmallVec;

use super::send_queue::{Completion, MAX_SLICES};
use super::{last_event, Transmit, VcEvent, VcMachine, VcState};
use crate::buffer::SendBuffers;
use crate::status::Status;
use crate::tdi::SendOptions;

/// How a send is let into the queue, from [`VcMachine::admit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Queue it now ([`VcMachine::push`]).
    Now,
    /// The queue is full and the send may wait: wait for room, then ask
    /// again.
    WaitForRoom,
}

impl VcMachine {
    #[inline]
    fn refuse_if_not_sending(&self) -> Result<(), Status> {
        match self.state {
            VcState::Active | VcState::PeerReleased => Ok(()),
            VcState::TornDown => Err(Status::INVALID_HANDLE.with_message("the VC was torn down")),
            VcState::Disconnecting => Err(Status::CONNECTION_DISCONNECTED
                .with_message("a disconnect was initiated on the VC; it takes no more sends")),
            VcState::Disconnected => Err(match &self.failure {
                Some(why) => Status::CONNECTION_DISCONNECTED.with_message(format!("the VC failed: {why}")),
                None => Status::CONNECTION_DISCONNECTED.with_message("the VC is disconnected"),
            }),
        }
    }

    /// The largest send the transport takes.
    #[inline]
    fn max_send(&self) -> usize {
        match self.config.framing {
            Some(framing) => framing.max_message_len().min(self.config.max_message_size),
            None => usize::MAX,
        }
    }

    /// Checks a send and decides whether it may be queued now. A
    /// non-blocking partial send on a stream is cut to the room left; a
    /// non-blocking send that does not fit is DEVICE_NOT_READY, and
    /// send-possible follows once there is room.
    #[inline]
    pub fn admit(&mut self, data: &mut SendBuffers, options: SendOptions) -> Result<Admit, Status> {
        self.refuse_if_not_sending()?;
        let unknown = options.bits() & !SendOptions::all().bits();
        if unknown != 0 {
            return Err(Status::INVALID_PARAMETER.with_message(format!("unknown send options {unknown:#x}")));
        }
        let framed = self.config.framing.is_some();
        if data.is_empty() && !framed {
            return Err(Status::INVALID_PARAMETER.with_message("a send on a stream VC needs at least one byte"));
        }
        if let Some(framing) = self.config.framing {
            if data.len() < framing.min_message_len() {
                return Err(Status::INVALID_PARAMETER.with_message(format!(
                    "a {}-byte send is shorter than the transport's smallest message ({} bytes)",
                    data.len(),
                    framing.min_message_len()
                )));
            }
        }
        if data.len() > self.max_send() {
            return Err(Status::INVALID_PARAMETER.with_message(format!(
                "a {}-byte send is longer than the transport's largest message ({} bytes)",
                data.len(),
                self.max_send()
            )));
        }
        if self.queue.admits(data.len()) {
            return Ok(Admit::Now);
        }
        if !options.contains(SendOptions::NON_BLOCKING) {
            return Ok(Admit::WaitForRoom);
        }
        let room = self.queue.room();
        if options.contains(SendOptions::PARTIAL) && !framed && room > 0 {
            data.truncate(room);
            return Ok(Admit::Now);
        }
        self.send_possible_wanted = true;
        Err(Status::DEVICE_NOT_READY.with_message(format!(
            "the VC's send queue holds {} bytes; a non-blocking send of {} bytes does not fit",
            self.queue.unsent(),
            data.len()
        )))
    }

    /// Queues an admitted send and returns its id. One nobody waits for
    /// (`Completion::Callback`, which owes send-submitted now, or
    /// `Detached`) is written by the VC's task unless someone else writes
    /// first; a `Waiter` is written by its sender.
    #[inline]
    pub fn push(&mut self, data: SendBuffers, options: SendOptions, completion: Completion) -> u64 {
        let fragment = self.config.framing.and_then(|framing| framing.fragment_size());
        let header = match (self.config.framing, fragment) {
            (Some(framing), None) => Some(
                framing
                    .encode_message_header(data.len())
                    .expect("length checked at admission"),
            ),
            _ => None,
        };
        match completion {
            Completion::Callback(context) => {
                self.events.push_back(VcEvent::SendSubmitted(context));
                self.unattended += 1;
                self.wakeups.task = true;
            }
            Completion::Detached | Completion::Control => {
                self.unattended += 1;
                self.wakeups.task = true;
            }
            Completion::Waiter => {}
        }
        let expedited = options.contains(SendOptions::EXPEDITED);
        match fragment {
            Some(fragment) => self.queue.push_record(fragment, data, expedited, completion),
            None => self.queue.push(header, data, expedited, completion),
        }
    }

    /// Queues the framing's keepalive frame (a control frame, not a TSDU)
    /// when nothing else is queued.
    pub(super) fn queue_keepalive(&mut self) {
        if !matches!(self.state, VcState::Active | VcState::PeerReleased) || !self.queue.is_idle() {
            return;
        }
        self.queue.push(
            Some(rxce_wire::framing::keepalive_frame()),
            SendBuffers::new(),
            false,
            Completion::Control,
        );
        self.unattended += 1;
        self.wakeups.task = true;
    }

    /// True when the VC's task must write: queued bytes nobody else will
    /// write, or the end of our direction.
    #[inline]
    pub fn task_must_write(&self) -> bool {
        !matches!(self.state, VcState::TornDown) && (self.unattended > 0 || self.shutdown_after_flush)
    }

    /// What to write now.
    #[inline]
    pub fn poll_transmit(&self) -> Transmit {
        if matches!(self.state, VcState::TornDown) || self.failure.is_some() {
            return Transmit::Idle;
        }
        if !self.queue.is_idle() {
            Transmit::Bytes
        } else if self.shutdown_after_flush {
            Transmit::Shutdown
        } else {
            Transmit::Idle
        }
    }

    /// The queued bytes, in order, as I/O slices for one vectored write.
    #[inline]
    pub fn gather<'a>(&'a self, slices: &mut SmallVec<[IoSlice<'a>; MAX_SLICES]>) {
        self.queue.gather(slices);
    }

    /// `n` bytes of the gathered slices were written. Sends they finish
    /// complete in order: an asynchronous one owes send-complete, a waiting
    /// sender is woken unless it is `mine` (the writer's own).
    #[inline]
    pub fn handle_written(&mut self, n: usize, mine: Option<u64>) {
        if n == 0 {
            self.fail(Status::CONNECTION_RESET.with_message("the socket took no bytes"));
            return;
        }
        self.sent.bytes += n as u64;
        let Self {
            queue,
            events,
            unattended,
            sent,
            wakeups,
            ..
        } = self;
        queue.advance(n, |request| {
            if request.completion != Completion::Control {
                sent.tsdus += 1;
            }
            match request.completion {
                Completion::Callback(context) => {
                    *unattended -= 1;
                    events.push_back(VcEvent::SendComplete {
                        context,
                        status: Status::SUCCESS,
                        bytes: request.len,
                    });
                    wakeups.task = true;
                }
                Completion::Detached | Completion::Control => *unattended -= 1,
                Completion::Waiter if Some(request.id) != mine => wakeups.waiters = true,
                Completion::Waiter => {}
            }
        });
        let room = self.queue.room();
        // Senders waiting for room may go on.
        self.wakeups.waiters |= mine.is_some() && room > 0;
        if self.send_possible_wanted && room > 0 {
            self.send_possible_wanted = false;
            self.last_event = last_event::SEND_POSSIBLE;
            self.events.push_back(VcEvent::SendPossible(room));
            self.wakeups.task = true;
        }
    }

    /// Our direction was ended after a graceful disconnect's sends.
    pub fn handle_shutdown_sent(&mut self) {
        self.shutdown_after_flush = false;
        if self.peer_ended {
            self.state = VcState::Disconnected;
        }
        self.wakeups.task = true;
    }

    /// Fails every queued send with `status`: waiting senders learn it from
    /// [`VcMachine::outcome`], asynchronous ones owe send-complete.
    pub(super) fn fail_queue(&mut self, status: &Status) {
        for request in self.queue.drain() {
            if *status != Status::CANCELLED {
                self.sent.errors += 1;
            }
            match request.completion {
                Completion::Waiter => self.failed_waiters.push((request.id, status.clone())),
                Completion::Callback(context) => self.events.push_back(VcEvent::SendComplete {
                    context,
                    status: status.clone(),
                    bytes: 0,
                }),
                Completion::Detached | Completion::Control => {}
            }
        }
        self.unattended = 0;
        self.shutdown_after_flush = false;
    }

    /// The outcome of the waited-for send `id` of `len` bytes, once it left
    /// the queue (`None` while it is queued).
    #[inline]
    pub fn outcome(&mut self, id: u64, len: usize) -> Option<Result<usize, Status>> {
        if self.queue.contains(id) {
            return None;
        }
        match self.failed_waiters.iter().position(|(w, _)| *w == id) {
            Some(at) => Some(Err(self.failed_waiters.swap_remove(at).1)),
            None => Some(Ok(len)),
        }
    }

    /// The sender of `id` went away: a send still queued stays (bytes
    /// promised to the stream are never cut short) and the task writes it;
    /// a failure nobody will read is forgotten.
    pub fn detach(&mut self, id: u64) {
        if self.queue.detach(id) {
            self.unattended += 1;
            self.wakeups.task = true;
        } else if let Some(at) = self.failed_waiters.iter().position(|(w, _)| *w == id) {
            self.failed_waiters.swap_remove(at);
        }
    }

    /// Bytes waiting to be sent on an active VC, or `None` when the VC is
    /// not active (a VC whose peer ended its side is no place for new work).
    pub fn send_load(&self) -> Option<usize> {
        (self.state == VcState::Active).then(|| self.queue.unsent())
    }

    /// Room left in the send queue.
    #[inline]
    pub fn send_room(&self) -> usize {
        self.queue.room()
    }
}
