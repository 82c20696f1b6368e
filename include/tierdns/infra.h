/*
 * infra.h - what the local tier knows about each upstream, learnt once for
 * all worker threads (Unbound's infra cache is the model): its smoothed
 * RTT, failures in a row, whether it is dead and when to probe it again,
 * and whether it echoes the 0x20-mixed case of questions.
 *
 * Rules (RFC 6298 for the RTT; a dead upstream is skipped while another
 * works and probed after a backoff):
 *   - an answer resets the failure count and the backoff and updates
 *     SRTT <- 7/8 SRTT + 1/8 R (the first answer sets it);
 *   - INFRA_DEAD_AFTER failures in a row make it dead: skipped until
 *     dead_until, then exactly one worker at a time may probe it; a probe
 *     that fails doubles the backoff (INFRA_BACKOFF_MIN_MS up to
 *     INFRA_BACKOFF_MAX_MS);
 *   - INFRA_CASE_STRIKES answers in a row that only came without 0x20 turn
 *     0x20 off for that upstream for good.
 *
 * Thread safety: every function may be called from any thread; one mutex
 * guards the table (it is taken once per upstream attempt and outcome, not
 * per cache hit). Events that happen once (dead, alive again, 0x20 off) are
 * reported to exactly one caller, so they are logged and counted once.
 */
#ifndef TIERDNS_INFRA_H
#define TIERDNS_INFRA_H

#include <stdbool.h>
#include <stdint.h>

#include "tierdns/status.h"

#define INFRA_DEAD_AFTER 2u
#define INFRA_BACKOFF_MIN_MS 1000u
#define INFRA_BACKOFF_MAX_MS 60000u
#define INFRA_CASE_STRIKES 3u

struct tdns_infra;

/* A table for n upstreams (n >= 1), all alive and unmeasured. Owned by the
 * caller (infra_free); shared by the resolvers of all workers. */
enum tdns_status infra_new(unsigned n, struct tdns_infra **out);
void infra_free(struct tdns_infra *inf); /* NULL is allowed */

enum infra_use {
	INFRA_USE = 0, /* alive (or only suspect): ask it */
	INFRA_PROBE,   /* dead and due for its one probe */
	INFRA_SKIP,    /* dead, or its probe is under way elsewhere */
};

/* What upstream i is for an attempt at now_ms, without taking anything. */
enum infra_use infra_peek(struct tdns_infra *inf, unsigned i, uint64_t now_ms);

/* As infra_peek, but INFRA_PROBE also takes the probe: no other caller gets
 * INFRA_PROBE for i until this one reports (infra_report with probe true)
 * or gives it back (infra_probe_abandon). */
enum infra_use infra_claim(struct tdns_infra *inf, unsigned i, uint64_t now_ms);
void infra_probe_abandon(struct tdns_infra *inf, unsigned i);

/* A copy of what is known of i. */
struct infra_state {
	uint32_t srtt_ms;  /* 0: unknown */
	unsigned fails;    /* failures in a row */
	uint32_t backoff_ms;
	bool no_0x20;
};
void infra_get(struct tdns_infra *inf, unsigned i, struct infra_state *s);

/* A count that grows each time an upstream answers after failing (a run
 * of timeouts or network errors has ended): what failed to reach the
 * upstreams before may succeed now (failcache.h). Lock-free. */
uint32_t infra_epoch(struct tdns_infra *inf);

enum infra_event {
	INFRA_EV_NONE = 0,
	INFRA_EV_DEAD,  /* this failure made it dead (report it once) */
	INFRA_EV_ALIVE, /* this answer ended its death */
};

/*
 * The outcome of one attempt on i: alive (an answer, rtt_ms after it was
 * sent) or not (timeout, network error). probe: the attempt was the probe
 * this caller claimed. *backoff_ms (may be NULL) gets the wait before the
 * next probe when the event is INFRA_EV_DEAD.
 */
enum infra_event infra_report(struct tdns_infra *inf, unsigned i, bool alive,
			      uint64_t rtt_ms, bool probe, uint64_t now_ms,
			      uint32_t *backoff_ms);

/* A reply from i to a question sent with 0x20 mixing (mixed true) or, as a
 * fallback, without (mixed false). Returns true exactly once: when this
 * reply turned 0x20 off for i. */
bool infra_case_report(struct tdns_infra *inf, unsigned i, bool mixed);

#endif
