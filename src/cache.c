/*
 * cache.c - the persistent answer cache of the local tier (see cache.h for
 * the value layout and what is cached).
 */
#include "tierdns/cache.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "tierdns/dnsproto.h"
#include "tierdns/log.h"
#include "tierdns/name.h"
#include "tierdns/sketch.h"
#include "tierdns/zonedb.h"

#define CACHE_HDR_LEN 20     /* version, rcode, expiry, ancount, nscount,
			      * status, EDE, TTL */
#define CACHE_HDR_V2_LEN 16  /* version 2: no TTL */
#define CACHE_HDR_V1_LEN 14  /* version 1: no status, no EDE */
#define CACHE_REC_FIXED 14   /* type, class, expiry, rdlength */
#define DEFAULT_MAX_TTL 86400u
#define DEFAULT_MAX_NEG_TTL 3600u
#define EVICT_ROUNDS 4
#define EVICT_BATCH 16 /* deletions per transaction on a full map */
#define EVICT_AHEAD 16 /* values of room made beyond the one written */
#define CACHE_BYTES_KEY "cache_bytes" /* in the meta database */
#define CACHE_INDEX_KEY "cache_index" /* in meta: the index is built */
#define CACHE_INDEX_VERSION 4u /* 4: cache keys by the hash of the name (ckey) */
#define IDX_KEY_MAX (8 + RECORD_KEY_MAX)
#define RKEY_TAIL 3 /* what a record key adds to its name key: 0, type */
#define CKEY_SEED 0x63616368656b6579ull /* stored: may never change */

/* The header length of a packed value (every version is read: entries
 * written before validation existed are VALID_UNCHECKED, those written
 * before prefetch have no TTL), 0 when it is no value. */
static inline size_t hdr_len(const uint8_t *val, size_t len)
{
	if (len >= CACHE_HDR_LEN && val[0] == CACHE_VALUE_VERSION)
		return CACHE_HDR_LEN;
	if (len >= CACHE_HDR_V2_LEN && val[0] == 2)
		return CACHE_HDR_V2_LEN;
	if (len >= CACHE_HDR_V1_LEN && val[0] == 1)
		return CACHE_HDR_V1_LEN;
	return 0;
}

/* ---- building a value from an upstream reply ---- */

/* RFC 2181 8: a TTL with the most significant bit set is treated as 0. */
static uint32_t ttl_clean(uint32_t ttl)
{
	return (ttl & 0x80000000u) ? 0 : ttl;
}

static uint32_t min32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

static bool qtype_cacheable(uint16_t qtype)
{
	switch (qtype) {
	case 0:
	case DNS_TYPE_OPT:
	case DNS_TYPE_IXFR:
	case DNS_TYPE_AXFR:
	case DNS_TYPE_MAILB:
	case DNS_TYPE_MAILA:
	case DNS_TYPE_ANY:
		return false;
	default:
		return true;
	}
}

/* True if the (canonical) name `name` equals `apex` or lies below it; both
 * are uncompressed wire names. */
static bool dname_at_or_below(const uint8_t *name, size_t name_len,
			      const uint8_t *apex, size_t apex_len)
{
	uint8_t nk[NAME_KEY_MAX], ak[NAME_KEY_MAX];
	size_t nl, al;

	if (name_key_from_wire(name, name_len, nk, &nl) != TDNS_OK ||
	    name_key_from_wire(apex, apex_len, ak, &al) != TDNS_OK)
		return false;
	return name_key_is_subdomain(nk, nl, ak, al);
}

/* Record rr of m: class IN, owned by name[0..len), of the type (ANY: of
 * every type)? */
static bool rr_is(const struct tdns_msg *m, const struct tdns_msg_rr *rr,
		  const uint8_t *name, size_t len, uint16_t type)
{
	return rr->rclass == DNS_CLASS_IN &&
	       (type == DNS_TYPE_ANY || rr->type == type) &&
	       rr->owner_len == len && msg_name_eq(m, rr->owner, name, len);
}

/* A record chosen for the value: while the chain is walked `at` holds its
 * TTL, then its absolute expiry. */
struct pick {
	const struct tdns_msg_rr *rr;
	uint64_t at;
};

/* At most the chain's CNAMEs and one pass over the answer section, then
 * the SOA. */
#define PICKS_MAX (MSG_RR_MAX + CACHE_CHAIN_MAX + 2)

struct picks {
	struct pick v[PICKS_MAX];
	size_t n;
};

static void picks_add(struct picks *p, const struct tdns_msg_rr *rr,
		      uint32_t ttl)
{
	/* Bounded by construction; the last slot is the SOA's. */
	if (p->n < PICKS_MAX - 1) {
		p->v[p->n].rr = rr;
		p->v[p->n].at = ttl;
		p->n++;
	}
}

/*
 * Walk the CNAME chain from qname through the answer section (RFC 1034
 * 4.3.2 step 3a, RFC 5452 5: nothing off the chain is believed). Appends the
 * chain's CNAMEs and the final RRset to an; last (NAME_WIRE_MAX bytes)
 * receives the last name reached, *complete whether the RRset of qtype was
 * found there, *sane false on something that must not be cached (two
 * CNAMEs at one name, a chain too long).
 */
static void walk_chain(const struct tdns_msg *m, const uint8_t *qname,
		       size_t qname_len, uint16_t qtype, uint32_t max_ttl,
		       struct picks *an, uint8_t *last, size_t *last_len,
		       bool *complete, bool *sane)
{
	size_t n = m->ancount, cur_len = qname_len;
	size_t first_final;
	uint32_t set_ttl;

	memcpy(last, qname, qname_len);
	*complete = false;
	*sane = true;
	for (unsigned hops = 0;; hops++) {
		const struct tdns_msg_rr *cname = NULL;
		unsigned ncname = 0;

		first_final = an->n;
		set_ttl = UINT32_MAX;
		for (size_t i = 0; i < n; i++) {
			const struct tdns_msg_rr *rr = &m->rr[i];

			if (rr_is(m, rr, last, cur_len, qtype)) {
				set_ttl = min32(set_ttl, ttl_clean(rr->ttl));
				picks_add(an, rr, 0);
			} else if (rr_is(m, rr, last, cur_len, DNS_TYPE_CNAME)) {
				cname = rr;
				ncname++;
			}
		}
		if (an->n > first_final) {
			/* RFC 2181 5.2: one TTL per RRset; use the smallest.
			 * (ANY gathers several RRsets: each keeps its own.) */
			for (size_t i = first_final; i < an->n; i++)
				an->v[i].at = min32(qtype == DNS_TYPE_ANY
							    ? ttl_clean(an->v[i].rr->ttl)
							    : set_ttl,
						    max_ttl);
			*complete = true;
			break;
		}
		/* An empty CNAME rdata has no target (ldns reads no field). */
		if (cname == NULL || cname->rdlen == 0)
			break;
		/* RFC 2181 10.1: one CNAME per name; more is not believed. */
		if (ncname > 1 || hops == CACHE_CHAIN_MAX) {
			*sane = false;
			break;
		}
		picks_add(an, cname, min32(ttl_clean(cname->ttl), max_ttl));
		cur_len = msg_name(m, cname->rdata, last);
	}
	*last_len = cur_len;
}

/* Is rr an SOA whose rdata is whole: two names and the five 32-bit fields
 * (RFC 1035 3.3.13)? */
static bool soa_whole(const struct tdns_msg *m, const struct tdns_msg_rr *rr)
{
	size_t end = (size_t)rr->rdata + rr->rdlen, p;

	if (rr->type != DNS_TYPE_SOA || rr->rdlen == 0)
		return false;
	p = msg_name_skip(m, rr->rdata);
	if (p == 0 || p >= end)
		return false;
	p = msg_name_skip(m, p);
	return p != 0 && p <= end && end - p == 20;
}

/* The SOA of a negative answer: in authority, class IN, owned by the last
 * name of the chain or one of its ancestors (the zone that denies it). */
static const struct tdns_msg_rr *find_soa(const struct tdns_msg *m,
					  const uint8_t *last, size_t last_len)
{
	uint8_t owner[NAME_WIRE_MAX];

	for (size_t i = msg_ns_start(m); i < msg_ar_start(m); i++) {
		const struct tdns_msg_rr *rr = &m->rr[i];

		if (rr->rclass == DNS_CLASS_IN && soa_whole(m, rr) &&
		    dname_at_or_below(last, last_len, owner,
				      msg_name(m, rr->owner, owner)))
			return rr;
	}
	return NULL;
}

/* The type an RRSIG record covers (RFC 4034 3.1.1), 0 for a short one. */
static uint16_t sig_covers(const struct tdns_msg *m, const struct tdns_msg_rr *rr)
{
	return rr->type == DNS_TYPE_RRSIG && rr->rdlen >= 2 ? dns_rd16(m->wire + rr->rdata)
							    : 0;
}

/* Append the RRSIGs of sections [from, to) of m that cover the RRset of
 * `set` (its owner and type), expiring no later than the RRset (`at`). */
static void picks_sigs(const struct tdns_msg *m, size_t from, size_t to,
		       const struct tdns_msg_rr *set, uint64_t at, struct picks *p)
{
	uint8_t owner[NAME_WIRE_MAX];
	size_t olen = msg_name(m, set->owner, owner);

	for (size_t i = from; i < to; i++) {
		const struct tdns_msg_rr *rr = &m->rr[i];

		if (sig_covers(m, rr) == set->type && rr_is(m, rr, owner, olen, DNS_TYPE_RRSIG))
			picks_add(p, rr, (uint32_t)(ttl_clean(rr->ttl) < at ? ttl_clean(rr->ttl)
									     : at));
	}
}

/* Are a and b of one RRset (owner, type)? */
static bool same_set(const struct tdns_msg *m, const struct tdns_msg_rr *a,
		     const struct tdns_msg_rr *b)
{
	uint8_t owner[NAME_WIRE_MAX];

	return a->type == b->type && a->owner_len == b->owner_len &&
	       msg_name_eq(m, b->owner, owner, msg_name(m, a->owner, owner));
}

/* Is rr an RRSIG made for a wildcard and expanded at its owner (RFC 4035
 * 5.3.4: its Labels field below the owner's label count, a leading "*"
 * not counted, RFC 4034 3.1.3)? */
static bool sig_expanded(const struct tdns_msg *m, const struct tdns_msg_rr *rr)
{
	uint8_t owner[NAME_WIRE_MAX];
	size_t len = msg_name(m, rr->owner, owner);
	unsigned labels = 0;

	if (rr->type != DNS_TYPE_RRSIG || rr->rdlen < 4)
		return false;
	for (size_t i = 0; i < len && owner[i] != 0; i += (size_t)owner[i] + 1)
		labels++;
	if (len > 2 && owner[0] == 1 && owner[1] == '*')
		labels--;
	return m->wire[rr->rdata + 3] < labels;
}

/* Append every NSEC/NSEC3 of m's authority section, with its RRSIGs, each
 * expiring no later than cap (a TTL). */
static void picks_denial(const struct tdns_msg *m, uint32_t cap, struct picks *out)
{
	size_t as = msg_ns_start(m), ae = msg_ar_start(m);

	for (size_t i = as; i < ae; i++) {
		const struct tdns_msg_rr *rr = &m->rr[i];

		if ((rr->type == DNS_TYPE_NSEC || rr->type == DNS_TYPE_NSEC3) &&
		    rr->rclass == DNS_CLASS_IN) {
			picks_add(out, rr, min32(ttl_clean(rr->ttl), cap));
			picks_sigs(m, as, ae, rr, min32(ttl_clean(rr->ttl), cap), out);
		}
	}
}

/*
 * What DNSSEC adds to a value (RFC 4035 3.1.1, 3.1.3): after each RRset of
 * the answer (an, TTLs), its RRSIGs from the answer section; for a negative
 * answer (soa), the SOA, its RRSIGs and every NSEC/NSEC3 of the authority
 * section with theirs (the denial proof); for a positive answer with an
 * RRset expanded from a wildcard, the authority's NSEC/NSEC3 with theirs
 * (RFC 4035 3.1.3.3, 5.3.4; RFC 5155 7.2.6, 8.8: the proof that no closer
 * name exists), capped by max_ttl. The records go to out, the authority
 * ones counted in *ns. Without RRSIGs in the reply (no DO, or an unsigned
 * zone) out holds an and the SOA as before.
 */
static void picks_dnssec(const struct tdns_msg *m, const struct picks *an,
			 const struct tdns_msg_rr *soa, uint32_t neg_ttl, uint32_t max_ttl,
			 struct picks *out, size_t *ns)
{
	size_t as = msg_ns_start(m), ae = msg_ar_start(m);
	bool signed_reply = false, expanded = false;

	/* Most replies carry no RRSIG (no DO asked): then no search for them. */
	for (size_t i = 0; i < ae && !signed_reply; i++)
		signed_reply = m->rr[i].type == DNS_TYPE_RRSIG;
	out->n = 0;
	for (size_t i = 0; i < an->n; i++) {
		const struct tdns_msg_rr *rr = an->v[i].rr;
		const struct tdns_msg_rr *next = i + 1 < an->n ? an->v[i + 1].rr : NULL;

		picks_add(out, rr, (uint32_t)an->v[i].at);
		if (signed_reply && (next == NULL || !same_set(m, rr, next)))
			picks_sigs(m, 0, m->ancount, rr, an->v[i].at, out);
	}
	for (size_t i = 0; signed_reply && soa == NULL && i < out->n && !expanded; i++)
		expanded = sig_expanded(m, out->v[i].rr);
	*ns = out->n;
	if (soa != NULL)
		picks_add(out, soa, neg_ttl);
	if (soa != NULL && signed_reply) {
		picks_sigs(m, as, ae, soa, neg_ttl, out);
		picks_denial(m, neg_ttl, out);
	} else if (expanded) {
		picks_denial(m, max_ttl, out);
	}
	*ns = out->n - *ns;
}

static enum tdns_status pack_value(const struct tdns_msg *m, uint8_t rcode,
				   uint64_t expiry, uint32_t ttl, const struct pick *recs,
				   size_t an, size_t ns, struct tdns_cache_value *v)
{
	size_t size = CACHE_HDR_LEN, rdlen, pos;
	uint8_t *p;

	for (size_t i = 0; i < an + ns; i++) {
		if (!msg_rdata(m, recs[i].rr, NULL, 0, &rdlen) || rdlen > UINT16_MAX)
			return TDNS_EINVAL;
		size += recs[i].rr->owner_len + CACHE_REC_FIXED + rdlen;
	}
	p = malloc(size);
	if (p == NULL)
		return TDNS_ENOMEM;
	p[0] = CACHE_VALUE_VERSION;
	p[1] = rcode;
	dns_wr64(p + 2, expiry);
	dns_wr16(p + 10, (uint16_t)an);
	dns_wr16(p + 12, (uint16_t)ns);
	p[14] = VALID_UNCHECKED;
	p[15] = 0;
	dns_wr32(p + 16, ttl);
	pos = CACHE_HDR_LEN;
	for (size_t i = 0; i < an + ns; i++) {
		const struct tdns_msg_rr *rr = recs[i].rr;

		pos += msg_name(m, rr->owner, p + pos);
		dns_wr16(p + pos, rr->type);
		dns_wr16(p + pos + 2, rr->rclass);
		dns_wr64(p + pos + 4, recs[i].at);
		(void)msg_rdata(m, rr, p + pos + CACHE_REC_FIXED,
				size - pos - CACHE_REC_FIXED, &rdlen);
		dns_wr16(p + pos + 12, (uint16_t)rdlen);
		pos += CACHE_REC_FIXED + rdlen;
	}
	v->data = p;
	v->len = size;
	return TDNS_OK;
}

enum tdns_status cache_value_build(const struct tdns_cache_cfg *cfg,
				   const uint8_t *qname, size_t qname_len,
				   uint16_t qtype, const struct tdns_msg *resp,
				   uint64_t now, struct tdns_cache_value *v)
{
	uint32_t max_ttl = cfg && cfg->max_ttl ? cfg->max_ttl : DEFAULT_MAX_TTL;
	uint32_t max_neg = cfg && cfg->max_neg_ttl ? cfg->max_neg_ttl
						   : DEFAULT_MAX_NEG_TTL;
	uint8_t rcode = resp->rcode;
	struct picks an;
	uint8_t last[NAME_WIRE_MAX];
	size_t last_len = 0;
	const struct tdns_msg_rr *soa = NULL;
	struct picks allp, *all = &allp;
	size_t ns = 0;
	uint32_t neg_ttl = 0;
	bool complete, sane, cacheable;
	uint64_t expiry = UINT64_MAX;
	enum tdns_status st;

	memset(v, 0, sizeof(*v));
	if ((rcode != DNS_RCODE_NOERROR && rcode != DNS_RCODE_NXDOMAIN) ||
	    qname_len == 0 || qctx_name_len(qname, qname_len) != qname_len)
		return TDNS_EINVAL;
	an.n = 0;
	walk_chain(resp, qname, qname_len, qtype, max_ttl, &an, last, &last_len,
		   &complete, &sane);
	/* ANY (RFC 8482: the upstream may give any subset) and the other meta
	 * types are answered from the reply but never kept. */
	cacheable = sane && qtype_cacheable(qtype);
	if (rcode == DNS_RCODE_NXDOMAIN && complete) {
		/* Data for the name it says does not exist: answer, never keep. */
		cacheable = false;
	}
	if (!complete) {
		/* NXDOMAIN or NODATA: RFC 2308 5, cached only with the SOA, for
		 * min(SOA TTL, SOA MINIMUM); without it, not cached (RFC 2308 5). */
		soa = find_soa(resp, last, last_len);
		if (soa == NULL) {
			cacheable = false;
		} else {
			neg_ttl = min32(ttl_clean(soa->ttl),
					ttl_clean(dns_rd32(resp->wire + soa->rdata +
							   soa->rdlen - 4)));
			neg_ttl = min32(neg_ttl, max_neg);
		}
	}
	picks_dnssec(resp, &an, soa, neg_ttl, max_ttl, all, &ns);
	for (size_t i = 0; i < all->n; i++)
		if (all->v[i].at < expiry)
			expiry = all->v[i].at;
	if (expiry == UINT64_MAX)
		expiry = 0; /* nothing at all to keep */
	/* RFC 2308 5 / SPEC: TTL 0 means use once, do not cache. */
	if (expiry == 0)
		cacheable = false;

	for (size_t i = 0; i < all->n; i++)
		all->v[i].at += now;
	st = pack_value(resp, rcode, now + expiry, (uint32_t)expiry, all->v, all->n - ns, ns, v);
	if (st != TDNS_OK)
		return st;
	v->expiry = now + expiry;
	v->cacheable = cacheable;
	return TDNS_OK;
}

enum tdns_status cache_value_records(const struct tdns_msg *m,
				     const uint16_t *idx, size_t n,
				     uint64_t now, struct tdns_cache_value *v)
{
	struct picks recs;
	uint64_t expiry = UINT64_MAX;
	enum tdns_status st;

	memset(v, 0, sizeof(*v));
	if (n > MSG_RR_MAX)
		return TDNS_EINVAL;
	recs.n = 0;
	for (size_t i = 0; i < n; i++) {
		const struct tdns_msg_rr *rr = &m->rr[idx[i]];

		picks_add(&recs, rr, ttl_clean(rr->ttl));
		/* its RRSIGs (a validator judges the chain too) */
		picks_sigs(m, 0, m->ancount, rr, ttl_clean(rr->ttl), &recs);
	}
	for (size_t i = 0; i < recs.n; i++) {
		recs.v[i].at += now;
		if (recs.v[i].at < expiry)
			expiry = recs.v[i].at;
	}
	st = pack_value(m, DNS_RCODE_NOERROR, n > 0 ? expiry : now,
			n > 0 ? (uint32_t)(expiry - now) : 0, recs.v, recs.n, 0, v);
	if (st == TDNS_OK)
		v->expiry = n > 0 ? expiry : now;
	return st;
}

enum tdns_status cache_value_none(uint8_t rcode, struct tdns_cache_value *v)
{
	memset(v, 0, sizeof(*v));
	/* no records: pack_value reads nothing of a message */
	return pack_value(NULL, rcode, 0, 0, NULL, 0, 0, v);
}

void cache_value_clear(struct tdns_cache_value *v)
{
	if (v == NULL)
		return;
	free(v->data);
	memset(v, 0, sizeof(*v));
}

void cache_value_set_status(struct tdns_cache_value *v, enum valid_status status,
			    uint16_t ede, uint64_t until)
{
	struct cache_rec r;
	size_t pos = 0;
	unsigned idx = 0;

	if (v->data == NULL || v->len < CACHE_HDR_LEN || v->data[0] != CACHE_VALUE_VERSION)
		return;
	v->data[14] = (uint8_t)status;
	v->data[15] = (uint8_t)(status == VALID_BOGUS ? ede : 0);
	if (v->expiry > until) {
		v->expiry = until;
		dns_wr64(v->data + 2, until);
	}
	/* A record may outlive the value (its own TTL was longer). */
	while (until != UINT64_MAX && cache_value_next(v->data, v->len, &pos, &idx, &r))
		if (r.expiry > until)
			dns_wr64(v->data + (r.owner - v->data) + r.owner_len + 4, until);
}

enum valid_status cache_value_status(const uint8_t *val, size_t len)
{
	return hdr_len(val, len) >= CACHE_HDR_V2_LEN ? (enum valid_status)val[14]
						     : VALID_UNCHECKED;
}

/* ---- reading a value ---- */

/* The bounds of the packed record at val[pos..len): its owner name's
 * length and its rdlength. false when it is malformed or runs past len. */
static bool record_bounds(const uint8_t *val, size_t len, size_t pos,
			  size_t *nlen, size_t *rdlen)
{
	*nlen = qctx_name_len(val + pos, len - pos);
	if (*nlen == 0 || len - pos - *nlen < CACHE_REC_FIXED)
		return false;
	*rdlen = dns_rd16(val + pos + *nlen + 12);
	return len - pos - *nlen - CACHE_REC_FIXED >= *rdlen;
}

bool cache_value_next(const uint8_t *val, size_t len, size_t *pos, unsigned *idx,
		      struct cache_rec *r)
{
	size_t hl = hdr_len(val, len), nlen, rdlen;

	if (hl == 0)
		return false;
	if (*pos == 0) {
		*pos = hl;
		*idx = 0;
	} else {
		(*idx)++;
	}
	if (*idx >= (unsigned)dns_rd16(val + 10) + dns_rd16(val + 12) ||
	    !record_bounds(val, len, *pos, &nlen, &rdlen))
		return false;
	r->owner = val + *pos;
	r->owner_len = nlen;
	r->type = dns_rd16(val + *pos + nlen);
	r->rclass = dns_rd16(val + *pos + nlen + 2);
	r->expiry = dns_rd64(val + *pos + nlen + 4);
	r->rdlen = (uint16_t)rdlen;
	r->rdata = val + *pos + nlen + CACHE_REC_FIXED;
	r->authority = *idx >= dns_rd16(val + 10);
	*pos += nlen + CACHE_REC_FIXED + rdlen;
	return true;
}

/* Decode one record at val[*pos) into a new ldns_rr (owned by caller). */
static enum tdns_status read_record(const uint8_t *val, size_t len, size_t *pos,
				    uint64_t now, uint32_t expired_ttl, ldns_rr **out)
{
	ldns_rr *rr = NULL;
	ldns_rdf *owner = NULL;
	size_t nlen, rdlen, p = *pos;
	uint64_t exp, left;
	enum tdns_status st = TDNS_EINVAL;

	*out = NULL;
	if (!record_bounds(val, len, p, &nlen, &rdlen))
		goto out;
	owner = ldns_dname_new_frm_data((uint16_t)nlen, val + p);
	rr = ldns_rr_new();
	if (owner == NULL || rr == NULL) {
		st = TDNS_ENOMEM;
		goto out;
	}
	ldns_rr_set_owner(rr, owner);
	owner = NULL;
	ldns_rr_set_type(rr, (ldns_rr_type)dns_rd16(val + p + nlen));
	ldns_rr_set_class(rr, (ldns_rr_class)dns_rd16(val + p + nlen + 2));
	exp = dns_rd64(val + p + nlen + 4);
	left = exp > now ? exp - now : expired_ttl;
	ldns_rr_set_ttl(rr, (uint32_t)(left > 0x7fffffffu ? 0x7fffffffu : left));
	/* ldns_wire2rdf reads the u16 rdlength at *pos and the rdata after it,
	 * never past `max`. */
	p += nlen + 12;
	if (ldns_wire2rdf(rr, val, p + 2 + rdlen, &p) != LDNS_STATUS_OK)
		goto out;
	*pos = p;
	*out = rr;
	rr = NULL;
	st = TDNS_OK;
out:
	ldns_rdf_deep_free(owner);
	ldns_rr_free(rr);
	return st;
}

enum tdns_status cache_value_render(const uint8_t *val, size_t len, uint64_t now,
				    ldns_pkt *reply)
{
	return cache_value_render_ttl(val, len, now, 0, reply);
}

enum tdns_status cache_value_render_ttl(const uint8_t *val, size_t len,
					uint64_t now, uint32_t expired_ttl,
					ldns_pkt *reply)
{
	size_t pos = hdr_len(val, len);
	unsigned an, ns;
	ldns_rr *rr = NULL;
	enum tdns_status st = TDNS_EINVAL;

	if (pos == 0)
		goto out;
	an = dns_rd16(val + 10);
	ns = dns_rd16(val + 12);
	ldns_pkt_set_rcode(reply, val[1]);
	for (unsigned i = 0; i < an + ns; i++) {
		st = read_record(val, len, &pos, now, expired_ttl, &rr);
		if (st != TDNS_OK)
			goto out;
		if (!ldns_pkt_push_rr(reply, i < an ? LDNS_SECTION_ANSWER
						    : LDNS_SECTION_AUTHORITY,
				      rr)) {
			st = TDNS_ENOMEM;
			goto out;
		}
		rr = NULL;
	}
	st = pos == len ? TDNS_OK : TDNS_EINVAL;
out:
	ldns_rr_free(rr);
	return st;
}

/* ---- the cache database ---- */

/*
 * The key of a cache entry (store.h `cache`): u32 hash of the name key of
 * its question (network order) || its record key (name key || 0 || type).
 * Hash first, the cache is in hash order: the entries that follow a seek
 * to a random key are a uniform sample of its names, whatever those names
 * or the expiries (evict_sampled). The name's alone, so that the entries
 * of one name lie together, under hash || name key || 0: one range for
 * flushing a name of every type. The hash is dns_key_hash under a fixed
 * seed, high half: it is stored, so it may never change without a new
 * CACHE_INDEX_VERSION, and it needs no secret: a client who chooses names
 * can only bunch up its own entries, which makes them the ones sampled,
 * never anyone else's.
 */
struct ckey {
	size_t len;
	uint8_t b[CACHE_KEY_MAX];
};

static uint32_t ckey_hash(const uint8_t *nkey, size_t nlen)
{
	return (uint32_t)(dns_key_hash(CKEY_SEED, nkey, nlen) >> 32);
}

/* Complete ck around the record key of rlen bytes (>= RKEY_TAIL) at
 * ck->b + 4. */
static void ckey_seal(struct ckey *ck, size_t rlen)
{
	dns_wr32(ck->b, ckey_hash(ck->b + 4, rlen - RKEY_TAIL));
	ck->len = 4 + rlen;
}

/* The cache key of the record key rkey (at most RECORD_KEY_MAX bytes). */
static void ckey_of_rkey(struct ckey *ck, const uint8_t *rkey, size_t rlen)
{
	memcpy(ck->b + 4, rkey, rlen);
	ckey_seal(ck, rlen);
}

/* The cache key of the question (qkey, qtype), qkey_len <= NAME_KEY_MAX. */
static void ckey_of(struct ckey *ck, const uint8_t *qkey, size_t qkey_len,
		    uint16_t qtype)
{
	ckey_seal(ck, name_record_key(qkey, qkey_len, qtype, ck->b + 4));
}

/* Is k a cache key, a record key under the hash of its name? A key of
 * an older layout (the bare record key; the hash of the whole record key)
 * is not, but for one in 2^32. */
static bool ckey_valid(const uint8_t *k, size_t len)
{
	return len >= 4 + RKEY_TAIL && len <= CACHE_KEY_MAX &&
	       dns_rd32(k) == ckey_hash(k + 4, len - 4 - RKEY_TAIL);
}

static uint64_t value_expiry(const struct tdns_val *v)
{
	if (hdr_len(v->data, v->len) == 0)
		return 0; /* unreadable: as good as expired */
	return dns_rd64(v->data + 2);
}

/* The stored value for (qkey, qtype) in t unless it expired more than
 * max_stale seconds before now: TDNS_ENOTFOUND for none (or too old),
 * TDNS_EINVAL for an unreadable one. */
static enum tdns_status value_get(struct tdns_txn *t, const uint8_t *qkey,
				  size_t qkey_len, uint16_t qtype, uint64_t now,
				  uint32_t max_stale, struct tdns_val *v)
{
	struct ckey ck;
	enum tdns_status st;

	if (qkey_len > NAME_KEY_MAX)
		return TDNS_EINVAL;
	ckey_of(&ck, qkey, qkey_len, qtype);
	st = store_get(t, TDNS_DB_CACHE, ck.b, ck.len, v);
	if (st != TDNS_OK)
		return st;
	if (hdr_len(v->data, v->len) == 0)
		return TDNS_EINVAL;
	if (value_expiry(v) + max_stale <= now)
		return TDNS_ENOTFOUND;
	return TDNS_OK;
}

enum tdns_status cache_get(struct tdns_txn *t, const uint8_t *qkey,
			   size_t qkey_len, uint16_t qtype, uint64_t now,
			   uint32_t max_stale, struct tdns_cache_value *out)
{
	struct tdns_val v;
	enum tdns_status st;

	memset(out, 0, sizeof(*out));
	st = value_get(t, qkey, qkey_len, qtype, now, max_stale, &v);
	if (st != TDNS_OK)
		return st;
	/* Copied out: LMDB memory dies with the transaction (STYLE 5). */
	out->data = malloc(v.len);
	if (out->data == NULL)
		return TDNS_ENOMEM;
	memcpy(out->data, v.data, v.len);
	out->len = v.len;
	out->expiry = value_expiry(&v);
	return TDNS_OK;
}

/* ---- size accounting: meta "cache_bytes" = sum of key + value lengths,
 * updated in the same transaction as every cache write ---- */

static enum tdns_status bytes_get(struct tdns_txn *t, uint64_t *bytes)
{
	struct tdns_val v;
	enum tdns_status st;

	*bytes = 0;
	st = store_get(t, TDNS_DB_META, (const uint8_t *)CACHE_BYTES_KEY,
		       sizeof(CACHE_BYTES_KEY) - 1, &v);
	if (st == TDNS_ENOTFOUND)
		return TDNS_OK;
	if (st != TDNS_OK)
		return st;
	if (v.len != 8)
		return TDNS_OK; /* unreadable: start again from 0 */
	*bytes = dns_rd64(v.data);
	return TDNS_OK;
}

static enum tdns_status bytes_set(struct tdns_txn *t, uint64_t bytes)
{
	uint8_t b[8];

	dns_wr64(b, bytes);
	return store_put(t, TDNS_DB_META, (const uint8_t *)CACHE_BYTES_KEY,
			 sizeof(CACHE_BYTES_KEY) - 1, b, sizeof(b));
}

uint64_t cache_bytes(struct tdns_txn *t)
{
	uint64_t bytes;

	return bytes_get(t, &bytes) == TDNS_OK ? bytes : 0;
}

size_t cache_count(struct tdns_txn *t)
{
	return store_count(t, TDNS_DB_CACHE);
}

/* ---- the expiry index (cache_exp): u64 expiry || record key -> empty,
 * one index entry per cache entry, written in the same transaction ---- */

/* The index key of the entry (rkey, expiry) into out (IDX_KEY_MAX bytes);
 * returns its length. */
static size_t idx_key(uint64_t expiry, const uint8_t *rkey, size_t rlen,
		      uint8_t *out)
{
	dns_wr64(out, expiry);
	memcpy(out + 8, rkey, rlen);
	return 8 + rlen;
}

static enum tdns_status idx_put(struct tdns_txn *t, uint64_t expiry,
				const uint8_t *rkey, size_t rlen)
{
	static const uint8_t empty;
	uint8_t k[IDX_KEY_MAX];

	return store_put(t, TDNS_DB_CACHE_EXP, k, idx_key(expiry, rkey, rlen, k),
			 &empty, 0);
}

/* Remove the index entry (expiry, rkey); one that is not there is not an
 * error (the index is then rebuilt when the counts disagree). */
static enum tdns_status idx_del(struct tdns_txn *t, uint64_t expiry,
				const uint8_t *rkey, size_t rlen)
{
	uint8_t k[IDX_KEY_MAX];
	enum tdns_status st;

	st = store_del(t, TDNS_DB_CACHE_EXP, k, idx_key(expiry, rkey, rlen, k));
	return st == TDNS_ENOTFOUND ? TDNS_OK : st;
}

/* The account *bytes less an entry of n bytes (key and value); never
 * below 0, whatever an account read from the store said. */
static void account_less(uint64_t *bytes, uint64_t n)
{
	*bytes = *bytes > n ? *bytes - n : 0;
}

/* Before the cache entry (ck, v) is deleted in t: its index entry goes,
 * and its size from the account *bytes. */
static enum tdns_status unindex(struct tdns_txn *t, const struct ckey *ck,
				const struct tdns_val *v, uint64_t *bytes)
{
	enum tdns_status st;

	st = idx_del(t, value_expiry(v), ck->b + 4, ck->len - 4);
	if (st == TDNS_OK)
		account_less(bytes, ck->len + v->len);
	return st;
}

static enum tdns_status idx_mark(struct tdns_txn *t)
{
	static const uint8_t ver = CACHE_INDEX_VERSION;

	return store_put(t, TDNS_DB_META, (const uint8_t *)CACHE_INDEX_KEY,
			 sizeof(CACHE_INDEX_KEY) - 1, &ver, sizeof(ver));
}

/* Build the index (and the size account) from the cache entries in write
 * transaction t. A key that is no cache key (ckey_valid: never looked up;
 * every key of a store written before CACHE_INDEX_VERSION 4) is deleted. */
static enum tdns_status idx_rebuild(struct tdns_txn *t)
{
	struct tdns_cursor *c = NULL;
	struct tdns_val k, v;
	uint64_t bytes = 0;
	size_t n = 0, dropped = 0;
	enum tdns_status st;

	st = store_clear(t, TDNS_DB_CACHE_EXP);
	if (st == TDNS_OK)
		st = store_cursor_open(t, TDNS_DB_CACHE, &c);
	if (st != TDNS_OK)
		goto out;
	/* LMDB: MDB_NEXT after a deletion yields the entry that followed
	 * the deleted one, as cache_flush relies on too. */
	for (st = store_cursor_seek(c, NULL, 0, &k, &v); st == TDNS_OK;
	     st = store_cursor_next(c, &k, &v)) {
		if (!ckey_valid(k.data, k.len)) {
			st = store_cursor_del(c);
			dropped++;
		} else {
			st = idx_put(t, value_expiry(&v), k.data + 4, k.len - 4);
			bytes += k.len + v.len;
			n++;
		}
		if (st != TDNS_OK)
			goto out;
	}
	if (st != TDNS_ENOTFOUND)
		goto out;
	st = bytes_set(t, bytes);
	if (st == TDNS_OK)
		st = idx_mark(t);
	if (st == TDNS_OK && n > 0)
		log_info("cache: index built for %zu cached entries", n);
	if (st == TDNS_OK && dropped > 0)
		log_info("cache: dropped %zu entries of an older layout", dropped);
out:
	store_cursor_close(c);
	return st;
}

/* In write transaction t, rebuild the index unless it is known to be in
 * step: the marker is there and the cache and its index hold as many
 * entries, or t follows a commit of this process that checked them (every
 * write transaction of this file keeps them in step; store.h). */
static enum tdns_status idx_ready(struct tdns_txn *t)
{
	struct tdns_val v;
	enum tdns_status st;

	if (store_txn_follows_checked(t)) {
		store_txn_checked(t);
		return TDNS_OK;
	}
	st = store_get(t, TDNS_DB_META, (const uint8_t *)CACHE_INDEX_KEY,
		       sizeof(CACHE_INDEX_KEY) - 1, &v);
	if (st != TDNS_OK && st != TDNS_ENOTFOUND)
		goto out;
	if (st == TDNS_OK && v.len == 1 && v.data[0] == CACHE_INDEX_VERSION &&
	    store_count(t, TDNS_DB_CACHE) == store_count(t, TDNS_DB_CACHE_EXP))
		goto out;
	if (st == TDNS_OK && v.len == 1 && v.data[0] == CACHE_INDEX_VERSION)
		log_warn("cache: index out of step with the cache; rebuilding it");
	st = idx_rebuild(t);
out:
	if (st == TDNS_OK)
		store_txn_checked(t);
	return st;
}

/* ---- eviction: a walk from the start of the index ---- */

/* Entries evicted by this process (cache_evictions): bumped once per
 * eviction walk, never on a lookup. */
static _Atomic uint64_t evictions;

uint64_t cache_evictions(void)
{
	return atomic_load_explicit(&evictions, memory_order_relaxed);
}

/* What an eviction walk removes: entries while the first of the index
 * expired at or before `dead`, or while the account is over `fit`, or
 * until `want` entries are gone; at most `max` in this transaction. */
struct evict_goal {
	uint64_t dead;
	uint64_t fit;  /* UINT64_MAX: no byte goal */
	size_t want;   /* 0: no count goal */
	size_t max;
};

/*
 * Evict from the start of the index (the soonest expiry) in write
 * transaction t as g says. *bytes is the account (read and written back
 * by the caller), *done counts the entries removed; *more is true when
 * the walk stopped at g->max with more to remove. An index entry whose
 * cache entry is gone is dropped, one whose entry has another expiry is
 * moved to it (neither counts).
 */
static enum tdns_status evict_walk(struct tdns_txn *t, const struct evict_goal *g,
				   uint64_t *bytes, size_t *done, bool *more)
{
	struct tdns_cursor *c = NULL;
	struct tdns_val k, v;
	struct ckey ck;
	uint64_t exp, cexp;
	size_t n = 0;
	enum tdns_status st;

	*more = false;
	st = store_cursor_open(t, TDNS_DB_CACHE_EXP, &c);
	if (st != TDNS_OK)
		goto out;
	for (;;) {
		/* The first entry each time: what was before it is gone. */
		st = store_cursor_seek(c, NULL, 0, &k, &v);
		if (st != TDNS_OK)
			break;
		if (k.len < 8 + RKEY_TAIL || k.len > IDX_KEY_MAX) {
			st = store_cursor_del(c); /* not an index key */
			if (st != TDNS_OK)
				break;
			continue;
		}
		exp = dns_rd64(k.data);
		if (exp > g->dead && *bytes <= g->fit && *done >= g->want)
			break;
		if (n == g->max) {
			*more = true;
			break;
		}
		ckey_of_rkey(&ck, k.data + 8, k.len - 8);
		st = store_cursor_del(c);
		if (st == TDNS_OK)
			st = store_get(t, TDNS_DB_CACHE, ck.b, ck.len, &v);
		if (st == TDNS_ENOTFOUND) {
			st = TDNS_OK;
			continue;
		}
		if (st != TDNS_OK)
			break;
		cexp = value_expiry(&v);
		if (cexp != exp) {
			st = idx_put(t, cexp, ck.b + 4, ck.len - 4);
			if (st != TDNS_OK)
				break;
			continue;
		}
		account_less(bytes, ck.len + v.len);
		st = store_del(t, TDNS_DB_CACHE, ck.b, ck.len);
		if (st != TDNS_OK)
			break;
		n++;
		(*done)++;
	}
	if (st == TDNS_ENOTFOUND)
		st = TDNS_OK; /* the index is empty */
out:
	if (n > 0)
		atomic_fetch_add_explicit(&evictions, n, memory_order_relaxed);
	store_cursor_close(c);
	return st;
}

enum tdns_status cache_purge(struct tdns_txn *t, uint64_t now, size_t want_free,
			     size_t *evicted)
{
	struct evict_goal g = {
		.dead = now, .fit = UINT64_MAX, .want = want_free, .max = SIZE_MAX,
	};
	uint64_t bytes = 0, before;
	size_t done = 0;
	bool more;
	enum tdns_status st;

	st = idx_ready(t);
	if (st == TDNS_OK)
		st = bytes_get(t, &bytes);
	before = bytes;
	if (st == TDNS_OK)
		st = evict_walk(t, &g, &bytes, &done, &more);
	if (st == TDNS_OK && bytes != before)
		st = bytes_set(t, bytes);
	if (evicted != NULL)
		*evicted = done;
	return st;
}

/* Empty the cache and its index in one write transaction: the last resort
 * of the map-full fallback when the index cannot be built (store_clear
 * frees whole pages without copying them, where a rebuild or a deletion
 * needs fresh ones). */
static enum tdns_status clear_in_txn(struct tdns_txn *t)
{
	enum tdns_status st;

	st = store_clear(t, TDNS_DB_CACHE);
	if (st == TDNS_OK)
		st = store_clear(t, TDNS_DB_CACHE_EXP);
	if (st == TDNS_OK)
		st = bytes_set(t, 0);
	if (st == TDNS_OK)
		st = idx_mark(t);
	return st;
}

static enum tdns_status cache_clear(struct tdns_store *s)
{
	struct tdns_txn *t = NULL;
	enum tdns_status st;

	st = store_begin(s, true, &t);
	if (st == TDNS_OK)
		st = clear_in_txn(t);
	if (st == TDNS_OK) {
		st = store_commit(t);
		t = NULL;
	}
	store_abort(t);
	if (st == TDNS_OK)
		log_warn("cache: map full, no room to index the cache: emptied it");
	return st;
}

/*
 * The map-full fallback: evict entries that expired at or before `dead`
 * and the soonest-expiring until `want` are gone, in transactions of at
 * most EVICT_BATCH deletions, halved down to one while the map cannot
 * take even that (LMDB copies every page a transaction touches, and a
 * deletion in the expiry order touches a cache page of its own):
 * TDNS_EFULL when not even one fits. When the index cannot be built for
 * want of room, the cache is emptied (cache_clear) instead.
 */
static enum tdns_status evict_full(struct tdns_store *s, uint64_t dead,
				   size_t want)
{
	struct evict_goal g = { .dead = dead, .fit = UINT64_MAX };
	struct tdns_txn *t = NULL;
	uint64_t bytes = 0;
	size_t batch = EVICT_BATCH, done = 0, n;
	bool more = true, built = true;
	enum tdns_status st = TDNS_OK;

	while (more) {
		g.max = batch;
		g.want = want > done ? want - done : 0;
		n = 0;
		st = store_begin(s, true, &t);
		if (st != TDNS_OK)
			goto out;
		st = idx_ready(t);
		built = st != TDNS_EFULL;
		if (st == TDNS_OK)
			st = bytes_get(t, &bytes);
		if (st == TDNS_OK)
			st = evict_walk(t, &g, &bytes, &n, &more);
		if (st == TDNS_OK)
			st = bytes_set(t, bytes);
		if (st == TDNS_OK) {
			st = store_commit(t);
			t = NULL;
		}
		store_abort(t);
		t = NULL;
		if (st == TDNS_EFULL && built && batch > 1) {
			batch /= 2;
			more = true;
			continue;
		}
		if (st == TDNS_EFULL && !built) {
			st = cache_clear(s);
			goto out;
		}
		if (st != TDNS_OK)
			goto out;
		done += n;
	}
out:
	store_abort(t);
	if (st == TDNS_OK)
		log_debug("cache: map full, evicted %zu entries", done);
	else
		log_debug("cache: eviction failed: %s", tdns_strerror(st));
	return st;
}

/* ---- writing ---- */

/* The size bound of one write: at most max_bytes (0 = none) after it,
 * entries expired at or before dead going first when room is made. With
 * a sketch, the rest of the room is made by sampling (evict_sampled) for
 * a value whose question was asked `cand` times lately. */
struct budget {
	uint64_t max_bytes;
	uint64_t dead;
	const struct tdns_sketch *sk;
	unsigned cand;
};

/* How often the question of the entry under rkey was asked lately. */
static unsigned rkey_count(const struct tdns_sketch *sk, const uint8_t *rkey,
			   size_t rlen)
{
	uint16_t type;
	size_t klen;

	if (!name_record_key_split(rkey, rlen, &klen, &type))
		return 0;
	return sketch_count(sk, rkey, klen, type);
}

/* xorshift64: where the next sample starts. No secret is needed: the
 * cache is in hash order (struct ckey), and what a sample finds is judged
 * by the sketch, whose hashes are keyed. */
static uint32_t sample_at(void)
{
	static _Thread_local uint64_t x;

	if (x == 0)
		x = (uint64_t)(uintptr_t)&x * 0x9e3779b97f4a7c15ull | 1;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return (uint32_t)(x >> 32);
}

/* The entry a sample chose: its key, expiry and value length. */
struct victim {
	struct ckey ck; /* ck.len 0: none (the cache is empty) */
	uint64_t expiry;
	size_t vlen;
	unsigned count; /* how often its question was asked lately */
};

/* The least asked of CACHE_SAMPLE cache entries from a random point on
 * (wrapping round at the end) into *out. */
static enum tdns_status sample_victim(struct tdns_cursor *c,
				      const struct tdns_sketch *sk,
				      struct victim *out)
{
	struct tdns_val k, v;
	uint8_t at[4];
	unsigned i, cnt;
	enum tdns_status st;

	out->ck.len = 0;
	out->count = UINT32_MAX;
	dns_wr32(at, sample_at());
	st = store_cursor_seek(c, at, sizeof(at), &k, &v);
	for (i = 0; i < CACHE_SAMPLE; i++) {
		if (st == TDNS_ENOTFOUND)
			st = store_cursor_seek(c, NULL, 0, &k, &v); /* wrap */
		if (st != TDNS_OK)
			break;
		if (k.len > 4 && k.len <= CACHE_KEY_MAX) {
			cnt = rkey_count(sk, k.data + 4, k.len - 4);
			if (cnt < out->count) {
				out->count = cnt;
				out->ck.len = k.len;
				memcpy(out->ck.b, k.data, k.len);
				out->expiry = value_expiry(&v);
				out->vlen = v.len;
			}
		}
		st = store_cursor_next(c, &k, &v);
	}
	return st == TDNS_ENOTFOUND ? TDNS_OK : st;
}

/*
 * Evict by sampling until *bytes <= fit (cache_store, with a sketch): each
 * victim is the least asked of a sample (sample_victim). When even it was
 * asked more often than the value that wants the room (b->cand), nothing
 * more is evicted: TDNS_OK if the value fits the bound already (*bytes <=
 * need), else TDNS_EBUSY (not admitted). TDNS_ESPACE when the cache is
 * empty and the bytes still do not fit.
 */
static enum tdns_status evict_sampled(struct tdns_txn *t, const struct budget *b,
				      uint64_t need, uint64_t fit, uint64_t *bytes)
{
	struct tdns_cursor *c = NULL;
	struct victim vi;
	size_t n = 0;
	enum tdns_status st;

	st = store_cursor_open(t, TDNS_DB_CACHE, &c);
	while (st == TDNS_OK && *bytes > fit) {
		st = sample_victim(c, b->sk, &vi);
		if (st != TDNS_OK)
			break;
		if (vi.ck.len == 0) {
			/* Nothing to sample: an account that still says
			 * otherwise is wrong unless the cache holds entries
			 * no sample takes (as make_room). */
			if (*bytes > need && store_count(t, TDNS_DB_CACHE) != 0)
				st = TDNS_ESPACE;
			else if (*bytes > need)
				*bytes = 0;
			break;
		}
		if (vi.count > b->cand) {
			st = *bytes <= need ? TDNS_OK : TDNS_EBUSY;
			break;
		}
		st = idx_del(t, vi.expiry, vi.ck.b + 4, vi.ck.len - 4);
		if (st == TDNS_OK)
			st = store_del(t, TDNS_DB_CACHE, vi.ck.b, vi.ck.len);
		if (st != TDNS_OK)
			break;
		account_less(bytes, vi.ck.len + vi.vlen);
		n++;
	}
	if (n > 0)
		atomic_fetch_add_explicit(&evictions, n, memory_order_relaxed);
	store_cursor_close(c);
	return st;
}

/*
 * Room for a value of `plus` bytes under ck in write transaction t over
 * budget: the old entry of the key goes first (so that the walk never
 * meets it), then the index is walked from its start: every entry expired
 * at or before b->dead, then the soonest-expiring until the value and
 * EVICT_AHEAD more of its size fit (at most a sixteenth of the budget
 * more), so that a cache at its bound evicts once every few writes, a
 * few entries each time. With a sketch, the walk stops after the expired
 * entries and the rest is evict_sampled's (TDNS_EBUSY: not admitted).
 * TDNS_ESPACE when the value cannot fit (nothing indexed is left to
 * evict).
 */
static enum tdns_status make_room(struct tdns_txn *t, const struct budget *b,
				  const struct ckey *ck, uint64_t plus,
				  uint64_t *bytes)
{
	uint64_t ahead = plus * EVICT_AHEAD < b->max_bytes / 16
				 ? plus * EVICT_AHEAD : b->max_bytes / 16;
	struct evict_goal g = {
		.dead = b->dead, .fit = b->max_bytes - plus - ahead, .max = SIZE_MAX,
	};
	struct budget sb = *b;
	struct tdns_val old;
	size_t done = 0;
	bool more;
	enum tdns_status st;

	st = store_get(t, TDNS_DB_CACHE, ck->b, ck->len, &old);
	if (st == TDNS_OK) {
		st = unindex(t, ck, &old, bytes);
		if (st == TDNS_OK)
			st = store_del(t, TDNS_DB_CACHE, ck->b, ck->len);
		sb.cand = UINT32_MAX; /* a refresh keeps its place */
	} else if (st == TDNS_ENOTFOUND) {
		st = TDNS_OK;
	}
	if (st == TDNS_OK && b->sk != NULL) {
		/* Asked once at least: by the question that brought it (a
		 * chased CNAME target is counted under its alias's name, so
		 * its own count may be 0). */
		if (sb.cand != UINT32_MAX)
			sb.cand = rkey_count(b->sk, ck->b + 4, ck->len - 4);
		if (sb.cand == 0)
			sb.cand = 1;
		g.fit = UINT64_MAX; /* the expired only, then by sampling */
		st = evict_walk(t, &g, bytes, &done, &more);
		if (st == TDNS_OK)
			st = evict_sampled(t, &sb, b->max_bytes - plus,
					   b->max_bytes - plus - ahead, bytes);
		return st;
	}
	if (st == TDNS_OK)
		st = evict_walk(t, &g, bytes, &done, &more);
	if (st == TDNS_OK && *bytes > b->max_bytes - plus) {
		/* The index is empty: an account that still says otherwise
		 * is wrong unless the cache holds entries it cannot see. */
		if (store_count(t, TDNS_DB_CACHE) != 0)
			st = TDNS_ESPACE;
		else
			*bytes = 0;
	}
	return st;
}

/*
 * Put the value in write transaction t with its index entry, its size
 * kept in *bytes (the account, read once by the caller and written back
 * once), making room (make_room) when it would take the cache over the
 * budget.
 */
static enum tdns_status put_in_txn(struct tdns_txn *t, const struct budget *b,
				   const struct ckey *ck,
				   const struct tdns_cache_value *v, uint64_t *bytes)
{
	struct tdns_val old, nv = { v->data, v->len };
	uint64_t minus = 0, plus = ck->len + v->len;
	enum tdns_status st;

	/* Most answers are new keys: when the budget allows the value even
	 * without counting an old one, insert in one B-tree descent; only a
	 * key already there (a refresh) costs a second. */
	if (b->max_bytes == 0 || *bytes + plus <= b->max_bytes) {
		st = store_put_new(t, TDNS_DB_CACHE, ck->b, ck->len, v->data,
				   v->len, &old);
		if (st == TDNS_EEXIST) {
			/* The new value replaces the old one. */
			minus = ck->len + old.len;
			st = idx_del(t, value_expiry(&old), ck->b + 4, ck->len - 4);
			if (st == TDNS_OK)
				st = store_put(t, TDNS_DB_CACHE, ck->b, ck->len,
					       v->data, v->len);
		}
	} else {
		st = make_room(t, b, ck, plus, bytes);
		if (st == TDNS_OK)
			st = store_put(t, TDNS_DB_CACHE, ck->b, ck->len, v->data,
				       v->len);
	}
	if (st == TDNS_OK)
		st = idx_put(t, value_expiry(&nv), ck->b + 4, ck->len - 4);
	if (st == TDNS_OK)
		*bytes = *bytes + plus > minus ? *bytes + plus - minus : 0;
	return st;
}

/* Put the values of puts[0..n) that are still TDNS_OK, with the index and
 * the size account, in one write transaction: all of them or none. */
static enum tdns_status put_accounted(struct tdns_store *s, const struct budget *b,
				      struct tdns_cache_put *puts, size_t n)
{
	struct tdns_txn *t = NULL;
	uint64_t bytes = 0, before, id = 0;
	struct ckey ck;
	enum tdns_status st;

	st = store_begin(s, true, &t);
	if (st == TDNS_OK) {
		id = store_write_id(t);
		st = idx_ready(t);
	}
	if (st == TDNS_OK)
		st = bytes_get(t, &bytes);
	before = bytes;
	for (size_t i = 0; st == TDNS_OK && i < n; i++) {
		if (puts[i].st != TDNS_OK)
			continue;
		ckey_of(&ck, puts[i].qkey, puts[i].qkey_len, puts[i].qtype);
		st = put_in_txn(t, b, &ck, puts[i].v, &bytes);
		puts[i].stored_in = st == TDNS_OK ? id : 0;
		if (st == TDNS_EBUSY)
			st = TDNS_OK; /* not admitted (make_room): the policy */
	}
	if (st == TDNS_OK && bytes != before)
		st = bytes_set(t, bytes);
	if (st == TDNS_OK) {
		st = store_commit(t);
		t = NULL;
	}
	store_abort(t);
	return st;
}

/* What cache_store refuses before touching the store. */
static enum tdns_status put_check(const struct tdns_cache_cfg *cfg,
				  const struct tdns_cache_put *p)
{
	uint64_t max_bytes = cfg != NULL ? cfg->max_bytes : 0;

	if (p->v == NULL || !p->v->cacheable || p->v->data == NULL ||
	    p->qkey_len > NAME_KEY_MAX)
		return TDNS_EINVAL;
	if (max_bytes != 0 && p->v->len + CACHE_KEY_MAX > max_bytes / 4)
		return TDNS_ESPACE; /* one answer may not crowd out the cache */
	return TDNS_OK;
}

/* The budget of a write at now under cfg. RFC 8767 5: with serve-stale,
 * expired entries stay for the stale window; they are still the first to
 * go when space is short, being the soonest-expiring. */
static struct budget budget_of(const struct tdns_cache_cfg *cfg, uint64_t now)
{
	uint32_t keep = cfg != NULL ? cfg->keep_stale : 0;
	struct budget b = {
		.max_bytes = cfg != NULL ? cfg->max_bytes : 0,
		.dead = now > keep ? now - keep : 0,
	};

	if (b.max_bytes != 0)
		b.sk = cfg->sketch;

	return b;
}

enum tdns_status cache_store(struct tdns_store *s, const struct tdns_cache_cfg *cfg,
			     const uint8_t *qkey, size_t qkey_len, uint16_t qtype,
			     const struct tdns_cache_value *v, uint64_t now)
{
	struct budget b = budget_of(cfg, now);
	struct tdns_cache_put p = {
		.qkey = qkey, .qkey_len = qkey_len, .qtype = qtype, .v = v,
	};
	struct tdns_txn *t = NULL;
	size_t count;
	enum tdns_status st;

	st = p.st = put_check(cfg, &p);
	if (st != TDNS_OK)
		goto out;
	for (unsigned round = 0; round < EVICT_ROUNDS; round++) {
		st = put_accounted(s, &b, &p, 1);
		if (st != TDNS_EFULL)
			goto out;
		/* The map itself is full (the budget is too large for it, or
		 * static zones grew): escalate, an eighth, then half, then
		 * all of the entries. */
		count = 0;
		if (store_begin(s, false, &t) == TDNS_OK)
			count = store_count(t, TDNS_DB_CACHE);
		store_abort(t);
		t = NULL;
		st = evict_full(s, b.dead,
				round == 0 ? count / 8 + 1
				: round == 1 ? count / 2 + 1 : count);
		if (st != TDNS_OK)
			goto out;
		st = TDNS_EFULL;
	}
out:
	return st;
}

enum tdns_status cache_store_many(struct tdns_store *s,
				  const struct tdns_cache_cfg *cfg,
				  struct tdns_cache_put *puts, size_t n,
				  uint64_t now)
{
	struct budget b = budget_of(cfg, now);
	enum tdns_status st = TDNS_OK, batch = TDNS_OK;
	size_t i, ok = 0;

	for (i = 0; i < n; i++) {
		puts[i].stored_in = 0;
		if ((puts[i].st = put_check(cfg, &puts[i])) == TDNS_OK)
			ok++;
	}
	/* The common case: everything fits, evictions included, one
	 * commit. Out of map (or budget): one by one, each with
	 * cache_store's fallback. Any other failure is every entry's. */
	if (ok > 0)
		batch = put_accounted(s, &b, puts, n);
	for (i = 0; batch != TDNS_OK && i < n; i++) {
		puts[i].stored_in = 0;
		if (puts[i].st != TDNS_OK)
			continue;
		if (batch == TDNS_ESPACE || batch == TDNS_EFULL)
			puts[i].st = cache_store(s, cfg, puts[i].qkey, puts[i].qkey_len,
						 puts[i].qtype, puts[i].v, now);
		else
			puts[i].st = batch;
	}
	for (i = 0; i < n && st == TDNS_OK; i++)
		st = puts[i].st;
	return st;
}

/* Print one entry: a comment with the question, then its records. */
static enum tdns_status dump_entry(const struct tdns_val *k,
				   const struct tdns_val *v, uint64_t now,
				   FILE *out)
{
	uint8_t wire[NAME_WIRE_MAX];
	size_t klen, wlen;
	uint16_t qtype;
	ldns_pkt *p = NULL;
	ldns_rdf *qname = NULL;
	char *qstr = NULL, *tstr = NULL;
	const ldns_lookup_table *rc;
	enum tdns_status st = TDNS_EINVAL;

	if (!ckey_valid(k->data, k->len) ||
	    !name_record_key_split(k->data + 4, k->len - 4, &klen, &qtype) ||
	    name_key_to_wire(k->data + 4, klen, wire, &wlen) != TDNS_OK)
		goto out;
	p = ldns_pkt_new();
	qname = ldns_dname_new_frm_data((uint16_t)wlen, wire);
	if (p == NULL || qname == NULL) {
		st = TDNS_ENOMEM;
		goto out;
	}
	st = cache_value_render(v->data, v->len, now, p);
	if (st != TDNS_OK)
		goto out;
	qstr = ldns_rdf2str(qname);
	tstr = ldns_rr_type2str((ldns_rr_type)qtype);
	rc = ldns_lookup_by_id(ldns_rcodes, (int)ldns_pkt_get_rcode(p));
	fprintf(out, "; %s %s %s, expires in %llu s\n", qstr ? qstr : "?",
		tstr ? tstr : "?", rc ? rc->name : "?",
		(unsigned long long)(value_expiry(v) - now));
	for (size_t i = 0; i < ldns_pkt_ancount(p); i++)
		ldns_rr_print(out, ldns_rr_list_rr(ldns_pkt_answer(p), i));
	for (size_t i = 0; i < ldns_pkt_nscount(p); i++)
		ldns_rr_print(out, ldns_rr_list_rr(ldns_pkt_authority(p), i));
out:
	free(qstr);
	free(tstr);
	ldns_rdf_deep_free(qname);
	ldns_pkt_free(p);
	return st;
}

enum tdns_status cache_dump(struct tdns_txn *t, uint64_t now, FILE *out)
{
	struct tdns_cursor *c = NULL;
	struct tdns_val k, v;
	size_t live = 0;
	enum tdns_status st;

	st = store_cursor_open(t, TDNS_DB_CACHE, &c);
	if (st != TDNS_OK)
		goto out;
	for (st = store_cursor_seek(c, NULL, 0, &k, &v); st == TDNS_OK;
	     st = store_cursor_next(c, &k, &v)) {
		if (value_expiry(&v) <= now)
			continue;
		if (dump_entry(&k, &v, now, out) == TDNS_OK)
			live++;
		else
			fprintf(out, "; (unreadable cache entry skipped)\n");
	}
	if (st != TDNS_ENOTFOUND)
		goto out;
	fprintf(out, "; %zu cached entr%s\n", live, live == 1 ? "y" : "ies");
	st = TDNS_OK;
out:
	store_cursor_close(c);
	return st;
}

/* ---- flushing (the operator's cache commands) ---- */

/* A negative answer (NXDOMAIN, or NODATA: a SOA in authority, cache.h);
 * an unreadable value counts as one (it is never served). */
static bool value_negative(const struct tdns_val *v)
{
	if (hdr_len(v->data, v->len) == 0)
		return true;
	return v->data[1] == DNS_RCODE_NXDOMAIN || dns_rd16(v->data + 12) > 0;
}

/* Does the entry of record key rkey and value v fall under the flush? */
static bool flush_match(const uint8_t *rkey, size_t rlen, const struct tdns_val *v,
			enum cache_flush_what what, const uint8_t *qkey,
			size_t qkey_len)
{
	size_t klen;
	uint16_t type;

	switch (what) {
	case CACHE_FLUSH_NAME:
		return name_record_key_split(rkey, rlen, &klen, &type) &&
		       klen == qkey_len && memcmp(rkey, qkey, qkey_len) == 0;
	case CACHE_FLUSH_TREE:
		/* name.h: a key is a prefix of its descendants' at a label
		 * boundary, and the record key adds 0x00 and the type. */
		return rlen > qkey_len && memcmp(rkey, qkey, qkey_len) == 0;
	case CACHE_FLUSH_NEGATIVE:
		return value_negative(v);
	case CACHE_FLUSH_ALL:
		break;
	}
	return true;
}

enum tdns_status cache_flush(struct tdns_txn *t, enum cache_flush_what what,
			     const uint8_t *qkey, size_t qkey_len, uint16_t qtype,
			     size_t *removed)
{
	struct cache_flush_walk w = { .len = 0 };

	return cache_flush_step(t, what, qkey, qkey_len, qtype, 0, &w, removed);
}

enum tdns_status cache_flush_step(struct tdns_txn *t, enum cache_flush_what what,
				  const uint8_t *qkey, size_t qkey_len,
				  uint16_t qtype, size_t step,
				  struct cache_flush_walk *w, size_t *removed)
{
	struct tdns_cursor *c = NULL;
	struct tdns_val k, v;
	struct ckey ck, range;
	uint64_t bytes = 0, before;
	size_t n = 0, plen = 0, visited = 0;
	bool more = false;
	enum tdns_status st;

	if (removed != NULL)
		*removed = 0;
	if (what != CACHE_FLUSH_NEGATIVE && what != CACHE_FLUSH_ALL &&
	    (qkey == NULL || qkey_len > NAME_KEY_MAX))
		return TDNS_EINVAL;
	if (w->done)
		return TDNS_OK;
	if (what == CACHE_FLUSH_ALL) {
		n = store_count(t, TDNS_DB_CACHE);
		st = clear_in_txn(t);
		goto out;
	}
	st = idx_ready(t);
	if (st == TDNS_OK)
		st = bytes_get(t, &bytes);
	before = bytes;
	/* A name's entries are a range of the cache (struct ckey): the keys
	 * that start with its cache key, of the type, or for every type that
	 * key less the type. Anything else walks the whole cache: it is in
	 * hash order, so the entries of a subtree lie anywhere in it
	 * (Unbound's flush_zone walks its whole cache too). */
	if (what == CACHE_FLUSH_NAME) {
		ckey_of(&range, qkey, qkey_len, qtype);
		plen = qtype != 0 ? range.len : range.len - 2;
		step = 0;
	}
	if (st == TDNS_OK)
		st = store_cursor_open(t, TDNS_DB_CACHE, &c);
	if (st == TDNS_OK)
		st = plen > 0 ? store_cursor_seek(c, range.b, plen, &k, &v)
			      : store_cursor_seek(c, w->len > 0 ? w->key : NULL,
						  w->len, &k, &v);
	while (st == TDNS_OK) {
		if (plen > 0 && (k.len < plen || memcmp(k.data, range.b, plen) != 0))
			break; /* past the name's range */
		if (k.len <= 4 || k.len > CACHE_KEY_MAX) {
			/* Not a cache key: it counts towards the step, but a
			 * step ends only where a cache key can resume it. */
			visited++;
			st = store_cursor_next(c, &k, &v);
			continue;
		}
		if (step != 0 && visited >= step) {
			/* The next step seeks to this key, or the one after it
			 * if it goes in between. */
			w->len = k.len;
			memcpy(w->key, k.data, k.len);
			more = true;
			break;
		}
		visited++;
		if (!flush_match(k.data + 4, k.len - 4, &v, what, qkey, qkey_len)) {
			st = store_cursor_next(c, &k, &v);
			continue;
		}
		ck.len = k.len;
		memcpy(ck.b, k.data, k.len);
		st = unindex(t, &ck, &v, &bytes);
		if (st != TDNS_OK)
			break;
		/* LMDB: MDB_NEXT after a deletion yields the entry that
		 * followed the deleted one (idx_rebuild relies on it too). */
		st = store_cursor_del(c);
		if (st == TDNS_OK) {
			n++;
			st = store_cursor_next(c, &k, &v);
		}
	}
	if (st == TDNS_ENOTFOUND)
		st = TDNS_OK;
	if (st == TDNS_OK && bytes != before)
		st = bytes_set(t, bytes);
out:
	store_cursor_close(c);
	if (st == TDNS_OK) {
		w->done = !more;
		if (removed != NULL)
			*removed = n;
	}
	return st;
}

/* ---- the answer descriptor (answer.h) ---- */

/* Both uncompressed, validated wire names: equal ignoring ASCII case? */
static bool name_eq(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	return alen == blen && dns_caseeq(a, b, alen);
}

/* RFC 4035 3.2.1: the DNSSEC records a DO=0 query is not given, unless
 * it asked for that type. */
static bool dnssec_only(uint16_t type)
{
	return type == DNS_TYPE_RRSIG || type == DNS_TYPE_NSEC || type == DNS_TYPE_NSEC3;
}

/*
 * The records of val from pos on into a (cache_value_answer), less the
 * DNSSEC records a DO=0 query is not given. dnssec: the value was
 * validated, and its RRSIGs are tied to their RRset. Always inlined with
 * a constant dnssec, so an unvalidated hit pays nothing for the ties.
 */
static inline __attribute__((always_inline)) enum tdns_status
answer_records(const uint8_t *val, size_t len, size_t pos, uint64_t now,
	       uint32_t expired_ttl, const struct tdns_qctx *q, struct tdns_answer *a,
	       bool dnssec)
{
	struct tdns_ans_rrset *e = NULL;
	const uint8_t *e_owner = NULL;
	size_t nlen = 0, rdlen, e_nlen = 0;
	unsigned an = dns_rd16(val + 10), ns = dns_rd16(val + 12), i;

	for (i = 0; i < an + ns; i++) {
		uint8_t sec = i < an ? ANS_ANSWER : ANS_AUTHORITY;
		const uint8_t *rec = val + pos;
		uint16_t type, rclass;
		uint64_t exp, left;
		uint32_t ttl;

		if (!record_bounds(val, len, pos, &nlen, &rdlen))
			return TDNS_EINVAL;
		type = dns_rd16(rec + nlen);
		rclass = dns_rd16(rec + nlen + 2);
		exp = dns_rd64(rec + nlen + 4);
		left = exp > now ? exp - now : expired_ttl;
		ttl = (uint32_t)(left > 0x7fffffffu ? 0x7fffffffu : left);
		pos += nlen + CACHE_REC_FIXED + rdlen;
		/* RFC 4035 3.2.1, for every value: an unvalidated one holds
		 * what an upstream sent, DNSSEC records asked for by a DO=1
		 * client or sent unasked. */
		if (!q->edns_do && dnssec_only(type) && type != q->qtype)
			continue;
		/* Consecutive records of one RRset form one entry (they were
		 * cached with one TTL, RFC 2181 5.2; the smallest is kept). */
		if (e != NULL && e->section == sec && e->type == type &&
		    e->rclass == rclass && e_nlen == nlen &&
		    memcmp(e_owner, rec, nlen) == 0) {
			e->count++;
			e->rdata_len = (size_t)(val + pos - e->rdata);
			if (ttl < e->ttl)
				e->ttl = ttl;
			continue;
		}
		/* An owner equal to the question is written as a pointer to it,
		 * in the client's case (RFC 4343 4). The encoder skips the
		 * owner, type, class and expiry before each rdlength. */
		e = answer_add(a, sec,
			       name_eq(rec, nlen, q->qname, q->qname_len) ? NULL
									  : rec,
			       type, rclass, ttl,
			       (uint16_t)(nlen + CACHE_REC_FIXED - 2), 1, rec,
			       (size_t)(val + pos - rec));
		if (e == NULL)
			return TDNS_OK; /* a->tc says the rest is missing */
		/* Signatures follow the RRset they cover (cache_value_build)
		 * and go into a reply with it or not at all. */
		if (dnssec && type == DNS_TYPE_RRSIG && q->qtype != DNS_TYPE_RRSIG && a->n > 1 &&
		    a->rrsets[a->n - 2].section == sec)
			e->flags |= ANS_F_SIGS;
		e_owner = rec;
		e_nlen = nlen;
	}
	return pos == len ? TDNS_OK : TDNS_EINVAL;
}

enum tdns_status cache_value_answer(const uint8_t *val, size_t len, uint64_t now,
				    uint32_t expired_ttl,
				    const struct tdns_qctx *q,
				    struct tdns_answer *a)
{
	size_t hl = hdr_len(val, len);
	enum tdns_status st;
	uint8_t status;

	if (hl == 0 || val[1] > 0x0f)
		return TDNS_EINVAL;
	a->rcode = val[1];
	status = hl >= CACHE_HDR_V2_LEN ? val[14] : VALID_UNCHECKED;
	a->dnssec = status;
	if (status == VALID_UNCHECKED)
		return answer_records(val, len, hl, now, expired_ttl, q, a, false);
	st = answer_records(val, len, hl, now, expired_ttl, q, a, true);
	if (st != TDNS_OK)
		return st;
	/* RFC 4035 3.2.3: AD for data validated secure when the query asked
	 * with DO or AD; 4.7 / RFC 9520: bogus data only to CD=1. */
	if (status == VALID_BOGUS && !q->cd)
		answer_fail(a, DNS_RCODE_SERVFAIL, val[15], "DNSSEC validation failed");
	else if (status == VALID_SECURE && (q->edns_do || q->ad))
		a->ad = true;
	return TDNS_OK;
}

uint64_t cache_entry_token(const struct tdns_store *s, const uint8_t *qkey, size_t qkey_len,
			   uint16_t qtype)
{
	struct ckey ck;

	if (qkey_len > NAME_KEY_MAX)
		return 0;
	ckey_of(&ck, qkey, qkey_len, qtype);
	return store_key_token(s, TDNS_DB_CACHE, ck.b, ck.len);
}

bool cache_token_unchanged(const struct tdns_txn *t, uint64_t token, uint64_t since)
{
	return store_token_unchanged(t, TDNS_DB_CACHE, token, since);
}

void cache_value_times(const uint8_t *val, size_t len, struct cache_times *ct)
{
	ct->expiry = dns_rd64(val + 2);
	ct->due_at = ct->expiry;
	if (hdr_len(val, len) == CACHE_HDR_LEN)
		ct->due_at -= dns_rd32(val + 16) / 10;
}

enum tdns_status cache_answer(struct tdns_txn *t, const struct tdns_qctx *q,
			      uint64_t now, struct cache_times *times, struct tdns_answer *a)
{
	struct tdns_val v;
	enum tdns_status st;

	if (q->qclass != DNS_CLASS_IN || !qtype_cacheable(q->qtype))
		return TDNS_ENOTFOUND;
	st = value_get(t, q->qkey, q->qkey_len, q->qtype, now, 0, &v);
	if (st != TDNS_OK)
		return st;
	if (times != NULL)
		cache_value_times(v.data, v.len, times);
	return cache_value_answer(v.data, v.len, now, 0, q, a);
}
