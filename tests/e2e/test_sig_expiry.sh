#!/usr/bin/env bash
# Signatures running out (issue 11): tierdns-upper warns at start and at
# each reload when a signature of a served zone expires within
# --sig-expiry-warn days (default 7): a zone signed for 2 days gets the
# warning, naming the zone and how to re-sign; with --sig-expiry-warn 1
# it does not; an unsigned zone never does; re-signed for 30 days there is
# none; signed for 2 days again, the next reload warns, and so does the
# periodic check (hourly; every 300 ms here through the test hook
# TDNS_TEST_SIG_CHECK_MS) without a reload.
. "$(dirname "$0")/lib.sh"
e2e_init
command -v ldns-keygen >/dev/null || fail "ldns-keygen is not installed (tools/deps.sh)"

cat >"$T/site.zone" <<'Z'
$ORIGIN site.
$TTL 3600
@ SOA ns1 hostmaster 1 7200 900 1209600 300
@ NS ns1
ns1 A 192.0.2.1
webapp A 192.0.2.10
Z
zone_load "$T/db" "$T/site.zone" "$ZONES/local/home.arpa.zone"
mkdir -p "$T/keys"
ksk=$(cd "$T/keys" && ldns-keygen -a ECDSAP256SHA256 -k site.)
zsk=$(cd "$T/keys" && ldns-keygen -a ECDSAP256SHA256 site.)
"$ZONE_BIN" --db "$T/db" sign site. "$T/keys/$ksk" "$T/keys/$zsk" --validity 2 >/dev/null ||
	fail "sign --validity 2"

start_upper UP "$T/db"
grep -q "zone site.: a signature expires in [0-9.]* days; re-sign it before (tierdns-zone sign site." \
	"$T/UP.log" || fail "no warning for signatures expiring in 2 days: $(cat "$T/UP.log")"
grep -q "zone home.arpa" "$T/UP.log" && fail "a warning for the unsigned zone"
stop_daemon UP

start_upper QUIET "$T/db" --sig-expiry-warn 1
grep -q "a signature expires" "$T/QUIET.log" && fail "--sig-expiry-warn 1 still warns for 2 days"
# Re-signed for 30 days, then a reload: no new warning.
"$ZONE_BIN" --db "$T/db" sign site. "$T/keys/$ksk" "$T/keys/$zsk" --validity 30 >/dev/null ||
	fail "sign --validity 30"
kill -HUP "$QUIET_PID"
for _ in $(seq 30); do grep -q "holds 2 zones" "$T/QUIET.log" && break; sleep 0.1; done
stop_daemon QUIET
start_upper AGAIN "$T/db"
grep -q "a signature expires" "$T/AGAIN.log" && fail "still a warning after re-signing for 30 days"
# And the check runs at a reload too: signed again for 2 days, then SIGHUP.
"$ZONE_BIN" --db "$T/db" sign site. "$T/keys/$ksk" "$T/keys/$zsk" --validity 2 --refresh 0 >/dev/null ||
	fail "sign --validity 2 again"
kill -HUP "$AGAIN_PID"
for _ in $(seq 50); do grep -q "a signature expires" "$T/AGAIN.log" && break; sleep 0.1; done
grep -q "zone site.: a signature expires" "$T/AGAIN.log" || fail "no warning at the reload"
stop_daemon AGAIN
# The timer: signed for 30 days at the start (no warning), then for 2 days
# with no reload: the next periodic check warns.
"$ZONE_BIN" --db "$T/db" sign site. "$T/keys/$ksk" "$T/keys/$zsk" --validity 30 --refresh 0 >/dev/null ||
	fail "sign --validity 30 again"
export TDNS_TEST_SIG_CHECK_MS=300
start_upper TICK "$T/db"
unset TDNS_TEST_SIG_CHECK_MS
sleep 0.5
grep -q "a signature expires" "$T/TICK.log" && fail "a warning for 30-day signatures"
"$ZONE_BIN" --db "$T/db" sign site. "$T/keys/$ksk" "$T/keys/$zsk" --validity 2 --refresh 0 >/dev/null ||
	fail "sign --validity 2 under a running upper"
for _ in $(seq 50); do grep -q "a signature expires" "$T/TICK.log" && break; sleep 0.1; done
grep -q "zone site.: a signature expires" "$T/TICK.log" || fail "no warning from the periodic check"
grep -q "SIGHUP\|reload" "$T/TICK.log" && fail "the test reloaded the upper"
stop_daemon TICK
echo "ok: expiring signatures are warned about, and only those"
