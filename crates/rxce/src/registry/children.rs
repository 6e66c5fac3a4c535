//! Each parent's list of live children, closed for good at the parent's
//! tear-down so that no child can be added to a dying parent.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};

/// Hashes object ids (and other keys handed out in sequence, such as the C
/// ABI's handles). They are unique, so they need spreading, not protection
/// from chosen keys: a Fibonacci multiply puts their entropy in the top
/// bits, where the table looks first. (The default SipHash was a tenth of a
/// connection's build.) For `HashMap<u64, V, BuildHasherDefault<IdHasher>>`.
#[derive(Debug, Default, Clone, Copy)]
pub struct IdHasher(u64);

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
}
