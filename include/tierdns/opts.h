/*
 * opts.h - command-line options shared by the daemons (getopt_long).
 *
 *   -d/--db DIR        LMDB environment directory (created if missing)
 *   -l/--listen ADDR   repeatable, IPv4 or IPv6 (default 127.0.0.1)
 *   -p/--port N        default 9998 (upper) / 9999 (local)
 *   -t/--threads N     worker threads (default: number of CPUs)
 *   -u/--upstream ADDR[:PORT]  local only, repeatable, [v6]:port form for
 *                      IPv6 (default 127.0.0.1:9998)
 *   --max-tcp N, --max-tcp-per-client N, --tcp-idle MS  both tiers: TCP
 *                      limits per listener and thread (netio.h)
 *   --tls-listen ADDR[:PORT], --tls-cert FILE, --tls-key FILE  both tiers:
 *                      DNS over TLS listeners (port 853 by default)
 *   --https-listen ADDR[:PORT]  local only: DNS over HTTPS listeners
 *                      (port 443 by default, path /dns-query), with the
 *                      same --tls-cert and --tls-key
 *   --upstream-tls ADDR[:PORT]#NAME, --tls-ca FILE  local only: DNS over
 *                      TLS upstreams, verified against NAME (RFC 8310)
 *   --user NAME, --pid-file FILE, --chroot DIR  both tiers: what to do
 *                      after binding (daemon.h daemon_drop)
 *   -v/--verbose       more log (repeatable)
 *   -h/--help, -V/--version
 * Tier-specific long options (e.g. --max-ttl, --allow, --serve-stale) are
 * parsed here as well and documented in each program's --help.
 */
#ifndef TIERDNS_OPTS_H
#define TIERDNS_OPTS_H

#include <stdbool.h>
#include <stdint.h>

#include "tierdns/acl.h"
#include "tierdns/cookie.h"
#include "tierdns/netio.h"
#include "tierdns/rrl.h"

#define OPTS_MAX_LISTEN 16
#define OPTS_MAX_UPSTREAM 8
#define OPTS_MAX_ALLOW 64

enum tdns_prog {
	TDNS_PROG_UPPER = 0,
	TDNS_PROG_LOCAL,
};

struct tdns_opts {
	const char *db_dir;                 /* borrowed from argv */
	struct tdns_addr listen[OPTS_MAX_LISTEN];
	unsigned n_listen;
	uint16_t port;
	unsigned threads;
	struct tdns_addr upstream[OPTS_MAX_UPSTREAM];
	/* Upstream i is DNS over TLS when upstream_auth[i] is not NULL: the
	 * name its certificate must match (--upstream-tls, borrowed from
	 * argv); else clear UDP (and TCP after TC) (--upstream). */
	const char *upstream_auth[OPTS_MAX_UPSTREAM];
	unsigned n_upstream;
	const char *tls_ca;      /* --tls-ca FILE; NULL: the system trust store */
	int verbose;
	/* local tier */
	uint32_t max_ttl;        /* --max-ttl, seconds, default 86400 */
	uint32_t max_neg_ttl;    /* --max-neg-ttl, seconds, default 3600 */
	unsigned upstream_timeout_ms; /* --timeout, default 2000 (SERVFAIL < 3 s) */
	uint64_t cache_size;     /* --cache-size bytes, LMDB map size, default 256 MiB */
	/* --allow CIDR, repeatable; without any, acl_default (acl.h) */
	struct tdns_acl_entry allow[OPTS_MAX_ALLOW];
	unsigned n_allow;
	bool serve_stale;        /* --serve-stale (RFC 8767), default off */
	uint32_t stale_ttl;      /* --stale-ttl, seconds, default 86400 */
	bool use_0x20;           /* --use-0x20, default off */
	unsigned max_outstanding; /* --max-outstanding, per worker, default 1024 */
	/* both tiers */
	unsigned max_tcp;        /* --max-tcp, per listener and worker, default 256 */
	unsigned max_tcp_per_client; /* --max-tcp-per-client, same scope, default 16 */
	unsigned tcp_idle_ms;    /* --tcp-idle, default 10000 (RFC 7766 6.2.3) */
	/* both tiers: DNS over TLS listeners (--tls-listen, port 853 unless
	 * given), which need --tls-cert and --tls-key (borrowed from argv) */
	struct tdns_addr tls_listen[OPTS_MAX_LISTEN];
	unsigned n_tls_listen;
	struct tdns_addr https_listen[OPTS_MAX_LISTEN]; /* local: --https-listen */
	unsigned n_https_listen;
	const char *tls_cert;
	const char *tls_key;
	/* upper tier: response rate limiting (rrl.h), off while rrl.rate is 0 */
	struct tdns_rrl_cfg rrl;      /* --rrl-rate, --rrl-slip, --rrl-size */
	unsigned rrl_ipv4_prefix;     /* --rrl-ipv4-prefix, copied into rrl */
	unsigned rrl_ipv6_prefix;     /* --rrl-ipv6-prefix, copied into rrl */
	/* upper tier: DNS cookies (cookie.h), on unless --no-cookies */
	bool no_cookies;
	struct tdns_cookie_cfg cookies; /* --cookie-secret, --cookie-secret-alt */
	bool cookie_secret_set;       /* else a random secret at start */
	/* after binding (daemon_drop); NULL: none. Borrowed from argv. */
	const char *user;        /* --user NAME */
	const char *pid_file;    /* --pid-file FILE */
	const char *chroot_dir;  /* --chroot DIR */
};

enum opts_result {
	OPTS_RUN = 0,   /* options parsed: run */
	OPTS_EXIT_OK,   /* --help or --version printed: exit 0 */
	OPTS_USAGE,     /* usage error printed on stderr: exit 2 */
};

/* Parse argv into o (defaults first). Messages go to stdout (help) or
 * stderr (errors). */
enum opts_result opts_parse(enum tdns_prog prog, int argc, char **argv,
			    struct tdns_opts *o);

#endif
