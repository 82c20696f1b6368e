/*
 * validate.c - the DNSSEC verdict on one packed answer (validate.h).
 */
#include "tierdns/validate.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tierdns/dnsproto.h"
#include "tierdns/sigverify.h"

/* One RRset of an answer and the RRSIGs that cover it. */
struct vset {
	ldns_rr_list *rrs;
	ldns_rr_list *sigs;
	const ldns_rr *good; /* the RRSIG (of sigs) that verified, once one has */
	bool authority;
};

/* A packed value as ldns records, grouped into RRsets. */
struct vmsg {
	uint8_t rcode;
	struct vset *sets;
	size_t n;
};

/* What judging one RRset found. */
enum judged {
	J_SECURE = 0,
	J_INSECURE,
	J_BOGUS,
	J_NEED,
};

static void vmsg_free(struct vmsg *m)
{
	for (size_t i = 0; i < m->n; i++) {
		ldns_rr_list_deep_free(m->sets[i].rrs);
		ldns_rr_list_deep_free(m->sets[i].sigs);
	}
	free(m->sets);
	memset(m, 0, sizeof(*m));
}

/* A record of a packed value as an ldns_rr (the caller owns it), its TTL
 * what is left of it at now; NULL when it does not parse. */
static ldns_rr *rec_rr(const struct cache_rec *r, uint64_t now)
{
	size_t len = r->owner_len + 10 + r->rdlen, pos = 0;
	uint64_t left = r->expiry > now ? r->expiry - now : 0;
	uint8_t *buf = malloc(len);
	ldns_rr *rr = NULL;

	if (buf == NULL)
		return NULL;
	memcpy(buf, r->owner, r->owner_len);
	dns_wr16(buf + r->owner_len, r->type);
	dns_wr16(buf + r->owner_len + 2, r->rclass);
	dns_wr32(buf + r->owner_len + 4, (uint32_t)(left > 0x7fffffffu ? 0x7fffffffu : left));
	dns_wr16(buf + r->owner_len + 8, r->rdlen);
	memcpy(buf + r->owner_len + 10, r->rdata, r->rdlen);
	if (ldns_wire2rr(&rr, buf, len, &pos, LDNS_SECTION_ANSWER) != LDNS_STATUS_OK)
		rr = NULL;
	free(buf);
	return rr;
}

/* The set of (owner, type) in the section, NULL when there is none. */
static struct vset *set_find(const struct vmsg *m, const ldns_rdf *owner, ldns_rr_type type,
			     bool authority)
{
	for (size_t i = 0; i < m->n; i++) {
		const ldns_rr *first = ldns_rr_list_rr(m->sets[i].rrs, 0);

		if (m->sets[i].authority == authority && ldns_rr_get_type(first) == type &&
		    ldns_dname_compare(ldns_rr_owner(first), owner) == 0)
			return &m->sets[i];
	}
	return NULL;
}

/* Read val into m: the RRsets in order of their first record, each RRSIG
 * with the RRset it covers (an RRSIG covering nothing there is dropped).
 * false on a malformed value or out of memory. */
static bool vmsg_load(struct vmsg *m, const uint8_t *val, size_t vlen, uint64_t now)
{
	struct cache_rec r;
	size_t pos = 0;
	unsigned idx = 0, total;
	/* RRSIGs of the answer and authority sections, kept apart until
	 * every RRset is known */
	ldns_rr_list *sigs[2] = { ldns_rr_list_new(), ldns_rr_list_new() };
	bool ok = false;

	memset(m, 0, sizeof(*m));
	if (sigs[0] == NULL || sigs[1] == NULL || vlen < 14)
		goto out;
	m->rcode = val[1];
	total = (unsigned)dns_rd16(val + 10) + dns_rd16(val + 12);
	m->sets = calloc(total + 1, sizeof(*m->sets));
	if (m->sets == NULL)
		goto out;
	while (cache_value_next(val, vlen, &pos, &idx, &r)) {
		ldns_rr *rr = rec_rr(&r, now);
		struct vset *s;

		if (rr == NULL)
			goto out;
		if (r.type == DNS_TYPE_RRSIG) {
			if (!ldns_rr_list_push_rr(sigs[r.authority], rr)) {
				ldns_rr_free(rr);
				goto out;
			}
			continue;
		}
		s = set_find(m, ldns_rr_owner(rr), ldns_rr_get_type(rr), r.authority);
		if (s == NULL) {
			s = &m->sets[m->n];
			s->rrs = ldns_rr_list_new();
			s->sigs = ldns_rr_list_new();
			s->authority = r.authority;
			m->n++;
			if (s->rrs == NULL || s->sigs == NULL) {
				ldns_rr_free(rr);
				goto out;
			}
		}
		if (!ldns_rr_list_push_rr(s->rrs, rr)) {
			ldns_rr_free(rr);
			goto out;
		}
	}
	if (idx != total && total != 0)
		goto out;
	for (int sec = 0; sec < 2; sec++) {
		while (ldns_rr_list_rr_count(sigs[sec]) > 0) {
			ldns_rr *sig = ldns_rr_list_pop_rr(sigs[sec]);
			const ldns_rdf *cov = ldns_rr_rrsig_typecovered(sig);
			struct vset *s = cov == NULL ? NULL
				: set_find(m, ldns_rr_owner(sig), ldns_rdf2rr_type(cov),
					   sec == 1);

			if (s == NULL || !ldns_rr_list_push_rr(s->sigs, sig))
				ldns_rr_free(sig);
		}
	}
	ok = true;
out:
	ldns_rr_list_deep_free(sigs[0]);
	ldns_rr_list_deep_free(sigs[1]);
	return ok;
}

/* The lower-cased wire form of a dname into w (NAME_WIRE_MAX), its length
 * (0 when it is none). */
static size_t dname_wire(const ldns_rdf *d, uint8_t *w)
{
	size_t n = d != NULL ? ldns_rdf_size(d) : 0;

	if (n == 0 || n > NAME_WIRE_MAX)
		return 0;
	memcpy(w, ldns_rdf_data(d), n);
	for (size_t i = 0; i < n; i++)
		w[i] = dns_lower(w[i]);
	return n;
}

static bool dname_at_or_below(const ldns_rdf *name, const ldns_rdf *apex)
{
	return ldns_dname_compare(name, apex) == 0 || ldns_dname_is_subdomain(name, apex);
}

/* Fill out as a bogus verdict: code and a formatted reason. */
static enum judged bogus(struct valid_verdict *out, uint16_t ede, const char *fmt, ...)
{
	va_list ap;

	out->status = VALID_BOGUS;
	out->ede = ede;
	va_start(ap, fmt);
	vsnprintf(out->why, sizeof(out->why), fmt, ap);
	va_end(ap);
	return J_BOGUS;
}

static enum judged insecure(struct valid_verdict *out, const char *fmt, ...)
{
	va_list ap;

	if (out->why[0] == '\0') {
		va_start(ap, fmt);
		vsnprintf(out->why, sizeof(out->why), fmt, ap);
		va_end(ap);
	}
	return J_INSECURE;
}

/* "name TYPE" of a set or question, for the reasons. */
static void describe(const ldns_rdf *owner, ldns_rr_type type, char *buf, size_t n)
{
	char *o = ldns_rdf2str(owner), *t = ldns_rr_type2str(type);

	snprintf(buf, n, "%s %s", o != NULL ? o : "?", t != NULL ? t : "?");
	free(o);
	free(t);
}

/* Ask the caller for the answer to (name, type): J_NEED with out->need_*
 * set when it has none; otherwise *m loaded from it and *st its status. */
static enum judged depend(const ldns_rdf *name, uint16_t type, uint64_t now,
			  valid_lookup_fn lookup, void *ctx, struct vmsg *m,
			  enum valid_status *st, struct valid_verdict *out)
{
	const uint8_t *val;
	size_t vlen;

	out->need_len = dname_wire(name, out->need_name);
	out->need_type = type;
	if (!lookup(ctx, out->need_name, out->need_len, type, &val, &vlen))
		return J_NEED;
	*st = cache_value_status(val, vlen);
	if (!vmsg_load(m, val, vlen, now))
		return bogus(out, EDE_DNSSEC_BOGUS, "unreadable dependency");
	return J_SECURE;
}

/* The records of type owned by name in the answer section of m (the
 * list borrows m's records: ldns_rr_list_free only). */
static ldns_rr_list *answer_records(const struct vmsg *m, const ldns_rdf *name,
				    ldns_rr_type type)
{
	struct vset *s = set_find(m, name, type, false);
	ldns_rr_list *l = ldns_rr_list_new();

	if (l != NULL && s != NULL)
		for (size_t i = 0; i < ldns_rr_list_rr_count(s->rrs); i++)
			ldns_rr_list_push_rr(l, ldns_rr_list_rr(s->rrs, i));
	return l;
}

/* RFC 4035 3.1.3.2: NODATA at an empty non-terminal, which owns no
 * NSEC: one that covers the name and whose next name is below it (ldns's
 * check wants the name itself, or an NXDOMAIN proof). */
static bool nsec_ent_nodata(const ldns_rr_list *nsec, const ldns_rdf *name)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(nsec); i++) {
		const ldns_rr *n = ldns_rr_list_rr(nsec, i);
		const ldns_rdf *next = ldns_rr_rdf(n, 0);

		if (next != NULL && ldns_nsec_covers_name(n, name) &&
		    ldns_dname_is_subdomain(next, name))
			return true;
	}
	return false;
}

/* The full hashed owner name of name in the NSEC3 chain of n (RFC 5155
 * 5: base32hex label of the hash, then the zone); NULL without memory. */
static ldns_rdf *nsec3_hashed(const ldns_rr *n, const ldns_rdf *name)
{
	ldns_rdf *label = ldns_nsec3_hash_name_frm_nsec3(n, name);
	ldns_rdf *zone = ldns_dname_left_chop(ldns_rr_owner(n));
	ldns_rdf *full = label != NULL && zone != NULL ? ldns_dname_cat_clone(label, zone) : NULL;

	ldns_rdf_deep_free(label);
	ldns_rdf_deep_free(zone);
	return full;
}

/* The NSEC3 of the list matching (match) or covering (!match) name, NULL
 * when none does. */
static const ldns_rr *nsec3_find(const ldns_rr_list *nsec3, const ldns_rdf *name, bool match)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(nsec3); i++) {
		const ldns_rr *n = ldns_rr_list_rr(nsec3, i);
		ldns_rdf *h = nsec3_hashed(n, name);
		bool hit = h != NULL && (match ? ldns_dname_compare(h, ldns_rr_owner(n)) == 0
					       : ldns_nsec_covers_name(n, h));

		ldns_rdf_deep_free(h);
		if (hit)
			return n;
	}
	return NULL;
}

/* Does the NSEC3 (may be NULL) say name has neither type nor a CNAME? */
static bool nsec3_lacks(const ldns_rr *n, uint16_t type)
{
	ldns_rdf *bitmap = n != NULL ? ldns_nsec3_bitmap(n) : NULL;

	/* An empty non-terminal's NSEC3 has no bitmap at all (RFC 5155 7.1). */
	return n != NULL && (bitmap == NULL ||
			     (!ldns_nsec_bitmap_covers_type(bitmap, (ldns_rr_type)type) &&
			      !ldns_nsec_bitmap_covers_type(bitmap, LDNS_RR_TYPE_CNAME)));
}

/* What the closest encloser proof (RFC 5155 7.2.1, 8.3) must show beside
 * the encloser and the covered next closer name. */
enum ce_need {
	CE_NXDOMAIN,  /* the wildcard at the encloser covered (8.4) */
	CE_WILDCARD,  /* the wildcard at the encloser matched, without the
		       * type (8.7: NODATA through a wildcard) */
	CE_OPTOUT,    /* the next closer name covered with opt-out (8.6: no
		       * DS below an opt-out span) */
};

/* The closest encloser proof for name, with what need adds. */
static bool nsec3_ce_proof(const ldns_rr_list *nsec3, const ldns_rdf *name, uint16_t qtype,
			   enum ce_need need)
{
	ldns_rdf *closer = ldns_rdf_clone(name), *ce, *wc, *star;
	const ldns_rr *cover;
	bool ok = false, found = false;

	while (!found && closer != NULL && ldns_dname_label_count(closer) > 0) {
		ce = ldns_dname_left_chop(closer);
		if (ce != NULL && nsec3_find(nsec3, ce, true) != NULL) {
			found = true;
			cover = nsec3_find(nsec3, closer, false);
			star = ldns_dname_new_frm_str("*");
			wc = star != NULL ? ldns_dname_cat_clone(star, ce) : NULL;
			ok = cover != NULL && wc != NULL;
			if (ok && need == CE_NXDOMAIN)
				ok = nsec3_find(nsec3, wc, false) != NULL;
			else if (ok && need == CE_WILDCARD)
				ok = nsec3_lacks(nsec3_find(nsec3, wc, true), qtype);
			else if (ok)
				ok = ldns_nsec3_optout(cover);
			ldns_rdf_deep_free(star);
			ldns_rdf_deep_free(wc);
		}
		ldns_rdf_deep_free(closer);
		closer = ce;
	}
	ldns_rdf_deep_free(closer);
	return ok;
}

/* RFC 5155 8.4-8.7: NSEC3 records prove that (name, qtype) does not
 * exist: the name (NXDOMAIN), or the type at it, directly, through a
 * wildcard, or (for DS) below an opt-out span. Checked here rather than by
 * ldns_dnssec_verify_denial_nsec3, which leaks the hashed names. */
static bool nsec3_denial(const ldns_rr_list *nsec3, const ldns_rdf *name, uint16_t qtype,
			 bool nxdomain)
{
	const ldns_rr *exact;

	if (nxdomain)
		return nsec3_ce_proof(nsec3, name, qtype, CE_NXDOMAIN);
	exact = nsec3_find(nsec3, name, true);
	if (exact != NULL)
		return nsec3_lacks(exact, qtype);
	return nsec3_ce_proof(nsec3, name, qtype, CE_WILDCARD) ||
	       (qtype == LDNS_RR_TYPE_DS && nsec3_ce_proof(nsec3, name, qtype, CE_OPTOUT));
}

/* The NSEC and NSEC3 records of m's authority section and their RRSIGs,
 * into the lists (which borrow m's records: ldns_rr_list_free only); sigs
 * may be NULL. */
static void denial_records(const struct vmsg *m, ldns_rr_list *nsec, ldns_rr_list *nsec3,
			   ldns_rr_list *sigs)
{
	for (size_t i = 0; i < m->n; i++) {
		const struct vset *s = &m->sets[i];
		ldns_rr_type t = ldns_rr_get_type(ldns_rr_list_rr(s->rrs, 0));

		if (!s->authority || (t != LDNS_RR_TYPE_NSEC && t != LDNS_RR_TYPE_NSEC3))
			continue;
		for (size_t k = 0; k < ldns_rr_list_rr_count(s->rrs); k++)
			ldns_rr_list_push_rr(t == LDNS_RR_TYPE_NSEC ? nsec : nsec3,
					     ldns_rr_list_rr(s->rrs, k));
		for (size_t k = 0; sigs != NULL && k < ldns_rr_list_rr_count(s->sigs); k++)
			ldns_rr_list_push_rr(sigs, ldns_rr_list_rr(s->sigs, k));
	}
}

/* Does the bitmap (NULL: empty) show a delegation without DS: NS set, DS
 * and SOA clear? */
static bool bitmap_unsigned_cut(const ldns_rdf *bitmap)
{
	return bitmap != NULL && ldns_nsec_bitmap_covers_type(bitmap, LDNS_RR_TYPE_NS) &&
	       !ldns_nsec_bitmap_covers_type(bitmap, LDNS_RR_TYPE_DS) &&
	       !ldns_nsec_bitmap_covers_type(bitmap, LDNS_RR_TYPE_SOA);
}

/* Does the (secure) DS answer m prove that name is a delegation without
 * DS (RFC 4035 5.2): its NSEC, or its NSEC3 (RFC 5155 8.9), with NS and
 * without DS or SOA; or an opt-out NSEC3 span covering it (RFC 5155 8.6:
 * unsigned delegations need no NSEC3 of their own there)? */
static bool unsigned_delegation(const struct vmsg *m, const ldns_rdf *name)
{
	ldns_rr_list *nsec = ldns_rr_list_new(), *nsec3 = ldns_rr_list_new();
	const ldns_rr *n3;
	bool ok = false;

	if (nsec == NULL || nsec3 == NULL)
		goto out;
	denial_records(m, nsec, nsec3, NULL);
	for (size_t i = 0; i < ldns_rr_list_rr_count(nsec) && !ok; i++) {
		const ldns_rr *rr = ldns_rr_list_rr(nsec, i);

		ok = ldns_dname_compare(ldns_rr_owner(rr), name) == 0 &&
		     bitmap_unsigned_cut(ldns_nsec_get_bitmap(rr));
	}
	if (!ok && ldns_rr_list_rr_count(nsec3) > 0) {
		n3 = nsec3_find(nsec3, name, true);
		ok = n3 != NULL ? bitmap_unsigned_cut(ldns_nsec3_bitmap(n3))
				: nsec3_ce_proof(nsec3, name, LDNS_RR_TYPE_DS, CE_OPTOUT);
	}
out:
	ldns_rr_list_free(nsec);
	ldns_rr_list_free(nsec3);
	return ok;
}

/*
 * An RRset without RRSIGs at owner (of type): insecure only below a
 * proven unsigned delegation. The DS answer of the name that would be the
 * zone cut (owner, or its parent for a DS RRset, which the parent holds)
 * decides: insecure itself, or secure and proving the delegation unsigned.
 */
static enum judged judge_unsigned(const struct tdns_anchors *ta, const ldns_rdf *owner,
				  ldns_rr_type type, uint64_t now, valid_lookup_fn lookup,
				  void *ctx, struct valid_verdict *out)
{
	ldns_rdf *cut = type == LDNS_RR_TYPE_DS ? ldns_dname_left_chop(owner)
						: ldns_rdf_clone(owner);
	const struct tdns_anchor *a;
	uint8_t w[NAME_WIRE_MAX];
	size_t wl;
	struct vmsg dep = { 0 };
	enum valid_status st = VALID_UNCHECKED;
	enum judged j;
	char what[NAME_WIRE_MAX * 4 + 16];

	describe(owner, type, what, sizeof(what));
	wl = dname_wire(cut, w);
	a = wl != 0 ? anchors_find(ta, w, wl) : NULL;
	if (cut == NULL || wl == 0) {
		j = bogus(out, EDE_RRSIGS_MISSING, "%s: no RRSIG", what);
	} else if (a == NULL || anchors_insecure(ta, w, wl)) {
		j = insecure(out, "%s: not under a trust anchor", what);
	} else if (a->name_len == wl) {
		/* The anchored zone itself is signed. */
		j = bogus(out, EDE_RRSIGS_MISSING, "%s: no RRSIG (trust anchor)", what);
	} else if ((j = depend(cut, LDNS_RR_TYPE_DS, now, lookup, ctx, &dep, &st, out)) != J_SECURE) {
		/* J_NEED, or an unreadable answer */
	} else if (st == VALID_BOGUS) {
		j = bogus(out, EDE_DNSSEC_BOGUS, "%s: no RRSIG, and the DS answer above is bogus",
			  what);
	} else if (st != VALID_SECURE) {
		j = insecure(out, "%s: below an insecure delegation", what);
	} else if (dep.rcode == LDNS_RCODE_NOERROR &&
		   set_find(&dep, cut, LDNS_RR_TYPE_DS, false) != NULL) {
		j = bogus(out, EDE_RRSIGS_MISSING, "%s: no RRSIG in a signed zone (DS exists)",
			  what);
	} else if (unsigned_delegation(&dep, cut)) {
		j = insecure(out, "%s: unsigned delegation", what);
	} else {
		j = bogus(out, EDE_RRSIGS_MISSING, "%s: no RRSIG in a signed zone", what);
	}
	vmsg_free(&dep);
	ldns_rdf_deep_free(cut);
	return j;
}

/* The RFC 8914 code for why the last RRSIG failed. */
static uint16_t sig_ede(ldns_status ls)
{
	switch (ls) {
	case LDNS_STATUS_CRYPTO_SIG_EXPIRED:
		return EDE_SIG_EXPIRED;
	case LDNS_STATUS_CRYPTO_SIG_NOT_INCEPTED:
		return EDE_SIG_NOT_YET_VALID;
	case LDNS_STATUS_CRYPTO_NO_MATCHING_KEYTAG_DNSKEY:
	case LDNS_STATUS_CRYPTO_NO_DNSKEY:
		return EDE_DNSKEY_MISSING;
	default:
		return EDE_DNSSEC_BOGUS;
	}
}

/* One of s's RRSIGs verifies with one of keys at now? It becomes s->good. */
static enum judged verify_set(struct vset *s, const ldns_rr_list *keys, uint64_t now,
			      struct valid_verdict *out)
{
	const ldns_rr *first = ldns_rr_list_rr(s->rrs, 0);
	ldns_status ls = LDNS_STATUS_CRYPTO_NO_RRSIG;
	char what[NAME_WIRE_MAX * 4 + 16];

	for (size_t i = 0; i < ldns_rr_list_rr_count(s->sigs); i++) {
		ls = sigverify_rrsig(s->rrs, ldns_rr_list_rr(s->sigs, i), keys, now);
		if (ls == LDNS_STATUS_OK) {
			s->good = ldns_rr_list_rr(s->sigs, i);
			return J_SECURE;
		}
	}
	describe(ldns_rr_owner(first), ldns_rr_get_type(first), what, sizeof(what));
	return bogus(out, sig_ede(ls), "%s: %s", what, ldns_get_errorstr_by_id(ls));
}

/* Has the DS RRset one record whose key algorithm and digest type this
 * build can check (RFC 4035 5.2, RFC 4509, RFC 6605)? */
static bool ds_usable(const ldns_rr_list *ds)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(ds); i++) {
		const ldns_rr *d = ldns_rr_list_rr(ds, i);
		const ldns_rdf *alg = ldns_rr_rdf(d, 1), *digest = ldns_rr_rdf(d, 2);
		uint8_t dt = digest != NULL ? ldns_rdf2native_int8(digest) : 0;

		if (alg != NULL && ldns_key_algo_supported(ldns_rdf2native_int8(alg)) &&
		    (dt == LDNS_SHA1 || dt == LDNS_SHA256 || dt == LDNS_SHA384))
			return true;
	}
	return false;
}

/* The keys of s's own DNSKEY RRset that the anchor or the DS answer
 * trusts (RFC 4035 5.2); s is the DNSKEY RRset at its signer. */
static enum judged judge_keyset(const struct tdns_anchors *ta, struct vset *s,
				const ldns_rdf *zone, uint64_t now, valid_lookup_fn lookup,
				void *ctx, struct valid_verdict *out)
{
	uint8_t w[NAME_WIRE_MAX];
	size_t wl = dname_wire(zone, w);
	const struct tdns_anchor *a = anchors_find(ta, w, wl);
	struct vmsg dep = { 0 };
	enum valid_status st = VALID_UNCHECKED;
	ldns_rr_list *ds = NULL, *borrowed, *matched = ldns_rr_list_new();
	const ldns_rr_list *anchor_keys = NULL;
	enum judged j;

	if (matched == NULL) {
		j = bogus(out, EDE_DNSSEC_BOGUS, "out of memory");
		goto out;
	}
	if (a != NULL && a->name_len == wl) {
		ds = ldns_rr_list_clone(a->ds);
		anchor_keys = a->keys;
	} else {
		j = depend(zone, LDNS_RR_TYPE_DS, now, lookup, ctx, &dep, &st, out);
		if (j != J_SECURE)
			goto out;
		if (st == VALID_BOGUS) {
			j = bogus(out, EDE_DNSKEY_MISSING, "the DS of the zone is bogus");
			goto out;
		}
		if (st != VALID_SECURE) {
			j = insecure(out, "zone below an insecure delegation");
			goto out;
		}
		/* answer_records borrows: cloned so that one free fits both */
		borrowed = answer_records(&dep, zone, LDNS_RR_TYPE_DS);
		ds = borrowed != NULL ? ldns_rr_list_clone(borrowed) : NULL;
		ldns_rr_list_free(borrowed);
		if (ds != NULL && ldns_rr_list_rr_count(ds) == 0) {
			j = insecure(out, "no DS for the zone: unsigned delegation");
			goto out;
		}
		if (ds != NULL && !ds_usable(ds)) {
			/* RFC 4035 5.2: no DS we can use is as good as none. */
			j = insecure(out, "no DS of a supported algorithm and digest");
			goto out;
		}
	}
	if (ds == NULL) {
		j = bogus(out, EDE_DNSSEC_BOGUS, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < ldns_rr_list_rr_count(s->rrs); i++) {
		ldns_rr *k = ldns_rr_list_rr(s->rrs, i);
		bool trusted = false;

		for (size_t d = 0; d < ldns_rr_list_rr_count(ds) && !trusted; d++)
			trusted = ldns_rr_compare_ds(k, ldns_rr_list_rr(ds, d));
		for (size_t d = 0; anchor_keys != NULL && !trusted &&
				   d < ldns_rr_list_rr_count(anchor_keys); d++)
			trusted = ldns_rr_compare(k, ldns_rr_list_rr(anchor_keys, d)) == 0;
		if (trusted)
			ldns_rr_list_push_rr(matched, k);
	}
	if (ldns_rr_list_rr_count(matched) == 0)
		j = bogus(out, EDE_DNSKEY_MISSING, "no DNSKEY of the zone matches its DS or anchor");
	else
		j = verify_set(s, matched, now, out);
out:
	ldns_rr_list_free(matched);
	ldns_rr_list_deep_free(ds);
	vmsg_free(&dep);
	return j;
}

/* One RRset (RFC 4035 5.3): signed by a trusted key of its signer. */
static enum judged judge_set(const struct tdns_anchors *ta, struct vset *s,
			     uint64_t now, valid_lookup_fn lookup, void *ctx,
			     struct valid_verdict *out)
{
	const ldns_rr *first = ldns_rr_list_rr(s->rrs, 0);
	const ldns_rdf *owner = ldns_rr_owner(first), *signer;
	ldns_rr_type type = ldns_rr_get_type(first);
	uint8_t w[NAME_WIRE_MAX];
	size_t wl = dname_wire(owner, w);
	struct vmsg dep = { 0 };
	enum valid_status st = VALID_UNCHECKED;
	ldns_rr_list *keys = NULL;
	enum judged j;
	char what[NAME_WIRE_MAX * 4 + 16];

	if (wl == 0 || anchors_find(ta, w, wl) == NULL || anchors_insecure(ta, w, wl))
		return insecure(out, "not under a trust anchor, or an insecure domain");
	if (ldns_rr_list_rr_count(s->sigs) == 0)
		return judge_unsigned(ta, owner, type, now, lookup, ctx, out);
	signer = ldns_rr_rrsig_signame(ldns_rr_list_rr(s->sigs, 0));
	/* "what" is written on the way to a verdict that is not secure only:
	 * a secure miss prints no names */
	if (signer == NULL || !dname_at_or_below(owner, signer)) {
		describe(owner, type, what, sizeof(what));
		return bogus(out, EDE_DNSSEC_BOGUS, "%s: signer not at or above the owner", what);
	}
	wl = dname_wire(signer, w);
	if (anchors_find(ta, w, wl) == NULL) {
		describe(owner, type, what, sizeof(what));
		return insecure(out, "%s: signer not under a trust anchor", what);
	}
	if (type == LDNS_RR_TYPE_DNSKEY && ldns_dname_compare(owner, signer) == 0)
		return judge_keyset(ta, s, signer, now, lookup, ctx, out);
	j = depend(signer, LDNS_RR_TYPE_DNSKEY, now, lookup, ctx, &dep, &st, out);
	if (j != J_SECURE)
		goto out;
	if (st != VALID_SECURE)
		describe(owner, type, what, sizeof(what));
	if (st == VALID_BOGUS) {
		j = bogus(out, EDE_DNSKEY_MISSING, "%s: the signer's DNSKEY is bogus", what);
	} else if (st != VALID_SECURE) {
		j = insecure(out, "%s: the signer's zone is insecure", what);
	} else {
		keys = answer_records(&dep, signer, LDNS_RR_TYPE_DNSKEY);
		if (keys == NULL || ldns_rr_list_rr_count(keys) == 0) {
			describe(owner, type, what, sizeof(what));
			j = bogus(out, EDE_DNSKEY_MISSING, "%s: the signer has no DNSKEY", what);
		} else {
			j = verify_set(s, keys, now, out);
		}
	}
out:
	ldns_rr_list_free(keys);
	vmsg_free(&dep);
	return j;
}

/* The last name of the CNAME chain from qname through m's answer (a new
 * dname, the caller frees it). */
static ldns_rdf *chain_end(const struct vmsg *m, const ldns_rdf *qname)
{
	ldns_rdf *at = ldns_rdf_clone(qname);

	for (unsigned hops = 0; at != NULL && hops <= CACHE_CHAIN_MAX; hops++) {
		struct vset *c = set_find(m, at, LDNS_RR_TYPE_CNAME, false);
		const ldns_rdf *to;

		if (c == NULL)
			break;
		to = ldns_rr_rdf(ldns_rr_list_rr(c->rrs, 0), 0);
		ldns_rdf_deep_free(at);
		at = to != NULL ? ldns_rdf_clone(to) : NULL;
	}
	return at;
}

/* RFC 4035 5.4, RFC 5155 8: the NSEC or NSEC3 records of a negative
 * answer prove that (name, qtype) does not exist. */
static enum judged judge_denial(const struct vmsg *m, const ldns_rdf *name, uint16_t qtype,
				struct valid_verdict *out)
{
	ldns_rr_list *nsec = ldns_rr_list_new(), *nsec3 = ldns_rr_list_new();
	ldns_rr_list *sigs = ldns_rr_list_new();
	ldns_rr *q = ldns_rr_new();
	ldns_status ls;
	enum judged j;
	char what[NAME_WIRE_MAX * 4 + 16];

	describe(name, qtype, what, sizeof(what));
	if (nsec == NULL || nsec3 == NULL || sigs == NULL || q == NULL) {
		j = bogus(out, EDE_DNSSEC_BOGUS, "out of memory");
		goto out;
	}
	denial_records(m, nsec, nsec3, sigs);
	ldns_rr_set_owner(q, ldns_rdf_clone(name));
	ldns_rr_set_type(q, (ldns_rr_type)qtype);
	ldns_rr_set_class(q, LDNS_RR_CLASS_IN);
	if (ldns_rr_list_rr_count(nsec) > 0) {
		ls = ldns_dnssec_verify_denial(q, nsec, sigs);
		if (ls != LDNS_STATUS_OK && m->rcode == LDNS_RCODE_NOERROR &&
		    nsec_ent_nodata(nsec, name))
			ls = LDNS_STATUS_OK;
	} else if (ldns_rr_list_rr_count(nsec3) > 0) {
		ls = nsec3_denial(nsec3, name, qtype, m->rcode == LDNS_RCODE_NXDOMAIN)
			     ? LDNS_STATUS_OK
			     : LDNS_STATUS_DNSSEC_NSEC_RR_NOT_COVERED;
	} else {
		j = bogus(out, EDE_NSEC_MISSING, "%s: no NSEC or NSEC3 proof", what);
		goto out;
	}
	j = ls == LDNS_STATUS_OK ? J_SECURE
		: bogus(out, EDE_DNSSEC_BOGUS, "%s: denial of existence: %s", what,
			ldns_get_errorstr_by_id(ls));
out:
	ldns_rr_free(q);
	ldns_rr_list_free(nsec);
	ldns_rr_list_free(nsec3);
	ldns_rr_list_free(sigs);
	return j;
}

/* RFC 4035 5.3.4 (as Unbound's positive wildcard check): an NSEC of the
 * list proves that name does not exist and that its closest encloser has
 * encloser_labels labels: it covers name, is no delegation or DNAME
 * above it, and its owner or next name shares exactly that many labels
 * with name. */
static bool nsec_wildcard_proof(const ldns_rr_list *nsec, const ldns_rdf *name,
				unsigned encloser_labels)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(nsec); i++) {
		const ldns_rr *n = ldns_rr_list_rr(nsec, i);
		const ldns_rdf *owner = ldns_rr_owner(n), *next = ldns_rr_rdf(n, 0);
		const ldns_rdf *bitmap = ldns_nsec_get_bitmap(n);
		unsigned lo, ln;

		if (next == NULL || ldns_dname_compare(owner, name) == 0 ||
		    !ldns_nsec_covers_name(n, name))
			continue;
		if (ldns_dname_is_subdomain(name, owner) && bitmap != NULL &&
		    ((ldns_nsec_bitmap_covers_type(bitmap, LDNS_RR_TYPE_NS) &&
		      !ldns_nsec_bitmap_covers_type(bitmap, LDNS_RR_TYPE_SOA)) ||
		     ldns_nsec_bitmap_covers_type(bitmap, LDNS_RR_TYPE_DNAME)))
			continue;
		lo = validate_shared_labels(name, owner);
		ln = validate_shared_labels(name, next);
		if ((lo > ln ? lo : ln) == encloser_labels)
			return true;
	}
	return false;
}

/*
 * An answer RRset s whose good RRSIG was made for a wildcard (its Labels
 * field below the owner's label count, RFC 4034 3.1.3) is secure only
 * with the proof in m's authority that no closer name exists: RFC 4035
 * 5.3.4 (an NSEC covering the owner, the closest encloser the wildcard's
 * parent) or RFC 5155 8.8 (an NSEC3 covering the next closer name; an
 * opt-out one leaves it insecure, as Unbound). No proof at all is EDE 12
 * NSEC Missing, a wrong one EDE 6.
 */
static enum judged judge_wildcard(const struct vmsg *m, const struct vset *s,
				  struct valid_verdict *out)
{
	const ldns_rdf *owner = ldns_rr_owner(ldns_rr_list_rr(s->rrs, 0));
	const ldns_rdf *lf = s->good != NULL ? ldns_rr_rdf(s->good, 2) : NULL;
	unsigned labels = lf != NULL ? ldns_rdf2native_int8(lf) : 0;
	unsigned count = ldns_dname_label_count(owner);
	ldns_rr_list *nsec = NULL, *nsec3 = NULL;
	ldns_rdf *closer = NULL;
	const ldns_rr *cover;
	enum judged j = J_SECURE;
	char what[NAME_WIRE_MAX * 4 + 16];

	if (ldns_dname_is_wildcard(owner))
		count--;
	if (lf == NULL || labels >= count)
		return J_SECURE;
	describe(owner, ldns_rr_get_type(ldns_rr_list_rr(s->rrs, 0)), what, sizeof(what));
	nsec = ldns_rr_list_new();
	nsec3 = ldns_rr_list_new();
	closer = ldns_dname_clone_from(owner, (uint16_t)(count - labels - 1));
	if (nsec == NULL || nsec3 == NULL || closer == NULL) {
		j = bogus(out, EDE_DNSSEC_BOGUS, "out of memory");
		goto out;
	}
	denial_records(m, nsec, nsec3, NULL);
	if (ldns_rr_list_rr_count(nsec) > 0) {
		if (!nsec_wildcard_proof(nsec, owner, labels))
			j = bogus(out, EDE_DNSSEC_BOGUS,
				  "%s: wildcard answer without an NSEC proving the name absent",
				  what);
	} else if (ldns_rr_list_rr_count(nsec3) > 0) {
		cover = nsec3_find(nsec3, closer, false);
		if (cover == NULL)
			j = bogus(out, EDE_DNSSEC_BOGUS,
				  "%s: wildcard answer without an NSEC3 covering the next closer "
				  "name", what);
		else if (ldns_nsec3_optout(cover))
			j = insecure(out, "%s: wildcard answer in an opt-out span", what);
	} else {
		j = bogus(out, EDE_NSEC_MISSING, "%s: wildcard answer without NSEC or NSEC3",
			  what);
	}
out:
	ldns_rdf_deep_free(closer);
	ldns_rr_list_free(nsec);
	ldns_rr_list_free(nsec3);
	return j;
}

/* Is the set part of what a reply's validity rests on: the answer's
 * RRsets, and in authority the SOA and the denial records? */
static bool judged_set(const struct vset *s)
{
	ldns_rr_type t = ldns_rr_get_type(ldns_rr_list_rr(s->rrs, 0));

	return !s->authority || t == LDNS_RR_TYPE_SOA || t == LDNS_RR_TYPE_NSEC ||
	       t == LDNS_RR_TYPE_NSEC3;
}

/* RFC 4035 5.3.3: how long m, judged secure at now, stays good: until
 * the earliest expiration of the RRSIGs that verified it (RFC 4034 3.1.5:
 * serial arithmetic, the 32-bit time nearest to now) or the end of their
 * Original TTL counted from now, whichever comes first. */
static uint64_t good_until(const struct vmsg *m, uint64_t now)
{
	uint64_t until = UINT64_MAX;

	for (size_t i = 0; i < m->n; i++) {
		const ldns_rr *sig = m->sets[i].good;
		const ldns_rdf *exp = sig != NULL ? ldns_rr_rrsig_expiration(sig) : NULL;
		const ldns_rdf *orig = sig != NULL ? ldns_rr_rrsig_origttl(sig) : NULL;
		int32_t left;
		uint64_t t;

		if (exp == NULL || orig == NULL)
			continue;
		left = (int32_t)(ldns_rdf2native_int32(exp) - (uint32_t)now);
		t = left > 0 ? now + (uint64_t)left : now;
		if (now + ldns_rdf2native_int32(orig) < t)
			t = now + ldns_rdf2native_int32(orig);
		if (t < until)
			until = t;
	}
	return until;
}

/* Is (name, qtype) data of a zone under a trust anchor? A DS RRset is
 * its parent's (RFC 4035 5.2): the DS of an anchor's own name is not. */
static bool under_anchor(const struct tdns_anchors *ta, const uint8_t *name, size_t len,
			 uint16_t qtype)
{
	if (qtype == LDNS_RR_TYPE_DS) {
		if (len <= 1)
			return false;
		len -= (size_t)name[0] + 1;
		name += (size_t)name[0] + 1;
	}
	return anchors_find(ta, name, len) != NULL;
}

enum valid_step valid_check(const struct tdns_anchors *ta, const uint8_t *qname,
			    size_t qname_len, uint16_t qtype, const uint8_t *val,
			    size_t vlen, uint64_t now, valid_lookup_fn lookup, void *ctx,
			    struct valid_verdict *out)
{
	struct vmsg m = { 0 };
	ldns_rdf *qn = NULL, *end = NULL;
	bool any_insecure = false, positive = false;
	enum judged j = J_SECURE;

	memset(out, 0, sizeof(*out));
	out->until = UINT64_MAX;
	if (anchors_insecure(ta, qname, qname_len)) {
		out->status = VALID_INSECURE;
		snprintf(out->why, sizeof(out->why), "insecure domain");
		return VALID_DONE;
	}
	if (!under_anchor(ta, qname, qname_len, qtype)) {
		out->status = VALID_INSECURE;
		snprintf(out->why, sizeof(out->why), "no trust anchor above");
		return VALID_DONE;
	}
	qn = ldns_dname_new_frm_data((uint16_t)qname_len, qname);
	if (qn == NULL || !vmsg_load(&m, val, vlen, now)) {
		j = bogus(out, EDE_DNSSEC_BOGUS, "unreadable answer");
		goto out;
	}
	for (size_t i = 0; i < m.n && j != J_BOGUS && j != J_NEED; i++) {
		if (!judged_set(&m.sets[i]))
			continue;
		j = judge_set(ta, &m.sets[i], now, lookup, ctx, out);
		if (j == J_INSECURE)
			any_insecure = true;
	}
	if (j == J_BOGUS || j == J_NEED)
		goto out;
	for (size_t i = 0; i < m.n && j != J_BOGUS; i++) {
		if (m.sets[i].authority)
			continue;
		j = judge_wildcard(&m, &m.sets[i], out);
		if (j == J_INSECURE)
			any_insecure = true;
	}
	if (j == J_BOGUS)
		goto out;
	end = chain_end(&m, qn);
	if (end == NULL) {
		j = bogus(out, EDE_DNSSEC_BOGUS, "CNAME chain without an end");
		goto out;
	}
	if (qtype == LDNS_RR_TYPE_DS && !under_anchor(ta, ldns_rdf_data(end), ldns_rdf_size(end),
						      qtype)) {
		any_insecure = true;
		insecure(out, "the DS of a trust anchor's name is its parent's");
		goto out;
	}
	positive = m.rcode == LDNS_RCODE_NOERROR &&
		   ((qtype == LDNS_RR_TYPE_ANY && m.n > 0 && !m.sets[0].authority) ||
		    set_find(&m, end, (ldns_rr_type)qtype, false) != NULL ||
		    (qtype == LDNS_RR_TYPE_CNAME &&
		     set_find(&m, qn, LDNS_RR_TYPE_CNAME, false) != NULL));
	if (!positive && m.n == 0) {
		/* Nothing at all (a negative answer without SOA): judged as
		 * unsigned data at the name. */
		j = judge_unsigned(ta, end, (ldns_rr_type)qtype, now, lookup, ctx, out);
		any_insecure = j == J_INSECURE;
	} else if (!positive && !any_insecure) {
		j = judge_denial(&m, end, qtype, out);
	}
out:
	if (j == J_NEED) {
		vmsg_free(&m);
		ldns_rdf_deep_free(qn);
		ldns_rdf_deep_free(end);
		return VALID_NEED;
	}
	if (j != J_BOGUS) {
		out->status = any_insecure || j == J_INSECURE ? VALID_INSECURE : VALID_SECURE;
		out->ede = 0;
		if (out->status == VALID_SECURE) {
			out->why[0] = '\0';
			out->until = good_until(&m, now);
		}
	}
	vmsg_free(&m);
	ldns_rdf_deep_free(qn);
	ldns_rdf_deep_free(end);
	return VALID_DONE;
}

unsigned validate_shared_labels(const ldns_rdf *a, const ldns_rdf *b)
{
	unsigned la = ldns_dname_label_count(a), lb = ldns_dname_label_count(b);

	for (unsigned k = la < lb ? la : lb; k > 0; k--) {
		ldns_rdf *ca = ldns_dname_clone_from(a, (uint16_t)(la - k));
		ldns_rdf *cb = ldns_dname_clone_from(b, (uint16_t)(lb - k));
		bool same = ca != NULL && cb != NULL && ldns_dname_compare(ca, cb) == 0;

		ldns_rdf_deep_free(ca);
		ldns_rdf_deep_free(cb);
		if (same)
			return k;
	}
	return 0;
}
