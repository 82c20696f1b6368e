/*
 * test_name.c - canonical name keys (name.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tierdns/dnsproto.h"
#include "tierdns/name.h"

/* Wire names are written as C strings with the length bytes escaped; the
 * terminating 0 of the wire name is the string's own NUL (len includes it). */
#define W(s) (const uint8_t *)(s), sizeof(s)

static void test_key_from_wire_table(void **state)
{
	static const struct {
		const uint8_t *wire;
		size_t wire_len;
		const char *key;
		size_t key_len;
		int labels;
	} cases[] = {
		{ W(""), "", 0, 0 },
		{ W("\4site"), "\4site", 5, 1 },
		{ W("\6WebApp\4Site"), "\4site\6webapp", 12, 2 },
		{ W("\1a\1b\1c"), "\1c\1b\1a", 6, 3 },
		/* Non-letters are kept as they are (RFC 4343: ASCII case only). */
		{ W("\3A.\xc4\4site"), "\4site\3a.\xc4", 9, 2 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t key[NAME_KEY_MAX], wire[NAME_WIRE_MAX];
		size_t klen = 99, wlen = 0;

		assert_int_equal(name_key_from_wire(cases[i].wire, cases[i].wire_len,
						    key, &klen), TDNS_OK);
		assert_int_equal(klen, cases[i].key_len);
		if (klen > 0)
			assert_memory_equal(key, cases[i].key, klen);
		assert_int_equal(name_key_labels(key, klen), cases[i].labels);
		/* Back to wire: lower-cased, same length. */
		assert_int_equal(name_key_to_wire(key, klen, wire, &wlen), TDNS_OK);
		assert_int_equal(wlen, cases[i].wire_len);
		assert_int_equal(wire[wlen - 1], 0);
	}
}

/* dns_lower8 lower-cases every byte value in every lane as dns_lower does;
 * dns_caseeq agrees with a byte-by-byte compare for every pair of byte
 * values, at every position of runs short and long (the byte loop, whole
 * words, the overlapping last word). */
static void test_caseeq_bytes(void **state)
{
	static const size_t lens[] = { 1, 7, 8, 9, 13, 16, 21 };
	uint8_t a[32], b[32];
	unsigned x, y, lane;
	size_t li, at;

	(void)state;
	for (x = 0; x < 256; x++) {
		for (lane = 0; lane < 8; lane++) {
			uint64_t w, l;
			uint8_t bytes[8];

			memset(bytes, 'Q', sizeof(bytes));
			bytes[lane] = (uint8_t)x;
			memcpy(&w, bytes, 8);
			l = dns_lower8(w);
			memcpy(bytes, &l, 8);
			assert_int_equal(bytes[lane], dns_lower((uint8_t)x));
			assert_int_equal(bytes[(lane + 1) % 8], 'q');
		}
	}
	for (li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
		size_t n = lens[li];

		for (at = 0; at < n; at++) {
			for (x = 0; x < 256; x++) {
				for (y = 0; y < 256; y++) {
					memset(a, 'm', n);
					memset(b, 'M', n);
					a[at] = (uint8_t)x;
					b[at] = (uint8_t)y;
					assert_int_equal(dns_caseeq(a, b, n),
							 dns_lower((uint8_t)x) ==
								 dns_lower((uint8_t)y));
				}
			}
		}
	}
	assert_true(dns_caseeq(a, b, 0));
}

/* Random names (labels of 1 to 63 bytes, any bytes, up to the 255-byte
 * limit) against a byte-by-byte reference: the labels reversed and
 * lower-cased, nothing written past the key, and the name read from the
 * very end of its buffer as well as from the middle of a longer one. */
static void test_key_from_wire_random(void **state)
{
	uint8_t buf[NAME_WIRE_MAX + 16], key[NAME_KEY_MAX + 16], want[NAME_KEY_MAX];
	uint64_t seed = 0x9e3779b97f4a7c15ull;

	(void)state;
	for (int round = 0; round < 20000; round++) {
		size_t starts[128], n = 0, len = 0, klen = 0, at, d = 0;

		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		for (;;) {
			size_t l = 1 + (seed >> 33) % (round % 3 == 0 ? 63 : 12);

			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			if (len + 1 + l + 1 > NAME_WIRE_MAX || (seed >> 60) == 0)
				break;
			starts[n++] = len;
			buf[len] = (uint8_t)l;
			for (size_t j = 1; j <= l; j++) {
				seed = seed * 6364136223846793005ull + 1442695040888963407ull;
				buf[len + j] = (uint8_t)(seed >> 56);
			}
			len += 1 + l;
		}
		buf[len++] = 0;
		/* The reference: labels last to first, a byte at a time. */
		for (size_t i = n; i-- > 0;) {
			for (size_t j = 0; j <= buf[starts[i]]; j++)
				want[d + j] = dns_lower(buf[starts[i] + j]);
			d += (size_t)buf[starts[i]] + 1;
		}
		assert_int_equal(d, len - 1);
		for (at = 0; at < 2; at++) {
			/* at 0: the name ends its (heap) buffer, so that a read
			 * past it is caught; 1: 16 bytes follow it. */
			uint8_t *w = malloc(len + at * 16);

			assert_non_null(w);
			memcpy(w, buf, len);
			memset(w + len, 0x5a, at * 16);
			memset(key, 0xa5, sizeof(key));
			assert_int_equal(name_key_from_wire(w, len + at * 16, key, &klen),
					 TDNS_OK);
			free(w);
			assert_int_equal(klen, len - 1);
			if (klen > 0)
				assert_memory_equal(key, want, klen);
			for (size_t j = klen; j < sizeof(key); j++)
				assert_int_equal(key[j], 0xa5);
		}
	}
}

static void test_key_from_wire_malformed(void **state)
{
	uint8_t long_label[70], long_name[300], key[NAME_KEY_MAX];
	size_t klen, i;

	(void)state;
	/* No terminator within the buffer. */
	assert_int_equal(name_key_from_wire((const uint8_t *)"\4site", 5, key, &klen),
			 TDNS_EINVAL);
	/* Label runs past the end. */
	assert_int_equal(name_key_from_wire((const uint8_t *)"\011ab", 4, key, &klen),
			 TDNS_EINVAL);
	/* Compression pointer (0xc0) is not a label. */
	assert_int_equal(name_key_from_wire((const uint8_t *)"\xc0\x0c", 2, key, &klen),
			 TDNS_EINVAL);
	/* Empty buffer. */
	assert_int_equal(name_key_from_wire((const uint8_t *)"", 0, key, &klen),
			 TDNS_EINVAL);
	/* Label of 64. */
	memset(long_label, 'a', sizeof(long_label));
	long_label[0] = 64;
	long_label[65] = 0;
	assert_int_equal(name_key_from_wire(long_label, 66, key, &klen), TDNS_EINVAL);
	/* 256-byte name: 4 labels of 63 (256 bytes with the root). */
	memset(long_name, 'a', sizeof(long_name));
	for (i = 0; i < 4; i++)
		long_name[i * 64] = 63;
	long_name[256] = 0;
	assert_int_equal(name_key_from_wire(long_name, 257, key, &klen), TDNS_EINVAL);
	/* 255 bytes is the limit and fine: 3 x (1 + 63) + (1 + 61) + root. */
	long_name[3 * 64] = 61;
	long_name[254] = 0;
	assert_int_equal(name_key_from_wire(long_name, 255, key, &klen), TDNS_OK);
	assert_int_equal(klen, 254);
	assert_int_equal(name_key_labels(key, klen), 4);
}

static void test_key_malformed(void **state)
{
	uint8_t wire[NAME_WIRE_MAX];
	size_t wlen, ends[NAME_KEY_ENDS];

	(void)state;
	assert_int_equal(name_key_labels((const uint8_t *)"\5ab", 3), -1);
	assert_int_equal(name_key_labels((const uint8_t *)"\0", 1), -1);
	assert_int_equal(name_key_labels((const uint8_t *)"\x40", 1), -1);
	assert_int_equal(name_key_ancestors((const uint8_t *)"\5ab", 3, ends), -1);
	assert_int_equal(name_key_ancestors((const uint8_t *)"\0", 1, ends), -1);
	assert_int_equal(name_key_to_wire((const uint8_t *)"\4sit", 4, wire, &wlen),
			 TDNS_EINVAL);
}

static void test_prefix_and_subdomain(void **state)
{
	const uint8_t *k = (const uint8_t *)"\4site\6webapp\3www";
	size_t klen = 16, ends[NAME_KEY_ENDS];
	uint8_t many[NAME_KEY_MAX];

	(void)state;
	assert_int_equal(name_key_labels(k, klen), 3);
	assert_int_equal(name_key_prefix_len(k, klen, 0), 0);
	assert_int_equal(name_key_prefix_len(k, klen, 1), 5);
	assert_int_equal(name_key_prefix_len(k, klen, 2), 12);
	assert_int_equal(name_key_prefix_len(k, klen, 3), 16);
	assert_int_equal(name_key_ancestors(k, klen, ends), 3);
	assert_int_equal(ends[0], 0);
	assert_int_equal(ends[1], 5);
	assert_int_equal(ends[2], 12);
	assert_int_equal(ends[3], 16);
	assert_int_equal(name_key_ancestors(k, 0, ends), 0); /* the root */
	assert_int_equal(ends[0], 0);
	/* The most labels a key has: 127 of one byte, 254 bytes. */
	for (size_t i = 0; i < NAME_KEY_MAX; i += 2)
		memcpy(many + i, "\1a", 2);
	assert_int_equal(name_key_ancestors(many, NAME_KEY_MAX, ends), 127);
	assert_int_equal(ends[126], 252);
	assert_int_equal(ends[127], NAME_KEY_MAX);
	assert_true(name_key_is_subdomain(k, klen, k, 5));
	assert_true(name_key_is_subdomain(k, klen, k, 0)); /* under the root */
	assert_true(name_key_is_subdomain(k, klen, k, klen));
	assert_false(name_key_is_subdomain(k, klen, (const uint8_t *)"\4sitf", 5));
	/* "sites." is not below "site." (length byte differs). */
	assert_false(name_key_is_subdomain((const uint8_t *)"\5sites", 6, k, 5));
	assert_false(name_key_is_subdomain(k, 5, k, klen));
}

static void test_record_key(void **state)
{
	static const struct {
		const char *key;
		size_t klen;
		uint16_t type;
	} cases[] = {
		{ "", 0, 6 },
		{ "\4site", 5, 1 },
		{ "\4site\6webapp", 12, 65534 },
		{ "\1\0", 2, 28 }, /* a label holding a 0x00 byte */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t rk[RECORD_KEY_MAX];
		size_t len, klen = 99;
		uint16_t type = 0;

		len = name_record_key((const uint8_t *)cases[i].key, cases[i].klen,
				      cases[i].type, rk);
		assert_int_equal(len, cases[i].klen + 3);
		assert_int_equal(rk[cases[i].klen], 0);
		assert_int_equal(rk[cases[i].klen + 1], cases[i].type >> 8);
		assert_true(name_record_key_split(rk, len, &klen, &type));
		assert_int_equal(klen, cases[i].klen);
		assert_int_equal(type, cases[i].type);
		/* One byte short or long is malformed. */
		assert_false(name_record_key_split(rk, len - 1, &klen, &type));
	}
	assert_false(name_record_key_split((const uint8_t *)"\4site", 5, NULL, NULL));
	assert_false(name_record_key_split((const uint8_t *)"\x50xx\0\0\1", 7, NULL, NULL));
}

static void test_ordering(void **state)
{
	/* The apex's RRsets sort before its children: the 0x00 after the name
	 * is below every label length byte. */
	uint8_t apex_soa[RECORD_KEY_MAX], child_a[RECORD_KEY_MAX];
	size_t l1, l2;

	(void)state;
	l1 = name_record_key((const uint8_t *)"\4site", 5, 65535, apex_soa);
	l2 = name_record_key((const uint8_t *)"\4site\1a", 7, 1, child_a);
	assert_true(memcmp(apex_soa, child_a, l1 < l2 ? l1 : l2) < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_from_wire_table),
		cmocka_unit_test(test_key_from_wire_malformed),
		cmocka_unit_test(test_key_from_wire_random),
		cmocka_unit_test(test_caseeq_bytes),
		cmocka_unit_test(test_key_malformed),
		cmocka_unit_test(test_prefix_and_subdomain),
		cmocka_unit_test(test_record_key),
		cmocka_unit_test(test_ordering),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
