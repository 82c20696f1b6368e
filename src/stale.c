/*
 * stale.c - serve-stale (RFC 8767) for the resolver (stale.h): the expired
 * entry that may stand in for an answer, the answer to a failed query, and
 * the client-response timer.
 */
#include "stale.h"

#include "tierdns/clock.h"
#include "tierdns/dnsproto.h"

#include "fail.h"

/* RFC 8767 4: stale answers carry TTL 30. */
#define STALE_ANSWER_TTL 30u

/* RFC 8767: the cached entry for the question if serve-stale is on and it
 * expired at most stale_ttl seconds ago (or is fresh again). */
bool stale_get(struct tdns_resolver *r, const uint8_t *qkey, size_t qkey_len, uint16_t qtype,
	       uint16_t qclass, uint64_t now, struct tdns_cache_value *v)
{
	struct tdns_txn *t;
	enum tdns_status st;

	if (!r->cfg.serve_stale || qclass != DNS_CLASS_IN)
		return false;
	t = rtxn_open(r);
	if (t == NULL)
		return false;
	st = cache_get(t, qkey, qkey_len, qtype, now, r->cfg.stale_ttl, v);
	rtxn_close(r, t);
	return st == TDNS_OK;
}

/*
 * The answer to a client whose query failed (why): the stale entry when
 * serve-stale found one (RFC 8767 4: TTL 30, EDE "Stale Answer" once it is
 * past its expiry), else SERVFAIL (REFUSED for FAIL_REFUSED, never stale)
 * with the EDE of why (RFC 8914). a keeps RA; stale->data must outlive the
 * encoding of a.
 */
void stale_answer(struct tdns_resolver *r, const struct tdns_qctx *q,
		  const struct tdns_cache_value *stale, enum fail_kind why, uint64_t now,
		  struct tdns_answer *a)
{
	/* A refusal is the policy's answer: no stale data stands in for it. */
	if (stale != NULL && stale->data != NULL && why != FAIL_REFUSED) {
		if (cache_value_answer(stale->data, stale->len, now,
				       STALE_ANSWER_TTL, q, a) == TDNS_OK) {
			if (stale->expiry <= now) {
				stats_inc(&r->stats.stale_answers);
				answer_set_ede(a, EDE_STALE_ANSWER, "stale answer");
			}
			return;
		}
	}
	if (fail_rcode(why) == DNS_RCODE_SERVFAIL)
		fail_count(&r->stats, why);
	answer_fail(a, fail_rcode(why), fail_ede(why), fail_text(why));
}

/* RFC 8767 5: the client-response timer went off before the upstreams
 * answered: the waiters get the stale entry now, if there is one, while
 * the query goes on to refresh the cache. */
void stale_early(struct tdns_resolver *r, struct upq *u)
{
	struct tdns_cache_value stale = { 0 };
	struct waiter *w, *next;
	uint64_t now = clock_now();

	u->stale_at = 0;
	if (u->waiters == NULL ||
	    !stale_get(r, u->key, u->qkey_len, u->qtype, u->qclass, now, &stale))
		return;
	if (stale.expiry <= now) {
		w = u->waiters;
		u->waiters = NULL;
		u->n_waiters = 0;
		for (; w != NULL; w = next) {
			next = w->next;
			answer_waiter(r, w, NULL, 0, 0, &stale, FAIL_TIMEOUT, now);
		}
	}
	cache_value_clear(&stale);
}
