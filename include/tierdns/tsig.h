/*
 * tsig.h - TSIG (RFC 8945) for zone transfers, through ldns's TSIG
 * functions (ldns_pkt_tsig_verify, ldns_pkt_tsig_sign_next): the one
 * place that checks a signed query and signs the messages answering it.
 *
 * A key is a name, an algorithm (hmac-sha256, hmac-sha384, hmac-sha512,
 * hmac-sha224, hmac-sha1, hmac-md5: what ldns implements) and a base64
 * secret, as the keys: section of tierdns.conf(5) gives them. Keys are
 * borrowed: they live as long as the configuration.
 */
#ifndef TIERDNS_TSIG_H
#define TIERDNS_TSIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tierdns/status.h"

struct tdns_tsig_key {
	const char *name;      /* absolute, ending in '.' */
	const char *algorithm; /* e.g. "hmac-sha256" */
	const char *secret;    /* base64 */
};

/* Check an algorithm name and a base64 secret: NULL when good, else why. */
const char *tsig_key_check(const char *algorithm, const char *secret);

enum tsig_verdict {
	TSIG_NONE = 0, /* the message has no TSIG record */
	TSIG_OK,       /* signed with *key (one of keys), the MAC verifies */
	TSIG_BAD,      /* a TSIG with an unknown key, a wrong MAC, a time
			* signed more than its fudge away from ours, or one
			* that does not parse (RFC 8945 5.2: NOTAUTH) */
};

struct tsig_state;

/*
 * Check msg[0..len) against keys[0..n). On TSIG_OK, *key is the key and
 * *st (when st is not NULL) a signer for the answer's messages, owned by
 * the caller (tsig_state_free).
 */
enum tsig_verdict tsig_check(const uint8_t *msg, size_t len,
			     const struct tdns_tsig_key *keys, unsigned n,
			     const struct tdns_tsig_key **key, struct tsig_state **st);

/* Sign the next answer message msg[0..*len) in place (cap bytes): the
 * first with the query's MAC, each later one with the MAC before it and
 * the timers only (RFC 8945 5.3.1). TDNS_ESPACE when it does not fit. */
enum tdns_status tsig_sign(struct tsig_state *st, uint8_t *msg, size_t *len, size_t cap);

/*
 * The answer msg[0..*len) (cap bytes) to a query whose TSIG checked
 * TSIG_BAD, made the error RFC 8945 5.2 asks for: rcode NOTAUTH, the
 * sections emptied, and a TSIG RR with the query's key name, algorithm
 * and ID carrying the error - BADKEY (a key not among keys), BADSIG (a
 * MAC that does not verify), unsigned (MAC size 0), or BADTIME (a good
 * MAC signed more than the fudge away), signed with the query's key over
 * the query's time signed, our time in Other Data (RFC 8945 5.2.3).
 * TDNS_EINVAL when query or msg does not parse or query has no TSIG.
 */
enum tdns_status tsig_error_reply(const uint8_t *query, size_t qlen,
				  const struct tdns_tsig_key *keys, unsigned n,
				  uint8_t *msg, size_t *len, size_t cap);

/* NULL is allowed. */
void tsig_state_free(struct tsig_state *st);

/* Sign a query (a client: SOA and IXFR/AXFR queries of a secondary) in
 * place; *st (the caller's) then verifies the answer's messages with
 * tsig_verify_next. */
enum tdns_status tsig_sign_query(const struct tdns_tsig_key *key, uint8_t *msg,
				 size_t *len, size_t cap, struct tsig_state **st);
/* Verify the next message of an answer to a query signed by
 * tsig_sign_query. true when it verifies. */
bool tsig_verify_next(struct tsig_state *st, const uint8_t *msg, size_t len);

#endif
