/*
 * test_auth.c - authoritative answers, table-driven: zone text inline,
 * loaded into a fresh temporary store per test; each query goes through the
 * whole upper path (auth_answer: wire in, wire out) and the reply is
 * compared record by record.
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
#include "tierdns/name.h"
#include "tierdns/rrset.h"
#include "tierdns/store.h"
#include "tierdns/zonedb.h"

static const char ZONE_ROOT[] =
	"$ORIGIN .\n"
	"$TTL 86400\n"
	"@ IN SOA a.root-servers.local. hostmaster.local. 1 1800 900 604800 3600\n"
	"@ IN NS a.root-servers.local.\n";

/* SOA TTL 3600 > MINIMUM 300: negative TTL 300. */
static const char ZONE_SITE[] =
	"$ORIGIN site.\n"
	"$TTL 3600\n"
	"@ IN SOA ns1.site. hostmaster.site. 2024010101 7200 3600 1209600 300\n"
	"@ NS ns1\n"
	"@ MX 10 mail\n"
	"@ TXT \"v=spf1 -all\"\n"
	"ns1 A 192.0.2.1\n"
	"mail A 192.0.2.25\n"
	"webapp A 192.0.2.10\n"
	"webapp TXT \"the web app\"\n"
	"multi 600 A 192.0.2.23\n"
	"multi 600 A 192.0.2.21\n"
	"multi 600 A 192.0.2.22\n"
	"www CNAME webapp\n"
	"alias CNAME WWW.site.\n"
	"loop1 CNAME loop2\n"
	"loop2 CNAME loop1\n"
	"dangling CNAME nothere\n"
	"out CNAME www.example.\n"
	"tolow CNAME x.low.\n"
	"a.b.c A 192.0.2.30\n"
	"sub NS ns1.sub\n"
	"sub NS ns.elsewhere.\n"
	"ns1.sub A 192.0.2.53\n"
	"ns1.sub AAAA 2001:db8::53\n"
	"*.wild A 192.0.2.99\n";

/* SOA TTL 60 < MINIMUM 3600: negative TTL 60. */
static const char ZONE_LOW[] =
	"$ORIGIN low.\n"
	"@ 60 IN SOA ns.low. hostmaster.low. 1 7200 3600 1209600 3600\n"
	"@ 60 NS ns.low.\n"
	"ns 60 A 192.0.2.77\n";

static const char ZONE_BIG[] =
	"$ORIGIN big.\n"
	"$TTL 300\n"
	"@ SOA ns.big. hostmaster.big. 1 7200 3600 1209600 300\n"
	"@ NS ns\n"
	"ns A 192.0.2.88\n"
	"txt TXT \"0123456789012345678901234567890123456789 record 01\"\n"
	"txt TXT \"0123456789012345678901234567890123456789 record 02\"\n"
	"txt TXT \"0123456789012345678901234567890123456789 record 03\"\n"
	"txt TXT \"0123456789012345678901234567890123456789 record 04\"\n"
	"txt TXT \"0123456789012345678901234567890123456789 record 05\"\n"
	"txt TXT \"0123456789012345678901234567890123456789 record 06\"\n"
	"txt TXT \"0123456789012345678901234567890123456789 record 07\"\n"
	"txt TXT \"0123456789012345678901234567890123456789 record 08\"\n"
	"txt TXT \"0123456789012345678901234567890123456789 record 09\"\n"
	"txt TXT \"0123456789012345678901234567890123456789 record 10\"\n"
	"txt TXT \"0123456789012345678901234567890123456789 record 11\"\n"
	"txt TXT \"0123456789012345678901234567890123456789 record 12\"\n";

/* ------------------------------------------------------------------ */
/* A minimal loader: zone text -> RRsets in the store, in file order.   */

static void put_zone(struct tdns_txn *t, const char *text)
{
	ldns_zone *z = NULL;
	ldns_rr_list *all;
	FILE *fp;
	size_t n, i, j;
	bool *done;
	uint8_t apex[NAME_KEY_MAX];
	size_t apex_len = 0;
	struct tdns_zone_meta meta;

	fp = fmemopen((void *)(uintptr_t)text, strlen(text), "r");
	assert_non_null(fp);
	assert_int_equal(ldns_zone_new_frm_fp(&z, fp, NULL, 3600,
					      LDNS_RR_CLASS_IN), LDNS_STATUS_OK);
	fclose(fp);
	all = ldns_rr_list_new();
	ldns_rr_list_push_rr(all, ldns_zone_soa(z));
	ldns_rr_list_cat(all, ldns_zone_rrs(z));
	n = ldns_rr_list_rr_count(all);
	done = calloc(n, sizeof(*done));
	assert_non_null(done);
	memset(&meta, 0, sizeof(meta));
	for (i = 0; i < n; i++) {
		const ldns_rr *rr = ldns_rr_list_rr(all, i);
		const ldns_rdf *o = ldns_rr_owner(rr);
		uint8_t key[NAME_KEY_MAX], val[8192];
		size_t klen = 0;
		struct tdns_rrset_enc e;

		if (done[i])
			continue;
		assert_int_equal(name_key_from_wire(ldns_rdf_data(o),
						    ldns_rdf_size(o), key, &klen),
				 TDNS_OK);
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA) {
			memcpy(apex, key, klen);
			apex_len = klen;
		}
		rrset_enc_init(&e, val, sizeof(val), ldns_rr_ttl(rr));
		for (j = i; j < n; j++) {
			const ldns_rr *r2 = ldns_rr_list_rr(all, j);
			ldns_buffer *b;

			if (done[j] ||
			    ldns_rr_get_type(r2) != ldns_rr_get_type(rr) ||
			    ldns_dname_compare(ldns_rr_owner(r2), o) != 0)
				continue;
			b = ldns_buffer_new(512);
			assert_int_equal(ldns_rr_rdata2buffer_wire(b, r2),
					 LDNS_STATUS_OK);
			assert_int_equal(rrset_enc_add(&e, ldns_buffer_begin(b),
					 (uint16_t)ldns_buffer_position(b)),
					 TDNS_OK);
			ldns_buffer_free(b);
			done[j] = true;
			meta.records++;
		}
		meta.rrsets++;
		assert_int_equal(zonedb_put_rrset(t, key, klen,
						  (uint16_t)ldns_rr_get_type(rr),
						  e.buf, e.len), TDNS_OK);
	}
	assert_int_equal(zonedb_put_meta(t, apex, apex_len, &meta), TDNS_OK);
	free(done);
	ldns_rr_list_free(all);
	ldns_zone_deep_free(z);
}

struct fixture {
	char dir[64];
	struct tdns_store *store;
	struct tdns_txn *rd;
};

static struct fixture *fixture_new(const char *const *zones)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct tdns_txn *w = NULL;

	assert_non_null(f);
	tu_tmpdir(f->dir);
	assert_int_equal(store_open(f->dir, NULL, &f->store), TDNS_OK);
	assert_int_equal(store_begin(f->store, true, &w), TDNS_OK);
	for (; *zones != NULL; zones++)
		put_zone(w, *zones);
	assert_int_equal(store_commit(w), TDNS_OK);
	assert_int_equal(store_begin(f->store, false, &f->rd), TDNS_OK);
	return f;
}

static void fixture_free(struct fixture *f)
{
	store_abort(f->rd);
	store_close(f->store);
	tu_rmdir(f->dir);
	free(f);
}

/* ------------------------------------------------------------------ */
/* Queries and expectations.                                           */

#define MAXRR 16

struct auth_case {
	const char *qname;
	uint16_t qtype;
	uint16_t qclass;
	bool tcp;
	unsigned rcode;
	bool aa;
	bool tc;
	/* Records as "owner ttl class type rdata", in order; NULL-terminated. */
	const char *an[MAXRR];
	const char *ns[MAXRR];
	const char *ar[MAXRR];
};

#define IN LDNS_RR_CLASS_IN
#define SITE_SOA_NEG "site. 300 IN SOA ns1.site. hostmaster.site. 2024010101 7200 3600 1209600 300"
#define SUB_NS "sub.site. 3600 IN NS ns1.sub.site.", "sub.site. 3600 IN NS ns.elsewhere."

static const struct tdns_auth_cfg CFG = { "tierdns-test", NULL };

static void rr_text(const ldns_rr *rr, char *buf, size_t cap)
{
	char *s = ldns_rr2str(rr);
	size_t i, n = 0;

	assert_non_null(s);
	for (i = 0; s[i] != '\0' && s[i] != '\n' && n + 1 < cap; i++)
		buf[n++] = s[i] == '\t' ? ' ' : s[i];
	buf[n] = '\0';
	free(s);
}

static void check_section(const char *what, const ldns_rr_list *got,
			  const char *const *want)
{
	size_t i, n = ldns_rr_list_rr_count(got), w = 0;
	char text[1024];

	while (w < MAXRR && want[w] != NULL)
		w++;
	for (i = 0; i < n; i++) {
		rr_text(ldns_rr_list_rr(got, i), text, sizeof(text));
		print_message("  %s: %s\n", what, text);
	}
	assert_int_equal(n, w);
	for (i = 0; i < n; i++) {
		rr_text(ldns_rr_list_rr(got, i), text, sizeof(text));
		assert_string_equal(text, want[i]);
	}
}

static void run_case(struct tdns_txn *t, const struct auth_case *c)
{
	static uint8_t out[WIRE_MAX_MSG];
	ldns_rdf *name = NULL;
	ldns_pkt *qp, *rp = NULL;
	uint8_t *in = NULL;
	size_t in_len = 0, out_len = 0;
	char *s;

	print_message("query %s type %u class %u%s\n", c->qname, c->qtype,
		      c->qclass, c->tcp ? " tcp" : "");
	name = ldns_dname_new_frm_str(c->qname);
	assert_non_null(name);
	qp = ldns_pkt_query_new(name, (ldns_rr_type)c->qtype,
				(ldns_rr_class)c->qclass, LDNS_RD);
	assert_non_null(qp);
	ldns_pkt_set_id(qp, 0x4242);
	assert_int_equal(ldns_pkt2wire(&in, qp, &in_len), LDNS_STATUS_OK);
	assert_true(auth_answer(t, &CFG, in, in_len, c->tcp, out, sizeof(out),
				&out_len));
	assert_int_equal(ldns_wire2pkt(&rp, out, out_len), LDNS_STATUS_OK);
	assert_int_equal(ldns_pkt_id(rp), 0x4242);
	assert_true(ldns_pkt_qr(rp));
	assert_true(ldns_pkt_rd(rp));
	assert_false(ldns_pkt_ra(rp));
	assert_int_equal(ldns_pkt_get_rcode(rp), c->rcode);
	assert_int_equal(ldns_pkt_aa(rp), c->aa);
	assert_int_equal(ldns_pkt_tc(rp), c->tc);
	/* The question comes back exactly as sent, case included. */
	assert_int_equal(ldns_pkt_qdcount(rp), 1);
	s = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(rp), 0)));
	assert_string_equal(s, c->qname);
	free(s);
	check_section("answer", ldns_pkt_answer(rp), c->an);
	check_section("authority", ldns_pkt_authority(rp), c->ns);
	check_section("additional", ldns_pkt_additional(rp), c->ar);
	ldns_pkt_free(rp);
	ldns_pkt_free(qp);
	free(in);
}

static const char *const FULL[] = { ZONE_ROOT, ZONE_SITE, ZONE_LOW, ZONE_BIG,
				    NULL };

static const struct auth_case full_cases[] = {
	/* Positive answers: the whole RRset, stored order, client's case. */
	{ "webapp.site.", LDNS_RR_TYPE_A, IN, false, LDNS_RCODE_NOERROR, true,
	  false, { "webapp.site. 3600 IN A 192.0.2.10" }, { NULL }, { NULL } },
	{ "WeBaPp.SiTe.", LDNS_RR_TYPE_A, IN, false, LDNS_RCODE_NOERROR, true,
	  false, { "WeBaPp.SiTe. 3600 IN A 192.0.2.10" }, { NULL }, { NULL } },
	{ "MULTI.site.", LDNS_RR_TYPE_A, IN, false, LDNS_RCODE_NOERROR, true,
	  false, { "MULTI.site. 600 IN A 192.0.2.23",
		   "MULTI.site. 600 IN A 192.0.2.21",
		   "MULTI.site. 600 IN A 192.0.2.22" }, { NULL }, { NULL } },
	{ "site.", LDNS_RR_TYPE_MX, IN, false, LDNS_RCODE_NOERROR, true,
	  false, { "site. 3600 IN MX 10 mail.site." }, { NULL }, { NULL } },
	{ "site.", LDNS_RR_TYPE_TXT, IN, false, LDNS_RCODE_NOERROR, true,
	  false, { "site. 3600 IN TXT \"v=spf1 -all\"" }, { NULL }, { NULL } },
	{ "site.", LDNS_RR_TYPE_NS, IN, false, LDNS_RCODE_NOERROR, true,
	  false, { "site. 3600 IN NS ns1.site." }, { NULL }, { NULL } },
	/* ANY: every RRset at the name, in type order. */
	{ "webapp.site.", LDNS_RR_TYPE_ANY, IN, false, LDNS_RCODE_NOERROR,
	  true, false, { "webapp.site. 3600 IN A 192.0.2.10",
			 "webapp.site. 3600 IN TXT \"the web app\"" },
	  { NULL }, { NULL } },
	/* CNAME chains: followed inside served zones; targets as stored. */
	{ "Www.site.", LDNS_RR_TYPE_A, IN, false, LDNS_RCODE_NOERROR, true,
	  false, { "Www.site. 3600 IN CNAME webapp.site.",
		   "webapp.site. 3600 IN A 192.0.2.10" }, { NULL }, { NULL } },
	{ "alias.site.", LDNS_RR_TYPE_A, IN, false, LDNS_RCODE_NOERROR, true,
	  false, { "alias.site. 3600 IN CNAME WWW.site.",
		   "WWW.site. 3600 IN CNAME webapp.site.",
		   "webapp.site. 3600 IN A 192.0.2.10" }, { NULL }, { NULL } },
	{ "www.site.", LDNS_RR_TYPE_CNAME, IN, false, LDNS_RCODE_NOERROR, true,
	  false, { "www.site. 3600 IN CNAME webapp.site." }, { NULL }, { NULL } },
	{ "www.site.", LDNS_RR_TYPE_AAAA, IN, false, LDNS_RCODE_NOERROR, true,
	  false, { "www.site. 3600 IN CNAME webapp.site." }, { SITE_SOA_NEG },
	  { NULL } },
	{ "loop1.site.", LDNS_RR_TYPE_A, IN, false, LDNS_RCODE_NOERROR, true,
	  false, { "loop1.site. 3600 IN CNAME loop2.site.",
		   "loop2.site. 3600 IN CNAME loop1.site." }, { NULL }, { NULL } },
	/* RFC 6604: the rcode is that of the chain's last name. */
	{ "dangling.site.", LDNS_RR_TYPE_A, IN, false, LDNS_RCODE_NXDOMAIN,
	  true, false, { "dangling.site. 3600 IN CNAME nothere.site." },
	  { SITE_SOA_NEG }, { NULL } },
	/* Into another served zone: its SOA, its negative TTL. */
	{ "tolow.site.", LDNS_RR_TYPE_A, IN, false, LDNS_RCODE_NXDOMAIN, true,
	  false, { "tolow.site. 3600 IN CNAME x.low." },
	  { "low. 60 IN SOA ns.low. hostmaster.low. 1 7200 3600 1209600 3600" },
	  { NULL } },
	/* NODATA and NXDOMAIN with the SOA, TTL min(SOA TTL, MINIMUM). */
	{ "webapp.site.", LDNS_RR_TYPE_AAAA, IN, false, LDNS_RCODE_NOERROR,
	  true, false, { NULL }, { SITE_SOA_NEG }, { NULL } },
	{ "nosuch.site.", LDNS_RR_TYPE_A, IN, false, LDNS_RCODE_NXDOMAIN, true,
	  false, { NULL }, { SITE_SOA_NEG }, { NULL } },
	/* Compression points names at the question's "SITE.", so the case
	 * of the question shows through (RFC 4343 4.1 allows it). */
	{ "deeper.nosuch.SITE.", LDNS_RR_TYPE_A, IN, false,
	  LDNS_RCODE_NXDOMAIN, true, false, { NULL },
	  { "SITE. 300 IN SOA ns1.SITE. hostmaster.SITE. 2024010101 7200 3600 1209600 300" },
	  { NULL } },
	{ "x.low.", LDNS_RR_TYPE_A, IN, false, LDNS_RCODE_NXDOMAIN, true, false,
	  { NULL },
	  { "low. 60 IN SOA ns.low. hostmaster.low. 1 7200 3600 1209600 3600" },
	  { NULL } },
	/* Empty non-terminals exist: NODATA, not NXDOMAIN. */
	{ "b.c.site.", LDNS_RR_TYPE_A, IN, false, LDNS_RCODE_NOERROR, true,
	  false, { NULL }, { SITE_SOA_NEG }, { NULL } },
	{ "c.site.", LDNS_RR_TYPE_A, IN, false, LDNS_RCODE_NOERROR, true,
	  false, { NULL }, { SITE_SOA_NEG }, { NULL } },
	{ "a.b.c.site.", LDNS_RR_TYPE_A, IN, false, LDNS_RCODE_NOERROR, true,
	  false, { "a.b.c.site. 3600 IN A 192.0.2.30" }, { NULL }, { NULL } },
	/* Delegation: referral, AA clear, NS in authority, in-zone glue. */
	{ "www.sub.site.", LDNS_RR_TYPE_A, IN, false, LDNS_RCODE_NOERROR,
	  false, false, { NULL }, { SUB_NS },
	  { "ns1.sub.site. 3600 IN A 192.0.2.53",
	    "ns1.sub.site. 3600 IN AAAA 2001:db8::53" } },
	{ "sub.site.", LDNS_RR_TYPE_NS, IN, false, LDNS_RCODE_NOERROR, false,
	  false, { NULL }, { SUB_NS },
	  { "ns1.sub.site. 3600 IN A 192.0.2.53",
	    "ns1.sub.site. 3600 IN AAAA 2001:db8::53" } },
	/* Glue itself is not authoritative data. */
	{ "ns1.sub.site.", LDNS_RR_TYPE_A, IN, false, LDNS_RCODE_NOERROR,
	  false, false, { NULL }, { SUB_NS },
	  { "ns1.sub.site. 3600 IN A 192.0.2.53",
	    "ns1.sub.site. 3600 IN AAAA 2001:db8::53" } },
	/* DS lives in the parent (RFC 4035 3.1.4.1): here NODATA. */
	{ "sub.site.", LDNS_RR_TYPE_DS, IN, false, LDNS_RCODE_NOERROR, true,
	  false, { NULL }, { SITE_SOA_NEG }, { NULL } },
	/* Wildcards (RFC 4592). */
	{ "Foo.wild.site.", LDNS_RR_TYPE_A, IN, false, LDNS_RCODE_NOERROR,
	  true, false, { "Foo.wild.site. 3600 IN A 192.0.2.99" }, { NULL },
	  { NULL } },
	{ "a.b.wild.site.", LDNS_RR_TYPE_A, IN, false, LDNS_RCODE_NOERROR,
	  true, false, { "a.b.wild.site. 3600 IN A 192.0.2.99" }, { NULL },
	  { NULL } },
	{ "foo.wild.site.", LDNS_RR_TYPE_MX, IN, false, LDNS_RCODE_NOERROR,
	  true, false, { NULL }, { SITE_SOA_NEG }, { NULL } },
	{ "wild.site.", LDNS_RR_TYPE_A, IN, false, LDNS_RCODE_NOERROR, true,
	  false, { NULL }, { SITE_SOA_NEG }, { NULL } },
	/* Everything else falls into the private root: NXDOMAIN. */
	{ "nosuch.example.", LDNS_RR_TYPE_A, IN, false, LDNS_RCODE_NXDOMAIN,
	  true, false, { NULL },
	  { ". 3600 IN SOA a.root-servers.local. hostmaster.local. 1 1800 900 604800 3600" },
	  { NULL } },
	/* Truncation: the RRset does not fit 512 bytes at all. */
	{ "txt.big.", LDNS_RR_TYPE_TXT, IN, false, LDNS_RCODE_NOERROR, true,
	  true, { NULL }, { NULL }, { NULL } },
	/* Classes, CHAOS and meta types. */
	{ "webapp.site.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_HS, false,
	  LDNS_RCODE_REFUSED, false, false, { NULL }, { NULL }, { NULL } },
	{ "webapp.site.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_CH, false,
	  LDNS_RCODE_REFUSED, false, false, { NULL }, { NULL }, { NULL } },
	{ "Version.Bind.", LDNS_RR_TYPE_TXT, LDNS_RR_CLASS_CH, false,
	  LDNS_RCODE_NOERROR, true, false,
	  { "Version.Bind. 0 CH TXT \"tierdns-test\"" }, { NULL }, { NULL } },
	{ "version.server.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_CH, false,
	  LDNS_RCODE_NOERROR, true, false, { NULL }, { NULL }, { NULL } },
	{ "id.server.", LDNS_RR_TYPE_TXT, LDNS_RR_CLASS_CH, false,
	  LDNS_RCODE_REFUSED, false, false, { NULL }, { NULL }, { NULL } },
	{ "site.", LDNS_RR_TYPE_AXFR, IN, false, LDNS_RCODE_REFUSED, false,
	  false, { NULL }, { NULL }, { NULL } },
};

static void test_full(void **state)
{
	struct fixture *f = fixture_new(FULL);
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(full_cases) / sizeof(full_cases[0]); i++)
		run_case(f->rd, &full_cases[i]);
	fixture_free(f);
}

/* Over TCP the big RRset comes whole and in stored order. */
static void test_tcp_gets_everything(void **state)
{
	static const struct auth_case c = {
		"txt.big.", LDNS_RR_TYPE_TXT, IN, true, LDNS_RCODE_NOERROR,
		true, false,
		{ "txt.big. 300 IN TXT \"0123456789012345678901234567890123456789 record 01\"",
		  "txt.big. 300 IN TXT \"0123456789012345678901234567890123456789 record 02\"",
		  "txt.big. 300 IN TXT \"0123456789012345678901234567890123456789 record 03\"",
		  "txt.big. 300 IN TXT \"0123456789012345678901234567890123456789 record 04\"",
		  "txt.big. 300 IN TXT \"0123456789012345678901234567890123456789 record 05\"",
		  "txt.big. 300 IN TXT \"0123456789012345678901234567890123456789 record 06\"",
		  "txt.big. 300 IN TXT \"0123456789012345678901234567890123456789 record 07\"",
		  "txt.big. 300 IN TXT \"0123456789012345678901234567890123456789 record 08\"",
		  "txt.big. 300 IN TXT \"0123456789012345678901234567890123456789 record 09\"",
		  "txt.big. 300 IN TXT \"0123456789012345678901234567890123456789 record 10\"",
		  "txt.big. 300 IN TXT \"0123456789012345678901234567890123456789 record 11\"",
		  "txt.big. 300 IN TXT \"0123456789012345678901234567890123456789 record 12\"" },
		{ NULL }, { NULL } };
	struct fixture *f = fixture_new(FULL);

	(void)state;
	run_case(f->rd, &c);
	fixture_free(f);
}

/* Without the private root, names outside every zone are REFUSED and a
 * chain that leaves the served zones stops where it leaves. */
static const char *const NOROOT[] = { ZONE_SITE, NULL };

static const struct auth_case noroot_cases[] = {
	{ "www.example.", LDNS_RR_TYPE_A, IN, false, LDNS_RCODE_REFUSED, false,
	  false, { NULL }, { NULL }, { NULL } },
	{ ".", LDNS_RR_TYPE_SOA, IN, false, LDNS_RCODE_REFUSED, false, false,
	  { NULL }, { NULL }, { NULL } },
	{ "out.site.", LDNS_RR_TYPE_A, IN, false, LDNS_RCODE_NOERROR, true,
	  false, { "out.site. 3600 IN CNAME www.example." }, { NULL },
	  { NULL } },
	{ "webapp.site.", LDNS_RR_TYPE_A, IN, false, LDNS_RCODE_NOERROR, true,
	  false, { "webapp.site. 3600 IN A 192.0.2.10" }, { NULL }, { NULL } },
};

static void test_noroot(void **state)
{
	struct fixture *f = fixture_new(NOROOT);
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(noroot_cases) / sizeof(noroot_cases[0]); i++)
		run_case(f->rd, &noroot_cases[i]);
	fixture_free(f);
}

/* auth_lookup on its own: AUTH_NOT_AUTH leaves the reply untouched (the
 * local tier then falls through to its cache). */
static void test_lookup_not_auth(void **state)
{
	static const uint8_t q_other[] = {
		0x00, 0x07, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x03, 'w', 'w', 'w', 0x07, 'e', 'x', 'a', 'm',
		'p', 'l', 'e', 0x00, 0x00, 0x01, 0x00, 0x01,
	};
	static uint8_t out[WIRE_MAX_MSG];
	struct fixture *f = fixture_new(NOROOT);
	struct tdns_query q;
	size_t out_len = 0;
	ldns_pkt *r;

	(void)state;
	memset(&q, 0, sizeof(q));
	assert_int_equal(wire_parse_query(q_other, sizeof(q_other), &q, out,
					  &out_len), WIRE_OK);
	r = wire_reply_new(&q, LDNS_RCODE_NOERROR);
	assert_non_null(r);
	assert_int_equal(auth_lookup(f->rd, &q, r), AUTH_NOT_AUTH);
	assert_false(ldns_pkt_aa(r));
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(r) + ldns_pkt_nscount(r) +
			 ldns_pkt_arcount(r), 0);
	ldns_pkt_free(r);
	wire_query_clear(&q);
	fixture_free(f);
}

/* Malformed input through the whole path: nothing, or an error reply. */
static void test_answer_malformed(void **state)
{
	static uint8_t out[WIRE_MAX_MSG];
	static const uint8_t response[] = {
		0x00, 0x07, 0x81, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01,
	};
	static const uint8_t two_q[] = {
		0x00, 0x07, 0x01, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01,
	};
	struct fixture *f = fixture_new(NOROOT);
	size_t out_len = 99;

	(void)state;
	assert_false(auth_answer(f->rd, &CFG, response, 5, false, out,
				 sizeof(out), &out_len));
	assert_false(auth_answer(f->rd, &CFG, response, sizeof(response),
				 false, out, sizeof(out), &out_len));
	assert_true(auth_answer(f->rd, &CFG, two_q, sizeof(two_q), false, out,
				sizeof(out), &out_len));
	assert_int_equal(out_len, WIRE_HDR_LEN);
	assert_int_equal(out[3] & 0x0f, LDNS_RCODE_FORMERR);
	fixture_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_tcp_gets_everything),
		cmocka_unit_test(test_noroot),
		cmocka_unit_test(test_lookup_not_auth),
		cmocka_unit_test(test_answer_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
