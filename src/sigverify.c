/*
 * sigverify.c - RRSIG verification with the keys kept per thread
 * (sigverify.h).
 *
 * ldns_verify_rrsig_keylist_time turns the DNSKEY into a new EVP_PKEY for
 * every signature it checks; under OpenSSL 3 building that key (an EC_KEY
 * with its group, exported to the provider at verify time) costs about a
 * third of a P-256 verification. The key is made once here and kept.
 */
#include "tierdns/sigverify.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>

/* The largest DNSKEY rdata kept (a 4096-bit RSA key is 4 + 3 + 512). */
/* The Zone Key flag (RFC 4034 2.1.1: bit 7 of the DNSKEY flags) in their
 * first byte: a DNSKEY without it MUST NOT verify RRSIGs (RFC 4035
 * 5.3.1). ldns does not check it; Unbound does. */
#define ZONE_KEY_FLAG_HI 0x01
/* A DNSKEY whose Protocol is not 3 is invalid for verification (RFC 4034
 * 2.1.2; Unbound checks it, ldns does not). */
#define DNSKEY_PROTOCOL 3
#define KEY_RDATA_MAX 1024

struct kept_key {
	uint64_t hash;
	EVP_PKEY *pkey;
	/* RSA and ECDSA: pkey's context set up to verify a digest, reused
	 * (EVP_PKEY_verify keeps no state between calls); NULL for Ed25519,
	 * which signs the message itself */
	EVP_PKEY_CTX *vctx;
	uint16_t len;
	uint8_t rdata[KEY_RDATA_MAX]; /* the DNSKEY rdata: flags, protocol, algorithm, key */
};

struct key_cache {
	struct kept_key *keys[SIGVERIFY_CACHE_KEYS];
	unsigned n, next; /* next: the entry replaced when all are taken */
	unsigned long made, to_ldns;
};

static _Thread_local struct key_cache *cache;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static pthread_key_t cache_key;

static void cache_destroy(void *p)
{
	struct key_cache *c = p;

	if (c == NULL)
		return;
	for (unsigned i = 0; i < c->n; i++) {
		EVP_PKEY_CTX_free(c->keys[i]->vctx);
		EVP_PKEY_free(c->keys[i]->pkey);
		free(c->keys[i]);
	}
	free(c);
}

static void cache_key_make(void)
{
	/* the destructor frees a thread's keys when it exits */
	(void)pthread_key_create(&cache_key, cache_destroy);
}

static struct key_cache *cache_get(void)
{
	if (cache == NULL) {
		cache = calloc(1, sizeof(*cache));
		if (cache != NULL && pthread_once(&cache_once, cache_key_make) == 0)
			(void)pthread_setspecific(cache_key, cache);
	}
	return cache;
}

void sigverify_thread_free(void)
{
	cache_destroy(cache);
	cache = NULL;
	if (pthread_once(&cache_once, cache_key_make) == 0)
		(void)pthread_setspecific(cache_key, NULL);
}

void sigverify_cache_counts(unsigned *kept, unsigned long *made, unsigned long *to_ldns)
{
	*kept = cache != NULL ? cache->n : 0;
	*made = cache != NULL ? cache->made : 0;
	*to_ldns = cache != NULL ? cache->to_ldns : 0;
}

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
	uint64_t h = 14695981039346656037ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

static bool algo_fast(uint8_t alg)
{
	return alg == LDNS_RSASHA256 || alg == LDNS_RSASHA512 || alg == LDNS_ECDSAP256SHA256 ||
	       alg == LDNS_ECDSAP384SHA384 || alg == LDNS_ED25519;
}

/* An RSA public key in RFC 3110 2 form; NULL for one this path does not
 * take (left to ldns): no exponent, one over 4 bytes, a modulus under 512
 * or over 4096 bits or with a leading zero. */
static EVP_PKEY *rsa_key(const uint8_t *k, size_t len)
{
	size_t elen, off;
	BIGNUM *n = NULL, *e = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pk = NULL;

	if (len < 3)
		goto out;
	if (k[0] == 0) {
		elen = (size_t)k[1] << 8 | k[2];
		off = 3;
	} else {
		elen = k[0];
		off = 1;
	}
	if (elen == 0 || elen > 4 || off + elen >= len || len - off - elen < 64 ||
	    len - off - elen > 512 || k[off + elen] == 0)
		goto out;
	e = BN_bin2bn(k + off, (int)elen, NULL);
	n = BN_bin2bn(k + off + elen, (int)(len - off - elen), NULL);
	bld = OSSL_PARAM_BLD_new();
	if (e == NULL || n == NULL || bld == NULL ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
		goto out;
	params = OSSL_PARAM_BLD_to_param(bld);
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pk = NULL;
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	return pk;
}

/* An ECDSA public key (RFC 6605 4: x | y) on the algorithm's curve; NULL
 * when it has the wrong length or is no point of the curve. */
static EVP_PKEY *ec_key(uint8_t alg, const uint8_t *k, size_t len)
{
	size_t want = alg == LDNS_ECDSAP256SHA256 ? 64 : 96;
	char group[16];
	uint8_t point[1 + 96];
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pk = NULL;

	if (len != want)
		return NULL;
	strcpy(group, alg == LDNS_ECDSAP256SHA256 ? "prime256v1" : "secp384r1");
	point[0] = 0x04; /* uncompressed (SEC 1 2.3.3) */
	memcpy(point + 1, k, len);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, len + 1);
	params[2] = OSSL_PARAM_construct_end();
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pk = NULL;
	EVP_PKEY_CTX_free(ctx);
	return pk;
}

static const EVP_MD *algo_md(uint8_t alg)
{
	return alg == LDNS_RSASHA512 ? EVP_sha512()
	       : alg == LDNS_ECDSAP384SHA384 ? EVP_sha384()
	       : alg == LDNS_ED25519 ? NULL
	       : EVP_sha256();
}

/* pk's context for verifying digests of alg (RSA: PKCS #1 v1.5 with the
 * DigestInfo of the hash, RFC 5702 3; ECDSA: RFC 6605 4); NULL for
 * Ed25519 or when OpenSSL refuses. */
static EVP_PKEY_CTX *verify_ctx(EVP_PKEY *pk, uint8_t alg)
{
	EVP_PKEY_CTX *ctx;
	bool rsa = alg == LDNS_RSASHA256 || alg == LDNS_RSASHA512;

	if (alg == LDNS_ED25519)
		return NULL;
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
	if (ctx == NULL || EVP_PKEY_verify_init(ctx) != 1 ||
	    (rsa && EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) <= 0) ||
	    EVP_PKEY_CTX_set_signature_md(ctx, algo_md(alg)) <= 0) {
		EVP_PKEY_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* The kept key of the DNSKEY rdata (its key field at offset 4), found or
 * made and kept; NULL when OpenSSL does not take it. */
static const struct kept_key *key_for(const uint8_t *rdata, size_t len)
{
	struct key_cache *c = cache_get();
	uint64_t h = fnv1a(rdata, len);
	struct kept_key *kk;
	uint8_t alg = rdata[3];
	EVP_PKEY *pk;
	EVP_PKEY_CTX *vctx = NULL;

	if (c == NULL)
		return NULL;
	for (unsigned i = 0; i < c->n; i++) {
		kk = c->keys[i];
		if (kk->hash == h && kk->len == len && memcmp(kk->rdata, rdata, len) == 0)
			return kk;
	}
	if (alg == LDNS_RSASHA256 || alg == LDNS_RSASHA512)
		pk = rsa_key(rdata + 4, len - 4);
	else if (alg == LDNS_ECDSAP256SHA256 || alg == LDNS_ECDSAP384SHA384)
		pk = ec_key(alg, rdata + 4, len - 4);
	else
		pk = len - 4 == 32 ? EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, rdata + 4, 32)
				   : NULL;
	if (pk != NULL && alg != LDNS_ED25519) {
		vctx = verify_ctx(pk, alg);
		if (vctx == NULL) {
			EVP_PKEY_free(pk);
			pk = NULL;
		}
	}
	if (pk == NULL) {
		ERR_clear_error();
		return NULL;
	}
	if (c->n < SIGVERIFY_CACHE_KEYS) {
		kk = malloc(sizeof(*kk));
		if (kk == NULL) {
			EVP_PKEY_CTX_free(vctx);
			EVP_PKEY_free(pk);
			return NULL;
		}
		c->keys[c->n++] = kk;
	} else {
		kk = c->keys[c->next];
		c->next = (c->next + 1) % SIGVERIFY_CACHE_KEYS;
		EVP_PKEY_CTX_free(kk->vctx);
		EVP_PKEY_free(kk->pkey);
	}
	kk->hash = h;
	kk->pkey = pk;
	kk->vctx = vctx;
	kk->len = (uint16_t)len;
	memcpy(kk->rdata, rdata, len);
	c->made++;
	return kk;
}

/* One DER INTEGER (X.690 8.3) of the big-endian unsigned n bytes at p. */
static size_t der_int(uint8_t *out, const uint8_t *p, size_t n)
{
	size_t o = 0;

	while (n > 1 && p[0] == 0) {
		p++;
		n--;
	}
	out[o++] = 0x02;
	out[o++] = (uint8_t)(n + (p[0] & 0x80 ? 1 : 0));
	if (p[0] & 0x80)
		out[o++] = 0;
	memcpy(out + o, p, n);
	return o + n;
}

/* The signature as OpenSSL checks it into out (at least 110 bytes), its
 * length; 0 when ldns would not convert it (a wrong length). RSA and
 * Ed25519 are the bytes themselves; ECDSA r | s (RFC 6605 4) becomes the
 * DER ECDSA-Sig-Value, the encoding ldns_convert_ecdsa_rrsig_rdf2asn1
 * gives. */
static size_t sig_form(uint8_t alg, const ldns_rdf *sig, const uint8_t **form, uint8_t *out)
{
	const uint8_t *p = ldns_rdf_data(sig);
	size_t n = ldns_rdf_size(sig), half, body;

	*form = p;
	if (alg == LDNS_RSASHA256 || alg == LDNS_RSASHA512)
		return n;
	if (alg == LDNS_ED25519)
		return n == 64 ? n : 0;
	half = alg == LDNS_ECDSAP256SHA256 ? 32 : 48;
	if (n != 2 * half)
		return 0;
	body = der_int(out + 2, p, half);
	body += der_int(out + 2 + body, p + half, half);
	out[0] = 0x30;
	out[1] = (uint8_t)body;
	*form = out;
	return body + 2;
}

/* 1 good, 0 bad, -1 an OpenSSL error. */
static int evp_verify(const struct kept_key *kk, uint8_t alg, const uint8_t *sig, size_t siglen,
		      const uint8_t *data, size_t len)
{
	uint8_t digest[SHA512_DIGEST_LENGTH];
	size_t dlen;
	EVP_MD_CTX *ctx = NULL;
	int r = -1;

	if (kk->vctx != NULL) {
		if (alg == LDNS_RSASHA512) {
			SHA512(data, len, digest);
			dlen = SHA512_DIGEST_LENGTH;
		} else if (alg == LDNS_ECDSAP384SHA384) {
			SHA384(data, len, digest);
			dlen = SHA384_DIGEST_LENGTH;
		} else {
			SHA256(data, len, digest);
			dlen = SHA256_DIGEST_LENGTH;
		}
		r = EVP_PKEY_verify(kk->vctx, sig, siglen, digest, dlen);
	} else {
		ctx = EVP_MD_CTX_new();
		if (ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, kk->pkey) == 1)
			r = EVP_DigestVerify(ctx, sig, siglen, data, len);
		EVP_MD_CTX_free(ctx);
	}
	if (r != 1)
		ERR_clear_error();
	return r == 1 ? 1 : r == 0 ? 0 : -1;
}

/* The RRset as ldns signs it: each record's TTL the RRSIG's Original TTL,
 * an owner with more labels than the Labels field the wildcard it came
 * from (RFC 4035 5.3.2), canonical form (RFC 4034 6.2), canonical order;
 * NULL without memory. */
static ldns_rr_list *signed_rrset(const ldns_rr_list *rrset, const ldns_rr *rrsig)
{
	ldns_rr_list *c = ldns_rr_list_clone(rrset);
	uint32_t ttl = ldns_rdf2native_int32(ldns_rr_rdf(rrsig, 3));
	uint8_t labels = ldns_rdf2native_int8(ldns_rr_rdf(rrsig, 2));

	for (size_t i = 0; c != NULL && i < ldns_rr_list_rr_count(c); i++) {
		ldns_rr *rr = ldns_rr_list_rr(c, i);

		if (labels < ldns_dname_label_count(ldns_rr_owner(rr))) {
			ldns_rdf *wild = NULL, *chopped = ldns_rdf_clone(ldns_rr_owner(rr)), *up;

			while (chopped != NULL && labels < ldns_dname_label_count(chopped)) {
				up = ldns_dname_left_chop(chopped);
				ldns_rdf_deep_free(chopped);
				chopped = up;
			}
			if (chopped == NULL || ldns_str2rdf_dname(&wild, "*") != LDNS_STATUS_OK ||
			    ldns_dname_cat(wild, chopped) != LDNS_STATUS_OK) {
				ldns_rdf_deep_free(chopped);
				ldns_rdf_deep_free(wild);
				ldns_rr_list_deep_free(c);
				return NULL;
			}
			ldns_rdf_deep_free(chopped);
			ldns_rdf_deep_free(ldns_rr_owner(rr));
			ldns_rr_set_owner(rr, wild);
		}
		ldns_rr_set_ttl(rr, ttl);
		ldns_rr2canonical(rr);
	}
	if (c != NULL)
		ldns_rr_list_sort(c);
	return c;
}

/* RFC 4034 3.1.5 with serial arithmetic (RFC 1982), in ldns's order. */
static ldns_status sig_times(const ldns_rr *rrsig, uint64_t now)
{
	uint32_t inception = ldns_rdf2native_int32(ldns_rr_rrsig_inception(rrsig));
	uint32_t expiration = ldns_rdf2native_int32(ldns_rr_rrsig_expiration(rrsig));
	uint32_t t = (uint32_t)now;

	if ((int32_t)(expiration - inception) < 0)
		return LDNS_STATUS_CRYPTO_EXPIRATION_BEFORE_INCEPTION;
	if ((int32_t)(t - inception) < 0)
		return LDNS_STATUS_CRYPTO_SIG_NOT_INCEPTED;
	if ((int32_t)(expiration - t) < 0)
		return LDNS_STATUS_CRYPTO_SIG_EXPIRED;
	return LDNS_STATUS_OK;
}

/* The DNSKEY's rdata into out (KEY_RDATA_MAX), its length; 0 for a
 * record this path leaves to ldns. */
static size_t key_rdata(const ldns_rr *k, uint8_t *out)
{
	size_t len = 0;

	if (ldns_rr_get_type(k) != LDNS_RR_TYPE_DNSKEY || ldns_rr_rd_count(k) != 4)
		return 0;
	for (size_t i = 0; i < 4; i++) {
		const ldns_rdf *f = ldns_rr_rdf(k, i);
		size_t n = f != NULL ? ldns_rdf_size(f) : 0;

		if (n == 0 || len + n > KEY_RDATA_MAX || (i < 3 && n != (i == 0 ? 2u : 1u)))
			return 0;
		memcpy(out + len, ldns_rdf_data(f), n);
		len += n;
	}
	return len;
}

/* The verdict of ldns_verify_rrsig_keylist_notime and then the times,
 * into *st; false when the case is left to ldns. */
static bool fast_verdict(const ldns_rr_list *rrset, const ldns_rr *rrsig, const ldns_rr_list *keys,
			 uint64_t now, ldns_status *st)
{
	uint8_t alg, sigbuf[112], rdata[KEY_RDATA_MAX];
	const uint8_t *sig;
	size_t siglen, rlen;
	uint16_t tag;
	ldns_rr_list *c = NULL;
	ldns_buffer *data = NULL;
	ldns_status result = LDNS_STATUS_CRYPTO_NO_MATCHING_KEYTAG_DNSKEY, status;
	bool done = false, good = false;

	if (ldns_rr_list_rr_count(rrset) == 0 || ldns_rr_get_type(rrsig) != LDNS_RR_TYPE_RRSIG ||
	    ldns_rr_rd_count(rrsig) != 9 || ldns_rdf_size(ldns_rr_rdf(rrsig, 1)) != 1 ||
	    ldns_rdf_size(ldns_rr_rdf(rrsig, 2)) != 1 ||
	    ldns_rdf_size(ldns_rr_rdf(rrsig, 3)) != 4 ||
	    ldns_rdf_size(ldns_rr_rdf(rrsig, 6)) != 2)
		return false;
	alg = ldns_rdf2native_int8(ldns_rr_rdf(rrsig, 1));
	if (!algo_fast(alg))
		return false;
	ldns_dname2canonical(ldns_rr_owner(rrsig));
	if (ldns_rdf2rr_type(ldns_rr_rrsig_typecovered(rrsig)) !=
	    ldns_rr_get_type(ldns_rr_list_rr(rrset, 0))) {
		*st = LDNS_STATUS_CRYPTO_TYPE_COVERED_ERR;
		return true;
	}
	siglen = sig_form(alg, ldns_rr_rdf(rrsig, 8), &sig, sigbuf);
	if (siglen == 0)
		return false;
	tag = ldns_rdf2native_int16(ldns_rr_rrsig_keytag(rrsig));
	c = signed_rrset(rrset, rrsig);
	data = ldns_buffer_new(512);
	if (c == NULL || data == NULL || ldns_rrsig2buffer_wire(data, rrsig) != LDNS_STATUS_OK ||
	    ldns_rr_list2buffer_wire(data, c) != LDNS_STATUS_OK)
		goto out;
	for (size_t i = 0; i < ldns_rr_list_rr_count(keys); i++) {
		const struct kept_key *kk;
		int r;

		rlen = key_rdata(ldns_rr_list_rr(keys, i), rdata);
		if (rlen == 0)
			goto out;
		if (ldns_calc_keytag_raw(rdata, rlen) != tag || rdata[3] != alg ||
		    !(rdata[0] & ZONE_KEY_FLAG_HI) || rdata[2] != DNSKEY_PROTOCOL) {
			status = LDNS_STATUS_CRYPTO_NO_MATCHING_KEYTAG_DNSKEY;
		} else {
			kk = key_for(rdata, rlen);
			r = kk != NULL ? evp_verify(kk, alg, sig, siglen, ldns_buffer_begin(data),
						    ldns_buffer_position(data))
				       : -1;
			if (r < 0)
				goto out;
			status = r == 1 ? LDNS_STATUS_OK : LDNS_STATUS_CRYPTO_BOGUS;
		}
		if (status == LDNS_STATUS_OK) {
			good = true;
			result = status;
		}
		if (result == LDNS_STATUS_CRYPTO_NO_MATCHING_KEYTAG_DNSKEY)
			result = status;
	}
	*st = good ? sig_times(rrsig, now) : result;
	done = true;
out:
	ldns_buffer_free(data);
	ldns_rr_list_deep_free(c);
	return done;
}

/* The keys of list with the Zone Key flag and protocol 3, in a new list
 * that borrows them (ldns_rr_list_free, not deep); NULL when out of
 * memory. */
static ldns_rr_list *zone_keys(const ldns_rr_list *keys)
{
	ldns_rr_list *z = ldns_rr_list_new();

	for (size_t i = 0; z != NULL && i < ldns_rr_list_rr_count(keys); i++) {
		ldns_rr *k = ldns_rr_list_rr(keys, i);
		bool dnskey = ldns_rr_get_type(k) == LDNS_RR_TYPE_DNSKEY &&
			      ldns_rr_rd_count(k) == 4;
		const ldns_rdf *flags = dnskey ? ldns_rr_rdf(k, 0) : NULL;
		const ldns_rdf *proto = dnskey ? ldns_rr_rdf(k, 1) : NULL;

		if (flags != NULL && proto != NULL && ldns_rdf_size(flags) == 2 &&
		    ldns_rdf_size(proto) == 1 && (ldns_rdf_data(flags)[0] & ZONE_KEY_FLAG_HI) &&
		    ldns_rdf_data(proto)[0] == DNSKEY_PROTOCOL && !ldns_rr_list_push_rr(z, k)) {
			ldns_rr_list_free(z);
			z = NULL;
		}
	}
	return z;
}

ldns_status sigverify_rrsig(const ldns_rr_list *rrset, ldns_rr *rrsig, const ldns_rr_list *keys,
			    uint64_t now)
{
	ldns_status st;
	ldns_rr_list *z;
	struct key_cache *c;

	if (rrset != NULL && rrsig != NULL && keys != NULL &&
	    fast_verdict(rrset, rrsig, keys, now, &st))
		return st;
	c = cache_get();
	if (c != NULL)
		c->to_ldns++;
	if (keys == NULL)
		return ldns_verify_rrsig_keylist_time(rrset, rrsig, keys, (time_t)now, NULL);
	z = zone_keys(keys);
	if (z == NULL)
		return LDNS_STATUS_MEM_ERR;
	st = ldns_verify_rrsig_keylist_time(rrset, rrsig, z, (time_t)now, NULL);
	ldns_rr_list_free(z);
	return st;
}
