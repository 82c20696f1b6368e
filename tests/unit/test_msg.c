/*
 * test_msg.c - the message parser (msg.h): a table of malformed and edge
 * messages with their verdicts, the decompression of names in owners and
 * rdata, the record bound, and a differential against ldns_wire2pkt on
 * messages ldns itself writes and on mutations of them (msg_oracle.h).
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

#include "../fuzz/msg_oracle.h"
#include "tierdns/dnsproto.h"
#include "tierdns/msg.h"

#define HDR(id, b2, b3, qd, an, ns, ar) \
	(id) >> 8, (id) & 0xff, (b2), (b3), 0, (qd), 0, (an), 0, (ns), 0, (ar)
/* www.example. at offset 12 (13 bytes), then IN A */
#define Q_WWW 3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0, 0, 1, 0, 1
#define Q_LEN 17
/* An RR owned by a pointer to the question name: type, class IN, TTL 300 */
#define RR_HEAD(type_lo, rdlen_hi, rdlen_lo) \
	0xc0, 12, 0, (type_lo), 0, 1, 0, 0, 1, 0x2c, (rdlen_hi), (rdlen_lo)
#define OPT0 0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 0

static struct tdns_msg m;

struct parse_case {
	const char *what;
	uint8_t msg[128];
	size_t len;
	enum msg_verdict want;
	bool ldns_too; /* ldns refuses it as well */
};

static const struct parse_case cases[] = {
	{ "header only", { HDR(1, 0x80, 0, 0, 0, 0, 0) }, 12, MSG_OK, false },
	{ "A answer", { HDR(1, 0x81, 0x80, 1, 1, 0, 0), Q_WWW, RR_HEAD(1, 0, 4), 1, 2, 3, 4 },
	  12 + Q_LEN + 16, MSG_OK, false },
	{ "trailing garbage is ignored",
	  { HDR(1, 0x81, 0x80, 1, 1, 0, 0), Q_WWW, RR_HEAD(1, 0, 4), 1, 2, 3, 4, 0xde, 0xad },
	  12 + Q_LEN + 18, MSG_OK, false },
	{ "empty A rdata (ldns takes it)",
	  { HDR(1, 0x81, 0, 1, 1, 0, 0), Q_WWW, RR_HEAD(1, 0, 0) },
	  12 + Q_LEN + 12, MSG_MALFORMED, false },
	{ "empty TXT rdata (ldns takes it)",
	  { HDR(1, 0x81, 0, 1, 1, 0, 0), Q_WWW, RR_HEAD(16, 0, 0) },
	  12 + Q_LEN + 12, MSG_MALFORMED, false },
	{ "SOA without its counters (ldns takes it)",
	  { HDR(1, 0x81, 0, 1, 1, 0, 0), Q_WWW, RR_HEAD(6, 0, 8), 0xc0, 12, 0xc0, 12,
	    0, 0, 0, 1 },
	  12 + Q_LEN + 20, MSG_MALFORMED, false },
	{ "empty rdata of an unknown type",
	  { HDR(1, 0x81, 0, 1, 1, 0, 0), Q_WWW, RR_HEAD(200, 0, 0) },
	  12 + Q_LEN + 12, MSG_OK, false },
	{ "truncated header", { HDR(1, 0x81, 0, 0, 0, 0, 0) }, 11, MSG_SHORT, true },
	{ "empty", { 0 }, 0, MSG_SHORT, true },
	{ "question count over the data", { HDR(1, 0x81, 0, 1, 0, 0, 0) }, 12,
	  MSG_MALFORMED, true },
	{ "answer count over the data", { HDR(1, 0x81, 0, 1, 2, 0, 0), Q_WWW,
					    RR_HEAD(1, 0, 4), 1, 2, 3, 4 },
	  12 + Q_LEN + 16, MSG_MALFORMED, true },
	{ "additional count over the data", { HDR(1, 0x81, 0, 1, 0, 0, 1), Q_WWW },
	  12 + Q_LEN, MSG_MALFORMED, true },
	{ "question cut in its type", { HDR(1, 0x81, 0, 1, 0, 0, 0), Q_WWW },
	  12 + Q_LEN - 3, MSG_MALFORMED, true },
	{ "record cut in its fixed part",
	  { HDR(1, 0x81, 0, 1, 1, 0, 0), Q_WWW, RR_HEAD(1, 0, 4) }, 12 + Q_LEN + 9,
	  MSG_MALFORMED, true },
	{ "rdlength past the end",
	  { HDR(1, 0x81, 0, 1, 1, 0, 0), Q_WWW, RR_HEAD(16, 0, 40), 3, 'a', 'b', 'c' },
	  12 + Q_LEN + 16, MSG_MALFORMED, true },
	{ "pointer forward",
	  { HDR(1, 0x81, 0, 1, 0, 0, 0), 0xc0, 18, 0, 1, 0, 1, 1, 'a', 0 },
	  12 + 6 + 3, MSG_MALFORMED, false },
	{ "pointer to itself", { HDR(1, 0x81, 0, 1, 0, 0, 0), 0xc0, 12, 0, 1, 0, 1 },
	  12 + 6, MSG_MALFORMED, true },
	{ "pointer loop through a label",
	  { HDR(1, 0x81, 0, 1, 0, 0, 0), 1, 'a', 0xc0, 12, 0, 1, 0, 1 }, 12 + 8,
	  MSG_MALFORMED, true },
	{ "pointer into the header",
	  { HDR(1, 0x81, 0, 1, 0, 0, 0), 0xc0, 3, 0, 1, 0, 1 }, 12 + 6, MSG_MALFORMED,
	  false },
	{ "pointer cut in half", { HDR(1, 0x81, 0, 1, 0, 0, 0), 0xc0 }, 13,
	  MSG_MALFORMED, true },
	{ "label longer than 63", { HDR(1, 0x81, 0, 1, 0, 0, 0), 64, 'a' }, 14,
	  MSG_MALFORMED, true },
	{ "label type 01 (RFC 6891 5)", { HDR(1, 0x81, 0, 1, 0, 0, 0), 0x41, 0, 0, 1, 0, 1 },
	  12 + 6, MSG_MALFORMED, true },
	{ "label runs past the end", { HDR(1, 0x81, 0, 1, 0, 0, 0), 5, 'a', 'b' }, 15,
	  MSG_MALFORMED, true },
	{ "A rdata of 5 bytes",
	  { HDR(1, 0x81, 0, 1, 1, 0, 0), Q_WWW, RR_HEAD(1, 0, 5), 1, 2, 3, 4, 5 },
	  12 + Q_LEN + 17, MSG_MALFORMED, false },
	{ "CNAME rdata longer than its name",
	  { HDR(1, 0x81, 0, 1, 1, 0, 0), Q_WWW, RR_HEAD(5, 0, 4), 0xc0, 12, 0, 0 },
	  12 + Q_LEN + 16, MSG_MALFORMED, false },
	{ "CNAME name running past its rdata",
	  { HDR(1, 0x81, 0, 1, 1, 0, 0), Q_WWW, RR_HEAD(5, 0, 2), 1, 'x', 0 },
	  12 + Q_LEN + 15, MSG_MALFORMED, false },
	{ "CNAME pointing forward",
	  { HDR(1, 0x81, 0, 1, 1, 0, 0), Q_WWW, RR_HEAD(5, 0, 2), 0xc0, 43, 0 },
	  12 + Q_LEN + 15, MSG_MALFORMED, false },
	{ "MX with one byte", { HDR(1, 0x81, 0, 1, 1, 0, 0), Q_WWW, RR_HEAD(15, 0, 1), 0 },
	  12 + Q_LEN + 13, MSG_MALFORMED, true },
	{ "TXT string longer than its rdata",
	  { HDR(1, 0x81, 0, 1, 1, 0, 0), Q_WWW, RR_HEAD(16, 0, 3), 5, 'a', 'b' },
	  12 + Q_LEN + 15, MSG_MALFORMED, true },
	{ "two OPT records",
	  { HDR(1, 0x81, 0, 1, 0, 0, 2), Q_WWW, OPT0, OPT0 }, 12 + Q_LEN + 22,
	  MSG_MALFORMED, false },
	{ "one OPT", { HDR(1, 0x81, 0, 1, 0, 0, 1), Q_WWW, OPT0 }, 12 + Q_LEN + 11,
	  MSG_OK, false },
};

static void test_table(void **state)
{
	struct msg_oracle o;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct parse_case *c = &cases[i];

		msg_oracle_run(c->msg, c->len, &m, true, &o);
		if (o.verdict != c->want || o.why != NULL ||
		    (c->ldns_too && o.ldns_ok) || (c->want == MSG_OK && !o.ldns_ok)) {
			fprintf(stderr, "case \"%s\": verdict %d (want %d), ldns %s, %s\n",
				c->what, o.verdict, c->want, o.ldns_ok ? "ok" : "refuses",
				o.why ? o.why : "same fields");
			fail();
		}
	}
}

/* Append the uncompressed wire form of a dotted name. */
static size_t put_name(uint8_t *p, const char *name)
{
	size_t n = 0;

	while (*name != 0) {
		const char *dot = strchr(name, '.');
		size_t l = dot != NULL ? (size_t)(dot - name) : strlen(name);

		p[n++] = (uint8_t)l;
		memcpy(p + n, name, l);
		n += l;
		name += l + (dot != NULL ? 1 : 0);
	}
	p[n++] = 0;
	return n;
}

static void test_long_names(void **state)
{
	static uint8_t msg[1024];
	char name[400];
	size_t n;
	uint8_t out[NAME_WIRE_MAX];

	(void)state;
	/* 3 x 63 + 61 octets of labels: 255 in all with the length octets
	 * and the root, the longest name there is. */
	memset(name, 0, sizeof(name));
	memset(name, 'a', 63);
	name[63] = '.';
	memset(name + 64, 'b', 63);
	name[127] = '.';
	memset(name + 128, 'c', 63);
	name[191] = '.';
	memset(name + 192, 'd', 61);
	memcpy(msg, (uint8_t[]){ HDR(1, 0x81, 0, 1, 0, 0, 0) }, 12);
	n = 12 + put_name(msg + 12, name);
	assert_int_equal(n - 12, 255);
	memcpy(msg + n, (uint8_t[]){ 0, 1, 0, 1 }, 4);
	assert_int_equal(msg_parse(&m, msg, n + 4), MSG_OK);
	assert_int_equal(m.qname_len, 255);
	assert_int_equal(msg_name(&m, m.qname, out), 255);

	/* One more octet: 256. */
	name[253] = 'd';
	n = 12 + put_name(msg + 12, name);
	memcpy(msg + n, (uint8_t[]){ 0, 1, 0, 1 }, 4);
	assert_int_equal(msg_parse(&m, msg, n + 4), MSG_MALFORMED);

	/* 248 octets, then a pointer to a 63-octet label: too long once
	 * decompressed (313), though 250 where it stands. */
	memset(msg, 0, sizeof(msg));
	memcpy(msg, (uint8_t[]){ HDR(1, 0x81, 0, 2, 0, 0, 0) }, 12);
	msg[12] = 63;
	memset(msg + 13, 'x', 63);
	msg[76] = 0;
	memcpy(msg + 77, (uint8_t[]){ 0, 1, 0, 1 }, 4);
	n = 81;
	for (int i = 0; i < 4; i++) {
		msg[n++] = 61;
		memset(msg + n, 'y', 61);
		n += 61;
	}
	msg[n++] = 0xc0;
	msg[n++] = 12;
	memcpy(msg + n, (uint8_t[]){ 0, 1, 0, 1 }, 4);
	assert_int_equal(msg_parse(&m, msg, n + 4), MSG_MALFORMED);
}

/* A name reached through a chain of pointers, each to the one before:
 * MSG_MAX_POINTERS hops are followed, one more is refused. */
static void test_pointer_hops(void **state)
{
	static uint8_t msg[2048];
	struct tdns_msg_rr *rr;
	size_t n, last;
	uint8_t out[NAME_WIRE_MAX];

	(void)state;
	for (unsigned hops = MSG_MAX_POINTERS; hops <= MSG_MAX_POINTERS + 1; hops++) {
		/* Question a./A; a TYPE65280 record whose opaque rdata
		 * holds the links (the first points at the question name);
		 * a CNAME whose target points at the last link. */
		memcpy(msg, (uint8_t[]){ HDR(1, 0x81, 0, 1, 2, 0, 0), 1, 'a', 0, 0, 1, 0, 1 },
		       19);
		n = 19;
		memcpy(msg + n, (uint8_t[]){ 0xc0, 12, 0xff, 0, 0, 1, 0, 0, 0, 0 }, 10);
		n += 10;
		msg[n++] = (uint8_t)((2 * (hops - 1)) >> 8);
		msg[n++] = (uint8_t)(2 * (hops - 1));
		msg[n] = 0xc0;
		msg[n + 1] = 12;
		n += 2;
		for (unsigned i = 2; i < hops; i++, n += 2) {
			msg[n] = (uint8_t)(0xc0 | (n - 2) >> 8);
			msg[n + 1] = (uint8_t)(n - 2);
		}
		last = n - 2;
		memcpy(msg + n, (uint8_t[]){ 0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 0, 0, 2 }, 12);
		n += 12;
		msg[n] = (uint8_t)(0xc0 | last >> 8);
		msg[n + 1] = (uint8_t)last;
		n += 2;
		/* hops - 1 links in the rdata plus the CNAME's own pointer */
		if (hops <= MSG_MAX_POINTERS) {
			assert_int_equal(msg_parse(&m, msg, n), MSG_OK);
			rr = &m.rr[1];
			assert_int_equal(rr->type, DNS_TYPE_CNAME);
			assert_int_equal(msg_name(&m, rr->rdata, out), 3);
		} else {
			assert_int_equal(msg_parse(&m, msg, n), MSG_MALFORMED);
		}
	}
}

static void test_rr_bound(void **state)
{
	static uint8_t msg[16 + 17 * (MSG_RR_MAX + 1) + 32];
	size_t n, count;

	(void)state;
	for (count = MSG_RR_MAX; count <= MSG_RR_MAX + 1; count++) {
		memcpy(msg, (uint8_t[]){ HDR(1, 0x81, 0, 1, 0, 0, 0), Q_WWW }, 12 + Q_LEN);
		dns_wr16(msg + 6, (uint16_t)count);
		n = 12 + Q_LEN;
		for (size_t i = 0; i < count; i++) {
			memcpy(msg + n, (uint8_t[]){ RR_HEAD(1, 0, 4), 192, 0, 2, 1 }, 16);
			msg[n + 15] = (uint8_t)i;
			n += 16;
		}
		assert_int_equal(msg_parse(&m, msg, n),
				 count <= MSG_RR_MAX ? MSG_OK : MSG_TOO_MANY);
	}
	/* The bound is checked before any record is read. */
	dns_wr16(msg + 6, 0);
	dns_wr16(msg + 10, 0xffff);
	assert_int_equal(msg_parse(&m, msg, 12 + Q_LEN), MSG_TOO_MANY);
}

static void test_decompress(void **state)
{
	/* www.example. A question; answer: www.example. CNAME
	 * web.<ptr example.>; web.example. (compressed owner) SOA
	 * with both names compressed, serial..minimum */
	static const uint8_t msg[] = {
		HDR(7, 0x81, 0x80, 1, 1, 1, 0), Q_WWW,
		RR_HEAD(5, 0, 6), 3, 'W', 'e', 'B', 0xc0, 16,
		0xc0, 41, 0, 6, 0, 1, 0, 0, 0, 60, 0, 24,
		0xc0, 41, 0xc0, 12, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5,
	};
	static const uint8_t cname[] = { 3, 'W', 'e', 'B', 7, 'e', 'x', 'a', 'm', 'p', 'l',
					 'e', 0 };
	uint8_t out[600], name[NAME_WIRE_MAX];
	size_t len;
	struct msg_oracle o;

	(void)state;
	assert_int_equal(msg_parse(&m, msg, sizeof(msg)), MSG_OK);
	assert_int_equal(m.id, 7);
	assert_true(m.qr && m.rd && m.ra && !m.aa && !m.tc);
	assert_int_equal(m.ancount, 1);
	assert_int_equal(m.nscount, 1);
	assert_int_equal(msg_ns_start(&m), 1);
	assert_true(m.rr[0].flags & MSG_RR_COMPRESSED);
	assert_true(msg_rdata(&m, &m.rr[0], out, sizeof(out), &len));
	assert_int_equal(len, sizeof(cname));
	assert_memory_equal(out, cname, sizeof(cname));
	assert_true(msg_name_eq(&m, m.rr[0].rdata, (const uint8_t *)"\3web\7EXAMPLE", 13));
	assert_false(msg_name_eq(&m, m.rr[0].rdata, (const uint8_t *)"\3web\7EXAMPLF", 13));
	assert_false(msg_name_eq(&m, m.rr[0].rdata, (const uint8_t *)"\3web", 5));
	assert_false(msg_name_eq(&m, m.rr[0].rdata, (const uint8_t *)"\3wex\7example", 13));
	/* The question, uncompressed: compared whole, case ignored; a name
	 * that is only a prefix or a suffix of it is not equal. */
	assert_true(msg_name_eq(&m, m.qname, (const uint8_t *)"\3WwW\7eXaMpLe", 13));
	assert_false(msg_name_eq(&m, m.qname, (const uint8_t *)"\3www\7exampld", 13));
	assert_false(msg_name_eq(&m, m.qname, (const uint8_t *)"\3www", 5));
	assert_false(msg_name_eq(&m, m.qname, (const uint8_t *)"\7example", 9));
	/* Bytes that match but are not a whole name (no root label). */
	assert_false(msg_name_eq(&m, m.qname, (const uint8_t *)"\3www\7example", 12));
	assert_false(msg_name_eq(&m, m.qname, (const uint8_t *)"", 0));
	/* The SOA's owner points at the CNAME's target, which points on. */
	assert_true(msg_name_eq(&m, m.rr[1].owner, (const uint8_t *)"\3WEB\7EXAMPLE", 13));
	/* SOA: mname = web.example. (the CNAME's target), rname = www.example. */
	assert_int_equal(m.rr[1].type, DNS_TYPE_SOA);
	assert_true(msg_rdata(&m, &m.rr[1], out, sizeof(out), &len));
	assert_int_equal(len, 13 + 13 + 20);
	assert_memory_equal(out, cname, 13);
	assert_int_equal(msg_name(&m, m.rr[1].owner, name), 13);
	assert_int_equal(msg_name_skip(&m, m.rr[1].rdata), m.rr[1].rdata + 2);
	/* too small a buffer is refused */
	assert_false(msg_rdata(&m, &m.rr[1], out, 30, &len));
	msg_oracle_run(msg, sizeof(msg), &m, true, &o);
	assert_null(o.why);
	assert_true(o.ldns_ok);
}

/* ---- differential: ldns writes, both parse ---- */

static const char *const owners[] = {
	"example.", "www.example.", "WwW.ExAmple.", "a.b.c.example.", ".",
	"mail.example.org.", "_sip._udp.example.",
};

static const char *const rdatas[] = {
	"A 192.0.2.1", "AAAA 2001:db8::1", "NS ns1.example.", "CNAME www.example.",
	"SOA ns1.example. hostmaster.Example. 1 2 3 4 5", "MX 10 mail.example.",
	"TXT \"hello\" \"world\"", "TXT \"\"", "SRV 0 5 5060 sip.example.",
	"PTR www.example.", "HINFO \"cpu\" \"os\"", "DNAME example.org.",
	"DS 12345 8 2 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE",
	"NAPTR 100 10 \"u\" \"E2U+sip\" \"!^.*$!sip:info@example.!\" .",
	"CAA 0 issue \"ca.example\"", "TYPE65280 \\# 3 abcdef",
	"RRSIG A 8 2 300 20300101000000 20200101000000 12345 example. AQID",
	"NSEC www.example. A RRSIG NSEC", "MINFO rm.example. em.example.",
	"RP mbox.example. txt.example.", "AFSDB 1 afs.example.",
	"SSHFP 1 1 123456789abcdef67890123456789abcdef67890",
};

static ldns_rr *random_rr(void)
{
	char text[512];
	ldns_rr *rr = NULL;

	snprintf(text, sizeof(text), "%s %u IN %s",
		 owners[(size_t)rand() % (sizeof(owners) / sizeof(owners[0]))],
		 (unsigned)rand() % 100000,
		 rdatas[(size_t)rand() % (sizeof(rdatas) / sizeof(rdatas[0]))]);
	if (ldns_rr_new_frm_str(&rr, text, 0, NULL, NULL) != LDNS_STATUS_OK) {
		fprintf(stderr, "bad rr text: %s\n", text);
		fail();
	}
	return rr;
}

static size_t random_message(uint8_t *buf, size_t cap)
{
	ldns_pkt *p = ldns_pkt_query_new(
		ldns_dname_new_frm_str(owners[(size_t)rand() % 3]),
		(ldns_rr_type)(1 + rand() % 30), LDNS_RR_CLASS_IN, LDNS_RD);
	uint8_t *w = NULL;
	size_t n = 0;
	int k = rand() % 8;

	assert_non_null(p);
	ldns_pkt_set_id(p, (uint16_t)rand());
	ldns_pkt_set_qr(p, true);
	ldns_pkt_set_rcode(p, (uint8_t)(rand() % 4));
	for (int i = 0; i < k; i++)
		assert_true(ldns_pkt_push_rr(p, (ldns_pkt_section)(LDNS_SECTION_ANSWER + rand() % 3),
					     random_rr()));
	if (rand() % 2)
		ldns_pkt_set_edns_udp_size(p, 1232);
	assert_int_equal(ldns_pkt2wire(&w, p, &n), LDNS_STATUS_OK);
	assert_true(n <= cap);
	memcpy(buf, w, n);
	LDNS_FREE(w);
	ldns_pkt_free(p);
	return n;
}

static void test_differential(void **state)
{
	static uint8_t msg[MSG_MAX_LEN], mut[MSG_MAX_LEN];
	struct msg_oracle o;
	size_t agree = 0, stricter = 0, both_refuse = 0;

	(void)state;
	srand(20261125);
	for (int i = 0; i < 3000; i++) {
		size_t n = random_message(msg, sizeof(msg));

		msg_oracle_run(msg, n, &m, true, &o);
		if (o.verdict != MSG_OK || o.why != NULL) {
			fprintf(stderr, "generated message %d: verdict %d, %s\n", i,
				o.verdict, o.why ? o.why : "-");
			fail();
		}
		/* Mutations: a few bytes changed, or the message cut. */
		for (int j = 0; j < 20; j++) {
			size_t len = n;

			memcpy(mut, msg, n);
			if (j % 5 == 4) {
				len = (size_t)rand() % (n + 1);
			} else {
				for (int k = 0; k <= j % 3; k++)
					mut[(size_t)rand() % n] = (uint8_t)rand();
			}
			msg_oracle_run(mut, len, &m, true, &o);
			if (o.why != NULL) {
				fprintf(stderr, "mutation %d of message %d: %s\n", j, i, o.why);
				fail();
			}
			if (o.verdict == MSG_OK)
				agree++;
			else if (o.ldns_ok)
				stricter++;
			else
				both_refuse++;
		}
	}
	print_message("mutations: %zu accepted by both, %zu refused by both, "
		      "%zu refused by msg only\n", agree, both_refuse, stricter);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_long_names),
		cmocka_unit_test(test_pointer_hops),
		cmocka_unit_test(test_rr_bound),
		cmocka_unit_test(test_decompress),
		cmocka_unit_test(test_differential),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
