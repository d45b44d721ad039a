#!/usr/bin/env bash
# Starts and stops a real Garage object store on loopback for nkbackup's
# storage tests (tests/s3.rs), and builds Garage once if it is missing.
#
#   tests/garage/garage.sh install            build `garage` (cargo install) unless present
#   tests/garage/garage.sh start DIR [NODES]  start NODES (1 or 3) nodes under DIR, apply
#                                             the layout, create a key and bucket `nkb`;
#                                             writes DIR/env (GARAGE_* and AWS_* variables)
#   tests/garage/garage.sh stop-node DIR N    stop node N (1-based) by its recorded PID
#   tests/garage/garage.sh start-node DIR N   start node N again
#   tests/garage/garage.sh stop DIR           stop every node started under DIR, by PID
#
# Ports are picked free at start and recorded in DIR/env. Processes are
# only ever stopped by the PIDs recorded in DIR/node<N>/pid.
set -euo pipefail

GARAGE_VERSION=2.5.0
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
export PATH="$CARGO_BIN:$PATH"

die() { echo "garage.sh: $*" >&2; exit 1; }

install() {
    if command -v garage >/dev/null && garage --version 2>/dev/null | grep -q "$GARAGE_VERSION"; then
        return 0
    fi
    echo "garage.sh: building garage $GARAGE_VERSION from crates.io (once; about 20 minutes on 2 cores)" >&2
    cargo install garage --version "$GARAGE_VERSION" --locked --no-default-features \
        --features bundled-libs,lmdb,sqlite >&2
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

node_cfg() { echo "$1/node$2/garage.toml"; }

write_cfg() { # DIR N NODES SECRET
    local dir=$1 n=$2 nodes=$3 secret=$4
    local rpc s3 admin
    rpc=$(free_port); s3=$(free_port); admin=$(free_port)
    mkdir -p "$dir/node$n/meta" "$dir/node$n/data"
    cat >"$(node_cfg "$dir" "$n")" <<CFG
metadata_dir = "$dir/node$n/meta"
data_dir = "$dir/node$n/data"
db_engine = "sqlite"
replication_factor = $nodes
rpc_bind_addr = "127.0.0.1:$rpc"
rpc_public_addr = "127.0.0.1:$rpc"
rpc_secret = "$secret"

[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:$s3"
root_domain = ".s3.garage.localhost"

[admin]
api_bind_addr = "127.0.0.1:$admin"
admin_token = "$secret"
CFG
    echo "$rpc $s3" >"$dir/node$n/ports"
}

start_node() { # DIR N; fails (1) if the node exits at start
    local dir=$1 n=$2 cfg
    cfg=$(node_cfg "$dir" "$n")
    [[ -f $cfg ]] || die "no node $n under $dir"
    RUST_LOG=warn garage -c "$cfg" server >>"$dir/node$n/log" 2>&1 &
    echo $! >"$dir/node$n/pid"
    local s3
    s3=$(cut -d' ' -f2 "$dir/node$n/ports")
    # Up when its S3 port answers and it answers over RPC itself (its RPC
    # port could be bound by someone else: then it panics and exits).
    for _ in $(seq 1 100); do
        kill -0 "$(cat "$dir/node$n/pid")" 2>/dev/null || return 1
        if (exec 3<>"/dev/tcp/127.0.0.1/$s3") 2>/dev/null &&
            timeout 3 garage -c "$cfg" status >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.1
    done
    echo "garage.sh: node $n did not come up within 10 s; stopping it" >&2
    stop_node "$dir" "$n"
    return 1
}

stop_node() { # DIR N
    local pidf="$1/node$2/pid" pid
    [[ -f $pidf ]] || return 0
    pid=$(cat "$pidf")
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid"
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    fi
    rm -f "$pidf"
}

g() { garage -c "$(node_cfg "$DIR" 1)" "$@"; }

start() {
    DIR=$1; local nodes=${2:-1}
    [[ $nodes == 1 || $nodes == 3 ]] || die "NODES is 1 or 3"
    install
    mkdir -p "$DIR"; DIR=$(cd "$DIR" && pwd)
    local secret
    secret=$(openssl rand -hex 32 2>/dev/null || python3 -c 'import secrets; print(secrets.token_hex(32))')
    # A port found free can be taken by another process before the node
    # binds it (tests start clusters in parallel): then the node exits at
    # once, and it is started again on other ports.
    for n in $(seq 1 "$nodes"); do
        local attempt
        for attempt in 1 2 3 4 5; do
            write_cfg "$DIR" "$n" "$nodes" "$secret"
            start_node "$DIR" "$n" && break
            stop_node "$DIR" "$n"
            if [[ $attempt == 5 ]]; then
                cat "$DIR/node$n/log" >&2
                die "node $n exited at start 5 times"
            fi
            echo "garage.sh: node $n exited at start (a port taken?); again on other ports" >&2
        done
    done
    local ids=()
    for n in $(seq 1 "$nodes"); do
        ids+=("$(garage -c "$(node_cfg "$DIR" "$n")" node id -q 2>/dev/null)")
    done
    for n in $(seq 2 "$nodes"); do g node connect "${ids[$((n-1))]}" >/dev/null; done
    for n in $(seq 1 "$nodes"); do
        local short=${ids[$((n-1))]%%@*}
        for _ in $(seq 1 50); do
            g layout assign -z "dc$n" -c 1G "${short:0:16}" >/dev/null 2>&1 && break
            sleep 0.2
        done
    done
    g layout apply --version 1 >/dev/null
    local key
    for _ in $(seq 1 50); do key=$(g key create nkbackup-test 2>/dev/null) && break; sleep 0.2; done
    local kid ksecret
    kid=$(awk '/Key ID:/ {print $3}' <<<"$key")
    ksecret=$(awk '/Secret key:/ {print $3}' <<<"$key")
    [[ -n $kid && -n $ksecret ]] || die "could not create a key: $key"
    g bucket create nkb >/dev/null
    g bucket allow --read --write --owner nkb --key "$kid" >/dev/null
    local s3
    s3=$(cut -d' ' -f2 "$DIR/node1/ports")
    cat >"$DIR/env" <<ENV
GARAGE_DIR=$DIR
GARAGE_NODES=$nodes
AWS_ENDPOINT_URL=http://127.0.0.1:$s3
AWS_REGION=garage
AWS_ACCESS_KEY_ID=$kid
AWS_SECRET_ACCESS_KEY=$ksecret
ENV
    chmod 600 "$DIR/env"
    echo "garage.sh: $nodes node(s) up under $DIR (S3 on 127.0.0.1:$s3, bucket nkb)" >&2
}

stop() {
    local dir=$1
    for p in "$dir"/node*/pid; do
        [[ -f $p ]] || continue
        local n=${p%/pid}; n=${n##*/node}
        stop_node "$dir" "$n"
    done
}

case "${1:-}" in
    install) install ;;
    start) [[ $# -ge 2 ]] || die "start DIR [NODES]"; start "$2" "${3:-1}" ;;
    stop) [[ $# -eq 2 ]] || die "stop DIR"; stop "$2" ;;
    stop-node) stop_node "$2" "$3" ;;
    start-node) DIR=$2; start_node "$2" "$3" || { cat "$2/node$3/log" >&2; die "node $3 exited"; } ;;
    *) die "usage: install | start DIR [NODES] | stop DIR | stop-node DIR N | start-node DIR N" ;;
esac
