/*
 * stats.c - per-worker counters, their sums and their output (stats.h).
 */
#include "tierdns/stats.h"

#include <string.h>
#include <time.h>

#include "tierdns/cookie.h"
#include "tierdns/dnsproto.h"
#include "tierdns/log.h"
#include "tierdns/resolve.h"

uint64_t stats_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static const struct {
	uint16_t type;
	const char *name;
} qtypes[STATS_QT_COUNT] = {
	[STATS_QT_A] = { 1, "A" },         [STATS_QT_NS] = { 2, "NS" },
	[STATS_QT_CNAME] = { 5, "CNAME" }, [STATS_QT_SOA] = { 6, "SOA" },
	[STATS_QT_PTR] = { 12, "PTR" },    [STATS_QT_MX] = { 15, "MX" },
	[STATS_QT_TXT] = { 16, "TXT" },    [STATS_QT_AAAA] = { 28, "AAAA" },
	[STATS_QT_SRV] = { 33, "SRV" },    [STATS_QT_NAPTR] = { 35, "NAPTR" },
	[STATS_QT_DS] = { 43, "DS" },      [STATS_QT_DNSKEY] = { 48, "DNSKEY" },
	[STATS_QT_SVCB] = { 64, "SVCB" },  [STATS_QT_HTTPS] = { 65, "HTTPS" },
	[STATS_QT_CAA] = { 257, "CAA" },   [STATS_QT_AXFR] = { 252, "AXFR" },
	[STATS_QT_IXFR] = { 251, "IXFR" }, [STATS_QT_ANY] = { 255, "ANY" },
	[STATS_QT_OTHER] = { 0, "other" },
};

unsigned stats_qtype_slot_slow(uint16_t type)
{
	for (unsigned i = 0; i < STATS_QT_OTHER; i++)
		if (qtypes[i].type == type)
			return i;
	return STATS_QT_OTHER;
}

/* The qtype of an answer's question: the name is written uncompressed by
 * our encoder (a compression pointer ends it all the same). UINT32_MAX
 * when there is no question. */
static uint32_t answer_qtype(const uint8_t *msg, size_t len)
{
	size_t p = DNS_HDR_LEN;

	if (dns_rd16(msg + 4) == 0)
		return UINT32_MAX;
	while (p < len && msg[p] != 0 && (msg[p] & 0xc0) == 0)
		p += (size_t)msg[p] + 1;
	if (p < len && (msg[p] & 0xc0) == 0xc0)
		p++; /* the pointer's second byte */
	if (p + 3 > len)
		return UINT32_MAX;
	return dns_rd16(msg + p + 1);
}

/* Bucket i holds [2^(i-1), 2^i) us (bucket 0: 0 us), the last one the
 * rest: the bit length of us, capped. */
static unsigned latency_bucket(uint64_t us)
{
	unsigned b = us == 0 ? 0 : 64 - (unsigned)__builtin_clzll(us);

	return b < STATS_LAT_BUCKETS - 1 ? b : STATS_LAT_BUCKETS - 1;
}

static void count_answer(struct tdns_stats *s, bool tcp, const uint8_t *msg,
			 size_t len)
{
	uint32_t qt;

	if (len < DNS_HDR_LEN) {
		stats_inc(&s->dropped[tcp]);
		return;
	}
	qt = answer_qtype(msg, len);
	stats_answered(s, tcp, true, msg[3], (msg[2] >> 3) & 0x0f, qt != UINT32_MAX,
		       (uint16_t)qt);
	/* Not part of a batch: its latency is counted by the caller. */
	s->batch_answers--;
}

static void count_latency(struct tdns_stats *s, uint64_t us, uint64_t n)
{
	stats_add(&s->latency[latency_bucket(us)], n);
	stats_add(&s->latency_us, us * n);
}

void stats_answer_late(struct tdns_stats *s, bool tcp, const uint8_t *msg,
		       size_t len, uint64_t t0_us)
{
	uint64_t now = stats_now_us();

	count_answer(s, tcp, msg, len);
	if (len >= DNS_HDR_LEN)
		count_latency(s, now > t0_us ? now - t0_us : 0, 1);
}

void stats_batch(struct tdns_stats *s, bool begin)
{
	uint64_t now = stats_now_us();

	if (begin) {
		s->batch_t0 = now;
		s->batch_answers = 0;
		s->in_batch = true;
		return;
	}
	s->in_batch = false;
	if (s->batch_answers > 0)
		count_latency(s, now > s->batch_t0 ? now - s->batch_t0 : 0,
			      s->batch_answers);
	s->batch_answers = 0;
}

/* ---- sums ---- */

void stats_sum_add(struct tdns_stats_sum *sum, const struct tdns_stats *s)
{
	uint64_t n, answers = 0, others = 0;
	unsigned i;

	for (unsigned t = 0; t < 2; t++) {
		uint64_t *queries = t == 0 ? &sum->queries_udp : &sum->queries_tcp;

		n = stats_get(&s->dropped[t]);
		sum->dropped += n;
		*queries += n;
		for (i = 0; i < 16; i++) {
			n = stats_get(&s->answers[i][t]);
			sum->rcode[i] += n;
			*queries += n;
			answers += n;
		}
	}
	for (i = 0; i < STATS_QT_COUNT; i++)
		sum->qtype[i] += stats_get(&s->qtype[i]);
	for (i = 1; i < 16; i++) {
		n = stats_get(&s->opcode[i]);
		sum->opcode[i] += n;
		others += n;
	}
	/* QUERY is not counted apart (stats_answered): every answer of no
	 * other opcode is one. The reads are not one instant: never below 0. */
	sum->opcode[0] += answers > others ? answers - others : 0;
	for (i = 0; i < STATS_LAT_BUCKETS; i++)
		sum->latency[i] += stats_get(&s->latency[i]);
	sum->latency_us += stats_get(&s->latency_us);
}

void stats_sum_add_cookies(struct tdns_stats_sum *sum, const struct cookie_counters *c)
{
	sum->cookie_valid += stats_get(&c->valid);
	sum->cookie_bad += stats_get(&c->bad);
	sum->cookie_client_only += stats_get(&c->client_only);
	sum->cookie_badcookie += stats_get(&c->badcookie);
}

void stats_sum_add_resolver(struct tdns_stats_sum *sum,
			    const struct tdns_resolver_stats *rs)
{
	unsigned i;

	sum->answers_static += stats_get(&rs->static_answers);
	sum->answers_cache += stats_get(&rs->cache_hits);
	sum->answers_upstream += stats_get(&rs->upstream_answers);
	sum->cache_hits += stats_get(&rs->cache_hits);
	sum->cache_misses += stats_get(&rs->misses);
	sum->cache_coalesced += stats_get(&rs->coalesced);
	sum->cache_prefetched += stats_get(&rs->prefetched);
	sum->cache_replays += stats_get(&rs->replays);
	sum->cache_stored += stats_get(&rs->cache_stored);
	sum->servfail += stats_get(&rs->servfail);
	sum->failcache_hits += stats_get(&rs->failcache_hits);
	sum->stale_answers += stats_get(&rs->stale_answers);
	sum->refused_acl += stats_get(&rs->refused_acl);
	sum->upstream_sent += stats_get(&rs->upstream_sent);
	sum->upstream_timeouts += stats_get(&rs->upstream_timeouts);
	sum->upstream_failed += stats_get(&rs->upstream_failed);
	sum->upstream_ignored += stats_get(&rs->upstream_ignored);
	sum->tcp_retries += stats_get(&rs->tcp_retries);
	stats_sum_add_cookies(sum, &rs->cookies);
	for (i = 0; i < STATS_DNSSEC_COUNT; i++)
		sum->dnssec[i] += stats_get(&rs->dnssec[i]);
	for (i = 0; i < STATS_SERVFAIL_COUNT; i++)
		sum->servfail_why[i] += stats_get(&rs->servfail_why[i]);
	for (i = 0; i < STATS_MAX_UPSTREAM; i++) {
		sum->up[i].sent += stats_get(&rs->up_sent[i]);
		sum->up[i].answered += stats_get(&rs->up_answered[i]);
		sum->up[i].timeouts += stats_get(&rs->up_timeouts[i]);
		sum->up[i].rtt_ms_sum += stats_get(&rs->up_rtt_ms[i]);
	}
}

static void sub(uint64_t *a, uint64_t b)
{
	*a = *a > b ? *a - b : 0;
}

void stats_sum_sub(struct tdns_stats_sum *sum, const struct tdns_stats_sum *base)
{
	unsigned i;

	sub(&sum->queries_udp, base->queries_udp);
	sub(&sum->queries_tcp, base->queries_tcp);
	sub(&sum->dropped, base->dropped);
	for (i = 0; i < STATS_QT_COUNT; i++)
		sub(&sum->qtype[i], base->qtype[i]);
	for (i = 0; i < 16; i++) {
		sub(&sum->rcode[i], base->rcode[i]);
		sub(&sum->opcode[i], base->opcode[i]);
	}
	for (i = 0; i < STATS_LAT_BUCKETS; i++)
		sub(&sum->latency[i], base->latency[i]);
	sub(&sum->latency_us, base->latency_us);
	sub(&sum->tcp_accepted, base->tcp_accepted);
	sub(&sum->answers_static, base->answers_static);
	sub(&sum->answers_cache, base->answers_cache);
	sub(&sum->answers_upstream, base->answers_upstream);
	sub(&sum->cache_hits, base->cache_hits);
	sub(&sum->cache_misses, base->cache_misses);
	sub(&sum->cache_coalesced, base->cache_coalesced);
	sub(&sum->cache_prefetched, base->cache_prefetched);
	sub(&sum->cache_replays, base->cache_replays);
	sub(&sum->cache_evictions, base->cache_evictions);
	sub(&sum->cache_stored, base->cache_stored);
	sub(&sum->servfail, base->servfail);
	sub(&sum->failcache_hits, base->failcache_hits);
	sub(&sum->stale_answers, base->stale_answers);
	sub(&sum->refused_acl, base->refused_acl);
	sub(&sum->upstream_sent, base->upstream_sent);
	sub(&sum->upstream_timeouts, base->upstream_timeouts);
	sub(&sum->upstream_failed, base->upstream_failed);
	sub(&sum->upstream_ignored, base->upstream_ignored);
	sub(&sum->tcp_retries, base->tcp_retries);
	sub(&sum->dnstap_dropped, base->dnstap_dropped);
	sub(&sum->rrl_slipped, base->rrl_slipped);
	sub(&sum->rrl_dropped, base->rrl_dropped);
	sub(&sum->cookie_valid, base->cookie_valid);
	sub(&sum->cookie_bad, base->cookie_bad);
	sub(&sum->cookie_client_only, base->cookie_client_only);
	sub(&sum->cookie_badcookie, base->cookie_badcookie);
	sub(&sum->upstream_cookie_forged, base->upstream_cookie_forged);
	for (i = 0; i < STATS_DNSSEC_COUNT; i++)
		sub(&sum->dnssec[i], base->dnssec[i]);
	for (i = 0; i < STATS_SERVFAIL_COUNT; i++)
		sub(&sum->servfail_why[i], base->servfail_why[i]);
	for (i = 0; i < sum->n_upstream && i < STATS_MAX_UPSTREAM; i++) {
		sub(&sum->up[i].sent, base->up[i].sent);
		sub(&sum->up[i].answered, base->up[i].answered);
		sub(&sum->up[i].timeouts, base->up[i].timeouts);
		sub(&sum->up[i].rtt_ms_sum, base->up[i].rtt_ms_sum);
	}
}

/* ---- output: one table of metrics for both formats ---- */

static const char *const rcode_names[16] = {
	"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
	"YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE", "DSOTYPENI",
	"RCODE12", "RCODE13", "RCODE14", "RCODE15",
};
static const char *const dnssec_names[STATS_DNSSEC_COUNT] = {
	"unchecked", "secure", "insecure", "bogus",
};
static const char *const opcode_names[16] = {
	"QUERY", "IQUERY", "STATUS", "OPCODE3", "NOTIFY", "UPDATE", "DSO",
	"OPCODE7", "OPCODE8", "OPCODE9", "OPCODE10", "OPCODE11", "OPCODE12",
	"OPCODE13", "OPCODE14", "OPCODE15",
};

/*
 * One value: `key` is its name in "stats" (unbound-control style), `metric`
 * its Prometheus family (tierdns_ prefixed; counters end in _total),
 * `label` its labels or NULL. Consecutive items of one family share its
 * HELP and TYPE lines.
 */
struct item {
	char key[96];
	const char *metric;
	const char *help;
	bool counter;
	char label[96];
	uint64_t value;
	bool ms;       /* value in ms: Prometheus shows seconds (base units) */
};

typedef void (*item_fn)(void *ctx, const struct item *it);

#define EMIT(k, m, h, c, v)                                                 \
	do {                                                                \
		struct item it_ = { .metric = (m), .help = (h), .counter = (c), \
				    .value = (v) };                         \
		snprintf(it_.key, sizeof(it_.key), "%s", (k));              \
		fn(ctx, &it_);                                              \
	} while (0)

static void emit_l(item_fn fn, void *ctx, const char *key, const char *metric,
		   const char *help, bool counter, const char *label, uint64_t v)
{
	struct item it = { .metric = metric, .help = help, .counter = counter,
			   .value = v };
	size_t klen = strlen(key);

	/* Keys ending in "_ms" hold milliseconds: Prometheus gets seconds. */
	it.ms = klen > 3 && strcmp(key + klen - 3, "_ms") == 0;

	snprintf(it.key, sizeof(it.key), "%s", key);
	snprintf(it.label, sizeof(it.label), "%s", label);
	fn(ctx, &it);
}

/* The counters of one upstream, in the order of up_value. */
static const struct {
	const char *key, *metric, *help;
	bool counter;
} up_items[] = {
	{ "sent", "tierdns_upstream_server_queries_total", "Attempts sent, per upstream.",
	  true },
	{ "answered", "tierdns_upstream_server_answers_total",
	  "Attempts answered, per upstream.", true },
	{ "timeouts", "tierdns_upstream_server_timeouts_total",
	  "Attempts timed out, per upstream.", true },
	{ "rtt_avg_ms", "tierdns_upstream_server_rtt_avg_seconds",
	  "Average RTT of the answered attempts, per upstream (0: none answered).", false },
	{ "srtt_ms", "tierdns_upstream_server_srtt_seconds",
	  "Smoothed RTT, per upstream (0: not measured).", false },
	{ "up", "tierdns_upstream_server_up",
	  "1 while the upstream is usable, 0 while it is marked dead.", false },
};

static uint64_t up_value(const struct tdns_upstream_sum *u, unsigned item)
{
	switch (item) {
	case 0: return u->sent;
	case 1: return u->answered;
	case 2: return u->timeouts;
	case 3: return u->answered > 0 ? u->rtt_ms_sum / u->answered : 0;
	case 4: return u->srtt_ms;
	default: return u->dead ? 0 : 1;
	}
}

static void each_item(const struct tdns_stats_sum *s, bool local, item_fn fn,
		      void *ctx)
{
	char key[96], label[96];
	unsigned i;

	EMIT("time.up", "tierdns_uptime_seconds", "Seconds since the daemon started.",
	     false, s->uptime_s);
	EMIT("workers", "tierdns_workers", "Worker threads.", false, s->workers);
	EMIT("zones", "tierdns_zones", "Zones in the store.", false, s->zones);
	emit_l(fn, ctx, "queries.udp", "tierdns_queries_total",
	       "Queries received, by transport.", true, "transport=\"udp\"",
	       s->queries_udp);
	emit_l(fn, ctx, "queries.tcp", "tierdns_queries_total",
	       "Queries received, by transport.", true, "transport=\"tcp\"",
	       s->queries_tcp);
	EMIT("queries.dropped", "tierdns_queries_dropped_total",
	     "Messages given no answer (not a query, malformed beyond a reply).",
	     true, s->dropped);
	EMIT("tcp.connections", "tierdns_tcp_connections_total",
	     "TCP connections accepted.", true, s->tcp_accepted);
	EMIT("dnstap.dropped", "tierdns_dnstap_dropped_total",
	     "dnstap messages dropped (queue full or no collector).", true,
	     s->dnstap_dropped);
	emit_l(fn, ctx, "cookies.valid", "tierdns_cookie_queries_total",
	       "Queries with a COOKIE option, by its server cookie: valid, "
	       "bad (present, not valid) or missing (a client cookie only).",
	       true, "server_cookie=\"valid\"", s->cookie_valid);
	emit_l(fn, ctx, "cookies.bad", "tierdns_cookie_queries_total",
	       "Queries with a COOKIE option, by its server cookie: valid, "
	       "bad (present, not valid) or missing (a client cookie only).",
	       true, "server_cookie=\"bad\"", s->cookie_bad);
	emit_l(fn, ctx, "cookies.missing", "tierdns_cookie_queries_total",
	       "Queries with a COOKIE option, by its server cookie: valid, "
	       "bad (present, not valid) or missing (a client cookie only).",
	       true, "server_cookie=\"missing\"", s->cookie_client_only);
	EMIT("cookies.badcookie_sent", "tierdns_cookie_badcookie_total",
	     "BADCOOKIE answers sent (rate-limited queries without a valid "
	     "server cookie).", true, s->cookie_badcookie);
	if (!local) {
		emit_l(fn, ctx, "rrl.slipped", "tierdns_rrl_responses_total",
		       "UDP responses rate-limited, by action: slipped (sent "
		       "truncated, or BADCOOKIE to a client with a cookie) or "
		       "dropped.", true, "action=\"slipped\"", s->rrl_slipped);
		emit_l(fn, ctx, "rrl.dropped", "tierdns_rrl_responses_total",
		       "UDP responses rate-limited, by action: slipped (sent "
		       "truncated, or BADCOOKIE to a client with a cookie) or "
		       "dropped.", true, "action=\"dropped\"", s->rrl_dropped);
		EMIT("rrl.limited", "tierdns_rrl_limited",
		     "Rate-limiting keys (prefix, class, name) limited now.", false,
		     s->rrl_limited);
	}
	for (i = 0; i < STATS_QT_COUNT; i++) {
		snprintf(key, sizeof(key), "answers.qtype.%s", qtypes[i].name);
		snprintf(label, sizeof(label), "qtype=\"%s\"", qtypes[i].name);
		emit_l(fn, ctx, key, "tierdns_answers_qtype_total",
		       "Answers sent, by query type.", true, label, s->qtype[i]);
	}
	for (i = 0; i < 16; i++) {
		if (i > 5 && s->rcode[i] == 0)
			continue;
		snprintf(key, sizeof(key), "answers.rcode.%s", rcode_names[i]);
		snprintf(label, sizeof(label), "rcode=\"%s\"", rcode_names[i]);
		emit_l(fn, ctx, key, "tierdns_answers_rcode_total",
		       "Answers sent, by response code.", true, label, s->rcode[i]);
	}
	for (i = 0; i < 16; i++) {
		if (i != 0 && i != 4 && i != 5 && s->opcode[i] == 0)
			continue;
		snprintf(key, sizeof(key), "answers.opcode.%s", opcode_names[i]);
		snprintf(label, sizeof(label), "opcode=\"%s\"", opcode_names[i]);
		emit_l(fn, ctx, key, "tierdns_answers_opcode_total",
		       "Answers sent, by opcode.", true, label, s->opcode[i]);
	}
	if (local) {
		emit_l(fn, ctx, "answers.static", "tierdns_answers_source_total",
		       "Answers by where they came from.", true, "source=\"static\"",
		       s->answers_static);
		emit_l(fn, ctx, "answers.cache", "tierdns_answers_source_total",
		       "Answers by where they came from.", true, "source=\"cache\"",
		       s->answers_cache);
		emit_l(fn, ctx, "answers.upstream", "tierdns_answers_source_total",
		       "Answers by where they came from.", true, "source=\"upstream\"",
		       s->answers_upstream);
		EMIT("answers.servfail", "tierdns_servfail_total",
		     "SERVFAIL answers given by the resolver.", true, s->servfail);
		for (i = 0; i < STATS_SERVFAIL_COUNT; i++) {
			snprintf(key, sizeof(key), "servfail.%s", resolver_servfail_name(i));
			snprintf(label, sizeof(label), "reason=\"%s\"",
				 resolver_servfail_name(i));
			emit_l(fn, ctx, key, "tierdns_servfail_reason_total",
			       "SERVFAIL answers given by the resolver, by reason.", true,
			       label, s->servfail_why[i]);
		}
		for (i = 1; i < STATS_DNSSEC_COUNT; i++) {
			snprintf(key, sizeof(key), "dnssec.%s", dnssec_names[i]);
			snprintf(label, sizeof(label), "verdict=\"%s\"", dnssec_names[i]);
			emit_l(fn, ctx, key, "tierdns_dnssec_verdicts_total",
			       "Upstream answers validated (DNSSEC), by verdict.", true,
			       label, s->dnssec[i]);
		}
		EMIT("answers.failcache", "tierdns_failcache_hits_total",
		     "SERVFAIL answers from the failure cache (RFC 9520).", true,
		     s->failcache_hits);
		EMIT("answers.stale", "tierdns_stale_answers_total",
		     "Expired entries served (RFC 8767).", true, s->stale_answers);
		EMIT("answers.refused_acl", "tierdns_refused_acl_total",
		     "Clients refused by the access list.", true, s->refused_acl);
		EMIT("cache.entries", "tierdns_cache_entries",
		     "Entries in the cache, expired ones included.", false,
		     s->cache_entries);
		EMIT("cache.bytes", "tierdns_cache_bytes",
		     "Bytes of keys and values in the cache.", false, s->cache_bytes);
		EMIT("cache.hits", "tierdns_cache_hits_total", "Cache hits.", true,
		     s->cache_hits);
		EMIT("cache.replays", "tierdns_cache_replays_total",
		     "Cache hits answered from the packet cache (--packet-cache).", true,
		     s->cache_replays);
		EMIT("cache.misses", "tierdns_cache_misses_total",
		     "Queries that waited on an upstream.", true, s->cache_misses);
		EMIT("cache.coalesced", "tierdns_cache_coalesced_total",
		     "Misses joined to an outstanding upstream query.", true,
		     s->cache_coalesced);
		EMIT("cache.prefetched", "tierdns_cache_prefetched_total",
		     "Hits in the last tenth of their TTL that started a refresh (--prefetch).",
		     true, s->cache_prefetched);
		EMIT("cache.stored", "tierdns_cache_stored_total",
		     "Answers written to the cache.", true, s->cache_stored);
		EMIT("cache.evictions", "tierdns_cache_evictions_total",
		     "Entries evicted to keep the cache within its size.", true,
		     s->cache_evictions);
		EMIT("upstream.sent", "tierdns_upstream_queries_total",
		     "Upstream attempts sent.", true, s->upstream_sent);
		EMIT("upstream.timeouts", "tierdns_upstream_timeouts_total",
		     "Upstream attempts timed out.", true, s->upstream_timeouts);
		EMIT("upstream.failed", "tierdns_upstream_failures_total",
		     "Upstream attempts ended by an error rcode, garbage or a socket "
		     "error.", true, s->upstream_failed);
		EMIT("upstream.ignored", "tierdns_upstream_ignored_total",
		     "Upstream replies ignored (ID, question or flags mismatch).", true,
		     s->upstream_ignored);
		EMIT("upstream.tcp_retries", "tierdns_upstream_tcp_retries_total",
		     "Truncated upstream replies retried over TCP.", true,
		     s->tcp_retries);
		EMIT("upstream.cookie_forged", "tierdns_upstream_cookie_forged_total",
		     "Upstream replies dropped: their COOKIE is not ours (RFC 7873 "
		     "5.3).", true, s->upstream_cookie_forged);
		/* Family by family (Prometheus wants a family's samples
		 * together), each upstream in turn. */
		for (unsigned f = 0; f < sizeof(up_items) / sizeof(up_items[0]); f++)
			for (i = 0; i < s->n_upstream && i < STATS_MAX_UPSTREAM; i++) {
				snprintf(label, sizeof(label), "upstream=\"%s\"", s->up[i].addr);
				snprintf(key, sizeof(key), "upstream.%u.%s", i, up_items[f].key);
				emit_l(fn, ctx, key, up_items[f].metric, up_items[f].help,
				       up_items[f].counter, label, up_value(&s->up[i], f));
			}
	}
}

struct text_ctx {
	FILE *out;
};

static void text_item(void *ctx, const struct item *it)
{
	struct text_ctx *t = ctx;

	fprintf(t->out, "%s=%llu\n", it->key, (unsigned long long)it->value);
}

void stats_print(FILE *out, const struct tdns_stats_sum *sum, bool local)
{
	struct text_ctx t = { out };
	uint64_t answers = 0;
	unsigned i;

	each_item(sum, local, text_item, &t);
	for (i = 0; i < STATS_LAT_BUCKETS; i++) {
		answers += sum->latency[i];
		if (i == STATS_LAT_BUCKETS - 1)
			fprintf(out, "latency.us.inf=%llu\n",
				(unsigned long long)sum->latency[i]);
		else
			fprintf(out, "latency.us.lt%llu=%llu\n", 1ull << i,
				(unsigned long long)sum->latency[i]);
	}
	fprintf(out, "latency.us.avg=%llu\n",
		(unsigned long long)(answers > 0 ? sum->latency_us / answers : 0));
}

struct prom_ctx {
	FILE *out;
	const char *last; /* the family whose HELP/TYPE were written */
};

static void prom_item(void *ctx, const struct item *it)
{
	struct prom_ctx *p = ctx;

	if (p->last == NULL || strcmp(p->last, it->metric) != 0) {
		fprintf(p->out, "# HELP %s %s\n# TYPE %s %s\n", it->metric, it->help,
			it->metric, it->counter ? "counter" : "gauge");
		p->last = it->metric;
	}
	fprintf(p->out, "%s", it->metric);
	if (it->label[0] != '\0')
		fprintf(p->out, "{%s}", it->label);
	if (it->ms)
		fprintf(p->out, " %.3f\n", (double)it->value / 1000.0);
	else
		fprintf(p->out, " %llu\n", (unsigned long long)it->value);
}

void stats_print_prometheus(FILE *out, const struct tdns_stats_sum *sum, bool local)
{
	struct prom_ctx p = { out, NULL };
	uint64_t cum = 0;
	unsigned i;

	each_item(sum, local, prom_item, &p);
	fprintf(out, "# HELP tierdns_answer_duration_seconds Time from reading a "
		     "query to handing its answer over.\n"
		     "# TYPE tierdns_answer_duration_seconds histogram\n");
	for (i = 0; i + 1 < STATS_LAT_BUCKETS; i++) {
		cum += sum->latency[i];
		fprintf(out, "tierdns_answer_duration_seconds_bucket{le=\"%.6f\"} %llu\n",
			(double)(1ull << i) / 1e6, (unsigned long long)cum);
	}
	cum += sum->latency[STATS_LAT_BUCKETS - 1];
	fprintf(out, "tierdns_answer_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
		     "tierdns_answer_duration_seconds_sum %.6f\n"
		     "tierdns_answer_duration_seconds_count %llu\n",
		(unsigned long long)cum, (double)sum->latency_us / 1e6,
		(unsigned long long)cum);
}

/* The counters of the log line past the common ones: what is not 0 of the
 * SERVFAIL reasons, the rest always. */
static void log_extra(const struct tdns_stats_sum *s, bool local, char *buf, size_t cap)
{
	size_t n;
	unsigned i;

	if (!local) {
		snprintf(buf, cap, "rrl %llu slipped, %llu dropped, %llu keys limited; "
			 "cookies %llu valid, %llu bad, %llu missing, %llu BADCOOKIE; "
			 "%llu dnstap dropped",
			 (unsigned long long)s->rrl_slipped, (unsigned long long)s->rrl_dropped,
			 (unsigned long long)s->rrl_limited, (unsigned long long)s->cookie_valid,
			 (unsigned long long)s->cookie_bad,
			 (unsigned long long)s->cookie_client_only,
			 (unsigned long long)s->cookie_badcookie,
			 (unsigned long long)s->dnstap_dropped);
		return;
	}
	n = (size_t)snprintf(buf, cap, "dnssec %llu secure, %llu insecure, %llu bogus; "
			     "cookies %llu valid, %llu bad, %llu missing; "
			     "%llu upstream replies with a forged cookie; "
			     "%llu dnstap dropped; servfail by reason:",
			     (unsigned long long)s->dnssec[1], (unsigned long long)s->dnssec[2],
			     (unsigned long long)s->dnssec[3], (unsigned long long)s->cookie_valid,
			     (unsigned long long)s->cookie_bad,
			     (unsigned long long)s->cookie_client_only,
			     (unsigned long long)s->upstream_cookie_forged,
			     (unsigned long long)s->dnstap_dropped);
	for (i = 0; i < STATS_SERVFAIL_COUNT && n < cap; i++)
		if (s->servfail_why[i] > 0)
			n += (size_t)snprintf(buf + n, cap - n, " %s %llu",
					      resolver_servfail_name(i),
					      (unsigned long long)s->servfail_why[i]);
	if (n < cap && s->servfail == 0)
		snprintf(buf + n, cap - n, " none");
}

void stats_log(const char *who, const struct tdns_stats_sum *s, bool local)
{
	uint64_t q = s->queries_udp + s->queries_tcp;
	char extra[512];

	log_extra(s, local, extra, sizeof(extra));
	if (!local) {
		log_info("%s: %llu queries (%llu udp, %llu tcp), %llu dropped, "
			 "NOERROR %llu, NXDOMAIN %llu, REFUSED %llu, SERVFAIL %llu, "
			 "%llu tcp connections; %s", who,
			 (unsigned long long)q, (unsigned long long)s->queries_udp,
			 (unsigned long long)s->queries_tcp,
			 (unsigned long long)s->dropped,
			 (unsigned long long)s->rcode[DNS_RCODE_NOERROR],
			 (unsigned long long)s->rcode[DNS_RCODE_NXDOMAIN],
			 (unsigned long long)s->rcode[DNS_RCODE_REFUSED],
			 (unsigned long long)s->rcode[DNS_RCODE_SERVFAIL],
			 (unsigned long long)s->tcp_accepted, extra);
		return;
	}
	log_info("%s: %llu queries (%llu udp, %llu tcp), %llu dropped, "
		 "%llu static, %llu cache hits, %llu misses (%llu coalesced), "
		 "%llu from upstream, %llu upstream sent, %llu ignored, "
		 "%llu failed, %llu timeouts, %llu servfail (%llu from the "
		 "failure cache), %llu stale, %llu refused; %s", who,
		 (unsigned long long)q, (unsigned long long)s->queries_udp,
		 (unsigned long long)s->queries_tcp, (unsigned long long)s->dropped,
		 (unsigned long long)s->answers_static,
		 (unsigned long long)s->cache_hits,
		 (unsigned long long)s->cache_misses,
		 (unsigned long long)s->cache_coalesced,
		 (unsigned long long)s->answers_upstream,
		 (unsigned long long)s->upstream_sent,
		 (unsigned long long)s->upstream_ignored,
		 (unsigned long long)s->upstream_failed,
		 (unsigned long long)s->upstream_timeouts,
		 (unsigned long long)s->servfail,
		 (unsigned long long)s->failcache_hits,
		 (unsigned long long)s->stale_answers,
		 (unsigned long long)s->refused_acl, extra);
}
