#!/usr/bin/env bash
# The three cases of the original design, through the real daemons with the
# shipped zones/:
#   1. a name the local tier holds (home.arpa static) is answered from its own
#      store, with no upstream running at all;
#   2. a name only the upper holds (webapp.site) is fetched through the local
#      tier (RA set, not authoritative) and is then in the local store;
#   3. a name neither holds is NXDOMAIN (not the original's "Error:" string).
. "$(dirname "$0")/lib.sh"
e2e_init

zone_load "$T/upper" "$ZONES"/upper/*.zone
zone_load "$T/local" "$ZONES"/local/*.zone

# 1. static records, upstream pointing at an address where nothing listens
start_local LOCAL "$T/local" "$(dead_endpoint)"
q LOCAL router.home.arpa A
expect_status NOERROR
expect_rr ANSWER router.home.arpa. A 198.51.100.1
expect_count ANSWER 1
q LOCAL nas.home.arpa AAAA
expect_status NOERROR
expect_rr ANSWER nas.home.arpa. AAAA 2001:db8:1::20
out=$("$QUERY_BIN" -s "$LOCAL_ADDR" -p "$LOCAL_PORT" printer.home.arpa) ||
	fail "tierdns-query printer.home.arpa failed: $out"
expect_match "$out" '^printer\.home\.arpa\. [0-9]+ IN A 198\.51\.100\.30$'
stop_daemon LOCAL

# 2. fetched from the upper, then cached in the local store
start_upper UPPER "$T/upper"
start_local LOCAL "$T/local" "$UPPER_ADDR:$UPPER_PORT"
q LOCAL webapp.site A
expect_status NOERROR
expect_flag qr
expect_flag rd
expect_flag ra
expect_no_flag aa
expect_rr ANSWER webapp.site. A 192.0.2.10
expect_count ANSWER 1
ttl=$(ttl_of ANSWER webapp.site. A)
[ "$ttl" -le 300 ] || fail "TTL $ttl exceeds the zone's 300"

dump=$("$ZONE_BIN" --db "$T/local" dump 2>&1) || fail "tierdns-zone dump failed: $dump"
line=$(printf '%s\n' "$dump" | awk '
	tolower($1) == "webapp.site." && $3 == "IN" && $4 == "A" && $5 == "192.0.2.10"' | head -n 1)
[ -n "$line" ] || fail "webapp.site A not in the local store dump (SPEC: in a local store
dump prints the static records, then the cached ones with their remaining TTL;
cache.h has cache_dump() for tierdns-zone to call):
$dump"
dttl=$(printf '%s\n' "$line" | awk '{ print $2 }')
[ "$dttl" -le 300 ] || fail "cached TTL $dttl in the dump exceeds the original 300"
# The static zone is still there, listed first.
grep -Eq '^router\.home\.arpa\.[[:space:]]' <<<"$dump" ||
	fail "static router.home.arpa missing from the dump:
$dump"

out=$("$QUERY_BIN" -s "$LOCAL_ADDR" -p "$LOCAL_PORT" webapp.site) ||
	fail "tierdns-query webapp.site failed: $out"
expect_match "$out" '^webapp\.site\. [0-9]+ IN A 192\.0\.2\.10$'

# 3. neither tier holds it: NXDOMAIN, from site. and from the private root
q LOCAL nosuch.site A
expect_status NXDOMAIN
expect_flag ra
expect_count ANSWER 0
q LOCAL nosuch.example A
expect_status NXDOMAIN
rc=0
out=$("$QUERY_BIN" -s "$LOCAL_ADDR" -p "$LOCAL_PORT" nosuch.site) || rc=$?
[ "$rc" -eq 1 ] || fail "tierdns-query nosuch.site exited $rc, want 1"
[ "$out" = "nosuch.site: not found (NXDOMAIN)" ] || fail "tierdns-query said: $out"

stop_daemon LOCAL
stop_daemon UPPER
