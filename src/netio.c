/*
 * netio.c - sockets, epoll and timers (see netio.h): the only file that
 * talks to the OS network API.
 *
 * Lifetime rule inside a loop: an object whose fd is closed while epoll
 * events are being dispatched may still be named by a later event of the
 * same epoll_wait batch. Closed connections and out sockets are therefore
 * only marked closed and parked on a graveyard list that is freed after the
 * batch; every dispatch checks the closed flag first.
 *
 * TLS (tls.h): a TLS connection or out socket is the TCP one with
 * stream_recv/stream_send in place of recv/send; nothing else about it
 * differs. Two things are its own: the session may want the socket
 * writable to go on reading (a handshake message to send), which
 * tls_want_out turns into EPOLLOUT interest; and it may hold decrypted
 * bytes that epoll cannot see, so a read drains the session.
 */
#include "tierdns/netio.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "tierdns/clock.h"
#include "tierdns/doh.h"
#include "tierdns/log.h"
#include "tierdns/pool.h"
#include "tierdns/stats.h"
#include "tierdns/tls.h"

#define NETIO_MSG_MAX 65535        /* RFC 1035 4.2.2: 16-bit length */
/* The stride of the batch's datagram buffers: a message and one cache line
 * more, so that the start of each buffer (all a query or an answer uses)
 * falls in another cache set. With a stride of 64 KiB - 1 the starts of all
 * 64 buffers fell into a handful of L1 and L2 sets and evicted each other. */
#define UDP_ROW (NETIO_MSG_MAX + 65)
static_assert(UDP_ROW >= NETIO_MSG_MAX && UDP_ROW % 4096 == 64,
	      "consecutive buffers must start one cache line apart modulo a page");
#define UDP_BATCH 32               /* datagrams per recvmmsg/sendmmsg */
#define UDP_ROUNDS 4               /* full batches read per readiness event */
#define UDP_RCVBUF (4 << 20)       /* receive queue asked for a UDP listener */
#define EPOLL_BATCH 64
#define ACCEPT_BURST 64            /* accepts per readiness event */
#define ACCEPT_PAUSE_MS 100        /* back-off when out of descriptors */
#define TCP_RBUF_INIT 1024
#define TCP_MAX_HELD 64            /* deferred queries per connection before
				    * reading pauses (RFC 7766 6.2.1.1) */
#define TCP_WBUF_HIGH (128u * 1024u) /* unsent bytes before reading pauses */
#define TCP_WBUF_LOW (64u * 1024u)   /* unsent bytes under which a stream
				      * (netio_request_stream) is asked for
				      * its next message */
#define TCP_DEFAULT_MAX 256
#define TCP_DEFAULT_PER_CLIENT 16
#define TCP_DEFAULT_IDLE_MS 10000  /* RFC 7766 6.2.3 */
#define OUT_RX_BURST 64
#define OUT_LINGER_MS 1000 /* a closed TLS out socket waits this long at
			    * most for the peer to close its side */
/* Bytes of queued deferred UDP answers: 4 KB a slot on average, and never
 * less than one message of the largest size. */
#define REPLY_ARENA (UDP_BATCH * 4096 > NETIO_MSG_MAX ? UDP_BATCH * 4096 : NETIO_MSG_MAX)

enum ev_kind { EV_WAKE, EV_UDP, EV_ACCEPT, EV_CONN, EV_OUT };

/* What epoll_event.data.ptr points at. */
struct ev {
	enum ev_kind kind;
	int fd;
	void *obj;
	uint32_t events; /* currently registered interest */
};

/* A byte buffer; bytes [off, len) are live. */
struct buf {
	uint8_t *data;
	size_t off, len, cap;
};

struct listener;

/* A multi-message answer in progress (netio_request_stream). */
struct conn_stream {
	netio_stream_fn fn;
	void (*done)(void *ctx);
	void *ctx;
	struct tdns_request *held;
	struct tdns_timer *limit; /* closes the connection at its time, or NULL */
	unsigned max_s;
};

struct tcp_conn {
	struct ev ev;
	struct listener *lst;
	struct tdns_addr peer;
	uint8_t ip[16];               /* peer address, IPv4 as v4-mapped IPv6 */
	struct tcp_conn *prev, *next; /* listener LRU list, limbo or graveyard */
	uint64_t last_ms;             /* last query read or answer bytes written */
	unsigned held;                /* held requests naming this connection */
	bool closed;                  /* fd gone; memory lives while held > 0 */
	bool eof;                     /* peer shut its side down */
	bool in_process;              /* conn_process is on the stack */
	bool tls_want_out;            /* the TLS session waits for EPOLLOUT */
	bool tls_up;                  /* its handshake is done */
	struct tdns_tls_conn *tls;    /* NULL: clear TCP */
	struct tdns_doh *doh;         /* DoH: the HTTP/2 session, else NULL */
	struct buf rbuf, wbuf;
	struct conn_stream *stream;   /* NULL: none */
};

struct listener {
	struct tdns_loop *loop;
	struct tdns_listen_cfg cfg; /* defaults applied */
	struct ev udp, tcp;
	bool pktinfo;                 /* wildcard UDP: track destination addresses */
	struct tcp_conn *head, *tail; /* least recently active first */
	unsigned n_conns;
	uint64_t refused_per_client;  /* closed at accept: client over its cap
				       * with no idle connection to give up */
	uint64_t evicted;             /* idle connections closed for newcomers */
	struct tdns_timer *accept_pause;
	struct listener *next;
};

/* Where a UDP query arrived (IP_PKTINFO / IPV6_PKTINFO). */
union local_addr {
	struct in_pktinfo v4;
	struct in6_pktinfo v6;
};

struct tdns_request {
	struct tdns_loop *loop;  /* NULL once the loop is freed */
	struct listener *lst;
	struct tcp_conn *conn;   /* TCP only */
	int udp_fd;              /* UDP only */
	struct tdns_addr peer;
	bool tcp;
	bool tls;
	bool https;              /* DoH: answered on HTTP/2 stream `stream` */
	int32_t stream;
	/* UDP on a wildcard address: where the query arrived, so the answer
	 * leaves from there (a client drops answers from other addresses). */
	int local_family;       /* AF_INET, AF_INET6 or 0 when unknown */
	union local_addr local;
	struct tdns_request *prev, *next; /* the loop's held list */
	uint64_t held_us;        /* when netio_request_hold took it */
};

/* Room for one pktinfo control message, suitably aligned. */
union pktinfo_cmsg {
	struct cmsghdr align;
	uint8_t buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
};

struct tdns_out {
	struct ev ev;
	struct tdns_loop *loop;
	netio_out_fn fn;
	void *ctx;
	bool tcp;
	bool connecting;
	bool failed;
	bool closed;
	bool tls_want_out;            /* the TLS session waits for EPOLLOUT */
	bool tls_up;                  /* its handshake is done */
	bool lingering;               /* closed, waiting for the peer's end */
	struct tdns_timer *linger;    /* lingering: the end of the wait */
	bool auth_failed;             /* failed: the peer's certificate */
	int err;                      /* failed: the errno, 0 if none */
	struct tdns_tls_conn *tls;    /* NULL: clear UDP or TCP */
	char *auth_name;              /* TLS: the name checked, for logs */
	struct tdns_addr peer;        /* for logs */
	struct buf rbuf, wbuf;
	struct tdns_out *prev, *next; /* live list or graveyard */
};

struct tdns_timer {
	uint64_t due;
	uint64_t seq;  /* insertion order breaks ties */
	size_t idx;    /* position in the heap */
	netio_timer_fn fn;
	void *ctx;
};

/* One deferred UDP answer waiting in the loop's reply queue; its bytes are
 * at arena[off, off + len). */
struct reply_slot {
	int fd;
	int local_family;
	union local_addr local;
	struct tdns_addr peer;
	size_t off, len;
};

/* Deferred UDP answers (netio_request_reply) given during one loop
 * iteration, sent together with sendmmsg before the loop waits again (or
 * at once when full). Fixed size: UDP_BATCH slots and an arena that holds
 * any single message, so load never makes it grow. */
struct reply_queue {
	struct reply_slot slot[UDP_BATCH];
	struct mmsghdr msgs[UDP_BATCH];
	struct iovec iov[UDP_BATCH];
	union pktinfo_cmsg ctl[UDP_BATCH];
	unsigned n;
	size_t used;
	uint8_t arena[REPLY_ARENA];
};

/* Preallocated per loop so that a UDP query answered at once costs no
 * allocation: receive, handle and send a whole batch in place. */
struct udp_batch {
	struct mmsghdr in_msgs[UDP_BATCH];
	struct mmsghdr out_msgs[UDP_BATCH];
	struct iovec in_iov[UDP_BATCH];
	struct iovec out_iov[UDP_BATCH];
	struct tdns_request reqs[UDP_BATCH];
	union pktinfo_cmsg in_ctl[UDP_BATCH];
	union pktinfo_cmsg out_ctl[UDP_BATCH];
	uint8_t in[UDP_BATCH][UDP_ROW];
	uint8_t out[UDP_BATCH][UDP_ROW];
	/* The receive headers are set up for this listener, all but the
	 * first `dirty` ones, which the last recvmmsg wrote into. */
	const struct listener *ready_for;
	unsigned dirty;
	struct reply_queue replies;
};

struct tdns_loop {
	int epfd;
	struct ev wake;
	atomic_bool stop;
	struct listener *listeners;
	uint16_t last_port;
	struct tdns_timer **heap;
	size_t n_heap, cap_heap;
	uint64_t timer_seq;
	struct tcp_conn *limbo;     /* closed, still named by held requests */
	struct tcp_conn *dead_conns;
	struct tdns_out *outs;      /* live out sockets */
	struct tdns_out *dead_outs;
	struct tdns_request *held;
	struct udp_batch *udp;      /* allocated with the first listener */
	uint8_t *answer;            /* TCP handlers answer here */
	uint8_t *rx;                /* out sockets read UDP replies here */
	void (*flush_fn)(void *ctx); /* netio_loop_set_flush */
	void *flush_ctx;
	/* Released handles and closed out sockets kept for reuse (a miss
	 * takes one of each: no malloc/free per miss). */
	struct tdns_pool spare_reqs, spare_outs;
	tdns_counter tcp_accepted;  /* stats.h: written by the loop's thread */
};

static_assert(ATOMIC_BOOL_LOCK_FREE == 2, "netio_loop_stop must be signal-safe");

/* ---- errors ---- */

static enum tdns_status errno_status(int e)
{
	switch (e) {
	case ENOMEM:
	case ENOBUFS:
		return TDNS_ENOMEM;
	case EMFILE:
	case ENFILE:
		return TDNS_EBUSY;
	case EINVAL:
	case EAFNOSUPPORT:
		return TDNS_EINVAL;
	case ETIMEDOUT:
		return TDNS_ETIMEOUT;
	case EACCES:
	case EPERM:
		return TDNS_EACCES;
	default:
		return TDNS_ENET;
	}
}

/* What to add to a bind error so that its reader knows what to do. */
static const char *bind_hint(int e)
{
	switch (e) {
	case EADDRINUSE:
		return " (is another server running?)";
	case EACCES:
		return " (a port below 1024 needs root, or CAP_NET_BIND_SERVICE: "
		       "start as root, with --user to drop root after binding)";
	case EADDRNOTAVAIL:
		return " (no interface has this address)";
	default:
		return "";
	}
}

/* ---- addresses ---- */

static bool parse_port(const char *s, uint16_t *out)
{
	unsigned long v = 0;
	size_t i;

	if (s[0] == '\0' || strlen(s) > 5)
		return false;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	/* A written port must name a real one; 0 only comes as default_port. */
	if (v == 0 || v > 65535)
		return false;
	*out = (uint16_t)v;
	return true;
}

enum tdns_status netio_addr_parse(const char *text, uint16_t default_port,
				  struct tdns_addr *out)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port_text = NULL, *colon;
	uint16_t port = default_port;
	struct sockaddr_in *sin;
	struct sockaddr_in6 *sin6;
	size_t hlen;
	bool v6_only = false;

	if (text == NULL || out == NULL)
		return TDNS_EINVAL;
	memset(out, 0, sizeof(*out));
	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (close == NULL)
			return TDNS_EINVAL;
		hlen = (size_t)(close - text - 1);
		if (close[1] == ':')
			port_text = close + 2;
		else if (close[1] != '\0')
			return TDNS_EINVAL;
		text++;
		v6_only = true;
	} else {
		colon = strchr(text, ':');
		/* One colon: IPv4 with a port. More: a bare IPv6 address,
		 * whose port can only be given in the bracket form. */
		if (colon != NULL && strchr(colon + 1, ':') == NULL) {
			hlen = (size_t)(colon - text);
			port_text = colon + 1;
		} else {
			hlen = strlen(text);
		}
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return TDNS_EINVAL;
	memcpy(host, text, hlen);
	host[hlen] = '\0';
	if (port_text != NULL && !parse_port(port_text, &port))
		return TDNS_EINVAL;

	sin = (struct sockaddr_in *)&out->ss;
	sin6 = (struct sockaddr_in6 *)&out->ss;
	if (!v6_only && inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		out->len = sizeof(*sin);
		return TDNS_OK;
	}
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1 &&
	    (v6_only || port_text == NULL)) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		out->len = sizeof(*sin6);
		return TDNS_OK;
	}
	memset(out, 0, sizeof(*out));
	return TDNS_EINVAL;
}

const char *netio_addr_str(const struct tdns_addr *a, char *buf, size_t cap)
{
	char host[INET6_ADDRSTRLEN];
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&a->ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&a->ss;

	if (cap == 0)
		return buf;
	if (a->ss.ss_family == AF_INET &&
	    inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host)) != NULL)
		snprintf(buf, cap, "%s:%u", host, (unsigned)ntohs(sin->sin_port));
	else if (a->ss.ss_family == AF_INET6 &&
		 inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host)) != NULL)
		snprintf(buf, cap, "[%s]:%u", host, (unsigned)ntohs(sin6->sin6_port));
	else
		snprintf(buf, cap, "(unknown address)");
	return buf;
}

static uint16_t addr_port(const struct tdns_addr *a)
{
	if (a->ss.ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
}

/* The address of a as 16 bytes, IPv4 (and IPv4-mapped IPv6, which a dual
 * stack socket would report) as ::ffff:a.b.c.d, so one client is one key. */
static void addr_ip16(const struct tdns_addr *a, uint8_t out[16])
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (a->ss.ss_family == AF_INET) {
		memcpy(out, mapped, sizeof(mapped));
		memcpy(out + 12, &((const struct sockaddr_in *)&a->ss)->sin_addr, 4);
	} else {
		memcpy(out, &((const struct sockaddr_in6 *)&a->ss)->sin6_addr, 16);
	}
}

bool netio_addr_same_host(const struct tdns_addr *a, const struct tdns_addr *b)
{
	uint8_t x[16], y[16];

	addr_ip16(a, x);
	addr_ip16(b, y);
	return memcmp(x, y, sizeof(x)) == 0;
}

static bool addr_is_any(const struct tdns_addr *a)
{
	if (a->ss.ss_family == AF_INET)
		return ((const struct sockaddr_in *)&a->ss)->sin_addr.s_addr == htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)&a->ss)->sin6_addr);
}

static void addr_set_port(struct tdns_addr *a, uint16_t port)
{
	if (a->ss.ss_family == AF_INET)
		((struct sockaddr_in *)&a->ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)&a->ss)->sin6_port = htons(port);
}

/* ---- buffers ---- */

/* Make room for n more bytes after len (compacting first). */
static bool buf_reserve(struct buf *b, size_t n)
{
	uint8_t *p;
	size_t cap;

	/* Callers reserve at most one frame at a time. */
	if (n > NETIO_MSG_MAX + 2)
		return false;
	if (b->off > 0) {
		memmove(b->data, b->data + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
	}
	if (b->cap - b->len >= n)
		return true;
	cap = b->cap == 0 ? TCP_RBUF_INIT : b->cap;
	while (cap - b->len < n)
		cap *= 2;
	p = realloc(b->data, cap);
	if (p == NULL)
		return false;
	b->data = p;
	b->cap = cap;
	return true;
}

static size_t buf_used(const struct buf *b)
{
	return b->len - b->off;
}

/* Append msg with its RFC 1035 4.2.2 two-byte length prefix. */
static bool buf_put_framed(struct buf *b, const uint8_t *msg, size_t len)
{
	if (len > NETIO_MSG_MAX || !buf_reserve(b, len + 2))
		return false;
	b->data[b->len] = (uint8_t)(len >> 8);
	b->data[b->len + 1] = (uint8_t)len;
	memcpy(b->data + b->len + 2, msg, len);
	b->len += len + 2;
	return true;
}

/* Bytes still missing from the first frame in b: 0 when it is complete or
 * its length is not known yet. */
static size_t buf_frame_missing(const struct buf *b)
{
	size_t used = buf_used(b), need;

	if (used < 2)
		return 0;
	need = 2 + ((size_t)b->data[b->off] << 8 | b->data[b->off + 1]);
	return need > used ? need - used : 0;
}

/* Length of the first complete framed message in b, or -1. */
static long buf_framed_len(const struct buf *b)
{
	size_t n = buf_used(b), len;

	if (n < 2)
		return -1;
	len = (size_t)b->data[b->off] << 8 | b->data[b->off + 1];
	return n - 2 >= len ? (long)len : -1;
}

/* Append msg[0..len) as it is (HTTP/2 output). */
static bool buf_put(struct buf *b, const uint8_t *msg, size_t len)
{
	if (!buf_reserve(b, len))
		return false;
	memcpy(b->data + b->len, msg, len);
	b->len += len;
	return true;
}

static void buf_free(struct buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

/* After a message was consumed: drop big buffers once they run empty. */
static void buf_consumed(struct buf *b)
{
	if (b->off != b->len)
		return;
	b->off = b->len = 0;
	if (b->cap > 4 * TCP_RBUF_INIT)
		buf_free(b);
}

/* ---- epoll ---- */

static enum tdns_status ev_add(struct tdns_loop *l, struct ev *e, uint32_t events)
{
	struct epoll_event ee = { .events = events, .data.ptr = e };

	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, e->fd, &ee) < 0)
		return errno_status(errno);
	e->events = events;
	return TDNS_OK;
}

static void ev_set(struct tdns_loop *l, struct ev *e, uint32_t events)
{
	struct epoll_event ee = { .events = events, .data.ptr = e };

	if (e->events == events)
		return;
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, e->fd, &ee) < 0)
		log_warn("epoll_ctl: %s", strerror(errno));
	else
		e->events = events;
}

static void ev_close(struct tdns_loop *l, struct ev *e)
{
	if (e->fd < 0)
		return;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, e->fd, NULL);
	close(e->fd);
	e->fd = -1;
}

/* ---- timers: a binary min-heap ordered by (due, seq) ---- */

static bool timer_before(const struct tdns_timer *a, const struct tdns_timer *b)
{
	return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static void heap_place(struct tdns_loop *l, size_t i, struct tdns_timer *t)
{
	l->heap[i] = t;
	t->idx = i;
}

static void heap_up(struct tdns_loop *l, size_t i)
{
	struct tdns_timer *t = l->heap[i];

	while (i > 0 && timer_before(t, l->heap[(i - 1) / 2])) {
		heap_place(l, i, l->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_place(l, i, t);
}

static void heap_down(struct tdns_loop *l, size_t i)
{
	struct tdns_timer *t = l->heap[i];
	size_t c;

	for (;;) {
		c = 2 * i + 1;
		if (c >= l->n_heap)
			break;
		if (c + 1 < l->n_heap && timer_before(l->heap[c + 1], l->heap[c]))
			c++;
		if (!timer_before(l->heap[c], t))
			break;
		heap_place(l, i, l->heap[c]);
		i = c;
	}
	heap_place(l, i, t);
}

static void heap_remove(struct tdns_loop *l, struct tdns_timer *t)
{
	size_t i = t->idx;
	struct tdns_timer *last = l->heap[--l->n_heap];

	if (i == l->n_heap)
		return;
	heap_place(l, i, last);
	heap_up(l, i);
	heap_down(l, last->idx);
}

struct tdns_timer *netio_timer_add(struct tdns_loop *l, uint64_t delay_ms,
				   netio_timer_fn fn, void *ctx)
{
	struct tdns_timer *t;

	if (l->n_heap == l->cap_heap) {
		size_t cap = l->cap_heap == 0 ? 64 : l->cap_heap * 2;
		struct tdns_timer **h = realloc(l->heap, cap * sizeof(*h));

		if (h == NULL)
			return NULL;
		l->heap = h;
		l->cap_heap = cap;
	}
	t = malloc(sizeof(*t));
	if (t == NULL)
		return NULL;
	t->due = clock_mono_ms() + delay_ms;
	t->seq = l->timer_seq++;
	t->fn = fn;
	t->ctx = ctx;
	l->n_heap++;
	heap_place(l, l->n_heap - 1, t);
	heap_up(l, l->n_heap - 1);
	return t;
}

void netio_timer_cancel(struct tdns_loop *l, struct tdns_timer *t)
{
	if (t == NULL)
		return;
	heap_remove(l, t);
	free(t);
}

/* Fire the timers due at now that existed when the pass began, so a callback
 * re-arming itself with delay 0 cannot starve the sockets. */
static void timers_fire(struct tdns_loop *l, uint64_t now)
{
	uint64_t seq_limit = l->timer_seq;
	struct tdns_timer *t;
	netio_timer_fn fn;
	void *ctx;

	while (l->n_heap > 0 && !atomic_load(&l->stop)) {
		t = l->heap[0];
		if (t->due > now || t->seq >= seq_limit)
			break;
		heap_remove(l, t);
		fn = t->fn;
		ctx = t->ctx;
		free(t);
		fn(ctx);
	}
}

/* ---- stream I/O: TCP, or TLS over TCP ---- */

/* A TLS read's or write's outcome as recv() or send() gives it: bytes, 0
 * at the end of the stream (reading), or -1 with errno EAGAIN (try again
 * when the socket is ready; *want_out: ready for writing), EPROTO (a
 * failed read) or EPIPE (a failed write). */
static ssize_t tls_as_socket(enum tls_io r, size_t n, bool *want_out, bool reading)
{
	switch (r) {
	case TLS_IO_OK:
		return (ssize_t)n;
	case TLS_IO_WANT_WRITE:
		*want_out = true;
		/* fall through */
	case TLS_IO_WANT_READ:
		errno = EAGAIN;
		return -1;
	case TLS_IO_EOF:
		if (reading)
			return 0;
		break;
	case TLS_IO_ERROR:
		break;
	}
	errno = reading ? EPROTO : EPIPE;
	return -1;
}

/* recv() on a stream socket, through its TLS session when it has one. */
static ssize_t stream_recv(int fd, struct tdns_tls_conn *tls, bool *want_out,
			   void *p, size_t cap)
{
	enum tls_io r;
	size_t n;

	if (tls == NULL)
		return recv(fd, p, cap, MSG_DONTWAIT);
	r = tls_conn_read(tls, p, cap, &n);
	return tls_as_socket(r, n, want_out, true);
}

/* send() on a stream socket, through its TLS session when it has one (a
 * TLS write that waits for the peer waits for EPOLLIN, which a live
 * stream always has unless it is blocked). */
static ssize_t stream_send(int fd, struct tdns_tls_conn *tls, bool *want_out,
			   const void *p, size_t len)
{
	enum tls_io r;
	size_t n;

	if (tls == NULL)
		return send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	r = tls_conn_write(tls, p, len, &n);
	return tls_as_socket(r, n, want_out, false);
}

/* Once per TLS session, when its handshake is done: say so (debug). */
static void tls_note_up(struct tdns_tls_conn *tls, bool *up, const char *what,
			const struct tdns_addr *peer)
{
	char as[64];
	bool resumed;

	if (*up || !tls_conn_established(tls, &resumed))
		return;
	*up = true;
	log_debug("tls %s %s: handshake done%s", what,
		  netio_addr_str(peer, as, sizeof(as)), resumed ? ", session resumed" : "");
}

/* ---- TCP connections (server side) ---- */

static void conn_list_unlink(struct tcp_conn **head, struct tcp_conn **tail,
			     struct tcp_conn *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		*head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else if (tail != NULL)
		*tail = c->prev;
	c->prev = c->next = NULL;
}

static void conn_list_append(struct listener *lst, struct tcp_conn *c)
{
	c->prev = lst->tail;
	c->next = NULL;
	if (lst->tail != NULL)
		lst->tail->next = c;
	else
		lst->head = c;
	lst->tail = c;
}

static void conn_list_push(struct tcp_conn **head, struct tcp_conn *c)
{
	c->prev = NULL;
	c->next = *head;
	if (*head != NULL)
		(*head)->prev = c;
	*head = c;
}

/* Activity: restart the idle clock and move to the young end. */
static void conn_touch(struct tcp_conn *c)
{
	struct listener *lst = c->lst;

	c->last_ms = clock_mono_ms();
	if (lst->tail != c) {
		conn_list_unlink(&lst->head, &lst->tail, c);
		conn_list_append(lst, c);
	}
}

static void conn_free(struct tcp_conn *c)
{
	doh_free(c->doh);
	tls_conn_free(c->tls);
	buf_free(&c->rbuf);
	buf_free(&c->wbuf);
	free(c);
}

static void stream_end(struct tcp_conn *c);
static void conn_process(struct tcp_conn *c);

static void conn_close(struct tcp_conn *c)
{
	struct tdns_loop *l = c->lst->loop;

	if (c->closed)
		return;
	tls_conn_shutdown(c->tls); /* close_notify, while the socket is open */
	ev_close(l, &c->ev);
	c->closed = true;
	conn_list_unlink(&c->lst->head, &c->lst->tail, c);
	c->lst->n_conns--;
	/* rbuf stays until conn_free: a handler may still be reading a query
	 * from it when a reply on the same connection fails and closes it. */
	buf_free(&c->wbuf);
	if (c->held > 0)
		conn_list_push(&l->limbo, c);
	else
		conn_list_push(&l->dead_conns, c);
	stream_end(c);
}

/* Too many answers waiting for a slow reader, or too many queries waiting
 * for their answers: stop reading until that drains. */
static bool conn_blocked(const struct tcp_conn *c)
{
	return c->held >= TCP_MAX_HELD || buf_used(&c->wbuf) >= TCP_WBUF_HIGH ||
	       c->stream != NULL;
}

/* Write what the socket takes now; the rest waits for EPOLLOUT. */
static void conn_flush(struct tcp_conn *c)
{
	ssize_t n;

	while (!c->closed && buf_used(&c->wbuf) > 0) {
		n = stream_send(c->ev.fd, c->tls, &c->tls_want_out,
				c->wbuf.data + c->wbuf.off, buf_used(&c->wbuf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				conn_close(c);
			return;
		}
		c->wbuf.off += (size_t)n;
		/* A reader taking its answers (or a zone transfer) is active.
		 * HTTP/2 writes frames of its own (PING and SETTINGS ACKs,
		 * WINDOW_UPDATEs for a body), which a client can call for at
		 * will: a DoH connection is active only by its requests and
		 * the answers given to them (conn_doh_query,
		 * netio_request_reply). */
		if (c->doh == NULL)
			conn_touch(c);
	}
	if (!c->closed)
		buf_consumed(&c->wbuf);
}

/* Close when the peer is done and nothing is owed; else set epoll interest.
 * Inside conn_process (a handler released a request of its own connection)
 * nothing happens: the pass settles when it ends, with every queued frame
 * answered first. */
static void conn_settle(struct tcp_conn *c)
{
	uint32_t events = 0;

	if (c->closed || c->in_process)
		return;
	if (c->eof && c->held == 0 && buf_used(&c->wbuf) == 0 &&
	    buf_framed_len(&c->rbuf) < 0) {
		conn_close(c);
		return;
	}
	/* An HTTP/2 session that is over (GOAWAY) closes once written. */
	if (c->doh != NULL && !doh_alive(c->doh) && buf_used(&c->wbuf) == 0) {
		conn_close(c);
		return;
	}
	if (!c->eof && !conn_blocked(c))
		events |= EPOLLIN;
	if (buf_used(&c->wbuf) > 0 || c->tls_want_out)
		events |= EPOLLOUT;
	ev_set(c->lst->loop, &c->ev, events);
}

/* The stream's done and the release of its request, once; the
 * connection may be closed already. */
static void stream_end(struct tcp_conn *c)
{
	struct conn_stream *s = c->stream;

	if (s == NULL)
		return;
	c->stream = NULL;
	netio_timer_cancel(c->lst->loop, s->limit);
	s->done(s->ctx);
	netio_request_release(s->held);
	free(s);
}

/* Ask the stream for messages while the unsent bytes stay under the low
 * mark: a slow reader holds at most TCP_WBUF_HIGH bytes, and the next
 * message is made only when the previous ones drained. Then settle: when
 * the stream has ended, the connection reads its next query. */
static void conn_pump(struct tcp_conn *c)
{
	uint8_t *out = c->lst->loop->answer;
	struct conn_stream *s;
	size_t len;
	bool more;

	while ((s = c->stream) != NULL && !c->closed &&
	       buf_used(&c->wbuf) < TCP_WBUF_LOW) {
		len = 0;
		more = s->fn(s->ctx, out, &len);
		if (len > 0 && !buf_put_framed(&c->wbuf, out, len)) {
			log_warn("tcp: no memory for a stream message, closing the "
				 "connection");
			conn_close(c);
			return;
		}
		if (!more) {
			stream_end(c);
			if (len == 0) {
				conn_close(c);
				return;
			}
		}
		conn_flush(c);
	}
	if (c->closed)
		return;
	if (c->stream == NULL && !conn_blocked(c) && buf_framed_len(&c->rbuf) >= 0)
		conn_process(c);
	else
		conn_settle(c);
}

/* A request for a query that came on connection c. */
static void conn_request(struct tcp_conn *c, struct tdns_request *req)
{
	memset(req, 0, sizeof(*req));
	req->loop = c->lst->loop;
	req->lst = c->lst;
	req->conn = c;
	req->udp_fd = -1;
	req->peer = c->peer;
	req->tcp = true;
	req->tls = c->tls != NULL;
	req->https = c->doh != NULL;
}

/* DoH: what the HTTP/2 session has to send goes into wbuf and out. */
static void conn_doh_output(struct tcp_conn *c)
{
	const uint8_t *p;
	size_t n;

	while (!c->closed && (n = doh_send(c->doh, &p)) > 0) {
		if (!buf_put(&c->wbuf, p, n)) {
			log_warn("doh: no memory for output, closing the connection");
			conn_close(c);
			return;
		}
	}
	conn_flush(c);
	conn_settle(c);
}

/* DoH: one request from the HTTP/2 session, a query like any other. */
static void conn_doh_query(void *ctx, struct tdns_doh *d, int32_t stream,
			   const uint8_t *msg, size_t len)
{
	struct tcp_conn *c = ctx;
	struct listener *lst = c->lst;
	struct tdns_request req;
	enum netio_verdict v;
	size_t out_len = 0;

	conn_request(c, &req);
	req.stream = stream;
	v = lst->cfg.on_query(lst->cfg.ctx, &req, msg, len, lst->loop->answer, &out_len);
	if (c->closed)
		return;
	conn_touch(c);
	if (v == NETIO_REPLY && out_len > 0)
		doh_answer(d, stream, lst->loop->answer, out_len);
	else if (v != NETIO_DEFER)
		doh_fail(d, stream, 400); /* no DNS answer at all: not a query */
}

/* DoH: everything read goes to the HTTP/2 session, whose requests come
 * back through conn_doh_query; then its output is written. A client that
 * breaks HTTP/2 gets a GOAWAY, and the connection closes once the
 * answers owed are written. */
static void conn_doh_process(struct tcp_conn *c)
{
	if (c->in_process)
		return;
	c->in_process = true;
	if (buf_used(&c->rbuf) > 0 &&
	    doh_recv(c->doh, c->rbuf.data + c->rbuf.off, buf_used(&c->rbuf)) != TDNS_OK)
		c->eof = true;
	c->rbuf.off = c->rbuf.len;
	c->in_process = false;
	if (c->closed)
		return;
	buf_consumed(&c->rbuf);
	conn_doh_output(c);
}

/* Answer every complete framed query in rbuf (pipelining, RFC 7766 6.2.1.1),
 * then write the answers in one go. */
static void conn_process(struct tcp_conn *c)
{
	struct listener *lst = c->lst;
	struct tdns_request req;
	enum netio_verdict v;
	size_t out_len;
	long len;

	if (c->doh != NULL) {
		conn_doh_process(c);
		return;
	}
	if (c->in_process)
		return; /* a reply from inside the handler: the outer pass goes on */
	c->in_process = true;
	while (!c->closed && !conn_blocked(c) && (len = buf_framed_len(&c->rbuf)) >= 0) {
		conn_request(c, &req);
		out_len = 0;
		v = lst->cfg.on_query(lst->cfg.ctx, &req, c->rbuf.data + c->rbuf.off + 2,
				      (size_t)len, lst->loop->answer, &out_len);
		if (c->closed)
			break;
		conn_touch(c);
		c->rbuf.off += (size_t)len + 2;
		if (v == NETIO_REPLY && out_len > 0 &&
		    !buf_put_framed(&c->wbuf, lst->loop->answer, out_len)) {
			log_warn("tcp: no memory for an answer, closing the connection");
			conn_close(c);
		}
	}
	c->in_process = false;
	if (c->closed)
		return;
	buf_consumed(&c->rbuf);
	conn_flush(c);
	if (c->stream != NULL) {
		conn_pump(c);
		return;
	}
	conn_settle(c);
}

/* A read failed for good; for TLS say why (a client that speaks no TLS
 * or fails the handshake), then close. */
static void conn_tls_fail(struct tcp_conn *c)
{
	char as[64];

	if (c->tls != NULL)
		log_debug("tls from %s: %s", netio_addr_str(&c->peer, as, sizeof(as)),
			  tls_conn_error(c->tls));
	conn_close(c);
}

static void conn_readable(struct tcp_conn *c)
{
	size_t want = TCP_RBUF_INIT;
	ssize_t n;

	/* Room for the rest of the message being read, so it arrives whole. */
	if (buf_frame_missing(&c->rbuf) > want)
		want = buf_frame_missing(&c->rbuf);
	if (!buf_reserve(&c->rbuf, want)) {
		log_warn("tcp: no memory for a read buffer, closing the connection");
		conn_close(c);
		return;
	}
	n = stream_recv(c->ev.fd, c->tls, &c->tls_want_out, c->rbuf.data + c->rbuf.len,
			c->rbuf.cap - c->rbuf.len);
	if (c->tls != NULL)
		tls_note_up(c->tls, &c->tls_up, "from", &c->peer);
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			conn_tls_fail(c);
		else if (c->tls != NULL)
			conn_settle(c); /* the handshake may want EPOLLOUT */
		return;
	}
	/* Bytes alone do not restart the idle clock, a complete query does
	 * (conn_process): a client trickling a frame byte by byte still has to
	 * finish it within the idle timeout. */
	if (n == 0)
		c->eof = true; /* half-close: answer what was asked, then close */
	else
		c->rbuf.len += (size_t)n;
	/* A TLS record can hold more than the room given: take the rest out
	 * of the session now, epoll would not report it. */
	while (n > 0 && c->tls != NULL && tls_conn_pending(c->tls)) {
		if (!buf_reserve(&c->rbuf, TCP_RBUF_INIT)) {
			log_warn("tcp: no memory for a read buffer, closing the connection");
			conn_close(c);
			return;
		}
		n = stream_recv(c->ev.fd, c->tls, &c->tls_want_out,
				c->rbuf.data + c->rbuf.len, c->rbuf.cap - c->rbuf.len);
		if (n > 0)
			c->rbuf.len += (size_t)n;
		else if (n == 0)
			c->eof = true;
	}
	conn_process(c);
}

static void conn_writable(struct tcp_conn *c)
{
	conn_flush(c);
	if (!c->closed && c->stream != NULL)
		conn_pump(c);
	else if (!c->closed && !conn_blocked(c) && buf_framed_len(&c->rbuf) >= 0)
		conn_process(c);
	else
		conn_settle(c);
}

static void conn_event(struct tcp_conn *c, uint32_t events)
{
	if (c->closed)
		return;
	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
		if (c->eof) {
			/* The peer is gone for good (RST or full close). */
			if (events & (EPOLLERR | EPOLLHUP))
				conn_close(c);
		} else {
			conn_readable(c);
		}
	}
	if (!c->closed && (events & EPOLLOUT)) {
		if (c->tls_want_out) {
			/* The session's read was waiting to write: resume it. */
			c->tls_want_out = false;
			conn_readable(c);
		}
		if (!c->closed)
			conn_writable(c);
	}
}

/* ---- listeners ---- */

/* Idle: no query of it is being answered and no answer waits to be
 * written. Only idle connections are ever closed to make room. */
static bool conn_idle(const struct tcp_conn *c)
{
	return c->held == 0 && c->wbuf.len == c->wbuf.off;
}

/* Live connections of lst from the client with address ip, and the least
 * recently active idle one of them (a linear scan: there are at most
 * max_tcp of them). */
static unsigned client_conns(const struct listener *lst, const uint8_t ip[16],
			     struct tcp_conn **oldest_idle)
{
	struct tcp_conn *c;
	unsigned n = 0;

	*oldest_idle = NULL;
	for (c = lst->head; c != NULL; c = c->next) {
		if (memcmp(c->ip, ip, sizeof(c->ip)) == 0) {
			n++;
			if (*oldest_idle == NULL && conn_idle(c))
				*oldest_idle = c;
		}
	}
	return n;
}

/* The least recently active idle connection of lst, or NULL. */
static struct tcp_conn *oldest_idle(const struct listener *lst)
{
	struct tcp_conn *c;

	for (c = lst->head; c != NULL; c = c->next) {
		if (conn_idle(c))
			return c;
	}
	return NULL;
}

static void accept_resume(void *ctx)
{
	struct listener *lst = ctx;

	lst->accept_pause = NULL;
	ev_set(lst->loop, &lst->tcp, EPOLLIN);
}

static void tcp_acceptable(struct listener *lst)
{
	struct tdns_loop *l = lst->loop;
	struct tcp_conn *c;
	struct tdns_addr peer;
	uint8_t ip[16];
	char as[64];
	int fd, k;

	for (k = 0; k < ACCEPT_BURST; k++) {
		peer.len = sizeof(peer.ss);
		fd = accept4(lst->tcp.fd, (struct sockaddr *)&peer.ss, &peer.len,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			/* Out of descriptors or memory: a level-triggered listener
			 * would spin, so stop accepting for a moment. */
			log_warn("tcp accept on %s: %s; pausing accepts for %d ms",
				 netio_addr_str(&lst->cfg.addr, as, sizeof(as)),
				 strerror(errno), ACCEPT_PAUSE_MS);
			if (lst->accept_pause == NULL) {
				lst->accept_pause = netio_timer_add(l, ACCEPT_PAUSE_MS,
								    accept_resume, lst);
				if (lst->accept_pause != NULL)
					ev_set(l, &lst->tcp, 0);
			}
			return;
		}
		/* RFC 7766 6.2.3 under pressure: a newcomer takes the place
		 * of the least recently active idle connection - of its own
		 * client first (one client may hold at most its cap, so it
		 * cannot take everyone else's slots), then of any client -
		 * so that an idle flood cannot lock out a real client, even
		 * one behind the flooder's address (NAT). A connection with
		 * an answer in progress is never closed; with none idle the
		 * newcomer is. */
		addr_ip16(&peer, ip);
		if (client_conns(lst, ip, &c) >= lst->cfg.max_tcp_per_client) {
			if (c == NULL) {
				lst->refused_per_client++;
				log_debug("tcp from %s: %u connections per client, all "
					  "busy; closed",
					  netio_addr_str(&peer, as, sizeof(as)),
					  lst->cfg.max_tcp_per_client);
				close(fd);
				continue;
			}
			lst->evicted++;
			conn_close(c);
		}
		if (lst->n_conns >= lst->cfg.max_tcp) {
			c = oldest_idle(lst);
			if (c == NULL) {
				close(fd);
				continue;
			}
			lst->evicted++;
			conn_close(c);
		}
		c = calloc(1, sizeof(*c));
		if (c == NULL) {
			close(fd);
			continue;
		}
		c->ev.kind = EV_CONN;
		c->ev.fd = fd;
		c->ev.obj = c;
		c->lst = lst;
		c->peer = peer;
		memcpy(c->ip, ip, sizeof(c->ip));
		if (lst->cfg.tls != NULL) {
			c->tls = tls_conn_server(lst->cfg.tls, fd);
			if (c->tls == NULL ||
			    (lst->cfg.doh && doh_new(conn_doh_query, c, &c->doh) != TDNS_OK)) {
				tls_conn_free(c->tls);
				close(fd);
				free(c);
				continue;
			}
		}
		if (ev_add(l, &c->ev, EPOLLIN) != TDNS_OK) {
			doh_free(c->doh);
			tls_conn_free(c->tls);
			close(fd);
			free(c);
			continue;
		}
		lst->n_conns++;
		stats_inc(&l->tcp_accepted);
		c->last_ms = clock_mono_ms();
		conn_list_append(lst, c);
	}
}

static void req_read_pktinfo(struct tdns_request *req, struct msghdr *h)
{
	struct cmsghdr *cm;

	req->local_family = 0;
	if (h->msg_controllen == 0)
		return;
	for (cm = CMSG_FIRSTHDR(h); cm != NULL; cm = CMSG_NXTHDR(h, cm)) {
		if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO) {
			memcpy(&req->local.v4, CMSG_DATA(cm), sizeof(req->local.v4));
			req->local_family = AF_INET;
		} else if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_PKTINFO) {
			memcpy(&req->local.v6, CMSG_DATA(cm), sizeof(req->local.v6));
			req->local_family = AF_INET6;
		}
	}
}

/* The header of one answer datagram data[0..len) to peer (iov and ctl are
 * its storage), sent from the address the query came to: ipi_spec_dst
 * (v4) or ipi6_addr (v6) picks the source; the v6 interface index is kept
 * so that link-local addresses work. family 0: no control message. */
static void answer_hdr(struct msghdr *h, struct iovec *iov, void *data, size_t len,
		       const struct tdns_addr *peer, int family,
		       const union local_addr *local, union pktinfo_cmsg *ctl)
{
	struct in_pktinfo v4;
	struct cmsghdr *cm;

	iov->iov_base = data;
	iov->iov_len = len;
	memset(h, 0, sizeof(*h));
	h->msg_name = (void *)&peer->ss;
	h->msg_namelen = peer->len;
	h->msg_iov = iov;
	h->msg_iovlen = 1;
	if (family == 0)
		return;
	memset(ctl, 0, sizeof(*ctl));
	h->msg_control = ctl->buf;
	if (family == AF_INET) {
		memset(&v4, 0, sizeof(v4));
		v4.ipi_spec_dst = local->v4.ipi_addr;
		h->msg_controllen = CMSG_SPACE(sizeof(v4));
		cm = CMSG_FIRSTHDR(h);
		cm->cmsg_level = IPPROTO_IP;
		cm->cmsg_type = IP_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(v4));
		memcpy(CMSG_DATA(cm), &v4, sizeof(v4));
	} else {
		h->msg_controllen = CMSG_SPACE(sizeof(local->v6));
		cm = CMSG_FIRSTHDR(h);
		cm->cmsg_level = IPPROTO_IPV6;
		cm->cmsg_type = IPV6_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(local->v6));
		memcpy(CMSG_DATA(cm), &local->v6, sizeof(local->v6));
	}
}

static void udp_send_batch(int fd, struct mmsghdr *msgs, unsigned n)
{
	unsigned sent = 0;
	int r;

	while (sent < n) {
		r = sendmmsg(fd, msgs + sent, n - sent, MSG_DONTWAIT);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			/* The first datagram failed (socket buffer full, peer
			 * unreachable): UDP may lose it; go on with the rest. */
			log_debug("udp send: %s", strerror(errno));
			sent++;
			continue;
		}
		sent += (unsigned)r;
	}
}

/* One recvmmsg batch: answer what came, send the replies in one sendmmsg.
 * Returns how many datagrams were read (0 when none or on error). */
static unsigned udp_batch_once(struct listener *lst)
{
	struct tdns_loop *l = lst->loop;
	struct udp_batch *b = l->udp;
	struct tdns_request *req;
	struct msghdr *h;
	enum netio_verdict v;
	unsigned i, nout = 0;
	size_t out_len;
	int n;

	/* Under light load a batch is one datagram: set up again only the
	 * headers the kernel wrote into, not all UDP_BATCH of them. */
	if (b->ready_for != lst) {
		b->ready_for = lst;
		b->dirty = UDP_BATCH;
	}
	for (i = 0; i < b->dirty; i++) {
		b->in_iov[i].iov_base = b->in[i];
		b->in_iov[i].iov_len = NETIO_MSG_MAX;
		h = &b->in_msgs[i].msg_hdr;
		memset(h, 0, sizeof(*h));
		h->msg_name = &b->reqs[i].peer.ss;
		h->msg_namelen = sizeof(b->reqs[i].peer.ss);
		h->msg_iov = &b->in_iov[i];
		h->msg_iovlen = 1;
		if (lst->pktinfo) {
			h->msg_control = b->in_ctl[i].buf;
			h->msg_controllen = sizeof(b->in_ctl[i].buf);
		}
	}
	n = recvmmsg(lst->udp.fd, b->in_msgs, UDP_BATCH, MSG_DONTWAIT, NULL);
	b->dirty = n > 0 ? (unsigned)n : 0;
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			log_debug("udp receive: %s", strerror(errno));
		return 0;
	}
	if (n > 0 && lst->cfg.on_batch != NULL)
		lst->cfg.on_batch(lst->cfg.ctx, true);
	for (i = 0; i < (unsigned)n; i++) {
		h = &b->in_msgs[i].msg_hdr;
		req = &b->reqs[i];
		req->loop = l;
		req->lst = lst;
		req->conn = NULL;
		req->udp_fd = lst->udp.fd;
		req->peer.len = h->msg_namelen;
		req->tcp = false;
		req->tls = req->https = false;
		req->prev = req->next = NULL;
		req_read_pktinfo(req, h);
		if (h->msg_flags & MSG_TRUNC)
			continue;
		out_len = 0;
		v = lst->cfg.on_query(lst->cfg.ctx, req, b->in[i], b->in_msgs[i].msg_len,
				      b->out[i], &out_len);
		if (v != NETIO_REPLY || out_len == 0 || out_len > NETIO_MSG_MAX)
			continue;
		answer_hdr(&b->out_msgs[nout].msg_hdr, &b->out_iov[nout], b->out[i],
			   out_len, &req->peer, req->local_family, &req->local,
			   &b->out_ctl[nout]);
		nout++;
	}
	if (n > 0 && lst->cfg.on_batch != NULL)
		lst->cfg.on_batch(lst->cfg.ctx, false);
	udp_send_batch(lst->udp.fd, b->out_msgs, nout);
	return (unsigned)n;
}

/* A full batch means more are likely waiting: read again before going back
 * to epoll_wait (a syscall saved per batch under load), but only a few
 * times, so TCP clients and timers on this loop are not starved. */
static void udp_readable(struct listener *lst)
{
	unsigned rounds = 0;

	while (udp_batch_once(lst) == UDP_BATCH && ++rounds < UDP_ROUNDS)
		;
}

static enum tdns_status open_socket(const struct tdns_addr *a, int type, int *out)
{
	static const int one = 1;
	char as[64];
	int fd, e;

	*out = -1;
	fd = socket(a->ss.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	/* SO_REUSEPORT: every thread binds its own socket on the same port
	 * and the kernel spreads queries over them. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		goto fail;
	/* A v6 listener serves v6 only; IPv4 gets its own --listen. */
	if (a->ss.ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
		goto fail;
	if (type == SOCK_DGRAM && addr_is_any(a) &&
	    (a->ss.ss_family == AF_INET ?
		     setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)) :
		     setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one))) < 0)
		goto fail;
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0)
		goto fail;
	if (type == SOCK_STREAM && listen(fd, SOMAXCONN) < 0)
		goto fail;
	*out = fd;
	return TDNS_OK;
fail:
	e = errno;
	log_err("%s %s: %s%s", type == SOCK_STREAM ? "tcp" : "udp",
		netio_addr_str(a, as, sizeof(as)), strerror(e), bind_hint(e));
	if (fd >= 0)
		close(fd);
	return errno_status(e);
}

/* Neither probe sets SO_REUSEPORT, so any bound socket makes it fail. TCP
 * sets SO_REUSEADDR to pass over TIME_WAIT leftovers; UDP must not (there
 * it would allow sharing). */
static enum tdns_status probe_one(const struct tdns_addr *a, int type)
{
	static const int one = 1;
	enum tdns_status st = TDNS_OK;
	char as[64];
	int fd, e;

	fd = socket(a->ss.ss_family, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno_status(errno);
	if (type == SOCK_STREAM)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (a->ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0) {
		e = errno;
		st = e == EADDRINUSE ? TDNS_EBUSY : errno_status(e);
		log_err("%s %s: %s%s", type == SOCK_STREAM ? "tcp" : "udp",
			netio_addr_str(a, as, sizeof(as)), strerror(e), bind_hint(e));
	}
	close(fd);
	return st;
}

enum tdns_status netio_listen_probe(const struct tdns_addr *a)
{
	enum tdns_status st = probe_one(a, SOCK_DGRAM);

	return st == TDNS_OK ? probe_one(a, SOCK_STREAM) : st;
}

enum tdns_status netio_listen_probe_stream(const struct tdns_addr *a)
{
	return probe_one(a, SOCK_STREAM);
}

/* Bind UDP then TCP on the same port; with port 0, the kernel's choice for
 * UDP is tried for TCP too (a few times, in case it is taken). */
static enum tdns_status open_pair(struct tdns_addr *a, int *udp_fd, int *tcp_fd)
{
	static const int udp_rcvbuf = UDP_RCVBUF;
	struct tdns_addr bound;
	enum tdns_status st = TDNS_ENET;
	bool any_port = addr_port(a) == 0;
	int tries;

	for (tries = 0; tries < 8; tries++) {
		st = open_socket(a, SOCK_DGRAM, udp_fd);
		if (st != TDNS_OK)
			return st;
		/* Bursts wait in this queue while the workers are busy; the
		 * default (about 200 KB) drops them under load. The kernel caps
		 * the size at net.core.rmem_max; a refusal is harmless. */
		(void)setsockopt(*udp_fd, SOL_SOCKET, SO_RCVBUF, &udp_rcvbuf,
				 sizeof(udp_rcvbuf));
		if (any_port) {
			bound.len = sizeof(bound.ss);
			if (getsockname(*udp_fd, (struct sockaddr *)&bound.ss, &bound.len) < 0) {
				st = errno_status(errno);
				close(*udp_fd);
				return st;
			}
			addr_set_port(a, addr_port(&bound));
		}
		st = open_socket(a, SOCK_STREAM, tcp_fd);
		if (st == TDNS_OK)
			return TDNS_OK;
		close(*udp_fd);
		*udp_fd = -1;
		if (!any_port)
			return st;
		addr_set_port(a, 0);
	}
	return st;
}

enum tdns_status netio_listen(struct tdns_loop *l, const struct tdns_listen_cfg *cfg)
{
	struct listener *lst = NULL;
	enum tdns_status st;
	int udp_fd = -1, tcp_fd = -1;

	if (cfg == NULL || cfg->on_query == NULL ||
	    (cfg->addr.ss.ss_family != AF_INET && cfg->addr.ss.ss_family != AF_INET6))
		return TDNS_EINVAL;
	if (l->udp == NULL) {
		l->udp = malloc(sizeof(*l->udp));
		if (l->udp == NULL)
			return TDNS_ENOMEM;
		l->udp->ready_for = NULL;
	}
	lst = calloc(1, sizeof(*lst));
	if (lst == NULL)
		return TDNS_ENOMEM;
	lst->loop = l;
	lst->cfg = *cfg;
	if (lst->cfg.max_tcp == 0)
		lst->cfg.max_tcp = TCP_DEFAULT_MAX;
	if (lst->cfg.tcp_idle_ms == 0)
		lst->cfg.tcp_idle_ms = TCP_DEFAULT_IDLE_MS;
	if (lst->cfg.max_tcp_per_client == 0)
		lst->cfg.max_tcp_per_client = TCP_DEFAULT_PER_CLIENT;
	/* DNS over TLS has no datagram side (RFC 7858 3.1: TCP only). */
	if (cfg->tls != NULL)
		st = open_socket(&lst->cfg.addr, SOCK_STREAM, &tcp_fd);
	else
		st = open_pair(&lst->cfg.addr, &udp_fd, &tcp_fd);
	if (st != TDNS_OK)
		goto out;
	if (cfg->tls != NULL && addr_port(&lst->cfg.addr) == 0) {
		struct tdns_addr bound = { .len = sizeof(bound.ss) };

		if (getsockname(tcp_fd, (struct sockaddr *)&bound.ss, &bound.len) == 0)
			addr_set_port(&lst->cfg.addr, addr_port(&bound));
	}
	lst->udp = (struct ev){ .kind = EV_UDP, .fd = udp_fd, .obj = lst };
	lst->pktinfo = addr_is_any(&lst->cfg.addr);
	lst->tcp = (struct ev){ .kind = EV_ACCEPT, .fd = tcp_fd, .obj = lst };
	udp_fd = tcp_fd = -1;
	st = lst->udp.fd >= 0 ? ev_add(l, &lst->udp, EPOLLIN) : TDNS_OK;
	if (st == TDNS_OK)
		st = ev_add(l, &lst->tcp, EPOLLIN);
	if (st != TDNS_OK) {
		ev_close(l, &lst->udp);
		ev_close(l, &lst->tcp);
		goto out;
	}
	l->last_port = addr_port(&lst->cfg.addr);
	lst->next = l->listeners;
	l->listeners = lst;
	lst = NULL;
out:
	if (udp_fd >= 0)
		close(udp_fd);
	if (tcp_fd >= 0)
		close(tcp_fd);
	free(lst);
	return st;
}

uint16_t netio_listen_port(const struct tdns_loop *l)
{
	return l->last_port;
}

uint64_t netio_tcp_refused_per_client(const struct tdns_loop *l)
{
	const struct listener *lst;
	uint64_t n = 0;

	for (lst = l->listeners; lst != NULL; lst = lst->next)
		n += lst->refused_per_client;
	return n;
}

uint64_t netio_tcp_evicted(const struct tdns_loop *l)
{
	const struct listener *lst;
	uint64_t n = 0;

	for (lst = l->listeners; lst != NULL; lst = lst->next)
		n += lst->evicted;
	return n;
}

/* The idle timeout of lst's connections now: the configured one, or a
 * quarter of it (at least a second, at most the configured) once three
 * quarters of max_tcp are taken (RFC 7766 6.2.3: shorter under pressure).
 * What RFC 7828 keepalive advertises, and what idle_sweep applies. */
static unsigned listener_idle_ms(const struct listener *lst)
{
	unsigned idle = lst->cfg.tcp_idle_ms, low;

	if ((uint64_t)lst->n_conns * 4 < (uint64_t)lst->cfg.max_tcp * 3)
		return idle;
	low = idle / 4 > 1000 ? idle / 4 : 1000;
	return low < idle ? low : idle;
}

uint16_t netio_request_keepalive(const struct tdns_request *req)
{
	unsigned units;

	if (!req->tcp || req->lst == NULL)
		return 0;
	units = listener_idle_ms(req->lst) / 100;
	return (uint16_t)(units > UINT16_MAX ? UINT16_MAX : units == 0 ? 1 : units);
}

uint64_t netio_tcp_accepted(const struct tdns_loop *l)
{
	return stats_get(&l->tcp_accepted);
}

/* Close idle connections (RFC 7766 6.2.3); returns the next deadline. */
static uint64_t idle_sweep(struct tdns_loop *l, uint64_t now)
{
	uint64_t next = UINT64_MAX, due;
	struct listener *lst;
	struct tcp_conn *c;

	for (lst = l->listeners; lst != NULL; lst = lst->next) {
		while ((c = lst->head) != NULL) {
			due = c->last_ms + listener_idle_ms(lst);
			if (due > now) {
				if (due < next)
					next = due;
				break;
			}
			if (c->held > 0 && c->stream == NULL) {
				/* Waiting on our own answers is not idleness
				 * (a stream that wrote nothing for the idle
				 * time is: its reader stopped reading). */
				c->last_ms = now;
				conn_list_unlink(&lst->head, &lst->tail, c);
				conn_list_append(lst, c);
				continue;
			}
			conn_close(c);
		}
	}
	return next;
}

/* ---- requests ---- */

bool netio_request_is_tcp(const struct tdns_request *req)
{
	return req->tcp;
}

bool netio_request_is_tls(const struct tdns_request *req)
{
	return req->tls;
}

bool netio_request_is_https(const struct tdns_request *req)
{
	return req->https;
}

const struct tdns_addr *netio_request_peer(const struct tdns_request *req)
{
	return &req->peer;
}

uint64_t netio_request_held_us(const struct tdns_request *held)
{
	return held->held_us;
}

struct tdns_request *netio_request_hold(struct tdns_request *req)
{
	struct tdns_loop *l = req->loop;
	struct tdns_request *h = pool_get(&l->spare_reqs, sizeof(*h));

	if (h == NULL)
		return NULL;
	*h = *req;
	h->held_us = stats_now_us();
	h->prev = NULL;
	h->next = l->held;
	if (l->held != NULL)
		l->held->prev = h;
	l->held = h;
	if (h->tcp)
		h->conn->held++;
	return h;
}

void netio_request_release(struct tdns_request *held)
{
	struct tdns_loop *l;
	struct tcp_conn *c;

	if (held == NULL)
		return;
	l = held->loop;
	if (l != NULL) {
		if (held->prev != NULL)
			held->prev->next = held->next;
		else
			l->held = held->next;
		if (held->next != NULL)
			held->next->prev = held->prev;
		c = held->conn;
		if (c != NULL && --c->held == 0 && c->closed) {
			conn_list_unlink(&l->limbo, NULL, c);
			conn_list_push(&l->dead_conns, c);
		} else if (c != NULL && !c->closed) {
			/* One fewer owed answer may unblock reading or let a
			 * half-closed connection finish. */
			if (!conn_blocked(c) && buf_framed_len(&c->rbuf) >= 0)
				conn_process(c);
			else
				conn_settle(c);
		}
		pool_put(&l->spare_reqs, held);
		return;
	}
	free(held);
}

/* Send every queued deferred UDP answer: one sendmmsg per run of answers
 * on the same socket (in practice the one listener they all came to). */
static void replies_send(struct tdns_loop *l)
{
	struct reply_queue *q;
	struct reply_slot *sl;
	unsigned i, start;

	if (l->udp == NULL || l->udp->replies.n == 0)
		return;
	q = &l->udp->replies;
	for (i = 0; i < q->n; i++) {
		sl = &q->slot[i];
		answer_hdr(&q->msgs[i].msg_hdr, &q->iov[i], q->arena + sl->off, sl->len,
			   &sl->peer, sl->local_family, &sl->local, &q->ctl[i]);
	}
	for (start = 0; start < q->n; start = i) {
		for (i = start + 1; i < q->n && q->slot[i].fd == q->slot[start].fd; i++)
			;
		udp_send_batch(q->slot[start].fd, q->msgs + start, i - start);
	}
	q->n = 0;
	q->used = 0;
}

/* Queue a deferred UDP answer (copied); sends the queue first when it has
 * no room left, so it never grows. */
static void reply_queue_put(struct tdns_loop *l, const struct tdns_request *req,
			    const uint8_t *msg, size_t len)
{
	struct reply_queue *q = &l->udp->replies;
	struct reply_slot *sl;

	if (REPLY_ARENA - q->used < len)
		replies_send(l);
	sl = &q->slot[q->n++];
	sl->fd = req->udp_fd;
	sl->local_family = req->local_family;
	sl->local = req->local;
	sl->peer = req->peer;
	sl->off = q->used;
	sl->len = len;
	memcpy(q->arena + q->used, msg, len);
	q->used += len;
	if (q->n == UDP_BATCH)
		replies_send(l);
}

void netio_request_reply(struct tdns_request *held, const uint8_t *msg, size_t len)
{
	struct tcp_conn *c;

	if (held == NULL)
		return;
	if (held->loop != NULL && len > 0 && len <= NETIO_MSG_MAX) {
		c = held->conn;
		if (held->https && !c->closed) {
			conn_touch(c);
			doh_answer(c->doh, held->stream, msg, len);
			conn_doh_output(c);
		} else if (held->tcp && !c->closed) {
			if (buf_put_framed(&c->wbuf, msg, len))
				conn_flush(c);
			else
				conn_close(c);
		} else if (!held->tcp) {
			reply_queue_put(held->loop, held, msg, len);
		}
	}
	netio_request_release(held);
}

/* The stream of connection ctx ran its max_s: the connection is closed,
 * which ends the stream (stream_end). */
static void stream_expired(void *ctx)
{
	struct tcp_conn *c = ctx;
	char as[64];

	c->stream->limit = NULL; /* the handle dies as the callback starts */
	log_warn("tcp %s: an answer stream (zone transfer) still running after %u s; "
		 "connection closed", netio_addr_str(&c->peer, as, sizeof(as)),
		 c->stream->max_s);
	conn_close(c);
}

enum tdns_status netio_request_stream(struct tdns_request *held, netio_stream_fn fn,
				      void (*done)(void *ctx), void *ctx, unsigned max_s)
{
	struct conn_stream *s;
	struct tcp_conn *c;

	/* DNS over HTTPS answers one message per request (RFC 8484). */
	if (held == NULL || !held->tcp || held->https)
		return TDNS_EINVAL;
	c = held->conn;
	if (held->loop == NULL || c == NULL || c->closed || c->stream != NULL) {
		done(ctx);
		netio_request_release(held);
		return TDNS_OK;
	}
	s = malloc(sizeof(*s));
	if (s == NULL)
		return TDNS_ENOMEM;
	s->fn = fn;
	s->done = done;
	s->ctx = ctx;
	s->held = held;
	s->max_s = max_s;
	s->limit = NULL;
	if (max_s > 0) {
		s->limit = netio_timer_add(held->loop, (uint64_t)max_s * 1000u,
					   stream_expired, c);
		if (s->limit == NULL) {
			free(s);
			return TDNS_ENOMEM;
		}
	}
	c->stream = s;
	/* Inside conn_process the pass pumps when it ends. */
	if (!c->in_process)
		conn_pump(c);
	return TDNS_OK;
}

/* ---- out sockets (upstream queries) ---- */

static void out_fail(struct tdns_out *o)
{
	if (o->failed)
		return;
	o->failed = true;
	/* Out of epoll (the fd stays open until netio_out_close), or a
	 * level-triggered EPOLLERR would wake the loop again and again. */
	epoll_ctl(o->loop->epfd, EPOLL_CTL_DEL, o->ev.fd, NULL);
	o->fn(o->ctx, o, NULL, 0);
}

/* out_fail for a system call that failed with err. */
static void out_fail_errno(struct tdns_out *o, int err)
{
	if (!o->failed)
		o->err = err;
	out_fail(o);
}

/* A TLS out socket that failed says why, at warning level: a wrong
 * certificate is an operator's error to see (RFC 8310 strict profile). */
static void out_tls_fail(struct tdns_out *o)
{
	char as[64];

	if (!o->failed && errno != EPROTO)
		o->err = errno; /* EPROTO: the TLS session's own error */
	if (o->tls != NULL && !o->failed)
		o->auth_failed = tls_conn_auth_failed(o->tls);
	if (o->tls != NULL && !o->failed)
		log_warn("upstream %s (tls, auth name %s): %s",
			 netio_addr_str(&o->peer, as, sizeof(as)), o->auth_name,
			 errno == EPROTO || errno == EPIPE ? tls_conn_error(o->tls)
							   : strerror(errno));
	out_fail(o);
}

static void out_flush(struct tdns_out *o)
{
	ssize_t n;

	while (buf_used(&o->wbuf) > 0) {
		n = stream_send(o->ev.fd, o->tls, &o->tls_want_out,
				o->wbuf.data + o->wbuf.off, buf_used(&o->wbuf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				out_tls_fail(o);
			return;
		}
		o->wbuf.off += (size_t)n;
	}
	buf_consumed(&o->wbuf);
}

static void out_settle(struct tdns_out *o)
{
	uint32_t events = EPOLLIN;

	if (o->closed || o->failed)
		return;
	if (o->connecting || buf_used(&o->wbuf) > 0 || o->tls_want_out)
		events |= EPOLLOUT;
	if (o->connecting)
		events = EPOLLOUT;
	ev_set(o->loop, &o->ev, events);
}

static void out_udp_readable(struct tdns_out *o)
{
	ssize_t n;
	int k;

	for (k = 0; k < OUT_RX_BURST && !o->closed && !o->failed; k++) {
		n = recv(o->ev.fd, o->loop->rx, NETIO_MSG_MAX, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* ECONNREFUSED: the ICMP port unreachable of a connected
			 * UDP socket; report it so the caller fails fast. */
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				out_fail_errno(o, errno);
			return;
		}
		o->fn(o->ctx, o, o->loop->rx, (size_t)n);
	}
}

static void out_tcp_readable(struct tdns_out *o)
{
	size_t want = TCP_RBUF_INIT;
	ssize_t n;
	long len;

	if (buf_frame_missing(&o->rbuf) > want)
		want = buf_frame_missing(&o->rbuf);
	if (!buf_reserve(&o->rbuf, want)) {
		out_fail(o);
		return;
	}
	n = stream_recv(o->ev.fd, o->tls, &o->tls_want_out, o->rbuf.data + o->rbuf.len,
			o->rbuf.cap - o->rbuf.len);
	if (o->tls != NULL)
		tls_note_up(o->tls, &o->tls_up, "to", &o->peer);
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			out_tls_fail(o);
		return;
	}
	o->rbuf.len += (size_t)n;
	/* The rest of a TLS record, which epoll cannot see (as conn_readable). */
	while (n > 0 && o->tls != NULL && tls_conn_pending(o->tls)) {
		ssize_t more;

		if (!buf_reserve(&o->rbuf, TCP_RBUF_INIT)) {
			out_fail(o);
			return;
		}
		more = stream_recv(o->ev.fd, o->tls, &o->tls_want_out,
				   o->rbuf.data + o->rbuf.len, o->rbuf.cap - o->rbuf.len);
		if (more <= 0)
			break;
		o->rbuf.len += (size_t)more;
	}
	while (!o->closed && !o->failed && (len = buf_framed_len(&o->rbuf)) >= 0) {
		o->rbuf.off += (size_t)len + 2;
		o->fn(o->ctx, o, o->rbuf.data + o->rbuf.off - (size_t)len, (size_t)len);
	}
	if (o->closed || o->failed)
		return;
	buf_consumed(&o->rbuf);
	if (n == 0)
		out_fail(o);
}

static void out_linger_read(struct tdns_out *o);

static void out_event(struct tdns_out *o, uint32_t events)
{
	int err = 0;
	socklen_t elen = sizeof(err);

	if (o->lingering) {
		out_linger_read(o);
		return;
	}
	if (o->closed || o->failed)
		return;
	if (o->connecting) {
		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		if (getsockopt(o->ev.fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0 || err != 0) {
			log_debug("tcp connect: %s", strerror(err != 0 ? err : errno));
			out_fail_errno(o, err != 0 ? err : errno);
			return;
		}
		o->connecting = false;
		out_flush(o);
		out_settle(o);
		return;
	}
	if (o->tls_want_out && (events & EPOLLOUT)) {
		/* The session's read was waiting to write: resume it. */
		o->tls_want_out = false;
		events |= EPOLLIN;
	}
	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
		if (o->tcp)
			out_tcp_readable(o);
		else
			out_udp_readable(o);
		/* A TLS write may have waited for the handshake's reads. */
		if (o->tls != NULL)
			events |= EPOLLOUT;
	}
	if (!o->closed && !o->failed && (events & EPOLLOUT))
		out_flush(o);
	out_settle(o);
}

/* What a TLS out socket needs (netio_out_tls). */
struct out_tls {
	struct tdns_tls *tls;
	const char *auth_name;
	struct tdns_tls_session **resume;
};

/* Bind fd to src before its connect (netio_out_udp_from). A fixed port is
 * shared by the sockets of several peers at once (SO_REUSEADDR: the
 * connected sockets differ in their peer). */
static bool out_bind(int fd, const struct tdns_addr *src, const struct tdns_addr *peer)
{
	char as[64], ps[64];
	int one = 1, e;

	if (addr_port(src) != 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		return false;
	if (bind(fd, (const struct sockaddr *)&src->ss, src->len) == 0)
		return true;
	e = errno; /* the caller reads it after the log line */
	log_warn("out %s: cannot bind the source address %s: %s",
		 netio_addr_str(peer, ps, sizeof(ps)), netio_addr_str(src, as, sizeof(as)),
		 strerror(e));
	errno = e;
	return false;
}

/* tls NULL: clear UDP or TCP; else TLS over TCP checked for its name.
 * src NULL: the kernel picks the source address. */
static enum tdns_status out_open(struct tdns_loop *l, const struct tdns_addr *peer,
				 const struct tdns_addr *src, bool tcp,
				 const struct out_tls *tls, netio_out_fn fn, void *ctx,
				 struct tdns_out **out)
{
	struct tdns_out *o = NULL;
	enum tdns_status st = TDNS_OK;
	char as[64];
	int fd = -1;

	*out = NULL;
	if (peer == NULL || fn == NULL ||
	    (peer->ss.ss_family != AF_INET && peer->ss.ss_family != AF_INET6) ||
	    (src != NULL && src->ss.ss_family != peer->ss.ss_family))
		return TDNS_EINVAL;
	o = pool_get(&l->spare_outs, sizeof(*o));
	if (o == NULL)
		return TDNS_ENOMEM;
	fd = socket(peer->ss.ss_family,
		    (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || (src != NULL && !out_bind(fd, src, peer)))
		goto fail;
	/* connect(): the kernel now drops datagrams from any other source. A
	 * UDP socket is not bound first: connect() autobinds it, and Linux
	 * (udp_lib_get_port) starts the search for a free ephemeral port at a
	 * random place, as it does for bind to port 0 (RFC 5452 9.2), so the
	 * bind would only cost a syscall. */
	if (connect(fd, (const struct sockaddr *)&peer->ss, peer->len) < 0) {
		if (!tcp || errno != EINPROGRESS)
			goto fail;
		o->connecting = true;
	}
	o->ev = (struct ev){ .kind = EV_OUT, .fd = fd, .obj = o };
	o->loop = l;
	o->fn = fn;
	o->ctx = ctx;
	o->tcp = tcp;
	o->peer = *peer;
	if (tls != NULL) {
		st = TDNS_ENOMEM;
		o->auth_name = strdup(tls->auth_name);
		if (o->auth_name == NULL)
			goto out;
		o->tls = tls_conn_client(tls->tls, fd, tls->auth_name, tls->resume);
		if (o->tls == NULL)
			goto out;
	}
	st = ev_add(l, &o->ev, o->connecting ? EPOLLOUT : EPOLLIN);
	if (st != TDNS_OK)
		goto out;
	fd = -1;
	o->next = l->outs;
	if (l->outs != NULL)
		l->outs->prev = o;
	l->outs = o;
	*out = o;
	o = NULL;
	goto out;
fail:
	st = errno_status(errno);
	log_debug("out %s %s: %s", tcp ? "tcp" : "udp", netio_addr_str(peer, as, sizeof(as)),
		  strerror(errno));
out:
	if (fd >= 0)
		close(fd);
	if (o != NULL) {
		tls_conn_free(o->tls);
		free(o->auth_name);
	}
	free(o);
	return st;
}

enum tdns_status netio_out_udp(struct tdns_loop *l, const struct tdns_addr *peer,
			       netio_out_fn fn, void *ctx, struct tdns_out **out)
{
	return out_open(l, peer, NULL, false, NULL, fn, ctx, out);
}

enum tdns_status netio_out_tcp(struct tdns_loop *l, const struct tdns_addr *peer,
			       netio_out_fn fn, void *ctx, struct tdns_out **out)
{
	return out_open(l, peer, NULL, true, NULL, fn, ctx, out);
}

/* A source of the other family than peer's, or none: the kernel's choice. */
static const struct tdns_addr *out_source(const struct tdns_addr *src,
					  const struct tdns_addr *peer)
{
	return src != NULL && src->len > 0 && peer != NULL &&
			       src->ss.ss_family == peer->ss.ss_family
		       ? src : NULL;
}

enum tdns_status netio_out_udp_from(struct tdns_loop *l, const struct tdns_addr *peer,
				    const struct tdns_addr *src, netio_out_fn fn, void *ctx,
				    struct tdns_out **out)
{
	return out_open(l, peer, out_source(src, peer), false, NULL, fn, ctx, out);
}

enum tdns_status netio_out_tcp_from(struct tdns_loop *l, const struct tdns_addr *peer,
				    const struct tdns_addr *src, netio_out_fn fn, void *ctx,
				    struct tdns_out **out)
{
	return out_open(l, peer, out_source(src, peer), true, NULL, fn, ctx, out);
}

enum tdns_status netio_out_tls(struct tdns_loop *l, const struct tdns_addr *peer,
			       struct tdns_tls *tls, const char *auth_name,
			       struct tdns_tls_session **resume, netio_out_fn fn,
			       void *ctx, struct tdns_out **out)
{
	struct out_tls t = { tls, auth_name, resume };

	if (tls == NULL || auth_name == NULL) {
		*out = NULL;
		return TDNS_EINVAL;
	}
	return out_open(l, peer, NULL, true, &t, fn, ctx, out);
}

enum tdns_status netio_out_send(struct tdns_out *o, const uint8_t *msg, size_t len)
{
	if (o->closed || o->failed)
		return TDNS_ENET;
	if (len == 0 || len > NETIO_MSG_MAX)
		return TDNS_EINVAL;
	if (!o->tcp) {
		if (send(o->ev.fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
			return errno_status(errno);
		return TDNS_OK;
	}
	if (!buf_put_framed(&o->wbuf, msg, len))
		return TDNS_ENOMEM;
	if (!o->connecting)
		out_flush(o);
	out_settle(o);
	return o->failed ? TDNS_ENET : TDNS_OK;
}

static void out_unlink(struct tdns_loop *l, struct tdns_out *o)
{
	if (o->prev != NULL)
		o->prev->next = o->next;
	else
		l->outs = o->next;
	if (o->next != NULL)
		o->next->prev = o->prev;
	o->prev = o->next = NULL;
}

static void out_free(struct tdns_out *o)
{
	tls_conn_free(o->tls);
	free(o->auth_name);
	buf_free(&o->rbuf);
	buf_free(&o->wbuf);
	free(o);
}

/* A closed out socket's memory: kept for the next netio_out_* (a miss opens
 * and closes one each). */
static void out_recycle(struct tdns_loop *l, struct tdns_out *o)
{
	tls_conn_free(o->tls);
	free(o->auth_name);
	buf_free(&o->rbuf);
	buf_free(&o->wbuf);
	pool_put(&l->spare_outs, o);
}

bool netio_out_auth_failed(const struct tdns_out *o)
{
	return o->auth_failed;
}

int netio_out_errno(const struct tdns_out *o)
{
	return o->err;
}

/* The end of a closed out socket: its descriptor closed, its memory to the
 * graveyard. */
static void out_bury(struct tdns_out *o)
{
	struct tdns_loop *l = o->loop;

	close(o->ev.fd);
	o->ev.fd = -1;
	o->closed = true;
	o->lingering = false;
	out_unlink(l, o);
	o->next = l->dead_outs;
	l->dead_outs = o;
}

static void out_linger_expired(void *ctx)
{
	struct tdns_out *o = ctx;

	o->linger = NULL; /* the handle dies as the callback starts */
	out_bury(o);
}

/* A lingering socket's bytes (the peer's close_notify, or what it sent
 * before it saw ours) are dropped; its end (EOF) or an error ends the
 * wait. */
static void out_linger_read(struct tdns_out *o)
{
	ssize_t n;
	int k;

	for (k = 0; k < OUT_RX_BURST; k++) {
		n = recv(o->ev.fd, o->loop->rx, NETIO_MSG_MAX, MSG_DONTWAIT);
		if (n > 0 || (n < 0 && errno == EINTR))
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		netio_timer_cancel(o->loop, o->linger);
		o->linger = NULL;
		out_bury(o);
		return;
	}
}

/* A TLS out socket whose handshake is done closes cleanly (RFC 8446 6.1,
 * RFC 7766 6.2.1 for the client that closes): close_notify and our FIN,
 * then the descriptor stays open, reading and dropping, until the peer
 * closes its side or OUT_LINGER_MS pass. Closed at once, the socket would
 * answer the peer's close_notify with a reset. False: not possible (the
 * caller closes at once). */
static bool out_linger(struct tdns_out *o)
{
	struct tdns_loop *l = o->loop;

	if (o->tls == NULL || !o->tls_up || o->failed)
		return false;
	tls_conn_shutdown(o->tls);
	if (shutdown(o->ev.fd, SHUT_WR) < 0)
		return true; /* the caller closes it; close_notify went */
	o->linger = netio_timer_add(l, OUT_LINGER_MS, out_linger_expired, o);
	if (o->linger == NULL)
		return true;
	o->closed = true;
	o->lingering = true;
	ev_set(l, &o->ev, EPOLLIN);
	return true;
}

void netio_out_close(struct tdns_out *o)
{
	if (o == NULL || o->closed)
		return;
	/* No EPOLL_CTL_DEL: this is the socket's only descriptor (never
	 * dup'ed, and tierdns never forks, which would copy it), and closing
	 * it takes it out of epoll. Events of it already returned by
	 * epoll_wait find it closed on the graveyard. Keep it so: a second
	 * descriptor would keep the registration, and events would name
	 * freed memory. */
	if (!out_linger(o))
		tls_conn_shutdown(o->tls); /* close_notify, while the socket is open */
	if (!o->lingering)
		out_bury(o);
}

/* ---- the loop ---- */

struct tdns_loop *netio_loop_new(void)
{
	struct tdns_loop *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return NULL;
	l->epfd = -1;
	l->wake.fd = -1;
	atomic_init(&l->stop, false);
	l->answer = malloc(NETIO_MSG_MAX);
	l->rx = malloc(NETIO_MSG_MAX);
	if (l->answer == NULL || l->rx == NULL)
		goto fail;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0)
		goto fail;
	l->wake.kind = EV_WAKE;
	l->wake.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (l->wake.fd < 0 || ev_add(l, &l->wake, EPOLLIN) != TDNS_OK)
		goto fail;
	return l;
fail:
	log_err("event loop: %s", strerror(errno));
	netio_loop_free(l);
	return NULL;
}

static void graveyard_free(struct tdns_loop *l)
{
	struct tcp_conn *c;
	struct tdns_out *o;

	while ((c = l->dead_conns) != NULL) {
		l->dead_conns = c->next;
		conn_free(c);
	}
	while ((o = l->dead_outs) != NULL) {
		l->dead_outs = o->next;
		out_recycle(l, o);
	}
}

void netio_loop_free(struct tdns_loop *l)
{
	struct listener *lst;
	struct tdns_request *h;
	struct tdns_out *o;
	struct tcp_conn *c;
	size_t i;

	if (l == NULL)
		return;
	/* Deferred answers still queued (given after the loop stopped) go
	 * out while their listeners are open. */
	replies_send(l);
	/* Held requests stay with their owners but become inert. */
	for (h = l->held; h != NULL; h = h->next) {
		h->loop = NULL;
		h->conn = NULL;
	}
	while ((lst = l->listeners) != NULL) {
		l->listeners = lst->next;
		while ((c = lst->head) != NULL) {
			conn_list_unlink(&lst->head, &lst->tail, c);
			tls_conn_shutdown(c->tls);
			close(c->ev.fd);
			stream_end(c);
			conn_free(c);
		}
		if (lst->udp.fd >= 0)
			close(lst->udp.fd);
		close(lst->tcp.fd);
		free(lst);
	}
	while ((c = l->limbo) != NULL) {
		l->limbo = c->next;
		conn_free(c);
	}
	while ((o = l->outs) != NULL) {
		l->outs = o->next;
		if (!o->lingering)
			tls_conn_shutdown(o->tls);
		close(o->ev.fd);
		out_free(o);
	}
	graveyard_free(l);
	pool_drain(&l->spare_outs);
	pool_drain(&l->spare_reqs);
	for (i = 0; i < l->n_heap; i++)
		free(l->heap[i]);
	free(l->heap);
	if (l->wake.fd >= 0)
		close(l->wake.fd);
	if (l->epfd >= 0)
		close(l->epfd);
	free(l->udp);
	free(l->answer);
	free(l->rx);
	free(l);
}

void netio_loop_stop(struct tdns_loop *l)
{
	static const uint64_t one = 1;
	ssize_t n;

	/* Only async-signal-safe calls here: a lock-free atomic and write(2). */
	atomic_store(&l->stop, true);
	n = write(l->wake.fd, &one, sizeof(one));
	(void)n;
}

static void dispatch(const struct epoll_event *ee)
{
	struct ev *e = ee->data.ptr;
	uint64_t count;
	ssize_t n;

	switch (e->kind) {
	case EV_WAKE:
		n = read(e->fd, &count, sizeof(count));
		(void)n;
		break;
	case EV_UDP:
		udp_readable(e->obj);
		break;
	case EV_ACCEPT:
		tcp_acceptable(e->obj);
		break;
	case EV_CONN:
		conn_event(e->obj, ee->events);
		break;
	case EV_OUT:
		out_event(e->obj, ee->events);
		break;
	}
}

/* The flush hook, then the deferred answers it and the iteration queued. */
static void flush_replies(struct tdns_loop *l)
{
	if (l->flush_fn != NULL)
		l->flush_fn(l->flush_ctx);
	replies_send(l);
}

/* The end of an iteration: flush_replies, then free what was closed. */
static void loop_flush(struct tdns_loop *l)
{
	flush_replies(l);
	graveyard_free(l);
}

static bool is_out(const struct epoll_event *ee)
{
	return ((const struct ev *)ee->data.ptr)->kind == EV_OUT;
}

/* The events of one epoll_wait: replies from upstreams first and then the
 * flush hook with the answers they make, then the rest (new client
 * queries, connections): answers already here do not wait behind a
 * batch of new queries. Nothing is freed between the passes (the
 * graveyard waits for the end), so an event for an object closed by an
 * earlier one is still safe to look at. */
static void dispatch_all(struct tdns_loop *l, const struct epoll_event *evs, int n)
{
	int i, outs = 0;

	for (i = 0; i < n; i++) {
		if (is_out(&evs[i])) {
			dispatch(&evs[i]);
			outs++;
		}
	}
	if (outs == n)
		return;
	if (outs > 0)
		flush_replies(l);
	for (i = 0; i < n; i++)
		if (!is_out(&evs[i]))
			dispatch(&evs[i]);
}

void netio_loop_set_flush(struct tdns_loop *l, void (*fn)(void *ctx), void *ctx)
{
	l->flush_fn = fn;
	l->flush_ctx = fn != NULL ? ctx : NULL;
}

enum tdns_status netio_loop_run(struct tdns_loop *l)
{
	struct epoll_event evs[EPOLL_BATCH];
	enum tdns_status st = TDNS_OK;
	uint64_t now, next, count;
	ssize_t r;
	int n, timeout;

	while (!atomic_load(&l->stop)) {
		timers_fire(l, clock_mono_ms());
		now = clock_mono_ms();
		next = idle_sweep(l, now);
		if (atomic_load(&l->stop))
			break;
		loop_flush(l);
		if (atomic_load(&l->stop))
			break;
		/* After the hook: it may have added a timer. */
		now = clock_mono_ms();
		if (l->n_heap > 0 && l->heap[0]->due < next)
			next = l->heap[0]->due;
		if (next == UINT64_MAX)
			timeout = -1;
		else if (next <= now)
			timeout = 0;
		else
			timeout = next - now > INT_MAX ? INT_MAX : (int)(next - now);
		n = epoll_wait(l->epfd, evs, EPOLL_BATCH, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_err("epoll_wait: %s", strerror(errno));
			st = errno_status(errno);
			break;
		}
		/* What it closed is freed by the next loop_flush. */
		dispatch_all(l, evs, n);
	}
	/* Once more as the loop stops: nothing given during the last
	 * iteration is left behind. */
	loop_flush(l);
	/* Consume the stop so the loop can be run again. */
	atomic_store(&l->stop, false);
	r = read(l->wake.fd, &count, sizeof(count));
	(void)r;
	return st;
}
