#!/usr/bin/env bash
# The fixed callgrind workload of BENCHMARKS.md: instructions per byte sent
# (bulk: 64 KiB sends) and per receive indication (small: 64-byte sends, one
# indication each), over the memory transport on a current-thread runtime;
# then user-space instructions per byte over TCP on loopback, rxce on both
# ends (tcp) against raw tokio sockets (tcp-raw). Only the workload call is
# counted (--toggle-collect). Counts repeat within a fraction of a percent;
# compare them with the baseline in BENCHMARKS.md. Last, user-space
# instructions per connection built and torn down (connect) against a raw
# tokio connect and drop (connect-raw), and per multi-transport build over
# a black hole and a live listener (race: the live one wins, the other
# attempt is cancelled).
#
#   scripts/callgrind.sh [BULK_SENDS [SMALL_SENDS [CONNECTIONS]]]
#
# RXCE_CALLGRIND_BIN=path runs a binary built before (a saved baseline)
# instead of building this tree's; RXCE_CALLGRIND_MODES="connect race" runs
# only those modes.
set -euo pipefail
cd "$(dirname "$0")/.."
bulk=${1:-2000}
small=${2:-20000}
connections=${3:-1000}
target=${CARGO_TARGET_DIR:-target}
if [[ -n ${RXCE_CALLGRIND_BIN:-} ]]; then
    bin=$RXCE_CALLGRIND_BIN
else
    cargo build --release -p rxce-bench --bin rxce-callgrind >&2
    bin="$target/release/rxce-callgrind"
fi
modes=" ${RXCE_CALLGRIND_MODES:-bulk small tcp tcp-raw rr rr-raw connect connect-raw race} "
want() { [[ $modes == *" $1 "* ]]; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
run() { # mode count
    valgrind --tool=callgrind --dump-instr=no --toggle-collect='*rxce_callgrind_workload*' \
        --callgrind-out-file="$out/$1.out" "$bin" "$1" "$2" 2>"$out/$1.log" >"$out/$1.txt"
    local ir
    ir=$(awk '/^(summary|totals):/ {print $2; exit}' "$out/$1.out")
    echo "$ir $(cat "$out/$1.txt")"
}
if want bulk; then
    read -r ir line < <(run bulk "$bulk")
    bytes=$(sed -E 's/.*bytes=([0-9]+).*/\1/' <<<"$line")
    awk -v ir="$ir" -v b="$bytes" -v l="$line" 'BEGIN { printf "bulk:  %s  Ir=%d  Ir/byte=%.3f\n", l, ir, ir / b }'
fi
if want small; then
    read -r ir line < <(run small "$small")
    ind=$(sed -E 's/.*indications=([0-9]+).*/\1/' <<<"$line")
    awk -v ir="$ir" -v n="$ind" -v l="$line" 'BEGIN { printf "small: %s  Ir=%d  Ir/indication=%.0f\n", l, ir, ir / n }'
fi
for mode in tcp tcp-raw; do
    want "$mode" || continue
    read -r ir line < <(run "$mode" "$bulk")
    bytes=$(sed -E 's/.*bytes=([0-9]+).*/\1/' <<<"$line")
    awk -v ir="$ir" -v b="$bytes" -v l="$line" \
        'BEGIN { printf "%s  Ir=%d  Ir/byte=%.4f  Ir/64KiB=%.0f (user space only)\n", l, ir, ir / b, ir / b * 65536 }'
done
for mode in rr rr-raw; do
    want "$mode" || continue
    read -r ir line < <(run "$mode" "$small")
    awk -v ir="$ir" -v n="$small" -v l="$line" 'BEGIN { printf "%s  Ir=%d  Ir/round-trip=%.0f (user space only)\n", l, ir, ir / n }'
done
# small-inbox and rr-inbox (run when named in RXCE_CALLGRIND_MODES): small
# and rr with the answers awaited from an rxce::Inbox instead of a handler.
for mode in small-inbox rr-inbox; do
    want "$mode" || continue
    read -r ir line < <(run "$mode" "$small")
    awk -v ir="$ir" -v n="$small" -v l="$line" 'BEGIN { printf "%s  Ir=%d  Ir/message=%.0f (user space only)\n", l, ir, ir / n }'
done
for mode in connect connect-raw race; do
    want "$mode" || continue
    read -r ir line < <(run "$mode" "$connections")
    awk -v ir="$ir" -v n="$connections" -v l="$line" 'BEGIN { printf "%s  Ir=%d  Ir/connection=%.0f (user space only)\n", l, ir, ir / n }'
done
