/*
 * opts.c - the daemons' options, see opts.h. One table (opt_table) holds
 * every option; getopt_long's option array, the short-option string, the
 * configuration file's keys (config.c), --help, --check-config and the
 * reload diff are all derived from it.
 *
 * Addresses are resolved only after every source has been read, so that
 * "--listen ::1 --port 53" and "--port 53 --listen ::1" mean the same thing
 * (and a listen: from the file takes a --port from the command line).
 */
#include "tierdns/opts.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "tierdns/config.h"
#include "tierdns/control.h"
#include "tierdns/cookie.h"
#include "tierdns/journal.h"
#include "tierdns/replycache.h"
#include "tierdns/secondary.h"
#include "tierdns/zonedb.h"

/* The build's state directory (GNUInstallDirs: LOCALSTATEDIR/lib/tierdns,
 * /var/lib/tierdns for the prefix /usr) and configuration directory
 * (SYSCONFDIR/tierdns, /etc/tierdns for the prefix /usr). */
#ifndef TDNS_STATE_DIR
#error "TDNS_STATE_DIR must be defined by the build"
#endif
#ifndef TDNS_CONF_DIR
#error "TDNS_CONF_DIR must be defined by the build"
#endif
#define OPTS_DB_UPPER TDNS_STATE_DIR "/upper"
#define OPTS_DB_LOCAL TDNS_STATE_DIR "/local"
#define OPTS_CONF_UPPER TDNS_CONF_DIR "/upper.conf"
#define OPTS_CONF_LOCAL TDNS_CONF_DIR "/local.conf"
#define OPTS_PORT_UPPER 9998
#define OPTS_PORT_LOCAL 9999
#define OPTS_UPSTREAM_DEFAULT "127.0.0.1:9998"
#define OPTS_UPSTREAM_PORT 53 /* an upstream given without a port */
#define OPTS_MAX_THREADS 256
#define OPTS_CONTROL_MODE 0660
#define OPTS_TLS_PORT 853     /* RFC 7858 3.1 */
#define OPTS_HTTPS_PORT 443   /* RFC 8484: https */

/* RFC 8767 5: a maximum stale timer of 1 to 3 days is suggested. */
#define OPTS_STALE_TTL_MAX 259200
#define OPTS_MAX_OUTSTANDING_MAX 65536
#define OPTS_MAX_TCP_MAX 65536
#define OPTS_TCP_IDLE_MAX 3600000 /* ms: an hour */
#define OPTS_XFR_TIME_MAX 2419200 /* s: 28 days, BIND's max-transfer-time-in limit */
#define OPTS_VERBOSITY_MAX 3

/* What an option's value is, and so how it is parsed, printed, compared. */
enum opt_kind {
	K_STR,      /* a non-empty string; F_NULL: ~ for none */
	K_UINT,     /* decimal in [min, max], into a uint16_t or 32-bit field */
	K_SIZE,     /* bytes with K/M/G, at least min MiB, into a uint64_t */
	K_BOOL,     /* flag without a value; true/false in the file */
	K_COUNT,    /* -v: each one counts; a number in [min, max] in the file */
	K_LISTEN,   /* repeatable address, port from --port */
	K_UPSTREAM, /* repeatable address, port 53 by default */
	K_ALLOW,    /* repeatable CIDR */
	K_LOG,      /* stderr | syslog | journal */
	K_MODE,     /* octal file mode, 0-0777 */
	K_ADDRPORT, /* ADDR:PORT or [V6]:PORT, kept as text; F_NULL */
	K_SECRET,   /* 32 hex digits (cookie.h), kept as text; F_NULL */
	K_TLS_LISTEN,   /* repeatable address, port 853 by default */
	K_HTTPS_LISTEN, /* repeatable address, port 443 by default */
	K_UPSTREAM_TLS, /* repeatable ADDR[:PORT]#NAME, in the upstream list */
	K_FORWARD,  /* repeatable NAME@ADDR[:PORT], NAME@nxdomain, NAME@refused */
	K_STUB,     /* repeatable NAME@ADDR[:PORT], kept with K_FORWARD's */
	K_TEXTS,    /* repeatable text into a struct opts_strlist */
	K_DOMAIN,   /* repeatable domain name (insecure-domain) */
	K_RPZ_PRIMARY, /* repeatable ZONE@ADDR[:PORT] (rpz-primary) */
	K_SOURCE,   /* one address, port 0 unless given, into a struct tdns_addr
		     * (len 0: none); F_NULL */
	/* command line only (no key) */
	K_CONFIG, K_CHECK, K_HELP, K_VERSION,
};

#define T_UP (1u << TDNS_PROG_UPPER)
#define T_LO (1u << TDNS_PROG_LOCAL)
#define T_ALL (T_UP | T_LO)
#define F_NULL 1u /* the key takes ~ (none); the default may be none */
#define F_LIVE 2u /* read again by the daemon at a reload: no restart */

struct opts_def {
	const char *flag;    /* long option, NULL: key only */
	char shortopt;       /* 'd', or 0 */
	const char *section; /* NULL: top level of the file */
	const char *key;     /* NULL: command line only */
	unsigned tiers;      /* T_UP, T_LO */
	enum opt_kind kind;
	unsigned flags;
	unsigned long long min, max; /* K_UINT, K_COUNT; K_SIZE: min in MiB */
	const char *range;   /* the error's hint: "1-65535", "seconds" */
	size_t off, size;    /* the field in struct tdns_opts; size 0: none */
	const char *arg;     /* --help's name of the value, NULL: none */
	const char *help;    /* --help text, lines separated by '\n' */
};

#define FIELD(f) offsetof(struct tdns_opts, f), sizeof(((struct tdns_opts *)0)->f)
#define NOFIELD 0, 0

/*
 * Every option, in --help order. Rows whose default differs per daemon
 * (config, db, port) come once per daemon. The rows of one section are
 * adjacent (the printed configuration groups them).
 */
static const struct opts_def opt_table[] = {
	{ "config", 'c', NULL, NULL, T_UP, K_CONFIG, 0, 0, 0, NULL, NOFIELD, "FILE",
	  "configuration file, YAML, read when it exists\n(default " OPTS_CONF_UPPER ")" },
	{ "config", 'c', NULL, NULL, T_LO, K_CONFIG, 0, 0, 0, NULL, NOFIELD, "FILE",
	  "configuration file, YAML, read when it exists\n(default " OPTS_CONF_LOCAL ")" },
	{ "check-config", 0, NULL, NULL, T_ALL, K_CHECK, 0, 0, 0, NULL, NOFIELD, NULL,
	  "check the configuration file and the options,\nprint the effective configuration "
	  "and exit\n(0 valid, 2 not); opens no store, binds nothing" },
	{ "db", 'd', NULL, "db", T_UP, K_STR, 0, 0, 0, NULL, FIELD(db_dir), "DIR",
	  "LMDB store directory, created if missing\n(default " OPTS_DB_UPPER ")" },
	{ "db", 'd', NULL, "db", T_LO, K_STR, 0, 0, 0, NULL, FIELD(db_dir), "DIR",
	  "LMDB store directory, created if missing\n(default " OPTS_DB_LOCAL ")" },
	{ "listen", 'l', NULL, "listen", T_ALL, K_LISTEN, 0, 0, OPTS_MAX_LISTEN, NULL, NOFIELD,
	  "ADDR", "address to serve on, IPv4 or IPv6, repeatable;\n"
	  "ADDR:PORT or [V6]:PORT overrides --port (default 127.0.0.1)" },
	{ "port", 'p', NULL, "port", T_UP, K_UINT, 0, 1, 65535, "1-65535", FIELD(port), "N",
	  "UDP and TCP port (default 9998)" },
	{ "port", 'p', NULL, "port", T_LO, K_UINT, 0, 1, 65535, "1-65535", FIELD(port), "N",
	  "UDP and TCP port (default 9999)" },
	{ "threads", 't', NULL, "threads", T_ALL, K_UINT, 0, 1, OPTS_MAX_THREADS, "1-256",
	  FIELD(threads), "N", "worker threads, 1-256 (default: number of CPUs)" },
	{ "rrl-rate", 0, "rrl", "rate", T_UP, K_UINT, 0, 0, 1000000, "0-1000000 responses/s",
	  FIELD(rrl.rate), "N", "response rate limiting: UDP responses per second\n"
	  "per client prefix, class and name; 0 is off\n(default 0)" },
	{ "rrl-slip", 0, "rrl", "slip", T_UP, K_UINT, 0, 0, 100, "0-100", FIELD(rrl.slip), "N",
	  "of the limited responses, send every N-th truncated\n(TC) and drop the rest; "
	  "0 drops all (default 2)" },
	{ "rrl-ipv4-prefix", 0, "rrl", "ipv4-prefix", T_UP, K_UINT, 0, 8, 32, "8-32",
	  FIELD(rrl_ipv4_prefix), "N", "IPv4 prefix length that counts as one client\n"
	  "(default 24)" },
	{ "rrl-ipv6-prefix", 0, "rrl", "ipv6-prefix", T_UP, K_UINT, 0, 16, 128, "16-128",
	  FIELD(rrl_ipv6_prefix), "N", "IPv6 prefix length that counts as one client\n"
	  "(default 56)" },
	{ "rrl-size", 0, "rrl", "size", T_UP, K_UINT, 0, 1, RRL_MAX_SIZE, "1-16777216 buckets",
	  FIELD(rrl.size), "N", "buckets of the shared RRL table (default 65536)" },
	{ "sig-expiry-warn", 0, "dnssec", "expiry-warn-days", T_UP, K_UINT, 0, 0, 3650,
	  "0-3650 days", FIELD(sig_expiry_warn), "DAYS", "warn at start, at reload and every hour\n"
	  "when a signature of a served zone expires within\nDAYS days; 0 off (default 7)" },
	{ "full-any", 0, NULL, "full-any", T_UP, K_BOOL, 0, 0, 0, NULL, FIELD(full_any), NULL,
	  "answer ANY over UDP with every RRset of the name\n(over TCP always; default off: "
	  "one RRset, RFC 8482)" },
	{ "no-cookies", 0, "cookies", "disabled", T_UP, K_BOOL, 0, 0, 0, NULL, FIELD(no_cookies),
	  NULL, "do not answer DNS cookies, RFC 7873; a valid server\ncookie exempts from RRL "
	  "(default: answer them)" },
	{ "no-cookies", 0, "cookies", "disabled", T_LO, K_BOOL, 0, 0, 0, NULL, FIELD(no_cookies),
	  NULL, "neither answer DNS cookies, RFC 7873, nor send them\nto the upstreams; replies "
	  "with a cookie not ours\nare dropped (default: both)" },
	{ "cookie-secret", 0, "cookies", "secret", T_ALL, K_SECRET, F_NULL, 0, 0, NULL,
	  FIELD(cookie_secret), "HEX", "server cookie secret, 32 hex digits (default: random\n"
	  "at each start); the same on every server of an address" },
	{ "cookie-secret-alt", 0, "cookies", "secret-alt", T_ALL, K_SECRET, F_NULL, 0, 0, NULL,
	  FIELD(cookie_secret_alt), "HEX", "a second secret accepted but not used to sign: the\n"
	  "old one during a rollover" },
	{ "upstream", 'u', NULL, "upstream", T_LO, K_UPSTREAM, 0, 0, OPTS_MAX_UPSTREAM, NULL,
	  NOFIELD, "ADDR[:PORT]", "upstream server, repeatable; [V6]:PORT for IPv6;\n"
	  "PORT defaults to 53 (default " OPTS_UPSTREAM_DEFAULT ")" },
	{ "upstream-tls", 0, NULL, "upstream-tls", T_LO, K_UPSTREAM_TLS, F_NULL, 0, OPTS_MAX_UPSTREAM,
	  NULL, NOFIELD, "ADDR[:PORT]#NAME", "upstream over DNS over TLS, repeatable; its\n"
	  "certificate must be valid for NAME, RFC 8310\nstrict (PORT defaults to 853)" },
	{ "tls-ca", 0, NULL, "tls-ca", T_LO, K_STR, F_NULL, 0, 0, NULL, FIELD(tls_ca), "FILE",
	  "PEM CA certificates that --upstream-tls servers are\nverified against (default: "
	  "the system's store)" },
	{ "upstream-idle", 0, NULL, "upstream-idle", T_LO, K_UINT, 0, 1, OPTS_TCP_IDLE_MAX,
	  "1-3600000 ms", FIELD(upstream_idle_ms), "MS", "close an --upstream-tls connection "
	  "with no query\nin flight this long, or sooner when the server's\nkeepalive says so, "
	  "RFC 7828, 1-3600000\n(default 10000)" },
	{ "https-listen", 0, NULL, "https-listen", T_LO, K_HTTPS_LISTEN, F_NULL, 0, OPTS_MAX_LISTEN,
	  NULL, NOFIELD, "ADDR", "serve DNS over HTTPS, RFC 8484, on ADDR at\n/dns-query, "
	  "repeatable; ADDR:PORT or [V6]:PORT\n(default port 443); with --tls-cert and "
	  "--tls-key" },
	{ "forward", 0, NULL, "forward", T_LO, K_FORWARD, F_NULL, 0, OPTS_MAX_FORWARD, NULL,
	  NOFIELD, "NAME@ADDR[:PORT]", "send questions for NAME and below to ADDR instead\n"
	  "of --upstream, repeatable (a name's upstreams are one\nset with failover); "
	  "NAME@nxdomain or NAME@refused:\nnever forwarded, answered so (default: none)" },
	{ "stub", 0, NULL, "stub", T_LO, K_STUB, F_NULL, 0, OPTS_MAX_FORWARD, NULL, NOFIELD,
	  "NAME@ADDR[:PORT]", "ask ADDR, an authoritative server of zone NAME,\n"
	  "the questions for NAME and below, without\nrecursion (RD clear), repeatable; "
	  "its referrals\nwithin NAME are followed (default: none)" },
	{ "local-zone", 0, NULL, "local-zone", T_LO, K_TEXTS, F_NULL | F_LIVE, 0, OPTS_MAX_LOCAL,
	  NULL, FIELD(local_zone), "'NAME TYPE'", "answer for NAME and below by TYPE: "
	  "transparent,\ntypetransparent, static, redirect, refuse, deny,\nalways_nxdomain, "
	  "always_refuse, always_transparent,\nnodefault; repeatable (default: none)" },
	{ "local-data", 0, NULL, "local-data", T_LO, K_TEXTS, F_NULL | F_LIVE, 0, OPTS_MAX_LOCAL,
	  NULL, FIELD(local_data), "'RR'", "answer this record (master-file syntax) for its\n"
	  "name and type, repeatable (default: none)" },
	{ "hosts", 0, NULL, "hosts", T_LO, K_TEXTS, F_NULL | F_LIVE, 0, OPTS_MAX_LOCAL, NULL,
	  FIELD(hosts), "FILE", "answer A, AAAA and PTR from an /etc/hosts-format\nfile, "
	  "repeatable; read again when it changes\n(default: none)" },
	{ "rpz", 0, NULL, "rpz", T_LO, K_TEXTS, F_NULL | F_LIVE, 0, OPTS_MAX_LOCAL, NULL,
	  FIELD(rpz), "FILE", "response policy zone (blocklist) from a zone file,\n"
	  "QNAME triggers, repeatable; read again when it\nchanges (default: none)" },
	{ "rpz-primary", 0, NULL, "rpz-primary", T_LO, K_RPZ_PRIMARY, F_NULL, 0,
	  OPTS_MAX_RPZ_PRIMARY, NULL, NOFIELD, "ZONE@ADDR[:PORT]", "response policy zone ZONE "
	  "kept current by zone\ntransfer (AXFR, then IXFR) from its primary ADDR,\n"
	  "checked every SOA refresh and at a NOTIFY from\nADDR; repeatable, in memory only "
	  "(default: none)" },
	{ "trust-anchor", 0, "dnssec", "trust-anchor", T_LO, K_STR, F_NULL, 0, 0, NULL,
	  FIELD(trust_anchor), "FILE", "validate DNSSEC with the DS or DNSKEY records of\n"
	  "FILE (master-file format) as trust anchors\n(default: none, no validation)" },
	{ "insecure-domain", 0, "dnssec", "insecure-domain", T_LO, K_DOMAIN, F_NULL, 0,
	  OPTS_MAX_INSECURE, NULL, NOFIELD, "NAME", "treat answers at and below NAME as "
	  "insecure\n(no validation), repeatable" },
	{ "aggressive-nsec", 0, "dnssec", "aggressive-nsec", T_LO, K_BOOL, 0, 0, 0, NULL,
	  FIELD(aggressive_nsec), NULL, "answer NXDOMAIN from validated NSEC records that\n"
	  "prove the name absent, without asking upstream,\nRFC 8198 (default off)" },
	{ "max-ttl", 0, NULL, "max-ttl", T_LO, K_UINT, 0, 0, UINT32_MAX, "seconds",
	  FIELD(max_ttl), "SEC", "cap on the TTL of cached answers (default 86400)" },
	{ "max-neg-ttl", 0, NULL, "max-neg-ttl", T_LO, K_UINT, 0, 0, UINT32_MAX, "seconds",
	  FIELD(max_neg_ttl), "SEC", "cap on cached NXDOMAIN/NODATA, RFC 2308 (default 3600)" },
	{ "timeout", 0, NULL, "timeout", T_LO, K_UINT, 0, 1, 60000, "1-60000 ms",
	  FIELD(upstream_timeout_ms), "MS", "time a miss may take across all upstreams before\n"
	  "SERVFAIL, 1-60000 (default 2000)" },
	{ "cache-size", 0, NULL, "cache-size", T_LO, K_SIZE, 0, 1, 0,
	  "bytes, K/M/G suffix, at least 1M", FIELD(cache_size), "SIZE",
	  "bytes of cached answers (keys and values), with an\noptional K, M or G suffix, "
	  "at least 1M (default 64M)" },
	{ "allow", 0, NULL, "allow", T_LO, K_ALLOW, 0, 0, OPTS_MAX_ALLOW, NULL, NOFIELD, "CIDR",
	  "clients allowed to query, IPv4 or IPv6 prefix,\nrepeatable; others get REFUSED "
	  "(default: loopback,\n10/8, 172.16/12, 192.168/16, fc00::/7)" },
	{ "serve-stale", 0, NULL, "serve-stale", T_LO, K_BOOL, 0, 0, 0, NULL,
	  FIELD(serve_stale), NULL, "answer from expired cache entries (TTL 30) when no\n"
	  "upstream answers, RFC 8767 (default off)" },
	{ "stale-ttl", 0, NULL, "stale-ttl", T_LO, K_UINT, 0, 1, OPTS_STALE_TTL_MAX,
	  "1-259200 s", FIELD(stale_ttl), "SEC", "how long expired entries are kept for "
	  "--serve-stale,\n1-259200 (default 86400)" },
	{ "use-0x20", 0, NULL, "use-0x20", T_LO, K_BOOL, 0, 0, 0, NULL, FIELD(use_0x20), NULL,
	  "randomise the case of upstream questions and check\nit in replies (default off)" },
	{ "prefetch", 0, NULL, "prefetch", T_LO, K_BOOL, 0, 0, 0, NULL, FIELD(prefetch), NULL,
	  "refresh a cache entry asked in the last tenth of\nits TTL in the background, "
	  "once (default off)" },
	{ "packet-cache", 0, NULL, "packet-cache", T_LO, K_UINT, 0, 0, REPLYCACHE_MAX,
	  "0-1048576 replies", FIELD(packet_cache), "N", "replies to cache hits kept per thread "
	  "and sent\nagain with the ID, case and TTLs rewritten, 512\nbytes each at most; "
	  "0 off (default 16384)" },
	{ "max-outstanding", 0, NULL, "max-outstanding", T_LO, K_UINT, 0, 1,
	  OPTS_MAX_OUTSTANDING_MAX, "1-65536", FIELD(max_outstanding), "N",
	  "upstream queries in flight per thread, 1-65536\n(default 1024)" },
	{ "max-tcp", 0, NULL, "max-tcp", T_ALL, K_UINT, 0, 1, OPTS_MAX_TCP_MAX, "1-65536",
	  FIELD(max_tcp), "N", "TCP connections per listener and thread, 1-65536\n"
	  "(default 256)" },
	{ "max-tcp-per-client", 0, NULL, "max-tcp-per-client", T_ALL, K_UINT, 0, 1,
	  OPTS_MAX_TCP_MAX, "1-65536", FIELD(max_tcp_per_client), "N",
	  "TCP connections per listener and thread from one\nclient address, 1-65536 "
	  "(default 16)" },
	{ "tcp-idle", 0, NULL, "tcp-idle", T_ALL, K_UINT, 0, 1, OPTS_TCP_IDLE_MAX,
	  "1-3600000 ms", FIELD(tcp_idle_ms), "MS", "close a TCP connection idle this long, "
	  "RFC 7766\n6.2.3, 1-3600000 (default 10000)" },
	{ "reuse-port", 0, NULL, "reuse-port", T_ALL, K_BOOL, 0, 0, 0, NULL, FIELD(reuse_port),
	  NULL, "share the port with other processes on it (a fleet\non one host with one "
	  "--db; default: a port in use\nis an error)" },
	{ "identity", 0, NULL, "identity", T_ALL, K_STR, F_NULL, 0, 0, NULL, FIELD(identity),
	  "STR", "the answer to CHAOS TXT id.server and hostname.bind\n(default: the host name)" },
	{ "hide-identity", 0, NULL, "hide-identity", T_ALL, K_BOOL, 0, 0, 0, NULL,
	  FIELD(hide_identity), NULL, "answer CHAOS TXT id.server and hostname.bind\n"
	  "REFUSED, as NSD and Unbound do (default off)" },
	{ "version-string", 0, NULL, "version", T_ALL, K_STR, F_NULL, 0, 0, NULL,
	  FIELD(version_string), "STR", "the answer to CHAOS TXT version.bind and\n"
	  "version.server (default: tierdns and its version)" },
	{ "hide-version", 0, NULL, "hide-version", T_ALL, K_BOOL, 0, 0, 0, NULL,
	  FIELD(hide_version), NULL, "answer CHAOS TXT version.bind and version.server\n"
	  "REFUSED, as NSD and Unbound do (default off)" },
	{ "tls-listen", 0, NULL, "tls-listen", T_ALL, K_TLS_LISTEN, F_NULL, 0, OPTS_MAX_LISTEN, NULL,
	  NOFIELD, "ADDR", "serve DNS over TLS, RFC 7858, on ADDR, repeatable;\n"
	  "ADDR:PORT or [V6]:PORT (default port 853)" },
	{ "tls-cert", 0, NULL, "tls-cert", T_ALL, K_STR, F_NULL, 0, 0, NULL, FIELD(tls_cert),
	  "FILE", "PEM certificate chain for --tls-listen (read again\non SIGHUP)" },
	{ "tls-key", 0, NULL, "tls-key", T_ALL, K_STR, F_NULL, 0, 0, NULL, FIELD(tls_key),
	  "FILE", "PEM private key for --tls-listen (read again on\nSIGHUP)" },
	{ "user", 0, NULL, "user", T_ALL, K_STR, F_NULL, 0, 0, NULL, FIELD(user), "NAME",
	  "after binding, switch to user NAME and its groups\n(as root; the store is handed "
	  "to NAME first)" },
	{ "pid-file", 0, NULL, "pid-file", T_ALL, K_STR, F_NULL, 0, 0, NULL, FIELD(pid_file),
	  "FILE", "write the process ID to FILE after binding" },
	{ "chroot", 0, NULL, "chroot", T_ALL, K_STR, F_NULL, 0, 0, NULL, FIELD(chroot_dir),
	  "DIR", "after binding, change the root directory to DIR\n(as root; the store stays "
	  "open)" },
	{ "control", 0, "control", "socket", T_UP, K_STR, F_NULL, 0, 0, NULL,
	  FIELD(control_path), "PATH", "control socket (Unix domain) for tierdns-control,\n"
	  "none for none (default " CONTROL_DEFAULT_UPPER ")" },
	{ "control", 0, "control", "socket", T_LO, K_STR, F_NULL, 0, 0, NULL,
	  FIELD(control_path), "PATH", "control socket (Unix domain) for tierdns-control,\n"
	  "none for none (default " CONTROL_DEFAULT_LOCAL ")" },
	{ NULL, 0, "control", "mode", T_ALL, K_MODE, 0, 0, 0777, "octal, 0-0777",
	  FIELD(control_mode), NULL, NULL },
	{ NULL, 0, "control", "group", T_ALL, K_STR, F_NULL, 0, 0, NULL, FIELD(control_group),
	  NULL, NULL },
	{ "metrics", 0, "metrics", "listen", T_ALL, K_ADDRPORT, F_NULL, 0, 0, NULL,
	  FIELD(metrics_listen), "ADDR:PORT", "serve Prometheus metrics over HTTP on ADDR:PORT\n"
	  "(default: off)" },
	{ "dnstap-socket", 0, "dnstap", "socket", T_ALL, K_STR, F_NULL, 0, 0, NULL,
	  FIELD(dnstap_socket), "PATH", "send dnstap messages to the Unix socket PATH (a\n"
	  "collector such as fstrm_capture; default: none)" },
	{ "dnstap-file", 0, "dnstap", "file", T_ALL, K_STR, F_NULL, 0, 0, NULL,
	  FIELD(dnstap_file), "FILE", "write dnstap messages to FILE (default: none)" },
	{ "notify-source", 0, NULL, "notify-source", T_UP, K_SOURCE, F_NULL, 0, 0, NULL,
	  FIELD(notify_source), "ADDR[:PORT]", "send NOTIFY from this local address (for "
	  "targets\nof its family; a zone's stanza may give its own;\ndefault: the "
	  "kernel's choice)" },
	{ "transfer-source", 0, NULL, "transfer-source", T_UP, K_SOURCE, F_NULL, 0, 0, NULL,
	  FIELD(transfer_source), "ADDR[:PORT]", "send a secondary zone's SOA queries and "
	  "transfer\nrequests from this local address (for primaries\nof its family; a "
	  "zone's stanza may give its own;\ndefault: the kernel's choice)" },
	{ "transfer-time-in", 0, NULL, "transfer-time-in", T_ALL, K_UINT, 0, 1,
	  OPTS_XFR_TIME_MAX, "1-2419200 s", FIELD(transfer_time_in), "SEC",
	  "give up an incoming zone transfer that takes\nlonger and try the next primary "
	  "(BIND's\nmax-transfer-time-in), 1-2419200 (default 7200)" },
	{ "transfer-size-in", 0, NULL, "transfer-size-in", T_ALL, K_SIZE, 0, 0, 0,
	  "bytes, K/M/G suffix", FIELD(transfer_size_in), "SIZE",
	  "give up an incoming zone transfer whose messages\ncome to more bytes, with an "
	  "optional K, M or G\nsuffix (NSD's size-limit-xfr); 0 no limit\n(default 0)" },
	{ "transfer-time-out", 0, NULL, "transfer-time-out", T_UP, K_UINT, 0, 1,
	  OPTS_XFR_TIME_MAX, "1-2419200 s", FIELD(transfer_time_out), "SEC",
	  "close the connection of an outgoing zone transfer\nstill being sent after SEC "
	  "(BIND's\nmax-transfer-time-out), 1-2419200 (default 7200)" },
	{ "log", 0, NULL, "log", T_ALL, K_LOG, 0, 0, 0, "stderr, syslog or journal",
	  FIELD(log_target), "TARGET", "where log lines go: stderr, syslog or journal\n"
	  "(default stderr)" },
	{ "verbose", 'v', NULL, "verbosity", T_ALL, K_COUNT, 0, 0, OPTS_VERBOSITY_MAX, "0-3",
	  FIELD(verbose), NULL, "more log output (repeat for debug)" },
	{ "help", 'h', NULL, NULL, T_ALL, K_HELP, 0, 0, 0, NULL, NOFIELD, NULL,
	  "show this help and exit" },
	{ "version", 'V', NULL, NULL, T_ALL, K_VERSION, 0, 0, 0, NULL, NOFIELD, NULL,
	  "show the version and exit" },
};

#define OPT_N (sizeof(opt_table) / sizeof(opt_table[0]))
#define OPT_LONG_BASE 256 /* getopt_long's val of row i: OPT_LONG_BASE + i */

/* The keys of a zones: stanza (other issues add theirs). */
static const char *const zone_keys[] = { "name", "allow-transfer", "allow-transfer-key",
					  "notify", "primaries", "primary-key",
					  "serial-policy", "journal-size", "notify-source",
					  "transfer-source", "transfer-time-in",
					  "transfer-size-in" };

_Static_assert(sizeof(unsigned) == sizeof(uint32_t), "K_UINT stores unsigned as 32 bits");

/* The strings read from the file, freed by opts_free. */
struct opts_arena {
	struct opts_arena *next;
	char text[];
};

/* What opts_load builds while it reads its sources. */
struct opts_build {
	enum tdns_prog prog;
	struct tdns_opts *o;
	/* The address lists as text until the port is known. */
	const char *listen_text[OPTS_MAX_LISTEN];
	unsigned n_listen_text;
	const char *upstream_text[OPTS_MAX_UPSTREAM];
	bool upstream_tls[OPTS_MAX_UPSTREAM]; /* ADDR[:PORT]#NAME (upstream-tls) */
	unsigned n_upstream_text;
	bool seen[OPT_N]; /* this source set row i already (lists, -v) */
	int rpz_cur;      /* the rpz_primary entry the last value named */
};

const char *opts_default_config(enum tdns_prog prog)
{
	return prog == TDNS_PROG_LOCAL ? OPTS_CONF_LOCAL : OPTS_CONF_UPPER;
}

static const char *prog_name(enum tdns_prog prog)
{
	return prog == TDNS_PROG_LOCAL ? "tierdns-local" : "tierdns-upper";
}

static bool for_prog(const struct opts_def *d, enum tdns_prog prog)
{
	return (d->tiers & (1u << prog)) != 0;
}

static void print_help(enum tdns_prog prog)
{
	char lead[64];
	const char *h, *nl;
	int n;

	if (prog == TDNS_PROG_UPPER)
		printf("Usage: tierdns-upper [OPTION]...\n"
		       "Authoritative DNS server answering from the zones in an LMDB store\n"
		       "(load them with tierdns-zone; zones loaded while it runs are served at once).\n");
	else
		printf("Usage: tierdns-local [OPTION]...\n"
		       "Caching DNS forwarder: static records from its store, then the cache,\n"
		       "then the upstream server(s).\n");
	printf("\nEvery option but -c, --check-config, -h and -V is also a key of the\n"
	       "configuration file (tierdns.conf(5)); options override the file.\n\n");
	for (size_t i = 0; i < OPT_N; i++) {
		const struct opts_def *d = &opt_table[i];

		if (d->flag == NULL || !for_prog(d, prog))
			continue;
		if (d->shortopt != 0)
			n = snprintf(lead, sizeof(lead), "  -%c, --%s%s%s", d->shortopt, d->flag,
				     d->arg ? " " : "", d->arg ? d->arg : "");
		else
			n = snprintf(lead, sizeof(lead), "      --%s%s%s", d->flag,
				     d->arg ? " " : "", d->arg ? d->arg : "");
		/* The text starts in column 24, or on the next line when the
		 * option itself reaches it. */
		if (n < 24)
			printf("%-24s", lead);
		else
			printf("%s\n%24s", lead, "");
		for (h = d->help; (nl = strchr(h, '\n')) != NULL; h = nl + 1)
			printf("%.*s\n%24s", (int)(nl - h), h, "");
		printf("%s\n", h);
	}
	printf("\nExit status: 0 ok, 1 runtime error, 2 usage or configuration error.\n");
}

/* ---- values ---- */

/* A decimal number in [min, max]; no sign, no trailing garbage. */
static bool parse_uint(const char *s, unsigned long long min,
		       unsigned long long max, unsigned long long *out)
{
	unsigned long long v;
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* "268435456", "256M", "1g": bytes, at least min. */
static bool parse_size(const char *s, uint64_t min, uint64_t *out)
{
	unsigned long long v, mult = 1;
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return false;
	switch (*end) {
	case '\0': break;
	case 'k': case 'K': mult = 1ull << 10; end++; break;
	case 'm': case 'M': mult = 1ull << 20; end++; break;
	case 'g': case 'G': mult = 1ull << 30; end++; break;
	default: return false;
	}
	if (*end != '\0' || v > UINT64_MAX / mult || v * mult < min)
		return false;
	*out = v * mult;
	return true;
}

/* YAML 1.1 booleans (the file only; the flag takes no value). */
static bool parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on" };
	static const char *const no[] = { "false", "no", "off" };

	for (size_t i = 0; i < 3; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return true;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return true;
		}
	}
	return false;
}

/* An octal mode, as chmod takes it: "0660", "660". */
static bool parse_mode(const char *s, unsigned *out)
{
	unsigned long v;
	char *end;

	if (s[0] < '0' || s[0] > '7')
		return false;
	errno = 0;
	v = strtoul(s, &end, 8);
	if (errno != 0 || *end != '\0' || v > 0777)
		return false;
	*out = (unsigned)v;
	return true;
}

static unsigned online_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		return 1;
	if (n > OPTS_MAX_THREADS)
		return OPTS_MAX_THREADS;
	return (unsigned)n;
}

/* The default control sockets, by tier: finish() knows a default that
 * nothing replaced by its pointer. */
static const char *const control_defaults[] = {
	[TDNS_PROG_UPPER] = CONTROL_DEFAULT_UPPER,
	[TDNS_PROG_LOCAL] = CONTROL_DEFAULT_LOCAL,
};

static void set_defaults(enum tdns_prog prog, struct tdns_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->db_dir = prog == TDNS_PROG_LOCAL ? OPTS_DB_LOCAL : OPTS_DB_UPPER;
	o->port = prog == TDNS_PROG_LOCAL ? OPTS_PORT_LOCAL : OPTS_PORT_UPPER;
	o->threads = online_cpus();
	o->log_target = TDNS_LOG_STDERR;
	o->max_ttl = 86400;
	o->max_neg_ttl = 3600;
	o->upstream_timeout_ms = 2000;
	o->cache_size = 64ull << 20;
	o->stale_ttl = 86400;
	o->max_outstanding = 1024;
	o->packet_cache = REPLYCACHE_DEFAULT;
	o->max_tcp = 256;
	o->max_tcp_per_client = 16;
	o->tcp_idle_ms = 10000;
	o->upstream_idle_ms = 10000;
	o->transfer_time_in = SECONDARY_XFR_TIME_S;
	o->transfer_time_out = SECONDARY_XFR_TIME_S;
	o->control_path = control_defaults[prog];
	o->control_mode = OPTS_CONTROL_MODE;
	o->sig_expiry_warn = 7;
	o->rrl.slip = RRL_DEFAULT_SLIP;
	o->rrl.size = RRL_DEFAULT_SIZE;
	o->rrl_ipv4_prefix = RRL_DEFAULT_IPV4_PREFIX;
	o->rrl_ipv6_prefix = RRL_DEFAULT_IPV6_PREFIX;
}

void opts_free(struct tdns_opts *o)
{
	struct opts_arena *a, *next;

	for (a = o->arena; a != NULL; a = next) {
		next = a->next;
		free(a);
	}
	o->arena = NULL;
	for (unsigned i = 0; i < o->n_zones; i++) {
		free(o->zones[i].allow_transfer);
		free(o->zones[i].allow_transfer_key);
		free(o->zones[i].notify);
		free(o->zones[i].transfer_keys);
		free(o->zones[i].primaries);
	}
	free(o->keys);
	o->keys = NULL;
	o->n_keys = 0;
	free(o->zones);
	o->zones = NULL;
	o->n_zones = 0;
}

/* A copy of s that lives as long as o. NULL when out of memory. */
static const char *arena_strdup(struct tdns_opts *o, const char *s)
{
	size_t n = strlen(s) + 1;
	struct opts_arena *a = malloc(sizeof(*a) + n);

	if (a == NULL)
		return NULL;
	memcpy(a->text, s, n);
	a->next = o->arena;
	o->arena = a;
	return a->text;
}

static void *field(struct tdns_opts *o, const struct opts_def *d)
{
	return (char *)o + d->off;
}

static const void *cfield(const struct tdns_opts *o, const struct opts_def *d)
{
	return (const char *)o + d->off;
}

/* Why a value was refused: a noun ("address", or NULL for "value" / the
 * bare flag) and a hint starting with its separator (" (1-65535)",
 * ": an IP address is expected ..."), or a whole message. */
struct opt_err {
	const char *noun;
	const char *hint;
	const char *value;
	char msg[160]; /* when set, the message without key or flag */
};

static bool bad(struct opt_err *e, const char *noun, const char *value, const char *hint)
{
	e->noun = noun;
	e->value = value;
	e->hint = hint;
	return false;
}

#define LISTEN_HINT ": an IP address is expected (127.0.0.1, ::1, ADDR:PORT or " \
	"[V6]:PORT); host names are not looked up"
#define UPSTREAM_HINT ": an IP address is expected (192.0.2.1, 192.0.2.1:53, " \
	"[2001:db8::1]:53); host names are not looked up"
#define ADDRPORT_HINT ": ADDR:PORT or [V6]:PORT is expected, with an IP address"
#define SECRET_HINT ": 32 hex digits are expected"
#define SOURCE_HINT ": a local IP address is expected (192.0.2.1, 2001:db8::1, " \
	"ADDR:PORT or [V6]:PORT)"
#define UPSTREAM_TLS_HINT ": ADDR[:PORT]#NAME is expected, NAME being the name its " \
	"certificate is valid for (RFC 8310), with an IP address"

#define FORWARD_HINT ": NAME@ADDR[:PORT], NAME@nxdomain or NAME@refused is " \
	"expected, with an IP address"
#define STUB_HINT ": NAME@ADDR[:PORT] is expected, with an IP address"

/* NAME@ADDR[:PORT] | NAME@nxdomain | NAME@refused into o->forward, or for
 * K_STUB NAME@ADDR[:PORT] (kept in o->forward too, so that the upstreams
 * of both are numbered as policy.h says); the name is always copied (it is
 * cut out of the text). */
static bool forward_apply(struct tdns_opts *o, const struct opts_def *d, const char *text,
			  struct opt_err *e)
{
	struct policy_forward *f;
	const char *at = strrchr(text, '@');
	const char *hint = d->kind == K_STUB ? STUB_HINT : FORWARD_HINT;
	char *copy;

	if (at == NULL || at == text || at[1] == '\0')
		return bad(e, NULL, text, hint);
	if (o->n_forward == d->max) {
		snprintf(e->msg, sizeof(e->msg), "too many values (at most %llu)", d->max);
		return false;
	}
	f = &o->forward[o->n_forward];
	memset(f, 0, sizeof(*f));
	if (d->kind == K_FORWARD && strcmp(at + 1, "nxdomain") == 0)
		f->how = POLICY_FWD_NXDOMAIN;
	else if (d->kind == K_FORWARD && strcmp(at + 1, "refused") == 0)
		f->how = POLICY_FWD_REFUSED;
	else if (netio_addr_parse(at + 1, OPTS_UPSTREAM_PORT, &f->addr) == TDNS_OK)
		f->how = d->kind == K_STUB ? POLICY_FWD_STUB : POLICY_FWD_SET;
	else
		return bad(e, "address", text, hint);
	copy = (char *)arena_strdup(o, text);
	if (copy == NULL) {
		snprintf(e->msg, sizeof(e->msg), "out of memory");
		return false;
	}
	copy[at - text] = '\0';
	f->name = copy;
	o->n_forward++;
	return true;
}

#define RPZ_PRIMARY_HINT ": ZONE@ADDR[:PORT] is expected, with an IP address"

static bool dname_text(const char *name, char *out, size_t cap);

/* ZONE@ADDR[:PORT] into o->rpz_primary: a new zone, or one more primary
 * of a zone named before. */
static bool rpz_primary_apply(struct opts_build *b, const struct opts_def *d,
			      const char *text, struct opt_err *e)
{
	struct tdns_opts *o = b->o;
	struct opts_rpz_primary *z = NULL;
	const char *at = strrchr(text, '@');
	char name[300], *zone;
	struct tdns_addr addr;
	unsigned i;

	if (at == NULL || at == text || at[1] == '\0')
		return bad(e, NULL, text, RPZ_PRIMARY_HINT);
	zone = strndup(text, (size_t)(at - text));
	if (zone == NULL || !dname_text(zone, name, sizeof(name))) {
		free(zone);
		return bad(e, "zone name", text, RPZ_PRIMARY_HINT);
	}
	free(zone);
	if (netio_addr_parse(at + 1, OPTS_UPSTREAM_PORT, &addr) != TDNS_OK)
		return bad(e, "address", text, RPZ_PRIMARY_HINT);
	for (i = 0; i < o->n_rpz_primary; i++)
		if (strcasecmp(o->rpz_primary[i].name, name) == 0)
			z = &o->rpz_primary[i];
	if (z == NULL) {
		if (o->n_rpz_primary == d->max) {
			snprintf(e->msg, sizeof(e->msg), "too many zones (at most %llu)", d->max);
			return false;
		}
		z = &o->rpz_primary[o->n_rpz_primary];
		memset(z, 0, sizeof(*z));
		z->key = -1;
		z->name = arena_strdup(o, name);
		if (z->name == NULL) {
			snprintf(e->msg, sizeof(e->msg), "out of memory");
			return false;
		}
		o->n_rpz_primary++;
	}
	if (z->n_primaries == OPTS_MAX_ZONE_LIST) {
		snprintf(e->msg, sizeof(e->msg), "too many primaries (at most %d)",
			 OPTS_MAX_ZONE_LIST);
		return false;
	}
	z->primaries[z->n_primaries++] = addr;
	b->rpz_cur = (int)(z - o->rpz_primary);
	return true;
}

/*
 * Set row d from text: a flag's argument (NULL for a flag without a value:
 * K_BOOL, K_COUNT) or a file's scalar (NULL for YAML's null, which only
 * F_NULL rows take: opts_key_set checks). own: copy text into o (the
 * file's text dies with the parser).
 */
static bool opt_apply(struct opts_build *b, const struct opts_def *d, const char *text,
		      bool own, struct opt_err *e)
{
	struct tdns_opts *o = b->o;
	enum tdns_log_target target;
	uint8_t secret[COOKIE_SECRET_LEN];
	char abuf[INET6_ADDRSTRLEN + 16];
	const char *hash;
	struct tdns_addr addr;
	unsigned long long v;
	uint64_t size;
	uint16_t v16;
	uint32_t v32;
	struct opts_strlist *list;
	unsigned mode;
	bool flag;
	int count;
	ldns_rdf *dname;

	e->msg[0] = '\0';
	if (text == NULL && d->kind != K_BOOL && d->kind != K_COUNT) {
		if (!(d->flags & F_NULL)) {
			snprintf(e->msg, sizeof(e->msg), "a value is needed");
			return false;
		}
		memset(field(o, d), 0, d->size);
		return true;
	}
	if (text != NULL && text[0] == '\0') {
		snprintf(e->msg, sizeof(e->msg), "empty value");
		return false;
	}
	switch (d->kind) {
	case K_STR:
	case K_ADDRPORT:
	case K_SECRET:
		if (d->kind == K_SECRET && !cookie_secret_parse(text, secret))
			return bad(e, "secret", text, SECRET_HINT);
		if (d->kind == K_ADDRPORT &&
		    (netio_addr_parse(text, 0, &addr) != TDNS_OK ||
		     (addr.ss.ss_family == AF_INET ? ((struct sockaddr_in *)&addr.ss)->sin_port
						  : ((struct sockaddr_in6 *)&addr.ss)->sin6_port) == 0))
			return bad(e, "address", text, ADDRPORT_HINT);
		if (own && (text = arena_strdup(o, text)) == NULL) {
			snprintf(e->msg, sizeof(e->msg), "out of memory");
			return false;
		}
		memcpy(field(o, d), &text, sizeof(text));
		return true;
	case K_UINT:
		if (!parse_uint(text, d->min, d->max, &v))
			return bad(e, NULL, text, d->range);
		if (d->size == sizeof(v16)) {
			v16 = (uint16_t)v;
			memcpy(field(o, d), &v16, sizeof(v16));
		} else {
			v32 = (uint32_t)v;
			memcpy(field(o, d), &v32, sizeof(v32));
		}
		return true;
	case K_SIZE:
		if (!parse_size(text, d->min << 20, &size))
			return bad(e, NULL, text, d->range);
		memcpy(field(o, d), &size, sizeof(size));
		return true;
	case K_BOOL:
		flag = true;
		if (text != NULL && !parse_bool(text, &flag))
			return bad(e, NULL, text, "true or false");
		memcpy(field(o, d), &flag, sizeof(flag));
		return true;
	case K_COUNT:
		memcpy(&count, field(o, d), sizeof(count));
		if (text == NULL) {
			count++;
		} else {
			if (!parse_uint(text, d->min, d->max, &v))
				return bad(e, NULL, text, d->range);
			count = (int)v;
		}
		memcpy(field(o, d), &count, sizeof(count));
		return true;
	case K_LOG:
		for (target = TDNS_LOG_STDERR; target <= TDNS_LOG_JOURNAL; target++) {
			if (strcmp(text, log_target_name(target)) == 0) {
				memcpy(field(o, d), &target, sizeof(target));
				return true;
			}
		}
		return bad(e, NULL, text, d->range);
	case K_MODE:
		if (!parse_mode(text, &mode))
			return bad(e, NULL, text, d->range);
		memcpy(field(o, d), &mode, sizeof(mode));
		return true;
	case K_TLS_LISTEN:
	case K_HTTPS_LISTEN:
		if (netio_addr_parse(text, d->kind == K_TLS_LISTEN ? OPTS_TLS_PORT : OPTS_HTTPS_PORT,
				     &addr) != TDNS_OK)
			return bad(e, "address", text, LISTEN_HINT);
		if ((d->kind == K_TLS_LISTEN ? o->n_tls_listen : o->n_https_listen) == d->max) {
			snprintf(e->msg, sizeof(e->msg), "too many values (at most %llu)", d->max);
			return false;
		}
		if (d->kind == K_TLS_LISTEN)
			o->tls_listen[o->n_tls_listen++] = addr;
		else
			o->https_listen[o->n_https_listen++] = addr;
		return true;
	case K_UPSTREAM_TLS:
		/* RFC 8310 strict: without a name there is no way to
		 * authenticate the server. */
		hash = strchr(text, '#');
		if (hash == NULL || hash[1] == '\0' || (size_t)(hash - text) >= sizeof(abuf))
			return bad(e, NULL, text, UPSTREAM_TLS_HINT);
		memcpy(abuf, text, (size_t)(hash - text));
		abuf[hash - text] = '\0';
		if (netio_addr_parse(abuf, OPTS_TLS_PORT, &addr) != TDNS_OK)
			return bad(e, "address", text, UPSTREAM_TLS_HINT);
		if (b->n_upstream_text == d->max) {
			snprintf(e->msg, sizeof(e->msg), "too many values (at most %llu)", d->max);
			return false;
		}
		if (own && (text = arena_strdup(o, text)) == NULL) {
			snprintf(e->msg, sizeof(e->msg), "out of memory");
			return false;
		}
		b->upstream_tls[b->n_upstream_text] = true;
		b->upstream_text[b->n_upstream_text++] = text;
		return true;
	case K_LISTEN:
	case K_UPSTREAM:
		if (netio_addr_parse(text, OPTS_UPSTREAM_PORT, &addr) != TDNS_OK)
			return bad(e, "address", text,
				   d->kind == K_LISTEN ? LISTEN_HINT : UPSTREAM_HINT);
		if ((d->kind == K_LISTEN ? b->n_listen_text : b->n_upstream_text) == d->max) {
			snprintf(e->msg, sizeof(e->msg), "too many values (at most %llu)", d->max);
			return false;
		}
		if (own && (text = arena_strdup(o, text)) == NULL) {
			snprintf(e->msg, sizeof(e->msg), "out of memory");
			return false;
		}
		if (d->kind == K_LISTEN) {
			b->listen_text[b->n_listen_text++] = text;
		} else {
			b->upstream_tls[b->n_upstream_text] = false;
			b->upstream_text[b->n_upstream_text++] = text;
		}
		return true;
	case K_DOMAIN:
		dname = NULL;
		if (ldns_str2rdf_dname(&dname, text) != LDNS_STATUS_OK)
			return bad(e, "name", text, " (a domain name)");
		ldns_rdf_deep_free(dname);
		if (o->n_insecure == d->max) {
			snprintf(e->msg, sizeof(e->msg), "too many values (at most %llu)", d->max);
			return false;
		}
		if (own && (text = arena_strdup(o, text)) == NULL) {
			snprintf(e->msg, sizeof(e->msg), "out of memory");
			return false;
		}
		o->insecure[o->n_insecure++] = text;
		return true;
	case K_ALLOW:
		if (o->n_allow == d->max) {
			snprintf(e->msg, sizeof(e->msg), "too many values (at most %llu)", d->max);
			return false;
		}
		if (acl_parse(text, &o->allow[o->n_allow]) != TDNS_OK)
			return bad(e, NULL, text, " (ADDR or ADDR/PREFIX, IPv4 or IPv6)");
		o->n_allow++;
		return true;
	case K_FORWARD:
	case K_STUB:
		return forward_apply(o, d, text, e);
	case K_RPZ_PRIMARY:
		return rpz_primary_apply(b, d, text, e);
	case K_SOURCE:
		if (netio_addr_parse(text, 0, &addr) != TDNS_OK)
			return bad(e, "address", text, SOURCE_HINT);
		memcpy(field(o, d), &addr, sizeof(addr));
		return true;
	case K_TEXTS:
		list = field(o, d);
		if (list->n == d->max) {
			snprintf(e->msg, sizeof(e->msg), "too many values (at most %llu)", d->max);
			return false;
		}
		if (own && (text = arena_strdup(o, text)) == NULL) {
			snprintf(e->msg, sizeof(e->msg), "out of memory");
			return false;
		}
		list->v[list->n++] = text;
		return true;
	case K_CONFIG: case K_CHECK: case K_HELP: case K_VERSION:
		break;
	}
	return true;
}

/* Drop the stub: entries of o->forward (stub) or the others. */
static void forward_clear(struct tdns_opts *o, bool stub)
{
	unsigned i, j;

	for (i = 0, j = 0; i < o->n_forward; i++)
		if ((o->forward[i].how == POLICY_FWD_STUB) != stub)
			o->forward[j++] = o->forward[i];
	o->n_forward = j;
}

/* The first value of a list (or -v) from a source replaces the earlier
 * source's. */
static void opt_begin(struct opts_build *b, const struct opts_def *d)
{
	size_t i = (size_t)(d - opt_table);

	/* upstream and upstream-tls fill one list: either begins it. */
	if (d->kind == K_UPSTREAM_TLS)
		for (i = 0; opt_table[i].kind != K_UPSTREAM; i++)
			;
	if (b->seen[i])
		return;
	b->seen[i] = true;
	switch (d->kind) {
	case K_LISTEN: b->n_listen_text = 0; break;
	case K_UPSTREAM: case K_UPSTREAM_TLS: b->n_upstream_text = 0; break;
	case K_ALLOW: b->o->n_allow = 0; break;
	case K_DOMAIN: b->o->n_insecure = 0; break;
	case K_TLS_LISTEN: b->o->n_tls_listen = 0; break;
	case K_HTTPS_LISTEN: b->o->n_https_listen = 0; break;
	case K_COUNT: b->o->verbose = 0; break;
	case K_FORWARD: case K_STUB: forward_clear(b->o, d->kind == K_STUB); break;
	case K_TEXTS: ((struct opts_strlist *)field(b->o, d))->n = 0; break;
	case K_RPZ_PRIMARY: b->o->n_rpz_primary = 0; break;
	default: break;
	}
}

/* A value's range hint: " (1-65535)" unless it brings its own separator. */
static const char *hint_sep(const char *hint)
{
	return hint[0] == ' ' || hint[0] == ':' ? "" : " (";
}

static const char *hint_end(const char *hint)
{
	return hint[0] == ' ' || hint[0] == ':' ? "" : ")";
}

/* The command line's wording: "invalid --port '0' (1-65535)". */
static void flag_err(const struct opts_def *d, const struct opt_err *e, char *err, size_t cap)
{
	if (e->msg[0] != '\0')
		snprintf(err, cap, "--%s: %s", d->flag, e->msg);
	else
		snprintf(err, cap, "invalid --%s%s%s '%s'%s%s%s", d->flag, e->noun ? " " : "",
			 e->noun ? e->noun : "", e->value, hint_sep(e->hint), e->hint,
			 hint_end(e->hint));
}

/* ---- the interface config.c reads the file through (config.h) ---- */

const char *opts_key_label(const struct opts_def *d, char *buf, size_t cap)
{
	if (d->section != NULL)
		snprintf(buf, cap, "%s.%s", d->section, d->key);
	else
		snprintf(buf, cap, "%s", d->key);
	return buf;
}

enum opts_shape opts_key_shape(const struct opts_def *d)
{
	switch (d->kind) {
	case K_LISTEN: case K_UPSTREAM: case K_ALLOW:
	case K_TLS_LISTEN: case K_HTTPS_LISTEN: case K_UPSTREAM_TLS:
	case K_FORWARD: case K_STUB: case K_TEXTS: case K_DOMAIN:
	case K_RPZ_PRIMARY:
		return OPTS_LIST;
	default:
		return OPTS_SCALAR;
	}
}

bool opts_is_section(const char *name)
{
	for (size_t i = 0; i < OPT_N; i++) {
		if (opt_table[i].section != NULL && strcmp(opt_table[i].section, name) == 0)
			return true;
	}
	return false;
}

/* The edit distance of a and b counting a swap of two neighbours as one
 * edit ("prot" is one from "port"), for "did you mean"; keys are short. */
static size_t edit_distance(const char *a, const char *b)
{
	enum { MAXK = 48 };
	size_t la = strlen(a), lb = strlen(b), d[MAXK + 1][MAXK + 1], best;

	if (la > MAXK || lb > MAXK)
		return SIZE_MAX;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			best = d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
			if (d[i - 1][j] + 1 < best)
				best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return d[la][lb];
}

/* A near miss: at most 2 edits, and fewer than half the key. */
struct suggest {
	const char *best;
	size_t dist;
};

static void suggest_try(struct suggest *s, const char *key, const char *cand)
{
	size_t dist = edit_distance(key, cand);

	if (dist <= 2 && dist * 2 < strlen(cand) && (s->best == NULL || dist < s->dist)) {
		s->best = cand;
		s->dist = dist;
	}
}

static void unknown_key(const struct suggest *s, const char *key, char *why, size_t cap)
{
	if (s->best != NULL)
		snprintf(why, cap, "unknown key '%s' (did you mean '%s'?)", key, s->best);
	else
		snprintf(why, cap, "unknown key '%s'", key);
}

const struct opts_def *opts_key_find(struct opts_build *b, const char *section,
				     const char *key, char *why, size_t cap)
{
	const struct opts_def *other = NULL;
	struct suggest s = { NULL, 0 };

	for (size_t i = 0; i < OPT_N; i++) {
		const struct opts_def *d = &opt_table[i];

		if (d->key == NULL || (section == NULL) != (d->section == NULL) ||
		    (section != NULL && strcmp(section, d->section) != 0))
			continue;
		if (strcmp(d->key, key) == 0) {
			if (for_prog(d, b->prog))
				return d;
			other = d;
		}
		if (for_prog(d, b->prog))
			suggest_try(&s, key, d->key);
	}
	if (other != NULL) {
		snprintf(why, cap, "key '%s' applies to %s only", key,
			 prog_name(b->prog == TDNS_PROG_LOCAL ? TDNS_PROG_UPPER : TDNS_PROG_LOCAL));
		return NULL;
	}
	if (section == NULL) {
		for (size_t i = 0; i < OPT_N; i++) {
			if (opt_table[i].section != NULL)
				suggest_try(&s, key, opt_table[i].section);
		}
		suggest_try(&s, key, "zones");
	}
	unknown_key(&s, key, why, cap);
	return NULL;
}

bool opts_key_set(struct opts_build *b, const struct opts_def *d, const char *text,
		  bool first, char *err, size_t cap)
{
	struct opt_err e;

	if (text == NULL && !(d->flags & F_NULL)) {
		snprintf(err, cap, "a value is needed");
		return false;
	}
	if (first)
		opt_begin(b, d);
	if (opt_apply(b, d, text, true, &e))
		return true;
	if (e.msg[0] != '\0')
		snprintf(err, cap, "%s", e.msg);
	else
		snprintf(err, cap, "invalid %s '%s'%s%s%s", e.noun ? e.noun : "value", e.value,
			 hint_sep(e.hint), e.hint, hint_end(e.hint));
	return false;
}

bool opts_zone_key(const char *key, char *why, size_t cap)
{
	struct suggest s = { NULL, 0 };

	for (size_t i = 0; i < sizeof(zone_keys) / sizeof(zone_keys[0]); i++) {
		if (strcmp(key, zone_keys[i]) == 0)
			return true;
		suggest_try(&s, key, zone_keys[i]);
	}
	unknown_key(&s, key, why, cap);
	return false;
}

/* A key's name as its absolute text ("k." for "k"), into out (cap). */
static bool dname_text(const char *name, char *out, size_t cap)
{
	ldns_rdf *d = ldns_dname_new_frm_str(name);
	char *t = d != NULL ? ldns_rdf2str(d) : NULL;
	bool ok = t != NULL && strlen(t) < cap;

	if (ok)
		snprintf(out, cap, "%s", t);
	free(t);
	ldns_rdf_deep_free(d);
	return ok;
}

bool opts_tsig_add(struct opts_build *b, const char *name, const char *algorithm,
		   const char *secret, char *err, size_t cap)
{
	struct tdns_opts *o = b->o;
	struct tdns_tsig_key *k;
	const char *why;
	char text[300];

	if (!dname_text(name, text, sizeof(text))) {
		snprintf(err, cap, "invalid key name '%s'", name);
		return false;
	}
	for (unsigned i = 0; i < o->n_keys; i++) {
		if (strcasecmp(o->keys[i].name, text) == 0) {
			snprintf(err, cap, "key '%s' is listed twice", text);
			return false;
		}
	}
	why = tsig_key_check(algorithm, secret);
	if (why != NULL) {
		snprintf(err, cap, "key '%s': %s", text, why);
		return false;
	}
	k = realloc(o->keys, (o->n_keys + 1) * sizeof(*k));
	if (k == NULL) {
		snprintf(err, cap, "out of memory");
		return false;
	}
	o->keys = k;
	k[o->n_keys].name = arena_strdup(o, text);
	k[o->n_keys].algorithm = arena_strdup(o, algorithm);
	k[o->n_keys].secret = arena_strdup(o, secret);
	if (k[o->n_keys].name == NULL || k[o->n_keys].algorithm == NULL ||
	    k[o->n_keys].secret == NULL) {
		snprintf(err, cap, "out of memory");
		return false;
	}
	o->n_keys++;
	return true;
}

/* The index of the key named text in keys:, or -1 (err says why). */
static int key_index(const struct tdns_opts *o, const char *text, char *err, size_t cap)
{
	char name[300];
	unsigned i;

	if (!dname_text(text, name, sizeof(name))) {
		snprintf(err, cap, "invalid key name '%s'", text);
		return -1;
	}
	for (i = 0; i < o->n_keys && strcasecmp(o->keys[i].name, name) != 0; i++)
		;
	if (i == o->n_keys) {
		snprintf(err, cap, "no key '%s' in keys:", name);
		return -1;
	}
	return (int)i;
}

bool opts_rpz_set(struct opts_build *b, const char *key, const char *text, char *err,
		  size_t cap)
{
	struct opts_rpz_primary *z = &b->o->rpz_primary[b->rpz_cur];

	if (b->o->n_rpz_primary == 0 || text == NULL) {
		snprintf(err, cap, text == NULL ? "a value is needed" : "no primary: given");
		return false;
	}
	if (strcmp(key, "primary-key") == 0) {
		z->key = key_index(b->o, text, err, cap);
		return z->key >= 0;
	}
	z->zonefile = arena_strdup(b->o, text);
	if (z->zonefile == NULL) {
		snprintf(err, cap, "out of memory");
		return false;
	}
	return true;
}

/* allow-transfer-key: a name of the keys: section. */
static bool zone_key_name(struct tdns_opts *o, struct tdns_zone_conf *z, const char *text,
			  bool first, char *err, size_t cap)
{
	unsigned *grown;
	int i;

	if (first)
		z->n_transfer_keys = 0;
	i = key_index(o, text, err, cap);
	if (i < 0)
		return false;
	if (z->n_transfer_keys == OPTS_MAX_ZONE_LIST) {
		snprintf(err, cap, "too many values (at most %d)", OPTS_MAX_ZONE_LIST);
		return false;
	}
	grown = realloc(z->transfer_keys, (z->n_transfer_keys + 1) * sizeof(*grown));
	if (grown == NULL) {
		snprintf(err, cap, "out of memory");
		return false;
	}
	z->transfer_keys = grown;
	z->transfer_keys[z->n_transfer_keys++] = (unsigned)i;
	return true;
}

/* One allow-transfer entry at index i of z's list: "ADDR|CIDR", or
 * "ADDR|CIDR key NAME" (NSD's provide-xfr form: from there, and signed
 * with that key of keys:). */
static bool transfer_acl(const struct tdns_opts *o, struct tdns_zone_conf *z, unsigned i,
			 const char *text, char *err, size_t cap)
{
	char addr[128];
	const char *sp = strchr(text, ' '), *name = NULL;
	size_t alen = sp != NULL ? (size_t)(sp - text) : strlen(text);
	int *grown = realloc(z->allow_transfer_key, (i + 1) * sizeof(*grown));

	if (grown == NULL) {
		snprintf(err, cap, "out of memory");
		return false;
	}
	z->allow_transfer_key = grown;
	grown[i] = -1;
	if (sp != NULL) {
		while (*sp == ' ')
			sp++;
		if (strncmp(sp, "key ", 4) == 0)
			for (name = sp + 4; *name == ' '; name++)
				;
	}
	if (alen >= sizeof(addr) || (sp != NULL && (name == NULL || *name == '\0')) ||
	    (memcpy(addr, text, alen), addr[alen] = '\0',
	     acl_parse(addr, &z->allow_transfer[i]) != TDNS_OK)) {
		snprintf(err, cap, "invalid address or prefix '%s' (192.0.2.1, 192.0.2.0/24, "
			 "2001:db8::/32; then 'key NAME' for a key it must sign with)", text);
		return false;
	}
	if (name != NULL && (grown[i] = key_index(o, name, err, cap)) < 0)
		return false;
	return true;
}

bool opts_zone_set(struct opts_build *b, const char *key, const char *text,
		   bool first, char *err, size_t cap)
{
	struct tdns_zone_conf *z = &b->o->zones[b->o->n_zones - 1];
	bool acl = strcmp(key, "allow-transfer") == 0;
	bool prim = strcmp(key, "primaries") == 0;
	unsigned *n = acl ? &z->n_allow_transfer : prim ? &z->n_primaries : &z->n_notify;
	void **list = acl ? (void **)&z->allow_transfer
		      : prim ? (void **)&z->primaries : (void **)&z->notify;
	size_t size = acl ? sizeof(*z->allow_transfer) : sizeof(*z->notify);
	struct tdns_addr *addrs;
	void *grown;

	if (text == NULL) {
		snprintf(err, cap, "a value is needed");
		return false;
	}
	if (strcmp(key, "allow-transfer-key") == 0)
		return zone_key_name(b->o, z, text, first, err, cap);
	if (strcmp(key, "primary-key") == 0) {
		z->primary_key = key_index(b->o, text, err, cap);
		return z->primary_key >= 0;
	}
	if (strcmp(key, "notify-source") == 0 || strcmp(key, "transfer-source") == 0) {
		if (netio_addr_parse(text, 0, key[0] == 'n' ? &z->notify_source
							     : &z->transfer_source) == TDNS_OK)
			return true;
		snprintf(err, cap, "invalid address '%s'%s", text, SOURCE_HINT);
		return false;
	}
	if (strcmp(key, "transfer-time-in") == 0) {
		unsigned long long v;

		if (parse_uint(text, 1, OPTS_XFR_TIME_MAX, &v)) {
			z->transfer_time_in = (unsigned)v;
			return true;
		}
		snprintf(err, cap, "'%s': seconds, 1-%d", text, OPTS_XFR_TIME_MAX);
		return false;
	}
	if (strcmp(key, "transfer-size-in") == 0) {
		uint64_t bytes;

		if (parse_size(text, 0, &bytes) && bytes <= INT64_MAX) {
			z->transfer_size_in = (int64_t)bytes;
			return true;
		}
		snprintf(err, cap, "'%s': bytes, K/M/G suffix, 0 for no limit", text);
		return false;
	}
	if (strcmp(key, "journal-size") == 0) {
		if (parse_size(text, JOURNAL_SIZE_MIN, &z->journal_size) &&
		    z->journal_size <= JOURNAL_SIZE_MAX)
			return true;
		snprintf(err, cap, "'%s': bytes from 64K to 4G (16M, 1G)", text);
		return false;
	}
	if (strcmp(key, "serial-policy") == 0) {
		if (strcmp(text, "increment") == 0)
			z->serial_policy = ZONEDB_SERIAL_INCREMENT;
		else if (strcmp(text, "unixtime") == 0)
			z->serial_policy = ZONEDB_SERIAL_UNIXTIME;
		else {
			snprintf(err, cap, "'%s': increment or unixtime", text);
			return false;
		}
		return true;
	}
	if (first)
		*n = 0;
	if (*n == OPTS_MAX_ZONE_LIST) {
		snprintf(err, cap, "too many values (at most %d)", OPTS_MAX_ZONE_LIST);
		return false;
	}
	grown = realloc(*list, (*n + 1) * size);
	if (grown == NULL) {
		snprintf(err, cap, "out of memory");
		return false;
	}
	*list = grown;
	if (acl) {
		if (!transfer_acl(b->o, z, *n, text, err, cap))
			return false;
		(*n)++;
		return true;
	}
	addrs = prim ? z->primaries : z->notify;
	if (netio_addr_parse(text, 53, &addrs[*n]) != TDNS_OK) {
		snprintf(err, cap, "invalid address '%s' (192.0.2.1, 192.0.2.1:5353, [::1]:53)",
			 text);
		return false;
	}
	(*n)++;
	return true;
}

bool opts_zone_add(struct opts_build *b, const char *name, char *err, size_t cap)
{
	struct tdns_opts *o = b->o;
	struct tdns_zone_conf *z;
	ldns_rdf *dname = NULL;
	char *text = NULL;
	bool ok = false;

	dname = ldns_dname_new_frm_str(name);
	if (dname == NULL || (text = ldns_rdf2str(dname)) == NULL) {
		snprintf(err, cap, "invalid zone name '%s'", name);
		goto out;
	}
	for (unsigned i = 0; i < o->n_zones; i++) {
		if (strcasecmp(o->zones[i].name, text) == 0) {
			snprintf(err, cap, "zone '%s' is listed twice", text);
			goto out;
		}
	}
	if (o->n_zones == OPTS_MAX_ZONES) {
		snprintf(err, cap, "too many zones (at most %d)", OPTS_MAX_ZONES);
		goto out;
	}
	z = realloc(o->zones, (o->n_zones + 1) * sizeof(*z));
	if (z == NULL) {
		snprintf(err, cap, "out of memory");
		goto out;
	}
	o->zones = z;
	memset(&z[o->n_zones], 0, sizeof(z[o->n_zones]));
	z[o->n_zones].primary_key = -1;
	z[o->n_zones].serial_policy = ZONEDB_SERIAL_ZONE;
	z[o->n_zones].transfer_size_in = -1;
	z[o->n_zones].name = arena_strdup(o, text);
	if (z[o->n_zones].name == NULL) {
		snprintf(err, cap, "out of memory");
		goto out;
	}
	o->n_zones++;
	ok = true;
out:
	free(text);
	ldns_rdf_deep_free(dname);
	return ok;
}

/* ---- the command line, and the whole load ---- */

/* One flag as given, applied after the file. */
struct cli_opt {
	const struct opts_def *d;
	const char *arg;
};

static const struct opts_def *row_by_short(enum tdns_prog prog, int c)
{
	for (size_t i = 0; i < OPT_N; i++) {
		if (opt_table[i].shortopt == c && for_prog(&opt_table[i], prog))
			return &opt_table[i];
	}
	return NULL;
}

/* getopt leaves the offending short option in optopt (argv may hold it
 * bundled, as in "-vx"); a long option is argv[optind - 1] itself. */
static void bad_option(const char *fmt, const char *arg, char *err, size_t cap)
{
	char shortopt[3] = { '-', 0, 0 };

	if (strncmp(arg, "--", 2) != 0 && optopt > 0 && optopt < 256) {
		shortopt[1] = (char)optopt;
		arg = shortopt;
	}
	snprintf(err, cap, fmt, arg);
}

/* Read argv into cli[] (n of them); the actions are noted in *action. */
static enum opts_result read_argv(enum tdns_prog prog, int argc, char **argv,
				  struct cli_opt *cli, size_t *n, enum opt_kind *action,
				  const char **config, bool *check, char *err, size_t cap)
{
	struct option longopts[OPT_N + 1];
	char shortopts[2 * OPT_N + 3];
	const struct opts_def *d;
	size_t nl = 0, ns = 0;
	int c;

	shortopts[ns++] = '+'; /* stop at the first non-option */
	shortopts[ns++] = ':'; /* ':' for a missing value */
	for (size_t i = 0; i < OPT_N; i++) {
		d = &opt_table[i];
		if (d->flag == NULL || !for_prog(d, prog))
			continue;
		longopts[nl].name = d->flag;
		longopts[nl].has_arg = d->arg != NULL ? required_argument : no_argument;
		longopts[nl].flag = NULL;
		longopts[nl].val = OPT_LONG_BASE + (int)i;
		nl++;
		if (d->shortopt != 0) {
			shortopts[ns++] = d->shortopt;
			if (d->arg != NULL)
				shortopts[ns++] = ':';
		}
	}
	memset(&longopts[nl], 0, sizeof(longopts[nl]));
	shortopts[ns] = '\0';

	/* optind 0 makes glibc re-initialise, so this can run again (at
	 * SIGHUP, and the unit tests parse many command lines). */
	optind = 0;
	opterr = 0;
	*n = 0;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		if (c == ':') {
			bad_option("option '%s' needs a value", argv[optind - 1], err, cap);
			return OPTS_USAGE;
		}
		d = c >= OPT_LONG_BASE ? &opt_table[c - OPT_LONG_BASE] : row_by_short(prog, c);
		if (d == NULL) {
			bad_option("unknown option '%s'", argv[optind - 1], err, cap);
			return OPTS_USAGE;
		}
		switch (d->kind) {
		case K_HELP:
		case K_VERSION:
			if (*action == K_CONFIG) /* the first one wins */
				*action = d->kind;
			break;
		case K_CONFIG:
			if (optarg[0] == '\0') {
				snprintf(err, cap, "--config: empty value");
				return OPTS_USAGE;
			}
			*config = optarg;
			break;
		case K_CHECK:
			*check = true;
			break;
		default:
			cli[*n].d = d;
			cli[*n].arg = optarg;
			(*n)++;
			break;
		}
	}
	if (optind < argc) {
		snprintf(err, cap, "unexpected argument '%s'", argv[optind]);
		return OPTS_USAGE;
	}
	return OPTS_RUN;
}

/* The address lists, now that the port is known; the defaults of the lists
 * nobody gave. */
static void finish(struct opts_build *b)
{
	struct tdns_opts *o = b->o;
	unsigned i;

	/* Each text was checked when it was read, and the port only fills in
	 * a missing one, so these parse. */
	o->n_listen = 0;
	for (i = 0; i < b->n_listen_text; i++)
		if (netio_addr_parse(b->listen_text[i], o->port, &o->listen[o->n_listen]) ==
		    TDNS_OK)
			o->n_listen++;
	if (o->n_listen == 0) {
		netio_addr_parse("127.0.0.1", o->port, &o->listen[0]);
		o->n_listen = 1;
	}
	o->n_upstream = 0;
	for (i = 0; i < b->n_upstream_text; i++) {
		const char *text = b->upstream_text[i], *hash = strchr(text, '#');
		char abuf[INET6_ADDRSTRLEN + 16];
		uint16_t port = OPTS_UPSTREAM_PORT;

		o->upstream_auth[o->n_upstream] = NULL;
		if (b->upstream_tls[i] && hash != NULL &&
		    (size_t)(hash - text) < sizeof(abuf)) {
			memcpy(abuf, text, (size_t)(hash - text));
			abuf[hash - text] = '\0';
			o->upstream_auth[o->n_upstream] = hash + 1;
			text = abuf;
			port = OPTS_TLS_PORT;
		}
		if (netio_addr_parse(text, port, &o->upstream[o->n_upstream]) == TDNS_OK)
			o->n_upstream++;
	}
	if (b->prog == TDNS_PROG_LOCAL && o->n_upstream == 0) {
		netio_addr_parse(OPTS_UPSTREAM_DEFAULT, OPTS_UPSTREAM_PORT, &o->upstream[0]);
		o->n_upstream = 1;
	}
	if (o->n_allow == 0 && b->prog == TDNS_PROG_LOCAL) {
		for (i = 0; i < ACL_N_DEFAULT; i++)
			acl_parse(acl_default[i], &o->allow[i]);
		o->n_allow = ACL_N_DEFAULT;
	}
	o->rrl.ipv4_prefix = (uint8_t)o->rrl_ipv4_prefix;
	o->rrl.ipv6_prefix = (uint8_t)o->rrl_ipv6_prefix;
	o->control_default = o->control_path == control_defaults[b->prog];
	policy_forward_sort(o->forward, o->n_forward);
}

/* How a load ended besides its result: which action the command line
 * asked for (K_CONFIG: none) and whether an error is the command line's. */
struct load_how {
	enum opt_kind action;
	bool flag_error;
};

static enum opts_result load(enum tdns_prog prog, int argc, char **argv,
			     struct tdns_opts *o, char *err, size_t cap, struct load_how *how)
{
	struct opts_build *b = NULL;
	struct cli_opt *cli = NULL;
	enum opts_result r = OPTS_USAGE;
	const char *config = NULL;
	bool check = false, found = false;
	struct opt_err e;
	size_t n = 0;

	set_defaults(prog, o);
	err[0] = '\0';
	how->action = K_CONFIG;
	how->flag_error = true;
	b = calloc(1, sizeof(*b));
	cli = calloc((size_t)argc + 1, sizeof(*cli));
	if (b == NULL || cli == NULL) {
		snprintf(err, cap, "out of memory");
		goto out;
	}
	b->prog = prog;
	b->o = o;
	r = read_argv(prog, argc, argv, cli, &n, &how->action, &config, &check, err, cap);
	if (r != OPTS_RUN)
		goto out;
	if (how->action != K_CONFIG) {
		r = OPTS_EXIT_OK;
		goto out;
	}
	r = OPTS_USAGE;
	how->flag_error = false;
	if (!config_read(b, config != NULL ? config : opts_default_config(prog), config == NULL,
			 &found, err, cap))
		goto out;
	if (found)
		o->config_path = config != NULL ? config : opts_default_config(prog);
	/* The flags override the file: a list or -v given here replaces the
	 * file's. */
	how->flag_error = true;
	memset(b->seen, 0, sizeof(b->seen));
	for (size_t i = 0; i < n; i++) {
		opt_begin(b, cli[i].d);
		if (!opt_apply(b, cli[i].d, cli[i].arg, false, &e)) {
			flag_err(cli[i].d, &e, err, cap);
			goto out;
		}
	}
	finish(b);
	if (o->dnstap_socket != NULL && o->dnstap_file != NULL) {
		snprintf(err, cap, "dnstap: socket and file exclude each other "
			 "(--dnstap-socket, --dnstap-file)");
		goto out;
	}
	if (o->n_tls_listen + o->n_https_listen > 0 &&
	    (o->tls_cert == NULL || o->tls_key == NULL)) {
		snprintf(err, cap, "%s needs tls-cert and tls-key (--tls-cert FILE, "
			 "--tls-key FILE)", o->n_tls_listen > 0 ? "tls-listen" : "https-listen");
		goto out;
	}
	o->check_config = check;
	o->prog = prog;
	o->argc = argc;
	o->argv = argv;
	r = OPTS_RUN;
out:
	free(cli);
	free(b);
	if (r != OPTS_RUN)
		opts_free(o);
	return r;
}

enum opts_result opts_load(enum tdns_prog prog, int argc, char **argv,
			   struct tdns_opts *o, char *err, size_t cap)
{
	struct load_how how;

	return load(prog, argc, argv, o, err, cap, &how);
}

enum opts_result opts_parse(enum tdns_prog prog, int argc, char **argv,
			    struct tdns_opts *o)
{
	struct load_how how;
	char err[512];

	switch (load(prog, argc, argv, o, err, sizeof(err), &how)) {
	case OPTS_USAGE:
		fprintf(stderr, "%s: %s\n", prog_name(prog), err);
		/* A file's error names its place; a flag's points to --help. */
		if (how.flag_error)
			fprintf(stderr, "Try '%s --help' for more information.\n",
				prog_name(prog));
		return OPTS_USAGE;
	case OPTS_EXIT_OK:
		if (how.action == K_HELP)
			print_help(prog);
		else
			printf("%s %s\n", prog_name(prog), TDNS_VERSION);
		return OPTS_EXIT_OK;
	case OPTS_RUN:
		break;
	}
	if (!o->check_config)
		return OPTS_RUN;
	opts_print(prog, o, stdout);
	opts_free(o);
	return OPTS_EXIT_OK;
}

/* ---- the effective configuration ---- */

/* A YAML double-quoted scalar. */
static void print_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void print_item(FILE *f, const char *text)
{
	fprintf(f, "\n  - ");
	print_string(f, text);
}

/* A listen address as text, without its port when that is port. */
static const char *listen_str(const struct tdns_addr *a, uint16_t port, char *buf,
			      size_t cap)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&a->ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&a->ss;

	if (a->ss.ss_family == AF_INET && ntohs(sin->sin_port) == port &&
	    inet_ntop(AF_INET, &sin->sin_addr, buf, (socklen_t)cap) != NULL)
		return buf;
	if (a->ss.ss_family == AF_INET6 && ntohs(sin6->sin6_port) == port &&
	    inet_ntop(AF_INET6, &sin6->sin6_addr, buf, (socklen_t)cap) != NULL)
		return buf;
	return netio_addr_str(a, buf, cap);
}

/* The value of d in o, as it follows "key:" (a leading space, or a block
 * sequence on the next lines), without the final newline. */
/* A stanza's list of addresses (nothing when n is 0). */
static void print_stanza_addrs(FILE *f, const char *key, const struct tdns_addr *a,
			       unsigned n)
{
	char buf[64];

	if (n > 0)
		fprintf(f, "\n    %s:", key);
	for (unsigned j = 0; j < n; j++)
		fprintf(f, "\n      - \"%s\"", netio_addr_str(&a[j], buf, sizeof(buf)));
}

/* A stanza's primary-key: (nothing when key is -1). */
static void print_stanza_key(FILE *f, const struct tdns_opts *o, int key)
{
	if (key >= 0) {
		fprintf(f, "\n    primary-key: ");
		print_string(f, o->keys[key].name);
	}
}

static void print_value(FILE *f, const struct opts_def *d, const struct tdns_opts *o)
{
	char buf[INET6_ADDRSTRLEN + 8], tbuf[INET6_ADDRSTRLEN + 8 + NAME_WIRE_MAX];
	unsigned items = 0;
	const char *s;
	uint16_t v16;
	uint32_t v32;
	uint64_t size;
	bool flag;
	unsigned i;

	switch (d->kind) {
	case K_STR:
	case K_ADDRPORT:
	case K_SECRET:
		memcpy(&s, cfield(o, d), sizeof(s));
		if (s == NULL) {
			fprintf(f, " ~");
		} else {
			fputc(' ', f);
			print_string(f, s);
		}
		break;
	case K_UINT:
		if (d->size == sizeof(v16)) {
			memcpy(&v16, cfield(o, d), sizeof(v16));
			fprintf(f, " %u", (unsigned)v16);
		} else {
			memcpy(&v32, cfield(o, d), sizeof(v32));
			fprintf(f, " %lu", (unsigned long)v32);
		}
		break;
	case K_SIZE:
		memcpy(&size, cfield(o, d), sizeof(size));
		if (size != 0 && size % (1ull << 30) == 0)
			fprintf(f, " %lluG", (unsigned long long)(size >> 30));
		else if (size != 0 && size % (1ull << 20) == 0)
			fprintf(f, " %lluM", (unsigned long long)(size >> 20));
		else
			fprintf(f, " %llu", (unsigned long long)size);
		break;
	case K_BOOL:
		memcpy(&flag, cfield(o, d), sizeof(flag));
		fprintf(f, " %s", flag ? "true" : "false");
		break;
	case K_COUNT:
		fprintf(f, " %d", o->verbose > OPTS_VERBOSITY_MAX ? OPTS_VERBOSITY_MAX : o->verbose);
		break;
	case K_LOG:
		fprintf(f, " %s", log_target_name(o->log_target));
		break;
	case K_MODE:
		fprintf(f, " 0%03o", o->control_mode);
		break;
	case K_LISTEN:
		/* Without the port when it is port:'s, as it was most likely
		 * written (and so that a new port: applies to it). */
		for (i = 0; i < o->n_listen; i++)
			items++, print_item(f, listen_str(&o->listen[i], o->port, buf, sizeof(buf)));
		break;
	case K_UPSTREAM:
		for (i = 0; i < o->n_upstream; i++)
			if (o->upstream_auth[i] == NULL)
				items++, print_item(f, netio_addr_str(&o->upstream[i], buf, sizeof(buf)));
		break;
	case K_UPSTREAM_TLS:
		for (i = 0; i < o->n_upstream; i++) {
			if (o->upstream_auth[i] == NULL)
				continue;
			netio_addr_str(&o->upstream[i], buf, sizeof(buf));
			snprintf(tbuf, sizeof(tbuf), "%s#%s", buf, o->upstream_auth[i]);
			items++, print_item(f, tbuf);
		}
		break;
	case K_TLS_LISTEN:
		for (i = 0; i < o->n_tls_listen; i++)
			items++, print_item(f, netio_addr_str(&o->tls_listen[i], buf, sizeof(buf)));
		break;
	case K_HTTPS_LISTEN:
		for (i = 0; i < o->n_https_listen; i++)
			items++, print_item(f, netio_addr_str(&o->https_listen[i], buf, sizeof(buf)));
		break;
	case K_FORWARD:
	case K_STUB:
		for (i = 0; i < o->n_forward; i++) {
			const struct policy_forward *fw = &o->forward[i];

			if ((fw->how == POLICY_FWD_STUB) != (d->kind == K_STUB))
				continue;
			snprintf(tbuf, sizeof(tbuf), "%s@%s", fw->name,
				 fw->how == POLICY_FWD_NXDOMAIN  ? "nxdomain"
				 : fw->how == POLICY_FWD_REFUSED ? "refused"
				 : netio_addr_str(&fw->addr, buf, sizeof(buf)));
			items++, print_item(f, tbuf);
		}
		break;
	case K_RPZ_PRIMARY:
		/* As stanzas: the zone file and key do not fit ZONE@ADDR. */
		for (i = 0; i < o->n_rpz_primary; i++) {
			const struct opts_rpz_primary *z = &o->rpz_primary[i];

			items++;
			fprintf(f, "\n  - name: ");
			print_string(f, z->name);
			print_stanza_addrs(f, "primary", z->primaries, z->n_primaries);
			print_stanza_key(f, o, z->key);
			if (z->zonefile != NULL) {
				fprintf(f, "\n    zonefile: ");
				print_string(f, z->zonefile);
			}
		}
		break;
	case K_TEXTS: {
		const struct opts_strlist *list = cfield(o, d);

		for (i = 0; i < list->n; i++)
			items++, print_item(f, list->v[i]);
		break;
	}
	case K_DOMAIN:
		for (i = 0; i < o->n_insecure; i++)
			items++, print_item(f, o->insecure[i]);
		break;
	case K_ALLOW:
		for (i = 0; i < o->n_allow; i++) {
			if (inet_ntop(o->allow[i].family, o->allow[i].addr, buf,
				      sizeof(buf) - 4) == NULL)
				continue;
			snprintf(buf + strlen(buf), 5, "/%u", o->allow[i].prefix);
			items++, print_item(f, buf);
		}
		break;
	case K_SOURCE: {
		const struct tdns_addr *a = cfield(o, d);

		if (a->len == 0)
			fprintf(f, " ~");
		else
			fprintf(f, " \"%s\"", listen_str(a, 0, buf, sizeof(buf)));
		break;
	}
	case K_CONFIG: case K_CHECK: case K_HELP: case K_VERSION:
		break;
	}
	/* An empty list (of a row whose default is none) reads back as ~. */
	if (opts_key_shape(d) == OPTS_LIST && items == 0)
		fprintf(f, " ~");
}

static void print_zones(FILE *f, const struct tdns_opts *o)
{
	if (o->n_zones == 0)
		fprintf(f, " []");
	char buf[64];

	for (unsigned i = 0; i < o->n_zones; i++) {
		const struct tdns_zone_conf *z = &o->zones[i];

		fprintf(f, "\n  - name: ");
		print_string(f, z->name);
		if (z->n_allow_transfer > 0)
			fprintf(f, "\n    allow-transfer:");
		for (unsigned j = 0; j < z->n_allow_transfer; j++) {
			inet_ntop(z->allow_transfer[j].family, z->allow_transfer[j].addr,
				  buf, sizeof(buf));
			fprintf(f, "\n      - \"%s/%u", buf,
				(unsigned)z->allow_transfer[j].prefix);
			if (z->allow_transfer_key[j] >= 0)
				fprintf(f, " key %s", o->keys[z->allow_transfer_key[j]].name);
			fputc('"', f);
		}
		if (z->n_transfer_keys > 0)
			fprintf(f, "\n    allow-transfer-key:");
		for (unsigned j = 0; j < z->n_transfer_keys; j++) {
			fprintf(f, "\n      - ");
			print_string(f, o->keys[z->transfer_keys[j]].name);
		}
		print_stanza_addrs(f, "notify", z->notify, z->n_notify);
		print_stanza_addrs(f, "primaries", z->primaries, z->n_primaries);
		print_stanza_key(f, o, z->primary_key);
		if (z->serial_policy != ZONEDB_SERIAL_ZONE)
			fprintf(f, "\n    serial-policy: %s",
				z->serial_policy == ZONEDB_SERIAL_UNIXTIME ? "unixtime"
									   : "increment");
		if (z->journal_size > 0)
			fprintf(f, "\n    journal-size: %llu",
				(unsigned long long)z->journal_size);
		if (z->notify_source.len > 0)
			fprintf(f, "\n    notify-source: \"%s\"",
				listen_str(&z->notify_source, 0, buf, sizeof(buf)));
		if (z->transfer_source.len > 0)
			fprintf(f, "\n    transfer-source: \"%s\"",
				listen_str(&z->transfer_source, 0, buf, sizeof(buf)));
		if (z->transfer_time_in > 0)
			fprintf(f, "\n    transfer-time-in: %u", z->transfer_time_in);
		if (z->transfer_size_in >= 0)
			fprintf(f, "\n    transfer-size-in: %lld", (long long)z->transfer_size_in);
	}
}

static void print_keys(FILE *f, const struct tdns_opts *o);

void opts_print(enum tdns_prog prog, const struct tdns_opts *o, FILE *f)
{
	const char *section = NULL;

	fprintf(f, "# %s %s: the effective configuration (%s%s)\n", prog_name(prog),
		TDNS_VERSION, o->config_path ? "file " : "no file, defaults and options",
		o->config_path ? o->config_path : "");
	for (size_t i = 0; i < OPT_N; i++) {
		const struct opts_def *d = &opt_table[i];

		if (d->key == NULL || !for_prog(d, prog))
			continue;
		if (d->section != NULL && (section == NULL || strcmp(section, d->section) != 0))
			fprintf(f, "%s:\n", d->section);
		section = d->section;
		fprintf(f, "%s%s:", section ? "  " : "", d->key);
		print_value(f, d, o);
		fputc('\n', f);
	}
	if (prog == TDNS_PROG_UPPER || o->n_keys > 0)
		print_keys(f, o);
	fprintf(f, "zones:");
	print_zones(f, o);
	fputc('\n', f);
}

static void print_keys(FILE *f, const struct tdns_opts *o)
{
	fprintf(f, "keys:");
	if (o->n_keys == 0)
		fprintf(f, " []");
	for (unsigned i = 0; i < o->n_keys; i++) {
		fprintf(f, "\n  - name: ");
		print_string(f, o->keys[i].name);
		fprintf(f, "\n    algorithm: ");
		print_string(f, o->keys[i].algorithm);
		fprintf(f, "\n    secret: ");
		print_string(f, o->keys[i].secret);
	}
	fputc('\n', f);
}

/* Whether print() writes the same text for a and b. */
static bool same_text(void (*print)(FILE *, const struct opts_def *, const struct tdns_opts *),
		      const struct opts_def *d, const struct tdns_opts *a,
		      const struct tdns_opts *b)
{
	char *ta = NULL, *tb = NULL;
	size_t la = 0, lb = 0;
	FILE *fa, *fb;
	bool same;

	fa = open_memstream(&ta, &la);
	fb = open_memstream(&tb, &lb);
	if (fa != NULL)
		print(fa, d, a);
	if (fb != NULL)
		print(fb, d, b);
	if (fa != NULL)
		fclose(fa);
	if (fb != NULL)
		fclose(fb);
	/* Out of memory: called different, which is the cautious answer. */
	same = ta != NULL && tb != NULL && la == lb && memcmp(ta, tb, la) == 0;
	free(ta);
	free(tb);
	return same;
}

static void print_zones_of(FILE *f, const struct opts_def *d, const struct tdns_opts *o)
{
	(void)d;
	print_zones(f, o);
}

/* opts_diff; live: leave out the keys a reload applies (F_LIVE). */
static void diff(enum tdns_prog prog, const struct tdns_opts *a, const struct tdns_opts *b,
		 bool live, char *buf, size_t cap)
{
	char label[64];
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < OPT_N; i++) {
		const struct opts_def *d = &opt_table[i];

		if (d->key == NULL || !for_prog(d, prog) || (live && (d->flags & F_LIVE)) ||
		    same_text(print_value, d, a, b))
			continue;
		opts_key_label(d, label, sizeof(label));
		len += (size_t)snprintf(buf + len, len < cap ? cap - len : 0, "%s%s",
					len ? ", " : "", label);
		if (len >= cap)
			return;
	}
	if (!same_text(print_zones_of, NULL, a, b))
		snprintf(buf + len, len < cap ? cap - len : 0, "%szones", len ? ", " : "");
}

void opts_diff(enum tdns_prog prog, const struct tdns_opts *a,
	       const struct tdns_opts *b, char *buf, size_t cap)
{
	diff(prog, a, b, false, buf, cap);
}

static const char *serial_policy_name(int p)
{
	return p == ZONEDB_SERIAL_UNIXTIME ? "unixtime"
	       : p == ZONEDB_SERIAL_INCREMENT ? "increment" : "none (increment)";
}

/* The serial-policy and journal-size of the stanzas of run that now has
 * too (by name) are taken from now, each change logged: the keys of a
 * stanza a reload applies (tierdns-upper writes them to the store, where
 * tierdns-zone reads them at each edit). A stanza added or removed is a
 * change of the zones the diff names. */
static void reload_zone_policies(struct tdns_opts *run, const struct tdns_opts *now)
{
	for (unsigned i = 0; i < run->n_zones; i++) {
		struct tdns_zone_conf *z = &run->zones[i];

		for (unsigned j = 0; j < now->n_zones; j++) {
			if (strcasecmp(z->name, now->zones[j].name) != 0)
				continue;
			if (z->serial_policy != now->zones[j].serial_policy)
				log_info("zone %s: serial-policy %s -> %s", z->name,
					 serial_policy_name(z->serial_policy),
					 serial_policy_name(now->zones[j].serial_policy));
			if (z->journal_size != now->zones[j].journal_size)
				log_info("zone %s: journal-size %llu -> %llu bytes (0: the "
					 "default)", z->name,
					 (unsigned long long)z->journal_size,
					 (unsigned long long)now->zones[j].journal_size);
			z->serial_policy = now->zones[j].serial_policy;
			z->journal_size = now->zones[j].journal_size;
		}
	}
}

void opts_reload(struct tdns_opts *run)
{
	struct tdns_opts now;
	char err[512], restart[512], applied[160], line[900];
	bool target_changed;
	int n = 0;

	if (opts_load(run->prog, run->argc, run->argv, &now, err, sizeof(err)) != OPTS_RUN) {
		log_err("configuration file invalid, the running configuration stays: %s", err);
		return;
	}
	/* The default file gone, or out of reach (--chroot, --user): not a
	 * request for every default. */
	if (run->config_path != NULL && now.config_path == NULL) {
		log_err("configuration file %s cannot be read any more, the running "
			"configuration stays", run->config_path);
		opts_free(&now);
		return;
	}
	applied[0] = '\0';
	if (now.log_target != run->log_target)
		n += snprintf(applied + n, sizeof(applied) - (size_t)n, ", log %s -> %s",
			      log_target_name(run->log_target), log_target_name(now.log_target));
	if (log_level_for(now.verbose) != log_level_for(run->verbose) ||
	    now.verbose != run->verbose)
		snprintf(applied + n, sizeof(applied) - (size_t)n, ", verbosity %d -> %d",
			 run->verbose, now.verbose);
	/* The keys that apply live are taken; the diff names the rest. */
	target_changed = run->log_target != now.log_target;
	run->verbose = now.verbose;
	run->log_target = now.log_target;
	reload_zone_policies(run, &now);
	diff(run->prog, run, &now, true, restart, sizeof(restart));
	snprintf(line, sizeof(line), "configuration re-read from %s: %s%s%s%s",
		 now.config_path ? now.config_path : "the command line (no file)",
		 applied[0] ? "applied " : "nothing to apply", applied[0] ? applied + 2 : "",
		 restart[0] ? "; changed but kept until a restart: " : "", restart);
	log_set_level(log_level_for(now.verbose));
	/* A new target gets the line too: the old one learns where the next
	 * lines go, the new one why they come. */
	log_info("%s", line);
	if (target_changed) {
		log_set_target(now.log_target);
		log_info("%s", line);
	}
	opts_free(&now);
}
