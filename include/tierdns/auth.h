/*
 * auth.h - authoritative answers from a store (RFC 1034 4.3.2, RFC 2308).
 * Fills an answer descriptor (answer.h); never sees a socket or writes
 * bytes (encode.h does).
 *
 * Used by the upper tier for every query and by the local tier for its
 * static zones (auth_lookup answers AUTH_NOT_AUTH when no zone encloses the
 * name, so the local tier falls through to its cache).
 *
 * Everything the lookup adds to the answer borrows from the read
 * transaction t: keep it open until the answer is encoded.
 */
#ifndef TIERDNS_AUTH_H
#define TIERDNS_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tierdns/answer.h"
#include "tierdns/cookie.h"
#include "tierdns/netio.h"
#include "tierdns/qctx.h"
#include "tierdns/rrl.h"
#include "tierdns/secondary.h"
#include "tierdns/store.h"
#include "tierdns/zonedb.h"

enum auth_xfr_verdict {
	AUTH_XFR_REFUSE = 0, /* REFUSED */
	AUTH_XFR_ALLOW,
	AUTH_XFR_BADSIG,     /* a TSIG that does not verify: NOTAUTH (RFC 8945 5.2) */
};

struct tdns_auth_cfg {
	const char *version;  /* CHAOS TXT version.bind/version.server; NULL = REFUSED */
	const char *identity; /* CHAOS TXT id.server/hostname.bind; NULL = REFUSED */
	struct tdns_rrl *rrl; /* response rate limiting of UDP answers; NULL: off */
	const struct tdns_cookie_cfg *cookies; /* DNS cookies; NULL: off */
	/* Zone transfers: may peer AXFR/IXFR the zone with this apex key,
	 * asking with message msg[0..len) (its TSIG)? NULL: nobody may
	 * (REFUSED), and answers to TSIG-signed queries are not flagged
	 * (auth_client tsig). Called on the worker threads. */
	enum auth_xfr_verdict (*xfr_allowed)(const void *ctx, const uint8_t *apex,
					     size_t apex_len, const struct tdns_addr *peer,
					     const uint8_t *msg, size_t len);
	const void *xfr_ctx;
	/* The zones this server is a secondary for (secondary.h): NOTIFY
	 * from their primaries, SERVFAIL once expired. NULL: none (NOTIFY
	 * is then NOTIMP). */
	struct tdns_secondary *secondary;
	bool full_any;        /* ANY over UDP with every RRset; false: one
			       * (RFC 8482, auth_query) */
};

/* What the answer stages of one worker counted: rate limiting and the
 * server cookies of queries with a COOKIE (cookie.h). Written by that
 * worker's thread only (stats.h). */
struct auth_counters {
	struct rrl_counters rrl;
	struct cookie_counters cookies;
};

/* Who asked, for auth_answer_from: the transport, the peer, the calling
 * worker's counters (both may be NULL: no RRL, no counting) and, on TCP,
 * the idle timeout a keepalive option advertises. */
struct auth_client {
	const struct tdns_addr *peer;
	bool tcp;               /* a stream: TCP, or TLS over TCP */
	struct auth_counters *counters;
	uint16_t keepalive; /* TCP: netio_request_keepalive, for RFC 7828 */
	bool tls;           /* DNS over TLS (the answer is padded) */
	/* TCP, may be NULL: set to true when the query is an AXFR or IXFR the
	 * peer may have; nothing is answered then (auth_answer_from returns
	 * false) and the caller streams the transfer (xfr.h). */
	bool *xfr;
	/* May be NULL: set to true when the query had a TSIG record, so that
	 * the caller checks it and signs the answer (tsig.h). */
	bool *tsig;
};

enum auth_result {
	AUTH_ANSWERED = 0, /* answer filled: rcode, AA, sections */
	AUTH_NOT_AUTH,     /* no zone in the store encloses qname; a untouched */
};

/*
 * Answer q (class IN) from the zones visible in read transaction t into a
 * (an answer_reset descriptor): closest enclosing zone, AA, the RRset,
 * CNAME chain inside served zones, NXDOMAIN/NODATA with the zone SOA in
 * authority (TTL = min(SOA TTL, MINIMUM)), referrals (AA clear, NS in
 * authority, glue in additional) below zone cuts, wildcards (RFC 4592).
 * zc (zonedb.h, may be NULL) spares the store lookups that find the zone.
 * A store or data error is never an answer: it yields AUTH_ANSWERED with
 * rcode SERVFAIL, no records and an EDE, and is logged.
 */
enum auth_result auth_lookup(struct zonedb_cache *zc, struct tdns_txn *t,
			     const struct tdns_qctx *q, struct tdns_answer *a);

/* CHAOS-class queries (RFC 4892): a TXT answer or REFUSED. */
void auth_chaos(const struct tdns_auth_cfg *cfg, const struct tdns_qctx *q,
		struct tdns_answer *a);

/* The upper tier's QUERY stage: class CH to auth_chaos, other classes
 * than IN and zone transfers REFUSED (auth_answer_from lets the allowed
 * ones through), names outside every zone REFUSED, the rest auth_lookup. */
void auth_query(struct zonedb_cache *zc, struct tdns_txn *t,
		const struct tdns_auth_cfg *cfg, const struct tdns_qctx *q,
		struct tdns_answer *a);

/* The upper tier's whole path for one message (pipeline.h with
 * auth_query as the QUERY stage): parse in, answer, encode into out
 * (cap >= QCTX_MAX_MSG). t NULL (no snapshot could be taken): every query
 * is answered SERVFAIL. Returns false when nothing must be sent. */
bool auth_answer(struct zonedb_cache *zc, struct tdns_txn *t,
		 const struct tdns_auth_cfg *cfg, const uint8_t *in,
		 size_t in_len, bool tcp, uint8_t *out, size_t cap,
		 size_t *out_len);

/* auth_answer for a known client: with cfg->cookies and a peer, a query
 * with a COOKIE gets one back (cookie.h); with cfg->rrl and a UDP peer,
 * every answer to a QUERY without a valid server cookie first passes the
 * rate limit (rrl.h), which may drop it, send it truncated, or (to a
 * client that sent a cookie) answer BADCOOKIE instead. */
bool auth_answer_from(struct zonedb_cache *zc, struct tdns_txn *t,
		      const struct tdns_auth_cfg *cfg, const struct auth_client *cl,
		      const uint8_t *in, size_t in_len, uint8_t *out, size_t cap,
		      size_t *out_len);

#endif
