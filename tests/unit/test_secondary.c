/*
 * test_secondary.c - what secondary.h gives every daemon: the SOA values of
 * a zone held as text (the RPZ sink's), and the answer to a NOTIFY for a
 * secondary kept in a sink of the caller's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

#include "tierdns/dnsproto.h"
#include "tierdns/secondary.h"
#include "tierdns/zoneload.h"

static void test_held_from_text(void **state)
{
	static const struct {
		const char *text;
		bool have;
		uint32_t serial, refresh, retry, expire;
	} cases[] = {
		{ "$ORIGIN r.\n$TTL 300\n@ SOA a. b. 7 60 30 600 300\n@ NS a.\n", true, 7, 60, 30,
		  600 },
		/* the SOA after other records (an IXFR's zone before it is put first) */
		{ "r. 300 IN NS a.\nr. 300 IN SOA a. b. 9 1 2 3 4\n", true, 9, 1, 2, 3 },
		{ "r. 300 IN NS a.\n", false, 0, 0, 0, 0 },
		{ "r. 300 IN SOA a. b. 1 2\n", false, 0, 0, 0, 0 },
		{ "", false, 0, 0, 0, 0 },
	};
	struct secondary_held h;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool got = secondary_held_from_text(cases[i].text, &h);

		if (got != cases[i].have || h.have != cases[i].have)
			fail_msg("case %zu: have %d, want %d", i, got, cases[i].have);
		if (!got)
			continue;
		assert_int_equal(h.serial, cases[i].serial);
		assert_int_equal(h.refresh, cases[i].refresh);
		assert_int_equal(h.retry, cases[i].retry);
		assert_int_equal(h.expire, cases[i].expire);
		assert_int_equal(h.since, 0);
	}
}

static void no_held(void *ctx, size_t i, struct secondary_held *out)
{
	(void)ctx;
	(void)i;
	memset(out, 0, sizeof(*out));
}

static char *no_text(void *ctx, size_t i)
{
	(void)ctx;
	(void)i;
	return NULL;
}

static enum tdns_status no_apply(void *ctx, size_t i, const struct secondary_update *u,
				 char *err, size_t cap)
{
	(void)ctx;
	(void)i;
	(void)u;
	snprintf(err, cap, "not here");
	return TDNS_EINVAL;
}

/* A NOTIFY (RFC 1996) for zone from peer: its rcode, and AA. */
static void notify_case(struct tdns_secondary *sec, const char *zone, ldns_rr_type type,
			const char *peer, uint8_t want_rcode, bool want_aa, size_t n)
{
	ldns_pkt *p = NULL;
	uint8_t *wire = NULL;
	size_t len = 0;
	struct tdns_qctx q;
	struct tdns_answer a;
	struct tdns_addr addr;

	assert_int_equal(ldns_pkt_query_new_frm_str(&p, zone, type, LDNS_RR_CLASS_IN, 0),
			 LDNS_STATUS_OK);
	ldns_pkt_set_opcode(p, LDNS_PACKET_NOTIFY);
	assert_int_equal(ldns_pkt2wire(&wire, p, &len), LDNS_STATUS_OK);
	memset(&q, 0, sizeof(q));
	/* QCTX_OPCODE: parsed, an opcode other than QUERY (qctx.h). */
	assert_int_equal(qctx_parse(&q, wire, len), QCTX_OPCODE);
	answer_reset(&a);
	if (peer != NULL)
		assert_int_equal(netio_addr_parse(peer, 53, &addr), TDNS_OK);
	secondary_notify_answer(sec, &q, peer != NULL ? &addr : NULL, &a);
	if (a.rcode != want_rcode || a.aa != want_aa)
		fail_msg("case %zu: rcode %u aa %d, want %u %d", n, a.rcode, a.aa, want_rcode,
			 want_aa);
	LDNS_FREE(wire);
	ldns_pkt_free(p);
}

static void test_notify_answer(void **state)
{
	static const struct {
		const char *zone;
		ldns_rr_type type;
		const char *peer;
		uint8_t rcode;
		bool aa;
	} cases[] = {
		/* from a primary, whatever its source port */
		{ "rpz.example.", LDNS_RR_TYPE_SOA, "192.0.2.1:40000", DNS_RCODE_NOERROR, true },
		{ "RPZ.Example.", LDNS_RR_TYPE_SOA, "192.0.2.2", DNS_RCODE_NOERROR, true },
		{ "rpz.example.", LDNS_RR_TYPE_SOA, "192.0.2.3", DNS_RCODE_REFUSED, false },
		{ "other.example.", LDNS_RR_TYPE_SOA, "192.0.2.1", DNS_RCODE_NOTAUTH, false },
		{ "rpz.example.", LDNS_RR_TYPE_A, "192.0.2.1", DNS_RCODE_FORMERR, false },
		{ "rpz.example.", LDNS_RR_TYPE_SOA, NULL, DNS_RCODE_FORMERR, false },
	};
	struct secondary_sink sink = { .held = no_held, .text = no_text, .apply = no_apply,
				       .label = "test", .on_expire = "nothing",
				       .status_what = "test of" };
	struct tdns_addr prim[2];
	struct secondary_zone z;
	uint8_t key[NAME_KEY_MAX];
	size_t klen;
	struct tdns_loop *l = netio_loop_new();
	struct tdns_secondary *sec = NULL;

	(void)state;
	assert_non_null(l);
	assert_int_equal(zoneload_name_key("rpz.example.", key, &klen), TDNS_OK);
	assert_int_equal(netio_addr_parse("192.0.2.1:5300", 53, &prim[0]), TDNS_OK);
	assert_int_equal(netio_addr_parse("192.0.2.2", 53, &prim[1]), TDNS_OK);
	memset(&z, 0, sizeof(z));
	z.apex = key;
	z.apex_len = klen;
	z.primaries = prim;
	z.n_primaries = 2;
	assert_int_equal(secondary_new_sink(l, &sink, &z, 1, &sec), TDNS_OK);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		notify_case(sec, cases[i].zone, cases[i].type, cases[i].peer, cases[i].rcode,
			    cases[i].aa, i);
	secondary_free(sec);
	netio_loop_free(l);
}

/* secondary_update_text: the records of an update as master-file text
 * (the RPZ sink's), NULL when they cannot be read. */
struct text_it {
	const char *const *recs;
	size_t i, n;
};

static bool text_next(void *ctx, ldns_rr **rr)
{
	struct text_it *it = ctx;

	*rr = NULL;
	if (it->i == it->n)
		return true;
	return ldns_rr_new_frm_str(rr, it->recs[it->i++], 0, NULL, NULL) == LDNS_STATUS_OK;
}

static void test_update_text(void **state)
{
	static const char *const recs[] = { "r. 300 IN SOA a. b. 7 60 30 600 300",
					    "x.r. 60 IN CNAME ." };
	static const char *const bad[] = { "r. 300 IN SOA a. b. 7 60 30 600 300", "x.r. 60 IN" };
	struct text_it it = { recs, 0, 2 };
	struct secondary_update u = { .name = "r.", .how = "AXFR", .serial = 7, .records = 2,
				      .next = text_next, .it = &it };
	struct secondary_held h;
	char *text;

	(void)state;
	text = secondary_update_text(&u);
	assert_non_null(text);
	assert_string_equal(text, "r.\t300\tIN\tSOA\ta. b. 7 60 30 600 300\n"
				  "x.r.\t60\tIN\tCNAME\t.\n");
	assert_true(secondary_held_from_text(text, &h));
	assert_int_equal(h.serial, 7);
	free(text);
	it.recs = bad;
	it.i = 0;
	assert_null(secondary_update_text(&u));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_held_from_text),
		cmocka_unit_test(test_notify_answer),
		cmocka_unit_test(test_update_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
