/*
 * fuzz_upstream.c - the upstream-reply path of the local tier: a client
 * query misses, the resolver sends it to a fake upstream, and the fuzz input
 * comes back as the upstream's reply (resolver_on_reply: matching of ID and
 * question, rcode handling, TC -> TCP, FORMERR -> no EDNS, the cache's
 * extraction of the CNAME chain and SOA, rendering to the client). The
 * clock is fixed (clock_set_fake), so TTL arithmetic is deterministic.
 *
 * Input: one control byte, then the reply.
 *   bits 0-2  which question the client asks (table below)
 *   bit  3    the client query carries EDNS (payload 1232, DO clear)
 *   bit  4    do NOT patch the reply's ID to the one sent upstream
 *   bit  5    do NOT patch the question: otherwise the reply is the input's
 *             12-byte header (QDCOUNT forced to 1) + the question exactly as
 *             sent upstream + the rest of the input (its answer, authority
 *             and additional sections), so random sections reach the cache
 *   bit  6    the client came over TCP
 *   bit  7    a hardened resolver: 0x20 mixed-case questions (the patched
 *             question is the one sent, so its case matches), serve-stale,
 *             at most 64 records per reply; for question 0, an expired
 *             answer in the cache to be served stale if the reply fails
 * Without the patches almost every input would be dropped at the ID check.
 * The same reply answers every attempt (UDP, TCP retry, next upstream), at
 * most FUZZ_ROUNDS times. Afterwards the same question is asked again, which
 * must be answered from the cache (cache_lookup, cache_value_render) or go
 * upstream again; then the cache is emptied so every input starts equal.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <ldns/ldns.h>

#include "fuzz.h"
#include "tierdns/cache.h"
#include "tierdns/clock.h"
#include "tierdns/resolve.h"
#include "oracle.h"

#define FUZZ_ROUNDS 4
#define CTL_EDNS 0x08
#define CTL_KEEP_ID 0x10
#define CTL_KEEP_Q 0x20
#define CTL_TCP 0x40
#define CTL_HARDENED 0x80
#define CLIENT_ID 0x4242

/* Kept in step with tests/fuzz/make_corpus.py (QUESTIONS there). */
static const struct {
	const char *name;
	ldns_rr_type type;
} questions[8] = {
	{ "www.example.com.", LDNS_RR_TYPE_A },
	{ "example.com.", LDNS_RR_TYPE_MX },
	{ "alias.example.com.", LDNS_RR_TYPE_A },
	{ "example.com.", LDNS_RR_TYPE_ANY },
	{ "nx.example.com.", LDNS_RR_TYPE_A },
	{ "www.example.com.", LDNS_RR_TYPE_AAAA },
	{ "example.com.", LDNS_RR_TYPE_TXT },
	{ "_sip._udp.example.com.", LDNS_RR_TYPE_SRV },
};

static size_t client_query(uint8_t ctl, uint8_t *buf, size_t cap)
{
	ldns_pkt *p;
	uint8_t *w = NULL;
	size_t n = 0;

	p = ldns_pkt_query_new(ldns_dname_new_frm_str(questions[ctl & 7].name),
			       questions[ctl & 7].type, LDNS_RR_CLASS_IN, LDNS_RD);
	FUZZ_CHECK(p != NULL);
	ldns_pkt_set_id(p, CLIENT_ID);
	if ((ctl & CTL_EDNS) != 0)
		ldns_pkt_set_edns_udp_size(p, WIRE_EDNS_OUR_SIZE);
	FUZZ_CHECK(ldns_pkt2wire(&w, p, &n) == LDNS_STATUS_OK && n <= cap);
	memcpy(buf, w, n);
	LDNS_FREE(w);
	ldns_pkt_free(p);
	return n;
}

/* End of the question of a message we built (uncompressed name). */
static size_t question_end(const uint8_t *msg, size_t len)
{
	size_t pos = WIRE_HDR_LEN;

	while (pos < len && msg[pos] != 0)
		pos += 1u + msg[pos];
	pos += 1u + 4u;
	FUZZ_CHECK(pos <= len);
	return pos;
}

static size_t make_reply(uint8_t ctl, const struct fuzz_sent *s,
			 const uint8_t *body, size_t blen, uint8_t *out)
{
	size_t n = blen;

	if ((ctl & CTL_KEEP_Q) == 0 && blen >= WIRE_HDR_LEN) {
		size_t qend = question_end(s->msg, s->len);
		size_t qlen = qend - WIRE_HDR_LEN;

		if (blen + qlen > WIRE_MAX_MSG)
			blen = WIRE_MAX_MSG - qlen;
		memcpy(out, body, WIRE_HDR_LEN);
		out[4] = 0;
		out[5] = 1;
		memcpy(out + WIRE_HDR_LEN, s->msg + WIRE_HDR_LEN, qlen);
		memcpy(out + qend, body + WIRE_HDR_LEN, blen - WIRE_HDR_LEN);
		n = blen + qlen;
	} else {
		memcpy(out, body, n);
	}
	if ((ctl & CTL_KEEP_ID) == 0 && n >= 2)
		memcpy(out, s->msg, 2);
	return n;
}

/*
 * What a client sees is built from what the cache keeps (cache.h), whether
 * it came straight from the upstream or from the cache later: only the
 * CNAME chain that starts at the question name and the RRset of the last
 * name (for ANY: every record owned by the question name), in class IN;
 * in authority at most an SOA that owns the last name or an ancestor of it
 * (RFC 2308 5); nothing in additional but OPT. Anything else in a reply
 * would be poison served to clients (RFC 5452 5, DNSpooq).
 */
static void check_unpoisoned(const uint8_t *msg, size_t len, uint8_t ctl)
{
	ldns_rdf *name = ldns_dname_new_frm_str(questions[ctl & 7].name);
	ldns_rr_type qtype = questions[ctl & 7].type;
	ldns_pkt *p = NULL;
	ldns_rr_list *an, *ns;

	FUZZ_CHECK(name != NULL);
	FUZZ_CHECK(ldns_wire2pkt(&p, msg, len) == LDNS_STATUS_OK);
	an = ldns_pkt_answer(p);
	ns = ldns_pkt_authority(p);
	for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(an, i);
		ldns_rr_type type = ldns_rr_get_type(rr);

		FUZZ_CHECK(ldns_rr_get_class(rr) == LDNS_RR_CLASS_IN);
		FUZZ_CHECK(ldns_dname_compare(ldns_rr_owner(rr), name) == 0);
		if (qtype == LDNS_RR_TYPE_ANY || type == qtype)
			continue;
		/* a CNAME moves the chain on to its target */
		FUZZ_CHECK(type == LDNS_RR_TYPE_CNAME && ldns_rr_rd_count(rr) == 1);
		ldns_rdf_deep_free(name);
		name = ldns_rdf_clone(ldns_rr_rdf(rr, 0));
		FUZZ_CHECK(name != NULL);
	}
	for (size_t i = 0; i < ldns_rr_list_rr_count(ns); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(ns, i);

		FUZZ_CHECK(ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA);
		FUZZ_CHECK(ldns_rr_get_class(rr) == LDNS_RR_CLASS_IN);
		FUZZ_CHECK(ldns_dname_compare(ldns_rr_owner(rr), name) == 0 ||
			   ldns_dname_is_subdomain(name, ldns_rr_owner(rr)));
	}
	/* ldns takes the OPT record out of the additional section */
	FUZZ_CHECK(ldns_rr_list_rr_count(ldns_pkt_additional(p)) == 0);
	ldns_pkt_free(p);
	ldns_rdf_deep_free(name);
}

/* An answer to www.example.com. A that expired an hour ago: with
 * serve-stale (RFC 8767) it is what the client gets if the fuzzed reply
 * fails. */
static void cache_stale(struct tdns_store *s)
{
	const struct tdns_cache_cfg cfg = { .max_ttl = 86400,
					    .max_neg_ttl = 3600 };
	ldns_rdf *qname = ldns_dname_new_frm_str(questions[0].name);
	ldns_rr *rr = NULL;
	ldns_pkt *p;

	FUZZ_CHECK(qname != NULL);
	FUZZ_CHECK(ldns_rr_new_frm_str(&rr, "www.example.com. 60 IN A 192.0.2.99",
				       0, NULL, NULL) == LDNS_STATUS_OK);
	p = ldns_pkt_query_new(ldns_rdf_clone(qname), LDNS_RR_TYPE_A,
			       LDNS_RR_CLASS_IN, LDNS_RD);
	FUZZ_CHECK(p != NULL);
	ldns_pkt_set_qr(p, true);
	FUZZ_CHECK(ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, rr));
	FUZZ_CHECK(fuzz_cache_insert(s, &cfg, qname, LDNS_RR_TYPE_A, p,
				FUZZ_T0 - 3600) == TDNS_OK);
	ldns_pkt_free(p);
	ldns_rdf_deep_free(qname);
}

static void cache_empty(struct tdns_store *s)
{
	struct tdns_txn *t = NULL;
	size_t n;

	FUZZ_CHECK(store_begin(s, false, &t) == TDNS_OK);
	n = cache_count(t);
	store_abort(t);
	if (n == 0)
		return;
	FUZZ_CHECK(store_begin(s, true, &t) == TDNS_OK);
	FUZZ_CHECK(cache_purge(t, clock_now(), SIZE_MAX, NULL) == TDNS_OK);
	FUZZ_CHECK(cache_count(t) == 0);
	FUZZ_CHECK(store_commit(t) == TDNS_OK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tdns_store *store;
	static struct fuzz_net net;
	static uint8_t reply[WIRE_MAX_MSG], out[WIRE_MAX_MSG];
	uint8_t query[512];
	struct tdns_resolver *r;
	struct fuzz_sent *s;
	size_t qlen, out_len = 0;
	uint8_t ctl;
	bool tcp;

	if (size < 1 || size - 1 > WIRE_MAX_MSG)
		return 0;
	if (store == NULL) {
		fuzz_init();
		store = fuzz_store_new(NULL);
	}
	ctl = data[0];
	tcp = (ctl & CTL_TCP) != 0;
	qlen = client_query(ctl, query, sizeof(query));
	if ((ctl & (CTL_HARDENED | 7)) == CTL_HARDENED)
		cache_stale(store);
	r = fuzz_resolver_new(&net, store, 2, (ctl & CTL_HARDENED) != 0);
	net.query = query;
	net.query_len = qlen;
	net.query_tcp = tcp;
	FUZZ_CHECK(resolver_query(r, query, qlen, tcp, &net.client, out,
				  sizeof(out), &out_len) == RESOLVER_DEFER);
	for (int round = 0; round < FUZZ_ROUNDS; round++) {
		s = fuzz_net_open(&net);
		if (s == NULL)
			break;
		resolver_on_reply(r, s->token, reply,
				  make_reply(ctl, s, data + 1, size - 1, reply));
		/* The end of the daemon's loop iteration: cached answers
		 * are committed and sent. */
		resolver_flush(r);
	}
	/* The client is answered at most once, and only when nothing is left
	 * open for it. */
	FUZZ_CHECK(net.answers <= 1);
	FUZZ_CHECK(net.answers == 0 || resolver_outstanding(r) == 0);
	FUZZ_CHECK(net.answers == 1 || resolver_outstanding(r) > 0);
	if (net.answers == 1)
		check_unpoisoned(net.last, net.last_len, ctl);

	/* Ask again: a cache hit must render; a miss goes upstream. */
	if (resolver_outstanding(r) == 0) {
		size_t before = net.answers;

		switch (resolver_query(r, query, qlen, tcp, &net.client, out,
				       sizeof(out), &out_len)) {
		case RESOLVER_REPLY:
			fuzz_check_reply(query, qlen, out, out_len, tcp);
			check_unpoisoned(out, out_len, ctl);
			break;
		case RESOLVER_DEFER:
			break;
		case RESOLVER_DROP:
			fuzz_fail(__FILE__, __LINE__, "a valid query was dropped");
		}
		FUZZ_CHECK(net.answers == before);
	}
	if (fuzz_verbose()) {
		const struct tdns_resolver_stats *st = resolver_stats(r);

		fprintf(stderr,
			"sent %zu ignored %llu failed %llu tcp %llu stored %llu "
			"hits %llu servfail %llu answers %zu\n",
			net.n_sent, (unsigned long long)st->upstream_ignored,
			(unsigned long long)st->upstream_failed,
			(unsigned long long)st->tcp_retries,
			(unsigned long long)st->cache_stored,
			(unsigned long long)st->cache_hits,
			(unsigned long long)st->servfail, net.answers);
	}
	resolver_free(r);
	cache_empty(store);
	return 0;
}
