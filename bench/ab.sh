#!/usr/bin/env bash
# Compares two nkbackup binaries on the benchmark's trees: seal and
# restore, runs alternating between the two, medians reported.
#
#   bench/ab.sh OLD_BINARY NEW_BINARY [--size 512M] [--small-files 200000] [--runs 5] [--work DIR]
#
# For a change that must not slow nkbackup down: build the old commit in a
# worktree (`git worktree add /tmp/old REV && cargo build --release` there)
# and give both binaries. Like bench/run.sh it warms each tree right before
# each seal and restores into a fresh ext4 on a loop device (as root), so
# that earlier runs do not decide later ones. Prints one Markdown table.
#
# Each operation that reads the backup finds it in the page cache (read
# right before): otherwise a full restore by the binary whose `ls` and
# one-file restore read little runs with the backup cold (this VM's host
# reclaims idle page cache within seconds) and looks 1.2-1.4 x slower.
# Besides seal and restore it times `restore --path` of one small file
# (the middle one, in byte order, of those under 64 KiB) and `ls`, and
# reports the backup's size: with a seekable payload (format 2) both read
# only what they need, and `--json` says how many bytes of the file that
# was (the "read" columns; "-" where a binary does not say).
set -euo pipefail
cd "$(dirname "$0")/.."
old=$(realpath "$1"); new=$(realpath "$2"); shift 2
size=512M; small=200000; runs=5; work=${TMPDIR:-/tmp}/nkbackup-ab
while [ $# -gt 0 ]; do
  case "$1" in
    --size) size=$2; shift 2 ;;
    --small-files) small=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
command -v /usr/bin/time >/dev/null || { echo "needs GNU time (Debian package time)" >&2; exit 2; }
command -v age-keygen >/dev/null || { echo "needs age-keygen (Debian package age)" >&2; exit 2; }
loopfs=0
if [ "$(id -u)" -eq 0 ] && command -v mkfs.ext4 >/dev/null && losetup -f >/dev/null 2>&1; then loopfs=1; fi

rm -rf "$work"; mkdir -p "$work/trees"
python3 bench/gen_tree.py --size "$size" "$work/trees/mixed" >/dev/null
python3 bench/gen_tree.py --small-files "$small" "$work/trees/small" >/dev/null
age-keygen -o "$work/key.txt" 2>/dev/null
pk=$(grep -o 'age1[0-9a-z]*' "$work/key.txt")
: > "$work/rows.tsv"; : > "$work/sizes.tsv"

fresh_fs() { # DIR BYTES FILES
  mkdir -p "$1"
  if [ "$loopfs" = 1 ]; then
    truncate -s $(($2 * 4 + 1073741824)) "$1.img"
    mkfs.ext4 -q -F -N $(($3 * 2 + 65536)) "$1.img"
    mount -o loop "$1.img" "$1"
  fi
}
drop_fs() { if mountpoint -q "$1"; then umount "$1"; fi; rm -rf "$1" "$1.img"; }
trap 'for m in "$work"/*/mnt; do mountpoint -q "$m" 2>/dev/null && umount "$m"; done; true' EXIT

timed() { # LABEL OP -- command
  local label=$1 op=$2; shift 3
  sync
  /usr/bin/time -f '%e %M' -o "$work/t" "$@" >"$work/out" 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
  read -r s kb <"$work/t"
  printf '%s\t%s\t%s\t%s\n' "$label" "$op" "$s" "$kb" >>"$work/rows.tsv"
}

for tree in mixed small; do
  t="$work/trees/$tree"; parent=$(dirname "$t"); base=$(basename "$t")
  bytes=$(du -sb "$t" | cut -f1); files=$(find "$t" -type f | wc -l)
  for i in $(seq 1 "$runs"); do
    for which in old new; do
      bin=$old; [ "$which" = new ] && bin=$new
      d="$work/$which-$tree"; rm -rf "$d"; mkdir -p "$d"
      "$bin" init --repo "$d/r" >/dev/null
      "$bin" recipient add --repo "$d/r" "$pk" --label ab >/dev/null
      tar -C "$parent" -cf - "$base" | cat >/dev/null
      timed "$which" "seal $tree" -- "$bin" seal --repo "$d/r" --class archive "$t"
      age_file=$(ls "$d"/r/backups/archive/*.age)
      printf '%s\t%s\t%s\n' "$which" "$tree" "$(stat -c %s "$age_file")" >>"$work/sizes.tsv"
      one=$(cd "$parent" && find "$base" -type f -size -64k | LC_ALL=C sort | awk '{a[NR]=$0} END {print a[int((NR+1)/2)]}')
      cat "$age_file" >/dev/null
      timed "$which" "restore one file $tree" -- "$bin" restore --repo "$d/r" latest --to "$d/one" -i "$work/key.txt" --path "$one" --json
      cmp "$t/${one#"$base"/}" "$d/one/$one"
      python3 -c 'import json,sys; r=json.load(open(sys.argv[1])).get("index"); print(r["ciphertext_read"] if r else "-")' "$work/out" >>"$work/read-$which-one-$tree" 2>/dev/null || echo - >>"$work/read-$which-one-$tree"
      cat "$age_file" >/dev/null
      timed "$which" "ls $tree" -- "$bin" ls --repo "$d/r" latest -i "$work/key.txt" --json
      python3 -c 'import json,sys; r=json.load(open(sys.argv[1])).get("read",{}); print(r.get("ciphertext_read","-"))' "$work/out" >>"$work/read-$which-ls-$tree" 2>/dev/null || echo - >>"$work/read-$which-ls-$tree"
      fresh_fs "$d/mnt" "$bytes" "$files"
      cat "$age_file" >/dev/null
      timed "$which" "restore $tree" -- "$bin" restore --repo "$d/r" latest --to "$d/mnt/out" -i "$work/key.txt"
      diff -r "$t" "$d/mnt/out/$base" >/dev/null
      drop_fs "$d/mnt"; rm -rf "$d"
    done
  done
done

python3 - "$work/rows.tsv" "$runs" "$loopfs" "$work" <<'PY'
import sys, statistics, collections, os
rows = [l.split("\t") for l in open(sys.argv[1]) if l.strip()]
by = collections.OrderedDict()
for which, op, s, kb in rows:
    by.setdefault(op, {}).setdefault(which, []).append((float(s), int(kb)))
print("| op | old median s | new median s | new / old | old RSS MiB | new RSS MiB |")
print("|---|---:|---:|---:|---:|---:|")
for op, w in by.items():
    o = statistics.median(x[0] for x in w["old"]); n = statistics.median(x[0] for x in w["new"])
    ro = max(x[1] for x in w["old"]) // 1024; rn = max(x[1] for x in w["new"]) // 1024
    print("| %s | %.2f | %.2f | %.2f | %d | %d |" % (op, o, n, n / o, ro, rn))
sizes = collections.OrderedDict()
for l in open(os.path.join(sys.argv[4], "sizes.tsv")):
    which, tree, n = l.split()
    sizes.setdefault(tree, {})[which] = int(n)
print("\n| tree | old backup bytes | new backup bytes | new / old | new: one file read | new: ls read |")
print("|---|---:|---:|---:|---:|---:|")
for tree, s in sizes.items():
    def last(name):
        p = os.path.join(sys.argv[4], name)
        return open(p).read().split()[-1] if os.path.exists(p) else "-"
    print("| %s | %d | %d | %.4f | %s | %s |" % (tree, s["old"], s["new"], s["new"] / s["old"],
          last("read-new-one-" + tree), last("read-new-ls-" + tree)))
print("\n(%s runs each, alternating; %d cores; restores into a fresh ext4: %s)" % (
    sys.argv[2], __import__("os").cpu_count(), "yes" if sys.argv[3] == "1" else "no"))
PY
