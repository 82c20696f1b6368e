/*
 * resolve_int.h - the resolver's private types, shared by the files that
 * make up the local tier's resolver (resolve.h is its public face):
 *
 *   resolve.c  the request state machine: the pipeline's stages, the
 *              table of outstanding queries (coalescing), the waiters,
 *              what an accepted reply leads to (chase, validate, commit,
 *              answer), timers, resolver_new/free
 *   attempt.c  one upstream attempt: choosing the server, the query sent
 *              (ID, 0x20, EDNS, RD/DO/CD), its time (RTO, suspect
 *              upstreams), the reply's screening and the retries it asks
 *              for, a stub zone's referral followed (referral.h has the
 *              rules), the verdicts told to the shared upstream health
 *   chase.c    CNAME chains: the chain in a reply, whether to chase it,
 *              local data for a question the resolver asks itself (a
 *              CNAME target, a DNSKEY or DS), the answer combined from a
 *              chain and its target's
 *   upqtab.c   the table of outstanding queries: by question (coalescing),
 *              by attempt token, all of them (timers)
 *   stale.c    serve-stale (RFC 8767): the stale entry, the answer to a
 *              failed query, the client-response timer
 *   commit.c   answers queued for one cache commit per batch
 *   fail.c     why a query failed: its text, rcode, EDE, the counters and
 *              the rate-limited log line
 *
 * and randpool.c (its own public module) for the random bytes.
 *
 * Not for use outside these files. Everything here runs on the resolver's
 * own thread (one resolver per worker), except flush_gen. Each field below
 * says which file writes it; the others only read it.
 */
#ifndef TIERDNS_RESOLVE_INT_H
#define TIERDNS_RESOLVE_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tierdns/resolve.h"

#include "tierdns/cache.h"
#include "tierdns/chain.h"
#include "tierdns/dnsproto.h"
#include "tierdns/failcache.h"
#include "tierdns/infra.h"
#include "tierdns/name.h"
#include "tierdns/negcache.h"
#include "tierdns/policy.h"
#include "tierdns/randpool.h"
#include "tierdns/referral.h"
#include "tierdns/log.h"
#include "tierdns/sketch.h"
#include "tierdns/store.h"

#include "fail.h"

/* A question key (upqtab_key): record key || class || CD; the failure
 * cache remembers such keys. */
#define QUESTION_KEY_MAX (RECORD_KEY_MAX + 3)
_Static_assert(QUESTION_KEY_MAX <= FAILCACHE_KEY_MAX, "failcache keys hold question keys");

/* An attempt's token (the transport's handle of it): a sequence number
 * above SLOT_BITS, the query's slot below. */
#define SLOT_BITS 32

/* One client waiting for an upstream query. */
struct waiter {
	struct waiter *next;
	void *held;            /* the daemon's handle (client.hold) */
	size_t len;
	uint8_t transport;     /* enum qctx_transport it came over */
	uint8_t msg[];         /* a copy of the client's query (len bytes):
				* its ID, case, EDNS and limit are the
				* answer's; allocated with the waiter */
};

/*
 * One outstanding upstream query. resolve.c creates it (upq_new), links it
 * into the resolver's table, and alone frees it (upq_destroy); the groups
 * below say which file writes which fields.
 */
struct upq {
	/* upqtab.c: its place in the table */
	struct upq *hnext;        /* chain in the key hash */
	struct upq *prev, *next;  /* list of all outstanding */
	uint32_t slot;            /* index in slots, low half of tokens */
	/* resolve.c: the question */
	uint8_t key[QUESTION_KEY_MAX]; /* upqtab_key */
	size_t key_len;
	size_t qkey_len;          /* the name key's part of key */
	uint32_t hash;
	uint8_t qname[NAME_WIRE_MAX]; /* lower case, uncompressed */
	size_t qname_len;
	uint16_t qtype;
	uint16_t qclass;
	uint64_t deadline;        /* whole budget, monotonic ms */
	enum fail_kind why;       /* the last failure, for SERVFAIL (set by
				   * whichever file saw it fail) */
	struct waiter *waiters;   /* the clients waiting (resolve.c; stale.c */
	unsigned n_waiters;       /* answers them early) */
	/* resolve.c, once at upq_new: the question's upstream set (policy.h) */
	unsigned set_first;       /* upstreams set_first .. set_end-1 */
	unsigned set_end;
	bool stub;                /* the set is a stub zone's authoritative
				   * servers: asked with RD clear */
	size_t stub_len;          /* stub: the zone's key, qname key[0..stub_len) */
	/* attempt.c (referral_take), stub only, once a referral was followed
	 * (referral.h): the servers asked now are ref->addr[0 .. n_addr),
	 * upstream indexes them, and no health is kept for them (they are
	 * none of the upstreams). NULL: the set's upstreams are asked. */
	struct referral_state *ref;
	uint8_t ref_bad;          /* FAIL_REFERRAL: the enum referral_verdict */
	/* attempt.c: the current attempt */
	uint64_t token;           /* 0 = none */
	uint16_t id;              /* its ID */
	unsigned upstream;        /* the server it asks (an index of the set,
				   * or of ref->addr) */
	bool tcp;                 /* over TCP */
	bool no_edns;             /* without OPT (RFC 6891 7) */
	bool probe;               /* it probes a dead upstream */
	bool used_0x20;           /* its question has randomised case */
	bool plain_case;          /* this query fell back to no 0x20 */
	bool badcookie;           /* it was answered BADCOOKIE once */
	int err;                  /* FAIL_NETWORK: the errno, 0 if unknown
				   * (resolve.c, from the transport) */
	uint8_t qsent[NAME_WIRE_MAX]; /* the qname as sent, case included */
	uint64_t sent_ms;         /* when it went out */
	uint64_t attempt_deadline; /* also resolve.c (waiting for a target)
				    * and commit.c (none while queued) */
	/* stale.c's client-response timer (RFC 8767 5), armed by resolve.c
	 * at upq_new: 0 = off */
	uint64_t stale_at;
	/* resolve.c, CNAME chasing (RFC 1034 5.3.3 step 3): while target is
	 * set, this query waits for the upstream query of its CNAME target
	 * (or of a DNSKEY or DS) instead of an attempt of its own; chain holds
	 * the CNAMEs from qname to it (chase.h reads it). */
	struct upq *target;       /* the query waited for, NULL = none */
	struct upq *deps;         /* queries waiting for this one */
	struct upq *dep_next;     /* next in target->deps */
	struct tdns_cache_value chain; /* CNAMEs collected so far, packed
					* as cache.h cache_value_records */
	unsigned depth;           /* CNAMEs before qname (a chased target) */
	bool chased;              /* the answer now comes from a target query */
	/* resolve.c, DNSSEC (validating resolvers only): the client's CD goes
	 * upstream; vc holds the answer while the DNSKEY/DS it needs are
	 * fetched. */
	bool cd;
	struct tdns_chain *vc;
	/* commit.c: answered, its cache value waiting for the next
	 * resolver_flush (one commit per batch): no attempt, no deadline;
	 * clients asking meanwhile join the waiters. */
	struct tdns_cache_value val;
	struct upq *commit_next;  /* in r->commit, NULL at its tail */
	bool committing;
};

/* The outstanding queries (upqtab.c). */
struct upq_table {
	struct upq **slots;       /* n_slots, NULL = free */
	uint32_t *free_slots;     /* stack of free slot indices */
	uint32_t n_slots;
	uint32_t n_free;
	struct upq **buckets;     /* key hash, n_buckets a power of two */
	uint32_t n_buckets;
	struct upq *all;          /* list of all outstanding */
	size_t n_out;
};

/* Answers waiting for one cache commit (commit.c). */
struct commit_batch {
	struct upq *head;            /* in the order they came, */
	struct upq **tail;           /* linked through upq.commit_next */
	struct tdns_cache_put *puts; /* max_outstanding, for resolver_flush */
};

/* One resolver (one per worker thread): resolve.c's resolver_new makes
 * it and resolver_free frees all it holds; the groups below say which file
 * writes which fields. */
struct tdns_resolver {
	struct tdns_resolver_cfg cfg; /* resolver_new's copy, defaults filled */
	/* upqtab.c (resolve.c adds and removes): the outstanding queries */
	struct upq_table tab;
	/* attempt.c */
	uint32_t seq;             /* high half of the next token */
	struct tdns_randpool rand; /* query IDs and 0x20 bits */
	/* wake_at (attempt.c, resolve.c) and resolver_tick */
	uint64_t armed;           /* deadline last given to transport.wake */
	/* resolve.c: the read snapshot (rtxn_open below) */
	struct tdns_txn *rtxn;    /* reset between queries (or batches,
				   * resolver_batch) */
	bool held;                /* in a batch: rtxn stays open across it */
	struct tdns_txn *stage_txn; /* the snapshot the QUERY stage opened */
	/* commit.c: answers waiting for resolver_flush */
	struct commit_batch commit;
	/* resolve.c: queries upq_destroy freed, for upq_new to take again
	 * (chained by hnext): a miss then allocates no 1 KB query, which
	 * glibc's calloc of that size takes from its arenas, not its
	 * per-thread cache. */
	struct upq *spare;
	unsigned n_spare;
	/* shared knowledge, resolve.c makes and frees it */
	struct tdns_infra *infra; /* upstream health: cfg.infra, or owned;
				   * attempt.c reports to it */
	bool own_infra;
	struct tdns_failcache *failc; /* recent failures (RFC 9520) */
	struct tdns_negcache *negc;   /* cfg.aggressive_nsec: RFC 8198, else NULL */
	struct tdns_sketch *sketch;   /* owned, as cfg.cache.sketch when the
				       * cache has a size bound and the caller
				       * gave none (sketch.h) */
	/* resolver_cache_flushed bumps it from any thread; failc is emptied
	 * on this thread when it differs from failc_gen. */
	atomic_uint flush_gen;
	unsigned failc_gen;
	/* resolve.c: the packet cache (cfg.packet_cache; NULL: none), and
	 * what the pipeline's answer would put into it: a cache hit's
	 * encoding at rc_now of the entry in snapshot rc_since, replayable
	 * until rc_until (0: nothing) */
	struct tdns_replycache *rc;
	uint64_t rc_until;
	uint64_t rc_now;
	uint64_t rc_since;
	/* fail.c: the SERVFAIL log's rate limit */
	struct fail_log flog;
	/* every file counts what it sees */
	struct tdns_resolver_stats stats;
	/* resolve.c: the query in the pipeline and the answers it writes */
	uint8_t *buf;             /* DNS_MSG_MAX scratch for deferred answers */
	struct tdns_answer ans;    /* the pipeline's answer, reused (also
				    * chase.c's scratch, between queries) */
	struct tdns_answer wans;   /* the answer to a waiting client, reused */
	struct zonedb_cache *zc;   /* this resolver's copy of the static
				    * zone list (zonedb.h) */
	bool refusing;             /* the query's client is not allowed */
	void *request;             /* the daemon's handle of the query in the
				    * pipeline (client.hold takes it) */
	struct tdns_cache_value stale; /* a stale answer the pipeline's
					* answer borrows until encoded */
	struct tdns_policy *pol;   /* cfg.policy's, taken at each query */
	unsigned pol_gen;
};

/* ---- the read snapshot (resolve.c opens it; stale.c and chase.c read
 * through it) ---- */

/* One read transaction per resolver, begun on its own thread at first use
 * and reset after each query or batch: renewing keeps the reader slot, so
 * a lookup costs no slot search (LMDB mdb_txn_renew), and sees the latest
 * commit. The caller rtxn_close()s it when done. */
static inline struct tdns_txn *rtxn_open(struct tdns_resolver *r)
{
	enum tdns_status st;

	if (r->held || r->stage_txn != NULL)
		return r->rtxn;
	if (r->rtxn == NULL)
		st = store_begin(r->cfg.store, false, &r->rtxn);
	else
		st = store_renew(r->rtxn);
	if (st != TDNS_OK) {
		log_warn("store read: %s", tdns_strerror(st));
		return NULL;
	}
	return r->rtxn;
}

/* Done with the snapshot of rtxn_open: reset it, unless a batch or the
 * pipeline's QUERY stage (whose answer borrows from it) holds it. */
static inline void rtxn_close(struct tdns_resolver *r, struct tdns_txn *t)
{
	if (!r->held && t != r->stage_txn)
		store_reset(t);
}

/* ---- the route (resolve.c takes r->pol at each query) ---- */

/* The upstream set of a name (policy.h); without a policy, every upstream.
 * *zone_len: the key length of the name that routes it (0: the default). */
static inline enum policy_fwd route(const struct tdns_resolver *r, const uint8_t *qkey,
				    size_t qkey_len, unsigned *first, unsigned *end, size_t *zone_len)
{
	if (r->pol == NULL) {
		*first = 0;
		*end = r->cfg.n_upstream;
		*zone_len = 0;
		return POLICY_FWD_DEFAULT;
	}
	return policy_route(r->pol, qkey, qkey_len, first, end, zone_len);
}

/* ---- timers (resolve.c arms them; attempt.c and chase.c set deadlines) ---- */
/* The next moment u needs attention: its attempt's deadline or its
 * serve-stale client timer. */
static inline uint64_t upq_next(const struct upq *u)
{
	return u->stale_at != 0 && u->stale_at < u->attempt_deadline
		       ? u->stale_at
		       : u->attempt_deadline;
}

static inline void wake_at(struct tdns_resolver *r, uint64_t deadline)
{
	if (deadline < r->armed) {
		r->armed = deadline;
		r->cfg.transport.wake(r->cfg.transport.ctx, deadline);
	}
}

/* ---- resolve.c: the state machine's steps the other files call ---- */

/* Answer one waiter and free it: from a packed cache value (val;
 * stored_in: the snapshot id of the commit that put it in the cache, so
 * the reply may go into the packet cache; 0: not stored), else from the
 * stale value, else SERVFAIL for why (stale.h stale_answer). */
void answer_waiter(struct tdns_resolver *r, struct waiter *w, const uint8_t *val, size_t vlen,
		   uint64_t stored_in, const struct tdns_cache_value *stale, enum fail_kind why,
		   uint64_t now);

/* The query is over with an answer (val, packed as cached; NULL: none;
 * stored_in as answer_waiter's): its waiters are answered, u is freed, and
 * the queries chasing a CNAME to it go on. */
void upq_complete(struct tdns_resolver *r, struct upq *u, const uint8_t *val, size_t vlen,
		  uint64_t stored_in, uint64_t now);

#endif
