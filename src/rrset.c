/*
 * rrset.c - packed RRset values (see rrset.h for the layout).
 */
#include "tierdns/rrset.h"

#include <string.h>

#include "tierdns/dnsproto.h"

enum tdns_status rrset_decode(const uint8_t *val, size_t len,
			      struct tdns_rrset_view *v)
{
	size_t pos = RRSET_HDR_LEN;
	uint16_t count, i;

	if (val == NULL || len < RRSET_HDR_LEN)
		return TDNS_EINVAL;
	count = dns_rd16(val + 4);
	for (i = 0; i < count; i++) {
		size_t rdlen;

		if (len - pos < 2)
			return TDNS_EINVAL;
		rdlen = dns_rd16(val + pos);
		pos += 2;
		if (len - pos < rdlen)
			return TDNS_EINVAL;
		pos += rdlen;
	}
	/* Trailing bytes mean the count lies. */
	if (pos != len)
		return TDNS_EINVAL;
	v->ttl = dns_rd32(val);
	v->count = count;
	v->data = val + RRSET_HDR_LEN;
	v->data_len = len - RRSET_HDR_LEN;
	return TDNS_OK;
}

int rrset_next(const struct tdns_rrset_view *v, size_t *pos,
	       const uint8_t **rdata, uint16_t *rdlen)
{
	uint16_t n;

	/* The view was validated by rrset_decode; re-check anyway so a
	 * hand-made view can never walk out of bounds. */
	if (*pos >= v->data_len || v->data_len - *pos < 2)
		return 0;
	n = dns_rd16(v->data + *pos);
	if (v->data_len - *pos - 2 < n)
		return 0;
	*rdata = v->data + *pos + 2;
	*rdlen = n;
	*pos += 2 + (size_t)n;
	return 1;
}

void rrset_enc_init(struct tdns_rrset_enc *e, uint8_t *buf, size_t cap,
		    uint32_t ttl)
{
	e->buf = buf;
	e->cap = cap;
	e->count = 0;
	e->len = 0;
	if (cap < RRSET_HDR_LEN)
		return; /* every add will report TDNS_ESPACE */
	dns_wr32(buf, ttl);
	dns_wr16(buf + 4, 0);
	e->len = RRSET_HDR_LEN;
}

enum tdns_status rrset_enc_add(struct tdns_rrset_enc *e, const uint8_t *rdata,
			       uint16_t rdlen)
{
	if (e->count == UINT16_MAX)
		return TDNS_EINVAL;
	if (e->len < RRSET_HDR_LEN || e->cap - e->len < 2 + (size_t)rdlen)
		return TDNS_ESPACE;
	dns_wr16(e->buf + e->len, rdlen);
	if (rdlen > 0)
		memcpy(e->buf + e->len + 2, rdata, rdlen);
	e->len += 2 + (size_t)rdlen;
	e->count++;
	dns_wr16(e->buf + 4, e->count);
	return TDNS_OK;
}
