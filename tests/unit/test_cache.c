/*
 * test_cache.c - the answer cache: what is kept from an upstream reply,
 * TTLs counting down from absolute expiry, negative caching (RFC 2308),
 * TTL 0 and top-bit TTLs, persistence, the expiry index and eviction by
 * it, on a budget and on a full map.
 * Upstream replies are written inline as master-file records and built with
 * ldns; time is a fixed epoch value passed in, never a sleep.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"
#include "tierdns/cache.h"
#include "tierdns/sketch.h"
#include "tierdns/dnsproto.h"
#include "tierdns/encode.h"
#include "tierdns/msg.h"
#include "tierdns/name.h"
#include "tierdns/store.h"
#include "oracle.h"
#include "tierdns/zoneload.h"

#define T0 1700000000u
#define MAXRR 8

static const struct tdns_cache_cfg cfg = { .max_ttl = 3600, .max_neg_ttl = 900 };

#define SOA_SITE "site. 3600 IN SOA ns.site. host.site. 1 7200 900 1209600 300"

struct cache_case {
	const char *what;
	const char *qname;
	uint16_t qtype;
	ldns_pkt_rcode rcode;
	const char *an[MAXRR]; /* upstream reply sections */
	const char *ns[MAXRR];
	const char *ar[MAXRR];
	/* expected: */
	bool cached;           /* cache_insert stores it */
	uint32_t life;         /* seconds until the entry expires */
	const char *want_an[MAXRR]; /* served at T0, TTLs as at T0 */
	const char *want_ns[MAXRR];
};

static const struct cache_case cases[] = {
	{ "positive A RRset", "www.site.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR,
	  { "www.site. 300 IN A 192.0.2.1", "www.site. 300 IN A 192.0.2.2" },
	  { 0 }, { 0 }, true, 300,
	  { "www.site. 300 IN A 192.0.2.1", "www.site. 300 IN A 192.0.2.2" },
	  { 0 } },
	{ "RFC 2181 5.2: one TTL per RRset, the smallest", "www.site.",
	  LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR,
	  { "www.site. 300 IN A 192.0.2.1", "www.site. 100 IN A 192.0.2.2" },
	  { 0 }, { 0 }, true, 100,
	  { "www.site. 100 IN A 192.0.2.1", "www.site. 100 IN A 192.0.2.2" },
	  { 0 } },
	{ "CNAME chain: per-record TTLs, entry lives as the shortest",
	  "alias.site.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR,
	  { "alias.site. 600 IN CNAME mid.site.", "mid.site. 500 IN CNAME www.site.",
	    "www.site. 300 IN A 192.0.2.1" },
	  { 0 }, { 0 }, true, 300,
	  { "alias.site. 600 IN CNAME mid.site.", "mid.site. 500 IN CNAME www.site.",
	    "www.site. 300 IN A 192.0.2.1" },
	  { 0 } },
	{ "chain in any order in the answer section", "alias.site.",
	  LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR,
	  { "www.site. 300 IN A 192.0.2.1", "alias.site. 600 IN CNAME www.site." },
	  { 0 }, { 0 }, true, 300,
	  { "alias.site. 600 IN CNAME www.site.", "www.site. 300 IN A 192.0.2.1" },
	  { 0 } },
	{ "qtype CNAME: the CNAME is the answer", "alias.site.",
	  LDNS_RR_TYPE_CNAME, LDNS_RCODE_NOERROR,
	  { "alias.site. 600 IN CNAME www.site.", "www.site. 300 IN A 192.0.2.1" },
	  { 0 }, { 0 }, true, 600,
	  { "alias.site. 600 IN CNAME www.site." }, { 0 } },
	{ "poisoning: unrelated answer, authority NS and glue discarded",
	  "www.site.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR,
	  { "www.site. 300 IN A 192.0.2.1", "evil.example. 300 IN A 203.0.113.66",
	    "www.site. 300 IN MX 10 mail.evil.example." },
	  { "site. 300 IN NS ns.evil.example." },
	  { "ns.evil.example. 300 IN A 203.0.113.66" },
	  true, 300, { "www.site. 300 IN A 192.0.2.1" }, { 0 } },
	{ "poisoning: A record not owned by the CNAME target", "alias.site.",
	  LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR,
	  { "alias.site. 600 IN CNAME www.site.", "other.site. 300 IN A 203.0.113.66" },
	  { 0 }, { 0 }, false, 0, { "alias.site. 600 IN CNAME www.site." }, { 0 } },
	{ "RFC 2308 5: NXDOMAIN cached for min(SOA TTL, MINIMUM)", "nosuch.site.",
	  LDNS_RR_TYPE_A, LDNS_RCODE_NXDOMAIN, { 0 }, { SOA_SITE }, { 0 },
	  true, 300, { 0 },
	  { "site. 300 IN SOA ns.site. host.site. 1 7200 900 1209600 300" } },
	{ "NODATA: SOA TTL below MINIMUM wins", "www.site.", LDNS_RR_TYPE_AAAA,
	  LDNS_RCODE_NOERROR, { 0 },
	  { "site. 60 IN SOA ns.site. host.site. 1 7200 900 1209600 300" }, { 0 },
	  true, 60, { 0 },
	  { "site. 60 IN SOA ns.site. host.site. 1 7200 900 1209600 300" } },
	{ "negative TTL capped by max_neg_ttl", "nosuch.site.", LDNS_RR_TYPE_A,
	  LDNS_RCODE_NXDOMAIN, { 0 },
	  { "site. 86400 IN SOA ns.site. host.site. 1 7200 900 1209600 86400" },
	  { 0 }, true, 900, { 0 },
	  { "site. 900 IN SOA ns.site. host.site. 1 7200 900 1209600 86400" } },
	{ "positive TTL capped by max_ttl", "www.site.", LDNS_RR_TYPE_A,
	  LDNS_RCODE_NOERROR, { "www.site. 1000000 IN A 192.0.2.1" }, { 0 }, { 0 },
	  true, 3600, { "www.site. 3600 IN A 192.0.2.1" }, { 0 } },
	{ "NXDOMAIN at the end of a CNAME chain", "alias.site.", LDNS_RR_TYPE_A,
	  LDNS_RCODE_NXDOMAIN, { "alias.site. 600 IN CNAME gone.site." },
	  { SOA_SITE, "site. 300 IN NS ns.evil.example." }, { 0 }, true, 300,
	  { "alias.site. 600 IN CNAME gone.site." },
	  { "site. 300 IN SOA ns.site. host.site. 1 7200 900 1209600 300" } },
	{ "NODATA at the end of a CNAME chain", "alias.site.", LDNS_RR_TYPE_AAAA,
	  LDNS_RCODE_NOERROR, { "alias.site. 600 IN CNAME www.site." },
	  { "site. 120 IN SOA ns.site. host.site. 1 7200 900 1209600 300" }, { 0 },
	  true, 120, { "alias.site. 600 IN CNAME www.site." },
	  { "site. 120 IN SOA ns.site. host.site. 1 7200 900 1209600 300" } },
	{ "NXDOMAIN with the SOA of a zone below the name: not cached",
	  "nosuch.site.", LDNS_RR_TYPE_A, LDNS_RCODE_NXDOMAIN, { 0 },
	  { "deep.nosuch.site. 300 IN SOA ns.site. host.site. 1 2 3 4 300" },
	  { 0 }, false, 0, { 0 }, { 0 } },
	{ "NXDOMAIN with the root SOA (an ancestor): cached", "nosuch.test.",
	  LDNS_RR_TYPE_A, LDNS_RCODE_NXDOMAIN, { 0 },
	  { ". 86400 IN SOA a.root. nstld.root. 1 1800 900 604800 86400" },
	  { 0 }, true, 900, { 0 },
	  { ". 900 IN SOA a.root. nstld.root. 1 1800 900 604800 86400" } },
	{ "TTL 0 answered, not cached", "www.site.", LDNS_RR_TYPE_A,
	  LDNS_RCODE_NOERROR, { "www.site. 0 IN A 192.0.2.1" }, { 0 }, { 0 },
	  false, 0, { "www.site. 0 IN A 192.0.2.1" }, { 0 } },
	{ "TTL 0 on a CNAME of the chain: not cached", "alias.site.",
	  LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR,
	  { "alias.site. 0 IN CNAME www.site.", "www.site. 300 IN A 192.0.2.1" },
	  { 0 }, { 0 }, false, 0,
	  { "alias.site. 0 IN CNAME www.site.", "www.site. 300 IN A 192.0.2.1" },
	  { 0 } },
	{ "negative with SOA MINIMUM 0: not cached", "nosuch.site.",
	  LDNS_RR_TYPE_A, LDNS_RCODE_NXDOMAIN, { 0 },
	  { "site. 300 IN SOA ns.site. host.site. 1 7200 900 1209600 0" }, { 0 },
	  false, 0, { 0 },
	  { "site. 0 IN SOA ns.site. host.site. 1 7200 900 1209600 0" } },
	{ "NXDOMAIN without SOA: not cached (RFC 2308 5)", "nosuch.site.",
	  LDNS_RR_TYPE_A, LDNS_RCODE_NXDOMAIN, { 0 }, { 0 }, { 0 }, false, 0,
	  { 0 }, { 0 } },
	{ "NXDOMAIN with the SOA of an unrelated zone: not cached",
	  "nosuch.site.", LDNS_RR_TYPE_A, LDNS_RCODE_NXDOMAIN, { 0 },
	  { "evil.example. 300 IN SOA ns.evil.example. h.evil.example. 1 2 3 4 300" },
	  { 0 }, false, 0, { 0 }, { 0 } },
	{ "two CNAMEs at one name (RFC 2181 10.1): not cached", "alias.site.",
	  LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR,
	  { "alias.site. 600 IN CNAME www.site.", "alias.site. 600 IN CNAME evil.site.",
	    "www.site. 300 IN A 192.0.2.1" },
	  { 0 }, { 0 }, false, 0, { 0 }, { 0 } },
	{ "CNAME loop: not cached", "a.site.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR,
	  { "a.site. 600 IN CNAME b.site.", "b.site. 600 IN CNAME a.site." },
	  { 0 }, { 0 }, false, 0, { 0 }, { 0 } },
	{ "names match case-insensitively, owner case kept", "WwW.SiTe.",
	  LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, { "www.SITE. 300 IN A 192.0.2.1" },
	  { 0 }, { 0 }, true, 300, { "www.SITE. 300 IN A 192.0.2.1" }, { 0 } },
};

/* ---- helpers ---- */

static ldns_rr *rr_from(const char *text)
{
	ldns_rr *rr = NULL;

	if (ldns_rr_new_frm_str(&rr, text, 0, NULL, NULL) != LDNS_STATUS_OK)
		fail_msg("bad record in test table: %s", text);
	return rr;
}

static ldns_rdf *dname(const char *text)
{
	ldns_rdf *d = ldns_dname_new_frm_str(text);

	assert_non_null(d);
	return d;
}

/* An upstream reply as ldns would parse it off the wire. */
static ldns_pkt *mkreply(const char *qname, uint16_t qtype, ldns_pkt_rcode rcode,
			 const char *const *an, const char *const *ns,
			 const char *const *ar)
{
	ldns_pkt *p = ldns_pkt_query_new(dname(qname), (ldns_rr_type)qtype,
					 LDNS_RR_CLASS_IN, LDNS_QR | LDNS_RD | LDNS_RA);

	assert_non_null(p);
	ldns_pkt_set_rcode(p, (uint8_t)rcode);
	for (int i = 0; i < MAXRR && an && an[i]; i++)
		assert_true(ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, rr_from(an[i])));
	for (int i = 0; i < MAXRR && ns && ns[i]; i++)
		assert_true(ldns_pkt_push_rr(p, LDNS_SECTION_AUTHORITY, rr_from(ns[i])));
	for (int i = 0; i < MAXRR && ar && ar[i]; i++)
		assert_true(ldns_pkt_push_rr(p, LDNS_SECTION_ADDITIONAL, rr_from(ar[i])));
	return p;
}

/* Compare a section with the expected records, each TTL minus `elapsed`. */
static void check_section(const ldns_rr_list *got, const char *const *want,
			  uint32_t elapsed, const char *what)
{
	size_t n = 0;

	while (n < MAXRR && want[n] != NULL)
		n++;
	if (ldns_rr_list_rr_count(got) != n)
		fail_msg("%s: %zu records, want %zu", what,
			 ldns_rr_list_rr_count(got), n);
	for (size_t i = 0; i < n; i++) {
		ldns_rr *w = rr_from(want[i]);
		char *ws, *gs;

		ldns_rr_set_ttl(w, ldns_rr_ttl(w) - elapsed);
		ws = ldns_rr2str(w);
		gs = ldns_rr2str(ldns_rr_list_rr(got, i));
		if (strcmp(ws, gs) != 0)
			fail_msg("%s: record %zu is\n  %s want\n  %s", what, i, gs, ws);
		free(ws);
		free(gs);
		ldns_rr_free(w);
	}
}

static void qkey_of(const char *name, uint8_t *key, size_t *len)
{
	ldns_rdf *d = dname(name);

	assert_int_equal(name_key_from_wire(ldns_rdf_data(d), ldns_rdf_size(d),
					    key, len), TDNS_OK);
	ldns_rdf_deep_free(d);
}

/* Look (name, type) up at time now into a fresh packet. */
static enum tdns_status lookup(struct tdns_store *s, const char *name,
			       uint16_t type, uint64_t now, ldns_pkt **out)
{
	uint8_t key[NAME_KEY_MAX];
	size_t klen;
	struct tdns_txn *t = NULL;
	enum tdns_status st;

	qkey_of(name, key, &klen);
	*out = ldns_pkt_new();
	assert_non_null(*out);
	assert_int_equal(store_begin(s, false, &t), TDNS_OK);
	st = cache_lookup(t, key, klen, type, now, *out);
	store_abort(t);
	return st;
}

/* lookup for its status only. */
static enum tdns_status lookup_status(struct tdns_store *s, const char *name,
				      uint16_t type, uint64_t now)
{
	ldns_pkt *got = NULL;
	enum tdns_status st = lookup(s, name, type, now, &got);

	ldns_pkt_free(got);
	return st;
}

/* What a fresh read transaction sees: the entries cached and the id of
 * the last commit. */
struct snap {
	size_t count;
	uint64_t txn;
};

static struct snap snap_of(struct tdns_store *s)
{
	struct tdns_txn *t = NULL;
	struct snap n;

	assert_int_equal(store_begin(s, false, &t), TDNS_OK);
	n.count = cache_count(t);
	n.txn = store_txn_id(t);
	store_abort(t);
	return n;
}

/* The expiry of a stored value as cache.h defines it (0 if unreadable). */
static uint64_t entry_expiry(const struct tdns_val *v)
{
	if (v->len < 14 || v->data[0] != CACHE_VALUE_VERSION)
		return 0;
	return dns_rd64(v->data + 2);
}

/* The cache key of rkey (store.h `cache`: the high half of dns_key_hash
 * of its name key, the record key less 0 and the type, under cache.c's
 * fixed seed, network order, || rkey), as the tests here build it;
 * test_cache_key_known pins the hash to fixed values. */
static size_t ckey_of(const uint8_t *rkey, size_t rlen, uint8_t *out)
{
	dns_wr32(out, (uint32_t)(dns_key_hash(0x63616368656b6579ull, rkey, rlen - 3) >> 32));
	memcpy(out + 4, rkey, rlen);
	return 4 + rlen;
}

/* The expiry index agrees with the cache: every cache entry has an index
 * entry (its expiry || its key), every index entry names a cache entry of
 * that expiry, both hold as many (so exactly one each), and the size
 * account is the sum of the cache's keys and values. Every cache key is
 * the record key under its name's hash (ckey_of). Returns the number of cache
 * entries. */
static size_t check_index(struct tdns_store *s)
{
	uint8_t ik[8 + RECORD_KEY_MAX], ck[4 + RECORD_KEY_MAX];
	struct tdns_txn *t = NULL;
	struct tdns_cursor *c = NULL;
	struct tdns_val k, v, iv;
	uint64_t sum = 0;
	size_t n = 0, ni = 0;
	enum tdns_status st;

	assert_int_equal(store_begin(s, false, &t), TDNS_OK);
	assert_int_equal(store_cursor_open(t, TDNS_DB_CACHE, &c), TDNS_OK);
	for (st = store_cursor_seek(c, NULL, 0, &k, &v); st == TDNS_OK;
	     st = store_cursor_next(c, &k, &v)) {
		assert_true(k.len > 4 && k.len <= 4 + RECORD_KEY_MAX);
		assert_int_equal(ckey_of(k.data + 4, k.len - 4, ck), k.len);
		assert_memory_equal(ck, k.data, 4);
		dns_wr64(ik, entry_expiry(&v));
		memcpy(ik + 8, k.data + 4, k.len - 4);
		if (store_get(t, TDNS_DB_CACHE_EXP, ik, 8 + k.len - 4, &iv) != TDNS_OK)
			fail_msg("cache entry %zu (expiry %llu) is not indexed", n,
				 (unsigned long long)entry_expiry(&v));
		sum += k.len + v.len;
		n++;
	}
	assert_int_equal(st, TDNS_ENOTFOUND);
	store_cursor_close(c);
	assert_int_equal(store_cursor_open(t, TDNS_DB_CACHE_EXP, &c), TDNS_OK);
	for (st = store_cursor_seek(c, NULL, 0, &k, &iv); st == TDNS_OK;
	     st = store_cursor_next(c, &k, &iv)) {
		assert_true(k.len > 8);
		if (store_get(t, TDNS_DB_CACHE, ck, ckey_of(k.data + 8, k.len - 8, ck),
			      &v) != TDNS_OK)
			fail_msg("index entry %zu names no cache entry", ni);
		assert_int_equal(entry_expiry(&v), dns_rd64(k.data));
		ni++;
	}
	assert_int_equal(st, TDNS_ENOTFOUND);
	assert_int_equal(ni, n);
	assert_int_equal(cache_count(t), n);
	assert_int_equal(cache_bytes(t), sum);
	store_cursor_close(c);
	store_abort(t);
	return n;
}

struct fixture {
	char dir[64];
	struct tdns_store *s;
};

static struct tdns_store *open_store(const char *dir, size_t map)
{
	struct tdns_store_opts o = { .map_size = map, .flags = STORE_NOSYNC };
	struct tdns_store *s = NULL;

	assert_int_equal(store_open(dir, &o, &s), TDNS_OK);
	return s;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	tu_tmpdir(f->dir);
	f->s = open_store(f->dir, 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	store_close(f->s);
	tu_rmdir(f->dir);
	free(f);
	return 0;
}

/* ---- tests ---- */

static void test_table(void **state)
{
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct cache_case *c = &cases[i];
		ldns_pkt *resp = mkreply(c->qname, c->qtype, c->rcode, c->an, c->ns,
					 c->ar);
		ldns_rdf *qn = dname(c->qname);
		struct tdns_cache_value v;
		ldns_pkt *got = ldns_pkt_new();
		enum tdns_status st;

		print_message("case: %s\n", c->what);
		/* What the waiting clients are answered with, cached or not. */
		assert_int_equal(tu_cache_value_build(&cfg, qn, c->qtype, resp, T0, &v),
				 TDNS_OK);
		assert_int_equal(v.cacheable, c->cached);
		assert_int_equal(cache_value_render(v.data, v.len, T0, got), TDNS_OK);
		assert_int_equal(ldns_pkt_get_rcode(got), c->rcode);
		if (c->cached || c->want_an[0] || c->want_ns[0]) {
			check_section(ldns_pkt_answer(got), c->want_an, 0, c->what);
			check_section(ldns_pkt_authority(got), c->want_ns, 0, c->what);
		}
		assert_int_equal(ldns_pkt_arcount(got), 0);
		ldns_pkt_free(got);
		cache_value_clear(&v);

		st = tu_cache_insert(f->s, &cfg, qn, c->qtype, resp, T0);
		assert_int_equal(st, c->cached ? TDNS_OK : TDNS_ENOTFOUND);
		assert_int_equal(check_index(f->s), c->cached ? 1 : 0);
		if (c->cached) {
			/* At T0, 10 s later, the last second, then expired. */
			uint32_t at[] = { 0, 10, c->life - 1 };

			for (size_t k = 0; k < 3; k++) {
				assert_int_equal(lookup(f->s, c->qname, c->qtype,
							T0 + at[k], &got),
						 TDNS_OK);
				assert_int_equal(ldns_pkt_get_rcode(got), c->rcode);
				check_section(ldns_pkt_answer(got), c->want_an,
					      at[k], c->what);
				check_section(ldns_pkt_authority(got), c->want_ns,
					      at[k], c->what);
				ldns_pkt_free(got);
			}
			assert_int_equal(lookup_status(f->s, c->qname, c->qtype, T0 + c->life),
					 TDNS_ENOTFOUND);
		} else {
			assert_int_equal(lookup_status(f->s, c->qname, c->qtype, T0),
					 TDNS_ENOTFOUND);
		}
		/* Nothing but the question's own entry is ever written. */
		assert_int_equal(snap_of(f->s).count, c->cached ? 1 : 0);
		{
			struct tdns_txn *t = NULL;

			assert_int_equal(store_begin(f->s, true, &t), TDNS_OK);
			assert_int_equal(cache_purge(t, UINT64_MAX - 1, 0, NULL),
					 TDNS_OK);
			assert_int_equal(store_commit(t), TDNS_OK);
			assert_int_equal(check_index(f->s), 0);
		}
		ldns_rdf_deep_free(qn);
		ldns_pkt_free(resp);
	}
}

static void test_poison_not_reachable(void **state)
{
	struct fixture *f = *state;
	const char *an[] = { "www.site. 300 IN A 192.0.2.1",
			     "evil.example. 300 IN A 203.0.113.66", NULL };
	const char *ns[] = { "site. 300 IN NS ns.evil.example.", NULL };
	const char *ar[] = { "ns.evil.example. 300 IN A 203.0.113.66", NULL };
	ldns_pkt *resp = mkreply("www.site.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR,
				 an, ns, ar);
	ldns_rdf *qn = dname("www.site.");

	assert_int_equal(tu_cache_insert(f->s, &cfg, qn, LDNS_RR_TYPE_A, resp, T0),
			 TDNS_OK);
	assert_int_equal(lookup_status(f->s, "evil.example.", LDNS_RR_TYPE_A, T0),
			 TDNS_ENOTFOUND);
	assert_int_equal(lookup_status(f->s, "ns.evil.example.", LDNS_RR_TYPE_A, T0),
			 TDNS_ENOTFOUND);
	assert_int_equal(lookup_status(f->s, "site.", LDNS_RR_TYPE_NS, T0),
			 TDNS_ENOTFOUND);
	assert_int_equal(snap_of(f->s).count, 1);
	ldns_rdf_deep_free(qn);
	ldns_pkt_free(resp);
}

/* RFC 2181 8: a TTL with the top bit set means 0: answered, not cached. */
static void test_top_bit_ttl(void **state)
{
	struct fixture *f = *state;
	const char *an[] = { "www.site. 300 IN A 192.0.2.1", NULL };
	ldns_pkt *resp = mkreply("www.site.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR,
				 an, NULL, NULL);
	ldns_rdf *qn = dname("www.site.");
	struct tdns_cache_value v;
	ldns_pkt *got = ldns_pkt_new();

	ldns_rr_set_ttl(ldns_rr_list_rr(ldns_pkt_answer(resp), 0), 0x80000100u);
	assert_int_equal(tu_cache_value_build(&cfg, qn, LDNS_RR_TYPE_A, resp, T0, &v),
			 TDNS_OK);
	assert_false(v.cacheable);
	assert_int_equal(cache_value_render(v.data, v.len, T0, got), TDNS_OK);
	assert_int_equal(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(got), 0)), 0);
	assert_int_equal(tu_cache_insert(f->s, &cfg, qn, LDNS_RR_TYPE_A, resp, T0),
			 TDNS_ENOTFOUND);
	assert_int_equal(snap_of(f->s).count, 0);
	cache_value_clear(&v);
	ldns_pkt_free(got);
	ldns_rdf_deep_free(qn);
	ldns_pkt_free(resp);
}

/* Only NOERROR and NXDOMAIN are cache material. */
static void test_refused_inputs(void **state)
{
	const char *an[] = { "www.site. 300 IN A 192.0.2.1", NULL };
	ldns_pkt_rcode bad[] = { LDNS_RCODE_SERVFAIL, LDNS_RCODE_REFUSED,
				 LDNS_RCODE_FORMERR, LDNS_RCODE_NOTIMPL };
	ldns_rdf *qn = dname("www.site.");
	struct tdns_cache_value v;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ldns_pkt *resp = mkreply("www.site.", LDNS_RR_TYPE_A, bad[i], an,
					 NULL, NULL);

		assert_int_equal(tu_cache_value_build(&cfg, qn, LDNS_RR_TYPE_A, resp,
						   T0, &v),
				 TDNS_EINVAL);
		assert_null(v.data);
		ldns_pkt_free(resp);
	}
	ldns_rdf_deep_free(qn);
}

/* Names compressed the way servers write them (ldns_pkt2wire: owners and
 * the names in rdata point back into the message) give the very value the
 * same reply written uncompressed gives: every name in it stands alone. */
static void test_compressed_reply(void **state)
{
	static const struct {
		const char *qname;
		uint16_t qtype;
		ldns_pkt_rcode rcode;
		const char *an[4], *ns[3];
	} rows[] = {
		{ "alias.site.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR,
		  { "alias.site. 600 IN CNAME www.site.", "www.site. 300 IN A 192.0.2.1",
		    "www.site. 300 IN A 192.0.2.2", NULL },
		  { "site. 300 IN NS ns.site.", NULL } },
		{ "site.", LDNS_RR_TYPE_MX, LDNS_RCODE_NOERROR,
		  { "site. 300 IN MX 10 mail.site.", "site. 300 IN MX 20 mx2.mail.site.", NULL },
		  { NULL } },
		{ "_sip._udp.site.", LDNS_RR_TYPE_SRV, LDNS_RCODE_NOERROR,
		  { "_sip._udp.site. 300 IN SRV 0 5 5060 sip.site.", NULL }, { NULL } },
		{ "nosuch.site.", LDNS_RR_TYPE_A, LDNS_RCODE_NXDOMAIN, { NULL },
		  { "site. 300 IN SOA ns.site. host.site. 1 7200 900 1209600 300", NULL } },
		{ "a.b.site.", LDNS_RR_TYPE_NS, LDNS_RCODE_NOERROR,
		  { "a.b.site. 300 IN NS ns1.a.b.site.", "a.b.site. 300 IN NS ns2.b.site.", NULL },
		  { NULL } },
	};
	static struct tdns_msg m;

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		ldns_pkt *resp = mkreply(rows[i].qname, rows[i].qtype, rows[i].rcode,
					 rows[i].an, rows[i].ns, NULL);
		ldns_rdf *qn = dname(rows[i].qname);
		struct tdns_cache_value plain, packed;
		uint8_t *wire = NULL;
		size_t n = 0;
		bool pointers = false;

		assert_int_equal(tu_cache_value_build(&cfg, qn, rows[i].qtype, resp,
						      T0, &plain),
				 TDNS_OK);
		assert_int_equal(ldns_pkt2wire(&wire, resp, &n), LDNS_STATUS_OK);
		assert_int_equal(msg_parse(&m, wire, n), MSG_OK);
		for (size_t k = 0; k < (size_t)m.ancount + m.nscount; k++)
			pointers |= (m.rr[k].flags & MSG_RR_COMPRESSED) != 0 ||
				    msg_name_skip(&m, m.rr[k].owner) - m.rr[k].owner !=
					    m.rr[k].owner_len;
		assert_true(pointers);
		assert_int_equal(cache_value_build(&cfg, ldns_rdf_data(qn),
						   ldns_rdf_size(qn), rows[i].qtype,
						   &m, T0, &packed),
				 TDNS_OK);
		assert_int_equal(packed.len, plain.len);
		assert_memory_equal(packed.data, plain.data, plain.len);
		assert_int_equal(packed.cacheable, plain.cacheable);
		cache_value_clear(&plain);
		cache_value_clear(&packed);
		free(wire);
		ldns_rdf_deep_free(qn);
		ldns_pkt_free(resp);
	}
}

/* ANY (RFC 8482): the records at the name, each RRset with its own TTL,
 * answered but never cached; nothing from other names. */
static void test_any_passed_through(void **state)
{
	struct fixture *f = *state;
	const char *an[] = { "site. 300 IN MX 10 mail.site.",
			     "site. 60 IN TXT \"v=spf1 -all\"",
			     "other.site. 300 IN A 203.0.113.66", NULL };
	const char *want[MAXRR] = { "site. 300 IN MX 10 mail.site.",
				    "site. 60 IN TXT \"v=spf1 -all\"" };
	ldns_pkt *resp = mkreply("site.", LDNS_RR_TYPE_ANY, LDNS_RCODE_NOERROR, an,
				 NULL, NULL);
	ldns_rdf *qn = dname("site.");
	ldns_pkt *got = ldns_pkt_new();
	struct tdns_cache_value v;

	assert_int_equal(tu_cache_value_build(&cfg, qn, LDNS_RR_TYPE_ANY, resp, T0, &v),
			 TDNS_OK);
	assert_false(v.cacheable);
	assert_int_equal(cache_value_render(v.data, v.len, T0, got), TDNS_OK);
	check_section(ldns_pkt_answer(got), want, 0, "ANY");
	assert_int_equal(tu_cache_insert(f->s, &cfg, qn, LDNS_RR_TYPE_ANY, resp, T0),
			 TDNS_ENOTFOUND);
	assert_int_equal(snap_of(f->s).count, 0);
	cache_value_clear(&v);
	ldns_pkt_free(got);
	ldns_rdf_deep_free(qn);
	ldns_pkt_free(resp);
}

/* A lookup by the lower-case key finds an entry stored under any case;
 * the type is part of the key. */
static void test_case_and_type(void **state)
{
	struct fixture *f = *state;
	const char *an[] = { "WWW.Site. 300 IN A 192.0.2.1", NULL };
	ldns_pkt *resp = mkreply("WWW.Site.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR,
				 an, NULL, NULL);
	ldns_rdf *qn = dname("WWW.Site.");
	ldns_pkt *got = NULL;

	assert_int_equal(tu_cache_insert(f->s, &cfg, qn, LDNS_RR_TYPE_A, resp, T0),
			 TDNS_OK);
	assert_int_equal(lookup(f->s, "www.site.", LDNS_RR_TYPE_A, T0 + 5, &got),
			 TDNS_OK);
	assert_int_equal(ldns_pkt_ancount(got), 1);
	{
		char *s = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_answer(got), 0)));

		assert_string_equal(s, "WWW.Site.");
		free(s);
	}
	ldns_pkt_free(got);
	assert_int_equal(lookup_status(f->s, "www.site.", LDNS_RR_TYPE_AAAA, T0),
			 TDNS_ENOTFOUND);
	ldns_rdf_deep_free(qn);
	ldns_pkt_free(resp);
}

/* The cache is in LMDB: closing and reopening the store keeps it, with
 * TTLs still counting down from the same absolute expiry. */
static void test_survives_reopen(void **state)
{
	struct fixture *f = *state;
	const char *an[] = { "www.site. 300 IN A 192.0.2.1", NULL };
	const char *want[MAXRR] = { "www.site. 300 IN A 192.0.2.1" };
	ldns_pkt *resp = mkreply("www.site.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR,
				 an, NULL, NULL);
	ldns_rdf *qn = dname("www.site.");
	ldns_pkt *got = NULL;

	assert_int_equal(tu_cache_insert(f->s, &cfg, qn, LDNS_RR_TYPE_A, resp, T0),
			 TDNS_OK);
	store_close(f->s);
	f->s = open_store(f->dir, 0);
	assert_int_equal(check_index(f->s), 1);
	assert_int_equal(lookup(f->s, "www.site.", LDNS_RR_TYPE_A, T0 + 42, &got),
			 TDNS_OK);
	check_section(ldns_pkt_answer(got), want, 42, "after reopen");
	ldns_pkt_free(got);
	ldns_rdf_deep_free(qn);
	ldns_pkt_free(resp);
}

/* A corrupt value is reported, never crashes and never half-renders. */
static void test_corrupt_value(void **state)
{
	struct fixture *f = *state;
	uint8_t key[NAME_KEY_MAX], rkey[RECORD_KEY_MAX], ck[4 + RECORD_KEY_MAX];
	uint8_t val[] = { CACHE_VALUE_VERSION, 0, 0xff, 0xff, 0xff, 0xff, 0xff,
			  0xff, 0xff, 0xff, 0, 1, 0, 0, 3, 'w', 0, 0, 1, 0x2c, 'w', 'w' };
	size_t klen, rlen;
	struct tdns_txn *t = NULL;
	ldns_pkt *got = NULL;

	qkey_of("www.site.", key, &klen);
	rlen = name_record_key(key, klen, LDNS_RR_TYPE_A, rkey);
	assert_int_equal(store_begin(f->s, true, &t), TDNS_OK);
	assert_int_equal(store_put(t, TDNS_DB_CACHE, ck, ckey_of(rkey, rlen, ck), val,
				   sizeof(val)),
			 TDNS_OK);
	assert_int_equal(store_commit(t), TDNS_OK);
	assert_int_equal(lookup_status(f->s, "www.site.", LDNS_RR_TYPE_A, T0),
			 TDNS_EINVAL);
	/* Truncated at every length: never a crash, never success. */
	for (size_t n = 0; n < sizeof(val); n++) {
		got = ldns_pkt_new();
		assert_int_not_equal(cache_value_render(val, n, T0, got), TDNS_OK);
		ldns_pkt_free(got);
	}
}

static void test_dump(void **state)
{
	struct fixture *f = *state;
	const char *an[] = { "alias.site. 600 IN CNAME www.site.",
			     "www.site. 300 IN A 192.0.2.1", NULL };
	const char *ns[] = { SOA_SITE, NULL };
	const char *an2[] = { "old.site. 5 IN A 192.0.2.9", NULL };
	ldns_pkt *r1 = mkreply("alias.site.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR,
			       an, NULL, NULL);
	ldns_pkt *r2 = mkreply("nosuch.site.", LDNS_RR_TYPE_A, LDNS_RCODE_NXDOMAIN,
			       NULL, ns, NULL);
	ldns_pkt *r3 = mkreply("old.site.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR,
			       an2, NULL, NULL);
	ldns_rdf *q1 = dname("alias.site."), *q2 = dname("nosuch.site."),
		 *q3 = dname("old.site.");
	struct tdns_txn *t = NULL;
	char *text = NULL;
	size_t len = 0;
	FILE *out;

	assert_int_equal(tu_cache_insert(f->s, &cfg, q1, LDNS_RR_TYPE_A, r1, T0), TDNS_OK);
	assert_int_equal(tu_cache_insert(f->s, &cfg, q2, LDNS_RR_TYPE_A, r2, T0), TDNS_OK);
	assert_int_equal(tu_cache_insert(f->s, &cfg, q3, LDNS_RR_TYPE_A, r3, T0), TDNS_OK);
	out = open_memstream(&text, &len);
	assert_non_null(out);
	assert_int_equal(store_begin(f->s, false, &t), TDNS_OK);
	assert_int_equal(cache_dump(t, T0 + 10, out), TDNS_OK);
	store_abort(t);
	fclose(out);
	print_message("%s", text);
	assert_non_null(strstr(text, "alias.site.\t590\tIN\tCNAME\twww.site.\n"));
	assert_non_null(strstr(text, "www.site.\t290\tIN\tA\t192.0.2.1\n"));
	assert_non_null(strstr(text, "; nosuch.site. A NXDOMAIN"));
	assert_non_null(strstr(text, "site.\t290\tIN\tSOA\t"));
	assert_null(strstr(text, "old.site")); /* expired at T0 + 5 */
	assert_non_null(strstr(text, "; 2 cached entries\n"));
	free(text);
	ldns_rdf_deep_free(q1);
	ldns_rdf_deep_free(q2);
	ldns_rdf_deep_free(q3);
	ldns_pkt_free(r1);
	ldns_pkt_free(r2);
	ldns_pkt_free(r3);
}

/* Purge: expired entries first, then the soonest-expiring ones. */
static void test_purge_order(void **state)
{
	struct fixture *f = *state;
	const uint32_t ttls[] = { 50, 400, 100, 300, 200 };
	char name[32], rr[64];
	struct tdns_txn *t = NULL;
	size_t evicted = 0;

	for (size_t i = 0; i < 5; i++) {
		const char *an[2] = { rr, NULL };
		ldns_pkt *resp;
		ldns_rdf *qn;

		snprintf(name, sizeof(name), "n%zu.site.", i);
		snprintf(rr, sizeof(rr), "%s %u IN A 192.0.2.%zu", name, ttls[i], i);
		resp = mkreply(name, LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, an, NULL, NULL);
		qn = dname(name);
		assert_int_equal(tu_cache_insert(f->s, &cfg, qn, LDNS_RR_TYPE_A, resp, T0),
				 TDNS_OK);
		assert_int_equal(check_index(f->s), i + 1);
		ldns_rdf_deep_free(qn);
		ldns_pkt_free(resp);
	}
	/* At T0+60, n0 has expired; two more to free: n2 (100), n4 (200). */
	assert_int_equal(store_begin(f->s, true, &t), TDNS_OK);
	assert_int_equal(cache_purge(t, T0 + 60, 3, &evicted), TDNS_OK);
	assert_int_equal(store_commit(t), TDNS_OK);
	assert_int_equal(evicted, 3);
	assert_int_equal(snap_of(f->s).count, 2);
	assert_int_equal(check_index(f->s), 2);
	assert_int_equal(lookup_status(f->s, "n1.site.", LDNS_RR_TYPE_A, T0 + 60),
			 TDNS_OK);
	assert_int_equal(lookup_status(f->s, "n3.site.", LDNS_RR_TYPE_A, T0 + 60),
			 TDNS_OK);
}

/* Sum of key and value lengths, by a scan: what the size account must say. */
static uint64_t scan_bytes(struct tdns_store *s, size_t *n)
{
	struct tdns_txn *t = NULL;
	struct tdns_cursor *c = NULL;
	struct tdns_val k, v;
	uint64_t sum = 0;
	enum tdns_status st;

	*n = 0;
	assert_int_equal(store_begin(s, false, &t), TDNS_OK);
	assert_int_equal(store_cursor_open(t, TDNS_DB_CACHE, &c), TDNS_OK);
	for (st = store_cursor_seek(c, NULL, 0, &k, &v); st == TDNS_OK;
	     st = store_cursor_next(c, &k, &v)) {
		sum += k.len + v.len;
		(*n)++;
	}
	assert_int_equal(st, TDNS_ENOTFOUND);
	assert_int_equal(cache_bytes(t), sum);
	store_cursor_close(c);
	store_abort(t);
	return sum;
}

/* A reply of one TXT record for name, TTL ttl, of one or two 200-byte
 * strings (~250 or ~450 bytes). */
static ldns_pkt *txt_reply(const char *name, size_t ttl, bool two)
{
	char rr[600], txt[201];
	const char *an[2] = { rr, NULL };

	memset(txt, 'x', sizeof(txt) - 1);
	txt[sizeof(txt) - 1] = '\0';
	snprintf(rr, sizeof(rr), "%s %zu IN TXT \"%s\"%s%s%s", name, ttl, txt,
		 two ? " \"" : "", two ? txt : "", two ? "\"" : "");
	return mkreply(name, LDNS_RR_TYPE_TXT, LDNS_RCODE_NOERROR, an, NULL, NULL);
}

/* The size bound: a 1 MiB map with a 256 KiB budget takes 4000 answers of
 * ~450 bytes (1.8 MB); every insert succeeds, the newest is always there,
 * the soonest-expiring went first and the account matches a scan. */
static void test_budget_evicts(void **state)
{
	struct fixture *f = *state;
	struct tdns_cache_cfg small = cfg;
	char name[32];
	size_t n = 4000, entries;
	uint64_t bytes;

	small.max_bytes = 256 * 1024;
	store_close(f->s);
	tu_rmdir(f->dir);
	tu_tmpdir(f->dir);
	f->s = open_store(f->dir, 1024 * 1024);
	for (size_t i = 0; i < n; i++) {
		ldns_pkt *resp;
		ldns_rdf *qn;

		snprintf(name, sizeof(name), "host%zu.site.", i);
		resp = txt_reply(name, 300 + i, true);
		qn = dname(name);
		assert_int_equal(tu_cache_insert(f->s, &small, qn, LDNS_RR_TYPE_TXT, resp,
					      T0),
				 TDNS_OK);
		check_index(f->s);
		assert_int_equal(lookup_status(f->s, name, LDNS_RR_TYPE_TXT, T0),
				 TDNS_OK);
		ldns_rdf_deep_free(qn);
		ldns_pkt_free(resp);
	}
	bytes = scan_bytes(f->s, &entries);
	assert_true(bytes <= small.max_bytes);
	assert_true(bytes > small.max_bytes / 2);
	assert_int_equal(entries, snap_of(f->s).count);
	assert_true(entries < n);
	/* The soonest-expiring (the oldest here) went first. */
	assert_int_equal(lookup_status(f->s, "host0.site.", LDNS_RR_TYPE_TXT, T0),
			 TDNS_ENOTFOUND);
	assert_int_equal(lookup_status(f->s, "host3998.site.", LDNS_RR_TYPE_TXT, T0),
			 TDNS_OK);
}

/* n TXT answers host<first..first+n-1>.site., ~450 bytes each, as values
 * and their puts for cache_store_many (keys in keys[i]). */
#define MANY 200
struct many {
	struct tdns_cache_value v[MANY];
	uint8_t keys[MANY][NAME_KEY_MAX];
	struct tdns_cache_put puts[MANY];
};

static void many_build(struct many *m, size_t first, size_t n)
{
	char name[32];

	for (size_t i = 0; i < n; i++) {
		ldns_pkt *resp;
		ldns_rdf *qn;

		snprintf(name, sizeof(name), "host%zu.site.", first + i);
		resp = txt_reply(name, 300 + first + i, true);
		qn = dname(name);
		memset(&m->v[i], 0, sizeof(m->v[i]));
		assert_int_equal(tu_cache_value_build(&cfg, qn, LDNS_RR_TYPE_TXT, resp, T0,
						   &m->v[i]),
				 TDNS_OK);
		assert_true(m->v[i].cacheable);
		qkey_of(name, m->keys[i], &m->puts[i].qkey_len);
		m->puts[i].qkey = m->keys[i];
		m->puts[i].qtype = LDNS_RR_TYPE_TXT;
		m->puts[i].v = &m->v[i];
		m->puts[i].st = TDNS_EIO; /* must be overwritten */
		ldns_rdf_deep_free(qn);
		ldns_pkt_free(resp);
	}
}

static void many_clear(struct many *m, size_t n)
{
	for (size_t i = 0; i < n; i++)
		cache_value_clear(&m->v[i]);
}

/* cache_store_many: a batch is ONE commit, each entry's fate is reported
 * (an uncacheable one is refused, the others stored), the size account
 * matches a scan; a batch over the budget falls back to one store each,
 * with eviction, and still ends within the budget. */
static void test_store_many(void **state)
{
	struct fixture *f = *state;
	struct tdns_cache_cfg small = cfg;
	struct many *m = calloc(1, sizeof(*m));
	char name[32];
	size_t entries;
	uint64_t before;

	assert_non_null(m);
	many_build(m, 0, 50);
	m->v[7].cacheable = false;
	before = snap_of(f->s).txn;
	assert_int_equal(cache_store_many(f->s, &cfg, m->puts, 50, T0), TDNS_EINVAL);
	assert_int_equal(snap_of(f->s).txn, before + 1);
	assert_int_equal(check_index(f->s), 49);
	for (size_t i = 0; i < 50; i++) {
		snprintf(name, sizeof(name), "host%zu.site.", i);
		assert_int_equal(m->puts[i].st, i == 7 ? TDNS_EINVAL : TDNS_OK);
		assert_int_equal(lookup_status(f->s, name, LDNS_RR_TYPE_TXT, T0),
				 i == 7 ? TDNS_ENOTFOUND : TDNS_OK);
	}
	scan_bytes(f->s, &entries);
	assert_int_equal(entries, 49);
	/* Nothing storable: no transaction at all. */
	before = snap_of(f->s).txn;
	assert_int_equal(cache_store_many(f->s, &cfg, &m->puts[7], 1, T0),
			 TDNS_EINVAL);
	assert_int_equal(m->puts[7].st, TDNS_EINVAL);
	assert_int_equal(snap_of(f->s).txn, before);
	many_clear(m, 50);
	/* The same keys again (refreshes): replaced, the account still
	 * matches a scan (scan_bytes checks it). */
	many_build(m, 0, 50);
	assert_int_equal(cache_store_many(f->s, &cfg, m->puts, 50, T0), TDNS_OK);
	assert_int_equal(check_index(f->s), 50);
	scan_bytes(f->s, &entries);
	assert_int_equal(entries, 50);
	many_clear(m, 50);

	/* 200 answers of ~450 bytes (~90 KB) against a 64 KiB budget. */
	small.max_bytes = 64 * 1024;
	many_build(m, 1000, MANY);
	assert_int_equal(cache_store_many(f->s, &small, m->puts, MANY, T0), TDNS_OK);
	check_index(f->s);
	for (size_t i = 0; i < MANY; i++)
		assert_int_equal(m->puts[i].st, TDNS_OK);
	assert_true(scan_bytes(f->s, &entries) <= small.max_bytes);
	assert_true(entries < MANY);
	/* The last one stored is there; the soonest-expiring went. */
	assert_int_equal(lookup_status(f->s, "host1199.site.", LDNS_RR_TYPE_TXT, T0),
			 TDNS_OK);
	assert_int_equal(lookup_status(f->s, "host0.site.", LDNS_RR_TYPE_TXT, T0),
			 TDNS_ENOTFOUND);
	many_clear(m, MANY);
	free(m);
}

/* Ask each of puts[0..n) k times (sketch_add). */
static void many_ask(struct tdns_sketch *sk, const struct many *m, size_t n,
		     unsigned k)
{
	for (size_t i = 0; i < n; i++)
		for (unsigned j = 0; j < k; j++)
			sketch_add(sk, m->puts[i].qkey, m->puts[i].qkey_len,
				   m->puts[i].qtype);
}

/* Ask host<first..first+n-1>.site. TXT k times each (sketch_add); with k
 * 0, the least (*lo) and the most (*hi) any of them is counted. */
static void host_ask(struct tdns_sketch *sk, size_t first, size_t n, unsigned k,
		     unsigned *lo, unsigned *hi)
{
	uint8_t key[NAME_KEY_MAX];
	char name[32];
	size_t len;
	unsigned c;

	for (size_t i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "host%zu.site.", first + i);
		qkey_of(name, key, &len);
		for (unsigned j = 0; j < k; j++)
			sketch_add(sk, key, len, LDNS_RR_TYPE_TXT);
		if (k == 0) {
			c = sketch_count(sk, key, len, LDNS_RR_TYPE_TXT);
			*lo = c < *lo ? c : *lo;
			*hi = c > *hi ? c : *hi;
		}
	}
}

/* The sketch test_store_many_lfu works with, having counted all it asks:
 * the popular host0..99 five times each, the one-offs host1000..1599 once,
 * the favourite host5000 nine times. A count-min sketch counts a key too
 * often when each of its counters is shared with another key: a one-off
 * whose counters all are a popular answer's counts as popular and may
 * rightly evict one. The test is about the policy, not the odds of that
 * (about one run in a hundred with a small sketch), so it takes a sketch,
 * each try with a fresh random seed, in which every one-off counts less
 * than every popular answer and the favourite at least as much as any. */
static struct tdns_sketch *lfu_sketch(void)
{
	struct tdns_sketch *sk = NULL;
	unsigned hot_lo, hot_hi, once_lo, once_hi, fav_lo, fav_hi;

	for (int tries = 0; tries < 10; tries++) {
		assert_int_equal(sketch_new(16384, &sk), TDNS_OK);
		host_ask(sk, 0, 100, 5, NULL, NULL);
		host_ask(sk, 1000, 3 * MANY, 1, NULL, NULL);
		host_ask(sk, 5000, 1, 9, NULL, NULL);
		hot_lo = once_lo = fav_lo = UINT32_MAX;
		hot_hi = once_hi = fav_hi = 0;
		host_ask(sk, 0, 100, 0, &hot_lo, &hot_hi);
		host_ask(sk, 1000, 3 * MANY, 0, &once_lo, &once_hi);
		host_ask(sk, 5000, 1, 0, &fav_lo, &fav_hi);
		if (once_hi < hot_lo && fav_lo >= hot_hi)
			return sk;
		sketch_free(sk);
	}
	fail_msg("no sketch without a one-off counted as popular in 10 tries");
	return NULL;
}

/* How many of host<first..first+n-1>.site. TXT the cache holds at T0. */
static size_t held(struct tdns_store *s, size_t first, size_t n)
{
	char name[32];
	size_t in = 0;

	for (size_t i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "host%zu.site.", first + i);
		in += lookup_status(s, name, LDNS_RR_TYPE_TXT, T0) == TDNS_OK;
	}
	return in;
}

/* With a sketch (TinyLFU): 100 answers asked often, stored first (so the
 * soonest to expire), survive a flood of 600 one-off answers that overflow
 * the cache four times over: the victims are the least asked of uniform
 * samples, and a one-off is not let in for a popular victim. The one-offs
 * replace one another, the bound holds, the index stays in step. Without
 * the sketch, the same flood evicts the popular answers (soonest expiry
 * first). An answer asked more often than the popular ones still gets in. */
static void test_store_many_lfu(void **state)
{
	struct fixture *f = *state;
	struct tdns_cache_cfg small = cfg;
	struct many *hot = calloc(1, sizeof(*hot)), *once = calloc(1, sizeof(*once));
	struct tdns_sketch *sk = NULL;
	size_t entries, turned_away = 0;

	assert_non_null(hot);
	assert_non_null(once);
	sk = lfu_sketch();
	small.max_bytes = 64 * 1024; /* about 140 of these answers */
	small.sketch = sk;
	many_build(hot, 0, 100);
	assert_int_equal(cache_store_many(f->s, &small, hot->puts, 100, T0), TDNS_OK);
	assert_int_equal(held(f->s, 0, 100), 100);
	for (size_t i = 0; i < 100; i++)
		assert_true(hot->puts[i].stored_in != 0);
	for (size_t r = 0; r < 3; r++) {
		many_build(once, 1000 + r * MANY, MANY);
		assert_int_equal(cache_store_many(f->s, &small, once->puts, MANY, T0),
				 TDNS_OK);
		/* Each says whether it went in: one turned away is not held,
		 * one held was let in (one let in may have made room for a
		 * later one since). */
		for (size_t i = 0; i < MANY; i++) {
			size_t in = held(f->s, 1000 + r * MANY + i, 1);

			assert_int_equal(once->puts[i].st, TDNS_OK);
			turned_away += once->puts[i].stored_in == 0;
			if (once->puts[i].stored_in == 0)
				assert_int_equal(in, 0);
			if (in == 1)
				assert_true(once->puts[i].stored_in != 0);
		}
		many_clear(once, MANY);
		assert_int_equal(held(f->s, 0, 100), 100);
		assert_true(scan_bytes(f->s, &entries) <= small.max_bytes);
		check_index(f->s);
	}
	assert_true(turned_away > 0);
	/* The one-offs that are in are the latest ones, mostly: they
	 * replaced the earlier one-offs, not the popular answers. */
	assert_true(held(f->s, 1000 + 2 * MANY, MANY) > 0);
	assert_true(held(f->s, 1000, MANY) + held(f->s, 1000 + MANY, MANY) +
		    held(f->s, 1000 + 2 * MANY, MANY) + 100 == entries);
	/* One asked more often than the popular ones gets in. */
	many_build(once, 5000, 1);
	assert_int_equal(cache_store_many(f->s, &small, once->puts, 1, T0), TDNS_OK);
	many_clear(once, 1);
	assert_int_equal(held(f->s, 5000, 1), 1);
	assert_true(scan_bytes(f->s, &entries) <= small.max_bytes);
	check_index(f->s);
	/* Without the sketch: the soonest-expiring go, the popular first. */
	small.sketch = NULL;
	many_build(once, 6000, MANY);
	assert_int_equal(cache_store_many(f->s, &small, once->puts, MANY, T0), TDNS_OK);
	many_clear(once, MANY);
	assert_true(held(f->s, 0, 100) < 10);
	many_clear(hot, 100);
	sketch_free(sk);
	free(hot);
	free(once);
}

/* With a sketch too, expired entries go first, however often they were
 * asked: 60 answers asked nine times each have expired when 100 one-offs
 * overflow the bound; every expired one is gone (lookups at T0, when they
 * were live, no longer find them), while the earlier live one-offs, asked
 * once, are not all evicted for them. */
static void test_lfu_expired_first(void **state)
{
	struct fixture *f = *state;
	struct tdns_cache_cfg small = cfg;
	struct many *m = calloc(1, sizeof(*m));
	struct tdns_sketch *sk = NULL;
	size_t entries;

	assert_non_null(m);
	assert_int_equal(sketch_new(1000, &sk), TDNS_OK);
	small.max_bytes = 64 * 1024;
	small.sketch = sk;
	many_build(m, 0, 60); /* TTLs 300-359 */
	many_ask(sk, m, 60, 9);
	assert_int_equal(cache_store_many(f->s, &small, m->puts, 60, T0), TDNS_OK);
	many_clear(m, 60);
	many_build(m, 1000, 60); /* TTLs 1300-1359 */
	many_ask(sk, m, 60, 1);
	assert_int_equal(cache_store_many(f->s, &small, m->puts, 60, T0), TDNS_OK);
	many_clear(m, 60);
	assert_int_equal(held(f->s, 0, 60), 60);
	many_build(m, 2000, 100);
	many_ask(sk, m, 100, 1);
	assert_int_equal(cache_store_many(f->s, &small, m->puts, 100, T0 + 500),
			 TDNS_OK);
	many_clear(m, 100);
	assert_int_equal(held(f->s, 0, 60), 0);
	assert_true(held(f->s, 1000, 60) > 0);
	assert_true(scan_bytes(f->s, &entries) <= small.max_bytes);
	check_index(f->s);
	sketch_free(sk);
	free(m);
}

/* Expired entries are evicted before any live one. */
static void test_budget_expired_first(void **state)
{
	struct fixture *f = *state;
	struct tdns_cache_cfg small = cfg;
	char name[32];
	size_t entries;

	small.max_bytes = 64 * 1024;
	for (size_t i = 0; i < 400; i++) {
		/* Even names live 60 s, odd ones an hour; all written at T0
		 * except that the later half arrives after the even ones of the
		 * first half have expired. */
		uint64_t now = i < 100 ? T0 : T0 + 100;
		ldns_pkt *resp;
		ldns_rdf *qn;

		snprintf(name, sizeof(name), "h%zu.site.", i);
		resp = txt_reply(name, i % 2 ? 3600 : 60, false);
		qn = dname(name);
		assert_int_equal(tu_cache_insert(f->s, &small, qn, LDNS_RR_TYPE_TXT, resp,
					      now),
				 TDNS_OK);
		check_index(f->s);
		ldns_rdf_deep_free(qn);
		ldns_pkt_free(resp);
	}
	/* The first odd names (an hour to live) are still there. */
	assert_int_equal(lookup_status(f->s, "h1.site.", LDNS_RR_TYPE_TXT, T0 + 100),
			 TDNS_OK);
	assert_true(scan_bytes(f->s, &entries) <= small.max_bytes);
}

/* The account survives purges: back to exactly 0. */
static void test_account_purge(void **state)
{
	struct fixture *f = *state;
	const char *an[] = { "www.site. 300 IN A 192.0.2.1", NULL };
	ldns_pkt *resp = mkreply("www.site.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR,
				 an, NULL, NULL);
	ldns_rdf *qn = dname("www.site.");
	struct tdns_txn *t = NULL;
	size_t entries;

	assert_int_equal(tu_cache_insert(f->s, &cfg, qn, LDNS_RR_TYPE_A, resp, T0), TDNS_OK);
	/* Overwriting the same question does not count it twice. */
	assert_int_equal(tu_cache_insert(f->s, &cfg, qn, LDNS_RR_TYPE_A, resp, T0 + 1),
			 TDNS_OK);
	assert_int_equal(check_index(f->s), 1);
	assert_true(scan_bytes(f->s, &entries) > 0);
	assert_int_equal(entries, 1);
	assert_int_equal(store_begin(f->s, true, &t), TDNS_OK);
	assert_int_equal(cache_purge(t, T0 + 301, 0, NULL), TDNS_OK);
	assert_int_equal(cache_bytes(t), 0);
	assert_int_equal(store_commit(t), TDNS_OK);
	assert_int_equal(check_index(f->s), 0);
	ldns_rdf_deep_free(qn);
	ldns_pkt_free(resp);
}

/* cache_get for serve-stale (RFC 8767) at time now with max_stale. */
static enum tdns_status get_stale(struct tdns_store *s, const char *name,
				  uint16_t type, uint64_t now, uint32_t max_stale,
				  struct tdns_cache_value *v)
{
	uint8_t key[NAME_KEY_MAX];
	size_t klen;
	struct tdns_txn *t = NULL;
	enum tdns_status st;

	qkey_of(name, key, &klen);
	assert_int_equal(store_begin(s, false, &t), TDNS_OK);
	st = cache_get(t, key, klen, type, now, max_stale, v);
	store_abort(t);
	return st;
}

/* Serve-stale reads: an entry is found until expiry + max_stale, and
 * rendered with TTL 30 for every record already expired, the real TTL
 * for the others (the CNAME here outlives the A record). */
static void test_stale_get(void **state)
{
	static const struct {
		uint64_t at;        /* seconds after T0 */
		uint32_t max_stale;
		enum tdns_status st;
		uint32_t ttl_cname, ttl_a; /* as rendered with expired_ttl 30 */
	} rows[] = {
		{ 0, 0, TDNS_OK, 600, 300 },
		{ 299, 0, TDNS_OK, 301, 1 },
		{ 300, 0, TDNS_ENOTFOUND, 0, 0 },
		{ 300, 3600, TDNS_OK, 300, 30 },
		{ 700, 3600, TDNS_OK, 30, 30 },
		{ 3899, 3600, TDNS_OK, 30, 30 },
		{ 3900, 3600, TDNS_ENOTFOUND, 0, 0 },
	};
	struct fixture *f = *state;
	const char *an[] = { "alias.site. 600 IN CNAME www.site.",
			     "www.site. 300 IN A 192.0.2.1", NULL };
	ldns_pkt *resp = mkreply("alias.site.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR,
				 an, NULL, NULL);
	ldns_rdf *qn = dname("alias.site.");
	struct tdns_cache_value v;
	ldns_pkt *got;

	assert_int_equal(tu_cache_insert(f->s, &cfg, qn, LDNS_RR_TYPE_A, resp, T0), TDNS_OK);
	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		assert_int_equal(get_stale(f->s, "Alias.Site.", LDNS_RR_TYPE_A,
					   T0 + rows[r].at, rows[r].max_stale, &v),
				 rows[r].st);
		if (rows[r].st != TDNS_OK)
			continue;
		assert_int_equal(v.expiry, T0 + 300);
		got = ldns_pkt_new();
		assert_int_equal(cache_value_render_ttl(v.data, v.len, T0 + rows[r].at,
							30, got),
				 TDNS_OK);
		assert_int_equal(ldns_pkt_ancount(got), 2);
		assert_int_equal(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(got), 0)),
				 rows[r].ttl_cname);
		assert_int_equal(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(got), 1)),
				 rows[r].ttl_a);
		ldns_pkt_free(got);
		cache_value_clear(&v);
	}
	/* The normal lookup never serves it expired. */
	assert_int_equal(lookup_status(f->s, "alias.site.", LDNS_RR_TYPE_A, T0 + 300),
			 TDNS_ENOTFOUND);
	ldns_rdf_deep_free(qn);
	ldns_pkt_free(resp);
}

/* Eviction with keep_stale: entries expired within the window survive
 * the pass that removes expired entries; those past it do not. Without
 * keep_stale both go. */
static void test_budget_keeps_stale(void **state)
{
	struct fixture *f = *state;
	char name[32];
	struct tdns_cache_value v;

	for (int keep = 0; keep < 2; keep++) {
		struct tdns_cache_cfg small = cfg;

		struct tdns_txn *t = NULL;

		/* An empty cache for each round. */
		assert_int_equal(store_begin(f->s, true, &t), TDNS_OK);
		assert_int_equal(cache_purge(t, UINT64_MAX, 0, NULL), TDNS_OK);
		assert_int_equal(store_commit(t), TDNS_OK);
		assert_int_equal(check_index(f->s), 0);
		small.max_bytes = 64 * 1024;
		small.keep_stale = keep ? 3600 : 0;
		for (size_t i = 0; i < 300; i++) {
			/* 0: expired 100 s before T0 (in the window); 1..150:
			 * expired two hours before (past it); then live ones,
			 * written at T0: the budget overflows once, and the
			 * expired entries make enough room. */
			uint64_t now = i == 0 ? T0 - 160 : i <= 150 ? T0 - 7260 : T0;
			ldns_pkt *resp;
			ldns_rdf *qn;

			snprintf(name, sizeof(name), "k%d-%zu.site.", keep, i);
			resp = txt_reply(name, i <= 150 ? 60 : 3600, false);
			qn = dname(name);
			assert_int_equal(tu_cache_insert(f->s, &small, qn, LDNS_RR_TYPE_TXT,
						      resp, now),
					 TDNS_OK);
			check_index(f->s);
			ldns_rdf_deep_free(qn);
			ldns_pkt_free(resp);
		}
		snprintf(name, sizeof(name), "k%d-0.site.", keep);
		assert_int_equal(get_stale(f->s, name, LDNS_RR_TYPE_TXT, T0, 3600, &v),
				 keep ? TDNS_OK : TDNS_ENOTFOUND);
		cache_value_clear(&v);
		snprintf(name, sizeof(name), "k%d-1.site.", keep);
		assert_int_equal(get_stale(f->s, name, LDNS_RR_TYPE_TXT, T0, 86400, &v),
				 TDNS_ENOTFOUND);
		/* Serving went on: the newest entry is there. */
		snprintf(name, sizeof(name), "k%d-299.site.", keep);
		assert_int_equal(get_stale(f->s, name, LDNS_RR_TYPE_TXT, T0, 0, &v),
				 TDNS_OK);
		cache_value_clear(&v);
	}
}

/* ---- the expiry index ---- */

static const struct tdns_cache_cfg long_cfg = { .max_ttl = 86400,
						 .max_neg_ttl = 900 };

/* The cache value of an A answer for name with ttl, built at now. */
static void a_value(const char *name, uint32_t ttl, uint64_t now,
		    struct tdns_cache_value *v)
{
	char rr[96];
	const char *an[2] = { rr, NULL };
	ldns_pkt *resp;
	ldns_rdf *qn = dname(name);

	snprintf(rr, sizeof(rr), "%s %u IN A 192.0.2.1", name, ttl);
	resp = mkreply(name, LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, an, NULL, NULL);
	assert_int_equal(tu_cache_value_build(&long_cfg, qn, LDNS_RR_TYPE_A, resp, now,
					   v),
			 TDNS_OK);
	assert_true(v->cacheable);
	ldns_rdf_deep_free(qn);
	ldns_pkt_free(resp);
}

/* cache_store of an A answer for name with ttl at now under c. */
static enum tdns_status put_a(struct tdns_store *s, const struct tdns_cache_cfg *c,
			      const char *name, uint32_t ttl, uint64_t now)
{
	struct tdns_cache_value v;
	uint8_t key[NAME_KEY_MAX];
	size_t klen;
	enum tdns_status st;

	a_value(name, ttl, now, &v);
	qkey_of(name, key, &klen);
	st = cache_store(s, c, key, klen, LDNS_RR_TYPE_A, &v, now);
	cache_value_clear(&v);
	return st;
}

/* cache_purge at now in its own write transaction; the entries removed. */
static size_t purge(struct tdns_store *s, uint64_t now, size_t want)
{
	struct tdns_txn *t = NULL;
	size_t evicted = 0;

	assert_int_equal(store_begin(s, true, &t), TDNS_OK);
	assert_int_equal(cache_purge(t, now, want, &evicted), TDNS_OK);
	assert_int_equal(store_commit(t), TDNS_OK);
	return evicted;
}

/* An expiry index key too short to hold a record key (a damaged or
 * foreign store; this module writes none) is deleted by the eviction walk
 * that meets it, without reading past it. Each is planted with a cache
 * entry that has no index entry, so the two stay as many and no rebuild
 * removes it first. */
static void test_index_junk_keys(void **state)
{
	static const size_t lens[] = { 1, 8, 9, 10 };
	uint8_t key[NAME_KEY_MAX], rkey[RECORD_KEY_MAX], ck[4 + RECORD_KEY_MAX];
	uint8_t junk[10];
	struct tdns_cache_value v;
	struct tdns_txn *t = NULL;
	struct tdns_store *s;
	struct tdns_val val;
	char dir[64];
	size_t klen, rlen;

	(void)state;
	memset(junk, 0, sizeof(junk));
	memset(junk + 8, 'x', sizeof(junk) - 8);
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		tu_tmpdir(dir);
		s = open_store(dir, 0);
		assert_int_equal(put_a(s, &long_cfg, "keep.site.", 1000, T0), TDNS_OK);
		a_value("extra.site.", 1000, T0, &v);
		qkey_of("extra.site.", key, &klen);
		rlen = name_record_key(key, klen, LDNS_RR_TYPE_A, rkey);
		assert_int_equal(store_begin(s, true, &t), TDNS_OK);
		assert_int_equal(store_put(t, TDNS_DB_CACHE, ck, ckey_of(rkey, rlen, ck),
					   v.data, v.len),
				 TDNS_OK);
		assert_int_equal(store_put(t, TDNS_DB_CACHE_EXP, junk, lens[i], "", 0),
				 TDNS_OK);
		assert_int_equal(store_commit(t), TDNS_OK);
		cache_value_clear(&v);

		purge(s, T0 + 1, 0);
		assert_int_equal(store_begin(s, false, &t), TDNS_OK);
		assert_int_equal(store_get(t, TDNS_DB_CACHE_EXP, junk, lens[i], &val),
				 TDNS_ENOTFOUND);
		store_abort(t);
		assert_int_equal(lookup_status(s, "keep.site.", LDNS_RR_TYPE_A, T0 + 1),
				 TDNS_OK);
		store_close(s);
		tu_rmdir(dir);
	}
}

/* Every write keeps the index in step: new keys, overwrites with a
 * sooner, a later and the same expiry, batches (new and overwritten
 * keys in one transaction), purges of expired and of soonest entries. */
static void test_index_steps(void **state)
{
	enum step_op { STEP_PUT, STEP_MANY, STEP_PURGE };
	static const struct {
		const char *what;
		enum step_op op;
		const char *names[3]; /* PUT: one store each; MANY: one batch */
		uint32_t ttl;
		uint32_t at;          /* seconds after T0 */
		size_t want;          /* PURGE: entries to free */
		size_t left;          /* entries after the step */
		const char *gone;     /* no longer cached after it */
	} steps[] = {
		{ "new keys", STEP_PUT, { "a.site.", "b.site.", "c.site." }, 300, 0,
		  0, 3, NULL },
		{ "overwrite, sooner", STEP_PUT, { "a.site." }, 50, 10, 0, 3, NULL },
		{ "overwrite, later", STEP_PUT, { "b.site." }, 900, 20, 0, 3, NULL },
		{ "overwrite, same expiry", STEP_PUT, { "b.site." }, 890, 30, 0, 3,
		  NULL },
		{ "batch: new and overwritten", STEP_MANY,
		  { "d.site.", "c.site.", "e.site." }, 400, 40, 0, 5, NULL },
		{ "batch: the same key twice", STEP_MANY, { "f.site.", "f.site." },
		  100, 41, 0, 6, NULL },
		{ "purge: the expired one", STEP_PURGE, { NULL }, 0, 70, 0, 5,
		  "a.site." },
		{ "purge: one more, the soonest", STEP_PURGE, { NULL }, 0, 70, 1, 4,
		  "f.site." },
		{ "purge: two more", STEP_PURGE, { NULL }, 0, 70, 2, 2, "d.site." },
		{ "purge: all expired", STEP_PURGE, { NULL }, 0, 5000, 0, 0,
		  "b.site." },
	};
	struct fixture *f = *state;
	struct tdns_cache_value v[3];
	uint8_t keys[3][NAME_KEY_MAX];
	struct tdns_cache_put puts[3];
	size_t n;

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		print_message("step: %s\n", steps[i].what);
		for (n = 0; n < 3 && steps[i].names[n] != NULL; n++)
			;
		switch (steps[i].op) {
		case STEP_PUT:
			for (size_t k = 0; k < n; k++)
				assert_int_equal(put_a(f->s, &long_cfg,
						       steps[i].names[k], steps[i].ttl,
						       T0 + steps[i].at),
						 TDNS_OK);
			break;
		case STEP_MANY:
			for (size_t k = 0; k < n; k++) {
				a_value(steps[i].names[k],
					steps[i].ttl + (uint32_t)k * 10,
					T0 + steps[i].at, &v[k]);
				qkey_of(steps[i].names[k], keys[k],
					&puts[k].qkey_len);
				puts[k].qkey = keys[k];
				puts[k].qtype = LDNS_RR_TYPE_A;
				puts[k].v = &v[k];
			}
			assert_int_equal(cache_store_many(f->s, &long_cfg, puts, n,
							  T0 + steps[i].at),
					 TDNS_OK);
			for (size_t k = 0; k < n; k++)
				cache_value_clear(&v[k]);
			break;
		case STEP_PURGE:
			purge(f->s, T0 + steps[i].at, steps[i].want);
			break;
		}
		assert_int_equal(check_index(f->s), steps[i].left);
		if (steps[i].gone != NULL)
			assert_int_equal(lookup_status(f->s, steps[i].gone,
						       LDNS_RR_TYPE_A, T0),
					 TDNS_ENOTFOUND);
	}
}

/* A permutation of 0..n-1 (n = 10000): the expiry rank of entry i. */
#define SOON_N 10000u
static uint32_t soon_rank(size_t i)
{
	return (uint32_t)((i * 7919u) % SOON_N);
}

/* Whether h<i>.site. is cached, for each i: exactly those of rank >= from
 * must be. */
static void check_soonest_gone(struct tdns_store *s, uint32_t from)
{
	char name[32];

	for (size_t i = 0; i < SOON_N; i++) {
		snprintf(name, sizeof(name), "h%05zu.site.", i);
		if (lookup_status(s, name, LDNS_RR_TYPE_A, T0) !=
		    (soon_rank(i) < from ? TDNS_ENOTFOUND : TDNS_OK))
			fail_msg("%s (rank %u): cached %s", name, soon_rank(i),
				 soon_rank(i) < from ? "still" : "no more");
	}
}

/* 10000 entries of one size with distinct expiries, in an order unlike
 * their keys', under a budget of exactly 10000.5 of them: the next answers
 * evict a few entries (room made ahead, never a share of the cache), and
 * exactly the soonest-expiring; purges then take exactly the next. */
static void test_evict_soonest(void **state)
{
	struct fixture *f = *state;
	struct tdns_cache_cfg c = long_cfg;
	struct tdns_cache_value *v = calloc(100, sizeof(*v));
	struct tdns_cache_put puts[100];
	uint8_t (*keys)[NAME_KEY_MAX] = calloc(100, NAME_KEY_MAX);
	char name[32];
	size_t esize, gone;

	assert_non_null(v);
	assert_non_null(keys);
	/* Every name the same length, every value the same size. */
	a_value("h00000.site.", 1000, T0, &v[0]);
	qkey_of("h00000.site.", keys[0], &esize);
	esize += 4 + 3 + v[0].len; /* cache key (hash, record key) + value */
	cache_value_clear(&v[0]);
	c.max_bytes = SOON_N * esize + esize / 2;
	for (size_t i = 0; i < SOON_N; i += 100) {
		for (size_t k = 0; k < 100; k++) {
			snprintf(name, sizeof(name), "h%05zu.site.", i + k);
			a_value(name, 1000 + soon_rank(i + k), T0, &v[k]);
			qkey_of(name, keys[k], &puts[k].qkey_len);
			puts[k].qkey = keys[k];
			puts[k].qtype = LDNS_RR_TYPE_A;
			puts[k].v = &v[k];
		}
		assert_int_equal(cache_store_many(f->s, &c, puts, 100, T0), TDNS_OK);
		for (size_t k = 0; k < 100; k++)
			cache_value_clear(&v[k]);
	}
	assert_int_equal(check_index(f->s), SOON_N);
	/* Five more answers of the same size, living longest. */
	for (size_t k = 0; k < 5; k++) {
		snprintf(name, sizeof(name), "x%05zu.site.", k);
		assert_int_equal(put_a(f->s, &c, name, 50000, T0), TDNS_OK);
		check_index(f->s);
		assert_int_equal(lookup_status(f->s, name, LDNS_RR_TYPE_A, T0),
				 TDNS_OK);
	}
	gone = SOON_N + 5 - snap_of(f->s).count;
	print_message("evicted %zu for 5 answers\n", gone);
	assert_true(gone >= 5 && gone <= 64);
	check_soonest_gone(f->s, (uint32_t)gone);
	/* Nothing expired at T0: three more, by count. */
	assert_int_equal(purge(f->s, T0, 3), 3);
	assert_int_equal(check_index(f->s), SOON_N + 5 - gone - 3);
	/* Expired by T0 + 1000 + gone + 5: ranks up to gone + 5, of which the
	 * last three are left. */
	assert_int_equal(purge(f->s, T0 + 1000 + gone + 5, 0), 3);
	assert_int_equal(check_index(f->s), SOON_N + 5 - gone - 6);
	check_soonest_gone(f->s, (uint32_t)gone + 6);
	free(keys);
	free(v);
}

/* A store whose cache has no index (written before it existed, or with
 * the index lost): the first cache write builds it, in step, with every
 * entry kept; eviction then follows the entries' real expiries. Also
 * when the index was lost by a write transaction of this process that is
 * not the cache's (the cache's own skip the check after one another). */
static void test_index_rebuild(void **state)
{
	static const struct {
		const char *what;
		bool drop_marker;
		bool clear_index;
		bool restart;
	} rows[] = {
		{ "no index, no marker (an older store)", true, true, true },
		{ "a marker, an empty index", false, true, true },
		{ "an index, no marker", true, false, true },
		{ "a marker, an empty index, no restart", false, true, false },
	};
	struct fixture *f = *state;
	char name[32];

	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		struct tdns_txn *t = NULL;

		print_message("row: %s\n", rows[r].what);
		purge(f->s, UINT64_MAX, 0);
		for (size_t i = 0; i < 50; i++) {
			snprintf(name, sizeof(name), "r%zu.site.", i);
			/* r49 expires first, r0 last. */
			assert_int_equal(put_a(f->s, &long_cfg, name,
					       (uint32_t)(1000 - i), T0),
					 TDNS_OK);
		}
		assert_int_equal(check_index(f->s), 50);
		assert_int_equal(store_begin(f->s, true, &t), TDNS_OK);
		if (rows[r].clear_index)
			assert_int_equal(store_clear(t, TDNS_DB_CACHE_EXP), TDNS_OK);
		if (rows[r].drop_marker)
			assert_int_equal(store_del(t, TDNS_DB_META,
						   (const uint8_t *)"cache_index",
						   11),
					 TDNS_OK);
		assert_int_equal(store_commit(t), TDNS_OK);
		/* A restart, then the first write. */
		if (rows[r].restart) {
			store_close(f->s);
			f->s = open_store(f->dir, 0);
		}
		assert_int_equal(snap_of(f->s).count, 50);
		assert_int_equal(put_a(f->s, &long_cfg, "new.site.", 5000, T0),
				 TDNS_OK);
		assert_int_equal(check_index(f->s), 51);
		for (size_t i = 0; i < 50; i++) {
			snprintf(name, sizeof(name), "r%zu.site.", i);
			assert_int_equal(lookup_status(f->s, name, LDNS_RR_TYPE_A, T0),
					 TDNS_OK);
		}
		/* The soonest by the rebuilt index: r49, then r48. */
		assert_int_equal(purge(f->s, T0, 2), 2);
		assert_int_equal(lookup_status(f->s, "r49.site.", LDNS_RR_TYPE_A, T0),
				 TDNS_ENOTFOUND);
		assert_int_equal(lookup_status(f->s, "r48.site.", LDNS_RR_TYPE_A, T0),
				 TDNS_ENOTFOUND);
		assert_int_equal(check_index(f->s), 49);
	}
}

/* The premise of sampling (evict_sampled): in hash order, names that
 * differ in a digit or two still spread evenly over the key space. 2048
 * entries in 8 ranges of the first key byte: each holds 256 +- 64 (four
 * standard deviations), where names in their own order would all fall in
 * one range. */
static void test_hash_order_spread(void **state)
{
	struct fixture *f = *state;
	struct tdns_cursor *c = NULL;
	struct tdns_txn *t = NULL;
	struct tdns_val k, v;
	size_t range[8] = { 0 };
	char name[32];
	enum tdns_status st;

	for (size_t i = 0; i < 2048; i++) {
		snprintf(name, sizeof(name), "n%zu.site.", i);
		assert_int_equal(put_a(f->s, &long_cfg, name, 1000, T0), TDNS_OK);
	}
	assert_int_equal(store_begin(f->s, false, &t), TDNS_OK);
	assert_int_equal(store_cursor_open(t, TDNS_DB_CACHE, &c), TDNS_OK);
	for (st = store_cursor_seek(c, NULL, 0, &k, &v); st == TDNS_OK;
	     st = store_cursor_next(c, &k, &v))
		range[k.data[0] >> 5]++;
	assert_int_equal(st, TDNS_ENOTFOUND);
	store_cursor_close(c);
	store_abort(t);
	for (size_t r = 0; r < 8; r++) {
		print_message("range %zu: %zu entries\n", r, range[r]);
		assert_true(range[r] >= 192 && range[r] <= 320);
	}
}

/* Write 30 entries as the cache of index version ver kept them, in step:
 * an expiry index entry for each, so only the version tells the layouts
 * apart. Version 2 kept each entry under its bare record key, version 3
 * under the hash of the whole record key || the record key. */
static void write_older_layout(struct tdns_store *s, uint8_t ver)
{
	uint8_t key[NAME_KEY_MAX], rkey[RECORD_KEY_MAX], ik[8 + RECORD_KEY_MAX];
	uint8_t ck[4 + RECORD_KEY_MAX];
	struct tdns_cache_value v;
	struct tdns_txn *t = NULL;
	struct tdns_val val;
	char name[32];
	size_t klen, rlen, cklen;

	assert_int_equal(store_begin(s, true, &t), TDNS_OK);
	for (size_t i = 0; i < 30; i++) {
		snprintf(name, sizeof(name), "old%zu.site.", i);
		a_value(name, 1000, T0, &v);
		qkey_of(name, key, &klen);
		rlen = name_record_key(key, klen, LDNS_RR_TYPE_A, rkey);
		cklen = 0;
		if (ver == 3) {
			dns_wr32(ck, (uint32_t)(dns_key_hash(0x63616368656b6579ull,
							     rkey, rlen) >> 32));
			cklen = 4;
		}
		memcpy(ck + cklen, rkey, rlen);
		cklen += rlen;
		assert_int_equal(store_put(t, TDNS_DB_CACHE, ck, cklen, v.data, v.len),
				 TDNS_OK);
		val.data = v.data;
		val.len = v.len;
		dns_wr64(ik, entry_expiry(&val));
		memcpy(ik + 8, rkey, rlen);
		assert_int_equal(store_put(t, TDNS_DB_CACHE_EXP, ik, 8 + rlen, "", 0),
				 TDNS_OK);
		cache_value_clear(&v);
	}
	assert_int_equal(store_put(t, TDNS_DB_META, (const uint8_t *)"cache_index", 11,
				   &ver, 1),
			 TDNS_OK);
	assert_int_equal(store_commit(t), TDNS_OK);
}

/* A cache of either older layout: the first cache write drops its
 * entries, which no lookup can find, and leaves the cache, its index and
 * the account in step. */
static void test_older_layout_dropped(void **state)
{
	struct fixture *f = *state;

	for (uint8_t ver = 2; ver <= 3; ver++) {
		write_older_layout(f->s, ver);
		/* The second round also holds new.site. from the first. */
		assert_int_equal(snap_of(f->s).count, 30 + (ver - 2));
		assert_int_equal(put_a(f->s, &long_cfg, "new.site.", 1000, T0), TDNS_OK);
		assert_int_equal(check_index(f->s), 1); /* the account too */
		assert_int_equal(lookup_status(f->s, "new.site.", LDNS_RR_TYPE_A, T0),
				 TDNS_OK);
	}
}

/* The stored hash of a cache key, pinned: a change to dns_key_hash or to
 * the seed would leave every stored entry unreachable with the index in
 * step, so it must come with a new CACHE_INDEX_VERSION (cache.c) and new
 * values here. Both of dns_key_hash's paths: a name key of 8 bytes or
 * more, and a shorter one. */
static void test_cache_key_known(void **state)
{
	static const struct {
		const char *name;
		uint16_t type;
		uint8_t hash[4];
	} known[] = {
		{ "www.example.", LDNS_RR_TYPE_A, { 0xb2, 0xad, 0xa4, 0xf7 } },
		/* the name's: every type of it under one hash */
		{ "www.example.", LDNS_RR_TYPE_AAAA, { 0xb2, 0xad, 0xa4, 0xf7 } },
		{ "a.", LDNS_RR_TYPE_A, { 0xe3, 0x8b, 0xce, 0x8b } },
	};
	struct fixture *f = *state;
	struct tdns_cursor *c = NULL;
	struct tdns_txn *t = NULL;
	struct tdns_val k, v;

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		purge(f->s, UINT64_MAX, 0);
		assert_int_equal(put_a(f->s, &long_cfg, known[i].name, 1000, T0), TDNS_OK);
		assert_int_equal(store_begin(f->s, false, &t), TDNS_OK);
		assert_int_equal(store_cursor_open(t, TDNS_DB_CACHE, &c), TDNS_OK);
		assert_int_equal(store_cursor_seek(c, NULL, 0, &k, &v), TDNS_OK);
		assert_true(k.len > 4);
		assert_memory_equal(k.data, known[i].hash, 4);
		assert_int_equal(store_cursor_next(c, &k, &v), TDNS_ENOTFOUND);
		store_cursor_close(c);
		store_abort(t);
	}
}

/* The map-full fallback (no budget, a 1 MiB map, ~1 MB of answers):
 * whatever is evicted to make room, the index stays in step. */
static void test_index_map_full(void **state)
{
	struct fixture *f = *state;
	char name[32];
	size_t full = 0, stored = 0;
	enum tdns_status st;

	store_close(f->s);
	tu_rmdir(f->dir);
	tu_tmpdir(f->dir);
	f->s = open_store(f->dir, 1024 * 1024);
	for (size_t i = 0; i < 2500; i++) {
		ldns_pkt *resp;
		ldns_rdf *qn;

		snprintf(name, sizeof(name), "m%zu.site.", i);
		resp = txt_reply(name, 300 + (i * 37) % 1000, true);
		qn = dname(name);
		st = tu_cache_insert(f->s, &long_cfg, qn, LDNS_RR_TYPE_TXT, resp, T0);
		assert_true(st == TDNS_OK || st == TDNS_EFULL);
		full += st == TDNS_EFULL;
		stored += st == TDNS_OK;
		check_index(f->s);
		ldns_rdf_deep_free(qn);
		ldns_pkt_free(resp);
	}
	print_message("stored %zu, map full %zu\n", stored, full);
	/* More than fits: the fallback ran. */
	assert_true(check_index(f->s) < stored);
}

/* ---- cache hits through the one encoder against the ldns path ---- */

enum fq_result { FQ_ANSWERED, FQ_MISS, FQ_DECLINED };

/* The local tier's hit path (resolve.c's QUERY stage less the static
 * zones): parse, cache_answer, encode with RA, into out[0..cap).
 * FQ_DECLINED: the pipeline answers the query itself (malformed, another
 * opcode or EDNS version) or the entry is corrupt. */
static enum fq_result fq_new(struct tdns_txn *t, const uint8_t *in, size_t len,
			     bool tcp, uint64_t now, uint8_t *out, size_t cap,
			     size_t *out_len)
{
	static struct tdns_answer a;
	struct tdns_qctx q;
	enum tdns_status st;

	memset(&q, 0, sizeof(q));
	q.transport = tcp ? QCTX_TCP : QCTX_UDP;
	if (qctx_parse(&q, in, len) != QCTX_OK)
		return FQ_DECLINED;
	answer_reset(&a);
	a.ra = true;
	st = cache_answer(t, &q, now, NULL, &a);
	if (st == TDNS_ENOTFOUND)
		return FQ_MISS;
	if (st != TDNS_OK)
		return FQ_DECLINED;
	assert_int_equal(encode_reply(&q, &a, out, cap, out_len), TDNS_OK);
	return FQ_ANSWERED;
}

/* A client query for name (its case as given) with optional OPT: udp 0 =
 * no OPT; opt_len bytes of (well-formed) option data. */
static size_t fq_query(const char *name, uint16_t qtype, uint16_t id, bool rd,
		       bool cd, uint16_t udp, bool dnssec_ok, uint8_t *q)
{
	ldns_rdf *d = dname(name);
	size_t n = WIRE_HDR_LEN;

	memset(q, 0, WIRE_HDR_LEN);
	q[0] = (uint8_t)(id >> 8);
	q[1] = (uint8_t)id;
	q[2] = rd ? 0x01 : 0;
	q[3] = cd ? 0x10 : 0;
	q[5] = 1;
	q[11] = udp != 0 ? 1 : 0;
	memcpy(q + n, ldns_rdf_data(d), ldns_rdf_size(d));
	n += ldns_rdf_size(d);
	ldns_rdf_deep_free(d);
	q[n++] = (uint8_t)(qtype >> 8);
	q[n++] = (uint8_t)qtype;
	q[n++] = 0;
	q[n++] = 1;
	if (udp != 0) {
		const uint8_t opt[] = { 0, 0, 41, (uint8_t)(udp >> 8), (uint8_t)udp,
					0, 0, dnssec_ok ? 0x80 : 0, 0, 0, 12,
					0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8 /* a client COOKIE */ };

		memcpy(q + n, opt, sizeof(opt));
		n += sizeof(opt);
	}
	return n;
}

/* The ldns path of tierdns-local for a cache hit: parse, skeleton with RA,
 * cache_lookup, render (truncating over UDP). False if it is no hit. */
static bool fq_slow(struct tdns_txn *t, const uint8_t *in, size_t len, bool tcp,
		    uint64_t now, uint8_t *out, size_t *out_len)
{
	struct tdns_query q;
	ldns_pkt *reply = NULL;
	bool hit = false;

	memset(&q, 0, sizeof(q));
	if (wire_parse_query(in, len, &q, out, out_len) != WIRE_OK)
		return false;
	if (q.qclass != LDNS_RR_CLASS_IN) {
		/* The resolver answers other classes before the cache. */
		wire_query_clear(&q);
		return false;
	}
	reply = wire_reply_new(&q, LDNS_RCODE_NOERROR);
	assert_non_null(reply);
	ldns_pkt_set_ra(reply, true);
	if (cache_lookup(t, q.qkey, q.qkey_len, q.qtype, now, reply) == TDNS_OK) {
		assert_int_equal(wire_reply_render(reply, &q, tcp, out, WIRE_MAX_MSG,
						   out_len), TDNS_OK);
		hit = true;
	}
	ldns_pkt_free(reply);
	wire_query_clear(&q);
	return hit;
}

/* The reply to the query in[] from the packed value val, as a waiting
 * client gets it (resolve.c answer_waiter: cache_value_answer and the
 * encoder), or with fast false as the ldns path renders it. */
static bool fq_value(const uint8_t *val, size_t vlen, const uint8_t *in,
		     size_t len, bool tcp, uint64_t now, bool fast, uint8_t *out,
		     size_t *out_len)
{
	struct tdns_query q;
	ldns_pkt *reply = NULL;
	bool ok;

	memset(&q, 0, sizeof(q));
	assert_int_equal(wire_parse_query(in, len, &q, out, out_len), WIRE_OK);
	if (fast) {
		static struct tdns_answer a;
		struct tdns_qctx qc;

		memset(&qc, 0, sizeof(qc));
		qc.transport = tcp ? QCTX_TCP : QCTX_UDP;
		assert_int_equal(qctx_parse(&qc, in, len), QCTX_OK);
		answer_reset(&a);
		a.ra = true;
		ok = cache_value_answer(val, vlen, now, 0, &qc, &a) == TDNS_OK &&
		     encode_reply(&qc, &a, out, WIRE_MAX_MSG, out_len) == TDNS_OK;
	} else {
		reply = wire_reply_new(&q, LDNS_RCODE_NOERROR);
		assert_non_null(reply);
		ldns_pkt_set_ra(reply, true);
		assert_int_equal(cache_value_render(val, vlen, now, reply), TDNS_OK);
		assert_int_equal(wire_reply_render(reply, &q, tcp, out, WIRE_MAX_MSG,
						   out_len), TDNS_OK);
		ok = true;
	}
	ldns_pkt_free(reply);
	wire_query_clear(&q);
	return ok;
}

/* Lower-case a printed packet in place: names compare case-insensitively. */
static void fq_lower(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

/*
 * Header and question byte for byte; the records parsed and printed equal
 * but for the case of names other than the question name (both compress
 * case-insensitively, each against what it wrote before); owners equal to
 * the question name in the client's case in both (RFC 4343).
 */
static void fq_same(const uint8_t *fast, size_t flen, const uint8_t *slow,
		    size_t slen, size_t qend, const char *what)
{
	ldns_pkt *pf = NULL, *ps = NULL;
	const ldns_rdf *qname;
	char *sf, *ss;

	if (flen < qend || slen < qend || memcmp(fast, slow, qend) != 0)
		fail_msg("%s: header or question differ", what);
	assert_int_equal(ldns_wire2pkt(&pf, fast, flen), LDNS_STATUS_OK);
	assert_int_equal(ldns_wire2pkt(&ps, slow, slen), LDNS_STATUS_OK);
	ldns_pkt_set_size(pf, 0);
	ldns_pkt_set_size(ps, 0);
	sf = ldns_pkt2str(pf);
	ss = ldns_pkt2str(ps);
	fq_lower(sf);
	fq_lower(ss);
	if (strcmp(sf, ss) != 0)
		fail_msg("%s: fast reply\n%s\nldns reply\n%s", what, sf, ss);
	free(sf);
	free(ss);
	qname = ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(pf), 0));
	for (size_t i = 0; i < ldns_pkt_ancount(pf) + ldns_pkt_nscount(pf); i++) {
		const ldns_rr *rf = i < ldns_pkt_ancount(pf)
			? ldns_rr_list_rr(ldns_pkt_answer(pf), i)
			: ldns_rr_list_rr(ldns_pkt_authority(pf), i - ldns_pkt_ancount(pf));
		const ldns_rr *rs = i < ldns_pkt_ancount(ps)
			? ldns_rr_list_rr(ldns_pkt_answer(ps), i)
			: ldns_rr_list_rr(ldns_pkt_authority(ps), i - ldns_pkt_ancount(ps));

		if (ldns_dname_compare(ldns_rr_owner(rf), qname) != 0)
			continue;
		assert_int_equal(ldns_rdf_size(ldns_rr_owner(rf)), ldns_rdf_size(qname));
		assert_memory_equal(ldns_rdf_data(ldns_rr_owner(rf)),
				    ldns_rdf_data(qname), ldns_rdf_size(qname));
		assert_memory_equal(ldns_rdf_data(ldns_rr_owner(rs)),
				    ldns_rdf_data(qname), ldns_rdf_size(qname));
	}
	ldns_pkt_free(pf);
	ldns_pkt_free(ps);
}

/* Random ASCII case for the letters of name (the client's 0x20). */
static void fq_mix_case(const char *name, char *out)
{
	size_t i;

	for (i = 0; name[i] != '\0'; i++)
		out[i] = (char)((rand() & 1) && name[i] >= 'a' && name[i] <= 'z'
					? name[i] - 'a' + 'A' : name[i]);
	out[i] = '\0';
}

/*
 * Every cacheable answer of the table (positive, CNAME chains, NXDOMAIN
 * and NODATA with the SOA, case-preserving owners), asked with and without
 * EDNS (DO on and off, several sizes), over UDP and TCP, RD/CD on and off,
 * the question in random case, at T0 and later (TTLs counted down): the
 * fast path answers every one and its reply equals the ldns path's. Then
 * damaged queries: whenever the fast path answers, the ldns path agrees.
 * At expiry the fast path declines.
 */
static void test_hits_match_ldns(void **state)
{
	static const uint16_t udps[] = { 0, 100, 512, 1232, 4096 };
	static uint8_t fast[WIRE_MAX_MSG], slow[WIRE_MAX_MSG];
	struct fixture *f = *state;
	uint8_t in[512];
	char name[NAME_WIRE_MAX * 4 + 1];
	size_t i, k, m, b, in_len, flen, slen, qend, n = 0;
	bool tcp;

	srand(7);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct cache_case *c = &cases[i];
		ldns_pkt *resp;
		ldns_rdf *qn;
		struct tdns_txn *t = NULL;
		struct tdns_cache_value v;
		uint8_t key[NAME_KEY_MAX];
		size_t klen;

		if (!c->cached)
			continue;
		qkey_of(c->qname, key, &klen);
		resp = mkreply(c->qname, c->qtype, c->rcode, c->an, c->ns, c->ar);
		qn = dname(c->qname);
		assert_int_equal(tu_cache_insert(f->s, &cfg, qn, c->qtype, resp, T0),
				 TDNS_OK);
		assert_int_equal(store_begin(f->s, false, &t), TDNS_OK);
		for (k = 0; k < 4 * sizeof(udps) / sizeof(udps[0]); k++) {
			uint64_t now = T0 + (k & 1 ? c->life - 1 : 0);

			tcp = (k & 2) != 0;
			fq_mix_case(c->qname, name);
			in_len = fq_query(name, c->qtype, (uint16_t)rand(),
					  (rand() & 1) != 0, (rand() & 1) != 0,
					  udps[k / 4], (rand() & 1) != 0, in);
			qend = in_len - (udps[k / 4] != 0 ? 23 : 0);
			if (fq_new(t, in, in_len, tcp, now, fast, WIRE_MAX_MSG,
				   &flen) != FQ_ANSWERED)
				fail_msg("%s: no answer to a plain hit", c->what);
			assert_true(fq_slow(t, in, in_len, tcp, now, slow, &slen));
			fq_same(fast, flen, slow, slen, qend, c->what);
			n++;
			/* The waiting clients' writer, from the value, also
			 * once expired (TTLs 0, as the ldns path). */
			assert_int_equal(cache_get(t, key, klen, c->qtype, now,
						   86400, &v), TDNS_OK);
			for (b = 0; b < 2; b++) {
				uint64_t at = now + (b ? c->life + 5 : 0);

				if (!fq_value(v.data, v.len, in, in_len, tcp, at, true,
					      fast, &flen))
					fail_msg("%s: no answer from the value", c->what);
				assert_true(fq_value(v.data, v.len, in, in_len, tcp, at,
						     false, slow, &slen));
				fq_same(fast, flen, slow, slen, qend, c->what);
			}
			cache_value_clear(&v);
			for (m = 0; m < 8; m++) {
				for (b = (size_t)rand() % 3; b < 3; b++)
					in[(size_t)rand() % in_len] = (uint8_t)rand();
				switch (fq_new(t, in, in_len, tcp, now, fast,
					       WIRE_MAX_MSG, &flen)) {
				case FQ_ANSWERED:
					if (!fq_slow(t, in, in_len, tcp, now, slow, &slen)) {
						for (size_t z = 0; z < in_len; z++)
							fprintf(stderr, "%02x", in[z]);
						fail_msg("\n%s: hit here, not on the ldns path",
							 c->what);
					}
					fq_same(fast, flen, slow, slen, WIRE_HDR_LEN,
						c->what);
					break;
				case FQ_MISS:
					/* A miss there too: no hit skipped. */
					if (fq_slow(t, in, in_len, tcp, now, slow, &slen)) {
						for (size_t z = 0; z < in_len; z++)
							fprintf(stderr, "%02x", in[z]);
						fail_msg("\n%s: miss here, a hit on the ldns path",
							 c->what);
					}
					break;
				case FQ_DECLINED:
					break;
				}
			}
		}
		in_len = fq_query(c->qname, c->qtype, 1, true, false, 0, false, in);
		assert_int_equal(FQ_MISS, fq_new(t, in, in_len, false, T0 + c->life,
						 fast, WIRE_MAX_MSG, &flen));
		store_abort(t);
		assert_int_equal(store_begin(f->s, true, &t), TDNS_OK);
		assert_int_equal(cache_purge(t, UINT64_MAX - 1, 0, NULL), TDNS_OK);
		assert_int_equal(store_commit(t), TDNS_OK);
		ldns_rdf_deep_free(qn);
		ldns_pkt_free(resp);
	}
	assert_true(n > 100);
}

/* The edges of the hit path: answers over the client's limit truncated
 * (TC, as the ldns path), the output buffer as a limit, misses (another
 * type, another name, expired), and the queries the pipeline answers
 * itself. */
static enum fq_result fq_ask(struct tdns_txn *t, const uint8_t *in, size_t len,
			     bool tcp, uint64_t now, size_t cap)
{
	static uint8_t out[WIRE_MAX_MSG];
	size_t out_len;

	return fq_new(t, in, len, tcp, now, out, cap, &out_len);
}

static void test_hit_edges(void **state)
{
	static const char *const big[] = {
		"big.site. 300 IN TXT \"0123456789012345678901234567890123456789012345678901234567890123456789\"",
		"big.site. 300 IN TXT \"1123456789012345678901234567890123456789012345678901234567890123456789\"",
		"big.site. 300 IN TXT \"2123456789012345678901234567890123456789012345678901234567890123456789\"",
		"big.site. 300 IN TXT \"3123456789012345678901234567890123456789012345678901234567890123456789\"",
		"big.site. 300 IN TXT \"4123456789012345678901234567890123456789012345678901234567890123456789\"",
		"big.site. 300 IN TXT \"5123456789012345678901234567890123456789012345678901234567890123456789\"",
		"big.site. 300 IN TXT \"6123456789012345678901234567890123456789012345678901234567890123456789\"",
		NULL,
	};
	static const char *const www[] = { "www.site. 300 IN A 192.0.2.1", NULL };
	static const char *const none[] = { NULL };
	static uint8_t out[WIRE_MAX_MSG], slow[WIRE_MAX_MSG];
	struct fixture *f = *state;
	struct tdns_txn *t = NULL;
	uint8_t in[512];
	size_t in_len, out_len, slen;
	ldns_pkt *p;
	ldns_rdf *qn;

	p = mkreply("big.site.", LDNS_RR_TYPE_TXT, LDNS_RCODE_NOERROR, big, none, none);
	qn = dname("big.site.");
	assert_int_equal(tu_cache_insert(f->s, &cfg, qn, LDNS_RR_TYPE_TXT, p, T0), TDNS_OK);
	ldns_rdf_deep_free(qn);
	ldns_pkt_free(p);
	p = mkreply("www.site.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, www, none, none);
	qn = dname("www.site.");
	assert_int_equal(tu_cache_insert(f->s, &cfg, qn, LDNS_RR_TYPE_A, p, T0), TDNS_OK);
	ldns_rdf_deep_free(qn);
	ldns_pkt_free(p);
	assert_int_equal(store_begin(f->s, false, &t), TDNS_OK);

	/* Over 512 bytes without EDNS: truncated with TC and no answer
	 * (RFC 2181 9), byte for byte what the ldns path sends; whole over
	 * TCP and with EDNS 1232. */
	in_len = fq_query("big.site.", LDNS_RR_TYPE_TXT, 1, true, false, 0, false, in);
	assert_int_equal(fq_new(t, in, in_len, false, T0, out, WIRE_MAX_MSG, &out_len),
			 FQ_ANSWERED);
	assert_true(fq_slow(t, in, in_len, false, T0, slow, &slen));
	assert_true((slow[2] & 0x02) != 0 && (out[2] & 0x02) != 0); /* TC */
	assert_int_equal(out_len, slen);
	assert_memory_equal(out, slow, slen);
	assert_int_equal(fq_new(t, in, in_len, true, T0, out, WIRE_MAX_MSG, &out_len),
			 FQ_ANSWERED);
	assert_true(out_len > 512 && (out[2] & 0x02) == 0);
	in_len = fq_query("big.site.", LDNS_RR_TYPE_TXT, 1, true, false, 1232, false, in);
	assert_int_equal(fq_new(t, in, in_len, false, T0, out, WIRE_MAX_MSG, &out_len),
			 FQ_ANSWERED);
	assert_true(out_len > 512 && out_len <= 1232 && (out[2] & 0x02) == 0);
	/* ... and the output buffer's own size is a limit too. */
	assert_int_equal(fq_new(t, in, in_len, true, T0, out, 200, &out_len),
			 FQ_ANSWERED);
	assert_true(out_len <= 200 && (out[2] & 0x02) != 0);

	/* A plain hit, the reference for the variants below. */
	in_len = fq_query("www.site.", LDNS_RR_TYPE_A, 1, true, false, 0, false, in);
	assert_int_equal(fq_ask(t, in, in_len, false, T0, WIRE_MAX_MSG), FQ_ANSWERED);
	/* A trailing byte is ignored, as NSD and ldns do. */
	in[in_len] = 0;
	assert_int_equal(fq_ask(t, in, in_len + 1, false, T0, WIRE_MAX_MSG),
			 FQ_ANSWERED);
	/* Miss: another type, another name, expired, another class, ANY. */
	in_len = fq_query("www.site.", LDNS_RR_TYPE_AAAA, 1, true, false, 0, false, in);
	assert_int_equal(fq_ask(t, in, in_len, false, T0, WIRE_MAX_MSG), FQ_MISS);
	in_len = fq_query("ww.site.", LDNS_RR_TYPE_A, 1, true, false, 0, false, in);
	assert_int_equal(fq_ask(t, in, in_len, false, T0, WIRE_MAX_MSG), FQ_MISS);
	in_len = fq_query("www.site.", LDNS_RR_TYPE_A, 1, true, false, 0, false, in);
	assert_int_equal(fq_ask(t, in, in_len, false, T0 + 300, WIRE_MAX_MSG), FQ_MISS);
	in[in_len - 1] = 3; /* class CH */
	assert_int_equal(fq_ask(t, in, in_len, false, T0, WIRE_MAX_MSG), FQ_MISS);
	in_len = fq_query("www.site.", LDNS_RR_TYPE_ANY, 1, true, false, 0, false, in);
	assert_int_equal(fq_ask(t, in, in_len, false, T0, WIRE_MAX_MSG), FQ_MISS);
	/* What the pipeline answers itself: BADVERS, FORMERR, responses,
	 * other opcodes, short messages. */
	in_len = fq_query("www.site.", LDNS_RR_TYPE_A, 1, true, false, 1232, false, in);
	in[in_len - 23 + 6] = 1; /* EDNS version 1 */
	assert_int_equal(fq_ask(t, in, in_len, false, T0, WIRE_MAX_MSG), FQ_DECLINED);
	in_len = fq_query("www.site.", LDNS_RR_TYPE_A, 1, true, false, 1232, false, in);
	in[in_len - 9] = 13; /* option longer than the rdata */
	assert_int_equal(fq_ask(t, in, in_len, false, T0, WIRE_MAX_MSG), FQ_DECLINED);
	in_len = fq_query("www.site.", LDNS_RR_TYPE_A, 1, true, false, 0, false, in);
	in[2] |= 0x80; /* a response */
	assert_int_equal(fq_ask(t, in, in_len, false, T0, WIRE_MAX_MSG), FQ_DECLINED);
	in[2] = 0x08 | 0x01; /* opcode IQUERY */
	assert_int_equal(fq_ask(t, in, in_len, false, T0, WIRE_MAX_MSG), FQ_DECLINED);
	in[2] = 0x01;
	in[7] = 1; /* an answer record claimed */
	assert_int_equal(fq_ask(t, in, in_len, false, T0, WIRE_MAX_MSG), FQ_DECLINED);
	in_len = fq_query("www.site.", LDNS_RR_TYPE_A, 1, true, false, 1232, false, in);
	for (size_t n = 0; n < in_len; n++)
		assert_int_equal(fq_ask(t, in, n, false, T0, WIRE_MAX_MSG),
				 FQ_DECLINED);
	store_abort(t);
}

/* ---- flushing (cache_flush) ---- */

/* The entries every flush case starts from: name, type, reply. */
static const struct flush_entry {
	const char *qname;
	uint16_t qtype;
	ldns_pkt_rcode rcode;
	const char *an[3];
	const char *ns[2];
} flush_entries[] = {
	/* 0 */ { "www.site.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR,
		  { "www.site. 300 IN A 192.0.2.1" }, { 0 } },
	/* 1 */ { "www.site.", LDNS_RR_TYPE_AAAA, LDNS_RCODE_NOERROR,
		  { "www.site. 300 IN AAAA 2001:db8::1" }, { 0 } },
	/* 2 */ { "a.www.site.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR,
		  { "a.www.site. 300 IN A 192.0.2.2" }, { 0 } },
	/* 3 */ { "wwwx.site.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR,
		  { "wwwx.site. 300 IN A 192.0.2.3" }, { 0 } },
	/* 4 */ { "nx.site.", LDNS_RR_TYPE_A, LDNS_RCODE_NXDOMAIN, { 0 }, { SOA_SITE } },
	/* 5 */ { "www.site.", LDNS_RR_TYPE_MX, LDNS_RCODE_NOERROR, { 0 }, { SOA_SITE } },
	/* 6 */ { "alias.site.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR,
		  { "alias.site. 300 IN CNAME www.site.",
		    "www.site. 300 IN A 192.0.2.1" }, { 0 } },
	/* 7 */ { "host.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR,
		  { "host.example. 300 IN A 198.51.100.1" }, { 0 } },
};
#define FLUSH_N (sizeof(flush_entries) / sizeof(flush_entries[0]))
#define ALL_ENTRIES ((1u << FLUSH_N) - 1)

static const struct flush_case {
	const char *what;
	enum cache_flush_what kind;
	const char *name;  /* NULL for NEGATIVE and ALL */
	uint16_t qtype;
	unsigned removed;  /* bit i: flush_entries[i] is gone afterwards */
} flush_cases[] = {
	{ "one type of a name", CACHE_FLUSH_NAME, "www.site.", LDNS_RR_TYPE_A, 1u << 0 },
	{ "every type of a name", CACHE_FLUSH_NAME, "www.site.", 0,
	  1u << 0 | 1u << 1 | 1u << 5 },
	{ "the name in another case", CACHE_FLUSH_NAME, "WWW.Site.", LDNS_RR_TYPE_AAAA,
	  1u << 1 },
	{ "a name with nothing cached", CACHE_FLUSH_NAME, "none.site.", 0, 0 },
	{ "a type not cached", CACHE_FLUSH_NAME, "www.site.", LDNS_RR_TYPE_TXT, 0 },
	{ "a name and below, not its sibling wwwx", CACHE_FLUSH_TREE, "www.site.", 0,
	  1u << 0 | 1u << 1 | 1u << 2 | 1u << 5 },
	{ "a zone", CACHE_FLUSH_TREE, "site.", 0, ALL_ENTRIES & ~(1u << 7) },
	{ "the root: everything", CACHE_FLUSH_TREE, ".", 0, ALL_ENTRIES },
	{ "negative answers: NXDOMAIN and NODATA", CACHE_FLUSH_NEGATIVE, NULL, 0,
	  1u << 4 | 1u << 5 },
	{ "everything", CACHE_FLUSH_ALL, NULL, 0, ALL_ENTRIES },
};

static void flush_fill(struct tdns_store *s)
{
	for (size_t i = 0; i < FLUSH_N; i++) {
		const struct flush_entry *e = &flush_entries[i];
		ldns_pkt *resp = mkreply(e->qname, e->qtype, e->rcode, e->an, e->ns, NULL);
		ldns_rdf *qn = dname(e->qname);

		assert_int_equal(tu_cache_insert(s, &cfg, qn, e->qtype, resp, T0), TDNS_OK);
		ldns_rdf_deep_free(qn);
		ldns_pkt_free(resp);
	}
	assert_int_equal(check_index(s), FLUSH_N);
}

/* After flush case fc (in steps of `step`, 0: one transaction) removed
 * `removed` entries: exactly its entries are gone, the count says so, and
 * the index and the size account follow the deletions. */
static void flush_check(struct tdns_store *s, const struct flush_case *fc, size_t step,
			size_t removed)
{
	size_t want = 0;

	for (size_t i = 0; i < FLUSH_N; i++) {
		enum tdns_status st = lookup_status(s, flush_entries[i].qname,
						    flush_entries[i].qtype, T0 + 1);
		bool gone = (fc->removed >> i) & 1u;

		want += gone;
		if (st != (gone ? TDNS_ENOTFOUND : TDNS_OK))
			fail_msg("%s (steps of %zu): entry %zu (%s) is %s", fc->what, step,
				 i, flush_entries[i].qname, gone ? "still there" : "gone");
	}
	if (removed != want)
		fail_msg("%s (steps of %zu): %zu removed, want %zu", fc->what, step,
			 removed, want);
	assert_int_equal(check_index(s), FLUSH_N - want);
}

static void test_flush(void **state)
{
	(void)state;
	for (size_t c = 0; c < sizeof(flush_cases) / sizeof(flush_cases[0]); c++) {
		const struct flush_case *fc = &flush_cases[c];
		uint8_t key[NAME_KEY_MAX];
		size_t klen = 0, removed = 99;
		struct tdns_txn *t = NULL;
		struct tdns_store *s;
		char dir[64];

		tu_tmpdir(dir);
		s = open_store(dir, 0);
		flush_fill(s);
		if (fc->name != NULL)
			qkey_of(fc->name, key, &klen);
		assert_int_equal(store_begin(s, true, &t), TDNS_OK);
		assert_int_equal(cache_flush(t, fc->kind, fc->name != NULL ? key : NULL,
					     klen, fc->qtype, &removed), TDNS_OK);
		assert_int_equal(store_commit(t), TDNS_OK);
		flush_check(s, fc, 0, removed);
		/* The cache goes on working: a flushed entry can come back. */
		flush_fill(s);
		store_close(s);
		tu_rmdir(dir);
	}
}

/* A flush of a name of every type takes the entries under the name's hash
 * (struct ckey in cache.c), not a walk of the cache: a key planted outside
 * that range whose record key is the name's (www.site. TXT under another
 * hash) is only reached by a walk, and stays. */
static void test_flush_name_range(void **state)
{
	struct fixture *f = *state;
	uint8_t key[NAME_KEY_MAX], rkey[RECORD_KEY_MAX], plant[4 + RECORD_KEY_MAX];
	uint8_t ck[4 + RECORD_KEY_MAX], ik[8 + RECORD_KEY_MAX], val[512];
	struct tdns_txn *t = NULL;
	struct tdns_val v;
	size_t klen, rlen, plen, vlen, removed = 0;

	flush_fill(f->s);
	qkey_of("www.site.", key, &klen);
	assert_int_equal(store_begin(f->s, true, &t), TDNS_OK);
	rlen = name_record_key(key, klen, LDNS_RR_TYPE_A, rkey);
	assert_int_equal(store_get(t, TDNS_DB_CACHE, ck, ckey_of(rkey, rlen, ck), &v),
			 TDNS_OK);
	assert_true(v.len <= sizeof(val));
	memcpy(val, v.data, v.len);
	vlen = v.len;
	rlen = name_record_key(key, klen, LDNS_RR_TYPE_TXT, rkey);
	plen = ckey_of(rkey, rlen, plant);
	plant[0] ^= 0x80;
	assert_int_equal(store_put(t, TDNS_DB_CACHE, plant, plen, val, vlen), TDNS_OK);
	/* Its index entry, so that the cache and the index stay as many. */
	v.data = val;
	v.len = vlen;
	dns_wr64(ik, entry_expiry(&v));
	memcpy(ik + 8, rkey, rlen);
	assert_int_equal(store_put(t, TDNS_DB_CACHE_EXP, ik, 8 + rlen, "", 0), TDNS_OK);
	assert_int_equal(store_commit(t), TDNS_OK);

	assert_int_equal(store_begin(f->s, true, &t), TDNS_OK);
	assert_int_equal(cache_flush(t, CACHE_FLUSH_NAME, key, klen, 0, &removed), TDNS_OK);
	assert_int_equal(store_commit(t), TDNS_OK);
	assert_int_equal(removed, 3); /* A, AAAA and the MX NODATA */
	assert_int_equal(lookup_status(f->s, "www.site.", LDNS_RR_TYPE_A, T0 + 1),
			 TDNS_ENOTFOUND);
	assert_int_equal(lookup_status(f->s, "wwwx.site.", LDNS_RR_TYPE_A, T0 + 1), TDNS_OK);
	assert_int_equal(lookup_status(f->s, "a.www.site.", LDNS_RR_TYPE_A, T0 + 1),
			 TDNS_OK);
	assert_int_equal(store_begin(f->s, false, &t), TDNS_OK);
	assert_int_equal(store_get(t, TDNS_DB_CACHE, plant, plen, &v), TDNS_OK);
	store_abort(t);
}

/* Run flush case fc on s in steps of `step` entries, each step in its own
 * write transaction (cache_flush_step), going on from *walk until it is
 * done; between the steps, between(s, i) when given. Returns the steps
 * taken, adds the entries removed to *n. */
static size_t flush_steps_walk(struct tdns_store *s, const struct flush_case *fc,
			       size_t step, void (*between)(struct tdns_store *, size_t),
			       struct cache_flush_walk *walk, size_t *n)
{
	struct cache_flush_walk w = *walk;
	uint8_t key[NAME_KEY_MAX];
	size_t klen = 0, steps = 0, removed;
	struct tdns_txn *t = NULL;

	if (fc->name != NULL)
		qkey_of(fc->name, key, &klen);
	while (!w.done) {
		assert_true(steps <= FLUSH_N + 1); /* it ends */
		if (steps > 0 && between != NULL)
			between(s, steps);
		assert_int_equal(store_begin(s, true, &t), TDNS_OK);
		assert_int_equal(cache_flush_step(t, fc->kind, fc->name != NULL ? key : NULL,
						  klen, fc->qtype, step, &w, &removed),
				 TDNS_OK);
		assert_int_equal(store_commit(t), TDNS_OK);
		*n += removed;
		steps++;
	}
	*walk = w;
	return steps;
}

static size_t flush_in_steps(struct tdns_store *s, const struct flush_case *fc,
			     size_t step, void (*between)(struct tdns_store *, size_t),
			     size_t *n)
{
	struct cache_flush_walk w = { .len = 0 };

	return flush_steps_walk(s, fc, step, between, &w, n);
}

/* Every flush case in steps of 1, 2, 3 and 8 entries removes what the
 * flush in one transaction does, with the index and the size account in
 * step; a walk of the whole cache (TREE, NEGATIVE) takes as many steps as
 * the step size says, the name's range and ALL one. */
static void test_flush_steps(void **state)
{
	static const size_t steps[] = { 1, 2, 3, 8 };

	(void)state;
	for (size_t c = 0; c < sizeof(flush_cases) / sizeof(flush_cases[0]); c++) {
		const struct flush_case *fc = &flush_cases[c];

		for (size_t j = 0; j < sizeof(steps) / sizeof(steps[0]); j++) {
			bool walks = fc->kind == CACHE_FLUSH_TREE ||
				     fc->kind == CACHE_FLUSH_NEGATIVE;
			size_t n = 0, took;
			struct tdns_store *s;
			char dir[64];

			tu_tmpdir(dir);
			s = open_store(dir, 0);
			flush_fill(s);
			took = flush_in_steps(s, fc, steps[j], NULL, &n);
			if (took != (walks ? (FLUSH_N + steps[j] - 1) / steps[j] : 1))
				fail_msg("%s in steps of %zu: %zu steps", fc->what,
					 steps[j], took);
			flush_check(s, fc, steps[j], n);
			store_close(s);
			tu_rmdir(dir);
		}
	}
}

/* Between the steps of a walk: every entry but host.example. (7) and
 * alias.site. (6) removed by a flush of its name, and a new name stored
 * under site. */
static void flush_others(struct tdns_store *s, size_t i)
{
	static const struct flush_case late = {
		"late", CACHE_FLUSH_NAME, NULL, 0, 0,
	};
	const char *an[] = { "late.site. 300 IN A 192.0.2.9", NULL };
	ldns_rdf *qn = dname("late.site.");
	ldns_pkt *resp = mkreply("late.site.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR,
				 an, NULL, NULL);
	size_t n = 0;

	assert_int_equal(tu_cache_insert(s, &cfg, qn, LDNS_RR_TYPE_A, resp, T0), TDNS_OK);
	ldns_rdf_deep_free(qn);
	ldns_pkt_free(resp);
	if (i != 1)
		return;
	for (size_t e = 0; e < 6; e++) {
		struct flush_case one = late;

		one.name = flush_entries[e].qname;
		flush_in_steps(s, &one, 0, NULL, &n);
	}
}

/* A walk in steps goes on from where it stopped however the cache changed
 * in between: the entry it was to visit next removed (with most others),
 * new entries stored. alias.site., there from the start, still goes;
 * host.example. stays; the walk ends, and the index follows. */
static void test_flush_steps_interleaved(void **state)
{
	static const struct flush_case zone = {
		"site.", CACHE_FLUSH_TREE, "site.", 0, 0,
	};
	struct fixture *f = *state;
	size_t n = 0, took;

	flush_fill(f->s);
	took = flush_in_steps(f->s, &zone, 1, flush_others, &n);
	assert_true(took >= 2);
	assert_int_equal(lookup_status(f->s, "alias.site.", LDNS_RR_TYPE_A, T0 + 1),
			 TDNS_ENOTFOUND);
	assert_int_equal(lookup_status(f->s, "host.example.", LDNS_RR_TYPE_A, T0 + 1),
			 TDNS_OK);
	assert_int_equal(check_index(f->s),
			 1 + (lookup_status(f->s, "late.site.", LDNS_RR_TYPE_A, T0 + 1) ==
			      TDNS_OK));
}

/* Keys that are no cache keys (a damaged store, its counts in step so
 * that no rebuild deletes them) count towards a step: a run of them at
 * the start fills the first step, which removes nothing and ends at the
 * first cache key; a run at the end goes with the last step, which ends
 * only at a key a step can resume from. The junk stays. */
static void test_flush_steps_junk(void **state)
{
	static const struct flush_case all = {
		"the root", CACHE_FLUSH_TREE, ".", 0, ALL_ENTRIES,
	};
	enum { JUNK = 5, STEP = 2 };
	struct fixture *f = *state;
	struct cache_flush_walk w = { .len = 0 };
	uint8_t key[NAME_KEY_MAX], junk[3];
	struct tdns_txn *t = NULL;
	struct tdns_val v;
	size_t klen, removed, n, steps;

	flush_fill(f->s);
	assert_int_equal(store_begin(f->s, true, &t), TDNS_OK);
	for (uint8_t i = 0; i < JUNK; i++) {
		junk[0] = junk[1] = i < 3 ? 0x00 : 0xff; /* before and after every hash */
		junk[2] = i;
		assert_int_equal(store_put(t, TDNS_DB_CACHE, junk, sizeof(junk), "", 0), TDNS_OK);
		assert_int_equal(store_put(t, TDNS_DB_CACHE_EXP, junk, sizeof(junk), "", 0),
				 TDNS_OK);
	}
	assert_int_equal(store_commit(t), TDNS_OK);

	qkey_of(all.name, key, &klen);
	assert_int_equal(store_begin(f->s, true, &t), TDNS_OK);
	assert_int_equal(cache_flush_step(t, all.kind, key, klen, 0, STEP, &w, &removed),
			 TDNS_OK);
	assert_int_equal(store_commit(t), TDNS_OK);
	assert_int_equal(removed, 0);
	assert_false(w.done);
	n = 0;
	steps = 1 + flush_steps_walk(f->s, &all, STEP, NULL, &w, &n);
	assert_int_equal(n, FLUSH_N);
	assert_int_equal(steps, 1 + (FLUSH_N + STEP - 1) / STEP);
	for (size_t i = 0; i < FLUSH_N; i++)
		assert_int_equal(lookup_status(f->s, flush_entries[i].qname,
					       flush_entries[i].qtype, T0 + 1),
				 TDNS_ENOTFOUND);
	assert_int_equal(store_begin(f->s, false, &t), TDNS_OK);
	assert_int_equal(store_count(t, TDNS_DB_CACHE), JUNK);
	assert_int_equal(store_get(t, TDNS_DB_CACHE, junk, sizeof(junk), &v), TDNS_OK);
	store_abort(t);
}

/* A flush of a name without one, or with a key longer than a name key,
 * is refused and removes nothing. */
static void test_flush_bad_args(void **state)
{
	struct fixture *f = *state;
	uint8_t key[NAME_KEY_MAX + 1] = { 0 };
	struct tdns_txn *t = NULL;
	size_t removed = 7;

	flush_fill(f->s);
	assert_int_equal(store_begin(f->s, true, &t), TDNS_OK);
	assert_int_equal(cache_flush(t, CACHE_FLUSH_NAME, NULL, 0, 0, &removed),
			 TDNS_EINVAL);
	assert_int_equal(removed, 0);
	assert_int_equal(cache_flush(t, CACHE_FLUSH_TREE, key, sizeof(key), 0, &removed),
			 TDNS_EINVAL);
	assert_int_equal(store_commit(t), TDNS_OK);
	assert_int_equal(check_index(f->s), FLUSH_N);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_poison_not_reachable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_top_bit_ttl, setup, teardown),
		cmocka_unit_test(test_refused_inputs),
		cmocka_unit_test(test_compressed_reply),
		cmocka_unit_test_setup_teardown(test_any_passed_through, setup, teardown),
		cmocka_unit_test_setup_teardown(test_case_and_type, setup, teardown),
		cmocka_unit_test_setup_teardown(test_survives_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_value, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dump, setup, teardown),
		cmocka_unit_test_setup_teardown(test_purge_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_budget_evicts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_many_lfu, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lfu_expired_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_budget_expired_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_account_purge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_budget_keeps_stale, setup, teardown),
		cmocka_unit_test_setup_teardown(test_index_steps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_evict_soonest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_index_rebuild, setup, teardown),
		cmocka_unit_test_setup_teardown(test_older_layout_dropped, setup, teardown),
		cmocka_unit_test(test_index_junk_keys),
		cmocka_unit_test_setup_teardown(test_hash_order_spread, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache_key_known, setup, teardown),
		cmocka_unit_test_setup_teardown(test_index_map_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hits_match_ldns, setup, teardown),
		cmocka_unit_test(test_flush),
		cmocka_unit_test_setup_teardown(test_flush_name_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_bad_args, setup, teardown),
		cmocka_unit_test(test_flush_steps),
		cmocka_unit_test_setup_teardown(test_flush_steps_interleaved, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_steps_junk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hit_edges, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
