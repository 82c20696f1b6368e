/*
 * sketch.h - how often a key was asked lately, approximately, in fixed
 * memory: a count-min sketch with 4-bit counters that halve as they age
 * (TinyLFU, Einziger, Friedman and Manes, 2017). The cache uses it to keep
 * what is popular: a one-off miss is not let in at the price of evicting a
 * name asked often (cache.h, admission), and among the entries that would
 * expire soonest the least asked goes first (eviction).
 *
 * Four rows of SKETCH_WIDTH counters; a key's count is the smallest of its
 * four. After SKETCH_SAMPLE increments every counter is halved, so counts
 * follow the recent past. Keys are hashed with a per-sketch random seed,
 * so no client can aim at one counter.
 *
 * One sketch per worker (its own memory: no sharing on the query path);
 * the cache reads the sketch of the worker that writes.
 */
#ifndef TIERDNS_SKETCH_H
#define TIERDNS_SKETCH_H

#include <stddef.h>
#include <stdint.h>

#include "tierdns/status.h"

#define SKETCH_WIDTH 65536u              /* counters per row, a power of two */
#define SKETCH_SAMPLE (10u * SKETCH_WIDTH) /* increments between halvings */
#define SKETCH_MAX 15u

struct tdns_sketch;

enum tdns_status sketch_new(struct tdns_sketch **out);
void sketch_free(struct tdns_sketch *s); /* NULL is allowed */

/* The sketch's hash of a key (name key, then RR type: what a cache entry
 * is filed under). */
uint64_t sketch_hash(const struct tdns_sketch *s, const uint8_t *key, size_t len,
		     uint16_t type);

/* One more use of the key with hash h. */
void sketch_add(struct tdns_sketch *s, uint64_t h);
/* Its estimated uses, 0-SKETCH_MAX (never below the true recent count
 * while under SKETCH_MAX, but possibly above it). */
unsigned sketch_count(const struct tdns_sketch *s, uint64_t h);

#endif
