/*
 * doh.h - DNS over HTTPS (RFC 8484) over HTTP/2: the only module that names
 * the HTTP/2 library (nghttp2). Bytes in, bytes out: netio feeds it what a
 * TLS connection received and sends what it produces; no socket here.
 *
 * One struct tdns_doh is the server side of one HTTP/2 connection. Every
 * complete request on it is checked by doh_request (the rules below); a
 * good one becomes a DNS query handed to the doh_query_fn with its stream
 * number, answered then or later with doh_answer (or doh_fail); a bad one
 * is answered with its HTTP status at once.
 *
 * Requests (RFC 8484 4.1), in order:
 *   - a :path other than /dns-query (its query string aside): 404;
 *   - GET: the query string must hold dns=, base64url without padding
 *     (RFC 4648 5), decoding to 12 to 65535 bytes, else 400;
 *   - POST: content-type must be application/dns-message (parameters
 *     allowed), else 415; a body over 65535 bytes is 413; one under 12
 *     bytes is 400;
 *   - any other method: 405; a :path over 87 KiB: 414.
 * Answers (RFC 8484 4.2, 5.1): 200, content-type application/dns-message,
 * content-length, and cache-control max-age equal to the smallest TTL of
 * the answer and authority records (no cache-control when there is none).
 * A query the DNS side does not answer at all (doh_fail with 400, e.g. a
 * response sent as a query) gets 400.
 *
 * Ownership: a struct tdns_doh is used on one thread; what doh_send points
 * to lives until the next call on the same struct.
 */
#ifndef TIERDNS_DOH_H
#define TIERDNS_DOH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tierdns/status.h"

#define DOH_PATH "/dns-query"
#define DOH_MAX_STREAMS 100 /* concurrent streams offered per connection */

struct tdns_doh;

/* A DNS query (msg valid during the call only) arrived on stream. */
typedef void (*doh_query_fn)(void *ctx, struct tdns_doh *d, int32_t stream,
			     const uint8_t *msg, size_t len);

/* A new server session; its SETTINGS are queued for doh_send. *out owned
 * by the caller (doh_free). */
enum tdns_status doh_new(doh_query_fn fn, void *ctx, struct tdns_doh **out);
void doh_free(struct tdns_doh *d);

/* Feed in[0..len) from the client. TDNS_EINVAL when the client broke
 * HTTP/2 (a GOAWAY is queued: send it, then close). */
enum tdns_status doh_recv(struct tdns_doh *d, const uint8_t *in, size_t len);
/* The next bytes to send, 0 when there are none; *out is valid until the
 * next call on d. Call until it returns 0. */
size_t doh_send(struct tdns_doh *d, const uint8_t **out);
/* False once the session is over (GOAWAY exchanged, or the client left):
 * close the connection once doh_send has nothing more. */
bool doh_alive(const struct tdns_doh *d);

/* Answer stream with the DNS message msg[0..len) (copied). Nothing
 * happens when the stream is gone (the client reset it). */
void doh_answer(struct tdns_doh *d, int32_t stream, const uint8_t *msg, size_t len);
/* Answer stream with an HTTP error status and no body. */
void doh_fail(struct tdns_doh *d, int32_t stream, unsigned status);

/*
 * The request rules above, without HTTP/2: method and path as received
 * (path_len bytes, not NUL-terminated), content_type NULL when absent,
 * body[0..body_len) of a POST (body_over: it was longer than 65535).
 * Returns 200 with the DNS message in msg[0..*msg_len) (msg_cap of at
 * least body_len, and of path_len for a GET, is always enough), or the
 * HTTP error status.
 */
unsigned doh_request(const char *method, const char *path, size_t path_len,
		     const char *content_type, const uint8_t *body, size_t body_len,
		     bool body_over, uint8_t *msg, size_t msg_cap, size_t *msg_len);

/* The smallest TTL of the answer and authority records of the DNS message
 * msg[0..len); false when it has none (or does not parse). */
bool doh_min_ttl(const uint8_t *msg, size_t len, uint32_t *ttl);

#endif
