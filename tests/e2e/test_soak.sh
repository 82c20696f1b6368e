#!/usr/bin/env bash
# The short soak (issue 18): tools/soak.py for 60 s against this build,
# both tiers under a mixed load (UDP and TCP, hits, misses, NXDOMAIN,
# NODATA, a 6M cache that evicts all the time) while the upper is stopped,
# killed and restarted, the local killed and restarted on its store, the zone
# reloaded and a burst of never-seen names sent. It must end with verdict
# PASS: no crash, every fault recovered, and local's answers equal to the
# upper's once the TTL has passed. The 30-minute run is tools/soak.sh
# --duration 1800 on a Release build.
set -eu -o pipefail
: "${TDNS_BUILD:?TDNS_BUILD must name the build directory}"
src=$(cd "$(dirname "$0")/../.." && pwd)
command -v dnsperf >/dev/null || { echo "dnsperf missing: skipped"; exit 77; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
rc=0
# tee: what it got to is in the test's output even if ctest stops it.
set +e
python3 "$src/tools/soak.py" --build "$TDNS_BUILD" --duration 60 --rate 1500 \
	--names 20000 --threads 2 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
set -e
grep -q "^verdict: PASS$" "$out" || { echo "FAIL: soak verdict not PASS (exit $rc)"; exit 1; }
[ "$rc" = 0 ] || { echo "FAIL: soak exited $rc"; exit 1; }
echo "ok: soak PASS"
