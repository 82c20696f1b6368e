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
 * applied in one write transaction: an AXFR replaces the zone
 * (zoneload.h: the old zone or the new one), an IXFR's difference
 * sequences change only the RRsets they name (zoneload_diff), at the cost
 * of the change, not of the zone; either goes into the journal, so this
 * server can feed secondaries of its own, and a parent zone held in the
 * same store whose delegation to this one changed follows it in the same
 * transaction (zonesign_follow_cut: its serial and journal). An AXFR's records are spooled
 * (in wire form) to an unlinked temporary file in $TMPDIR (else /tmp) as
 * they arrive, not held in memory, and loaded from it at the closing SOA.
 * A transfer that breaks off, stays silent for SECONDARY_XFR_IDLE_MS,
 * takes longer than its zone's xfr_time_s or carries more than its
 * xfr_size_max changes nothing, and the next primary is tried; an IXFR
 * that does not apply to the zone held (a deleted record is not there)
 * changes nothing and the next transfer is an AXFR. A zone not refreshed
 * for its SOA's expire time answers SERVFAIL (secondary_expired) and the
 * log says so, until a refresh succeeds again. A refresh is an SOA query
 * that finds the serial current, or a transfer that completes: a primary
 * that answers but never completes a newer version, or answers an older
 * serial (its failure: the next primary is tried), does not keep the
 * zone from expiring (BIND's rule). The store sink keeps the time of the
 * last refresh, so that a restart counts from it.
 *
 * Where the zones are kept is a sink (struct secondary_sink): the store by
 * default (secondary_new: the upper's secondary zones, as above), or the
 * caller's (secondary_new_sink: tierdns-local keeps the response policy
 * zones it transfers in its policy). The timers, SOA checks, transfers,
 * TSIG and NOTIFY are the same for both.
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

/* stdbool.h first (zoneload.h says why). */
#include <ldns/ldns.h>

#include "tierdns/answer.h"
#include "tierdns/netio.h"
#include "tierdns/qctx.h"
#include "tierdns/status.h"
#include "tierdns/store.h"
#include "tierdns/tsig.h"

#define SECONDARY_TICK_MS 100
#define SECONDARY_QUERY_MS 2000     /* an SOA query's answer */
#define SECONDARY_XFR_IDLE_MS 10000 /* a transfer's silence before it is given up */
#define SECONDARY_XFR_TIME_S 7200   /* a transfer's whole time, by default */

/* One zone (borrowed: lives as long as the secondary). */
struct secondary_zone {
	const uint8_t *apex;
	size_t apex_len;
	const struct tdns_addr *primaries;
	unsigned n_primaries;
	const struct tdns_tsig_key *key; /* NULL: unsigned */
	/* transfer-source: the local address of the SOA queries and
	 * transfers (netio_out_udp_from); NULL: the kernel's choice */
	const struct tdns_addr *source;
	/* A transfer is given up (the next primary is tried) once it has
	 * taken xfr_time_s seconds (0: SECONDARY_XFR_TIME_S), or once its
	 * messages come to more than xfr_size_max bytes (0: no limit). */
	unsigned xfr_time_s;
	uint64_t xfr_size_max;
};

struct tdns_secondary;

/* What a sink holds of a zone: its SOA's serial and timers. Without a
 * zone, a timer left 0 is RFC 1912's usual value (refresh 3600, retry
 * 600, expire 604800). */
struct secondary_held {
	bool have;          /* false: no zone yet (the first transfer is AXFR) */
	uint32_t serial, refresh, retry, expire;
	uint64_t since;     /* when it was stored (epoch s); 0: unknown */
};

/*
 * Where a secondary keeps its zones; zone i is zones[i] of secondary_new_sink.
 * Called on the secondary's loop thread.
 *   held:  the zone's SOA values (have false when it holds none), and
 *          since when (its last transfer or refreshed, the later);
 *   refreshed: an SOA query found the zone current at when (epoch s),
 *          for held's since after a restart; NULL: not kept;
 *   apply: replace the zone by the whole new zone, whose records
 *          u->next gives (struct secondary_update): TDNS_OK once the
 *          new zone is in use (the sink logs it), else the old one stays
 *          and err (cap bytes) says why (the secondary logs it and retries
 *          after the SOA's retry time);
 *   apply_diff: an IXFR's difference sequences (struct secondary_diff),
 *          applied all or none to the zone held: TDNS_OK once the new
 *          version is in use (the sink logs it), else the old one stays,
 *          err says why and the next transfer is an AXFR. NULL: the sink
 *          has none, and an IXFR is applied through text and apply;
 *   text:  the zone as master-file text, SOA first (malloc'd, the caller
 *          frees it), for an IXFR to be applied to when the sink has no
 *          apply_diff; NULL when it cannot (or with apply_diff: unused).
 * label starts the log lines ("secondary", "rpz"); on_expire says what
 * happens when no primary answered for the expire time; status_what
 * starts secondary_status's first line ("secondary of").
 */
struct secondary_update {
	const char *name;   /* the zone ("example.") */
	/* The new zone's records, SOA first, once through: u->next(u->it,
	 * &rr) gives the next in *rr (the sink frees it), NULL after the
	 * last; false when it cannot be read (nothing is applied then). An
	 * AXFR's are read back from the file they were spooled to. The
	 * signature is zoneload_next_fn's. */
	bool (*next)(void *it, ldns_rr **rr);
	void *it;
	const char *how;    /* "AXFR" or "IXFR" */
	uint32_t serial;    /* its SOA serial */
	size_t records;     /* records the transfer carried */
};
/* One difference sequence of RFC 1995 4; the records borrowed for the call. */
struct secondary_seq {
	ldns_rr *const *del; /* the records deleted, the old SOA first */
	size_t n_del;
	ldns_rr *const *add; /* the records added, the new SOA first */
	size_t n_add;
};
struct secondary_diff {
	const char *name;                /* the zone ("example.") */
	uint32_t serial;                 /* the new SOA serial */
	const struct secondary_seq *seq; /* from the serial held to serial, in order */
	size_t n_seq;
};
struct secondary_sink {
	void (*held)(void *ctx, size_t i, struct secondary_held *out);
	void (*refreshed)(void *ctx, size_t i, uint64_t when);
	char *(*text)(void *ctx, size_t i);
	enum tdns_status (*apply)(void *ctx, size_t i, const struct secondary_update *u,
				  char *err, size_t cap);
	enum tdns_status (*apply_diff)(void *ctx, size_t i, const struct secondary_diff *d,
				       char *err, size_t cap);
	const char *label;
	const char *on_expire;
	const char *status_what;
	void *ctx;
};

/* The upper's secondary zones, kept in store s. */
enum tdns_status secondary_new(struct tdns_loop *l, struct tdns_store *s,
			       const struct secondary_zone *zones, size_t n,
			       struct tdns_secondary **out);
/* Zones kept in sink (copied; its ctx borrowed, as zones are). */
enum tdns_status secondary_new_sink(struct tdns_loop *l, const struct secondary_sink *sink,
				    const struct secondary_zone *zones, size_t n,
				    struct tdns_secondary **out);

/* The zone of u as master-file text, SOA first (malloc'd: the caller
 * frees it), for a sink that keeps text; NULL when it cannot be read or
 * out of memory. Reads u's records (once). */
char *secondary_update_text(const struct secondary_update *u);

/* The SOA values of a zone in master-file text (its SOA record; the
 * first one when there are several). false when text has no SOA or does
 * not parse. since is left 0. */
bool secondary_held_from_text(const char *text, struct secondary_held *out);
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

/* The answer to NOTIFY q from peer (RFC 1996 3.7, 3.10), the NOTIFY
 * stage of both daemons: NOERROR with AA when it starts an SOA check,
 * REFUSED from anyone but the zone's primaries, NOTAUTH for a zone we are
 * no secondary for, FORMERR for a NOTIFY that is not of an IN SOA or
 * whose peer is unknown. Any thread. */
void secondary_notify_answer(struct tdns_secondary *sec, const struct tdns_qctx *q,
			     const struct tdns_addr *peer, struct tdns_answer *a);

/* tierdns-control zone reload: an SOA check of the secondary zone with
 * apex key starts at once, as after a NOTIFY (and a transfer if the
 * primary has a newer serial). false when it is no secondary zone. Any
 * thread. */
bool secondary_refresh(struct tdns_secondary *sec, const uint8_t *apex, size_t apex_len);

/* For tierdns-control zone status: the zone's primaries, serial, last and
 * next refresh, the transfer in progress (its kind, primary, records and
 * bytes so far and seconds; "none") and whether it expired, as "key:
 * value" lines on out. false (nothing written) when it is no secondary
 * zone. Any thread. */
bool secondary_status(const struct tdns_secondary *sec, const uint8_t *apex,
		      size_t apex_len, FILE *out);

/* True when the zone with apex key is a secondary zone past its expire
 * time. Any thread; sec may be NULL (false). */
bool secondary_expired(const struct tdns_secondary *sec, const uint8_t *apex,
		       size_t apex_len);

#endif
