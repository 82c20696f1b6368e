/*
 * rrset.h - the packed value of one RRset in the store (pure bytes, no LMDB).
 *
 * Layout, every integer in network order, no padding, never a struct dump:
 *   u32 ttl | u16 count | count * ( u16 rdlength | rdata[rdlength] )
 *   [ u32 sig_ttl | u16 sig_count | sig_count * ( u16 rdlength | rdata ) ]
 * rdata is the uncompressed wire rdata exactly as ldns produces it
 * (ldns_rr2wire of the rdata fields, names uncompressed, original case).
 * The order of records is the order of the zone file and is kept.
 * The optional tail holds the RRSIG records that cover this RRset (RFC
 * 4034 3: an RRSIG belongs to the RRset of its Type Covered), with their
 * own TTL: a signed RRset and its signatures are one value, read by one
 * lookup. A value without the tail is an unsigned RRset.
 *
 * Values read from LMDB may be unaligned and die with their transaction:
 * rrset_decode only reads bytes and never keeps a pointer past the call
 * except through the view, whose pointers are as long-lived as `val`.
 */
#ifndef TIERDNS_RRSET_H
#define TIERDNS_RRSET_H

#include <stddef.h>
#include <stdint.h>

#include "tierdns/status.h"

#define RRSET_HDR_LEN 6

/* A validated view into an encoded RRset value (borrowed pointers). */
struct tdns_rrset_view {
	uint32_t ttl;
	uint16_t count;
	const uint8_t *data; /* first record (u16 rdlength) */
	size_t data_len;     /* the records, without the signature tail */
	uint16_t sig_count;  /* the covering RRSIGs; 0: unsigned, and the
			      * three fields below are not set */
	uint32_t sig_ttl;
	const uint8_t *sig_data; /* first RRSIG record (u16 rdlength) */
	size_t sig_len;
};

/* The signatures of v as a view of their own (ttl, count, data), e.g. to
 * iterate them with rrset_next. */
void rrset_sigs(const struct tdns_rrset_view *v, struct tdns_rrset_view *out);

/* Check val fully (every rdlength within bounds, count matches) and fill v.
 * TDNS_EINVAL on any inconsistency; never reads outside val[0..len). */
enum tdns_status rrset_decode(const uint8_t *val, size_t len,
			      struct tdns_rrset_view *v);

/* Iterate the records of a decoded view: *pos starts at 0; each call yields
 * one rdata (borrowed) and returns 1, 0 at the end. */
int rrset_next(const struct tdns_rrset_view *v, size_t *pos,
	       const uint8_t **rdata, uint16_t *rdlen);

/* Incremental encoder into a caller buffer. */
struct tdns_rrset_enc {
	uint8_t *buf;
	size_t cap;
	size_t len;
	uint16_t count;
	size_t count_at; /* offset of the count being written */
};
void rrset_enc_init(struct tdns_rrset_enc *e, uint8_t *buf, size_t cap,
		    uint32_t ttl);
/* TDNS_ESPACE if it does not fit, TDNS_EINVAL at 65535 records. rdata
 * may be already in place (written at buf + len + 2 by the caller). */
enum tdns_status rrset_enc_add(struct tdns_rrset_enc *e, const uint8_t *rdata,
			       uint16_t rdlen);
/* Start the signature tail: every rrset_enc_add after it adds an RRSIG
 * record (count then counts those). TDNS_ESPACE if the header does not fit,
 * TDNS_EINVAL if the tail was started already. */
enum tdns_status rrset_enc_sigs(struct tdns_rrset_enc *e, uint32_t sig_ttl);

#endif
