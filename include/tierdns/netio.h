/*
 * netio.h - the only module that touches sockets and epoll (the OS seam).
 *
 * One struct tdns_loop per thread: an epoll set with its listeners, client
 * connections, outbound sockets and timers. Nothing here is shared between
 * loops; a daemon with N threads runs N loops, each with its own
 * SO_REUSEPORT listening sockets.
 *
 * Server side: every complete query (a UDP datagram, or one 2-byte-framed
 * TCP message) is handed to the listener's netio_query_fn, which either
 * answers at once (NETIO_REPLY, answer written into out), sends nothing
 * (NETIO_DROP), or defers (NETIO_DEFER) after taking a handle with
 * netio_request_hold() and answering later with netio_request_reply() or
 * netio_request_release(). TCP connections allow pipelining (RFC 7766 6.2.1):
 * several queries in flight, answers in any order; idle connections are
 * closed after the idle timeout; at most max_tcp connections per listener,
 * and at most max_tcp_per_client of them from one client address.
 *
 * DNS over TLS (RFC 7858): a listener with a TLS configuration (tls.h)
 * serves TCP only, and each of its connections is a TCP connection whose
 * bytes pass through a TLS session: the same framing, pipelining, limits,
 * idle timeout and eviction as plain TCP. The handshake runs under the
 * idle timeout too, so a client that stalls in it is closed like an idle
 * one. An out socket may be TLS in the same way (netio_out_tls).
 *
 * DNS over HTTPS (RFC 8484): a TLS listener with doh set speaks HTTP/2
 * (doh.h) on its connections instead of RFC 7766 framing; every DoH
 * request is one query to on_query, answered or deferred the same way,
 * and several are in flight at once (HTTP/2 streams). Limits and the
 * idle timeout are those of its TCP connections.
 *
 * Client side: netio_out_* sockets for upstream queries. A UDP out socket is
 * a fresh socket connect()ed to the upstream, which binds it to a
 * kernel-chosen random port, so the kernel drops datagrams from any other
 * address or port (RFC 5452 9.2). A TCP out socket frames and unframes
 * messages.
 */
#ifndef TIERDNS_NETIO_H
#define TIERDNS_NETIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "tierdns/status.h"

struct tdns_loop;
struct tdns_tls;
struct tdns_request;
struct tdns_out;
struct tdns_timer;

struct tdns_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/* Parse "1.2.3.4", "1.2.3.4:53", "::1", "[::1]:53" (default_port when none
 * given). TDNS_EINVAL on anything else. */
enum tdns_status netio_addr_parse(const char *text, uint16_t default_port,
				  struct tdns_addr *out);
/* "1.2.3.4:53" / "[::1]:53" into buf; returns buf. */
const char *netio_addr_str(const struct tdns_addr *a, char *buf, size_t cap);
/* The same host: the same IP address, ports aside (an IPv4 address and
 * its IPv4-mapped IPv6 form, which a dual-stack socket reports, alike). */
bool netio_addr_same_host(const struct tdns_addr *a, const struct tdns_addr *b);

/* NULL (error logged) if epoll or eventfd cannot be created. */
struct tdns_loop *netio_loop_new(void);
/* Closes everything it owns: listeners, connections, timers and any out
 * socket not yet closed (close them first: a handle is invalid afterwards). */
void netio_loop_free(struct tdns_loop *l);
/* Run until netio_loop_stop. Returns TDNS_OK or the fatal error. */
enum tdns_status netio_loop_run(struct tdns_loop *l);
/* Ask the loop to return; safe from another thread and from a signal handler. */
void netio_loop_stop(struct tdns_loop *l);
/*
 * fn(ctx) runs once per loop iteration, after timers fired and the events
 * of the last epoll_wait were handled, just before the loop waits again
 * (and once more when the loop stops). UDP replies given with
 * netio_request_reply during the iteration, including from fn, are sent
 * after fn returns. One hook per loop; fn NULL removes it. Set and called
 * on the loop's thread; ctx is the caller's and must live until the hook
 * is removed or the loop is freed (netio_loop_free does not call it).
 *
 * Within an iteration, the events of out sockets (upstream replies) are
 * handled first; when other events (new queries, connections) came in the
 * same epoll_wait, fn runs and the replies queued so far leave before
 * those are handled: answers already here do not wait behind a batch of
 * new work.
 */
void netio_loop_set_flush(struct tdns_loop *l, void (*fn)(void *ctx), void *ctx);

/* ---- server side ---- */

enum netio_verdict {
	NETIO_REPLY = 0, /* out[0..*out_len) is the answer */
	NETIO_DROP,      /* nothing is sent */
	NETIO_DEFER,     /* the handler took netio_request_hold(req) */
};

/* in is valid only during the call. out has room for 65535 bytes. */
typedef enum netio_verdict (*netio_query_fn)(void *ctx, struct tdns_request *req,
					     const uint8_t *in, size_t in_len,
					     uint8_t *out, size_t *out_len);

struct tdns_listen_cfg {
	struct tdns_addr addr;
	netio_query_fn on_query;
	void *ctx;
	/* Connection limits. A new connection over either takes the place of
	 * the least recently active idle connection (no answer in progress
	 * or unwritten) - of its own client first, then of any client - and
	 * is itself closed only when none is idle (netio_tcp_evicted,
	 * netio_tcp_refused_per_client count both). */
	unsigned max_tcp;        /* 0 = 256 connections per listener (each loop
				  * has its own: N threads accept N * max_tcp) */
	unsigned tcp_idle_ms;    /* 0 = 10000 (RFC 7766 6.2.3) */
	/* 0 = 16 connections per listener from one client
	 * IP address (IPv4-mapped IPv6 counts as the IPv4 address). */
	unsigned max_tcp_per_client;
	/* Optional (NULL = none): called with begin true
	 * before the first on_query of a batch of UDP datagrams (one
	 * recvmmsg) and with begin false after the last, before the replies
	 * go out, so a handler can share per-batch work (both daemons take
	 * one LMDB snapshot per batch). TCP queries come outside batches. */
	void (*on_batch)(void *ctx, bool begin);
	/* Optional (NULL = clear UDP and TCP): serve DNS over TLS on a TCP
	 * socket only, with this server configuration (tls.h), which must
	 * outlive the loop. */
	struct tdns_tls *tls;
	/* With tls: serve DNS over HTTPS (HTTP/2, doh.h) instead of DoT. */
	bool doh;
};

/* Bind UDP and TCP on cfg->addr (SO_REUSEADDR/SO_REUSEPORT). With port 0
 * the kernel picks a port, the same one for UDP and TCP. */
enum tdns_status netio_listen(struct tdns_loop *l, const struct tdns_listen_cfg *cfg);
/* Before the first netio_listen on a:port in this process: TDNS_EBUSY (and
 * an error logged) if another socket already holds it. SO_REUSEPORT would
 * otherwise let a second daemon of the same user share the port silently.
 * netio_listen_probe_stream checks TCP alone (a TLS listener binds no
 * UDP socket). */
enum tdns_status netio_listen_probe(const struct tdns_addr *a);
enum tdns_status netio_listen_probe_stream(const struct tdns_addr *a);
/* The port the most recent successful netio_listen on l bound (useful with
 * port 0 in tests). */
uint16_t netio_listen_port(const struct tdns_loop *l);
/* TCP connections closed at accept on l's listeners because their client
 * already had max_tcp_per_client open, none of them idle. Read on the
 * loop's thread (or once the loop has stopped). */
uint64_t netio_tcp_refused_per_client(const struct tdns_loop *l);
/* Idle TCP connections closed on l's listeners to make room for a new one
 * (same reading rule). */
uint64_t netio_tcp_evicted(const struct tdns_loop *l);

/* TCP connections accepted on l's listeners since it was made. Any
 * thread (stats.h: a relaxed read of a counter the loop's thread writes). */
uint64_t netio_tcp_accepted(const struct tdns_loop *l);

/* True when the request came over TCP (no size limit on the answer);
 * also for TLS, which runs over TCP. */
bool netio_request_is_tcp(const struct tdns_request *req);
/* True when the request came over a TLS connection (DoT or DoH). */
bool netio_request_is_tls(const struct tdns_request *req);
/* True when the request came as DNS over HTTPS. */
bool netio_request_is_https(const struct tdns_request *req);
/* RFC 7828: the idle timeout of req's TCP connection in units of 100 ms
 * (shorter while the listener is under pressure); 0 for UDP. Only during
 * the netio_query_fn call. */
uint16_t netio_request_keepalive(const struct tdns_request *req);
/* The client's address (for logs and access lists). */
const struct tdns_addr *netio_request_peer(const struct tdns_request *req);

/* Keep a request beyond the handler call: returns a heap handle owned by the
 * caller until passed to netio_request_reply or netio_request_release (NULL
 * on ENOMEM: then answer or drop at once). If a TCP client goes away first,
 * replying to its handle is a harmless no-op. Handles are used on the loop's
 * own thread only. Once the loop is freed, remaining handles are inert:
 * reply sends nothing, both calls just free the handle. */
struct tdns_request *netio_request_hold(struct tdns_request *req);
/* When the handle was taken (stats.h stats_now_us), for latency. */
uint64_t netio_request_held_us(const struct tdns_request *held);
/* Send the answer (copied) and release the handle. Over TCP the answer is
 * written at once. Over UDP it is queued (copied into a fixed per-loop
 * queue of 32 answers) and the queue goes out in one sendmmsg per socket
 * after the loop's flush hook, before the loop waits again, or at once
 * when it is full. None is dropped: the last flush as the loop stops
 * sends what is queued, and an answer given while the loop is not running
 * goes out in the next run's first iteration or in netio_loop_free. */
void netio_request_reply(struct tdns_request *held, const uint8_t *msg, size_t len);
void netio_request_release(struct tdns_request *held);

/*
 * Answer a held TCP request with a stream of messages (a zone transfer,
 * RFC 5936 2.2). fn(ctx, out, &len) writes the next message into out
 * (room for 65535 bytes), sets *len and returns true while more follow,
 * false after the last one; false with *len 0 aborts (the connection is
 * closed). netio asks for a message only while fewer than 64 KiB of the
 * connection's answers are unsent, so a slow reader holds one buffer's
 * worth and never the whole stream; the connection reads no other query
 * until the stream ends (answers stay in order), and a reader that takes
 * nothing for the idle timeout is closed. A stream that has not queued its
 * last message max_s seconds after this call (0: no limit) is ended by
 * closing the connection (logged): a reader slow but steady enough never
 * to be idle holds ctx (a zone transfer's snapshot) that long at most,
 * however much of the stream the kernel's buffers hold. done(ctx) is
 * called exactly once when the stream ends (last message queued, aborted,
 * time up, client gone, loop freed), then the handle is released: from
 * this call on the handle is netio's. fn and done run on the loop's
 * thread, possibly from inside this call. Over TLS the messages are
 * encrypted as any answer is.
 * TDNS_EINVAL (a UDP or DNS-over-HTTPS request) or TDNS_ENOMEM: nothing
 * was taken, the caller still owns the handle and ctx.
 */
typedef bool (*netio_stream_fn)(void *ctx, uint8_t *out, size_t *len);
enum tdns_status netio_request_stream(struct tdns_request *held, netio_stream_fn fn,
				      void (*done)(void *ctx), void *ctx, unsigned max_s);

/* ---- client side (upstream queries) ---- */

/* Called once per received message; with msg NULL and len 0 when the socket
 * failed or the TCP peer closed (the caller should then close it). */
typedef void (*netio_out_fn)(void *ctx, struct tdns_out *o, const uint8_t *msg,
			     size_t len);

/* A fresh connected UDP socket to peer with a random source port (the
 * kernel's autobind at connect(): Linux picks a random ephemeral port, as
 * for bind to port 0). */
enum tdns_status netio_out_udp(struct tdns_loop *l, const struct tdns_addr *peer,
			       netio_out_fn fn, void *ctx, struct tdns_out **out);
/* A non-blocking TCP connection to peer; messages are framed both ways. */
enum tdns_status netio_out_tcp(struct tdns_loop *l, const struct tdns_addr *peer,
			       netio_out_fn fn, void *ctx, struct tdns_out **out);
/* As netio_out_udp and netio_out_tcp, from the local address src when it
 * is of peer's family (its port 0: a random free one; a fixed port is
 * shared with SO_REUSEADDR); src NULL, of length 0 or of the other family:
 * the kernel's choice, as above. A source that cannot be bound (not a
 * local address: EADDRNOTAVAIL) is logged at warning level and fails the
 * call with the errno's status. src is read during the call only. */
enum tdns_status netio_out_udp_from(struct tdns_loop *l, const struct tdns_addr *peer,
				    const struct tdns_addr *src, netio_out_fn fn, void *ctx,
				    struct tdns_out **out);
enum tdns_status netio_out_tcp_from(struct tdns_loop *l, const struct tdns_addr *peer,
				    const struct tdns_addr *src, netio_out_fn fn, void *ctx,
				    struct tdns_out **out);
/* A TCP connection to peer carrying a TLS session (tls.h) that accepts
 * only a certificate for auth_name (copied) verified by the client
 * configuration tls (which must outlive the socket); messages are framed
 * inside it. resume (may be NULL): the caller's session slot for peer
 * (tls_conn_client), which must outlive the socket or its
 * netio_out_close. A failed handshake or verification is logged at
 * warning level (naming peer, auth_name and the reason) and reported as a
 * failed socket (fn with NULL). */
struct tdns_tls_session;
enum tdns_status netio_out_tls(struct tdns_loop *l, const struct tdns_addr *peer,
			       struct tdns_tls *tls, const char *auth_name,
			       struct tdns_tls_session **resume, netio_out_fn fn,
			       void *ctx, struct tdns_out **out);
/* Queue one message (copied). */
enum tdns_status netio_out_send(struct tdns_out *o, const uint8_t *msg, size_t len);
/* After a failure was reported (msg NULL): whether it was the TLS peer's
 * certificate that failed verification. */
bool netio_out_auth_failed(const struct tdns_out *o);
/* After a failure was reported: the errno of the system call that failed
 * (ECONNREFUSED: the ICMP port unreachable of a UDP peer), 0 if it was
 * none (the peer closed, a TLS error of the session). */
int netio_out_errno(const struct tdns_out *o);
/* Close and free; no callback afterwards (o is gone for the caller). A
 * TLS socket whose handshake is done sends close_notify and its FIN, and
 * the loop keeps the descriptor, dropping what arrives, until the peer
 * closes too or a second passes: a clean close, not a reset. */
void netio_out_close(struct tdns_out *o);

/* ---- timers ---- */

typedef void (*netio_timer_fn)(void *ctx);
/* One-shot timer after delay_ms (monotonic clock of clock.h). The handle is
 * owned by the loop and valid until the callback starts or until cancel. */
struct tdns_timer *netio_timer_add(struct tdns_loop *l, uint64_t delay_ms,
				   netio_timer_fn fn, void *ctx);
void netio_timer_cancel(struct tdns_loop *l, struct tdns_timer *t);

#endif
