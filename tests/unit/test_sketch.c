/*
 * test_sketch.c - the frequency sketch (sketch.h): counts grow with use up
 * to SKETCH_MAX, keys keep apart, every count halves after SKETCH_SAMPLE
 * increments, and the hash depends on name and type.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tierdns/sketch.h"

static uint64_t h_of(const struct tdns_sketch *s, unsigned i)
{
	char key[32];

	snprintf(key, sizeof(key), "\x04site\x06name%u", i % 100000);
	return sketch_hash(s, (const uint8_t *)key, strlen(key), 1);
}

static void test_counts(void **state)
{
	struct tdns_sketch *s = NULL;
	unsigned over = 0;

	(void)state;
	assert_int_equal(sketch_new(&s), TDNS_OK);
	assert_int_equal(sketch_count(s, h_of(s, 1)), 0);
	for (unsigned i = 0; i < 7; i++)
		sketch_add(s, h_of(s, 1));
	assert_int_equal(sketch_count(s, h_of(s, 1)), 7);
	for (unsigned i = 0; i < 100; i++)
		sketch_add(s, h_of(s, 1));
	assert_int_equal(sketch_count(s, h_of(s, 1)), SKETCH_MAX);
	/* 10,000 other keys once each: few read above their true count. */
	for (unsigned i = 2; i < 10002; i++)
		sketch_add(s, h_of(s, i));
	for (unsigned i = 2; i < 10002; i++)
		over += sketch_count(s, h_of(s, i)) > 1;
	assert_true(over < 100);
	/* A name and type hash differently from the same name, another type. */
	assert_true(sketch_hash(s, (const uint8_t *)"\x04site", 5, 1) !=
		    sketch_hash(s, (const uint8_t *)"\x04site", 5, 28));
	sketch_free(s);
}

static void test_aging(void **state)
{
	struct tdns_sketch *s = NULL;
	uint64_t hot;
	unsigned n = 0;

	(void)state;
	assert_int_equal(sketch_new(&s), TDNS_OK);
	hot = h_of(s, 7);
	for (unsigned i = 0; i < 12; i++)
		sketch_add(s, hot);
	n = 12;
	/* Fill up to just before the halving with other keys. */
	for (unsigned i = 0; n < SKETCH_SAMPLE - 1; i++, n++)
		sketch_add(s, h_of(s, 100000 + i) ^ 0x5555);
	assert_true(sketch_count(s, hot) >= 12);
	sketch_add(s, h_of(s, 99) ^ 0xaaaa); /* the SKETCH_SAMPLE-th: halving */
	assert_true(sketch_count(s, hot) >= 6 && sketch_count(s, hot) <= 7);
	sketch_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts),
		cmocka_unit_test(test_aging),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
