/*
 * test_rrset.c - packed RRset values (rrset.h), including hostile ones.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tierdns/rrset.h"

static void test_roundtrip(void **state)
{
	static const struct {
		const char *rdata;
		uint16_t len;
	} recs[] = {
		{ "\xc0\x00\x02\x01", 4 },
		{ "", 0 }, /* empty rdata is legal (e.g. RFC 3597 \# 0) */
		{ "\x05hello", 6 },
	};
	uint8_t buf[64];
	struct tdns_rrset_enc e;
	struct tdns_rrset_view v;
	const uint8_t *rd;
	uint16_t rdlen;
	size_t pos = 0, i;

	(void)state;
	rrset_enc_init(&e, buf, sizeof(buf), 0x01020304);
	for (i = 0; i < 3; i++)
		assert_int_equal(rrset_enc_add(&e, (const uint8_t *)recs[i].rdata,
					       recs[i].len), TDNS_OK);
	assert_int_equal(e.count, 3);
	assert_int_equal(e.len, RRSET_HDR_LEN + 3 * 2 + 4 + 0 + 6);
	/* Network order, field by field. */
	assert_memory_equal(buf, "\x01\x02\x03\x04\x00\x03\x00\x04", 8);
	assert_int_equal(rrset_decode(buf, e.len, &v), TDNS_OK);
	assert_int_equal(v.ttl, 0x01020304);
	assert_int_equal(v.count, 3);
	for (i = 0; i < 3; i++) {
		assert_int_equal(rrset_next(&v, &pos, &rd, &rdlen), 1);
		assert_int_equal(rdlen, recs[i].len);
		if (rdlen > 0)
			assert_memory_equal(rd, recs[i].rdata, rdlen);
	}
	assert_int_equal(rrset_next(&v, &pos, &rd, &rdlen), 0);
}

/* An RRset with its signatures (rrset.h tail): the records, then the
 * RRSIGs with their own TTL, each readable as a view of its own. */
static void test_roundtrip_signed(void **state)
{
	uint8_t buf[64];
	struct tdns_rrset_enc e;
	struct tdns_rrset_view v, sigs;
	const uint8_t *rd;
	uint16_t rdlen;
	size_t pos = 0;

	(void)state;
	rrset_enc_init(&e, buf, sizeof(buf), 300);
	assert_int_equal(rrset_enc_add(&e, (const uint8_t *)"\xc0\0\2\1", 4), TDNS_OK);
	assert_int_equal(rrset_enc_add(&e, (const uint8_t *)"\xc0\0\2\2", 4), TDNS_OK);
	assert_int_equal(rrset_enc_sigs(&e, 600), TDNS_OK);
	assert_int_equal(rrset_enc_sigs(&e, 600), TDNS_EINVAL);
	assert_int_equal(rrset_enc_add(&e, (const uint8_t *)"sig1", 4), TDNS_OK);
	assert_int_equal(rrset_enc_add(&e, (const uint8_t *)"sig22", 5), TDNS_OK);
	assert_int_equal(e.len, RRSET_HDR_LEN + 2 * 6 + RRSET_HDR_LEN + 6 + 7);
	/* The data's count is kept, the tail counts its own. */
	assert_memory_equal(buf, "\0\0\x01\x2c\0\x02", 6);
	assert_memory_equal(buf + 18, "\0\0\x02\x58\0\x02", 6);
	assert_int_equal(rrset_decode(buf, e.len, &v), TDNS_OK);
	assert_int_equal(v.ttl, 300);
	assert_int_equal(v.count, 2);
	assert_int_equal(v.data_len, 12);
	assert_int_equal(v.sig_count, 2);
	assert_int_equal(v.sig_ttl, 600);
	/* Iterating the RRset never runs into its signatures. */
	assert_int_equal(rrset_next(&v, &pos, &rd, &rdlen), 1);
	assert_int_equal(rrset_next(&v, &pos, &rd, &rdlen), 1);
	assert_memory_equal(rd, "\xc0\0\2\2", 4);
	assert_int_equal(rrset_next(&v, &pos, &rd, &rdlen), 0);
	rrset_sigs(&v, &sigs);
	assert_int_equal(sigs.ttl, 600);
	assert_int_equal(sigs.count, 2);
	pos = 0;
	assert_int_equal(rrset_next(&sigs, &pos, &rd, &rdlen), 1);
	assert_memory_equal(rd, "sig1", 4);
	assert_int_equal(rrset_next(&sigs, &pos, &rd, &rdlen), 1);
	assert_int_equal(rdlen, 5);
	assert_int_equal(rrset_next(&sigs, &pos, &rd, &rdlen), 0);
	/* An unsigned RRset: no tail, no signatures. */
	rrset_enc_init(&e, buf, sizeof(buf), 300);
	assert_int_equal(rrset_enc_add(&e, (const uint8_t *)"abcd", 4), TDNS_OK);
	assert_int_equal(rrset_decode(buf, e.len, &v), TDNS_OK);
	assert_int_equal(v.sig_count, 0);
	rrset_sigs(&v, &sigs);
	assert_int_equal(sigs.count, 0);
}

static void test_enc_space(void **state)
{
	uint8_t buf[12];
	struct tdns_rrset_enc e;

	(void)state;
	rrset_enc_init(&e, buf, sizeof(buf), 60);
	assert_int_equal(rrset_enc_add(&e, (const uint8_t *)"abcd", 4), TDNS_OK);
	assert_int_equal(rrset_enc_add(&e, (const uint8_t *)"a", 1), TDNS_ESPACE);
	assert_int_equal(e.count, 1);
	/* A buffer smaller than the header never accepts anything. */
	rrset_enc_init(&e, buf, 3, 60);
	assert_int_equal(rrset_enc_add(&e, (const uint8_t *)"", 0), TDNS_ESPACE);
}

static void test_enc_count_limit(void **state)
{
	static uint8_t buf[RRSET_HDR_LEN + 2 * 65536];
	struct tdns_rrset_enc e;
	unsigned i;

	(void)state;
	rrset_enc_init(&e, buf, sizeof(buf), 1);
	for (i = 0; i < 65535; i++)
		assert_int_equal(rrset_enc_add(&e, NULL, 0), TDNS_OK);
	assert_int_equal(rrset_enc_add(&e, NULL, 0), TDNS_EINVAL);
}

static void test_decode_malformed(void **state)
{
	static const struct {
		const char *what;
		const char *val;
		size_t len;
	} cases[] = {
		{ "empty", "", 0 },
		{ "short header", "\0\0\0\1\0", 5 },
		{ "count 1, no record", "\0\0\0\1\0\1", 6 },
		{ "rdlength byte missing", "\0\0\0\1\0\1\0", 7 },
		{ "rdlength overruns", "\0\0\0\1\0\1\0\5abcd", 12 },
		{ "count lies high", "\0\0\0\1\0\2\0\1a", 9 },
		{ "count lies low (trailing bytes)", "\0\0\0\1\0\1\0\1ab", 10 },
		{ "huge rdlength", "\0\0\0\1\0\1\xff\xff" "a", 9 },
		{ "count 65535, one record", "\0\0\0\1\xff\xff\0\0", 8 },
		/* The signature tail (u32 ttl | u16 count | records). */
		{ "tail shorter than its header", "\0\0\0\1\0\1\0\1a" "\0\0\0\2\0", 14 },
		{ "tail with no signature", "\0\0\0\1\0\1\0\1a" "\0\0\0\2\0\0", 15 },
		{ "tail count lies high", "\0\0\0\1\0\1\0\1a" "\0\0\0\2\0\2\0\1s", 18 },
		{ "tail rdlength overruns", "\0\0\0\1\0\1\0\1a" "\0\0\0\2\0\1\0\5s", 18 },
		{ "bytes after the tail", "\0\0\0\1\0\1\0\1a" "\0\0\0\2\0\1\0\1sx", 19 },
	};
	struct tdns_rrset_view v;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("%s\n", cases[i].what);
		assert_int_equal(rrset_decode((const uint8_t *)cases[i].val,
					      cases[i].len, &v), TDNS_EINVAL);
	}
	assert_int_equal(rrset_decode(NULL, 10, &v), TDNS_EINVAL);
}

static void test_next_on_handmade_view(void **state)
{
	/* A view that was not made by rrset_decode must still not overrun. */
	static const uint8_t data[] = { 0x00, 0x09, 'a', 'b' };
	struct tdns_rrset_view v = { .ttl = 1, .count = 1, .data = data,
				     .data_len = sizeof(data) };
	const uint8_t *rd;
	uint16_t rdlen;
	size_t pos = 0;

	(void)state;
	assert_int_equal(rrset_next(&v, &pos, &rd, &rdlen), 0);
	pos = 3;
	assert_int_equal(rrset_next(&v, &pos, &rd, &rdlen), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_roundtrip_signed),
		cmocka_unit_test(test_enc_space),
		cmocka_unit_test(test_enc_count_limit),
		cmocka_unit_test(test_decode_malformed),
		cmocka_unit_test(test_next_on_handmade_view),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
