/*
 * anchor.c - trust anchors from a file and insecure domains (anchor.h).
 */
#include "tierdns/anchor.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ANCHORS_MAX 64
#define INSECURE_MAX 64

struct tdns_anchors {
	struct tdns_anchor a[ANCHORS_MAX];
	size_t n;
	/* name keys (name.h) of the insecure domains */
	uint8_t insecure[INSECURE_MAX][NAME_KEY_MAX];
	size_t insecure_len[INSECURE_MAX];
	size_t n_insecure;
};

enum tdns_status anchors_new(struct tdns_anchors **out)
{
	*out = calloc(1, sizeof(**out));
	return *out != NULL ? TDNS_OK : TDNS_ENOMEM;
}

void anchors_free(struct tdns_anchors *ta)
{
	if (ta == NULL)
		return;
	for (size_t i = 0; i < ta->n; i++) {
		ldns_rr_list_deep_free(ta->a[i].ds);
		ldns_rr_list_deep_free(ta->a[i].keys);
	}
	free(ta);
}

size_t anchors_count(const struct tdns_anchors *ta)
{
	return ta != NULL ? ta->n : 0;
}

/* The lower-cased wire form of an ldns dname into out (NAME_WIRE_MAX). */
static size_t rdf_wire(const ldns_rdf *d, uint8_t *out)
{
	size_t n = ldns_rdf_size(d);

	if (n == 0 || n > NAME_WIRE_MAX)
		return 0;
	memcpy(out, ldns_rdf_data(d), n);
	for (size_t i = 0; i < n; i++)
		if (out[i] >= 'A' && out[i] <= 'Z')
			out[i] = (uint8_t)(out[i] + 32);
	return n;
}

/* The anchor slot for the owner of rr in set (found or new), NULL when
 * the set is full or out of memory. */
static struct tdns_anchor *slot_for(struct tdns_anchor *set, size_t *n,
				    const ldns_rr *rr)
{
	uint8_t w[NAME_WIRE_MAX];
	size_t wl = rdf_wire(ldns_rr_owner(rr), w);
	struct tdns_anchor *a;

	if (wl == 0)
		return NULL;
	for (size_t i = 0; i < *n; i++)
		if (set[i].name_len == wl && memcmp(set[i].name, w, wl) == 0)
			return &set[i];
	if (*n == ANCHORS_MAX)
		return NULL;
	a = &set[*n];
	memset(a, 0, sizeof(*a));
	memcpy(a->name, w, wl);
	a->name_len = wl;
	a->ds = ldns_rr_list_new();
	a->keys = ldns_rr_list_new();
	if (a->ds == NULL || a->keys == NULL) {
		ldns_rr_list_free(a->ds);
		ldns_rr_list_free(a->keys);
		return NULL;
	}
	(*n)++;
	return a;
}

enum tdns_status anchors_load(struct tdns_anchors *ta, const char *path, char *err,
			      size_t errlen)
{
	struct tdns_anchor *got = NULL;
	size_t n = 0, records = 0;
	FILE *f = NULL;
	ldns_rr *rr = NULL;
	ldns_rdf *origin = NULL, *prev = NULL;
	uint32_t ttl = 3600;
	int line = 1;
	ldns_status ls;
	enum tdns_status st = TDNS_ENOMEM;

	got = calloc(ANCHORS_MAX, sizeof(*got));
	if (got == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	f = fopen(path, "r");
	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		st = TDNS_EIO;
		goto out;
	}
	origin = ldns_dname_new_frm_str(".");
	if (origin == NULL)
		goto out;
	st = TDNS_EPARSE;
	while (!feof(f)) {
		struct tdns_anchor *a;
		int at = line; /* where the record starts: ldns counts past it */

		ls = ldns_rr_new_frm_fp_l(&rr, f, &ttl, &origin, &prev, &line);
		if (ls == LDNS_STATUS_SYNTAX_EMPTY || ls == LDNS_STATUS_SYNTAX_TTL ||
		    ls == LDNS_STATUS_SYNTAX_ORIGIN || ls == LDNS_STATUS_SYNTAX_INCLUDE)
			continue;
		if (ls != LDNS_STATUS_OK) {
			snprintf(err, errlen, "%s:%d: %s", path, at, ldns_get_errorstr_by_id(ls));
			goto out;
		}
		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_DS &&
		    ldns_rr_get_type(rr) != LDNS_RR_TYPE_DNSKEY) {
			snprintf(err, errlen, "%s:%d: a trust anchor is a DS or DNSKEY record",
				 path, at);
			goto out;
		}
		a = slot_for(got, &n, rr);
		if (a == NULL) {
			snprintf(err, errlen, "%s:%d: too many trust anchors (at most %d names)",
				 path, at, ANCHORS_MAX);
			goto out;
		}
		if (!ldns_rr_list_push_rr(ldns_rr_get_type(rr) == LDNS_RR_TYPE_DS ? a->ds
										   : a->keys,
					  rr)) {
			st = TDNS_ENOMEM;
			goto out;
		}
		rr = NULL;
		records++;
	}
	if (records == 0) {
		snprintf(err, errlen, "%s: no DS or DNSKEY record", path);
		st = TDNS_EINVAL;
		goto out;
	}
	/* Names already anchored (another file) get the new records too. */
	st = TDNS_EINVAL;
	if (ta->n + n > ANCHORS_MAX) {
		snprintf(err, errlen, "%s: too many trust anchors (at most %d names)", path,
			 ANCHORS_MAX);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct tdns_anchor *a = NULL;

		for (size_t j = 0; j < ta->n && a == NULL; j++)
			if (ta->a[j].name_len == got[i].name_len &&
			    memcmp(ta->a[j].name, got[i].name, got[i].name_len) == 0)
				a = &ta->a[j];
		if (a == NULL) {
			ta->a[ta->n++] = got[i];
			continue;
		}
		while (ldns_rr_list_rr_count(got[i].ds) > 0)
			ldns_rr_list_push_rr(a->ds, ldns_rr_list_pop_rr(got[i].ds));
		while (ldns_rr_list_rr_count(got[i].keys) > 0)
			ldns_rr_list_push_rr(a->keys, ldns_rr_list_pop_rr(got[i].keys));
		ldns_rr_list_free(got[i].ds);
		ldns_rr_list_free(got[i].keys);
	}
	n = 0;
	st = TDNS_OK;
out:
	for (size_t i = 0; i < n; i++) {
		ldns_rr_list_deep_free(got[i].ds);
		ldns_rr_list_deep_free(got[i].keys);
	}
	free(got);
	ldns_rr_free(rr);
	ldns_rdf_deep_free(origin);
	ldns_rdf_deep_free(prev);
	if (f != NULL)
		fclose(f);
	return st;
}

enum tdns_status anchors_add_insecure(struct tdns_anchors *ta, const char *name)
{
	uint8_t w[NAME_WIRE_MAX];
	ldns_rdf *d = NULL;
	size_t wl;
	enum tdns_status st = TDNS_EINVAL;

	if (ldns_str2rdf_dname(&d, name) != LDNS_STATUS_OK)
		goto out;
	wl = rdf_wire(d, w);
	if (wl == 0 || ta->n_insecure == INSECURE_MAX)
		goto out;
	st = name_key_from_wire(w, wl, ta->insecure[ta->n_insecure],
				&ta->insecure_len[ta->n_insecure]);
	if (st == TDNS_OK)
		ta->n_insecure++;
out:
	ldns_rdf_deep_free(d);
	return st;
}

const struct tdns_anchor *anchors_find(const struct tdns_anchors *ta,
				       const uint8_t *name, size_t name_len)
{
	uint8_t nk[NAME_KEY_MAX], ak[NAME_KEY_MAX];
	size_t nl, al, best_len = 0;
	const struct tdns_anchor *best = NULL;

	if (ta == NULL || name_key_from_wire(name, name_len, nk, &nl) != TDNS_OK)
		return NULL;
	for (size_t i = 0; i < ta->n; i++) {
		if (name_key_from_wire(ta->a[i].name, ta->a[i].name_len, ak, &al) != TDNS_OK ||
		    !name_key_is_subdomain(nk, nl, ak, al))
			continue;
		if (best == NULL || ta->a[i].name_len > best_len) {
			best = &ta->a[i];
			best_len = ta->a[i].name_len;
		}
	}
	return best;
}

bool anchors_insecure(const struct tdns_anchors *ta, const uint8_t *name,
		      size_t name_len)
{
	uint8_t nk[NAME_KEY_MAX];
	size_t nl;

	if (ta == NULL || ta->n_insecure == 0 ||
	    name_key_from_wire(name, name_len, nk, &nl) != TDNS_OK)
		return false;
	for (size_t i = 0; i < ta->n_insecure; i++)
		if (name_key_is_subdomain(nk, nl, ta->insecure[i], ta->insecure_len[i]))
			return true;
	return false;
}
