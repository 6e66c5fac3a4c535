#!/usr/bin/env bash
# Proves by compilation that the workspace builds on the other operating
# systems rxce supports (these machines run Linux only): for each target,
# `cargo clippy --workspace --all-targets -- -D warnings`, which is the
# whole of `cargo check --workspace --all-targets` (every crate, test,
# bench and example compiled to metadata) plus the lints. Nothing is linked,
# so no cross linker or Windows SDK is needed, for -msvc either. Build
# scripts do run: ring (the QUIC transport's crypto) compiles C for the
# target, with clang and the stub headers of scripts/cross-check-include
# (macOS, FreeBSD, -msvc; never linked) or mingw-w64 (-gnu), installed with
# apt-get when missing.
#
#   scripts/cross-check.sh [--skip-missing] [TARGET...]
#
# Targets default to the five below. A target's standard library is
# installed with `rustup target add` when it is missing; when that fails,
# the script says so on a line of its own and fails, unless --skip-missing
# (or RXCE_CROSS_SKIP_MISSING=1) is given, which skips that target instead.
# Before each target it lists the test files that target does not build
# (they carry `#![cfg(...)] // why` as their first attribute).
set -euo pipefail
cd "$(dirname "$0")/.."

# Incremental data would only fill the disk: every run of CI is a fresh build.
export CARGO_INCREMENTAL=0
skip_missing=${RXCE_CROSS_SKIP_MISSING:-0}
targets=()
for arg in "$@"; do
    case $arg in
        --skip-missing) skip_missing=1 ;;
        -*) echo "usage: $0 [--skip-missing] [TARGET...]" >&2; exit 2 ;;
        *) targets+=("$arg") ;;
    esac
done
if [ ${#targets[@]} -eq 0 ]; then
    targets=(x86_64-apple-darwin aarch64-apple-darwin x86_64-unknown-freebsd x86_64-pc-windows-gnu x86_64-pc-windows-msvc)
fi

# Prints the test files whose file-level cfg leaves them out on $1.
excluded_tests() {
    local target=$1 file line cond why
    while IFS= read -r line; do
        file=${line%%:*}
        cond=$(sed -E 's/^[^:]*:#!\[cfg\((.*)\)\].*/\1/' <<<"$line")
        why=$(sed -nE 's/^[^:]*:#!\[cfg\(.*\)\] *\/\/ *(.*)/\1/p' <<<"$line")
        case $cond in
            'target_os = "linux"') [[ $target == *-linux-* ]] && continue ;;
            unix) [[ $target != *-windows-* ]] && continue ;;
            *) continue ;;
        esac
        echo "  not built for $target: $file (${why:-cfg($cond)})"
    done < <(grep -H -m1 -E '^#!\[cfg\(' crates/*/tests/*.rs | sort)
}

# A C compiler for each target's build scripts (see the top).
missing=()
command -v clang >/dev/null || missing+=(clang)
command -v llvm-ar >/dev/null || missing+=(llvm)
command -v x86_64-w64-mingw32-gcc >/dev/null || missing+=(gcc-mingw-w64-x86-64)
if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing ${missing[*]} (C compilers for the targets' build scripts)"
    log=$(mktemp)
    if ! { DEBIAN_FRONTEND=noninteractive apt-get -q update &&
        DEBIAN_FRONTEND=noninteractive apt-get -q -y --no-install-recommends install "${missing[@]}"; } >"$log" 2>&1; then
        tail -20 "$log" >&2
        echo "cross-check: installing ${missing[*]} failed" >&2
        exit 1
    fi
    rm -f "$log"
fi
stub_headers=$PWD/scripts/cross-check-include
c_compiler_for() {
    local target=$1 var=${1//-/_}
    if [[ $target == *-windows-gnu ]]; then
        export "CC_$var=x86_64-w64-mingw32-gcc" "AR_$var=x86_64-w64-mingw32-ar"
    else
        export "CC_$var=clang" "AR_$var=llvm-ar" "CFLAGS_$var=-ffreestanding -isystem $stub_headers"
    fi
}

installed=$(rustup target list --installed 2>/dev/null || true)
failed=()
started=$SECONDS
for target in "${targets[@]}"; do
    if ! grep -qx "$target" <<<"$installed"; then
        echo "== installing the standard library of $target"
        if ! rustup target add "$target"; then
            echo "cross-check: the standard library of $target cannot be installed"
            if [ "$skip_missing" = 1 ]; then
                echo "cross-check: $target skipped (--skip-missing)"
                continue
            fi
            failed+=("$target (no standard library)")
            continue
        fi
    fi
    echo "== $target: cargo clippy --workspace --all-targets -- -D warnings"
    c_compiler_for "$target"
    excluded_tests "$target"
    at=$SECONDS
    if cargo clippy --quiet --workspace --all-targets --target "$target" -- -D warnings; then
        echo "ok - $target ($((SECONDS - at)) s)"
    else
        echo "not ok - $target"
        failed+=("$target")
    fi
done
echo "cross-check: ${#targets[@]} targets in $((SECONDS - started)) s"
if [ ${#failed[@]} -gt 0 ]; then
    printf 'cross-check failed: %s\n' "${failed[@]}"
    exit 1
fi
