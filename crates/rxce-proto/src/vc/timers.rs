//! The VC machine's timers, as deadlines: the graceful disconnect's
//! timeout, the framing's keepalive, the dead-peer timeout and the retry
//! after the budget had no room for a receive buffer. Time comes in as an
//! argument; nothing here reads a clock.

use std::time::{Duration, Instant};

use super::{VcMachine, VcState};
use crate::status::Status;

/// How long the VC waits before retrying when the budget had no room for a
/// receive buffer.
pub(super) const BUDGET_RETRY: Duration = Duration::from_millis(10);

/// The deadlines of one VC.
#[derive(Debug)]
pub(super) struct Timers {
    /// A graceful disconnect's end: a peer that has not ended its side by
    /// then is cut off.
    pub(super) disconnect: Option<Instant>,
    /// The next keepalive check of a session with keepalives.
    keepalive: Option<Instant>,
    /// TSDUs sent at the last keepalive check.
    tsdus_at_check: u64,
    /// When a byte was last read from the peer, or when the VC last did not
    /// read (the dead-peer clock stops then).
    heard: Instant,
    /// When to try again for a receive buffer.
    pub(super) budget_retry: Option<Instant>,
}

impl Timers {
    pub(super) fn new(now: Instant) -> Timers {
        Timers {
            disconnect: None,
            keepalive: None,
            tsdus_at_check: 0,
            heard: now,
            budget_retry: None,
        }
    }

    /// A byte came from the peer at `now`.
    pub(super) fn heard(&mut self, now: Instant) {
        self.heard = now;
    }
}

impl VcMachine {
    /// The dead-peer deadline: the configured time after the last byte
    /// read, while the VC reads. While it does not — the client holds bytes
    /// it has not accepted, or the budget has no room for a buffer — the
    /// silence is not the peer's, and the clock starts again when reading
    /// does.
    fn dead_peer_deadline(&mut self, now: Instant) -> Option<Instant> {
        let timeout = self.config.dead_peer_timeout?;
        if !self.receive.reads_on() {
            return None;
        }
        if !self.wants_bytes() {
            self.timers.heard = now;
            return None;
        }
        Some(self.timers.heard + timeout)
    }

    /// The earliest deadline at which [`VcMachine::handle_timeout`] has work,
    /// seen at `now` (which also stops the dead-peer clock while the VC does
    /// not read).
    pub fn poll_timeout(&mut self, now: Instant) -> Option<Instant> {
        if matches!(self.state, VcState::TornDown) || self.failure.is_some() {
            return None;
        }
        let keepalive = match self.config.keepalive {
            Some(interval) => Some(*self.timers.keepalive.get_or_insert(now + interval)),
            None => None,
        };
        [
            self.timers.budget_retry,
            keepalive,
            self.dead_peer_deadline(now),
            self.timers.disconnect,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Acts on the deadlines that passed by `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.timers.keepalive.is_some_and(|at| at <= now) {
            self.keepalive_check();
        }
        if let (Some(timeout), true) = (self.config.dead_peer_timeout, self.receive.reads_on()) {
            if self.wants_bytes() && self.timers.heard + timeout <= now {
                self.fail(
                    Status::IO_TIMEOUT.with_message(format!("no byte from the peer for {timeout:?}: the peer is dead")),
                );
            }
        }
        if self.timers.disconnect.is_some_and(|at| at <= now) {
            self.timers.disconnect = None;
            if self.state == VcState::Disconnecting {
                let timeout = self.config.disconnect_timeout;
                self.fail(Status::IO_TIMEOUT.with_message(format!(
                    "the peer did not end its side within {timeout:?} of the disconnect"
                )));
            }
        }
        // A passed budget retry needs nothing: the next read tries again.
        if self.timers.budget_retry.is_some_and(|at| at <= now) {
            self.timers.budget_retry = None;
        }
    }

    /// A keepalive check: when no TSDU was sent since the last one — and at
    /// least one ever was (Samba drops a session whose first frame is a
    /// keepalive) — a keepalive frame goes out.
    fn keepalive_check(&mut self) {
        self.timers.keepalive = None;
        let sent = self.sent.tsdus;
        if sent > 0 && sent == self.timers.tsdus_at_check {
            self.queue_keepalive();
        }
        self.timers.tsdus_at_check = sent;
    }
}
