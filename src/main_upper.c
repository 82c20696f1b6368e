/*
 * main_upper.c - tierdns-upper, the authoritative tier.
 *
 * N worker threads, each with its own event loop and its own SO_REUSEPORT
 * sockets on every --listen address, answer from the LMDB store through
 * auth_answer(). Each batch of UDP queries (and each TCP query) runs in a
 * fresh read snapshot, so zones that tierdns-zone commits while the server
 * runs are served at once. Each worker keeps its own copy of the zone list
 * (zonedb_cache), re-read when the snapshot's transaction id changes.
 *
 * Threads, signals and shutdown: daemon.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <stdbool.h>
#include <ldns/ldns.h>

#include "tierdns/auth.h"
#include "tierdns/clock.h"
#include "tierdns/control.h"
#include "tierdns/daemon.h"
#include "tierdns/dnstap.h"
#include "tierdns/log.h"
#include "tierdns/name.h"
#include "tierdns/netio.h"
#include "tierdns/opts.h"
#include "tierdns/pipeline.h"
#include "tierdns/store.h"
#include "tierdns/tls.h"
#include "tierdns/zonedb.h"
#include "tierdns/zonesign.h"

struct worker {
	unsigned id;
	struct tdns_loop *loop;
	struct tdns_store *store;
	/* The options: read by every worker; a reload
	 * (daemon_reload) changes only the log fields, which no worker reads. */
	struct tdns_opts *o;
	const char *db_dir;
	const struct tdns_auth_cfg *auth;
	struct tdns_txn *txn; /* this thread's read transaction, reset when idle */
	struct zonedb_cache *zc; /* this thread's copy of the zone list */
	unsigned n_workers;
	bool in_batch;        /* inside a UDP batch: txn holds its snapshot */
	enum tdns_status snap; /* how taking the batch's snapshot went */
	struct rrl_counters rrl; /* this worker's rate-limited responses */
	struct tdns_dnstap *tap;        /* NULL: no dnstap */
	struct tdns_dnstap_queue *tapq; /* this worker's queue to it */
	struct tdns_stats stats; /* written by this worker only (stats.h) */
	struct tdns_tls *tls; /* the DoT certificate, shared; NULL: none */
};

/* A fresh read snapshot, so that zones tierdns-zone commits while we run
 * are served at once: taken per UDP batch (netio on_batch), or per query
 * for queries outside a batch (TCP). */
static void upper_batch(void *ctx, bool begin)
{
	struct worker *w = ctx;

	stats_batch(&w->stats, begin);
	if (begin) {
		w->snap = store_renew(w->txn);
		w->in_batch = true;
		return;
	}
	if (w->snap == TDNS_OK)
		store_reset(w->txn);
	w->in_batch = false;
}

static enum netio_verdict upper_query(void *ctx, struct tdns_request *req,
				      const uint8_t *in, size_t in_len, uint8_t *out,
				      size_t *out_len)
{
	struct worker *w = ctx;
	struct auth_client cl = { netio_request_peer(req), netio_request_is_tcp(req),
				  &w->rrl, netio_request_keepalive(req),
				  netio_request_is_tls(req) };
	enum tdns_status st;
	bool reply;

	if (!w->in_batch)
		stats_batch(&w->stats, true); /* a TCP query is timed alone */
	st = w->in_batch ? w->snap : store_renew(w->txn);
	if (st != TDNS_OK)
		log_err("worker %u: store snapshot: %s", w->id, tdns_strerror(st));
	/* Without a snapshot every query is answered SERVFAIL (auth.h). */
	reply = auth_answer_from(w->zc, st == TDNS_OK ? w->txn : NULL, w->auth,
				 &cl, in, in_len, out, QCTX_MAX_MSG, out_len);
	if (w->tap != NULL) {
		dnstap_log(w->tap, w->tapq, DNSTAP_AUTH_QUERY, dnstap_proto_of(req), cl.peer,
			   in, in_len);
		if (reply)
			dnstap_log(w->tap, w->tapq, DNSTAP_AUTH_RESPONSE, dnstap_proto_of(req),
				   cl.peer, out, *out_len);
	}
	if (!w->in_batch && st == TDNS_OK)
		store_reset(w->txn);
	if (!w->in_batch)
		stats_batch(&w->stats, false);
	return reply ? NETIO_REPLY : NETIO_DROP;
}

static struct tdns_loop *worker_loop(void *ctx, unsigned i)
{
	struct worker *workers = ctx;

	return workers[i].loop;
}

static enum tdns_status worker_run(void *ctx, unsigned i)
{
	struct worker *w = &((struct worker *)ctx)[i];
	enum tdns_status st;

	pipeline_bind_stats(&w->stats);
	/* LMDB read transactions belong to the thread that began them. */
	st = zonedb_cache_new(&w->zc);
	if (st != TDNS_OK)
		goto out;
	st = store_begin(w->store, false, &w->txn);
	if (st != TDNS_OK)
		goto out;
	store_reset(w->txn);
	st = netio_loop_run(w->loop);
	store_abort(w->txn);
	w->txn = NULL;
out:
	zonedb_cache_free(w->zc);
	w->zc = NULL;
	return st;
}

/* At start (and on SIGHUP): how many zones the store holds. With none,
 * every query is REFUSED (RFC 1034 4.3.2: no zone encloses it), which a
 * new operator would not guess from a silent server. */
static void upper_zone_report(struct tdns_store *store, const char *dir)
{
	struct tdns_txn *t = NULL;
	enum tdns_status st;
	size_t n;

	st = store_begin(store, false, &t);
	if (st != TDNS_OK) {
		log_err("store %s: %s", dir, tdns_strerror(st));
		return;
	}
	n = store_count(t, TDNS_DB_ZONES);
	store_abort(t);
	if (n == 0)
		log_warn("store %s holds no zones: every query will be answered "
			 "REFUSED until zones are loaded (tierdns-zone --db %s load "
			 "FILE...)", dir, dir);
	else
		log_info("store %s holds %zu zone%s", dir, n, n == 1 ? "" : "s");
}

struct sig_check {
	struct tdns_txn *t;
	uint64_t now;
	uint64_t warn;   /* seconds: warn when a signature expires sooner */
};

static int sig_check_zone(void *ctx, const uint8_t *apex, size_t apex_len,
			  const struct tdns_zone_meta *meta)
{
	struct sig_check *c = ctx;
	uint8_t wire[NAME_WIRE_MAX];
	ldns_rdf *rdf = NULL;
	char *name = NULL;
	uint64_t exp;
	size_t wlen;
	bool is_signed;

	(void)meta;
	if (zonesign_earliest_expiry(c->t, apex, apex_len, c->now, &is_signed, &exp) !=
		    TDNS_OK ||
	    !is_signed || exp > c->now + c->warn)
		return 0;
	if (name_key_to_wire(apex, apex_len, wire, &wlen) == TDNS_OK &&
	    (rdf = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME, wlen, wire)) != NULL)
		name = ldns_rdf2str(rdf);
	if (exp <= c->now)
		log_err("zone %s: signatures expired %.1f days ago: validators answer "
			"SERVFAIL for it; re-sign it (tierdns-zone sign %s KEY...)",
			name ? name : "?", (double)(c->now - exp) / 86400.0, name ? name : "ZONE");
	else
		log_warn("zone %s: a signature expires in %.1f days; re-sign it before "
			 "(tierdns-zone sign %s KEY...)", name ? name : "?",
			 (double)(exp - c->now) / 86400.0, name ? name : "ZONE");
	free(name);
	ldns_rdf_deep_free(rdf);
	return 0;
}

/* At start and at each reload: a warning for every signed zone whose
 * earliest signature expires within sig_expiry_warn days (an error when
 * one has expired). */
static void upper_sig_check(struct tdns_store *store, unsigned days)
{
	struct sig_check c = { NULL, clock_now(), (uint64_t)days * 86400u };

	if (days == 0 || store_begin(store, false, &c.t) != TDNS_OK)
		return;
	(void)zonedb_list(c.t, sig_check_zone, &c, NULL);
	store_abort(c.t);
}

/* SIGHUP: the configuration file again (opts_reload: what applies while
 * running) and the DoT certificate; the zones are read live, so say what
 * is being served now. */
static void upper_reload(void *ctx)
{
	struct worker *workers = ctx;

	opts_reload(workers[0].o);
	if (workers[0].tls != NULL)
		(void)tls_reload(workers[0].tls);
	upper_zone_report(workers[0].store, workers[0].db_dir);
	upper_sig_check(workers[0].store, workers[0].o->sig_expiry_warn);
}

/* The control thread's sums (control.h): the workers' counters. */
static void upper_stats(void *ctx, struct tdns_stats_sum *sum)
{
	struct worker *workers = ctx;

	for (unsigned i = 0; i < workers[0].n_workers; i++) {
		stats_sum_add(sum, &workers[i].stats);
		sum->tcp_accepted += netio_tcp_accepted(workers[i].loop);
	}
}

int main(int argc, char **argv)
{
	struct tdns_auth_cfg auth = { .version = "tierdns " TDNS_VERSION };
	struct tdns_listen_cfg lcfg;
	struct tdns_store_opts so;
	struct tdns_store *store = NULL;
	struct worker *workers = NULL;
	struct tdns_control_ops cops;
	struct tdns_control *ctl = NULL;
	struct tdns_dnstap *tap = NULL;
	struct tdns_cookie_cfg cookies;
	struct tdns_tls *tls = NULL;
	struct tdns_opts o;
	char hostname[256];
	char as[64];
	enum tdns_status st;
	unsigned i, j;
	int rc = 1;

	switch (opts_parse(TDNS_PROG_UPPER, argc, argv, &o)) {
	case OPTS_RUN:
		break;
	case OPTS_EXIT_OK:
		return 0;
	case OPTS_USAGE:
		return 2;
	}
	log_init("tierdns-upper", log_level_for(o.verbose));
	log_set_target(o.log_target);
	daemon_signals_init();

	if (gethostname(hostname, sizeof(hostname)) == 0) {
		hostname[sizeof(hostname) - 1] = '\0';
		auth.identity = hostname;
	}

	if (o.rrl.rate > 0) {
		st = rrl_new(&o.rrl, &auth.rrl);
		if (st != TDNS_OK) {
			log_err("rate limiting: %s", tdns_strerror(st));
			goto out;
		}
		log_info("rate limiting: %u responses/s per /%u (IPv4) or /%u (IPv6) "
			 "client prefix, class and name; every %u-th truncated, %u buckets",
			 o.rrl.rate, o.rrl.ipv4_prefix, o.rrl.ipv6_prefix, o.rrl.slip,
			 o.rrl.size);
	}

	auth.full_any = o.full_any;
	if (!o.no_cookies) {
		/* The option table checked the secrets' text. */
		memset(&cookies, 0, sizeof(cookies));
		if (o.cookie_secret != NULL)
			cookie_secret_parse(o.cookie_secret, cookies.secret);
		else if (!cookie_secret_random(cookies.secret)) {
			log_err("cookies: no random secret could be had");
			goto out;
		}
		cookies.has_alt = o.cookie_secret_alt != NULL &&
				  cookie_secret_parse(o.cookie_secret_alt, cookies.alt);
		auth.cookies = &cookies;
	}

	memset(&so, 0, sizeof(so));
	so.flags = STORE_TIER_UPPER;
	st = daemon_open(&o, &so, &store);
	if (st != TDNS_OK)
		goto out;
	if (o.n_tls_listen > 0 &&
	    tls_listen_setup(o.tls_listen, o.n_tls_listen, &o, "dot", &tls) != TDNS_OK)
		goto out;

	workers = calloc(o.threads, sizeof(*workers));
	if (workers == NULL) {
		log_err("%s", tdns_strerror(TDNS_ENOMEM));
		goto out;
	}
	for (i = 0; i < o.threads; i++) {
		workers[i].id = i;
		workers[i].n_workers = o.threads;
		workers[i].store = store;
		workers[i].db_dir = o.db_dir;
		workers[i].o = &o;
		workers[i].auth = &auth;
		workers[i].tls = tls;
		workers[i].loop = netio_loop_new();
		if (workers[i].loop == NULL)
			goto out;
		for (j = 0; j < o.n_listen + o.n_tls_listen; j++) {
			memset(&lcfg, 0, sizeof(lcfg));
			lcfg.addr = j < o.n_listen ? o.listen[j] : o.tls_listen[j - o.n_listen];
			lcfg.tls = j < o.n_listen ? NULL : tls;
			lcfg.on_query = upper_query;
			lcfg.on_batch = upper_batch;
			lcfg.max_tcp = o.max_tcp;
			lcfg.max_tcp_per_client = o.max_tcp_per_client;
			lcfg.tcp_idle_ms = o.tcp_idle_ms;
			/* Each worker its own SO_REUSEPORT UDP socket: the
			 * kernel spreads datagrams over them, and no two
			 * readers wake for the same datagram (a queue shared
			 * by all workers is slower; the commit history has
			 * the measurement). */
			lcfg.ctx = &workers[i];
			st = netio_listen(workers[i].loop, &lcfg);
			if (st != TDNS_OK) {
				log_err("cannot listen on %s: %s",
					netio_addr_str(&lcfg.addr, as, sizeof(as)),
					tdns_strerror(st));
				goto out;
			}
		}
	}
	for (j = 0; j < o.n_listen; j++)
		log_info("listening on %s (udp, tcp)",
			 netio_addr_str(&o.listen[j], as, sizeof(as)));
	for (j = 0; j < o.n_tls_listen; j++)
		log_info("listening on %s (tls)",
			 netio_addr_str(&o.tls_listen[j], as, sizeof(as)));

	memset(&cops, 0, sizeof(cops));
	cops.prog = TDNS_PROG_UPPER;
	cops.store = store;
	cops.db_dir = o.db_dir;
	cops.workers = o.threads;
	cops.stats = upper_stats;
	cops.reload = upper_reload;
	cops.ctx = workers;
	if (control_open(&o, &cops, &ctl) != TDNS_OK)
		goto out;
	if (o.dnstap_socket != NULL || o.dnstap_file != NULL) {
		if (dnstap_open(o.dnstap_socket, o.dnstap_file, auth.identity, o.threads,
				"AUTH_QUERY and AUTH_RESPONSE", &tap) != TDNS_OK)
			goto out;
		for (i = 0; i < o.threads; i++) {
			workers[i].tap = tap;
			workers[i].tapq = dnstap_queue(tap, i);
		}
	}
	/* Every socket is bound: root is no longer needed. */
	if (daemon_drop(&o) != TDNS_OK)
		goto out;
	if (control_start(ctl) != TDNS_OK)
		goto out;
	daemon_set_usr1(control_log_stats, ctl);
	log_info("store %s, %u thread%s, version %s", o.db_dir, o.threads,
		 o.threads == 1 ? "" : "s", TDNS_VERSION);
	upper_zone_report(store, o.db_dir);
	upper_sig_check(store, o.sig_expiry_warn);

	rc = daemon_run(o.threads, worker_loop, worker_run, upper_reload, workers);
	control_log_stats(ctl); /* the counters, once more at exit */
	for (i = 0; i < o.threads; i++) {
		uint64_t n = netio_tcp_refused_per_client(workers[i].loop);
		uint64_t ev = netio_tcp_evicted(workers[i].loop);

		if (n > 0)
			log_info("worker %u: %llu tcp connections closed at accept "
				 "(over --max-tcp-per-client %u, none idle)",
				 i, (unsigned long long)n, o.max_tcp_per_client);
		if (ev > 0)
			log_info("worker %u: %llu idle tcp connections closed to make "
				 "room for new ones", i, (unsigned long long)ev);
		if (workers[i].rrl.slipped + workers[i].rrl.dropped > 0)
			log_info("worker %u: rate limiting slipped %llu and dropped %llu "
				 "responses", i, (unsigned long long)workers[i].rrl.slipped,
				 (unsigned long long)workers[i].rrl.dropped);
	}
out:
	/* Before the workers go: the control thread reads their counters. */
	control_free(ctl);
	/* The workers are stopped: what they queued is written out. */
	dnstap_close(tap);
	if (workers != NULL) {
		for (i = 0; i < o.threads; i++)
			netio_loop_free(workers[i].loop);
		free(workers);
	}
	if (store != NULL)
		store_close(store);
	rrl_free(auth.rrl);
	tls_free(tls);
	daemon_cleanup(&o);
	opts_free(&o);
	return rc;
}
