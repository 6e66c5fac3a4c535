//! The send path of a VC: admission against the queue's bound, queuing
//! (with the frame header of a framed transport), writing — by whoever waits,
//! or by the VC's task for sends nobody waits for — and the failure of
//! everything queued when the VC fails or is torn down.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use smallvec::SmallVec;

use super::send_queue::{Completion, MAX_SLICES};
use super::{Due, Flush, VcInner, VcShared, VcState};
use crate::buffer::SendBuffers;
use crate::provider::{Framing, Stream};
use crate::status::Status;
use crate::tdi::SendOptions;

/// How a send is let into the queue.
enum Admit {
    Now,
    WaitForRoom,
}

impl VcShared {
    fn refuse_if_not_sending(&self, inner: &VcInner) -> Result<(), Status> {
        match inner.state {
            VcState::Active | VcState::PeerReleased => Ok(()),
            VcState::TornDown => Err(Status::INVALID_HANDLE.with_message("the VC was torn down")),
            VcState::Disconnecting => Err(Status::CONNECTION_DISCONNECTED
                .with_message("a disconnect was initiated on the VC; it takes no more sends")),
            VcState::Disconnected => Err(match &inner.failure {
                Some(why) => Status::CONNECTION_DISCONNECTED.with_message(format!("the VC failed: {why}")),
                None => Status::CONNECTION_DISCONNECTED.with_message("the VC is disconnected"),
            }),
        }
    }

    /// Checks a send and decides whether it may be queued now. A
    /// non-blocking partial send is cut to the room left.
    fn admit(&self, inner: &mut VcInner, data: &mut SendBuffers, options: SendOptions) -> Result<Admit, Status> {
        self.refuse_if_not_sending(inner)?;
        let unknown = options.bits() & !SendOptions::all().bits();
        if unknown != 0 {
            return Err(Status::INVALID_PARAMETER.with_message(format!("unknown send options {unknown:#x}")));
        }
        let framed = self.framing != Framing::Stream;
        if data.is_empty() && !framed {
            return Err(Status::INVALID_PARAMETER.with_message("a send on a stream VC needs at least one byte"));
        }
        if data.len() > self.max_send {
            return Err(Status::INVALID_PARAMETER.with_message(format!(
                "a {}-byte send is longer than the transport's largest message ({} bytes)",
                data.len(),
                self.max_send
            )));
        }
        if inner.queue.admits(data.len()) {
            return Ok(Admit::Now);
        }
        if !options.contains(SendOptions::NON_BLOCKING) {
            return Ok(Admit::WaitForRoom);
        }
        let room = inner.queue.room();
        if options.contains(SendOptions::PARTIAL) && !framed && room > 0 {
            data.truncate(room);
            return Ok(Admit::Now);
        }
        inner.send_possible_wanted = true;
        Err(Status::DEVICE_NOT_READY.with_message(format!(
            "the VC's send queue holds {} bytes; a non-blocking send of {} bytes does not fit",
            inner.queue.unsent(),
            data.len()
        )))
    }

    fn push(&self, inner: &mut VcInner, data: SendBuffers, options: SendOptions, completion: Completion) -> u64 {
        let header = self.framing.wire().map(|wire| {
            wire.encode_message_header(data.len())
                .expect("length checked at admission")
        });
        if let Completion::Callback(context) = completion {
            inner.due.push(Due::Submitted(context));
            inner.unattended += 1;
        }
        inner
            .queue
            .push(header, data, options.contains(SendOptions::EXPEDITED), completion)
    }

    /// Writes queued bytes until the socket takes no more. Completions of
    /// asynchronous sends become due; other waiters are woken when theirs
    /// complete. `mine` is the caller's own send, if it waits for one.
    pub(crate) fn flush(&self, inner: &mut VcInner, mine: Option<u64>) -> Flush {
        let mut wake_task = false;
        let mut wake_waiters = false;
        let outcome = loop {
            let Some(stream) = inner.stream.as_ref() else {
                break Flush::Failed;
            };
            let result = {
                let mut slices: SmallVec<[std::io::IoSlice<'_>; MAX_SLICES]> = SmallVec::new();
                inner.queue.gather(&mut slices);
                if slices.is_empty() {
                    if inner.shutdown_after_flush {
                        inner.shutdown_after_flush = false;
                        let _ = stream.shutdown_write();
                        if inner.peer_ended {
                            inner.state = VcState::Disconnected;
                        }
                        wake_task = true;
                    }
                    break Flush::Idle;
                }
                stream.try_write_vectored(&slices)
            };
            match result {
                Ok(0) => {
                    self.fail(inner, Status::CONNECTION_RESET.with_message("the socket took no bytes"));
                    break Flush::Failed;
                }
                Ok(n) => {
                    self.counters.bytes_sent.fetch_add(n as u64, Ordering::Relaxed);
                    let VcInner {
                        queue, due, unattended, ..
                    } = &mut *inner;
                    let counters = &self.counters;
                    queue.advance(n, |request| {
                        if request.completion != Completion::Control {
                            counters.transmitted_tsdus.fetch_add(1, Ordering::Relaxed);
                        }
                        match request.completion {
                            Completion::Callback(context) => {
                                *unattended -= 1;
                                due.push(Due::Complete {
                                    context,
                                    status: Status::SUCCESS,
                                    bytes: request.len,
                                });
                                wake_task = true;
                            }
                            Completion::Detached | Completion::Control => *unattended -= 1,
                            Completion::Waiter if Some(request.id) != mine => wake_waiters = true,
                            Completion::Waiter => {}
                        }
                    });
                    wake_waiters |= mine.is_some() && inner.queue.room() > 0;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break Flush::Blocked,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.fail(inner, Status::from_io(e, "writing to the VC's socket"));
                    break Flush::Failed;
                }
            }
        };
        if inner.send_possible_wanted && inner.queue.room() > 0 && outcome != Flush::Failed {
            inner.send_possible_wanted = false;
            let room = inner.queue.room();
            inner.due.push(Due::SendPossible(room));
            wake_task = true;
        }
        if wake_task {
            self.wake_task.notify_one();
        }
        if wake_waiters {
            self.waiters.notify_waiters();
        }
        outcome
    }

    /// The VC failed: queued sends fail with `status`, the socket is reset,
    /// and the task indicates an abortive disconnect.
    pub(crate) fn fail(&self, inner: &mut VcInner, status: Status) {
        if matches!(inner.state, VcState::TornDown) || inner.failure.is_some() {
            return;
        }
        tracing::debug!(vc = self.id, %status, "VC failed");
        inner.state = VcState::Disconnected;
        inner.failure = Some(status.clone());
        self.fail_queue(inner, &status);
        if let Some(stream) = inner.stream.take() {
            stream.close(true);
        }
        if !inner.indicated_disconnect {
            inner.ending = Some((crate::tdi::DisconnectFlags::ABORT, status));
        }
        self.wake_task.notify_one();
        self.waiters.notify_waiters();
    }

    pub(super) fn fail_queue(&self, inner: &mut VcInner, status: &Status) {
        let VcInner {
            queue,
            failed_waiters,
            due,
            ..
        } = &mut *inner;
        for request in queue.drain() {
            if *status != Status::CANCELLED {
                self.counters.transmission_errors.fetch_add(1, Ordering::Relaxed);
            }
            match request.completion {
                Completion::Waiter => failed_waiters.push((request.id, status.clone())),
                Completion::Callback(context) => due.push(Due::Complete {
                    context,
                    status: status.clone(),
                    bytes: 0,
                }),
                Completion::Detached | Completion::Control => {}
            }
        }
        inner.unattended = 0;
        inner.shutdown_after_flush = false;
    }

    /// The outcome of the synchronous send `id`, once it left the queue.
    fn outcome(inner: &mut VcInner, id: u64, len: usize) -> Option<Result<usize, Status>> {
        if inner.queue.contains(id) {
            return None;
        }
        match inner.failed_waiters.iter().position(|(w, _)| *w == id) {
            Some(at) => Some(Err(inner.failed_waiters.swap_remove(at).1)),
            None => Some(Ok(len)),
        }
    }

    /// Queues a send, waiting for room when the queue is full and the send
    /// may block. Returns the send's id and length.
    async fn enqueue(
        &self,
        mut data: SendBuffers,
        options: SendOptions,
        completion: Completion,
    ) -> Result<(u64, usize), Status> {
        let mut waited = false;
        loop {
            // The waiters' notification is registered only once the send
            // must wait (then the state is looked at once more): the common
            // send that fits at once takes no place in the waiter list.
            let notified = self.waiters.notified();
            tokio::pin!(notified);
            let mut registered = false;
            let stream = loop {
                let mut inner = self.lock();
                let admitted = self.admit(&mut inner, &mut data, options).map_err(|status| {
                    if waited && inner.state == VcState::TornDown {
                        Status::CANCELLED.with_message("the VC was torn down while the send waited for room")
                    } else {
                        status
                    }
                })?;
                match admitted {
                    Admit::Now => {
                        let len = data.len();
                        let id = self.push(&mut inner, data, options, completion);
                        return Ok((id, len));
                    }
                    Admit::WaitForRoom if registered => break inner.stream.clone(),
                    Admit::WaitForRoom => {
                        // Make room ourselves rather than wait for others.
                        if self.flush(&mut inner, None) != Flush::Blocked {
                            continue;
                        }
                        drop(inner);
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
        let (id, len) = self.enqueue(data, options, Completion::Waiter).await?;
        let mut waiter = Waiter {
            vc: self,
            id,
            done: false,
        };
        loop {
            let stream = {
                let mut inner = self.lock();
                if let Some(outcome) = VcShared::outcome(&mut inner, id, len) {
                    waiter.done = true;
                    return outcome;
                }
                self.flush(&mut inner, Some(id));
                if let Some(outcome) = VcShared::outcome(&mut inner, id, len) {
                    waiter.done = true;
                    return outcome;
                }
                inner.stream.clone()
            };
            // About to wait: register for wake-ups, then look once more at
            // what others did meanwhile (only the outcome: the socket's
            // readiness is what `wait_for_room` waits for).
            let notified = self.waiters.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(outcome) = VcShared::outcome(&mut self.lock(), id, len) {
                waiter.done = true;
                return outcome;
            }
            wait_for_room(stream, notified.as_mut()).await;
        }
    }

    pub(crate) async fn submit(&self, data: SendBuffers, options: SendOptions, context: usize) -> Status {
        match self.enqueue(data, options, Completion::Callback(context)).await {
            Ok(_) => {
                let mut inner = self.lock();
                self.flush(&mut inner, None);
                self.wake_task.notify_one();
                Status::PENDING
            }
            Err(status) => status,
        }
    }

    /// Queues a keepalive frame of the session (the VC's task writes it)
    /// when nothing else is queued.
    pub(crate) fn send_keepalive(&self) {
        let mut inner = self.lock();
        if !matches!(inner.state, VcState::Active | VcState::PeerReleased) || !inner.queue.is_idle() {
            return;
        }
        inner.queue.push(
            Some(rxce_wire::framing::keepalive_frame()),
            SendBuffers::new(),
            false,
            Completion::Control,
        );
        inner.unattended += 1;
        self.flush(&mut inner, None);
        self.wake_task.notify_one();
    }
}

/// Waits until the socket may take bytes again, or the VC's state changed
/// (`notified`, enabled before the state was last looked at).
async fn wait_for_room(
    stream: Option<Arc<dyn Stream>>,
    notified: std::pin::Pin<&mut tokio::sync::futures::Notified<'_>>,
) {
    match stream {
        Some(stream) => {
            tokio::select! {
                _ = stream.writable() => {}
                _ = notified => {}
            }
        }
        None => notified.await,
    }
}

/// A synchronous sender's claim on its queued send. If the sender goes away
/// (its future is dropped), the send stays queued and the VC's task writes
/// it: bytes already promised to the stream are never cut short.
struct Waiter<'a> {
    vc: &'a VcShared,
    id: u64,
    done: bool,
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut inner = self.vc.lock();
        if inner.queue.detach(self.id) {
            inner.unattended += 1;
            self.vc.wake_task.notify_one();
        } else if let Some(at) = inner.failed_waiters.iter().position(|(w, _)| *w == self.id) {
            inner.failed_waiters.swap_remove(at);
        }
    }
}
