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
    /// When a byte was last known to have come from the peer, or when the
    /// VC last did not read (the dead-peer clock stops then).
    last_heard: Instant,
    /// Bytes came since `last_heard` was last brought up to date (reads
    /// take no clock; the next [`VcMachine::poll_timeout`] does).
    pub(super) heard: bool,
    /// The budget had no room for a receive buffer: the VC reads nothing
    /// until the retry.
    pub(super) budget_wait: bool,
    /// When to try again for a receive buffer (set at the first
    /// [`VcMachine::poll_timeout`] after the budget said no).
    budget_retry: Option<Instant>,
}

impl Timers {
    pub(super) fn new(now: Instant) -> Timers {
        Timers {
            disconnect: None,
            keepalive: None,
            tsdus_at_check: 0,
            last_heard: now,
            heard: false,
            budget_wait: false,
            budget_retry: None,
        }
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
        if std::mem::take(&mut self.timers.heard) || !self.wants_bytes() {
            self.timers.last_heard = now;
        }
        if !self.wants_bytes() {
            return None;
        }
        Some(self.timers.last_heard + timeout)
    }

    /// True when a timer may be armed: without one, [`VcMachine::poll_timeout`]
    /// has nothing to say and the driver need not read its clock.
    #[inline]
    pub fn has_timers(&self) -> bool {
        self.config.keepalive.is_some()
            || self.config.dead_peer_timeout.is_some()
            || self.timers.disconnect.is_some()
            || self.timers.budget_wait
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
        let budget_retry = match self.timers.budget_wait {
            true => Some(*self.timers.budget_retry.get_or_insert(now + BUDGET_RETRY)),
            false => None,
        };
        [
            budget_retry,
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
            let silent = !self.timers.heard && self.timers.last_heard + timeout <= now;
            if self.wants_bytes() && silent {
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
        // After the budget retry the next read tries again.
        if self.timers.budget_retry.is_some_and(|at| at <= now) {
            self.timers.budget_retry = None;
            self.timers.budget_wait = false;
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
