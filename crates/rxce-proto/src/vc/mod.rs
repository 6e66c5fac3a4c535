//! One virtual circuit as a sans-I/O state machine.
//!
//! A [`VcMachine`] owns a VC's whole state: its life ([`VcState`]), the
//! receive indication machine, the send queue, the disconnect sequencing
//! and every timer as a deadline. It opens no socket, reads no clock and
//! calls no client: a driver moves bytes and time in and carries work out,
//! in the shape of quinn-proto:
//!
//! - **bytes in**: [`VcMachine::read_target`] lends the buffer the next
//!   socket read lands in, then [`VcMachine::handle_read`] /
//!   [`VcMachine::handle_end`] / [`VcMachine::handle_io_error`];
//! - **bytes out**: [`VcMachine::poll_transmit`] says what to write (the
//!   queued bytes, gathered by [`VcMachine::gather`], or the end of our
//!   direction), then [`VcMachine::handle_written`] /
//!   [`VcMachine::handle_shutdown_sent`];
//! - **time**: [`VcMachine::poll_timeout`] gives the next deadline,
//!   [`VcMachine::handle_timeout`] acts on the ones that passed;
//! - **the client's calls**: sends ([`VcMachine::admit`], [`VcMachine::push`]),
//!   [`VcMachine::initiate_disconnect`], [`VcMachine::resume_receive`],
//!   [`VcMachine::tear_down`], and the answers to indications
//!   ([`VcMachine::answer`]);
//! - **what the client must hear**: [`VcMachine::poll_event`], one callback
//!   at a time, in order;
//! - **what the driver must do besides**: [`VcMachine::take_close`] (close
//!   the socket, orderly or with a reset) and [`VcMachine::take_wakeups`]
//!   (wake the VC's task, or senders waiting for their send).
//!
//! The rules it keeps are rxce's decisions 8, 17, 18, 20, 21 and 23 (see
//! `docs/decisions.md`).

mod receive;
mod send;
mod send_queue;
#[cfg(test)]
mod tests;
mod timers;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rxce_wire::framing::Framing;

pub use receive::{IndicationSink, Lent, Progress, ReceiveMachine, ReceiveStats, ReceiveStep};
pub use send::Admit;
pub use send_queue::{Completion, MAX_SLICES};

use crate::buffer::{BufferPool, ReceiveBuffer};
use crate::indication::ReceiveAnswer;
use crate::status::Status;
use crate::tdi::DisconnectFlags;
use send_queue::SendQueue;

/// The life of a VC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum VcState {
    /// Connected: sends and receives flow.
    Active = 1,
    /// A graceful disconnect was initiated: queued sends are written, then
    /// our direction ends; the disconnect indication follows the peer's end.
    Disconnecting = 2,
    /// The peer ended its direction (disconnect indicated with RELEASE);
    /// sends still go out until the client disconnects or tears down.
    PeerReleased = 3,
    /// Both directions are over, or the VC failed; sends are refused.
    Disconnected = 4,
    /// Torn down: the handle is no longer valid.
    TornDown = 5,
}

/// TDI event numbers, kept as the endpoint's "last event".
pub mod last_event {
    /// A disconnect indication.
    pub const DISCONNECT: u32 = 1;
    /// An error indication.
    pub const ERROR: u32 = 2;
    /// A receive indication.
    pub const RECEIVE: u32 = 3;
    /// A send-possible indication.
    pub const SEND_POSSIBLE: u32 = 6;
}

/// What a VC is configured with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VcConfig {
    /// The message framing of the transport (`None`: a bare byte stream).
    pub framing: Option<Framing>,
    /// The largest message, sent or received, on a framed transport.
    pub max_message_size: usize,
    /// Unsent bytes the send queue holds before sends wait (decision 23).
    pub send_queue_limit: usize,
    /// Send the framing's keepalive frame after this long without sends.
    pub keepalive: Option<Duration>,
    /// Fail the VC when no byte came from the peer for this long while the
    /// VC reads.
    pub dead_peer_timeout: Option<Duration>,
    /// How long a graceful disconnect waits for the peer's end.
    pub disconnect_timeout: Duration,
}

/// A callback the client is owed, from [`VcMachine::poll_event`].
#[derive(Debug)]
pub enum VcEvent {
    /// A receive indication: call the handler with [`Lent::indication`] and
    /// give the answer to [`VcMachine::answer`] with the lent bytes.
    Indicate(Lent),
    /// A client buffer comes back (data-ready).
    DataReady {
        /// The buffer the client returned with MORE_PROCESSING_REQUIRED.
        buffer: Box<dyn ReceiveBuffer>,
        /// Bytes written into it from offset 0.
        copied: usize,
        /// SUCCESS, or the failure that ended the copy early.
        status: Status,
    },
    /// A protocol error (the error indication).
    Error(Status),
    /// An asynchronous send was queued (send-submitted, STATUS_PENDING).
    SendSubmitted(usize),
    /// An asynchronous send finished (send-complete).
    SendComplete {
        /// The send's completion context.
        context: usize,
        /// SUCCESS when every byte went to the kernel, or the failure.
        status: Status,
        /// Bytes sent.
        bytes: usize,
    },
    /// Room in the send queue after a non-blocking send was refused; the
    /// room in bytes.
    SendPossible(usize),
    /// The one disconnect indication, the VC's last.
    Disconnect {
        /// RELEASE (orderly) or ABORT.
        flags: DisconnectFlags,
        /// Why (decision 20).
        status: Status,
        /// True when the VC was lost to the network (not ended by the
        /// client, nor by the client's own panic): a reconnect policy may
        /// rebuild it.
        lost: bool,
    },
}

/// What the driver must write, from [`VcMachine::poll_transmit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transmit {
    /// Nothing.
    Idle,
    /// The queued bytes ([`VcMachine::gather`]); report with
    /// [`VcMachine::handle_written`].
    Bytes,
    /// End our direction (a graceful disconnect whose sends are all
    /// written); report with [`VcMachine::handle_shutdown_sent`].
    Shutdown,
}

/// Who the driver must wake after a call, from [`VcMachine::take_wakeups`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Wakeups {
    /// The VC's task: events are owed, or it must write.
    pub task: bool,
    /// Senders waiting for their send or for room.
    pub waiters: bool,
}

/// How the driver must close the socket, from [`VcMachine::take_close`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Close {
    /// An orderly end of both directions (a tear-down).
    Orderly,
    /// A reset (the VC failed).
    Abortive,
}

/// Counts of what a VC sent (received counts are [`ReceiveStats`]).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SendStats {
    /// TSDUs handed to the kernel whole (keepalive frames not counted).
    pub tsdus: u64,
    /// Bytes handed to the kernel (frame headers included).
    pub bytes: u64,
    /// Sends that failed (not those cancelled by a tear-down).
    pub errors: u64,
}

/// One VC's state, as a sans-I/O machine (see the `vc` module docs for
/// the shape of its API).
pub struct VcMachine {
    config: VcConfig,
    state: VcState,
    /// Why sends are refused once the VC failed.
    failure: Option<Status>,
    receive: ReceiveMachine,
    queue: SendQueue,
    /// Outcomes of failed synchronous sends, until their waiters look.
    failed_waiters: Vec<(u64, Status)>,
    /// Callbacks owed on the send side, in order.
    events: VecDeque<VcEvent>,
    /// The abortive disconnect to indicate once everything before it ran.
    ending: Option<(DisconnectFlags, Status)>,
    /// The client asked for its rejected bytes again.
    resume_wanted: bool,
    send_possible_wanted: bool,
    /// Queued sends nobody waits for: the VC's task writes them.
    unattended: usize,
    /// End our direction once the queue is written.
    shutdown_after_flush: bool,
    peer_ended: bool,
    /// The one disconnect indication was produced.
    indicated_disconnect: bool,
    /// The client started a graceful disconnect: the end is no loss.
    disconnect_initiated: bool,
    timers: timers::Timers,
    sent: SendStats,
    last_event: u32,
    close: Option<Close>,
    wakeups: Wakeups,
}

impl VcMachine {
    /// A connected VC, built at `now`, reading into `pool`'s buffers.
    pub fn new(config: VcConfig, pool: Arc<BufferPool>, now: Instant) -> VcMachine {
        let max_message = match config.framing {
            Some(framing) => framing.max_message_len().min(config.max_message_size),
            None => config.max_message_size,
        };
        VcMachine {
            receive: ReceiveMachine::new(pool, config.framing, max_message),
            queue: SendQueue::new(config.send_queue_limit),
            timers: timers::Timers::new(now),
            config,
            state: VcState::Active,
            failure: None,
            failed_waiters: Vec::new(),
            events: VecDeque::new(),
            ending: None,
            resume_wanted: false,
            send_possible_wanted: false,
            unattended: 0,
            shutdown_after_flush: false,
            peer_ended: false,
            indicated_disconnect: false,
            disconnect_initiated: false,
            sent: SendStats::default(),
            last_event: 0,
            close: None,
            wakeups: Wakeups::default(),
        }
    }

    /// The VC's state now.
    #[inline]
    pub fn state(&self) -> VcState {
        self.state
    }

    /// The configuration the VC was built with.
    pub fn config(&self) -> &VcConfig {
        &self.config
    }

    /// What was sent so far.
    pub fn send_stats(&self) -> SendStats {
        self.sent
    }

    /// What was received so far.
    pub fn receive_stats(&self) -> ReceiveStats {
        self.receive.stats()
    }

    /// The TDI number of the last event indicated ([`last_event`]).
    pub fn last_event(&self) -> u32 {
        self.last_event
    }

    /// True once the VC has nothing left to do: torn down or disconnected,
    /// with every owed callback produced and nothing left for its task to
    /// write.
    #[inline]
    pub fn is_finished(&self) -> bool {
        let over = match self.state {
            VcState::TornDown => true,
            VcState::Disconnected => self.ending.is_none(),
            _ => false,
        };
        over && self.events.is_empty() && !self.task_must_write() && !self.receive_has_news()
    }

    /// True while the receive side has something to tell or an indication
    /// is out.
    #[inline]
    fn receive_has_news(&self) -> bool {
        !self.receive.is_quiet()
    }

    /// Takes who must be woken since the last call.
    #[inline]
    pub fn take_wakeups(&mut self) -> Wakeups {
        std::mem::take(&mut self.wakeups)
    }

    /// Takes how the socket must be closed, once the VC failed or was torn
    /// down.
    #[inline]
    pub fn take_close(&mut self) -> Option<Close> {
        self.close.take()
    }

    /// The next callback the client is owed, in order: the send side's
    /// (submitted, complete, send-possible), then the receive side's, and
    /// the disconnect indication last.
    #[inline]
    pub fn poll_event(&mut self) -> Option<VcEvent> {
        // Most steps of a busy VC owe nothing: a look at four fields.
        if self.events.is_empty() && !self.receive.is_dirty() && self.ending.is_none() && !self.resume_wanted {
            return None;
        }
        self.next_event()
    }

    fn next_event(&mut self) -> Option<VcEvent> {
        if let Some(event) = self.events.pop_front() {
            return Some(event);
        }
        if self.resume_wanted && !self.receive.is_answering() {
            self.resume_wanted = false;
            self.receive.handle_resume();
        }
        if !self.receive.is_dirty() {
            return self.poll_ending();
        }
        match self.receive.poll() {
            ReceiveStep::Indicate(lent) => {
                self.last_event = last_event::RECEIVE;
                return Some(VcEvent::Indicate(lent));
            }
            ReceiveStep::DataReady { buffer, copied, status } => {
                return Some(VcEvent::DataReady { buffer, copied, status })
            }
            ReceiveStep::Error(status) => {
                if self.state == VcState::TornDown {
                    return self.next_event();
                }
                self.last_event = last_event::ERROR;
                return Some(VcEvent::Error(status));
            }
            ReceiveStep::Wait(Progress::Ended) => self.peer_ended(),
            ReceiveStep::Wait(Progress::Failed(status)) => self.fail(status),
            ReceiveStep::Wait(_) => {}
        }
        if let Some(event) = self.events.pop_front() {
            return Some(event);
        }
        self.poll_ending()
    }

    /// The abortive disconnect indication, once nothing else is owed before
    /// it.
    fn poll_ending(&mut self) -> Option<VcEvent> {
        if self.ending.is_none() || !self.receive.is_quiet() || !self.events.is_empty() {
            return None;
        }
        let (flags, status) = self.ending.take()?;
        let first = !std::mem::replace(&mut self.indicated_disconnect, true) && self.state != VcState::TornDown;
        if !first {
            return None;
        }
        // A VC the client's own panic ended is not the network's loss: a
        // reconnect policy does not rebuild it (the rebuilt VC would meet
        // the same bug).
        let lost = !self.disconnect_initiated && status != Status::UNHANDLED_EXCEPTION;
        self.last_event = last_event::DISCONNECT;
        Some(VcEvent::Disconnect { flags, status, lost })
    }

    /// The client's answer to the indication of [`VcEvent::Indicate`], with
    /// the lent bytes.
    #[inline]
    pub fn answer(&mut self, lent: Lent, answer: ReceiveAnswer) {
        self.receive.answer(lent, answer);
    }

    /// The client wants the bytes it did not accept again
    /// (RxCeResumeReceive); they come after the indication that is out, if
    /// one is.
    pub fn resume_receive(&mut self) -> Result<(), Status> {
        if self.state == VcState::TornDown {
            return Err(Status::INVALID_HANDLE.with_message("the VC was torn down"));
        }
        self.resume_wanted = true;
        self.wakeups.task = true;
        Ok(())
    }

    /// Starts a graceful disconnect (RxCeInitiateVCDisconnect) at `now`:
    /// queued sends are written, then our direction ends
    /// ([`Transmit::Shutdown`]); the disconnect indication follows the
    /// peer's end, or an abortive one after the disconnect timeout.
    pub fn initiate_disconnect(&mut self, now: Instant) -> Result<(), Status> {
        match self.state {
            VcState::TornDown => return Err(Status::INVALID_HANDLE.with_message("the VC was torn down")),
            VcState::Disconnected => {
                return Err(Status::CONNECTION_DISCONNECTED.with_message("the VC is already disconnected"))
            }
            VcState::Disconnecting => return Ok(()),
            VcState::Active => self.timers.disconnect = Some(now + self.config.disconnect_timeout),
            VcState::PeerReleased => {}
        }
        self.state = VcState::Disconnecting;
        self.disconnect_initiated = true;
        self.shutdown_after_flush = true;
        self.wakeups.task = true;
        Ok(())
    }

    /// Tears the VC down (RxCeTearDownVC): queued sends complete with
    /// CANCELLED, a client buffer being filled comes back, the socket closes
    /// in an orderly way, and no indication follows. A second tear-down is
    /// INVALID_HANDLE.
    pub fn tear_down(&mut self) -> Result<(), Status> {
        if self.state == VcState::TornDown {
            return Err(Status::INVALID_HANDLE.with_message("the VC was already torn down"));
        }
        self.state = VcState::TornDown;
        static CANCELLED: std::sync::OnceLock<Status> = std::sync::OnceLock::new();
        let cancelled = Status::shared(&CANCELLED, || Status::CANCELLED.with_message("the VC was torn down"));
        self.fail_queue(&cancelled);
        self.receive.handle_failure(cancelled);
        self.ending = None;
        self.close = Some(Close::Orderly);
        self.wakeups = Wakeups {
            task: true,
            waiters: true,
        };
        Ok(())
    }

    /// The VC failed (a reset, a protocol error, a timeout, a client's
    /// panic): queued sends fail with `status`, the socket is reset, and one
    /// abortive disconnect indication follows what is owed. Nothing happens
    /// once the VC failed or was torn down.
    pub fn fail(&mut self, status: Status) {
        if self.state == VcState::TornDown || self.failure.is_some() {
            return;
        }
        self.state = VcState::Disconnected;
        self.failure = Some(status.clone());
        self.fail_queue(&status);
        self.receive.handle_failure(status.clone());
        self.close = Some(Close::Abortive);
        if !self.indicated_disconnect {
            self.ending = Some((DisconnectFlags::ABORT, status));
        }
        self.wakeups = Wakeups {
            task: true,
            waiters: true,
        };
    }

    /// The peer's data ended and all of it was indicated: one disconnect
    /// indication with RELEASE (decision 20).
    fn peer_ended(&mut self) {
        if self.peer_ended {
            return;
        }
        self.peer_ended = true;
        self.timers.disconnect = None;
        let status = match self.state {
            VcState::Active => {
                self.state = VcState::PeerReleased;
                match self.receive.declined() {
                    0 => Status::REMOTE_DISCONNECT.with_message("the peer ended the connection"),
                    declined => Status::REMOTE_DISCONNECT.with_message(format!(
                        "the peer ended the connection; the client declined its last {declined} bytes \
                         (indicated with FORCE_INDICATION, not taken), which were discarded"
                    )),
                }
            }
            VcState::Disconnecting => {
                if !self.task_must_write() {
                    self.state = VcState::Disconnected;
                }
                Status::SUCCESS
            }
            VcState::PeerReleased | VcState::Disconnected | VcState::TornDown => return,
        };
        if std::mem::replace(&mut self.indicated_disconnect, true) {
            return;
        }
        let lost = status == Status::REMOTE_DISCONNECT;
        self.last_event = last_event::DISCONNECT;
        self.events.push_back(VcEvent::Disconnect {
            flags: DisconnectFlags::RELEASE,
            status,
            lost,
        });
    }

    /// Where the next socket read lands, or `None` when the VC reads nothing
    /// now (paused, ended, failed, an indication out, out of budget — then it
    /// tries again after a short while, see [`VcMachine::poll_timeout`]).
    #[inline]
    pub fn read_target(&mut self) -> Option<&mut [u8]> {
        if self.state == VcState::TornDown || self.timers.budget_wait {
            return None;
        }
        match self.receive.read_target() {
            Ok(target) => target,
            Err(_) => {
                self.timers.budget_wait = true;
                None
            }
        }
    }

    /// `n` bytes (not 0) were read into the last read target.
    #[inline]
    pub fn handle_read(&mut self, n: usize) {
        self.receive.handle_read(n);
        self.timers.heard = true;
    }

    /// The socket has nothing to read now (or the VC reads nothing now): an
    /// idle VC gives its lookahead buffer back, so it holds no buffer
    /// memory.
    #[inline]
    pub fn handle_read_idle(&mut self) {
        self.receive.release_idle_buffer();
    }

    /// The peer's data ended (a read returned 0).
    #[inline]
    pub fn handle_end(&mut self) {
        self.receive.handle_end();
    }

    /// A read or write failed with `status` (from the OS error): the VC
    /// fails.
    pub fn handle_io_error(&mut self, status: Status) {
        self.fail(status);
    }

    /// True when the VC would read now (for the driver's readiness wait).
    #[inline]
    pub fn wants_bytes(&self) -> bool {
        self.state != VcState::TornDown && !self.timers.budget_wait && self.receive.wants_bytes()
    }
}
