#!/usr/bin/env bash
# log: syslog and log: journal reach their sockets: the daemon runs in a
# private mount namespace whose /dev/log and /run/systemd/journal/socket are
# this test's sockets (the machine's are untouched). Syslog lines carry
# facility daemon and the priority, journal entries PRIORITY= and MESSAGE=;
# SIGHUP switches the target (the switch is logged on both); a journal line
# that cannot be delivered goes to stderr instead of being lost.
. "$(dirname "$0")/lib.sh"
e2e_init

[ "$(id -u)" -eq 0 ] || { echo "needs root (mount namespace): skipped"; exit 77; }
unshare -m true 2>/dev/null || { echo "no mount namespaces here: skipped"; exit 77; }

# A datagram receiver on a Unix socket: one datagram a line ('|' for '\n').
cat >"$T/recv.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as out:
    while True:
        out.write(s.recv(65536).decode("utf-8", "replace").replace("\n", "|") + "\n")
PY
RECV_PIDS=()
recv() {
	python3 "$T/recv.py" "$1" "$2" &
	RECV_PIDS+=($!)
	for _ in $(seq 1 50); do [ -S "$1" ] && return 0; sleep 0.1; done
	fail "receiver on $1 did not start"
}
stop_recv() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
# The receivers are stopped first; the exit status stays the test's.
trap 'rc_=$?; set +e; for p in "${RECV_PIDS[@]}"; do stop_recv "$p"; done; (exit $rc_); _cleanup' EXIT

recv "$T/syslog.sock" "$T/syslog.out"
recv "$T/journal.sock" "$T/journal.out"

# The daemon, in its own mount namespace: /dev holds what a daemon needs
# plus our /dev/log; /run holds only our journal socket. unshare and sh
# exec, so the PID lib.sh records is the daemon's.
mkdir -p "$T/ns/dev" "$T/ns/run/systemd/journal"
cat >"$T/upper-ns" <<EOF
#!/bin/sh
exec unshare -m --propagation private sh -c '
set -e
for d in null zero full random urandom; do
	touch "$T/ns/dev/\$d"; mount --bind "/dev/\$d" "$T/ns/dev/\$d"
done
touch "$T/ns/dev/log"; mount --bind "$T/syslog.sock" "$T/ns/dev/log"
touch "$T/ns/run/systemd/journal/socket"
mount --bind "$T/journal.sock" "$T/ns/run/systemd/journal/socket"
mount --rbind "$T/ns/dev" /dev
mount --rbind "$T/ns/run" /run
exec "\$0" "\$@"' "$UPPER_BIN" "\$@"
EOF
chmod +x "$T/upper-ns"
UPPER_BIN="$T/upper-ns"

# wait_in FILE REGEX
wait_in() {
	for _ in $(seq 1 50); do
		grep -Eq -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	fail "no /$2/ in $(basename "$1"): $(tail -n 5 "$1" 2>/dev/null)"
}

C="$T/upper.conf"
printf 'log: syslog\n' >"$C"
zone_load "$T/upper" "$ZONES"/upper/*.zone
start_upper UPPER "$T/upper" -c "$C"
q UPPER webapp.site A
expect_status NOERROR
# <30>: facility daemon (3 << 3) + info (6); the ident and the pid.
wait_in "$T/syslog.out" "^<30>.* tierdns-upper\\[$UPPER_PID\\]: listening on $UPPER_ADDR:$UPPER_PORT"
wait_in "$T/syslog.out" "^<30>.* tierdns-upper\\[$UPPER_PID\\]: store .* holds 2 zones$"
grep -q "listening on" "$T/UPPER.log" && fail "log: syslog still wrote to stderr"

# SIGHUP to the journal: the switch is logged on both targets.
printf 'log: journal\n' >"$C"
kill -HUP "$UPPER_PID"
wait_in "$T/syslog.out" "configuration re-read from $C: applied log syslog -> journal$"
wait_in "$T/journal.out" "MESSAGE=configuration re-read from $C: applied log syslog -> journal\\|"
grep "MESSAGE=configuration re-read" "$T/journal.out" | grep "PRIORITY=6|" >/dev/null ||
	fail "journal entry without PRIORITY=6: $(cat "$T/journal.out")"
wait_in "$T/journal.out" "MESSAGE=reloaded\\|"
# An error has priority 3.
printf 'log: journal\nport: [\n' >"$C"
kill -HUP "$UPPER_PID"
wait_in "$T/journal.out" "MESSAGE=configuration file invalid, the running configuration stays: $C:3:1: YAML syntax error"
grep "MESSAGE=configuration file invalid" "$T/journal.out" | grep "PRIORITY=3|" >/dev/null ||
	fail "journal error without PRIORITY=3: $(cat "$T/journal.out")"
q UPPER webapp.site A
expect_status NOERROR
grep -q "SIGHUP" "$T/UPPER.log" && fail "log: journal still wrote to stderr"

# Nobody reads the journal socket: the lines come to stderr, not lost.
stop_recv "${RECV_PIDS[1]}"
kill -HUP "$UPPER_PID"
wait_in "$T/UPPER.log" "info: SIGHUP: reloading$"
q UPPER webapp.site A
expect_status NOERROR
stop_daemon UPPER
log "ok"
