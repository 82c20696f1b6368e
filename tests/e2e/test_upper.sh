#!/usr/bin/env bash
# tierdns-upper on its own (RFC 1034 4.3.2, RFC 2308): AA on answers, the
# whole RRset, CNAME followed, NXDOMAIN and NODATA with the zone's SOA in
# authority, the question echoed as sent, REFUSED outside the served zones,
# and zones loaded while it runs served at once.
. "$(dirname "$0")/lib.sh"
e2e_init

zone_load "$T/upper" "$ZONES"/upper/*.zone
start_upper UPPER "$T/upper"

q UPPER webapp.site A
expect_status NOERROR
expect_flag aa
expect_rr ANSWER webapp.site. A 192.0.2.10
expect_count ANSWER 1

q UPPER api.site A
expect_status NOERROR
expect_flag aa
expect_count ANSWER 3
for a in 192.0.2.20 192.0.2.21 192.0.2.22; do expect_rr ANSWER api.site. A "$a"; done

q UPPER www.site A
expect_status NOERROR
expect_flag aa
expect_rr ANSWER www.site. CNAME webapp.site.
expect_rr ANSWER webapp.site. A 192.0.2.10

# names match case-insensitively; the question comes back as sent (RFC 4343)
q UPPER WeBaPp.SiTe A
expect_status NOERROR
expect_rr ANSWER webapp.site. A 192.0.2.10
section QUESTION | grep '^;WeBaPp\.SiTe\. ' >/dev/null || fail "question case not echoed"

q UPPER nosuch.site A
expect_status NXDOMAIN
expect_flag aa
expect_count ANSWER 0
expect_rr AUTHORITY site. SOA "ns1.site. hostmaster.site. 2026112501 3600 900 604800 300"

# NODATA: the name exists with other types
q UPPER webapp.site MX
expect_status NOERROR
expect_flag aa
expect_count ANSWER 0
expect_rr AUTHORITY site. SOA "ns1.site. hostmaster.site. 2026112501 3600 900 604800 300"

# the private root makes every other name NXDOMAIN, as in the original design
q UPPER nosuch.example A
expect_status NXDOMAIN
expect_flag aa
expect_rr AUTHORITY . SOA "ns1.site. hostmaster.site. 2026112501 1800 900 604800 3600"

stop_daemon UPPER

# A second store with site. only: the rest of the tree is not ours.
zone_load "$T/only-site" "$ZONES"/upper/site.zone
start_upper SITE "$T/only-site"
q SITE example.com A
expect_status REFUSED
expect_no_flag aa
expect_count ANSWER 0
q SITE webapp.site A
expect_status NOERROR
expect_flag aa

# A zone loaded while the server runs is served at once: no restart, no signal.
q SITE host.later.test A
expect_status REFUSED
cat >"$T/later.zone" <<'ZONE'
$ORIGIN later.test.
$TTL 120
@    SOA ns hostmaster 1 3600 900 604800 60
     NS  ns
ns   A   192.0.2.53
host A   192.0.2.99
ZONE
zone_load "$T/only-site" "$T/later.zone"
q SITE host.later.test A
expect_status NOERROR
expect_flag aa
expect_rr ANSWER host.later.test. A 192.0.2.99

# Reloading a zone replaces it whole: the old record is gone.
sed 's/^webapp\( *IN A *\)192\.0\.2\.10/webapp\1192.0.2.11/' \
	"$ZONES/upper/site.zone" >"$T/site-v2.zone"
grep -q 192.0.2.11 "$T/site-v2.zone" || fail "test set-up: sed did not change site.zone"
zone_load "$T/only-site" --force "$T/site-v2.zone" # the serial stays: --force
q SITE webapp.site A
expect_status NOERROR
expect_rr ANSWER webapp.site. A 192.0.2.11
expect_count ANSWER 1

# Single records added and deleted with tierdns-zone are served at once too.
"$ZONE_BIN" --db "$T/only-site" add 'new.site. 300 IN A 192.0.2.44' >/dev/null 2>&1 ||
	fail "tierdns-zone add failed"
q SITE new.site A
expect_status NOERROR
expect_rr ANSWER new.site. A 192.0.2.44
"$ZONE_BIN" --db "$T/only-site" delete new.site. A >/dev/null 2>&1 ||
	fail "tierdns-zone delete failed"
q SITE new.site A
expect_status NXDOMAIN
section AUTHORITY | grep -E '^site\. [0-9]+ IN SOA ns1\.site\. ' >/dev/null ||
	fail "NXDOMAIN after delete without the site. SOA"

stop_daemon SITE
