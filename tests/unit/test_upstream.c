/*
 * test_upstream.c - the real transport: resolver + upstream.c + netio on one
 * loopback event loop, with a fake upstream server (a netio listener on the
 * same loop) that answers, truncates, or stays silent. Scenario tests of
 * the wiring (sockets, TCP retry, timers, socket errors); the protocol
 * decisions themselves are tested with a fake transport in test_resolve.c.
 * Nothing here sleeps: each test runs the loop until the client is answered,
 * with a safety timer that fails the test instead of hanging.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"
#include "tierdns/clock.h"
#include "tierdns/netio.h"
#include "tierdns/resolve.h"
#include "tierdns/upstream.h"
#include "oracle.h"

enum up_mode {
	UP_ANSWER = 0, /* answer www.site. A over UDP and TCP */
	UP_TC,         /* TC over UDP, the answer over TCP */
	UP_SILENT,     /* never answer */
};

struct env {
	char dir[64];
	struct tdns_store *store;
	struct tdns_loop *loop;
	struct tdns_upstream *up;
	struct tdns_resolver *r;
	struct tdns_timer *safety;
	enum up_mode mode;
	unsigned up_udp, up_tcp;  /* queries the fake upstream received */
	uint8_t answer[4096];
	size_t answer_len;
	bool answered;
	bool timed_out;
	int client;
	struct tdns_addr tapped; /* the last query the tap saw: its server */
	size_t tapped_len;       /* and length */
	unsigned n_tapped;
};

/* ---- the fake upstream ---- */

static enum netio_verdict fake_upstream(void *ctx, struct tdns_request *req,
					const uint8_t *in, size_t in_len,
					uint8_t *out, size_t *out_len)
{
	struct env *e = ctx;
	bool tcp = netio_request_is_tcp(req);
	ldns_pkt *p = NULL;
	ldns_rr *rr = NULL;
	uint8_t *w = NULL;
	size_t n = 0;

	if (tcp)
		e->up_tcp++;
	else
		e->up_udp++;
	if (e->mode == UP_SILENT)
		return NETIO_DROP;
	assert_int_equal(ldns_wire2pkt(&p, in, in_len), LDNS_STATUS_OK);
	assert_true(ldns_pkt_rd(p));
	ldns_pkt_set_qr(p, true);
	ldns_pkt_set_ra(p, true);
	ldns_pkt_set_edns_udp_size(p, 0);
	ldns_pkt_set_arcount(p, 0);
	if (e->mode == UP_TC && !tcp) {
		ldns_pkt_set_tc(p, true);
	} else {
		assert_int_equal(ldns_rr_new_frm_str(&rr, "www.site. 300 IN A 192.0.2.10",
						     0, NULL, NULL),
				 LDNS_STATUS_OK);
		assert_true(ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, rr));
	}
	assert_int_equal(ldns_pkt2wire(&w, p, &n), LDNS_STATUS_OK);
	memcpy(out, w, n);
	*out_len = n;
	free(w);
	ldns_pkt_free(p);
	return NETIO_REPLY;
}

/* ---- the daemon side ---- */

static void *client_hold(void *ctx, void *request)
{
	(void)ctx;
	return request;
}

static void client_answer(void *ctx, void *held, const uint8_t *msg, size_t len)
{
	struct env *e = ctx;

	assert_ptr_equal(held, &e->client);
	assert_non_null(msg);
	assert_true(len <= sizeof(e->answer));
	memcpy(e->answer, msg, len);
	e->answer_len = len;
	e->answered = true;
	netio_loop_stop(e->loop);
}

static void on_safety(void *ctx)
{
	struct env *e = ctx;

	e->safety = NULL;
	e->timed_out = true;
	netio_loop_stop(e->loop);
}

/* The daemon's end of a loop iteration (main_local.c does the same). */
static void env_flush(void *ctx)
{
	resolver_flush(((struct env *)ctx)->r);
}

/* A resolver whose only upstream is `upstream` on 127.0.0.1. */
static void env_start(struct env *e, uint16_t upstream, unsigned timeout_ms)
{
	struct tdns_resolver_cfg cfg;
	struct tdns_addr addr;

	assert_int_equal(netio_addr_parse("127.0.0.1", upstream, &addr), TDNS_OK);
	assert_int_equal(upstream_new(e->loop, &addr, NULL, 1, NULL, &e->up), TDNS_OK);
	memset(&cfg, 0, sizeof(cfg));
	cfg.store = e->store;
	cfg.n_upstream = 1;
	cfg.timeout_ms = timeout_ms;
	cfg.transport = upstream_transport(e->up);
	cfg.client.hold = client_hold;
	cfg.client.answer = client_answer;
	cfg.client.ctx = e;
	assert_int_equal(resolver_new(&cfg, &e->r), TDNS_OK);
	upstream_set_resolver(e->up, e->r);
	netio_loop_set_flush(e->loop, env_flush, e);
}

static uint16_t fake_upstream_start(struct env *e)
{
	struct tdns_listen_cfg lc;

	memset(&lc, 0, sizeof(lc));
	assert_int_equal(netio_addr_parse("127.0.0.1", 0, &lc.addr), TDNS_OK);
	lc.on_query = fake_upstream;
	lc.ctx = e;
	assert_int_equal(netio_listen(e->loop, &lc), TDNS_OK);
	return netio_listen_port(e->loop);
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	clock_set_fake(0);
	tu_tmpdir(e->dir);
	assert_int_equal(store_open(e->dir, NULL, &e->store), TDNS_OK);
	e->loop = netio_loop_new();
	assert_non_null(e->loop);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	resolver_free(e->r);
	upstream_free(e->up);
	if (e->safety != NULL)
		netio_timer_cancel(e->loop, e->safety);
	netio_loop_free(e->loop);
	store_close(e->store);
	tu_rmdir(e->dir);
	free(e);
	return 0;
}

/* Ask www.site. A and run the loop until the answer (or the safety timer). */
static ldns_pkt *ask_and_run(struct env *e, uint16_t id)
{
	ldns_pkt *q = ldns_pkt_query_new(ldns_dname_new_frm_str("www.site."),
					 LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, LDNS_RD);
	uint8_t *w = NULL, out[WIRE_MAX_MSG];
	size_t n = 0, out_len = 0;
	ldns_pkt *p = NULL;

	ldns_pkt_set_id(q, id);
	assert_int_equal(ldns_pkt2wire(&w, q, &n), LDNS_STATUS_OK);
	assert_int_equal(resolver_query(e->r, w, n, false, &e->client, out,
					sizeof(out), &out_len),
			 RESOLVER_DEFER);
	free(w);
	ldns_pkt_free(q);
	e->safety = netio_timer_add(e->loop, 5000, on_safety, e);
	assert_non_null(e->safety);
	assert_int_equal(netio_loop_run(e->loop), TDNS_OK);
	assert_false(e->timed_out);
	assert_true(e->answered);
	netio_timer_cancel(e->loop, e->safety);
	e->safety = NULL;
	assert_int_equal(ldns_wire2pkt(&p, e->answer, e->answer_len), LDNS_STATUS_OK);
	assert_int_equal(ldns_pkt_id(p), id);
	assert_true(ldns_pkt_ra(p));
	return p;
}

/* ---- tests ---- */

static void test_udp_answer(void **state)
{
	struct env *e = *state;
	ldns_pkt *p;

	env_start(e, fake_upstream_start(e), 2000);
	p = ask_and_run(e, 0x1234);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(p), 1);
	ldns_pkt_free(p);
	assert_int_equal(e->up_udp, 1);
	assert_int_equal(e->up_tcp, 0);
	assert_int_equal(resolver_outstanding(e->r), 0);
}

/* TC over UDP: the same upstream is asked again over TCP. */
static void test_tc_then_tcp(void **state)
{
	struct env *e = *state;
	ldns_pkt *p;

	e->mode = UP_TC;
	env_start(e, fake_upstream_start(e), 2000);
	p = ask_and_run(e, 0x2345);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(p), 1);
	ldns_pkt_free(p);
	assert_int_equal(e->up_udp, 1);
	assert_int_equal(e->up_tcp, 1);
}

/* A silent upstream: the timer fires and the client gets SERVFAIL. */
static void test_silent_upstream(void **state)
{
	struct env *e = *state;
	ldns_pkt *p;

	e->mode = UP_SILENT;
	env_start(e, fake_upstream_start(e), 200);
	p = ask_and_run(e, 0x3456);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_SERVFAIL);
	ldns_pkt_free(p);
	assert_int_equal(e->up_udp, 1);
	assert_int_equal(resolver_stats(e->r)->upstream_timeouts, 1);
}

/* Nobody on the upstream port: the socket error (ICMP port unreachable on
 * the connected socket) ends the attempt long before the timeout. */
static void test_dead_upstream(void **state)
{
	struct env *e = *state;
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	ldns_pkt *p;

	assert_true(fd >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	env_start(e, ntohs(sin.sin_port), 60000);
	p = ask_and_run(e, 0x4567);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_SERVFAIL);
	ldns_pkt_free(p);
	assert_int_equal(resolver_stats(e->r)->upstream_timeouts, 0);
	assert_int_equal(resolver_stats(e->r)->upstream_failed, 1);
}

/* Open descriptors of this process. */
static unsigned open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned n = 0;

	assert_non_null(d);
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

/* Hundreds of attempts in flight, ended in another order than they began:
 * done(token) closes exactly that attempt's socket, an unknown or already
 * ended token changes nothing, and tokens that share their low bits (the
 * resolver's slot numbers) or their high bits are told apart. The transport
 * is driven directly, as the resolver does (the upstream stays silent). */
static void test_many_attempts(void **state)
{
	enum { N = 400 };
	struct env *e = *state;
	struct tdns_transport t;
	static const uint8_t q[] = { 0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
				     0, 0, 1, 0, 1 };
	uint64_t tok[N];
	unsigned i, k, base;

	e->mode = UP_SILENT;
	env_start(e, fake_upstream_start(e), 2000);
	t = upstream_transport(e->up);
	for (i = 0; i < N; i++)
		tok[i] = i % 2 == 0 ? (uint64_t)(i + 1) << 32 | 7 : (uint64_t)1000 << 32 | i;
	base = open_fds();
	for (i = 0; i < N; i++)
		assert_int_equal(t.send(t.ctx, tok[i], 0, false, q, sizeof(q)), TDNS_OK);
	assert_int_equal(open_fds(), base + N);
	for (i = 0; i < N; i++) {
		k = (i * 123) % N; /* 123 and 400 are coprime: each once */
		t.done(t.ctx, tok[k]);
		t.done(t.ctx, tok[k]);             /* again: nothing */
		t.done(t.ctx, tok[k] ^ (1ull << 63)); /* never sent: nothing */
		assert_int_equal(open_fds(), base + N - i - 1);
	}
	/* A slot reused with a new sequence number, as the resolver does. */
	assert_int_equal(t.send(t.ctx, (uint64_t)9 << 32 | 7, 0, false, q, sizeof(q)),
			 TDNS_OK);
	assert_int_equal(open_fds(), base + 1);
	t.done(t.ctx, (uint64_t)7 << 32 | 7);
	assert_int_equal(open_fds(), base + 1);
	t.done(t.ctx, (uint64_t)9 << 32 | 7);
	assert_int_equal(open_fds(), base);
}

static void tap_record(void *ctx, const struct tdns_addr *a, int proto, bool response,
		       const uint8_t *msg, size_t len)
{
	struct env *e = ctx;

	(void)proto;
	(void)msg;
	if (response)
		return;
	e->tapped = *a;
	e->tapped_len = len;
	e->n_tapped++;
}

/* An attempt at a server that is none of the upstreams (send_to: a name
 * server a stub zone's referral named): a socket of its own to that
 * address, which the tap is given; no cookie added (none is kept for
 * it), even with cookies on for the upstreams; done closes it. */
static void test_send_to(void **state)
{
	struct env *e = *state;
	struct tdns_transport t;
	struct tdns_addr to;
	static const uint8_t q[] = { 0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
				     0, 0, 1, 0, 1 };
	uint64_t tok = (uint64_t)5 << 32 | 3;
	unsigned base;

	e->mode = UP_SILENT;
	env_start(e, fake_upstream_start(e), 2000);
	assert_int_equal(upstream_set_cookies(e->up, true), TDNS_OK);
	upstream_set_tap(e->up, tap_record, e);
	t = upstream_transport(e->up);
	assert_non_null(t.send_to);
	assert_int_equal(netio_addr_parse("127.0.0.2:5353", 53, &to), TDNS_OK);
	base = open_fds();
	assert_int_equal(t.send_to(t.ctx, tok, &to, false, q, sizeof(q)), TDNS_OK);
	assert_int_equal(open_fds(), base + 1);
	assert_int_equal(e->n_tapped, 1);
	assert_int_equal(e->tapped.len, to.len);
	assert_memory_equal(&e->tapped.ss, &to.ss, to.len);
	assert_int_equal(e->tapped_len, sizeof(q));
	t.done(t.ctx, tok);
	assert_int_equal(open_fds(), base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_udp_answer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tc_then_tcp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_silent_upstream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dead_upstream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_attempts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_send_to, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
