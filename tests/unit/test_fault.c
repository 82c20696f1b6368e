/*
 * test_fault.c - an error is never an answer, proven by fault injection.
 *
 * Linked against tierdns_fault (store.h store_fault_arm). For every query
 * of the tables below: answer it once without faults (the right answer,
 * checked against the table's rcode and section counts), count the store
 * operations k it takes, then for n = 1..k make the n-th operation fail and
 * answer it again. Each faulted reply must be the right answer or a clean
 * SERVFAIL (rcode 2, no answer and no authority records, an EDE option when
 * the query had EDNS, RFC 8914) - never NXDOMAIN, NODATA, a referral or a
 * partial answer. A query that touches the store must have at least one n
 * that gives SERVFAIL, so the test cannot pass without injecting anything.
 *
 * The upper tier is driven through auth_answer, with and without a zone
 * list cache (a fresh one per run, so its refresh is under fault too).
 * The local tier is driven through resolver_query over a store holding a
 * static zone and cached answers, with a transport that must never be
 * used: a store error must not turn into an upstream query. Both write
 * their replies with the one encoder (encode.h), so a faulted reply that
 * is not a SERVFAIL must equal the right one byte for byte.
 *
 * Single-threaded: the fault state is per thread.
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
#include "tierdns/auth.h"
#include "tierdns/cache.h"
#include "tierdns/clock.h"
#include "tierdns/dnsproto.h"
#include "tierdns/resolve.h"
#include "tierdns/store.h"
#include "oracle.h"
#include "tierdns/zonedb.h"
#include "tierdns/zoneload.h"

#define T0 1700000000u

/* ---- the upper tier's zones: every answer shape ---- */

static const char ZONE_SITE[] =
	"$ORIGIN site.\n"
	"$TTL 3600\n"
	"@ SOA ns1.site. hostmaster.site. 2024010101 7200 3600 1209600 300\n"
	"@ NS ns1\n"
	"@ NS ns2\n"
	"@ MX 10 mail\n"
	"ns1 A 192.0.2.1\n"
	"ns1 AAAA 2001:db8::1\n"
	"ns2 A 192.0.2.2\n"
	"mail A 192.0.2.25\n"
	"webapp A 192.0.2.10\n"
	"webapp TXT \"the web app\"\n"
	"multi A 192.0.2.21\n"
	"multi A 192.0.2.22\n"
	"www CNAME webapp\n"
	"alias CNAME www\n"
	"tokid CNAME www.kid\n"
	"a.b.c A 192.0.2.30\n"
	"*.wild A 192.0.2.99\n"
	"*.wc CNAME webapp\n"
	"sub NS ns1.sub\n"
	"sub NS ns.elsewhere.\n"
	"sub DS 12345 8 2 "
	"49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE5D1F9E4A3F1A1B7E8E2C3D4F\n"
	"ns1.sub A 192.0.2.53\n"
	"ns1.sub AAAA 2001:db8::53\n"
	"kid NS ns1.kid\n"
	"ns1.kid A 192.0.2.151\n";

/* A child zone held in the same store: it answers for itself. */
static const char ZONE_KID[] =
	"$ORIGIN kid.site.\n"
	"$TTL 600\n"
	"@ SOA ns1.kid.site. hostmaster.kid.site. 7 7200 3600 1209600 120\n"
	"@ NS ns1\n"
	"ns1 A 192.0.2.151\n"
	"www A 192.0.2.150\n";

/* A zone without delegations (the zone list cache marks it cut-free). */
static const char ZONE_FLAT[] =
	"$ORIGIN flat.\n"
	"$TTL 300\n"
	"@ SOA ns.flat. hostmaster.flat. 1 7200 3600 1209600 60\n"
	"@ NS ns\n"
	"ns A 192.0.2.88\n"
	"host A 192.0.2.89\n";

struct fault_case {
	const char *what;
	const char *qname;
	uint16_t qtype;
	bool edns;
	uint8_t rcode; /* of the right answer, with its section counts */
	uint16_t an, ns, ar;
};

#define EDNS true
#define NOEDNS false
#define NOERROR DNS_RCODE_NOERROR
#define NXDOMAIN DNS_RCODE_NXDOMAIN
#define REFUSED DNS_RCODE_REFUSED

/* ar counts the OPT record when the query had EDNS. */
static const struct fault_case upper_cases[] = {
	{ "positive", "webapp.site.", DNS_TYPE_A, EDNS, NOERROR, 1, 0, 1 },
	{ "positive, no EDNS", "Multi.Site.", DNS_TYPE_A, NOEDNS, NOERROR, 2, 0, 0 },
	{ "positive, cut-free zone", "host.flat.", DNS_TYPE_A, EDNS, NOERROR, 1, 0, 1 },
	{ "CNAME chain", "alias.site.", DNS_TYPE_A, EDNS, NOERROR, 3, 0, 1 },
	{ "CNAME into a nested zone", "tokid.site.", DNS_TYPE_A, EDNS, NOERROR, 2, 0, 1 },
	{ "wildcard", "x.wild.site.", DNS_TYPE_A, EDNS, NOERROR, 1, 0, 1 },
	{ "wildcard CNAME", "y.wc.site.", DNS_TYPE_A, EDNS, NOERROR, 2, 0, 1 },
	{ "NXDOMAIN", "nosuch.site.", DNS_TYPE_A, EDNS, NXDOMAIN, 0, 1, 1 },
	{ "NXDOMAIN, no EDNS", "deep.nosuch.site.", DNS_TYPE_A, NOEDNS, NXDOMAIN, 0, 1, 0 },
	{ "NXDOMAIN, cut-free zone", "nosuch.flat.", DNS_TYPE_A, EDNS, NXDOMAIN, 0, 1, 1 },
	{ "NODATA", "webapp.site.", DNS_TYPE_AAAA, EDNS, NOERROR, 0, 1, 1 },
	{ "empty non-terminal", "b.c.site.", DNS_TYPE_A, EDNS, NOERROR, 0, 1, 1 },
	{ "referral with glue", "www.sub.site.", DNS_TYPE_A, EDNS, NOERROR, 0, 2, 3 },
	{ "DS at a cut", "sub.site.", DNS_TYPE_DS, EDNS, NOERROR, 1, 0, 1 },
	{ "DS at a nested apex", "kid.site.", DNS_TYPE_DS, EDNS, NOERROR, 0, 1, 1 },
	{ "NS with glue", "site.", DNS_TYPE_NS, EDNS, NOERROR, 2, 0, 4 },
	{ "ANY", "webapp.site.", DNS_TYPE_ANY, EDNS, NOERROR, 2, 0, 1 },
	{ "ANY at the apex", "site.", DNS_TYPE_ANY, EDNS, NOERROR, 4, 0, 1 },
	{ "nested zone", "www.kid.site.", DNS_TYPE_A, EDNS, NOERROR, 1, 0, 1 },
	{ "nested zone NXDOMAIN", "no.kid.site.", DNS_TYPE_A, EDNS, NXDOMAIN, 0, 1, 1 },
	{ "outside every zone", "example.org.", DNS_TYPE_A, EDNS, REFUSED, 0, 0, 1 },
};

/* ---- the local tier: a static zone and cached answers ---- */

static const char ZONE_HOME[] =
	"$ORIGIN home.arpa.\n"
	"$TTL 3600\n"
	"@ SOA ns.home.arpa. admin.home.arpa. 1 3600 900 604800 300\n"
	"@ NS ns\n"
	"ns A 192.168.1.1\n"
	"nas A 192.168.1.10\n";

/* Cached upstream replies: question, rcode, answer, authority. */
struct cached {
	const char *qname;
	uint16_t qtype;
	uint8_t rcode;
	const char *an[4];
	const char *ns[2];
};

#define CACHED_SOA "cached. 3600 IN SOA ns.cached. host.cached. 1 7200 900 1209600 300"

static const struct cached cached[] = {
	{ "www.cached.", DNS_TYPE_A, NOERROR,
	  { "www.cached. 300 IN A 192.0.2.10", NULL }, { NULL } },
	{ "alias.cached.", DNS_TYPE_A, NOERROR,
	  { "alias.cached. 300 IN CNAME www.cached.",
	    "www.cached. 300 IN A 192.0.2.10", NULL }, { NULL } },
	{ "nosuch.cached.", DNS_TYPE_A, NXDOMAIN, { NULL }, { CACHED_SOA, NULL } },
	{ "www.cached.", DNS_TYPE_AAAA, NOERROR, { NULL }, { CACHED_SOA, NULL } },
};

static const struct fault_case local_cases[] = {
	{ "static positive", "nas.home.arpa.", DNS_TYPE_A, EDNS, NOERROR, 1, 0, 1 },
	{ "static positive, no EDNS", "NAS.home.arpa.", DNS_TYPE_A, NOEDNS, NOERROR, 1, 0, 0 },
	{ "static NXDOMAIN", "nope.home.arpa.", DNS_TYPE_A, EDNS, NXDOMAIN, 0, 1, 1 },
	{ "static NODATA", "nas.home.arpa.", DNS_TYPE_AAAA, EDNS, NOERROR, 0, 1, 1 },
	{ "cache hit", "www.cached.", DNS_TYPE_A, EDNS, NOERROR, 1, 0, 1 },
	{ "cache hit, no EDNS", "WWW.cached.", DNS_TYPE_A, NOEDNS, NOERROR, 1, 0, 0 },
	{ "cached CNAME chain", "alias.cached.", DNS_TYPE_A, EDNS, NOERROR, 2, 0, 1 },
	{ "cached NXDOMAIN", "nosuch.cached.", DNS_TYPE_A, EDNS, NXDOMAIN, 0, 1, 1 },
	{ "cached NODATA", "www.cached.", DNS_TYPE_AAAA, EDNS, NOERROR, 0, 1, 1 },
};

/* ---- helpers ---- */

struct fx {
	char dir[64];
	struct tdns_store *store;
};

static struct fx *fx_new(const char *const *zones)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct tdns_zoneset *zs = zoneload_new();
	char err[ZONELOAD_ERR_MAX];

	assert_non_null(f);
	assert_non_null(zs);
	tu_tmpdir(f->dir);
	assert_int_equal(store_open(f->dir, NULL, &f->store), TDNS_OK);
	for (; *zones != NULL; zones++)
		if (zoneload_text(zs, *zones, "inline", err, sizeof(err)) != TDNS_OK)
			fail_msg("zone text: %s", err);
	assert_int_equal(zoneload_commit(zs, f->store), TDNS_OK);
	zoneload_free(zs);
	return f;
}

static void fx_free(struct fx *f)
{
	store_close(f->store);
	tu_rmdir(f->dir);
	free(f);
}

static ldns_rr *rr_from(const char *text)
{
	ldns_rr *rr = NULL;

	if (ldns_rr_new_frm_str(&rr, text, 0, NULL, NULL) != LDNS_STATUS_OK)
		fail_msg("bad record in test: %s", text);
	return rr;
}

/* The query of c in wire form (RD set, ID 0x4242). */
static size_t mkquery(const struct fault_case *c, uint8_t *out, size_t cap)
{
	ldns_pkt *p = ldns_pkt_query_new(ldns_dname_new_frm_str(c->qname),
					 (ldns_rr_type)c->qtype, LDNS_RR_CLASS_IN,
					 LDNS_RD);
	uint8_t *w = NULL;
	size_t n = 0;

	assert_non_null(p);
	ldns_pkt_set_id(p, 0x4242);
	if (c->edns)
		ldns_pkt_set_edns_udp_size(p, 1232);
	assert_int_equal(ldns_pkt2wire(&w, p, &n), LDNS_STATUS_OK);
	assert_true(n <= cap);
	memcpy(out, w, n);
	free(w);
	ldns_pkt_free(p);
	return n;
}

static ldns_pkt *parse(const uint8_t *msg, size_t len)
{
	ldns_pkt *p = NULL;

	assert_int_equal(ldns_wire2pkt(&p, msg, len), LDNS_STATUS_OK);
	return p;
}

/* The right answer has the table's shape. */
static void check_right(const struct fault_case *c, const uint8_t *msg,
			size_t len)
{
	ldns_pkt *p = parse(msg, len);

	print_message("  %s: rcode %u an %u ns %u ar %u\n", c->what,
		      (unsigned)ldns_pkt_get_rcode(p), (unsigned)ldns_pkt_ancount(p),
		      (unsigned)ldns_pkt_nscount(p),
		      (unsigned)(ldns_pkt_arcount(p) + (ldns_pkt_edns(p) ? 1 : 0)));
	assert_int_equal(ldns_pkt_get_rcode(p), c->rcode);
	assert_int_equal(ldns_pkt_ancount(p), c->an);
	assert_int_equal(ldns_pkt_nscount(p), c->ns);
	/* ldns counts the OPT apart from the additional records. */
	assert_int_equal(ldns_pkt_arcount(p) + (ldns_pkt_edns(p) ? 1 : 0), c->ar);
	ldns_pkt_free(p);
}

/* A clean SERVFAIL: rcode 2, nothing in answer or authority, the query's
 * ID, and an EDE option (RFC 8914) exactly when the query had EDNS. */
static bool is_servfail(const struct fault_case *c, const uint8_t *msg,
			size_t len)
{
	ldns_pkt *p = parse(msg, len);
	const ldns_rdf *opt;
	bool ok;

	ok = ldns_pkt_get_rcode(p) == LDNS_RCODE_SERVFAIL;
	if (ok) {
		assert_int_equal(ldns_pkt_id(p), 0x4242);
		assert_int_equal(ldns_pkt_ancount(p), 0);
		assert_int_equal(ldns_pkt_nscount(p), 0);
		assert_int_equal(ldns_pkt_edns(p), c->edns);
		opt = ldns_pkt_edns_data(p);
		if (c->edns) {
			assert_non_null(opt);
			assert_true(ldns_rdf_size(opt) >= 6);
			assert_int_equal(dns_rd16(ldns_rdf_data(opt)), DNS_OPT_EDE);
		}
	}
	ldns_pkt_free(p);
	return ok;
}

/* Arm the fault at operation n (0: none), once or from n on. */
static void arm(unsigned long n, bool sticky)
{
	if (sticky)
		store_fault_arm_sticky(n);
	else
		store_fault_arm(n);
}

/*
 * The loop common to both tiers: run(ctx, n, sticky, ...) sets up, arms
 * the fault (arm above) just before answering the query once, and returns
 * false when there is no reply to send; *calls receives the store
 * operations the answer took. Each n is tried with a fault that strikes
 * once and with one that stays (the store is broken from there on). A
 * faulted reply that is not a SERVFAIL must equal the right one byte for
 * byte.
 */
typedef bool (*run_fn)(void *ctx, unsigned long n, bool sticky,
		       const uint8_t *in, size_t in_len, uint8_t *out,
		       size_t *out_len, unsigned long *calls);

static void fault_sweep(const char *tier, const struct fault_case *c,
			run_fn run, void *ctx)
{
	uint8_t in[512], right[WIRE_MAX_MSG], got[WIRE_MAX_MSG];
	size_t in_len = mkquery(c, in, sizeof(in)), right_len = 0, got_len;
	unsigned long k, n, calls, servfails = 0, wrong = 0;
	assert_true(run(ctx, 0, false, in, in_len, right, &right_len, &k));
	check_right(c, right, right_len);
	for (n = 1; n <= k * 2; n++) {
		bool sticky = n > k;
		unsigned long at = sticky ? n - k : n;

		got_len = 0;
		if (!run(ctx, at, sticky, in, in_len, got, &got_len, &calls)) {
			print_message("%s %s (%s): operation %lu of %lu failing%s: "
				      "no reply\n", tier, c->qname, c->what, at, k,
				      sticky ? " on" : "");
			wrong++;
			continue;
		}
		/* The fault must have been injected (the run went that far). */
		assert_true(calls >= at);
		if (got_len == right_len && memcmp(got, right, got_len) == 0)
			continue;
		if (is_servfail(c, got, got_len)) {
			servfails++;
			continue;
		}
		{
			ldns_pkt *p = parse(got, got_len);

			print_message("%s %s (%s): operation %lu of %lu failing%s "
				      "gave a wrong answer: rcode %u an %u ns %u\n",
				      tier, c->qname, c->what, at, k,
				      sticky ? " on" : "",
				      (unsigned)ldns_pkt_get_rcode(p),
				      (unsigned)ldns_pkt_ancount(p),
				      (unsigned)ldns_pkt_nscount(p));
			ldns_pkt_free(p);
		}
		wrong++;
	}
	print_message("%s %s (%s): %lu store operations, %lu SERVFAIL, %lu wrong\n",
		      tier, c->qname, c->what, k, servfails, wrong);
	assert_int_equal(wrong, 0);
	if (k > 0)
		assert_true(servfails > 0);
}

/* ---- the upper tier ---- */

/* The upper tier's entry points. */
enum upper_path {
	UPPER_STORE = 0, /* auth_answer, every lookup from the store */
	UPPER_CACHED,    /* auth_answer with a fresh zone list cache */
};

struct upper_ctx {
	struct tdns_store *store;
	enum upper_path path;
};

static bool upper_run(void *arg, unsigned long n, bool sticky,
		      const uint8_t *in, size_t in_len, uint8_t *out,
		      size_t *out_len, unsigned long *calls)
{
	/* full_any: the table expects every RRset of an ANY (RFC 8482 aside). */
	static const struct tdns_auth_cfg cfg = { .version = "tierdns-test", .full_any = true };
	struct upper_ctx *u = arg;
	struct zonedb_cache *zc = NULL;
	struct tdns_txn *t = NULL;
	bool ok;

	/* The snapshot is the daemon's (main_upper.c renews it before the
	 * query): taken outside the count. */
	assert_int_equal(store_begin(u->store, false, &t), TDNS_OK);
	assert_int_equal(zonedb_cache_new(&zc), TDNS_OK);
	arm(n, sticky);
	ok = auth_answer(u->path == UPPER_CACHED ? zc : NULL, t, &cfg, in,
			 in_len, false, out, QCTX_MAX_MSG, out_len);
	*calls = store_fault_calls();
	store_fault_arm(0);
	zonedb_cache_free(zc);
	store_abort(t);
	return ok;
}

static void test_upper(void **state)
{
	static const char *const zones[] = { ZONE_SITE, ZONE_KID, ZONE_FLAT, NULL };
	struct fx *f = fx_new(zones);
	static const char *const names[] = { "upper", "upper/cached" };
	struct upper_ctx u = { f->store, UPPER_STORE };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(upper_cases) / sizeof(upper_cases[0]); i++) {
		for (u.path = UPPER_STORE; u.path <= UPPER_CACHED; u.path++)
			fault_sweep(names[u.path], &upper_cases[i], upper_run, &u);
	}
	fx_free(f);
}

/* Find site.'s apex for www.site. through zc in r; the status. */
static enum tdns_status find_site(struct zonedb_cache *zc, struct tdns_txn *r)
{
	static const uint8_t www_site[] = "\3www\4site";
	struct tdns_zone_meta meta;
	uint8_t key[NAME_KEY_MAX];
	size_t klen, apex = 0;
	bool cuts;
	enum tdns_status st;

	assert_int_equal(name_key_from_wire(www_site, sizeof(www_site), key, &klen), TDNS_OK);
	st = zonedb_cache_find(zc, r, key, klen, &apex, &meta, &cuts);
	if (st == TDNS_OK)
		assert_int_equal(apex, 5); /* the key of site.: 4, "site" */
	return st;
}

/* Commit one put of db in f's store. */
static void commit_put(struct fx *f, enum tdns_db db, const char *key)
{
	struct tdns_txn *w = NULL;

	assert_int_equal(store_begin(f->store, true, &w), TDNS_OK);
	assert_int_equal(store_put(w, db, (const uint8_t *)key, strlen(key), "v", 1),
			 TDNS_OK);
	assert_int_equal(store_commit(w), TDNS_OK);
}

/* After a test that arms faults: a failed assertion skips its own disarm,
 * and the next test would start on a broken store. */
static int disarm(void **state)
{
	(void)state;
	store_fault_arm(0);
	return 0;
}

/* A worker's zone list (zonedb_cache) outlives the commits that change
 * neither the zones nor their records, a resolver's cache writes: it is
 * found in the next snapshot without one store operation (every one would
 * fail). A commit of the records, or of the zones, makes it read the store
 * again, and the failure shows. */
static void test_zone_list_kept(void **state)
{
	static const char *const zones[] = { ZONE_SITE, NULL };
	struct fx *f = fx_new(zones);
	struct zonedb_cache *zc = NULL;
	struct tdns_txn *r = NULL;

	(void)state;
	assert_int_equal(zonedb_cache_new(&zc), TDNS_OK);
	assert_int_equal(store_begin(f->store, false, &r), TDNS_OK);
	store_reset(r);
	assert_int_equal(store_renew(r), TDNS_OK);
	assert_int_equal(find_site(zc, r), TDNS_OK);

	commit_put(f, TDNS_DB_CACHE, "a cache key");
	store_reset(r);
	assert_int_equal(store_renew(r), TDNS_OK);
	store_fault_arm_sticky(1);
	assert_int_equal(find_site(zc, r), TDNS_OK);
	assert_int_equal(store_fault_calls(), 0);
	store_fault_arm(0);

	/* A commit of the records, then one of the zones alone: each makes
	 * the list be read again. */
	for (int i = 0; i < 2; i++) {
		commit_put(f, i == 0 ? TDNS_DB_RR : TDNS_DB_ZONES, "a key");
		store_reset(r);
		assert_int_equal(store_renew(r), TDNS_OK);
		store_fault_arm_sticky(1);
		assert_int_not_equal(find_site(zc, r), TDNS_OK);
		assert_true(store_fault_calls() > 0);
		store_fault_arm(0);
		assert_int_equal(find_site(zc, r), TDNS_OK);
	}

	store_abort(r);
	zonedb_cache_free(zc);
	fx_free(f);
}

/* ---- the local tier ---- */

struct local_ctx {
	struct tdns_store *store;
	unsigned sends; /* upstream queries: must stay 0 */
	unsigned holds;
};

static enum tdns_status no_send(void *ctx, uint64_t token, unsigned upstream,
				bool tcp, const uint8_t *msg, size_t len)
{
	(void)token;
	(void)upstream;
	(void)tcp;
	(void)msg;
	(void)len;
	((struct local_ctx *)ctx)->sends++;
	return TDNS_ENET;
}

static void no_done(void *ctx, uint64_t token)
{
	(void)ctx;
	(void)token;
}

static void no_wake(void *ctx, uint64_t deadline_ms)
{
	(void)ctx;
	(void)deadline_ms;
}

static void *no_hold(void *ctx, void *request)
{
	((struct local_ctx *)ctx)->holds++;
	return request;
}

static void no_answer(void *ctx, void *held, const uint8_t *msg, size_t len)
{
	(void)ctx;
	(void)held;
	(void)msg;
	(void)len;
}

static bool local_run(void *arg, unsigned long n, bool sticky,
		      const uint8_t *in, size_t in_len, uint8_t *out,
		      size_t *out_len, unsigned long *calls)
{
	struct local_ctx *l = arg;
	struct tdns_resolver_cfg cfg;
	struct tdns_resolver *r = NULL;
	enum resolver_verdict v;
	int request = 0;

	memset(&cfg, 0, sizeof(cfg));
	cfg.store = l->store;
	cfg.n_upstream = 1;
	cfg.transport.send = no_send;
	cfg.transport.done = no_done;
	cfg.transport.wake = no_wake;
	cfg.transport.ctx = l;
	cfg.client.hold = no_hold;
	cfg.client.answer = no_answer;
	cfg.client.ctx = l;
	assert_int_equal(resolver_new(&cfg, &r), TDNS_OK);
	l->sends = 0;
	l->holds = 0;
	/* The resolver begins its own read snapshot (rtxn_open): under the
	 * count, begin and renew fail too. */
	arm(n, sticky);
	v = resolver_query(r, in, in_len, false, &request, out, WIRE_MAX_MSG,
			   out_len);
	*calls = store_fault_calls();
	store_fault_arm(0);
	resolver_free(r);
	if (l->sends != 0 || l->holds != 0)
		print_message("  the query went upstream (%u sends)\n", l->sends);
	return v == RESOLVER_REPLY && l->sends == 0 && l->holds == 0;
}

static void cache_fill(struct tdns_store *s)
{
	size_t i, j;

	for (i = 0; i < sizeof(cached) / sizeof(cached[0]); i++) {
		const struct cached *c = &cached[i];
		ldns_rdf *qn = ldns_dname_new_frm_str(c->qname);
		ldns_pkt *resp = ldns_pkt_query_new(ldns_rdf_clone(qn),
						    (ldns_rr_type)c->qtype,
						    LDNS_RR_CLASS_IN, LDNS_RD);

		assert_non_null(qn);
		assert_non_null(resp);
		ldns_pkt_set_qr(resp, true);
		ldns_pkt_set_ra(resp, true);
		ldns_pkt_set_rcode(resp, c->rcode);
		for (j = 0; c->an[j] != NULL; j++)
			assert_true(ldns_pkt_push_rr(resp, LDNS_SECTION_ANSWER,
						     rr_from(c->an[j])));
		for (j = 0; c->ns[j] != NULL; j++)
			assert_true(ldns_pkt_push_rr(resp, LDNS_SECTION_AUTHORITY,
						     rr_from(c->ns[j])));
		assert_int_equal(tu_cache_insert(s, NULL, qn, c->qtype, resp, T0),
				 TDNS_OK);
		ldns_pkt_free(resp);
		ldns_rdf_deep_free(qn);
	}
}

static void test_local(void **state)
{
	static const char *const zones[] = { ZONE_HOME, NULL };
	struct fx *f;
	struct local_ctx l;
	size_t i;

	(void)state;
	clock_set_fake(T0);
	f = fx_new(zones);
	cache_fill(f->store);
	memset(&l, 0, sizeof(l));
	l.store = f->store;
	for (i = 0; i < sizeof(local_cases) / sizeof(local_cases[0]); i++)
		fault_sweep("local", &local_cases[i], local_run, &l);
	fx_free(f);
	clock_set_fake(0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_upper),
		cmocka_unit_test_teardown(test_zone_list_kept, disarm),
		cmocka_unit_test(test_local),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
