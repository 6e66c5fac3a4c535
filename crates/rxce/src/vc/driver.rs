//! The VC's task: moves bytes and time between the socket and the VC's
//! machine, and delivers the callbacks the machine owes the client, one at
//! a time and never under the VC's lock. Every decision is the machine's.

use std::sync::Arc;

use rxce_proto::vc::{Lent, VcEvent};

use super::io::{Flush, Read, VcCore};
use super::{now, Vc};
use crate::handler::{ConnectionEventHandler, ReceiveAnswer};
use crate::provider::Stream;
use crate::status::Status;

/// Reads in a row before the task lets others run.
const READS_PER_TURN: usize = 64;

/// What the task does next.
pub(super) enum Step {
    /// Deliver a callback.
    Deliver(VcEvent),
    /// Bytes moved: go on (yielding now and then).
    Moved,
    /// Wait for the socket, a wake-up or a deadline.
    Wait(Wait),
    /// The VC has nothing left to do.
    Finished,
}

/// What the task waits for.
pub(super) struct Wait {
    readable: bool,
    pub(super) writable: bool,
    deadline: Option<std::time::Instant>,
}

/// What a callback leaves for the machine, given at the next step under
/// the same lock.
#[derive(Default)]
struct After {
    /// The receive handler's answer, with the lent bytes.
    answer: Option<(Lent, ReceiveAnswer)>,
    /// A callback panicked: the VC fails.
    fail: Option<Status>,
}

/// What [`work`] leaves the task to do.
enum Next {
    /// Wait for the socket, a wake-up or a deadline.
    Wait(Wait),
    /// Many reads in a row: let the runtime's other tasks run.
    Yield,
    /// The VC has nothing left to do.
    Finished,
}

pub(super) async fn run(vc: Vc, stream: Arc<dyn Stream>) {
    let handler = vc.0.connection.handler.clone();
    // The VC's one timer, made at its first deadline and moved from then on:
    // a VC without deadlines (an idle one) holds no timer entry.
    let mut timer: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = None;
    loop {
        let wait = match work(&vc, &*handler) {
            Next::Wait(wait) => wait,
            Next::Yield => {
                tokio::task::yield_now().await;
                continue;
            }
            Next::Finished => break,
        };
        // Only the futures of enabled branches are made: an idle wait
        // builds no writable future and arms no timer.
        // Read readiness is polled straight from the stream where it can;
        // else through its boxed future, made at the first poll.
        let mut boxed_readable = None;
        let readable = std::future::poll_fn(|cx| {
            if !wait.readable {
                return std::task::Poll::Pending;
            }
            if let Some(future) = boxed_readable.as_mut() {
                return std::future::Future::poll(std::pin::Pin::as_mut(future), cx);
            }
            match stream.poll_readable(cx) {
                Some(polled) => polled,
                None => {
                    let mut future = stream.readable();
                    let polled = future.as_mut().poll(cx);
                    boxed_readable = Some(future);
                    polled
                }
            }
        });
        let mut writable = wait.writable.then(|| stream.writable());
        let timed = match wait.deadline {
            Some(at) => {
                let at = tokio::time::Instant::from_std(at);
                match &mut timer {
                    Some(timer) => timer.as_mut().reset(at),
                    None => timer = Some(Box::pin(tokio::time::sleep_until(at))),
                }
                true
            }
            None => false,
        };
        tokio::select! {
            biased;
            _ = vc.0.cell.wake_task.notified() => {}
            _ = readable => {}
            _ = when(&mut writable) => {}
            _ = when(&mut timer), if timed => {
                vc.0.lock().machine.handle_timeout(now());
            }
        }
    }
}

/// Steps until the VC must wait (what for), must let others run, or has
/// nothing left to do. Not async: the task's future holds none of its
/// state while it waits.
fn work(vc: &Vc, handler: &dyn ConnectionEventHandler) -> Next {
    let mut reads = 0;
    let mut after = After::default();
    loop {
        let step = {
            let mut core = vc.0.lock();
            if let Some((lent, answer)) = after.answer.take() {
                core.machine.answer(lent, answer);
            }
            if let Some(status) = after.fail.take() {
                core.machine.fail(status);
            }
            step(&mut core)
        };
        match step {
            Step::Deliver(event) => deliver(vc, handler, event, &mut after),
            Step::Moved => {
                reads += 1;
                if reads == READS_PER_TURN {
                    return Next::Yield;
                }
            }
            Step::Wait(wait) => return Next::Wait(wait),
            Step::Finished => return Next::Finished,
        }
    }
}

/// One step under the VC's lock: an owed callback first, then writes the
/// task owes, then one read.
pub(super) fn step(core: &mut VcCore) -> Step {
    if let Some(event) = core.machine.poll_event() {
        return Step::Deliver(event);
    }
    if core.machine.is_finished() {
        return Step::Finished;
    }
    if core.machine.task_must_write() {
        core.write_blocked = core.transmit(None) == Flush::Blocked;
    }
    if core.read_once() == Read::Progress {
        return match core.machine.poll_event() {
            Some(event) => Step::Deliver(event),
            None => Step::Moved,
        };
    }
    Step::Wait(Wait {
        readable: core.machine.wants_bytes(),
        writable: core.write_blocked && core.machine.task_must_write(),
        deadline: match core.machine.has_timers() {
            true => core.machine.poll_timeout(now()),
            false => None,
        },
    })
}

/// Runs the handler's `callback` for `vc`, stopping a panic in it (see
/// [`crate::registry::guarded_callback`]).
fn guarded<R>(vc: &Vc, callback: &'static str, f: impl FnOnce() -> R) -> Result<R, Status> {
    crate::registry::guarded_callback(vc.0.id, callback, &vc.0.engine().callbacks, f)
}

/// Waits for `future`, or forever without one (a disabled select branch).
/// Polls it in place, so the task's future holds it once.
fn when<F: std::future::Future + Unpin>(future: &mut Option<F>) -> impl std::future::Future<Output = F::Output> + '_ {
    std::future::poll_fn(move |cx| match future {
        Some(future) => std::pin::Pin::new(future).poll(cx),
        None => std::task::Poll::Pending,
    })
}

/// Calls the handler for one event; what it leaves for the machine goes to
/// `after`. A panic in a callback aborts the VC with
/// STATUS_UNHANDLED_EXCEPTION (decision 28): the machine ignores it once
/// the VC is already over.
fn deliver(vc: &Vc, handler: &dyn ConnectionEventHandler, event: VcEvent, after: &mut After) {
    let outcome = match event {
        VcEvent::Indicate(lent) => {
            // A panicking receive consumed nothing: the bytes go back and
            // the VC fails before they could be indicated again.
            let (answer, called) = match guarded(vc, "receive", || handler.receive(vc, &lent.indication())) {
                Ok(answer) => (answer, Ok(())),
                Err(status) => (ReceiveAnswer::NotAccepted, Err(status)),
            };
            after.answer = Some((lent, answer));
            called
        }
        VcEvent::DataReady { buffer, copied, status } => {
            guarded(vc, "data ready", || handler.data_ready(vc, buffer, copied, status))
        }
        VcEvent::Error(status) => {
            tracing::warn!(vc = vc.0.id, %status, "receive error");
            guarded(vc, "error", || handler.error(vc, status))
        }
        VcEvent::SendSubmitted(context) => guarded(vc, "send submitted", || {
            handler.send_submitted(vc, context, Status::PENDING)
        }),
        VcEvent::SendComplete { context, status, bytes } => guarded(vc, "send complete", || {
            handler.send_complete(vc, context, status, bytes)
        }),
        VcEvent::SendPossible(room) => guarded(vc, "send possible", || handler.send_possible(vc, room)),
        VcEvent::Disconnect { flags, status, lost } => {
            tracing::debug!(vc = vc.0.id, %status, "VC disconnected");
            // The VC is over either way: a panic here is only logged.
            let _ = guarded(vc, "disconnect", || handler.disconnect(vc, flags, status));
            if lost {
                vc.0.connection.vc_lost(vc);
            }
            Ok(())
        }
    };
    if let Err(status) = outcome {
        after.fail = Some(status);
    }
}
