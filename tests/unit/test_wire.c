/*
 * test_wire.c - the test oracle's query classification, reply skeletons and
 * truncation (tests/support/oracle.h), checked before tests rely on it.
 * Raw packets are written inline as hex (spaces ignored) so each case shows
 * exactly the bytes on the wire.
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
#include "oracle.h"

/* Pieces of the packets below. */
#define HDR_Q1 "1234 0100 0001 0000 0000 "   /* ID 0x1234, RD, QDCOUNT 1 (ARCOUNT follows) */
#define QN "06 576542617070 04 53695465 00 " /* WeBapp.SiTe. */
#define A_IN "0001 0001 "
#define L63 "3f " X16 X16 X16 "616161616161616161616161616161 "
#define L61 "3d " X16 X16 X16 "61616161616161616161616161 "
#define X16 "61616161616161616161616161616161"
#define OPT_4096 "00 0029 1000 00000000 0000 "
#define OPT_V1 "00 0029 1000 00010000 0000 "
#define OPT_DO_COOKIE "00 0029 0200 00008000 0008 fde9 0004 deadbeef "

enum expect_q { Q_NONE, Q_COPIED };

struct parse_case {
	const char *what;
	const char *hex;
	enum wire_verdict verdict;
	unsigned rcode;       /* full rcode incl. extended bits (ERROR only) */
	enum expect_q question;
	bool opt;             /* the error reply carries an OPT */
};

static const struct parse_case parse_cases[] = {
	{ "shorter than a header", "1234 0100 0001", WIRE_DROP, 0, Q_NONE, false },
	{ "empty", "", WIRE_DROP, 0, Q_NONE, false },
	{ "QR=1 is a response", "1234 8100 0001 0000 0000 0000 " QN A_IN,
	  WIRE_DROP, 0, Q_NONE, false },
	{ "opcode STATUS", "1234 1100 0001 0000 0000 0000 " QN A_IN,
	  WIRE_ERROR, LDNS_RCODE_NOTIMPL, Q_COPIED, false },
	{ "opcode UPDATE", "1234 2800 0001 0000 0000 0000 " QN "0006 0001",
	  WIRE_ERROR, LDNS_RCODE_NOTIMPL, Q_COPIED, false },
	{ "QDCOUNT 0", "1234 0100 0000 0000 0000 0000",
	  WIRE_ERROR, LDNS_RCODE_FORMERR, Q_NONE, false },
	{ "QDCOUNT 2", "1234 0100 0002 0000 0000 0000 " QN A_IN QN A_IN,
	  WIRE_ERROR, LDNS_RCODE_FORMERR, Q_NONE, false },
	{ "header only, QDCOUNT 1", "1234 0100 0001 0000 0000 0000",
	  WIRE_ERROR, LDNS_RCODE_FORMERR, Q_NONE, false },
	{ "name runs off the end", "1234 0100 0001 0000 0000 0000 06 5765",
	  WIRE_ERROR, LDNS_RCODE_FORMERR, Q_NONE, false },
	{ "question without class", HDR_Q1 "0000 " QN "0001",
	  WIRE_ERROR, LDNS_RCODE_FORMERR, Q_NONE, false },
	{ "pointer to itself", HDR_Q1 "0000 c00c " A_IN,
	  WIRE_ERROR, LDNS_RCODE_FORMERR, Q_NONE, false },
	{ "forward pointer", HDR_Q1 "0000 c010 " A_IN "00",
	  WIRE_ERROR, LDNS_RCODE_FORMERR, Q_NONE, false },
	{ "label type 0x40", HDR_Q1 "0000 41 00 " A_IN,
	  WIRE_ERROR, LDNS_RCODE_FORMERR, Q_NONE, false },
	{ "ARCOUNT 1 but nothing there", HDR_Q1 "0001 " QN A_IN,
	  WIRE_ERROR, LDNS_RCODE_FORMERR, Q_COPIED, false },
	{ "answer record in a query", "1234 0100 0001 0001 0000 0000 " QN A_IN
	  "c00c 0001 0001 00000e10 0004 c0000201",
	  WIRE_ERROR, LDNS_RCODE_FORMERR, Q_COPIED, false },
	{ "two OPT records", HDR_Q1 "0002 " QN A_IN OPT_4096 OPT_4096,
	  WIRE_ERROR, LDNS_RCODE_FORMERR, Q_COPIED, false },
	{ "OPT owner not root", HDR_Q1 "0001 " QN A_IN
	  "01 61 00 0029 1000 00000000 0000",
	  WIRE_ERROR, LDNS_RCODE_FORMERR, Q_COPIED, false },
	{ "OPT owner compressed to a non-root name", HDR_Q1 "0001 " QN A_IN
	  "c00c 0029 1000 00000000 0000",
	  WIRE_ERROR, LDNS_RCODE_FORMERR, Q_COPIED, false },
	{ "OPT rdlength past the end", HDR_Q1 "0001 " QN A_IN
	  "00 0029 1000 00000000 0008 fde9",
	  WIRE_ERROR, LDNS_RCODE_FORMERR, Q_COPIED, false },
	/* No RFC forbids asking for a meta type; NSD and Knot answer NODATA. */
	{ "QTYPE OPT", HDR_Q1 "0000 " QN "0029 0001", WIRE_OK, 0, Q_NONE,
	  false },
	{ "name longer than 255 bytes", HDR_Q1 "0000 " L63 L63 L63 L63 "00 " A_IN,
	  WIRE_ERROR, LDNS_RCODE_FORMERR, Q_NONE, false },
	{ "name of exactly 255 bytes", HDR_Q1 "0000 " L63 L63 L63 L61 "00 " A_IN,
	  WIRE_OK, 0, Q_NONE, false },
	{ "EDNS version 1", HDR_Q1 "0001 " QN A_IN OPT_V1,
	  WIRE_ERROR, 16, Q_COPIED, true },
	{ "plain query", HDR_Q1 "0000 " QN A_IN, WIRE_OK, 0, Q_NONE, false },
	{ "EDNS query", HDR_Q1 "0001 " QN A_IN OPT_4096, WIRE_OK, 0, Q_NONE,
	  false },
	{ "EDNS query with an option", HDR_Q1 "0001 " QN A_IN OPT_DO_COOKIE,
	  WIRE_OK, 0, Q_NONE, false },
};

static void check_error_reply(const struct parse_case *c, const uint8_t *in,
			      size_t in_len, const uint8_t *out, size_t out_len)
{
	ldns_pkt *p = NULL;
	unsigned rcode;

	assert_true(out_len >= WIRE_HDR_LEN);
	assert_memory_equal(out, in, 2);             /* ID */
	assert_true(out[2] & 0x80);                  /* QR */
	assert_int_equal(out[2] & 0x78, in[2] & 0x78); /* opcode */
	assert_int_equal(out[2] & 0x01, in[2] & 0x01); /* RD */
	assert_int_equal(out[2] & 0x06, 0);          /* AA, TC clear */
	assert_int_equal(out[3] & 0x80, 0);          /* RA clear */
	assert_int_equal(ldns_wire2pkt(&p, out, out_len), LDNS_STATUS_OK);
	rcode = (unsigned)ldns_pkt_get_rcode(p) |
		(unsigned)ldns_pkt_edns_extended_rcode(p) << 4;
	assert_int_equal(rcode, c->rcode);
	assert_int_equal(ldns_pkt_edns(p), c->opt);
	if (c->opt) {
		assert_int_equal(ldns_pkt_edns_version(p), 0);
		assert_int_equal(ldns_pkt_edns_udp_size(p), WIRE_EDNS_OUR_SIZE);
	}
	assert_int_equal(ldns_pkt_ancount(p), 0);
	assert_int_equal(ldns_pkt_nscount(p), 0);
	if (c->question == Q_COPIED) {
		size_t qlen = 7 + 5 + 1 + 4;

		assert_int_equal(ldns_pkt_qdcount(p), 1);
		assert_true(in_len >= WIRE_HDR_LEN + qlen);
		assert_true(out_len >= WIRE_HDR_LEN + qlen);
		assert_memory_equal(out + WIRE_HDR_LEN, in + WIRE_HDR_LEN, qlen);
	} else {
		assert_int_equal(ldns_pkt_qdcount(p), 0);
	}
	ldns_pkt_free(p);
}

static void test_parse_table(void **state)
{
	size_t i;
	static uint8_t out[WIRE_MAX_MSG];

	(void)state;
	for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *c = &parse_cases[i];
		uint8_t in[1024];
		size_t len = tu_unhex(c->hex, in, sizeof(in));
		size_t out_len = 0;
		struct tdns_query q;
		enum wire_verdict v;

		print_message("case: %s\n", c->what);
		memset(&q, 0, sizeof(q));
		v = wire_parse_query(in, len, &q, out, &out_len);
		assert_int_equal(v, c->verdict);
		if (v == WIRE_ERROR) {
			assert_null(q.pkt);
			check_error_reply(c, in, len, out, out_len);
		}
		wire_query_clear(&q);
	}
}

static enum wire_verdict parse_hex(const char *hex, struct tdns_query *q)
{
	static uint8_t out[WIRE_MAX_MSG];
	uint8_t in[1024];
	size_t len = tu_unhex(hex, in, sizeof(in));
	size_t out_len = 0;

	memset(q, 0, sizeof(*q));
	return wire_parse_query(in, len, q, out, &out_len);
}

static void test_query_fields(void **state)
{
	struct tdns_query q;
	static const uint8_t key[] = "\x04site\x06webapp";
	char *s;

	(void)state;
	assert_int_equal(parse_hex(HDR_Q1 "0001 " QN A_IN OPT_DO_COOKIE, &q),
			 WIRE_OK);
	assert_int_equal(q.id, 0x1234);
	assert_true(q.rd);
	assert_false(q.cd);
	assert_int_equal(q.qtype, LDNS_RR_TYPE_A);
	assert_int_equal(q.qclass, LDNS_RR_CLASS_IN);
	s = ldns_rdf2str(q.qname);
	assert_string_equal(s, "WeBapp.SiTe.");
	free(s);
	assert_int_equal(q.qkey_len, sizeof(key) - 1);
	assert_memory_equal(q.qkey, key, sizeof(key) - 1);
	assert_true(q.edns);
	assert_int_equal(q.edns_udp, 512);
	assert_int_equal(q.edns_version, 0);
	assert_true(q.edns_do);
	wire_query_clear(&q);
	assert_null(q.pkt);
}

struct udp_case {
	const char *hex;
	size_t max_udp;
};

static void test_max_udp(void **state)
{
	static const struct udp_case cases[] = {
		{ HDR_Q1 "0000 " QN A_IN, 512 },
		{ HDR_Q1 "0001 " QN A_IN "00 0029 0000 00000000 0000", 512 },
		{ HDR_Q1 "0001 " QN A_IN "00 0029 01ff 00000000 0000", 512 },
		{ HDR_Q1 "0001 " QN A_IN "00 0029 03e8 00000000 0000", 1000 },
		{ HDR_Q1 "0001 " QN A_IN "00 0029 04d0 00000000 0000", 1232 },
		{ HDR_Q1 "0001 " QN A_IN "00 0029 04d1 00000000 0000", 1232 },
		{ HDR_Q1 "0001 " QN A_IN "00 0029 ffff 00000000 0000", 1232 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tdns_query q;

		assert_int_equal(parse_hex(cases[i].hex, &q), WIRE_OK);
		assert_int_equal(q.max_udp, cases[i].max_udp);
		wire_query_clear(&q);
	}
}

/* The skeleton echoes the question byte for byte (client's case), copies
 * ID/RD/CD and DO, and answers an OPT without echoing unknown options. */
static void test_reply_skeleton(void **state)
{
	static uint8_t out[WIRE_MAX_MSG];
	uint8_t in[256];
	size_t in_len = tu_unhex("beef 0110 0001 0000 0000 0001 " QN A_IN
			      OPT_DO_COOKIE, in, sizeof(in));
	size_t out_len = 0;
	struct tdns_query q;
	ldns_pkt *r, *p = NULL;

	(void)state;
	memset(&q, 0, sizeof(q));
	assert_int_equal(wire_parse_query(in, in_len, &q, out, &out_len),
			 WIRE_OK);
	assert_true(q.cd);
	r = wire_reply_new(&q, LDNS_RCODE_NXDOMAIN);
	assert_non_null(r);
	assert_int_equal(wire_reply_render(r, &q, false, out, sizeof(out),
					   &out_len), TDNS_OK);
	/* header + question + OPT with no options */
	assert_int_equal(out_len, WIRE_HDR_LEN + 17 + 11);
	assert_memory_equal(out, "\xbe\xef", 2);
	assert_int_equal(out[2], 0x81);  /* QR, opcode 0, RD */
	assert_int_equal(out[3], 0x13);  /* CD, NXDOMAIN */
	assert_memory_equal(out + WIRE_HDR_LEN, in + WIRE_HDR_LEN, 17);
	assert_int_equal(ldns_wire2pkt(&p, out, out_len), LDNS_STATUS_OK);
	assert_true(ldns_pkt_edns(p));
	assert_int_equal(ldns_pkt_edns_udp_size(p), WIRE_EDNS_OUR_SIZE);
	assert_int_equal(ldns_pkt_edns_version(p), 0);
	assert_true(ldns_pkt_edns_do(p));
	assert_null(ldns_pkt_edns_data(p));
	ldns_pkt_free(p);
	ldns_pkt_free(r);
	wire_query_clear(&q);
}

static void test_no_opt_without_edns(void **state)
{
	static uint8_t out[WIRE_MAX_MSG];
	size_t out_len = 0;
	struct tdns_query q;
	ldns_pkt *r;

	(void)state;
	assert_int_equal(parse_hex(HDR_Q1 "0000 " QN A_IN, &q), WIRE_OK);
	r = wire_reply_new(&q, LDNS_RCODE_NOERROR);
	assert_non_null(r);
	assert_int_equal(wire_reply_render(r, &q, false, out, sizeof(out),
					   &out_len), TDNS_OK);
	assert_int_equal(out_len, WIRE_HDR_LEN + 17);
	assert_memory_equal(out + 10, "\x00\x00", 2); /* ARCOUNT 0 */
	ldns_pkt_free(r);
	wire_query_clear(&q);
}

static void push(ldns_pkt *r, ldns_pkt_section sec, const char *fmt, ...)
{
	char text[1024];
	ldns_rr *rr = NULL;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	assert_int_equal(ldns_rr_new_frm_str(&rr, text, 0, NULL, NULL),
			 LDNS_STATUS_OK);
	assert_true(ldns_pkt_push_rr(r, sec, rr));
}

/* What a truncation test builds: n A records at webapp.site, plus extras. */
enum trunc_extra {
	EX_BIG_TXT_ANSWER,     /* a second answer RRset that does not fit */
	EX_OPTIONAL_ADDITIONAL, /* only optional additional data overflows */
	EX_REFERRAL_GLUE,      /* required in-domain glue overflows */
};

struct trunc_case {
	const char *what;
	const char *query_hex;
	enum trunc_extra extra;
	bool tcp;
	bool tc;              /* expected TC */
	size_t an, ns, ar;    /* expected counts (without OPT) */
	bool opt;
};

static void build_reply(ldns_pkt *r, enum trunc_extra extra)
{
	char txt[260];
	int i;

	memset(txt, 'x', 200);
	txt[200] = '\0';
	switch (extra) {
	case EX_BIG_TXT_ANSWER:
		for (i = 1; i <= 20; i++)
			push(r, LDNS_SECTION_ANSWER,
			     "webapp.site. 300 IN A 192.0.2.%d", i);
		push(r, LDNS_SECTION_ANSWER, "webapp.site. 300 IN TXT \"%s\"",
		     txt);
		push(r, LDNS_SECTION_ANSWER, "webapp.site. 300 IN TXT \"%s\"",
		     txt);
		break;
	case EX_OPTIONAL_ADDITIONAL:
		for (i = 1; i <= 20; i++)
			push(r, LDNS_SECTION_ANSWER,
			     "webapp.site. 300 IN A 192.0.2.%d", i);
		push(r, LDNS_SECTION_ADDITIONAL, "info.site. 300 IN TXT \"%s\"",
		     txt);
		break;
	case EX_REFERRAL_GLUE:
		push(r, LDNS_SECTION_AUTHORITY,
		     "site. 86400 IN NS ns1.site.");
		for (i = 1; i <= 40; i++)
			push(r, LDNS_SECTION_ADDITIONAL,
			     "ns1.site. 86400 IN A 192.0.2.%d", i);
		break;
	}
}

static void test_truncation(void **state)
{
	static const struct trunc_case cases[] = {
		{ "second answer RRset does not fit", HDR_Q1 "0000 " QN A_IN,
		  EX_BIG_TXT_ANSWER, false, true, 20, 0, 0, false },
		{ "same over TCP: everything", HDR_Q1 "0000 " QN A_IN,
		  EX_BIG_TXT_ANSWER, true, false, 22, 0, 0, false },
		{ "EDNS 512: OPT kept", HDR_Q1 "0001 " QN A_IN
		  "00 0029 0200 00000000 0000",
		  EX_BIG_TXT_ANSWER, false, true, 20, 0, 0, true },
		{ "EDNS 1232: fits", HDR_Q1 "0001 " QN A_IN
		  "00 0029 04d0 00000000 0000",
		  EX_BIG_TXT_ANSWER, false, false, 22, 0, 0, true },
		{ "optional additional dropped silently", HDR_Q1 "0000 " QN A_IN,
		  EX_OPTIONAL_ADDITIONAL, false, false, 20, 0, 0, false },
		{ "required glue dropped: TC", HDR_Q1 "0000 " QN A_IN,
		  EX_REFERRAL_GLUE, false, true, 0, 1, 0, false },
		{ "required glue over TCP", HDR_Q1 "0000 " QN A_IN,
		  EX_REFERRAL_GLUE, true, false, 0, 1, 40, false },
	};
	static uint8_t out[WIRE_MAX_MSG];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct trunc_case *c = &cases[i];
		struct tdns_query q;
		ldns_pkt *r, *p = NULL;
		size_t out_len = 0, j;

		print_message("case: %s\n", c->what);
		assert_int_equal(parse_hex(c->query_hex, &q), WIRE_OK);
		r = wire_reply_new(&q, LDNS_RCODE_NOERROR);
		assert_non_null(r);
		build_reply(r, c->extra);
		assert_int_equal(wire_reply_render(r, &q, c->tcp, out,
						   sizeof(out), &out_len),
				 TDNS_OK);
		if (!c->tcp)
			assert_true(out_len <= q.max_udp);
		assert_int_equal((out[2] & 0x02) != 0, c->tc);
		assert_int_equal(ldns_wire2pkt(&p, out, out_len),
				 LDNS_STATUS_OK);
		assert_int_equal(ldns_pkt_ancount(p), c->an);
		assert_int_equal(ldns_pkt_nscount(p), c->ns);
		assert_int_equal(ldns_pkt_arcount(p), c->ar);
		assert_int_equal(ldns_pkt_edns(p), c->opt);
		/* Whole RRsets only: what is left of the answer is all A. */
		if (c->an == 20)
			for (j = 0; j < c->an; j++)
				assert_int_equal(ldns_rr_get_type(ldns_rr_list_rr(
						 ldns_pkt_answer(p), j)),
						 LDNS_RR_TYPE_A);
		ldns_pkt_free(p);
		ldns_pkt_free(r);
		wire_query_clear(&q);
	}
}

static void test_error_reply_raw(void **state)
{
	uint8_t in[64], out[64];
	size_t len = tu_unhex(HDR_Q1 "0000 " QN A_IN, in, sizeof(in));

	(void)state;
	assert_int_equal(wire_error_reply(in, 11, LDNS_RCODE_SERVFAIL, out,
					  sizeof(out)), 0);
	assert_int_equal(wire_error_reply(in, len, LDNS_RCODE_SERVFAIL, out,
					  sizeof(out)), len);
	assert_int_equal(out[3], LDNS_RCODE_SERVFAIL);
	assert_memory_equal(out + 4, "\x00\x01\x00\x00\x00\x00\x00\x00", 8);
	/* Not enough room for the question: header only. */
	assert_int_equal(wire_error_reply(in, len, LDNS_RCODE_SERVFAIL, out,
					  20), WIRE_HDR_LEN);
	assert_memory_equal(out + 4, "\x00\x00", 2);
}

/* Deterministic mutations of valid packets: every verdict is allowed, a
 * crash or a sanitizer report is not, and WIRE_ERROR always has a reply. */
static void test_garbage(void **state)
{
	static uint8_t out[WIRE_MAX_MSG];
	static const char *seeds[] = {
		HDR_Q1 "0001 " QN A_IN OPT_DO_COOKIE,
		"1234 0100 0001 0001 0001 0002 " QN A_IN
		"c00c 0001 0001 00000e10 0004 c0000201 "
		"c00c 0002 0001 00000e10 0002 c00c " OPT_4096
		"c012 0001 0001 00000e10 0004 c0000202",
	};
	uint32_t rng = 12345;
	size_t s, round;

	(void)state;
	for (s = 0; s < sizeof(seeds) / sizeof(seeds[0]); s++) {
		uint8_t base[512];
		size_t base_len = tu_unhex(seeds[s], base, sizeof(base));

		for (round = 0; round < 3000; round++) {
			uint8_t in[512];
			size_t len = base_len, k, flips;
			size_t out_len = 0;
			struct tdns_query q;
			enum wire_verdict v;

			memcpy(in, base, base_len);
			rng = rng * 1103515245u + 12345u;
			flips = 1 + (rng >> 16) % 4;
			for (k = 0; k < flips; k++) {
				rng = rng * 1103515245u + 12345u;
				in[(rng >> 8) % base_len] = (uint8_t)(rng >> 24);
			}
			rng = rng * 1103515245u + 12345u;
			if ((rng >> 16) % 3 == 0)
				len = (rng >> 4) % (base_len + 1);
			in[2] &= 0x7f; /* keep most of them queries */
			memset(&q, 0, sizeof(q));
			v = wire_parse_query(in, len, &q, out, &out_len);
			if (v == WIRE_ERROR)
				assert_true(out_len >= WIRE_HDR_LEN);
			wire_query_clear(&q);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_query_fields),
		cmocka_unit_test(test_max_udp),
		cmocka_unit_test(test_reply_skeleton),
		cmocka_unit_test(test_no_opt_without_edns),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_error_reply_raw),
		cmocka_unit_test(test_garbage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
