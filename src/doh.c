/*
 * doh.c - DNS over HTTPS over HTTP/2 with nghttp2 (see doh.h).
 *
 * nghttp2 does the HTTP/2 framing, HPACK, flow control and its own
 * defences (flood detection, header list limits); this file keeps one
 * small struct per open stream with what a DoH request needs, and turns
 * complete requests into DNS queries. Its memory is bounded: per stream
 * the path at DOH_PATH_MAX bytes and the body at DOH_BODY_MAX, per session
 * all paths and bodies together at DOH_HELD_MAX.
 */
#include "tierdns/doh.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <nghttp2/nghttp2.h>

#include "tierdns/dnsproto.h"
#include "tierdns/log.h"

#define DOH_BODY_MAX 65535 /* a DNS message (RFC 8484 6: as over TCP) */
/* A GET of the largest message is 4/3 of it in base64url, plus the path:
 * anything longer is no DoH query. */
#define DOH_PATH_MAX (DOH_BODY_MAX / 3 * 4 + 256)
#define DOH_MSG_MIN 12     /* a DNS header */
/* The request paths and bodies a session holds at once: each of its
 * streams may send the largest, but together they get this much, and a
 * request that would go past it is answered 414 (path) or 413 (body) when
 * it is complete. DoH queries are a few hundred bytes. */
#define DOH_HELD_MAX (256 * 1024)
#define DOH_CTYPE "application/dns-message"

struct doh_stream {
	struct doh_stream *prev, *next; /* the session's list */
	int32_t id;
	char method[8];
	char *path;
	size_t path_len;
	bool path_over;
	char ctype[64];
	bool has_ctype;
	uint8_t *body;
	size_t body_len;
	bool body_over;
	bool done;       /* the request was handed on */
	bool answered;   /* a response was submitted */
	uint8_t *resp;   /* the answer's bytes, sent by resp_read */
	size_t resp_len, resp_off;
};

struct tdns_doh {
	nghttp2_session *s;
	/* Every stream struct: nghttp2_session_del does not call on_close,
	 * so what is open when the session ends is freed from here. */
	struct doh_stream *streams;
	doh_query_fn fn;
	void *ctx;
	size_t held; /* bytes of every stream's path and body */
	bool fatal; /* nghttp2 itself failed: nothing more can be sent */
};

/* ---- request rules (no HTTP/2) ---- */

static int b64url_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/* base64url (RFC 4648 5) of in[0..len) into out[0..cap); trailing '='
 * padding is tolerated though RFC 8484 4.1 says clients leave it out.
 * Returns the decoded length, or SIZE_MAX when it is not base64url or does
 * not fit. */
static size_t b64url_decode(const char *in, size_t len, uint8_t *out, size_t cap)
{
	uint32_t acc = 0;
	size_t i, n = 0;
	unsigned bits = 0;
	int v;

	while (len > 0 && in[len - 1] == '=')
		len--;
	if (len % 4 == 1)
		return SIZE_MAX;
	for (i = 0; i < len; i++) {
		v = b64url_val(in[i]);
		if (v < 0)
			return SIZE_MAX;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n == cap)
				return SIZE_MAX;
			out[n++] = (uint8_t)(acc >> bits);
		}
	}
	return n;
}

/* Is ct application/dns-message, with any parameters after ';'? */
static bool ctype_ok(const char *ct)
{
	size_t n = strlen(DOH_CTYPE);

	if (ct == NULL || strncasecmp(ct, DOH_CTYPE, n) != 0)
		return false;
	ct += n;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}

unsigned doh_request(const char *method, const char *path, size_t path_len,
		     const char *content_type, const uint8_t *body, size_t body_len,
		     bool body_over, uint8_t *msg, size_t msg_cap, size_t *msg_len)
{
	const char *q = memchr(path, '?', path_len), *p, *end, *amp;
	size_t plen = q != NULL ? (size_t)(q - path) : path_len, n;

	*msg_len = 0;
	if (plen != strlen(DOH_PATH) || memcmp(path, DOH_PATH, plen) != 0)
		return 404;
	if (strcmp(method, "POST") == 0) {
		if (!ctype_ok(content_type))
			return 415;
		if (body_over || body_len > DOH_BODY_MAX)
			return 413;
		if (body_len < DOH_MSG_MIN || body_len > msg_cap)
			return 400;
		memcpy(msg, body, body_len);
		*msg_len = body_len;
		return 200;
	}
	if (strcmp(method, "GET") != 0)
		return 405;
	if (q == NULL)
		return 400;
	/* The dns= variable among the query's &-separated ones. */
	end = path + path_len;
	for (p = q + 1; p < end; p = amp + 1) {
		amp = memchr(p, '&', (size_t)(end - p));
		if (amp == NULL)
			amp = end;
		if ((size_t)(amp - p) >= 4 && memcmp(p, "dns=", 4) == 0) {
			n = b64url_decode(p + 4, (size_t)(amp - p) - 4, msg,
					  msg_cap < DOH_BODY_MAX ? msg_cap : DOH_BODY_MAX);
			if (n == SIZE_MAX || n < DOH_MSG_MIN)
				return 400;
			*msg_len = n;
			return 200;
		}
	}
	return 400;
}

/* Offset past the (maybe compressed) name at p in m[0..len), 0 if none. */
static size_t skip_name(const uint8_t *m, size_t len, size_t p)
{
	while (p < len) {
		if ((m[p] & 0xc0) == 0xc0)
			return p + 2 <= len ? p + 2 : 0;
		if ((m[p] & 0xc0) != 0)
			return 0;
		if (m[p] == 0)
			return p + 1;
		p += (size_t)m[p] + 1;
	}
	return 0;
}

bool doh_min_ttl(const uint8_t *m, size_t len, uint32_t *ttl)
{
	size_t p = DNS_HDR_LEN, i, n;
	uint32_t t, best = UINT32_MAX;
	unsigned qd;

	if (len < DNS_HDR_LEN)
		return false;
	qd = dns_rd16(m + 4);
	n = (size_t)dns_rd16(m + 6) + dns_rd16(m + 8);
	for (i = 0; i < qd; i++) {
		p = skip_name(m, len, p);
		if (p == 0 || p + 4 > len)
			return false;
		p += 4;
	}
	for (i = 0; i < n; i++) {
		p = skip_name(m, len, p);
		if (p == 0 || p + 10 > len)
			return false;
		t = (uint32_t)dns_rd16(m + p + 4) << 16 | dns_rd16(m + p + 6);
		/* RFC 2181 8: a TTL with the top bit set counts as 0. */
		if (t > INT32_MAX)
			t = 0;
		if (dns_rd16(m + p) != DNS_TYPE_OPT && t < best)
			best = t;
		p += 10 + (size_t)dns_rd16(m + p + 8);
		if (p > len)
			return false;
	}
	if (best == UINT32_MAX)
		return false;
	*ttl = best;
	return true;
}

/* ---- HTTP/2 ---- */

static void stream_free(struct tdns_doh *d, struct doh_stream *st)
{
	if (st == NULL)
		return;
	if (st->prev != NULL)
		st->prev->next = st->next;
	else
		d->streams = st->next;
	if (st->next != NULL)
		st->next->prev = st->prev;
	d->held -= st->path_len + st->body_len; /* path_len is 0 without a path */
	free(st->path);
	free(st->body);
	free(st->resp);
	free(st);
}

/* The body kept so far goes (the request was handed on, or is over a
 * limit), and with it its share of d->held. */
static void body_drop(struct tdns_doh *d, struct doh_stream *st)
{
	d->held -= st->body_len;
	free(st->body);
	st->body = NULL;
	st->body_len = 0;
}

static struct doh_stream *stream_of(const struct tdns_doh *d, int32_t id)
{
	return nghttp2_session_get_stream_user_data(d->s, id);
}

static int on_begin_headers(nghttp2_session *s, const nghttp2_frame *frame, void *user)
{
	struct tdns_doh *d = user;
	struct doh_stream *st;

	if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	st->id = frame->hd.stream_id;
	if (nghttp2_session_set_stream_user_data(s, st->id, st) != 0) {
		free(st);
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	}
	st->next = d->streams;
	if (d->streams != NULL)
		d->streams->prev = st;
	d->streams = st;
	return 0;
}

static bool name_is(const uint8_t *name, size_t len, const char *want)
{
	return len == strlen(want) && memcmp(name, want, len) == 0;
}

/* nghttp2 has checked the header block (pseudo-headers, lower-case
 * names, no connection-specific fields) before this sees a field. */
static int on_header(nghttp2_session *s, const nghttp2_frame *frame, const uint8_t *name,
		     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
		     void *user)
{
	struct tdns_doh *d = user;
	struct doh_stream *st;

	(void)flags;
	if (frame->hd.type != NGHTTP2_HEADERS)
		return 0;
	st = nghttp2_session_get_stream_user_data(s, frame->hd.stream_id);
	if (st == NULL)
		return 0;
	if (name_is(name, namelen, ":method")) {
		/* Longer than any method we know: 405 all the same. */
		if (valuelen < sizeof(st->method)) {
			memcpy(st->method, value, valuelen);
			st->method[valuelen] = '\0';
		} else {
			strcpy(st->method, "?");
		}
	} else if (name_is(name, namelen, ":path")) {
		if (valuelen > DOH_PATH_MAX || st->path != NULL ||
		    valuelen > DOH_HELD_MAX - d->held) {
			st->path_over = true;
			return 0;
		}
		st->path = malloc(valuelen + 1);
		if (st->path == NULL)
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
		memcpy(st->path, value, valuelen);
		st->path[valuelen] = '\0';
		st->path_len = valuelen;
		d->held += valuelen;
	} else if (name_is(name, namelen, "content-type")) {
		st->has_ctype = true;
		/* Too long to be ours: kept cut, which no longer matches. */
		snprintf(st->ctype, sizeof(st->ctype), "%.*s", (int)valuelen, value);
		if (valuelen >= sizeof(st->ctype))
			st->ctype[0] = '?';
	}
	return 0;
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data,
		   size_t len, void *user)
{
	struct doh_stream *st = nghttp2_session_get_stream_user_data(s, id);
	struct tdns_doh *d = user;
	uint8_t *p;

	(void)flags;
	if (st == NULL || st->done || st->body_over)
		return 0;
	if (st->body_len + len > DOH_BODY_MAX || len > DOH_HELD_MAX - d->held) {
		/* Read on (flow control credit is returned) but keep
		 * nothing: the answer is 413. */
		st->body_over = true;
		body_drop(d, st);
		return 0;
	}
	p = realloc(st->body, st->body_len + len);
	if (p == NULL)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	memcpy(p + st->body_len, data, len);
	st->body = p;
	st->body_len += len;
	d->held += len;
	return 0;
}

/* The request is complete: check it and hand the query on. */
static void dispatch(struct tdns_doh *d, struct doh_stream *st)
{
	size_t cap = (st->body_len > st->path_len ? st->body_len : st->path_len) + 1, len;
	uint8_t *msg;
	unsigned status;

	st->done = true;
	if (st->path == NULL || st->path_over || st->method[0] == '\0') {
		doh_fail(d, st->id, st->path_over ? 414 : 400);
		return;
	}
	msg = malloc(cap);
	if (msg == NULL) {
		doh_fail(d, st->id, 503);
		return;
	}
	status = doh_request(st->method, st->path, st->path_len,
			     st->has_ctype ? st->ctype : NULL, st->body, st->body_len,
			     st->body_over, msg, cap, &len);
	body_drop(d, st);
	if (status == 200)
		d->fn(d->ctx, d, st->id, msg, len);
	else
		doh_fail(d, st->id, status);
	free(msg);
}

static int on_frame(nghttp2_session *s, const nghttp2_frame *frame, void *user)
{
	struct tdns_doh *d = user;
	struct doh_stream *st;

	if ((frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) ||
	    !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
		return 0;
	st = nghttp2_session_get_stream_user_data(s, frame->hd.stream_id);
	if (st != NULL && !st->done)
		dispatch(d, st);
	return 0;
}

static int on_close(nghttp2_session *s, int32_t id, uint32_t code, void *user)
{
	(void)code;
	stream_free(user, nghttp2_session_get_stream_user_data(s, id));
	nghttp2_session_set_stream_user_data(s, id, NULL);
	return 0;
}

static ssize_t resp_read(nghttp2_session *s, int32_t id, uint8_t *buf, size_t length,
			 uint32_t *flags, nghttp2_data_source *src, void *user)
{
	struct doh_stream *st = src->ptr;
	size_t n = st->resp_len - st->resp_off;

	(void)s;
	(void)id;
	(void)user;
	if (n > length)
		n = length;
	memcpy(buf, st->resp + st->resp_off, n);
	st->resp_off += n;
	if (st->resp_off == st->resp_len)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

enum tdns_status doh_new(doh_query_fn fn, void *ctx, struct tdns_doh **out)
{
	nghttp2_settings_entry set[] = {
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, DOH_MAX_STREAMS },
	};
	nghttp2_session_callbacks *cb = NULL;
	struct tdns_doh *d;
	enum tdns_status st = TDNS_ENOMEM;

	*out = NULL;
	d = calloc(1, sizeof(*d));
	if (d == NULL || nghttp2_session_callbacks_new(&cb) != 0)
		goto out;
	d->fn = fn;
	d->ctx = ctx;
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
	if (nghttp2_session_server_new(&d->s, cb, d) != 0)
		goto out;
	if (nghttp2_submit_settings(d->s, NGHTTP2_FLAG_NONE, set,
				    sizeof(set) / sizeof(set[0])) != 0)
		goto out;
	*out = d;
	d = NULL;
	st = TDNS_OK;
out:
	nghttp2_session_callbacks_del(cb);
	doh_free(d);
	return st;
}

void doh_free(struct tdns_doh *d)
{
	if (d == NULL)
		return;
	nghttp2_session_del(d->s);
	while (d->streams != NULL)
		stream_free(d, d->streams);
	free(d);
}

enum tdns_status doh_recv(struct tdns_doh *d, const uint8_t *in, size_t len)
{
	ssize_t n;

	if (d->fatal)
		return TDNS_EINVAL;
	n = nghttp2_session_mem_recv(d->s, in, len);
	if (n >= 0)
		return TDNS_OK;
	log_debug("doh: %s", nghttp2_strerror((int)n));
	/* RFC 9113 5.4.1: a connection error ends with GOAWAY. */
	if (nghttp2_session_terminate_session(d->s, NGHTTP2_PROTOCOL_ERROR) != 0)
		d->fatal = true;
	return TDNS_EINVAL;
}

size_t doh_send(struct tdns_doh *d, const uint8_t **out)
{
	ssize_t n;

	if (d->fatal)
		return 0;
	n = nghttp2_session_mem_send(d->s, out);
	if (n < 0) {
		log_debug("doh: %s", nghttp2_strerror((int)n));
		d->fatal = true;
		return 0;
	}
	return (size_t)n;
}

bool doh_alive(const struct tdns_doh *d)
{
	return !d->fatal && (nghttp2_session_want_read(d->s) ||
			     nghttp2_session_want_write(d->s));
}

#define NV(n, v, vlen) { (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, (vlen), \
			 NGHTTP2_NV_FLAG_NONE }

void doh_answer(struct tdns_doh *d, int32_t stream, const uint8_t *msg, size_t len)
{
	struct doh_stream *st = stream_of(d, stream);
	nghttp2_data_provider prd;
	char clen[16], cc[32];
	uint32_t ttl;
	size_t n = 3;

	if (st == NULL || st->answered || d->fatal)
		return;
	st->resp = malloc(len);
	if (st->resp == NULL) {
		doh_fail(d, stream, 503);
		return;
	}
	memcpy(st->resp, msg, len);
	st->resp_len = len;
	st->answered = true;
	snprintf(clen, sizeof(clen), "%zu", len);
	nghttp2_nv nva[4] = {
		NV(":status", "200", 3),
		NV("content-type", DOH_CTYPE, strlen(DOH_CTYPE)),
		NV("content-length", clen, strlen(clen)),
	};
	/* RFC 8484 5.1: fresh for as long as the shortest TTL in it. */
	if (doh_min_ttl(msg, len, &ttl)) {
		snprintf(cc, sizeof(cc), "max-age=%u", (unsigned)ttl);
		nva[n++] = (nghttp2_nv)NV("cache-control", cc, strlen(cc));
	}
	prd.source.ptr = st;
	prd.read_callback = resp_read;
	if (nghttp2_submit_response(d->s, stream, nva, n, &prd) != 0)
		log_debug("doh: no response could be queued on stream %d", (int)stream);
}

void doh_fail(struct tdns_doh *d, int32_t stream, unsigned status)
{
	struct doh_stream *st = stream_of(d, stream);
	char code[8];
	size_t n = 2;

	if (st == NULL || st->answered || d->fatal)
		return;
	st->answered = true;
	snprintf(code, sizeof(code), "%u", status);
	nghttp2_nv nva[3] = {
		NV(":status", code, strlen(code)),
		NV("content-length", "0", 1),
	};
	if (status == 405)
		nva[n++] = (nghttp2_nv)NV("allow", "GET, POST", 9);
	if (nghttp2_submit_response(d->s, stream, nva, n, NULL) != 0)
		log_debug("doh: no response could be queued on stream %d", (int)stream);
}
