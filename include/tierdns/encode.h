/*
 * encode.h - the one writer of DNS messages: replies from an answer
 * descriptor (answer.h), error replies, and the queries the local tier
 * sends upstream. Bytes out, no allocation, no ldns object.
 *
 * A reply (RFC 1035 4.1) is written as:
 *   - header: the query's ID and opcode, QR, AA/TC/RA from the answer, RD
 *     and CD copied from a QUERY (for other opcodes only QR and the opcode
 *     are set: RFC 8906 8.1.4, which ISC's EDNS compliance test checks);
 *   - the question exactly as the client sent it (case echo, RFC 4343 4);
 *   - the answer's RRsets, section by section, names compressed (RFC 1035
 *     4.1.4): every owner name, and the names in the rdata of the RFC 1035
 *     types that RFC 3597 4 allows (NS MD MF CNAME SOA MB MG MR PTR MINFO
 *     MX), matched case-insensitively;
 *   - an OPT record (RFC 6891 7) when the query had one and the rcode is not
 *     FORMERR: our UDP size, the upper 8 bits of the rcode, version 0, DO
 *     copied (RFC 3225 3), and the EDE option (RFC 8914) when the answer
 *     has one; over an encrypted transport (qctx_encrypted) a Padding
 *     option (RFC 7830) brings the reply to a multiple of 468 bytes
 *     (RFC 8467 4.1) when that fits.
 * Truncation (RFC 2181 9, RFC 1035 4.2.1): the OPT is always kept; RRsets
 * go in whole or not at all, in order; from the first one that does not
 * fit, everything after it is left out. TC is set when what was left out
 * includes an answer or authority RRset or required glue (RFC 9471 3), or
 * when the answer itself says it is incomplete; optional additional data
 * goes without TC.
 */
#ifndef TIERDNS_ENCODE_H
#define TIERDNS_ENCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tierdns/answer.h"
#include "tierdns/qctx.h"
#include "tierdns/status.h"

/*
 * Write the reply to q described by a into out, at most min(q->limit, cap)
 * bytes. q must have been through qctx_parse (any verdict but QCTX_DROP);
 * without a question (q->has_q false) the reply has none. TDNS_EINVAL when
 * stored data does not hold together (an A record that is not 4 bytes, a
 * name in rdata that is not one): the caller answers SERVFAIL instead.
 * TDNS_ESPACE when not even the header, question and OPT fit.
 */
enum tdns_status encode_reply(const struct tdns_qctx *q,
			      const struct tdns_answer *a, uint8_t *out,
			      size_t cap, size_t *out_len);

/* The error reply (rcode, nothing else) to q: encode_reply of an empty
 * answer. Returns its length, 0 if it could not be written. */
size_t encode_error(const struct tdns_qctx *q, uint16_t rcode, uint8_t *out,
		    size_t cap);

/* encode_query flags. */
#define ENC_Q_EDNS 1u /* an OPT record */
#define ENC_Q_DO 2u   /* with DO set (RFC 3225; needs ENC_Q_EDNS) */
#define ENC_Q_CD 4u   /* CD set (RFC 4035 3.2.2) */
#define ENC_Q_NORD 8u /* RD clear: a question to an authoritative server
		       * (a stub zone's, RFC 1034 4.3.1) */

/*
 * A query for upstream: ID id, RD set unless ENC_Q_NORD, one question
 * (qname uncompressed, written as given, e.g. with 0x20 case mixing), with
 * ENC_Q_EDNS an OPT advertising QCTX_EDNS_SIZE (DO with ENC_Q_DO), CD with
 * ENC_Q_CD. Returns its length, 0 if it does not fit cap.
 */
size_t encode_query(uint16_t id, const uint8_t *qname, size_t qname_len,
		    uint16_t qtype, uint16_t qclass, unsigned flags, uint8_t *out,
		    size_t cap);

#endif
