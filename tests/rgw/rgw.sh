#!/usr/bin/env bash
# Starts and stops a real Ceph RADOS Gateway (Debian's radosgw, Ceph 16.2)
# on loopback for nkbackup's versioned-bucket and Object Lock tests
# (tests/s3_versions.rs): one monitor, one OSD on memstore (RAM, 512 MiB),
# one gateway, no cephx (loopback only). RGW implements S3 versioning and
# Object Lock itself; it is the store the issue asks for, not an emulator.
#
#   tests/rgw/rgw.sh install              apt-get install ceph-mon ceph-osd radosgw ceph-common unless present
#   tests/rgw/rgw.sh start DIR            start mon, osd and rgw under DIR, create an S3 user;
#                                         writes DIR/env (AWS_* variables)
#   tests/rgw/rgw.sh bucket DIR NAME MODE make bucket NAME: MODE `versioned` or `locked`
#                                         (versioning + Object Lock)
#   tests/rgw/rgw.sh stop DIR             stop what start started, by the PIDs it recorded
#
# (Query strings are written `?versioning=`: curl 7.88 signs a bare `?versioning`
# differently from S3.)
#
# Ports are picked free at start and recorded in DIR/env. Processes are
# only ever stopped by the PIDs in DIR/run/*.pid.
set -Eeuo pipefail

die() { echo "rgw.sh: $*" >&2; exit 1; }

# A step that fails under `set -e` says which it was, and the daemons'
# last log lines follow (Ceph daemons write their errors to their logs,
# not to the terminal).
failed() {
    local rc=$? line=$1 cmd=$2
    echo "rgw.sh: line $line exited with $rc: $cmd" >&2
    if [[ -n "${DIR:-}" && -d "$DIR/log" ]]; then
        local f
        for f in "$DIR"/log/*; do
            [[ -s "$f" ]] || continue
            echo "--- last lines of $f:" >&2
            grep -v '^[[:space:]]*$' "$f" | tail -n 8 >&2
        done
    fi
}
trap 'failed "$LINENO" "$BASH_COMMAND"' ERR

PACKAGES=(ceph-mon ceph-osd radosgw ceph-common)

install() {
    if command -v radosgw >/dev/null && command -v ceph-osd >/dev/null && command -v ceph-mon >/dev/null; then
        return 0
    fi
    local sudo=()
    [[ $(id -u) == 0 ]] || sudo=(sudo -n)
    echo "rgw.sh: installing ${PACKAGES[*]} (once; about 200 MiB)" >&2
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >&2 \
        || die "could not install ${PACKAGES[*]} (run apt-get update first, as root)"
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

alive() { [[ -n "${1:-}" && -r /proc/$1/stat ]] && [[ $(cut -d' ' -f3 "/proc/$1/stat") != Z ]]; }

wait_for() { # SECONDS DESCRIPTION COMMAND...
    local secs=$1 what=$2
    shift 2
    for _ in $(seq $((secs * 5))); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.2
    done
    die "$what did not come up within $secs s (logs in $DIR/log)"
}

start() {
    DIR=$(cd "$1" && pwd)
    mkdir -p "$DIR"/{run,log,mon,osd,rgw}
    # Two gateways starting at once could pick the same free port (and a
    # client then talk to the other cluster's monitor): starts take turns.
    # The daemons do not inherit the lock (9>&-).
    exec 9>"${TMPDIR:-/tmp}/nkbackup-rgw-start.lock"
    flock 9
    local fsid mon_port rgw_port osd_uuid
    fsid=$(cat /proc/sys/kernel/random/uuid)
    mon_port=$(free_port)
    rgw_port=$(free_port)
    cat >"$DIR/ceph.conf" <<CONF
[global]
fsid = $fsid
mon host = v1:127.0.0.1:$mon_port
ms bind msgr2 = false
public addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
osd pool default pg num = 8
osd pool default pgp num = 8
mon max pg per osd = 1000
# The monitor refuses to start (exit 28, a line in its log only) when
# the disk under its data holds 5 % or less free; a CI machine's disk may.
# Its store here is a few MiB, so the check is off.
mon data avail crit = 0
mon data avail warn = 0
osd objectstore = memstore
memstore device bytes = 536870912
osd crush chooseleaf type = 0
run dir = $DIR/run
admin socket = $DIR/run/\$name.asok
log file = $DIR/log/\$name.log
pid file = $DIR/run/\$name.pid
mon data = $DIR/mon/\$cluster-\$id
osd data = $DIR/osd/\$cluster-\$id
keyring = $DIR/keyring
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$rgw_port
rgw data = $DIR/rgw
CONF
    local c=(-c "$DIR/ceph.conf")
    ceph-authtool --create-keyring "$DIR/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
    monmaptool --create --add a "v1:127.0.0.1:$mon_port" --fsid "$fsid" "$DIR/monmap" >/dev/null
    ceph-mon "${c[@]}" --mkfs -i a --monmap "$DIR/monmap" --keyring "$DIR/keyring"
    ceph-mon "${c[@]}" -i a 9>&-
    wait_for 30 "ceph-mon" timeout 5 ceph "${c[@]}" mon stat
    osd_uuid=$(cat /proc/sys/kernel/random/uuid)
    local id
    id=$(timeout 20 ceph "${c[@]}" osd new "$osd_uuid")
    mkdir -p "$DIR/osd/ceph-$id"
    ceph-osd "${c[@]}" -i "$id" --mkfs --osd-uuid "$osd_uuid" >"$DIR/log/osd-mkfs.out" 2>&1
    # An OSD that asks the monitor before it has the monitor map is refused
    # ("wrong fsid"): it exits at once (status 250) or never comes up.
    # Start it again, at most 5 times.
    local try
    for try in 1 2 3 4 5; do
        if ! ceph-osd "${c[@]}" -i "$id" >"$DIR/log/osd.out" 2>&1 9>&-; then
            echo "rgw.sh: ceph-osd was refused (try $try), starting it again" >&2
            sleep 1
            continue
        fi
        for _ in $(seq 100); do
            timeout 5 ceph "${c[@]}" osd stat 2>/dev/null | grep -q '1 up' && break 2
            sleep 0.2
        done
        echo "rgw.sh: the OSD did not come up (try $try), starting it again" >&2
        stop_pid "$DIR/run/osd.$id.pid"
    done
    timeout 5 ceph "${c[@]}" osd stat | grep -q '1 up' || die "ceph-osd did not come up (logs in $DIR/log)"
    radosgw "${c[@]}" -n client.rgw.a >"$DIR/log/rgw.out" 2>&1 9>&-
    wait_for 90 "radosgw" curl -sf "http://127.0.0.1:$rgw_port/"
    local ak sk
    ak=NKB$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr a-f A-F)
    sk=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
    radosgw-admin "${c[@]}" user create --uid nkb --display-name nkb --access-key "$ak" --secret "$sk" >/dev/null 2>&1 \
        || die "radosgw-admin user create failed"
    cat >"$DIR/env" <<ENV
AWS_ENDPOINT_URL=http://127.0.0.1:$rgw_port
AWS_ACCESS_KEY_ID=$ak
AWS_SECRET_ACCESS_KEY=$sk
AWS_REGION=default
ENV
    echo "rgw.sh: radosgw on 127.0.0.1:$rgw_port (mon $mon_port), run dir $DIR" >&2
}

# An S3 request signed with SigV4 by curl: METHOD PATH [curl args...].
s3() {
    local method=$1 path=$2
    shift 2
    # shellcheck disable=SC1091
    source "$DIR/env"
    curl -sS -f -X "$method" --aws-sigv4 "aws:amz:$AWS_REGION:s3" \
        --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
        -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@" "$AWS_ENDPOINT_URL$path"
}

bucket() {
    DIR=$(cd "$1" && pwd)
    local name=$2 mode=$3
    case $mode in
        locked) s3 PUT "/$name" -H "x-amz-bucket-object-lock-enabled: true" ;;
        versioned)
            s3 PUT "/$name"
            s3 PUT "/$name?versioning=" -H "Content-Type: application/xml" --data-binary \
                '<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></VersioningConfiguration>'
            ;;
        *) die "bucket mode must be versioned or locked, not $mode" ;;
    esac
    s3 GET "/$name?versioning=" | grep -q "<Status>Enabled</Status>" || die "versioning is not enabled on $name"
}

# Stops the process whose PID file is $1 (TERM, KILL after 5 s).
stop_pid() {
    local f=$1 pid
    [[ -f "$f" ]] || return 0
    pid=$(<"$f")
    if alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 50); do alive "$pid" || break; sleep 0.1; done
        if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
    fi
    rm -f "$f"
}

stop() {
    DIR=$(cd "$1" && pwd)
    local f
    for f in "$DIR"/run/client.rgw.a.pid "$DIR"/run/osd.*.pid "$DIR"/run/mon.a.pid; do
        stop_pid "$f"
    done
}

case ${1:-} in
    install) install ;;
    start) [[ $# == 2 ]] || die "usage: rgw.sh start DIR"; start "$2" ;;
    bucket) [[ $# == 4 ]] || die "usage: rgw.sh bucket DIR NAME versioned|locked"; bucket "$2" "$3" "$4" ;;
    stop) [[ $# == 2 ]] || die "usage: rgw.sh stop DIR"; stop "$2" ;;
    *) die "usage: rgw.sh install | start DIR | bucket DIR NAME versioned|locked | stop DIR" ;;
esac
