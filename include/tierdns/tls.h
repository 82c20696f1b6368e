/*
 * tls.h - TLS sessions for DNS over TLS (RFC 7858): the only module that
 * names the TLS library (OpenSSL; see tls.c for why).
 *
 * A struct tdns_tls is one configuration: a server's certificate and key,
 * or a client's trust anchors. It is shared by every worker thread: any
 * thread may start sessions from it while the main thread reloads it.
 *
 * A struct tdns_tls_conn is one session on one connected, non-blocking
 * socket, used by the thread that owns the socket (netio). Its read and
 * write calls have the shape of recv() and send() on that socket, with the
 * handshake done on the way: TLS_IO_WANT_READ / TLS_IO_WANT_WRITE mean
 * "call again with the same arguments once the socket is readable /
 * writable" (a write may be retried with its buffer moved, never shorter).
 * A session never owns its socket: the caller closes it after
 * tls_conn_free.
 */
#ifndef TIERDNS_TLS_H
#define TIERDNS_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "tierdns/status.h"

struct tdns_tls;
struct tdns_tls_conn;
/* A client's resumable session (a TLS 1.3 ticket or a TLS 1.2 session),
 * kept by the caller in a slot per server. */
struct tdns_tls_session;

enum tls_io {
	TLS_IO_OK = 0,     /* *n bytes were read or written (n > 0) */
	TLS_IO_WANT_READ,  /* wait until the socket is readable */
	TLS_IO_WANT_WRITE, /* wait until the socket is writable */
	TLS_IO_EOF,        /* the peer closed (close_notify, or a plain close) */
	TLS_IO_ERROR,      /* the session failed: tls_conn_error says why */
};

/*
 * A server configuration from a PEM certificate chain and its private key
 * (errors logged, naming the file). TLS 1.3 preferred, TLS 1.2 the least
 * accepted; no renegotiation; session resumption with TLS 1.3 tickets (and
 * the TLS 1.2 session cache) under a ticket key made at start, so tickets
 * stay valid across tls_reload. alpn: the ALPN protocol offered
 * ("dot", RFC 7858 and the IANA registry; "h2" for DoH, RFC 8484 5.2),
 * chosen when the client offers it; a client that offers only others is
 * served anyway. *out owned by the caller (tls_free).
 */
enum tdns_status tls_server_new(const char *cert_file, const char *key_file,
				const char *alpn, struct tdns_tls **out);
/* Read the files again (on SIGHUP): a server's certificate and key, a
 * client's CA file. On any error the old ones stay in use and the error
 * is logged. Sessions already running keep what they started with. A
 * server's ticket key is kept, so tickets stay valid. NULL is ignored. */
enum tdns_status tls_reload(struct tdns_tls *t);

/*
 * A client configuration that verifies servers strictly (RFC 8310 strict
 * profile): against the PEM CA bundle ca_file, or the system's trust
 * store when ca_file is NULL; the name is checked per session
 * (tls_conn_client). *out owned by the caller (tls_free).
 */
enum tdns_status tls_client_new(const char *ca_file, struct tdns_tls **out);

/* Start-up of a daemon's DoT or DoH listeners addrs[0..n): check that no
 * other server holds any of them (netio_listen_probe_stream), then
 * tls_server_new from o->tls_cert and o->tls_key with alpn. Errors are
 * logged. */
struct tdns_opts;
struct tdns_addr;
enum tdns_status tls_listen_setup(const struct tdns_addr *addrs, unsigned n,
				  const struct tdns_opts *o, const char *alpn,
				  struct tdns_tls **out);

/* Free a configuration once no session started from it remains. NULL ok. */
void tls_free(struct tdns_tls *t);

/* A server session on the accepted socket fd; NULL (logged) when out of
 * memory. */
struct tdns_tls_conn *tls_conn_server(struct tdns_tls *t, int fd);
/* A client session on the connected socket fd that accepts only a
 * certificate for auth_name (a host name, or an IP address literal), sent
 * as SNI as well. resume (may be NULL) is the caller's slot for this
 * server: a session in it is offered for resumption (RFC 8446 2.2: no
 * certificate is sent again), and the tickets the server issues replace
 * it, until tls_conn_shutdown. The slot must outlive the session or be
 * detached by tls_conn_shutdown first. NULL (logged) when out of memory. */
struct tdns_tls_conn *tls_conn_client(struct tdns_tls *t, int fd,
				      const char *auth_name,
				      struct tdns_tls_session **resume);
/* Free a session kept in a slot. NULL ok. */
void tls_session_free(struct tdns_tls_session *s);

enum tls_io tls_conn_read(struct tdns_tls_conn *c, void *buf, size_t cap, size_t *n);
enum tls_io tls_conn_write(struct tdns_tls_conn *c, const void *buf, size_t len,
			   size_t *n);
/* Decrypted bytes already inside the session: read them before waiting
 * for the socket again (epoll does not see them). */
bool tls_conn_pending(const struct tdns_tls_conn *c);
/* After TLS_IO_ERROR: what went wrong, e.g. "certificate verify failed:
 * hostname mismatch". Valid until the next call on c. */
const char *tls_conn_error(const struct tdns_tls_conn *c);
/* After TLS_IO_ERROR: whether the peer's certificate failed verification
 * (its chain, or the name asked for: RFC 8310 strict profile). */
bool tls_conn_auth_failed(const struct tdns_tls_conn *c);
/* True once the handshake completed; with *resumed whether it resumed an
 * earlier session. */
bool tls_conn_established(const struct tdns_tls_conn *c, bool *resumed);
/* Send close_notify if the session is up and healthy (best effort, never
 * waits), and detach the resume slot. Call before closing the socket. */
void tls_conn_shutdown(struct tdns_tls_conn *c);
/* Free the session (not the socket). NULL ok. */
void tls_conn_free(struct tdns_tls_conn *c);

#endif
