/*
 * chase.c - CNAME chains and the questions the resolver asks itself
 * (chase.h): the chain in a reply, whether its end must be asked for, the
 * local data answering a question of the resolver's own, and the answer
 * combined from a chain and its target's answer.
 */
#include "chase.h"

#include <stdlib.h>
#include <string.h>

#include "tierdns/auth.h"
#include "tierdns/clock.h"
#include "tierdns/encode.h"
#include "tierdns/log.h"

/* A question the resolver asks itself, as the encoder and the lookups see
 * one: uncompressed name, class, type, over TCP (no size limit), no OPT
 * written, but DO and CD (the signatures stay with their data). false when the
 * name is no wire name (the root's key is empty, and valid). */
bool chase_question(struct tdns_qctx *q, const uint8_t *name, size_t name_len, uint16_t qtype,
		    uint16_t qclass)
{
	memset(q, 0, sizeof(*q));
	q->transport = QCTX_TCP;
	q->limit = QCTX_MAX_MSG;
	q->has_q = true;
	q->qname = name;
	q->qname_len = name_len;
	q->qtype = qtype;
	q->qclass = qclass;
	q->rd = true;
	/* The DNSSEC records of a combined chain are kept for validation
	 * (cache.h gives them to DO queries only; none without it), bogus
	 * data too (it is judged again as part of the chain). */
	q->edns_do = true;
	q->cd = true;
	return name_key_from_wire(name, name_len, q->qkey, &q->qkey_len) == TDNS_OK;
}

/* A local answer a to q (a static zone's, a never-forwarded domain's) as
 * a packed value in *v, the form of an upstream reply: encoded, parsed
 * back (msg.h) and packed. 1 with *v set, -1 on failure (*why). */
static int own_value(struct tdns_resolver *r, const struct tdns_qctx *q,
		     const struct tdns_answer *a, struct tdns_cache_value *v,
		     enum fail_kind *why)
{
	struct own_msg *om;
	size_t n = 0;
	enum tdns_status st;
	int ret = -1;

	*why = FAIL_INTERNAL;
	om = malloc(sizeof(*om));
	if (om == NULL || encode_reply(q, a, om->wire, sizeof(om->wire), &n) != TDNS_OK ||
	    msg_parse(&om->m, om->wire, n) != MSG_OK)
		goto out;
	if (om->m.rcode != DNS_RCODE_NOERROR && om->m.rcode != DNS_RCODE_NXDOMAIN) {
		/* auth_lookup answers SERVFAIL for a store error */
		*why = om->m.rcode == DNS_RCODE_SERVFAIL ? FAIL_STORE : FAIL_RCODE;
		goto out;
	}
	st = cache_value_build(&r->cfg.cache, q->qname, q->qname_len, q->qtype, &om->m,
			       clock_now(), v);
	if (st == TDNS_OK)
		ret = 1;
	else if (st != TDNS_ENOMEM)
		*why = FAIL_GARBAGE;
out:
	free(om);
	return ret;
}

/*
 * Static zones, the cache, then the route, for a question the resolver
 * asks itself (a CNAME target being chased), as a packed value (cache.h)
 * in *v (own_value), so the chase deals with one form only. A name in a
 * domain that is never forwarded gets that domain's answer, as a client
 * asking it would (policy.h): NXDOMAIN, the RFC 6303 zone's negative
 * answer; REFUSED fails the chase with FAIL_REFUSED. Returns 1 with *v
 * set, 0 for a miss (a corrupt cache entry included: the upstream's answer
 * replaces it), -1 when the lookup failed (*why). Runs once per chased
 * name, never for a client's question.
 */
int chase_local(struct tdns_resolver *r, const struct tdns_qctx *q, struct tdns_cache_value *v,
		enum fail_kind *why)
{
	struct tdns_txn *t;
	enum policy_fwd how;
	unsigned first, end;
	size_t zone_len;
	enum tdns_status st;
	int ret = -1;

	memset(v, 0, sizeof(*v));
	*why = FAIL_STORE;
	t = rtxn_open(r);
	if (t == NULL)
		return -1;
	answer_reset(&r->ans);
	if (auth_lookup(r->zc, t, q, &r->ans) == AUTH_ANSWERED) {
		stats_inc(&r->stats.static_answers);
		ret = own_value(r, q, &r->ans, v, why);
		goto out;
	}
	ret = 0;
	if (q->qclass != DNS_CLASS_IN)
		goto out; /* the cache holds class IN only */
	st = cache_get(t, q->qkey, q->qkey_len, q->qtype, clock_now(), 0, v);
	if (st == TDNS_OK) {
		stats_inc(&r->stats.cache_hits);
		ret = 1;
		goto out;
	} else if (st == TDNS_EINVAL) {
		log_warn("cache lookup: corrupt entry (treated as a miss)");
	} else if (st != TDNS_ENOTFOUND) {
		log_warn("local lookup: %s", tdns_strerror(st));
		*why = st == TDNS_ENOMEM ? FAIL_INTERNAL : FAIL_STORE;
		ret = -1;
		goto out;
	}
	how = route(r, q->qkey, q->qkey_len, &first, &end, &zone_len);
	if (how == POLICY_FWD_REFUSED) {
		*why = FAIL_REFUSED;
		ret = -1;
	} else if (how > POLICY_FWD_STUB) {
		answer_reset(&r->ans);
		policy_route_answer(r->pol, how, q, &r->ans);
		ret = own_value(r, q, &r->ans, v, why);
	}
out:
	rtxn_close(r, t);
	return ret;
}

/* Both uncompressed wire names: equal, ASCII case ignored? */
static bool wire_name_eq(const uint8_t *a, size_t alen, const uint8_t *b,
			 size_t blen)
{
	return alen == blen && dns_caseeq(a, b, alen);
}

/* True if the uncompressed wire name `name` equals `apex` or lies below it. */
static bool wire_name_under(const uint8_t *name, size_t name_len,
			    const uint8_t *apex, size_t apex_len)
{
	uint8_t nk[NAME_KEY_MAX], ak[NAME_KEY_MAX];
	size_t nl, al;

	return name_key_from_wire(name, name_len, nk, &nl) == TDNS_OK &&
	       name_key_from_wire(apex, apex_len, ak, &al) == TDNS_OK &&
	       name_key_is_subdomain(nk, nl, ak, al);
}


/* Follow the chain from qname through m's answer section. A loop is a
 * CNAME whose target is a name already on the chain (RFC 1034 3.6.2:
 * chains must not loop; RFC 1035 7.1 bounds the work). */
void chase_walk(const struct tdns_msg *m, const uint8_t *qname, size_t qname_len, uint16_t qtype,
		struct chain_walk *c)
{
	uint8_t to[NAME_WIRE_MAX];
	size_t to_len;

	c->n = 0;
	c->complete = c->loop = c->too_long = false;
	memcpy(c->last, qname, qname_len);
	c->last_len = qname_len;
	for (;;) {
		const struct tdns_msg_rr *cname = NULL;

		for (size_t i = 0; i < m->ancount; i++) {
			const struct tdns_msg_rr *rr = &m->rr[i];

			if (rr->rclass != DNS_CLASS_IN || rr->owner_len != c->last_len ||
			    !msg_name_eq(m, rr->owner, c->last, c->last_len))
				continue;
			if (rr->type == qtype || qtype == DNS_TYPE_ANY) {
				c->complete = true;
				return;
			}
			/* An empty rdata has no target (ldns reads no field). */
			if (rr->type == DNS_TYPE_CNAME && rr->rdlen > 0)
				cname = rr;
		}
		if (cname == NULL)
			return;
		to_len = msg_name(m, cname->rdata, to);
		if (to_len == 0)
			return;
		c->loop = wire_name_eq(to, to_len, qname, qname_len);
		for (size_t i = 0; i < c->n && !c->loop; i++)
			c->loop = msg_name_eq(m, m->rr[c->cname[i]].rdata, to, to_len);
		if (c->loop)
			return;
		if (c->n == CHAIN_NAMES_MAX) {
			c->too_long = true;
			return;
		}
		c->cname[c->n++] = (uint16_t)(cname - m->rr);
		memcpy(c->last, to, to_len);
		c->last_len = to_len;
	}
}

/* Does the authority section hold the SOA of a zone at or above name
 * (a NODATA or NXDOMAIN from the zone of the chain's end)? */
static bool soa_covers(const struct tdns_msg *m, const uint8_t *name,
		       size_t name_len)
{
	uint8_t owner[NAME_WIRE_MAX];

	for (size_t i = msg_ns_start(m); i < msg_ar_start(m); i++) {
		const struct tdns_msg_rr *rr = &m->rr[i];

		if (rr->type == DNS_TYPE_SOA &&
		    wire_name_under(name, name_len, owner,
				    msg_name(m, rr->owner, owner)))
			return true;
	}
	return false;
}

static size_t chain_len(const struct upq *u)
{
	return u->chain.data != NULL ? dns_rd16(u->chain.data + 10) : 0;
}

/* RFC 1034 5.3.3 step 3: a NOERROR answer whose chain ends at a name with
 * no RRset of qtype and no SOA saying it has none is the upstream
 * stopping at the edge of its data: the target must be asked for. Not
 * for CNAME/ANY questions (the CNAME is the answer), not again once the
 * answer came from the target's own query (it chased what it could),
 * and only when the chain grew since the last chase (so a target that
 * answers with nothing ends the chase). */
bool chase_needed(const struct upq *u, const struct tdns_msg *m,
			 const struct chain_walk *c)
{
	return m->rcode == DNS_RCODE_NOERROR && !c->complete &&
	       c->n > chain_len(u) && !u->chased &&
	       u->qtype != DNS_TYPE_CNAME && u->qtype != DNS_TYPE_ANY &&
	       !soa_covers(m, c->last, c->last_len);
}

/* The chain and the target's answer written as one message (encode.h)
 * and parsed back (msg.h): accepted like an upstream reply, the chain walk,
 * the caching rules and the loop and length limits apply to the whole. */
struct own_msg *chase_combine(struct tdns_answer *a, struct upq *u, const uint8_t *tval,
			      size_t tlen)
{
	struct own_msg *om = NULL;
	struct tdns_qctx q;
	uint64_t now = clock_now();
	size_t n = 0;

	if (tlen < 2 || (tval[1] != DNS_RCODE_NOERROR &&
			 tval[1] != DNS_RCODE_NXDOMAIN)) {
		u->why = FAIL_RCODE;
		return NULL;
	}
	u->why = FAIL_INTERNAL;
	om = malloc(sizeof(*om));
	if (om == NULL)
		return NULL;
	(void)chase_question(&q, u->qname, u->qname_len, u->qtype, u->qclass);
	answer_reset(a);
	u->why = FAIL_GARBAGE;
	if ((u->chain.data != NULL &&
	     cache_value_answer(u->chain.data, u->chain.len, now, 0, &q, a) != TDNS_OK) ||
	    cache_value_answer(tval, tlen, now, 0, &q, a) != TDNS_OK ||
	    encode_reply(&q, a, om->wire, sizeof(om->wire), &n) != TDNS_OK ||
	    msg_parse(&om->m, om->wire, n) != MSG_OK) {
		free(om);
		return NULL;
	}
	return om;
}
