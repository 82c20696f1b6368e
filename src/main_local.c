/*
 * main_local.c - tierdns-local, the caching forwarder: static zones, then
 * the cache, then the upstreams (resolve.h), over netio event loops.
 *
 * One worker per --threads, each on its own thread with its own loop, its
 * own SO_REUSEPORT listeners, its own upstream sockets and its own resolver
 * (so identical misses are coalesced per worker). All share one LMDB
 * environment holding the static zones and the cache. Response policy
 * zones kept by zone transfer (rpz-primary) have a loop and thread of their
 * own after the workers'. Threads, signals and shutdown: daemon.h.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tierdns/acl.h"
#include "tierdns/clock.h"
#include "tierdns/control.h"
#include "tierdns/cookie.h"
#include "tierdns/daemon.h"
#include "tierdns/dnsproto.h"
#include "tierdns/dnstap.h"
#include "tierdns/doh.h"
#include "tierdns/infra.h"
#include "tierdns/sketch.h"
#include "tierdns/log.h"
#include "tierdns/netio.h"
#include "tierdns/opts.h"
#include "tierdns/pipeline.h"
#include "tierdns/policy.h"
#include "tierdns/resolve.h"
#include "tierdns/secondary.h"
#include "tierdns/store.h"
#include "tierdns/tls.h"
#include "tierdns/upstream.h"
#include "tierdns/zoneload.h"

#define LOCAL_MAP_FACTOR 4
#define LOCAL_MAP_EXTRA ((uint64_t)64 << 20)
#define WATCH_POLL_MS 1000 /* how often the hosts and RPZ files' times are looked at */
/* The SOA timers of a transferred response policy zone, bounded: a
 * blocklist is checked at least daily and not more often than every two
 * seconds (Knot's refresh-min-interval); before the first transfer the
 * primary is asked again every RPZ_RETRY_NONE seconds. */
#define RPZ_REFRESH_MIN 2u
#define RPZ_REFRESH_MAX 86400u
#define RPZ_RETRY_MAX 3600u
#define RPZ_RETRY_NONE 10u

/* Every upstream (the default set, then one per forward: entry) has its
 * own counters. */
_Static_assert(STATS_MAX_UPSTREAM >= OPTS_MAX_UPSTREAM + OPTS_MAX_FORWARD,
	       "stats.h STATS_MAX_UPSTREAM");

/* A response policy zone kept current by transfer (rpz-primary): the
 * zone as last applied, in the policy with the RPZ files. */
struct rpz_zone {
	const struct opts_rpz_primary *conf;
	uint8_t key[NAME_KEY_MAX];    /* its apex */
	size_t klen;
	char *text;                   /* master-file text; NULL: none yet */
	struct secondary_held held;   /* text's SOA */
};

/* The resolver policy (policy.h) and what it is read from again: the
 * hosts and RPZ files are watched by a thread of their own, which reloads the
 * policy (as a reload does) when one of them changes; the transferred
 * response policy zones are kept by a secondary (secondary.h) on a loop
 * and thread of their own, which builds the policy again after each
 * transfer. */
struct policy_state {
	struct tdns_policy_box *box;
	struct tdns_opts *o;          /* the running options (forward:) */
	unsigned n_default;
	pthread_mutex_t mu;           /* guards what follows */
	char **files;                 /* the files of the running policy
				       * (hosts, then RPZ) */
	struct timespec *mtime;
	unsigned n_files;
	struct daemon_ticker *watch;  /* calls files_tick */
	/* One build at a time (a reload's or a transfer's); guards cur and
	 * every rz[i].text. */
	pthread_mutex_t build_mu;
	struct tdns_opts *cur;        /* the options the running policy was
				       * built from: o, or a reload's (owned) */
	struct rpz_zone *rz;          /* o->rpz_primary's zones */
	struct secondary_zone *sz;    /* the same, for secondary.h */
	unsigned n_rz;
	struct tdns_loop *xfr_loop;   /* the transfers' loop; NULL: none */
	struct tdns_secondary *sec;
};

/* The TLS configurations the workers share; NULL: none. */
struct tls_cfgs {
	struct tdns_tls *dot;      /* --tls-listen */
	struct tdns_tls *doh;      /* --https-listen (ALPN h2) */
	struct tdns_tls *upstream; /* --upstream-tls */
};

struct worker {
	unsigned id;
	/* The options (the access list): read by every worker; a reload
	 * (daemon_reload) changes only the log fields, which no worker reads. */
	struct tdns_opts *o;
	struct tdns_store *store;
	struct tdns_loop *loop;
	struct tdns_upstream *up;
	struct tdns_resolver *r;
	struct tdns_stats stats; /* written by this worker only (stats.h) */
	/* Guards r against the control thread only while worker_run frees
	 * it at shutdown; never taken on the query path. */
	pthread_mutex_t r_mu;
	unsigned n_workers;
	const struct tls_cfgs *tls;
	struct tdns_dnstap *tap;        /* NULL: no dnstap */
	struct tdns_dnstap_queue *tapq; /* this worker's queue to it */
	struct policy_state *pol;
	const struct tdns_cookie_cfg *cookies; /* server cookies; NULL: off */
	struct tdns_sketch *sketch;     /* how often names are asked, shared
					 * by the workers (sketch.h) */
};

/* What a query came over, as the resolver's context records it. */
static enum qctx_transport transport_of(const struct tdns_request *req)
{
	return netio_request_is_https(req) ? QCTX_HTTPS
	       : netio_request_is_tls(req) ? QCTX_TLS
	       : netio_request_is_tcp(req) ? QCTX_TCP
					   : QCTX_UDP;
}

/* An upstream query or reply of worker ctx, for dnstap. */
static void worker_tap_upstream(void *ctx, const struct tdns_addr *upstream, int proto,
				bool response, const uint8_t *msg, size_t len)
{
	struct worker *w = ctx;

	dnstap_log(w->tap, w->tapq, response ? DNSTAP_FORWARDER_RESPONSE : DNSTAP_FORWARDER_QUERY,
		   (enum dnstap_proto)proto, upstream, msg, len);
}

static void *client_hold(void *ctx, void *request)
{
	(void)ctx;
	return netio_request_hold(request);
}

static void client_answer(void *ctx, void *held, const uint8_t *msg, size_t len)
{
	struct worker *w = ctx;

	if (msg != NULL) {
		if (w->tap != NULL)
			dnstap_log(w->tap, w->tapq, DNSTAP_CLIENT_RESPONSE, dnstap_proto_of(held),
				   netio_request_peer(held), msg, len);
		stats_answer_late(&w->stats, netio_request_is_tcp(held), msg, len,
				  netio_request_held_us(held));
		netio_request_reply(held, msg, len);
	} else
		netio_request_release(held);
}

/* A reply's per-client EDNS options (resolve.h client.edns): the server
 * cookie (cookie.h) to a query with a COOKIE, and over TCP and TLS the
 * idle timeout to a client that asks (RFC 7828; over DoH, HTTP/2 keeps
 * the connection, RFC 8484 5.3). */
static void client_edns(void *ctx, void *request, const struct tdns_qctx *q,
			struct tdns_answer *a)
{
	struct worker *w = ctx;

	if (q->cookie_len > 0 && w->cookies != NULL)
		cookie_answer(w->cookies, q, netio_request_peer(request), (uint32_t)clock_now(),
			      a);
	if (q->keepalive && (q->transport == QCTX_TCP || q->transport == QCTX_TLS))
		a->keepalive = netio_request_keepalive(request);
}

/* NOTIFY for a transferred response policy zone, from its primary. */
static void client_notify(void *ctx, void *request, const struct tdns_qctx *q,
			  struct tdns_answer *a)
{
	struct worker *w = ctx;

	secondary_notify_answer(w->pol->sec, q, netio_request_peer(request), a);
}

static enum netio_verdict on_query(void *ctx, struct tdns_request *req,
				   const uint8_t *in, size_t in_len, uint8_t *out,
				   size_t *out_len)
{
	struct worker *w = ctx;
	const struct tdns_addr *peer = netio_request_peer(req);
	bool timed = !w->stats.in_batch;
	enum resolver_verdict v;

	if (timed)
		stats_batch(&w->stats, true); /* a TCP query is timed alone */
	if (!acl_allows(w->o->allow, w->o->n_allow,
			(const struct sockaddr *)&peer->ss, peer->len)) {
		v = resolver_refuse(w->r, in, in_len, transport_of(req), out, DNS_MSG_MAX,
				    out_len);
	} else {
		v = resolver_query(w->r, in, in_len, transport_of(req), req, out,
				   DNS_MSG_MAX, out_len);
	}
	if (timed)
		stats_batch(&w->stats, false);
	if (w->tap != NULL) {
		dnstap_log(w->tap, w->tapq, DNSTAP_CLIENT_QUERY, dnstap_proto_of(req), peer, in,
			   in_len);
		if (v == RESOLVER_REPLY)
			dnstap_log(w->tap, w->tapq, DNSTAP_CLIENT_RESPONSE, dnstap_proto_of(req),
				   peer, out, *out_len);
	}
	switch (v) {
	case RESOLVER_REPLY:
		return NETIO_REPLY;
	case RESOLVER_DEFER:
		return NETIO_DEFER;
	case RESOLVER_DROP:
		break;
	}
	return NETIO_DROP;
}

/* Once per loop iteration: commit the answers that came in it to the cache
 * in one transaction and send them (resolve.h resolver_flush). */
static void worker_flush(void *ctx)
{
	struct worker *w = ctx;

	resolver_flush(w->r);
}

/* Around each batch of UDP queries: one store snapshot for all of them. */
static void worker_batch(void *ctx, bool begin)
{
	struct worker *w = ctx;

	stats_batch(&w->stats, begin);
	resolver_batch(w->r, begin);
}

static enum tdns_status worker_init(struct worker *w, struct tdns_opts *o,
				    struct tdns_store *store, struct tdns_infra *infra,
				    const struct tls_cfgs *tls, const struct tdns_anchors *ta,
				    const struct tdns_auth_cfg *chaos, const struct tdns_addr *ups,
				    const char *const *auth, unsigned n_ups,
				    struct tdns_policy_box *policy)
{
	struct tdns_resolver_cfg cfg;
	struct tdns_listen_cfg lc;
	char addr[64];
	enum tdns_status st = TDNS_ENOMEM;

	w->o = o;
	w->store = store;
	w->tls = tls;
	w->loop = netio_loop_new();
	if (w->loop == NULL)
		goto out;
	st = upstream_new(w->loop, ups, auth, n_ups, tls->upstream, &w->up);
	if (st != TDNS_OK)
		goto out;
	memset(&cfg, 0, sizeof(cfg));
	cfg.store = store;
	cfg.chaos = *chaos;
	cfg.cache.max_ttl = o->max_ttl;
	cfg.cache.max_neg_ttl = o->max_neg_ttl;
	cfg.cache.max_bytes = o->cache_size;
	cfg.n_upstream = n_ups;
	cfg.upstream_addrs = ups;
	cfg.policy = policy;
	cfg.timeout_ms = o->upstream_timeout_ms;
	cfg.max_outstanding = o->max_outstanding;
	cfg.packet_cache = o->packet_cache;
	cfg.serve_stale = o->serve_stale;
	cfg.stale_ttl = o->stale_ttl;
	cfg.cache.keep_stale = o->serve_stale ? o->stale_ttl : 0;
	cfg.cache.sketch = w->sketch;
	cfg.use_0x20 = o->use_0x20;
	cfg.prefetch = o->prefetch;
	cfg.anchors = ta;
	cfg.aggressive_nsec = o->aggressive_nsec;
	cfg.infra = infra;
	cfg.transport = upstream_transport(w->up);
	cfg.client.hold = client_hold;
	cfg.client.answer = client_answer;
	cfg.client.edns = client_edns;
	cfg.client.notify = w->pol->sec != NULL ? client_notify : NULL;
	cfg.client.ctx = w;
	st = resolver_new(&cfg, &w->r);
	if (st != TDNS_OK)
		goto out;
	upstream_set_resolver(w->up, w->r);
	upstream_set_idle(w->up, o->upstream_idle_ms);
	st = upstream_set_cookies(w->up, !o->no_cookies);
	if (st != TDNS_OK)
		goto out;
	netio_loop_set_flush(w->loop, worker_flush, w);
	for (unsigned i = 0; i < o->n_listen + o->n_tls_listen + o->n_https_listen; i++) {
		unsigned k = i - o->n_listen - o->n_tls_listen;

		memset(&lc, 0, sizeof(lc));
		if (i < o->n_listen) {
			lc.addr = o->listen[i];
		} else if (i < o->n_listen + o->n_tls_listen) {
			lc.addr = o->tls_listen[i - o->n_listen];
			lc.tls = tls->dot;
		} else {
			lc.addr = o->https_listen[k];
			lc.tls = tls->doh;
			lc.doh = true;
		}
		lc.on_query = on_query;
		lc.on_batch = worker_batch;
		lc.ctx = w;
		lc.max_tcp = o->max_tcp;
		lc.max_tcp_per_client = o->max_tcp_per_client;
		lc.tcp_idle_ms = o->tcp_idle_ms;
		st = netio_listen(w->loop, &lc);
		if (st != TDNS_OK) {
			log_err("cannot listen on %s: %s",
				netio_addr_str(&lc.addr, addr, sizeof(addr)),
				tdns_strerror(st));
			goto out;
		}
	}
out:
	return st;
}

/* One line of counters per worker at shutdown, for the operator. */
static void worker_report(const struct worker *w)
{
	struct tdns_stats_sum sum;
	char who[32];

	memset(&sum, 0, sizeof(sum));
	stats_sum_add(&sum, &w->stats);
	stats_sum_add_resolver(&sum, resolver_stats(w->r));
	snprintf(who, sizeof(who), "worker %u", w->id);
	stats_log(who, &sum, true);
}

/* Release in dependency order: the resolver first (it releases held
 * clients and ends open attempts through the transport), then the
 * transport, then the loop. On the worker's own thread once it ran: the
 * resolver's LMDB read transaction belongs to it. */
static void worker_fini(struct worker *w)
{
	resolver_free(w->r);
	w->r = NULL;
	upstream_free(w->up);
	w->up = NULL;
	netio_loop_free(w->loop);
	w->loop = NULL;
}

/* The files of a policy just built (hosts and RPZ) and their times
 * (0 when missing), for the watcher. Under ps->mu. */
static void watch_set(struct policy_state *ps, const struct opts_strlist *hosts,
		      const struct opts_strlist *rpz)
{
	unsigned n = hosts->n + rpz->n;
	struct stat sb;

	for (unsigned i = 0; i < ps->n_files; i++)
		free(ps->files[i]);
	free(ps->files);
	free(ps->mtime);
	ps->n_files = 0;
	ps->files = calloc(n ? n : 1, sizeof(*ps->files));
	ps->mtime = calloc(n ? n : 1, sizeof(*ps->mtime));
	if (ps->files == NULL || ps->mtime == NULL)
		return;
	for (unsigned i = 0; i < n; i++) {
		const char *path = i < hosts->n ? hosts->v[i] : rpz->v[i - hosts->n];

		ps->files[i] = strdup(path);
		if (ps->files[i] == NULL)
			break;
		if (stat(path, &sb) == 0)
			ps->mtime[i] = sb.st_mtim;
		ps->n_files++;
	}
}

/* Build the policy from o's lists and the running forward: entries. */
static enum tdns_status policy_make(struct policy_state *ps, const struct tdns_opts *o,
				    struct tdns_policy **out)
{
	struct policy_src src;
	const char **text = NULL, **name = NULL;
	char err[512];
	enum tdns_status st;

	memset(&src, 0, sizeof(src));
	if (ps->n_rz > 0) {
		text = calloc(ps->n_rz, sizeof(*text));
		name = calloc(ps->n_rz, sizeof(*name));
		if (text == NULL || name == NULL) {
			free(text);
			free(name);
			log_err("policy: %s", tdns_strerror(TDNS_ENOMEM));
			return TDNS_ENOMEM;
		}
		for (unsigned i = 0; i < ps->n_rz; i++) {
			text[i] = ps->rz[i].text;
			name[i] = ps->rz[i].conf->name;
		}
	}
	src.rpz_text = text;
	src.rpz_text_name = name;
	src.n_rpz_text = ps->n_rz;
	src.n_default = ps->n_default;
	src.forward = ps->o->forward;
	src.n_forward = ps->o->n_forward;
	src.local_zone = o->local_zone.v;
	src.n_local_zone = o->local_zone.n;
	src.local_data = o->local_data.v;
	src.n_local_data = o->local_data.n;
	src.hosts = o->hosts.v;
	src.n_hosts = o->hosts.n;
	src.rpz = o->rpz.v;
	src.n_rpz = o->rpz.n;
	st = policy_build(&src, out, err, sizeof(err));
	free(text);
	free(name);
	/* Watched from now on either way: a broken build is not retried
	 * each second, only at the next change. */
	pthread_mutex_lock(&ps->mu);
	watch_set(ps, &o->hosts, &o->rpz);
	pthread_mutex_unlock(&ps->mu);
	if (st != TDNS_OK) {
		log_err("policy: %s", err);
		return st;
	}
	log_info("policy: %u forward: entr%s, %u local-zone, %u local-data, %u hosts "
		 "file%s, %zu names with records, %zu RPZ triggers from %u file%s and %u "
		 "transferred zone%s",
		 ps->o->n_forward, ps->o->n_forward == 1 ? "y" : "ies", o->local_zone.n,
		 o->local_data.n, o->hosts.n, o->hosts.n == 1 ? "" : "s", policy_names(*out),
		 policy_rpz_triggers(*out), o->rpz.n, o->rpz.n == 1 ? "" : "s", ps->n_rz,
		 ps->n_rz == 1 ? "" : "s");
	return TDNS_OK;
}

/* The options a reload read become those of the running policy. Under
 * build_mu. */
static void policy_cur_set(struct policy_state *ps, struct tdns_opts *now)
{
	if (ps->cur != ps->o) {
		opts_free(ps->cur);
		free(ps->cur);
	}
	ps->cur = now;
}

/* The policy again from the configuration as it is now; the running one
 * stays when the new one has an error. */
static void policy_reload(struct policy_state *ps)
{
	struct tdns_policy *p = NULL;
	struct tdns_opts *now = malloc(sizeof(*now));
	char err[512];

	if (now == NULL) {
		log_err("policy: %s", tdns_strerror(TDNS_ENOMEM));
		return;
	}
	if (opts_load(TDNS_PROG_LOCAL, ps->o->argc, ps->o->argv, now, err, sizeof(err)) !=
	    OPTS_RUN) {
		free(now);
		return; /* opts_reload logged it */
	}
	pthread_mutex_lock(&ps->build_mu);
	if (policy_make(ps, now, &p) == TDNS_OK) {
		policy_box_set(ps->box, p);
		policy_cur_set(ps, now);
		now = NULL;
	} else {
		log_err("policy: the running policy stays");
	}
	pthread_mutex_unlock(&ps->build_mu);
	if (now != NULL) {
		opts_free(now);
		free(now);
	}
}

/* ---- response policy zones by transfer: the secondary's sink ---- */

static void rpz_held(void *ctx, size_t i, struct secondary_held *out)
{
	struct policy_state *ps = ctx;

	*out = ps->rz[i].held;
	if (!out->have) {
		out->retry = RPZ_RETRY_NONE;
		return;
	}
	if (out->refresh < RPZ_REFRESH_MIN)
		out->refresh = RPZ_REFRESH_MIN;
	if (out->refresh > RPZ_REFRESH_MAX)
		out->refresh = RPZ_REFRESH_MAX;
	if (out->retry < RPZ_REFRESH_MIN)
		out->retry = RPZ_REFRESH_MIN;
	if (out->retry > RPZ_RETRY_MAX)
		out->retry = RPZ_RETRY_MAX;
}

static char *rpz_text(void *ctx, size_t i)
{
	struct policy_state *ps = ctx;

	return ps->rz[i].text != NULL ? strdup(ps->rz[i].text) : NULL;
}

/* text into path, whole or not at all (a temporary file renamed over it):
 * NULL, or why not. */
static const char *write_whole(const char *path, const char *text)
{
	char tmp[4096];
	size_t len = strlen(text);
	FILE *f;
	bool ok;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return "path too long";
	f = fopen(tmp, "w");
	if (f == NULL)
		return strerror(errno);
	ok = fwrite(text, 1, len, f) == len;
	ok = fflush(f) == 0 && ok;
	ok = fsync(fileno(f)) == 0 && ok;
	ok = fclose(f) == 0 && ok;
	if (!ok || rename(tmp, path) != 0) {
		const char *why = strerror(errno);

		unlink(tmp);
		return why;
	}
	return NULL;
}

/* A transfer done: the policy built again with the new zone and put in
 * place at once (policy.h: a query sees the old policy or the new, never
 * a mix); a zone the policy cannot be built from leaves the old one. */
static enum tdns_status rpz_apply(void *ctx, size_t i, const struct secondary_update *u,
				  char *err, size_t cap)
{
	struct policy_state *ps = ctx;
	struct rpz_zone *z = &ps->rz[i];
	struct tdns_policy *p = NULL;
	struct secondary_held held;
	char *old = z->text, *text = secondary_update_text(u);
	const char *why = NULL;
	enum tdns_status st;

	/* A policy is built from the whole zone's text. */
	if (text == NULL || !secondary_held_from_text(text, &held)) {
		snprintf(err, cap, "%s", text == NULL ? "the transfer cannot be read back" :
			 "the zone has no SOA");
		free(text);
		return TDNS_EPARSE;
	}
	pthread_mutex_lock(&ps->build_mu);
	z->text = text;
	st = policy_make(ps, ps->cur, &p);
	if (st != TDNS_OK) {
		z->text = old;
		pthread_mutex_unlock(&ps->build_mu);
		free(text);
		snprintf(err, cap, "serial %u not applied (the policy stays as it was): %s",
			 (unsigned)u->serial, tdns_strerror(st));
		return st;
	}
	policy_box_set(ps->box, p);
	z->held = held;
	z->held.since = (uint64_t)clock_now();
	log_info("rpz %s: serial %u applied (%s, %zu records transferred): %zu RPZ triggers "
		 "in the policy", u->name, (unsigned)u->serial, u->how, u->records,
		 policy_rpz_triggers(p));
	pthread_mutex_unlock(&ps->build_mu);
	free(old);
	if (z->conf->zonefile != NULL && (why = write_whole(z->conf->zonefile, text)) != NULL)
		log_warn("rpz %s: zonefile %s not written: %s", u->name, z->conf->zonefile, why);
	return TDNS_OK;
}

/* A zonefile's text: a zone that makes a policy on its own (a file that
 * does not is left out, not fatal: the primary sends the zone again). */
static bool rpz_zonefile_ok(const struct opts_rpz_primary *c, const char *text,
			    struct secondary_held *held)
{
	struct tdns_policy *p = NULL;
	struct policy_src src;
	char err[512];

	if (!secondary_held_from_text(text, held))
		return false;
	memset(&src, 0, sizeof(src));
	src.rpz_text = &text;
	src.rpz_text_name = &c->name;
	src.n_rpz_text = 1;
	if (policy_build(&src, &p, err, sizeof(err)) != TDNS_OK) {
		log_warn("rpz %s: %s", c->name, err);
		memset(held, 0, sizeof(*held));
		return false;
	}
	policy_release(p);
	return true;
}

/* The zones of o->rpz_primary, each with what its zonefile holds (served
 * until the primary answers). */
static enum tdns_status rpz_zones_init(struct policy_state *ps, const struct tdns_opts *o)
{
	ps->n_rz = 0;
	if (o->n_rpz_primary == 0)
		return TDNS_OK;
	ps->rz = calloc(o->n_rpz_primary, sizeof(*ps->rz));
	ps->sz = calloc(o->n_rpz_primary, sizeof(*ps->sz));
	if (ps->rz == NULL || ps->sz == NULL)
		return TDNS_ENOMEM;
	for (unsigned i = 0; i < o->n_rpz_primary; i++) {
		struct rpz_zone *z = &ps->rz[ps->n_rz];
		const struct opts_rpz_primary *c = &o->rpz_primary[i];
		FILE *f;

		if (zoneload_name_key(c->name, z->key, &z->klen) != TDNS_OK)
			continue;
		z->conf = c;
		f = c->zonefile != NULL ? fopen(c->zonefile, "r") : NULL;
		if (f != NULL) {
			char *buf = NULL;
			size_t cap = 0;
			ssize_t n = getdelim(&buf, &cap, '\0', f);

			fclose(f);
			if (n > 0 && rpz_zonefile_ok(c, buf, &z->held)) {
				z->text = buf;
				log_info("rpz %s: serial %u from %s until the primary answers",
					 c->name, (unsigned)z->held.serial, c->zonefile);
			} else {
				free(buf);
				log_warn("rpz %s: %s holds no usable zone: transferred whole",
					 c->name, c->zonefile);
			}
		}
		ps->sz[ps->n_rz].apex = z->key;
		ps->sz[ps->n_rz].apex_len = z->klen;
		ps->sz[ps->n_rz].primaries = c->primaries;
		ps->sz[ps->n_rz].n_primaries = c->n_primaries;
		ps->sz[ps->n_rz].key = c->key >= 0 ? &o->keys[c->key] : NULL;
		ps->sz[ps->n_rz].xfr_time_s = o->transfer_time_in;
		ps->sz[ps->n_rz].xfr_size_max = o->transfer_size_in;
		ps->n_rz++;
	}
	return TDNS_OK;
}

/* The transfers' secondary on a loop of its own (run by daemon_run as the
 * thread after the workers'). */
static enum tdns_status rpz_xfr_start(struct policy_state *ps)
{
	/* No apply_diff: a policy is built from the whole zone's text. */
	struct secondary_sink sink = {
		.held = rpz_held,
		.text = rpz_text,
		.apply = rpz_apply,
		.label = "rpz",
		.on_expire = "the last policy stays",
		.status_what = "response policy zone from",
		.ctx = ps,
	};
	enum tdns_status st;

	if (ps->n_rz == 0)
		return TDNS_OK;
	ps->xfr_loop = netio_loop_new();
	if (ps->xfr_loop == NULL)
		return TDNS_ENOMEM;
	st = secondary_new_sink(ps->xfr_loop, &sink, ps->sz, ps->n_rz, &ps->sec);
	if (st != TDNS_OK)
		log_err("rpz transfers: %s", tdns_strerror(st));
	return st;
}

/* tierdns-control zone status and zone reload of a transferred response
 * policy zone (it is not in the store). */
static bool local_zone_status(void *ctx, const uint8_t *apex, size_t apex_len, FILE *out)
{
	struct worker *workers = ctx;

	return secondary_status(workers[0].pol->sec, apex, apex_len, out);
}

static bool local_zone_reload(void *ctx, const uint8_t *apex, size_t apex_len)
{
	struct worker *workers = ctx;

	return workers[0].pol->sec != NULL &&
	       secondary_refresh(workers[0].pol->sec, apex, apex_len);
}

static void rpz_fini(struct policy_state *ps)
{
	secondary_free(ps->sec);
	ps->sec = NULL;
	netio_loop_free(ps->xfr_loop);
	ps->xfr_loop = NULL;
	for (unsigned i = 0; i < ps->n_rz; i++)
		free(ps->rz[i].text);
	free(ps->rz);
	free(ps->sz);
	ps->rz = NULL;
	ps->sz = NULL;
	ps->n_rz = 0;
}

/* Has a watched file changed (time, or appeared, or gone)? */
static bool files_changed(struct policy_state *ps)
{
	struct timespec t;
	struct stat sb;
	bool changed = false;

	pthread_mutex_lock(&ps->mu);
	for (unsigned i = 0; i < ps->n_files && !changed; i++) {
		memset(&t, 0, sizeof(t));
		if (stat(ps->files[i], &sb) == 0)
			t = sb.st_mtim;
		changed = t.tv_sec != ps->mtime[i].tv_sec || t.tv_nsec != ps->mtime[i].tv_nsec;
	}
	pthread_mutex_unlock(&ps->mu);
	return changed;
}

static void policy_reload_fn(void *ctx)
{
	policy_reload(ctx);
}

static void files_tick(void *arg)
{
	struct policy_state *ps = arg;

	if (files_changed(ps))
		daemon_reload(policy_reload_fn, ps, "a hosts or RPZ file changed");
}

/* SIGHUP: the configuration file again (opts_reload: what applies while
 * running), the policy, and the TLS certificates and CAs; static zones
 * and the cache are read live, so say what the store holds now. */
static void local_reload(void *ctx)
{
	struct worker *workers = ctx;
	struct tdns_txn *t = NULL;
	enum tdns_status st;

	opts_reload(workers[0].o);
	policy_reload(workers[0].pol);
	(void)tls_reload(workers[0].tls->dot);
	(void)tls_reload(workers[0].tls->doh);
	(void)tls_reload(workers[0].tls->upstream);
	st = store_begin(workers[0].store, false, &t);
	if (st != TDNS_OK) {
		log_err("store %s: %s", workers[0].o->db_dir, tdns_strerror(st));
		return;
	}
	log_info("store %s holds %zu static zone%s and %zu cached answer%s",
		 workers[0].o->db_dir, store_count(t, TDNS_DB_ZONES),
		 store_count(t, TDNS_DB_ZONES) == 1 ? "" : "s",
		 store_count(t, TDNS_DB_CACHE),
		 store_count(t, TDNS_DB_CACHE) == 1 ? "" : "s");
	store_abort(t);
}

/* The control thread's sums (control.h): every worker's counters. */
static void local_stats(void *ctx, struct tdns_stats_sum *sum)
{
	struct worker *workers = ctx;

	for (unsigned i = 0; i < workers[0].n_workers; i++) {
		struct worker *w = &workers[i];

		stats_sum_add(sum, &w->stats);
		sum->tcp_accepted += netio_tcp_accepted(w->loop);
		sum->upstream_cookie_forged += upstream_cookie_forged(w->up);
		pthread_mutex_lock(&w->r_mu);
		if (w->r != NULL)
			stats_sum_add_resolver(sum, resolver_stats(w->r));
		pthread_mutex_unlock(&w->r_mu);
	}
	if (workers[0].tap != NULL)
		sum->dnstap_dropped = dnstap_dropped(workers[0].tap);
}

/* After a cache flush: no worker may answer a flushed question from its
 * failure cache. */
static void local_flushed(void *ctx)
{
	struct worker *workers = ctx;

	for (unsigned i = 0; i < workers[0].n_workers; i++) {
		pthread_mutex_lock(&workers[i].r_mu);
		if (workers[i].r != NULL)
			resolver_cache_flushed(workers[i].r);
		pthread_mutex_unlock(&workers[i].r_mu);
	}
}

/* Thread n_workers, when there is one, runs the RPZ transfers' loop. */
static struct tdns_loop *worker_loop(void *ctx, unsigned i)
{
	struct worker *workers = ctx;

	return i == workers[0].n_workers ? workers[0].pol->xfr_loop : workers[i].loop;
}

static enum tdns_status worker_run(void *ctx, unsigned i)
{
	struct worker *w = &((struct worker *)ctx)[i];
	enum tdns_status st;

	if (i == ((struct worker *)ctx)[0].n_workers)
		return netio_loop_run(((struct worker *)ctx)[0].pol->xfr_loop);

	pipeline_bind_stats(&w->stats);
	st = netio_loop_run(w->loop);
	netio_loop_set_flush(w->loop, NULL, NULL);
	worker_report(w);
	pthread_mutex_lock(&w->r_mu);
	resolver_free(w->r);
	w->r = NULL;
	pthread_mutex_unlock(&w->r_mu);
	return st;
}

/* The trust anchors of --trust-anchor and the --insecure-domain names:
 * validation is on once this succeeds. A file that cannot be used stops
 * the start (a validator without its anchor would serve forgeries). */
static enum tdns_status load_anchors(const struct tdns_opts *o, struct tdns_anchors **out)
{
	struct tdns_anchors *ta = NULL;
	char err[512];
	enum tdns_status st;

	st = anchors_new(&ta);
	if (st == TDNS_OK)
		st = anchors_load(ta, o->trust_anchor, err, sizeof(err));
	else
		snprintf(err, sizeof(err), "%s", tdns_strerror(st));
	for (unsigned i = 0; st == TDNS_OK && i < o->n_insecure; i++) {
		st = anchors_add_insecure(ta, o->insecure[i]);
		if (st != TDNS_OK)
			snprintf(err, sizeof(err), "insecure domain %s: %s", o->insecure[i],
				 tdns_strerror(st));
	}
	if (st != TDNS_OK) {
		log_err("trust anchor: %s", err);
		anchors_free(ta);
		return st;
	}
	log_info("DNSSEC validation on: %zu trust anchor%s from %s, %u insecure domain%s",
		 anchors_count(ta), anchors_count(ta) == 1 ? "" : "s", o->trust_anchor,
		 o->n_insecure, o->n_insecure == 1 ? "" : "s");
	*out = ta;
	return TDNS_OK;
}

int main(int argc, char **argv)
{
	struct tdns_store_opts so;
	struct tdns_store *store = NULL;
	struct tdns_infra *infra = NULL;
	struct tdns_sketch *sketch = NULL;
	struct worker *workers = NULL;
	struct tdns_control_ops cops;
	struct tdns_control *ctl = NULL;
	struct tdns_dnstap *tap = NULL;
	struct tls_cfgs tls = { NULL, NULL, NULL };
	struct tdns_cookie_cfg cookies;
	struct tdns_anchors *anchors = NULL;
	struct tdns_opts o;
	struct policy_state ps;
	struct tdns_policy *pol = NULL;
	struct tdns_addr *ups = NULL;
	const char **auth = NULL;
	unsigned n_ups = 0;
	char identity[256], addr[64];
	const char *ident = NULL;
	struct tdns_auth_cfg chaos = { 0 };
	enum tdns_status st;
	unsigned i;
	int rc = 1;

	switch (opts_parse(TDNS_PROG_LOCAL, argc, argv, &o)) {
	case OPTS_RUN:
		break;
	case OPTS_EXIT_OK:
		return 0;
	case OPTS_USAGE:
		return 2;
	}
	log_init("tierdns-local", log_level_for(o.verbose));
	log_set_target(o.log_target);
	daemon_signals_init();
	memset(&ps, 0, sizeof(ps));
	pthread_mutex_init(&ps.mu, NULL);
	pthread_mutex_init(&ps.build_mu, NULL);

	daemon_identity(&o, identity, sizeof(identity), &ident, &chaos);

	/* Trust anchors are read once, before --chroot and --user (RFC 5011
	 * rollover is not done: a new anchor takes a restart). */
	if (o.trust_anchor != NULL && load_anchors(&o, &anchors) != TDNS_OK)
		goto out;

	memset(&so, 0, sizeof(so));
	/* The map is derived from what the cache may hold: B-tree pages are
	 * rarely full and LMDB keeps the previous snapshot's pages, so cache
	 * data needs four times its size to evict in (cache.h); the static
	 * zones and the store's own records get LOCAL_MAP_EXTRA more. The
	 * map is address space: data.mdb is as large as the map but sparse
	 * (written in place, store.h STORE_NOSYNC), its blocks taken only as
	 * pages are used. */
	so.map_size = (size_t)(o.cache_size * LOCAL_MAP_FACTOR + LOCAL_MAP_EXTRA);
	/* The cache can be refetched: no fsync per answer (it still survives
	 * kill -9, only not a power loss; store.h). */
	so.flags = STORE_NOSYNC | STORE_TIER_LOCAL;
	st = daemon_open(&o, &so, &store);
	if (st != TDNS_OK)
		goto out;

	if (o.n_tls_listen > 0 &&
	    tls_listen_setup(o.tls_listen, o.n_tls_listen, &o, "dot", &tls.dot) != TDNS_OK)
		goto out;
	if (o.n_https_listen > 0 &&
	    tls_listen_setup(o.https_listen, o.n_https_listen, &o, "h2", &tls.doh) != TDNS_OK)
		goto out;
	for (i = 0; i < o.n_upstream && tls.upstream == NULL; i++) {
		if (o.upstream_auth[i] != NULL &&
		    tls_client_new(o.tls_ca, &tls.upstream) != TDNS_OK)
			goto out;
	}
	/* The upstreams: the default set, then each forward: set (policy.h
	 * numbers them so). */
	ups = calloc(o.n_upstream + o.n_forward, sizeof(*ups));
	auth = calloc(o.n_upstream + o.n_forward, sizeof(*auth));
	if (ups == NULL || auth == NULL) {
		log_err("%s", tdns_strerror(TDNS_ENOMEM));
		goto out;
	}
	for (i = 0; i < o.n_upstream; i++, n_ups++) {
		ups[n_ups] = o.upstream[i];
		auth[n_ups] = o.upstream_auth[i];
	}
	for (i = 0; i < o.n_forward; i++)
		if (o.forward[i].how == POLICY_FWD_SET || o.forward[i].how == POLICY_FWD_STUB)
			ups[n_ups++] = o.forward[i].addr;
	ps.o = &o;
	ps.cur = &o;
	ps.n_default = o.n_upstream;
	if (rpz_zones_init(&ps, &o) != TDNS_OK) {
		log_err("%s", tdns_strerror(TDNS_ENOMEM));
		goto out;
	}
	if (policy_make(&ps, &o, &pol) != TDNS_OK || policy_box_new(pol, &ps.box) != TDNS_OK)
		goto out;
	if (rpz_xfr_start(&ps) != TDNS_OK)
		goto out;
	/* What is learnt about an upstream (dead, RTT, 0x20) is learnt once,
	 * for every worker. */
	st = infra_new(n_ups, &infra);
	if (st != TDNS_OK) {
		log_err("%s", tdns_strerror(st));
		goto out;
	}
	/* What the cache keeps is weighed by what every worker is asked: a
	 * word of counters per 64 bytes of the bound, about two per entry it
	 * holds, so one-offs rarely share all four counters of a key. */
	st = sketch_new((size_t)(o.cache_size / 64), &sketch);
	if (st != TDNS_OK) {
		log_err("%s", tdns_strerror(st));
		goto out;
	}
	workers = calloc(o.threads, sizeof(*workers));
	if (workers == NULL) {
		log_err("%s", tdns_strerror(TDNS_ENOMEM));
		goto out;
	}
	if (!o.no_cookies && !cookie_cfg_init(&cookies, o.cookie_secret, o.cookie_secret_alt)) {
		log_err("cookies: no random secret could be had");
		goto out;
	}
	for (i = 0; i < o.threads; i++) {
		workers[i].n_workers = o.threads;
		workers[i].pol = &ps;
		workers[i].cookies = o.no_cookies ? NULL : &cookies;
		workers[i].sketch = sketch;
		pthread_mutex_init(&workers[i].r_mu, NULL);
	}
	for (i = 0; i < o.threads; i++) {
		workers[i].id = i;
		st = worker_init(&workers[i], &o, store, infra, &tls, anchors, &chaos, ups, auth,
				 n_ups, ps.box);
		if (st != TDNS_OK) {
			log_err("worker %u: %s", i, tdns_strerror(st));
			goto out;
		}
	}
	for (i = 0; i < o.n_listen; i++)
		log_info("listening on %s (udp, tcp)",
			 netio_addr_str(&o.listen[i], addr, sizeof(addr)));
	for (i = 0; i < o.n_tls_listen; i++)
		log_info("listening on %s (tls)",
			 netio_addr_str(&o.tls_listen[i], addr, sizeof(addr)));
	for (i = 0; i < o.n_https_listen; i++)
		log_info("listening on %s (https, path %s)",
			 netio_addr_str(&o.https_listen[i], addr, sizeof(addr)), DOH_PATH);

	memset(&cops, 0, sizeof(cops));
	cops.prog = TDNS_PROG_LOCAL;
	cops.store = store;
	cops.db_dir = o.db_dir;
	cops.workers = o.threads;
	cops.upstream = ups;
	cops.n_upstream = n_ups;
	cops.infra = infra;
	cops.stats = local_stats;
	cops.flushed = local_flushed;
	cops.reload = local_reload;
	cops.zone_status = local_zone_status;
	cops.zone_reload = local_zone_reload;
	cops.ctx = workers;
	if (control_open(&o, &cops, &ctl) != TDNS_OK)
		goto out;
	if (o.dnstap_socket != NULL || o.dnstap_file != NULL) {
		if (dnstap_open(o.dnstap_socket, o.dnstap_file, ident, o.threads,
				"CLIENT_* and FORWARDER_* messages", &tap) != TDNS_OK)
			goto out;
		for (i = 0; i < o.threads; i++) {
			workers[i].tap = tap;
			workers[i].tapq = dnstap_queue(tap, i);
			upstream_set_tap(workers[i].up, worker_tap_upstream, &workers[i]);
		}
	}
	/* Every socket is bound: root is no longer needed. */
	if (daemon_drop(&o) != TDNS_OK)
		goto out;
	if (control_start(ctl) != TDNS_OK)
		goto out;
	daemon_set_usr1(control_log_stats, ctl);
	for (i = 0; i < o.n_upstream; i++)
		log_info("upstream %s%s%s", netio_addr_str(&o.upstream[i], addr, sizeof(addr)),
			 o.upstream_auth[i] != NULL ? " (tls) #" : "",
			 o.upstream_auth[i] != NULL ? o.upstream_auth[i] : "");
	for (i = 0; i < o.n_forward; i++)
		log_info("%s %s to %s", o.forward[i].how == POLICY_FWD_STUB ? "stub" : "forward",
			 o.forward[i].name,
			 o.forward[i].how == POLICY_FWD_NXDOMAIN  ? "none (nxdomain)"
			 : o.forward[i].how == POLICY_FWD_REFUSED ? "none (refused)"
			 : netio_addr_str(&o.forward[i].addr, addr, sizeof(addr)));
	for (i = 0; i < ps.n_rz; i++)
		log_info("rpz %s by transfer from %s%s%s%s", ps.rz[i].conf->name,
			 netio_addr_str(&ps.rz[i].conf->primaries[0], addr, sizeof(addr)),
			 ps.rz[i].conf->n_primaries > 1 ? " (and more)" : "",
			 ps.sz[i].key != NULL ? " with TSIG" : "",
			 ps.rz[i].conf->zonefile != NULL ? ", kept in its zonefile"
							  : ", kept in memory only");
	log_info("store %s, %u thread%s, version %s", o.db_dir, o.threads,
		 o.threads == 1 ? "" : "s", TDNS_VERSION);
	if (daemon_ticker_start(WATCH_POLL_MS, files_tick, &ps, &ps.watch) != TDNS_OK)
		log_err("hosts and RPZ files: no watcher thread, read again at reloads only");

	rc = daemon_run(o.threads + (ps.xfr_loop != NULL), worker_loop, worker_run, local_reload,
			workers);
out:
	daemon_ticker_stop(ps.watch);
	/* Before the workers go: the control thread reads their counters. */
	control_free(ctl);
	/* The workers are stopped: what they queued is written out. */
	dnstap_close(tap);
	if (workers != NULL) {
		for (i = 0; i < o.threads; i++) {
			worker_fini(&workers[i]);
			pthread_mutex_destroy(&workers[i].r_mu);
		}
		free(workers);
	}
	infra_free(infra);
	sketch_free(sketch);
	rpz_fini(&ps);
	if (ps.cur != &o && ps.cur != NULL) {
		opts_free(ps.cur);
		free(ps.cur);
	}
	policy_box_free(ps.box);
	for (i = 0; i < ps.n_files; i++)
		free(ps.files[i]);
	free(ps.files);
	free(ps.mtime);
	pthread_mutex_destroy(&ps.mu);
	pthread_mutex_destroy(&ps.build_mu);
	free(ups);
	free(auth);
	anchors_free(anchors);
	store_close(store);
	tls_free(tls.dot);
	tls_free(tls.doh);
	tls_free(tls.upstream);
	daemon_cleanup(&o);
	opts_free(&o);
	return rc;
}
