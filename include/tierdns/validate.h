/*
 * validate.h - the DNSSEC verdict on one answer (RFC 4035 5, 4.3): secure,
 * insecure or bogus, given the trust anchors and the DNSKEY and DS answers
 * it depends on. Pure: no I/O, no clock, no state; what it lacks it names
 * (VALID_NEED) for the caller to fetch (chain.h) before asking again.
 *
 * The answer is a packed cache value (cache.h), so what is validated is
 * exactly what is cached and served. The rules:
 *   - a name at or below an insecure domain (anchor.h), or under no trust
 *     anchor, is insecure (RFC 4035 4.3: indeterminate, served as Unbound
 *     does without AD);
 *   - each RRset of the answer, and the SOA/NSEC/NSEC3 of a negative
 *     answer, must carry an RRSIG that verifies (ldns, at time now) with a
 *     DNSKEY of its signer, the signer being at or above the owner;
 *   - the signer's DNSKEY RRset is trusted when its answer was validated
 *     secure; a DNSKEY RRset at a name is itself validated by a key that
 *     matches the anchor (DS or DNSKEY) or a secure DS RRset of the name;
 *     a secure answer without DS there makes the zone insecure;
 *   - an unsigned RRset is insecure only if the DS answer of its zone cut
 *     proves an unsigned delegation (RFC 4035 5.2: an NSEC/NSEC3 with NS and
 *     without DS or SOA at the name, or an insecure DS answer up the
 *     chain); otherwise bogus (EDE 10 RRSIGs Missing);
 *   - a negative answer (NXDOMAIN, or NODATA with its SOA) needs an NSEC
 *     (RFC 4035 5.4) or NSEC3 (RFC 5155 8) proof for the last name of the
 *     chain and qtype (ldns_dnssec_verify_denial[_nsec3]);
 *   - an answer RRset whose verifying RRSIG was made for a wildcard (its
 *     Labels field below the owner's label count) needs the proof that
 *     the owner does not exist: an NSEC covering it whose closest encloser
 *     is the wildcard's parent (RFC 4035 5.3.4), or an NSEC3 covering the
 *     next closer name (RFC 5155 8.8; opt-out: insecure, as Unbound);
 *     none is bogus EDE 12, a wrong one EDE 6.
 * Bogus verdicts carry the RFC 8914 INFO-CODE: 6 DNSSEC Bogus, 7 Signature
 * Expired, 8 Signature Not Yet Valid, 9 DNSKEY Missing, 10 RRSIGs Missing,
 * 12 NSEC Missing.
 */
#ifndef TIERDNS_VALIDATE_H
#define TIERDNS_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tierdns/anchor.h"
#include "tierdns/answer.h"
#include "tierdns/cache.h"
#include "tierdns/name.h"

#define VALID_WHY_MAX 128

enum valid_step {
	VALID_DONE = 0, /* out->status (and ede, why) is the verdict */
	VALID_NEED,     /* out->need names an answer to fetch first */
};

struct valid_verdict {
	enum valid_status status;
	uint16_t ede;                /* bogus: the INFO-CODE */
	char why[VALID_WHY_MAX];     /* bogus or insecure: the reason */
	/* secure: the answer is good until then at the latest (epoch
	 * seconds): the earliest, over the RRSIGs that verified its RRsets,
	 * of the signature's expiration and now + its Original TTL (RFC 4035
	 * 5.3.3, as Unbound); UINT64_MAX otherwise */
	uint64_t until;
	/* VALID_NEED: the question whose answer is missing */
	uint8_t need_name[NAME_WIRE_MAX]; /* lower-case wire name */
	size_t need_len;
	uint16_t need_type;          /* DNS_TYPE_DNSKEY or DNS_TYPE_DS */
};

/*
 * The answer (a packed value, cache.h) to (name, type) that the validator
 * needs, with its own status set: true with *val, *vlen borrowed until the
 * valid_check call returns, false when the caller does not have it yet.
 */
typedef bool (*valid_lookup_fn)(void *ctx, const uint8_t *name, size_t name_len,
				uint16_t type, const uint8_t **val, size_t *vlen);

/*
 * Judge the answer val[0..vlen) to (qname, qtype) at time now (epoch
 * seconds) with the anchors ta (at least one). Every call starts over:
 * after VALID_NEED the caller fetches out->need_* and calls again with a
 * lookup that now has it. Never allocates beyond the call (ldns objects
 * are freed before it returns); a malformed value or out of memory is
 * bogus.
 */
enum valid_step valid_check(const struct tdns_anchors *ta, const uint8_t *qname,
			    size_t qname_len, uint16_t qtype, const uint8_t *val,
			    size_t vlen, uint64_t now, valid_lookup_fn lookup, void *ctx,
			    struct valid_verdict *out);

/* The number of trailing labels the dnames a and b share: the label
 * count of their closest common ancestor (0: the root only), for the
 * closest-encloser checks of denial proofs. */
unsigned validate_shared_labels(const ldns_rdf *a, const ldns_rdf *b);

#endif
