#!/usr/bin/env bash
# --user, --pid-file and --chroot (issue 15, "Without systemd"): both tiers
# started as root bind port 53 (on 127.0.0.53, or a high port when 53 is
# taken there), then run as nobody: /proc/PID/status shows uid and gid
# 65534 and nobody's groups only, dig still gets answers, the local tier
# still caches (its store was handed to nobody: the cached answer is served
# with the upper gone, and survives a restart), the pid files hold the
# PIDs; the local's control socket is nobody's and answers nobody.
# --chroot: the process's root is the given directory and it answers.
# Also: --user without root, an unknown user and a missing chroot fail at
# start with one line. Needs root (skipped otherwise).
. "$(dirname "$0")/lib.sh"
e2e_init

[ "$(id -u)" -eq 0 ] || { echo "needs root: skipped"; exit 77; }
getent passwd nobody >/dev/null || { echo "no user nobody: skipped"; exit 77; }
NOBODY_UID=$(id -u nobody)
NOBODY_GID=$(id -g nobody)

# start_at NAME ADDR PORT BIN ARGS...: start BIN on ADDR:PORT; 0 when it
# answers over TCP, 1 when it exited (the log says why).
start_at() {
	local name=$1 addr=$2 port=$3 bin=$4 pid rc=0
	shift 4
	"$bin" --listen "$addr" --port "$port" "$@" >>"$T/$name.log" 2>&1 &
	pid=$!
	_wait_ready "$pid" "$addr" "$port" || rc=$?
	if [ "$rc" -ne 0 ]; then
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		[ "$rc" -eq 2 ] && fail "$name did not answer on $addr:$port"
		return 1
	fi
	_set "${name}_ADDR" "$addr"
	_set "${name}_PORT" "$port"
	_set "${name}_PID" "$pid"
	E2E_NAMES+=("$name")
}

# expect_nobody NAME: the daemon runs as nobody, with nobody's groups only.
expect_nobody() {
	local pid st
	pid=$(_get "${1}_PID")
	st=$(cat "/proc/$pid/status")
	grep -Eq "^Uid:\s+$NOBODY_UID\s+$NOBODY_UID\s+$NOBODY_UID\s+$NOBODY_UID\$" <<<"$st" ||
		fail "$1: $(printf '%s\n' "$st" | grep ^Uid)"
	grep -Eq "^Gid:\s+$NOBODY_GID\s+$NOBODY_GID\s+$NOBODY_GID\s+$NOBODY_GID\$" <<<"$st" ||
		fail "$1: $(printf '%s\n' "$st" | grep ^Gid)"
	[ "$(printf '%s\n' "$st" | sed -n 's/^Groups:\s*//p' | xargs)" = \
		"$(id -G nobody | xargs)" ] || fail "$1: $(printf '%s\n' "$st" | grep ^Groups)"
	grep -q "running as user nobody (uid $NOBODY_UID" "$T/$1.log" || fail "$1: no log line"
}

zone_load "$T/upper" "$ZONES"/upper/*.zone
zone_load "$T/local" "$ZONES"/local/*.zone
chmod 755 "$T"

# The upper on a random high port, as nobody.
for try in 1 2 3 4 5; do
	start_at UPPER "$(_rand_addr)" "$(_rand_port)" "$UPPER_BIN" --db "$T/upper" \
		--user nobody --pid-file "$T/upper.pid" && break
	[ "$try" -eq 5 ] && fail "the upper would not start"
done
expect_nobody UPPER
[ "$(cat "$T/upper.pid")" = "$UPPER_PID" ] || fail "upper.pid holds $(cat "$T/upper.pid")"
q UPPER webapp.site A
expect_rr ANSWER webapp.site. A 192.0.2.10
expect_flag aa

# The local tier on port 53 of 127.0.0.53 (a high port when 53 is taken).
if ! start_at LOCAL 127.0.0.53 53 "$LOCAL_BIN" --db "$T/local" \
	--upstream "$UPPER_ADDR:$UPPER_PORT" --user nobody --pid-file "$T/local.pid" \
	--control "$T/local.sock"; then
	grep -q "Address already in use" "$T/LOCAL.log" ||
		fail "port 53 of 127.0.0.53: $(cat "$T/LOCAL.log")"
	log "127.0.0.53:53 is taken here: a high port instead"
	start_at LOCAL 127.0.0.53 "$(_rand_port)" "$LOCAL_BIN" --db "$T/local" \
		--upstream "$UPPER_ADDR:$UPPER_PORT" --user nobody --pid-file "$T/local.pid" \
		--control "$T/local.sock" || fail "the local tier would not start"
fi
log "local tier on $LOCAL_ADDR:$LOCAL_PORT"
expect_nobody LOCAL
[ "$(cat "$T/local.pid")" = "$LOCAL_PID" ] || fail "local.pid holds $(cat "$T/local.pid")"
for f in "$T/local" "$T/local/data.mdb" "$T/local/lock.mdb" "$T/local.sock"; do
	[ "$(stat -c %u "$f")" = "$NOBODY_UID" ] || fail "$f was not handed to nobody"
done
# The control socket, made as root before the drop, is nobody's and still
# served: nobody itself can ask.
out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups \
	"$TDNS_BUILD/tierdns-control" -s "$T/local.sock" status 2>&1) ||
	fail "tierdns-control status as nobody: $out"
expect_match "$out" "workers"

q LOCAL router.home.arpa A
expect_rr ANSWER router.home.arpa. A 198.51.100.1
q LOCAL webapp.site A
expect_rr ANSWER webapp.site. A 192.0.2.10
expect_no_flag aa
# Cached by a process that is nobody: served with the upper gone...
stop_daemon UPPER
q LOCAL webapp.site A
expect_status NOERROR
expect_rr ANSWER webapp.site. A 192.0.2.10
stop_daemon LOCAL
# ...and kept across a restart.
"$ZONE_BIN" --db "$T/local" dump >"$T/dump.out"
grep -q '^webapp.site.' "$T/dump.out" || fail "the cache lost webapp.site: $(cat "$T/dump.out")"

# --chroot: an empty directory as the new root; the open store and
# sockets go on working. (LeakSanitizer reads /proc at exit, which the
# empty root lacks: leaks are checked by the runs above.)
mkdir "$T/jail"
for try in 1 2 3 4 5; do
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" start_at JAILED "$(_rand_addr)" "$(_rand_port)" "$UPPER_BIN" --db "$T/upper" \
		--user nobody --chroot "$T/jail" && break
	[ "$try" -eq 5 ] && fail "the chrooted upper would not start"
done
[ "$(readlink "/proc/$JAILED_PID/root")" = "$T/jail" ] ||
	fail "root of the chrooted upper: $(readlink "/proc/$JAILED_PID/root")"
expect_nobody JAILED
q JAILED site SOA
expect_status NOERROR
expect_flag aa
stop_daemon JAILED

# Start-up errors: one line, exit 1, before anything is bound.
err_case() {
	local want=$1 rc=0
	shift
	timeout 10 "$@" >"$T/err.out" 2>&1 || rc=$?
	[ "$rc" -eq 1 ] || fail "$* exited $rc: $(cat "$T/err.out")"
	[ "$(grep -c . "$T/err.out")" -eq 1 ] || fail "$*: not one line: $(cat "$T/err.out")"
	grep -q -- "$want" "$T/err.out" || fail "$*: expected '$want': $(cat "$T/err.out")"
}
err_case "--user no-such-user-here: no such user" \
	"$UPPER_BIN" --db "$T/upper" --listen 127.0.0.1 --port "$(_rand_port)" --user no-such-user-here
err_case "--user root needs root" setpriv --reuid=nobody --regid=nogroup --clear-groups \
	"$LOCAL_BIN" --db "$T/nb" --listen 127.0.0.1 --port "$(_rand_port)" --user root
err_case "--chroot $T/nowhere: not a directory" \
	"$UPPER_BIN" --db "$T/upper" --listen 127.0.0.1 --port "$(_rand_port)" --chroot "$T/nowhere"
log "ok"
