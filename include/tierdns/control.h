/*
 * control.h - the control socket of a daemon (tierdns-control is its
 * client), its live statistics and the Prometheus endpoint.
 *
 * The socket is a Unix domain stream socket, created before privileges are
 * dropped (daemon.h daemon_drop) with the mode and group of the options,
 * owned by --user when one is given, and removed at exit where it can
 * still be reached. A thread of its own, never a worker, serves it, and
 * another the metrics listener, so that a network client of the metrics
 * port cannot delay a control command. The control thread serves one
 * connection at a time: its request must have come within 5 s of the
 * connection, however it trickles in, and each send that makes no
 * progress for 5 s fails, so a stuck or slow client holds it for seconds,
 * not longer. The metrics thread serves up to 16 clients at once without
 * blocking on any, each given 5 s from its connection for its request
 * and its reply, at most 4 of them from one address; a newcomer beyond
 * either takes the place of the client connected longest (of its own
 * address when it holds 4). A slow client there delays no other.
 *
 * Protocol (one request per connection, text, in the spirit of
 * unbound-control):
 *   client:  "TDNSCTL1 " COMMAND [ARG...] "\n"       (at most 1024 bytes)
 *   server:  zero or more output lines, then one status line:
 *            "ok" or "error: " MESSAGE
 * Commands (control.c has the table; "help" lists them): status, stats
 * [--reset], reload, zone list, zone status NAME, zone remove NAME, cache
 * flush NAME [TYPE], cache flush-zone NAME, cache flush-negative, cache
 * flush-all, cache dump, log-level LEVEL, stop. The cache commands answer
 * an error on the upper tier, which has no cache.
 *
 * Statistics: summed across workers on demand (stats.h has the contract).
 * "stats --reset" keeps the sum as a base that later sums subtract; the
 * Prometheus counters are never reset (a scraper expects counters that
 * only fall when the process restarts).
 *
 * Metrics: with o->metrics_listen (ADDR:PORT), GET /metrics over HTTP/1.1
 * answers the Prometheus text format (stats.h stats_print_prometheus);
 * any other path is 404, any other method 405; one response per
 * connection (Connection: close). A hand-written responder: one path, no
 * keep-alive, no TLS (put a proxy in front for that), so a library
 * (libmicrohttpd) would add a dependency and its own threads for what is
 * a hundred lines here.
 */
#ifndef TIERDNS_CONTROL_H
#define TIERDNS_CONTROL_H

#include <stdbool.h>

#include "tierdns/infra.h"
#include "tierdns/netio.h"
#include "tierdns/opts.h"
#include "tierdns/stats.h"
#include "tierdns/status.h"
#include "tierdns/store.h"

#ifndef TDNS_RUN_DIR
#error "TDNS_RUN_DIR must be defined by the build"
#endif
/* The default sockets (o->control_path NULL): under RUNSTATEDIR/tierdns,
 * which systemd creates for the units (RuntimeDirectory=tierdns). */
#define CONTROL_DEFAULT_UPPER TDNS_RUN_DIR "/upper.sock"
#define CONTROL_DEFAULT_LOCAL TDNS_RUN_DIR "/local.sock"
#define CONTROL_PROTO "TDNSCTL1"
#define CONTROL_LINE_MAX 1024

/* What the daemon lends the control thread (borrowed; must outlive the
 * control object). The hooks are called on the control thread (or, for
 * SIGUSR1, the main thread) while the workers run. */
struct tdns_control_ops {
	enum tdns_prog prog;
	struct tdns_store *store;
	const char *db_dir;
	unsigned workers;
	const struct tdns_addr *upstream; /* local: o->upstream */
	unsigned n_upstream;
	struct tdns_infra *infra;         /* local: upstream health, or NULL */
	/* Add every worker's counters into sum (stats_sum_add, resolver
	 * stats with stats_get, netio_tcp_accepted). */
	void (*stats)(void *ctx, struct tdns_stats_sum *sum);
	/* The cache was flushed: tell every worker (resolve.h
	 * resolver_cache_flushed). NULL on the upper. */
	void (*flushed)(void *ctx);
	/* "reload": the daemon's SIGHUP hook (run through daemon_reload). */
	void (*reload)(void *ctx);
	/* "zone status NAME": more lines about the zone (a secondary zone's
	 * primaries and refresh timers, secondary.h); false when there is
	 * nothing more to say. NULL: none. */
	bool (*zone_status)(void *ctx, const uint8_t *apex, size_t apex_len, FILE *out);
	/* "zone reload NAME": refresh a secondary zone from its primaries now
	 * (secondary.h secondary_refresh); false when it is none. NULL: none. */
	bool (*zone_reload)(void *ctx, const uint8_t *apex, size_t apex_len);
	void *ctx;
};

struct tdns_control;

/*
 * Before daemon_drop: bind the control socket (o->control_path, see opts.h
 * for NULL and "none") and the metrics listener (o->metrics_listen).
 * Errors are logged; TDNS_OK with no socket when the default path cannot
 * be used (a warning says why). An explicit path or metrics address that
 * fails is an error: the daemon must not start. *out (owned by the caller,
 * control_free) exists even without any socket: it sums the statistics
 * for SIGUSR1.
 */
enum tdns_status control_open(const struct tdns_opts *o,
			      const struct tdns_control_ops *ops,
			      struct tdns_control **out);
/* Start the control thread (when there is a socket to serve). */
enum tdns_status control_start(struct tdns_control *c);
/* Stop the thread, close the sockets, remove the socket file (best
 * effort: after --chroot or --user it may be out of reach). NULL ok. */
void control_free(struct tdns_control *c);

/* The current sums (not reset-adjusted) into *sum. Any thread. */
void control_stats(struct tdns_control *c, struct tdns_stats_sum *sum);
/* SIGUSR1: log the statistics (daemon.h daemon_set_usr1). */
void control_log_stats(void *c);

#endif
