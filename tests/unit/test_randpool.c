/*
 * test_randpool.c - the pool of getrandom output (randpool.h): a zeroed
 * pool fills at first use, every byte is handed out once and wiped, a
 * request larger than the pool spans refills.
 */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tierdns/randpool.h"

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

/* Bytes are taken from the front of what is left, and wiped there: the
 * pool never hands out the same bytes twice. */
static void test_handed_out_once(void **state)
{
	struct tdns_randpool p = { 0 };
	uint8_t a[16], copy[RANDPOOL_BYTES];

	(void)state;
	assert_int_equal(randpool_bytes(&p, a, sizeof(a)), TDNS_OK);
	assert_int_equal(p.left, RANDPOOL_BYTES - sizeof(a));
	/* 16 zero bytes from the kernel: one chance in 2^128. */
	assert_false(all_zero(a, sizeof(a)));
	assert_true(all_zero(p.buf, sizeof(a)));
	memcpy(copy, p.buf, sizeof(copy));
	assert_int_equal(randpool_bytes(&p, a, 2), TDNS_OK);
	assert_memory_equal(a, copy + 16, 2);
	assert_true(all_zero(p.buf, 18));
	assert_int_equal(p.left, RANDPOOL_BYTES - 18);
}

/* A request past what is left takes the rest, refills, and goes on. */
static void test_refill(void **state)
{
	struct tdns_randpool p = { 0 };
	uint8_t big[RANDPOOL_BYTES * 2 + 5], tail[RANDPOOL_BYTES];

	(void)state;
	assert_int_equal(randpool_bytes(&p, big, RANDPOOL_BYTES - 3), TDNS_OK);
	memcpy(tail, p.buf + RANDPOOL_BYTES - 3, 3);
	assert_int_equal(randpool_bytes(&p, big, sizeof(big)), TDNS_OK);
	assert_memory_equal(big, tail, 3);
	assert_int_equal(p.left, RANDPOOL_BYTES - 2);
	assert_false(all_zero(big + RANDPOOL_BYTES * 2 - 13, 16));
	assert_int_equal(randpool_bytes(&p, big, 0), TDNS_OK);
	assert_int_equal(p.left, RANDPOOL_BYTES - 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handed_out_once),
		cmocka_unit_test(test_refill),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
