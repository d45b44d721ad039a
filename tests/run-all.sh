#!/usr/bin/env bash
# Runs the whole nkbackup test suite on a fresh Debian machine:
#   1. installs the system packages the tests need (as root, or via sudo),
#   2. checks formatting and clippy,
#   3. builds the Garage object store once (tests/garage/garage.sh install;
#      skipped when garage 2.5.0 is already installed) for tests/s3.rs,
#      which start and stop their own Garage nodes on loopback; Ceph's
#      RADOS Gateway (a Debian package, step 1) serves tests/s3_versions.rs,
#      which start and stop their own gateway the same way,
#   4. runs unit, integration, example and doc tests (cargo test),
#   5. runs the hardware tests against a virtual OpenPGP card over real
#      pcscd (hw-tests/run.sh); a missing harness fails the run,
#   6. builds the Debian package (cargo deb) and tests it in a clean
#      debootstrap root (tests/package/deb.sh).
# Usage: tests/run-all.sh            (from anywhere)
# Set NKBACKUP_SKIP_LINT=1 to skip fmt/clippy while iterating.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n== %s ==\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Debian packages: stock tools for interop tests, util-linux for prlimit and
# setpriv (killed-seal and unreadable-file tests), promtool (prometheus)
# for the metrics file and systemd-analyze (systemd) for the units
# (tests/jobs.rs), Ceph's RADOS Gateway with a monitor and an OSD and curl
# for the versioned-bucket tests (tests/s3_versions.rs, tests/rgw/rgw.sh).
need=()
for tool in age:age zstd:zstd tar:tar prlimit:util-linux setpriv:util-linux \
    promtool:prometheus systemd-analyze:systemd curl:curl radosgw:radosgw \
    ceph-mon:ceph-mon ceph-osd:ceph-osd ceph:ceph-common; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || need+=("${tool#*:}")
done
if [ "${#need[@]}" -gt 0 ]; then
  say "installing ${need[*]}"
  as_root apt-get update -qq
  # Packages must not start services (prometheus would): a policy-rc.d
  # that refuses, for the install only, unless the machine has one.
  policy=/usr/sbin/policy-rc.d
  made_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
    as_root chmod 755 "$policy"
    made_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  if [ "$made_policy" = 1 ]; then as_root rm -f "$policy"; fi
fi
# Under CI a missing tool fails its test instead of skipping it.
export NKBACKUP_REQUIRE_TOOLS=1

if [ "${NKBACKUP_SKIP_LINT:-0}" != 1 ]; then
  say "cargo fmt --check"
  cargo fmt --all -- --check
  say "cargo clippy"
  cargo clippy --all-targets --features hw-tests,test-hooks --quiet -- -D warnings
fi

say "Garage (S3-compatible object store) for the storage tests"
tests/garage/garage.sh install
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

say "cargo test (unit, integration, examples, doc tests)"
# test-hooks: the crash tests need the binary's test hooks (never in a
# build for use); everything else runs the same with or without them.
cargo test --all-targets --features test-hooks
cargo test --doc

# No skip: a missing harness fails the run (tests/common/mod.rs `skip`
# is the one skip policy, and under this script nothing may skip).
if [ ! -x hw-tests/run.sh ]; then
  echo "hw-tests/run.sh is missing or not executable: the hardware tests cannot run" >&2
  exit 1
fi
say "hardware tests (virtual OpenPGP card over pcscd)"
hw-tests/run.sh

say "Debian package (cargo deb, installed in a debootstrap root)"
tests/package/deb.sh

say "all tests passed"
