#!/usr/bin/env bash
# Install what is missing, build with AddressSanitizer + UBSan into
# build-asan/, and run every test (unit and end-to-end) with ctest.
# Extra arguments go to ctest (e.g. tools/test.sh -R e2e -V).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/tools/deps.sh"
tdns_deps test

build="$top/build-asan"
cmake -S "$top" -B "$build" -DTDNS_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$build" -j "$(nproc)"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
cd "$build"
ctest --output-on-failure -j "$(nproc)" "$@"
