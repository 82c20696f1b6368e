/*
 * sketch.h - how often a question was asked lately, approximately, in
 * fixed memory: a count-min sketch of 4-bit counters that halve as they
 * age (TinyLFU, Einziger, Friedman and Manes, 2017). The cache uses it to
 * keep what is popular (cache.h, eviction and admission): the victim of an
 * eviction is the least asked of a sample, and a newcomer asked less often
 * than that victim is not let in.
 *
 * Layout: one 64-bit word of 16 counters per key (the word picked by the
 * key's hash), four of them counted for it, one in each quarter of the
 * word; the key's count is the smallest of its four. One memory access
 * per update and per estimate.
 *
 * Aging: every counter is halved after about ten counted questions per
 * word, so counts follow the recent load (each thread halves after that
 * many of its own: threads that count alike halve the sketch at that
 * rate together).
 *
 * Sampling: sketch_seen, the query path's call, counts one question in
 * SKETCH_EVERY of its thread (a counter, no randomness): every key's
 * count is its asked rate scaled down alike, for a fraction of the cost.
 *
 * Sharing: one sketch may serve every worker of a process (tierdns-local
 * keeps one: each worker's cache writes then weigh what all workers were
 * asked). The counters are relaxed atomics, updated by a load and a store:
 * an update racing with another thread's may be lost, which makes a count
 * approximate, never wrong in kind; a counter at SKETCH_MAX is not written
 * again, so the words of popular keys are not written back and forth
 * between cores. What counts a thread's questions (sampling, halving) is
 * the thread's own (thread-local, of the last sketch it used).
 *
 * Keys are hashed with a random seed per sketch, so no client can aim at
 * one counter.
 */
#ifndef TIERDNS_SKETCH_H
#define TIERDNS_SKETCH_H

#include <stddef.h>
#include <stdint.h>

#include "tierdns/status.h"

#define SKETCH_MAX 15u   /* counts saturate here */
#define SKETCH_EVERY 2u  /* sketch_seen counts one question in this many */

struct tdns_sketch;

/* A sketch sized for a cache of about `entries` entries (words: the next
 * power of two, 1024 to 131072, 8 bytes each). *out owned by the caller,
 * released with sketch_free. */
enum tdns_status sketch_new(size_t entries, struct tdns_sketch **out);
void sketch_free(struct tdns_sketch *s); /* NULL is allowed */

/* A question for (name key, type) asked: counted one time in SKETCH_EVERY
 * of this thread's. */
void sketch_seen(struct tdns_sketch *s, const uint8_t *key, size_t len,
		 uint16_t type);
/* One use of (name key, type), always counted. */
void sketch_add(struct tdns_sketch *s, const uint8_t *key, size_t len,
		uint16_t type);
/* Its estimated recent uses, 0-SKETCH_MAX: never below the counted uses
 * since the last halving (while under SKETCH_MAX), possibly above them. */
unsigned sketch_count(const struct tdns_sketch *s, const uint8_t *key,
		      size_t len, uint16_t type);

#endif
