#!/usr/bin/env bash
# tools/soak.sh - both tiers under a mixed dnsperf load while faults are
# injected in turn; prints a table and a verdict (see tools/soak.py for
# what is measured and judged). Loopback only; stops by itself.
#
#   tools/soak.sh                      5 minutes at 5000 QPS, Release build
#   tools/soak.sh --duration 1800      the 30-minute run
#   tools/soak.sh --help               every option
#
# Installs what is missing (as root), builds a Release build into
# build-rel/ unless --build DIR is given, then runs tools/soak.py.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/tools/deps.sh"
tdns_deps soak
case " $* " in
*" --build "*|*" -h "*|*" --help "*) ;;
*)
	cmake -S "$top" -B "$top/build-rel" -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build "$top/build-rel" -j "$(nproc)" >/dev/null
	;;
esac
exec python3 "$top/tools/soak.py" "$@"
