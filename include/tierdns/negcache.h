/*
 * negcache.h - aggressive use of the DNSSEC-validated cache (RFC 8198),
 * NSEC only: secure NXDOMAIN answers (packed values, cache.h) are kept
 * whole, with the NSEC records of their denial, in a bounded table in
 * memory; a later question whose name one of them proves absent is
 * answered NXDOMAIN from it without asking upstream, until it expires.
 *
 * A kept answer proves a name absent (RFC 8198 5.1, RFC 4035 5.4) when it
 * holds an NSEC covering the name - its owner canonically before the
 * name, its next name after it (the last NSEC of the zone wraps to the
 * apex), the name strictly below the zone of the answer's SOA, and the
 * NSEC not a delegation or DNAME above the name - and an NSEC covering
 * the wildcard at the name's closest encloser (the longest ancestor the
 * covering NSEC's owner or next name shares with it), so no wildcard
 * could answer. Both proofs come from the one answer; NODATA and NSEC3
 * are not synthesized, and the table is not kept across restarts.
 *
 * One table per resolver (one thread): not thread-safe. Bounded by the
 * number of answers given to negcache_new; a full table replaces the
 * answer that expires first. Time is epoch seconds.
 */
#ifndef TIERDNS_NEGCACHE_H
#define TIERDNS_NEGCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tierdns/status.h"

struct tdns_negcache;

/* A table of at most max answers (*out, negcache_free). TDNS_EINVAL for
 * max 0, TDNS_ENOMEM. */
enum tdns_status negcache_new(size_t max, struct tdns_negcache **out);
void negcache_free(struct tdns_negcache *n);

/* Keep a copy of val, a packed value validated secure: an NXDOMAIN with
 * no answer section (no CNAME chain) whose authority holds its SOA and
 * NSEC records (anything else is ignored, as is a value already expired
 * at now or one without memory). */
void negcache_add(struct tdns_negcache *n, const uint8_t *val, size_t len, uint64_t now);

/*
 * A kept answer that proves the name (uncompressed wire name, any case)
 * absent at now: true with *val, *len borrowed from the table until the
 * next negcache_add or negcache_free; false when none does.
 */
bool negcache_find(struct tdns_negcache *n, const uint8_t *name, size_t name_len, uint64_t now,
		   const uint8_t **val, size_t *len);

#endif
