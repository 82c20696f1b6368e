/*
 * main_local.c - tierdns-local, the caching forwarder: static zones, then
 * the cache, then the upstreams (resolve.h), over netio event loops.
 *
 * One worker per --threads: each has its own loop, its own SO_REUSEPORT
 * listeners, its own upstream sockets and its own resolver (outstanding
 * queries are coalesced per worker). All share one LMDB environment holding
 * the static zones and the cache.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tierdns/clock.h"
#include "tierdns/log.h"
#include "tierdns/netio.h"
#include "tierdns/opts.h"
#include "tierdns/resolve.h"
#include "tierdns/store.h"
#include "tierdns/upstream.h"
#include "tierdns/wire.h"

#define MAX_WORKERS 64

struct worker {
	struct tdns_loop *loop;
	struct tdns_upstream *up;
	struct tdns_resolver *r;
	pthread_t thread;
	bool started;
	enum tdns_status result;
};

static struct worker workers[MAX_WORKERS];
static unsigned n_workers;
static char identity[256];

static void on_signal(int sig)
{
	(void)sig;
	/* netio_loop_stop is async-signal-safe (netio.h). */
	for (unsigned i = 0; i < n_workers; i++)
		if (workers[i].loop != NULL)
			netio_loop_stop(workers[i].loop);
}

static void *client_hold(void *ctx, void *request)
{
	(void)ctx;
	return netio_request_hold(request);
}

static void client_answer(void *ctx, void *held, const uint8_t *msg, size_t len)
{
	(void)ctx;
	if (msg != NULL)
		netio_request_reply(held, msg, len);
	else
		netio_request_release(held);
}

static enum netio_verdict on_query(void *ctx, struct tdns_request *req,
				   const uint8_t *in, size_t in_len, uint8_t *out,
				   size_t *out_len)
{
	struct worker *w = ctx;

	switch (resolver_query(w->r, in, in_len, netio_request_is_tcp(req), req,
			       out, WIRE_MAX_MSG, out_len)) {
	case RESOLVER_REPLY:
		return NETIO_REPLY;
	case RESOLVER_DEFER:
		return NETIO_DEFER;
	case RESOLVER_DROP:
		break;
	}
	return NETIO_DROP;
}

static enum tdns_status worker_init(struct worker *w, const struct tdns_opts *o,
				    struct tdns_store *store)
{
	struct tdns_resolver_cfg cfg;
	struct tdns_listen_cfg lc;
	char addr[64];
	enum tdns_status st = TDNS_ENOMEM;

	w->loop = netio_loop_new();
	if (w->loop == NULL)
		goto out;
	st = upstream_new(w->loop, o->upstream, o->n_upstream, &w->up);
	if (st != TDNS_OK)
		goto out;
	memset(&cfg, 0, sizeof(cfg));
	cfg.store = store;
	cfg.chaos.version = "tierdns " TDNS_VERSION;
	cfg.chaos.identity = identity[0] != '\0' ? identity : NULL;
	cfg.cache.max_ttl = o->max_ttl;
	cfg.cache.max_neg_ttl = o->max_neg_ttl;
	/* A quarter of the map for cache data: B-tree pages are rarely full
	 * and LMDB keeps the previous snapshot's pages, so the map needs
	 * headroom to evict in (cache.h). */
	cfg.cache.max_bytes = o->cache_size / 4;
	cfg.n_upstream = o->n_upstream;
	cfg.timeout_ms = o->upstream_timeout_ms;
	cfg.transport = upstream_transport(w->up);
	cfg.client.hold = client_hold;
	cfg.client.answer = client_answer;
	st = resolver_new(&cfg, &w->r);
	if (st != TDNS_OK)
		goto out;
	upstream_set_resolver(w->up, w->r);
	for (unsigned i = 0; i < o->n_listen; i++) {
		memset(&lc, 0, sizeof(lc));
		lc.addr = o->listen[i];
		lc.on_query = on_query;
		lc.ctx = w;
		st = netio_listen(w->loop, &lc);
		if (st != TDNS_OK) {
			log_err("listen on %s: %s",
				netio_addr_str(&lc.addr, addr, sizeof(addr)),
				tdns_strerror(st));
			goto out;
		}
	}
out:
	return st;
}

/* One line of counters per worker at shutdown, for the operator. */
static void worker_report(unsigned i, const struct worker *w)
{
	const struct tdns_resolver_stats *st;

	if (w->r == NULL)
		return;
	st = resolver_stats(w->r);
	log_info("worker %u: %llu queries, %llu static, %llu cache hits, "
		 "%llu misses (%llu coalesced), %llu upstream sent, "
		 "%llu ignored, %llu failed, %llu timeouts, %llu servfail",
		 i, (unsigned long long)st->queries,
		 (unsigned long long)st->static_answers,
		 (unsigned long long)st->cache_hits, (unsigned long long)st->misses,
		 (unsigned long long)st->coalesced,
		 (unsigned long long)st->upstream_sent,
		 (unsigned long long)st->upstream_ignored,
		 (unsigned long long)st->upstream_failed,
		 (unsigned long long)st->upstream_timeouts,
		 (unsigned long long)st->servfail);
}

static void worker_fini(struct worker *w)
{
	/* The resolver first: it releases held clients (netio) and tells the
	 * transport to close the sockets of open attempts. */
	resolver_free(w->r);
	upstream_free(w->up);
	netio_loop_free(w->loop);
	memset(w, 0, sizeof(*w));
}

static void *worker_run(void *arg)
{
	struct worker *w = arg;

	w->result = netio_loop_run(w->loop);
	if (w->result != TDNS_OK) {
		log_err("event loop: %s", tdns_strerror(w->result));
		on_signal(0); /* one worker failing stops the daemon */
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct tdns_opts o;
	struct tdns_store_opts so;
	struct tdns_store *store = NULL;
	struct sigaction sa;
	char addr[64];
	enum tdns_status st;
	int rc = 1;

	log_init("tierdns-local", TDNS_LOG_INFO);
	switch (opts_parse(TDNS_PROG_LOCAL, argc, argv, &o)) {
	case OPTS_RUN:
		break;
	case OPTS_EXIT_OK:
		return 0;
	case OPTS_USAGE:
		return 2;
	}
	log_set_level(o.verbose > 0 ? TDNS_LOG_DEBUG : TDNS_LOG_INFO);
	if (gethostname(identity, sizeof(identity) - 1) != 0)
		identity[0] = '\0';

	memset(&so, 0, sizeof(so));
	so.map_size = (size_t)o.cache_size;
	/* The cache is rebuilt from upstream if lost: no fsync per answer
	 * (still survives kill -9, store.h). */
	so.flags = STORE_NOSYNC;
	st = store_open(o.db_dir, &so, &store);
	if (st != TDNS_OK) {
		log_err("store %s: %s", o.db_dir, tdns_strerror(st));
		goto out;
	}

	n_workers = o.threads == 0 ? 1 : o.threads;
	if (n_workers > MAX_WORKERS)
		n_workers = MAX_WORKERS;
	for (unsigned i = 0; i < n_workers; i++) {
		st = worker_init(&workers[i], &o, store);
		if (st != TDNS_OK) {
			log_err("worker %u: %s", i, tdns_strerror(st));
			goto out;
		}
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	for (unsigned i = 0; i < o.n_listen; i++)
		log_info("listening on %s (udp, tcp)",
			 netio_addr_str(&o.listen[i], addr, sizeof(addr)));
	for (unsigned i = 0; i < o.n_upstream; i++)
		log_info("upstream %s",
			 netio_addr_str(&o.upstream[i], addr, sizeof(addr)));
	log_info("%u worker thread(s), store %s", n_workers, o.db_dir);

	for (unsigned i = 1; i < n_workers; i++) {
		if (pthread_create(&workers[i].thread, NULL, worker_run,
				   &workers[i]) != 0) {
			log_err("cannot start worker thread %u", i);
			on_signal(0);
			break;
		}
		workers[i].started = true;
	}
	worker_run(&workers[0]);
	rc = workers[0].result == TDNS_OK ? 0 : 1;
	for (unsigned i = 1; i < n_workers; i++) {
		if (!workers[i].started)
			continue;
		pthread_join(workers[i].thread, NULL);
		if (workers[i].result != TDNS_OK)
			rc = 1;
	}
	for (unsigned i = 0; i < n_workers; i++)
		worker_report(i, &workers[i]);
	log_info("stopped");
out:
	/* No more signal handling: the loops are about to go. */
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGINT);
	sigaddset(&sa.sa_mask, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sa.sa_mask, NULL);
	for (unsigned i = 0; i < n_workers; i++)
		worker_fini(&workers[i]);
	store_close(store);
	return rc;
}
