#!/usr/bin/env bash
# Install what is missing, build into build/, seed zones/ into var/ (the
# upper's zones signed, tools/seed_signed.sh), and run
# both tiers in the foreground: tierdns-upper on 127.0.0.1:9998 and
# tierdns-local on 127.0.0.1:9999 forwarding to it. Ctrl-C stops both.
# Then, from another terminal:  dig @127.0.0.1 -p 9999 webapp.site
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/tools/deps.sh"
tdns_deps build

build="$top/build"
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DTDNS_SANITIZE=OFF -DBUILD_TESTING=OFF >/dev/null
cmake --build "$build" -j "$(nproc)"

var="$top/var"
mkdir -p "$var"
# The upper's zones signed (keys made once into var/keys), the local's as
# they are (--force: the repository's files are what to serve, edited or
# not, their serial raised by the store if need be).
"$top/tools/seed_signed.sh" "$build" "$var"
"$build/tierdns-zone" --db "$var/local" load --force "$top"/zones/local/*.zone

pids=()
stop() {
	trap - INT TERM EXIT
	# errexit must not cut this short when a daemon has already exited
	if [ ${#pids[@]} -gt 0 ]; then
		kill "${pids[@]}" 2>/dev/null || true
	fi
	wait 2>/dev/null || true
}
trap stop INT TERM EXIT

"$build/tierdns-upper" --db "$var/upper" --listen 127.0.0.1 --port 9998 &
pids+=($!)
"$build/tierdns-local" --db "$var/local" --listen 127.0.0.1 --port 9999 \
	--upstream 127.0.0.1:9998 &
pids+=($!)
echo "tierdns: upper on 127.0.0.1:9998, local on 127.0.0.1:9999 (Ctrl-C stops both)"
echo "try:     dig @127.0.0.1 -p 9999 webapp.site"
echo "         delv @127.0.0.1 -p 9998 -a $var/root-anchor.conf webapp.site"
wait -n "${pids[@]}"
