/*
 * rrset.c - packed RRset values (see rrset.h for the layout).
 */
#include "tierdns/rrset.h"

#include <stdbool.h>
#include <string.h>

#include "tierdns/dnsproto.h"

/* Step over count records from val[*pos]; false if one overruns len. */
static bool skip_records(const uint8_t *val, size_t len, size_t *pos,
			 uint16_t count)
{
	uint16_t i;

	for (i = 0; i < count; i++) {
		size_t rdlen;

		if (len - *pos < 2)
			return false;
		rdlen = dns_rd16(val + *pos);
		*pos += 2;
		if (len - *pos < rdlen)
			return false;
		*pos += rdlen;
	}
	return true;
}

enum tdns_status rrset_decode(const uint8_t *val, size_t len,
			      struct tdns_rrset_view *v)
{
	size_t pos = RRSET_HDR_LEN, end;
	uint16_t count;

	if (val == NULL || len < RRSET_HDR_LEN)
		return TDNS_EINVAL;
	count = dns_rd16(val + 4);
	if (!skip_records(val, len, &pos, count))
		return TDNS_EINVAL;
	end = pos;
	v->sig_count = 0;
	if (pos != len) {
		/* The signature tail; a tail that does not hold together (or
		 * any other trailing bytes) means the counts lie. */
		if (len - pos < RRSET_HDR_LEN)
			return TDNS_EINVAL;
		v->sig_ttl = dns_rd32(val + pos);
		v->sig_count = dns_rd16(val + pos + 4);
		pos += RRSET_HDR_LEN;
		v->sig_data = val + pos;
		if (v->sig_count == 0 ||
		    !skip_records(val, len, &pos, v->sig_count) || pos != len)
			return TDNS_EINVAL;
		v->sig_len = len - (size_t)(v->sig_data - val);
	}
	v->ttl = dns_rd32(val);
	v->count = count;
	v->data = val + RRSET_HDR_LEN;
	v->data_len = end - RRSET_HDR_LEN;
	return TDNS_OK;
}

void rrset_sigs(const struct tdns_rrset_view *v, struct tdns_rrset_view *out)
{
	memset(out, 0, sizeof(*out));
	if (v->sig_count == 0)
		return;
	out->ttl = v->sig_ttl;
	out->count = v->sig_count;
	out->data = v->sig_data;
	out->data_len = v->sig_len;
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
	e->count_at = 4;
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
	if (rdlen > 0 && rdata != e->buf + e->len + 2)
		memcpy(e->buf + e->len + 2, rdata, rdlen);
	e->len += 2 + (size_t)rdlen;
	e->count++;
	dns_wr16(e->buf + e->count_at, e->count);
	return TDNS_OK;
}

enum tdns_status rrset_enc_sigs(struct tdns_rrset_enc *e, uint32_t sig_ttl)
{
	if (e->count_at != 4)
		return TDNS_EINVAL;
	if (e->len < RRSET_HDR_LEN || e->cap - e->len < RRSET_HDR_LEN)
		return TDNS_ESPACE;
	dns_wr32(e->buf + e->len, sig_ttl);
	dns_wr16(e->buf + e->len + 4, 0);
	e->count_at = e->len + 4;
	e->len += RRSET_HDR_LEN;
	e->count = 0;
	return TDNS_OK;
}
