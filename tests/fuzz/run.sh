#!/usr/bin/env bash
# Build the libFuzzer targets (clang) into build-fuzz/ and run each for a
# while, one at a time (the machine has two cores):
#   tests/fuzz/run.sh [-t SECONDS] [TARGET...]      (default 120 s, all nine)
# New inputs go to build-fuzz/corpus/<target>/ (the committed seeds in
# tests/fuzz/corpus/<target>/ are read, never written); a crash leaves its
# input in build-fuzz/artifacts/<target>/ and the run's log in
# build-fuzz/logs/<target>.log. A summary line per target gives the time,
# the executions (libFuzzer's stat::number_of_executed_units) and coverage.
# Reproduce a crash with build-fuzz/fuzz_<target> FILE, minimise it with
# -minimize_crash=1 -runs=10000, and commit it as
# tests/fuzz/corpus/<target>/crash-<what> so the replay test guards the fix.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
secs=120
if [ "${1:-}" = -t ]; then
	secs=$2
	shift 2
fi
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(auth local upstream rrset zoneload encode msg doh diff)

. "$top/tools/deps.sh"
tdns_deps fuzz

build="$top/build-fuzz"
# TDNS_WERROR off: clang warns about a few things gcc does not (reported to
# the owners); the gcc build in tools/test.sh keeps -Werror.
cmake -S "$top" -B "$build" -DFUZZ=ON -DCMAKE_C_COMPILER=clang \
	-DBUILD_TESTING=OFF -DTDNS_WERROR=OFF >/dev/null
cmake --build "$build" -j 2 --target "${targets[@]/#/fuzz_}" >/dev/null

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:symbolize=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$top/tests/fuzz/lsan.supp
rc=0
for t in "${targets[@]}"; do
	mkdir -p "$build/corpus/$t" "$build/artifacts/$t" "$build/logs"
	extra=()
	[ -f "$top/tests/fuzz/$t.dict" ] && extra+=("-dict=$top/tests/fuzz/$t.dict")
	maxlen=4096
	case "$t" in upstream | msg) maxlen=8192 ;; esac
	log="$build/logs/$t.log"
	start=$(date +%s)
	if "$build/fuzz_$t" -max_total_time="$secs" -print_final_stats=1 \
		-max_len="$maxlen" -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$build/artifacts/$t/" "${extra[@]}" \
		"$build/corpus/$t" "$top/tests/fuzz/corpus/$t" >"$log" 2>&1; then
		result=clean
	else
		result="FAILED (see $log)"
		rc=1
	fi
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
	echo "$t: $result, $(( $(date +%s) - start )) s, ${execs:-?} executions, $cov," \
		"corpus $(ls "$build/corpus/$t" | wc -l) new inputs"
done
exit $rc
