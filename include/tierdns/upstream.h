/*
 * upstream.h - the real transport of the resolver (resolve.h) over netio.h.
 *
 * Every attempt the resolver starts gets its own outbound socket: a fresh
 * connected UDP socket on a kernel-chosen random source port (netio_out_udp,
 * RFC 5452 9.2: the kernel then drops datagrams from any other address or
 * port), or a TCP connection after a truncated answer. A DNS over TLS
 * upstream (RFC 7858, RFC 8310 strict) instead has one TLS connection per
 * loop, opened at its first attempt and kept for the next ones, which are
 * pipelined on it; a failed connection (wrong certificate, reset, closed
 * by the server) fails the attempts on it, and the next attempt opens a
 * new one, resuming the TLS session. The client closes a DoT connection
 * that has had no query in flight for its idle time (upstream_set_idle;
 * RFC 7766 6.2.1, RFC 7858 3.4), or sooner when the server's answer to
 * the connection's first query, which asks for it, carries a shorter
 * edns-tcp-keepalive (RFC 7828). Replies go to
 * resolver_on_reply; the socket is closed when the resolver says the attempt
 * is done. The resolver's wake-up requests become one netio timer.
 *
 * Ownership: a struct tdns_upstream belongs to one loop (one thread) and is
 * freed by its creator with upstream_free, after resolver_free of the
 * resolver using it.
 */
#ifndef TIERDNS_UPSTREAM_H
#define TIERDNS_UPSTREAM_H

#include "tierdns/netio.h"
#include "tierdns/resolve.h"
#include "tierdns/status.h"

struct tdns_upstream;

/* addrs[0..n) are copied. auth NULL: every upstream clear UDP/TCP; else
 * auth[i] non-NULL (copied) makes upstream i DNS over TLS, its certificate
 * checked for that name under the client configuration tls (tls.h; must
 * outlive up). *out owned by the caller. */
enum tdns_status upstream_new(struct tdns_loop *loop, const struct tdns_addr *addrs,
			      const char *const *auth, unsigned n, struct tdns_tls *tls,
			      struct tdns_upstream **out);
/* Close every socket and the timer. NULL is allowed. */
void upstream_free(struct tdns_upstream *up);

/* The ops for struct tdns_resolver_cfg.transport (ctx = up). */
struct tdns_transport upstream_transport(struct tdns_upstream *up);
/* The resolver that receives the replies (set before the loop runs). */
void upstream_set_resolver(struct tdns_upstream *up, struct tdns_resolver *r);

/* How long a DoT connection may stay without a query in flight before the
 * client closes it, in ms (default UPSTREAM_IDLE_DEFAULT_MS; 0: as soon
 * as it is idle). Connections opened afterwards take it. Clear TCP
 * connections are one per attempt, closed when it ends. */
#define UPSTREAM_IDLE_DEFAULT_MS 10000
void upstream_set_idle(struct tdns_upstream *up, unsigned ms);

/* DNS cookies to the clear (UDP, TCP) upstreams (RFC 7873, cookie.h):
 * every query carries our client cookie for that upstream and the server
 * cookie it gave last; a reply whose COOKIE is not ours is dropped as
 * forged (upstream_cookie_forged counts them); one without any is taken
 * (a server without cookies). Off until called with on. */
enum tdns_status upstream_set_cookies(struct tdns_upstream *up, bool on);
/* From any thread (stats.h stats_get). */
uint64_t upstream_cookie_forged(const struct tdns_upstream *up);

/* Called with every query sent to an upstream and every reply taken from
 * one (response), and the protocol (1 UDP, 2 TCP, 3 DNS over TLS): for
 * dnstap (FORWARDER_QUERY / FORWARDER_RESPONSE). On the loop's thread. */
typedef void (*upstream_tap_fn)(void *ctx, const struct tdns_addr *upstream, int proto,
				bool response, const uint8_t *msg, size_t len);
void upstream_set_tap(struct tdns_upstream *up, upstream_tap_fn fn, void *ctx);

#endif
