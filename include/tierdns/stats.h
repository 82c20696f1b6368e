/*
 * stats.h - live statistics of a daemon, summed across workers on demand.
 *
 * The contract (no lock and no atomic read-modify-write on the query path):
 *   - every counter belongs to exactly one thread, its writer (a worker's
 *     struct tdns_stats and its resolver's stats are written only by that
 *     worker's thread); the writer adds with stats_add: on x86-64 one add
 *     to memory without a lock prefix (an aligned 8-byte store is
 *     single-copy atomic there, so a reader sees the old or the new value;
 *     the Linux kernel counts its per-CPU statistics the same way), written
 *     as asm so that the compiler does not take it for a racy C access;
 *     elsewhere a relaxed atomic load and a relaxed atomic store. No
 *     increment is ever lost (one writer) and none is a data race;
 *   - any other thread (the control thread) reads with relaxed atomic
 *     loads (stats_get). A sum taken while the workers run is a mix of
 *     moments a few microseconds apart: each counter is exact, the set is
 *     not one instant;
 *   - nothing but the writer ever writes a counter. A reset ("stats
 *     --reset") is a snapshot the reader keeps and subtracts
 *     (stats_sum_sub), never a store into a worker's counters.
 * TCP connections accepted (netio.h) follow the same rule per loop; cache
 * evictions (cache.h) are one process-wide counter with an atomic add per
 * eviction walk (a cache write, never a lookup).
 *
 * Cost on the query path (callgrind, tools/ir_replay.sh, the lines of
 * this header): about 18 instructions per answer for the pipeline's
 * counting (pipeline.h), 19 on a cache hit of the local tier (its
 * resolver counts the hit too), and 4 to 6 per answer for the batch's
 * latency besides its two clock reads (a batch of about eight answers).
 *
 * Latency: the time from reading a query to handing its answer over, in
 * log2 buckets of microseconds. Answers given at once are timed per UDP
 * batch (one clock read as the batch begins, one as it ends, the batch's
 * time counting for each of its answers: an upper bound, and two clock
 * reads per batch instead of per query), TCP queries one by one; deferred
 * answers (the local tier's misses) from the moment they were held.
 */
#ifndef TIERDNS_STATS_H
#define TIERDNS_STATS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef _Atomic uint64_t tdns_counter;

/* On the counter's own thread only (see above). */
static inline void stats_add(tdns_counter *c, uint64_t n)
{
#if defined(__x86_64__)
	/* One instruction instead of a load, an add and a store. */
	__asm__ volatile("addq %1, %0" : "+m"(*(uint64_t *)c) : "er"(n));
#else
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
			      memory_order_relaxed);
#endif
}

static inline void stats_inc(tdns_counter *c)
{
	stats_add(c, 1);
}

/* From any thread. */
static inline uint64_t stats_get(const tdns_counter *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

/* Query types counted by name; the rest are "other". A and AAAA, most of
 * any traffic, side by side (struct tdns_stats). */
enum stats_qtype {
	STATS_QT_A = 0, STATS_QT_AAAA, STATS_QT_NS, STATS_QT_CNAME, STATS_QT_SOA,
	STATS_QT_PTR, STATS_QT_MX, STATS_QT_TXT, STATS_QT_SRV, STATS_QT_NAPTR,
	STATS_QT_DS, STATS_QT_DNSKEY, STATS_QT_SVCB, STATS_QT_HTTPS, STATS_QT_CAA,
	STATS_QT_AXFR, STATS_QT_IXFR, STATS_QT_ANY, STATS_QT_OTHER,
	STATS_QT_COUNT
};

/* Validation verdicts (cache.h enum valid_status: 0 unchecked, then
 * secure, insecure, bogus). */
#define STATS_DNSSEC_COUNT 4
/* SERVFAIL reasons of the local tier (resolve.h enum resolver_servfail). */
#define STATS_SERVFAIL_COUNT 14

#define STATS_LAT_BUCKETS 24 /* bucket i < 2^i us; the last: the rest */
/* Every upstream a resolver can have: the default set and one per
 * forward: entry (opts.h OPTS_MAX_UPSTREAM + OPTS_MAX_FORWARD; main_local.c
 * checks it). */
#define STATS_MAX_UPSTREAM 72

/* One worker's query counters (written by its thread only). An answer
 * writes three words: batch_answers and answers[rcode][transport] (within
 * the first 72 bytes for NOERROR to NXDOMAIN) and its qtype's (A and AAAA
 * in one 16-byte pair): two cache lines of this struct, with nothing of
 * another thread's in them (each worker's struct is its own). */
struct tdns_stats {
	/* The batch being timed (the writer's own state, not counters). */
	uint64_t batch_answers;
	/* Queries are counted as they are done with: answered, by header
	 * rcode and transport (0 UDP, 1 a stream: TCP, TLS, HTTPS), or
	 * given no answer (dropped: not a query, malformed beyond a reply,
	 * rate-limited away). The queries of a transport are the sum of its
	 * column and its drops: one counter per query instead of two. */
	tdns_counter answers[16][2];
	tdns_counter qtype[STATS_QT_COUNT];  /* of the answers sent */
	tdns_counter dropped[2];
	tdns_counter opcode[16];             /* [0] unused: derived */
	tdns_counter latency[STATS_LAT_BUCKETS];
	tdns_counter latency_us;       /* sum, for an average */
	uint64_t batch_t0;
	bool in_batch;
};

/* Monotonic microseconds (CLOCK_MONOTONIC). */
uint64_t stats_now_us(void);

/* The slot of a query type (enum stats_qtype). */
unsigned stats_qtype_slot_slow(uint16_t type);
static inline unsigned stats_qtype_slot(uint16_t type)
{
	/* A and AAAA are most of any traffic. */
	if (type == 1)
		return STATS_QT_A;
	if (type == 28)
		return STATS_QT_AAAA;
	return stats_qtype_slot_slow(type);
}

/* A query that came over tcp (or UDP) is done with: an answer with
 * header rcode (the low 4 bits), opcode and, when it has a question,
 * qtype was sent (sent), or nothing was (dropped). Its latency is counted
 * when the batch ends (stats_batch). pipeline.h calls it for every query
 * its pipeline_run answers or drops on a thread bound with
 * pipeline_bind_stats. */
static inline void stats_answered(struct tdns_stats *s, bool tcp, bool sent,
				  unsigned rcode, unsigned opcode, bool has_q,
				  uint16_t qtype)
{
	if (!sent) {
		stats_inc(&s->dropped[tcp]);
		return;
	}
	stats_inc(&s->answers[rcode & 0x0f][tcp]);
	/* Nearly every answer is to a QUERY: only the others are counted
	 * here, QUERY is the rest (stats_sum_add). */
	if (opcode != 0)
		stats_inc(&s->opcode[opcode & 0x0f]);
	if (has_q)
		stats_inc(&s->qtype[stats_qtype_slot(qtype)]);
	s->batch_answers++;
}

/* A deferred answer msg[0..len) (the local tier's misses, answered
 * outside the pipeline), held since t0_us (stats_now_us): counted from
 * its header and question, its latency now. */
void stats_answer_late(struct tdns_stats *s, bool tcp, const uint8_t *msg,
		       size_t len, uint64_t t0_us);
/* A UDP batch (netio's on_batch) or a single TCP query begins (begin
 * true) or ends: the answers counted in between get its time. */
void stats_batch(struct tdns_stats *s, bool begin);

/* ---- sums, snapshots and output (the control thread) ---- */

struct tdns_upstream_sum {
	char addr[64];
	uint64_t sent, answered, timeouts, rtt_ms_sum;
	uint32_t srtt_ms;   /* infra.h: smoothed, 0 unknown */
	unsigned fails;     /* in a row */
	bool dead;
};

/* Everything "stats" shows, as plain numbers. Fields of the local tier are
 * 0 on the upper. */
struct tdns_stats_sum {
	/* gauges (not subtracted by a reset) */
	uint64_t uptime_s;
	uint64_t workers;
	uint64_t zones;
	uint64_t cache_entries;
	uint64_t cache_bytes;
	/* counters */
	uint64_t queries_udp, queries_tcp, dropped;
	uint64_t qtype[STATS_QT_COUNT];
	uint64_t rcode[16];
	uint64_t opcode[16];
	uint64_t latency[STATS_LAT_BUCKETS];
	uint64_t latency_us;
	uint64_t tcp_accepted;
	uint64_t dnstap_dropped;  /* frames lost to a full queue (dnstap.h) */
	/* server cookies (cookie.h) */
	uint64_t cookie_valid, cookie_bad, cookie_client_only, cookie_badcookie;
	/* upper tier: rate limiting (rrl.h) */
	uint64_t rrl_slipped, rrl_dropped;
	uint64_t rrl_limited;     /* gauge: keys in a limiting episode now */
	/* local tier */
	uint64_t answers_static, answers_cache, answers_upstream;
	uint64_t cache_hits, cache_misses, cache_coalesced, cache_evictions;
	uint64_t cache_prefetched, cache_replays;
	uint64_t cache_stored, servfail, failcache_hits, stale_answers, refused_acl;
	uint64_t upstream_sent, upstream_timeouts, upstream_failed,
		upstream_ignored, tcp_retries;
	uint64_t upstream_cookie_forged; /* replies dropped: not our cookie */
	uint64_t dnssec[STATS_DNSSEC_COUNT];   /* validation verdicts */
	uint64_t servfail_why[STATS_SERVFAIL_COUNT];
	unsigned n_upstream;
	struct tdns_upstream_sum up[STATS_MAX_UPSTREAM];
};

/* Add worker counters s into sum. */
void stats_sum_add(struct tdns_stats_sum *sum, const struct tdns_stats *s);
/* Add a server's cookie counters (cookie.h) into sum. */
struct cookie_counters;
void stats_sum_add_cookies(struct tdns_stats_sum *sum, const struct cookie_counters *c);
/* Add a resolver's counters (resolve.h) into sum: answers by source, the
 * cache and the upstreams. */
struct tdns_resolver_stats;
void stats_sum_add_resolver(struct tdns_stats_sum *sum,
			    const struct tdns_resolver_stats *rs);
/* sum -= base for every counter (not the gauges; an upstream's srtt, fails
 * and state stay). Counters below base (cannot happen while base is older)
 * become 0. */
void stats_sum_sub(struct tdns_stats_sum *sum, const struct tdns_stats_sum *base);

/* "name=value" lines, in the spirit of unbound-control stats (local: with
 * the cache and upstream lines). */
void stats_print(FILE *out, const struct tdns_stats_sum *sum, bool local);
/* The Prometheus text exposition format (version 0.0.4): HELP and TYPE for
 * each metric, names tierdns_*, counters *_total, the latency a
 * histogram in seconds. */
void stats_print_prometheus(FILE *out, const struct tdns_stats_sum *sum, bool local);
/* One log line, starting with who ("stats", "worker 0"). */
void stats_log(const char *who, const struct tdns_stats_sum *sum, bool local);

#endif
