/*
 * zonedb.c - zones and RRsets on top of store.h.
 *
 * Record keys (name.h) sort a zone into one contiguous range: the apex's
 * RRsets first (the 0x00 after the name key sorts before any label length),
 * then every name below it. A deeper zone held in the same store is a
 * sub-range of that range; walking or clearing a zone seeks past it. The
 * one key of that range that is not the deeper zone's is the DS RRset at
 * its apex: the parent side of the cut (RFC 4035 3.1.4.1) belongs to the
 * parent. So a walk of a zone visits the DS at each deeper apex, and skips
 * the DS at its own apex when its parent zone is held in the store too
 * (without the parent, a DS at the apex is the zone's own data).
 */
#include "tierdns/zonedb.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ldns/ldns.h>

#include <ldns/sha1.h>

#include "tierdns/dnsproto.h"
#include "tierdns/journal.h"
#include "tierdns/qctx.h"
#include "tierdns/log.h"
#include "tierdns/name.h"

#define META_LEN 20
#define ZONE_KEY_MAX (NAME_KEY_MAX + 1)

static size_t zone_key(const uint8_t *apex, size_t apex_len, uint8_t *out)
{
	memcpy(out, apex, apex_len);
	out[apex_len] = 0;
	return apex_len + 1;
}

static enum tdns_status meta_decode(const struct tdns_val *v,
				    struct tdns_zone_meta *m)
{
	if (v->len != META_LEN)
		return TDNS_EINVAL;
	if (m != NULL) {
		m->loaded_at = ((uint64_t)dns_rd32(v->data) << 32) | dns_rd32(v->data + 4);
		m->serial = dns_rd32(v->data + 8);
		m->rrsets = dns_rd32(v->data + 12);
		m->records = dns_rd32(v->data + 16);
	}
	return TDNS_OK;
}

/* LMDB's default key order: bytewise, a prefix before its extensions. */
static int key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

static bool has_prefix(const struct tdns_val *k, const uint8_t *p, size_t plen)
{
	return k->len >= plen && memcmp(k->data, p, plen) == 0;
}

enum tdns_status zonedb_get_meta(struct tdns_txn *t, const uint8_t *apex,
				 size_t apex_len, struct tdns_zone_meta *m)
{
	uint8_t zk[ZONE_KEY_MAX];
	struct tdns_val v;
	enum tdns_status st;

	if (apex_len > NAME_KEY_MAX)
		return TDNS_EINVAL;
	st = store_get(t, TDNS_DB_ZONES, zk, zone_key(apex, apex_len, zk), &v);
	if (st != TDNS_OK)
		return st;
	st = meta_decode(&v, m);
	if (st != TDNS_OK)
		log_err("zonedb: malformed zone metadata (%zu bytes)", v.len);
	return st;
}

enum tdns_status zonedb_find(struct tdns_txn *t, const uint8_t *key, size_t klen,
			     size_t *apex_len, struct tdns_zone_meta *meta)
{
	size_t ends[NAME_KEY_ENDS];
	int l = name_key_ancestors(key, klen, ends);

	if (l < 0)
		return TDNS_EINVAL;
	/* RFC 1034 4.3.2 step 2: the longest ancestor (or the name itself)
	 * that is a zone apex held here. */
	for (; l >= 0; l--) {
		size_t plen = ends[l];
		enum tdns_status st = zonedb_get_meta(t, key, plen, meta);

		if (st == TDNS_OK) {
			*apex_len = plen;
			return TDNS_OK;
		}
		if (st != TDNS_ENOTFOUND)
			return st;
	}
	return TDNS_ENOTFOUND;
}

enum tdns_status zonedb_get_rrset(struct tdns_txn *t, const uint8_t *key,
				  size_t klen, uint16_t type,
				  struct tdns_rrset_view *v)
{
	uint8_t rk[RECORD_KEY_MAX];
	struct tdns_val val;
	enum tdns_status st;

	if (klen > NAME_KEY_MAX)
		return TDNS_EINVAL;
	st = store_get(t, TDNS_DB_RR, rk, name_record_key(key, klen, type, rk), &val);
	if (st != TDNS_OK)
		return st;
	st = rrset_decode(val.data, val.len, v);
	if (st != TDNS_OK)
		log_err("zonedb: malformed RRset value (type %u, %zu bytes)",
			(unsigned)type, val.len);
	return st;
}

/* A cursor seek where "no key at or after the probe" is a result, not an
 * error: *found tells whether a key came back. */
static enum tdns_status seek_any(struct tdns_cursor *c, const uint8_t *probe,
				 size_t plen, struct tdns_val *k, bool *found)
{
	enum tdns_status st = store_cursor_seek(c, probe, plen, k, NULL);

	*found = st == TDNS_OK;
	return st == TDNS_ENOTFOUND ? TDNS_OK : st;
}

enum tdns_status zonedb_name_state(struct tdns_txn *t, const uint8_t *key,
				   size_t klen, unsigned *state)
{
	struct tdns_cursor *c = NULL;
	uint8_t probe[NAME_KEY_MAX + 1];
	struct tdns_val k;
	enum tdns_status st;
	bool found;

	*state = ZONEDB_NAME_NONE;
	if (klen > NAME_KEY_MAX) {
		st = TDNS_EINVAL;
		goto out;
	}
	st = store_cursor_open(t, TDNS_DB_RR, &c);
	if (st != TDNS_OK)
		goto out;
	memcpy(probe, key, klen);
	/* key || 0x00 starts the RRsets at the name itself ... */
	probe[klen] = 0x00;
	st = seek_any(c, probe, klen + 1, &k, &found);
	if (st != TDNS_OK)
		goto out;
	if (found && has_prefix(&k, probe, klen + 1))
		*state |= ZONEDB_NAME_DATA;
	/* ... and key || 0x01 the first possible name below it. */
	probe[klen] = 0x01;
	st = seek_any(c, probe, klen + 1, &k, &found);
	if (st != TDNS_OK)
		goto out;
	if (found && has_prefix(&k, key, klen))
		*state |= ZONEDB_NAME_CHILDREN;
out:
	if (st != TDNS_OK)
		*state = ZONEDB_NAME_NONE;
	store_cursor_close(c);
	return st;
}

enum tdns_status zonedb_name_rrsets(struct tdns_txn *t, const uint8_t *key,
				    size_t klen, zonedb_rrset_cb cb, void *ctx,
				    int *stop)
{
	struct tdns_cursor *c = NULL;
	uint8_t probe[NAME_KEY_MAX + 1];
	struct tdns_val k, v;
	struct tdns_rrset_view view;
	enum tdns_status st;
	int ret = 0;

	if (klen > NAME_KEY_MAX) {
		st = TDNS_EINVAL;
		goto out;
	}
	st = store_cursor_open(t, TDNS_DB_RR, &c);
	if (st != TDNS_OK)
		goto out;
	memcpy(probe, key, klen);
	probe[klen] = 0x00;
	for (st = store_cursor_seek(c, probe, klen + 1, &k, &v); st == TDNS_OK;
	     st = store_cursor_next(c, &k, &v)) {
		uint16_t type;

		if (!has_prefix(&k, probe, klen + 1) || k.len != klen + 3)
			break;
		type = (uint16_t)((k.data[klen + 1] << 8) | k.data[klen + 2]);
		st = rrset_decode(v.data, v.len, &view);
		if (st != TDNS_OK) {
			log_err("zonedb: malformed RRset value (type %u, %zu bytes)",
				(unsigned)type, v.len);
			goto out;
		}
		ret = cb(ctx, type, &view);
		if (ret != 0)
			break;
	}
	/* The end of the database ends the name's RRsets too. */
	if (st == TDNS_ENOTFOUND)
		st = TDNS_OK;
out:
	if (stop != NULL)
		*stop = ret;
	store_cursor_close(c);
	return st;
}

/*
 * The zones strictly below an apex, outermost only (a zone inside another
 * deeper zone lies in that zone's range anyway), in key order. Name keys are
 * copied out (they die with the transaction otherwise).
 */
struct subzones {
	uint8_t (*keys)[NAME_KEY_MAX];
	size_t *lens;
	size_t n;
};

static void subzones_free(struct subzones *z)
{
	free(z->keys);
	free(z->lens);
	memset(z, 0, sizeof(*z));
}

static enum tdns_status subzones_get(struct tdns_txn *t, const uint8_t *apex,
				     size_t apex_len, struct subzones *z)
{
	struct tdns_cursor *c = NULL;
	struct tdns_val k;
	size_t cap = 0;
	enum tdns_status st;

	memset(z, 0, sizeof(*z));
	st = store_cursor_open(t, TDNS_DB_ZONES, &c);
	if (st != TDNS_OK)
		goto out;
	/* Zone keys are apex || 0x00; apex || 0x01 is past the apex itself. */
	{
		uint8_t probe[ZONE_KEY_MAX];

		memcpy(probe, apex, apex_len);
		probe[apex_len] = 0x01;
		st = store_cursor_seek(c, probe, apex_len + 1, &k, NULL);
	}
	for (; st == TDNS_OK; st = store_cursor_next(c, &k, NULL)) {
		size_t len;

		if (!has_prefix(&k, apex, apex_len))
			break;
		if (k.len < 1 || k.len - 1 > NAME_KEY_MAX || k.data[k.len - 1] != 0)
			continue;
		len = k.len - 1;
		if (z->n > 0 && len > z->lens[z->n - 1] &&
		    memcmp(k.data, z->keys[z->n - 1], z->lens[z->n - 1]) == 0)
			continue; /* inside the previous sub-zone */
		if (z->n == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			void *nk = realloc(z->keys, ncap * sizeof(*z->keys));

			if (nk == NULL) {
				st = TDNS_ENOMEM;
				goto out;
			}
			z->keys = nk;
			nk = realloc(z->lens, ncap * sizeof(*z->lens));
			if (nk == NULL) {
				st = TDNS_ENOMEM;
				goto out;
			}
			z->lens = nk;
			cap = ncap;
		}
		memcpy(z->keys[z->n], k.data, len);
		z->lens[z->n] = len;
		z->n++;
	}
	st = st == TDNS_ENOTFOUND ? TDNS_OK : st;
out:
	store_cursor_close(c);
	if (st != TDNS_OK)
		subzones_free(z);
	return st;
}

/* The smallest key greater than every key with prefix p: p with its last
 * byte below 0xff incremented (and the rest dropped). false: no such key. */
static bool prefix_successor(const uint8_t *p, size_t plen, uint8_t *out,
			     size_t *out_len)
{
	while (plen > 0 && p[plen - 1] == 0xff)
		plen--;
	if (plen == 0)
		return false;
	memcpy(out, p, plen);
	out[plen - 1]++;
	*out_len = plen;
	return true;
}

/*
 * Visit every record key of the zone range in key order, seeking past the
 * ranges of deeper zones. fn returns 0 to go on, non-zero to stop (kept in
 * *ret); setting *del deletes the visited entry.
 */
typedef int (*range_fn)(void *ctx, const struct tdns_val *k,
			const struct tdns_val *v, bool *del);

/* Is k the record key of the DS RRset at the apex? */
static bool is_apex_ds(const struct tdns_val *k, size_t apex_len)
{
	return k->len == apex_len + 3 && k->data[apex_len] == 0 &&
	       k->data[apex_len + 1] == 0 && k->data[apex_len + 2] == DNS_TYPE_DS;
}

/* Inlined into both callers, so the walk of the whole range (the cut search
 * of every query) compiles as if there were no starting key. */
static inline __attribute__((always_inline)) enum tdns_status
range_walk_from(struct tdns_txn *t, const uint8_t *apex,
					size_t apex_len, const uint8_t *from,
					size_t from_len, range_fn fn, void *ctx,
					int *ret)
{
	struct tdns_cursor *c = NULL;
	struct subzones sub;
	struct tdns_val k, v;
	size_t ci = 0;
	bool parent_ds = false;
	enum tdns_status st;

	*ret = 0;
	st = subzones_get(t, apex, apex_len, &sub);
	if (st != TDNS_OK)
		return st;
	/* Our apex DS is the parent's when the parent is held here. */
	if (apex_len > 0) {
		size_t plen;

		st = zonedb_find(t, apex, name_key_prefix_len(apex, apex_len,
				 name_key_labels(apex, apex_len) - 1), &plen, NULL);
		if (st != TDNS_OK && st != TDNS_ENOTFOUND)
			goto out;
		parent_ds = st == TDNS_OK;
	}
	st = store_cursor_open(t, TDNS_DB_RR, &c);
	if (st != TDNS_OK)
		goto out;
	if (from != NULL && key_cmp(from, from_len, apex, apex_len) > 0)
		st = store_cursor_seek(c, from, from_len, &k, &v);
	else
		st = store_cursor_seek(c, apex, apex_len, &k, &v);
	while (st == TDNS_OK) {
		if (!has_prefix(&k, apex, apex_len))
			break;
		/* Sub-zones wholly before this key are behind us. */
		while (ci < sub.n && !has_prefix(&k, sub.keys[ci], sub.lens[ci]) &&
		       key_cmp(sub.keys[ci], sub.lens[ci], k.data, k.len) < 0)
			ci++;
		if (ci < sub.n && has_prefix(&k, sub.keys[ci], sub.lens[ci])) {
			uint8_t next[RECORD_KEY_MAX];
			size_t nlen;
			bool del = false;

			/* The DS at the deeper apex is ours (see the top). */
			nlen = name_record_key(sub.keys[ci], sub.lens[ci],
					       DNS_TYPE_DS, next);
			st = store_cursor_seek(c, next, nlen, &k, &v);
			if (st == TDNS_OK && k.len == nlen &&
			    memcmp(k.data, next, nlen) == 0) {
				*ret = fn(ctx, &k, &v, &del);
				if (*ret != 0)
					break;
				if (del && (st = store_cursor_del(c)) != TDNS_OK)
					goto out;
			} else if (st != TDNS_OK && st != TDNS_ENOTFOUND) {
				goto out;
			}
			if (!prefix_successor(sub.keys[ci], sub.lens[ci], next, &nlen))
				break;
			ci++;
			st = store_cursor_seek(c, next, nlen, &k, &v);
			continue;
		}
		bool del = false;

		if (parent_ds && is_apex_ds(&k, apex_len)) {
			st = store_cursor_next(c, &k, &v);
			continue;
		}
		*ret = fn(ctx, &k, &v, &del);
		if (*ret != 0)
			break;
		if (del) {
			st = store_cursor_del(c);
			if (st != TDNS_OK)
				goto out;
		}
		st = store_cursor_next(c, &k, &v);
	}
	if (st == TDNS_ENOTFOUND)
		st = TDNS_OK;
out:
	store_cursor_close(c);
	subzones_free(&sub);
	return st;
}

static enum tdns_status range_walk(struct tdns_txn *t, const uint8_t *apex,
				   size_t apex_len, range_fn fn, void *ctx, int *ret)
{
	return range_walk_from(t, apex, apex_len, NULL, 0, fn, ctx, ret);
}

struct walk_ctx {
	zonedb_walk_cb cb;
	void *ctx;
};

static int walk_one(void *ctx, const struct tdns_val *k, const struct tdns_val *v,
		    bool *del)
{
	struct walk_ctx *w = ctx;
	struct tdns_rrset_view view;
	size_t klen;
	uint16_t type;

	(void)del;
	if (!name_record_key_split(k->data, k->len, &klen, &type) ||
	    rrset_decode(v->data, v->len, &view) != TDNS_OK) {
		log_err("zonedb: skipping a malformed record (%zu-byte key, "
			"%zu-byte value)", k->len, v->len);
		return 0;
	}
	return w->cb(w->ctx, k->data, klen, type, &view);
}

enum tdns_status zonedb_walk(struct tdns_txn *t, const uint8_t *apex,
			     size_t apex_len, zonedb_walk_cb cb, void *ctx,
			     int *stop)
{
	return zonedb_walk_from(t, apex, apex_len, NULL, 0, cb, ctx, stop);
}

enum tdns_status zonedb_walk_from(struct tdns_txn *t, const uint8_t *apex,
				  size_t apex_len, const uint8_t *from,
				  size_t from_len, zonedb_walk_cb cb, void *ctx,
				  int *stop)
{
	struct walk_ctx w = { cb, ctx };
	enum tdns_status st = TDNS_EINVAL;
	int ret = 0;

	if (apex_len <= NAME_KEY_MAX)
		st = range_walk_from(t, apex, apex_len, from, from_len, walk_one, &w,
				     &ret);
	if (stop != NULL)
		*stop = ret;
	return st;
}

/* Sort name keys (qsort). */
static int name_key_qcmp(const void *a, const void *b)
{
	const uint8_t *x = a, *y = b;

	return key_cmp(x + 1, x[0], y + 1, y[0]);
}

/* The delegation to the deeper zone with apex key (zonedb_cut_walk): its
 * NS RRset, then the glue of its names at or below the cut. */
static enum tdns_status delegation_of(struct tdns_txn *t, const uint8_t *key,
				      size_t klen, zonedb_walk_cb cb, void *ctx, int *ret)
{
	static const uint16_t glue_types[] = { DNS_TYPE_A, DNS_TYPE_AAAA };
	/* Each name key prefixed by its length byte, to be sorted whole. */
	uint8_t names[ZONEDB_GLUE_MAX][1 + NAME_KEY_MAX];
	struct tdns_rrset_view ns, v;
	const uint8_t *rd;
	size_t pos = 0, n = 0, nl;
	uint16_t rdlen;
	enum tdns_status st;

	st = zonedb_get_rrset(t, key, klen, DNS_TYPE_NS, &ns);
	if (st == TDNS_ENOTFOUND)
		return TDNS_OK; /* a zone without NS: nothing to delegate to */
	if (st != TDNS_OK)
		return st;
	while (n < ZONEDB_GLUE_MAX && rrset_next(&ns, &pos, &rd, &rdlen)) {
		if (name_key_from_wire(rd, rdlen, names[n] + 1, &nl) == TDNS_OK &&
		    nl >= klen && memcmp(names[n] + 1, key, klen) == 0) {
			names[n][0] = (uint8_t)nl;
			n++;
		}
	}
	ns.sig_count = 0;
	*ret = cb(ctx, key, klen, DNS_TYPE_NS, &ns);
	if (*ret != 0)
		return TDNS_OK;
	qsort(names, n, sizeof(names[0]), name_key_qcmp);
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && name_key_qcmp(names[i - 1], names[i]) == 0)
			continue;
		for (size_t j = 0; j < sizeof(glue_types) / sizeof(glue_types[0]); j++) {
			st = zonedb_get_rrset(t, names[i] + 1, names[i][0], glue_types[j], &v);
			if (st == TDNS_ENOTFOUND)
				continue;
			if (st != TDNS_OK)
				return st;
			v.sig_count = 0;
			*ret = cb(ctx, names[i] + 1, names[i][0], glue_types[j], &v);
			if (*ret != 0)
				return TDNS_OK;
		}
	}
	return TDNS_OK;
}

enum tdns_status zonedb_delegation_walk(struct tdns_txn *t, const uint8_t *child,
					size_t child_len, zonedb_walk_cb cb, void *ctx,
					int *stop)
{
	enum tdns_status st = TDNS_EINVAL;
	int ret = 0;

	if (child_len <= NAME_KEY_MAX)
		st = delegation_of(t, child, child_len, cb, ctx, &ret);
	if (stop != NULL)
		*stop = ret;
	return st;
}

enum tdns_status zonedb_cut_walk(struct tdns_txn *t, const uint8_t *apex,
				 size_t apex_len, zonedb_walk_cb cb, void *ctx,
				 int *stop)
{
	struct subzones sub;
	enum tdns_status st;
	int ret = 0;

	if (apex_len > NAME_KEY_MAX)
		return TDNS_EINVAL;
	st = subzones_get(t, apex, apex_len, &sub);
	for (size_t i = 0; st == TDNS_OK && ret == 0 && i < sub.n; i++)
		st = delegation_of(t, sub.keys[i], sub.lens[i], cb, ctx, &ret);
	subzones_free(&sub);
	if (stop != NULL)
		*stop = ret;
	return st;
}

static void note_deleted(struct tdns_txn *t, const struct tdns_val *k,
			 const struct tdns_val *v);

struct clear_ctx {
	uint32_t rrsets;
	uint32_t records;
	struct tdns_txn *t;
};

static int clear_one(void *ctx, const struct tdns_val *k, const struct tdns_val *v,
		     bool *del)
{
	struct clear_ctx *c = ctx;
	struct tdns_rrset_view view;

	*del = true;
	note_deleted(c->t, k, v);
	c->rrsets++;
	if (rrset_decode(v->data, v->len, &view) == TDNS_OK)
		c->records += view.count;
	return 0;
}

enum tdns_status zonedb_clear(struct tdns_txn *t, const uint8_t *apex,
			      size_t apex_len, uint32_t *rrsets,
			      uint32_t *records)
{
	struct clear_ctx c = { 0, 0, t };
	enum tdns_status st;
	int ret;

	if (apex_len > NAME_KEY_MAX)
		return TDNS_EINVAL;
	st = range_walk(t, apex, apex_len, clear_one, &c, &ret);
	if (st == TDNS_OK)
		st = zonedb_denial_clear(t, apex, apex_len);
	if (rrsets != NULL)
		*rrsets += c.rrsets;
	if (records != NULL)
		*records += c.records;
	return st;
}

struct sweep_ctx {
	zonedb_sweep_cb cb;
	void *ctx;
	struct tdns_txn *t;
};

/* A record (raw key and value) deleted in t, for the journal. */
static void note_deleted(struct tdns_txn *t, const struct tdns_val *k,
			 const struct tdns_val *v)
{
	size_t klen;
	uint16_t type;

	if (store_txn_user(t) != NULL &&
	    name_record_key_split(k->data, k->len, &klen, &type))
		journal_note(t, k->data, klen, type, v->data, v->len, NULL, 0);
}

static int sweep_one(void *ctx, const struct tdns_val *k, const struct tdns_val *v,
		     bool *del)
{
	struct sweep_ctx *sw = ctx;
	int ret = sw->cb(sw->ctx, k->data, k->len, v->data, v->len, del);

	if (*del)
		note_deleted(sw->t, k, v);
	return ret;
}

enum tdns_status zonedb_sweep(struct tdns_txn *t, const uint8_t *apex,
			      size_t apex_len, zonedb_sweep_cb cb, void *ctx)
{
	struct sweep_ctx sw = { cb, ctx, t };
	int ret;

	if (apex_len > NAME_KEY_MAX)
		return TDNS_EINVAL;
	return range_walk(t, apex, apex_len, sweep_one, &sw, &ret);
}

enum tdns_status zonedb_in_deeper_zone(struct tdns_txn *t, const uint8_t *apex,
				       size_t apex_len, const uint8_t *key,
				       size_t klen, bool *deeper)
{
	int from = name_key_labels(apex, apex_len);
	int to = name_key_labels(key, klen);
	enum tdns_status st = TDNS_OK;
	int l;

	*deeper = false;
	if (from < 0 || to < 0 || !name_key_is_subdomain(key, klen, apex, apex_len))
		goto out;
	for (l = from + 1; l <= to; l++) {
		size_t plen = name_key_prefix_len(key, klen, l);

		st = zonedb_get_meta(t, key, plen, NULL);
		if (st == TDNS_OK) {
			*deeper = true;
			goto out;
		}
		if (st != TDNS_ENOTFOUND)
			goto out;
	}
	st = TDNS_OK;
out:
	return st;
}

enum tdns_status zonedb_list(struct tdns_txn *t, zonedb_zone_cb cb, void *ctx,
			     int *stop)
{
	struct tdns_cursor *c = NULL;
	struct tdns_val k, v;
	struct tdns_zone_meta m;
	enum tdns_status st;
	int ret = 0;

	st = store_cursor_open(t, TDNS_DB_ZONES, &c);
	if (st != TDNS_OK)
		goto out;
	for (st = store_cursor_seek(c, NULL, 0, &k, &v); st == TDNS_OK;
	     st = store_cursor_next(c, &k, &v)) {
		if (k.len < 1 || k.len - 1 > NAME_KEY_MAX || k.data[k.len - 1] != 0 ||
		    meta_decode(&v, &m) != TDNS_OK) {
			log_err("zonedb: skipping a malformed zone entry");
			continue;
		}
		ret = cb(ctx, k.data, k.len - 1, &m);
		if (ret != 0)
			break;
	}
	if (st == TDNS_ENOTFOUND)
		st = TDNS_OK;
out:
	if (stop != NULL)
		*stop = ret;
	store_cursor_close(c);
	return st;
}

enum tdns_status zonedb_delete_zone(struct tdns_txn *t, const uint8_t *apex,
				    size_t apex_len)
{
	uint8_t zk[ZONE_KEY_MAX];
	enum tdns_status st;

	if (apex_len > NAME_KEY_MAX)
		return TDNS_EINVAL;
	st = zonedb_get_meta(t, apex, apex_len, NULL);
	if (st != TDNS_OK)
		return st;
	st = zonedb_clear(t, apex, apex_len, NULL, NULL);
	if (st == TDNS_OK)
		st = journal_drop(t, apex, apex_len);
	if (st != TDNS_OK)
		return st;
	return store_del(t, TDNS_DB_ZONES, zk, zone_key(apex, apex_len, zk));
}

enum tdns_status zonedb_put_rrset(struct tdns_txn *t, const uint8_t *key,
				  size_t klen, uint16_t type, const uint8_t *val,
				  size_t vlen)
{
	uint8_t rk[RECORD_KEY_MAX];
	size_t rklen;
	struct tdns_val old;
	enum tdns_status st;

	if (klen > NAME_KEY_MAX)
		return TDNS_EINVAL;
	rklen = name_record_key(key, klen, type, rk);
	if (store_txn_user(t) != NULL) {
		st = store_get(t, TDNS_DB_RR, rk, rklen, &old);
		if (st != TDNS_OK && st != TDNS_ENOTFOUND)
			return st;
		journal_note(t, key, klen, type, st == TDNS_OK ? old.data : NULL,
			     st == TDNS_OK ? old.len : 0, val, vlen);
	}
	return store_put(t, TDNS_DB_RR, rk, rklen, val, vlen);
}

enum tdns_status zonedb_del_rrset(struct tdns_txn *t, const uint8_t *key,
				  size_t klen, uint16_t type)
{
	uint8_t rk[RECORD_KEY_MAX];
	size_t rklen;
	struct tdns_val old;
	enum tdns_status st;

	if (klen > NAME_KEY_MAX)
		return TDNS_EINVAL;
	rklen = name_record_key(key, klen, type, rk);
	if (store_txn_user(t) != NULL) {
		st = store_get(t, TDNS_DB_RR, rk, rklen, &old);
		if (st != TDNS_OK)
			return st;
		journal_note(t, key, klen, type, old.data, old.len, NULL, 0);
	}
	return store_del(t, TDNS_DB_RR, rk, rklen);
}

enum tdns_status zonedb_put_meta(struct tdns_txn *t, const uint8_t *apex,
				 size_t apex_len, const struct tdns_zone_meta *m)
{
	uint8_t zk[ZONE_KEY_MAX];
	uint8_t v[META_LEN];

	if (apex_len > NAME_KEY_MAX)
		return TDNS_EINVAL;
	dns_wr32(v, (uint32_t)(m->loaded_at >> 32));
	dns_wr32(v + 4, (uint32_t)m->loaded_at);
	dns_wr32(v + 8, m->serial);
	dns_wr32(v + 12, m->rrsets);
	dns_wr32(v + 16, m->records);
	return store_put(t, TDNS_DB_ZONES, zk, zone_key(apex, apex_len, zk), v,
			 sizeof(v));
}

/*
 * The zone list cache. Entries are in key order (the zones database's order:
 * apex || 0x00 sorts as apex does), so a candidate apex is found by binary
 * search. The cut flag costs one walk of each zone's range per snapshot
 * change; a zone larger than CUT_SCAN_MAX RRsets is assumed to have cuts
 * rather than walked, so a reload of a huge zone does not stall a worker.
 */
#define CUT_SCAN_MAX 2000000u
#define RR_TYPE_NS 2 /* RFC 1035 3.2.2 */

struct zc_zone {
	uint8_t key[NAME_KEY_MAX];
	size_t len;
	struct tdns_zone_meta meta;
	bool has_cuts;
};

/* The zones' hash index: open addressing, at most half full. The zones
 * come from the operator, so a fixed seed is enough: a query can only
 * probe, and the clusters are the zones' own. */
#define ZC_SEED 0x7a6f6e656c697374ull
#define ZC_SCAN 8 /* up to this many zones, no index: zc_lookup */

struct zonedb_cache {
	struct zc_zone *zones;
	size_t n, cap;
	uint32_t *slot;  /* 1 + the index of a zone in zones, 0: empty */
	size_t mask;     /* slots - 1; 0 while slot is NULL */
	uint64_t txn_id; /* snapshot the list was read from; 0: none */
	bool bypass;     /* the list skipped malformed entries: not used */
};

enum tdns_status zonedb_cache_new(struct zonedb_cache **out)
{
	*out = calloc(1, sizeof(**out));
	return *out != NULL ? TDNS_OK : TDNS_ENOMEM;
}

void zonedb_cache_free(struct zonedb_cache *c)
{
	if (c == NULL)
		return;
	free(c->zones);
	free(c->slot);
	free(c);
}

struct cut_ctx {
	size_t apex_len;
	bool found;
};

static int cut_one(void *ctx, const struct tdns_val *k, const struct tdns_val *v,
		   bool *del)
{
	struct cut_ctx *cc = ctx;
	size_t klen;
	uint16_t type;

	(void)v;
	(void)del;
	/* Malformed keys are skipped here as the answer path never finds them. */
	if (!name_record_key_split(k->data, k->len, &klen, &type))
		return 0;
	if (type == RR_TYPE_NS && klen != cc->apex_len) {
		cc->found = true;
		return 1;
	}
	return 0;
}

static int zc_add(void *ctx, const uint8_t *apex, size_t apex_len,
		  const struct tdns_zone_meta *meta)
{
	struct zonedb_cache *c = ctx;
	struct zc_zone *z;

	if (c->n == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 8;
		void *nz = realloc(c->zones, ncap * sizeof(*c->zones));

		if (nz == NULL)
			return 1;
		c->zones = nz;
		c->cap = ncap;
	}
	z = &c->zones[c->n++];
	memcpy(z->key, apex, apex_len);
	z->len = apex_len;
	z->meta = *meta;
	z->has_cuts = true;
	return 0;
}

static size_t zc_home(const uint8_t *key, size_t klen, size_t mask)
{
	return (size_t)dns_key_hash(ZC_SEED, key, klen) & mask;
}

/* (Re)build c's hash index of its n zones. */
static enum tdns_status zc_index(struct zonedb_cache *c)
{
	size_t slots = 8, i, h;

	while (slots < 2 * c->n)
		slots *= 2;
	if (slots - 1 != c->mask || c->slot == NULL) {
		uint32_t *ns = calloc(slots, sizeof(*ns));

		if (ns == NULL)
			return TDNS_ENOMEM;
		free(c->slot);
		c->slot = ns;
		c->mask = slots - 1;
	} else {
		memset(c->slot, 0, slots * sizeof(*c->slot));
	}
	for (i = 0; i < c->n; i++) {
		for (h = zc_home(c->zones[i].key, c->zones[i].len, c->mask);
		     c->slot[h] != 0; h = (h + 1) & c->mask)
			;
		c->slot[h] = (uint32_t)(i + 1);
	}
	return TDNS_OK;
}

static enum tdns_status zc_refresh(struct zonedb_cache *c, struct tdns_txn *t,
				   uint64_t id)
{
	enum tdns_status st;
	size_t i;
	int ret;

	c->txn_id = 0;
	c->n = 0;
	st = zonedb_list(t, zc_add, c, &ret);
	if (st != TDNS_OK)
		return st;
	if (ret != 0)
		return TDNS_ENOMEM;
	/* A malformed zone entry is skipped by the list but is an error to
	 * zonedb_find: answer such a snapshot as zonedb_find does. */
	c->bypass = c->n != store_count(t, TDNS_DB_ZONES);
	st = c->n > ZC_SCAN ? zc_index(c) : TDNS_OK;
	if (st != TDNS_OK)
		return st;
	for (i = 0; i < c->n && !c->bypass; i++) {
		struct zc_zone *z = &c->zones[i];
		struct cut_ctx cc = { z->len, false };

		if (z->meta.rrsets > CUT_SCAN_MAX)
			continue;
		st = range_walk(t, z->key, z->len, cut_one, &cc, &ret);
		if (st != TDNS_OK)
			return st;
		z->has_cuts = cc.found;
	}
	c->txn_id = id;
	return TDNS_OK;
}

/* Whether c's list is that of snapshot id of t: read from it, or from an
 * earlier one when neither the zones nor their records changed since
 * (store_db_unchanged), which makes it id's list too. The other databases
 * (the cache above all) change at every commit of a resolver. */
static inline bool zc_current(struct zonedb_cache *c, const struct tdns_txn *t,
			      uint64_t id)
{
	if (c->txn_id == id)
		return true;
	if (c->txn_id == 0 || !store_db_unchanged(t, TDNS_DB_ZONES, c->txn_id) ||
	    !store_db_unchanged(t, TDNS_DB_RR, c->txn_id))
		return false;
	c->txn_id = id;
	return true;
}

static const struct zc_zone *zc_lookup(const struct zonedb_cache *c,
				       const uint8_t *key, size_t klen)
{
	size_t h;

	/* A few zones (the usual upper, a resolver's home.arpa.) cost less
	 * than one hash: each compared by its length first. */
	if (c->n <= ZC_SCAN) {
		for (h = 0; h < c->n; h++)
			if (c->zones[h].len == klen && memcmp(c->zones[h].key, key, klen) == 0)
				return &c->zones[h];
		return NULL;
	}
	for (h = zc_home(key, klen, c->mask); c->slot[h] != 0; h = (h + 1) & c->mask) {
		const struct zc_zone *z = &c->zones[c->slot[h] - 1];

		if (z->len == klen && memcmp(z->key, key, klen) == 0)
			return z;
	}
	return NULL;
}

/* Bring c's list to snapshot id of t: kept (zc_current) or read again.
 * Inline: on every query, and kept is the usual case. */
static inline __attribute__((always_inline)) enum tdns_status
zc_sync(struct zonedb_cache *c, struct tdns_txn *t, uint64_t id)
{
	return zc_current(c, t, id) ? TDNS_OK : zc_refresh(c, t, id);
}

/* RFC 1034 4.3.2 step 2 in c's list, as zonedb_find: the zone that is the
 * longest ancestor of key (or key itself), its key length in *apex_len;
 * TDNS_ENOTFOUND, or TDNS_EINVAL for a malformed key. Inline in the
 * lookup (zonedb_cache_find); zonedb_cache_outside calls it through
 * zc_outside_hashed. */
static inline __attribute__((always_inline)) enum tdns_status
zc_enclosing(const struct zonedb_cache *c, const uint8_t *key, size_t klen,
	     size_t *apex_len, const struct zc_zone **zone)
{
	size_t ends[NAME_KEY_ENDS];
	int l = name_key_ancestors(key, klen, ends);

	if (l < 0)
		return TDNS_EINVAL;
	for (; l >= 0; l--) {
		*zone = zc_lookup(c, key, ends[l]);
		if (*zone != NULL) {
			*apex_len = ends[l];
			return TDNS_OK;
		}
	}
	return TDNS_ENOTFOUND;
}

enum tdns_status zonedb_cache_find(struct zonedb_cache *c, struct tdns_txn *t,
				   const uint8_t *key, size_t klen,
				   size_t *apex_len, struct tdns_zone_meta *meta,
				   bool *has_cuts)
{
	uint64_t id = store_txn_id(t);
	const struct zc_zone *z = NULL;
	enum tdns_status st;

	*has_cuts = true;
	if (id == 0)
		return zonedb_find(t, key, klen, apex_len, meta);
	st = zc_sync(c, t, id);
	if (st != TDNS_OK)
		return st;
	if (c->bypass)
		return zonedb_find(t, key, klen, apex_len, meta);
	/* A store without zones (a resolver without static zones, the
	 * common case) encloses nothing. */
	if (c->n == 0)
		return TDNS_ENOTFOUND;
	st = zc_enclosing(c, key, klen, apex_len, &z);
	if (st == TDNS_OK) {
		if (meta != NULL)
			*meta = z->meta;
		*has_cuts = z->has_cuts;
	}
	return st;
}

/* No zone of c (hashed, more than ZC_SCAN) at or above key. Out of line,
 * so that zonedb_cache_outside's usual case (no zones or a few) does not
 * set up the frame of the ancestors. */
static __attribute__((noinline)) bool zc_outside_hashed(const struct zonedb_cache *c,
							 const uint8_t *key, size_t klen)
{
	const struct zc_zone *z;
	size_t apex_len;

	return zc_enclosing(c, key, klen, &apex_len, &z) == TDNS_ENOTFOUND;
}

bool zonedb_cache_outside(struct zonedb_cache *c, struct tdns_txn *t,
			  const uint8_t *key, size_t klen)
{
	uint64_t id = store_txn_id(t);

	if (id == 0 || zc_sync(c, t, id) != TDNS_OK || c->bypass)
		return false;
	if (c->n > ZC_SCAN)
		return zc_outside_hashed(c, key, klen);
	for (size_t i = 0; i < c->n; i++)
		if (name_key_is_subdomain(key, klen, c->zones[i].key, c->zones[i].len))
			return false;
	return true;
}

void zonedb_print_zone(FILE *out, const uint8_t *apex, size_t apex_len,
		       const struct tdns_zone_meta *m)
{
	uint8_t wire[NAME_WIRE_MAX];
	size_t wlen;
	ldns_rdf *rdf = NULL;
	char *name = NULL, when[32];
	time_t at;
	struct tm tm;

	if (apex == NULL) {
		fprintf(out, "%-30s %10s %8s %8s  %s\n", "zone", "serial", "rrsets",
			"records", "loaded");
		return;
	}
	if (name_key_to_wire(apex, apex_len, wire, &wlen) == TDNS_OK)
		rdf = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME, wlen, wire);
	if (rdf != NULL)
		name = ldns_rdf2str(rdf);
	at = (time_t)m->loaded_at;
	if (gmtime_r(&at, &tm) == NULL ||
	    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(when, sizeof(when), "?");
	fprintf(out, "%-30s %10u %8u %8u  %s\n", name != NULL ? name : "?",
		(unsigned)m->serial, (unsigned)m->rrsets, (unsigned)m->records, when);
	free(name);
	ldns_rdf_deep_free(rdf);
}

/* ---- the denial index (zonedb.h) ----------------------------------- */

#define DENIAL_KEY_MAX 511 /* LMDB's default key size limit */

/* apex | 0x00 | chain: the prefix of one chain of one zone. */
static size_t denial_prefix(const uint8_t *apex, size_t apex_len,
			    enum zonedb_chain chain, uint8_t *out)
{
	memcpy(out, apex, apex_len);
	out[apex_len] = 0;
	out[apex_len + 1] = (uint8_t)chain;
	return apex_len + 2;
}

/* The chain's index key for probe (zonedb.h); 0 if it does not fit or
 * the name is not at or below the apex. */
static size_t denial_key(const uint8_t *apex, size_t apex_len,
			 enum zonedb_chain chain, const uint8_t *probe,
			 size_t plen, uint8_t *out)
{
	size_t o = denial_prefix(apex, apex_len, chain, out), pos, i;

	if (chain == ZONEDB_NSEC3) {
		if (o + plen > DENIAL_KEY_MAX)
			return 0;
		for (i = 0; i < plen; i++)
			out[o++] = dns_lower(probe[i]);
		return o;
	}
	if (!name_key_is_subdomain(probe, plen, apex, apex_len))
		return 0;
	for (pos = apex_len; pos < plen;) {
		size_t llen = probe[pos++];

		if (llen > plen - pos || o + 2 * llen + 1 > DENIAL_KEY_MAX)
			return 0;
		for (i = 0; i < llen; i++) {
			uint8_t c = dns_lower(probe[pos + i]);

			if (c <= 1) {
				out[o++] = 1;
				out[o++] = (uint8_t)(c + 1);
			} else {
				out[o++] = c;
			}
		}
		out[o++] = 0;
		pos += llen;
	}
	return o;
}

/* The index key of owner's record in the chain (DENIAL_KEY_MAX bytes);
 * 0 when owner cannot have one (zonedb_put_denial's TDNS_EINVAL). */
static size_t owner_denial_key(const uint8_t *apex, size_t apex_len,
			       enum zonedb_chain chain, const uint8_t *owner,
			       size_t olen, uint8_t *k)
{
	if (apex_len > NAME_KEY_MAX || olen > NAME_KEY_MAX ||
	    !name_key_is_subdomain(owner, olen, apex, apex_len))
		return 0;
	if (chain != ZONEDB_NSEC3)
		return denial_key(apex, apex_len, chain, owner, olen, k);
	/* hash.apex: one label, the whole rest of the key. */
	if (olen == apex_len || (size_t)owner[apex_len] + 1 != olen - apex_len)
		return 0;
	return denial_key(apex, apex_len, chain, owner + apex_len + 1, owner[apex_len], k);
}

enum tdns_status zonedb_put_denial(struct tdns_txn *t, const uint8_t *apex,
				   size_t apex_len, enum zonedb_chain chain,
				   const uint8_t *owner, size_t olen,
				   const uint8_t *val, size_t vlen)
{
	uint8_t k[DENIAL_KEY_MAX];
	uint8_t *buf;
	size_t klen;
	enum tdns_status st;

	klen = owner_denial_key(apex, apex_len, chain, owner, olen, k);
	if (klen == 0)
		return TDNS_EINVAL;
	buf = malloc(1 + olen + vlen);
	if (buf == NULL)
		return TDNS_ENOMEM;
	buf[0] = (uint8_t)olen;
	memcpy(buf + 1, owner, olen);
	memcpy(buf + 1 + olen, val, vlen);
	/* NSEC RRsets are journaled where they are also stored (rr). */
	if (chain == ZONEDB_NSEC3 && store_txn_user(t) != NULL) {
		struct tdns_val old;

		st = store_get(t, TDNS_DB_DNSSEC, k, klen, &old);
		if (st == TDNS_OK && old.len > 1u + old.data[0])
			journal_note(t, owner, olen, DNS_TYPE_NSEC3,
				     old.data + 1 + old.data[0],
				     old.len - 1 - old.data[0], val, vlen);
		else
			journal_note(t, owner, olen, DNS_TYPE_NSEC3, NULL, 0, val, vlen);
	}
	st = store_put(t, TDNS_DB_DNSSEC, k, klen, buf, 1 + olen + vlen);
	free(buf);
	return st;
}

enum tdns_status zonedb_del_denial(struct tdns_txn *t, const uint8_t *apex,
				   size_t apex_len, enum zonedb_chain chain,
				   const uint8_t *owner, size_t olen)
{
	uint8_t k[DENIAL_KEY_MAX];
	struct tdns_val old;
	size_t klen;
	enum tdns_status st;

	klen = owner_denial_key(apex, apex_len, chain, owner, olen, k);
	if (klen == 0)
		return TDNS_EINVAL;
	st = store_get(t, TDNS_DB_DNSSEC, k, klen, &old);
	if (st != TDNS_OK)
		return st;
	/* NSEC RRsets are journaled where they are also stored (rr). */
	if (chain == ZONEDB_NSEC3 && store_txn_user(t) != NULL && old.len > 1u + old.data[0])
		journal_note(t, owner, olen, DNS_TYPE_NSEC3, old.data + 1 + old.data[0],
			     old.len - 1 - old.data[0], NULL, 0);
	return store_del(t, TDNS_DB_DNSSEC, k, klen);
}

/* Split an index value into owner key and RRset view. */
static enum tdns_status denial_decode(const struct tdns_val *v,
				      const uint8_t **owner, size_t *olen,
				      struct tdns_rrset_view *view)
{
	size_t n;

	if (v->len < 1 || (n = v->data[0]) > NAME_KEY_MAX || v->len - 1 < n ||
	    rrset_decode(v->data + 1 + n, v->len - 1 - n, view) != TDNS_OK) {
		log_err("zonedb: malformed denial index value (%zu bytes)", v->len);
		return TDNS_EINVAL;
	}
	*owner = v->data + 1;
	*olen = n;
	return TDNS_OK;
}

enum tdns_status zonedb_denial_find(struct tdns_txn *t, const uint8_t *apex,
				    size_t apex_len, enum zonedb_chain chain,
				    const uint8_t *probe, size_t plen,
				    const uint8_t **owner, size_t *olen,
				    bool *exact, struct tdns_rrset_view *v)
{
	uint8_t key[DENIAL_KEY_MAX], last[NAME_KEY_MAX + 3];
	struct tdns_cursor *c = NULL;
	struct tdns_val k, val;
	size_t klen, pfx;
	enum tdns_status st;

	*exact = false;
	if (apex_len > NAME_KEY_MAX)
		return TDNS_EINVAL;
	klen = denial_key(apex, apex_len, chain, probe, plen, key);
	if (klen == 0)
		return TDNS_EINVAL;
	pfx = apex_len + 2;
	st = store_cursor_open(t, TDNS_DB_DNSSEC, &c);
	if (st != TDNS_OK)
		goto out;
	st = store_cursor_seek_le(c, key, klen, &k, &val);
	if (st != TDNS_OK && st != TDNS_ENOTFOUND)
		goto out;
	if (st == TDNS_ENOTFOUND || !has_prefix(&k, key, pfx)) {
		/* Before the first record: NSEC3 wraps to the last one. */
		if (chain != ZONEDB_NSEC3) {
			st = TDNS_ENOTFOUND;
			goto out;
		}
		denial_prefix(apex, apex_len, chain, last);
		last[pfx] = 0xff;
		st = store_cursor_seek_le(c, last, pfx + 1, &k, &val);
		if (st == TDNS_OK && !has_prefix(&k, key, pfx))
			st = TDNS_ENOTFOUND;
		if (st != TDNS_OK)
			goto out;
	} else {
		*exact = k.len == klen && memcmp(k.data, key, klen) == 0;
	}
	st = denial_decode(&val, owner, olen, v);
out:
	store_cursor_close(c);
	return st;
}

enum tdns_status zonedb_denial_walk(struct tdns_txn *t, const uint8_t *apex,
				    size_t apex_len, enum zonedb_chain chain,
				    zonedb_walk_cb cb, void *ctx, int *stop)
{
	return zonedb_denial_walk_from(t, apex, apex_len, chain, NULL, 0, cb, ctx,
				       stop);
}

enum tdns_status zonedb_denial_walk_from(struct tdns_txn *t, const uint8_t *apex,
					 size_t apex_len, enum zonedb_chain chain,
					 const uint8_t *from, size_t from_len,
					 zonedb_walk_cb cb, void *ctx, int *stop)
{
	uint8_t pfx[NAME_KEY_MAX + 2], fk[DENIAL_KEY_MAX];
	size_t fklen = 0;
	struct tdns_cursor *c = NULL;
	struct tdns_rrset_view view;
	struct tdns_val k, v;
	const uint8_t *owner;
	size_t plen, olen;
	enum tdns_status st;
	int ret = 0;

	if (apex_len > NAME_KEY_MAX) {
		st = TDNS_EINVAL;
		goto out;
	}
	plen = denial_prefix(apex, apex_len, chain, pfx);
	if (from != NULL && name_key_is_subdomain(from, from_len, apex, apex_len) &&
	    from_len > apex_len) {
		if (chain == ZONEDB_NSEC3)
			fklen = (size_t)from[apex_len] + 1 == from_len - apex_len
					? denial_key(apex, apex_len, chain,
						     from + apex_len + 1,
						     from[apex_len], fk)
					: 0;
		else
			fklen = denial_key(apex, apex_len, chain, from, from_len, fk);
	}
	st = store_cursor_open(t, TDNS_DB_DNSSEC, &c);
	if (st != TDNS_OK)
		goto out;
	for (st = fklen > 0 ? store_cursor_seek(c, fk, fklen, &k, &v)
			    : store_cursor_seek(c, pfx, plen, &k, &v);
	     st == TDNS_OK;
	     st = store_cursor_next(c, &k, &v)) {
		if (!has_prefix(&k, pfx, plen))
			break;
		if (denial_decode(&v, &owner, &olen, &view) != TDNS_OK)
			continue;
		ret = cb(ctx, owner, olen,
			 chain == ZONEDB_NSEC3 ? DNS_TYPE_NSEC3 : DNS_TYPE_NSEC,
			 &view);
		if (ret != 0)
			break;
	}
	if (st == TDNS_ENOTFOUND)
		st = TDNS_OK;
out:
	if (stop != NULL)
		*stop = ret;
	store_cursor_close(c);
	return st;
}

enum tdns_status zonedb_denial_clear(struct tdns_txn *t, const uint8_t *apex,
				     size_t apex_len)
{
	uint8_t pfx[NAME_KEY_MAX + 1];
	struct tdns_cursor *c = NULL;
	struct tdns_val k, v;
	enum tdns_status st;

	if (apex_len > NAME_KEY_MAX)
		return TDNS_EINVAL;
	/* apex | 0x00 covers both chains of this zone and no other zone's. */
	memcpy(pfx, apex, apex_len);
	pfx[apex_len] = 0;
	st = store_cursor_open(t, TDNS_DB_DNSSEC, &c);
	if (st != TDNS_OK)
		goto out;
	for (st = store_cursor_seek(c, pfx, apex_len + 1, &k, &v);
	     st == TDNS_OK && has_prefix(&k, pfx, apex_len + 1);
	     st = store_cursor_seek(c, pfx, apex_len + 1, &k, &v)) {
		if (store_txn_user(t) != NULL && k.len > apex_len + 1 &&
		    k.data[apex_len + 1] == ZONEDB_NSEC3 && v.len > 1u + v.data[0])
			journal_note(t, v.data + 1, v.data[0], DNS_TYPE_NSEC3,
				     v.data + 1 + v.data[0], v.len - 1 - v.data[0],
				     NULL, 0);
		st = store_cursor_del(c);
		if (st != TDNS_OK)
			goto out;
	}
	if (st == TDNS_ENOTFOUND || st == TDNS_OK)
		st = TDNS_OK;
out:
	store_cursor_close(c);
	return st;
}

size_t zonedb_base32hex(const uint8_t *in, size_t n, uint8_t *out)
{
	static const char b32[] = "0123456789abcdefghijklmnopqrstuv";
	size_t bit, o = 0;

	/* RFC 4648 7, no padding: every whole group of 5 bits. */
	for (bit = 0; bit + 5 <= n * 8; bit += 5) {
		unsigned v = (unsigned)in[bit / 8] << 8 |
			     (bit / 8 + 1 < n ? in[bit / 8 + 1] : 0);

		out[o++] = (uint8_t)b32[(v >> (11 - bit % 8)) & 0x1f];
	}
	return o;
}

enum tdns_status zonedb_nsec3_hash(uint16_t iterations, const uint8_t *salt,
				   uint8_t salt_len, const uint8_t *key, size_t klen,
				   uint8_t *hash)
{
	uint8_t buf[NAME_WIRE_MAX + 255], h[ZONEDB_NSEC3_HASH + 255];
	size_t wlen;
	uint16_t it;

	/* RFC 5155 5: IH(salt, x, 0) = H(x || salt), then k more rounds over
	 * the previous hash, x the canonical (lower-case) wire name. */
	if (name_key_to_wire(key, klen, buf, &wlen) != TDNS_OK)
		return TDNS_EINVAL;
	memcpy(buf + wlen, salt, salt_len);
	ldns_sha1(buf, (unsigned)(wlen + salt_len), h);
	for (it = 0; it < iterations; it++) {
		memcpy(h + ZONEDB_NSEC3_HASH, salt, salt_len);
		ldns_sha1(h, (unsigned)(ZONEDB_NSEC3_HASH + salt_len), h);
	}
	memcpy(hash, h, ZONEDB_NSEC3_HASH);
	return TDNS_OK;
}

enum tdns_status zonedb_nsec3_label(uint16_t iterations, const uint8_t *salt,
				    uint8_t salt_len, const uint8_t *key,
				    size_t klen, uint8_t *label)
{
	uint8_t h[ZONEDB_NSEC3_HASH];
	enum tdns_status st;

	st = zonedb_nsec3_hash(iterations, salt, salt_len, key, klen, h);
	/* 160 bits: 32 base32hex digits. */
	if (st == TDNS_OK)
		zonedb_base32hex(h, ZONEDB_NSEC3_HASH, label);
	return st;
}

size_t zonedb_soa_serial_at(const uint8_t *rd, size_t rdlen)
{
	size_t a = qctx_name_len(rd, rdlen), b;

	if (a == 0)
		return 0;
	b = qctx_name_len(rd + a, rdlen - a);
	if (b == 0 || rdlen - a - b < 20)
		return 0;
	return a + b;
}

enum tdns_status zonedb_set_serial(struct tdns_txn *t, const uint8_t *apex,
				   size_t apex_len, uint32_t serial)
{
	struct tdns_rrset_view v;
	struct tdns_zone_meta m;
	uint8_t *val = NULL;
	const uint8_t *rd;
	uint16_t rdlen;
	size_t pos = 0, at, vlen;
	enum tdns_status st;

	st = zonedb_get_meta(t, apex, apex_len, &m);
	if (st != TDNS_OK)
		return st;
	st = zonedb_get_rrset(t, apex, apex_len, DNS_TYPE_SOA, &v);
	if (st != TDNS_OK)
		return st;
	if (v.count != 1 || !rrset_next(&v, &pos, &rd, &rdlen) ||
	    (at = zonedb_soa_serial_at(rd, rdlen)) == 0)
		return TDNS_EINVAL;
	/* The value is the header, one record, then the signatures: copy it
	 * (it borrows the map, which the put below may change) and patch. */
	vlen = (size_t)(v.sig_count > 0 ? v.sig_data + v.sig_len - (v.data - RRSET_HDR_LEN)
					: v.data + v.data_len - (v.data - RRSET_HDR_LEN));
	val = malloc(vlen);
	if (val == NULL)
		return TDNS_ENOMEM;
	memcpy(val, v.data - RRSET_HDR_LEN, vlen);
	dns_wr32(val + (size_t)(rd - (v.data - RRSET_HDR_LEN)) + at, serial);
	st = zonedb_put_rrset(t, apex, apex_len, DNS_TYPE_SOA, val, vlen);
	if (st == TDNS_OK) {
		m.serial = serial;
		st = zonedb_put_meta(t, apex, apex_len, &m);
	}
	free(val);
	return st;
}

uint32_t zonedb_next_serial(uint32_t old, enum zonedb_serial_policy policy,
			    uint64_t now)
{
	uint32_t next = old + 1;

	/* RFC 1982: a serial may go forward by less than 2^31. */
	if (policy == ZONEDB_SERIAL_UNIXTIME && (uint32_t)now - old - 1 < 0x7fffffffu)
		next = (uint32_t)now;
	return next;
}

#define POLICY_PREFIX "serial-policy:"
#define REFRESH_PREFIX "secondary-refresh:"
/* A per-zone meta key: a prefix of at most this many bytes, then the apex
 * key. */
#define META_PREFIX_MAX 24
#define META_KEY_MAX (META_PREFIX_MAX + NAME_KEY_MAX)

/* prefix + apex into out (META_KEY_MAX bytes); its length, 0 when the
 * apex key is too long. */
static size_t meta_key(const char *prefix, const uint8_t *apex, size_t apex_len,
		       uint8_t *out)
{
	size_t plen = strlen(prefix);

	if (apex_len > NAME_KEY_MAX || plen > META_PREFIX_MAX)
		return 0;
	memcpy(out, prefix, plen);
	memcpy(out + plen, apex, apex_len);
	return plen + apex_len;
}

static size_t policy_key(const uint8_t *apex, size_t apex_len, uint8_t *out)
{
	return meta_key(POLICY_PREFIX, apex, apex_len, out);
}

enum tdns_status zonedb_put_refreshed(struct tdns_txn *t, const uint8_t *apex,
				      size_t apex_len, uint64_t when)
{
	uint8_t key[META_KEY_MAX], v[8];
	size_t klen = meta_key(REFRESH_PREFIX, apex, apex_len, key);

	if (klen == 0)
		return TDNS_EINVAL;
	dns_wr64(v, when);
	return store_put(t, TDNS_DB_META, key, klen, v, sizeof(v));
}

enum tdns_status zonedb_get_refreshed(struct tdns_txn *t, const uint8_t *apex,
				      size_t apex_len, uint64_t *when)
{
	uint8_t key[META_KEY_MAX];
	size_t klen = meta_key(REFRESH_PREFIX, apex, apex_len, key);
	struct tdns_val v;
	enum tdns_status st;

	if (klen == 0)
		return TDNS_EINVAL;
	st = store_get(t, TDNS_DB_META, key, klen, &v);
	if (st == TDNS_OK && v.len != 8)
		st = TDNS_EINVAL;
	if (st == TDNS_OK)
		*when = dns_rd64(v.data);
	return st;
}

enum tdns_status zonedb_put_zone_policy(struct tdns_txn *t, const uint8_t *apex,
					size_t apex_len, enum zonedb_serial_policy p,
					uint64_t journal_max)
{
	uint8_t key[META_KEY_MAX], v[9];
	size_t klen;
	enum tdns_status st;

	if (apex_len > NAME_KEY_MAX)
		return TDNS_EINVAL;
	klen = policy_key(apex, apex_len, key);
	v[0] = (uint8_t)p;
	dns_wr64(v + 1, journal_max);
	if (p != ZONEDB_SERIAL_ZONE || journal_max > 0)
		return store_put(t, TDNS_DB_META, key, klen, v, journal_max > 0 ? 9 : 1);
	st = store_del(t, TDNS_DB_META, key, klen);
	return st == TDNS_ENOTFOUND ? TDNS_OK : st;
}

/* The zone's recorded policy value (zonedb_put_zone_policy), len 0 when
 * none is. */
static enum tdns_status policy_get(struct tdns_txn *t, const uint8_t *apex,
				   size_t apex_len, struct tdns_val *v)
{
	uint8_t key[META_KEY_MAX];
	enum tdns_status st;

	v->len = 0;
	if (apex_len > NAME_KEY_MAX)
		return TDNS_EINVAL;
	st = store_get(t, TDNS_DB_META, key, policy_key(apex, apex_len, key), v);
	if (st == TDNS_ENOTFOUND) {
		v->len = 0;
		return TDNS_OK;
	}
	return st;
}

enum tdns_status zonedb_get_serial_policy(struct tdns_txn *t, const uint8_t *apex,
					  size_t apex_len, enum zonedb_serial_policy *p)
{
	struct tdns_val v;
	enum tdns_status st = policy_get(t, apex, apex_len, &v);

	*p = st == TDNS_OK && v.len >= 1 && v.data[0] == ZONEDB_SERIAL_UNIXTIME
		     ? ZONEDB_SERIAL_UNIXTIME : ZONEDB_SERIAL_INCREMENT;
	return st;
}

enum tdns_status zonedb_get_journal_max(struct tdns_txn *t, const uint8_t *apex,
					size_t apex_len, uint64_t *journal_max)
{
	struct tdns_val v;
	enum tdns_status st = policy_get(t, apex, apex_len, &v);

	*journal_max = st == TDNS_OK && v.len == 9 ? dns_rd64(v.data + 1) : 0;
	return st;
}

bool zonedb_serial_gt(uint32_t a, uint32_t b)
{
	return a != b && (uint32_t)(a - b) < 0x80000000u;
}
