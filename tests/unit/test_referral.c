/*
 * test_referral.c - judging a stub zone server's referral (referral.h): a
 * table of referrals (authority and additional sections as master-file
 * text) with the verdict and the servers taken, the hop limit, and that a
 * refused referral leaves the state as it was.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
/* stdbool.h first: without it ldns/common.h defines bool as signed char. */
#include <stdbool.h>
#include <ldns/ldns.h>

#include "tierdns/msg.h"
#include "tierdns/name.h"
#include "tierdns/netio.h"
#include "tierdns/referral.h"
#include "tierdns/zoneload.h"

#define MAX_RRS 8

static struct tdns_msg m;
static uint8_t wire[4096];

static ldns_rr *rr_from(const char *text)
{
	ldns_rr *rr = NULL;

	if (ldns_rr_new_frm_str(&rr, text, 0, NULL, NULL) != LDNS_STATUS_OK)
		fail_msg("bad record in test: %s", text);
	return rr;
}

/* A referral for qname (NOERROR, not authoritative, no answer) with the
 * records ns[] in authority and ar[] in additional, parsed into m. */
static void mkreferral(const char *qname, const char *const *ns, const char *const *ar)
{
	ldns_pkt *p = ldns_pkt_query_new(ldns_dname_new_frm_str(qname), LDNS_RR_TYPE_A,
					 LDNS_RR_CLASS_IN, 0);
	uint8_t *w = NULL;
	size_t n = 0;

	assert_non_null(p);
	ldns_pkt_set_qr(p, true);
	for (size_t i = 0; ns != NULL && ns[i] != NULL; i++)
		assert_true(ldns_pkt_push_rr(p, LDNS_SECTION_AUTHORITY, rr_from(ns[i])));
	for (size_t i = 0; ar != NULL && ar[i] != NULL; i++)
		assert_true(ldns_pkt_push_rr(p, LDNS_SECTION_ADDITIONAL, rr_from(ar[i])));
	assert_int_equal(ldns_pkt2wire(&w, p, &n), LDNS_STATUS_OK);
	assert_true(n <= sizeof(wire));
	memcpy(wire, w, n);
	free(w);
	ldns_pkt_free(p);
	assert_int_equal(msg_parse(&m, wire, n), MSG_OK);
}

static size_t key_len_of(const char *name)
{
	uint8_t key[NAME_KEY_MAX];
	size_t klen;

	assert_int_equal(zoneload_name_key(name, key, &klen), TDNS_OK);
	return klen;
}

static void addr_text(const struct tdns_addr *a, char *buf, size_t cap)
{
	netio_addr_str(a, buf, cap);
}

struct ref_case {
	const char *what;
	const char *qname;
	const char *stub;    /* the stub zone */
	const char *zone;    /* the zone of the servers that referred */
	unsigned hops;       /* referrals followed before */
	const char *ns[MAX_RRS];
	const char *ar[MAX_RRS];
	enum referral_verdict want;
	const char *child;   /* REFERRAL_OK: the zone now asked */
	const char *addrs[REFERRAL_ADDRS_MAX + 1]; /* and its servers, in order */
};

static const struct ref_case cases[] = {
	{ "a delegation with in-bailiwick glue", "www.eng.corp.", "corp.", "corp.", 0,
	  { "eng.corp. 300 IN NS ns1.eng.corp.", "eng.corp. 300 IN NS ns2.eng.corp." },
	  { "ns1.eng.corp. 300 IN A 192.0.2.1", "ns2.eng.corp. 300 IN A 192.0.2.2",
	    "ns2.eng.corp. 300 IN AAAA 2001:db8::2" },
	  REFERRAL_OK, "eng.corp.", { "192.0.2.1:53", "192.0.2.2:53", "[2001:db8::2]:53" } },
	{ "the qname is the child's apex", "eng.corp.", "corp.", "corp.", 0,
	  { "eng.corp. 300 IN NS ns.eng.corp." }, { "ns.eng.corp. 300 IN A 192.0.2.1" },
	  REFERRAL_OK, "eng.corp.", { "192.0.2.1:53" } },
	{ "names compare without case", "WWW.Eng.CORP.", "corp.", "corp.", 0,
	  { "ENG.corp. 300 IN NS NS.eng.CORP." }, { "ns.ENG.corp. 300 IN A 192.0.2.1" },
	  REFERRAL_OK, "eng.corp.", { "192.0.2.1:53" } },
	{ "two labels down at once", "www.a.b.corp.", "corp.", "corp.", 0,
	  { "a.b.corp. 300 IN NS ns.a.b.corp." }, { "ns.a.b.corp. 300 IN A 192.0.2.1" },
	  REFERRAL_OK, "a.b.corp.", { "192.0.2.1:53" } },
	{ "from a followed zone further down", "www.x.eng.corp.", "corp.", "eng.corp.", 3,
	  { "x.eng.corp. 300 IN NS ns.x.eng.corp." }, { "ns.x.eng.corp. 300 IN A 192.0.2.9" },
	  REFERRAL_OK, "x.eng.corp.", { "192.0.2.9:53" } },
	{ "glue of an NS name outside the child is ignored", "www.eng.corp.", "corp.",
	  "corp.", 0,
	  { "eng.corp. 300 IN NS ns.corp.", "eng.corp. 300 IN NS ns.eng.corp." },
	  { "ns.corp. 300 IN A 192.0.2.66", "ns.eng.corp. 300 IN A 192.0.2.1" },
	  REFERRAL_OK, "eng.corp.", { "192.0.2.1:53" } },
	{ "an address for a name that is no NS name is ignored", "www.eng.corp.", "corp.",
	  "corp.", 0, { "eng.corp. 300 IN NS ns.eng.corp." },
	  { "other.eng.corp. 300 IN A 192.0.2.66", "ns.eng.corp. 300 IN A 192.0.2.1",
	    "ns.eng.corp. 300 IN A 192.0.2.1" },
	  REFERRAL_OK, "eng.corp.", { "192.0.2.1:53" } },
	{ "only out-of-bailiwick glue", "www.eng.corp.", "corp.", "corp.", 0,
	  { "eng.corp. 300 IN NS ns.corp." }, { "ns.corp. 300 IN A 192.0.2.66" },
	  REFERRAL_NO_GLUE, NULL, { NULL } },
	{ "no glue at all", "www.eng.corp.", "corp.", "corp.", 0,
	  { "eng.corp. 300 IN NS ns.eng.corp." }, { NULL }, REFERRAL_NO_GLUE, NULL, { NULL } },
	{ "unspecified, multicast and broadcast glue is no address to ask", "www.eng.corp.",
	  "corp.", "corp.", 0, { "eng.corp. 300 IN NS ns.eng.corp." },
	  { "ns.eng.corp. 300 IN A 0.0.0.0", "ns.eng.corp. 300 IN A 224.0.0.1",
	    "ns.eng.corp. 300 IN A 255.255.255.255", "ns.eng.corp. 300 IN AAAA ::",
	    "ns.eng.corp. 300 IN AAAA ff02::1", "ns.eng.corp. 300 IN A 192.0.2.1" },
	  REFERRAL_OK, "eng.corp.", { "192.0.2.1:53" } },
	{ "glue of another class", "www.eng.corp.", "corp.", "corp.", 0,
	  { "eng.corp. 300 IN NS ns.eng.corp." }, { "ns.eng.corp. 300 CH A 192.0.2.1" },
	  REFERRAL_NO_GLUE, NULL, { NULL } },
	{ "out of the stub zone (up to the root's child)", "www.eng.corp.", "corp.", "corp.",
	  0, { "com. 300 IN NS ns.com." }, { "ns.com. 300 IN A 192.0.2.1" },
	  REFERRAL_OUT_OF_ZONE, NULL, { NULL } },
	{ "out of the stub zone (the root)", "www.eng.corp.", "corp.", "corp.", 0,
	  { ". 300 IN NS a.root-servers.net." }, { NULL }, REFERRAL_OUT_OF_ZONE, NULL, { NULL } },
	{ "a followed zone refers back up to the stub zone", "www.eng.corp.", "corp.",
	  "eng.corp.", 1, { "corp. 300 IN NS ns.corp." }, { "ns.corp. 300 IN A 192.0.2.1" },
	  REFERRAL_NOT_CLOSER, NULL, { NULL } },
	{ "a referral to the zone that referred", "www.eng.corp.", "corp.", "eng.corp.", 1,
	  { "eng.corp. 300 IN NS ns.eng.corp." }, { "ns.eng.corp. 300 IN A 192.0.2.1" },
	  REFERRAL_NOT_CLOSER, NULL, { NULL } },
	{ "the stub zone's server refers to itself", "www.eng.corp.", "corp.", "corp.", 0,
	  { "corp. 300 IN NS ns.corp." }, { "ns.corp. 300 IN A 192.0.2.1" },
	  REFERRAL_NOT_CLOSER, NULL, { NULL } },
	{ "sideways within the stub zone", "www.x.eng.corp.", "corp.", "x.eng.corp.", 2,
	  { "y.eng.corp. 300 IN NS ns.y.eng.corp." }, { "ns.y.eng.corp. 300 IN A 192.0.2.1" },
	  REFERRAL_NOT_CLOSER, NULL, { NULL } },
	{ "a child that does not hold the name", "www.eng.corp.", "corp.", "corp.", 0,
	  { "sales.corp. 300 IN NS ns.sales.corp." }, { "ns.sales.corp. 300 IN A 192.0.2.1" },
	  REFERRAL_NOT_QNAME, NULL, { NULL } },
	{ "NS records of two names", "www.eng.corp.", "corp.", "corp.", 0,
	  { "eng.corp. 300 IN NS ns.eng.corp.", "www.eng.corp. 300 IN NS ns.eng.corp." },
	  { "ns.eng.corp. 300 IN A 192.0.2.1" }, REFERRAL_MALFORMED, NULL, { NULL } },
	{ "the hop limit", "www.eng.corp.", "corp.", "corp.", REFERRAL_HOPS_MAX,
	  { "eng.corp. 300 IN NS ns.eng.corp." }, { "ns.eng.corp. 300 IN A 192.0.2.1" },
	  REFERRAL_HOPS, NULL, { NULL } },
	{ "the last hop allowed", "www.eng.corp.", "corp.", "corp.", REFERRAL_HOPS_MAX - 1,
	  { "eng.corp. 300 IN NS ns.eng.corp." }, { "ns.eng.corp. 300 IN A 192.0.2.1" },
	  REFERRAL_OK, "eng.corp.", { "192.0.2.1:53" } },
};

static void test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct ref_case *c = &cases[i];
		struct referral_state s, before;
		uint8_t qkey[NAME_KEY_MAX];
		size_t qlen;
		char text[80];
		unsigned n = 0;

		print_message("%s\n", c->what);
		assert_int_equal(zoneload_name_key(c->qname, qkey, &qlen), TDNS_OK);
		referral_begin(&s, key_len_of(c->stub));
		s.zone_len = key_len_of(c->zone);
		s.hops = c->hops;
		before = s;
		mkreferral(c->qname, c->ns, c->ar);
		assert_int_equal(referral_follow(&s, &m, qkey, qlen, 53), c->want);
		assert_non_null(referral_text(c->want));
		if (c->want != REFERRAL_OK) {
			assert_memory_equal(&s, &before, sizeof(s)); /* unchanged */
			continue;
		}
		assert_int_equal(s.zone_len, key_len_of(c->child));
		assert_int_equal(s.stub_len, before.stub_len);
		assert_int_equal(s.hops, c->hops + 1);
		while (c->addrs[n] != NULL)
			n++;
		assert_int_equal(s.n_addr, n);
		for (unsigned j = 0; j < n; j++) {
			addr_text(&s.addr[j], text, sizeof(text));
			assert_string_equal(text, c->addrs[j]);
		}
	}
}

/* A chain of referrals one label down each time ends at the limit. */
static void test_hops(void **state)
{
	const char *const zones[] = { "a.corp.", "b.a.corp.", "c.b.a.corp.", "d.c.b.a.corp.",
				      "e.d.c.b.a.corp.", "f.e.d.c.b.a.corp.",
				      "g.f.e.d.c.b.a.corp.", "h.g.f.e.d.c.b.a.corp.",
				      "i.h.g.f.e.d.c.b.a.corp." };
	const char *qname = "www.i.h.g.f.e.d.c.b.a.corp.";
	struct referral_state s;
	uint8_t qkey[NAME_KEY_MAX];
	size_t qlen;
	char ns[128], glue[128];

	(void)state;
	assert_int_equal(zoneload_name_key(qname, qkey, &qlen), TDNS_OK);
	referral_begin(&s, key_len_of("corp."));
	for (unsigned i = 0; i < 9; i++) {
		const char *nsv[] = { ns, NULL }, *arv[] = { glue, NULL };

		snprintf(ns, sizeof(ns), "%s 300 IN NS ns.%s", zones[i], zones[i]);
		snprintf(glue, sizeof(glue), "ns.%s 300 IN A 192.0.2.%u", zones[i], i + 1);
		mkreferral(qname, nsv, arv);
		assert_int_equal(referral_follow(&s, &m, qkey, qlen, 53),
				 i < REFERRAL_HOPS_MAX ? REFERRAL_OK : REFERRAL_HOPS);
	}
	assert_int_equal(s.hops, REFERRAL_HOPS_MAX);
	assert_int_equal(s.zone_len, key_len_of(zones[REFERRAL_HOPS_MAX - 1]));
}

/* More glue than kept: the first REFERRAL_ADDRS_MAX, in NS order. */
static void test_many_addrs(void **state)
{
	char nsbuf[20][64], arbuf[20][64];
	const char *nsv[21], *arv[21];
	struct referral_state s;
	uint8_t qkey[NAME_KEY_MAX];
	size_t qlen;
	char text[80];

	(void)state;
	for (unsigned i = 0; i < 20; i++) {
		snprintf(nsbuf[i], sizeof(nsbuf[i]), "eng.corp. 300 IN NS ns%u.eng.corp.", i);
		/* additional in reverse order: the order taken is the NS order */
		snprintf(arbuf[19 - i], sizeof(arbuf[i]), "ns%u.eng.corp. 300 IN A 192.0.2.%u", i,
			 i + 1);
		nsv[i] = nsbuf[i];
	}
	for (unsigned i = 0; i < 20; i++)
		arv[i] = arbuf[i];
	nsv[20] = arv[20] = NULL;
	assert_int_equal(zoneload_name_key("www.eng.corp.", qkey, &qlen), TDNS_OK);
	referral_begin(&s, key_len_of("corp."));
	mkreferral("www.eng.corp.", nsv, arv);
	assert_int_equal(referral_follow(&s, &m, qkey, qlen, 5353), REFERRAL_OK);
	assert_int_equal(s.n_addr, REFERRAL_ADDRS_MAX);
	addr_text(&s.addr[0], text, sizeof(text));
	assert_string_equal(text, "192.0.2.1:5353");
	addr_text(&s.addr[REFERRAL_ADDRS_MAX - 1], text, sizeof(text));
	assert_string_equal(text, "192.0.2.16:5353");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_hops),
		cmocka_unit_test(test_many_addrs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
