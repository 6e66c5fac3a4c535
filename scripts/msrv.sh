#!/usr/bin/env bash
# Checks every crate with the Rust its manifest's rust-version names
# (decision 43): the oldest Rust that checks it with the locked
# dependencies.
#
#   scripts/msrv.sh
#
# Installs each toolchain needed (rustup, minimal profile), runs
# `cargo +VERSION check -p CRATE...` for the crates that name it on a copy
# of the committed tree (cargo before 1.78 reads lock files of version 3
# only, so the copy's lock says 3: the same entries), then uninstalls the
# toolchains it installed. Not part of .ci/run: it downloads toolchains.
set -euo pipefail
cd "$(dirname "$0")/.."

copy=$(mktemp -d)
trap 'rm -rf "$copy"' EXIT
git archive HEAD | tar -x -C "$copy"
sed -i 's/^version = 4$/version = 3/' "$copy/Cargo.lock"

declare -A crates_of
for manifest in "$copy"/crates/*/Cargo.toml; do
    name=$(sed -n 's/^name = "\(.*\)"$/\1/p' "$manifest" | head -n 1)
    version=$(sed -n 's/^rust-version = "\(.*\)"$/\1/p' "$manifest" | head -n 1)
    crates_of[$version]+=" -p $name"
done
failed=0
for version in $(printf '%s\n' "${!crates_of[@]}" | sort -V); do
    toolchain=$version.0
    [[ $version == *.*.* ]] && toolchain=$version
    installed=false
    if ! rustup toolchain list | grep -q "^$toolchain-"; then
        rustup toolchain install "$toolchain" --profile minimal >/dev/null
        installed=true
    fi
    echo "== cargo +$toolchain check${crates_of[$version]}"
    # shellcheck disable=SC2086 # the -p list splits on purpose
    if ! (cd "$copy" && CARGO_TARGET_DIR="$copy/target-$toolchain" cargo +"$toolchain" check --quiet ${crates_of[$version]}); then
        failed=1
    fi
    rm -rf "$copy/target-$toolchain"
    if $installed; then
        rustup toolchain uninstall "$toolchain" >/dev/null
    fi
done
exit $failed
