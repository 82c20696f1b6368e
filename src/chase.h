/*
 * chase.h - CNAME chains (RFC 1034 5.3.3 step 3, 4.3.2 step 3a) and the
 * questions the resolver asks itself (a CNAME target, a DNSKEY or DS), for
 * the resolver's files (resolve_int.h).
 *
 * The resolver follows the CNAME chain of an accepted reply (chase_walk).
 * A chain that loops (a name twice on it, RFC 1034 3.6.2) or is longer
 * than CHAIN_NAMES_MAX CNAMEs in one reply, or than CHASE_MAX_HOPS in all
 * from the client's qname, fails. A NOERROR chain ending at a name with no
 * RRset of qtype and no SOA saying it has none is chased (chase_needed):
 * the resolver asks for its end itself (resolve.c depend_on), from local
 * data first (chase_local), and the answer to the client is the chain so
 * far followed by the target's answer (chase_combine), accepted like an
 * upstream reply so that one set of rules applies to the whole chain.
 *
 * Nothing here keeps state between calls; the upstream query (struct upq)
 * and the resolver are the caller's.
 */
#ifndef TIERDNS_CHASE_H
#define TIERDNS_CHASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tierdns/answer.h"
#include "tierdns/msg.h"
#include "tierdns/qctx.h"

#include "resolve_int.h"

/* RFC 1034 5.3.3 step 3: a CNAME whose target the upstream left unresolved
 * is followed by asking for the target in turn; at most this many CNAMEs
 * in all from the client's qname (Unbound restarts about as often). */
#define CHASE_MAX_HOPS 8u
/* Names remembered while walking one chain (loop detection). */
#define CHAIN_NAMES_MAX (CACHE_CHAIN_MAX + 2)

/* A message and its parsed view, for answers the resolver writes to itself
 * (a static answer to a CNAME target, a chain combined with its target's
 * answer): allocated once per such message, never per upstream reply. */
struct own_msg {
	struct tdns_msg m;
	uint8_t wire[MSG_MAX_LEN];
};

/* The CNAME chain from a qname through an answer section (chase_walk). */
struct chain_walk {
	uint16_t cname[CHAIN_NAMES_MAX]; /* the CNAMEs in order: m->rr indices */
	size_t n;
	uint8_t last[NAME_WIRE_MAX];     /* the name the chain ends at */
	size_t last_len;
	bool complete;         /* an RRset of qtype is owned by last */
	bool loop;             /* a CNAME points back into the chain */
	bool too_long;         /* more than CHAIN_NAMES_MAX CNAMEs */
};

/* A question the resolver asks itself, as the encoder and the lookups see
 * one, into *q: name (uncompressed wire, borrowed by q), class, type, over
 * TCP, DO and CD set. false when the name is no wire name. */
bool chase_question(struct tdns_qctx *q, const uint8_t *name, size_t name_len, uint16_t qtype,
		    uint16_t qclass);

/*
 * The local answer to a question the resolver asks itself (q, from
 * chase_question): the static zones, the cache, or the answer of a domain
 * never forwarded (policy.h), as a packed value (cache.h) in *v, the
 * caller's to clear. 1 with *v set; 0 for a miss (the question goes
 * upstream); -1 when the lookup failed, *why says why (FAIL_REFUSED for a
 * name the policy refuses). Uses r's read snapshot and r->ans.
 */
int chase_local(struct tdns_resolver *r, const struct tdns_qctx *q, struct tdns_cache_value *v,
		enum fail_kind *why);

/* Follow the CNAME chain from qname through m's answer section into *c. */
void chase_walk(const struct tdns_msg *m, const uint8_t *qname, size_t qname_len, uint16_t qtype,
		struct chain_walk *c);

/* Must the end of u's chain c in reply m be asked for? (see above) */
bool chase_needed(const struct upq *u, const struct tdns_msg *m, const struct chain_walk *c);

/*
 * The answer to u's question combined from its chain so far (u->chain)
 * and its CNAME target's answer (tval[0..tlen), a packed value): the
 * target's rcode and authority (RFC 6604), encoded and parsed back. The
 * result is malloc'd, the caller's to free; a (the resolver's scratch
 * answer) is overwritten. NULL on failure, u->why says why (FAIL_RCODE:
 * the target's answer is an error; FAIL_INTERNAL; FAIL_GARBAGE).
 */
struct own_msg *chase_combine(struct tdns_answer *a, struct upq *u, const uint8_t *tval,
			      size_t tlen);

#endif
