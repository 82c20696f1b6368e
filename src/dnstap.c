/*
 * dnstap.c - dnstap over Frame Streams, see dnstap.h.
 */
#include "tierdns/dnstap.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <fstrm.h>

#include "tierdns/log.h"

#define DNSTAP_CONTENT_TYPE "protobuf:dnstap.Dnstap"
#define DNSTAP_FRAME_EXTRA 160 /* fields beyond the message, with room */

struct tdns_dnstap {
	struct fstrm_iothr *iothr;
	char *identity;
	char *version;
	atomic_uint_fast64_t dropped;
};

/* ---- protobuf wire format (proto2): keys, varints, length-delimited ---- */

struct pb {
	uint8_t *p;
	size_t len, cap;
	bool full;
};

static void pb_byte(struct pb *b, uint8_t c)
{
	if (b->len < b->cap)
		b->p[b->len++] = c;
	else
		b->full = true;
}

static void pb_varint(struct pb *b, uint64_t v)
{
	while (v >= 0x80) {
		pb_byte(b, (uint8_t)(v | 0x80));
		v >>= 7;
	}
	pb_byte(b, (uint8_t)v);
}

static void pb_key(struct pb *b, unsigned field, unsigned wire)
{
	pb_varint(b, (uint64_t)field << 3 | wire);
}

static void pb_uint(struct pb *b, unsigned field, uint64_t v)
{
	pb_key(b, field, 0);
	pb_varint(b, v);
}

static void pb_bytes(struct pb *b, unsigned field, const void *data, size_t len)
{
	pb_key(b, field, 2);
	pb_varint(b, len);
	if (b->cap - b->len < len) {
		b->full = true;
		return;
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
}

static void pb_fixed32(struct pb *b, unsigned field, uint32_t v)
{
	pb_key(b, field, 5);
	for (int i = 0; i < 4; i++)
		pb_byte(b, (uint8_t)(v >> (8 * i)));
}

/* Bytes a varint of v takes. */
static size_t varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

size_t dnstap_encode(uint8_t *out, size_t cap, const char *identity, const char *version,
		     enum dnstap_type type, enum dnstap_proto proto,
		     const struct tdns_addr *peer, uint64_t sec, uint32_t nsec,
		     const uint8_t *msg, size_t len)
{
	uint8_t inner[DNSTAP_FRAME_EXTRA];
	struct pb m = { inner, 0, sizeof(inner), false }, d = { out, 0, cap, false };
	bool response = type == DNSTAP_AUTH_RESPONSE || type == DNSTAP_CLIENT_RESPONSE ||
			type == DNSTAP_FORWARDER_RESPONSE;
	bool forwarder = type == DNSTAP_FORWARDER_QUERY || type == DNSTAP_FORWARDER_RESPONSE;
	const uint8_t *addr = NULL;
	size_t alen = 0, msg_field_len;
	uint16_t port = 0;

	if (peer != NULL && peer->ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&peer->ss;

		addr = s6->sin6_addr.s6_addr;
		alen = 16;
		port = ntohs(s6->sin6_port);
	} else if (peer != NULL && peer->ss.ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)&peer->ss;

		addr = (const uint8_t *)&s4->sin_addr.s_addr;
		alen = 4;
		port = ntohs(s4->sin_port);
	}
	/* Message (dnstap.proto): everything but the DNS message first, in
	 * inner; the DNS message is appended straight into out. */
	pb_uint(&m, 1, (uint64_t)type);
	if (alen > 0) {
		pb_uint(&m, 2, alen == 16 ? 2 : 1); /* socket_family INET6 / INET */
		pb_uint(&m, 3, (uint64_t)proto);
		/* The query's sender is the query address; for a forwarder's
		 * messages the upstream is the responder. */
		pb_bytes(&m, forwarder ? 5 : 4, addr, alen);
		pb_uint(&m, forwarder ? 7 : 6, port);
	}
	if (response) {
		pb_uint(&m, 12, sec);
		pb_fixed32(&m, 13, nsec);
	} else {
		pb_uint(&m, 8, sec);
		pb_fixed32(&m, 9, nsec);
	}
	if (m.full)
		return 0;
	msg_field_len = varint_len((uint64_t)(response ? 14 : 10) << 3 | 2) + varint_len(len) + len;
	/* Dnstap: identity 1, version 2, message 14, type 15 (MESSAGE). */
	if (identity != NULL)
		pb_bytes(&d, 1, identity, strlen(identity));
	if (version != NULL)
		pb_bytes(&d, 2, version, strlen(version));
	pb_key(&d, 14, 2);
	pb_varint(&d, m.len + msg_field_len);
	if (d.cap - d.len < m.len) {
		d.full = true;
	} else {
		memcpy(d.p + d.len, inner, m.len);
		d.len += m.len;
	}
	pb_bytes(&d, response ? 14 : 10, msg, len);
	pb_uint(&d, 15, 1);
	return d.full ? 0 : d.len;
}

/* ---- Frame Streams ---- */

static enum tdns_status dnstap_make(const char *socket_path, const char *file_path,
				    const char *identity, unsigned n_queues,
				    struct tdns_dnstap **out)
{
	struct fstrm_unix_writer_options *uwopt = NULL;
	struct fstrm_file_options *fopt = NULL;
	struct fstrm_writer_options *wopt = NULL;
	struct fstrm_iothr_options *iopt = NULL;
	struct fstrm_writer *w = NULL;
	struct tdns_dnstap *d;
	enum tdns_status st = TDNS_EIO;

	*out = NULL;
	if ((socket_path == NULL) == (file_path == NULL) || n_queues == 0)
		return TDNS_EINVAL;
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return TDNS_ENOMEM;
	d->identity = identity != NULL ? strdup(identity) : NULL;
	d->version = strdup("tierdns " TDNS_VERSION);
	wopt = fstrm_writer_options_init();
	fstrm_writer_options_add_content_type(wopt, DNSTAP_CONTENT_TYPE,
					      sizeof(DNSTAP_CONTENT_TYPE) - 1);
	if (socket_path != NULL) {
		/* The I/O thread connects, and reconnects, by itself: a
		 * collector that is not there yet is no error. */
		uwopt = fstrm_unix_writer_options_init();
		fstrm_unix_writer_options_set_socket_path(uwopt, socket_path);
		w = fstrm_unix_writer_init(uwopt, wopt);
	} else {
		fopt = fstrm_file_options_init();
		fstrm_file_options_set_file_path(fopt, file_path);
		w = fstrm_file_writer_init(fopt, wopt);
	}
	if (w == NULL)
		goto out;
	/* A file that cannot be written fails here, not silently later in
	 * the I/O thread (which opens it). */
	if (file_path != NULL) {
		FILE *f = fopen(file_path, "ab");

		if (f == NULL) {
			log_err("dnstap: cannot write %s: %s", file_path, strerror(errno));
			fstrm_writer_destroy(&w);
			goto out;
		}
		fclose(f);
	}
	iopt = fstrm_iothr_options_init();
	fstrm_iothr_options_set_num_input_queues(iopt, n_queues);
	d->iothr = fstrm_iothr_init(iopt, &w);
	if (d->iothr == NULL) {
		fstrm_writer_destroy(&w);
		goto out;
	}
	st = TDNS_OK;
out:
	fstrm_iothr_options_destroy(&iopt);
	fstrm_writer_options_destroy(&wopt);
	fstrm_unix_writer_options_destroy(&uwopt);
	fstrm_file_options_destroy(&fopt);
	if (st != TDNS_OK) {
		dnstap_close(d);
		return st;
	}
	*out = d;
	return TDNS_OK;
}

enum tdns_status dnstap_open(const char *socket_path, const char *file_path,
			     const char *identity, unsigned n_queues, const char *what,
			     struct tdns_dnstap **out)
{
	const char *where = socket_path != NULL ? socket_path : file_path;
	enum tdns_status st = dnstap_make(socket_path, file_path, identity, n_queues, out);

	if (st != TDNS_OK)
		log_err("dnstap %s: %s", where != NULL ? where : "?", tdns_strerror(st));
	else
		log_info("dnstap: %s to %s", what, where);
	return st;
}

void dnstap_close(struct tdns_dnstap *d)
{
	uint64_t dropped;

	if (d == NULL)
		return;
	fstrm_iothr_destroy(&d->iothr);
	dropped = dnstap_dropped(d);
	if (dropped > 0)
		log_info("dnstap: %llu messages dropped (queue full or no collector)",
			 (unsigned long long)dropped);
	free(d->identity);
	free(d->version);
	free(d);
}

struct tdns_dnstap_queue *dnstap_queue(struct tdns_dnstap *d, unsigned i)
{
	return (struct tdns_dnstap_queue *)fstrm_iothr_get_input_queue_idx(d->iothr, i);
}

void dnstap_log(struct tdns_dnstap *d, struct tdns_dnstap_queue *q, enum dnstap_type type,
		enum dnstap_proto proto, const struct tdns_addr *peer, const uint8_t *msg,
		size_t len)
{
	size_t cap = len + DNSTAP_FRAME_EXTRA + (d->identity ? strlen(d->identity) : 0) +
		     (d->version ? strlen(d->version) : 0);
	struct timespec ts;
	uint8_t *frame = malloc(cap);
	size_t n;

	if (frame == NULL) {
		atomic_fetch_add_explicit(&d->dropped, 1, memory_order_relaxed);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	n = dnstap_encode(frame, cap, d->identity, d->version, type, proto, peer,
			  (uint64_t)ts.tv_sec, (uint32_t)ts.tv_nsec, msg, len);
	if (n == 0 || fstrm_iothr_submit(d->iothr, (struct fstrm_iothr_queue *)q, frame, n,
					 fstrm_free_wrapper, NULL) != fstrm_res_success) {
		free(frame);
		atomic_fetch_add_explicit(&d->dropped, 1, memory_order_relaxed);
	}
}

enum dnstap_proto dnstap_proto_of(const struct tdns_request *req)
{
	if (netio_request_is_https(req))
		return DNSTAP_DOH;
	if (netio_request_is_tls(req))
		return DNSTAP_DOT;
	return netio_request_is_tcp(req) ? DNSTAP_TCP : DNSTAP_UDP;
}

uint64_t dnstap_dropped(const struct tdns_dnstap *d)
{
	return atomic_load_explicit(&d->dropped, memory_order_relaxed);
}
