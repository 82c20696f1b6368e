/*
 * cookie.h - DNS Cookies (RFC 7873), server side, with the interoperable
 * server cookie of RFC 9018: a server can tell a client that has talked to
 * it before (its source address is real) from a forged one, without state.
 *
 * Server cookie (16 bytes) = Version 1 | Reserved 0 (3 bytes) |
 *   Timestamp (4, seconds, serial arithmetic) |
 *   SipHash-2-4(secret, Client Cookie | Version | Reserved | Timestamp |
 *               Client IP (4 or 16 bytes)) (8).
 * One secret signs; a second (the previous one, during a rollover, or the
 * next one before every server of a fleet has it) is accepted as well, so
 * secrets can be changed without turning cookies of live clients bad.
 * A cookie is valid for an hour, and up to 5 minutes in the future
 * (clock skew between servers sharing a secret), RFC 9018 4.3.
 *
 * What a valid server cookie buys: exemption from rate limiting (rrl.h).
 * Over the limit, a query with only a client cookie (or a bad server
 * cookie) is answered BADCOOKIE with a fresh server cookie where RRL would
 * send a truncated reply (RFC 7873 5.2.3), so the client retries over UDP
 * with the cookie instead of over TCP.
 */
#ifndef TIERDNS_COOKIE_H
#define TIERDNS_COOKIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tierdns/answer.h"
#include "tierdns/netio.h"
#include "tierdns/qctx.h"
#include "tierdns/stats.h"

#define COOKIE_SECRET_LEN 16
#define COOKIE_CLIENT_LEN 8
#define COOKIE_SERVER_LEN 16  /* RFC 9018 */
#define COOKIE_LIFETIME 3600  /* RFC 9018 4.3 */
#define COOKIE_REFRESH 1800   /* a valid cookie older than this is replaced */
#define COOKIE_SKEW 300       /* accepted from the future */

struct tdns_cookie_cfg {
	uint8_t secret[COOKIE_SECRET_LEN];     /* signs and verifies */
	uint8_t alt[COOKIE_SECRET_LEN];        /* verifies only, when has_alt */
	bool has_alt;
};

/* A fresh random secret (getrandom); false when none could be had. */
bool cookie_secret_random(uint8_t secret[COOKIE_SECRET_LEN]);
/* 32 hex digits into secret; false on anything else. */
bool cookie_secret_parse(const char *hex, uint8_t secret[COOKIE_SECRET_LEN]);

/* A server's cookie configuration: secret (32 hex digits, NULL: a random
 * one) signs, alt (NULL: none) is accepted too. False when a secret does
 * not parse or no random one could be had. */
bool cookie_cfg_init(struct tdns_cookie_cfg *cfg, const char *secret, const char *alt);

/* The server cookie for client (8 bytes) at peer, timestamp now. */
void cookie_make(const uint8_t secret[COOKIE_SECRET_LEN],
		 const uint8_t client[COOKIE_CLIENT_LEN], const struct tdns_addr *peer,
		 uint32_t now, uint8_t out[COOKIE_SERVER_LEN]);

/* For a query with a COOKIE (q->cookie_len > 0) from peer at wall-clock
 * second now: check its server cookie (a->cookie_ok) and put the reply's
 * COOKIE option into a: the client cookie and a server cookie (the one
 * received when valid and younger than COOKIE_REFRESH, else a new one). */
void cookie_answer(const struct tdns_cookie_cfg *cfg, const struct tdns_qctx *q,
		   const struct tdns_addr *peer, uint32_t now, struct tdns_answer *a);

/* What one worker's server side counted (written by that worker's thread
 * only, stats.h): queries with a COOKIE by their server cookie, and the
 * BADCOOKIE answers sent. */
struct cookie_counters {
	tdns_counter valid;       /* a valid server cookie */
	tdns_counter bad;         /* a server cookie that is not valid */
	tdns_counter client_only; /* a client cookie only */
	tdns_counter badcookie;   /* BADCOOKIE sent (RFC 7873 5.2.3) */
};

/* Count q's COOKIE as cookie_answer judged it into a. */
static inline void cookie_count(struct cookie_counters *c, const struct tdns_qctx *q,
				const struct tdns_answer *a)
{
	stats_inc(a->cookie_ok ? &c->valid
		  : q->cookie_len > COOKIE_CLIENT_LEN ? &c->bad : &c->client_only);
}

/* ---- client side (RFC 7873 5.1, 5.3): tierdns-local to its upstreams ---- */

/* The client cookie for a server at addr: SipHash-2-4 of the address under
 * secret (RFC 7873 A.2's idea: a different cookie per server, unguessable
 * by anyone without the secret). */
void cookie_client_make(const uint8_t secret[COOKIE_SECRET_LEN],
			const struct tdns_addr *server, uint8_t out[COOKIE_CLIENT_LEN]);

/* Copy the query q[0..len) into out (cap bytes) with a COOKIE option added
 * to its OPT: the client cookie and, when slen > 0, the server cookie the
 * server gave last. *out_len its length. False (out untouched) when q is
 * not a one-question query whose only other record is a last OPT without
 * a COOKIE, or out is too small: then q goes as it is. */
bool cookie_client_add(const uint8_t *q, size_t len, const uint8_t client[COOKIE_CLIENT_LEN],
		       const uint8_t *server, size_t slen, uint8_t *out, size_t cap,
		       size_t *out_len);

enum cookie_reply {
	COOKIE_REPLY_NONE = 0, /* no COOKIE in the reply (a server without) */
	COOKIE_REPLY_MATCH,    /* our client cookie: *slen bytes of server cookie */
	COOKIE_REPLY_FORGED,   /* a COOKIE that is not ours: not the server's reply */
};

/* The COOKIE of the reply r[0..len) against our client cookie; on a match
 * its server cookie (8-32 bytes) into server (COOKIE_SERVER_MAX bytes). A
 * reply that cannot be walked counts as NONE (the parser that reads it
 * later judges it). */
#define COOKIE_SERVER_MAX 32
enum cookie_reply cookie_client_check(const uint8_t *r, size_t len,
				      const uint8_t client[COOKIE_CLIENT_LEN],
				      uint8_t server[COOKIE_SERVER_MAX], size_t *slen);

#endif
