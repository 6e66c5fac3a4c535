//! The primitives of the engine's hand-made concurrent parts (the registry,
//! the VC's lock and wake-ups): std's and tokio's in every build, and the
//! model checker's in a build with `--cfg rxce_loom`, so that the code the loom
//! tests explore is the code that ships (RELIABILITY.md, "Model checking").
//!
//! Only what those parts share goes through here; the rest of the engine
//! uses std and tokio directly. A `--cfg rxce_loom` build is for the loom tests
//! alone: outside a loom model its primitives panic.

#[cfg(not(rxce_loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
#[cfg(not(rxce_loom))]
pub(crate) use std::sync::{Mutex, MutexGuard};
/// Wakes synchronous senders: a tokio `Notify`, of which the engine uses
/// `notified` (registration) and `notify_waiters`.
#[cfg(not(rxce_loom))]
pub(crate) use tokio::sync::{futures::Notified, Notify};

#[cfg(rxce_loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
#[cfg(rxce_loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};
#[cfg(rxce_loom)]
pub(crate) use model::{Notified, Notify};

/// Locks `m`, going on past a panic of an earlier holder: the state the
/// engine keeps under its locks stays consistent between statements.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A static of the concurrent parts: under loom, one per model execution.
macro_rules! global {
    ($(#[$attr:meta])* static $name:ident: $t:ty = $init:expr;) => {
        #[cfg(not(rxce_loom))]
        $(#[$attr])*
        static $name: $t = $init;
        #[cfg(rxce_loom)]
        loom::lazy_static! {
            $(#[$attr])*
            static ref $name: $t = $init;
        }
    };
}
pub(crate) use global;

/// A thread-local of the concurrent parts: under loom, one per modelled
/// thread (they share one OS thread).
macro_rules! local {
    ($(#[$attr:meta])* static $name:ident: $t:ty = $init:expr;) => {
        #[cfg(not(rxce_loom))]
        std::thread_local! {
            $(#[$attr])*
            static $name: $t = const { $init };
        }
        #[cfg(rxce_loom)]
        loom::thread_local! {
            $(#[$attr])*
            static $name: $t = $init;
        }
    };
}
pub(crate) use local;

#[cfg(rxce_loom)]
mod model;

/// Support for the loom tests of this crate and of the C ABI's.
#[cfg(rxce_loom)]
#[doc(hidden)]
pub mod loom_support {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Instant;

    /// Explores every interleaving of `f` within the preemption budget
    /// (`LOOM_MAX_PREEMPTIONS`, 3 when unset) and prints how many there
    /// were and how long they took.
    pub fn model(name: &str, f: impl Fn() + Sync + Send + 'static) {
        let mut builder = loom::model::Builder::new();
        if builder.preemption_bound.is_none() {
            builder.preemption_bound = Some(3);
        }
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        let started = Instant::now();
        builder.check(move || {
            counted.fetch_add(1, Ordering::Relaxed);
            f();
        });
        println!(
            "loom: {name}: {} interleavings (preemption bound {}) in {:.2?}",
            runs.load(Ordering::Relaxed),
            builder.preemption_bound.unwrap_or(0),
            started.elapsed()
        );
    }

    /// The end of something another modelled thread waits for (a task's
    /// callbacks, as a tear-down awaits the task's `JoinHandle`).
    #[derive(Default)]
    pub struct Done {
        done: loom::sync::Mutex<bool>,
        changed: loom::sync::Condvar,
    }

    impl Done {
        /// Marks it done and wakes the waiters.
        pub fn finish(&self) {
            *self.done.lock().unwrap() = true;
            self.changed.notify_all();
        }

        /// Blocks until it is done (loom reports a deadlock if it never is).
        pub fn wait(&self) {
            let mut done = self.done.lock().unwrap();
            while !*done {
                done = self.changed.wait(done).unwrap();
            }
        }
    }

    /// Keeps the panics a test provokes (whose message starts with
    /// `expected panic`) off the output; other panics print as usual.
    pub fn quiet_expected_panics() {
        static QUIET: std::sync::Once = std::sync::Once::new();
        QUIET.call_once(|| {
            let default = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                let message = info
                    .payload()
                    .downcast_ref::<&str>()
                    .copied()
                    .or_else(|| info.payload().downcast_ref::<String>().map(String::as_str));
                if !message.is_some_and(|m| m.starts_with("expected panic")) {
                    default(info);
                }
            }));
        });
    }
}
