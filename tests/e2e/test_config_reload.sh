#!/usr/bin/env bash
# SIGHUP re-reads the configuration file (-c): the log target and verbosity
# change while the daemon runs, every other changed key is named as kept
# until a restart (and is kept: the access list still lets the client in),
# an invalid file is logged and changes nothing, and the daemons answer
# throughout.
. "$(dirname "$0")/lib.sh"
e2e_init

# wait_log NAME REGEX: the daemon's log gets a line matching REGEX (5 s).
wait_log() {
	local i
	for i in $(seq 1 50); do
		grep -Eq -- "$2" "$T/$1.log" && return 0
		sleep 0.1
	done
	fail "$1: no log line /$2/"
}

# hup NAME: SIGHUP, then wait for the reload to be logged once more.
hup() {
	local n pid
	n=$(grep -c 'SIGHUP: reloading' "$T/$1.log" || true)
	pid=$(_get "${1}_PID")
	kill -HUP "$pid"
	for i in $(seq 1 50); do
		[ "$(grep -c '] info: reloaded$\|: info: reloaded$' "$T/$1.log" || true)" -gt "$n" ] &&
			return 0
		sleep 0.1
	done
	fail "$1: SIGHUP not logged as reloaded"
}

U="$T/upper.conf"
L="$T/local.conf"
printf 'log: stderr\nverbosity: 0\nmax-tcp: 100\n' >"$U"
printf 'allow: [127.0.0.0/8]\ntimeout: 1500\n' >"$L"
zone_load "$T/upper" "$ZONES"/upper/*.zone
start_upper UPPER "$T/upper" -c "$U"
start_local LOCAL "$T/local" "$UPPER_ADDR:$UPPER_PORT" -c "$L"
q UPPER webapp.site A
expect_status NOERROR

# A change that applies, and one that needs a restart.
printf 'log: stderr\nverbosity: 1\nmax-tcp: 5\n' >"$U"
hup UPPER
wait_log UPPER "info: configuration re-read from $U: applied verbosity 0 -> 1; changed but kept until a restart: max-tcp$"
q UPPER webapp.site A
expect_status NOERROR
expect_rr ANSWER webapp.site. A 192.0.2.10

# Nothing changed: said so.
hup UPPER
wait_log UPPER "info: configuration re-read from $U: nothing to apply; changed but kept until a restart: max-tcp$"

# An invalid file: logged with its place, nothing changes, still serving.
printf 'verbosity: 0\nmax-tcp: [\n' >"$U"
hup UPPER
wait_log UPPER "error: configuration file invalid, the running configuration stays: $U:3:1: YAML syntax error"
printf 'verbosity: 9\n' >"$U"
hup UPPER
wait_log UPPER "error: configuration file invalid, the running configuration stays: $U:1:12: key 'verbosity': invalid value '9' \\(0-3\\)"
q UPPER webapp.site A
expect_status NOERROR
kill -0 "$UPPER_PID" || fail "upper died on an invalid file"

# The local tier: a new access list is not applied live (the running one
# stays, so this client is still let in), and the reload says so.
printf 'allow: [10.0.0.0/8]\ntimeout: 1500\n' >"$L"
hup LOCAL
wait_log LOCAL "info: configuration re-read from $L: nothing to apply; changed but kept until a restart: allow$"
q LOCAL webapp.site A
expect_status NOERROR
expect_rr ANSWER webapp.site. A 192.0.2.10

# The log target: the switch is logged on stderr, later lines go to syslog.
printf 'log: syslog\nverbosity: 0\nmax-tcp: 100\n' >"$U"
kill -HUP "$UPPER_PID"
wait_log UPPER "info: configuration re-read from $U: applied log stderr -> syslog, verbosity 1 -> 0$"
n=$(wc -l <"$T/UPPER.log")
kill -HUP "$UPPER_PID"
sleep 0.5
q UPPER webapp.site A
expect_status NOERROR
[ "$(wc -l <"$T/UPPER.log")" -eq "$n" ] ||
	fail "upper still logs on stderr after log: syslog: $(tail -n 3 "$T/UPPER.log")"
printf 'log: stderr\nmax-tcp: 100\n' >"$U"
kill -HUP "$UPPER_PID"
wait_log UPPER "info: configuration re-read from $U: applied log syslog -> stderr$"

stop_daemon LOCAL
stop_daemon UPPER
log "ok"
