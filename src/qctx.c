/*
 * qctx.c - parse a query into its context (qctx.h): bounded, no
 * allocation, every length checked before it is used.
 */
#include "tierdns/qctx.h"

#include <string.h>

#include "tierdns/dnsproto.h"

#define RR_FIXED 10 /* type, class, ttl, rdlength after the owner */

size_t qctx_name_len(const uint8_t *p, size_t len)
{
	size_t pos = 0;

	while (pos < len && pos < NAME_WIRE_MAX) {
		uint8_t l = p[pos];

		if (l == 0)
			return pos + 1;
		if (l > LABEL_MAX)
			return 0;
		pos += (size_t)l + 1;
	}
	return 0;
}

/*
 * Skip the possibly compressed owner name at m[*pos]. A pointer must point
 * backwards (RFC 1035 4.1.4: "a prior occurrence"); as a pointer always
 * ends a name, where it leads need not be followed to know where this
 * name ends. *root: the name is the root, a 0 byte (the only form an OPT
 * owner may take, RFC 6891 6.1.2).
 */
static bool skip_name(const uint8_t *m, size_t len, size_t *pos, bool *root)
{
	size_t p = *pos, total = 1;

	*root = false;
	for (;;) {
		uint8_t c;

		if (p >= len)
			return false;
		c = m[p];
		if (c == 0) {
			*root = p == *pos;
			*pos = p + 1;
			return true;
		}
		if ((c & 0xc0) == 0xc0) {
			if (p + 1 >= len ||
			    ((size_t)(c & 0x3f) << 8 | m[p + 1]) >= *pos)
				return false;
			*pos = p + 2;
			return true;
		}
		/* 0x40 and 0x80 label types are not in use (RFC 6891 5). */
		if (c > LABEL_MAX)
			return false;
		total += (size_t)c + 1;
		if (total > NAME_WIRE_MAX)
			return false;
		p += (size_t)c + 1;
	}
}

/* RFC 6891 6.1.2: OPT rdata is a sequence of {code, length, data}. The
 * COOKIE option is kept; RFC 7873 5.2.2: one of a length that cannot be a
 * client cookie with an optional 8-32 byte server cookie is FORMERR (and
 * so, here, is a second one). */
static bool options_ok(struct tdns_qctx *q, const uint8_t *p, size_t len)
{
	size_t pos = 0, olen;

	while (pos < len) {
		if (len - pos < 4 || len - pos - 4 < dns_rd16(p + pos + 2))
			return false;
		olen = dns_rd16(p + pos + 2);
		if (dns_rd16(p + pos) == DNS_OPT_COOKIE) {
			if (q->cookie != NULL || olen < 8 || (olen > 8 && olen < 16) ||
			    olen > 40)
				return false;
			q->cookie = p + pos + 4;
			q->cookie_len = (uint8_t)olen;
		} else if (dns_rd16(p + pos) == DNS_OPT_TCP_KEEPALIVE) {
			q->keepalive = true;
		}
		pos += 4 + olen;
	}
	return true;
}

static enum qctx_verdict parse_opt(struct tdns_qctx *q, const uint8_t *m,
				   size_t at, size_t rdata)
{
	uint16_t rdlen = dns_rd16(m + at + 8);

	if (q->edns)
		return QCTX_FORMERR; /* RFC 6891 6.1.1: at most one */
	q->edns = true;
	q->edns_udp = dns_rd16(m + at + 2);
	q->edns_version = m[at + 5];
	q->edns_do = (dns_rd16(m + at + 6) & DNS_EDNS_DO) != 0;
	q->edns_opts = m + rdata;
	q->edns_opts_len = rdlen;
	return options_ok(q, q->edns_opts, rdlen) ? QCTX_OK : QCTX_FORMERR;
}

/* Inlined into its callers (the pipeline's first step on every query). */
inline __attribute__((always_inline)) enum qctx_verdict
qctx_parse(struct tdns_qctx *q, const uint8_t *m, size_t len)
{
	unsigned an, ns, ar, i;
	size_t pos, n;
	enum qctx_verdict v;

	q->msg = m;
	q->len = len;
	q->has_q = false;
	q->edns = false;
	q->edns_version = 0;
	q->edns_do = false;
	q->edns_udp = 0;
	q->edns_opts = NULL;
	q->edns_opts_len = 0;
	q->cookie = NULL;
	q->cookie_len = 0;
	q->keepalive = false;
	q->tsig = false;
	q->limit = q->transport != QCTX_UDP ? QCTX_MAX_MSG : QCTX_UDP_DEFAULT;
	if (len < DNS_HDR_LEN || (m[2] & DNS_FLAG_QR) != 0)
		return QCTX_DROP;
	q->id = dns_rd16(m);
	q->opcode = (uint8_t)DNS_OPCODE_OF(m[2]);
	q->rd = (m[2] & DNS_FLAG_RD) != 0;
	q->cd = (m[3] & DNS_FLAG_CD) != 0;
	q->ad = (m[3] & DNS_FLAG_AD) != 0;
	/* A NOTIFY (RFC 1996) is parsed as a query is: its handler needs the
	 * question, and its reply echoes it. */
	if (q->opcode != DNS_OPCODE_QUERY && q->opcode != DNS_OPCODE_NOTIFY)
		return QCTX_OPCODE;
	if (dns_rd16(m + 4) != 1)
		return QCTX_FORMERR;
	pos = DNS_HDR_LEN;
	/* The key's checks are the name's: one walk over it. */
	if (name_key_from_wire(m + pos, len - pos, q->qkey, &q->qkey_len) == TDNS_OK) {
		n = q->qkey_len + 1; /* the key is the wire name less its root */
		q->qname = m + pos;
		pos += n;
	} else if (name_wire_read(m, len, pos, 0, q->qname_buf, &n, &pos) &&
		   name_key_from_wire(q->qname_buf, n, q->qkey, &q->qkey_len) ==
			   TDNS_OK) {
		/* RFC 1035 4.1.4 allows a pointer into the header, odd as
		 * it is; upstream replies (msg.c) get no such latitude. */
		q->qname = q->qname_buf;
	} else {
		return QCTX_FORMERR;
	}
	q->qname_len = n;
	if (len - pos < 4)
		return QCTX_FORMERR;
	q->qtype = dns_rd16(m + pos);
	q->qclass = dns_rd16(m + pos + 2);
	pos += 4;
	q->has_q = true;

	/* A QUERY carries its question and nothing in answer or authority
	 * (IXFR excepted, RFC 1995 3); the same rule as NSD's. A NOTIFY may
	 * carry the zone's SOA in answer (RFC 1996 3.7). */
	an = dns_rd16(m + 6);
	ns = dns_rd16(m + 8);
	ar = dns_rd16(m + 10);
	if ((an != 0 && q->opcode != DNS_OPCODE_NOTIFY) ||
	    (ns != 0 && q->qtype != DNS_TYPE_IXFR))
		return QCTX_FORMERR;
	ns += an;
	for (i = 0; i < ns + ar; i++) {
		size_t at;
		bool root;

		if (!skip_name(m, len, &pos, &root) || len - pos < RR_FIXED)
			return QCTX_FORMERR;
		at = pos;
		pos += RR_FIXED;
		if (len - pos < dns_rd16(m + at + 8))
			return QCTX_FORMERR;
		if (dns_rd16(m + at) == DNS_TYPE_TSIG)
			q->tsig = true;
		if (dns_rd16(m + at) == DNS_TYPE_OPT) {
			if (i < ns || !root)
				return QCTX_FORMERR;
			v = parse_opt(q, m, at, pos);
			if (v != QCTX_OK)
				return v;
		}
		pos += dns_rd16(m + at + 8);
	}
	if (q->edns) {
		if (q->edns_version != 0)
			return QCTX_BADVERS;
		/* RFC 6891 6.2.5: below 512 counts as 512; we serve at most
		 * our own advertised size. */
		if (q->transport == QCTX_UDP && q->edns_udp > QCTX_UDP_DEFAULT)
			q->limit = q->edns_udp < QCTX_EDNS_SIZE ? q->edns_udp
								: QCTX_EDNS_SIZE;
	}
	return q->opcode == DNS_OPCODE_QUERY ? QCTX_OK : QCTX_OPCODE;
}
