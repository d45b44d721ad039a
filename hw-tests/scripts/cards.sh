#!/usr/bin/env bash
# Virtual OpenPGP cards over a real pcscd, for nkbackup's hardware tests.
#
#   cards.sh start [N]     build the card, start `pcscd -f` and N (1|2, default 1) cards
#   cards.sh stop          stop the cards and pcscd (only the PIDs recorded by `start`)
#   cards.sh status        what is running, and what PC/SC sees
#   cards.sh env           print shell exports describing the running cards
#   cards.sh pull I        pull card I (0|1) out of its reader; the card keeps its keys
#   cards.sh insert I      insert card I again (after `pull`)
#   cards.sh card-stop I   stop card I's process (its RAM state is lost)
#   cards.sh card-start I  start card I again (factory fresh, unless NKB_VCARD_PERSIST=1)
#   cards.sh build         only build the binaries
#
# Card I is in reader "Virtual PCD 00 0I" (vpcd port 35963+I) with ident
# FFFE:<serial>; serials default to 4E4B0000 and 4E4B0001 ("NK" 0/1).
#
# Environment:
#   NKB_HW_RUN_DIR        run dir for PIDs, logs, cards.env (default hw-tests/.run)
#   NKB_VCARD_SERIAL_0/1  card serials (8 hex digits)
#   NKB_VCARD_PERSIST=1   keep each card's flash in the run dir (survives card-stop/card-start;
#                         wiped by `start`)
#   NKB_HW_PCSCD_DEBUG=1  run pcscd with `-d -a` (APDU log in $NKB_HW_RUN_DIR/pcscd.log)
#   NKB_HW_EXTERNAL_PCSCD=1  use an already running pcscd (must have the vpcd driver loaded)
#   NKB_HW_NO_BUILD=1     do not run cargo (binaries must exist)
#   RUST_LOG              passed to the cards (e.g. info, opcard=trace)
set -euo pipefail

HW_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VCARD_DIR=$HW_DIR/vcard
TARGET_DIR=$VCARD_DIR/target
CARD_BIN=$TARGET_DIR/release/nkbackup-vcard
PROBE_BIN=$TARGET_DIR/release/nkbackup-vcard-probe
RUN=${NKB_HW_RUN_DIR:-$HW_DIR/.run}
PORTS=(35963 35964)
READERS=("Virtual PCD 00 00" "Virtual PCD 00 01")
SERIALS=("${NKB_VCARD_SERIAL_0:-4E4B0000}" "${NKB_VCARD_SERIAL_1:-4E4B0001}")
WAIT_SECS=${NKB_HW_WAIT_SECS:-20}

say() { echo "cards.sh: $*"; }
die() { echo "cards.sh: error: $*" >&2; exit 1; }

ident() { echo "FFFE:${SERIALS[$1]^^}"; }

# True if PID runs (not a zombie) and its command name is $2.
alive() {
    local pid=$1 name=${2:-} stat comm
    [[ -n "$pid" && -r /proc/$pid/stat ]] || return 1
    stat=$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null) || return 1
    [[ "$stat" != Z ]] || return 1
    if [[ -n "$name" ]]; then
        comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
        [[ "$comm" == "$name" ]] || return 1
    fi
}

# Stops the process recorded in pidfile $1 if it is still a $2; SIGKILL after 5 s.
stop_recorded() {
    local file=$1 name=$2 pid
    [[ -f "$file" ]] || return 0
    pid=$(<"$file")
    if alive "$pid" "$name"; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 50); do alive "$pid" || break; sleep 0.1; done
        if alive "$pid"; then
            say "$name ($pid) ignored SIGTERM, sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            for _ in $(seq 20); do alive "$pid" || break; sleep 0.1; done
        fi
        wait_reaped "$pid"
        say "stopped $name (pid $pid)"
    elif [[ -n "$pid" ]]; then
        wait_reaped "$pid"
        say "recorded $name pid $pid is not running any more"
    fi
    rm -f "$file"
}

# Waits (max 5 s) until a dead PID is reaped. A zombie still passes
# kill(pid, 0), and pcscd refuses to start while the PID in its pid file does.
wait_reaped() {
    for _ in $(seq 50); do [[ -e /proc/$1 ]] || return 0; sleep 0.1; done
}

# PIDs of all running pcscd processes.
all_pcscd() {
    local d
    for d in /proc/[0-9]*; do
        [[ "$(cat "$d/comm" 2>/dev/null)" == pcscd ]] && alive "${d#/proc/}" pcscd && echo "${d#/proc/}"
    done
    return 0
}

vpcd_listening() {
    ss -ltnH "sport = :${PORTS[0]}" 2>/dev/null | grep -q . &&
        ss -ltnH "sport = :${PORTS[1]}" 2>/dev/null | grep -q .
}

build() {
    [[ "${NKB_HW_NO_BUILD:-}" == 1 ]] && { [[ -x "$CARD_BIN" && -x "$PROBE_BIN" ]] || die "binaries missing in $TARGET_DIR"; return 0; }
    command -v cargo >/dev/null || die "cargo not found"
    say "building virtual card (release, target dir $TARGET_DIR)"
    local t0=$SECONDS
    cargo build --release --locked --bins --manifest-path "$VCARD_DIR/Cargo.toml" --target-dir "$TARGET_DIR"
    say "build took $((SECONDS - t0)) s"
}

start_pcscd() {
    mkdir -p "$RUN"
    # A pcscd from an earlier run of this script: stop it by its recorded PID.
    stop_recorded "$RUN/pcscd.pid" pcscd
    if [[ "${NKB_HW_EXTERNAL_PCSCD:-}" == 1 ]]; then
        vpcd_listening || die "NKB_HW_EXTERNAL_PCSCD=1 but nothing listens on vpcd ports ${PORTS[*]}"
        say "using the already running pcscd (not managed by this script)"
        return 0
    fi
    local others stale
    # pcscd's own pid file may name a dead pcscd that is not reaped yet.
    stale=$( { tr -dc '0-9' </run/pcscd/pcscd.pid; } 2>/dev/null || true)
    [[ -n "$stale" ]] && ! alive "$stale" && wait_reaped "$stale"
    others=$(all_pcscd | xargs)
    if [[ -n "$others" ]]; then
        cat >&2 <<EOF
cards.sh: error: a pcscd not started by this script is running (pid $others).
  pcscd refuses to run twice, and this harness must own it. Either
  - stop it:  systemctl stop pcscd.socket pcscd.service   (system service), or
              kill $others                                  (if you started it by hand);
    note that with pcscd.socket enabled, any PC/SC client starts it again; or
  - reuse it: NKB_HW_EXTERNAL_PCSCD=1 $0 start ...
    (it must have been started after vsmartcard-vpcd was installed).
EOF
        exit 1
    fi
    if ss -ltnH "sport = :${PORTS[0]}" | grep -q .; then
        die "port ${PORTS[0]} is already in use: $(ss -ltnpH "sport = :${PORTS[0]}")"
    fi
    [[ -n "$(grep -ls libifdvpcd /etc/reader.conf.d/* 2>/dev/null)" ]] ||
        die "vpcd driver not configured (/etc/reader.conf.d); run hw-tests/scripts/install-deps.sh"

    local args=(-f)
    [[ "${NKB_HW_PCSCD_DEBUG:-}" == 1 ]] && args+=(-d -a)
    pcscd "${args[@]}" >"$RUN/pcscd.log" 2>&1 </dev/null &
    local pid=$!
    echo "$pid" >"$RUN/pcscd.pid"
    for _ in $(seq $((WAIT_SECS * 10))); do
        vpcd_listening && { say "pcscd running (pid $pid), vpcd listening on ${PORTS[*]}"; return 0; }
        alive "$pid" pcscd || { tail -n 20 "$RUN/pcscd.log" >&2; rm -f "$RUN/pcscd.pid"; die "pcscd exited"; }
        sleep 0.1
    done
    die "pcscd (pid $pid) did not open the vpcd ports within ${WAIT_SECS}s; see $RUN/pcscd.log"
}

# Card I is visible when PC/SC shows its ident in its reader
# (`probe --list --porcelain` prints "IDENT<TAB>READER" lines; it SELECTs, no TCP probing).
card_visible() {
    "$PROBE_BIN" --list --porcelain 2>/dev/null | grep -qxF "$(ident "$1")"$'\t'"${READERS[$1]}"
}

wait_visible() {
    local i=$1 pid
    pid=$(cat "$RUN/card$i.pid" 2>/dev/null || true)
    for _ in $(seq $((WAIT_SECS * 10))); do
        card_visible "$i" && return 0
        alive "$pid" nkbackup-vcard || { tail -n 20 "$RUN/card$i.log" >&2; die "card $i exited"; }
        sleep 0.1
    done
    die "card $i ($(ident "$i")) not visible in \"${READERS[$i]}\" within ${WAIT_SECS}s; see $RUN/card$i.log"
}

wait_absent() {
    local i=$1
    for _ in $(seq $((WAIT_SECS * 10))); do
        card_visible "$i" || return 0
        sleep 0.1
    done
    die "card $i still visible after ${WAIT_SECS}s"
}

check_index() { [[ "${1:-}" == 0 || "${1:-}" == 1 ]] || die "card index must be 0 or 1"; }

start_card() {
    local i=$1 pid args
    check_index "$i"
    [[ "${SERIALS[$i]}" =~ ^[0-9A-Fa-f]{8}$ ]] || die "serial ${SERIALS[$i]}: need 8 hex digits"
    stop_recorded "$RUN/card$i.pid" nkbackup-vcard
    args=(--port "${PORTS[$i]}" --serial "${SERIALS[$i]}")
    [[ "${NKB_VCARD_PERSIST:-}" == 1 ]] && args+=(--state-dir "$RUN/card$i.state")
    "$CARD_BIN" "${args[@]}" >>"$RUN/card$i.log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$RUN/card$i.pid"
    local t0=$EPOCHREALTIME
    wait_visible "$i"
    say "card $i: $(ident "$i") in \"${READERS[$i]}\" (pid $pid, visible after $(awk "BEGIN{printf \"%.0f\", ($EPOCHREALTIME-$t0)*1000}") ms)"
}

card_pid() {
    local i=$1 pid
    check_index "$i"
    pid=$(cat "$RUN/card$i.pid" 2>/dev/null || true)
    alive "$pid" nkbackup-vcard || die "card $i is not running"
    echo "$pid"
}

write_env() {
    local i f=$RUN/cards.env
    : >"$f"
    for i in 0 1; do
        [[ -f "$RUN/card$i.pid" ]] || continue
        printf 'export NKB_HW_CARD%d_IDENT=%q NKB_HW_CARD%d_READER=%q\n' \
            "$i" "$(ident "$i")" "$i" "${READERS[$i]}" >>"$f"
    done
}

stop_all() {
    local i
    for i in 0 1; do stop_recorded "$RUN/card$i.pid" nkbackup-vcard; done
    stop_recorded "$RUN/pcscd.pid" pcscd
    rm -f "$RUN/cards.env"
}

cmd=${1:-}
case "$cmd" in
start)
    n=${2:-1}
    [[ "$n" == 1 || "$n" == 2 ]] || die "N must be 1 or 2 (vpcd offers two readers)"
    build
    mkdir -p "$RUN"
    stop_all
    rm -rf "$RUN"/card?.state "$RUN"/card?.log
    start_pcscd
    for ((i = 0; i < n; i++)); do start_card "$i"; done
    write_env
    say "ready; card env in $RUN/cards.env"
    cat "$RUN/cards.env"
    ;;
stop)
    stop_all
    ;;
status)
    for f in pcscd card0 card1; do
        name=nkbackup-vcard; [[ $f == pcscd ]] && name=pcscd
        pid=$(cat "$RUN/$f.pid" 2>/dev/null || true)
        if [[ -z "$pid" ]]; then echo "$f: not started"
        elif alive "$pid" "$name"; then echo "$f: running (pid $pid)"
        else echo "$f: recorded pid $pid not running"; fi
    done
    [[ -x "$PROBE_BIN" ]] && "$PROBE_BIN" --list || true
    ;;
env)
    cat "$RUN/cards.env" 2>/dev/null || die "no cards running"
    ;;
pull)
    check_index "${2:-}"
    kill -USR1 "$(card_pid "$2")"
    wait_absent "$2"
    say "card $2 pulled"
    ;;
insert)
    check_index "${2:-}"
    kill -USR2 "$(card_pid "$2")"
    wait_visible "$2"
    say "card $2 inserted"
    ;;
card-stop)
    check_index "${2:-}"
    stop_recorded "$RUN/card$2.pid" nkbackup-vcard
    # pcscd polls presence every 400 ms; if the stop broke a transmit, a card
    # started again before pcscd noticed the removal is never seen. Wait.
    sleep 1.2
    ;;
card-start)
    check_index "${2:-}"
    [[ -x "$CARD_BIN" ]] || build
    start_card "$2"
    write_env
    ;;
build)
    build
    ;;
*)
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    [[ -z "$cmd" || "$cmd" == -h || "$cmd" == --help ]] || exit 2
    ;;
esac
