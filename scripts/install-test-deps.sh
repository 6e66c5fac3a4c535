#!/usr/bin/env bash
# Install what rxce's test suite needs, if it is missing (Debian/Ubuntu).
#
#   samba     smbd and nmbd, started privately by crates/rxce-testsupport
#   smbclient the smb-read benchmark's comparison (rxce-bench --scenario smb-read)
#   valgrind  memory checks
#   gcc       C test helpers
#   iproute2  `ip`: loopback alias for nmbd, network namespaces
#   nftables  `nft`: fault injection rules
#   procps    `ps`, `pgrep`: process checks
#   pkgconf   `pkg-config`: the C tests build against the installed librxce
#   rpcbind   a real ONC RPC server (tests and `rxce probe nfs`)
#   diod      a real 9P2000.L server (tests, the 9P client example)
#   nfs-ganesha, nfs-ganesha-vfs
#             a user-space NFS server with its VFS back end (tests)
#   cargo-c   `cargo cinstall` (from crates.io, 0.10.24: the newest that
#             builds with our rustc; about 8 minutes): installs librxce
#   aioquic   (PyPI, into the virtual environment .venv/aioquic, never
#             committed) the independent QUIC peer of the quic interop
#             tests (crates/rxce/tests/quic_interop.rs)
#
# (Debian's cargo-c is too old to read our Cargo.lock.)
#
# Idempotent and silent when everything is present; prints one line per
# package it installs. Runs `apt-get update` only when something has to be
# installed. Exits non-zero with a message if an install fails.
#
# Services are never started by the install (a temporary policy-rc.d
# forbids it): the tests start their own private daemons on loopback, and a
# system-wide smbd/nmbd would listen on every interface.
set -euo pipefail

prog=install-test-deps

# "package|command command ..." : the package is present when all of its
# commands are found.
wanted=(
    "samba|smbd nmbd"
    "smbclient|smbclient"
    "valgrind|valgrind"
    "gcc|gcc"
    "iproute2|ip"
    "nftables|nft"
    "procps|ps pgrep"
    "pkgconf|pkg-config"
    "rpcbind|rpcbind"
    "diod|diod"
    "nfs-ganesha|ganesha.nfsd"
    "nfs-ganesha-vfs|dpkg:nfs-ganesha-vfs"
)

# A command on the PATH or in an sbin directory; `dpkg:NAME` is a package
# without a command of its own (a library), present when dpkg says so.
have() {
    if [[ $1 == dpkg:* ]]; then
        dpkg-query -W -f='${Status}' "${1#dpkg:}" 2>/dev/null | grep -q 'ok installed'
        return
    fi
    command -v "$1" >/dev/null 2>&1 || [[ -x /usr/sbin/$1 || -x /sbin/$1 || -x /usr/local/sbin/$1 ]]
}

missing=()
declare -A commands_of=()
for entry in "${wanted[@]}"; do
    pkg=${entry%%|*}
    cmds=${entry#*|}
    commands_of[$pkg]=$cmds
    for cmd in $cmds; do
        if ! have "$cmd"; then
            missing+=("$pkg")
            break
        fi
    done
done

install_cargo_c() {
    if cargo cinstall --version >/dev/null 2>&1; then
        return 0
    fi
    local log
    log=$(mktemp -t "$prog.cargo-c.XXXXXX.log")
    if ! cargo install --locked cargo-c --version 0.10.24 >"$log" 2>&1; then
        echo "$prog: error: cargo install cargo-c failed; last lines:" >&2
        tail -n 25 "$log" >&2
        rm -f "$log"
        exit 1
    fi
    rm -f "$log"
    echo "$prog: installed cargo-c (cargo cinstall)"
}

root=$(cd "$(dirname "$0")/.." && pwd)
install_aioquic() {
    local venv=$root/.venv/aioquic
    if "$venv/bin/python" -c "import aioquic" >/dev/null 2>&1; then
        return 0
    fi
    local log
    log=$(mktemp -t "$prog.aioquic.XXXXXX.log")
    if ! { python3 -m venv "$venv" && "$venv/bin/pip" install -q aioquic; } >"$log" 2>&1; then
        echo "$prog: error: installing aioquic into $venv failed (python3-venv missing?); last lines:" >&2
        tail -n 25 "$log" >&2
        rm -f "$log"
        exit 1
    fi
    rm -f "$log"
    echo "$prog: installed aioquic into .venv/aioquic"
}

if ((${#missing[@]} == 0)); then
    install_cargo_c
    install_aioquic
    exit 0
fi

die() {
    echo "$prog: error: $*" >&2
    exit 1
}

if ! command -v apt-get >/dev/null 2>&1; then
    die "missing packages (${missing[*]}) and no apt-get to install them with; install them by hand"
fi

sudo=()
if ((EUID != 0)); then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo=(sudo -n)
    else
        die "missing packages (${missing[*]}): run this script as root (or with password-less sudo)"
    fi
fi

log=$(mktemp -t "$prog.XXXXXX.log")
policy=/usr/sbin/policy-rc.d
created_policy=0
cleanup() {
    if ((created_policy)); then
        "${sudo[@]}" rm -f "$policy"
    fi
    rm -f "$log"
}
trap cleanup EXIT

if [[ ! -e $policy ]]; then
    # 101 = "action forbidden": invoke-rc.d will not start any service.
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
    "${sudo[@]}" chmod 0755 "$policy"
    created_policy=1
fi

apt_opts=(-o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0)

fail_with_log() {
    echo "$prog: error: $1" >&2
    echo "$prog: last lines of the apt-get output:" >&2
    tail -n 25 "$log" >&2 || true
    exit 1
}

if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get "${apt_opts[@]}" -q update >"$log" 2>&1; then
    fail_with_log "apt-get update failed (needed to install: ${missing[*]})"
fi

if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get "${apt_opts[@]}" -q -y --no-install-recommends install "${missing[@]}" >"$log" 2>&1; then
    fail_with_log "apt-get install ${missing[*]} failed"
fi

status=0
for pkg in "${missing[@]}"; do
    for cmd in ${commands_of[$pkg]}; do
        if ! have "$cmd"; then
            echo "$prog: error: installed $pkg but \`$cmd\` is still not found" >&2
            status=1
            continue 2
        fi
    done
    echo "$prog: installed $pkg (${commands_of[$pkg]// /, })"
done
if ((status == 0)); then
    install_cargo_c
    install_aioquic
fi
exit "$status"
