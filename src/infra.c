/*
 * infra.c - upstream health shared by all workers (infra.h).
 */
#include "tierdns/infra.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

struct upstream {
	uint32_t srtt_ms;
	unsigned fails;
	uint64_t dead_until;  /* monotonic ms; meaningful when dead */
	uint32_t backoff_ms;
	bool probing;
	bool no_0x20;
	unsigned case_strikes;
};

struct tdns_infra {
	pthread_mutex_t lock;
	atomic_uint epoch; /* answers that ended a run of failures */
	unsigned n;
	struct upstream up[];
};

enum tdns_status infra_new(unsigned n, struct tdns_infra **out)
{
	struct tdns_infra *inf;

	*out = NULL;
	if (n == 0)
		return TDNS_EINVAL;
	inf = calloc(1, sizeof(*inf) + n * sizeof(inf->up[0]));
	if (inf == NULL)
		return TDNS_ENOMEM;
	if (pthread_mutex_init(&inf->lock, NULL) != 0) {
		free(inf);
		return TDNS_ENOMEM;
	}
	inf->n = n;
	for (unsigned i = 0; i < n; i++)
		inf->up[i].backoff_ms = INFRA_BACKOFF_MIN_MS;
	*out = inf;
	return TDNS_OK;
}

void infra_free(struct tdns_infra *inf)
{
	if (inf == NULL)
		return;
	pthread_mutex_destroy(&inf->lock);
	free(inf);
}

static enum infra_use use_of(const struct upstream *u, uint64_t now_ms)
{
	if (u->fails < INFRA_DEAD_AFTER)
		return INFRA_USE;
	return now_ms >= u->dead_until && !u->probing ? INFRA_PROBE : INFRA_SKIP;
}

enum infra_use infra_peek(struct tdns_infra *inf, unsigned i, uint64_t now_ms)
{
	enum infra_use use;

	pthread_mutex_lock(&inf->lock);
	use = use_of(&inf->up[i], now_ms);
	pthread_mutex_unlock(&inf->lock);
	return use;
}

enum infra_use infra_claim(struct tdns_infra *inf, unsigned i, uint64_t now_ms)
{
	enum infra_use use;

	pthread_mutex_lock(&inf->lock);
	use = use_of(&inf->up[i], now_ms);
	if (use == INFRA_PROBE)
		inf->up[i].probing = true;
	pthread_mutex_unlock(&inf->lock);
	return use;
}

void infra_probe_abandon(struct tdns_infra *inf, unsigned i)
{
	pthread_mutex_lock(&inf->lock);
	inf->up[i].probing = false;
	pthread_mutex_unlock(&inf->lock);
}

void infra_get(struct tdns_infra *inf, unsigned i, struct infra_state *s)
{
	pthread_mutex_lock(&inf->lock);
	s->srtt_ms = inf->up[i].srtt_ms;
	s->fails = inf->up[i].fails;
	s->backoff_ms = inf->up[i].backoff_ms;
	s->no_0x20 = inf->up[i].no_0x20;
	pthread_mutex_unlock(&inf->lock);
}

uint32_t infra_epoch(struct tdns_infra *inf)
{
	return atomic_load_explicit(&inf->epoch, memory_order_relaxed);
}

enum infra_event infra_report(struct tdns_infra *inf, unsigned i, bool alive,
			      uint64_t rtt_ms, bool probe, uint64_t now_ms,
			      uint32_t *backoff_ms)
{
	struct upstream *u = &inf->up[i];
	enum infra_event ev = INFRA_EV_NONE;

	pthread_mutex_lock(&inf->lock);
	if (alive) {
		if (rtt_ms == 0)
			rtt_ms = 1;
		if (rtt_ms > INFRA_BACKOFF_MAX_MS)
			rtt_ms = INFRA_BACKOFF_MAX_MS;
		/* RFC 6298 2.3: SRTT <- 7/8 SRTT + 1/8 R'. */
		u->srtt_ms = u->srtt_ms == 0
				     ? (uint32_t)rtt_ms
				     : (uint32_t)((7u * u->srtt_ms + rtt_ms) / 8u);
		if (u->fails >= INFRA_DEAD_AFTER)
			ev = INFRA_EV_ALIVE;
		if (u->fails > 0)
			atomic_fetch_add_explicit(&inf->epoch, 1, memory_order_relaxed);
		u->fails = 0;
		u->backoff_ms = INFRA_BACKOFF_MIN_MS;
	} else {
		/* Only the failure that crosses the line makes it dead;
		 * the ones that were in flight when it did add to it. */
		u->fails++;
		if (u->fails >= INFRA_DEAD_AFTER) {
			if (probe && u->backoff_ms < INFRA_BACKOFF_MAX_MS)
				u->backoff_ms = u->backoff_ms * 2 > INFRA_BACKOFF_MAX_MS
							? INFRA_BACKOFF_MAX_MS
							: u->backoff_ms * 2;
			if (u->fails == INFRA_DEAD_AFTER)
				ev = INFRA_EV_DEAD;
			u->dead_until = now_ms + u->backoff_ms;
		}
	}
	if (probe)
		u->probing = false;
	if (backoff_ms != NULL)
		*backoff_ms = u->backoff_ms;
	pthread_mutex_unlock(&inf->lock);
	return ev;
}

bool infra_case_report(struct tdns_infra *inf, unsigned i, bool mixed)
{
	struct upstream *u = &inf->up[i];
	bool off = false;

	pthread_mutex_lock(&inf->lock);
	if (!u->no_0x20) {
		if (mixed) {
			u->case_strikes = 0;
		} else if (++u->case_strikes >= INFRA_CASE_STRIKES) {
			u->no_0x20 = true;
			off = true;
		}
	}
	pthread_mutex_unlock(&inf->lock);
	return off;
}
