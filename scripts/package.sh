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

# Cargo keeps what it unpacked from a registry, and what it built from it,
# by name and version, as a published package never changes; here 0.1.0
# changes with every commit, so an earlier run's copies would be verified
# against instead of today's. Forget them first: the unpacked sources
# (CARGO_HOME/registry/src/-HASH/rxce*-VERSION, shared by every checkout on
# the machine, hence the lock) and the artifacts built from them (found by
# their dep-info naming those sources).
cargo_home=${CARGO_HOME:-$HOME/.cargo}
target=${CARGO_TARGET_DIR:-target}
mkdir -p "$cargo_home"
exec 9>"$cargo_home/.rxce-package.lock"
flock 9
rm -rf "$cargo_home"/registry/src/-*/rxce*-[0-9]*
for info in "$target"/debug/deps/*.d; do
    grep -q 'registry/src/-[0-9a-f]*/rxce' "$info" 2>/dev/null || continue
    hash=$(basename "$info" .d)
    hash=${hash##*-}
    rm -rf "$target"/debug/deps/*-"$hash".* "$target"/debug/.fingerprint/*-"$hash"
done

packages=()
for manifest in crates/*/Cargo.toml; do
    if grep -q '^publish = false' "$manifest"; then
        continue
    fi
    packages+=(-p "$(sed -n 's/^name = "\(.*\)"$/\1/p' "$manifest" | head -n 1)")
done
echo "== packaging ${packages[*]}"
cargo package --allow-dirty "${packages[@]}"
