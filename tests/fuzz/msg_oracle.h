/*
 * msg_oracle.h - msg_parse (msg.h) checked against ldns_wire2pkt, the
 * project's independent DNS parser. Included by tests/fuzz/fuzz_msg.c and
 * tests/unit/test_msg.c (static functions: each includer gets its own copy).
 *
 * The policy (msg.h): whatever msg_parse accepts, ldns accepts, with the
 * same header, counts, first question and records: owner names byte for
 * byte (case kept, uncompressed), type, class, TTL, and the rdata with its
 * names uncompressed (ldns's rdata fields, concatenated). ldns keeps the OPT
 * and TSIG records of the additional section out of its list; msg keeps
 * them, so they are skipped there (and what ldns leaves unread after a
 * TSIG), and the OPT is compared with ldns's EDNS fields. msg_parse may refuse what ldns accepts (msg.h lists where).
 */
#ifndef TIERDNS_MSG_ORACLE_H
#define TIERDNS_MSG_ORACLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <ldns/ldns.h>

#include "tierdns/msg.h"

struct msg_oracle {
	enum msg_verdict verdict; /* msg_parse's */
	bool ldns_ok;             /* ldns_wire2pkt accepted */
	const char *why;          /* NULL, or the first difference */
};

/* Compare one record of msg with one of ldns. */
static const char *msg_oracle_rr(const struct tdns_msg *m,
				 const struct tdns_msg_rr *rr, const ldns_rr *lr)
{
	static uint8_t mine[MSG_MAX_LEN * 4], theirs[MSG_MAX_LEN * 4];
	uint8_t owner[NAME_WIRE_MAX];
	const ldns_rdf *lo = ldns_rr_owner(lr);
	size_t n, rdlen, tl = 0;

	n = msg_name(m, rr->owner, owner);
	if (n == 0 || n != rr->owner_len || n != ldns_rdf_size(lo) ||
	    memcmp(owner, ldns_rdf_data(lo), n) != 0)
		return "owner";
	if (rr->type != (uint16_t)ldns_rr_get_type(lr))
		return "type";
	if (rr->rclass != (uint16_t)ldns_rr_get_class(lr))
		return "class";
	if (rr->ttl != ldns_rr_ttl(lr))
		return "ttl";
	if (!msg_rdata(m, rr, NULL, 0, &rdlen))
		return "msg_rdata";
	if (rdlen > sizeof(mine))
		return NULL; /* names blown up past what is compared here */
	if (!msg_rdata(m, rr, mine, sizeof(mine), &rdlen))
		return "msg_rdata";
	for (size_t i = 0; i < ldns_rr_rd_count(lr); i++) {
		const ldns_rdf *f = ldns_rr_rdf(lr, i);

		if (tl + ldns_rdf_size(f) > sizeof(theirs))
			return "ldns rdata too long";
		memcpy(theirs + tl, ldns_rdf_data(f), ldns_rdf_size(f));
		tl += ldns_rdf_size(f);
	}
	if (rdlen != tl || memcmp(mine, theirs, tl) != 0)
		return "rdata";
	return NULL;
}

static const char *msg_oracle_compare(const struct tdns_msg *m, const ldns_pkt *p)
{
	const ldns_rr_list *lists[3] = { ldns_pkt_answer(p), ldns_pkt_authority(p),
					 ldns_pkt_additional(p) };
	size_t counts[3] = { m->ancount, m->nscount, m->arcount };
	size_t i = 0;
	bool seen_opt = false;
	const char *why;

	if (m->id != ldns_pkt_id(p) || m->qr != ldns_pkt_qr(p) ||
	    m->opcode != (uint8_t)ldns_pkt_get_opcode(p) ||
	    m->aa != ldns_pkt_aa(p) || m->tc != ldns_pkt_tc(p) ||
	    m->rd != ldns_pkt_rd(p) || m->ra != ldns_pkt_ra(p) ||
	    m->ad != ldns_pkt_ad(p) || m->cd != ldns_pkt_cd(p) ||
	    m->rcode != (uint8_t)ldns_pkt_get_rcode(p))
		return "header";
	if (m->qdcount != ldns_pkt_qdcount(p) || m->ancount != ldns_pkt_ancount(p) ||
	    m->nscount != ldns_pkt_nscount(p))
		return "counts";
	if (m->qdcount > 0) {
		const ldns_rr *q = ldns_rr_list_rr(ldns_pkt_question(p), 0);
		uint8_t qn[NAME_WIRE_MAX];
		size_t n = msg_name(m, m->qname, qn);

		if (q == NULL || n != m->qname_len ||
		    n != ldns_rdf_size(ldns_rr_owner(q)) ||
		    memcmp(qn, ldns_rdf_data(ldns_rr_owner(q)), n) != 0 ||
		    m->qtype != (uint16_t)ldns_rr_get_type(q) ||
		    m->qclass != (uint16_t)ldns_rr_get_class(q))
			return "question";
	}
	for (int s = 0; s < 3; s++) {
		size_t li = 0, limit = counts[s];

		for (size_t k = 0; k < limit; k++, i++) {
			const struct tdns_msg_rr *rr = &m->rr[i];

			if (s == 2 && rr->type == LDNS_RR_TYPE_OPT) {
				seen_opt = true;
				continue;
			}
			/* ldns takes a TSIG out of the additional section
			 * by lowering the count its loop runs to: the last
			 * record is then never read. */
			if (s == 2 && rr->type == LDNS_RR_TYPE_TSIG) {
				limit--;
				continue;
			}
			if (li >= ldns_rr_list_rr_count(lists[s]))
				return "fewer ldns records";
			why = msg_oracle_rr(m, rr, ldns_rr_list_rr(lists[s], li++));
			if (why != NULL)
				return why;
		}
		if (li != ldns_rr_list_rr_count(lists[s]))
			return "more ldns records";
	}
	if (seen_opt) {
		if (ldns_pkt_edns_udp_size(p) != m->edns_udp ||
		    ldns_pkt_edns_extended_rcode(p) != m->edns_ext_rcode ||
		    ldns_pkt_edns_version(p) != m->edns_version ||
		    ldns_pkt_edns_z(p) != m->edns_flags)
			return "edns";
	}
	return NULL;
}

/* Records of type TSIG in m's additional section. */
static size_t msg_oracle_tsigs(const struct tdns_msg *m)
{
	size_t n = 0;

	for (size_t i = msg_ar_start(m); i < msg_ar_start(m) + m->arcount; i++)
		n += m->rr[i].type == LDNS_RR_TYPE_TSIG;
	return n;
}

/*
 * Parse wire[0..len) both ways; o->why names the first breach of the
 * policy, NULL when there is none. m is scratch (it is large). ldns is
 * asked only when msg_parse accepts, unless also_refused: the policy says
 * nothing about the rest, and ldns 1.8.3 leaks a TSIG record when a
 * message has two (ldns_pkt_set_tsig drops the first), which a fuzzer
 * finds at once; such messages are left out of the comparison too.
 */
static void msg_oracle_run(const uint8_t *wire, size_t len, struct tdns_msg *m,
			   bool also_refused, struct msg_oracle *o)
{
	ldns_pkt *p = NULL;

	o->verdict = msg_parse(m, wire, len);
	o->ldns_ok = false;
	o->why = NULL;
	if (o->verdict != MSG_OK && !also_refused)
		return;
	if (o->verdict == MSG_OK && msg_oracle_tsigs(m) > 1) {
		o->ldns_ok = true;
		return;
	}
	o->ldns_ok = ldns_wire2pkt(&p, wire, len) == LDNS_STATUS_OK;
	if (o->verdict == MSG_OK && !o->ldns_ok)
		o->why = "msg accepts what ldns refuses";
	else if (o->verdict == MSG_OK)
		o->why = msg_oracle_compare(m, p);
	ldns_pkt_free(p);
}

#endif
