#!/usr/bin/env bash
# Instructions per HashMap operation on u64 ids (insert, lookup, remove)
# with rxce's IdHasher, the identity hash (nohash-hasher's) and std's
# SipHash, for keys in sequence (object ids) and keys 64 apart (one shard
# of the C ABI's handle table). See crates/rxce-bench/src/bin/rxce-idhash.rs
# and BENCHMARKS.md.
#
#   scripts/callgrind-idhash.sh [CYCLES]
set -euo pipefail
cd "$(dirname "$0")/.."
cycles=${1:-100000}
target=${CARGO_TARGET_DIR:-target}
cargo build --release -p rxce-bench --bin rxce-idhash >&2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for pattern in seq stride64; do
    for hasher in id identity sip; do
        valgrind --tool=callgrind --dump-instr=no --toggle-collect='*rxce_idhash_workload*' \
            --callgrind-out-file="$out/$hasher-$pattern.out" "$target/release/rxce-idhash" "$hasher" "$pattern" "$cycles" \
            2>"$out/$hasher-$pattern.log" >/dev/null
        ir=$(awk '/^(summary|totals):/ {print $2; exit}' "$out/$hasher-$pattern.out")
        awk -v h="$hasher" -v p="$pattern" -v ir="$ir" -v n="$cycles" \
            'BEGIN { printf "%-8s %-9s Ir=%d  Ir/operation=%.1f\n", p, h, ir, ir / (3 * n) }'
    done
done
