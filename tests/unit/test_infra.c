/*
 * test_infra.c - upstream health shared by all workers: RTT smoothing,
 * death after failures in a row, one probe at a time with a doubling
 * backoff, 0x20 turned off after repeated case failures, and the events
 * that must be seen once even when several threads report at once.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tierdns/infra.h"

static void test_rtt_and_death(void **state)
{
	struct tdns_infra *inf = NULL;
	struct infra_state s;
	uint32_t backoff = 0;

	(void)state;
	assert_int_equal(infra_new(0, &inf), TDNS_EINVAL);
	assert_int_equal(infra_new(2, &inf), TDNS_OK);
	assert_int_equal(infra_peek(inf, 0, 0), INFRA_USE);

	/* RFC 6298: the first sample sets SRTT, the next moves it by 1/8. */
	assert_int_equal(infra_report(inf, 0, true, 100, false, 10, NULL), INFRA_EV_NONE);
	assert_int_equal(infra_report(inf, 0, true, 200, false, 20, NULL), INFRA_EV_NONE);
	infra_get(inf, 0, &s);
	assert_int_equal(s.srtt_ms, 112);

	/* One failure: suspect, still used; the second: dead, reported once. */
	assert_int_equal(infra_report(inf, 0, false, 0, false, 1000, NULL), INFRA_EV_NONE);
	assert_int_equal(infra_peek(inf, 0, 1000), INFRA_USE);
	assert_int_equal(infra_report(inf, 0, false, 0, false, 1000, &backoff),
			 INFRA_EV_DEAD);
	assert_int_equal(backoff, INFRA_BACKOFF_MIN_MS);
	assert_int_equal(infra_report(inf, 0, false, 0, false, 1001, NULL), INFRA_EV_NONE);
	assert_int_equal(infra_peek(inf, 0, 1500), INFRA_SKIP);
	/* The other upstream knows nothing of it. */
	assert_int_equal(infra_peek(inf, 1, 1500), INFRA_USE);

	/* Due for a probe: one caller gets it, the next is told to skip. */
	assert_int_equal(infra_peek(inf, 0, 2001), INFRA_PROBE);
	assert_int_equal(infra_claim(inf, 0, 2001), INFRA_PROBE);
	assert_int_equal(infra_claim(inf, 0, 2001), INFRA_SKIP);
	/* A failed probe doubles the backoff. */
	assert_int_equal(infra_report(inf, 0, false, 0, true, 2100, &backoff),
			 INFRA_EV_NONE);
	assert_int_equal(backoff, 2 * INFRA_BACKOFF_MIN_MS);
	assert_int_equal(infra_peek(inf, 0, 4099), INFRA_SKIP);
	assert_int_equal(infra_claim(inf, 0, 4100), INFRA_PROBE);
	/* A probe given back without a verdict frees the next one. */
	infra_probe_abandon(inf, 0);
	assert_int_equal(infra_claim(inf, 0, 4100), INFRA_PROBE);
	/* It answers: alive again, once; backoff and failures reset. */
	assert_int_equal(infra_report(inf, 0, true, 50, true, 4150, NULL), INFRA_EV_ALIVE);
	assert_int_equal(infra_report(inf, 0, true, 50, false, 4160, NULL), INFRA_EV_NONE);
	infra_get(inf, 0, &s);
	assert_int_equal(s.fails, 0);
	assert_int_equal(s.backoff_ms, INFRA_BACKOFF_MIN_MS);
	assert_int_equal(infra_peek(inf, 0, 4160), INFRA_USE);
	infra_free(inf);
}

static void test_backoff_is_capped(void **state)
{
	struct tdns_infra *inf = NULL;
	uint32_t backoff = 0;
	uint64_t now = 0;

	(void)state;
	assert_int_equal(infra_new(1, &inf), TDNS_OK);
	infra_report(inf, 0, false, 0, false, now, NULL);
	infra_report(inf, 0, false, 0, false, now, NULL);
	for (int i = 0; i < 20; i++) {
		now += backoff + INFRA_BACKOFF_MAX_MS;
		assert_int_equal(infra_claim(inf, 0, now), INFRA_PROBE);
		infra_report(inf, 0, false, 0, true, now, &backoff);
	}
	assert_int_equal(backoff, INFRA_BACKOFF_MAX_MS);
	infra_free(inf);
}

static void test_case_strikes(void **state)
{
	struct tdns_infra *inf = NULL;
	struct infra_state s;

	(void)state;
	assert_int_equal(infra_new(1, &inf), TDNS_OK);
	/* Two plain-only answers, then one with 0x20: the count starts over. */
	assert_false(infra_case_report(inf, 0, false));
	assert_false(infra_case_report(inf, 0, false));
	assert_false(infra_case_report(inf, 0, true));
	assert_false(infra_case_report(inf, 0, false));
	assert_false(infra_case_report(inf, 0, false));
	assert_true(infra_case_report(inf, 0, false));
	assert_false(infra_case_report(inf, 0, false));
	assert_false(infra_case_report(inf, 0, true));
	infra_get(inf, 0, &s);
	assert_true(s.no_0x20);
	infra_free(inf);
}

/* Two workers see the same dead upstream at once: it dies once, and only
 * one of them gets its probe. */
struct racer {
	struct tdns_infra *inf;
	int dead, probes;
};

static void *race(void *arg)
{
	struct racer *r = arg;

	for (int i = 0; i < 20000; i++)
		if (infra_report(r->inf, 0, false, 0, false, 0, NULL) == INFRA_EV_DEAD)
			r->dead++;
	for (int i = 0; i < 20000; i++)
		if (infra_claim(r->inf, 0, UINT64_MAX / 2) == INFRA_PROBE)
			r->probes++;
	return NULL;
}

static void test_shared_by_threads(void **state)
{
	struct racer r[2];
	pthread_t th[2];
	struct tdns_infra *inf = NULL;

	(void)state;
	assert_int_equal(infra_new(1, &inf), TDNS_OK);
	for (int i = 0; i < 2; i++) {
		r[i].inf = inf;
		r[i].dead = r[i].probes = 0;
		assert_int_equal(pthread_create(&th[i], NULL, race, &r[i]), 0);
	}
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	assert_int_equal(r[0].dead + r[1].dead, 1);
	assert_int_equal(r[0].probes + r[1].probes, 1);
	infra_free(inf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rtt_and_death),
		cmocka_unit_test(test_backoff_is_capped),
		cmocka_unit_test(test_case_strikes),
		cmocka_unit_test(test_shared_by_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
