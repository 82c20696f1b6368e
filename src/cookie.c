/*
 * cookie.c - DNS server cookies, RFC 7873 and RFC 9018 (cookie.h).
 */
#include "tierdns/cookie.h"

#include <netinet/in.h>
#include <string.h>
#include <sys/random.h>

#include "tierdns/dnsproto.h"
#include "tierdns/edns.h"
#include "tierdns/siphash.h"

#define COOKIE_VERSION 1

bool cookie_secret_random(uint8_t secret[COOKIE_SECRET_LEN])
{
	return getrandom(secret, COOKIE_SECRET_LEN, 0) == COOKIE_SECRET_LEN;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool cookie_secret_parse(const char *hex, uint8_t secret[COOKIE_SECRET_LEN])
{
	uint8_t s[COOKIE_SECRET_LEN];

	if (strlen(hex) != 2 * COOKIE_SECRET_LEN)
		return false;
	for (size_t i = 0; i < COOKIE_SECRET_LEN; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		s[i] = (uint8_t)(hi << 4 | lo);
	}
	memcpy(secret, s, sizeof(s));
	return true;
}

bool cookie_cfg_init(struct tdns_cookie_cfg *cfg, const char *secret, const char *alt)
{
	memset(cfg, 0, sizeof(*cfg));
	if (secret != NULL ? !cookie_secret_parse(secret, cfg->secret)
			   : !cookie_secret_random(cfg->secret))
		return false;
	cfg->has_alt = alt != NULL && cookie_secret_parse(alt, cfg->alt);
	return alt == NULL || cfg->has_alt;
}

void cookie_make(const uint8_t secret[COOKIE_SECRET_LEN],
		 const uint8_t client[COOKIE_CLIENT_LEN], const struct tdns_addr *peer,
		 uint32_t now, uint8_t out[COOKIE_SERVER_LEN])
{
	uint8_t in[COOKIE_CLIENT_LEN + 8 + 16];
	size_t len = COOKIE_CLIENT_LEN + 8;
	uint64_t h;

	memcpy(in, client, COOKIE_CLIENT_LEN);
	in[8] = COOKIE_VERSION;
	in[9] = in[10] = in[11] = 0;
	dns_wr32(in + 12, now);
	if (peer->ss.ss_family == AF_INET6) {
		memcpy(in + len, ((const struct sockaddr_in6 *)&peer->ss)->sin6_addr.s6_addr, 16);
		len += 16;
	} else {
		memcpy(in + len, &((const struct sockaddr_in *)&peer->ss)->sin_addr.s_addr, 4);
		len += 4;
	}
	h = siphash24(secret, in, len);
	memcpy(out, in + 8, 8);
	/* RFC 9018 4.4 leaves the byte order of the hash to the server; it
	 * only has to match itself. Big-endian, as the other fields. */
	for (int i = 0; i < 8; i++)
		out[8 + i] = (uint8_t)(h >> (56 - 8 * i));
}

/* RFC 9018 4.3: version 1, reserved zero, timestamp no older than the
 * lifetime and no further ahead than the skew, hash from either secret. */
static bool server_cookie_valid(const struct tdns_cookie_cfg *cfg,
				const uint8_t *client, const uint8_t *server,
				size_t slen, const struct tdns_addr *peer, uint32_t now,
				uint32_t *age)
{
	uint8_t want[COOKIE_SERVER_LEN];
	uint32_t ts, d;

	if (slen != COOKIE_SERVER_LEN || server[0] != COOKIE_VERSION ||
	    server[1] != 0 || server[2] != 0 || server[3] != 0)
		return false;
	ts = dns_rd32(server + 4);
	d = now - ts; /* serial arithmetic: mod 2^32 */
	if (d > COOKIE_LIFETIME && ts - now > COOKIE_SKEW)
		return false;
	*age = d <= COOKIE_LIFETIME ? d : 0;
	cookie_make(cfg->secret, client, peer, ts, want);
	if (memcmp(want + 8, server + 8, 8) == 0)
		return true;
	if (!cfg->has_alt)
		return false;
	cookie_make(cfg->alt, client, peer, ts, want);
	return memcmp(want + 8, server + 8, 8) == 0;
}

void cookie_answer(const struct tdns_cookie_cfg *cfg, const struct tdns_qctx *q,
		   const struct tdns_addr *peer, uint32_t now, struct tdns_answer *a)
{
	const uint8_t *client = q->cookie;
	uint32_t age = 0;

	a->cookie_ok = q->cookie_len > COOKIE_CLIENT_LEN &&
		       server_cookie_valid(cfg, client, client + COOKIE_CLIENT_LEN,
					   q->cookie_len - COOKIE_CLIENT_LEN, peer, now,
					   &age);
	memcpy(a->cookie, client, COOKIE_CLIENT_LEN);
	if (a->cookie_ok && age < COOKIE_REFRESH)
		memcpy(a->cookie + COOKIE_CLIENT_LEN, client + COOKIE_CLIENT_LEN,
		       COOKIE_SERVER_LEN);
	else
		cookie_make(cfg->secret, client, peer, now, a->cookie + COOKIE_CLIENT_LEN);
	a->cookie_len = COOKIE_CLIENT_LEN + COOKIE_SERVER_LEN;
}

/* ---- client side ---- */

void cookie_client_make(const uint8_t secret[COOKIE_SECRET_LEN],
			const struct tdns_addr *server, uint8_t out[COOKIE_CLIENT_LEN])
{
	uint64_t h = siphash24(secret, &server->ss, server->len);

	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(h >> (56 - 8 * i));
}

bool cookie_client_add(const uint8_t *q, size_t len, const uint8_t client[COOKIE_CLIENT_LEN],
		       const uint8_t *server, size_t slen, uint8_t *out, size_t cap,
		       size_t *out_len)
{
	uint8_t data[COOKIE_CLIENT_LEN + COOKIE_SERVER_MAX];

	if (slen > COOKIE_SERVER_MAX)
		return false;
	memcpy(data, client, COOKIE_CLIENT_LEN);
	if (slen > 0)
		memcpy(data + COOKIE_CLIENT_LEN, server, slen);
	return edns_opt_append(q, len, DNS_OPT_COOKIE, data, COOKIE_CLIENT_LEN + slen, out,
			       cap, out_len);
}

enum cookie_reply cookie_client_check(const uint8_t *r, size_t len,
				      const uint8_t client[COOKIE_CLIENT_LEN],
				      uint8_t server[COOKIE_SERVER_MAX], size_t *slen)
{
	const uint8_t *o;
	size_t olen;

	*slen = 0;
	if (!edns_opt_find(r, len, DNS_OPT_COOKIE, &o, &olen))
		return COOKIE_REPLY_NONE;
	if (olen < COOKIE_CLIENT_LEN || memcmp(o, client, COOKIE_CLIENT_LEN) != 0)
		return COOKIE_REPLY_FORGED;
	olen -= COOKIE_CLIENT_LEN;
	if (olen < 8 || olen > COOKIE_SERVER_MAX)
		return COOKIE_REPLY_MATCH; /* no usable server cookie */
	memcpy(server, o + COOKIE_CLIENT_LEN, olen);
	*slen = olen;
	return COOKIE_REPLY_MATCH;
}
