/*
 * failcache.h - the resolver's memory of recent failures (RFC 9520): a
 * question whose resolution failed is answered SERVFAIL from memory for a
 * while instead of being sent upstream again.
 *
 * Rules (RFC 9520 3.2): a failure is remembered FAILCACHE_MIN_MS; one that
 * recurs before twice that has passed is remembered twice as long as the
 * last time, up to FAILCACHE_MAX_MS. An answer for the question forgets
 * it.
 *
 * A failure is either one the upstream returned (SERVFAIL, REFUSED, a
 * reply that makes no sense: kept as above) or one of reaching it (no
 * answer, a network error): such a failure says nothing about the name,
 * only about the upstream's health: it is kept with the infra epoch
 * (infra.h) of its time and lapses the moment the epoch moves on, that is
 * when an upstream answers again after failing.
 *
 * The table is fixed (FAILCACHE_SETS x FAILCACHE_WAYS entries): a new
 * failure takes a free or lapsed slot of its set, else the one that lapses
 * soonest, so memory never grows.
 *
 * Keys are question keys (record key || class || CD, resolve.c) up to
 * FAILCACHE_KEY_MAX bytes; hash is the caller's hash of the key. One table
 * per resolver: not thread-safe. Time is monotonic milliseconds.
 */
#ifndef TIERDNS_FAILCACHE_H
#define TIERDNS_FAILCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tierdns/name.h"
#include "tierdns/status.h"

#define FAILCACHE_MIN_MS 5000u
#define FAILCACHE_MAX_MS 300000u
#define FAILCACHE_SETS 256u /* a power of two */
#define FAILCACHE_WAYS 4u
#define FAILCACHE_KEY_MAX (RECORD_KEY_MAX + 3)

struct tdns_failcache;

/* Owned by the caller (failcache_free). */
enum tdns_status failcache_new(struct tdns_failcache **out);
void failcache_free(struct tdns_failcache *fc); /* NULL is allowed */

enum failcache_hit {
	FAILCACHE_NONE = 0,     /* not remembered (or lapsed) */
	FAILCACHE_RETURNED,     /* the upstream returned a failure */
	FAILCACHE_UNREACHABLE,  /* no upstream could be reached */
};

/* Is the question remembered as failed at now_ms (with the infra epoch
 * now epoch), and how? */
enum failcache_hit failcache_hit(const struct tdns_failcache *fc, const uint8_t *key,
				 size_t key_len, uint32_t hash, uint64_t now_ms,
				 uint32_t epoch);
/* Remember a failure of the question at now_ms (key_len <= FAILCACHE_KEY_MAX;
 * longer keys are not remembered); unreachable: a failure to reach the
 * upstreams rather than one returned, at infra epoch epoch. Returns how
 * long it is remembered (ms), 0 when it is not. */
uint32_t failcache_add(struct tdns_failcache *fc, const uint8_t *key,
		       size_t key_len, uint32_t hash, uint64_t now_ms, bool unreachable,
		       uint32_t epoch);
/* Forget every failure (a cache flush: the operator wants the questions
 * asked again). */
void failcache_clear(struct tdns_failcache *fc);
/* The question was answered: forget its failures. */
void failcache_forget(struct tdns_failcache *fc, const uint8_t *key,
		      size_t key_len, uint32_t hash);

#endif
