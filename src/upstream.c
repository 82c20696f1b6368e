/*
 * upstream.c - the resolver's transport over netio: one outbound socket per
 * attempt, one timer for the resolver's deadlines.
 */
#include "tierdns/upstream.h"

#include <stdlib.h>
#include <string.h>

#include "tierdns/clock.h"
#include "tierdns/log.h"

/* One attempt's socket. */
struct attempt {
	struct attempt *prev, *next;
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
	struct attempt *list;
	struct tdns_timer *timer;
};

static void unlink_attempt(struct tdns_upstream *up, struct attempt *a)
{
	if (a->prev != NULL)
		a->prev->next = a->next;
	else
		up->list = a->next;
	if (a->next != NULL)
		a->next->prev = a->prev;
	a->prev = a->next = NULL;
}

static void free_attempt(struct attempt *a)
{
	if (a->out != NULL)
		netio_out_close(a->out);
	free(a);
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
		free_attempt(a);
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
	a = calloc(1, sizeof(*a));
	if (a == NULL)
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
	a->next = up->list;
	if (up->list != NULL)
		up->list->prev = a;
	up->list = a;
	a = NULL;
out:
	if (a != NULL)
		free_attempt(a);
	return st;
}

static void tr_done(void *ctx, uint64_t token)
{
	struct tdns_upstream *up = ctx;
	struct attempt *a;

	for (a = up->list; a != NULL; a = a->next)
		if (a->token == token)
			break;
	if (a == NULL)
		return;
	unlink_attempt(up, a);
	if (a->in_cb)
		a->dead = true;
	else
		free_attempt(a);
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
	if (up == NULL)
		return;
	if (up->timer != NULL)
		netio_timer_cancel(up->loop, up->timer);
	while (up->list != NULL) {
		struct attempt *a = up->list;

		unlink_attempt(up, a);
		free_attempt(a);
	}
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
