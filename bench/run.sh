#!/usr/bin/env bash
# nkbackup benchmark: nkbackup against the stock `tar | zstd | age` pipeline,
# restic and borg, on the same generated trees, in one run.
#
#   bench/run.sh [--size 512M] [--small-files 200000] [--work DIR] [--skip-small] [--cold]
#   bench/run.sh --s3 [--size 512M] [--latency-ms 20] [--scale 100000] [--prune 10000]
#
# --s3 measures buckets instead (issue 23): a Garage node started on
# loopback (tests/garage/garage.sh), nkbackup seal/restore into a bucket
# and restic backup/restore into a bucket of the same node (restic's s3
# backend), beside nkbackup's local figures, first on loopback and then
# with --latency-ms of round trip added (tc netem on a veth pair where the
# kernel has it, else bench/latency_proxy.py, whose own cost is shown by
# a 0 ms row through the same proxy). Then bench/bucket_scale.rs plants
# --scale backups in a bucket and times `retention check`, and `prune` of
# the oldest --prune, and counts the bytes the journal appends wrote.
#
# Installs what it needs from Debian (age, zstd, restic, borgbackup, time),
# builds nkbackup in release mode, generates a deterministic tree
# (bench/gen_tree.py), warms the page cache, then times each tool's backup
# and restore with GNU time (wall seconds, peak RSS of the largest process).
# Prints a Markdown table with ratios to nkbackup (lower is better for
# nkbackup when the ratio is > 1 for the others). Results go to stdout and
# to $WORK/results.md. Restores are compared with the source (diff -r).
#
# The tree is read into the page cache right before each tool's backup
# (this VM's host reclaims idle page cache within seconds, so one warm-up
# per tree left later tools partly cold); with --cold the page cache is
# dropped before each backup instead, as for a nightly run (needs root).
#
# Each restore writes into a freshly made, journaled ext4 filesystem on a
# loop device (as root; otherwise into a plain directory, and it says so):
# on a filesystem where trees were just deleted, ext4's inode allocator
# dominates restore time and depends on what ran before, not on the tool.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

size=512M
small=200000
work=${TMPDIR:-/tmp}/nkbackup-bench
skip_small=0
cold=0
s3=0
latency_ms=20
scale=100000
prune_n=10000
while [ $# -gt 0 ]; do
  case "$1" in
    --s3) s3=1; shift ;;
    --latency-ms) latency_ms=$2; shift 2 ;;
    --scale) scale=$2; shift 2 ;;
    --prune) prune_n=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --small-files) small=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --skip-small) skip_small=1; shift ;;
    --cold) cold=1; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

if [ "$cold" = 1 ] && [ "$(id -u)" -ne 0 ]; then
  echo "--cold drops the page cache before each backup: run it as root" >&2; exit 2
fi
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
need=()
for t in age:age zstd:zstd restic:restic borg:borgbackup /usr/bin/time:time; do
  command -v "${t%%:*}" >/dev/null 2>&1 || need+=("${t#*:}")
done
if [ "${#need[@]}" -gt 0 ]; then
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${need[@]}" >/dev/null
fi

cargo build --release --quiet --bin nkbackup
nk="$root/target/release/nkbackup"

rm -rf "$work"; mkdir -p "$work"
results="$work/results.md"
: > "$work/rows.tsv"

# fresh_fs DIR: a new journaled ext4 (4 x the tree, 2 inodes per file)
# mounted at DIR.
fresh_fs() {
  local dir=$1
  mkdir -p "$dir"
  if [ "$loopfs" = 1 ]; then
    truncate -s "$fs_bytes" "$dir.img"
    mkfs.ext4 -q -F -N "$fs_inodes" "$dir.img"
    mount -o loop "$dir.img" "$dir"
  fi
}
drop_fs() {
  local dir=$1
  if mountpoint -q "$dir"; then umount "$dir"; fi
  rm -rf "$dir" "$dir.img"
}
cleanup_mounts() {
  local m
  for m in "$work"/*/mnt; do
    if mountpoint -q "$m" 2>/dev/null; then umount "$m"; fi
  done
}
trap cleanup_mounts EXIT
loopfs=0
if [ "$(id -u)" -eq 0 ] && command -v mkfs.ext4 >/dev/null && losetup -f >/dev/null 2>&1; then
  loopfs=1
else
  echo "note: not root or no loop device: restores go to a plain directory in $work" >&2
fi

# measure NAME OP BYTES FILES -- command...   (runs under bash -c)
measure() {
  local name=$1 op=$2 bytes=$3 files=$4; shift 5
  local tf="$work/time.txt"
  sync
  /usr/bin/time -f '%e %M' -o "$tf" bash -c "set -eo pipefail; $*" >"$work/out.log" 2>&1 || {
    echo "FAILED: $name $op" >&2; cat "$work/out.log" >&2; exit 1; }
  read -r secs rss_kb <"$tf"
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$op" "$secs" "$rss_kb" "$bytes" "$files" >>"$work/rows.tsv"
  printf '  %-10s %-8s %7.2f s  %6d MiB peak RSS\n' "$name" "$op" "$secs" $((rss_kb / 1024))
}

bench_tree() {
  local label=$1 tree=$2
  local bytes files parent base
  bytes=$(du -sb "$tree" | cut -f1)
  files=$(find "$tree" -type f | wc -l)
  parent=$(dirname "$tree"); base=$(basename "$tree")
  echo "== $label: $files files, $((bytes / 1048576)) MiB =="
  # Before each backup: the same cache state for every tool (warm through
  # cat: GNU tar skips reading file data when its output is /dev/null).
  prepare() {
    if [ "$cold" = 1 ]; then
      sync; echo 3 > /proc/sys/vm/drop_caches
    else
      tar -C "$parent" -cf - "$base" | cat >/dev/null
    fi
  }
  fs_bytes=$((bytes * 4 + 1073741824)); fs_inodes=$((files * 2 + 65536))

  local d="$work/$label"; mkdir -p "$d"
  age-keygen -o "$d/key.txt" 2>/dev/null
  local pk; pk=$(grep -o 'age1[0-9a-z]*' "$d/key.txt")

  # nkbackup
  "$nk" init --repo "$d/nk" >/dev/null
  "$nk" recipient add --repo "$d/nk" "$pk" --label bench >/dev/null
  prepare
  measure nkbackup seal "$bytes" "$files" -- "'$nk' seal --repo '$d/nk' --class archive '$tree' >/dev/null"
  fresh_fs "$d/mnt"
  measure nkbackup restore "$bytes" "$files" -- "'$nk' restore --repo '$d/nk' latest --to '$d/mnt/out' -i '$d/key.txt' >/dev/null"
  diff -r "$tree" "$d/mnt/out/$base" >/dev/null
  drop_fs "$d/mnt"

  # stock pipeline
  prepare
  measure stock seal "$bytes" "$files" -- "tar -C '$parent' -cf - '$base' | zstd -3 -T0 -q | age -r '$pk' > '$d/stock.age'"
  fresh_fs "$d/mnt"; mkdir -p "$d/mnt/out"
  measure stock restore "$bytes" "$files" -- "age -d -i '$d/key.txt' '$d/stock.age' | zstd -d -q | tar -x -C '$d/mnt/out'"
  diff -r "$tree" "$d/mnt/out/$base" >/dev/null
  drop_fs "$d/mnt"; rm -f "$d/stock.age"

  # restic
  export RESTIC_PASSWORD=bench RESTIC_REPOSITORY="$d/restic" RESTIC_CACHE_DIR="$d/restic-cache"
  restic init --quiet >/dev/null
  prepare
  measure restic seal "$bytes" "$files" -- "cd '$parent' && restic backup --quiet '$base'"
  fresh_fs "$d/mnt"
  measure restic restore "$bytes" "$files" -- "restic restore --quiet latest --target '$d/mnt/out'"
  diff -r "$tree" "$d/mnt/out/$base" >/dev/null
  drop_fs "$d/mnt"; rm -rf "$d/restic" "$d/restic-cache"
  unset RESTIC_PASSWORD RESTIC_REPOSITORY RESTIC_CACHE_DIR

  # borg
  export BORG_PASSPHRASE=bench BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes BORG_BASE_DIR="$d/borg-base"
  borg init --encryption repokey "$d/borg" >/dev/null 2>&1
  prepare
  measure borg seal "$bytes" "$files" -- "cd '$parent' && borg create --compression zstd,3 '$d/borg::a' '$base'"
  fresh_fs "$d/mnt"; mkdir -p "$d/mnt/out"
  measure borg restore "$bytes" "$files" -- "cd '$d/mnt/out' && borg extract '$d/borg::a'"
  diff -r "$tree" "$d/mnt/out/$base" >/dev/null
  drop_fs "$d/mnt"; rm -rf "$d/borg" "$d/borg-base"
  unset BORG_PASSPHRASE BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK BORG_BASE_DIR
}

if [ "$s3" = 1 ]; then
  . bench/s3.sh
  exit 0
fi

mkdir -p "$work/trees"
python3 bench/gen_tree.py --size "$size" "$work/trees/mixed" >/dev/null
bench_tree mixed "$work/trees/mixed"
rm -rf "$work/mixed"
if [ "$skip_small" = 0 ]; then
  python3 bench/gen_tree.py --small-files "$small" "$work/trees/small" >/dev/null
  bench_tree small "$work/trees/small"
  rm -rf "$work/small"
fi

python3 - "$work/rows.tsv" "$size" "$small" >"$results" <<'PY'
import sys, collections
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
by = collections.OrderedDict()
for name, op, secs, rss, nbytes, files in rows:
    by.setdefault((op, int(nbytes), int(files)), []).append((name, float(secs), int(rss)))
trees = {}
for name, op, secs, rss, nbytes, files in rows:
    trees.setdefault((int(nbytes), int(files)), None)
print("| tree | op | tool | wall s | MiB/s | files/s | peak RSS MiB | × nkbackup time |")
print("|---|---|---|---:|---:|---:|---:|---:|")
for (op, nbytes, files), tools in by.items():
    base = dict((n, s) for n, s, _ in tools)["nkbackup"]
    label = "%d MiB / %d files" % (nbytes // 1048576, files)
    for name, secs, rss in tools:
        print("| %s | %s | %s | %.2f | %.0f | %.0f | %d | %.2f |" % (
            label, op, name, secs, nbytes / 1048576 / secs, files / secs, rss // 1024, secs / base))
PY
echo; cat "$results"
echo; echo "(machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; $(uname -r); restores into a fresh ext4 per run: $([ "$loopfs" = 1 ] && echo yes || echo no))"
