/*
 * auth.c - authoritative answers from the zones in a store: RFC 1034 4.3.2
 * (with RFC 2308 negative answers, RFC 4592 wildcards, RFC 6604 CNAME
 * chain rcodes), CHAOS identity (RFC 4892) and the upper tier's query
 * stage. The lookup fills an answer descriptor (answer.h) with views into
 * the read snapshot; encode.h writes the bytes. The store is read through
 * zonedb.h only.
 *
 * Choices an operator may ask about:
 *   - Responses are minimal (like NSD's minimal-responses): no zone NS
 *     RRset in the authority section of positive answers and no additional
 *     records for MX/SRV targets. Referrals carry their glue, NS answers the
 *     addresses of in-zone servers; both only from the answering zone.
 *   - ANY returns every RRset at the name. RFC 8482 allows answering with a
 *     subset (NSD 4.6 sends one RRset); without DNSSEC data the full set
 *     stays small, and it is what a user asking ANY expects to see.
 *   - Owner names: records owned by the query name carry the client's case
 *     (RFC 4343 asks no more, and it keeps compression pointing at the
 *     question); CNAME chain targets and glue use the case stored in the
 *     rdata that named them; other owners (zone apex, delegation point) are
 *     written from the canonical key, i.e. lower case.
 */
#include "tierdns/auth.h"

#include <stdbool.h>
#include <string.h>

#include "tierdns/clock.h"
#include "tierdns/dnsproto.h"
#include "tierdns/log.h"
#include "tierdns/name.h"
#include "tierdns/pipeline.h"
#include "tierdns/rrset.h"
#include "tierdns/xfr.h"

#define AUTH_MAX_CHAIN 8 /* CNAME hops followed before we stop */
#define SOA_FIXED_LEN 20 /* serial refresh retry expire minimum */
#define TYPE_NSEC3PARAM 51 /* RFC 5155 4 */
#define NSEC3_SHA1 1       /* RFC 5155 11, the only hash algorithm */
#define NSEC3_MAX_ITER 2500 /* RFC 5155 10.3's highest; more is refused */
#define PROOF_MAX 8        /* denial RRsets of one answer, at most 4 used */

/* One step of the answer: the name being looked up and its zone. */
struct step {
	const uint8_t *owner; /* wire name as it appears in the reply; NULL:
			       * the question name */
	const uint8_t *key;   /* its canonical key */
	size_t klen;
	size_t apex_len;      /* key[0..apex_len) is the zone apex */
	bool has_cuts;        /* the zone may hold delegations */
	bool dnssec;          /* the query has DO (RFC 3225): signatures and
			       * denial proofs go along (RFC 4035 3.1) */
};

/* The denial RRsets already in the answer (by their value in the
 * snapshot), so that one that proves two things goes in once. */
struct proof {
	const uint8_t *added[PROOF_MAX];
	size_t n;
};

/* What a caller already read of the qtype RRset at a name. */
enum known {
	KNOWN_NOTHING = 0,
	KNOWN_FOUND,
	KNOWN_ABSENT,
};

/* How a step ended. */
enum step_end {
	STEP_DONE = 0,   /* the answer is complete for this name */
	STEP_FOLLOW,     /* a CNAME was added; follow its target */
};

static struct tdns_ans_rrset *add_view(struct tdns_answer *a,
				       enum ans_section sec,
				       const uint8_t *owner, uint16_t type,
				       uint32_t ttl,
				       const struct tdns_rrset_view *v)
{
	return answer_add(a, sec, owner, type, DNS_CLASS_IN, ttl, ANS_REC_PACKED,
			  v->count, v->data, v->data_len);
}

/* The signatures of v (RFC 4035 3.1.1) right after the entry e of v.
 * Out of line: DO=0 answers must not pay for it (add_set inlines). */
static void __attribute__((noinline)) add_sigs(struct tdns_answer *a, enum ans_section sec,
		     const uint8_t *owner, const struct tdns_ans_rrset *e,
		     const struct tdns_rrset_view *v)
{
	struct tdns_ans_rrset *g;

	if (e == NULL || v->sig_count == 0)
		return;
	g = answer_add(a, sec, owner, DNS_TYPE_RRSIG, DNS_CLASS_IN, v->sig_ttl,
		       ANS_REC_PACKED, v->sig_count, v->sig_data, v->sig_len);
	if (g != NULL)
		g->flags |= ANS_F_SIGS;
}

/* An RRset of the step's answer, with its signatures when DO is set. */
static inline struct tdns_ans_rrset *add_set(struct tdns_answer *a,
				      const struct step *s,
				      enum ans_section sec, const uint8_t *owner,
				      uint16_t type, uint32_t ttl,
				      const struct tdns_rrset_view *v)
{
	struct tdns_ans_rrset *e = add_view(a, sec, owner, type, ttl, v);

	if (s->dnssec)
		add_sigs(a, sec, owner, e, v);
	return e;
}

/*
 * The zone's SOA in the authority section of a negative answer, with TTL
 * min(SOA TTL, SOA MINIMUM) (RFC 2308 3), and its signatures for DO (RFC
 * 4035 3.1.3). A zone without SOA is broken; the answer then goes out
 * without one rather than not at all.
 */
static enum tdns_status add_negative_soa(struct tdns_txn *t,
					 struct tdns_answer *a,
					 const struct step *s)
{
	struct tdns_ans_rrset *e;
	struct tdns_rrset_view v;
	const uint8_t *rdata, *owner;
	uint16_t rdlen;
	size_t pos = 0;
	uint32_t minimum;
	enum tdns_status st;

	st = zonedb_get_rrset(t, s->key, s->apex_len, DNS_TYPE_SOA, &v);
	if (st == TDNS_ENOTFOUND) {
		log_warn("zone without SOA: negative answer has no authority");
		return TDNS_OK;
	}
	if (st != TDNS_OK)
		return st;
	/* Names in stored rdata are uncompressed: MINIMUM is the last field. */
	if (!rrset_next(&v, &pos, &rdata, &rdlen) || rdlen < SOA_FIXED_LEN + 2)
		return TDNS_EINVAL;
	minimum = dns_rd32(rdata + rdlen - 4);
	owner = answer_name_from_key(a, s->key, s->apex_len);
	if (owner == NULL)
		return TDNS_ESPACE;
	e = add_view(a, ANS_AUTHORITY, owner, DNS_TYPE_SOA,
		     v.ttl < minimum ? v.ttl : minimum, &v);
	/* Its signatures are capped alike (as NSD does): a resolver caches
	 * the negative answer's records for as long as the shortest. */
	if (s->dnssec && v.sig_count > 0 && v.sig_ttl > minimum)
		v.sig_ttl = minimum;
	if (s->dnssec)
		add_sigs(a, ANS_AUTHORITY, owner, e, &v);
	return TDNS_OK;
}

/* ---- denial of existence (RFC 4035 3.1.3, RFC 5155 7.2) ---------------- */

/* How the zone of a step denies: NSEC3 with these parameters when its
 * apex has an NSEC3PARAM (RFC 5155 4), else NSEC (if it has a chain). */
struct denial {
	bool nsec3;
	uint16_t iterations;
	uint8_t salt_len;
	const uint8_t *salt;
};

static enum tdns_status denial_mode(struct tdns_txn *t, const struct step *s,
				    struct denial *d)
{
	struct tdns_rrset_view v;
	const uint8_t *rd;
	uint16_t rdlen;
	size_t pos = 0;
	enum tdns_status st;

	memset(d, 0, sizeof(*d));
	st = zonedb_get_rrset(t, s->key, s->apex_len, TYPE_NSEC3PARAM, &v);
	if (st == TDNS_ENOTFOUND)
		return TDNS_OK;
	if (st != TDNS_OK)
		return st;
	/* Hash algorithm, flags, iterations, salt length, salt. */
	while (rrset_next(&v, &pos, &rd, &rdlen)) {
		if (rdlen < 5 || rdlen != 5u + rd[4] || rd[0] != NSEC3_SHA1 ||
		    dns_rd16(rd + 2) > NSEC3_MAX_ITER)
			continue;
		d->nsec3 = true;
		d->iterations = dns_rd16(rd + 2);
		d->salt_len = rd[4];
		d->salt = rd + 5;
		return TDNS_OK;
	}
	log_warn("auth: NSEC3PARAM with an unknown hash or too many "
		 "iterations: no NSEC3 proofs");
	return TDNS_OK;
}

/* Put one denial RRset (owner key, NSEC or NSEC3) into authority with its
 * signatures, unless it is there already. */
static enum tdns_status add_denial_set(struct tdns_answer *a,
				       const struct step *s, struct proof *p,
				       const uint8_t *okey, size_t olen,
				       uint16_t type,
				       const struct tdns_rrset_view *v)
{
	const uint8_t *owner;
	size_t i;

	for (i = 0; i < p->n; i++)
		if (p->added[i] == v->data)
			return TDNS_OK;
	if (p->n < PROOF_MAX)
		p->added[p->n++] = v->data;
	owner = answer_name_from_key(a, okey, olen);
	if (owner == NULL)
		return TDNS_ESPACE;
	add_set(a, s, ANS_AUTHORITY, owner, type, v->ttl, v);
	return TDNS_OK;
}

/* NSEC: the record matching or covering the name key, added. A zone
 * without an NSEC chain adds nothing. */
static enum tdns_status nsec_prove(struct tdns_txn *t, struct tdns_answer *a,
				   const struct step *s, struct proof *p,
				   const uint8_t *key, size_t klen)
{
	struct tdns_rrset_view v;
	const uint8_t *okey;
	size_t olen;
	bool exact;
	enum tdns_status st;

	st = zonedb_denial_find(t, s->key, s->apex_len, ZONEDB_NSEC, key, klen,
				&okey, &olen, &exact, &v);
	if (st == TDNS_ENOTFOUND)
		return TDNS_OK;
	if (st != TDNS_OK)
		return st;
	return add_denial_set(a, s, p, okey, olen, DNS_TYPE_NSEC, &v);
}

/* NSEC3: look the name up in the chain (*exact: a record matches it);
 * with add, put the record found (matching or covering) into the answer.
 * A zone without an NSEC3 chain adds nothing. */
static enum tdns_status nsec3_prove(struct tdns_txn *t, struct tdns_answer *a,
				    const struct step *s, struct proof *p,
				    const struct denial *d, const uint8_t *key,
				    size_t klen, bool add, bool *exact)
{
	uint8_t label[ZONEDB_NSEC3_LABEL];
	struct tdns_rrset_view v;
	const uint8_t *okey;
	size_t olen;
	enum tdns_status st;

	*exact = false;
	/* SHA-1 through ldns (zonedb.h): only DO=1 negative and wildcard
	 * answers hash, never the DO=0 path. */
	st = zonedb_nsec3_label(d->iterations, d->salt, d->salt_len, key, klen,
				label);
	if (st != TDNS_OK)
		return st;
	st = zonedb_denial_find(t, s->key, s->apex_len, ZONEDB_NSEC3, label,
				sizeof(label), &okey, &olen, exact, &v);
	if (st == TDNS_ENOTFOUND)
		return TDNS_OK;
	if (st != TDNS_OK || !add)
		return st;
	return add_denial_set(a, s, p, okey, olen, DNS_TYPE_NSEC3, &v);
}

/*
 * RFC 5155 7.2.1 closest encloser proof for the name key: the NSEC3
 * matching the closest provable encloser and the one covering the next
 * closer name. *ce_len: the encloser's key length. From ce_hint (an
 * ancestor known to exist, or the name's length) upwards.
 */
static enum tdns_status nsec3_ce_proof(struct tdns_txn *t, struct tdns_answer *a,
				       const struct step *s, struct proof *p,
				       const struct denial *d, const uint8_t *key,
				       size_t klen, size_t ce_hint, size_t *ce_len)
{
	int labels = name_key_labels(key, ce_hint);
	int apex_labels = name_key_labels(key, s->apex_len);
	size_t plen = ce_hint;
	bool exact = false;
	enum tdns_status st;

	for (; labels >= apex_labels; labels--) {
		plen = name_key_prefix_len(key, klen, labels);
		st = nsec3_prove(t, a, s, p, d, key, plen, false, &exact);
		if (st != TDNS_OK)
			return st;
		if (exact)
			break;
	}
	*ce_len = plen;
	if (!exact)
		return TDNS_OK; /* no NSEC3 at the apex either: nothing to prove */
	st = nsec3_prove(t, a, s, p, d, key, plen, true, &exact);
	if (st != TDNS_OK || plen == klen)
		return st;
	return nsec3_prove(t, a, s, p, d, key,
			   name_key_prefix_len(key, klen, labels + 1), true, &exact);
}

/* *.<encloser>: the wildcard name key into wkey; 0 if it would not fit. */
static size_t wildcard_key(const uint8_t *key, size_t ce_len, uint8_t *wkey)
{
	if (ce_len + 2 > NAME_KEY_MAX)
		return 0;
	memcpy(wkey, key, ce_len);
	wkey[ce_len] = 1;
	wkey[ce_len + 1] = '*';
	return ce_len + 2;
}

/* What a denial proves, in the terms of RFC 5155 7.2 / RFC 4035 3.1.3. */
enum deny {
	DENY_NXDOMAIN = 0, /* no such name, no wildcard (ce: closest encloser) */
	DENY_NODATA,       /* the name exists without the type (or is an ENT) */
	DENY_WILD_ANSWER,  /* the answer came from the wildcard at *.ce */
	DENY_WILD_NODATA,  /* the wildcard at *.ce lacks the type */
	DENY_NO_DS,        /* a delegation without DS (the name is the cut) */
};

/* Add the proof of what the step's answer says about the name key (with
 * closest encloser ce_len where a wildcard or NXDOMAIN is involved). Only
 * for DO queries; a zone without a chain adds nothing. */
static enum tdns_status prove(struct tdns_txn *t, struct tdns_answer *a,
			      const struct step *s, enum deny what,
			      const uint8_t *key, size_t klen, size_t ce_len)
{
	uint8_t wkey[NAME_KEY_MAX];
	size_t wlen, ce = ce_len;
	struct proof p = { { NULL }, 0 };
	struct denial d;
	bool exact = false;
	enum tdns_status st;

	if (!s->dnssec)
		return TDNS_OK;
	st = denial_mode(t, s, &d);
	if (st != TDNS_OK)
		return st;
	wlen = what == DENY_NODATA || what == DENY_NO_DS ? 0
							 : wildcard_key(key, ce_len, wkey);
	if (!d.nsec3) {
		/* 3.1.3: the name's own NSEC (NODATA, no DS) or the one
		 * covering it (NXDOMAIN, wildcard, empty non-terminal), and
		 * for NXDOMAIN and wildcard NODATA the wildcard's (covering
		 * or matching it). */
		st = nsec_prove(t, a, s, &p, key, klen);
		if (st == TDNS_OK && wlen > 0 && what != DENY_WILD_ANSWER)
			st = nsec_prove(t, a, s, &p, wkey, wlen);
		return st;
	}
	switch (what) {
	case DENY_NODATA:
	case DENY_NO_DS:
		/* 7.2.3 / 7.2.7: the NSEC3 matching the name; without one
		 * (7.2.4, an opt-out delegation) the closest encloser proof. */
		st = nsec3_prove(t, a, s, &p, &d, key, klen, false, &exact);
		if (st != TDNS_OK)
			return st;
		if (exact)
			return nsec3_prove(t, a, s, &p, &d, key, klen, true, &exact);
		return nsec3_ce_proof(t, a, s, &p, &d, key, klen, klen, &ce);
	case DENY_WILD_ANSWER: {
		/* 7.2.6: the NSEC3 covering the next closer name. */
		int l = name_key_labels(key, ce_len);

		return nsec3_prove(t, a, s, &p, &d, key,
				   name_key_prefix_len(key, klen, l + 1), true,
				   &exact);
	}
	case DENY_WILD_NODATA:
		/* 7.2.5: closest encloser proof plus the wildcard's match. */
		st = nsec3_ce_proof(t, a, s, &p, &d, key, klen, ce_len, &ce);
		if (st == TDNS_OK && wlen > 0)
			st = nsec3_prove(t, a, s, &p, &d, wkey, wlen, true, &exact);
		return st;
	case DENY_NXDOMAIN:
		/* 7.2.2: closest encloser proof plus the wildcard's cover. */
		st = nsec3_ce_proof(t, a, s, &p, &d, key, klen, ce_len, &ce);
		if (st == TDNS_OK && (wlen = wildcard_key(key, ce, wkey)) > 0)
			st = nsec3_prove(t, a, s, &p, &d, wkey, wlen, true, &exact);
		return st;
	}
	return TDNS_OK;
}

/* The rdata of a single-name record (NS, CNAME) as a validated wire name. */
static const uint8_t *rdata_name(const uint8_t *rdata, uint16_t rdlen)
{
	return qctx_name_len(rdata, rdlen) == rdlen ? rdata : NULL;
}

/*
 * The addresses of the name servers of the NS RRset v into additional:
 * every A first, then every AAAA, so that on truncation IPv4 glue for all
 * servers survives longest (the order NSD uses). Only data of this zone
 * (below the cut or in-zone siblings) is ours to hand out here: not other
 * zones', even those served alongside (a resolver would rightly discard
 * them as out of bailiwick). required: the glue of a referral whose
 * targets lie below the cut (RFC 9471 3).
 */
static enum tdns_status add_glue(struct tdns_txn *t, struct tdns_answer *a,
				 const struct step *s,
				 const struct tdns_rrset_view *ns,
				 const uint8_t *cut, size_t cut_len, bool required)
{
	const uint8_t *apex = s->key;
	size_t apex_len = s->apex_len;
	static const uint16_t types[] = { DNS_TYPE_A, DNS_TYPE_AAAA };
	uint8_t key[NAME_KEY_MAX], prev[NAME_KEY_MAX];
	size_t klen = 0, plen = 0, i, pos, start, ppos;
	const uint8_t *rdata, *prd;
	uint16_t rdlen, prdlen;
	struct tdns_rrset_view v;
	struct tdns_ans_rrset *e;
	enum tdns_status st;
	bool deeper, dup;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		for (pos = 0, start = 0; rrset_next(ns, &pos, &rdata, &rdlen);
		     start = pos) {
			const uint8_t *target = rdata_name(rdata, rdlen);

			if (target == NULL ||
			    name_key_from_wire(target, rdlen, key, &klen) != TDNS_OK)
				return TDNS_EINVAL;
			if (!name_key_is_subdomain(key, klen, apex, apex_len))
				continue;
			/* A duplicate NS record in the stored RRset. */
			dup = false;
			for (ppos = 0; !dup && ppos < start &&
				       rrset_next(ns, &ppos, &prd, &prdlen);)
				dup = name_key_from_wire(prd, prdlen, prev,
							 &plen) == TDNS_OK &&
				      plen == klen && memcmp(prev, key, klen) == 0;
			if (dup)
				continue;
			st = zonedb_in_deeper_zone(t, apex, apex_len, key, klen, &deeper);
			if (st != TDNS_OK)
				return st;
			if (deeper)
				continue;
			st = zonedb_get_rrset(t, key, klen, types[i], &v);
			if (st == TDNS_ENOTFOUND)
				continue;
			if (st != TDNS_OK)
				return st;
			e = add_set(a, s, ANS_ADDITIONAL, target, types[i], v.ttl, &v);
			if (e != NULL && required && cut != NULL &&
			    name_key_is_subdomain(key, klen, cut, cut_len))
				e->flags |= ANS_F_REQUIRED;
		}
	}
	return TDNS_OK;
}

/*
 * RFC 1034 4.3.2 step 3b: the name is at or below a zone cut. The NS RRset
 * of the cut goes into authority with its glue in additional; AA is cleared
 * when nothing authoritative precedes it in the answer. For DO, the DS
 * RRset of the cut with its signatures follows the NS, or the proof that
 * the cut has none (RFC 4035 3.1.4, RFC 5155 7.2.7).
 */
static enum tdns_status add_referral(struct tdns_txn *t, struct tdns_answer *a,
				     const struct step *s, size_t cut_len,
				     const struct tdns_rrset_view *ns)
{
	const uint8_t *owner = s->owner;
	bool first = answer_count(a, ANS_ANSWER) == 0;
	struct tdns_rrset_view ds;
	enum tdns_status st;

	if (cut_len != s->klen) {
		owner = answer_name_from_key(a, s->key, cut_len);
		if (owner == NULL)
			return TDNS_ESPACE;
	}
	add_view(a, ANS_AUTHORITY, owner, DNS_TYPE_NS, ns->ttl, ns);
	if (first)
		a->aa = false;
	if (s->dnssec) {
		st = zonedb_get_rrset(t, s->key, cut_len, DNS_TYPE_DS, &ds);
		if (st == TDNS_OK)
			add_set(a, s, ANS_AUTHORITY, owner, DNS_TYPE_DS, ds.ttl, &ds);
		else if (st == TDNS_ENOTFOUND)
			st = prove(t, a, s, DENY_NO_DS, s->key, cut_len, cut_len);
		if (st != TDNS_OK)
			return st;
	}
	return add_glue(t, a, s, ns, s->key, cut_len, first);
}

/* The deepest zone cut (non-apex NS RRset) at or above the name, if any.
 * *cut_len is its key length. DS at the cut itself belongs to the parent
 * (RFC 4035 3.1.4.1), so that one query is not referred. */
static enum tdns_status find_cut(struct tdns_txn *t, const struct step *s,
				 uint16_t qtype, size_t *cut_len,
				 struct tdns_rrset_view *ns)
{
	int apex_labels = name_key_labels(s->key, s->apex_len);
	int labels = name_key_labels(s->key, s->klen);
	int l;

	if (apex_labels < 0 || labels < 0)
		return TDNS_EINVAL;
	/* Top-down: the highest cut is the one that takes us out of the zone. */
	for (l = apex_labels + 1; l <= labels; l++) {
		size_t plen = name_key_prefix_len(s->key, s->klen, l);
		enum tdns_status st;

		if (plen == s->klen && qtype == DNS_TYPE_DS)
			break;
		st = zonedb_get_rrset(t, s->key, plen, DNS_TYPE_NS, ns);
		if (st == TDNS_OK) {
			*cut_len = plen;
			return TDNS_OK;
		}
		if (st != TDNS_ENOTFOUND)
			return st;
	}
	return TDNS_ENOTFOUND;
}

struct any_ctx {
	struct tdns_answer *a;
	const struct step *s;
	bool sigs_only; /* qtype RRSIG: every signature at the name */
	bool added;
};

static int add_any_cb(void *arg, uint16_t type, const struct tdns_rrset_view *v)
{
	struct any_ctx *c = arg;

	/* A DS at a zone's apex is the parent side of the cut (zonedb.h). */
	if (type == DNS_TYPE_DS && c->s->klen == c->s->apex_len &&
	    c->s->apex_len > 0)
		return 0;
	if (!c->sigs_only) {
		add_set(c->a, c->s, ANS_ANSWER, c->s->owner, type, v->ttl, v);
	} else if (v->sig_count > 0) {
		answer_add(c->a, ANS_ANSWER, c->s->owner, DNS_TYPE_RRSIG,
			   DNS_CLASS_IN, v->sig_ttl, ANS_REC_PACKED, v->sig_count,
			   v->sig_data, v->sig_len);
		c->added = true;
	}
	return 0;
}

/*
 * Answer from the RRsets stored under data_key (the name itself, or the
 * wildcard that synthesizes it, RFC 4592 3.3.1), with owner s->owner.
 * known: what the caller already knows of the qtype RRset (have, when
 * found), so it is not read twice. On a CNAME,
 * *target receives its target, borrowed from the snapshot.
 */
static enum tdns_status answer_data(struct tdns_txn *t, struct tdns_answer *a,
				    const struct step *s,
				    const uint8_t *data_key, size_t data_klen,
				    uint16_t qtype, enum known known,
				    const struct tdns_rrset_view *have,
				    enum step_end *end, const uint8_t **target)
{
	struct tdns_rrset_view v;
	const struct tdns_rrset_view *found = &v;
	const uint8_t *rdata;
	uint16_t rdlen;
	size_t pos = 0;
	enum tdns_status st;

	*end = STEP_DONE;
	/* The common case first: the caller found the RRset (never for ANY
	 * or RRSIG, which are not stored as RRsets of their own). */
	if (known == KNOWN_FOUND) {
		found = have;
		st = TDNS_OK;
		goto data;
	}
	if (qtype == DNS_TYPE_ANY || qtype == DNS_TYPE_RRSIG) {
		/* RRSIGs live with the RRsets they cover (rrset.h): a query
		 * for them gathers every set's. */
		struct any_ctx c = { a, s, qtype == DNS_TYPE_RRSIG, false };

		st = zonedb_name_rrsets(t, data_key, data_klen, add_any_cb, &c,
					NULL);
		if (st != TDNS_OK || qtype == DNS_TYPE_ANY || c.added)
			return st;
		known = KNOWN_ABSENT;
	}
	if (known == KNOWN_ABSENT)
		st = TDNS_ENOTFOUND;
	else
		st = zonedb_get_rrset(t, data_key, data_klen, qtype, &v);
data:
	if (st == TDNS_OK) {
		add_set(a, s, ANS_ANSWER, s->owner, qtype, found->ttl, found);
		/* The addresses of in-zone name servers go along with an NS
		 * answer (RFC 1035 3.3.11 additional processing), as NSD
		 * does; they are optional and the first to go on truncation. */
		if (qtype == DNS_TYPE_NS)
			return add_glue(t, a, s, found, NULL, 0, false);
		return TDNS_OK;
	}
	if (st != TDNS_ENOTFOUND)
		return st;
	if (qtype != DNS_TYPE_CNAME) {
		st = zonedb_get_rrset(t, data_key, data_klen, DNS_TYPE_CNAME, &v);
		if (st == TDNS_OK) {
			if (!rrset_next(&v, &pos, &rdata, &rdlen) ||
			    (*target = rdata_name(rdata, rdlen)) == NULL)
				return TDNS_EINVAL;
			add_set(a, s, ANS_ANSWER, s->owner, DNS_TYPE_CNAME, v.ttl, &v);
			*end = STEP_FOLLOW;
			return TDNS_OK;
		}
		if (st != TDNS_ENOTFOUND)
			return st;
	}
	/* NODATA (RFC 2308 2.2), from the name or from its wildcard. */
	a->rcode = DNS_RCODE_NOERROR;
	st = add_negative_soa(t, a, s);
	if (st != TDNS_OK || !s->dnssec)
		return st;
	if (data_key != s->key)
		return prove(t, a, s, DENY_WILD_NODATA, s->key, s->klen,
			     data_klen - 2);
	/* A query for a wildcard owner itself is proved as a wildcard NODATA
	 * too (as NSD does): the encloser's NSEC3 joins the wildcard's. */
	if (s->klen >= 2 && s->key[s->klen - 2] == 1 &&
	    s->key[s->klen - 1] == '*' &&
	    name_key_prefix_len(s->key, s->klen,
				name_key_labels(s->key, s->klen) - 1) == s->klen - 2)
		return prove(t, a, s, DENY_WILD_NODATA, s->key, s->klen,
			     s->klen - 2);
	return prove(t, a, s, DENY_NODATA, s->key, s->klen, s->klen);
}

/*
 * RFC 4592 3.3.1: the closest encloser of a name that does not exist is its
 * deepest existing ancestor (the apex at worst); "*." under it is the source
 * of synthesis. *wlen is the wildcard's key length in wkey, 0 if none exists.
 */
static enum tdns_status find_wildcard(struct tdns_txn *t, const struct step *s,
				      uint8_t *wkey, size_t *wlen, size_t *ce_out)
{
	int apex_labels = name_key_labels(s->key, s->apex_len);
	int l = name_key_labels(s->key, s->klen) - 1;
	size_t ce_len = s->apex_len;
	unsigned state;
	enum tdns_status st;

	*wlen = 0;
	*ce_out = s->apex_len;
	for (; l > apex_labels; l--) {
		size_t plen = name_key_prefix_len(s->key, s->klen, l);

		st = zonedb_name_state(t, s->key, plen, &state);
		if (st != TDNS_OK)
			return st;
		if (state != ZONEDB_NAME_NONE) {
			ce_len = plen;
			break;
		}
	}
	*ce_out = ce_len;
	if (wildcard_key(s->key, ce_len, wkey) == 0)
		return TDNS_OK;
	st = zonedb_name_state(t, wkey, ce_len + 2, &state);
	if (st == TDNS_OK && (state & ZONEDB_NAME_DATA))
		*wlen = ce_len + 2;
	return st;
}

/* RFC 1034 4.3.2 step 3 for one name of the chain. */
static enum tdns_status answer_step(struct tdns_txn *t, struct tdns_answer *a,
				    const struct step *s, uint16_t qtype,
				    enum step_end *end, const uint8_t **target)
{
	struct tdns_rrset_view v;
	uint8_t wkey[NAME_KEY_MAX];
	size_t cut_len = 0, wlen = 0, ce_len = 0;
	unsigned state;
	enum tdns_status st;

	*end = STEP_DONE;
	if (s->has_cuts) {
		st = find_cut(t, s, qtype, &cut_len, &v);
		if (st == TDNS_OK)
			return add_referral(t, a, s, cut_len, &v);
		if (st != TDNS_ENOTFOUND)
			return st;
	}
	/* The common case first: the RRset asked for exists. */
	if (qtype != DNS_TYPE_ANY) {
		st = zonedb_get_rrset(t, s->key, s->klen, qtype, &v);
		if (st == TDNS_OK)
			return answer_data(t, a, s, s->key, s->klen, qtype,
					   KNOWN_FOUND, &v, end, target);
		if (st != TDNS_ENOTFOUND)
			return st;
	}
	st = zonedb_name_state(t, s->key, s->klen, &state);
	if (st != TDNS_OK)
		return st;
	if (state & ZONEDB_NAME_DATA)
		return answer_data(t, a, s, s->key, s->klen, qtype,
				   qtype == DNS_TYPE_ANY ? KNOWN_NOTHING
							 : KNOWN_ABSENT,
				   NULL, end, target);
	if (state & ZONEDB_NAME_CHILDREN) {
		/* An empty non-terminal exists: NODATA (RFC 4592 2.2.2). */
		a->rcode = DNS_RCODE_NOERROR;
		st = add_negative_soa(t, a, s);
		if (st != TDNS_OK)
			return st;
		return prove(t, a, s, DENY_NODATA, s->key, s->klen, s->klen);
	}
	st = find_wildcard(t, s, wkey, &wlen, &ce_len);
	if (st != TDNS_OK)
		return st;
	if (wlen > 0) {
		size_t before = a->n;

		a->wildcard = true;
		st = answer_data(t, a, s, wkey, wlen, qtype, KNOWN_NOTHING,
				 NULL, end, target);
		/* A synthesized answer proves that the name itself does not
		 * exist (RFC 4035 3.1.3.3, RFC 5155 7.2.6); a wildcard NODATA
		 * has proved its part in answer_data. */
		if (st != TDNS_OK || !s->dnssec || a->n == before ||
		    a->rrsets[before].section != ANS_ANSWER)
			return st;
		return prove(t, a, s, DENY_WILD_ANSWER, s->key, s->klen, ce_len);
	}
	/* RFC 6604 3: the rcode describes the last name of a CNAME chain. */
	a->rcode = DNS_RCODE_NXDOMAIN;
	st = add_negative_soa(t, a, s);
	if (st != TDNS_OK)
		return st;
	return prove(t, a, s, DENY_NXDOMAIN, s->key, s->klen, ce_len);
}

/*
 * Closest enclosing zone of the step's name (RFC 1034 4.3.2 step 2), except
 * that DS at a zone apex belongs to the parent side of the cut (RFC 4035
 * 3.1.4.1): when the parent zone is served here too, it answers.
 */
static enum tdns_status find_zone(struct zonedb_cache *zc, struct tdns_txn *t,
				  struct step *s, uint16_t qtype)
{
	struct tdns_zone_meta meta;
	enum tdns_status st;
	size_t parent_len, papex;
	int labels;

	s->has_cuts = true;
	if (zc != NULL)
		st = zonedb_cache_find(zc, t, s->key, s->klen, &s->apex_len,
				       &meta, &s->has_cuts);
	else
		st = zonedb_find(t, s->key, s->klen, &s->apex_len, &meta);
	if (st != TDNS_OK || qtype != DNS_TYPE_DS || s->apex_len != s->klen ||
	    s->klen == 0)
		return st;
	labels = name_key_labels(s->key, s->klen);
	if (labels < 1)
		return st;
	parent_len = name_key_prefix_len(s->key, s->klen, labels - 1);
	st = zonedb_find(t, s->key, parent_len, &papex, &meta);
	if (st == TDNS_OK) {
		s->apex_len = papex;
		s->has_cuts = true;
	}
	return st == TDNS_ENOTFOUND ? TDNS_OK : st;
}

enum auth_result auth_lookup(struct zonedb_cache *zc, struct tdns_txn *t,
			     const struct tdns_qctx *q, struct tdns_answer *a)
{
	uint8_t seen[AUTH_MAX_CHAIN][NAME_KEY_MAX];
	size_t seen_len[AUTH_MAX_CHAIN];
	uint8_t tkey[NAME_KEY_MAX];
	const uint8_t *target = NULL;
	struct step s;
	enum step_end end;
	enum tdns_status st;
	size_t hops, i, tlen = 0;

	s.owner = NULL;
	s.dnssec = q->edns && q->edns_do;
	s.key = q->qkey;
	s.klen = q->qkey_len;
	st = find_zone(zc, t, &s, q->qtype);
	if (st == TDNS_ENOTFOUND)
		return AUTH_NOT_AUTH;
	a->aa = true;
	a->rcode = DNS_RCODE_NOERROR;
	if (st != TDNS_OK)
		goto out;
	a->zone_klen = s.apex_len;
	for (hops = 0;; hops++) {
		memcpy(seen[hops], s.key, s.klen);
		seen_len[hops] = s.klen;
		st = answer_step(t, a, &s, q->qtype, &end, &target);
		if (st != TDNS_OK || end == STEP_DONE)
			goto out;
		/* RFC 1034 4.3.2 step 3a: restart at the CNAME's target - but
		 * only so far, only inside zones we serve, never in a loop. */
		if (hops + 1 >= AUTH_MAX_CHAIN)
			goto out;
		st = name_key_from_wire(target, NAME_WIRE_MAX, tkey, &tlen);
		if (st != TDNS_OK)
			goto out;
		for (i = 0; i <= hops; i++)
			if (seen_len[i] == tlen &&
			    memcmp(seen[i], tkey, tlen) == 0)
				goto out;
		s.owner = target;
		s.key = tkey;
		s.klen = tlen;
		st = find_zone(zc, t, &s, q->qtype);
		if (st == TDNS_ENOTFOUND) {
			st = TDNS_OK;
			goto out;
		}
		if (st != TDNS_OK)
			goto out;
	}
out:
	if (st != TDNS_OK) {
		log_err("auth: lookup failed: %s", tdns_strerror(st));
		answer_fail(a, DNS_RCODE_SERVFAIL, EDE_OTHER,
			    "store error while answering");
	}
	return AUTH_ANSWERED;
}

/* RFC 4892 2: the identity TXT records of the server, class CH. */
void auth_chaos(const struct tdns_auth_cfg *cfg, const struct tdns_qctx *q,
		struct tdns_answer *a)
{
	static const struct {
		const char *key;
		size_t klen;
		bool version;
	} names[] = {
		{ "\x04" "bind" "\x07" "version", 13, true },
		{ "\x06" "server" "\x07" "version", 15, true },
		{ "\x06" "server" "\x02" "id", 10, false },
		{ "\x04" "bind" "\x08" "hostname", 14, false },
	};
	const char *value = NULL;
	const uint8_t *rec;
	uint8_t buf[2 + 1 + 255];
	size_t i, len;
	bool known = false;

	a->rcode = DNS_RCODE_REFUSED;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (q->qkey_len == names[i].klen &&
		    memcmp(q->qkey, names[i].key, names[i].klen) == 0) {
			known = true;
			if (cfg != NULL)
				value = names[i].version ? cfg->version
							 : cfg->identity;
			break;
		}
	}
	if (!known || value == NULL)
		return;
	a->rcode = DNS_RCODE_NOERROR;
	a->aa = true;
	if (q->qtype != DNS_TYPE_TXT && q->qtype != DNS_TYPE_ANY)
		return; /* NODATA */
	len = strlen(value);
	if (len > 255)
		len = 255;
	/* One record in the rrset.h layout: u16 rdlength | <character-string>. */
	dns_wr16(buf, (uint16_t)(len + 1));
	buf[2] = (uint8_t)len;
	memcpy(buf + 3, value, len);
	rec = answer_keep(a, buf, len + 3);
	if (rec == NULL) {
		answer_fail(a, DNS_RCODE_SERVFAIL, EDE_OTHER, NULL);
		return;
	}
	answer_add(a, ANS_ANSWER, NULL, DNS_TYPE_TXT, DNS_CLASS_CH, 0,
		   ANS_REC_PACKED, 1, rec, len + 3);
}

void auth_query(struct zonedb_cache *zc, struct tdns_txn *t,
		const struct tdns_auth_cfg *cfg, const struct tdns_qctx *q,
		struct tdns_answer *a)
{
	if (q->qclass == DNS_CLASS_CH) {
		auth_chaos(cfg, q, a);
	} else if (q->qclass != DNS_CLASS_IN) {
		a->rcode = DNS_RCODE_REFUSED;
	} else if (q->qtype == DNS_TYPE_AXFR || q->qtype == DNS_TYPE_IXFR) {
		/* No zone transfers are offered. */
		a->rcode = DNS_RCODE_REFUSED;
	} else if (auth_lookup(zc, t, q, a) == AUTH_NOT_AUTH) {
		/* Not ours: REFUSED, AA and RA clear. */
		a->rcode = DNS_RCODE_REFUSED;
	} else if (q->qtype == DNS_TYPE_ANY && q->transport == QCTX_UDP &&
		   !cfg->full_any) {
		answer_minimal_any(a);
	}
}

struct auth_ctx {
	struct zonedb_cache *zc;
	struct tdns_txn *t;
	const struct tdns_auth_cfg *cfg;
	const struct auth_client *cl;
};

/* AXFR and IXFR (RFC 5936 4.2, RFC 1995): NOTAUTH for a name that is no
 * zone's apex here or a TSIG that does not verify, REFUSED to whoever the
 * zone's transfer lists do not name; over UDP an IXFR gets its SOA or TC
 * (xfr.h), an AXFR FORMERR (it is a TCP-only query); over TCP the caller
 * streams it. */
static enum pipeline_verdict xfr_stage(struct auth_ctx *c, const struct tdns_qctx *q,
				       struct tdns_answer *a)
{
	struct tdns_zone_meta m;
	size_t apex_len;
	enum tdns_status st;

	st = zonedb_find(c->t, q->qkey, q->qkey_len, &apex_len, &m);
	if (st != TDNS_OK && st != TDNS_ENOTFOUND) {
		answer_fail(a, DNS_RCODE_SERVFAIL, EDE_OTHER, "store unavailable");
		return PIPELINE_ANSWER;
	}
	if (st == TDNS_ENOTFOUND || apex_len != q->qkey_len) {
		a->rcode = DNS_RCODE_NOTAUTH;
		return PIPELINE_ANSWER;
	}
	switch (c->cfg->xfr_allowed == NULL || c->cl->peer == NULL ? AUTH_XFR_REFUSE
		: c->cfg->xfr_allowed(c->cfg->xfr_ctx, q->qkey, apex_len, c->cl->peer,
				      q->msg, q->len)) {
	case AUTH_XFR_REFUSE:
		answer_fail(a, DNS_RCODE_REFUSED, EDE_PROHIBITED, NULL);
		return PIPELINE_ANSWER;
	case AUTH_XFR_BADSIG:
		a->rcode = DNS_RCODE_NOTAUTH;
		return PIPELINE_ANSWER;
	case AUTH_XFR_ALLOW:
		break;
	}
	if (!c->cl->tcp) {
		if (q->qtype == DNS_TYPE_IXFR)
			xfr_udp_ixfr(c->t, q, a);
		else
			a->rcode = DNS_RCODE_FORMERR;
		return PIPELINE_ANSWER;
	}
	if (c->cl->xfr == NULL) {
		a->rcode = DNS_RCODE_REFUSED;
		return PIPELINE_ANSWER;
	}
	*c->cl->xfr = true;
	return PIPELINE_DEFER;
}

static enum pipeline_verdict query_stage(void *arg, const struct tdns_qctx *q,
					 struct tdns_answer *a)
{
	struct auth_ctx *c = arg;

	if (c->t == NULL)
		answer_fail(a, DNS_RCODE_SERVFAIL, EDE_OTHER, "store unavailable");
	else
		auth_query(c->zc, c->t, c->cfg, q, a);
	return PIPELINE_ANSWER;
}

/* The QUERY stage of a server with transfers, TSIG keys or secondary
 * zones (a pipeline of its own, so that a server without them pays
 * nothing): transfers to xfr_stage, the TSIG noted for the caller, and a
 * secondary zone past its expire time has nothing to say (RFC 1034
 * 4.3.5). */
static enum pipeline_verdict repl_query_stage(void *arg, const struct tdns_qctx *q,
					      struct tdns_answer *a)
{
	struct auth_ctx *c = arg;

	if (q->tsig && c->cl->tsig != NULL)
		*c->cl->tsig = true;
	if ((q->qtype == DNS_TYPE_AXFR || q->qtype == DNS_TYPE_IXFR) && c->t != NULL &&
	    q->qclass == DNS_CLASS_IN)
		return xfr_stage(c, q, a);
	query_stage(arg, q, a);
	if (c->cfg->secondary != NULL && a->zone_klen > 0 &&
	    secondary_expired(c->cfg->secondary, q->qkey, a->zone_klen))
		answer_fail(a, DNS_RCODE_SERVFAIL, EDE_OTHER, "zone expired");
	return PIPELINE_ANSWER;
}

/* NOTIFY (RFC 1996): for a secondary zone, from one of its primaries, an
 * SOA check at once and NOERROR; REFUSED from anyone else, NOTAUTH for a
 * zone we are no secondary for. A server with no secondary zone has no
 * NOTIFY stage (NOTIMP, pipeline.h). */
static enum pipeline_verdict notify_stage(void *arg, const struct tdns_qctx *q,
					  struct tdns_answer *a)
{
	struct auth_ctx *c = arg;

	secondary_notify_answer(c->cfg->secondary, q, c->cl->peer, a);
	return PIPELINE_ANSWER;
}

/* The EDNS options a reply carries whatever it says: a COOKIE
 * (cookie.h) and, on TCP, the idle timeout to a client that asks
 * (RFC 7828; over UDP the option is ignored). */
static enum pipeline_verdict edns_stage(void *arg, const struct tdns_qctx *q,
					struct tdns_answer *a)
{
	struct auth_ctx *c = arg;

	if (q->cookie_len > 0 && c->cfg->cookies != NULL && c->cl->peer != NULL) {
		cookie_answer(c->cfg->cookies, q, c->cl->peer, (uint32_t)clock_now(), a);
		if (c->cl->counters != NULL)
			cookie_count(&c->cl->counters->cookies, q, a);
	}
	if (q->keepalive && c->cl->tcp)
		a->keepalive = c->cl->keepalive;
	return PIPELINE_ANSWER;
}

/* RRL (rrl.h) on UDP answers; TCP and valid server cookies are never
 * limited. */
static enum pipeline_verdict limit_stage(void *arg, const struct tdns_qctx *q,
					 struct tdns_answer *a)
{
	struct auth_ctx *c = arg;
	const uint8_t *name;
	enum rrl_class cls;
	size_t name_len;

	if (c->cfg->rrl == NULL || c->cl->peer == NULL || c->cl->counters == NULL ||
	    c->cl->tcp || a->cookie_ok)
		return PIPELINE_ANSWER;
	cls = rrl_classify(q, a, &name, &name_len);
	switch (rrl_check(c->cfg->rrl, c->cl->peer, cls, name, name_len,
			  clock_mono_coarse_ms(), &c->cl->counters->rrl)) {
	case RRL_PASS:
		break;
	case RRL_SLIP:
		if (a->cookie_len > 0) {
			/* RFC 7873 5.2.3: no records, BADCOOKIE and a
			 * fresh server cookie to retry with. */
			answer_truncate(a);
			a->tc = false;
			a->aa = false;
			a->rcode = DNS_RCODE_BADCOOKIE;
			stats_inc(&c->cl->counters->cookies.badcookie);
		} else {
			answer_truncate(a);
		}
		break;
	case RRL_DROP:
		return PIPELINE_DROP;
	}
	return PIPELINE_ANSWER;
}

bool auth_answer_from(struct zonedb_cache *zc, struct tdns_txn *t,
		      const struct tdns_auth_cfg *cfg, const struct auth_client *cl,
		      const uint8_t *in, size_t in_len, uint8_t *out, size_t cap,
		      size_t *out_len)
{
	static const struct tdns_pipeline upper = {
		.edns = edns_stage,
		.opcode[DNS_OPCODE_QUERY] = query_stage,
		.limit = limit_stage,
	};
	static const struct tdns_pipeline primary = {
		.edns = edns_stage,
		.opcode[DNS_OPCODE_QUERY] = repl_query_stage,
		.limit = limit_stage,
	};
	static const struct tdns_pipeline secondary = {
		.edns = edns_stage,
		.opcode[DNS_OPCODE_QUERY] = repl_query_stage,
		.opcode[DNS_OPCODE_NOTIFY] = notify_stage,
		.limit = limit_stage,
	};
	const struct tdns_pipeline *p = cfg->secondary != NULL ? &secondary
				      : cfg->xfr_allowed != NULL ? &primary : &upper;
	struct auth_ctx c = { zc, t, cfg, cl };
	struct tdns_qctx q;
	struct tdns_answer a;

	q.peer = cl->peer;
	q.transport = cl->tls ? QCTX_TLS : cl->tcp ? QCTX_TCP : QCTX_UDP;
	return pipeline_run(p, &c, &q, &a, in, in_len, out, cap, out_len) ==
		       PIPELINE_ANSWER &&
	       *out_len > 0;
}

bool auth_answer(struct zonedb_cache *zc, struct tdns_txn *t,
		 const struct tdns_auth_cfg *cfg, const uint8_t *in,
		 size_t in_len, bool tcp, uint8_t *out, size_t cap,
		 size_t *out_len)
{
	struct auth_client cl = { NULL, tcp, NULL, 0, false, NULL, NULL };

	return auth_answer_from(zc, t, cfg, &cl, in, in_len, out, cap, out_len);
}
