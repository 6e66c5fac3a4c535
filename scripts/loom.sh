#!/usr/bin/env bash
# Model-checks the engine's hand-made concurrent parts with loom (see
# RELIABILITY.md, "Model checking"):
#
#   scripts/loom.sh [FILTER]
#
# Builds rxce and rxce-ffi in release mode with `--cfg rxce_loom` (their
# `sync` shims then put loom's primitives in place of std's) in a target
# directory of their own, and runs every loom test (or those whose name
# contains FILTER) with a bounded preemption budget: LOOM_MAX_PREEMPTIONS,
# 3 unless set. Each test prints the interleavings it explored and their
# time. A failure prints loom's verdict (a deadlock, a failed assertion)
# and stops the run.
#
# Environment: LOOM_TARGET_DIR (default target/loom): the cfg changes every
# crate's flags, so sharing the usual target directory would rebuild it.
set -euo pipefail
cd "$(dirname "$0")/.."

export RUSTFLAGS="--cfg rxce_loom"
export CARGO_TARGET_DIR=${LOOM_TARGET_DIR:-$PWD/target/loom}
export LOOM_MAX_PREEMPTIONS=${LOOM_MAX_PREEMPTIONS:-3}
filter=loom
if [[ $# -gt 0 ]]; then
    filter=$1
fi

cargo test --release -p rxce -p rxce-ffi --lib "$filter" -- --nocapture --test-threads=1
