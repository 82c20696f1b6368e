/*
 * zonesign.c - signing, DS and verification of stored zones with ldns
 * (zonesign.h). Signing a whole zone goes through its master-file form:
 * the dump of the store is read into an ldns zone, signed, printed and
 * loaded back (zoneload.h), so the store never holds half a signed zone.
 * Signing an edit works in the store itself, by name and by hash, with
 * ldns signing each RRset (the incremental section below).
 */
#include "tierdns/zonesign.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "tierdns/clock.h"
#include "tierdns/dnsproto.h"
#include "tierdns/journal.h"
#include "tierdns/log.h"
#include "tierdns/name.h"
#include "tierdns/qctx.h"
#include "tierdns/rrset.h"
#include "tierdns/zonedb.h"
#include "tierdns/zoneload.h"

/* The zone's apex key and its name as an ldns rdf (absolute). */
static enum tdns_status zone_names(const char *zone, uint8_t *apex,
				   size_t *alen, ldns_rdf **origin)
{
	uint8_t wire[NAME_WIRE_MAX];
	size_t wlen;

	*origin = NULL;
	if (zoneload_name_key(zone, apex, alen) != TDNS_OK ||
	    name_key_to_wire(apex, *alen, wire, &wlen) != TDNS_OK)
		return TDNS_EINVAL;
	*origin = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME, wlen, wire);
	return *origin != NULL ? TDNS_OK : TDNS_ENOMEM;
}

/* One key pair: path is base, base.key or base.private. */
static enum tdns_status read_key(const char *path, const ldns_rdf *origin,
				 const struct zonesign_opts *o, ldns_key **key,
				 ldns_rr **dnskey, char *err, size_t errlen)
{
	char base[PATH_MAX], file[PATH_MAX + 16];
	size_t n = strlen(path);
	uint32_t validity = o->validity ? o->validity : ZONESIGN_VALIDITY;
	ldns_status ls;
	FILE *fp;
	int line = 0, alg;

	*key = NULL;
	*dnskey = NULL;
	if (n >= sizeof(base)) {
		zoneload_seterr(err, errlen, "%s: path too long", path);
		return TDNS_EINVAL;
	}
	memcpy(base, path, n + 1);
	if (n > 8 && strcmp(base + n - 8, ".private") == 0)
		base[n - 8] = '\0';
	else if (n > 4 && strcmp(base + n - 4, ".key") == 0)
		base[n - 4] = '\0';
	snprintf(file, sizeof(file), "%s.private", base);
	fp = fopen(file, "r");
	if (fp == NULL) {
		zoneload_seterr(err, errlen, "%s: %s", file, strerror(errno));
		return TDNS_EIO;
	}
	ls = ldns_key_new_frm_fp_l(key, fp, &line);
	fclose(fp);
	if (ls != LDNS_STATUS_OK) {
		zoneload_seterr(err, errlen, "%s:%d: not a private key: %s", file, line,
		       ldns_get_errorstr_by_id(ls));
		return TDNS_EINVAL;
	}
	snprintf(file, sizeof(file), "%s.key", base);
	*dnskey = ldns_read_anchor_file(file);
	if (*dnskey == NULL || ldns_rr_get_type(*dnskey) != LDNS_RR_TYPE_DNSKEY ||
	    ldns_rr_rd_count(*dnskey) < 4) {
		zoneload_seterr(err, errlen, "%s: no DNSKEY record in it", file);
		return TDNS_EINVAL;
	}
	if (ldns_dname_compare(ldns_rr_owner(*dnskey), origin) != 0) {
		char *o1 = ldns_rdf2str(ldns_rr_owner(*dnskey));
		char *o2 = ldns_rdf2str(origin);

		zoneload_seterr(err, errlen, "%s: a key of %s, not of the zone %s", file,
		       o1 != NULL ? o1 : "?", o2 != NULL ? o2 : "?");
		free(o1);
		free(o2);
		return TDNS_EINVAL;
	}
	alg = (int)ldns_key_algorithm(*key);
	if (alg != LDNS_SIGN_RSASHA256 && alg != LDNS_SIGN_ECDSAP256SHA256 &&
	    alg != LDNS_SIGN_ED25519) {
		zoneload_seterr(err, errlen, "%s: algorithm %d is not supported (8 "
		       "RSASHA256, 13 ECDSAP256SHA256, 15 ED25519)", file, alg);
		return TDNS_EINVAL;
	}
	ldns_key_set_flags(*key, ldns_rdf2native_int16(ldns_rr_rdf(*dnskey, 0)));
	ldns_key_set_keytag(*key, ldns_calc_keytag(*dnskey));
	ldns_key_set_pubkey_owner(*key, ldns_rdf_clone(origin));
	ldns_key_set_inception(*key, (uint32_t)(o->now - ZONESIGN_INCEPTION_SKEW));
	ldns_key_set_expiration(*key, (uint32_t)(o->now + validity));
	return TDNS_OK;
}

/* The key pairs keyfiles[0..nkeys) (read_key) into *keys, their DNSKEY
 * records into *dnskeys; both the caller's (ldns_key_list_free,
 * ldns_rr_list_deep_free), also on an error. */
static enum tdns_status read_keys(const char *const *keyfiles, size_t nkeys,
				  const ldns_rdf *origin, const struct zonesign_opts *o,
				  ldns_key_list **keys, ldns_rr_list **dnskeys, char *err,
				  size_t errlen)
{
	enum tdns_status st = TDNS_OK;
	size_t i;

	*keys = ldns_key_list_new();
	*dnskeys = ldns_rr_list_new();
	if (*keys == NULL || *dnskeys == NULL)
		st = TDNS_ENOMEM;
	for (i = 0; i < nkeys && st == TDNS_OK; i++) {
		ldns_key *key = NULL;
		ldns_rr *dnskey = NULL;

		st = read_key(keyfiles[i], origin, o, &key, &dnskey, err, errlen);
		if (st == TDNS_OK && !ldns_key_list_push_key(*keys, key))
			st = TDNS_ENOMEM;
		else if (st == TDNS_OK)
			key = NULL;
		if (st == TDNS_OK && !ldns_rr_list_push_rr(*dnskeys, dnskey))
			st = TDNS_ENOMEM;
		else if (st == TDNS_OK)
			dnskey = NULL;
		if (key != NULL) /* ldns's key free does not take NULL */
			ldns_key_deep_free(key);
		ldns_rr_free(dnskey);
	}
	if (st == TDNS_ENOMEM)
		zoneload_seterr(err, errlen, "out of memory");
	return st;
}

/* The zone's master-file text from transaction t (malloc'd,
 * NUL-terminated). */
static enum tdns_status dump_zone(struct tdns_txn *t, const uint8_t *apex,
				  size_t alen, char **text, size_t *len)
{
	enum tdns_status st;
	FILE *fp;

	*text = NULL;
	*len = 0;
	fp = open_memstream(text, len);
	if (fp == NULL)
		return TDNS_ENOMEM;
	st = zoneload_dump(t, apex, alen, fp);
	if (fclose(fp) != 0 && st == TDNS_OK)
		st = TDNS_ENOMEM;
	return st;
}

/* ---- which signatures are kept ------------------------------------ */

/* The old NSEC/NSEC3 records and their signatures, sorted by owner. */
struct old_chain {
	ldns_rr **rec, **sig;
	size_t nrec, nsig;
};

static int owner_cmp(const void *a, const void *b)
{
	return ldns_dname_compare(ldns_rr_owner(*(ldns_rr *const *)a),
				  ldns_rr_owner(*(ldns_rr *const *)b));
}

/* The first of v[0..n) whose owner is not below owner's (canonical). */
static size_t lower_bound(ldns_rr **v, size_t n, const ldns_rdf *owner)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ldns_dname_compare(ldns_rr_owner(v[mid]), owner) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The old chain record that equals now (owner, rdata and TTL), or NULL. */
static const ldns_rr *old_same(const struct old_chain *oc, const ldns_rr *now)
{
	const ldns_rdf *owner = ldns_rr_owner(now);
	size_t i = lower_bound(oc->rec, oc->nrec, owner);

	if (i == oc->nrec || ldns_dname_compare(ldns_rr_owner(oc->rec[i]), owner) != 0 ||
	    ldns_rr_compare(oc->rec[i], now) != 0 || ldns_rr_ttl(oc->rec[i]) != ldns_rr_ttl(now))
		return NULL;
	return oc->rec[i];
}

struct keep {
	ldns_key_list *keys;
	uint32_t now;     /* RFC 4034 3.1.5: 32-bit serial arithmetic */
	uint32_t refresh; /* renew what expires within this many seconds */
	ldns_dnssec_zone *sz;        /* the zone being signed */
	const struct old_chain *oc;  /* its chain before */
};

static ldns_rr_type sig_covers(const ldns_rr *sig)
{
	return ldns_rdf2rr_type(ldns_rr_rrsig_typecovered(sig));
}

/* A signature stays when it is one of our keys', valid now, and expires
 * after the refresh window. The SOA's and the DNSKEY RRset's are always
 * made again: the serial changes at every signing, and the key set may;
 * so is the NSEC3PARAM's, which is made again with the chain. */
static bool sig_fresh(const ldns_rr *sig, const struct keep *k)
{
	uint16_t tag = ldns_rdf2native_int16(ldns_rr_rrsig_keytag(sig));
	uint8_t alg = ldns_rdf2native_int8(ldns_rr_rrsig_algorithm(sig));
	uint32_t inc = ldns_rdf2native_int32(ldns_rr_rrsig_inception(sig));
	uint32_t exp = ldns_rdf2native_int32(ldns_rr_rrsig_expiration(sig));
	ldns_rr_type covers = sig_covers(sig);
	bool ours = false;
	size_t i;

	if (k->refresh == 0 || covers == LDNS_RR_TYPE_SOA ||
	    covers == LDNS_RR_TYPE_DNSKEY || covers == LDNS_RR_TYPE_NSEC3PARAM)
		return false;
	for (i = 0; i < ldns_key_list_key_count(k->keys) && !ours; i++) {
		ldns_key *key = ldns_key_list_key(k->keys, i);

		ours = ldns_key_keytag(key) == tag &&
		       (uint8_t)ldns_key_algorithm(key) == alg;
	}
	return ours && (int32_t)(k->now - inc) >= 0 &&
	       (int32_t)(exp - k->now) > (int32_t)k->refresh;
}

/* ldns's per-signature callback (dnssec.h LDNS_SIGNATURE_*): leave a
 * fresh signature and make none for its key, replace the others. */
static int keep_sig(ldns_rr *sig, void *arg)
{
	const struct keep *k = arg;
	const ldns_dnssec_name *name;
	ldns_rbnode_t *node;

	if (sig == NULL)
		return LDNS_SIGNATURE_LEAVE_ADD_NEW;
	/* An old NSEC signature (given back to its name, NSEC zones only):
	 * the chain was made again, so it stays only with the same NSEC. */
	if (sig_covers(sig) == LDNS_RR_TYPE_NSEC) {
		node = ldns_rbtree_search(k->sz->names, ldns_rr_owner(sig));
		name = node != NULL ? node->data : NULL;
		if (name == NULL || name->nsec == NULL || old_same(k->oc, name->nsec) == NULL)
			return LDNS_SIGNATURE_REMOVE_ADD_NEW;
	}
	return sig_fresh(sig, k) ? LDNS_SIGNATURE_LEAVE_NO_ADD
				 : LDNS_SIGNATURE_REMOVE_ADD_NEW;
}

/*
 * NSEC3: the chain was made anew by the signer and signed in full (ldns
 * files the old NSEC3 signatures under their hashed owners, not with the
 * names the new records belong to); where a record came out as it was
 * and all its old signatures are fresh, those are kept instead, so that
 * only the chain around a name added or deleted changes. The new
 * signatures stay owned by the signer's list of new records (freed with
 * it). NSEC zones had their old signatures given back before signing
 * (keep_sig decides); here only those left at a name that has no NSEC
 * any more (it became glue) are dropped.
 */
static enum tdns_status keep_chain_sigs(ldns_dnssec_zone *sz, const struct keep *k)
{
	const struct old_chain *oc = k->oc;
	ldns_rbnode_t *node;

	if (sz->names == NULL)
		return TDNS_OK;
	for (node = ldns_rbtree_first(sz->names); node != LDNS_RBTREE_NULL;
	     node = ldns_rbtree_next(node)) {
		ldns_dnssec_name *name = (ldns_dnssec_name *)(uintptr_t)node->data;
		ldns_dnssec_rrs *kept = NULL;
		const ldns_rdf *owner;
		size_t i, j;

		if (name->nsec == NULL) {
			ldns_dnssec_rrs_free(name->nsec_signatures);
			name->nsec_signatures = NULL;
			continue;
		}
		if (ldns_rr_get_type(name->nsec) != LDNS_RR_TYPE_NSEC3 ||
		    old_same(oc, name->nsec) == NULL)
			continue;
		owner = ldns_rr_owner(name->nsec);
		j = lower_bound(oc->sig, oc->nsig, owner);
		for (i = j; i < oc->nsig &&
			    ldns_dname_compare(ldns_rr_owner(oc->sig[i]), owner) == 0; i++)
			if (sig_covers(oc->sig[i]) != LDNS_RR_TYPE_NSEC3 || !sig_fresh(oc->sig[i], k))
				break;
		if (i == j || (i < oc->nsig &&
			       ldns_dname_compare(ldns_rr_owner(oc->sig[i]), owner) == 0))
			continue;
		for (; j < i; j++) {
			if (kept == NULL) {
				kept = ldns_dnssec_rrs_new();
				if (kept == NULL)
					return TDNS_ENOMEM;
				kept->rr = oc->sig[j];
			} else if (ldns_dnssec_rrs_add_rr(kept, oc->sig[j]) != LDNS_STATUS_OK) {
				ldns_dnssec_rrs_free(kept);
				return TDNS_ENOMEM;
			}
		}
		ldns_dnssec_rrs_free(name->nsec_signatures);
		name->nsec_signatures = kept;
	}
	return TDNS_OK;
}

/* ---- delegations to zones of the same store ----------------------- */

struct children {
	const uint8_t *apex;
	size_t alen;
	uint8_t (*keys)[NAME_KEY_MAX];
	size_t *lens, n, cap;
};

static int child_one(void *ctx, const uint8_t *apex, size_t apex_len,
		     const struct tdns_zone_meta *m)
{
	struct children *c = ctx;

	(void)m;
	if (apex_len <= c->alen ||
	    !name_key_is_subdomain(apex, apex_len, c->apex, c->alen))
		return 0;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 8;
		void *k = realloc(c->keys, cap * sizeof(*c->keys));
		void *l = k != NULL ? realloc(c->lens, cap * sizeof(*c->lens)) : NULL;

		if (k != NULL)
			c->keys = k;
		if (l == NULL)
			return 1;
		c->lens = l;
		c->cap = cap;
	}
	memcpy(c->keys[c->n], apex, apex_len);
	c->lens[c->n++] = apex_len;
	return 0;
}

/*
 * A zone held in the same store below this one keeps the delegation's NS
 * RRset (zonedb.h: the deeper zone owns its apex), so the dump lacks it.
 * The signer must see the cut - the NSEC/NSEC3 at the delegation lists NS
 * (RFC 4035 2.3), the NS is not signed, the names below are not in the
 * chain - so the child's apex NS records join the zone to sign; storing
 * the signed zone leaves them to the child again.
 */
static enum tdns_status add_cuts(struct tdns_txn *t, const uint8_t *apex, size_t alen,
				 ldns_zone *z)
{
	struct children c = { apex, alen, NULL, NULL, 0, 0 };
	enum tdns_status st;
	size_t i, j;
	int stop = 0;

	st = zonedb_list(t, child_one, &c, &stop);
	if (st == TDNS_OK && stop)
		st = TDNS_ENOMEM;
	for (i = 0; i < c.n && st == TDNS_OK; i++) {
		struct tdns_rrset_view v;
		ldns_rr_list *ns = NULL;
		bool nearest = true;

		/* Only the nearest: a zone below another child is its. */
		for (j = 0; j < c.n && nearest; j++)
			nearest = j == i || c.lens[j] >= c.lens[i] ||
				  !name_key_is_subdomain(c.keys[i], c.lens[i], c.keys[j],
							 c.lens[j]);
		if (!nearest)
			continue;
		st = zonedb_get_rrset(t, c.keys[i], c.lens[i], LDNS_RR_TYPE_NS, &v);
		if (st == TDNS_ENOTFOUND) {
			st = TDNS_OK;
			continue;
		}
		if (st == TDNS_OK)
			st = zoneload_rrset_key_to_ldns(c.keys[i], c.lens[i],
							LDNS_RR_TYPE_NS, &v, &ns);
		for (j = 0; st == TDNS_OK && j < ldns_rr_list_rr_count(ns); j++) {
			ldns_rr *rr = ldns_rr_list_rr(ns, j), *copy;

			if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_NS)
				continue;
			copy = ldns_rr_clone(rr);
			if (copy == NULL || !ldns_zone_push_rr(z, copy)) {
				ldns_rr_free(copy);
				st = TDNS_ENOMEM;
			}
		}
		ldns_rr_list_deep_free(ns);
	}
	free(c.keys);
	free(c.lens);
	return st;
}

/* ---- signing ------------------------------------------------------- */

/*
 * Sign the zone apex[0..alen) (origin, named zone) in write transaction t:
 * its dump read back, the keys' DNSKEYs added, the serial raised when
 * bump, every RRset and the chain signed where no fresh signature of ours
 * is kept, and the result applied to the store (zoneload_apply: in the
 * caller's journal when it follows the zone already).
 */
static enum tdns_status sign_txn(struct tdns_txn *t, const char *zone,
				 const uint8_t *apex, size_t alen, ldns_rdf *origin,
				 const char *const *keyfiles, size_t nkeys,
				 const struct zonesign_opts *o, bool bump, char *err,
				 size_t errlen)
{
	size_t dlen = 0, slen = 0, i, j;
	ldns_zone *z = NULL;
	ldns_dnssec_zone *sz = NULL;
	ldns_key_list *keys = NULL;
	ldns_rr_list *added = NULL, *dnskeys = NULL;
	ldns_rr *dnskey;
	struct tdns_zoneset *zs = NULL;
	struct old_chain oc = { NULL, NULL, 0, 0 };
	struct keep k = { 0 };
	char *dump = NULL, *text = NULL;
	enum tdns_status st;
	ldns_status ls;
	FILE *fp = NULL;
	int line = 0;
	uint32_t validity = o->validity ? o->validity : ZONESIGN_VALIDITY;

	st = dump_zone(t, apex, alen, &dump, &dlen);
	if (st != TDNS_OK) {
		zoneload_seterr(err, errlen, "%s: %s", zone, st == TDNS_ENOTFOUND
		       ? "no such zone in the store" : tdns_strerror(st));
		goto out;
	}
	st = TDNS_EINVAL;
	fp = fmemopen(dump, dlen, "r");
	if (fp == NULL)
		goto nomem;
	ls = ldns_zone_new_frm_fp_l(&z, fp, origin, ZONELOAD_DEFAULT_TTL,
				    LDNS_RR_CLASS_IN, &line);
	fclose(fp);
	fp = NULL;
	if (ls != LDNS_STATUS_OK || ldns_zone_soa(z) == NULL) {
		zoneload_seterr(err, errlen, "%s: the stored zone does not read back "
		       "(line %d: %s)", zone, line, ldns_get_errorstr_by_id(ls));
		goto out;
	}
	st = add_cuts(t, apex, alen, z);
	if (st != TDNS_OK) {
		zoneload_seterr(err, errlen, "%s: %s", zone, tdns_strerror(st));
		goto out;
	}
	st = read_keys(keyfiles, nkeys, origin, o, &keys, &dnskeys, err, errlen);
	if (st != TDNS_OK)
		goto out;
	st = TDNS_EINVAL;
	/* Each key's DNSKEY joins the apex unless it is there. */
	while ((dnskey = ldns_rr_list_pop_rr(dnskeys)) != NULL) {
		bool have = false;

		for (j = 0; j < ldns_rr_list_rr_count(ldns_zone_rrs(z)) && !have; j++)
			have = ldns_rr_compare(ldns_rr_list_rr(ldns_zone_rrs(z), j),
					       dnskey) == 0;
		if (have) {
			ldns_rr_free(dnskey);
			continue;
		}
		ldns_rr_set_ttl(dnskey, ldns_rr_ttl(ldns_zone_soa(z)));
		if (!ldns_zone_push_rr(z, dnskey)) {
			ldns_rr_free(dnskey);
			goto nomem;
		}
	}
	/* RFC 1982: the signed zone is a new version (serial + 1, wrapping).
	 * By hand: ldns_rr_soa_increment leaks the serial it replaces. */
	if (bump) {
		ldns_rr *soa = ldns_zone_soa(z);
		ldns_rdf *serial = ldns_native2rdf_int32(
			LDNS_RDF_TYPE_INT32,
			ldns_rdf2native_int32(ldns_rr_rdf(soa, 2)) + 1u);

		if (serial == NULL)
			goto nomem;
		ldns_rdf_deep_free(ldns_rr_set_rdf(soa, serial, 2));
	}
	k.keys = keys;
	k.now = (uint32_t)o->now;
	k.refresh = o->refresh;
	if (k.refresh > validity)
		k.refresh = validity;
	sz = ldns_dnssec_zone_new();
	oc.rec = calloc(ldns_rr_list_rr_count(ldns_zone_rrs(z)) + 1, sizeof(*oc.rec));
	oc.sig = calloc(ldns_rr_list_rr_count(ldns_zone_rrs(z)) + 1, sizeof(*oc.sig));
	if (sz == NULL || oc.rec == NULL || oc.sig == NULL ||
	    ldns_dnssec_zone_add_rr(sz, ldns_zone_soa(z)) != LDNS_STATUS_OK)
		goto nomem;
	for (i = 0; i < ldns_rr_list_rr_count(ldns_zone_rrs(z)); i++) {
		ldns_rr *rr = ldns_rr_list_rr(ldns_zone_rrs(z), i);
		ldns_rr_type type = ldns_rr_get_type(rr), covers;

		/* The chain is made again (the old one kept aside to keep its
		 * fresh signatures), so is the NSEC3PARAM; signatures of ours
		 * that are fresh stay with their RRset (keep_sig). */
		if (type == LDNS_RR_TYPE_NSEC || type == LDNS_RR_TYPE_NSEC3) {
			oc.rec[oc.nrec++] = rr;
			continue;
		}
		if (type == LDNS_RR_TYPE_NSEC3PARAM)
			continue;
		if (type == LDNS_RR_TYPE_RRSIG) {
			covers = sig_covers(rr);
			if (covers == LDNS_RR_TYPE_NSEC || covers == LDNS_RR_TYPE_NSEC3) {
				oc.sig[oc.nsig++] = rr;
				continue;
			}
			if (!sig_fresh(rr, &k))
				continue;
		}
		ls = ldns_dnssec_zone_add_rr(sz, rr);
		if (ls != LDNS_STATUS_OK) {
			zoneload_seterr(err, errlen, "%s: %s", zone, ldns_get_errorstr_by_id(ls));
			goto out;
		}
	}
	qsort(oc.rec, oc.nrec, sizeof(*oc.rec), owner_cmp);
	qsort(oc.sig, oc.nsig, sizeof(*oc.sig), owner_cmp);
	k.sz = sz;
	k.oc = &oc;
	/* NSEC: the old signatures go back to their names (those still in the
	 * zone), for keep_sig to keep where the NSEC comes out the same. */
	for (i = 0; !o->nsec3 && i < oc.nsig; i++) {
		ldns_rbnode_t *node = ldns_rbtree_search(sz->names, ldns_rr_owner(oc.sig[i]));
		const ldns_dnssec_name *name = node != NULL ? node->data : NULL;

		if (name == NULL || name->rrsets == NULL ||
		    sig_covers(oc.sig[i]) != LDNS_RR_TYPE_NSEC)
			continue;
		ls = ldns_dnssec_zone_add_rr(sz, oc.sig[i]);
		if (ls != LDNS_STATUS_OK) {
			zoneload_seterr(err, errlen, "%s: %s", zone, ldns_get_errorstr_by_id(ls));
			goto out;
		}
	}
	added = ldns_rr_list_new();
	if (added == NULL)
		goto nomem;
	if (o->nsec3)
		ls = ldns_dnssec_zone_sign_nsec3(sz, added, keys, keep_sig, &k, LDNS_SHA1,
						 o->optout ? LDNS_NSEC3_VARS_OPTOUT_MASK : 0,
						 o->iterations, o->salt_len,
						 (uint8_t *)(uintptr_t)o->salt);
	else
		ls = ldns_dnssec_zone_sign(sz, added, keys, keep_sig, &k);
	if (ls != LDNS_STATUS_OK) {
		zoneload_seterr(err, errlen, "%s: signing failed: %s", zone,
		       ldns_get_errorstr_by_id(ls));
		goto out;
	}
	st = keep_chain_sigs(sz, &k);
	if (st != TDNS_OK)
		goto nomem;
	fp = open_memstream(&text, &slen);
	if (fp == NULL)
		goto nomem;
	ldns_dnssec_zone_print(fp, sz);
	if (fclose(fp) != 0) {
		fp = NULL;
		goto nomem;
	}
	fp = NULL;
	zs = zoneload_new();
	if (zs == NULL)
		goto nomem;
	st = zoneload_text(zs, text, zone, err, errlen);
	if (st == TDNS_OK) {
		st = zoneload_apply(zs, t);
		if (st != TDNS_OK)
			zoneload_seterr(err, errlen, "%s: cannot store the signed zone: %s",
			       zone, tdns_strerror(st));
	}
	goto out;
nomem:
	st = TDNS_ENOMEM;
	zoneload_seterr(err, errlen, "%s: out of memory", zone);
out:
	zoneload_free(zs);
	free(text);
	free(dump);
	free(oc.rec);
	free(oc.sig);
	/* The ldns zone owns the records (the dnssec zone points to them),
	 * added owns what the signer made. */
	if (sz != NULL)
		ldns_dnssec_zone_free(sz);
	if (z != NULL)
		ldns_zone_deep_free(z);
	if (added != NULL)
		ldns_rr_list_deep_free(added);
	ldns_rr_list_deep_free(dnskeys);
	if (keys != NULL)
		ldns_key_list_free(keys);
	return st;
}

/* ---- what add and delete sign with -------------------------------- */

/*
 * The signing settings of a zone, kept in the store's meta database by
 * zonesign_sign under "zonesign:" + apex key, network order:
 *   u8 version (1) | u8 flags (1 NSEC3, 2 opt-out) | u16 iterations |
 *   u32 validity | u32 refresh | u8 salt length | salt |
 *   u8 key count | count * ( u16 length | key file path )
 */
#define CONF_PREFIX "zonesign:"
#define CONF_VERSION 1

static size_t conf_key(const uint8_t *apex, size_t alen, uint8_t *out)
{
	memcpy(out, CONF_PREFIX, sizeof(CONF_PREFIX) - 1);
	memcpy(out + sizeof(CONF_PREFIX) - 1, apex, alen);
	return sizeof(CONF_PREFIX) - 1 + alen;
}

static enum tdns_status save_conf(struct tdns_txn *t, const uint8_t *apex, size_t alen,
				  const char *const *keyfiles, size_t nkeys,
				  const struct zonesign_opts *o)
{
	uint8_t key[sizeof(CONF_PREFIX) + NAME_KEY_MAX], *val = NULL, *p;
	char **paths = NULL;
	size_t i, len = 14 + o->salt_len;
	enum tdns_status st = TDNS_ENOMEM;

	if (nkeys > 255)
		return TDNS_EINVAL;
	paths = calloc(nkeys + 1, sizeof(*paths));
	if (paths == NULL)
		goto out;
	for (i = 0; i < nkeys; i++) {
		/* Absolute, so that an edit from another directory finds them. */
		paths[i] = realpath(keyfiles[i], NULL);
		if (paths[i] == NULL)
			paths[i] = strdup(keyfiles[i]);
		if (paths[i] == NULL)
			goto out;
		if (strlen(paths[i]) > UINT16_MAX) {
			st = TDNS_EINVAL;
			goto out;
		}
		len += 2 + strlen(paths[i]);
	}
	val = malloc(len);
	if (val == NULL)
		goto out;
	p = val;
	*p++ = CONF_VERSION;
	*p++ = (uint8_t)((o->nsec3 ? 1 : 0) | (o->optout ? 2 : 0));
	dns_wr16(p, o->iterations);
	dns_wr32(p + 2, o->validity ? o->validity : ZONESIGN_VALIDITY);
	dns_wr32(p + 6, o->refresh);
	p += 10;
	*p++ = o->salt_len;
	if (o->salt_len > 0)
		memcpy(p, o->salt, o->salt_len);
	p += o->salt_len;
	*p++ = (uint8_t)nkeys;
	for (i = 0; i < nkeys; i++) {
		size_t n = strlen(paths[i]);

		dns_wr16(p, (uint16_t)n);
		memcpy(p + 2, paths[i], n);
		p += 2 + n;
	}
	st = store_put(t, TDNS_DB_META, key, conf_key(apex, alen, key), val,
		       (size_t)(p - val));
out:
	for (i = 0; paths != NULL && i < nkeys; i++)
		free(paths[i]);
	free(paths);
	free(val);
	return st;
}

/* The settings back: *keyfiles (malloc'd array of malloc'd paths, *nkeys
 * of them) and o (its salt in salt[]). TDNS_ENOTFOUND: never signed here;
 * TDNS_EINVAL: a value this version does not read. */
static enum tdns_status load_conf(struct tdns_txn *t, const uint8_t *apex, size_t alen,
				  char ***keyfiles, size_t *nkeys,
				  struct zonesign_opts *o, uint8_t *salt)
{
	uint8_t key[sizeof(CONF_PREFIX) + NAME_KEY_MAX];
	struct tdns_val v;
	const uint8_t *p, *end;
	enum tdns_status st;
	size_t i, n;

	*keyfiles = NULL;
	*nkeys = 0;
	st = store_get(t, TDNS_DB_META, key, conf_key(apex, alen, key), &v);
	if (st != TDNS_OK)
		return st;
	p = v.data;
	end = v.data + v.len;
	if (v.len < 13 || p[0] != CONF_VERSION)
		return TDNS_EINVAL;
	o->nsec3 = (p[1] & 1) != 0;
	o->optout = (p[1] & 2) != 0;
	o->iterations = dns_rd16(p + 2);
	o->validity = dns_rd32(p + 4);
	o->refresh = dns_rd32(p + 8);
	o->salt_len = p[12];
	p += 13;
	if ((size_t)(end - p) < (size_t)o->salt_len + 1)
		return TDNS_EINVAL;
	memcpy(salt, p, o->salt_len);
	o->salt = salt;
	p += o->salt_len;
	n = *p++;
	*keyfiles = calloc(n + 1, sizeof(**keyfiles));
	if (*keyfiles == NULL)
		return TDNS_ENOMEM;
	for (i = 0; i < n; i++) {
		size_t len;

		if (end - p < 2 || (size_t)(end - p - 2) < (len = dns_rd16(p)))
			return TDNS_EINVAL;
		(*keyfiles)[i] = strndup((const char *)p + 2, len);
		if ((*keyfiles)[i] == NULL)
			return TDNS_ENOMEM;
		*nkeys = i + 1;
		p += 2 + len;
	}
	return TDNS_OK;
}

enum tdns_status zonesign_forget(struct tdns_txn *t, const uint8_t *apex, size_t alen)
{
	uint8_t key[sizeof(CONF_PREFIX) + NAME_KEY_MAX];
	enum tdns_status st;

	if (alen > NAME_KEY_MAX)
		return TDNS_EINVAL;
	st = store_del(t, TDNS_DB_META, key, conf_key(apex, alen, key));
	return st == TDNS_ENOTFOUND ? TDNS_OK : st;
}

enum tdns_status zonesign_follow_cut(struct tdns_txn *t, struct journal_cut *cut,
				     bool *followed, uint32_t *serial, char *err, size_t errlen)
{
	struct tdns_zone_meta m;
	const uint8_t *parent;
	size_t plen;
	bool changed, resigned;
	enum tdns_status st;

	*followed = false;
	st = journal_cut_changed(t, cut, &changed);
	if (st != TDNS_OK || !changed)
		return st;
	parent = journal_cut_parent(cut, &plen);
	st = journal_begin(t, parent, plen);
	if (st != TDNS_OK)
		return st;
	st = zoneload_bump_serial(t, parent, plen, ZONEDB_SERIAL_ZONE);
	if (st == TDNS_OK)
		st = zonesign_resign(t, parent, plen, clock_now(), &resigned, err, errlen);
	/* The note comes last: the re-signing reads the diff's changes and
	 * must not take the delegation for the parent's own RRsets. */
	if (st == TDNS_OK)
		st = journal_cut_note(t, cut);
	if (st != TDNS_OK) {
		journal_end(t, false);
		return st;
	}
	st = journal_end(t, true);
	if (st == TDNS_OK)
		st = zonedb_get_meta(t, parent, plen, &m);
	if (st == TDNS_OK) {
		*followed = true;
		*serial = m.serial;
	}
	return st;
}

enum tdns_status zonesign_remove_zone(struct tdns_txn *t, const uint8_t *apex, size_t alen,
				      struct journal_cut **cut, bool *followed, uint32_t *serial,
				      char *err, size_t errlen)
{
	enum tdns_status st;

	*cut = NULL;
	*followed = false;
	st = zonedb_get_meta(t, apex, alen, NULL);
	if (st == TDNS_OK)
		st = journal_cut_take(t, apex, alen, cut);
	if (st == TDNS_OK)
		st = zonedb_delete_zone(t, apex, alen);
	if (st == TDNS_OK)
		st = zonesign_forget(t, apex, alen);
	if (st == TDNS_OK)
		st = zonesign_follow_cut(t, *cut, followed, serial, err, errlen);
	return st;
}

static void free_paths(char **paths, size_t n)
{
	size_t i;

	for (i = 0; paths != NULL && i < n; i++)
		free(paths[i]);
	free(paths);
}

enum tdns_status zonesign_sign(struct tdns_store *s, const char *zone,
			       const char *const *keyfiles, size_t nkeys,
			       const struct zonesign_opts *o, char *err,
			       size_t errlen)
{
	uint8_t apex[NAME_KEY_MAX];
	size_t alen;
	ldns_rdf *origin = NULL;
	struct tdns_txn *t = NULL;
	enum tdns_status st;

	st = zone_names(zone, apex, &alen, &origin);
	if (st != TDNS_OK) {
		zoneload_seterr(err, errlen, "'%s' is not a zone name", zone);
		goto out;
	}
	if (nkeys == 0) {
		st = TDNS_EINVAL;
		zoneload_seterr(err, errlen, "%s: no key files given", zone);
		goto out;
	}
	st = store_begin(s, true, &t);
	if (st == TDNS_OK)
		st = sign_txn(t, zone, apex, alen, origin, keyfiles, nkeys, o, true, err,
			      errlen);
	else
		zoneload_seterr(err, errlen, "%s: %s", zone, tdns_strerror(st));
	if (st == TDNS_OK) {
		st = save_conf(t, apex, alen, keyfiles, nkeys, o);
		if (st == TDNS_OK)
			st = store_commit(t);
		t = NULL;
		if (st != TDNS_OK)
			zoneload_seterr(err, errlen, "%s: cannot store the signed zone: %s",
			       zone, tdns_strerror(st));
	}
out:
	store_abort(t);
	if (origin != NULL)
		ldns_rdf_deep_free(origin);
	return st;
}

/* ---- signing an edit again: what it changed ------------------------ */

/*
 * After add or delete, the RRsets the edit changed (the journal's notes)
 * are signed again, and the chain records of their names - and of the
 * names below a delegation the edit made or removed - are made, changed
 * or removed with the neighbour whose next name changes, all by point
 * lookups and writes in the store: the work grows with the change, not
 * with the zone. What is made is what zonesign_sign would make of the
 * edited zone (ldns's signer's rules, restated below where ldns keeps
 * them to itself); every other record stays as it is, byte for byte.
 */

#define INC_TYPES_MAX 256 /* RRsets at one name the chain lists */
/* A chain record's rdata: a name or a hash, and a bitmap of at most 256
 * windows of 34 octets (RFC 4034 4.1.2). */
#define INC_RD_MAX (NAME_WIRE_MAX + 256 * 34)

struct inc {
	struct tdns_txn *t;
	const uint8_t *apex;
	size_t alen;
	ldns_key_list *keys;
	const struct zonesign_opts *o;
	uint32_t chain_ttl;          /* every NSEC/NSEC3 record's */
	int64_t d_rrsets, d_records; /* the zone's counts change by these */
	unsigned sigs, written;      /* signatures made, RRsets written */
};

/* What is at one name of the zone. */
struct inc_name {
	uint16_t types[INC_TYPES_MAX]; /* its RRsets but NSEC, in type order */
	size_t ntypes;
	bool cut;      /* a delegation: NS below the apex (RFC 4035 2.2) */
	bool occluded; /* below a delegation or DNAME: not ours to sign */
	bool deeper;   /* in a zone held in the store below this one */
	bool children; /* names below it (an empty non-terminal if no types) */
};

static int inc_type_one(void *ctx, uint16_t type, const struct tdns_rrset_view *v)
{
	struct inc_name *n = ctx;

	(void)v;
	if (type != LDNS_RR_TYPE_NSEC && n->ntypes < INC_TYPES_MAX)
		n->types[n->ntypes++] = type;
	return 0;
}

static bool inc_has(const struct inc_name *n, uint16_t type)
{
	size_t i;

	for (i = 0; i < n->ntypes; i++)
		if (n->types[i] == type)
			return true;
	return false;
}

static enum tdns_status inc_name_read(struct inc *in, const uint8_t *key, size_t klen,
				      struct inc_name *n)
{
	struct tdns_rrset_view v;
	unsigned state;
	int l, from = name_key_labels(in->apex, in->alen), to = name_key_labels(key, klen);
	enum tdns_status st;

	memset(n, 0, sizeof(*n));
	st = zonedb_in_deeper_zone(in->t, in->apex, in->alen, key, klen, &n->deeper);
	if (st != TDNS_OK || n->deeper)
		return st;
	st = zonedb_name_rrsets(in->t, key, klen, inc_type_one, n, NULL);
	if (st == TDNS_OK)
		st = zonedb_name_state(in->t, key, klen, &state);
	if (st != TDNS_OK)
		return st;
	n->children = (state & ZONEDB_NAME_CHILDREN) != 0;
	n->cut = klen != in->alen && inc_has(n, LDNS_RR_TYPE_NS);
	/* Occluded: an NS or DNAME between the apex and the name (ldns's
	 * signer marks such names glue: not signed, not in the chain). */
	for (l = from + 1; l < to && !n->occluded; l++) {
		size_t plen = name_key_prefix_len(key, klen, l);

		st = zonedb_get_rrset(in->t, key, plen, LDNS_RR_TYPE_NS, &v);
		if (st == TDNS_ENOTFOUND)
			st = zonedb_get_rrset(in->t, key, plen, LDNS_RR_TYPE_DNAME, &v);
		if (st == TDNS_OK)
			n->occluded = true;
		else if (st != TDNS_ENOTFOUND)
			return st;
	}
	return TDNS_OK;
}

/* The keys ldns's signer uses for an RRset of type: the DNSKEY, CDS and
 * CDNSKEY RRsets (RFC 7344: what the parent checks against the DS) are
 * signed by the KSKs (SEP flag), every other RRset by the ZSKs; by all
 * keys when there is no key of that kind. */
static void inc_use_keys(ldns_key_list *keys, uint16_t type)
{
	bool want_sep = type == LDNS_RR_TYPE_DNSKEY || type == LDNS_RR_TYPE_CDS ||
			type == LDNS_RR_TYPE_CDNSKEY, any = false;
	size_t i;

	for (i = 0; i < ldns_key_list_key_count(keys); i++)
		any |= ((ldns_key_flags(ldns_key_list_key(keys, i)) & LDNS_KEY_SEP_KEY) != 0) ==
		       want_sep;
	for (i = 0; i < ldns_key_list_key_count(keys); i++) {
		ldns_key *k = ldns_key_list_key(keys, i);

		ldns_key_set_use(k, !any || ((ldns_key_flags(k) & LDNS_KEY_SEP_KEY) != 0) ==
						    want_sep);
	}
}

/* The records of v at key (its signatures left out) packed (rrset.h) into
 * *val (malloc'd), with new signatures when sign. */
static enum tdns_status inc_pack(struct inc *in, const uint8_t *key, size_t klen,
				 uint16_t type, const struct tdns_rrset_view *v, bool sign,
				 uint8_t **val, size_t *vlen)
{
	struct tdns_rrset_view data = *v;
	struct tdns_rrset_enc enc;
	ldns_rr_list *rrs = NULL, *sigs = NULL;
	size_t cap = 2 * RRSET_HDR_LEN + v->data_len, i, pos = 0;
	const uint8_t *rd;
	uint16_t rdlen;
	uint8_t *buf = NULL;
	enum tdns_status st = TDNS_OK;

	*val = NULL;
	data.sig_count = 0;
	if (sign) {
		st = zoneload_rrset_key_to_ldns(key, klen, type, &data, &rrs);
		if (st != TDNS_OK)
			goto out;
		inc_use_keys(in->keys, type);
		sigs = ldns_sign_public(rrs, in->keys);
		if (sigs == NULL || ldns_rr_list_rr_count(sigs) == 0) {
			st = TDNS_EINVAL;
			goto out;
		}
		for (i = 0; i < ldns_rr_list_rr_count(sigs); i++)
			cap += 2 + zoneload_rdata_len(ldns_rr_list_rr(sigs, i));
		in->sigs += (unsigned)ldns_rr_list_rr_count(sigs);
	}
	buf = malloc(cap);
	if (buf == NULL) {
		st = TDNS_ENOMEM;
		goto out;
	}
	rrset_enc_init(&enc, buf, cap, v->ttl);
	while (st == TDNS_OK && rrset_next(&data, &pos, &rd, &rdlen))
		st = rrset_enc_add(&enc, rd, rdlen);
	/* An RRSIG's TTL is the RRset's (RFC 4034 3). */
	if (st == TDNS_OK && sigs != NULL)
		st = rrset_enc_sigs(&enc, v->ttl);
	for (i = 0; st == TDNS_OK && sigs != NULL && i < ldns_rr_list_rr_count(sigs); i++) {
		const ldns_rr *sig = ldns_rr_list_rr(sigs, i);
		size_t n = zoneload_rdata_len(sig);

		if (n > UINT16_MAX || enc.len + 2 + n > enc.cap) {
			st = TDNS_ESPACE;
			break;
		}
		zoneload_rdata_write(sig, buf + enc.len + 2);
		st = rrset_enc_add(&enc, buf + enc.len + 2, (uint16_t)n);
	}
	if (st == TDNS_OK) {
		*val = buf;
		*vlen = enc.len;
		buf = NULL;
	}
out:
	free(buf);
	ldns_rr_list_deep_free(rrs);
	ldns_rr_list_deep_free(sigs);
	return st;
}

/* Write (val) or delete (NULL) the RRset (key, type), keeping the zone's
 * counts: RRsets, and records with their signatures (apply_zone's). */
static enum tdns_status inc_put(struct inc *in, const uint8_t *key, size_t klen,
				uint16_t type, const uint8_t *val, size_t vlen)
{
	struct tdns_rrset_view old, nv;
	enum tdns_status st;

	st = zonedb_get_rrset(in->t, key, klen, type, &old);
	if (st == TDNS_OK) {
		in->d_rrsets--;
		in->d_records -= (int64_t)old.count + old.sig_count;
	} else if (st != TDNS_ENOTFOUND) {
		return st;
	}
	if (val == NULL)
		return st == TDNS_OK ? zonedb_del_rrset(in->t, key, klen, type) : TDNS_OK;
	st = rrset_decode(val, vlen, &nv);
	if (st != TDNS_OK)
		return st;
	in->d_rrsets++;
	in->d_records += (int64_t)nv.count + nv.sig_count;
	in->written++;
	return zonedb_put_rrset(in->t, key, klen, type, val, vlen);
}

/*
 * The RRsets at one name signed as ldns's signer signs them: those of an
 * authoritative name (not occluded, not in a deeper zone), at a delegation
 * only the DS (RFC 4035 2.2). One unsigned (the edit wrote it) is signed,
 * the SOA always (the serial changed), one signed that must not be (below
 * a delegation made by the edit) loses its signatures.
 */
static enum tdns_status inc_settle_rrsets(struct inc *in, const uint8_t *key, size_t klen,
					  const struct inc_name *n)
{
	enum tdns_status st = TDNS_OK;
	size_t i;

	for (i = 0; i < n->ntypes && st == TDNS_OK && !n->deeper; i++) {
		uint16_t type = n->types[i];
		bool want = !n->occluded && (!n->cut || type == LDNS_RR_TYPE_DS);
		struct tdns_rrset_view v;
		uint8_t *val = NULL;
		size_t vlen = 0;

		st = zonedb_get_rrset(in->t, key, klen, type, &v);
		if (st != TDNS_OK)
			break;
		if (want && (v.sig_count == 0 || type == LDNS_RR_TYPE_SOA))
			st = inc_pack(in, key, klen, type, &v, true, &val, &vlen);
		else if (!want && v.sig_count > 0)
			st = inc_pack(in, key, klen, type, &v, false, &val, &vlen);
		else
			continue;
		if (st == TDNS_OK)
			st = inc_put(in, key, klen, type, val, vlen);
		free(val);
	}
	return st;
}

/* The type bitmap of the chain record of a name (RFC 4034 4.1.2, RFC 5155
 * 3.2.1) as ldns's signer makes it: at a delegation NS and DS only, else
 * every type there; NSEC adds RRSIG and NSEC, NSEC3 adds RRSIG unless the
 * name has no type or is an unsigned delegation; an empty non-terminal's
 * NSEC3 has no bitmap. out: INC_RD_MAX bytes; returns its length. */
static size_t inc_bitmap(const struct inc_name *n, bool nsec3, uint8_t *out)
{
	ldns_rr_type types[INC_TYPES_MAX + 2];
	size_t i, k = 0, len = 0;
	ldns_rdf *bm;

	for (i = 0; i < n->ntypes; i++)
		if (!n->cut || n->types[i] == LDNS_RR_TYPE_NS || n->types[i] == LDNS_RR_TYPE_DS)
			types[k++] = (ldns_rr_type)n->types[i];
	if (!nsec3) {
		types[k++] = LDNS_RR_TYPE_RRSIG;
		types[k++] = LDNS_RR_TYPE_NSEC;
	} else if (k > 0 && !(k == 1 && types[0] == LDNS_RR_TYPE_NS)) {
		types[k++] = LDNS_RR_TYPE_RRSIG;
	}
	if (k == 0)
		return 0;
	bm = ldns_dnssec_create_nsec_bitmap(types, k,
					    nsec3 ? LDNS_RR_TYPE_NSEC3 : LDNS_RR_TYPE_NSEC);
	if (bm == NULL)
		return SIZE_MAX;
	if (ldns_rdf_size(bm) <= INC_RD_MAX) {
		len = ldns_rdf_size(bm);
		memcpy(out, ldns_rdf_data(bm), len);
	}
	ldns_rdf_deep_free(bm);
	return len;
}

/* Write the chain record rd[0..rdlen) of owner (NSEC: at the owner and in
 * the index, unless the owner is a deeper zone's apex, which holds its own
 * NSEC there; NSEC3: the index only, owner the hashed name), signed. */
static enum tdns_status inc_put_chain(struct inc *in, enum zonedb_chain chain,
				      const uint8_t *owner, size_t olen, const uint8_t *rd,
				      size_t rdlen)
{
	uint16_t type = chain == ZONEDB_NSEC3 ? LDNS_RR_TYPE_NSEC3 : LDNS_RR_TYPE_NSEC;
	uint8_t one[RRSET_HDR_LEN + 2 + INC_RD_MAX], *val = NULL;
	struct tdns_rrset_enc enc;
	struct tdns_rrset_view v, old;
	const uint8_t *o;
	size_t vlen = 0, ol;
	bool deeper = false, exact = false;
	enum tdns_status st;

	if (rdlen > INC_RD_MAX)
		return TDNS_EINVAL;
	rrset_enc_init(&enc, one, sizeof(one), in->chain_ttl);
	st = rrset_enc_add(&enc, rd, (uint16_t)rdlen);
	if (st == TDNS_OK)
		st = rrset_decode(one, enc.len, &v);
	if (st == TDNS_OK)
		st = inc_pack(in, owner, olen, type, &v, true, &val, &vlen);
	if (st == TDNS_OK && chain == ZONEDB_NSEC)
		st = zonedb_in_deeper_zone(in->t, in->apex, in->alen, owner, olen, &deeper);
	if (st == TDNS_OK && chain == ZONEDB_NSEC && !deeper)
		st = inc_put(in, owner, olen, type, val, vlen);
	else if (st == TDNS_OK && chain == ZONEDB_NSEC)
		in->written++; /* the index only: not one of the counted RRsets */
	if (st == TDNS_OK && chain == ZONEDB_NSEC3) {
		/* Counted as an RRset of the zone, as a load counts it. */
		st = zonedb_denial_find(in->t, in->apex, in->alen, ZONEDB_NSEC3,
					owner + in->alen + 1, owner[in->alen], &o, &ol,
					&exact, &old);
		if (st == TDNS_ENOTFOUND)
			st = TDNS_OK;
		if (st == TDNS_OK && exact) {
			in->d_rrsets--;
			in->d_records -= (int64_t)old.count + old.sig_count;
		}
		if (st == TDNS_OK)
			st = rrset_decode(val, vlen, &v);
		if (st == TDNS_OK) {
			in->d_rrsets++;
			in->d_records += (int64_t)v.count + v.sig_count;
			in->written++;
		}
	}
	if (st == TDNS_OK)
		st = zonedb_put_denial(in->t, in->apex, in->alen, chain, owner, olen, val, vlen);
	free(val);
	return st;
}

/* The first record of a chain RRset copied out (it dies with the next
 * write): rd (INC_RD_MAX bytes), *rdlen. */
static enum tdns_status inc_first(const struct tdns_rrset_view *v, uint8_t *rd, size_t *rdlen)
{
	const uint8_t *r;
	uint16_t n;
	size_t pos = 0;

	if (!rrset_next(v, &pos, &r, &n) || n > INC_RD_MAX)
		return TDNS_EINVAL;
	memcpy(rd, r, n);
	*rdlen = n;
	return TDNS_OK;
}

/* Where an NSEC3 rdata's next hashed owner starts, and its end (RFC 5155
 * 3.2: algorithm, flags, iterations, salt length, salt, hash length,
 * hash, bitmap); false when it does not hold together. */
static bool nsec3_split(const uint8_t *rd, size_t len, size_t *hash_at, size_t *bm_at)
{
	if (len < 6 || len < 6u + rd[4])
		return false;
	*hash_at = 6u + rd[4];
	*bm_at = *hash_at + rd[5 + rd[4]];
	return *bm_at <= len;
}

/* A chain record old[0..oldlen) (cur: its RRset) kept up to keep (its next
 * name or hash) with the bitmap bm; written only when that changes it, its
 * TTL is not the chain's or it is not signed. */
static enum tdns_status inc_rebitmap(struct inc *in, enum zonedb_chain chain,
				     const uint8_t *owner, size_t olen,
				     const struct tdns_rrset_view *cur, const uint8_t *old,
				     size_t oldlen, size_t keep, const uint8_t *bm, size_t bmlen)
{
	uint8_t rd[2 * INC_RD_MAX];

	memcpy(rd, old, keep);
	memcpy(rd + keep, bm, bmlen);
	if (keep + bmlen == oldlen && memcmp(rd, old, oldlen) == 0 &&
	    cur->ttl == in->chain_ttl && cur->sig_count > 0)
		return TDNS_OK;
	return inc_put_chain(in, chain, owner, olen, rd, keep + bmlen);
}

/*
 * The NSEC of one name made right for the zone as it is now (RFC 4035
 * 2.3): an authoritative name with data has one (its bitmap as
 * inc_bitmap says), an empty non-terminal, an occluded name or a name
 * gone has none. One inserted takes its predecessor's next name, and the
 * predecessor points to it; one removed leaves its next name to its
 * predecessor. Unchanged: nothing written.
 */
static enum tdns_status inc_fix_nsec(struct inc *in, const uint8_t *key, size_t klen)
{
	struct inc_name n;
	struct tdns_rrset_view cur, pv;
	uint8_t old[INC_RD_MAX], prd[INC_RD_MAX], rd[2 * INC_RD_MAX];
	uint8_t bm[INC_RD_MAX], pkey[NAME_KEY_MAX], wire[NAME_WIRE_MAX];
	const uint8_t *po;
	size_t oldlen = 0, prdlen, bmlen = 0, nlen = 0, pnlen, plen, wlen;
	bool exists, wanted, exact;
	enum tdns_status st;

	st = inc_name_read(in, key, klen, &n);
	if (st != TDNS_OK || n.deeper)
		return st;
	wanted = !n.occluded && n.ntypes > 0;
	st = zonedb_get_rrset(in->t, key, klen, LDNS_RR_TYPE_NSEC, &cur);
	exists = st == TDNS_OK;
	if (st != TDNS_OK && st != TDNS_ENOTFOUND)
		return st;
	if (exists) {
		st = inc_first(&cur, old, &oldlen);
		nlen = st == TDNS_OK ? qctx_name_len(old, oldlen) : 0;
		if (nlen == 0)
			return TDNS_EINVAL;
	}
	if (wanted) {
		bmlen = inc_bitmap(&n, false, bm);
		if (bmlen == SIZE_MAX)
			return TDNS_ENOMEM;
		if (exists) {
			/* The same next name, the bitmap made again. */
			return inc_rebitmap(in, ZONEDB_NSEC, key, klen, &cur, old, oldlen,
					    nlen, bm, bmlen);
		}
	} else if (!exists) {
		return TDNS_OK;
	} else {
		st = inc_put(in, key, klen, LDNS_RR_TYPE_NSEC, NULL, 0);
		if (st == TDNS_OK)
			st = zonedb_del_denial(in->t, in->apex, in->alen, ZONEDB_NSEC, key, klen);
		if (st != TDNS_OK && st != TDNS_ENOTFOUND)
			return st;
	}
	/* The predecessor in canonical order (the apex is the first name). */
	st = zonedb_denial_find(in->t, in->apex, in->alen, ZONEDB_NSEC, key, klen, &po,
				&plen, &exact, &pv);
	if (st == TDNS_OK && (exact || plen > NAME_KEY_MAX))
		st = TDNS_EINVAL;
	if (st == TDNS_OK) {
		memcpy(pkey, po, plen);
		st = inc_first(&pv, prd, &prdlen);
	}
	pnlen = st == TDNS_OK ? qctx_name_len(prd, prdlen) : 0;
	if (st != TDNS_OK || pnlen == 0)
		return st != TDNS_OK ? st : TDNS_EINVAL;
	if (wanted) {
		/* X takes P's next name; P points to X. */
		memcpy(rd, prd, pnlen);
		memcpy(rd + pnlen, bm, bmlen);
		st = inc_put_chain(in, ZONEDB_NSEC, key, klen, rd, pnlen + bmlen);
		if (st == TDNS_OK)
			st = name_key_to_wire(key, klen, wire, &wlen);
	} else {
		/* P takes X's next name. */
		memcpy(wire, old, nlen);
		wlen = nlen;
	}
	if (st != TDNS_OK)
		return st;
	memcpy(rd, wire, wlen);
	memcpy(rd + wlen, prd + pnlen, prdlen - pnlen);
	return inc_put_chain(in, ZONEDB_NSEC, pkey, plen, rd, wlen + prdlen - pnlen);
}

/*
 * The NSEC3 of one name made right (RFC 5155 7.1): every authoritative
 * name with data, and every empty non-terminal above one, has one; an
 * occluded name or a name gone has none. Insertion and removal in hash
 * order as inc_fix_nsec's, the chain wrapping around; a new record takes
 * the parameters (flags, iterations, salt) of its predecessor, which
 * are the chain's.
 */
static enum tdns_status inc_fix_nsec3(struct inc *in, const uint8_t *key, size_t klen)
{
	struct inc_name n;
	struct tdns_rrset_view cur, pv;
	uint8_t hash[ZONEDB_NSEC3_HASH], hkey[NAME_KEY_MAX], pkey[NAME_KEY_MAX];
	uint8_t old[INC_RD_MAX], prd[INC_RD_MAX], rd[2 * INC_RD_MAX];
	uint8_t bm[INC_RD_MAX];
	const uint8_t *po;
	size_t oldlen = 0, prdlen = 0, bmlen = 0, plen, hklen, ha = 0, ba = 0, pha, pba;
	bool wanted, exact = false;
	enum tdns_status st;

	st = inc_name_read(in, key, klen, &n);
	if (st != TDNS_OK || n.deeper)
		return st;
	wanted = !n.occluded && (n.ntypes > 0 || n.children);
	if (in->alen + 1 + ZONEDB_NSEC3_LABEL > NAME_KEY_MAX)
		return TDNS_EINVAL;
	st = zonedb_nsec3_hash(in->o->iterations, in->o->salt, in->o->salt_len, key, klen,
			       hash);
	if (st != TDNS_OK)
		return st;
	memcpy(hkey, in->apex, in->alen);
	hkey[in->alen] = ZONEDB_NSEC3_LABEL;
	zonedb_base32hex(hash, sizeof(hash), hkey + in->alen + 1);
	hklen = in->alen + 1 + ZONEDB_NSEC3_LABEL;
	st = zonedb_denial_find(in->t, in->apex, in->alen, ZONEDB_NSEC3, hkey + in->alen + 1,
				ZONEDB_NSEC3_LABEL, &po, &plen, &exact, &cur);
	if (st == TDNS_OK)
		st = inc_first(&cur, old, &oldlen);
	if (st == TDNS_OK && !nsec3_split(old, oldlen, &ha, &ba))
		st = TDNS_EINVAL;
	if (st != TDNS_OK)
		return st; /* no chain at all: the caller signs the whole zone */
	if (wanted) {
		bmlen = inc_bitmap(&n, true, bm);
		if (bmlen == SIZE_MAX)
			return TDNS_ENOMEM;
	}
	if (wanted && exact) {
		return inc_rebitmap(in, ZONEDB_NSEC3, hkey, hklen, &cur, old, oldlen, ba, bm,
				    bmlen);
	}
	if (!wanted && !exact)
		return TDNS_OK;
	if (wanted) {
		/* The record found covers the new one: its predecessor. */
		if (plen > NAME_KEY_MAX)
			return TDNS_EINVAL;
		memcpy(pkey, po, plen);
		memcpy(prd, old, oldlen);
		prdlen = oldlen;
		pha = ha;
		pba = ba;
		memcpy(rd, prd, pba); /* the chain's parameters, P's next hash */
		memcpy(rd + pba, bm, bmlen);
		st = inc_put_chain(in, ZONEDB_NSEC3, hkey, hklen, rd, pba + bmlen);
		memcpy(rd, prd, pha - 1);
		rd[pha - 1] = ZONEDB_NSEC3_HASH;
		memcpy(rd + pha, hash, ZONEDB_NSEC3_HASH);
		memcpy(rd + pha + ZONEDB_NSEC3_HASH, prd + pba, prdlen - pba);
		if (st == TDNS_OK)
			st = inc_put_chain(in, ZONEDB_NSEC3, pkey, plen, rd,
					   pha + ZONEDB_NSEC3_HASH + prdlen - pba);
		return st;
	}
	/* Removed: its predecessor takes its next hash. */
	in->d_rrsets--;
	in->d_records -= (int64_t)cur.count + cur.sig_count;
	st = zonedb_del_denial(in->t, in->apex, in->alen, ZONEDB_NSEC3, hkey, hklen);
	if (st == TDNS_OK)
		st = zonedb_denial_find(in->t, in->apex, in->alen, ZONEDB_NSEC3,
					hkey + in->alen + 1, ZONEDB_NSEC3_LABEL, &po, &plen,
					&exact, &pv);
	if (st == TDNS_OK && (exact || plen > NAME_KEY_MAX))
		st = TDNS_EINVAL;
	if (st == TDNS_OK) {
		memcpy(pkey, po, plen);
		st = inc_first(&pv, prd, &prdlen);
	}
	if (st == TDNS_OK && !nsec3_split(prd, prdlen, &pha, &pba))
		st = TDNS_EINVAL;
	if (st != TDNS_OK)
		return st;
	memcpy(rd, prd, pha - 1);
	memcpy(rd + pha - 1, old + ha - 1, ba - ha + 1); /* X's hash length, hash */
	memcpy(rd + pha + (ba - ha), prd + pba, prdlen - pba);
	return inc_put_chain(in, ZONEDB_NSEC3, pkey, plen, rd, pha + (ba - ha) + prdlen - pba);
}

/* The names an edit touched, and whether it changed something that makes
 * the whole chain anew. */
struct inc_key {
	uint8_t key[NAME_KEY_MAX];
	size_t len;
	uint16_t type; /* of the change (inc_collect's input only) */
};

struct inc_keys {
	struct inc_key *v;
	size_t n, cap;
	enum tdns_status st;
};

static int inc_keys_add(struct inc_keys *c, const uint8_t *key, size_t klen, uint16_t type)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 16;
		void *p = realloc(c->v, cap * sizeof(*c->v));

		if (p == NULL) {
			c->st = TDNS_ENOMEM;
			return 1;
		}
		c->v = p;
		c->cap = cap;
	}
	memcpy(c->v[c->n].key, key, klen);
	c->v[c->n].len = klen;
	c->v[c->n++].type = type;
	return 0;
}

/* Canonical order of name keys: parents before their children. */
static int inc_key_cmp(const void *a, const void *b)
{
	const struct inc_key *x = a, *y = b;
	int c = memcmp(x->key, y->key, x->len < y->len ? x->len : y->len);

	return c != 0 ? c : (x->len > y->len) - (x->len < y->len);
}

/* journal_changes: each changed RRset once (its records come together). */
static int inc_change_one(void *ctx, const uint8_t *owner, size_t olen, uint16_t type)
{
	struct inc_keys *c = ctx;
	uint8_t key[NAME_KEY_MAX];
	size_t klen;

	if (name_key_from_wire(owner, olen, key, &klen) != TDNS_OK)
		return 0;
	if (c->n > 0 && c->v[c->n - 1].type == type && c->v[c->n - 1].len == klen &&
	    memcmp(c->v[c->n - 1].key, key, klen) == 0)
		return 0;
	return inc_keys_add(c, key, klen, type);
}

/* The names below a cut the edit made or removed: their RRsets and chain
 * records change with it. */
struct inc_below {
	struct inc_keys *c;
	const uint8_t *cut;
	size_t cut_len;
};

static int inc_below_one(void *ctx, const uint8_t *key, size_t klen, uint16_t type,
			 const struct tdns_rrset_view *v)
{
	struct inc_below *b = ctx;
	const struct inc_key *last = b->c->n > 0 ? &b->c->v[b->c->n - 1] : NULL;

	(void)type;
	(void)v;
	if (!name_key_is_subdomain(key, klen, b->cut, b->cut_len))
		return 1;
	if (last != NULL && last->len == klen && memcmp(last->key, key, klen) == 0)
		return 0;
	return inc_keys_add(b->c, key, klen, 0);
}

/*
 * The names to settle after the edit followed in t, into names (sorted,
 * once each): those of the RRsets it changed, the apex (its SOA), and
 * every name below a cut (NS or DNAME below the apex) it made or removed.
 * *why set when the chain must be made anew instead (then names is not).
 */
static enum tdns_status inc_collect(struct tdns_txn *t, const uint8_t *apex, size_t alen,
				    struct inc_keys *names, const char **why)
{
	struct inc_keys ch = { NULL, 0, 0, TDNS_OK };
	enum tdns_status st;
	size_t i, j;

	*why = NULL;
	st = journal_changes(t, inc_change_one, &ch);
	if (st == TDNS_OK)
		st = ch.st;
	if (st == TDNS_ENOMEM) {
		*why = "the journal lost track of the change (out of memory)";
		st = TDNS_OK;
		goto out;
	}
	if (st != TDNS_OK)
		goto out;
	inc_keys_add(names, apex, alen, 0);
	for (i = 0; i < ch.n && names->st == TDNS_OK; i++) {
		const struct inc_key *e = &ch.v[i];

		if (e->type == LDNS_RR_TYPE_NSEC3PARAM) {
			*why = "the NSEC3PARAM changed";
			goto out;
		}
		if (!name_key_is_subdomain(e->key, e->len, apex, alen) ||
		    e->type == LDNS_RR_TYPE_NSEC || e->type == LDNS_RR_TYPE_NSEC3)
			continue;
		inc_keys_add(names, e->key, e->len, 0);
		if (e->len != alen &&
		    (e->type == LDNS_RR_TYPE_NS || e->type == LDNS_RR_TYPE_DNAME)) {
			struct inc_below b = { names, e->key, e->len };
			uint8_t from[RECORD_KEY_MAX];
			size_t flen = name_record_key(e->key, e->len, 0, from);

			st = zonedb_walk_from(t, apex, alen, from, flen, inc_below_one, &b, NULL);
			if (st != TDNS_OK)
				goto out;
		}
	}
	st = names->st;
	if (st != TDNS_OK)
		goto out;
	qsort(names->v, names->n, sizeof(*names->v), inc_key_cmp);
	for (i = 0, j = 0; i < names->n; i++) {
		if (j > 0 && inc_key_cmp(&names->v[j - 1], &names->v[i]) == 0)
			continue;
		if (i != j)
			names->v[j] = names->v[i];
		j++;
	}
	names->n = j;
out:
	free(ch.v);
	return st;
}

/* The chain's TTL (ldns's signer: the lesser of the SOA's TTL and its
 * minimum, RFC 9077) from the apex SOA; 0 when the SOA does not read. */
static uint32_t inc_chain_ttl(struct tdns_txn *t, const uint8_t *apex, size_t alen)
{
	struct tdns_rrset_view v;
	const uint8_t *rd;
	uint16_t rdlen;
	size_t pos = 0, at;
	uint32_t min;

	if (zonedb_get_rrset(t, apex, alen, LDNS_RR_TYPE_SOA, &v) != TDNS_OK ||
	    !rrset_next(&v, &pos, &rd, &rdlen) || (at = zonedb_soa_serial_at(rd, rdlen)) == 0)
		return 0;
	min = dns_rd32(rd + at + 16);
	return min < v.ttl ? min : v.ttl;
}

/*
 * Sign the edit followed in t incrementally with the keys (inc.keys) and
 * options. *why set (and nothing written) when it cannot be: the chain
 * is of the other kind than the options say or missing, its TTL changes
 * with the SOA's (every chain record changes), the NSEC3PARAM changed, or
 * the journal lost the change; the caller then signs the whole zone.
 */
static enum tdns_status inc_sign(struct inc *in, const char **why)
{
	struct inc_keys names = { NULL, 0, 0, TDNS_OK };
	struct tdns_rrset_view v, param;
	struct tdns_zone_meta m;
	const uint8_t *o;
	size_t ol, i;
	bool exact = false;
	uint8_t label[ZONEDB_NSEC3_LABEL];
	enum tdns_status st;

	in->chain_ttl = inc_chain_ttl(in->t, in->apex, in->alen);
	st = zonedb_get_rrset(in->t, in->apex, in->alen, LDNS_RR_TYPE_NSEC3PARAM, &param);
	if (st != TDNS_OK && st != TDNS_ENOTFOUND)
		return st;
	if ((st == TDNS_OK) != in->o->nsec3) {
		*why = "its chain is not of the kind its last signing made";
		return TDNS_OK;
	}
	/* The apex's chain record: there, and of the TTL the chain keeps. */
	if (in->o->nsec3) {
		st = zonedb_nsec3_label(in->o->iterations, in->o->salt, in->o->salt_len,
					in->apex, in->alen, label);
		if (st == TDNS_OK)
			st = zonedb_denial_find(in->t, in->apex, in->alen, ZONEDB_NSEC3, label,
						sizeof(label), &o, &ol, &exact, &v);
	} else {
		st = zonedb_get_rrset(in->t, in->apex, in->alen, LDNS_RR_TYPE_NSEC, &v);
		exact = st == TDNS_OK;
	}
	if (st != TDNS_OK && st != TDNS_ENOTFOUND)
		return st;
	if (!exact) {
		*why = "the apex has no NSEC/NSEC3 record of its options";
		return TDNS_OK;
	}
	if (in->chain_ttl == 0 || v.ttl != in->chain_ttl) {
		*why = "the NSEC/NSEC3 TTL changes with the SOA's TTL or minimum";
		return TDNS_OK;
	}
	st = inc_collect(in->t, in->apex, in->alen, &names, why);
	if (st != TDNS_OK || *why != NULL)
		goto out;
	/* The RRsets first, then the chain (whose bitmaps list RRSIG). */
	for (i = 0; i < names.n && st == TDNS_OK; i++) {
		struct inc_name n;

		st = inc_name_read(in, names.v[i].key, names.v[i].len, &n);
		if (st == TDNS_OK)
			st = inc_settle_rrsets(in, names.v[i].key, names.v[i].len, &n);
	}
	for (i = 0; i < names.n && st == TDNS_OK; i++) {
		const struct inc_key *k = &names.v[i];
		int l, from = name_key_labels(in->apex, in->alen), to = name_key_labels(k->key, k->len);

		if (!in->o->nsec3) {
			st = inc_fix_nsec(in, k->key, k->len);
			continue;
		}
		/* The name and the empty non-terminals above it (RFC 5155 7.1),
		 * which it may have made or left empty. */
		for (l = to; l > from && st == TDNS_OK; l--)
			st = inc_fix_nsec3(in, k->key, name_key_prefix_len(k->key, k->len, l));
		if (st == TDNS_OK && k->len == in->alen)
			st = inc_fix_nsec3(in, k->key, k->len);
	}
	if (st == TDNS_OK)
		st = zonedb_get_meta(in->t, in->apex, in->alen, &m);
	if (st == TDNS_OK) {
		int64_t r = (int64_t)m.rrsets + in->d_rrsets, c = (int64_t)m.records + in->d_records;

		m.rrsets = r < 0 ? 0 : (uint32_t)r;
		m.records = c < 0 ? 0 : (uint32_t)c;
		st = zonedb_put_meta(in->t, in->apex, in->alen, &m);
	}
out:
	free(names.v);
	return st;
}

static enum tdns_status apex_keys(struct tdns_txn *t, const uint8_t *apex,
				  size_t alen, ldns_rr_list **keys);

/* The keys' DNSKEY records all at the apex (an incremental signing adds
 * none; zonesign_sign does). */
static enum tdns_status keys_at_apex(struct tdns_txn *t, const uint8_t *apex, size_t alen,
				     const ldns_rr_list *dnskeys, bool *all)
{
	ldns_rr_list *have = NULL;
	enum tdns_status st;
	size_t i, j;

	*all = false;
	st = apex_keys(t, apex, alen, &have);
	if (st != TDNS_OK)
		return st;
	*all = true;
	for (i = 0; i < ldns_rr_list_rr_count(dnskeys) && *all; i++) {
		bool found = false;

		for (j = 0; j < ldns_rr_list_rr_count(have) && !found; j++)
			found = ldns_rr_compare(ldns_rr_list_rr(have, j),
						ldns_rr_list_rr(dnskeys, i)) == 0;
		*all = found;
	}
	ldns_rr_list_deep_free(have);
	return TDNS_OK;
}

enum tdns_status zonesign_resign(struct tdns_txn *t, const uint8_t *apex, size_t alen,
				 uint64_t now, bool *resigned, char *err, size_t errlen)
{
	struct zonesign_opts o = { .now = now };
	struct tdns_rrset_view v;
	struct inc in = { 0 };
	uint8_t salt[255], wire[NAME_WIRE_MAX];
	char **keyfiles = NULL, *zone = NULL;
	const char *why = NULL;
	size_t nkeys = 0, wlen;
	ldns_rdf *origin = NULL;
	ldns_key_list *keys = NULL;
	ldns_rr_list *dnskeys = NULL;
	bool all = false;
	enum tdns_status st;

	*resigned = false;
	st = zonedb_get_rrset(t, apex, alen, LDNS_RR_TYPE_DNSKEY, &v);
	if (st == TDNS_ENOTFOUND)
		return TDNS_OK; /* not signed */
	if (st != TDNS_OK)
		return st;
	st = name_key_to_wire(apex, alen, wire, &wlen);
	if (st != TDNS_OK)
		return st;
	origin = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME, wlen, wire);
	zone = origin != NULL ? ldns_rdf2str(origin) : NULL;
	if (zone == NULL) {
		st = TDNS_ENOMEM;
		goto out;
	}
	st = load_conf(t, apex, alen, &keyfiles, &nkeys, &o, salt);
	if (st == TDNS_ENOTFOUND || (st == TDNS_OK && nkeys == 0)) {
		zoneload_seterr(err, errlen, "no keys known: it was not signed by "
				"tierdns-zone sign in this store");
		st = TDNS_ENOTFOUND;
	} else if (st == TDNS_EINVAL) {
		zoneload_seterr(err, errlen, "its signing settings in the store do "
				"not read");
	} else if (st == TDNS_OK) {
		st = read_keys((const char *const *)keyfiles, nkeys, origin, &o, &keys,
			       &dnskeys, err, errlen);
	}
	if (st == TDNS_OK)
		st = keys_at_apex(t, apex, alen, dnskeys, &all);
	if (st == TDNS_OK && !all)
		why = "a key's DNSKEY is not at the apex";
	if (st == TDNS_OK && why == NULL) {
		in.t = t;
		in.apex = apex;
		in.alen = alen;
		in.keys = keys;
		in.o = &o;
		st = inc_sign(&in, &why);
		if (st != TDNS_OK) {
			/* Written in part: the caller aborts the edit. */
			zoneload_seterr(err, errlen, "%s: signing the change failed: %s", zone,
					tdns_strerror(st));
			goto out;
		}
		if (why == NULL)
			log_info("zone %s: the change signed: %u RRset(s) written, %u "
				 "signature(s) made", zone, in.written, in.sigs);
	}
	if (st == TDNS_OK && why != NULL) {
		log_info("zone %s: signed whole: %s", zone, why);
		st = sign_txn(t, zone, apex, alen, origin, (const char *const *)keyfiles,
			      nkeys, &o, false, err, errlen);
	}
	*resigned = st == TDNS_OK;
	/* Nothing is written before the keys are read and the signer has
	 * made the zone: without keys the edit stands, unsigned. */
	if (st == TDNS_ENOTFOUND || st == TDNS_EIO || st == TDNS_EINVAL) {
		log_warn("%s", err != NULL && errlen > 0 ? err : "no keys");
		log_warn("zone %s is signed: validators will find the change "
			 "bogus until it is signed again (tierdns-zone sign %s "
			 "KEY...)", zone, zone);
		st = TDNS_OK;
	}
out:
	free_paths(keyfiles, nkeys);
	free(zone);
	ldns_rr_list_deep_free(dnskeys);
	if (keys != NULL)
		ldns_key_list_free(keys);
	if (origin != NULL)
		ldns_rdf_deep_free(origin);
	return st;
}

/* The apex DNSKEY RRset as ldns records (signatures left out). */
static enum tdns_status apex_keys(struct tdns_txn *t, const uint8_t *apex,
				  size_t alen, ldns_rr_list **keys)
{
	struct tdns_rrset_view v;
	ldns_rr_list *all = NULL;
	enum tdns_status st;
	size_t i;

	*keys = NULL;
	st = zonedb_get_rrset(t, apex, alen, LDNS_RR_TYPE_DNSKEY, &v);
	if (st == TDNS_OK)
		st = zoneload_rrset_key_to_ldns(apex, alen, LDNS_RR_TYPE_DNSKEY,
						&v, &all);
	if (st != TDNS_OK)
		return st;
	*keys = ldns_rr_list_new();
	for (i = 0; *keys != NULL && i < ldns_rr_list_rr_count(all); i++) {
		ldns_rr *rr = ldns_rr_list_rr(all, i);

		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_DNSKEY &&
		    !ldns_rr_list_push_rr(*keys, ldns_rr_clone(rr))) {
			ldns_rr_list_deep_free(*keys);
			*keys = NULL;
		}
	}
	ldns_rr_list_deep_free(all);
	return *keys != NULL ? TDNS_OK : TDNS_ENOMEM;
}

enum tdns_status zonesign_ds(struct tdns_txn *t, const char *zone, FILE *out)
{
	uint8_t apex[NAME_KEY_MAX];
	size_t alen, i;
	ldns_rr_list *keys = NULL;
	ldns_rdf *origin = NULL;
	enum tdns_status st;
	bool any_sep = false;

	st = zone_names(zone, apex, &alen, &origin);
	if (st == TDNS_OK)
		st = zonedb_get_meta(t, apex, alen, NULL);
	if (st == TDNS_OK)
		st = apex_keys(t, apex, alen, &keys);
	if (st != TDNS_OK)
		goto out;
	for (i = 0; i < ldns_rr_list_rr_count(keys); i++)
		any_sep |= (ldns_rdf2native_int16(ldns_rr_rdf(ldns_rr_list_rr(keys, i),
							       0)) &
			    LDNS_KEY_SEP_KEY) != 0;
	for (i = 0; i < ldns_rr_list_rr_count(keys); i++) {
		ldns_rr *k = ldns_rr_list_rr(keys, i), *ds;

		if (any_sep && !(ldns_rdf2native_int16(ldns_rr_rdf(k, 0)) &
				 LDNS_KEY_SEP_KEY))
			continue;
		ds = ldns_key_rr2ds(k, LDNS_SHA256);
		if (ds == NULL) {
			st = TDNS_ENOMEM;
			goto out;
		}
		ldns_rr_print(out, ds);
		ldns_rr_free(ds);
	}
	st = ferror(out) ? TDNS_EIO : TDNS_OK;
out:
	ldns_rr_list_deep_free(keys);
	ldns_rdf_deep_free(origin);
	return st;
}

/* ---- verification -------------------------------------------------- */

struct verify {
	struct tdns_txn *t;
	FILE *out;
	unsigned problems;
	ldns_rr_list *keys;
	time_t now;
	const uint8_t *apex;
	size_t alen;
	uint8_t cut[NAME_KEY_MAX]; /* the delegation being walked below */
	size_t cut_len;            /* 0: none */
	/* The owner whose RRsets are being seen, checked for its NSEC or
	 * NSEC3 when the walk moves on. */
	uint8_t name[NAME_KEY_MAX];
	size_t name_len;
	bool name_auth, name_is_cut, name_has_ds, have_name;
	bool nsec3, optout;
	uint16_t iterations;
	uint8_t salt[255];
	uint8_t salt_len;
	/* The chain walk: the previous record's next name (a name key, or
	 * for NSEC3 the base32hex label) and the first owner. */
	uint8_t next[NAME_KEY_MAX], first[NAME_KEY_MAX];
	size_t next_len, first_len;
	unsigned chain_len;
	enum tdns_status st;
};

static void problem(struct verify *vf, const uint8_t *key, size_t klen,
		    uint16_t type, const char *what)
{
	ldns_rdf *owner = NULL;
	uint8_t wire[NAME_WIRE_MAX];
	size_t wlen;
	char *name = NULL, *tname = ldns_rr_type2str((ldns_rr_type)type);

	if (name_key_to_wire(key, klen, wire, &wlen) == TDNS_OK)
		owner = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME, wlen, wire);
	if (owner != NULL)
		name = ldns_rdf2str(owner);
	fprintf(vf->out, "%s %s: %s\n", name != NULL ? name : "?",
		type != 0 && tname != NULL ? tname : "-", what);
	vf->problems++;
	free(name);
	free(tname);
	ldns_rdf_deep_free(owner);
}

/* At least one signature of the RRset verifies now with an apex key. */
static void verify_rrset(struct verify *vf, const uint8_t *key, size_t klen,
			 uint16_t type, const struct tdns_rrset_view *v)
{
	ldns_rr_list *all = NULL, *rrset = NULL;
	ldns_status ls = LDNS_STATUS_CRYPTO_NO_RRSIG;
	char what[160];
	size_t i;

	if (v->sig_count == 0) {
		problem(vf, key, klen, type, "not signed");
		return;
	}
	if (zoneload_rrset_key_to_ldns(key, klen, type, v, &all) != TDNS_OK ||
	    (rrset = ldns_rr_list_new()) == NULL) {
		vf->st = TDNS_ENOMEM;
		goto out;
	}
	for (i = 0; i < ldns_rr_list_rr_count(all); i++)
		if (ldns_rr_get_type(ldns_rr_list_rr(all, i)) == (ldns_rr_type)type)
			ldns_rr_list_push_rr(rrset, ldns_rr_list_rr(all, i));
	for (i = 0; i < ldns_rr_list_rr_count(all); i++) {
		ldns_rr *sig = ldns_rr_list_rr(all, i);

		if (ldns_rr_get_type(sig) != LDNS_RR_TYPE_RRSIG)
			continue;
		ls = ldns_verify_rrsig_keylist_time(rrset, sig, vf->keys, vf->now,
						    NULL);
		if (ls == LDNS_STATUS_OK)
			goto out;
	}
	snprintf(what, sizeof(what), "no signature valid now (%s)",
		 ldns_get_errorstr_by_id(ls));
	problem(vf, key, klen, type, what);
out:
	if (rrset != NULL)
		ldns_rr_list_free(rrset);
	ldns_rr_list_deep_free(all);
}

/* The owner left behind has its NSEC, or its NSEC3 (RFC 5155 7.1: not
 * needed for an unsigned delegation under opt-out). */
static void check_name(struct verify *vf)
{
	uint8_t label[ZONEDB_NSEC3_LABEL];
	struct tdns_rrset_view v;
	const uint8_t *owner;
	size_t olen;
	bool exact = false;
	enum tdns_status st;

	if (!vf->have_name || !vf->name_auth)
		return;
	if (vf->nsec3) {
		if (vf->optout && vf->name_is_cut && !vf->name_has_ds)
			return;
		st = zonedb_nsec3_label(vf->iterations, vf->salt, vf->salt_len,
					vf->name, vf->name_len, label);
		if (st == TDNS_OK)
			st = zonedb_denial_find(vf->t, vf->apex, vf->alen,
						ZONEDB_NSEC3, label, sizeof(label),
						&owner, &olen, &exact, &v);
	} else {
		st = zonedb_denial_find(vf->t, vf->apex, vf->alen, ZONEDB_NSEC,
					vf->name, vf->name_len, &owner, &olen,
					&exact, &v);
	}
	if (st != TDNS_OK && st != TDNS_ENOTFOUND) {
		vf->st = st;
		return;
	}
	if (!exact)
		problem(vf, vf->name, vf->name_len, 0,
			vf->nsec3 ? "no NSEC3 for this name" : "no NSEC for this name");
}

static int verify_one(void *ctx, const uint8_t *key, size_t klen,
		      uint16_t type, const struct tdns_rrset_view *v)
{
	struct verify *vf = ctx;
	bool at_cut;

	if (!vf->have_name || klen != vf->name_len ||
	    memcmp(key, vf->name, klen) != 0) {
		check_name(vf);
		memcpy(vf->name, key, klen);
		vf->name_len = klen;
		vf->have_name = true;
		vf->name_auth = false;
		vf->name_is_cut = false;
		vf->name_has_ds = false;
	}
	if (vf->cut_len > 0 &&
	    !name_key_is_subdomain(key, klen, vf->cut, vf->cut_len))
		vf->cut_len = 0;
	at_cut = vf->cut_len > 0 && klen == vf->cut_len;
	if (type == LDNS_RR_TYPE_NS && klen != vf->alen && vf->cut_len == 0) {
		/* A delegation: its NS and everything below are the child's
		 * (RFC 4035 2.2); its DS and NSEC are ours. */
		memcpy(vf->cut, key, klen);
		vf->cut_len = klen;
		vf->name_is_cut = true;
		vf->name_auth = true;
		return vf->st != TDNS_OK;
	}
	if (vf->cut_len > 0 && (!at_cut || (type != LDNS_RR_TYPE_DS &&
					    type != LDNS_RR_TYPE_NSEC)))
		return vf->st != TDNS_OK;
	vf->name_auth = true;
	vf->name_has_ds |= type == LDNS_RR_TYPE_DS;
	verify_rrset(vf, key, klen, type, v);
	return vf->st != TDNS_OK;
}

/* One record of the chain: signed, and the previous one's next name. */
static int chain_one(void *ctx, const uint8_t *key, size_t klen,
		     uint16_t type, const struct tdns_rrset_view *v)
{
	struct verify *vf = ctx;
	const uint8_t *rd, *me = key;
	uint16_t rdlen;
	size_t pos = 0, mlen = klen, hlen;

	verify_rrset(vf, key, klen, type, v);
	if (type == LDNS_RR_TYPE_NSEC3) {
		/* The owner's hashed label stands for it in the chain. */
		me = key + vf->alen + 1;
		mlen = klen - vf->alen - 1;
	}
	if (vf->chain_len == 0) {
		memcpy(vf->first, me, mlen);
		vf->first_len = mlen;
	} else if (vf->next_len != mlen || memcmp(vf->next, me, mlen) != 0) {
		problem(vf, key, klen, type, "the previous record's next name "
			"is not this one (the chain has a gap)");
	}
	vf->chain_len++;
	vf->next_len = 0;
	if (!rrset_next(v, &pos, &rd, &rdlen))
		return 0;
	if (type == LDNS_RR_TYPE_NSEC) {
		size_t n = qctx_name_len(rd, rdlen);

		if (n == 0 || name_key_from_wire(rd, n, vf->next, &vf->next_len) !=
				      TDNS_OK)
			problem(vf, key, klen, type, "malformed next name");
		return 0;
	}
	/* NSEC3: hash alg, flags, iterations, salt, hash length, hash. */
	if (rdlen < 5 || rdlen < 6u + rd[4] ||
	    (hlen = rd[5 + rd[4]]) > rdlen - 6u - rd[4] ||
	    hlen * 8 > sizeof(vf->next) * 5) {
		problem(vf, key, klen, type, "malformed NSEC3");
		return 0;
	}
	vf->next_len = zonedb_base32hex(rd + 6 + rd[4], hlen, vf->next);
	return 0;
}

enum tdns_status zonesign_verify(struct tdns_txn *t, const char *zone,
				 uint64_t now, FILE *out, unsigned *problems)
{
	struct verify vf;
	struct tdns_rrset_view p;
	uint8_t label[ZONEDB_NSEC3_LABEL];
	const uint8_t *owner;
	size_t olen;
	bool exact = false;
	const uint8_t *rd;
	uint16_t rdlen;
	uint8_t apex[NAME_KEY_MAX];
	ldns_rdf *origin = NULL;
	size_t alen, pos = 0;
	enum tdns_status st;

	memset(&vf, 0, sizeof(vf));
	*problems = 0;
	st = zone_names(zone, apex, &alen, &origin);
	if (st == TDNS_OK)
		st = zonedb_get_meta(t, apex, alen, NULL);
	if (st != TDNS_OK)
		goto out;
	st = apex_keys(t, apex, alen, &vf.keys);
	if (st == TDNS_ENOTFOUND)
		st = TDNS_EINVAL; /* not signed */
	if (st != TDNS_OK)
		goto out;
	vf.t = t;
	vf.out = out;
	vf.now = (time_t)now;
	vf.apex = apex;
	vf.alen = alen;
	st = zonedb_get_rrset(t, apex, alen, LDNS_RR_TYPE_NSEC3PARAM, &p);
	if (st == TDNS_OK && rrset_next(&p, &pos, &rd, &rdlen) && rdlen >= 5 &&
	    rdlen == 5u + rd[4]) {
		vf.nsec3 = true;
		vf.iterations = dns_rd16(rd + 2);
		vf.salt_len = rd[4];
		memcpy(vf.salt, rd + 5, rd[4]);
	} else if (st != TDNS_OK && st != TDNS_ENOTFOUND) {
		goto out;
	}
	/* Opt-out (RFC 5155 6) is a flag of the chain's records: the apex's. */
	if (vf.nsec3) {
		st = zonedb_nsec3_label(vf.iterations, vf.salt, vf.salt_len, apex,
					alen, label);
		if (st == TDNS_OK)
			st = zonedb_denial_find(t, apex, alen, ZONEDB_NSEC3, label,
						sizeof(label), &owner, &olen, &exact,
						&p);
		pos = 0;
		if (st == TDNS_OK && exact && rrset_next(&p, &pos, &rd, &rdlen) &&
		    rdlen >= 2)
			vf.optout = (rd[1] & LDNS_NSEC3_VARS_OPTOUT_MASK) != 0;
		if (st != TDNS_OK && st != TDNS_ENOTFOUND)
			goto out;
	}
	st = zonedb_walk(t, apex, alen, verify_one, &vf, NULL);
	if (st == TDNS_OK)
		st = vf.st;
	if (st != TDNS_OK)
		goto out;
	check_name(&vf);
	st = zonedb_denial_walk(t, apex, alen,
				vf.nsec3 ? ZONEDB_NSEC3 : ZONEDB_NSEC, chain_one,
				&vf, NULL);
	if (st == TDNS_OK)
		st = vf.st;
	if (st != TDNS_OK)
		goto out;
	if (vf.chain_len == 0) {
		problem(&vf, apex, alen, 0, vf.nsec3 ? "no NSEC3 chain" : "no NSEC chain");
	} else if (vf.next_len != vf.first_len ||
		   memcmp(vf.next, vf.first, vf.first_len) != 0) {
		problem(&vf, apex, alen, 0, "the last record of the chain does "
			"not point back to the first");
	}
	*problems = vf.problems;
out:
	ldns_rr_list_deep_free(vf.keys);
	ldns_rdf_deep_free(origin);
	return st;
}

/* ---- when signatures run out ---- */

struct expiry {
	uint64_t now;
	uint64_t earliest;
	bool found;
};

/* RRSIG rdata (RFC 4034 3.1): type covered 2, algorithm 1, labels 1,
 * original TTL 4, then the expiration; a serial-arithmetic time near now. */
static int expiry_rrset(void *ctx, const uint8_t *key, size_t klen, uint16_t type,
			const struct tdns_rrset_view *v)
{
	struct expiry *e = ctx;
	const uint8_t *p = v->sig_data;
	size_t left = v->sig_len;

	(void)key;
	(void)klen;
	(void)type;
	for (unsigned i = 0; i < v->sig_count && left >= 2; i++) {
		size_t rdlen = dns_rd16(p);
		uint32_t exp32, d;
		uint64_t exp;

		if (left - 2 < rdlen)
			break;
		if (rdlen >= 12) {
			exp32 = dns_rd32(p + 2 + 8);
			d = exp32 - (uint32_t)e->now; /* mod 2^32 */
			exp = d < 0x80000000u ? e->now + d : e->now - (uint32_t)(0u - d);
			if (!e->found || exp < e->earliest)
				e->earliest = exp;
			e->found = true;
		}
		p += 2 + rdlen;
		left -= 2 + rdlen;
	}
	return 0;
}

enum tdns_status zonesign_earliest_expiry(struct tdns_txn *t, const uint8_t *apex,
					  size_t apex_len, uint64_t now, bool *signed_zone,
					  uint64_t *expiry)
{
	struct expiry e = { now, 0, false };
	struct tdns_rrset_view dnskey;
	enum tdns_status st;

	*signed_zone = false;
	*expiry = 0;
	/* No DNSKEY at the apex: not signed, and a big zone is not walked. */
	st = zonedb_get_rrset(t, apex, apex_len, DNS_TYPE_DNSKEY, &dnskey);
	if (st == TDNS_ENOTFOUND)
		return TDNS_OK;
	if (st != TDNS_OK)
		return st;
	st = zonedb_walk(t, apex, apex_len, expiry_rrset, &e, NULL);
	if (st == TDNS_OK)
		st = zonedb_denial_walk(t, apex, apex_len, ZONEDB_NSEC3, expiry_rrset, &e, NULL);
	if (st == TDNS_ENOTFOUND)
		st = TDNS_OK;
	*signed_zone = e.found;
	*expiry = e.earliest;
	return st;
}
