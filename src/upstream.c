/*
 * upstream.c - the resolver's transport over netio: one outbound socket per
 * attempt, one timer for the resolver's deadlines.
 */
#include "tierdns/upstream.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tierdns/clock.h"
#include "tierdns/log.h"
#include "tierdns/pool.h"

#define TAB_MIN 64    /* slots of the attempt table to begin with */

/* One attempt's socket. */
struct attempt {
	struct tdns_upstream *up;
	uint64_t token;
	struct tdns_out *out;
	bool in_cb; /* inside resolver_on_reply for this attempt */
	bool dead;  /* done was called meanwhile: free after the callback */
};

struct tdns_upstream {
	struct tdns_loop *loop;
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

/* Close the attempt's socket; its memory is kept for the next attempt. */
static void free_attempt(struct tdns_upstream *up, struct attempt *a)
{
	if (a == NULL)
		return;
	if (a->out != NULL)
		netio_out_close(a->out);
	pool_put(&up->spare, a);
}

static void on_msg(void *ctx, struct tdns_out *o, const uint8_t *msg, size_t len)
{
	struct attempt *a = ctx;

	(void)o;
	/* The resolver may end this attempt (done) from inside the call: the
	 * socket must outlive the callback netio is running for it. */
	a->in_cb = true;
	resolver_on_reply(a->up->r, a->token, msg, len);
	a->in_cb = false;
	if (a->dead)
		free_attempt(a->up, a);
}

static enum tdns_status tr_send(void *ctx, uint64_t token, unsigned upstream,
				bool tcp, const uint8_t *msg, size_t len)
{
	struct tdns_upstream *up = ctx;
	struct attempt *a = NULL;
	char addr[64];
	enum tdns_status st = TDNS_EINVAL;

	if (upstream >= up->n)
		goto out;
	st = TDNS_ENOMEM;
	a = pool_get(&up->spare, sizeof(*a));
	if (a == NULL || !tab_reserve(up))
		goto out;
	a->up = up;
	a->token = token;
	st = tcp ? netio_out_tcp(up->loop, &up->addrs[upstream], on_msg, a, &a->out)
		 : netio_out_udp(up->loop, &up->addrs[upstream], on_msg, a, &a->out);
	if (st == TDNS_OK)
		st = netio_out_send(a->out, msg, len);
	if (st != TDNS_OK) {
		log_warn("upstream %s: %s",
			 netio_addr_str(&up->addrs[upstream], addr, sizeof(addr)),
			 tdns_strerror(st));
		goto out;
	}
	tab_place(up, a);
	up->n_open++;
	a = NULL;
out:
	free_attempt(up, a);
	return st;
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
			      unsigned n, struct tdns_upstream **out)
{
	struct tdns_upstream *up = NULL;
	enum tdns_status st = TDNS_EINVAL;

	*out = NULL;
	if (loop == NULL || n == 0)
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
	free(up->addrs);
	free(up);
}

struct tdns_transport upstream_transport(struct tdns_upstream *up)
{
	struct tdns_transport t = {
		.send = tr_send,
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
