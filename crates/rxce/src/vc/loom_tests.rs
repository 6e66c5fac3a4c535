//! Loom models of a VC's shared state: its lock and what the lock's release
//! wakes ([`VcCell`], [`VcLock`](super::io::VcLock)), the task's one-waiter
//! wake-up ([`TaskWake`](super::TaskWake)), the synchronous send's
//! hand-off ([`VcCell::send`], the machine's `outcome` / `detach`) and the
//! tear-down against a running callback ([`tear_down_and_join`]).
//!
//! The code under the model is the engine's: the machine, `VcCell` and its
//! send paths, `driver::step`, `TaskWake`, the registry's `wait_for` and
//! `guarded_callback`. What stands in for tokio is here: the socket
//! ([`ModelSocket`]), the task's loop and its wait ([`run_task`], the shape
//! of `driver::work` / `driver::run`), and the task's `JoinHandle` (a
//! [`Done`]). tokio's `Notify` is the model in `crate::sync`.

use std::collections::VecDeque;
use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use loom::future::block_on;
use loom::thread;
use rxce_proto::budget::Budget;
use rxce_proto::buffer::BufferPool;
use rxce_proto::vc::{Lent, VcConfig, VcEvent, VcMachine, VcState};

use super::driver::{step, Step};
use super::io::VcCell;
use super::{tear_down_and_join, TaskWake};
use crate::buffer::{ReceiveBuffer, SendBuffers};
use crate::registry::{guarded_callback, CallbackWatch};
use crate::status::Status;
use crate::sync::loom_support::{model, Done};
use crate::sync::{lock, Mutex};
use crate::tdi::{SendOptions, TransportAddress};
use crate::ReceiveAnswer;

/// The id of the modelled VC (for the callback marks and the waits-for
/// graph).
const VC: u64 = 1;

#[derive(Default)]
struct SocketState {
    /// Bytes the socket takes before it blocks.
    room: usize,
    /// What was written, in order.
    wire: Vec<u8>,
    /// What the peer sent.
    incoming: VecDeque<u8>,
    /// `Some(abortive)` once closed.
    closed: Option<bool>,
    /// Who waits for room.
    writable: Option<Waker>,
}

/// A connected socket as the VC sees it: takes bytes while it has room
/// (the peer [`ModelSocket::drain`]s it), holds what the peer sent from the
/// start, and wakes a writer waiting for room.
#[derive(Default)]
struct ModelSocket {
    state: Mutex<SocketState>,
}

impl ModelSocket {
    fn new(room: usize, incoming: &[u8]) -> Arc<ModelSocket> {
        let socket = ModelSocket::default();
        {
            let mut state = lock(&socket.state);
            state.room = room;
            state.incoming.extend(incoming);
        }
        Arc::new(socket)
    }

    /// The peer reads `n` bytes: room for `n` more.
    fn drain(&self, n: usize) {
        let waker = {
            let mut state = lock(&self.state);
            state.room += n;
            state.writable.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    fn wire(&self) -> Vec<u8> {
        lock(&self.state).wire.clone()
    }

    fn closed(&self) -> Option<bool> {
        lock(&self.state).closed
    }
}

impl crate::provider::Stream for ModelSocket {
    fn readable(&self) -> crate::provider::BoxFuture<'_, io::Result<()>> {
        Box::pin(std::future::pending())
    }

    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        let mut state = lock(&self.state);
        if state.incoming.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = buf.len().min(state.incoming.len());
        for (to, from) in buf.iter_mut().zip(state.incoming.drain(..n)) {
            *to = from;
        }
        Ok(n)
    }

    fn writable(&self) -> crate::provider::BoxFuture<'_, io::Result<()>> {
        Box::pin(std::future::poll_fn(move |cx| {
            let mut state = lock(&self.state);
            if state.room > 0 || state.closed.is_some() {
                return Poll::Ready(Ok(()));
            }
            state.writable = Some(cx.waker().clone());
            Poll::Pending
        }))
    }

    fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let mut state = lock(&self.state);
        if state.closed.is_some() {
            return Err(io::ErrorKind::NotConnected.into());
        }
        if state.room == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let bytes: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
        let n = bytes.len().min(state.room);
        state.room -= n;
        state.wire.extend_from_slice(&bytes[..n]);
        Ok(n)
    }

    fn shutdown_write(&self) -> io::Result<()> {
        Ok(())
    }

    fn close(&self, abortive: bool) {
        let waker = {
            let mut state = lock(&self.state);
            state.closed = Some(abortive);
            state.writable.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    fn peer_address(&self) -> TransportAddress {
        TransportAddress { entries: Vec::new() }
    }
}

/// A VC on `socket` whose send queue holds `queue_limit` bytes.
fn vc(socket: &Arc<ModelSocket>, queue_limit: usize) -> loom::sync::Arc<VcCell> {
    let config = VcConfig {
        framing: None,
        max_message_size: 1 << 16,
        send_queue_limit: queue_limit,
        keepalive: None,
        dead_peer_timeout: None,
        disconnect_timeout: Duration::from_secs(20),
    };
    let pool = Arc::new(BufferPool::new(64, 1, Budget::new(usize::MAX)));
    let machine = VcMachine::new(config, pool, Instant::now());
    loom::sync::Arc::new(VcCell::new(machine, socket.clone()))
}

fn bytes(b: &'static [u8]) -> SendBuffers {
    SendBuffers::from(b)
}

/// True when a wake-up is waiting for the task (without taking it).
fn task_woken(wake: &TaskWake) -> bool {
    let mut cx = Context::from_waker(Waker::noop());
    let woken = pin!(wake.notified()).poll(&mut cx).is_ready();
    if woken {
        // Put the permit back.
        wake.notify_one();
    }
    woken
}

/// The VC's task as `driver::work` / `driver::run` drive it, with the
/// engine's step (`driver::step`) and wake-up (`TaskWake`), without tokio:
/// `deliver` stands for the handler (an answer to an indication goes to
/// the machine under the next lock, as in `work`), and the task waits for
/// its wake-up or, when it must write, for room (a modelled socket holds
/// its incoming bytes from the start, so readability is not waited for).
fn run_task(cell: &VcCell, socket: &ModelSocket, mut deliver: impl FnMut(VcEvent) -> Option<(Lent, ReceiveAnswer)>) {
    let mut answer = None;
    loop {
        let step = {
            let mut core = cell.lock();
            if let Some((lent, answer)) = answer.take() {
                core.machine.answer(lent, answer);
            }
            step(&mut core)
        };
        match step {
            Step::Deliver(event) => answer = deliver(event),
            Step::Moved => {}
            Step::Wait(wait) => {
                let mut woken = pin!(cell.wake_task.notified());
                let mut room = wait.writable.then(|| crate::provider::Stream::writable(socket));
                block_on(std::future::poll_fn(|cx| {
                    if woken.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(());
                    }
                    match room.as_mut().map(|r| r.as_mut().poll(cx)) {
                        Some(Poll::Ready(_)) => Poll::Ready(()),
                        _ => Poll::Pending,
                    }
                }));
            }
            Step::Finished => return,
        }
    }
}

/// A permit left before the task looks, or between its look and its
/// registration, is not lost; one permit wakes one wait.
#[test]
fn loom_task_wake_keeps_a_permit() {
    model("TaskWake: notify vs notified", || {
        let wake = loom::sync::Arc::new(TaskWake::default());
        let notifier = {
            let wake = wake.clone();
            thread::spawn(move || wake.notify_one())
        };
        block_on(wake.notified());
        notifier.join().unwrap();
        assert!(!task_woken(&wake), "one notify, one wake-up");
    });
}

/// A synchronous sender waits on a full socket while another writer (an
/// asynchronous send, which writes the queue at once) and the peer's reads
/// race it: whoever writes the sender's bytes, the sender learns its
/// outcome (no lost wake-up: loom reports a sender left waiting), both
/// sends are on the wire once, whole and in queue order, and the task is
/// woken for the asynchronous send's callbacks.
#[test]
fn loom_send_completed_by_another_writer() {
    model("send: a waiting sender vs another writer", || {
        let socket = ModelSocket::new(0, b"");
        let cell = vc(&socket, 64);
        let sender = {
            let cell = cell.clone();
            thread::spawn(move || block_on(cell.send(bytes(b"abcd"), SendOptions::empty())))
        };
        let writer = {
            let cell = cell.clone();
            thread::spawn(move || block_on(cell.submit(bytes(b"ef"), SendOptions::NON_BLOCKING, 7)))
        };
        socket.drain(6);
        assert_eq!(sender.join().unwrap(), Ok(4));
        assert_eq!(writer.join().unwrap(), Status::PENDING);
        // The room the peer made fits both sends, and someone had to
        // write the sender's: what came before it, and the other send
        // either way (the sender writes the whole queue).
        let wire = socket.wire();
        assert!(wire == b"abcdef" || wire == b"efabcd", "{wire:?}");
        assert!(!cell.lock().machine.task_must_write());
        assert!(
            task_woken(&cell.wake_task),
            "the task owes send-submitted and send-complete"
        );
    });
}

/// A synchronous sender waits for its send (part written) when the VC is
/// torn down: it learns CANCELLED (or, torn down before it queued,
/// INVALID_HANDLE), never waits forever; the socket is closed in order on
/// the lock's release and the task woken.
#[test]
fn loom_send_cancelled_by_tear_down() {
    model("send: a waiting sender vs tear-down", || {
        let socket = ModelSocket::new(0, b"");
        let cell = vc(&socket, 64);
        let sender = {
            let cell = cell.clone();
            thread::spawn(move || block_on(cell.send(bytes(b"abcd"), SendOptions::empty())))
        };
        socket.drain(2);
        assert_eq!(cell.tear_down(), Ok(()));
        let outcome = sender.join().unwrap().unwrap_err();
        let wire = socket.wire();
        match wire.len() {
            0 => assert!(
                outcome == Status::CANCELLED || outcome == Status::INVALID_HANDLE,
                "{outcome}"
            ),
            2 => assert_eq!(outcome, Status::CANCELLED),
            _ => panic!("{wire:?}"),
        }
        assert_eq!(socket.closed(), Some(false), "closed in order");
        assert!(cell.is_torn_down());
        assert!(task_woken(&cell.wake_task));
        assert_eq!(cell.tear_down().unwrap_err(), Status::INVALID_HANDLE);
    });
}

/// A synchronous sender gives up while its send is queued (its future is
/// dropped: the send detaches) as the socket gets room: the VC's task is
/// woken and writes what is left, whole and once, whatever the order.
#[test]
fn loom_a_detached_send_is_written_by_the_task() {
    model("send: a detached send vs the task", || {
        let socket = ModelSocket::new(0, b"");
        let cell = vc(&socket, 64);
        let written = loom::sync::Arc::new(Done::default());
        let task = {
            let (cell, socket, written) = (cell.clone(), socket.clone(), written.clone());
            thread::spawn(move || {
                let mut events = Vec::new();
                run_task(&cell, &socket, |event| {
                    events.push(format!("{event:?}"));
                    None
                });
                written.finish();
                events
            })
        };
        {
            let mut send = pin!(cell.send(bytes(b"abcd"), SendOptions::empty()));
            let polled = send.as_mut().poll(&mut Context::from_waker(Waker::noop()));
            assert!(matches!(polled, Poll::Pending | Poll::Ready(Ok(4))));
        }
        socket.drain(4);
        // The task ends once the VC is over: tear it down once the bytes
        // are out, as a client would.
        while socket.wire().len() < 4 {
            thread::yield_now();
        }
        assert_eq!(socket.wire(), b"abcd");
        cell.tear_down().unwrap();
        written.wait();
        assert!(task.join().unwrap().is_empty(), "a synchronous send owes no callback");
    });
}

/// The bytes a receive indication lends are answered with a client buffer
/// (more processing required) while another thread tears the VC down: the
/// buffer always comes back, once, in a data-ready — filled from the
/// indicated bytes if the answer came first, untouched (0 bytes,
/// CANCELLED) if the tear-down did; and the tear-down returns only once
/// the task is over.
#[test]
fn loom_tear_down_vs_a_receive_callback_hands_the_buffer_back() {
    model("tear-down vs a receive callback", || {
        let socket = ModelSocket::new(64, b"hello");
        let cell = vc(&socket, 64);
        let task_over = loom::sync::Arc::new(Done::default());
        let task = {
            let (cell, socket, task_over) = (cell.clone(), socket.clone(), task_over.clone());
            thread::spawn(move || {
                let watch = CallbackWatch::new(None, None);
                let mut lent_buffer = false;
                let mut returned = Vec::new();
                run_task(&cell, &socket, |event| match event {
                    VcEvent::Indicate(lent) => {
                        let answer = guarded_callback(VC, "receive", &watch, || match lent_buffer {
                            false => ReceiveAnswer::MoreProcessingRequired {
                                taken: 0,
                                buffer: Box::new(vec![7u8; 4]),
                                size: 4,
                            },
                            true => ReceiveAnswer::Taken(lent.indication().data.len()),
                        })
                        .unwrap();
                        lent_buffer = true;
                        Some((lent, answer))
                    }
                    VcEvent::DataReady { buffer, copied, status } => {
                        returned.push((into_vec(buffer), copied, status));
                        None
                    }
                    other => panic!("{other:?}"),
                });
                task_over.finish();
                (lent_buffer, returned)
            })
        };
        let torn_down = block_on(tear_down_and_join(&cell, VC, || async { task_over.wait() }));
        assert_eq!(torn_down, Ok(()));
        let (lent_buffer, returned) = task.join().unwrap();
        match (lent_buffer, &returned[..]) {
            (false, []) => {}
            (true, [(buffer, 4, status)]) if *status == Status::SUCCESS => assert_eq!(buffer, b"hell"),
            (true, [(buffer, 0, status)]) if *status == Status::CANCELLED => assert_eq!(buffer, &[7u8; 4]),
            other => panic!("{other:?}"),
        }
        assert!(cell.is_torn_down());
        assert_eq!(socket.closed(), Some(false));
    });
}

/// A receive callback tears its own VC down while a synchronous sender
/// waits on a full socket: the tear-down does not wait for the task it
/// runs on, the sender learns CANCELLED (INVALID_HANDLE when it came
/// after), and the task ends after the callback with nothing more to
/// deliver.
#[test]
fn loom_a_callback_tears_its_own_vc_down_while_a_sender_waits() {
    model("tear-down from the VC's own callback vs a sender", || {
        let socket = ModelSocket::new(0, b"hi");
        let cell = vc(&socket, 64);
        let sender = {
            let cell = cell.clone();
            thread::spawn(move || block_on(cell.send(bytes(b"abcd"), SendOptions::empty())))
        };
        let watch = CallbackWatch::new(None, None);
        let mut events = Vec::new();
        run_task(&cell, &socket, |event| match event {
            VcEvent::Indicate(lent) => {
                let torn_down = guarded_callback(VC, "receive", &watch, || {
                    block_on(tear_down_and_join(&cell, VC, || async {
                        panic!("a VC's own callback does not wait for its task")
                    }))
                });
                events.push(format!("indicated, torn down: {torn_down:?}"));
                Some((lent, ReceiveAnswer::Taken(0)))
            }
            other => {
                events.push(format!("{other:?}"));
                None
            }
        });
        assert_eq!(events, ["indicated, torn down: Ok(Ok(()))"]);
        let outcome = sender.join().unwrap().unwrap_err();
        assert!(
            outcome == Status::CANCELLED || outcome == Status::INVALID_HANDLE,
            "{outcome}"
        );
        assert!(socket.wire().is_empty());
        assert_eq!(cell.lock().machine.state(), VcState::TornDown);
    });
}

/// The callbacks of two VCs each tear the other down as a parent does
/// (`VcShared::tear_down_for_parent`: wait for the VC's task, or, refused
/// because that VC's callback waits for ours, tear it down without
/// waiting): exactly one waits, neither hangs, both VCs end torn down with
/// their sockets closed.
#[test]
fn loom_two_callbacks_tear_each_other_down() {
    model("tear-down for parent: two callbacks, a cycle", || {
        let sockets = [ModelSocket::new(8, b""), ModelSocket::new(8, b"")];
        let cells = loom::sync::Arc::new([vc(&sockets[0], 64), vc(&sockets[1], 64)]);
        let ends = loom::sync::Arc::new([Done::default(), Done::default()]);
        let callback = |me: usize| {
            let (cells, ends) = (cells.clone(), ends.clone());
            move || {
                let other = 1 - me;
                let watch = CallbackWatch::new(None, None);
                let waited = guarded_callback(me as u64 + 1, "receive", &watch, || {
                    let torn_down = block_on(tear_down_and_join(&cells[other], other as u64 + 1, || async {
                        ends[other].wait()
                    }));
                    match torn_down {
                        Ok(()) => true,
                        Err(status) => {
                            // tear_down_for_parent's refusal branch.
                            assert_eq!(status, Status::INVALID_DEVICE_STATE);
                            cells[other].tear_down().unwrap();
                            false
                        }
                    }
                })
                .unwrap();
                ends[me].finish();
                waited
            }
        };
        let first = thread::spawn(callback(0));
        let second = callback(1)();
        let first = first.join().unwrap();
        assert!(first != second, "exactly one waits ({first}, {second})");
        for (cell, socket) in cells.iter().zip(&sockets) {
            assert!(cell.is_torn_down());
            assert_eq!(socket.closed(), Some(false));
        }
    });
}

fn into_vec(buffer: Box<dyn ReceiveBuffer>) -> Vec<u8> {
    let any: Box<dyn std::any::Any> = buffer;
    *any.downcast::<Vec<u8>>().expect("the test's own buffer")
}
