#!/usr/bin/env bash
# tierdns-zone sign / ds / verify / check (issue 11): a zone of the store
# signed with ldns-keygen key pairs (made here, in the test's temporary
# directory), NSEC and NSEC3, algorithms 8, 13 and 15. Each signed zone
# verifies with tierdns-zone verify and with ldns-verify-zone (its dump);
# ds prints what ldns-keygen's .ds file says; signing again makes the chain
# again and raises the serial; add and delete sign what they change again;
# a signature is renewed only within the refresh window; the parent's NSEC
# at a child held in the same store lists NS; the served zone validates
# with delv; a broken signature or a missing NSEC makes check fail; key
# files of another zone, an unknown option and RRSIG edits are refused.
. "$(dirname "$0")/lib.sh"
e2e_init
for tool in ldns-keygen ldns-verify-zone delv; do
	command -v "$tool" >/dev/null || fail "$tool is not installed (tools/deps.sh)"
done

cat >"$T/site.zone" <<'EOF'
$ORIGIN site.
$TTL 3600
@ SOA ns1 hostmaster 1 7200 900 1209600 300
@ NS ns1
ns1 A 192.0.2.1
webapp A 192.0.2.10
webapp TXT "the web app"
*.wild A 192.0.2.50
a.b.ent A 192.0.2.60
kid NS ns.kid
ns.kid A 192.0.2.70
EOF

serial() { "$ZONE_BIN" --db "$1" list | awk '$1 == "site." { print $2 }'; }

keys() { # ALG -> "KSK ZSK" base names in $T/keys
	local k z
	mkdir -p "$T/keys"
	k=$(cd "$T/keys" && ldns-keygen -a "$1" -b 2048 -k site.) || fail "ldns-keygen $1"
	z=$(cd "$T/keys" && ldns-keygen -a "$1" -b 1024 site.) || fail "ldns-keygen $1"
	printf '%s %s' "$T/keys/$k" "$T/keys/$z"
}

n=0
for alg in ECDSAP256SHA256 ED25519 RSASHA256; do
	read -r ksk zsk <<<"$(keys $alg)"
	for chain in nsec nsec3; do
		n=$((n + 1))
		db="$T/db$n"
		zone_load "$db" "$T/site.zone"
		opts=()
		[ "$chain" = nsec3 ] && opts=(--nsec3)
		out=$("$ZONE_BIN" --db "$db" sign site. "$ksk.key" "$zsk.private" "${opts[@]}" 2>&1) ||
			fail "sign $alg $chain: $out"
		expect_match "$out" "signed with 2 key"
		out=$("$ZONE_BIN" --db "$db" verify site. 2>&1) || fail "verify $alg $chain: $out"
		expect_match "$out" "signatures and chain verify"
		"$ZONE_BIN" --db "$db" dump site. >"$T/dump$n"
		out=$(ldns-verify-zone "$T/dump$n" 2>&1) || fail "ldns-verify-zone $alg $chain: $out"
		expect_match "$out" "Zone is verified and complete"
		if [ "$chain" = nsec3 ]; then
			grep -q $'\tNSEC3PARAM\t1 0 0 - ' "$T/dump$n" ||
				fail "NSEC3PARAM is not RFC 9276's (1 0 0 -)"
			! grep -q $'\tNSEC\t' "$T/dump$n" || fail "NSEC left after NSEC3 signing"
		else
			! grep -q $'\tNSEC3' "$T/dump$n" || fail "NSEC3 in an NSEC zone"
		fi
		# The DS of the KSK, as ldns-keygen computed it (SHA-256).
		ds=$("$ZONE_BIN" --db "$db" ds site.) || fail "ds: $ds"
		want=$(awk '{ print $(NF-3), $(NF-2), $(NF-1), $NF }' "$ksk.ds")
		got=$(printf '%s\n' "$ds" | awk '{ print $(NF-3), $(NF-2), $(NF-1), $NF }')
		[ "$got" = "$want" ] || fail "ds $alg: got [$got], want [$want]"
		[ "$(serial "$db")" = 2 ] || fail "the first signing must raise the serial to 2"
	done
done

# Signing again (NSEC3 to NSEC): new signatures, the old chain gone, serial+1.
old=$(grep -c $'\tRRSIG\t' "$T/dump$n")
out=$("$ZONE_BIN" --db "$db" sign site. "$ksk" "$zsk" 2>&1) || fail "re-sign: $out"
"$ZONE_BIN" --db "$db" dump site. >"$T/resigned"
! grep -q $'\tNSEC3' "$T/resigned" || fail "NSEC3 chain left after signing with NSEC"
[ "$(grep -c $'\tRRSIG\t' "$T/resigned")" -gt 0 ] || fail "no signatures after re-signing"
[ "$(serial "$db")" = 3 ] || fail "re-signing must raise the serial to 3"
"$ZONE_BIN" --db "$db" verify site. >/dev/null || fail "the re-signed zone does not verify"
[ "$old" -gt 0 ] || fail "no signatures in the first signing"

# Served: delv validates an answer, NXDOMAIN and a wildcard from the DS.
start_upper UP "$db"
awk '{ printf "trust-anchors { \"%s\" static-ds %s %s %s \"%s\"; };\n", $1, $4, $5, $6, $7 }' \
	"$ksk.ds" >"$T/anchor.conf"
for qa in "webapp.site. A" "nothing.site. A" "x.wild.site. A" "webapp.site. MX"; do
	# shellcheck disable=SC2086
	out=$(delv @"$UP_ADDR" -p "$UP_PORT" -a "$T/anchor.conf" +root=site. $qa 2>&1) || true
	grep -q "fully validated" <<<"$out" || fail "delv $qa: $out"
done
stop_daemon UP

# check: a signed file verifies; a changed signature or a missing NSEC not.
out=$("$ZONE_BIN" check "$T/resigned" 2>&1) || fail "check of the signed dump: $out"
expect_match "$out" "signatures and chain verify"
awk -F'\t' -v OFS='\t' '$1 == "webapp.site." && $4 == "RRSIG" && $5 ~ /^A / {
	n = split($5, f, " "); s = f[n]; f[n] = (substr(s, 1, 1) == "A" ? "B" : "A") substr(s, 2)
	$5 = f[1]; for (i = 2; i <= n; i++) $5 = $5 " " f[i] } { print }' \
	"$T/resigned" >"$T/bad-sig"
cmp -s "$T/resigned" "$T/bad-sig" && fail "the test did not change a signature"
rc=0
out=$("$ZONE_BIN" check "$T/bad-sig" 2>&1) || rc=$?
[ "$rc" -eq 1 ] || fail "check of a broken signature exited $rc: $out"
expect_match "$out" "webapp.site. A: no signature valid now"
grep -v $'^ns1.site.\t[0-9]*\tIN\tNSEC\t' "$T/resigned" >"$T/no-nsec"
rc=0
out=$("$ZONE_BIN" check "$T/no-nsec" 2>&1) || rc=$?
[ "$rc" -eq 1 ] || fail "check without an NSEC exited $rc: $out"
expect_match "$out" "ns1.site. -: no NSEC for this name"

# Refusals: another zone's keys, an unknown option, RRSIG edits, no zone.
mkdir -p "$T/other"
ok=$(cd "$T/other" && ldns-keygen -a ECDSAP256SHA256 other.)
rc=0
out=$("$ZONE_BIN" --db "$db" sign site. "$T/other/$ok" 2>&1) || rc=$?
[ "$rc" -eq 1 ] || fail "signing with another zone's key exited $rc"
expect_match "$out" "a key of other\., not of the zone site\."
rc=0
out=$("$ZONE_BIN" --db "$db" sign site. "$ksk" --bogus 2>&1) || rc=$?
[ "$rc" -eq 2 ] || fail "an unknown sign option exited $rc"
rc=0
out=$("$ZONE_BIN" --db "$db" sign nothere. "$ksk" 2>&1) || rc=$?
[ "$rc" -eq 1 ] || fail "signing a zone not in the store exited $rc"
expect_match "$out" "no such zone"
rc=0
out=$("$ZONE_BIN" --db "$db" add 'webapp.site. 300 IN RRSIG A 13 2 300 20300101000000 20200101000000 1 site. AAAA' 2>&1) || rc=$?
[ "$rc" -eq 1 ] || fail "adding an RRSIG exited $rc"
expect_match "$out" "load the signed zone file again"
"$ZONE_BIN" --db "$db" verify site. >/dev/null || fail "a refused edit changed the zone"
# add and delete on a signed zone sign what they change with the keys of
# its last `sign` (remembered in the store), incrementally: the changed
# RRsets, the NSEC/NSEC3 records around the name, the SOA; every other
# signature stays as it was. After each edit the zone verifies (tierdns-zone
# verify, ldns-verify-zone) and equals what a whole `sign` of the edited
# zone makes in another store (signed_equal.py), record counts included.
sigline() { grep -P "^$2\t[0-9]+\tIN\tRRSIG\t$3 " "$1" || true; }
edit_verifies() { # WHAT: the store verifies, its dump with ldns-verify-zone
	local out
	out=$("$ZONE_BIN" --db "$db" verify site. 2>&1) || fail "verify after $1: $out"
	"$ZONE_BIN" --db "$db" dump site. >"$T/edited"
	out=$(ldns-verify-zone "$T/edited" 2>&1) || fail "ldns-verify-zone after $1: $out"
}
# The edited zone unsigned (RRSIG, NSEC, NSEC3, NSEC3PARAM out, the serial
# one lower) into a store of its own, signed whole with the same options:
# the serial comes out the same.
sign_whole() { # DUMP OPTS... -> $T/whole
	grep -vP '\t(RRSIG|NSEC|NSEC3|NSEC3PARAM)\t' "$1" |
		awk -F'\t' -v OFS='\t' '$4 == "SOA" { n = split($5, f, " "); f[3]--; $5 = f[1]
			for (i = 2; i <= n; i++) $5 = $5 " " f[i] } { print }' >"$T/plain"
	shift
	rm -rf "$T/wholedb"
	"$ZONE_BIN" --db "$T/wholedb" load "$T/plain" >/dev/null 2>&1 || fail "load of the plain zone"
	"$ZONE_BIN" --db "$T/wholedb" sign site. "$ksk" "$zsk" "$@" >/dev/null 2>&1 ||
		fail "whole signing of the edited zone"
	"$ZONE_BIN" --db "$T/wholedb" dump site. >"$T/whole"
}
counts() { "$ZONE_BIN" --db "$1" list | awk '$1 == "site." { print $3, $4 }'; }
edit() { # add|delete ARGS...: one edit, checked as above
	local out s0
	"$ZONE_BIN" --db "$db" dump site. >"$T/before-edit"
	s0=$(serial "$db")
	out=$("$ZONE_BIN" -v --db "$db" "$@" 2>&1) || fail "$*: $out"
	case $out in *"is signed: validators"*) fail "$* warned although the keys are known: $out" ;; esac
	grep -q "the change signed" <<<"$out" || fail "$* did not sign incrementally: $out"
	edit_verifies "$* ($chain)"
	[ "$(serial "$db")" = $((s0 + 1)) ] || fail "$* + signing must raise the serial by one"
	sign_whole "$T/edited" "${opts[@]}"
	out=$(python3 "$TDNS_SRC/tests/e2e/signed_equal.py" "$T/before-edit" "$T/edited" "$T/whole") ||
		fail "$* ($chain): not what signing the whole zone makes: $out"
	[ "$(counts "$db")" = "$(counts "$T/wholedb")" ] ||
		fail "$* ($chain): counts $(counts "$db"), signed whole $(counts "$T/wholedb")"
}
for chain in nsec nsec3 nsec3-optout; do
	opts=()
	[ "$chain" = nsec3 ] && opts=(--nsec3)
	[ "$chain" = nsec3-optout ] && opts=(--nsec3 --optout)
	"$ZONE_BIN" --db "$db" sign site. "$ksk" "$zsk" "${opts[@]}" >/dev/null 2>&1 || fail "sign $chain"
	"$ZONE_BIN" --db "$db" dump site. >"$T/signed-$chain"
	edit add 'new.site. 300 IN A 192.0.2.99'                  # a new name
	[ -n "$(sigline "$T/edited" 'new\.site\.' A)" ] || fail "the added RRset is not signed"
	[ "$(sigline "$T/edited" 'webapp\.site\.' TXT)" = "$(sigline "$T/signed-$chain" 'webapp\.site\.' TXT)" ] ||
		fail "add re-signed an untouched RRset ($chain)"
	edit add 'new.site. 300 IN TXT "more"'                    # a type at a name
	edit add 'site. 300 IN MX 10 ns1.site.'                   # a type at the apex
	edit delete webapp.site. TXT                              # an RRset
	edit delete new.site. TXT
	edit delete new.site. A                                   # a name
	! grep -q '^new\.site\.' "$T/edited" || fail "new.site. left after its delete"
	[ "$(sigline "$T/edited" 'webapp\.site\.' A)" = "$(sigline "$T/signed-$chain" 'webapp\.site\.' A)" ] ||
		fail "delete re-signed an untouched RRset ($chain)"
	edit add 'deep.x.y.site. 300 IN A 192.0.2.98'             # empty non-terminals
	edit add 'other.x.y.site. 300 IN A 192.0.2.97'
	edit delete deep.x.y.site. A
	edit delete other.x.y.site. A                             # ENTs gone
	edit add 'ns.sub.site. 300 IN A 192.0.2.96'               # then glue
	edit add 'sub.site. 300 IN NS ns.sub.site.'               # a delegation
	! grep -qP '^ns\.sub\.site\.\t.*\tRRSIG\t' "$T/edited" || fail "glue signed ($chain)"
	edit add 'sub.site. 300 IN DS 12345 13 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'
	edit delete sub.site. DS
	edit delete sub.site. NS                                  # no delegation
	grep -qP '^ns\.sub\.site\.\t.*\tRRSIG\tA ' "$T/edited" || fail "ns.sub not signed after the cut went ($chain)"
	edit delete ns.sub.site. A
	edit delete kid.site. NS                                  # a delegation of the file
	edit add 'kid.site. 3600 IN NS ns.kid.site.'
	edit delete site. MX
	if [ "$chain" = nsec ]; then
		# CDS and CDNSKEY are signed by the KSK, as the DNSKEY RRset.
		edit add "site. 3600 IN CDS $(awk '{ print $(NF-3), $(NF-2), $(NF-1), $NF }' "$ksk.ds")"
		edit add "site. 3600 IN CDNSKEY $(awk '{ for (i = 4; i <= NF; i++) printf "%s ", $i }' "$ksk.key" | sed 's/ *;.*//; s/^DNSKEY //')"
		edit delete site. CDS
		edit delete site. CDNSKEY
	else
		edit add '*.w.site. 300 IN A 192.0.2.95'          # a wildcard
		edit delete '*.w.site.' A
	fi
	"$ZONE_BIN" --db "$db" add 'webapp.site. 3600 IN TXT "the web app"' >/dev/null 2>&1 || fail "add back"
done
# The chain's TTL follows the SOA's (RFC 9077: the lesser of its TTL and
# minimum): an SOA edit that changes it signs the whole zone, logged so.
s0=$(serial "$db")
out=$("$ZONE_BIN" -v --db "$db" add "site. 3600 IN SOA ns1.site. hostmaster.site. $((s0 + 5)) 7200 900 1209600 120" 2>&1) ||
	fail "SOA edit: $out"
expect_match "$out" "signed whole: the NSEC/NSEC3 TTL changes"
edit_verifies "an SOA edit"
grep -qP '^[^\t]+\t120\tIN\tNSEC3\t' "$T/edited" || fail "the chain's TTL did not follow the SOA's minimum"
# Without its keys (moved away) an edit stands, unsigned, with the warning.
mkdir -p "$T/away"
mv "$T/keys/"* "$T/away/"
out=$("$ZONE_BIN" --db "$db" add 'new.site. 300 IN A 192.0.2.99' 2>&1) || fail "add: $out"
expect_match "$out" "zone site\. is signed: .*tierdns-zone sign site\."
mv "$T/away/"* "$T/keys/"
rc=0
out=$("$ZONE_BIN" --db "$db" verify site. 2>&1) || rc=$?
[ "$rc" -eq 1 ] || fail "verify after an unsigned edit exited $rc"
expect_match "$out" "new.site. A: not signed"
"$ZONE_BIN" --db "$db" sign site. "$ksk" "$zsk" >/dev/null 2>&1 || fail "signing after the edit"
"$ZONE_BIN" --db "$db" verify site. >/dev/null || fail "the zone does not verify after signing again"

# The refresh window: signing again keeps a signature that expires later
# than --refresh days from now and renews one that expires sooner.
"$ZONE_BIN" --db "$db" sign site. "$ksk" "$zsk" --refresh 0 >/dev/null 2>&1 || fail "sign --refresh 0"
"$ZONE_BIN" --db "$db" dump site. >"$T/r1"
sleep 1
"$ZONE_BIN" --db "$db" sign site. "$ksk" "$zsk" >/dev/null 2>&1 || fail "sign again"
"$ZONE_BIN" --db "$db" dump site. >"$T/r2"
a1=$(sigline "$T/r1" 'webapp\.site\.' A)
[ -n "$a1" ] && [ "$a1" = "$(sigline "$T/r2" 'webapp\.site\.' A)" ] ||
	fail "a signature far from expiry was renewed: [$a1]"
[ "$(sigline "$T/r1" 'site\.' SOA)" != "$(sigline "$T/r2" 'site\.' SOA)" ] ||
	fail "the SOA's signature must be new (the serial changed)"
# --validity 2 then a signing with the default window (7.5 days): renewed.
"$ZONE_BIN" --db "$db" sign site. "$ksk" "$zsk" --validity 2 --refresh 0 >/dev/null 2>&1 || fail "sign --validity 2"
"$ZONE_BIN" --db "$db" dump site. >"$T/r3"
sleep 1
"$ZONE_BIN" --db "$db" sign site. "$ksk" "$zsk" >/dev/null 2>&1 || fail "sign after --validity 2"
"$ZONE_BIN" --db "$db" dump site. >"$T/r4"
exp3=$(sigline "$T/r3" 'webapp\.site\.' A | awk '{ print $9 }')
exp4=$(sigline "$T/r4" 'webapp\.site\.' A | awk '{ print $9 }')
[ -n "$exp3" ] && [ "$exp4" -gt "$exp3" ] || fail "a signature 2 days from expiry was not renewed ($exp3 -> $exp4)"
"$ZONE_BIN" --db "$db" verify site. >/dev/null || fail "the refreshed zone does not verify"
# --refresh longer than the validity renews everything (a second later:
# RSA signatures of the same data and times are the same bytes).
sleep 1
"$ZONE_BIN" --db "$db" sign site. "$ksk" "$zsk" --refresh 60 >/dev/null 2>&1 || fail "sign --refresh 60"
"$ZONE_BIN" --db "$db" dump site. >"$T/r5"
[ "$(sigline "$T/r4" 'webapp\.site\.' A)" != "$(sigline "$T/r5" 'webapp\.site\.' A)" ] ||
	fail "--refresh 60 kept a signature"

# The parent and its child in one store: the parent's NSEC at the child's
# apex lists NS (the cut), though the NS RRset is stored with the child.
mkdir -p "$T/rk"
rk=$(cd "$T/rk" && ldns-keygen -a ECDSAP256SHA256 .) || fail "ldns-keygen ."
cat >"$T/root.zone" <<'EOF'
. 86400 IN SOA a.root. nstld. 1 1800 900 604800 86400
. 86400 IN NS a.root.
a.root. 86400 IN A 192.0.2.53
site. 86400 IN NS ns1.site.
EOF
"$ZONE_BIN" --db "$db" ds site. | awk '{ $2 = 86400; print }' >>"$T/root.zone"
zone_load "$db" "$T/root.zone"
"$ZONE_BIN" --db "$db" sign . "$T/rk/$rk" >/dev/null 2>&1 || fail "sign ."
"$ZONE_BIN" --db "$db" dump . >"$T/root-signed"
grep -P '^site\.\t[0-9]+\tIN\tNSEC\t.* NS DS RRSIG NSEC' "$T/root-signed" >/dev/null ||
	fail "the root's NSEC at site. lacks the NS bit: $(grep -P '^site\.\t.*NSEC' "$T/root-signed")"
! grep -P '^site\.\t[0-9]+\tIN\tRRSIG\tNS ' "$T/root-signed" >/dev/null || fail "the delegation NS was signed"
"$ZONE_BIN" --db "$db" verify . >/dev/null || fail "the root does not verify"
"$ZONE_BIN" --db "$db" verify site. >/dev/null || fail "site. does not verify beside its parent"

# A load replaces the zone with the file's, signed or not: the keys of the
# sign before are forgotten, an edit then warns instead of signing with them.
"$ZONE_BIN" --db "$db" dump site. >"$T/presigned"
zone_load "$db" --force "$T/presigned"
out=$("$ZONE_BIN" --db "$db" add 'after-load.site. 300 IN A 192.0.2.98' 2>&1) || fail "add: $out"
expect_match "$out" "no keys known"
expect_match "$out" "zone site\. is signed: .*tierdns-zone sign site\."
log "ok"
