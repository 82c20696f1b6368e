#!/usr/bin/env bash
# A slow client holds neither the control socket nor the metrics port for
# long (control.h): a client that trickles its request a byte at a time,
# never finishing it, is answered (400, or "error: no request line") and
# closed within the 5 s request deadline although it never stops sending;
# while one trickles to the metrics port, a control command answers at
# once, and the other way round; while twenty trickle to the metrics port,
# a scrape is answered at once.
. "$(dirname "$0")/lib.sh"
e2e_init
CTL="$TDNS_BUILD/tierdns-control"
[ -x "$CTL" ] || fail "missing binary $CTL"

# trickle tcp ADDR:PORT [SRC] | unix PATH: send a byte every 0.2 s for up
# to 12 s, until the server replies or closes; prints the seconds that took
# and the reply's first line (empty when the close came as a reset).
trickle() {
	python3 - "$1" "$2" "${3:-}" <<'PY'
import socket, sys, time
kind, where, src = sys.argv[1], sys.argv[2], sys.argv[3]
if kind == "tcp":
    host, port = where.rsplit(":", 1)
    s = socket.create_connection((host, int(port)),
                                 source_address=(src, 0) if src else None)
else:
    s = socket.socket(socket.AF_UNIX)
    s.connect(where)
s.setblocking(False)
t0 = time.monotonic()
got = b""
while time.monotonic() - t0 < 12:
    try:
        s.send(b"G")
    except OSError:
        pass  # closed: what came is read below
    time.sleep(0.2)
    try:
        d = s.recv(4096)
    except BlockingIOError:
        continue
    except OSError:
        break
    got += d
    break
line = got.split(b"\n")[0].decode(errors="replace").strip()
print("%.1f %s" % (time.monotonic() - t0, line))
PY
}
# http_status ADDR:PORT PATH: the status line of GET PATH (lib.sh http)
http_status() { http "$1" "GET $2 HTTP/1.1" | head -n 1 | tr -d '\r'; }
# scrape_fast WHILE MS: GET /metrics on $M is 200 within MS ms (WHILE says
# what else goes on, for the failure).
scrape_fast() {
	local t0 st ms
	t0=$(now_ms)
	st=$(http_status "$M" /metrics)
	ms=$(($(now_ms) - t0))
	[ "$st" = "HTTP/1.1 200 OK" ] || fail "metrics while $1: $st"
	[ "$ms" -lt "$2" ] || fail "metrics took $ms ms while $1"
}
# closed_after FILE MIN MAX WHO: the trickle whose output is FILE ended
# after MIN to MAX s; sets line to its reply's first line.
closed_after() {
	local secs
	read -r secs line <"$1"
	awk -v s="$secs" -v lo="$2" -v hi="$3" 'BEGIN { exit !(s >= lo && s <= hi) }' ||
		fail "$4 was closed after $secs s, expected $2 to $3"
}

zone_load "$T/upper" "$ZONES/upper/site.zone"
M=$(_rand_addr):$(_rand_port)
start_upper UPPER "$T/upper" --control "$T/UPPER.sock" --metrics "$M"

# ---- a trickle to the metrics port ----
trickle tcp "$M" >"$T/metrics.trickle" &
TP=$!
sleep 1
t0=$(now_ms)
"$CTL" -s "$T/UPPER.sock" status >"$T/status.out" 2>&1 || fail "status: $(cat "$T/status.out")"
ms=$(($(now_ms) - t0))
[ "$ms" -lt 2000 ] || fail "status took $ms ms while a metrics client trickled"
expect_match "$(cat "$T/status.out")" '^tier: upper'
wait "$TP"
closed_after "$T/metrics.trickle" 4 7.5 "a trickling metrics client"
[ -z "$line" ] || expect_match "$line" '^HTTP/1\.1 400 Bad Request'
[ "$(http_status "$M" /metrics)" = "HTTP/1.1 200 OK" ] || fail "metrics after the trickle"

# ---- twenty trickles to the metrics port at once from one address (more
# than the 16 it serves together): a scrape meanwhile is answered at once,
# every trickle ends within its 5 s (a client pushed out earlier), and a
# client of another address connected before them keeps its slot (one
# address holds 4 at most): it is answered at its own 5 s ----
trickle tcp "$M" 127.0.0.3 >"$T/other" &
TPS="$!"
sleep 0.3
for i in $(seq 1 20); do
	trickle tcp "$M" >"$T/many.$i" &
	TPS="$TPS $!"
done
sleep 1.5
scrape_fast "20 metrics clients trickled" 1000
# shellcheck disable=SC2086
wait $TPS
for i in $(seq 1 20); do
	closed_after "$T/many.$i" 0 7.5 "trickling metrics client $i"
done
closed_after "$T/other" 4 7.5 "the trickling metrics client of another address"

# ---- a trickle to the control socket ----
trickle unix "$T/UPPER.sock" >"$T/control.trickle" &
TP=$!
sleep 1
scrape_fast "a control client trickled" 2000
wait "$TP"
closed_after "$T/control.trickle" 4 7.5 "a trickling control client"
[ -z "$line" ] || expect_match "$line" '^error: no request line'
"$CTL" -s "$T/UPPER.sock" status >/dev/null 2>&1 || fail "status after the trickle"

q UPPER webapp.site A  # still serving
expect_status NOERROR
stop_daemon UPPER
log "ok"
