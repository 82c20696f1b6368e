#!/usr/bin/env bash
# tierdns-control against running daemons (issue 14): every command of
# both tiers, the socket's mode (and group, from the file), statistics that
# change by exactly what the test sent, stats --reset, a cached NXDOMAIN that
# a flush lets the next query fetch again, zone remove making the zone
# REFUSED, SIGUSR1, the bad-input errors and exit codes, socket-path
# failures at start.
. "$(dirname "$0")/lib.sh"
e2e_init
CTL="$TDNS_BUILD/tierdns-control"
[ -x "$CTL" ] || fail "missing binary $CTL"

# ctl NAME ARGS...: run tierdns-control on daemon NAME's socket; sets
# COUT (stdout), CERR (stderr) and CRC (exit status).
ctl() {
	local sock=$T/$1.sock
	shift
	CRC=0
	COUT=$("$CTL" -s "$sock" "$@" 2>"$T/ctl.err") || CRC=$?
	CERR=$(cat "$T/ctl.err")
}
expect_ok() { [ "$CRC" -eq 0 ] || fail "tierdns-control $*: exit $CRC: $CERR"; }
# stat_of NAME KEY: one value from `stats` output in $COUT
stat_of() { printf '%s\n' "$COUT" | sed -n "s/^$1=//p"; }
expect_stat() {
	local got
	got=$(stat_of "$1")
	[ "$got" = "$2" ] || fail "stats: $1=$got, expected $2 in:
$COUT"
}

zone_load "$T/upper" "$ZONES/upper/site.zone"
start_upper UPPER "$T/upper" --threads 2 --control "$T/UPPER.sock"
start_local LOCAL "$T/local" "$UPPER_ADDR:$UPPER_PORT" --threads 2 \
	--control "$T/LOCAL.sock"

# ---- the socket: created with mode 0660, a socket file ----
for n in UPPER LOCAL; do
	[ -S "$T/$n.sock" ] || fail "$n: no socket at $T/$n.sock"
	mode=$(stat -c %a "$T/$n.sock")
	[ "$mode" = 660 ] || fail "$n: socket mode $mode, expected 660"
done

# ---- status ----
ctl UPPER status
expect_ok status
expect_match "$COUT" '^version: [0-9]'
expect_match "$COUT" '^tier: upper$'
expect_match "$COUT" '^workers: 2$'
expect_match "$COUT" "^store: $T/upper\$"
expect_match "$COUT" '^zones: 1$'
ctl LOCAL status
expect_ok status
expect_match "$COUT" '^tier: local$'
expect_match "$COUT" '^cache entries: 0$'

# ---- stats: exact deltas after a reset ----
q LOCAL webapp.site A  # warm up: the counters below start after it
ctl LOCAL stats --reset
expect_ok stats --reset
expect_match "$COUT" '^queries\.udp=[1-9]'
ctl UPPER stats --reset
expect_ok stats --reset
ctl LOCAL stats
expect_stat queries.udp 0
expect_stat answers.rcode.NOERROR 0
expect_stat cache.entries 1  # a gauge: not reset

q LOCAL webapp.site A            # cache hit
expect_status NOERROR
q LOCAL webapp.site A +tcp       # cache hit over TCP
expect_status NOERROR
q LOCAL nothere.site A           # miss, NXDOMAIN from the upper
expect_status NXDOMAIN
q LOCAL webapp.site AAAA         # miss, NODATA
expect_status NOERROR
q LOCAL nothere.site A           # cached NXDOMAIN
expect_status NXDOMAIN

ctl LOCAL stats
expect_ok stats
expect_stat queries.udp 4
expect_stat queries.tcp 1
expect_stat queries.dropped 0
expect_stat answers.qtype.A 4
expect_stat answers.qtype.AAAA 1
expect_stat answers.rcode.NOERROR 3
expect_stat answers.rcode.NXDOMAIN 2
expect_stat answers.opcode.QUERY 5
expect_stat answers.cache 3
expect_stat answers.upstream 2
expect_stat cache.hits 3
expect_stat cache.misses 2
expect_stat cache.entries 3
expect_stat upstream.sent 2
expect_stat upstream.0.sent 2
expect_stat upstream.0.answered 2
expect_stat upstream.0.timeouts 0
expect_stat upstream.0.up 1
expect_stat tcp.connections 1
expect_match "$COUT" '^latency\.us\.avg=[0-9]+$'
lat=$(printf '%s\n' "$COUT" | sed -n 's/^latency\.us\.[a-z0-9]*=//p' | head -n 24 |
	awk '{ s += $1 } END { print s }')
[ "$lat" -eq 5 ] || fail "latency histogram holds $lat answers, expected 5"
ctl UPPER stats
expect_stat queries.udp 2          # what the local sent
expect_stat answers.rcode.NXDOMAIN 1
expect_stat answers.rcode.NOERROR 1
expect_match "$COUT" '^zones=1$'
expect_no_match "$COUT" '^cache\.'

# stats without --reset leaves the base alone
ctl LOCAL stats
expect_stat queries.udp 4

# ---- SIGUSR1 logs the statistics and stops nothing ----
kill -USR1 "$LOCAL_PID"
for i in $(seq 1 50); do
	grep -q 'stats: .*queries' "$T/LOCAL.log" && break
	sleep 0.1
done
grep -q 'stats: .*queries' "$T/LOCAL.log" || fail "SIGUSR1 logged no statistics"
q LOCAL webapp.site A
expect_status NOERROR

# ---- flushing a cached NXDOMAIN lets the next query fetch the name ----
q LOCAL new.site A
expect_status NXDOMAIN
"$ZONE_BIN" --db "$T/upper" add 'new.site. 300 IN A 192.0.2.77' >/dev/null ||
	fail "tierdns-zone add"
q UPPER new.site A
expect_status NOERROR
q LOCAL new.site A
expect_status NXDOMAIN  # still the cached answer
ctl LOCAL cache flush new.site
expect_ok cache flush
expect_match "$COUT" '^removed 1 cache entry$'
q LOCAL new.site A
expect_status NOERROR
expect_rr ANSWER new.site. A 192.0.2.77

# a flush of one type leaves the others
q LOCAL webapp.site AAAA
ctl LOCAL cache flush webapp.site AAAA
expect_ok
expect_match "$COUT" '^removed 1 cache entry$'
ctl LOCAL cache dump
expect_ok cache dump
expect_match "$COUT" '^; webapp\.site\. A NOERROR, expires in [0-9]+ s$'
expect_match "$COUT" '^webapp\.site\.[[:space:]]+[0-9]+[[:space:]]+IN[[:space:]]+A[[:space:]]+192\.0\.2\.10$'
expect_no_match "$COUT" 'webapp\.site\. AAAA'
expect_match "$COUT" '^; [0-9]+ cached entr(y|ies)$'

# flush-negative: the NXDOMAIN goes, the positive answers stay
ctl LOCAL cache flush-negative
expect_ok
expect_match "$COUT" '^removed 1 cache entry$'  # nothere.site A
ctl LOCAL cache dump
expect_no_match "$COUT" 'nothere\.site'
expect_match "$COUT" 'webapp\.site\. A NOERROR'

# flush-zone: everything at and below site.
q LOCAL www.site A
ctl LOCAL cache flush-zone site
expect_ok
expect_match "$COUT" '^removed [3-9] cache entries$'
ctl LOCAL cache dump
expect_match "$COUT" '^; 0 cached entries$'
ctl LOCAL stats --reset
q LOCAL webapp.site A
expect_status NOERROR
ctl LOCAL stats
expect_stat cache.misses 1  # asked upstream again, not served from memory

# flush-all
q LOCAL www.site A
ctl LOCAL cache flush-all
expect_ok
expect_match "$COUT" '^removed 2 cache entries$'
ctl LOCAL status
expect_match "$COUT" '^cache entries: 0$'

# ---- the cache commands are not for the upper ----
ctl UPPER cache flush-all
[ "$CRC" -eq 1 ] || fail "cache flush-all on the upper: exit $CRC"
expect_match "$CERR" 'has no cache'

# ---- zones ----
ctl UPPER zone list
expect_ok zone list
expect_lines "$COUT" '^zone +serial +rrsets +records +loaded$' \
	'^site\. +[0-9]+ +[0-9]+ +[0-9]+  20[0-9-]+T[0-9:]+Z$'
ctl UPPER zone status site.
expect_ok zone status
# The add above raised the serial by one (tierdns-zone(1)).
expect_match "$COUT" '^site\. +2026112502 '
ctl UPPER zone status nosuch.example
[ "$CRC" -eq 1 ] || fail "zone status of an absent zone: exit $CRC"
expect_match "$CERR" 'no zone nosuch\.example'
ctl LOCAL zone list
expect_ok
expect_lines "$COUT" '^zone +serial'  # the headings only
q UPPER webapp.site A
expect_status NOERROR
ctl UPPER zone remove site
expect_ok zone remove
q UPPER webapp.site A
expect_status REFUSED
q UPPER site SOA
expect_status REFUSED
ctl UPPER zone list
expect_lines "$COUT" '^zone +serial'  # the headings only
ctl UPPER zone remove site
[ "$CRC" -eq 1 ] || fail "removing a removed zone: exit $CRC"

# ---- reload, log-level ----
ctl UPPER reload
expect_ok reload
grep -q 'tierdns-control reload: reloading' "$T/UPPER.log" || fail "reload not logged"
ctl LOCAL log-level debug
expect_ok log-level
ctl LOCAL status
expect_match "$COUT" '^log level: debug$'
ctl LOCAL log-level loud
[ "$CRC" -eq 1 ] || fail "log-level loud: exit $CRC"
expect_match "$CERR" "unknown log level 'loud'"

# ---- bad input: one clear line, non-zero exit ----
ctl LOCAL frobnicate
[ "$CRC" -eq 1 ] || fail "unknown command: exit $CRC"
expect_lines "$CERR" "^tierdns-control: unknown command 'frobnicate'"
ctl LOCAL cache flush 'bad..name'
[ "$CRC" -eq 1 ] || fail "bad name: exit $CRC"
expect_match "$CERR" 'not a valid domain name'
ctl LOCAL cache flush site. NOTATYPE
[ "$CRC" -eq 1 ] || fail "bad type: exit $CRC"
expect_match "$CERR" "'NOTATYPE' is not an RR type"
ctl LOCAL zone
[ "$CRC" -eq 1 ] || fail "zone without a subcommand: exit $CRC"
expect_match "$CERR" 'usage: zone list'
CRC=0
"$CTL" -s "$T/LOCAL.sock" >/dev/null 2>"$T/ctl.err" || CRC=$?
[ "$CRC" -eq 2 ] || fail "no command: exit $CRC, expected 2"
CRC=0
"$CTL" -s "$T/nothing.sock" status >/dev/null 2>"$T/ctl.err" || CRC=$?
[ "$CRC" -eq 1 ] || fail "no daemon: exit $CRC"
expect_match "$(cat "$T/ctl.err")" 'cannot connect'
# a raw request without the protocol word
reply=$(printf 'status\n' | python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(sys.stdin.buffer.read()); print(s.makefile().read(), end="")' "$T/LOCAL.sock")
expect_lines "$reply" '^error: not a tierdns-control request'

# ---- start-up: a socket path given must work ----
rc=0
timeout 10 "$UPPER_BIN" --db "$T/upper" --listen "$(_rand_addr)" --port "$(_rand_port)" \
	--control "$T/missing/dir/u.sock" >"$T/bad1.log" 2>&1 || rc=$?
[ "$rc" -eq 1 ] || fail "--control in a missing directory: exit $rc"
grep -q "control socket $T/missing/dir/u.sock: directory .* does not exist" "$T/bad1.log" ||
	fail "no clear error for a missing directory: $(cat "$T/bad1.log")"
rc=0
timeout 10 "$LOCAL_BIN" --db "$T/local2" --listen "$(_rand_addr)" --port "$(_rand_port)" \
	--control "$T/LOCAL.sock" >"$T/bad2.log" 2>&1 || rc=$?
[ "$rc" -eq 1 ] || fail "a second daemon on a live socket: exit $rc"
grep -q 'another daemon answers on it' "$T/bad2.log" || fail "$(cat "$T/bad2.log")"
ctl LOCAL status  # the first one still has its socket
expect_ok status

# ---- the default socket: its directory missing is a warning, not a stop ----
if [ ! -e /run/tierdns ]; then
	start_upper UPPER3 "$T/upper"
	grep -q 'warning: control socket .*/upper.sock: directory .* does not exist; running without a control socket' \
		"$T/UPPER3.log" || fail "no warning for the missing default directory"
	q UPPER3 site SOA
	expect_status REFUSED  # serving (the zone was removed above)
	stop_daemon UPPER3
fi

# ---- mode and group from the configuration file ----
if getent group nogroup >/dev/null && [ "$(id -u)" = 0 ]; then
	printf 'control:\n  socket: %s\n  mode: 0600\n  group: nogroup\n' \
		"$T/UPPER2.sock" >"$T/upper2.conf"
	start_upper UPPER2 "$T/upper" -c "$T/upper2.conf"
	got=$(stat -c '%a %G' "$T/UPPER2.sock")
	[ "$got" = "600 nogroup" ] || fail "socket mode and group '$got', expected '600 nogroup'"
	ctl UPPER2 status
	expect_ok status
	# -c: the client finds the socket the way the daemon does.
	out=$("$CTL" --upper -c "$T/upper2.conf" status 2>&1) ||
		fail "tierdns-control --upper -c: $out"
	expect_match "$out" "^version: "
	rc=0
	"$CTL" -c "$T/upper2.conf" -s "$T/UPPER2.sock" status >/dev/null 2>&1 || rc=$?
	[ "$rc" -eq 2 ] || fail "-c with -s: exit $rc, want 2"
	stop_daemon UPPER2
	[ ! -e "$T/UPPER2.sock" ] || fail "UPPER2 left its socket behind"
fi

# ---- stop: a clean exit, the socket removed ----
ctl LOCAL stop
expect_ok stop
rc=0
wait "$LOCAL_PID" || rc=$?
LOCAL_PID=""
[ "$rc" -eq 0 ] || fail "tierdns-local exited $rc after stop"
[ ! -e "$T/LOCAL.sock" ] || fail "the socket was left behind"
grep -q 'tierdns-control stop' "$T/LOCAL.log" || fail "stop not logged"
stop_daemon UPPER
[ ! -e "$T/UPPER.sock" ] || fail "the upper's socket was left behind"
log "ok"
