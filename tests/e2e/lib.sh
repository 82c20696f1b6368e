# tests/e2e/lib.sh - shared helpers for the end-to-end tests (sourced).
#
# Each test runs the real binaries from $TDNS_BUILD on random loopback
# addresses (127.a.b.c) and random ports, so tests can run in parallel
# (ctest -j) and next to a running tools/run.sh. Everything a test starts is
# stopped by PID and its temporary directory removed when the test exits,
# whether it passed or not.
#
#   e2e_init                      temp dir in $T, cleanup trap, binaries
#   e2e_init_bare                 the same without requiring the daemons
#   zone_load DB FILE...          tierdns-zone --db DB load FILE... (must work)
#   start_upper NAME DB           sets ${NAME}_ADDR ${NAME}_PORT ${NAME}_PID
#                                 (E2E_FAMILY=6 start_upper ...: on ::1)
#   start_local NAME DB UPSTREAM [ARGS...]   likewise; UPSTREAM is ADDR:PORT
#   stop_daemon NAME              SIGTERM, wait, expect a clean exit status
#   kill9_daemon NAME             SIGKILL, wait
#   dead_endpoint                 prints ADDR:PORT where nothing listens
#   q NAME ARGS...                dig @daemon, result in $OUT/$STATUS/$FLAGS
#   expect_* / fail               assertions; fail prints the daemons' logs
#
# Requires: bash, dig, coreutils.

set -eu -o pipefail

: "${TDNS_BUILD:?TDNS_BUILD must name the build directory}"
: "${TDNS_SRC:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"

UPPER_BIN="$TDNS_BUILD/tierdns-upper"
LOCAL_BIN="$TDNS_BUILD/tierdns-local"
ZONE_BIN="$TDNS_BUILD/tierdns-zone"
QUERY_BIN="$TDNS_BUILD/tierdns-query"
ZONES="$TDNS_SRC/zones"

E2E_NAMES=()
T=""
OUT=""
STATUS=""
FLAGS=""
DIG_RC=0

# Sanitizer reports go to the daemon's log and make it exit non-zero; the
# stop helpers check the exit status, so a leak or UB fails the test.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

log() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; }

_show_logs() {
	local f
	[ -n "$T" ] && [ -d "$T" ] || return 0
	for f in "$T"/*.log; do
		[ -s "$f" ] || continue
		printf -- '----- %s (last 30 lines) -----\n' "$(basename "$f")" >&2
		tail -n 30 "$f" >&2
	done
}

fail() {
	printf '%s: FAIL: %s\n' "$(basename "$0")" "$*" >&2
	if [ -n "$OUT" ]; then
		printf -- '----- last dig output -----\n%s\n' "$OUT" >&2
	fi
	_show_logs
	E2E_FAILED_SHOWN=1
	exit 1
}

_cleanup() {
	local rc=$? n pid
	trap - EXIT INT TERM
	for n in "${E2E_NAMES[@]}"; do
		pid=$(_get "${n}_PID")
		[ -n "$pid" ] || continue
		kill -CONT "$pid" 2>/dev/null || true
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	if [ "$rc" -ne 0 ] && [ -z "${E2E_FAILED_SHOWN:-}" ]; then
		_show_logs
	fi
	[ -n "$T" ] && rm -rf "$T"
	exit "$rc"
}

e2e_init() {
	local b
	for b in "$UPPER_BIN" "$LOCAL_BIN" "$ZONE_BIN" "$QUERY_BIN"; do
		[ -x "$b" ] || { echo "missing binary $b" >&2; exit 1; }
	done
	e2e_init_bare
}

# Like e2e_init for tests that start no daemon of ours.
e2e_init_bare() {
	command -v dig >/dev/null || { echo "dig is not installed" >&2; exit 1; }
	T=$(mktemp -d "${TMPDIR:-/tmp}/tdns-e2e.XXXXXX")
	trap _cleanup EXIT
	trap 'exit 130' INT TERM
}

_get() { eval "printf '%s' \"\${$1:-}\""; }
_set() { printf -v "$1" '%s' "$2"; }

# A random loopback address 127.a.b.c (a, b, c in 1..254) and port; a clash
# with another test is unlikely and a daemon that cannot bind is retried.
_rand_addr() { printf '127.%d.%d.%d' $((RANDOM % 254 + 1)) $((RANDOM % 254 + 1)) $((RANDOM % 254 + 1)); }
_rand_port() { printf '%d' $((RANDOM % 30000 + 20000)); }

dead_endpoint() { printf '%s:%s' "$(_rand_addr)" "$(_rand_port)"; }

now_ms() { printf '%d' $(( $(date +%s%N) / 1000000 )); }
# http ADDR:PORT REQUEST-LINE: the whole response to a request with that
# line and a Host header (bash's /dev/tcp; the server closes after it).
http() {
	local host=${1%:*} port=${1##*:}
	exec 3<>"/dev/tcp/$host/$port" || fail "cannot connect to $1"
	printf '%s\r\nHost: %s\r\n\r\n' "$2" "$1" >&3
	cat <&3
	exec 3<&-
}

zone_load() {
	local db=$1
	shift
	"$ZONE_BIN" --db "$db" load "$@" >"$T/zone-load.out" 2>&1 ||
		fail "tierdns-zone --db $db load $*: $(cat "$T/zone-load.out")"
}

# Wait until the daemon accepts TCP connections (it binds UDP and TCP on the
# same address together) or dies. 0 ready, 1 dead, 2 no answer in time.
_wait_ready() {
	local pid=$1 addr=$2 port=$3 i
	for i in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || return 1
		if (exec 3<>"/dev/tcp/$addr/$port") 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	return 2
}

# _start NAME BIN ARGS...: start BIN on a random address and port.
_start() {
	local name=$1 bin=$2 try addr port pid rc
	shift 2
	for try in 1 2 3 4 5; do
		if [ "${E2E_FAMILY:-4}" = 6 ]; then
			addr=::1
		else
			addr=$(_rand_addr)
		fi
		port=$(_rand_port)
		"$bin" --listen "$addr" --port "$port" "$@" \
			>>"$T/$name.log" 2>&1 &
		pid=$!
		rc=0
		_wait_ready "$pid" "$addr" "$port" || rc=$?
		if [ "$rc" -eq 0 ]; then
			_set "${name}_ADDR" "$addr"
			_set "${name}_PORT" "$port"
			_set "${name}_PID" "$pid"
			E2E_NAMES+=("$name")
			return 0
		fi
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		[ "$rc" -eq 2 ] && fail "$name ($bin) did not answer on $addr:$port within 10 s"
		log "$name exited at start on $addr:$port (try $try), retrying"
	done
	fail "$name ($bin) would not start"
}

start_upper() {
	local name=$1 db=$2
	shift 2
	_start "$name" "$UPPER_BIN" --db "$db" "$@"
}

start_local() {
	local name=$1 db=$2 up=$3
	shift 3
	_start "$name" "$LOCAL_BIN" --db "$db" --upstream "$up" "$@"
}

# SIGTERM and expect exit status 0: a clean shutdown, and no sanitizer
# report (which would make the exit status non-zero).
stop_daemon() {
	local name=$1 pid rc=0
	pid=$(_get "${name}_PID")
	[ -n "$pid" ] || fail "stop_daemon: $name is not running"
	kill -CONT "$pid" 2>/dev/null || true
	kill -TERM "$pid"
	wait "$pid" || rc=$?
	_set "${name}_PID" ""
	[ "$rc" -eq 0 ] || fail "$name exited with status $rc after SIGTERM"
}

kill9_daemon() {
	local name=$1 pid
	pid=$(_get "${name}_PID")
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null || true
	_set "${name}_PID" ""
}

# q NAME DIG-ARGS...: one query with dig to daemon NAME; no retries, so a
# slow answer is a failure rather than hidden by a retry. Sets OUT (dig's
# whole output), STATUS (NOERROR, NXDOMAIN, ... or NONE when nothing came
# back), FLAGS (" qr aa rd ", space-padded) and DIG_RC.
q() {
	local name=$1 addr port
	shift
	addr=$(_get "${name}_ADDR")
	port=$(_get "${name}_PORT")
	DIG_RC=0
	OUT=$(dig @"$addr" -p "$port" +tries=1 +time=2 +nocookie "$@" 2>&1) || DIG_RC=$?
	STATUS=$(printf '%s\n' "$OUT" | sed -n 's/.*->>HEADER<<-.* status: \([A-Z]*\),.*/\1/p' | head -n 1)
	[ -n "$STATUS" ] || STATUS=NONE
	FLAGS=" $(printf '%s\n' "$OUT" | sed -n 's/^;; flags: \([^;]*\);.*/\1/p' | head -n 1) "
}

# The records of one section of $OUT ("ANSWER", "AUTHORITY", ...), one per
# line, whitespace squeezed to single spaces.
section() {
	printf '%s\n' "$OUT" | awk -v s=";; $1 SECTION:" '
		$0 == s { on = 1; next }
		on && /^$/ { exit }
		on { $1 = $1; print }'
}

expect_status() {
	[ "$STATUS" = "$1" ] || fail "expected status $1, got $STATUS"
}

expect_flag() {
	case "$FLAGS" in *" $1 "*) ;; *) fail "expected flag $1 in [$FLAGS]" ;; esac
}

expect_no_flag() {
	case "$FLAGS" in *" $1 "*) fail "flag $1 must not be set [$FLAGS]" ;; *) ;; esac
}

# expect_rr SECTION OWNER TYPE RDATA: a record with this owner, type and
# rdata (any TTL) is in the section.
expect_rr() {
	local sec=$1 owner=$2 type=$3 rdata=$4
	section "$sec" | awk -v o="$owner" -v t="$type" -v r="$rdata" '
		{ d = $5; for (i = 6; i <= NF; i++) d = d " " $i }
		tolower($1) == tolower(o) && $3 == "IN" && $4 == t && d == r { found = 1 }
		END { exit !found }' ||
		fail "expected $owner $type $rdata in the $sec section"
}

# expect_count SECTION N
expect_count() {
	local n
	n=$(section "$1" | grep -c . || true)
	[ "$n" -eq "$2" ] || fail "expected $2 records in the $1 section, got $n"
}

# ttl_of SECTION OWNER TYPE: the TTL of the first matching record.
ttl_of() {
	section "$1" | awk -v o="$2" -v t="$3" '
		tolower($1) == tolower(o) && $4 == t { print $2; exit }'
}

expect_match() {
	grep -Eq -- "$2" <<<"$1" || fail "expected /$2/ in: $1"
}

expect_no_match() {
	if grep -Eq -- "$2" <<<"$1"; then
		fail "did not expect /$2/ in: $1"
	fi
}

# expect_lines TEXT REGEX...: TEXT has exactly one line per REGEX, in order,
# each matching its (extended) regular expression.
expect_lines() {
	local text=$1 i=0 line n
	shift
	n=$(printf '%s\n' "$text" | wc -l)
	[ -n "$text" ] || n=0
	[ "$n" -eq $# ] || fail "expected $# lines, got $n: 
$text"
	while IFS= read -r line; do
		i=$((i + 1))
		grep -Eq -- "${!i}" <<<"$line" ||
			fail "line $i '$line' does not match /${!i}/ in:
$text"
	done <<<"$text"
}
