#!/usr/bin/env bash
# A slow client holds neither the control socket nor the metrics port for
# long (control.h): a client that trickles its request a byte at a time,
# never finishing it, is answered (400, or "error: no request line") and
# closed within the 5 s request deadline although it never stops sending;
# while one trickles to the metrics port, a control command answers at
# once, and the other way round.
. "$(dirname "$0")/lib.sh"
e2e_init
CTL="$TDNS_BUILD/tierdns-control"
[ -x "$CTL" ] || fail "missing binary $CTL"

# trickle tcp ADDR:PORT | unix PATH: send a byte every 0.2 s for up to
# 12 s, until the server replies or closes; prints the seconds that took
# and the reply's first line (empty when the close came as a reset).
trickle() {
	python3 - "$1" "$2" <<'PY'
import socket, sys, time
kind, where = sys.argv[1], sys.argv[2]
if kind == "tcp":
    host, port = where.rsplit(":", 1)
    s = socket.create_connection((host, int(port)))
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
read -r secs line <"$T/metrics.trickle"
awk -v s="$secs" 'BEGIN { exit !(s >= 4 && s <= 7.5) }' ||
	fail "a trickling metrics client was closed after $secs s, expected about 5"
[ -z "$line" ] || expect_match "$line" '^HTTP/1\.1 400 Bad Request'
[ "$(http_status "$M" /metrics)" = "HTTP/1.1 200 OK" ] || fail "metrics after the trickle"

# ---- a trickle to the control socket ----
trickle unix "$T/UPPER.sock" >"$T/control.trickle" &
TP=$!
sleep 1
t0=$(now_ms)
st=$(http_status "$M" /metrics)
ms=$(($(now_ms) - t0))
[ "$st" = "HTTP/1.1 200 OK" ] || fail "metrics while a control client trickled: $st"
[ "$ms" -lt 2000 ] || fail "metrics took $ms ms while a control client trickled"
wait "$TP"
read -r secs line <"$T/control.trickle"
awk -v s="$secs" 'BEGIN { exit !(s >= 4 && s <= 7.5) }' ||
	fail "a trickling control client was closed after $secs s, expected about 5"
[ -z "$line" ] || expect_match "$line" '^error: no request line'
"$CTL" -s "$T/UPPER.sock" status >/dev/null 2>&1 || fail "status after the trickle"

q UPPER webapp.site A  # still serving
expect_status NOERROR
stop_daemon UPPER
log "ok"
