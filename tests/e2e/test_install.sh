#!/usr/bin/env bash
# cmake --install into a scratch root (DESTDIR), then the installed programs
# against the installed example zones and configuration files: tierdns-zone loads them, the installed
# daemons serve them, dig gets the answers through both tiers.
. "$(dirname "$0")/lib.sh"
e2e_init

prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$TDNS_BUILD/CMakeCache.txt")
[ -n "$prefix" ] || fail "no CMAKE_INSTALL_PREFIX in $TDNS_BUILD/CMakeCache.txt"
DESTDIR="$T/root" cmake --install "$TDNS_BUILD" >"$T/install.log" 2>&1 ||
	fail "cmake --install: $(tail -n 20 "$T/install.log")"
R="$T/root$prefix"

# What an install must hold (GNUInstallDirs defaults: bin, sbin, share/...).
for f in sbin/tierdns-upper sbin/tierdns-local bin/tierdns-query bin/tierdns-zone \
	bin/tierdns-control; do
	[ -x "$R/$f" ] || fail "not installed: $prefix/$f"
done
EX="$R/share/doc/tierdns/examples/zones"
for f in upper/root.zone upper/site.zone local/home.arpa.zone; do
	[ -f "$EX/$f" ] || fail "example zone not installed: $f"
done
# The sample configuration files, in SYSCONFDIR/tierdns (/etc/tierdns for
# the prefix /usr, else PREFIX/etc/tierdns): where the daemons look.
confdir=$("$TDNS_BUILD/tierdns-upper" --help | sed -n 's|.*(default \(/.*\)/upper.conf)|\1|p')
case "$confdir" in
/etc/tierdns | "$prefix/etc/tierdns") ;;
*) fail "default configuration directory '$confdir' is not SYSCONFDIR/tierdns of $prefix" ;;
esac
for f in upper.conf local.conf; do
	[ -s "$T/root$confdir/$f" ] || fail "not installed: $confdir/$f"
done
# The man pages, when the build has them (TDNS_MAN, on by default).
if [ -d "$TDNS_BUILD/man" ]; then
	for f in man8/tierdns-upper.8 man8/tierdns-local.8 man1/tierdns-query.1 \
		man1/tierdns-zone.1 man5/tierdns.conf.5 man8/tierdns-control.8; do
		[ -s "$R/share/man/$f" ] || fail "man page not installed: share/man/$f"
	done
	grep -q "$EX" "$R/share/man/man8/tierdns-upper.8" 2>/dev/null ||
		grep -q "${prefix}/share/doc/tierdns/examples" "$R/share/man/man8/tierdns-upper.8" ||
		fail "tierdns-upper(8) does not name the installed examples"
fi
# Nothing from the test build (unit tests, benchmarks) is installed.
for f in tierdns-echo tierdns-cache-stall test_store; do
	[ -z "$(find "$T/root" -name "$f")" ] || fail "$f must not be installed"
done

# The installed programs, from the installed examples.
UPPER_BIN="$R/sbin/tierdns-upper"
LOCAL_BIN="$R/sbin/tierdns-local"
ZONE_BIN="$R/bin/tierdns-zone"
QUERY_BIN="$R/bin/tierdns-query"
"$UPPER_BIN" --version | grep '^tierdns-upper ' >/dev/null || fail "installed upper --version"
# The installed configuration files pass the installed daemons' check.
"$UPPER_BIN" -c "$T/root$confdir/upper.conf" --check-config >"$T/check.out" 2>&1 ||
	fail "installed upper.conf: $(cat "$T/check.out")"
"$LOCAL_BIN" -c "$T/root$confdir/local.conf" --check-config >"$T/check.out" 2>&1 ||
	fail "installed local.conf: $(cat "$T/check.out")"
zone_load "$T/upper" "$EX"/upper/*.zone
zone_load "$T/local" "$EX"/local/*.zone
# Started with the installed files (the test's flags override their
# addresses and stores).
start_upper UPPER "$T/upper" -c "$T/root$confdir/upper.conf"
start_local LOCAL "$T/local" "$UPPER_ADDR:$UPPER_PORT" -c "$T/root$confdir/local.conf" \
	--control "$T/local.sock"

q UPPER webapp.site A
expect_status NOERROR
expect_flag aa
expect_rr ANSWER webapp.site. A 192.0.2.10
q LOCAL webapp.site A
expect_status NOERROR
expect_rr ANSWER webapp.site. A 192.0.2.10
q LOCAL router.home.arpa A
expect_rr ANSWER router.home.arpa. A 198.51.100.1
q LOCAL nosuch.site A
expect_status NXDOMAIN
"$QUERY_BIN" -s "$LOCAL_ADDR" -p "$LOCAL_PORT" webapp.site >"$T/query.out" ||
	fail "installed tierdns-query failed"
grep -q '^webapp.site. [0-9]* IN A 192.0.2.10$' "$T/query.out" ||
	fail "installed tierdns-query: $(cat "$T/query.out")"
# The installed control client talks to the installed daemon.
out=$("$R/bin/tierdns-control" -s "$T/local.sock" status 2>&1) ||
	fail "installed tierdns-control status: $out"
expect_match "$out" "^version: "
stop_daemon LOCAL
stop_daemon UPPER
log "ok"
