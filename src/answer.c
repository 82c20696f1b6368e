/*
 * answer.c - the answer descriptor (answer.h): plain bookkeeping, no I/O,
 * no allocation.
 */
#include "tierdns/answer.h"

#include <string.h>

void answer_reset(struct tdns_answer *a)
{
	a->rcode = 0;
	a->aa = false;
	a->ra = false;
	a->tc = false;
	a->has_ede = false;
	a->wildcard = false;
	a->ad = false;
	a->dnssec = 0;
	a->cookie_ok = false;
	a->cookie_len = 0;
	a->keepalive = 0;
	a->zone_klen = 0;
	a->replay = NULL;
	a->ede_code = 0;
	a->ede_text_len = 0;
	a->n = 0;
	a->arena_len = 0;
}

void answer_restart(struct tdns_answer *a)
{
	bool ra = a->ra, cookie_ok = a->cookie_ok;
	uint8_t cookie_len = a->cookie_len;
	uint16_t keepalive = a->keepalive;

	answer_reset(a);
	a->ra = ra;
	a->cookie_ok = cookie_ok;
	a->cookie_len = cookie_len; /* the bytes were left in place */
	a->keepalive = keepalive;
}

void answer_truncate(struct tdns_answer *a)
{
	a->n = 0;
	a->tc = true;
}

struct tdns_ans_rrset *answer_add(struct tdns_answer *a, enum ans_section sec,
				  const uint8_t *owner, uint16_t type,
				  uint16_t rclass, uint32_t ttl, uint16_t skip,
				  uint16_t count, const uint8_t *rdata,
				  size_t rdata_len)
{
	struct tdns_ans_rrset *e;

	if (a->n == ANS_MAX_RRSETS) {
		a->tc = true;
		return NULL;
	}
	e = &a->rrsets[a->n++];
	e->owner = owner;
	e->rdata = rdata;
	e->rdata_len = rdata_len;
	e->ttl = ttl;
	e->type = type;
	e->rclass = rclass;
	e->count = count;
	e->section = (uint8_t)sec;
	e->skip = skip;
	e->flags = 0;
	return e;
}

const uint8_t *answer_keep(struct tdns_answer *a, const void *p, size_t n)
{
	uint8_t *dst;

	if (ANS_ARENA - a->arena_len < n)
		return NULL;
	dst = a->arena + a->arena_len;
	memcpy(dst, p, n);
	a->arena_len += n;
	return dst;
}

const uint8_t *answer_name_from_key(struct tdns_answer *a, const uint8_t *key,
				    size_t klen)
{
	uint8_t wire[NAME_WIRE_MAX];
	size_t wlen = 0;

	if (name_key_to_wire(key, klen, wire, &wlen) != TDNS_OK)
		return NULL;
	return answer_keep(a, wire, wlen);
}

size_t answer_count(const struct tdns_answer *a, enum ans_section sec)
{
	size_t i, n = 0;

	for (i = 0; i < a->n; i++)
		n += a->rrsets[i].section == sec;
	return n;
}

void answer_set_ede(struct tdns_answer *a, uint16_t ede_code, const char *text)
{
	size_t len = text != NULL ? strlen(text) : 0;

	if (len > ANS_EDE_TEXT_MAX)
		len = ANS_EDE_TEXT_MAX;
	a->has_ede = true;
	a->ede_code = ede_code;
	a->ede_text_len = (uint8_t)len;
	if (len > 0)
		memcpy(a->ede_text, text, len);
}

void answer_fail(struct tdns_answer *a, uint16_t rcode, uint16_t ede_code,
		 const char *text)
{
	a->n = 0;
	a->replay = NULL;
	a->aa = false;
	a->ad = false;
	a->tc = false;
	a->rcode = rcode;
	answer_set_ede(a, ede_code, text);
}

void answer_minimal_any(struct tdns_answer *a)
{
	size_t i, j, kept = 0;

	for (i = 0, j = 0; i < a->n; i++) {
		if (a->rrsets[i].section == ANS_ANSWER && kept++ > 0)
			continue;
		a->rrsets[j++] = a->rrsets[i];
	}
	a->n = j;
}
