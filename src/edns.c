/*
 * edns.c - EDNS options of raw messages (edns.h).
 */
#include "tierdns/edns.h"

#include <string.h>

#include "tierdns/dnsproto.h"

#define RR_FIXED 10 /* type, class, TTL, RDLENGTH after the owner */

/* Past the (possibly compressed) name at m[pos]; 0 when it runs out. Where
 * a pointer leads is not followed: it always ends the name. */
static size_t skip_name(const uint8_t *m, size_t len, size_t pos)
{
	while (pos < len) {
		uint8_t c = m[pos];

		if (c == 0)
			return pos + 1;
		if ((c & 0xc0) == 0xc0)
			return pos + 2 <= len ? pos + 2 : 0;
		if (c > 63)
			return 0;
		pos += (size_t)c + 1;
	}
	return 0;
}

bool edns_opt_append(const uint8_t *q, size_t len, uint16_t code, const uint8_t *data,
		     size_t dlen, uint8_t *out, size_t cap, size_t *out_len)
{
	size_t pos, opt, rdlen, add = 4 + dlen;

	if (len < DNS_HDR_LEN || dns_rd16(q + 4) != 1 || dns_rd16(q + 6) != 0 ||
	    dns_rd16(q + 8) != 0 || dns_rd16(q + 10) != 1 || dlen > 0xffff)
		return false;
	pos = skip_name(q, len, DNS_HDR_LEN);
	if (pos == 0 || len - pos < 4 + RR_FIXED + 1)
		return false;
	opt = pos + 4;
	if (q[opt] != 0 || dns_rd16(q + opt + 1) != DNS_TYPE_OPT)
		return false;
	rdlen = dns_rd16(q + opt + 1 + 8);
	if (opt + 1 + RR_FIXED + rdlen != len || len + add > cap || rdlen + add > 0xffff)
		return false;
	for (size_t p = opt + 1 + RR_FIXED; p + 4 <= len; p += 4 + (size_t)dns_rd16(q + p + 2))
		if (dns_rd16(q + p) == code)
			return false;
	memcpy(out, q, len);
	dns_wr16(out + opt + 1 + 8, (uint16_t)(rdlen + add));
	dns_wr16(out + len, code);
	dns_wr16(out + len + 2, (uint16_t)dlen);
	if (dlen > 0)
		memcpy(out + len + 4, data, dlen);
	*out_len = len + add;
	return true;
}

bool edns_opt_find(const uint8_t *m, size_t len, uint16_t code, const uint8_t **data,
		   size_t *dlen)
{
	size_t pos = DNS_HDR_LEN, n, i, rdlen, olen;

	if (len < DNS_HDR_LEN)
		return false;
	for (i = 0; i < dns_rd16(m + 4); i++) {
		pos = skip_name(m, len, pos);
		if (pos == 0 || len - pos < 4)
			return false;
		pos += 4;
	}
	n = (size_t)dns_rd16(m + 6) + dns_rd16(m + 8) + dns_rd16(m + 10);
	for (i = 0; i < n; i++) {
		pos = skip_name(m, len, pos);
		if (pos == 0 || len - pos < RR_FIXED)
			return false;
		rdlen = dns_rd16(m + pos + 8);
		if (len - pos - RR_FIXED < rdlen)
			return false;
		if (dns_rd16(m + pos) == DNS_TYPE_OPT) {
			const uint8_t *o = m + pos + RR_FIXED;

			for (size_t p = 0; p + 4 <= rdlen; p += 4 + olen) {
				olen = dns_rd16(o + p + 2);
				if (p + 4 + olen > rdlen)
					return false;
				if (dns_rd16(o + p) == code) {
					*data = o + p + 4;
					*dlen = olen;
					return true;
				}
			}
			return false;
		}
		pos += RR_FIXED + rdlen;
	}
	return false;
}
