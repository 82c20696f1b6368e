/*
 * test_netio.c - the event loop over real loopback sockets on kernel-chosen
 * ports. netio does not look inside messages, so the test handler speaks a
 * tiny text protocol: the answer to "X" is "re:X", and a few words ask it to
 * defer, hold or drop.
 *
 * Where a client runs on the test thread, the loop runs in a second thread
 * and the client's socket has a 5 s receive timeout as a guard against a
 * hang (never as the thing being checked).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tierdns/clock.h"
#include "tierdns/netio.h"

/* ---- syscall counters ----
 *
 * netio is linked into this program statically, so these definitions stand
 * in front of libc's for it: each counts its calls and passes them on. A
 * test reads the difference over the calls it makes, to check how many
 * syscalls netio spends (the point of the batching). */

static atomic_uint n_bind, n_epoll_del, n_sendmsg, n_sendmmsg;

#define REAL(name, ptr)                                    \
	do {                                               \
		if ((ptr) == NULL)                         \
			*(void **)&(ptr) = dlsym(RTLD_NEXT, name); \
		assert_non_null(ptr);                      \
	} while (0)

int bind(int fd, __CONST_SOCKADDR_ARG addr, socklen_t len)
{
	static int (*real)(int, __CONST_SOCKADDR_ARG, socklen_t);

	REAL("bind", real);
	atomic_fetch_add(&n_bind, 1);
	return real(fd, addr, len);
}

int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	static int (*real)(int, int, int, struct epoll_event *);

	REAL("epoll_ctl", real);
	if (op == EPOLL_CTL_DEL)
		atomic_fetch_add(&n_epoll_del, 1);
	return real(epfd, op, fd, ev);
}

ssize_t sendmsg(int fd, const struct msghdr *h, int flags)
{
	static ssize_t (*real)(int, const struct msghdr *, int);

	REAL("sendmsg", real);
	atomic_fetch_add(&n_sendmsg, 1);
	return real(fd, h, flags);
}

int sendmmsg(int fd, struct mmsghdr *msgs, unsigned int n, int flags)
{
	static int (*real)(int, struct mmsghdr *, unsigned int, int);

	REAL("sendmmsg", real);
	atomic_fetch_add(&n_sendmmsg, 1);
	return real(fd, msgs, n, flags);
}

/* ---- the handler ---- */

struct server {
	struct tdns_loop *loop;
	uint16_t port;
	unsigned queries;             /* handler calls */
	uint16_t udp_ports[8];        /* source ports of the first UDP queries */
	bool saw_tcp, saw_udp;
	struct tdns_request *held;    /* "hold": kept until "release" */
	atomic_bool holding;
	bool in_batch;                /* between on_batch begin and end */
	unsigned batches_begun, batches_ended;
	unsigned queries_in_batch;
	uint64_t jump_ms;             /* how far jump_and_stop moves the clock */
};

struct deferred {
	struct tdns_request *req;
	uint8_t msg[64];
	size_t len;
};

static size_t answer_to(const uint8_t *in, size_t len, uint8_t *out)
{
	memcpy(out, "re:", 3);
	memcpy(out + 3, in, len);
	return len + 3;
}

static void deferred_fire(void *ctx)
{
	struct deferred *d = ctx;

	netio_request_reply(d->req, d->msg, d->len);
	free(d);
}

static bool starts(const uint8_t *in, size_t len, const char *word)
{
	return len >= strlen(word) && memcmp(in, word, strlen(word)) == 0;
}

static enum netio_verdict handler(void *ctx, struct tdns_request *req, const uint8_t *in,
				  size_t in_len, uint8_t *out, size_t *out_len)
{
	struct server *s = ctx;
	struct deferred *d;
	uint8_t ok[8];

	s->queries++;
	if (netio_request_is_tcp(req))
		s->saw_tcp = true;
	else
		s->saw_udp = true;
	if (!netio_request_is_tcp(req) && s->queries <= 8)
		s->udp_ports[s->queries - 1] = ntohs(
			((const struct sockaddr_in *)&netio_request_peer(req)->ss)->sin_port);
	assert_int_equal(netio_request_peer(req)->ss.ss_family, AF_INET);
	if (starts(in, in_len, "drop"))
		return NETIO_DROP;
	if (starts(in, in_len, "big")) {
		memset(out, 'b', 60000);
		*out_len = 60000;
		return NETIO_REPLY;
	}
	if (starts(in, in_len, "defer")) {
		/* Answered by a timer 20 ms later. */
		d = calloc(1, sizeof(*d));
		assert_non_null(d);
		d->req = netio_request_hold(req);
		assert_non_null(d->req);
		d->len = answer_to(in, in_len, d->msg);
		assert_non_null(netio_timer_add(s->loop, 20, deferred_fire, d));
		return NETIO_DEFER;
	}
	if (starts(in, in_len, "hold")) {
		s->held = netio_request_hold(req);
		assert_non_null(s->held);
		atomic_store(&s->holding, true);
		return NETIO_DEFER;
	}
	if (starts(in, in_len, "release")) {
		/* The held client is gone: this reply must be a safe no-op. */
		assert_non_null(s->held);
		memcpy(ok, "late", 4);
		netio_request_reply(s->held, ok, 4);
		s->held = NULL;
	}
	*out_len = answer_to(in, in_len, out);
	return NETIO_REPLY;
}

/* A new loop listening on addr (kernel-chosen port) with cfg's other
 * settings; cfg->addr and cfg->ctx are filled in here. */
static struct tdns_loop *loop_listening(const char *addr, struct tdns_listen_cfg *cfg,
					void *ctx)
{
	struct tdns_loop *l = netio_loop_new();

	assert_non_null(l);
	assert_int_equal(netio_addr_parse(addr, 0, &cfg->addr), TDNS_OK);
	cfg->ctx = ctx;
	assert_int_equal(netio_listen(l, cfg), TDNS_OK);
	return l;
}

/* A server loop on 127.0.0.1 (kernel-chosen port) with cfg's handlers;
 * cfg->addr and cfg->ctx are filled in here. */
static struct tdns_loop *server_start_cfg(struct server *s, struct tdns_listen_cfg *cfg)
{
	memset(s, 0, sizeof(*s));
	s->loop = loop_listening("127.0.0.1", cfg, s);
	s->port = netio_listen_port(s->loop);
	assert_true(s->port != 0);
	return s->loop;
}

static struct tdns_loop *server_start(struct server *s, unsigned max_tcp, unsigned idle_ms)
{
	struct tdns_listen_cfg cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.on_query = handler;
	cfg.max_tcp = max_tcp;
	cfg.tcp_idle_ms = idle_ms;
	return server_start_cfg(s, &cfg);
}

/* ---- the loop on a thread ---- */

static void *loop_thread(void *arg)
{
	assert_int_equal(netio_loop_run(arg), TDNS_OK);
	return NULL;
}

static pthread_t loop_start(struct tdns_loop *l)
{
	pthread_t t;

	assert_int_equal(pthread_create(&t, NULL, loop_thread, l), 0);
	return t;
}

static void loop_join(struct tdns_loop *l, pthread_t t)
{
	netio_loop_stop(l);
	assert_int_equal(pthread_join(t, NULL), 0);
}

/* ---- blocking clients ---- */

/* A client on source address `from` (host order, e.g. 127.0.0.2; 0 lets
 * the kernel choose, which for 127.0.0.1 is 127.0.0.1). */
static int client_socket_from(int type, uint16_t port, uint32_t from)
{
	struct timeval tv = { .tv_sec = 5 };
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct sockaddr_in src = { .sin_family = AF_INET };
	int fd, one = 1;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, type, 0);
	assert_true(fd >= 0);
	if (from != 0) {
		src.sin_addr.s_addr = htonl(from);
		assert_int_equal(bind(fd, (struct sockaddr *)&src, sizeof(src)), 0);
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (type == SOCK_STREAM)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	return fd;
}

static int client_socket(int type, uint16_t port)
{
	return client_socket_from(type, port, 0);
}

static size_t frame(uint8_t *buf, const char *msg)
{
	size_t len = strlen(msg);

	buf[0] = (uint8_t)(len >> 8);
	buf[1] = (uint8_t)len;
	memcpy(buf + 2, msg, len);
	return len + 2;
}

static void send_all(int fd, const uint8_t *p, size_t len)
{
	assert_int_equal(send(fd, p, len, MSG_NOSIGNAL), (ssize_t)len);
}

static bool recv_all(int fd, uint8_t *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = recv(fd, p, len, 0);
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* Read one framed answer into buf as a C string; false on EOF/error. */
static bool recv_framed(int fd, char *buf, size_t cap)
{
	uint8_t hdr[2];
	size_t len;

	if (!recv_all(fd, hdr, 2))
		return false;
	len = (size_t)hdr[0] << 8 | hdr[1];
	assert_true(len < cap);
	if (!recv_all(fd, (uint8_t *)buf, len))
		return false;
	buf[len] = '\0';
	return true;
}

/* The server closed fd: EOF or a reset, not the receive timeout guard. */
static bool closed_by_server(int fd)
{
	uint8_t byte;
	ssize_t n = recv(fd, &byte, 1, 0);

	return n == 0 || (n < 0 && errno == ECONNRESET);
}

/* ---- addresses ---- */

static void test_addr_parse(void **state)
{
	static const struct {
		const char *text;
		uint16_t default_port;
		const char *want; /* NULL: TDNS_EINVAL */
	} cases[] = {
		{ "127.0.0.1", 53, "127.0.0.1:53" },
		{ "192.0.2.1:5353", 53, "192.0.2.1:5353" },
		{ "0.0.0.0", 9998, "0.0.0.0:9998" },
		{ "::1", 53, "[::1]:53" },
		{ "[::1]:53", 9999, "[::1]:53" },
		{ "[2001:db8::1]:65535", 1, "[2001:db8::1]:65535" },
		{ "[::]", 9998, "[::]:9998" },
		{ "2001:db8::1", 53, "[2001:db8::1]:53" },
		{ "127.0.0.1", 0, "127.0.0.1:0" },
		{ "", 53, NULL },
		{ "localhost", 53, NULL },
		{ "127.0.0.1:", 53, NULL },
		{ "127.0.0.1:0", 53, NULL },
		{ "127.0.0.1:65536", 53, NULL },
		{ "127.0.0.1:53x", 53, NULL },
		{ "127.0.0.1:-5", 53, NULL },
		{ "127.0.0.256", 53, NULL },
		{ "[::1]", 53, "[::1]:53" },
		{ "[::1", 53, NULL },
		{ "[::1]53", 53, NULL },
		{ "[::1]:", 53, NULL },
		{ "[127.0.0.1]:53", 53, NULL },
		{ "[]:53", 53, NULL },
		{ "::1::2", 53, NULL },
		{ "fe80::1%eth0", 53, NULL },
		{ "1.2.3.4:53:53", 53, NULL },
	};
	struct tdns_addr a;
	char buf[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum tdns_status st = netio_addr_parse(cases[i].text, cases[i].default_port, &a);

		if (cases[i].want == NULL) {
			if (st != TDNS_EINVAL)
				fail_msg("'%s' parsed, want EINVAL", cases[i].text);
			continue;
		}
		if (st != TDNS_OK)
			fail_msg("'%s': %s", cases[i].text, tdns_strerror(st));
		assert_string_equal(netio_addr_str(&a, buf, sizeof(buf)), cases[i].want);
	}
	assert_int_equal(netio_addr_parse(NULL, 53, &a), TDNS_EINVAL);
}

/* ---- UDP, with netio_out_udp as the client in the same loop ---- */

struct out_client {
	struct tdns_loop *loop;
	char got[8][64];
	unsigned n_got;
	unsigned want;
	bool failed;
};

static void out_collect(void *ctx, struct tdns_out *o, const uint8_t *msg, size_t len)
{
	struct out_client *c = ctx;

	(void)o;
	if (msg == NULL) {
		c->failed = true;
		netio_loop_stop(c->loop);
		return;
	}
	assert_true(c->n_got < 8 && len < 64);
	memcpy(c->got[c->n_got], msg, len);
	c->got[c->n_got][len] = '\0';
	if (++c->n_got == c->want)
		netio_loop_stop(c->loop);
}

/* A guard for tests whose loop runs on the test thread: if an expected
 * answer never comes, stop after 5 s so the assertions fail instead of
 * hanging. A guard left pending is freed with the loop. */
static void guard_fire(void *ctx)
{
	netio_loop_stop(ctx);
}

static enum tdns_status run_guarded(struct tdns_loop *l)
{
	assert_non_null(netio_timer_add(l, 5000, guard_fire, l));
	return netio_loop_run(l);
}

static bool got(const struct out_client *c, const char *want)
{
	unsigned i;

	for (i = 0; i < c->n_got; i++)
		if (strcmp(c->got[i], want) == 0)
			return true;
	return false;
}

/* Four datagrams from one client: two answered at once, one dropped, one
 * answered later by a timer. Frees the server's loop. */
static void udp_four_queries(struct server *s)
{
	static const char *qs[] = { "one", "drop-me", "two", "defer-three" };
	struct out_client c = { 0 };
	struct tdns_addr peer;
	struct tdns_out *o;
	size_t i;

	c.loop = s->loop;
	c.want = 3;
	assert_int_equal(netio_addr_parse("127.0.0.1", s->port, &peer), TDNS_OK);
	assert_int_equal(netio_out_udp(s->loop, &peer, out_collect, &c, &o), TDNS_OK);
	for (i = 0; i < sizeof(qs) / sizeof(qs[0]); i++)
		assert_int_equal(netio_out_send(o, (const uint8_t *)qs[i], strlen(qs[i])),
				 TDNS_OK);
	assert_int_equal(run_guarded(s->loop), TDNS_OK);

	assert_false(c.failed);
	assert_int_equal(c.n_got, 3);
	assert_true(got(&c, "re:one"));
	assert_true(got(&c, "re:two"));
	assert_true(got(&c, "re:defer-three")); /* deferred, via the timer */
	assert_int_equal(s->queries, 4);
	assert_true(s->saw_udp);
	assert_false(s->saw_tcp);
	netio_out_close(o);
	netio_loop_free(s->loop);
	s->loop = NULL;
}

static void test_udp_answers_each_datagram(void **state)
{
	struct server s;

	(void)state;
	server_start(&s, 0, 0);
	udp_four_queries(&s);
}

/* on_batch brackets every UDP query: begin before the first of a
 * recvmmsg batch, end after the last, never nested, never empty. */
static void batch_hook(void *ctx, bool begin)
{
	struct server *s = ctx;

	assert_int_not_equal(s->in_batch, begin);
	s->in_batch = begin;
	if (begin)
		s->batches_begun++;
	else
		s->batches_ended++;
}

static enum netio_verdict batch_handler(void *ctx, struct tdns_request *req,
					const uint8_t *in, size_t in_len,
					uint8_t *out, size_t *out_len)
{
	struct server *s = ctx;

	if (s->in_batch)
		s->queries_in_batch++;
	return handler(ctx, req, in, in_len, out, out_len);
}

static void test_udp_batch_hook(void **state)
{
	struct tdns_listen_cfg cfg;
	struct server s;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.on_query = batch_handler;
	cfg.on_batch = batch_hook;
	server_start_cfg(&s, &cfg);
	udp_four_queries(&s);
	assert_int_equal(s.queries_in_batch, 4);
	assert_false(s.in_batch);
	assert_true(s.batches_begun >= 1 && s.batches_begun <= 4);
	assert_int_equal(s.batches_begun, s.batches_ended);
}

/* An upstream that is down: the connected socket gets the ICMP error and
 * the callback is told at once (no waiting for a timeout). */
static void test_out_udp_refused(void **state)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t slen = sizeof(sin);
	struct out_client c = { 0 };
	struct tdns_addr peer;
	struct tdns_out *o;
	int fd;

	(void)state;
	/* A port that was free a moment ago and is closed now. */
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &slen), 0);
	close(fd);

	c.loop = netio_loop_new();
	assert_non_null(c.loop);
	assert_int_equal(netio_addr_parse("127.0.0.1", ntohs(sin.sin_port), &peer), TDNS_OK);
	assert_int_equal(netio_out_udp(c.loop, &peer, out_collect, &c, &o), TDNS_OK);
	assert_int_equal(netio_out_send(o, (const uint8_t *)"q", 1), TDNS_OK);
	assert_int_equal(run_guarded(c.loop), TDNS_OK);
	assert_true(c.failed);
	assert_int_equal(c.n_got, 0);
	netio_out_close(o);
	netio_loop_free(c.loop);
}

/* Each out socket has its own kernel-chosen source port (RFC 5452 9.2). */
static void test_out_udp_fresh_ports(void **state)
{
	struct server s;
	struct out_client c = { 0 };
	struct tdns_addr peer;
	struct tdns_out *o1, *o2;

	(void)state;
	server_start(&s, 0, 0);
	c.loop = s.loop;
	c.want = 2;
	assert_int_equal(netio_addr_parse("127.0.0.1", s.port, &peer), TDNS_OK);
	assert_int_equal(netio_out_udp(s.loop, &peer, out_collect, &c, &o1), TDNS_OK);
	assert_int_equal(netio_out_udp(s.loop, &peer, out_collect, &c, &o2), TDNS_OK);
	assert_int_equal(netio_out_send(o1, (const uint8_t *)"1", 1), TDNS_OK);
	assert_int_equal(netio_out_send(o2, (const uint8_t *)"2", 1), TDNS_OK);
	assert_int_equal(run_guarded(s.loop), TDNS_OK);
	assert_int_equal(c.n_got, 2);
	assert_true(s.udp_ports[0] != 0 && s.udp_ports[1] != 0);
	assert_true(s.udp_ports[0] != s.udp_ports[1]);
	assert_true(s.udp_ports[0] != s.port && s.udp_ports[1] != s.port);
	netio_out_close(o1);
	netio_out_close(o2);
	netio_loop_free(s.loop);
}

/* A listener on 0.0.0.0 answers from the address the query was sent to:
 * the client's socket is connected to 127.0.0.2 and would drop an answer
 * from 127.0.0.1, the kernel's own choice of source towards 127.0.0.1.
 * Both the batch path and a deferred (held) answer are checked. */
static void test_udp_wildcard_answers_from_destination(void **state)
{
	struct tdns_listen_cfg cfg = { 0 };
	struct out_client c = { 0 };
	struct tdns_addr peer;
	struct tdns_out *o;
	struct server s = { 0 };

	(void)state;
	cfg.on_query = handler;
	s.loop = loop_listening("0.0.0.0", &cfg, &s);
	c.loop = s.loop;
	c.want = 2;
	assert_int_equal(netio_addr_parse("127.0.0.2", netio_listen_port(s.loop), &peer),
			 TDNS_OK);
	assert_int_equal(netio_out_udp(s.loop, &peer, out_collect, &c, &o), TDNS_OK);
	assert_int_equal(netio_out_send(o, (const uint8_t *)"now", 3), TDNS_OK);
	assert_int_equal(netio_out_send(o, (const uint8_t *)"defer", 5), TDNS_OK);
	assert_int_equal(run_guarded(s.loop), TDNS_OK);
	assert_false(c.failed);
	assert_true(got(&c, "re:now"));
	assert_true(got(&c, "re:defer"));
	netio_out_close(o);
	netio_loop_free(s.loop);
}

/* ---- TCP ---- */

/* RFC 7766 6.2.1.1: two queries in one write, both answered on the
 * connection; the deferred one comes back after the immediate one. */
static void test_tcp_pipelined_out_of_order(void **state)
{
	uint8_t wire[64];
	char ans[64];
	struct server s;
	size_t n;
	pthread_t t;
	int fd;

	(void)state;
	server_start(&s, 0, 0);
	t = loop_start(s.loop);
	fd = client_socket(SOCK_STREAM, s.port);
	n = frame(wire, "defer-A");
	n += frame(wire + n, "B");
	n += frame(wire + n, "C");
	send_all(fd, wire, n);
	assert_true(recv_framed(fd, ans, sizeof(ans)));
	assert_string_equal(ans, "re:B");
	assert_true(recv_framed(fd, ans, sizeof(ans)));
	assert_string_equal(ans, "re:C");
	assert_true(recv_framed(fd, ans, sizeof(ans)));
	assert_string_equal(ans, "re:defer-A");
	/* A client half-close still gets its pending answers. */
	n = frame(wire, "defer-D");
	send_all(fd, wire, n);
	shutdown(fd, SHUT_WR);
	assert_true(recv_framed(fd, ans, sizeof(ans)));
	assert_string_equal(ans, "re:defer-D");
	assert_false(recv_framed(fd, ans, sizeof(ans))); /* then the server closes */
	close(fd);
	loop_join(s.loop, t);
	assert_true(s.saw_tcp);
	assert_false(s.saw_udp);
	netio_loop_free(s.loop);
}

/* One message arriving in pieces: length bytes split, body split, and the
 * next message's first byte riding along with the end of the previous one. */
static void test_tcp_split_message(void **state)
{
	uint8_t wire[600];
	char ans[600], big[520];
	static const size_t cuts[] = { 1, 2, 7, 300, 521, 522, 523 };
	struct server s;
	size_t n, i, at = 0;
	pthread_t t;
	int fd;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	server_start(&s, 0, 0);
	t = loop_start(s.loop);
	fd = client_socket(SOCK_STREAM, s.port);
	n = frame(wire, big);
	n += frame(wire + n, "z");
	for (i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		send_all(fd, wire + at, cuts[i] - at);
		at = cuts[i];
	}
	send_all(fd, wire + at, n - at);
	assert_true(recv_framed(fd, ans, sizeof(ans)));
	assert_int_equal(strlen(ans), 3 + strlen(big));
	assert_memory_equal(ans, "re:xxx", 6);
	assert_true(recv_framed(fd, ans, sizeof(ans)));
	assert_string_equal(ans, "re:z");
	close(fd);
	loop_join(s.loop, t);
	assert_int_equal(s.queries, 2);
	netio_loop_free(s.loop);
}

/* A deferred TCP request whose client resets the connection before the
 * answer: the late reply is dropped, the loop carries on. */
static void test_tcp_held_after_disconnect(void **state)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	struct timespec nap = { .tv_nsec = 1000000 };
	uint8_t wire[64];
	char ans[64];
	struct server s;
	pthread_t t;
	int fd, fd2;

	(void)state;
	server_start(&s, 0, 0);
	t = loop_start(s.loop);
	fd = client_socket(SOCK_STREAM, s.port);
	send_all(fd, wire, frame(wire, "hold"));
	/* Synchronise with the loop thread: the request is held now. */
	while (!atomic_load(&s.holding))
		nanosleep(&nap, NULL);
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd); /* RST */

	fd2 = client_socket(SOCK_STREAM, s.port);
	send_all(fd2, wire, frame(wire, "release"));
	assert_true(recv_framed(fd2, ans, sizeof(ans)));
	assert_string_equal(ans, "re:release");
	close(fd2);
	loop_join(s.loop, t);
	assert_null(s.held);
	netio_loop_free(s.loop);
}

/* A request still held when the loop is freed: inert, then freed by its
 * owner. */
static void test_held_outlives_loop(void **state)
{
	struct timespec nap = { .tv_nsec = 1000000 };
	uint8_t wire[64];
	struct server s;
	pthread_t t;
	int fd;

	(void)state;
	server_start(&s, 0, 0);
	t = loop_start(s.loop);
	fd = client_socket(SOCK_STREAM, s.port);
	send_all(fd, wire, frame(wire, "hold"));
	while (!atomic_load(&s.holding))
		nanosleep(&nap, NULL);
	loop_join(s.loop, t);
	netio_loop_free(s.loop);
	netio_request_reply(s.held, (const uint8_t *)"late", 4);
	close(fd);
}

/* RFC 7766 6.2.1: a client that pipelines queries with large answers and
 * never reads them stalls only itself; another client is answered. */
static void test_tcp_stalled_reader(void **state)
{
	uint8_t wire[1000 * 5];
	char ans[64];
	struct server s;
	size_t n = 0;
	pthread_t t;
	int a, b, i;

	(void)state;
	server_start(&s, 0, 0);
	t = loop_start(s.loop);
	a = client_socket(SOCK_STREAM, s.port);
	for (i = 0; i < 1000; i++)
		n += frame(wire + n, "big");
	/* 60 MB of answers owed, none read: more than socket buffers hold, so
	 * the server must pause reading A with whole frames still queued. */
	send_all(a, wire, n);
	b = client_socket(SOCK_STREAM, s.port);
	send_all(b, wire, frame(wire, "hi"));
	assert_true(recv_framed(b, ans, sizeof(ans)));
	assert_string_equal(ans, "re:hi");
	close(b);
	close(a); /* unread data: an RST reaches the paused connection */
	loop_join(s.loop, t);
	netio_loop_free(s.loop);
}

/* At the connection cap, the least recently active idle connection makes
 * room for a new one. */
static void test_tcp_cap_closes_oldest(void **state)
{
	uint8_t wire[64];
	char ans[64];
	struct server s;
	pthread_t t;
	int a, b;

	(void)state;
	server_start(&s, 1, 0);
	t = loop_start(s.loop);
	a = client_socket(SOCK_STREAM, s.port);
	send_all(a, wire, frame(wire, "A"));
	assert_true(recv_framed(a, ans, sizeof(ans)));
	assert_string_equal(ans, "re:A");
	b = client_socket(SOCK_STREAM, s.port);
	send_all(b, wire, frame(wire, "B"));
	assert_true(recv_framed(b, ans, sizeof(ans)));
	assert_string_equal(ans, "re:B");
	assert_false(recv_framed(a, ans, sizeof(ans))); /* A was closed */
	close(a);
	close(b);
	loop_join(s.loop, t);
	netio_loop_free(s.loop);
}

/* One client address may hold max_tcp_per_client connections: its next
 * one is closed at once (and counted), while the connections it has and a
 * client on another address are served. */
static void test_tcp_per_client_cap(void **state)
{
	struct timespec nap = { .tv_nsec = 1000000 };
	struct tdns_listen_cfg cfg;
	uint8_t wire[64];
	char ans[64];
	struct server s;
	pthread_t t;
	int a, b, c, d, e;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.on_query = handler;
	cfg.max_tcp_per_client = 2;
	server_start_cfg(&s, &cfg);
	t = loop_start(s.loop);
	/* a is busy (its query held), b idle; a is the older. */
	a = client_socket(SOCK_STREAM, s.port);
	send_all(a, wire, frame(wire, "hold"));
	while (!atomic_load(&s.holding))
		nanosleep(&nap, NULL);
	b = client_socket(SOCK_STREAM, s.port);
	send_all(b, wire, frame(wire, "B"));
	assert_true(recv_framed(b, ans, sizeof(ans)));
	/* A third connection takes the place of the idle one, not the busy. */
	c = client_socket(SOCK_STREAM, s.port);
	send_all(c, wire, frame(wire, "C"));
	assert_true(recv_framed(c, ans, sizeof(ans)));
	assert_string_equal(ans, "re:C");
	assert_true(closed_by_server(b));
	/* And again: c goes (idle), a stays. */
	e = client_socket(SOCK_STREAM, s.port);
	send_all(e, wire, frame(wire, "E"));
	assert_true(recv_framed(e, ans, sizeof(ans)));
	assert_true(closed_by_server(c));
	/* Another client is not affected; its "release" answers a's query,
	 * which a, never closed, receives. */
	d = client_socket_from(SOCK_STREAM, s.port, 0x7f000002); /* 127.0.0.2 */
	send_all(d, wire, frame(wire, "release"));
	assert_true(recv_framed(d, ans, sizeof(ans)));
	assert_string_equal(ans, "re:release");
	assert_true(recv_framed(a, ans, sizeof(ans)));
	assert_string_equal(ans, "late");
	close(a);
	close(b);
	close(c);
	close(d);
	close(e);
	loop_join(s.loop, t);
	assert_int_equal(netio_tcp_refused_per_client(s.loop), 0);
	assert_int_equal(netio_tcp_evicted(s.loop), 2);
	assert_int_equal(s.queries, 5);
	netio_loop_free(s.loop);
}

/* RFC 7766 6.2.3: an idle connection is closed after tcp_idle_ms. The fake
 * clock jumps s->jump_ms past the answer; the loop runs on this thread. */
static void jump_and_stop(void *ctx)
{
	struct server *s = ctx;

	clock_advance_ms(s->jump_ms);
	netio_loop_stop(s->loop);
}

static enum netio_verdict idle_handler(void *ctx, struct tdns_request *req,
				       const uint8_t *in, size_t in_len, uint8_t *out,
				       size_t *out_len)
{
	struct server *s = ctx;

	(void)req;
	assert_non_null(netio_timer_add(s->loop, 0, jump_and_stop, s));
	*out_len = answer_to(in, in_len, out);
	return NETIO_REPLY;
}

/* A server with TCP idle timeout idle_ms whose every answer moves the
 * fake clock jump_ms on; one TCP query "Q" to it, answered. Returns the
 * client's socket. */
static int idle_server_asked(struct server *s, unsigned idle_ms, unsigned jump_ms)
{
	struct tdns_listen_cfg cfg = { 0 };
	uint8_t wire[64];
	char ans[64];
	int fd;

	clock_set_fake(1700000000);
	memset(s, 0, sizeof(*s));
	s->jump_ms = jump_ms;
	cfg.on_query = idle_handler;
	cfg.tcp_idle_ms = idle_ms;
	s->loop = loop_listening("127.0.0.1", &cfg, s);
	fd = client_socket(SOCK_STREAM, netio_listen_port(s->loop));
	send_all(fd, wire, frame(wire, "Q"));
	assert_int_equal(netio_loop_run(s->loop), TDNS_OK);
	assert_true(recv_framed(fd, ans, sizeof(ans)));
	assert_string_equal(ans, "re:Q");
	return fd;
}

static void test_tcp_idle_timeout(void **state)
{
	char ans[64];
	struct server s;
	int fd;

	(void)state;
	fd = idle_server_asked(&s, 10000, 20000);
	assert_false(recv_framed(fd, ans, sizeof(ans))); /* closed as idle */
	close(fd);
	netio_loop_free(s.loop);
	clock_set_fake(0);
}

/* The idle timeout is the configured one, not the 10 s default: each query
 * moves the clock 4 s; with tcp_idle_ms 5000 the connection survives that
 * (and a second query on it is answered), with 3000 it is closed. */
static void test_tcp_idle_from_config(void **state)
{
	static const struct {
		unsigned idle_ms;
		bool closed;
	} cases[] = { { 5000, false }, { 3000, true } };
	uint8_t wire[64];
	char ans[64];
	struct server s;
	size_t i;
	int fd;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fd = idle_server_asked(&s, cases[i].idle_ms, 4000);
		if (cases[i].closed) {
			assert_true(closed_by_server(fd));
		} else {
			send_all(fd, wire, frame(wire, "R"));
			assert_int_equal(netio_loop_run(s.loop), TDNS_OK);
			assert_true(recv_framed(fd, ans, sizeof(ans)));
			assert_string_equal(ans, "re:R");
		}
		close(fd);
		netio_loop_free(s.loop);
		clock_set_fake(0);
	}
}

/* A client trickling a frame gets no more time than an idle one. The loop
 * runs on this thread in phases; a second client B's queries mark the
 * phase ends (its handler moves the fake clock 6 s and stops the loop), and
 * A's bytes, sent before B's, are read first in each phase. */
static enum netio_verdict phase_handler(void *ctx, struct tdns_request *req,
					const uint8_t *in, size_t in_len, uint8_t *out,
					size_t *out_len)
{
	struct server *s = ctx;

	(void)req;
	clock_advance_ms(6000);
	netio_loop_stop(s->loop);
	*out_len = answer_to(in, in_len, out);
	return NETIO_REPLY;
}

static void test_tcp_trickle_times_out(void **state)
{
	struct tdns_listen_cfg cfg = { 0 };
	uint8_t wire[64], byte;
	char ans[64];
	struct server s = { 0 };
	int a, b;

	(void)state;
	clock_set_fake(1700000000);
	cfg.on_query = phase_handler;
	cfg.tcp_idle_ms = 10000;
	s.loop = loop_listening("127.0.0.1", &cfg, &s);
	s.port = netio_listen_port(s.loop);

	a = client_socket(SOCK_STREAM, s.port);
	send_all(a, (const uint8_t *)"\x00", 1);        /* t=0: first length byte */
	b = client_socket(SOCK_STREAM, s.port);
	send_all(b, wire, frame(wire, "1"));
	assert_int_equal(netio_loop_run(s.loop), TDNS_OK); /* ends at t=6 s */
	assert_true(recv_framed(b, ans, sizeof(ans)));

	send_all(a, (const uint8_t *)"\x05", 1);        /* t=6 s: second byte */
	send_all(b, wire, frame(wire, "2"));
	assert_int_equal(netio_loop_run(s.loop), TDNS_OK); /* ends at t=12 s */
	assert_true(recv_framed(b, ans, sizeof(ans)));

	/* One more pass sweeps: A's last complete activity was at t=0. */
	assert_non_null(netio_timer_add(s.loop, 0, guard_fire, s.loop));
	assert_int_equal(netio_loop_run(s.loop), TDNS_OK);
	assert_int_equal(recv(a, &byte, 1, 0), 0); /* EOF: closed as idle */
	close(a);
	close(b);
	netio_loop_free(s.loop);
	clock_set_fake(0);
}

/* netio_out_tcp: connect, frame two queries, unframe two answers. */
static void test_out_tcp(void **state)
{
	struct server s;
	struct out_client c = { 0 };
	struct tdns_addr peer;
	struct tdns_out *o;

	(void)state;
	server_start(&s, 0, 0);
	c.loop = s.loop;
	c.want = 2;
	assert_int_equal(netio_addr_parse("127.0.0.1", s.port, &peer), TDNS_OK);
	assert_int_equal(netio_out_tcp(s.loop, &peer, out_collect, &c, &o), TDNS_OK);
	assert_int_equal(netio_out_send(o, (const uint8_t *)"defer-1", 7), TDNS_OK);
	assert_int_equal(netio_out_send(o, (const uint8_t *)"2", 1), TDNS_OK);
	assert_int_equal(run_guarded(s.loop), TDNS_OK);
	assert_false(c.failed);
	assert_int_equal(c.n_got, 2);
	assert_string_equal(c.got[0], "re:2");
	assert_string_equal(c.got[1], "re:defer-1");
	netio_out_close(o);
	netio_loop_free(s.loop);
}


/* ---- the flush hook and the deferred UDP answers ---- */

/* A server whose handler defers every query (netio_request_hold) and
 * answers the held handle by itself ("now", "big", "stop") or leaves it to
 * the flush hook ("late") or to the test ("keep"). */
struct flusher {
	struct tdns_loop *loop;
	uint16_t port;
	int client;                 /* test-side UDP socket connected to port */
	unsigned queries, want;     /* handler calls; stop the loop at want */
	unsigned hooks;
	unsigned hooks_seen_timer;  /* hook calls that came after the timer fired */
	bool timer_fired;
	bool pending_at_hook;       /* an answer was readable while the hook ran */
	bool stopped;               /* the hook stopped the loop */
	bool guard_fired;
	struct tdns_request *late[4];
	unsigned n_late;
	struct tdns_request *kept;
};

static void flusher_answer(struct tdns_request *h, const uint8_t *in, size_t in_len)
{
	uint8_t out[64];

	assert_true(in_len < 60);
	netio_request_reply(h, out, answer_to(in, in_len, out));
}

static enum netio_verdict flusher_handler(void *ctx, struct tdns_request *req,
					  const uint8_t *in, size_t in_len, uint8_t *out,
					  size_t *out_len)
{
	struct flusher *f = ctx;
	struct tdns_request *h = netio_request_hold(req);
	static uint8_t big[60000];

	(void)out;
	(void)out_len;
	assert_non_null(h);
	f->queries++;
	if (starts(in, in_len, "late")) {
		assert_true(f->n_late < 4);
		f->late[f->n_late++] = h;
	} else if (starts(in, in_len, "keep")) {
		f->kept = h;
		netio_loop_stop(f->loop);
	} else if (starts(in, in_len, "big")) {
		memset(big, 'b', sizeof(big));
		netio_request_reply(h, big, sizeof(big));
	} else {
		flusher_answer(h, in, in_len);
		if (starts(in, in_len, "stop"))
			netio_loop_stop(f->loop);
	}
	return NETIO_DEFER;
}

/* Runs before the loop waits: nothing answered during the iteration may
 * have left yet; then answer the "late" ones, and stop once all is asked. */
static void flusher_hook(void *ctx)
{
	struct flusher *f = ctx;
	uint8_t byte;
	unsigned i;

	f->hooks++;
	if (f->timer_fired)
		f->hooks_seen_timer++;
	/* The stop flush after this hook stopped the loop comes once the
	 * answers of that iteration were sent. */
	if (f->stopped)
		return;
	if (recv(f->client, &byte, 1, MSG_DONTWAIT | MSG_PEEK) >= 0)
		f->pending_at_hook = true;
	for (i = 0; i < f->n_late; i++)
		netio_request_reply(f->late[i], (const uint8_t *)"re:late", 7);
	f->n_late = 0;
	if (f->want > 0 && f->queries >= f->want) {
		f->stopped = true;
		netio_loop_stop(f->loop);
	}
}

static void flusher_start(struct flusher *f)
{
	struct tdns_listen_cfg cfg = { 0 };
	int size = 1 << 20;

	memset(f, 0, sizeof(*f));
	cfg.on_query = flusher_handler;
	f->loop = loop_listening("127.0.0.1", &cfg, f);
	f->port = netio_listen_port(f->loop);
	f->client = client_socket(SOCK_DGRAM, f->port);
	setsockopt(f->client, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	netio_loop_set_flush(f->loop, flusher_hook, f);
}

static void flusher_ask(struct flusher *f, const char *q)
{
	send_all(f->client, (const uint8_t *)q, strlen(q));
}

/* The next answer the client got, as a C string (size in *len). */
static const char *flusher_read(struct flusher *f, size_t *len)
{
	static char buf[65536];
	ssize_t n = recv(f->client, buf, sizeof(buf) - 1, 0);

	assert_true(n > 0);
	buf[n] = '\0';
	if (len != NULL)
		*len = (size_t)n;
	return buf;
}

static void flusher_guard(void *ctx)
{
	struct flusher *f = ctx;

	f->guard_fired = true;
	netio_loop_stop(f->loop);
}

/* Run until the test's own stop; the guard (5 s) failing the test if that
 * never comes, e.g. because the loop waited where the hook should run. */
static void flusher_run(struct flusher *f)
{
	struct tdns_timer *guard = netio_timer_add(f->loop, 5000, flusher_guard, f);

	assert_non_null(guard);
	assert_int_equal(netio_loop_run(f->loop), TDNS_OK);
	assert_false(f->guard_fired);
	netio_timer_cancel(f->loop, guard);
}

static void flusher_done(struct flusher *f)
{
	close(f->client);
	netio_loop_free(f->loop);
}

static void flusher_timer(void *ctx)
{
	struct flusher *f = ctx;

	f->timer_fired = true;
}

static void stop_timer(void *ctx)
{
	struct flusher *f = ctx;

	f->timer_fired = true;
	netio_loop_stop(f->loop);
}

/* The hook runs after the timers of its iteration, before the loop waits:
 * a due timer and the hook's stop end the run with nothing else to wake the
 * loop (the guard would). It runs once more when the loop stops; NULL
 * removes it. */
static void test_flush_hook_runs_before_wait(void **state)
{
	struct flusher f;
	unsigned before;

	(void)state;
	flusher_start(&f);
	assert_non_null(netio_timer_add(f.loop, 0, flusher_timer, &f));
	assert_non_null(netio_timer_add(f.loop, 0, stop_timer, &f));
	before = f.hooks;
	flusher_run(&f);
	assert_true(f.timer_fired);
	/* Stopped inside the first pass of timers: only the stop flush ran,
	 * after both timers. */
	assert_int_equal(f.hooks - before, 1);
	assert_int_equal(f.hooks_seen_timer, 1);

	/* A timer with no stop: the hook of the same iteration sees it. */
	f.timer_fired = false;
	f.hooks = f.hooks_seen_timer = 0;
	f.want = 1;
	f.queries = 1; /* the hook stops the loop at once */
	f.stopped = false;
	assert_non_null(netio_timer_add(f.loop, 0, flusher_timer, &f));
	flusher_run(&f);
	assert_true(f.timer_fired);
	assert_true(f.hooks_seen_timer >= 1);
	/* hook, then (stopped by it) the stop flush: the loop never waited. */
	assert_int_equal(f.hooks, 2);

	netio_loop_set_flush(f.loop, NULL, &f);
	before = f.hooks;
	assert_non_null(netio_timer_add(f.loop, 0, stop_timer, &f));
	flusher_run(&f);
	assert_int_equal(f.hooks, before);
	flusher_done(&f);
}

/* Deferred UDP answers of one iteration leave together after the hook, in
 * one sendmmsg, the hook's own answers included; none is sent on its own. */
static void test_udp_deferred_answers_batched(void **state)
{
	struct flusher f;
	unsigned mm, m;

	(void)state;
	flusher_start(&f);
	flusher_ask(&f, "now1");
	flusher_ask(&f, "late2");
	flusher_ask(&f, "now3");
	f.want = 3;
	mm = atomic_load(&n_sendmmsg);
	m = atomic_load(&n_sendmsg);
	flusher_run(&f);
	assert_int_equal(f.queries, 3);
	assert_false(f.pending_at_hook);
	assert_int_equal(atomic_load(&n_sendmmsg) - mm, 1);
	assert_int_equal(atomic_load(&n_sendmsg) - m, 0);
	assert_string_equal(flusher_read(&f, NULL), "re:now1");
	assert_string_equal(flusher_read(&f, NULL), "re:now3");
	assert_string_equal(flusher_read(&f, NULL), "re:late");
	flusher_done(&f);
}

/* The queue is bounded: 32 answers, or an arena of bytes, send at once
 * when full. 40 small answers take two sendmmsg calls; three of 60000
 * bytes, two (the third does not fit beside the first two). */
static void test_udp_deferred_queue_full(void **state)
{
	struct flusher f;
	char q[16];
	unsigned i, mm;
	size_t len;

	(void)state;
	flusher_start(&f);
	for (i = 0; i < 40; i++) {
		snprintf(q, sizeof(q), "n%u", i);
		flusher_ask(&f, q);
	}
	f.want = 40;
	mm = atomic_load(&n_sendmmsg);
	flusher_run(&f);
	assert_int_equal(atomic_load(&n_sendmmsg) - mm, 2);
	for (i = 0; i < 40; i++) {
		snprintf(q, sizeof(q), "re:n%u", i);
		assert_string_equal(flusher_read(&f, NULL), q);
	}

	for (i = 0; i < 3; i++)
		flusher_ask(&f, "big");
	f.queries = 0;
	f.want = 3;
	f.stopped = false;
	mm = atomic_load(&n_sendmmsg);
	flusher_run(&f);
	assert_int_equal(atomic_load(&n_sendmmsg) - mm, 2);
	for (i = 0; i < 3; i++) {
		assert_int_equal(flusher_read(&f, &len)[59999], 'b');
		assert_int_equal(len, 60000);
	}
	flusher_done(&f);
}

/* Stopping loses nothing: an answer queued in the iteration that stopped
 * the loop goes out before run returns, one given while the loop is not
 * running goes out when the loop is freed. */
static void test_udp_deferred_answers_survive_stop(void **state)
{
	struct flusher f;
	uint8_t byte;

	(void)state;
	flusher_start(&f);
	netio_loop_set_flush(f.loop, NULL, NULL);
	flusher_ask(&f, "stop1");
	flusher_run(&f);
	assert_true(recv(f.client, &byte, 1, MSG_DONTWAIT | MSG_PEEK) == 1);
	assert_string_equal(flusher_read(&f, NULL), "re:stop1");

	flusher_ask(&f, "keep2");
	flusher_run(&f);
	assert_non_null(f.kept);
	netio_request_reply(f.kept, (const uint8_t *)"re:keep2", 8);
	netio_loop_free(f.loop);
	assert_string_equal(flusher_read(&f, NULL), "re:keep2");
	close(f.client);
}

/* ---- out sockets: syscalls ---- */

static void out_ignore(void *ctx, struct tdns_out *o, const uint8_t *msg, size_t len)
{
	(void)ctx;
	(void)o;
	(void)msg;
	(void)len;
}

/* connect() alone binds a UDP out socket (no bind call), and still to a
 * random port each time (RFC 5452 9.2): 64 sockets, 64 distinct ports, not
 * a sequence. */
static void test_out_udp_autobind_random_ports(void **state)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct timeval tv = { .tv_sec = 5 };
	socklen_t slen = sizeof(sin);
	struct tdns_loop *l = netio_loop_new();
	struct tdns_out *o[64];
	struct tdns_addr peer;
	uint16_t port[64];
	unsigned i, j, binds, steps = 0;
	uint8_t byte;
	int rx;

	(void)state;
	assert_non_null(l);
	rx = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(rx >= 0);
	setsockopt(rx, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(rx, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(rx, (struct sockaddr *)&sin, &slen), 0);
	assert_int_equal(netio_addr_parse("127.0.0.1", ntohs(sin.sin_port), &peer), TDNS_OK);

	binds = atomic_load(&n_bind);
	for (i = 0; i < 64; i++) {
		byte = (uint8_t)i;
		assert_int_equal(netio_out_udp(l, &peer, out_ignore, NULL, &o[i]), TDNS_OK);
		assert_int_equal(netio_out_send(o[i], &byte, 1), TDNS_OK);
	}
	assert_int_equal(atomic_load(&n_bind) - binds, 0);
	for (i = 0; i < 64; i++) {
		slen = sizeof(sin);
		assert_int_equal(recvfrom(rx, &byte, 1, 0, (struct sockaddr *)&sin, &slen), 1);
		assert_true(byte < 64);
		port[byte] = ntohs(sin.sin_port);
	}
	for (i = 0; i < 64; i++) {
		assert_true(port[i] != 0);
		for (j = i + 1; j < 64; j++)
			assert_true(port[i] != port[j]);
		if (i > 0 && (port[i] == port[i - 1] + 1 || port[i] + 1 == port[i - 1]))
			steps++;
	}
	assert_true(steps <= 4);
	for (i = 0; i < 64; i++)
		netio_out_close(o[i]);
	netio_loop_free(l);
	close(rx);
}

struct pair {
	struct tdns_loop *loop;
	struct tdns_out *o[2];
	unsigned calls;
};

/* Whichever answer comes first closes the other socket, whose answer may
 * already be in the same epoll_wait batch: it must never be delivered. */
static void pair_fn(void *ctx, struct tdns_out *o, const uint8_t *msg, size_t len)
{
	struct pair *p = ctx;

	assert_non_null(msg);
	assert_true(len > 0);
	p->calls++;
	netio_out_close(o == p->o[0] ? p->o[1] : p->o[0]);
	netio_out_close(o);
	netio_loop_stop(p->loop);
}

/* Closing an out socket costs no EPOLL_CTL_DEL (close takes it out of
 * epoll), and events of it already returned by epoll_wait are ignored. */
static void test_out_close_without_epoll_del(void **state)
{
	struct server s;
	struct pair p = { 0 };
	struct tdns_addr peer;
	struct tdns_out *t;
	unsigned dels;

	(void)state;
	server_start(&s, 0, 0);
	p.loop = s.loop;
	assert_int_equal(netio_addr_parse("127.0.0.1", s.port, &peer), TDNS_OK);
	assert_int_equal(netio_out_udp(s.loop, &peer, pair_fn, &p, &p.o[0]), TDNS_OK);
	assert_int_equal(netio_out_udp(s.loop, &peer, pair_fn, &p, &p.o[1]), TDNS_OK);
	assert_int_equal(netio_out_send(p.o[0], (const uint8_t *)"a", 1), TDNS_OK);
	assert_int_equal(netio_out_send(p.o[1], (const uint8_t *)"b", 1), TDNS_OK);
	dels = atomic_load(&n_epoll_del);
	assert_int_equal(run_guarded(s.loop), TDNS_OK);
	assert_int_equal(p.calls, 1);
	assert_int_equal(s.queries, 2);
	assert_int_equal(atomic_load(&n_epoll_del) - dels, 0);

	/* TCP too. */
	assert_int_equal(netio_out_tcp(s.loop, &peer, out_ignore, NULL, &t), TDNS_OK);
	dels = atomic_load(&n_epoll_del);
	netio_out_close(t);
	assert_int_equal(atomic_load(&n_epoll_del) - dels, 0);
	netio_loop_free(s.loop);
}

/* One loop iteration that has both a new client query and an upstream
 * reply: the reply is handled and the flush hook runs (its answers leave)
 * before the new query, even when the query was readable first. */
struct first {
	struct tdns_loop *loop;
	char seen[16];
	size_t n;
};

static void first_mark(struct first *f, char c)
{
	if (f->n < sizeof(f->seen) - 1)
		f->seen[f->n++] = c;
}

static enum netio_verdict first_query(void *ctx, struct tdns_request *req,
				      const uint8_t *in, size_t in_len, uint8_t *out,
				      size_t *out_len)
{
	struct first *f = ctx;

	(void)req;
	(void)in;
	(void)in_len;
	(void)out;
	(void)out_len;
	first_mark(f, 'q');
	netio_loop_stop(f->loop);
	return NETIO_DROP;
}

static void first_reply(void *ctx, struct tdns_out *o, const uint8_t *msg, size_t len)
{
	(void)o;
	(void)msg;
	(void)len;
	first_mark(ctx, 'o');
}

static void first_flush(void *ctx)
{
	first_mark(ctx, 'f');
}

static void test_replies_before_new_queries(void **state)
{
	struct tdns_listen_cfg cfg = { 0 };
	struct sockaddr_in upa = { .sin_family = AF_INET };
	struct sockaddr_storage from;
	socklen_t flen = sizeof(from);
	struct first f = { 0 };
	struct tdns_addr peer;
	struct tdns_out *o;
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	uint8_t buf[16];
	int up, client;

	(void)state;
	cfg.on_query = first_query;
	f.loop = loop_listening("127.0.0.1", &cfg, &f);
	client = client_socket(SOCK_DGRAM, netio_listen_port(f.loop));
	/* The "upstream": a plain socket that answers the out socket. */
	up = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(up >= 0);
	upa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(up, (struct sockaddr *)&upa, sizeof(upa)), 0);
	flen = sizeof(upa);
	assert_int_equal(getsockname(up, (struct sockaddr *)&upa, &flen), 0);
	assert_int_equal(netio_addr_parse("127.0.0.1", ntohs(upa.sin_port), &peer),
			 TDNS_OK);
	assert_int_equal(netio_out_udp(f.loop, &peer, first_reply, &f, &o), TDNS_OK);
	assert_int_equal(netio_out_send(o, (const uint8_t *)"ask", 3), TDNS_OK);
	flen = sizeof(from);
	assert_int_equal(recvfrom(up, buf, sizeof(buf), 0, (struct sockaddr *)&from,
				  &flen), 3);
	/* The client's query is readable first, then the upstream's reply. */
	send_all(client, (const uint8_t *)"new", 3);
	nanosleep(&ts, NULL);
	assert_int_equal(sendto(up, "re", 2, 0, (struct sockaddr *)&from, flen), 2);
	nanosleep(&ts, NULL);
	netio_loop_set_flush(f.loop, first_flush, &f);
	assert_int_equal(run_guarded(f.loop), TDNS_OK);
	/* f before waiting, then o f q in one iteration, then the stop's f. */
	assert_string_equal(f.seen, "fofqf");
	netio_out_close(o);
	close(up);
	close(client);
	netio_loop_free(f.loop);
}

/* ---- timers and stopping ---- */

struct order {
	struct tdns_loop *loop;
	char seen[16];
	size_t n;
};

struct mark {
	struct order *o;
	char c;
};

static void mark_fire(void *ctx)
{
	struct mark *m = ctx;

	m->o->seen[m->o->n++] = m->c;
	if (m->c == 'z')
		netio_loop_stop(m->o->loop);
}

static void test_timers_in_order(void **state)
{
	static const struct {
		uint64_t delay;
		char c;
	} plan[] = { { 30, 'd' }, { 10, 'a' }, { 20, 'c' }, { 10, 'b' }, { 25, 'x' },
		     { 0, '0' }, { 40, 'z' }, { 50, 'y' } };
	struct mark marks[8];
	struct tdns_timer *cancel = NULL, *t;
	struct order o = { 0 };
	size_t i;

	(void)state;
	clock_set_fake(1700000000);
	o.loop = netio_loop_new();
	assert_non_null(o.loop);
	for (i = 0; i < 8; i++) {
		marks[i].o = &o;
		marks[i].c = plan[i].c;
		t = netio_timer_add(o.loop, plan[i].delay, mark_fire, &marks[i]);
		assert_non_null(t);
		if (plan[i].c == 'x')
			cancel = t;
	}
	netio_timer_cancel(o.loop, cancel);
	clock_advance_ms(100);
	assert_int_equal(netio_loop_run(o.loop), TDNS_OK);
	/* Equal deadlines fire in the order they were added; the cancelled
	 * one never; the one after the stop stays pending (freed with the loop). */
	o.seen[o.n] = '\0';
	assert_string_equal(o.seen, "0abcdz");
	netio_loop_free(o.loop);
	clock_set_fake(0);
}

static void test_stop_from_thread(void **state)
{
	struct tdns_loop *l = netio_loop_new();
	pthread_t t;

	(void)state;
	assert_non_null(l);
	/* A stop before run makes run return at once (no lost wake-up)... */
	netio_loop_stop(l);
	assert_int_equal(netio_loop_run(l), TDNS_OK);
	/* ...and a loop blocked in epoll_wait wakes from another thread. */
	t = loop_start(l);
	loop_join(l, t);
	netio_loop_free(l);
}

static void test_listen_errors(void **state)
{
	struct tdns_listen_cfg cfg = { 0 };
	struct server s;

	(void)state;
	server_start(&s, 0, 0);
	/* Not an address this host has. */
	assert_int_equal(netio_addr_parse("192.0.2.1", 0, &cfg.addr), TDNS_OK);
	cfg.on_query = handler;
	assert_int_equal(netio_listen(s.loop, &cfg), TDNS_ENET);
	/* A port some socket holds is reported busy before anything binds. */
	assert_int_equal(netio_addr_parse("127.0.0.1", s.port, &cfg.addr), TDNS_OK);
	assert_int_equal(netio_listen_probe(&cfg.addr), TDNS_EBUSY);
	/* No handler. */
	assert_int_equal(netio_addr_parse("127.0.0.1", 0, &cfg.addr), TDNS_OK);
	cfg.on_query = NULL;
	assert_int_equal(netio_listen(s.loop, &cfg), TDNS_EINVAL);
	netio_loop_free(s.loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr_parse),
		cmocka_unit_test(test_replies_before_new_queries),
		cmocka_unit_test(test_udp_answers_each_datagram),
		cmocka_unit_test(test_udp_batch_hook),
		cmocka_unit_test(test_out_udp_refused),
		cmocka_unit_test(test_out_udp_fresh_ports),
		cmocka_unit_test(test_udp_wildcard_answers_from_destination),
		cmocka_unit_test(test_tcp_pipelined_out_of_order),
		cmocka_unit_test(test_tcp_split_message),
		cmocka_unit_test(test_tcp_held_after_disconnect),
		cmocka_unit_test(test_held_outlives_loop),
		cmocka_unit_test(test_tcp_stalled_reader),
		cmocka_unit_test(test_tcp_cap_closes_oldest),
		cmocka_unit_test(test_tcp_per_client_cap),
		cmocka_unit_test(test_tcp_idle_timeout),
		cmocka_unit_test(test_tcp_idle_from_config),
		cmocka_unit_test(test_tcp_trickle_times_out),
		cmocka_unit_test(test_out_tcp),
		cmocka_unit_test(test_timers_in_order),
		cmocka_unit_test(test_stop_from_thread),
		cmocka_unit_test(test_listen_errors),
		cmocka_unit_test(test_flush_hook_runs_before_wait),
		cmocka_unit_test(test_udp_deferred_answers_batched),
		cmocka_unit_test(test_udp_deferred_queue_full),
		cmocka_unit_test(test_udp_deferred_answers_survive_stop),
		cmocka_unit_test(test_out_udp_autobind_random_ports),
		cmocka_unit_test(test_out_close_without_epoll_del),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
