/*
 * control.c - the control socket, the statistics sums and the metrics
 * endpoint (control.h).
 */
#include "tierdns/control.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "tierdns/cache.h"
#include "tierdns/clock.h"
#include "tierdns/daemon.h"
#include "tierdns/journal.h"
#include "tierdns/log.h"
#include "tierdns/name.h"
#include "tierdns/zonedb.h"
#include "tierdns/zoneload.h"
#include "tierdns/zonesign.h"

#define IO_TIMEOUT_S 5
#define MAX_ARGS 8
#define HTTP_HEAD_MAX 4096
#define METRICS_CONN_MAX 16 /* metrics clients served at once */
#define METRICS_PER_ADDR 4  /* of them from one address */
#define METRICS_PAUSE_MS 100 /* no accepts after one failed for want of resources */

struct tdns_control;

/* A listening socket and the thread that serves it (main). The control
 * socket and the metrics listener have one each, so that a client of the
 * metrics port (a network peer) cannot hold up the control socket. */
struct served {
	struct tdns_control *c;
	int fd;                  /* -1: none */
	void *(*main)(void *served);
	pthread_t thread;
	bool started;
};

struct tdns_control {
	struct tdns_control_ops ops;
	int fd;                  /* the control socket, -1: none */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int metrics_fd;          /* -1: none */
	int wake[2];             /* control_free wakes the threads */
	struct served served[2]; /* the control socket's, the metrics' */
	uint64_t started_at;     /* epoch seconds */
	struct tdns_stats_sum base; /* "stats --reset"; the control socket's thread only */
};

/* ---- statistics ---- */

static size_t zone_count(struct tdns_txn *t)
{
	return store_count(t, TDNS_DB_ZONES);
}

void control_stats(struct tdns_control *c, struct tdns_stats_sum *sum)
{
	const struct tdns_control_ops *ops = &c->ops;
	struct tdns_txn *t = NULL;
	struct infra_state is;
	unsigned i;

	memset(sum, 0, sizeof(*sum));
	sum->uptime_s = clock_now() - c->started_at;
	sum->workers = ops->workers;
	if (ops->stats != NULL)
		ops->stats(ops->ctx, sum);
	if (store_begin(ops->store, false, &t) == TDNS_OK) {
		sum->zones = zone_count(t);
		if (ops->prog == TDNS_PROG_LOCAL) {
			sum->cache_entries = cache_count(t);
			sum->cache_bytes = cache_bytes(t);
		}
		store_abort(t);
	}
	sum->cache_evictions = cache_evictions();
	sum->n_upstream = ops->n_upstream < STATS_MAX_UPSTREAM ? ops->n_upstream
							       : STATS_MAX_UPSTREAM;
	for (i = 0; i < sum->n_upstream; i++) {
		netio_addr_str(&ops->upstream[i], sum->up[i].addr, sizeof(sum->up[i].addr));
		if (ops->infra != NULL) {
			infra_get(ops->infra, i, &is);
			sum->up[i].srtt_ms = is.srtt_ms;
			sum->up[i].fails = is.fails;
			sum->up[i].dead = infra_peek(ops->infra, i, clock_mono_ms()) ==
					  INFRA_SKIP || is.fails >= INFRA_DEAD_AFTER;
		}
	}
}

void control_log_stats(void *arg)
{
	struct tdns_control *c = arg;
	struct tdns_stats_sum sum;

	control_stats(c, &sum);
	stats_log("stats", &sum, c->ops.prog == TDNS_PROG_LOCAL);
}

/* ---- commands ---- */

struct req {
	struct tdns_control *c;
	FILE *out;
	int argc;
	char *argv[MAX_ARGS];
	char err[256];    /* set: the status line is "error: err" */
};

__attribute__((format(printf, 2, 3)))
static void fail(struct req *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
}

static bool is_local(const struct req *r)
{
	return r->c->ops.prog == TDNS_PROG_LOCAL;
}

static void cmd_status(struct req *r)
{
	const struct tdns_control_ops *ops = &r->c->ops;
	struct tdns_txn *t = NULL;
	enum tdns_status st;

	fprintf(r->out, "version: %s\n", TDNS_VERSION);
	fprintf(r->out, "tier: %s\n", is_local(r) ? "local" : "upper");
	fprintf(r->out, "pid: %ld\n", (long)getpid());
	fprintf(r->out, "uptime: %llu s\n",
		(unsigned long long)(clock_now() - r->c->started_at));
	fprintf(r->out, "workers: %u\n", ops->workers);
	fprintf(r->out, "store: %s\n", ops->db_dir);
	st = store_begin(ops->store, false, &t);
	if (st != TDNS_OK) {
		fail(r, "store %s: %s", ops->db_dir, tdns_strerror(st));
		return;
	}
	fprintf(r->out, "zones: %zu\n", zone_count(t));
	if (is_local(r))
		fprintf(r->out, "cache entries: %zu\n", cache_count(t));
	store_abort(t);
	fprintf(r->out, "log level: %s\n",
		(const char *[]){ "err", "warn", "info", "debug" }[log_get_level()]);
}

static void cmd_stats(struct req *r)
{
	struct tdns_stats_sum sum, now;
	bool reset = false;

	if (r->argc == 2 && strcmp(r->argv[1], "--reset") == 0)
		reset = true;
	else if (r->argc != 1) {
		fail(r, "usage: stats [--reset]");
		return;
	}
	control_stats(r->c, &sum);
	now = sum;
	stats_sum_sub(&sum, &r->c->base);
	stats_print(r->out, &sum, is_local(r));
	if (reset)
		r->c->base = now;
}

static void cmd_reload(struct req *r)
{
	daemon_reload(r->c->ops.reload, r->c->ops.ctx, "tierdns-control reload");
}

static void cmd_stop(struct req *r)
{
	(void)r;
	log_info("tierdns-control stop");
	/* The main thread's sigwait takes it: the same stop as SIGTERM. */
	kill(getpid(), SIGTERM);
}

static void cmd_log_level(struct req *r)
{
	static const struct {
		const char *name;
		enum tdns_log_level level;
	} levels[] = {
		{ "err", TDNS_LOG_ERR },     { "error", TDNS_LOG_ERR },
		{ "warn", TDNS_LOG_WARN },   { "warning", TDNS_LOG_WARN },
		{ "info", TDNS_LOG_INFO },   { "debug", TDNS_LOG_DEBUG },
	};

	if (r->argc != 2) {
		fail(r, "usage: log-level err|warn|info|debug");
		return;
	}
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		if (strcasecmp(r->argv[1], levels[i].name) == 0) {
			log_set_level(levels[i].level);
			log_info("log level set to %s (tierdns-control)", levels[i].name);
			return;
		}
	}
	fail(r, "unknown log level '%s' (err, warn, info, debug)", r->argv[1]);
}

/* The name argument as a name key; false (and the error set) if invalid. */
static bool name_arg(struct req *r, const char *text, uint8_t *key, size_t *klen)
{
	if (zoneload_name_key(text, key, klen) != TDNS_OK) {
		fail(r, "'%s' is not a valid domain name", text);
		return false;
	}
	return true;
}

static int zone_list_one(void *ctx, const uint8_t *apex, size_t apex_len,
			 const struct tdns_zone_meta *m)
{
	zonedb_print_zone(ctx, apex, apex_len, m);
	return 0;
}

static void cmd_zone(struct req *r)
{
	struct tdns_store *s = r->c->ops.store;
	uint8_t key[NAME_KEY_MAX];
	struct tdns_zone_meta m;
	struct tdns_txn *t = NULL;
	struct journal_cut *cut = NULL;
	const uint8_t *parent;
	char pname[4 * NAME_WIRE_MAX];
	size_t klen, plen;
	uint32_t serial = 0;
	enum tdns_status st;
	const char *sub = r->argc > 1 ? r->argv[1] : "";
	bool list = strcmp(sub, "list") == 0, followed = false;

	if (list ? r->argc != 2
		 : (r->argc != 3 || (strcmp(sub, "status") != 0 &&
				     strcmp(sub, "remove") != 0 &&
				     strcmp(sub, "reload") != 0))) {
		fail(r, "usage: zone list | zone status NAME | zone reload NAME | "
		     "zone remove NAME");
		return;
	}
	if (!list && !name_arg(r, r->argv[2], key, &klen))
		return;
	if (strcmp(sub, "reload") == 0) {
		/* A secondary zone is fetched again; any other is read live
		 * from the store: a new version comes with tierdns-zone load. */
		if (r->c->ops.zone_reload != NULL &&
		    r->c->ops.zone_reload(r->c->ops.ctx, key, klen)) {
			fprintf(r->out, "zone %s: SOA check with its primaries started\n",
				r->argv[2]);
			log_info("zone %s: refresh from its primaries (tierdns-control)",
				 r->argv[2]);
		} else {
			fail(r, "zone %s is no secondary zone: it is read live from the "
			     "store (load a new version with tierdns-zone load)", r->argv[2]);
		}
		return;
	}
	st = store_begin(s, strcmp(sub, "remove") == 0, &t);
	if (st != TDNS_OK)
		goto out;
	if (list) {
		zonedb_print_zone(r->out, NULL, 0, NULL);
		st = zonedb_list(t, zone_list_one, r->out, NULL);
		goto out;
	}
	st = zonedb_get_meta(t, key, klen, &m);
	/* A secondary zone not transferred yet has a status all the same. */
	if (st == TDNS_ENOTFOUND && strcmp(sub, "status") == 0 &&
	    r->c->ops.zone_status != NULL &&
	    r->c->ops.zone_status(r->c->ops.ctx, key, klen, r->out)) {
		st = TDNS_OK;
		goto out;
	}
	if (st == TDNS_ENOTFOUND) {
		fail(r, "no zone %s in the store", r->argv[2]);
		goto out;
	}
	if (st != TDNS_OK)
		goto out;
	if (strcmp(sub, "status") == 0) {
		zonedb_print_zone(r->out, NULL, 0, NULL);
		zonedb_print_zone(r->out, key, klen, &m);
		if (r->c->ops.zone_status != NULL)
			r->c->ops.zone_status(r->c->ops.ctx, key, klen, r->out);
		goto out;
	}
	st = zonesign_remove_zone(t, key, klen, &cut, &followed, &serial, r->err,
				  sizeof(r->err));
	if (st == TDNS_OK) {
		st = store_commit(t);
		t = NULL;
	}
	if (st == TDNS_OK)
		log_info("zone %s removed (tierdns-control)", r->argv[2]);
	if (st == TDNS_OK && followed) {
		parent = journal_cut_parent(cut, &plen);
		zoneload_key_str(parent, plen, pname, sizeof(pname));
		log_info("zone %s: serial %u (its delegation of %s removed)", pname,
			 (unsigned)serial, r->argv[2]);
	}
out:
	if (st != TDNS_OK && r->err[0] == '\0')
		fail(r, "store %s: %s", r->c->ops.db_dir, tdns_strerror(st));
	journal_cut_free(cut);
	store_abort(t);
}

/* A flush, in steps of CACHE_FLUSH_STEP entries each in its own write
 * transaction, so that the workers' cache writes never wait for a walk
 * of the whole cache. The workers are told before the command answers,
 * so the next query after "ok" cannot be answered from a failure they
 * remembered. A failing step keeps what the steps before it removed, and
 * the error says how many. */
static void flush(struct req *r, enum cache_flush_what what, const uint8_t *key,
		  size_t klen, uint16_t type)
{
	struct cache_flush_walk w = { .len = 0 };
	struct tdns_txn *t = NULL;
	size_t n = 0, step_n;
	enum tdns_status st = TDNS_OK;

	while (st == TDNS_OK && !w.done) {
		st = store_begin(r->c->ops.store, true, &t);
		if (st == TDNS_OK)
			st = cache_flush_step(t, what, key, klen, type, CACHE_FLUSH_STEP,
					      &w, &step_n);
		if (st == TDNS_OK) {
			st = store_commit(t);
			t = NULL;
		}
		store_abort(t);
		t = NULL;
		if (st == TDNS_OK)
			n += step_n;
	}
	/* Also after a failing step: the steps before it may have removed
	 * entries, and forgetting failures is always safe. */
	if (r->c->ops.flushed != NULL)
		r->c->ops.flushed(r->c->ops.ctx);
	if (st != TDNS_OK) {
		fail(r, "cache flush: %s (%zu entr%s removed before it)",
		     tdns_strerror(st), n, n == 1 ? "y" : "ies");
		return;
	}
	fprintf(r->out, "removed %zu cache entr%s\n", n, n == 1 ? "y" : "ies");
	log_info("cache flush: %zu entr%s removed (tierdns-control)", n,
		 n == 1 ? "y" : "ies");
}

static void cmd_cache(struct req *r)
{
	uint8_t key[NAME_KEY_MAX];
	const char *sub = r->argc > 1 ? r->argv[1] : "";
	struct tdns_txn *t = NULL;
	size_t klen = 0;
	int type = 0;
	enum tdns_status st;

	if (!is_local(r)) {
		fail(r, "tierdns-upper has no cache (the cache commands are for "
			"tierdns-local)");
		return;
	}
	if (strcmp(sub, "flush") == 0 && (r->argc == 3 || r->argc == 4)) {
		if (!name_arg(r, r->argv[2], key, &klen))
			return;
		if (r->argc == 4) {
			type = (int)ldns_get_rr_type_by_name(r->argv[3]);
			if (type <= 0) {
				fail(r, "'%s' is not an RR type", r->argv[3]);
				return;
			}
		}
		flush(r, CACHE_FLUSH_NAME, key, klen, (uint16_t)type);
	} else if (strcmp(sub, "flush-zone") == 0 && r->argc == 3) {
		if (name_arg(r, r->argv[2], key, &klen))
			flush(r, CACHE_FLUSH_TREE, key, klen, 0);
	} else if (strcmp(sub, "flush-negative") == 0 && r->argc == 2) {
		flush(r, CACHE_FLUSH_NEGATIVE, NULL, 0, 0);
	} else if (strcmp(sub, "flush-all") == 0 && r->argc == 2) {
		flush(r, CACHE_FLUSH_ALL, NULL, 0, 0);
	} else if (strcmp(sub, "dump") == 0 && r->argc == 2) {
		st = store_begin(r->c->ops.store, false, &t);
		if (st == TDNS_OK)
			st = cache_dump(t, clock_now(), r->out);
		store_abort(t);
		if (st != TDNS_OK)
			fail(r, "cache dump: %s", tdns_strerror(st));
	} else {
		fail(r, "usage: cache flush NAME [TYPE] | cache flush-zone NAME | "
			"cache flush-negative | cache flush-all | cache dump");
	}
}

static void cmd_help(struct req *r);

static const struct command {
	const char *name;
	void (*fn)(struct req *r);
	const char *help;
} commands[] = {
	{ "status", cmd_status, "status                   version, uptime, workers, store, zones" },
	{ "stats", cmd_stats, "stats [--reset]          counters summed over the workers" },
	{ "reload", cmd_reload, "reload                   what SIGHUP does" },
	{ "zone", cmd_zone, "zone list | status NAME | reload NAME | remove NAME" },
	{ "cache", cmd_cache, "cache flush NAME [TYPE] | flush-zone NAME | flush-negative | "
			      "flush-all | dump   (tierdns-local)" },
	{ "log-level", cmd_log_level, "log-level err|warn|info|debug" },
	{ "stop", cmd_stop, "stop                     stop the daemon (as SIGTERM)" },
	{ "help", cmd_help, "help                     this list" },
};

static void cmd_help(struct req *r)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(r->out, "%s\n", commands[i].help);
}

/* Split line into words (spaces and tabs); false when there are too many. */
static bool split(char *line, struct req *r)
{
	char *save = NULL, *w;

	r->argc = 0;
	for (w = strtok_r(line, " \t", &save); w != NULL; w = strtok_r(NULL, " \t", &save)) {
		if (r->argc == MAX_ARGS)
			return false;
		r->argv[r->argc++] = w;
	}
	return true;
}

static void run_command(struct tdns_control *c, char *line, FILE *out)
{
	struct req r = { .c = c, .out = out };
	size_t plen = strlen(CONTROL_PROTO);

	if (strncmp(line, CONTROL_PROTO, plen) != 0 || (line[plen] != ' ' && line[plen] != '\0')) {
		fail(&r, "not a tierdns-control request (protocol %s expected)",
		     CONTROL_PROTO);
	} else if (!split(line + plen, &r)) {
		fail(&r, "too many arguments");
	} else if (r.argc == 0) {
		fail(&r, "no command (try help)");
	} else {
		size_t i;

		for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
			if (strcmp(r.argv[0], commands[i].name) == 0) {
				commands[i].fn(&r);
				break;
			}
		}
		if (i == sizeof(commands) / sizeof(commands[0]))
			fail(&r, "unknown command '%s' (try help)", r.argv[0]);
	}
	if (r.err[0] != '\0')
		fprintf(out, "error: %s\n", r.err);
	else
		fprintf(out, "ok\n");
}

/* ---- connections ---- */

/* Sends that make no progress for IO_TIMEOUT_S fail. */
static void set_send_timeout(int fd)
{
	struct timeval tv = { .tv_sec = IO_TIMEOUT_S };

	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* Read a connection's request until end (a terminator string) is seen;
 * returns the length read (NUL-terminated), or -1 when cap - 1 bytes, an
 * error, the end of input or IO_TIMEOUT_S from the call came first. One
 * deadline for the whole request: a client that sends a byte at a time
 * gets no longer than one that sends nothing. */
static ssize_t read_until(int fd, char *buf, size_t cap, const char *end)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t now, deadline = clock_mono_ms() + (uint64_t)IO_TIMEOUT_S * 1000;
	size_t used = 0;
	ssize_t n;
	int r;

	buf[0] = '\0';
	while (used + 1 < cap && (now = clock_mono_ms()) < deadline) {
		r = poll(&p, 1, (int)(deadline - now));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n = read(fd, buf + used, cap - 1 - used);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;
		used += (size_t)n;
		buf[used] = '\0';
		if (strstr(buf, end) != NULL)
			return (ssize_t)used;
	}
	return -1;
}

static void serve_control(struct tdns_control *c, int fd)
{
	char line[CONTROL_LINE_MAX + 1], *nl;
	FILE *out;

	set_send_timeout(fd);
	out = fdopen(fd, "w");
	if (out == NULL) {
		close(fd);
		return;
	}
	if (read_until(fd, line, sizeof(line), "\n") < 0) {
		fprintf(out, "error: no request line (at most %d bytes, ending in a "
			"newline) within %d s\n", CONTROL_LINE_MAX, IO_TIMEOUT_S);
	} else {
		nl = strchr(line, '\n');
		*nl = '\0';
		if (nl > line && nl[-1] == '\r')
			nl[-1] = '\0';
		run_command(c, line, out);
	}
	fclose(out);
}

static void http_reply(FILE *out, const char *status, const char *type,
		       const char *body, size_t len)
{
	fprintf(out, "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		     "Connection: close\r\n\r\n", status, type, len);
	fwrite(body, 1, len, out);
}

/* The reply to a metrics request whose head is head (NUL-terminated;
 * complete: its blank line came) into out. */
static void metrics_answer(struct tdns_control *c, const char *head, bool complete, FILE *out)
{
	char *body = NULL;
	size_t len = 0;
	struct tdns_stats_sum sum;
	FILE *mem;

	if (!complete) {
		http_reply(out, "400 Bad Request", "text/plain", "bad request\n", 12);
	} else if (strncmp(head, "GET ", 4) != 0) {
		http_reply(out, "405 Method Not Allowed", "text/plain",
			   "only GET\n", 9);
	} else if (strncmp(head + 4, "/metrics ", 9) != 0 &&
		   strncmp(head + 4, "/metrics?", 9) != 0) {
		http_reply(out, "404 Not Found", "text/plain", "try /metrics\n", 13);
	} else {
		mem = open_memstream(&body, &len);
		if (mem != NULL) {
			control_stats(c, &sum);
			stats_print_prometheus(mem, &sum, c->ops.prog == TDNS_PROG_LOCAL);
			fclose(mem);
		}
		if (body != NULL)
			http_reply(out, "200 OK", "text/plain; version=0.0.4; charset=utf-8",
				   body, len);
		else
			http_reply(out, "500 Internal Server Error", "text/plain",
				   "out of memory\n", 14);
	}
	free(body);
}

/* The control socket's thread: one connection at a time (serve_control). */
static void *control_main(void *arg)
{
	struct served *sv = arg;
	struct pollfd p[2];
	int fd;

	p[0].fd = sv->c->wake[0];
	p[1].fd = sv->fd;
	p[0].events = p[1].events = POLLIN;
	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_err("control: poll: %s", strerror(errno));
			break;
		}
		if (p[0].revents != 0)
			break; /* control_free: the pipe stays readable for every thread */
		if ((p[1].revents & POLLIN) == 0)
			continue;
		fd = accept4(sv->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0)
			serve_control(sv->c, fd);
	}
	return NULL;
}

/* A metrics client: its request head being read, then its reply being
 * written, all within IO_TIMEOUT_S of its connection. */
struct mconn {
	int fd;             /* -1: a free slot */
	struct tdns_addr peer;
	uint64_t deadline;  /* clock_mono_ms */
	size_t used;        /* head bytes read */
	char *out;          /* the reply (malloc'd); NULL while reading */
	size_t out_len, out_off;
	char head[HTTP_HEAD_MAX];
};

static void mconn_close(struct mconn *m)
{
	close(m->fd);
	free(m->out);
	m->fd = -1;
	m->out = NULL;
}

/* The head is read (complete or not): the reply goes out from now on. */
static void mconn_reply(struct tdns_control *c, struct mconn *m, bool complete)
{
	FILE *out = open_memstream(&m->out, &m->out_len);

	if (out == NULL) {
		mconn_close(m);
		return;
	}
	metrics_answer(c, m->head, complete, out);
	if (fclose(out) != 0 || m->out == NULL) {
		mconn_close(m);
		return;
	}
	m->out_off = 0;
}

/* m's socket is ready: read more of the head, or write more of the reply.
 * The connection is closed when its reply is out or it fails. */
static void mconn_io(struct tdns_control *c, struct mconn *m)
{
	ssize_t n;

	if (m->out == NULL) {
		n = recv(m->fd, m->head + m->used, sizeof(m->head) - 1 - m->used, 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			return;
		if (n > 0) {
			m->used += (size_t)n;
			m->head[m->used] = '\0';
			if (strstr(m->head, "\r\n\r\n") != NULL || strstr(m->head, "\n\n") != NULL)
				mconn_reply(c, m, true);
			else if (m->used + 1 == sizeof(m->head))
				mconn_reply(c, m, false);
			return;
		}
		mconn_reply(c, m, false); /* the end of its input, or an error */
		if (m->fd < 0)
			return;
	}
	n = send(m->fd, m->out + m->out_off, m->out_len - m->out_off, MSG_NOSIGNAL);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n > 0)
		m->out_off += (size_t)n;
	if (n <= 0 || m->out_off == m->out_len)
		mconn_close(m);
}

/* m's time is up: a client still sending its request is answered 400,
 * as far as its socket takes at once; then it is closed. */
static void mconn_expire(struct tdns_control *c, struct mconn *m)
{
	if (m->out == NULL) {
		mconn_reply(c, m, false);
		if (m->fd >= 0)
			(void)send(m->fd, m->out, m->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
	}
	if (m->fd >= 0)
		mconn_close(m);
}

/* A new metrics client into a slot: a free one, unless its address holds
 * METRICS_PER_ADDR already; then the one of its own address connected
 * longest, so that one address cannot take every slot; with none free,
 * the one connected longest of all (a scraper's request and reply take
 * milliseconds: whoever has held a slot longest is the one to go). false
 * when accept failed for want of descriptors or memory (the caller pauses
 * accepting: the listener would stay readable). */
static bool mconn_accept(struct served *sv, struct mconn *m)
{
	struct tdns_addr peer = { .len = sizeof(peer.ss) };
	size_t i, own = 0, free_slot = METRICS_CONN_MAX, oldest = 0, own_oldest = 0;
	int fd = accept4(sv->fd, (struct sockaddr *)&peer.ss, &peer.len,
			 SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0)
		return errno != EMFILE && errno != ENFILE && errno != ENOBUFS && errno != ENOMEM;
	for (i = 0; i < METRICS_CONN_MAX; i++) {
		if (m[i].fd < 0) {
			if (free_slot == METRICS_CONN_MAX)
				free_slot = i;
			continue;
		}
		if (m[oldest].fd < 0 || m[i].deadline < m[oldest].deadline)
			oldest = i;
		if (netio_addr_same_host(&m[i].peer, &peer) &&
		    (own++ == 0 || m[i].deadline < m[own_oldest].deadline))
			own_oldest = i;
	}
	i = own >= METRICS_PER_ADDR ? own_oldest
	    : free_slot < METRICS_CONN_MAX ? free_slot : oldest;
	if (m[i].fd >= 0)
		mconn_close(&m[i]);
	m[i].fd = fd;
	m[i].peer = peer;
	m[i].deadline = clock_mono_ms() + (uint64_t)IO_TIMEOUT_S * 1000;
	m[i].used = 0;
	m[i].head[0] = '\0';
	return true;
}

/* The metrics listener's thread: up to METRICS_CONN_MAX clients at once,
 * each read and written without blocking, so that a slow one (a request
 * trickling in, a reply read slowly) delays no other. A client's request
 * must come, and its reply go, within IO_TIMEOUT_S of its connection;
 * one still reading then is answered 400 (as far as its socket takes it
 * at once), and closed. */
static void *metrics_main(void *arg)
{
	struct served *sv = arg;
	struct pollfd p[2 + METRICS_CONN_MAX];
	struct mconn *m = calloc(METRICS_CONN_MAX, sizeof(*m));
	uint64_t now, next, paused_until = 0;
	size_t i;

	if (m == NULL) {
		log_err("metrics: out of memory; the listener is not served");
		return NULL;
	}
	for (i = 0; i < METRICS_CONN_MAX; i++)
		m[i].fd = -1;
	p[0] = (struct pollfd){ .fd = sv->c->wake[0], .events = POLLIN };
	p[1] = (struct pollfd){ .fd = sv->fd, .events = POLLIN };
	for (;;) {
		now = clock_mono_ms();
		next = UINT64_MAX;
		p[1].fd = now < paused_until ? -1 : sv->fd;
		if (now < paused_until)
			next = paused_until;
		for (i = 0; i < METRICS_CONN_MAX; i++) {
			if (m[i].fd >= 0 && m[i].deadline <= now)
				mconn_expire(sv->c, &m[i]);
			p[2 + i].fd = m[i].fd;
			p[2 + i].events = m[i].out == NULL ? POLLIN : POLLOUT;
			p[2 + i].revents = 0;
			if (m[i].fd >= 0 && m[i].deadline < next)
				next = m[i].deadline;
		}
		if (poll(p, 2 + METRICS_CONN_MAX,
			 next == UINT64_MAX ? -1 : (int)(next - now)) < 0) {
			if (errno == EINTR)
				continue;
			log_err("metrics: poll: %s", strerror(errno));
			break;
		}
		if (p[0].revents != 0)
			break; /* control_free: the pipe stays readable for every thread */
		for (i = 0; i < METRICS_CONN_MAX; i++)
			if (m[i].fd >= 0 && p[2 + i].revents != 0)
				mconn_io(sv->c, &m[i]);
		if (p[1].fd >= 0 && (p[1].revents & POLLIN) && !mconn_accept(sv, m)) {
			log_warn("metrics: accept: %s; pausing accepts for %d ms", strerror(errno),
				 METRICS_PAUSE_MS);
			paused_until = clock_mono_ms() + METRICS_PAUSE_MS;
		}
	}
	for (i = 0; i < METRICS_CONN_MAX; i++)
		if (m[i].fd >= 0)
			mconn_close(&m[i]);
	free(m);
	return NULL;
}

/* ---- set-up ---- */

/* Is a daemon answering on path? Stale sockets (a crashed daemon) are not. */
static bool socket_live(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	bool live;
	int fd;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	live = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return live;
}

/* Bind the control socket at c->path. Errors are logged (as warnings when
 * soft: the default path); returns false on failure. */
static bool bind_control(struct tdns_control *c, const struct tdns_opts *o,
			 bool soft)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	enum tdns_log_level lv = soft ? TDNS_LOG_WARN : TDNS_LOG_ERR;
	const char *what = soft ? "; running without a control socket" : "";
	char dir[sizeof(c->path)], *slash;
	struct passwd *pw;
	struct group *gr;
	struct stat sb;
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	mode_t old;
	int fd = -1;

	snprintf(dir, sizeof(dir), "%s", c->path);
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash != NULL)
		*slash = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode) || access(dir, W_OK | X_OK) != 0) {
		log_msg(lv, "control socket %s: directory %s %s%s", c->path, dir,
			stat(dir, &sb) != 0 ? "does not exist" : "is not writable", what);
		return false;
	}
	if (lstat(c->path, &sb) == 0) {
		if (!S_ISSOCK(sb.st_mode)) {
			log_msg(lv, "control socket %s: a file that is not a socket is "
				"in the way%s", c->path, what);
			return false;
		}
		if (socket_live(c->path)) {
			log_msg(lv, "control socket %s: another daemon answers on it%s",
				c->path, what);
			return false;
		}
		unlink(c->path); /* left by a daemon that did not exit cleanly */
	}
	if (o->control_group != NULL) {
		gr = getgrnam(o->control_group);
		if (gr == NULL) {
			log_err("control socket %s: no group %s", c->path, o->control_group);
			return false;
		}
		gid = gr->gr_gid;
	}
	if (o->user != NULL && geteuid() == 0) {
		pw = getpwnam(o->user);
		if (pw != NULL) {
			uid = pw->pw_uid;
			if (o->control_group == NULL)
				gid = pw->pw_gid;
		}
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", c->path);
	/* No moment with looser permissions than the mode asked for: the
	 * umask applies at bind (no worker thread exists yet). */
	old = umask((mode_t)(~o->control_mode & 0777));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		umask(old);
		goto fail;
	}
	umask(old);
	if (chmod(c->path, (mode_t)o->control_mode) != 0 ||
	    ((uid != (uid_t)-1 || gid != (gid_t)-1) && chown(c->path, uid, gid) != 0) ||
	    listen(fd, 16) != 0) {
		unlink(c->path);
		goto fail;
	}
	c->fd = fd;
	log_info("control socket %s (mode %04o%s%s)", c->path, o->control_mode,
		 o->control_group != NULL ? ", group " : "",
		 o->control_group != NULL ? o->control_group : "");
	return true;
fail:
	log_msg(lv, "control socket %s: %s%s", c->path, strerror(errno), what);
	if (fd >= 0)
		close(fd);
	return false;
}

static bool bind_metrics(struct tdns_control *c, const char *text)
{
	struct tdns_addr a;
	char as[64];
	int fd = -1, one = 1;

	if (netio_addr_parse(text, 0, &a) != TDNS_OK ||
	    ((struct sockaddr_in *)&a.ss)->sin_port == 0) {
		log_err("--metrics %s: ADDR:PORT expected (127.0.0.1:9153, [::1]:9153)",
			text);
		return false;
	}
	fd = socket(a.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&a.ss, a.len) != 0 || listen(fd, 16) != 0) {
		log_err("--metrics %s: %s", netio_addr_str(&a, as, sizeof(as)),
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return false;
	}
	c->metrics_fd = fd;
	log_info("metrics on http://%s/metrics", netio_addr_str(&a, as, sizeof(as)));
	return true;
}

enum tdns_status control_open(const struct tdns_opts *o,
			      const struct tdns_control_ops *ops,
			      struct tdns_control **out)
{
	struct tdns_control *c;
	const char *path = o->control_path;
	bool soft = o->control_default;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return TDNS_ENOMEM;
	c->ops = *ops;
	c->fd = c->metrics_fd = c->wake[0] = c->wake[1] = -1;
	c->started_at = clock_now();
	if (path != NULL && strcmp(path, "none") != 0) {
		if (strlen(path) >= sizeof(c->path)) {
			log_msg(soft ? TDNS_LOG_WARN : TDNS_LOG_ERR,
				"control socket %s: path longer than %zu bytes", path,
				sizeof(c->path) - 1);
			if (!soft)
				goto fail;
		} else {
			snprintf(c->path, sizeof(c->path), "%s", path);
			if (!bind_control(c, o, soft) && !soft)
				goto fail;
		}
	}
	if (o->metrics_listen != NULL && !bind_metrics(c, o->metrics_listen))
		goto fail;
	*out = c;
	return TDNS_OK;
fail:
	control_free(c);
	return TDNS_EINVAL;
}

enum tdns_status control_start(struct tdns_control *c)
{
	int err;

	if (c->fd < 0 && c->metrics_fd < 0)
		return TDNS_OK;
	if (pipe2(c->wake, O_CLOEXEC) != 0) {
		log_err("control: %s", strerror(errno));
		return TDNS_EIO;
	}
	c->served[0] = (struct served){ .c = c, .fd = c->fd, .main = control_main };
	c->served[1] = (struct served){ .c = c, .fd = c->metrics_fd, .main = metrics_main };
	for (int i = 0; i < 2; i++) {
		if (c->served[i].fd < 0)
			continue;
		err = pthread_create(&c->served[i].thread, NULL, c->served[i].main,
				     &c->served[i]);
		if (err != 0) {
			log_err("control: cannot start a thread: %s", strerror(err));
			return TDNS_EIO;
		}
		c->served[i].started = true;
	}
	return TDNS_OK;
}

void control_free(struct tdns_control *c)
{
	if (c == NULL)
		return;
	if (c->served[0].started || c->served[1].started) {
		if (write(c->wake[1], "x", 1) != 1)
			log_warn("control: cannot wake its threads: %s", strerror(errno));
		for (int i = 0; i < 2; i++)
			if (c->served[i].started)
				pthread_join(c->served[i].thread, NULL);
	}
	if (c->fd >= 0) {
		close(c->fd);
		if (unlink(c->path) != 0)
			log_debug("control socket %s not removed: %s", c->path,
				  strerror(errno));
	}
	if (c->metrics_fd >= 0)
		close(c->metrics_fd);
	for (int i = 0; i < 2; i++)
		if (c->wake[i] >= 0)
			close(c->wake[i]);
	free(c);
}
