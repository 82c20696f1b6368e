/*
 * auth.h - authoritative answers from a store (RFC 1034 4.3.2, RFC 2308).
 * Bytes in, bytes out: never sees a socket.
 *
 * Used by the upper tier for every query and by the local tier for its
 * static zones (auth_lookup answers AUTH_NOT_AUTH when no zone encloses the
 * name, so the local tier falls through to its cache).
 */
#ifndef TIERDNS_AUTH_H
#define TIERDNS_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ldns/ldns.h>

#include "tierdns/store.h"
#include "tierdns/wire.h"
#include "tierdns/zonedb.h"

struct tdns_auth_cfg {
	const char *version;  /* CHAOS TXT version.bind/version.server; NULL = REFUSED */
	const char *identity; /* CHAOS TXT id.server/hostname.bind; NULL = REFUSED */
};

enum auth_result {
	AUTH_ANSWERED = 0, /* reply filled: rcode, AA, sections */
	AUTH_NOT_AUTH,     /* no zone in the store encloses qname; reply untouched */
};

/* Answer q (class IN) from the zones visible in read transaction t into
 * reply (a wire_reply_new skeleton): closest enclosing zone, AA, the RRset,
 * CNAME chain inside served zones, NXDOMAIN/NODATA with the zone SOA in
 * authority (TTL = min(SOA TTL, MINIMUM)), referrals (AA clear, NS in
 * authority, glue in additional) below zone cuts, wildcards (RFC 4592).
 * Everything added to reply is a copy: reply stays valid after t ends.
 * A store or data error yields AUTH_ANSWERED with rcode SERVFAIL and empty
 * sections. */
enum auth_result auth_lookup(struct tdns_txn *t, const struct tdns_query *q,
			     ldns_pkt *reply);

/* CHAOS-class queries (RFC 4892): fills reply (TXT answer or REFUSED). */
void auth_chaos(const struct tdns_auth_cfg *cfg, const struct tdns_query *q,
		ldns_pkt *reply);

/* The upper tier's whole query path: parse in, answer, render into out
 * (cap >= WIRE_MAX_MSG). Names outside every zone and classes other than
 * IN/CH are REFUSED. Returns false when nothing must be sent. */
bool auth_answer(struct tdns_txn *t, const struct tdns_auth_cfg *cfg,
		 const uint8_t *in, size_t in_len, bool tcp, uint8_t *out,
		 size_t cap, size_t *out_len);

/* Added by perf (backward compatible): the two halves of auth_answer,
 * exposed so that tests can hold one against the other. */

/* The common query (class IN, one uncompressed question, at most an OPT
 * version 0; a name in a served zone with no referral, CNAME or wildcard
 * involved; not ANY, NS, DS, AXFR, IXFR) answered straight from the store
 * into out, without ldns objects: positive answers, NODATA and NXDOMAIN.
 * The reply is the one auth_answer_slow would render, byte for byte.
 * Returns false (out undefined) for anything else, or when the answer
 * would not fit the UDP limit (the slow path truncates). */
bool auth_answer_fast(struct tdns_txn *t, const uint8_t *in, size_t in_len,
		      bool tcp, uint8_t *out, size_t cap, size_t *out_len);

/* The ldns path: every query, as auth_answer documents. */
bool auth_answer_slow(struct tdns_txn *t, const struct tdns_auth_cfg *cfg,
		      const uint8_t *in, size_t in_len, bool tcp, uint8_t *out,
		      size_t cap, size_t *out_len);

/* Added by uperf (backward compatible): auth_answer and auth_answer_fast
 * with a per-worker zone list cache (zonedb.h; NULL: none), which spares
 * the store lookups that find the query's zone and, in zones without
 * delegations, the search for a zone cut. Same replies, byte for byte. */
bool auth_answer_cached(struct zonedb_cache *zc, struct tdns_txn *t,
			const struct tdns_auth_cfg *cfg, const uint8_t *in,
			size_t in_len, bool tcp, uint8_t *out, size_t cap,
			size_t *out_len);
bool auth_answer_fast_cached(struct zonedb_cache *zc, struct tdns_txn *t,
			     const uint8_t *in, size_t in_len, bool tcp,
			     uint8_t *out, size_t cap, size_t *out_len);

#endif
