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
 * Aging: after `period` counted questions (ten per word) every counter is
 * halved, so counts follow the recent load.
 *
 * Keys are hashed with a random seed per sketch, so no client can aim at
 * one counter. One sketch per worker, touched only by its thread (no
 * atomics): the worker counts its questions and its cache writes read it.
 */
#ifndef TIERDNS_SKETCH_H
#define TIERDNS_SKETCH_H

#include <stddef.h>
#include <stdint.h>

#include "tierdns/status.h"

#define SKETCH_MAX 15u   /* counts saturate here */

struct tdns_sketch;

/* A sketch sized for a cache of about `entries` entries (words: the next
 * power of two, 1024 to 131072, 8 bytes each). *out owned by the caller,
 * released with sketch_free. */
enum tdns_status sketch_new(size_t entries, struct tdns_sketch **out);
void sketch_free(struct tdns_sketch *s); /* NULL is allowed */

/* One use of (name key, type): a question asked. */
void sketch_add(struct tdns_sketch *s, const uint8_t *key, size_t len,
		uint16_t type);
/* Its estimated recent uses, 0-SKETCH_MAX: never below the counted uses
 * since the last halving (while under SKETCH_MAX), possibly above them. */
unsigned sketch_count(const struct tdns_sketch *s, const uint8_t *key,
		      size_t len, uint16_t type);

#endif
