//! The soak's books: every VC's and datagram address's ledger, shared by
//! the lanes (which send and tear down) and the event handlers (which
//! check what the engine indicates), and the place broken promises are
//! reported.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rxce::Vc;

use super::datagrams::DatagramLedger;
use super::ledger::{Content, Lineage, VcLedger};
use super::stats::Stats;

/// How long a torn-down object's ledger is kept to catch late indications.
const KEEP_TORN_DOWN: Duration = Duration::from_secs(60);

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One VC's ledger and whether it already broke a promise (one report per
/// VC: after a wrong byte every later byte is wrong too).
pub struct Entry {
    /// The ledger.
    pub ledger: VcLedger,
    /// A data promise was broken; data checks stop.
    pub quarantined: bool,
}

/// The soak's books.
pub struct Books {
    /// The counters.
    pub stats: Arc<Stats>,
    seed: u64,
    vcs: Mutex<HashMap<u64, Arc<Mutex<Entry>>>>,
    datagrams: Mutex<HashMap<u64, Arc<Mutex<DatagramLedger>>>>,
    /// Rebuilt VCs by the id of the VC they replace, until a lane takes
    /// them up.
    replacements: Mutex<HashMap<u64, Vc>>,
    /// Ids of torn-down VCs and addresses, oldest first, for pruning.
    torn: Mutex<VecDeque<(Instant, u64)>>,
    /// Datagrams echoed and lost on addresses whose ledgers are gone.
    retired: Mutex<(u64, u64)>,
    next_context: AtomicUsize,
}

/// A key for the pattern and choices of object `id` under `seed`.
fn key(seed: u64, id: u64) -> u64 {
    seed.rotate_left(17) ^ id.wrapping_mul(0xD6E8_FEB8_6659_FD93)
}

/// The lineage of a VC, read from its handles.
pub fn lineage(vc: &Vc) -> Lineage {
    let connection = vc.connection();
    let address = vc.address();
    let connection_address = connection.address();
    Lineage {
        vc: vc.id(),
        connection: connection.id(),
        address: address.id(),
        transport: address.transport().id(),
        connection_address: connection_address.id(),
        connection_transport: connection_address.transport().id(),
    }
}

impl Books {
    /// Empty books for a soak of `seed`.
    pub fn new(seed: u64, stats: Arc<Stats>) -> Books {
        Books {
            stats,
            seed,
            vcs: Mutex::default(),
            datagrams: Mutex::default(),
            replacements: Mutex::default(),
            torn: Mutex::default(),
            retired: Mutex::default(),
            next_context: AtomicUsize::new(1),
        }
    }

    /// A completion context no other send has.
    pub fn next_context(&self) -> usize {
        self.next_context.fetch_add(1, Ordering::Relaxed)
    }

    /// The ledger of `vc` (made on first sight).
    pub fn vc(&self, vc: &Vc) -> Arc<Mutex<Entry>> {
        let mut vcs = lock(&self.vcs);
        vcs.entry(vc.id())
            .or_insert_with(|| {
                Arc::new(Mutex::new(Entry {
                    ledger: VcLedger::new(lineage(vc), key(self.seed, vc.id())),
                    quarantined: false,
                }))
            })
            .clone()
    }

    /// Says what `vc` talks to.
    pub fn register(&self, vc: &Vc, content: Content) {
        lock(&self.vc(vc)).ledger.set_content(content);
    }

    /// The books of datagram address `address` of transport `transport`
    /// (made on first sight).
    pub fn datagram(&self, address: u64, transport: u64) -> Arc<Mutex<DatagramLedger>> {
        lock(&self.datagrams)
            .entry(address)
            .or_insert_with(|| {
                Arc::new(Mutex::new(DatagramLedger::new(
                    address,
                    transport,
                    key(self.seed, address),
                )))
            })
            .clone()
    }

    /// Reports a broken promise about object `id`.
    pub fn violation(&self, id: u64, what: impl std::fmt::Display) {
        self.stats.violation(format!("{what} (object {id})"));
    }

    /// Reports a broken data promise of a VC once.
    pub fn data_violation(&self, entry: &mut Entry, what: String) {
        if !entry.quarantined {
            entry.quarantined = true;
            self.violation(entry.ledger.lineage.vc, what);
        }
    }

    /// `lost` was rebuilt as `restored`.
    pub fn replaced(&self, lost: &Vc, restored: &Vc) {
        lock(&self.replacements).insert(lost.id(), restored.clone());
    }

    /// The VC rebuilt in place of `id`, once.
    pub fn take_replacement(&self, id: u64) -> Option<Vc> {
        lock(&self.replacements).remove(&id)
    }

    /// The tear-down of object `id` returned: every VC and datagram address
    /// below it is done, and must have completed everything it owed.
    pub fn torn_down(&self, id: u64) {
        let now = Instant::now();
        // Entries are locked only after the map's lock is let go: handlers
        // lock an entry, never the map while they hold one.
        let vcs: Vec<Arc<Mutex<Entry>>> = lock(&self.vcs).values().cloned().collect();
        let mut torn = Vec::new();
        for entry in vcs {
            let mut entry = lock(&entry);
            if entry.ledger.is_torn_down() || !entry.ledger.lineage.contains(id) {
                continue;
            }
            entry.ledger.torn_down();
            let vc = entry.ledger.lineage.vc;
            torn.push(vc);
            for broken in entry.ledger.final_check() {
                self.violation(vc, broken);
            }
        }
        let datagrams: Vec<Arc<Mutex<DatagramLedger>>> = lock(&self.datagrams).values().cloned().collect();
        for ledger in datagrams {
            let mut ledger = lock(&ledger);
            if ledger.is_torn_down() || (ledger.address != id && ledger.transport != id) {
                continue;
            }
            ledger.torn_down();
            torn.push(ledger.address);
            for broken in ledger.final_check() {
                self.violation(ledger.address, broken);
            }
        }
        lock(&self.replacements).retain(|lost, restored| !torn.contains(lost) && !torn.contains(&restored.id()));
        lock(&self.torn).extend(torn.into_iter().map(|id| (now, id)));
    }

    /// Forgets ledgers torn down long enough ago, and counts datagrams
    /// unanswered for long as lost.
    pub fn prune(&self) {
        let now = Instant::now();
        let mut old = Vec::new();
        {
            let mut torn = lock(&self.torn);
            while torn
                .front()
                .is_some_and(|(at, _)| now.duration_since(*at) > KEEP_TORN_DOWN)
            {
                old.extend(torn.pop_front().map(|(_, id)| id));
            }
        }
        {
            let mut vcs = lock(&self.vcs);
            let mut datagrams = lock(&self.datagrams);
            let mut retired = lock(&self.retired);
            for id in old {
                vcs.remove(&id);
                if let Some(ledger) = datagrams.remove(&id) {
                    let ledger = lock(&ledger);
                    retired.0 += ledger.echoed;
                    retired.1 += ledger.lost;
                }
            }
        }
        let datagrams: Vec<Arc<Mutex<DatagramLedger>>> = lock(&self.datagrams).values().cloned().collect();
        for ledger in datagrams {
            lock(&ledger).expire(now);
        }
    }

    /// Ledgers whose VC or address was never torn down (none, once every
    /// transport's tear-down returned).
    pub fn not_torn_down(&self) -> Vec<u64> {
        let vcs: Vec<(u64, Arc<Mutex<Entry>>)> = lock(&self.vcs).iter().map(|(id, e)| (*id, e.clone())).collect();
        let mut ids: Vec<u64> = vcs
            .into_iter()
            .filter(|(_, e)| !lock(e).ledger.is_torn_down())
            .map(|(id, _)| id)
            .collect();
        ids.sort();
        ids
    }

    /// Datagrams echoed intact and datagrams lost, over every address.
    pub fn datagram_totals(&self) -> (u64, u64) {
        let datagrams: Vec<Arc<Mutex<DatagramLedger>>> = lock(&self.datagrams).values().cloned().collect();
        let retired = *lock(&self.retired);
        datagrams.iter().fold(retired, |(echoed, lost), d| {
            let d = lock(d);
            (echoed + d.echoed, lost + d.lost)
        })
    }

    /// Drops every ledger and replacement (the soak is over): nothing of
    /// the engine's is held after this.
    pub fn clear(&self) {
        lock(&self.vcs).clear();
        lock(&self.datagrams).clear();
        lock(&self.replacements).clear();
        lock(&self.torn).clear();
    }
}
