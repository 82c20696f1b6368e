/*
 * tsig.c - TSIG (RFC 8945) through ldns (tsig.h).
 */
#include "tierdns/tsig.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <stdbool.h>
#include <ldns/ldns.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "tierdns/clock.h"
#include "tierdns/log.h"

#define TSIG_FUDGE 300 /* seconds, RFC 8945 10 */

/* TSIG error codes (RFC 8945 3, the TSIG RR's Error field). */
#define TSIG_BADSIG 16
#define TSIG_BADKEY 17
#define TSIG_BADTIME 18

/* What a signed exchange carries from one message to the next. */
struct tsig_state {
	const struct tdns_tsig_key *key;
	ldns_rdf *mac;  /* the last MAC: the query's, then each message's */
	unsigned count; /* messages signed or verified after the query */
};

/* The algorithms a key may name (RFC 8945 6), with their digests. */
static const struct {
	const char *name;
	const EVP_MD *(*md)(void);
} algorithms[] = {
	{ "hmac-md5", EVP_md5 },       { "hmac-sha1", EVP_sha1 },
	{ "hmac-sha224", EVP_sha224 }, { "hmac-sha256", EVP_sha256 },
	{ "hmac-sha384", EVP_sha384 }, { "hmac-sha512", EVP_sha512 },
};

const char *tsig_key_check(const char *algorithm, const char *secret)
{
	ldns_rdf *r;
	bool known = false;

	for (size_t i = 0; i < sizeof(algorithms) / sizeof(algorithms[0]); i++)
		known = known || strcasecmp(algorithm, algorithms[i].name) == 0;
	if (!known)
		return "unknown algorithm (hmac-sha256, hmac-sha384, hmac-sha512, "
		       "hmac-sha224, hmac-sha1, hmac-md5)";
	r = ldns_rdf_new_frm_str(LDNS_RDF_TYPE_B64, secret);
	if (r == NULL)
		return "the secret is not base64";
	ldns_rdf_deep_free(r);
	return NULL;
}

/* ldns names the algorithms by their domain names. */
static const char *ldns_alg(const char *algorithm)
{
	return strcasecmp(algorithm, "hmac-md5") == 0 ? "hmac-md5.sig-alg.reg.int."
							: algorithm;
}

static struct tsig_state *state_new(const struct tdns_tsig_key *key, const ldns_rr *tsig)
{
	struct tsig_state *st = calloc(1, sizeof(*st));

	if (st == NULL)
		return NULL;
	st->key = key;
	if (tsig != NULL && ldns_rr_rd_count(tsig) > 3 && ldns_rr_rdf(tsig, 3) != NULL) {
		st->mac = ldns_rdf_clone(ldns_rr_rdf(tsig, 3));
		if (st->mac == NULL) {
			free(st);
			return NULL;
		}
	}
	return st;
}

/* RFC 8945 5.2.3: the time signed within fudge of ours (ldns checks the
 * MAC only). */
static bool time_ok(const ldns_rr *tsig)
{
	const ldns_rdf *t = ldns_rr_rdf(tsig, 1), *f = ldns_rr_rdf(tsig, 2);
	const uint8_t *d;
	uint64_t signed_at, now = clock_now(), fudge;

	if (t == NULL || f == NULL || ldns_rdf_size(t) != 6 || ldns_rdf_size(f) != 2)
		return false;
	d = ldns_rdf_data(t);
	signed_at = (uint64_t)d[0] << 40 | (uint64_t)d[1] << 32 | (uint64_t)d[2] << 24 |
		    (uint64_t)d[3] << 16 | (uint64_t)d[4] << 8 | d[5];
	fudge = ldns_rdf2native_int16(f);
	return signed_at <= now + fudge && now <= signed_at + fudge;
}

/* The key of the TSIG record's owner among keys, or NULL. */
static const struct tdns_tsig_key *find_key(const ldns_rr *tsig,
					    const struct tdns_tsig_key *keys, unsigned n)
{
	ldns_rdf *name;
	const struct tdns_tsig_key *k = NULL;

	for (unsigned i = 0; i < n && k == NULL; i++) {
		name = ldns_dname_new_frm_str(keys[i].name);
		if (name != NULL && ldns_dname_compare(name, ldns_rr_owner(tsig)) == 0)
			k = &keys[i];
		ldns_rdf_deep_free(name);
	}
	return k;
}

enum tsig_verdict tsig_check(const uint8_t *msg, size_t len,
			     const struct tdns_tsig_key *keys, unsigned n,
			     const struct tdns_tsig_key **key, struct tsig_state **st)
{
	ldns_pkt *p = NULL;
	const ldns_rr *tsig;
	const struct tdns_tsig_key *k;
	enum tsig_verdict v = TSIG_BAD;

	*key = NULL;
	if (st != NULL)
		*st = NULL;
	if (ldns_wire2pkt(&p, msg, len) != LDNS_STATUS_OK)
		return TSIG_BAD;
	tsig = ldns_pkt_tsig(p);
	if (tsig == NULL) {
		v = TSIG_NONE;
		goto out;
	}
	k = find_key(tsig, keys, n);
	if (k == NULL || ldns_rr_rd_count(tsig) < 3 || !time_ok(tsig) ||
	    !ldns_pkt_tsig_verify(p, msg, len, k->name, k->secret, NULL))
		goto out;
	if (st != NULL && (*st = state_new(k, tsig)) == NULL)
		goto out;
	*key = k;
	v = TSIG_OK;
out:
	ldns_pkt_free(p);
	return v;
}

/* Sign p (a message of the exchange) and write it back into msg. */
static enum tdns_status sign_pkt(struct tsig_state *st, ldns_pkt *p, uint8_t *msg,
				 size_t *len, size_t cap)
{
	uint8_t *wire = NULL;
	size_t wlen = 0;
	ldns_rr *tsig;
	enum tdns_status ret = TDNS_EINVAL;

	if (ldns_pkt_tsig_sign_next(p, st->key->name, st->key->secret, TSIG_FUDGE,
				    ldns_alg(st->key->algorithm), st->mac,
				    st->mac != NULL && st->count > 0) != LDNS_STATUS_OK)
		goto out;
	if (ldns_pkt2wire(&wire, p, &wlen) != LDNS_STATUS_OK)
		goto out;
	if (wlen > cap) {
		ret = TDNS_ESPACE;
		goto out;
	}
	memcpy(msg, wire, wlen);
	*len = wlen;
	tsig = ldns_pkt_tsig(p);
	ldns_rdf_deep_free(st->mac);
	st->mac = tsig != NULL ? ldns_rdf_clone(ldns_rr_rdf(tsig, 3)) : NULL;
	st->count++;
	ret = st->mac != NULL ? TDNS_OK : TDNS_ENOMEM;
out:
	LDNS_FREE(wire);
	return ret;
}

enum tdns_status tsig_sign(struct tsig_state *st, uint8_t *msg, size_t *len, size_t cap)
{
	ldns_pkt *p = NULL;
	enum tdns_status ret;

	if (ldns_wire2pkt(&p, msg, *len) != LDNS_STATUS_OK)
		return TDNS_EINVAL;
	/* RFC 8945 5.3.1: the first answer covers the query's MAC and all
	 * its variables; the later ones the MAC before and the timers. */
	ret = sign_pkt(st, p, msg, len, cap);
	ldns_pkt_free(p);
	return ret;
}

void tsig_state_free(struct tsig_state *st)
{
	if (st == NULL)
		return;
	ldns_rdf_deep_free(st->mac);
	free(st);
}

enum tdns_status tsig_sign_query(const struct tdns_tsig_key *key, uint8_t *msg,
				 size_t *len, size_t cap, struct tsig_state **out)
{
	struct tsig_state *st;
	ldns_pkt *p = NULL;
	enum tdns_status ret;

	*out = NULL;
	st = state_new(key, NULL);
	if (st == NULL)
		return TDNS_ENOMEM;
	if (ldns_wire2pkt(&p, msg, *len) != LDNS_STATUS_OK) {
		tsig_state_free(st);
		return TDNS_EINVAL;
	}
	ret = sign_pkt(st, p, msg, len, cap);
	ldns_pkt_free(p);
	if (ret != TDNS_OK) {
		tsig_state_free(st);
		return ret;
	}
	st->count = 0; /* the answer's first message covers all variables */
	*out = st;
	return TDNS_OK;
}

bool tsig_verify_next(struct tsig_state *st, const uint8_t *msg, size_t len)
{
	ldns_pkt *p = NULL;
	const ldns_rr *tsig;
	bool ok = false;

	if (ldns_wire2pkt(&p, msg, len) != LDNS_STATUS_OK)
		return false;
	tsig = ldns_pkt_tsig(p);
	/* RFC 8945 5.3.1: every message may be signed, at least every 100th
	 * must be; an unsigned one in between is accepted. */
	if (tsig == NULL) {
		ok = st->count > 0;
		goto out;
	}
	if (ldns_rr_rd_count(tsig) < 3 || !time_ok(tsig) ||
	    !ldns_pkt_tsig_verify_next(p, msg, len, st->key->name, st->key->secret,
				       st->mac, st->count > 0))
		goto out;
	ldns_rdf_deep_free(st->mac);
	st->mac = ldns_rdf_clone(ldns_rr_rdf(tsig, 3));
	st->count++;
	ok = st->mac != NULL;
out:
	ldns_pkt_free(p);
	return ok;
}

/* The TSIG error a query's bad TSIG deserves (RFC 8945 5.2): BADKEY for
 * a key we do not hold, BADSIG for a MAC that does not verify, BADTIME
 * for a good MAC signed too far from our time. */
static uint16_t query_error(ldns_pkt *q, const uint8_t *msg, size_t len,
			    const struct tdns_tsig_key *keys, unsigned n,
			    const struct tdns_tsig_key **key)
{
	const ldns_rr *tsig = ldns_pkt_tsig(q);
	const struct tdns_tsig_key *k = find_key(tsig, keys, n);

	*key = k;
	if (k == NULL)
		return TSIG_BADKEY;
	if (ldns_rr_rd_count(tsig) < 3 ||
	    !ldns_pkt_tsig_verify(q, msg, len, k->name, k->secret, NULL))
		return TSIG_BADSIG;
	return time_ok(tsig) ? TSIG_BADSIG : TSIG_BADTIME;
}

/* Do two domain names in text say the same, the final dot aside? */
static bool same_name(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	la -= la > 0 && a[la - 1] == '.';
	lb -= lb > 0 && b[lb - 1] == '.';
	return la == lb && strncasecmp(a, b, la) == 0;
}

/* The digest of a TSIG RR's algorithm name (the domain name ldns_alg
 * gives a key's algorithm), or NULL. */
static const EVP_MD *hmac_md(const ldns_rdf *alg)
{
	char *name = ldns_rdf2str(alg);
	const EVP_MD *md = NULL;

	for (size_t i = 0; name != NULL && i < sizeof(algorithms) / sizeof(algorithms[0]); i++)
		if (same_name(name, ldns_alg(algorithms[i].name)))
			md = algorithms[i].md();
	free(name);
	return md;
}

/* Append the canonical (lower-case) wire form of a name. */
static bool put_name(ldns_buffer *b, const ldns_rdf *name)
{
	ldns_rdf *c = ldns_rdf_clone(name);
	bool ok = c != NULL;

	if (ok) {
		ldns_dname2canonical(c);
		ldns_buffer_write(b, ldns_rdf_data(c), ldns_rdf_size(c));
	}
	ldns_rdf_deep_free(c);
	return ok;
}

/*
 * The MAC of an error answer signed with key k (RFC 8945 4.3.3, 5.3):
 * over the request's MAC, the answer wire[0..len) (its TSIG not yet in
 * it) and the variables of rr, the TSIG RR it gets (owner, class ANY, TTL
 * 0, algorithm, time signed, fudge, error, other data): into *mac, an
 * INT16_DATA rdf (size, then the MAC). ldns signs only answers whose
 * error is 0, so this is done here with OpenSSL's HMAC, which ldns uses.
 */
static bool error_mac(const struct tdns_tsig_key *k, const ldns_rdf *req_mac,
		      const uint8_t *wire, size_t len, const ldns_rr *rr, ldns_rdf **mac)
{
	const EVP_MD *md = hmac_md(ldns_rr_rdf(rr, 0));
	uint8_t out[EVP_MAX_MD_SIZE + 2];
	unsigned int out_len = 0;
	ldns_buffer *b = ldns_buffer_new(len + 512);
	ldns_rdf *secret = ldns_rdf_new_frm_str(LDNS_RDF_TYPE_B64, k->secret);
	bool ok;

	*mac = NULL;
	ok = md != NULL && b != NULL && secret != NULL;
	if (ok) {
		ldns_buffer_write(b, ldns_rdf_data(req_mac), ldns_rdf_size(req_mac));
		ldns_buffer_write(b, wire, len);
		ok = put_name(b, ldns_rr_owner(rr));
		ldns_buffer_write_u16(b, LDNS_RR_CLASS_ANY);
		ldns_buffer_write_u32(b, 0);
		ok = ok && put_name(b, ldns_rr_rdf(rr, 0));
		/* time signed, fudge, error, other data: not the MAC (3) and
		 * the original ID (4) */
		for (size_t i = 1; ok && i <= 6; i++)
			if (i != 3 && i != 4)
				ldns_buffer_write(b, ldns_rdf_data(ldns_rr_rdf(rr, i)),
						  ldns_rdf_size(ldns_rr_rdf(rr, i)));
		ok = ok && ldns_buffer_status_ok(b) &&
		     HMAC(md, ldns_rdf_data(secret), (int)ldns_rdf_size(secret),
			  ldns_buffer_begin(b), ldns_buffer_position(b), out + 2,
			  &out_len) != NULL;
	}
	if (ok) {
		out[0] = (uint8_t)(out_len >> 8);
		out[1] = (uint8_t)out_len;
		*mac = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_INT16_DATA, out_len + 2, out);
		ok = *mac != NULL;
	}
	if (secret != NULL)
		OPENSSL_cleanse(ldns_rdf_data(secret), ldns_rdf_size(secret));
	ldns_rdf_deep_free(secret);
	ldns_buffer_free(b);
	return ok;
}

/* A 48-bit time as ldns's TSIGTIME rdf. */
static ldns_rdf *time_rdf(ldns_rdf_type type, uint64_t t)
{
	uint8_t d[6] = { (uint8_t)(t >> 40), (uint8_t)(t >> 32), (uint8_t)(t >> 24),
			 (uint8_t)(t >> 16), (uint8_t)(t >> 8), (uint8_t)t };

	return ldns_rdf_new_frm_data(type, sizeof(d), d);
}

enum tdns_status tsig_error_reply(const uint8_t *query, size_t qlen,
				  const struct tdns_tsig_key *keys, unsigned n,
				  uint8_t *msg, size_t *len, size_t cap)
{
	ldns_pkt *q = NULL, *a = NULL;
	ldns_rr *rr = NULL;
	ldns_rdf *mac = NULL;
	const struct tdns_tsig_key *k = NULL;
	uint8_t *wire = NULL, empty[2] = { 0, 0 }, other[8];
	size_t wlen = 0;
	uint16_t error;
	uint64_t now = clock_now();
	enum tdns_status ret = TDNS_EINVAL;
	bool ok;

	if (ldns_wire2pkt(&q, query, qlen) != LDNS_STATUS_OK || ldns_pkt_tsig(q) == NULL ||
	    ldns_rr_rd_count(ldns_pkt_tsig(q)) < 1 ||
	    ldns_wire2pkt(&a, msg, *len) != LDNS_STATUS_OK)
		goto out;
	error = query_error(q, query, qlen, keys, n, &k);
	/* RFC 8945 5.2: NOTAUTH, and nothing of the zone. */
	ldns_pkt_set_rcode(a, LDNS_RCODE_NOTAUTH);
	ldns_pkt_set_aa(a, false);
	ldns_rr_list_deep_free(ldns_pkt_answer(a));
	ldns_rr_list_deep_free(ldns_pkt_authority(a));
	ldns_rr_list_deep_free(ldns_pkt_additional(a));
	ldns_pkt_set_answer(a, ldns_rr_list_new());
	ldns_pkt_set_authority(a, ldns_rr_list_new());
	ldns_pkt_set_additional(a, ldns_rr_list_new());
	ldns_pkt_set_ancount(a, 0);
	ldns_pkt_set_nscount(a, 0);
	ldns_pkt_set_arcount(a, 0);
	/* The error goes unsigned (RFC 8945 5.3.2: MAC size 0), but BADTIME
	 * (the MAC was good) is signed with the query's key, carries the
	 * query's time signed and our time as Other Data (5.2.3, 5.3.2; as
	 * BIND and Knot do), so that the client can trust our time. */
	rr = ldns_rr_new(); /* (_frm_type would hold empty rdata fields) */
	if (rr == NULL)
		goto nomem;
	ldns_rr_set_type(rr, LDNS_RR_TYPE_TSIG);
	ldns_rr_set_owner(rr, ldns_rdf_clone(ldns_rr_owner(ldns_pkt_tsig(q))));
	ldns_rr_set_class(rr, LDNS_RR_CLASS_ANY);
	ldns_rr_set_ttl(rr, 0);
	other[0] = 0;
	other[1] = error == TSIG_BADTIME ? 6 : 0;
	for (int i = 0; i < 6; i++)
		other[2 + i] = (uint8_t)(now >> (40 - 8 * i));
	ok = ldns_rr_push_rdf(rr, ldns_rdf_clone(ldns_rr_rdf(ldns_pkt_tsig(q), 0))) &&
	     ldns_rr_push_rdf(rr, error == TSIG_BADTIME
					  ? ldns_rdf_clone(ldns_rr_rdf(ldns_pkt_tsig(q), 1))
					  : time_rdf(LDNS_RDF_TYPE_TSIGTIME, now)) &&
	     ldns_rr_push_rdf(rr, ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16, TSIG_FUDGE)) &&
	     ldns_rr_push_rdf(rr, ldns_rdf_new_frm_data(LDNS_RDF_TYPE_INT16_DATA, 2, empty)) &&
	     ldns_rr_push_rdf(rr, ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16,
							ldns_pkt_id(q))) &&
	     ldns_rr_push_rdf(rr, ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16, error)) &&
	     ldns_rr_push_rdf(rr, ldns_rdf_new_frm_data(LDNS_RDF_TYPE_INT16_DATA,
							(size_t)2 + other[1], other));
	if (!ok)
		goto nomem;
	for (size_t i = 0; i < ldns_rr_rd_count(rr); i++)
		if (ldns_rr_rdf(rr, i) == NULL)
			goto nomem;
	if (error == TSIG_BADTIME) {
		/* the answer without its TSIG, which the MAC covers */
		if (ldns_pkt2wire(&wire, a, &wlen) != LDNS_STATUS_OK ||
		    ldns_rr_rd_count(ldns_pkt_tsig(q)) < 4 ||
		    !error_mac(k, ldns_rr_rdf(ldns_pkt_tsig(q), 3), wire, wlen, rr, &mac))
			goto nomem;
		ldns_rdf_deep_free(ldns_rr_set_rdf(rr, mac, 3));
		LDNS_FREE(wire);
		wire = NULL;
	}
	ldns_pkt_set_tsig(a, rr);
	rr = NULL;
	if (ldns_pkt2wire(&wire, a, &wlen) != LDNS_STATUS_OK)
		goto out;
	if (wlen > cap) {
		ret = TDNS_ESPACE;
		goto out;
	}
	memcpy(msg, wire, wlen);
	*len = wlen;
	ret = TDNS_OK;
	goto out;
nomem:
	ret = TDNS_ENOMEM;
out:
	LDNS_FREE(wire);
	ldns_rr_free(rr);
	ldns_pkt_free(a);
	ldns_pkt_free(q);
	return ret;
}
