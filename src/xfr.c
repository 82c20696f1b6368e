/*
 * xfr.c - outgoing zone transfers (xfr.h).
 */
#include "tierdns/xfr.h"

#include <stdlib.h>
#include <string.h>

#include <stdbool.h>
#include <ldns/ldns.h>

#include "tierdns/dnsproto.h"
#include "tierdns/encode.h"
#include "tierdns/journal.h"
#include "tierdns/log.h"
#include "tierdns/name.h"
#include "tierdns/zonedb.h"

/* Bytes of records per message: the wire size of the records, counted
 * without compression (an upper bound), leaves room for the header, the
 * question and an OPT under the 65535 of a TCP message. */
#define XFR_BUDGET 60000u
#define XFR_JOURNAL_STEPS 100000u /* diffs followed at most (a loop guard) */

enum phase {
	PH_SOA_FIRST = 0,
	PH_RR,      /* the zone's RRsets (AXFR) */
	PH_CUTS,    /* its delegations to zones held here (AXFR) */
	PH_NSEC3,   /* its NSEC3 chain (AXFR) */
	PH_DIFFS,   /* journal diffs (IXFR) */
	PH_SOA_LAST,
	PH_DONE,
};

struct xfr_out {
	struct tdns_txn *t;
	uint8_t *msg;
	struct tdns_qctx q;
	uint16_t rcode;        /* not NOERROR: one message with it */
	bool ixfr;
	enum phase phase;
	uint8_t apex[NAME_KEY_MAX];
	size_t apex_len;
	uint8_t apex_wire[NAME_WIRE_MAX];
	struct tdns_rrset_view soa;
	uint32_t serial;
	/* Where the walk resumes: the last record key (PH_RR, PH_CUTS) or owner key
	 * (PH_NSEC3) sent; len 0: from the start. */
	uint8_t last[RECORD_KEY_MAX];
	size_t last_len;
	/* PH_DIFFS: the diff being sent and the position in it. */
	struct journal_diff diff;
	size_t pos;
	/* The message being filled. */
	struct tdns_answer a;
	size_t used;
	bool full;
	enum tdns_status st;
	/* The owner names of the message's RRsets, one after the other: each
	 * is counted in used at least once, so the budget bounds them. */
	uint8_t owners[XFR_BUDGET + 4000u + NAME_WIRE_MAX];
	size_t owners_len;
	struct tsig_state *tsig; /* a signed query: sign every message */
};

static int key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	return c != 0 ? c : (alen > blen) - (alen < blen);
}

/* Room for an entry of n bytes (uncompressed wire) and k descriptor
 * entries in the message being filled; an empty message takes anything
 * that can be sent at all. */
static bool room(struct xfr_out *x, size_t n, size_t k)
{
	if (x->a.n + k > ANS_MAX_RRSETS)
		return false;
	if (x->a.n == 0)
		return n <= XFR_BUDGET + 4000u;
	return x->used + n <= XFR_BUDGET;
}

static size_t view_wire(const struct tdns_rrset_view *v, size_t olen)
{
	size_t n = (size_t)v->count * (olen + 8) + v->data_len;

	if (v->sig_count > 0)
		n += (size_t)v->sig_count * (olen + 8) + v->sig_len;
	return n;
}

/* Add the RRset v (and its signatures) owned by the wire name owner. */
static void add_rrset(struct xfr_out *x, const uint8_t *owner, uint16_t type,
		      const struct tdns_rrset_view *v, size_t wire)
{
	answer_add(&x->a, ANS_ANSWER, owner, type, DNS_CLASS_IN, v->ttl,
		   ANS_REC_PACKED, v->count, v->data, v->data_len);
	if (v->sig_count > 0) {
		answer_add(&x->a, ANS_ANSWER, owner, DNS_TYPE_RRSIG, DNS_CLASS_IN,
			   v->sig_ttl, ANS_REC_PACKED, v->sig_count, v->sig_data,
			   v->sig_len);
	}
	x->used += wire;
}

static bool add_soa(struct xfr_out *x)
{
	struct tdns_rrset_view soa = x->soa;
	size_t olen = qctx_name_len(x->apex_wire, sizeof(x->apex_wire));

	/* The SOA that opens and closes a transfer goes without its
	 * signatures the second time: RFC 5936 2.2 asks for the SOA record. */
	if (x->phase == PH_SOA_LAST)
		soa.sig_count = 0;
	if (!room(x, view_wire(&soa, olen), 2))
		return false;
	add_rrset(x, x->apex_wire, DNS_TYPE_SOA, &soa, view_wire(&soa, olen));
	return true;
}

/* One RRset of the walk (PH_RR), of the delegations (PH_CUTS) or of the
 * NSEC3 chain (PH_NSEC3). */
static int walk_cb(void *ctx, const uint8_t *key, size_t klen, uint16_t type,
		   const struct tdns_rrset_view *v)
{
	struct xfr_out *x = ctx;
	uint8_t rk[RECORD_KEY_MAX];
	size_t rklen, olen, wire;
	uint8_t *owner = x->owners + x->owners_len;

	if (x->phase != PH_NSEC3) {
		/* The apex SOA opens and closes the transfer. */
		if (type == DNS_TYPE_SOA && klen == x->apex_len)
			return 0;
		rklen = name_record_key(key, klen, type, rk);
	} else {
		memcpy(rk, key, klen);
		rklen = klen;
	}
	if (x->last_len > 0 && key_cmp(rk, rklen, x->last, x->last_len) <= 0)
		return 0; /* sent in an earlier message */
	if (x->a.n >= ANS_MAX_RRSETS - 1 ||
	    name_key_to_wire(key, klen, owner, &olen) != TDNS_OK) {
		x->full = x->a.n > 0;
		if (!x->full)
			x->st = TDNS_EINVAL;
		return 1;
	}
	wire = view_wire(v, olen);
	if (!room(x, wire, v->sig_count > 0 ? 2 : 1)) {
		x->full = x->a.n > 0;
		if (!x->full)
			x->st = TDNS_ESPACE;
		return 1;
	}
	add_rrset(x, owner, type, v, wire);
	x->owners_len += olen;
	memcpy(x->last, rk, rklen);
	x->last_len = rklen;
	return 0;
}

/* Records of the journal's diffs from x->diff on, until the message is
 * full or the last diff is sent; x->st says when a diff could not be read. */
static void fill_diffs(struct xfr_out *x)
{
	struct journal_rr rr;
	size_t pos, olen, wire;

	for (;;) {
		pos = x->pos;
		while (journal_next(&x->diff, &pos, &rr)) {
			olen = qctx_name_len(rr.owner, NAME_WIRE_MAX);
			wire = olen + 10 + rr.rdlen;
			if (!room(x, wire, 1)) {
				x->full = true;
				return;
			}
			answer_add(&x->a, ANS_ANSWER, rr.owner, rr.type, DNS_CLASS_IN,
				   rr.ttl, ANS_REC_PACKED, 1, rr.rd, (size_t)rr.rdlen + 2);
			x->used += wire;
			x->pos = pos;
		}
		if (x->diff.to == x->serial) {
			x->phase = PH_SOA_LAST;
			return;
		}
		x->st = journal_get(x->t, x->apex, x->apex_len, x->diff.to, &x->diff);
		if (x->st != TDNS_OK)
			return;
		x->pos = 0;
	}
}

/* Fill x->a with the next message's records. */
static void fill(struct xfr_out *x)
{
	int stop;

	answer_reset(&x->a);
	x->a.aa = true;
	x->used = 0;
	x->owners_len = 0;
	x->full = false;
	while (!x->full && x->st == TDNS_OK && x->phase != PH_DONE) {
		switch (x->phase) {
		case PH_SOA_FIRST:
		case PH_SOA_LAST:
			if (!add_soa(x)) {
				x->full = true;
				break;
			}
			if (x->phase == PH_SOA_LAST)
				x->phase = PH_DONE;
			else if (!x->ixfr)
				x->phase = PH_RR;
			else /* an up-to-date client gets the SOA alone */
				x->phase = x->diff.len > 0 ? PH_DIFFS : PH_DONE;
			break;
		case PH_RR:
			x->st = zonedb_walk_from(x->t, x->apex, x->apex_len,
						 x->last_len ? x->last : NULL, x->last_len,
						 walk_cb, x, &stop);
			if (x->st == TDNS_OK && !x->full) {
				x->phase = PH_CUTS;
				x->last_len = 0;
			}
			break;
		case PH_CUTS:
			/* The store keeps the NS and glue at a cut as the
			 * deeper zone's data: a secondary of this zone needs
			 * them as its own. */
			x->st = zonedb_cut_walk(x->t, x->apex, x->apex_len, walk_cb, x, &stop);
			if (x->st == TDNS_OK && !x->full) {
				x->phase = PH_NSEC3;
				x->last_len = 0;
			}
			break;
		case PH_NSEC3:
			x->st = zonedb_denial_walk_from(x->t, x->apex, x->apex_len,
							ZONEDB_NSEC3,
							x->last_len ? x->last : NULL,
							x->last_len, walk_cb, x, &stop);
			if (x->st == TDNS_OK && !x->full)
				x->phase = PH_SOA_LAST;
			break;
		case PH_DIFFS:
			fill_diffs(x);
			break;
		case PH_DONE:
			break;
		}
	}
}

bool xfr_next(void *arg, uint8_t *out, size_t *len)
{
	struct xfr_out *x = arg;
	enum tdns_status st;

	*len = 0;
	if (x->rcode == DNS_RCODE_NOERROR) {
		fill(x);
		if (x->st != TDNS_OK) {
			log_err("zone transfer: %s; ending it with SERVFAIL",
				tdns_strerror(x->st));
			x->rcode = DNS_RCODE_SERVFAIL;
		}
	}
	if (x->rcode != DNS_RCODE_NOERROR) {
		/* RFC 5936 2.2: an error ends the transfer. */
		answer_reset(&x->a);
		x->a.rcode = x->rcode;
		x->phase = PH_DONE;
	}
	st = encode_reply(&x->q, &x->a, out, QCTX_MAX_MSG, len);
	if (st != TDNS_OK || x->a.tc) {
		log_err("zone transfer: a message does not encode (%s)",
			tdns_strerror(st != TDNS_OK ? st : TDNS_ESPACE));
		*len = 0;
		return false;
	}
	if (x->tsig != NULL && (st = tsig_sign(x->tsig, out, len, QCTX_MAX_MSG)) != TDNS_OK) {
		log_err("zone transfer: TSIG signing: %s", tdns_strerror(st));
		*len = 0;
		return false;
	}
	return x->phase != PH_DONE;
}

bool xfr_ixfr_serial(const uint8_t *msg, size_t len, uint32_t *serial)
{
	ldns_pkt *p = NULL;
	ldns_rr_list *auth;
	ldns_rr *rr;
	bool ok = false;

	if (ldns_wire2pkt(&p, msg, len) != LDNS_STATUS_OK)
		return false;
	auth = ldns_pkt_authority(p);
	if (auth != NULL && ldns_rr_list_rr_count(auth) == 1) {
		rr = ldns_rr_list_rr(auth, 0);
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA && ldns_rr_rd_count(rr) >= 3 &&
		    ldns_rr_rdf(rr, 2) != NULL) {
			*serial = ldns_rdf2native_int32(ldns_rr_rdf(rr, 2));
			ok = true;
		}
	}
	ldns_pkt_free(p);
	return ok;
}

/* The zone at q's name: its apex, SOA and serial into x. NOTAUTH when
 * none has its apex there, SERVFAIL on a store error. */
static uint16_t find_apex(struct tdns_txn *t, const struct tdns_qctx *q, uint8_t *apex,
			  size_t *apex_len, struct tdns_rrset_view *soa, uint32_t *serial)
{
	struct tdns_zone_meta m;
	size_t alen;
	enum tdns_status st;

	st = zonedb_find(t, q->qkey, q->qkey_len, &alen, &m);
	if (st == TDNS_ENOTFOUND || (st == TDNS_OK && alen != q->qkey_len))
		return DNS_RCODE_NOTAUTH;
	if (st == TDNS_OK)
		st = zonedb_get_rrset(t, q->qkey, alen, DNS_TYPE_SOA, soa);
	if (st != TDNS_OK) {
		log_err("zone transfer: the zone's SOA: %s", tdns_strerror(st));
		return DNS_RCODE_SERVFAIL;
	}
	memcpy(apex, q->qkey, alen);
	*apex_len = alen;
	*serial = m.serial;
	return DNS_RCODE_NOERROR;
}

/* The journal reaches from the client's serial to ours: x->diff is its
 * first diff. */
static bool journal_reaches(struct xfr_out *x, uint32_t from)
{
	struct journal_diff d;
	uint32_t s = from, n;

	for (n = 0; n < XFR_JOURNAL_STEPS && s != x->serial; n++) {
		if (journal_get(x->t, x->apex, x->apex_len, s, &d) != TDNS_OK)
			return false;
		if (n == 0)
			x->diff = d;
		s = d.to;
	}
	return s == x->serial && n > 0;
}

enum tdns_status xfr_start(struct tdns_store *s, const uint8_t *msg, size_t len,
			   const struct tdns_tsig_key *keys, unsigned n_keys,
			   struct xfr_out **out)
{
	const struct tdns_tsig_key *key;
	struct xfr_out *x;
	enum tdns_status st;
	uint32_t client;

	*out = NULL;
	x = calloc(1, sizeof(*x));
	if (x == NULL || (x->msg = malloc(len > 0 ? len : 1)) == NULL) {
		free(x);
		return TDNS_ENOMEM;
	}
	memcpy(x->msg, msg, len);
	x->q.transport = QCTX_TCP;
	*out = x;
	if (qctx_parse(&x->q, x->msg, len) != QCTX_OK ||
	    (x->q.qtype != DNS_TYPE_AXFR && x->q.qtype != DNS_TYPE_IXFR)) {
		x->rcode = DNS_RCODE_FORMERR;
		return TDNS_OK;
	}
	x->ixfr = x->q.qtype == DNS_TYPE_IXFR;
	if (tsig_check(x->msg, len, keys, n_keys, &key, &x->tsig) == TSIG_BAD) {
		x->rcode = DNS_RCODE_NOTAUTH;
		return TDNS_OK;
	}
	st = store_begin(s, false, &x->t);
	if (st != TDNS_OK) {
		log_err("zone transfer: store snapshot: %s", tdns_strerror(st));
		x->rcode = DNS_RCODE_SERVFAIL;
		return TDNS_OK;
	}
	x->rcode = find_apex(x->t, &x->q, x->apex, &x->apex_len, &x->soa, &x->serial);
	if (x->rcode != DNS_RCODE_NOERROR)
		return TDNS_OK;
	if (name_key_to_wire(x->apex, x->apex_len, x->apex_wire, &len) != TDNS_OK) {
		x->rcode = DNS_RCODE_SERVFAIL;
		return TDNS_OK;
	}
	if (x->ixfr) {
		if (!xfr_ixfr_serial(x->msg, x->q.len, &client)) {
			x->rcode = DNS_RCODE_FORMERR;
			return TDNS_OK;
		}
		/* diff.len 0 and to 0: up to date, the SOA alone. */
		if (zonedb_serial_gt(x->serial, client) && !journal_reaches(x, client))
			x->ixfr = false; /* RFC 1995 4: the whole zone */
	}
	return TDNS_OK;
}

void xfr_free(void *arg)
{
	struct xfr_out *x = arg;

	if (x == NULL)
		return;
	store_abort(x->t);
	tsig_state_free(x->tsig);
	free(x->msg);
	free(x);
}

const char *xfr_kind(const struct xfr_out *x)
{
	if (x->rcode != DNS_RCODE_NOERROR)
		return "refused transfer";
	if (x->q.qtype == DNS_TYPE_AXFR)
		return "AXFR";
	return x->ixfr ? "IXFR" : "IXFR (the whole zone)";
}

void xfr_udp_ixfr(struct tdns_txn *t, const struct tdns_qctx *q,
		  struct tdns_answer *a)
{
	uint8_t apex[NAME_KEY_MAX];
	size_t apex_len;
	struct tdns_rrset_view soa;
	uint32_t serial, client;

	a->rcode = find_apex(t, q, apex, &apex_len, &soa, &serial);
	if (a->rcode != DNS_RCODE_NOERROR)
		return;
	if (!xfr_ixfr_serial(q->msg, q->len, &client)) {
		a->rcode = DNS_RCODE_FORMERR;
		return;
	}
	a->aa = true;
	if (zonedb_serial_gt(serial, client)) {
		a->tc = true;
		return;
	}
	answer_add(a, ANS_ANSWER, NULL, DNS_TYPE_SOA, DNS_CLASS_IN, soa.ttl,
		   ANS_REC_PACKED, soa.count, soa.data, soa.data_len);
}
