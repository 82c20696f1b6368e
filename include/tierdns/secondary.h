/*
 * secondary.h - tierdns-upper as a secondary (RFC 1034 4.3.5, RFC 1995,
 * RFC 1996, RFC 5936): zones kept in step with their primaries.
 *
 * Per zone: its primaries (tried in order) and an optional TSIG key for
 * all of them, which signs the transfer queries (and the answers must
 * verify; the SOA queries go unsigned). The SOA's refresh, retry and expire drive the timers: every
 * refresh (retry after a failure) seconds, and at once after a NOTIFY from
 * one of the primaries or when the store lacks the zone, an SOA query
 * (UDP); a newer serial there starts a transfer over TCP: IXFR with the
 * stored SOA (RFC 1995), AXFR when the zone is absent or the primary
 * answers in AXFR form. The whole transfer is received first, then
 * applied in one write transaction (zoneload.h: the old zone or the new
 * one; it goes into the journal, so this server can feed secondaries of
 * its own); a transfer that breaks off changes nothing. A zone without
 * contact for its SOA's expire time answers SERVFAIL
 * (secondary_expired) and the log says so, until a primary answers again.
 *
 * One secondary runs on one loop (sockets and timers of that loop) with
 * its own store transactions. secondary_notify and secondary_expired may
 * be called from any thread.
 */
#ifndef TIERDNS_SECONDARY_H
#define TIERDNS_SECONDARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tierdns/netio.h"
#include "tierdns/status.h"
#include "tierdns/store.h"
#include "tierdns/tsig.h"

#define SECONDARY_TICK_MS 100
#define SECONDARY_QUERY_MS 2000     /* an SOA query's answer */
#define SECONDARY_XFR_IDLE_MS 10000 /* a transfer's silence before it is given up */

/* One zone (borrowed: lives as long as the secondary). */
struct secondary_zone {
	const uint8_t *apex;
	size_t apex_len;
	const struct tdns_addr *primaries;
	unsigned n_primaries;
	const struct tdns_tsig_key *key; /* NULL: unsigned */
};

struct tdns_secondary;

enum tdns_status secondary_new(struct tdns_loop *l, struct tdns_store *s,
			       const struct secondary_zone *zones, size_t n,
			       struct tdns_secondary **out);
/* NULL is allowed. */
void secondary_free(struct tdns_secondary *sec);

enum secondary_notify {
	SECONDARY_NOTIFY_OK = 0,   /* an SOA check starts at once */
	SECONDARY_NOTIFY_REFUSED,  /* not from one of the zone's primaries */
	SECONDARY_NOTIFY_NOTAUTH,  /* not a zone we are secondary for */
};
/* A NOTIFY for the zone with apex key from peer (RFC 1996 3.10: only
 * from the zone's primaries). Any thread. */
enum secondary_notify secondary_notify(struct tdns_secondary *sec, const uint8_t *apex,
				       size_t apex_len, const struct tdns_addr *peer);

/* tierdns-control zone reload: an SOA check of the secondary zone with
 * apex key starts at once, as after a NOTIFY (and a transfer if the
 * primary has a newer serial). false when it is no secondary zone. Any
 * thread. */
bool secondary_refresh(struct tdns_secondary *sec, const uint8_t *apex, size_t apex_len);

/* For tierdns-control zone status: the zone's primaries, serial, last and
 * next refresh and whether it expired, as "key: value" lines on out. false
 * (nothing written) when it is no secondary zone. Any thread. */
bool secondary_status(const struct tdns_secondary *sec, const uint8_t *apex,
		      size_t apex_len, FILE *out);

/* True when the zone with apex key is a secondary zone past its expire
 * time. Any thread; sec may be NULL (false). */
bool secondary_expired(const struct tdns_secondary *sec, const uint8_t *apex,
		       size_t apex_len);

#endif
