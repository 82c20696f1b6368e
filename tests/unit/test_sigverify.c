/*
 * test_sigverify.c - RRSIG verification with kept keys (sigverify.h):
 * signatures made here with ldns for each algorithm of the fast path
 * (and one it leaves to ldns), good and tampered, each verdict compared
 * with ldns_verify_rrsig_keylist_time's on the same records, plus a
 * differential run over randomized records, keys, times and changes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"
#include "tierdns/sigverify.h"

#define T0 1700000000u
#define NALG 6

static const ldns_signing_algorithm algs[NALG] = {
	LDNS_SIGN_RSASHA256,	   LDNS_SIGN_RSASHA512, LDNS_SIGN_ECDSAP256SHA256,
	LDNS_SIGN_ECDSAP384SHA384, LDNS_SIGN_ED25519,	LDNS_SIGN_RSASHA1,
};

/* Two keys per algorithm (flags 257), their DNSKEY records. */
static ldns_key *key[NALG][2];
static ldns_rr *krr[NALG][2];

static ldns_rr *rr(const char *text)
{
	ldns_rr *r = NULL;

	assert_int_equal(ldns_rr_new_frm_str(&r, text, 0, NULL, NULL), LDNS_STATUS_OK);
	return r;
}

static ldns_key *make_key(ldns_signing_algorithm a, uint16_t flags, ldns_rr **out)
{
	uint16_t bits = a == LDNS_SIGN_RSASHA256 || a == LDNS_SIGN_RSASHA1 ? 1024
			: a == LDNS_SIGN_RSASHA512				 ? 1024
			: a == LDNS_SIGN_ECDSAP384SHA384			 ? 384
										 : 256;
	ldns_key *k = ldns_key_new_frm_algorithm(a, bits);

	assert_non_null(k);
	ldns_key_set_pubkey_owner(k, ldns_dname_new_frm_str("example."));
	ldns_key_set_flags(k, flags);
	ldns_key_set_inception(k, T0 - 3600);
	ldns_key_set_expiration(k, T0 + 3600);
	*out = ldns_key2rr(k);
	ldns_key_set_keytag(k, ldns_calc_keytag(*out));
	return k;
}

static int setup(void **state)
{
	(void)state;
	for (int a = 0; a < NALG; a++)
		for (int i = 0; i < 2; i++)
			key[a][i] = make_key(algs[a], 257, &krr[a][i]);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (int a = 0; a < NALG; a++)
		for (int i = 0; i < 2; i++) {
			ldns_key_deep_free(key[a][i]);
			ldns_rr_free(krr[a][i]);
		}
	sigverify_thread_free();
	return 0;
}

/* The RRset of www.example. A (n records, TTL 300). */
static ldns_rr_list *rrset(unsigned n)
{
	static const char *const text[] = {
		"www.example. 300 IN A 192.0.2.1",
		"www.example. 300 IN A 192.0.2.7",
		"www.example. 300 IN A 192.0.2.3",
	};
	ldns_rr_list *l = ldns_rr_list_new();

	for (unsigned i = 0; i < n; i++)
		ldns_rr_list_push_rr(l, rr(text[i]));
	return l;
}

/* The RRSIG of set made with k. */
static ldns_rr *sign(ldns_rr_list *set, ldns_key *k)
{
	ldns_key_list *kl = ldns_key_list_new();
	ldns_rr_list *sigs;
	ldns_rr *s;

	ldns_key_list_push_key(kl, k);
	sigs = ldns_sign_public(set, kl);
	assert_non_null(sigs);
	assert_int_equal(ldns_rr_list_rr_count(sigs), 1);
	s = ldns_rr_list_pop_rr(sigs);
	ldns_rr_list_free(sigs);
	ldns_key_list_set_key_count(kl, 0);
	ldns_key_list_free(kl);
	return s;
}

static ldns_rr_list *list_of(ldns_rr *a, ldns_rr *b)
{
	ldns_rr_list *l = ldns_rr_list_new();

	if (a != NULL)
		ldns_rr_list_push_rr(l, a);
	if (b != NULL)
		ldns_rr_list_push_rr(l, b);
	return l;
}

/* sigverify's verdict, asserted equal to ldns's on copies of the same
 * records (both lower-case the RRSIG's owner). */
static ldns_status both(const ldns_rr_list *set, const ldns_rr *sig, const ldns_rr_list *keys,
			uint64_t now)
{
	ldns_rr *s1 = ldns_rr_clone(sig), *s2 = ldns_rr_clone(sig);
	ldns_rr_list *set2 = ldns_rr_list_clone(set);
	ldns_status ours = sigverify_rrsig(set, s1, keys, now);
	ldns_status theirs = ldns_verify_rrsig_keylist_time(set2, s2, keys, (time_t)now, NULL);

	if (ours != theirs)
		fail_msg("sigverify %s, ldns %s", ldns_get_errorstr_by_id(ours),
			 ldns_get_errorstr_by_id(theirs));
	ldns_rr_free(s1);
	ldns_rr_free(s2);
	ldns_rr_list_deep_free(set2);
	return ours;
}

/* Set rdata field f of the RRSIG to an integer of its size. */
static void sig_set(ldns_rr *s, size_t f, uint32_t v)
{
	ldns_rdf *old = ldns_rr_rdf(s, f), *nu;

	switch (ldns_rdf_size(old)) {
	case 1:
		nu = ldns_native2rdf_int8(ldns_rdf_get_type(old), (uint8_t)v);
		break;
	case 2:
		nu = ldns_native2rdf_int16(ldns_rdf_get_type(old), (uint16_t)v);
		break;
	default:
		nu = ldns_native2rdf_int32(ldns_rdf_get_type(old), v);
		break;
	}
	ldns_rdf_deep_free(ldns_rr_set_rdf(s, nu, f));
}

static void flip(ldns_rdf *f, size_t byte, uint8_t bit)
{
	ldns_rdf_data(f)[byte % ldns_rdf_size(f)] ^= (uint8_t)(1u << (bit % 8));
}

/* A good signature of each algorithm verifies; the key is made once. */
static void test_valid_each_algorithm(void **state)
{
	(void)state;
	for (int a = 0; a < NALG; a++) {
		ldns_rr_list *set = rrset(2), *keys = list_of(krr[a][1], krr[a][0]);
		ldns_rr *s = sign(set, key[a][0]);
		unsigned kept;
		unsigned long made0, made1, l0, l1;

		sigverify_cache_counts(&kept, &made0, &l0);
		assert_int_equal(both(set, s, keys, T0), LDNS_STATUS_OK);
		assert_int_equal(both(set, s, keys, T0), LDNS_STATUS_OK);
		sigverify_cache_counts(&kept, &made1, &l1);
		/* RSASHA1 is ldns's: nothing kept */
		assert_int_equal(made1 - made0, algs[a] == LDNS_SIGN_RSASHA1 ? 0 : 1);
		assert_int_equal(l1 - l0, algs[a] == LDNS_SIGN_RSASHA1 ? 2 : 0);
		ldns_rr_free(s);
		ldns_rr_list_free(keys);
		ldns_rr_list_deep_free(set);
	}
}

/* Each change breaks the signature the way ldns says, or (the owner's
 * case, the records' TTL, their order) leaves it good. */
static void test_tampered(void **state)
{
	(void)state;
	for (int a = 0; a < NALG; a++) {
		ldns_rr_list *set = rrset(3), *keys = list_of(krr[a][0], NULL), *t;
		ldns_rr *s = sign(set, key[a][0]), *c;
		unsigned kept;
		unsigned long made, l0, l1;

		sigverify_cache_counts(&kept, &made, &l0);

		/* a flipped bit in the signature */
		c = ldns_rr_clone(s);
		flip(ldns_rr_rdf(c, 8), 20, 3);
		assert_int_equal(both(set, c, keys, T0), LDNS_STATUS_CRYPTO_BOGUS);
		ldns_rr_free(c);
		/* a flipped bit in a record's rdata */
		t = ldns_rr_list_clone(set);
		flip(ldns_rr_rdf(ldns_rr_list_rr(t, 1), 0), 3, 0);
		assert_int_equal(both(t, s, keys, T0), LDNS_STATUS_CRYPTO_BOGUS);
		ldns_rr_list_deep_free(t);
		/* another owner */
		t = ldns_rr_list_clone(set);
		for (size_t i = 0; i < 3; i++) {
			ldns_rr *r = ldns_rr_list_rr(t, i);

			ldns_rdf_deep_free(ldns_rr_owner(r));
			ldns_rr_set_owner(r, ldns_dname_new_frm_str("wwx.example."));
		}
		assert_int_equal(both(t, s, keys, T0), LDNS_STATUS_CRYPTO_BOGUS);
		/* the owner in upper case: canonical form is lower case */
		for (size_t i = 0; i < 3; i++) {
			ldns_rr *r = ldns_rr_list_rr(t, i);

			ldns_rdf_deep_free(ldns_rr_owner(r));
			ldns_rr_set_owner(r, ldns_dname_new_frm_str("WWW.Example."));
		}
		assert_int_equal(both(t, s, keys, T0), LDNS_STATUS_OK);
		/* TTLs counted down in a cache, records in another order: the
		 * Original TTL and canonical order are what was signed */
		ldns_rr_set_ttl(ldns_rr_list_rr(t, 0), 17);
		ldns_rr_set_ttl(ldns_rr_list_rr(t, 2), 17);
		ldns_rr_list_push_rr(t, ldns_rr_list_pop_rr(t));
		assert_int_equal(both(t, s, keys, T0), LDNS_STATUS_OK);
		ldns_rr_list_deep_free(t);
		/* the Original TTL changed */
		c = ldns_rr_clone(s);
		sig_set(c, 3, 301);
		assert_int_equal(both(set, c, keys, T0), LDNS_STATUS_CRYPTO_BOGUS);
		ldns_rr_free(c);
		/* the Labels field says wildcard */
		c = ldns_rr_clone(s);
		sig_set(c, 2, 1);
		assert_int_equal(both(set, c, keys, T0), LDNS_STATUS_CRYPTO_BOGUS);
		ldns_rr_free(c);
		/* expired, not yet valid, expiration before inception; and
		 * around 2106 (serial arithmetic) */
		assert_int_equal(both(set, s, keys, T0 + 3601), LDNS_STATUS_CRYPTO_SIG_EXPIRED);
		assert_int_equal(both(set, s, keys, T0 - 3601), LDNS_STATUS_CRYPTO_SIG_NOT_INCEPTED);
		/* a changed expiration is changed signed data: bogus before
		 * the times are looked at, as ldns does */
		c = ldns_rr_clone(s);
		sig_set(c, 4, T0 - 7200);
		assert_int_equal(both(set, c, keys, T0), LDNS_STATUS_CRYPTO_BOGUS);
		ldns_rr_free(c);
		ldns_key_set_expiration(key[a][0], T0 - 7200);
		c = sign(set, key[a][0]);
		ldns_key_set_expiration(key[a][0], T0 + 3600);
		assert_int_equal(both(set, c, keys, T0),
				 LDNS_STATUS_CRYPTO_EXPIRATION_BEFORE_INCEPTION);
		ldns_rr_free(c);
		/* validity across the 32-bit wrap (RFC 4034 3.1.5: serial
		 * arithmetic), at 2^32 s */
		ldns_key_set_inception(key[a][0], 0xfffff000u);
		ldns_key_set_expiration(key[a][0], 0x00001000u);
		c = sign(set, key[a][0]);
		ldns_key_set_inception(key[a][0], T0 - 3600);
		ldns_key_set_expiration(key[a][0], T0 + 3600);
		assert_int_equal(both(set, c, keys, 0x100000000ull), LDNS_STATUS_OK);
		assert_int_equal(both(set, c, keys, 0x100002000ull), LDNS_STATUS_CRYPTO_SIG_EXPIRED);
		assert_int_equal(both(set, c, keys, 0xffffe000ull),
				 LDNS_STATUS_CRYPTO_SIG_NOT_INCEPTED);
		ldns_rr_free(c);
		/* another key tag, another algorithm, another type covered */
		c = ldns_rr_clone(s);
		sig_set(c, 6, ldns_calc_keytag(krr[a][0]) ^ 1u);
		assert_int_equal(both(set, c, keys, T0),
				 LDNS_STATUS_CRYPTO_NO_MATCHING_KEYTAG_DNSKEY);
		ldns_rr_free(c);
		c = ldns_rr_clone(s);
		sig_set(c, 1, a == 0 ? LDNS_RSASHA512 : LDNS_RSASHA256);
		assert_int_not_equal(both(set, c, keys, T0), LDNS_STATUS_OK);
		ldns_rr_free(c);
		c = ldns_rr_clone(s);
		sig_set(c, 0, LDNS_RR_TYPE_AAAA);
		assert_int_equal(both(set, c, keys, T0), LDNS_STATUS_CRYPTO_TYPE_COVERED_ERR);
		ldns_rr_free(c);
		/* the other key of the algorithm only; no keys at all */
		ldns_rr_list_free(keys);
		keys = list_of(krr[a][1], NULL);
		assert_int_equal(both(set, s, keys, T0),
				 LDNS_STATUS_CRYPTO_NO_MATCHING_KEYTAG_DNSKEY);
		ldns_rr_list_free(keys);
		keys = ldns_rr_list_new();
		assert_int_equal(both(set, s, keys, T0),
				 LDNS_STATUS_CRYPTO_NO_MATCHING_KEYTAG_DNSKEY);
		/* every verdict but RSASHA1's was this path's own, none
		 * left to ldns */
		sigverify_cache_counts(&kept, &made, &l1);
		if (algs[a] != LDNS_SIGN_RSASHA1)
			assert_int_equal(l1, l0);
		ldns_rr_free(s);
		ldns_rr_list_free(keys);
		ldns_rr_list_deep_free(set);
	}
}

/* Sign s again over set (one record) with k, after setting its key tag
 * to tag (ldns_sign_public signs with zone keys only). */
static void resign(ldns_rr *s, const ldns_rr_list *set, ldns_key *k, uint16_t tag)
{
	ldns_buffer *b = ldns_buffer_new(512);
	ldns_rr *r = ldns_rr_clone(ldns_rr_list_rr(set, 0));
	ldns_rdf *sig;

	sig_set(s, 6, tag);
	ldns_rr_set_ttl(r, ldns_rdf2native_int32(ldns_rr_rdf(s, 3)));
	assert_int_equal(ldns_rrsig2buffer_wire(b, s), LDNS_STATUS_OK);
	assert_int_equal(ldns_rr2buffer_wire_canonical(b, r, LDNS_SECTION_ANSWER), LDNS_STATUS_OK);
	sig = ldns_sign_public_buffer(b, k);
	assert_non_null(sig);
	ldns_rdf_deep_free(ldns_rr_set_rdf(s, sig, 8));
	ldns_rr_free(r);
	ldns_buffer_free(b);
}

/* Give DNSKEY k (the only key of keys) these flags and protocol, and sign
 * s over set again with nz: the key tag is computed over both. */
static void rekey(ldns_rr_list *keys, ldns_rr *k, uint16_t flags, uint8_t protocol,
		  ldns_rr *s, const ldns_rr_list *set, ldns_key *nz)
{
	ldns_rr_list_pop_rr(keys);
	ldns_rdf_deep_free(ldns_rr_set_rdf(k, ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16, flags),
					   0));
	ldns_rdf_deep_free(ldns_rr_set_rdf(k, ldns_native2rdf_int8(LDNS_RDF_TYPE_INT8, protocol),
					   1));
	ldns_rr_list_push_rr(keys, k);
	resign(s, set, nz, ldns_calc_keytag(k));
}

/* A key without the Zone Key flag (RFC 4034 2.1.1), or with a Protocol
 * other than 3, that made the signature is not used (RFC 4035 5.3.1,
 * RFC 4034 2.1.2; ldns, which looks at neither, accepts it), on the
 * kept-key path and on the one left to ldns alike. */
static void test_non_zone_key(void **state)
{
	(void)state;
	for (int a = 0; a < NALG; a++) {
		ldns_rr *k;
		ldns_key *nz = make_key(algs[a], 256, &k);
		ldns_rr_list *set = rrset(1), *keys = list_of(k, NULL);
		ldns_rr *s = sign(set, nz);

		assert_int_equal(both(set, s, keys, T0), LDNS_STATUS_OK);
		rekey(keys, k, 0, 3, s, set, nz);
		assert_int_equal(sigverify_rrsig(set, s, keys, T0),
				 LDNS_STATUS_CRYPTO_NO_MATCHING_KEYTAG_DNSKEY);
		/* the Zone flag back, Protocol 2: not used either */
		rekey(keys, k, 256, 2, s, set, nz);
		assert_int_equal(sigverify_rrsig(set, s, keys, T0),
				 LDNS_STATUS_CRYPTO_NO_MATCHING_KEYTAG_DNSKEY);
		ldns_rr_free(s);
		ldns_rr_list_free(keys);
		ldns_rr_list_deep_free(set);
		ldns_rr_free(k);
		ldns_key_deep_free(nz);
	}
}

/* A wildcard expansion (Labels below the owner's count) verifies as the
 * wildcard that was signed. */
static void test_wildcard(void **state)
{
	(void)state;
	for (int a = 0; a < NALG; a++) {
		ldns_rr_list *set = ldns_rr_list_new(), *keys = list_of(krr[a][0], NULL);
		ldns_rr *s;

		ldns_rr_list_push_rr(set, rr("*.example. 300 IN TXT \"w\""));
		s = sign(set, key[a][0]);
		ldns_rdf_deep_free(ldns_rr_owner(ldns_rr_list_rr(set, 0)));
		ldns_rr_set_owner(ldns_rr_list_rr(set, 0), ldns_dname_new_frm_str("a.B.example."));
		assert_int_equal(both(set, s, keys, T0), LDNS_STATUS_OK);
		ldns_rr_free(s);
		ldns_rr_list_free(keys);
		ldns_rr_list_deep_free(set);
	}
}

/* Random records, keys, times and changes: sigverify and ldns agree on
 * every one (both() fails the test otherwise). */
static void test_differential(void **state)
{
	unsigned ok = 0, bad = 0;

	(void)state;
	srand(12);
	for (int n = 0; n < 600; n++) {
		int a = rand() % NALG, other = rand() % NALG;
		ldns_rr_list *set = ldns_rr_list_new(), *keys;
		ldns_rr *s, *k2 = krr[other][rand() % 2];
		unsigned nrr = 1 + (unsigned)(rand() % 4);
		char text[128];
		uint64_t now = T0 + (uint64_t)(rand() % 8000) - 4000;

		for (unsigned i = 0; i < nrr; i++) {
			snprintf(text, sizeof(text), "%s.example. %d IN TXT \"%d\"",
				 rand() % 2 ? "n" : "N", 60 + rand() % 600, rand() % 1000);
			ldns_rr_list_push_rr(set, rr(text));
		}
		s = sign(set, key[a][0]);
		switch (rand() % 8) {
		case 0:
			flip(ldns_rr_rdf(s, 8), (size_t)rand(), (uint8_t)rand());
			break;
		case 1:
			flip(ldns_rr_rdf(ldns_rr_list_rr(set, 0), 0), (size_t)rand(),
			     (uint8_t)rand());
			break;
		case 2:
			sig_set(s, (size_t)(rand() % 7), (uint32_t)rand());
			break;
		case 3:
			ldns_rr_set_ttl(ldns_rr_list_rr(set, 0), 1);
			break;
		default:
			break;
		}
		keys = rand() % 2 ? list_of(k2, krr[a][0]) : list_of(krr[a][rand() % 2], k2);
		if (both(set, s, keys, now) == LDNS_STATUS_OK)
			ok++;
		else
			bad++;
		ldns_rr_free(s);
		ldns_rr_list_free(keys);
		ldns_rr_list_deep_free(set);
	}
	/* both kinds of verdict were compared, not one */
	assert_true(ok > 100);
	assert_true(bad > 100);
}

/* More keys than the cache keeps: the oldest are replaced, verdicts
 * stay right, the count stays bounded. */
static void test_cache_bound(void **state)
{
	unsigned kept;
	unsigned long made0, made1, l;

	(void)state;
	sigverify_cache_counts(&kept, &made0, &l);
	for (int i = 0; i < SIGVERIFY_CACHE_KEYS + 8; i++) {
		ldns_rr *k;
		ldns_key *e = make_key(LDNS_SIGN_ED25519, 257, &k);
		ldns_rr_list *set = rrset(1), *keys = list_of(k, NULL);
		ldns_rr *s = sign(set, e);

		assert_int_equal(both(set, s, keys, T0), LDNS_STATUS_OK);
		ldns_rr_free(s);
		ldns_rr_list_free(keys);
		ldns_rr_list_deep_free(set);
		ldns_rr_free(k);
		ldns_key_deep_free(e);
	}
	sigverify_cache_counts(&kept, &made1, &l);
	assert_int_equal(kept, SIGVERIFY_CACHE_KEYS);
	assert_int_equal(made1 - made0, SIGVERIFY_CACHE_KEYS + 8);
	sigverify_thread_free();
	sigverify_cache_counts(&kept, &made1, &l);
	assert_int_equal(kept, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_each_algorithm),
		cmocka_unit_test(test_tampered),
		cmocka_unit_test(test_non_zone_key),
		cmocka_unit_test(test_wildcard),
		cmocka_unit_test(test_differential),
		cmocka_unit_test(test_cache_bound),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
