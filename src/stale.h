/*
 * stale.h - serve-stale (RFC 8767), for the resolver's files
 * (resolve_int.h). With cfg.serve_stale, an entry expired at most
 * cfg.stale_ttl seconds ago answers a client whose query failed (4: TTL
 * 30, EDE 3 "Stale Answer"), and, once the client-response timer
 * (STALE_CLIENT_MS after the query went upstream, 5) goes off first, the
 * clients waiting for an upstream query while it goes on to refresh the
 * cache. A refusal by the policy is never replaced by stale data.
 *
 * The stale value read (stale_get) is the caller's to clear
 * (cache_value_clear); an answer built from it borrows it until encoded.
 */
#ifndef TIERDNS_STALE_H
#define TIERDNS_STALE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "resolve_int.h"

/* RFC 8767 5: the client-response timer, ms after a query goes upstream. */
#define STALE_CLIENT_MS 1800u

/* The cached entry for the question into *v if serve-stale is on and it
 * expired at most stale_ttl seconds ago (or is fresh again): true. false
 * (*v untouched) without one, serve-stale off, class not IN, or a store
 * error. now: wall-clock seconds (clock_now). */
bool stale_get(struct tdns_resolver *r, const uint8_t *qkey, size_t qkey_len, uint16_t qtype,
	       uint16_t qclass, uint64_t now, struct tdns_cache_value *v);

/* The answer a to a client (q) whose query failed for why: from stale
 * (NULL or no data: none) when it answers q, with the EDE once it is past
 * its expiry, else SERVFAIL (REFUSED for FAIL_REFUSED) with why's EDE,
 * counted (fail.h). a keeps RA; stale->data must outlive the encoding. */
void stale_answer(struct tdns_resolver *r, const struct tdns_qctx *q,
		  const struct tdns_cache_value *stale, enum fail_kind why, uint64_t now,
		  struct tdns_answer *a);

/* u's client-response timer went off (u->stale_at, which this clears):
 * if a stale entry past its expiry is there, u's waiters are answered
 * from it and freed; u goes on either way. */
void stale_early(struct tdns_resolver *r, struct upq *u);

#endif
