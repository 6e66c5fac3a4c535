//! Client callbacks as the engine runs them: which object's callback runs
//! on this thread, the panic guard around every callback, the slow-callback
//! watch, and the waits-for graph that refuses a tear-down from a callback
//! that could never finish (decisions 15, 21, 22 and 28).

use std::sync::atomic::Ordering;

use crate::status::Status;
use crate::sync::{global, local, lock, AtomicU64, Mutex};

local! {
    /// The object whose callback runs on this thread now (0: none).
    static IN_CALLBACK_OF: std::cell::Cell<u64> = std::cell::Cell::new(0);
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
    let started = (watch.threshold.is_some() || watch.watchdog.is_some()).then(std::time::Instant::now);
    let running = watch.watchdog.as_ref().zip(started).map(|(w, now)| w.enter(now));
    let outcome = catch_callback_panic(id, callback, f);
    drop(running);
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

/// Times client callbacks against the engine's `slow_callback` threshold,
/// and shows the running ones to the engine's blocked-callback watchdog.
#[derive(Debug)]
pub(crate) struct CallbackWatch {
    threshold: Option<std::time::Duration>,
    slow: AtomicU64,
    watchdog: Option<crate::watchdog::Watchdog>,
}

impl CallbackWatch {
    pub(crate) fn new(
        threshold: Option<std::time::Duration>,
        watchdog: Option<crate::watchdog::Watchdog>,
    ) -> CallbackWatch {
        CallbackWatch {
            threshold,
            slow: AtomicU64::new(0),
            watchdog,
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

global! {
    /// Which object's callback waits for which object's callbacks to end (a
    /// tear-down called from inside a callback). Each waiter waits for one
    /// object at a time.
    static WAITS: Mutex<Vec<(u64, u64)>> = Mutex::new(Vec::new());
}

/// While alive, records that the callback of `waiter` waits for another
/// object (see [`wait_for`]).
#[derive(Debug)]
pub(crate) struct WaitGuard {
    waiter: u64,
}

impl Drop for WaitGuard {
    fn drop(&mut self) {
        lock(&WAITS).retain(|(w, _)| *w != self.waiter);
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
    let mut waits = lock(&WAITS);
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

#[cfg(all(test, rxce_loom))]
mod loom_tests {
    use super::*;
    use crate::sync::loom_support::{model, quiet_expected_panics, Done};
    use loom::sync::Arc;
    use loom::thread;

    /// The callback of `me` tears down `target` (as `VcShared::tear_down`
    /// does): with the wait allowed, it waits for `target`'s callbacks to
    /// end (`ends[target]`) holding its place in the graph; refused, it
    /// goes on. Then `me`'s callback ends. Returns whether it waited.
    fn callback_tearing_down(me: usize, target: usize, ends: &[Arc<Done>]) -> bool {
        let waited = as_callback_of(me as u64, || match wait_for(target as u64) {
            Ok(waiting) => {
                ends[target].wait();
                drop(waiting);
                true
            }
            Err(status) => {
                assert_eq!(status, Status::INVALID_DEVICE_STATE);
                false
            }
        });
        assert!(!in_callback_of(me as u64), "the mark goes with the callback");
        ends[me].finish();
        waited
    }

    /// Callbacks of objects 1..=n each tear down the next one (the last
    /// the first), all at once: a cycle of waits that would never end.
    /// The waits-for graph refuses exactly one of them in every
    /// interleaving (loom reports the deadlock if none is refused), and
    /// is empty once they are done.
    fn cycle_of(n: usize) {
        let ends: Arc<Vec<Arc<Done>>> = Arc::new((0..=n).map(|_| Arc::new(Done::default())).collect());
        let callbacks: Vec<_> = (1..=n)
            .map(|me| {
                let ends = ends.clone();
                let target = me % n + 1;
                thread::spawn(move || callback_tearing_down(me, target, &ends))
            })
            .collect();
        let waited = callbacks.into_iter().map(|c| c.join().unwrap());
        assert_eq!(waited.filter(|w| !w).count(), 1, "exactly one wait is refused");
        assert!(lock(&WAITS).is_empty(), "every wait left the graph");
    }

    #[test]
    fn loom_wait_for_refuses_a_cycle_of_two() {
        model("wait_for: two callbacks tear each other down", || cycle_of(2));
    }

    #[test]
    fn loom_wait_for_refuses_a_cycle_of_three() {
        model("wait_for: a cycle of three tear-downs", || cycle_of(3));
    }

    /// The per-thread mark: a callback of object 1 on one thread is not a
    /// callback of 1 on another, and a tear-down of 1 from the other thread
    /// is allowed to wait (it is no cycle).
    #[test]
    fn loom_in_callback_of_is_per_thread() {
        model("in_callback_of: per thread", || {
            let inside = Arc::new(Done::default());
            let leave = Arc::new(Done::default());
            let callback = {
                let (inside, leave) = (inside.clone(), leave.clone());
                thread::spawn(move || {
                    as_callback_of(1, || {
                        assert!(in_callback_of(1));
                        inside.finish();
                        leave.wait();
                    })
                })
            };
            inside.wait();
            assert!(!in_callback_of(1));
            assert!(wait_for(1).unwrap().is_none(), "outside callbacks nothing is recorded");
            leave.finish();
            callback.join().unwrap();
        });
    }

    /// The panic guard's shared state: a callback that panics while it
    /// waits for another object's callback (holding its place in the
    /// graph) is stopped at the engine, its mark is restored and its wait
    /// leaves the graph, whatever the other callback does meanwhile (which
    /// may find the cycle and be refused, or not).
    #[test]
    fn loom_a_panicking_callback_leaves_no_mark_and_no_wait() {
        quiet_expected_panics();
        model("guarded_callback: a panic during a wait", || {
            let other = thread::spawn(|| {
                let watch = CallbackWatch::new(None, None);
                guarded_callback(2, "receive", &watch, || wait_for(1).map(drop).is_ok()).unwrap()
            });
            let watch = CallbackWatch::new(None, None);
            let outcome = guarded_callback(1, "receive", &watch, || {
                let _waiting = wait_for(2);
                panic!("expected panic in a callback");
            });
            assert_eq!(outcome.unwrap_err(), Status::UNHANDLED_EXCEPTION);
            assert!(!in_callback_of(1));
            other.join().unwrap();
            assert!(!in_callback_of(2));
            assert!(lock(&WAITS).is_empty(), "the panicked wait left the graph");
        });
    }
}
