#!/usr/bin/env bash
# The messages a new user hits first (issue 15), each with the cause and
# what to do, in one line:
#  - a port below 1024 without privileges names root / CAP_NET_BIND_SERVICE;
#  - --listen / --upstream with a host name says an IP address is expected;
#  - a store the user may not open reports "permission denied" once (never
#    "I/O error"), from both daemons and from tierdns-zone;
#  - tierdns-zone load without files says so in one line;
#  - tierdns-zone names the store it wrote (load, add, delete);
#  - tierdns-local refuses the upper's store, and the reverse;
#  - an upper without zones warns that it answers REFUSED to everything;
#  - tierdns-zone add with a relative owner is rejected (not put in ".").
# The unprivileged cases run as nobody (setpriv) when the test is root, and
# as the user running it otherwise.
. "$(dirname "$0")/lib.sh"
e2e_init

# "${AS_USER[@]}" CMD...: run CMD without root (as nobody when we are root).
if [ "$(id -u)" -eq 0 ]; then
	command -v setpriv >/dev/null || { echo "setpriv missing" >&2; exit 77; }
	AS_USER=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
	chmod 755 "$T"
else
	AS_USER=()
fi
mkdir -p "$T/mine"
[ "$(id -u)" -eq 0 ] && chown nobody "$T/mine"

# expect_one_line FILE REGEX: FILE holds exactly one line, matching REGEX.
expect_one_line() {
	local n
	n=$(grep -c . "$1" || true)
	[ "$n" -eq 1 ] || fail "expected one line in $(basename "$1"), got $n: $(cat "$1")"
	grep -Eq -- "$2" "$1" || fail "expected /$2/ in: $(cat "$1")"
}

# run_fail RC OUTFILE CMD...: CMD must exit with RC; stdout+stderr to OUTFILE.
run_fail() {
	local want=$1 out=$2 rc=0
	shift 2
	timeout 10 "$@" >"$out" 2>&1 || rc=$?
	[ "$rc" -eq "$want" ] || fail "$* exited $rc, want $want: $(cat "$out")"
}

# 1. A privileged port without privileges.
unpriv_start=$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start 2>/dev/null || echo 1024)
if [ "$unpriv_start" -gt 53 ]; then
	run_fail 1 "$T/port53.out" "${AS_USER[@]}" "$UPPER_BIN" --db "$T/mine/upper" \
		--listen 127.0.0.53 --port 53
	grep -q "Permission denied" "$T/port53.out" || fail "port 53: $(cat "$T/port53.out")"
	grep -q "CAP_NET_BIND_SERVICE" "$T/port53.out" ||
		fail "port 53 does not name CAP_NET_BIND_SERVICE: $(cat "$T/port53.out")"
	grep -q "root" "$T/port53.out" || fail "port 53 does not name root"
	run_fail 1 "$T/port53l.out" "${AS_USER[@]}" "$LOCAL_BIN" --db "$T/mine/local" \
		--listen 127.0.0.53 --port 53
	grep -q "CAP_NET_BIND_SERVICE" "$T/port53l.out" ||
		fail "local, port 53: $(cat "$T/port53l.out")"
else
	log "unprivileged ports start at $unpriv_start here: port 53 case skipped"
fi

# 2. Host names where an address is expected.
for bin in "$UPPER_BIN" "$LOCAL_BIN"; do
	run_fail 2 "$T/lh.out" "$bin" --db "$T/lh" --listen localhost
	grep -q "invalid --listen address 'localhost': an IP address is expected" \
		"$T/lh.out" || fail "--listen localhost: $(cat "$T/lh.out")"
	grep -q "host names are not looked up" "$T/lh.out" || fail "no host name hint"
done
run_fail 2 "$T/ul.out" "$LOCAL_BIN" --db "$T/lh" --upstream dns.example:53
grep -q "invalid --upstream address 'dns.example:53': an IP address is expected" \
	"$T/ul.out" || fail "--upstream host name: $(cat "$T/ul.out")"

# 3. A store this user may not open: one cause, said once.
"$ZONE_BIN" --db "$T/closed" load "$ZONES"/upper/*.zone >/dev/null
chmod 700 "$T/closed"
if [ "$(id -u)" -eq 0 ]; then
	run_fail 1 "$T/closed.out" "${AS_USER[@]}" "$UPPER_BIN" --db "$T/closed" \
		--listen 127.0.0.1 --port "$(_rand_port)"
	expect_one_line "$T/closed.out" "cannot open store $T/closed: permission denied"
	grep -q "I/O error" "$T/closed.out" && fail "I/O error reported: $(cat "$T/closed.out")"
	run_fail 1 "$T/closedl.out" "${AS_USER[@]}" "$LOCAL_BIN" --db "$T/closed" \
		--listen 127.0.0.1 --port "$(_rand_port)"
	expect_one_line "$T/closedl.out" "cannot open store $T/closed: permission denied"
	run_fail 1 "$T/closedz.out" "${AS_USER[@]}" "$ZONE_BIN" --db "$T/closed" list
	expect_one_line "$T/closedz.out" "$T/closed: cannot open store: permission denied"
	# Files the user may not write, in a directory it may read.
	chmod 755 "$T/closed"
	chmod 600 "$T/closed"/*.mdb
	run_fail 1 "$T/closedf.out" "${AS_USER[@]}" "$UPPER_BIN" --db "$T/closed" \
		--listen 127.0.0.1 --port "$(_rand_port)"
	expect_one_line "$T/closedf.out" "cannot open store $T/closed: permission denied"
	run_fail 1 "$T/closedfz.out" "${AS_USER[@]}" "$ZONE_BIN" --db "$T/closed" dump
	expect_one_line "$T/closedfz.out" "$T/closed: cannot open store: permission denied"
else
	log "not root: unreadable-store cases skipped (root reads every file)"
fi

# 4. load without files: one line.
run_fail 2 "$T/nofiles.out" "$ZONE_BIN" --db "$T/x" load
expect_one_line "$T/nofiles.out" "load: no zone files given"
[ -e "$T/x" ] && fail "load without files created the store"

# 5. tierdns-zone names the store it wrote.
"$ZONE_BIN" --db "$T/named" load "$ZONES"/upper/*.zone >"$T/named.out"
[ "$(grep -c "records loaded into $T/named\$" "$T/named.out")" -eq 2 ] ||
	fail "load does not name the store: $(cat "$T/named.out")"
"$ZONE_BIN" --db "$T/named" add 'new.site. 300 IN A 192.0.2.99' >"$T/add.out"
expect_one_line "$T/add.out" "^$T/named: added new.site. 300 IN A 192.0.2.99\$"
"$ZONE_BIN" --db "$T/named" delete new.site. A 192.0.2.99 >"$T/del.out"
expect_one_line "$T/del.out" "^$T/named: deleted new.site. A 192.0.2.99\$"

# 6. A store belongs to one tier.
start_upper UPPER "$T/upper"
stop_daemon UPPER
run_fail 1 "$T/tier.out" "$LOCAL_BIN" --db "$T/upper" --listen 127.0.0.1 --port "$(_rand_port)"
grep -q "$T/upper is the store of tierdns-upper; tierdns-local needs a store of its own" \
	"$T/tier.out" || fail "local on the upper's store: $(cat "$T/tier.out")"
start_local LOCAL "$T/local" "$(dead_endpoint)"
stop_daemon LOCAL
run_fail 1 "$T/tier2.out" "$UPPER_BIN" --db "$T/local" --listen 127.0.0.1 --port "$(_rand_port)"
grep -q "$T/local is the store of tierdns-local; tierdns-upper needs a store of its own" \
	"$T/tier2.out" || fail "upper on the local's store: $(cat "$T/tier2.out")"
# tierdns-zone works on either.
"$ZONE_BIN" --db "$T/local" list >/dev/null || fail "tierdns-zone list on a local store"

# 7. An upper with no zones says what it will do.
start_upper EMPTY "$T/empty"
grep -q "warning: store $T/empty holds no zones: every query will be answered REFUSED" \
	"$T/EMPTY.log" || fail "no warning for an upper without zones"
q EMPTY webapp.site A
expect_status REFUSED
stop_daemon EMPTY

# 8. add with a relative owner: rejected, the root zone untouched.
run_fail 1 "$T/rel.out" "$ZONE_BIN" --db "$T/named" add 'www 300 IN A 192.0.2.1'
expect_one_line "$T/rel.out" "without a final dot"
"$ZONE_BIN" --db "$T/named" dump . >"$T/root.dump"
grep -q '^www\.' "$T/root.dump" && fail "www. landed in the root zone"
run_fail 1 "$T/rel2.out" "$ZONE_BIN" --db "$T/named" add 'mx.site. 300 IN MX 10 mail'
expect_one_line "$T/rel2.out" "without a final dot"

# 9. As root, tierdns-zone hands a store it creates in the daemons' directory
# (owned by their user, as StateDirectory= makes it) to that user, so the
# daemon, running as that user, can open it for writing.
if [ "$(id -u)" -eq 0 ]; then
	mkdir "$T/state"
	chown nobody:nogroup "$T/state"
	"$ZONE_BIN" --db "$T/state/upper" load "$ZONES"/upper/*.zone >/dev/null
	for f in "$T/state/upper" "$T/state/upper/data.mdb" "$T/state/upper/lock.mdb"; do
		[ "$(stat -c %U "$f")" = nobody ] || fail "$f belongs to $(stat -c %U "$f")"
	done
	UPPER_BIN_SAVED=$UPPER_BIN
	UPPER_BIN="$T/upper-as-nobody"
	printf '#!/bin/sh
exec setpriv --reuid=nobody --regid=nogroup --clear-groups %s "$@"
' \
		"$UPPER_BIN_SAVED" >"$UPPER_BIN"
	chmod 755 "$UPPER_BIN"
	start_upper NOBODY "$T/state/upper"
	q NOBODY webapp.site A
	expect_rr ANSWER webapp.site. A 192.0.2.10
	stop_daemon NOBODY
	UPPER_BIN=$UPPER_BIN_SAVED
fi

log "ok"
