//! The primitives of the C handle table: std's in every build, and the
//! model checker's in a build with `--cfg rxce_loom`, so that the table the
//! loom tests explore is the one that ships (RELIABILITY.md, "Model
//! checking"). A `--cfg rxce_loom` build is for the loom tests alone.

#[cfg(not(rxce_loom))]
pub(crate) use std::sync::atomic::AtomicU64;
#[cfg(not(rxce_loom))]
pub(crate) use std::sync::{Mutex, MutexGuard};

#[cfg(rxce_loom)]
pub(crate) use loom::sync::atomic::AtomicU64;
#[cfg(rxce_loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};

/// Locks `m`, going on past a panic of an earlier holder (no panic crosses
/// the C ABI, and the table is consistent between statements).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
