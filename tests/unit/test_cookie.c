/*
 * test_cookie.c - RFC 9018 server cookies (cookie.h): what is valid (the
 * hour's lifetime, five minutes of skew, either secret, the client's
 * address), when a valid cookie is reissued, and the secret's text form.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tierdns/cookie.h"
#include "tierdns/dnsproto.h"

static const uint8_t CLIENT[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
#define NOW 1800000000u

static struct tdns_addr addr(const char *text)
{
	struct tdns_addr a;

	assert_int_equal(netio_addr_parse(text, 53, &a), TDNS_OK);
	return a;
}

/* Run cookie_answer on a query carrying CLIENT + server (slen bytes). */
static bool check(const struct tdns_cookie_cfg *cfg, const uint8_t *server, size_t slen,
		  const char *peer, uint32_t now, struct tdns_answer *a)
{
	uint8_t opt[40];
	struct tdns_qctx q;
	struct tdns_addr p = addr(peer);

	memcpy(opt, CLIENT, 8);
	if (slen > 0)
		memcpy(opt + 8, server, slen);
	q.cookie = opt;
	q.cookie_len = (uint8_t)(8 + slen);
	answer_reset(a);
	cookie_answer(cfg, &q, &p, now, a);
	assert_int_equal(a->cookie_len, 24);
	assert_memory_equal(a->cookie, CLIENT, 8);
	return a->cookie_ok;
}

static void test_validity(void **state)
{
	struct tdns_cookie_cfg cfg, other;
	struct tdns_addr p4 = addr("192.0.2.1"), p6 = addr("2001:db8::1");
	uint8_t sc[COOKIE_SERVER_LEN], bad[COOKIE_SERVER_LEN];
	struct tdns_answer a;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	assert_true(cookie_secret_parse("000102030405060708090a0b0c0d0e0f", cfg.secret));
	other = cfg;
	other.secret[0] ^= 1;

	/* Client cookie only: a fresh server cookie, version 1, timestamp now. */
	assert_false(check(&cfg, NULL, 0, "192.0.2.1", NOW, &a));
	assert_int_equal(a.cookie[8], 1);
	assert_int_equal(dns_rd32(a.cookie + 12), NOW);
	cookie_make(cfg.secret, CLIENT, &p4, NOW, sc);
	assert_memory_equal(a.cookie + 8, sc, 16);

	/* Valid for an hour, echoed as received while younger than half. */
	assert_true(check(&cfg, sc, 16, "192.0.2.1", NOW + COOKIE_REFRESH - 1, &a));
	assert_memory_equal(a.cookie + 8, sc, 16);
	assert_true(check(&cfg, sc, 16, "192.0.2.1", NOW + COOKIE_LIFETIME, &a));
	assert_int_equal(dns_rd32(a.cookie + 12), NOW + COOKIE_LIFETIME);
	assert_false(check(&cfg, sc, 16, "192.0.2.1", NOW + COOKIE_LIFETIME + 1, &a));
	/* From up to five minutes ahead (another server's clock). */
	assert_true(check(&cfg, sc, 16, "192.0.2.1", NOW - COOKIE_SKEW, &a));
	assert_false(check(&cfg, sc, 16, "192.0.2.1", NOW - COOKIE_SKEW - 1, &a));
	/* Another address, another secret, a flipped bit, a wrong version. */
	assert_false(check(&cfg, sc, 16, "192.0.2.2", NOW, &a));
	assert_false(check(&other, sc, 16, "192.0.2.1", NOW, &a));
	memcpy(bad, sc, 16);
	bad[15] ^= 0x80;
	assert_false(check(&cfg, bad, 16, "192.0.2.1", NOW, &a));
	memcpy(bad, sc, 16);
	bad[0] = 2;
	assert_false(check(&cfg, bad, 16, "192.0.2.1", NOW, &a));
	/* Not the RFC 9018 length: never valid, a new one is issued. */
	assert_false(check(&cfg, sc, 8, "192.0.2.1", NOW, &a));
	/* The alternate secret verifies, and the reissue is signed with the
	 * main one. */
	memcpy(other.alt, cfg.secret, COOKIE_SECRET_LEN);
	other.has_alt = true;
	assert_true(check(&other, sc, 16, "192.0.2.1", NOW + COOKIE_REFRESH, &a));
	cookie_make(other.secret, CLIENT, &p4, NOW + COOKIE_REFRESH, sc);
	assert_memory_equal(a.cookie + 8, sc, 16);
	/* IPv6 clients. */
	cookie_make(cfg.secret, CLIENT, &p6, NOW, sc);
	assert_true(check(&cfg, sc, 16, "2001:db8::1", NOW, &a));
	assert_false(check(&cfg, sc, 16, "2001:db8::2", NOW, &a));
}

static void test_secret_text(void **state)
{
	uint8_t s[COOKIE_SECRET_LEN] = { 0 };

	(void)state;
	assert_true(cookie_secret_parse("FFeeDDccBBaa99887766554433221100", s));
	assert_int_equal(s[0], 0xff);
	assert_int_equal(s[15], 0x00);
	assert_false(cookie_secret_parse("ffeeddccbbaa9988776655443322110", s));
	assert_false(cookie_secret_parse("ffeeddccbbaa998877665544332211000", s));
	assert_false(cookie_secret_parse("ffeeddccbbaa998877665544332211zz", s));
	assert_false(cookie_secret_parse("", s));
	assert_int_equal(s[0], 0xff); /* untouched by a failure */
}

/* A query of the encoder's shape: one question, an OPT last. */
static size_t query_with_opt(uint8_t *q)
{
	static const uint8_t m[] = {
		0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1,
		4, 's', 'i', 't', 'e', 0, 0, 1, 0, 1,
		0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 0,
	};

	memcpy(q, m, sizeof(m));
	return sizeof(m);
}

static void test_client_side(void **state)
{
	uint8_t secret[COOKIE_SECRET_LEN] = { 7 }, cc[8], cc2[8], out[512], got[COOKIE_SERVER_MAX];
	uint8_t q[64], reply[512];
	struct tdns_addr a1 = addr("192.0.2.1"), a2 = addr("192.0.2.2");
	static const uint8_t sc[16] = { 1, 0, 0, 0, 9, 9, 9, 9, 1, 2, 3, 4, 5, 6, 7, 8 };
	size_t len = query_with_opt(q), n, slen;

	(void)state;
	cookie_client_make(secret, &a1, cc);
	cookie_client_make(secret, &a2, cc2);
	assert_memory_not_equal(cc, cc2, 8); /* one per server */
	/* Client cookie only, then with the server's. */
	assert_true(cookie_client_add(q, len, cc, NULL, 0, out, sizeof(out), &n));
	assert_int_equal(n, len + 12);
	assert_int_equal(dns_rd16(out + len - 2), 12); /* OPT rdlength */
	assert_int_equal(dns_rd16(out + len), DNS_OPT_COOKIE);
	assert_memory_equal(out + len + 4, cc, 8);
	assert_true(cookie_client_add(q, len, cc, sc, 16, out, sizeof(out), &n));
	assert_int_equal(n, len + 28);
	assert_memory_equal(out + len + 12, sc, 16);
	/* A query that already has a COOKIE, or none OPT, goes as it is. */
	assert_false(cookie_client_add(out, n, cc, NULL, 0, reply, sizeof(reply), &n));
	q[11] = 0;
	assert_false(cookie_client_add(q, len - 11, cc, NULL, 0, out, sizeof(out), &n));
	q[11] = 1;
	/* Replies: ours (with a server cookie), forged, without. The reply is
	 * the query with QR set and the cookies appended. */
	assert_true(cookie_client_add(q, len, cc, sc, 16, reply, sizeof(reply), &n));
	reply[2] |= 0x80;
	assert_int_equal(cookie_client_check(reply, n, cc, got, &slen), COOKIE_REPLY_MATCH);
	assert_int_equal(slen, 16);
	assert_memory_equal(got, sc, 16);
	assert_int_equal(cookie_client_check(reply, n, cc2, got, &slen), COOKIE_REPLY_FORGED);
	assert_int_equal(cookie_client_check(q, len, cc, got, &slen), COOKIE_REPLY_NONE);
	assert_int_equal(cookie_client_check(reply, 10, cc, got, &slen), COOKIE_REPLY_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_validity),
		cmocka_unit_test(test_secret_text),
		cmocka_unit_test(test_client_side),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
