/*
 * upqtab.h - the table of a resolver's outstanding upstream queries, for
 * the resolver's files (resolve_int.h): found by question (coalescing,
 * CVE-2020-25686: identical misses wait on one query) and by attempt
 * token (the transport's replies), all of them listed (timers), at most
 * n_slots at once (cfg.max_outstanding).
 *
 * The question key is the record key (name.h) || class || CD; the failure
 * cache (failcache.h) keeps the same keys. An attempt's token holds the
 * query's slot in its low SLOT_BITS, so a reply finds its query in one
 * step and a stale token (a slot since reused) finds none.
 *
 * The table links the queries (struct upq, resolve.c's, fields hnext,
 * prev, next, slot) but owns none: resolve.c allocates and frees them.
 * Not thread-safe (one table per resolver).
 */
#ifndef TIERDNS_UPQTAB_H
#define TIERDNS_UPQTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "resolve_int.h"

/* The question key of (qkey, qtype, qclass, cd) into key (QUESTION_KEY_MAX
 * bytes); returns its length. */
size_t upqtab_key(const uint8_t *qkey, size_t qkey_len, uint16_t qtype, uint16_t qclass, bool cd,
		  uint8_t *key);

/* The hash of a question key (FNV-1a), as upqtab_find and the failure
 * cache take it. */
uint32_t upqtab_hash(const uint8_t *k, size_t n);

/* An empty table of n_slots (> 0). TDNS_ENOMEM (upqtab_fini then frees
 * what was allocated). */
enum tdns_status upqtab_init(struct upq_table *t, uint32_t n_slots);

/* Free the table's arrays (not the queries: remove them first). */
void upqtab_fini(struct upq_table *t);

/* The outstanding query for the question key, or NULL. */
struct upq *upqtab_find(const struct upq_table *t, const uint8_t *key, size_t key_len,
			uint32_t hash);

/* The query whose current attempt has this token, or NULL (0, a finished
 * attempt, a slot since reused). */
struct upq *upqtab_by_token(const struct upq_table *t, uint64_t token);

/* No slot free: no query can be added. */
static inline bool upqtab_full(const struct upq_table *t)
{
	return t->n_free == 0;
}

/* Add u (its key, key_len and hash set) in a free slot (u->slot); the
 * table must not be full. */
void upqtab_add(struct upq_table *t, struct upq *u);

/* Take u out of the table; its slot is free again. */
void upqtab_remove(struct upq_table *t, struct upq *u);

#endif
