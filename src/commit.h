/*
 * commit.h - the resolver's answers queued for the cache, for the
 * resolver's files (resolve_int.h). An answer is sent to its clients only
 * once it is in the cache, so that what a client was told survives a
 * crash right after (tests/e2e/test_crash_local.py); one commit
 * (cache_store_many) is shared by every answer queued in the same loop
 * iteration, made by resolver_flush (resolve.h).
 *
 * A queued query is owned by the batch until the flush completes it
 * (upq_complete) or resolver_free destroys it (upq_destroy unlinks it
 * with commit_unlink). While queued it has no attempt, no deadline and no
 * stale timer; clients asking meanwhile join its waiters. A store that
 * fails does not keep the answers from the clients: the error is counted
 * (stats cache_errors) and logged the 1st, 2nd, 4th, ... time.
 */
#ifndef TIERDNS_COMMIT_H
#define TIERDNS_COMMIT_H

#include <stddef.h>

#include "resolve_int.h"

/* An empty batch for at most max answers. TDNS_ENOMEM. */
enum tdns_status commit_init(struct commit_batch *b, size_t max);

/* Free what commit_init allocated (the queries are the resolver's). */
void commit_fini(struct commit_batch *b);

/* Queue u's answer v (taken: *v is zeroed) at the batch's tail. u's
 * attempt must be closed. */
void commit_queue(struct commit_batch *b, struct upq *u, struct tdns_cache_value *v);

/* Take u out of the batch if it is queued (before it is destroyed). */
void commit_unlink(struct commit_batch *b, struct upq *u);

#endif
