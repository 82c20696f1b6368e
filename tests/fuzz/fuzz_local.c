/*
 * fuzz_local.c - the local tier's query path, resolver_query(): CHAOS, the
 * static zone, the cache, and a miss that goes to a fake upstream (which
 * never answers: the upstream-reply path is fuzz_upstream.c's).
 *
 * The store is seeded once: a static zone (home.arpa.) and cache entries for
 * names under test. (positive, a CNAME chain, NXDOMAIN, NODATA, one already
 * expired) inserted through cache_insert as the daemon would (parsed with
 * msg_parse first, fuzz_cache_insert). Each input
 * gets a fresh resolver, so nothing carries over between inputs; the cache
 * is only read. Bit 0 of the first byte picks UDP or TCP (as fuzz_auth.c).
 * Every reply, and every query sent upstream, must parse; a query answered
 * at once is asked again, and must get the same reply (a cache hit's then
 * from the packet cache, replycache.h: the clock stands still).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "fuzz.h"
#include "tierdns/cache.h"
#include "tierdns/resolve.h"
#include "oracle.h"

/* Kept in step with tests/fuzz/make_corpus.py, which asks these names. */
static const char *const zones[] = {
	"$ORIGIN home.arpa.\n"
	"$TTL 3600\n"
	"@ IN SOA ns admin 1 3600 900 604800 300\n"
	"@ NS ns\n"
	"ns A 192.168.1.1\n"
	"nas A 192.168.1.10\n"
	"nas AAAA fd00::10\n"
	"printer CNAME nas\n"
	"away CNAME cached.test.\n"
	"*.dyn A 192.168.1.99\n"
	"lab NS ns.lab\n"
	"ns.lab A 192.168.2.1\n",
	NULL,
};

/* One upstream reply to cache: question, rcode, answer and authority
 * records (each list ends with NULL), and the time it arrived. */
struct seed {
	const char *qname;
	uint16_t qtype;
	ldns_pkt_rcode rcode;
	const char *an[4];
	const char *ns[2];
	uint64_t at;
};

#define TEST_SOA "test. 3600 IN SOA ns.test. admin.test. 1 3600 900 604800 300"

static const struct seed seeds[] = {
	{ "cached.test.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR,
	  { "cached.test. 300 IN A 192.0.2.1", "cached.test. 300 IN A 192.0.2.2",
	    NULL }, { NULL }, FUZZ_T0 },
	{ "www.test.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR,
	  { "www.test. 600 IN CNAME web.test.", "web.test. 600 IN CNAME host.test.",
	    "host.test. 60 IN A 192.0.2.80", NULL }, { NULL }, FUZZ_T0 },
	{ "nx.test.", LDNS_RR_TYPE_A, LDNS_RCODE_NXDOMAIN, { NULL },
	  { TEST_SOA, NULL }, FUZZ_T0 },
	{ "cached.test.", LDNS_RR_TYPE_AAAA, LDNS_RCODE_NOERROR, { NULL },
	  { TEST_SOA, NULL }, FUZZ_T0 },
	{ "test.", LDNS_RR_TYPE_MX, LDNS_RCODE_NOERROR,
	  { "test. 3600 IN MX 10 mx.test.", "test. 3600 IN MX 20 mx2.test.",
	    NULL }, { NULL }, FUZZ_T0 },
	{ "old.test.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR,
	  { "old.test. 60 IN A 192.0.2.60", NULL }, { NULL }, FUZZ_T0 - 3600 },
};

static ldns_rr *rr_from(const char *text)
{
	ldns_rr *rr = NULL;

	FUZZ_CHECK(ldns_rr_new_frm_str(&rr, text, 0, NULL, NULL) ==
		   LDNS_STATUS_OK);
	return rr;
}

static void seed_cache(struct tdns_store *s)
{
	const struct tdns_cache_cfg cfg = { .max_ttl = 86400,
					    .max_neg_ttl = 3600 };

	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		const struct seed *sd = &seeds[i];
		ldns_rdf *qname = ldns_dname_new_frm_str(sd->qname);
		ldns_pkt *p;

		FUZZ_CHECK(qname != NULL);
		p = ldns_pkt_query_new(ldns_rdf_clone(qname),
				       (ldns_rr_type)sd->qtype, LDNS_RR_CLASS_IN,
				       LDNS_RD);
		FUZZ_CHECK(p != NULL);
		ldns_pkt_set_qr(p, true);
		ldns_pkt_set_ra(p, true);
		ldns_pkt_set_rcode(p, (uint8_t)sd->rcode);
		for (size_t j = 0; sd->an[j] != NULL; j++)
			FUZZ_CHECK(ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER,
						    rr_from(sd->an[j])));
		for (size_t j = 0; sd->ns[j] != NULL; j++)
			FUZZ_CHECK(ldns_pkt_push_rr(p, LDNS_SECTION_AUTHORITY,
						    rr_from(sd->ns[j])));
		FUZZ_CHECK(fuzz_cache_insert(s, &cfg, qname, sd->qtype, p, sd->at) ==
			   TDNS_OK);
		ldns_pkt_free(p);
		ldns_rdf_deep_free(qname);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tdns_store *store;
	static struct fuzz_net net;
	static uint8_t out[WIRE_MAX_MSG], again[WIRE_MAX_MSG];
	struct tdns_resolver *r;
	size_t out_len = 0, again_len = 0;
	bool tcp = size > 0 && (data[0] & 1) != 0;

	if (store == NULL) {
		fuzz_init();
		store = fuzz_store_new(zones);
		seed_cache(store);
	}
	r = fuzz_resolver_new(&net, store, 1, false);
	net.query = data;
	net.query_len = size;
	net.query_tcp = tcp;
	switch (resolver_query(r, data, size, tcp, &net.client, out, sizeof(out),
			       &out_len)) {
	case RESOLVER_REPLY:
		fuzz_check_reply(data, size, out, out_len, tcp);
		FUZZ_CHECK(resolver_query(r, data, size, tcp, &net.client, again, sizeof(again),
					  &again_len) == RESOLVER_REPLY);
		FUZZ_CHECK(again_len == out_len && memcmp(again, out, out_len) == 0);
		break;
	case RESOLVER_DEFER:
		FUZZ_CHECK(net.n_sent == 1 && resolver_outstanding(r) == 1);
		break;
	case RESOLVER_DROP:
		break;
	}
	resolver_free(r);
	/* A deferred client is released exactly once, without an answer. */
	FUZZ_CHECK(net.answers == 0 && net.released <= 1);
	return 0;
}
