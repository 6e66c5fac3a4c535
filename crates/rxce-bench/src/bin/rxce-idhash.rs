//! A fixed workload for callgrind: what a `HashMap<u64, _>` costs per
//! operation with the registry's [`rxce::IdHasher`] against the identity
//! hash (what the `nohash-hasher` crate's `BuildNoHashHasher<u64>` does:
//! the key is the hash) and std's SipHash (fixed keys, so the counts
//! repeat).
//!
//! `rxce-idhash HASHER PATTERN [CYCLES]`, HASHER one of `id`, `identity`,
//! `sip`; PATTERN one of
//!
//! * `seq`: keys handed out in sequence, as the registry's object ids;
//! * `stride64`: keys `64 k + 5`, as the ids one shard of the C ABI's
//!   handle table (64 shards, `key % 64`) holds.
//!
//! A map of 1,000 live keys (filled before the measured call) goes through
//! CYCLES cycles (default 100,000) of: insert the next key, look up a key
//! still live, remove the oldest key — three operations. Only
//! `rxce_idhash_workload` is counted (`--toggle-collect`); see
//! `scripts/callgrind-idhash.sh` and `BENCHMARKS.md`.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::hint::black_box;

/// The identity hash of a `u64` key, as `nohash_hasher::NoHashHasher<u64>`
/// computes it.
#[derive(Default)]
struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, _bytes: &[u8]) {
        unreachable!("u64 keys only");
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Live keys in the map.
const LIVE: u64 = 1000;

/// The `n`th key of `pattern`.
fn key(pattern: &str, n: u64) -> u64 {
    match pattern {
        "seq" => n + 1,
        _ => n * 64 + 5,
    }
}

/// The measured call (callgrind collects inside it only).
#[inline(never)]
fn rxce_idhash_workload<S: BuildHasher>(map: &mut HashMap<u64, u64, S>, pattern: &str, cycles: u64) -> u64 {
    let mut found = 0;
    for n in LIVE..LIVE + cycles {
        map.insert(key(pattern, n), n);
        found += map.get(&key(pattern, n - LIVE / 2)).copied().unwrap_or(0);
        map.remove(&key(pattern, n - LIVE));
    }
    found
}

fn run<S: BuildHasher + Default>(pattern: &str, cycles: u64) {
    let mut map: HashMap<u64, u64, S> = HashMap::default();
    for n in 0..LIVE {
        map.insert(key(pattern, n), n);
    }
    let found = rxce_idhash_workload(black_box(&mut map), black_box(pattern), cycles);
    assert_eq!(map.len() as u64, LIVE);
    println!(
        "pattern={pattern} cycles={cycles} operations={} found={found}",
        cycles * 3
    );
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (hasher, pattern) = (args.next().unwrap_or_default(), args.next().unwrap_or_default());
    let cycles: u64 = args.next().map_or(100_000, |n| n.parse().expect("CYCLES is a number"));
    if !matches!(pattern.as_str(), "seq" | "stride64") {
        eprintln!("usage: rxce-idhash id|identity|sip seq|stride64 [CYCLES]");
        std::process::exit(2);
    }
    match hasher.as_str() {
        "id" => run::<BuildHasherDefault<rxce::IdHasher>>(&pattern, cycles),
        "identity" => run::<BuildHasherDefault<Identity>>(&pattern, cycles),
        "sip" => run::<BuildHasherDefault<DefaultHasher>>(&pattern, cycles),
        _ => {
            eprintln!("usage: rxce-idhash id|identity|sip seq|stride64 [CYCLES]");
            std::process::exit(2);
        }
    }
}
