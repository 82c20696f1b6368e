/*
 * tls.c - TLS sessions over OpenSSL (see tls.h).
 *
 * Why OpenSSL and not GnuTLS: ldns already links libssl/libcrypto, so the
 * daemons load no new library and the package gains no new dependency;
 * OpenSSL 3.0 (Debian 12) has TLS 1.3, stateless tickets, hostname and IP
 * checks in verification (X509_VERIFY_PARAM) and the non-blocking
 * SSL_read/SSL_write model that netio's readiness loop needs. NSD and
 * Unbound use it for DoT the same way.
 *
 * OpenSSL's error queue is per thread: every call that can fail starts
 * from an empty queue (ERR_clear_error), and a failure's reason is copied
 * into the session before the queue is cleared again.
 */
#include "tierdns/tls.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "tierdns/log.h"
#include "tierdns/netio.h"
#include "tierdns/opts.h"

#define TICKET_KEY_LEN 80 /* name, HMAC and AES keys (SSL_CTX_set_tlsext_ticket_keys) */
#define ALPN_MAX 16

struct tdns_tls {
	bool server;
	char *cert_file, *key_file; /* a server's */
	char *ca_file;              /* a client's; NULL: the system store */
	uint8_t alpn[ALPN_MAX + 1]; /* length-prefixed, as the wire has it */
	uint8_t ticket_key[TICKET_KEY_LEN];
	/* The current context. Sessions take their own reference
	 * (SSL_new) under lock; reload swaps it under lock. */
	pthread_mutex_t lock;
	SSL_CTX *ctx;
};

struct tdns_tls_conn {
	SSL *ssl;
	bool fatal; /* a fatal error: no close_notify may follow */
	bool auth_failed; /* the fatal error: the peer's certificate failed */
	struct tdns_tls_session **resume; /* a client's slot, or NULL */
	char err[160];
};

/* The reason of the failure at the top of this thread's error queue, or
 * what (when the queue is empty), into buf. */
static void err_text(char *buf, size_t cap, const char *what)
{
	unsigned long e = ERR_peek_last_error();

	if (e != 0)
		ERR_error_string_n(e, buf, cap);
	else
		snprintf(buf, cap, "%s", what);
	ERR_clear_error();
}

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		       const unsigned char *in, unsigned int inlen, void *arg)
{
	struct tdns_tls *t = arg;
	unsigned char *sel = NULL;

	(void)ssl;
	/* RFC 7301 3.2: a server that speaks none of the client's protocols
	 * may go on without ALPN (noack) rather than fail the handshake:
	 * stubs that offer something else still get DNS. */
	if (SSL_select_next_proto(&sel, outlen, t->alpn, t->alpn[0] + 1u, in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

/* What servers and clients share: TLS 1.2 at least (1.3 preferred by
 * both sides' defaults); no renegotiation (a TLS 1.2 peer could otherwise
 * make us redo the expensive half of a handshake at will); a peer closing
 * without close_notify is a plain end of stream for DNS, whose messages
 * carry their own length (RFC 7766 framing); netio's write buffer moves
 * when it grows, and a partial write is a normal short send. */
static void ctx_common(SSL_CTX *ctx)
{
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
				      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				      SSL_MODE_RELEASE_BUFFERS);
}

/* A server context from the files; NULL (logged) on failure. */
static SSL_CTX *server_ctx(struct tdns_tls *t)
{
	static const unsigned char sid_ctx[] = "tierdns";
	SSL_CTX *ctx;
	char why[160];

	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		err_text(why, sizeof(why), "out of memory");
		log_err("tls: %s", why);
		return NULL;
	}
	ctx_common(ctx);
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	if (SSL_CTX_set_tlsext_ticket_keys(ctx, t->ticket_key, sizeof(t->ticket_key)) != 1)
		log_warn("tls: cannot set the ticket key; tickets will not survive a reload");
	if (t->alpn[0] > 0)
		SSL_CTX_set_alpn_select_cb(ctx, alpn_select, t);
	if (SSL_CTX_use_certificate_chain_file(ctx, t->cert_file) != 1) {
		err_text(why, sizeof(why), "unreadable");
		log_err("tls: certificate %s: %s", t->cert_file, why);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, t->key_file, SSL_FILETYPE_PEM) != 1) {
		err_text(why, sizeof(why), "unreadable");
		log_err("tls: private key %s: %s", t->key_file, why);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		err_text(why, sizeof(why), "mismatch");
		log_err("tls: private key %s does not match certificate %s: %s",
			t->key_file, t->cert_file, why);
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

static struct tdns_tls *tls_alloc(bool server)
{
	struct tdns_tls *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->server = server;
	if (pthread_mutex_init(&t->lock, NULL) != 0) {
		free(t);
		return NULL;
	}
	return t;
}

enum tdns_status tls_server_new(const char *cert_file, const char *key_file,
				const char *alpn, struct tdns_tls **out)
{
	struct tdns_tls *t = NULL;
	enum tdns_status st = TDNS_EINVAL;
	size_t alen = alpn != NULL ? strlen(alpn) : 0;

	*out = NULL;
	if (cert_file == NULL || key_file == NULL || alen > ALPN_MAX)
		goto out;
	st = TDNS_ENOMEM;
	t = tls_alloc(true);
	if (t == NULL)
		goto out;
	t->cert_file = strdup(cert_file);
	t->key_file = strdup(key_file);
	if (t->cert_file == NULL || t->key_file == NULL)
		goto out;
	t->alpn[0] = (uint8_t)alen;
	memcpy(t->alpn + 1, alpn, alen);
	if (RAND_bytes(t->ticket_key, sizeof(t->ticket_key)) != 1) {
		log_err("tls: no random ticket key could be had");
		st = TDNS_EIO;
		goto out;
	}
	st = TDNS_EINVAL;
	t->ctx = server_ctx(t);
	if (t->ctx == NULL)
		goto out;
	*out = t;
	t = NULL;
	st = TDNS_OK;
out:
	tls_free(t);
	return st;
}

/* A client's new session (a ticket arriving after the handshake): into
 * its slot, replacing the one there; returning 1 keeps the reference. */
static int client_new_session(SSL *ssl, SSL_SESSION *sess)
{
	struct tdns_tls_conn *c = SSL_get_app_data(ssl);

	if (c == NULL || c->resume == NULL)
		return 0;
	SSL_SESSION_free((SSL_SESSION *)*c->resume);
	*c->resume = (struct tdns_tls_session *)sess;
	return 1;
}

/* A client context that verifies against t->ca_file; NULL (logged) on
 * failure. */
static SSL_CTX *client_ctx(const struct tdns_tls *t)
{
	SSL_CTX *ctx;
	char why[160];
	int ok;

	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL) {
		err_text(why, sizeof(why), "out of memory");
		log_err("tls: %s", why);
		return NULL;
	}
	ctx_common(ctx);
	/* RFC 8310 5: strict privacy fails closed on any verification error. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	/* Sessions live in the callers' slots (one per server and thread),
	 * not in a cache shared by the threads. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
						    SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, client_new_session);
	ok = t->ca_file != NULL ? SSL_CTX_load_verify_locations(ctx, t->ca_file, NULL)
				: SSL_CTX_set_default_verify_paths(ctx);
	if (ok != 1) {
		err_text(why, sizeof(why), "unreadable");
		log_err("tls: CA %s: %s", t->ca_file != NULL ? t->ca_file : "(system store)",
			why);
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

enum tdns_status tls_reload(struct tdns_tls *t)
{
	SSL_CTX *fresh, *old;

	if (t == NULL)
		return TDNS_OK;
	fresh = t->server ? server_ctx(t) : client_ctx(t);
	if (fresh == NULL) {
		log_err("tls: reload failed; still using the previous %s",
			t->server ? "certificate" : "CA certificates");
		return TDNS_EINVAL;
	}
	pthread_mutex_lock(&t->lock);
	old = t->ctx;
	t->ctx = fresh;
	pthread_mutex_unlock(&t->lock);
	/* Sessions started from it hold their own references. */
	SSL_CTX_free(old);
	if (t->server)
		log_info("tls: certificate %s and key %s reloaded", t->cert_file, t->key_file);
	else
		log_info("tls: CA %s reloaded", t->ca_file != NULL ? t->ca_file : "(system store)");
	return TDNS_OK;
}

enum tdns_status tls_client_new(const char *ca_file, struct tdns_tls **out)
{
	struct tdns_tls *t;

	*out = NULL;
	t = tls_alloc(false);
	if (t == NULL)
		return TDNS_ENOMEM;
	if (ca_file != NULL && (t->ca_file = strdup(ca_file)) == NULL) {
		tls_free(t);
		return TDNS_ENOMEM;
	}
	t->ctx = client_ctx(t);
	if (t->ctx == NULL) {
		tls_free(t);
		return TDNS_EINVAL;
	}
	*out = t;
	return TDNS_OK;
}

enum tdns_status tls_listen_setup(const struct tdns_addr *addrs, unsigned n,
				  const struct tdns_opts *o, const char *alpn,
				  struct tdns_tls **out)
{
	enum tdns_status st;
	unsigned i;

	*out = NULL;
	for (i = 0; i < n; i++) {
		st = netio_listen_probe_stream(&addrs[i]);
		if (st != TDNS_OK)
			return st;
	}
	return tls_server_new(o->tls_cert, o->tls_key, alpn, out);
}

void tls_free(struct tdns_tls *t)
{
	if (t == NULL)
		return;
	SSL_CTX_free(t->ctx);
	pthread_mutex_destroy(&t->lock);
	free(t->cert_file);
	free(t->key_file);
	free(t->ca_file);
	OPENSSL_cleanse(t->ticket_key, sizeof(t->ticket_key));
	free(t);
}

static struct tdns_tls_conn *conn_new(struct tdns_tls *t, int fd)
{
	struct tdns_tls_conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		goto fail;
	ERR_clear_error();
	pthread_mutex_lock(&t->lock);
	c->ssl = SSL_new(t->ctx);
	pthread_mutex_unlock(&t->lock);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, fd) != 1)
		goto fail;
	SSL_set_app_data(c->ssl, c);
	return c;
fail:
	ERR_clear_error();
	log_warn("tls: no memory for a session");
	tls_conn_free(c);
	return NULL;
}

struct tdns_tls_conn *tls_conn_server(struct tdns_tls *t, int fd)
{
	struct tdns_tls_conn *c = conn_new(t, fd);

	if (c != NULL)
		SSL_set_accept_state(c->ssl);
	return c;
}

struct tdns_tls_conn *tls_conn_client(struct tdns_tls *t, int fd,
				      const char *auth_name,
				      struct tdns_tls_session **resume)
{
	struct tdns_tls_conn *c = conn_new(t, fd);
	X509_VERIFY_PARAM *vp;
	bool ip;

	if (c == NULL)
		return NULL;
	vp = SSL_get0_param(c->ssl);
	/* An address literal is matched against the certificate's IP
	 * subjectAltNames, a name against its DNS names (RFC 6125). */
	ip = X509_VERIFY_PARAM_set1_ip_asc(vp, auth_name) == 1;
	if (!ip) {
		ERR_clear_error();
		X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (X509_VERIFY_PARAM_set1_host(vp, auth_name, 0) != 1 ||
		    SSL_set_tlsext_host_name(c->ssl, auth_name) != 1) {
			ERR_clear_error();
			log_warn("tls: authentication name '%s' cannot be used", auth_name);
			tls_conn_free(c);
			return NULL;
		}
	}
	c->resume = resume;
	/* A session that no longer resumes (the server restarted, its key
	 * changed) costs nothing but the full handshake that follows. */
	if (resume != NULL && *resume != NULL &&
	    SSL_set_session(c->ssl, (SSL_SESSION *)*resume) != 1)
		ERR_clear_error();
	SSL_set_connect_state(c->ssl);
	return c;
}

void tls_session_free(struct tdns_tls_session *s)
{
	SSL_SESSION_free((SSL_SESSION *)s);
}

/* The outcome of an SSL_read/SSL_write that returned ok (1 or 0). */
static enum tls_io io_result(struct tdns_tls_conn *c, int ok)
{
	long vr;

	if (ok == 1)
		return TLS_IO_OK;
	switch (SSL_get_error(c->ssl, 0)) {
	case SSL_ERROR_WANT_READ:
		return TLS_IO_WANT_READ;
	case SSL_ERROR_WANT_WRITE:
		return TLS_IO_WANT_WRITE;
	case SSL_ERROR_ZERO_RETURN:
		return TLS_IO_EOF;
	default:
		break;
	}
	c->fatal = true;
	vr = SSL_get_verify_result(c->ssl);
	c->auth_failed = vr != X509_V_OK;
	if (vr != X509_V_OK)
		snprintf(c->err, sizeof(c->err), "certificate verify failed: %s",
			 X509_verify_cert_error_string(vr));
	else
		err_text(c->err, sizeof(c->err), "connection failed");
	ERR_clear_error();
	return TLS_IO_ERROR;
}

enum tls_io tls_conn_read(struct tdns_tls_conn *c, void *buf, size_t cap, size_t *n)
{
	*n = 0;
	if (c->fatal)
		return TLS_IO_ERROR;
	ERR_clear_error();
	return io_result(c, SSL_read_ex(c->ssl, buf, cap, n));
}

enum tls_io tls_conn_write(struct tdns_tls_conn *c, const void *buf, size_t len,
			   size_t *n)
{
	*n = 0;
	if (c->fatal)
		return TLS_IO_ERROR;
	ERR_clear_error();
	return io_result(c, SSL_write_ex(c->ssl, buf, len, n));
}

bool tls_conn_pending(const struct tdns_tls_conn *c)
{
	return !c->fatal && SSL_pending(c->ssl) > 0;
}

const char *tls_conn_error(const struct tdns_tls_conn *c)
{
	return c->err[0] != '\0' ? c->err : "connection failed";
}

bool tls_conn_auth_failed(const struct tdns_tls_conn *c)
{
	return c->auth_failed;
}

bool tls_conn_established(const struct tdns_tls_conn *c, bool *resumed)
{
	bool up = SSL_is_init_finished(c->ssl);

	if (resumed != NULL)
		*resumed = up && SSL_session_reused(c->ssl);
	return up;
}

void tls_conn_shutdown(struct tdns_tls_conn *c)
{
	if (c == NULL)
		return;
	c->resume = NULL;
	if (c->fatal || !SSL_is_init_finished(c->ssl))
		return;
	ERR_clear_error();
	(void)SSL_shutdown(c->ssl);
	ERR_clear_error();
}

void tls_conn_free(struct tdns_tls_conn *c)
{
	if (c == NULL)
		return;
	SSL_free(c->ssl);
	free(c);
}
