/*
 * test_tsig.c - TSIG (tsig.h): a signed query checked by the server, the
 * answer's messages signed and verified by the client, and what is refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "testutil.h"

#include "tierdns/clock.h"
#include "tierdns/tsig.h"

static const struct tdns_tsig_key KEYS[] = {
	{ "other.", "hmac-sha512", "c2Vjb25kIGtleSBzZWNyZXQgc2Vjb25kIGtleSBzZWNyZXQ=" },
	{ "xfr-key.", "hmac-sha256", "J934A3sKT3aC5E+X2MgVcBklFlL50rx1FjqidLkztMY=" },
};
static const struct tdns_tsig_key WRONG = {
	"xfr-key.", "hmac-sha256", "d3Jvbmd3cm9uZ3dyb25nd3Jvbmd3cm9uZ3dyb25nMTI="
};

/* A query (or, with answer, a reply of n A records) in wire form. */
static size_t message(uint8_t *out, size_t cap, uint16_t id, bool answer, int n)
{
	ldns_pkt *p = NULL;
	uint8_t *wire = NULL;
	size_t len = 0;

	assert_int_equal(ldns_pkt_query_new_frm_str(&p, "j.test.", LDNS_RR_TYPE_AXFR,
						    LDNS_RR_CLASS_IN, 0), LDNS_STATUS_OK);
	ldns_pkt_set_id(p, id);
	if (answer) {
		ldns_pkt_set_qr(p, true);
		for (int i = 0; i < n; i++) {
			ldns_rr *rr = NULL;
			char text[64];

			snprintf(text, sizeof(text), "h%d.j.test. 60 IN A 192.0.2.%d", i, i);
			assert_int_equal(ldns_rr_new_frm_str(&rr, text, 0, NULL, NULL),
					 LDNS_STATUS_OK);
			ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, rr);
		}
	}
	assert_int_equal(ldns_pkt2wire(&wire, p, &len), LDNS_STATUS_OK);
	assert_true(len <= cap);
	memcpy(out, wire, len);
	LDNS_FREE(wire);
	ldns_pkt_free(p);
	return len;
}

static void test_key_check(void **state)
{
	(void)state;
	assert_null(tsig_key_check("hmac-sha256", KEYS[1].secret));
	assert_null(tsig_key_check("HMAC-SHA512", KEYS[0].secret));
	assert_non_null(tsig_key_check("hmac-sha999", KEYS[1].secret));
	assert_non_null(tsig_key_check("hmac-sha256", "!!not base64!!"));
}

/* Query signed by the client, checked and answered in three signed
 * messages by the server, each verified by the client in turn. */
static void test_exchange(void **state)
{
	uint8_t q[4096], m[4096];
	size_t qlen, mlen;
	struct tsig_state *client = NULL, *server = NULL;
	const struct tdns_tsig_key *key;

	(void)state;
	qlen = message(q, sizeof(q), 4242, false, 0);
	assert_int_equal(tsig_check(q, qlen, KEYS, 2, &key, NULL), TSIG_NONE);
	assert_int_equal(tsig_sign_query(&KEYS[1], q, &qlen, sizeof(q), &client), TDNS_OK);
	assert_int_equal(tsig_check(q, qlen, KEYS, 2, &key, &server), TSIG_OK);
	assert_ptr_equal(key, &KEYS[1]);
	for (int i = 0; i < 3; i++) {
		mlen = message(m, sizeof(m), 4242, true, 5 + i);
		assert_int_equal(tsig_sign(server, m, &mlen, sizeof(m)), TDNS_OK);
		assert_true(tsig_verify_next(client, m, mlen));
	}
	/* A message altered after signing does not verify. */
	mlen = message(m, sizeof(m), 4242, true, 2);
	assert_int_equal(tsig_sign(server, m, &mlen, sizeof(m)), TDNS_OK);
	m[mlen - 40] ^= 1;
	assert_false(tsig_verify_next(client, m, mlen));
	tsig_state_free(client);
	tsig_state_free(server);
}

static void test_refused(void **state)
{
	uint8_t q[4096];
	size_t qlen;
	struct tsig_state *st = NULL;
	const struct tdns_tsig_key *key;

	(void)state;
	/* A wrong secret. */
	qlen = message(q, sizeof(q), 1, false, 0);
	assert_int_equal(tsig_sign_query(&WRONG, q, &qlen, sizeof(q), &st), TDNS_OK);
	tsig_state_free(st);
	assert_int_equal(tsig_check(q, qlen, KEYS, 2, &key, NULL), TSIG_BAD);
	assert_null(key);
	/* A key we do not have. */
	qlen = message(q, sizeof(q), 2, false, 0);
	assert_int_equal(tsig_sign_query(&KEYS[1], q, &qlen, sizeof(q), &st), TDNS_OK);
	tsig_state_free(st);
	assert_int_equal(tsig_check(q, qlen, KEYS, 1, &key, NULL), TSIG_BAD);
	/* The right key, but signed 10 minutes from our clock (fudge 300 s):
	 * a replay (RFC 8945 5.2.3). */
	assert_int_equal(tsig_check(q, qlen, KEYS, 2, &key, NULL), TSIG_OK);
	clock_set_fake((uint64_t)time(NULL) + 600);
	assert_int_equal(tsig_check(q, qlen, KEYS, 2, &key, NULL), TSIG_BAD);
	clock_set_fake((uint64_t)time(NULL) - 600);
	assert_int_equal(tsig_check(q, qlen, KEYS, 2, &key, NULL), TSIG_BAD);
	clock_set_fake(0);
	/* Truncated. */
	assert_int_equal(tsig_check(q, qlen - 5, KEYS, 2, &key, NULL), TSIG_BAD);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_check),
		cmocka_unit_test(test_exchange),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
