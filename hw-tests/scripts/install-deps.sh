#!/usr/bin/env bash
# Installs the Debian packages the hardware-test harness needs, only if missing.
# Idempotent; non-interactive; for CI (as root) and developer machines (via sudo).
#
#   pcscd                 the PC/SC daemon (started by cards.sh as `pcscd -f`, not as a service)
#   vsmartcard-vpcd       pcscd reader driver: "Virtual PCD 00 00"/"00 01" on TCP 35963/35964
#   libpcsclite-dev       to build the `pcsc` crate (probe, nkbackup's card module)
#   libclang-dev          bindgen, for building the virtual card (trussed dependencies)
#   libccid               USB CCID reader driver: a physical Nitrokey 3 (not needed for virtual cards)
#   pcsc-tools            pcsc_scan / scriptor, handy for debugging
#   gnupg, scdaemon       GnuPG's card daemon, for the tests of nkbackup beside it (gnupg.rs,
#                         provisioning.rs: keys made with gpg --card-edit)
#   python3-cryptography  contrib/gpg-open-backup.py, the GnuPG-only recovery path (provisioning.rs)
#   pinentry-curses       a real pinentry for the pinentry test (driven on a pty made by
#                         script(1), from bsdutils, which Debian always has)
#
# Set NKB_HW_NO_PCSC_TOOLS=1 to skip pcsc-tools.
set -euo pipefail

packages=(pcscd vsmartcard-vpcd libpcsclite-dev libclang-dev libccid pinentry-curses gnupg scdaemon python3-cryptography)
[[ "${NKB_HW_NO_PCSC_TOOLS:-}" == 1 ]] || packages+=(pcsc-tools)

missing=()
for p in "${packages[@]}"; do
    if [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" != "install ok installed" ]]; then
        missing+=("$p")
    fi
done

if ((${#missing[@]} == 0)); then
    echo "install-deps: all present: ${packages[*]}"
else
    if ((EUID == 0)); then
        sudo=()
    elif command -v sudo >/dev/null; then
        sudo=(sudo)
    else
        echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2
        exit 1
    fi
    echo "install-deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -q
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# pcscd reads /etc/reader.conf.d/ only at start-up; the vpcd entry must exist
# exactly once (a second entry for the vpcd driver deadlocks pcscd).
n=$(grep -ls 'libifdvpcd' /etc/reader.conf.d/* 2>/dev/null | wc -l)
if ((n != 1)); then
    echo "install-deps: expected exactly one vpcd entry in /etc/reader.conf.d/, found $n" >&2
    exit 1
fi
command -v cargo >/dev/null || echo "install-deps: note: cargo not found (a Rust toolchain is needed to build the virtual card)" >&2
echo "install-deps: ok"
