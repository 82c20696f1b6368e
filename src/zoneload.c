/*
 * zoneload.c - master files into a store and stored RRsets back out
 * (see zoneload.h for the rules).
 *
 * A parsed zone is held as one byte arena (record keys and rdata) and one
 * array of small fixed-size records pointing into it, so a million-record
 * file costs two growing allocations instead of a million. The records are
 * sorted once by (record key, rdata) to find duplicates, then each RRset
 * back into file order; RRsets then go to LMDB in key order, which keeps
 * the B-tree writes on the right-most pages.
 */
#include "tierdns/zoneload.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tierdns/clock.h"
#include "tierdns/journal.h"
#include "tierdns/log.h"
#include "tierdns/msg.h"
#include "tierdns/zonedb.h"

#define RDATA_MAX 65535u
#define PRESENT_MAX (4 * NAME_WIRE_MAX + 2) /* every byte as \DDD, plus "." */

struct zl_rec {
	uint32_t key_off;  /* record key (name.h) in the arena */
	uint32_t rd_off;   /* rdata as loaded */
	uint32_t cmp_off;  /* rdata with names lower-cased, for duplicates */
	uint32_t ttl;
	uint32_t seq;      /* position in the file */
	uint32_t line;
	uint16_t key_len;
	uint16_t rdlen;
	uint16_t type;     /* the RRset's type: for an RRSIG the type covered */
	bool sig;      /* an RRSIG, stored in the tail of the RRset it covers */
	bool dup;      /* a repeat of an earlier record of its RRset */
	uint8_t flags; /* REC_*, on the first record of an RRset while storing */
};

#define REC_OCCLUDED 1u /* the RRset lies in a deeper zone: not stored */
#define REC_SAME 2u     /* the store already holds exactly this RRset */

struct zl_zone {
	char *file;
	char name[PRESENT_MAX];
	uint8_t apex[NAME_KEY_MAX];
	size_t apex_len;
	uint32_t serial;
	uint32_t rrsets, records, occluded;
	struct zl_rec *recs;
	size_t n, cap;
	uint8_t *arena;
	size_t alen, acap;
};

struct tdns_zoneset {
	struct zl_zone **zones;
	size_t n, cap;
	uint8_t *vbuf; /* value encoding buffer, reused */
	size_t vcap;
	bool refuse_old_serial; /* zoneload_refuse_old_serial */
};

void zoneload_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Presentation form of a name key (RFC 1035 5.1 escapes), no allocation. */
static void key_str(const uint8_t *key, size_t klen, char *out, size_t cap)
{
	uint8_t wire[NAME_WIRE_MAX];
	size_t wlen, pos = 0, o = 0;

	if (cap == 0)
		return;
	if (name_key_to_wire(key, klen, wire, &wlen) != TDNS_OK) {
		snprintf(out, cap, "<bad name>");
		return;
	}
	if (wire[0] == 0) {
		snprintf(out, cap, ".");
		return;
	}
	while (wire[pos] != 0 && o + 5 < cap) {
		uint8_t len = wire[pos++], i;

		for (i = 0; i < len && o + 5 < cap; i++) {
			uint8_t c = wire[pos++];

			if (c == '.' || c == '\\' || c == '"' || c == ';' ||
			    c == '(' || c == ')' || c == '$' || c == '@') {
				out[o++] = '\\';
				out[o++] = (char)c;
			} else if (c <= ' ' || c >= 0x7f) {
				o += (size_t)snprintf(out + o, cap - o, "\\%03u", c);
			} else {
				out[o++] = (char)c;
			}
		}
		out[o++] = '.';
	}
	out[o] = '\0';
}

static int key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

/* ---- rdata from ldns ---------------------------------------------------- */

static size_t rr_rdata_len(const ldns_rr *rr)
{
	size_t i, len = 0;

	for (i = 0; i < ldns_rr_rd_count(rr); i++)
		len += ldns_rdf_size(ldns_rr_rdf(rr, i));
	return len;
}

/* True if a domain name in the rdata has upper-case letters. */
static bool rr_needs_canon(const ldns_rr *rr)
{
	size_t i, j;

	for (i = 0; i < ldns_rr_rd_count(rr); i++) {
		const ldns_rdf *f = ldns_rr_rdf(rr, i);
		const uint8_t *d = ldns_rdf_data(f);

		if (ldns_rdf_get_type(f) != LDNS_RDF_TYPE_DNAME)
			continue;
		for (j = 0; j < ldns_rdf_size(f); j++)
			if (d[j] >= 'A' && d[j] <= 'Z')
				return true;
	}
	return false;
}

/* Uncompressed wire rdata; with canon, names lower-cased (RFC 4034 6.2).
 * Label length bytes are at most 63, never an ASCII letter, so lowering
 * every letter byte of a name is safe. out holds rr_rdata_len(rr) bytes. */
static void rr_rdata_write(const ldns_rr *rr, uint8_t *out, bool canon)
{
	size_t i, j, o = 0;

	for (i = 0; i < ldns_rr_rd_count(rr); i++) {
		const ldns_rdf *f = ldns_rr_rdf(rr, i);
		size_t n = ldns_rdf_size(f);

		/* An empty field (CAA 0 issue "") has no data pointer, and
		 * memcpy from NULL is undefined even for 0 bytes. */
		if (n > 0)
			memcpy(out + o, ldns_rdf_data(f), n);
		if (canon && ldns_rdf_get_type(f) == LDNS_RDF_TYPE_DNAME)
			for (j = 0; j < n; j++)
				if (out[o + j] >= 'A' && out[o + j] <= 'Z')
					out[o + j] = (uint8_t)(out[o + j] + 32);
		o += n;
	}
}

size_t zoneload_rdata_len(const ldns_rr *rr)
{
	return rr_rdata_len(rr);
}

void zoneload_rdata_write(const ldns_rr *rr, uint8_t *out)
{
	rr_rdata_write(rr, out, false);
}

/*
 * Whether ldns reads rdata[0..rdlen) back from wire as a record of type,
 * with at least the fields the type requires: 1 yes, 0 no, -1 out of
 * memory. ldns's text parser accepts some rdata (in RFC 3597 "\#" form, or
 * through its leniency) that its wire parser refuses for the type, e.g. a
 * CAA whose tag length runs past the end. Such a record could be stored
 * and served but never dumped in a form that loads again, since ldns
 * checks "\#" rdata of a known type against the type's layout. Its wire
 * parser, for its part, stops where the rdata ends, so it takes an SOA cut
 * after its serial from a primary's transfer; the type's minimum field
 * count (its text parser's rule, msg_rdata_min_fields) refuses that.
 * Opaque types (unknown ones, NULL) always read back, empty or not.
 */
static int rdata_reads_back(uint16_t type, const uint8_t *rdata, size_t rdlen)
{
	ldns_rr *rr = ldns_rr_new();
	uint8_t *buf = malloc(2 + rdlen);
	size_t pos = 0;
	int ok = -1;

	if (rr == NULL || buf == NULL)
		goto out;
	ldns_rr_set_type(rr, (ldns_rr_type)type);
	buf[0] = (uint8_t)(rdlen >> 8);
	buf[1] = (uint8_t)rdlen;
	if (rdlen > 0)
		memcpy(buf + 2, rdata, rdlen);
	ok = ldns_wire2rdf(rr, buf, 2 + rdlen, &pos) == LDNS_STATUS_OK &&
	     pos == 2 + rdlen && ldns_rr_rd_count(rr) >= msg_rdata_min_fields(type);
out:
	free(buf);
	ldns_rr_free(rr);
	return ok;
}

/* RFC 6895 3.1: 0 is reserved, OPT (41) and 128-255 (QTYPEs and meta
 * types such as TSIG, AXFR, ANY) never appear in zone data. */
static bool type_is_data(uint16_t type)
{
	return type != 0 && type != LDNS_RR_TYPE_OPT && (type < 128 || type > 255);
}

void zoneload_key_str(const uint8_t *key, size_t klen, char *out, size_t cap)
{
	key_str(key, klen, out, cap);
}

static void type_str(uint16_t type, char *out, size_t cap)
{
	char *s = ldns_rr_type2str((ldns_rr_type)type);

	snprintf(out, cap, "%s", s != NULL ? s : "?");
	free(s);
}

/* ---- parsing --------------------------------------------------------- */

static void zone_free(struct zl_zone *z)
{
	if (z == NULL)
		return;
	free(z->file);
	free(z->recs);
	free(z->arena);
	free(z);
}

/* Reserve n arena bytes; returns the offset or UINT32_MAX on failure. */
static uint32_t arena_alloc(struct zl_zone *z, size_t n)
{
	size_t off = z->alen;

	if (n > UINT32_MAX - 1 - z->alen)
		return UINT32_MAX;
	if (z->alen + n > z->acap) {
		size_t ncap = z->acap ? z->acap : 65536;
		uint8_t *na;

		while (ncap < z->alen + n)
			ncap *= 2;
		na = realloc(z->arena, ncap);
		if (na == NULL)
			return UINT32_MAX;
		z->arena = na;
		z->acap = ncap;
	}
	z->alen += n;
	return (uint32_t)off;
}

static struct zl_rec *rec_alloc(struct zl_zone *z)
{
	if (z->n == z->cap) {
		size_t ncap = z->cap ? z->cap * 2 : 1024;
		struct zl_rec *nr = realloc(z->recs, ncap * sizeof(*nr));

		if (nr == NULL)
			return NULL;
		z->recs = nr;
		z->cap = ncap;
	}
	return &z->recs[z->n++];
}

/* Append one parsed record. Returns TDNS_OK or an error with err set. */
static enum tdns_status add_parsed(struct zl_zone *z, const ldns_rr *rr,
				   int line, char *err, size_t errlen)
{
	const ldns_rdf *owner = ldns_rr_owner(rr);
	uint16_t type = (uint16_t)ldns_rr_get_type(rr), key_type = type;
	uint8_t key[NAME_KEY_MAX];
	size_t klen, rdlen;
	struct zl_rec *r;
	char tname[32];
	bool canon;

	type_str(type, tname, sizeof(tname));
	if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN) {
		char *cls = ldns_rr_class2str(ldns_rr_get_class(rr));

		zoneload_seterr(err, errlen, "%s:%d: class %s is not supported (only IN)",
		       z->file, line, cls != NULL ? cls : "?");
		free(cls);
		return TDNS_EPARSE;
	}
	if (!type_is_data(type)) {
		zoneload_seterr(err, errlen, "%s:%d: type %s cannot appear in a zone",
		       z->file, line, tname);
		return TDNS_EPARSE;
	}
	if (owner == NULL || !ldns_dname_absolute(owner)) {
		zoneload_seterr(err, errlen, "%s:%d: relative owner name and no $ORIGIN",
		       z->file, line);
		return TDNS_EPARSE;
	}
	if (name_key_from_wire(ldns_rdf_data(owner), ldns_rdf_size(owner), key,
			       &klen) != TDNS_OK) {
		zoneload_seterr(err, errlen, "%s:%d: malformed owner name", z->file, line);
		return TDNS_EPARSE;
	}
	rdlen = rr_rdata_len(rr);
	if (rdlen > RDATA_MAX) {
		zoneload_seterr(err, errlen, "%s:%d: rdata of %zu bytes exceeds 65535",
		       z->file, line, rdlen);
		return TDNS_EPARSE;
	}
	if (type == LDNS_RR_TYPE_SOA) {
		size_t i;

		for (i = 0; i < z->n; i++) {
			if (z->recs[i].type == LDNS_RR_TYPE_SOA && !z->recs[i].sig) {
				zoneload_seterr(err, errlen, "%s:%d: second SOA record (the "
				       "first is on line %u); a file holds one zone",
				       z->file, line, (unsigned)z->recs[i].line);
				return TDNS_EPARSE;
			}
		}
		if (ldns_rr_rd_count(rr) < 3) {
			zoneload_seterr(err, errlen, "%s:%d: malformed SOA", z->file, line);
			return TDNS_EPARSE;
		}
		memcpy(z->apex, key, klen);
		z->apex_len = klen;
		z->serial = ldns_rdf2native_int32(ldns_rr_rdf(rr, 2));
	}
	/* RFC 4034 3.1.1: an RRSIG goes with the RRset of its Type Covered. */
	if (type == LDNS_RR_TYPE_RRSIG) {
		const ldns_rdf *tc = ldns_rr_rdf(rr, 0);

		if (ldns_rr_rd_count(rr) < 9 || tc == NULL ||
		    ldns_rdf_size(tc) != 2) {
			zoneload_seterr(err, errlen, "%s:%d: malformed RRSIG", z->file, line);
			return TDNS_EPARSE;
		}
		key_type = (uint16_t)(ldns_rdf_data(tc)[0] << 8 |
				      ldns_rdf_data(tc)[1]);
	}
	r = rec_alloc(z);
	if (r == NULL)
		goto nomem;
	canon = rr_needs_canon(rr);
	r->key_off = arena_alloc(z, klen + 3);
	if (r->key_off == UINT32_MAX)
		goto nomem;
	r->key_len = (uint16_t)name_record_key(key, klen, key_type,
					       z->arena + r->key_off);
	r->rd_off = arena_alloc(z, rdlen);
	if (r->rd_off == UINT32_MAX)
		goto nomem;
	rr_rdata_write(rr, z->arena + r->rd_off, false);
	switch (rdata_reads_back(type, z->arena + r->rd_off, rdlen)) {
	case 1:
		break;
	case 0:
		zoneload_seterr(err, errlen, "%s:%d: rdata does not have the layout of "
		       "type %s", z->file, line, tname);
		return TDNS_EPARSE;
	default:
		goto nomem;
	}
	r->cmp_off = r->rd_off;
	if (canon) {
		r->cmp_off = arena_alloc(z, rdlen);
		if (r->cmp_off == UINT32_MAX)
			goto nomem;
		rr_rdata_write(rr, z->arena + r->cmp_off, true);
	}
	r->rdlen = (uint16_t)rdlen;
	r->type = key_type;
	r->sig = type == LDNS_RR_TYPE_RRSIG;
	r->ttl = ldns_rr_ttl(rr);
	r->seq = (uint32_t)(z->n - 1);
	r->line = (uint32_t)line;
	r->dup = false;
	r->flags = 0;
	return TDNS_OK;
nomem:
	zoneload_seterr(err, errlen, "%s:%d: out of memory", z->file, line);
	return TDNS_ENOMEM;
}

static int cmp_key_rdata(const void *a, const void *b, void *ctx)
{
	const struct zl_rec *x = a, *y = b;
	const uint8_t *arena = ctx;
	int c;

	c = key_cmp(arena + x->key_off, x->key_len, arena + y->key_off, y->key_len);
	if (c != 0)
		return c;
	if (x->sig != y->sig)
		return x->sig ? 1 : -1;
	c = key_cmp(arena + x->cmp_off, x->rdlen, arena + y->cmp_off, y->rdlen);
	if (c != 0)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int cmp_seq(const void *a, const void *b)
{
	const struct zl_rec *x = a, *y = b;

	if (x->sig != y->sig)
		return x->sig ? 1 : -1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static bool same_key(const struct zl_zone *z, const struct zl_rec *a,
		     const struct zl_rec *b)
{
	return a->key_len == b->key_len &&
	       memcmp(z->arena + a->key_off, z->arena + b->key_off, a->key_len) == 0;
}

/* Length of the RRset starting at recs[i]. */
static size_t group_end(const struct zl_zone *z, size_t i)
{
	size_t j = i + 1;

	while (j < z->n && same_key(z, &z->recs[i], &z->recs[j]))
		j++;
	return j;
}

/*
 * One TTL per RRset (RFC 2181 5.2) for the records recs[i..j) (the data of
 * an RRset or its signatures): the lowest, with a warning when they
 * differed. More than 65535 records is an error.
 */
static enum tdns_status settle_ttl(struct zl_zone *z, size_t i, size_t j,
				   char *err, size_t errlen)
{
	char owner[PRESENT_MAX], tname[32];
	uint32_t ttl;
	size_t k;

	if (i == j)
		return TDNS_OK;
	ttl = z->recs[i].ttl;
	for (k = i; k < j; k++)
		if (!z->recs[k].dup && z->recs[k].ttl < ttl)
			ttl = z->recs[k].ttl;
	for (k = i; k < j; k++) {
		if (z->recs[k].dup || z->recs[k].ttl == ttl)
			continue;
		key_str(z->arena + z->recs[i].key_off, z->recs[i].key_len - 3u,
			owner, sizeof(owner));
		type_str(z->recs[i].type, tname, sizeof(tname));
		log_warn("%s:%u: TTL %u differs within the %s %s %s; using the "
			 "lowest, %u (RFC 2181 5.2)", z->file,
			 (unsigned)z->recs[k].line, (unsigned)z->recs[k].ttl,
			 z->recs[i].sig ? "signatures of the RRset" : "RRset",
			 owner, tname, (unsigned)ttl);
		break;
	}
	for (k = i; k < j; k++)
		z->recs[k].ttl = ttl;
	if (j - i > UINT16_MAX) {
		key_str(z->arena + z->recs[i].key_off, z->recs[i].key_len - 3u,
			owner, sizeof(owner));
		zoneload_seterr(err, errlen, "%s:%u: more than 65535 records in the "
		       "RRset %s", z->file, (unsigned)z->recs[j - 1].line, owner);
		return TDNS_EPARSE;
	}
	return TDNS_OK;
}

/*
 * After the whole file is read: the zone rules that need every record, then
 * sort into RRsets in key order, drop duplicates, settle TTLs.
 */
static enum tdns_status finish_zone(struct zl_zone *z, char *err, size_t errlen)
{
	size_t i, j, w, name_start;
	char owner[PRESENT_MAX], tname[32];

	if (z->apex_len == 0 && z->n > 0) {
		bool have_soa = false;

		for (i = 0; i < z->n && !have_soa; i++)
			have_soa = z->recs[i].type == LDNS_RR_TYPE_SOA &&
				   !z->recs[i].sig;
		if (!have_soa) {
			zoneload_seterr(err, errlen, "%s: no SOA record (a zone needs one "
			       "at its apex)", z->file);
			return TDNS_EPARSE;
		}
	}
	if (z->n == 0) {
		zoneload_seterr(err, errlen, "%s: no records (a zone needs an SOA)", z->file);
		return TDNS_EPARSE;
	}
	key_str(z->apex, z->apex_len, z->name, sizeof(z->name));
	/* In file order, so the first offending line is the one reported. */
	for (i = 0; i < z->n; i++) {
		const struct zl_rec *r = &z->recs[i];

		if ((size_t)r->key_len - 3 < z->apex_len ||
		    memcmp(z->arena + r->key_off, z->apex, z->apex_len) != 0) {
			key_str(z->arena + r->key_off, r->key_len - 3u, owner,
				sizeof(owner));
			zoneload_seterr(err, errlen, "%s:%u: %s is outside the zone %s "
			       "(the owner of the SOA)", z->file, (unsigned)r->line,
			       owner, z->name);
			return TDNS_EPARSE;
		}
	}
	qsort_r(z->recs, z->n, sizeof(*z->recs), cmp_key_rdata, z->arena);
	z->rrsets = 0;
	z->records = 0;
	for (i = 0, w = 0; i < z->n; i = j) {
		size_t k, sig;

		j = group_end(z, i);
		/* Equal rdata sorts adjacent, earliest first: keep that one. */
		for (k = i + 1; k < j; k++) {
			const struct zl_rec *p = &z->recs[k - 1], *r = &z->recs[k];

			if (p->sig == r->sig && p->rdlen == r->rdlen &&
			    memcmp(z->arena + p->cmp_off, z->arena + r->cmp_off,
				   r->rdlen) == 0)
				z->recs[k].dup = true;
		}
		/* File order, the records before their signatures. */
		qsort(z->recs + i, j - i, sizeof(*z->recs), cmp_seq);
		for (sig = i; sig < j && !z->recs[sig].sig; sig++)
			;
		if (sig == i) {
			/* Nothing to attach them to: a signed zone never has
			 * these, and a validator could not use them. */
			key_str(z->arena + z->recs[i].key_off,
				z->recs[i].key_len - 3u, owner, sizeof(owner));
			type_str(z->recs[i].type, tname, sizeof(tname));
			log_warn("%s:%u: RRSIG for %s %s, which has no such RRset; "
				 "not stored", z->file, (unsigned)z->recs[i].line,
				 owner, tname);
			continue;
		}
		if (settle_ttl(z, i, sig, err, errlen) != TDNS_OK ||
		    settle_ttl(z, sig, j, err, errlen) != TDNS_OK)
			return TDNS_EPARSE;
		z->rrsets++;
		for (k = i; k < j; k++) {
			z->records += z->recs[k].dup ? 0u : 1u;
			z->recs[w++] = z->recs[k];
		}
	}
	z->n = w;
	/* RFC 1034 3.6.2, RFC 2181 10.1: a CNAME is alone at its name (RRSIG
	 * and NSEC aside, RFC 4035 2.5) and there is only one. */
	for (name_start = 0; name_start < z->n; name_start = i) {
		const struct zl_rec *cname = NULL, *other = NULL;
		size_t cnames = 0;
		uint16_t nlen = z->recs[name_start].key_len;

		for (i = name_start; i < z->n; i++) {
			const struct zl_rec *r = &z->recs[i];

			if (r->key_len != nlen ||
			    memcmp(z->arena + r->key_off,
				   z->arena + z->recs[name_start].key_off,
				   nlen - 3u) != 0)
				break;
			if (r->dup || r->sig)
				continue;
			if (r->type == LDNS_RR_TYPE_CNAME) {
				if (cname == NULL)
					cname = r;
				cnames++;
			} else if (r->type != LDNS_RR_TYPE_NSEC && other == NULL) {
				other = r;
			}
		}
		if (cname == NULL)
			continue;
		key_str(z->arena + cname->key_off, cname->key_len - 3u, owner,
			sizeof(owner));
		if (cnames > 1) {
			zoneload_seterr(err, errlen, "%s:%u: more than one CNAME at %s",
			       z->file, (unsigned)z->recs[name_start].line, owner);
			return TDNS_EPARSE;
		}
		if (other != NULL) {
			type_str(other->type, tname, sizeof(tname));
			zoneload_seterr(err, errlen, "%s:%u: CNAME at %s next to other data "
			       "(%s on line %u); a CNAME must be alone at its name",
			       z->file, (unsigned)cname->line, owner, tname,
			       (unsigned)other->line);
			return TDNS_EPARSE;
		}
	}
	return TDNS_OK;
}

static enum tdns_status set_add_zone(struct tdns_zoneset *zs, struct zl_zone *z,
				     char *err, size_t errlen)
{
	size_t i;

	for (i = 0; i < zs->n; i++) {
		if (zs->zones[i]->apex_len == z->apex_len &&
		    memcmp(zs->zones[i]->apex, z->apex, z->apex_len) == 0) {
			zoneload_seterr(err, errlen, "%s: zone %s is already given by %s",
			       z->file, z->name, zs->zones[i]->file);
			return TDNS_EEXIST;
		}
	}
	if (zs->n == zs->cap) {
		size_t ncap = zs->cap ? zs->cap * 2 : 4;
		struct zl_zone **nz = realloc(zs->zones, ncap * sizeof(*nz));

		if (nz == NULL) {
			zoneload_seterr(err, errlen, "%s: out of memory", z->file);
			return TDNS_ENOMEM;
		}
		zs->zones = nz;
		zs->cap = ncap;
	}
	zs->zones[zs->n++] = z;
	return TDNS_OK;
}

/*
 * Without $ORIGIN, ldns would make relative names relative to the root, a
 * silent misreading. We start ldns off with a sentinel origin instead and
 * take the SOA owner as the origin once it is seen (as NSD takes the zone
 * name): relative names in the SOA's rdata are moved onto the apex, a
 * relative name before the SOA is an error.
 */
#define NO_ORIGIN "no-origin.tierdns.invalid."

/* The length of name's part in front of suffix, or -1 if it does not end
 * in suffix at a label boundary. */
static long relative_part(const ldns_rdf *name, const ldns_rdf *suffix)
{
	size_t n = ldns_rdf_size(name), sn = ldns_rdf_size(suffix), pos = 0;
	const uint8_t *d = ldns_rdf_data(name);

	if (ldns_rdf_get_type(name) != LDNS_RDF_TYPE_DNAME || n < sn ||
	    memcmp(d + n - sn, ldns_rdf_data(suffix), sn) != 0)
		return -1;
	while (pos < n - sn && d[pos] != 0)
		pos += 1 + (size_t)d[pos];
	return pos == n - sn ? (long)pos : -1;
}

static enum tdns_status no_origin_fixup(struct zl_zone *z, ldns_rr *rr,
					const ldns_rdf *sentinel, ldns_rdf **origin,
					bool *have_origin, int line, char *err,
					size_t errlen)
{
	const ldns_rdf *owner = ldns_rr_owner(rr);
	bool soa = ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA;
	ldns_rdf *apex = NULL;
	size_t i;

	if (relative_part(owner, sentinel) >= 0) {
		zoneload_seterr(err, errlen, "%s:%d: relative owner name and no $ORIGIN",
		       z->file, line);
		return TDNS_EPARSE;
	}
	for (i = 0; i < ldns_rr_rd_count(rr); i++) {
		ldns_rdf *f = ldns_rr_rdf(rr, i), *nf;
		long rel = relative_part(f, sentinel);
		size_t osz = ldns_rdf_size(owner);
		uint8_t buf[2 * NAME_WIRE_MAX];

		if (rel < 0)
			continue;
		if (!soa) {
			zoneload_seterr(err, errlen, "%s:%d: relative name in rdata before "
			       "the SOA and no $ORIGIN", z->file, line);
			return TDNS_EPARSE;
		}
		if ((size_t)rel + osz > NAME_WIRE_MAX) {
			zoneload_seterr(err, errlen, "%s:%d: name too long", z->file, line);
			return TDNS_EPARSE;
		}
		memcpy(buf, ldns_rdf_data(f), (size_t)rel);
		memcpy(buf + rel, ldns_rdf_data(owner), osz);
		nf = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME, (size_t)rel + osz, buf);
		if (nf == NULL) {
			zoneload_seterr(err, errlen, "%s:%d: out of memory", z->file, line);
			return TDNS_ENOMEM;
		}
		ldns_rdf_deep_free(ldns_rr_set_rdf(rr, nf, i));
	}
	if (soa) {
		apex = ldns_rdf_clone(owner);
		if (apex == NULL) {
			zoneload_seterr(err, errlen, "%s:%d: out of memory", z->file, line);
			return TDNS_ENOMEM;
		}
		ldns_rdf_deep_free(*origin);
		*origin = apex;
		*have_origin = true;
	}
	return TDNS_OK;
}

static enum tdns_status parse_fp(struct tdns_zoneset *zs, FILE *fp,
				 const char *label, char *err, size_t errlen)
{
	struct zl_zone *z = NULL;
	uint32_t default_ttl = ZONELOAD_DEFAULT_TTL;
	ldns_rdf *origin = NULL, *prev = NULL, *sentinel = NULL;
	ldns_rr *rr = NULL;
	bool have_origin = false;
	enum tdns_status st;
	int line = 0;

	z = calloc(1, sizeof(*z));
	sentinel = ldns_dname_new_frm_str(NO_ORIGIN);
	origin = ldns_rdf_clone(sentinel);
	if (z == NULL || sentinel == NULL || origin == NULL ||
	    (z->file = strdup(label)) == NULL) {
		zoneload_seterr(err, errlen, "%s: out of memory", label);
		st = TDNS_ENOMEM;
		goto out;
	}
	for (;;) {
		ldns_status ls = ldns_rr_new_frm_fp_l(&rr, fp, &default_ttl, &origin,
						      &prev, &line);

		switch (ls) {
		case LDNS_STATUS_OK:
			st = TDNS_OK;
			if (!have_origin)
				st = no_origin_fixup(z, rr, sentinel, &origin,
						     &have_origin, line, err, errlen);
			if (st == TDNS_OK)
				st = add_parsed(z, rr, line, err, errlen);
			ldns_rr_free(rr);
			rr = NULL;
			if (st != TDNS_OK)
				goto out;
			break;
		case LDNS_STATUS_SYNTAX_ORIGIN:
			have_origin = true;
			break;
		case LDNS_STATUS_SYNTAX_EMPTY:
		case LDNS_STATUS_SYNTAX_TTL:
			break;
		case LDNS_STATUS_SYNTAX_INCLUDE:
			zoneload_seterr(err, errlen, "%s:%d: $INCLUDE is not supported",
			       label, line);
			st = TDNS_EPARSE;
			goto out;
		default:
			zoneload_seterr(err, errlen, "%s:%d: %s", label, line,
			       ldns_get_errorstr_by_id(ls));
			st = TDNS_EPARSE;
			goto out;
		}
		if (feof(fp))
			break;
		if (ferror(fp)) {
			zoneload_seterr(err, errlen, "%s:%d: read error: %s", label, line,
			       strerror(errno));
			st = TDNS_EIO;
			goto out;
		}
	}
	st = finish_zone(z, err, errlen);
	if (st != TDNS_OK)
		goto out;
	st = set_add_zone(zs, z, err, errlen);
	if (st != TDNS_OK)
		goto out;
	z = NULL;
out:
	ldns_rr_free(rr);
	ldns_rdf_deep_free(origin);
	ldns_rdf_deep_free(prev);
	ldns_rdf_deep_free(sentinel);
	zone_free(z);
	return st;
}

struct tdns_zoneset *zoneload_new(void)
{
	return calloc(1, sizeof(struct tdns_zoneset));
}

void zoneload_refuse_old_serial(struct tdns_zoneset *zs)
{
	zs->refuse_old_serial = true;
}

void zoneload_free(struct tdns_zoneset *zs)
{
	size_t i;

	if (zs == NULL)
		return;
	for (i = 0; i < zs->n; i++)
		zone_free(zs->zones[i]);
	free(zs->zones);
	free(zs->vbuf);
	free(zs);
}

enum tdns_status zoneload_file(struct tdns_zoneset *zs, const char *path,
			       char *err, size_t errlen)
{
	enum tdns_status st;
	FILE *fp;

	fp = fopen(path, "r");
	if (fp == NULL) {
		zoneload_seterr(err, errlen, "%s: %s", path, strerror(errno));
		return TDNS_EIO;
	}
	st = parse_fp(zs, fp, path, err, errlen);
	fclose(fp);
	return st;
}

enum tdns_status zoneload_records(struct tdns_zoneset *zs, zoneload_next_fn next, void *ctx,
				  const char *label, char *err, size_t errlen)
{
	struct zl_zone *z = calloc(1, sizeof(*z));
	ldns_rr *rr = NULL;
	enum tdns_status st = TDNS_OK;
	int n = 0;

	if (z == NULL || (z->file = strdup(label)) == NULL) {
		zoneload_seterr(err, errlen, "%s: out of memory", label);
		st = TDNS_ENOMEM;
		goto out;
	}
	for (;;) {
		if (!next(ctx, &rr)) {
			zoneload_seterr(err, errlen, "%s: record %d cannot be read", label,
					n + 1);
			st = TDNS_EIO;
			goto out;
		}
		if (rr == NULL)
			break;
		st = add_parsed(z, rr, ++n, err, errlen);
		ldns_rr_free(rr);
		rr = NULL;
		if (st != TDNS_OK)
			goto out;
	}
	st = finish_zone(z, err, errlen);
	if (st == TDNS_OK)
		st = set_add_zone(zs, z, err, errlen);
	if (st == TDNS_OK)
		z = NULL;
out:
	ldns_rr_free(rr);
	zone_free(z);
	return st;
}

enum tdns_status zoneload_text(struct tdns_zoneset *zs, const char *text,
			       const char *label, char *err, size_t errlen)
{
	enum tdns_status st;
	FILE *fp;

	/* fmemopen of an empty buffer fails; an empty zone is an error anyway. */
	fp = fmemopen((void *)text, strlen(text) > 0 ? strlen(text) : 1, "r");
	if (fp == NULL) {
		zoneload_seterr(err, errlen, "%s: %s", label, strerror(errno));
		return TDNS_ENOMEM;
	}
	st = parse_fp(zs, fp, label, err, errlen);
	fclose(fp);
	return st;
}

size_t zoneload_count(const struct tdns_zoneset *zs)
{
	return zs->n;
}

void zoneload_info(const struct tdns_zoneset *zs, size_t i,
		   struct zoneload_info *out)
{
	const struct zl_zone *z = zs->zones[i];

	out->name = z->name;
	out->file = z->file;
	out->serial = z->serial;
	out->rrsets = z->rrsets;
	out->records = z->records;
	out->occluded = z->occluded;
}

/* ---- writing --------------------------------------------------------- */

struct apex_list {
	uint8_t (*keys)[NAME_KEY_MAX];
	size_t *lens;
	size_t n, cap;
};

static void apex_list_free(struct apex_list *l)
{
	free(l->keys);
	free(l->lens);
}

static int apex_list_add(struct apex_list *l, const uint8_t *k, size_t len)
{
	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 8;
		void *p = realloc(l->keys, ncap * sizeof(*l->keys));

		if (p == NULL)
			return -1;
		l->keys = p;
		p = realloc(l->lens, ncap * sizeof(*l->lens));
		if (p == NULL)
			return -1;
		l->lens = p;
		l->cap = ncap;
	}
	memcpy(l->keys[l->n], k, len);
	l->lens[l->n] = len;
	l->n++;
	return 0;
}

struct sub_ctx {
	const uint8_t *apex;
	size_t apex_len;
	struct apex_list *list;
};

static int collect_sub(void *ctx, const uint8_t *apex, size_t apex_len,
		       const struct tdns_zone_meta *meta)
{
	struct sub_ctx *c = ctx;

	(void)meta;
	if (apex_len > c->apex_len &&
	    name_key_is_subdomain(apex, apex_len, c->apex, c->apex_len))
		return apex_list_add(c->list, apex, apex_len) == 0 ? 0 : 1;
	return 0;
}

/* Indices sorted by key; used to drop nested apexes. */
static int cmp_apex(const void *a, const void *b, void *ctx)
{
	const struct apex_list *l = ctx;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return key_cmp(l->keys[x], l->lens[x], l->keys[y], l->lens[y]);
}

/* The zones strictly below z (held in the store or being loaded with it),
 * outermost only, in key order, into out. */
static enum tdns_status deeper_zones(struct tdns_zoneset *zs,
				     const struct zl_zone *z, struct tdns_txn *t,
				     struct apex_list *out)
{
	struct apex_list all = { 0 };
	struct sub_ctx c = { z->apex, z->apex_len, &all };
	size_t *idx = NULL, i;
	enum tdns_status st;
	int stop = 0;

	memset(out, 0, sizeof(*out));
	st = zonedb_list(t, collect_sub, &c, &stop);
	if (st != TDNS_OK)
		goto out;
	st = TDNS_ENOMEM;
	if (stop != 0)
		goto out;
	for (i = 0; i < zs->n; i++)
		if (collect_sub(&c, zs->zones[i]->apex, zs->zones[i]->apex_len,
				NULL) != 0)
			goto out;
	if (all.n > 0) {
		idx = malloc(all.n * sizeof(*idx));
		if (idx == NULL)
			goto out;
	}
	for (i = 0; i < all.n; i++)
		idx[i] = i;
	if (all.n > 1)
		qsort_r(idx, all.n, sizeof(*idx), cmp_apex, &all);
	for (i = 0; i < all.n; i++) {
		const uint8_t *k = all.keys[idx[i]];
		size_t len = all.lens[idx[i]];

		if (out->n > 0 &&
		    name_key_is_subdomain(k, len, out->keys[out->n - 1],
					  out->lens[out->n - 1]))
			continue; /* nested in, or equal to, the previous one */
		if (apex_list_add(out, k, len) != 0)
			goto out;
	}
	st = TDNS_OK;
out:
	free(idx);
	apex_list_free(&all);
	if (st != TDNS_OK) {
		apex_list_free(out);
		memset(out, 0, sizeof(*out));
	}
	return st;
}

/* Subtract from the counts of the zone enclosing z (if any). */
static enum tdns_status parent_shrinks(struct tdns_txn *t, const struct zl_zone *z,
				       uint32_t rrsets, uint32_t records)
{
	struct tdns_zone_meta m;
	size_t plen;
	enum tdns_status st;

	st = zonedb_find(t, z->apex, z->apex_len, &plen, &m);
	if (st == TDNS_ENOTFOUND)
		return TDNS_OK;
	if (st != TDNS_OK)
		return st;
	m.rrsets = m.rrsets > rrsets ? m.rrsets - rrsets : 0;
	m.records = m.records > records ? m.records - records : 0;
	return zonedb_put_meta(t, z->apex, plen, &m);
}

/* Encode the RRset recs[i..j) (duplicates left out, signatures in the
 * tail, rrset.h) into zs->vbuf. */
static enum tdns_status encode_group(struct tdns_zoneset *zs, const struct zl_zone *z,
				     size_t i, size_t j, size_t *len)
{
	struct tdns_rrset_enc enc;
	size_t need = 2 * RRSET_HDR_LEN, k; /* the header and the sigs' */
	enum tdns_status st;

	for (k = i; k < j; k++)
		need += 2u + z->recs[k].rdlen;
	if (need > zs->vcap) {
		uint8_t *nb = realloc(zs->vbuf, need);

		if (nb == NULL)
			return TDNS_ENOMEM;
		zs->vbuf = nb;
		zs->vcap = need;
	}
	rrset_enc_init(&enc, zs->vbuf, zs->vcap, z->recs[i].ttl);
	for (k = i; k < j; k++) {
		if (z->recs[k].dup)
			continue;
		/* The records come first, then their signatures (cmp_seq). */
		if (z->recs[k].sig && (k == i || !z->recs[k - 1].sig)) {
			st = rrset_enc_sigs(&enc, z->recs[k].ttl);
			if (st != TDNS_OK)
				return st;
		}
		st = rrset_enc_add(&enc, z->arena + z->recs[k].rd_off, z->recs[k].rdlen);
		if (st != TDNS_OK)
			return st;
	}
	*len = enc.len;
	return TDNS_OK;
}

/*
 * Replacing a zone by difference: the stored range and the new RRsets are
 * both in key order, so one pass over the store decides, per stored RRset,
 * whether it stays as it is (same bytes), is overwritten later (changed) or
 * goes (absent from the new zone, or now inside a deeper zone). A reload of
 * an unchanged million-record zone then writes almost nothing.
 */
struct merge_ctx {
	struct tdns_zoneset *zs;
	struct zl_zone *z;
	size_t gi; /* first record of the next new RRset not yet matched */
	uint32_t old_rrsets, old_records;
	enum tdns_status st;
};

static int merge_one(void *ctx, const uint8_t *rk, size_t rklen,
		     const uint8_t *val, size_t vlen, bool *del)
{
	struct merge_ctx *mc = ctx;
	struct zl_zone *z = mc->z;
	struct tdns_rrset_view view;
	struct zl_rec *g;
	size_t end, len;

	mc->old_rrsets++;
	if (rrset_decode(val, vlen, &view) == TDNS_OK)
		mc->old_records += view.count;
	while (mc->gi < z->n &&
	       key_cmp(z->arena + z->recs[mc->gi].key_off, z->recs[mc->gi].key_len,
		       rk, rklen) < 0)
		mc->gi = group_end(z, mc->gi);
	g = mc->gi < z->n ? &z->recs[mc->gi] : NULL;
	if (g == NULL || (g->flags & REC_OCCLUDED) ||
	    key_cmp(z->arena + g->key_off, g->key_len, rk, rklen) != 0) {
		*del = true;
		return 0;
	}
	end = group_end(z, mc->gi);
	mc->st = encode_group(mc->zs, z, mc->gi, end, &len);
	if (mc->st != TDNS_OK)
		return 1;
	if (len == vlen && memcmp(mc->zs->vbuf, val, len) == 0)
		g->flags |= REC_SAME;
	mc->gi = end;
	return 0;
}

static enum tdns_status apply_zone(struct tdns_zoneset *zs, struct zl_zone *z,
				   struct tdns_txn *t)
{
	struct apex_list sub = { 0 };
	struct merge_ctx mc = { zs, z, 0, 0, 0, TDNS_OK };
	struct tdns_zone_meta m, old;
	bool existed;
	uint32_t from;
	size_t i, j, k, ci = 0, len;
	enum tdns_status st;

	st = zonedb_get_meta(t, z->apex, z->apex_len, &old);
	if (st != TDNS_OK && st != TDNS_ENOTFOUND)
		return st;
	existed = st == TDNS_OK;
	/* The change goes into the zone's journal (journal.h) for IXFR. */
	st = journal_begin(t, z->apex, z->apex_len);
	if (st != TDNS_OK)
		return st;
	st = deeper_zones(zs, z, t, &sub);
	if (st != TDNS_OK)
		goto out;
	/* RRsets at or below a deeper zone are that zone's to hold. */
	for (i = 0; i < z->n; i = j) {
		const uint8_t *rk = z->arena + z->recs[i].key_off;
		size_t rklen = z->recs[i].key_len;

		j = group_end(z, i);
		z->recs[i].flags = 0;
		while (ci < sub.n && !name_key_is_subdomain(rk, rklen, sub.keys[ci],
							     sub.lens[ci]) &&
		       key_cmp(sub.keys[ci], sub.lens[ci], rk, rklen) < 0)
			ci++;
		/* The DS RRset at a deeper zone's apex is ours: it is the
		 * parent side of the cut (RFC 4035 3.1.4.1), and the deeper
		 * zone has none there. */
		if (ci < sub.n && name_key_is_subdomain(rk, rklen, sub.keys[ci],
							sub.lens[ci]) &&
		    !(z->recs[i].type == LDNS_RR_TYPE_DS &&
		      rklen == sub.lens[ci] + 3))
			z->recs[i].flags = REC_OCCLUDED;
	}
	st = zonedb_sweep(t, z->apex, z->apex_len, merge_one, &mc);
	if (st == TDNS_OK)
		st = mc.st;
	if (st != TDNS_OK)
		goto out;
	/* A zone stored for the first time takes over its range from the
	 * closest enclosing zone: what was there (delegation NS, glue) was
	 * that zone's, so its counts shrink. */
	if (!existed && mc.old_rrsets > 0) {
		st = parent_shrinks(t, z, mc.old_rrsets, mc.old_records);
		if (st != TDNS_OK)
			goto out;
	}
	/* The denial index is rewritten whole (it is small next to the zone
	 * and has no per-entry difference to keep). */
	st = zonedb_denial_clear(t, z->apex, z->apex_len);
	if (st != TDNS_OK)
		goto out;
	memset(&m, 0, sizeof(m));
	z->occluded = 0;
	for (i = 0; i < z->n; i = j) {
		const struct zl_rec *r0 = &z->recs[i];
		uint32_t recs = 0;

		j = group_end(z, i);
		for (k = i; k < j; k++)
			recs += z->recs[k].dup ? 0u : 1u;
		if (r0->flags & REC_OCCLUDED) {
			z->occluded += recs;
			/* Our denial chain still runs through the cut. */
			if (r0->type != LDNS_RR_TYPE_NSEC)
				continue;
			st = encode_group(zs, z, i, j, &len);
			if (st == TDNS_OK)
				st = zonedb_put_denial(t, z->apex, z->apex_len,
						       ZONEDB_NSEC,
						       z->arena + r0->key_off,
						       r0->key_len - 3u, zs->vbuf,
						       len);
			if (st != TDNS_OK)
				goto out;
			continue;
		}
		m.rrsets++;
		m.records += recs;
		if ((r0->flags & REC_SAME) && r0->type != LDNS_RR_TYPE_NSEC)
			continue;
		st = encode_group(zs, z, i, j, &len);
		if (st != TDNS_OK)
			goto out;
		/* NSEC3 RRsets go into the index only, NSEC RRsets into both
		 * (zonedb.h). */
		if (r0->type == LDNS_RR_TYPE_NSEC3 || r0->type == LDNS_RR_TYPE_NSEC)
			st = zonedb_put_denial(t, z->apex, z->apex_len,
					       r0->type == LDNS_RR_TYPE_NSEC3
						       ? ZONEDB_NSEC3 : ZONEDB_NSEC,
					       z->arena + r0->key_off,
					       r0->key_len - 3u, zs->vbuf, len);
		if (st == TDNS_EINVAL)
			log_err("%s: an NSEC3 owner must be one label below the "
				"apex %s (RFC 5155 3)", z->file, z->name);
		if (st == TDNS_OK && r0->type != LDNS_RR_TYPE_NSEC3 &&
		    !(r0->flags & REC_SAME))
			st = zonedb_put_rrset(t, z->arena + r0->key_off, r0->key_len - 3u,
					      r0->type, zs->vbuf, len);
		if (st != TDNS_OK)
			goto out;
	}
	if (z->occluded > 0)
		log_info("%s: %u record(s) at or below a deeper zone held in this "
			 "store were not stored (that zone answers for them)",
			 z->file, (unsigned)z->occluded);
	m.loaded_at = clock_now();
	m.serial = z->serial;
	st = zonedb_put_meta(t, z->apex, z->apex_len, &m);
	/* A changed zone whose file kept (or lowered) the serial would look
	 * unchanged to secondaries (RFC 1982): its serial goes up by one. */
	/* (Against the serial before the whole change: an edit that signs
	 * the zone again applies it inside its own journal_begin, having
	 * raised the serial already.) */
	if (st == TDNS_OK && existed && journal_changed(t) &&
	    journal_from(t, &from) && !zonedb_serial_gt(z->serial, from) &&
	    zs->refuse_old_serial) {
		log_err("%s: zone %s changed but its serial %u is not above the "
			"stored %u: not loaded (raise the serial in the file, or "
			"load --force to store it with serial %u)", z->file, z->name,
			(unsigned)z->serial, (unsigned)from, (unsigned)(from + 1));
		st = TDNS_EINVAL;
		goto out;
	}
	if (st == TDNS_OK && existed && journal_changed(t) &&
	    journal_from(t, &from) && !zonedb_serial_gt(z->serial, from)) {
		log_warn("%s: zone %s changed but its serial %u is not above the "
			 "stored %u: stored with serial %u", z->file, z->name,
			 (unsigned)z->serial, (unsigned)from,
			 (unsigned)(from + 1));
		z->serial = from + 1;
		st = zonedb_set_serial(t, z->apex, z->apex_len, z->serial);
	}
	if (st == TDNS_OK)
		st = journal_end(t, true);
out:
	if (st != TDNS_OK)
		journal_end(t, false);
	apex_list_free(&sub);
	return st;
}

enum tdns_status zoneload_apply(struct tdns_zoneset *zs, struct tdns_txn *t)
{
	enum tdns_status st = TDNS_OK;
	size_t i;

	for (i = 0; i < zs->n && st == TDNS_OK; i++)
		st = apply_zone(zs, zs->zones[i], t);
	return st;
}

enum tdns_status zoneload_commit(struct tdns_zoneset *zs, struct tdns_store *s)
{
	struct tdns_txn *t = NULL;
	enum tdns_status st;

	st = store_begin(s, true, &t);
	if (st != TDNS_OK)
		goto out;
	st = zoneload_apply(zs, t);
	if (st != TDNS_OK)
		goto out;
	st = store_commit(t);
	t = NULL;
out:
	store_abort(t);
	return st;
}

enum tdns_status zoneload_string(struct tdns_store *s, const char *text,
				 char *err, size_t errlen)
{
	struct tdns_zoneset *zs = zoneload_new();
	enum tdns_status st;

	if (zs == NULL)
		return TDNS_ENOMEM;
	st = zoneload_text(zs, text, "inline", err, errlen);
	if (st == TDNS_OK) {
		st = zoneload_commit(zs, s);
		if (st != TDNS_OK)
			zoneload_seterr(err, errlen, "inline: cannot store: %s",
			       tdns_strerror(st));
	}
	zoneload_free(zs);
	return st;
}

/* ---- back to ldns ---------------------------------------------------- */

/* ldns takes from wire some rdata that its printer and parser do not agree
 * on: a CAA record with an empty tag (RFC 8659 4.1 wants 1 to 15 letters
 * and digits), printed as a comment in place of the record; an SSHFP
 * record of one octet, printed without its missing fields. A zone file can
 * give both (RFC 3597 "\#" form, or ldns's own leniency), and a dump must
 * load back to the same data, so a record is printed in its type's form
 * only if that text parses back to the same record. */
static bool presentable(const ldns_rr *rr)
{
	char *s = ldns_rr2str(rr);
	ldns_rr *back = NULL;
	bool ok = false;
	size_t n;

	if (s == NULL)
		goto out;
	/* The printed line ends in a newline, which ldns's string parser
	 * takes into the last field of some types (CAA's value). */
	n = strlen(s);
	if (n > 0 && s[n - 1] == '\n')
		s[n - 1] = '\0';
	if (ldns_rr_new_frm_str(&back, s, 0, NULL, NULL) == LDNS_STATUS_OK)
		ok = ldns_rr_compare(rr, back) == 0;
out:
	ldns_rr_free(back);
	free(s);
	return ok;
}

static ldns_rr *rr_from_rdata(const ldns_rdf *owner, uint16_t type, uint32_t ttl,
			      const uint8_t *rdata, uint16_t rdlen)
{
	ldns_rr *rr = NULL, *ret = NULL;
	ldns_rdf *o = NULL;
	uint8_t *buf = NULL;
	size_t pos = 0;

	rr = ldns_rr_new();
	o = ldns_rdf_clone(owner);
	buf = malloc(2 + (size_t)rdlen);
	if (rr == NULL || o == NULL || buf == NULL)
		goto out;
	ldns_rr_set_owner(rr, o);
	o = NULL;
	ldns_rr_set_type(rr, (ldns_rr_type)type);
	ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
	ldns_rr_set_ttl(rr, ttl);
	buf[0] = (uint8_t)(rdlen >> 8);
	buf[1] = (uint8_t)rdlen;
	if (rdlen > 0)
		memcpy(buf + 2, rdata, rdlen);
	if (ldns_wire2rdf(rr, buf, 2 + (size_t)rdlen, &pos) != LDNS_STATUS_OK ||
	    pos != 2 + (size_t)rdlen || !presentable(rr)) {
		/* Keep what we cannot lay out as RFC 3597 unknown data. */
		ldns_rdf *f;

		while (ldns_rr_rd_count(rr) > 0)
			ldns_rdf_deep_free(ldns_rr_pop_rdf(rr));
		if (rdlen > 0) {
			f = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_UNKNOWN, rdlen, rdata);
			if (f == NULL || !ldns_rr_push_rdf(rr, f)) {
				ldns_rdf_deep_free(f);
				goto out;
			}
		}
	}
	ret = rr;
	rr = NULL;
out:
	free(buf);
	ldns_rdf_deep_free(o);
	ldns_rr_free(rr);
	return ret;
}

enum tdns_status zoneload_rrset_to_ldns(const ldns_rdf *owner, uint16_t type,
					const struct tdns_rrset_view *v,
					ldns_rr_list **out)
{
	ldns_rr_list *list = NULL;
	struct tdns_rrset_view sigs;
	const uint8_t *rd;
	uint16_t rdlen;
	size_t pos = 0;
	enum tdns_status st = TDNS_ENOMEM;

	*out = NULL;
	rrset_sigs(v, &sigs);
	list = ldns_rr_list_new();
	if (list == NULL)
		goto out;
	while (rrset_next(v, &pos, &rd, &rdlen)) {
		ldns_rr *rr = rr_from_rdata(owner, type, v->ttl, rd, rdlen);

		if (rr == NULL)
			goto out;
		if (!ldns_rr_list_push_rr(list, rr)) {
			ldns_rr_free(rr);
			goto out;
		}
	}
	for (pos = 0; rrset_next(&sigs, &pos, &rd, &rdlen);) {
		ldns_rr *rr = rr_from_rdata(owner, LDNS_RR_TYPE_RRSIG, sigs.ttl,
					    rd, rdlen);

		if (rr == NULL)
			goto out;
		if (!ldns_rr_list_push_rr(list, rr)) {
			ldns_rr_free(rr);
			goto out;
		}
	}
	*out = list;
	list = NULL;
	st = TDNS_OK;
out:
	ldns_rr_list_deep_free(list);
	return st;
}

static ldns_rdf *key_to_rdf(const uint8_t *key, size_t klen)
{
	uint8_t wire[NAME_WIRE_MAX];
	size_t wlen;

	if (name_key_to_wire(key, klen, wire, &wlen) != TDNS_OK)
		return NULL;
	return ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME, wlen, wire);
}

enum tdns_status zoneload_rrset_key_to_ldns(const uint8_t *key, size_t klen,
					    uint16_t type,
					    const struct tdns_rrset_view *v,
					    ldns_rr_list **out)
{
	ldns_rdf *owner = key_to_rdf(key, klen);
	enum tdns_status st;

	*out = NULL;
	if (owner == NULL)
		return TDNS_EINVAL;
	st = zoneload_rrset_to_ldns(owner, type, v, out);
	ldns_rdf_deep_free(owner);
	return st;
}

static enum tdns_status print_rrset(FILE *out, const uint8_t *key, size_t klen,
				    uint16_t type, const struct tdns_rrset_view *v)
{
	ldns_rr_list *list = NULL;
	enum tdns_status st;

	st = zoneload_rrset_key_to_ldns(key, klen, type, v, &list);
	if (st != TDNS_OK)
		return st;
	ldns_rr_list_print(out, list);
	ldns_rr_list_deep_free(list);
	return ferror(out) ? TDNS_EIO : TDNS_OK;
}

struct dump_ctx {
	FILE *out;
	struct tdns_txn *t;
	const uint8_t *apex;
	size_t apex_len;
	enum tdns_status st;
};

/* The zone's NSEC at the apex of a deeper zone held in the store (the
 * child owns the name in the rr database; ours is in the denial index
 * only): printed so that the dump holds the whole chain. */
static int dump_cut_nsec(void *ctx, const uint8_t *key, size_t klen, uint16_t type,
			 const struct tdns_rrset_view *v)
{
	struct dump_ctx *d = ctx;
	bool deeper = false;

	d->st = zonedb_in_deeper_zone(d->t, d->apex, d->apex_len, key, klen, &deeper);
	if (d->st == TDNS_OK && deeper)
		d->st = print_rrset(d->out, key, klen, type, v);
	return d->st != TDNS_OK;
}

static int dump_one(void *ctx, const uint8_t *key, size_t klen, uint16_t type,
		    const struct tdns_rrset_view *v)
{
	struct dump_ctx *d = ctx;

	if (klen == d->apex_len && type == LDNS_RR_TYPE_SOA)
		return 0; /* printed first */
	d->st = print_rrset(d->out, key, klen, type, v);
	return d->st != TDNS_OK;
}

enum tdns_status zoneload_dump(struct tdns_txn *t, const uint8_t *apex,
			       size_t apex_len, FILE *out)
{
	struct tdns_zone_meta m;
	struct tdns_rrset_view soa;
	struct dump_ctx d = { out, t, apex, apex_len, TDNS_OK };
	char name[PRESENT_MAX];
	enum tdns_status st;

	st = zonedb_get_meta(t, apex, apex_len, &m);
	if (st != TDNS_OK)
		return st;
	key_str(apex, apex_len, name, sizeof(name));
	fprintf(out, "; zone %s serial %u, %u RRsets, %u records\n", name,
		(unsigned)m.serial, (unsigned)m.rrsets, (unsigned)m.records);
	if (zonedb_get_rrset(t, apex, apex_len, LDNS_RR_TYPE_SOA, &soa) == TDNS_OK) {
		st = print_rrset(out, apex, apex_len, LDNS_RR_TYPE_SOA, &soa);
		if (st != TDNS_OK)
			return st;
	}
	st = zonedb_walk(t, apex, apex_len, dump_one, &d, NULL);
	if (st == TDNS_OK && d.st == TDNS_OK)
		st = zonedb_denial_walk(t, apex, apex_len, ZONEDB_NSEC, dump_cut_nsec,
					&d, NULL);
	if (st == TDNS_OK && d.st == TDNS_OK)
		st = zonedb_denial_walk(t, apex, apex_len, ZONEDB_NSEC3, dump_one,
					&d, NULL);
	return st != TDNS_OK ? st : d.st;
}

/* ---- single-record edits ---------------------------------------------- */

enum tdns_status zoneload_bump_serial(struct tdns_txn *t, const uint8_t *apex,
				      size_t apex_len, enum zonedb_serial_policy policy)
{
	struct tdns_zone_meta m;
	enum tdns_status st;

	st = zonedb_get_meta(t, apex, apex_len, &m);
	if (st == TDNS_OK && policy == ZONEDB_SERIAL_ZONE)
		st = zonedb_get_serial_policy(t, apex, apex_len, &policy);
	if (st == TDNS_OK)
		st = zonedb_set_serial(t, apex, apex_len,
				       zonedb_next_serial(m.serial, policy, clock_now()));
	return st;
}

/* The end of an edit by add or delete: the zone's serial raised (bump:
 * unless the edit was of the SOA itself), the journal's diff. */
static enum tdns_status edit_finish(struct tdns_txn *t, const uint8_t *apex,
				    size_t apex_len, bool bump)
{
	enum tdns_status st = TDNS_OK;

	if (bump)
		st = zoneload_bump_serial(t, apex, apex_len, zoneload_serial_policy);
	if (st == TDNS_OK)
		st = journal_end(t, true);
	return st;
}

enum zonedb_serial_policy zoneload_serial_policy = ZONEDB_SERIAL_ZONE;

/* Signatures and the denial chains are a whole-zone product (the signer's):
 * one record changed by hand would leave a chain or a signature that no
 * longer proves anything, so add and delete refuse them. */
static bool is_dnssec_chain_type(uint16_t type)
{
	return type == LDNS_RR_TYPE_RRSIG || type == LDNS_RR_TYPE_NSEC ||
	       type == LDNS_RR_TYPE_NSEC3;
}

enum tdns_status zoneload_name_key(const char *name, uint8_t *key, size_t *klen)
{
	ldns_rdf *rdf = NULL, *root = NULL;
	enum tdns_status st = TDNS_EINVAL;

	if (ldns_str2rdf_dname(&rdf, name) != LDNS_STATUS_OK)
		goto out;
	if (!ldns_dname_absolute(rdf)) {
		root = ldns_dname_new_frm_str(".");
		if (root == NULL || ldns_dname_cat(rdf, root) != LDNS_STATUS_OK)
			goto out;
	}
	st = name_key_from_wire(ldns_rdf_data(rdf), ldns_rdf_size(rdf), key, klen);
out:
	ldns_rdf_deep_free(rdf);
	ldns_rdf_deep_free(root);
	return st;
}

/* Parse "OWNER [TTL] [IN] TYPE RDATA"; relative names are made absolute. */
/* Relative names are completed with this origin and then refused: in one
 * record outside a zone file there is no $ORIGIN, and completing them with
 * the root would put "www" into the root zone. (.invalid: RFC 6761 6.4.) */
#define RELATIVE_MARK "tierdns-relative-name.invalid."

/* The first name of rr (owner, then rdata) that was written relative, or
 * NULL. */
static const ldns_rdf *relative_name(const ldns_rr *rr, const ldns_rdf *mark)
{
	const ldns_rdf *d;
	size_t i;

	d = ldns_rr_owner(rr);
	if (ldns_dname_compare(d, mark) == 0 || ldns_dname_is_subdomain(d, mark))
		return d;
	for (i = 0; i < ldns_rr_rd_count(rr); i++) {
		d = ldns_rr_rdf(rr, i);
		if (ldns_rdf_get_type(d) != LDNS_RDF_TYPE_DNAME)
			continue;
		if (ldns_dname_compare(d, mark) == 0 || ldns_dname_is_subdomain(d, mark))
			return d;
	}
	return NULL;
}

static enum tdns_status parse_rr(const char *text, ldns_rr **rr, char *err,
				 size_t errlen)
{
	ldns_rdf *mark = ldns_dname_new_frm_str(RELATIVE_MARK);
	const ldns_rdf *rel;
	ldns_status ls;

	*rr = NULL;
	if (mark == NULL)
		return TDNS_ENOMEM;
	ls = ldns_rr_new_frm_str(rr, text, ZONELOAD_DEFAULT_TTL, mark, NULL);
	if (ls != LDNS_STATUS_OK) {
		ldns_rdf_deep_free(mark);
		zoneload_seterr(err, errlen, "'%s': %s", text, ldns_get_errorstr_by_id(ls));
		*rr = NULL;
		return TDNS_EPARSE;
	}
	rel = relative_name(*rr, mark);
	ldns_rdf_deep_free(mark);
	if (rel != NULL) {
		zoneload_seterr(err, errlen, "'%s': %s name without a final dot; give every "
		       "name in full, e.g. www.site. (there is no $ORIGIN here)", text,
		       rel == ldns_rr_owner(*rr) ? "an owner" : "a");
		ldns_rr_free(*rr);
		*rr = NULL;
		return TDNS_EINVAL;
	}
	if (ldns_rr_get_class(*rr) != LDNS_RR_CLASS_IN ||
	    !type_is_data((uint16_t)ldns_rr_get_type(*rr))) {
		zoneload_seterr(err, errlen, "'%s': only class IN data types can be stored",
		       text);
		ldns_rr_free(*rr);
		*rr = NULL;
		return TDNS_EINVAL;
	}
	return TDNS_OK;
}

/* Stored rdata of type (names in any case) into out (rdlen bytes) with
 * its names lower-cased, as rr_rdata_write's canon writes it: which bytes
 * are names only the type's layout says; rdata ldns cannot lay out is
 * copied as it is. false: out of memory. */
static bool rdata_canon(uint16_t type, const uint8_t *rd, uint16_t rdlen, uint8_t *out)
{
	ldns_rr *rr = ldns_rr_new();
	uint8_t *buf = malloc(2 + (size_t)rdlen);
	size_t pos = 0;

	if (buf == NULL || rr == NULL) {
		free(buf);
		ldns_rr_free(rr);
		return false;
	}
	ldns_rr_set_type(rr, (ldns_rr_type)type);
	buf[0] = (uint8_t)(rdlen >> 8);
	buf[1] = (uint8_t)rdlen;
	if (rdlen > 0)
		memcpy(buf + 2, rd, rdlen);
	if (ldns_wire2rdf(rr, buf, 2 + (size_t)rdlen, &pos) == LDNS_STATUS_OK &&
	    pos == 2 + (size_t)rdlen && rr_rdata_len(rr) == rdlen)
		rr_rdata_write(rr, out, true);
	else if (rdlen > 0)
		memcpy(out, rd, rdlen);
	free(buf);
	ldns_rr_free(rr);
	return true;
}

/* Compare a stored rdata with a canonical one (names case-insensitive). */
static bool rdata_matches(uint16_t type, const uint8_t *rd, uint16_t rdlen,
			  const uint8_t *canon, size_t clen)
{
	uint8_t *buf;
	bool eq;

	if (rdlen != clen || (buf = malloc(clen > 0 ? clen : 1)) == NULL)
		return false;
	eq = rdata_canon(type, rd, rdlen, buf) && memcmp(buf, canon, clen) == 0;
	free(buf);
	return eq;
}

struct other_ctx {
	uint16_t type;
	uint16_t found;
};

static int find_conflict(void *ctx, uint16_t type, const struct tdns_rrset_view *v)
{
	struct other_ctx *c = ctx;

	(void)v;
	if (type == c->type || type == LDNS_RR_TYPE_RRSIG || type == LDNS_RR_TYPE_NSEC)
		return 0;
	if (c->type == LDNS_RR_TYPE_CNAME || type == LDNS_RR_TYPE_CNAME) {
		c->found = type;
		return 1;
	}
	return 0;
}

enum tdns_status zoneload_add(struct tdns_txn *t, const char *rr_text,
			      char *err, size_t errlen)
{
	ldns_rr *rr = NULL;
	uint8_t key[NAME_KEY_MAX], *val = NULL, *canon = NULL;
	size_t klen, apex_len, rdlen, vcap;
	struct tdns_zone_meta m;
	struct tdns_rrset_view old;
	struct tdns_rrset_enc enc;
	struct other_ctx oc;
	bool have_old, existed;
	uint16_t type;
	char name[PRESENT_MAX], tname[32];
	enum tdns_status st;

	st = parse_rr(rr_text, &rr, err, errlen);
	if (st != TDNS_OK)
		goto out;
	type = (uint16_t)ldns_rr_get_type(rr);
	type_str(type, tname, sizeof(tname));
	if (is_dnssec_chain_type(type)) {
		zoneload_seterr(err, errlen, "%s records are not added one by one: load "
		       "the signed zone file again", tname);
		st = TDNS_EINVAL;
		goto out;
	}
	st = name_key_from_wire(ldns_rdf_data(ldns_rr_owner(rr)),
				ldns_rdf_size(ldns_rr_owner(rr)), key, &klen);
	if (st != TDNS_OK) {
		zoneload_seterr(err, errlen, "'%s': malformed owner name", rr_text);
		goto out;
	}
	key_str(key, klen, name, sizeof(name));
	st = zonedb_find(t, key, klen, &apex_len, &m);
	if (st != TDNS_OK) {
		zoneload_seterr(err, errlen, "%s: %s", name, st == TDNS_ENOTFOUND ?
		       "no zone in the store encloses this name" : tdns_strerror(st));
		goto out;
	}
	st = journal_begin(t, key, apex_len);
	if (st != TDNS_OK)
		goto out;
	rdlen = rr_rdata_len(rr);
	if (rdlen > RDATA_MAX) {
		zoneload_seterr(err, errlen, "%s %s: rdata too long", name, tname);
		st = TDNS_EINVAL;
		goto out;
	}
	if (type == LDNS_RR_TYPE_SOA && klen != apex_len) {
		zoneload_seterr(err, errlen, "%s: an SOA belongs at a zone apex", name);
		st = TDNS_EINVAL;
		goto out;
	}
	oc.type = type;
	oc.found = 0;
	st = zonedb_name_rrsets(t, key, klen, find_conflict, &oc, NULL);
	if (st != TDNS_OK) {
		zoneload_seterr(err, errlen, "%s: %s", name, tdns_strerror(st));
		goto out;
	}
	if (oc.found != 0) {
		type_str(oc.found, tname, sizeof(tname));
		zoneload_seterr(err, errlen, "%s: a CNAME cannot coexist with other data "
		       "(%s is there; RFC 1034 3.6.2)", name, tname);
		st = TDNS_EINVAL;
		goto out;
	}
	canon = malloc(rdlen > 0 ? rdlen : 1);
	if (canon == NULL) {
		st = TDNS_ENOMEM;
		goto out;
	}
	rr_rdata_write(rr, canon, true);
	st = zonedb_get_rrset(t, key, klen, type, &old);
	if (st != TDNS_OK && st != TDNS_ENOTFOUND)
		goto out;
	/* The SOA RRset is replaced: there is exactly one SOA. CNAME too:
	 * a name has at most one (RFC 2181 10.1). */
	existed = st == TDNS_OK;
	have_old = existed && type != LDNS_RR_TYPE_SOA &&
		   type != LDNS_RR_TYPE_CNAME;
	vcap = RRSET_HDR_LEN + 2 + rdlen + (have_old ? old.data_len : 0);
	val = malloc(vcap);
	if (val == NULL) {
		st = TDNS_ENOMEM;
		goto out;
	}
	rrset_enc_init(&enc, val, vcap, ldns_rr_ttl(rr));
	if (have_old) {
		const uint8_t *rd;
		uint16_t len;
		size_t pos = 0;

		while (rrset_next(&old, &pos, &rd, &len)) {
			if (rdata_matches(type, rd, len, canon, rdlen)) {
				zoneload_seterr(err, errlen, "%s %s: this record is already "
				       "present", name, tname);
				st = TDNS_EEXIST;
				goto out;
			}
			st = rrset_enc_add(&enc, rd, len);
			if (st != TDNS_OK)
				goto out;
		}
		if (old.ttl != ldns_rr_ttl(rr))
			log_warn("%s %s: RRset TTL changes from %u to %u "
				 "(one TTL per RRset, RFC 2181 5.2)", name, tname,
				 (unsigned)old.ttl, (unsigned)ldns_rr_ttl(rr));
	}
	rr_rdata_write(rr, canon, false);
	st = rrset_enc_add(&enc, canon, (uint16_t)rdlen);
	if (st != TDNS_OK)
		goto out;
	/* The records counted include the signatures (apply_zone), which
	 * the changed RRset loses. */
	if (existed)
		m.records -= m.records >= (uint32_t)old.count + old.sig_count
				     ? (uint32_t)old.count + old.sig_count : m.records;
	else
		m.rrsets++;
	st = zonedb_put_rrset(t, key, klen, type, enc.buf, enc.len);
	if (st != TDNS_OK)
		goto out;
	m.records += enc.count;
	if (type == LDNS_RR_TYPE_SOA)
		m.serial = ldns_rdf2native_int32(ldns_rr_rdf(rr, 2));
	st = zonedb_put_meta(t, key, apex_len, &m);
	if (st == TDNS_OK)
		st = edit_finish(t, key, apex_len, type != LDNS_RR_TYPE_SOA);
out:
	if (st != TDNS_OK)
		journal_end(t, false);
	free(val);
	free(canon);
	ldns_rr_free(rr);
	return st;
}

enum tdns_status zoneload_delete(struct tdns_txn *t, const char *name,
				 const char *type_name, const char *rdata,
				 char *err, size_t errlen)
{
	uint8_t key[NAME_KEY_MAX], *val = NULL, *canon = NULL;
	size_t klen, apex_len, clen = 0;
	struct tdns_zone_meta m;
	struct tdns_rrset_view old;
	struct tdns_rrset_enc enc;
	ldns_rr *rr = NULL;
	char *text = NULL, pname[PRESENT_MAX];
	uint16_t type;
	enum tdns_status st;

	if (zoneload_name_key(name, key, &klen) != TDNS_OK) {
		zoneload_seterr(err, errlen, "'%s' is not a valid domain name", name);
		st = TDNS_EINVAL;
		goto out;
	}
	key_str(key, klen, pname, sizeof(pname));
	type = (uint16_t)ldns_get_rr_type_by_name(type_name);
	if (type == 0) {
		zoneload_seterr(err, errlen, "'%s' is not an RR type", type_name);
		st = TDNS_EINVAL;
		goto out;
	}
	if (is_dnssec_chain_type(type)) {
		zoneload_seterr(err, errlen, "%s records are not deleted one by one: load "
		       "the signed zone file again", type_name);
		st = TDNS_EINVAL;
		goto out;
	}
	st = zonedb_find(t, key, klen, &apex_len, &m);
	if (st != TDNS_OK) {
		zoneload_seterr(err, errlen, "%s: %s", pname, st == TDNS_ENOTFOUND ?
		       "no zone in the store encloses this name" : tdns_strerror(st));
		goto out;
	}
	if (type == LDNS_RR_TYPE_SOA && klen == apex_len) {
		zoneload_seterr(err, errlen, "%s: the SOA of a zone cannot be deleted", pname);
		st = TDNS_EINVAL;
		goto out;
	}
	st = journal_begin(t, key, apex_len);
	if (st != TDNS_OK)
		goto out;
	st = zonedb_get_rrset(t, key, klen, type, &old);
	if (st != TDNS_OK) {
		zoneload_seterr(err, errlen, "%s %s: %s", pname, type_name,
		       st == TDNS_ENOTFOUND ? "no such RRset" : tdns_strerror(st));
		goto out;
	}
	if (rdata == NULL) {
		m.rrsets -= m.rrsets > 0 ? 1 : 0;
		m.records -= m.records >= (uint32_t)old.count + old.sig_count
				     ? (uint32_t)old.count + old.sig_count : m.records;
		st = zonedb_del_rrset(t, key, klen, type);
		if (st == TDNS_OK)
			st = zonedb_put_meta(t, key, apex_len, &m);
		if (st == TDNS_OK)
			st = edit_finish(t, key, apex_len, true);
		goto out;
	}
	if (asprintf(&text, "%s 0 IN %s %s", pname, type_name, rdata) < 0) {
		text = NULL;
		st = TDNS_ENOMEM;
		goto out;
	}
	st = parse_rr(text, &rr, err, errlen);
	if (st != TDNS_OK)
		goto out;
	clen = rr_rdata_len(rr);
	canon = malloc(clen > 0 ? clen : 1);
	val = malloc(old.data_len + RRSET_HDR_LEN);
	if (canon == NULL || val == NULL) {
		st = TDNS_ENOMEM;
		goto out;
	}
	rr_rdata_write(rr, canon, true);
	rrset_enc_init(&enc, val, old.data_len + RRSET_HDR_LEN, old.ttl);
	{
		const uint8_t *rd;
		uint16_t len;
		size_t pos = 0;
		bool found = false;

		while (rrset_next(&old, &pos, &rd, &len)) {
			if (!found && rdata_matches(type, rd, len, canon, clen)) {
				found = true;
				continue;
			}
			st = rrset_enc_add(&enc, rd, len);
			if (st != TDNS_OK)
				goto out;
		}
		if (!found) {
			zoneload_seterr(err, errlen, "%s %s %s: no such record", pname,
			       type_name, rdata);
			st = TDNS_ENOTFOUND;
			goto out;
		}
	}
	/* One record, and the signatures the RRset loses. */
	m.records -= m.records >= 1u + old.sig_count ? 1u + old.sig_count : m.records;
	if (enc.count == 0) {
		m.rrsets -= m.rrsets > 0 ? 1 : 0;
		st = zonedb_del_rrset(t, key, klen, type);
	} else {
		st = zonedb_put_rrset(t, key, klen, type, enc.buf, enc.len);
	}
	if (st == TDNS_OK)
		st = zonedb_put_meta(t, key, apex_len, &m);
	if (st == TDNS_OK)
		st = edit_finish(t, key, apex_len, true);
out:
	if (st != TDNS_OK)
		journal_end(t, false);
	free(text);
	free(val);
	free(canon);
	ldns_rr_free(rr);
	return st;
}

/* ---- difference sequences (IXFR) -------------------------------------- */

/* One record of a difference sequence. */
struct df_rec {
	const ldns_rr *rr;
	uint8_t key[RECORD_KEY_MAX]; /* the record key of the RRset it goes to */
	uint16_t key_len;
	uint16_t type;   /* the RRset's type: for an RRSIG the type covered */
	uint32_t seq;    /* position in its list */
	bool add, sig;
};

/* Deletions before additions in each RRset, each list in its order. */
static int cmp_df(const void *a, const void *b)
{
	const struct df_rec *x = a, *y = b;
	int c = key_cmp(x->key, x->key_len, y->key, y->key_len);

	if (c != 0)
		return c;
	if (x->add != y->add)
		return x->add ? 1 : -1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* One record of an RRset being changed: its rdata and the same with names
 * lower-cased (the comparison of RFC 4034 6.2 that deletions match by). */
struct df_item {
	uint8_t *rd, *canon;
	uint16_t rdlen;
	bool sig, alive;
};

struct df_set {
	struct df_item *items;
	size_t n, cap;
	uint32_t ttl, sig_ttl;
};

static void df_set_free(struct df_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->items[i].rd);
	free(s->items);
	memset(s, 0, sizeof(*s));
}

/* Append a record (rdata copied; canon: its canonical form, or NULL to
 * work it out from the rdata by the type's layout). */
static enum tdns_status df_set_push(struct df_set *s, uint16_t type, bool sig,
				    const uint8_t *rd, uint16_t rdlen, const uint8_t *canon)
{
	struct df_item *it;

	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		struct df_item *n = realloc(s->items, cap * sizeof(*n));

		if (n == NULL)
			return TDNS_ENOMEM;
		s->items = n;
		s->cap = cap;
	}
	it = &s->items[s->n];
	it->rd = malloc(2 * (size_t)rdlen + 1);
	if (it->rd == NULL)
		return TDNS_ENOMEM;
	it->canon = it->rd + rdlen;
	it->rdlen = rdlen;
	it->sig = sig;
	it->alive = true;
	if (rdlen > 0)
		memcpy(it->rd, rd, rdlen);
	if (canon != NULL) {
		memcpy(it->canon, canon, rdlen);
	} else if (!rdata_canon(sig ? LDNS_RR_TYPE_RRSIG : type, rd, rdlen, it->canon)) {
		free(it->rd);
		return TDNS_ENOMEM;
	}
	s->n++;
	return TDNS_OK;
}

/* The records of a stored RRset view (data and signatures). */
static enum tdns_status df_set_load(struct df_set *s, uint16_t type,
				    const struct tdns_rrset_view *v)
{
	struct tdns_rrset_view sigs;
	const uint8_t *rd;
	uint16_t rdlen;
	size_t pos = 0;
	enum tdns_status st = TDNS_OK;

	s->ttl = v->ttl;
	while (st == TDNS_OK && rrset_next(v, &pos, &rd, &rdlen))
		st = df_set_push(s, type, false, rd, rdlen, NULL);
	if (v->sig_count == 0)
		return st;
	rrset_sigs(v, &sigs);
	s->sig_ttl = sigs.ttl;
	for (pos = 0; st == TDNS_OK && rrset_next(&sigs, &pos, &rd, &rdlen);)
		st = df_set_push(s, type, true, rd, rdlen, NULL);
	return st;
}

/* The living records of s, data then signatures, packed (rrset.h) into a
 * new *val; *val NULL when no data record is left (signatures without
 * their RRset are dropped, as a load drops them). */
static enum tdns_status df_set_encode(const struct df_set *s, uint8_t **val, size_t *len,
				      uint32_t *count)
{
	struct tdns_rrset_enc enc;
	size_t cap = 2 * RRSET_HDR_LEN, nd = 0, ns = 0;
	enum tdns_status st = TDNS_OK;

	*val = NULL;
	*len = 0;
	*count = 0;
	for (size_t i = 0; i < s->n; i++) {
		if (!s->items[i].alive)
			continue;
		cap += 2 + (size_t)s->items[i].rdlen;
		if (s->items[i].sig)
			ns++;
		else
			nd++;
	}
	if (nd == 0)
		return TDNS_OK;
	*val = malloc(cap);
	if (*val == NULL)
		return TDNS_ENOMEM;
	rrset_enc_init(&enc, *val, cap, s->ttl);
	for (int pass = 0; pass < 2 && st == TDNS_OK; pass++) {
		if (pass == 1 && ns > 0)
			st = rrset_enc_sigs(&enc, s->sig_ttl);
		for (size_t i = 0; i < s->n && st == TDNS_OK; i++)
			if (s->items[i].alive && s->items[i].sig == (pass == 1))
				st = rrset_enc_add(&enc, s->items[i].rd, s->items[i].rdlen);
	}
	if (st != TDNS_OK) {
		free(*val);
		*val = NULL;
		return st;
	}
	*len = enc.len;
	*count = (uint32_t)(nd + ns);
	return TDNS_OK;
}

/* A record of a sequence as text for a message (without its newline). */
static void df_rr_str(const ldns_rr *rr, char *out, size_t cap)
{
	char *s = ldns_rr2str(rr);
	size_t n;

	snprintf(out, cap, "%s", s != NULL ? s : "?");
	free(s);
	n = strlen(out);
	if (n > 0 && out[n - 1] == '\n')
		out[n - 1] = '\0';
}

/* Where the RRset of a group lives (zonedb.h). */
enum df_place {
	DF_RR,         /* the rr database */
	DF_RR_NSEC,    /* an NSEC RRset: rr and the denial index */
	DF_NSEC_ONLY,  /* an NSEC RRset at or below a deeper zone: the index only */
	DF_NSEC3,      /* the denial index only */
	DF_OCCLUDED,   /* the deeper zone's: not stored */
};

static enum tdns_status df_place(struct tdns_txn *t, const uint8_t *apex, size_t apex_len,
				 const uint8_t *key, size_t klen, uint16_t type,
				 enum df_place *out)
{
	size_t check = klen;
	bool deeper = false;
	enum tdns_status st;
	int labels;

	if (type == LDNS_RR_TYPE_NSEC3) {
		*out = DF_NSEC3;
		return TDNS_OK;
	}
	/* The DS RRset at a deeper zone's apex is the parent side of the
	 * cut (RFC 4035 3.1.4.1): whether it is ours is its parent's say. */
	if (type == LDNS_RR_TYPE_DS && klen > apex_len &&
	    (labels = name_key_labels(key, klen)) > 0)
		check = name_key_prefix_len(key, klen, labels - 1);
	st = zonedb_in_deeper_zone(t, apex, apex_len, key, check, &deeper);
	if (st != TDNS_OK)
		return st;
	if (deeper)
		*out = type == LDNS_RR_TYPE_NSEC ? DF_NSEC_ONLY : DF_OCCLUDED;
	else
		*out = type == LDNS_RR_TYPE_NSEC ? DF_RR_NSEC : DF_RR;
	return TDNS_OK;
}

/* The stored RRset of a group into s; *had: there was one. */
static enum tdns_status df_read(struct tdns_txn *t, const uint8_t *apex, size_t apex_len,
				enum df_place place, const uint8_t *key, size_t klen,
				uint16_t type, struct df_set *s, bool *had)
{
	struct tdns_rrset_view v;
	const uint8_t *owner = NULL, *probe = key;
	size_t olen = 0, plen = klen;
	bool exact = false;
	enum tdns_status st;

	*had = false;
	if (place == DF_RR || place == DF_RR_NSEC) {
		st = zonedb_get_rrset(t, key, klen, type, &v);
	} else {
		if (place == DF_NSEC3) {
			/* The index is keyed by the hashed label (RFC 5155 3). */
			if (klen <= apex_len || klen != apex_len + 1u + key[apex_len])
				return TDNS_EINVAL;
			probe = key + apex_len + 1;
			plen = key[apex_len];
		}
		st = zonedb_denial_find(t, apex, apex_len,
					place == DF_NSEC3 ? ZONEDB_NSEC3 : ZONEDB_NSEC, probe,
					plen, &owner, &olen, &exact, &v);
		if (st == TDNS_OK && !(exact && olen == klen && memcmp(owner, key, klen) == 0))
			st = TDNS_ENOTFOUND;
	}
	if (st == TDNS_ENOTFOUND)
		return TDNS_OK;
	if (st != TDNS_OK)
		return st;
	*had = true;
	return df_set_load(s, type, &v);
}

/* Write the new value of a group (NULL: the RRset goes). */
static enum tdns_status df_write(struct tdns_txn *t, const uint8_t *apex, size_t apex_len,
				 enum df_place place, const uint8_t *key, size_t klen,
				 uint16_t type, bool had, const uint8_t *val, size_t len)
{
	enum zonedb_chain chain = place == DF_NSEC3 ? ZONEDB_NSEC3 : ZONEDB_NSEC;
	enum tdns_status st = TDNS_OK;

	if (place == DF_RR || place == DF_RR_NSEC) {
		if (val != NULL)
			st = zonedb_put_rrset(t, key, klen, type, val, len);
		else if (had)
			st = zonedb_del_rrset(t, key, klen, type);
	}
	if (st != TDNS_OK || place == DF_RR)
		return st;
	if (val != NULL)
		return zonedb_put_denial(t, apex, apex_len, chain, key, klen, val, len);
	return had ? zonedb_del_denial(t, apex, apex_len, chain, key, klen) : TDNS_OK;
}

struct df_ctx {
	struct tdns_txn *t;
	const uint8_t *apex;
	size_t apex_len;
	struct tdns_zone_meta *m;
	struct zoneload_diff_info *info;
	char *err;
	size_t errlen;
};

/* Apply the records recs[0..n) of one RRset: deletions (each must be
 * there, TTL aside), then additions (a record already there is kept
 * once, and the RRset takes the TTL of the last one, RFC 2181 5.2). */
static enum tdns_status df_group(struct df_ctx *c, const struct df_rec *recs, size_t n)
{
	const uint8_t *key = recs[0].key;
	size_t klen = recs[0].key_len - 3u;
	uint16_t type = recs[0].type;
	struct df_set s = { 0 };
	enum df_place place;
	uint8_t *val = NULL, *buf = NULL;
	size_t len = 0, rdlen, i, k;
	uint32_t old_count = 0, new_count = 0;
	bool had = false, changed = false;
	char text[512];
	enum tdns_status st;

	st = df_place(c->t, c->apex, c->apex_len, key, klen, type, &place);
	if (st != TDNS_OK)
		goto out;
	if (place == DF_OCCLUDED) {
		c->info->occluded += (uint32_t)n;
		goto out;
	}
	st = df_read(c->t, c->apex, c->apex_len, place, key, klen, type, &s, &had);
	if (st == TDNS_EINVAL) {
		df_rr_str(recs[0].rr, text, sizeof(text));
		zoneload_seterr(c->err, c->errlen, "%s: an NSEC3 owner must be one label "
				"below the apex (RFC 5155 3)", text);
	}
	if (st != TDNS_OK)
		goto out;
	old_count = (uint32_t)s.n;
	for (i = 0; i < n; i++) {
		const struct df_rec *r = &recs[i];

		rdlen = rr_rdata_len(r->rr);
		free(buf);
		buf = malloc(2 * rdlen + 1);
		if (buf == NULL) {
			st = TDNS_ENOMEM;
			goto out;
		}
		rr_rdata_write(r->rr, buf, true);
		for (k = 0; k < s.n; k++)
			if (s.items[k].alive && s.items[k].sig == r->sig &&
			    s.items[k].rdlen == rdlen &&
			    (rdlen == 0 || memcmp(s.items[k].canon, buf, rdlen) == 0))
				break;
		if (!r->add) {
			/* RFC 1995 4: the response is a diff against the
			 * version we hold; a record it deletes that we do
			 * not hold means we hold another version. */
			if (k == s.n) {
				df_rr_str(r->rr, text, sizeof(text));
				zoneload_seterr(c->err, c->errlen, "the deleted record %s "
						"is not in the zone", text);
				st = TDNS_ENOTFOUND;
				goto out;
			}
			s.items[k].alive = false;
			changed = true;
			continue;
		}
		if (r->sig)
			s.sig_ttl = ldns_rr_ttl(r->rr);
		else
			s.ttl = ldns_rr_ttl(r->rr);
		changed = true;
		if (k < s.n)
			continue;
		/* Stored with names in the case sent, as a load keeps them. */
		rr_rdata_write(r->rr, buf + rdlen, false);
		st = df_set_push(&s, type, r->sig, buf + rdlen, (uint16_t)rdlen, buf);
		if (st != TDNS_OK)
			goto out;
	}
	if (!changed)
		goto out;
	st = df_set_encode(&s, &val, &len, &new_count);
	if (st != TDNS_OK)
		goto out;
	if (val == NULL) {
		for (k = 0; k < s.n; k++)
			if (s.items[k].alive && s.items[k].sig) {
				df_rr_str(recs[0].rr, text, sizeof(text));
				log_warn("%s: signatures left without the RRset they cover "
					 "are dropped", text);
				break;
			}
	}
	st = df_write(c->t, c->apex, c->apex_len, place, key, klen, type, had, val, len);
	if (st != TDNS_OK)
		goto out;
	c->info->rrsets_written++;
	/* The zone's counts (zonedb.h), as a load makes them. */
	if (place != DF_NSEC_ONLY) {
		if (had && val == NULL)
			c->m->rrsets -= c->m->rrsets > 0 ? 1u : 0u;
		else if (!had && val != NULL)
			c->m->rrsets++;
		c->m->records = c->m->records - (c->m->records >= old_count ? old_count
								 : c->m->records) + new_count;
	}
out:
	free(buf);
	free(val);
	df_set_free(&s);
	return st;
}

/* rdata_reads_back for a parsed record. */
static int rr_reads_back(const ldns_rr *rr)
{
	size_t len = rr_rdata_len(rr);
	uint8_t *buf = malloc(len > 0 ? len : 1);
	int ok;

	if (buf == NULL)
		return -1;
	rr_rdata_write(rr, buf, false);
	ok = rdata_reads_back((uint16_t)ldns_rr_get_type(rr), buf, len);
	free(buf);
	return ok;
}

/* Check one record of a sequence and fill r. */
static enum tdns_status df_rec_init(struct df_rec *r, const ldns_rr *rr, bool add,
				    size_t seq, const uint8_t *apex, size_t apex_len,
				    char *err, size_t errlen)
{
	const ldns_rdf *owner = ldns_rr_owner(rr), *tc;
	uint16_t type = (uint16_t)ldns_rr_get_type(rr), key_type = type;
	uint8_t key[NAME_KEY_MAX];
	size_t klen;
	char text[512];

	if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN || !type_is_data(type) ||
	    owner == NULL || rr_rdata_len(rr) > RDATA_MAX ||
	    name_key_from_wire(ldns_rdf_data(owner), ldns_rdf_size(owner), key,
			       &klen) != TDNS_OK) {
		df_rr_str(rr, text, sizeof(text));
		zoneload_seterr(err, errlen, "%s: not a record of class IN that a zone "
				"can hold", text);
		return TDNS_EINVAL;
	}
	if (!name_key_is_subdomain(key, klen, apex, apex_len) ||
	    (type == LDNS_RR_TYPE_SOA && klen != apex_len)) {
		df_rr_str(rr, text, sizeof(text));
		zoneload_seterr(err, errlen, "%s: %s", text, type == LDNS_RR_TYPE_SOA
				? "an SOA belongs at the zone apex" : "outside the zone");
		return TDNS_EINVAL;
	}
	switch (rr_reads_back(rr)) {
	case 1:
		break;
	case 0:
		df_rr_str(rr, text, sizeof(text));
		zoneload_seterr(err, errlen, "%s: rdata does not have the layout of its type",
				text);
		return TDNS_EINVAL;
	default:
		return TDNS_ENOMEM;
	}
	/* RFC 4034 3.1.1: an RRSIG goes with the RRset of its Type Covered. */
	if (type == LDNS_RR_TYPE_RRSIG) {
		tc = ldns_rr_rdf(rr, 0);
		if (ldns_rr_rd_count(rr) < 9 || tc == NULL || ldns_rdf_size(tc) != 2) {
			df_rr_str(rr, text, sizeof(text));
			zoneload_seterr(err, errlen, "%s: malformed RRSIG", text);
			return TDNS_EINVAL;
		}
		key_type = (uint16_t)(ldns_rdf_data(tc)[0] << 8 | ldns_rdf_data(tc)[1]);
	}
	r->rr = rr;
	r->key_len = (uint16_t)name_record_key(key, klen, key_type, r->key);
	r->type = key_type;
	r->seq = (uint32_t)seq;
	r->add = add;
	r->sig = type == LDNS_RR_TYPE_RRSIG;
	return TDNS_OK;
}

enum tdns_status zoneload_diff(struct tdns_txn *t, const uint8_t *apex, size_t apex_len,
			       ldns_rr *const *del, size_t n_del, ldns_rr *const *add,
			       size_t n_add, struct zoneload_diff_info *info, char *err,
			       size_t errlen)
{
	struct df_rec *recs = NULL;
	struct tdns_zone_meta m;
	struct tdns_rrset_view soa;
	struct df_ctx c = { t, apex, apex_len, &m, info, err, errlen };
	size_t n = n_del + n_add, i, j;
	bool followed = false;
	char name[PRESENT_MAX];
	enum tdns_status st;

	memset(info, 0, sizeof(*info));
	key_str(apex, apex_len, name, sizeof(name));
	if (n_del == 0 || n_add == 0 || ldns_rr_get_type(del[0]) != LDNS_RR_TYPE_SOA ||
	    ldns_rr_get_type(add[0]) != LDNS_RR_TYPE_SOA || ldns_rr_rd_count(add[0]) < 3) {
		zoneload_seterr(err, errlen, "%s: a difference sequence starts its "
				"deletions and its additions with an SOA (RFC 1995 4)", name);
		return TDNS_EINVAL;
	}
	st = zonedb_get_meta(t, apex, apex_len, &m);
	if (st != TDNS_OK) {
		zoneload_seterr(err, errlen, "%s: %s", name, st == TDNS_ENOTFOUND ?
				"the zone is not in the store" : tdns_strerror(st));
		return st;
	}
	recs = malloc(n * sizeof(*recs));
	if (recs == NULL)
		return TDNS_ENOMEM;
	for (i = 0; i < n && st == TDNS_OK; i++)
		st = df_rec_init(&recs[i], i < n_del ? del[i] : add[i - n_del], i >= n_del,
				 i < n_del ? i : i - n_del, apex, apex_len, err, errlen);
	if (st != TDNS_OK)
		goto out;
	/* The change goes into the zone's journal (journal.h) as one diff,
	 * as add and delete write theirs. */
	st = journal_begin(t, apex, apex_len);
	if (st != TDNS_OK)
		goto out;
	followed = true;
	qsort(recs, n, sizeof(*recs), cmp_df);
	for (i = 0; i < n && st == TDNS_OK; i = j) {
		for (j = i + 1; j < n && key_cmp(recs[j].key, recs[j].key_len, recs[i].key,
						 recs[i].key_len) == 0;)
			j++;
		st = df_group(&c, recs + i, j - i);
	}
	if (st != TDNS_OK)
		goto out;
	/* The old SOA went with the deletions and the new one came with the
	 * additions: one SOA is left, or the sequence was not one. */
	st = zonedb_get_rrset(t, apex, apex_len, LDNS_RR_TYPE_SOA, &soa);
	if (st != TDNS_OK || soa.count != 1) {
		zoneload_seterr(err, errlen, "%s: the sequence does not leave the zone "
				"one SOA", name);
		st = st == TDNS_OK || st == TDNS_ENOTFOUND ? TDNS_EINVAL : st;
		goto out;
	}
	m.serial = ldns_rdf2native_int32(ldns_rr_rdf(add[0], 2));
	m.loaded_at = clock_now();
	info->serial = m.serial;
	info->deleted = (uint32_t)n_del;
	info->added = (uint32_t)n_add;
	st = zonedb_put_meta(t, apex, apex_len, &m);
	if (st == TDNS_OK)
		st = journal_end(t, true);
	followed = false;
out:
	if (followed)
		journal_end(t, false);
	free(recs);
	return st;
}
