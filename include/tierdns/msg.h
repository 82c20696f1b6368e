/*
 * msg.h - a whole DNS message (RFC 1035 4.1) parsed once, under bounds, into
 * a fixed-size view: the header, the first question, and every resource
 * record of the answer, authority and additional sections as offsets into
 * the message. It is how the local tier reads upstream replies: no
 * allocation, no ldns object per record or per message.
 *
 * msg_parse's rules, in order:
 *   - fewer than 12 bytes: MSG_SHORT;
 *   - more than MSG_MAX_LEN bytes: MSG_MALFORMED;
 *   - ANCOUNT + NSCOUNT + ARCOUNT above MSG_RR_MAX: MSG_TOO_MANY, before
 *     anything past the header is read;
 *   - MSG_MALFORMED for a message whose counts run past its data, a name
 *     with a label over 63 octets or of the unused label types 01 and 10
 *     (RFC 6891 5), a total over 255 octets, a compression pointer that does
 *     not lead strictly backwards to a byte after the header (RFC 1035
 *     4.1.4: "a prior occurrence"), or more than MSG_MAX_POINTERS pointers
 *     in one name; rdata that does not hold together; more than one OPT
 *     in the additional section (RFC 6891 6.1.1).
 * Rdata holds together when ldns's descriptor of the type (ldns_rr_descript:
 * the one table of rdata field layouts the project has) splits it into at
 * least the type's required fields, ending exactly at RDLENGTH: fixed-size
 * fields fit, length-prefixed ones stay inside, and a name field is a valid
 * name (compressed or not, as above) that ends inside. Types ldns does not
 * know, or knows as one opaque field (OPT, NULL), may be empty.
 * Bytes after the last record are ignored, as ldns and NSD do.
 *
 * Against ldns_wire2pkt (the oracle of tests/fuzz/fuzz_msg.c): whatever
 * msg_parse accepts, ldns accepts with the same header, question and records
 * (owner, type, class, TTL, rdata with its names decompressed). msg_parse is
 * stricter where ldns reads on: pointers forward, into the header or in long
 * chains; rdata whose fields end before or after RDLENGTH (ldns then goes on
 * parsing the next record from wherever its fields stopped) or that lacks
 * required fields (an empty A record, an SOA without its counters); two OPT
 * records; messages over 64 KiB. Unlike ldns, the OPT and TSIG records stay in the
 * record list (the OPT is also decoded into the edns fields).
 *
 * A view borrows the message bytes it was parsed from: they must outlive it
 * and not change. The struct is large (MSG_RR_MAX records, about 8 KiB):
 * the caller owns it, on the stack or in a longer-lived object.
 */
#ifndef TIERDNS_MSG_H
#define TIERDNS_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tierdns/name.h"

#define MSG_MAX_LEN 65535    /* the largest DNS message (TCP framing) */
#define MSG_RR_MAX 512       /* records of all three sections at most */
#define MSG_MAX_POINTERS NAME_MAX_POINTERS /* pointers followed per name */

enum msg_verdict {
	MSG_OK = 0,
	MSG_SHORT,     /* not even a header */
	MSG_MALFORMED, /* does not hold together (rules above) */
	MSG_TOO_MANY,  /* more than MSG_RR_MAX records */
};

/* Record flags. */
#define MSG_RR_COMPRESSED 0x01 /* a name in the rdata uses compression:
				* msg_rdata rewrites it, else it is a copy */

struct tdns_msg_rr {
	uint32_t ttl;       /* as received (RFC 2181 8 is the reader's job) */
	uint16_t owner;     /* offset of the owner name, maybe compressed */
	uint16_t type;
	uint16_t rclass;
	uint16_t rdata;     /* offset of the rdata */
	uint16_t rdlen;     /* RDLENGTH: its length in the message */
	uint8_t owner_len;  /* length of the owner name uncompressed */
	uint8_t flags;      /* MSG_RR_* */
};

struct tdns_msg {
	const uint8_t *wire; /* the message (borrowed) */
	size_t len;

	/* Header (RFC 1035 4.1.1). */
	uint16_t id;
	uint8_t opcode;
	uint8_t rcode;       /* the header's 4 bits; see edns_ext_rcode */
	bool qr, aa, tc, rd, ra, ad, cd;
	uint16_t qdcount, ancount, nscount, arcount;

	/* The first question, valid when qdcount > 0 (every further one is
	 * checked and skipped). */
	uint16_t qname;      /* offset, maybe compressed */
	uint8_t qname_len;   /* uncompressed length */
	uint16_t qtype;
	uint16_t qclass;

	/* The OPT record of the additional section (RFC 6891 6.1.2), valid
	 * when edns. */
	bool edns;
	uint8_t edns_ext_rcode; /* upper 8 bits of the 12-bit rcode */
	uint8_t edns_version;
	uint16_t edns_udp;
	uint16_t edns_flags;    /* DO and Z */
	uint16_t edns_opts;     /* offset of its options */
	uint16_t edns_opts_len;

	/* Every record, in message order: rr[0 .. ancount) the answer,
	 * then nscount of authority, then arcount of additional. */
	struct tdns_msg_rr rr[MSG_RR_MAX];
};

/* Parse wire[0..len) into m (rules above). On MSG_OK every field is set;
 * on another verdict only wire and len are. */
enum msg_verdict msg_parse(struct tdns_msg *m, const uint8_t *wire, size_t len);

/* Index of the first record of the authority and additional sections. */
static inline size_t msg_ns_start(const struct tdns_msg *m)
{
	return m->ancount;
}

static inline size_t msg_ar_start(const struct tdns_msg *m)
{
	return (size_t)m->ancount + m->nscount;
}

/* The name at offset off of a parsed message (an owner, the question, or a
 * name field of rdata), uncompressed into out (NAME_WIRE_MAX bytes), case as
 * received. Returns its length, 0 if there is no valid name at off. */
size_t msg_name(const struct tdns_msg *m, size_t off, uint8_t *out);

/* Does the name at offset off equal the uncompressed wire name
 * name[0..len), ASCII case ignored (RFC 4343)? A name[0..len) that is
 * not one whole wire name (its root label at len - 1) is equal to none.
 * No copy is made. */
bool msg_name_eq(const struct tdns_msg *m, size_t off, const uint8_t *name,
		 size_t len);

/* Offset just past the name at off where it stands (a pointer ends it),
 * 0 if there is no valid name at off. */
size_t msg_name_skip(const struct tdns_msg *m, size_t off);

/* The least number of rdata fields a record of type must have: ldns's
 * descriptor minimum (the rule of its text parser), 0 for the opaque types
 * (unknown ones, and NULL: one field of unknown layout), which may be
 * empty. msg_parse's rule, and the one every store load applies. */
size_t msg_rdata_min_fields(uint16_t type);

/*
 * The rdata of rr self-contained: every name field (ldns's descriptor of the
 * type) written uncompressed, everything else copied. *len receives its
 * length. out NULL: only the length is computed. false when it would not fit
 * cap bytes (out is then partly written). rr must be one of m's records.
 */
bool msg_rdata(const struct tdns_msg *m, const struct tdns_msg_rr *rr,
	       uint8_t *out, size_t cap, size_t *len);

#endif
