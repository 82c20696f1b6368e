#!/usr/bin/env bash
# An edit of a big signed zone signs what it changes, not the zone (issue
# 11): tierdns-zone add and delete on a 20,000-name zone, NSEC and NSEC3,
# make a handful of signatures (the count tierdns-zone -v logs) and change
# a handful of records (the dumps before and after compared); a signing of
# the whole zone makes over 20,000. Counts, not wall-clock time: the work
# grows with the change, and the test says so on a loaded machine too.
. "$(dirname "$0")/lib.sh"
e2e_init
command -v ldns-keygen >/dev/null || fail "ldns-keygen is not installed (tools/deps.sh)"

NAMES=20000
python3 - "$NAMES" >"$T/big.zone" <<'PY'
import sys
n = int(sys.argv[1])
print("$ORIGIN big.\n$TTL 3600\n@ SOA ns1 hostmaster 1 7200 900 1209600 300\n@ NS ns1\nns1 A 192.0.2.1")
for i in range(n):
    print("h%d A 10.%d.%d.%d" % (i, i >> 16 & 255, i >> 8 & 255, i & 255))
PY
mkdir -p "$T/keys"
ksk=$(cd "$T/keys" && ldns-keygen -a ECDSAP256SHA256 -k big.) || fail "ldns-keygen"
zsk=$(cd "$T/keys" && ldns-keygen -a ECDSAP256SHA256 big.) || fail "ldns-keygen"
db="$T/db"
zone_load "$db" "$T/big.zone"

# The records (comments aside) of the dump that differ before and after.
changed_records() {
	diff <(grep -v '^;' "$1" | sort) <(grep -v '^;' "$2" | sort) | grep -c '^[<>]' || true
}
# EDIT... with -v: its "signature(s) made" at most MAX, the dump changed in
# at most RECS records ($T/before: the dump before it).
edit_small() { # MAX RECS EDIT...
	local max=$1 recs=$2 out made n
	shift 2
	out=$("$ZONE_BIN" -v --db "$db" "$@" 2>&1) || fail "$*: $out"
	made=$(sed -n 's/.*the change signed: [0-9]* RRset(s) written, \([0-9]*\) signature(s) made.*/\1/p' <<<"$out")
	[ -n "$made" ] || fail "$*: not signed incrementally: $out"
	[ "$made" -le "$max" ] || fail "$* ($chain): $made signatures made, at most $max expected"
	"$ZONE_BIN" --db "$db" dump big. >"$T/after"
	n=$(changed_records "$T/before" "$T/after")
	[ "$n" -le "$recs" ] || fail "$* ($chain): $n records changed, at most $recs expected"
	[ "$n" -gt 0 ] || fail "$* ($chain): nothing changed"
	mv "$T/after" "$T/before"
	log "$chain: $*: $made signatures, $n records changed"
}
for chain in nsec nsec3; do
	opts=()
	[ "$chain" = nsec3 ] && opts=(--nsec3)
	out=$("$ZONE_BIN" -v --db "$db" sign big. "$T/keys/$ksk" "$T/keys/$zsk" "${opts[@]}" 2>&1) ||
		fail "sign $chain: $out"
	"$ZONE_BIN" --db "$db" dump big. >"$T/before"
	# A new name: its A and chain record, the predecessor's, the SOA - each
	# with its signature: 4 signatures; in the dump the SOA and the
	# predecessor's record go and come back changed: 12 records.
	edit_small 4 12 add 'new.big. 300 IN A 192.0.2.9'
	# A type at a name: the RRset, the name's chain record, the SOA.
	edit_small 3 10 add 'h7.big. 300 IN TXT "seven"'
	# A name deleted: its RRset, chain record, the predecessor's, the SOA.
	edit_small 2 12 delete new.big. A
	edit_small 2 10 delete h7.big. TXT
	out=$("$ZONE_BIN" --db "$db" verify big. 2>&1) || fail "verify after the edits ($chain): $out"
done
log "ok"
