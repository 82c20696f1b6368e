#!/usr/bin/env bash
# SIGHUP under load loses nothing (issue 14): while dnsperf sends a steady
# stream to each tier (UDP, 2000 queries a second for 6 s), the daemon gets
# SIGHUP five times (configuration file re-read, certificates, zones
# reported); every query is answered (dnsperf: 0 lost), the daemon logs each
# reload, and it is still the same process afterwards.
. "$(dirname "$0")/lib.sh"
e2e_init
command -v dnsperf >/dev/null || fail "dnsperf is not installed (tools/deps.sh)"

zone_load "$T/upper" "$ZONES"/upper/*.zone
printf 'verbosity: 0\n' >"$T/upper.conf"
printf 'verbosity: 0\n' >"$T/local.conf"
start_upper UPPER "$T/upper" -c "$T/upper.conf"
start_local LOCAL "$T/local" "$UPPER_ADDR:$UPPER_PORT" -c "$T/local.conf"
for n in webapp api www mail; do printf '%s.site A\n' "$n"; done >"$T/q.txt"

for d in UPPER LOCAL; do
	addr=$(_get "${d}_ADDR")
	port=$(_get "${d}_PORT")
	pid=$(_get "${d}_PID")
	dnsperf -s "$addr" -p "$port" -d "$T/q.txt" -l 6 -Q 2000 -c 2 -q 50 -t 2 \
		>"$T/$d.perf" 2>&1 &
	perf=$!
	for _ in 1 2 3 4 5; do
		sleep 1
		kill -HUP "$pid"
	done
	wait "$perf" || fail "dnsperf against $d failed: $(cat "$T/$d.perf")"
	sent=$(awk '/Queries sent:/ { print $3 }' "$T/$d.perf")
	lost=$(awk '/Queries lost:/ { print $3 }' "$T/$d.perf")
	log "$d: $sent sent, $lost lost across 5 SIGHUPs"
	[ "${sent:-0}" -gt 5000 ] || fail "$d: only ${sent:-0} queries sent"
	[ "$lost" = 0 ] || fail "$d: $lost queries lost across SIGHUP"
	kill -0 "$pid" || fail "$d is gone"
	# the last SIGHUP's reload may still be under way on a loaded machine
	for _ in $(seq 1 100); do
		n=$(grep -c "configuration re-read" "$T/$d.log" || true)
		[ "$n" -ge 5 ] && break
		sleep 0.1
	done
	[ "$n" -ge 5 ] || fail "$d logged $n reloads within 10 s, want 5"
done
stop_daemon LOCAL
stop_daemon UPPER
echo "ok: no query lost across SIGHUP on either tier"
