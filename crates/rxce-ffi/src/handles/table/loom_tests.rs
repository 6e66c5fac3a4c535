//! Loom models of the C handle table: the table's own code over two shards,
//! holding model objects (a validity flag the "engine" clears, and a count
//! of uninitialisations) instead of engine handles, and writing no C
//! structure (the addresses are only compared).

use loom::sync::atomic::{AtomicBool, AtomicUsize};
use loom::sync::Arc;
use loom::thread;
use std::sync::atomic::Ordering::SeqCst;

use super::{Held, Table};
use rxce::loom_support::model;
use rxce::Status;

/// An engine object as the table sees it.
#[derive(Clone, Default)]
struct Model {
    /// Cleared by the "engine" when it tears the object down.
    torn_down: Arc<AtomicBool>,
    /// Times the table uninitialised its structure.
    uninitialised: Arc<AtomicUsize>,
    leaf: bool,
}

impl Model {
    fn leaf() -> Model {
        Model {
            leaf: true,
            ..Model::default()
        }
    }
}

impl Held for Model {
    fn is_valid(&self) -> bool {
        !self.torn_down.load(SeqCst)
    }

    fn is_leaf(&self) -> bool {
        self.leaf
    }

    unsafe fn publish_counts(&self, _at: usize) {}

    unsafe fn uninitialise(&self, _at: usize) {
        self.uninitialised.fetch_add(1, SeqCst);
    }
}

/// Where the modelled C structures are (never dereferenced).
const PARENT_AT: usize = 0x1000;
const CHILD_AT: usize = 0x2000;
const OTHER_AT: usize = 0x3000;

fn table() -> Arc<Table<Model>> {
    Arc::new(Table::new(2))
}

/// Records `object` at `at` as a build does (`handles::register`).
fn insert(table: &Table<Model>, at: usize, object: Model, parent: Option<u64>, kind: &str) -> Result<u64, Status> {
    // SAFETY: the model writes no structure.
    unsafe { table.insert(at, object, parent, Box::new(()), kind, |_| {}) }
}

/// A lookup of the handle's key (the data path), a lookup through a copy
/// of its structure, and two tear-downs of it (the client's and a
/// concurrent one), all at once: the copy never finds the entry, the
/// lookup finds it only while it is there, exactly one tear-down
/// uninitialises the structure, and nothing is left.
#[test]
fn loom_handles_lookup_vs_two_tear_downs() {
    model("handle table: lookup vs two tear-downs", || {
        let table = table();
        let vc = Model::leaf();
        let key = insert(&table, CHILD_AT, vc.clone(), None, "VC").unwrap();
        let looker = {
            let table = table.clone();
            thread::spawn(move || {
                assert_eq!(
                    table.find(key, OTHER_AT, |_| Some(())),
                    None,
                    "a copy is a stale handle"
                );
                table.find(key, CHILD_AT, |m| Some(m.is_leaf()))
            })
        };
        let other = {
            let table = table.clone();
            thread::spawn(move || table.remove(key))
        };
        table.remove(key);
        other.join().unwrap();
        assert!(matches!(looker.join().unwrap(), None | Some(true)));
        assert_eq!(table.find(key, CHILD_AT, |_| Some(())), None);
        assert_eq!(vc.uninitialised.load(SeqCst), 1);
        assert!(table.is_empty());
        assert_eq!(table.check_unbuilt(CHILD_AT, "VC"), Ok(()));
    });
}

/// A child's build finishes (its entry is recorded under its parent) while
/// the parent is torn down (the engine takes the child with it, then the
/// parent's entry goes, sweeping what the engine no longer holds): the
/// child is either refused (INVALID_HANDLE: its build tears it down) or
/// recorded and swept with the parent. No entry outlives the tear-down.
#[test]
fn loom_handles_child_build_vs_parent_tear_down() {
    model("handle table: child build vs parent tear-down", || {
        let table = table();
        let parent = Model::default();
        let parent_key = insert(&table, PARENT_AT, parent.clone(), None, "connection").unwrap();
        let child = Model::leaf();
        let build = {
            let (table, child) = (table.clone(), child.clone());
            thread::spawn(move || insert(&table, CHILD_AT, child, Some(parent_key), "VC"))
        };
        parent.torn_down.store(true, SeqCst);
        child.torn_down.store(true, SeqCst);
        table.remove(parent_key);
        match build.join().unwrap() {
            Ok(_) => assert_eq!(child.uninitialised.load(SeqCst), 1, "swept with its parent"),
            Err(status) => {
                assert_eq!(status, Status::INVALID_HANDLE);
                assert_eq!(child.uninitialised.load(SeqCst), 0);
            }
        }
        assert_eq!(parent.uninitialised.load(SeqCst), 1);
        assert!(table.is_empty(), "nothing outlives the parent's tear-down");
        assert_eq!(table.check_unbuilt(CHILD_AT, "VC"), Ok(()));
    });
}

/// Two builds into the same caller memory at once, each claiming it first
/// (RxCeBuildConnection, RxCeBuildVC): exactly one builds; the other is
/// refused before it records anything.
#[test]
fn loom_handles_two_claimed_builds_into_one_memory() {
    model("handle table: two claimed builds into one memory", || {
        let table = table();
        let build = |table: Arc<Table<Model>>| {
            move || {
                let claim = table.claim(CHILD_AT, "VC")?;
                let key = insert(&table, CHILD_AT, Model::leaf(), None, "VC")?;
                drop(claim);
                Ok::<u64, Status>(key)
            }
        };
        let other = thread::spawn(build(table.clone()));
        let mine = build(table.clone())();
        let theirs = other.join().unwrap();
        let built: Vec<u64> = [&mine, &theirs].into_iter().filter_map(|r| r.clone().ok()).collect();
        assert_eq!(built.len(), 1, "{mine:?} {theirs:?}");
        for refused in [mine, theirs].into_iter().filter_map(Result::err) {
            assert_eq!(refused, Status::INVALID_PARAMETER);
        }
        table.remove(built[0]);
        assert!(table.is_empty());
    });
}

/// Two builds into the same caller memory at once that only check it
/// (RxCeBuildTransport, RxCeBuildAddress: `check_unbuilt`, then the
/// engine's build, then the record): exactly one is recorded; the other is
/// refused (its build tears its engine object down), so no entry is
/// orphaned behind a structure that names the other.
#[test]
fn loom_handles_two_checked_builds_into_one_memory() {
    model("handle table: two checked builds into one memory", || {
        let table = table();
        let build = |table: Arc<Table<Model>>| {
            move || {
                table.check_unbuilt(PARENT_AT, "transport")?;
                insert(&table, PARENT_AT, Model::default(), None, "transport")
            }
        };
        let other = thread::spawn(build(table.clone()));
        let mine = build(table.clone())();
        let theirs = other.join().unwrap();
        let built: Vec<u64> = [&mine, &theirs].into_iter().filter_map(|r| r.clone().ok()).collect();
        assert_eq!(built.len(), 1, "{mine:?} {theirs:?}");
        for refused in [mine, theirs].into_iter().filter_map(Result::err) {
            assert_eq!(refused, Status::INVALID_PARAMETER);
        }
        table.remove(built[0]);
        assert!(table.is_empty(), "no orphaned entry");
    });
}
