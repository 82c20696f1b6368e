#!/usr/bin/env bash
# tools/bench.sh - tierdns side by side with NSD, Unbound, dnsmasq and a UDP
# echo ceiling, on this machine, in one run (issue 5).
#
# One command from a fresh clone: installs what is missing (as root), builds
# a Release build into build-bench/, generates a zone of --names A records,
# loads it with tierdns-zone and starts every server on random loopback
# ports: tierdns-upper, tierdns-local forwarding to it, NSD on the same zone,
# Unbound and dnsmasq forwarding to tierdns-upper, and tierdns-echo (no DNS
# work: the ceiling), and the zone signed (ldns-signzone, NSEC3) behind a
# second tierdns-upper and NSD for the DO=1 row (dnsperf -D), and behind
# tierdns-local and Unbound validating with its DS as trust anchor (the
# validated hit and miss rows). DNS over TLS:
# tierdns-upper, tierdns-local and Unbound again with a TLS listener (a
# throw-away certificate made with openssl), measured with dnsperf -m dot,
# and their full handshakes per second with openssl s_time -new. dnsperf
# then measures every target in interleaved
# rounds (A B C ... A B C ...) and one table of medians and ratios is
# printed at the end, with zone load time, bytes per record, memory after
# each round and callgrind instructions per query.
#
# It prints figures; it asserts nothing. Timing is never a test.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)

names=100000
rounds=5
seconds=10
clients=4
outstanding=100
load_records=1000000
skip_load=0
callgrind=1
profile=0
keep=0
build="$top/build-bench"
cg_queries=5000
tdns_threads=$(nproc)

usage() {
	cat <<EOF
usage: tools/bench.sh [OPTION...]
  --names N          A records in the served zone (default $names)
  --rounds N         interleaved rounds per target (default $rounds)
  --seconds N        seconds per dnsperf run (default $seconds)
  --clients N        dnsperf -c (default $clients)
  --outstanding N    dnsperf -q, queries in flight (default $outstanding)
  --threads N        threads of every multi-threaded server (default: CPUs)
  --load-records N   records for the zone-load timing (default $load_records)
  --skip-load        skip the zone-load timing and the 1k/1M lookup check
  --no-callgrind     skip the callgrind instructions-per-query replay
  --profile          also print where tierdns spends its instructions
                     (callgrind_annotate of the replay runs)
  --build DIR        build directory (default build-bench/)
  --keep             keep the temporary directory (logs, dnsperf output)
  -h, --help         this text
EOF
}

posint() {
	[[ "$2" =~ ^[1-9][0-9]*$ ]] || { echo "bench: $1 needs a positive integer, got '$2'" >&2; exit 2; }
}

while [ $# -gt 0 ]; do
	case "$1" in
	--names) posint "$1" "${2-}"; names=$2; shift ;;
	--rounds) posint "$1" "${2-}"; rounds=$2; shift ;;
	--seconds) posint "$1" "${2-}"; seconds=$2; shift ;;
	--clients) posint "$1" "${2-}"; clients=$2; shift ;;
	--outstanding) posint "$1" "${2-}"; outstanding=$2; shift ;;
	--threads) posint "$1" "${2-}"; tdns_threads=$2; shift ;;
	--load-records) posint "$1" "${2-}"; load_records=$2; shift ;;
	--skip-load) skip_load=1 ;;
	--no-callgrind) callgrind=0 ;;
	--profile) profile=1 ;;
	--build) [ -n "${2-}" ] || { usage >&2; exit 2; }; build=$2; shift ;;
	--keep) keep=1 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "bench: unknown option '$1'" >&2; usage >&2; exit 2 ;;
	esac
	shift
done

say() { echo "bench: $*" >&2; }
have() { command -v "$1" >/dev/null 2>&1; }

. "$top/tools/deps.sh"
if ! tdns_deps bench; then
	# Without root nothing is installed: go on with what is here, since
	# every peer is optional; dnsperf is not.
	have dnsperf || exit 1
	say "going on without the missing packages"
fi
have valgrind || callgrind=0

say "building (Release) in $build"
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS=-g \
	-DBUILD_TESTING=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" >/dev/null

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tierdns-bench.XXXXXX")
mkdir -p "$tmp"/{zone,db,q,res,log,mem,cg,conf,tls}

declare -A PORT=() PID=()
all_pids=()

cleanup() {
	local p
	trap - EXIT INT TERM
	for p in "${all_pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${all_pids[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	if [ "$keep" = 1 ]; then
		say "kept $tmp"
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- helpers

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# A free loopback port, judged by the kernel's socket tables; the server's
# own bind is the final word (launch retries on failure).
pick_port() {
	local p hex
	while :; do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
		hex=$(printf ':%04X ' "$p")
		cat /proc/net/udp /proc/net/tcp /proc/net/udp6 /proc/net/tcp6 2>/dev/null |
			grep -q "$hex" || break
	done
	echo "$p"
}

# Zone "bench." with N A records n0..n(N-1), plus SOA, NS and the NS's A.
gen_zone() {
	awk -v n="$1" 'BEGIN {
		print "$ORIGIN bench."
		print "$TTL 3600"
		print "@ IN SOA ns.bench. hostmaster.bench. 1 3600 900 604800 3600"
		print "@ IN NS ns.bench."
		print "ns IN A 127.0.0.1"
		for (i = 0; i < n; i++)
			printf "n%d IN A 10.%d.%d.%d\n", i, int(i / 65536) % 256,
				int(i / 256) % 256, i % 256
	}' >"$2"
}

# A response policy zone of N QNAME triggers (blockI.bench. NXDOMAIN), under
# the label the queries ask for, so that each of them is looked up in it
# and passes (issue 16: a 1M-name blocklist costs no measurable QPS).
gen_rpz() {
	awk -v n="$1" 'BEGIN {
		print "$ORIGIN rpz.bench."
		print "$TTL 300"
		print "@ IN SOA localhost. root.localhost. 1 3600 600 86400 300"
		print "@ IN NS localhost."
		for (i = 0; i < n; i++)
			printf "block%d.bench CNAME .\n", i
	}' >"$2"
}

# dnsperf input: names n[FROM, TO) in a fixed pseudo-random order, so every
# run asks the same sequence and the store is read all over, not in order.
gen_queries() {
	awk -v a="$1" -v b="$2" 'BEGIN { for (i = a; i < b; i++) printf "n%d.bench. A\n", i }' |
		shuf --random-source=<(yes) >"$3"
}

# True when the server replies to a query for ns.bench. (any reply will do:
# the echo's counts too).
answers() {
	local port=$1 q=${2:-ns.bench.}
	dig @127.0.0.1 -p "$port" "$q" A +tries=1 +time=1 +retry=0 >/dev/null 2>&1
}

# Start a server: "$2" is a function that execs it given a port; $3 the
# seconds to wait for its first answer. Retries on a port clash.
launch() {
	local name=$1 fn=$2 wait_s=${3:-20} try port pid t
	for try in 1 2 3 4 5; do
		port=$(pick_port)
		"$fn" "$port" >>"$tmp/log/$name.log" 2>&1 &
		pid=$!
		all_pids+=("$pid")
		for ((t = 0; t < wait_s * 5; t++)); do
			kill -0 "$pid" 2>/dev/null || break
			if answers "$port"; then
				PORT[$name]=$port
				PID[$name]=$pid
				return 0
			fi
			sleep 0.2
		done
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	say "$name did not start; its log:"
	tail -5 "$tmp/log/$name.log" >&2 || true
	return 1
}

stop() {
	local name=$1
	[ -n "${PID[$name]-}" ] || return 0
	kill "${PID[$name]}" 2>/dev/null || true
	wait "${PID[$name]}" 2>/dev/null || true
	unset "PID[$name]"
}

# A daemon and all its descendants (NSD forks its servers).
tree() {
	local p c
	for p in "$@"; do
		echo "$p"
		for c in $(pgrep -P "$p" 2>/dev/null || true); do
			tree "$c"
		done
	done
}

# "PSS_KiB ANON_KiB RSS_KiB" summed over the daemon's processes. PSS splits
# pages shared between processes (NSD's forked servers, libraries), so
# nothing is counted twice; anon is heap and stacks without mapped files
# such as data.mdb; RSS is VmRSS of the main process alone.
mem_of() {
	local pid=$1 p pss=0 anon=0 rss a b
	for p in $(tree "$pid"); do
		[ -r "/proc/$p/smaps_rollup" ] || continue
		read -r a b < <(awk '/^Pss:/ { p = $2 } /^Pss_Anon:/ { a = $2 }
			END { print p + 0, a + 0 }' "/proc/$p/smaps_rollup")
		pss=$((pss + a))
		anon=$((anon + b))
	done
	rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)
	echo "$pss $anon ${rss:-0}"
}

# ---------------------------------------------------------------- servers

# The forwarders' upstream: tierdns-upper, or NSD while the upper is not
# built (so the script can be exercised against the peers alone).
upstream=upper
upstream_port() { echo "${PORT[$upstream]}"; }

# DNS over TLS: a server started with dot=1 also serves TLS on its port + 1
# (launch checks the clear port; a taken TLS port makes the start fail and
# launch try another). A throw-away P-256 certificate, made once.
dot_port() { echo $(($1 + 1)); }
tls_cert="$tmp/tls/cert.pem"
tls_key="$tmp/tls/key.pem"
make_cert() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$tls_key" -out "$tls_cert" -days 2 -subj /CN=bench.test \
		-addext subjectAltName=DNS:bench.test,IP:127.0.0.1 >>"$tmp/log/openssl.log" 2>&1
}
dot_args() {
	[ -n "${dot-}" ] || return 0
	echo "--tls-listen 127.0.0.1:$(dot_port "$1") --tls-cert $tls_cert --tls-key $tls_key"
}

run_echo() { exec "${wrap[@]}" "$build/tierdns-echo" -l 127.0.0.1 -p "$1" -t "$threads"; }
run_upper() {
	# shellcheck disable=SC2086 # upper_args: extra options, word-split on purpose
	# shellcheck disable=SC2046 # dot_args: options, word-split on purpose
	exec "${wrap[@]}" "$build/tierdns-upper" --db "$upper_db" --listen 127.0.0.1 \
		--port "$1" --threads "$threads" ${upper_args-} $(dot_args "$1")
}
run_local() {
	local db="$tmp/db/local.$1"
	rm -rf "$db"
	# shellcheck disable=SC2046 # dot_args: options, word-split on purpose
	# shellcheck disable=SC2086 # local_args: extra options, word-split on purpose
	exec "${wrap[@]}" "$build/tierdns-local" --db "$db" --listen 127.0.0.1 \
		--port "$1" --threads "$threads" --upstream "127.0.0.1:$(upstream_port)" \
		${local_args-} $(dot_args "$1")
}
run_nsd() {
	local d="$tmp/conf/nsd.$1"
	local zf=${nsd_zone:-$tmp/zone/bench.zone}
	mkdir -p "$d"
	cat >"$d/nsd.conf" <<EOF
server:
	ip-address: 127.0.0.1
	port: $1
	do-ip6: no
	server-count: $threads
	reuseport: yes
	username: ""
	chroot: ""
	database: ""
	zonesdir: "$d"
	zonelistfile: "$d/zone.list"
	xfrdfile: "$d/xfrd.state"
	xfrdir: "$d"
	pidfile: "$d/nsd.pid"
	logfile: "$d/nsd.log"
	verbosity: 0
remote-control:
	control-enable: no
zone:
	name: "bench."
	zonefile: "$zf"
EOF
	# The AXFR row: NSD lets the loopback transfer the zone.
	[ -n "${nsd_xfr-}" ] && printf '\tprovide-xfr: 127.0.0.1 NOKEY\n' >>"$d/nsd.conf"
	exec "${wrap[@]}" nsd -d -c "$d/nsd.conf"
}
run_unbound() {
	local d="$tmp/conf/unbound.$1"
	mkdir -p "$d"
	cat >"$d/unbound.conf" <<EOF
server:
	interface: 127.0.0.1@$1
$([ -n "${dot-}" ] && printf '\tinterface: 127.0.0.1@%s\n\ttls-port: %s\n\ttls-service-key: "%s"\n\ttls-service-pem: "%s"\n' \
	"$(dot_port "$1")" "$(dot_port "$1")" "$tls_key" "$tls_cert")
	do-ip6: no
	num-threads: $threads
	so-reuseport: yes
	username: ""
	chroot: ""
	directory: "$d"
	pidfile: "$d/unbound.pid"
	use-syslog: no
	logfile: "$d/unbound.log"
	verbosity: 0
	module-config: "$([ -n "${val-}" ] && echo "validator ")iterator"
$([ -n "${val-}" ] && printf '\ttrust-anchor-file: "%s"\n' "$tmp/zone/bench.anchor")
	do-not-query-localhost: no
	qname-minimisation: no
	access-control: 127.0.0.0/8 allow
	msg-cache-size: 128m
	rrset-cache-size: 256m
remote-control:
	control-enable: no
forward-zone:
	name: "."
	forward-addr: 127.0.0.1@$(upstream_port)
EOF
	exec "${wrap[@]}" unbound -d -c "$d/unbound.conf"
}
# dnsmasq keeps its default --dns-forward-max (150): the load never has more
# than --outstanding (100) queries in flight, and a larger table makes
# every packet cost it about three times the instructions.
run_dnsmasq() {
	exec "${wrap[@]}" dnsmasq -k -C /dev/null --no-resolv --no-hosts \
		--server="127.0.0.1#$(upstream_port)" -p "$1" \
		--listen-address=127.0.0.1 --bind-interfaces \
		--cache-size="$dnsmasq_cache" \
		--pid-file="$tmp/conf/dnsmasq.$1.pid" --user=root
}

# ---------------------------------------------------------------- data

hot=$((names / 10))
[ "$hot" -gt 10000 ] && hot=10000
[ "$hot" -lt 1 ] && hot=1
cgk=$cg_queries
[ "$cgk" -gt "$hot" ] && cgk=$hot
# Name space: [0, hot) cache hits | [hot, hot+cgk) callgrind misses |
# then one fresh slice per round for the miss path.
miss_base=$((hot + cgk))
slice=$(((names - miss_base) / rounds))
if [ "$slice" -lt 1 ]; then
	echo "bench: --names $names is too small for $rounds rounds" >&2
	exit 2
fi
dnsmasq_cache=$((hot * 2))

say "zone of $names names in $tmp"
gen_zone "$names" "$tmp/zone/bench.zone"
gen_queries 0 "$names" "$tmp/q/auth.txt"
gen_queries 0 "$hot" "$tmp/q/hot.txt"
gen_queries "$hot" $((hot + cgk)) "$tmp/q/cgmiss.txt"
head -n "$cgk" "$tmp/q/hot.txt" >"$tmp/q/cghit.txt"
head -n "$cgk" "$tmp/q/auth.txt" >"$tmp/q/cgauth.txt"
for ((r = 1; r <= rounds; r++)); do
	a=$((miss_base + (r - 1) * slice))
	gen_queries "$a" $((a + slice)) "$tmp/q/miss.$r.txt"
done

upper_db="$tmp/db/upper"
zone_load() {
	"$build/tierdns-zone" --db "$1" load "$2" >>"$tmp/log/zone.log" 2>&1 && return 0
	say "tierdns-zone load $2 failed:"
	tail -5 "$tmp/log/zone.log" >&2
	exit 1
}
zone_load "$upper_db" "$tmp/zone/bench.zone"
zone_records=$((names + 3))
zone_bpr=$(awk -v b="$(du -B1 "$upper_db/data.mdb" | cut -f1)" -v n="$zone_records" \
	'BEGIN { printf "%.1f", b / n }')

# The same zone signed (NSEC3, RFC 9276: 0 iterations, no salt; ECDSA
# P-256) for the DO=1 row: tierdns-upper and NSD serve the signed file to
# queries with DO set (answers carry the RRSIG).
signed_db=""
if have ldns-keygen && have ldns-signzone; then
	say "signing the $names-name zone"
	(cd "$tmp/zone" && k=$(ldns-keygen -a ECDSAP256SHA256 -k bench.) &&
		z=$(ldns-keygen -a ECDSAP256SHA256 bench.) &&
		ldns-signzone -n -t 0 -o bench. bench.zone "$k" "$z" &&
		ldns-key2ds -n -2 "$k.key" >bench.anchor) >>"$tmp/log/zone.log" 2>&1 &&
		zone_load "$tmp/db/signed" "$tmp/zone/bench.zone.signed" && signed_db="$tmp/db/signed"
fi

# ------------------------------------------------------- zone load timing

load_line="skipped (--skip-load)"
load_ratio=""
big_bpr=""
if [ "$skip_load" = 0 ]; then
	say "zone load: $load_records records"
	gen_zone "$load_records" "$tmp/zone/big.zone"
	gen_zone 1000 "$tmp/zone/small.zone"
	gen_queries 0 "$load_records" "$tmp/q/big.txt"
	gen_queries 0 1000 "$tmp/q/small.txt"
	sync
	t0=$(now)
	ldns-read-zone "$tmp/zone/big.zone" >/dev/null
	t1=$(now)
	zone_load "$tmp/db/big" "$tmp/zone/big.zone"
	t2=$(now)
	ldns_s=$(elapsed "$t0" "$t1")
	load_s=$(elapsed "$t1" "$t2")
	load_ratio=$(awk -v a="$load_s" -v b="$ldns_s" 'BEGIN { printf "%.2f", a / b }')
	load_line="tierdns-zone load ${load_s}s, ldns-read-zone ${ldns_s}s (same file, $((load_records + 3)) records)"
	big_bpr=$(awk -v b="$(du -B1 "$tmp/db/big/data.mdb" | cut -f1)" -v n=$((load_records + 3)) \
		'BEGIN { printf "%.1f", b / n }')
	zone_load "$tmp/db/small" "$tmp/zone/small.zone"
fi

# ---------------------------------------------------------------- start

wrap=()
threads=$tdns_threads
servers=()
start() {
	if launch "$1" "$2"; then
		servers+=("$1")
		say "$1 on 127.0.0.1:${PORT[$1]} (pid ${PID[$1]})"
	fi
}
[ -x "$build/tierdns-echo" ] && start echo run_echo
if [ -x "$build/tierdns-upper" ]; then
	start upper run_upper
	# Rate limiting on, at a rate no client here reaches: what RRL costs
	# the normal, unlimited load.
	upper_args="--rrl-rate 1000000" start upper_rrl run_upper
	if [ "$skip_load" = 0 ]; then
		upper_db="$tmp/db/small" start upper1k run_upper
		upper_db="$tmp/db/big" start upper1m run_upper
	fi
fi
have nsd && start nsd run_nsd
if [ -n "$signed_db" ]; then
	[ -x "$build/tierdns-upper" ] && upper_db="$signed_db" start upperdo run_upper
	have nsd && nsd_zone="$tmp/zone/bench.zone.signed" start nsddo run_nsd
fi
[ -z "${PORT[upper]-}" ] && upstream=nsd
if [ -n "${PORT[$upstream]-}" ]; then
	[ -x "$build/tierdns-local" ] && start local run_local
	if [ -x "$build/tierdns-local" ]; then
		gen_rpz 1000000 "$tmp/zone/block.rpz"
		local_args="--rpz $tmp/zone/block.rpz" start local_rpz run_local
	fi
	have unbound && start unbound run_unbound
	have dnsmasq && start dnsmasq run_dnsmasq
fi
# Validating resolvers (issue 12): tierdns-local and Unbound with the
# signed zone's DS as their trust anchor, forwarding to the signed upper.
if [ -n "${PORT[upperdo]-}" ] && [ -s "$tmp/zone/bench.anchor" ]; then
	[ -x "$build/tierdns-local" ] && upstream=upperdo \
		local_args="--trust-anchor $tmp/zone/bench.anchor" start local_val run_local
	have unbound && upstream=upperdo val=1 start unbound_val run_unbound
fi
# The DoT servers: the same programs and data again, with a TLS listener.
if have openssl && make_cert; then
	[ -n "${PORT[upper]-}" ] && dot=1 start upper_dot run_upper
	if [ -n "${PORT[$upstream]-}" ]; then
		[ -x "$build/tierdns-local" ] && dot=1 start local_dot run_local
		have unbound && dot=1 start unbound_dot run_unbound
	fi
else
	say "no certificate (openssl): no DNS over TLS rows"
fi

# target: server, query source, what it measures [, dnsperf mode: dot
# asks the server's TLS port]
targets=()
declare -A T_SERVER=() T_DESC=() T_MODE=()
target() {
	[ -n "${PORT[$2]-}" ] || return 0
	targets+=("$1")
	T_SERVER[$1]=$2
	T_DESC[$1]=$3
	T_MODE[$1]=${4:-udp}
}
target_port() {
	local p=${PORT[${T_SERVER[$1]}]}
	[ "${T_MODE[$1]}" = dot ] && p=$(dot_port "$p")
	echo "$p"
}
target echo echo "UDP echo, no DNS work (ceiling)"
target upper upper "tierdns-upper, authoritative"
target upper_rrl upper_rrl "tierdns-upper, RRL on (never limiting)"
target nsd nsd "NSD $(nsd -v 2>&1 | awk 'NR == 1 { print $3 }'), authoritative"
target upper1k upper1k "tierdns-upper, 1k-record store"
target upper1m upper1m "tierdns-upper, ${load_records}-record store"
target upper_do upperdo "tierdns-upper, signed zone, DO=1"
target nsd_do nsddo "NSD, signed zone, DO=1"
target local_hit local "tierdns-local, cache hits"
target local_rpz_hit local_rpz "tierdns-local, 1M-name RPZ, cache hits"
target unbound_hit unbound "Unbound $(unbound -V 2>/dev/null | awk 'NR == 1 { print $2 }'), cache hits"
target dnsmasq_hit dnsmasq "dnsmasq $(dnsmasq --version 2>/dev/null | awk 'NR == 1 { print $3 }'), cache hits"
target local_miss local "tierdns-local, misses"
target unbound_miss unbound "Unbound, misses"
target dnsmasq_miss dnsmasq "dnsmasq, misses"
target local_val_hit local_val "tierdns-local validating, cache hits"
target unbound_val_hit unbound_val "Unbound validating, cache hits"
target local_val_miss local_val "tierdns-local validating, misses"
target unbound_val_miss unbound_val "Unbound validating, misses"
target upper_dot upper_dot "tierdns-upper over DoT" dot
target local_dot_hit local_dot "tierdns-local over DoT, cache hits" dot
target unbound_dot_hit unbound_dot "Unbound over DoT, cache hits" dot

qfile() {
	case "$1" in
	*_hit) echo "$tmp/q/hot.txt" ;;
	*_miss) echo "$tmp/q/miss.$2.txt" ;;
	upper1k) echo "$tmp/q/small.txt" ;;
	upper1m) echo "$tmp/q/big.txt" ;;
	*) echo "$tmp/q/auth.txt" ;;
	esac
}

perf_args=(-c "$clients" -q "$outstanding" -t 2)

# Prime the caches with the hit set, gently so nothing is lost.
for s in local local_rpz unbound dnsmasq local_val unbound_val local_dot unbound_dot; do
	[ -n "${PORT[$s]-}" ] || continue
	dnsperf -s 127.0.0.1 -p "${PORT[$s]}" -d "$tmp/q/hot.txt" -n 1 -c 1 -q 20 \
		>"$tmp/log/prime.$s.txt" 2>&1 || true
done

# ---------------------------------------------------------------- rounds

for ((r = 1; r <= rounds; r++)); do
	for t in "${targets[@]}"; do
		say "round $r/$rounds: $t"
		out="$tmp/res/$t.$r.txt"
		more=()
		# A miss run asks its fresh slice once: a name asked twice
		# would be a hit.
		case "$t" in *_miss) more=(-n 1) ;; *_do) more=(-D) ;; esac
		dnsperf -m "${T_MODE[$t]}" -s 127.0.0.1 -p "$(target_port "$t")" \
			-d "$(qfile "$t" "$r")" -l "$seconds" "${perf_args[@]}" "${more[@]}" \
			>"$out" 2>&1 || true
	done
	for s in "${servers[@]}"; do
		mem_of "${PID[$s]}" >"$tmp/mem/$s.$r"
	done
done

# ---------------------------------------------------------- TLS handshakes

# Full TLS handshakes per second of each DoT server: openssl s_time -new
# connects, completes a handshake (no resumption) and closes, for --seconds,
# one client; "N connections in S real seconds". Once per round, after the
# dnsperf runs, so it shares the machine's state with them.
declare -A HS=()
for ((r = 1; r <= rounds; r++)); do
	for s in upper_dot local_dot unbound_dot; do
		[ -n "${PORT[$s]-}" ] || continue
		say "round $r/$rounds: $s handshakes"
		timeout $((seconds + 10)) openssl s_time -connect "127.0.0.1:$(dot_port "${PORT[$s]}")" \
			-new -time "$seconds" >"$tmp/res/hs.$s.$r.txt" 2>&1 || true
		HS[$s]="${HS[$s]-}${HS[$s]:+/}$(awk '/real seconds/ && $4 > 0 { printf "%.0f", $1 / $4; f = 1 }
			END { if (!f) printf "-" }' "$tmp/res/hs.$s.$r.txt")"
	done
done

# ------------------------------------------------------- replication
# Issue 13's rows, each on servers of its own, after the rounds:
#   AXFR of the $load_records-record zone to kdig: tierdns-upper vs NSD
#     (median of 3 transfers each, records counted; the upper's anonymous
#     memory after them: the stream keeps it bounded);
#   IXFR end to end: tierdns-zone add on a primary -> NOTIFY -> IXFR ->
#     a tierdns secondary answers the new name (median of 5, ms);
#   two tierdns-local with -t 1 sharing one store and port (--reuse-port)
#     vs one with -t 2: cache-hit QPS, 3 interleaved dnsperf runs each.
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
declare -A XFR_S=()
xfr_anon=""
xfr_line=" skipped (--skip-load, or no kdig)"
if [ "$skip_load" = 0 ] && have kdig && [ -x "$build/tierdns-upper" ]; then
	printf 'zones:\n  - name: bench.\n    allow-transfer: [127.0.0.1]\n' >"$tmp/conf/xfr.conf"
	run_upper_xfr() {
		exec "$build/tierdns-upper" --db "$tmp/db/big" -c "$tmp/conf/xfr.conf" \
			--listen 127.0.0.1 --port "$1" --threads 1
	}
	axfr_time() { # port -> "seconds records" of one kdig AXFR
		local t0 t1 n
		t0=$(now)
		n=$(kdig @127.0.0.1 -p "$1" bench. AXFR +noall +answer 2>/dev/null | grep -vc '^;' || true)
		t1=$(now)
		echo "$(elapsed "$t0" "$t1") $n"
	}
	xfr_line=""
	for s in upper_xfr nsd_xfr; do
		if [ "$s" = upper_xfr ]; then
			launch upper_xfr run_upper_xfr 60 || continue
		else
			have nsd || continue
			nsd_zone="$tmp/zone/big.zone" nsd_xfr=1 threads=1 launch nsd_xfr run_nsd 300 || continue
		fi
		: >"$tmp/res/$s.axfr"
		for i in 1 2 3; do axfr_time "${PORT[$s]}" >>"$tmp/res/$s.axfr"; done
		XFR_S[$s]=$(cut -d' ' -f1 "$tmp/res/$s.axfr" | median)
		xfr_line="$xfr_line $s ${XFR_S[$s]}s ($(cut -d' ' -f2 "$tmp/res/$s.axfr" | sort -u | tr '\n' ' ')records)"
		[ "$s" = upper_xfr ] && xfr_anon=$(mem_of "${PID[$s]}" | cut -d' ' -f2)
		stop "$s"
	done
fi

ixfr_line="skipped"
if [ -x "$build/tierdns-upper" ] && [ -x "$build/tierdns-zone" ]; then
	sec_port=$(pick_port)
	printf 'zones:\n  - name: bench.\n    allow-transfer: [127.0.0.1]\n    notify: ["127.0.0.1:%s"]\n' \
		"$sec_port" >"$tmp/conf/ixfr-p.conf"
	rm -rf "$tmp/db/ixfr-p" "$tmp/db/ixfr-s"
	zone_load "$tmp/db/ixfr-p" "$tmp/zone/bench.zone"
	run_upper_ixfr_p() {
		exec "$build/tierdns-upper" --db "$tmp/db/ixfr-p" -c "$tmp/conf/ixfr-p.conf" \
			--listen 127.0.0.1 --port "$1" --threads 1
	}
	if launch ixfr_p run_upper_ixfr_p 60; then
		printf 'zones:\n  - name: bench.\n    primaries: ["127.0.0.1:%s"]\n' \
			"${PORT[ixfr_p]}" >"$tmp/conf/ixfr-s.conf"
		"$build/tierdns-upper" --db "$tmp/db/ixfr-s" -c "$tmp/conf/ixfr-s.conf" \
			--listen 127.0.0.1 --port "$sec_port" --threads 1 >>"$tmp/log/ixfr_s.log" 2>&1 &
		PID[ixfr_s]=$!
		all_pids+=("${PID[ixfr_s]}")
		for ((t = 0; t < 300; t++)); do answers "$sec_port" && break; sleep 0.2; done
		: >"$tmp/res/ixfr.ms"
		for i in 1 2 3 4 5; do
			t0=$(now)
			"$build/tierdns-zone" --db "$tmp/db/ixfr-p" add "ixfr$i.bench. 60 IN A 192.0.2.$i" \
				>/dev/null 2>&1
			for ((t = 0; t < 5000; t++)); do
				dig @127.0.0.1 -p "$sec_port" "ixfr$i.bench." A +short +tries=1 +time=1 |
					grep -q "192.0.2.$i" && break
				sleep 0.002
			done
			t1=$(now)
			awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f\n", (b - a) * 1000 }' >>"$tmp/res/ixfr.ms"
		done
		ixfr_line="$(median <"$tmp/res/ixfr.ms") ms (runs: $(tr '\n' ' ' <"$tmp/res/ixfr.ms"))"
		stop ixfr_s
		stop ixfr_p
	fi
fi

fleet_line="skipped"
if [ -x "$build/tierdns-local" ] && [ -n "${PORT[$upstream]-}" ]; then
	fleet_port=$(pick_port)
	rm -rf "$tmp/db/fleet" "$tmp/db/single"
	for k in a b; do
		"$build/tierdns-local" --db "$tmp/db/fleet" --listen 127.0.0.1 --port "$fleet_port" \
			--threads 1 --reuse-port --upstream "127.0.0.1:$(upstream_port)" \
			>>"$tmp/log/fleet_$k.log" 2>&1 &
		PID[fleet_$k]=$!
		all_pids+=("${PID[fleet_$k]}")
	done
	run_local_t2() {
		exec "$build/tierdns-local" --db "$tmp/db/single" --listen 127.0.0.1 --port "$1" \
			--threads 2 --upstream "127.0.0.1:$(upstream_port)"
	}
	sleep 1
	if launch single_t2 run_local_t2 && answers "$fleet_port"; then
		for p in "$fleet_port" "${PORT[single_t2]}"; do
			dnsperf -s 127.0.0.1 -p "$p" -d "$tmp/q/hot.txt" -n 1 -c 1 -q 20 >/dev/null 2>&1 || true
		done
		: >"$tmp/res/fleet.qps"
		: >"$tmp/res/single.qps"
		for i in 1 2 3; do
			dnsperf -s 127.0.0.1 -p "$fleet_port" -d "$tmp/q/hot.txt" -l "$seconds" \
				"${perf_args[@]}" 2>/dev/null | awk '/Queries per second/ { print $4 }' >>"$tmp/res/fleet.qps"
			dnsperf -s 127.0.0.1 -p "${PORT[single_t2]}" -d "$tmp/q/hot.txt" -l "$seconds" \
				"${perf_args[@]}" 2>/dev/null | awk '/Queries per second/ { print $4 }' >>"$tmp/res/single.qps"
		done
		fq=$(median <"$tmp/res/fleet.qps")
		sq=$(median <"$tmp/res/single.qps")
		fleet_line=$(awk -v f="$fq" -v s="$sq" 'BEGIN { printf "2 processes x -t 1 (one store, one port) %.0f QPS, 1 process -t 2 %.0f QPS, ratio %.2f", f, s, (s > 0 ? f / s : 0) }')
	fi
	stop single_t2
	stop fleet_a
	stop fleet_b
fi

# ---------------------------------------------------------------- callgrind

declare -A IR=()
# Instructions of one callgrind run of a daemon (one thread): start it,
# send the prime file and then the replay file (either may be empty), stop
# it, and add up the totals every process wrote at exit (NSD forks its
# servers, and valgrind cannot be told to dump from a forked child).
cg_run() {
	local tag=$1 fn=$2 prime=$3 replay=$4 name=cg_$1 f total=0 n
	wrap=(valgrind --tool=callgrind --callgrind-out-file="$tmp/cg/$tag.%p")
	threads=1
	if ! launch "$name" "$fn" 120; then
		wrap=()
		threads=$tdns_threads
		return 1
	fi
	wrap=()
	threads=$tdns_threads
	# Under valgrind a daemon may still be starting (NSD forks its
	# servers and xfrd) after its first answer: let that finish in both
	# runs alike, so that only the replay differs.
	sleep 3
	if [ -n "$prime" ]; then
		dnsperf -s 127.0.0.1 -p "${PORT[$name]}" -d "$prime" -n 1 -c 1 -q 10 \
			-t 10 >"$tmp/log/$name.prime.txt" 2>&1 || true
	fi
	sleep 1
	if [ -n "$replay" ]; then
		dnsperf -s 127.0.0.1 -p "${PORT[$name]}" -d "$replay" -n 1 -c 1 -q 10 \
			-t 10 >"$tmp/log/$name.replay.txt" 2>&1 || true
	fi
	sleep 1
	stop "$name"
	sleep 1
	for f in "$tmp/cg/$tag".*; do
		[ -f "$f" ] || continue
		n=$(awk '/^totals:/ { print $2 }' "$f")
		total=$((total + ${n:-0}))
	done
	echo "$total" >"$tmp/cg/$tag.total"
}
# Ir per query = (run with the replay - the same run without it) / replay
# size: startup, zone loading and shutdown cancel out.
cg_target() {
	local t=$1 fn=$2 prime=$3 replay=$4 with without n
	cg_run "$t.with" "$fn" "$prime" "$replay" || return 0
	cg_run "$t.without" "$fn" "$prime" "" || return 0
	with=$(cat "$tmp/cg/$t.with.total")
	without=$(cat "$tmp/cg/$t.without.total")
	n=$(awk '/Queries completed:/ { print $3 }' "$tmp/log/cg_$t.with.replay.txt")
	if [ "${n:-0}" -gt 0 ]; then
		IR[$t]=$(((with - without) / n))
	fi
	return 0
}
if [ "$callgrind" = 1 ]; then
	say "callgrind replay of $cgk queries per target (one thread each)"
	[ -n "${PORT[echo]-}" ] && cg_target echo run_echo "" "$tmp/q/cgauth.txt"
	[ -n "${PORT[upper]-}" ] && cg_target upper run_upper "$tmp/q/cgauth.txt" "$tmp/q/cgauth.txt"
	[ -n "${PORT[nsd]-}" ] && cg_target nsd run_nsd "$tmp/q/cgauth.txt" "$tmp/q/cgauth.txt"
	[ -n "${PORT[local]-}" ] && cg_target local_hit run_local "$tmp/q/cghit.txt" "$tmp/q/cghit.txt"
	[ -n "${PORT[unbound]-}" ] && cg_target unbound_hit run_unbound "$tmp/q/cghit.txt" "$tmp/q/cghit.txt"
	[ -n "${PORT[dnsmasq]-}" ] && cg_target dnsmasq_hit run_dnsmasq "$tmp/q/cghit.txt" "$tmp/q/cghit.txt"
	[ -n "${PORT[local]-}" ] && cg_target local_miss run_local "" "$tmp/q/cgmiss.txt"
	[ -n "${PORT[unbound]-}" ] && cg_target unbound_miss run_unbound "" "$tmp/q/cgmiss.txt"
	[ -n "${PORT[dnsmasq]-}" ] && cg_target dnsmasq_miss run_dnsmasq "" "$tmp/q/cgmiss.txt"
fi

# Per-function self cost of the replay alone: the annotated "with" run
# minus the "without" run, per replayed query, largest first.
profile_of() {
	local t=$1 incl=$2 f
	for f in with without; do
		callgrind_annotate --inclusive="$incl" --auto=no --threshold=100 "$tmp/cg/$t.$f".[0-9]* 2>/dev/null |
			awk -v tag="$f" -v incl="$incl" '/file:function/ { on = 1; getline; next }
				on && match($0, /^ *[0-9,]+ +\( *[0-9.]+%\) +/) {
					ir = $1; gsub(",", "", ir)
					fn = substr($0, RLENGTH + 1)
					gsub(/[^ :\[]*\//, "", fn)
					if (incl == "yes" && fn !~ /\[tierdns-/)
						next
					print tag "\t" ir "\t" fn }'
	done | awk -F'\t' -v k="$cgk" -v total="${IR[$t]}" '
		{ d[$3] += ($1 == "with") ? $2 : -$2 }
		END { for (f in d) if (d[f] > 0) printf "%.0f\t%s\n", d[f] / k, f }' |
		sort -t$'\t' -k1,1nr |
		awk -F'\t' -v total="${IR[$t]}" '{ printf "  %10d %5.1f%%  %s\n", $1, total ? 100 * $1 / total : 0, substr($2, 1, 110) }'
}

# ---------------------------------------------------------------- report

# "median_qps avg_latency_ms sent lost per_round_qps" of a target.
summary() {
	local t=$1 r f
	for ((r = 1; r <= rounds; r++)); do
		f="$tmp/res/$t.$r.txt"
		awk '/Queries sent:/ { s = $3 } /Queries lost:/ { l = $3 }
		     /Queries per second:/ { q = $4 } /Average Latency/ { a = $4 }
		     END { if (q == "") print "- - - -"; else print q, a * 1000, s, l }' "$f"
	done | awk '
		$1 != "-" { q[n++] = $1; lat[m++] = $2; s += $3; l += $4 }
		{ rq = rq (rq == "" ? "" : "/") ($1 == "-" ? "-" : sprintf("%.0f", $1)) }
		END {
			if (n == 0) { print "- - - -", rq; exit }
			# sort q[] and lat[] ascending (few values)
			for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) {
				if (q[j] < q[i]) { t = q[i]; q[i] = q[j]; q[j] = t }
				if (lat[j] < lat[i]) { t = lat[i]; lat[i] = lat[j]; lat[j] = t }
			}
			mq = n % 2 ? q[int(n / 2)] : (q[n / 2 - 1] + q[n / 2]) / 2
			ml = n % 2 ? lat[int(n / 2)] : (lat[n / 2 - 1] + lat[n / 2]) / 2
			printf "%.0f %.3f %d %d %s\n", mq, ml, s, l, rq
		}'
}

declare -A MED=() LOST=() RQ=()
{
	echo
	echo "tierdns benchmark  $(date -u '+%Y-%m-%d %H:%M UTC')  $(uname -sr), $(nproc) CPUs: $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
	echo "commit $(git -C "$top" describe --always --dirty 2>/dev/null || echo '?'), build $(basename "$build") (Release, -O3)"
	echo "zone: $names A records + SOA/NS/glue; dnsperf $(dnsperf -h 2>&1 | awk '/^Version/ { print $2 }'): -c $clients -q $outstanding -t 2, ${seconds}s per run, $rounds interleaved rounds, one dnsperf thread"
	echo "forwarders' upstream: $upstream on 127.0.0.1:${PORT[$upstream]-?}"
	echo "servers: $tdns_threads threads each (tierdns -t, NSD server-count, Unbound num-threads, echo -t); dnsmasq is single-threaded (cache-size $dnsmasq_cache)"
	echo "queries: authoritative = all $names names in a fixed shuffled order; hits = $hot names primed once beforehand;"
	echo "         misses = a fresh slice of $slice never-asked names per round, each asked once (dnsperf -n 1), so a miss run may end before ${seconds}s"
	echo "load generator and servers share the same $(nproc) cores; nothing is pinned; the echo is the ceiling of this"
	echo "load generator on this machine (what dnsperf gets back from a server that does no DNS work)"
	echo
	printf '%-14s %-40s %10s %-26s %9s %14s %10s\n' target what "QPS(med)" "QPS per round" "lat ms" "lost/sent" "Ir/query"
	for t in "${targets[@]}"; do
		read -r mq ml s l rq < <(summary "$t")
		MED[$t]=$mq
		LOST[$t]=$l
		RQ[$t]=$rq
		printf '%-14s %-40s %10s %-26s %9s %14s %10s\n' "$t" "${T_DESC[$t]}" "$mq" "$rq" "$ml" \
			"$l/$s" "${IR[$t]:--}"
	done
	# A fast wrong answer is no answer: say so when any reply was not
	# NOERROR (the echo's are NOERROR by construction).
	for t in "${targets[@]}"; do
		codes=$(cat "$tmp/res/$t".*.txt 2>/dev/null | sed -n 's/^ *Response codes: *//p' |
			tr ',' '\n' | sed 's/^ *//' | grep -v '^NOERROR' | sort -u | tr '\n' ' ' || true)
		[ -z "$codes" ] || echo "  note: $t also got replies other than NOERROR: $codes"
	done
	echo
	if [ "$callgrind" = 1 ]; then
		echo "Ir/query: user-space instructions per query under valgrind --tool=callgrind, one thread each: (a run that"
		echo "          replays $cgk queries - the same run without them) / $cgk; the replay follows a priming pass of the"
		echo "          same names (misses: fresh names, no priming); the kernel's share is not counted"
	else
		echo "Ir/query: skipped (--no-callgrind)"
	fi
	echo
	echo "Memory after each round, MiB: PSS summed over the daemon's processes (anonymous part in brackets:"
	echo "heap and stacks, not mapped files such as data.mdb); VmRSS = /proc/PID/status of the main process after the run"
	printf '%-10s' server
	for ((r = 1; r <= rounds; r++)); do printf ' %18s' "round $r"; done
	printf ' %10s\n' "VmRSS"
	for s in "${servers[@]}"; do
		printf '%-10s' "$s"
		for ((r = 1; r <= rounds; r++)); do
			read -r pss anon rss <"$tmp/mem/$s.$r"
			printf ' %18s' "$(awk -v p="$pss" -v a="$anon" 'BEGIN { printf "%.1f (%.1f)", p / 1024, a / 1024 }')"
		done
		printf ' %10s\n' "$(awk -v x="$rss" 'BEGIN { printf "%.1f", x / 1024 }')"
	done
	echo
	if [ ${#HS[@]} -gt 0 ]; then
		echo "DNS over TLS: full handshakes per second (openssl s_time -new, one client, TLS 1.3, P-256 certificate),"
		echo "per round, and the median"
		for s in upper_dot local_dot unbound_dot; do
			[ -n "${HS[$s]-}" ] || continue
			printf '  %-12s %10s   %s\n' "$s" "$(echo "${HS[$s]}" | tr '/' '\n' | grep -v '^-$' |
				sort -n | awk '{ v[n++] = $1 } END { if (n == 0) print "-";
				else print n % 2 ? v[int(n / 2)] : (v[n / 2 - 1] + v[n / 2]) / 2 }')" "${HS[$s]}"
		done
		echo
	fi
	echo "Zone load: $load_line"
	echo "AXFR of the ${load_records}-record zone to kdig (median of 3):$xfr_line${xfr_anon:+; tierdns-upper anonymous memory after: $((xfr_anon / 1024)) MiB}"
	echo "IXFR end to end (add -> NOTIFY -> IXFR -> a tierdns secondary answers): $ixfr_line"
	echo "Resolver fleet, cache hits: $fleet_line"
	echo "On disk: $zone_bpr bytes/record (data.mdb of the $names-name store)${big_bpr:+, $big_bpr bytes/record ($load_records-record store)}"
	echo
	echo "Issue 5 targets (ratio of the medians of this run, as the issue defines them). After each verdict:"
	echo "  paired  median of the per-round ratios: a target's run and its peer's are seconds apart in one round,"
	echo "          so they share the machine's state (less noisy than medians taken apart)"
	echo "  bound   echo / peer: the most that any server could score against that peer in this run, as the echo"
	echo "          does no DNS work; a goal above it was out of reach here whatever the server"
	ratio() { # label a b op goal [bound: yes to print echo/b]
		local a=${MED[$2]-} b=${MED[$3]-} paired bound=""
		if [ -z "$a" ] || [ -z "$b" ] || [ "$a" = - ] || [ "$b" = - ]; then
			printf '  %-34s %8s   (target %s %s)  not measured\n' "$1" - "$4" "$5"
			return
		fi
		paired=$(awk -v x="${RQ[$2]}" -v y="${RQ[$3]}" 'BEGIN {
			n = split(x, p, "/"); split(y, q, "/"); m = 0
			for (i = 1; i <= n; i++)
				if (p[i] != "-" && q[i] != "-" && q[i] > 0) r[m++] = p[i] / q[i]
			if (m == 0) { print "-"; exit }
			for (i = 0; i < m; i++) for (j = i + 1; j < m; j++)
				if (r[j] < r[i]) { t = r[i]; r[i] = r[j]; r[j] = t }
			printf "%.2f", m % 2 ? r[int(m / 2)] : (r[m / 2 - 1] + r[m / 2]) / 2
		}')
		if [ "${6-}" = yes ] && [ -n "${MED[echo]-}" ] && [ "${MED[echo]}" != - ]; then
			bound=$(awk -v e="${MED[echo]}" -v b="$b" 'BEGIN { printf ", bound %.2f", e / b }')
		fi
		awk -v a="$a" -v b="$b" -v op="$4" -v g="$5" -v l="$1" -v extra="paired $paired$bound" 'BEGIN {
			x = a / b
			ok = (op == ">=") ? (x >= g) : (x <= g)
			printf "  %-34s %8.2f   (target %s %s)  %-7s  [%s]\n", l, x, op, g, ok ? "met" : "NOT met", extra
		}'
	}
	ratio "upper / NSD" upper nsd ">=" 1.0 yes
	ratio "upper / echo ceiling" upper echo ">=" 0.95
	ratio "upper RRL on / off" upper_rrl upper ">=" 0.95
	ratio "local hit / Unbound hit" local_hit unbound_hit ">=" 1.1 yes
	ratio "local hit / dnsmasq hit" local_hit dnsmasq_hit ">=" 1.1 yes
	ratio "local hit, 1M RPZ / none" local_rpz_hit local_hit ">=" 0.95
	ratio "local miss / Unbound miss" local_miss unbound_miss ">=" 1.2
	ratio "upper ${load_records}-record / 1k store" upper1m upper1k ">=" 0.95
	ratio "upper DO=1 / NSD DO=1 (signed)" upper_do nsd_do ">=" 1.0 yes
	ratio "local valid. hit / Unbound valid." local_val_hit unbound_val_hit ">=" 1.1 yes
	ratio "local valid. miss / Unbound valid." local_val_miss unbound_val_miss ">=" 1.2
	if [ -n "${XFR_S[upper_xfr]-}" ] && [ -n "${XFR_S[nsd_xfr]-}" ]; then
		awk -v a="${XFR_S[upper_xfr]}" -v b="${XFR_S[nsd_xfr]}" 'BEGIN {
			printf "  %-34s %8.2f   (target <= 1)  %s\n", "AXFR time upper / NSD", a / b, a <= b ? "met" : "NOT met" }'
	fi
	# DNS over TLS beside Unbound's (issue 17 asks for the figures, and
	# sets no goal: the >= 1.0 only says which is faster).
	ratio "local DoT hit / Unbound DoT hit" local_dot_hit unbound_dot_hit ">=" 1.0
	if [ -n "$load_ratio" ]; then
		awk -v x="$load_ratio" 'BEGIN { printf "  %-34s %8.2f   (target <= 2)  %s\n", "zone load / ldns parse", x, x <= 2 ? "met" : "NOT met" }'
	fi
	lost=""
	for t in upper local_hit local_miss local_val_hit local_val_miss; do
		[ -n "${LOST[$t]-}" ] && [ "${LOST[$t]}" != - ] && [ "${LOST[$t]}" != 0 ] && lost="$lost $t:${LOST[$t]}"
	done
	printf '  %-34s %8s   (target 0)  %s\n' "tierdns queries lost" "${lost:-0}" "$([ -z "$lost" ] && echo met || echo "NOT met")"
	for s in upper local; do
		[ -f "$tmp/mem/$s.1" ] || continue
		read -r _ a1 _ <"$tmp/mem/$s.1"
		read -r _ an _ <"$tmp/mem/$s.$rounds"
		awk -v s="$s" -v a="$a1" -v b="$an" -v r="$rounds" 'BEGIN {
			d = (b - a) / 1024
			printf "  %-34s %+7.1f MiB (target no growth) %s\n", "tierdns-" s " anon memory, round 1->" r, d, d <= 0.5 ? "met" : "NOT met"
		}'
	done
	if [ "$profile" = 1 ] && [ "$callgrind" = 1 ]; then
		for t in upper local_hit local_miss; do
			[ -n "${IR[$t]-}" ] || continue
			echo
			echo "Where $t spends its instructions (callgrind, the replay run minus the run without it, per query)"
			printf '  %10s %6s  %s\n' Ir/query share "function, self cost (top 12)"
			profile_of "$t" no | head -12 || true
			printf '  %10s %6s  %s\n' Ir/query share "tierdns function, inclusive cost (top 12)"
			profile_of "$t" yes | head -12 || true
		done
	fi
}
