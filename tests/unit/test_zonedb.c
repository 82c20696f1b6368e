/*
 * test_zonedb.c - zones and RRsets over the store (zonedb.h), with nested
 * zones in one store: the root `.`, `site.` and `b.a.site.`.
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
#include "tierdns/log.h"
#include "tierdns/name.h"
#include "tierdns/store.h"
#include "tierdns/zonedb.h"
#include "tierdns/zoneload.h"

static const char *const root_zone =
	". 86400 IN SOA a.root. admin.root. 7 3600 900 604800 300\n"
	". 86400 IN NS a.root.\n"
	"a.root. 86400 IN A 127.0.0.1\n"
	"other. 86400 IN TXT \"in the root zone\"\n";

static const char *const site_zone =
	"$ORIGIN site.\n"
	"$TTL 300\n"
	"@ IN SOA ns1 hostmaster 2024010101 3600 900 604800 300\n"
	"@ IN NS ns1\n"
	"ns1 IN A 192.0.2.53\n"
	"webapp IN A 192.0.2.10\n"
	"x.ent IN A 192.0.2.11\n"
	"a IN TXT \"above the b.a.site. zone\"\n";

static const char *const deep_zone =
	"$ORIGIN b.a.site.\n"
	"@ 60 IN SOA ns hm 5 1 1 1 1\n"
	"q 60 IN A 192.0.2.99\n";

struct fx {
	char dir[64];
	struct tdns_store *s;
	struct tdns_txn *t;
};

static void load(struct tdns_store *s, const char *text)
{
	char err[ZONELOAD_ERR_MAX] = "";

	if (zoneload_string(s, text, err, sizeof(err)) != TDNS_OK)
		fail_msg("load failed: %s", err);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	log_init("test_zonedb", TDNS_LOG_ERR);
	tu_tmpdir(f->dir);
	if (store_open(f->dir, NULL, &f->s) != TDNS_OK)
		return -1;
	load(f->s, root_zone);
	load(f->s, site_zone);
	load(f->s, deep_zone);
	if (store_begin(f->s, false, &f->t) != TDNS_OK)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	store_abort(f->t);
	store_close(f->s);
	tu_rmdir(f->dir);
	free(f);
	return 0;
}

static size_t key_of(const char *name, uint8_t *key)
{
	size_t klen = 0;

	assert_int_equal(zoneload_name_key(name, key, &klen), TDNS_OK);
	return klen;
}

static void test_find_closest_enclosing(void **state)
{
	static const struct {
		const char *name;
		const char *apex;
		uint32_t serial;
	} cases[] = {
		{ "webapp.site.", "site.", 2024010101 },
		{ "WebApp.SITE.", "site.", 2024010101 },
		{ "site.", "site.", 2024010101 },
		{ "nosuch.site.", "site.", 2024010101 },
		{ "a.site.", "site.", 2024010101 },
		{ "b.a.site.", "b.a.site.", 5 },
		{ "x.q.b.a.site.", "b.a.site.", 5 },
		{ "sites.", ".", 7 },
		{ "example.com.", ".", 7 },
		{ ".", ".", 7 },
	};
	struct fx *f = *state;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t key[NAME_KEY_MAX], apex[NAME_KEY_MAX];
		size_t klen = key_of(cases[i].name, key);
		size_t alen = key_of(cases[i].apex, apex), found = 999;
		struct tdns_zone_meta m;

		print_message("%s\n", cases[i].name);
		assert_int_equal(zonedb_find(f->t, key, klen, &found, &m), TDNS_OK);
		assert_int_equal(found, alen);
		assert_memory_equal(key, apex, alen);
		assert_int_equal(m.serial, cases[i].serial);
	}
}

static bool cache_find(struct zonedb_cache *zc, struct tdns_txn *t,
		       const char *name, const char *apex, uint32_t serial)
{
	uint8_t key[NAME_KEY_MAX], akey[NAME_KEY_MAX];
	size_t klen = key_of(name, key), alen = key_of(apex, akey), found = 999;
	struct tdns_zone_meta m;
	bool cuts = false;

	print_message("%s\n", name);
	assert_int_equal(zonedb_cache_find(zc, t, key, klen, &found, &m, &cuts),
			 TDNS_OK);
	assert_int_equal(found, alen);
	assert_memory_equal(key, akey, alen);
	assert_int_equal(m.serial, serial);
	return cuts;
}

/* The cached zone list finds what zonedb_find finds, knows which zones
 * have a cut below their apex (NS of deeper zones held here do not count),
 * and follows commits at the next snapshot; a write transaction bypasses it. */
/* Whether the name of text is outside every zone of t through zc. */
static bool outside(struct zonedb_cache *zc, struct tdns_txn *t, const char *name)
{
	uint8_t key[NAME_KEY_MAX];
	size_t klen = key_of(name, key);

	return zonedb_cache_outside(zc, t, key, klen);
}

/* zonedb_cache_outside: true only for a committed snapshot that holds no
 * zone at or above the name, with a few zones (compared one by one), with
 * many (hashed), and after some are removed; a store whose root zone
 * encloses everything, a write transaction and a snapshot whose zone list
 * cannot be trusted all say "not outside" (the caller then looks up). */
static void test_cache_outside(void **state)
{
	static const char *const names[] = {
		"z.", "www.z.", "y.", "www.y.", "zz.", "z3.many.", "a.z3.many.",
		"many.", "z12.many.", "a.z12.many.", "x.z9.many.", ".", "z8.many.",
		"b.z10.many.", "z11.many.", "z7.many.",
	};
	struct fx *f = *state;
	struct zonedb_cache *zc = NULL;
	struct tdns_store *s = NULL;
	struct tdns_txn *t = NULL, *w = NULL;
	uint8_t key[NAME_KEY_MAX];
	char text[160];
	size_t klen;
	char dir[64];

	assert_int_equal(zonedb_cache_new(&zc), TDNS_OK);
	assert_false(outside(zc, f->t, "example.com.")); /* the root zone */
	assert_false(outside(zc, f->t, "webapp.site."));
	tu_tmpdir(dir);
	assert_int_equal(store_open(dir, NULL, &s), TDNS_OK);
	assert_int_equal(store_begin(s, false, &t), TDNS_OK);
	assert_true(outside(zc, t, "www.z."));
	assert_true(outside(zc, t, "."));
	store_reset(t);
	/* A zone committed meanwhile is seen by the renewed snapshot; then
	 * more than zc_lookup compares one by one. */
	for (int round = 0; round < 3; round++) {
		if (round == 0) {
			load(s, "$ORIGIN z.\n@ 60 IN SOA ns hm 1 1 1 1 1\n@ 60 IN NS ns\n");
		} else if (round == 1) {
			for (int i = 0; i < 12; i++) {
				snprintf(text, sizeof(text), "$ORIGIN z%d.many.\n@ 60 IN SOA "
					 "ns hm 1 1 1 1 1\n@ 60 IN NS ns\n", i);
				load(s, text);
			}
		} else {
			/* 13 zones to 9: the index keeps its size, and must
			 * forget the zones gone (the last four in key order,
			 * whose old places in the list are not written over). */
			assert_int_equal(store_begin(s, true, &w), TDNS_OK);
			for (int i = 0; i < 4; i++) {
				snprintf(text, sizeof(text), "z%d.many.", i + 8);
				klen = key_of(text, key);
				assert_int_equal(zonedb_delete_zone(w, key, klen), TDNS_OK);
			}
			assert_int_equal(store_commit(w), TDNS_OK);
		}
		assert_int_equal(store_renew(t), TDNS_OK);
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			size_t apex;
			struct tdns_zone_meta m;

			klen = key_of(names[i], key);
			if (outside(zc, t, names[i]) !=
			    (zonedb_find(t, key, klen, &apex, &m) == TDNS_ENOTFOUND))
				fail_msg("round %d: %s", round, names[i]);
		}
		store_reset(t);
	}
	assert_int_equal(store_renew(t), TDNS_OK);
	assert_false(outside(zc, t, "www.z."));
	assert_true(outside(zc, t, "www.y."));
	store_abort(t);
	assert_int_equal(store_begin(s, true, &w), TDNS_OK);
	klen = key_of("z.", key);
	assert_int_equal(zonedb_delete_zone(w, key, klen), TDNS_OK);
	assert_false(outside(zc, w, "www.y."));
	/* A malformed zone entry: the list skips it, so it is no proof that
	 * no zone encloses a name. */
	key[klen] = 0;
	assert_int_equal(store_put(w, TDNS_DB_ZONES, key, klen + 1, "bad", 3), TDNS_OK);
	assert_int_equal(store_commit(w), TDNS_OK);
	assert_int_equal(store_begin(s, false, &t), TDNS_OK);
	assert_false(outside(zc, t, "www.y."));
	store_abort(t);
	store_close(s);
	tu_rmdir(dir);
	zonedb_cache_free(zc);
}

static void test_cache_find(void **state)
{
	static const char *const child =
		"$ORIGIN c.site.\n"
		"@ 60 IN SOA ns hm 3 1 1 1 1\n"
		"@ 60 IN NS ns\n"
		"ns 60 IN A 192.0.2.3\n"
		"d 60 IN NS ns.elsewhere.\n";
	struct fx *f = *state;
	struct zonedb_cache *zc = NULL;
	struct tdns_txn *w = NULL;
	uint8_t key[NAME_KEY_MAX];
	size_t klen = key_of("example.", key), found;
	struct tdns_zone_meta m;
	bool cuts;

	assert_int_equal(zonedb_cache_new(&zc), TDNS_OK);
	assert_false(cache_find(zc, f->t, "webapp.site.", "site.", 2024010101));
	assert_false(cache_find(zc, f->t, "x.q.b.a.site.", "b.a.site.", 5));
	assert_false(cache_find(zc, f->t, "example.com.", ".", 7));
	assert_false(cache_find(zc, f->t, "x.c.site.", "site.", 2024010101));

	store_reset(f->t);
	load(f->s, child);
	assert_int_equal(store_renew(f->t), TDNS_OK);
	assert_true(cache_find(zc, f->t, "x.c.site.", "c.site.", 3));
	assert_false(cache_find(zc, f->t, "webapp.site.", "site.", 2024010101));

	assert_int_equal(store_begin(f->s, true, &w), TDNS_OK);
	assert_int_equal(zonedb_delete_zone(w, key, 0), TDNS_OK);
	assert_int_equal(zonedb_cache_find(zc, w, key, klen, &found, &m, &cuts),
			 TDNS_ENOTFOUND);
	assert_true(cuts);
	store_abort(w);

	/* Malformed metadata of a zone between: an error, as zonedb_find
	 * says, not the next zone up. */
	klen = key_of("x.site.", key);
	key[klen] = 0;
	store_reset(f->t);
	assert_int_equal(store_begin(f->s, true, &w), TDNS_OK);
	assert_int_equal(store_put(w, TDNS_DB_ZONES, key, klen + 1, "bad", 3), TDNS_OK);
	assert_int_equal(store_commit(w), TDNS_OK);
	assert_int_equal(store_renew(f->t), TDNS_OK);
	klen = key_of("a.x.site.", key);
	assert_int_equal(zonedb_find(f->t, key, klen, &found, &m), TDNS_EINVAL);
	assert_int_equal(zonedb_cache_find(zc, f->t, key, klen, &found, &m, &cuts),
			 TDNS_EINVAL);
	/* Other names still find their zone; cuts unknown while bypassed. */
	assert_true(cache_find(zc, f->t, "webapp.site.", "site.", 2024010101));
	zonedb_cache_free(zc);
}

/* With more zones than zc_lookup compares one by one (it then hashes),
 * the cached list still finds what zonedb_find finds: 40 flat zones and a
 * chain of 4 nested ones beside the fixture's 3, for names in each, below
 * each, between them and outside all but the root; and no name is outside
 * every zone, the root's included. */
static void test_cache_find_many(void **state)
{
	static const char *const chain[] = { "d.", "c.d.", "b.c.d.", "a.b.c.d." };
	static const char *const names[] = {
		"d.", "x.d.", "c.d.", "x.c.d.", "b.c.d.", "y.b.c.d.", "a.b.c.d.",
		"x.a.b.c.d.", "q.b.a.site.", "webapp.site.", "many.", "x.many.",
		"z40.many.", "z1.z2.many.", "other.",
	};
	struct fx *f = *state;
	struct zonedb_cache *zc = NULL;
	char text[256], name[64];
	size_t i;

	assert_int_equal(zonedb_cache_new(&zc), TDNS_OK);
	store_reset(f->t);
	for (i = 0; i < 40; i++) {
		snprintf(text, sizeof(text), "$ORIGIN z%zu.many.\n@ 60 IN SOA ns hm %zu 1 1 1 1\n"
			 "@ 60 IN NS ns\n", i, i + 1);
		load(f->s, text);
	}
	for (i = 0; i < sizeof(chain) / sizeof(chain[0]); i++) {
		snprintf(text, sizeof(text), "$ORIGIN %s\n@ 60 IN SOA ns hm %zu 1 1 1 1\n"
			 "@ 60 IN NS ns\n", chain[i], 100 + i);
		load(f->s, text);
	}
	assert_int_equal(store_renew(f->t), TDNS_OK);
	for (i = 0; i < 40 + sizeof(names) / sizeof(names[0]); i++) {
		uint8_t key[NAME_KEY_MAX];
		size_t klen, want = 0, got = 0;
		struct tdns_zone_meta wm, gm;
		enum tdns_status wst, gst;
		bool cuts;

		if (i < 40)
			snprintf(name, sizeof(name), "www.z%zu.many.", i);
		else
			snprintf(name, sizeof(name), "%s", names[i - 40]);
		klen = key_of(name, key);
		wst = zonedb_find(f->t, key, klen, &want, &wm);
		gst = zonedb_cache_find(zc, f->t, key, klen, &got, &gm, &cuts);
		/* The root zone encloses every name. */
		if (zonedb_cache_outside(zc, f->t, key, klen))
			fail_msg("%s: outside every zone, with the root zone held", name);
		if (wst != gst || (wst == TDNS_OK && (want != got || wm.serial != gm.serial)))
			fail_msg("%s: zonedb_find %d, apex %zu, serial %u; the cache %d, "
				 "apex %zu, serial %u", name, wst, want, wm.serial, gst,
				 got, gm.serial);
	}
	zonedb_cache_free(zc);
}

static void test_find_without_root(void **state)
{
	struct fx *f = *state;
	struct tdns_txn *w = NULL;
	uint8_t key[NAME_KEY_MAX];
	size_t klen, alen;
	struct tdns_zone_meta m;
	unsigned name_st;

	store_abort(f->t);
	f->t = NULL;
	assert_int_equal(store_begin(f->s, true, &w), TDNS_OK);
	assert_int_equal(zonedb_delete_zone(w, (const uint8_t *)"", 0), TDNS_OK);
	assert_int_equal(zonedb_delete_zone(w, (const uint8_t *)"", 0), TDNS_ENOTFOUND);
	assert_int_equal(store_commit(w), TDNS_OK);
	assert_int_equal(store_begin(f->s, false, &f->t), TDNS_OK);
	klen = key_of("example.com.", key);
	assert_int_equal(zonedb_find(f->t, key, klen, &alen, &m), TDNS_ENOTFOUND);
	/* Deleting the root zone removed its records, not site.'s. */
	klen = key_of("other.", key);
	assert_int_equal(zonedb_name_state(f->t, key, klen, &name_st), TDNS_OK);
	assert_int_equal(name_st, ZONEDB_NAME_NONE);
	klen = key_of("webapp.site.", key);
	assert_int_equal(zonedb_find(f->t, key, klen, &alen, &m), TDNS_OK);
	assert_int_equal(zonedb_name_state(f->t, key, klen, &name_st), TDNS_OK);
	assert_int_equal(name_st, ZONEDB_NAME_DATA);
	klen = key_of("q.b.a.site.", key);
	assert_int_equal(zonedb_name_state(f->t, key, klen, &name_st), TDNS_OK);
	assert_int_equal(name_st, ZONEDB_NAME_DATA);
}

static void test_name_state(void **state)
{
	static const struct {
		const char *name;
		unsigned state;
	} cases[] = {
		{ "webapp.site.", ZONEDB_NAME_DATA },
		{ "ent.site.", ZONEDB_NAME_CHILDREN }, /* empty non-terminal */
		{ "x.ent.site.", ZONEDB_NAME_DATA },
		{ "site.", ZONEDB_NAME_DATA | ZONEDB_NAME_CHILDREN },
		{ "nosuch.site.", ZONEDB_NAME_NONE },
		{ "y.x.ent.site.", ZONEDB_NAME_NONE },
		{ "a.site.", ZONEDB_NAME_DATA | ZONEDB_NAME_CHILDREN },
		{ ".", ZONEDB_NAME_DATA | ZONEDB_NAME_CHILDREN },
		{ "sites.", ZONEDB_NAME_NONE },
		{ "root.", ZONEDB_NAME_CHILDREN },
	};
	struct fx *f = *state;
	unsigned name_st;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t key[NAME_KEY_MAX];
		size_t klen = key_of(cases[i].name, key);

		print_message("%s\n", cases[i].name);
		assert_int_equal(zonedb_name_state(f->t, key, klen, &name_st), TDNS_OK);
		assert_int_equal(name_st, cases[i].state);
	}
}

struct seen {
	char names[32][64];
	uint16_t types[32];
	size_t n;
};

static int collect(void *ctx, const uint8_t *key, size_t klen, uint16_t type,
		   const struct tdns_rrset_view *v)
{
	struct seen *s = ctx;
	uint8_t wire[NAME_WIRE_MAX];
	size_t wlen;
	ldns_rdf *rdf;
	char *str;

	(void)v;
	assert_true(s->n < 32);
	assert_int_equal(name_key_to_wire(key, klen, wire, &wlen), TDNS_OK);
	rdf = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME, wlen, wire);
	str = ldns_rdf2str(rdf);
	snprintf(s->names[s->n], sizeof(s->names[0]), "%s", str);
	s->types[s->n] = type;
	s->n++;
	free(str);
	ldns_rdf_deep_free(rdf);
	return 0;
}

static void test_walk_skips_deeper_zones(void **state)
{
	static const struct {
		const char *apex;
		const char *expect[8]; /* "name/type" in key order */
	} cases[] = {
		{ ".", { "./2", "./6", "a.root./1", "other./16" } },
		/* Keys order labels by length first: x.ent before ns1. */
		{ "site.", { "site./2", "site./6", "a.site./16", "x.ent.site./1",
			     "ns1.site./1", "webapp.site./1" } },
		{ "b.a.site.", { "b.a.site./6", "q.b.a.site./1" } },
	};
	struct fx *f = *state;
	size_t i, j;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t apex[NAME_KEY_MAX];
		size_t alen = key_of(cases[i].apex, apex);
		struct seen s;

		memset(&s, 0, sizeof(s));
		print_message("%s\n", cases[i].apex);
		assert_int_equal(zonedb_walk(f->t, apex, alen, collect, &s, NULL), TDNS_OK);
		for (j = 0; cases[i].expect[j] != NULL; j++) {
			char got[80];

			assert_true(j < s.n);
			snprintf(got, sizeof(got), "%s/%u", s.names[j], (unsigned)s.types[j]);
			assert_string_equal(got, cases[i].expect[j]);
		}
		assert_int_equal(s.n, j);
	}
}

static int stop_at_second(void *ctx, uint16_t type, const struct tdns_rrset_view *v)
{
	int *n = ctx;

	(void)type;
	(void)v;
	return ++*n == 2 ? 42 : 0;
}

static int types_at(void *ctx, uint16_t type, const struct tdns_rrset_view *v)
{
	struct seen *s = ctx;

	(void)v;
	s->types[s->n++] = type;
	return 0;
}

static void test_name_rrsets_and_get(void **state)
{
	struct fx *f = *state;
	uint8_t key[NAME_KEY_MAX];
	size_t klen = key_of("site.", key);
	struct tdns_rrset_view v;
	struct seen s;
	const uint8_t *rd;
	uint16_t rdlen;
	size_t pos = 0;
	int n = 0, stop = 0;

	memset(&s, 0, sizeof(s));
	assert_int_equal(zonedb_name_rrsets(f->t, key, klen, types_at, &s, NULL), TDNS_OK);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.types[0], LDNS_RR_TYPE_NS);
	assert_int_equal(s.types[1], LDNS_RR_TYPE_SOA);
	/* A callback's non-zero return stops the walk and is handed back. */
	assert_int_equal(zonedb_name_rrsets(f->t, key, klen, stop_at_second, &n,
					    &stop), TDNS_OK);
	assert_int_equal(stop, 42);
	/* Not the children's RRsets. */
	memset(&s, 0, sizeof(s));
	klen = key_of("ent.site.", key);
	assert_int_equal(zonedb_name_rrsets(f->t, key, klen, types_at, &s, NULL), TDNS_OK);
	assert_int_equal(s.n, 0);

	klen = key_of("webapp.site.", key);
	assert_int_equal(zonedb_get_rrset(f->t, key, klen, LDNS_RR_TYPE_A, &v), TDNS_OK);
	assert_int_equal(v.ttl, 300);
	assert_int_equal(v.count, 1);
	assert_int_equal(rrset_next(&v, &pos, &rd, &rdlen), 1);
	assert_int_equal(rdlen, 4);
	assert_memory_equal(rd, "\xc0\x00\x02\x0a", 4);
	assert_int_equal(zonedb_get_rrset(f->t, key, klen, LDNS_RR_TYPE_AAAA, &v),
			 TDNS_ENOTFOUND);
}

static void test_malformed_value(void **state)
{
	struct fx *f = *state;
	struct tdns_txn *w = NULL;
	uint8_t key[NAME_KEY_MAX];
	size_t klen = key_of("bad.site.", key);
	struct tdns_rrset_view v;
	struct seen s;

	store_abort(f->t);
	f->t = NULL;
	assert_int_equal(store_begin(f->s, true, &w), TDNS_OK);
	assert_int_equal(zonedb_put_rrset(w, key, klen, LDNS_RR_TYPE_A,
					  (const uint8_t *)"\0\0\0\1\0\2\0\4abcd", 12),
			 TDNS_OK);
	assert_int_equal(zonedb_get_rrset(w, key, klen, LDNS_RR_TYPE_A, &v), TDNS_EINVAL);
	/* The RRsets of one name come whole or not at all (ANY answers). */
	memset(&s, 0, sizeof(s));
	assert_int_equal(zonedb_name_rrsets(w, key, klen, types_at, &s, NULL),
			 TDNS_EINVAL);
	/* Walks skip it and keep going. */
	memset(&s, 0, sizeof(s));
	klen = key_of("site.", key);
	assert_int_equal(zonedb_walk(w, key, klen, collect, &s, NULL), TDNS_OK);
	assert_int_equal(s.n, 6);
	store_abort(w);
}

static int delete_all_but_ns(void *ctx, const uint8_t *rk, size_t rklen,
			     const uint8_t *val, size_t vlen, bool *del)
{
	size_t *n = ctx, klen;
	uint16_t type;

	(void)val;
	(void)vlen;
	assert_true(name_record_key_split(rk, rklen, &klen, &type));
	(*n)++;
	*del = type != LDNS_RR_TYPE_NS;
	return 0;
}

static void test_sweep_and_clear(void **state)
{
	struct fx *f = *state;
	struct tdns_txn *w = NULL;
	uint8_t site[NAME_KEY_MAX], key[NAME_KEY_MAX];
	size_t slen = key_of("site.", site), klen, visited = 0;
	uint32_t rrsets = 0, records = 0;
	struct tdns_rrset_view v;

	store_abort(f->t);
	f->t = NULL;
	assert_int_equal(store_begin(f->s, true, &w), TDNS_OK);
	assert_int_equal(zonedb_sweep(w, site, slen, delete_all_but_ns, &visited), TDNS_OK);
	assert_int_equal(visited, 6); /* site.'s own six, not b.a.site.'s */
	assert_int_equal(zonedb_get_rrset(w, site, slen, LDNS_RR_TYPE_NS, &v), TDNS_OK);
	assert_int_equal(zonedb_get_rrset(w, site, slen, LDNS_RR_TYPE_SOA, &v),
			 TDNS_ENOTFOUND);
	klen = key_of("q.b.a.site.", key);
	assert_int_equal(zonedb_get_rrset(w, key, klen, LDNS_RR_TYPE_A, &v), TDNS_OK);
	assert_int_equal(zonedb_clear(w, site, slen, &rrsets, &records), TDNS_OK);
	assert_int_equal(rrsets, 1);
	assert_int_equal(records, 1);
	assert_int_equal(zonedb_get_rrset(w, key, klen, LDNS_RR_TYPE_A, &v), TDNS_OK);
	/* The root zone's range minus both deeper zones is untouched. */
	klen = key_of("a.root.", key);
	assert_int_equal(zonedb_get_rrset(w, key, klen, LDNS_RR_TYPE_A, &v), TDNS_OK);
	store_abort(w);
}

struct zl {
	char names[8][64];
	uint32_t serials[8];
	size_t n;
};

static int list_cb(void *ctx, const uint8_t *apex, size_t apex_len,
		   const struct tdns_zone_meta *m)
{
	struct zl *z = ctx;
	struct seen s;

	memset(&s, 0, sizeof(s));
	collect(&s, apex, apex_len, 0, NULL);
	snprintf(z->names[z->n], sizeof(z->names[0]), "%s", s.names[0]);
	z->serials[z->n++] = m->serial;
	return 0;
}

static void test_list_and_meta(void **state)
{
	struct fx *f = *state;
	struct zl z;
	struct tdns_zone_meta m;
	uint8_t key[NAME_KEY_MAX];
	size_t klen = key_of("site.", key);
	bool deeper = false;

	memset(&z, 0, sizeof(z));
	assert_int_equal(zonedb_list(f->t, list_cb, &z, NULL), TDNS_OK);
	assert_int_equal(z.n, 3);
	assert_string_equal(z.names[0], ".");
	assert_string_equal(z.names[1], "site.");
	assert_string_equal(z.names[2], "b.a.site.");
	assert_int_equal(z.serials[2], 5);
	assert_int_equal(zonedb_get_meta(f->t, key, klen, &m), TDNS_OK);
	assert_int_equal(m.rrsets, 6);
	assert_int_equal(m.records, 6);
	assert_true(m.loaded_at > 0);
	klen = key_of("webapp.site.", key);
	assert_int_equal(zonedb_get_meta(f->t, key, klen, &m), TDNS_ENOTFOUND);
	assert_int_equal(zonedb_in_deeper_zone(f->t, (const uint8_t *)"", 0, key,
					       klen, &deeper), TDNS_OK);
	assert_true(deeper);
	klen = key_of("other.", key);
	assert_int_equal(zonedb_in_deeper_zone(f->t, (const uint8_t *)"", 0, key,
					       klen, &deeper), TDNS_OK);
	assert_false(deeper);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_find_closest_enclosing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_find_without_root, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache_find, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache_find_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache_outside, setup, teardown),
		cmocka_unit_test_setup_teardown(test_name_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_walk_skips_deeper_zones, setup, teardown),
		cmocka_unit_test_setup_teardown(test_name_rrsets_and_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_value, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_and_meta, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sweep_and_clear, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
