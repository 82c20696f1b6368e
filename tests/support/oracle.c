/*
 * oracle.c - the ldns path of oracle.h (tests only).
 */
#include "oracle.h"

#include "tierdns/dnsproto.h"

#include <string.h>

#define WIRE_OPCODE_QUERY 0
#define WIRE_RCODE_BADVERS 16 /* RFC 6891 9: extended rcode 1, header rcode 0 */
#define WIRE_TYPE_OPT 41
#define WIRE_TYPE_IXFR 251
#define WIRE_RR_FIXED 10 /* type, class, ttl, rdlength after the owner */

static uint8_t hdr_opcode(const uint8_t *m)
{
	return (uint8_t)((m[2] >> 3) & 0x0f);
}

/*
 * Skip one possibly compressed name at m[*pos]. Bounded by len and by the
 * 255-byte name limit (RFC 1035 3.1); compression pointers must point
 * backwards (RFC 1035 4.1.4: "a prior occurrence"), which is all we need to
 * know of them here because ldns follows them later. *root is set when the
 * name is the root name, written either as a 0 byte or as a pointer to one.
 */
static bool skip_name(const uint8_t *m, size_t len, size_t *pos, bool *root)
{
	size_t p = *pos;
	size_t total = 1;
	bool first = true;

	for (;;) {
		uint8_t c;

		if (p >= len)
			return false;
		c = m[p];
		if (c == 0) {
			*pos = p + 1;
			*root = first;
			return true;
		}
		if ((c & 0xc0) == 0xc0) {
			size_t target;

			if (p + 1 >= len)
				return false;
			target = (size_t)(c & 0x3f) << 8 | m[p + 1];
			if (target >= p)
				return false;
			*pos = p + 2;
			*root = first && m[target] == 0;
			return true;
		}
		/* 0x40 and 0x80 label types are not in use (RFC 6891 5). */
		if ((c & 0xc0) != 0)
			return false;
		total += (size_t)c + 1;
		if (total > NAME_WIRE_MAX)
			return false;
		p += (size_t)c + 1;
		first = false;
	}
}

/* What ldns_wire2pkt folds away and RFC 6891 6.1.1 needs to see. */
struct wire_scan {
	unsigned opts;      /* OPT records in the additional section */
	bool opt_nonroot;   /* one of them had an owner other than the root */
};

/* Walk the whole message structure; false if it does not hold together. */
static bool scan_message(const uint8_t *m, size_t len, struct wire_scan *s)
{
	size_t pos = WIRE_HDR_LEN;
	unsigned qd = dns_rd16(m + 4);
	unsigned rrs = (unsigned)dns_rd16(m + 6) + dns_rd16(m + 8) + dns_rd16(m + 10);
	unsigned first_ar = (unsigned)dns_rd16(m + 6) + dns_rd16(m + 8);
	unsigned i;
	bool root;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < qd; i++) {
		if (!skip_name(m, len, &pos, &root) || len - pos < 4)
			return false;
		pos += 4;
	}
	for (i = 0; i < rrs; i++) {
		uint16_t type, rdlen;

		if (!skip_name(m, len, &pos, &root) || len - pos < WIRE_RR_FIXED)
			return false;
		type = dns_rd16(m + pos);
		rdlen = dns_rd16(m + pos + 8);
		pos += WIRE_RR_FIXED;
		if (len - pos < rdlen)
			return false;
		pos += rdlen;
		if (i >= first_ar && type == WIRE_TYPE_OPT) {
			s->opts++;
			if (!root)
				s->opt_nonroot = true;
		}
	}
	return true;
}

/*
 * Length of the uncompressed question at m[12..) (name, type, class), 0 if
 * there is none that can be copied verbatim.
 */
static size_t question_len(const uint8_t *m, size_t len)
{
	size_t pos = WIRE_HDR_LEN;

	for (;;) {
		uint8_t c;

		if (pos >= len || pos - WIRE_HDR_LEN >= NAME_WIRE_MAX)
			return 0;
		c = m[pos];
		if (c == 0)
			break;
		if ((c & 0xc0) != 0)
			return 0;
		pos += (size_t)c + 1;
	}
	pos++;
	if (pos - WIRE_HDR_LEN > NAME_WIRE_MAX || len - pos < 4)
		return 0;
	return pos + 4 - WIRE_HDR_LEN;
}

size_t wire_error_reply(const uint8_t *in, size_t len, uint8_t rcode,
			uint8_t *out, size_t cap)
{
	size_t qlen = 0;

	if (len < WIRE_HDR_LEN || cap < WIRE_HDR_LEN)
		return 0;
	if (dns_rd16(in + 4) == 1)
		qlen = question_len(in, len);
	if (WIRE_HDR_LEN + qlen > cap)
		qlen = 0;
	out[0] = in[0];
	out[1] = in[1];
	/* QR set; opcode and RD copied; AA, TC clear (RFC 1035 4.1.1). */
	out[2] = (uint8_t)(0x80 | (in[2] & 0x78) | (in[2] & 0x01));
	out[3] = (uint8_t)(rcode & 0x0f);
	memset(out + 4, 0, 8);
	if (qlen > 0) {
		out[5] = 1;
		memcpy(out + WIRE_HDR_LEN, in + WIRE_HDR_LEN, qlen);
	}
	return WIRE_HDR_LEN + qlen;
}

ldns_pkt *wire_reply_new(const struct tdns_query *q, ldns_pkt_rcode rcode)
{
	ldns_pkt *r = NULL;
	ldns_rr *qrr = NULL;
	const ldns_rr *orig;

	r = ldns_pkt_new();
	if (r == NULL)
		goto out;
	ldns_pkt_set_id(r, q->id);
	ldns_pkt_set_qr(r, true);
	ldns_pkt_set_opcode(r, LDNS_PACKET_QUERY);
	ldns_pkt_set_rd(r, q->rd);
	ldns_pkt_set_cd(r, q->cd);
	ldns_pkt_set_rcode(r, (uint8_t)rcode);

	orig = ldns_rr_list_rr(ldns_pkt_question(q->pkt), 0);
	if (orig != NULL) {
		qrr = ldns_rr_clone(orig);
		if (qrr == NULL)
			goto fail;
		ldns_rr_set_question(qrr, true);
		if (!ldns_pkt_push_rr(r, LDNS_SECTION_QUESTION, qrr))
			goto fail;
		qrr = NULL;
	}
	/* RFC 6891 7: a responder that understood the OPT answers with one,
	 * advertising its own payload size; options are never echoed. */
	if (q->edns) {
		ldns_pkt_set_edns_udp_size(r, WIRE_EDNS_OUR_SIZE);
		ldns_pkt_set_edns_version(r, 0);
		ldns_pkt_set_edns_z(r, 0);
		/* RFC 3225 3: DO is copied into the response. */
		ldns_pkt_set_edns_do(r, q->edns_do);
	}
	goto out;
fail:
	ldns_pkt_free(r);
	r = NULL;
out:
	ldns_rr_free(qrr);
	return r;
}

static void query_from_pkt(struct tdns_query *q, ldns_pkt *pkt,
			   const ldns_rr *qrr, const struct wire_scan *s)
{
	q->pkt = pkt;
	q->id = ldns_pkt_id(pkt);
	q->qname = ldns_rr_owner(qrr);
	q->qtype = (uint16_t)ldns_rr_get_type(qrr);
	q->qclass = (uint16_t)ldns_rr_get_class(qrr);
	q->rd = ldns_pkt_rd(pkt);
	q->cd = ldns_pkt_cd(pkt);
	q->edns = s->opts == 1;
	q->edns_udp = q->edns ? ldns_pkt_edns_udp_size(pkt) : 0;
	q->edns_version = q->edns ? ldns_pkt_edns_version(pkt) : 0;
	q->edns_do = q->edns && ldns_pkt_edns_do(pkt);
	/* RFC 6891 6.2.5: values below 512 are treated as 512. */
	q->max_udp = WIRE_UDP_DEFAULT;
	if (q->edns && q->edns_udp > WIRE_UDP_DEFAULT)
		q->max_udp = q->edns_udp < WIRE_EDNS_OUR_SIZE ? q->edns_udp
							      : WIRE_EDNS_OUR_SIZE;
}

/* RFC 6891 6.1.3: BADVERS with an OPT carrying the version we speak (0). */
static size_t render_badvers(const struct tdns_query *q, uint8_t *out)
{
	ldns_pkt *r = NULL;
	size_t n = 0;

	r = wire_reply_new(q, LDNS_RCODE_NOERROR);
	if (r == NULL)
		goto out;
	ldns_pkt_set_edns_extended_rcode(r, WIRE_RCODE_BADVERS >> 4);
	ldns_pkt_set_rcode(r, WIRE_RCODE_BADVERS & 0x0f);
	if (wire_reply_render(r, q, false, out, WIRE_MAX_MSG, &n) != TDNS_OK)
		n = 0;
out:
	ldns_pkt_free(r);
	return n;
}

enum wire_verdict wire_parse_query(const uint8_t *in, size_t len,
				   struct tdns_query *q, uint8_t *out,
				   size_t *out_len)
{
	ldns_pkt *pkt = NULL;
	const ldns_rr *qrr;
	struct wire_scan scan;
	struct tdns_query tmp;
	enum wire_verdict v = WIRE_ERROR;
	uint8_t rcode = LDNS_RCODE_FORMERR;
	size_t n;

	/* RFC 1035 4.1.1: not a query we could even address a reply to, or a
	 * response (answering those invites reflection loops). */
	if (len < WIRE_HDR_LEN || (in[2] & 0x80) != 0)
		return WIRE_DROP;
	if (hdr_opcode(in) != WIRE_OPCODE_QUERY) {
		rcode = LDNS_RCODE_NOTIMPL;
		goto error;
	}
	if (dns_rd16(in + 4) != 1)
		goto error;
	/* RFC 6891 6.1.1: more than one OPT, or one not owned by the root,
	 * is a format error. */
	if (!scan_message(in, len, &scan) || scan.opts > 1 || scan.opt_nonroot)
		goto error;
	if (ldns_wire2pkt(&pkt, in, len) != LDNS_STATUS_OK)
		goto error;
	qrr = ldns_rr_list_rr(ldns_pkt_question(pkt), 0);
	if (qrr == NULL || ldns_rr_owner(qrr) == NULL)
		goto error;
	memset(&tmp, 0, sizeof(tmp));
	query_from_pkt(&tmp, pkt, qrr, &scan);
	/* A QUERY carries its question and nothing in answer/authority
	 * (IXFR excepted, RFC 1995 3); same rule as NSD. */
	if (dns_rd16(in + 6) != 0 ||
	    (dns_rd16(in + 8) != 0 && tmp.qtype != WIRE_TYPE_IXFR))
		goto error;
	if (name_key_from_wire(ldns_rdf_data(tmp.qname),
			       ldns_rdf_size(tmp.qname), tmp.qkey,
			       &tmp.qkey_len) != TDNS_OK)
		goto error;
	if (tmp.edns && tmp.edns_version > 0) {
		n = render_badvers(&tmp, out);
		if (n == 0) {
			rcode = LDNS_RCODE_SERVFAIL;
			goto error;
		}
		*out_len = n;
		goto out;
	}
	*q = tmp;
	pkt = NULL;
	v = WIRE_OK;
	goto out;
error:
	*out_len = wire_error_reply(in, len, rcode, out, WIRE_MAX_MSG);
out:
	ldns_pkt_free(pkt);
	return v;
}

void wire_query_clear(struct tdns_query *q)
{
	if (q == NULL)
		return;
	ldns_pkt_free(q->pkt);
	memset(q, 0, sizeof(*q));
}

/*
 * RFC 9471 3: glue for in-domain name servers of a referral is required;
 * if it does not fit, TC must be set. Other additional data is optional and
 * may be left out silently (RFC 2181 9).
 */
static bool is_required_glue(const ldns_pkt *reply, const ldns_rr *rr)
{
	const ldns_rr_list *auth = ldns_pkt_authority(reply);
	size_t i;

	if (ldns_pkt_ancount(reply) != 0)
		return false;
	if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_A &&
	    ldns_rr_get_type(rr) != LDNS_RR_TYPE_AAAA)
		return false;
	for (i = 0; i < ldns_rr_list_rr_count(auth); i++) {
		const ldns_rr *ns = ldns_rr_list_rr(auth, i);
		const ldns_rdf *target;

		if (ldns_rr_get_type(ns) != LDNS_RR_TYPE_NS)
			continue;
		target = ldns_rr_rdf(ns, 0);
		if (target == NULL ||
		    ldns_dname_compare(target, ldns_rr_owner(rr)) != 0)
			continue;
		if (ldns_dname_is_subdomain(target, ldns_rr_owner(ns)))
			return true;
	}
	return false;
}

static bool same_rrset(const ldns_rr *a, const ldns_rr *b)
{
	return ldns_rr_get_type(a) == ldns_rr_get_type(b) &&
	       ldns_rr_get_class(a) == ldns_rr_get_class(b) &&
	       ldns_dname_compare(ldns_rr_owner(a), ldns_rr_owner(b)) == 0;
}

/*
 * Remove the last whole RRset of the reply, looking at additional, then
 * authority, then answer (RFC 2181 9: never part of an RRset). Sets TC
 * when what went was required. false when there is nothing left to drop.
 */
static bool drop_last_rrset(ldns_pkt *reply)
{
	static const ldns_pkt_section order[] = {
		LDNS_SECTION_ADDITIONAL, LDNS_SECTION_AUTHORITY,
		LDNS_SECTION_ANSWER,
	};
	size_t i;

	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		ldns_rr_list *live;
		ldns_rr *last;
		size_t count;
		bool tc;

		switch (order[i]) {
		case LDNS_SECTION_ADDITIONAL:
			live = ldns_pkt_additional(reply);
			break;
		case LDNS_SECTION_AUTHORITY:
			live = ldns_pkt_authority(reply);
			break;
		default:
			live = ldns_pkt_answer(reply);
			break;
		}
		count = ldns_rr_list_rr_count(live);
		if (count == 0)
			continue;
		last = ldns_rr_list_rr(live, count - 1);
		tc = order[i] != LDNS_SECTION_ADDITIONAL ||
		     is_required_glue(reply, last);
		while (count > 0 &&
		       same_rrset(ldns_rr_list_rr(live, count - 1), last)) {
			ldns_rr *rr = ldns_rr_list_pop_rr(live);

			count--;
			if (rr != last)
				ldns_rr_free(rr);
		}
		ldns_rr_free(last);
		ldns_pkt_set_section_count(reply, order[i], (uint16_t)count);
		if (tc)
			ldns_pkt_set_tc(reply, true);
		return true;
	}
	return false;
}

enum tdns_status wire_reply_render(ldns_pkt *reply, const struct tdns_query *q,
				   bool tcp, uint8_t *out, size_t cap,
				   size_t *out_len)
{
	ldns_buffer *buf = NULL;
	enum tdns_status st = TDNS_OK;
	size_t limit = WIRE_MAX_MSG;
	size_t n;

	if (!tcp)
		limit = q != NULL ? q->max_udp : WIRE_UDP_DEFAULT;
	if (limit > cap)
		limit = cap;
	buf = ldns_buffer_new(LDNS_MAX_PACKETLEN);
	if (buf == NULL) {
		st = TDNS_ENOMEM;
		goto out;
	}
	for (;;) {
		ldns_buffer_clear(buf);
		if (ldns_pkt2buffer_wire(buf, reply) != LDNS_STATUS_OK ||
		    !ldns_buffer_status_ok(buf)) {
			st = TDNS_ENOMEM;
			goto out;
		}
		n = ldns_buffer_position(buf);
		if (n <= limit)
			break;
		if (!drop_last_rrset(reply)) {
			st = TDNS_ESPACE;
			goto out;
		}
	}
	memcpy(out, ldns_buffer_begin(buf), n);
	*out_len = n;
out:
	ldns_buffer_free(buf);
	return st;
}

enum tdns_status cache_lookup(struct tdns_txn *t, const uint8_t *qkey,
			      size_t qkey_len, uint16_t qtype, uint64_t now,
			      ldns_pkt *reply)
{
	struct tdns_cache_value v;
	enum tdns_status st;

	st = cache_get(t, qkey, qkey_len, qtype, now, 0, &v);
	if (st == TDNS_OK)
		st = cache_value_render(v.data, v.len, now, reply);
	cache_value_clear(&v);
	return st;
}

enum tdns_status cache_insert(struct tdns_store *s,
			      const struct tdns_cache_cfg *cfg,
			      const uint8_t *qname, size_t qname_len,
			      uint16_t qtype, const struct tdns_msg *resp,
			      uint64_t now)
{
	struct tdns_cache_value v = { 0 };
	uint8_t qkey[NAME_KEY_MAX];
	size_t qkey_len;
	enum tdns_status st;

	st = name_key_from_wire(qname, qname_len, qkey, &qkey_len);
	if (st != TDNS_OK)
		goto out;
	st = cache_value_build(cfg, qname, qname_len, qtype, resp, now, &v);
	if (st != TDNS_OK)
		goto out;
	if (!v.cacheable) {
		st = TDNS_ENOTFOUND;
		goto out;
	}
	st = cache_store(s, cfg, qkey, qkey_len, qtype, &v, now);
out:
	cache_value_clear(&v);
	return st;
}
