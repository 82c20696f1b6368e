/*
 * msg.c - parse a whole DNS message into a fixed-size view (msg.h):
 * bounded, no allocation, every length checked before it is used.
 *
 * The rdata field layouts are ldns's (ldns_rr_descript): a table lookup and
 * no allocation, so the parser and the ldns oracle of the tests agree on
 * where the names in rdata are by construction.
 */
#include "tierdns/msg.h"

#include <string.h>

#include <ldns/ldns.h>

#include "tierdns/dnsproto.h"
#include "tierdns/qctx.h"

#define RR_FIXED 10 /* type, class, ttl, rdlength after the owner */
#define Q_FIXED 4   /* qtype, qclass after the question name */

/*
 * The wire length of one non-name rdata field of type t at p, with left
 * bytes of the rdata left (at least 1); 0 when it does not fit. The sizes
 * are those ldns_wire2rdf gives each field type; a type it does not list
 * is refused (stricter than ldns, which would skip it).
 */
static size_t field_len(ldns_rdf_type t, const uint8_t *p, size_t left)
{
	size_t n;

	switch (t) {
	case LDNS_RDF_TYPE_CLASS:
	case LDNS_RDF_TYPE_ALG:
	case LDNS_RDF_TYPE_CERTIFICATE_USAGE:
	case LDNS_RDF_TYPE_SELECTOR:
	case LDNS_RDF_TYPE_MATCHING_TYPE:
	case LDNS_RDF_TYPE_INT8:
		n = 1;
		break;
	case LDNS_RDF_TYPE_TYPE:
	case LDNS_RDF_TYPE_INT16:
	case LDNS_RDF_TYPE_CERT_ALG:
		n = 2;
		break;
	case LDNS_RDF_TYPE_TIME:
	case LDNS_RDF_TYPE_INT32:
	case LDNS_RDF_TYPE_A:
	case LDNS_RDF_TYPE_PERIOD:
		n = 4;
		break;
	case LDNS_RDF_TYPE_TSIGTIME:
	case LDNS_RDF_TYPE_EUI48:
		n = 6;
		break;
	case LDNS_RDF_TYPE_ILNP64:
	case LDNS_RDF_TYPE_EUI64:
		n = 8;
		break;
	case LDNS_RDF_TYPE_AAAA:
		n = 16;
		break;
	case LDNS_RDF_TYPE_STR:
	case LDNS_RDF_TYPE_NSEC3_SALT:
	case LDNS_RDF_TYPE_TAG:
	case LDNS_RDF_TYPE_B32_EXT:
	case LDNS_RDF_TYPE_NSEC3_NEXT_OWNER:
		n = (size_t)p[0] + 1; /* a length octet, then the data */
		break;
	case LDNS_RDF_TYPE_INT16_DATA:
		if (left < 2)
			return 0;
		n = (size_t)dns_rd16(p) + 2;
		break;
	case LDNS_RDF_TYPE_HIP:
		if (left < 4)
			return 0;
		n = (size_t)p[0] + dns_rd16(p + 2) + 4;
		break;
	case LDNS_RDF_TYPE_APL:
	case LDNS_RDF_TYPE_B64:
	case LDNS_RDF_TYPE_HEX:
	case LDNS_RDF_TYPE_NSEC:
	case LDNS_RDF_TYPE_UNKNOWN:
	case LDNS_RDF_TYPE_SERVICE:
	case LDNS_RDF_TYPE_LOC:
	case LDNS_RDF_TYPE_WKS:
	case LDNS_RDF_TYPE_NSAP:
	case LDNS_RDF_TYPE_ATMA:
	case LDNS_RDF_TYPE_IPSECKEY:
	case LDNS_RDF_TYPE_LONG_STR:
	case LDNS_RDF_TYPE_AMTRELAY:
	case LDNS_RDF_TYPE_SVCPARAMS:
	case LDNS_RDF_TYPE_NONE:
		n = left; /* the rest of the rdata */
		break;
	default:
		return 0;
	}
	return n <= left ? n : 0;
}

/*
 * Walk the rdata w[start .. start + rdlen) of a type field by field, in the
 * order and with the bounds of ldns_wire2rdf, which must end exactly at
 * RDLENGTH and hold at least the fields the type requires (ldns's minimum:
 * ldns itself accepts fewer, even none, and an empty A record would be
 * cached and then fail to encode). A type ldns does not know, or knows
 * as one opaque field (OPT, NULL), may be empty (RFC 3597). out (NULL:
 * not written, cap ignored) receives the rdata with its names
 * uncompressed, *plain its length; *compressed says whether a name field
 * used a pointer.
 */
size_t msg_rdata_min_fields(uint16_t type)
{
	const ldns_rr_descriptor *d = ldns_rr_descript(type);

	if (ldns_rr_descriptor_field_type(d, 0) == LDNS_RDF_TYPE_UNKNOWN)
		return 0;
	return ldns_rr_descriptor_minimum(d);
}

static bool rdata_walk(const uint8_t *w, size_t len, uint16_t type,
		       size_t start, size_t rdlen, uint8_t *out, size_t cap,
		       size_t *plain, bool *compressed)
{
	const ldns_rr_descriptor *d = ldns_rr_descript(type);
	size_t p = start, end = start + rdlen, o = 0, fields = 0, max, min;
	/* ldns counts fields in a uint8_t; the same wrap keeps the same
	 * field types for rdata of more than 255 fields. */
	uint8_t idx = 0;

	*compressed = false;
	min = msg_rdata_min_fields(type);
	max = ldns_rr_descriptor_maximum(d);
	while (p < end && idx < max) {
		ldns_rdf_type t = ldns_rr_descriptor_field_type(d, idx);
		size_t n, next;

		if (t == LDNS_RDF_TYPE_DNAME) {
			uint8_t tmp[NAME_WIRE_MAX];

			if (!name_wire_read(w, len, p, DNS_HDR_LEN,
					    out != NULL ? tmp : NULL, &n, &next) ||
			    next > end)
				return false;
			if (next - p != n)
				*compressed = true;
			if (out != NULL) {
				if (cap - o < n)
					return false;
				memcpy(out + o, tmp, n);
			}
			p = next;
		} else {
			n = field_len(t, w + p, end - p);
			if (n == 0)
				return false;
			if (out != NULL) {
				if (cap - o < n)
					return false;
				memcpy(out + o, w + p, n);
			}
			p += n;
		}
		o += n;
		idx = (uint8_t)(idx + 1);
		fields++;
	}
	if (p != end || fields < min)
		return false;
	*plain = o;
	return true;
}

/* The rdata of rr holds together (see msg.h); sets its flags. */
static bool rdata_check(const uint8_t *w, size_t len, struct tdns_msg_rr *rr)
{
	size_t plain;
	bool compressed;

	/* The two commonest types without a descriptor walk: one fixed
	 * field. */
	if (rr->type == DNS_TYPE_A)
		return rr->rdlen == 4;
	if (rr->type == DNS_TYPE_AAAA)
		return rr->rdlen == 16;
	if (!rdata_walk(w, len, rr->type, rr->rdata, rr->rdlen, NULL, 0, &plain,
			&compressed))
		return false;
	if (compressed)
		rr->flags |= MSG_RR_COMPRESSED;
	return true;
}

enum msg_verdict msg_parse(struct tdns_msg *m, const uint8_t *w, size_t len)
{
	size_t pos = DNS_HDR_LEN, plain, next, total, ar_start;
	unsigned i;

	m->wire = w;
	m->len = len;
	if (len < DNS_HDR_LEN)
		return MSG_SHORT;
	if (len > MSG_MAX_LEN)
		return MSG_MALFORMED;
	m->qdcount = dns_rd16(w + 4);
	m->ancount = dns_rd16(w + 6);
	m->nscount = dns_rd16(w + 8);
	m->arcount = dns_rd16(w + 10);
	total = (size_t)m->ancount + m->nscount + m->arcount;
	if (total > MSG_RR_MAX)
		return MSG_TOO_MANY;
	m->id = dns_rd16(w);
	m->qr = (w[2] & DNS_FLAG_QR) != 0;
	m->opcode = (uint8_t)DNS_OPCODE_OF(w[2]);
	m->aa = (w[2] & DNS_FLAG_AA) != 0;
	m->tc = (w[2] & DNS_FLAG_TC) != 0;
	m->rd = (w[2] & DNS_FLAG_RD) != 0;
	m->ra = (w[3] & DNS_FLAG_RA) != 0;
	m->ad = (w[3] & DNS_FLAG_AD) != 0;
	m->cd = (w[3] & DNS_FLAG_CD) != 0;
	m->rcode = w[3] & 0x0f;
	m->qname = 0;
	m->qname_len = 0;
	m->qtype = 0;
	m->qclass = 0;
	m->edns = false;
	m->edns_ext_rcode = 0;
	m->edns_version = 0;
	m->edns_udp = 0;
	m->edns_flags = 0;
	m->edns_opts = 0;
	m->edns_opts_len = 0;

	for (i = 0; i < m->qdcount; i++) {
		if (!name_wire_read(w, len, pos, DNS_HDR_LEN, NULL, &plain, &next) ||
		    len - next < Q_FIXED)
			return MSG_MALFORMED;
		if (i == 0) {
			m->qname = (uint16_t)pos;
			m->qname_len = (uint8_t)plain;
			m->qtype = dns_rd16(w + next);
			m->qclass = dns_rd16(w + next + 2);
		}
		pos = next + Q_FIXED;
	}

	ar_start = msg_ar_start(m);
	for (i = 0; i < total; i++) {
		struct tdns_msg_rr *rr = &m->rr[i];

		if (!name_wire_read(w, len, pos, DNS_HDR_LEN, NULL, &plain, &next) ||
		    len - next < RR_FIXED)
			return MSG_MALFORMED;
		rr->owner = (uint16_t)pos;
		rr->owner_len = (uint8_t)plain;
		rr->type = dns_rd16(w + next);
		rr->rclass = dns_rd16(w + next + 2);
		rr->ttl = dns_rd32(w + next + 4);
		rr->rdlen = dns_rd16(w + next + 8);
		rr->flags = 0;
		pos = next + RR_FIXED;
		if (len - pos < rr->rdlen)
			return MSG_MALFORMED;
		rr->rdata = (uint16_t)pos;
		if (!rdata_check(w, len, rr))
			return MSG_MALFORMED;
		pos += rr->rdlen;
		if (rr->type == DNS_TYPE_OPT && i >= ar_start) {
			/* RFC 6891 6.1.1: at most one. */
			if (m->edns)
				return MSG_MALFORMED;
			m->edns = true;
			m->edns_udp = rr->rclass;
			m->edns_ext_rcode = (uint8_t)(rr->ttl >> 24);
			m->edns_version = (uint8_t)(rr->ttl >> 16);
			m->edns_flags = (uint16_t)rr->ttl;
			m->edns_opts = rr->rdata;
			m->edns_opts_len = rr->rdlen;
		}
	}
	return MSG_OK;
}

size_t msg_name(const struct tdns_msg *m, size_t off, uint8_t *out)
{
	size_t plain, end;

	return name_wire_read(m->wire, m->len, off, DNS_HDR_LEN, out, &plain,
			      &end) ? plain : 0;
}

size_t msg_name_skip(const struct tdns_msg *m, size_t off)
{
	size_t plain, end;

	return name_wire_read(m->wire, m->len, off, DNS_HDR_LEN, NULL, &plain,
			      &end) ? end : 0;
}

bool msg_name_eq(const struct tdns_msg *m, size_t off, const uint8_t *name,
		 size_t len)
{
	const uint8_t *w = m->wire;
	size_t p = off, o = 0;
	unsigned hops = 0;
	/* Whole compares need name to end where len does: a shorter or
	 * longer buffer is compared label by label (and is not equal). */
	bool whole = len > 0 && qctx_name_len(name, len) == len, jumped = true;

	for (;;) {
		size_t c;

		if (p >= m->len)
			return false;
		c = w[p];
		if ((c & 0xc0) == 0xc0) {
			size_t target;

			if (p + 1 >= m->len)
				return false;
			target = (c & 0x3f) << 8 | w[p + 1];
			if (target >= p || target < DNS_HDR_LEN ||
			    ++hops > MSG_MAX_POINTERS)
				return false;
			p = target;
			jumped = true;
			continue;
		}
		/* Where a name or a pointer's target starts, the rest of name
		 * in one compare: a length byte (at most 63) is only equal,
		 * case ignored, to itself, so a match of a whole name is that
		 * very name, uncompressed. Otherwise a pointer may follow: by
		 * labels. */
		if (whole && jumped && m->len - p >= len - o &&
		    dns_caseeq(w + p, name + o, len - o))
			return true;
		jumped = false;
		if (c > LABEL_MAX || m->len - p < c + 1 || len - o < c + 1 ||
		    name[o] != c || !dns_caseeq(w + p + 1, name + o + 1, c))
			return false;
		o += c + 1;
		p += c + 1;
		if (c == 0)
			return o == len;
	}
}

bool msg_rdata(const struct tdns_msg *m, const struct tdns_msg_rr *rr,
	       uint8_t *out, size_t cap, size_t *len)
{
	bool compressed;

	if ((rr->flags & MSG_RR_COMPRESSED) == 0) {
		*len = rr->rdlen;
		if (out == NULL)
			return true;
		if (cap < rr->rdlen)
			return false;
		memcpy(out, m->wire + rr->rdata, rr->rdlen);
		return true;
	}
	return rdata_walk(m->wire, m->len, rr->type, rr->rdata, rr->rdlen, out,
			  cap, len, &compressed);
}
