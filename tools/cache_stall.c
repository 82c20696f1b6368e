/*
 * tierdns-cache-stall - how long one cache write holds LMDB's single
 * writer while the cache is at its size bound. A measurement, not a test.
 *
 *   tierdns-cache-stall [-n ENTRIES] [-i INSERTS] [-f [-S STEP]]
 *
 * In a fresh temporary store (NOSYNC, as the local tier opens it) it fills
 * a cache of ENTRIES answers (default 100000, all of one size, TTLs spread
 * from 5 minutes to a day) through cache_store_many, 64 answers a call,
 * under a budget of exactly ENTRIES answers, then stores INSERTS more
 * (default 50000) one cache_store call each, the clock advancing a second
 * every ten answers, so that every further answer has to evict. Each call
 * is timed (CLOCK_MONOTONIC); it prints the longest, the median and the
 * 99.9th percentile per phase, the longest in CPU time of the thread, and
 * how many calls evicted how many entries. With -f it then flushes as
 * tierdns-control's "cache flush-zone" does, each write transaction timed:
 * a subtree that holds nothing (a walk of the whole cache that removes
 * nothing), once in one transaction and once in steps of STEP entries
 * (default CACHE_FLUSH_STEP; 0: one transaction), then example., which
 * holds every entry, in steps of STEP.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tierdns/cache.h"
#include "tierdns/dnsproto.h"
#include "tierdns/msg.h"
#include "tierdns/log.h"
#include "tierdns/name.h"
#include "tierdns/store.h"
#include "tierdns/zoneload.h"

#define STALL_T0 1700000000u
#define STALL_BATCH 64
#define STALL_MAP ((size_t)1 << 30)

/* One phase's timings. */
struct phase {
	uint64_t *ns;     /* one per call, CLOCK_MONOTONIC */
	uint64_t cpu_max; /* the longest in this thread's CPU time: a wall
			   * time far above it was spent off the CPU
			   * (preempted on a shared machine, or blocked) */
	size_t calls;
	size_t evicting;  /* calls after which the cache had fewer entries
			   * than before plus what they stored */
	size_t evicted;   /* entries those calls removed */
};

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* xorshift64: the same TTLs on every run. */
static uint64_t rng_next(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* The cache value and name key of the A answer for entry i, TTL ttl, at
 * now (v owned by the caller: cache_value_clear). The reply is written
 * by hand: header, the question s<i>.example./A, one A record owned by a
 * pointer to it. */
static enum tdns_status answer(size_t i, uint32_t ttl, uint64_t now,
			       struct tdns_cache_value *v, uint8_t *qkey,
			       size_t *qkey_len)
{
	static const struct tdns_cache_cfg cfg = { .max_ttl = 86400 };
	static struct tdns_msg m;
	uint8_t msg[128], *q = msg + DNS_HDR_LEN;
	size_t qlen, n;
	enum tdns_status st;

	memset(msg, 0, DNS_HDR_LEN);
	msg[2] = DNS_FLAG_QR | DNS_FLAG_RD;
	msg[3] = DNS_FLAG_RA;
	dns_wr16(msg + 4, 1);
	dns_wr16(msg + 6, 1);
	q[0] = 8;
	snprintf((char *)q + 1, 9, "s%07zu", i % 10000000u);
	q[9] = 7;
	memcpy(q + 10, "example", 7);
	q[17] = 0;
	qlen = 18;
	n = DNS_HDR_LEN + qlen;
	dns_wr16(msg + n, DNS_TYPE_A);
	dns_wr16(msg + n + 2, DNS_CLASS_IN);
	n += 4;
	dns_wr16(msg + n, 0xc000 | DNS_HDR_LEN);
	dns_wr16(msg + n + 2, DNS_TYPE_A);
	dns_wr16(msg + n + 4, DNS_CLASS_IN);
	dns_wr32(msg + n + 6, ttl);
	dns_wr16(msg + n + 10, 4);
	msg[n + 12] = 192;
	msg[n + 13] = 0;
	msg[n + 14] = 2;
	msg[n + 15] = (uint8_t)(i % 250);
	n += 16;
	if (msg_parse(&m, msg, n) != MSG_OK)
		return TDNS_EINVAL;
	st = name_key_from_wire(q, qlen, qkey, qkey_len);
	if (st == TDNS_OK)
		st = cache_value_build(&cfg, q, qlen, DNS_TYPE_A, &m, now, v);
	return st;
}

static size_t entries_now(struct tdns_store *s)
{
	struct tdns_txn *t = NULL;
	size_t n = 0;

	if (store_begin(s, false, &t) == TDNS_OK)
		n = cache_count(t);
	store_abort(t);
	return n;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Print ph's figures: per call of the store, or per write transaction of
 * a flush (with the entries it removed). */
static void report(const char *what, struct phase *ph, bool flush)
{
	if (ph->calls == 0)
		return;
	qsort(ph->ns, ph->calls, sizeof(*ph->ns), cmp_u64);
	printf("%s: %zu %s, longest %.3f ms (CPU %.3f ms), median %.3f ms, "
	       "p99.9 %.3f ms; ",
	       what, ph->calls, flush ? "transactions" : "calls",
	       (double)ph->ns[ph->calls - 1] / 1e6, (double)ph->cpu_max / 1e6,
	       (double)ph->ns[ph->calls / 2] / 1e6,
	       (double)ph->ns[ph->calls - 1 - ph->calls / 1000] / 1e6);
	if (flush)
		printf("%zu entries removed\n", ph->evicted);
	else
		printf("%zu calls evicted, %zu entries\n", ph->evicting, ph->evicted);
}

/* The clocks when a timed call began. */
struct span {
	uint64_t wall, cpu;
};

static struct span span_begin(void)
{
	struct span sp = { clock_ns(CLOCK_MONOTONIC), clock_ns(CLOCK_THREAD_CPUTIME_ID) };

	return sp;
}

/* Count the call begun at sp, ending now, in ph. */
static void span_end(struct phase *ph, struct span sp)
{
	uint64_t wall = clock_ns(CLOCK_MONOTONIC) - sp.wall;
	uint64_t cpu = clock_ns(CLOCK_THREAD_CPUTIME_ID) - sp.cpu;

	if (cpu > ph->cpu_max)
		ph->cpu_max = cpu;
	ph->ns[ph->calls++] = wall;
}

/* Store answers first..first+n-1 (a batch when many) and time the call. */
static enum tdns_status timed_store(struct tdns_store *s,
				    const struct tdns_cache_cfg *cfg, size_t first,
				    size_t n, bool many, uint64_t *rng,
				    uint64_t now, struct phase *ph)
{
	struct tdns_cache_value v[STALL_BATCH];
	uint8_t keys[STALL_BATCH][NAME_KEY_MAX];
	struct tdns_cache_put puts[STALL_BATCH];
	size_t before, after, built = 0;
	struct span sp;
	enum tdns_status st = TDNS_OK;

	memset(v, 0, sizeof(v));
	for (; built < n && st == TDNS_OK; built++) {
		st = answer(first + built, 300 + (uint32_t)(rng_next(rng) % 86100),
			    now, &v[built], keys[built], &puts[built].qkey_len);
		puts[built].qkey = keys[built];
		puts[built].qtype = LDNS_RR_TYPE_A;
		puts[built].v = &v[built];
	}
	if (st != TDNS_OK)
		goto out;
	before = entries_now(s);
	sp = span_begin();
	if (many)
		st = cache_store_many(s, cfg, puts, n, now);
	else
		st = cache_store(s, cfg, puts[0].qkey, puts[0].qkey_len,
				 LDNS_RR_TYPE_A, &v[0], now);
	if (st != TDNS_OK)
		goto out;
	span_end(ph, sp);
	after = entries_now(s);
	if (after < before + n) {
		ph->evicting++;
		ph->evicted += before + n - after;
	}
out:
	for (size_t i = 0; i < built; i++)
		cache_value_clear(&v[i]);
	return st;
}

/* Flush the subtree of name (text, absolute) in steps of step entries (0:
 * one transaction), each write transaction timed into ph. */
static enum tdns_status timed_flush(struct tdns_store *s, const char *name,
				    size_t step, struct phase *ph)
{
	struct cache_flush_walk w = { .len = 0 };
	uint8_t key[NAME_KEY_MAX];
	struct tdns_txn *t = NULL;
	size_t klen, n = 0;
	struct span sp;
	enum tdns_status st;

	st = zoneload_name_key(name, key, &klen);
	while (st == TDNS_OK && !w.done) {
		sp = span_begin();
		st = store_begin(s, true, &t);
		if (st == TDNS_OK)
			st = cache_flush_step(t, CACHE_FLUSH_TREE, key, klen, 0, step, &w, &n);
		if (st == TDNS_OK) {
			st = store_commit(t);
			t = NULL;
		}
		store_abort(t);
		t = NULL;
		span_end(ph, sp);
		ph->evicted += n;
	}
	return st;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: tierdns-cache-stall [-n ENTRIES] [-i INSERTS]\n"
		   "  -n, --entries N   answers the budget holds (default 100000)\n"
		   "  -i, --inserts N   answers stored one by one once full "
		   "(default 50000)\n"
		   "  -f, --flush       then time flush-zone in one transaction "
		   "and in steps\n"
		   "  -S, --step N      entries a step of the flush visits "
		   "(default CACHE_FLUSH_STEP, 0: all)\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "entries", required_argument, NULL, 'n' },
		{ "inserts", required_argument, NULL, 'i' },
		{ "flush", no_argument, NULL, 'f' },
		{ "step", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct tdns_store_opts so = { .map_size = STALL_MAP, .flags = STORE_NOSYNC };
	struct tdns_cache_cfg cfg = { .max_ttl = 86400 };
	struct tdns_cache_value v = { 0 };
	struct tdns_store *s = NULL;
	struct phase fill = { 0 }, steady = { 0 }, whole = { 0 }, stepped = { 0 },
		     zone = { 0 };
	char dir[] = "/tmp/tierdns-stall-XXXXXX", path[64];
	uint8_t qkey[NAME_KEY_MAX];
	size_t entries = 100000, inserts = 50000, step = CACHE_FLUSH_STEP, qlen, esize, i;
	uint64_t rng = 0x9e3779b97f4a7c15u, now = STALL_T0;
	bool made = false, flush = false;
	enum tdns_status st = TDNS_OK;
	int c, help = 0, ret = 1;

	while ((c = getopt_long(argc, argv, "n:i:fS:h", longopts, NULL)) != -1) {
		if (c == 'n')
			entries = strtoul(optarg, NULL, 10);
		else if (c == 'i')
			inserts = strtoul(optarg, NULL, 10);
		else if (c == 'f')
			flush = true;
		else if (c == 'S')
			step = strtoul(optarg, NULL, 10);
		else
			help = c == 'h' ? 1 : 2;
	}
	if (help != 0 || optind != argc || entries == 0) {
		usage(help == 1 ? stdout : stderr);
		ret = help == 1 ? 0 : 2;
		goto out;
	}
	log_init("tierdns-cache-stall", TDNS_LOG_WARN);
	fill.ns = calloc(entries / STALL_BATCH + 1, sizeof(*fill.ns));
	steady.ns = calloc(inserts + 1, sizeof(*steady.ns));
	whole.ns = calloc(1, sizeof(*whole.ns));
	/* steps of at least one entry each, and the last */
	stepped.ns = calloc(entries / (step > 0 ? step : entries) + 2, sizeof(*stepped.ns));
	zone.ns = calloc(entries / (step > 0 ? step : entries) + 2, sizeof(*zone.ns));
	if (fill.ns == NULL || steady.ns == NULL || whole.ns == NULL ||
	    stepped.ns == NULL || zone.ns == NULL || mkdtemp(dir) == NULL) {
		perror("tierdns-cache-stall");
		goto out;
	}
	made = true;
	st = store_open(dir, &so, &s);
	/* Every answer has the same size: the budget holds exactly entries. */
	if (st == TDNS_OK)
		st = answer(0, 300, now, &v, qkey, &qlen);
	if (st == TDNS_OK) {
		esize = qlen + 3 + v.len; /* record key + value */
		cfg.max_bytes = (uint64_t)entries * esize;
		printf("budget %zu answers of %zu bytes (%llu bytes), then %zu more\n",
		       entries, esize, (unsigned long long)cfg.max_bytes, inserts);
	}
	for (i = 0; st == TDNS_OK && i < entries; i += STALL_BATCH)
		st = timed_store(s, &cfg, i,
				 entries - i < STALL_BATCH ? entries - i : STALL_BATCH,
				 true, &rng, now, &fill);
	for (size_t k = 0; st == TDNS_OK && k < inserts; k++, i++) {
		if (k % 10 == 0)
			now++;
		st = timed_store(s, &cfg, i, 1, false, &rng, now, &steady);
	}
	if (st == TDNS_OK && flush) {
		st = timed_flush(s, "absent.example.", 0, &whole);
		if (st == TDNS_OK)
			st = timed_flush(s, "absent.example.", step, &stepped);
		if (st == TDNS_OK)
			st = timed_flush(s, "example.", step, &zone);
	}
	if (st != TDNS_OK) {
		fprintf(stderr, "tierdns-cache-stall: %s\n", tdns_strerror(st));
		goto out;
	}
	report("fill, cache_store_many of 64", &fill, false);
	report("full, cache_store of 1", &steady, false);
	report("flush-zone absent.example. in one transaction", &whole, true);
	report("flush-zone absent.example. in steps", &stepped, true);
	report("flush-zone example. in steps", &zone, true);
	ret = 0;
out:
	cache_value_clear(&v);
	store_close(s);
	if (made) {
		snprintf(path, sizeof(path), "%s/data.mdb", dir);
		unlink(path);
		snprintf(path, sizeof(path), "%s/lock.mdb", dir);
		unlink(path);
		rmdir(dir);
	}
	free(fill.ns);
	free(steady.ns);
	free(whole.ns);
	free(stepped.ns);
	free(zone.ns);
	return ret;
}
