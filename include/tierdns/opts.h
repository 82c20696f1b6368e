/*
 * opts.h - the daemons' options: command line (getopt_long) and
 * configuration file (YAML, config.h), both read through ONE table in
 * opts.c. A row of that table is one option: its flag (-p/--port), its key
 * in the file (port:), its type and range, the field of struct tdns_opts it
 * sets and its --help text.
 *
 * Sources, later ones winning: the compiled-in defaults, the file
 * (-c/--config FILE, else the default TDNS_CONF_DIR/upper.conf or
 * local.conf when it exists), the flags. A repeatable option (listen,
 * upstream, allow) given by a later source replaces the whole list of the
 * earlier one. --help, --version, --config and --check-config have no key.
 *
 * Ownership: strings in struct tdns_opts are borrowed from argv (which lives
 * as long as the process) or owned by the opts themselves (text read from
 * the file); opts_free releases the latter. A struct tdns_opts is filled by
 * opts_parse/opts_load and read-only afterwards (the daemons share it
 * between threads), except the log fields and the zones' serial_policy
 * and journal_size at a reload (opts_reload), which no worker reads.
 */
#ifndef TIERDNS_OPTS_H
#define TIERDNS_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tierdns/acl.h"
#include "tierdns/log.h"
#include "tierdns/netio.h"
#include "tierdns/policy.h"
#include "tierdns/rrl.h"
#include "tierdns/tsig.h"

#define OPTS_MAX_LISTEN 16
#define OPTS_MAX_UPSTREAM 8
#define OPTS_MAX_ALLOW 64
#define OPTS_MAX_INSECURE 64
#define OPTS_MAX_ZONES 4096
#define OPTS_MAX_FORWARD 64
#define OPTS_MAX_LOCAL 1024
#define OPTS_MAX_RPZ_PRIMARY 16

/* A repeatable text option (local-zone, local-data, hosts). */
struct opts_strlist {
	const char *v[OPTS_MAX_LOCAL];
	unsigned n;
};

enum tdns_prog {
	TDNS_PROG_UPPER = 0,
	TDNS_PROG_LOCAL,
};

#define OPTS_MAX_ZONE_LIST 32 /* addresses in one list of a stanza */

/* One stanza of the zones: sequence. Other issues add their keys here
 * (primaries, TSIG keys, signing). The lists are owned by the opts. */
struct tdns_zone_conf {
	const char *name; /* as written, ending in '.' (absolute) */
	/* allow-transfer: who may AXFR/IXFR the zone (none: nobody); each
	 * entry's key (allow_transfer_key[i], an index into opts keys, -1:
	 * none) must sign the request as well */
	struct tdns_acl_entry *allow_transfer;
	int *allow_transfer_key;
	unsigned n_allow_transfer;
	/* notify: the secondaries told of every change (RFC 1996), port 53
	 * unless given */
	struct tdns_addr *notify;
	unsigned n_notify;
	/* allow-transfer-key: names of keys: (indexes into opts keys) whose
	 * TSIG-signed transfer requests are allowed from any address */
	unsigned *transfer_keys;
	unsigned n_transfer_keys;
	/* primaries: a secondary zone's primaries (port 53 unless given);
	 * none: tierdns-upper is not a secondary for it */
	struct tdns_addr *primaries;
	unsigned n_primaries;
	int primary_key; /* primary-key: index into opts keys, -1: none */
	/* serial-policy: enum zonedb_serial_policy, how tierdns-zone add and
	 * delete raise the serial (recorded in the store by tierdns-upper);
	 * ZONEDB_SERIAL_ZONE: not given */
	int serial_policy;
	/* journal-size: the bound of the zone's IXFR journal in bytes
	 * (journal.h; recorded in the store with serial_policy); 0: not
	 * given, JOURNAL_MAX_BYTES */
	uint64_t journal_size;
	/* notify-source, transfer-source: this zone's source address of its
	 * NOTIFY messages, and of its SOA queries and transfers (as a
	 * secondary); len 0: the global key's (tdns_opts) */
	struct tdns_addr notify_source;
	struct tdns_addr transfer_source;
	/* transfer-time-in, transfer-size-in: this secondary zone's bounds of
	 * an incoming transfer (as the top-level keys); 0 and -1: the
	 * top-level key's (transfer_size_in 0: no limit) */
	unsigned transfer_time_in;
	int64_t transfer_size_in;
};

/* One response policy zone kept current by zone transfer (rpz-primary:,
 * or an rpz: stanza with primary:, Unbound's form). Strings owned by the
 * opts. */
struct opts_rpz_primary {
	const char *name;     /* the zone, absolute */
	struct tdns_addr primaries[OPTS_MAX_ZONE_LIST]; /* port 53 unless given */
	unsigned n_primaries;
	int key;              /* primary-key: index into opts keys, -1: none */
	const char *zonefile; /* zonefile: written after each transfer and
			       * read at start; NULL: in memory only */
};

struct opts_arena; /* the strings the file gave, owned by the opts */

struct tdns_opts {
	const char *db_dir;
	struct tdns_addr listen[OPTS_MAX_LISTEN];
	unsigned n_listen;
	uint16_t port;
	unsigned threads;
	struct tdns_addr upstream[OPTS_MAX_UPSTREAM];
	unsigned n_upstream;
	int verbose;             /* -v count or verbosity:, 0 info, 1+ debug */
	enum tdns_log_target log_target; /* --log / log:, default stderr */
	/* local tier */
	uint32_t max_ttl;        /* --max-ttl, seconds, default 86400 */
	uint32_t max_neg_ttl;    /* --max-neg-ttl, seconds, default 3600 */
	unsigned upstream_timeout_ms; /* --timeout, default 2000 (SERVFAIL < 3 s) */
	unsigned upstream_idle_ms; /* --upstream-idle, default 10000 (upstream.h) */
	uint64_t cache_size;     /* --cache-size: bytes of cached answers, default 64 MiB */
	/* --allow CIDR, repeatable; without any, acl_default (acl.h) */
	struct tdns_acl_entry allow[OPTS_MAX_ALLOW];
	unsigned n_allow;
	bool serve_stale;        /* --serve-stale (RFC 8767), default off */
	uint32_t stale_ttl;      /* --stale-ttl, seconds, default 86400 */
	bool use_0x20;           /* --use-0x20, default off */
	bool prefetch;           /* --prefetch, default off */
	/* DNSSEC validation (anchor.h): on with a trust anchor file */
	const char *trust_anchor; /* --trust-anchor FILE, dnssec: {trust-anchor:} */
	const char *insecure[OPTS_MAX_INSECURE]; /* --insecure-domain NAME */
	unsigned n_insecure;
	bool aggressive_nsec;    /* --aggressive-nsec (RFC 8198), default off */
	unsigned max_outstanding; /* --max-outstanding, per worker, default 1024 */
	unsigned packet_cache;    /* --packet-cache, slots per worker, default 16384 */
	/* both tiers */
	unsigned max_tcp;        /* --max-tcp, per listener and worker, default 256 */
	unsigned max_tcp_per_client; /* --max-tcp-per-client, same scope, default 16 */
	unsigned tcp_idle_ms;    /* --tcp-idle, default 10000 (RFC 7766 6.2.3) */
	bool reuse_port;         /* --reuse-port: no check that the port is free
				  * (several processes share it, SO_REUSEPORT) */
	/* both tiers: CHAOS TXT identity (RFC 4892, auth.h), NSD's and
	 * Unbound's keys */
	const char *identity;       /* --identity, identity:; NULL: the host name */
	const char *version_string; /* --version-string, version:; NULL: tierdns's */
	bool hide_identity;         /* --hide-identity: id.server etc. REFUSED */
	bool hide_version;          /* --hide-version: version.bind etc. REFUSED */
	/* upper tier: response rate limiting (rrl.h), off while rrl.rate is 0 */
	struct tdns_rrl_cfg rrl;      /* rrl: rate, slip, size */
	unsigned rrl_ipv4_prefix;     /* rrl: ipv4-prefix, copied into rrl */
	unsigned rrl_ipv6_prefix;     /* rrl: ipv6-prefix, copied into rrl */
	bool full_any;                /* upper: --full-any, full-any: (RFC 8482) */
	unsigned sig_expiry_warn;     /* upper: --sig-expiry-warn days, 0 off */
	/* DNS cookies (cookie.h), on unless no_cookies: the upper answers
	 * them, the local answers them and sends them to its upstreams */
	bool no_cookies;              /* --no-cookies, cookies: {disabled: true} */
	const char *cookie_secret;    /* 32 hex digits; NULL: random at start */
	const char *cookie_secret_alt; /* accepted too; NULL: none */
	/* both tiers: DNS over TLS listeners (tls-listen, port 853 unless
	 * given), which need tls-cert and tls-key */
	struct tdns_addr tls_listen[OPTS_MAX_LISTEN];
	unsigned n_tls_listen;
	const char *tls_cert;
	const char *tls_key;
	/* local tier: DNS over HTTPS listeners (https-listen, port 443) */
	struct tdns_addr https_listen[OPTS_MAX_LISTEN];
	unsigned n_https_listen;
	/* local tier: upstream i is DNS over TLS when upstream_auth[i] is not
	 * NULL: the name its certificate must match (upstream-tls); else
	 * clear UDP (and TCP after TC) (upstream) */
	const char *upstream_auth[OPTS_MAX_UPSTREAM];
	const char *tls_ca;           /* tls-ca FILE; NULL: the system trust store */
	/* after binding (daemon_drop); NULL: none. */
	const char *user;        /* --user NAME */
	const char *pid_file;    /* --pid-file FILE */
	const char *chroot_dir;  /* --chroot DIR */
	/* operations: the control socket and the metrics listener
	 * (control.h). control_path NULL or "none": no socket; by default
	 * CONTROL_DEFAULT_UPPER/LOCAL, and then control_default is true: a
	 * default path that cannot be used is a warning, a path given one
	 * that stops the start. metrics_listen NULL: none. */
	const char *control_path;  /* --control PATH, control: {socket: PATH} */
	bool control_default;      /* control_path is the compiled-in default */
	unsigned control_mode;     /* control: {mode: 0660}, default 0660 */
	const char *control_group; /* control: {group: NAME} */
	const char *metrics_listen; /* --metrics ADDR:PORT, metrics: {listen:} */
	/* dnstap (dnstap.h): at most one of the two; NULL: off */
	const char *dnstap_socket;  /* --dnstap-socket PATH, dnstap: {socket:} */
	const char *dnstap_file;    /* --dnstap-file FILE, dnstap: {file:} */
	/* keys: the TSIG keys (tsig.h), n_keys of them (NULL when none) */
	struct tdns_tsig_key *keys;
	unsigned n_keys;
	/* local tier: resolver policy (policy.h). forward: entries sorted so
	 * that those of one name are adjacent (policy_forward_sort); their
	 * names point into the opts. Read at start; the others again
	 * at each reload. */
	struct policy_forward forward[OPTS_MAX_FORWARD]; /* --forward NAME@ADDR */
	unsigned n_forward;
	struct opts_strlist local_zone; /* --local-zone 'NAME TYPE' */
	struct opts_strlist local_data; /* --local-data 'RR' */
	struct opts_strlist hosts;      /* --hosts FILE */
	struct opts_strlist rpz;        /* --rpz FILE */
	/* --rpz-primary ZONE@ADDR (entries of one zone merged); read at
	 * start only */
	struct opts_rpz_primary rpz_primary[OPTS_MAX_RPZ_PRIMARY];
	unsigned n_rpz_primary;
	/* upper tier: the source address (port 0: any) of the NOTIFY messages
	 * (notify-source, BIND's key) and of the secondary's SOA queries and
	 * transfers (transfer-source); a zone's stanza may give its own. Used
	 * for peers of its family; len 0, or a peer of the other family: the
	 * kernel's choice. */
	struct tdns_addr notify_source;   /* --notify-source ADDR[:PORT] */
	struct tdns_addr transfer_source; /* --transfer-source ADDR[:PORT] */
	/* The bounds of one incoming transfer (secondary zones, rpz-primary):
	 * its whole time in seconds (default 7200) and the bytes of its
	 * messages (0: none, the default). */
	unsigned transfer_time_in;  /* --transfer-time-in SEC */
	uint64_t transfer_size_in;  /* --transfer-size-in SIZE */
	/* upper tier: an outgoing transfer's whole time in seconds
	 * (netio_request_stream's max_s), default 7200 */
	unsigned transfer_time_out; /* --transfer-time-out SEC */
	/* zones: stanzas, n_zones of them (NULL when none) */
	struct tdns_zone_conf *zones;
	unsigned n_zones;
	/* the file that was read (-c or the default), NULL when none */
	const char *config_path;
	bool check_config;       /* --check-config: print, do not run */
	/* what this was parsed from, for opts_reload (argv: borrowed) */
	enum tdns_prog prog;
	int argc;
	char **argv;
	struct opts_arena *arena; /* owned: opts_free */
};

enum opts_result {
	OPTS_RUN = 0,   /* options parsed: run */
	OPTS_EXIT_OK,   /* --help, --version or --check-config printed: exit 0 */
	OPTS_USAGE,     /* usage or configuration error: exit 2 */
};

/* The default configuration file of prog (TDNS_CONF_DIR/upper.conf or
 * local.conf): a static string. */
const char *opts_default_config(enum tdns_prog prog);

/* Parse argv and the configuration file into o (defaults first). Prints
 * --help, --version or the effective configuration (--check-config) on
 * stdout and returns OPTS_EXIT_OK; prints an error on stderr and returns
 * OPTS_USAGE. On OPTS_RUN the caller owns o (opts_free); on any other
 * result nothing is left to free. */
enum opts_result opts_parse(enum tdns_prog prog, int argc, char **argv,
			    struct tdns_opts *o);

/* The same, printing nothing: an error is written into err (cap bytes, one
 * line without the program name: "FILE:LINE:COLUMN: key 'port': ..."). For
 * --help and --version it returns OPTS_EXIT_OK without printing; for
 * --check-config it returns OPTS_RUN with o->check_config set. Used at
 * SIGHUP and by the tests. */
enum opts_result opts_load(enum tdns_prog prog, int argc, char **argv,
			   struct tdns_opts *o, char *err, size_t cap);

/* The effective configuration as a configuration file: every key of prog
 * with its value, defaults included (what --check-config prints). */
void opts_print(enum tdns_prog prog, const struct tdns_opts *o, FILE *f);

/* The keys ("port", "control.socket", "zones") whose values differ between
 * a and b, comma-separated into buf (cap bytes; "" when none). */
void opts_diff(enum tdns_prog prog, const struct tdns_opts *a,
	       const struct tdns_opts *b, char *buf, size_t cap);

/* SIGHUP (main thread) or tierdns-control reload (control thread), never
 * both at once (daemon.h daemon_reload): read the file and the command
 * line again. What can change while the daemon runs is applied to
 * running (the log target and verbosity, and the serial-policy and
 * journal-size of the zones: stanzas running has, each change logged:
 * tierdns-upper records them in its store afterwards); every other key that changed is named in the log
 * line as needing a restart and keeps its running value, except the keys
 * the daemon reads again itself (local-zone, local-data, hosts, rpz: see
 * main_local.c). An invalid file
 * is logged and changes nothing. Logs one line either way. */
void opts_reload(struct tdns_opts *running);

/* Release what o owns (nothing borrowed); o must be parsed again to use. */
void opts_free(struct tdns_opts *o);

#endif
