/*
 * chain.h - the state of one answer under DNSSEC validation while the
 * DNSKEY and DS answers it depends on are fetched (RFC 4035 5: the chain
 * of trust from an anchor down to the answer's signer).
 *
 * The resolver (resolve.c) owns one struct tdns_chain per upstream query
 * being validated. It parks the answer (chain_begin), asks chain_check for
 * the verdict (validate.h), fetches what VALID_NEED names through its own
 * machinery (static zones, cache, coalesced upstream queries: each fetched
 * answer validated in turn before it is cached), hands it over
 * (chain_got), and asks again. The fetched answers are kept here (copies),
 * so an answer that may not be cached (TTL 0) still counts.
 *
 * Bounds: CHAIN_GOT_MAX fetched answers per validation; a verdict that
 * needs more is bogus (EDE 6, "chain of trust too long").
 * Not thread-safe: one resolver thread.
 */
#ifndef TIERDNS_CHAIN_H
#define TIERDNS_CHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tierdns/anchor.h"
#include "tierdns/cache.h"
#include "tierdns/validate.h"

#define CHAIN_GOT_MAX 16

struct chain_got {
	uint8_t name[NAME_WIRE_MAX]; /* lower case */
	size_t name_len;
	uint16_t type;
	struct tdns_cache_value v;   /* owned */
};

struct tdns_chain {
	struct tdns_cache_value pending; /* the answer being validated (owned) */
	bool waiting;                    /* a fetch of need_* is under way */
	struct valid_verdict last;       /* the last verdict or need */
	struct chain_got got[CHAIN_GOT_MAX];
	size_t n_got;
	char failed[VALID_WHY_MAX];      /* the first failed fetch, "" = none */
};

/* A new, empty state (calloc; chain_free releases it). NULL: no memory. */
struct tdns_chain *chain_new(void);
void chain_free(struct tdns_chain *c);

/* Park v (taken: v is zeroed) for validation; forgets earlier fetches. */
void chain_begin(struct tdns_chain *c, struct tdns_cache_value *v);

/*
 * The verdict on the parked answer to (qname, qtype) at now, with the
 * anchors ta: VALID_DONE with c->last the verdict, or VALID_NEED with
 * c->last.need_* what to fetch next (and c->waiting set). Needing more
 * than CHAIN_GOT_MAX fetches is bogus.
 */
enum valid_step chain_check(struct tdns_chain *c, const struct tdns_anchors *ta,
			    const uint8_t *qname, size_t qname_len, uint16_t qtype,
			    uint64_t now);

/* The answer (packed, cache.h; copied) to what c->last needed.
 * TDNS_ENOMEM, TDNS_ESPACE when CHAIN_GOT_MAX are kept already. */
enum tdns_status chain_got(struct tdns_chain *c, const uint8_t *val, size_t vlen);

/*
 * What c->last needed could not be fetched (why: the resolver's reason):
 * it counts as a bogus answer (RFC 4035 5: no chain of trust without
 * it), so the next chain_check gives a bogus verdict with the EDE its
 * place calls for (9 DNSKEY Missing for a signer's DNSKEY or a zone's DS,
 * as Unbound's "No DNSKEY record"; 6 for the DS that would prove data
 * unsigned) and a reason that names the failed fetch. TDNS_ENOMEM,
 * TDNS_ESPACE as chain_got.
 */
enum tdns_status chain_failed(struct tdns_chain *c, const char *why);

/* Take the parked answer out (moved into *v; c keeps none). */
void chain_take(struct tdns_chain *c, struct tdns_cache_value *v);

#endif
