/*
 * resolve.c - the local tier: CHAOS, static zones, cache, then upstream
 * queries with coalescing (see resolve.h for the rules).
 */
#include "tierdns/resolve.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "tierdns/clock.h"
#include "tierdns/log.h"
#include "tierdns/name.h"
#include "tierdns/wire.h"

#define DEFAULT_TIMEOUT_MS 2000u
#define DEFAULT_MAX_OUTSTANDING 1024u
#define DEFAULT_MAX_WAITERS 64u
#define MIN_ATTEMPT_MS 250u
/* Header, the question, one OPT record (RFC 6891 6.1.2). */
#define UPQ_MSG_MAX (WIRE_HDR_LEN + NAME_WIRE_MAX + 4 + 11)
#define SLOT_BITS 32

/* One client waiting for an upstream query. */
struct waiter {
	struct waiter *next;
	void *held;            /* the daemon's handle (client.hold) */
	struct tdns_query q;   /* the client's own query: ID, case, EDNS, limit */
	bool tcp;
};

/* One outstanding upstream query. */
struct upq {
	struct upq *hnext;        /* chain in the key hash */
	struct upq *prev, *next;  /* list of all outstanding */
	uint32_t slot;            /* index in r->slots, low half of tokens */
	uint64_t token;           /* current attempt, 0 = none */
	uint8_t key[RECORD_KEY_MAX + 2]; /* record key || class */
	size_t key_len;
	size_t qkey_len;          /* the name key's part of key */
	uint32_t hash;
	ldns_rdf *qname;          /* lower case, as sent upstream */
	uint16_t qtype;
	uint16_t qclass;
	uint16_t id;              /* ID of the current attempt */
	unsigned upstream;        /* index of the current attempt's upstream */
	bool tcp;                 /* current attempt over TCP */
	bool no_edns;             /* current attempt without OPT (RFC 6891 7) */
	uint64_t deadline;        /* whole budget, monotonic ms */
	uint64_t attempt_deadline;
	struct waiter *waiters;
	unsigned n_waiters;
};

struct tdns_resolver {
	struct tdns_resolver_cfg cfg;
	struct upq **slots;       /* max_outstanding, NULL = free */
	uint32_t *free_slots;     /* stack of free slot indices */
	uint32_t n_free;
	struct upq **buckets;     /* key hash, n_buckets a power of two */
	uint32_t n_buckets;
	struct upq *all;          /* list of all outstanding */
	size_t n_out;
	uint32_t seq;             /* high half of the next token */
	uint64_t armed;           /* deadline last given to transport.wake */
	uint8_t *buf;             /* WIRE_MAX_MSG scratch for deferred answers */
	struct tdns_txn *rtxn;    /* read snapshot, reset between queries */
	struct tdns_resolver_stats stats;
};

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* FNV-1a over the key: spreads names and types over the buckets. */
static uint32_t key_hash(const uint8_t *k, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ k[i]) * 16777619u;
	return h;
}

/* RFC 5452 9.2: the ID comes from the OS CSPRNG. */
static enum tdns_status random_id(uint16_t *id)
{
	ssize_t n;

	do {
		n = getrandom(id, sizeof(*id), 0);
	} while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof(*id) ? TDNS_OK : TDNS_EIO;
}

/* ---- immediate answers ---- */

/* RFC 8914 4: Extended DNS Error info-codes used here. */
#define EDE_STALE_ANSWER 3
#define EDE_CACHED_ERROR 13
#define EDE_PROHIBITED 18
#define EDE_NO_REACHABLE_AUTHORITY 22
#define EDE_NETWORK_ERROR 23
#define EDNS_OPT_EDE 15

/* RFC 8914 2: attach one EDE option (code, info-code, EXTRA-TEXT) to the
 * OPT of reply, only when the client sent EDNS (RFC 8914 3: never add an
 * OPT the client did not ask for). Failing to allocate only loses it. */
static void add_ede(ldns_pkt *reply, const struct tdns_query *q, uint16_t info,
		    const char *text)
{
	uint8_t opt[4 + 2 + 64];
	size_t tlen = strlen(text);
	ldns_rdf *rdf;

	if (!q->edns || reply == NULL)
		return;
	if (tlen > sizeof(opt) - 6)
		tlen = sizeof(opt) - 6;
	wr16(opt, EDNS_OPT_EDE);
	wr16(opt + 2, (uint16_t)(2 + tlen));
	wr16(opt + 4, info);
	memcpy(opt + 6, text, tlen);
	rdf = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_UNKNOWN, 6 + tlen, opt);
	if (rdf == NULL)
		return;
	ldns_rdf_deep_free(ldns_pkt_edns_data(reply));
	ldns_pkt_set_edns_data(reply, rdf);
}

/* Render reply for q into out. RA is set on everything the local tier sends
 * (RFC 1035 4.1.1: recursion is available). On a rendering failure the
 * client still gets a SERVFAIL built from its raw query. */
static enum resolver_verdict finish(ldns_pkt *reply, const struct tdns_query *q,
				    bool tcp, const uint8_t *in, size_t len,
				    uint8_t *out, size_t cap, size_t *out_len)
{
	if (reply != NULL) {
		ldns_pkt_set_ra(reply, true);
		if (wire_reply_render(reply, q, tcp, out, cap, out_len) == TDNS_OK)
			return RESOLVER_REPLY;
	}
	*out_len = wire_error_reply(in, len, LDNS_RCODE_SERVFAIL, out, cap);
	if (*out_len < WIRE_HDR_LEN)
		return RESOLVER_DROP;
	out[3] |= 0x80; /* RA */
	return RESOLVER_REPLY;
}

/* ---- outstanding queries ---- */

static struct upq *upq_find(struct tdns_resolver *r, const uint8_t *key,
			    size_t key_len, uint32_t hash)
{
	struct upq *u = r->buckets[hash & (r->n_buckets - 1)];

	for (; u != NULL; u = u->hnext)
		if (u->hash == hash && u->key_len == key_len &&
		    memcmp(u->key, key, key_len) == 0)
			return u;
	return NULL;
}

static struct upq *upq_by_token(struct tdns_resolver *r, uint64_t token)
{
	uint32_t slot = (uint32_t)(token & 0xffffffffu);
	struct upq *u;

	if (token == 0 || slot >= r->cfg.max_outstanding)
		return NULL;
	u = r->slots[slot];
	return u != NULL && u->token == token ? u : NULL;
}

/* Close the current attempt (if any) with the transport. */
static void attempt_close(struct tdns_resolver *r, struct upq *u)
{
	if (u->token != 0)
		r->cfg.transport.done(r->cfg.transport.ctx, u->token);
	u->token = 0;
}

/* Unlink u from every index and free it; its waiters must be gone. */
static void upq_destroy(struct tdns_resolver *r, struct upq *u)
{
	struct upq **pp = &r->buckets[u->hash & (r->n_buckets - 1)];

	attempt_close(r, u);
	while (*pp != u)
		pp = &(*pp)->hnext;
	*pp = u->hnext;
	if (u->prev != NULL)
		u->prev->next = u->next;
	else
		r->all = u->next;
	if (u->next != NULL)
		u->next->prev = u->prev;
	r->slots[u->slot] = NULL;
	r->free_slots[r->n_free++] = u->slot;
	r->n_out--;
	ldns_rdf_deep_free(u->qname);
	free(u);
}

static void waiter_free(struct waiter *w)
{
	if (w->q.pkt != NULL)
		wire_query_clear(&w->q);
	free(w);
}

static void wake_at(struct tdns_resolver *r, uint64_t deadline)
{
	if (deadline < r->armed) {
		r->armed = deadline;
		r->cfg.transport.wake(r->cfg.transport.ctx, deadline);
	}
}

/* The upstream query message: RD set (we forward, RFC 1035 4.3.1), one
 * question in lower case, an OPT record advertising 1232 bytes (RFC 6891
 * 6.2.5, DNS flag day 2020) unless this upstream refused EDNS. */
static size_t build_query(const struct upq *u, uint8_t *m)
{
	size_t nlen = ldns_rdf_size(u->qname), p;

	memset(m, 0, WIRE_HDR_LEN);
	wr16(m, u->id);
	m[2] = 0x01;   /* QR=0, opcode QUERY, RD=1 */
	wr16(m + 4, 1); /* QDCOUNT */
	wr16(m + 10, u->no_edns ? 0 : 1); /* ARCOUNT: the OPT */
	memcpy(m + WIRE_HDR_LEN, ldns_rdf_data(u->qname), nlen);
	p = WIRE_HDR_LEN + nlen;
	wr16(m + p, u->qtype);
	wr16(m + p + 2, u->qclass);
	p += 4;
	if (u->no_edns)
		return p;
	m[p++] = 0; /* OPT owner: root */
	wr16(m + p, LDNS_RR_TYPE_OPT);
	wr16(m + p + 2, WIRE_EDNS_OUR_SIZE);
	memset(m + p + 4, 0, 6); /* extended rcode, version 0, flags, rdlength */
	return p + 10;
}

/*
 * Start an attempt on the first upstream from `first` that takes it: a new
 * token and a new random ID every time (RFC 5452 9.2). tcp and no_edns
 * apply to `first` only; a further upstream is asked over UDP with EDNS.
 * Returns false when no upstream could be sent to.
 */
static bool attempt_start(struct tdns_resolver *r, struct upq *u, unsigned first,
			  bool tcp, bool no_edns, uint64_t now_ms)
{
	uint8_t msg[UPQ_MSG_MAX];
	unsigned per = r->cfg.timeout_ms / r->cfg.n_upstream;
	size_t len;

	attempt_close(r, u);
	if (per < MIN_ATTEMPT_MS)
		per = MIN_ATTEMPT_MS;
	for (unsigned up = first; up < r->cfg.n_upstream;
	     up++, tcp = false, no_edns = false) {
		if (now_ms >= u->deadline || random_id(&u->id) != TDNS_OK)
			return false;
		u->no_edns = no_edns;
		if (++r->seq == 0)
			r->seq = 1;
		u->token = (uint64_t)r->seq << SLOT_BITS | u->slot;
		len = build_query(u, msg);
		if (r->cfg.transport.send(r->cfg.transport.ctx, u->token, up, tcp,
					  msg, len) == TDNS_OK) {
			r->stats.upstream_sent++;
			u->upstream = up;
			u->tcp = tcp;
			u->attempt_deadline = now_ms + per < u->deadline
						      ? now_ms + per
						      : u->deadline;
			wake_at(r, u->attempt_deadline);
			return true;
		}
		r->cfg.transport.done(r->cfg.transport.ctx, u->token);
		u->token = 0;
		r->stats.upstream_failed++;
	}
	return false;
}

/* Answer one waiter from a packed cache value (or SERVFAIL when val is
 * NULL) and free it. */
static void answer_waiter(struct tdns_resolver *r, struct waiter *w,
			  const uint8_t *val, size_t vlen, uint64_t now)
{
	ldns_pkt *reply = NULL;
	size_t len = 0;
	bool ok = false;

	if (val != NULL) {
		reply = wire_reply_new(&w->q, LDNS_RCODE_NOERROR);
		if (reply != NULL &&
		    cache_value_render(val, vlen, now, reply) != TDNS_OK) {
			ldns_pkt_free(reply);
			reply = NULL;
		}
	}
	if (reply == NULL) {
		r->stats.servfail++;
		reply = wire_reply_new(&w->q, LDNS_RCODE_SERVFAIL);
	}
	if (reply != NULL) {
		ldns_pkt_set_ra(reply, true);
		ok = wire_reply_render(reply, &w->q, w->tcp, r->buf, WIRE_MAX_MSG,
				       &len) == TDNS_OK;
		ldns_pkt_free(reply);
	}
	r->cfg.client.answer(r->cfg.client.ctx, w->held, ok ? r->buf : NULL,
			     ok ? len : 0);
	waiter_free(w);
}

/* The query is over: answer everyone waiting (val NULL: SERVFAIL) and
 * forget it. It is unlinked first so that nothing done while answering can
 * find it half-finished. */
static void upq_complete(struct tdns_resolver *r, struct upq *u,
			 const uint8_t *val, size_t vlen, uint64_t now)
{
	struct waiter *w = u->waiters, *next;

	u->waiters = NULL;
	upq_destroy(r, u);
	for (; w != NULL; w = next) {
		next = w->next;
		answer_waiter(r, w, val, vlen, now);
	}
}

/* The current attempt failed: next upstream, else SERVFAIL. */
static void attempt_failed(struct tdns_resolver *r, struct upq *u,
			   uint64_t now_ms)
{
	if (!attempt_start(r, u, u->upstream + 1, false, false, now_ms))
		upq_complete(r, u, NULL, 0, clock_now());
}

static enum tdns_status upq_new(struct tdns_resolver *r, const struct tdns_query *q,
				const uint8_t *key, size_t key_len, uint32_t hash,
				uint64_t now_ms, struct upq **out)
{
	uint8_t wire[NAME_WIRE_MAX];
	size_t wire_len;
	struct upq *u = NULL;
	uint32_t b;
	enum tdns_status st;

	*out = NULL;
	st = name_key_to_wire(q->qkey, q->qkey_len, wire, &wire_len);
	if (st != TDNS_OK)
		goto out;
	st = TDNS_ENOMEM;
	u = calloc(1, sizeof(*u));
	if (u == NULL)
		goto out;
	u->qname = ldns_dname_new_frm_data((uint16_t)wire_len, wire);
	if (u->qname == NULL)
		goto out;
	memcpy(u->key, key, key_len);
	u->key_len = key_len;
	u->qkey_len = q->qkey_len;
	u->hash = hash;
	u->qtype = q->qtype;
	u->qclass = q->qclass;
	u->deadline = now_ms + r->cfg.timeout_ms;
	u->slot = r->free_slots[--r->n_free];
	r->slots[u->slot] = u;
	b = hash & (r->n_buckets - 1);
	u->hnext = r->buckets[b];
	r->buckets[b] = u;
	u->next = r->all;
	if (r->all != NULL)
		r->all->prev = u;
	r->all = u;
	r->n_out++;
	*out = u;
	u = NULL;
	st = TDNS_OK;
out:
	if (u != NULL) {
		ldns_rdf_deep_free(u->qname);
		free(u);
	}
	return st;
}

/*
 * A miss: join the outstanding query for the same question or start one.
 * RESOLVER_DEFER: the client is held and the query in *q has moved into
 * its waiter. RESOLVER_REPLY: the caller answers SERVFAIL now (a limit was
 * reached, no upstream took the query, or no memory).
 */
static enum resolver_verdict miss(struct tdns_resolver *r, struct tdns_query *q,
				  bool tcp, void *request)
{
	uint8_t key[RECORD_KEY_MAX + 2];
	uint64_t now_ms = clock_mono_ms();
	struct waiter *w = NULL;
	struct upq *u;
	size_t key_len;
	uint32_t hash;
	enum resolver_verdict v = RESOLVER_REPLY;

	key_len = name_record_key(q->qkey, q->qkey_len, q->qtype, key);
	wr16(key + key_len, q->qclass);
	key_len += 2;
	hash = key_hash(key, key_len);
	r->stats.misses++;

	u = upq_find(r, key, key_len, hash);
	if (u != NULL && u->n_waiters >= r->cfg.max_waiters) {
		r->stats.overload++;
		goto out;
	} else if (u != NULL) {
		r->stats.coalesced++;
	} else if (r->n_free == 0) {
		r->stats.overload++;
		goto out;
	} else {
		if (upq_new(r, q, key, key_len, hash, now_ms, &u) != TDNS_OK)
			goto out;
		if (!attempt_start(r, u, 0, false, false, now_ms)) {
			upq_destroy(r, u);
			goto out;
		}
	}
	/* Without memory for the waiter the upstream query still goes on: its
	 * answer fills the cache for the client's retry. */
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		goto out;
	w->held = r->cfg.client.hold(r->cfg.client.ctx, request);
	if (w->held == NULL)
		goto out;
	w->q = *q;
	memset(q, 0, sizeof(*q));
	w->tcp = tcp;
	w->next = u->waiters;
	u->waiters = w;
	u->n_waiters++;
	w = NULL;
	v = RESOLVER_DEFER;
out:
	free(w);
	return v;
}

/* Static zones, then the cache, in one read transaction. Returns the reply
 * to send, or NULL for a miss (or an error: then treated as a miss). */
static ldns_pkt *local_answer(struct tdns_resolver *r, const struct tdns_query *q)
{
	struct tdns_txn *t = NULL;
	ldns_pkt *reply = NULL;
	enum tdns_status st;

	/* One read transaction per resolver, begun on its own thread at the
	 * first query and reset after each: renewing keeps the reader slot, so
	 * a query costs no slot search (LMDB mdb_txn_renew). Each renew sees
	 * the latest commit: zones loaded meanwhile and fresh cache entries. */
	if (r->rtxn == NULL) {
		st = store_begin(r->cfg.store, false, &r->rtxn);
	} else {
		st = store_renew(r->rtxn);
	}
	if (st != TDNS_OK) {
		log_warn("store read: %s", tdns_strerror(st));
		goto out;
	}
	t = r->rtxn;
	reply = wire_reply_new(q, LDNS_RCODE_NOERROR);
	if (reply == NULL)
		goto out;
	if (auth_lookup(t, q, reply) == AUTH_ANSWERED) {
		r->stats.static_answers++;
		goto out;
	}
	st = cache_lookup(t, q->qkey, q->qkey_len, q->qtype, clock_now(), reply);
	if (st == TDNS_OK) {
		r->stats.cache_hits++;
		goto out;
	}
	if (st != TDNS_ENOTFOUND)
		log_warn("cache lookup: %s (treated as a miss)", tdns_strerror(st));
	ldns_pkt_free(reply);
	reply = NULL;
out:
	store_reset(t);
	return reply;
}

enum resolver_verdict resolver_query(struct tdns_resolver *r, const uint8_t *in,
				     size_t len, bool tcp, void *request,
				     uint8_t *out, size_t cap, size_t *out_len)
{
	struct tdns_query q;
	ldns_pkt *reply = NULL;
	enum resolver_verdict v;

	memset(&q, 0, sizeof(q));
	switch (wire_parse_query(in, len, &q, out, out_len)) {
	case WIRE_DROP:
		return RESOLVER_DROP;
	case WIRE_ERROR:
		out[3] |= 0x80; /* RA on error replies too */
		return RESOLVER_REPLY;
	case WIRE_OK:
		break;
	}
	r->stats.queries++;

	if (q.qclass == LDNS_RR_CLASS_CH) {
		reply = wire_reply_new(&q, LDNS_RCODE_NOERROR);
		if (reply != NULL)
			auth_chaos(&r->cfg.chaos, &q, reply);
	} else if (q.qclass != LDNS_RR_CLASS_IN) {
		reply = wire_reply_new(&q, LDNS_RCODE_REFUSED);
	} else {
		reply = local_answer(r, &q);
		if (reply == NULL && !q.rd) {
			/* RFC 1034 4.3.1: without RD we answer from local data
			 * only; a forwarder has no referral to give. */
			reply = wire_reply_new(&q, LDNS_RCODE_REFUSED);
		} else if (reply == NULL) {
			v = miss(r, &q, tcp, request);
			if (v == RESOLVER_DEFER)
				goto out;
			r->stats.servfail++;
			reply = wire_reply_new(&q, LDNS_RCODE_SERVFAIL);
		}
	}
	v = finish(reply, &q, tcp, in, len, out, cap, out_len);
out:
	ldns_pkt_free(reply);
	if (q.pkt != NULL)
		wire_query_clear(&q);
	return v;
}

enum resolver_verdict resolver_refuse(struct tdns_resolver *r, const uint8_t *in,
				      size_t len, bool tcp, uint8_t *out,
				      size_t cap, size_t *out_len)
{
	struct tdns_query q;
	ldns_pkt *reply = NULL;
	enum resolver_verdict v = RESOLVER_DROP;

	memset(&q, 0, sizeof(q));
	if (wire_parse_query(in, len, &q, out, out_len) != WIRE_OK)
		goto out;
	r->stats.refused_acl++;
	reply = wire_reply_new(&q, LDNS_RCODE_REFUSED);
	add_ede(reply, &q, EDE_PROHIBITED, "client not allowed");
	v = finish(reply, &q, tcp, in, len, out, cap, out_len);
out:
	ldns_pkt_free(reply);
	if (q.pkt != NULL)
		wire_query_clear(&q);
	return v;
}

/* Does the reply's question match what u asked? (RFC 5452 4.2) */
static bool question_matches(const struct upq *u, const ldns_pkt *p)
{
	const ldns_rr *qr;

	if (ldns_pkt_qdcount(p) != 1 || ldns_pkt_get_opcode(p) != LDNS_PACKET_QUERY)
		return false;
	qr = ldns_rr_list_rr(ldns_pkt_question(p), 0);
	return qr != NULL && (uint16_t)ldns_rr_get_type(qr) == u->qtype &&
	       (uint16_t)ldns_rr_get_class(qr) == u->qclass &&
	       ldns_dname_compare(ldns_rr_owner(qr), u->qname) == 0;
}

/* An accepted NOERROR/NXDOMAIN reply: cache what may be cached, answer. */
static void accept_reply(struct tdns_resolver *r, struct upq *u,
			 const ldns_pkt *p)
{
	struct tdns_cache_value v = { 0 };
	uint64_t now = clock_now();
	enum tdns_status st;

	st = cache_value_build(&r->cfg.cache, u->qname, u->qtype, p, now, &v);
	if (st != TDNS_OK) {
		log_warn("upstream reply not usable: %s", tdns_strerror(st));
		upq_complete(r, u, NULL, 0, clock_now());
		return;
	}
	if (v.cacheable && u->qclass == LDNS_RR_CLASS_IN) {
		st = cache_store(r->cfg.store, &r->cfg.cache, u->key, u->qkey_len,
				 u->qtype, &v, now);
		if (st == TDNS_OK) {
			r->stats.cache_stored++;
		} else {
			/* The clients still get their answer. A failing store
			 * fails for every answer: log the 1st, 2nd, 4th, ... */
			r->stats.cache_errors++;
			if ((r->stats.cache_errors & (r->stats.cache_errors - 1)) == 0)
				log_warn("cache store: %s (%llu times)",
					 tdns_strerror(st),
					 (unsigned long long)r->stats.cache_errors);
		}
	}
	upq_complete(r, u, v.data, v.len, now);
	cache_value_clear(&v);
}

void resolver_on_reply(struct tdns_resolver *r, uint64_t token,
		       const uint8_t *msg, size_t len)
{
	struct upq *u = upq_by_token(r, token);
	ldns_pkt *p = NULL;
	uint64_t now_ms = clock_mono_ms();
	ldns_pkt_rcode rcode;

	if (u == NULL)
		goto out; /* a stale attempt */
	if (msg == NULL) {
		r->stats.upstream_failed++;
		attempt_failed(r, u, now_ms);
		goto out;
	}
	/* RFC 5452 9.1: anything without our ID and QR=1 may be a forgery:
	 * ignore it and keep waiting for the real answer. */
	if (len < WIRE_HDR_LEN || rd16(msg) != u->id || !(msg[2] & 0x80)) {
		r->stats.upstream_ignored++;
		goto out;
	}
	if (ldns_wire2pkt(&p, msg, len) != LDNS_STATUS_OK) {
		r->stats.upstream_failed++;
		attempt_failed(r, u, now_ms);
		goto out;
	}
	rcode = ldns_pkt_get_rcode(p);
	if (!question_matches(u, p) &&
	    !(ldns_pkt_qdcount(p) == 0 && rcode != LDNS_RCODE_NOERROR &&
	      rcode != LDNS_RCODE_NXDOMAIN)) {
		/* An error reply without a question is let through: servers
		 * send FORMERR like that, and it carries nothing to cache. */
		r->stats.upstream_ignored++;
		goto out;
	}
	if (ldns_pkt_tc(p) && !u->tcp) {
		/* RFC 1035 4.2.1, RFC 7766 5: truncated over UDP, ask again
		 * over TCP at the same upstream. */
		r->stats.tcp_retries++;
		if (!attempt_start(r, u, u->upstream, true, u->no_edns, now_ms))
			upq_complete(r, u, NULL, 0, clock_now());
		goto out;
	}
	if (rcode == LDNS_RCODE_FORMERR && !u->no_edns) {
		/* RFC 6891 7: a server that does not know EDNS may answer
		 * FORMERR; ask it once more without the OPT record. */
		if (!attempt_start(r, u, u->upstream, u->tcp, true, now_ms))
			upq_complete(r, u, NULL, 0, clock_now());
		goto out;
	}
	/* An extended rcode (BADVERS, ...) is a failure whatever the header
	 * says (RFC 6891 6.1.3). */
	if ((rcode != LDNS_RCODE_NOERROR && rcode != LDNS_RCODE_NXDOMAIN) ||
	    ldns_pkt_edns_extended_rcode(p) != 0 || ldns_pkt_tc(p)) {
		r->stats.upstream_failed++;
		attempt_failed(r, u, now_ms);
		goto out;
	}
	accept_reply(r, u, p);
out:
	ldns_pkt_free(p);
}

void resolver_tick(struct tdns_resolver *r, uint64_t now_ms)
{
	struct upq *u, *next;
	uint64_t min = UINT64_MAX;

	for (u = r->all; u != NULL; u = next) {
		next = u->next;
		if (u->attempt_deadline <= now_ms) {
			r->stats.upstream_timeouts++;
			attempt_failed(r, u, now_ms);
		}
	}
	for (u = r->all; u != NULL; u = u->next)
		if (u->attempt_deadline < min)
			min = u->attempt_deadline;
	r->armed = min;
	r->cfg.transport.wake(r->cfg.transport.ctx, min);
}

uint64_t resolver_next_deadline(const struct tdns_resolver *r)
{
	uint64_t min = UINT64_MAX;

	for (const struct upq *u = r->all; u != NULL; u = u->next)
		if (u->attempt_deadline < min)
			min = u->attempt_deadline;
	return min;
}

bool resolver_cancel(struct tdns_resolver *r, void *held)
{
	for (struct upq *u = r->all; u != NULL; u = u->next) {
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
	return r->n_out;
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
	if (r->cfg.timeout_ms == 0)
		r->cfg.timeout_ms = DEFAULT_TIMEOUT_MS;
	if (r->cfg.max_outstanding == 0)
		r->cfg.max_outstanding = DEFAULT_MAX_OUTSTANDING;
	if (r->cfg.max_waiters == 0)
		r->cfg.max_waiters = DEFAULT_MAX_WAITERS;
	r->n_buckets = 16;
	while (r->n_buckets < r->cfg.max_outstanding)
		r->n_buckets *= 2;
	r->slots = calloc(r->cfg.max_outstanding, sizeof(*r->slots));
	r->free_slots = calloc(r->cfg.max_outstanding, sizeof(*r->free_slots));
	r->buckets = calloc(r->n_buckets, sizeof(*r->buckets));
	r->buf = malloc(WIRE_MAX_MSG);
	if (r->slots == NULL || r->free_slots == NULL || r->buckets == NULL ||
	    r->buf == NULL)
		goto out;
	/* Hand out low slots first: a stack with slot 0 on top. */
	for (uint32_t i = 0; i < r->cfg.max_outstanding; i++)
		r->free_slots[i] = r->cfg.max_outstanding - 1 - i;
	r->n_free = r->cfg.max_outstanding;
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
	while (r->all != NULL) {
		struct upq *u = r->all;

		for (w = u->waiters; w != NULL; w = next) {
			next = w->next;
			r->cfg.client.answer(r->cfg.client.ctx, w->held, NULL, 0);
			waiter_free(w);
		}
		u->waiters = NULL;
		upq_destroy(r, u);
	}
	store_abort(r->rtxn);
	free(r->slots);
	free(r->free_slots);
	free(r->buckets);
	free(r->buf);
	free(r);
}
