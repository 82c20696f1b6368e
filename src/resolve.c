/*
 * resolve.c - the local tier's request state machine (resolve.h has the
 * rules): the pipeline's stages (CHAOS, local policy, static zones, the
 * cache), the outstanding upstream queries (their table: upqtab.h) and
 * the clients waiting on them (coalescing), and what each event leads to:
 * an attempt failed (the next server, attempt.h), an answer accepted
 * (chased, chase.h; validated, chain.h; queued for the cache, commit.h;
 * answered), a query failed (remembered, failcache.h; answered stale or
 * SERVFAIL, stale.h and fail.h), a timer due. resolve_int.h maps the
 * files.
 */
#include "resolve_int.h"

#include <stdlib.h>
#include <string.h>

#include <sanitizer/asan_interface.h>

#include "attempt.h"
#include "chase.h"
#include "commit.h"
#include "fail.h"
#include "stale.h"
#include "upqtab.h"

#include "tierdns/chain.h"
#include "tierdns/clock.h"
#include "tierdns/dnsproto.h"
#include "tierdns/encode.h"
#include "tierdns/failcache.h"
#include "tierdns/infra.h"
#include "tierdns/log.h"
#include "tierdns/msg.h"
#include "tierdns/name.h"
#include "tierdns/negcache.h"
#include "tierdns/pipeline.h"
#include "tierdns/policy.h"
#include "tierdns/referral.h"
#include "tierdns/replycache.h"
#include "tierdns/sketch.h"

#define DEFAULT_TIMEOUT_MS 2000u
#define DEFAULT_MAX_OUTSTANDING 1024u
#define DEFAULT_MAX_WAITERS 64u
#define DEFAULT_STALE_TTL 86400u
#define DEFAULT_MAX_RECORDS 512u
/* RFC 9520 3.2 (Unbound's val-bogus-ttl): how long a bogus answer is
 * kept, seconds. */
#define BOGUS_TTL 60u
/* Secure NXDOMAIN answers kept for RFC 8198 synthesis (negcache.h), per
 * resolver: each is scanned on a miss, so few. */
#define NEGCACHE_ANSWERS 64u

/* ---- the read snapshot ---- */

void resolver_batch(struct tdns_resolver *r, bool begin)
{
	if (begin && r->held)
		return; /* a second begin: the batch goes on */
	if (begin) {
		r->held = rtxn_open(r) != NULL;
	} else if (r->held) {
		r->held = false;
		store_reset(r->rtxn);
	}
}

/* ---- the failure cache (RFC 9520) ---- */

/* A cache flush (resolver_cache_flushed) also forgets the failures: a
 * flushed name must be asked upstream again, not answered SERVFAIL from
 * memory. Checked before the failure cache is consulted, on the miss path
 * only (a cache hit never reads it). */
static void failures_check_flush(struct tdns_resolver *r)
{
	unsigned gen = atomic_load_explicit(&r->flush_gen, memory_order_acquire);

	if (gen != r->failc_gen) {
		failcache_clear(r->failc);
		r->failc_gen = gen;
	}
}

void resolver_cache_flushed(struct tdns_resolver *r)
{
	atomic_fetch_add_explicit(&r->flush_gen, 1, memory_order_release);
}

/* ---- the packet cache (replycache.h) ---- */

/* Give the packet cache reply[0..len), a's encoding for q at now from the
 * cache entry of snapshot since, replayable until `until`. */
static void keep_reply(struct tdns_resolver *r, const struct tdns_qctx *q,
		       const struct tdns_answer *a, uint64_t since, uint64_t now, uint64_t until,
		       const uint8_t *reply, size_t len)
{
	struct replycache_origin o = {
		.since = since,
		.token = cache_entry_token(r->cfg.store, q->qkey, q->qkey_len, q->qtype),
		.policy_gen = r->pol_gen,
	};

	replycache_put(r->rc, q, a, &o, now, until, reply, len);
}

/* Until when an answer from a cache value with times ct may be replayed:
 * its expiry, or under prefetch the start of its last tenth, so that the
 * hit that should start the prefetch is not a replay. */
static uint64_t replay_until(const struct tdns_resolver *r, const struct cache_times *ct)
{
	return r->cfg.prefetch ? ct->due_at : ct->expiry;
}

/* Is the question's failure remembered (RFC 9520)? One of reaching the
 * upstreams only until one answers again (failcache.h). */
static bool fail_remembered(struct tdns_resolver *r, const uint8_t *key, size_t key_len,
			    uint32_t hash, uint64_t now_ms)
{
	return failcache_hit(r->failc, key, key_len, hash, now_ms,
			     infra_epoch(r->infra)) != FAILCACHE_NONE;
}

/* Remember that the question failed with why; for how long (ms). */
static uint32_t fail_remember(struct tdns_resolver *r, const uint8_t *key, size_t key_len,
			      uint32_t hash, uint64_t now_ms, enum fail_kind why)
{
	return failcache_add(r->failc, key, key_len, hash, now_ms, fail_unreachable(why),
			     infra_epoch(r->infra));
}

/* ---- outstanding queries ---- */

/* Freed queries kept for upq_alloc, at most. */
#define UPQ_SPARE 64u

/* A spare query taken off the list (struct tdns_resolver), as it was
 * left; NULL when there is none. */
static struct upq *upq_spare(struct tdns_resolver *r)
{
	struct upq *u = r->spare;

	if (u == NULL)
		return NULL;
	ASAN_UNPOISON_MEMORY_REGION(u, sizeof(*u));
	r->spare = u->hnext;
	r->n_spare--;
	return u;
}

/* A zeroed query: a spare one or a new one. */
static struct upq *upq_alloc(struct tdns_resolver *r)
{
	struct upq *u = upq_spare(r);

	if (u == NULL)
		return calloc(1, sizeof(*u));
	memset(u, 0, sizeof(*u));
	return u;
}

/* Free u, or keep it for upq_alloc; a kept one is poisoned under
 * AddressSanitizer but for its link, so a use after upq_destroy is still
 * caught. */
static void upq_release(struct tdns_resolver *r, struct upq *u)
{
	if (r->n_spare >= UPQ_SPARE) {
		free(u);
		return;
	}
	u->hnext = r->spare;
	r->spare = u;
	r->n_spare++;
	ASAN_POISON_MEMORY_REGION((char *)u + sizeof(u->hnext),
				  sizeof(*u) - sizeof(u->hnext));
}

/* Unlink u from every index and free it; its waiters must be gone. */
static void upq_destroy(struct tdns_resolver *r, struct upq *u)
{
	attempt_close(r, u);
	if (u->target != NULL) {
		struct upq **dp = &u->target->deps;

		while (*dp != u)
			dp = &(*dp)->dep_next;
		*dp = u->dep_next;
	}
	for (struct upq *d = u->deps; d != NULL; d = d->dep_next)
		d->target = NULL;
	upqtab_remove(&r->tab, u);
	commit_unlink(&r->commit, u);
	cache_value_clear(&u->val);
	cache_value_clear(&u->chain);
	chain_free(u->vc);
	free(u->ref);
	upq_release(r, u);
}

static void waiter_free(struct waiter *w)
{
	free(w);
}

/* A cached, upstream or stale answer for q put through the response
 * policy zones' triggers on the names its CNAME chain leads to
 * (policy_rpz_chain): PIPELINE_DROP when one says drop. */
static enum pipeline_verdict chain_policy(const struct tdns_resolver *r,
					  const struct tdns_qctx *q, struct tdns_answer *a)
{
	return policy_rpz_chain(r->pol, q, a) == POLICY_DROP ? PIPELINE_DROP : PIPELINE_ANSWER;
}

/* The client's EDNS options (client.edns) of an answer to request. */
static void client_edns(struct tdns_resolver *r, void *request, const struct tdns_qctx *q,
			struct tdns_answer *a)
{
	if (r->cfg.client.edns != NULL && request != NULL)
		r->cfg.client.edns(r->cfg.client.ctx, request, q, a);
}

void answer_waiter(struct tdns_resolver *r, struct waiter *w, const uint8_t *val, size_t vlen,
		   uint64_t stored_in, const struct tdns_cache_value *stale, enum fail_kind why,
		   uint64_t now)
{
	struct tdns_answer *a = &r->wans;
	struct tdns_qctx q;
	size_t len = 0;
	bool ok = false;

	q.peer = NULL;
	q.transport = w->transport;
	/* The query was accepted by the pipeline before it waited. */
	if (qctx_parse(&q, w->msg, w->len) != QCTX_OK)
		goto out;
	answer_reset(a);
	a->ra = true;
	client_edns(r, w->held, &q, a);
	if (val != NULL && cache_value_answer(val, vlen, now, 0, &q, a) != TDNS_OK) {
		answer_restart(a);
		val = NULL;
		why = FAIL_GARBAGE;
	}
	if (val == NULL)
		stale_answer(r, &q, stale, why, now, a);
	else {
		stats_inc(&r->stats.upstream_answers);
		if (a->dnssec == VALID_BOGUS && a->rcode == DNS_RCODE_SERVFAIL)
			fail_count(&r->stats, RESOLVER_SF_BOGUS);
	}
	ok = chain_policy(r, &q, a) == PIPELINE_ANSWER &&
	     encode_reply(&q, a, r->buf, DNS_MSG_MAX, &len) == TDNS_OK;
	if (ok && val != NULL && stored_in != 0 && r->rc != NULL) {
		struct cache_times ct;

		cache_value_times(val, vlen, &ct);
		keep_reply(r, &q, a, stored_in, now, replay_until(r, &ct), r->buf, len);
	}
out:
	r->cfg.client.answer(r->cfg.client.ctx, w->held, ok ? r->buf : NULL,
			     ok ? len : 0);
	waiter_free(w);
}

static void upq_fail(struct tdns_resolver *r, struct upq *u);
static void dep_done(struct tdns_resolver *r, struct upq *u, const uint8_t *val,
		     size_t vlen, bool waited);

/* Take the queries waiting for u's answer (CNAME chasing) off it: the
 * list stays linked through dep_next for the caller to walk. */
static struct upq *deps_detach(struct upq *u)
{
	struct upq *d = u->deps;

	u->deps = NULL;
	for (struct upq *x = d; x != NULL; x = x->dep_next)
		x->target = NULL;
	return d;
}

/* The query is over with an answer: answer everyone waiting and forget
 * it, then let the queries that chased a CNAME to it go on. It is
 * unlinked first so that nothing done while answering can find it
 * half-finished. */
void upq_complete(struct tdns_resolver *r, struct upq *u, const uint8_t *val, size_t vlen,
		  uint64_t stored_in, uint64_t now)
{
	struct waiter *w = u->waiters, *next;
	struct upq *d = deps_detach(u), *dnext;

	u->waiters = NULL;
	upq_destroy(r, u);
	for (; w != NULL; w = next) {
		next = w->next;
		answer_waiter(r, w, val, vlen, stored_in, NULL, FAIL_INTERNAL, now);
	}
	for (; d != NULL; d = dnext) {
		dnext = d->dep_next;
		d->dep_next = NULL;
		dep_done(r, d, val, vlen, true);
	}
}

static void dep_failed(struct tdns_resolver *r, struct upq *u);

/* The query failed for good (u->why): remember the failure (RFC 9520),
 * log it, and answer the waiters stale (RFC 8767) or SERVFAIL. */
static void upq_fail(struct tdns_resolver *r, struct upq *u)
{
	struct tdns_cache_value stale = { 0 };
	struct waiter *w = u->waiters, *next;
	uint64_t now = clock_now();
	enum fail_kind why = u->why;
	struct upq *d = deps_detach(u), *dnext;
	uint32_t remembered = 0;
	char fb[224];

	/* A refusal is the policy's answer, not a failure to remember: a
	 * reload may change it. */
	if (why != FAIL_INTERNAL && why != FAIL_OVERLOAD && why != FAIL_REFUSED)
		remembered = fail_remember(r, u->key, u->key_len, u->hash, clock_mono_ms(), why);
	if (w != NULL)
		stale_get(r, u->key, u->qkey_len, u->qtype, u->qclass, now, &stale);
	if (w != NULL && (stale.data == NULL || stale.expiry > now))
		fail_log(&r->flog, &r->stats, fail_rcode(why), u->key, u->qkey_len, u->qtype,
			 fail_reason(why, u->ref_bad, u->err, fb, sizeof(fb)), remembered,
			 fail_unreachable(why));
	u->waiters = NULL;
	upq_destroy(r, u);
	for (; w != NULL; w = next) {
		next = w->next;
		answer_waiter(r, w, NULL, 0, 0, &stale, why, now);
	}
	cache_value_clear(&stale);
	/* The target of a CNAME failed: so does every chain that led to it
	 * (RFC 1034 5.3.3; Unbound answers SERVFAIL too); a DNSKEY or DS
	 * fetch that failed makes the answer waiting for it bogus. */
	for (; d != NULL; d = dnext) {
		dnext = d->dep_next;
		d->dep_next = NULL;
		d->why = why;
		dep_failed(r, d);
	}
}

/* The current attempt failed: next upstream, else the query fails. */
static void attempt_failed(struct tdns_resolver *r, struct upq *u,
			   uint64_t now_ms)
{
	if (!attempt_start(r, u, u->upstream + 1, false, false, now_ms))
		upq_fail(r, u);
}

static enum tdns_status upq_new(struct tdns_resolver *r, const uint8_t *qkey,
				size_t qkey_len, uint16_t qtype, uint16_t qclass,
				const uint8_t *key, size_t key_len, uint32_t hash,
				uint64_t now_ms, struct upq **out)
{
	uint8_t wire[NAME_WIRE_MAX];
	enum policy_fwd how;
	size_t wire_len;
	struct upq *u = NULL;
	enum tdns_status st;

	*out = NULL;
	st = name_key_to_wire(qkey, qkey_len, wire, &wire_len);
	if (st != TDNS_OK)
		goto out;
	st = TDNS_ENOMEM;
	u = upq_alloc(r);
	if (u == NULL)
		goto out;
	memcpy(u->qname, wire, wire_len);
	u->qname_len = wire_len;
	memcpy(u->key, key, key_len);
	u->key_len = key_len;
	u->qkey_len = qkey_len;
	u->hash = hash;
	u->qtype = qtype;
	u->qclass = qclass;
	u->deadline = now_ms + r->cfg.timeout_ms;
	/* The one place upstreams are chosen: the question's set. A name
	 * that is never forwarded gets none (no query for one is started:
	 * miss_stage answers a client's, chase_local a chased target's). */
	how = route(r, qkey, qkey_len, &u->set_first, &u->set_end, &u->stub_len);
	if (how > POLICY_FWD_STUB)
		u->set_end = u->set_first;
	u->stub = how == POLICY_FWD_STUB;
	if (r->cfg.serve_stale)
		u->stale_at = now_ms + STALE_CLIENT_MS;
	/* Until an attempt fails, the reason not to have sent one is that
	 * none could be (an empty set; every upstream backing off is not
	 * it: the last is asked all the same, attempt_start). */
	u->why = FAIL_DEAD;
	upqtab_add(&r->tab, u);
	*out = u;
	u = NULL;
	st = TDNS_OK;
out:
	free(u);
	return st;
}

/*
 * A miss: join the outstanding query for the same question or start one.
 * RESOLVER_DEFER: the client is held and the query in *q has moved into
 * its waiter. RESOLVER_REPLY: the caller answers the failure *why now (a
 * limit was reached, no upstream took the query, or no memory).
 */
static enum resolver_verdict miss(struct tdns_resolver *r,
				  const struct tdns_qctx *q, void *request,
				  const uint8_t *key, size_t key_len, uint32_t hash,
				  enum fail_kind *why)
{
	uint64_t now_ms = clock_mono_ms();
	struct waiter *w = NULL;
	struct upq *u;
	enum resolver_verdict v = RESOLVER_REPLY;

	stats_inc(&r->stats.misses);
	*why = FAIL_OVERLOAD;
	u = upqtab_find(&r->tab, key, key_len, hash);
	if (u != NULL && u->n_waiters >= r->cfg.max_waiters) {
		stats_inc(&r->stats.overload);
		goto out;
	} else if (u != NULL) {
		stats_inc(&r->stats.coalesced);
	} else if (upqtab_full(&r->tab)) {
		stats_inc(&r->stats.overload);
		goto out;
	} else {
		*why = FAIL_INTERNAL;
		if (upq_new(r, q->qkey, q->qkey_len, q->qtype, q->qclass, key,
			    key_len, hash, now_ms, &u) != TDNS_OK)
			goto out;
		u->cd = r->cfg.anchors != NULL && q->cd;
		if (!attempt_start(r, u, u->set_first, false, false, now_ms)) {
			*why = u->why;
			if (*why != FAIL_INTERNAL)
				fail_remember(r, key, key_len, hash, now_ms, *why);
			upq_destroy(r, u);
			goto out;
		}
	}
	/* Without memory for the waiter the upstream query still goes on: its
	 * answer fills the cache for the client's retry. */
	*why = FAIL_INTERNAL;
	w = malloc(sizeof(*w) + q->len); /* not calloc: it bypasses the
					  * per-thread cache */
	if (w == NULL)
		goto out;
	*w = (struct waiter){ .next = NULL };
	w->held = r->cfg.client.hold(r->cfg.client.ctx, request);
	if (w->held == NULL)
		goto out;
	memcpy(w->msg, q->msg, q->len);
	w->len = q->len;
	w->transport = q->transport;
	w->next = u->waiters;
	u->waiters = w;
	u->n_waiters++;
	w = NULL;
	v = RESOLVER_DEFER;
out:
	if (w != NULL)
		waiter_free(w);
	return v;
}

/* A miss that will not be resolved now: the failure cache says so, or
 * miss() could not start or join an upstream query. The answer goes into
 * a (stale data borrowed from *stale, which the caller clears after
 * encoding). */
static void miss_failed(struct tdns_resolver *r, const struct tdns_qctx *q,
			enum fail_kind why, struct tdns_cache_value *stale,
			struct tdns_answer *a)
{
	uint64_t now = clock_now();

	stale_get(r, q->qkey, q->qkey_len, q->qtype, q->qclass, now, stale);
	if (stale->data == NULL || stale->expiry > now)
		fail_log(&r->flog, &r->stats, fail_rcode(why), q->qkey, q->qkey_len, q->qtype,
			 fail_text(why), 0, false);
	stale_answer(r, q, stale, why, now, a);
}

/* The pipeline's EDNS stage: every answer given at once carries them. */
static enum pipeline_verdict edns_stage(void *ctx, const struct tdns_qctx *q,
					struct tdns_answer *a)
{
	struct tdns_resolver *r = ctx;

	client_edns(r, r->request, q, a);
	/* Counted here, once per query (the options are put again into
	 * answers built later). A COOKIE in the reply: the daemon judged the
	 * query's. */
	if (a->cookie_len > 0)
		cookie_count(&r->stats.cookies, q, a);
	return PIPELINE_ANSWER;
}

/* The pipeline's access stage: clients outside the access list are
 * REFUSED with EDE "Prohibited" (RFC 8914 4.19). */
static enum pipeline_verdict access_stage(void *ctx, const struct tdns_qctx *q,
					  struct tdns_answer *a)
{
	struct tdns_resolver *r = ctx;

	(void)q;
	if (!r->refusing)
		return PIPELINE_ANSWER;
	stats_inc(&r->stats.refused_acl);
	a->rcode = DNS_RCODE_REFUSED;
	answer_set_ede(a, EDE_PROHIBITED, "client not allowed");
	return PIPELINE_ANSWER;
}

/*
 * A question the local data does not answer: without RD, REFUSED (RFC
 * 1034 4.3.1: a forwarder has no referral to give); a recent failure of
 * it is answered from the failure cache (RFC 9520 3.2); otherwise it goes
 * upstream and the client waits (PIPELINE_DEFER), unless no upstream query
 * could be started or joined.
 */
static enum pipeline_verdict miss_stage(struct tdns_resolver *r,
					const struct tdns_qctx *q,
					struct tdns_answer *a)
{
	uint8_t key[QUESTION_KEY_MAX];
	enum fail_kind why = FAIL_CACHED;
	enum policy_fwd how;
	unsigned first, end;
	const uint8_t *nval;
	size_t key_len, nlen, zone_len;
	uint32_t hash;

	/* A name never forwarded is answered here, recursion asked or not. */
	how = route(r, q->qkey, q->qkey_len, &first, &end, &zone_len);
	if (how > POLICY_FWD_STUB) {
		policy_route_answer(r->pol, how, q, a);
		return PIPELINE_ANSWER;
	}
	if (!q->rd) {
		a->rcode = DNS_RCODE_REFUSED;
		return PIPELINE_ANSWER;
	}
	/* RFC 8198: a name a validated NSEC answer proves absent is not
	 * asked for (the answer borrows the table until it is encoded). */
	if (r->negc != NULL && !q->cd && q->qclass == DNS_CLASS_IN &&
	    negcache_find(r->negc, q->qname, q->qname_len, clock_now(), &nval, &nlen)) {
		if (cache_value_answer(nval, nlen, clock_now(), 0, q, a) == TDNS_OK)
			return PIPELINE_ANSWER;
		answer_restart(a);
	}
	key_len = upqtab_key(q->qkey, q->qkey_len, q->qtype, q->qclass,
			       r->cfg.anchors != NULL && q->cd, key);
	hash = upqtab_hash(key, key_len);
	failures_check_flush(r);
	if (fail_remembered(r, key, key_len, hash, clock_mono_ms()))
		stats_inc(&r->stats.failcache_hits);
	else if (miss(r, q, r->request, key, key_len, hash, &why) == RESOLVER_DEFER)
		return PIPELINE_DEFER;
	miss_failed(r, q, why, &r->stale, a);
	return chain_policy(r, q, a);
}

/* A cache hit due for prefetch (resolve.h): one upstream query for q
 * with nobody waiting, unless one is out already, the question's failure
 * is remembered, or no slot is free; its answer is cached as any. */
static void prefetch(struct tdns_resolver *r, const struct tdns_qctx *q)
{
	bool cd = r->cfg.anchors != NULL && q->cd;
	uint8_t key[QUESTION_KEY_MAX];
	uint64_t now_ms = clock_mono_ms();
	struct upq *u;
	size_t key_len;
	uint32_t hash;

	key_len = upqtab_key(q->qkey, q->qkey_len, q->qtype, q->qclass, cd, key);
	hash = upqtab_hash(key, key_len);
	failures_check_flush(r);
	if (upqtab_full(&r->tab) || upqtab_find(&r->tab, key, key_len, hash) != NULL ||
	    fail_remembered(r, key, key_len, hash, now_ms))
		return;
	if (upq_new(r, q->qkey, q->qkey_len, q->qtype, q->qclass, key, key_len, hash, now_ms,
		    &u) != TDNS_OK)
		return;
	u->cd = cd;
	if (!attempt_start(r, u, u->set_first, false, false, now_ms))
		upq_destroy(r, u);
	else
		stats_inc(&r->stats.prefetched);
}

/*
 * The pipeline's QUERY stage: what local data answers. CHAOS identity,
 * classes and transfers we do not forward, and the static zones are
 * answered here; everything else (the cache, then the upstream) is left to
 * the resolver (PIPELINE_DEFER).
 */
static enum pipeline_verdict query_stage(void *ctx, const struct tdns_qctx *q,
					 struct tdns_answer *a)
{
	struct tdns_resolver *r = ctx;
	struct cache_times ct;
	struct tdns_txn *t;
	enum tdns_status st;
	uint64_t now;
	bool due = false;

	if (q->qclass == DNS_CLASS_CH) {
		auth_chaos(&r->cfg.chaos, q, a);
		return PIPELINE_ANSWER;
	}
	if (q->qclass != DNS_CLASS_IN || q->qtype == DNS_TYPE_AXFR ||
	    q->qtype == DNS_TYPE_IXFR) {
		/* Zone transfers are not queries to forward: AXFR over UDP is
		 * an error (RFC 5936 4.2), and tierdns-local is the transfer
		 * source of no zone, over any transport. REFUSED for IXFR too:
		 * the request is well formed (FORMERR would say otherwise),
		 * it is our policy not to serve it (RFC 1035 4.1.1), and a
		 * client falls back the same way it does for AXFR. */
		a->rcode = DNS_RCODE_REFUSED;
		return PIPELINE_ANSWER;
	}
	/* Local records and local zones (policy.h) come before all else. */
	if (r->cfg.policy != NULL)
		switch (policy_answer(policy_box_get(r->cfg.policy, &r->pol_gen, &r->pol), q, a)) {
		case POLICY_PASS:
			break;
		case POLICY_ANSWER:
			return PIPELINE_ANSWER;
		case POLICY_DROP:
			return PIPELINE_DROP;
		}
	t = rtxn_open(r);
	if (t == NULL) {
		fail_count(&r->stats, RESOLVER_SF_STORE);
		answer_fail(a, DNS_RCODE_SERVFAIL, EDE_OTHER, "store unavailable");
		return PIPELINE_ANSWER;
	}
	/* The snapshot stays open until the answer is encoded (auth.h,
	 * cache.h); run_pipeline closes it. */
	r->stage_txn = t;
	/* A name outside every static zone (with none, every name) is not
	 * looked up in them. */
	if (!zonedb_cache_outside(r->zc, t, q->qkey, q->qkey_len) &&
	    auth_lookup(r->zc, t, q, a) == AUTH_ANSWERED) {
		stats_inc(&r->stats.static_answers);
		return PIPELINE_ANSWER;
	}
	/* Every question counts for what the cache keeps (sketch.h). */
	if (r->cfg.cache.sketch != NULL)
		sketch_seen(r->cfg.cache.sketch, q->qkey, q->qkey_len, q->qtype);
	now = clock_now();
	if (replycache_find(r->rc, q, r->pol_gen, now, a)) {
		const struct replycache_origin *o = replycache_origin(a);

		if (cache_token_unchanged(t, o->token, o->since)) {
			stats_inc(&r->stats.cache_hits);
			stats_inc(&r->stats.replays);
			return PIPELINE_ANSWER;
		}
		/* The entry changed (or the store cannot tell): looked up. */
		answer_restart(a);
	}
	st = cache_answer(t, q, now, &ct, a);
	if (st == TDNS_OK) {
		due = r->cfg.prefetch && now >= ct.due_at;
		/* run_pipeline keeps the encoding (replycache.h decides). */
		r->rc_until = replay_until(r, &ct);
		r->rc_now = now;
		r->rc_since = store_txn_id(t);
	}
	if (st == TDNS_OK && a->dnssec == VALID_UNCHECKED && r->cfg.anchors == NULL) {
		stats_inc(&r->stats.cache_hits);
		if (due)
			prefetch(r, q);
		return chain_policy(r, q, a);
	}
	if (st == TDNS_OK && a->dnssec != VALID_UNCHECKED && r->cfg.anchors != NULL) {
		stats_inc(&r->stats.cache_hits);
		/* A bogus entry is SERVFAIL to all but CD=1 (cache.h). */
		if (a->dnssec == VALID_BOGUS && a->rcode == DNS_RCODE_SERVFAIL)
			fail_count(&r->stats, RESOLVER_SF_BOGUS);
		else if (due)
			prefetch(r, q);
		return chain_policy(r, q, a);
	}
	/* An entry validated under another setting (validation switched on
	 * or off since) is a miss: asked again, stored again. */
	r->rc_until = 0;
	if (st == TDNS_OK)
		st = TDNS_ENOTFOUND;
	answer_restart(a);
	if (st == TDNS_EINVAL)
		log_warn("cache lookup: corrupt entry (treated as a miss)");
	else if (st != TDNS_ENOTFOUND) {
		/* A store that cannot be read is no miss: a static zone
		 * in it may override what the upstream would say. */
		log_warn("cache lookup: %s", tdns_strerror(st));
		fail_count(&r->stats, RESOLVER_SF_STORE);
		answer_fail(a, DNS_RCODE_SERVFAIL, EDE_OTHER, "store unavailable");
		return PIPELINE_ANSWER;
	}
	return miss_stage(r, q, a);
}

/* NOTIFY (client.notify): the daemon answers it, given the request (a
 * refused client, resolver_refuse, has none). */
static enum pipeline_verdict notify_stage(void *ctx, const struct tdns_qctx *q,
					  struct tdns_answer *a)
{
	struct tdns_resolver *r = ctx;

	if (r->request == NULL)
		a->rcode = DNS_RCODE_REFUSED;
	else
		r->cfg.client.notify(r->cfg.client.ctx, r->request, q, a);
	return PIPELINE_ANSWER;
}

/* The local tier's stages: RA on every reply (recursion is available).
 * A daemon that takes NOTIFY has a pipeline of its own. */
static const struct tdns_pipeline local_pipeline = {
	.edns = edns_stage,
	.access = access_stage,
	.opcode[DNS_OPCODE_QUERY] = query_stage,
	.ra = true,
};
static const struct tdns_pipeline notify_pipeline = {
	.edns = edns_stage,
	.access = access_stage,
	.opcode[DNS_OPCODE_QUERY] = query_stage,
	.opcode[DNS_OPCODE_NOTIFY] = notify_stage,
	.ra = true,
};

/* Run the pipeline over in; the snapshot a static answer borrowed from is
 * released once the answer is written. */
static enum pipeline_verdict run_pipeline(struct tdns_resolver *r,
					  const uint8_t *in, size_t len,
					  enum qctx_transport transport, uint8_t *out,
					  size_t cap, size_t *out_len)
{
	struct tdns_qctx qc;
	struct tdns_txn *t;
	enum pipeline_verdict v;

	qc.peer = NULL;
	qc.transport = (uint8_t)transport;
	r->rc_until = 0;
	v = pipeline_run(r->cfg.client.notify != NULL ? &notify_pipeline : &local_pipeline, r,
			 &qc, &r->ans, in, len, out, cap, out_len);
	if (r->rc_until != 0 && v == PIPELINE_ANSWER && *out_len > 0)
		keep_reply(r, &qc, &r->ans, r->rc_since, r->rc_now, r->rc_until, out, *out_len);
	t = r->stage_txn;
	r->stage_txn = NULL;
	if (t != NULL)
		rtxn_close(r, t);
	cache_value_clear(&r->stale);
	return v;
}

enum resolver_verdict resolver_query(struct tdns_resolver *r, const uint8_t *in,
				     size_t len, enum qctx_transport transport,
				     void *request,
				     uint8_t *out, size_t cap, size_t *out_len)
{
	r->refusing = false;
	r->request = request;
	switch (run_pipeline(r, in, len, transport, out, cap, out_len)) {
	case PIPELINE_ANSWER:
		return *out_len > 0 ? RESOLVER_REPLY : RESOLVER_DROP;
	case PIPELINE_DEFER:
		return RESOLVER_DEFER;
	case PIPELINE_DROP:
		break;
	}
	return RESOLVER_DROP;
}

enum resolver_verdict resolver_refuse(struct tdns_resolver *r, const uint8_t *in,
				      size_t len, enum qctx_transport transport,
				      uint8_t *out,
				      size_t cap, size_t *out_len)
{
	struct tdns_qctx qc;

	/* Nothing but a well-formed query earns a disallowed client a reply. */
	qc.peer = NULL;
	qc.transport = (uint8_t)transport;
	if (qctx_parse(&qc, in, len) != QCTX_OK)
		return RESOLVER_DROP;
	r->refusing = true;
	r->request = NULL; /* a refused client is given no cookie */
	switch (run_pipeline(r, in, len, transport, out, cap, out_len)) {
	case PIPELINE_ANSWER:
		r->refusing = false;
		return *out_len > 0 ? RESOLVER_REPLY : RESOLVER_DROP;
	default:
		r->refusing = false;
		return RESOLVER_DROP;
	}
}

/* ---- questions asked on a query's behalf: its CNAME target (chase.h),
 * the DNSKEY and DS its validation needs ---- */

static void accept_reply(struct tdns_resolver *r, struct upq *u,
			 const struct tdns_msg *m);

/*
 * Go on with u's answer for its CNAME target (tval, a packed value): the
 * answer to u's question is its chain so far followed by the target's
 * answer, with the target's rcode and authority (RFC 6604: the rcode is
 * the last name's). Both are packed values, which the encoder writes as
 * one message (encode.h) that is parsed back (msg.h) and accepted like an
 * upstream reply: the chain walk, the caching rules and the loop and
 * length limits then apply to the whole chain, in one place.
 */
static void chase_continue(struct tdns_resolver *r, struct upq *u,
			   const uint8_t *tval, size_t tlen)
{
	struct own_msg *om = chase_combine(&r->ans, u, tval, tlen);

	if (om == NULL) {
		upq_fail(r, u);
		return;
	}
	accept_reply(r, u, &om->m);
	free(om);
}

static void dep_done(struct tdns_resolver *r, struct upq *u, const uint8_t *val,
		     size_t vlen, bool waited);

/*
 * Ask for (name, qtype) on u's behalf the way a client's query goes: the
 * failure cache, the static zones and the cache, else the outstanding
 * query for it (coalescing) or a new one, which u then waits for (within
 * u's own budget); dep_done goes on with u once the answer is there, at
 * once for local data. depth: the CNAMEs before the name (a chase), so
 * a chain chased piece by piece still ends at CHASE_MAX_HOPS. A validator
 * does not take an unvalidated cache entry for a key it needs.
 */
static void depend_on(struct tdns_resolver *r, struct upq *u, const uint8_t *name,
		      size_t name_len, uint16_t qtype, unsigned depth)
{
	uint8_t key[QUESTION_KEY_MAX];
	uint64_t now_ms = clock_mono_ms();
	struct tdns_cache_value tv = { 0 };
	struct tdns_qctx tq;
	enum fail_kind why;
	struct upq *t;
	size_t key_len;
	uint32_t hash;

	if (!chase_question(&tq, name, name_len, qtype, u->qclass)) {
		u->why = FAIL_GARBAGE;
		goto fail;
	}
	key_len = upqtab_key(tq.qkey, tq.qkey_len, tq.qtype, tq.qclass, u->cd, key);
	hash = upqtab_hash(key, key_len);
	failures_check_flush(r);
	if (fail_remembered(r, key, key_len, hash, now_ms)) {
		stats_inc(&r->stats.failcache_hits);
		u->why = FAIL_CACHED;
		goto fail;
	}
	switch (chase_local(r, &tq, &tv, &why)) {
	case 1:
		if (u->vc != NULL && u->vc->waiting &&
		    cache_value_status(tv.data, tv.len) == VALID_UNCHECKED)
			break; /* cached before validation: fetch it again */
		dep_done(r, u, tv.data, tv.len, false);
		goto out;
	case -1:
		u->why = why;
		goto fail;
	default:
		break;
	}
	t = upqtab_find(&r->tab, key, key_len, hash);
	if (t != NULL) {
		/* Waiting for a query that (through its own chase) waits for
		 * u would never end: that is a loop across replies. */
		for (const struct upq *x = t; x != NULL; x = x->target)
			if (x == u) {
				u->why = FAIL_LOOP;
				goto fail;
			}
		stats_inc(&r->stats.coalesced);
	} else {
		u->why = FAIL_OVERLOAD;
		if (upqtab_full(&r->tab)) {
			stats_inc(&r->stats.overload);
			goto fail;
		}
		u->why = FAIL_INTERNAL;
		if (upq_new(r, tq.qkey, tq.qkey_len, tq.qtype, tq.qclass, key,
			    key_len, hash, now_ms, &t) != TDNS_OK)
			goto fail;
		t->depth = depth;
		/* asked as u is: a CD=1 client's chain stays unvalidated
		 * upstream, a CD=0 one's validated */
		t->cd = u->cd;
		if (t->deadline > u->deadline)
			t->deadline = u->deadline;
		if (!attempt_start(r, t, t->set_first, false, false, now_ms)) {
			u->why = t->why;
			/* A target never asked (no time was left) is not
			 * known to fail: nothing to remember of it. */
			if (u->why != FAIL_INTERNAL && now_ms < t->deadline)
				fail_remember(r, key, key_len, hash, now_ms, u->why);
			upq_destroy(r, t);
			goto fail;
		}
	}
	attempt_close(r, u);
	u->target = t;
	u->dep_next = t->deps;
	t->deps = u;
	u->attempt_deadline = u->deadline;
	wake_at(r, upq_next(u));
	goto out;
fail:
	dep_failed(r, u);
out:
	cache_value_clear(&tv);
}

/*
 * Chase u's CNAME chain (c) from its end, c->last: the chain's CNAMEs are
 * copied out of m first (m dies with the reply), then the target is asked
 * for (depend_on).
 */
static void chase_start(struct tdns_resolver *r, struct upq *u,
			const struct tdns_msg *m, const struct chain_walk *c)
{
	struct tdns_cache_value chain = { 0 };

	u->why = FAIL_INTERNAL;
	if (cache_value_records(m, c->cname, c->n, clock_now(), &chain) != TDNS_OK) {
		upq_fail(r, u);
		return;
	}
	cache_value_clear(&u->chain);
	u->chain = chain;
	depend_on(r, u, c->last, c->last_len, u->qtype, u->depth + (unsigned)c->n);
}

/* The target query u waited for answered (val, packed as cached): its
 * answer completes u's chain. */
static void chase_resume(struct tdns_resolver *r, struct upq *u,
			 const uint8_t *val, size_t vlen)
{
	u->chased = true;
	chase_continue(r, u, val, vlen);
}

/* ---- DNSSEC validation (validate.h, chain.h) ---- */

static void accept_value(struct tdns_resolver *r, struct upq *u,
			 struct tdns_cache_value *v, uint64_t now);

/* Every bogus answer is logged with its reason (rate-limited as the
 * SERVFAIL reasons). */
static void log_bogus(struct tdns_resolver *r, const struct upq *u,
		      const struct valid_verdict *vd)
{
	char text[VALID_WHY_MAX + 32];

	snprintf(text, sizeof(text), "DNSSEC bogus (EDE %u): %s", vd->ede, vd->why);
	fail_log(&r->flog, &r->stats, DNS_RCODE_SERVFAIL, u->key, u->qkey_len, u->qtype, text, 0,
		 false);
}

/* Judge u's parked answer; fetch what the verdict needs (depend_on, which
 * comes back here through dep_done), else store the status with the value
 * and go on as with any accepted answer. */
static void valid_run(struct tdns_resolver *r, struct upq *u)
{
	struct tdns_cache_value v;
	uint64_t now = clock_now();
	const struct valid_verdict *vd = &u->vc->last;

	if (chain_check(u->vc, r->cfg.anchors, u->qname, u->qname_len, u->qtype, now) ==
	    VALID_NEED) {
		depend_on(r, u, vd->need_name, vd->need_len, vd->need_type, 0);
		return;
	}
	chain_take(u->vc, &v);
	stats_inc(&r->stats.dnssec[vd->status]);
	if (vd->status == VALID_BOGUS)
		log_bogus(r, u, vd);
	cache_value_set_status(&v, vd->status, vd->ede,
			       vd->status == VALID_BOGUS ? now + BOGUS_TTL : vd->until);
	if (r->negc != NULL && vd->status == VALID_SECURE)
		negcache_add(r->negc, v.data, v.len, now);
	/* A secure answer whose signature ends now is answered, not kept. */
	if (v.expiry <= now)
		v.cacheable = false;
	accept_value(r, u, &v, now);
}

/* Validate v, u's answer (taken), before it is cached and answered. */
static void valid_start(struct tdns_resolver *r, struct upq *u,
			struct tdns_cache_value *v)
{
	if (u->vc == NULL)
		u->vc = chain_new();
	if (u->vc == NULL) {
		cache_value_clear(v);
		u->why = FAIL_INTERNAL;
		upq_fail(r, u);
		return;
	}
	chain_begin(u->vc, v);
	valid_run(r, u);
}

/*
 * What u waited for could not be had (u->why). A DNSKEY or DS its
 * validation needed: the verdict is bogus with a DNSSEC EDE (chain.h
 * chain_failed; Unbound: "No DNSKEY record", EDE 9) and the reason logged,
 * and the answer is kept as bogus (60 s) and given to CD=1 clients as
 * any bogus answer. A CNAME target: u fails.
 */
static void dep_failed(struct tdns_resolver *r, struct upq *u)
{
	if (u->vc != NULL && u->vc->waiting &&
	    chain_failed(u->vc, fail_text(u->why)) == TDNS_OK) {
		valid_run(r, u);
		return;
	}
	upq_fail(r, u);
}

/* The answer u waited for is there (val): a DNSKEY or DS its validation
 * needed, or the target of its CNAME chain (waited: from a target query,
 * not local data). */
static void dep_done(struct tdns_resolver *r, struct upq *u, const uint8_t *val,
		     size_t vlen, bool waited)
{
	if (u->vc != NULL && u->vc->waiting) {
		if (chain_got(u->vc, val, vlen) != TDNS_OK) {
			u->why = FAIL_INTERNAL;
			upq_fail(r, u);
			return;
		}
		valid_run(r, u);
	} else if (waited) {
		chase_resume(r, u, val, vlen);
	} else {
		chase_continue(r, u, val, vlen);
	}
}

/* An accepted NOERROR/NXDOMAIN reply (or one combined from a chase): a
 * CNAME loop or an over-long chase fails; a chain to chase is chased;
 * otherwise cache what may be cached, answer. */
static void accept_reply(struct tdns_resolver *r, struct upq *u,
			 const struct tdns_msg *m)
{
	struct tdns_cache_value v = { 0 };
	struct chain_walk c;
	uint64_t now = clock_now();
	enum tdns_status st;
	bool chase;

	chase_walk(m, u->qname, u->qname_len, u->qtype, &c);
	chase = chase_needed(u, m, &c);
	if (c.loop || c.too_long ||
	    ((chase || u->chased) && u->depth + c.n > CHASE_MAX_HOPS)) {
		/* RFC 1034 3.6.2: a looping chain is an error, as is one
		 * longer than we follow; SERVFAIL (as Unbound), never cached. */
		u->why = c.loop ? FAIL_LOOP : FAIL_CHAIN;
		upq_fail(r, u);
		return;
	}
	if (chase) {
		chase_start(r, u, m, &c);
		return;
	}
	failcache_forget(r->failc, u->key, u->key_len, u->hash);
	st = cache_value_build(&r->cfg.cache, u->qname, u->qname_len, u->qtype, m,
			       now, &v);
	if (st != TDNS_OK) {
		log_warn("upstream reply not usable: %s", tdns_strerror(st));
		u->why = st == TDNS_ENOMEM ? FAIL_INTERNAL : FAIL_GARBAGE;
		upq_fail(r, u);
		return;
	}
	if (r->cfg.anchors != NULL && u->qclass == DNS_CLASS_IN) {
		valid_start(r, u, &v);
		return;
	}
	accept_value(r, u, &v, now);
}

/* u's answer v (taken) is final: cache what may be cached, answer. */
static void accept_value(struct tdns_resolver *r, struct upq *u,
			 struct tdns_cache_value *v, uint64_t now)
{
	if (v->cacheable && u->qclass == DNS_CLASS_IN) {
		/* The attempt is over: its socket goes now. */
		attempt_close(r, u);
		commit_queue(&r->commit, u, v);
		return;
	}
	upq_complete(r, u, v->data, v->len, 0, now);
	cache_value_clear(v);
}

/* The attempt failed for `why`; alive says whether the upstream itself
 * answered (an error rcode) or not (silence, garbage, socket). */
static void reply_failed(struct tdns_resolver *r, struct upq *u,
			 enum fail_kind why, bool alive, uint64_t now_ms)
{
	attempt_lost(r, u, why, alive, now_ms);
	attempt_failed(r, u, now_ms);
}

void resolver_on_reply(struct tdns_resolver *r, uint64_t token,
		       const uint8_t *msg, size_t len)
{
	struct upq *u = upqtab_by_token(&r->tab, token);
	struct tdns_msg m;
	uint64_t now_ms = clock_mono_ms();

	if (u == NULL)
		return; /* a stale attempt */
	if (msg == NULL) {
		resolver_on_failure(r, token, RESOLVER_FAIL_NETWORK, 0);
		return;
	}
	switch (attempt_reply(r, u, msg, len, now_ms, &m)) {
	case ATTEMPT_WAIT:
	case ATTEMPT_SENT:
		return;
	case ATTEMPT_NEXT:
		attempt_failed(r, u, now_ms);
		return;
	case ATTEMPT_FAIL:
		upq_fail(r, u);
		return;
	case ATTEMPT_ANSWER:
		break;
	}
	accept_reply(r, u, &m);
}

void resolver_on_failure(struct tdns_resolver *r, uint64_t token,
			 enum resolver_failure why, int err)
{
	struct upq *u = upqtab_by_token(&r->tab, token);

	if (u == NULL)
		return;
	u->err = err;
	reply_failed(r, u, why == RESOLVER_FAIL_TLS_AUTH ? FAIL_TLS_AUTH : FAIL_NETWORK, false,
		     clock_mono_ms());
}

void resolver_tick(struct tdns_resolver *r, uint64_t now_ms)
{
	struct upq *u, *next;
	uint64_t min = UINT64_MAX;

	for (u = r->tab.all; u != NULL; u = next) {
		next = u->next;
		if (u->stale_at != 0 && u->stale_at <= now_ms)
			stale_early(r, u);
		if (u->attempt_deadline > now_ms)
			continue;
		u->why = FAIL_TIMEOUT;
		if (u->target != NULL) {
			/* Its budget ran out waiting for a CNAME target. */
			upq_fail(r, u);
		} else {
			attempt_timeout(r, u, now_ms);
			attempt_failed(r, u, now_ms);
		}
		/* A failure may have failed the queries chasing to this one
		 * (next among them): start over; what is done is gone or has
		 * a later deadline. */
		next = r->tab.all;
	}
	for (u = r->tab.all; u != NULL; u = u->next)
		if (upq_next(u) < min)
			min = upq_next(u);
	r->armed = min;
	r->cfg.transport.wake(r->cfg.transport.ctx, min);
}

uint64_t resolver_next_deadline(const struct tdns_resolver *r)
{
	uint64_t min = UINT64_MAX;

	for (const struct upq *u = r->tab.all; u != NULL; u = u->next)
		if (upq_next(u) < min)
			min = upq_next(u);
	return min;
}

bool resolver_cancel(struct tdns_resolver *r, void *held)
{
	for (struct upq *u = r->tab.all; u != NULL; u = u->next) {
		for (struct waiter **pp = &u->waiters; *pp != NULL;
		     pp = &(*pp)->next) {
			struct waiter *w = *pp;

			if (w->held != held)
				continue;
			*pp = w->next;
			u->n_waiters--;
			waiter_free(w);
			return true;
		}
	}
	return false;
}

size_t resolver_outstanding(const struct tdns_resolver *r)
{
	return r->tab.n_out;
}

const struct tdns_resolver_stats *resolver_stats(const struct tdns_resolver *r)
{
	return &r->stats;
}

enum tdns_status resolver_new(const struct tdns_resolver_cfg *cfg,
			      struct tdns_resolver **out)
{
	struct tdns_resolver *r = NULL;
	enum tdns_status st = TDNS_EINVAL;

	*out = NULL;
	if (cfg->store == NULL || cfg->n_upstream == 0 ||
	    cfg->transport.send == NULL || cfg->transport.done == NULL ||
	    cfg->transport.wake == NULL || cfg->client.hold == NULL ||
	    cfg->client.answer == NULL)
		goto out;
	st = TDNS_ENOMEM;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		goto out;
	r->cfg = *cfg;
	atomic_init(&r->flush_gen, 0);
	if (r->cfg.timeout_ms == 0)
		r->cfg.timeout_ms = DEFAULT_TIMEOUT_MS;
	if (r->cfg.max_outstanding == 0)
		r->cfg.max_outstanding = DEFAULT_MAX_OUTSTANDING;
	if (r->cfg.max_waiters == 0)
		r->cfg.max_waiters = DEFAULT_MAX_WAITERS;
	if (r->cfg.stale_ttl == 0)
		r->cfg.stale_ttl = DEFAULT_STALE_TTL;
	if (r->cfg.max_records == 0)
		r->cfg.max_records = DEFAULT_MAX_RECORDS;
	if (r->cfg.max_records > MSG_RR_MAX)
		r->cfg.max_records = MSG_RR_MAX; /* what msg_parse takes */
	r->buf = malloc(DNS_MSG_MAX);
	if (upqtab_init(&r->tab, r->cfg.max_outstanding) != TDNS_OK || r->buf == NULL ||
	    failcache_new(&r->failc) != TDNS_OK ||
	    commit_init(&r->commit, r->cfg.max_outstanding) != TDNS_OK ||
	    zonedb_cache_new(&r->zc) != TDNS_OK)
		goto out;
	if (r->cfg.packet_cache > 0 &&
	    (r->rc = replycache_new(r->cfg.packet_cache)) == NULL)
		goto out;
	if (r->cfg.aggressive_nsec && r->cfg.anchors != NULL &&
	    negcache_new(NEGCACHE_ANSWERS, &r->negc) != TDNS_OK)
		goto out;
	if (r->cfg.cache.max_bytes != 0 && r->cfg.cache.sketch == NULL) {
		/* A word of counters per 64 bytes of the bound: about two
		 * per entry the bound holds, so one-offs rarely share all
		 * four counters of a key. */
		if (sketch_new((size_t)(r->cfg.cache.max_bytes / 64), &r->sketch) != TDNS_OK)
			goto out;
		r->cfg.cache.sketch = r->sketch;
	}
	r->infra = r->cfg.infra;
	if (r->infra == NULL) {
		if (infra_new(r->cfg.n_upstream, &r->infra) != TDNS_OK)
			goto out;
		r->own_infra = true;
	}
	r->armed = UINT64_MAX;
	*out = r;
	r = NULL;
	st = TDNS_OK;
out:
	resolver_free(r);
	return st;
}

void resolver_free(struct tdns_resolver *r)
{
	struct waiter *w, *next;

	if (r == NULL)
		return;
	while (r->tab.all != NULL) {
		struct upq *u = r->tab.all;

		for (w = u->waiters; w != NULL; w = next) {
			next = w->next;
			r->cfg.client.answer(r->cfg.client.ctx, w->held, NULL, 0);
			waiter_free(w);
		}
		u->waiters = NULL;
		upq_destroy(r, u);
	}
	for (struct upq *u; (u = upq_spare(r)) != NULL;)
		free(u);
	store_abort(r->rtxn);
	upqtab_fini(&r->tab);
	free(r->buf);
	if (r->own_infra)
		infra_free(r->infra);
	failcache_free(r->failc);
	negcache_free(r->negc);
	replycache_free(r->rc);
	sketch_free(r->sketch);
	commit_fini(&r->commit);
	zonedb_cache_free(r->zc);
	policy_release(r->pol);
	free(r);
}
