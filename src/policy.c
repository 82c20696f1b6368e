/*
 * policy.c - the resolver policy tables, see policy.h. Two hash tables of
 * name keys (the local names, the RPZ triggers); a question looks up its
 * name and its ancestors, longest first. An index per kind of name (local
 * data and zones, routes, RPZ triggers) says at which label counts the
 * kind has names and which top-level labels they end in: a question
 * under no such top-level label (most of them, with a small policy) costs
 * a hash of that label and no lookup at all.
 */
#include "tierdns/policy.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "tierdns/dnsproto.h"
#include "tierdns/hosts.h"
#include "tierdns/log.h"
#include "tierdns/name.h"
#include "tierdns/rpz.h"
#include "tierdns/zoneload.h"

#define LOCAL_DATA_TTL 3600 /* Unbound's default for local-data */
#define PRIVATE_SOA_TTL 10800
#define MAX_LABELS 128
#define DEPTH_BIT(n) (1ull << ((n) < 63 ? (n) : 63))

/* One RRset at a name: count records in the rrset.h record layout
 * (u16 rdlength | rdata), what answer.h calls ANS_REC_PACKED. */
struct pol_rrset {
	uint16_t type;
	uint16_t count;
	uint32_t ttl;
	uint8_t *data;
	size_t len;
};

/* A name of a table: small, as a blocklist has a million of them. */
struct pol_node {
	struct pol_rrset *rrsets;
	unsigned n_rrsets;
	uint32_t hash;
	unsigned first, end;   /* POLICY_FWD_SET, _STUB: upstreams */
	uint8_t zone;          /* enum policy_zone */
	uint8_t fwd;           /* enum policy_fwd, when has_fwd */
	bool has_fwd;
	uint8_t rpz;           /* enum policy_rpz (the rpz table) */
	uint8_t klen;
	uint8_t key[];
};

/* Open addressing on the key hash, mask + 1 slots, at most half full. */
struct pol_table {
	struct pol_node **slot;
	size_t mask;
	size_t n;
};

/* Where the names of one kind are: a filter in front of the lookups. */
struct pol_index {
	uint64_t depth;        /* label counts of its names (DEPTH_BIT) */
	uint64_t tld[4];       /* hashes of their top-level labels (tld_bit) */
	bool all;              /* a name at the root (or "*."): every question */
};

struct tdns_policy {
	atomic_uint refs;
	struct pol_table local;  /* forward:, local-zone, local-data, hosts */
	struct pol_table rpz;    /* response policy zones: each trigger at
				  * its name, a wildcard one at "*.name" */
	size_t n_names;          /* local names with records */
	size_t n_rpz;            /* RPZ triggers */
	struct pol_index ix_local; /* names with records or a zone */
	struct pol_index ix_fwd;   /* names with a route */
	struct pol_index ix_rpz;   /* RPZ triggers of a name */
	uint64_t rpz_wild_depth;   /* label counts of the names whose "*."
				    * has a trigger (DEPTH_BIT) */
	unsigned n_default;
	uint8_t private_soa[2 + 64]; /* the RFC 6303 zones' SOA record */
	size_t private_soa_len;
};

/* A record while the policy is built. */
struct brec {
	enum policy_table table;
	uint8_t key[NAME_KEY_MAX];
	size_t klen;
	uint16_t type;
	uint32_t ttl;
	bool single;  /* only the first record of its RRset is kept (a
		       * hosts file's PTR: the address's first name) */
	size_t seq;   /* order given: kept within an RRset */
	uint8_t *rdata;
	size_t rdlen;
};

struct tdns_policy_build {
	struct tdns_policy *p;
	struct brec *recs;
	size_t n_recs, cap_recs;
};

/* The hash of a name key (dnsproto.h): names are looked up on every query
 * the policy may answer. */
static uint32_t key_hash(const uint8_t *k, size_t n)
{
	return (uint32_t)dns_key_hash(0x9e3779b97f4a7c15ull, k, n);
}

/* ---- the tables ---- */

static struct pol_node *node_find(const struct pol_table *t, const uint8_t *key, size_t klen)
{
	uint32_t h = key_hash(key, klen);

	for (size_t i = h & t->mask;; i = (i + 1) & t->mask) {
		struct pol_node *n = t->slot[i];

		if (n == NULL)
			return NULL;
		if (n->hash == h && n->klen == klen && memcmp(n->key, key, klen) == 0)
			return n;
	}
}

static bool table_init(struct pol_table *t)
{
	t->mask = 63;
	t->slot = calloc(t->mask + 1, sizeof(*t->slot));
	return t->slot != NULL;
}

static bool table_grow(struct pol_table *t)
{
	size_t cap = (t->mask + 1) * 2;
	struct pol_node **slot = calloc(cap, sizeof(*slot));

	if (slot == NULL)
		return false;
	for (size_t i = 0; i <= t->mask; i++) {
		struct pol_node *n = t->slot[i];
		size_t j;

		if (n == NULL)
			continue;
		for (j = n->hash & (cap - 1); slot[j] != NULL; j = (j + 1) & (cap - 1))
			;
		slot[j] = n;
	}
	free(t->slot);
	t->slot = slot;
	t->mask = cap - 1;
	return true;
}

/* The node of key, created when missing; NULL when out of memory. */
static struct pol_node *node_get(struct pol_table *t, const uint8_t *key, size_t klen)
{
	struct pol_node *n = node_find(t, key, klen);
	int labels = name_key_labels(key, klen);
	size_t i;

	if (n != NULL)
		return n;
	if (labels < 0 || ((t->n + 1) * 2 > t->mask + 1 && !table_grow(t)))
		return NULL;
	n = calloc(1, sizeof(*n) + klen);
	if (n == NULL)
		return NULL;
	memcpy(n->key, key, klen);
	n->klen = (uint8_t)klen;
	n->hash = key_hash(key, klen);
	for (i = n->hash & t->mask; t->slot[i] != NULL; i = (i + 1) & t->mask)
		;
	t->slot[i] = n;
	t->n++;
	return n;
}

static void node_free(struct pol_node *n)
{
	for (unsigned i = 0; i < n->n_rrsets; i++)
		free(n->rrsets[i].data);
	free(n->rrsets);
	free(n);
}

static void table_free(struct pol_table *t)
{
	for (size_t i = 0; t->slot != NULL && i <= t->mask; i++)
		if (t->slot[i] != NULL)
			node_free(t->slot[i]);
	free(t->slot);
}

static void policy_free(struct tdns_policy *p)
{
	if (p == NULL)
		return;
	table_free(&p->local);
	table_free(&p->rpz);
	free(p);
}

struct tdns_policy *policy_ref(struct tdns_policy *p)
{
	if (p != NULL)
		atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
	return p;
}

void policy_release(struct tdns_policy *p)
{
	if (p != NULL && atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) == 1)
		policy_free(p);
}

size_t policy_names(const struct tdns_policy *p)
{
	return p->n_names;
}

size_t policy_rpz_triggers(const struct tdns_policy *p)
{
	return p->n_rpz;
}

/* A bit for the top-level label of a non-empty key (its first label):
 * its length, first and last byte, which tell the usual top-level labels
 * apart and cost a cache hit a few instructions, not a hash of the label. */
static unsigned tld_bit(const uint8_t *key)
{
	return ((unsigned)key[0] * 37u + (unsigned)key[1] * 11u + key[key[0]]) & 255u;
}

static void index_add(struct pol_index *ix, const uint8_t *key, size_t klen, int labels)
{
	unsigned b;

	ix->depth |= DEPTH_BIT((unsigned)labels);
	if (klen == 0 || (labels == 1 && key[0] == 1 && key[1] == '*')) {
		ix->all = true;
		return;
	}
	b = tld_bit(key);
	ix->tld[b >> 6] |= 1ull << (b & 63);
}

/* May a name of the kind be qkey or one of its ancestors? */
static inline bool index_may(const struct pol_index *ix, const uint8_t *qkey,
			     size_t qkey_len)
{
	unsigned b;

	if (ix->depth == 0)
		return false;
	if (ix->all)
		return true;
	if (qkey_len == 0)
		return false;
	b = tld_bit(qkey);
	return (ix->tld[b >> 6] >> (b & 63)) & 1;
}

/* Offsets of the label boundaries of key: off[i] is the length of the
 * ancestor with i labels (off[0] = 0, the root). Returns the label
 * count, -1 for a malformed key. */
static int label_offsets(const uint8_t *key, size_t klen, size_t *off)
{
	size_t pos = 0;
	int n = 0;

	off[0] = 0;
	while (pos < klen) {
		if (n + 1 >= MAX_LABELS || key[pos] == 0 || pos + 1 + key[pos] > klen)
			return -1;
		pos += 1u + key[pos];
		off[++n] = pos;
	}
	return n;
}

static const struct pol_rrset *rrset_of(const struct pol_node *n, uint16_t type)
{
	for (unsigned i = 0; n != NULL && i < n->n_rrsets; i++)
		if (n->rrsets[i].type == type)
			return &n->rrsets[i];
	return NULL;
}

/* ---- building ---- */

/* A new record with room for rdlen bytes of rdata (the caller writes
 * them); NULL when out of memory. */
static struct brec *rec_new(struct tdns_policy_build *b, enum policy_table table,
			    const uint8_t *key, size_t klen, uint16_t type, uint32_t ttl,
			    size_t rdlen, bool single)
{
	struct brec *r;

	if (b->n_recs == b->cap_recs) {
		size_t cap = b->cap_recs ? b->cap_recs * 2 : 64;
		struct brec *n = realloc(b->recs, cap * sizeof(*n));

		if (n == NULL)
			return NULL;
		b->recs = n;
		b->cap_recs = cap;
	}
	r = &b->recs[b->n_recs];
	r->rdata = malloc(rdlen ? rdlen : 1);
	if (r->rdata == NULL)
		return NULL;
	r->table = table;
	memcpy(r->key, key, klen);
	r->klen = klen;
	r->type = type;
	r->ttl = ttl;
	r->single = single;
	r->seq = b->n_recs;
	r->rdlen = rdlen;
	b->n_recs++;
	return r;
}

enum tdns_status policy_build_record(struct tdns_policy_build *b, enum policy_table table,
				     const uint8_t *key, size_t klen, uint16_t type,
				     uint32_t ttl, const uint8_t *rdata, size_t rdlen, bool single)
{
	struct brec *r;

	if (rdlen > UINT16_MAX)
		return TDNS_EINVAL;
	r = rec_new(b, table, key, klen, type, ttl, rdlen, single);
	if (r == NULL)
		return TDNS_ENOMEM;
	if (rdlen > 0)
		memcpy(r->rdata, rdata, rdlen);
	return TDNS_OK;
}

enum tdns_status policy_build_rr(struct tdns_policy_build *b, enum policy_table table,
				 const uint8_t *key, size_t klen, const ldns_rr *rr)
{
	struct brec *r;
	size_t len = 0, i;

	for (i = 0; i < ldns_rr_rd_count(rr); i++)
		len += ldns_rdf_size(ldns_rr_rdf(rr, i));
	if (len > UINT16_MAX)
		return TDNS_EINVAL;
	r = rec_new(b, table, key, klen, (uint16_t)ldns_rr_get_type(rr), ldns_rr_ttl(rr), len,
		    false);
	if (r == NULL)
		return TDNS_ENOMEM;
	len = 0;
	for (i = 0; i < ldns_rr_rd_count(rr); i++) {
		const ldns_rdf *f = ldns_rr_rdf(rr, i);

		/* An empty field has no data pointer (memcpy from NULL is
		 * undefined even for 0 bytes). */
		if (ldns_rdf_size(f) > 0)
			memcpy(r->rdata + len, ldns_rdf_data(f), ldns_rdf_size(f));
		len += ldns_rdf_size(f);
	}
	return TDNS_OK;
}

enum tdns_status policy_build_rpz(struct tdns_policy_build *b, const uint8_t *key,
				  size_t klen, enum policy_rpz action)
{
	struct pol_node *n = node_get(&b->p->rpz, key, klen);

	if (n == NULL)
		return TDNS_ENOMEM;
	if (n->rpz == POLICY_RPZ_NONE)
		b->p->n_rpz++;
	/* The first action of a name holds (its records go with it). */
	if (n->rpz == POLICY_RPZ_NONE || n->rpz == POLICY_RPZ_DATA)
		n->rpz = (uint8_t)action;
	return TDNS_OK;
}

static int rec_cmp(const void *va, const void *vb)
{
	const struct brec *a = va, *b = vb;
	size_t n = a->klen < b->klen ? a->klen : b->klen;
	int c;

	if (a->table != b->table)
		return a->table < b->table ? -1 : 1;
	c = memcmp(a->key, b->key, n);

	if (c != 0)
		return c;
	if (a->klen != b->klen)
		return a->klen < b->klen ? -1 : 1;
	if (a->type != b->type)
		return a->type < b->type ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Records of one name and type, recs[0..n), into one RRset of node nd
 * (the first record's TTL; a record given twice counts once). */
static enum tdns_status rrset_make(struct pol_node *nd, const struct brec *recs, size_t n)
{
	struct pol_rrset *rs, *grown;
	size_t len = 0, i, j, o = 0;
	uint16_t count = 0;

	grown = realloc(nd->rrsets, (nd->n_rrsets + 1) * sizeof(*grown));
	if (grown == NULL)
		return TDNS_ENOMEM;
	nd->rrsets = grown;
	for (i = 0; i < n; i++)
		len += 2 + recs[i].rdlen;
	rs = &nd->rrsets[nd->n_rrsets];
	rs->data = malloc(len);
	if (rs->data == NULL)
		return TDNS_ENOMEM;
	for (i = 0; i < n && count < UINT16_MAX; i++) {
		for (j = 0; j < i; j++)
			if (recs[j].rdlen == recs[i].rdlen &&
			    memcmp(recs[j].rdata, recs[i].rdata, recs[i].rdlen) == 0)
				break;
		if (j < i)
			continue;
		dns_wr16(rs->data + o, (uint16_t)recs[i].rdlen);
		if (recs[i].rdlen > 0)
			memcpy(rs->data + o + 2, recs[i].rdata, recs[i].rdlen);
		o += 2 + recs[i].rdlen;
		count++;
		if (recs[i].single)
			break;
	}
	rs->type = recs[0].type;
	rs->ttl = recs[0].ttl;
	rs->count = count;
	rs->len = o;
	nd->n_rrsets++;
	return TDNS_OK;
}

static enum tdns_status recs_commit(struct tdns_policy_build *b)
{
	struct tdns_policy *p = b->p;
	struct pol_node *nd;
	size_t i, j;
	enum tdns_status st;

	if (b->n_recs > 0)
		qsort(b->recs, b->n_recs, sizeof(*b->recs), rec_cmp);
	for (i = 0; i < b->n_recs; i = j) {
		for (j = i + 1; j < b->n_recs && b->recs[j].klen == b->recs[i].klen &&
				b->recs[j].table == b->recs[i].table &&
				b->recs[j].type == b->recs[i].type &&
				memcmp(b->recs[j].key, b->recs[i].key, b->recs[i].klen) == 0;
		     j++)
			;
		nd = node_get(b->recs[i].table == POLICY_T_RPZ ? &p->rpz : &p->local,
			      b->recs[i].key, b->recs[i].klen);
		if (nd == NULL)
			return TDNS_ENOMEM;
		if (nd->n_rrsets == 0 && b->recs[i].table == POLICY_T_LOCAL)
			p->n_names++;
		st = rrset_make(nd, &b->recs[i], j - i);
		if (st != TDNS_OK)
			return st;
	}
	return TDNS_OK;
}

static void build_clear(struct tdns_policy_build *b)
{
	for (size_t i = 0; i < b->n_recs; i++)
		free(b->recs[i].rdata);
	free(b->recs);
	b->recs = NULL;
	b->n_recs = b->cap_recs = 0;
}

static const char *const zone_names[] = {
	[POLICY_Z_TRANSPARENT] = "transparent",
	[POLICY_Z_TYPETRANSPARENT] = "typetransparent",
	[POLICY_Z_STATIC] = "static",
	[POLICY_Z_REDIRECT] = "redirect",
	[POLICY_Z_REFUSE] = "refuse",
	[POLICY_Z_DENY] = "deny",
	[POLICY_Z_ALWAYS_NXDOMAIN] = "always_nxdomain",
	[POLICY_Z_ALWAYS_REFUSE] = "always_refuse",
	[POLICY_Z_ALWAYS_TRANSPARENT] = "always_transparent",
	[POLICY_Z_NODEFAULT] = "nodefault",
};

/* "NAME TYPE" */
static enum tdns_status local_zone(struct tdns_policy *p, const char *text, char *err,
				   size_t cap)
{
	char name[NAME_WIRE_MAX * 4 + 1], type[32];
	uint8_t key[NAME_KEY_MAX];
	struct pol_node *n;
	size_t klen;
	unsigned z;

	if (sscanf(text, "%1020s %31s", name, type) != 2) {
		snprintf(err, cap, "local-zone '%s': NAME TYPE is expected", text);
		return TDNS_EPARSE;
	}
	for (z = 1; z < sizeof(zone_names) / sizeof(zone_names[0]); z++)
		if (strcmp(type, zone_names[z]) == 0)
			break;
	if (z == sizeof(zone_names) / sizeof(zone_names[0])) {
		snprintf(err, cap, "local-zone '%s': unknown type '%s' (transparent, "
			 "typetransparent, static, redirect, refuse, deny, always_nxdomain, "
			 "always_refuse, always_transparent, nodefault)", text, type);
		return TDNS_EPARSE;
	}
	if (zoneload_name_key(name, key, &klen) != TDNS_OK) {
		snprintf(err, cap, "local-zone '%s': '%s' is not a domain name", text, name);
		return TDNS_EPARSE;
	}
	n = node_get(&p->local, key, klen);
	if (n == NULL)
		return TDNS_ENOMEM;
	n->zone = (uint8_t)z;
	return TDNS_OK;
}

/* One record in master-file syntax, class IN. */
static enum tdns_status local_data(struct tdns_policy_build *b, const char *text, char *err,
				   size_t cap)
{
	uint8_t key[NAME_KEY_MAX];
	ldns_rr *rr = NULL;
	ldns_rdf *owner;
	ldns_status ls;
	size_t klen;
	enum tdns_status st = TDNS_EPARSE;

	ls = ldns_rr_new_frm_str(&rr, text, LOCAL_DATA_TTL, NULL, NULL);
	if (ls != LDNS_STATUS_OK) {
		snprintf(err, cap, "local-data '%s': %s", text, ldns_get_errorstr_by_id(ls));
		goto out;
	}
	if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN) {
		snprintf(err, cap, "local-data '%s': class IN only", text);
		goto out;
	}
	owner = ldns_rr_owner(rr);
	if (name_key_from_wire(ldns_rdf_data(owner), ldns_rdf_size(owner), key, &klen) !=
	    TDNS_OK) {
		snprintf(err, cap, "local-data '%s': bad owner name", text);
		goto out;
	}
	st = policy_build_rr(b, POLICY_T_LOCAL, key, klen, rr);
	if (st == TDNS_EINVAL)
		snprintf(err, cap, "local-data '%s': rdata too long", text);
out:
	ldns_rr_free(rr);
	return st;
}

/* RFC 6303 4 (and RFC 7793 for 100.64/10): reverse zones of ranges no
 * public server can answer for. */
static const char *const private_zones[] = {
	"10.in-addr.arpa.", "16.172.in-addr.arpa.", "17.172.in-addr.arpa.",
	"18.172.in-addr.arpa.", "19.172.in-addr.arpa.", "20.172.in-addr.arpa.",
	"21.172.in-addr.arpa.", "22.172.in-addr.arpa.", "23.172.in-addr.arpa.",
	"24.172.in-addr.arpa.", "25.172.in-addr.arpa.", "26.172.in-addr.arpa.",
	"27.172.in-addr.arpa.", "28.172.in-addr.arpa.", "29.172.in-addr.arpa.",
	"30.172.in-addr.arpa.", "31.172.in-addr.arpa.", "168.192.in-addr.arpa.",
	"0.in-addr.arpa.", "127.in-addr.arpa.", "254.169.in-addr.arpa.",
	"2.0.192.in-addr.arpa.", "100.51.198.in-addr.arpa.", "113.0.203.in-addr.arpa.",
	"255.255.255.255.in-addr.arpa.",
	"0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa.",
	"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa.",
	"d.f.ip6.arpa.", "8.e.f.ip6.arpa.", "9.e.f.ip6.arpa.", "a.e.f.ip6.arpa.",
	"b.e.f.ip6.arpa.", "8.b.d.0.1.0.0.2.ip6.arpa.",
	"64.100.in-addr.arpa.", "65.100.in-addr.arpa.", "66.100.in-addr.arpa.",
	"67.100.in-addr.arpa.", "68.100.in-addr.arpa.", "69.100.in-addr.arpa.",
	"70.100.in-addr.arpa.", "71.100.in-addr.arpa.", "72.100.in-addr.arpa.",
	"73.100.in-addr.arpa.", "74.100.in-addr.arpa.", "75.100.in-addr.arpa.",
	"76.100.in-addr.arpa.", "77.100.in-addr.arpa.", "78.100.in-addr.arpa.",
	"79.100.in-addr.arpa.", "80.100.in-addr.arpa.", "81.100.in-addr.arpa.",
	"82.100.in-addr.arpa.", "83.100.in-addr.arpa.", "84.100.in-addr.arpa.",
	"85.100.in-addr.arpa.", "86.100.in-addr.arpa.", "87.100.in-addr.arpa.",
	"88.100.in-addr.arpa.", "89.100.in-addr.arpa.", "90.100.in-addr.arpa.",
	"91.100.in-addr.arpa.", "92.100.in-addr.arpa.", "93.100.in-addr.arpa.",
	"94.100.in-addr.arpa.", "95.100.in-addr.arpa.", "96.100.in-addr.arpa.",
	"97.100.in-addr.arpa.", "98.100.in-addr.arpa.", "99.100.in-addr.arpa.",
	"100.100.in-addr.arpa.", "101.100.in-addr.arpa.", "102.100.in-addr.arpa.",
	"103.100.in-addr.arpa.", "104.100.in-addr.arpa.", "105.100.in-addr.arpa.",
	"106.100.in-addr.arpa.", "107.100.in-addr.arpa.", "108.100.in-addr.arpa.",
	"109.100.in-addr.arpa.", "110.100.in-addr.arpa.", "111.100.in-addr.arpa.",
	"112.100.in-addr.arpa.", "113.100.in-addr.arpa.", "114.100.in-addr.arpa.",
	"115.100.in-addr.arpa.", "116.100.in-addr.arpa.", "117.100.in-addr.arpa.",
	"118.100.in-addr.arpa.", "119.100.in-addr.arpa.", "120.100.in-addr.arpa.",
	"121.100.in-addr.arpa.", "122.100.in-addr.arpa.", "123.100.in-addr.arpa.",
	"124.100.in-addr.arpa.", "125.100.in-addr.arpa.", "126.100.in-addr.arpa.",
	"127.100.in-addr.arpa.",
};

/* Does a route of a forward: entry (not a default) cover key: at it, or
 * at a parent other than the root? */
static bool forwarded_above(const struct tdns_policy *p, const uint8_t *key, size_t klen)
{
	size_t off[MAX_LABELS];
	int nl = label_offsets(key, klen, off);

	for (int i = nl; i >= 1; i--) {
		const struct pol_node *n = node_find(&p->local, key, off[i]);

		if (n != NULL && n->has_fwd && n->fwd != POLICY_FWD_PRIVATE)
			return true;
	}
	return false;
}

/* A default record (RFC 6761 6.3: localhost is this host), after what
 * the configuration gave for the name (an RRset keeps its first single
 * record). */
static enum tdns_status default_record(struct tdns_policy_build *b, const char *name,
				       uint16_t type, const uint8_t *rdata, size_t rdlen)
{
	uint8_t key[NAME_KEY_MAX];
	size_t klen;

	if (zoneload_name_key(name, key, &klen) != TDNS_OK)
		return TDNS_EINVAL;
	return policy_build_record(b, POLICY_T_LOCAL, key, klen, type, LOCAL_DATA_TTL, rdata,
				   rdlen, type == DNS_TYPE_PTR);
}

/* The zones every resolver serves itself unless told otherwise, as
 * Unbound does: the RFC 6303 reverse zones (routed POLICY_FWD_PRIVATE,
 * the loopback addresses' names with a PTR to localhost.), and
 * localhost. (RFC 6761 6.3: A 127.0.0.1, AAAA ::1 for it and every name
 * below it, a redirect zone). A forward: entry or a local-zone for the
 * name turns its default off. */
static enum tdns_status private_defaults(struct tdns_policy_build *b)
{
	static const uint8_t localhost[] = { 9, 'l', 'o', 'c', 'a', 'l', 'h', 'o', 's', 't', 0 };
	static const uint8_t v4[] = { 127, 0, 0, 1 };
	static const uint8_t v6[] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
	struct tdns_policy *p = b->p;
	enum tdns_status st = TDNS_OK;
	static const uint8_t soa[] = {
		9, 'l', 'o', 'c', 'a', 'l', 'h', 'o', 's', 't', 0,
		6, 'n', 'o', 'b', 'o', 'd', 'y', 7, 'i', 'n', 'v', 'a', 'l', 'i', 'd', 0,
		0, 0, 0, 1, 0, 0, 0x0e, 0x10, 0, 0, 0x04, 0xb0, 0, 0x09, 0x3a, 0x80,
		0, 0, 0x2a, 0x30,
	};
	uint8_t key[NAME_KEY_MAX];
	struct pol_node *n;
	size_t klen;

	/* localhost. nobody.invalid. 1 3600 1200 604800 10800, as Unbound */
	dns_wr16(p->private_soa, sizeof(soa));
	memcpy(p->private_soa + 2, soa, sizeof(soa));
	p->private_soa_len = 2 + sizeof(soa);
	for (size_t i = 0; i < sizeof(private_zones) / sizeof(private_zones[0]); i++) {
		if (zoneload_name_key(private_zones[i], key, &klen) != TDNS_OK)
			return TDNS_EINVAL;
		n = node_find(&p->local, key, klen);
		if ((n != NULL && (n->has_fwd || n->zone == POLICY_Z_NODEFAULT)) ||
		    forwarded_above(p, key, klen))
			continue;
		n = node_get(&p->local, key, klen);
		if (n == NULL)
			return TDNS_ENOMEM;
		n->has_fwd = true;
		n->fwd = POLICY_FWD_PRIVATE;
		if (strcmp(private_zones[i], "127.in-addr.arpa.") == 0)
			st = default_record(b, "1.0.0.127.in-addr.arpa.", DNS_TYPE_PTR, localhost,
					    sizeof(localhost));
		else if (strncmp(private_zones[i], "1.0.0.0.", 8) == 0)
			st = default_record(b, private_zones[i], DNS_TYPE_PTR, localhost,
					    sizeof(localhost));
		if (st != TDNS_OK)
			return st;
	}
	if (zoneload_name_key("localhost.", key, &klen) != TDNS_OK)
		return TDNS_EINVAL;
	n = node_find(&p->local, key, klen);
	if (n != NULL && (n->has_fwd || n->zone != POLICY_Z_NONE))
		return TDNS_OK;
	n = node_get(&p->local, key, klen);
	if (n == NULL)
		return TDNS_ENOMEM;
	n->zone = POLICY_Z_REDIRECT;
	/* Unbound's localhost. zone: its SOA and NS, A and AAAA. */
	st = default_record(b, "localhost.", DNS_TYPE_A, v4, sizeof(v4));
	if (st == TDNS_OK)
		st = default_record(b, "localhost.", DNS_TYPE_AAAA, v6, sizeof(v6));
	if (st == TDNS_OK)
		st = default_record(b, "localhost.", DNS_TYPE_SOA, soa, sizeof(soa));
	if (st == TDNS_OK)
		st = default_record(b, "localhost.", DNS_TYPE_NS, localhost, sizeof(localhost));
	return st;
}

static enum tdns_status forwards(struct tdns_policy *p, const struct policy_src *src,
				 char *err, size_t cap)
{
	unsigned up = src->n_default;
	uint8_t key[NAME_KEY_MAX];
	struct pol_node *n;
	size_t klen;

	for (unsigned i = 0; i < src->n_forward; i++) {
		const struct policy_forward *f = &src->forward[i];

		if (zoneload_name_key(f->name, key, &klen) != TDNS_OK) {
			snprintf(err, cap, "forward '%s': not a domain name", f->name);
			return TDNS_EPARSE;
		}
		n = node_get(&p->local, key, klen);
		if (n == NULL)
			return TDNS_ENOMEM;
		if (n->has_fwd && (n->fwd != f->how || f->how > POLICY_FWD_STUB ||
				   n->end != up)) {
			snprintf(err, cap, "forward '%s': given twice, or both forwarded and "
				 "local or stub (list the upstreams of a name together)",
				 f->name);
			return TDNS_EPARSE;
		}
		if (!n->has_fwd) {
			n->has_fwd = true;
			n->fwd = (uint8_t)f->how;
			n->first = n->end = up;
		}
		if (f->how == POLICY_FWD_SET || f->how == POLICY_FWD_STUB)
			n->end = ++up;
	}
	return TDNS_OK;
}

static void indexes(struct tdns_policy *p)
{
	for (size_t i = 0; i <= p->local.mask; i++) {
		const struct pol_node *n = p->local.slot[i];
		int nl;

		if (n == NULL || (nl = name_key_labels(n->key, n->klen)) < 0)
			continue;
		if (n->n_rrsets > 0 || (n->zone != POLICY_Z_NONE && n->zone != POLICY_Z_NODEFAULT))
			index_add(&p->ix_local, n->key, n->klen, nl);
		if (n->has_fwd)
			index_add(&p->ix_fwd, n->key, n->klen, nl);
	}
	for (size_t i = 0; i <= p->rpz.mask; i++) {
		const struct pol_node *n = p->rpz.slot[i];
		int nl;

		if (n == NULL || n->rpz == POLICY_RPZ_NONE ||
		    (nl = name_key_labels(n->key, n->klen)) < 0)
			continue;
		/* A wildcard's own top-level label is its name's. */
		index_add(&p->ix_rpz, n->key, n->klen, nl);
		if (nl >= 1 && n->klen >= 2 && n->key[n->klen - 2] == 1 && n->key[n->klen - 1] == '*')
			p->rpz_wild_depth |= DEPTH_BIT((unsigned)nl - 1);
	}
}

enum tdns_status policy_build(const struct policy_src *src, struct tdns_policy **out,
			      char *err, size_t cap)
{
	struct tdns_policy_build b = { NULL, NULL, 0, 0 };
	enum tdns_status st = TDNS_ENOMEM;
	unsigned i;

	*out = NULL;
	err[0] = '\0';
	b.p = calloc(1, sizeof(*b.p));
	if (b.p == NULL)
		goto out;
	atomic_init(&b.p->refs, 1);
	if (!table_init(&b.p->local) || !table_init(&b.p->rpz))
		goto out;
	b.p->n_default = src->n_default;
	st = forwards(b.p, src, err, cap);
	for (i = 0; st == TDNS_OK && i < src->n_local_zone; i++)
		st = local_zone(b.p, src->local_zone[i], err, cap);
	for (i = 0; st == TDNS_OK && i < src->n_local_data; i++)
		st = local_data(&b, src->local_data[i], err, cap);
	for (i = 0; st == TDNS_OK && i < src->n_hosts; i++)
		st = hosts_load(&b, src->hosts[i]);
	for (i = 0; st == TDNS_OK && i < src->n_rpz; i++)
		st = rpz_load(&b, src->rpz[i], err, cap);
	for (i = 0; st == TDNS_OK && i < src->n_rpz_text; i++)
		if (src->rpz_text[i] != NULL)
			st = rpz_load_text(&b, src->rpz_text_name[i], src->rpz_text[i], err, cap);
	if (st == TDNS_OK)
		st = private_defaults(&b);
	if (st == TDNS_OK)
		st = recs_commit(&b);
	if (st != TDNS_OK)
		goto out;
	indexes(b.p);
	*out = b.p;
	b.p = NULL;
out:
	if (st == TDNS_ENOMEM && err[0] == '\0')
		snprintf(err, cap, "out of memory");
	build_clear(&b);
	policy_free(b.p);
	return st;
}

static int fwd_name_cmp(const char *a, const char *b)
{
	uint8_t ka[NAME_KEY_MAX], kb[NAME_KEY_MAX];
	size_t la = 0, lb = 0, n;
	int c;

	if (zoneload_name_key(a, ka, &la) != TDNS_OK)
		la = 0;
	if (zoneload_name_key(b, kb, &lb) != TDNS_OK)
		lb = 0;
	n = la < lb ? la : lb;
	c = n > 0 ? memcmp(ka, kb, n) : 0;
	return c != 0 ? c : (la > lb) - (la < lb);
}

void policy_forward_sort(struct policy_forward *f, unsigned n)
{
	/* Insertion sort: stable, and the lists are short (opts.h). */
	for (unsigned i = 1; i < n; i++) {
		struct policy_forward x = f[i];
		unsigned j = i;

		while (j > 0 && fwd_name_cmp(f[j - 1].name, x.name) > 0) {
			f[j] = f[j - 1];
			j--;
		}
		f[j] = x;
	}
}

/* ---- answering ---- */

static void add_rrset(struct tdns_answer *a, enum ans_section sec, const uint8_t *owner,
		      const struct pol_rrset *rs)
{
	answer_add(a, sec, owner, rs->type, DNS_CLASS_IN, rs->ttl, ANS_REC_PACKED, rs->count,
		   rs->data, rs->len);
}

/* An answer of the local zone z: rcode, AA (as Unbound sets it in every
 * answer of a local zone), and for NXDOMAIN and NODATA its SOA when it
 * has one (RFC 2308 3). */
static void zone_negative(struct tdns_answer *a, const struct pol_node *z, uint16_t rcode)
{
	const struct pol_rrset *soa = rrset_of(z, DNS_TYPE_SOA);
	const uint8_t *owner;

	a->rcode = rcode;
	a->aa = true;
	if (rcode != DNS_RCODE_REFUSED && soa != NULL &&
	    (owner = answer_name_from_key(a, z->key, z->klen)) != NULL)
		add_rrset(a, ANS_AUTHORITY, owner, soa);
}

/* The records of nd for q: of its type, else its CNAME (RFC 1034 3.6.2);
 * for ANY, every RRset of the name, one over UDP (RFC 8482 4.1, as the
 * upper tier answers it). False when it has none of them. */
static bool answer_records(const struct pol_node *nd, const struct tdns_qctx *q,
			   const uint8_t *owner, struct tdns_answer *a)
{
	const struct pol_rrset *rs = rrset_of(nd, q->qtype);

	if (q->qtype == DNS_TYPE_ANY) {
		if (nd->n_rrsets == 0)
			return false;
		a->aa = true;
		/* rrsets are in type order (rec_cmp) */
		for (unsigned i = 0; i < nd->n_rrsets; i++)
			add_rrset(a, ANS_ANSWER, owner, &nd->rrsets[i]);
		/* (after a CNAME chain, owner set: minimal ANY would keep the
		 * chain's first CNAME only) */
		if (q->transport == QCTX_UDP && owner == NULL)
			answer_minimal_any(a);
		return true;
	}
	if (rs == NULL && q->qtype != DNS_TYPE_CNAME)
		rs = rrset_of(nd, DNS_TYPE_CNAME);
	if (rs == NULL)
		return false;
	a->aa = true;
	add_rrset(a, ANS_ANSWER, owner, rs);
	return true;
}

/* local-zone and local-data (Unbound's local_zones_answer). */
static enum policy_verdict local_answer(const struct tdns_policy *p, const struct tdns_qctx *q,
					const size_t *off, int nl, struct tdns_answer *a)
{
	const struct pol_node *exact = NULL, *z = NULL, *n;

	for (int i = nl; i >= 0; i--) {
		if (!(p->ix_local.depth & DEPTH_BIT((unsigned)i)))
			continue;
		n = node_find(&p->local, q->qkey, off[i]);
		if (n == NULL)
			continue;
		if (i == nl)
			exact = n;
		if (n->zone != POLICY_Z_NONE && n->zone != POLICY_Z_NODEFAULT) {
			z = n;
			break;
		}
	}
	if (z != NULL) {
		switch (z->zone) {
		case POLICY_Z_ALWAYS_NXDOMAIN:
			zone_negative(a, z, DNS_RCODE_NXDOMAIN);
			return POLICY_ANSWER;
		case POLICY_Z_ALWAYS_REFUSE:
			zone_negative(a, z, DNS_RCODE_REFUSED);
			return POLICY_ANSWER;
		case POLICY_Z_ALWAYS_TRANSPARENT:
			return POLICY_PASS;
		default:
			break;
		}
	}
	if (exact != NULL && exact->n_rrsets > 0) {
		if (answer_records(exact, q, NULL, a))
			return POLICY_ANSWER;
		/* The name has records, not of this type. */
		if (z == NULL || z->zone == POLICY_Z_TYPETRANSPARENT)
			return POLICY_PASS;
		zone_negative(a, z, DNS_RCODE_NOERROR);
		return POLICY_ANSWER;
	}
	if (z == NULL)
		return POLICY_PASS;
	switch (z->zone) {
	case POLICY_Z_STATIC:
		zone_negative(a, z, DNS_RCODE_NXDOMAIN);
		return POLICY_ANSWER;
	case POLICY_Z_REDIRECT:
		if (!answer_records(z, q, NULL, a))
			zone_negative(a, z, DNS_RCODE_NOERROR);
		return POLICY_ANSWER;
	case POLICY_Z_REFUSE:
		zone_negative(a, z, DNS_RCODE_REFUSED);
		return POLICY_ANSWER;
	case POLICY_Z_DENY:
		return POLICY_DROP;
	default:
		return POLICY_PASS;
	}
}

/* The RPZ trigger of a name: the name's own, else the wildcard ("*.")
 * of its longest ancestor that has one (RPZ: an exact trigger beats a
 * wildcard, a longer wildcard a shorter one). */
static const struct pol_node *rpz_match(const struct tdns_policy *p, const uint8_t *qkey,
					const size_t *off, int nl)
{
	static const uint8_t star[] = { 1, '*' };
	uint8_t key[NAME_KEY_MAX + sizeof(star)];
	const struct pol_node *n;

	if (p->ix_rpz.depth & DEPTH_BIT((unsigned)nl)) {
		n = node_find(&p->rpz, qkey, off[nl]);
		if (n != NULL && n->rpz != POLICY_RPZ_NONE)
			return n;
	}
	for (int i = nl - 1; i >= 0; i--) {
		if (!(p->rpz_wild_depth & DEPTH_BIT((unsigned)i)) ||
		    off[i] + sizeof(star) > sizeof(key))
			continue;
		memcpy(key, qkey, off[i]);
		memcpy(key + off[i], star, sizeof(star));
		n = node_find(&p->rpz, key, off[i] + sizeof(star));
		if (n != NULL && n->rpz != POLICY_RPZ_NONE)
			return n;
	}
	return NULL;
}

/* A response policy zone's action on q (qname triggers). What it blocks
 * carries EDE 15 Blocked (RFC 8914 4.16). */
static enum policy_verdict rpz_answer(const struct tdns_policy *p, const struct tdns_qctx *q,
				      const size_t *off, int nl, struct tdns_answer *a)
{
	const struct pol_node *n = rpz_match(p, q->qkey, off, nl);

	if (n == NULL)
		return POLICY_PASS;
	switch ((enum policy_rpz)n->rpz) {
	case POLICY_RPZ_NXDOMAIN:
		a->rcode = DNS_RCODE_NXDOMAIN;
		break;
	case POLICY_RPZ_NODATA:
		break;
	case POLICY_RPZ_DATA:
		if (answer_records(n, q, NULL, a))
			a->aa = false; /* not the zone's own data */
		break;
	case POLICY_RPZ_DROP:
		return POLICY_DROP;
	case POLICY_RPZ_TCP_ONLY:
		if (q->transport != QCTX_UDP)
			return POLICY_PASS;
		a->tc = true; /* asked again over TCP, where it passes */
		return POLICY_ANSWER;
	case POLICY_RPZ_PASSTHRU:
	case POLICY_RPZ_NONE:
		return POLICY_PASS;
	}
	answer_set_ede(a, EDE_BLOCKED, "blocked by response policy");
	return POLICY_ANSWER;
}

/* policy_answer past its quick test, out of line as rpz_chain is. */
static __attribute__((noinline)) enum policy_verdict
answer_indexed(const struct tdns_policy *p, const struct tdns_qctx *q,
	       struct tdns_answer *a, bool local, bool rpz)
{
	size_t off[MAX_LABELS];
	enum policy_verdict v;
	int nl;

	nl = label_offsets(q->qkey, q->qkey_len, off);
	if (nl < 0)
		return POLICY_PASS;
	/* The operator's own records and zones first, then the blocklists
	 * (a PASSTHRU there cannot undo a local answer). */
	if (local) {
		v = local_answer(p, q, off, nl, a);
		if (v != POLICY_PASS)
			return v;
	}
	return rpz ? rpz_answer(p, q, off, nl, a) : POLICY_PASS;
}

enum policy_verdict policy_answer(const struct tdns_policy *p, const struct tdns_qctx *q,
				  struct tdns_answer *a)
{
	bool local, rpz;

	if (p == NULL)
		return POLICY_PASS;
	local = index_may(&p->ix_local, q->qkey, q->qkey_len);
	rpz = index_may(&p->ix_rpz, q->qkey, q->qkey_len);
	if (!local && !rpz)
		return POLICY_PASS;
	return answer_indexed(p, q, a, local, rpz);
}

/* policy_rpz_chain past its quick test, out of line: its frame (a name
 * key, label offsets) is not set up on every cache hit. */
static __attribute__((noinline)) enum policy_verdict
rpz_chain(const struct tdns_policy *p, const struct tdns_qctx *q, struct tdns_answer *a)
{
	uint8_t key[NAME_KEY_MAX];
	size_t off[MAX_LABELS], klen, keep;
	const struct pol_node *n;
	int nl;

	for (size_t i = 0; i < a->n; i++) {
		const struct tdns_ans_rrset *e = &a->rrsets[i];
		const uint8_t *target;

		if (e->section != ANS_ANSWER || e->type != DNS_TYPE_CNAME || e->count == 0 ||
		    e->rdata_len < (size_t)e->skip + 2)
			continue;
		target = e->rdata + e->skip + 2; /* the first record's rdata */
		if (name_key_from_wire(target, e->rdata_len - e->skip - 2, key, &klen) !=
			    TDNS_OK ||
		    !index_may(&p->ix_rpz, key, klen) ||
		    (nl = label_offsets(key, klen, off)) < 0 ||
		    (n = rpz_match(p, key, off, nl)) == NULL)
			continue;
		switch ((enum policy_rpz)n->rpz) {
		case POLICY_RPZ_PASSTHRU: /* the rest of the chain is exempt */
		case POLICY_RPZ_NONE:
			return POLICY_PASS;
		case POLICY_RPZ_DROP:
			return POLICY_DROP;
		case POLICY_RPZ_TCP_ONLY:
			if (q->transport != QCTX_UDP)
				return POLICY_PASS;
			answer_truncate(a);
			return POLICY_ANSWER;
		default:
			break;
		}
		/* The chain up to the CNAME whose target triggered (with its
		 * signatures), then the action's answer for the target;
		 * what followed (the target's data, the denial of it) goes. */
		keep = i + 1;
		if (keep < a->n && (a->rrsets[keep].flags & ANS_F_SIGS))
			keep++;
		a->n = keep;
		a->rcode = n->rpz == POLICY_RPZ_NXDOMAIN ? DNS_RCODE_NXDOMAIN : DNS_RCODE_NOERROR;
		if (n->rpz == POLICY_RPZ_DATA)
			(void)answer_records(n, q, target, a);
		a->aa = a->ad = false; /* (answer_records sets AA) */
		answer_set_ede(a, EDE_BLOCKED, "blocked by response policy");
		return POLICY_ANSWER;
	}
	return POLICY_PASS;
}

enum policy_verdict policy_rpz_chain(const struct tdns_policy *p, const struct tdns_qctx *q,
				     struct tdns_answer *a)
{
	if (p == NULL || p->n_rpz == 0)
		return POLICY_PASS;
	return rpz_chain(p, q, a);
}

/* The longest name above qkey (or qkey) with a route, NULL: none. */
static const struct pol_node *route_node(const struct tdns_policy *p, const uint8_t *qkey,
					 size_t qkey_len)
{
	size_t off[MAX_LABELS];
	const struct pol_node *n;
	int nl;

	if (p == NULL || !index_may(&p->ix_fwd, qkey, qkey_len))
		return NULL;
	nl = label_offsets(qkey, qkey_len, off);
	for (int i = nl; i >= 0; i--) {
		if (!(p->ix_fwd.depth & DEPTH_BIT((unsigned)i)))
			continue;
		n = node_find(&p->local, qkey, off[i]);
		if (n != NULL && n->has_fwd)
			return n;
	}
	return NULL;
}

enum policy_fwd policy_route(const struct tdns_policy *p, const uint8_t *qkey,
			     size_t qkey_len, unsigned *first, unsigned *end, size_t *zone_len)
{
	const struct pol_node *n = route_node(p, qkey, qkey_len);

	*first = 0;
	*end = p != NULL ? p->n_default : 0;
	*zone_len = 0;
	if (n == NULL)
		return POLICY_FWD_DEFAULT;
	*first = n->first;
	*end = n->end;
	*zone_len = n->klen;
	return n->fwd;
}

void policy_route_answer(const struct tdns_policy *p, enum policy_fwd how,
			 const struct tdns_qctx *q, struct tdns_answer *a)
{
	const struct pol_node *z, *n;
	const uint8_t *owner;

	switch (how) {
	case POLICY_FWD_NXDOMAIN:
		a->rcode = DNS_RCODE_NXDOMAIN;
		return;
	case POLICY_FWD_PRIVATE:
		/* RFC 6303 3: an empty zone, its SOA in every negative answer;
		 * the apex's SOA is asked for by name. */
		z = route_node(p, q->qkey, q->qkey_len);
		a->aa = true;
		if (z != NULL && z->klen == q->qkey_len && q->qtype == DNS_TYPE_SOA) {
			answer_add(a, ANS_ANSWER, NULL, DNS_TYPE_SOA, DNS_CLASS_IN,
				   PRIVATE_SOA_TTL, ANS_REC_PACKED, 1, p->private_soa,
				   p->private_soa_len);
			return;
		}
		/* The apex, or a name with records (of another type): NODATA. */
		n = node_find(&p->local, q->qkey, q->qkey_len);
		a->rcode = (z != NULL && z->klen == q->qkey_len) || (n != NULL && n->n_rrsets > 0)
				   ? DNS_RCODE_NOERROR
				   : DNS_RCODE_NXDOMAIN;
		if (z != NULL && (owner = answer_name_from_key(a, z->key, z->klen)) != NULL)
			answer_add(a, ANS_AUTHORITY, owner, DNS_TYPE_SOA, DNS_CLASS_IN,
				   PRIVATE_SOA_TTL, ANS_REC_PACKED, 1, p->private_soa,
				   p->private_soa_len);
		return;
	default:
		a->rcode = DNS_RCODE_REFUSED;
		return;
	}
}

/* ---- the box ---- */

struct tdns_policy_box {
	pthread_mutex_t mu;
	atomic_uint gen;
	struct tdns_policy *cur;
};

enum tdns_status policy_box_new(struct tdns_policy *p, struct tdns_policy_box **out)
{
	struct tdns_policy_box *b = calloc(1, sizeof(*b));

	*out = NULL;
	if (b == NULL) {
		policy_release(p);
		return TDNS_ENOMEM;
	}
	pthread_mutex_init(&b->mu, NULL);
	atomic_init(&b->gen, 1);
	b->cur = p;
	*out = b;
	return TDNS_OK;
}

void policy_box_free(struct tdns_policy_box *b)
{
	if (b == NULL)
		return;
	policy_release(b->cur);
	pthread_mutex_destroy(&b->mu);
	free(b);
}

void policy_box_set(struct tdns_policy_box *b, struct tdns_policy *p)
{
	struct tdns_policy *old;

	pthread_mutex_lock(&b->mu);
	old = b->cur;
	b->cur = p;
	atomic_fetch_add_explicit(&b->gen, 1, memory_order_release);
	pthread_mutex_unlock(&b->mu);
	policy_release(old);
}

const struct tdns_policy *policy_box_get(struct tdns_policy_box *b, unsigned *gen,
					 struct tdns_policy **cur)
{
	unsigned g = atomic_load_explicit(&b->gen, memory_order_acquire);
	struct tdns_policy *old;

	if (g == *gen)
		return *cur;
	pthread_mutex_lock(&b->mu);
	old = *cur;
	*cur = policy_ref(b->cur);
	*gen = atomic_load_explicit(&b->gen, memory_order_relaxed);
	pthread_mutex_unlock(&b->mu);
	policy_release(old);
	return *cur;
}
