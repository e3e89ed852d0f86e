#!/usr/bin/env bash
# The fault suite's CI step: two short fault runs (register and append workloads, mixed faults,
# 3 nodes), a 40 s disk-full run (data dirs on tmpfs, about 50 s) and the self-test. Needs
# root. Installs iproute2, nftables and faketime if missing.
# Usage: bash crates/chaos/ci-fault-runs.sh [report-dir]   (run from anywhere; about 8 min on 2
# cores). It uses the debug binaries the test step already built, so CI pays no release build.
# Set CHAOS_DURATION to change the length of the two runs, CHAOS_PROFILE=release for release.
set -euo pipefail
cd "$(dirname "$0")/../.."

reports="${1:-${TMPDIR:-/tmp}/raftkv-chaos-ci}"
duration="${CHAOS_DURATION:-150s}"
profile="${CHAOS_PROFILE:-debug}"

export DEBIAN_FRONTEND=noninteractive
if ! command -v ip >/dev/null || ! command -v nft >/dev/null || ! command -v faketime >/dev/null; then
  apt-get update -qq
  apt-get install -y -qq iproute2 nftables faketime >/dev/null
fi

if [ "$profile" = release ]; then
  cargo build --release --locked -p raftkv -p raftkv-chaos
else
  cargo build --locked -p raftkv -p raftkv-chaos
fi
chaos="target/$profile/raftkv-chaos"
binary="target/$profile/raftkv"
"$chaos" cleanup >/dev/null
rm -rf "$reports"
mkdir -p "$reports"

status=0
show() { # the report of a run that did not pass
  echo "---- $1: verdict"; cat "$1/verdict.txt" 2>/dev/null || true
  echo "---- $1: last events"; tail -n 40 "$1/events.log" 2>/dev/null || true
}
for run in "register 1" "append 2"; do
  set -- $run
  dir="$reports/$1-seed$2"
  echo "== fault run: $1 workload, mixed faults, 3 nodes, seed $2, $duration"
  if ! "$chaos" run --nodes 3 --seed "$2" --duration "$duration" --workload "$1" \
      --faults mixed --quiet --report-dir "$dir" --binary "$binary"; then
    status=1
    show "$dir"
  fi
done

dir="$reports/disk-seed1"
echo "== fault run: register workload, disk-full faults (tmpfs data dirs), 3 nodes, seed 1, 40s"
if ! "$chaos" run --nodes 3 --seed 1 --duration 40s --workload register \
    --faults disk --quiet --report-dir "$dir" --binary "$binary"; then
  status=1
  show "$dir"
fi

echo "== fault suite self-test (unsafe switches must be caught)"
if ! "$chaos" selftest --report-dir "$reports/selftest" --duration 40s --binary "$binary"; then
  status=1
fi
exit $status
