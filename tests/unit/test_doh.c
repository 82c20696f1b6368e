/*
 * test_doh.c - the DoH request rules (doh_request) and the freshness of an
 * answer (doh_min_ttl), as tables; the HTTP/2 side is covered by
 * tests/e2e/test_doh.py and tests/fuzz/fuzz_doh.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tierdns/doh.h"

/* A query for webapp.site A, ID 0 (RFC 8484 4.1), and its base64url. */
static const uint8_t QUERY[] = {
	0x00, 0x00, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x06, 'w', 'e', 'b', 'a', 'p', 'p', 0x04, 's', 'i', 't', 'e', 0x00,
	0x00, 0x01, 0x00, 0x01,
};
#define QUERY_B64 "AAABAAABAAAAAAAABndlYmFwcARzaXRlAAABAAE"

static void test_request(void **state)
{
	static const struct {
		const char *method, *path, *ctype;
		const uint8_t *body;
		size_t body_len;
		bool over;
		unsigned status;
	} rows[] = {
		{ "GET", "/dns-query?dns=" QUERY_B64, NULL, NULL, 0, false, 200 },
		{ "GET", "/dns-query?ct=x&dns=" QUERY_B64 "&z", NULL, NULL, 0, false, 200 },
		{ "GET", "/dns-query?dns=" QUERY_B64 "=", NULL, NULL, 0, false, 200 },
		{ "GET", "/dns-query?dns=" QUERY_B64 "+", NULL, NULL, 0, false, 400 },
		{ "GET", "/dns-query?dns=AAAA", NULL, NULL, 0, false, 400 },
		{ "GET", "/dns-query?dns=A", NULL, NULL, 0, false, 400 },
		{ "GET", "/dns-query?dn=" QUERY_B64, NULL, NULL, 0, false, 400 },
		{ "GET", "/dns-query", NULL, NULL, 0, false, 400 },
		{ "GET", "/dns-query?", NULL, NULL, 0, false, 400 },
		{ "GET", "/dns-queryx?dns=" QUERY_B64, NULL, NULL, 0, false, 404 },
		{ "GET", "/?dns=" QUERY_B64, NULL, NULL, 0, false, 404 },
		{ "POST", "/dns-query", "application/dns-message", QUERY, sizeof(QUERY), false, 200 },
		{ "POST", "/dns-query", "Application/DNS-Message; charset=x", QUERY, sizeof(QUERY),
		  false, 200 },
		{ "POST", "/dns-query", "application/dns-messages", QUERY, sizeof(QUERY), false, 415 },
		{ "POST", "/dns-query", "text/plain", QUERY, sizeof(QUERY), false, 415 },
		{ "POST", "/dns-query", NULL, QUERY, sizeof(QUERY), false, 415 },
		{ "POST", "/dns-query", "application/dns-message", QUERY, 11, false, 400 },
		{ "POST", "/dns-query", "application/dns-message", NULL, 0, true, 413 },
		{ "POST", "/other", "application/dns-message", QUERY, sizeof(QUERY), false, 404 },
		{ "PUT", "/dns-query", "application/dns-message", QUERY, sizeof(QUERY), false, 405 },
		{ "HEAD", "/dns-query?dns=" QUERY_B64, NULL, NULL, 0, false, 405 },
	};
	uint8_t msg[256];
	size_t i, len;
	unsigned st;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		st = doh_request(rows[i].method, rows[i].path, strlen(rows[i].path),
				 rows[i].ctype, rows[i].body, rows[i].body_len, rows[i].over,
				 msg, sizeof(msg), &len);
		if (st != rows[i].status)
			fail_msg("row %zu (%s %s): %u, want %u", i, rows[i].method,
				 rows[i].path, st, rows[i].status);
		if (st == 200) {
			assert_int_equal(len, sizeof(QUERY));
			assert_memory_equal(msg, QUERY, sizeof(QUERY));
		}
	}
}

static void test_min_ttl(void **state)
{
	/* webapp.site A with two answers (TTL 300, then 60 by pointer), an
	 * authority SOA-like record of TTL 30 and an OPT whose "TTL" is not
	 * one; then the same header claiming more records than it has. */
	static const uint8_t ans[] = {
		0x00, 0x00, 0x81, 0x80, 0x00, 0x01, 0x00, 0x02, 0x00, 0x01, 0x00, 0x01,
		0x06, 'w', 'e', 'b', 'a', 'p', 'p', 0x04, 's', 'i', 't', 'e', 0x00,
		0x00, 0x01, 0x00, 0x01,
		0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c, 0x00, 0x04,
		192, 0, 2, 10,
		0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x04,
		192, 0, 2, 11,
		0xc0, 0x13, 0x00, 0x10, 0x00, 0x01, 0x00, 0x00, 0x00, 0x1e, 0x00, 0x01,
		0x00,
		0x00, 0x00, 0x29, 0x04, 0xd0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	uint8_t bad[sizeof(ans)];
	uint32_t ttl = 0;

	(void)state;
	assert_true(doh_min_ttl(ans, sizeof(ans), &ttl));
	assert_int_equal(ttl, 30);
	/* Only the question: no record, no freshness. */
	memcpy(bad, ans, sizeof(ans));
	bad[7] = bad[9] = bad[11] = 0;
	assert_false(doh_min_ttl(bad, sizeof(ans), &ttl));
	/* Counts that run past the data. */
	bad[7] = 9;
	assert_false(doh_min_ttl(bad, sizeof(ans), &ttl));
	assert_false(doh_min_ttl(ans, 11, &ttl));
	/* RFC 2181 8: a TTL with the top bit set counts as 0. */
	memcpy(bad, ans, sizeof(ans));
	bad[35] = 0x80;
	assert_true(doh_min_ttl(bad, sizeof(ans), &ttl));
	assert_int_equal(ttl, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request),
		cmocka_unit_test(test_min_ttl),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
