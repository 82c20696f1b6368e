#!/usr/bin/env bash
# A zone file with a bad record on a late line: `tierdns-zone load` exits 1,
# names FILE:LINE, and writes nothing (the zone is loaded in one write
# transaction, so the store is byte-for-byte what it was). `check` finds the
# same error without a store.
. "$(dirname "$0")/lib.sh"
e2e_init_bare
[ -x "$ZONE_BIN" ] || fail "missing $ZONE_BIN"

db="$T/upper"
zone_load "$db" "$ZONES"/upper/*.zone
before_dump=$("$ZONE_BIN" --db "$db" dump 2>&1) || fail "dump failed: $before_dump"
before_list=$("$ZONE_BIN" --db "$db" list 2>&1) || fail "list failed: $before_list"
grep -q '192\.0\.2\.10' <<<"$before_dump" || fail "dump lacks webapp.site"

# A new version of site.: webapp moved, 60 new hosts, then one bad address.
bad="$T/site-bad.zone"
sed 's/192\.0\.2\.10$/192.0.2.11/' "$ZONES/upper/site.zone" >"$bad"
for i in $(seq 1 60); do
	printf 'host%d IN A 192.0.2.%d\n' "$i" "$((i + 100))" >>"$bad"
done
printf 'broken IN A 192.0.2.300\n' >>"$bad"
badline=$(wc -l <"$bad")
printf 'host-after IN A 192.0.2.250\n' >>"$bad"

rc=0
err=$("$ZONE_BIN" --db "$db" load "$bad" 2>&1) || rc=$?
[ "$rc" -eq 1 ] || fail "load of a bad zone exited $rc, want 1: $err"
expect_match "$err" "site-bad\.zone:$badline([^0-9]|$)"

after_dump=$("$ZONE_BIN" --db "$db" dump 2>&1) || fail "dump failed: $after_dump"
after_list=$("$ZONE_BIN" --db "$db" list 2>&1) || fail "list failed: $after_list"
[ "$before_dump" = "$after_dump" ] || fail "the store changed after a failed load:
$(diff <(printf '%s\n' "$before_dump") <(printf '%s\n' "$after_dump") | head -n 20)"
[ "$before_list" = "$after_list" ] || fail "zone list changed after a failed load"

# a zone the store does not have yet: still nothing written
newz="$T/new.zone"
{
	printf '$ORIGIN new.test.\n$TTL 60\n@ SOA ns hostmaster 1 3600 900 604800 60\n@ NS ns\nns A 192.0.2.53\n'
	printf 'a A 192.0.2.1\nb AAAA not-an-address\n'
} >"$newz"
rc=0
err=$("$ZONE_BIN" --db "$db" load "$newz" 2>&1) || rc=$?
[ "$rc" -eq 1 ] || fail "load of a bad new zone exited $rc, want 1: $err"
expect_match "$err" 'new\.zone:7([^0-9]|$)'
after_list=$("$ZONE_BIN" --db "$db" list 2>&1) || fail "list failed"
[ "$before_list" = "$after_list" ] || fail "a bad new zone appeared in the list: $after_list"
after_dump=$("$ZONE_BIN" --db "$db" dump 2>&1) || fail "dump failed"
[ "$before_dump" = "$after_dump" ] || fail "the store changed after a failed load of a new zone"

# check: same diagnosis, no store involved; a good file passes
rc=0
err=$("$ZONE_BIN" check "$bad" 2>&1) || rc=$?
[ "$rc" -eq 1 ] || fail "check of a bad zone exited $rc, want 1: $err"
expect_match "$err" "site-bad\.zone:$badline([^0-9]|$)"
"$ZONE_BIN" check "$ZONES"/upper/*.zone "$ZONES"/local/*.zone >/dev/null 2>&1 ||
	fail "check rejects the shipped zones"

# and the good part of the change does load once the bad line is gone
grep -v '^broken ' "$bad" >"$T/site-good.zone"
zone_load "$db" --force "$T/site-good.zone" # the same serial: --force
after_dump=$("$ZONE_BIN" --db "$db" dump site. 2>&1) || fail "dump site. failed"
grep -Eq '^host60\.site\.[[:space:]]+[0-9]+[[:space:]]+IN[[:space:]]+A[[:space:]]+192\.0\.2\.160$' <<<"$after_dump" ||
	fail "fixed zone did not load: $after_dump"
