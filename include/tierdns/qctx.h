/*
 * qctx.h - one query's context through the pipeline (pipeline.h): where it
 * came from, what it asks, its EDNS, and the limits its answer must keep.
 *
 * qctx_parse reads the raw message under bounds, with no allocation and no
 * ldns object. Its rules (RFC 1035 4.1.1, RFC 6891, RFC 7766), in order:
 *   - fewer than 12 bytes, or QR=1: QCTX_DROP (answering responses invites
 *     reflection loops);
 *   - opcode other than QUERY and NOTIFY: QCTX_OPCODE (the pipeline
 *     dispatches it; an opcode without a handler is NOTIMP); a NOTIFY
 *     (RFC 1996) is parsed by the rules below, its SOA in answer allowed,
 *     and is QCTX_OPCODE with its question when it passes them;
 *   - QDCOUNT != 1, a question or record that does not hold together
 *     (labels > 63, names > 255 octets, compression pointers that do not
 *     point backwards into a name, data past the end), records in the
 *     answer section or in authority (except for IXFR, RFC 1995 3), more
 *     than one OPT or an OPT not owned by the root or not in additional,
 *     malformed EDNS options: QCTX_FORMERR;
 *   - OPT version > 0: QCTX_BADVERS (RFC 6891 6.1.3).
 * Bytes after the last record are ignored, as NSD and ldns do.
 *
 * Everything a qctx points to borrows the message bytes it was parsed from:
 * they must outlive it.
 */
#ifndef TIERDNS_QCTX_H
#define TIERDNS_QCTX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tierdns/name.h"

#define QCTX_UDP_DEFAULT 512   /* RFC 1035 4.2.1, without EDNS */
#define QCTX_EDNS_SIZE 1232    /* our advertised and served UDP limit */
#define QCTX_MAX_MSG 65535

enum qctx_transport {
	QCTX_UDP = 0,
	QCTX_TCP,
	QCTX_TLS,       /* DNS over TLS (RFC 7858): TCP's framing and limits */
	QCTX_HTTPS,     /* DNS over HTTPS (RFC 8484): TCP's limits */
};

/* RFC 8467 4.1: encrypted answers are padded to a multiple of this. */
#define QCTX_PAD_BLOCK 468

enum qctx_verdict {
	QCTX_OK = 0,    /* a QUERY with a usable question */
	QCTX_DROP,      /* send nothing */
	QCTX_OPCODE,    /* another opcode: header fields are valid */
	QCTX_FORMERR,   /* malformed: header fields valid; question if has_q */
	QCTX_BADVERS,   /* EDNS version we do not speak; question valid */
};

struct tdns_qctx {
	/* Where it came from (set by the caller before qctx_parse). */
	const void *peer;        /* the transport's address (netio.h), or NULL */
	uint8_t transport;       /* enum qctx_transport */

	/* The message. */
	const uint8_t *msg;
	size_t len;

	/* Header. */
	uint16_t id;
	uint8_t opcode;
	bool rd;
	bool cd;
	bool ad;                 /* RFC 6840 5.7: asks for the AD bit */

	/* The question (valid when has_q). qname is uncompressed: it borrows
	 * msg, or qname_buf when the client compressed it (a pointer back
	 * into the header is legal, if odd). */
	bool has_q;
	const uint8_t *qname;
	uint8_t qname_buf[NAME_WIRE_MAX];
	size_t qname_len;
	uint16_t qtype;
	uint16_t qclass;
	uint8_t qkey[NAME_KEY_MAX]; /* canonical key of qname (name.h) */
	size_t qkey_len;

	/* EDNS (RFC 6891), valid when edns. */
	bool edns;
	uint8_t edns_version;
	bool edns_do;
	uint16_t edns_udp;          /* as the client advertised it */
	const uint8_t *edns_opts;   /* its option bytes, borrowed from msg */
	size_t edns_opts_len;
	/* Its COOKIE option (RFC 7873 4), borrowed from msg: 8 bytes of
	 * client cookie, then 8-32 of server cookie; cookie_len 0: none.
	 * A COOKIE of another length, or two, make the query FORMERR. */
	const uint8_t *cookie;
	uint8_t cookie_len;
	bool keepalive;             /* it has an edns-tcp-keepalive option (RFC 7828) */
	bool tsig;                  /* a TSIG record in additional (RFC 8945);
				     * checked by whoever signs the answer */

	/* The answer must fit in limit bytes: over UDP 512 without EDNS, else
	 * clamp(edns_udp, 512, QCTX_EDNS_SIZE); over the others QCTX_MAX_MSG. */
	size_t limit;
};

/* Did q come over an encrypted transport (its answer is padded)? */
static inline bool qctx_encrypted(const struct tdns_qctx *q)
{
	return q->transport == QCTX_TLS || q->transport == QCTX_HTTPS;
}

/* Parse msg[0..len) into q (peer and transport are kept as set). */
enum qctx_verdict qctx_parse(struct tdns_qctx *q, const uint8_t *msg,
			     size_t len);

/* Length of the uncompressed wire name at p[0..len) (labels <= 63, total
 * <= 255 octets, no compression), 0 if it is not one. */
size_t qctx_name_len(const uint8_t *p, size_t len);

#endif
