#!/usr/bin/env bash
# A stalled upstream (SIGSTOP) must not delay a cache hit on the local tier:
# the hit is answered while the miss still waits (--timeout 8000), and the
# miss then gets SERVFAIL from the daemon (not a client timeout); an upper
# that is down gives SERVFAIL too. The local tier runs one thread, so the hit
# and the miss share one event loop. What is asserted is the order of events;
# the clients' timeouts are outer bounds for a loaded machine.
. "$(dirname "$0")/lib.sh"
e2e_init

zone_load "$T/upper" "$ZONES"/upper/*.zone
zone_load "$T/local" "$ZONES"/local/*.zone
start_upper UPPER "$T/upper"
start_local LOCAL "$T/local" "$UPPER_ADDR:$UPPER_PORT" --threads 1 --timeout 8000

q LOCAL webapp.site A
expect_status NOERROR
expect_rr ANSWER webapp.site. A 192.0.2.10

kill -STOP "$UPPER_PID"

# the miss, in the background: it waits on the stalled upper
(
	t0=$(now_ms)
	rc=0
	o=$(dig @"$LOCAL_ADDR" -p "$LOCAL_PORT" +tries=1 +time=20 api.site A 2>&1) || rc=$?
	t1=$(now_ms)
	printf '%s\n%s\n' "$((t1 - t0))" "$o" >"$T/miss.out"
) &
miss=$!
sleep 0.3

# the hit, while the miss is outstanding
t0=$(now_ms)
OUT=$(dig @"$LOCAL_ADDR" -p "$LOCAL_PORT" +tries=1 +time=5 webapp.site A 2>&1) ||
	fail "cache hit got no answer while a miss waited on a stalled upstream"
t1=$(now_ms)
[ ! -e "$T/miss.out" ] ||
	fail "the cache hit was answered only after the miss had its answer ($(head -n 1 "$T/miss.out") ms)"
grep -q 'status: NOERROR' <<<"$OUT" || fail "cache hit was not NOERROR"
expect_rr ANSWER webapp.site. A 192.0.2.10
log "cache hit with a stalled upstream: $((t1 - t0)) ms, the miss still waiting"
# (a hit that waited on the miss would come about 8 s after it)
[ $((t1 - t0)) -lt 5000 ] || fail "cache hit took $((t1 - t0)) ms"

wait "$miss"
elapsed=$(head -n 1 "$T/miss.out")
OUT=$(tail -n +2 "$T/miss.out")
grep -q 'status: SERVFAIL' <<<"$OUT" || fail "the miss did not get SERVFAIL: $OUT"
log "miss with a stalled upstream: SERVFAIL after $elapsed ms"

# the upper is down (stopped for good): an uncached name is SERVFAIL, in time
kill -CONT "$UPPER_PID"
stop_daemon UPPER
t0=$(now_ms)
q LOCAL mail.site A +time=15
t1=$(now_ms)
expect_status SERVFAIL
log "SERVFAIL with the upper down after $((t1 - t0)) ms"
# and the hit still works
q LOCAL webapp.site A
expect_status NOERROR
# static data never needed the upper
q LOCAL router.home.arpa A
expect_status NOERROR
expect_rr ANSWER router.home.arpa. A 198.51.100.1
out=$("$QUERY_BIN" -s "$LOCAL_ADDR" -p "$LOCAL_PORT" mail.site) && fail "tierdns-query succeeded without an upper: $out"
expect_match "$out" '^mail\.site: server failure \(SERVFAIL\)$'

stop_daemon LOCAL
