/*
 * test_rrl.c - Response Rate Limiting (rrl.h): the token bucket, slip,
 * prefixes, classes, refill, sharing across callers, and the classes the
 * upper's answers fall into (through auth_answer_from on a real store).
 * Also SipHash-2-4 against the reference vectors, since the table's
 * secrecy rests on it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

#include "tierdns/auth.h"
#include "tierdns/clock.h"
#include "tierdns/dnsproto.h"
#include "tierdns/rrl.h"
#include "tierdns/siphash.h"
#include "tierdns/zoneload.h"

/* ---- SipHash-2-4 ---- */

static void test_siphash_vectors(void **state)
{
	/* The reference implementation's vectors: key 00..0f, input 00..n-1. */
	static const struct {
		size_t len;
		uint64_t h;
	} v[] = {
		{ 0, 0x726fdb47dd0e0e31ull },  { 1, 0x74f839c593dc67fdull },
		{ 7, 0xab0200f58b01d137ull },  { 8, 0x93f5f5799a932462ull },
		{ 9, 0x9e0082df0ba9e4b0ull },  { 15, 0xa129ca6149be45e5ull },
		{ 16, 0x3f2acc7f57c29bdbull }, { 63, 0x958a324ceb064572ull },
	};
	uint8_t key[SIPHASH_KEY_LEN], in[64];

	(void)state;
	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (int i = 0; i < 64; i++)
		in[i] = (uint8_t)i;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		assert_true(siphash24(key, in, v[i].len) == v[i].h);
}

/* ---- the table ---- */

static struct tdns_addr addr(const char *text)
{
	struct tdns_addr a;

	assert_int_equal(netio_addr_parse(text, 53, &a), TDNS_OK);
	return a;
}

static const uint8_t NAME[] = "\x04site\x03www";
#define NAME_LEN (sizeof(NAME) - 1)

static struct tdns_rrl *table(uint32_t rate, uint32_t slip)
{
	struct tdns_rrl_cfg cfg = {
		.rate = rate, .slip = slip, .ipv4_prefix = 24, .ipv6_prefix = 56,
		.size = 1u << 20, /* a collision between the few keys here is
				   * about one in a million */
	};
	struct tdns_rrl *r = NULL;

	assert_int_equal(rrl_new(&cfg, &r), TDNS_OK);
	return r;
}

/* n responses at time t from peer: how many passed, slipped, dropped. */
struct tally {
	unsigned pass, slip, drop;
};

static struct tally send_n(struct tdns_rrl *r, const char *peer, enum rrl_class cls,
			   const uint8_t *name, size_t name_len, unsigned n, uint64_t t)
{
	struct tdns_addr a = addr(peer);
	struct rrl_counters c = { 0, 0 };
	struct tally y = { 0, 0, 0 };

	for (unsigned i = 0; i < n; i++) {
		switch (rrl_check(r, &a, cls, name, name_len, t, &c)) {
		case RRL_PASS: y.pass++; break;
		case RRL_SLIP: y.slip++; break;
		case RRL_DROP: y.drop++; break;
		}
	}
	assert_int_equal(stats_get(&c.slipped), y.slip);
	assert_int_equal(stats_get(&c.dropped), y.drop);
	return y;
}

static void test_bucket_and_slip(void **state)
{
	struct tdns_rrl *r = table(5, 2);
	struct tally y;

	(void)state;
	/* A second's worth passes, then every 2nd limited one is truncated. */
	y = send_n(r, "192.0.2.1", RRL_ANSWER, NAME, NAME_LEN, 25, 10000);
	assert_int_equal(y.pass, 5);
	assert_int_equal(y.slip, 10);
	assert_int_equal(y.drop, 10);
	/* Same /24: the same client. */
	y = send_n(r, "192.0.2.200", RRL_ANSWER, NAME, NAME_LEN, 4, 10000);
	assert_int_equal(y.pass, 0);
	/* Another /24, another class, another name: their own budgets. */
	y = send_n(r, "192.0.3.1", RRL_ANSWER, NAME, NAME_LEN, 5, 10000);
	assert_int_equal(y.pass, 5);
	y = send_n(r, "192.0.2.1", RRL_NXDOMAIN, NAME, NAME_LEN, 5, 10000);
	assert_int_equal(y.pass, 5);
	y = send_n(r, "192.0.2.1", RRL_ANSWER, NAME, NAME_LEN - 4, 5, 10000);
	assert_int_equal(y.pass, 5);
	/* 200 ms refill one response at 5/s; a quiet second refills all. */
	y = send_n(r, "192.0.2.1", RRL_ANSWER, NAME, NAME_LEN, 3, 10200);
	assert_int_equal(y.pass, 1);
	y = send_n(r, "192.0.2.1", RRL_ANSWER, NAME, NAME_LEN, 6, 11200);
	assert_int_equal(y.pass, 5);
	assert_int_equal(y.pass + y.slip + y.drop, 6);
	rrl_free(r);
}

static void test_slip_settings(void **state)
{
	struct tdns_rrl *r = table(1, 0);
	struct tally y;

	(void)state;
	y = send_n(r, "192.0.2.1", RRL_ERROR, NULL, 0, 10, 5000);
	assert_int_equal(y.pass, 1);
	assert_int_equal(y.slip, 0);
	assert_int_equal(y.drop, 9);
	rrl_free(r);
	r = table(1, 1);
	y = send_n(r, "192.0.2.1", RRL_ERROR, NULL, 0, 10, 5000);
	assert_int_equal(y.pass, 1);
	assert_int_equal(y.slip, 9);
	assert_int_equal(y.drop, 0);
	rrl_free(r);
}

static void test_ipv6_prefix(void **state)
{
	struct tdns_rrl *r = table(2, 0);
	struct tally y;

	(void)state;
	y = send_n(r, "2001:db8:0:100::1", RRL_ANSWER, NAME, NAME_LEN, 2, 1000);
	assert_int_equal(y.pass, 2);
	/* Differs after bit 56: the same /56. */
	y = send_n(r, "2001:db8:0:1ff::9", RRL_ANSWER, NAME, NAME_LEN, 2, 1000);
	assert_int_equal(y.pass, 0);
	/* Differs within the first 56 bits: another client. */
	y = send_n(r, "2001:db8:0:200::1", RRL_ANSWER, NAME, NAME_LEN, 2, 1000);
	assert_int_equal(y.pass, 2);
	rrl_free(r);
}

static void test_bad_config(void **state)
{
	struct tdns_rrl_cfg cfg = { .rate = 0, .slip = 2, .ipv4_prefix = 24,
				    .ipv6_prefix = 56, .size = 16 };
	struct tdns_rrl *r = (struct tdns_rrl *)&cfg;

	(void)state;
	assert_int_equal(rrl_new(&cfg, &r), TDNS_EINVAL);
	assert_null(r);
	cfg.rate = 1;
	cfg.ipv4_prefix = 33;
	assert_int_equal(rrl_new(&cfg, &r), TDNS_EINVAL);
	cfg.ipv4_prefix = 24;
	cfg.size = RRL_MAX_SIZE + 1;
	assert_int_equal(rrl_new(&cfg, &r), TDNS_EINVAL);
}

/* ---- the upper's answers under RRL (auth_answer_from) ---- */

static const char ZONE[] =
	"$ORIGIN site.\n"
	"$TTL 300\n"
	"@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n"
	"@ NS ns1\n"
	"ns1 A 192.0.2.1\n"
	"www A 192.0.2.10\n"
	"sub NS ns1.sub\n"
	"ns1.sub A 192.0.2.53\n"
	"*.wild A 192.0.2.99\n";

struct upper {
	char dir[64];
	struct tdns_store *store;
	struct tdns_txn *rd;
	struct tdns_auth_cfg cfg;
};

static int upper_setup(void **state)
{
	struct upper *u = calloc(1, sizeof(*u));
	struct tdns_rrl_cfg rc = { .rate = 1, .slip = 1, .ipv4_prefix = 24,
				   .ipv6_prefix = 56, .size = 1u << 20 };

	assert_non_null(u);
	tu_tmpdir(u->dir);
	assert_int_equal(store_open(u->dir, NULL, &u->store), TDNS_OK);
	assert_int_equal(zoneload_string(u->store, ZONE, NULL, 0), TDNS_OK);
	assert_int_equal(store_begin(u->store, false, &u->rd), TDNS_OK);
	u->cfg.version = "test";
	assert_int_equal(rrl_new(&rc, &u->cfg.rrl), TDNS_OK);
	*state = u;
	return 0;
}

static int upper_teardown(void **state)
{
	struct upper *u = *state;

	rrl_free(u->cfg.rrl);
	store_abort(u->rd);
	store_close(u->store);
	tu_rmdir(u->dir);
	free(u);
	return 0;
}

/* Send one query; returns false when it was dropped, else *tc and the
 * answer count of the reply. */
static bool ask(struct upper *u, const char *peer, bool tcp, const char *qname,
		uint16_t qtype, struct auth_counters *c, bool *tc, unsigned *an,
		unsigned *rcode)
{
	struct tdns_addr a = addr(peer);
	struct auth_client cl = { &a, tcp, c, 0, false, NULL, NULL };
	uint8_t out[QCTX_MAX_MSG];
	uint8_t *in = NULL;
	size_t in_len, out_len;
	ldns_pkt *p = NULL;
	bool sent;

	assert_int_equal(ldns_pkt_query_new_frm_str(&p, qname, qtype, LDNS_RR_CLASS_IN, 0),
			 LDNS_STATUS_OK);
	assert_int_equal(ldns_pkt2wire(&in, p, &in_len), LDNS_STATUS_OK);
	ldns_pkt_free(p);
	sent = auth_answer_from(NULL, u->rd, &u->cfg, &cl, in, in_len, out, sizeof(out),
				&out_len);
	free(in);
	if (!sent)
		return false;
	*tc = (out[2] & 0x02) != 0;
	*an = dns_rd16(out + 6);
	*rcode = out[3] & 0x0f;
	return true;
}

static void test_upper_slip_keeps_rcode(void **state)
{
	struct upper *u = *state;
	struct auth_counters c;
	unsigned an, rcode;
	bool tc;

	memset(&c, 0, sizeof(c));
	clock_set_fake(1700000000);
	/* rate 1, slip 1: the first answer whole, the second truncated. */
	assert_true(ask(u, "192.0.2.7", false, "www.site.", DNS_TYPE_A, &c, &tc, &an, &rcode));
	assert_false(tc);
	assert_int_equal(an, 1);
	assert_true(ask(u, "192.0.2.7", false, "www.site.", DNS_TYPE_A, &c, &tc, &an, &rcode));
	assert_true(tc);
	assert_int_equal(an, 0);
	assert_int_equal(rcode, DNS_RCODE_NOERROR);
	assert_int_equal(stats_get(&c.rrl.slipped), 1);
	/* TCP is never limited. */
	for (int i = 0; i < 5; i++) {
		assert_true(ask(u, "192.0.2.7", true, "www.site.", DNS_TYPE_A, &c, &tc, &an,
				&rcode));
		assert_false(tc);
		assert_int_equal(an, 1);
	}
	/* NXDOMAIN is counted per zone: two different missing names share. */
	assert_true(ask(u, "192.0.2.7", false, "nx1.site.", DNS_TYPE_A, &c, &tc, &an, &rcode));
	assert_false(tc);
	assert_int_equal(rcode, DNS_RCODE_NXDOMAIN);
	assert_true(ask(u, "192.0.2.7", false, "nx2.site.", DNS_TYPE_A, &c, &tc, &an, &rcode));
	assert_true(tc);
	assert_int_equal(rcode, DNS_RCODE_NXDOMAIN);
	/* Wildcard answers likewise per zone, whatever name synthesized them. */
	assert_true(ask(u, "192.0.2.7", false, "a.wild.site.", DNS_TYPE_A, &c, &tc, &an, &rcode));
	assert_false(tc);
	assert_int_equal(an, 1);
	assert_true(ask(u, "192.0.2.7", false, "b.wild.site.", DNS_TYPE_A, &c, &tc, &an, &rcode));
	assert_true(tc);
	/* Another client is not limited by any of it. */
	assert_true(ask(u, "198.51.100.7", false, "nx3.site.", DNS_TYPE_A, &c, &tc, &an, &rcode));
	assert_false(tc);
	clock_set_fake(0);
}

static void test_classify(void **state)
{
	struct upper *u = *state;
	static const struct {
		const char *qname;
		uint16_t qtype;
		enum rrl_class cls;
		size_t name_len; /* of the key filed under: 0 none, 5 site. */
	} cases[] = {
		{ "www.site.", DNS_TYPE_A, RRL_ANSWER, 9 },
		{ "www.site.", DNS_TYPE_MX, RRL_NODATA, 5 },
		{ "nope.site.", DNS_TYPE_A, RRL_NXDOMAIN, 5 },
		{ "x.sub.site.", DNS_TYPE_A, RRL_REFERRAL, 5 },
		{ "q.wild.site.", DNS_TYPE_A, RRL_WILDCARD, 5 },
		{ "www.example.", DNS_TYPE_A, RRL_ERROR, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tdns_qctx q;
		struct tdns_answer a;
		const uint8_t *name;
		size_t name_len;
		uint8_t *in = NULL;
		size_t in_len;
		ldns_pkt *p = NULL;

		assert_int_equal(ldns_pkt_query_new_frm_str(&p, cases[i].qname, cases[i].qtype,
							    LDNS_RR_CLASS_IN, 0),
				 LDNS_STATUS_OK);
		assert_int_equal(ldns_pkt2wire(&in, p, &in_len), LDNS_STATUS_OK);
		ldns_pkt_free(p);
		q.peer = NULL;
		q.transport = QCTX_UDP;
		assert_int_equal(qctx_parse(&q, in, in_len), QCTX_OK);
		answer_reset(&a);
		auth_query(NULL, u->rd, &u->cfg, &q, &a);
		assert_int_equal(rrl_classify(&q, &a, &name, &name_len), cases[i].cls);
		assert_int_equal(name_len, cases[i].name_len);
		free(in);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_siphash_vectors),
		cmocka_unit_test(test_bucket_and_slip),
		cmocka_unit_test(test_slip_settings),
		cmocka_unit_test(test_ipv6_prefix),
		cmocka_unit_test(test_bad_config),
		cmocka_unit_test_setup_teardown(test_upper_slip_keeps_rcode, upper_setup,
						upper_teardown),
		cmocka_unit_test_setup_teardown(test_classify, upper_setup, upper_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
