//! The VC's task: moves bytes and time between the socket and the VC's
//! machine, and delivers the callbacks the machine owes the client, one at
//! a time and never under the VC's lock. Every decision is the machine's.

use std::sync::Arc;

use rxce_proto::vc::VcEvent;

use super::io::{Flush, Read, VcCore};
use super::{now, Vc};
use crate::handler::{ConnectionEventHandler, ReceiveAnswer};
use crate::provider::Stream;
use crate::status::Status;

/// Reads in a row before the task lets others run.
const READS_PER_TURN: usize = 64;

/// What the task does next.
enum Step {
    /// Deliver a callback.
    Deliver(VcEvent),
    /// Bytes moved: go on (yielding now and then).
    Moved,
    /// Wait for the socket, a wake-up or a deadline.
    Wait {
        readable: bool,
        writable: bool,
        deadline: Option<std::time::Instant>,
    },
    /// The VC has nothing left to do.
    Finished,
}

pub(super) async fn run(vc: Vc, stream: Arc<dyn Stream>) {
    let handler = vc.0.connection.handler.clone();
    let mut reads = 0;
    loop {
        let step = step(&mut vc.0.lock());
        match step {
            Step::Deliver(event) => deliver(&vc, &*handler, event),
            Step::Moved => {
                reads += 1;
                if reads == READS_PER_TURN {
                    reads = 0;
                    tokio::task::yield_now().await;
                }
            }
            Step::Wait {
                readable,
                writable,
                deadline,
            } => {
                reads = 0;
                // Only the futures of enabled branches are made: an idle
                // wait builds no timer and no writable future.
                tokio::select! {
                    biased;
                    _ = vc.0.wake_task.notified() => {}
                    _ = when(readable.then(|| stream.readable())) => {}
                    _ = when(writable.then(|| stream.writable())) => {}
                    _ = when(deadline.map(|at| tokio::time::sleep_until(at.into()))) => {
                        vc.0.lock().machine.handle_timeout(now());
                    }
                }
            }
            Step::Finished => return,
        }
    }
}

/// One step under the VC's lock: an owed callback first, then writes the
/// task owes, then one read.
fn step(core: &mut VcCore) -> Step {
    if let Some(event) = core.machine.poll_event() {
        return Step::Deliver(event);
    }
    if core.machine.is_finished() {
        return Step::Finished;
    }
    if core.machine.task_must_write() {
        core.write_blocked = core.transmit(None) == Flush::Blocked;
    }
    let now = now();
    if core.read_once(now) == Read::Progress {
        return match core.machine.poll_event() {
            Some(event) => Step::Deliver(event),
            None => Step::Moved,
        };
    }
    Step::Wait {
        readable: core.machine.wants_bytes(),
        writable: core.write_blocked && core.machine.task_must_write(),
        deadline: core.machine.poll_timeout(now),
    }
}

/// Waits for `future`, or forever without one (a disabled select branch).
async fn when<F: std::future::Future>(future: Option<F>) -> F::Output {
    match future {
        Some(future) => future.await,
        None => std::future::pending().await,
    }
}

/// Calls the handler for one event. A panic in a callback aborts the VC
/// with STATUS_UNHANDLED_EXCEPTION (decision 28): the machine ignores it
/// once the VC is already over.
fn deliver(vc: &Vc, handler: &dyn ConnectionEventHandler, event: VcEvent) {
    let guarded = |callback: &'static str, f: &mut dyn FnMut()| -> Result<(), Status> {
        crate::registry::guarded_callback(vc.0.id, callback, &vc.0.engine().callbacks, f)
    };
    let outcome = match event {
        VcEvent::Indicate(lent) => {
            let mut answer = None;
            let called = guarded("receive", &mut || {
                answer = Some(handler.receive(vc, &lent.indication()))
            });
            // A panicking receive consumed nothing: the bytes go back and
            // the VC fails before they could be indicated again.
            vc.0.lock()
                .machine
                .answer(lent, answer.unwrap_or(ReceiveAnswer::NotAccepted));
            called
        }
        VcEvent::DataReady { buffer, copied, status } => {
            let mut buffer = Some(buffer);
            guarded("data ready", &mut || {
                if let Some(buffer) = buffer.take() {
                    handler.data_ready(vc, buffer, copied, status.clone());
                }
            })
        }
        VcEvent::Error(status) => {
            tracing::warn!(vc = vc.0.id, %status, "receive error");
            guarded("error", &mut || handler.error(vc, status.clone()))
        }
        VcEvent::SendSubmitted(context) => guarded("send submitted", &mut || {
            handler.send_submitted(vc, context, Status::PENDING)
        }),
        VcEvent::SendComplete { context, status, bytes } => guarded("send complete", &mut || {
            handler.send_complete(vc, context, status.clone(), bytes)
        }),
        VcEvent::SendPossible(room) => guarded("send possible", &mut || handler.send_possible(vc, room)),
        VcEvent::Disconnect { flags, status, lost } => {
            tracing::debug!(vc = vc.0.id, %status, "VC disconnected");
            // The VC is over either way: a panic here is only logged.
            let _ = guarded("disconnect", &mut || handler.disconnect(vc, flags, status.clone()));
            if lost {
                vc.0.connection.vc_lost(vc);
            }
            Ok(())
        }
    };
    if let Err(status) = outcome {
        vc.0.lock().machine.fail(status);
    }
}
