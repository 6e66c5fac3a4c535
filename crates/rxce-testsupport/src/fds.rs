//! File-descriptor accounting for leak tests.
//!
//! A test that wants to prove a code path does not leak sockets or files
//! takes [`open_fd_count`] before and after and compares. The count covers
//! the whole process, so run such a test alone (or tolerate noise from
//! concurrently running tests in the same binary).

use std::fs;

/// Number of file descriptors currently open in this process.
///
/// Counts the entries of `/proc/self/fd`. Listing that directory briefly
/// opens one descriptor of its own; it is not included in the result.
///
/// # Panics
///
/// Panics if `/proc/self/fd` cannot be read (no procfs mounted), since a
/// test relying on this count could not mean anything without it.
pub fn open_fd_count() -> usize {
    let entries = fs::read_dir("/proc/self/fd").expect("reading /proc/self/fd (is /proc mounted?)");
    // The directory handle used by read_dir is itself listed once.
    entries.filter(|e| e.is_ok()).count().saturating_sub(1)
}
