#!/usr/bin/env bash
# The local tier's cache rules, black-box: TTLs count down and entries expire
# (absolute expiry times), TTL 0 is passed through uncached, a negative answer
# is cached for min(SOA TTL, SOA MINIMUM) (RFC 2308 5), --max-ttl caps. The
# upper is stopped halfway so that whatever still answers must come from the
# cache. This test sleeps about 3 s: expiry cannot be faked across processes.
. "$(dirname "$0")/lib.sh"
e2e_init

cat >"$T/ttl.zone" <<'ZONE'
$ORIGIN ttl.test.
$TTL 300
@      600 SOA ns hostmaster 1 3600 900 604800 60
       NS  ns
ns     A   192.0.2.53
long   A   192.0.2.3
short  2   A 192.0.2.2
zero   0   A 192.0.2.0
ZONE
zone_load "$T/upper" "$T/ttl.zone"
zone_load "$T/local" "$ZONES"/local/*.zone
start_upper UPPER "$T/upper"
start_local LOCAL "$T/local" "$UPPER_ADDR:$UPPER_PORT"

q LOCAL zero.ttl.test A
expect_status NOERROR
expect_rr ANSWER zero.ttl.test. A 192.0.2.0
[ "$(ttl_of ANSWER zero.ttl.test. A)" -eq 0 ] || fail "TTL 0 not passed through"
q LOCAL short.ttl.test A
expect_status NOERROR
[ "$(ttl_of ANSWER short.ttl.test. A)" -le 2 ] || fail "short TTL grew"
q LOCAL long.ttl.test A
expect_status NOERROR
ttl0=$(ttl_of ANSWER long.ttl.test. A)
[ "$ttl0" -le 300 ] || fail "long TTL $ttl0 > 300"
t0=$(now_ms)
q LOCAL nx.ttl.test A
expect_status NXDOMAIN
soa=$(ttl_of AUTHORITY ttl.test. SOA)
[ -n "$soa" ] && [ "$soa" -le 60 ] ||
	fail "negative answer's SOA TTL '$soa', want <= min(600, 60)"

dump=$("$ZONE_BIN" --db "$T/local" dump 2>&1) || fail "dump failed: $dump"
expect_no_match "$dump" '^zero\.ttl\.test\.'
expect_match "$dump" '^long\.ttl\.test\.[[:space:]]'

stop_daemon UPPER

# what was cached still answers, what was not cannot
q LOCAL long.ttl.test A
expect_status NOERROR
q LOCAL nx.ttl.test A
expect_status NXDOMAIN
q LOCAL zero.ttl.test A
expect_status SERVFAIL

# after 3 s the 2 s entry has expired and the long one counted down
while [ $(( $(now_ms) - t0 )) -lt 3000 ]; do sleep 0.2; done
q LOCAL short.ttl.test A
expect_status SERVFAIL
q LOCAL long.ttl.test A
expect_status NOERROR
ttl1=$(ttl_of ANSWER long.ttl.test. A)
[ "$ttl1" -le $((ttl0 - 2)) ] || fail "TTL did not count down: $ttl0 then $ttl1 3 s later"
stop_daemon LOCAL

# --max-ttl caps what is cached and served
start_upper UPPER "$T/upper"
start_local CAPPED "$T/capped" "$UPPER_ADDR:$UPPER_PORT" --max-ttl 100
q CAPPED long.ttl.test A
expect_status NOERROR
ttl=$(ttl_of ANSWER long.ttl.test. A)
[ "$ttl" -le 100 ] || fail "--max-ttl 100 served TTL $ttl"
stop_daemon CAPPED
stop_daemon UPPER
