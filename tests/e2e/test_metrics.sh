#!/usr/bin/env bash
# --metrics (issue 14): GET /metrics on both tiers answers the Prometheus
# text format, which promtool (Debian package prometheus) accepts, with
# counters that follow the queries sent; other paths are 404, other
# methods 405; a --metrics address that cannot be bound stops the start.
. "$(dirname "$0")/lib.sh"
e2e_init
command -v promtool >/dev/null || { log "promtool not installed: skipped"; exit 77; }

# metric TEXT NAME{LABELS}: the value of one sample.
metric() { printf '%s\n' "$1" | awk -v k="$2" '$1 == k { print $2 }'; }

zone_load "$T/upper" "$ZONES/upper/site.zone"
UM=$(_rand_addr):$(_rand_port)
LM=$(_rand_addr):$(_rand_port)
start_upper UPPER "$T/upper" --control none --metrics "$UM"
start_local LOCAL "$T/local" "$UPPER_ADDR:$UPPER_PORT" --control none --metrics "$LM"

q LOCAL webapp.site A
expect_status NOERROR
q LOCAL webapp.site A
q LOCAL nothere.site A
expect_status NXDOMAIN

for m in "$UM" "$LM"; do
	resp=$(http "$m" "GET /metrics HTTP/1.1")
	head=$(printf '%s\n' "$resp" | sed -n '1,/^\r$/p')
	body=$(printf '%s\n' "$resp" | sed '1,/^\r$/d')
	expect_match "$head" '^HTTP/1\.1 200 OK'
	expect_match "$head" '^Content-Type: text/plain; version=0\.0\.4'
	printf '%s\n' "$body" >"$T/metrics.txt"
	promtool check metrics <"$T/metrics.txt" >"$T/promtool.out" 2>&1 ||
		fail "promtool rejects the metrics of $m: $(cat "$T/promtool.out")"
	expect_match "$body" '^# TYPE tierdns_queries_total counter$'
	expect_match "$body" '^# HELP tierdns_answer_duration_seconds '
	expect_match "$body" '^tierdns_answer_duration_seconds_bucket\{le="\+Inf"\} [0-9]+$'
	[ "$m" = "$UM" ] && UBODY=$body || LBODY=$body
done
[ "$(metric "$LBODY" 'tierdns_queries_total{transport="udp"}')" = 3 ] ||
	fail "local: udp queries, expected 3: $LBODY"
[ "$(metric "$LBODY" 'tierdns_answers_rcode_total{rcode="NXDOMAIN"}')" = 1 ] ||
	fail "local: NXDOMAIN answers, expected 1"
[ "$(metric "$LBODY" 'tierdns_cache_hits_total')" = 1 ] || fail "local: cache hits, expected 1"
[ "$(metric "$LBODY" 'tierdns_answer_duration_seconds_count')" = 3 ] ||
	fail "local: latency count, expected 3"
[ "$(metric "$UBODY" 'tierdns_queries_total{transport="udp"}')" = 2 ] ||
	fail "upper: udp queries, expected 2 (the local's misses): $UBODY"
expect_no_match "$UBODY" 'tierdns_cache_'
# the counters of rate limiting, cookies, dnstap, validation and SERVFAIL
# reasons are there (0 here; the tests that provoke them check their values)
for k in 'tierdns_rrl_responses_total{action="slipped"}' 'tierdns_rrl_responses_total{action="dropped"}' \
	tierdns_rrl_limited 'tierdns_cookie_queries_total{server_cookie="bad"}' \
	tierdns_cookie_badcookie_total tierdns_dnstap_dropped_total; do
	[ "$(metric "$UBODY" "$k")" = 0 ] || fail "upper: $k, expected 0"
done
# the local's two upstream queries carried its cookie: a worker's first one
# its client cookie only, a later one of the same worker the upper's server
# cookie too (the two misses may have gone through either worker)
missing=$(metric "$UBODY" 'tierdns_cookie_queries_total{server_cookie="missing"}')
valid=$(metric "$UBODY" 'tierdns_cookie_queries_total{server_cookie="valid"}')
[ "$((missing + valid))" = 2 ] && [ "$missing" -ge 1 ] ||
	fail "upper: cookies, expected 2 (1 or 2 missing, the rest valid): $missing missing, $valid valid"
for k in 'tierdns_servfail_reason_total{reason="timeout"}' 'tierdns_servfail_reason_total{reason="bogus"}' \
	'tierdns_dnssec_verdicts_total{verdict="secure"}' 'tierdns_dnssec_verdicts_total{verdict="insecure"}' \
	'tierdns_dnssec_verdicts_total{verdict="bogus"}' tierdns_upstream_cookie_forged_total \
	tierdns_dnstap_dropped_total; do
	[ "$(metric "$LBODY" "$k")" = 0 ] || fail "local: $k, expected 0"
done
expect_no_match "$LBODY" 'tierdns_rrl_'
expect_no_match "$UBODY" 'tierdns_servfail_reason_'

resp=$(http "$LM" "GET / HTTP/1.1")
expect_match "$resp" '^HTTP/1\.1 404 Not Found'
resp=$(http "$LM" "POST /metrics HTTP/1.1")
expect_match "$resp" '^HTTP/1\.1 405 Method Not Allowed'
q LOCAL webapp.site A  # still serving
expect_status NOERROR

# an address in use is fatal at start (exit 1), one that is not an
# ADDR:PORT a usage error (exit 2)
for bad in "$LM:1" "127.0.0.1:2" "localhost:9153:2"; do
	want=${bad##*:}
	bad=${bad%:*}
	rc=0
	timeout 10 "$UPPER_BIN" --db "$T/upper" --listen "$(_rand_addr)" --port "$(_rand_port)" \
		--control none --metrics "$bad" >"$T/bad.log" 2>&1 || rc=$?
	[ "$rc" -eq "$want" ] || fail "--metrics $bad: exit $rc, expected $want"
	grep -q -- "metrics" "$T/bad.log" || fail "--metrics $bad: no error naming it: $(cat "$T/bad.log")"
done
stop_daemon LOCAL
stop_daemon UPPER
log "ok"
