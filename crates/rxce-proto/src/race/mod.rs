//! A multi-transport build's race as a sans-I/O machine
//! (RxCeBuildConnectionOverMultipleTransports).
//!
//! Connect attempts from several local addresses race to one server; a
//! [`SelectPolicy`] picks what is kept. A [`Race`] decides everything but
//! the I/O: when each attempt starts (the stagger between transports and
//! between the addresses a host name resolves to), when an attempt or the
//! whole build has run out of time, which attempts lose and must stop, and
//! what the build's result is — the winners, or the most telling failure
//! (decision 25). It opens no socket and reads no clock, in the shape of
//! quinn-proto:
//!
//! - **set up**: [`Race::new`], one [`Race::add_attempt`] per planned
//!   attempt and one [`Race::add_failed`] per attempt that could not even be
//!   planned (a host name that did not resolve), then [`Race::begin`];
//! - **what the driver must do**: [`Race::poll_action`] — make an attempt
//!   pending and start it later ([`Action::Wait`]), start one
//!   ([`Action::Start`]), stop one ([`Action::Cancel`]), and once, the end
//!   ([`Action::Finish`]);
//! - **what happened**: [`Race::handle_success`], [`Race::handle_failure`];
//! - **time**: [`Race::poll_timeout`] gives the next deadline,
//!   [`Race::handle_timeout`] acts on those that passed.
//!
//! The policies:
//!
//! - **first successful**: attempts start staggered (`transport_stagger`
//!   between bindings, `address_stagger` between the addresses of one host
//!   name); the first success wins and every other attempt is cancelled.
//! - **best successful**: attempts start together (addresses of one host
//!   name still `address_stagger` apart) and run until all end, or until
//!   `best_wait` after the first success; the winner has the highest quality
//!   of service, then the lowest binding, then connected first.
//! - **all successful**: every success is kept, in the order they connected.
//!
//! Every attempt also has its own deadline (`attempt_timeout` from its
//! start) and the build may have one (`deadline` from [`Race::new`]'s
//! origin): what they cut short reports STATUS_IO_TIMEOUT.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::status::Status;

#[cfg(test)]
mod tests;

/// Which successes a multi-transport build keeps
/// (`RXCE_CONNECTION_CREATE_OPTIONS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SelectPolicy {
    /// RxCeSelectFirstSuccessfulTransport.
    #[default]
    FirstSuccessful,
    /// RxCeSelectBestSuccessfulTransport: highest quality of service, then
    /// position in the address list.
    BestSuccessful,
    /// RxCeSelectAllSuccessfulTransports: every success is a VC.
    AllSuccessful,
}

/// How a race runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaceConfig {
    /// Which successes are kept.
    pub policy: SelectPolicy,
    /// Between the starts of successive bindings' attempts (first successful
    /// only).
    pub transport_stagger: Duration,
    /// Between the starts of attempts to the successive addresses one host
    /// name resolved to (every policy).
    pub address_stagger: Duration,
    /// How long one attempt may take from its start.
    pub attempt_timeout: Duration,
    /// How long the whole build may take from the race's origin (`None`: no
    /// limit beyond the attempts' own).
    pub deadline: Option<Duration>,
    /// Best successful: after the first success, how long to wait for the
    /// others before choosing.
    pub best_wait: Duration,
}

/// One attempt as the race sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptPlan {
    /// The position of its local address in the build's list: binding
    /// order.
    pub binding: usize,
    /// Its position among the addresses its remote host name resolved to
    /// (0 for an address given as such).
    pub resolved: usize,
    /// The quality of service of its transport (best successful).
    pub quality: u32,
}

/// What the driver must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// The attempt starts later: make it pending now (a cancel-connect-
    /// request must find it) and start it at its [`Action::Start`].
    Wait(usize),
    /// The attempt starts connecting now.
    Start(usize),
    /// The attempt is over for the race (another won, or time ran out):
    /// stop it, and close whatever it still connects.
    Cancel(usize),
    /// The race is decided: the attempts whose connections are kept (in the
    /// order they are to become VCs), or the build's status. Comes once,
    /// after the [`Action::Cancel`]s of every attempt still under way; the
    /// driver closes the successes that are not kept.
    Finish(Result<Vec<usize>, Status>),
}

/// Where an attempt is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Added, the race not begun.
    Planned,
    /// Pending, starting at this instant.
    Waiting(Instant),
    /// Connecting, until this deadline.
    Running(Instant),
    /// Connected.
    Succeeded,
    /// Failed, cancelled or cut short.
    Ended,
}

#[derive(Debug)]
struct Slot {
    plan: AttemptPlan,
    phase: Phase,
    status: Status,
    ended: Option<Instant>,
}

/// The race of one multi-transport build (see the module docs).
#[derive(Debug)]
pub struct Race {
    config: RaceConfig,
    origin: Instant,
    deadline: Option<Instant>,
    slots: Vec<Slot>,
    /// Successful attempts, in the order they connected.
    successes: Vec<usize>,
    /// Best successful: when the wait after the first success ends.
    best_until: Option<Instant>,
    /// The build's deadline passed.
    timed_out: bool,
    begun: bool,
    finished: bool,
    actions: VecDeque<Action>,
}

impl Race {
    /// A race with no attempt yet; `origin` is the build's start (elapsed
    /// times and the build's deadline count from it).
    pub fn new(config: RaceConfig, origin: Instant) -> Race {
        Race {
            deadline: config.deadline.map(|d| origin + d),
            config,
            origin,
            slots: Vec::new(),
            successes: Vec::new(),
            best_until: None,
            timed_out: false,
            begun: false,
            finished: false,
            actions: VecDeque::new(),
        }
    }

    /// Adds an attempt (before [`Race::begin`]) and gives its number:
    /// attempts are numbered from 0 in the order they are added.
    pub fn add_attempt(&mut self, plan: AttemptPlan) -> usize {
        debug_assert!(!self.begun, "attempts are added before the race begins");
        self.slots.push(Slot {
            plan,
            phase: Phase::Planned,
            status: Status::PENDING,
            ended: None,
        });
        self.slots.len() - 1
    }

    /// Adds an attempt that failed before it could start (its host name did
    /// not resolve): it counts for the build's status, and never runs.
    pub fn add_failed(&mut self, binding: usize, status: Status) -> usize {
        let n = self.add_attempt(AttemptPlan {
            binding,
            resolved: 0,
            quality: 0,
        });
        self.slots[n].phase = Phase::Ended;
        self.slots[n].status = status;
        self.slots[n].ended = Some(self.origin);
        n
    }

    /// Begins the race at `now`: the attempts due at once start, the others
    /// wait for their stagger.
    pub fn begin(&mut self, now: Instant) {
        if std::mem::replace(&mut self.begun, true) {
            return;
        }
        for n in 0..self.slots.len() {
            if self.slots[n].phase != Phase::Planned {
                continue;
            }
            let delay = self.stagger(&self.slots[n].plan);
            if delay.is_zero() {
                self.start(n, now);
            } else {
                self.slots[n].phase = Phase::Waiting(now + delay);
                self.actions.push_back(Action::Wait(n));
            }
        }
        self.handle_timeout(now);
    }

    /// How long after the race begins an attempt starts.
    fn stagger(&self, plan: &AttemptPlan) -> Duration {
        let by_address = self.config.address_stagger.saturating_mul(count(plan.resolved));
        if self.config.policy == SelectPolicy::FirstSuccessful {
            by_address.saturating_add(self.config.transport_stagger.saturating_mul(count(plan.binding)))
        } else {
            by_address
        }
    }

    fn start(&mut self, n: usize, now: Instant) {
        self.slots[n].phase = Phase::Running(now + self.config.attempt_timeout);
        self.actions.push_back(Action::Start(n));
    }

    /// Attempt `n` connected. Ignored once the attempt is over for the race
    /// (it was cancelled or cut short: the driver closes its connection).
    pub fn handle_success(&mut self, n: usize, now: Instant) {
        if !self.under_way(n) {
            return;
        }
        let slot = &mut self.slots[n];
        slot.phase = Phase::Succeeded;
        slot.status = Status::SUCCESS;
        slot.ended = Some(now);
        self.successes.push(n);
        match self.config.policy {
            SelectPolicy::FirstSuccessful => self.finish(now),
            SelectPolicy::BestSuccessful if self.best_until.is_none() => {
                self.best_until = Some(now + self.config.best_wait);
                self.finish_when_settled(now);
            }
            _ => self.finish_when_settled(now),
        }
    }

    /// Attempt `n` failed with `status` (a cancellation from outside the
    /// race, such as a cancel-connect-request, included). Ignored once the
    /// attempt is over for the race.
    pub fn handle_failure(&mut self, n: usize, status: Status, now: Instant) {
        if !self.under_way(n) {
            return;
        }
        let cancelled = status == Status::CANCELLED;
        self.end(n, status, now);
        if !cancelled {
            self.start_next_when_none_runs(now);
        }
        self.finish_when_settled(now);
    }

    /// First successful: when no started attempt is left running (they all
    /// failed), the next one waiting for its stagger starts now (RFC 8305's
    /// rule; decision 47). With a long stagger this gives Windows' order of
    /// SMB transports: the second (say `quic`) starts at once when the
    /// first (`tcp+smb`) fails, at its stagger when the first is still
    /// trying, never when it succeeded.
    fn start_next_when_none_runs(&mut self, now: Instant) {
        if self.finished || self.config.policy != SelectPolicy::FirstSuccessful {
            return;
        }
        if self.slots.iter().any(|s| matches!(s.phase, Phase::Running(_))) {
            return;
        }
        let next = (0..self.slots.len())
            .filter_map(|m| match self.slots[m].phase {
                Phase::Waiting(at) => Some((at, m)),
                _ => None,
            })
            .min();
        if let Some((_, m)) = next {
            self.start(m, now);
        }
    }

    fn under_way(&self, n: usize) -> bool {
        !self.finished && matches!(self.slots[n].phase, Phase::Waiting(_) | Phase::Running(_))
    }

    fn end(&mut self, n: usize, status: Status, now: Instant) {
        let slot = &mut self.slots[n];
        slot.phase = Phase::Ended;
        slot.status = status;
        slot.ended = Some(now);
    }

    /// Acts on every deadline that passed by `now`: the build's (everything
    /// under way is cut short), the best successful wait, staggered starts,
    /// and attempts' own deadlines.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.finished || !self.begun {
            return;
        }
        if self.deadline.is_some_and(|d| now >= d) {
            self.timed_out = true;
            for n in 0..self.slots.len() {
                if self.under_way(n) {
                    self.end(
                        n,
                        Status::IO_TIMEOUT.with_message("the build's deadline cut it short"),
                        now,
                    );
                    self.actions.push_back(Action::Cancel(n));
                }
            }
            return self.finish(now);
        }
        if self.best_until.is_some_and(|b| now >= b) {
            return self.finish(now);
        }
        for n in 0..self.slots.len() {
            match self.slots[n].phase {
                Phase::Waiting(at) if now >= at => self.start(n, now),
                Phase::Running(deadline) if now >= deadline => {
                    let timeout = self.config.attempt_timeout.as_millis();
                    self.end(
                        n,
                        Status::IO_TIMEOUT.with_message(format!("no connection within the attempt's {timeout} ms")),
                        now,
                    );
                    self.actions.push_back(Action::Cancel(n));
                }
                _ => {}
            }
        }
        self.finish_when_settled(now);
    }

    /// Finishes once no attempt is under way.
    fn finish_when_settled(&mut self, now: Instant) {
        if !self.finished && !(0..self.slots.len()).any(|n| self.under_way(n)) {
            self.finish(now);
        }
    }

    /// Decides: the attempts still under way are cancelled, the policy picks
    /// the winners among the successes, or the most telling status is the
    /// build's.
    fn finish(&mut self, now: Instant) {
        for n in 0..self.slots.len() {
            if self.under_way(n) {
                static LOST: std::sync::OnceLock<Status> = std::sync::OnceLock::new();
                let lost = Status::shared(&LOST, || Status::CANCELLED.with_message("another transport won"));
                self.end(n, lost, now);
                self.actions.push_back(Action::Cancel(n));
            }
        }
        self.finished = true;
        let mut winners = std::mem::take(&mut self.successes);
        if self.config.policy == SelectPolicy::BestSuccessful {
            if let Some(best) = self.best(&winners) {
                for &n in winners.iter().filter(|&&n| n != best) {
                    self.slots[n].status = Status::CANCELLED.with_message("a better transport won; closed");
                }
                winners = vec![best];
            }
        }
        let outcome = if winners.is_empty() {
            Err(self.failure())
        } else {
            Ok(winners)
        };
        self.actions.push_back(Action::Finish(outcome));
    }

    /// The best of `successes`: highest quality, then lowest binding, then
    /// the first to connect.
    fn best(&self, successes: &[usize]) -> Option<usize> {
        let plan = |n: usize| &self.slots[n].plan;
        successes.iter().copied().reduce(|best, n| {
            let (a, b) = (plan(best), plan(n));
            if (b.quality, std::cmp::Reverse(b.binding)) > (a.quality, std::cmp::Reverse(a.binding)) {
                n
            } else {
                best
            }
        })
    }

    /// The build's status when nothing is kept (decision 25).
    fn failure(&self) -> Status {
        let mut by_binding: Vec<&Slot> = self.slots.iter().collect();
        by_binding.sort_by_key(|slot| slot.plan.binding);
        let Some(status) = most_telling(by_binding.iter().map(|slot| &slot.status)) else {
            return Status::INVALID_HANDLE.with_message("no attempt could start");
        };
        if self.timed_out && rank(status) <= rank(&Status::IO_TIMEOUT) {
            return Status::IO_TIMEOUT.with_message("the build's deadline passed before any transport connected");
        }
        status.clone()
    }

    /// What the driver must do next, in order.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// The next instant [`Race::handle_timeout`] has something to do;
    /// `None` once the race is decided.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.finished || !self.begun {
            return None;
        }
        let attempts = self.slots.iter().filter_map(|slot| match slot.phase {
            Phase::Waiting(at) | Phase::Running(at) => Some(at),
            _ => None,
        });
        attempts.chain(self.deadline).chain(self.best_until).min()
    }

    /// True once [`Action::Finish`] was given.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// How many attempts there are.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// True without any attempt.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// How attempt `n` ended: SUCCESS, its failure, STATUS_CANCELLED when
    /// another won (or a better one, for a success not kept),
    /// STATUS_IO_TIMEOUT when a deadline cut it short; STATUS_PENDING while
    /// it is under way.
    pub fn status(&self, n: usize) -> &Status {
        &self.slots[n].status
    }

    /// From the race's origin to the end of attempt `n` (zero while it is
    /// under way).
    pub fn elapsed(&self, n: usize) -> Duration {
        self.slots[n]
            .ended
            .map_or(Duration::ZERO, |at| at.saturating_duration_since(self.origin))
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The most telling of `statuses`, of equally telling ones the first
/// (decision 25): the server's own answer (any status not named here),
/// then CONNECTION_RESET or CONNECTION_DISCONNECTED, CONNECTION_REFUSED,
/// HOST_UNREACHABLE or NETWORK_UNREACHABLE, IO_TIMEOUT, BAD_NETWORK_PATH,
/// and CANCELLED last.
pub fn most_telling<'a>(statuses: impl DoubleEndedIterator<Item = &'a Status>) -> Option<&'a Status> {
    // `max_by_key` keeps the last of equal keys: reversed, that is the first.
    statuses.rev().max_by_key(|s| rank(s))
}

/// How telling a failure is, for the status of a build nothing came of:
/// the server's own answer beats a refusal, which beats unreachability, a
/// timeout, a name that did not resolve, and finally a cancellation.
fn rank(status: &Status) -> u8 {
    let code = status.code();
    if code == Status::CANCELLED.code() {
        0
    } else if code == Status::BAD_NETWORK_PATH.code() {
        1
    } else if code == Status::IO_TIMEOUT.code() {
        2
    } else if code == Status::HOST_UNREACHABLE.code() || code == Status::NETWORK_UNREACHABLE.code() {
        3
    } else if code == Status::CONNECTION_REFUSED.code() {
        4
    } else if code == Status::CONNECTION_RESET.code() || code == Status::CONNECTION_DISCONNECTED.code() {
        5
    } else {
        6
    }
}
