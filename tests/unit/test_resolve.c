/*
 * test_resolve.c - the local tier's query logic against a FAKE transport:
 * no sockets, no sleeps. The fake records what the resolver sends and lets
 * each test play the upstream (right, wrong, late or silent) and the clock
 * (clock_set_fake / clock_advance_ms).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"
#include "tierdns/cache.h"
#include "tierdns/clock.h"
#include "tierdns/name.h"
#include "tierdns/policy.h"
#include "tierdns/resolve.h"
#include "tierdns/rrset.h"
#include "oracle.h"
#include "tierdns/zonedb.h"

#define T0 1700000000u
#define MAX_SENT 2048
#define MAX_GOT 2048
/* Longer than an upstream's longest backoff (60 s) and than a failure
 * is remembered after a first one (RFC 9520: 5 s, forgotten after 10 s). */
#define AFTER_FAILURES 61000u

/* ---- the fake transport and the fake daemon ---- */

/* fake_send_to's attempts: upstream NOT_UPSTREAM, the address in to. */
#define NOT_UPSTREAM 0xffffffffu

struct sent {
	uint64_t token;
	unsigned upstream;
	struct tdns_addr to;
	bool tcp;
	uint8_t msg[512];
	size_t len;
	bool done; /* transport.done was called for it */
};

struct got {
	void *held;
	uint8_t msg[4096];
	size_t len; /* 0: released without an answer */
};

struct env {
	char dir[64];
	struct tdns_store *store;
	struct tdns_resolver *r;
	struct sent sent[MAX_SENT];
	size_t n_sent;
	bool send_fails;
	uint64_t wake;
	struct got got[MAX_GOT];
	size_t n_got;
	int clients[8]; /* their addresses are the request handles */
	uint8_t out[WIRE_MAX_MSG];
	size_t out_len;
	bool prefetch; /* env_resolver: cfg.prefetch */
	unsigned packet_cache; /* env_resolver: cfg.packet_cache */
	struct tdns_policy_box *policy; /* env_resolver: cfg.policy */
};

static enum tdns_status fake_send(void *ctx, uint64_t token, unsigned upstream,
				  bool tcp, const uint8_t *msg, size_t len)
{
	struct env *e = ctx;
	struct sent *s;

	if (e->send_fails)
		return TDNS_ENET;
	assert_true(e->n_sent < MAX_SENT);
	assert_true(len <= sizeof(s->msg));
	s = &e->sent[e->n_sent++];
	s->token = token;
	s->upstream = upstream;
	s->tcp = tcp;
	memcpy(s->msg, msg, len);
	s->len = len;
	s->done = false;
	return TDNS_OK;
}

static enum tdns_status fake_send_to(void *ctx, uint64_t token, const struct tdns_addr *addr,
				     bool tcp, const uint8_t *msg, size_t len)
{
	struct env *e = ctx;
	enum tdns_status st = fake_send(ctx, token, NOT_UPSTREAM, tcp, msg, len);

	if (st == TDNS_OK)
		e->sent[e->n_sent - 1].to = *addr;
	return st;
}

static void fake_done(void *ctx, uint64_t token)
{
	struct env *e = ctx;

	for (size_t i = 0; i < e->n_sent; i++)
		if (e->sent[i].token == token)
			e->sent[i].done = true;
}

static void fake_wake(void *ctx, uint64_t deadline_ms)
{
	((struct env *)ctx)->wake = deadline_ms;
}

static void *fake_hold(void *ctx, void *request)
{
	(void)ctx;
	return request;
}

static void fake_answer(void *ctx, void *held, const uint8_t *msg, size_t len)
{
	struct env *e = ctx;
	struct got *g;

	assert_true(e->n_got < MAX_GOT);
	g = &e->got[e->n_got++];
	g->held = held;
	assert_true(len <= sizeof(g->msg));
	if (msg != NULL)
		memcpy(g->msg, msg, len);
	g->len = msg != NULL ? len : 0;
}

/* ---- packets ---- */

static ldns_rr *rr_from(const char *text)
{
	ldns_rr *rr = NULL;

	if (ldns_rr_new_frm_str(&rr, text, 0, NULL, NULL) != LDNS_STATUS_OK)
		fail_msg("bad record in test: %s", text);
	return rr;
}

static ldns_pkt *parse(const uint8_t *msg, size_t len)
{
	ldns_pkt *p = NULL;

	assert_int_equal(ldns_wire2pkt(&p, msg, len), LDNS_STATUS_OK);
	return p;
}

static size_t to_wire(ldns_pkt *p, uint8_t *out, size_t cap)
{
	uint8_t *w = NULL;
	size_t n = 0;

	assert_int_equal(ldns_pkt2wire(&w, p, &n), LDNS_STATUS_OK);
	assert_true(n <= cap);
	memcpy(out, w, n);
	free(w);
	return n;
}

/* A client query; edns 0 = none. */
static size_t mkquery(uint16_t id, const char *name, uint16_t type, bool rd,
		      uint16_t edns, uint8_t *out)
{
	ldns_pkt *p = ldns_pkt_query_new(ldns_dname_new_frm_str(name),
					 (ldns_rr_type)type, LDNS_RR_CLASS_IN,
					 rd ? LDNS_RD : 0);
	size_t n;

	assert_non_null(p);
	ldns_pkt_set_id(p, id);
	if (edns)
		ldns_pkt_set_edns_udp_size(p, edns);
	n = to_wire(p, out, 512);
	ldns_pkt_free(p);
	return n;
}

/* The reply to what the resolver sent as s: same ID and question unless
 * the test changes them; answer, authority and additional from master-file
 * text; an authoritative server's (aa: AA set, RA clear) or a recursive
 * upstream's. */
static size_t mkreply_full(const struct sent *s, ldns_pkt_rcode rcode, bool tc, bool aa,
			   const char *const *an, const char *const *ns,
			   const char *const *ar, uint8_t *out)
{
	ldns_pkt *p = parse(s->msg, s->len);
	size_t n;

	ldns_pkt_set_qr(p, true);
	ldns_pkt_set_ra(p, !aa);
	ldns_pkt_set_aa(p, aa);
	ldns_pkt_set_tc(p, tc);
	ldns_pkt_set_rcode(p, (uint8_t)rcode);
	ldns_pkt_set_edns_udp_size(p, 0);
	ldns_pkt_set_arcount(p, 0);
	for (size_t i = 0; an != NULL && an[i] != NULL; i++)
		assert_true(ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, rr_from(an[i])));
	for (size_t i = 0; ns != NULL && ns[i] != NULL; i++)
		assert_true(ldns_pkt_push_rr(p, LDNS_SECTION_AUTHORITY, rr_from(ns[i])));
	for (size_t i = 0; ar != NULL && ar[i] != NULL; i++)
		assert_true(ldns_pkt_push_rr(p, LDNS_SECTION_ADDITIONAL, rr_from(ar[i])));
	n = to_wire(p, out, 4096);
	ldns_pkt_free(p);
	return n;
}

/* The upstream's reply to what the resolver sent as s: same ID and question
 * unless the test changes them; answer/authority from master-file text. */
static size_t mkreply(const struct sent *s, ldns_pkt_rcode rcode, bool tc,
		      const char *const *an, const char *const *ns, uint8_t *out)
{
	return mkreply_full(s, rcode, tc, false, an, ns, NULL, out);
}

/* The same reply with another question (name, type). */
static size_t mkreply_q(const struct sent *s, const char *qname, uint16_t qtype,
			const char *const *an, uint8_t *out)
{
	uint8_t tmp[4096];
	size_t n = mkreply(s, LDNS_RCODE_NOERROR, false, an, NULL, tmp);
	ldns_pkt *p = parse(tmp, n);
	ldns_rr *q = ldns_rr_list_rr(ldns_pkt_question(p), 0);

	ldns_rdf_deep_free(ldns_rr_owner(q));
	ldns_rr_set_owner(q, ldns_dname_new_frm_str(qname));
	ldns_rr_set_type(q, (ldns_rr_type)qtype);
	n = to_wire(p, out, 4096);
	ldns_pkt_free(p);
	return n;
}

static const char *const WWW_A[] = { "www.site. 300 IN A 192.0.2.10", NULL };
static const char *const SITE_SOA[] = {
	"site. 3600 IN SOA ns.site. host.site. 1 7200 900 1209600 300", NULL
};

/* Check a reply: ID, rcode, RA, and the answer section as text lines. */
static ldns_pkt *check_reply(const uint8_t *msg, size_t len, uint16_t id,
			     ldns_pkt_rcode rcode, const char *const *an)
{
	ldns_pkt *p = parse(msg, len);
	size_t n = 0;

	assert_int_equal(ldns_pkt_id(p), id);
	assert_true(ldns_pkt_qr(p));
	assert_true(ldns_pkt_ra(p));
	assert_int_equal(ldns_pkt_get_rcode(p), rcode);
	while (an != NULL && an[n] != NULL)
		n++;
	assert_int_equal(ldns_pkt_ancount(p), n);
	for (size_t i = 0; i < n; i++) {
		ldns_rr *w = rr_from(an[i]);

		assert_int_equal(ldns_rr_compare(w, ldns_rr_list_rr(ldns_pkt_answer(p), i)), 0);
		assert_int_equal(ldns_rr_ttl(w),
				 ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(p), i)));
		ldns_rr_free(w);
	}
	return p;
}

/* ---- fixture: a store with a static zone, a resolver, the fakes ---- */

static const char *const home_zone[] = {
	"home.arpa. 3600 IN SOA ns.home.arpa. admin.home.arpa. 1 3600 900 604800 300",
	"home.arpa. 3600 IN NS ns.home.arpa.",
	"nas.home.arpa. 3600 IN A 192.168.1.10",
	NULL,
};

static void key_of(const ldns_rdf *d, uint8_t *key, size_t *len)
{
	assert_int_equal(name_key_from_wire(ldns_rdf_data(d), ldns_rdf_size(d), key,
					    len), TDNS_OK);
}

/* One record per RRset, which is all the zone above needs. */
static void load_static(struct tdns_store *s, const char *const *zone)
{
	struct tdns_zone_meta meta = { .loaded_at = T0, .serial = 1 };
	struct tdns_txn *t = NULL;
	uint8_t key[NAME_KEY_MAX], apex[NAME_KEY_MAX], val[512], rdata[512];
	size_t klen, apex_len = 0;

	assert_int_equal(store_begin(s, true, &t), TDNS_OK);
	for (size_t i = 0; zone[i] != NULL; i++) {
		ldns_rr *rr = rr_from(zone[i]);
		ldns_buffer *b = ldns_buffer_new(512);
		struct tdns_rrset_enc enc;

		assert_int_equal(ldns_rr_rdata2buffer_wire(b, rr), LDNS_STATUS_OK);
		memcpy(rdata, ldns_buffer_begin(b), ldns_buffer_position(b));
		key_of(ldns_rr_owner(rr), key, &klen);
		if (i == 0) {
			memcpy(apex, key, klen);
			apex_len = klen;
		}
		rrset_enc_init(&enc, val, sizeof(val), ldns_rr_ttl(rr));
		assert_int_equal(rrset_enc_add(&enc, rdata,
					       (uint16_t)ldns_buffer_position(b)),
				 TDNS_OK);
		assert_int_equal(zonedb_put_rrset(t, key, klen,
						  (uint16_t)ldns_rr_get_type(rr), val,
						  enc.len),
				 TDNS_OK);
		meta.rrsets++;
		meta.records++;
		ldns_buffer_free(b);
		ldns_rr_free(rr);
	}
	assert_int_equal(zonedb_put_meta(t, apex, apex_len, &meta), TDNS_OK);
	assert_int_equal(store_commit(t), TDNS_OK);
}

/* A resolver on e's store and fakes, with packet_cache slots of packet
 * cache. */
static struct tdns_resolver *new_resolver(struct env *e, unsigned n_upstream,
					  unsigned max_out, unsigned packet_cache)
{
	struct tdns_resolver_cfg cfg;
	struct tdns_resolver *r = NULL;

	memset(&cfg, 0, sizeof(cfg));
	cfg.store = e->store;
	cfg.chaos.version = "tierdns test";
	cfg.cache.max_ttl = 86400;
	cfg.cache.max_neg_ttl = 3600;
	cfg.n_upstream = n_upstream;
	cfg.timeout_ms = 2000;
	cfg.max_outstanding = max_out;
	cfg.max_waiters = 4;
	cfg.prefetch = e->prefetch;
	cfg.packet_cache = packet_cache;
	cfg.policy = e->policy;
	cfg.transport.send = fake_send;
	cfg.transport.send_to = fake_send_to;
	cfg.transport.done = fake_done;
	cfg.transport.wake = fake_wake;
	cfg.transport.ctx = e;
	cfg.client.hold = fake_hold;
	cfg.client.answer = fake_answer;
	cfg.client.ctx = e;
	assert_int_equal(resolver_new(&cfg, &r), TDNS_OK);
	return r;
}

static void env_resolver(struct env *e, unsigned n_upstream, unsigned max_out)
{
	resolver_free(e->r);
	e->r = new_resolver(e, n_upstream, max_out, e->packet_cache);
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	clock_set_fake(T0);
	tu_tmpdir(e->dir);
	assert_int_equal(store_open(e->dir, NULL, &e->store), TDNS_OK);
	load_static(e->store, home_zone);
	/* Every test runs with the packet cache the daemon has: a replay must
	 * pass what a fresh answer passes. */
	e->packet_cache = 256;
	env_resolver(e, 1, 0);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	resolver_free(e->r);
	policy_box_free(e->policy);
	store_close(e->store);
	tu_rmdir(e->dir);
	free(e);
	clock_set_fake(0);
	return 0;
}

/* Send a client query; returns the verdict (answer in e->out when REPLY). */
static enum resolver_verdict ask(struct env *e, int client, uint16_t id,
				 const char *name, uint16_t type, bool rd,
				 uint16_t edns)
{
	uint8_t q[512];
	size_t n = mkquery(id, name, type, rd, edns, q);

	return resolver_query(e->r, q, n, false, &e->clients[client], e->out,
			      sizeof(e->out), &e->out_len);
}

/* One reply, then the end of the daemon's loop iteration (the flush that
 * commits cached answers and sends them). */
static void deliver(struct env *e, size_t sent_idx, const uint8_t *msg, size_t len)
{
	resolver_on_reply(e->r, e->sent[sent_idx].token, msg, len);
	resolver_flush(e->r);
}

/* Whether (name, type) is in the cache now, and the store's last commit. */
static bool in_cache(struct env *e, const char *name, uint16_t type,
		     uint64_t *txn_id)
{
	struct tdns_cache_value v = { 0 };
	struct tdns_txn *t = NULL;
	ldns_rdf *d = ldns_dname_new_frm_str(name);
	uint8_t key[NAME_KEY_MAX];
	size_t klen;
	enum tdns_status st;

	assert_non_null(d);
	key_of(d, key, &klen);
	ldns_rdf_deep_free(d);
	assert_int_equal(store_begin(e->store, false, &t), TDNS_OK);
	st = cache_get(t, key, klen, type, clock_now(), 0, &v);
	if (txn_id != NULL)
		*txn_id = store_txn_id(t);
	store_abort(t);
	cache_value_clear(&v);
	return st == TDNS_OK;
}

/* ---- tests ---- */

/* A miss sends one upstream query: RD set, a random ID, EDNS 1232, the
 * question in lower case; the answer reaches the client with its own ID. */
static void test_miss_then_answer(void **state)
{
	struct env *e = *state;
	uint8_t rep[4096];
	ldns_pkt *p;
	size_t n;

	assert_int_equal(ask(e, 0, 0x1111, "WWW.Site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_DEFER);
	assert_int_equal(e->n_sent, 1);
	assert_int_equal(e->n_got, 0);
	assert_false(e->sent[0].tcp);
	assert_int_equal(e->sent[0].upstream, 0);
	assert_int_equal(e->wake, (uint64_t)T0 * 1000 + 2000);
	p = parse(e->sent[0].msg, e->sent[0].len);
	assert_true(ldns_pkt_rd(p));
	assert_false(ldns_pkt_qr(p));
	assert_int_equal(ldns_pkt_edns_udp_size(p), WIRE_EDNS_OUR_SIZE);
	assert_int_equal(ldns_pkt_qdcount(p), 1);
	{
		char *s = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(p), 0)));

		assert_string_equal(s, "www.site.");
		free(s);
	}
	ldns_pkt_free(p);

	n = mkreply(&e->sent[0], LDNS_RCODE_NOERROR, false, WWW_A, NULL, rep);
	deliver(e, 0, rep, n);
	assert_int_equal(e->n_got, 1);
	assert_ptr_equal(e->got[0].held, &e->clients[0]);
	p = check_reply(e->got[0].msg, e->got[0].len, 0x1111, LDNS_RCODE_NOERROR,
			WWW_A);
	assert_false(ldns_pkt_aa(p));
	ldns_pkt_free(p);
	assert_true(e->sent[0].done);
	assert_int_equal(resolver_outstanding(e->r), 0);
	assert_int_equal(resolver_stats(e->r)->cache_stored, 1);
}

/* RFC 5452 9.2: IDs are random, not a counter. Eight misses with eight
 * equal IDs would happen with probability 2^-112. */
static void test_random_ids(void **state)
{
	struct env *e = *state;
	char name[32];
	bool differ = false;

	for (int i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "n%d.site.", i);
		assert_int_equal(ask(e, 0, 7, name, LDNS_RR_TYPE_A, true, 0),
				 RESOLVER_DEFER);
	}
	assert_int_equal(e->n_sent, 8);
	for (int i = 1; i < 8; i++) {
		if (memcmp(e->sent[i].msg, e->sent[0].msg, 2) != 0)
			differ = true;
		assert_int_not_equal(e->sent[i].token, e->sent[0].token);
	}
	assert_true(differ);
}

/* CVE-2020-25686: identical misses share one upstream query; each client
 * gets its own ID, its own question case and its own EDNS. */
static void test_coalesce(void **state)
{
	struct env *e = *state;
	uint8_t rep[4096];
	ldns_pkt *p;
	size_t n;
	char *s;

	assert_int_equal(ask(e, 0, 0x0101, "www.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_DEFER);
	assert_int_equal(ask(e, 1, 0x0202, "WWW.SITE.", LDNS_RR_TYPE_A, true, 4096),
			 RESOLVER_DEFER);
	/* A different type is a different question. */
	assert_int_equal(ask(e, 2, 0x0303, "www.site.", LDNS_RR_TYPE_AAAA, true, 0),
			 RESOLVER_DEFER);
	assert_int_equal(e->n_sent, 2);
	assert_int_equal(resolver_stats(e->r)->coalesced, 1);

	n = mkreply(&e->sent[0], LDNS_RCODE_NOERROR, false, WWW_A, NULL, rep);
	deliver(e, 0, rep, n);
	assert_int_equal(e->n_got, 2);
	for (size_t i = 0; i < 2; i++) {
		bool first = e->got[i].held == &e->clients[0];

		assert_true(first || e->got[i].held == &e->clients[1]);
		p = check_reply(e->got[i].msg, e->got[i].len, first ? 0x0101 : 0x0202,
				LDNS_RCODE_NOERROR, WWW_A);
		s = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(p), 0)));
		assert_string_equal(s, first ? "www.site." : "WWW.SITE.");
		free(s);
		assert_int_equal(ldns_pkt_edns(p), !first);
		ldns_pkt_free(p);
	}
	/* The AAAA question is still waiting. */
	assert_int_equal(resolver_outstanding(e->r), 1);
}

/* RFC 5452: a reply with the wrong ID, the wrong question or QR=0 is
 * ignored and the real one still accepted. */
static void test_spoofs_ignored(void **state)
{
	struct env *e = *state;
	uint8_t rep[4096], bad[4096];
	const char *const evil[] = { "www.site. 300 IN A 203.0.113.66", NULL };
	size_t n, bn;
	ldns_pkt *p;

	assert_int_equal(ask(e, 0, 0x4242, "www.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_DEFER);
	n = mkreply(&e->sent[0], LDNS_RCODE_NOERROR, false, WWW_A, NULL, rep);

	memcpy(bad, rep, n);
	bad[1] ^= 0x01; /* wrong ID */
	deliver(e, 0, bad, n);
	memcpy(bad, rep, n);
	bad[2] &= 0x7f; /* QR=0 */
	deliver(e, 0, bad, n);
	deliver(e, 0, rep, 11); /* shorter than a header */
	bn = mkreply_q(&e->sent[0], "evil.site.", LDNS_RR_TYPE_A, evil, bad);
	deliver(e, 0, bad, bn);
	bn = mkreply_q(&e->sent[0], "www.site.", LDNS_RR_TYPE_MX, evil, bad);
	deliver(e, 0, bad, bn);
	assert_int_equal(e->n_got, 0);
	assert_int_equal(resolver_stats(e->r)->upstream_ignored, 5);
	assert_false(e->sent[0].done);

	/* The question matches case-insensitively (RFC 1035 2.3.3). */
	bn = mkreply_q(&e->sent[0], "WWW.SITE.", LDNS_RR_TYPE_A, WWW_A, bad);
	deliver(e, 0, bad, bn);
	assert_int_equal(e->n_got, 1);
	p = check_reply(e->got[0].msg, e->got[0].len, 0x4242, LDNS_RCODE_NOERROR,
			WWW_A);
	ldns_pkt_free(p);
	/* A late duplicate of the answer changes nothing. */
	deliver(e, 0, rep, n);
	assert_int_equal(e->n_got, 1);
}

/* A silent upstream: SERVFAIL when the 2 s budget is spent, not before. */
static void test_timeout_servfail(void **state)
{
	struct env *e = *state;
	ldns_pkt *p;

	assert_int_equal(ask(e, 0, 0x5151, "www.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_DEFER);
	assert_int_equal(resolver_next_deadline(e->r), (uint64_t)T0 * 1000 + 2000);
	clock_advance_ms(1999);
	resolver_tick(e->r, clock_mono_ms());
	assert_int_equal(e->n_got, 0);
	clock_advance_ms(1);
	resolver_tick(e->r, clock_mono_ms());
	assert_int_equal(e->n_got, 1);
	p = check_reply(e->got[0].msg, e->got[0].len, 0x5151, LDNS_RCODE_SERVFAIL,
			NULL);
	ldns_pkt_free(p);
	assert_true(e->sent[0].done);
	assert_int_equal(e->n_sent, 1);
	assert_int_equal(resolver_outstanding(e->r), 0);
	assert_int_equal(e->wake, UINT64_MAX);
	assert_int_equal(resolver_stats(e->r)->upstream_timeouts, 1);
}

/* Two upstreams: the first is silent, the second gets the rest of the
 * budget; the client is answered well within 3 s. */
static void test_timeout_next_upstream(void **state)
{
	struct env *e = *state;
	uint8_t rep[4096];
	ldns_pkt *p;
	size_t n;

	env_resolver(e, 2, 0);
	assert_int_equal(ask(e, 0, 0x6161, "www.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_DEFER);
	assert_int_equal(e->wake, (uint64_t)T0 * 1000 + 1000);
	clock_advance_ms(1000);
	resolver_tick(e->r, clock_mono_ms());
	assert_int_equal(e->n_sent, 2);
	assert_true(e->sent[0].done);
	assert_int_equal(e->sent[1].upstream, 1);
	/* A different random ID and token for the new attempt. */
	assert_int_not_equal(e->sent[1].token, e->sent[0].token);
	/* A late answer to the first attempt is stale and ignored. */
	n = mkreply(&e->sent[0], LDNS_RCODE_NOERROR, false, WWW_A, NULL, rep);
	deliver(e, 0, rep, n);
	assert_int_equal(e->n_got, 0);
	n = mkreply(&e->sent[1], LDNS_RCODE_NOERROR, false, WWW_A, NULL, rep);
	deliver(e, 1, rep, n);
	assert_int_equal(e->n_got, 1);
	p = check_reply(e->got[0].msg, e->got[0].len, 0x6161, LDNS_RCODE_NOERROR,
			WWW_A);
	ldns_pkt_free(p);

	/* Both silent: SERVFAIL at 2 s in total. */
	assert_int_equal(ask(e, 1, 0x6262, "other.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_DEFER);
	clock_advance_ms(1000);
	resolver_tick(e->r, clock_mono_ms());
	assert_int_equal(e->n_got, 1);
	clock_advance_ms(1000);
	resolver_tick(e->r, clock_mono_ms());
	assert_int_equal(e->n_got, 2);
	p = check_reply(e->got[1].msg, e->got[1].len, 0x6262, LDNS_RCODE_SERVFAIL,
			NULL);
	ldns_pkt_free(p);
}

/* SERVFAIL, REFUSED and garbage from the only upstream: SERVFAIL to the
 * client at once; with a second upstream, it is asked instead. */
static void test_upstream_failures(void **state)
{
	struct env *e = *state;
	static const ldns_pkt_rcode bad[] = { LDNS_RCODE_SERVFAIL, LDNS_RCODE_REFUSED,
					      LDNS_RCODE_NOTIMPL };
	uint8_t rep[4096];
	ldns_pkt *p;
	size_t n;

	for (size_t i = 0; i < 3; i++) {
		e->n_got = 0;
		e->n_sent = 0;
		clock_advance_ms(AFTER_FAILURES);
		assert_int_equal(ask(e, 0, (uint16_t)(0x7000 + i), "www.site.",
				     LDNS_RR_TYPE_A, true, 0),
				 RESOLVER_DEFER);
		n = mkreply(&e->sent[0], bad[i], false, NULL, NULL, rep);
		deliver(e, 0, rep, n);
		assert_int_equal(e->n_got, 1);
		p = check_reply(e->got[0].msg, e->got[0].len, (uint16_t)(0x7000 + i),
				LDNS_RCODE_SERVFAIL, NULL);
		ldns_pkt_free(p);
	}
	/* Garbage with the right ID and QR: the header is all there is. */
	e->n_got = 0;
	e->n_sent = 0;
	clock_advance_ms(AFTER_FAILURES);
	assert_int_equal(ask(e, 0, 0x7100, "www.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_DEFER);
	n = mkreply(&e->sent[0], LDNS_RCODE_NOERROR, false, WWW_A, NULL, rep);
	deliver(e, 0, rep, 20); /* cut inside the question */
	assert_int_equal(e->n_got, 1);
	p = check_reply(e->got[0].msg, e->got[0].len, 0x7100, LDNS_RCODE_SERVFAIL,
			NULL);
	ldns_pkt_free(p);
	/* A socket failure (msg NULL). */
	e->n_got = 0;
	e->n_sent = 0;
	clock_advance_ms(AFTER_FAILURES);
	assert_int_equal(ask(e, 0, 0x7200, "www.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_DEFER);
	deliver(e, 0, NULL, 0);
	assert_int_equal(e->n_got, 1);
	p = check_reply(e->got[0].msg, e->got[0].len, 0x7200, LDNS_RCODE_SERVFAIL,
			NULL);
	ldns_pkt_free(p);
	/* Nothing was cached from any of it (the failure itself is
	 * remembered only briefly, RFC 9520). */
	e->n_sent = 0;
	clock_advance_ms(AFTER_FAILURES);
	assert_int_equal(ask(e, 0, 0x7300, "www.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_DEFER);
	assert_int_equal(e->n_sent, 1);

	/* Two upstreams: REFUSED from the first, the second answers. */
	env_resolver(e, 2, 0);
	e->n_got = 0;
	e->n_sent = 0;
	assert_int_equal(ask(e, 0, 0x7400, "www.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_DEFER);
	n = mkreply(&e->sent[0], LDNS_RCODE_REFUSED, false, NULL, NULL, rep);
	deliver(e, 0, rep, n);
	assert_int_equal(e->n_got, 0);
	assert_int_equal(e->n_sent, 2);
	assert_int_equal(e->sent[1].upstream, 1);
	n = mkreply(&e->sent[1], LDNS_RCODE_NOERROR, false, WWW_A, NULL, rep);
	deliver(e, 1, rep, n);
	assert_int_equal(e->n_got, 1);
	p = check_reply(e->got[0].msg, e->got[0].len, 0x7400, LDNS_RCODE_NOERROR,
			WWW_A);
	ldns_pkt_free(p);
}

/* No upstream takes the query at all: SERVFAIL at once, nothing held. */
static void test_send_fails(void **state)
{
	struct env *e = *state;
	ldns_pkt *p;

	e->send_fails = true;
	assert_int_equal(ask(e, 0, 0x7777, "www.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_REPLY);
	p = check_reply(e->out, e->out_len, 0x7777, LDNS_RCODE_SERVFAIL, NULL);
	ldns_pkt_free(p);
	assert_int_equal(resolver_outstanding(e->r), 0);
	assert_int_equal(e->n_got, 0);
}

/* TC over UDP: the same question again over TCP, same upstream. */
static void test_tc_retry_tcp(void **state)
{
	struct env *e = *state;
	uint8_t rep[4096];
	ldns_pkt *p;
	size_t n;

	assert_int_equal(ask(e, 0, 0x8888, "www.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_DEFER);
	n = mkreply(&e->sent[0], LDNS_RCODE_NOERROR, true, NULL, NULL, rep);
	deliver(e, 0, rep, n);
	assert_int_equal(e->n_got, 0);
	assert_int_equal(e->n_sent, 2);
	assert_true(e->sent[0].done);
	assert_true(e->sent[1].tcp);
	assert_int_equal(e->sent[1].upstream, 0);
	n = mkreply(&e->sent[1], LDNS_RCODE_NOERROR, false, WWW_A, NULL, rep);
	deliver(e, 1, rep, n);
	assert_int_equal(e->n_got, 1);
	p = check_reply(e->got[0].msg, e->got[0].len, 0x8888, LDNS_RCODE_NOERROR,
			WWW_A);
	ldns_pkt_free(p);
	assert_int_equal(resolver_stats(e->r)->tcp_retries, 1);
}

static int ede_of(const ldns_pkt *p);

/* A reply that asks for a retry (TC) read after the query's time ran out,
 * before its timer: the query failed by timeout, not as if no upstream
 * were reachable, and nothing more is sent. */
static void test_tc_after_deadline(void **state)
{
	struct env *e = *state;
	const struct tdns_resolver_stats *rs;
	uint8_t rep[4096];
	ldns_pkt *p;
	size_t n;

	assert_int_equal(ask(e, 0, 0x8889, "www.site.", LDNS_RR_TYPE_A, true, 1232),
			 RESOLVER_DEFER);
	clock_advance_ms(2000);
	n = mkreply(&e->sent[0], LDNS_RCODE_NOERROR, true, NULL, NULL, rep);
	deliver(e, 0, rep, n);
	assert_int_equal(e->n_sent, 1);
	assert_int_equal(e->n_got, 1);
	p = check_reply(e->got[0].msg, e->got[0].len, 0x8889, LDNS_RCODE_SERVFAIL, NULL);
	assert_int_equal(ede_of(p), 22);
	ldns_pkt_free(p);
	rs = resolver_stats(e->r);
	assert_int_equal(rs->servfail_why[RESOLVER_SF_TIMEOUT], 1);
	assert_int_equal(rs->servfail_why[RESOLVER_SF_DEAD], 0);
}

/* Static zones answer first, without the upstream, with AA and RA. */
static void test_static_zone(void **state)
{
	struct env *e = *state;
	const char *const nas[] = { "nas.home.arpa. 3600 IN A 192.168.1.10", NULL };
	ldns_pkt *p;

	assert_int_equal(ask(e, 0, 0x9999, "NAS.home.arpa.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_REPLY);
	p = check_reply(e->out, e->out_len, 0x9999, LDNS_RCODE_NOERROR, nas);
	assert_true(ldns_pkt_aa(p));
	ldns_pkt_free(p);
	assert_int_equal(ask(e, 0, 0x999a, "nope.home.arpa.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_REPLY);
	p = check_reply(e->out, e->out_len, 0x999a, LDNS_RCODE_NXDOMAIN, NULL);
	ldns_pkt_free(p);
	assert_int_equal(e->n_sent, 0);
	assert_int_equal(resolver_stats(e->r)->static_answers, 2);
}

/* The second ask is a cache hit: no upstream, TTL counted down. NXDOMAIN
 * from the upstream reaches the client as NXDOMAIN and is cached too. */
static void test_cache_hit(void **state)
{
	struct env *e = *state;
	const char *const later[] = { "www.site. 270 IN A 192.0.2.10", NULL };
	uint8_t rep[4096];
	ldns_pkt *p;
	size_t n;

	assert_int_equal(ask(e, 0, 1, "www.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_DEFER);
	n = mkreply(&e->sent[0], LDNS_RCODE_NOERROR, false, WWW_A, NULL, rep);
	deliver(e, 0, rep, n);
	clock_advance_ms(30000);
	assert_int_equal(ask(e, 1, 2, "Www.Site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_REPLY);
	p = check_reply(e->out, e->out_len, 2, LDNS_RCODE_NOERROR, later);
	assert_false(ldns_pkt_aa(p));
	ldns_pkt_free(p);
	assert_int_equal(e->n_sent, 1);
	assert_int_equal(resolver_stats(e->r)->cache_hits, 1);

	assert_int_equal(ask(e, 0, 3, "nosuch.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_DEFER);
	n = mkreply(&e->sent[1], LDNS_RCODE_NXDOMAIN, false, NULL, SITE_SOA, rep);
	deliver(e, 1, rep, n);
	p = check_reply(e->got[1].msg, e->got[1].len, 3, LDNS_RCODE_NXDOMAIN, NULL);
	assert_int_equal(ldns_pkt_nscount(p), 1);
	ldns_pkt_free(p);
	assert_int_equal(ask(e, 0, 4, "nosuch.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_REPLY);
	p = check_reply(e->out, e->out_len, 4, LDNS_RCODE_NXDOMAIN, NULL);
	ldns_pkt_free(p);
	assert_int_equal(e->n_sent, 2);
	/* Past the expiry (300 s in all) it is a miss again. */
	clock_advance_ms(270000);
	assert_int_equal(ask(e, 0, 5, "www.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_DEFER);
	assert_int_equal(e->n_sent, 3);
}

/* TTL 0 is passed through to the clients but never cached. */
static void test_ttl0_uncached(void **state)
{
	struct env *e = *state;
	const char *const zero[] = { "www.site. 0 IN A 192.0.2.10", NULL };
	uint8_t rep[4096];
	ldns_pkt *p;
	size_t n;

	assert_int_equal(ask(e, 0, 1, "www.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_DEFER);
	n = mkreply(&e->sent[0], LDNS_RCODE_NOERROR, false, zero, NULL, rep);
	deliver(e, 0, rep, n);
	p = check_reply(e->got[0].msg, e->got[0].len, 1, LDNS_RCODE_NOERROR, zero);
	ldns_pkt_free(p);
	assert_int_equal(ask(e, 0, 2, "www.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_DEFER);
	assert_int_equal(e->n_sent, 2);
}

/* Answers larger than the client's limit are truncated with TC, per
 * client: the one with EDNS 4096 gets everything (up to 1232). */
static void test_truncation_per_client(void **state)
{
	struct env *e = *state;
	const char *an[41];
	char text[40][64];
	uint8_t rep[4096];
	ldns_pkt *p;
	size_t n;

	for (int i = 0; i < 40; i++) {
		snprintf(text[i], sizeof(text[i]), "big.site. 300 IN A 192.0.2.%d", i);
		an[i] = text[i];
	}
	an[40] = NULL;
	assert_int_equal(ask(e, 0, 1, "big.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_DEFER);
	assert_int_equal(ask(e, 1, 2, "big.site.", LDNS_RR_TYPE_A, true, 4096),
			 RESOLVER_DEFER);
	n = mkreply(&e->sent[0], LDNS_RCODE_NOERROR, false, an, NULL, rep);
	deliver(e, 0, rep, n);
	assert_int_equal(e->n_got, 2);
	for (size_t i = 0; i < 2; i++) {
		bool plain = e->got[i].held == &e->clients[0];

		p = parse(e->got[i].msg, e->got[i].len);
		assert_true(e->got[i].len <= (plain ? 512u : 1232u));
		assert_int_equal(ldns_pkt_tc(p), plain);
		assert_int_equal(ldns_pkt_ancount(p), plain ? 0 : 40);
		ldns_pkt_free(p);
	}
}

/* Limits: beyond max_outstanding and max_waiters, SERVFAIL at once. */
static void test_limits(void **state)
{
	struct env *e = *state;
	ldns_pkt *p;

	env_resolver(e, 1, 1);
	assert_int_equal(ask(e, 0, 1, "a.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_DEFER);
	assert_int_equal(ask(e, 1, 2, "b.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_REPLY);
	p = check_reply(e->out, e->out_len, 2, LDNS_RCODE_SERVFAIL, NULL);
	ldns_pkt_free(p);
	for (int i = 0; i < 3; i++)
		assert_int_equal(ask(e, i + 1, 3, "a.site.", LDNS_RR_TYPE_A, true, 0),
				 RESOLVER_DEFER);
	assert_int_equal(ask(e, 5, 4, "a.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_REPLY);
	p = check_reply(e->out, e->out_len, 4, LDNS_RCODE_SERVFAIL, NULL);
	ldns_pkt_free(p);
	assert_int_equal(resolver_stats(e->r)->overload, 2);
	assert_int_equal(e->n_sent, 1);
}

/* Cancel forgets one client; free releases the rest without answers. */
static void test_cancel_and_free(void **state)
{
	struct env *e = *state;

	assert_int_equal(ask(e, 0, 1, "a.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_DEFER);
	assert_int_equal(ask(e, 1, 2, "a.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_DEFER);
	assert_true(resolver_cancel(e->r, &e->clients[0]));
	assert_false(resolver_cancel(e->r, &e->clients[0]));
	resolver_free(e->r);
	e->r = NULL;
	assert_int_equal(e->n_got, 1);
	assert_ptr_equal(e->got[0].held, &e->clients[1]);
	assert_int_equal(e->got[0].len, 0);
	assert_true(e->sent[0].done);
}

/* Answers that are cached go out only once committed, and every answer
 * that came before one resolver_flush shares ONE commit. Meanwhile the
 * question is still outstanding: a new client joins it (no second
 * upstream query), no deadline fails it, and the attempt's socket is
 * already released. */
static void test_batched_commit(void **state)
{
	struct env *e = *state;
	const char *const mail_a[] = { "mail.site. 300 IN A 192.0.2.25", NULL };
	uint8_t rep[4096];
	uint64_t before, after;
	ldns_pkt *p;
	size_t n;

	assert_int_equal(ask(e, 0, 1, "www.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_DEFER);
	assert_int_equal(ask(e, 1, 2, "mail.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_DEFER);
	assert_int_equal(e->n_sent, 2);
	n = mkreply(&e->sent[0], LDNS_RCODE_NOERROR, false, WWW_A, NULL, rep);
	resolver_on_reply(e->r, e->sent[0].token, rep, n);
	n = mkreply(&e->sent[1], LDNS_RCODE_NOERROR, false, mail_a, NULL, rep);
	resolver_on_reply(e->r, e->sent[1].token, rep, n);

	assert_int_equal(e->n_got, 0);
	assert_false(in_cache(e, "www.site.", LDNS_RR_TYPE_A, &before));
	assert_false(in_cache(e, "mail.site.", LDNS_RR_TYPE_A, NULL));
	assert_true(e->sent[0].done);
	assert_true(e->sent[1].done);
	assert_int_equal(resolver_outstanding(e->r), 2);
	assert_int_equal(ask(e, 2, 3, "WWW.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_DEFER);
	assert_int_equal(e->n_sent, 2);
	clock_advance_ms(5000);
	resolver_tick(e->r, clock_mono_ms());
	assert_int_equal(e->n_got, 0);
	assert_int_equal(resolver_stats(e->r)->upstream_timeouts, 0);

	resolver_flush(e->r);
	assert_int_equal(e->n_got, 3);
	assert_true(in_cache(e, "www.site.", LDNS_RR_TYPE_A, &after));
	assert_true(in_cache(e, "mail.site.", LDNS_RR_TYPE_A, NULL));
	assert_int_equal(after, before + 1);
	assert_int_equal(resolver_stats(e->r)->cache_stored, 2);
	assert_int_equal(resolver_outstanding(e->r), 0);
	for (size_t i = 0; i < 3; i++) {
		bool mail = e->got[i].held == &e->clients[1];
		uint16_t id = mail ? 2 : e->got[i].held == &e->clients[0] ? 1 : 3;
		/* 5 s passed between the answer and its commit. */
		const char *const www_later[] = { "www.site. 295 IN A 192.0.2.10", NULL };
		const char *const mail_later[] = { "mail.site. 295 IN A 192.0.2.25", NULL };

		p = check_reply(e->got[i].msg, e->got[i].len, id, LDNS_RCODE_NOERROR,
				mail ? mail_later : www_later);
		ldns_pkt_free(p);
	}
	/* Nothing left: a second flush commits nothing. */
	resolver_flush(e->r);
	in_cache(e, "www.site.", LDNS_RR_TYPE_A, &before);
	assert_int_equal(before, after);
}

/* The queries of one batch share one snapshot: an answer committed
 * meanwhile is seen from the next batch on (and at once outside one). */
static void test_batch_snapshot(void **state)
{
	struct env *e = *state;
	const char *const www_a[] = { "www.site. 300 IN A 192.0.2.10", NULL };
	uint8_t q[512];
	ldns_rdf *qn = ldns_dname_new_frm_str("www.site.");
	ldns_pkt *resp;
	size_t n;

	assert_non_null(qn);
	n = mkquery(1, "www.site.", LDNS_RR_TYPE_A, true, 0, q);
	resp = parse(q, n);
	ldns_pkt_set_qr(resp, true);
	assert_true(ldns_pkt_push_rr(resp, LDNS_SECTION_ANSWER, rr_from(www_a[0])));
	resolver_batch(e->r, true);
	assert_int_equal(ask(e, 0, 1, "www.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_DEFER);
	assert_int_equal(tu_cache_insert(e->store, NULL, qn, LDNS_RR_TYPE_A, resp,
				      clock_now()),
			 TDNS_OK);
	/* Same batch: the old snapshot, still a miss (joins the first). */
	assert_int_equal(ask(e, 1, 2, "www.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_DEFER);
	resolver_batch(e->r, false);
	/* A second begin inside a batch changes nothing. */
	resolver_batch(e->r, true);
	resolver_batch(e->r, true);
	assert_int_equal(ask(e, 2, 3, "www.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_REPLY);
	resolver_batch(e->r, false);
	assert_int_equal(ask(e, 3, 4, "www.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_REPLY);
	assert_int_equal(resolver_stats(e->r)->cache_hits, 2);
	ldns_pkt_free(resp);
	ldns_rdf_deep_free(qn);
}

/* Answers not to be cached (TTL 0) do not wait for the flush; a resolver
 * freed with answers still waiting for their commit releases their
 * clients without an answer and leaks nothing. */
static void test_uncommitted(void **state)
{
	struct env *e = *state;
	const char *const zero[] = { "www.site. 0 IN A 192.0.2.10", NULL };
	const char *const mail_a[] = { "mail.site. 300 IN A 192.0.2.25", NULL };
	uint8_t rep[4096];
	size_t n;

	assert_int_equal(ask(e, 0, 1, "www.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_DEFER);
	n = mkreply(&e->sent[0], LDNS_RCODE_NOERROR, false, zero, NULL, rep);
	resolver_on_reply(e->r, e->sent[0].token, rep, n);
	assert_int_equal(e->n_got, 1);
	assert_int_not_equal(e->got[0].len, 0);

	assert_int_equal(ask(e, 1, 2, "mail.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_DEFER);
	n = mkreply(&e->sent[1], LDNS_RCODE_NOERROR, false, mail_a, NULL, rep);
	resolver_on_reply(e->r, e->sent[1].token, rep, n);
	assert_int_equal(e->n_got, 1);
	resolver_free(e->r);
	e->r = NULL;
	assert_int_equal(e->n_got, 2);
	assert_ptr_equal(e->got[1].held, &e->clients[1]);
	assert_int_equal(e->got[1].len, 0);
	assert_false(in_cache(e, "mail.site.", LDNS_RR_TYPE_A, NULL));
}

/* The rest of the local tier's front door. */
static void test_front_door(void **state)
{
	struct env *e = *state;
	uint8_t q[512];
	size_t n;
	ldns_pkt *p;

	/* RD=0: local data only; a miss is REFUSED, nothing sent upstream. */
	assert_int_equal(ask(e, 0, 1, "www.site.", LDNS_RR_TYPE_A, false, 0),
			 RESOLVER_REPLY);
	p = check_reply(e->out, e->out_len, 1, LDNS_RCODE_REFUSED, NULL);
	assert_false(ldns_pkt_rd(p));
	ldns_pkt_free(p);
	assert_int_equal(e->n_sent, 0);

	/* Shorter than a header: nothing at all. */
	n = mkquery(2, "www.site.", LDNS_RR_TYPE_A, true, 0, q);
	assert_int_equal(resolver_query(e->r, q, 5, false, &e->clients[0], e->out,
					sizeof(e->out), &e->out_len),
			 RESOLVER_DROP);
	/* QDCOUNT 0: FORMERR, with RA. */
	q[5] = 0;
	assert_int_equal(resolver_query(e->r, q, WIRE_HDR_LEN, false, &e->clients[0],
					e->out, sizeof(e->out), &e->out_len),
			 RESOLVER_REPLY);
	assert_true(e->out_len >= WIRE_HDR_LEN);
	assert_int_equal(e->out[3] & 0x0f, LDNS_RCODE_FORMERR);
	assert_true(e->out[3] & 0x80);
	(void)n;

	/* CHAOS version.bind. */
	{
		ldns_pkt *cq = ldns_pkt_query_new(ldns_dname_new_frm_str("version.bind."),
						  LDNS_RR_TYPE_TXT, LDNS_RR_CLASS_CH,
						  LDNS_RD);

		ldns_pkt_set_id(cq, 3);
		n = to_wire(cq, q, sizeof(q));
		ldns_pkt_free(cq);
		assert_int_equal(resolver_query(e->r, q, n, false, &e->clients[0],
						e->out, sizeof(e->out), &e->out_len),
				 RESOLVER_REPLY);
		p = parse(e->out, e->out_len);
		assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
		assert_int_equal(ldns_pkt_ancount(p), 1);
		assert_true(ldns_pkt_ra(p));
		ldns_pkt_free(p);
	}
	assert_int_equal(e->n_sent, 0);
}

/* Malformed input never crashes: random client packets, and random
 * upstream replies that carry the right ID and QR (the only ones that get
 * past the first check). A fixed-seed xorshift keeps it reproducible. */
static void test_garbage(void **state)
{
	struct env *e = *state;
	uint64_t x = 0x9e3779b97f4a7c15u;
	uint8_t buf[600], good[4096];
	char name[32];
	size_t good_len, defers = 0;

	for (int i = 0; i < 3000; i++) {
		size_t n;

		for (size_t j = 0; j < sizeof(buf); j++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[j] = (uint8_t)x;
		}
		n = (size_t)(x % sizeof(buf));
		if (i % 2 == 0) {
			buf[2] &= 0x7f; /* a query, so it gets past the QR check */
			if (resolver_query(e->r, buf, n, i % 4 == 0, &e->clients[0],
					   e->out, sizeof(e->out),
					   &e->out_len) == RESOLVER_DEFER)
				defers++;
			continue;
		}
		/* An outstanding query to aim at. */
		if (resolver_outstanding(e->r) == 0) {
			snprintf(name, sizeof(name), "q%d.site.", i);
			/* Past any backoff: the upstream may be probed. */
			clock_advance_ms(AFTER_FAILURES);
			e->n_sent = 0;
			assert_int_equal(ask(e, 1, 9, name, LDNS_RR_TYPE_A, true, 0),
					 RESOLVER_DEFER);
			defers++;
		}
		/* Now and then the valid reply, whole. */
		if (i % 5 == 0) {
			good_len = mkreply(&e->sent[e->n_sent - 1], LDNS_RCODE_NOERROR,
					   false, WWW_A, NULL, good);
			deliver(e, e->n_sent - 1, good, good_len);
			continue;
		}
		/* A third of the time a valid reply cut or corrupted past the
		 * header. */
		if (i % 3 == 0) {
			good_len = mkreply(&e->sent[e->n_sent - 1], LDNS_RCODE_NOERROR,
					   false, WWW_A, NULL, good);
			memcpy(buf, good, good_len < n ? good_len : n);
			if (n > 12)
				buf[12 + x % (n - 12)] ^= (uint8_t)(x >> 8);
		}
		memcpy(buf, e->sent[e->n_sent - 1].msg, 2);
		buf[2] |= 0x80;
		if (n < 12)
			n = 12;
		deliver(e, e->n_sent - 1, buf, n);
	}
	/* Whatever happened, every held client was answered (or, at the end,
	 * released) exactly once. */
	resolver_free(e->r);
	e->r = NULL;
	assert_int_equal(e->n_got, defers);
}

/* A map that fills up (no budget configured) costs the cache, never the
 * query: every client still gets its full answer. */
static void test_full_store_still_answers(void **state)
{
	struct env *e = *state;
	struct tdns_store_opts so = { .map_size = 1024 * 1024, .flags = STORE_NOSYNC };
	char name[64], rr[600], txt[201];
	const char *an[2] = { rr, NULL };
	uint8_t rep[4096];
	ldns_pkt *p;
	size_t n;

	resolver_free(e->r);
	e->r = NULL;
	store_close(e->store);
	tu_rmdir(e->dir);
	tu_tmpdir(e->dir);
	assert_int_equal(store_open(e->dir, &so, &e->store), TDNS_OK);
	env_resolver(e, 1, 0);
	memset(txt, 'z', sizeof(txt) - 1);
	txt[sizeof(txt) - 1] = '\0';
	for (int i = 0; i < 2000; i++) {
		snprintf(name, sizeof(name), "t%d.site.", i);
		snprintf(rr, sizeof(rr), "%s 300 IN TXT \"%s\" \"%s\"", name, txt, txt);
		e->n_sent = 0;
		e->n_got = 0;
		assert_int_equal(ask(e, 0, (uint16_t)i, name, LDNS_RR_TYPE_TXT, true, 0),
				 RESOLVER_DEFER);
		n = mkreply(&e->sent[0], LDNS_RCODE_NOERROR, false, an, NULL, rep);
		deliver(e, 0, rep, n);
		assert_int_equal(e->n_got, 1);
		p = parse(e->got[0].msg, e->got[0].len);
		assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
		assert_int_equal(ldns_pkt_id(p), (uint16_t)i);
		/* Over UDP without EDNS the 400-byte TXT still fits 512. */
		assert_int_equal(ldns_pkt_ancount(p), 1);
		ldns_pkt_free(p);
	}
	/* 2000 answers of ~450 bytes cannot all have fit in 1 MiB. */
	assert_true(resolver_stats(e->r)->cache_errors > 0);
	assert_true(resolver_stats(e->r)->cache_stored > 0);
}

/* RFC 6891 7: FORMERR to an EDNS query is retried once without the OPT;
 * FORMERR again is a failure. */
static void test_formerr_edns_fallback(void **state)
{
	struct env *e = *state;
	uint8_t rep[4096];
	ldns_pkt *p;
	size_t n;

	assert_int_equal(ask(e, 0, 0xa1, "www.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_DEFER);
	p = parse(e->sent[0].msg, e->sent[0].len);
	assert_true(ldns_pkt_edns(p));
	ldns_pkt_free(p);
	n = mkreply(&e->sent[0], LDNS_RCODE_FORMERR, false, NULL, NULL, rep);
	deliver(e, 0, rep, n);
	assert_int_equal(e->n_got, 0);
	assert_int_equal(e->n_sent, 2);
	assert_true(e->sent[0].done);
	p = parse(e->sent[1].msg, e->sent[1].len);
	assert_false(ldns_pkt_edns(p));
	assert_int_equal(ldns_pkt_arcount(p), 0);
	ldns_pkt_free(p);
	n = mkreply(&e->sent[1], LDNS_RCODE_NOERROR, false, WWW_A, NULL, rep);
	deliver(e, 1, rep, n);
	p = check_reply(e->got[0].msg, e->got[0].len, 0xa1, LDNS_RCODE_NOERROR, WWW_A);
	ldns_pkt_free(p);

	assert_int_equal(ask(e, 0, 0xa2, "other.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_DEFER);
	n = mkreply(&e->sent[2], LDNS_RCODE_FORMERR, false, NULL, NULL, rep);
	deliver(e, 2, rep, n);
	n = mkreply(&e->sent[3], LDNS_RCODE_FORMERR, false, NULL, NULL, rep);
	deliver(e, 3, rep, n);
	assert_int_equal(e->n_sent, 4);
	p = check_reply(e->got[1].msg, e->got[1].len, 0xa2, LDNS_RCODE_SERVFAIL, NULL);
	ldns_pkt_free(p);
}

/* An extended rcode in the OPT (BADVERS = 16: header rcode 0) is a
 * failure, not an empty NOERROR. An error reply without a question counts
 * as the failure it is; a NOERROR without one is ignored. */
static void test_odd_failures(void **state)
{
	struct env *e = *state;
	uint8_t rep[4096];
	ldns_pkt *p;
	size_t n;

	assert_int_equal(ask(e, 0, 0xb1, "www.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_DEFER);
	p = parse(e->sent[0].msg, e->sent[0].len);
	ldns_pkt_set_qr(p, true);
	ldns_pkt_set_edns_udp_size(p, 1232);
	ldns_pkt_set_edns_extended_rcode(p, 1);
	{
		uint8_t *w = NULL;

		assert_int_equal(ldns_pkt2wire(&w, p, &n), LDNS_STATUS_OK);
		memcpy(rep, w, n);
		free(w);
	}
	ldns_pkt_free(p);
	deliver(e, 0, rep, n);
	assert_int_equal(e->n_got, 1);
	p = check_reply(e->got[0].msg, e->got[0].len, 0xb1, LDNS_RCODE_SERVFAIL, NULL);
	ldns_pkt_free(p);

	clock_advance_ms(AFTER_FAILURES);
	assert_int_equal(ask(e, 0, 0xb2, "www.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_DEFER);
	memset(rep, 0, WIRE_HDR_LEN);
	memcpy(rep, e->sent[1].msg, 2);
	rep[2] = 0x81;
	rep[3] = 0x80; /* QR RD RA, NOERROR, no question: ignored */
	deliver(e, 1, rep, WIRE_HDR_LEN);
	assert_int_equal(e->n_got, 1);
	rep[3] = 0x82; /* SERVFAIL, no question: a failure */
	deliver(e, 1, rep, WIRE_HDR_LEN);
	assert_int_equal(e->n_got, 2);
	p = check_reply(e->got[1].msg, e->got[1].len, 0xb2, LDNS_RCODE_SERVFAIL, NULL);
	ldns_pkt_free(p);
	assert_int_equal(resolver_stats(e->r)->upstream_ignored, 1);
}

/* The EDE info-code of a reply (RFC 8914 2), -1 when it carries none. */
static int ede_of(const ldns_pkt *p)
{
	const ldns_rdf *d = ldns_pkt_edns_data(p);
	const uint8_t *b;
	size_t n, i = 0;

	if (d == NULL)
		return -1;
	b = ldns_rdf_data(d);
	n = ldns_rdf_size(d);
	while (i + 4 <= n) {
		size_t olen = (size_t)b[i + 2] << 8 | b[i + 3];

		if (((unsigned)b[i] << 8 | b[i + 1]) == 15 && olen >= 2 && i + 6 <= n)
			return (int)((unsigned)b[i + 4] << 8 | b[i + 5]);
		i += 4 + olen;
	}
	return -1;
}

/* The access list's verdict: REFUSED, EDE 18 only with EDNS, no upstream
 * traffic; anything that is not a well-formed query gets nothing. */
static void test_refuse(void **state)
{
	static const struct {
		uint16_t edns;
		bool rd;
		int ede;
	} cases[] = {
		{ 0, true, -1 },
		{ 1232, true, 18 },
		{ 4096, false, 18 },
	};
	struct env *e = *state;
	uint8_t q[512];
	ldns_pkt *p;
	size_t n;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = mkquery((uint16_t)(0xac00 + i), "www.site.", LDNS_RR_TYPE_A,
			    cases[i].rd, cases[i].edns, q);
		assert_int_equal(resolver_refuse(e->r, q, n, false, e->out,
						 sizeof(e->out), &e->out_len),
				 RESOLVER_REPLY);
		p = check_reply(e->out, e->out_len, (uint16_t)(0xac00 + i),
				LDNS_RCODE_REFUSED, NULL);
		assert_int_equal(ldns_pkt_edns(p), cases[i].edns != 0);
		assert_int_equal(ede_of(p), cases[i].ede);
		ldns_pkt_free(p);
	}
	/* A static name is refused too: the list comes before everything. */
	n = mkquery(0xad00, "nas.home.arpa.", LDNS_RR_TYPE_A, true, 0, q);
	assert_int_equal(resolver_refuse(e->r, q, n, false, e->out, sizeof(e->out),
					 &e->out_len),
			 RESOLVER_REPLY);
	p = check_reply(e->out, e->out_len, 0xad00, LDNS_RCODE_REFUSED, NULL);
	ldns_pkt_free(p);
	/* Garbage and responses: no reply. */
	assert_int_equal(resolver_refuse(e->r, q, 5, false, e->out, sizeof(e->out),
					 &e->out_len),
			 RESOLVER_DROP);
	q[5] = 0; /* QDCOUNT 0 */
	assert_int_equal(resolver_refuse(e->r, q, n, false, e->out, sizeof(e->out),
					 &e->out_len),
			 RESOLVER_DROP);
	assert_int_equal(e->n_sent, 0);
	assert_int_equal(resolver_stats(e->r)->refused_acl, 4);
}

/* ---- hardening: failover, failure cache, serve-stale, EDE, 0x20 ---- */

/* What a scripted upstream does with one attempt. */
enum upb {
	B_END = 0,
	B_SILENT,   /* nothing: the attempt times out */
	B_SERVFAIL,
	B_REFUSED,
	B_GARBAGE,  /* right ID and QR, cut inside the question */
	B_SOCKET,   /* the socket fails (msg NULL) */
	B_HUGE,     /* 600 records: over the per-reply bound */
	B_LIE,      /* a header claiming 65535 additional records */
	B_OK,       /* NOERROR with an A record */
};

/* A reply to s with n A records for its question, built by hand so that
 * it may exceed what ldns would be asked to produce. */
static size_t mkmany(const struct sent *s, unsigned n, uint8_t *out, size_t cap)
{
	size_t qlen = s->len, p;

	/* The question ends where the OPT begins (11 bytes) if there is one. */
	if (s->msg[11] == 1)
		qlen -= 11;
	assert_true(qlen + (size_t)n * 16 <= cap);
	memcpy(out, s->msg, qlen);
	out[2] |= 0x80;
	out[3] = 0x80;
	out[6] = (uint8_t)(n >> 8);
	out[7] = (uint8_t)n;
	out[10] = out[11] = 0;
	p = qlen;
	for (unsigned i = 0; i < n; i++) {
		static const uint8_t rr[16] = { 0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 1, 0x2c,
						0, 4, 192, 0, 2, 0 };

		memcpy(out + p, rr, sizeof(rr));
		out[p + 15] = (uint8_t)i;
		p += sizeof(rr);
	}
	return p;
}

/* Play behaviour b on the most recent attempt. */
static void play(struct env *e, enum upb b)
{
	static uint8_t rep[65536];
	size_t i = e->n_sent - 1, n;
	static const ldns_pkt_rcode rc[] = { [B_SERVFAIL] = LDNS_RCODE_SERVFAIL,
					     [B_REFUSED] = LDNS_RCODE_REFUSED };

	switch (b) {
	case B_END:
		break;
	case B_SILENT:
		clock_advance_ms(resolver_next_deadline(e->r) - clock_mono_ms());
		resolver_tick(e->r, clock_mono_ms());
		break;
	case B_SERVFAIL:
	case B_REFUSED:
		n = mkreply(&e->sent[i], rc[b], false, NULL, NULL, rep);
		deliver(e, i, rep, n);
		break;
	case B_GARBAGE:
		n = mkreply(&e->sent[i], LDNS_RCODE_NOERROR, false, WWW_A, NULL, rep);
		deliver(e, i, rep, 20);
		break;
	case B_SOCKET:
		deliver(e, i, NULL, 0);
		break;
	case B_HUGE:
		n = mkmany(&e->sent[i], 600, rep, sizeof(rep));
		deliver(e, i, rep, n);
		break;
	case B_LIE:
		n = mkmany(&e->sent[i], 1, rep, sizeof(rep));
		rep[10] = rep[11] = 0xff;
		deliver(e, i, rep, n);
		break;
	case B_OK:
		n = mkmany(&e->sent[i], 1, rep, sizeof(rep));
		deliver(e, i, rep, n);
		break;
	}
}

/* Failover: each row scripts the upstreams' behaviour per attempt, in
 * order, and says which upstreams were asked, what the client got (with
 * EDNS, so the Extended DNS Error shows) and that it came within 3 s. */
static void test_failover_table(void **state)
{
	static const struct {
		unsigned n_upstream;
		enum upb script[4];
		unsigned asked[4]; /* upstream index per attempt */
		size_t n_asked;
		ldns_pkt_rcode rcode;
		int ede;
	} rows[] = {
		{ 1, { B_OK }, { 0 }, 1, LDNS_RCODE_NOERROR, -1 },
		{ 1, { B_SILENT }, { 0 }, 1, LDNS_RCODE_SERVFAIL, 22 },
		{ 1, { B_SERVFAIL }, { 0 }, 1, LDNS_RCODE_SERVFAIL, 22 },
		{ 1, { B_SOCKET }, { 0 }, 1, LDNS_RCODE_SERVFAIL, 23 },
		{ 1, { B_GARBAGE }, { 0 }, 1, LDNS_RCODE_SERVFAIL, 23 },
		{ 1, { B_HUGE }, { 0 }, 1, LDNS_RCODE_SERVFAIL, 23 },
		{ 1, { B_LIE }, { 0 }, 1, LDNS_RCODE_SERVFAIL, 23 },
		{ 2, { B_SILENT, B_OK }, { 0, 1 }, 2, LDNS_RCODE_NOERROR, -1 },
		{ 2, { B_SERVFAIL, B_OK }, { 0, 1 }, 2, LDNS_RCODE_NOERROR, -1 },
		{ 2, { B_REFUSED, B_OK }, { 0, 1 }, 2, LDNS_RCODE_NOERROR, -1 },
		{ 2, { B_GARBAGE, B_OK }, { 0, 1 }, 2, LDNS_RCODE_NOERROR, -1 },
		{ 2, { B_HUGE, B_OK }, { 0, 1 }, 2, LDNS_RCODE_NOERROR, -1 },
		{ 2, { B_SOCKET, B_SILENT }, { 0, 1 }, 2, LDNS_RCODE_SERVFAIL, 22 },
		{ 3, { B_SILENT, B_SILENT, B_OK }, { 0, 1, 2 }, 3, LDNS_RCODE_NOERROR, -1 },
		{ 3, { B_SILENT, B_SILENT, B_SILENT }, { 0, 1, 2 }, 3,
		  LDNS_RCODE_SERVFAIL, 22 },
		{ 3, { B_REFUSED, B_GARBAGE, B_SERVFAIL }, { 0, 1, 2 }, 3,
		  LDNS_RCODE_SERVFAIL, 22 },
	};
	struct env *e = *state;
	char name[32];
	uint64_t start;
	ldns_pkt *p;

	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		env_resolver(e, rows[r].n_upstream, 0);
		e->n_sent = 0;
		e->n_got = 0;
		start = clock_mono_ms();
		snprintf(name, sizeof(name), "row%zu.site.", r);
		assert_int_equal(ask(e, 0, (uint16_t)r, name, LDNS_RR_TYPE_A, true, 1232),
				 RESOLVER_DEFER);
		for (size_t k = 0; e->n_got == 0; k++) {
			assert_true(k < rows[r].n_asked);
			assert_int_equal(e->n_sent, k + 1);
			play(e, rows[r].script[k]);
		}
		assert_int_equal(e->n_sent, rows[r].n_asked);
		for (size_t k = 0; k < rows[r].n_asked; k++) {
			assert_int_equal(e->sent[k].upstream, rows[r].asked[k]);
			assert_true(e->sent[k].done);
		}
		p = parse(e->got[0].msg, e->got[0].len);
		assert_int_equal(ldns_pkt_id(p), (uint16_t)r);
		assert_int_equal(ldns_pkt_get_rcode(p), rows[r].rcode);
		assert_int_equal(ldns_pkt_ancount(p),
				 rows[r].rcode == LDNS_RCODE_NOERROR ? 1 : 0);
		if (ede_of(p) != rows[r].ede)
			fail_msg("row %zu: EDE %d, want %d", r, ede_of(p), rows[r].ede);
		ldns_pkt_free(p);
		assert_true(clock_mono_ms() - start <= 2000);
		assert_int_equal(resolver_outstanding(e->r), 0);
	}
}

/* A dead upstream: two failures in a row and it is skipped while the
 * other works;
 * after 1 s one probe (only one at a time); a failed probe doubles the
 * wait, up to 60 s; an answer brings it back. */
static void test_dead_upstream_backoff(void **state)
{
	struct env *e = *state;
	char name[32];
	int q = 0;

#define ASK_NEXT()                                                             \
	do {                                                                   \
		snprintf(name, sizeof(name), "d%d.site.", q++);                \
		assert_int_equal(ask(e, 0, 1, name, LDNS_RR_TYPE_A, true, 0),  \
				 RESOLVER_DEFER);                              \
	} while (0)

	env_resolver(e, 2, 0);
	for (int i = 0; i < 2; i++) {
		ASK_NEXT();
		assert_int_equal(e->sent[e->n_sent - 1].upstream, 0);
		/* Once suspect, it gets 250 ms before upstream 1 is asked. */
		if (i == 1)
			assert_int_equal(resolver_next_deadline(e->r), clock_mono_ms() + 250);
		play(e, B_SOCKET);        /* upstream 0 fails... */
		assert_int_equal(e->sent[e->n_sent - 1].upstream, 1);
		play(e, B_OK);            /* ...upstream 1 answers */
	}
	assert_int_equal(resolver_stats(e->r)->upstream_dead, 1);
	/* Now upstream 0 is skipped: straight to upstream 1. */
	for (int i = 0; i < 3; i++) {
		ASK_NEXT();
		assert_int_equal(e->sent[e->n_sent - 1].upstream, 1);
		play(e, B_OK);
	}
	clock_advance_ms(999);
	ASK_NEXT();
	assert_int_equal(e->sent[e->n_sent - 1].upstream, 1);
	play(e, B_OK);
	clock_advance_ms(1);
	/* After the 1 s backoff, one query probes it; a second query while
	 * the probe is out does not. */
	ASK_NEXT();
	assert_int_equal(e->sent[e->n_sent - 1].upstream, 0);
	ASK_NEXT();
	assert_int_equal(e->sent[e->n_sent - 1].upstream, 1);
	assert_int_equal(resolver_stats(e->r)->upstream_probes, 1);
	play(e, B_OK);
	/* The probe fails: the next wait is 2 s, then 4 s, ... 60 s. */
	for (unsigned wait = 2000, i = 0; i < 8; i++) {
		play(e, B_SILENT); /* the probe (sent[n-2]) times out... */
		play(e, B_OK);     /* ...and upstream 1 answers it */
		clock_advance_ms(wait - 1);
		ASK_NEXT();
		assert_int_equal(e->sent[e->n_sent - 1].upstream, 1);
		play(e, B_OK);
		clock_advance_ms(1);
		ASK_NEXT();
		assert_int_equal(e->sent[e->n_sent - 1].upstream, 0);
		wait = wait * 2 > 60000 ? 60000 : wait * 2;
	}
	/* The probe succeeds: upstream 0 is back for everything. */
	play(e, B_OK);
	ASK_NEXT();
	assert_int_equal(e->sent[e->n_sent - 1].upstream, 0);
	play(e, B_OK);
	assert_int_equal(resolver_outstanding(e->r), 0);
#undef ASK_NEXT
}

/* The RTT estimate: with another upstream left, an upstream known to
 * answer in 100 ms is given 500 ms (4 x RTT, at least 500), not half the
 * budget; the last upstream always gets all that is left. */
static void test_rtt_attempt_time(void **state)
{
	static const struct {
		unsigned n_upstream;
		uint64_t rtt_ms;   /* how long the first answer takes */
		uint64_t wait_ms;  /* the next query's first attempt */
	} rows[] = {
		{ 2, 100, 500 },
		{ 2, 10, 500 },
		{ 2, 200, 800 },
		{ 2, 400, 1000 }, /* 4 x RTT over the even share */
		{ 1, 100, 2000 },
	};
	struct env *e = *state;
	char name[32];

	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		env_resolver(e, rows[r].n_upstream, 0);
		e->n_sent = 0;
		snprintf(name, sizeof(name), "rtt%zu.site.", r);
		assert_int_equal(ask(e, 0, 1, name, LDNS_RR_TYPE_A, true, 0),
				 RESOLVER_DEFER);
		assert_int_equal(resolver_next_deadline(e->r), clock_mono_ms() + 2000 / rows[r].n_upstream);
		clock_advance_ms(rows[r].rtt_ms);
		play(e, B_OK);
		snprintf(name, sizeof(name), "rtt%zu.example.", r);
		assert_int_equal(ask(e, 0, 2, name, LDNS_RR_TYPE_A, true, 0),
				 RESOLVER_DEFER);
		assert_int_equal(e->sent[1].upstream, 0);
		assert_int_equal(resolver_next_deadline(e->r), clock_mono_ms() + rows[r].wait_ms);
		play(e, B_OK);
	}
}

/* Every upstream dead: they are asked all the same, in order, within
 * the budget (failing without asking would outlast the outage); the first
 * answer revives its upstream. */
static void test_all_dead(void **state)
{
	struct env *e = *state;
	ldns_pkt *p;

	env_resolver(e, 2, 0);
	for (int i = 0; i < 2; i++) {
		e->n_got = 0;
		assert_int_equal(ask(e, 0, 1, i ? "x1.site." : "x0.site.",
				     LDNS_RR_TYPE_A, true, 1232),
				 RESOLVER_DEFER);
		play(e, B_SOCKET);
		play(e, B_SOCKET);
		p = check_reply(e->got[0].msg, e->got[0].len, 1, LDNS_RCODE_SERVFAIL,
				NULL);
		assert_int_equal(ede_of(p), 23);
		ldns_pkt_free(p);
	}
	assert_int_equal(resolver_stats(e->r)->upstream_dead, 2);

	e->n_sent = 0;
	e->n_got = 0;
	assert_int_equal(ask(e, 0, 2, "y.site.", LDNS_RR_TYPE_A, true, 1232),
			 RESOLVER_DEFER);
	assert_int_equal(e->sent[0].upstream, 0);
	assert_int_equal(resolver_next_deadline(e->r), clock_mono_ms() + 250); /* suspect */
	play(e, B_SILENT);
	assert_int_equal(e->sent[1].upstream, 1);
	play(e, B_OK);
	p = parse(e->got[0].msg, e->got[0].len);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(p), 1);
	ldns_pkt_free(p);
	assert_int_equal(resolver_stats(e->r)->upstream_probes, 0);
	/* Upstream 1 works again, upstream 0 is still skipped. */
	assert_int_equal(ask(e, 0, 3, "z.site.", LDNS_RR_TYPE_A, true, 1232),
			 RESOLVER_DEFER);
	assert_int_equal(e->sent[2].upstream, 1);
}

/* RFC 9520: a burst of 100 identical queries against a dead upstream
 * costs one upstream query; the failure is answered from memory with EDE
 * 13 for 5 s, then asked again; repeated failures are remembered twice as
 * long each time, up to 5 minutes; an answer clears the memory. */
static void test_failure_cache(void **state)
{
	static const uint32_t expect_ms[] = { 5000, 10000, 20000, 40000, 80000,
					      160000, 300000, 300000 };
	struct env *e = *state;
	ldns_pkt *p;
	size_t got = 0;

	env_resolver(e, 1, 0);
	for (int i = 0; i < 100; i++) {
		enum resolver_verdict v = ask(e, i % 8, (uint16_t)i, "burst.site.",
					      LDNS_RR_TYPE_A, true, 1232);

		if (i == 0)
			assert_int_equal(v, RESOLVER_DEFER);
		if (v == RESOLVER_REPLY) {
			p = check_reply(e->out, e->out_len, (uint16_t)i,
					LDNS_RCODE_SERVFAIL, NULL);
			assert_int_equal(ede_of(p), 13);
			ldns_pkt_free(p);
			got++;
		}
		if (i == 3)
			play(e, B_SILENT); /* the first 4 waited for it */
	}
	assert_int_equal(e->n_sent, 1);
	assert_int_equal(e->n_got, 4);
	assert_int_equal(got, 96);
	assert_int_equal(resolver_stats(e->r)->failcache_hits, 96);

	/* Each failure is remembered for expect_ms; one ms earlier it still
	 * answers, at expect_ms the upstream is asked again (and fails). The
	 * upstream itself is kept usable by answering other names. */
	for (size_t k = 0; k < sizeof(expect_ms) / sizeof(expect_ms[0]); k++) {
		size_t sent = e->n_sent;

		char alive[32];

		clock_advance_ms(expect_ms[k] - 1);
		assert_int_equal(ask(e, 0, 7, "burst.site.", LDNS_RR_TYPE_A, true, 0),
				 RESOLVER_REPLY);
		assert_int_equal(e->n_sent, sent);
		clock_advance_ms(1);
		assert_int_equal(ask(e, 0, 7, "burst.site.", LDNS_RR_TYPE_A, true, 0),
				 RESOLVER_DEFER);
		assert_int_equal(e->n_sent, sent + 1);
		play(e, B_REFUSED);
		snprintf(alive, sizeof(alive), "alive%zu.site.", k);
		assert_int_equal(ask(e, 0, 7, alive, LDNS_RR_TYPE_A, true, 0),
				 RESOLVER_DEFER);
		play(e, B_OK);
	}
	/* Once it answers, the memory is gone: the next query goes out. */
	clock_advance_ms(300000);
	assert_int_equal(ask(e, 0, 7, "burst.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_DEFER);
	play(e, B_OK);
	clock_advance_ms(400000); /* past the cached answer's TTL */
	assert_int_equal(ask(e, 0, 7, "burst.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_DEFER);
	play(e, B_REFUSED);
	clock_advance_ms(5000); /* a first failure again: 5 s */
	assert_int_equal(ask(e, 0, 7, "burst.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_DEFER);
	/* Other names are not affected. */
	assert_int_equal(ask(e, 1, 8, "other.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_DEFER);
}

/* A cache flush (resolver_cache_flushed, from the control thread) makes
 * the resolver forget its failures: the next query goes upstream at once,
 * where the failure cache would have answered SERVFAIL for 5 s. Without
 * a flush it does answer from memory. */
static void test_failure_cache_flushed(void **state)
{
	struct env *e = *state;
	size_t sent;

	env_resolver(e, 1, 0);
	assert_int_equal(ask(e, 0, 1, "flushed.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_DEFER);
	play(e, B_REFUSED);
	sent = e->n_sent;
	assert_int_equal(ask(e, 0, 2, "flushed.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_REPLY); /* from the failure cache */
	assert_int_equal(e->n_sent, sent);
	resolver_cache_flushed(e->r);
	assert_int_equal(ask(e, 0, 3, "flushed.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_DEFER);
	assert_int_equal(e->n_sent, sent + 1);
	play(e, B_OK);
	assert_int_equal(resolver_stats(e->r)->failcache_hits, 1);
	assert_int_equal(resolver_stats(e->r)->upstream_answers, 1);
}

/* A failure to reach the upstream (no answer) lapses the moment the
 * upstream answers anything again; a failure it returned (REFUSED) is
 * remembered whatever else it answers. */
static void test_failure_cache_reachability(void **state)
{
	struct env *e = *state;

	env_resolver(e, 1, 0);
	assert_int_equal(ask(e, 0, 1, "lost.site.", LDNS_RR_TYPE_A, true, 0), RESOLVER_DEFER);
	play(e, B_SILENT);
	assert_int_equal(ask(e, 0, 2, "lost.site.", LDNS_RR_TYPE_A, true, 0), RESOLVER_REPLY);
	assert_int_equal(ask(e, 0, 3, "other.site.", LDNS_RR_TYPE_A, true, 0), RESOLVER_DEFER);
	play(e, B_OK);
	assert_int_equal(ask(e, 0, 4, "lost.site.", LDNS_RR_TYPE_A, true, 0), RESOLVER_DEFER);
	play(e, B_REFUSED);
	assert_int_equal(ask(e, 0, 5, "more.site.", LDNS_RR_TYPE_A, true, 0), RESOLVER_DEFER);
	play(e, B_OK);
	assert_int_equal(ask(e, 0, 6, "lost.site.", LDNS_RR_TYPE_A, true, 0), RESOLVER_REPLY);
}

/* Bounded: thousands of failing names do not grow the memory beyond its
 * table; the oldest are forgotten first, nothing crashes. */
static void test_failure_cache_bounded(void **state)
{
	struct env *e = *state;
	char name[32];

	env_resolver(e, 1, 0);
	for (int i = 0; i < 3000; i++) {
		e->n_sent = 0;
		e->n_got = 0;
		snprintf(name, sizeof(name), "f%d.site.", i);
		assert_int_equal(ask(e, 0, 1, name, LDNS_RR_TYPE_A, true, 0),
				 RESOLVER_DEFER);
		play(e, B_SERVFAIL); /* SERVFAIL: the upstream stays alive */
	}
	/* The most recent failure is remembered, the first long forgotten. */
	assert_int_equal(ask(e, 0, 1, "f2999.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_REPLY);
	assert_int_equal(ask(e, 0, 1, "f0.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_DEFER);
}

/* RFC 8914: the EDE of each way to fail, only for clients with EDNS. */
static void test_ede_codes(void **state)
{
	struct env *e = *state;
	ldns_pkt *p;

	env_resolver(e, 1, 1);
	/* Overload: max_outstanding 1 is taken. */
	assert_int_equal(ask(e, 0, 1, "a.site.", LDNS_RR_TYPE_A, true, 1232),
			 RESOLVER_DEFER);
	assert_int_equal(ask(e, 1, 2, "b.site.", LDNS_RR_TYPE_A, true, 1232),
			 RESOLVER_REPLY);
	p = check_reply(e->out, e->out_len, 2, LDNS_RCODE_SERVFAIL, NULL);
	assert_int_equal(ede_of(p), 0);
	ldns_pkt_free(p);
	/* Without EDNS: no OPT, so no EDE. */
	assert_int_equal(ask(e, 1, 3, "b.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_REPLY);
	p = check_reply(e->out, e->out_len, 3, LDNS_RCODE_SERVFAIL, NULL);
	assert_false(ldns_pkt_edns(p));
	assert_int_equal(ede_of(p), -1);
	ldns_pkt_free(p);
	play(e, B_SILENT);
	p = check_reply(e->got[0].msg, e->got[0].len, 1, LDNS_RCODE_SERVFAIL, NULL);
	assert_int_equal(ede_of(p), 22);
	ldns_pkt_free(p);
}

/* Every SERVFAIL is logged with its reason, but at most 5 lines a second;
 * the rest are counted. */
static void test_servfail_log_limit(void **state)
{
	struct env *e = *state;
	char name[32];

	env_resolver(e, 1, 0);
	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "l%d.site.", i);
		assert_int_equal(ask(e, 0, 1, name, LDNS_RR_TYPE_A, true, 0),
				 RESOLVER_DEFER);
		play(e, B_SERVFAIL);
	}
	assert_int_equal(resolver_stats(e->r)->servfail, 20);
	/* Each by its reason, logged or not. */
	assert_int_equal(resolver_stats(e->r)->servfail_why[RESOLVER_SF_RCODE], 20);
	assert_int_equal(resolver_stats(e->r)->servfail_why[RESOLVER_SF_TIMEOUT], 0);
	assert_int_equal(resolver_stats(e->r)->servfail_logged, 5);
	assert_int_equal(resolver_stats(e->r)->log_suppressed, 15);
	clock_advance_ms(1000);
	assert_int_equal(ask(e, 0, 1, "l0.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_REPLY); /* the failure cache: logged too */
	assert_int_equal(resolver_stats(e->r)->servfail_logged, 6);
}

/* Cache www.site. (TTL 300) through the resolver, then let it expire. */
static void cache_then_expire(struct env *e, uint64_t after_ms)
{
	uint8_t rep[4096];
	size_t n;

	e->n_sent = 0;
	e->n_got = 0;
	assert_int_equal(ask(e, 0, 1, "www.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_DEFER);
	n = mkreply(&e->sent[0], LDNS_RCODE_NOERROR, false, WWW_A, NULL, rep);
	deliver(e, 0, rep, n);
	clock_advance_ms(after_ms);
	e->n_sent = 0;
	e->n_got = 0;
}

static void env_stale(struct env *e, bool on, uint32_t stale_ttl)
{
	struct tdns_resolver_cfg cfg;

	resolver_free(e->r);
	memset(&cfg, 0, sizeof(cfg));
	cfg.store = e->store;
	cfg.cache.max_ttl = 86400;
	cfg.cache.keep_stale = on ? stale_ttl : 0;
	cfg.n_upstream = 1;
	cfg.timeout_ms = 2000;
	cfg.serve_stale = on;
	cfg.stale_ttl = stale_ttl;
	cfg.transport.send = fake_send;
	cfg.transport.done = fake_done;
	cfg.transport.wake = fake_wake;
	cfg.transport.ctx = e;
	cfg.client.hold = fake_hold;
	cfg.client.answer = fake_answer;
	cfg.client.ctx = e;
	assert_int_equal(resolver_new(&cfg, &e->r), TDNS_OK);
}

/* RFC 8767: with --serve-stale, an expired entry answers (TTL 30, EDE 3)
 * when the upstream fails, when the 1.8 s client timer fires first, and
 * from the failure cache; past the stale window, or without the option,
 * it is SERVFAIL. */
static void test_serve_stale(void **state)
{
	static const char *const STALE_A[] = { "www.site. 30 IN A 192.0.2.10", NULL };
	static const struct {
		bool on;
		uint64_t expired_ms;  /* how long after the TTL ran out */
		enum upb b;
		ldns_pkt_rcode rcode;
		int ede;
		bool before_deadline; /* answered at 1.8 s, upstream still asked */
	} rows[] = {
		{ false, 100000, B_SERVFAIL, LDNS_RCODE_SERVFAIL, 22, false },
		{ true, 100000, B_SERVFAIL, LDNS_RCODE_NOERROR, 3, false },
		{ true, 100000, B_SOCKET, LDNS_RCODE_NOERROR, 3, false },
		{ true, 100000, B_SILENT, LDNS_RCODE_NOERROR, 3, true },
		{ true, 3599000, B_REFUSED, LDNS_RCODE_NOERROR, 3, false },
		{ true, 3601000, B_REFUSED, LDNS_RCODE_SERVFAIL, 22, false },
	};
	struct env *e = *state;
	ldns_pkt *p;

	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		env_stale(e, rows[r].on, 3600);
		cache_then_expire(e, 300000 + rows[r].expired_ms);
		assert_int_equal(ask(e, 0, 0x5700, "www.site.", LDNS_RR_TYPE_A, true,
				     1232),
				 RESOLVER_DEFER);
		assert_int_equal(e->n_sent, 1); /* a refresh is tried first */
		if (rows[r].before_deadline) {
			clock_advance_ms(1800);
			resolver_tick(e->r, clock_mono_ms());
			assert_int_equal(e->n_got, 1);
			assert_int_equal(resolver_outstanding(e->r), 1);
		}
		play(e, rows[r].b);
		assert_int_equal(e->n_got, 1);
		p = check_reply(e->got[0].msg, e->got[0].len, 0x5700, rows[r].rcode,
				rows[r].rcode == LDNS_RCODE_NOERROR ? STALE_A : NULL);
		if (ede_of(p) != rows[r].ede)
			fail_msg("row %zu: EDE %d, want %d", r, ede_of(p), rows[r].ede);
		ldns_pkt_free(p);
		assert_int_equal(resolver_outstanding(e->r), 0);
		/* The failure is remembered: the next query is answered at
		 * once, stale again when allowed, without an upstream query. */
		assert_int_equal(ask(e, 1, 0x5701, "www.site.", LDNS_RR_TYPE_A, true,
				     0),
				 RESOLVER_REPLY);
		p = check_reply(e->out, e->out_len, 0x5701, rows[r].rcode,
				rows[r].rcode == LDNS_RCODE_NOERROR ? STALE_A : NULL);
		ldns_pkt_free(p);
		assert_int_equal(e->n_sent, 1);
		/* Start every row with a clean store. */
		resolver_free(e->r);
		e->r = NULL;
		store_close(e->store);
		tu_rmdir(e->dir);
		tu_tmpdir(e->dir);
		assert_int_equal(store_open(e->dir, NULL, &e->store), TDNS_OK);
	}
}

/* RFC 8767 5: the stale answer at 1.8 s does not end the refresh: its
 * answer, when it comes, refreshes the cache. */
static void test_stale_refresh(void **state)
{
	static const char *const NEW_A[] = { "www.site. 300 IN A 192.0.2.99", NULL };
	struct env *e = *state;
	uint8_t rep[4096];
	ldns_pkt *p;
	size_t n;

	env_stale(e, true, 86400);
	cache_then_expire(e, 400000);
	assert_int_equal(ask(e, 0, 1, "www.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_DEFER);
	/* A second client joins the same refresh (one in flight per name). */
	assert_int_equal(ask(e, 1, 2, "www.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_DEFER);
	assert_int_equal(e->n_sent, 1);
	clock_advance_ms(1800);
	resolver_tick(e->r, clock_mono_ms());
	assert_int_equal(e->n_got, 2);
	assert_int_equal(resolver_stats(e->r)->stale_answers, 2);
	n = mkreply(&e->sent[0], LDNS_RCODE_NOERROR, false, NEW_A, NULL, rep);
	deliver(e, 0, rep, n);
	assert_int_equal(e->n_got, 2);
	assert_int_equal(resolver_outstanding(e->r), 0);
	assert_int_equal(ask(e, 0, 3, "www.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_REPLY);
	p = check_reply(e->out, e->out_len, 3, LDNS_RCODE_NOERROR, NEW_A);
	ldns_pkt_free(p);
	assert_int_equal(e->n_sent, 1);
}

/* Prefetch (Unbound's): a hit in the last tenth of the stored TTL (300 s)
 * answers from the cache and sends one upstream query with nobody
 * waiting; more hits meanwhile send none; its answer replaces the entry.
 * Before the last tenth, or with prefetch off, a hit sends nothing. */
static void test_prefetch(void **state)
{
	static const char *const NEW_A[] = { "www.site. 300 IN A 192.0.2.99", NULL };
	static const char *const LEFT_A[] = { "www.site. 30 IN A 192.0.2.10", NULL };
	struct env *e = *state;
	uint8_t rep[4096];
	ldns_pkt *p;
	size_t n;

	for (int on = 0; on <= 1; on++) {
		e->prefetch = on;
		env_resolver(e, 1, 0);
		clock_set_fake(T0 + (uint64_t)on * 100000);
		cache_then_expire(e, 269000); /* 31 s left */
		assert_int_equal(ask(e, 0, 1, "www.site.", LDNS_RR_TYPE_A, true, 0),
				 RESOLVER_REPLY);
		assert_int_equal(e->n_sent, 0);
		clock_advance_ms(1000); /* 30 s left: the last tenth */
		assert_int_equal(ask(e, 0, 2, "www.site.", LDNS_RR_TYPE_A, true, 0),
				 RESOLVER_REPLY);
		p = check_reply(e->out, e->out_len, 2, LDNS_RCODE_NOERROR, LEFT_A);
		ldns_pkt_free(p);
		assert_int_equal(e->n_sent, (size_t)on);
		assert_int_equal(resolver_outstanding(e->r), (size_t)on);
		assert_int_equal(ask(e, 1, 3, "www.site.", LDNS_RR_TYPE_A, true, 0),
				 RESOLVER_REPLY);
		assert_int_equal(e->n_sent, (size_t)on);
		if (!on)
			continue;
		n = mkreply(&e->sent[0], LDNS_RCODE_NOERROR, false, NEW_A, NULL, rep);
		deliver(e, 0, rep, n);
		assert_int_equal(e->n_got, 0); /* nobody waited */
		assert_int_equal(resolver_outstanding(e->r), 0);
		assert_int_equal(ask(e, 0, 4, "www.site.", LDNS_RR_TYPE_A, true, 0),
				 RESOLVER_REPLY);
		p = check_reply(e->out, e->out_len, 4, LDNS_RCODE_NOERROR, NEW_A);
		ldns_pkt_free(p);
		assert_int_equal(e->n_sent, 1);
	}
}

/* The name as the resolver sent it in attempt i, as text. */
static char *sent_qname(const struct env *e, size_t i)
{
	ldns_pkt *p = parse(e->sent[i].msg, e->sent[i].len);
	char *s = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(p), 0)));

	ldns_pkt_free(p);
	return s;
}

/* 0x20: the question goes out in random case and a reply must echo it
 * byte for byte; an upstream that lowercases is asked again without 0x20,
 * and remembered as such after three queries in a row. */
static void test_0x20(void **state)
{
	static const char *const LONG_A[] = {
		"abcdefghijklmnopqrstuvwxyz.site. 300 IN A 192.0.2.1", NULL
	};
	struct tdns_resolver_cfg cfg;
	struct env *e = *state;
	uint8_t rep[4096];
	char *s;
	ldns_pkt *p;
	size_t n;

	resolver_free(e->r);
	memset(&cfg, 0, sizeof(cfg));
	cfg.store = e->store;
	cfg.n_upstream = 2;
	cfg.use_0x20 = true;
	cfg.transport.send = fake_send;
	cfg.transport.done = fake_done;
	cfg.transport.wake = fake_wake;
	cfg.transport.ctx = e;
	cfg.client.hold = fake_hold;
	cfg.client.answer = fake_answer;
	cfg.client.ctx = e;
	assert_int_equal(resolver_new(&cfg, &e->r), TDNS_OK);

	/* 30 letters: all lower case by chance with probability 2^-30. */
	assert_int_equal(ask(e, 0, 1, "abcdefghijklmnopqrstuvwxyz.site.",
			     LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_DEFER);
	s = sent_qname(e, 0);
	assert_int_equal(strcasecmp(s, "abcdefghijklmnopqrstuvwxyz.site."), 0);
	assert_string_not_equal(s, "abcdefghijklmnopqrstuvwxyz.site.");
	free(s);
	/* The exact echo is accepted. */
	n = mkreply(&e->sent[0], LDNS_RCODE_NOERROR, false, LONG_A, NULL, rep);
	deliver(e, 0, rep, n);
	assert_int_equal(e->n_got, 1);
	p = check_reply(e->got[0].msg, e->got[0].len, 1, LDNS_RCODE_NOERROR, LONG_A);
	ldns_pkt_free(p);

	/* A lower-cased echo is not used: the query is asked again without
	 * 0x20 at the same upstream, and that answer is accepted. One such
	 * reply is no verdict on the upstream (a forger may have guessed ID
	 * and port but not the case): 0x20 stays on until it happens three
	 * queries in a row. */
	for (unsigned i = 0; i < 3; i++) {
		char name[64];
		size_t first = e->n_sent;

		snprintf(name, sizeof(name), "abcdefghijklmnopqrstuvwxyz%u.example.", i);
		assert_int_equal(ask(e, 0, (uint16_t)(2 + i), name, LDNS_RR_TYPE_A,
				     true, 0),
				 RESOLVER_DEFER);
		s = sent_qname(e, first);
		assert_string_not_equal(s, name);
		free(s);
		n = mkreply_q(&e->sent[first], name, LDNS_RR_TYPE_A, NULL, rep);
		deliver(e, first, rep, n);
		assert_int_equal(e->n_got, 1 + i);
		assert_int_equal(e->n_sent, first + 2);
		assert_int_equal(e->sent[first + 1].upstream, 0);
		s = sent_qname(e, first + 1);
		assert_string_equal(s, name);
		free(s);
		n = mkreply_q(&e->sent[first + 1], name, LDNS_RR_TYPE_A, NULL, rep);
		deliver(e, first + 1, rep, n);
		assert_int_equal(e->n_got, 2 + i);
		p = check_reply(e->got[1 + i].msg, e->got[1 + i].len, (uint16_t)(2 + i),
				LDNS_RCODE_NOERROR, NULL);
		ldns_pkt_free(p);
		assert_int_equal(resolver_stats(e->r)->fallback_0x20, i == 2 ? 1 : 0);
	}

	/* Remembered: upstream 0 now gets lower case, upstream 1 still 0x20. */
	assert_int_equal(ask(e, 0, 5, "abcdefghijklmnopqrstuvwxyz.example.net.",
			     LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_DEFER);
	s = sent_qname(e, 7);
	assert_string_equal(s, "abcdefghijklmnopqrstuvwxyz.example.net.");
	free(s);
	play(e, B_SILENT);
	assert_int_equal(e->sent[8].upstream, 1);
	s = sent_qname(e, 8);
	assert_string_not_equal(s, "abcdefghijklmnopqrstuvwxyz.example.net.");
	free(s);
}

/* Bounds on upstream replies: up to 512 records are parsed, more is
 * garbage whatever the length (a lying header costs nothing either). */
static void test_record_bound(void **state)
{
	static uint8_t rep[65536];
	static const struct {
		unsigned n;
		ldns_pkt_rcode rcode;
	} rows[] = {
		{ 1, LDNS_RCODE_NOERROR },
		{ 511, LDNS_RCODE_NOERROR },
		{ 512, LDNS_RCODE_SERVFAIL }, /* 512 answers + the question */
		{ 4000, LDNS_RCODE_SERVFAIL },
	};
	struct env *e = *state;
	char name[32];
	ldns_pkt *p;
	size_t n;

	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		e->n_got = 0;
		e->n_sent = 0;
		clock_advance_ms(AFTER_FAILURES);
		snprintf(name, sizeof(name), "big%zu.site.", r);
		assert_int_equal(ask(e, 0, 1, name, LDNS_RR_TYPE_A, true, 0),
				 RESOLVER_DEFER);
		n = mkmany(&e->sent[0], rows[r].n, rep, sizeof(rep));
		deliver(e, 0, rep, n);
		assert_int_equal(e->n_got, 1);
		p = parse(e->got[0].msg, e->got[0].len);
		assert_int_equal(ldns_pkt_get_rcode(p), rows[r].rcode);
		ldns_pkt_free(p);
	}
	assert_int_equal(resolver_stats(e->r)->upstream_oversized, 2);
}

/* ---- CNAME chasing (RFC 1034 5.3.3 step 3) ---- */

/* The question name of what the resolver sent as sent[i], and its type. */
static void check_sent(const struct env *e, size_t i, const char *name,
		       uint16_t type)
{
	ldns_pkt *p = parse(e->sent[i].msg, e->sent[i].len);
	const ldns_rr *q = ldns_rr_list_rr(ldns_pkt_question(p), 0);
	char *s = ldns_rdf2str(ldns_rr_owner(q));

	assert_string_equal(s, name);
	assert_int_equal(ldns_rr_get_type(q), type);
	free(s);
	ldns_pkt_free(p);
}

static size_t cache_entries(struct env *e)
{
	struct tdns_txn *t = NULL;
	size_t n;

	assert_int_equal(store_begin(e->store, false, &t), TDNS_OK);
	n = cache_count(t);
	store_abort(t);
	return n;
}

static const char *const OUT_CNAME[] = {
	"outside.site. 300 IN CNAME www.elsewhere.test.", NULL
};
static const char *const ELSE_SOA[] = {
	"elsewhere.test. 3600 IN SOA ns.elsewhere.test. h.elsewhere.test. 1 7200 900 1209600 60",
	NULL
};

/* The upstream stops at a CNAME whose target it does not serve: the target
 * is asked for in turn, every waiting client gets the whole chain, and the
 * chain is cached under the question (the target under its own key). */
static void test_chase_cname(void **state)
{
	struct env *e = *state;
	const char *const target[] = { "www.elsewhere.test. 200 IN A 192.0.2.20", NULL };
	const char *const whole[] = {
		"outside.site. 300 IN CNAME www.elsewhere.test.",
		"www.elsewhere.test. 200 IN A 192.0.2.20", NULL
	};
	const char *const later[] = {
		"outside.site. 290 IN CNAME www.elsewhere.test.",
		"www.elsewhere.test. 190 IN A 192.0.2.20", NULL
	};
	const char *const target_later[] = {
		"www.elsewhere.test. 190 IN A 192.0.2.20", NULL
	};
	uint8_t rep[4096];
	ldns_pkt *p;
	size_t n;

	assert_int_equal(ask(e, 0, 0x0a01, "outside.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_DEFER);
	assert_int_equal(ask(e, 1, 0x0a02, "OUTSIDE.site.", LDNS_RR_TYPE_A, true, 1232),
			 RESOLVER_DEFER);
	n = mkreply(&e->sent[0], LDNS_RCODE_NOERROR, false, OUT_CNAME, NULL, rep);
	deliver(e, 0, rep, n);
	assert_int_equal(e->n_got, 0);
	assert_int_equal(e->n_sent, 2);
	assert_true(e->sent[0].done);
	check_sent(e, 1, "www.elsewhere.test.", LDNS_RR_TYPE_A);
	assert_int_equal(resolver_outstanding(e->r), 2);

	n = mkreply(&e->sent[1], LDNS_RCODE_NOERROR, false, target, NULL, rep);
	deliver(e, 1, rep, n);
	assert_int_equal(e->n_got, 2);
	for (size_t i = 0; i < 2; i++) {
		bool first = e->got[i].held == &e->clients[0];

		p = check_reply(e->got[i].msg, e->got[i].len, first ? 0x0a01 : 0x0a02,
				LDNS_RCODE_NOERROR, whole);
		assert_int_equal(ldns_pkt_edns(p), !first);
		ldns_pkt_free(p);
	}
	assert_int_equal(resolver_outstanding(e->r), 0);
	assert_int_equal(cache_entries(e), 2);

	clock_advance_ms(10000);
	assert_int_equal(ask(e, 2, 0x0a03, "outside.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_REPLY);
	p = check_reply(e->out, e->out_len, 0x0a03, LDNS_RCODE_NOERROR, later);
	ldns_pkt_free(p);
	assert_int_equal(ask(e, 2, 0x0a04, "www.elsewhere.test.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_REPLY);
	p = check_reply(e->out, e->out_len, 0x0a04, LDNS_RCODE_NOERROR, target_later);
	ldns_pkt_free(p);
	assert_int_equal(e->n_sent, 2);
	assert_int_equal(resolver_stats(e->r)->cache_hits, 2);
}

/* A CNAME read after the query's time ran out: the client's query fails by
 * timeout, and its target, never asked, is not remembered as failing: asked
 * by a client a second later, it goes upstream. */
static void test_chase_after_deadline(void **state)
{
	struct env *e = *state;
	const struct tdns_resolver_stats *rs;
	uint8_t rep[4096];
	ldns_pkt *p;
	size_t n;

	assert_int_equal(ask(e, 0, 0x0b01, "outside.site.", LDNS_RR_TYPE_A, true, 1232),
			 RESOLVER_DEFER);
	clock_advance_ms(2000);
	n = mkreply(&e->sent[0], LDNS_RCODE_NOERROR, false, OUT_CNAME, NULL, rep);
	deliver(e, 0, rep, n);
	assert_int_equal(e->n_sent, 1);
	assert_int_equal(e->n_got, 1);
	p = check_reply(e->got[0].msg, e->got[0].len, 0x0b01, LDNS_RCODE_SERVFAIL, NULL);
	ldns_pkt_free(p);
	rs = resolver_stats(e->r);
	assert_int_equal(rs->servfail_why[RESOLVER_SF_TIMEOUT], 1);
	assert_int_equal(rs->servfail_why[RESOLVER_SF_DEAD], 0);
	clock_advance_ms(1000);
	assert_int_equal(ask(e, 1, 0x0b02, "www.elsewhere.test.", LDNS_RR_TYPE_A, true, 1232),
			 RESOLVER_DEFER);
	assert_int_equal(e->n_sent, 2);
	assert_int_equal(rs->servfail_why[RESOLVER_SF_CACHED], 0);
}

/* A target that does not exist: NXDOMAIN (RFC 6604: the last name's
 * rcode) with the chain and the target zone's SOA; a target whose lookup
 * fails (the upstream REFUSES it): SERVFAIL; a target in the cache is
 * taken from there (no second upstream query); a NODATA chain with its
 * SOA is not chased. */
static void test_chase_outcomes(void **state)
{
	struct env *e = *state;
	const char *const nx_chain[] = {
		"nx.site. 300 IN CNAME gone.elsewhere.test.", NULL
	};
	const char *const cached_chain[] = {
		"c.site. 300 IN CNAME www.elsewhere.test.", NULL
	};
	const char *const target[] = { "www.elsewhere.test. 200 IN A 192.0.2.20", NULL };
	const char *const c_whole[] = {
		"c.site. 300 IN CNAME www.elsewhere.test.",
		"www.elsewhere.test. 200 IN A 192.0.2.20", NULL
	};
	const char *const nodata_chain[] = {
		"nd.site. 300 IN CNAME x.site.", NULL
	};
	uint8_t rep[4096];
	ldns_pkt *p;
	size_t n;

	/* NXDOMAIN at the target. */
	assert_int_equal(ask(e, 0, 1, "nx.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_DEFER);
	n = mkreply(&e->sent[0], LDNS_RCODE_NOERROR, false, nx_chain, NULL, rep);
	deliver(e, 0, rep, n);
	check_sent(e, 1, "gone.elsewhere.test.", LDNS_RR_TYPE_A);
	n = mkreply(&e->sent[1], LDNS_RCODE_NXDOMAIN, false, NULL, ELSE_SOA, rep);
	deliver(e, 1, rep, n);
	assert_int_equal(e->n_got, 1);
	p = check_reply(e->got[0].msg, e->got[0].len, 1, LDNS_RCODE_NXDOMAIN, nx_chain);
	assert_int_equal(ldns_pkt_nscount(p), 1);
	assert_int_equal(ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_authority(p), 0)),
			 LDNS_RR_TYPE_SOA);
	ldns_pkt_free(p);
	assert_int_equal(ask(e, 0, 2, "nx.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_REPLY);
	p = check_reply(e->out, e->out_len, 2, LDNS_RCODE_NXDOMAIN, nx_chain);
	ldns_pkt_free(p);
	assert_int_equal(e->n_sent, 2);

	/* The target lookup fails. */
	assert_int_equal(ask(e, 0, 3, "outside.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_DEFER);
	n = mkreply(&e->sent[2], LDNS_RCODE_NOERROR, false, OUT_CNAME, NULL, rep);
	deliver(e, 2, rep, n);
	check_sent(e, 3, "www.elsewhere.test.", LDNS_RR_TYPE_A);
	n = mkreply(&e->sent[3], LDNS_RCODE_REFUSED, false, NULL, NULL, rep);
	deliver(e, 3, rep, n);
	assert_int_equal(e->n_got, 2);
	p = check_reply(e->got[1].msg, e->got[1].len, 3, LDNS_RCODE_SERVFAIL, NULL);
	ldns_pkt_free(p);
	assert_int_equal(resolver_outstanding(e->r), 0);
	/* nx.site. and gone.elsewhere.test.; nothing for outside.site. */
	assert_int_equal(cache_entries(e), 2);

	/* The target is in the cache by then. */
	clock_advance_ms(AFTER_FAILURES);
	e->n_sent = 0;
	e->n_got = 0;
	assert_int_equal(ask(e, 0, 4, "www.elsewhere.test.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_DEFER);
	n = mkreply(&e->sent[0], LDNS_RCODE_NOERROR, false, target, NULL, rep);
	deliver(e, 0, rep, n);
	assert_int_equal(ask(e, 0, 5, "c.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_DEFER);
	n = mkreply(&e->sent[1], LDNS_RCODE_NOERROR, false, cached_chain, NULL, rep);
	deliver(e, 1, rep, n);
	assert_int_equal(e->n_sent, 2);
	assert_int_equal(e->n_got, 2);
	p = check_reply(e->got[1].msg, e->got[1].len, 5, LDNS_RCODE_NOERROR, c_whole);
	ldns_pkt_free(p);

	/* NODATA at the end of an in-zone chain (SOA present): final. */
	assert_int_equal(ask(e, 0, 6, "nd.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_DEFER);
	n = mkreply(&e->sent[2], LDNS_RCODE_NOERROR, false, nodata_chain, SITE_SOA, rep);
	deliver(e, 2, rep, n);
	assert_int_equal(e->n_sent, 3);
	p = check_reply(e->got[2].msg, e->got[2].len, 6, LDNS_RCODE_NOERROR, nodata_chain);
	ldns_pkt_free(p);
}

/* RFC 1034 3.6.2: a CNAME loop, within one reply or across the replies of
 * a chase, is SERVFAIL (as Unbound) and never cached. */
static void test_chase_loop(void **state)
{
	struct env *e = *state;
	const char *const loop[] = {
		"loop1.site. 300 IN CNAME loop2.site.",
		"loop2.site. 300 IN CNAME loop1.site.", NULL
	};
	const char *const a_to_b[] = { "a.site. 300 IN CNAME b.site.", NULL };
	const char *const b_to_a[] = { "b.site. 300 IN CNAME a.site.", NULL };
	uint8_t rep[4096];
	ldns_pkt *p;
	size_t n;

	assert_int_equal(ask(e, 0, 1, "loop1.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_DEFER);
	n = mkreply(&e->sent[0], LDNS_RCODE_NOERROR, false, loop, NULL, rep);
	deliver(e, 0, rep, n);
	assert_int_equal(e->n_sent, 1);
	assert_int_equal(e->n_got, 1);
	p = check_reply(e->got[0].msg, e->got[0].len, 1, LDNS_RCODE_SERVFAIL, NULL);
	ldns_pkt_free(p);

	assert_int_equal(ask(e, 0, 2, "a.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_DEFER);
	n = mkreply(&e->sent[1], LDNS_RCODE_NOERROR, false, a_to_b, NULL, rep);
	deliver(e, 1, rep, n);
	check_sent(e, 2, "b.site.", LDNS_RR_TYPE_A);
	n = mkreply(&e->sent[2], LDNS_RCODE_NOERROR, false, b_to_a, NULL, rep);
	deliver(e, 2, rep, n);
	assert_int_equal(e->n_sent, 3);
	assert_int_equal(e->n_got, 2);
	p = check_reply(e->got[1].msg, e->got[1].len, 2, LDNS_RCODE_SERVFAIL, NULL);
	ldns_pkt_free(p);
	assert_int_equal(resolver_outstanding(e->r), 0);
	assert_int_equal(cache_entries(e), 0);
}

/* Each upstream reply gives one more CNAME: a chain of 8 CNAMEs is
 * followed to its end, a 9th is SERVFAIL; every query of the chase
 * is over afterwards. */
static void test_chase_hop_limit(void **state)
{
	struct env *e = *state;
	const char *chain[11];
	char text[10][64];
	uint8_t rep[4096];
	ldns_pkt *p;
	size_t n;

	for (int round = 0; round < 2; round++) {
		const char *pre = round == 0 ? "x" : "y";
		int ends = round == 0 ? 8 : 9; /* CNAMEs before an answer */

		e->n_sent = 0;
		e->n_got = 0;
		snprintf(text[0], sizeof(text[0]), "%s0.site.", pre);
		assert_int_equal(ask(e, 0, 7, text[0], LDNS_RR_TYPE_A, true, 0),
				 RESOLVER_DEFER);
		for (int i = 0; i <= ends && e->n_got == 0; i++) {
			const char *one[2] = { text[i], NULL };

			if (i < ends)
				snprintf(text[i], sizeof(text[i]),
					 "%s%d.site. 300 IN CNAME %s%d.site.", pre, i, pre,
					 i + 1);
			else
				snprintf(text[i], sizeof(text[i]),
					 "%s%d.site. 300 IN A 192.0.2.1", pre, i);
			assert_int_equal(e->n_sent, (size_t)i + 1);
			n = mkreply(&e->sent[i], LDNS_RCODE_NOERROR, false, one, NULL, rep);
			deliver(e, (size_t)i, rep, n);
		}
		assert_int_equal(e->n_got, 1);
		if (round == 0) {
			for (int i = 0; i <= 8; i++)
				chain[i] = text[i];
			chain[9] = NULL;
			p = check_reply(e->got[0].msg, e->got[0].len, 7,
					LDNS_RCODE_NOERROR, chain);
		} else {
			assert_int_equal(e->n_sent, 9);
			p = check_reply(e->got[0].msg, e->got[0].len, 7,
					LDNS_RCODE_SERVFAIL, NULL);
		}
		ldns_pkt_free(p);
		assert_int_equal(resolver_outstanding(e->r), 0);
	}
}

/* The chase spends the client's budget, not a fresh one: a target that
 * never answers ends in SERVFAIL when the first query's time is up. */
static void test_chase_timeout(void **state)
{
	struct env *e = *state;
	uint8_t rep[4096];
	ldns_pkt *p;
	size_t n;

	assert_int_equal(ask(e, 0, 9, "outside.site.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_DEFER);
	clock_advance_ms(1500);
	n = mkreply(&e->sent[0], LDNS_RCODE_NOERROR, false, OUT_CNAME, NULL, rep);
	deliver(e, 0, rep, n);
	assert_int_equal(e->n_sent, 2);
	assert_int_equal(e->wake, (uint64_t)T0 * 1000 + 2000);
	clock_advance_ms(500);
	resolver_tick(e->r, clock_mono_ms());
	assert_int_equal(e->n_got, 1);
	p = check_reply(e->got[0].msg, e->got[0].len, 9, LDNS_RCODE_SERVFAIL, NULL);
	ldns_pkt_free(p);
	assert_int_equal(resolver_outstanding(e->r), 0);
	assert_true(e->sent[1].done);
}

/* RFC 5936 4.2: tierdns-local is no zone-transfer source: AXFR and IXFR
 * are REFUSED at once, over UDP and TCP, with no upstream query. */
static void test_xfr_refused(void **state)
{
	static const uint16_t types[] = { LDNS_RR_TYPE_AXFR, LDNS_RR_TYPE_IXFR };
	struct env *e = *state;
	uint8_t q[512];
	ldns_pkt *p;
	size_t n;

	for (size_t i = 0; i < 2; i++) {
		for (int tcp = 0; tcp < 2; tcp++) {
			n = mkquery(0x55, "site.", types[i], true, 0, q);
			assert_int_equal(resolver_query(e->r, q, n, tcp != 0, &e->clients[0],
							e->out, sizeof(e->out),
							&e->out_len),
					 RESOLVER_REPLY);
			p = check_reply(e->out, e->out_len, 0x55, LDNS_RCODE_REFUSED, NULL);
			ldns_pkt_free(p);
		}
	}
	/* A static zone's name is not transferred either. */
	assert_int_equal(ask(e, 0, 0x56, "home.arpa.", LDNS_RR_TYPE_AXFR, true, 0),
			 RESOLVER_REPLY);
	p = check_reply(e->out, e->out_len, 0x56, LDNS_RCODE_REFUSED, NULL);
	ldns_pkt_free(p);
	assert_int_equal(e->n_sent, 0);
}

/* ---- stub zones: referrals within the zone (referral.h) ---- */

/* A policy with corp. a stub zone: upstream 0 the default, 1 corp.'s
 * server. */
static void env_stub(struct env *e)
{
	struct policy_forward f[] = { { "corp.", POLICY_FWD_STUB, { .len = 0 } } };
	struct policy_src src;
	struct tdns_policy *p = NULL;
	char err[256];

	memset(&src, 0, sizeof(src));
	src.n_default = 1;
	src.forward = f;
	src.n_forward = 1;
	assert_int_equal(policy_build(&src, &p, err, sizeof(err)), TDNS_OK);
	assert_int_equal(policy_box_new(p, &e->policy), TDNS_OK);
	env_resolver(e, 2, 0);
}

/* The last attempt sent: to a referral's server at addr (NULL: to the
 * stub zone's own upstream), RD clear, for qname. */
static const struct sent *stub_sent(struct env *e, const char *addr, const char *qname)
{
	const struct sent *s = &e->sent[e->n_sent - 1];
	ldns_pkt *p = parse(s->msg, s->len);
	char text[80], *name;

	if (addr == NULL) {
		assert_int_equal(s->upstream, 1);
	} else {
		assert_int_equal(s->upstream, NOT_UPSTREAM);
		assert_string_equal(netio_addr_str(&s->to, text, sizeof(text)), addr);
	}
	assert_false(ldns_pkt_rd(p));
	name = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(p), 0)));
	assert_int_equal(strcasecmp(name, qname), 0);
	free(name);
	ldns_pkt_free(p);
	return s;
}

/* The last client answer: rcode and answer records. */
static void check_got(struct env *e, uint16_t id, ldns_pkt_rcode rcode, const char *const *an)
{
	assert_true(e->n_got > 0);
	ldns_pkt_free(check_reply(e->got[e->n_got - 1].msg, e->got[e->n_got - 1].len, id,
				  rcode, an));
}

/* A referral from the server of s: NS of zone, each named ns.ZONE with
 * glue addr (and an out-of-bailiwick name with glue, which must not be
 * used). */
static void refer(struct env *e, const struct sent *s, const char *zone, const char *addr)
{
	char ns1[160], ns2[160], g1[160], g2[160];
	const char *ns[] = { ns1, ns2, NULL }, *ar[] = { g2, g1, NULL };
	uint8_t rep[4096];
	size_t n;

	snprintf(ns1, sizeof(ns1), "%s 300 IN NS ns.outside.test.", zone);
	snprintf(ns2, sizeof(ns2), "%s 300 IN NS ns.%s", zone, zone);
	snprintf(g1, sizeof(g1), "ns.%s 300 IN A %s", zone, addr);
	snprintf(g2, sizeof(g2), "ns.outside.test. 300 IN A 192.0.2.250");
	n = mkreply_full(s, LDNS_RCODE_NOERROR, false, false, NULL, ns, ar, rep);
	deliver(e, (size_t)(s - e->sent), rep, n);
}

/* A stub zone's server delegates eng.corp.: its server (by the glue within
 * eng.corp.) is asked the same question without RD, and its answers -
 * data, NXDOMAIN, NODATA - reach the client and are cached. A second
 * referral further down is followed too. */
static void test_stub_referral_followed(void **state)
{
	static const char *const WWW[] = { "www.eng.corp. 300 IN A 192.0.2.80", NULL };
	static const char *const DEEP[] = { "h.x.eng.corp. 300 IN A 192.0.2.81", NULL };
	static const char *const SOA[] = {
		"eng.corp. 300 IN SOA ns.eng.corp. h.eng.corp. 1 3600 600 86400 300", NULL
	};
	struct env *e = *state;
	const struct sent *s;
	uint8_t rep[4096];
	size_t n;

	env_stub(e);
	assert_int_equal(ask(e, 0, 0x51, "www.eng.corp.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_DEFER);
	assert_int_equal(e->n_sent, 1);
	s = stub_sent(e, NULL, "www.eng.corp.");
	refer(e, s, "eng.corp.", "192.0.2.7");
	assert_int_equal(e->n_got, 0);
	assert_int_equal(e->n_sent, 2);
	assert_true(e->sent[0].done);
	s = stub_sent(e, "192.0.2.7:53", "www.eng.corp.");
	n = mkreply_full(s, LDNS_RCODE_NOERROR, false, true, WWW, NULL, NULL, rep);
	deliver(e, 1, rep, n);
	assert_int_equal(e->n_got, 1);
	check_got(e, 0x51, LDNS_RCODE_NOERROR, WWW);
	assert_true(in_cache(e, "www.eng.corp.", LDNS_RR_TYPE_A, NULL));
	/* from the cache now */
	assert_int_equal(ask(e, 0, 0x52, "www.eng.corp.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_REPLY);
	ldns_pkt_free(check_reply(e->out, e->out_len, 0x52, LDNS_RCODE_NOERROR, WWW));
	assert_int_equal(e->n_sent, 2);

	/* NXDOMAIN and NODATA from the delegated zone's server */
	for (unsigned i = 0; i < 2; i++) {
		const char *name = i == 0 ? "nx.eng.corp." : "www.eng.corp.";
		ldns_pkt_rcode rcode = i == 0 ? LDNS_RCODE_NXDOMAIN : LDNS_RCODE_NOERROR;
		uint16_t qtype = i == 0 ? LDNS_RR_TYPE_A : LDNS_RR_TYPE_AAAA;

		assert_int_equal(ask(e, 0, (uint16_t)(0x53 + i), name, qtype, true, 0),
				 RESOLVER_DEFER);
		refer(e, stub_sent(e, NULL, name), "eng.corp.", "192.0.2.7");
		s = stub_sent(e, "192.0.2.7:53", name);
		n = mkreply_full(s, rcode, false, true, NULL, SOA, NULL, rep);
		deliver(e, (size_t)(s - e->sent), rep, n);
		check_got(e, (uint16_t)(0x53 + i), rcode, NULL);
		assert_true(in_cache(e, name, qtype, NULL));
	}

	/* two referrals: corp. -> eng.corp. -> x.eng.corp. */
	assert_int_equal(ask(e, 0, 0x55, "h.x.eng.corp.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_DEFER);
	refer(e, stub_sent(e, NULL, "h.x.eng.corp."), "eng.corp.", "192.0.2.7");
	refer(e, stub_sent(e, "192.0.2.7:53", "h.x.eng.corp."), "x.eng.corp.", "192.0.2.9");
	s = stub_sent(e, "192.0.2.9:53", "h.x.eng.corp.");
	n = mkreply_full(s, LDNS_RCODE_NOERROR, false, true, DEEP, NULL, NULL, rep);
	deliver(e, (size_t)(s - e->sent), rep, n);
	check_got(e, 0x55, LDNS_RCODE_NOERROR, DEEP);
	assert_int_equal(resolver_outstanding(e->r), 0);
}

/* Referrals that are not followed: back up (a loop), sideways, out of
 * the stub zone, without usable glue, the 9th in a row: SERVFAIL with
 * no further query (the set of each has one server). */
static void test_stub_referral_refused(void **state)
{
	static const char *const deep[] = {
		"l1.corp.", "l2.l1.corp.", "l3.l2.l1.corp.", "l4.l3.l2.l1.corp.",
		"l5.l4.l3.l2.l1.corp.", "l6.l5.l4.l3.l2.l1.corp.",
		"l7.l6.l5.l4.l3.l2.l1.corp.", "l8.l7.l6.l5.l4.l3.l2.l1.corp.",
		"l9.l8.l7.l6.l5.l4.l3.l2.l1.corp.",
	};
	static const char *const NOGLUE_NS[] = { "ng.corp. 300 IN NS ns.outside.test.", NULL };
	static const char *const NOGLUE_AR[] = { "ns.outside.test. 300 IN A 192.0.2.250", NULL };
	/* a delegated zone's server refers back up (a loop), sideways */
	static const struct {
		const char *qname, *child, *then;
	} two[] = {
		{ "www.loop.corp.", "loop.corp.", "corp." },
		{ "www.a.side.corp.", "side.corp.", "b.side.corp." },
	};
	const char *qdeep = "www.l9.l8.l7.l6.l5.l4.l3.l2.l1.corp.";
	struct env *e = *state;
	const struct sent *s;
	uint8_t rep[4096];
	size_t n, before;

	env_stub(e);
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(ask(e, 0, (uint16_t)(0x61 + i), two[i].qname, LDNS_RR_TYPE_A,
				     true, 0), RESOLVER_DEFER);
		refer(e, stub_sent(e, NULL, two[i].qname), two[i].child, "192.0.2.8");
		refer(e, stub_sent(e, "192.0.2.8:53", two[i].qname), two[i].then, "192.0.2.9");
		assert_int_equal(e->n_sent, 2 * (i + 1));
		check_got(e, (uint16_t)(0x61 + i), LDNS_RCODE_SERVFAIL, NULL);
	}
	/* out of the stub zone, from its own server */
	assert_int_equal(ask(e, 0, 0x63, "www.out.corp.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_DEFER);
	refer(e, stub_sent(e, NULL, "www.out.corp."), "example.", "192.0.2.8");
	assert_int_equal(e->n_sent, 5);
	check_got(e, 0x63, LDNS_RCODE_SERVFAIL, NULL);
	/* no glue within the delegation */
	assert_int_equal(ask(e, 0, 0x64, "www.ng.corp.", LDNS_RR_TYPE_A, true, 0),
			 RESOLVER_DEFER);
	s = stub_sent(e, NULL, "www.ng.corp.");
	n = mkreply_full(s, LDNS_RCODE_NOERROR, false, false, NULL, NOGLUE_NS, NOGLUE_AR, rep);
	deliver(e, (size_t)(s - e->sent), rep, n);
	assert_int_equal(e->n_sent, 6);
	check_got(e, 0x64, LDNS_RCODE_SERVFAIL, NULL);
	/* 8 referrals followed, the 9th not */
	assert_int_equal(ask(e, 0, 0x65, qdeep, LDNS_RR_TYPE_A, true, 0), RESOLVER_DEFER);
	before = e->n_sent;
	refer(e, stub_sent(e, NULL, qdeep), deep[0], "192.0.2.10");
	for (unsigned i = 1; i < 9; i++) {
		char addr[32], next[32];

		snprintf(addr, sizeof(addr), "192.0.2.%u:53", 9 + i);
		snprintf(next, sizeof(next), "192.0.2.%u", 10 + i);
		assert_int_equal(e->n_got, 4);
		refer(e, stub_sent(e, addr, qdeep), deep[i], next);
	}
	assert_int_equal(e->n_sent, before + 8);
	check_got(e, 0x65, LDNS_RCODE_SERVFAIL, NULL);
	assert_int_equal(resolver_outstanding(e->r), 0);
}

/* A delegated zone's server that does not answer: the next address of
 * the referral is asked within the budget; all silent: SERVFAIL. */
static void test_stub_referral_failover(void **state)
{
	static const char *const NS[] = { "eng.corp. 300 IN NS a.eng.corp.",
					  "eng.corp. 300 IN NS b.eng.corp.", NULL };
	static const char *const AR[] = { "a.eng.corp. 300 IN A 192.0.2.1",
					  "b.eng.corp. 300 IN A 192.0.2.2", NULL };
	static const char *const WWW[] = { "www.eng.corp. 300 IN A 192.0.2.80", NULL };
	struct env *e = *state;
	const struct sent *s;
	uint8_t rep[4096];
	size_t n;

	env_stub(e);
	for (int round = 0; round < 2; round++) {
		const char *name = round == 0 ? "www.eng.corp." : "x.eng.corp.";

		assert_int_equal(ask(e, 0, (uint16_t)(0x71 + round), name, LDNS_RR_TYPE_A,
				     true, 0), RESOLVER_DEFER);
		s = stub_sent(e, NULL, name);
		n = mkreply_full(s, LDNS_RCODE_NOERROR, false, false, NULL, NS, AR, rep);
		deliver(e, (size_t)(s - e->sent), rep, n);
		stub_sent(e, "192.0.2.1:53", name);
		/* an even share of what is left: half */
		clock_advance_ms(1000);
		resolver_tick(e->r, clock_mono_ms());
		s = stub_sent(e, "192.0.2.2:53", name);
		if (round == 0) {
			n = mkreply_full(s, LDNS_RCODE_NOERROR, false, true, WWW, NULL, NULL, rep);
			deliver(e, (size_t)(s - e->sent), rep, n);
			check_got(e, 0x71, LDNS_RCODE_NOERROR, WWW);
		} else {
			clock_advance_ms(1000);
			resolver_tick(e->r, clock_mono_ms());
			check_got(e, 0x72, LDNS_RCODE_SERVFAIL, NULL);
		}
	}
	assert_int_equal(resolver_outstanding(e->r), 0);
}

/* ---- the packet cache (replycache.h) ---- */

/* A client query with every header bit a reply depends on: edns 0 is
 * none (then DO is not sent). */
static size_t mkquery_bits(uint16_t id, const char *name, bool rd, bool cd, bool ad,
			   uint16_t edns, bool dnssec_ok, uint8_t *out)
{
	ldns_pkt *p = ldns_pkt_query_new(ldns_dname_new_frm_str(name), LDNS_RR_TYPE_A,
					 LDNS_RR_CLASS_IN, rd ? LDNS_RD : 0);
	size_t n;

	assert_non_null(p);
	ldns_pkt_set_id(p, id);
	ldns_pkt_set_cd(p, cd);
	ldns_pkt_set_ad(p, ad);
	if (edns) {
		ldns_pkt_set_edns_udp_size(p, edns);
		ldns_pkt_set_edns_do(p, dnssec_ok);
	}
	n = to_wire(p, out, 512);
	ldns_pkt_free(p);
	return n;
}

/* Ask r and plain the same query: the same verdict, and on a reply the
 * same bytes. Returns the verdict. */
static enum resolver_verdict ask_both(struct env *e, struct tdns_resolver *plain,
				      const uint8_t *q, size_t n)
{
	uint8_t other[WIRE_MAX_MSG];
	size_t other_len = 0;
	enum resolver_verdict v, w;

	v = resolver_query(e->r, q, n, false, &e->clients[0], e->out, sizeof(e->out),
			   &e->out_len);
	w = resolver_query(plain, q, n, false, &e->clients[1], other, sizeof(other),
			   &other_len);
	assert_int_equal(v, w);
	if (v == RESOLVER_REPLY) {
		assert_int_equal(e->out_len, other_len);
		assert_memory_equal(e->out, other, other_len);
	}
	return v;
}

/* Cache www.site. A (TTL 300) and nosuch.site. A (NXDOMAIN, negative TTL
 * 300) through e->r: its answers to the waiting clients are the first
 * replies it keeps. */
static void cache_two(struct env *e)
{
	uint8_t rep[4096];
	size_t n;

	assert_int_equal(ask(e, 0, 1, "www.site.", LDNS_RR_TYPE_A, true, 1232), RESOLVER_DEFER);
	n = mkreply(&e->sent[e->n_sent - 1], LDNS_RCODE_NOERROR, false, WWW_A, NULL, rep);
	deliver(e, e->n_sent - 1, rep, n);
	assert_int_equal(ask(e, 0, 2, "nosuch.site.", LDNS_RR_TYPE_A, true, 0), RESOLVER_DEFER);
	n = mkreply(&e->sent[e->n_sent - 1], LDNS_RCODE_NXDOMAIN, false, NULL, SITE_SOA, rep);
	deliver(e, e->n_sent - 1, rep, n);
}

/* A replay is byte for byte what a resolver without a packet cache, on
 * the same store, answers: whatever the question's case, the ID, RD, CD,
 * AD, EDNS, its size and DO, at the first ask and up to the last second
 * of the TTL; and most of those answers are replays. Past the expiry
 * nothing is replayed: the question goes upstream. */
static void test_replay_as_fresh(void **state)
{
	static const char *const names[] = { "www.site.", "WWW.SITE.", "wWw.sItE.",
					     "nosuch.site.", "NoSuch.Site." };
	static const uint16_t sizes[] = { 0, 512, 1232 };
	static const uint64_t steps_ms[] = { 0, 1000, 61000, 237000 }; /* to 299 s */
	struct env *e = *state;
	struct tdns_resolver *plain;
	unsigned asked = 0, id = 100;
	uint8_t q[512];
	size_t n;

	cache_two(e);
	plain = new_resolver(e, 1, 0, 0);
	for (size_t t = 0; t < sizeof(steps_ms) / sizeof(steps_ms[0]); t++) {
		clock_advance_ms(steps_ms[t]);
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			for (unsigned bits = 0; bits < 8; bits++)
				for (size_t z = 0; z < 3; z++)
					for (int dnssec_ok = 0; dnssec_ok <= (sizes[z] != 0);
					     dnssec_ok++) {
						n = mkquery_bits((uint16_t)id++, names[i], bits & 1,
								 bits & 2, bits & 4, sizes[z],
								 dnssec_ok, q);
						assert_int_equal(ask_both(e, plain, q, n),
								 RESOLVER_REPLY);
						asked++;
					}
	}
	assert_int_equal(e->n_sent, 2);
	/* Each of the 2 x 40 ways of asking is encoded once (a bucket shared
	 * by three of them costs a few more); the rest are replays. */
	assert_true(resolver_stats(e->r)->replays >= asked - 2 * 40 - 40);
	assert_int_equal(resolver_stats(plain)->replays, 0);
	/* One second later both have expired. */
	clock_advance_ms(1000);
	n = mkquery_bits(1, "www.site.", true, false, false, 0, false, q);
	assert_int_equal(resolver_query(e->r, q, n, false, &e->clients[0], e->out,
					sizeof(e->out), &e->out_len), RESOLVER_DEFER);
	n = mkquery_bits(2, "nosuch.site.", true, false, false, 0, false, q);
	assert_int_equal(resolver_query(e->r, q, n, false, &e->clients[0], e->out,
					sizeof(e->out), &e->out_len), RESOLVER_DEFER);
	resolver_free(plain);
}

/* Remove the cache entry of www.site. A as tierdns-control cache flush
 * does: through the resolver's store handle, or (other) from another
 * process, as tierdns-zone delete does. */
static void flush_www(struct env *e, bool other)
{
	ldns_rdf *d = ldns_dname_new_frm_str("www.site.");
	uint8_t key[NAME_KEY_MAX];
	struct tdns_store *s = e->store;
	struct tdns_txn *t = NULL;
	size_t klen, removed = 0;
	int status;
	pid_t pid = 0;

	assert_non_null(d);
	key_of(d, key, &klen);
	ldns_rdf_deep_free(d);
	if (other) {
		pid = fork();
		assert_true(pid >= 0);
		if (pid > 0) {
			assert_int_equal(waitpid(pid, &status, 0), pid);
			assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
			return;
		}
		s = NULL;
		if (store_open(e->dir, NULL, &s) != TDNS_OK)
			_exit(1);
	}
	if (store_begin(s, true, &t) != TDNS_OK ||
	    cache_flush(t, CACHE_FLUSH_NAME, key, klen, LDNS_RR_TYPE_A, &removed) != TDNS_OK ||
	    store_commit(t) != TDNS_OK || removed != 1) {
		if (other)
			_exit(1);
		fail();
	}
	if (other) {
		store_close(s);
		_exit(0);
	}
}

/* Not replayed: once the cache entry changed (a flush here or by another
 * process), after a new local policy (both until the next fresh answer is
 * kept), to a query over TCP or with an EDNS option. */
static void test_replay_not_kept(void **state)
{
	struct env *e = *state;
	struct policy_src src;
	struct tdns_policy *p = NULL;
	uint64_t replays;
	char err[256];
	uint8_t q[512];
	size_t n;

	memset(&src, 0, sizeof(src));
	src.n_default = 1;
	assert_int_equal(policy_build(&src, &p, err, sizeof(err)), TDNS_OK);
	assert_int_equal(policy_box_new(p, &e->policy), TDNS_OK);
	env_resolver(e, 1, 0);
	cache_two(e);
	n = mkquery_bits(7, "www.site.", true, false, false, 1232, false, q);
#define ASK_UDP(tr) resolver_query(e->r, q, n, tr, &e->clients[0], e->out, \
				    sizeof(e->out), &e->out_len)
	assert_int_equal(ASK_UDP(QCTX_UDP), RESOLVER_REPLY);
	replays = resolver_stats(e->r)->replays;
	assert_int_equal(replays, 1);
	/* The entry flushed by this process, then by another (tierdns-zone
	 * delete): asked upstream again, not replayed; the new answer is
	 * kept again. */
	for (int other = 0; other <= 1; other++) {
		uint8_t rep[4096];
		size_t m;

		flush_www(e, other);
		assert_int_equal(ASK_UDP(QCTX_UDP), RESOLVER_DEFER);
		assert_int_equal(e->n_sent, 3 + (size_t)other);
		m = mkreply(&e->sent[e->n_sent - 1], LDNS_RCODE_NOERROR, false, WWW_A, NULL,
			    rep);
		deliver(e, e->n_sent - 1, rep, m);
		assert_int_equal(resolver_stats(e->r)->replays, replays);
		assert_int_equal(ASK_UDP(QCTX_UDP), RESOLVER_REPLY);
		assert_int_equal(resolver_stats(e->r)->replays, ++replays);
	}
	/* A new policy, the same way. */
	p = NULL;
	assert_int_equal(policy_build(&src, &p, err, sizeof(err)), TDNS_OK);
	policy_box_set(e->policy, p);
	assert_int_equal(ASK_UDP(QCTX_UDP), RESOLVER_REPLY);
	assert_int_equal(resolver_stats(e->r)->replays, replays);
	assert_int_equal(ASK_UDP(QCTX_UDP), RESOLVER_REPLY);
	assert_int_equal(resolver_stats(e->r)->replays, ++replays);
	/* Over TCP. */
	assert_int_equal(ASK_UDP(QCTX_TCP), RESOLVER_REPLY);
	assert_int_equal(resolver_stats(e->r)->replays, replays);
	/* With an option (an empty NSID, RFC 5001) after the OPT's fixed
	 * part, which ends the message. */
	memcpy(q + n, "\x00\x03\x00\x00", 4);
	q[n - 1] = 4;
	n += 4;
	assert_int_equal(ASK_UDP(QCTX_UDP), RESOLVER_REPLY);
	assert_int_equal(resolver_stats(e->r)->replays, replays);
#undef ASK_UDP
	assert_int_equal(resolver_stats(e->r)->cache_hits, 7);
	assert_int_equal(e->n_sent, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_miss_then_answer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_random_ids, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prefetch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_coalesce, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spoofs_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout_servfail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout_next_upstream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upstream_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_send_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_formerr_edns_fallback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_odd_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tc_retry_tcp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tc_after_deadline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_static_zone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache_hit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ttl0_uncached, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncation_per_client, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel_and_free, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batched_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uncommitted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_snapshot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_front_door, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_store_still_answers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failover_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dead_upstream_backoff, setup, teardown),
		cmocka_unit_test_setup_teardown(test_all_dead, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rtt_attempt_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failure_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failure_cache_reachability, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failure_cache_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failure_cache_flushed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ede_codes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_servfail_log_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_serve_stale, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_refresh, setup, teardown),
		cmocka_unit_test_setup_teardown(test_0x20, setup, teardown),
		cmocka_unit_test_setup_teardown(test_record_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chase_cname, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chase_after_deadline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chase_outcomes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chase_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chase_hop_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stub_referral_followed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stub_referral_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stub_referral_failover, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chase_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_xfr_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replay_as_fresh, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replay_not_kept, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
