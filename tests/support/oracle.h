/*
 * oracle.h - an ldns path beside the product's, for tests and fuzz targets
 * only: classify and parse a query, build the skeleton of a reply, render
 * a reply to wire with truncation, and the cache looked up and filled
 * through ldns packets. Tests compare the product's encoder (encode.h)
 * and parser (qctx.h, msg.h) with it; no daemon links it.
 *
 * Rules (RFC 1035 4.1.1, RFC 6891, RFC 7766), applied in this order by
 * wire_parse_query:
 *   - fewer than 12 bytes, or QR=1: no reply at all (WIRE_DROP);
 *   - opcode other than QUERY: NOTIMP;
 *   - unparsable packet, QDCOUNT != 1, more than one OPT, OPT owner not root,
 *     records in the answer section (or authority, except for IXFR):
 *     FORMERR (header with the query's ID, RD and opcode; question copied
 *     when it could be parsed);
 *   - OPT version > 0: BADVERS (extended rcode 16) with an OPT version 0.
 * Error replies are rendered into the caller's buffer (WIRE_ERROR).
 */
#ifndef TIERDNS_TEST_ORACLE_H
#define TIERDNS_TEST_ORACLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ldns/ldns.h>

#include "tierdns/cache.h"
#include "tierdns/msg.h"
#include "tierdns/name.h"
#include "tierdns/status.h"
#include "tierdns/store.h"

#define WIRE_HDR_LEN 12
#define WIRE_MAX_MSG 65535
#define WIRE_UDP_DEFAULT 512    /* RFC 1035 4.2.1, without EDNS */
#define WIRE_EDNS_OUR_SIZE 1232 /* advertised and served UDP limit (DNS flag day 2020) */

/* A parsed, validated query. Everything in it is owned by pkt. */
struct tdns_query {
	ldns_pkt *pkt;         /* owned; released by wire_query_clear */
	uint16_t id;
	const ldns_rdf *qname; /* borrowed from pkt, case as the client sent it */
	uint8_t qkey[NAME_KEY_MAX]; /* canonical name key of qname (name.h) */
	size_t qkey_len;
	uint16_t qtype;
	uint16_t qclass;
	bool rd;
	bool cd;
	bool edns;            /* the query carried an OPT record */
	uint16_t edns_udp;    /* its advertised UDP payload size */
	uint8_t edns_version;
	bool edns_do;
	size_t max_udp;       /* the UDP answer limit: 512 without EDNS, else
			       * clamp(edns_udp, 512, WIRE_EDNS_OUR_SIZE) */
};

enum wire_verdict {
	WIRE_OK = 0, /* *q holds a valid query; caller must wire_query_clear */
	WIRE_DROP,   /* send nothing */
	WIRE_ERROR,  /* error reply rendered into out/out_len; q untouched */
};

/* Parse and validate in[0..len). out must hold at least WIRE_MAX_MSG bytes
 * (only used for WIRE_ERROR). */
enum wire_verdict wire_parse_query(const uint8_t *in, size_t len,
				   struct tdns_query *q, uint8_t *out,
				   size_t *out_len);
void wire_query_clear(struct tdns_query *q);

/* A reply skeleton for q: same ID and opcode, QR set, RD copied, the question
 * copied in the client's case, rcode set, an OPT (version 0, our payload size,
 * DO copied, no options) when the query had one. AA/RA are the caller's.
 * Returned packet owned by the caller (ldns_pkt_free). NULL on ENOMEM. */
ldns_pkt *wire_reply_new(const struct tdns_query *q, ldns_pkt_rcode rcode);

/* Render reply to wire into out[0..cap). Over UDP (tcp false), an answer
 * larger than q->max_udp is cut at an RRset boundary (additional first,
 * then authority, then answer; RFC 2181 9, RFC 1035 4.2.1); the OPT record
 * is always kept. TC is set when an answer or authority RRset had to go, or
 * the in-domain glue of a referral (RFC 9471 3); optional additional data
 * is dropped without TC (RFC 2181 9). Over TCP the limit is cap (at most
 * WIRE_MAX_MSG). What was cut is removed from reply itself (reply stays
 * owned by the caller and describes what was sent). */
enum tdns_status wire_reply_render(ldns_pkt *reply, const struct tdns_query *q,
				   bool tcp, uint8_t *out, size_t cap,
				   size_t *out_len);

/* A header-only reply to a raw query (ID, opcode, RD copied; QR set; the
 * question copied if it parses; counts otherwise 0). Used for FORMERR,
 * SERVFAIL and friends when no parsed query is at hand. Returns the length,
 * 0 if in is shorter than a header. */
size_t wire_error_reply(const uint8_t *in, size_t len, uint8_t rcode,
			uint8_t *out, size_t cap);

/*
 * The ldns forms of cache.h's lookup and store, for tests:
 * cache_lookup fills reply (a wire_reply_new skeleton) from the entry for
 * the question as cache_value_render does (TDNS_ENOTFOUND on a miss or an
 * expired entry, TDNS_EINVAL for a corrupt one); cache_insert is
 * cache_value_build + cache_store (TDNS_ENOTFOUND when resp holds nothing
 * cacheable).
 */
enum tdns_status cache_lookup(struct tdns_txn *t, const uint8_t *qkey,
			      size_t qkey_len, uint16_t qtype, uint64_t now,
			      ldns_pkt *reply);
enum tdns_status cache_insert(struct tdns_store *s,
			      const struct tdns_cache_cfg *cfg,
			      const uint8_t *qname, size_t qname_len,
			      uint16_t qtype, const struct tdns_msg *resp,
			      uint64_t now);

#endif
