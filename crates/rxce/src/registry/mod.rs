//! The registry of live objects, by job: object ids (here), each parent's
//! children ([`children`]), the engine-wide counts ([`live`]), and the
//! client callbacks' guard and waits-for graph ([`callbacks`]).

mod callbacks;
mod children;
mod live;

use std::sync::atomic::{AtomicU64, Ordering};

pub(crate) use callbacks::{guarded_callback, in_callback_of, wait_for, CallbackWatch};
pub use children::IdHasher;
pub(crate) use children::{Children, Closed};
pub use live::LiveObjects;
pub(crate) use live::{Kind, LiveCounts, LiveToken};

/// A fresh object id (unique within the process, across kinds).
pub(crate) fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
