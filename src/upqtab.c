/*
 * upqtab.c - the table of a resolver's outstanding upstream queries
 * (upqtab.h).
 */
#include "upqtab.h"

#include <stdlib.h>
#include <string.h>

#include "tierdns/dnsproto.h"
#include "tierdns/name.h"

/* FNV-1a over the key: spreads names and types over the buckets. */
uint32_t upqtab_hash(const uint8_t *k, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ k[i]) * 16777619u;
	return h;
}

/* cd: the upstream query goes with CD (validating, for a CD=1 client):
 * its answer is not what a CD=0 query would get from a validating
 * upstream (SERVFAIL for bogus data), nor the other way round, so the two
 * are never joined (RFC 4035 4.9.2, 5; RFC 6840 5.9). */
size_t upqtab_key(const uint8_t *qkey, size_t qkey_len, uint16_t qtype, uint16_t qclass, bool cd,
		  uint8_t *key)
{
	size_t n = name_record_key(qkey, qkey_len, qtype, key);

	dns_wr16(key + n, qclass);
	key[n + 2] = cd ? 1 : 0;
	return n + 3;
}

enum tdns_status upqtab_init(struct upq_table *t, uint32_t n_slots)
{
	memset(t, 0, sizeof(*t));
	t->n_slots = n_slots;
	t->n_buckets = 16;
	while (t->n_buckets < n_slots)
		t->n_buckets *= 2;
	t->slots = calloc(n_slots, sizeof(*t->slots));
	t->free_slots = calloc(n_slots, sizeof(*t->free_slots));
	t->buckets = calloc(t->n_buckets, sizeof(*t->buckets));
	if (t->slots == NULL || t->free_slots == NULL || t->buckets == NULL)
		return TDNS_ENOMEM;
	/* Hand out low slots first: a stack with slot 0 on top. */
	for (uint32_t i = 0; i < n_slots; i++)
		t->free_slots[i] = n_slots - 1 - i;
	t->n_free = n_slots;
	return TDNS_OK;
}

void upqtab_fini(struct upq_table *t)
{
	free(t->slots);
	free(t->free_slots);
	free(t->buckets);
	t->slots = NULL;
	t->free_slots = NULL;
	t->buckets = NULL;
}

struct upq *upqtab_find(const struct upq_table *t, const uint8_t *key, size_t key_len,
			uint32_t hash)
{
	struct upq *u = t->buckets[hash & (t->n_buckets - 1)];

	for (; u != NULL; u = u->hnext)
		if (u->hash == hash && u->key_len == key_len &&
		    memcmp(u->key, key, key_len) == 0)
			return u;
	return NULL;
}

struct upq *upqtab_by_token(const struct upq_table *t, uint64_t token)
{
	uint32_t slot = (uint32_t)(token & 0xffffffffu);
	struct upq *u;

	if (token == 0 || slot >= t->n_slots)
		return NULL;
	u = t->slots[slot];
	return u != NULL && u->token == token ? u : NULL;
}

void upqtab_add(struct upq_table *t, struct upq *u)
{
	uint32_t b;

	u->slot = t->free_slots[--t->n_free];
	t->slots[u->slot] = u;
	b = u->hash & (t->n_buckets - 1);
	u->hnext = t->buckets[b];
	t->buckets[b] = u;
	u->next = t->all;
	if (t->all != NULL)
		t->all->prev = u;
	t->all = u;
	t->n_out++;
}

void upqtab_remove(struct upq_table *t, struct upq *u)
{
	struct upq **pp = &t->buckets[u->hash & (t->n_buckets - 1)];

	while (*pp != u)
		pp = &(*pp)->hnext;
	*pp = u->hnext;
	if (u->prev != NULL)
		u->prev->next = u->next;
	else
		t->all = u->next;
	if (u->next != NULL)
		u->next->prev = u->prev;
	t->slots[u->slot] = NULL;
	t->free_slots[t->n_free++] = u->slot;
	t->n_out--;
}
