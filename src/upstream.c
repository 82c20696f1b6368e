/*
 * upstream.c - the resolver's transport over netio: one outbound socket per
 * attempt (one shared TLS connection per DoT upstream), one timer for the
 * resolver's deadlines.
 */
#include "tierdns/upstream.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tierdns/clock.h"
#include "tierdns/cookie.h"
#include "tierdns/dnsproto.h"
#include "tierdns/edns.h"
#include "tierdns/log.h"
#include "tierdns/pool.h"
#include "tierdns/stats.h"
#include "tierdns/tls.h"

#define TAB_MIN 64    /* slots of the attempt table to begin with */
/* A query with a COOKIE added fits here (RFC 1035 name limits, one OPT with
 * a few options); a bigger one goes without. */
#define UPSTREAM_QUERY_MAX 1024
#define DOT_BUCKETS 256 /* a DoT connection's attempts, by the low byte of
			 * their ID (IDs are random: a reply finds its
			 * attempt among about 1/256 of those in flight) */
/* A DoT connection found busy by its idle timer looks again after its idle
 * time, but not sooner than this (an idle time of 0, a server's keepalive
 * of 0, must not make the timer spin while queries are in flight). */
#define DOT_IDLE_RECHECK_MIN_MS 100
/* A DoT connection on which nothing at all came back while an attempt
 * waited this long, until it ended unanswered, is stalled (a handshake
 * that never finishes, a peer gone silent): it takes no new attempt. */
#define DOT_STALL_MS 1000

struct dot_conn;

/* The idx of an attempt at a server that is none of the upstreams
 * (resolve.h send_to): clear UDP/TCP, no cookie state kept for it. */
#define NOT_UPSTREAM UINT_MAX

/* One attempt's socket, or its place on a DoT connection. */
struct attempt {
	struct tdns_upstream *up;
	uint64_t token;
	struct tdns_out *out;       /* NULL on a DoT connection */
	struct dot_conn *dot;       /* the DoT connection it waits on, or NULL */
	uint16_t id;                /* its query's ID (DoT: how replies find it) */
	struct attempt *dprev, *dnext; /* its bucket of the DoT connection */
	unsigned idx; /* the upstream it went to, or NOT_UPSTREAM */
	const struct tdns_addr *to; /* its address: up->addrs[idx], or own */
	struct tdns_addr own;       /* NOT_UPSTREAM: the server's address */
	uint64_t sent_ms; /* DoT: when it went on its connection (clock_mono_coarse_ms) */
	bool tcp;     /* sent over TCP (after a TC) */
	bool in_cb; /* inside resolver_on_reply for this attempt */
	bool dead;  /* done was called meanwhile: free after the callback */
};

/* A DNS over TLS connection to one upstream, kept open and shared by
 * every attempt sent to it (RFC 7858 3.4: reuse, pipelining, answers in
 * any order), so a miss costs no handshake. Replies find their attempt by
 * message ID; two attempts in flight on one connection never share one.
 *
 * Idle (RFC 7766 6.2.1, RFC 7858 3.4): once no attempt has been on it for
 * idle_ms, the client closes it (close_notify, then close). The timer is
 * lazy so that a query costs no timer operation: it is armed when the
 * connection opens and, when it fires, closes the connection if it has
 * been idle long enough, else sets itself for the rest of the time (busy:
 * a whole idle time). A query only writes idle_since when the connection
 * goes idle. */
struct dot_conn {
	struct tdns_upstream *up;
	unsigned upstream;
	struct tdns_out *out;
	struct attempt *bucket[DOT_BUCKETS];
	unsigned n;  /* attempts on it */
	bool in_cb;  /* inside its netio callback: freed when that returns */
	bool gone;   /* failed or closed: no new attempt joins it */
	bool ka_asked; /* the query ka_id asked for the keepalive (RFC 7828) */
	uint16_t ka_id;
	unsigned idle_ms;    /* up->idle_ms, or less after the server's keepalive */
	uint64_t idle_since; /* when n last fell to 0 (clock_mono_ms) */
	uint64_t last_rx;    /* when it last brought a message (coarse); 0: never */
	struct tdns_timer *idle; /* the idle timer, NULL: none armed */
};

struct tdns_upstream {
	struct tdns_loop *loop;
	upstream_tap_fn tap;        /* NULL: none (upstream_set_tap) */
	void *tap_ctx;
	struct tdns_addr *addrs;
	unsigned n;
	struct tdns_resolver *r;
	/* The open attempts by token: open addressing with linear probing,
	 * at most half full, so done finds its attempt in O(1) with hundreds
	 * in flight. cap is a power of two (0 before the first attempt). */
	struct attempt **tab;
	size_t cap, n_open;
	struct tdns_pool spare; /* ended attempts (no malloc per miss) */
	struct tdns_timer *timer;
	unsigned idle_ms; /* DoT: close a connection idle this long */
	/* DoT: auth[i] non-NULL makes upstream i DNS over TLS, checked for
	 * that name under tls; dot[i] its current connection (or NULL). */
	char **auth;
	struct tdns_tls *tls;
	struct dot_conn **dot;
	/* DoT: the session to resume when upstream i is connected again
	 * (the last ticket it gave this loop). */
	struct tdns_tls_session **sess;
	/* DNS cookies to clear (UDP, TCP) upstreams (cookie.h client side),
	 * when cookies: our client cookie for upstream i, and the server
	 * cookie it gave last (slen[i] bytes, 0: none yet). */
	bool cookies;
	uint8_t (*ccookie)[COOKIE_CLIENT_LEN];
	uint8_t (*scookie)[COOKIE_SERVER_MAX];
	uint8_t *slen;
	tdns_counter forged;             /* replies dropped: not our cookie
					  * (stats.h: the loop's thread writes) */
	uint8_t qbuf[UPSTREAM_QUERY_MAX]; /* a query with its COOKIE added */
};

/* The resolver's tokens are a sequence number over a slot number: mix the
 * bits so neither half alone picks the bucket. */
static size_t tab_home(const struct tdns_upstream *up, uint64_t token)
{
	uint64_t h = token * 0x9e3779b97f4a7c15u;

	return (size_t)(h ^ h >> 32) & (up->cap - 1);
}

/* The table index of the attempt with this token, or SIZE_MAX. */
static size_t tab_find(const struct tdns_upstream *up, uint64_t token)
{
	size_t i;

	if (up->n_open == 0)
		return SIZE_MAX;
	for (i = tab_home(up, token); up->tab[i] != NULL; i = (i + 1) & (up->cap - 1))
		if (up->tab[i]->token == token)
			return i;
	return SIZE_MAX;
}

static void tab_place(struct tdns_upstream *up, struct attempt *a)
{
	size_t i;

	for (i = tab_home(up, a->token); up->tab[i] != NULL; i = (i + 1) & (up->cap - 1))
		;
	up->tab[i] = a;
}

/* Room for one more attempt (the table doubles when half full). */
static bool tab_reserve(struct tdns_upstream *up)
{
	struct attempt **old = up->tab;
	size_t old_cap = up->cap, cap, i;

	if ((up->n_open + 1) * 2 <= up->cap)
		return true;
	cap = up->cap == 0 ? TAB_MIN : up->cap * 2;
	up->tab = calloc(cap, sizeof(*up->tab));
	if (up->tab == NULL) {
		up->tab = old;
		return false;
	}
	up->cap = cap;
	for (i = 0; i < old_cap; i++)
		if (old[i] != NULL)
			tab_place(up, old[i]);
	free(old);
	return true;
}

/* Remove the entry at i; later entries of its probe run move back into
 * the hole (no tombstones, so lookups stay short). */
static void tab_remove(struct tdns_upstream *up, size_t i)
{
	size_t mask = up->cap - 1, j = i, home;

	up->tab[i] = NULL;
	up->n_open--;
	for (;;) {
		j = (j + 1) & mask;
		if (up->tab[j] == NULL)
			return;
		home = tab_home(up, up->tab[j]->token);
		/* The entry at j stays when its home lies cyclically in (i, j]. */
		if (((j - home) & mask) < ((j - i) & mask))
			continue;
		up->tab[i] = up->tab[j];
		up->tab[j] = NULL;
		i = j;
	}
}

static void dot_unlink(struct attempt *a)
{
	struct dot_conn *c = a->dot;

	if (c == NULL)
		return;
	if (a->dprev != NULL)
		a->dprev->dnext = a->dnext;
	else
		c->bucket[a->id % DOT_BUCKETS] = a->dnext;
	if (a->dnext != NULL)
		a->dnext->dprev = a->dprev;
	a->dprev = a->dnext = NULL;
	a->dot = NULL;
	if (--c->n == 0)
		c->idle_since = clock_mono_ms();
}

/* c takes no new attempt: the next one opens another connection. */
static void dot_retire(struct dot_conn *c)
{
	c->gone = true;
	if (c->up->dot[c->upstream] == c)
		c->up->dot[c->upstream] = NULL;
}

/* Close a DoT connection (unless its own callback is running: that frees
 * it when it returns). */
static void dot_close(struct dot_conn *c)
{
	netio_timer_cancel(c->up->loop, c->idle);
	c->idle = NULL;
	dot_retire(c);
	if (c->in_cb)
		return;
	netio_out_close(c->out);
	free(c);
}

static void dot_idle_fired(void *ctx);

/* Set c's idle timer to fire after delay_ms (replacing one armed). */
static void dot_idle_arm(struct dot_conn *c, uint64_t delay_ms)
{
	netio_timer_cancel(c->up->loop, c->idle);
	c->idle = netio_timer_add(c->up->loop, delay_ms, dot_idle_fired, c);
	if (c->idle == NULL)
		log_err("upstream: no memory for a timer; an idle DoT connection stays open");
}

/* How long from now until c has been idle for its idle time; busy: its
 * idle time (at least DOT_IDLE_RECHECK_MIN_MS). */
static uint64_t dot_idle_delay(const struct dot_conn *c, uint64_t now)
{
	uint64_t due = c->idle_since + c->idle_ms;

	if (c->n > 0)
		return c->idle_ms > DOT_IDLE_RECHECK_MIN_MS ? c->idle_ms : DOT_IDLE_RECHECK_MIN_MS;
	return due > now ? due - now : 0;
}

static void dot_idle_fired(void *ctx)
{
	struct dot_conn *c = ctx;
	uint64_t delay = dot_idle_delay(c, clock_mono_ms());
	char as[64];

	c->idle = NULL; /* the handle dies as the callback starts */
	if (c->n > 0 || delay > 0) {
		dot_idle_arm(c, delay);
		return;
	}
	log_debug("upstream %s (tls): idle for %u ms, closed",
		  netio_addr_str(&c->up->addrs[c->upstream], as, sizeof(as)), c->idle_ms);
	dot_close(c);
}

/* The reply msg to the query that asked for the server's idle timeout
 * (RFC 7828 3.2.1): when it carries one (TIMEOUT, 100 ms units), the
 * connection's idle time becomes the smaller of ours and 7/8 of the
 * server's. The client closes first (RFC 7828 3.2, RFC 7766 6.2.1):
 * the server counts from its answer, before this reply arrived, and the
 * margin covers the round trip and a late timer. A TIMEOUT of 0 closes
 * the connection as soon as it is idle. */
static void dot_keepalive(struct dot_conn *c, const uint8_t *msg, size_t len)
{
	const uint8_t *data;
	size_t dlen;
	uint64_t ms;

	if (!edns_opt_find(msg, len, DNS_OPT_TCP_KEEPALIVE, &data, &dlen) || dlen != 2)
		return;
	ms = (uint64_t)dns_rd16(data) * 100;
	ms -= ms / 8;
	if (ms >= c->idle_ms)
		return;
	c->idle_ms = (unsigned)ms;
	dot_idle_arm(c, dot_idle_delay(c, clock_mono_ms()));
}

/* Close the attempt's socket (or leave its DoT connection, which stays
 * open for the next attempts unless it already failed); its memory is kept
 * for the next attempt. */
static void free_attempt(struct tdns_upstream *up, struct attempt *a)
{
	struct dot_conn *c;

	if (a == NULL)
		return;
	if (a->out != NULL)
		netio_out_close(a->out);
	c = a->dot;
	dot_unlink(a);
	if (c != NULL && c->gone && c->n == 0)
		dot_close(c);
	pool_put(&up->spare, a);
}

/* Upstream i is DNS over TLS. */
static bool is_dot(const struct tdns_upstream *up, unsigned i)
{
	return i < up->n && up->auth != NULL && up->auth[i] != NULL;
}

/* Queries to upstream i carry cookies (one of the clear upstreams). */
static bool has_cookies(const struct tdns_upstream *up, unsigned i)
{
	return up->cookies && i < up->n && !is_dot(up, i);
}

/* How attempt a went: 1 UDP, 2 TCP, 3 DNS over TLS (dnstap.h's numbers). */
static int a_proto(const struct tdns_upstream *up, const struct attempt *a)
{
	if (is_dot(up, a->idx))
		return 3;
	return a->tcp ? 2 : 1;
}

/* Deliver msg to attempt a, or (msg NULL) the failure of its socket o;
 * the resolver may end the attempt (done) from inside the call, so it is
 * freed only afterwards. */
static void deliver(struct attempt *a, const uint8_t *msg, size_t len,
		    const struct tdns_out *o)
{
	struct tdns_upstream *up = a->up;
	uint8_t server[COOKIE_SERVER_MAX];
	size_t slen;

	if (msg != NULL && has_cookies(up, a->idx)) {
		switch (cookie_client_check(msg, len, up->ccookie[a->idx], server, &slen)) {
		case COOKIE_REPLY_FORGED:
			/* RFC 7873 5.3: not the server's answer to us. The
			 * attempt waits on for the real one (or times out). */
			stats_inc(&up->forged);
			log_debug("upstream reply with a cookie that is not ours: dropped");
			return;
		case COOKIE_REPLY_MATCH:
			if (slen > 0) {
				memcpy(up->scookie[a->idx], server, slen);
				up->slen[a->idx] = (uint8_t)slen;
			}
			break;
		case COOKIE_REPLY_NONE:
			break;
		}
	}

	if (msg != NULL && up->tap != NULL)
		up->tap(up->tap_ctx, a->to, a_proto(up, a), true, msg, len);
	a->in_cb = true;
	if (msg != NULL)
		resolver_on_reply(a->up->r, a->token, msg, len);
	else
		resolver_on_failure(a->up->r, a->token,
				    netio_out_auth_failed(o) ? RESOLVER_FAIL_TLS_AUTH
							     : RESOLVER_FAIL_NETWORK,
				    netio_out_errno(o));
	a->in_cb = false;
	if (a->dead)
		free_attempt(a->up, a);
}

/* A reply on a DoT connection goes to the attempt with its ID; a failure
 * (handshake, verification, reset, the server closing) to every attempt
 * on it, and the connection is dropped: the next attempt opens another. */
static void on_dot_msg(void *ctx, struct tdns_out *o, const uint8_t *msg, size_t len)
{
	struct dot_conn *c = ctx;
	struct attempt *a;
	uint16_t id;
	size_t i;

	c->in_cb = true;
	if (msg == NULL) {
		dot_retire(c);
		for (i = 0; i < DOT_BUCKETS; i++) {
			while ((a = c->bucket[i]) != NULL) {
				dot_unlink(a);
				deliver(a, NULL, 0, o);
			}
		}
	} else if (len >= 2) {
		c->last_rx = clock_mono_coarse_ms();
		id = (uint16_t)(msg[0] << 8 | msg[1]);
		if (c->ka_asked && id == c->ka_id) {
			c->ka_asked = false;
			dot_keepalive(c, msg, len);
		}
		for (a = c->bucket[id % DOT_BUCKETS]; a != NULL && a->id != id; a = a->dnext)
			;
		/* No attempt with that ID (it timed out, or the server
		 * is confused): the resolver would ignore it anyway. */
		if (a != NULL)
			deliver(a, msg, len, o);
	}
	c->in_cb = false;
	if (c->gone && c->n == 0)
		dot_close(c);
}

/* Send msg as attempt a on upstream i's DoT connection (opened when there
 * is none; ka: msg asks for the server's keepalive). */
static enum tdns_status dot_send(struct tdns_upstream *up, struct attempt *a,
				 unsigned i, const uint8_t *msg, size_t len, bool ka)
{
	struct dot_conn *c = up->dot[i];
	struct attempt *b, **bucket;
	enum tdns_status st;

	if (len < 2)
		return TDNS_EINVAL;
	a->id = (uint16_t)(msg[0] << 8 | msg[1]);
	if (c == NULL) {
		c = calloc(1, sizeof(*c));
		if (c == NULL)
			return TDNS_ENOMEM;
		c->up = up;
		c->upstream = i;
		c->idle_ms = up->idle_ms;
		c->ka_asked = ka;
		c->ka_id = a->id;
		st = netio_out_tls(up->loop, &up->addrs[i], up->tls, up->auth[i],
				   &up->sess[i], on_dot_msg, c, &c->out);
		if (st != TDNS_OK) {
			free(c);
			return st;
		}
		up->dot[i] = c;
		dot_idle_arm(c, c->idle_ms);
	}
	/* A 16-bit ID clash with a query still in flight (1 in 65536 per
	 * pair): this one goes to the next upstream instead. */
	bucket = &c->bucket[a->id % DOT_BUCKETS];
	for (b = *bucket; b != NULL; b = b->dnext)
		if (b->id == a->id)
			return TDNS_EBUSY;
	st = netio_out_send(c->out, msg, len);
	if (st != TDNS_OK) {
		if (c->n == 0)
			dot_close(c);
		return st;
	}
	a->dot = c;
	a->sent_ms = clock_mono_coarse_ms();
	a->dnext = *bucket;
	if (*bucket != NULL)
		(*bucket)->dprev = a;
	*bucket = a;
	c->n++;
	return TDNS_OK;
}

static void on_msg(void *ctx, struct tdns_out *o, const uint8_t *msg, size_t len)
{
	/* The socket must outlive the callback netio is running for it. */
	deliver(ctx, msg, len, o);
}

/* Send msg as the attempt token to upstream idx, or (idx NOT_UPSTREAM)
 * to the server at *to. */
static enum tdns_status send_attempt(struct tdns_upstream *up, uint64_t token, unsigned idx,
				     const struct tdns_addr *to, bool tcp, const uint8_t *msg,
				     size_t len)
{
	struct attempt *a = NULL;
	char addr[64];
	size_t clen;
	bool ka;
	enum tdns_status st = TDNS_ENOMEM;

	a = pool_get(&up->spare, sizeof(*a));
	if (a == NULL || !tab_reserve(up))
		goto out;
	a->up = up;
	a->token = token;
	a->idx = idx;
	a->tcp = tcp;
	if (idx == NOT_UPSTREAM) {
		a->own = *to;
		a->to = &a->own;
	} else {
		a->to = &up->addrs[idx];
	}
	if (has_cookies(up, idx) &&
	    cookie_client_add(msg, len, up->ccookie[idx], up->scookie[idx], up->slen[idx],
			      up->qbuf, sizeof(up->qbuf), &clen)) {
		msg = up->qbuf;
		len = clen;
	}
	if (is_dot(up, idx)) {
		/* DoT: TC never happens on a stream; tcp changes nothing.
		 * The first query on a new connection asks for the server's
		 * idle timeout (RFC 7828 3.2.1; no cookies on DoT, so qbuf
		 * is free). */
		ka = up->dot[idx] == NULL &&
		     edns_opt_append(msg, len, DNS_OPT_TCP_KEEPALIVE, NULL, 0, up->qbuf,
				     sizeof(up->qbuf), &clen);
		if (ka) {
			msg = up->qbuf;
			len = clen;
		}
		st = dot_send(up, a, idx, msg, len, ka);
	} else {
		st = tcp ? netio_out_tcp(up->loop, a->to, on_msg, a, &a->out)
			 : netio_out_udp(up->loop, a->to, on_msg, a, &a->out);
		if (st == TDNS_OK)
			st = netio_out_send(a->out, msg, len);
	}
	if (st != TDNS_OK) {
		log_warn("%s %s: %s", idx == NOT_UPSTREAM ? "name server" : "upstream",
			 netio_addr_str(a->to, addr, sizeof(addr)), tdns_strerror(st));
		goto out;
	}
	if (up->tap != NULL)
		up->tap(up->tap_ctx, a->to, a_proto(up, a), false, msg, len);
	tab_place(up, a);
	up->n_open++;
	a = NULL;
out:
	free_attempt(up, a);
	return st;
}

static enum tdns_status tr_send(void *ctx, uint64_t token, unsigned upstream,
				bool tcp, const uint8_t *msg, size_t len)
{
	struct tdns_upstream *up = ctx;

	if (upstream >= up->n)
		return TDNS_EINVAL;
	return send_attempt(up, token, upstream, NULL, tcp, msg, len);
}

static enum tdns_status tr_send_to(void *ctx, uint64_t token, const struct tdns_addr *addr,
				   bool tcp, const uint8_t *msg, size_t len)
{
	return send_attempt(ctx, token, NOT_UPSTREAM, addr, tcp, msg, len);
}

/* Attempt a ends: when it waited DOT_STALL_MS or more on a DoT connection
 * that brought nothing since a was sent (a reply to it would have), that
 * connection is stalled. It takes no new attempt, so the next one opens
 * another; those on it wait on to their own deadlines, and it closes after
 * the last (free_attempt). Its idle timer alone would not close it while
 * misses keep coming. */
static void dot_stall_check(const struct attempt *a)
{
	struct dot_conn *c = a->dot;
	uint64_t now;
	char as[64];

	if (c == NULL || c->gone || c->last_rx >= a->sent_ms)
		return;
	now = clock_mono_coarse_ms();
	if (now - a->sent_ms < DOT_STALL_MS)
		return;
	log_warn("upstream %s (tls): nothing received in the %llu ms a query waited; "
		 "the next query opens a new connection",
		 netio_addr_str(&c->up->addrs[c->upstream], as, sizeof(as)),
		 (unsigned long long)(now - a->sent_ms));
	dot_retire(c);
}

static void tr_done(void *ctx, uint64_t token)
{
	struct tdns_upstream *up = ctx;
	struct attempt *a;
	size_t i = tab_find(up, token);

	if (i == SIZE_MAX)
		return;
	a = up->tab[i];
	tab_remove(up, i);
	dot_stall_check(a);
	if (a->in_cb)
		a->dead = true;
	else
		free_attempt(up, a);
}

static void on_timer(void *ctx)
{
	struct tdns_upstream *up = ctx;

	up->timer = NULL; /* the handle dies as the callback starts */
	resolver_tick(up->r, clock_mono_ms());
}

static void tr_wake(void *ctx, uint64_t deadline_ms)
{
	struct tdns_upstream *up = ctx;
	uint64_t now = clock_mono_ms();

	if (up->timer != NULL)
		netio_timer_cancel(up->loop, up->timer);
	up->timer = NULL;
	if (deadline_ms == UINT64_MAX)
		return;
	up->timer = netio_timer_add(up->loop, deadline_ms > now ? deadline_ms - now : 0,
				    on_timer, up);
	if (up->timer == NULL)
		log_err("upstream: no memory for a timer; timeouts are late");
}

enum tdns_status upstream_new(struct tdns_loop *loop, const struct tdns_addr *addrs,
			      const char *const *auth, unsigned n, struct tdns_tls *tls,
			      struct tdns_upstream **out)
{
	struct tdns_upstream *up = NULL;
	enum tdns_status st = TDNS_EINVAL;
	unsigned i;

	*out = NULL;
	if (loop == NULL || n == 0)
		goto out;
	for (i = 0; auth != NULL && i < n; i++)
		if (auth[i] != NULL && tls == NULL)
			goto out;
	st = TDNS_ENOMEM;
	up = calloc(1, sizeof(*up));
	if (up == NULL)
		goto out;
	up->addrs = calloc(n, sizeof(*up->addrs));
	if (up->addrs == NULL)
		goto out;
	memcpy(up->addrs, addrs, n * sizeof(*addrs));
	up->n = n;
	up->loop = loop;
	up->idle_ms = UPSTREAM_IDLE_DEFAULT_MS;
	if (auth != NULL) {
		up->tls = tls;
		up->auth = calloc(n, sizeof(*up->auth));
		up->dot = calloc(n, sizeof(*up->dot));
		up->sess = calloc(n, sizeof(*up->sess));
		if (up->auth == NULL || up->dot == NULL || up->sess == NULL)
			goto out;
		for (i = 0; i < n; i++)
			if (auth[i] != NULL && (up->auth[i] = strdup(auth[i])) == NULL)
				goto out;
	}
	*out = up;
	up = NULL;
	st = TDNS_OK;
out:
	upstream_free(up);
	return st;
}

void upstream_free(struct tdns_upstream *up)
{
	size_t i;

	if (up == NULL)
		return;
	if (up->timer != NULL)
		netio_timer_cancel(up->loop, up->timer);
	for (i = 0; i < up->cap; i++)
		free_attempt(up, up->tab[i]);
	free(up->tab);
	pool_drain(&up->spare);
	for (i = 0; up->dot != NULL && i < up->n; i++)
		if (up->dot[i] != NULL)
			dot_close(up->dot[i]);
	/* The connections are closed (their sessions detached from the
	 * slots) before the slots go. */
	for (i = 0; up->sess != NULL && i < up->n; i++)
		tls_session_free(up->sess[i]);
	for (i = 0; up->auth != NULL && i < up->n; i++)
		free(up->auth[i]);
	free(up->sess);
	free(up->auth);
	free(up->ccookie);
	free(up->scookie);
	free(up->slen);
	free(up->dot);
	free(up->addrs);
	free(up);
}

struct tdns_transport upstream_transport(struct tdns_upstream *up)
{
	struct tdns_transport t = {
		.send = tr_send,
		.send_to = tr_send_to,
		.done = tr_done,
		.wake = tr_wake,
		.ctx = up,
	};

	return t;
}

void upstream_set_resolver(struct tdns_upstream *up, struct tdns_resolver *r)
{
	up->r = r;
}

void upstream_set_idle(struct tdns_upstream *up, unsigned ms)
{
	up->idle_ms = ms;
}

enum tdns_status upstream_set_cookies(struct tdns_upstream *up, bool on)
{
	uint8_t secret[COOKIE_SECRET_LEN];

	up->cookies = false;
	if (!on)
		return TDNS_OK;
	if (up->ccookie == NULL) {
		up->ccookie = calloc(up->n, sizeof(*up->ccookie));
		up->scookie = calloc(up->n, sizeof(*up->scookie));
		up->slen = calloc(up->n, 1);
		if (up->ccookie == NULL || up->scookie == NULL || up->slen == NULL)
			return TDNS_ENOMEM;
	}
	if (!cookie_secret_random(secret))
		return TDNS_EIO;
	for (unsigned i = 0; i < up->n; i++)
		cookie_client_make(secret, &up->addrs[i], up->ccookie[i]);
	up->cookies = true;
	return TDNS_OK;
}

uint64_t upstream_cookie_forged(const struct tdns_upstream *up)
{
	return stats_get(&up->forged);
}

void upstream_set_tap(struct tdns_upstream *up, upstream_tap_fn fn, void *ctx)
{
	up->tap = fn;
	up->tap_ctx = ctx;
}
