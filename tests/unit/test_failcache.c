/*
 * test_failcache.c - RFC 9520 3.2 failure memory: how long, how it grows,
 * how it is forgotten, and that a full set replaces the entry that lapses
 * soonest.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tierdns/failcache.h"

static void test_durations(void **state)
{
	static const uint8_t k[] = "\x04site\x03www\x00\x00\x01\x00\x01";
	struct tdns_failcache *fc = NULL;
	uint64_t t = 1000;

	(void)state;
	assert_int_equal(failcache_new(&fc), TDNS_OK);
	assert_false(failcache_hit(fc, k, sizeof(k), 7, t, 0));
	failcache_add(fc, k, sizeof(k), 7, t, false, 0);
	assert_true(failcache_hit(fc, k, sizeof(k), 7, t + FAILCACHE_MIN_MS - 1, 0));
	assert_false(failcache_hit(fc, k, sizeof(k), 7, t + FAILCACHE_MIN_MS, 0));
	/* Another key of the same set is another question. */
	assert_false(failcache_hit(fc, k, sizeof(k) - 1, 7, t, 0));
	/* Failing again soon after: twice as long. */
	t += FAILCACHE_MIN_MS + 1;
	failcache_add(fc, k, sizeof(k), 7, t, false, 0);
	assert_true(failcache_hit(fc, k, sizeof(k), 7, t + 2 * FAILCACHE_MIN_MS - 1, 0));
	assert_false(failcache_hit(fc, k, sizeof(k), 7, t + 2 * FAILCACHE_MIN_MS, 0));
	/* ... up to the cap: fail again each time it lapses. */
	for (int i = 0; i < 20; i++) {
		while (failcache_hit(fc, k, sizeof(k), 7, t, 0))
			t += 1000;
		failcache_add(fc, k, sizeof(k), 7, t, false, 0);
	}
	assert_true(failcache_hit(fc, k, sizeof(k), 7, t + FAILCACHE_MAX_MS - 1, 0));
	assert_false(failcache_hit(fc, k, sizeof(k), 7, t + FAILCACHE_MAX_MS, 0));
	/* Long after: back to the minimum. */
	t += 10 * FAILCACHE_MAX_MS;
	failcache_add(fc, k, sizeof(k), 7, t, false, 0);
	assert_false(failcache_hit(fc, k, sizeof(k), 7, t + FAILCACHE_MIN_MS, 0));
	/* An answer forgets it at once. */
	failcache_add(fc, k, sizeof(k), 7, t, false, 0);
	failcache_forget(fc, k, sizeof(k), 7);
	assert_false(failcache_hit(fc, k, sizeof(k), 7, t, 0));
	failcache_free(fc);
}

static void test_full_set(void **state)
{
	struct tdns_failcache *fc = NULL;
	uint8_t k[8];

	(void)state;
	assert_int_equal(failcache_new(&fc), TDNS_OK);
	/* FAILCACHE_WAYS + 1 questions in one set (same hash): the first,
	 * which lapses soonest, makes room for the last. */
	for (unsigned i = 0; i <= FAILCACHE_WAYS; i++) {
		memset(k, (int)i + 1, sizeof(k));
		failcache_add(fc, k, sizeof(k), 3, 100 + i, false, 0);
	}
	memset(k, 1, sizeof(k));
	assert_false(failcache_hit(fc, k, sizeof(k), 3, 200, 0));
	for (unsigned i = 1; i <= FAILCACHE_WAYS; i++) {
		memset(k, (int)i + 1, sizeof(k));
		assert_true(failcache_hit(fc, k, sizeof(k), 3, 200, 0));
	}
	failcache_free(fc);
}

/* The kind of failure is kept, the latest failure decides it, and a
 * failure to reach the upstreams lapses when the infra epoch moves on. */
static void test_kinds(void **state)
{
	static const uint8_t k[] = "\x04site\x03www\x00\x00\x01\x00\x01";
	struct tdns_failcache *fc = NULL;

	(void)state;
	assert_int_equal(failcache_new(&fc), TDNS_OK);
	failcache_add(fc, k, sizeof(k), 9, 1000, true, 41);
	assert_int_equal(failcache_hit(fc, k, sizeof(k), 9, 1000, 41), FAILCACHE_UNREACHABLE);
	assert_int_equal(failcache_hit(fc, k, sizeof(k), 9, 1000, 42), FAILCACHE_NONE);
	failcache_add(fc, k, sizeof(k), 9, 2000, false, 41);
	assert_int_equal(failcache_hit(fc, k, sizeof(k), 9, 2000, 41), FAILCACHE_RETURNED);
	assert_int_equal(failcache_hit(fc, k, sizeof(k), 9, 2000, 42), FAILCACHE_RETURNED);
	failcache_forget(fc, k, sizeof(k), 9);
	assert_int_equal(failcache_hit(fc, k, sizeof(k), 9, 2000, 41), FAILCACHE_NONE);
	failcache_free(fc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_full_set),
		cmocka_unit_test(test_kinds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
