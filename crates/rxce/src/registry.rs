//! The registry of live objects: each parent's list of children (closed for
//! good at the parent's tear-down, so no child can be added to a dying
//! parent) and the engine-wide counts of live objects.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::status::Status;

thread_local! {
    /// The object whose callback runs on this thread now (0: none).
    static IN_CALLBACK_OF: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// True when the calling thread is inside a callback of object `id`: a
/// tear-down of that object from there must not wait for its own task.
pub(crate) fn in_callback_of(id: u64) -> bool {
    IN_CALLBACK_OF.with(|c| c.get() == id)
}

/// Runs the client's callback `f` of object `id` (see [`as_callback_of`])
/// and stops a panic in it at the engine: the panic comes back as
/// `STATUS_UNHANDLED_EXCEPTION` naming the callback and the panic's message,
/// logged at error level. The caller decides what the panic fails (a VC
/// aborts; an address drops the datagram).
pub(crate) fn guarded_callback<R>(
    id: u64,
    callback: &'static str,
    watch: &CallbackWatch,
    f: impl FnOnce() -> R,
) -> Result<R, Status> {
    let started = watch.threshold.map(|_| std::time::Instant::now());
    let outcome = catch_callback_panic(id, callback, f);
    if let (Some(started), Some(threshold)) = (started, watch.threshold) {
        let took = started.elapsed();
        if took > threshold {
            watch.slow.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                object = id,
                callback,
                ?took,
                "a client callback ran for {took:?}: it held an engine worker, and every VC and timer on it, that long"
            );
        }
    }
    outcome
}

/// Times client callbacks against the engine's `slow_callback` threshold.
#[derive(Debug)]
pub(crate) struct CallbackWatch {
    threshold: Option<std::time::Duration>,
    slow: AtomicU64,
}

impl CallbackWatch {
    pub(crate) fn new(threshold: Option<std::time::Duration>) -> CallbackWatch {
        CallbackWatch {
            threshold,
            slow: AtomicU64::new(0),
        }
    }

    /// Callbacks that ran longer than the threshold so far.
    pub(crate) fn slow(&self) -> u64 {
        self.slow.load(Ordering::Relaxed)
    }
}

/// The panic-stopping half of [`guarded_callback`].
fn catch_callback_panic<R>(id: u64, callback: &'static str, f: impl FnOnce() -> R) -> Result<R, Status> {
    // AssertUnwindSafe: the closure borrows engine state only to read it
    // (the indicated bytes) or hands values over (client buffers, which
    // unwind drops). The engine does not look at state the callback
    // could have left half-changed except the client's own handler, whose
    // consistency after its panic is the client's (its locks are poisoned).
    as_callback_of(id, || std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))).map_err(|payload| {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_owned());
        let status = Status::UNHANDLED_EXCEPTION.with_message(format!("the {callback} callback panicked: {what}"));
        tracing::error!(object = id, %status, "a client callback panicked");
        status
    })
}

/// Runs `f` marked as a callback of object `id` on this thread.
pub(crate) fn as_callback_of<R>(id: u64, f: impl FnOnce() -> R) -> R {
    struct Restore(u64);
    impl Drop for Restore {
        fn drop(&mut self) {
            IN_CALLBACK_OF.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(IN_CALLBACK_OF.with(|c| c.replace(id)));
    f()
}

/// Which object's callback waits for which object's callbacks to end (a
/// tear-down called from inside a callback). Each waiter waits for one
/// object at a time.
static WAITS: Mutex<Vec<(u64, u64)>> = Mutex::new(Vec::new());

/// While alive, records that the callback of `waiter` waits for another
/// object (see [`wait_for`]).
#[derive(Debug)]
pub(crate) struct WaitGuard {
    waiter: u64,
}

impl Drop for WaitGuard {
    fn drop(&mut self) {
        WAITS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(w, _)| *w != self.waiter);
    }
}

/// Before waiting for `target`'s callbacks to end from the calling thread:
/// when the thread runs a callback of an object that `target` (directly or
/// through others) already waits for, the wait would never end, and the call
/// fails with STATUS_INVALID_DEVICE_STATE instead (decision 15). Outside
/// callbacks nothing can wait for the caller, and nothing is recorded.
pub(crate) fn wait_for(target: u64) -> Result<Option<WaitGuard>, Status> {
    let waiter = IN_CALLBACK_OF.with(|c| c.get());
    if waiter == 0 || waiter == target {
        return Ok(None);
    }
    let mut waits = WAITS.lock().unwrap_or_else(|e| e.into_inner());
    let mut next = target;
    for _ in 0..=waits.len() {
        if next == waiter {
            return Err(Status::INVALID_DEVICE_STATE.with_message(format!(
                "object {target} is waiting for this callback's object {waiter} to finish: \
                 tearing it down from here would never end"
            )));
        }
        match waits.iter().find(|(w, _)| *w == next) {
            Some((_, t)) => next = *t,
            None => break,
        }
    }
    waits.push((waiter, target));
    Ok(Some(WaitGuard { waiter }))
}

/// A fresh object id (unique within the process, across kinds).
pub(crate) fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Hashes object ids. They are unique and handed out in sequence, so they
/// need spreading, not protection from chosen keys: a Fibonacci multiply
/// puts their entropy in the top bits, where the table looks first. (The
/// default SipHash was a tenth of a connection's build.)
#[derive(Default, Clone, Copy)]
struct IdHasher(u64);

impl IdHasher {
    const SPREAD: u64 = 0x9E37_79B9_7F4A_7C15;
}

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(byte)).wrapping_mul(IdHasher::SPREAD);
        }
    }

    fn write_u64(&mut self, id: u64) {
        self.0 = (self.0 ^ id).wrapping_mul(IdHasher::SPREAD);
    }
}

struct ChildrenState<T> {
    closed: bool,
    map: HashMap<u64, Arc<T>, BuildHasherDefault<IdHasher>>,
}

/// A parent's live children.
pub(crate) struct Children<T> {
    state: Mutex<ChildrenState<T>>,
}

impl<T> Default for Children<T> {
    fn default() -> Children<T> {
        Children {
            state: Mutex::new(ChildrenState {
                closed: false,
                map: HashMap::default(),
            }),
        }
    }
}

impl<T> Children<T> {
    fn lock(&self) -> MutexGuard<'_, ChildrenState<T>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a child; `false` when the parent is closed (torn down).
    pub(crate) fn insert(&self, id: u64, child: Arc<T>) -> bool {
        let mut state = self.lock();
        if state.closed {
            return false;
        }
        state.map.insert(id, child);
        true
    }

    /// Removes a child (its own tear-down).
    pub(crate) fn remove(&self, id: u64) -> Option<Arc<T>> {
        self.lock().map.remove(&id)
    }

    /// Closes the list for good and returns the children, or `None` when it
    /// was closed already.
    pub(crate) fn close(&self) -> Option<Vec<Arc<T>>> {
        let mut state = self.lock();
        if state.closed {
            return None;
        }
        state.closed = true;
        Some(state.map.drain().map(|(_, child)| child).collect())
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// The live children now.
    pub(crate) fn snapshot(&self) -> Vec<Arc<T>> {
        self.lock().map.values().cloned().collect()
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().map.len()
    }
}

/// How many objects of each kind are alive (built and not yet freed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveObjects {
    /// Transports.
    pub transports: usize,
    /// Addresses.
    pub addresses: usize,
    /// Connections.
    pub connections: usize,
    /// Virtual circuits.
    pub vcs: usize,
}

impl LiveObjects {
    /// All four counts summed.
    pub fn total(&self) -> usize {
        self.transports + self.addresses + self.connections + self.vcs
    }
}

/// The kinds of objects counted.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    Transport,
    Address,
    Connection,
    Vc,
}

/// Engine-wide counts of live objects.
#[derive(Debug, Default)]
pub(crate) struct LiveCounts {
    counts: [AtomicUsize; 4],
}

impl LiveCounts {
    /// Counts one more object of `kind` until the token drops (with the
    /// object's memory).
    pub(crate) fn token(self: &Arc<Self>, kind: Kind) -> LiveToken {
        self.counts[kind as usize].fetch_add(1, Ordering::Relaxed);
        LiveToken {
            counts: self.clone(),
            kind,
        }
    }

    pub(crate) fn snapshot(&self) -> LiveObjects {
        let get = |k: Kind| self.counts[k as usize].load(Ordering::Relaxed);
        LiveObjects {
            transports: get(Kind::Transport),
            addresses: get(Kind::Address),
            connections: get(Kind::Connection),
            vcs: get(Kind::Vc),
        }
    }
}

/// Keeps one object counted as live.
#[derive(Debug)]
pub(crate) struct LiveToken {
    counts: Arc<LiveCounts>,
    kind: Kind,
}

impl Drop for LiveToken {
    fn drop(&mut self) {
        self.counts.counts[self.kind as usize].fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_parent_takes_no_child() {
        let children = Children::<u32>::default();
        assert!(children.insert(1, Arc::new(10)));
        assert!(children.insert(2, Arc::new(20)));
        assert_eq!(children.remove(1).as_deref(), Some(&10));
        assert_eq!(children.len(), 1);
        let closed = children.close().unwrap();
        assert_eq!(closed.len(), 1);
        assert!(children.is_closed());
        assert!(!children.insert(3, Arc::new(30)));
        assert!(children.close().is_none());
        assert!(children.snapshot().is_empty());
    }

    #[test]
    fn tokens_count_live_objects() {
        let counts = Arc::new(LiveCounts::default());
        let a = counts.token(Kind::Vc);
        let b = counts.token(Kind::Vc);
        let c = counts.token(Kind::Transport);
        assert_eq!(counts.snapshot().vcs, 2);
        assert_eq!(counts.snapshot().total(), 3);
        drop((a, b, c));
        assert_eq!(counts.snapshot(), LiveObjects::default());
    }
}
