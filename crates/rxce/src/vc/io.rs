//! The VC's socket side: its machine beside its stream, under the VC's
//! lock, and the two I/O steps that move bytes between them — a write pass
//! ([`VcCore::transmit`]) and one read ([`VcCore::read_once`]). Neither
//! decides anything: the machine says what to write and where a read
//! lands, and takes the outcome.

use std::mem::ManuallyDrop;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use rxce_proto::vc::{Close, Transmit, VcMachine, MAX_SLICES};
use smallvec::SmallVec;

use super::TaskWake;
use crate::provider::Stream;
use crate::status::Status;
use crate::sync::{lock, AtomicBool, Mutex, MutexGuard, Notify};

/// What a write pass ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Flush {
    /// Nothing left to write.
    Idle,
    /// The socket takes no more now.
    Blocked,
    /// The VC cannot write (failed, torn down).
    Failed,
}

/// What one read attempt did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Read {
    /// Bytes (or the end, or a failure) went into the machine.
    Progress,
    /// Nothing to read now, or the machine reads nothing now.
    Idle,
}

/// A VC's machine and its socket (until the socket is closed).
pub(crate) struct VcCore {
    pub(crate) machine: VcMachine,
    stream: Option<Arc<dyn Stream>>,
    /// The last write pass of the task found the socket full.
    pub(super) write_blocked: bool,
}

impl VcCore {
    fn new(machine: VcMachine, stream: Arc<dyn Stream>) -> VcCore {
        VcCore {
            machine,
            stream: Some(stream),
            write_blocked: false,
        }
    }

    /// The socket, until it is closed.
    pub(crate) fn stream(&self) -> Option<Arc<dyn Stream>> {
        self.stream.clone()
    }

    /// Writes what the machine has to write until the socket takes no
    /// more. `mine` is the caller's own waited-for send, if it writes for
    /// one.
    pub(super) fn transmit(&mut self, mine: Option<u64>) -> Flush {
        loop {
            let Some(stream) = self.stream.as_ref() else {
                return Flush::Failed;
            };
            let written = match self.machine.poll_transmit() {
                Transmit::Idle if self.machine.state() == rxce_proto::vc::VcState::TornDown => return Flush::Failed,
                Transmit::Idle => return Flush::Idle,
                Transmit::Shutdown => {
                    let _ = stream.shutdown_write();
                    self.machine.handle_shutdown_sent();
                    continue;
                }
                Transmit::Bytes => {
                    let mut slices: SmallVec<[std::io::IoSlice<'_>; MAX_SLICES]> = SmallVec::new();
                    self.machine.gather(&mut slices);
                    stream.try_write_vectored(&slices)
                }
            };
            match written {
                Ok(n) => self.machine.handle_written(n, mine),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Flush::Blocked,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.machine
                        .handle_io_error(Status::from_io(e, "writing to the VC's socket"));
                    return Flush::Failed;
                }
            }
        }
    }

    /// Reads once into where the machine wants its next bytes.
    pub(super) fn read_once(&mut self) -> Read {
        let Some(stream) = self.stream.as_ref() else {
            return Read::Idle;
        };
        loop {
            let Some(target) = self.machine.read_target() else {
                self.machine.handle_read_idle();
                return Read::Idle;
            };
            match stream.try_read(target) {
                Ok(0) => self.machine.handle_end(),
                Ok(n) => self.machine.handle_read(n),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    self.machine.handle_read_idle();
                    return Read::Idle;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => self
                    .machine
                    .handle_io_error(Status::from_io(e, "reading from the VC's socket")),
            }
            return Read::Progress;
        }
    }

    /// Carries out what the machine left for outside: closes the socket
    /// when it says so.
    fn settle(&mut self) {
        if let Some(close) = self.machine.take_close() {
            if let Some(stream) = self.stream.take() {
                // An abortive close resets once the last reference to the
                // endpoint drops; an orderly one ends both directions now.
                stream.close(close == Close::Abortive);
            }
        }
    }
}

/// A VC's machine and socket under the VC's lock, and whom the lock's
/// release wakes: what the VC's task, its senders and its tear-down share.
pub(crate) struct VcCell {
    core: Mutex<VcCore>,
    /// Mirrors `state == TornDown` for checks without the lock.
    torn_down: AtomicBool,
    /// Wakes the VC's task.
    pub(super) wake_task: TaskWake,
    /// Wakes synchronous senders (progress, failure, tear-down).
    pub(super) waiters: Notify,
}

impl VcCell {
    pub(super) fn new(machine: VcMachine, stream: Arc<dyn Stream>) -> VcCell {
        VcCell {
            core: Mutex::new(VcCore::new(machine, stream)),
            torn_down: AtomicBool::new(false),
            wake_task: TaskWake::default(),
            waiters: Notify::new(),
        }
    }

    /// The machine and socket, locked; the work the machine leaves
    /// (closing the socket, waking the task or senders) is done when the
    /// lock is given up.
    pub(crate) fn lock(&self) -> VcLock<'_> {
        VcLock {
            cell: self,
            guard: ManuallyDrop::new(lock(&self.core)),
        }
    }

    pub(super) fn is_torn_down(&self) -> bool {
        self.torn_down.load(Ordering::Acquire)
    }

    /// Marks the VC torn down: queued sends are cancelled, the socket is
    /// closed and the task told to finish (on the lock's release).
    pub(super) fn tear_down(&self) -> Result<(), Status> {
        self.lock().machine.tear_down()?;
        self.torn_down.store(true, Ordering::Release);
        Ok(())
    }
}

/// The VC's lock: on release, the socket is closed if the machine says so,
/// and the task or waiting senders are woken.
pub(crate) struct VcLock<'a> {
    cell: &'a VcCell,
    guard: ManuallyDrop<MutexGuard<'a, VcCore>>,
}

impl std::ops::Deref for VcLock<'_> {
    type Target = VcCore;
    fn deref(&self) -> &VcCore {
        &self.guard
    }
}

impl std::ops::DerefMut for VcLock<'_> {
    fn deref_mut(&mut self) -> &mut VcCore {
        &mut self.guard
    }
}

impl Drop for VcLock<'_> {
    fn drop(&mut self) {
        self.guard.settle();
        let wake = self.guard.machine.take_wakeups();
        // SAFETY: the guard is dropped exactly once, here, and not used
        // after: the lock is released before anyone is woken.
        unsafe { ManuallyDrop::drop(&mut self.guard) };
        if wake.task {
            self.cell.wake_task.notify_one();
        }
        if wake.waiters {
            self.cell.waiters.notify_waiters();
        }
    }
}
