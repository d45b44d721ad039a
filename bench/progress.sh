#!/usr/bin/env bash
# Does drawing the progress bar slow a seal down? Seals one tree on a
# pseudo-terminal (util-linux `script`), alternating: with the bar (the
# default on a terminal) and with --quiet; prints the medians as a
# Markdown table. The pseudo-terminal's output is read and thrown away,
# as a terminal would.
#
#   bench/progress.sh [BINARY] [--size 512M] [--runs 5] [--work DIR]
#
# BINARY defaults to target/release/nkbackup (cargo build --release).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/release/nkbackup
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then bin=$1; shift; fi
bin=$(realpath "$bin")
size=512M; runs=5; work=${TMPDIR:-/tmp}/nkbackup-progress
while [ $# -gt 0 ]; do
  case "$1" in
    --size) size=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
command -v script >/dev/null || { echo "needs script (Debian package bsdutils)" >&2; exit 2; }
command -v age-keygen >/dev/null || { echo "needs age-keygen (Debian package age)" >&2; exit 2; }

rm -rf "$work"; mkdir -p "$work"
python3 bench/gen_tree.py --size "$size" "$work/tree" >/dev/null
age-keygen -o "$work/key.txt" 2>/dev/null
pk=$(grep -o 'age1[0-9a-z]*' "$work/key.txt")
"$bin" init --repo "$work/repo" >/dev/null
"$bin" recipient add --repo "$work/repo" "$pk" --label bench >/dev/null
: >"$work/rows"
for i in $(seq 1 "$runs"); do
  for mode in bar quiet; do
    flag=; [ "$mode" = quiet ] && flag=--quiet
    find "$work/tree" -type f -exec cat {} + >/dev/null   # warm, as for every run
    sync
    t0=$(date +%s.%N)
    script -qfec "$bin seal --repo $work/repo --class media $flag $work/tree" /dev/null >"$work/tty.$mode" </dev/null ||
      { cat "$work/tty.$mode" >&2; exit 1; }
    t1=$(date +%s.%N)
    echo "$mode $(python3 -c "print(round($t1 - $t0, 3))")" >>"$work/rows"
    grep -q "sealing media" "$work/tty.$mode" && drawn=yes || drawn=no
    [ "$mode" = bar ] && [ "$drawn" = no ] && { echo "no bar was drawn" >&2; exit 1; }
    [ "$mode" = quiet ] && [ "$drawn" = yes ] && { echo "a bar was drawn with --quiet" >&2; exit 1; }
  done
  rm -rf "$work/repo/backups"; mkdir "$work/repo/backups"   # a fresh repository each round
done
median() { grep "^$1 " "$work/rows" | cut -d' ' -f2 | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
bar=$(median bar); quiet=$(median quiet)
bytes=$(du -sb "$work/tree" | cut -f1)
echo "| seal of $((bytes >> 20)) MiB on a pty, median of $runs | seconds |"
echo "|---|---|"
echo "| with the bar | $bar |"
echo "| --quiet | $quiet |"
echo "| bar / quiet | $(python3 -c "print(round($bar / $quiet, 3))") |"
rm -rf "$work"
