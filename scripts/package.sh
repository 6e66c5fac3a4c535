#!/usr/bin/env bash
# Every crate meant for crates.io packages and builds on its own (issue 14):
#
#   scripts/package.sh
#
# Runs `cargo package` for every workspace crate whose manifest does not
# say `publish = false`, all in one invocation, so that a crate depending on
# another unpublished crate of the workspace is verified against that
# crate's own package (cargo puts the fresh packages in a temporary local
# registry, target/package/tmp-registry). That proves what
# `cargo publish --dry-run` would, without a registry: each manifest is
# publishable (every dependency has a version, none is a publish = false
# crate such as rxce-testsupport; dev-dependencies without a version are
# dropped), each package holds every file it needs, and each compiles from
# its .crate file alone. It does not prove that the names are free on
# crates.io. Works offline (CARGO_NET_OFFLINE=true) once the dependencies
# are in cargo's cache.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=()
for manifest in crates/*/Cargo.toml; do
    if grep -q '^publish = false' "$manifest"; then
        continue
    fi
    packages+=(-p "$(sed -n 's/^name = "\(.*\)"$/\1/p' "$manifest" | head -n 1)")
done
echo "== packaging ${packages[*]}"
cargo package --allow-dirty "${packages[@]}"
