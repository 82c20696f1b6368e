/*
 * test_policy.c - the resolver policy (policy.h, hosts.h, rpz.h) as
 * tables: a question -> the verdict, rcode, AA, the first answer's type
 * and count, authority, EDE; a name -> its route and upstream set.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <cmocka.h>

#include "testutil.h"
#include "tierdns/dnsproto.h"
#include "tierdns/name.h"
#include "tierdns/policy.h"
#include "tierdns/zoneload.h"

static void mkq(struct tdns_qctx *q, const char *name, uint16_t qtype, uint8_t transport)
{
	memset(q, 0, sizeof(*q));
	q->transport = transport;
	q->has_q = true;
	q->qtype = qtype;
	q->qclass = DNS_CLASS_IN;
	assert_int_equal(zoneload_name_key(name, q->qkey, &q->qkey_len), TDNS_OK);
}

struct acase {
	const char *name;
	uint16_t qtype;
	enum policy_verdict v;
	uint16_t rcode;
	bool aa;
	uint16_t atype;   /* first answer's type, 0: no answer */
	uint16_t acount;
	size_t n_auth;    /* SOA records in authority */
	uint16_t ede;     /* 0: none (15 is Blocked) */
};

static void run_answers(const struct tdns_policy *p, const struct acase *c, size_t n)
{
	struct tdns_answer a;
	struct tdns_qctx q;

	for (size_t i = 0; i < n; i++) {
		mkq(&q, c[i].name, c[i].qtype, QCTX_UDP);
		answer_reset(&a);
		print_message("%s %u\n", c[i].name, c[i].qtype);
		assert_int_equal(policy_answer(p, &q, &a), c[i].v);
		if (c[i].v != POLICY_ANSWER)
			continue;
		assert_int_equal(a.rcode, c[i].rcode);
		assert_int_equal(a.aa, c[i].aa);
		assert_int_equal(answer_count(&a, ANS_ANSWER), c[i].atype ? 1 : 0);
		if (c[i].atype) {
			assert_int_equal(a.rrsets[0].type, c[i].atype);
			assert_int_equal(a.rrsets[0].count, c[i].acount);
			assert_null(a.rrsets[0].owner); /* the question's name */
		}
		assert_int_equal(answer_count(&a, ANS_AUTHORITY), c[i].n_auth);
		assert_int_equal(a.has_ede, c[i].ede != 0);
		if (c[i].ede)
			assert_int_equal(a.ede_code, c[i].ede);
	}
}

static struct tdns_policy *build(const struct policy_src *src)
{
	struct tdns_policy *p = NULL;
	char err[256];

	assert_int_equal(policy_build(src, &p, err, sizeof(err)), TDNS_OK);
	return p;
}

static void test_local(void **state)
{
	static const char *const zones[] = {
		"ads.test. always_nxdomain", "st.test. static", "tr.test. transparent",
		"rd.test. redirect", "rf.test. refuse", "dn.test. deny", "ar.test. always_refuse",
		"open.st.test. always_transparent", "tt.test. typetransparent",
	};
	static const char *const data[] = {
		"webapp.site. 60 A 10.1.2.3", "webapp.site. 60 A 10.1.2.4",
		"webapp.site. 60 A 10.1.2.3", /* twice: once in the RRset */
		"x.ads.test. A 10.6.6.6", "st.test. SOA ns. admin. 1 2 3 4 5",
		"a.st.test. TXT hi", "a.tr.test. A 10.2.2.2", "rd.test. A 10.3.3.3",
		"ok.rf.test. A 10.4.4.4", "alias.test. CNAME webapp.site.",
		"a.tt.test. A 10.5.5.5", "webapp.site. TXT hi", "webapp.site. MX 10 mail.site.",
	};
	static const struct acase cases[] = {
		{ "webapp.site.", DNS_TYPE_A, POLICY_ANSWER, 0, true, DNS_TYPE_A, 2, 0, 0 },
		{ "WEBAPP.site.", DNS_TYPE_A, POLICY_ANSWER, 0, true, DNS_TYPE_A, 2, 0, 0 },
		{ "webapp.site.", DNS_TYPE_AAAA, POLICY_PASS, 0, 0, 0, 0, 0, 0 },
		{ "www.webapp.site.", DNS_TYPE_A, POLICY_PASS, 0, 0, 0, 0, 0, 0 },
		/* ANY at a name with records: answered here, one RRset over
		 * UDP (RFC 8482 4.1), the first in type order (test_any: TCP) */
		{ "webapp.site.", DNS_TYPE_ANY, POLICY_ANSWER, 0, true, DNS_TYPE_A, 2, 0, 0 },
		{ "www.webapp.site.", DNS_TYPE_ANY, POLICY_PASS, 0, 0, 0, 0, 0, 0 },
		{ "alias.test.", DNS_TYPE_ANY, POLICY_ANSWER, 0, true, DNS_TYPE_CNAME, 1, 0, 0 },
		{ "a.tt.test.", DNS_TYPE_ANY, POLICY_ANSWER, 0, true, DNS_TYPE_A, 1, 0, 0 },
		{ "a.st.test.", DNS_TYPE_ANY, POLICY_ANSWER, 0, true, DNS_TYPE_TXT, 1, 0, 0 },
		{ "b.st.test.", DNS_TYPE_ANY, POLICY_ANSWER, DNS_RCODE_NXDOMAIN, true, 0, 0, 1, 0 },
		{ "x.y.rd.test.", DNS_TYPE_ANY, POLICY_ANSWER, 0, true, DNS_TYPE_A, 1, 0, 0 },
		{ "localhost.", DNS_TYPE_ANY, POLICY_ANSWER, 0, true, DNS_TYPE_A, 1, 0, 0 },
		{ "site.", DNS_TYPE_A, POLICY_PASS, 0, 0, 0, 0, 0, 0 },
		{ "alias.test.", DNS_TYPE_A, POLICY_ANSWER, 0, true, DNS_TYPE_CNAME, 1, 0, 0 },
		{ "alias.test.", DNS_TYPE_CNAME, POLICY_ANSWER, 0, true, DNS_TYPE_CNAME, 1, 0, 0 },
		{ "ads.test.", DNS_TYPE_A, POLICY_ANSWER, DNS_RCODE_NXDOMAIN, true, 0, 0, 0, 0 },
		{ "x.ads.test.", DNS_TYPE_A, POLICY_ANSWER, DNS_RCODE_NXDOMAIN, true, 0, 0, 0, 0 },
		{ "a.st.test.", DNS_TYPE_TXT, POLICY_ANSWER, 0, true, DNS_TYPE_TXT, 1, 0, 0 },
		{ "a.st.test.", DNS_TYPE_A, POLICY_ANSWER, 0, true, 0, 0, 1, 0 },
		{ "b.st.test.", DNS_TYPE_A, POLICY_ANSWER, DNS_RCODE_NXDOMAIN, true, 0, 0, 1, 0 },
		{ "st.test.", DNS_TYPE_SOA, POLICY_ANSWER, 0, true, DNS_TYPE_SOA, 1, 0, 0 },
		{ "x.open.st.test.", DNS_TYPE_A, POLICY_PASS, 0, 0, 0, 0, 0, 0 },
		{ "a.tr.test.", DNS_TYPE_A, POLICY_ANSWER, 0, true, DNS_TYPE_A, 1, 0, 0 },
		{ "a.tr.test.", DNS_TYPE_AAAA, POLICY_ANSWER, 0, true, 0, 0, 0, 0 },
		{ "b.tr.test.", DNS_TYPE_A, POLICY_PASS, 0, 0, 0, 0, 0, 0 },
		{ "a.tt.test.", DNS_TYPE_AAAA, POLICY_PASS, 0, 0, 0, 0, 0, 0 },
		{ "a.tt.test.", DNS_TYPE_A, POLICY_ANSWER, 0, true, DNS_TYPE_A, 1, 0, 0 },
		{ "x.y.rd.test.", DNS_TYPE_A, POLICY_ANSWER, 0, true, DNS_TYPE_A, 1, 0, 0 },
		{ "x.y.rd.test.", DNS_TYPE_MX, POLICY_ANSWER, 0, true, 0, 0, 0, 0 },
		{ "ok.rf.test.", DNS_TYPE_A, POLICY_ANSWER, 0, true, DNS_TYPE_A, 1, 0, 0 },
		{ "no.rf.test.", DNS_TYPE_A, POLICY_ANSWER, DNS_RCODE_REFUSED, true, 0, 0, 0, 0 },
		{ "ar.test.", DNS_TYPE_A, POLICY_ANSWER, DNS_RCODE_REFUSED, true, 0, 0, 0, 0 },
		{ "x.dn.test.", DNS_TYPE_A, POLICY_DROP, 0, 0, 0, 0, 0, 0 },
		{ "test.", DNS_TYPE_A, POLICY_PASS, 0, 0, 0, 0, 0, 0 },
		{ ".", DNS_TYPE_NS, POLICY_PASS, 0, 0, 0, 0, 0, 0 },
		/* built in (RFC 6761 6.3): localhost. and the loopback PTRs */
		{ "localhost.", DNS_TYPE_A, POLICY_ANSWER, 0, true, DNS_TYPE_A, 1, 0, 0 },
		{ "a.b.localhost.", DNS_TYPE_AAAA, POLICY_ANSWER, 0, true, DNS_TYPE_AAAA, 1, 0, 0 },
		{ "localhost.", DNS_TYPE_MX, POLICY_ANSWER, 0, true, 0, 0, 1, 0 },
		{ "1.0.0.127.in-addr.arpa.", DNS_TYPE_PTR, POLICY_ANSWER, 0, true, DNS_TYPE_PTR, 1,
		  0, 0 },
		{ "2.0.0.127.in-addr.arpa.", DNS_TYPE_PTR, POLICY_PASS, 0, 0, 0, 0, 0, 0 },
	};
	struct policy_src src;
	struct tdns_policy *p;

	(void)state;
	memset(&src, 0, sizeof(src));
	src.n_default = 1;
	src.local_zone = zones;
	src.n_local_zone = sizeof(zones) / sizeof(zones[0]);
	src.local_data = data;
	src.n_local_data = sizeof(data) / sizeof(data[0]);
	p = build(&src);
	/* 9 configured, 3 built in: localhost., the two loopback PTRs */
	assert_int_equal(policy_names(p), 12);
	run_answers(p, cases, sizeof(cases) / sizeof(cases[0]));
	policy_release(p);
}

/* ANY over TCP: every RRset of the name, in type order. */
static void test_any_tcp(void **state)
{
	static const char *const data[] = {
		"webapp.site. 60 TXT hi", "webapp.site. 60 A 10.1.2.3",
		"webapp.site. 60 MX 10 mail.site.", "webapp.site. 60 A 10.1.2.4",
	};
	static const uint16_t types[] = { DNS_TYPE_A, DNS_TYPE_MX, DNS_TYPE_TXT };
	struct policy_src src;
	struct tdns_policy *p;
	struct tdns_answer a;
	struct tdns_qctx q;

	(void)state;
	memset(&src, 0, sizeof(src));
	src.n_default = 1;
	src.local_data = data;
	src.n_local_data = sizeof(data) / sizeof(data[0]);
	p = build(&src);
	mkq(&q, "webapp.site.", DNS_TYPE_ANY, QCTX_TCP);
	answer_reset(&a);
	assert_int_equal(policy_answer(p, &q, &a), POLICY_ANSWER);
	assert_int_equal(a.rcode, DNS_RCODE_NOERROR);
	assert_true(a.aa);
	assert_int_equal(answer_count(&a, ANS_ANSWER), 3);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(a.rrsets[i].type, types[i]);
	assert_int_equal(a.rrsets[0].count, 2);
	policy_release(p);
}

/* Entries that fail the build, with the message's key words. */
static void test_bad(void **state)
{
	static const struct {
		const char *zone, *data, *fwd;
		const char *want;
	} cases[] = {
		{ "x. sometimes", NULL, NULL, "unknown type 'sometimes'" },
		{ "x.", NULL, NULL, "NAME TYPE" },
		{ "a..b. static", NULL, NULL, "not a domain name" },
		{ NULL, "x. A 1.2.3", NULL, "local-data 'x. A 1.2.3'" },
		{ NULL, "x. CH TXT hi", NULL, "class IN only" },
		{ NULL, "x. NOTATYPE 1", NULL, "local-data" },
		{ NULL, NULL, "a..b.", "not a domain name" },
	};
	struct policy_forward f;
	struct policy_src src;
	struct tdns_policy *p;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&src, 0, sizeof(src));
		src.n_default = 1;
		src.local_zone = &cases[i].zone;
		src.n_local_zone = cases[i].zone != NULL;
		src.local_data = &cases[i].data;
		src.n_local_data = cases[i].data != NULL;
		memset(&f, 0, sizeof(f));
		f.name = cases[i].fwd;
		f.how = POLICY_FWD_NXDOMAIN;
		src.forward = &f;
		src.n_forward = cases[i].fwd != NULL;
		p = (struct tdns_policy *)&src; /* must be cleared */
		assert_int_equal(policy_build(&src, &p, err, sizeof(err)), TDNS_EPARSE);
		assert_null(p);
		print_message("%s\n", err);
		assert_non_null(strstr(err, cases[i].want));
	}
}

static void test_route(void **state)
{
	static const struct {
		const char *name;
		enum policy_fwd how;
		unsigned first, end;
	} cases[] = {
		{ "www.example.", POLICY_FWD_DEFAULT, 0, 2 },
		{ ".", POLICY_FWD_DEFAULT, 0, 2 },
		{ "corp.", POLICY_FWD_SET, 4, 6 },
		{ "a.b.CORP.", POLICY_FWD_SET, 4, 6 },
		{ "x.sub.corp.", POLICY_FWD_SET, 7, 8 },
		/* a stub zone: a set of its own, asked without RD */
		{ "st.corp.", POLICY_FWD_STUB, 6, 7 },
		{ "a.st.corp.", POLICY_FWD_STUB, 6, 7 },
		{ "corpx.", POLICY_FWD_DEFAULT, 0, 2 },
		{ "h.lan.", POLICY_FWD_NXDOMAIN, 0, 0 },
		{ "blocked.", POLICY_FWD_REFUSED, 0, 0 },
		{ "4.3.168.192.in-addr.arpa.", POLICY_FWD_PRIVATE, 0, 0 },
		{ "1.0.0.127.in-addr.arpa.", POLICY_FWD_PRIVATE, 0, 0 },
		{ "1.1.64.100.in-addr.arpa.", POLICY_FWD_PRIVATE, 0, 0 },
		{ "1.1.128.100.in-addr.arpa.", POLICY_FWD_DEFAULT, 0, 2 },
		{ "localhost.", POLICY_FWD_DEFAULT, 0, 2 },
		{ "b.e.f.ip6.arpa.", POLICY_FWD_PRIVATE, 0, 0 },
		/* forwarded: the default zone is gone */
		{ "5.4.3.10.in-addr.arpa.", POLICY_FWD_SET, 2, 3 },
		/* a parent forwarded (not the root): every default under it */
		{ "1.1.16.172.in-addr.arpa.", POLICY_FWD_SET, 3, 4 },
		/* nodefault */
		{ "9.9.254.169.in-addr.arpa.", POLICY_FWD_DEFAULT, 0, 2 },
		{ "8.8.8.8.in-addr.arpa.", POLICY_FWD_DEFAULT, 0, 2 },
	};
	/* Sorted by name key: lan., 10.in-addr.arpa. (upstream 2),
	 * 172.in-addr.arpa. (3), corp and Corp. (4, 5), st.corp. (6, a
	 * stub), sub.corp. (7), blocked. */
	struct policy_forward f[] = {
		{ "sub.corp.", POLICY_FWD_SET, { .len = 0 } },
		{ "corp", POLICY_FWD_SET, { .len = 0 } },
		{ "lan.", POLICY_FWD_NXDOMAIN, { .len = 0 } },
		{ "172.in-addr.arpa.", POLICY_FWD_SET, { .len = 0 } },
		{ "Corp.", POLICY_FWD_SET, { .len = 0 } },
		{ "blocked.", POLICY_FWD_REFUSED, { .len = 0 } },
		{ "10.in-addr.arpa.", POLICY_FWD_SET, { .len = 0 } },
		{ "st.corp.", POLICY_FWD_STUB, { .len = 0 } },
	};
	static const char *const zones[] = { "254.169.in-addr.arpa. nodefault" };
	struct policy_src src;
	struct tdns_policy *p;
	unsigned first, end;
	size_t i, zone_len;

	(void)state;
	/* corp. twice apart, as flags may give it: sorted together */
	policy_forward_sort(f, sizeof(f) / sizeof(f[0]));
	for (i = 0; strcmp(f[i].name, "corp") != 0; i++)
		;
	assert_string_equal(f[i + 1].name, "Corp."); /* adjacent, in the order given */
	memset(&src, 0, sizeof(src));
	src.n_default = 2;
	src.forward = f;
	src.n_forward = sizeof(f) / sizeof(f[0]);
	src.local_zone = zones;
	src.n_local_zone = 1;
	p = build(&src);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t key[NAME_KEY_MAX];
		size_t klen;
		enum policy_fwd how;

		print_message("%s\n", cases[i].name);
		assert_int_equal(zoneload_name_key(cases[i].name, key, &klen), TDNS_OK);
		how = policy_route(p, key, klen, &first, &end, &zone_len);
		assert_int_equal(how, cases[i].how);
		if (how <= POLICY_FWD_STUB) {
			assert_int_equal(first, cases[i].first);
			assert_int_equal(end, cases[i].end);
		}
		/* the routing name's key: a prefix of the name's (none for
		 * the default set) */
		assert_true(how == POLICY_FWD_DEFAULT ? zone_len == 0
						      : zone_len > 0 && zone_len <= klen);
	}
	/* a stub zone's referrals are judged against its name (referral.h) */
	{
		uint8_t key[NAME_KEY_MAX];
		size_t klen;

		assert_int_equal(zoneload_name_key("a.b.St.corp.", key, &klen), TDNS_OK);
		assert_int_equal(policy_route(p, key, klen, &first, &end, &zone_len),
				 POLICY_FWD_STUB);
		assert_int_equal(zone_len, 8); /* \x04corp\x02st */
		assert_memory_equal(key, "\x04" "corp\x02st", 8);
	}
	policy_release(p);
}

/* The local answers of routes that are not forwarded. */
static void test_route_answer(void **state)
{
	static const struct {
		const char *name;
		uint16_t qtype;
		enum policy_fwd how;
		uint16_t rcode;
		bool aa;
		uint16_t atype;
		size_t n_auth;
	} cases[] = {
		{ "x.lan.", DNS_TYPE_A, POLICY_FWD_NXDOMAIN, DNS_RCODE_NXDOMAIN, false, 0, 0 },
		{ "x.lan.", DNS_TYPE_A, POLICY_FWD_REFUSED, DNS_RCODE_REFUSED, false, 0, 0 },
		{ "1.1.168.192.in-addr.arpa.", DNS_TYPE_PTR, POLICY_FWD_PRIVATE, DNS_RCODE_NXDOMAIN,
		  true, 0, 1 },
		{ "168.192.in-addr.arpa.", DNS_TYPE_PTR, POLICY_FWD_PRIVATE, 0, true, 0, 1 },
		{ "168.192.in-addr.arpa.", DNS_TYPE_SOA, POLICY_FWD_PRIVATE, 0, true, DNS_TYPE_SOA,
		  0 },
	};
	struct policy_src src;
	struct tdns_policy *p;
	struct tdns_answer a;
	struct tdns_qctx q;

	(void)state;
	memset(&src, 0, sizeof(src));
	src.n_default = 1;
	p = build(&src);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("%s\n", cases[i].name);
		mkq(&q, cases[i].name, cases[i].qtype, QCTX_UDP);
		answer_reset(&a);
		policy_route_answer(p, cases[i].how, &q, &a);
		assert_int_equal(a.rcode, cases[i].rcode);
		assert_int_equal(a.aa, cases[i].aa);
		assert_int_equal(answer_count(&a, ANS_ANSWER), cases[i].atype ? 1 : 0);
		assert_int_equal(answer_count(&a, ANS_AUTHORITY), cases[i].n_auth);
		if (cases[i].n_auth)
			assert_non_null(a.rrsets[0].owner); /* the zone's name */
	}
	policy_release(p);
}

static void test_hosts(void **state)
{
	static const struct acase cases[] = {
		{ "nas.", DNS_TYPE_A, POLICY_ANSWER, 0, true, DNS_TYPE_A, 1, 0, 0 },
		{ "nas.", DNS_TYPE_AAAA, POLICY_ANSWER, 0, true, DNS_TYPE_AAAA, 1, 0, 0 },
		{ "nas.home.arpa.", DNS_TYPE_A, POLICY_ANSWER, 0, true, DNS_TYPE_A, 1, 0, 0 },
		{ "nas.", DNS_TYPE_MX, POLICY_PASS, 0, 0, 0, 0, 0, 0 },
		/* two lines for one address: one PTR, the first line's name */
		{ "10.1.168.192.in-addr.arpa.", DNS_TYPE_PTR, POLICY_ANSWER, 0, true, DNS_TYPE_PTR,
		  1, 0, 0 },
		{ "multi.", DNS_TYPE_A, POLICY_ANSWER, 0, true, DNS_TYPE_A, 2, 0, 0 },
		{ "0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.",
		  DNS_TYPE_PTR, POLICY_ANSWER, 0, true, DNS_TYPE_PTR, 1, 0, 0 },
		{ "blocked.example.", DNS_TYPE_A, POLICY_ANSWER, 0, true, DNS_TYPE_A, 1, 0, 0 },
		{ "0.0.0.0.in-addr.arpa.", DNS_TYPE_PTR, POLICY_PASS, 0, 0, 0, 0, 0, 0 },
		/* bad lines add nothing, not even their good names */
		{ "good.", DNS_TYPE_A, POLICY_PASS, 0, 0, 0, 0, 0, 0 },
		{ "foo.", DNS_TYPE_A, POLICY_PASS, 0, 0, 0, 0, 0, 0 },
	};
	char path[64], missing[] = "/nonexistent/hosts";
	const char *files[2];
	struct policy_src src;
	struct tdns_policy *p;

	(void)state;
	tu_tmpfile(path, "# comment\n"
			 "192.168.1.10 nas nas.home.arpa # the NAS\n"
			 "fd00::10\tnas\n"
			 "192.168.1.10 second-name\n"
			 "10.0.0.1 multi\n10.0.0.2 multi\n"
			 "not-an-address foo\n"
			 "10.0.0.5 good bad..name\n"
			 "10.0.0.6\n"
			 "0.0.0.0 blocked.example\n");
	files[0] = path;
	files[1] = missing; /* logged, no error */
	memset(&src, 0, sizeof(src));
	src.n_default = 1;
	src.hosts = files;
	src.n_hosts = 2;
	p = build(&src);
	run_answers(p, cases, sizeof(cases) / sizeof(cases[0]));
	policy_release(p);
	unlink(path);
}

/* A response policy zone with a trigger of each action. */
#define RPZ_ACTIONS                                                                 \
	"$TTL 300\n$ORIGIN rpz.local.\n"                                            \
	"@ SOA localhost. root.localhost. 1 3600 600 86400 300\n@ NS localhost.\n"  \
	"ads.example CNAME .\n*.ads.example CNAME .\n"                               \
	"nodata.example CNAME *.\npass.ads.example CNAME rpz-passthru.\n"            \
	"drop.example CNAME rpz-drop.\ntcp.example CNAME rpz-tcp-only.\n"            \
	"walled.example A 10.10.10.10\n"

/* src: the default upstream set and the one RPZ file at path. */
static void rpz_source(struct policy_src *src, const char **files, const char *path)
{
	files[0] = path;
	memset(src, 0, sizeof(*src));
	src->n_default = 1;
	src->rpz = files;
	src->n_rpz = 1;
}

static void test_rpz(void **state)
{
	static const struct acase cases[] = {
		{ "ads.example.", DNS_TYPE_A, POLICY_ANSWER, DNS_RCODE_NXDOMAIN, false, 0, 0, 0, 15 },
		{ "x.ads.example.", DNS_TYPE_A, POLICY_ANSWER, DNS_RCODE_NXDOMAIN, false, 0, 0, 0, 15 },
		{ "pass.ads.example.", DNS_TYPE_A, POLICY_PASS, 0, 0, 0, 0, 0, 0 },
		{ "x.pass.ads.example.", DNS_TYPE_A, POLICY_ANSWER, DNS_RCODE_NXDOMAIN, false, 0, 0,
		  0, 15 },
		{ "nodata.example.", DNS_TYPE_A, POLICY_ANSWER, 0, false, 0, 0, 0, 15 },
		{ "drop.example.", DNS_TYPE_A, POLICY_DROP, 0, 0, 0, 0, 0, 0 },
		{ "tcp.example.", DNS_TYPE_A, POLICY_ANSWER, 0, false, 0, 0, 0, 0 },
		{ "walled.example.", DNS_TYPE_A, POLICY_ANSWER, 0, false, DNS_TYPE_A, 1, 0, 15 },
		{ "walled.example.", DNS_TYPE_AAAA, POLICY_ANSWER, 0, false, 0, 0, 0, 15 },
		{ "cn.example.", DNS_TYPE_A, POLICY_ANSWER, 0, false, DNS_TYPE_CNAME, 1, 0, 15 },
		/* the wildcard does not cover its own name */
		{ "wild.example.", DNS_TYPE_A, POLICY_PASS, 0, 0, 0, 0, 0, 0 },
		{ "a.b.wild.example.", DNS_TYPE_A, POLICY_ANSWER, 0, false, 0, 0, 0, 15 },
		{ "example.", DNS_TYPE_A, POLICY_PASS, 0, 0, 0, 0, 0, 0 },
		/* local data comes first */
		{ "mine.example.", DNS_TYPE_A, POLICY_ANSWER, 0, true, DNS_TYPE_A, 1, 0, 0 },
		{ "rpz.local.", DNS_TYPE_A, POLICY_PASS, 0, 0, 0, 0, 0, 0 },
	};
	static const char *const data[] = { "mine.example. A 10.0.0.7" };
	char path[64], err[256];
	const char *files[1];
	struct policy_src src;
	struct tdns_policy *p;
	struct tdns_answer a;
	struct tdns_qctx q;

	(void)state;
	tu_tmpfile(path, RPZ_ACTIONS "cn.example CNAME walled.garden.\n"
			 "*.wild.example CNAME *.\nmine.example CNAME .\n"
			 "24.0.2.0.192.rpz-ip CNAME .\n");
	rpz_source(&src, files, path);
	src.local_data = data;
	src.n_local_data = 1;
	p = build(&src);
	assert_int_equal(policy_rpz_triggers(p), 10);
	run_answers(p, cases, sizeof(cases) / sizeof(cases[0]));
	/* TCP-ONLY: truncated over UDP, resolved over TCP */
	mkq(&q, "tcp.example.", DNS_TYPE_A, QCTX_UDP);
	answer_reset(&a);
	assert_int_equal(policy_answer(p, &q, &a), POLICY_ANSWER);
	assert_true(a.tc);
	mkq(&q, "tcp.example.", DNS_TYPE_A, QCTX_TCP);
	assert_int_equal(policy_answer(p, &q, &a), POLICY_PASS);
	policy_release(p);

	tu_tmpfile(path, "$ORIGIN rpz.local.\n@ SOA a. b. 1 2 3 4 5\nx CNAME\n");
	files[0] = path;
	src.n_local_data = 0;
	assert_int_equal(policy_build(&src, &p, err, sizeof(err)), TDNS_EPARSE);
	assert_non_null(strstr(err, ":3:"));
	unlink(path);
}

/* rdata of one record of the packed layout (u16 rdlength, rdata) holding
 * the wire name of text, into buf; its length. */
static size_t name_rdata(const char *text, uint8_t *buf)
{
	uint8_t key[NAME_KEY_MAX];
	size_t klen, wlen;

	assert_int_equal(zoneload_name_key(text, key, &klen), TDNS_OK);
	assert_int_equal(name_key_to_wire(key, klen, buf + 2, &wlen), TDNS_OK);
	buf[0] = (uint8_t)(wlen >> 8);
	buf[1] = (uint8_t)wlen;
	return wlen + 2;
}

/* The response policy zones on a CNAME chain's targets (Unbound 1.14 on,
 * BIND, PowerDNS): www.example.org. A answered www CNAME a.clean.example.
 * CNAME TARGET, TARGET A 192.0.2.1 and an SOA in authority, as the cache
 * or an upstream would give it; the first target with a trigger cuts the
 * chain after its CNAME and its action answers for it. */
static void test_rpz_chain(void **state)
{
	static const struct {
		const char *target;
		uint8_t transport;
		enum policy_verdict v;
		uint16_t rcode;
		size_t n;       /* entries left */
		uint16_t last;  /* type of the last one */
		bool tc;
	} cases[] = {
		{ "ads.example.", QCTX_UDP, POLICY_ANSWER, DNS_RCODE_NXDOMAIN, 2, DNS_TYPE_CNAME,
		  false },
		{ "x.ads.example.", QCTX_UDP, POLICY_ANSWER, DNS_RCODE_NXDOMAIN, 2, DNS_TYPE_CNAME,
		  false },
		{ "pass.ads.example.", QCTX_UDP, POLICY_PASS, 0, 4, DNS_TYPE_SOA, false },
		{ "nodata.example.", QCTX_UDP, POLICY_ANSWER, 0, 2, DNS_TYPE_CNAME, false },
		{ "walled.example.", QCTX_UDP, POLICY_ANSWER, 0, 3, DNS_TYPE_A, false },
		{ "drop.example.", QCTX_UDP, POLICY_DROP, 0, 4, DNS_TYPE_SOA, false },
		{ "tcp.example.", QCTX_UDP, POLICY_ANSWER, 0, 0, 0, true },
		{ "tcp.example.", QCTX_TCP, POLICY_PASS, 0, 4, DNS_TYPE_SOA, false },
		{ "clean.example.", QCTX_UDP, POLICY_PASS, 0, 4, DNS_TYPE_SOA, false },
		{ "example.", QCTX_UDP, POLICY_PASS, 0, 4, DNS_TYPE_SOA, false },
	};
	static const uint8_t a_rec[] = { 0, 4, 192, 0, 2, 1 };
	static const uint8_t soa_rec[] = { 0, 22, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2,
					   0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5 };
	uint8_t first[NAME_WIRE_MAX + 2], second[NAME_WIRE_MAX + 2];
	char path[64];
	const char *files[1];
	struct policy_src src;
	struct tdns_policy *p, *plain;
	struct tdns_answer a;
	struct tdns_qctx q;
	size_t n1, n2;

	(void)state;
	tu_tmpfile(path, RPZ_ACTIONS);
	rpz_source(&src, files, path);
	p = build(&src);
	src.n_rpz = 0;
	plain = build(&src);
	n1 = name_rdata("a.clean.example.", first);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("%s %s\n", cases[i].target,
			      cases[i].transport == QCTX_UDP ? "udp" : "tcp");
		n2 = name_rdata(cases[i].target, second);
		mkq(&q, "www.example.org.", DNS_TYPE_A, cases[i].transport);
		for (int with = 0; with < 2; with++) {
			answer_reset(&a);
			a.ad = true;
			answer_add(&a, ANS_ANSWER, NULL, DNS_TYPE_CNAME, DNS_CLASS_IN, 300,
				   ANS_REC_PACKED, 1, first, n1);
			answer_add(&a, ANS_ANSWER, first + 2, DNS_TYPE_CNAME, DNS_CLASS_IN, 300,
				   ANS_REC_PACKED, 1, second, n2);
			answer_add(&a, ANS_ANSWER, second + 2, DNS_TYPE_A, DNS_CLASS_IN, 300,
				   ANS_REC_PACKED, 1, a_rec, sizeof(a_rec));
			answer_add(&a, ANS_AUTHORITY, second + 2, DNS_TYPE_SOA, DNS_CLASS_IN, 300,
				   ANS_REC_PACKED, 1, soa_rec, sizeof(soa_rec));
			if (with == 0) { /* no response policy zone: untouched */
				assert_int_equal(policy_rpz_chain(plain, &q, &a), POLICY_PASS);
				assert_int_equal(policy_rpz_chain(NULL, &q, &a), POLICY_PASS);
				assert_int_equal(a.n, 4);
				continue;
			}
			assert_int_equal(policy_rpz_chain(p, &q, &a), cases[i].v);
			assert_int_equal(a.tc, cases[i].tc);
			if (cases[i].tc)
				continue;
			assert_int_equal(a.n, cases[i].n);
			assert_int_equal(a.rrsets[a.n - 1].type, cases[i].last);
			assert_int_equal(a.rcode, cases[i].rcode);
			/* blocked: EDE 15, no AD; else as it was */
			assert_int_equal(a.has_ede, cases[i].v == POLICY_ANSWER);
			assert_int_equal(a.ad, cases[i].v != POLICY_ANSWER);
			if (cases[i].v == POLICY_ANSWER)
				assert_int_equal(a.ede_code, EDE_BLOCKED);
			if (cases[i].last == DNS_TYPE_A && cases[i].v == POLICY_ANSWER) {
				/* the trigger's record, owned by the target */
				assert_ptr_equal(a.rrsets[2].owner, second + 2);
				static const uint8_t walled[] = { 10, 10, 10, 10 };

				assert_memory_equal(a.rrsets[2].rdata + 2, walled, 4);
			}
		}
	}
	/* ANY over UDP: the whole chain to the trigger and its records
	 * (minimal ANY thins a name's own records, not a chain's). */
	mkq(&q, "www.example.org.", DNS_TYPE_ANY, QCTX_UDP);
	n2 = name_rdata("walled.example.", second);
	answer_reset(&a);
	answer_add(&a, ANS_ANSWER, NULL, DNS_TYPE_CNAME, DNS_CLASS_IN, 300, ANS_REC_PACKED, 1,
		   first, n1);
	answer_add(&a, ANS_ANSWER, first + 2, DNS_TYPE_CNAME, DNS_CLASS_IN, 300, ANS_REC_PACKED,
		   1, second, n2);
	assert_int_equal(policy_rpz_chain(p, &q, &a), POLICY_ANSWER);
	assert_int_equal(a.n, 3);
	assert_int_equal(a.rrsets[2].type, DNS_TYPE_A);
	/* A trigger on the first target cuts at the first CNAME. */
	answer_reset(&a);
	n2 = name_rdata("ads.example.", second);
	answer_add(&a, ANS_ANSWER, NULL, DNS_TYPE_CNAME, DNS_CLASS_IN, 300, ANS_REC_PACKED, 1,
		   second, n2);
	answer_add(&a, ANS_ANSWER, second + 2, DNS_TYPE_A, DNS_CLASS_IN, 300, ANS_REC_PACKED,
		   1, a_rec, sizeof(a_rec));
	assert_int_equal(policy_rpz_chain(p, &q, &a), POLICY_ANSWER);
	assert_int_equal(a.n, 1);
	assert_int_equal(a.rcode, DNS_RCODE_NXDOMAIN);
	policy_release(p);
	policy_release(plain);
	unlink(path);
}

/* Response policy zones held as text (transferred, rpz-primary), beside
 * the files; a text not yet transferred (NULL) adds nothing; one that is
 * no zone fails the build, named by its label. */
static void test_rpz_text(void **state)
{
	static const struct acase cases[] = {
		{ "ads.example.", DNS_TYPE_A, POLICY_ANSWER, DNS_RCODE_NXDOMAIN, false, 0, 0, 0, 15 },
		{ "x.track.example.", DNS_TYPE_A, POLICY_ANSWER, DNS_RCODE_NXDOMAIN, false, 0, 0, 0,
		  15 },
		{ "track.example.", DNS_TYPE_A, POLICY_PASS, 0, 0, 0, 0, 0, 0 },
		{ "walled.example.", DNS_TYPE_A, POLICY_ANSWER, 0, false, DNS_TYPE_A, 1, 0, 15 },
		{ "other.example.", DNS_TYPE_A, POLICY_PASS, 0, 0, 0, 0, 0, 0 },
	};
	/* as secondary.c writes a transferred zone: one record a line, absolute */
	static const char one[] = "rpz.one. 300 IN SOA a. b. 2 3600 600 86400 300\n"
				  "rpz.one. 300 IN NS a.\n"
				  "ads.example.rpz.one. 300 IN CNAME .\n"
				  "walled.example.rpz.one. 300 IN A 10.10.10.10\n";
	static const char two[] = "$ORIGIN rpz.two.\n@ 300 SOA a. b. 1 1 1 1 1\n"
				  "*.track.example 300 CNAME .\n";
	const char *texts[3] = { one, NULL, two };
	const char *names[3] = { "rpz.one.", "rpz.none.", "rpz.two." };
	char err[256];
	struct policy_src src;
	struct tdns_policy *p;

	(void)state;
	memset(&src, 0, sizeof(src));
	src.n_default = 1;
	src.rpz_text = texts;
	src.rpz_text_name = names;
	src.n_rpz_text = 3;
	p = build(&src);
	assert_int_equal(policy_rpz_triggers(p), 3);
	run_answers(p, cases, sizeof(cases) / sizeof(cases[0]));
	policy_release(p);

	texts[1] = "x.example.rpz.none. 300 IN CNAME .\n";
	assert_int_equal(policy_build(&src, &p, err, sizeof(err)), TDNS_EPARSE);
	assert_non_null(strstr(err, "rpz.none.:1: the zone must begin with its SOA"));
}

/* A worker sees a new policy at its next look, and the old one lives
 * until it lets go. */
static void test_box(void **state)
{
	static const char *const one[] = { "x.test. A 10.0.0.1" };
	static const char *const two[] = { "x.test. A 10.0.0.2" };
	struct tdns_policy *p1, *p2, *cur = NULL;
	struct tdns_policy_box *box;
	struct policy_src src;
	unsigned gen = 0;

	(void)state;
	memset(&src, 0, sizeof(src));
	src.local_data = one;
	src.n_local_data = 1;
	p1 = build(&src);
	src.local_data = two;
	p2 = build(&src);
	assert_int_equal(policy_box_new(p1, &box), TDNS_OK);
	assert_ptr_equal(policy_box_get(box, &gen, &cur), p1);
	assert_ptr_equal(policy_box_get(box, &gen, &cur), p1);
	policy_box_set(box, p2);
	/* p1 is still held by the worker (ASan would see a use after free) */
	assert_int_equal(policy_names(cur), 1 + 3);
	assert_ptr_equal(policy_box_get(box, &gen, &cur), p2);
	policy_release(cur);
	policy_box_free(box);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_local),
		cmocka_unit_test(test_any_tcp),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_route),
		cmocka_unit_test(test_route_answer),
		cmocka_unit_test(test_hosts),
		cmocka_unit_test(test_rpz_chain),
		cmocka_unit_test(test_rpz),
		cmocka_unit_test(test_rpz_text),
		cmocka_unit_test(test_box),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
