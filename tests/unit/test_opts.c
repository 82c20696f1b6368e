/*
 * test_opts.c - command lines in, parsed options or usage errors out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <cmocka.h>

#include "tierdns/opts.h"

#define MAX_ARGS 12

struct opts_case {
	enum tdns_prog prog;
	const char *argv[MAX_ARGS]; /* after the program name, NULL-terminated */
	enum opts_result result;
	/* Checked only for OPTS_RUN: */
	const char *db;
	const char *listen[3]; /* addresses as netio_addr_str prints them */
	const char *upstream[3];
	unsigned port;
	unsigned threads;      /* 0: the number of online CPUs */
	int verbose;
	uint32_t max_ttl, max_neg_ttl;
	unsigned timeout_ms;
	uint64_t cache_size;
};

/* The compiled-in defaults are absolute (the build's LOCALSTATEDIR): a
 * daemon started from / must not create /var/upper. */
#define DB_UPPER TDNS_STATE_DIR "/upper"
#define DB_LOCAL TDNS_STATE_DIR "/local"
#define UP TDNS_PROG_UPPER
#define LO TDNS_PROG_LOCAL
#define MiB (1ull << 20)
/* A command line that must not run, with the verdict it gets. */
#define NORUN(p, r, ...) { .prog = (p), .argv = { __VA_ARGS__, NULL }, .result = (r) }

/* opts_parse of the daemon's name and then args (NULL-terminated, at most
 * MAX_ARGS). */
static enum opts_result parse_args(enum tdns_prog prog, const char *const *args,
				   struct tdns_opts *o)
{
	char *argv[MAX_ARGS + 2];
	int argc = 0;

	argv[argc++] = (char *)(prog == LO ? "tierdns-local" : "tierdns-upper");
	for (size_t i = 0; args[i] != NULL; i++)
		argv[argc++] = (char *)args[i];
	argv[argc] = NULL;
	return opts_parse(prog, argc, argv, o);
}

static const struct opts_case cases[] = {
	/* Defaults. */
	{ UP, { NULL }, OPTS_RUN, DB_UPPER, { "127.0.0.1:9998" }, { NULL }, 9998, 0, 0,
	  86400, 3600, 2000, 64 * MiB },
	{ LO, { NULL }, OPTS_RUN, DB_LOCAL, { "127.0.0.1:9999" }, { "127.0.0.1:9998" },
	  9999, 0, 0, 86400, 3600, 2000, 64 * MiB },
	/* --listen before or after --port gets the same port. */
	{ UP, { "-l", "::1", "-p", "5353", NULL }, OPTS_RUN, DB_UPPER, { "[::1]:5353" },
	  { NULL }, 5353, 0, 0, 86400, 3600, 2000, 64 * MiB },
	{ UP, { "--port", "5353", "--listen", "::1", NULL }, OPTS_RUN, DB_UPPER,
	  { "[::1]:5353" }, { NULL }, 5353, 0, 0, 86400, 3600, 2000, 64 * MiB },
	/* Repeated listen, one with its own port; --opt=value form. */
	{ UP, { "--listen=127.0.0.2", "-l", "[::1]:53", "--port=1053", "-d", "/tmp/x", NULL },
	  OPTS_RUN, "/tmp/x", { "127.0.0.2:1053", "[::1]:53" }, { NULL }, 1053, 0, 0, 86400,
	  3600, 2000, 64 * MiB },
	/* A relative --db is still taken as given. */
	{ LO, { "-d", "var/local", NULL }, OPTS_RUN, "var/local", { "127.0.0.1:9999" },
	  { "127.0.0.1:9998" }, 9999, 0, 0, 86400, 3600, 2000, 64 * MiB },
	{ UP, { "-t", "3", "-vv", "--verbose", NULL }, OPTS_RUN, DB_UPPER,
	  { "127.0.0.1:9998" }, { NULL }, 9998, 3, 3, 86400, 3600, 2000, 64 * MiB },
	/* Local-only options. */
	{ LO, { "-u", "[::1]:53", "--upstream", "192.0.2.1", "--upstream=10.0.0.1:5300", NULL },
	  OPTS_RUN, DB_LOCAL, { "127.0.0.1:9999" },
	  { "[::1]:53", "192.0.2.1:53", "10.0.0.1:5300" }, 9999, 0, 0, 86400, 3600, 2000,
	  64 * MiB },
	{ LO, { "--max-ttl", "300", "--max-neg-ttl", "0", "--timeout", "1500",
		"--cache-size", "32M", NULL },
	  OPTS_RUN, DB_LOCAL, { "127.0.0.1:9999" }, { "127.0.0.1:9998" }, 9999, 0, 0, 300,
	  0, 1500, 32 * MiB },
	{ LO, { "--cache-size", "2g", NULL }, OPTS_RUN, DB_LOCAL, { "127.0.0.1:9999" },
	  { "127.0.0.1:9998" }, 9999, 0, 0, 86400, 3600, 2000, 2048 * MiB },
	{ LO, { "--cache-size", "1048576", NULL }, OPTS_RUN, DB_LOCAL, { "127.0.0.1:9999" },
	  { "127.0.0.1:9998" }, 9999, 0, 0, 86400, 3600, 2000, MiB },

	/* Help and version. */
	NORUN(UP, OPTS_EXIT_OK, "--help"),
	NORUN(LO, OPTS_EXIT_OK, "-h"),
	NORUN(UP, OPTS_EXIT_OK, "-V"),
	NORUN(LO, OPTS_EXIT_OK, "--version"),

	/* Usage errors. */
	NORUN(UP, OPTS_USAGE, "-p", "0"),
	NORUN(UP, OPTS_USAGE, "-p", "65536"),
	NORUN(UP, OPTS_USAGE, "-p", "53x"),
	NORUN(UP, OPTS_USAGE, "-p", "-1"),
	NORUN(UP, OPTS_USAGE, "-p"),
	NORUN(UP, OPTS_USAGE, "-t", "0"),
	NORUN(UP, OPTS_USAGE, "-t", "257"),
	NORUN(UP, OPTS_USAGE, "-l", "localhost"),
	NORUN(UP, OPTS_USAGE, "-l", "1.2.3.4:"),
	NORUN(UP, OPTS_USAGE, "-l", "[::1"),
	NORUN(UP, OPTS_USAGE, "-l", ""),
	NORUN(UP, OPTS_USAGE, "-d", ""),
	NORUN(UP, OPTS_USAGE, "--listen"),
	NORUN(UP, OPTS_USAGE, "-x"),
	NORUN(UP, OPTS_USAGE, "--nope"),
	NORUN(UP, OPTS_USAGE, "stray"),
	/* The upper has no upstream and no cache. */
	NORUN(UP, OPTS_USAGE, "-u", "127.0.0.1"),
	NORUN(UP, OPTS_USAGE, "--max-ttl", "5"),
	/* A bare IPv6 address never carries a port: that needs brackets. */
	{ LO, { "-u", "::1", NULL }, OPTS_RUN, DB_LOCAL, { "127.0.0.1:9999" },
	  { "[::1]:53" }, 9999, 0, 0, 86400, 3600, 2000, 64 * MiB },
	NORUN(LO, OPTS_USAGE, "-u", "[127.0.0.1]:53"),
	NORUN(LO, OPTS_USAGE, "-u", "1.2.3.4:0"),
	NORUN(LO, OPTS_USAGE, "--timeout", "0"),
	NORUN(LO, OPTS_USAGE, "--timeout", "60001"),
	NORUN(LO, OPTS_USAGE, "--max-ttl", "4294967296"),
	NORUN(LO, OPTS_USAGE, "--cache-size", "1K"),
	NORUN(LO, OPTS_USAGE, "--cache-size", "12X"),
	NORUN(LO, OPTS_USAGE, "--cache-size", ""),
	NORUN(LO, OPTS_USAGE, "--max-ttl"),
	/* Hardening options: local only, checked values. */
	NORUN(UP, OPTS_USAGE, "--allow", "10.0.0.0/8"),
	NORUN(UP, OPTS_USAGE, "--serve-stale"),
	NORUN(LO, OPTS_USAGE, "--allow", "10.0.0.0/33"),
	NORUN(LO, OPTS_USAGE, "--allow", "localhost"),
	NORUN(LO, OPTS_USAGE, "--allow", ""),
	NORUN(LO, OPTS_USAGE, "--allow"),
	NORUN(LO, OPTS_USAGE, "--serve-stale=1"),
	NORUN(LO, OPTS_USAGE, "--stale-ttl", "0"),
	NORUN(LO, OPTS_USAGE, "--stale-ttl", "259201"),
	NORUN(LO, OPTS_USAGE, "--max-outstanding", "0"),
	NORUN(LO, OPTS_USAGE, "--max-outstanding", "65537"),
	NORUN(LO, OPTS_USAGE, "--packet-cache", "1048577"),
	NORUN(UP, OPTS_USAGE, "--packet-cache", "16"),
	NORUN(LO, OPTS_USAGE, "--max-tcp", "0"),
	NORUN(LO, OPTS_USAGE, "--max-tcp", "x"),
	/* DNSSEC validation: local only; names that are names. */
	NORUN(UP, OPTS_USAGE, "--trust-anchor", "root.ds"),
	NORUN(UP, OPTS_USAGE, "--insecure-domain", "site"),
	NORUN(LO, OPTS_USAGE, "--trust-anchor"),
	NORUN(LO, OPTS_USAGE, "--insecure-domain", "a..b"),
	NORUN(LO, OPTS_USAGE, "--insecure-domain", ""),
	/* TCP limits: both tiers, checked values. */
	NORUN(UP, OPTS_USAGE, "--max-tcp", "0"),
	NORUN(UP, OPTS_USAGE, "--max-tcp", "65537"),
	NORUN(UP, OPTS_USAGE, "--max-tcp-per-client", "0"),
	NORUN(LO, OPTS_USAGE, "--max-tcp-per-client", "65537"),
	NORUN(UP, OPTS_USAGE, "--max-tcp-per-client", "-1"),
	NORUN(LO, OPTS_USAGE, "--max-tcp-per-client"),
	NORUN(UP, OPTS_USAGE, "--tcp-idle", "0"),
	NORUN(LO, OPTS_USAGE, "--tcp-idle", "3600001"),
	NORUN(UP, OPTS_USAGE, "--tcp-idle", "10s"),
	NORUN(LO, OPTS_USAGE, "--tcp-idle", ""),
	/* Transfer bounds: both tiers, checked values. */
	NORUN(UP, OPTS_USAGE, "--transfer-time-in", "0"),
	NORUN(LO, OPTS_USAGE, "--transfer-time-in", "2419201"),
	NORUN(UP, OPTS_USAGE, "--transfer-size-in", "1X"),
	NORUN(LO, OPTS_USAGE, "--transfer-size-in", ""),
	NORUN(UP, OPTS_USAGE, "--transfer-time-out", "0"),
	NORUN(LO, OPTS_USAGE, "--transfer-time-out", "60"),
};

/* The TCP limits of both tiers: value in, field out. */
struct tcp_case {
	enum tdns_prog prog;
	const char *argv[MAX_ARGS];
	unsigned max_tcp, per_client, idle_ms;
};

static const struct tcp_case tcp_cases[] = {
	{ UP, { NULL }, 256, 16, 10000 },
	{ LO, { NULL }, 256, 16, 10000 },
	{ UP, { "--max-tcp", "3", "--max-tcp-per-client", "2", "--tcp-idle", "1500", NULL },
	  3, 2, 1500 },
	{ LO, { "--max-tcp=65536", "--max-tcp-per-client=65536", "--tcp-idle=3600000", NULL },
	  65536, 65536, 3600000 },
	{ UP, { "--tcp-idle", "1", NULL }, 256, 16, 1 },
	{ LO, { "--max-tcp-per-client", "1", NULL }, 256, 1, 10000 },
};

static void test_opts_tcp_limits(void **state)
{
	struct tdns_opts o;

	(void)state;
	for (size_t c = 0; c < sizeof(tcp_cases) / sizeof(tcp_cases[0]); c++) {
		const struct tcp_case *k = &tcp_cases[c];

		assert_int_equal(parse_args(k->prog, k->argv, &o), OPTS_RUN);
		assert_int_equal(o.max_tcp, k->max_tcp);
		assert_int_equal(o.max_tcp_per_client, k->per_client);
		assert_int_equal(o.tcp_idle_ms, k->idle_ms);
	}
}

/* The bounds of an incoming transfer, on both tiers: value in, field out. */
struct xfr_case {
	enum tdns_prog prog;
	const char *argv[MAX_ARGS];
	unsigned time_s;
	uint64_t size;
	unsigned time_out_s; /* the upper's --transfer-time-out (the local
			      * keeps the default, unused) */
};

static const struct xfr_case xfr_cases[] = {
	{ UP, { NULL }, 7200, 0, 7200 },
	{ LO, { NULL }, 7200, 0, 7200 },
	{ UP, { "--transfer-time-in", "30", "--transfer-size-in", "64K", NULL }, 30, 64 << 10,
	  7200 },
	{ LO, { "--transfer-time-in=2419200", "--transfer-size-in", "3g", NULL }, 2419200,
	  3ull << 30, 7200 },
	{ UP, { "--transfer-size-in", "0", "--transfer-time-out", "60", NULL }, 7200, 0, 60 },
	{ LO, { "--transfer-time-in", "1", "--transfer-size-in", "1000", NULL }, 1, 1000, 7200 },
};

static void test_opts_transfer_limits(void **state)
{
	struct tdns_opts o;

	(void)state;
	for (size_t c = 0; c < sizeof(xfr_cases) / sizeof(xfr_cases[0]); c++) {
		const struct xfr_case *k = &xfr_cases[c];

		assert_int_equal(parse_args(k->prog, k->argv, &o), OPTS_RUN);
		assert_int_equal(o.transfer_time_in, k->time_s);
		assert_int_equal(o.transfer_time_out, k->time_out_s);
		assert_true(o.transfer_size_in == k->size);
		opts_free(&o);
	}
}

/* The hardening options of the local tier: value in, field out. */
struct harden_case {
	const char *argv[MAX_ARGS];
	unsigned n_allow;
	const char *allow0; /* the first prefix, as "family/prefix" text below */
	bool serve_stale;
	uint32_t stale_ttl;
	bool use_0x20;
	unsigned max_outstanding, max_tcp, packet_cache;
};

static const struct harden_case harden_cases[] = {
	{ { NULL }, ACL_N_DEFAULT, "127.0.0.0/8", false, 86400, false, 1024, 256, 16384 },
	{ { "--allow", "127.0.0.2/32", NULL }, 1, "127.0.0.2/32", false, 86400, false,
	  1024, 256, 16384 },
	{ { "--allow", "192.0.2.77/24", "--allow=2001:db8::/32", "--allow", "::1", NULL },
	  3, "192.0.2.0/24", false, 86400, false, 1024, 256, 16384 },
	{ { "--serve-stale", "--stale-ttl", "3600", "--use-0x20", "--max-outstanding", "8",
	    "--max-tcp", "3", "--packet-cache", "0", NULL },
	  ACL_N_DEFAULT, "127.0.0.0/8", true, 3600, true, 8, 3, 0 },
	{ { "--stale-ttl", "259200", "--max-outstanding=65536", "--packet-cache=1048576", NULL },
	  ACL_N_DEFAULT, "127.0.0.0/8", false, 259200, false, 65536, 256, 1048576 },
};

static void test_opts_harden(void **state)
{
	char text[INET6_ADDRSTRLEN + 8];
	struct tdns_opts o;

	(void)state;
	for (size_t c = 0; c < sizeof(harden_cases) / sizeof(harden_cases[0]); c++) {
		const struct harden_case *h = &harden_cases[c];

		assert_int_equal(parse_args(LO, h->argv, &o), OPTS_RUN);
		assert_int_equal(o.n_allow, h->n_allow);
		assert_non_null(inet_ntop(o.allow[0].family, o.allow[0].addr, text,
					  sizeof(text)));
		snprintf(text + strlen(text), 8, "/%u", o.allow[0].prefix);
		assert_string_equal(text, h->allow0);
		assert_int_equal(o.serve_stale, h->serve_stale);
		assert_int_equal(o.stale_ttl, h->stale_ttl);
		assert_int_equal(o.use_0x20, h->use_0x20);
		assert_int_equal(o.max_outstanding, h->max_outstanding);
		assert_int_equal(o.max_tcp, h->max_tcp);
		assert_int_equal(o.packet_cache, h->packet_cache);
	}
}

/* --trust-anchor and --insecure-domain (repeatable) as given; none by
 * default. */
static void test_opts_dnssec(void **state)
{
	char *argv[] = { (char *)"tierdns-local", (char *)"--trust-anchor", (char *)"/x/root.ds",
			 (char *)"--insecure-domain", (char *)"site", (char *)"--insecure-domain",
			 (char *)"corp.example.", NULL };
	struct tdns_opts o;

	(void)state;
	assert_int_equal(opts_parse(TDNS_PROG_LOCAL, 7, argv, &o), OPTS_RUN);
	assert_string_equal(o.trust_anchor, "/x/root.ds");
	assert_int_equal(o.n_insecure, 2);
	assert_string_equal(o.insecure[0], "site");
	assert_string_equal(o.insecure[1], "corp.example.");
	opts_free(&o);
	assert_int_equal(opts_parse(TDNS_PROG_LOCAL, 1, argv, &o), OPTS_RUN);
	assert_null(o.trust_anchor);
	assert_int_equal(o.n_insecure, 0);
	opts_free(&o);
}

static void check_case(const struct opts_case *c)
{
	char buf[64];
	struct tdns_opts o;
	enum opts_result r;
	unsigned n;

	r = parse_args(c->prog, c->argv, &o);
	if (r != c->result)
		fail_msg("argv[1]=%s: result %d, want %d",
			 c->argv[0] != NULL ? c->argv[0] : "(none)", (int)r, (int)c->result);
	if (r != OPTS_RUN)
		return;
	assert_string_equal(o.db_dir, c->db);
	assert_int_equal(o.port, c->port);
	for (n = 0; n < 3 && c->listen[n] != NULL; n++)
		assert_string_equal(netio_addr_str(&o.listen[n], buf, sizeof(buf)), c->listen[n]);
	assert_int_equal(o.n_listen, n);
	for (n = 0; n < 3 && c->upstream[n] != NULL; n++)
		assert_string_equal(netio_addr_str(&o.upstream[n], buf, sizeof(buf)),
				    c->upstream[n]);
	assert_int_equal(o.n_upstream, n);
	if (c->threads == 0)
		assert_int_equal(o.threads, (unsigned)sysconf(_SC_NPROCESSORS_ONLN));
	else
		assert_int_equal(o.threads, c->threads);
	assert_int_equal(o.verbose, c->verbose);
	assert_int_equal(o.max_ttl, c->max_ttl);
	assert_int_equal(o.max_neg_ttl, c->max_neg_ttl);
	assert_int_equal(o.upstream_timeout_ms, c->timeout_ms);
	assert_true(o.cache_size == c->cache_size);
}

static void test_opts_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_case(&cases[i]);
}

/* Run opts_parse with stdout captured into text (cap bytes). */
static enum opts_result parse_capture(enum tdns_prog prog, const char *arg, char *text,
				      size_t cap)
{
	char *argv[] = { (char *)"prog", (char *)arg, NULL };
	char path[] = "/tmp/tdns-test-optsXXXXXX";
	struct tdns_opts o;
	enum opts_result r;
	size_t n;
	FILE *f;
	int fd, saved;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	dup2(fd, STDOUT_FILENO);
	r = opts_parse(prog, 2, argv, &o);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	close(fd);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(text, 1, cap - 1, f);
	text[n] = '\0';
	fclose(f);
	unlink(path);
	return r;
}

/* --help names every option of that program, and only those. */
static void test_opts_help(void **state)
{
	static const char *local_only[] = { "--upstream", "--max-ttl", "--max-neg-ttl",
					    "--timeout", "--cache-size", "--allow",
					    "--serve-stale", "--stale-ttl", "--use-0x20",
					    "--max-outstanding", "--upstream-tls", "--tls-ca",
					    "--https-listen", "--trust-anchor", "--insecure-domain" };
	static const char *both[] = { "--max-tcp ", "--max-tcp-per-client", "--tcp-idle",
				      "--tls-listen", "--tls-cert", "--tls-key" };
	char text[16384];
	enum tdns_prog prog;
	size_t i;

	(void)state;
	for (prog = TDNS_PROG_UPPER; prog <= TDNS_PROG_LOCAL; prog++) {
		assert_int_equal(parse_capture(prog, "--help", text, sizeof(text)),
				 OPTS_EXIT_OK);
		assert_non_null(strstr(text, prog == TDNS_PROG_LOCAL ? "tierdns-local" :
								       "tierdns-upper"));
		assert_non_null(strstr(text, "--db"));
		assert_non_null(strstr(text, "--listen"));
		assert_non_null(strstr(text, "--port"));
		assert_non_null(strstr(text, "--threads"));
		assert_non_null(strstr(text, "--verbose"));
		assert_non_null(strstr(text, "--version"));
		for (i = 0; i < sizeof(both) / sizeof(both[0]); i++)
			assert_non_null(strstr(text, both[i]));
		for (i = 0; i < sizeof(local_only) / sizeof(local_only[0]); i++) {
			if (prog == TDNS_PROG_LOCAL)
				assert_non_null(strstr(text, local_only[i]));
			else
				assert_null(strstr(text, local_only[i]));
		}
	}
}

/* DNS over TLS and HTTPS: listeners with their default ports, upstreams
 * with their authentication names, and what must not run. */
struct tls_case {
	enum tdns_prog prog;
	const char *argv[MAX_ARGS];
	enum opts_result result;
	const char *tls_listen, *https_listen; /* the first, as printed */
	const char *upstream[2];               /* as printed */
	const char *auth[2];                   /* NULL: clear */
	const char *ca;
};

#define CK "--tls-cert", "c.pem", "--tls-key", "k.pem"

#define TLS_NORUN(p, ...) { .prog = (p), .argv = { __VA_ARGS__, NULL }, .result = OPTS_USAGE }

static const struct tls_case tls_cases[] = {
	{ .prog = UP, .argv = { "--tls-listen", "127.0.0.2", CK, NULL }, .result = OPTS_RUN,
	  .tls_listen = "127.0.0.2:853" },
	{ .prog = UP, .argv = { CK, "--tls-listen", "[::1]:8853", NULL }, .result = OPTS_RUN,
	  .tls_listen = "[::1]:8853" },
	{ .prog = LO, .argv = { "--https-listen", "127.0.0.3", CK, NULL }, .result = OPTS_RUN,
	  .https_listen = "127.0.0.3:443", .upstream = { "127.0.0.1:9998" } },
	{ .prog = LO, .argv = { "--upstream-tls", "192.0.2.1#dns.example", NULL },
	  .result = OPTS_RUN, .upstream = { "192.0.2.1:853" }, .auth = { "dns.example" } },
	{ .prog = LO,
	  .argv = { "-u", "10.0.0.1", "--upstream-tls", "[2001:db8::1]:8853#192.0.2.9",
		    "--tls-ca", "ca.pem", NULL },
	  .result = OPTS_RUN, .upstream = { "10.0.0.1:53", "[2001:db8::1]:8853" },
	  .auth = { NULL, "192.0.2.9" }, .ca = "ca.pem" },
	/* No certificate, no key, a bad address, no or an empty name. */
	TLS_NORUN(UP, "--tls-listen", "127.0.0.1"),
	TLS_NORUN(LO, "--https-listen", "127.0.0.1", "--tls-cert", "c.pem"),
	TLS_NORUN(UP, "--tls-listen", "localhost", CK),
	TLS_NORUN(UP, "--tls-cert", ""),
	TLS_NORUN(LO, "--upstream-tls", "192.0.2.1"),
	TLS_NORUN(LO, "--upstream-tls", "192.0.2.1#"),
	TLS_NORUN(LO, "--upstream-tls", "dns.example#dns.example"),
	TLS_NORUN(LO, "--upstream-tls", "192.0.2.1:0#dns.example"),
	/* The upper has no upstreams and no DoH. */
	TLS_NORUN(UP, "--upstream-tls", "192.0.2.1#dns.example"),
	TLS_NORUN(UP, "--https-listen", "127.0.0.1", CK),
};

static void test_opts_tls(void **state)
{
	char *argv[MAX_ARGS + 2], buf[64];
	struct tdns_opts o;
	int argc;

	(void)state;
	for (size_t c = 0; c < sizeof(tls_cases) / sizeof(tls_cases[0]); c++) {
		const struct tls_case *k = &tls_cases[c];

		argc = 0;
		argv[argc++] = (char *)"prog";
		for (size_t i = 0; k->argv[i] != NULL; i++)
			argv[argc++] = (char *)k->argv[i];
		argv[argc] = NULL;
		if (opts_parse(k->prog, argc, argv, &o) != k->result)
			fail_msg("tls case %zu: verdict", c);
		if (k->result != OPTS_RUN)
			continue;
		assert_int_equal(o.n_tls_listen, k->tls_listen != NULL);
		if (k->tls_listen != NULL) {
			assert_string_equal(netio_addr_str(&o.tls_listen[0], buf, sizeof(buf)),
					    k->tls_listen);
			assert_string_equal(o.tls_cert, "c.pem");
			assert_string_equal(o.tls_key, "k.pem");
		}
		assert_int_equal(o.n_https_listen, k->https_listen != NULL);
		if (k->https_listen != NULL)
			assert_string_equal(netio_addr_str(&o.https_listen[0], buf, sizeof(buf)),
					    k->https_listen);
		for (unsigned i = 0; i < 2 && k->upstream[i] != NULL; i++) {
			assert_true(o.n_upstream > i);
			assert_string_equal(netio_addr_str(&o.upstream[i], buf, sizeof(buf)),
					    k->upstream[i]);
			if (k->auth[i] == NULL)
				assert_null(o.upstream_auth[i]);
			else
				assert_string_equal(o.upstream_auth[i], k->auth[i]);
		}
		if (k->ca == NULL)
			assert_null(o.tls_ca);
		else
			assert_string_equal(o.tls_ca, k->ca);
	}
}

/* --user, --pid-file, --chroot: taken as given, none by default. */
static void test_opts_privileges(void **state)
{
	char *argv[] = { (char *)"tierdns-local", (char *)"--user", (char *)"tierdns",
			 (char *)"--pid-file=/run/x.pid", (char *)"--chroot", (char *)"/srv/j",
			 NULL };
	char *none[] = { (char *)"tierdns-upper", NULL };
	char *empty[] = { (char *)"tierdns-upper", (char *)"--user", (char *)"", NULL };
	struct tdns_opts o;

	(void)state;
	assert_int_equal(opts_parse(LO, 6, argv, &o), OPTS_RUN);
	assert_string_equal(o.user, "tierdns");
	assert_string_equal(o.pid_file, "/run/x.pid");
	assert_string_equal(o.chroot_dir, "/srv/j");
	assert_int_equal(opts_parse(UP, 1, none, &o), OPTS_RUN);
	assert_null(o.user);
	assert_null(o.pid_file);
	assert_null(o.chroot_dir);
	assert_int_equal(opts_parse(UP, 3, empty, &o), OPTS_USAGE);
}

/* The default stores are absolute paths, shown by --help. */
static void test_opts_default_db(void **state)
{
	char text[16384];
	enum tdns_prog prog;

	(void)state;
	assert_true(TDNS_STATE_DIR[0] == '/');
	assert_non_null(strstr(TDNS_STATE_DIR, "/lib/tierdns"));
	for (prog = TDNS_PROG_UPPER; prog <= TDNS_PROG_LOCAL; prog++) {
		assert_int_equal(parse_capture(prog, "--help", text, sizeof(text)),
				 OPTS_EXIT_OK);
		assert_non_null(strstr(text, prog == TDNS_PROG_LOCAL ? "(default " DB_LOCAL ")"
								       : "(default " DB_UPPER ")"));
	}
}

static void test_opts_version(void **state)
{
	char text[256];

	(void)state;
	assert_int_equal(parse_capture(TDNS_PROG_UPPER, "-V", text, sizeof(text)),
			 OPTS_EXIT_OK);
	assert_string_equal(text, "tierdns-upper " TDNS_VERSION "\n");
	assert_int_equal(parse_capture(TDNS_PROG_LOCAL, "--version", text, sizeof(text)),
			 OPTS_EXIT_OK);
	assert_string_equal(text, "tierdns-local " TDNS_VERSION "\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_opts_table),
		cmocka_unit_test(test_opts_dnssec),
		cmocka_unit_test(test_opts_harden),
		cmocka_unit_test(test_opts_tcp_limits),
		cmocka_unit_test(test_opts_transfer_limits),
		cmocka_unit_test(test_opts_tls),
		cmocka_unit_test(test_opts_help),
		cmocka_unit_test(test_opts_default_db),
		cmocka_unit_test(test_opts_privileges),
		cmocka_unit_test(test_opts_version),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
