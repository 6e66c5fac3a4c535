#!/usr/bin/env bash
# The whole test suite: installs what the tests need (Samba, valgrind, ...)
# when it is missing, runs every test of the workspace, then the loom
# models of the concurrent parts (scripts/loom.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-test-deps.sh
cargo test --workspace
scripts/loom.sh
