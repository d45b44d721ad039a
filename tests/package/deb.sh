#!/usr/bin/env bash
# Builds nkbackup's Debian package with `cargo deb` and tests it the way an
# admin meets it: installed with apt into a clean Debian root made by
# debootstrap (a chroot, not the build machine). Inside the root it checks
#   * the package's dependencies resolved (libpcsclite1) and its
#     recommendation installed (pcscd),
#   * `nkbackup --version`, `man -w nkbackup` and a subcommand's page,
#   * the bash, zsh and fish completions, the systemd units, the docs and
#     the example configuration where Debian keeps them,
#   * `nkbackup init`, `recovery-key new`, a seal of a small tree and its
#     restore with the recovery key, compared file by file,
#   * that nothing was enabled or started (no timer link, no /etc/nkbackup).
# It prints the package's size and the install time. Needs root (chroot,
# mount) and the Debian mirror; tests/run-all.sh runs it.
#
# Usage: tests/package/deb.sh [--keep]   (--keep leaves the root for a look)
# Environment: NKBACKUP_DEBIAN_MIRROR (default http://deb.debian.org/debian),
#              NKBACKUP_DEBIAN_SUITE (default: this machine's codename).
set -euo pipefail
cd "$(dirname "$0")/../.."

CARGO_DEB_VERSION=3.8.0
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
export PATH="$CARGO_BIN:$PATH"
MIRROR=${NKBACKUP_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=${NKBACKUP_DEBIAN_SUITE:-$(. /etc/os-release && echo "$VERSION_CODENAME")}
# Downloaded .debs are kept between runs (debootstrap --cache-dir).
CACHE=/var/cache/nkbackup-debootstrap
keep=0
[ "${1:-}" = --keep ] && keep=1

say() { printf '\n== deb.sh: %s ==\n' "$*"; }
die() { echo "deb.sh: FAILED: $*" >&2; exit 1; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

for tool in debootstrap:debootstrap dpkg-deb:dpkg; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || {
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${tool#*:}" >/dev/null
  }
done
if ! cargo deb --version 2>/dev/null | grep -q "$CARGO_DEB_VERSION"; then
  say "installing cargo-deb $CARGO_DEB_VERSION (once; about 2 minutes)"
  cargo install cargo-deb --version "$CARGO_DEB_VERSION" --locked >&2
fi

say "cargo deb"
version=$(cargo metadata --no-deps --format-version 1 |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["packages"][0]["version"])')
arch=$(dpkg --print-architecture)
deb=target/debian/nkbackup_${version}-1_${arch}.deb
rm -f "$deb"
cargo deb --locked >&2
[ -f "$deb" ] || die "cargo deb made no $deb"
size=$(stat -c %s "$deb")
installed_kib=$(dpkg-deb -f "$deb" Installed-Size)
echo "package: $deb, $((size / 1024)) KiB (installed $installed_kib KiB)"
dpkg-deb -f "$deb" Package Version Depends Recommends

work=$(mktemp -d /var/tmp/nkbackup-deb.XXXXXX)
root=$work/root
cleanup() {
  if mountpoint -q "$root/proc" 2>/dev/null; then as_root umount "$root/proc"; fi
  if [ "$keep" = 1 ]; then echo "root left in $root"; else as_root rm -rf "$work"; fi
}
trap cleanup EXIT

say "debootstrap $SUITE (minbase + man-db) from $MIRROR"
as_root mkdir -p "$CACHE"
t0=$(date +%s)
as_root debootstrap --variant=minbase --include=man-db --cache-dir="$CACHE" \
  "$SUITE" "$root" "$MIRROR" >"$work/debootstrap.log" 2>&1 ||
  { tail -n 30 "$work/debootstrap.log" >&2; die "debootstrap failed (log above)"; }
echo "root made in $(($(date +%s) - t0)) s"
as_root mount -t proc proc "$root/proc"
in_root() { as_root chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 "$@"; }
# Like any image build: packages must not start services in the root.
printf '#!/bin/sh\nexit 101\n' | as_root tee "$root/usr/sbin/policy-rc.d" >/dev/null
as_root chmod 755 "$root/usr/sbin/policy-rc.d"
as_root cp "$deb" "$root/tmp/nkbackup.deb"

say "apt-get install ./nkbackup.deb in the root"
in_root apt-get update -qq
t0=$(date +%s)
in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq /tmp/nkbackup.deb >"$work/install.log" 2>&1 ||
  { tail -n 30 "$work/install.log" >&2; die "apt-get install of the package failed (log above)"; }
echo "installed (with its dependencies and pcscd) in $(($(date +%s) - t0)) s"

say "checks in the root"
check() { # DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@"; then echo "ok: $what"; else die "$what"; fi
}
for pkg in nkbackup libpcsclite1 pcscd; do
  status=$(as_root chroot "$root" dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  check "package $pkg installed ($status)" test "$status" = "install ok installed"
done
out=$(in_root nkbackup --version)
check "nkbackup --version says $version ($out)" test "$out" = "nkbackup $version"
page=$(in_root man -w nkbackup)
check "man -w nkbackup finds $page" test "$page" = /usr/share/man/man1/nkbackup.1.gz
page=$(in_root man -w nkbackup-seal)
check "man -w nkbackup-seal finds $page" test "$page" = /usr/share/man/man1/nkbackup-seal.1.gz
check "man nkbackup-seal renders its examples" \
  sh -c "chroot '$root' env MANWIDTH=100 man -P cat nkbackup-seal 2>/dev/null | grep -q 'EXAMPLES\|Examples'"
check "man pages for every subcommand" \
  test "$(find "$root/usr/share/man/man1" -name 'nkbackup*.1.gz' | wc -l)" -eq "$(find docs/man -name '*.1' | wc -l)"
f=$root/usr/share/bash-completion/completions/nkbackup
check "bash completion at ${f#"$root"}" sh -c "grep -q 'complete .*nkbackup' '$f' && bash -n '$f'"
f=$root/usr/share/zsh/vendor-completions/_nkbackup
check "zsh completion at ${f#"$root"}" sh -c "head -n 1 '$f' | grep -q '^#compdef nkbackup'"
f=$root/usr/share/fish/vendor_completions.d/nkbackup.fish
check "fish completion at ${f#"$root"}" grep -q 'complete -c nkbackup' "$f"
for unit in nkbackup.service nkbackup.timer nkbackup-failure@.service; do
  check "unit /usr/lib/systemd/system/$unit" test -s "$root/usr/lib/systemd/system/$unit"
done
check "nothing enabled: no timer link, no /etc/nkbackup" \
  sh -c "! find '$root/etc/systemd' -name 'nkbackup*' | grep -q . && test ! -e '$root/etc/nkbackup'"
for doc in README.md FORMAT.md JOBS.md RECOVERY.md copyright LICENSE-MIT LICENSE-APACHE examples/nkbackup.toml \
    examples/nkbackup.env examples/nkbackup.cron; do
  check "doc /usr/share/doc/nkbackup/$doc" sh -c "ls '$root/usr/share/doc/nkbackup/$doc'* >/dev/null 2>&1"
done

say "init, seal and restore inside the root"
in_root sh -ec '
  mkdir -p /srv/data/svc/logs /srv/data/svc/empty
  for i in $(seq 1 500); do echo "line $i"; done > /srv/data/svc/logs/app.log
  head -c 300000 /dev/urandom > /srv/data/svc/media.bin
  ln -s logs/app.log /srv/data/svc/current.log
  nkbackup init --repo /srv/backups
  nkbackup recovery-key new --repo /srv/backups > /root/recovery.out
  grep -E "^ *Es" /root/recovery.out | head -n 1 > /root/recovery.txt
  test "$(wc -w < /root/recovery.txt)" -eq 12
  nkbackup seal --repo /srv/backups --class archive --json /srv/data/svc > /root/seal.json
' || die "init, recovery-key new or seal in the root failed (output above)"
id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sidecar"]["id"])' "$root/root/seal.json")
check "seal made backup $id" test -n "$id"
in_root sh -ec "
  nkbackup list --repo /srv/backups | grep -q '$id'
  nkbackup restore --repo /srv/backups '$id' --to /root/restored --recovery-key-file /root/recovery.txt
  diff -r --no-dereference /srv/data/svc /root/restored/svc
  test \"\$(readlink /root/restored/svc/current.log)\" = logs/app.log
  test -d /root/restored/svc/empty
" || die "list or restore in the root failed, or the restored tree differs (output above)"
echo "ok: init, recovery-key new, seal, list and restore in the root; restored tree identical"

say "package OK: $((size / 1024)) KiB, installs in a clean $SUITE root"
