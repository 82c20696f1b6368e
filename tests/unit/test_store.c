/*
 * test_store.c - the LMDB environment (store.h). Each test has a fresh
 * temporary directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <lmdb.h>

#include "testutil.h"
#include "tierdns/log.h"
#include "tierdns/store.h"

struct fx {
	char dir[64];
	char sub[128];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	tu_tmpdir(f->dir);
	/* A directory that does not exist yet, two levels deep. */
	snprintf(f->sub, sizeof(f->sub), "%s/var/store", f->dir);
	log_init("test_store", TDNS_LOG_ERR);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	tu_rmdir(f->dir);
	free(f);
	return 0;
}

static void put_str(struct tdns_txn *t, enum tdns_db db, const char *k, const char *v)
{
	assert_int_equal(store_put(t, db, (const uint8_t *)k, strlen(k), v, strlen(v)),
			 TDNS_OK);
}

static void test_open_creates_and_reopens(void **state)
{
	struct fx *f = *state;
	struct tdns_store *s = NULL;
	struct tdns_txn *t = NULL;
	struct tdns_val v;
	struct stat sb;
	uint8_t schema[4];

	assert_int_equal(store_open(f->sub, NULL, &s), TDNS_OK);
	assert_int_equal(stat(f->sub, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	assert_int_equal(store_begin(s, true, &t), TDNS_OK);
	put_str(t, TDNS_DB_RR, "key", "value");
	put_str(t, TDNS_DB_CACHE, "key", "other");
	assert_int_equal(store_commit(t), TDNS_OK);
	store_close(s);

	assert_int_equal(store_open(f->sub, NULL, &s), TDNS_OK);
	assert_int_equal(store_begin(s, false, &t), TDNS_OK);
	assert_int_equal(store_get(t, TDNS_DB_RR, (const uint8_t *)"key", 3, &v), TDNS_OK);
	assert_int_equal(v.len, 5);
	assert_memory_equal(v.data, "value", 5);
	/* The databases are separate key spaces. */
	assert_int_equal(store_get(t, TDNS_DB_CACHE, (const uint8_t *)"key", 3, &v),
			 TDNS_OK);
	assert_memory_equal(v.data, "other", 5);
	assert_int_equal(store_get(t, TDNS_DB_ZONES, (const uint8_t *)"key", 3, &v),
			 TDNS_ENOTFOUND);
	/* The schema key: u32, network order. */
	assert_int_equal(store_get(t, TDNS_DB_META, (const uint8_t *)"schema", 6, &v),
			 TDNS_OK);
	assert_int_equal(v.len, 4);
	schema[0] = (uint8_t)(STORE_SCHEMA_VERSION >> 24);
	schema[1] = (uint8_t)(STORE_SCHEMA_VERSION >> 16);
	schema[2] = (uint8_t)(STORE_SCHEMA_VERSION >> 8);
	schema[3] = (uint8_t)STORE_SCHEMA_VERSION;
	assert_memory_equal(v.data, schema, 4);
	assert_int_equal(store_count(t, TDNS_DB_RR), 1);
	assert_int_equal(store_count(t, TDNS_DB_ZONES), 0);
	assert_true(store_used_bytes(s) > 0);
	/* A read transaction cannot write. */
	assert_int_equal(store_put(t, TDNS_DB_RR, (const uint8_t *)"x", 1, "y", 1),
			 TDNS_EINVAL);
	store_abort(t);
	store_close(s);
}

static void test_schema_mismatch_refused(void **state)
{
	static const struct {
		const char *val;
		size_t len;
	} bad[] = {
		{ "\0\0\0\3", 4 },       /* a newer schema */
		{ "\0\0\0\1", 4 },       /* an older one (before DNSSEC) */
		{ "\0\0\1", 3 },         /* malformed */
	};
	struct fx *f = *state;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct tdns_store *s = NULL;
		struct tdns_txn *t = NULL;
		struct tdns_store_opts ro = { 0, STORE_RDONLY, 0 };
		char dir[160];

		snprintf(dir, sizeof(dir), "%s/s%zu", f->dir, i);
		assert_int_equal(store_open(dir, NULL, &s), TDNS_OK);
		assert_int_equal(store_begin(s, true, &t), TDNS_OK);
		assert_int_equal(store_put(t, TDNS_DB_META, (const uint8_t *)"schema", 6,
					   bad[i].val, bad[i].len), TDNS_OK);
		assert_int_equal(store_commit(t), TDNS_OK);
		store_close(s);
		s = NULL;
		assert_int_equal(store_open(dir, NULL, &s), TDNS_ESCHEMA);
		assert_null(s);
		assert_int_equal(store_open(dir, &ro, &s), TDNS_ESCHEMA);
		assert_null(s);
	}
}

/* Run store_open with stderr captured; returns the status, fills log. */
static enum tdns_status open_capturing(const char *dir, char *log, size_t cap)
{
	struct tdns_store *s = NULL;
	struct tu_capture c;
	enum tdns_status st;

	tu_stderr_capture(&c);
	st = store_open(dir, NULL, &s);
	tu_stderr_release(&c, log, cap);
	store_close(s);
	return st;
}

static void test_schema_mismatch_message(void **state)
{
	struct fx *f = *state;
	struct tdns_store *s = NULL;
	struct tdns_txn *t = NULL;
	char log[1024];

	assert_int_equal(store_open(f->dir, NULL, &s), TDNS_OK);
	assert_int_equal(store_begin(s, true, &t), TDNS_OK);
	assert_int_equal(store_put(t, TDNS_DB_META, (const uint8_t *)"schema", 6,
				   "\0\0\0\x2a", 4), TDNS_OK);
	assert_int_equal(store_commit(t), TDNS_OK);
	store_close(s);
	assert_int_equal(open_capturing(f->dir, log, sizeof(log)), TDNS_ESCHEMA);
	/* The operator learns both versions and that nothing was opened. */
	assert_non_null(strstr(log, "schema version 42"));
	{
		char want[64];

		snprintf(want, sizeof(want), "uses version %u", STORE_SCHEMA_VERSION);
		assert_non_null(strstr(log, want));
	}
	assert_non_null(strstr(log, "refusing"));
}

/* A store as schema 1 wrote it (no `dnssec` database), made with LMDB
 * directly: both opens refuse it for its schema, not as "not a tierdns
 * store", and the message says how to migrate. */
static void test_schema1_store_migration_message(void **state)
{
	static const char *const dbs[] = { "meta", "zones", "rr", "cache",
					   "cache_exp" };
	struct fx *f = *state;
	struct tdns_store_opts ro = { 0, STORE_RDONLY, 0 };
	struct tdns_store *s = NULL;
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi dbi;
	MDB_val k = { 6, (void *)"schema" }, v = { 4, (void *)"\0\0\0\1" };
	char log[2048];
	size_t i;

	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
	assert_int_equal(mdb_env_open(env, f->dir, 0, 0644), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	for (i = 0; i < sizeof(dbs) / sizeof(dbs[0]); i++)
		assert_int_equal(mdb_dbi_open(txn, dbs[i], MDB_CREATE, &dbi), 0);
	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);

	assert_int_equal(open_capturing(f->dir, log, sizeof(log)), TDNS_ESCHEMA);
	assert_non_null(strstr(log, "schema version 1"));
	assert_non_null(strstr(log, "To migrate"));
	assert_non_null(strstr(log, "tierdns-zone --db NEWDIR load"));
	assert_int_equal(store_open(f->dir, &ro, &s), TDNS_ESCHEMA);
	assert_null(s);
	/* Refused before anything was created in it. */
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
	assert_int_equal(mdb_env_open(env, f->dir, MDB_RDONLY, 0644), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "dnssec", 0, &dbi), MDB_NOTFOUND);
	mdb_txn_abort(txn);
	mdb_env_close(env);
}

/* With LMDB directly on the store in dir (no store open in this process):
 * put k -> v into the named database, creating it, or (k NULL) only open
 * it. The mdb_dbi_open or mdb_put result. */
static int raw_db(const char *dir, const char *name, MDB_val *k, MDB_val *v)
{
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi dbi;
	int rc;

	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
	assert_int_equal(mdb_env_open(env, dir, 0, 0644), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	rc = mdb_dbi_open(txn, name, k != NULL ? MDB_CREATE : 0, &dbi);
	if (rc == 0 && k != NULL)
		rc = mdb_put(txn, dbi, k, v, 0);
	if (rc == 0)
		assert_int_equal(mdb_txn_commit(txn), 0);
	else
		mdb_txn_abort(txn);
	mdb_env_close(env);
	return rc;
}

/* A store of this schema with the cache's old sampling index (cache_pick,
 * filled), made with LMDB directly: a read-only open leaves it, a
 * writable open drops it and the store keeps working. */
static void test_retired_db_dropped(void **state)
{
	struct fx *f = *state;
	struct tdns_store_opts ro = { 0, STORE_RDONLY, 0 };
	struct tdns_store *s = NULL;
	struct tdns_txn *t = NULL;
	struct tdns_val got;
	MDB_val k = { 4, (void *)"pick" }, v = { 0, (void *)"" };

	assert_int_equal(store_open(f->dir, NULL, &s), TDNS_OK);
	assert_int_equal(store_begin(s, true, &t), TDNS_OK);
	put_str(t, TDNS_DB_CACHE, "kept", "value");
	assert_int_equal(store_commit(t), TDNS_OK);
	store_close(s);
	assert_int_equal(raw_db(f->dir, "cache_pick", &k, &v), 0);

	assert_int_equal(store_open(f->dir, &ro, &s), TDNS_OK);
	store_close(s);
	assert_int_equal(raw_db(f->dir, "cache_pick", NULL, NULL), 0);

	assert_int_equal(store_open(f->dir, NULL, &s), TDNS_OK);
	store_close(s);
	assert_int_equal(raw_db(f->dir, "cache_pick", NULL, NULL), MDB_NOTFOUND);
	assert_int_equal(store_open(f->dir, NULL, &s), TDNS_OK);
	assert_int_equal(store_begin(s, false, &t), TDNS_OK);
	assert_int_equal(store_get(t, TDNS_DB_CACHE, (const uint8_t *)"kept", 4, &got),
			 TDNS_OK);
	assert_int_equal(got.len, 5);
	assert_memory_equal(got.data, "value", 5);
	store_abort(t);
	store_close(s);
}

static void test_rdonly_missing_store(void **state)
{
	struct fx *f = *state;
	struct tdns_store_opts ro = { 0, STORE_RDONLY, 0 };
	struct tdns_store *s = NULL;

	/* Read-only never creates anything. */
	assert_int_equal(store_open(f->sub, &ro, &s), TDNS_ENOTFOUND);
	assert_null(s);
	assert_int_not_equal(access(f->sub, F_OK), 0);
}

/* A store belongs to the tier that first opened it (STORE_TIER_*). */
static void test_tier_stamp(void **state)
{
	static const struct {
		const char *dir;   /* "a" or "b", under the fixture's dir */
		unsigned flags;
		enum tdns_status st;
	} steps[] = {
		{ "a", STORE_TIER_UPPER, TDNS_OK },               /* stamps "upper" */
		{ "a", STORE_TIER_UPPER, TDNS_OK },
		{ "a", STORE_TIER_LOCAL, TDNS_EWRONGTIER },
		{ "a", 0, TDNS_OK },                              /* tierdns-zone */
		{ "a", STORE_RDONLY | STORE_TIER_LOCAL, TDNS_EWRONGTIER },
		{ "b", 0, TDNS_OK },                              /* no stamp ... */
		{ "b", STORE_TIER_LOCAL, TDNS_OK },               /* ... until now */
		{ "b", STORE_TIER_UPPER, TDNS_EWRONGTIER },
	};
	struct fx *f = *state;
	struct tdns_store_opts o = { 0, 0, 0 };
	struct tdns_store *s = NULL;
	struct tdns_txn *t = NULL;
	char dir[160];
	size_t i;

	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		print_message("step %zu\n", i);
		snprintf(dir, sizeof(dir), "%s/%s", f->dir, steps[i].dir);
		o.flags = steps[i].flags;
		assert_int_equal(store_open(dir, &o, &s), steps[i].st);
		store_close(s);
		s = NULL;
	}
	/* Not stamped, but with cache entries: a local tier's store. */
	snprintf(dir, sizeof(dir), "%s/c", f->dir);
	assert_int_equal(store_open(dir, NULL, &s), TDNS_OK);
	assert_int_equal(store_begin(s, true, &t), TDNS_OK);
	put_str(t, TDNS_DB_CACHE, "k", "v");
	assert_int_equal(store_commit(t), TDNS_OK);
	store_close(s);
	o.flags = STORE_TIER_UPPER;
	assert_int_equal(store_open(dir, &o, &s), TDNS_EWRONGTIER);
	o.flags = STORE_TIER_LOCAL;
	assert_int_equal(store_open(dir, &o, &s), TDNS_OK);
	store_close(s);
}

static void test_get_put_del(void **state)
{
	struct fx *f = *state;
	struct tdns_store *s = NULL;
	struct tdns_txn *t = NULL;
	struct tdns_val v;

	assert_int_equal(store_open(f->dir, NULL, &s), TDNS_OK);
	assert_int_equal(store_begin(s, true, &t), TDNS_OK);
	put_str(t, TDNS_DB_RR, "a", "1");
	put_str(t, TDNS_DB_RR, "a", "22"); /* overwrite */
	assert_int_equal(store_get(t, TDNS_DB_RR, (const uint8_t *)"a", 1, &v), TDNS_OK);
	assert_int_equal(v.len, 2);
	assert_int_equal(store_del(t, TDNS_DB_RR, (const uint8_t *)"a", 1), TDNS_OK);
	assert_int_equal(store_del(t, TDNS_DB_RR, (const uint8_t *)"a", 1),
			 TDNS_ENOTFOUND);
	assert_int_equal(store_get(t, TDNS_DB_RR, (const uint8_t *)"a", 1, &v),
			 TDNS_ENOTFOUND);
	/* Insert-only: a new key is stored; a present one is left as it
	 * was and its value returned. */
	assert_int_equal(store_put_new(t, TDNS_DB_RR, (const uint8_t *)"n", 1, "333",
				       3, &v),
			 TDNS_OK);
	assert_int_equal(store_put_new(t, TDNS_DB_RR, (const uint8_t *)"n", 1, "4", 1,
				       &v),
			 TDNS_EEXIST);
	assert_int_equal(v.len, 3);
	assert_memory_equal(v.data, "333", 3);
	assert_int_equal(store_get(t, TDNS_DB_RR, (const uint8_t *)"n", 1, &v), TDNS_OK);
	assert_int_equal(v.len, 3);
	assert_int_equal(store_put_new(t, TDNS_DB_RR, (const uint8_t *)"", 0, "x", 1,
				       &v),
			 TDNS_EINVAL);
	/* LMDB keys are never empty. */
	assert_int_equal(store_put(t, TDNS_DB_RR, (const uint8_t *)"", 0, "x", 1),
			 TDNS_EINVAL);
	assert_int_equal(store_get(t, TDNS_DB_RR, (const uint8_t *)"", 0, &v),
			 TDNS_ENOTFOUND);
	/* An aborted write leaves nothing behind. */
	put_str(t, TDNS_DB_RR, "b", "2");
	store_abort(t);
	assert_int_equal(store_begin(s, false, &t), TDNS_OK);
	assert_int_equal(store_get(t, TDNS_DB_RR, (const uint8_t *)"b", 1, &v),
			 TDNS_ENOTFOUND);
	store_abort(t);
	store_abort(NULL);
	store_close(s);
}

static void test_cursor_semantics(void **state)
{
	static const char *keys[] = { "a", "ab", "b", "ba", "c" };
	struct fx *f = *state;
	struct tdns_store *s = NULL;
	struct tdns_txn *t = NULL;
	struct tdns_cursor *c = NULL;
	struct tdns_val k, v;
	size_t i;

	assert_int_equal(store_open(f->dir, NULL, &s), TDNS_OK);
	assert_int_equal(store_begin(s, true, &t), TDNS_OK);
	/* Empty database: seek finds nothing. */
	assert_int_equal(store_cursor_open(t, TDNS_DB_RR, &c), TDNS_OK);
	assert_int_equal(store_cursor_seek(c, NULL, 0, &k, &v), TDNS_ENOTFOUND);
	store_cursor_close(c);
	for (i = 5; i > 0; i--)
		put_str(t, TDNS_DB_RR, keys[i - 1], keys[i - 1]);
	assert_int_equal(store_cursor_open(t, TDNS_DB_RR, &c), TDNS_OK);
	/* From the start, keys come in byte order, a prefix first. */
	assert_int_equal(store_cursor_seek(c, NULL, 0, &k, &v), TDNS_OK);
	for (i = 0; i < 5; i++) {
		assert_int_equal(k.len, strlen(keys[i]));
		assert_memory_equal(k.data, keys[i], k.len);
		assert_memory_equal(v.data, keys[i], v.len);
		assert_int_equal(store_cursor_next(c, &k, &v),
				 i < 4 ? TDNS_OK : TDNS_ENOTFOUND);
	}
	/* Seek lands on the first key >= the probe. */
	assert_int_equal(store_cursor_seek(c, (const uint8_t *)"aa", 2, &k, NULL), TDNS_OK);
	assert_memory_equal(k.data, "ab", 2);
	assert_int_equal(store_cursor_seek(c, (const uint8_t *)"b", 1, &k, NULL), TDNS_OK);
	assert_int_equal(k.len, 1);
	assert_int_equal(store_cursor_seek(c, (const uint8_t *)"d", 1, &k, NULL),
			 TDNS_ENOTFOUND);
	/* Delete under the cursor; next moves to the following key. */
	assert_int_equal(store_cursor_seek(c, (const uint8_t *)"ab", 2, &k, NULL), TDNS_OK);
	assert_int_equal(store_cursor_del(c), TDNS_OK);
	assert_int_equal(store_cursor_next(c, &k, NULL), TDNS_OK);
	assert_int_equal(k.len, 1);
	assert_memory_equal(k.data, "b", 1);
	store_cursor_close(c);
	assert_int_equal(store_count(t, TDNS_DB_RR), 4);
	/* Two cursors at once (a closed one is reused) move independently. */
	{
		struct tdns_cursor *c2 = NULL;
		struct tdns_val k2;

		assert_int_equal(store_cursor_open(t, TDNS_DB_RR, &c), TDNS_OK);
		assert_int_equal(store_cursor_open(t, TDNS_DB_RR, &c2), TDNS_OK);
		assert_ptr_not_equal(c, c2);
		assert_int_equal(store_cursor_seek(c, NULL, 0, &k, NULL), TDNS_OK);
		assert_int_equal(store_cursor_seek(c2, (const uint8_t *)"c", 1, &k2, NULL),
				 TDNS_OK);
		assert_int_equal(store_cursor_next(c, &k, NULL), TDNS_OK);
		assert_memory_equal(k.data, "b", 1);
		assert_int_equal(store_cursor_next(c2, &k2, NULL), TDNS_ENOTFOUND);
		store_cursor_close(c2);
		store_cursor_close(c);
	}
	assert_int_equal(store_commit(t), TDNS_OK);
	store_close(s);
}

/* memcmp's order, a shorter key first when it is a prefix: LMDB's default,
 * which the store's comparison keeps (so any build reads any store). */
static int memcmp_order(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	return c != 0 ? c : alen < blen ? -1 : alen > blen;
}

struct okey {
	uint8_t b[40];
	size_t len;
};

static int okey_cmp(const void *x, const void *y)
{
	const struct okey *a = x, *b = y;

	return memcmp_order(a->b, a->len, b->b, b->len);
}

static void test_key_order(void **state)
{
	/* Keys sharing long prefixes, of every length around the 8-byte
	 * words the comparison reads, with the bytes at the ends of the
	 * range: 0x00, 0x7f, 0x80, 0xff. */
	static const uint8_t alphabet[] = { 0x00, 0x01, 0x05, 0x7f, 0x80, 0xfe, 0xff };
	enum { N = 3000 };
	struct okey *keys = calloc(N, sizeof(*keys));
	struct fx *f = *state;
	struct tdns_store *s = NULL;
	struct tdns_txn *t = NULL;
	struct tdns_cursor *c = NULL;
	struct tdns_val k;
	size_t n = 0, i;
	unsigned seed = 12345;

	assert_non_null(keys);
	for (i = 0; i < N; i++) {
		seed = seed * 1103515245u + 12345u;
		keys[i].len = 1 + (seed >> 16) % 24;
		/* half of them extend an earlier key by a few bytes */
		if (i > 0 && (seed & 0x100)) {
			const struct okey *o = &keys[(seed >> 9) % i];

			memcpy(keys[i].b, o->b, o->len);
			keys[i].len = o->len + 1 + (seed >> 20) % 9;
			if (keys[i].len > sizeof(keys[i].b))
				keys[i].len = sizeof(keys[i].b);
			for (size_t j = o->len; j < keys[i].len; j++) {
				seed = seed * 1103515245u + 12345u;
				keys[i].b[j] = alphabet[(seed >> 16) % sizeof(alphabet)];
			}
			continue;
		}
		for (size_t j = 0; j < keys[i].len; j++) {
			seed = seed * 1103515245u + 12345u;
			keys[i].b[j] = alphabet[(seed >> 16) % sizeof(alphabet)];
		}
	}
	assert_int_equal(store_open(f->dir, NULL, &s), TDNS_OK);
	assert_int_equal(store_begin(s, true, &t), TDNS_OK);
	for (i = 0; i < N; i++)
		assert_int_equal(store_put(t, TDNS_DB_RR, keys[i].b, keys[i].len, "v", 1),
				 TDNS_OK);
	assert_int_equal(store_commit(t), TDNS_OK);
	qsort(keys, N, sizeof(*keys), okey_cmp);
	for (i = 0; i < N; i++)
		if (n == 0 || okey_cmp(&keys[n - 1], &keys[i]) != 0)
			keys[n++] = keys[i];
	/* A walk gives exactly the distinct keys in memcmp's order. */
	assert_int_equal(store_begin(s, false, &t), TDNS_OK);
	assert_int_equal(store_cursor_open(t, TDNS_DB_RR, &c), TDNS_OK);
	assert_int_equal(store_cursor_seek(c, NULL, 0, &k, NULL), TDNS_OK);
	for (i = 0; i < n; i++) {
		assert_int_equal(k.len, keys[i].len);
		assert_memory_equal(k.data, keys[i].b, k.len);
		assert_int_equal(store_cursor_next(c, &k, NULL), i + 1 < n ? TDNS_OK : TDNS_ENOTFOUND);
	}
	/* A seek to each key less its last byte lands where memcmp says. */
	for (i = 0; i < n; i += 7) {
		size_t plen = keys[i].len - 1, lo = 0;

		if (plen == 0)
			continue;
		while (lo < n && memcmp_order(keys[lo].b, keys[lo].len, keys[i].b, plen) < 0)
			lo++;
		assert_int_equal(store_cursor_seek(c, keys[i].b, plen, &k, NULL), TDNS_OK);
		assert_int_equal(k.len, keys[lo].len);
		assert_memory_equal(k.data, keys[lo].b, k.len);
	}
	store_cursor_close(c);
	store_abort(t);
	store_close(s);
	free(keys);
}

static void test_efull_on_tiny_map(void **state)
{
	struct fx *f = *state;
	struct tdns_store_opts opts = { 64 * 1024, 0, 0 };
	struct tdns_store *s = NULL;
	struct tdns_txn *t = NULL;
	uint8_t val[1000];
	enum tdns_status st = TDNS_OK;
	uint32_t i;

	memset(val, 0xab, sizeof(val));
	assert_int_equal(store_open(f->dir, &opts, &s), TDNS_OK);
	assert_int_equal(store_begin(s, true, &t), TDNS_OK);
	for (i = 0; i < 1000 && st == TDNS_OK; i++) {
		uint8_t key[4] = { (uint8_t)(i >> 24), (uint8_t)(i >> 16),
				   (uint8_t)(i >> 8), (uint8_t)i };

		st = store_put(t, TDNS_DB_CACHE, key, sizeof(key), val, sizeof(val));
	}
	assert_int_equal(st, TDNS_EFULL);
	store_abort(t);
	/* The store stays usable after the failed transaction. */
	assert_int_equal(store_begin(s, true, &t), TDNS_OK);
	put_str(t, TDNS_DB_CACHE, "small", "1");
	assert_int_equal(store_commit(t), TDNS_OK);
	store_close(s);
}

static void test_reset_renew_sees_new_commits(void **state)
{
	struct fx *f = *state;
	struct tdns_store *s = NULL;
	struct tdns_txn *r = NULL, *w = NULL;
	struct tdns_val v;

	assert_int_equal(store_open(f->dir, NULL, &s), TDNS_OK);
	assert_int_equal(store_begin(s, false, &r), TDNS_OK);
	assert_int_equal(store_begin(s, true, &w), TDNS_OK);
	put_str(w, TDNS_DB_RR, "k", "v1");
	assert_int_equal(store_commit(w), TDNS_OK);
	/* The old snapshot does not see it ... */
	assert_int_equal(store_get(r, TDNS_DB_RR, (const uint8_t *)"k", 1, &v),
			 TDNS_ENOTFOUND);
	/* ... a renewed one does, through gets and cursors alike. */
	{
		struct tdns_cursor *c = NULL;

		assert_int_equal(store_cursor_open(r, TDNS_DB_RR, &c), TDNS_OK);
		store_cursor_close(c);
		store_reset(r);
		assert_int_equal(store_renew(r), TDNS_OK);
		assert_int_equal(store_get(r, TDNS_DB_RR, (const uint8_t *)"k", 1, &v),
				 TDNS_OK);
		assert_memory_equal(v.data, "v1", 2);
		assert_int_equal(store_cursor_open(r, TDNS_DB_RR, &c), TDNS_OK);
		assert_int_equal(store_cursor_seek(c, NULL, 0, &v, NULL), TDNS_OK);
		assert_memory_equal(v.data, "k", 1);
		store_cursor_close(c);
	}
	assert_int_equal(store_renew(NULL), TDNS_EINVAL);
	/* MDB_NOTLS: one thread may hold two read transactions (a worker's
	 * long-lived one and a short one), each with its own snapshot. */
	{
		struct tdns_txn *r2 = NULL;

		assert_int_equal(store_begin(s, false, &r2), TDNS_OK);
		assert_int_equal(store_get(r2, TDNS_DB_RR, (const uint8_t *)"k", 1, &v),
				 TDNS_OK);
		store_abort(r2);
	}
	store_abort(r);
	store_close(s);
}

/* Get `k` in r, expecting `want` (NULL: absent). */
static void expect(struct tdns_txn *r, enum tdns_db db, const char *k, const char *want)
{
	struct tdns_val v;
	enum tdns_status st = store_get(r, db, (const uint8_t *)k, strlen(k), &v);

	if (want == NULL) {
		assert_int_equal(st, TDNS_ENOTFOUND);
		return;
	}
	assert_int_equal(st, TDNS_OK);
	assert_int_equal(v.len, strlen(want));
	assert_memory_equal(v.data, want, v.len);
}

/* Key i of test_memo_follows_snapshot's working set: every seventh too
 * long for the memo. */
static void memo_key(char *k, size_t n, int i)
{
	snprintf(k, n, i % 7 ? "key%d" : "%0100d", i);
}

/* Put (rewritten: every third) key i with value "v<i>" (rewritten: "w<i>"). */
static void memo_put_all(struct tdns_txn *w, bool rewritten)
{
	char k[128], val[32];

	for (int i = 0; i < 10000; i += rewritten ? 3 : 1) {
		memo_key(k, sizeof(k), i);
		snprintf(val, sizeof(val), "%c%d", rewritten ? 'w' : 'v', i);
		put_str(w, TDNS_DB_CACHE, k, val);
	}
}

/* Every key i reads "v<i>", or "w<i>" for every third once rewritten. */
static void memo_expect_all(struct tdns_txn *r, bool rewritten)
{
	char k[128], val[32];

	for (int i = 0; i < 10000; i++) {
		memo_key(k, sizeof(k), i);
		snprintf(val, sizeof(val), "%c%d", rewritten && i % 3 == 0 ? 'w' : 'v', i);
		expect(r, TDNS_DB_CACHE, k, val);
	}
}

/* A renewed read transaction remembers its gets for its snapshot only:
 * after a commit and a renewal every key, present, absent, changed or
 * deleted, reads as the new snapshot has it, in every database apart, and
 * in a working set far larger than the memo (evictions), with keys too
 * long to remember among them; a reset transaction answers nothing from
 * what it remembered. */
static void test_memo_follows_snapshot(void **state)
{
	struct fx *f = *state;
	struct tdns_store *s = NULL;
	struct tdns_txn *r = NULL, *w = NULL;
	struct tdns_val v;
	int round;

	assert_int_equal(store_open(f->dir, NULL, &s), TDNS_OK);
	assert_int_equal(store_begin(s, true, &w), TDNS_OK);
	put_str(w, TDNS_DB_RR, "same", "rr one");
	put_str(w, TDNS_DB_CACHE, "same", "cache one");
	put_str(w, TDNS_DB_RR, "gone", "here");
	memo_put_all(w, false);
	assert_int_equal(store_commit(w), TDNS_OK);

	assert_int_equal(store_begin(s, false, &r), TDNS_OK);
	store_reset(r);
	assert_int_equal(store_renew(r), TDNS_OK);
	for (round = 0; round < 2; round++) {
		expect(r, TDNS_DB_RR, "same", "rr one");
		expect(r, TDNS_DB_CACHE, "same", "cache one");
		expect(r, TDNS_DB_RR, "gone", "here");
		expect(r, TDNS_DB_RR, "new", NULL);
		memo_expect_all(r, false);
	}
	/* Reset, the transaction has no snapshot: keys just remembered (read
	 * again after the working set evicted them) are not answered from
	 * memory. */
	expect(r, TDNS_DB_RR, "same", "rr one");
	expect(r, TDNS_DB_RR, "new", NULL);
	store_reset(r);
	assert_int_not_equal(store_get(r, TDNS_DB_RR, (const uint8_t *)"same", 4, &v),
			     TDNS_OK);
	assert_int_not_equal(store_get(r, TDNS_DB_RR, (const uint8_t *)"new", 3, &v),
			     TDNS_ENOTFOUND);
	assert_int_equal(store_renew(r), TDNS_OK);

	assert_int_equal(store_begin(s, true, &w), TDNS_OK);
	put_str(w, TDNS_DB_RR, "same", "rr two");
	put_str(w, TDNS_DB_RR, "new", "now");
	assert_int_equal(store_del(w, TDNS_DB_RR, (const uint8_t *)"gone", 4), TDNS_OK);
	memo_put_all(w, true);
	assert_int_equal(store_commit(w), TDNS_OK);
	/* The snapshot held goes on answering as it did ... */
	expect(r, TDNS_DB_RR, "same", "rr one");
	expect(r, TDNS_DB_RR, "new", NULL);
	store_reset(r);
	assert_int_equal(store_renew(r), TDNS_OK);
	/* ... the renewed one answers as the commit left the store. */
	for (round = 0; round < 2; round++) {
		expect(r, TDNS_DB_RR, "same", "rr two");
		expect(r, TDNS_DB_CACHE, "same", "cache one");
		expect(r, TDNS_DB_RR, "new", "now");
		expect(r, TDNS_DB_RR, "gone", NULL);
		memo_expect_all(r, true);
	}
	store_abort(r);
	store_close(s);
}

/* Reader r leaves its snapshot for the latest. */
static void next_snapshot(struct tdns_txn *r)
{
	store_reset(r);
	assert_int_equal(store_renew(r), TDNS_OK);
}

/* Value of key i in version ver, "<ver>:<i>", or for every fifth key one
 * of 300 bytes (longer than the memo copies): into val (320 bytes). */
static size_t copy_value(char *val, int i, int ver)
{
	int n = snprintf(val, 320, "%d:%d", ver, i);

	if (i % 5 == 0) {
		memset(val + n, 'x', 300 - (size_t)n);
		n = 300;
	}
	return (size_t)n;
}

/* Key i of the copy tests ("c<i>", in TDNS_DB_RR): absent when ver[i] is
 * 0, else copy_value(i, ver[i]). */
static void copy_expect(struct tdns_txn *r, const int *ver, int n)
{
	char k[32], val[320];
	struct tdns_val v;
	size_t len;

	for (int i = 0; i < n; i++) {
		snprintf(k, sizeof(k), "c%d", i);
		if (ver[i] == 0) {
			assert_int_equal(store_get(r, TDNS_DB_RR, (const uint8_t *)k,
						   strlen(k), &v), TDNS_ENOTFOUND);
			continue;
		}
		len = copy_value(val, i, ver[i]);
		assert_int_equal(store_get(r, TDNS_DB_RR, (const uint8_t *)k, strlen(k), &v),
				 TDNS_OK);
		assert_int_equal(v.len, len);
		assert_memory_equal(v.data, val, len);
	}
}

/* Write key i as ver[i] (0: delete it) for every i with i % step == phase,
 * in a write transaction of s, and commit. */
struct copy_write {
	struct tdns_store *s;
	int *ver;
	int n, step, phase, to;
	bool clear;
};

static void *copy_write_run(void *arg)
{
	struct copy_write *cw = arg;
	struct tdns_txn *w = NULL;
	char k[32], val[320];
	bool ok = store_begin(cw->s, true, &w) == TDNS_OK;

	if (ok && cw->clear)
		ok = store_clear(w, TDNS_DB_RR) == TDNS_OK;
	for (int i = 0; ok && i < cw->n; i++) {
		if (cw->clear)
			cw->ver[i] = 0;
		if (i % cw->step != cw->phase)
			continue;
		snprintf(k, sizeof(k), "c%d", i);
		cw->ver[i] = cw->to;
		if (cw->to == 0)
			ok = store_del(w, TDNS_DB_RR, (const uint8_t *)k, strlen(k)) ==
			     TDNS_OK;
		else
			ok = store_put(w, TDNS_DB_RR, (const uint8_t *)k, strlen(k), val,
				       copy_value(val, i, cw->to)) == TDNS_OK;
	}
	ok = ok && store_commit(w) == TDNS_OK;
	return ok ? cw : NULL;
}

/* copy_write_run on a thread of its own, which has no reader of the store
 * (so nothing is written through: the memo learns of the change only by
 * its stamps). */
static void copy_write_elsewhere(struct copy_write cw)
{
	pthread_t th;
	void *ret = NULL;

	assert_int_equal(pthread_create(&th, NULL, copy_write_run, &cw), 0);
	assert_int_equal(pthread_join(th, &ret), 0);
	assert_non_null(ret);
}

/* The copy tests' start: a store in dir with keys 0..n-1 at version 1,
 * written by another thread, and a renewed reader that has read keys
 * 0..n_read-1 once. */
static void copy_start(const char *dir, int *ver, int n, int n_read,
		       struct tdns_store **s, struct tdns_txn **r)
{
	assert_int_equal(store_open(dir, NULL, s), TDNS_OK);
	copy_write_elsewhere((struct copy_write){ *s, ver, n, 1, 0, 1, false });
	assert_int_equal(store_begin(*s, false, r), TDNS_OK);
	next_snapshot(*r);
	copy_expect(*r, ver, n_read);
}

/* Copies that the memo keeps across commits answer only while no commit
 * has changed their key: written again, deleted, added, or the database
 * emptied, by a thread of this process other than the reader's; read
 * twice per snapshot (the second time from the memo), in a working set
 * larger than the memo, with values too long to copy among them. */
static void test_memo_copies_follow_commits(void **state)
{
	enum { N = 6000 };
	struct fx *f = *state;
	struct tdns_store *s = NULL;
	struct tdns_txn *r = NULL;
	static int ver[N + 100];
	struct copy_write cw;

	copy_start(f->dir, ver, N, N + 100, &s, &r);
	copy_expect(r, ver, N + 100);

	const struct { int n, step, phase, to; bool clear; } change[] = {
		{ N, 3, 0, 2, false },        /* every third written again */
		{ N, 7, 1, 0, false },        /* every seventh deleted */
		{ N + 100, 101, 100, 3, false }, /* new keys */
		{ N + 100, 1000000, 1, 4, true }, /* emptied, one key back */
		{ N, 2, 0, 5, false },        /* half of them again */
	};
	for (size_t c = 0; c < sizeof(change) / sizeof(change[0]); c++) {
		cw = (struct copy_write){ s, ver, change[c].n, change[c].step,
					  change[c].phase, change[c].to,
					  change[c].clear };
		copy_write_elsewhere(cw);
		next_snapshot(r);
		copy_expect(r, ver, N + 100);
		copy_expect(r, ver, N + 100);
		/* A commit of an unrelated key leaves the copies good. */
		cw = (struct copy_write){ s, ver, N + 100, 1000000, N + 99, 9, false };
		copy_write_elsewhere(cw);
		next_snapshot(r);
		copy_expect(r, ver, N + 100);
	}
	store_abort(r);
	store_close(s);
}

/* A commit of another process (tierdns-zone loading a zone, or flushing the
 * local's cache) sets no stamps: the reader's copies of every key it read
 * before must not answer after it. */
static void test_memo_copies_after_other_process(void **state)
{
	enum { N = 500 };
	struct fx *f = *state;
	struct tdns_store *s = NULL;
	struct tdns_txn *r = NULL;
	static int ver[N];
	int status;
	pid_t pid;

	copy_start(f->dir, ver, N, N, &s, &r);
	store_reset(r);

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		static int cver[N];
		struct copy_write ccw = { NULL, cver, N, 2, 1, 7, false };
		bool ok = store_open(f->dir, NULL, &ccw.s) == TDNS_OK &&
			  copy_write_run(&ccw) != NULL;

		store_close(ccw.s);
		_exit(ok ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	for (int i = 1; i < N; i += 2)
		ver[i] = 7;
	assert_int_equal(store_renew(r), TDNS_OK);
	copy_expect(r, ver, N);
	copy_expect(r, ver, N);
	store_abort(r);
	store_close(s);
}

/* A key of TDNS_DB_RR and its value (NULL: delete it); a NULL key ends a
 * list of them. */
struct kv {
	const char *k, *v;
};

/* Write the list in one transaction of s, then commit it or abort it. */
static void write_kv(struct tdns_store *s, const struct kv *kv, bool commit)
{
	struct tdns_txn *w = NULL;

	assert_int_equal(store_begin(s, true, &w), TDNS_OK);
	for (; kv->k != NULL; kv++) {
		if (kv->v != NULL)
			put_str(w, TDNS_DB_RR, kv->k, kv->v);
		else
			assert_int_equal(store_del(w, TDNS_DB_RR, (const uint8_t *)kv->k,
						   strlen(kv->k)), TDNS_OK);
	}
	if (commit)
		assert_int_equal(store_commit(w), TDNS_OK);
	else
		store_abort(w);
}

/* Every key of the list reads as its value (NULL: absent) in r. */
static void expect_kv(struct tdns_txn *r, const struct kv *kv)
{
	for (; kv->k != NULL; kv++)
		expect(r, TDNS_DB_RR, kv->k, kv->v);
}

/* What a thread commits, its own reader knows at once (written through):
 * the value put last, not one deleted after it in the same transaction,
 * nothing of an aborted transaction; and a copy the reader handed out in
 * its snapshot stays as it was while the reader holds it. */
static void test_memo_write_through(void **state)
{
	static const struct kv one[] = { { "a", "a one" }, { "b", "b one" }, { NULL, NULL } };
	static const struct kv before[] = { { "a", "a one" }, { "b", "b one" },
					    { "c", NULL }, { NULL, NULL } };
	static const struct kv still[] = { { "a", "a one" }, { "b", "b one" },
					   { "d", NULL }, { NULL, NULL } };
	static const struct kv two[] = { { "a", "a two" }, { "b", "b two" },
					 { "b", "b three" }, { "c", "c one" },
					 { "c", NULL }, { "d", "d one" }, { NULL, NULL } };
	static const struct kv after[] = { { "a", "a two" }, { "b", "b three" },
					   { "c", NULL }, { "d", "d one" }, { NULL, NULL } };
	static const struct kv aborted[] = { { "a", "a aborted" }, { "e", "e aborted" },
					     { NULL, NULL } };
	static const struct kv unaborted[] = { { "a", "a two" }, { "e", NULL },
					       { NULL, NULL } };
	static const struct kv other[] = { { "f", "f one" }, { NULL, NULL } };
	struct fx *f = *state;
	struct tdns_store *s = NULL;
	struct tdns_txn *r = NULL;
	struct tdns_val held;

	assert_int_equal(store_open(f->dir, NULL, &s), TDNS_OK);
	write_kv(s, one, true);
	assert_int_equal(store_begin(s, false, &r), TDNS_OK);
	next_snapshot(r);
	expect_kv(r, before);
	store_reset(r);
	/* The next snapshot answers "a" from the copy kept across the
	 * commit (the one handed out). */
	assert_int_equal(store_renew(r), TDNS_OK);
	assert_int_equal(store_get(r, TDNS_DB_RR, (const uint8_t *)"a", 1, &held), TDNS_OK);
	assert_int_equal(held.len, 5);

	write_kv(s, two, true);
	/* Still in the old snapshot: the held copy and the answers are the
	 * old ones. */
	assert_memory_equal(held.data, "a one", 5);
	expect_kv(r, still);
	next_snapshot(r);
	expect_kv(r, after);

	write_kv(s, aborted, false);
	next_snapshot(r);
	expect_kv(r, unaborted);
	/* The next commit takes the id the aborted one would have had. */
	write_kv(s, other, true);
	next_snapshot(r);
	expect_kv(r, unaborted);
	expect_kv(r, other);
	store_abort(r);
	store_close(s);
}

/* Copies handed out in a snapshot are not evicted in it: a reader that
 * holds every value it read while it reads more keys than the memo has
 * slots finds them all unchanged. */
static void test_memo_lent_copies_kept(void **state)
{
	enum { N = 12000 };
	struct fx *f = *state;
	struct tdns_store *s = NULL;
	struct tdns_txn *r = NULL;
	static int ver[N];
	static struct tdns_val held[N];
	struct copy_write cw;
	char k[32], val[320];
	size_t len;

	copy_start(f->dir, ver, N, N, &s, &r);
	store_reset(r);
	/* A new snapshot, so what the memo answers are copies. */
	cw = (struct copy_write){ s, ver, N, 1000000, N - 1, 2, false };
	copy_write_elsewhere(cw);
	assert_int_equal(store_renew(r), TDNS_OK);
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < N; i++) {
			snprintf(k, sizeof(k), "c%d", i);
			assert_int_equal(store_get(r, TDNS_DB_RR, (const uint8_t *)k,
						   strlen(k), &held[i]), TDNS_OK);
		}
	}
	for (int i = 0; i < N; i++) {
		len = copy_value(val, i, ver[i]);
		assert_int_equal(held[i].len, len);
		assert_memory_equal(held[i].data, val, len);
	}
	store_abort(r);
	store_close(s);
}

/* Under concurrent commits the memo never answers otherwise than LMDB:
 * reader threads (each committing now and then, so written through too)
 * compare every store_get with a cursor read of the same snapshot, while a
 * writer thread and another process change the keys. */
enum { RACE_KEYS = 3000, RACE_READERS = 2 };

struct race {
	struct tdns_store *s;
	atomic_bool stop;
	atomic_ulong checked, wrong;
	unsigned seed;
};

/* Write `n` random keys of the race (a few deleted) in one transaction. */
static bool race_write(struct tdns_store *s, unsigned *seed, int n, int tag)
{
	struct tdns_txn *w = NULL;
	char k[32], val[320];
	bool ok = store_begin(s, true, &w) == TDNS_OK;

	for (int j = 0; ok && j < n; j++) {
		int i = rand_r(seed) % RACE_KEYS;
		enum tdns_status st;

		snprintf(k, sizeof(k), "c%d", i);
		if (rand_r(seed) % 8 == 0) {
			st = store_del(w, TDNS_DB_RR, (const uint8_t *)k, strlen(k));
			ok = st == TDNS_OK || st == TDNS_ENOTFOUND;
		} else {
			ok = store_put(w, TDNS_DB_RR, (const uint8_t *)k, strlen(k), val,
				       copy_value(val, i, tag * 100000 + rand_r(seed) % 1000)) ==
			     TDNS_OK;
		}
	}
	return ok && store_commit(w) == TDNS_OK;
}

static void *race_writer(void *arg)
{
	struct race *rc = arg;
	unsigned seed = rc->seed;
	bool ok = true;

	while (ok && !atomic_load(&rc->stop))
		ok = race_write(rc->s, &seed, 1 + rand_r(&seed) % 20, 1);
	return ok ? rc : NULL;
}

static void *race_reader(void *arg)
{
	struct race *rc = arg;
	struct tdns_txn *r = NULL;
	struct tdns_cursor *c = NULL;
	struct tdns_val v, ck, cv;
	unsigned seed = (unsigned)(uintptr_t)&r;
	char k[32];
	bool ok = store_begin(rc->s, false, &r) == TDNS_OK;

	if (ok)
		store_reset(r);
	while (ok && !atomic_load(&rc->stop)) {
		ok = store_renew(r) == TDNS_OK &&
		     store_cursor_open(r, TDNS_DB_RR, &c) == TDNS_OK;
		for (int j = 0; ok && j < 200; j++) {
			int i = rand_r(&seed) % RACE_KEYS;
			enum tdns_status st, cst;
			bool same;

			snprintf(k, sizeof(k), "c%d", i);
			st = store_get(r, TDNS_DB_RR, (const uint8_t *)k, strlen(k), &v);
			cst = store_cursor_seek(c, (const uint8_t *)k, strlen(k), &ck, &cv);
			if (cst == TDNS_OK &&
			    (ck.len != strlen(k) || memcmp(ck.data, k, ck.len) != 0))
				cst = TDNS_ENOTFOUND;
			same = st == cst &&
			       (st != TDNS_OK ||
				(v.len == cv.len && memcmp(v.data, cv.data, v.len) == 0));
			if (!same)
				atomic_fetch_add(&rc->wrong, 1);
			atomic_fetch_add(&rc->checked, 1);
		}
		store_cursor_close(c);
		c = NULL;
		store_reset(r);
		if (ok && rand_r(&seed) % 4 == 0)
			ok = race_write(rc->s, &seed, 1 + rand_r(&seed) % 5, 2);
	}
	store_abort(r);
	return ok ? rc : NULL;
}

static void test_memo_agrees_under_races(void **state)
{
	struct fx *f = *state;
	static struct race rc;
	pthread_t rd[RACE_READERS], wr;
	void *ret;
	unsigned seed = 7;
	int status;
	pid_t pid;

	assert_int_equal(store_open(f->dir, NULL, &rc.s), TDNS_OK);
	assert_true(race_write(rc.s, &seed, RACE_KEYS * 2, 1));
	/* The other process, before any thread starts (fork). */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct tdns_store *cs = NULL;
		bool ok = store_open(f->dir, NULL, &cs) == TDNS_OK;

		for (int n = 0; ok && n < 300; n++) {
			ok = race_write(cs, &seed, 1 + rand_r(&seed) % 20, 3);
			usleep(3000);
		}
		store_close(cs);
		_exit(ok ? 0 : 1);
	}
	rc.seed = 11;
	assert_int_equal(pthread_create(&wr, NULL, race_writer, &rc), 0);
	for (int i = 0; i < RACE_READERS; i++)
		assert_int_equal(pthread_create(&rd[i], NULL, race_reader, &rc), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	atomic_store(&rc.stop, true);
	assert_int_equal(pthread_join(wr, &ret), 0);
	assert_non_null(ret);
	for (int i = 0; i < RACE_READERS; i++) {
		assert_int_equal(pthread_join(rd[i], &ret), 0);
		assert_non_null(ret);
	}
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_true(atomic_load(&rc.checked) > 10000);
	assert_int_equal(atomic_load(&rc.wrong), 0);
	store_close(rc.s);
}

/* Another process (a child) opens the store in dir, puts key = val in db
 * and commits, as tierdns-zone would. */
static void child_puts(const char *dir, enum tdns_db db, const char *key,
		       const char *val)
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct tdns_store *cs = NULL;
		struct tdns_txn *ct = NULL;
		int ok = store_open(dir, NULL, &cs) == TDNS_OK &&
			 store_begin(cs, true, &ct) == TDNS_OK &&
			 store_put(ct, db, (const uint8_t *)key, strlen(key), val,
				   strlen(val)) == TDNS_OK &&
			 store_commit(ct) == TDNS_OK;

		store_close(cs);
		_exit(ok ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* A read-only opener in this process sees what another process commits,
 * at its next transaction: the upper serves zones loaded while it runs. */
static void test_rdonly_sees_other_process(void **state)
{
	struct fx *f = *state;
	struct tdns_store_opts ro = { 0, STORE_RDONLY, 0 };
	struct tdns_store *s = NULL, *reader = NULL;
	struct tdns_txn *t = NULL, *w = NULL;
	struct tdns_val v;

	assert_int_equal(store_open(f->dir, NULL, &s), TDNS_OK);
	store_close(s);
	assert_int_equal(store_open(f->dir, &ro, &reader), TDNS_OK);
	assert_int_equal(store_begin(reader, true, &w), TDNS_EINVAL);
	assert_int_equal(store_begin(reader, false, &t), TDNS_OK);
	assert_int_equal(store_get(t, TDNS_DB_RR, (const uint8_t *)"k", 1, &v),
			 TDNS_ENOTFOUND);
	/* Renewed, the transaction remembers the absence for its snapshot. */
	store_reset(t);
	assert_int_equal(store_renew(t), TDNS_OK);
	assert_int_equal(store_get(t, TDNS_DB_RR, (const uint8_t *)"k", 1, &v),
			 TDNS_ENOTFOUND);
	store_reset(t);

	child_puts(f->dir, TDNS_DB_RR, "k", "child");

	assert_int_equal(store_renew(t), TDNS_OK);
	assert_int_equal(store_get(t, TDNS_DB_RR, (const uint8_t *)"k", 1, &v), TDNS_OK);
	assert_int_equal(v.len, 5);
	assert_memory_equal(v.data, "child", 5);
	store_abort(t);
	store_close(reader);
}

/* How change_db changes a database. */
enum change { PUT, DEL, CURSOR_DEL, CLEAR };

/* Commit, in s, one change of db: put "k", delete it (by key or through a
 * cursor), or empty db. */
static void change_db(struct tdns_store *s, enum tdns_db db, enum change how)
{
	struct tdns_cursor *c = NULL;
	struct tdns_txn *w = NULL;
	struct tdns_val k, v;

	assert_int_equal(store_begin(s, true, &w), TDNS_OK);
	switch (how) {
	case PUT:
		put_str(w, db, "k", "v");
		break;
	case DEL:
		assert_int_equal(store_del(w, db, (const uint8_t *)"k", 1), TDNS_OK);
		break;
	case CURSOR_DEL:
		assert_int_equal(store_cursor_open(w, db, &c), TDNS_OK);
		assert_int_equal(store_cursor_seek(c, (const uint8_t *)"k", 1, &k, &v),
				 TDNS_OK);
		assert_int_equal(store_cursor_del(c), TDNS_OK);
		store_cursor_close(c);
		break;
	case CLEAR:
		assert_int_equal(store_clear(w, db), TDNS_OK);
		break;
	}
	assert_int_equal(store_commit(w), TDNS_OK);
}

/* store_db_unchanged: a commit changes only the databases it writes to,
 * deletes from (by key or through a cursor) or empties; whatever another
 * process commits, it cannot tell; nor for a snapshot after the reader's,
 * a write transaction or none. */
static void test_db_unchanged(void **state)
{
	struct fx *f = *state;
	struct tdns_store *s = NULL;
	struct tdns_txn *r = NULL, *w = NULL;
	uint64_t s1, s2, s3;

	assert_int_equal(store_open(f->dir, NULL, &s), TDNS_OK);
	assert_int_equal(store_begin(s, false, &r), TDNS_OK);
	next_snapshot(r);
	s1 = store_txn_id(r);
	assert_true(store_db_unchanged(r, TDNS_DB_ZONES, s1));
	assert_false(store_db_unchanged(r, TDNS_DB_ZONES, 0));
	assert_false(store_db_unchanged(r, TDNS_DB_ZONES, s1 + 1));

	change_db(s, TDNS_DB_CACHE, PUT);
	next_snapshot(r);
	s2 = store_txn_id(r);
	assert_true(s2 > s1);
	assert_false(store_db_unchanged(r, TDNS_DB_CACHE, s1));
	assert_true(store_db_unchanged(r, TDNS_DB_CACHE, s2));
	assert_true(store_db_unchanged(r, TDNS_DB_ZONES, s1));
	assert_true(store_db_unchanged(r, TDNS_DB_RR, s1));

	change_db(s, TDNS_DB_RR, PUT);
	change_db(s, TDNS_DB_CACHE, PUT);
	next_snapshot(r);
	s3 = store_txn_id(r);
	assert_false(store_db_unchanged(r, TDNS_DB_RR, s1));
	assert_false(store_db_unchanged(r, TDNS_DB_RR, s2));
	assert_true(store_db_unchanged(r, TDNS_DB_RR, s3));
	assert_true(store_db_unchanged(r, TDNS_DB_ZONES, s1));

	change_db(s, TDNS_DB_ZONES, CLEAR);
	next_snapshot(r);
	assert_false(store_db_unchanged(r, TDNS_DB_ZONES, s3));
	assert_true(store_db_unchanged(r, TDNS_DB_RR, s3));
	s3 = store_txn_id(r);

	/* Deletions alone change a database, by key or through a cursor. */
	change_db(s, TDNS_DB_RR, DEL);
	next_snapshot(r);
	assert_false(store_db_unchanged(r, TDNS_DB_RR, s3));
	assert_true(store_db_unchanged(r, TDNS_DB_ZONES, s3));
	change_db(s, TDNS_DB_RR, PUT);
	next_snapshot(r);
	s3 = store_txn_id(r);
	change_db(s, TDNS_DB_RR, CURSOR_DEL);
	next_snapshot(r);
	assert_false(store_db_unchanged(r, TDNS_DB_RR, s3));
	assert_true(store_db_unchanged(r, TDNS_DB_ZONES, s3));
	s3 = store_txn_id(r);

	assert_int_equal(store_begin(s, true, &w), TDNS_OK);
	assert_false(store_db_unchanged(w, TDNS_DB_RR, s3));
	store_abort(w);

	/* Another process writes only the cache: this one cannot know. */
	store_reset(r);
	child_puts(f->dir, TDNS_DB_CACHE, "c", "v");
	assert_int_equal(store_renew(r), TDNS_OK);
	assert_false(store_db_unchanged(r, TDNS_DB_RR, s3));
	assert_true(store_db_unchanged(r, TDNS_DB_RR, store_txn_id(r)));
	store_abort(r);
	store_close(s);
}

/* A child that opens the store, takes `n` read transactions and dies
 * without ending them, as a daemon killed with -9 would: its reader slots
 * stay taken in lock.mdb. */
static void die_holding_readers(const char *dir, const struct tdns_store_opts *o, int n)
{
	int status;
	pid_t pid;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct tdns_store *cs = NULL;
		struct tdns_txn *ct = NULL;
		int ok = store_open(dir, o, &cs) == TDNS_OK;

		for (int i = 0; ok && i < n; i++)
			ok = store_begin(cs, false, &ct) == TDNS_OK;
		_exit(ok ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* Stale reader slots are cleared when the store is opened. A live opener
 * (this process) keeps the lock file from being reset, as tierdns-zone or
 * the other tier would; a dead child fills both reader slots. Then no read
 * transaction can start (the precondition), until a fresh store_open in a
 * new process (a restarted daemon) clears the dead slots: it takes both,
 * and so can this process afterwards. */
static void test_stale_readers_cleared_at_open(void **state)
{
	struct fx *f = *state;
	struct tdns_store_opts two = { 0, 0, 2 };
	struct tdns_store *s = NULL;
	struct tdns_txn *t = NULL;
	int status;
	pid_t pid;

	assert_int_equal(store_open(f->dir, &two, &s), TDNS_OK);
	die_holding_readers(f->dir, &two, 2);
	assert_int_not_equal(store_begin(s, false, &t), TDNS_OK);
	assert_null(t);

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct tdns_store *cs = NULL;
		struct tdns_txn *a = NULL, *b = NULL;
		int ok = store_open(f->dir, &two, &cs) == TDNS_OK &&
			 store_begin(cs, false, &a) == TDNS_OK &&
			 store_begin(cs, false, &b) == TDNS_OK;

		store_abort(a);
		store_abort(b);
		store_close(cs);
		_exit(ok ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	assert_int_equal(store_begin(s, false, &t), TDNS_OK);
	store_abort(t);
	store_close(s);
}

/* store_count is kept per read snapshot (a renewed transaction must not
 * pay a main-database search for it on every cache hit): a write
 * transaction counts its own changes, a read transaction sees a commit
 * only once renewed, values and count alike. */
static void test_count_per_snapshot(void **state)
{
	struct fx *f = *state;
	struct tdns_store *s = NULL;
	struct tdns_txn *r = NULL, *w = NULL;
	struct tdns_val v;
	char k[32], val[32];
	int i;

	assert_int_equal(store_open(f->dir, NULL, &s), TDNS_OK);
	assert_int_equal(store_begin(s, true, &w), TDNS_OK);
	for (i = 0; i < 3000; i++) {
		snprintf(k, sizeof(k), "key%d", i);
		snprintf(val, sizeof(val), "value %d", i);
		put_str(w, TDNS_DB_CACHE, k, val);
	}
	assert_int_equal(store_commit(w), TDNS_OK);

	assert_int_equal(store_begin(s, false, &r), TDNS_OK);
	assert_int_equal(store_count(r, TDNS_DB_CACHE), 3000);
	assert_int_equal(store_count(r, TDNS_DB_RR), 0);
	assert_int_equal(store_begin(s, true, &w), TDNS_OK);
	put_str(w, TDNS_DB_CACHE, "key7", "changed");
	assert_int_equal(store_count(w, TDNS_DB_CACHE), 3000);
	put_str(w, TDNS_DB_CACHE, "one more", "x");
	assert_int_equal(store_count(w, TDNS_DB_CACHE), 3001);
	assert_int_equal(store_del(w, TDNS_DB_CACHE, (const uint8_t *)"key8", 4),
			 TDNS_OK);
	assert_int_equal(store_count(w, TDNS_DB_CACHE), 3000);
	put_str(w, TDNS_DB_CACHE, "two more", "y");
	assert_int_equal(store_commit(w), TDNS_OK);
	/* The old snapshot: old count, old values. */
	assert_int_equal(store_count(r, TDNS_DB_CACHE), 3000);
	assert_int_equal(store_get(r, TDNS_DB_CACHE, (const uint8_t *)"key7", 4, &v),
			 TDNS_OK);
	assert_memory_equal(v.data, "value 7", v.len);
	store_reset(r);
	assert_int_equal(store_renew(r), TDNS_OK);
	assert_int_equal(store_count(r, TDNS_DB_CACHE), 3001);
	assert_int_equal(store_get(r, TDNS_DB_CACHE, (const uint8_t *)"key7", 4, &v),
			 TDNS_OK);
	assert_memory_equal(v.data, "changed", v.len);
	assert_int_equal(store_get(r, TDNS_DB_CACHE, (const uint8_t *)"key8", 4, &v),
			 TDNS_ENOTFOUND);
	store_abort(r);
	store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_creates_and_reopens, setup, teardown),
		cmocka_unit_test_setup_teardown(test_schema_mismatch_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_schema1_store_migration_message,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_schema_mismatch_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retired_db_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rdonly_missing_store, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tier_stamp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_get_put_del, setup, teardown),
		cmocka_unit_test_setup_teardown(test_count_per_snapshot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cursor_semantics, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_efull_on_tiny_map, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_renew_sees_new_commits, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_memo_follows_snapshot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_memo_copies_follow_commits, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_memo_copies_after_other_process, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_memo_write_through, setup, teardown),
		cmocka_unit_test_setup_teardown(test_memo_lent_copies_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_memo_agrees_under_races, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rdonly_sees_other_process, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_db_unchanged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_readers_cleared_at_open, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
