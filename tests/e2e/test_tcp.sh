#!/usr/bin/env bash
# TCP on both tiers (RFC 1035 4.2.2, RFC 7766) and truncation: an answer
# larger than 512 bytes over UDP without EDNS comes back with TC, over TCP
# (or with a large enough EDNS0 buffer, RFC 6891) whole. The local tier must
# itself fall back to TCP when the upper truncates.
. "$(dirname "$0")/lib.sh"
e2e_init

# big.test. TXT: 8 strings of 250 bytes, about 2 KB on the wire, more than
# 512 and more than the 1232 bytes an EDNS0 forwarder usually offers (and a
# server may cap its UDP answers at); medium.big.test. TXT: 3 of them, about
# 800 bytes, more than 512 but within an EDNS0 buffer of 1232.
{
	printf '$ORIGIN big.test.\n$TTL 600\n'
	printf '@ SOA ns hostmaster 1 3600 900 604800 60\n@ NS ns\nns A 192.0.2.53\n'
	for i in 1 2 3 4 5 6 7 8; do
		printf '@ TXT "%s%s"\n' "$i" "$(printf 'x%.0s' $(seq 1 249))"
	done
	for i in 1 2 3; do
		printf 'medium TXT "%s%s"\n' "$i" "$(printf 'y%.0s' $(seq 1 249))"
	done
} >"$T/big.zone"

zone_load "$T/upper" "$ZONES"/upper/*.zone "$T/big.zone"
zone_load "$T/local" "$ZONES"/local/*.zone
start_upper UPPER "$T/upper"
start_local LOCAL "$T/local" "$UPPER_ADDR:$UPPER_PORT"

# plain queries over TCP, both tiers
q UPPER +tcp webapp.site A
expect_status NOERROR
expect_flag aa
expect_rr ANSWER webapp.site. A 192.0.2.10
q LOCAL +tcp webapp.site A
expect_status NOERROR
expect_flag ra
expect_rr ANSWER webapp.site. A 192.0.2.10
q LOCAL +tcp router.home.arpa A
expect_status NOERROR
expect_rr ANSWER router.home.arpa. A 198.51.100.1

# the upper: truncated over UDP without EDNS (+ignore: dig must not retry)
q UPPER +noedns +ignore big.test TXT
expect_status NOERROR
expect_flag tc
q UPPER +tcp big.test TXT
expect_status NOERROR
expect_no_flag tc
expect_count ANSWER 8
# EDNS0 (RFC 6891 6.2.5): the client's larger buffer is honoured
q UPPER +noedns +ignore medium.big.test TXT
expect_status NOERROR
expect_flag tc
q UPPER +bufsize=1232 +ignore medium.big.test TXT
expect_status NOERROR
expect_no_flag tc
expect_count ANSWER 3

# the local tier: a miss over TCP, fetched from the upper (which truncates
# over UDP), then the cached copy truncated again for a small UDP client
q LOCAL +tcp big.test TXT
expect_status NOERROR
expect_no_flag tc
expect_count ANSWER 8
q LOCAL +noedns +ignore big.test TXT
expect_status NOERROR
expect_flag tc
q LOCAL +noedns +ignore medium.big.test TXT
expect_status NOERROR
expect_flag tc
q LOCAL +bufsize=1232 +ignore medium.big.test TXT
expect_status NOERROR
expect_no_flag tc
expect_count ANSWER 3

# tierdns-query without EDNS gets TC over UDP and retries over TCP itself
out=$("$QUERY_BIN" -s "$LOCAL_ADDR" -p "$LOCAL_PORT" --bufsize 0 -t TXT big.test) ||
	fail "tierdns-query -t TXT big.test failed: $out"
n=$(printf '%s\n' "$out" | grep -Ec '^big\.test\. [0-9]+ IN TXT "[1-8]x{249}"$' || true)
[ "$n" -eq 8 ] || fail "tierdns-query printed $n of 8 TXT records: $out"
out=$("$QUERY_BIN" -s "$UPPER_ADDR" -p "$UPPER_PORT" --tcp webapp.site) ||
	fail "tierdns-query --tcp webapp.site failed: $out"
expect_match "$out" '^webapp\.site\. [0-9]+ IN A 192\.0\.2\.10$'

stop_daemon LOCAL
stop_daemon UPPER
