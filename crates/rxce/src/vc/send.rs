//! The send paths of a VC's handle: a send is admitted and queued by the
//! VC's machine, then written by whoever is at hand — the synchronous
//! sender itself while it waits, or the VC's task for sends nobody waits
//! for. A send that does not fit waits for room (decision 23).

use std::sync::Arc;

use rxce_proto::vc::{Admit, Completion};

use super::io::{Flush, VcCell};
use crate::buffer::SendBuffers;
use crate::provider::Stream;
use crate::status::Status;
use crate::tdi::SendOptions;
use rxce_proto::vc::VcState;

/// A send let into the queue.
struct Queued {
    id: u64,
    len: usize,
    /// A waited-for send's outcome when the sender's own write pass, in the
    /// same lock, finished it.
    outcome: Option<Result<usize, Status>>,
}

impl VcCell {
    /// Queues a send, waiting for room when the queue is full and the send
    /// may block, and writes what the socket takes at once.
    async fn enqueue(
        &self,
        mut data: SendBuffers,
        options: SendOptions,
        completion: Completion,
    ) -> Result<Queued, Status> {
        let mut waited = false;
        loop {
            // The waiters' notification is registered only once the send
            // must wait (then the state is looked at once more): the common
            // send that fits at once takes no place in the waiter list.
            let notified = self.waiters.notified();
            tokio::pin!(notified);
            let mut registered = false;
            let stream = loop {
                let mut core = self.lock();
                let admitted = core.machine.admit(&mut data, options).map_err(|status| {
                    if waited && core.machine.state() == VcState::TornDown {
                        Status::CANCELLED.with_message("the VC was torn down while the send waited for room")
                    } else {
                        status
                    }
                })?;
                match admitted {
                    Admit::Now => {
                        let len = data.len();
                        let id = core.machine.push(data, options, completion);
                        let waited = completion == Completion::Waiter;
                        core.transmit(waited.then_some(id));
                        let outcome = if waited { core.machine.outcome(id, len) } else { None };
                        return Ok(Queued { id, len, outcome });
                    }
                    Admit::WaitForRoom if registered => break core.stream(),
                    Admit::WaitForRoom => {
                        // Make room ourselves rather than wait for others.
                        if core.transmit(None) != Flush::Blocked {
                            continue;
                        }
                        drop(core);
                        notified.as_mut().enable();
                        registered = true;
                    }
                }
            };
            waited = true;
            wait_for_room(stream, notified.as_mut()).await;
        }
    }

    pub(crate) async fn send(&self, data: SendBuffers, options: SendOptions) -> Result<usize, Status> {
        let Queued { id, len, outcome } = self.enqueue(data, options, Completion::Waiter).await?;
        if let Some(outcome) = outcome {
            return outcome;
        }
        let mut waiter = Waiter {
            vc: self,
            id,
            done: false,
        };
        loop {
            let stream = {
                let mut core = self.lock();
                if let Some(outcome) = core.machine.outcome(id, len) {
                    waiter.done = true;
                    return outcome;
                }
                core.transmit(Some(id));
                if let Some(outcome) = core.machine.outcome(id, len) {
                    waiter.done = true;
                    return outcome;
                }
                core.stream()
            };
            // About to wait: register for wake-ups, then look once more at
            // what others did meanwhile (only the outcome: the socket's
            // readiness is what `wait_for_room` waits for).
            let notified = self.waiters.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(outcome) = self.lock().machine.outcome(id, len) {
                waiter.done = true;
                return outcome;
            }
            wait_for_room(stream, notified.as_mut()).await;
        }
    }

    pub(crate) async fn submit(&self, data: SendBuffers, options: SendOptions, context: usize) -> Status {
        match self.enqueue(data, options, Completion::Callback(context)).await {
            Ok(_) => Status::PENDING,
            Err(status) => status,
        }
    }
}

/// Waits until the socket may take bytes again, or the VC's state changed
/// (`notified`, enabled before the state was last looked at).
async fn wait_for_room(stream: Option<Arc<dyn Stream>>, notified: std::pin::Pin<&mut crate::sync::Notified<'_>>) {
    match stream {
        Some(stream) => {
            // In a fixed order: which comes first does not matter to a
            // one-off wait, and a random one would make the model checker's
            // runs differ (RELIABILITY.md, "Model checking").
            tokio::select! {
                biased;
                _ = notified => {}
                _ = stream.writable() => {}
            }
        }
        None => notified.await,
    }
}

/// A synchronous sender's claim on its queued send. If the sender goes away
/// (its future is dropped), the send stays queued and the VC's task writes
/// it: bytes already promised to the stream are never cut short.
struct Waiter<'a> {
    vc: &'a VcCell,
    id: u64,
    done: bool,
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.vc.lock().machine.detach(self.id);
        }
    }
}
