/*
 * commit.c - the resolver's answers queued for one cache commit per batch
 * (commit.h).
 */
#include "commit.h"

#include <stdlib.h>
#include <string.h>

#include "tierdns/clock.h"
#include "tierdns/log.h"

enum tdns_status commit_init(struct commit_batch *b, size_t max)
{
	b->head = NULL;
	b->tail = &b->head;
	b->puts = calloc(max, sizeof(*b->puts));
	return b->puts != NULL ? TDNS_OK : TDNS_ENOMEM;
}

void commit_fini(struct commit_batch *b)
{
	free(b->puts);
	b->puts = NULL;
}

void commit_unlink(struct commit_batch *b, struct upq *u)
{
	struct upq **cp = &b->head;

	if (!u->committing)
		return;
	while (*cp != u)
		cp = &(*cp)->commit_next;
	*cp = u->commit_next;
	if (b->tail == &u->commit_next)
		b->tail = cp;
}

void commit_queue(struct commit_batch *b, struct upq *u, struct tdns_cache_value *v)
{
	u->val = *v;
	memset(v, 0, sizeof(*v));
	u->committing = true;
	u->attempt_deadline = UINT64_MAX;
	u->stale_at = 0;
	u->commit_next = NULL;
	*b->tail = u;
	b->tail = &u->commit_next;
}

/* Count one cache write's outcome. The clients get their answer either
 * way; a failing store fails for every answer: log the 1st, 2nd, 4th, ... */
static void note_stored(struct tdns_resolver *r, enum tdns_status st)
{
	if (st == TDNS_OK) {
		stats_inc(&r->stats.cache_stored);
		return;
	}
	stats_inc(&r->stats.cache_errors);
	if ((r->stats.cache_errors & (r->stats.cache_errors - 1)) == 0)
		log_warn("cache store: %s (%llu times)", tdns_strerror(st),
			 (unsigned long long)r->stats.cache_errors);
}

void resolver_flush(struct tdns_resolver *r)
{
	struct tdns_cache_value val;
	struct upq *list, *u, *next;
	uint64_t now;
	size_t n;

	/* Answering may complete more (queries that chased a CNAME to one
	 * of these): they form the next batch. */
	while (r->commit.head != NULL) {
		list = r->commit.head;
		r->commit.head = NULL;
		r->commit.tail = &r->commit.head;
		now = clock_now();
		n = 0;
		for (u = list; u != NULL; u = u->commit_next) {
			u->committing = false;
			r->commit.puts[n++] = (struct tdns_cache_put){
				.qkey = u->key, .qkey_len = u->qkey_len,
				.qtype = u->qtype, .v = &u->val,
			};
		}
		cache_store_many(r->cfg.store, &r->cfg.cache, r->commit.puts, n, now);
		/* Completing one cannot destroy another of the list: a queued
		 * query has no target (so no failure cascades to it), no
		 * attempt and no deadline; only resolver_free destroys it. */
		n = 0;
		for (u = list; u != NULL; u = next) {
			const struct tdns_cache_put *p = &r->commit.puts[n++];

			next = u->commit_next;
			note_stored(r, p->st);
			val = u->val;
			memset(&u->val, 0, sizeof(u->val));
			upq_complete(r, u, val.data, val.len, p->st == TDNS_OK ? p->stored_in : 0,
				     now);
			cache_value_clear(&val);
		}
	}
}
