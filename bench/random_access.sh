#!/usr/bin/env bash
# Random access (issue 25): how much of a backup `restore --path` of one
# small file and `ls` read, against a full restore of the same backup, from
# a directory repository and from a Garage bucket.
#
#   bench/random_access.sh [--size 4G] [--runs 3] [--work DIR]
#
# Generates the mixed tree (bench/gen_tree.py), seals it once into a
# directory repository and once into a bucket of a Garage node on loopback
# (tests/garage/garage.sh), then times, --runs times each: a full restore
# (into a fresh ext4 on a loop device when root), a restore of the median
# small file (`--path`, compared with the source) and `ls`. Bytes read:
# from a directory, what the JSON reports say (`ciphertext_read`; a full
# restore reads the whole file); from the bucket, the bytes the Garage
# node sent, counted by bench/latency_proxy.py at 0 ms between nkbackup
# and the node (the sidecar listing and gets included). Prints a Markdown
# table and the issue's targets; writes them to $WORK/results.md.
#
# Old-against-new figures (seal and restore speed, sizes) come from
# bench/ab.sh; docs/PERFORMANCE.md, "Random access", has both.
set -euo pipefail
cd "$(dirname "$0")/.."

size=4G; runs=3; work=${TMPDIR:-/tmp}/nkbackup-ra
while [ $# -gt 0 ]; do
  case "$1" in
    --size) size=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
need=()
for t in age-keygen:age /usr/bin/time:time; do
  command -v "${t%%:*}" >/dev/null 2>&1 || need+=("${t#*:}")
done
if [ "${#need[@]}" -gt 0 ]; then
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${need[@]}" >/dev/null
fi
cargo build --release --quiet --bin nkbackup
nk="$(pwd)/target/release/nkbackup"
tests/garage/garage.sh install

rm -rf "$work"; mkdir -p "$work"
tree="$work/trees/mixed"
python3 bench/gen_tree.py --size "$size" "$tree" >/dev/null
parent=$(dirname "$tree"); base=$(basename "$tree")
bytes=$(du -sb "$tree" | cut -f1); files=$(find "$tree" -type f | wc -l)
one=$(cd "$parent" && find "$base" -type f -size -64k | LC_ALL=C sort | awk '{a[NR]=$0} END {print a[int((NR+1)/2)]}')
age-keygen -o "$work/key.txt" 2>/dev/null
pk=$(grep -o 'age1[0-9a-z]*' "$work/key.txt")
: >"$work/rows.tsv"

loopfs=0
if [ "$(id -u)" -eq 0 ] && command -v mkfs.ext4 >/dev/null && losetup -f >/dev/null 2>&1; then loopfs=1; fi
fresh_fs() {
  mkdir -p "$1"
  if [ "$loopfs" = 1 ]; then
    truncate -s $((bytes * 2 + 1073741824)) "$1.img"
    mkfs.ext4 -q -F -N $((files * 2 + 65536)) "$1.img"
    mount -o loop "$1.img" "$1"
  fi
}
drop_fs() { if mountpoint -q "$1"; then umount "$1"; fi; rm -rf "$1" "$1.img"; }

garage_dir="$work/garage"; proxy_pid=""
cleanup() {
  drop_fs "$work/mnt" 2>/dev/null || true
  if [ -n "$proxy_pid" ]; then kill "$proxy_pid" 2>/dev/null || true; fi
  tests/garage/garage.sh stop "$garage_dir" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# fetched: bytes the Garage node sent through the proxy since the last
# reset (- for the directory repository).
counts="$work/proxy.count"
reset_count() { if [ -n "$proxy_pid" ]; then kill -USR2 "$proxy_pid"; sleep 0.1; fi; }
fetched() {
  if [ -z "$proxy_pid" ]; then echo -; return; fi
  rm -f "$counts"; kill -USR1 "$proxy_pid"
  for _ in $(seq 100); do [ -s "$counts" ] && break; sleep 0.02; done
  cut -d' ' -f2 "$counts"
}
# timed SETTING OP -- command: wall seconds, the JSON report's
# ciphertext_read (KEY names where it is) and the bytes fetched.
timed() {
  local setting=$1 op=$2 key=$3; shift 4
  sync; reset_count
  /usr/bin/time -f '%e' -o "$work/t" "$@" >"$work/out" 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
  local read=-
  if [ "$key" != - ]; then
    read=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))[sys.argv[2]]; print(r["ciphertext_read"])' "$work/out" "$key")
  fi
  printf '%s\t%s\t%s\t%s\t%s\n' "$setting" "$op" "$(cat "$work/t")" "$read" "$(fetched)" >>"$work/rows.tsv"
}

round() { # SETTING REPO
  local setting=$1 repo=$2 r ct
  "$nk" init --repo "$repo" >/dev/null
  "$nk" recipient add --repo "$repo" "$pk" --label bench >/dev/null
  "$nk" seal --repo "$repo" --class archive "$tree" >/dev/null
  ct=$("$nk" list --repo "$repo" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["backups"][0]["ciphertext_bytes"])')
  printf '%s\tciphertext\t0\t%s\t-\n' "$setting" "$ct" >>"$work/rows.tsv"
  for r in $(seq "$runs"); do
    fresh_fs "$work/mnt"
    timed "$setting" restore - -- "$nk" restore --repo "$repo" latest --to "$work/mnt/out" -i "$work/key.txt"
    drop_fs "$work/mnt"
    rm -rf "$work/one"
    timed "$setting" "restore one file" index -- "$nk" restore --repo "$repo" latest --to "$work/one" -i "$work/key.txt" --path "$one" --json
    cmp "$tree/${one#"$base"/}" "$work/one/$one"
    timed "$setting" ls read -- "$nk" ls --repo "$repo" latest -i "$work/key.txt" --json
  done
}

echo "== random access: $files files, $((bytes / 1048576)) MiB; one file: $one =="
export NKBACKUP_CACHE_DIR="$work/cache"
round directory "$work/repo"

tests/garage/garage.sh start "$garage_dir" 1 >/dev/null
set -a; . "$garage_dir/env"; set +a
export AWS_DEFAULT_REGION=garage
direct=$AWS_ENDPOINT_URL
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
python3 bench/latency_proxy.py "$port" "127.0.0.1:${direct##*:}" 0 "$work/proxy.pid" "$counts" 2>>"$work/proxy.log" &
for _ in $(seq 100); do [ -s "$work/proxy.pid" ] && break; sleep 0.05; done
proxy_pid=$(cat "$work/proxy.pid")
export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
round bucket "s3://nkb/ra"

python3 - "$work/rows.tsv" "$runs" "$loopfs" >"$work/results.md" <<'PY'
import sys, statistics, collections
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
t = collections.defaultdict(list)
read, fetched, ct = {}, {}, {}
for setting, op, secs, r, f in rows:
    if op == "ciphertext":
        ct[setting] = int(r)
        continue
    t[(setting, op)].append(float(secs))
    read[(setting, op)] = ct[setting] if op == "restore" else int(r)
    if f != "-":
        fetched[(setting, op)] = int(f)
print("| repository | op | median s | ciphertext read | bytes fetched from Garage | read / backup |")
print("|---|---|---:|---:|---:|---:|")
for (setting, op), secs in t.items():
    print("| %s | %s | %.3f | %d | %s | %.2f %% |" % (
        setting, op, statistics.median(secs), read[(setting, op)],
        fetched.get((setting, op), "-"), 100.0 * read[(setting, op)] / ct[setting]))
print()
print("| target | measured | wanted | met |")
print("|---|---:|---:|---|")
def check(what, v, want):
    print("| %s | %.2f %% | <= %g %% | %s |" % (what, 100 * v, 100 * want, "yes" if v <= want else "**no**"))
for s in ct:
    m = lambda op: statistics.median(t[(s, op)])
    check("%s: one file's time / full restore's" % s, m("restore one file") / m("restore"), 0.03)
    check("%s: one file's ciphertext read / full restore's" % s, read[(s, "restore one file")] / ct[s], 0.03)
    check("%s: ls's ciphertext read / backup" % s, read[(s, "ls")] / ct[s], 0.01)
    if (s, "restore") in fetched:
        check("%s: one file's bytes fetched / full restore's" % s,
              fetched[(s, "restore one file")] / fetched[(s, "restore")], 0.03)
        check("%s: ls's bytes fetched / backup" % s, fetched[(s, "ls")] / ct[s], 0.01)
print("\n(%s runs each; %d cores; full restores into a fresh ext4: %s)" % (
    sys.argv[2], __import__("os").cpu_count(), "yes" if sys.argv[3] == "1" else "no"))
PY
echo; cat "$work/results.md"
