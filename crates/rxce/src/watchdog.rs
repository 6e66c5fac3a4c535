//! The blocked-callback watchdog: keeps one blocked client callback from
//! stalling every other VC's indications and timers.
//!
//! Why a callback that blocks its worker stalls the others even when other
//! workers are idle: tokio polls the I/O and time drivers only from a
//! worker that is parking with nothing to run, and only one parked worker
//! holds the drivers — the others sleep on a condition variable. A worker
//! that leaves the drivers with a single task to run wakes nobody. If that
//! task's callback then blocks, no thread reads the epoll events or fires
//! the timers until it returns: another VC's bytes wait in its socket
//! while an idle worker sleeps (about 2 s for a 2 s callback, measured).
//!
//! The watchdog is one thread per engine. It looks at the callbacks running
//! now and, when one has run longer than
//! [`EngineConfig::blocked_callback`](crate::EngineConfig::blocked_callback),
//! spawns an empty task on the engine's runtime: that wakes an idle
//! worker, which runs it, parks with the drivers and so serves everyone
//! else's I/O and timers (and steals the blocked worker's queued tasks).
//! Each blocked callback costs the engine one worker for as long as it
//! blocks; with every worker blocked, nothing can help.
//!
//! Cost on the data path: entering and leaving a callback stores its start
//! time in the thread's slot and reads whether the watchdog is awake. The
//! watchdog ticks once per threshold while callbacks run, and sleeps
//! without ticking once none has run for a while.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::runtime::Handle;

/// Ticks without a callback after which the watchdog sleeps until the next
/// callback.
const IDLE_TICKS: u32 = 50;

/// Where the callback running on one thread stands.
#[derive(Default)]
struct Slot {
    /// Nanoseconds since [`epoch`] (plus one) at which the running callback
    /// began; 0 when none runs.
    since: AtomicU64,
    /// The watchdog whose engine's callback it is.
    watchdog: AtomicUsize,
    /// The `since` of the callback the watchdog last acted on.
    handled: AtomicU64,
}

/// Every thread's slot, for the watchdogs to look at (a slot goes with its
/// thread).
static SLOTS: Mutex<Vec<Weak<Slot>>> = Mutex::new(Vec::new());

thread_local! {
    static SLOT: Arc<Slot> = {
        let slot = Arc::new(Slot::default());
        let mut slots = SLOTS.lock().unwrap_or_else(|e| e.into_inner());
        slots.retain(|s| s.strong_count() > 0);
        slots.push(Arc::downgrade(&slot));
        slot
    };
}

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn stamp(at: Instant) -> u64 {
    u64::try_from(at.saturating_duration_since(epoch()).as_nanos()).unwrap_or(u64::MAX - 1) + 1
}

struct Shared {
    runtime: Handle,
    threshold: Duration,
    /// A callback began since the watchdog's last tick.
    active: AtomicBool,
    /// The watchdog sleeps until a callback begins.
    asleep: AtomicBool,
    stop: AtomicBool,
    thread: OnceLock<std::thread::Thread>,
}

impl Shared {
    fn id(&self) -> usize {
        self as *const Shared as usize
    }
}

/// One engine's watchdog thread; stopped (and joined) when dropped.
pub(crate) struct Watchdog {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Watchdog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watchdog")
            .field("threshold", &self.shared.threshold)
            .finish()
    }
}

impl Watchdog {
    /// Starts the watchdog of callbacks running on `runtime`. `None` when
    /// the thread cannot be started (the engine then runs without one).
    pub(crate) fn start(runtime: Handle, threshold: Duration) -> Option<Watchdog> {
        let shared = Arc::new(Shared {
            runtime,
            threshold,
            active: AtomicBool::new(false),
            asleep: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            thread: OnceLock::new(),
        });
        let watched = shared.clone();
        let thread = std::thread::Builder::new()
            .name("rxce-watchdog".into())
            .spawn(move || watch(&watched))
            .ok()?;
        let _ = shared.thread.set(thread.thread().clone());
        Some(Watchdog {
            shared,
            thread: Some(thread),
        })
    }

    /// Marks the calling thread as running a callback of this engine since
    /// `now` until the guard drops.
    pub(crate) fn enter(&self, now: Instant) -> Running {
        let shared = &self.shared;
        let previous = SLOT.with(|slot| {
            let previous = (
                slot.since.load(Ordering::Relaxed),
                slot.watchdog.load(Ordering::Relaxed),
            );
            slot.watchdog.store(shared.id(), Ordering::Relaxed);
            slot.since.store(stamp(now), Ordering::Release);
            previous
        });
        if !shared.active.load(Ordering::Relaxed) {
            shared.active.store(true, Ordering::SeqCst);
            if shared.asleep.load(Ordering::SeqCst) {
                if let Some(thread) = shared.thread.get() {
                    thread.unpark();
                }
            }
        }
        Running { previous }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

/// A callback running on this thread (see [`Watchdog::enter`]).
pub(crate) struct Running {
    /// The slot's state before, for a callback run from inside another.
    previous: (u64, usize),
}

impl Drop for Running {
    fn drop(&mut self) {
        let (since, watchdog) = self.previous;
        SLOT.with(|slot| {
            slot.watchdog.store(watchdog, Ordering::Relaxed);
            slot.since.store(since, Ordering::Release);
        });
    }
}

/// The watchdog thread.
fn watch(shared: &Shared) {
    let mut idle_ticks = 0;
    while !shared.stop.load(Ordering::SeqCst) {
        std::thread::park_timeout(shared.threshold);
        let active = shared.active.swap(false, Ordering::SeqCst);
        let running = rescue_blocked(shared);
        idle_ticks = if active || running { 0 } else { idle_ticks + 1 };
        if idle_ticks >= IDLE_TICKS {
            shared.asleep.store(true, Ordering::SeqCst);
            // A callback that began after the swap above set `active`, and
            // saw `asleep` (then it unparks us) or we see `active` now.
            if !shared.active.load(Ordering::SeqCst) && !shared.stop.load(Ordering::SeqCst) {
                std::thread::park();
            }
            shared.asleep.store(false, Ordering::SeqCst);
            idle_ticks = 0;
        }
    }
}

/// Wakes an idle worker for each callback of this engine that has run
/// longer than the threshold and was not acted on yet. Returns whether any
/// callback of the engine runs now.
fn rescue_blocked(shared: &Shared) -> bool {
    let now = stamp(Instant::now());
    let threshold = u64::try_from(shared.threshold.as_nanos()).unwrap_or(u64::MAX);
    let mut running = false;
    let slots: Vec<Arc<Slot>> = SLOTS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter_map(Weak::upgrade)
        .collect();
    for slot in slots {
        let since = slot.since.load(Ordering::Acquire);
        if since == 0 || slot.watchdog.load(Ordering::Relaxed) != shared.id() {
            continue;
        }
        running = true;
        if now.saturating_sub(since) >= threshold && slot.handled.swap(since, Ordering::Relaxed) != since {
            tracing::debug!(
                "a callback has blocked its worker for over {:?}: waking another",
                shared.threshold
            );
            drop(shared.runtime.spawn(async {}));
        }
    }
    running
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_callback_blocked_past_the_threshold_wakes_a_worker_once() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let watchdog = Watchdog::start(runtime.handle().clone(), Duration::from_millis(2)).unwrap();
        let running = watchdog.enter(Instant::now());
        let slot = SLOT.with(Arc::clone);
        let since = slot.since.load(Ordering::Relaxed);
        for _ in 0..500 {
            if slot.handled.load(Ordering::Relaxed) == since {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(slot.handled.load(Ordering::Relaxed), since, "the watchdog acted");
        drop(running);
        assert_eq!(slot.since.load(Ordering::Relaxed), 0, "the slot is free again");
        drop(watchdog);
    }

    #[test]
    fn the_watchdog_sleeps_when_no_callback_runs_and_wakes_for_one() {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let watchdog = Watchdog::start(runtime.handle().clone(), Duration::from_millis(1)).unwrap();
        for _ in 0..1000 {
            if watchdog.shared.asleep.load(Ordering::SeqCst) {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(watchdog.shared.asleep.load(Ordering::SeqCst), "asleep after idle ticks");
        drop(watchdog.enter(Instant::now()));
        for _ in 0..1000 {
            if !watchdog.shared.asleep.load(Ordering::SeqCst) {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(!watchdog.shared.asleep.load(Ordering::SeqCst), "awake for a callback");
    }
}
