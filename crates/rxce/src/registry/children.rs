//! Each parent's list of live children, closed for good at the parent's
//! tear-down so that no child can be added to a dying parent.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use crate::sync::{lock, Mutex, MutexGuard};

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

type IdMap<T> = HashMap<u64, Arc<T>, BuildHasherDefault<IdHasher>>;

struct ChildrenState<T> {
    closed: bool,
    /// One child is kept inline: most parents have one (a connection and
    /// its VC), and a map allocates on its first insert.
    first: Option<(u64, Arc<T>)>,
    /// The others.
    rest: IdMap<T>,
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
                first: None,
                rest: HashMap::default(),
            }),
        }
    }
}

/// The children a parent's close hands over (without a copy into a new
/// list: the inline one, then the map's).
pub(crate) struct Closed<T> {
    first: Option<Arc<T>>,
    rest: IdMap<T>,
}

impl<T> Default for Closed<T> {
    fn default() -> Closed<T> {
        Closed {
            first: None,
            rest: HashMap::default(),
        }
    }
}

impl<T> Closed<T> {
    /// How many children were handed over.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.rest.len()
    }
}

impl<T> IntoIterator for Closed<T> {
    type Item = Arc<T>;
    type IntoIter =
        std::iter::Chain<std::option::IntoIter<Arc<T>>, std::collections::hash_map::IntoValues<u64, Arc<T>>>;

    fn into_iter(self) -> Self::IntoIter {
        self.first.into_iter().chain(self.rest.into_values())
    }
}

impl<T> Children<T> {
    fn lock(&self) -> MutexGuard<'_, ChildrenState<T>> {
        lock(&self.state)
    }

    /// Adds a child; `false` when the parent is closed (torn down).
    pub(crate) fn insert(&self, id: u64, child: Arc<T>) -> bool {
        let mut state = self.lock();
        if state.closed {
            return false;
        }
        let state = &mut *state;
        match &mut state.first {
            Some((first, kept)) if *first == id => *kept = child,
            None if !state.rest.contains_key(&id) => state.first = Some((id, child)),
            _ => {
                state.rest.insert(id, child);
            }
        }
        true
    }

    /// Removes a child (its own tear-down).
    pub(crate) fn remove(&self, id: u64) -> Option<Arc<T>> {
        let mut state = self.lock();
        match &state.first {
            Some((first, _)) if *first == id => state.first.take().map(|(_, child)| child),
            _ => state.rest.remove(&id),
        }
    }

    /// Closes the list for good and returns the children, or `None` when it
    /// was closed already.
    pub(crate) fn close(&self) -> Option<Closed<T>> {
        let mut state = self.lock();
        if state.closed {
            return None;
        }
        state.closed = true;
        Some(Closed {
            first: state.first.take().map(|(_, child)| child),
            rest: std::mem::take(&mut state.rest),
        })
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// The live children now.
    pub(crate) fn snapshot(&self) -> Vec<Arc<T>> {
        let state = self.lock();
        state
            .first
            .iter()
            .map(|(_, child)| child)
            .chain(state.rest.values())
            .cloned()
            .collect()
    }

    pub(crate) fn len(&self) -> usize {
        let state = self.lock();
        usize::from(state.first.is_some()) + state.rest.len()
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
        // The inline place is free again; a child there and one in the map.
        assert!(children.insert(4, Arc::new(40)));
        assert!(children.insert(4, Arc::new(41)), "the same id replaces");
        assert_eq!(children.len(), 2);
        let mut live: Vec<u32> = children.snapshot().iter().map(|c| **c).collect();
        live.sort_unstable();
        assert_eq!(live, [20, 41]);
        assert_eq!(children.remove(4).as_deref(), Some(&41));
        assert!(children.remove(4).is_none());
        let closed = children.close().unwrap();
        assert_eq!(closed.len(), 1);
        assert!(children.is_closed());
        assert!(!children.insert(3, Arc::new(30)));
        assert!(children.close().is_none());
        assert!(children.snapshot().is_empty());
    }
}

#[cfg(all(test, rxce_loom))]
mod loom_tests {
    use super::*;
    use crate::sync::loom_support::model;
    use loom::thread;

    fn ids(children: Closed<u32>) -> Vec<u32> {
        let mut ids: Vec<u32> = children.into_iter().map(|c| *c).collect();
        ids.sort_unstable();
        ids
    }

    /// A parent's tear-down closes its list while a child is being added
    /// (a build finishing) and another removed (its own tear-down): the
    /// new child is either refused (its build tears it down) or handed to
    /// the parent's tear-down, and the leaving one is handed over exactly
    /// when it had not left yet. No child is left in a closed list.
    #[test]
    fn loom_children_close_vs_insert_and_remove() {
        model("children: close vs insert vs remove", || {
            let children = loom::sync::Arc::new(Children::<u32>::default());
            assert!(children.insert(1, Arc::new(1)));
            let adder = {
                let children = children.clone();
                thread::spawn(move || children.insert(2, Arc::new(2)))
            };
            let leaver = {
                let children = children.clone();
                thread::spawn(move || children.remove(1).is_some())
            };
            let closed = ids(children.close().expect("the first close gets the children"));
            let added = adder.join().unwrap();
            let left = leaver.join().unwrap();
            let mut expected = Vec::new();
            if !left {
                expected.push(1);
            }
            if added {
                expected.push(2);
            }
            assert_eq!(closed, expected, "added {added}, left {left}");
            assert!(children.is_closed());
            assert_eq!(children.len(), 0, "nothing stays in a closed list");
            assert!(!children.insert(3, Arc::new(3)));
        });
    }

    /// Two tear-downs of one parent race: exactly one gets the children.
    #[test]
    fn loom_children_close_once() {
        model("children: close vs close", || {
            let children = loom::sync::Arc::new(Children::<u32>::default());
            assert!(children.insert(1, Arc::new(1)));
            let other = {
                let children = children.clone();
                thread::spawn(move || children.close().map(ids))
            };
            let mine = children.close().map(ids);
            let theirs = other.join().unwrap();
            match (mine, theirs) {
                (Some(got), None) | (None, Some(got)) => assert_eq!(got, [1]),
                both => panic!("one close gets the children, got {both:?}"),
            }
        });
    }
}
