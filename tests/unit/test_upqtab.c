/*
 * test_upqtab.c - the resolver's table of outstanding upstream queries
 * (src/upqtab.h): question keys (CD and class part of them), lookups by
 * key among colliding hashes, by token (a stale token after its slot is
 * reused finds nothing), the bound on slots, the list of all.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/upqtab.h"

/* A query of key k (a question key of name "a<n>."), its hash forced to
 * hash so that tests can make keys collide. */
static struct upq *query(unsigned n, uint16_t qtype, bool cd, uint32_t hash)
{
	struct upq *u = calloc(1, sizeof(*u));
	uint8_t wire[8] = { 2, 'a', (uint8_t)('0' + n), 0 }, qkey[NAME_KEY_MAX];
	size_t qkey_len;

	assert_non_null(u);
	assert_int_equal(name_key_from_wire(wire, 4, qkey, &qkey_len), TDNS_OK);
	u->key_len = upqtab_key(qkey, qkey_len, qtype, DNS_CLASS_IN, cd, u->key);
	u->qkey_len = qkey_len;
	u->hash = hash;
	return u;
}

static void test_key(void **state)
{
	uint8_t wire[] = { 3, 'w', 'w', 'w', 0 }, qkey[NAME_KEY_MAX];
	uint8_t k1[QUESTION_KEY_MAX], k2[QUESTION_KEY_MAX], k3[QUESTION_KEY_MAX];
	size_t qkey_len, n1, n2, n3;

	(void)state;
	assert_int_equal(name_key_from_wire(wire, sizeof(wire), qkey, &qkey_len), TDNS_OK);
	n1 = upqtab_key(qkey, qkey_len, DNS_TYPE_A, DNS_CLASS_IN, false, k1);
	n2 = upqtab_key(qkey, qkey_len, DNS_TYPE_A, DNS_CLASS_IN, true, k2);
	n3 = upqtab_key(qkey, qkey_len, DNS_TYPE_A, DNS_CLASS_CH, false, k3);
	/* record key || class || CD */
	assert_int_equal(n1, n2);
	assert_int_equal(n1, n3);
	assert_memory_equal(k1, k2, n1 - 1);
	assert_int_equal(k1[n1 - 1], 0);
	assert_int_equal(k2[n2 - 1], 1);
	assert_int_equal(dns_rd16(k3 + n3 - 3), DNS_CLASS_CH);
	assert_memory_not_equal(k1, k3, n1);
	assert_int_equal(upqtab_hash(k1, n1), upqtab_hash(k1, n1));
	assert_int_not_equal(upqtab_hash(k1, n1), upqtab_hash(k2, n2));
}

/* Keys whose hashes are equal are told apart by the key; CD makes
 * another question. */
static void test_find_colliding(void **state)
{
	struct upq_table t;
	struct upq *a = query(1, DNS_TYPE_A, false, 7), *b = query(2, DNS_TYPE_A, false, 7);
	struct upq *c = query(1, DNS_TYPE_A, true, 7);

	(void)state;
	assert_int_equal(upqtab_init(&t, 8), TDNS_OK);
	assert_null(upqtab_find(&t, a->key, a->key_len, a->hash));
	upqtab_add(&t, a);
	upqtab_add(&t, b);
	assert_ptr_equal(upqtab_find(&t, a->key, a->key_len, 7), a);
	assert_ptr_equal(upqtab_find(&t, b->key, b->key_len, 7), b);
	assert_null(upqtab_find(&t, c->key, c->key_len, 7));
	assert_null(upqtab_find(&t, a->key, a->key_len, 8));
	upqtab_add(&t, c);
	assert_ptr_equal(upqtab_find(&t, c->key, c->key_len, 7), c);
	upqtab_remove(&t, b);
	assert_null(upqtab_find(&t, b->key, b->key_len, 7));
	assert_ptr_equal(upqtab_find(&t, a->key, a->key_len, 7), a);
	assert_ptr_equal(upqtab_find(&t, c->key, c->key_len, 7), c);
	upqtab_remove(&t, a);
	upqtab_remove(&t, c);
	assert_int_equal(t.n_out, 0);
	upqtab_fini(&t);
	free(a);
	free(b);
	free(c);
}

/* A token finds its query while the attempt is current; a token of a
 * slot since reused, 0, or past the slots finds none. Low slots first;
 * the table holds n_slots at most. */
static void test_tokens_and_slots(void **state)
{
	struct upq_table t;
	struct upq *a = query(1, DNS_TYPE_A, false, 1), *b = query(2, DNS_TYPE_A, false, 2);
	struct upq *c = query(3, DNS_TYPE_A, false, 3);
	uint64_t old;

	(void)state;
	assert_int_equal(upqtab_init(&t, 2), TDNS_OK);
	upqtab_add(&t, a);
	assert_int_equal(a->slot, 0);
	upqtab_add(&t, b);
	assert_int_equal(b->slot, 1);
	assert_true(upqtab_full(&t));
	a->token = (uint64_t)5 << SLOT_BITS | a->slot;
	b->token = (uint64_t)6 << SLOT_BITS | b->slot;
	assert_ptr_equal(upqtab_by_token(&t, a->token), a);
	assert_ptr_equal(upqtab_by_token(&t, b->token), b);
	assert_null(upqtab_by_token(&t, 0));
	assert_null(upqtab_by_token(&t, (uint64_t)5 << SLOT_BITS | 2));
	assert_null(upqtab_by_token(&t, (uint64_t)9 << SLOT_BITS | a->slot));
	old = a->token;
	upqtab_remove(&t, a);
	assert_false(upqtab_full(&t));
	assert_null(upqtab_by_token(&t, old));
	upqtab_add(&t, c);
	assert_int_equal(c->slot, 0);
	c->token = (uint64_t)7 << SLOT_BITS | c->slot;
	assert_null(upqtab_by_token(&t, old));
	assert_ptr_equal(upqtab_by_token(&t, c->token), c);
	upqtab_remove(&t, b);
	upqtab_remove(&t, c);
	upqtab_fini(&t);
	free(a);
	free(b);
	free(c);
}

/* Every query is on the list of all, newest first, until removed. */
static void test_list(void **state)
{
	struct upq_table t;
	struct upq *q[3];
	struct upq *u;
	size_t n = 0;

	(void)state;
	assert_int_equal(upqtab_init(&t, 4), TDNS_OK);
	for (unsigned i = 0; i < 3; i++) {
		q[i] = query(i, DNS_TYPE_AAAA, false, i);
		upqtab_add(&t, q[i]);
	}
	assert_int_equal(t.n_out, 3);
	upqtab_remove(&t, q[1]);
	for (u = t.all; u != NULL; u = u->next)
		assert_ptr_equal(u, q[n++ == 0 ? 2 : 0]);
	assert_int_equal(n, 2);
	assert_int_equal(t.n_out, 2);
	upqtab_remove(&t, q[2]);
	assert_ptr_equal(t.all, q[0]);
	assert_null(q[0]->prev);
	upqtab_remove(&t, q[0]);
	assert_null(t.all);
	upqtab_fini(&t);
	for (unsigned i = 0; i < 3; i++)
		free(q[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key),
		cmocka_unit_test(test_find_colliding),
		cmocka_unit_test(test_tokens_and_slots),
		cmocka_unit_test(test_list),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
