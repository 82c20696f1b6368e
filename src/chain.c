/*
 * chain.c - one validation's fetched DNSKEY/DS answers (chain.h).
 */
#include "tierdns/chain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tierdns/dnsproto.h"

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
	c->failed[0] = '\0';
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
	if (step == VALID_DONE && c->last.status == VALID_BOGUS && c->failed[0] != '\0') {
		char why[2 * VALID_WHY_MAX + 2];

		/* the failed fetch first: it is the cause (cut to fit) */
		snprintf(why, sizeof(why), "%s; %s", c->failed, c->last.why);
		memcpy(c->last.why, why, VALID_WHY_MAX - 1);
		c->last.why[VALID_WHY_MAX - 1] = '\0';
	}
	return step;
}

/* Keep v (taken) as the answer to what c->last needed. */
static enum tdns_status got_keep(struct tdns_chain *c, struct tdns_cache_value *v)
{
	struct chain_got *g;

	if (c->n_got == CHAIN_GOT_MAX) {
		cache_value_clear(v);
		return TDNS_ESPACE;
	}
	g = &c->got[c->n_got];
	g->v = *v;
	memset(v, 0, sizeof(*v));
	memcpy(g->name, c->last.need_name, c->last.need_len);
	g->name_len = c->last.need_len;
	g->type = c->last.need_type;
	c->n_got++;
	c->waiting = false;
	return TDNS_OK;
}

enum tdns_status chain_got(struct tdns_chain *c, const uint8_t *val, size_t vlen)
{
	struct tdns_cache_value v = { 0 };

	if (c->n_got == CHAIN_GOT_MAX)
		return TDNS_ESPACE;
	v.data = malloc(vlen > 0 ? vlen : 1);
	if (v.data == NULL)
		return TDNS_ENOMEM;
	memcpy(v.data, val, vlen);
	v.len = vlen;
	return got_keep(c, &v);
}

enum tdns_status chain_failed(struct tdns_chain *c, const char *why)
{
	struct tdns_cache_value v = { 0 };
	ldns_rdf *name;
	char *text, *type;
	enum tdns_status st;

	if (c->n_got == CHAIN_GOT_MAX)
		return TDNS_ESPACE;
	st = cache_value_none(DNS_RCODE_SERVFAIL, &v);
	if (st != TDNS_OK)
		return st;
	cache_value_set_status(&v, VALID_BOGUS, EDE_DNSKEY_MISSING, 0);
	if (c->failed[0] == '\0') {
		name = ldns_dname_new_frm_data((uint16_t)c->last.need_len, c->last.need_name);
		text = name != NULL ? ldns_rdf2str(name) : NULL;
		type = ldns_rr_type2str((ldns_rr_type)c->last.need_type);
		snprintf(c->failed, sizeof(c->failed), "failed to fetch %s %s (%s)",
			 text != NULL ? text : "?", type != NULL ? type : "?", why);
		free(type);
		free(text);
		ldns_rdf_deep_free(name);
	}
	return got_keep(c, &v);
}
