/*
 * encode.c - the one DNS message writer (encode.h).
 *
 * Compression keeps the offsets of the names written so far (every label
 * start, below the 14-bit pointer limit) and, for each suffix of a new
 * name, looks for an earlier occurrence by comparing label by label through
 * the pointers already in the message. Answers are small (a few RRsets),
 * so a linear table beats hashing there; a message that has remembered
 * ENC_HASH_FROM offsets (a zone transfer's: up to a thousand owners) also
 * indexes them by a hash of the name from that label on, so each suffix of
 * a new name costs one probe instead of a scan.
 */
#include "tierdns/encode.h"

#include <string.h>

#include "tierdns/dnsproto.h"

#define ENC_MAX_NAMES 1024     /* label offsets remembered for compression */
#define ENC_HASH_FROM 32       /* remembered offsets from which they are hashed */
#define ENC_HASH_SLOTS 2048    /* the index: a power of two, twice the names */
#define ENC_MAX_LABELS 128     /* labels of a name (255 octets) */
#define ENC_PTR_LIMIT 0x4000   /* offsets a pointer can reach (14 bits) */
#define OPT_FIXED 11           /* root owner, type, class, ttl, rdlength */
#define EDE_HDR 6              /* option code, length, INFO-CODE */
#define SOA_FIXED 20           /* serial refresh retry expire minimum */
#define RR_FIXED 12            /* owner pointer, type, class, ttl, rdlength */

struct enc {
	uint8_t *out;
	size_t limit; /* bytes the sections may use (the OPT is reserved) */
	size_t len;
	unsigned n_names;
	bool q_pending; /* the question's labels are not in names[] yet */
	bool hashed;    /* the index below is in use */
	/* The arrays last, so that the fields above share a cache line. */
	uint16_t names[ENC_MAX_NAMES];
	/* From ENC_HASH_FROM names on: names[] again, by the hash of the
	 * name at each offset (open addressing; offset 0, the header, is
	 * an empty slot). Not initialised until then. */
	uint32_t hkey[ENC_HASH_SLOTS];
	uint16_t hoff[ENC_HASH_SLOTS];
};

static bool put(struct enc *e, const void *p, size_t n)
{
	if (e->limit - e->len < n)
		return false;
	memcpy(e->out + e->len, p, n);
	e->len += n;
	return true;
}

static bool put16(struct enc *e, uint16_t v)
{
	uint8_t b[2];

	dns_wr16(b, v);
	return put(e, b, 2);
}

/* Does the name at out[off] (possibly compressed; it was written by us, so
 * its pointers lead backwards and end) equal the uncompressed name, ASCII
 * case ignored (RFC 4343)? */
static bool name_at(const struct enc *e, size_t off, const uint8_t *name)
{
	const uint8_t *o = e->out;

	for (;;) {
		while ((o[off] & 0xc0) == 0xc0)
			off = (size_t)(o[off] & 0x3f) << 8 | o[off + 1];
		if (o[off] != name[0])
			return false;
		if (name[0] == 0)
			return true;
		if (!dns_caseeq(o + off + 1, name + 1, name[0]))
			return false;
		off += (size_t)name[0] + 1;
		name += (size_t)name[0] + 1;
	}
}

/* The hash of an uncompressed name from its label at name on, given the
 * hash of the rest (after this label): FNV-1a over the label, case
 * folded, chained from the root so each suffix has its own. */
static uint32_t label_hash(const uint8_t *label, uint32_t rest)
{
	uint32_t h = rest;

	for (size_t i = 0; i <= label[0]; i++)
		h = (h ^ dns_lower(label[i])) * 16777619u;
	return h;
}

/* Hashes of each suffix of the uncompressed name (h[j]: from its label j
 * on) and where each label starts; the number of labels. */
static unsigned suffix_hashes(const uint8_t *name, uint32_t *h, uint16_t *start)
{
	unsigned k = 0;
	uint32_t rest = 2166136261u;

	for (size_t p = 0; name[p] != 0 && k < ENC_MAX_LABELS; p += (size_t)name[p] + 1)
		start[k++] = (uint16_t)p;
	for (unsigned j = k; j-- > 0;) {
		rest = label_hash(name + start[j], rest);
		h[j] = rest;
	}
	return k;
}

/* The hash of the name written at out[off] (through its pointers). */
static uint32_t hash_at(const struct enc *e, size_t off)
{
	uint8_t name[NAME_WIRE_MAX];
	uint32_t h[ENC_MAX_LABELS];
	uint16_t start[ENC_MAX_LABELS];
	const uint8_t *o = e->out;
	size_t n = 0;

	for (;;) {
		while ((o[off] & 0xc0) == 0xc0)
			off = (size_t)(o[off] & 0x3f) << 8 | o[off + 1];
		memcpy(name + n, o + off, (size_t)o[off] + 1);
		n += (size_t)o[off] + 1;
		if (o[off] == 0)
			break;
		off += (size_t)o[off] + 1;
	}
	return suffix_hashes(name, h, start) > 0 ? h[0] : 2166136261u;
}

static void hash_put(struct enc *e, uint32_t h, uint16_t off)
{
	size_t i = h & (ENC_HASH_SLOTS - 1);

	while (e->hoff[i] != 0)
		i = (i + 1) & (ENC_HASH_SLOTS - 1);
	e->hkey[i] = h;
	e->hoff[i] = off;
}

/* Index every remembered offset (names[] holds fewer than the slots). */
static void hash_build(struct enc *e)
{
	memset(e->hoff, 0, sizeof(e->hoff));
	for (unsigned i = 0; i < e->n_names; i++)
		hash_put(e, hash_at(e, e->names[i]), e->names[i]);
	e->hashed = true;
}

/* An earlier occurrence of the uncompressed name whose hash is h, or 0. */
static uint16_t hash_find(const struct enc *e, uint32_t h, const uint8_t *name)
{
	for (size_t i = h & (ENC_HASH_SLOTS - 1); e->hoff[i] != 0;
	     i = (i + 1) & (ENC_HASH_SLOTS - 1))
		if (e->hkey[i] == h && name_at(e, e->hoff[i], name))
			return e->hoff[i];
	return 0;
}

/* Remember the label at out[off], written whole, as a pointer target; h
 * (NULL: not known) is the hash of the name from there on, for the index
 * when it is in use. */
static void remember(struct enc *e, size_t off, const uint32_t *h)
{
	if (off >= ENC_PTR_LIMIT || e->n_names >= ENC_MAX_NAMES)
		return;
	e->names[e->n_names++] = (uint16_t)off;
	if (e->hashed)
		hash_put(e, h != NULL ? *h : hash_at(e, off), (uint16_t)off);
	else if (e->n_names == ENC_HASH_FROM)
		hash_build(e);
}

/* Write an uncompressed, validated wire name: the longest suffix already
 * in the message becomes a pointer (RFC 1035 4.1.4). Its own labels become
 * pointer targets only once the whole name is written: until then a later
 * suffix of the same name would match bytes not yet written. */
static bool put_name(struct enc *e, const uint8_t *name)
{
	uint16_t fresh[ENC_MAX_LABELS], start[ENC_MAX_LABELS];
	uint32_t h[ENC_MAX_LABELS], fresh_h[ENC_MAX_LABELS];
	unsigned i, j = 0, n_fresh = 0;
	bool hashed = e->hashed, ok = true;
	uint16_t at;

	/* The question's labels are the first targets (RFC 1035 4.1.4),
	 * taken only when a name is written: an answer whose owners all
	 * point at the question never needs them. */
	if (e->q_pending) {
		e->q_pending = false;
		for (i = DNS_HDR_LEN; e->out[i] != 0; i += (unsigned)e->out[i] + 1)
			remember(e, i, NULL);
	}
	if (hashed)
		suffix_hashes(name, h, start);

	/* j counts the labels written, the suffix now looked up being j's. */
	for (; name[0] != 0; j++) {
		if (hashed) {
			at = hash_find(e, h[j], name);
		} else {
			for (i = 0; i < e->n_names && !name_at(e, e->names[i], name); i++)
				;
			at = i < e->n_names ? e->names[i] : 0;
		}
		if (at != 0) {
			ok = put16(e, (uint16_t)(0xc000 | at));
			goto out;
		}
		if (e->len < ENC_PTR_LIMIT) {
			if (hashed)
				fresh_h[n_fresh] = h[j];
			fresh[n_fresh++] = (uint16_t)e->len;
		}
		if (!put(e, name, (size_t)name[0] + 1))
			return false;
		name += (size_t)name[0] + 1;
	}
	ok = put(e, name, 1);
out:
	for (i = 0; ok && i < n_fresh; i++)
		remember(e, fresh[i], hashed ? &fresh_h[i] : NULL);
	return ok;
}

/* Forget the names at or after offset mark (an RRset rolled back). */
static void forget_from(struct enc *e, size_t mark)
{
	unsigned before = e->n_names;

	while (e->n_names > 0 && e->names[e->n_names - 1] >= mark)
		e->n_names--;
	if (e->hashed && e->n_names != before) {
		if (e->n_names >= ENC_HASH_FROM)
			hash_build(e);
		else
			e->hashed = false;
	}
}

enum rd_result {
	RD_OK = 0,
	RD_NOSPACE,
	RD_BAD, /* the stored rdata does not hold together */
};

/* A name field of rdata at rd[*pos], compressed; *pos moves past it. */
static enum rd_result rd_name(struct enc *e, const uint8_t *rd, size_t rdlen,
			      size_t *pos)
{
	size_t n = qctx_name_len(rd + *pos, rdlen - *pos);

	if (n == 0)
		return RD_BAD;
	if (!put_name(e, rd + *pos))
		return RD_NOSPACE;
	*pos += n;
	return RD_OK;
}

/*
 * The rdata of one record. For the RFC 3597 4 types the names are written
 * compressed; every other type is copied as stored. A and AAAA are checked
 * for their fixed size.
 */
static enum rd_result put_rdata(struct enc *e, uint16_t type, const uint8_t *rd,
				size_t rdlen)
{
	size_t pos = 0, names = 0, fixed_before = 0, fixed_after = 0;
	enum rd_result r;

	switch (type) {
	case DNS_TYPE_A:
		if (rdlen != 4)
			return RD_BAD;
		return put(e, rd, 4) ? RD_OK : RD_NOSPACE;
	case DNS_TYPE_AAAA:
		if (rdlen != 16)
			return RD_BAD;
		return put(e, rd, 16) ? RD_OK : RD_NOSPACE;
	case DNS_TYPE_NS:
	case DNS_TYPE_MD:
	case DNS_TYPE_MF:
	case DNS_TYPE_CNAME:
	case DNS_TYPE_MB:
	case DNS_TYPE_MG:
	case DNS_TYPE_MR:
	case DNS_TYPE_PTR:
		names = 1;
		break;
	case DNS_TYPE_MINFO:
		names = 2;
		break;
	case DNS_TYPE_SOA:
		names = 2;
		fixed_after = SOA_FIXED;
		break;
	case DNS_TYPE_MX:
		names = 1;
		fixed_before = 2;
		break;
	default:
		return put(e, rd, rdlen) ? RD_OK : RD_NOSPACE;
	}
	if (rdlen < fixed_before)
		return RD_BAD;
	if (!put(e, rd, fixed_before))
		return RD_NOSPACE;
	pos = fixed_before;
	for (; names > 0; names--) {
		r = rd_name(e, rd, rdlen, &pos);
		if (r != RD_OK)
			return r;
	}
	if (rdlen - pos != fixed_after)
		return RD_BAD;
	return put(e, rd + pos, fixed_after) ? RD_OK : RD_NOSPACE;
}

/* Next record of an entry: its rdata and length. false at the end or when
 * the record does not fit in the entry's bytes. */
static bool next_record(const struct tdns_ans_rrset *s, size_t *pos,
			const uint8_t **rd, uint16_t *rdlen)
{
	size_t p = *pos;

	if (s->rdata_len - p < (size_t)s->skip + 2)
		return false;
	p += s->skip;
	*rdlen = dns_rd16(s->rdata + p);
	p += 2;
	if (s->rdata_len - p < *rdlen)
		return false;
	*rd = s->rdata + p;
	*pos = p + *rdlen;
	return true;
}

/* One whole RRset; on RD_NOSPACE the caller rolls back to before it. */
static enum rd_result put_rrset(struct enc *e, const struct tdns_ans_rrset *s,
				uint16_t *count)
{
	uint8_t fixed[RR_FIXED];
	const uint8_t *rd;
	uint16_t rdlen, i;
	size_t pos = 0, at;
	enum rd_result r;

	/* An owner that is the question name is a pointer to offset 12. */
	dns_wr16(fixed, 0xc000 | DNS_HDR_LEN);
	dns_wr16(fixed + 2, s->type);
	dns_wr16(fixed + 4, s->rclass);
	dns_wr32(fixed + 6, s->ttl);
	dns_wr16(fixed + 10, 0); /* rdlength, filled in below */
	for (i = 0; i < s->count; i++) {
		if (!next_record(s, &pos, &rd, &rdlen))
			return RD_BAD;
		if (s->owner == NULL) {
			if (!put(e, fixed, RR_FIXED))
				return RD_NOSPACE;
		} else if (!put_name(e, s->owner) ||
			   !put(e, fixed + 2, RR_FIXED - 2)) {
			return RD_NOSPACE;
		}
		at = e->len;
		r = put_rdata(e, s->type, rd, rdlen);
		if (r != RD_OK)
			return r;
		dns_wr16(e->out + at - 2, (uint16_t)(e->len - at));
	}
	*count = (uint16_t)(*count + s->count);
	return RD_OK;
}

static size_t opt_len(const struct tdns_qctx *q, const struct tdns_answer *a)
{
	if (!q->edns || a->rcode == DNS_RCODE_FORMERR)
		return 0;
	return OPT_FIXED + (a->has_ede ? EDE_HDR + (size_t)a->ede_text_len : 0) +
	       (a->cookie_len > 0 ? 4 + (size_t)a->cookie_len : 0) +
	       (a->keepalive > 0 ? 6 : 0);
}

/* Bytes of the Padding option (RFC 7830, its 4-byte header included) that
 * bring a reply of len bytes, OPT included, to the next multiple of
 * QCTX_PAD_BLOCK (RFC 8467 4.1), or 0: only over an encrypted transport
 * (padding in clear text hides nothing), and only when it fits the
 * limit. */
static size_t pad_len(const struct tdns_qctx *q, size_t len, size_t limit)
{
	size_t padded;

	if (!qctx_encrypted(q))
		return 0;
	padded = (len + 4 + QCTX_PAD_BLOCK - 1) / QCTX_PAD_BLOCK * QCTX_PAD_BLOCK;
	return padded <= limit ? padded - len : 0;
}

static void put_opt(uint8_t *p, const struct tdns_qctx *q,
		    const struct tdns_answer *a, size_t pad)
{
	uint16_t rdlen = (uint16_t)(opt_len(q, a) - OPT_FIXED + pad);

	p[0] = 0; /* root owner */
	dns_wr16(p + 1, DNS_TYPE_OPT);
	dns_wr16(p + 3, QCTX_EDNS_SIZE);
	p[5] = (uint8_t)(a->rcode >> 4); /* RFC 6891 6.1.3 extended rcode */
	p[6] = 0;                        /* version */
	dns_wr16(p + 7, q->edns_do ? DNS_EDNS_DO : 0);
	dns_wr16(p + 9, rdlen);
	p += OPT_FIXED;
	if (pad > 0) {
		dns_wr16(p, DNS_OPT_PADDING);
		dns_wr16(p + 2, (uint16_t)(pad - 4));
		memset(p + 4, 0, pad - 4); /* RFC 7830 3: zero octets */
		p += pad;
	}
	if (a->cookie_len > 0) {
		dns_wr16(p, DNS_OPT_COOKIE);
		dns_wr16(p + 2, a->cookie_len);
		memcpy(p + 4, a->cookie, a->cookie_len);
		p += 4 + a->cookie_len;
	}
	if (a->keepalive > 0) {
		dns_wr16(p, DNS_OPT_TCP_KEEPALIVE);
		dns_wr16(p + 2, 2);
		dns_wr16(p + 4, a->keepalive);
		p += 6;
	}
	if (!a->has_ede)
		return;
	dns_wr16(p, DNS_OPT_EDE);
	dns_wr16(p + 2, (uint16_t)(2 + a->ede_text_len));
	dns_wr16(p + 4, a->ede_code);
	memcpy(p + 6, a->ede_text, a->ede_text_len);
}

/* Are the entries in section order? */
static bool sorted(const struct tdns_answer *a)
{
	size_t i;

	for (i = 1; i < a->n; i++)
		if (a->rrsets[i].section < a->rrsets[i - 1].section)
			return false;
	return true;
}

enum tdns_status encode_reply(const struct tdns_qctx *q,
			      const struct tdns_answer *a, uint8_t *out,
			      size_t cap, size_t *out_len)
{
	struct enc e;
	uint16_t counts[ANS_SECTIONS_] = { 0, 0, 0 };
	size_t limit = q->limit < cap ? q->limit : cap;
	size_t olen = opt_len(q, a), n = a->n, i, mark = 0;
	const struct tdns_ans_rrset *head = NULL;
	uint16_t saved = 0;
	unsigned pass, passes;
	bool tc = a->tc, stopped = false;
	enum rd_result r;

	*out_len = 0;
	if (limit < DNS_HDR_LEN + olen)
		return TDNS_ESPACE;
	e.out = out;
	e.limit = limit - olen;
	e.len = DNS_HDR_LEN;
	e.n_names = 0;
	e.q_pending = false;
	e.hashed = false;
	dns_wr16(out, q->id);
	out[2] = (uint8_t)(DNS_FLAG_QR | (q->opcode & 0x0f) << 3);
	out[3] = (uint8_t)(a->rcode & 0x0f);
	if (q->opcode == DNS_OPCODE_QUERY) {
		out[2] |= (uint8_t)((a->aa ? DNS_FLAG_AA : 0) |
				    (q->rd ? DNS_FLAG_RD : 0));
		out[3] |= (uint8_t)((a->ra ? DNS_FLAG_RA : 0) |
				    (a->ad ? DNS_FLAG_AD : 0) |
				    (q->cd ? DNS_FLAG_CD : 0));
	}
	memset(out + 4, 0, 8);
	if (q->has_q) {
		if (!put(&e, q->qname, q->qname_len) || !put16(&e, q->qtype) ||
		    !put16(&e, q->qclass))
			return TDNS_ESPACE;
		out[5] = 1;
		e.q_pending = true;
	}
	/* Lookups add their RRsets section by section, so one pass in order
	 * is the usual case; otherwise one pass per section. */
	passes = sorted(a) ? 1 : ANS_SECTIONS_;
	for (pass = 0; pass < passes; pass++) {
		for (i = 0; i < n; i++) {
			const struct tdns_ans_rrset *s = &a->rrsets[i];

			if (passes > 1 && s->section != pass)
				continue;
			if (stopped) {
				/* RFC 2181 9: what is left out decides TC (an
				 * ANS_F_SIGS entry goes with its RRset). */
				if (s->section != ANS_ADDITIONAL ||
				    (s->flags & ANS_F_REQUIRED))
					tc = true;
				continue;
			}
			/* An RRset and the signatures after it stand or fall
			 * together: a failure rolls back to the RRset. */
			if (!(s->flags & ANS_F_SIGS) || head == NULL) {
				mark = e.len;
				saved = counts[s->section];
				head = s;
			}
			r = put_rrset(&e, s, &counts[s->section]);
			if (r == RD_BAD)
				return TDNS_EINVAL;
			if (r == RD_NOSPACE) {
				e.len = mark;
				forget_from(&e, mark);
				counts[s->section] = saved;
				stopped = true;
				if (head->section != ANS_ADDITIONAL ||
				    (head->flags & ANS_F_REQUIRED))
					tc = true;
			}
		}
	}
	if (tc)
		out[2] |= DNS_FLAG_TC;
	dns_wr16(out + 6, counts[ANS_ANSWER]);
	dns_wr16(out + 8, counts[ANS_AUTHORITY]);
	if (olen > 0) {
		size_t pad = pad_len(q, e.len + olen, limit);

		put_opt(out + e.len, q, a, pad);
		e.len += olen + pad;
	}
	dns_wr16(out + 10, (uint16_t)(counts[ANS_ADDITIONAL] + (olen > 0)));
	*out_len = e.len;
	return TDNS_OK;
}

size_t encode_error(const struct tdns_qctx *q, uint16_t rcode, uint8_t *out,
		    size_t cap)
{
	struct tdns_answer a;
	size_t n = 0;

	answer_reset(&a);
	a.rcode = rcode;
	if (encode_reply(q, &a, out, cap, &n) != TDNS_OK)
		return 0;
	return n;
}

size_t encode_query(uint16_t id, const uint8_t *qname, size_t qname_len,
		    uint16_t qtype, uint16_t qclass, unsigned flags, uint8_t *out,
		    size_t cap)
{
	bool edns = (flags & ENC_Q_EDNS) != 0;
	size_t need = DNS_HDR_LEN + qname_len + 4 + (edns ? OPT_FIXED : 0), p;

	if (cap < need)
		return 0;
	memset(out, 0, DNS_HDR_LEN);
	dns_wr16(out, id);
	/* we forward: recursion desired (RFC 1035 4.3.1), unless asking an
	 * authoritative server as an iterator does */
	out[2] = (flags & ENC_Q_NORD) ? 0 : DNS_FLAG_RD;
	if (flags & ENC_Q_CD)
		out[3] = DNS_FLAG_CD;
	dns_wr16(out + 4, 1);
	dns_wr16(out + 10, edns ? 1 : 0);
	memcpy(out + DNS_HDR_LEN, qname, qname_len);
	p = DNS_HDR_LEN + qname_len;
	dns_wr16(out + p, qtype);
	dns_wr16(out + p + 2, qclass);
	p += 4;
	if (edns) {
		out[p] = 0;
		dns_wr16(out + p + 1, DNS_TYPE_OPT);
		dns_wr16(out + p + 3, QCTX_EDNS_SIZE);
		memset(out + p + 5, 0, 6); /* extended rcode, version, flags, rdlength */
		if (flags & ENC_Q_DO)
			dns_wr16(out + p + 7, DNS_EDNS_DO);
		p += OPT_FIXED;
	}
	return p;
}
