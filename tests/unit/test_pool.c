/*
 * test_pool.c - the bounded reuse stack (pool.h): zeroed objects, reuse of
 * what was put back, at most POOL_MAX kept (LeakSanitizer checks that the
 * rest is freed), drain.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tierdns/pool.h"

struct obj {
	uint64_t a;
	char text[40];
};

static void test_get_put_reuse(void **state)
{
	struct tdns_pool p = { 0 };
	struct obj *o, *again;

	(void)state;
	o = pool_get(&p, sizeof(*o));
	assert_non_null(o);
	assert_int_equal(o->a, 0);
	o->a = 42;
	strcpy(o->text, "dirty");
	pool_put(&p, o);
	assert_int_equal(p.n, 1);
	again = pool_get(&p, sizeof(*again));
	/* The same memory, handed out zeroed. */
	assert_ptr_equal(again, o);
	assert_int_equal(again->a, 0);
	assert_int_equal(again->text[0], '\0');
	assert_int_equal(p.n, 0);
	pool_put(&p, NULL);
	assert_int_equal(p.n, 0);
	pool_put(&p, again);
	pool_drain(&p);
	assert_int_equal(p.n, 0);
}

static void test_bounded(void **state)
{
	struct tdns_pool p = { 0 };
	struct obj *objs[POOL_MAX + 10];
	size_t i;

	(void)state;
	for (i = 0; i < POOL_MAX + 10; i++) {
		objs[i] = pool_get(&p, sizeof(struct obj));
		assert_non_null(objs[i]);
	}
	for (i = 0; i < POOL_MAX + 10; i++)
		pool_put(&p, objs[i]);
	assert_int_equal(p.n, POOL_MAX);
	pool_drain(&p);
	assert_int_equal(p.n, 0);
	/* Usable again after a drain. */
	pool_put(&p, pool_get(&p, sizeof(struct obj)));
	assert_int_equal(p.n, 1);
	pool_drain(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_put_reuse),
		cmocka_unit_test(test_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
