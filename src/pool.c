/*
 * pool.c - bounded reuse of freed objects (pool.h).
 */
#include "tierdns/pool.h"

#include <stdlib.h>
#include <string.h>

void *pool_get(struct tdns_pool *p, size_t size)
{
	void *obj;

	if (p->n == 0)
		return calloc(1, size);
	obj = p->items[--p->n];
	memset(obj, 0, size);
	return obj;
}

void pool_put(struct tdns_pool *p, void *obj)
{
	if (obj == NULL)
		return;
	if (p->n < POOL_MAX)
		p->items[p->n++] = obj;
	else
		free(obj);
}

void pool_drain(struct tdns_pool *p)
{
	while (p->n > 0)
		free(p->items[--p->n]);
}
