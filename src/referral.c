/*
 * referral.c - judge a stub zone server's referral and take its glue (see
 * referral.h for the rules).
 */
#include "tierdns/referral.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "tierdns/dnsproto.h"
#include "tierdns/name.h"

/* NS records of one referral looked at for glue: each costs a pass over
 * the additional section (bounded by the resolver's max_records). */
#define REFERRAL_NS_MAX 32u
_Static_assert(REFERRAL_HOPS_MAX == 8u, "referral_text names the limit");

void referral_begin(struct referral_state *s, size_t stub_len)
{
	memset(s, 0, sizeof(*s));
	s->stub_len = stub_len;
	s->zone_len = stub_len;
}

/* The name key of the name at offset off of m; false if none. */
static bool key_at(const struct tdns_msg *m, size_t off, uint8_t *key, size_t *klen)
{
	uint8_t wire[NAME_WIRE_MAX];
	size_t n = msg_name(m, off, wire);

	return n > 0 && name_key_from_wire(wire, n, key, klen) == TDNS_OK;
}

/* Add the address of a glue record rr (A or AAAA, class IN) to s->addr
 * unless it is there already or s is full. */
/* An address a delegation may send queries to: not unspecified (0.0.0.0,
 * ::), multicast or broadcast, which glue must not name. (Loopback is
 * allowed: a stub zone's servers are the operator's choice, and may be
 * on this host.) */
static bool glue_usable(const struct tdns_addr *a)
{
	static const uint8_t zero[16];
	const uint8_t *b;

	if (a->ss.ss_family == AF_INET) {
		b = (const uint8_t *)&((const struct sockaddr_in *)&a->ss)->sin_addr;
		return !(b[0] == 0 || (b[0] >= 224 && b[0] <= 239) ||
			 (b[0] == 255 && b[1] == 255 && b[2] == 255 && b[3] == 255));
	}
	b = (const uint8_t *)&((const struct sockaddr_in6 *)&a->ss)->sin6_addr;
	return memcmp(b, zero, 16) != 0 && b[0] != 0xff;
}

static void add_glue(struct referral_state *s, const struct tdns_msg *m,
		     const struct tdns_msg_rr *rr, uint16_t port)
{
	struct tdns_addr a;

	memset(&a, 0, sizeof(a));
	if (rr->type == DNS_TYPE_A && rr->rdlen == 4) {
		struct sockaddr_in *in = (struct sockaddr_in *)&a.ss;

		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		memcpy(&in->sin_addr, m->wire + rr->rdata, 4);
		a.len = sizeof(*in);
	} else if (rr->type == DNS_TYPE_AAAA && rr->rdlen == 16) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a.ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		memcpy(&in6->sin6_addr, m->wire + rr->rdata, 16);
		a.len = sizeof(*in6);
	} else {
		return;
	}
	if (!glue_usable(&a))
		return;
	for (unsigned i = 0; i < s->n_addr; i++)
		if (s->addr[i].len == a.len && memcmp(&s->addr[i].ss, &a.ss, a.len) == 0)
			return;
	if (s->n_addr < REFERRAL_ADDRS_MAX)
		s->addr[s->n_addr++] = a;
}

enum referral_verdict referral_follow(struct referral_state *s, const struct tdns_msg *m,
				      const uint8_t *qkey, size_t qkey_len, uint16_t port)
{
	struct referral_state next = *s;
	uint8_t child[NAME_KEY_MAX], owner[NAME_KEY_MAX], target[NAME_WIRE_MAX];
	uint8_t tkey[NAME_KEY_MAX];
	size_t child_len = 0, owner_len, tlen, tkey_len;
	unsigned n_ns = 0;
	bool any = false;

	if (s->hops >= REFERRAL_HOPS_MAX)
		return REFERRAL_HOPS;
	for (size_t i = msg_ns_start(m); i < msg_ar_start(m); i++) {
		const struct tdns_msg_rr *rr = &m->rr[i];

		if (rr->type != DNS_TYPE_NS)
			continue;
		if (!key_at(m, rr->owner, owner, &owner_len))
			return REFERRAL_MALFORMED;
		if (!any) {
			memcpy(child, owner, owner_len);
			child_len = owner_len;
			any = true;
		} else if (owner_len != child_len || memcmp(owner, child, owner_len) != 0) {
			return REFERRAL_MALFORMED;
		}
	}
	if (!any)
		return REFERRAL_MALFORMED;
	if (!name_key_is_subdomain(child, child_len, qkey, s->stub_len))
		return REFERRAL_OUT_OF_ZONE;
	if (child_len <= s->zone_len || !name_key_is_subdomain(child, child_len, qkey, s->zone_len))
		return REFERRAL_NOT_CLOSER;
	if (!name_key_is_subdomain(qkey, qkey_len, child, child_len))
		return REFERRAL_NOT_QNAME;

	next.n_addr = 0;
	for (size_t i = msg_ns_start(m); i < msg_ar_start(m) && n_ns < REFERRAL_NS_MAX; i++) {
		const struct tdns_msg_rr *rr = &m->rr[i];

		if (rr->type != DNS_TYPE_NS || rr->rclass != DNS_CLASS_IN)
			continue;
		n_ns++;
		tlen = msg_name(m, rr->rdata, target);
		/* Glue only for a name server within the child (RFC 9471
		 * 2.1); any other name's address is not the referring
		 * server's data. */
		if (tlen == 0 || name_key_from_wire(target, tlen, tkey, &tkey_len) != TDNS_OK ||
		    !name_key_is_subdomain(tkey, tkey_len, child, child_len))
			continue;
		for (size_t j = msg_ar_start(m); j < (size_t)msg_ar_start(m) + m->arcount; j++) {
			const struct tdns_msg_rr *g = &m->rr[j];

			if ((g->type == DNS_TYPE_A || g->type == DNS_TYPE_AAAA) &&
			    g->rclass == DNS_CLASS_IN && msg_name_eq(m, g->owner, target, tlen))
				add_glue(&next, m, g, port);
		}
	}
	if (next.n_addr == 0)
		return REFERRAL_NO_GLUE;
	next.zone_len = child_len;
	next.hops++;
	*s = next;
	return REFERRAL_OK;
}

const char *referral_text(enum referral_verdict v)
{
	switch (v) {
	case REFERRAL_OK: return "followed";
	case REFERRAL_HOPS: return "more than 8 referrals";
	case REFERRAL_MALFORMED: return "NS records of more than one name";
	case REFERRAL_OUT_OF_ZONE: return "to a zone outside the stub zone";
	case REFERRAL_NOT_CLOSER:
		return "to a zone no closer to the name than the referring one (a loop)";
	case REFERRAL_NOT_QNAME: return "to a zone that does not hold the name";
	case REFERRAL_NO_GLUE:
		return "no glue address for a name server within the delegated zone "
		       "(names out of bailiwick are not resolved)";
	}
	return "?";
}
