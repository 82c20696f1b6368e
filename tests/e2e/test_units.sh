#!/usr/bin/env bash
# The systemd units as cmake --install puts them: systemd-analyze verify
# accepts both (with the installed man pages on MANPATH, so that their
# Documentation= resolves), their exposure score stays low (systemd-analyze
# security --offline), they say what issue 15 asks (Type=notify,
# ExecReload=kill -HUP, the tierdns user, StateDirectory, the hardening
# options), and the sysusers.d file creates the tierdns user.
. "$(dirname "$0")/lib.sh"
e2e_init_bare

command -v systemd-analyze >/dev/null ||
	{ echo "systemd-analyze is not installed (Debian package systemd): skipped"; exit 77; }

prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$TDNS_BUILD/CMakeCache.txt")
DESTDIR="$T/root" cmake --install "$TDNS_BUILD" >"$T/install.log" 2>&1 ||
	fail "cmake --install: $(tail -n 20 "$T/install.log")"
R="$T/root$prefix"
units="$R/lib/systemd/system"

for u in tierdns-upper tierdns-local; do
	f="$units/$u.service"
	[ -f "$f" ] || fail "not installed: $prefix/lib/systemd/system/$u.service"
	for line in "Type=notify" "ExecStart=$prefix/sbin/$u " 'ExecReload=/bin/kill -HUP $MAINPID' \
		"User=tierdns" "Group=tierdns" "StateDirectory=tierdns" \
		"NoNewPrivileges=yes" "ProtectSystem=strict" "ProtectHome=yes" "PrivateTmp=yes" \
		"AmbientCapabilities=CAP_NET_BIND_SERVICE" \
		"CapabilityBoundingSet=CAP_NET_BIND_SERVICE" "SystemCallFilter=@system-service" \
		"Documentation=man:$u(8)"; do
		grep -qF -- "$line" "$f" || fail "$u.service lacks $line"
	done
	# The configuration file it names is the installed sample; the store,
	# when the unit names it, is the one StateDirectory= makes.
	exec=$(sed -n 's/^ExecStart=//p' "$f")
	conf=$(printf '%s\n' "$exec" | sed -n 's/.* -c \([^ ]*\).*/\1/p')
	[ -n "$conf" ] && [ -f "$T/root$conf" ] || fail "$u.service: -c names no installed file: $exec"
	case "$exec" in
	*--db*) case "$exec" in *"--db /var/lib/tierdns/${u#tierdns-}"*) ;;
		*) fail "$u.service: store outside StateDirectory: $exec" ;; esac ;;
	esac
	# verify checks that ExecStart exists: point it at the installed binary.
	sed "s#$prefix/sbin/#$R/sbin/#" "$f" >"$T/$u.service"
done
MANPATH="$R/share/man" systemd-analyze verify "$T/tierdns-upper.service" \
	"$T/tierdns-local.service" >"$T/verify.out" 2>&1 ||
	fail "systemd-analyze verify: $(cat "$T/verify.out")"
[ -s "$T/verify.out" ] && fail "systemd-analyze verify warns: $(cat "$T/verify.out")"
for u in tierdns-upper tierdns-local; do
	# Exposure 0-10 (10: no sandboxing); threshold is in tenths.
	systemd-analyze security --offline=yes --threshold=25 "$T/$u.service" \
		>"$T/security.out" 2>&1 ||
		fail "$u: exposure above 2.5: $(tail -n 3 "$T/security.out")"
done

# The tierdns user, as systemd-sysusers creates it from the installed file.
mkdir -p "$T/sysroot/etc"
touch "$T/sysroot/etc/passwd" "$T/sysroot/etc/group" "$T/sysroot/etc/shadow" \
	"$T/sysroot/etc/gshadow"
systemd-sysusers --root="$T/sysroot" "$R/lib/sysusers.d/tierdns.conf" >"$T/sysusers.out" 2>&1 ||
	fail "systemd-sysusers: $(cat "$T/sysusers.out")"
grep -q '^tierdns:x:[0-9]*:[0-9]*:[^:]*:/var/lib/tierdns:/usr/sbin/nologin$' \
	"$T/sysroot/etc/passwd" || fail "no tierdns user: $(cat "$T/sysroot/etc/passwd")"
log "ok"
