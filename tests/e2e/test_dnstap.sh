#!/usr/bin/env bash
# dnstap (issue 14): both tiers write their DNS messages as dnstap over
# Frame Streams, read back with dnstap-ldns (an independent reader):
# tierdns-upper AUTH_QUERY/AUTH_RESPONSE over UDP and TCP with the client's
# address and the messages; tierdns-local CLIENT_QUERY/CLIENT_RESPONSE for
# a cache miss and a hit, and FORWARDER_QUERY/FORWARDER_RESPONSE to the
# upper for the miss only. Written to a file, and to a Unix socket that an
# fstrm_capture collector reads. Both outputs at once are refused.
. "$(dirname "$0")/lib.sh"
e2e_init
for t in dnstap-ldns fstrm_capture; do
	command -v $t >/dev/null || fail "$t is not installed (tools/deps.sh)"
done

zone_load "$T/upper" "$ZONES"/upper/*.zone
start_upper UPPER "$T/upper" --dnstap-file "$T/upper.tap"
start_local LOCAL "$T/local" "$UPPER_ADDR:$UPPER_PORT" --dnstap-file "$T/local.tap"

q UPPER webapp.site A
expect_rr ANSWER webapp.site. A 192.0.2.10
q UPPER nope.site A +tcp
expect_status NXDOMAIN
q LOCAL api.site A          # a miss: forwarded
expect_status NOERROR
q LOCAL api.site A          # a hit
expect_status NOERROR
stop_daemon LOCAL
stop_daemon UPPER

up=$(dnstap-ldns -r "$T/upper.tap") || fail "dnstap-ldns cannot read the upper's file"
printf '%s\n' "$up"
count() { printf '%s\n' "$1" | grep -cE "$2" || true; }
# Each line: date time TYPE address protocol size "qname" class type
[ "$(count "$up" ' AQ 127\..* UDP .*"webapp\.site\." IN A')" = 1 ] || fail "no AUTH_QUERY for webapp.site over UDP"
[ "$(count "$up" ' AR 127\..* UDP .*"webapp\.site\." IN A')" = 1 ] || fail "no AUTH_RESPONSE for webapp.site"
[ "$(count "$up" ' AQ 127\..* TCP .*"nope\.site\."')" = 1 ] || fail "no AUTH_QUERY over TCP"
[ "$(count "$up" ' AR 127\..* TCP .*"nope\.site\."')" = 1 ] || fail "no AUTH_RESPONSE over TCP"
# The local's forwarded query reached the upper too.
[ "$(count "$up" ' AQ .*"api\.site\."')" = 1 ] || fail "the upper did not log the local's query"
yaml=$(dnstap-ldns -r "$T/upper.tap" -y)
expect_match "$yaml" "rcode: NXDOMAIN"
expect_match "$yaml" "version: \"tierdns "

lo=$(dnstap-ldns -r "$T/local.tap") || fail "dnstap-ldns cannot read the local's file"
printf '%s\n' "$lo"
[ "$(count "$lo" ' CQ .*"api\.site\."')" = 2 ] || fail "want 2 CLIENT_QUERY for api.site"
[ "$(count "$lo" ' CR .*"api\.site\."')" = 2 ] || fail "want 2 CLIENT_RESPONSE for api.site"
[ "$(count "$lo" " FQ $UPPER_ADDR UDP .*\"api\.site\.\"")" = 1 ] ||
	fail "want 1 FORWARDER_QUERY to $UPPER_ADDR (the hit is not forwarded)"
[ "$(count "$lo" " FR $UPPER_ADDR UDP .*\"api\.site\.\"")" = 1 ] || fail "want 1 FORWARDER_RESPONSE"

# A Unix socket and a collector reading it.
fstrm_capture -t protobuf:dnstap.Dnstap -u "$T/tap.sock" -w "$T/collected.tap" \
	>"$T/collector.log" 2>&1 &
cpid=$!
for _ in $(seq 50); do [ -S "$T/tap.sock" ] && break; sleep 0.1; done
[ -S "$T/tap.sock" ] || fail "the collector did not make its socket"
start_upper UPPER2 "$T/upper" --dnstap-socket "$T/tap.sock"
for _ in $(seq 20); do
	q UPPER2 webapp.site A
	dnstap-ldns -r "$T/collected.tap" 2>/dev/null | grep ' AR ' >/dev/null && break
	sleep 0.2
done
stop_daemon UPPER2
kill -INT "$cpid" 2>/dev/null || true
wait "$cpid" 2>/dev/null || true
got=$(dnstap-ldns -r "$T/collected.tap" 2>/dev/null || true)
expect_match "$got" ' AQ .*"webapp\.site\."'
expect_match "$got" ' AR .*"webapp\.site\."'

# One output only.
rc=0
"$UPPER_BIN" --db "$T/upper" --dnstap-socket "$T/x.sock" --dnstap-file "$T/x.tap" \
	--check-config >"$T/both.out" 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "socket and file together: exit $rc, want 2"
expect_match "$(cat "$T/both.out")" "exclude each other"
echo "ok: dnstap of both tiers read back with dnstap-ldns"
