//! The flat table of built objects behind the C handles: entries by key,
//! split into shards by key, each with its own lock; where each object's
//! structure is; and the caller memory that builds under way hold.
//!
//! Generic over what an entry holds ([`Held`]): the engine's handles in the
//! library, models in the loom tests, which so explore this very code.

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasherDefault;
use std::sync::atomic::Ordering;

use rxce::Status;

use crate::sync::{lock, AtomicU64, Mutex, MutexGuard};

/// What the table needs of the objects it holds.
pub(crate) trait Held: Send + 'static {
    /// False once the engine has torn the object down.
    fn is_valid(&self) -> bool;

    /// True when the object's tear-down takes no other object with it.
    fn is_leaf(&self) -> bool;

    /// Writes the engine's counts below the object into its structure.
    ///
    /// # Safety
    ///
    /// `at` is the object's structure, which the caller keeps valid while
    /// the object is built.
    unsafe fn publish_counts(&self, at: usize);

    /// Clears the documented fields of the torn-down object's structure.
    ///
    /// # Safety
    ///
    /// As for [`Held::publish_counts`]: its tear-down is under way.
    unsafe fn uninitialise(&self, at: usize);
}

struct Entry<O> {
    object: O,
    /// Where the C structure is.
    at: usize,
    /// The parent's key (none for a transport).
    parent: Option<u64>,
    /// What the structure's pointer fields point to.
    _copies: Box<dyn Send>,
}

type Entries<O> = HashMap<u64, Entry<O>, BuildHasherDefault<rxce::IdHasher>>;

/// The built objects, by key.
pub(crate) struct Table<O> {
    /// A key's shard is `key % shards.len()`.
    shards: Vec<Mutex<Entries<O>>>,
    /// Keys are handed out in sequence and never reused.
    next_key: AtomicU64,
    /// Builds and tear-downs, one at a time: they change the table across
    /// shards (an entry and its parent's counts, a parent and the entries
    /// its tear-down took). Never taken on the data path.
    changes: Mutex<()>,
    /// Where the built objects are, of every kind: a build into memory that
    /// holds one is refused whatever kind it asks for (it would orphan that
    /// object). Changed by builds and tear-downs, after a shard's lock.
    built_at: Mutex<HashSet<usize>>,
    /// Caller memory that builds under way will initialise.
    claimed: Mutex<Vec<usize>>,
}

/// Unbuilt caller memory held by a build under way (see [`Table::claim`]).
/// Released on drop.
pub(crate) struct Claim<'a, O> {
    table: &'a Table<O>,
    at: usize,
}

impl<O> std::fmt::Debug for Claim<'_, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Claim").field(&self.at).finish()
    }
}

impl<O> Drop for Claim<'_, O> {
    fn drop(&mut self) {
        lock(&self.table.claimed).retain(|&at| at != self.at);
    }
}

impl<O: Held> Table<O> {
    /// An empty table of `shards` shards.
    pub(crate) fn new(shards: usize) -> Table<O> {
        Table {
            shards: (0..shards).map(|_| Mutex::new(Entries::default())).collect(),
            next_key: AtomicU64::new(1),
            changes: Mutex::new(()),
            built_at: Mutex::new(HashSet::new()),
            claimed: Mutex::new(Vec::new()),
        }
    }

    /// The shard that holds `key`.
    fn shard(&self, key: u64) -> MutexGuard<'_, Entries<O>> {
        lock(&self.shards[(key % self.shards.len() as u64) as usize])
    }

    /// What `read` makes of the object of entry `key`, if that entry's
    /// structure is at `at`: `None` for a key torn down, never handed out,
    /// forged, or read from a copy of the structure.
    pub(crate) fn find<R>(&self, key: u64, at: usize, read: impl FnOnce(&O) -> Option<R>) -> Option<R> {
        self.shard(key)
            .get(&key)
            .filter(|entry| entry.at == at)
            .and_then(|entry| read(&entry.object))
    }

    /// Refuses memory that holds a built object of any kind.
    pub(crate) fn check_unbuilt(&self, at: usize, kind: &str) -> Result<(), Status> {
        if lock(&self.built_at).contains(&at) {
            return Err(holds_a_built_object(kind));
        }
        Ok(())
    }

    /// Claims unbuilt memory for a build: as [`Table::check_unbuilt`], and
    /// not claimed by another build under way.
    pub(crate) fn claim(&self, at: usize, kind: &str) -> Result<Claim<'_, O>, Status> {
        {
            let mut claimed = lock(&self.claimed);
            if claimed.contains(&at) {
                return Err(
                    Status::INVALID_PARAMETER.with_message(format!("a build into this {kind} is under way already"))
                );
            }
            claimed.push(at);
        }
        // Checked once claimed: a build that finished in between is seen built.
        let claim = Claim { table: self, at };
        self.check_unbuilt(at, kind)?;
        Ok(claim)
    }

    /// Records `object`, built into the structure at `at` under the entry
    /// `parent`, and lets `write` initialise that structure with the new
    /// key. `copies` lives as long as the entry.
    ///
    /// A parent torn down meanwhile is STATUS_INVALID_HANDLE, and memory
    /// that holds a built object (another build into it got there first)
    /// STATUS_INVALID_PARAMETER; nothing is recorded then: the caller tears
    /// the engine object down again.
    ///
    /// # Safety
    ///
    /// `at` is a structure of the object's kind, valid for `write` and kept
    /// valid and in place by the caller until the object is torn down.
    pub(crate) unsafe fn insert(
        &self,
        at: usize,
        object: O,
        parent: Option<u64>,
        copies: Box<dyn Send>,
        kind: &str,
        write: impl FnOnce(u64),
    ) -> Result<u64, Status> {
        let key = self.next_key.fetch_add(1, Ordering::Relaxed);
        let _changing = lock(&self.changes);
        if parent.is_some_and(|k| !self.shard(k).contains_key(&k)) {
            return Err(Status::INVALID_HANDLE.with_message(format!("the parent of the new {kind} was torn down")));
        }
        // Builds that only checked the memory before building (transports,
        // addresses) may both have found it unbuilt: the first recorded
        // wins, the other would orphan it.
        if !lock(&self.built_at).insert(at) {
            return Err(holds_a_built_object(kind));
        }
        write(key);
        let entry = Entry {
            object,
            at,
            parent,
            _copies: copies,
        };
        // SAFETY: `at` is the entry's structure (the caller's promise).
        unsafe { entry.object.publish_counts(at) };
        self.shard(key).insert(key, entry);
        self.publish_ancestors(parent);
        Ok(key)
    }

    /// Forgets the object `key`, and every object the engine tore down with
    /// it (for a parent's tear-down), uninitialising their structures and
    /// updating the counts above.
    pub(crate) fn remove(&self, key: u64) {
        let _changing = lock(&self.changes);
        let Some(root) = self.shard(key).remove(&key) else {
            return;
        };
        lock(&self.built_at).remove(&root.at);
        // SAFETY: entries are exactly the built objects, whose memory the
        // caller keeps valid until their tear-down, which this is.
        unsafe { root.object.uninitialise(root.at) };
        if !root.object.is_leaf() {
            // What the engine took down with a parent: every entry whose
            // object it no longer holds.
            let mut gone = Vec::new();
            for shard in &self.shards {
                let mut shard = lock(shard);
                let keys: Vec<u64> = shard
                    .iter()
                    .filter(|(_, e)| !e.object.is_valid())
                    .map(|(k, _)| *k)
                    .collect();
                gone.extend(keys.into_iter().filter_map(|k| shard.remove(&k)));
            }
            let mut built = lock(&self.built_at);
            for entry in &gone {
                built.remove(&entry.at);
                // SAFETY: as above: torn down with their parent.
                unsafe { entry.object.uninitialise(entry.at) };
            }
        }
        self.publish_ancestors(root.parent);
    }

    /// Publishes the counts of `key` and every ancestor of it.
    fn publish_ancestors(&self, mut key: Option<u64>) {
        while let Some(k) = key {
            let shard = self.shard(k);
            let Some(entry) = shard.get(&k) else {
                break;
            };
            // SAFETY: a built object's memory is valid until its tear-down,
            // which takes its entry out first.
            unsafe { entry.object.publish_counts(entry.at) };
            key = entry.parent;
        }
    }

    /// True when no object is built and no build holds a claim.
    pub(crate) fn is_empty(&self) -> bool {
        self.shards.iter().all(|s| lock(s).is_empty()) && lock(&self.claimed).is_empty()
    }

    /// Forgets every object and every claim, and lets the table's memory go.
    /// Their structures are not touched: the caller may have let them go.
    pub(crate) fn clear(&self) {
        let _changing = lock(&self.changes);
        for shard in &self.shards {
            drop(std::mem::take(&mut *lock(shard)));
        }
        drop(std::mem::take(&mut *lock(&self.built_at)));
        drop(std::mem::take(&mut *lock(&self.claimed)));
    }
}

fn holds_a_built_object(kind: &str) -> Status {
    Status::INVALID_PARAMETER.with_message(format!("the {kind} memory holds a built object: tear it down first"))
}

#[cfg(all(test, rxce_loom))]
mod loom_tests;
