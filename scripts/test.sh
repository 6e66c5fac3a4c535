#!/usr/bin/env bash
# The whole test suite: installs what the tests need (Samba, valgrind, ...)
# when it is missing, then runs every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-test-deps.sh
cargo test --workspace
