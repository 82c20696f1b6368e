/*
 * test_sketch.c - the frequency sketch (sketch.h): counts grow with use up
 * to SKETCH_MAX, keys keep apart, every count halves after ten counted uses
 * per word, sketch_seen counts one question in SKETCH_EVERY, and the hash
 * depends on name and type.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tierdns/sketch.h"

#define WORDS 1024u /* what sketch_new(1000) takes */

static size_t key_of(unsigned i, uint8_t *key)
{
	return (size_t)snprintf((char *)key, 32, "\x04site\x06name%u", i);
}

static void add(struct tdns_sketch *s, unsigned i, uint16_t type)
{
	uint8_t key[32];

	sketch_add(s, key, key_of(i, key), type);
}

static unsigned count(const struct tdns_sketch *s, unsigned i, uint16_t type)
{
	uint8_t key[32];

	return sketch_count(s, key, key_of(i, key), type);
}

static void test_counts(void **state)
{
	struct tdns_sketch *s = NULL;
	unsigned over = 0;

	(void)state;
	assert_int_equal(sketch_new(1000, &s), TDNS_OK);
	assert_int_equal(count(s, 1, 1), 0);
	for (unsigned i = 0; i < 7; i++)
		add(s, 1, 1);
	assert_int_equal(count(s, 1, 1), 7);
	assert_int_equal(count(s, 1, 28), 0); /* another type, another key */
	for (unsigned i = 0; i < 100; i++)
		add(s, 1, 1);
	assert_int_equal(count(s, 1, 1), SKETCH_MAX);
	/* 1,000 other keys once each (one per word): few read above 1. */
	for (unsigned i = 2; i < 1002; i++)
		add(s, i, 1);
	for (unsigned i = 2; i < 1002; i++)
		over += count(s, i, 1) > 1;
	assert_true(over < 50);
	sketch_free(s);
}

static void test_aging(void **state)
{
	struct tdns_sketch *s = NULL;
	unsigned n;

	(void)state;
	assert_int_equal(sketch_new(1000, &s), TDNS_OK);
	for (n = 0; n < 12; n++)
		add(s, 7, 1);
	/* Other keys up to just before the halving. */
	for (unsigned i = 0; n < WORDS * 10 - 1; i++, n++)
		add(s, 100000 + i % 50000, 1);
	assert_true(count(s, 7, 1) >= 12);
	add(s, 99, 1); /* the last before the halving: every count halves */
	assert_true(count(s, 7, 1) >= 6 && count(s, 7, 1) <= 7);
	sketch_free(s);
}

static void test_seen_samples(void **state)
{
	struct tdns_sketch *s = NULL;
	uint8_t key[32];
	size_t len = key_of(3, key);

	(void)state;
	assert_int_equal(sketch_new(1000, &s), TDNS_OK);
	for (unsigned i = 0; i < 8 * SKETCH_EVERY; i++)
		sketch_seen(s, key, len, 1);
	assert_int_equal(sketch_count(s, key, len, 1), 8);
	sketch_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts),
		cmocka_unit_test(test_aging),
		cmocka_unit_test(test_seen_samples),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
