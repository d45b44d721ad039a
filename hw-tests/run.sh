#!/usr/bin/env bash
# Runs nkbackup's hardware tests against two virtual OpenPGP cards over a
# real pcscd:
#   1. installs the Debian packages (scripts/install-deps.sh),
#   2. builds the virtual card and starts pcscd + 2 cards (scripts/cards.sh start 2),
#   3. runs `cargo test --features hw-tests --test hw` with the cards' env,
#   4. always stops what step 2 started (trap), by recorded PID.
# Usage: hw-tests/run.sh [extra cargo test args, e.g. -- --nocapture]
# Against a physical token instead: see hw-tests/README.md (do not use this script).
set -euo pipefail
HW_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HW_DIR/.." && pwd)
cd "$ROOT"

say() { printf '\n== hw-tests: %s ==\n' "$*"; }

say "dependencies"
"$HW_DIR/scripts/install-deps.sh"

started=0
cleanup() {
    local rc=$?
    if ((started)); then
        say "stopping the virtual cards and pcscd"
        "$HW_DIR/scripts/cards.sh" stop || true
    fi
    exit "$rc"
}
trap cleanup EXIT INT TERM

say "starting pcscd and 2 virtual cards"
started=1
# Cards keep their keys across card-stop/card-start (the "card process
# stopped mid-restore" test restarts one).
export NKB_VCARD_PERSIST=1
"$HW_DIR/scripts/cards.sh" start 2
# shellcheck disable=SC1091
source "${NKB_HW_RUN_DIR:-$HW_DIR/.run}/cards.env"
export NKB_HW_CARD0_IDENT NKB_HW_CARD0_READER NKB_HW_CARD1_IDENT NKB_HW_CARD1_READER
export NKB_HW_CARDS_SH="$HW_DIR/scripts/cards.sh"

say "cargo test --features hw-tests --test hw"
# One card set: the scenarios run one after another (the tests also lock).
cargo test --features hw-tests --test hw "$@" -- --test-threads=1 --nocapture
say "hardware tests passed"
