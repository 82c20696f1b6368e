#!/usr/bin/env bash
# CHAOS TXT identity (RFC 4892) on both tiers, as NSD and Unbound answer
# it: id.server and hostname.bind give --identity (default: the host name),
# version.bind and version.server give --version-string (default: tierdns
# and its version); --hide-identity and --hide-version answer them REFUSED,
# as both NSD and Unbound do. The same from a configuration file (NSD's and
# Unbound's keys identity:, version:, hide-identity:, hide-version:).
. "$(dirname "$0")/lib.sh"
e2e_init

# chaos NAME QNAME STATUS [TEXT]: dig NAME CH TXT QNAME is STATUS, and with
# TEXT its one answer is QNAME CH TXT "TEXT" with AA.
chaos() {
	local name=$1 qname=$2 status=$3 text=${4:-}
	q "$name" CH TXT "$qname"
	[ "$STATUS" = "$status" ] || fail "$name $qname CH TXT: status $STATUS, want $status"
	if [ -n "$text" ]; then
		expect_flag aa
		[ "$(section ANSWER)" = "$qname. 0 CH TXT \"$text\"" ] ||
			fail "$name $qname CH TXT: [$(section ANSWER)], want \"$text\""
	else
		expect_count ANSWER 0
	fi
}

host=$(hostname)
ver=$("$UPPER_BIN" --version | awk '{ print $2 }')

# Defaults: the host name and the version.
start_upper UPPER "$T/upper"
start_local LOCAL "$T/local" "$(dead_endpoint)"
for d in UPPER LOCAL; do
	chaos $d id.server NOERROR "$host"
	chaos $d hostname.bind NOERROR "$host"
	chaos $d version.bind NOERROR "tierdns $ver"
	chaos $d version.server NOERROR "tierdns $ver"
	chaos $d other.bind REFUSED
done
stop_daemon UPPER
stop_daemon LOCAL

# Strings of one's own, and each half hidden.
start_upper UPPER2 "$T/upper" --identity ns1.example --version-string "secret sauce 1.0"
start_local LOCAL2 "$T/local" "$(dead_endpoint)" --identity res1.example --hide-version
start_upper UPPER3 "$T/upper2" --hide-identity --version-string v9
chaos UPPER2 id.server NOERROR ns1.example
chaos UPPER2 hostname.bind NOERROR ns1.example
chaos UPPER2 version.bind NOERROR "secret sauce 1.0"
chaos UPPER2 version.server NOERROR "secret sauce 1.0"
chaos LOCAL2 id.server NOERROR res1.example
chaos LOCAL2 hostname.bind NOERROR res1.example
chaos LOCAL2 version.bind REFUSED
chaos LOCAL2 version.server REFUSED
chaos UPPER3 id.server REFUSED
chaos UPPER3 hostname.bind REFUSED
chaos UPPER3 version.bind NOERROR v9
stop_daemon UPPER2
stop_daemon LOCAL2
stop_daemon UPPER3

# The configuration file's keys.
cat >"$T/local.conf" <<CONF
identity: from-the-file
hide-identity: false
version: "file version"
hide-version: false
CONF
start_local LOCAL3 "$T/local" "$(dead_endpoint)" -c "$T/local.conf"
chaos LOCAL3 id.server NOERROR from-the-file
chaos LOCAL3 version.server NOERROR "file version"
stop_daemon LOCAL3
printf 'hide-identity: true\nhide-version: true\n' >"$T/local.conf"
start_local LOCAL4 "$T/local" "$(dead_endpoint)" -c "$T/local.conf"
chaos LOCAL4 hostname.bind REFUSED
chaos LOCAL4 version.bind REFUSED
stop_daemon LOCAL4
log "ok"
