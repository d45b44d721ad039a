# The --s3 part of bench/run.sh (sourced by it: uses its measure, fresh_fs,
# drop_fs, $nk, $work, $size). docs/PERFORMANCE.md, "Buckets", has the
# figures and how to read them.

garage_dir="$work/garage"
proxy_pid=""
netem=0
stop_s3() {
  if [ -n "$proxy_pid" ]; then kill "$proxy_pid" 2>/dev/null || true; proxy_pid=""; fi
  if [ "$netem" = 1 ]; then tc qdisc del dev lo root 2>/dev/null || true; netem=0; fi
  tests/garage/garage.sh stop "$garage_dir" || true
  cleanup_mounts
}
trap stop_s3 EXIT
tests/garage/garage.sh start "$garage_dir" 1
set -a; . "$garage_dir/env"; set +a
export AWS_DEFAULT_REGION=garage
direct=$AWS_ENDPOINT_URL
s3_port=${direct##*:}

# latency_on MS: adds MS of round trip to the bucket and sets $endpoint
# to the URL to use: netem on lo where the kernel has it, else the proxy.
latency_on() {
  local ms=$1 half
  half=$(python3 -c "print($ms / 2)")
  if [ "$(id -u)" -eq 0 ] && tc qdisc add dev lo root netem delay "${half}ms" 2>/dev/null; then
    netem=1; endpoint=$direct; return
  fi
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
  rm -f "$work/proxy.pid"
  python3 bench/latency_proxy.py "$port" "127.0.0.1:$s3_port" "$half" "$work/proxy.pid" 2>>"$work/proxy.log" &
  for _ in $(seq 1 100); do [ -s "$work/proxy.pid" ] && break; sleep 0.05; done
  proxy_pid=$(cat "$work/proxy.pid")
  endpoint="http://127.0.0.1:$port"
}
latency_off() {
  if [ -n "$proxy_pid" ]; then kill "$proxy_pid" 2>/dev/null || true; wait "$proxy_pid" 2>/dev/null || true; proxy_pid=""; fi
  if [ "$netem" = 1 ]; then tc qdisc del dev lo root; netem=0; fi
}

mkdir -p "$work/trees"
tree="$work/trees/mixed"
python3 bench/gen_tree.py --size "$size" "$tree" >/dev/null
bytes=$(du -sb "$tree" | cut -f1)
files=$(find "$tree" -type f | wc -l)
parent=$(dirname "$tree"); base=$(basename "$tree")
fs_bytes=$((bytes * 4 + 1073741824)); fs_inodes=$((files * 2 + 65536))
d="$work/s3"; mkdir -p "$d"
age-keygen -o "$d/key.txt" 2>/dev/null
pk=$(grep -o 'age1[0-9a-z]*' "$d/key.txt")
prepare() { tar -C "$parent" -cf - "$base" | cat >/dev/null; }
echo "== buckets: $files files, $((bytes / 1048576)) MiB; Garage on 127.0.0.1:$s3_port =="

# nkbackup into REPO (a directory or s3:// URL), as TOOL@SETTING.
nk_round() {
  local setting=$1 repo=$2
  "$nk" init --repo "$repo" >/dev/null
  "$nk" recipient add --repo "$repo" "$pk" --label bench >/dev/null
  prepare
  measure "nkbackup@$setting" seal "$bytes" "$files" -- "'$nk' seal --repo '$repo' --class archive '$tree' >/dev/null"
  fresh_fs "$d/mnt"
  measure "nkbackup@$setting" restore "$bytes" "$files" -- "'$nk' restore --repo '$repo' latest --to '$d/mnt/out' -i '$d/key.txt' >/dev/null"
  diff -r "$tree" "$d/mnt/out/$base" >/dev/null
  drop_fs "$d/mnt"
}
restic_round() {
  local setting=$1 endpoint=$2
  export RESTIC_PASSWORD=bench RESTIC_CACHE_DIR="$d/restic-cache-$setting"
  export RESTIC_REPOSITORY="s3:$endpoint/nkb/restic-$setting"
  restic -o s3.region=garage init --quiet >/dev/null
  prepare
  measure "restic@$setting" seal "$bytes" "$files" -- "cd '$parent' && restic -o s3.region=garage backup --quiet '$base'"
  fresh_fs "$d/mnt"
  measure "restic@$setting" restore "$bytes" "$files" -- "restic -o s3.region=garage restore --quiet latest --target '$d/mnt/out'"
  diff -r "$tree" "$d/mnt/out/$base" >/dev/null
  drop_fs "$d/mnt"; rm -rf "$d/restic-cache-$setting"
  unset RESTIC_PASSWORD RESTIC_REPOSITORY RESTIC_CACHE_DIR
}

nk_round local "$d/nk-local"; rm -rf "$d/nk-local"
export AWS_ENDPOINT_URL=$direct
nk_round loopback "s3://nkb/nk-loopback"
restic_round loopback "$direct"

latency_on "$latency_ms"
how=$([ "$netem" = 1 ] && echo netem || echo proxy)
if [ "$how" = proxy ]; then
  # The proxy's own cost, at 0 ms, so that the latency row is read
  # against it.
  latency_off
  latency_on 0
  export AWS_ENDPOINT_URL=$endpoint
  nk_round "proxy-0ms" "s3://nkb/nk-proxy0"
  latency_off
  latency_on "$latency_ms"
fi
export AWS_ENDPOINT_URL=$endpoint
nk_round "$how-${latency_ms}ms" "s3://nkb/nk-latency"
restic_round "$how-${latency_ms}ms" "$endpoint"
latency_off
export AWS_ENDPOINT_URL=$direct

python3 - "$work/rows.tsv" "$how" "$latency_ms" >"$results" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
how, ms = sys.argv[2], sys.argv[3]
t = {}
print("| setting | op | tool | wall s | MiB/s | peak RSS MiB |")
print("|---|---|---|---:|---:|---:|")
for name, op, secs, rss, nbytes, files in rows:
    tool, setting = name.split("@")
    t[(tool, setting, op)] = (float(secs), int(rss) // 1024)
    print("| %s | %s | %s | %.2f | %.0f | %d |" % (
        setting, op, tool, float(secs), int(nbytes) / 1048576 / float(secs), int(rss) // 1024))
lat = "%s-%sms" % (how, ms)
base = "proxy-0ms" if how == "proxy" else "loopback"
def r(a, b):
    return t[a][0] / t[b][0]
checks = [
    ("restic bucket backup / nkbackup bucket seal (loopback)", r(("restic", "loopback", "seal"), ("nkbackup", "loopback", "seal")), ">=", 3.0),
    ("nkbackup bucket seal / local seal", r(("nkbackup", "loopback", "seal"), ("nkbackup", "local", "seal")), "<=", 1.3),
    ("nkbackup bucket restore / local restore", r(("nkbackup", "loopback", "restore"), ("nkbackup", "local", "restore")), "<=", 1.3),
    ("nkbackup seal, %s / %s" % (lat, base), r(("nkbackup", lat, "seal"), ("nkbackup", base, "seal")), "<=", 1.5),
    ("nkbackup restore, %s / %s" % (lat, base), r(("nkbackup", lat, "restore"), ("nkbackup", base, "restore")), "<=", 1.5),
    ("restic bucket backup / nkbackup bucket seal (%s)" % lat, r(("restic", lat, "seal"), ("nkbackup", lat, "seal")), ">=", 3.0),
]
rss = max(v[1] for (tool, s, op), v in t.items() if tool == "nkbackup" and s != "local")
checks.append(("nkbackup peak RSS in a bucket, MiB", rss, "<=", 96))
print()
print("| target | measured | wanted | met |")
print("|---|---:|---:|---|")
for what, v, op, want in checks:
    ok = v >= want if op == ">=" else v <= want
    print("| %s | %.2f | %s %g | %s |" % (what, v, op, want, "yes" if ok else "**no**"))
PY
echo; cat "$results"

echo; echo "== retention at scale: $scale backups in a bucket, prune of $prune_n =="
scale_url="s3://nkb/scale"
"$nk" init --repo "$scale_url" >/dev/null
"$nk" recipient add --repo "$scale_url" "$pk" --label bench >/dev/null
NKB_SCALE_URL=$scale_url NKB_SCALE_N=$scale NKB_PRUNE_N=$prune_n NKB_CLI=$nk \
  cargo bench --quiet --bench bucket_scale | tee "$work/scale.txt"
echo; echo "(machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; $(uname -r); latency by $how)"
