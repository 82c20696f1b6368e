/*
 * negcache.c - NXDOMAIN synthesized from validated NSEC answers (negcache.h).
 */
#include "tierdns/negcache.h"

#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "tierdns/cache.h"
#include "tierdns/dnsproto.h"
#include "tierdns/name.h"
#include "tierdns/validate.h"

/* One NSEC of a kept answer: its owner and next name, and whether it is
 * a delegation or DNAME (no proof for the names below its owner). */
struct neg_nsec {
	ldns_rdf *owner, *next;
	bool cut;
};

struct neg_entry {
	uint8_t *val;           /* NULL: a free slot */
	size_t len;
	uint64_t expiry;
	ldns_rdf *apex;         /* the SOA's owner */
	struct neg_nsec *nsec;
	size_t n_nsec;
};

struct tdns_negcache {
	struct neg_entry *e;
	size_t max;
};

static void entry_clear(struct neg_entry *e)
{
	for (size_t i = 0; i < e->n_nsec; i++) {
		ldns_rdf_deep_free(e->nsec[i].owner);
		ldns_rdf_deep_free(e->nsec[i].next);
	}
	free(e->nsec);
	ldns_rdf_deep_free(e->apex);
	free(e->val);
	memset(e, 0, sizeof(*e));
}

enum tdns_status negcache_new(size_t max, struct tdns_negcache **out)
{
	struct tdns_negcache *n;

	*out = NULL;
	if (max == 0)
		return TDNS_EINVAL;
	n = calloc(1, sizeof(*n));
	if (n == NULL)
		return TDNS_ENOMEM;
	n->e = calloc(max, sizeof(*n->e));
	if (n->e == NULL) {
		free(n);
		return TDNS_ENOMEM;
	}
	n->max = max;
	*out = n;
	return TDNS_OK;
}

void negcache_free(struct tdns_negcache *n)
{
	if (n == NULL)
		return;
	for (size_t i = 0; i < n->max; i++)
		entry_clear(&n->e[i]);
	free(n->e);
	free(n);
}

/* Does the NSEC bitmap (rdata after the next name) show a delegation
 * (NS without SOA) or a DNAME? */
static bool bitmap_cut(const uint8_t *bm, size_t len)
{
	ldns_rdf *b = len > 0 ? ldns_rdf_new_frm_data(LDNS_RDF_TYPE_BITMAP, len, bm) : NULL;
	bool cut = b != NULL &&
		   ((ldns_nsec_bitmap_covers_type(b, LDNS_RR_TYPE_NS) &&
		     !ldns_nsec_bitmap_covers_type(b, LDNS_RR_TYPE_SOA)) ||
		    ldns_nsec_bitmap_covers_type(b, LDNS_RR_TYPE_DNAME));

	ldns_rdf_deep_free(b);
	return cut;
}

/* Read the SOA and NSEC records of val into e (which owns them after);
 * false when there is an answer section, no SOA or no NSEC, or no
 * memory. */
static bool entry_read(struct neg_entry *e, const uint8_t *val, size_t len)
{
	struct cache_rec r;
	size_t pos = 0, n = 0;
	unsigned idx = 0;

	while (cache_value_next(val, len, &pos, &idx, &r)) {
		/* an answer section (a CNAME chain to the name denied) is
		 * no answer for another name */
		if (!r.authority)
			return false;
		n += r.type == DNS_TYPE_NSEC;
	}
	e->nsec = n > 0 ? calloc(n, sizeof(*e->nsec)) : NULL;
	if (e->nsec == NULL)
		return false;
	pos = 0;
	while (cache_value_next(val, len, &pos, &idx, &r)) {
		struct neg_nsec *x = &e->nsec[e->n_nsec];
		size_t nl;

		if (r.type == DNS_TYPE_SOA && e->apex == NULL)
			e->apex = ldns_dname_new_frm_data((uint16_t)r.owner_len, r.owner);
		if (r.type != DNS_TYPE_NSEC || e->n_nsec == n)
			continue;
		/* the next name: uncompressed, first in the rdata */
		for (nl = 0; nl < r.rdlen && r.rdata[nl] != 0; nl += (size_t)r.rdata[nl] + 1)
			;
		if (nl >= r.rdlen)
			return false;
		nl++;
		x->owner = ldns_dname_new_frm_data((uint16_t)r.owner_len, r.owner);
		x->next = ldns_dname_new_frm_data((uint16_t)nl, r.rdata);
		x->cut = bitmap_cut(r.rdata + nl, r.rdlen - nl);
		e->n_nsec++;
		if (x->owner == NULL || x->next == NULL)
			return false;
		ldns_dname2canonical(x->owner);
		ldns_dname2canonical(x->next);
	}
	if (e->apex != NULL)
		ldns_dname2canonical(e->apex);
	return e->apex != NULL && e->n_nsec > 0;
}

void negcache_add(struct tdns_negcache *n, const uint8_t *val, size_t len, uint64_t now)
{
	struct neg_entry *e = &n->e[0];
	struct neg_entry fresh = { 0 };

	if (len < 2 || val[1] != DNS_RCODE_NXDOMAIN || cache_value_status(val, len) != VALID_SECURE)
		return;
	fresh.expiry = dns_rd64(val + 2);
	if (fresh.expiry <= now)
		return;
	fresh.val = malloc(len);
	if (fresh.val == NULL || !entry_read(&fresh, val, len)) {
		entry_clear(&fresh);
		return;
	}
	memcpy(fresh.val, val, len);
	fresh.len = len;
	/* a free or expired slot, else the one that expires first */
	for (size_t i = 0; i < n->max; i++) {
		if (n->e[i].val == NULL || n->e[i].expiry <= now) {
			e = &n->e[i];
			break;
		}
		if (n->e[i].expiry < e->expiry)
			e = &n->e[i];
	}
	entry_clear(e);
	*e = fresh;
}

/* Does x cover name (canonical order, RFC 4034 6.1), with no cut above it? */
static bool nsec_covers(const struct neg_nsec *x, const ldns_rdf *name)
{
	int lo = ldns_dname_compare(x->owner, name), hi = ldns_dname_compare(name, x->next);

	if (x->cut && ldns_dname_is_subdomain(name, x->owner))
		return false;
	/* the zone's last NSEC wraps round to the apex */
	if (ldns_dname_compare(x->owner, x->next) >= 0)
		return lo < 0 || hi < 0;
	return lo < 0 && hi < 0;
}

/* Does e prove name absent: an NSEC covering it and one covering the
 * wildcard at its closest encloser? */
static bool entry_proves(const struct neg_entry *e, const ldns_rdf *name)
{
	const struct neg_nsec *cover = NULL;
	ldns_rdf *ce, *star, *wc;
	unsigned lo, ln, ce_labels, labels = ldns_dname_label_count(name);
	bool ok = false;

	if (!ldns_dname_is_subdomain(name, e->apex))
		return false;
	for (size_t i = 0; i < e->n_nsec && cover == NULL; i++)
		if (nsec_covers(&e->nsec[i], name))
			cover = &e->nsec[i];
	if (cover == NULL)
		return false;
	lo = validate_shared_labels(name, cover->owner);
	ln = validate_shared_labels(name, cover->next);
	ce_labels = lo > ln ? lo : ln;
	if (ce_labels >= labels)
		return false;
	ce = ldns_dname_clone_from(name, (uint16_t)(labels - ce_labels));
	star = ldns_dname_new_frm_str("*");
	wc = ce != NULL && star != NULL ? ldns_dname_cat_clone(star, ce) : NULL;
	for (size_t i = 0; wc != NULL && i < e->n_nsec && !ok; i++)
		ok = nsec_covers(&e->nsec[i], wc);
	ldns_rdf_deep_free(wc);
	ldns_rdf_deep_free(star);
	ldns_rdf_deep_free(ce);
	return ok;
}

bool negcache_find(struct tdns_negcache *n, const uint8_t *name, size_t name_len, uint64_t now,
		   const uint8_t **val, size_t *len)
{
	ldns_rdf *q;
	bool found = false;

	if (name_len == 0 || name_len > NAME_WIRE_MAX)
		return false;
	q = ldns_dname_new_frm_data((uint16_t)name_len, name);
	if (q == NULL)
		return false;
	ldns_dname2canonical(q);
	for (size_t i = 0; i < n->max && !found; i++) {
		const struct neg_entry *e = &n->e[i];

		if (e->val == NULL || e->expiry <= now || !entry_proves(e, q))
			continue;
		*val = e->val;
		*len = e->len;
		found = true;
	}
	ldns_rdf_deep_free(q);
	return found;
}
