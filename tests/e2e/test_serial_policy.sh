#!/usr/bin/env bash
# Serials (issue 13): a load that changes a held zone without raising its
# serial is refused (nothing stored), and stored with the old serial + 1
# with --force; loading the same file again is no error. The zones:
# stanza's serial-policy, recorded in the store by tierdns-upper at start,
# is how tierdns-zone add raises that zone's serial (unixtime here, by one
# for a zone without it); --serial-policy overrides it. A reload (SIGHUP)
# records a changed serial-policy, which the next add follows.
. "$(dirname "$0")/lib.sh"
e2e_init

zone() { # NAME SERIAL A-ADDRESS
	printf '$ORIGIN %s\n$TTL 300\n@ SOA ns1 hm %s 3600 600 86400 300\n@ NS ns1\nns1 A %s\n' \
		"$1" "$2" "$3"
}
serial() { "$ZONE_BIN" --db "$T/db" list | awk -v z="$1" '$1 == z { print $2 }'; }

zone one. 5 192.0.2.1 >"$T/one.zone"
zone two. 7 192.0.2.2 >"$T/two.zone"
zone_load "$T/db" "$T/one.zone" "$T/two.zone"
zone_load "$T/db" "$T/one.zone" # the same again: nothing changes, no error

zone one. 5 192.0.2.9 >"$T/one-changed.zone"
rc=0
out=$("$ZONE_BIN" --db "$T/db" load "$T/one-changed.zone" 2>&1) || rc=$?
[ "$rc" -eq 1 ] || fail "a changed zone with the same serial: exit $rc ($out)"
expect_match "$out" "serial 5 is not above the stored 5: not loaded"
expect_match "$out" "nothing loaded"
[ "$(serial one.)" = 5 ] || fail "the refused load changed the serial"
"$ZONE_BIN" --db "$T/db" dump one. | grep $'192\\.0\\.2\\.1$' >/dev/null || fail "the refused load changed the zone"
zone one. 4 192.0.2.9 >"$T/one-lower.zone"
rc=0
"$ZONE_BIN" --db "$T/db" load "$T/one-lower.zone" >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 1 ] || fail "a changed zone with a lower serial: exit $rc"
out=$("$ZONE_BIN" --db "$T/db" load --force "$T/one-changed.zone" 2>&1) || fail "load --force: $out"
[ "$(serial one.)" = 6 ] || fail "load --force must store the serial 6, not $(serial one.)"
"$ZONE_BIN" --db "$T/db" dump one. | grep $'192\\.0\\.2\\.9$' >/dev/null || fail "load --force did not store the zone"
zone one. 7 192.0.2.10 >"$T/one-up.zone"
zone_load "$T/db" "$T/one-up.zone"
[ "$(serial one.)" = 7 ] || fail "a raised serial is kept"

# serial-policy: unixtime for one., nothing for two.
cat >"$T/upper.conf" <<EOF
zones:
  - name: one.
    serial-policy: unixtime
  - name: two.
EOF
start_upper UP "$T/db" -c "$T/upper.conf"
stop_daemon UP
before=$(date +%s)
"$ZONE_BIN" --db "$T/db" add 'x.one. 300 IN A 192.0.2.20' >/dev/null || fail "add to one."
s=$(serial one.)
[ "$s" -ge "$before" ] && [ "$s" -le $(($(date +%s) + 1)) ] ||
	fail "serial-policy unixtime: add raised one.'s serial to $s, not the time ($before)"
"$ZONE_BIN" --db "$T/db" add 'x.two. 300 IN A 192.0.2.21' >/dev/null || fail "add to two."
[ "$(serial two.)" = 8 ] || fail "no serial-policy: add raises by one (got $(serial two.))"
"$ZONE_BIN" --db "$T/db" --serial-policy increment add 'y.one. 300 IN A 192.0.2.22' >/dev/null ||
	fail "add --serial-policy increment"
[ "$(serial one.)" = $((s + 1)) ] || fail "--serial-policy increment overrides the zone's"
# A reload records the new serial-policy (SIGHUP, tierdns-control reload):
# two. goes from increment to unixtime while the server runs; add follows.
printf 'zones:\n  - name: one.\n    serial-policy: unixtime\n  - name: two.\n    serial-policy: increment\n' >"$T/upper.conf"
start_upper UP "$T/db" -c "$T/upper.conf"
s2=$(serial two.)
"$ZONE_BIN" --db "$T/db" add 'y.two. 300 IN A 192.0.2.23' >/dev/null || fail "add to two."
[ "$(serial two.)" = $((s2 + 1)) ] || fail "serial-policy increment: $s2 -> $(serial two.)"
printf 'zones:\n  - name: one.\n    serial-policy: unixtime\n  - name: two.\n    serial-policy: unixtime\n' >"$T/upper.conf"
kill -HUP "$UP_PID"
for i in $(seq 1 50); do
	grep -q 'info: reloaded$' "$T/UP.log" && break
	sleep 0.1
done
grep -q 'zone two\.: serial-policy increment -> unixtime' "$T/UP.log" ||
	fail "the new serial-policy is not logged: $(tail -n 5 "$T/UP.log")"
grep 'configuration re-read' "$T/UP.log" | grep -q 'kept until a restart.*zones' &&
	fail "a changed serial-policy is called restart-only: $(grep 're-read' "$T/UP.log")"
before=$(date +%s)
"$ZONE_BIN" --db "$T/db" add 'z.two. 300 IN A 192.0.2.24' >/dev/null || fail "add to two."
s=$(serial two.)
[ "$s" -ge "$before" ] && [ "$s" -le $(($(date +%s) + 1)) ] ||
	fail "after the reload add raised two.'s serial to $s, not the time ($before)"
stop_daemon UP

# The key is checked.
printf 'zones:\n  - name: one.\n    serial-policy: sometimes\n' >"$T/bad.conf"
rc=0
out=$("$UPPER_BIN" -c "$T/bad.conf" --check-config 2>&1) || rc=$?
[ "$rc" -eq 2 ] || fail "serial-policy: sometimes accepted (exit $rc): $out"
expect_match "$out" "increment or unixtime"
log "ok"
