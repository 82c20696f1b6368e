/*
 * daemon.h - what both daemons share around their event loops: signal
 * setup, one thread per worker, waiting for SIGINT/SIGTERM, shutdown.
 *
 * Signals: SIGINT, SIGTERM, SIGHUP and SIGUSR1 are blocked in every thread
 * and taken by the main thread with sigwait(); no handler runs in signal
 * context. SIGINT and SIGTERM stop the loops; SIGHUP is logged and calls
 * the daemon's reload hook, and never stops it; SIGUSR1 calls the hook of
 * daemon_set_usr1 (the statistics are logged). SIGPIPE is ignored (a TCP
 * client may vanish).
 *
 * systemd (Type=notify): daemon_run sends READY=1 once the workers run,
 * RELOADING=1 then READY=1 around a SIGHUP, STOPPING=1 before it stops
 * them (sd_notify; nothing without NOTIFY_SOCKET).
 */
#ifndef TIERDNS_DAEMON_H
#define TIERDNS_DAEMON_H

#include "tierdns/auth.h"
#include "tierdns/netio.h"
#include "tierdns/opts.h"
#include "tierdns/status.h"
#include "tierdns/store.h"

/* The loop of worker i: stopped (netio_loop_stop) at shutdown. */
typedef struct tdns_loop *(*daemon_loop_fn)(void *ctx, unsigned i);
/* Runs on worker i's own thread: set-up that belongs to the thread (LMDB
 * read transactions do), netio_loop_run, tear-down. Returns TDNS_OK, or
 * the fatal error that stops the whole daemon. */
typedef enum tdns_status (*daemon_run_fn)(void *ctx, unsigned i);

/* At SIGHUP (main thread) or "tierdns-control reload" (control thread),
 * while the workers run, never two at once (daemon_reload): reload what
 * is cheap to reload (and log it). */
typedef void (*daemon_reload_fn)(void *ctx);

/* Run reload(ctx) (may be NULL) under the reload lock, logged with why
 * ("SIGHUP") and told to systemd (RELOADING=1, then READY=1). Any thread. */
void daemon_reload(daemon_reload_fn reload, void *ctx, const char *why);

/* SIGUSR1 calls fn(ctx) on the main thread (NULL: it is ignored). Set
 * before daemon_run. */
void daemon_set_usr1(void (*fn)(void *ctx), void *ctx);

/*
 * A thread of its own that calls fn(ctx) every interval_ms (the first
 * call one interval after the start), for periodic work that reads the
 * whole store and so must not run on a worker's event loop.
 * daemon_ticker_stop wakes and joins it (NULL allowed); fn must not call
 * it. *out owned by the caller.
 */
struct daemon_ticker;
enum tdns_status daemon_ticker_start(uint64_t interval_ms, void (*fn)(void *ctx),
				     void *ctx, struct daemon_ticker **out);
void daemon_ticker_stop(struct daemon_ticker *t);

/* Call first in main, before any thread exists (every thread inherits the
 * signal mask): SIGPIPE ignored, SIGINT, SIGTERM, SIGHUP and SIGUSR1
 * blocked. */
void daemon_signals_init(void);

/* Start n_threads threads running run(ctx, i), wait for SIGINT/SIGTERM or
 * a failed worker (calling reload(ctx), which may be NULL, at each SIGHUP),
 * stop every loop and join every thread. The loops and whatever ctx holds
 * stay the caller's (free them afterwards).
 * Returns the exit status: 0 after a signal, 1 when a worker failed or a
 * thread could not start (logged). */
int daemon_run(unsigned n_threads, daemon_loop_fn loop, daemon_run_fn run,
	       daemon_reload_fn reload, void *ctx);

/*
 * After every socket is bound and before the workers start, as NSD and
 * Unbound do: write o->pid_file (--pid-file); as root with o->user
 * (--user), hand the store directory and its files to that user, take its
 * groups (initgroups, setgid); chroot to o->chroot_dir (--chroot; the store
 * and the sockets stay open); then setuid, and check that root cannot be
 * regained. Everything is logged; an error is fatal (the caller exits 1).
 * Under systemd none of it is needed (User=, AmbientCapabilities=); note
 * that NOTIFY_SOCKET must be reachable from inside a --chroot.
 */
enum tdns_status daemon_drop(const struct tdns_opts *o);
/* At exit: remove o->pid_file, where it can still be reached. */
void daemon_cleanup(const struct tdns_opts *o);

/* Start-up shared by both daemons: check --user and --chroot, open the
 * store in o->db_dir (so may be NULL for defaults) and check that no other
 * server holds any --listen address. Errors are logged; on failure nothing
 * is left open. *out is owned by the caller (store_close). */
enum tdns_status daemon_open(const struct tdns_opts *o,
			     const struct tdns_store_opts *so,
			     struct tdns_store **out);

/* Both daemons' identity, as NSD and Unbound set theirs: *ident is
 * o->identity (--identity), else the host name (written into host[cap]),
 * NULL when neither is known (dnstap's identity); chaos gets the CHAOS TXT
 * strings (auth.h): the identity unless --hide-identity, o->version_string
 * or "tierdns VERSION" unless --hide-version (NULL: REFUSED). The strings
 * are o's, host or static: they live as long as those. */
void daemon_identity(const struct tdns_opts *o, char *host, size_t cap, const char **ident,
		     struct tdns_auth_cfg *chaos);

#endif
