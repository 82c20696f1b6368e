/*
 * test_config.c - configuration files in, options or one-line errors out.
 * Every error case of the file (issue 14: "every config error case in a
 * table"), the precedence of flags over the file, and the round trip of
 * --check-config's output through the parser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tierdns/opts.h"

#define UP TDNS_PROG_UPPER
#define LO TDNS_PROG_LOCAL
#define MAX_ARGS 8

static char conf_path[] = "/tmp/tdns-test-configXXXXXX";

static void write_conf(const char *text)
{
	FILE *f = fopen(conf_path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* Load text as prog's file with the flags in args (NULL-terminated). */
static enum opts_result load_text(enum tdns_prog prog, const char *text,
				  const char *const *args, struct tdns_opts *o, char *err,
				  size_t cap)
{
	char *argv[MAX_ARGS + 4];
	int argc = 0;

	write_conf(text);
	argv[argc++] = (char *)(prog == LO ? "tierdns-local" : "tierdns-upper");
	argv[argc++] = (char *)"-c";
	argv[argc++] = conf_path;
	for (size_t i = 0; args != NULL && args[i] != NULL; i++)
		argv[argc++] = (char *)args[i];
	argv[argc] = NULL;
	return opts_load(prog, argc, argv, o, err, cap);
}

/* An invalid file, and the message it must get: "PATH:" + where_what, or
 * exactly where_what when it has no position (flags). */
struct err_case {
	enum tdns_prog prog;
	const char *text;
	const char *where_what;
	const char *args[MAX_ARGS];
};

#define SEVENTEEN "listen: [1.0.0.1, 1.0.0.2, 1.0.0.3, 1.0.0.4, 1.0.0.5, 1.0.0.6, " \
	"1.0.0.7, 1.0.0.8,\n  1.0.0.9, 1.0.0.10, 1.0.0.11, 1.0.0.12, 1.0.0.13, 1.0.0.14, " \
	"1.0.0.15, 1.0.0.16, 1.0.0.17]\n"

static const struct err_case err_cases[] = {
	/* YAML syntax */
	{ UP, "port: [1, 2\n", "2:1: YAML syntax error: did not find expected ',' or ']' "
	  "while parsing a flow sequence (line 1)", { NULL } },
	{ UP, "port: 1\n\tthreads: 2\n", "2:1: YAML syntax error: found a tab character that "
	  "violates indentation while scanning a plain scalar (line 1)", { NULL } },
	{ UP, "db: \"/tmp/x\n", "2:1: YAML syntax error: found unexpected end of stream while "
	  "scanning a quoted scalar (line 1)", { NULL } },
	{ UP, "port: 1\nport 2\n", "3:1: YAML syntax error: could not find expected ':' "
	  "while scanning a simple key (line 2)", { NULL } },
	{ UP, "- db\n", "1:1: expected a mapping of keys (key: value) at the top", { NULL } },
	{ UP, "port: 53\n---\nport: 54\n", "3:1: a second YAML document (one per file)", { NULL } },
	/* unknown keys, with and without a near miss */
	{ LO, "max-tt: 5\n", "1:1: unknown key 'max-tt' (did you mean 'max-ttl'?)", { NULL } },
	{ UP, "prot: 53\n", "1:1: unknown key 'prot' (did you mean 'port'?)", { NULL } },
	{ UP, "  listne: 127.0.0.1\n", "1:3: unknown key 'listne' (did you mean 'listen'?)", { NULL } },
	{ UP, "colour: blue\n", "1:1: unknown key 'colour'", { NULL } },
	{ UP, "control:\n  sockt: /run/x\n", "2:3: unknown key 'sockt' (did you mean 'socket'?)", { NULL } },
	{ UP, "contrl:\n  socket: /run/x\n", "1:1: unknown key 'contrl' (did you mean 'control'?)", { NULL } },
	{ UP, "zone:\n  - name: example.\n", "1:1: unknown key 'zone' (did you mean 'zones'?)", { NULL } },
	{ UP, "verbose: 1\n", "1:1: unknown key 'verbose'", { NULL } },
	{ UP, "help: 1\n", "1:1: unknown key 'help'", { NULL } },
	{ UP, "config: /etc/x\n", "1:1: unknown key 'config'", { NULL } },
	/* a key of the other daemon */
	{ UP, "upstream: 192.0.2.1\n", "1:1: key 'upstream' applies to tierdns-local only", { NULL } },
	{ UP, "serve-stale: true\n", "1:1: key 'serve-stale' applies to tierdns-local only", { NULL } },
	/* duplicates */
	{ UP, "port: 53\nthreads: 1\nport: 54\n", "3:1: duplicate key 'port' (first at line 1)", { NULL } },
	{ UP, "control:\n  mode: 0600\n  mode: 0640\n",
	  "3:3: duplicate key 'mode' (first at line 2)", { NULL } },
	/* wrong type */
	{ UP, "port: [53, 54]\n", "1:7: key 'port': expected a single value, got a sequence", { NULL } },
	{ UP, "db: {a: b}\n", "1:5: key 'db': expected a single value, got a mapping", { NULL } },
	{ LO, "listen: [{a: b}]\n", "1:10: key 'listen': expected a single value, got a mapping", { NULL } },
	{ UP, "control: /run/x\n",
	  "1:10: key 'control': expected a mapping of keys, got a value", { NULL } },
	{ UP, "metrics: [1]\n", "1:10: key 'metrics': expected a mapping of keys, got a sequence", { NULL } },
	{ UP, "{port: 1}: 2\n", "1:1: a key must be a plain name", { NULL } },
	/* out of range, not a number */
	{ UP, "port: 0\n", "1:7: key 'port': invalid value '0' (1-65535)", { NULL } },
	{ UP, "port: 65536\n", "1:7: key 'port': invalid value '65536' (1-65535)", { NULL } },
	{ UP, "threads: many\n", "1:10: key 'threads': invalid value 'many' (1-256)", { NULL } },
	{ UP, "threads: -1\n", "1:10: key 'threads': invalid value '-1' (1-256)", { NULL } },
	{ LO, "max-ttl: 4294967296\n", "1:10: key 'max-ttl': invalid value '4294967296' (seconds)", { NULL } },
	{ LO, "timeout: 1.5\n", "1:10: key 'timeout': invalid value '1.5' (1-60000 ms)", { NULL } },
	{ LO, "cache-size: 1K\n",
	  "1:13: key 'cache-size': invalid value '1K' (bytes, K/M/G suffix, at least 1M)", { NULL } },
	{ UP, "tcp-idle: 10s\n", "1:11: key 'tcp-idle': invalid value '10s' (1-3600000 ms)", { NULL } },
	{ UP, "verbosity: 4\n", "1:12: key 'verbosity': invalid value '4' (0-3)", { NULL } },
	{ LO, "serve-stale: maybe\n",
	  "1:14: key 'serve-stale': invalid value 'maybe' (true or false)", { NULL } },
	{ UP, "log: file\n", "1:6: key 'log': invalid value 'file' (stderr, syslog or journal)", { NULL } },
	{ UP, "control:\n  mode: 0999\n",
	  "2:9: key 'control.mode': invalid value '0999' (octal, 0-0777)", { NULL } },
	{ UP, "control:\n  mode: 01777\n",
	  "2:9: key 'control.mode': invalid value '01777' (octal, 0-0777)", { NULL } },
	/* bad addresses */
	{ UP, "listen: localhost\n", "1:9: key 'listen': invalid address 'localhost': an IP "
	  "address is expected (127.0.0.1, ::1, ADDR:PORT or [V6]:PORT); host names are not "
	  "looked up", { NULL } },
	{ UP, "listen:\n  - 127.0.0.1\n  - '[::1'\n", "3:5: key 'listen': invalid address '[::1': "
	  "an IP address is expected (127.0.0.1, ::1, ADDR:PORT or [V6]:PORT); host names are "
	  "not looked up", { NULL } },
	{ LO, "upstream: [dns.example:53]\n", "1:12: key 'upstream': invalid address "
	  "'dns.example:53': an IP address is expected (192.0.2.1, 192.0.2.1:53, "
	  "[2001:db8::1]:53); host names are not looked up", { NULL } },
	{ LO, "allow: [10.0.0.0/33]\n", "1:9: key 'allow': invalid value '10.0.0.0/33' "
	  "(ADDR or ADDR/PREFIX, IPv4 or IPv6)", { NULL } },
	{ UP, "metrics:\n  listen: 127.0.0.1\n", "2:11: key 'metrics.listen': invalid address "
	  "'127.0.0.1': ADDR:PORT or [V6]:PORT is expected, with an IP address", { NULL } },
	{ UP, "metrics:\n  listen: prometheus:9100\n", "2:11: key 'metrics.listen': invalid "
	  "address 'prometheus:9100': ADDR:PORT or [V6]:PORT is expected, with an IP address", { NULL } },
	{ UP, SEVENTEEN, "2:82: key 'listen': too many values (at most 16)", { NULL } },
	/* rpz: stanzas (Unbound's keys) and rpz-primary: */
	{ LO, "rpz:\n  - name: r.\n    primary-key: k\n    zonefile: /x\n", "2:5: key 'rpz': "
	  "a stanza needs primary: or zonefile:, and primary-key: only with primary:", { NULL } },
	{ LO, "rpz:\n  - primary: 192.0.2.1\n", "2:5: key 'rpz': a stanza needs a name:",
	  { NULL } },
	{ LO, "rpz:\n  - name: r.\n    primary: dns.example\n", "3:14: key 'rpz.primary': "
	  "invalid address 'r.@dns.example': ZONE@ADDR[:PORT] is expected, with an IP address",
	  { NULL } },
	{ LO, "rpz:\n  - name: r.\n    primary: 192.0.2.1\n    primary-key: nokey\n",
	  "4:18: key 'rpz.primary-key': no key 'nokey.' in keys:", { NULL } },
	{ LO, "rpz:\n  - name: r.\n    master: 192.0.2.1\n", "3:5: unknown key of an rpz: "
	  "stanza (name, primary, primary-key, zonefile)", { NULL } },
	{ LO, "rpz-primary:\n  - name: r.\n    zonefile: /x\n",
	  "2:5: key 'rpz-primary': a stanza needs primary:", { NULL } },
	{ LO, "rpz-primary: [r.192.0.2.1]\n", "1:15: key 'rpz-primary': invalid value "
	  "'r.192.0.2.1': ZONE@ADDR[:PORT] is expected, with an IP address", { NULL } },
	{ UP, "rpz-primary: [r.@192.0.2.1]\n",
	  "1:1: key 'rpz-primary' applies to tierdns-local only", { NULL } },
	/* empty and missing values */
	{ LO, "allow: []\n",
	  "1:8: key 'allow': empty sequence (leave the key out for the default)", { NULL } },
	{ UP, "db: \"\"\n", "1:5: key 'db': empty value", { NULL } },
	{ UP, "db:\n", "1:4: key 'db': a value is needed", { NULL } },
	{ UP, "port: ~\n", "1:7: key 'port': a value is needed", { NULL } },
	{ UP, "user: ''\n", "1:7: key 'user': empty value", { NULL } },
	{ UP, "verbosity: ~\n", "1:12: key 'verbosity': a value is needed", { NULL } },
	{ LO, "serve-stale:\n", "1:13: key 'serve-stale': a value is needed", { NULL } },
	{ UP, "log: null\n", "1:6: key 'log': a value is needed", { NULL } },
	/* zones */
	{ UP, "zones: example.\n",
	  "1:8: key 'zones': expected a sequence of zones (- name: example.)", { NULL } },
	{ UP, "zones:\n  - example.\n",
	  "2:5: key 'zones': expected a zone stanza (- name: example.)", { NULL } },
	{ UP, "zones:\n  - nam: example.\n", "2:5: unknown key 'nam' (did you mean 'name'?)", { NULL } },
	{ UP, "zones:\n  - name: example.\n    notfy: 192.0.2.1\n",
	  "3:5: unknown key 'notfy' (did you mean 'notify'?)", { NULL } },
	{ UP, "zones:\n  - name: example.\n    notify: [192.0.2.1, nohost]\n",
	  "3:25: key 'zones.notify': invalid address 'nohost' (192.0.2.1, "
	  "192.0.2.1:5353, [::1]:53)", { NULL } },
	{ UP, "keys:\n  - name: k\n    algorithm: hmac-sha999\n    secret: AAAA\n",
	  "2:5: key 'keys': key 'k.': unknown algorithm (hmac-sha256, hmac-sha384, "
	  "hmac-sha512, hmac-sha224, hmac-sha1, hmac-md5)", { NULL } },
	{ UP, "keys:\n  - name: k\n    secret: '!!'\n",
	  "2:5: key 'keys': key 'k.': the secret is not base64", { NULL } },
	{ UP, "zones:\n  - name: example.\n    allow-transfer-key: k\n",
	  "3:25: key 'zones.allow-transfer-key': no key 'k.' in keys:", { NULL } },
	{ UP, "zones:\n  - name: example.\n    allow-transfer: 10.0.0.0/33\n",
	  "3:21: key 'zones.allow-transfer': invalid address or prefix '10.0.0.0/33' "
	  "(192.0.2.1, 192.0.2.0/24, 2001:db8::/32; then 'key NAME' for a key it must "
	  "sign with)", { NULL } },
	{ UP, "zones:\n  - name: example.\n    allow-transfer: [\"10.0.0.1 key\"]\n",
	  "3:22: key 'zones.allow-transfer': invalid address or prefix '10.0.0.1 key' "
	  "(192.0.2.1, 192.0.2.0/24, 2001:db8::/32; then 'key NAME' for a key it must "
	  "sign with)", { NULL } },
	{ UP, "zones:\n  - {}\n", "2:5: key 'zones': a zone stanza needs a name:", { NULL } },
	{ UP, "zones:\n  - name:\n", "2:10: key 'zones.name': expected a zone name, got nothing", { NULL } },
	{ UP, "zones:\n  - name: [a]\n",
	  "2:11: key 'zones.name': expected a zone name, got a sequence", { NULL } },
	{ UP, "zones:\n  - name: example.\n  - name: EXAMPLE\n",
	  "3:11: key 'zones.name': zone 'EXAMPLE.' is listed twice", { NULL } },
	{ UP, "zones:\n  - name: a..b\n", "2:11: key 'zones.name': invalid zone name 'a..b'", { NULL } },
	{ UP, "zones:\n  - name: example.\n    name: other.\n",
	  "3:5: duplicate key 'name' (first at line 2)", { NULL } },
	/* forward: stanzas (the resolver policy of tierdns-local) */
	{ LO, "forward:\n  - name: corp.\n", "2:5: key 'forward': a stanza needs upstream: or "
	  "local:, not both", { NULL } },
	{ LO, "forward:\n  - {name: corp., upstream: [10.0.0.1], local: nxdomain}\n",
	  "2:5: key 'forward': a stanza needs upstream: or local:, not both", { NULL } },
	{ LO, "forward:\n  - upstream: 10.0.0.1\n", "2:5: key 'forward': a stanza needs a name:",
	  { NULL } },
	{ LO, "forward:\n  - {name: corp., upstream: [host.example]}\n",
	  "2:30: key 'forward.upstream': invalid address 'corp.@host.example': NAME@ADDR[:PORT], "
	  "NAME@nxdomain or NAME@refused is expected, with an IP address", { NULL } },
	{ LO, "forward:\n  - {name: corp., upstream: []}\n",
	  "2:29: key 'forward.upstream': empty sequence", { NULL } },
	{ LO, "forward:\n  - {name: corp., local: maybe}\n",
	  "2:26: key 'forward.local': nxdomain or refused is expected", { NULL } },
	{ LO, "forward:\n  - {name: corp., port: 53}\n",
	  "2:19: unknown key of a forward: or stub: stanza (name, upstream, local)", { NULL } },
	/* stub: stanzas: the zone's servers, nothing local */
	{ LO, "stub:\n  - name: corp.\n", "2:5: key 'stub': a stanza needs upstream: (the "
	  "zone's servers) and no local:", { NULL } },
	{ LO, "stub:\n  - {name: corp., upstream: []}\n",
	  "2:29: key 'stub.upstream': empty sequence", { NULL } },
	{ LO, "stub: [corp.@refused]\n", "1:8: key 'stub': invalid address 'corp.@refused': "
	  "NAME@ADDR[:PORT] is expected, with an IP address", { NULL } },
	{ LO, "forward: [corp.]\n", "1:11: key 'forward': invalid value 'corp.': NAME@ADDR[:PORT], "
	  "NAME@nxdomain or NAME@refused is expected, with an IP address", { NULL } },
	{ UP, "forward: [corp.@10.0.0.1]\n", "1:1: key 'forward' applies to tierdns-local only",
	  { NULL } },
	{ LO, "local-data: []\n", "1:13: key 'local-data': empty sequence (leave the key out "
	  "for the default)", { NULL } },
	/* a flag's error is the command line's, after a valid file */
	{ UP, "port: 53\n", "invalid --port '0' (1-65535)", { "--port", "0", NULL } },
	{ UP, "port: 53\n", "invalid --log 'file' (stderr, syslog or journal)",
	  { "--log", "file", NULL } },
	{ UP, "port: 53\n", "invalid --metrics address '1.2.3.4': ADDR:PORT or [V6]:PORT is "
	  "expected, with an IP address", { "--metrics", "1.2.3.4", NULL } },
	{ UP, "port: 53\n", "--control: empty value", { "--control", "", NULL } },
};

static void test_config_errors(void **state)
{
	char err[600], want[600];
	struct tdns_opts o;
	int failed = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++) {
		const struct err_case *c = &err_cases[i];

		assert_int_equal(load_text(c->prog, c->text, c->args, &o, err, sizeof(err)),
				 OPTS_USAGE);
		if (c->args[0] != NULL)
			snprintf(want, sizeof(want), "%s", c->where_what);
		else
			snprintf(want, sizeof(want), "%s:%s", conf_path, c->where_what);
		/* one line, the expected one */
		if (strcmp(err, want) != 0) {
			print_error("case %zu (%s):\n got: %s\nwant: %s\n", i, c->text, err, want);
			failed++;
		}
	}
	assert_int_equal(failed, 0);
}

/* An explicit -c that is missing is an error; so is a directory. */
static void test_config_missing(void **state)
{
	char *argv[] = { (char *)"tierdns-upper", (char *)"-c", (char *)"/nonexistent/x.conf",
			 NULL };
	char *dir[] = { (char *)"tierdns-upper", (char *)"--config=/tmp", NULL };
	char err[300];
	struct tdns_opts o;

	(void)state;
	assert_int_equal(opts_load(UP, 3, argv, &o, err, sizeof(err)), OPTS_USAGE);
	assert_string_equal(err, "cannot read configuration file /nonexistent/x.conf: "
				 "No such file or directory");
	assert_int_equal(opts_load(UP, 2, dir, &o, err, sizeof(err)), OPTS_USAGE);
	assert_string_equal(err, "cannot read configuration file /tmp: Is a directory");
}

/* Without -c, a missing default file is no error (and none is read). */
static void test_config_default_absent(void **state)
{
	char *argv[] = { (char *)"tierdns-local", NULL };
	char err[300];
	struct tdns_opts o;

	(void)state;
	assert_string_equal(opts_default_config(LO), TDNS_CONF_DIR "/local.conf");
	assert_string_equal(opts_default_config(UP), TDNS_CONF_DIR "/upper.conf");
	if (access(opts_default_config(LO), F_OK) == 0)
		skip(); /* installed on this machine */
	assert_int_equal(opts_load(LO, 1, argv, &o, err, sizeof(err)), OPTS_RUN);
	assert_null(o.config_path);
	assert_int_equal(o.port, 9999);
	opts_free(&o);
}

/* Values from the file; the flags win; a list from the flags replaces the
 * file's; a listen: from the file takes the port of a flag. */
static void test_config_values(void **state)
{
	static const char *text =
		"# a comment\n"
		"db: /srv/dns/local\n"
		"listen:\n  - 127.0.0.2\n  - \"[::1]:5300\"\n"
		"port: 5353\n"
		"threads: 3\n"
		"upstream: 192.0.2.1\n"
		"max-ttl: 300\n"
		"cache-size: 64M\n"
		"allow: [10.0.0.0/8, \"2001:db8::/32\"]\n"
		"serve-stale: yes\n"
		"use-0x20: false\n"
		"user: ~\n"
		"pid-file: /run/tdns.pid\n"
		"control:\n  socket: /run/tierdns/local.ctl\n  mode: 0640\n  group: dns\n"
		"metrics: {listen: \"127.0.0.1:9153\"}\n"
		"log: journal\n"
		"verbosity: 2\n"
		"zones:\n  - name: example.org\n  - name: home.arpa.\n";
	static const char *const flags[] = { "-p", "53", "--allow", "127.0.0.1", "-v", NULL };
	char err[300], buf[64];
	struct tdns_opts o;

	(void)state;
	assert_int_equal(load_text(LO, text, NULL, &o, err, sizeof(err)), OPTS_RUN);
	assert_string_equal(o.config_path, conf_path);
	assert_string_equal(o.db_dir, "/srv/dns/local");
	assert_int_equal(o.n_listen, 2);
	assert_string_equal(netio_addr_str(&o.listen[0], buf, sizeof(buf)), "127.0.0.2:5353");
	assert_string_equal(netio_addr_str(&o.listen[1], buf, sizeof(buf)), "[::1]:5300");
	assert_int_equal(o.threads, 3);
	assert_int_equal(o.n_upstream, 1);
	assert_string_equal(netio_addr_str(&o.upstream[0], buf, sizeof(buf)), "192.0.2.1:53");
	assert_int_equal(o.max_ttl, 300);
	assert_true(o.cache_size == 64ull << 20);
	assert_int_equal(o.n_allow, 2);
	assert_int_equal(o.allow[1].prefix, 32);
	assert_true(o.serve_stale);
	assert_false(o.use_0x20);
	assert_null(o.user);
	assert_string_equal(o.pid_file, "/run/tdns.pid");
	assert_string_equal(o.control_path, "/run/tierdns/local.ctl");
	assert_int_equal(o.control_mode, 0640);
	assert_string_equal(o.control_group, "dns");
	assert_string_equal(o.metrics_listen, "127.0.0.1:9153");
	assert_int_equal(o.log_target, TDNS_LOG_JOURNAL);
	assert_int_equal(o.verbose, 2);
	assert_int_equal(o.n_zones, 2);
	assert_string_equal(o.zones[0].name, "example.org.");
	assert_string_equal(o.zones[1].name, "home.arpa.");
	opts_free(&o);

	assert_int_equal(load_text(LO, text, flags, &o, err, sizeof(err)), OPTS_RUN);
	assert_int_equal(o.port, 53);
	assert_string_equal(netio_addr_str(&o.listen[0], buf, sizeof(buf)), "127.0.0.2:53");
	assert_string_equal(netio_addr_str(&o.listen[1], buf, sizeof(buf)), "[::1]:5300");
	assert_int_equal(o.n_allow, 1);
	assert_int_equal(o.allow[0].prefix, 32);
	assert_int_equal(o.verbose, 1); /* -v replaces verbosity: 2 */
	opts_free(&o);

	/* An empty file, and one with only comments: the defaults. */
	assert_int_equal(load_text(UP, "", NULL, &o, err, sizeof(err)), OPTS_RUN);
	assert_int_equal(o.port, 9998);
	assert_int_equal(o.control_mode, 0660);
	assert_string_equal(o.control_path, TDNS_RUN_DIR "/upper.sock");
	assert_true(o.control_default); /* a warning only, if it cannot be made */
	assert_null(o.metrics_listen);
	assert_int_equal(o.log_target, TDNS_LOG_STDERR);
	opts_free(&o);
	/* socket: ~ is no control socket; a path given is not the default
	 * (it must work). */
	assert_int_equal(load_text(UP, "control: {socket: ~}\n", NULL, &o, err, sizeof(err)),
			 OPTS_RUN);
	assert_null(o.control_path);
	assert_false(o.control_default);
	opts_free(&o);
	assert_int_equal(load_text(UP, "control: {socket: /run/tierdns/upper.sock}\n", NULL,
				   &o, err, sizeof(err)), OPTS_RUN);
	assert_false(o.control_default);
	opts_free(&o);
	assert_int_equal(load_text(LO, "# port: 1\n", NULL, &o, err, sizeof(err)), OPTS_RUN);
	assert_int_equal(o.port, 9999);
	assert_int_equal(o.n_allow, ACL_N_DEFAULT);
	opts_free(&o);
	/* The flags of the operations keys. */
	{
		static const char *const ops[] = { "--control", "/run/u.ctl", "--metrics",
						   "[::1]:9100", "--log", "syslog", NULL };

		assert_int_equal(load_text(UP, "control: {socket: /x}\n", ops, &o, err,
					   sizeof(err)), OPTS_RUN);
		assert_string_equal(o.control_path, "/run/u.ctl");
		assert_string_equal(o.metrics_listen, "[::1]:9100");
		assert_int_equal(o.log_target, TDNS_LOG_SYSLOG);
		opts_free(&o);
	}
}

static char *print_text(enum tdns_prog prog, const struct tdns_opts *o)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	opts_print(prog, o, f);
	assert_int_equal(fclose(f), 0);
	return text;
}

/* rpz: items: files, stanzas with primary: (one zone per name, its
 * primaries merged with rpz-primary:'s), a stanza without primary: is its
 * zonefile read as a file. */
static void test_config_rpz(void **state)
{
	static const char text[] =
		"keys:\n  - name: k\n    secret: \"J934A3sKT3aC5E+X2MgVcBklFlL50rx1FjqidLkztMY=\"\n"
		"rpz:\n  - /f.rpz\n  - name: r\n    primary: [192.0.2.1, '192.0.2.2:5353']\n"
		"    primary-key: k\n    zonefile: /z\n  - name: file.\n    zonefile: /g.rpz\n"
		"rpz-primary: [r.@192.0.2.3, s.@192.0.2.4]\n";
	static const char *const args[] = { "--rpz-primary", "t.@192.0.2.5", NULL };
	char err[300], a[64];
	struct tdns_opts o;

	(void)state;
	assert_int_equal(load_text(LO, text, NULL, &o, err, sizeof(err)), OPTS_RUN);
	assert_int_equal(o.rpz.n, 2);
	assert_string_equal(o.rpz.v[0], "/f.rpz");
	assert_string_equal(o.rpz.v[1], "/g.rpz");
	assert_int_equal(o.n_rpz_primary, 2);
	assert_string_equal(o.rpz_primary[0].name, "r.");
	assert_int_equal(o.rpz_primary[0].n_primaries, 3);
	assert_string_equal(netio_addr_str(&o.rpz_primary[0].primaries[1], a, sizeof(a)),
			    "192.0.2.2:5353");
	assert_string_equal(netio_addr_str(&o.rpz_primary[0].primaries[2], a, sizeof(a)),
			    "192.0.2.3:53");
	assert_int_equal(o.rpz_primary[0].key, 0);
	assert_string_equal(o.rpz_primary[0].zonefile, "/z");
	assert_string_equal(o.rpz_primary[1].name, "s.");
	assert_int_equal(o.rpz_primary[1].key, -1);
	assert_null(o.rpz_primary[1].zonefile);
	opts_free(&o);
	/* The command line's list replaces the file's. */
	assert_int_equal(load_text(LO, text, args, &o, err, sizeof(err)), OPTS_RUN);
	assert_int_equal(o.n_rpz_primary, 1);
	assert_string_equal(o.rpz_primary[0].name, "t.");
	opts_free(&o);
}

/* The transfer bounds from the file, printed as each option's own value
 * (a K_SIZE key prints its field, not cache-size's); transfer-time-out is
 * the upper's only. */
static void test_config_transfer_limits(void **state)
{
	char err[300], *text;
	struct tdns_opts o;

	(void)state;
	assert_int_equal(load_text(LO, "cache-size: 2G\ntransfer-size-in: 3K\n"
				   "transfer-time-in: 30\n", NULL, &o, err, sizeof(err)), OPTS_RUN);
	assert_true(o.transfer_size_in == 3072 && o.transfer_time_in == 30);
	text = print_text(LO, &o);
	opts_free(&o);
	assert_non_null(strstr(text, "\ncache-size: 2G\n"));
	assert_non_null(strstr(text, "\ntransfer-size-in: 3072\n"));
	assert_non_null(strstr(text, "\ntransfer-time-in: 30\n"));
	free(text);
	assert_int_equal(load_text(UP, "transfer-size-in: 2M\ntransfer-time-out: 60\n", NULL,
				   &o, err, sizeof(err)), OPTS_RUN);
	assert_int_equal(o.transfer_time_out, 60);
	text = print_text(UP, &o);
	opts_free(&o);
	assert_non_null(strstr(text, "\ntransfer-size-in: 2M\n"));
	assert_non_null(strstr(text, "\ntransfer-time-out: 60\n"));
	assert_non_null(strstr(text, "\ntransfer-time-in: 7200\n"));
	free(text);
	assert_int_equal(load_text(LO, "transfer-time-out: 60\n", NULL, &o, err, sizeof(err)),
			 OPTS_USAGE);
	/* A zone stanza's own: given, or -1 and 0 for the top-level's. */
	assert_int_equal(load_text(UP, "zones:\n  - name: a.\n    transfer-time-in: 30\n"
				   "    transfer-size-in: 1M\n  - name: b.\n"
				   "    transfer-size-in: 0\n  - name: c.\n", NULL, &o, err,
				   sizeof(err)), OPTS_RUN);
	assert_int_equal(o.zones[0].transfer_time_in, 30);
	assert_true(o.zones[0].transfer_size_in == 1 << 20);
	assert_int_equal(o.zones[1].transfer_time_in, 0);
	assert_true(o.zones[1].transfer_size_in == 0);
	assert_true(o.zones[2].transfer_size_in == -1);
	text = print_text(UP, &o);
	opts_free(&o);
	assert_non_null(strstr(text, "\n    transfer-time-in: 30\n    transfer-size-in: 1048576\n"));
	assert_non_null(strstr(text, "\n  - name: \"b.\"\n    transfer-size-in: 0\n"));
	free(text);
	assert_int_equal(load_text(UP, "zones:\n  - name: a.\n    transfer-time-in: 0\n", NULL,
				   &o, err, sizeof(err)), OPTS_USAGE);
	assert_non_null(strstr(err, "'0': seconds, 1-2419200"));
}

/* --check-config's output is a configuration file that gives the same
 * options: printed, read back, printed again, the same text. */
static void test_config_round_trip(void **state)
{
	static const char *const texts[] = {
		"",
		"db: \"/srv/a b#c\\\"d\"\nlisten: [\"::1\", 127.0.0.3:53]\nport: 5353\n"
		"threads: 2\nuser: tierdns\nchroot: /srv\ncontrol: {socket: /run/u.ctl, mode: 600}\n"
		"metrics: {listen: \"[::1]:9100\"}\nlog: syslog\nverbosity: 1\n"
		"zones: [{name: example.}, {name: \"a\\\\.b.example\"}]\n",
		"upstream: [192.0.2.1, \"[2001:db8::1]:5353\"]\nallow: [\"::1\", 10.1.2.3/8]\n"
		"cache-size: 1048577\nmax-neg-ttl: 0\nserve-stale: on\nstale-ttl: 600\n"
		"use-0x20: true\nmax-outstanding: 7\ntcp-idle: 1\nmax-tcp: 2\n"
		"max-tcp-per-client: 1\nlog: journal\n",
		"forward:\n  - name: corp.\n    upstream: [10.0.0.1, \"10.0.0.2:5353\"]\n"
		"  - name: lan.\n    local: nxdomain\n  - blocked.@refused\n"
		"  - sub.corp.@[2001:db8::1]:53\n"
		"local-zone: [\"ads.example. always_nxdomain\"]\n"
		"local-data: [\"x.example. 300 A 10.0.0.1\", 'y.example. TXT \"a b\"']\n"
		"hosts: [/etc/hosts, /srv/more hosts]\nrpz: /etc/tierdns/block.rpz\n",
		"keys: [{name: k., secret: \"J934A3sKT3aC5E+X2MgVcBklFlL50rx1FjqidLkztMY=\"}]\n"
		"rpz:\n  - name: rpz.example.\n    primary: [192.0.2.1, \"[2001:db8::1]:5300\"]\n"
		"    primary-key: k.\n    zonefile: /var/lib/tierdns/rpz.zone\n"
		"rpz-primary: [other.@192.0.2.9]\n",
	};
	char err[300], *first, *second;
	struct tdns_opts o;

	(void)state;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		for (enum tdns_prog prog = UP; prog <= LO; prog++) {
			if (i >= 2 && prog == UP)
				continue;
			if (load_text(prog, texts[i], NULL, &o, err, sizeof(err)) != OPTS_RUN)
				fail_msg("text %zu: %s", i, err);
			first = print_text(prog, &o);
			opts_free(&o);
			if (load_text(prog, first, NULL, &o, err, sizeof(err)) != OPTS_RUN)
				fail_msg("printed text %zu: %s\n%s", i, err, first);
			second = print_text(prog, &o);
			opts_free(&o);
			/* The first line names the file read. */
			assert_string_equal(strchr(first, '\n'), strchr(second, '\n'));
			free(first);
			free(second);
		}
	}
}

/* opts_diff names the keys that differ. */
static void test_config_diff(void **state)
{
	char err[300], diff[300];
	struct tdns_opts a, b;

	(void)state;
	assert_int_equal(load_text(LO, "port: 1\nallow: ['::1']\n", NULL, &a, err, sizeof(err)),
			 OPTS_RUN);
	assert_int_equal(load_text(LO, "port: 1\nallow: ['::1']\n", NULL, &b, err, sizeof(err)),
			 OPTS_RUN);
	opts_diff(LO, &a, &b, diff, sizeof(diff));
	assert_string_equal(diff, "");
	opts_free(&b);
	assert_int_equal(load_text(LO, "port: 2\nallow: ['::2']\ncontrol: {mode: 0600}\n"
				   "zones: [{name: a.}]\nverbosity: 1\n", NULL, &b, err,
				   sizeof(err)), OPTS_RUN);
	opts_diff(LO, &a, &b, diff, sizeof(diff));
	assert_string_equal(diff, "port, allow, control.mode, verbosity, zones");
	opts_free(&a);
	opts_free(&b);
}

static int cleanup(void **state)
{
	(void)state;
	unlink(conf_path);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_config_missing),
		cmocka_unit_test(test_config_default_absent),
		cmocka_unit_test(test_config_values),
		cmocka_unit_test(test_config_rpz),
		cmocka_unit_test(test_config_round_trip),
		cmocka_unit_test(test_config_transfer_limits),
		cmocka_unit_test(test_config_diff),
	};
	int fd = mkstemp(conf_path);

	if (fd < 0)
		return 1;
	close(fd);
	return cmocka_run_group_tests(tests, NULL, cleanup);
}
