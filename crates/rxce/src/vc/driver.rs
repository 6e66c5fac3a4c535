//! The VC's task: reads the socket into the receive machine, writes the
//! sends nobody waits for, and delivers every callback of the VC in order.
//! All the protocol decisions live in the sans-I/O parts; this is the I/O.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::indication::{IndicationSink, Progress, ReceiveMachine};
use super::{event, Due, Flush, Vc, VcState};
use crate::buffer::ReceiveBuffer;
use crate::handler::{ConnectionEventHandler, Indication, ReceiveAnswer};
use crate::provider::Stream;
use crate::status::Status;
use crate::tdi::DisconnectFlags;

/// Reads per turn before the task lets others run.
const READS_PER_TURN: usize = 64;
/// How long the task waits before retrying when the budget had no room for
/// a receive buffer.
const BUDGET_RETRY: Duration = Duration::from_millis(10);

/// Waits for `future`, or forever without one (a disabled select branch).
async fn when<F: std::future::Future>(future: Option<F>) -> F::Output {
    match future {
        Some(future) => future.await,
        None => std::future::pending().await,
    }
}

/// Runs the handler's `callback` for `vc` on this thread, stopping a panic
/// in it (see [`crate::registry::guarded_callback`]).
fn guarded<R>(vc: &Vc, callback: &'static str, f: impl FnOnce() -> R) -> Result<R, Status> {
    crate::registry::guarded_callback(vc.0.id, callback, &vc.0.address.transport.engine.callbacks, f)
}

/// The receive machine's way to the handler. A panic in a callback is kept
/// in `panic`: the pump fails the VC with it after the machine's step.
struct Sink<'a> {
    vc: &'a Vc,
    handler: &'a dyn ConnectionEventHandler,
    panic: Option<Status>,
}

impl<'a> Sink<'a> {
    fn new(vc: &'a Vc, handler: &'a dyn ConnectionEventHandler) -> Sink<'a> {
        Sink {
            vc,
            handler,
            panic: None,
        }
    }

    /// `progress`, unless a callback panicked: then the VC fails with that.
    fn settle(self, progress: Progress) -> Progress {
        match self.panic {
            Some(status) => Progress::Failed(status),
            None => progress,
        }
    }
}

impl IndicationSink for Sink<'_> {
    fn receive(&mut self, indication: &Indication<'_>) -> ReceiveAnswer {
        if self.panic.is_some() {
            return ReceiveAnswer::NotAccepted;
        }
        self.vc.0.counters.last_event.store(event::RECEIVE, Ordering::Relaxed);
        // A panicking receive consumed nothing: the machine keeps the bytes
        // and the VC fails before they could be indicated again.
        guarded(self.vc, "receive", || self.handler.receive(self.vc, indication)).unwrap_or_else(|status| {
            self.panic = Some(status);
            ReceiveAnswer::NotAccepted
        })
    }

    fn data_ready(&mut self, buffer: Box<dyn ReceiveBuffer>, copied: usize, status: Status) {
        if let Err(status) = guarded(self.vc, "data ready", || {
            self.handler.data_ready(self.vc, buffer, copied, status)
        }) {
            self.panic.get_or_insert(status);
        }
    }

    fn error(&mut self, status: Status) {
        tracing::warn!(vc = self.vc.0.id, %status, "receive error");
        self.vc.0.counters.last_event.store(event::ERROR, Ordering::Relaxed);
        if let Err(status) = guarded(self.vc, "error", || self.handler.error(self.vc, status)) {
            self.panic.get_or_insert(status);
        }
    }

    fn closed(&self) -> bool {
        self.vc.0.is_torn_down()
    }
}

struct Pump {
    vc: Vc,
    handler: Arc<dyn ConnectionEventHandler>,
    stream: Arc<dyn Stream>,
    machine: ReceiveMachine,
    due: Vec<Due>,
    /// False once the peer's data ended or the VC failed.
    reading: bool,
    write_blocked: bool,
    budget_retry: Option<Instant>,
    /// The next keepalive check of a session with keepalives.
    keepalive_tick: Option<Instant>,
    /// TSDUs sent at the last keepalive check.
    tsdus_seen: u64,
    /// Bytes received when last seen growing, and when.
    received_seen: u64,
    received_at: Instant,
}

/// What the control step found.
struct Control {
    torn_down: bool,
    ending: Option<(DisconnectFlags, Status)>,
    resume: bool,
    deadline: Option<Instant>,
    finished: bool,
}

pub(super) async fn run(vc: Vc, stream: Arc<dyn Stream>, machine: ReceiveMachine) {
    let handler = vc.0.connection.handler.clone();
    let mut pump = Pump {
        vc,
        handler,
        stream,
        machine,
        due: Vec::new(),
        reading: true,
        write_blocked: false,
        budget_retry: None,
        keepalive_tick: None,
        tsdus_seen: 0,
        received_seen: 0,
        received_at: Instant::now(),
    };
    pump.run().await;
}

impl Pump {
    async fn run(&mut self) {
        loop {
            let control = self.control();
            self.deliver_due();
            if control.torn_down {
                // Torn down: a panic now has nothing left to fail.
                let mut sink = Sink::new(&self.vc, &*self.handler);
                self.machine
                    .fail(Status::CANCELLED.with_message("the VC was torn down"), &mut sink);
                self.control();
                self.deliver_due();
                return;
            }
            if let Some((flags, status)) = control.ending {
                self.end(flags, status);
                return;
            }
            if control.finished {
                return;
            }
            if control.resume && self.reading {
                let progress = {
                    let mut sink = Sink::new(&self.vc, &*self.handler);
                    let progress = self.machine.resume(&mut sink);
                    sink.settle(progress)
                };
                self.after(progress);
            }
            let turn_used = self.read_turn();
            self.machine.release_idle_buffer();
            if turn_used {
                tokio::task::yield_now().await;
                continue;
            }
            let keepalive = self.keepalive_deadline();
            let dead_peer = self.dead_peer_deadline();
            self.wait(control.deadline, keepalive, dead_peer).await;
        }
    }

    /// Takes what other threads left for the task, and writes for the
    /// sends nobody waits for.
    fn control(&mut self) -> Control {
        let shared = &self.vc.0;
        let mut inner = shared.lock();
        self.write_blocked = inner.task_must_write() && shared.flush(&mut inner, None) == Flush::Blocked;
        std::mem::swap(&mut self.due, &mut inner.due);
        let finished = inner.state == VcState::Disconnected && !inner.task_must_write() && inner.ending.is_none();
        Control {
            torn_down: inner.state == VcState::TornDown,
            ending: inner.ending.take(),
            resume: std::mem::take(&mut inner.resume),
            deadline: inner.disconnect_deadline.map(Instant::from_std),
            finished,
        }
    }

    fn deliver_due(&mut self) {
        let vc = &self.vc;
        let handler = &*self.handler;
        let mut panic = None;
        // Every owed callback runs, even after one of them panicked: each
        // send completes exactly once.
        for due in self.due.drain(..) {
            let called = match due {
                Due::Submitted(context) => guarded(vc, "send submitted", || {
                    handler.send_submitted(vc, context, Status::PENDING)
                }),
                Due::Complete { context, status, bytes } => guarded(vc, "send complete", || {
                    handler.send_complete(vc, context, status, bytes)
                }),
                Due::SendPossible(room) if vc.is_valid() => {
                    vc.0.counters.last_event.store(event::SEND_POSSIBLE, Ordering::Relaxed);
                    guarded(vc, "send possible", || handler.send_possible(vc, room))
                }
                Due::SendPossible(_) => Ok(()),
            };
            if let Err(status) = called {
                panic.get_or_insert(status);
            }
        }
        if let Some(status) = panic {
            let shared = &vc.0;
            let mut inner = shared.lock();
            shared.fail(&mut inner, status);
        }
    }

    /// Reads until the socket has nothing more (false) or the turn is used
    /// up (true).
    fn read_turn(&mut self) -> bool {
        if !self.reading || self.budget_retry.is_some_and(|at| at > Instant::now()) {
            return false;
        }
        self.budget_retry = None;
        for _ in 0..READS_PER_TURN {
            let target = match self.machine.read_target() {
                Ok(Some(target)) => target,
                Ok(None) => return false,
                Err(status) => {
                    tracing::debug!(vc = self.vc.0.id, %status, "no budget for a receive buffer; retrying");
                    self.budget_retry = Some(Instant::now() + BUDGET_RETRY);
                    return false;
                }
            };
            let read = self.stream.try_read(target);
            let progress = {
                let mut sink = Sink::new(&self.vc, &*self.handler);
                let progress = match read {
                    Ok(0) => self.machine.on_end(&mut sink),
                    Ok(n) => self.machine.on_read(n, &mut sink),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        let status = Status::from_io(e, "reading from the VC's socket");
                        Progress::Failed(status)
                    }
                };
                sink.settle(progress)
            };
            self.after(progress);
            if !self.reading || !self.machine.wants_bytes() {
                return false;
            }
        }
        true
    }

    /// Acts on what the machine says after a step.
    fn after(&mut self, progress: Progress) {
        match progress {
            Progress::NeedBytes | Progress::Paused | Progress::Closed => {}
            Progress::Ended => {
                self.reading = false;
                self.peer_ended();
            }
            Progress::Failed(status) => {
                self.reading = false;
                let shared = &self.vc.0;
                let mut inner = shared.lock();
                shared.fail(&mut inner, status);
            }
        }
    }

    /// The peer's data ended and all of it was indicated: one disconnect
    /// indication with RELEASE.
    fn peer_ended(&mut self) {
        let shared = &self.vc.0;
        let status = {
            let mut inner = shared.lock();
            inner.peer_ended = true;
            inner.disconnect_deadline = None;
            let status = match inner.state {
                VcState::Active => {
                    inner.state = VcState::PeerReleased;
                    match self.machine.declined() {
                        0 => Status::REMOTE_DISCONNECT.with_message("the peer ended the connection"),
                        declined => Status::REMOTE_DISCONNECT.with_message(format!(
                            "the peer ended the connection; the client declined its last {declined} bytes \
                             (indicated with FORCE_INDICATION, not taken), which were discarded"
                        )),
                    }
                }
                VcState::Disconnecting => {
                    if !inner.task_must_write() {
                        inner.state = VcState::Disconnected;
                    }
                    Status::SUCCESS
                }
                VcState::PeerReleased | VcState::Disconnected | VcState::TornDown => return,
            };
            if inner.indicated_disconnect {
                return;
            }
            inner.indicated_disconnect = true;
            status
        };
        tracing::debug!(vc = shared.id, %status, "peer ended the VC");
        shared.counters.last_event.store(event::DISCONNECT, Ordering::Relaxed);
        let peer_initiated = status == Status::REMOTE_DISCONNECT;
        // The VC is over either way: a panic here is only logged.
        let _ = guarded(&self.vc, "disconnect", || {
            self.handler.disconnect(&self.vc, DisconnectFlags::RELEASE, status)
        });
        if peer_initiated {
            shared.connection.vc_lost(&self.vc);
        }
    }

    /// An abortive end: a client buffer being filled comes back with the
    /// failure, owed completions run, then the one disconnect indication.
    fn end(&mut self, flags: DisconnectFlags, status: Status) {
        // Ending already: a panic in these last callbacks is only logged.
        let mut sink = Sink::new(&self.vc, &*self.handler);
        self.machine.fail(status.clone(), &mut sink);
        self.control();
        self.deliver_due();
        let shared = &self.vc.0;
        let (first, lost) = {
            let mut inner = shared.lock();
            let first = !std::mem::replace(&mut inner.indicated_disconnect, true) && inner.state != VcState::TornDown;
            // A VC the client's own panic ended is not the network's loss:
            // a reconnect policy does not rebuild it (the rebuilt VC would
            // meet the same bug).
            let lost = !inner.disconnect_initiated && status != Status::UNHANDLED_EXCEPTION;
            (first, lost)
        };
        if first {
            shared.counters.last_event.store(event::DISCONNECT, Ordering::Relaxed);
            let _ = guarded(&self.vc, "disconnect", || {
                self.handler.disconnect(&self.vc, flags, status)
            });
            if lost {
                shared.connection.vc_lost(&self.vc);
            }
        }
    }

    /// When the peer counts as dead if no byte arrives before: the
    /// configured time after the last byte received, while the VC reads.
    /// While the engine does not read — the client holds bytes it has not
    /// accepted, or the budget has no room for a buffer — silence is not
    /// the peer's: the clock starts again when reading does.
    fn dead_peer_deadline(&mut self) -> Option<Instant> {
        let timeout = self.vc.0.address.transport.engine.config.dead_peer_timeout?;
        if !self.reading {
            return None;
        }
        if !self.machine.wants_bytes() || self.budget_retry.is_some() {
            self.received_at = Instant::now();
            return None;
        }
        let received = self.vc.0.counters.received.bytes.load(Ordering::Relaxed);
        if received != self.received_seen {
            self.received_seen = received;
            self.received_at = Instant::now();
        }
        Some(self.received_at + timeout)
    }

    /// The dead-peer time passed: fails the VC unless a byte came meanwhile.
    fn dead_peer_check(&mut self) {
        let received = self.vc.0.counters.received.bytes.load(Ordering::Relaxed);
        if received != self.received_seen {
            return;
        }
        let Some(timeout) = self.vc.0.address.transport.engine.config.dead_peer_timeout else {
            return;
        };
        let shared = &self.vc.0;
        let mut inner = shared.lock();
        shared.fail(
            &mut inner,
            Status::IO_TIMEOUT.with_message(format!("no byte from the peer for {timeout:?}: the peer is dead")),
        );
    }

    /// When to check next whether the session sat idle: every keepalive
    /// interval.
    fn keepalive_deadline(&mut self) -> Option<Instant> {
        let interval = self.vc.0.keepalive?;
        Some(*self.keepalive_tick.get_or_insert_with(|| Instant::now() + interval))
    }

    /// A keepalive check: when no TSDU was sent since the last one — and at
    /// least one ever was (Samba drops a session whose first frame is a
    /// keepalive) — a keepalive frame goes out.
    fn keepalive_check(&mut self) {
        self.keepalive_tick = None;
        let sent = self.vc.0.counters.transmitted_tsdus.load(Ordering::Relaxed);
        if sent > 0 && sent == self.tsdus_seen {
            self.vc.0.send_keepalive();
        }
        self.tsdus_seen = sent;
    }

    async fn wait(&mut self, deadline: Option<Instant>, keepalive: Option<Instant>, dead_peer: Option<Instant>) {
        let shared = self.vc.0.clone();
        let wants_read = self.reading && self.machine.wants_bytes() && self.budget_retry.is_none();
        let stream = self.stream.clone();
        // Only the futures of enabled branches are made: an idle wait on a
        // busy VC builds no timer and no writable future. The four times the
        // task may have to act at share one timer, set for the earliest: a
        // smaller task, and one timer entry per wait instead of up to four.
        let readable = wants_read.then(|| stream.readable());
        let writable = self.write_blocked.then(|| stream.writable());
        let earliest = [self.budget_retry, keepalive, dead_peer, deadline]
            .into_iter()
            .flatten()
            .min();
        tokio::select! {
            biased;
            _ = shared.wake_task.notified() => {}
            _ = when(readable) => {}
            _ = when(writable) => {}
            _ = when(earliest.map(tokio::time::sleep_until)) => {
                let now = Instant::now();
                if keepalive.is_some_and(|at| at <= now) {
                    self.keepalive_check();
                }
                if dead_peer.is_some_and(|at| at <= now) {
                    self.dead_peer_check();
                }
                if deadline.is_some_and(|at| at <= now) {
                    self.disconnect_deadline_passed();
                }
                // A passed budget retry needs nothing: the next read turn
                // tries again.
            }
        }
    }

    /// The graceful disconnect's deadline passed: a peer that has not ended
    /// its side by now is cut off.
    fn disconnect_deadline_passed(&mut self) {
        let shared = &self.vc.0;
        let mut inner = shared.lock();
        if inner.state == VcState::Disconnecting {
            let timeout = shared.address.transport.engine.config.disconnect_timeout;
            inner.disconnect_deadline = None;
            shared.fail(
                &mut inner,
                Status::IO_TIMEOUT.with_message(format!(
                    "the peer did not end its side within {timeout:?} of the disconnect"
                )),
            );
        }
    }
}
