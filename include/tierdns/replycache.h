/*
 * replycache.h - the local tier's packet cache: replies to cache hits, as
 * the encoder (encode.h) wrote them, kept per worker thread and sent
 * again to the next client that asks the same question the same way.
 *
 * A replay is the stored message with three things rewritten, and nothing
 * else: the ID, the question name (the client's case, RFC 4343; the same
 * length, since the key is its case-folded form) and every TTL, less the
 * seconds since the reply was encoded. Answer owners the encoder wrote as
 * pointers to the question follow its case as they would in a fresh
 * encoding. So a replay says what encoding the same cache entry now would
 * say, until the entry's answer could change:
 *   - the slot is replayed only before `until` (replycache_put's caller:
 *     the entry's expiry, or the start of its prefetch window), and only
 *     while every TTL in it is still above zero;
 *   - the caller checks that the cache entry is still the one of the
 *     snapshot the reply was made from (replycache_origin, cache.h
 *     cache_token_unchanged: a flush, an eviction, a newer answer or a
 *     commit of another process end the replays), and a new local policy
 *     makes every slot filled before it a miss (the policy generation);
 *   - only what depends on nothing but the question and the cache entry
 *     is kept: UDP queries without EDNS options, replies without an EDE,
 *     a COOKIE or TC, with every record of the descriptor written
 *     (nothing optional left out for size), NOERROR or NXDOMAIN. The
 *     header bits a query decides (RD, CD, EDNS, DO, AD asked) are part
 *     of the key; a slot is no longer than the least UDP limit (512), so
 *     every client takes a kept reply whole.
 *
 * The table is a fixed array of slots, two per bucket, mapped from the
 * kernel (pages are taken as slots fill); a new reply takes the older slot
 * of its bucket. Nothing is locked: one table belongs to one thread.
 */
#ifndef TIERDNS_REPLYCACHE_H
#define TIERDNS_REPLYCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "tierdns/answer.h"
#include "tierdns/qctx.h"

/* Largest reply kept, with its key: a slot is 512 bytes. */
#define REPLYCACHE_SLOT 512u
#define REPLYCACHE_DEFAULT 16384u /* slots per thread: 8 MiB of address space */
#define REPLYCACHE_MAX (1u << 20) /* 512 MiB of address space */

struct tdns_replycache;
struct replycache_slot;

/* Where a kept reply came from: the cache entry (its token, cache.h
 * cache_entry_token, and the snapshot id it was read in or committed as)
 * and the local policy's generation. */
struct replycache_origin {
	uint64_t since;
	uint64_t token;
	uint32_t policy_gen;
};

/* A table of at least slots slots (rounded up to a power of two, >= 2);
 * NULL on failure (no memory). */
struct tdns_replycache *replycache_new(size_t slots);
void replycache_free(struct tdns_replycache *c);

/*
 * The reply kept for q under policy generation policy_gen, if any:
 * a->replay and a->replay_age are set (the pipeline writes it,
 * pipeline.h) and a->rcode is the reply's. false: none that q may take
 * (a->replay is left NULL).
 */
bool replycache_find(struct tdns_replycache *c, const struct tdns_qctx *q,
		     uint32_t policy_gen, uint64_t now, struct tdns_answer *a);

/* Where a's replay came from (for the caller's check that its cache
 * entry is unchanged). */
const struct replycache_origin *replycache_origin(const struct tdns_answer *a);

/*
 * Keep reply[0..len), the encoding of a for q at now from origin o, until
 * `until` at the latest (sooner when one of its TTLs runs out), when it is
 * one the rules above allow (and o->since, o->token are not 0); otherwise
 * nothing happens.
 */
void replycache_put(struct tdns_replycache *c, const struct tdns_qctx *q,
		    const struct tdns_answer *a, const struct replycache_origin *o,
		    uint64_t now, uint64_t until, const uint8_t *reply, size_t len);

/* Write the replay a->replay for q into out[0..cap): its length, 0 when it
 * does not fit. */
size_t replycache_write(const struct tdns_answer *a, const struct tdns_qctx *q,
			uint8_t *out, size_t cap);

#endif
