/*
 * fuzz_encode.c - the one message writer (encode.h) fed random answer
 * descriptors: random owners, types, rdata (mostly well-formed for the
 * type, sometimes not), sections, flags, EDE, for random queries (EDNS or
 * not, any payload size, UDP or TCP).
 *
 * Checked on every input: encode_reply either refuses (TDNS_EINVAL only
 * when some rdata does not fit its type; TDNS_ESPACE never for a limit of
 * at least 512) or writes a message that ldns parses, that fits the limit,
 * echoes the question and the ID, keeps the OPT when the query had one,
 * holds whole RRsets only, and sets TC whenever an answer or authority
 * RRset is missing.
 *
 * Then the packet cache (replycache.h) is given the reply, and asked by
 * the same question with another ID and every letter's case flipped, 0-3
 * seconds later: a replay it gives must be byte for byte the encoding of
 * the descriptor for that query with every TTL that much lower.
 */
#include <stdlib.h>
#include <string.h>

/* stdbool.h first: without it ldns/common.h defines bool as signed char,
 * which no longer matches the bool of the other modules. */
#include <stdbool.h>
#include <ldns/ldns.h>

#include "fuzz.h"
#include "tierdns/answer.h"
#include "tierdns/dnsproto.h"
#include "tierdns/encode.h"
#include "tierdns/qctx.h"
#include "tierdns/replycache.h"

struct in {
	const uint8_t *p;
	size_t n;
};

static uint8_t byte(struct in *in)
{
	uint8_t b = 0;

	if (in->n > 0) {
		b = *in->p++;
		in->n--;
	}
	return b;
}

/* A wire name of up to 4 labels from the input, into out (>= 255 bytes);
 * returns its length. Labels come from a small alphabet, so that names
 * repeat and compress. */
static size_t make_name(struct in *in, uint8_t *out)
{
	static const char *const labels[] = { "a", "b", "www", "Example", "example",
					      "site", "x", "WWW" };
	size_t n = 0, i, count = byte(in) % 5;

	for (i = 0; i < count; i++) {
		const char *l = labels[byte(in) % 8];
		size_t len = strlen(l);

		out[n++] = (uint8_t)len;
		memcpy(out + n, l, len);
		n += len;
	}
	out[n++] = 0;
	return n;
}

static const uint16_t types[] = {
	DNS_TYPE_A, DNS_TYPE_AAAA, DNS_TYPE_NS, DNS_TYPE_CNAME, DNS_TYPE_MX,
	DNS_TYPE_SOA, DNS_TYPE_TXT, DNS_TYPE_PTR, DNS_TYPE_MINFO, 65280,
};

/* The rdata of one record of type, well-formed unless bad; returns its
 * length. */
static size_t make_rdata(struct in *in, uint16_t type, bool bad, uint8_t *out)
{
	size_t n = 0, i, len;

	if (bad) {
		len = byte(in) % 12;
		for (i = 0; i < len; i++)
			out[i] = byte(in);
		return len;
	}
	switch (type) {
	case DNS_TYPE_A:
		len = 4;
		break;
	case DNS_TYPE_AAAA:
		len = 16;
		break;
	case DNS_TYPE_NS:
	case DNS_TYPE_CNAME:
	case DNS_TYPE_PTR:
		return make_name(in, out);
	case DNS_TYPE_MINFO:
		n = make_name(in, out);
		return n + make_name(in, out + n);
	case DNS_TYPE_MX:
		out[0] = 0;
		out[1] = byte(in);
		return 2 + make_name(in, out + 2);
	case DNS_TYPE_SOA:
		n = make_name(in, out);
		n += make_name(in, out + n);
		for (i = 0; i < 20; i++)
			out[n + i] = byte(in);
		return n + 20;
	case DNS_TYPE_TXT:
		len = byte(in) % 64;
		out[0] = (uint8_t)len;
		for (i = 1; i <= len; i++)
			out[i] = byte(in);
		return len + 1;
	default:
		len = byte(in) % 200;
		break;
	}
	for (i = 0; i < len; i++)
		out[i] = byte(in);
	return len;
}

/* The replay of reply[0..len), a's encoding for q (query[0..qlen)), asked
 * age seconds later by the same question in the other case: none, or
 * a's encoding for that query with every TTL age lower. */
static void check_replay(const struct tdns_qctx *q, const struct tdns_answer *a,
			 const uint8_t *query, size_t qlen, const uint8_t *reply, size_t len,
			 unsigned age)
{
	static struct tdns_replycache *rc;
	static struct tdns_answer aged, got;
	static uint8_t flipped[600], want[QCTX_MAX_MSG], out[QCTX_MAX_MSG];
	static uint32_t inputs;
	/* What earlier inputs left is of another policy generation. */
	const struct replycache_origin o = { .since = 1, .token = 1, .policy_gen = ++inputs };
	const uint64_t now = 1000000;
	struct tdns_qctx q2;
	size_t want_len, out_len;

	if (rc == NULL)
		rc = replycache_new(2); /* one bucket: every input replaces */
	FUZZ_CHECK(rc != NULL);
	replycache_put(rc, q, a, &o, now, now + 100000, reply, len);
	memcpy(flipped, query, qlen);
	flipped[0] ^= 0x5a;
	for (size_t i = 12; i < 12 + q->qname_len; i++)
		if ((flipped[i] | 0x20) >= 'a' && (flipped[i] | 0x20) <= 'z')
			flipped[i] ^= 0x20;
	memset(&q2, 0, sizeof(q2));
	q2.transport = q->transport;
	FUZZ_CHECK(qctx_parse(&q2, flipped, qlen) == QCTX_OK);
	answer_reset(&got);
	if (!replycache_find(rc, &q2, o.policy_gen, now + age, &got))
		return;
	out_len = replycache_write(&got, &q2, out, sizeof(out));
	aged = *a;
	for (size_t i = 0; i < aged.n; i++) {
		/* A TTL that runs out sooner is on no record written (an
		 * entry of no records) or the reply is not replayed. */
		if (aged.rrsets[i].ttl < age)
			FUZZ_CHECK(aged.rrsets[i].count == 0);
		else
			aged.rrsets[i].ttl -= age;
	}
	FUZZ_CHECK(got.rcode == a->rcode);
	FUZZ_CHECK(encode_reply(&q2, &aged, want, sizeof(want), &want_len) == TDNS_OK);
	FUZZ_CHECK(out_len == want_len && memcmp(out, want, want_len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[QCTX_MAX_MSG], query[600], rdata[1 << 16],
		owners[ANS_MAX_RRSETS][NAME_WIRE_MAX];
	static struct tdns_answer a;
	struct in in = { data, size };
	struct tdns_qctx q;
	ldns_pkt *p = NULL;
	size_t qlen, n = 0, rlen = 0, i, j, want[ANS_SECTIONS_] = { 0, 0, 0 };
	uint16_t udp;
	bool edns, tcp, any_bad = false;
	enum tdns_status st;

	/* The query. */
	memset(query, 0, 12);
	query[0] = byte(&in);
	query[1] = byte(&in);
	query[2] = (uint8_t)(byte(&in) & DNS_FLAG_RD); /* CD below */
	query[3] = (uint8_t)(byte(&in) & DNS_FLAG_CD);
	query[5] = 1;
	qlen = 12 + make_name(&in, query + 12);
	dns_wr16(query + qlen, types[byte(&in) % 10]);
	dns_wr16(query + qlen + 2, DNS_CLASS_IN);
	qlen += 4;
	edns = byte(&in) & 1;
	udp = (uint16_t)(byte(&in) << 8 | byte(&in));
	tcp = byte(&in) & 1;
	if (edns) {
		query[11] = 1;
		query[qlen] = 0;
		dns_wr16(query + qlen + 1, DNS_TYPE_OPT);
		dns_wr16(query + qlen + 3, udp);
		memset(query + qlen + 5, 0, 6);
		qlen += 11;
	}
	memset(&q, 0, sizeof(q));
	q.transport = tcp ? QCTX_TCP : QCTX_UDP;
	FUZZ_CHECK(qctx_parse(&q, query, qlen) == QCTX_OK);

	/* The descriptor. */
	answer_reset(&a);
	a.rcode = byte(&in) % 24;
	a.aa = byte(&in) & 1;
	a.ra = byte(&in) & 1;
	if (byte(&in) & 1)
		answer_set_ede(&a, byte(&in), "fuzzed");
	for (i = byte(&in) % 12; i > 0 && in.n > 0; i--) {
		uint16_t type = types[byte(&in) % 10], count = byte(&in) % 6;
		uint8_t sec = (uint8_t)(byte(&in) % 3);
		const uint8_t *owner = NULL;
		size_t start = rlen;
		struct tdns_ans_rrset *e;

		if (byte(&in) & 1) {
			make_name(&in, owners[a.n]);
			owner = owners[a.n];
		}
		for (j = 0; j < count && rlen < sizeof(rdata) - 1024; j++) {
			/* Only the types the encoder checks can be caught
			 * with bad rdata; others are copied as stored
			 * (zoneload validated them with ldns). */
			bool bad = type != DNS_TYPE_TXT && type != 65280 &&
				   byte(&in) % 16 == 0;
			size_t len = make_rdata(&in, type, bad, rdata + rlen + 2);

			any_bad |= bad;
			dns_wr16(rdata + rlen, (uint16_t)len);
			rlen += 2 + len;
		}
		e = answer_add(&a, sec, owner, type, DNS_CLASS_IN,
			       (uint32_t)byte(&in) << 8, ANS_REC_PACKED,
			       (uint16_t)j, rdata + start, rlen - start);
		if (e != NULL && (byte(&in) & 3) == 0)
			e->flags |= ANS_F_REQUIRED;
		want[sec] += j;
	}

	st = encode_reply(&q, &a, out, sizeof(out), &n);
	if (st == TDNS_EINVAL) {
		/* Random bytes may still be valid rdata; a refusal needs a
		 * record that was built to be bad. */
		FUZZ_CHECK(any_bad);
		return 0;
	}
	FUZZ_CHECK(st == TDNS_OK);
	FUZZ_CHECK(n <= q.limit);
	FUZZ_CHECK(ldns_wire2pkt(&p, out, n) == LDNS_STATUS_OK);
	FUZZ_CHECK(ldns_pkt_id(p) == dns_rd16(query));
	FUZZ_CHECK(ldns_pkt_qr(p));
	FUZZ_CHECK(memcmp(out + 12, query + 12, q.qname_len + 4) == 0);
	FUZZ_CHECK(ldns_pkt_edns(p) == (edns && a.rcode != DNS_RCODE_FORMERR));
	FUZZ_CHECK(ldns_pkt_ancount(p) <= want[ANS_ANSWER]);
	FUZZ_CHECK(ldns_pkt_nscount(p) <= want[ANS_AUTHORITY]);
	if (ldns_pkt_ancount(p) < want[ANS_ANSWER] ||
	    ldns_pkt_nscount(p) < want[ANS_AUTHORITY])
		FUZZ_CHECK(ldns_pkt_tc(p));
	if (tcp)
		FUZZ_CHECK(ldns_pkt_ancount(p) == want[ANS_ANSWER] &&
			   ldns_pkt_nscount(p) == want[ANS_AUTHORITY]);
	ldns_pkt_free(p);
	check_replay(&q, &a, query, qlen, out, n, byte(&in) & 3);
	return 0;
}
