/*
 * replycache.c - replies to cache hits kept for replay (replycache.h).
 */
#include "tierdns/replycache.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "tierdns/dnsproto.h"
#include "tierdns/randpool.h"

#define RC_TTLS 16 /* records of a reply kept (its TTL offsets) */

/* The query bits that change a reply's bytes (encode.h): RD and CD are
 * echoed, EDNS and DO decide the OPT, DO or AD asked decides AD. */
#define SHAPE_RD 0x01
#define SHAPE_CD 0x02
#define SHAPE_EDNS 0x04
#define SHAPE_DO 0x08
#define SHAPE_AD 0x10

struct replycache_slot {
	uint64_t until;  /* replayed while now < until; 0: empty */
	uint64_t filled; /* clock_now() when the reply was encoded */
	struct replycache_origin origin;
	uint32_t hash;   /* low half of the key's hash */
	uint16_t qtype;
	uint16_t len;    /* reply bytes, after the key's */
	uint16_t ttl_at[RC_TTLS]; /* offsets of the reply's TTL fields */
	uint16_t key_len; /* name key bytes at data */
	uint8_t n_ttl;
	uint8_t shape;   /* SHAPE_* of the query */
	uint8_t rcode;
	uint8_t data[];  /* the name key, then the reply */
};

#define SLOT_DATA (REPLYCACHE_SLOT - sizeof(struct replycache_slot))
/* A kept reply fits every client's UDP limit (qctx.h: at least 512), so
 * none is too long to replay to one. */
_Static_assert(REPLYCACHE_SLOT <= QCTX_UDP_DEFAULT, "a kept reply may exceed a UDP limit");

struct tdns_replycache {
	uint8_t *slots;  /* REPLYCACHE_SLOT bytes each */
	size_t map_len;
	size_t mask;     /* buckets - 1; a bucket is two slots */
	uint64_t seed;
};

struct tdns_replycache *replycache_new(size_t slots)
{
	struct tdns_replycache *c;
	size_t n = 2;
	void *p;

	while (n < slots && n < REPLYCACHE_MAX)
		n <<= 1;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->map_len = n * REPLYCACHE_SLOT;
	p = mmap(NULL, c->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		free(c);
		return NULL;
	}
	c->slots = p;
	c->mask = n / 2 - 1;
	c->seed = randpool_seed(c);
	return c;
}

void replycache_free(struct tdns_replycache *c)
{
	if (c == NULL)
		return;
	munmap(c->slots, c->map_len);
	free(c);
}

static uint8_t shape_of(const struct tdns_qctx *q)
{
	return (uint8_t)((q->rd ? SHAPE_RD : 0) | (q->cd ? SHAPE_CD : 0) |
			 (q->edns ? SHAPE_EDNS : 0) | (q->edns_do ? SHAPE_DO : 0) |
			 (q->ad ? SHAPE_AD : 0));
}

static struct replycache_slot *slot_at(const struct tdns_replycache *c, size_t i)
{
	return (struct replycache_slot *)(c->slots + i * REPLYCACHE_SLOT);
}

/* The first of the two slots of q's bucket; *shape and *hash are q's (the
 * low half of the hash tags the slot, the high half picks the bucket). */
static size_t bucket_of(const struct tdns_replycache *c, const struct tdns_qctx *q,
			uint8_t *shape, uint32_t *hash)
{
	uint64_t h;

	*shape = shape_of(q);
	h = dns_key_hash(c->seed ^ ((uint64_t)q->qtype << 8 | *shape), q->qkey, q->qkey_len);
	*hash = (uint32_t)h;
	return 2 * ((size_t)(h >> 32) & c->mask);
}

static bool slot_is(const struct replycache_slot *s, const struct tdns_qctx *q,
		    uint32_t hash, uint8_t shape)
{
	return s->hash == hash && s->qtype == q->qtype && s->shape == shape &&
	       s->key_len == q->qkey_len && memcmp(s->data, q->qkey, q->qkey_len) == 0;
}

/* Can q take a kept reply, or give one? UDP, a question of class IN, no
 * EDNS option asked (their answers are the client's own). */
static bool query_fits(const struct tdns_qctx *q)
{
	return q->transport == QCTX_UDP && q->has_q && q->qclass == DNS_CLASS_IN &&
	       q->edns_opts_len == 0;
}

bool replycache_find(struct tdns_replycache *c, const struct tdns_qctx *q,
		     uint32_t policy_gen, uint64_t now, struct tdns_answer *a)
{
	uint32_t hash;
	uint8_t shape;
	size_t b;

	if (c == NULL || !query_fits(q))
		return false;
	b = bucket_of(c, q, &shape, &hash);
	for (size_t i = b; i < b + 2; i++) {
		const struct replycache_slot *s = slot_at(c, i);

		if (!slot_is(s, q, hash, shape))
			continue;
		/* A clock set back makes the ages unknown: not replayed. */
		if (now >= s->until || now < s->filled || s->origin.policy_gen != policy_gen)
			return false;
		a->replay = s;
		a->replay_age = (uint32_t)(now - s->filled);
		a->rcode = s->rcode;
		return true;
	}
	return false;
}

/* Offset just past the name at m[off] (written by the encoder: labels,
 * ending in a root label or a pointer), 0 when it runs past len. */
static size_t name_end(const uint8_t *m, size_t len, size_t off)
{
	while (off < len) {
		if ((m[off] & 0xc0) == 0xc0)
			return off + 2 <= len ? off + 2 : 0;
		if (m[off] == 0)
			return off + 1;
		off += (size_t)m[off] + 1;
	}
	return 0;
}

/* The offsets of the TTL fields of m's records but the OPT's (whose TTL
 * holds EDNS flags) into at[], their number into *n_at, and the least TTL;
 * false when there are more than RC_TTLS or m does not read as one
 * message. */
static bool find_ttls(const uint8_t *m, size_t len, uint16_t at[RC_TTLS], uint8_t *n_at,
		      uint32_t *min_ttl)
{
	size_t off, n;

	n = (size_t)dns_rd16(m + 6) + dns_rd16(m + 8) + dns_rd16(m + 10);
	off = name_end(m, len, DNS_HDR_LEN);
	if (off == 0 || off + 4 > len)
		return false;
	off += 4;
	*n_at = 0;
	*min_ttl = UINT32_MAX;
	while (n-- > 0) {
		uint32_t ttl;

		off = name_end(m, len, off);
		if (off == 0 || off + 10 > len)
			return false;
		if (dns_rd16(m + off) != DNS_TYPE_OPT) {
			if (*n_at == RC_TTLS)
				return false;
			ttl = dns_rd32(m + off + 4);
			if (ttl < *min_ttl)
				*min_ttl = ttl;
			at[(*n_at)++] = (uint16_t)(off + 4);
		}
		off += 10 + (size_t)dns_rd16(m + off + 8);
		if (off > len)
			return false;
	}
	return true;
}

/* Does the reply hold every record of a (the encoder leaves optional
 * additional data out when it runs out of room, without TC)? */
static bool complete(const struct tdns_answer *a, const uint8_t *m, bool edns)
{
	size_t want = 0;

	for (size_t i = 0; i < a->n; i++)
		want += a->rrsets[i].count;
	return want + (edns ? 1 : 0) ==
	       (size_t)dns_rd16(m + 6) + dns_rd16(m + 8) + dns_rd16(m + 10);
}

void replycache_put(struct tdns_replycache *c, const struct tdns_qctx *q,
		    const struct tdns_answer *a, const struct replycache_origin *o,
		    uint64_t now, uint64_t until, const uint8_t *reply, size_t len)
{
	struct replycache_slot *s, *other;
	uint16_t ttl_at[RC_TTLS];
	uint32_t min_ttl, hash;
	uint8_t shape, n_ttl;
	size_t b;

	/* The reply's TC bit says what a->tc and a cut-short encoding would;
	 * a COOKIE in it needs one in the query, which query_fits refuses. */
	if (c == NULL || !query_fits(q) || a->has_ede ||
	    (a->rcode != DNS_RCODE_NOERROR && a->rcode != DNS_RCODE_NXDOMAIN) ||
	    len < DNS_HDR_LEN || q->qkey_len + len > SLOT_DATA || (reply[2] & DNS_FLAG_TC) ||
	    !complete(a, reply, q->edns) || until <= now || o->since == 0 || o->token == 0 ||
	    !find_ttls(reply, len, ttl_at, &n_ttl, &min_ttl) || min_ttl == 0)
		return;
	b = bucket_of(c, q, &shape, &hash);
	s = slot_at(c, b);
	other = slot_at(c, b + 1);
	/* The question's own slot, else the older of the two. */
	if (slot_is(other, q, hash, shape) ||
	    (!slot_is(s, q, hash, shape) && other->filled < s->filled))
		s = other;
	if (until > now + min_ttl)
		until = now + min_ttl;
	s->until = until;
	s->filled = now;
	s->hash = hash;
	s->origin = *o;
	s->qtype = q->qtype;
	s->len = (uint16_t)len;
	s->shape = shape;
	s->key_len = (uint16_t)q->qkey_len;
	s->rcode = (uint8_t)a->rcode;
	s->n_ttl = n_ttl;
	memcpy(s->ttl_at, ttl_at, sizeof(ttl_at));
	memcpy(s->data, q->qkey, q->qkey_len);
	memcpy(s->data + q->qkey_len, reply, len);
}

const struct replycache_origin *replycache_origin(const struct tdns_answer *a)
{
	return &a->replay->origin;
}

size_t replycache_write(const struct tdns_answer *a, const struct tdns_qctx *q,
			uint8_t *out, size_t cap)
{
	const struct replycache_slot *s = a->replay;
	uint32_t age = a->replay_age;

	if (s->len > cap)
		return 0;
	memcpy(out, s->data + s->key_len, s->len);
	dns_wr16(out, q->id);
	memcpy(out + DNS_HDR_LEN, q->qname, q->qname_len);
	for (unsigned i = 0; i < s->n_ttl; i++) {
		uint8_t *p = out + s->ttl_at[i];

		dns_wr32(p, dns_rd32(p) - age);
	}
	return s->len;
}
