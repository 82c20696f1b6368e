/*
 * dnstap.h - dnstap (dnstap.info): the DNS messages a daemon sees, as the
 * protobuf messages of dnstap.proto in a Frame Streams stream (libfstrm),
 * to a Unix socket (a collector such as dnstap-ldns -u, or fstrm_capture)
 * or to a file - the format NSD, Unbound, Knot, BIND and dnsdist write.
 *
 * tierdns-upper logs AUTH_QUERY and AUTH_RESPONSE, tierdns-local
 * CLIENT_QUERY, CLIENT_RESPONSE, FORWARDER_QUERY and FORWARDER_RESPONSE.
 *
 * Threads: libfstrm's I/O thread writes; each worker hands it frames
 * through its own queue (dnstap_queue), lock-free, never blocking: when the
 * queue is full (a slow or absent collector) the frame is dropped and
 * counted. Each frame is one malloc on the logging thread, freed by the
 * I/O thread; with dnstap off nothing of this runs.
 *
 * The protobuf encoding is written here (dnstap_encode): six scalar and
 * bytes fields in two nested messages, without generated code or a
 * run-time library; tests read it back with dnstap-ldns, an independent
 * decoder.
 */
#ifndef TIERDNS_DNSTAP_H
#define TIERDNS_DNSTAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tierdns/netio.h"
#include "tierdns/status.h"

/* dnstap.proto Message.Type */
enum dnstap_type {
	DNSTAP_AUTH_QUERY = 1,
	DNSTAP_AUTH_RESPONSE = 2,
	DNSTAP_CLIENT_QUERY = 5,
	DNSTAP_CLIENT_RESPONSE = 6,
	DNSTAP_FORWARDER_QUERY = 7,
	DNSTAP_FORWARDER_RESPONSE = 8,
};

/* dnstap.proto SocketProtocol */
enum dnstap_proto {
	DNSTAP_UDP = 1,
	DNSTAP_TCP = 2,
	DNSTAP_DOT = 3,
	DNSTAP_DOH = 4,
};

struct tdns_dnstap;
struct tdns_dnstap_queue;

/* One output (exactly one of socket_path and file_path) for n_queues
 * workers; identity (may be NULL) and "tierdns VERSION" go into every
 * frame. Logs where it writes, and what (a daemon's words: "AUTH_QUERY and
 * AUTH_RESPONSE"), or the error. */
enum tdns_status dnstap_open(const char *socket_path, const char *file_path,
			     const char *identity, unsigned n_queues, const char *what,
			     struct tdns_dnstap **out);
/* Flushes what is queued, stops the I/O thread and logs how many messages
 * were dropped, if any. NULL is allowed. */
void dnstap_close(struct tdns_dnstap *d);
/* Worker i's queue (i < n_queues). */
struct tdns_dnstap_queue *dnstap_queue(struct tdns_dnstap *d, unsigned i);

/* Log msg[0..len): client (the query's sender; for FORWARDER_* the
 * upstream it went to) and the protocol. A query message goes into
 * query_message with the query time, a response into response_message.
 * Frames that cannot be queued are dropped and counted. */
void dnstap_log(struct tdns_dnstap *d, struct tdns_dnstap_queue *q, enum dnstap_type type,
		enum dnstap_proto proto, const struct tdns_addr *peer, const uint8_t *msg,
		size_t len);
/* The protocol a netio request came over. */
enum dnstap_proto dnstap_proto_of(const struct tdns_request *req);

/* Frames dropped so far (full queue, no memory). */
uint64_t dnstap_dropped(const struct tdns_dnstap *d);

/* The Dnstap protobuf of one message into out (cap bytes); its length, or
 * 0 when it does not fit. For dnstap_log and the tests. */
size_t dnstap_encode(uint8_t *out, size_t cap, const char *identity, const char *version,
		     enum dnstap_type type, enum dnstap_proto proto,
		     const struct tdns_addr *peer, uint64_t sec, uint32_t nsec,
		     const uint8_t *msg, size_t len);

#endif
