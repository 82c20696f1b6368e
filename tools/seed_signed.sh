#!/usr/bin/env bash
# tools/seed_signed.sh BUILD VAR - load the shipped upper zones (zones/upper)
# into VAR/upper signed: the private root "." and site., with a DS for site.
# in the root, so that a validator with the root's trust anchor follows the
# chain . -> site. (delv @127.0.0.1 -p 9998 -a VAR/root-anchor.conf
# webapp.site says "fully validated").
#
# Keys: an ECDSA P-256 (algorithm 13) KSK and ZSK per zone, made with
# ldns-keygen into VAR/keys the first time and kept there (mode 0700; the
# private keys never leave VAR, which is not part of the repository). The
# zones are signed again at every run (signatures within a quarter of
# their 30 days of expiry renewed, the others kept), site. first, then "."
# with site.'s DS. The root's DS goes to VAR/root.ds and
# a delv trust anchor to VAR/root-anchor.conf.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 BUILD VAR" >&2; exit 2; }
build=$1
var=$2
top=$(cd "$(dirname "$0")/.." && pwd)
zone="$build/tierdns-zone"
keys="$var/keys"
command -v ldns-keygen >/dev/null || { echo "$0: ldns-keygen is missing (tools/deps.sh)" >&2; exit 1; }

mkdir -p "$keys"
chmod 700 "$keys"

# keypair ZONE FLAG: the base name of the zone's KSK (FLAG -k) or ZSK (FLAG
# empty), made if there is none yet.
keypair() {
	local z=$1 flag=$2 f
	for f in "$keys"/K"$z"+013+*.key; do
		[ -e "$f" ] || continue
		if grep -q 'IN[[:space:]]*DNSKEY[[:space:]]*257' "$f"; then
			[ -n "$flag" ] && { printf '%s' "${f%.key}"; return; }
		else
			[ -z "$flag" ] && { printf '%s' "${f%.key}"; return; }
		fi
	done
	(cd "$keys" && umask 077 && printf '%s/%s' "$keys" "$(ldns-keygen -a ECDSAP256SHA256 $flag "$z")")
}

# --force: the store holds the signed version, serial + 1, from a run before.
"$zone" --db "$var/upper" load --force "$top/zones/upper/site.zone"
"$zone" --db "$var/upper" sign site. "$(keypair site. -k)" "$(keypair site. '')"

# The root as shipped, delegating site. with its DS (the zone itself stays
# unchanged in zones/: unsigned stores load it as it is).
{
	cat "$top/zones/upper/root.zone"
	printf '\n; the signed delegation to site.: its NS and the DS of its KSK\n'
	printf 'site.\t86400\tIN\tNS\tns1.site.\n'
	"$zone" --db "$var/upper" ds site. | awk '{ $2 = 86400; print }'
} >"$var/root.zone"
"$zone" --db "$var/upper" load --force "$var/root.zone"
"$zone" --db "$var/upper" sign . "$(keypair . -k)" "$(keypair . '')"

"$zone" --db "$var/upper" ds . >"$var/root.ds"
awk '{ printf "trust-anchors { \"%s\" static-ds %s %s %s \"%s\"; };\n", $1, $(NF-3), $(NF-2), $(NF-1), $NF }' \
	"$var/root.ds" >"$var/root-anchor.conf"
"$zone" --db "$var/upper" verify . >/dev/null
"$zone" --db "$var/upper" verify site. >/dev/null
echo "signed . and site. in $var/upper; root trust anchor: $var/root-anchor.conf"
