#!/usr/bin/env bash
# The shipped zones signed at seed time (tools/seed_signed.sh, what
# tools/run.sh does): "." and site. signed with keys made into VAR/keys, a
# DS for site. in the root; delv with the root's trust anchor validates
# webapp.site through the chain . -> site., and an NXDOMAIN in each zone;
# seeding again keeps the keys and re-signs.
. "$(dirname "$0")/lib.sh"
e2e_init
command -v delv >/dev/null || fail "delv is not installed (tools/deps.sh)"
command -v ldns-keygen >/dev/null || fail "ldns-keygen is not installed (tools/deps.sh)"

seed() { "$TDNS_SRC/tools/seed_signed.sh" "$TDNS_BUILD" "$T/var" >"$T/seed.out" 2>&1 ||
	fail "seed_signed.sh: $(cat "$T/seed.out")"; }
seed
[ -s "$T/var/root-anchor.conf" ] || fail "no root trust anchor written"
keys1=$(ls "$T/var/keys")
[ "$(stat -c %a "$T/var/keys")" = 700 ] || fail "the key directory is not private"
seed
[ "$(ls "$T/var/keys")" = "$keys1" ] || fail "seeding again made new keys"

start_upper UP "$T/var/upper"
v() { delv @"$UP_ADDR" -p "$UP_PORT" -a "$T/var/root-anchor.conf" "$@" 2>&1 || true; }
out=$(v webapp.site A)
expect_match "$out" "^; fully validated"
expect_match "$out" "webapp\.site\..*IN[[:space:]]+A[[:space:]]+192\.0\.2\.10"
expect_match "$(v docs.site A)" "^; fully validated"
expect_match "$(v nothere.site A)" "negative response, fully validated"
expect_match "$(v www.example A)" "negative response, fully validated"
expect_match "$(v site DS)" "^; fully validated"
# A DO query gets the signatures, a plain one none.
q UP +dnssec +norec webapp.site A
expect_status NOERROR
section ANSWER | grep ' RRSIG A 13 ' >/dev/null || fail "no RRSIG with DO: $OUT"
q UP +norec webapp.site A
section ANSWER | grep RRSIG >/dev/null && fail "an RRSIG without DO: $OUT"
stop_daemon UP
log "ok"
