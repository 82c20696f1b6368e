/*
 * journal.c - the zones' change history for IXFR (journal.h).
 */
#include "tierdns/journal.h"

#include <stdlib.h>
#include <string.h>

#include "tierdns/dnsproto.h"
#include "tierdns/log.h"
#include "tierdns/name.h"
#include "tierdns/qctx.h"
#include "tierdns/rrset.h"
#include "tierdns/zonedb.h"

#define JKEY_MAX (NAME_KEY_MAX + 5)
#define DIFF_HDR 12

/* Records in the stored format, one after another, and where each starts. */
struct recbuf {
	uint8_t *data;
	size_t len, cap;
	size_t *off;
	size_t n, ncap;
};

struct tracker {
	uint8_t apex[NAME_KEY_MAX];
	size_t apex_len;
	uint32_t old_serial;
	struct recbuf del, add;
	bool oom;
	unsigned depth; /* journal_begin calls nested inside the first */
};

static size_t jkey(const uint8_t *apex, size_t apex_len, uint32_t serial, uint8_t *out)
{
	memcpy(out, apex, apex_len);
	out[apex_len] = 0;
	dns_wr32(out + apex_len + 1, serial);
	return apex_len + 5;
}

static void recbuf_free(struct recbuf *b)
{
	free(b->data);
	free(b->off);
	memset(b, 0, sizeof(*b));
}

static bool recbuf_add(struct recbuf *b, const uint8_t *owner, size_t olen,
		       uint16_t type, uint32_t ttl, const uint8_t *rd, uint16_t rdlen)
{
	size_t need = 1 + olen + 8 + rdlen;
	uint8_t *p;

	if (b->len + need > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;

		while (cap < b->len + need)
			cap *= 2;
		p = realloc(b->data, cap);
		if (p == NULL)
			return false;
		b->data = p;
		b->cap = cap;
	}
	if (b->n == b->ncap) {
		size_t ncap = b->ncap ? b->ncap * 2 : 64;
		size_t *o = realloc(b->off, ncap * sizeof(*o));

		if (o == NULL)
			return false;
		b->off = o;
		b->ncap = ncap;
	}
	b->off[b->n++] = b->len;
	p = b->data + b->len;
	p[0] = (uint8_t)olen;
	memcpy(p + 1, owner, olen);
	p += 1 + olen;
	dns_wr16(p, type);
	dns_wr32(p + 2, ttl);
	dns_wr16(p + 6, rdlen);
	memcpy(p + 8, rd, rdlen);
	b->len += need;
	return true;
}

/* Length of the record at p (well formed: we wrote it). */
static size_t rec_len(const uint8_t *p)
{
	size_t olen = p[0];

	return 1 + olen + 8 + dns_rd16(p + 1 + olen + 6);
}

/* The records of RRset v (and its signatures, when it has any). */
static bool add_rrset(struct recbuf *b, const uint8_t *owner, size_t olen,
		      uint16_t type, const struct tdns_rrset_view *v)
{
	struct tdns_rrset_view sigs;
	const uint8_t *rd;
	uint16_t rdlen;
	size_t pos = 0;

	while (rrset_next(v, &pos, &rd, &rdlen))
		if (!recbuf_add(b, owner, olen, type, v->ttl, rd, rdlen))
			return false;
	if (v->sig_count == 0)
		return true;
	rrset_sigs(v, &sigs);
	pos = 0;
	while (rrset_next(&sigs, &pos, &rd, &rdlen))
		if (!recbuf_add(b, owner, olen, DNS_TYPE_RRSIG, sigs.ttl, rd, rdlen))
			return false;
	return true;
}

static bool add_view(struct recbuf *b, const uint8_t *owner, size_t olen,
		     uint16_t type, const uint8_t *val, size_t vlen)
{
	struct tdns_rrset_view v;

	if (rrset_decode(val, vlen, &v) != TDNS_OK)
		return true; /* not ours to repair: zonedb logs malformed values */
	return add_rrset(b, owner, olen, type, &v);
}

enum tdns_status journal_begin(struct tdns_txn *t, const uint8_t *apex,
			       size_t apex_len)
{
	struct tdns_zone_meta m;
	struct tracker *tr;
	enum tdns_status st;

	if (apex_len > NAME_KEY_MAX)
		return TDNS_EINVAL;
	tr = store_txn_user(t);
	if (tr != NULL) {
		if (tr->apex_len != apex_len || memcmp(tr->apex, apex, apex_len) != 0)
			return TDNS_EINVAL;
		tr->depth++;
		return TDNS_OK;
	}
	st = zonedb_get_meta(t, apex, apex_len, &m);
	if (st == TDNS_ENOTFOUND)
		return TDNS_OK;
	if (st != TDNS_OK)
		return st;
	tr = calloc(1, sizeof(*tr));
	if (tr == NULL)
		return TDNS_ENOMEM;
	memcpy(tr->apex, apex, apex_len);
	tr->apex_len = apex_len;
	tr->old_serial = m.serial;
	store_txn_set_user(t, tr);
	return TDNS_OK;
}

void journal_note(struct tdns_txn *t, const uint8_t *key, size_t klen,
		  uint16_t type, const uint8_t *old, size_t old_len,
		  const uint8_t *new_val, size_t new_len)
{
	struct tracker *tr = store_txn_user(t);
	uint8_t owner[NAME_WIRE_MAX];
	size_t olen;

	if (tr == NULL || tr->oom ||
	    !name_key_is_subdomain(key, klen, tr->apex, tr->apex_len))
		return;
	if (name_key_to_wire(key, klen, owner, &olen) != TDNS_OK)
		return;
	if (old != NULL && !add_view(&tr->del, owner, olen, type, old, old_len))
		tr->oom = true;
	if (new_val != NULL && !add_view(&tr->add, owner, olen, type, new_val, new_len))
		tr->oom = true;
}

bool journal_changed(const struct tdns_txn *t)
{
	const struct tracker *tr = store_txn_user(t);

	return tr != NULL && (tr->oom || tr->del.n > 0 || tr->add.n > 0);
}

/* The records of one list for journal_changes; 1 when cb stopped. */
static int changes_of(const struct recbuf *b, journal_change_cb cb, void *ctx)
{
	size_t i;

	for (i = 0; i < b->n; i++) {
		const uint8_t *p = b->data + b->off[i], *rd;
		size_t olen = p[0];
		uint16_t type = dns_rd16(p + 1 + olen), rdlen = dns_rd16(p + 1 + olen + 6);

		rd = p + 1 + olen + 8;
		/* RRSIG rdata starts with the type covered (RFC 4034 3.1). */
		if (type == DNS_TYPE_RRSIG && rdlen >= 2)
			type = dns_rd16(rd);
		if (cb(ctx, p + 1, olen, type) != 0)
			return 1;
	}
	return 0;
}

enum tdns_status journal_changes(const struct tdns_txn *t, journal_change_cb cb,
				 void *ctx)
{
	const struct tracker *tr = store_txn_user(t);

	if (tr == NULL)
		return TDNS_OK;
	if (tr->oom)
		return TDNS_ENOMEM;
	if (changes_of(&tr->del, cb, ctx) == 0)
		changes_of(&tr->add, cb, ctx);
	return TDNS_OK;
}

bool journal_from(const struct tdns_txn *t, uint32_t *serial)
{
	const struct tracker *tr = store_txn_user(t);

	if (tr == NULL)
		return false;
	*serial = tr->old_serial;
	return true;
}

static int rec_cmp(const void *a, const void *b, void *ctx)
{
	const uint8_t *base = ctx;
	const uint8_t *pa = base + *(const size_t *)a, *pb = base + *(const size_t *)b;
	size_t la = rec_len(pa), lb = rec_len(pb);
	int c = memcmp(pa, pb, la < lb ? la : lb);

	return c != 0 ? c : (la > lb) - (la < lb);
}

/* Remove the records in both lists (unchanged): both sorted, then merged;
 * a removed record's offset becomes SIZE_MAX. */
static void cancel_common(struct recbuf *del, struct recbuf *add)
{
	size_t i = 0, j = 0;
	int c;

	/* (An empty list has no array: qsort_r takes no NULL.) */
	if (del->n > 0)
		qsort_r(del->off, del->n, sizeof(size_t), rec_cmp, del->data);
	if (add->n > 0)
		qsort_r(add->off, add->n, sizeof(size_t), rec_cmp, add->data);
	while (i < del->n && j < add->n) {
		const uint8_t *pa = del->data + del->off[i], *pb = add->data + add->off[j];
		size_t la = rec_len(pa), lb = rec_len(pb);

		c = memcmp(pa, pb, la < lb ? la : lb);
		if (c == 0)
			c = (la > lb) - (la < lb);
		if (c == 0) {
			del->off[i++] = SIZE_MAX;
			add->off[j++] = SIZE_MAX;
		} else if (c < 0) {
			i++;
		} else {
			j++;
		}
	}
}

/* The records of b that cancel_common left. */
static size_t count_left(const struct recbuf *b)
{
	size_t n = 0;

	for (size_t i = 0; i < b->n; i++)
		n += b->off[i] != SIZE_MAX;
	return n;
}

/* The bytes of the records of b that cancel_common left: what put_list
 * writes of it. */
static size_t bytes_left(const struct recbuf *b)
{
	size_t n = 0;

	for (size_t i = 0; i < b->n; i++)
		if (b->off[i] != SIZE_MAX)
			n += rec_len(b->data + b->off[i]);
	return n;
}

/* The apex SOA among the records left, or SIZE_MAX; the count left. */
static size_t find_soa(const struct recbuf *b, const uint8_t *apex_wire,
		       size_t apex_wlen, uint32_t *left)
{
	size_t i, soa = SIZE_MAX;

	*left = 0;
	for (i = 0; i < b->n; i++) {
		const uint8_t *p;

		if (b->off[i] == SIZE_MAX)
			continue;
		(*left)++;
		p = b->data + b->off[i];
		if (p[0] == apex_wlen && memcmp(p + 1, apex_wire, apex_wlen) == 0 &&
		    dns_rd16(p + 1 + apex_wlen) == DNS_TYPE_SOA)
			soa = i;
	}
	return soa;
}

static uint8_t *put_list(uint8_t *p, const struct recbuf *b, size_t first)
{
	size_t i, n;

	n = rec_len(b->data + b->off[first]);
	memcpy(p, b->data + b->off[first], n);
	p += n;
	for (i = 0; i < b->n; i++) {
		if (i == first || b->off[i] == SIZE_MAX)
			continue;
		n = rec_len(b->data + b->off[i]);
		memcpy(p, b->data + b->off[i], n);
		p += n;
	}
	return p;
}

struct entry {
	uint32_t from;
	size_t size;
};

/* Drop diffs, those furthest behind serial first, until the zone's fit in
 * max bytes. */
static enum tdns_status trim(struct tdns_txn *t, const uint8_t *apex, size_t apex_len,
			     uint32_t serial, uint64_t max)
{
	uint8_t pfx[JKEY_MAX], k[JKEY_MAX];
	struct tdns_cursor *c = NULL;
	struct entry *e = NULL, *ne;
	struct tdns_val kv, vv;
	size_t n = 0, cap = 0, total = 0, i, best;
	enum tdns_status st;

	memcpy(pfx, apex, apex_len);
	pfx[apex_len] = 0;
	st = store_cursor_open(t, TDNS_DB_JOURNAL, &c);
	if (st != TDNS_OK)
		goto out;
	for (st = store_cursor_seek(c, pfx, apex_len + 1, &kv, &vv); st == TDNS_OK;
	     st = store_cursor_next(c, &kv, &vv)) {
		if (kv.len != apex_len + 5 || memcmp(kv.data, pfx, apex_len + 1) != 0)
			break;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			ne = realloc(e, cap * sizeof(*e));
			if (ne == NULL) {
				st = TDNS_ENOMEM;
				goto out;
			}
			e = ne;
		}
		e[n].from = dns_rd32(kv.data + apex_len + 1);
		e[n].size = vv.len;
		total += vv.len;
		n++;
	}
	if (st != TDNS_OK && st != TDNS_ENOTFOUND)
		goto out;
	store_cursor_close(c);
	c = NULL;
	st = TDNS_OK;
	while (total > max && n > 0) {
		best = 0;
		for (i = 1; i < n; i++)
			if (serial - e[i].from > serial - e[best].from)
				best = i;
		st = store_del(t, TDNS_DB_JOURNAL, k, jkey(apex, apex_len, e[best].from, k));
		if (st != TDNS_OK)
			goto out;
		total -= e[best].size;
		e[best] = e[--n];
	}
out:
	store_cursor_close(c);
	free(e);
	return st;
}

enum tdns_status journal_end(struct tdns_txn *t, bool keep)
{
	struct tracker *tr = store_txn_user(t);
	uint8_t apex_wire[NAME_WIRE_MAX], k[JKEY_MAX];
	struct tdns_zone_meta m;
	uint64_t max = 0;
	size_t awlen, dsoa, asoa, size;
	uint32_t ndel, nadd;
	uint8_t *val = NULL, *p;
	enum tdns_status st = TDNS_OK;

	if (tr == NULL)
		return TDNS_OK;
	if (tr->depth > 0) {
		tr->depth--;
		return TDNS_OK;
	}
	store_txn_set_user(t, NULL);
	if (!keep || (!tr->oom && tr->del.n == 0 && tr->add.n == 0))
		goto out;
	if (tr->oom) {
		log_warn("journal: out of memory recording a change; the zone's "
			 "journal is emptied (secondaries transfer it whole)");
		st = journal_drop(t, tr->apex, tr->apex_len);
		goto out;
	}
	cancel_common(&tr->del, &tr->add);
	st = name_key_to_wire(tr->apex, tr->apex_len, apex_wire, &awlen);
	if (st != TDNS_OK)
		goto out;
	dsoa = find_soa(&tr->del, apex_wire, awlen, &ndel);
	asoa = find_soa(&tr->add, apex_wire, awlen, &nadd);
	if (ndel == 0 && nadd == 0)
		goto out;
	st = zonedb_get_meta(t, tr->apex, tr->apex_len, &m);
	if (st == TDNS_OK)
		st = zonedb_get_journal_max(t, tr->apex, tr->apex_len, &max);
	if (st != TDNS_OK)
		goto out;
	if (max == 0)
		max = JOURNAL_MAX_BYTES;
	size = DIFF_HDR + bytes_left(&tr->del) + bytes_left(&tr->add);
	if (dsoa == SIZE_MAX || asoa == SIZE_MAX || m.serial == tr->old_serial ||
	    size > max) {
		/* Not expressible as a diff, or larger than the bound. */
		st = journal_drop(t, tr->apex, tr->apex_len);
		goto out;
	}
	val = malloc(size);
	if (val == NULL) {
		st = TDNS_ENOMEM;
		goto out;
	}
	dns_wr32(val, m.serial);
	dns_wr32(val + 4, ndel);
	dns_wr32(val + 8, nadd);
	p = put_list(val + DIFF_HDR, &tr->del, dsoa);
	p = put_list(p, &tr->add, asoa);
	st = store_put(t, TDNS_DB_JOURNAL, k, jkey(tr->apex, tr->apex_len, tr->old_serial, k),
		       val, (size_t)(p - val));
	if (st == TDNS_OK)
		st = trim(t, tr->apex, tr->apex_len, m.serial, max);
out:
	free(val);
	recbuf_free(&tr->del);
	recbuf_free(&tr->add);
	free(tr);
	return st;
}

/* ---- a child's delegation in its parent's journal ---- */

struct journal_cut {
	uint8_t child[NAME_KEY_MAX];
	size_t child_len;
	uint8_t parent[NAME_KEY_MAX];
	size_t parent_len;
	struct recbuf before, after; /* after journal_cut_changed: what differs */
};

/* zonedb_delegation_walk's RRsets into a recbuf. */
static int cut_rrset(void *ctx, const uint8_t *key, size_t klen, uint16_t type,
		     const struct tdns_rrset_view *v)
{
	uint8_t owner[NAME_WIRE_MAX];
	size_t olen;

	if (name_key_to_wire(key, klen, owner, &olen) != TDNS_OK)
		return 0;
	return add_rrset(ctx, owner, olen, type, v) ? 0 : 1;
}

/* What the parent's transfers carry at and below the cut: the child's
 * delegation while the child is held, else the parent's own RRsets there
 * (zonedb_walk of the range skips the DS at the cut, the parent's in both
 * cases). */
static enum tdns_status cut_capture(struct tdns_txn *t, const struct journal_cut *c,
				    struct recbuf *b)
{
	enum tdns_status st;
	int stop = 0;

	st = zonedb_get_meta(t, c->child, c->child_len, NULL);
	if (st == TDNS_OK)
		st = zonedb_delegation_walk(t, c->child, c->child_len, cut_rrset, b, &stop);
	else if (st == TDNS_ENOTFOUND)
		st = zonedb_walk(t, c->child, c->child_len, cut_rrset, b, &stop);
	return st == TDNS_OK && stop != 0 ? TDNS_ENOMEM : st;
}

enum tdns_status journal_cut_take(struct tdns_txn *t, const uint8_t *child,
				  size_t child_len, struct journal_cut **out)
{
	struct journal_cut *c = NULL;
	enum tdns_status st;
	int labels = name_key_labels(child, child_len);

	*out = NULL;
	if (labels < 0 || child_len > NAME_KEY_MAX)
		return TDNS_EINVAL;
	if (labels == 0)
		return TDNS_OK; /* the root has no parent */
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return TDNS_ENOMEM;
	memcpy(c->child, child, child_len);
	c->child_len = child_len;
	st = zonedb_find(t, child, name_key_prefix_len(child, child_len, labels - 1),
			 &c->parent_len, NULL);
	if (st == TDNS_OK) {
		memcpy(c->parent, child, c->parent_len);
		st = cut_capture(t, c, &c->before);
	}
	if (st == TDNS_OK) {
		*out = c;
		return TDNS_OK;
	}
	journal_cut_free(c);
	return st == TDNS_ENOTFOUND ? TDNS_OK : st;
}

enum tdns_status journal_cut_changed(struct tdns_txn *t, struct journal_cut *c,
				     bool *changed)
{
	enum tdns_status st;

	*changed = false;
	if (c == NULL)
		return TDNS_OK;
	recbuf_free(&c->after);
	st = cut_capture(t, c, &c->after);
	if (st != TDNS_OK)
		return st;
	cancel_common(&c->before, &c->after);
	*changed = count_left(&c->before) > 0 || count_left(&c->after) > 0;
	return TDNS_OK;
}

const uint8_t *journal_cut_parent(const struct journal_cut *c, size_t *len)
{
	*len = c->parent_len;
	return c->parent;
}

/* The records of src left by cancel_common, appended to dst. */
static bool recbuf_append(struct recbuf *dst, const struct recbuf *src)
{
	for (size_t i = 0; i < src->n; i++) {
		const uint8_t *p = src->data + src->off[i];
		size_t olen;

		if (src->off[i] == SIZE_MAX)
			continue;
		olen = p[0];
		if (!recbuf_add(dst, p + 1, olen, dns_rd16(p + 1 + olen),
				dns_rd32(p + 1 + olen + 2), p + 1 + olen + 8,
				dns_rd16(p + 1 + olen + 6)))
			return false;
	}
	return true;
}

enum tdns_status journal_cut_note(struct tdns_txn *t, const struct journal_cut *c)
{
	struct tracker *tr = store_txn_user(t);

	if (tr == NULL || tr->apex_len != c->parent_len ||
	    memcmp(tr->apex, c->parent, c->parent_len) != 0)
		return TDNS_EINVAL;
	if (!recbuf_append(&tr->del, &c->before) || !recbuf_append(&tr->add, &c->after))
		tr->oom = true;
	return TDNS_OK;
}

void journal_cut_free(struct journal_cut *c)
{
	if (c == NULL)
		return;
	recbuf_free(&c->before);
	recbuf_free(&c->after);
	free(c);
}

enum tdns_status journal_drop(struct tdns_txn *t, const uint8_t *apex,
			      size_t apex_len)
{
	uint8_t pfx[JKEY_MAX];
	struct tdns_cursor *c = NULL;
	struct tdns_val k;
	enum tdns_status st;

	if (apex_len > NAME_KEY_MAX)
		return TDNS_EINVAL;
	memcpy(pfx, apex, apex_len);
	pfx[apex_len] = 0;
	st = store_cursor_open(t, TDNS_DB_JOURNAL, &c);
	if (st == TDNS_ENOTFOUND)
		return TDNS_OK;
	if (st != TDNS_OK)
		goto out;
	for (st = store_cursor_seek(c, pfx, apex_len + 1, &k, NULL);
	     st == TDNS_OK && k.len == apex_len + 5 &&
	     memcmp(k.data, pfx, apex_len + 1) == 0;
	     st = store_cursor_seek(c, pfx, apex_len + 1, &k, NULL)) {
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

/* One record at d[pos..len): its fields; false when it does not hold. */
static bool rec_parse(const uint8_t *d, size_t len, size_t pos, struct journal_rr *rr,
		      size_t *next)
{
	size_t olen;

	if (pos >= len)
		return false;
	olen = d[pos];
	if (olen == 0 || len - pos < 1 + olen + 8 ||
	    qctx_name_len(d + pos + 1, olen) != olen)
		return false;
	rr->owner = d + pos + 1;
	rr->type = dns_rd16(d + pos + 1 + olen);
	rr->ttl = dns_rd32(d + pos + 1 + olen + 2);
	rr->rd = d + pos + 1 + olen + 6;
	rr->rdlen = dns_rd16(rr->rd);
	if (len - pos - 1 - olen - 8 < rr->rdlen)
		return false;
	*next = pos + 1 + olen + 8 + rr->rdlen;
	return true;
}

enum tdns_status journal_get(struct tdns_txn *t, const uint8_t *apex,
			     size_t apex_len, uint32_t from,
			     struct journal_diff *d)
{
	uint8_t k[JKEY_MAX];
	struct tdns_val v;
	struct journal_rr rr;
	enum tdns_status st;
	size_t pos, next;
	uint64_t n = 0;

	if (apex_len > NAME_KEY_MAX)
		return TDNS_EINVAL;
	st = store_get(t, TDNS_DB_JOURNAL, k, jkey(apex, apex_len, from, k), &v);
	if (st != TDNS_OK)
		return st;
	if (v.len < DIFF_HDR)
		goto bad;
	d->from = from;
	d->to = dns_rd32(v.data);
	d->deleted = dns_rd32(v.data + 4);
	d->added = dns_rd32(v.data + 8);
	d->recs = v.data + DIFF_HDR;
	d->len = v.len - DIFF_HDR;
	for (pos = 0; pos < d->len; pos = next, n++)
		if (!rec_parse(d->recs, d->len, pos, &rr, &next))
			goto bad;
	if (n != (uint64_t)d->deleted + d->added || d->deleted == 0 || d->added == 0)
		goto bad;
	return TDNS_OK;
bad:
	log_err("journal: a malformed diff from serial %u", (unsigned)from);
	return TDNS_EINVAL;
}

int journal_next(const struct journal_diff *d, size_t *pos, struct journal_rr *rr)
{
	size_t next;

	if (!rec_parse(d->recs, d->len, *pos, rr, &next))
		return 0;
	*pos = next;
	return 1;
}
