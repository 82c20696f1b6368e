#!/usr/bin/env bash
# The Debian package: cpack builds the .deb from this build; its Depends
# come from the shared libraries the programs link (dpkg-shlibdeps); it
# holds the programs, man pages, units, the sysusers.d file and the example
# zones, with a postinst that creates the tierdns user. dpkg -x unpacks it
# into a scratch root, and the unpacked programs load the unpacked example
# zones and answer dig through both tiers.
. "$(dirname "$0")/lib.sh"
e2e_init

for t in cpack dpkg-deb dpkg-shlibdeps; do
	command -v "$t" >/dev/null ||
		{ echo "$t is not installed (tools/deps.sh: cmake, dpkg-dev): skipped"; exit 77; }
done
[ -f "$TDNS_BUILD/CPackConfig.cmake" ] || fail "no CPackConfig.cmake in $TDNS_BUILD"
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$TDNS_BUILD/CMakeCache.txt")

# The packaging area is this test's, not the build directory.
(cd "$T" && cpack --config "$TDNS_BUILD/CPackConfig.cmake" -G DEB -B "$T/pkg") \
	>"$T/cpack.log" 2>&1 || fail "cpack: $(tail -n 20 "$T/cpack.log")"
deb=$(ls "$T"/pkg/tierdns_*.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] || fail "no .deb: $(tail -n 20 "$T/cpack.log")"
dpkg-deb -I "$deb" >"$T/info.out" || fail "dpkg-deb -I"
[ "$(dpkg-deb -f "$deb" Package)" = tierdns ] || fail "package name"
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libc6 libldns3 liblmdb0 libsystemd0 libyaml-0-2 libssl3 libnghttp2-14 libfstrm0; do
	case ", $depends," in *", $lib"[\ ,]*) ;; *) fail "Depends lacks $lib: $depends" ;; esac
done
grep -q ' postinst ' "$T/info.out" || fail "no postinst: $(cat "$T/info.out")"
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./postinst | grep 'systemd-sysusers' >/dev/null ||
	fail "postinst does not create the tierdns user"

dpkg-deb -c "$deb" | awk '{print $6}' >"$T/contents"
for f in sbin/tierdns-upper sbin/tierdns-local bin/tierdns-query bin/tierdns-zone \
	bin/tierdns-control \
	lib/systemd/system/tierdns-upper.service lib/systemd/system/tierdns-local.service \
	lib/sysusers.d/tierdns.conf share/doc/tierdns/examples/zones/upper/site.zone; do
	grep -qx ".$prefix/$f" "$T/contents" || fail "not in the package: $prefix/$f"
done
if [ -d "$TDNS_BUILD/man" ]; then
	grep -qx ".$prefix/share/man/man8/tierdns-local.8" "$T/contents" ||
		fail "no man page in the package"
	grep -qx ".$prefix/share/man/man5/tierdns.conf.5" "$T/contents" ||
		fail "no tierdns.conf(5) in the package"
fi
# The configuration files: in SYSCONFDIR/tierdns, and conffiles (an upgrade
# keeps the operator's edits).
confdir=$("$TDNS_BUILD/tierdns-upper" --help | sed -n 's|.*(default \(/.*\)/upper.conf)|\1|p')
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles >"$T/conffiles" 2>/dev/null ||
	fail "no conffiles in the package"
for f in upper.conf local.conf; do
	grep -qx ".$confdir/$f" "$T/contents" || fail "not in the package: $confdir/$f"
	grep -qx "$confdir/$f" "$T/conffiles" || fail "$confdir/$f is not a conffile"
done

# Unpacked into a scratch root: the packaged programs and example zones.
dpkg -x "$deb" "$T/scratch" || fail "dpkg -x"
R="$T/scratch$prefix"
EX="$R/share/doc/tierdns/examples/zones"
UPPER_BIN="$R/sbin/tierdns-upper"
LOCAL_BIN="$R/sbin/tierdns-local"
ZONE_BIN="$R/bin/tierdns-zone"
QUERY_BIN="$R/bin/tierdns-query"
zone_load "$T/upper" "$EX"/upper/*.zone
zone_load "$T/local" "$EX"/local/*.zone
"$UPPER_BIN" -c "$T/scratch$confdir/upper.conf" --check-config >"$T/check.out" 2>&1 ||
	fail "packaged upper.conf: $(cat "$T/check.out")"
start_upper UPPER "$T/upper" -c "$T/scratch$confdir/upper.conf"
start_local LOCAL "$T/local" "$UPPER_ADDR:$UPPER_PORT" -c "$T/scratch$confdir/local.conf"
q LOCAL webapp.site A
expect_status NOERROR
expect_rr ANSWER webapp.site. A 192.0.2.10
q LOCAL nas.home.arpa AAAA
expect_rr ANSWER nas.home.arpa. AAAA 2001:db8:1::20
q UPPER nosuch.site A
expect_status NXDOMAIN
expect_flag aa
"$QUERY_BIN" -s "$LOCAL_ADDR" -p "$LOCAL_PORT" docs.site >"$T/query.out" ||
	fail "packaged tierdns-query: $(cat "$T/query.out")"
grep -q 'IN A 192.0.2.10$' "$T/query.out" || fail "packaged tierdns-query: $(cat "$T/query.out")"
stop_daemon LOCAL
stop_daemon UPPER
log "ok"
