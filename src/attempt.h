/*
 * attempt.h - one upstream attempt of an outstanding query, for the
 * resolver's files (resolve_int.h).
 *
 * An attempt asks one server of the query's set (policy.h: a forward set,
 * or a stub zone's servers; once a referral was followed, the servers it
 * named, upq.ref). Each attempt gets a new token and a new random ID (RFC
 * 5452 9.2), the qname in 0x20 mixed case unless the upstream or the
 * query fell back to plain case, an OPT record unless the server refused
 * EDNS, DO when validating, CD as the client asked, RD clear for a stub
 * zone's servers. Dead upstreams are skipped while another is usable, and
 * asked once due for their probe (infra.h). The attempt's time is an even
 * share of the query's budget left among the servers still to try, less
 * for one whose RTT is known (RTO_FACTOR x RTT) or that is suspect
 * (SUSPECT_FACTOR x RTT), at least MIN_ATTEMPT_MS.
 *
 * A stub zone's server (or one a referral named) that refers the query
 * further is followed (referral.h has the rules): the delegated zone's
 * servers at their glue addresses, port 53, are asked the same question
 * within what is left of the budget, one after the other, as upstreams
 * are; a referral not followed moves on to the next server of the set that
 * gave it (FAIL_REFERRAL, upq.ref_bad says why).
 *
 * Every outcome of an attempt at an upstream is told to the shared health
 * table (alive or not, the RTT, 0x20 echoed or not); what changes there
 * once (dead, alive again, 0x20 off) is logged and counted by the worker
 * that saw it. A referral's servers have no health kept.
 *
 * The query's fate after an attempt (the next server, failure, the
 * answer) is the caller's (resolve.c).
 */
#ifndef TIERDNS_ATTEMPT_H
#define TIERDNS_ATTEMPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tierdns/msg.h"

#include "resolve_int.h"

/* What a reply to u's current attempt calls for (attempt_reply). */
enum attempt_reply {
	ATTEMPT_WAIT = 0, /* not the reply (forged, not our question): keep
			   * waiting for it, the attempt goes on */
	ATTEMPT_SENT,     /* asked the same server again (plain case, TCP,
			   * a fresh cookie, no EDNS), or the servers a
			   * referral named: waiting for that */
	ATTEMPT_FAIL,     /* asked again, but no server took it: u fails
			   * with u->why */
	ATTEMPT_NEXT,     /* the attempt failed (u->why; counted and told to
			   * the health table): the next server, if any */
	ATTEMPT_ANSWER,   /* a NOERROR or NXDOMAIN answer to our question,
			   * in *m: the caller takes it */
};

/*
 * Start an attempt on the first server from `first` of u's set that takes
 * it, closing the current one. tcp and no_edns apply to `first` only; a
 * further server is asked over UDP with EDNS. On success the attempt's
 * deadline is set and the resolver's wake-up armed for it. false when
 * none could be sent to, or u's budget is spent (u->why says why; the
 * caller fails u).
 */
bool attempt_start(struct tdns_resolver *r, struct upq *u, unsigned first, bool tcp,
		   bool no_edns, uint64_t now_ms);

/* Close u's current attempt, if any, with the transport (its token is no
 * longer answered); a probe ending without a verdict is given back. */
void attempt_close(struct tdns_resolver *r, struct upq *u);

/*
 * Screen msg[0..len), a reply that came for u's current attempt (RFC 5452
 * 4, 9; RFC 6891 7; RFC 7873 5.3; RFC 7766 5; 0x20) and act on it: see
 * enum attempt_reply. *m (the caller's) holds the parsed reply for
 * ATTEMPT_ANSWER; it borrows msg. now_ms: monotonic.
 */
enum attempt_reply attempt_reply(struct tdns_resolver *r, struct upq *u, const uint8_t *msg,
				 size_t len, uint64_t now_ms, struct tdns_msg *m);

/* u's current attempt failed for why (counted, u->why set); alive: the
 * server answered (an error rcode) rather than not (silence, garbage, a
 * socket error), which is what its health hears. */
void attempt_lost(struct tdns_resolver *r, struct upq *u, enum fail_kind why, bool alive,
		  uint64_t now_ms);

/* u's current attempt timed out: counted and told to the health table. */
void attempt_timeout(struct tdns_resolver *r, struct upq *u, uint64_t now_ms);

#endif
