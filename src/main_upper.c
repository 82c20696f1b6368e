/*
 * main_upper.c - tierdns-upper, the authoritative tier.
 *
 * N worker threads, each with its own event loop and its own SO_REUSEPORT
 * sockets on every --listen address, answer from the LMDB store through
 * auth_answer(). Each batch of UDP queries (and each TCP query) runs in a
 * fresh read snapshot, so zones that tierdns-zone commits while the server
 * runs are served at once. Each worker keeps its own copy of the zone list
 * (zonedb_cache), re-read when a commit changed the zones.
 *
 * Zone transfers out (xfr.h) are streamed by the worker that took the
 * query; NOTIFY to secondaries (notify.h) and the secondary zones'
 * transfers in (secondary.h) run on the first worker's loop.
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
#include "tierdns/notify.h"
#include "tierdns/opts.h"
#include "tierdns/pipeline.h"
#include "tierdns/secondary.h"
#include "tierdns/store.h"
#include "tierdns/tls.h"
#include "tierdns/xfr.h"
#include "tierdns/zonedb.h"
#include "tierdns/zoneload.h"
#include "tierdns/zonesign.h"

/* A zones: stanza by its apex key, for the transfer ACL. */
struct zone_key {
	uint8_t key[NAME_KEY_MAX];
	size_t len;
	const struct tdns_zone_conf *conf;
};

struct zone_keys {
	struct zone_key *z;
	struct notify_zone *notify; /* the same zones, for notify.h */
	struct secondary_zone *secondary; /* and for secondary.h */
	unsigned n;
	const struct tdns_tsig_key *keys; /* keys: */
	unsigned n_keys;
};

/* auth.h xfr_allowed: a request signed with a key of the zone's
 * allow-transfer-key, or from an address of its allow-transfer (signed with
 * the entry's key when it names one); a TSIG that does not verify is
 * refused whatever the address. */
static enum auth_xfr_verdict upper_xfr_allowed(const void *ctx, const uint8_t *apex,
					       size_t apex_len, const struct tdns_addr *peer,
					       const uint8_t *msg, size_t len)
{
	const struct zone_keys *zk = ctx;
	const struct tdns_zone_conf *z = NULL;
	const struct tdns_tsig_key *key = NULL;

	for (unsigned i = 0; i < zk->n && z == NULL; i++)
		if (zk->z[i].len == apex_len && memcmp(zk->z[i].key, apex, apex_len) == 0)
			z = zk->z[i].conf;
	if (z == NULL)
		return AUTH_XFR_REFUSE;
	switch (tsig_check(msg, len, zk->keys, zk->n_keys, &key, NULL)) {
	case TSIG_BAD:
		return AUTH_XFR_BADSIG;
	case TSIG_OK:
		for (unsigned i = 0; i < z->n_transfer_keys; i++)
			if (&zk->keys[z->transfer_keys[i]] == key)
				return AUTH_XFR_ALLOW;
		break;
	case TSIG_NONE:
		key = NULL;
		break;
	}
	/* An address entry with a key: the request signed with that one. */
	for (unsigned i = 0; i < z->n_allow_transfer; i++)
		if (acl_allows(&z->allow_transfer[i], 1, (const struct sockaddr *)&peer->ss,
			       peer->len) &&
		    (z->allow_transfer_key[i] < 0 ||
		     (key != NULL && key == &zk->keys[z->allow_transfer_key[i]])))
			return AUTH_XFR_ALLOW;
	return AUTH_XFR_REFUSE;
}

/* Each zone stanza's serial-policy and journal-size into the store, where
 * every process changing the zone reads them (zonedb.h); a stanza without
 * the keys clears them. */
static void upper_record_policies(struct tdns_store *store, const struct zone_keys *zk)
{
	struct tdns_txn *t = NULL;
	enum tdns_status st;

	if (zk->n == 0)
		return;
	st = store_begin(store, true, &t);
	for (unsigned i = 0; i < zk->n && st == TDNS_OK; i++)
		st = zonedb_put_zone_policy(t, zk->z[i].key, zk->z[i].len,
					    (enum zonedb_serial_policy)zk->z[i].conf->serial_policy,
					    zk->z[i].conf->journal_size);
	if (st == TDNS_OK)
		st = store_commit(t);
	else
		store_abort(t);
	if (st != TDNS_OK)
		log_err("the zones' serial-policy and journal-size could not be recorded "
			"in the store: %s",
			tdns_strerror(st));
}

/* The stanzas' apex keys (the option table checked the names). */
static enum tdns_status zone_keys_init(const struct tdns_opts *o, struct zone_keys *zk)
{
	zk->n = 0;
	zk->keys = o->keys;
	zk->n_keys = o->n_keys;
	zk->z = calloc(o->n_zones ? o->n_zones : 1, sizeof(*zk->z));
	if (zk->z == NULL)
		return TDNS_ENOMEM;
	for (unsigned i = 0; i < o->n_zones; i++) {
		if (zoneload_name_key(o->zones[i].name, zk->z[zk->n].key,
				      &zk->z[zk->n].len) != TDNS_OK)
			continue;
		zk->z[zk->n].conf = &o->zones[i];
		zk->n++;
	}
	zk->notify = calloc(zk->n ? zk->n : 1, sizeof(*zk->notify));
	zk->secondary = calloc(zk->n ? zk->n : 1, sizeof(*zk->secondary));
	if (zk->notify == NULL || zk->secondary == NULL)
		return TDNS_ENOMEM;
	for (unsigned i = 0; i < zk->n; i++) {
		zk->notify[i].apex = zk->z[i].key;
		zk->notify[i].apex_len = zk->z[i].len;
		zk->notify[i].targets = zk->z[i].conf->notify;
		zk->notify[i].n_targets = zk->z[i].conf->n_notify;
		zk->secondary[i].apex = zk->z[i].key;
		zk->secondary[i].apex_len = zk->z[i].len;
		zk->secondary[i].primaries = zk->z[i].conf->primaries;
		zk->secondary[i].n_primaries = zk->z[i].conf->n_primaries;
		zk->secondary[i].key = zk->z[i].conf->primary_key >= 0
					       ? &o->keys[zk->z[i].conf->primary_key] : NULL;
		/* The stanza's transfer bounds, else the top-level ones. */
		zk->secondary[i].xfr_time_s = zk->z[i].conf->transfer_time_in > 0
						      ? zk->z[i].conf->transfer_time_in
						      : o->transfer_time_in;
		zk->secondary[i].xfr_size_max = zk->z[i].conf->transfer_size_in >= 0
							? (uint64_t)zk->z[i].conf->transfer_size_in
							: o->transfer_size_in;
		/* The stanza's source, else the global one (len 0: none). */
		zk->notify[i].source = zk->z[i].conf->notify_source.len > 0
					       ? &zk->z[i].conf->notify_source : &o->notify_source;
		zk->secondary[i].source = zk->z[i].conf->transfer_source.len > 0
						  ? &zk->z[i].conf->transfer_source
						  : &o->transfer_source;
	}
	return TDNS_OK;
}

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
	struct auth_counters counters; /* rate limiting, cookies (auth.h) */
	const struct zone_keys *zkeys;
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

/* An allowed AXFR/IXFR over TCP (auth.h): streamed from its own snapshot
 * (xfr.h), one message whenever the connection drained the last ones. */
static enum netio_verdict __attribute__((noinline))
upper_xfr(struct worker *w, struct tdns_request *req, const uint8_t *in, size_t in_len)
{
	struct tdns_request *held = NULL;
	struct xfr_out *x = NULL;
	char as[64];

	if (xfr_start(w->store, in, in_len, w->zkeys->keys, w->zkeys->n_keys, &x) != TDNS_OK)
		goto fail;
	log_info("zone transfer: %s to %s", xfr_kind(x),
		 netio_addr_str(netio_request_peer(req), as, sizeof(as)));
	held = netio_request_hold(req);
	if (held == NULL || netio_request_stream(held, xfr_next, xfr_free, x,
							 w->o->transfer_time_out) != TDNS_OK)
		goto fail;
	return NETIO_DEFER;
fail:
	log_err("zone transfer to %s: out of memory",
		netio_addr_str(netio_request_peer(req), as, sizeof(as)));
	netio_request_release(held);
	xfr_free(x);
	return NETIO_DROP;
}

/* The answer to a TSIG-signed query (an SOA query of a secondary, a
 * refused transfer) signed with the query's key when it verifies (RFC
 * 8945 5.3); when it does not, NOTAUTH with the TSIG error (5.2). */
static void __attribute__((noinline))
upper_sign(struct worker *w, const uint8_t *in, size_t in_len, uint8_t *out, size_t *out_len)
{
	const struct tdns_tsig_key *key;
	struct tsig_state *st = NULL;
	enum tdns_status ret = TDNS_OK;

	switch (tsig_check(in, in_len, w->zkeys->keys, w->zkeys->n_keys, &key, &st)) {
	case TSIG_OK:
		ret = tsig_sign(st, out, out_len, QCTX_MAX_MSG);
		break;
	case TSIG_BAD:
		ret = tsig_error_reply(in, in_len, w->zkeys->keys, w->zkeys->n_keys, out,
				       out_len, QCTX_MAX_MSG);
		break;
	case TSIG_NONE:
		break;
	}
	if (ret != TDNS_OK)
		log_warn("the answer to a signed query: TSIG: %s", tdns_strerror(ret));
	tsig_state_free(st);
}

/* One query in this worker's snapshot (taken per batch, or here for a
 * query outside one): true when out holds an answer to send. */
static inline __attribute__((always_inline)) bool
upper_answer(struct worker *w, const struct auth_client *cl, const uint8_t *in,
	     size_t in_len, uint8_t *out, size_t *out_len)
{
	enum tdns_status st;
	bool reply;

	if (!w->in_batch)
		stats_batch(&w->stats, true); /* a TCP query is timed alone */
	st = w->in_batch ? w->snap : store_renew(w->txn);
	if (st != TDNS_OK)
		log_err("worker %u: store snapshot: %s", w->id, tdns_strerror(st));
	/* Without a snapshot every query is answered SERVFAIL (auth.h). */
	reply = auth_answer_from(w->zc, st == TDNS_OK ? w->txn : NULL, w->auth,
				 cl, in, in_len, out, QCTX_MAX_MSG, out_len);
	if (!w->in_batch && st == TDNS_OK)
		store_reset(w->txn);
	if (!w->in_batch)
		stats_batch(&w->stats, false);
	return reply;
}

/* dnstap: the query, and the answer when there is one. */
static void __attribute__((noinline))
upper_tap(struct worker *w, const struct tdns_request *req, const uint8_t *in, size_t in_len,
	  const uint8_t *out, size_t out_len, bool reply)
{
	dnstap_log(w->tap, w->tapq, DNSTAP_AUTH_QUERY, dnstap_proto_of(req),
		   netio_request_peer(req), in, in_len);
	if (reply)
		dnstap_log(w->tap, w->tapq, DNSTAP_AUTH_RESPONSE, dnstap_proto_of(req),
			   netio_request_peer(req), out, out_len);
}

static enum netio_verdict upper_query(void *ctx, struct tdns_request *req,
				      const uint8_t *in, size_t in_len, uint8_t *out,
				      size_t *out_len)
{
	struct worker *w = ctx;
	struct auth_client cl = { netio_request_peer(req), netio_request_is_tcp(req),
				  &w->counters, netio_request_keepalive(req),
				  netio_request_is_tls(req), NULL, NULL };
	bool reply = upper_answer(w, &cl, in, in_len, out, out_len);

	if (w->tap != NULL)
		upper_tap(w, req, in, in_len, out, *out_len, reply);
	return reply ? NETIO_REPLY : NETIO_DROP;
}

/* upper_query of a server with transfers, keys or secondary zones: a
 * transfer is streamed, the answer to a signed query signed. */
static enum netio_verdict upper_query_repl(void *ctx, struct tdns_request *req,
					   const uint8_t *in, size_t in_len, uint8_t *out,
					   size_t *out_len)
{
	struct worker *w = ctx;
	bool xfr = false, tsig = false;
	struct auth_client cl = { netio_request_peer(req), netio_request_is_tcp(req),
				  &w->counters, netio_request_keepalive(req),
				  netio_request_is_tls(req), &xfr, &tsig };
	bool reply = upper_answer(w, &cl, in, in_len, out, out_len);

	if (xfr) {
		if (w->tap != NULL)
			upper_tap(w, req, in, in_len, NULL, 0, false);
		return upper_xfr(w, req, in, in_len);
	}
	if (reply && tsig)
		upper_sign(w, in, in_len, out, out_len);
	if (w->tap != NULL)
		upper_tap(w, req, in, in_len, out, *out_len, reply);
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
	struct tdns_notifier *notifier = NULL;
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
	/* The first worker tells the secondaries of changes (notify.h). */
	if (i == 0) {
		st = notify_new(w->loop, w->store, w->zkeys->notify, w->zkeys->n, &notifier);
		if (st != TDNS_OK)
			goto out;
	}
	st = netio_loop_run(w->loop);
out:
	notify_free(notifier);
	store_abort(w->txn);
	w->txn = NULL;
	zonedb_cache_free(w->zc);
	w->zc = NULL;
	return st;
}

/* tierdns-control zone status: a secondary zone's timers. */
static bool upper_zone_status(void *ctx, const uint8_t *apex, size_t apex_len, FILE *out)
{
	struct worker *workers = ctx;

	return secondary_status(workers[0].auth->secondary, apex, apex_len, out);
}

static bool upper_zone_reload(void *ctx, const uint8_t *apex, size_t apex_len)
{
	struct worker *workers = ctx;

	return workers[0].auth->secondary != NULL &&
	       secondary_refresh(workers[0].auth->secondary, apex, apex_len);
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

/* At start, at each reload and every SIG_CHECK_MS: a warning for every
 * signed zone whose earliest signature expires within sig_expiry_warn
 * days (an error when one has expired). */
static void upper_sig_check(struct tdns_store *store, unsigned days)
{
	struct sig_check c = { NULL, clock_now(), (uint64_t)days * 86400u };

	if (days == 0 || store_begin(store, false, &c.t) != TDNS_OK)
		return;
	(void)zonedb_list(c.t, sig_check_zone, &c, NULL);
	store_abort(c.t);
}

#define SIG_CHECK_MS (3600u * 1000u) /* hourly */

/* The periodic check (its own thread: it walks every signed zone). */
static void upper_sig_tick(void *ctx)
{
	struct worker *workers = ctx;

	upper_sig_check(workers[0].store, workers[0].o->sig_expiry_warn);
}

/* The check's period: SIG_CHECK_MS, or for tests TDNS_TEST_SIG_CHECK_MS
 * from the environment (milliseconds; not an option: nothing to tune). */
static uint64_t sig_check_ms(void)
{
	const char *e = getenv("TDNS_TEST_SIG_CHECK_MS");
	char *end;
	unsigned long long v;

	if (e == NULL || *e == '\0')
		return SIG_CHECK_MS;
	v = strtoull(e, &end, 10);
	return *end == '\0' && v > 0 ? (uint64_t)v : SIG_CHECK_MS;
}

/* SIGHUP: the configuration file again (opts_reload: what applies while
 * running, the stanzas' serial-policy among it, recorded again) and the
 * DoT certificate; the zones are read live, so say what is being served
 * now. */
static void upper_reload(void *ctx)
{
	struct worker *workers = ctx;

	opts_reload(workers[0].o);
	upper_record_policies(workers[0].store, workers[0].zkeys);
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
		const struct auth_counters *c = &workers[i].counters;

		stats_sum_add(sum, &workers[i].stats);
		sum->tcp_accepted += netio_tcp_accepted(workers[i].loop);
		sum->rrl_slipped += stats_get(&c->rrl.slipped);
		sum->rrl_dropped += stats_get(&c->rrl.dropped);
		stats_sum_add_cookies(sum, &c->cookies);
	}
	if (workers[0].auth->rrl != NULL)
		sum->rrl_limited = rrl_limited_now(workers[0].auth->rrl, clock_mono_coarse_ms());
	if (workers[0].tap != NULL)
		sum->dnstap_dropped = dnstap_dropped(workers[0].tap);
}

int main(int argc, char **argv)
{
	struct tdns_auth_cfg auth = { 0 };
	struct tdns_listen_cfg lcfg;
	struct tdns_store_opts so;
	struct tdns_store *store = NULL;
	struct worker *workers = NULL;
	struct tdns_control_ops cops;
	struct tdns_control *ctl = NULL;
	struct daemon_ticker *sig_ticker = NULL;
	struct tdns_dnstap *tap = NULL;
	struct tdns_cookie_cfg cookies;
	struct zone_keys zkeys = { NULL, NULL, NULL, 0, NULL, 0 };
	struct tdns_tls *tls = NULL;
	struct tdns_opts o;
	char hostname[256];
	const char *ident;
	char as[64];
	enum tdns_status st;
	unsigned i, j, n_secondary = 0;
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

	daemon_identity(&o, hostname, sizeof(hostname), &ident, &auth);

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
		if (!cookie_cfg_init(&cookies, o.cookie_secret, o.cookie_secret_alt)) {
			log_err("cookies: no random secret could be had");
			goto out;
		}
		auth.cookies = &cookies;
	}

	if (zone_keys_init(&o, &zkeys) != TDNS_OK) {
		log_err("%s", tdns_strerror(TDNS_ENOMEM));
		goto out;
	}
	/* Without transfer lists or keys every transfer is REFUSED by the
	 * plain pipeline (auth.h). */
	for (i = 0, j = o.n_keys; i < o.n_zones; i++)
		j += o.zones[i].n_allow_transfer + o.zones[i].n_transfer_keys;
	if (j > 0) {
		auth.xfr_allowed = upper_xfr_allowed;
		auth.xfr_ctx = &zkeys;
	}
	for (i = 0; i < zkeys.n; i++)
		n_secondary += zkeys.secondary[i].n_primaries > 0;

	memset(&so, 0, sizeof(so));
	so.flags = STORE_TIER_UPPER;
	st = daemon_open(&o, &so, &store);
	if (st != TDNS_OK)
		goto out;
	upper_record_policies(store, &zkeys);
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
		workers[i].zkeys = &zkeys;
		workers[i].tls = tls;
		workers[i].loop = netio_loop_new();
		if (workers[i].loop == NULL)
			goto out;
		for (j = 0; j < o.n_listen + o.n_tls_listen; j++) {
			memset(&lcfg, 0, sizeof(lcfg));
			lcfg.addr = j < o.n_listen ? o.listen[j] : o.tls_listen[j - o.n_listen];
			lcfg.tls = j < o.n_listen ? NULL : tls;
			lcfg.on_query = auth.xfr_allowed != NULL || n_secondary > 0
						? upper_query_repl : upper_query;
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

	/* The secondary zones: transfers on the first worker's loop; made
	 * before the control thread, which reads their status. */
	if (n_secondary > 0) {
		st = secondary_new(workers[0].loop, store, zkeys.secondary, zkeys.n,
				   &auth.secondary);
		if (st != TDNS_OK) {
			log_err("secondary zones: %s", tdns_strerror(st));
			goto out;
		}
		log_info("secondary for %u zone%s", n_secondary, n_secondary == 1 ? "" : "s");
	}

	memset(&cops, 0, sizeof(cops));
	cops.prog = TDNS_PROG_UPPER;
	cops.store = store;
	cops.db_dir = o.db_dir;
	cops.workers = o.threads;
	cops.stats = upper_stats;
	cops.reload = upper_reload;
	cops.zone_status = upper_zone_status;
	cops.zone_reload = upper_zone_reload;
	cops.ctx = workers;
	if (control_open(&o, &cops, &ctl) != TDNS_OK)
		goto out;
	if (o.dnstap_socket != NULL || o.dnstap_file != NULL) {
		if (dnstap_open(o.dnstap_socket, o.dnstap_file, ident, o.threads,
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
	if (o.sig_expiry_warn > 0 &&
	    daemon_ticker_start(sig_check_ms(), upper_sig_tick, workers, &sig_ticker) !=
		    TDNS_OK)
		log_warn("signature expiry: checked at start and reloads only");

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
		if (stats_get(&workers[i].counters.rrl.slipped) +
			    stats_get(&workers[i].counters.rrl.dropped) > 0)
			log_info("worker %u: rate limiting slipped %llu and dropped %llu "
				 "responses", i,
				 (unsigned long long)stats_get(&workers[i].counters.rrl.slipped),
				 (unsigned long long)stats_get(&workers[i].counters.rrl.dropped));
	}
out:
	daemon_ticker_stop(sig_ticker);
	/* Before the workers go: the control thread reads their counters. */
	control_free(ctl);
	secondary_free(auth.secondary);
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
	free(zkeys.z);
	free(zkeys.notify);
	free(zkeys.secondary);
	tls_free(tls);
	daemon_cleanup(&o);
	opts_free(&o);
	return rc;
}
