#!/usr/bin/env bash
# tierdns-zone on whole zones and on a local store's cache (issue 14):
# remove-zone removes a zone, SOA included, which delete refuses to do (and
# says what to use instead); in a local store, delete NAME TYPE outside
# every zone removes the cached answer, which tierdns-local then fetches
# again; errors are one line and exit 1.
. "$(dirname "$0")/lib.sh"
e2e_init

zone_load "$T/upper" "$ZONES/upper/site.zone"
out=$("$ZONE_BIN" --db "$T/upper" delete site. SOA 2>&1) && fail "deleting the SOA worked: $out"
expect_match "$out" 'the SOA of a zone cannot be deleted'
expect_match "$out" 'remove-zone NAME removes a whole zone'

start_upper UPPER "$T/upper"
q UPPER webapp.site A
expect_status NOERROR
out=$("$ZONE_BIN" --db "$T/upper" remove-zone site 2>&1) || fail "remove-zone: $out"
expect_match "$out" 'removed zone site \([0-9]+ RRsets, [0-9]+ records\)'
q UPPER webapp.site A
expect_status REFUSED  # served live: no zone encloses it any more
list=$("$ZONE_BIN" --db "$T/upper" list)
expect_no_match "$list" '^site\.'
rc=0
out=$("$ZONE_BIN" --db "$T/upper" remove-zone site 2>&1) || rc=$?
[ "$rc" -eq 1 ] || fail "removing an absent zone: exit $rc"
expect_lines "$out" 'no zone site in the store'
rc=0
"$ZONE_BIN" --db "$T/upper" remove-zone 'a..b' >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "a bad zone name: exit $rc, expected 2"
zone_load "$T/upper" "$ZONES/upper/site.zone"

# A local store: a cached answer outside every zone can be deleted.
start_local LOCAL "$T/local" "$UPPER_ADDR:$UPPER_PORT"
q LOCAL new.site A
expect_status NXDOMAIN
"$ZONE_BIN" --db "$T/upper" add 'new.site. 300 IN A 192.0.2.88' >/dev/null || fail "add"
q LOCAL new.site A
expect_status NXDOMAIN  # cached
out=$("$ZONE_BIN" --db "$T/local" delete new.site. A 2>&1) || fail "delete in the local store: $out"
expect_lines "$out" 'deleted the cached answer to new\.site\. A$'
q LOCAL new.site A
expect_status NOERROR
expect_rr ANSWER new.site. A 192.0.2.88
rc=0
out=$("$ZONE_BIN" --db "$T/local" delete other.site. A 2>&1) || rc=$?
[ "$rc" -eq 1 ] || fail "deleting what is not cached: exit $rc"
expect_lines "$out" 'no zone in the store encloses this name, and no answer to other\.site\. A is cached'
rc=0
out=$("$ZONE_BIN" --db "$T/local" delete new.site. A 192.0.2.88 2>&1) || rc=$?
[ "$rc" -eq 1 ] || fail "deleting one record of a cached answer: exit $rc"
expect_match "$out" 'a cached answer is deleted whole'
stop_daemon LOCAL
stop_daemon UPPER
log "ok"
