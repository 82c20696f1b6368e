/*
 * test_encode.c - the query parser (qctx), the one message writer (encode)
 * and the pipeline's own answers, checked against ldns as the independent
 * oracle: every reply written here must parse with ldns and say what the
 * descriptor said.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
/* stdbool.h first: without it ldns/common.h defines bool as signed char,
 * which no longer matches the bool of the other modules. */
#include <stdbool.h>
#include <ldns/ldns.h>

#include "tierdns/answer.h"
#include "tierdns/dnsproto.h"
#include "tierdns/encode.h"
#include "tierdns/pipeline.h"
#include "tierdns/qctx.h"

#define HDR(id, b2, b3, qd, an, ns, ar) \
	(id) >> 8, (id) & 0xff, (b2), (b3), 0, (qd), 0, (an), 0, (ns), 0, (ar)
#define Q_WWW_EXAMPLE 3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0
#define OPT0(udp_hi, udp_lo, flags_hi) 0, 0, 41, (udp_hi), (udp_lo), 0, 0, (flags_hi), 0, 0, 0

static uint8_t out[QCTX_MAX_MSG];

/* ---- qctx_parse: a table of messages and their verdicts ---- */

struct parse_case {
	const char *what;
	uint8_t msg[96];
	size_t len;
	bool tcp;
	enum qctx_verdict want;
	size_t limit; /* checked when want is QCTX_OK */
};

static const struct parse_case parse_cases[] = {
	{ "plain A query", { HDR(1, 1, 0, 1, 0, 0, 0), Q_WWW_EXAMPLE, 0, 1, 0, 1 },
	  12 + 13 + 4, false, QCTX_OK, 512 },
	{ "over TCP", { HDR(1, 1, 0, 1, 0, 0, 0), Q_WWW_EXAMPLE, 0, 1, 0, 1 },
	  12 + 13 + 4, true, QCTX_OK, 65535 },
	{ "EDNS 4096 is capped at ours",
	  { HDR(1, 1, 0, 1, 0, 0, 1), Q_WWW_EXAMPLE, 0, 1, 0, 1, OPT0(16, 0, 0x80) },
	  12 + 13 + 4 + 11, false, QCTX_OK, 1232 },
	{ "EDNS below 512 counts as 512",
	  { HDR(1, 1, 0, 1, 0, 0, 1), Q_WWW_EXAMPLE, 0, 1, 0, 1, OPT0(0, 100, 0) },
	  12 + 13 + 4 + 11, false, QCTX_OK, 512 },
	{ "trailing bytes are ignored",
	  { HDR(1, 1, 0, 1, 0, 0, 0), Q_WWW_EXAMPLE, 0, 1, 0, 1, 0xde, 0xad },
	  12 + 13 + 4 + 2, false, QCTX_OK, 512 },
	{ "question compressed into the header (legal, if odd)",
	  { HDR(1, 1, 0, 1, 0, 0, 0), 0xc0, 4, 0, 1, 0, 1 },
	  12 + 2 + 4, false, QCTX_OK, 512 },
	{ "runt", { 0, 1, 1, 0, 0, 1 }, 6, false, QCTX_DROP, 0 },
	{ "a response (QR=1)", { HDR(1, 0x81, 0, 1, 0, 0, 0), Q_WWW_EXAMPLE, 0, 1, 0, 1 },
	  12 + 13 + 4, false, QCTX_DROP, 0 },
	{ "opcode NOTIFY", { HDR(1, 0x20, 0, 1, 0, 0, 0), Q_WWW_EXAMPLE, 0, 6, 0, 1 },
	  12 + 13 + 4, false, QCTX_OPCODE, 0 },
	{ "two questions", { HDR(1, 1, 0, 2, 0, 0, 0), Q_WWW_EXAMPLE, 0, 1, 0, 1 },
	  12 + 13 + 4, false, QCTX_FORMERR, 0 },
	{ "no question", { HDR(1, 1, 0, 0, 0, 0, 0) }, 12, false, QCTX_FORMERR, 0 },
	{ "question cut short", { HDR(1, 1, 0, 1, 0, 0, 0), Q_WWW_EXAMPLE, 0, 1 },
	  12 + 13 + 2, false, QCTX_FORMERR, 0 },
	{ "label longer than 63", { HDR(1, 1, 0, 1, 0, 0, 0), 64, 'a' },
	  12 + 2, false, QCTX_FORMERR, 0 },
	{ "pointer to itself", { HDR(1, 1, 0, 1, 0, 0, 0), 0xc0, 12, 0, 1, 0, 1 },
	  12 + 2 + 4, false, QCTX_FORMERR, 0 },
	{ "a record in the answer section",
	  { HDR(1, 1, 0, 1, 1, 0, 0), Q_WWW_EXAMPLE, 0, 1, 0, 1,
	    0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4 },
	  12 + 13 + 4 + 16, false, QCTX_FORMERR, 0 },
	{ "two OPT records",
	  { HDR(1, 1, 0, 1, 0, 0, 2), Q_WWW_EXAMPLE, 0, 1, 0, 1, OPT0(4, 0, 0),
	    OPT0(4, 0, 0) },
	  12 + 13 + 4 + 22, false, QCTX_FORMERR, 0 },
	{ "OPT owned by another name",
	  { HDR(1, 1, 0, 1, 0, 0, 1), Q_WWW_EXAMPLE, 0, 1, 0, 1,
	    0xc0, 12, 0, 41, 4, 0, 0, 0, 0, 0, 0, 0 },
	  12 + 13 + 4 + 12, false, QCTX_FORMERR, 0 },
	{ "OPT option longer than its rdata",
	  { HDR(1, 1, 0, 1, 0, 0, 1), Q_WWW_EXAMPLE, 0, 1, 0, 1,
	    0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 4, 0, 10, 0, 8 },
	  12 + 13 + 4 + 15, false, QCTX_FORMERR, 0 },
	{ "OPT rdata past the end",
	  { HDR(1, 1, 0, 1, 0, 0, 1), Q_WWW_EXAMPLE, 0, 1, 0, 1,
	    0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 9 },
	  12 + 13 + 4 + 11, false, QCTX_FORMERR, 0 },
	{ "EDNS version 1",
	  { HDR(1, 1, 0, 1, 0, 0, 1), Q_WWW_EXAMPLE, 0, 1, 0, 1,
	    0, 0, 41, 4, 0, 0, 1, 0, 0, 0, 0 },
	  12 + 13 + 4 + 11, false, QCTX_BADVERS, 0 },
};

static void test_parse_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *c = &parse_cases[i];
		struct tdns_qctx q;

		print_message("%s\n", c->what);
		memset(&q, 0, sizeof(q));
		q.transport = c->tcp ? QCTX_TCP : QCTX_UDP;
		assert_int_equal(qctx_parse(&q, c->msg, c->len), c->want);
		if (c->want == QCTX_OK)
			assert_int_equal(q.limit, c->limit);
	}
}

/* A compressed question is read out whole, and the reply echoes it
 * uncompressed (there is nothing before it to point at). */
static void test_compressed_question(void **state)
{
	static const uint8_t msg[] = { HDR(7, 1, 0, 1, 0, 0, 0), 0xc0, 4, 0, 1, 0, 1 };
	struct tdns_qctx q;
	size_t n = 0;

	(void)state;
	memset(&q, 0, sizeof(q));
	assert_int_equal(qctx_parse(&q, msg, sizeof(msg)), QCTX_OK);
	/* At offset 4: 0x00 (QDCOUNT high byte) - the root name. */
	assert_int_equal(q.qname_len, 1);
	assert_int_equal(q.qname[0], 0);
	assert_int_equal(q.qtype, 1);
	n = encode_error(&q, DNS_RCODE_REFUSED, out, sizeof(out));
	assert_int_equal(n, 12 + 1 + 4);
}

/* ---- encode_reply against ldns ---- */

static ldns_pkt *parse_reply(size_t n)
{
	ldns_pkt *p = NULL;

	assert_int_equal(ldns_wire2pkt(&p, out, n), LDNS_STATUS_OK);
	return p;
}

static void rr_is(const ldns_rr_list *l, size_t i, const char *text)
{
	char *s = ldns_rr2str(ldns_rr_list_rr(l, i));

	assert_non_null(s);
	s[strcspn(s, "\n")] = 0;
	for (char *t = s; *t != 0; t++)
		if (*t == '\t')
			*t = ' ';
	assert_string_equal(s, text);
	free(s);
}

/* A query for (qname, type) with EDNS of size udp (0 = none). */
static size_t make_query(uint8_t *m, const char *qname, uint16_t type,
			 uint16_t udp, bool rd)
{
	ldns_rdf *name = ldns_dname_new_frm_str(qname);
	ldns_pkt *p = ldns_pkt_query_new(name, (ldns_rr_type)type,
					  LDNS_RR_CLASS_IN, rd ? LDNS_RD : 0);
	uint8_t *wire = NULL;
	size_t n = 0;

	assert_non_null(p);
	ldns_pkt_set_id(p, 0x1234);
	if (udp > 0)
		ldns_pkt_set_edns_udp_size(p, udp);
	assert_int_equal(ldns_pkt2wire(&wire, p, &n), LDNS_STATUS_OK);
	memcpy(m, wire, n);
	free(wire);
	ldns_pkt_free(p);
	return n;
}

/* Packed records: u16 rdlength | rdata, count times. */
struct recs {
	uint8_t b[4096];
	size_t len;
	uint16_t n;
};

static void rec_add(struct recs *r, const void *rd, size_t len)
{
	dns_wr16(r->b + r->len, (uint16_t)len);
	memcpy(r->b + r->len + 2, rd, len);
	r->len += 2 + len;
	r->n++;
}

static const uint8_t APEX[] = { 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0 };

static void test_answer_with_compression(void **state)
{
	static const uint8_t soa[] = { 2, 'n', 's', 7, 'e', 'x', 'a', 'm', 'p',
				       'l', 'e', 0, 4, 'h', 'o', 's', 't', 0,
				       0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0,
				       0, 4, 0, 0, 0, 5 };
	static const uint8_t mx[] = { 0, 10, 4, 'm', 'a', 'i', 'l', 7, 'e', 'x',
				      'a', 'm', 'p', 'l', 'e', 0 };
	static struct tdns_answer a;
	struct recs r1 = { .len = 0 }, r2 = { .len = 0 };
	uint8_t query[512];
	struct tdns_qctx q;
	ldns_pkt *p;
	size_t n = 0, qlen;

	(void)state;
	qlen = make_query(query, "WWW.Example.", DNS_TYPE_MX, 1232, true);
	memset(&q, 0, sizeof(q));
	assert_int_equal(qctx_parse(&q, query, qlen), QCTX_OK);
	answer_reset(&a);
	a.aa = true;
	rec_add(&r1, mx, sizeof(mx));
	answer_add(&a, ANS_ANSWER, NULL, DNS_TYPE_MX, DNS_CLASS_IN, 300,
		   ANS_REC_PACKED, r1.n, r1.b, r1.len);
	rec_add(&r2, soa, sizeof(soa));
	answer_add(&a, ANS_AUTHORITY, APEX, DNS_TYPE_SOA, DNS_CLASS_IN, 60,
		   ANS_REC_PACKED, r2.n, r2.b, r2.len);
	assert_int_equal(encode_reply(&q, &a, out, sizeof(out), &n), TDNS_OK);
	p = parse_reply(n);
	assert_int_equal(ldns_pkt_id(p), 0x1234);
	assert_true(ldns_pkt_qr(p) && ldns_pkt_aa(p) && ldns_pkt_rd(p));
	assert_false(ldns_pkt_ra(p) || ldns_pkt_tc(p));
	/* The question exactly as sent, case included (RFC 4343 4). */
	assert_memory_equal(out + 12, query + 12, q.qname_len + 4);
	rr_is(ldns_pkt_answer(p), 0, "WWW.Example. 300 IN MX 10 mail.Example.");
	rr_is(ldns_pkt_authority(p), 0,
	      "Example. 60 IN SOA ns.Example. host. 1 2 3 4 5");
	assert_true(ldns_pkt_edns(p));
	assert_int_equal(ldns_pkt_edns_udp_size(p), QCTX_EDNS_SIZE);
	/* Compressed: the owner is a pointer to the question (2 bytes), and
	 * "example" is written once (the question) in the whole message. */
	assert_int_equal(out[12 + q.qname_len + 4], 0xc0);
	assert_int_equal(out[12 + q.qname_len + 5], 12);
	assert_null(memmem(out + 12 + q.qname_len, n - 12 - q.qname_len,
			   "\x07" "example", 8));
	ldns_pkt_free(p);
}

/* A name whose suffix repeats one of its own labels ("site.site.") must
 * not be compressed against the part of itself not yet written. */
static void test_repeated_labels(void **state)
{
	static const uint8_t owner[] = { 1, 'a', 4, 's', 'i', 't', 'e', 4, 's',
					 'i', 't', 'e', 0 };
	static const uint8_t cname[] = { 0, 16, 4, 's', 'i', 't', 'e', 4, 's',
					 'i', 't', 'e', 4, 's', 'i', 't', 'e', 0 };
	static struct tdns_answer a;
	uint8_t query[512];
	struct tdns_qctx q;
	ldns_pkt *p;
	size_t n = 0, qlen;

	(void)state;
	qlen = make_query(query, "x.", DNS_TYPE_CNAME, 0, false);
	memset(&q, 0, sizeof(q));
	assert_int_equal(qctx_parse(&q, query, qlen), QCTX_OK);
	answer_reset(&a);
	answer_add(&a, ANS_ANSWER, owner, DNS_TYPE_CNAME, DNS_CLASS_IN, 5,
		   ANS_REC_PACKED, 1, cname, sizeof(cname));
	/* Zeros past what is written: a premature match then finds a root. */
	memset(out, 0, sizeof(out));
	assert_int_equal(encode_reply(&q, &a, out, sizeof(out), &n), TDNS_OK);
	p = parse_reply(n);
	rr_is(ldns_pkt_answer(p), 0, "a.site.site. 5 IN CNAME site.site.site.");
	ldns_pkt_free(p);
}

/* A message of many names (a zone transfer's): past the first few the
 * encoder looks suffixes up through its hash index. Each owner
 * "hN.sub.Example." and each MX target "mN.sub.example." (case aside)
 * compresses to its first label and a pointer, the records read back as
 * written, and two owners that differ only in case share one name. */
static void test_many_names_compressed(void **state)
{
	enum { N = 300 }; /* all within the 16 KB a pointer reaches */
	static struct tdns_answer a;
	static uint8_t owners[N][32];
	static struct recs rd[N];
	uint8_t query[512];
	struct tdns_qctx q;
	ldns_pkt *p;
	size_t n = 0, qlen, olen;
	const uint8_t *first;
	char want[128];

	(void)state;
	qlen = make_query(query, "Example.", DNS_TYPE_AXFR, 0, false);
	memset(&q, 0, sizeof(q));
	q.transport = QCTX_TCP;
	assert_int_equal(qctx_parse(&q, query, qlen), QCTX_OK);
	answer_reset(&a);
	for (int i = 0; i < N; i++) {
		uint8_t mx[40];
		int l = snprintf((char *)owners[i] + 1, 16, "%c%d", i == N - 1 ? 'H' : 'h',
				 i == N - 1 ? N - 2 : i);

		owners[i][0] = (uint8_t)l;
		olen = (size_t)l + 1;
		memcpy(owners[i] + olen, "\x03sub\x07" "Example", 12);
		owners[i][olen + 12] = 0;
		mx[0] = 0;
		mx[1] = 10;
		l = snprintf((char *)mx + 3, 16, "m%d", i);
		mx[2] = (uint8_t)l;
		memcpy(mx + 3 + l, "\x03sub\x07" "example", 12);
		mx[3 + l + 12] = 0;
		rd[i].len = 0;
		rd[i].n = 0;
		rec_add(&rd[i], mx, (size_t)(3 + l + 13));
		answer_add(&a, ANS_ANSWER, owners[i], DNS_TYPE_MX, DNS_CLASS_IN, 300,
			   ANS_REC_PACKED, rd[i].n, rd[i].b, rd[i].len);
	}
	assert_int_equal(a.n, N);
	assert_int_equal(encode_reply(&q, &a, out, sizeof(out), &n), TDNS_OK);
	p = parse_reply(n);
	assert_int_equal(ldns_pkt_ancount(p), N);
	for (int i = 0; i < N; i += 37) {
		snprintf(want, sizeof(want), "h%d.sub.Example. 300 IN MX 10 m%d.sub.Example.", i,
			 i);
		rr_is(ldns_pkt_answer(p), (size_t)i, want);
	}
	/* The last owner, "H298", is the earlier "h298" (RFC 4343): a pointer. */
	snprintf(want, sizeof(want), "h%d.sub.Example. 300 IN MX 10 m%d.sub.Example.", N - 2,
		 N - 1);
	rr_is(ldns_pkt_answer(p), N - 1, want);
	/* "sub" written once, in the first owner; every other name
	 * is its first label and a pointer: per record at most 2 + 5 + 2
	 * (owner), 10 fixed, 2 + 2 + 5 + 2 (MX), under 31 bytes. */
	first = memmem(out + 12, n - 12, "\x03sub", 4);
	assert_non_null(first);
	assert_null(memmem(first + 4, (size_t)(out + n - first) - 4, "\x03sub", 4));
	assert_true(n < 12 + q.qname_len + 4 + (size_t)N * 31);
	ldns_pkt_free(p);
}

/* Many records: over UDP the RRset goes whole or not at all, with TC; the
 * OPT stays; over TCP everything goes. */
static void test_truncation(void **state)
{
	static struct tdns_answer a;
	static struct recs big = { .len = 0 }, glue = { .len = 0 };
	static const uint8_t ns_target[] = { 3, 'n', 's', '1', 0 };
	uint8_t query[512], addr[4] = { 192, 0, 2, 0 };
	struct tdns_qctx q;
	ldns_pkt *p;
	size_t n = 0, qlen, i;

	(void)state;
	for (i = 0; i < 60; i++) {
		addr[3] = (uint8_t)i;
		rec_add(&big, addr, 4);
	}
	rec_add(&glue, addr, 4);

	/* The answer RRset does not fit 512: TC, no answer, the OPT kept. */
	qlen = make_query(query, "big.example.", DNS_TYPE_A, 512, false);
	memset(&q, 0, sizeof(q));
	assert_int_equal(qctx_parse(&q, query, qlen), QCTX_OK);
	answer_reset(&a);
	answer_add(&a, ANS_ANSWER, NULL, DNS_TYPE_A, DNS_CLASS_IN, 1,
		   ANS_REC_PACKED, big.n, big.b, big.len);
	assert_int_equal(encode_reply(&q, &a, out, sizeof(out), &n), TDNS_OK);
	assert_true(n <= 512);
	p = parse_reply(n);
	assert_true(ldns_pkt_tc(p));
	assert_int_equal(ldns_pkt_ancount(p), 0);
	assert_true(ldns_pkt_edns(p));
	ldns_pkt_free(p);

	/* The same over TCP: all 60. */
	q.transport = QCTX_TCP;
	assert_int_equal(qctx_parse(&q, query, qlen), QCTX_OK);
	assert_int_equal(encode_reply(&q, &a, out, sizeof(out), &n), TDNS_OK);
	p = parse_reply(n);
	assert_false(ldns_pkt_tc(p));
	assert_int_equal(ldns_pkt_ancount(p), 60);
	ldns_pkt_free(p);

	/* Optional additional data that does not fit goes without TC;
	 * required glue (RFC 9471 3) that does not fit sets TC. */
	q.transport = QCTX_UDP;
	for (i = 0; i < 2; i++) {
		struct tdns_ans_rrset *e;

		assert_int_equal(qctx_parse(&q, query, qlen), QCTX_OK);
		answer_reset(&a);
		answer_add(&a, ANS_AUTHORITY, APEX, DNS_TYPE_NS, DNS_CLASS_IN, 1,
			   ANS_REC_PACKED, 1, (const uint8_t *)"\x00\x05\x03ns1\x00", 7);
		e = answer_add(&a, ANS_ADDITIONAL, ns_target, DNS_TYPE_A,
			       DNS_CLASS_IN, 1, ANS_REC_PACKED, big.n, big.b,
			       big.len);
		if (i == 1)
			e->flags |= ANS_F_REQUIRED;
		answer_add(&a, ANS_ADDITIONAL, ns_target, DNS_TYPE_AAAA,
			   DNS_CLASS_IN, 1, ANS_REC_PACKED, 0, NULL, 0);
		assert_int_equal(encode_reply(&q, &a, out, sizeof(out), &n), TDNS_OK);
		p = parse_reply(n);
		assert_int_equal(ldns_pkt_tc(p), i == 1);
		assert_int_equal(ldns_pkt_nscount(p), 1);
		assert_int_equal(ldns_pkt_arcount(p), 0); /* OPT is not counted by ldns */
		ldns_pkt_free(p);
	}
}

/* An RRset and the RRSIG entry after it (ANS_F_SIGS) go in together or
 * not at all (RFC 4035 3.1.1, RFC 2181 9): when the signatures do not fit,
 * the RRset they sign is left out too and TC is set; the entries before
 * them stay. */
static void test_truncation_keeps_signatures(void **state)
{
	static struct tdns_answer a;
	static struct recs one = { .len = 0 }, sigs = { .len = 0 };
	uint8_t query[512], addr[4] = { 192, 0, 2, 1 }, sig[400];
	struct tdns_qctx q;
	struct tdns_ans_rrset *e;
	ldns_pkt *p;
	size_t n = 0, qlen, i;

	(void)state;
	rec_add(&one, addr, 4);
	/* RRSIG rdata: covered A, alg 13, 2 labels, TTL, times, tag, the
	 * signer (the root), then a signature of 380 octets. */
	memset(sig, 0, sizeof(sig));
	dns_wr16(sig, DNS_TYPE_A);
	sig[2] = 13;
	sig[3] = 2;
	for (i = 19; i < sizeof(sig); i++)
		sig[i] = (uint8_t)i;
	rec_add(&sigs, sig, sizeof(sig));
	qlen = make_query(query, "www.example.", DNS_TYPE_A, 512, false);
	for (i = 0; i < 2; i++) {
		memset(&q, 0, sizeof(q));
		q.transport = i == 0 ? QCTX_UDP : QCTX_TCP;
		assert_int_equal(qctx_parse(&q, query, qlen), QCTX_OK);
		answer_reset(&a);
		/* A first RRset and its signature fit 512 ... */
		answer_add(&a, ANS_ANSWER, NULL, DNS_TYPE_A, DNS_CLASS_IN, 60,
			   ANS_REC_PACKED, one.n, one.b, one.len);
		e = answer_add(&a, ANS_ANSWER, NULL, DNS_TYPE_RRSIG, DNS_CLASS_IN,
			       60, ANS_REC_PACKED, sigs.n, sigs.b, sigs.len);
		e->flags |= ANS_F_SIGS;
		/* ... a second does, but not with its signature. */
		answer_add(&a, ANS_AUTHORITY, APEX, DNS_TYPE_A, DNS_CLASS_IN, 60,
			   ANS_REC_PACKED, one.n, one.b, one.len);
		e = answer_add(&a, ANS_AUTHORITY, APEX, DNS_TYPE_RRSIG,
			       DNS_CLASS_IN, 60, ANS_REC_PACKED, sigs.n, sigs.b,
			       sigs.len);
		e->flags |= ANS_F_SIGS;
		assert_int_equal(encode_reply(&q, &a, out, sizeof(out), &n), TDNS_OK);
		p = parse_reply(n);
		assert_int_equal(ldns_pkt_ancount(p), 2);
		if (i == 0) {
			assert_true(n <= 512);
			assert_true(ldns_pkt_tc(p));
			assert_int_equal(ldns_pkt_nscount(p), 0);
		} else {
			assert_false(ldns_pkt_tc(p));
			assert_int_equal(ldns_pkt_nscount(p), 2);
		}
		ldns_pkt_free(p);
	}
}

/* EDE (RFC 8914) and an extended rcode (RFC 6891 6.1.3) in the OPT. */
static void test_opt_ede_and_extended_rcode(void **state)
{
	static struct tdns_answer a;
	uint8_t query[512];
	struct tdns_qctx q;
	ldns_pkt *p;
	ldns_rdf *opts;
	size_t n = 0, qlen;

	(void)state;
	qlen = make_query(query, "x.example.", DNS_TYPE_A, 1232, true);
	memset(&q, 0, sizeof(q));
	assert_int_equal(qctx_parse(&q, query, qlen), QCTX_OK);
	answer_reset(&a);
	answer_fail(&a, DNS_RCODE_SERVFAIL, EDE_NETWORK_ERROR, "upstream down");
	assert_int_equal(encode_reply(&q, &a, out, sizeof(out), &n), TDNS_OK);
	p = parse_reply(n);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_SERVFAIL);
	opts = ldns_pkt_edns_data(p);
	assert_non_null(opts);
	assert_int_equal(ldns_rdf_size(opts), 4 + 2 + 13);
	assert_memory_equal(ldns_rdf_data(opts), "\x00\x0f\x00\x0f\x00\x17"
			    "upstream down", 19);
	ldns_pkt_free(p);

	/* Without EDNS in the query there is no OPT, so no EDE either. */
	qlen = make_query(query, "x.example.", DNS_TYPE_A, 0, true);
	assert_int_equal(qctx_parse(&q, query, qlen), QCTX_OK);
	assert_int_equal(encode_reply(&q, &a, out, sizeof(out), &n), TDNS_OK);
	assert_int_equal(n, qlen);
	assert_int_equal(dns_rd16(out + 10), 0);

	/* BADVERS: 16 = extended rcode 1, header rcode 0. */
	qlen = make_query(query, "x.example.", DNS_TYPE_A, 1232, true);
	assert_int_equal(qctx_parse(&q, query, qlen), QCTX_OK);
	n = encode_error(&q, DNS_RCODE_BADVERS, out, sizeof(out));
	assert_true(n > 0);
	assert_int_equal(out[3] & 0x0f, 0);
	assert_int_equal(out[n - 11 + 5], 1);
	assert_int_equal(out[n - 11 + 6], 0);
}

/* RFC 8467 4.1: over TLS and HTTPS a reply with an OPT is padded to a
 * multiple of 468 bytes by a Padding option (zeros) that comes first, the
 * EDE after it; over UDP and TCP, or without EDNS, nothing is added; a
 * reply that the padding would push past the limit goes unpadded. */
static void test_padding(void **state)
{
	static const struct {
		uint8_t transport;
		uint16_t udp;      /* the query's EDNS size; 0: no EDNS */
		bool padded;
	} rows[] = {
		{ QCTX_TLS, 1232, true },   { QCTX_HTTPS, 1232, true },
		{ QCTX_TLS, 0, false },     { QCTX_HTTPS, 0, false },
		{ QCTX_UDP, 1232, false },  { QCTX_TCP, 1232, false },
	};
	static struct tdns_answer a;
	uint8_t query[512];
	struct tdns_qctx q;
	size_t i, n, qlen, plain, opt;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		qlen = make_query(query, "x.example.", DNS_TYPE_A, rows[i].udp, true);
		memset(&q, 0, sizeof(q));
		q.transport = rows[i].transport;
		assert_int_equal(qctx_parse(&q, query, qlen), QCTX_OK);
		answer_reset(&a);
		answer_fail(&a, DNS_RCODE_SERVFAIL, EDE_NETWORK_ERROR, "upstream down");
		assert_int_equal(encode_reply(&q, &a, out, sizeof(out), &n), TDNS_OK);
		/* header + question, then the OPT (11) and its EDE (19) */
		plain = qlen - (rows[i].udp > 0 ? 11 : 0) + (rows[i].udp > 0 ? 11 + 19 : 0);
		if (!rows[i].padded) {
			assert_int_equal(n, plain);
			continue;
		}
		assert_int_equal(n, 468);
		opt = qlen - 11; /* where the OPT starts: after the question */
		assert_int_equal(dns_rd16(out + opt + 9), 468 - opt - 11);
		assert_int_equal(dns_rd16(out + opt + 11), DNS_OPT_PADDING);
		assert_int_equal(dns_rd16(out + opt + 13), 468 - plain - 4);
		for (size_t k = opt + 15; k < opt + 15 + 468 - plain - 4; k++)
			assert_int_equal(out[k], 0);
		assert_int_equal(dns_rd16(out + 468 - 19), DNS_OPT_EDE);
	}

	/* A limit that leaves no room for the padding: none. */
	qlen = make_query(query, "x.example.", DNS_TYPE_A, 1232, true);
	memset(&q, 0, sizeof(q));
	q.transport = QCTX_TLS;
	assert_int_equal(qctx_parse(&q, query, qlen), QCTX_OK);
	answer_reset(&a);
	assert_int_equal(encode_reply(&q, &a, out, 100, &n), TDNS_OK);
	assert_int_equal(n, qlen);
}

/* Stored rdata that does not fit its type is an error, not an answer. */
static void test_bad_rdata(void **state)
{
	static const struct {
		uint16_t type;
		const char *rd;
		size_t len;
	} bad[] = {
		{ DNS_TYPE_A, "\x01\x02\x03", 3 },
		{ DNS_TYPE_AAAA, "\x01\x02\x03\x04", 4 },
		{ DNS_TYPE_MX, "\x00\x0a\x04mail", 7 },
		{ DNS_TYPE_CNAME, "\x04mail\x00\x00", 7 },
		{ DNS_TYPE_SOA, "\x00\x00\x00\x00\x01", 5 },
	};
	static struct tdns_answer a;
	uint8_t query[512];
	struct tdns_qctx q;
	size_t n = 0, qlen, i;

	(void)state;
	qlen = make_query(query, "x.example.", DNS_TYPE_A, 0, true);
	memset(&q, 0, sizeof(q));
	assert_int_equal(qctx_parse(&q, query, qlen), QCTX_OK);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct recs r = { .len = 0 };

		rec_add(&r, bad[i].rd, bad[i].len);
		answer_reset(&a);
		answer_add(&a, ANS_ANSWER, NULL, bad[i].type, DNS_CLASS_IN, 1,
			   ANS_REC_PACKED, r.n, r.b, r.len);
		assert_int_equal(encode_reply(&q, &a, out, sizeof(out), &n),
				 TDNS_EINVAL);
	}
}

/* The pipeline: an opcode without a handler is NOTIMP with QR and the
 * opcode only (RFC 8906 8: RD, CD, RA, AA clear, no question); FORMERR
 * keeps the question; a QUERY reaches its stage. */
static enum pipeline_verdict answer_nxdomain(void *ctx, const struct tdns_qctx *q,
					     struct tdns_answer *a)
{
	(void)ctx;
	(void)q;
	a->rcode = DNS_RCODE_NXDOMAIN;
	a->aa = true;
	return PIPELINE_ANSWER;
}

static void test_pipeline(void **state)
{
	static struct tdns_answer a;
	struct tdns_pipeline p = { .ra = true };
	uint8_t query[512];
	struct tdns_qctx q;
	size_t n = 0, qlen;
	unsigned op;

	(void)state;
	p.opcode[DNS_OPCODE_QUERY] = answer_nxdomain;
	qlen = make_query(query, "x.example.", DNS_TYPE_A, 1232, true);
	query[3] |= DNS_FLAG_CD;
	for (op = 1; op < 16; op++) {
		memset(&q, 0, sizeof(q));
		query[2] = (uint8_t)(op << 3 | DNS_FLAG_RD);
		assert_int_equal(pipeline_run(&p, NULL, &q, &a, query, qlen, out,
					      sizeof(out), &n), PIPELINE_ANSWER);
		assert_int_equal(n, 12);
		assert_int_equal(out[2], DNS_FLAG_QR | op << 3);
		assert_int_equal(out[3], DNS_RCODE_NOTIMP);
		assert_memory_equal(out + 4, "\0\0\0\0\0\0\0\0", 8);
	}
	query[2] = DNS_FLAG_RD;
	memset(&q, 0, sizeof(q));
	assert_int_equal(pipeline_run(&p, NULL, &q, &a, query, qlen, out, sizeof(out),
				      &n), PIPELINE_ANSWER);
	assert_int_equal(out[2], DNS_FLAG_QR | DNS_FLAG_AA | DNS_FLAG_RD);
	assert_int_equal(out[3], DNS_FLAG_RA | DNS_FLAG_CD | DNS_RCODE_NXDOMAIN);
	/* Two questions: FORMERR, RA as the daemon says. */
	query[5] = 2;
	assert_int_equal(pipeline_run(&p, NULL, &q, &a, query, qlen, out, sizeof(out),
				      &n), PIPELINE_ANSWER);
	assert_int_equal(out[3] & 0x0f, DNS_RCODE_FORMERR);
	/* A response is never answered. */
	query[5] = 1;
	query[2] |= DNS_FLAG_QR;
	assert_int_equal(pipeline_run(&p, NULL, &q, &a, query, qlen, out, sizeof(out),
				      &n), PIPELINE_DROP);
}

/* The upstream query: what ldns reads back. */
static void test_encode_query(void **state)
{
	static const uint8_t name[] = { 3, 'W', 'w', 'W', 4, 's', 'i', 't', 'e', 0 };
	ldns_pkt *p;
	size_t n;
	char *s;

	(void)state;
	n = encode_query(0xbeef, name, sizeof(name), DNS_TYPE_AAAA, DNS_CLASS_IN,
			 ENC_Q_EDNS, out, sizeof(out));
	p = parse_reply(n);
	assert_int_equal(ldns_pkt_id(p), 0xbeef);
	assert_false(ldns_pkt_qr(p));
	assert_true(ldns_pkt_rd(p));
	assert_int_equal(ldns_pkt_qdcount(p), 1);
	s = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(p), 0)));
	assert_string_equal(s, "WwW.site.");
	free(s);
	assert_true(ldns_pkt_edns(p));
	assert_int_equal(ldns_pkt_edns_udp_size(p), QCTX_EDNS_SIZE);
	assert_false(ldns_pkt_edns_do(p));
	assert_false(ldns_pkt_cd(p));
	ldns_pkt_free(p);
	/* A validating resolver's query: DO, and CD for a CD=1 client. */
	n = encode_query(7, name, sizeof(name), DNS_TYPE_A, DNS_CLASS_IN,
			 ENC_Q_EDNS | ENC_Q_DO | ENC_Q_CD, out, sizeof(out));
	p = parse_reply(n);
	assert_true(ldns_pkt_edns_do(p));
	assert_true(ldns_pkt_cd(p));
	ldns_pkt_free(p);
	assert_int_equal(encode_query(1, name, sizeof(name), 1, 1, 0, out, 20), 0);
	assert_int_equal(encode_query(1, name, sizeof(name), 1, 1, 0, out,
				      sizeof(out)), 12 + sizeof(name) + 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_compressed_question),
		cmocka_unit_test(test_answer_with_compression),
		cmocka_unit_test(test_repeated_labels),
		cmocka_unit_test(test_many_names_compressed),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_truncation_keeps_signatures),
		cmocka_unit_test(test_opt_ede_and_extended_rcode),
		cmocka_unit_test(test_padding),
		cmocka_unit_test(test_bad_rdata),
		cmocka_unit_test(test_pipeline),
		cmocka_unit_test(test_encode_query),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
