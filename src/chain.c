/*
 * chain.c - one validation's fetched DNSKEY/DS answers (chain.h).
 */
#include "tierdns/chain.h"

#include <stdlib.h>
#include <string.h>

struct tdns_chain *chain_new(void)
{
	return calloc(1, sizeof(struct tdns_chain));
}

/* Forget the fetched answers. */
static void got_clear(struct tdns_chain *c)
{
	for (size_t i = 0; i < c->n_got; i++)
		cache_value_clear(&c->got[i].v);
	c->n_got = 0;
}

void chain_free(struct tdns_chain *c)
{
	if (c == NULL)
		return;
	got_clear(c);
	cache_value_clear(&c->pending);
	free(c);
}

void chain_begin(struct tdns_chain *c, struct tdns_cache_value *v)
{
	got_clear(c);
	cache_value_clear(&c->pending);
	c->pending = *v;
	memset(v, 0, sizeof(*v));
	c->waiting = false;
}

void chain_take(struct tdns_chain *c, struct tdns_cache_value *v)
{
	*v = c->pending;
	memset(&c->pending, 0, sizeof(c->pending));
	c->waiting = false;
}

/* valid_lookup_fn over the fetched answers. */
static bool got_lookup(void *ctx, const uint8_t *name, size_t name_len, uint16_t type,
		       const uint8_t **val, size_t *vlen)
{
	const struct tdns_chain *c = ctx;

	for (size_t i = 0; i < c->n_got; i++) {
		const struct chain_got *g = &c->got[i];

		if (g->type == type && g->name_len == name_len &&
		    memcmp(g->name, name, name_len) == 0) {
			*val = g->v.data;
			*vlen = g->v.len;
			return true;
		}
	}
	return false;
}

enum valid_step chain_check(struct tdns_chain *c, const struct tdns_anchors *ta,
			    const uint8_t *qname, size_t qname_len, uint16_t qtype,
			    uint64_t now)
{
	enum valid_step step;

	c->waiting = false;
	step = valid_check(ta, qname, qname_len, qtype, c->pending.data, c->pending.len, now,
			   got_lookup, c, &c->last);
	if (step == VALID_NEED && c->n_got == CHAIN_GOT_MAX) {
		memset(&c->last, 0, sizeof(c->last));
		c->last.status = VALID_BOGUS;
		c->last.ede = EDE_DNSSEC_BOGUS;
		strcpy(c->last.why, "chain of trust too long");
		return VALID_DONE;
	}
	c->waiting = step == VALID_NEED;
	return step;
}

enum tdns_status chain_got(struct tdns_chain *c, const uint8_t *val, size_t vlen)
{
	struct chain_got *g;

	if (c->n_got == CHAIN_GOT_MAX)
		return TDNS_ESPACE;
	g = &c->got[c->n_got];
	g->v.data = malloc(vlen > 0 ? vlen : 1);
	if (g->v.data == NULL)
		return TDNS_ENOMEM;
	memcpy(g->v.data, val, vlen);
	g->v.len = vlen;
	memcpy(g->name, c->last.need_name, c->last.need_len);
	g->name_len = c->last.need_len;
	g->type = c->last.need_type;
	c->n_got++;
	c->waiting = false;
	return TDNS_OK;
}
