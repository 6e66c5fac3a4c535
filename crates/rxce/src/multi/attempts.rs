//! The race's driver: the attempts' futures and the clock, moved in and out
//! of the sans-I/O [`Race`].
//!
//! The attempts run inside the build's own future, polled together (no task
//! per attempt); [`AddressShared::attempt`] moves each onto the engine's
//! runtime when the build runs elsewhere. Each has a cancel of
//! its own, so that the race stops exactly the ones it names.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rxce_proto::race::{Action, AttemptPlan, Race};
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::address::AddressShared;
use crate::cancel::Cancel;
use crate::engine::EngineShared;
use crate::provider::Connected;
use crate::status::Status;
use crate::tdi::ConnectionInformation;

use super::AttemptReport;

type Connecting = Pin<Box<dyn Future<Output = Result<Connected, Status>> + Send>>;

/// One planned attempt and, from the race's Wait or Start on, its future.
pub(super) struct Attempt {
    /// The position of its address in the build's list.
    pub(super) index: usize,
    /// Its position among the addresses the remote host name resolved to.
    pub(super) resolved: usize,
    pub(super) address: Arc<AddressShared>,
    /// The remote side as the client named it.
    named: Arc<ConnectionInformation>,
    /// The remote side tried (a resolved address for a host name).
    pub(super) target: Arc<ConnectionInformation>,
    connecting: Option<Connecting>,
    cancel: Option<Cancel>,
    /// Starts a waiting attempt.
    go: Option<oneshot::Sender<()>>,
    /// What it connected, until the race says whether it is kept.
    pub(super) connected: Option<Connected>,
}

impl Attempt {
    pub(super) fn new(
        index: usize,
        resolved: usize,
        address: Arc<AddressShared>,
        named: Arc<ConnectionInformation>,
        target: Arc<ConnectionInformation>,
    ) -> Attempt {
        Attempt {
            index,
            resolved,
            address,
            named,
            target,
            connecting: None,
            cancel: None,
            go: None,
            connected: None,
        }
    }

    /// The attempt as the race sees it.
    pub(super) fn plan(&self) -> AttemptPlan {
        AttemptPlan {
            binding: self.index,
            resolved: self.resolved,
            quality: self.address.transport.quality_of_service,
        }
    }

    /// What attempt `n` of `race` did.
    pub(super) fn report(&self, race: &Race, n: usize) -> AttemptReport {
        AttemptReport {
            address_index: self.index,
            transport: self.address.transport.name.clone(),
            remote: self.target.remote_address.clone(),
            status: race.status(n).clone(),
            elapsed: race.elapsed(n),
            chosen: false,
        }
    }

    /// Makes the attempt pending on its address (a cancel-connect-request
    /// finds it from now on); it connects at once, or when `go` fires.
    fn launch(&mut self, timeout: Duration, go: Option<oneshot::Receiver<()>>) {
        let cancel = Cancel::default();
        let token = cancel.clone();
        let (address, named, target) = (self.address.clone(), self.named.clone(), self.target.clone());
        self.connecting = Some(Box::pin(async move {
            if address.connections.is_closed() {
                return Err(Status::INVALID_HANDLE.with_message("the local address is torn down"));
            }
            address.attempt(target, &named, None, token, timeout, go).await
        }));
        self.cancel = Some(cancel);
    }

    fn wait(&mut self, timeout: Duration) {
        let (go, went) = oneshot::channel();
        self.go = Some(go);
        self.launch(timeout, Some(went));
    }

    fn start(&mut self, timeout: Duration) {
        match self.go.take() {
            Some(go) => {
                let _ = go.send(());
            }
            None => self.launch(timeout, None),
        }
    }

    fn cancel(&mut self) {
        self.go = None;
        if let Some(cancel) = &self.cancel {
            cancel.cancel();
        }
    }
}

/// The next attempt to end, of those still connecting; `None` when none is.
fn poll_ended(attempts: &mut [Attempt], cx: &mut Context<'_>) -> Poll<Option<(usize, Result<Connected, Status>)>> {
    let mut connecting = false;
    for (n, attempt) in attempts.iter_mut().enumerate() {
        let Some(future) = attempt.connecting.as_mut() else {
            continue;
        };
        if let Poll::Ready(outcome) = future.as_mut().poll(cx) {
            attempt.connecting = None;
            attempt.cancel = None;
            return Poll::Ready(Some((n, outcome)));
        }
        connecting = true;
    }
    if connecting {
        Poll::Pending
    } else {
        Poll::Ready(None)
    }
}

fn now() -> std::time::Instant {
    Instant::now().into_std()
}

/// Runs the race to its decision, then waits for every attempt it stopped
/// (no loser outlives the build). What an attempt connected stays in its
/// `connected` for the caller to keep or close.
pub(super) async fn run(
    race: &mut Race,
    attempts: &mut [Attempt],
    engine: &EngineShared,
    timeout: Duration,
) -> Result<Vec<usize>, Status> {
    // The timer belongs to the engine's runtime, wherever the build runs.
    let timer = {
        let _runtime = engine.runtime.enter();
        tokio::time::sleep_until(Instant::now())
    };
    tokio::pin!(timer);
    let decided = loop {
        let mut decided = None;
        while let Some(action) = race.poll_action() {
            match action {
                Action::Wait(n) => attempts[n].wait(timeout),
                Action::Start(n) => attempts[n].start(timeout),
                Action::Cancel(n) => attempts[n].cancel(),
                Action::Finish(outcome) => decided = Some(outcome),
            }
        }
        if let Some(outcome) = decided {
            break outcome;
        }
        // An undecided race always has a deadline ahead (every attempt
        // under way has one).
        let wake = race
            .poll_timeout()
            .map_or_else(|| Instant::now() + timeout, Instant::from_std);
        if timer.deadline() != wake {
            timer.as_mut().reset(wake);
        }
        tokio::select! {
            biased;
            Some((n, outcome)) = poll_fn(|cx| poll_ended(attempts, cx)) => match outcome {
                Ok(connected) => {
                    attempts[n].connected = Some(connected);
                    race.handle_success(n, now());
                }
                Err(status) => race.handle_failure(n, status, now()),
            },
            () = &mut timer => race.handle_timeout(now()),
        }
    };
    while let Some((n, outcome)) = poll_fn(|cx| poll_ended(attempts, cx)).await {
        if let Ok(connected) = outcome {
            attempts[n].connected = Some(connected);
        }
    }
    decided
}

/// The winners' connections, in order, with their attempt numbers and
/// addresses; every other connection an attempt made is closed (a loser that
/// connected as the race ended, a success below the best).
pub(super) fn keep(attempts: &mut [Attempt], winners: Vec<usize>) -> Vec<(usize, Arc<AddressShared>, Connected)> {
    let kept = winners
        .into_iter()
        .filter_map(|n| Some((n, attempts[n].address.clone(), attempts[n].connected.take()?)))
        .collect();
    for attempt in attempts {
        if let Some(connected) = attempt.connected.take() {
            connected.stream.close(false);
        }
    }
    kept
}
