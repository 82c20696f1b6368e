/*
 * fail.h - why a query failed, for the resolver's files (resolve_int.h):
 * the kinds of failure, and what each means for the client (rcode,
 * Extended DNS Error, RFC 8914), for the statistics (enum
 * resolver_servfail) and for the log.
 *
 * Every SERVFAIL (and every REFUSED of a failure) is logged with its
 * reason by fail_log, at most 5 lines a second per resolver (fail.c); the
 * lines left out are counted (stats log_suppressed) and reported in the
 * next window, so a dead upstream under load cannot flood the log.
 *
 * The texts returned are static, or the caller's buffer; nothing here
 * allocates what it returns. No function fails.
 */
#ifndef TIERDNS_FAIL_H
#define TIERDNS_FAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tierdns/name.h"
#include "tierdns/resolve.h"

/* A name as text: each of its octets as \DDD at most (RFC 1035 5.1). */
#define NAME_TEXT_MAX (NAME_WIRE_MAX * 4 + 1)

/* Why a query failed: the log text and the Extended DNS Error. */
enum fail_kind {
	FAIL_TIMEOUT = 0, /* no upstream answered in time */
	FAIL_DEAD,        /* no upstream could be asked (the last of a set is
	                   * asked even when marked dead: attempt_start) */
	FAIL_NETWORK,     /* socket failure, or no upstream took the query */
	FAIL_TLS_AUTH,    /* a DoT upstream's certificate failed verification */
	FAIL_RCODE,       /* SERVFAIL, REFUSED or another error rcode */
	FAIL_GARBAGE,     /* unparsable, too many records, bad reply */
	FAIL_OVERLOAD,    /* local limit: max_outstanding, max_waiters */
	FAIL_CACHED,      /* the failure cache (RFC 9520) */
	FAIL_LOOP,        /* a CNAME chain that comes back to a name */
	FAIL_CHAIN,       /* a CNAME chain longer than CHASE_MAX_HOPS */
	FAIL_INTERNAL,    /* out of memory and the like */
	FAIL_STORE,       /* the local store failed (static zones, cache) */
	FAIL_REFERRAL,    /* a stub zone's server gave a referral that is
			   * not followed (upq.ref_bad says why) */
	FAIL_REFUSED,     /* a CNAME target in a domain never forwarded
			   * (NAME@refused): REFUSED, as the target itself is */
};

/* The rate limit of one resolver's failure log lines; zeroed to start. */
struct fail_log {
	uint64_t window;  /* start of the current one-second window */
	unsigned lines;   /* lines logged in it */
	uint64_t pending; /* lines left out of it */
};

/* The log text of a kind of failure. */
const char *fail_text(enum fail_kind why);

/* What failed a query, for a log line: its kind, for FAIL_REFERRAL the
 * referral's verdict (ref_bad, an enum referral_verdict), for a network
 * error the errno the transport saw if not 0 ("network error (Connection
 * refused)"). Returns buf, or a static text. */
const char *fail_reason(enum fail_kind why, uint8_t ref_bad, int err, char *buf, size_t cap);

/* RFC 8914 4: the Extended DNS Error of a failure (0 for none). */
uint16_t fail_ede(enum fail_kind why);

/* The rcode of a failure: SERVFAIL, except what the policy refuses. */
uint16_t fail_rcode(enum fail_kind why);

/* Failures of reaching the upstreams, not of the name (failcache.h). */
bool fail_unreachable(enum fail_kind why);

/* A client is answered SERVFAIL for why (enum resolver_servfail): the
 * counters of s. */
void fail_count(struct tdns_resolver_stats *s, unsigned why);

/* The name of the name key qkey[0..len) as text into buf (NAME_TEXT_MAX
 * holds any), "?" if it is none; returns buf. */
const char *fail_key_text(const uint8_t *qkey, size_t len, char *buf, size_t cap);

/* Log that the question (qkey, qtype) was answered rcode (SERVFAIL or
 * REFUSED) for why, within l's rate limit, counted in s. remembered_ms:
 * how long the failure cache now answers it (0: not remembered);
 * unreachable: until an upstream answers again, if sooner. */
void fail_log(struct fail_log *l, struct tdns_resolver_stats *s, uint16_t rcode,
	      const uint8_t *qkey, size_t qkey_len, uint16_t qtype, const char *why,
	      uint32_t remembered_ms, bool unreachable);

#endif
