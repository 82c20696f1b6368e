/*
 * pool.h - a bounded stack of freed objects of one size, reused instead of
 * a free and a malloc per query on the miss path (held client handles, out
 * sockets, upstream attempts: each miss takes and releases one of each).
 *
 * A pool belongs to one owner on one thread (a loop, an upstream); it
 * keeps at most POOL_MAX objects, so memory stays bounded by the peak of
 * objects in use plus POOL_MAX.
 */
#ifndef TIERDNS_POOL_H
#define TIERDNS_POOL_H

#include <stddef.h>

#define POOL_MAX 256

struct tdns_pool {
	void *items[POOL_MAX];
	unsigned n;
};

/* size bytes of zeroed memory: a kept object (every one in the pool must
 * have been size bytes) or a fresh one. NULL when out of memory. */
void *pool_get(struct tdns_pool *p, size_t size);
/* Keep obj for the next pool_get, or free it when the pool is full. The
 * caller has released whatever obj points to. NULL is allowed. */
void pool_put(struct tdns_pool *p, void *obj);
/* Free every kept object (the pool stays usable, empty). */
void pool_drain(struct tdns_pool *p);

#endif
