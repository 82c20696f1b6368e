#!/usr/bin/env bash
# tools/ir_replay.sh - instructions per query of one build, quickly: the
# callgrind column of tools/bench.sh without the rest of the bench.
#
# usage: tools/ir_replay.sh BUILD_DIR [upper|hit|rehit|miss|dotmiss|valhit|valmiss]...
# A 20000-name zone is loaded into a scratch store; each path runs its
# daemon (one thread) under valgrind --tool=callgrind, primes it, zeroes the
# counters (callgrind_control -z), replays 2000 queries (dnsperf), dumps
# (callgrind_control -d) and prints the dump's Ir / answered: the replay
# alone, with none of the startup's or the priming's work. Hits are primed
# first; misses are fresh names forwarded to a plain tierdns-upper. The
# upper's replay and rehit's ask names their priming asked; hit's is the
# first ask of each name after the priming pass cached it (the packet
# cache, replycache.h, kept the priming answer; with LOCAL_ARGS
# "--packet-cache 0" the store.h memo has the entry, written through by
# the worker's own commit). KEEP=1 keeps
# the callgrind dumps (their directory is printed last; the dump ending in
# .1 is the replay's profile); UPPER_ARGS adds options
# to the measured tierdns-upper (e.g. "--rrl-rate 1000000" for the cost of
# rate limiting that never limits), EXTRA_LABEL a label after n<i> in
# every name (a 54-byte label makes names of 68 wire bytes, past what
# short names exercise: the memo's key limit, the name key's word copies),
# LOCAL_ARGS to the measured
# tierdns-local (e.g. "--rpz FILE" for the cost of a blocklist that the
# names pass), LOCAL_ZONES master files (space-separated) loaded into its
# store as static zones before it starts. valhit and valmiss are hit and miss with validation on: the
# zone signed as tools/bench.sh signs it (ECDSA P-256, NSEC3), served by a
# second tierdns-upper, the measured tierdns-local given its DS as the
# trust anchor and primed with a few other names (the DNSKEY and DS are
# then cached), so a miss costs one RRSIG verification. dotmiss is miss
# forwarded over DNS over TLS (--upstream-tls) to the tierdns-upper's
# --tls-listen, with a self-signed certificate made here: the connection is
# opened by the startup probe, so the figure is the cost of a miss on an
# open DoT connection. It prints figures; it asserts nothing. The rows
# include the event loop's idle wakeups during the replay; the miss row
# varies most between runs (about 1,000 Ir/query), with how the answers
# fall into commit batches. Compare medians of runs alternating the builds.
set -u
[ $# -ge 1 ] && [ -x "$1/tierdns-upper" ] || { echo "usage: $0 BUILD_DIR [upper|hit|rehit|miss|dotmiss|valhit|valmiss]..." >&2; exit 2; }
b=$1; shift
paths=${*:-upper hit rehit miss}
w=$(mktemp -d /tmp/irw.XXXX)
n=20000; k=2000
x=${EXTRA_LABEL:+.$EXTRA_LABEL}
awk -v n="$n" -v x="$x" 'BEGIN { print "$ORIGIN bench."; print "$TTL 3600";
 print "@ IN SOA ns.bench. hostmaster.bench. 1 3600 900 604800 3600"; print "@ IN NS ns.bench."; print "ns IN A 127.0.0.1";
 for (i = 0; i < n; i++) printf "n%d%s IN A 10.%d.%d.%d\n", i, x, int(i/65536)%256, int(i/256)%256, i%256 }' > $w/z
gq() { awk -v a="$1" -v b="$2" -v x="$x" 'BEGIN { for (i = a; i < b; i++) printf "n%d%s.bench. A\n", i, x }' | shuf --random-source=<(yes) > $3; }
gq 0 $k $w/hit.txt; gq 5000 $((5000+k)) $w/miss.txt; gq 19000 19010 $w/prime.txt
$b/tierdns-zone --db $w/up load $w/z >/dev/null 2>&1
port() { echo $((20000 + RANDOM % 20000)); }
UP=$(port)
DUP=$(port)
TLS_ARGS=()
case " $paths " in *" dotmiss "*)
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=dns.test \
    -addext subjectAltName=DNS:dns.test -keyout $w/key.pem -out $w/cert.pem >/dev/null 2>&1 ||
    { echo "no certificate" >&2; exit 1; }
  TLS_ARGS=(--tls-listen 127.0.0.1:$DUP --tls-cert $w/cert.pem --tls-key $w/key.pem) ;;
esac
$b/tierdns-upper --db $w/up --listen 127.0.0.1 --port $UP --threads 1 "${TLS_ARGS[@]}" >/dev/null 2>&1 & UPID=$!
SUP=""; SUPID=""
case " $paths " in *" val"*)
  (cd $w && k=$(ldns-keygen -a ECDSAP256SHA256 -k bench.) && z=$(ldns-keygen -a ECDSAP256SHA256 bench.) &&
   ldns-signzone -n -t 0 -o bench. z "$k" "$z" && ldns-key2ds -n -2 "$k.key" > anchor) >/dev/null 2>&1 &&
  $b/tierdns-zone --db $w/sup load $w/z.signed >/dev/null 2>&1 || { echo "signing failed" >&2; exit 1; }
  SUP=$(port)
  $b/tierdns-upper --db $w/sup --listen 127.0.0.1 --port $SUP --threads 1 >/dev/null 2>&1 & SUPID=$! ;;
esac
sleep 0.5
run() { # tag prime replay cmd...
  local tag=$1 prime=$2 replay=$3; shift 3
  local p=$(port); rm -rf $w/loc
  for zf in ${LOCAL_ZONES-}; do $b/tierdns-zone --db $w/loc load $zf >/dev/null 2>&1 || { echo "cannot load $zf" >&2; exit 1; }; done
  valgrind --tool=callgrind --callgrind-out-file=$w/cg.$tag.%p "$@" --port $p >/dev/null 2>&1 & local pid=$!
  for i in $(seq 60); do dig @127.0.0.1 -p $p ns.bench. +tries=1 +time=1 >/dev/null 2>&1 && break; sleep 0.5; done
  for pf in $prime; do dnsperf -s 127.0.0.1 -p $p -d $pf -n 1 -c 1 -q 10 -t 10 >/dev/null 2>&1; sleep 0.2; done
  sleep 0.5
  callgrind_control -z $pid >/dev/null 2>&1
  dnsperf -s 127.0.0.1 -p $p -d $replay -n 1 -c 1 -q 10 -t 10 > $w/rep.$tag 2>&1
  callgrind_control -d $pid >/dev/null 2>&1
  kill $pid; wait $pid
  local q=$(awk '/Queries completed:/ {print $3}' $w/rep.$tag)
  local f=$(ls $w/cg.$tag.$pid.* | head -1)
  echo "$tag $(( $(awk '/^totals:/ {print $2}' $f) / q )) Ir/query ($q answered)"
}
for p in $paths; do case $p in
 upper) run upper $w/hit.txt $w/hit.txt $b/tierdns-upper --db $w/up --listen 127.0.0.1 --threads 1 ${UPPER_ARGS-} ;;
 hit) run hit $w/hit.txt $w/hit.txt $b/tierdns-local --db $w/loc --listen 127.0.0.1 --threads 1 --upstream 127.0.0.1:$UP ${LOCAL_ARGS-} ;;
 rehit) run rehit "$w/hit.txt $w/hit.txt" $w/hit.txt $b/tierdns-local --db $w/loc --listen 127.0.0.1 --threads 1 --upstream 127.0.0.1:$UP ${LOCAL_ARGS-} ;;
 miss) run miss "" $w/miss.txt $b/tierdns-local --db $w/loc --listen 127.0.0.1 --threads 1 --upstream 127.0.0.1:$UP ${LOCAL_ARGS-} ;;
 dotmiss) run dotmiss "" $w/miss.txt $b/tierdns-local --db $w/loc --listen 127.0.0.1 --threads 1 --upstream-tls "127.0.0.1:$DUP#dns.test" --tls-ca $w/cert.pem ${LOCAL_ARGS-} ;;
 valhit) run valhit $w/hit.txt $w/hit.txt $b/tierdns-local --db $w/loc --listen 127.0.0.1 --threads 1 --upstream 127.0.0.1:$SUP --trust-anchor $w/anchor ${LOCAL_ARGS-} ;;
 valmiss) run valmiss $w/prime.txt $w/miss.txt $b/tierdns-local --db $w/loc --listen 127.0.0.1 --threads 1 --upstream 127.0.0.1:$SUP --trust-anchor $w/anchor ${LOCAL_ARGS-} ;;
esac; done
kill $UPID $SUPID; wait $UPID $SUPID 2>/dev/null
[ -n "${KEEP-}" ] && echo $w || rm -rf $w
