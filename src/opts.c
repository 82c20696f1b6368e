/*
 * opts.c - the daemons' command line (getopt_long), see opts.h.
 *
 * Addresses are resolved only after every option has been read, so that
 * "--listen ::1 --port 53" and "--port 53 --listen ::1" mean the same thing.
 */
#include "tierdns/opts.h"

#include "tierdns/doh.h"

#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The build's state directory (GNUInstallDirs: LOCALSTATEDIR/lib/tierdns,
 * /var/lib/tierdns for the prefix /usr). */
#ifndef TDNS_STATE_DIR
#error "TDNS_STATE_DIR must be defined by the build"
#endif
#define OPTS_DB_UPPER TDNS_STATE_DIR "/upper"
#define OPTS_DB_LOCAL TDNS_STATE_DIR "/local"
#define OPTS_PORT_UPPER 9998
#define OPTS_PORT_LOCAL 9999
#define OPTS_UPSTREAM_DEFAULT "127.0.0.1:9998"
#define OPTS_UPSTREAM_PORT 53 /* an upstream given without a port */
#define OPTS_MAX_THREADS 256
#define OPTS_TLS_PORT 853     /* RFC 7858 3.1 */
#define OPTS_HTTPS_PORT 443   /* RFC 8484: https */
#define OPTS_ADDR_TEXT_MAX 64 /* "[v6]:port" and a little more */

/* Long-only options (values above any short option character). */
enum {
	OPT_MAX_TTL = 256,
	OPT_MAX_NEG_TTL,
	OPT_TIMEOUT,
	OPT_CACHE_SIZE,
	OPT_ALLOW,
	OPT_SERVE_STALE,
	OPT_STALE_TTL,
	OPT_USE_0X20,
	OPT_MAX_OUTSTANDING,
	OPT_MAX_TCP,
	OPT_MAX_TCP_PER_CLIENT,
	OPT_TCP_IDLE,
	OPT_USER,
	OPT_PID_FILE,
	OPT_CHROOT,
	OPT_RRL_RATE,
	OPT_RRL_SLIP,
	OPT_RRL_IPV4_PREFIX,
	OPT_RRL_IPV6_PREFIX,
	OPT_RRL_SIZE,
	OPT_NO_COOKIES,
	OPT_COOKIE_SECRET,
	OPT_COOKIE_SECRET_ALT,
	OPT_TLS_LISTEN,
	OPT_TLS_CERT,
	OPT_TLS_KEY,
	OPT_UPSTREAM_TLS,
	OPT_TLS_CA,
	OPT_HTTPS_LISTEN,
};

/* RFC 8767 5: a maximum stale timer of 1 to 3 days is suggested. */
#define OPTS_STALE_TTL_MAX 259200
#define OPTS_MAX_OUTSTANDING_MAX 65536
#define OPTS_MAX_TCP_MAX 65536
#define OPTS_TCP_IDLE_MAX 3600000 /* ms: an hour */

/*
 * The options that take a plain decimal number: accepted range, how an
 * error names it, and the field of struct tdns_opts it sets (a uint16_t,
 * or a 32-bit uint32_t/unsigned). One table instead of a case each.
 */
struct num_opt {
	int id;
	const char *name;  /* "--max-ttl", as the error message says it */
	unsigned long long min, max;
	const char *range; /* "1-65535", "seconds": the error's hint */
	size_t off;
	size_t size;
};

_Static_assert(sizeof(unsigned) == sizeof(uint32_t), "num_opts stores unsigned as 32 bits");

#define NUM_FIELD(f) offsetof(struct tdns_opts, f), sizeof(((struct tdns_opts *)0)->f)

static const struct num_opt num_opts[] = {
	{ 'p', "port", 1, 65535, "1-65535", NUM_FIELD(port) },
	{ 't', "thread count", 1, OPTS_MAX_THREADS, "1-256", NUM_FIELD(threads) },
	{ OPT_MAX_TTL, "--max-ttl", 0, UINT32_MAX, "seconds", NUM_FIELD(max_ttl) },
	{ OPT_MAX_NEG_TTL, "--max-neg-ttl", 0, UINT32_MAX, "seconds", NUM_FIELD(max_neg_ttl) },
	{ OPT_TIMEOUT, "--timeout", 1, 60000, "1-60000 ms", NUM_FIELD(upstream_timeout_ms) },
	{ OPT_STALE_TTL, "--stale-ttl", 1, OPTS_STALE_TTL_MAX, "1-259200 s", NUM_FIELD(stale_ttl) },
	{ OPT_MAX_OUTSTANDING, "--max-outstanding", 1, OPTS_MAX_OUTSTANDING_MAX, "1-65536",
	  NUM_FIELD(max_outstanding) },
	{ OPT_MAX_TCP, "--max-tcp", 1, OPTS_MAX_TCP_MAX, "1-65536", NUM_FIELD(max_tcp) },
	{ OPT_MAX_TCP_PER_CLIENT, "--max-tcp-per-client", 1, OPTS_MAX_TCP_MAX, "1-65536",
	  NUM_FIELD(max_tcp_per_client) },
	{ OPT_TCP_IDLE, "--tcp-idle", 1, OPTS_TCP_IDLE_MAX, "1-3600000 ms", NUM_FIELD(tcp_idle_ms) },
	{ OPT_RRL_RATE, "--rrl-rate", 0, 1000000, "0-1000000 responses/s", NUM_FIELD(rrl.rate) },
	{ OPT_RRL_SLIP, "--rrl-slip", 0, 100, "0-100", NUM_FIELD(rrl.slip) },
	{ OPT_RRL_IPV4_PREFIX, "--rrl-ipv4-prefix", 8, 32, "8-32", NUM_FIELD(rrl_ipv4_prefix) },
	{ OPT_RRL_IPV6_PREFIX, "--rrl-ipv6-prefix", 16, 128, "16-128", NUM_FIELD(rrl_ipv6_prefix) },
	{ OPT_RRL_SIZE, "--rrl-size", 1, RRL_MAX_SIZE, "1-16777216 buckets", NUM_FIELD(rrl.size) },
};

static const struct option upper_longopts[] = {
	{ "db", required_argument, NULL, 'd' },
	{ "listen", required_argument, NULL, 'l' },
	{ "port", required_argument, NULL, 'p' },
	{ "threads", required_argument, NULL, 't' },
	{ "max-tcp", required_argument, NULL, OPT_MAX_TCP },
	{ "max-tcp-per-client", required_argument, NULL, OPT_MAX_TCP_PER_CLIENT },
	{ "tcp-idle", required_argument, NULL, OPT_TCP_IDLE },
	{ "tls-listen", required_argument, NULL, OPT_TLS_LISTEN },
	{ "tls-cert", required_argument, NULL, OPT_TLS_CERT },
	{ "tls-key", required_argument, NULL, OPT_TLS_KEY },
	{ "rrl-rate", required_argument, NULL, OPT_RRL_RATE },
	{ "rrl-slip", required_argument, NULL, OPT_RRL_SLIP },
	{ "rrl-ipv4-prefix", required_argument, NULL, OPT_RRL_IPV4_PREFIX },
	{ "rrl-ipv6-prefix", required_argument, NULL, OPT_RRL_IPV6_PREFIX },
	{ "rrl-size", required_argument, NULL, OPT_RRL_SIZE },
	{ "no-cookies", no_argument, NULL, OPT_NO_COOKIES },
	{ "cookie-secret", required_argument, NULL, OPT_COOKIE_SECRET },
	{ "cookie-secret-alt", required_argument, NULL, OPT_COOKIE_SECRET_ALT },
	{ "user", required_argument, NULL, OPT_USER },
	{ "pid-file", required_argument, NULL, OPT_PID_FILE },
	{ "chroot", required_argument, NULL, OPT_CHROOT },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static const struct option local_longopts[] = {
	{ "db", required_argument, NULL, 'd' },
	{ "listen", required_argument, NULL, 'l' },
	{ "port", required_argument, NULL, 'p' },
	{ "threads", required_argument, NULL, 't' },
	{ "upstream", required_argument, NULL, 'u' },
	{ "max-ttl", required_argument, NULL, OPT_MAX_TTL },
	{ "max-neg-ttl", required_argument, NULL, OPT_MAX_NEG_TTL },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "cache-size", required_argument, NULL, OPT_CACHE_SIZE },
	{ "allow", required_argument, NULL, OPT_ALLOW },
	{ "serve-stale", no_argument, NULL, OPT_SERVE_STALE },
	{ "stale-ttl", required_argument, NULL, OPT_STALE_TTL },
	{ "use-0x20", no_argument, NULL, OPT_USE_0X20 },
	{ "max-outstanding", required_argument, NULL, OPT_MAX_OUTSTANDING },
	{ "max-tcp", required_argument, NULL, OPT_MAX_TCP },
	{ "max-tcp-per-client", required_argument, NULL, OPT_MAX_TCP_PER_CLIENT },
	{ "tcp-idle", required_argument, NULL, OPT_TCP_IDLE },
	{ "tls-listen", required_argument, NULL, OPT_TLS_LISTEN },
	{ "tls-cert", required_argument, NULL, OPT_TLS_CERT },
	{ "tls-key", required_argument, NULL, OPT_TLS_KEY },
	{ "upstream-tls", required_argument, NULL, OPT_UPSTREAM_TLS },
	{ "https-listen", required_argument, NULL, OPT_HTTPS_LISTEN },
	{ "tls-ca", required_argument, NULL, OPT_TLS_CA },
	{ "user", required_argument, NULL, OPT_USER },
	{ "pid-file", required_argument, NULL, OPT_PID_FILE },
	{ "chroot", required_argument, NULL, OPT_CHROOT },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static const char *prog_name(enum tdns_prog prog)
{
	return prog == TDNS_PROG_LOCAL ? "tierdns-local" : "tierdns-upper";
}

static void print_help(enum tdns_prog prog)
{
	if (prog == TDNS_PROG_UPPER) {
		printf("Usage: tierdns-upper [OPTION]...\n"
		       "Authoritative DNS server answering from the zones in an LMDB store\n"
		       "(load them with tierdns-zone; zones loaded while it runs are served at once).\n"
		       "\n"
		       "  -d, --db DIR          LMDB store directory, created if missing\n"
		       "                        (default " OPTS_DB_UPPER ")\n"
		       "  -l, --listen ADDR     address to serve on, IPv4 or IPv6, repeatable;\n"
		       "                        ADDR:PORT or [V6]:PORT overrides --port (default 127.0.0.1)\n"
		       "  -p, --port N          UDP and TCP port (default %d)\n"
		       "  -t, --threads N       worker threads, 1-%d (default: number of CPUs)\n"
		       "      --rrl-rate N      response rate limiting: UDP responses per second\n"
		       "                        per client prefix, class and name; 0 is off\n"
		       "                        (default 0)\n"
		       "      --rrl-slip N      of the limited responses, send every N-th truncated\n"
		       "                        (TC) and drop the rest; 0 drops all (default %d)\n"
		       "      --rrl-ipv4-prefix N, --rrl-ipv6-prefix N\n"
		       "                        client prefix length that counts as one client\n"
		       "                        (default %d and %d)\n"
		       "      --rrl-size N      buckets of the shared RRL table (default %d)\n"
		       "      --no-cookies      do not answer DNS cookies, RFC 7873; a valid server\n"
		       "                        cookie exempts from RRL (default: answer them)\n"
		       "      --cookie-secret HEX\n"
		       "                        server cookie secret, 32 hex digits (default: random\n"
		       "                        at each start); the same on every server of an address\n"
		       "      --cookie-secret-alt HEX\n"
		       "                        a second secret accepted but not used to sign: the\n"
		       "                        old one during a rollover\n",
		       OPTS_PORT_UPPER, OPTS_MAX_THREADS, RRL_DEFAULT_SLIP,
		       RRL_DEFAULT_IPV4_PREFIX, RRL_DEFAULT_IPV6_PREFIX, RRL_DEFAULT_SIZE);
	} else {
		printf("Usage: tierdns-local [OPTION]...\n"
		       "Caching DNS forwarder: static records from its store, then the cache,\n"
		       "then the upstream server(s).\n"
		       "\n"
		       "  -d, --db DIR          LMDB store directory, created if missing\n"
		       "                        (default " OPTS_DB_LOCAL ")\n"
		       "  -l, --listen ADDR     address to serve on, IPv4 or IPv6, repeatable;\n"
		       "                        ADDR:PORT or [V6]:PORT overrides --port (default 127.0.0.1)\n"
		       "  -p, --port N          UDP and TCP port (default %d)\n"
		       "  -t, --threads N       worker threads, 1-%d (default: number of CPUs)\n"
		       "  -u, --upstream ADDR[:PORT]\n"
		       "                        upstream server, repeatable; [V6]:PORT for IPv6;\n"
		       "                        PORT defaults to %d (default %s)\n"
		       "      --max-ttl SEC     cap on the TTL of cached answers (default 86400)\n"
		       "      --max-neg-ttl SEC cap on cached NXDOMAIN/NODATA, RFC 2308 (default 3600)\n"
		       "      --timeout MS      time a miss may take across all upstreams before\n"
		       "                        SERVFAIL, 1-60000 (default 2000)\n"
		       "      --cache-size SIZE LMDB map size, bytes with optional K, M or G suffix,\n"
		       "                        at least 1M (default 256M)\n"
		       "      --allow CIDR      clients allowed to query, IPv4 or IPv6 prefix,\n"
		       "                        repeatable; others get REFUSED (default: loopback,\n"
		       "                        10/8, 172.16/12, 192.168/16, fc00::/7)\n"
		       "      --serve-stale     answer from expired cache entries (TTL 30) when no\n"
		       "                        upstream answers, RFC 8767 (default off)\n"
		       "      --stale-ttl SEC   how long expired entries are kept for --serve-stale,\n"
		       "                        1-%d (default 86400)\n"
		       "      --use-0x20        randomise the case of upstream questions and check\n"
		       "                        it in replies (default off)\n"
		       "      --max-outstanding N\n"
		       "                        upstream queries in flight per thread, 1-%d\n"
		       "                        (default 1024)\n"
		       "      --upstream-tls ADDR[:PORT]#NAME\n"
		       "                        upstream over DNS over TLS, repeatable; its\n"
		       "                        certificate must be valid for NAME, RFC 8310\n"
		       "                        strict (PORT defaults to %d)\n"
		       "      --tls-ca FILE     PEM CA certificates that --upstream-tls servers are\n"
		       "                        verified against (default: the system's store)\n"
		       "      --https-listen ADDR\n"
		       "                        serve DNS over HTTPS, RFC 8484, on ADDR at %s,\n"
		       "                        repeatable; ADDR:PORT or [V6]:PORT (default port\n"
		       "                        %d); with --tls-cert and --tls-key\n",
		       OPTS_PORT_LOCAL, OPTS_MAX_THREADS, OPTS_UPSTREAM_PORT,
		       OPTS_UPSTREAM_DEFAULT, OPTS_STALE_TTL_MAX, OPTS_MAX_OUTSTANDING_MAX,
		       OPTS_TLS_PORT, DOH_PATH, OPTS_HTTPS_PORT);
	}
	printf("      --max-tcp N       TCP connections per listener and thread, 1-%d\n"
	       "                        (default 256)\n"
	       "      --max-tcp-per-client N\n"
	       "                        TCP connections per listener and thread from one\n"
	       "                        client address, 1-%d (default 16)\n"
	       "      --tcp-idle MS     close a TCP connection idle this long, RFC 7766\n"
	       "                        6.2.3, 1-%d (default 10000)\n",
	       OPTS_MAX_TCP_MAX, OPTS_MAX_TCP_MAX, OPTS_TCP_IDLE_MAX);
	printf("      --tls-listen ADDR serve DNS over TLS, RFC 7858, on ADDR, repeatable;\n"
	       "                        ADDR:PORT or [V6]:PORT (default port %d)\n"
	       "      --tls-cert FILE   PEM certificate chain for --tls-listen (read again\n"
	       "                        on SIGHUP)\n"
	       "      --tls-key FILE    PEM private key for --tls-listen (read again on\n"
	       "                        SIGHUP)\n",
	       OPTS_TLS_PORT);
	printf("      --user NAME       after binding, switch to user NAME and its groups\n"
	       "                        (as root; the store is handed to NAME first)\n"
	       "      --pid-file FILE   write the process ID to FILE after binding\n"
	       "      --chroot DIR      after binding, change the root directory to DIR\n"
	       "                        (as root; the store stays open)\n");
	printf("  -v, --verbose         more log output (repeat for debug)\n"
	       "  -h, --help            show this help and exit\n"
	       "  -V, --version         show the version and exit\n"
	       "\n"
	       "Exit status: 0 ok, 1 runtime error, 2 usage error.\n");
}

static enum opts_result usage_error(enum tdns_prog prog, const char *fmt,
				    const char *arg)
{
	fprintf(stderr, "%s: ", prog_name(prog));
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry '%s --help' for more information.\n", prog_name(prog));
	return OPTS_USAGE;
}

/* getopt leaves the offending short option in optopt (argv may hold it
 * bundled, as in "-vx"); a long option is argv[optind - 1] itself. */
static enum opts_result bad_option(enum tdns_prog prog, const char *fmt,
				   const char *arg)
{
	char shortopt[3] = { '-', 0, 0 };

	if (strncmp(arg, "--", 2) != 0 && optopt > 0 && optopt < 256) {
		shortopt[1] = (char)optopt;
		arg = shortopt;
	}
	return usage_error(prog, fmt, arg);
}

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

static const struct num_opt *num_opt_find(int id)
{
	for (size_t i = 0; i < sizeof(num_opts) / sizeof(num_opts[0]); i++) {
		if (num_opts[i].id == id)
			return &num_opts[i];
	}
	return NULL;
}

/* Parse optarg for the numeric option n into its field of o. */
static enum opts_result num_opt_set(enum tdns_prog prog, const struct num_opt *n,
				    const char *arg, struct tdns_opts *o)
{
	unsigned long long v;
	char fmt[128];
	uint16_t v16;
	uint32_t v32;

	if (!parse_uint(arg, n->min, n->max, &v)) {
		snprintf(fmt, sizeof(fmt), "invalid %s '%%s' (%s)", n->name, n->range);
		return usage_error(prog, fmt, arg);
	}
	if (n->size == sizeof(v16)) {
		v16 = (uint16_t)v;
		memcpy((char *)o + n->off, &v16, sizeof(v16));
	} else {
		v32 = (uint32_t)v;
		memcpy((char *)o + n->off, &v32, sizeof(v32));
	}
	return OPTS_RUN;
}

/* "268435456", "256M", "1g": bytes, at least 1 MiB. */
static bool parse_size(const char *s, uint64_t *out)
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
	if (*end != '\0' || v > UINT64_MAX / mult || v * mult < (1ull << 20))
		return false;
	*out = v * mult;
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

static void set_defaults(enum tdns_prog prog, struct tdns_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->db_dir = prog == TDNS_PROG_LOCAL ? OPTS_DB_LOCAL : OPTS_DB_UPPER;
	o->port = prog == TDNS_PROG_LOCAL ? OPTS_PORT_LOCAL : OPTS_PORT_UPPER;
	o->threads = online_cpus();
	o->max_ttl = 86400;
	o->max_neg_ttl = 3600;
	o->upstream_timeout_ms = 2000;
	o->cache_size = 256ull << 20;
	o->stale_ttl = 86400;
	o->max_outstanding = 1024;
	o->max_tcp = 256;
	o->max_tcp_per_client = 16;
	o->tcp_idle_ms = 10000;
	o->rrl.slip = RRL_DEFAULT_SLIP;
	o->rrl.size = RRL_DEFAULT_SIZE;
	o->rrl_ipv4_prefix = RRL_DEFAULT_IPV4_PREFIX;
	o->rrl_ipv6_prefix = RRL_DEFAULT_IPV6_PREFIX;
}

enum opts_result opts_parse(enum tdns_prog prog, int argc, char **argv,
			    struct tdns_opts *o)
{
	const char *listen_text[OPTS_MAX_LISTEN];
	const char *upstream_text[OPTS_MAX_UPSTREAM];
	const char *tls_listen_text[OPTS_MAX_LISTEN];
	const char *https_listen_text[OPTS_MAX_LISTEN];
	char addr_buf[OPTS_ADDR_TEXT_MAX];
	const struct option *longopts;
	const struct num_opt *num;
	const char *shortopts;
	unsigned i;
	int c;

	set_defaults(prog, o);
	if (prog == TDNS_PROG_LOCAL) {
		longopts = local_longopts;
		shortopts = "+:d:l:p:t:u:vhV";
	} else {
		longopts = upper_longopts;
		shortopts = "+:d:l:p:t:vhV";
	}
	/* optind 0 makes glibc re-initialise, so opts_parse can run again
	 * (the unit tests parse many command lines in one process). */
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			if (optarg[0] == '\0')
				return usage_error(prog, "empty --db directory%s", "");
			o->db_dir = optarg;
			break;
		case 'l':
			if (o->n_listen == OPTS_MAX_LISTEN)
				return usage_error(prog, "too many --listen addresses (at most %s)",
						   "16");
			listen_text[o->n_listen++] = optarg;
			break;
		case 'u':
			if (o->n_upstream == OPTS_MAX_UPSTREAM)
				return usage_error(prog, "too many --upstream servers (at most %s)",
						   "8");
			upstream_text[o->n_upstream++] = optarg;
			break;
		case OPT_UPSTREAM_TLS:
			if (o->n_upstream == OPTS_MAX_UPSTREAM)
				return usage_error(prog, "too many --upstream servers (at most %s)",
						   "8");
			/* ADDR[:PORT]#NAME: the name is checked below. */
			o->upstream_auth[o->n_upstream] = "";
			upstream_text[o->n_upstream++] = optarg;
			break;
		case OPT_TLS_LISTEN:
			if (o->n_tls_listen == OPTS_MAX_LISTEN)
				return usage_error(prog, "too many --tls-listen addresses (at most %s)",
						   "16");
			tls_listen_text[o->n_tls_listen++] = optarg;
			break;
		case OPT_HTTPS_LISTEN:
			if (o->n_https_listen == OPTS_MAX_LISTEN)
				return usage_error(prog, "too many --https-listen addresses (at most %s)",
						   "16");
			https_listen_text[o->n_https_listen++] = optarg;
			break;
		case OPT_TLS_CERT:
		case OPT_TLS_KEY:
		case OPT_TLS_CA:
			if (optarg[0] == '\0')
				return usage_error(prog, "empty value for %s",
						   c == OPT_TLS_CERT ? "--tls-cert" :
						   c == OPT_TLS_KEY ? "--tls-key" : "--tls-ca");
			if (c == OPT_TLS_CERT)
				o->tls_cert = optarg;
			else if (c == OPT_TLS_KEY)
				o->tls_key = optarg;
			else
				o->tls_ca = optarg;
			break;
		case OPT_CACHE_SIZE:
			if (!parse_size(optarg, &o->cache_size))
				return usage_error(prog,
						   "invalid --cache-size '%s' (bytes, K/M/G suffix, at least 1M)",
						   optarg);
			break;
		case OPT_ALLOW:
			if (o->n_allow == OPTS_MAX_ALLOW)
				return usage_error(prog, "too many --allow prefixes (at most %s)",
						   "64");
			if (acl_parse(optarg, &o->allow[o->n_allow]) != TDNS_OK)
				return usage_error(prog,
						   "invalid --allow '%s' (ADDR or ADDR/PREFIX, IPv4 or IPv6)",
						   optarg);
			o->n_allow++;
			break;
		case OPT_USER:
		case OPT_PID_FILE:
		case OPT_CHROOT:
			if (optarg[0] == '\0')
				return usage_error(prog, "empty value for %s",
						   c == OPT_USER ? "--user" :
						   c == OPT_PID_FILE ? "--pid-file" : "--chroot");
			if (c == OPT_USER)
				o->user = optarg;
			else if (c == OPT_PID_FILE)
				o->pid_file = optarg;
			else
				o->chroot_dir = optarg;
			break;
		case OPT_NO_COOKIES:
			o->no_cookies = true;
			break;
		case OPT_COOKIE_SECRET:
		case OPT_COOKIE_SECRET_ALT:
			if (!cookie_secret_parse(optarg, c == OPT_COOKIE_SECRET
								 ? o->cookies.secret
								 : o->cookies.alt))
				return usage_error(prog, "invalid cookie secret '%s' "
						   "(32 hex digits)", optarg);
			if (c == OPT_COOKIE_SECRET)
				o->cookie_secret_set = true;
			else
				o->cookies.has_alt = true;
			break;
		case OPT_SERVE_STALE:
			o->serve_stale = true;
			break;
		case OPT_USE_0X20:
			o->use_0x20 = true;
			break;
		case 'v':
			o->verbose++;
			break;
		case 'h':
			print_help(prog);
			return OPTS_EXIT_OK;
		case 'V':
			printf("%s %s\n", prog_name(prog), TDNS_VERSION);
			return OPTS_EXIT_OK;
		case ':':
			return bad_option(prog, "option '%s' needs a value", argv[optind - 1]);
		default:
			num = num_opt_find(c);
			if (num == NULL)
				return bad_option(prog, "unknown option '%s'", argv[optind - 1]);
			if (num_opt_set(prog, num, optarg, o) != OPTS_RUN)
				return OPTS_USAGE;
			break;
		}
	}
	if (optind < argc)
		return usage_error(prog, "unexpected argument '%s'", argv[optind]);

	for (i = 0; i < o->n_listen; i++) {
		if (netio_addr_parse(listen_text[i], o->port, &o->listen[i]) != TDNS_OK)
			return usage_error(prog, "invalid --listen address '%s': an IP "
					   "address is expected (127.0.0.1, ::1, ADDR:PORT or "
					   "[V6]:PORT); host names are not looked up",
					   listen_text[i]);
	}
	if (o->n_listen == 0) {
		netio_addr_parse("127.0.0.1", o->port, &o->listen[0]);
		o->n_listen = 1;
	}
	for (i = 0; i < o->n_tls_listen; i++) {
		if (netio_addr_parse(tls_listen_text[i], OPTS_TLS_PORT, &o->tls_listen[i]) !=
		    TDNS_OK)
			return usage_error(prog, "invalid --tls-listen address '%s': an IP "
					   "address is expected (127.0.0.1, ::1, ADDR:PORT or "
					   "[V6]:PORT)", tls_listen_text[i]);
	}
	for (i = 0; i < o->n_https_listen; i++) {
		if (netio_addr_parse(https_listen_text[i], OPTS_HTTPS_PORT,
				     &o->https_listen[i]) != TDNS_OK)
			return usage_error(prog, "invalid --https-listen address '%s': an IP "
					   "address is expected (127.0.0.1, ::1, ADDR:PORT or "
					   "[V6]:PORT)", https_listen_text[i]);
	}
	if (o->n_tls_listen + o->n_https_listen > 0 &&
	    (o->tls_cert == NULL || o->tls_key == NULL))
		return usage_error(prog, "%s needs --tls-cert FILE and --tls-key FILE",
				   o->n_tls_listen > 0 ? "--tls-listen" : "--https-listen");
	for (i = 0; i < o->n_upstream; i++) {
		const char *text = upstream_text[i];
		const char *hash = strchr(text, '#');
		uint16_t port = OPTS_UPSTREAM_PORT;

		if (o->upstream_auth[i] != NULL) {
			/* RFC 8310 strict: no name, no way to authenticate. */
			if (hash == NULL || hash[1] == '\0' ||
			    (size_t)(hash - text) >= sizeof(addr_buf))
				return usage_error(prog, "invalid --upstream-tls '%s': "
						   "ADDR[:PORT]#NAME is expected, NAME being "
						   "the name its certificate is valid for", text);
			memcpy(addr_buf, text, (size_t)(hash - text));
			addr_buf[hash - text] = '\0';
			o->upstream_auth[i] = hash + 1;
			text = addr_buf;
			port = OPTS_TLS_PORT;
		}
		if (netio_addr_parse(text, port, &o->upstream[i]) != TDNS_OK)
			return usage_error(prog, "invalid --upstream address '%s': an IP "
					   "address is expected (192.0.2.1, 192.0.2.1:53, "
					   "[2001:db8::1]:53); host names are not looked up",
					   upstream_text[i]);
	}
	if (o->n_allow == 0) {
		for (i = 0; i < ACL_N_DEFAULT; i++)
			acl_parse(acl_default[i], &o->allow[i]);
		o->n_allow = ACL_N_DEFAULT;
	}
	o->rrl.ipv4_prefix = (uint8_t)o->rrl_ipv4_prefix;
	o->rrl.ipv6_prefix = (uint8_t)o->rrl_ipv6_prefix;
	if (prog == TDNS_PROG_LOCAL && o->n_upstream == 0) {
		netio_addr_parse(OPTS_UPSTREAM_DEFAULT, OPTS_UPSTREAM_PORT, &o->upstream[0]);
		o->n_upstream = 1;
	}
	return OPTS_RUN;
}
