#!/usr/bin/env bash
# Fuzzes every parser of rxce (see RELIABILITY.md, "Fuzzing"):
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Installs cargo-fuzz when it is missing, builds every target of fuzz/
# (stable toolchain with RUSTC_BOOTSTRAP=1, AddressSanitizer, debug
# assertions), then runs each target (or the ones named) for
# SECONDS_PER_TARGET seconds (default 30) from its seed corpus
# fuzz/corpus/<target>/. Exits non-zero on the first crash, panic, leak,
# timeout or out-of-memory, printing the input that did it and the commands
# to reproduce and minimise it; the input is kept in fuzz/artifacts/<target>/.
#
# Environment: CARGO_TARGET_DIR (default fuzz/target); FUZZ_CORPUS_DIR, a
# directory to keep the corpus grown by the run in (default: a temporary
# one, removed at the end — the committed seeds are never written to);
# FUZZ_JOBS=N runs N targets at a time (default 1).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-30}
shift || true
if ! [[ $seconds =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: $0 [SECONDS_PER_TARGET] [TARGET...]" >&2
    exit 2
fi

export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/fuzz/target}
mkdir -p "$CARGO_TARGET_DIR"
CARGO_TARGET_DIR=$(cd "$CARGO_TARGET_DIR" && pwd)

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo fuzz list --fuzz-dir fuzz)
fi

echo "== building ${#targets[@]} fuzz targets"
build_start=$SECONDS
cargo fuzz build --fuzz-dir fuzz --debug-assertions
echo "== built in $((SECONDS - build_start)) s"

triple=$(rustc -vV | sed -n 's/^host: //p')
bin_dir=$CARGO_TARGET_DIR/$triple/release

if [ -n "${FUZZ_CORPUS_DIR:-}" ]; then
    work=$FUZZ_CORPUS_DIR
    mkdir -p "$work"
else
    work=$(mktemp -d "$CARGO_TARGET_DIR/fuzz-corpus.XXXXXX")
fi

# Every fuzzer runs as a job of its own process group (job control on);
# on exit (normal, error or signal) the groups still running are killed,
# so nothing is left behind.
set -m
pids=()
cleanup() {
    for pid in "${pids[@]}"; do
        kill -TERM -- "-$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [ -z "${FUZZ_CORPUS_DIR:-}" ]; then
        rm -rf "$work"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

logs=$work/logs
mkdir -p "$logs"

# Starts one target in the background; its log goes to $logs/<target>.log.
# -timeout: one input running longer than 30 s is a hang (the end-to-end
# target reports its own after 10 s); `timeout` is a safety net.
start_target() {
    local target=$1
    mkdir -p "$work/$target" "fuzz/artifacts/$target" "fuzz/corpus/$target"
    timeout --foreground --kill-after=10 $((seconds + 120)) \
        "$bin_dir/$target" "$work/$target" "fuzz/corpus/$target" \
        -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 \
        -artifact_prefix="fuzz/artifacts/$target/" -print_final_stats=1 \
        >"$logs/$target.log" 2>&1 &
    pids+=($!)
}

summary() {
    local target=$1 log=$logs/$1.log
    local execs rate cov ft
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
    ft=$(grep -Eo 'ft: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
    printf '%-16s %12s execs %9s execs/s  cov %6s  ft %6s\n' \
        "$target" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}"
}

report_crash() {
    local target=$1 status=$2 log=$logs/$1.log
    echo
    echo "!! $target failed (exit status $status)"
    grep -E -A4 "panicked at" "$log" | head -12 || true
    grep -E "ERROR: |SUMMARY: " "$log" | head -6 || true
    local input
    input=$(sed -n 's/.*Test unit written to //p' "$log" | tail -1)
    cp "$log" "fuzz/artifacts/$target/fuzz.log"
    echo "-- the end of its log (kept in fuzz/artifacts/$target/fuzz.log):"
    tail -25 "$log"
    if [ -n "$input" ]; then
        echo
        echo "crash input: $input"
        echo "reproduce:   RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir fuzz --debug-assertions $target $input"
        echo "minimise:    RUSTC_BOOTSTRAP=1 cargo fuzz tmin --fuzz-dir fuzz --debug-assertions $target $input"
    else
        echo "no crash input was written (see the log above)"
    fi
}

echo "== fuzzing each target for $seconds s"
jobs=${FUZZ_JOBS:-1}
failed=0
run_start=$SECONDS
i=0
while [ $i -lt ${#targets[@]} ] && [ $failed -eq 0 ]; do
    batch=("${targets[@]:i:jobs}")
    i=$((i + jobs))
    pids=()
    for target in "${batch[@]}"; do
        start_target "$target"
    done
    for n in "${!batch[@]}"; do
        target=${batch[$n]}
        status=0
        wait "${pids[$n]}" || status=$?
        if [ $status -eq 0 ]; then
            summary "$target"
        else
            report_crash "$target" $status
            failed=1
        fi
    done
    pids=()
done

if [ $failed -ne 0 ]; then
    exit 1
fi
echo "== no crash in ${#targets[@]} targets; fuzzing took $((SECONDS - run_start)) s"
