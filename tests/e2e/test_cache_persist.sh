#!/usr/bin/env bash
# The local tier's cache lives in LMDB: it survives a clean restart and a
# kill -9, and is served with the upper gone, TTLs still counting down.
. "$(dirname "$0")/lib.sh"
e2e_init

zone_load "$T/upper" "$ZONES"/upper/*.zone
zone_load "$T/local" "$ZONES"/local/*.zone
start_upper UPPER "$T/upper"

# first life: fetch webapp.site, then kill -9 right after the answer
start_local LOCAL "$T/local" "$UPPER_ADDR:$UPPER_PORT"
q LOCAL webapp.site A
expect_status NOERROR
expect_rr ANSWER webapp.site. A 192.0.2.10
kill9_daemon LOCAL

# second life: fetch api.site and nosuch.site (negative), then a clean stop
start_local LOCAL "$T/local" "$UPPER_ADDR:$UPPER_PORT"
q LOCAL api.site A
expect_status NOERROR
expect_count ANSWER 3
q LOCAL nosuch.site A
expect_status NXDOMAIN
stop_daemon LOCAL

# the upper goes away for good
stop_daemon UPPER
up=$(dead_endpoint)

# third life: everything cached before is served from the store
start_local LOCAL "$T/local" "$up"
q LOCAL webapp.site A
expect_status NOERROR
expect_rr ANSWER webapp.site. A 192.0.2.10
ttl=$(ttl_of ANSWER webapp.site. A)
[ "$ttl" -le 300 ] || fail "TTL $ttl after restart exceeds the original 300"
q LOCAL api.site A
expect_status NOERROR
expect_count ANSWER 3
q LOCAL nosuch.site A
expect_status NXDOMAIN
# proof that the upper is really gone: an uncached name fails
q LOCAL mail.site A
expect_status SERVFAIL
kill9_daemon LOCAL

# fourth life after a kill -9 of a process that only served from cache
start_local LOCAL "$T/local" "$up"
q LOCAL webapp.site A
expect_status NOERROR
expect_rr ANSWER webapp.site. A 192.0.2.10
stop_daemon LOCAL
