/*
 * auth.c - authoritative answers from the zones in a store: RFC 1034 4.3.2
 * (with RFC 2308 negative answers, RFC 4592 wildcards, RFC 6604 CNAME
 * chain rcodes), CHAOS identity (RFC 4892) and the upper tier's whole query
 * path. Packet in, packet out; the store is read through zonedb.h only.
 *
 * Choices an operator may ask about:
 *   - Responses are minimal (like NSD's minimal-responses): no zone NS
 *     RRset in the authority section of positive answers and no additional
 *     records for MX/SRV targets. Referrals carry their glue, NS answers the
 *     addresses of in-zone servers; both only from the answering zone.
 *   - ANY returns every RRset at the name. RFC 8482 allows answering with a
 *     subset (NSD 4.6 sends one RRset); without DNSSEC data the full set
 *     stays small, and it is what a user asking ANY expects to see.
 *   - Owner names: records owned by the query name carry the client's case
 *     (RFC 4343 asks no more, and it keeps compression pointing at the
 *     question); CNAME chain targets and glue use the case stored in the
 *     rdata that named them; other owners (zone apex, delegation point) are
 *     rendered from the canonical key, i.e. lower case.
 */
#include "tierdns/auth.h"

#include <string.h>

#include "tierdns/dnsproto.h"
#include "tierdns/log.h"
#include "tierdns/name.h"
#include "tierdns/rrset.h"
#include "tierdns/zonedb.h"

#define AUTH_MAX_CHAIN 8 /* CNAME hops followed before we stop */
#define TYPE_SOA 6
#define TYPE_CNAME 5
#define TYPE_NS 2
#define TYPE_A 1
#define TYPE_AAAA 28
#define TYPE_TXT 16
#define TYPE_DS 43
#define TYPE_IXFR 251
#define TYPE_AXFR 252
#define TYPE_ANY 255
#define CLASS_IN 1
#define CLASS_CH 3
#define SOA_FIXED_LEN 20 /* serial refresh retry expire minimum */

/* One step of the answer: the name being looked up and its zone. */
struct auth_step {
	const ldns_rdf *owner; /* name as it will appear in the reply */
	const uint8_t *key;    /* its canonical key */
	size_t klen;
	size_t apex_len;       /* key[0..apex_len) is the zone apex */
};

/* How a step ended. */
enum step_end {
	STEP_DONE = 0,   /* reply complete for this name */
	STEP_FOLLOW,     /* a CNAME was added; follow its target */
};

/*
 * Build one record from stored rdata. rrset.h stores each record as
 * u16 rdlength | rdata, so rdata - 2 is the record exactly as it appears at
 * the end of an RR on the wire, which is what ldns_wire2rdf reads; names in
 * stored rdata are uncompressed, so nothing points outside the record.
 */
static ldns_rr *make_rr(const ldns_rdf *owner, uint16_t type, uint16_t rrclass,
			uint32_t ttl, const uint8_t *rdata, uint16_t rdlen)
{
	ldns_rr *rr = NULL;
	ldns_rdf *o = NULL;
	const uint8_t *rec = rdata - 2;
	size_t pos = 0;

	if (((unsigned)rec[0] << 8 | rec[1]) != rdlen)
		goto out;
	rr = ldns_rr_new();
	o = ldns_rdf_clone(owner);
	if (rr == NULL || o == NULL)
		goto fail;
	ldns_rr_set_owner(rr, o);
	o = NULL;
	ldns_rr_set_type(rr, (ldns_rr_type)type);
	ldns_rr_set_class(rr, (ldns_rr_class)rrclass);
	ldns_rr_set_ttl(rr, ttl);
	if (ldns_wire2rdf(rr, rec, (size_t)rdlen + 2, &pos) == LDNS_STATUS_OK &&
	    pos == (size_t)rdlen + 2)
		goto out;
fail:
	ldns_rr_free(rr);
	rr = NULL;
out:
	ldns_rdf_deep_free(o);
	return rr;
}

/* Append a whole stored RRset, in stored order. *first (may be NULL) gets
 * the first record added (owned by reply). */
static enum tdns_status add_rrset(ldns_pkt *reply, ldns_pkt_section sec,
				  const ldns_rdf *owner, uint16_t type,
				  uint32_t ttl, const struct tdns_rrset_view *v,
				  ldns_rr **first)
{
	const uint8_t *rdata;
	uint16_t rdlen;
	size_t pos = 0;

	if (first != NULL)
		*first = NULL;
	while (rrset_next(v, &pos, &rdata, &rdlen)) {
		ldns_rr *rr = make_rr(owner, type, CLASS_IN, ttl, rdata, rdlen);

		if (rr == NULL)
			return TDNS_EINVAL;
		if (!ldns_pkt_push_rr(reply, sec, rr)) {
			ldns_rr_free(rr);
			return TDNS_ENOMEM;
		}
		if (first != NULL && *first == NULL)
			*first = rr;
	}
	return TDNS_OK;
}

/* The lower-case name of a key, as an ldns dname. NULL on failure. */
static ldns_rdf *rdf_from_key(const uint8_t *key, size_t klen)
{
	uint8_t wire[NAME_WIRE_MAX];
	size_t wlen = 0;

	if (name_key_to_wire(key, klen, wire, &wlen) != TDNS_OK)
		return NULL;
	return ldns_dname_new_frm_data((uint16_t)wlen, wire);
}

/*
 * The zone's SOA in the authority section of a negative answer, with TTL
 * min(SOA TTL, SOA MINIMUM) (RFC 2308 3). A zone without SOA is broken; the
 * answer then goes out without one rather than not at all.
 */
static enum tdns_status add_negative_soa(struct tdns_txn *t, ldns_pkt *reply,
					 const uint8_t *apex, size_t apex_len)
{
	struct tdns_rrset_view v;
	const uint8_t *rdata;
	uint16_t rdlen;
	size_t pos = 0;
	uint32_t ttl, minimum;
	ldns_rdf *owner = NULL;
	enum tdns_status st;

	st = zonedb_get_rrset(t, apex, apex_len, TYPE_SOA, &v);
	if (st == TDNS_ENOTFOUND) {
		log_warn("zone without SOA: negative answer has no authority");
		st = TDNS_OK;
		goto out;
	}
	if (st != TDNS_OK)
		goto out;
	/* Names in stored rdata are uncompressed: MINIMUM is the last field. */
	if (!rrset_next(&v, &pos, &rdata, &rdlen) ||
	    rdlen < SOA_FIXED_LEN + 2) {
		st = TDNS_EINVAL;
		goto out;
	}
	minimum = dns_rd32(rdata + rdlen - 4);
	ttl = v.ttl < minimum ? v.ttl : minimum;
	owner = rdf_from_key(apex, apex_len);
	if (owner == NULL) {
		st = TDNS_ENOMEM;
		goto out;
	}
	st = add_rrset(reply, LDNS_SECTION_AUTHORITY, owner, TYPE_SOA, ttl, &v,
		       NULL);
out:
	ldns_rdf_deep_free(owner);
	return st;
}

static bool has_rrset(const ldns_rr_list *l, const ldns_rdf *owner,
		      uint16_t type)
{
	size_t i;

	for (i = 0; i < ldns_rr_list_rr_count(l); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(l, i);

		if (ldns_rr_get_type(rr) == type &&
		    ldns_dname_compare(ldns_rr_owner(rr), owner) == 0)
			return true;
	}
	return false;
}

/* Address records of one name server target into additional. */
static enum tdns_status add_glue_one(struct tdns_txn *t, ldns_pkt *reply,
				     const ldns_rdf *target, uint16_t type,
				     const uint8_t *apex, size_t apex_len)
{
	struct tdns_rrset_view v;
	uint8_t key[NAME_KEY_MAX];
	size_t klen = 0;
	enum tdns_status st;
	bool deeper = false;

	if (name_key_from_wire(ldns_rdf_data(target), ldns_rdf_size(target),
			       key, &klen) != TDNS_OK)
		return TDNS_OK;
	/* Only data of this zone (below the cut or in-zone siblings) is ours
	 * to hand out here: not other zones', even those served alongside
	 * (a resolver would rightly discard them as out of bailiwick). */
	if (!name_key_is_subdomain(key, klen, apex, apex_len))
		return TDNS_OK;
	st = zonedb_in_deeper_zone(t, apex, apex_len, key, klen, &deeper);
	if (st != TDNS_OK || deeper)
		return st;
	if (has_rrset(ldns_pkt_additional(reply), target, type))
		return TDNS_OK; /* a duplicate NS record in the stored RRset */
	st = zonedb_get_rrset(t, key, klen, type, &v);
	if (st == TDNS_ENOTFOUND)
		return TDNS_OK;
	if (st != TDNS_OK)
		return st;
	return add_rrset(reply, LDNS_SECTION_ADDITIONAL, target, type, v.ttl,
			 &v, NULL);
}

/* Addresses of the NS records list[first..) into additional: every A
 * first, then every AAAA, so that on truncation IPv4 glue for all servers
 * survives longest (the order NSD uses). */
static enum tdns_status add_glue(struct tdns_txn *t, ldns_pkt *reply,
				 const ldns_rr_list *list, size_t first,
				 const uint8_t *apex, size_t apex_len)
{
	static const uint16_t types[] = { TYPE_A, TYPE_AAAA };
	size_t i, j;
	enum tdns_status st;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		for (j = first; j < ldns_rr_list_rr_count(list); j++) {
			const ldns_rr *ns = ldns_rr_list_rr(list, j);

			if (ldns_rr_get_type(ns) != LDNS_RR_TYPE_NS ||
			    ldns_rr_rdf(ns, 0) == NULL)
				continue;
			st = add_glue_one(t, reply, ldns_rr_rdf(ns, 0), types[i],
					  apex, apex_len);
			if (st != TDNS_OK)
				return st;
		}
	}
	return TDNS_OK;
}

/*
 * RFC 1034 4.3.2 step 3b: the name is at or below a zone cut. The NS RRset
 * of the cut goes into authority with its glue in additional; AA is cleared
 * when nothing authoritative precedes it in the answer.
 */
static enum tdns_status add_referral(struct tdns_txn *t, ldns_pkt *reply,
				     const struct auth_step *s, size_t cut_len,
				     const struct tdns_rrset_view *ns)
{
	ldns_rdf *owner = NULL;
	size_t first = ldns_rr_list_rr_count(ldns_pkt_authority(reply));
	enum tdns_status st;

	if (cut_len == s->klen)
		owner = ldns_rdf_clone(s->owner);
	else
		owner = rdf_from_key(s->key, cut_len);
	if (owner == NULL) {
		st = TDNS_ENOMEM;
		goto out;
	}
	st = add_rrset(reply, LDNS_SECTION_AUTHORITY, owner, TYPE_NS, ns->ttl,
		       ns, NULL);
	if (st != TDNS_OK)
		goto out;
	st = add_glue(t, reply, ldns_pkt_authority(reply), first, s->key,
		      s->apex_len);
	if (st == TDNS_OK && ldns_pkt_ancount(reply) == 0)
		ldns_pkt_set_aa(reply, false);
out:
	ldns_rdf_deep_free(owner);
	return st;
}

/* The deepest zone cut (non-apex NS RRset) at or above the name, if any.
 * *cut_len is its key length. DS at the cut itself belongs to the parent
 * (RFC 4035 3.1.4.1), so that one query is not referred. */
static enum tdns_status find_cut(struct tdns_txn *t, const struct auth_step *s,
				 uint16_t qtype, size_t *cut_len,
				 struct tdns_rrset_view *ns)
{
	int apex_labels = name_key_labels(s->key, s->apex_len);
	int labels = name_key_labels(s->key, s->klen);
	int l;

	if (apex_labels < 0 || labels < 0)
		return TDNS_EINVAL;
	/* Top-down: the highest cut is the one that takes us out of the zone. */
	for (l = apex_labels + 1; l <= labels; l++) {
		size_t plen = name_key_prefix_len(s->key, s->klen, l);
		enum tdns_status st;

		if (plen == s->klen && qtype == TYPE_DS)
			break;
		st = zonedb_get_rrset(t, s->key, plen, TYPE_NS, ns);
		if (st == TDNS_OK) {
			*cut_len = plen;
			return TDNS_OK;
		}
		if (st != TDNS_ENOTFOUND)
			return st;
	}
	return TDNS_ENOTFOUND;
}

struct any_ctx {
	ldns_pkt *reply;
	const ldns_rdf *owner;
	enum tdns_status st;
};

static int add_any_cb(void *arg, uint16_t type, const struct tdns_rrset_view *v)
{
	struct any_ctx *a = arg;

	a->st = add_rrset(a->reply, LDNS_SECTION_ANSWER, a->owner, type, v->ttl,
			  v, NULL);
	return a->st != TDNS_OK;
}

/*
 * Answer from the RRsets stored under data_key (the name itself, or the
 * wildcard that synthesizes it, RFC 4592 3.3.1), with owner s->owner.
 * On a CNAME, *target receives a copy of its target (caller frees).
 */
static enum tdns_status answer_data(struct tdns_txn *t, ldns_pkt *reply,
				    const struct auth_step *s,
				    const uint8_t *data_key, size_t data_klen,
				    uint16_t qtype, enum step_end *end,
				    ldns_rdf **target)
{
	struct tdns_rrset_view v;
	ldns_rr *cname = NULL;
	enum tdns_status st;

	*end = STEP_DONE;
	if (qtype == TYPE_ANY) {
		struct any_ctx a = { reply, s->owner, TDNS_OK };

		st = zonedb_name_rrsets(t, data_key, data_klen, add_any_cb, &a,
					NULL);
		return st != TDNS_OK ? st : a.st;
	}
	st = zonedb_get_rrset(t, data_key, data_klen, qtype, &v);
	if (st == TDNS_OK) {
		size_t first = ldns_rr_list_rr_count(ldns_pkt_answer(reply));

		st = add_rrset(reply, LDNS_SECTION_ANSWER, s->owner, qtype,
			       v.ttl, &v, NULL);
		/* The addresses of in-zone name servers go along with an NS
		 * answer (RFC 1035 3.3.11 additional processing), as NSD
		 * does; they are optional and the first to go on truncation. */
		if (st == TDNS_OK && qtype == TYPE_NS)
			st = add_glue(t, reply, ldns_pkt_answer(reply), first,
				      s->key, s->apex_len);
		return st;
	}
	if (st != TDNS_ENOTFOUND)
		return st;
	if (qtype != TYPE_CNAME) {
		st = zonedb_get_rrset(t, data_key, data_klen, TYPE_CNAME, &v);
		if (st == TDNS_OK) {
			st = add_rrset(reply, LDNS_SECTION_ANSWER, s->owner,
				       TYPE_CNAME, v.ttl, &v, &cname);
			if (st != TDNS_OK)
				return st;
			if (cname == NULL || ldns_rr_rdf(cname, 0) == NULL)
				return TDNS_EINVAL;
			*target = ldns_rdf_clone(ldns_rr_rdf(cname, 0));
			if (*target == NULL)
				return TDNS_ENOMEM;
			*end = STEP_FOLLOW;
			return TDNS_OK;
		}
		if (st != TDNS_ENOTFOUND)
			return st;
	}
	/* NODATA (RFC 2308 2.2). */
	ldns_pkt_set_rcode(reply, LDNS_RCODE_NOERROR);
	return add_negative_soa(t, reply, s->key, s->apex_len);
}

/*
 * RFC 4592 3.3.1: the closest encloser of a name that does not exist is its
 * deepest existing ancestor (the apex at worst); "*." under it is the source
 * of synthesis. *wlen receives the wildcard's key length in wkey, 0 if none
 * exists; a store error is returned (and *wlen is 0).
 */
static enum tdns_status find_wildcard(struct tdns_txn *t,
				      const struct auth_step *s, uint8_t *wkey,
				      size_t *wlen)
{
	int apex_labels = name_key_labels(s->key, s->apex_len);
	int l = name_key_labels(s->key, s->klen) - 1;
	size_t ce_len = s->apex_len;
	unsigned state;
	enum tdns_status st = TDNS_OK;

	*wlen = 0;
	for (; l > apex_labels; l--) {
		size_t plen = name_key_prefix_len(s->key, s->klen, l);

		st = zonedb_name_state(t, s->key, plen, &state);
		if (st != TDNS_OK)
			goto out;
		if (state != ZONEDB_NAME_NONE) {
			ce_len = plen;
			break;
		}
	}
	if (ce_len + 2 > NAME_KEY_MAX)
		goto out;
	memcpy(wkey, s->key, ce_len);
	wkey[ce_len] = 1;
	wkey[ce_len + 1] = '*';
	st = zonedb_name_state(t, wkey, ce_len + 2, &state);
	if (st == TDNS_OK && (state & ZONEDB_NAME_DATA) != 0)
		*wlen = ce_len + 2;
out:
	return st;
}

/* RFC 1034 4.3.2 step 3 for one name of the chain. */
static enum tdns_status answer_step(struct tdns_txn *t, ldns_pkt *reply,
				    const struct auth_step *s, uint16_t qtype,
				    enum step_end *end, ldns_rdf **target)
{
	struct tdns_rrset_view ns;
	uint8_t wkey[NAME_KEY_MAX];
	size_t cut_len = 0, wlen;
	unsigned state;
	enum tdns_status st;

	*end = STEP_DONE;
	st = find_cut(t, s, qtype, &cut_len, &ns);
	if (st == TDNS_OK)
		return add_referral(t, reply, s, cut_len, &ns);
	if (st != TDNS_ENOTFOUND)
		return st;

	st = zonedb_name_state(t, s->key, s->klen, &state);
	if (st != TDNS_OK)
		return st;
	if (state & ZONEDB_NAME_DATA)
		return answer_data(t, reply, s, s->key, s->klen, qtype, end,
				   target);
	if (state & ZONEDB_NAME_CHILDREN) {
		/* An empty non-terminal exists: NODATA (RFC 4592 2.2.2). */
		ldns_pkt_set_rcode(reply, LDNS_RCODE_NOERROR);
		return add_negative_soa(t, reply, s->key, s->apex_len);
	}
	st = find_wildcard(t, s, wkey, &wlen);
	if (st != TDNS_OK)
		return st;
	if (wlen > 0)
		return answer_data(t, reply, s, wkey, wlen, qtype, end, target);
	/* RFC 6604 3: the rcode describes the last name of a CNAME chain. */
	ldns_pkt_set_rcode(reply, LDNS_RCODE_NXDOMAIN);
	return add_negative_soa(t, reply, s->key, s->apex_len);
}

/*
 * Closest enclosing zone of the step's name (RFC 1034 4.3.2 step 2), except
 * that DS at a zone apex belongs to the parent side of the cut (RFC 4035
 * 3.1.4.1): when the parent zone is served here too, it answers.
 */
static enum tdns_status find_zone(struct tdns_txn *t, struct auth_step *s,
				  uint16_t qtype)
{
	struct tdns_zone_meta meta;
	enum tdns_status st;
	size_t parent_len, papex;
	int labels;

	st = zonedb_find(t, s->key, s->klen, &s->apex_len, &meta);
	if (st != TDNS_OK || qtype != TYPE_DS || s->apex_len != s->klen ||
	    s->klen == 0)
		return st;
	labels = name_key_labels(s->key, s->klen);
	if (labels < 1)
		return st;
	parent_len = name_key_prefix_len(s->key, s->klen, labels - 1);
	st = zonedb_find(t, s->key, parent_len, &papex, &meta);
	if (st == TDNS_OK)
		s->apex_len = papex;
	return st == TDNS_ENOTFOUND ? TDNS_OK : st;
}

static void set_servfail(ldns_pkt *reply)
{
	static const ldns_pkt_section secs[] = {
		LDNS_SECTION_ANSWER, LDNS_SECTION_AUTHORITY,
		LDNS_SECTION_ADDITIONAL,
	};
	size_t i;

	for (i = 0; i < sizeof(secs) / sizeof(secs[0]); i++) {
		ldns_rr *rr;
		ldns_rr_list *l = secs[i] == LDNS_SECTION_ANSWER
				       ? ldns_pkt_answer(reply)
				  : secs[i] == LDNS_SECTION_AUTHORITY
				       ? ldns_pkt_authority(reply)
				       : ldns_pkt_additional(reply);

		while ((rr = ldns_rr_list_pop_rr(l)) != NULL)
			ldns_rr_free(rr);
		ldns_pkt_set_section_count(reply, secs[i], 0);
	}
	ldns_pkt_set_aa(reply, false);
	ldns_pkt_set_rcode(reply, LDNS_RCODE_SERVFAIL);
}

enum auth_result auth_lookup(struct tdns_txn *t, const struct tdns_query *q,
			     ldns_pkt *reply)
{
	uint8_t seen[AUTH_MAX_CHAIN][NAME_KEY_MAX];
	size_t seen_len[AUTH_MAX_CHAIN];
	uint8_t tkey[NAME_KEY_MAX];
	struct auth_step s;
	ldns_rdf *owner = NULL; /* chain target owned here */
	ldns_rdf *target = NULL;
	enum auth_result res = AUTH_ANSWERED;
	enum step_end end;
	enum tdns_status st;
	size_t hops, i, tlen = 0;

	s.owner = q->qname;
	s.key = q->qkey;
	s.klen = q->qkey_len;
	st = find_zone(t, &s, q->qtype);
	if (st == TDNS_ENOTFOUND) {
		res = AUTH_NOT_AUTH;
		goto out;
	}
	if (st != TDNS_OK)
		goto out;
	ldns_pkt_set_aa(reply, true);
	ldns_pkt_set_rcode(reply, LDNS_RCODE_NOERROR);
	for (hops = 0;; hops++) {
		memcpy(seen[hops], s.key, s.klen);
		seen_len[hops] = s.klen;
		st = answer_step(t, reply, &s, q->qtype, &end, &target);
		if (st != TDNS_OK || end == STEP_DONE)
			goto out;
		/* RFC 1034 4.3.2 step 3a: restart at the CNAME's target - but
		 * only so far, only inside zones we serve, never in a loop. */
		ldns_rdf_deep_free(owner);
		owner = target;
		target = NULL;
		if (hops + 1 >= AUTH_MAX_CHAIN)
			goto out;
		if (name_key_from_wire(ldns_rdf_data(owner), ldns_rdf_size(owner),
				       tkey, &tlen) != TDNS_OK)
			goto out;
		for (i = 0; i <= hops; i++)
			if (seen_len[i] == tlen &&
			    memcmp(seen[i], tkey, tlen) == 0)
				goto out;
		s.owner = owner;
		s.key = tkey;
		s.klen = tlen;
		st = find_zone(t, &s, q->qtype);
		if (st == TDNS_ENOTFOUND) {
			st = TDNS_OK;
			goto out;
		}
		if (st != TDNS_OK)
			goto out;
	}
out:
	if (res == AUTH_ANSWERED && st != TDNS_OK) {
		log_err("auth: lookup failed: %s", tdns_strerror(st));
		set_servfail(reply);
		wire_reply_add_ede(reply, q, WIRE_EDE_OTHER, tdns_strerror(st));
	}
	ldns_rdf_deep_free(owner);
	ldns_rdf_deep_free(target);
	return res;
}

/* RFC 4892 2: the identity TXT records of the server, class CH. */
void auth_chaos(const struct tdns_auth_cfg *cfg, const struct tdns_query *q,
		ldns_pkt *reply)
{
	static const struct {
		const char *key;
		size_t klen;
		bool version;
	} names[] = {
		{ "\x04" "bind" "\x07" "version", 13, true },
		{ "\x06" "server" "\x07" "version", 15, true },
		{ "\x06" "server" "\x02" "id", 10, false },
		{ "\x04" "bind" "\x08" "hostname", 14, false },
	};
	const char *value = NULL;
	ldns_rr *rr = NULL;
	ldns_rdf *owner = NULL, *txt = NULL;
	uint8_t buf[256];
	size_t i, len;
	bool known = false;

	ldns_pkt_set_rcode(reply, LDNS_RCODE_REFUSED);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (q->qkey_len == names[i].klen &&
		    memcmp(q->qkey, names[i].key, names[i].klen) == 0) {
			known = true;
			if (cfg != NULL)
				value = names[i].version ? cfg->version
							 : cfg->identity;
			break;
		}
	}
	if (!known || value == NULL)
		goto out;
	ldns_pkt_set_rcode(reply, LDNS_RCODE_NOERROR);
	ldns_pkt_set_aa(reply, true);
	if (q->qtype != TYPE_TXT && q->qtype != TYPE_ANY)
		goto out; /* NODATA */
	len = strlen(value);
	if (len > 255)
		len = 255;
	buf[0] = (uint8_t)len;
	memcpy(buf + 1, value, len);
	rr = ldns_rr_new();
	owner = ldns_rdf_clone(q->qname);
	txt = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_STR, len + 1, buf);
	if (rr == NULL || owner == NULL || txt == NULL)
		goto fail;
	ldns_rr_set_owner(rr, owner);
	owner = NULL;
	ldns_rr_set_type(rr, LDNS_RR_TYPE_TXT);
	ldns_rr_set_class(rr, LDNS_RR_CLASS_CH);
	ldns_rr_set_ttl(rr, 0);
	if (!ldns_rr_push_rdf(rr, txt))
		goto fail;
	txt = NULL;
	if (!ldns_pkt_push_rr(reply, LDNS_SECTION_ANSWER, rr))
		goto fail;
	rr = NULL;
	goto out;
fail:
	set_servfail(reply);
out:
	ldns_rr_free(rr);
	ldns_rdf_deep_free(owner);
	ldns_rdf_deep_free(txt);
}

bool auth_answer_slow(struct tdns_txn *t, const struct tdns_auth_cfg *cfg,
		 const uint8_t *in, size_t in_len, bool tcp, uint8_t *out,
		 size_t cap, size_t *out_len)
{
	struct tdns_query q;
	ldns_pkt *reply = NULL;
	enum wire_verdict v;

	memset(&q, 0, sizeof(q));
	*out_len = 0;
	v = wire_parse_query(in, in_len, &q, out, out_len);
	if (v == WIRE_DROP)
		goto out;
	if (v == WIRE_ERROR)
		goto out;
	reply = wire_reply_new(&q, LDNS_RCODE_NOERROR);
	if (reply == NULL)
		goto servfail;
	if (q.qclass == CLASS_CH) {
		auth_chaos(cfg, &q, reply);
	} else if (q.qclass != CLASS_IN) {
		ldns_pkt_set_rcode(reply, LDNS_RCODE_REFUSED);
	} else if (q.qtype == TYPE_AXFR || q.qtype == TYPE_IXFR) {
		/* No zone transfers are offered. */
		ldns_pkt_set_rcode(reply, LDNS_RCODE_REFUSED);
	} else if (auth_lookup(t, &q, reply) == AUTH_NOT_AUTH) {
		/* Not ours: REFUSED, AA and RA clear. */
		ldns_pkt_set_rcode(reply, LDNS_RCODE_REFUSED);
	}
	if (wire_reply_render(reply, &q, tcp, out, cap, out_len) == TDNS_OK)
		goto out;
servfail:
	log_err("auth: could not build a reply; answering SERVFAIL");
	*out_len = wire_error_reply(in, in_len, LDNS_RCODE_SERVFAIL, out, cap);
out:
	ldns_pkt_free(reply);
	wire_query_clear(&q);
	return *out_len > 0;
}

/*
 * ---- The fast path ----
 *
 * The common query (class IN, one uncompressed question, at most an OPT
 * record, a name inside a served zone with no referral, CNAME or wildcard
 * on the way) answered straight from the LMDB values into out: no ldns
 * objects, no allocation on positive answers. Its bytes are those the ldns
 * path renders, including the size: names are compressed the way
 * ldns_pkt2buffer_wire does it (every owner name and the names in the rdata
 * of the RFC 1035 types ldns marks compressible, case-insensitive matches,
 * first occurrence wins, offsets below 16384), so an answer that fits here
 * fits there and needs no truncation in either. Anything else, or anything
 * that does not fit, is declined and goes to the ldns path.
 */

#define FAST_MAX_NAMES 64     /* compression targets remembered */
#define FAST_PTR_LIMIT 16384  /* ldns remembers names only below this offset */

struct fast_msg {
	uint8_t *out;
	size_t limit; /* the size the answer must fit (UDP or TCP limit) */
	size_t len;
	uint16_t names[FAST_MAX_NAMES]; /* offsets of names written so far */
	unsigned n_names;
	const uint8_t *qname; /* the question's name in the query */
};

struct fast_query {
	struct wire_fast_query q;
	uint8_t qkey[NAME_KEY_MAX];
	size_t qkey_len;
};

/* The shape wire_fast_parse takes, less the types with more to them than
 * one RRset (the ldns path answers those), plus the name key. */
static bool fast_parse(const uint8_t *in, size_t len, bool tcp,
		       struct fast_query *fq)
{
	if (!wire_fast_parse(in, len, tcp, &fq->q))
		return false;
	switch (fq->q.qtype) {
	case TYPE_ANY:
	case TYPE_AXFR:
	case TYPE_IXFR:
	case TYPE_DS:
	case TYPE_NS:
		return false;
	default:
		break;
	}
	return name_key_from_wire(in + WIRE_HDR_LEN, fq->q.qname_len, fq->qkey,
				  &fq->qkey_len) == TDNS_OK;
}

static bool fast_put(struct fast_msg *m, const void *p, size_t n)
{
	if (m->limit - m->len < n)
		return false;
	memcpy(m->out + m->len, p, n);
	m->len += n;
	return true;
}

static bool fast_put16(struct fast_msg *m, uint16_t x)
{
	uint8_t b[2] = { (uint8_t)(x >> 8), (uint8_t)x };

	return fast_put(m, b, 2);
}

static bool fast_put32(struct fast_msg *m, uint32_t x)
{
	uint8_t b[4] = { (uint8_t)(x >> 24), (uint8_t)(x >> 16),
			 (uint8_t)(x >> 8), (uint8_t)x };

	return fast_put(m, b, 4);
}

/* Does the (possibly compressed) name at out[off] equal the uncompressed
 * name, ignoring ASCII case (RFC 4343)? */
static bool fast_name_at(const struct fast_msg *m, size_t off, const uint8_t *name)
{
	const uint8_t *o = m->out;
	size_t i;

	for (;;) {
		while ((o[off] & 0xc0) == 0xc0)
			off = (size_t)(o[off] & 0x3f) << 8 | o[off + 1];
		if (o[off] != name[0])
			return false;
		if (name[0] == 0)
			return true;
		for (i = 1; i <= name[0]; i++)
			if (dns_lower(o[off + i]) != dns_lower(name[i]))
				return false;
		off += (size_t)name[0] + 1;
		name += (size_t)name[0] + 1;
	}
}

static bool fast_remember(struct fast_msg *m, size_t off)
{
	if (off >= FAST_PTR_LIMIT)
		return true;
	if (m->n_names == FAST_MAX_NAMES)
		return false;
	m->names[m->n_names++] = (uint16_t)off;
	return true;
}

/* Write an uncompressed wire name (validated), compressed as ldns does:
 * the longest remembered suffix becomes a pointer (RFC 1035 4.1.4). */
static bool fast_name(struct fast_msg *m, const uint8_t *name)
{
	unsigned i;

	while (name[0] != 0) {
		for (i = 0; i < m->n_names; i++)
			if (fast_name_at(m, m->names[i], name))
				return fast_put16(m, (uint16_t)(0xc000 | m->names[i]));
		if (!fast_remember(m, m->len) ||
		    !fast_put(m, name, (size_t)name[0] + 1))
			return false;
		name += (size_t)name[0] + 1;
	}
	return fast_put(m, name, 1);
}

/*
 * The rdata of one stored record. Types ldns compresses get their names
 * compressed, field by field as ldns reads them; the others are copied as
 * they are (ldns writes back the bytes it read). Declines rdata that the
 * ldns path could not read either.
 */
static bool fast_rdata(struct fast_msg *m, uint16_t type, const uint8_t *rd,
		       uint16_t rdlen)
{
	const ldns_rr_descriptor *d = ldns_rr_descript(type);
	size_t pos = 0, n, fields = 0;

	if ((type == TYPE_A && rdlen != 4) || (type == TYPE_AAAA && rdlen != 16))
		return false;
	if (d == NULL || d->_compress != LDNS_RR_COMPRESS)
		return fast_put(m, rd, rdlen);
	while (pos < rdlen) {
		switch (ldns_rr_descriptor_field_type(d, fields)) {
		case LDNS_RDF_TYPE_DNAME:
			n = wire_name_len(rd + pos, rdlen - pos);
			if (n == 0 || !fast_name(m, rd + pos))
				return false;
			pos += n;
			fields++;
			continue;
		case LDNS_RDF_TYPE_INT8:
			n = 1;
			break;
		case LDNS_RDF_TYPE_INT16:
			n = 2;
			break;
		case LDNS_RDF_TYPE_INT32:
		case LDNS_RDF_TYPE_PERIOD:
			n = 4;
			break;
		default:
			return false;
		}
		if (rdlen - pos < n || !fast_put(m, rd + pos, n))
			return false;
		pos += n;
		fields++;
	}
	return fields == ldns_rr_descriptor_minimum(d) &&
	       fields <= ldns_rr_descriptor_maximum(d);
}

/* Every record of a stored RRset, owner written as name (compressed). */
static bool fast_rrset(struct fast_msg *m, const uint8_t *owner, uint16_t type,
		       uint32_t ttl, const struct tdns_rrset_view *v,
		       uint16_t *count)
{
	const uint8_t *rdata;
	uint16_t rdlen;
	size_t pos = 0, rdlen_at;

	while (rrset_next(v, &pos, &rdata, &rdlen)) {
		/* The question's name is the first one remembered (offset 12,
		 * RFC 1035 4.1.4); the search would find it there. */
		if (owner == m->qname && m->n_names > 0 && m->names[0] == WIRE_HDR_LEN) {
			if (!fast_put16(m, 0xc000 | WIRE_HDR_LEN))
				return false;
		} else if (!fast_name(m, owner)) {
			return false;
		}
		if (!fast_put16(m, type) ||
		    !fast_put16(m, CLASS_IN) || !fast_put32(m, ttl))
			return false;
		rdlen_at = m->len;
		if (!fast_put16(m, 0) || !fast_rdata(m, type, rdata, rdlen))
			return false;
		m->out[rdlen_at] = (uint8_t)((m->len - rdlen_at - 2) >> 8);
		m->out[rdlen_at + 1] = (uint8_t)(m->len - rdlen_at - 2);
		(*count)++;
	}
	return true;
}

/* The zone SOA of a negative answer, as add_negative_soa puts it. */
static bool fast_negative_soa(struct tdns_txn *t, struct fast_msg *m,
			      const uint8_t *apex, size_t apex_len,
			      uint16_t *count)
{
	struct tdns_rrset_view v;
	uint8_t owner[NAME_WIRE_MAX];
	const uint8_t *rdata;
	uint16_t rdlen;
	size_t pos = 0, wlen = 0;
	uint32_t minimum;

	if (zonedb_get_rrset(t, apex, apex_len, TYPE_SOA, &v) != TDNS_OK ||
	    !rrset_next(&v, &pos, &rdata, &rdlen) || rdlen < SOA_FIXED_LEN + 2 ||
	    name_key_to_wire(apex, apex_len, owner, &wlen) != TDNS_OK)
		return false;
	minimum = dns_rd32(rdata + rdlen - 4);
	return fast_rrset(m, owner, TYPE_SOA, v.ttl < minimum ? v.ttl : minimum,
			  &v, count);
}

/* zc NULL: every lookup goes to the store. */
static bool answer_fast(struct zonedb_cache *zc, struct tdns_txn *t,
			const uint8_t *in, size_t in_len, bool tcp, uint8_t *out,
			size_t cap, size_t *out_len)
{
	struct fast_query fq;
	struct fast_msg m;
	struct auth_step s;
	struct tdns_zone_meta meta;
	struct tdns_rrset_view v;
	uint8_t wkey[NAME_KEY_MAX];
	const uint8_t *qname = in + WIRE_HDR_LEN;
	uint16_t an = 0, ns = 0;
	uint8_t rcode = LDNS_RCODE_NOERROR;
	size_t i, cut_len = 0, wlen;
	unsigned state;
	bool has_cuts = true;
	enum tdns_status st;

	if (!fast_parse(in, in_len, tcp, &fq))
		return false;
	m.out = out;
	m.limit = fq.q.limit < cap ? fq.q.limit : cap;
	m.len = 0;
	m.n_names = 0;
	m.qname = qname;
	/* Header (RFC 1035 4.1.1): ID, QR, AA, RD and CD as the ldns path
	 * sets them; the counts are written at the end. */
	if (!fast_put(&m, in, 4) || !fast_put(&m, "\0\1\0\0\0\0\0\0", 8) ||
	    !fast_put(&m, qname, fq.q.qend - WIRE_HDR_LEN))
		return false;
	out[2] = (uint8_t)(0x80 | 0x04 | (in[2] & 0x01));
	for (i = WIRE_HDR_LEN; qname[i - WIRE_HDR_LEN] != 0;
	     i += (size_t)out[i] + 1) {
		if (!fast_remember(&m, i))
			return false;
	}

	s.owner = NULL;
	s.key = fq.qkey;
	s.klen = fq.qkey_len;
	if (zc != NULL)
		st = zonedb_cache_find(zc, t, s.key, s.klen, &s.apex_len, &meta,
				       &has_cuts);
	else
		st = zonedb_find(t, s.key, s.klen, &s.apex_len, &meta);
	if (st != TDNS_OK)
		return false;
	/* A zone without any NS below its apex has no cut to refer to. */
	if (has_cuts && find_cut(t, &s, fq.q.qtype, &cut_len, &v) != TDNS_ENOTFOUND)
		return false;
	st = zonedb_get_rrset(t, s.key, s.klen, fq.q.qtype, &v);
	if (st == TDNS_OK) {
		if (!fast_rrset(&m, qname, fq.q.qtype, v.ttl, &v, &an))
			return false;
		goto done;
	}
	if (st != TDNS_ENOTFOUND)
		return false;
	/* Any store error declines: the ldns path answers SERVFAIL for it. */
	if (zonedb_name_state(t, s.key, s.klen, &state) != TDNS_OK)
		return false;
	if (state & ZONEDB_NAME_DATA) {
		if (fq.q.qtype != TYPE_CNAME &&
		    zonedb_get_rrset(t, s.key, s.klen, TYPE_CNAME, &v) != TDNS_ENOTFOUND)
			return false;
	} else if ((state & ZONEDB_NAME_CHILDREN) == 0) {
		if (find_wildcard(t, &s, wkey, &wlen) != TDNS_OK || wlen > 0)
			return false;
		rcode = LDNS_RCODE_NXDOMAIN;
	}
	/* NODATA or NXDOMAIN (RFC 2308 2.1, 2.2). */
	if (!fast_negative_soa(t, &m, s.key, s.apex_len, &ns))
		return false;
done:
	if (fq.q.edns) {
		uint8_t opt[WIRE_OPT_LEN];

		wire_put_opt(opt, fq.q.edns_do);
		if (!fast_put(&m, opt, sizeof(opt)))
			return false;
	}
	out[3] = (uint8_t)((in[3] & 0x10) | rcode);
	out[6] = (uint8_t)(an >> 8);
	out[7] = (uint8_t)an;
	out[8] = (uint8_t)(ns >> 8);
	out[9] = (uint8_t)ns;
	out[11] = fq.q.edns ? 1 : 0;
	*out_len = m.len;
	return true;
}

bool auth_answer_fast(struct tdns_txn *t, const uint8_t *in, size_t in_len,
		      bool tcp, uint8_t *out, size_t cap, size_t *out_len)
{
	return answer_fast(NULL, t, in, in_len, tcp, out, cap, out_len);
}

bool auth_answer_fast_cached(struct zonedb_cache *zc, struct tdns_txn *t,
			     const uint8_t *in, size_t in_len, bool tcp,
			     uint8_t *out, size_t cap, size_t *out_len)
{
	return answer_fast(zc, t, in, in_len, tcp, out, cap, out_len);
}

bool auth_answer_cached(struct zonedb_cache *zc, struct tdns_txn *t,
			const struct tdns_auth_cfg *cfg, const uint8_t *in,
			size_t in_len, bool tcp, uint8_t *out, size_t cap,
			size_t *out_len)
{
	if (answer_fast(zc, t, in, in_len, tcp, out, cap, out_len))
		return true;
	return auth_answer_slow(t, cfg, in, in_len, tcp, out, cap, out_len);
}

bool auth_answer(struct tdns_txn *t, const struct tdns_auth_cfg *cfg,
		 const uint8_t *in, size_t in_len, bool tcp, uint8_t *out,
		 size_t cap, size_t *out_len)
{
	return auth_answer_cached(NULL, t, cfg, in, in_len, tcp, out, cap, out_len);
}

