/*
 * test_auth.c - authoritative answers, table-driven: zone text inline,
 * loaded with zoneload into a fresh temporary store per test; each query
 * goes through the whole upper path (auth_answer: wire in, wire out) and
 * the reply is compared record by record.
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
#include "tierdns/dnsproto.h"
#include "tierdns/name.h"
#include "tierdns/rrset.h"
#include "tierdns/store.h"
#include "tierdns/zonedb.h"
#include "tierdns/zoneload.h"

static const char ZONE_ROOT[] =
	"$ORIGIN .\n"
	"$TTL 86400\n"
	"@ IN SOA a.root-servers.local. hostmaster.local. 1 1800 900 604800 3600\n"
	"@ IN NS ns1.site.\n";

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
	"*.wild A 192.0.2.99\n"
	"*.wc CNAME webapp\n"
	"unk TYPE65280 \\# 4 deadbeef\n"
	"srv._tcp SRV 0 1 443 webapp\n"
	"todeleg CNAME www.sub\n"
	"c1 CNAME c2\n"
	"c2 CNAME c3\n"
	"c3 CNAME c4\n"
	"c4 CNAME c5\n"
	"c5 CNAME c6\n"
	"c6 CNAME c7\n"
	"c7 CNAME c8\n"
	"c8 CNAME c9\n"
	"c9 CNAME c10\n"
	"c10 A 192.0.2.100\n"
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

struct fixture {
	char dir[64];
	struct tdns_store *store;
	struct tdns_txn *rd;
};

static struct fixture *fixture_new(const char *const *zones)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct tdns_zoneset *zs = zoneload_new();
	char err[ZONELOAD_ERR_MAX];

	assert_non_null(f);
	assert_non_null(zs);
	tu_tmpdir(f->dir);
	assert_int_equal(store_open(f->dir, NULL, &f->store), TDNS_OK);
	for (; *zones != NULL; zones++) {
		if (zoneload_text(zs, *zones, "inline", err, sizeof(err)) !=
		    TDNS_OK)
			fail_msg("zone text: %s", err);
	}
	assert_int_equal(zoneload_commit(zs, f->store), TDNS_OK);
	zoneload_free(zs);
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

/* Every RRset for ANY over UDP too (the table below lists them all);
 * test_minimal_any has the default. */
static const struct tdns_auth_cfg CFG = { .version = "tierdns-test", .full_any = true };

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

/* The query of c, with EDNS 4096 and DO (RFC 3225) when dnssec. */
static void run_case_do(struct tdns_txn *t, const struct auth_case *c,
			bool dnssec)
{
	static uint8_t out[QCTX_MAX_MSG];
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
	if (dnssec) {
		ldns_pkt_set_edns_udp_size(qp, 4096);
		ldns_pkt_set_edns_do(qp, true);
	}
	assert_int_equal(ldns_pkt2wire(&in, qp, &in_len), LDNS_STATUS_OK);
	assert_true(auth_answer(NULL, t, &CFG, in, in_len, c->tcp, out, sizeof(out),
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
	/* DO is echoed (RFC 3225 3). */
	assert_int_equal(ldns_pkt_edns_do(rp), dnssec);
	check_section("answer", ldns_pkt_answer(rp), c->an);
	check_section("authority", ldns_pkt_authority(rp), c->ns);
	check_section("additional", ldns_pkt_additional(rp), c->ar);
	ldns_pkt_free(rp);
	ldns_pkt_free(qp);
	free(in);
}

static void run_case(struct tdns_txn *t, const struct auth_case *c)
{
	run_case_do(t, c, false);
}

static const char *const FULL[] = { ZONE_ROOT, ZONE_SITE, ZONE_KID, ZONE_LOW,
				    ZONE_BIG, NULL };

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
	/* NS answers carry the in-zone servers' addresses, as NSD does. */
	{ "site.", LDNS_RR_TYPE_NS, IN, false, LDNS_RCODE_NOERROR, true,
	  false, { "site. 3600 IN NS ns1.site." }, { NULL },
	  { "ns1.site. 3600 IN A 192.0.2.1" } },
	/* Unknown types (RFC 3597) and names inside rdata come back intact. */
	{ "unk.site.", 65280, IN, false, LDNS_RCODE_NOERROR, true, false,
	  { "unk.site. 3600 IN TYPE65280 \\# 4 deadbeef" }, { NULL }, { NULL } },
	{ "srv._tcp.site.", LDNS_RR_TYPE_SRV, IN, false, LDNS_RCODE_NOERROR,
	  true, false, { "srv._tcp.site. 3600 IN SRV 0 1 443 webapp.site." },
	  { NULL }, { NULL } },
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
	/* At most 8 CNAMEs are followed; what was found so far is the answer. */
	{ "c1.site.", LDNS_RR_TYPE_A, IN, false, LDNS_RCODE_NOERROR, true,
	  false, { "c1.site. 3600 IN CNAME c2.site.",
		   "c2.site. 3600 IN CNAME c3.site.",
		   "c3.site. 3600 IN CNAME c4.site.",
		   "c4.site. 3600 IN CNAME c5.site.",
		   "c5.site. 3600 IN CNAME c6.site.",
		   "c6.site. 3600 IN CNAME c7.site.",
		   "c7.site. 3600 IN CNAME c8.site.",
		   "c8.site. 3600 IN CNAME c9.site." }, { NULL }, { NULL } },
	{ "c3.site.", LDNS_RR_TYPE_A, IN, false, LDNS_RCODE_NOERROR, true,
	  false, { "c3.site. 3600 IN CNAME c4.site.",
		   "c4.site. 3600 IN CNAME c5.site.",
		   "c5.site. 3600 IN CNAME c6.site.",
		   "c6.site. 3600 IN CNAME c7.site.",
		   "c7.site. 3600 IN CNAME c8.site.",
		   "c8.site. 3600 IN CNAME c9.site.",
		   "c9.site. 3600 IN CNAME c10.site.",
		   "c10.site. 3600 IN A 192.0.2.100" }, { NULL }, { NULL } },
	/* A chain into a delegation: the referral follows the CNAME; the
	 * answer itself is still authoritative. */
	{ "todeleg.site.", LDNS_RR_TYPE_A, IN, false, LDNS_RCODE_NOERROR, true,
	  false, { "todeleg.site. 3600 IN CNAME www.sub.site." }, { SUB_NS },
	  { "ns1.sub.site. 3600 IN A 192.0.2.53",
	    "ns1.sub.site. 3600 IN AAAA 2001:db8::53" } },
	/* The child zone in the same store answers for itself (AA). */
	{ "www.kid.site.", LDNS_RR_TYPE_A, IN, false, LDNS_RCODE_NOERROR, true,
	  false, { "www.kid.site. 600 IN A 192.0.2.150" }, { NULL }, { NULL } },
	{ "kid.site.", LDNS_RR_TYPE_NS, IN, false, LDNS_RCODE_NOERROR, true,
	  false, { "kid.site. 600 IN NS ns1.kid.site." }, { NULL },
	  { "ns1.kid.site. 600 IN A 192.0.2.151" } },
	/* DS at a zone apex is the parent's (RFC 4035 3.1.4.1). */
	{ "kid.site.", LDNS_RR_TYPE_DS, IN, false, LDNS_RCODE_NOERROR, true,
	  false, { NULL }, { SITE_SOA_NEG }, { NULL } },
	{ "site.", LDNS_RR_TYPE_DS, IN, false, LDNS_RCODE_NOERROR, true,
	  false, { NULL },
	  { ". 3600 IN SOA a.root-servers.local. hostmaster.local. 1 1800 900 604800 3600" },
	  { NULL } },
	{ "nope.kid.site.", LDNS_RR_TYPE_A, IN, false, LDNS_RCODE_NXDOMAIN,
	  true, false, { NULL },
	  { "kid.site. 120 IN SOA ns1.kid.site. hostmaster.kid.site. 7 7200 3600 1209600 120" },
	  { NULL } },
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
	{ "X.wc.site.", LDNS_RR_TYPE_A, IN, false, LDNS_RCODE_NOERROR, true,
	  false, { "X.wc.site. 3600 IN CNAME webapp.site.",
		   "webapp.site. 3600 IN A 192.0.2.10" }, { NULL }, { NULL } },
	{ "*.wild.site.", LDNS_RR_TYPE_A, IN, false, LDNS_RCODE_NOERROR, true,
	  false, { "*.wild.site. 3600 IN A 192.0.2.99" }, { NULL }, { NULL } },
	{ "wild.site.", LDNS_RR_TYPE_A, IN, false, LDNS_RCODE_NOERROR, true,
	  false, { NULL }, { SITE_SOA_NEG }, { NULL } },
	/* Everything else falls into the private root: NXDOMAIN. */
	/* The root's NS names a host in site.: another zone's data, so no
	 * address goes along. */
	{ ".", LDNS_RR_TYPE_NS, IN, false, LDNS_RCODE_NOERROR, true, false,
	  { ". 86400 IN NS ns1.site." }, { NULL }, { NULL } },
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
	/* DS at an apex whose parent is not served: the zone itself says
	 * NODATA. */
	{ "site.", LDNS_RR_TYPE_DS, IN, false, LDNS_RCODE_NOERROR, true,
	  false, { NULL }, { SITE_SOA_NEG }, { NULL } },
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

/*
 * A signed zone (NSEC, RFC 4035), signatures made up (the server never
 * checks them): each names what it covers in its last octets. Canonical
 * order: sig. deleg a.ent ns secure *.wild www (ent and wild are empty
 * non-terminals; glue below the cuts is not in the chain).
 */
#define SIG_TAIL "20300101000000 20200101000000 1 sig."
static const char ZONE_SIG[] =
	"$ORIGIN sig.\n"
	"$TTL 3600\n"
	"@ SOA ns.sig. h.sig. 1 7200 3600 1209600 300\n"
	"@ RRSIG SOA 13 1 3600 " SIG_TAIL " c29h\n"
	"@ NS ns\n"
	"@ RRSIG NS 13 1 3600 " SIG_TAIL " bnMx\n"
	"@ DNSKEY 257 3 13 a2V5a2V5\n"
	"@ RRSIG DNSKEY 13 1 3600 " SIG_TAIL " a2V5\n"
	"@ 300 NSEC deleg NS SOA RRSIG NSEC DNSKEY\n"
	"@ 300 RRSIG NSEC 13 1 300 " SIG_TAIL " bjAx\n"
	"deleg NS ns.deleg\n"
	"ns.deleg A 192.0.2.5\n"
	"deleg 300 NSEC a.ent NS RRSIG NSEC\n"
	"deleg 300 RRSIG NSEC 13 2 300 " SIG_TAIL " bjAy\n"
	"a.ent A 192.0.2.4\n"
	"a.ent RRSIG A 13 3 3600 " SIG_TAIL " ZW50\n"
	"a.ent 300 NSEC ns A RRSIG NSEC\n"
	"a.ent 300 RRSIG NSEC 13 3 300 " SIG_TAIL " bjAz\n"
	"ns A 192.0.2.1\n"
	"ns RRSIG A 13 2 3600 " SIG_TAIL " bnNh\n"
	"ns 300 NSEC secure A RRSIG NSEC\n"
	"ns 300 RRSIG NSEC 13 2 300 " SIG_TAIL " bjA0\n"
	"secure NS ns.secure\n"
	"secure DS 1 13 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
	"secure RRSIG DS 13 2 3600 " SIG_TAIL " ZHNz\n"
	"ns.secure A 192.0.2.6\n"
	"secure 300 NSEC *.wild NS DS RRSIG NSEC\n"
	"secure 300 RRSIG NSEC 13 2 300 " SIG_TAIL " bjA1\n"
	"*.wild A 192.0.2.3\n"
	"*.wild RRSIG A 13 2 3600 " SIG_TAIL " d2xk\n"
	"*.wild 300 NSEC www A RRSIG NSEC\n"
	"*.wild 300 RRSIG NSEC 13 2 300 " SIG_TAIL " bjA2\n"
	"www A 192.0.2.2\n"
	"www 600 RRSIG A 13 2 3600 " SIG_TAIL " d3d3\n"
	"www 300 NSEC sig. A RRSIG NSEC\n"
	"www 300 RRSIG NSEC 13 2 300 " SIG_TAIL " bjA3\n";

#define RS(o, ttl, rest) o " " #ttl " IN RRSIG " rest " " SIG_TAIL
#define SIG_SOA_NEG "sig. 300 IN SOA ns.sig. h.sig. 1 7200 3600 1209600 300", \
	RS("sig.", 300, "SOA 13 1 3600") " c29h"
#define NSEC_APEX "sig. 300 IN NSEC deleg.sig. NS SOA RRSIG NSEC DNSKEY ", \
	RS("sig.", 300, "NSEC 13 1 300") " bjAx"
#define NSEC_DELEG "deleg.sig. 300 IN NSEC a.ent.sig. NS RRSIG NSEC ", \
	RS("deleg.sig.", 300, "NSEC 13 2 300") " bjAy"
#define NSEC_AENT "a.ent.sig. 300 IN NSEC ns.sig. A RRSIG NSEC ", \
	RS("a.ent.sig.", 300, "NSEC 13 3 300") " bjAz"
#define NSEC_NS "ns.sig. 300 IN NSEC secure.sig. A RRSIG NSEC ", \
	RS("ns.sig.", 300, "NSEC 13 2 300") " bjA0"
#define NSEC_WILD "*.wild.sig. 300 IN NSEC www.sig. A RRSIG NSEC ", \
	RS("*.wild.sig.", 300, "NSEC 13 2 300") " bjA2"
#define NSEC_WWW "www.sig. 300 IN NSEC sig. A RRSIG NSEC ", \
	RS("www.sig.", 300, "NSEC 13 2 300") " bjA3"

static const char *const SIGNED[] = { ZONE_SIG, NULL };
static const struct {
	struct auth_case c;
	bool dnssec;
} dnssec_cases[] = {
	/* RFC 4035 3.1.1: the RRset and its RRSIGs (their own TTL). */
	{ { "www.sig.", LDNS_RR_TYPE_A, IN, false, LDNS_RCODE_NOERROR, true,
	  false, { "www.sig. 3600 IN A 192.0.2.2",
		   RS("www.sig.", 600, "A 13 2 3600") " d3d3" }, { NULL },
	  { NULL } }, true },
	/* Without DO nothing changes: no signatures, no proofs. */
	{ { "www.sig.", LDNS_RR_TYPE_A, IN, false, LDNS_RCODE_NOERROR, true,
	  false, { "www.sig. 3600 IN A 192.0.2.2" }, { NULL }, { NULL } },
	  false },
	{ { "nothing.sig.", LDNS_RR_TYPE_A, IN, false, LDNS_RCODE_NXDOMAIN, true,
	  false, { NULL }, { "sig. 300 IN SOA ns.sig. h.sig. 1 7200 3600 1209600 300" },
	  { NULL } }, false },
	/* NXDOMAIN (3.1.3.2): the NSEC covering the name (a.ent -> ns) and
	 * the one covering the wildcard *.sig. (the apex's). */
	{ { "nothing.sig.", LDNS_RR_TYPE_A, IN, false, LDNS_RCODE_NXDOMAIN, true,
	  false, { NULL }, { SIG_SOA_NEG, NSEC_AENT, NSEC_APEX }, { NULL } }, true },
	/* NODATA (3.1.3.1): the name's own NSEC. */
	{ { "www.sig.", LDNS_RR_TYPE_AAAA, IN, false, LDNS_RCODE_NOERROR, true,
	  false, { NULL }, { SIG_SOA_NEG, NSEC_WWW }, { NULL } }, true },
	/* An empty non-terminal: the NSEC that covers it (deleg -> a.ent). */
	{ { "ent.sig.", LDNS_RR_TYPE_A, IN, false, LDNS_RCODE_NOERROR, true,
	  false, { NULL }, { SIG_SOA_NEG, NSEC_DELEG }, { NULL } }, true },
	/* Wildcard answer (3.1.3.3): the signature of the wildcard (labels
	 * 2) under the query name, and the NSEC proving the name itself
	 * does not exist. */
	{ { "x.wild.sig.", LDNS_RR_TYPE_A, IN, false, LDNS_RCODE_NOERROR, true,
	  false, { "x.wild.sig. 3600 IN A 192.0.2.3",
		   RS("x.wild.sig.", 3600, "A 13 2 3600") " d2xk" },
	  { NSEC_WILD }, { NULL } }, true },
	/* Wildcard NODATA (3.1.3.4): the covering NSEC (the same one) and
	 * the wildcard's own, which lacks the type. */
	{ { "x.wild.sig.", LDNS_RR_TYPE_MX, IN, false, LDNS_RCODE_NOERROR, true,
	  false, { NULL }, { SIG_SOA_NEG, NSEC_WILD }, { NULL } }, true },
	/* Referral to an unsigned child (3.1.4): no DS, the NSEC proves it. */
	{ { "host.deleg.sig.", LDNS_RR_TYPE_A, IN, false, LDNS_RCODE_NOERROR,
	  false, false, { NULL }, { "deleg.sig. 3600 IN NS ns.deleg.sig.", NSEC_DELEG },
	  { "ns.deleg.sig. 3600 IN A 192.0.2.5" } }, true },
	/* Referral to a signed child: the DS and its signature. */
	{ { "host.secure.sig.", LDNS_RR_TYPE_A, IN, false, LDNS_RCODE_NOERROR,
	  false, false, { NULL },
	  { "secure.sig. 3600 IN NS ns.secure.sig.",
	    "secure.sig. 3600 IN DS 1 13 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	    RS("secure.sig.", 3600, "DS 13 2 3600") " ZHNz" },
	  { "ns.secure.sig. 3600 IN A 192.0.2.6" } }, true },
	/* The DS query at the cut is the parent's, signed. */
	{ { "secure.sig.", LDNS_RR_TYPE_DS, IN, false, LDNS_RCODE_NOERROR, true,
	  false, { "secure.sig. 3600 IN DS 1 13 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		   RS("secure.sig.", 3600, "DS 13 2 3600") " ZHNz" },
	  { NULL }, { NULL } }, true },
	/* DNSKEY at the apex, signed; NS answers sign their addresses. */
	{ { "sig.", LDNS_RR_TYPE_DNSKEY, IN, false, LDNS_RCODE_NOERROR, true,
	  false, { "sig. 3600 IN DNSKEY 257 3 13 a2V5a2V5 ;{id = 20056 (ksk), size = 256b}",
		   RS("sig.", 3600, "DNSKEY 13 1 3600") " a2V5" },
	  { NULL }, { NULL } }, true },
	{ { "sig.", LDNS_RR_TYPE_NS, IN, false, LDNS_RCODE_NOERROR, true, false,
	  { "sig. 3600 IN NS ns.sig.", RS("sig.", 3600, "NS 13 1 3600") " bnMx" },
	  { NULL }, { "ns.sig. 3600 IN A 192.0.2.1",
		      RS("ns.sig.", 3600, "A 13 2 3600") " bnNh" } }, true },
	/* A query for RRSIG gathers the signatures of every RRset there. */
	{ { "www.sig.", LDNS_RR_TYPE_RRSIG, IN, false, LDNS_RCODE_NOERROR, true,
	  false, { RS("www.sig.", 600, "A 13 2 3600") " d3d3",
		   RS("www.sig.", 300, "NSEC 13 2 300") " bjA3" },
	  { NULL }, { NULL } }, false },
};

/* RFC 8482 4.1 by default: ANY over UDP gets one RRset of the name (the
 * first in type order), over TCP all of them; --full-any gives all over
 * UDP too. A CNAME's ANY is the CNAME. */
static void test_minimal_any(void **state)
{
	static const struct tdns_auth_cfg minimal = { .version = "tierdns-test" };
	static const struct {
		const struct tdns_auth_cfg *cfg;
		const char *qname;
		bool tcp;
		unsigned ancount;
		ldns_rr_type first;
	} cases[] = {
		{ &minimal, "webapp.site.", false, 1, LDNS_RR_TYPE_A },
		{ &minimal, "webapp.site.", true, 2, LDNS_RR_TYPE_A },
		{ &CFG, "webapp.site.", false, 2, LDNS_RR_TYPE_A },
		{ &minimal, "site.", false, 1, LDNS_RR_TYPE_NS },
		{ &minimal, "www.site.", false, 1, LDNS_RR_TYPE_CNAME },
	};
	static uint8_t out[QCTX_MAX_MSG];
	struct fixture *f = fixture_new(FULL);

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ldns_pkt *qp = NULL, *rp = NULL;
		uint8_t *in = NULL;
		size_t in_len, out_len;

		assert_int_equal(ldns_pkt_query_new_frm_str(&qp, cases[i].qname,
							    LDNS_RR_TYPE_ANY, IN, 0),
				 LDNS_STATUS_OK);
		assert_int_equal(ldns_pkt2wire(&in, qp, &in_len), LDNS_STATUS_OK);
		assert_true(auth_answer(NULL, f->rd, cases[i].cfg, in, in_len, cases[i].tcp,
					out, sizeof(out), &out_len));
		assert_int_equal(ldns_wire2pkt(&rp, out, out_len), LDNS_STATUS_OK);
		assert_int_equal(ldns_pkt_get_rcode(rp), LDNS_RCODE_NOERROR);
		assert_int_equal(ldns_pkt_ancount(rp), cases[i].ancount);
		assert_int_equal(ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_answer(rp), 0)),
				 cases[i].first);
		ldns_pkt_free(qp);
		ldns_pkt_free(rp);
		free(in);
	}
	fixture_free(f);
}

static void test_dnssec(void **state)
{
	struct fixture *f = fixture_new(SIGNED);
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(dnssec_cases) / sizeof(dnssec_cases[0]); i++)
		run_case_do(f->rd, &dnssec_cases[i].c, dnssec_cases[i].dnssec);
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
	struct fixture *f = fixture_new(NOROOT);
	struct tdns_qctx q;
	static struct tdns_answer a;

	(void)state;
	memset(&q, 0, sizeof(q));
	assert_int_equal(qctx_parse(&q, q_other, sizeof(q_other)), QCTX_OK);
	answer_reset(&a);
	assert_int_equal(auth_lookup(NULL, f->rd, &q, &a), AUTH_NOT_AUTH);
	assert_false(a.aa);
	assert_int_equal(a.rcode, LDNS_RCODE_NOERROR);
	assert_int_equal(a.n, 0);
	fixture_free(f);
}

/* EDNS through the whole path: the OPT is answered (our size, DO copied,
 * no options echoed) and the client's payload size is honoured: the big
 * RRset that is truncated at 512 fits in 1232. */
static void test_edns(void **state)
{
	static uint8_t out[QCTX_MAX_MSG];
	static const uint16_t sizes[] = { 4096, 512 };
	struct fixture *f = fixture_new(FULL);
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		ldns_pkt *qp, *rp = NULL;
		ldns_rdf *cookie;
		uint8_t *in = NULL;
		size_t in_len = 0, out_len = 0;

		qp = ldns_pkt_query_new(ldns_dname_new_frm_str("txt.big."),
					LDNS_RR_TYPE_TXT, LDNS_RR_CLASS_IN, 0);
		assert_non_null(qp);
		ldns_pkt_set_edns_udp_size(qp, sizes[i]);
		ldns_pkt_set_edns_do(qp, true);
		cookie = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_UNKNOWN, 12,
					       "\x00\x0a\x00\x08" "abcdefgh");
		ldns_pkt_set_edns_data(qp, cookie);
		assert_int_equal(ldns_pkt2wire(&in, qp, &in_len),
				 LDNS_STATUS_OK);
		assert_true(auth_answer(NULL, f->rd, &CFG, in, in_len, false, out,
					sizeof(out), &out_len));
		assert_int_equal(ldns_wire2pkt(&rp, out, out_len),
				 LDNS_STATUS_OK);
		assert_true(ldns_pkt_edns(rp));
		assert_int_equal(ldns_pkt_edns_udp_size(rp), QCTX_EDNS_SIZE);
		assert_true(ldns_pkt_edns_do(rp));
		assert_null(ldns_pkt_edns_data(rp));
		assert_true(ldns_pkt_aa(rp));
		if (sizes[i] == 4096) {
			assert_false(ldns_pkt_tc(rp));
			assert_int_equal(ldns_pkt_ancount(rp), 12);
			assert_true(out_len > 512 && out_len <= 1232);
		} else {
			assert_true(ldns_pkt_tc(rp));
			assert_int_equal(ldns_pkt_ancount(rp), 0);
		}
		ldns_pkt_free(rp);
		ldns_pkt_free(qp);
		free(in);
	}
	fixture_free(f);
}

/* Stored rdata that does not fit its type (a damaged or foreign store)
 * gives SERVFAIL for that query, never a crash or a half answer. */
static void test_bad_stored_rdata(void **state)
{
	static const struct {
		uint16_t type;
		const char *rdata;
		uint16_t len;
	} bad[] = {
		{ LDNS_RR_TYPE_A, "\xc0\x00\x02", 3 },
		{ LDNS_RR_TYPE_MX, "\x00\x0a\x04mail", 7 },
		{ LDNS_RR_TYPE_MX, "\x00\x0a\xc0\x00", 4 },
	};
	static const struct auth_case c = {
		"bad.site.", 0, IN, false, LDNS_RCODE_SERVFAIL, false, false,
		{ NULL }, { NULL }, { NULL } };
	struct fixture *f = fixture_new(NOROOT);
	uint8_t key[NAME_KEY_MAX], val[64];
	size_t klen = 0, i;

	(void)state;
	assert_int_equal(name_key_from_wire((const uint8_t *)"\x03" "bad"
					    "\x04" "site", 10, key, &klen),
			 TDNS_OK);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct auth_case ci = c;
		struct tdns_rrset_enc e;
		struct tdns_txn *w = NULL;

		rrset_enc_init(&e, val, sizeof(val), 300);
		assert_int_equal(rrset_enc_add(&e, (const uint8_t *)bad[i].rdata,
					       bad[i].len), TDNS_OK);
		store_abort(f->rd);
		assert_int_equal(store_begin(f->store, true, &w), TDNS_OK);
		assert_int_equal(zonedb_put_rrset(w, key, klen, bad[i].type,
						  val, e.len), TDNS_OK);
		assert_int_equal(store_commit(w), TDNS_OK);
		assert_int_equal(store_begin(f->store, false, &f->rd), TDNS_OK);
		ci.qtype = bad[i].type;
		run_case(f->rd, &ci);
	}
	fixture_free(f);
}

/* Malformed input through the whole path: nothing, or an error reply. */
static void test_answer_malformed(void **state)
{
	static uint8_t out[QCTX_MAX_MSG];
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
	assert_false(auth_answer(NULL, f->rd, &CFG, response, 5, false, out,
				 sizeof(out), &out_len));
	assert_false(auth_answer(NULL, f->rd, &CFG, response, sizeof(response),
				 false, out, sizeof(out), &out_len));
	assert_true(auth_answer(NULL, f->rd, &CFG, two_q, sizeof(two_q), false, out,
				sizeof(out), &out_len));
	assert_int_equal(out_len, DNS_HDR_LEN);
	assert_int_equal(out[3] & 0x0f, LDNS_RCODE_FORMERR);
	fixture_free(f);
}

/* ------------------------------------------------------------------ */
/* Every name, type and EDNS shape against ldns, the oracle.          */

#define DIFF_MAX_NAMES 256

struct diff_names {
	uint8_t wire[DIFF_MAX_NAMES][NAME_WIRE_MAX];
	size_t len[DIFF_MAX_NAMES];
	size_t n;
};

static void diff_add_key(struct diff_names *d, const uint8_t *key, size_t klen)
{
	size_t i, wlen = 0;
	uint8_t w[NAME_WIRE_MAX];

	assert_int_equal(name_key_to_wire(key, klen, w, &wlen), TDNS_OK);
	for (i = 0; i < d->n; i++)
		if (d->len[i] == wlen && memcmp(d->wire[i], w, wlen) == 0)
			return;
	assert_true(d->n < DIFF_MAX_NAMES);
	memcpy(d->wire[d->n], w, wlen);
	d->len[d->n++] = wlen;
}

/* Every owner, its parent (empty non-terminals, delegation points) and a
 * child that does not exist (NXDOMAIN, wildcard, below a cut). */
static int diff_owner_cb(void *ctx, const uint8_t *key, size_t klen,
			 uint16_t type, const struct tdns_rrset_view *v)
{
	struct diff_names *d = ctx;
	uint8_t child[NAME_KEY_MAX];
	int labels = name_key_labels(key, klen);

	(void)type;
	(void)v;
	diff_add_key(d, key, klen);
	if (labels > 0)
		diff_add_key(d, key, name_key_prefix_len(key, klen, labels - 1));
	if (klen + 3 <= NAME_KEY_MAX) {
		memcpy(child, key, klen);
		memcpy(child + klen, "\x02zz", 3);
		diff_add_key(d, child, klen + 3);
	}
	return 0;
}

static int diff_zone_cb(void *ctx, const uint8_t *apex, size_t apex_len,
			const struct tdns_zone_meta *meta)
{
	void **args = ctx;

	(void)meta;
	return zonedb_walk(args[0], apex, apex_len, diff_owner_cb, args[1],
			   NULL) != TDNS_OK;
}

/* A query in wire form: qname in random case, random RD/CD, EDNS as
 * asked (udp 0 = none), an EDNS COOKIE option when cookie is set. */
static uint8_t *diff_query(const uint8_t *wire, size_t wlen, uint16_t qtype,
			   uint16_t udp, bool dobit, bool cookie, size_t *len)
{
	ldns_rdf *name = ldns_dname_new_frm_data((uint16_t)wlen, wire);
	ldns_pkt *qp;
	uint8_t *in = NULL;
	size_t i;

	assert_non_null(name);
	qp = ldns_pkt_query_new(name, (ldns_rr_type)qtype, LDNS_RR_CLASS_IN,
				(rand() & 1) ? LDNS_RD : 0);
	assert_non_null(qp);
	ldns_pkt_set_id(qp, (uint16_t)rand());
	ldns_pkt_set_cd(qp, (rand() & 1) != 0);
	if (udp > 0) {
		ldns_pkt_set_edns_udp_size(qp, udp);
		ldns_pkt_set_edns_do(qp, dobit);
		if (cookie)
			ldns_pkt_set_edns_data(qp, ldns_rdf_new_frm_data(
				LDNS_RDF_TYPE_UNKNOWN, 12,
				"\x00\x0a\x00\x08" "abcdefgh"));
	}
	assert_int_equal(ldns_pkt2wire(&in, qp, len), LDNS_STATUS_OK);
	/* RFC 4343: the answer must echo the client's case. */
	for (i = DNS_HDR_LEN; i < DNS_HDR_LEN + wlen; i++)
		if (in[i] >= 'a' && in[i] <= 'z' && (rand() & 1))
			in[i] = (uint8_t)(in[i] - ('a' - 'A'));
	ldns_pkt_free(qp);
	return in;
}

/*
 * One query through both lookups (the zone list cache and the store), as
 * UDP or TCP: they must send the same bytes, and whatever is sent must
 * parse with ldns, fit the limit, echo the question and keep the OPT.
 */
static void diff_one(struct zonedb_cache *zc, struct tdns_txn *t,
		     const uint8_t *in, size_t in_len, bool tcp, size_t *sent)
{
	static uint8_t plain[QCTX_MAX_MSG], cached[QCTX_MAX_MSG];
	size_t plain_len = 0, cached_len = 0, limit;
	struct tdns_qctx q;
	ldns_pkt *p = NULL;
	bool plain_sent, cached_sent;

	plain_sent = auth_answer(NULL, t, &CFG, in, in_len, tcp, plain,
				 sizeof(plain), &plain_len);
	cached_sent = auth_answer(zc, t, &CFG, in, in_len, tcp, cached,
				  sizeof(cached), &cached_len);
	assert_int_equal(plain_sent, cached_sent);
	if (!plain_sent)
		return;
	assert_int_equal(cached_len, plain_len);
	assert_memory_equal(cached, plain, plain_len);
	if (ldns_wire2pkt(&p, plain, plain_len) != LDNS_STATUS_OK)
		fail_msg("reply of %zu bytes does not parse with ldns", plain_len);
	memset(&q, 0, sizeof(q));
	q.transport = tcp ? QCTX_TCP : QCTX_UDP;
	if (qctx_parse(&q, in, in_len) == QCTX_OK) {
		limit = q.limit;
		assert_true(plain_len <= limit);
		assert_int_equal(ldns_pkt_qdcount(p), 1);
		assert_memory_equal(plain + DNS_HDR_LEN, in + DNS_HDR_LEN,
				    q.qname_len + 4);
		assert_int_equal(ldns_pkt_edns(p), q.edns);
		(*sent)++;
	}
	ldns_pkt_free(p);
}

/* Every name of every zone in FULL, many types, random case, EDNS off
 * and on (small and large payloads, DO, an option), UDP and TCP, and
 * damaged copies of each. */
static void test_every_name_parses(void **state)
{
	static const uint16_t types[] = {
		LDNS_RR_TYPE_A, LDNS_RR_TYPE_AAAA, LDNS_RR_TYPE_MX,
		LDNS_RR_TYPE_TXT, LDNS_RR_TYPE_SOA, LDNS_RR_TYPE_CNAME,
		LDNS_RR_TYPE_SRV, LDNS_RR_TYPE_PTR, LDNS_RR_TYPE_NS,
		LDNS_RR_TYPE_DS, LDNS_RR_TYPE_ANY, 65280, 0,
	};
	static const uint16_t udps[] = { 0, 512, 1232, 4096 };
	static struct diff_names d;
	struct fixture *f = fixture_new(FULL);
	void *args[2] = { f->rd, &d };
	struct zonedb_cache *zc = NULL;
	size_t i, j, k, m, b, in_len, sent = 0, total = 0;
	uint8_t *in;

	(void)state;
	assert_int_equal(zonedb_cache_new(&zc), TDNS_OK);
	srand(5);
	d.n = 0;
	assert_int_equal(zonedb_list(f->rd, diff_zone_cb, args, NULL), TDNS_OK);
	assert_true(d.n > 50);
	for (i = 0; i < d.n; i++) {
		for (j = 0; j < sizeof(types) / sizeof(types[0]); j++) {
			for (k = 0; k < sizeof(udps) / sizeof(udps[0]); k++) {
				in = diff_query(d.wire[i], d.len[i], types[j],
						udps[k], (rand() & 1) != 0,
						k == 2, &in_len);
				diff_one(zc, f->rd, in, in_len, false, &sent);
				diff_one(zc, f->rd, in, in_len, true, &sent);
				total += 2;
				/* Damaged: a few random bytes changed. */
				for (m = 0; m < 3; m++) {
					for (b = (size_t)rand() % 3; b < 3; b++)
						in[(size_t)rand() % in_len] =
							(uint8_t)rand();
					diff_one(zc, f->rd, in, in_len, false,
						 &sent);
				}
				free(in);
			}
		}
	}
	print_message("%zu of %zu well-formed queries answered\n", sent, total);
	assert_int_equal(sent >= total, true);
	zonedb_cache_free(zc);
	fixture_free(f);
}

/* ------------------------------------------------------------------ */
/* The zone list cache follows the store at once.                      */

static void load(struct tdns_store *store, const char *text)
{
	struct tdns_zoneset *zs = zoneload_new();
	char err[ZONELOAD_ERR_MAX];

	assert_non_null(zs);
	if (zoneload_text(zs, text, "inline", err, sizeof(err)) != TDNS_OK)
		fail_msg("zone text: %s", err);
	assert_int_equal(zoneload_commit(zs, store), TDNS_OK);
	zoneload_free(zs);
}

/* Ask through the zone list cache. */
static ldns_pkt *ask_cached(struct zonedb_cache *zc, struct tdns_txn *t,
			    const char *qname, uint16_t qtype)
{
	static uint8_t out[QCTX_MAX_MSG];
	ldns_rdf *name = ldns_dname_new_frm_str(qname);
	ldns_pkt *qp, *rp = NULL;
	uint8_t *in = NULL;
	size_t in_len = 0, out_len = 0;

	assert_non_null(name);
	qp = ldns_pkt_query_new(name, (ldns_rr_type)qtype, LDNS_RR_CLASS_IN, 0);
	assert_non_null(qp);
	assert_int_equal(ldns_pkt2wire(&in, qp, &in_len), LDNS_STATUS_OK);
	assert_true(auth_answer(zc, t, &CFG, in, in_len, false, out,
				sizeof(out), &out_len));
	assert_int_equal(ldns_wire2pkt(&rp, out, out_len), LDNS_STATUS_OK);
	ldns_pkt_free(qp);
	free(in);
	return rp;
}

static void expect(ldns_pkt *rp, ldns_pkt_rcode rcode, bool aa,
		   const char *const *an, const char *const *ns)
{
	assert_int_equal(ldns_pkt_get_rcode(rp), rcode);
	assert_int_equal(ldns_pkt_aa(rp), aa);
	check_section("answer", ldns_pkt_answer(rp), an);
	check_section("authority", ldns_pkt_authority(rp), ns);
	ldns_pkt_free(rp);
}

static const char ZONE_LOW2[] =
	"$ORIGIN low.\n"
	"@ 60 IN SOA ns.low. hostmaster.low. 2 7200 3600 1209600 3600\n"
	"@ 60 NS ns.low.\n"
	"ns 60 A 192.0.2.78\n"
	"deleg 60 NS ns.elsewhere.\n";

/* A zone loaded, and a zone changed (new address, a new delegation),
 * while a worker holds a cached zone list: the next snapshot serves them. */
static void test_cache_follows_loads(void **state)
{
	static const char *const none[] = { NULL };
	static const char *const webapp[] = { "webapp.site. 3600 IN A 192.0.2.10",
					      NULL };
	static const char *const ns77[] = { "ns.low. 60 IN A 192.0.2.77", NULL };
	static const char *const ns78[] = { "ns.low. 60 IN A 192.0.2.78", NULL };
	static const char *const soa1[] = {
		"low. 60 IN SOA ns.low. hostmaster.low. 1 7200 3600 1209600 3600",
		NULL };
	static const char *const deleg[] = { "deleg.low. 60 IN NS ns.elsewhere.",
					     NULL };
	static const char *const low_only[] = { ZONE_LOW, NULL };
	struct fixture *f = fixture_new(low_only);
	struct zonedb_cache *zc = NULL;

	(void)state;
	assert_int_equal(zonedb_cache_new(&zc), TDNS_OK);
	expect(ask_cached(zc, f->rd, "webapp.site.", LDNS_RR_TYPE_A),
	       LDNS_RCODE_REFUSED, false, none, none);
	expect(ask_cached(zc, f->rd, "ns.low.", LDNS_RR_TYPE_A),
	       LDNS_RCODE_NOERROR, true, ns77, none);
	expect(ask_cached(zc, f->rd, "www.deleg.low.", LDNS_RR_TYPE_A),
	       LDNS_RCODE_NXDOMAIN, true, none, soa1);

	/* A new zone, as a worker sees it: its snapshot renewed. */
	store_reset(f->rd);
	load(f->store, ZONE_SITE);
	assert_int_equal(store_renew(f->rd), TDNS_OK);
	expect(ask_cached(zc, f->rd, "webapp.site.", LDNS_RR_TYPE_A),
	       LDNS_RCODE_NOERROR, true, webapp, none);

	/* A changed zone: new data, and a delegation where the zone had
	 * none (the cached "no cuts" must not outlive it). */
	store_reset(f->rd);
	load(f->store, ZONE_LOW2);
	assert_int_equal(store_renew(f->rd), TDNS_OK);
	expect(ask_cached(zc, f->rd, "ns.low.", LDNS_RR_TYPE_A),
	       LDNS_RCODE_NOERROR, true, ns78, none);
	expect(ask_cached(zc, f->rd, "www.deleg.low.", LDNS_RR_TYPE_A),
	       LDNS_RCODE_NOERROR, false, none, deleg);
	zonedb_cache_free(zc);
	fixture_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_tcp_gets_everything),
		cmocka_unit_test(test_noroot),
		cmocka_unit_test(test_lookup_not_auth),
		cmocka_unit_test(test_dnssec),
		cmocka_unit_test(test_edns),
		cmocka_unit_test(test_bad_stored_rdata),
		cmocka_unit_test(test_answer_malformed),
		cmocka_unit_test(test_every_name_parses),
		cmocka_unit_test(test_minimal_any),
		cmocka_unit_test(test_cache_follows_loads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
