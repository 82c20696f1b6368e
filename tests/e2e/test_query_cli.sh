#!/usr/bin/env bash
# tierdns-query against the real tiers: the interactive prompt of the
# original design fed from a pipe, and the one-shot mode's output and exit
# status.
. "$(dirname "$0")/lib.sh"
e2e_init

zone_load "$T/upper" "$ZONES"/upper/*.zone
zone_load "$T/local" "$ZONES"/local/*.zone
start_upper UPPER "$T/upper"
start_local LOCAL "$T/local" "$UPPER_ADDR:$UPPER_PORT"
qry() { "$QUERY_BIN" -s "$LOCAL_ADDR" -p "$LOCAL_PORT" "$@"; }

# interactive: one name per line, `NAME TYPE`, exit stops (www.site after it
# is never asked); no prompt when stdin is not a terminal
rc=0
out=$(printf 'webapp.site\nnosuch.site\n\nwebapp.site AAAA\nexit\nwww.site\n' | qry) || rc=$?
[ "$rc" -eq 0 ] || fail "interactive session exited $rc: $out"
expect_lines "$out" \
	'^webapp\.site\. [0-9]+ IN A 192\.0\.2\.10$' \
	'^nosuch\.site: not found \(NXDOMAIN\)$' \
	'^webapp\.site\. [0-9]+ IN AAAA 2001:db8::10$'
expect_no_match "$out" 'name>'

# EOF quits too; `quit` is a synonym of exit
out=$(printf 'router.home.arpa\n' | qry) || fail "interactive with EOF failed: $out"
expect_match "$out" '^router\.home\.arpa\. [0-9]+ IN A 198\.51\.100\.1$'
out=$(printf 'QUIT\nwebapp.site\n' | qry) || fail "quit failed"
[ -z "$out" ] || fail "nothing should be asked after quit: $out"

# one-shot: every name answered -> 0; the CNAME chain is shown
out=$(qry docs.site webapp.site) || fail "one-shot docs.site webapp.site failed: $out"
expect_lines "$out" \
	'^docs\.site\. [0-9]+ IN CNAME www\.site\.$' \
	'^www\.site\. [0-9]+ IN CNAME webapp\.site\.$' \
	'^webapp\.site\. [0-9]+ IN A 192\.0\.2\.10$' \
	'^webapp\.site\. [0-9]+ IN A 192\.0\.2\.10$'

# NODATA is an answer, not a failure
out=$(qry -t MX webapp.site) || fail "NODATA must exit 0: $out"
[ "$out" = "webapp.site: no MX records" ] || fail "NODATA output: $out"
out=$(qry --type mx site) || fail "MX site failed: $out"
expect_match "$out" '^site\. [0-9]+ IN MX 10 mail\.site\.$'

# any failed name -> 1, the others still printed
rc=0
out=$(qry webapp.site nosuch.site) || rc=$?
[ "$rc" -eq 1 ] || fail "one-shot with an NXDOMAIN name exited $rc, want 1"
expect_match "$out" '^webapp\.site\. [0-9]+ IN A 192\.0\.2\.10$'
expect_match "$out" '^nosuch\.site: not found \(NXDOMAIN\)$'

# a silent server: timeout is reported, exit 1
kill -STOP "$UPPER_PID"
rc=0
t0=$(now_ms)
out=$("$QUERY_BIN" -s "$UPPER_ADDR" -p "$UPPER_PORT" --timeout 300 webapp.site) || rc=$?
t1=$(now_ms)
kill -CONT "$UPPER_PID"
[ "$rc" -eq 1 ] || fail "timeout exited $rc, want 1"
expect_match "$out" '^webapp\.site: timed out after 300 ms'
[ $((t1 - t0)) -lt 2000 ] || fail "--timeout 300 took $((t1 - t0)) ms"

# usage errors -> 2; --version
rc=0; "$QUERY_BIN" --no-such-flag >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "bad flag exited $rc, want 2"
rc=0; "$QUERY_BIN" -t NOSUCHTYPE x >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "bad type exited $rc, want 2"
rc=0; "$QUERY_BIN" -p 70000 x >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "bad port exited $rc, want 2"
out=$("$QUERY_BIN" --version) || fail "--version failed"
expect_match "$out" '^tierdns-query [0-9]+\.[0-9]+\.[0-9]+$'
out=$("$QUERY_BIN" --help) || fail "--help failed"
expect_match "$out" '--server'

stop_daemon LOCAL
stop_daemon UPPER
