/*
 * store.c - the LMDB environment of one tier; the only file naming MDB_*.
 *
 * Every LMDB return code is translated to enum tdns_status in store_err().
 * The environment is opened with MDB_NOTLS: a read transaction is bound to
 * its struct tdns_txn, not to the thread's TLS slot, so a worker can keep one
 * read transaction and store_reset()/store_renew() it per query batch. A
 * renewed (or new) read transaction sees every commit made before it began,
 * by this process or another (tierdns-zone loading while the upper runs).
 */
#include "tierdns/store.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <lmdb.h>

#include "tierdns/dnsproto.h"
#include "tierdns/log.h"

#define STORE_DEFAULT_MAP ((size_t)1 << 30)
#define STORE_SCHEMA_KEY "schema"
#define STORE_TIER_KEY "tier"

static const char *const db_names[TDNS_DB_COUNT_] = {
	[TDNS_DB_META] = "meta",
	[TDNS_DB_ZONES] = "zones",
	[TDNS_DB_RR] = "rr",
	[TDNS_DB_CACHE] = "cache",
	[TDNS_DB_CACHE_EXP] = "cache_exp",
	[TDNS_DB_DNSSEC] = "dnssec",
	[TDNS_DB_JOURNAL] = "journal",
	[TDNS_DB_CACHE_PICK] = "cache_pick",
};

/* Databases a store of the same schema version may lack (written before
 * they existed): created at a writable open, read as empty otherwise. */
static const bool db_optional[TDNS_DB_COUNT_] = {
	[TDNS_DB_CACHE_EXP] = true,
	[TDNS_DB_JOURNAL] = true,
	[TDNS_DB_CACHE_PICK] = true,
};

struct tdns_store {
	MDB_env *env;
	MDB_dbi dbi[TDNS_DB_COUNT_];
	bool absent[TDNS_DB_COUNT_]; /* optional and missing (read-only) */
	unsigned flags;
};

/*
 * The memo of a long-lived read transaction: the answers of store_get
 * (value or absence) by database and key, for the snapshot they were read
 * in. A slot is used only while the transaction holds that same snapshot:
 * LMDB's pages reachable from the last committed snapshot stay where they
 * are until a later commit, so a pointer read in snapshot N is good for as
 * long as a renewed transaction is again at N, whichever process writes.
 * A worker answering the same names again (every busy server) then skips
 * the B-tree descent. MEMO_SLOTS slots in sets of MEMO_WAYS, keys of at
 * most MEMO_KEY_MAX bytes (longer ones always go to LMDB); a full set
 * evicts. The hash is seeded per memo, so which names evict which is not
 * known outside.
 */
#define MEMO_SLOTS 4096u
#define MEMO_WAYS 4u
#define MEMO_KEY_MAX 62u

struct memo_slot {
	uint64_t snap; /* snapshot the slot was filled in; 0: empty */
	const void *data; /* NULL: the key was absent */
	uint32_t len;
	uint32_t tag; /* the hash's high half */
	uint8_t db;
	uint8_t klen;
	uint8_t key[MEMO_KEY_MAX];
};

struct memo {
	uint64_t seed;
	struct memo_slot slot[MEMO_SLOTS];
};

/* A transaction keeps one closed cursor per database for reuse, so the
 * per-query lookups (zonedb_name_state ...) do not allocate each time. */
struct tdns_txn {
	struct tdns_store *s;
	MDB_txn *txn;
	bool write;
	/* The snapshot a renewed read transaction holds, 0 while reset or
	 * before its first renewal; the memo is used only when non-zero. */
	uint64_t snap;
	struct memo *memo; /* allocated at the first store_renew */
	void *user; /* store_txn_set_user */
	struct tdns_cursor *spare[TDNS_DB_COUNT_];
	/* store_count of a read transaction, per database: the count and
	 * the snapshot it was taken in (0: none). */
	uint64_t count_id[TDNS_DB_COUNT_];
	size_t count[TDNS_DB_COUNT_];
};

struct tdns_cursor {
	MDB_cursor *cur;
	struct tdns_txn *t;
	enum tdns_db db;
};

#ifdef TDNS_FAULT_INJECT
static _Thread_local unsigned long fault_at;    /* 0: disarmed */
static _Thread_local unsigned long fault_calls; /* operations since arming */
static _Thread_local bool fault_sticky;         /* fail from fault_at on */

void store_fault_arm(unsigned long n)
{
	fault_at = n;
	fault_calls = 0;
	fault_sticky = false;
}

void store_fault_arm_sticky(unsigned long n)
{
	store_fault_arm(n);
	fault_sticky = true;
}

unsigned long store_fault_calls(void)
{
	return fault_calls;
}

/* Count one operation (store.h); true if the armed fault strikes it. */
static bool fault_hit(void)
{
	bool hit;

	fault_calls++;
	hit = fault_at != 0 &&
	      (fault_sticky ? fault_calls >= fault_at : fault_calls == fault_at);
	return hit;
}
#else
#define fault_hit() false /* product builds: no hook, no counting */
#endif

/* The one translation point for LMDB (and the errno values it passes on). */
static enum tdns_status store_err(int rc)
{
	switch (rc) {
	case MDB_SUCCESS:
		return TDNS_OK;
	case MDB_NOTFOUND:
		return TDNS_ENOTFOUND;
	case MDB_KEYEXIST:
		return TDNS_EEXIST;
	case MDB_MAP_FULL:
	case MDB_TXN_FULL:
	case MDB_PAGE_FULL:
		return TDNS_EFULL;
	case MDB_VERSION_MISMATCH:
	case MDB_INVALID:
		return TDNS_ESCHEMA;
	case MDB_READERS_FULL:
		return TDNS_EBUSY;
	case ENOMEM:
		return TDNS_ENOMEM;
	case EINVAL:
	case MDB_BAD_VALSIZE:
		return TDNS_EINVAL;
	case ENOENT:
		return TDNS_ENOTFOUND;
	case EACCES:
	case EPERM:
		return TDNS_EACCES;
	case EIO:
	case ENOSPC:
	case EROFS:
		return TDNS_EIO;
	default:
		return TDNS_ESTORE;
	}
}

/* mkdir -p: the environment directory and its missing parents. */
static enum tdns_status make_dir(const char *dir)
{
	char path[PATH_MAX];
	size_t len = strlen(dir), i;

	if (len == 0 || len >= sizeof(path))
		return TDNS_EINVAL;
	memcpy(path, dir, len + 1);
	for (i = 1; i <= len; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		path[i] = '\0';
		if (mkdir(path, 0755) != 0 && errno != EEXIST) {
			log_err("cannot create %s: %s", path, strerror(errno));
			return errno == EACCES || errno == EPERM ? TDNS_EACCES
								  : TDNS_EIO;
		}
		path[i] = dir[i];
	}
	return TDNS_OK;
}

#define STORE_TIERS (STORE_TIER_UPPER | STORE_TIER_LOCAL)

static const char *tier_name(unsigned tier)
{
	return tier == STORE_TIER_LOCAL ? "local" : "upper";
}

/* meta "tier" (store.h): which daemon the store belongs to; stamped by the
 * first daemon that opens it for writing. A store not yet stamped that
 * holds cache entries has been a local tier's. */
static enum tdns_status tier_check(struct tdns_store *s, MDB_txn *txn,
				   const char *dir)
{
	unsigned tier = s->flags & STORE_TIERS, have = 0;
	const char *want = tier_name(tier);
	MDB_val k, v;
	MDB_stat ms;
	int rc;

	if (tier == 0)
		return TDNS_OK;
	k.mv_data = (void *)STORE_TIER_KEY;
	k.mv_size = strlen(STORE_TIER_KEY);
	rc = mdb_get(txn, s->dbi[TDNS_DB_META], &k, &v);
	if (rc == MDB_SUCCESS) {
		if (v.mv_size == 5 && memcmp(v.mv_data, "upper", 5) == 0)
			have = STORE_TIER_UPPER;
		else if (v.mv_size == 5 && memcmp(v.mv_data, "local", 5) == 0)
			have = STORE_TIER_LOCAL;
		else {
			log_err("%s: store has a malformed tier stamp", dir);
			return TDNS_ESCHEMA;
		}
	} else if (rc != MDB_NOTFOUND) {
		log_err("%s: cannot read the tier stamp: %s", dir, mdb_strerror(rc));
		return store_err(rc);
	} else if (!s->absent[TDNS_DB_CACHE] &&
		   mdb_stat(txn, s->dbi[TDNS_DB_CACHE], &ms) == MDB_SUCCESS &&
		   ms.ms_entries > 0) {
		have = STORE_TIER_LOCAL;
	}
	if (have != 0 && have != tier) {
		log_err("%s is the store of tierdns-%s; tierdns-%s needs a store of "
			"its own (--db DIR)", dir, tier_name(have), want);
		return TDNS_EWRONGTIER;
	}
	if (rc == MDB_SUCCESS || (s->flags & STORE_RDONLY))
		return TDNS_OK;
	v.mv_data = (void *)want;
	v.mv_size = strlen(want);
	rc = mdb_put(txn, s->dbi[TDNS_DB_META], &k, &v, 0);
	if (rc != MDB_SUCCESS) {
		log_err("%s: cannot write the tier stamp: %s", dir, mdb_strerror(rc));
		return store_err(rc);
	}
	return TDNS_OK;
}

/* meta "schema" (store.h): stamp a new store, refuse another version. */
static enum tdns_status schema_check(struct tdns_store *s, MDB_txn *txn,
				     const char *dir)
{
	bool rdonly = (s->flags & STORE_RDONLY) != 0;
	MDB_val k, v;
	uint8_t ver[4];
	int rc;

	k.mv_data = (void *)STORE_SCHEMA_KEY;
	k.mv_size = strlen(STORE_SCHEMA_KEY);
	rc = mdb_get(txn, s->dbi[TDNS_DB_META], &k, &v);
	if (rc == MDB_NOTFOUND && !rdonly) {
		/* A new store: stamp it with our schema version. */
		ver[0] = (uint8_t)(STORE_SCHEMA_VERSION >> 24);
		ver[1] = (uint8_t)(STORE_SCHEMA_VERSION >> 16);
		ver[2] = (uint8_t)(STORE_SCHEMA_VERSION >> 8);
		ver[3] = (uint8_t)STORE_SCHEMA_VERSION;
		v.mv_data = ver;
		v.mv_size = sizeof(ver);
		rc = mdb_put(txn, s->dbi[TDNS_DB_META], &k, &v, 0);
		if (rc != MDB_SUCCESS) {
			log_err("%s: cannot write schema version: %s", dir,
				mdb_strerror(rc));
			return store_err(rc);
		}
	} else if (rc == MDB_NOTFOUND) {
		log_err("%s: store has no schema version key", dir);
		return TDNS_ESCHEMA;
	} else if (rc != MDB_SUCCESS) {
		log_err("%s: cannot read schema version: %s", dir, mdb_strerror(rc));
		return store_err(rc);
	} else if (v.mv_size != 4 || dns_rd32(v.mv_data) != STORE_SCHEMA_VERSION) {
		if (v.mv_size == 4)
			log_err("%s: store has schema version %u, this tierdns "
				"uses version %u; refusing to open it. %s", dir,
				(unsigned)dns_rd32(v.mv_data), STORE_SCHEMA_VERSION,
				dns_rd32(v.mv_data) < STORE_SCHEMA_VERSION
					? "To migrate: load the zone files again into "
					  "a new, empty directory (tierdns-zone --db "
					  "NEWDIR load FILE...) and start the daemon "
					  "with --db NEWDIR (a local tier's cache "
					  "starts empty there)"
					: "It was written by a newer tierdns");
		else
			log_err("%s: store has a malformed schema version "
				"(%zu bytes), this tierdns uses version %u", dir,
				v.mv_size, STORE_SCHEMA_VERSION);
		return TDNS_ESCHEMA;
	}
	return TDNS_OK;
}

/*
 * The order of keys: memcmp's, LMDB's default, so stores written by any
 * build (or read by mdb_dump) agree, compared 8 bytes at a time. A lookup
 * compares its key with every separator on the way down the tree, and the
 * keys of one zone share its labels first (name.h): memcmp's fixed cost
 * per call is most of a short compare.
 */
static int key_order(const MDB_val *a, const MDB_val *b)
{
	const uint8_t *p = a->mv_data, *q = b->mv_data;
	size_t n = a->mv_size < b->mv_size ? a->mv_size : b->mv_size, i = 0;

	if (n >= 8) {
		/* The last word overlaps the one before: the bytes it
		 * repeats were equal. */
		for (;; i += 8) {
			uint64_t x, y;

			if (i + 8 > n)
				i = n - 8;
			x = dns_rd64(p + i);
			y = dns_rd64(q + i);
			if (x != y)
				return x < y ? -1 : 1;
			if (i + 8 == n)
				break;
		}
	} else {
		for (; i < n; i++)
			if (p[i] != q[i])
				return p[i] < q[i] ? -1 : 1;
	}
	return a->mv_size < b->mv_size ? -1 : a->mv_size > b->mv_size;
}

/* Open the named databases, create or check the schema key and the tier. */
static enum tdns_status store_init_dbs(struct tdns_store *s, const char *dir)
{
	bool rdonly = (s->flags & STORE_RDONLY) != 0;
	MDB_txn *txn = NULL;
	enum tdns_status st;
	int rc, i;

	rc = mdb_txn_begin(s->env, NULL, rdonly ? MDB_RDONLY : 0, &txn);
	if (rc != MDB_SUCCESS) {
		log_err("%s: cannot begin transaction: %s", dir, mdb_strerror(rc));
		st = store_err(rc);
		goto out;
	}
	/* meta first: a store of another schema is refused for that reason,
	 * before a database it lacks is reported as "not a tierdns store". */
	for (i = 0; i < TDNS_DB_COUNT_; i++) {
		if (i == TDNS_DB_META + 1) {
			st = schema_check(s, txn, dir);
			if (st != TDNS_OK)
				goto out;
		}
		rc = mdb_dbi_open(txn, db_names[i], rdonly ? 0 : MDB_CREATE,
				  &s->dbi[i]);
		if (rc == MDB_NOTFOUND && db_optional[i]) {
			s->absent[i] = true;
			continue;
		}
		if (rc == MDB_SUCCESS)
			rc = mdb_set_compare(txn, s->dbi[i], key_order);
		if (rc != MDB_SUCCESS) {
			if (rc == MDB_NOTFOUND)
				log_err("%s: not a tierdns store (no '%s' database); "
					"load a zone into it first", dir, db_names[i]);
			else
				log_err("%s: cannot open database '%s': %s", dir,
					db_names[i], mdb_strerror(rc));
			st = store_err(rc);
			goto out;
		}
	}
	st = tier_check(s, txn, dir);
	if (st != TDNS_OK)
		goto out;
	rc = mdb_txn_commit(txn);
	txn = NULL;
	if (rc != MDB_SUCCESS) {
		log_err("%s: cannot commit: %s", dir, mdb_strerror(rc));
		st = store_err(rc);
		goto out;
	}
	st = TDNS_OK;
out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	return st;
}

enum tdns_status store_open(const char *dir, const struct tdns_store_opts *opts,
			    struct tdns_store **out)
{
	struct tdns_store *s = NULL;
	unsigned envflags = MDB_NOTLS;
	size_t map_size = STORE_DEFAULT_MAP;
	unsigned readers = 0;
	enum tdns_status st;
	int rc, dead = 0;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		st = TDNS_ENOMEM;
		goto out;
	}
	if (opts != NULL) {
		if (opts->map_size != 0)
			map_size = opts->map_size;
		s->flags = opts->flags;
		readers = opts->max_readers;
	}
	if (s->flags & STORE_RDONLY) {
		envflags |= MDB_RDONLY;
	} else {
		st = make_dir(dir);
		if (st != TDNS_OK)
			goto out;
	}
	if (s->flags & STORE_NOSYNC)
		envflags |= MDB_NOSYNC | MDB_NOMETASYNC;

	rc = mdb_env_create(&s->env);
	if (rc != MDB_SUCCESS) {
		st = store_err(rc);
		goto out;
	}
	rc = mdb_env_set_maxdbs(s->env, TDNS_DB_COUNT_);
	if (rc == MDB_SUCCESS)
		rc = mdb_env_set_mapsize(s->env, map_size);
	if (rc == MDB_SUCCESS && readers != 0)
		rc = mdb_env_set_maxreaders(s->env, readers);
	if (rc != MDB_SUCCESS) {
		log_err("%s: cannot configure LMDB: %s", dir, mdb_strerror(rc));
		st = store_err(rc);
		goto out;
	}
	rc = mdb_env_open(s->env, dir, envflags, 0644);
	if (rc == ENOENT && (s->flags & STORE_RDONLY)) {
		/* Read-only never creates: tell the caller, who knows why. */
		log_debug("%s: no store here", dir);
		st = TDNS_ENOTFOUND;
		goto out;
	}
	if (rc != MDB_SUCCESS) {
		/* The caller names the store and the cause (one line, with
		 * the cause as tdns_strerror says it). */
		log_debug("%s: mdb_env_open: %s", dir, mdb_strerror(rc));
		st = store_err(rc);
		goto out;
	}
	/* Reader slots of processes that died (kill -9) would pin old pages
	 * forever and make the map grow; clear them before any work. */
	rc = mdb_reader_check(s->env, &dead);
	if (rc != MDB_SUCCESS) {
		log_err("%s: reader check failed: %s", dir, mdb_strerror(rc));
		st = store_err(rc);
		goto out;
	}
	if (dead > 0)
		log_info("%s: cleared %d stale reader slot(s)", dir, dead);
	st = store_init_dbs(s, dir);
	if (st != TDNS_OK)
		goto out;
	*out = s;
	s = NULL;
out:
	store_close(s);
	return st;
}

void store_close(struct tdns_store *s)
{
	if (s == NULL)
		return;
	if (s->env != NULL)
		mdb_env_close(s->env);
	free(s);
}

enum tdns_status store_begin(struct tdns_store *s, bool write,
			     struct tdns_txn **out)
{
	struct tdns_txn *t = NULL;
	enum tdns_status st;
	int rc;

	*out = NULL;
	if (fault_hit()) {
		st = TDNS_EIO;
		goto out;
	}
	if (write && (s->flags & STORE_RDONLY)) {
		st = TDNS_EINVAL;
		goto out;
	}
	t = calloc(1, sizeof(*t));
	if (t == NULL) {
		st = TDNS_ENOMEM;
		goto out;
	}
	t->s = s;
	t->write = write;
	rc = mdb_txn_begin(s->env, NULL, write ? 0 : MDB_RDONLY, &t->txn);
	if (rc != MDB_SUCCESS) {
		if (rc == MDB_MAP_RESIZED)
			log_err("store: another process grew the map beyond this "
				"process's map size; restart with a larger map");
		st = store_err(rc);
		goto out;
	}
	*out = t;
	t = NULL;
	st = TDNS_OK;
out:
	free(t);
	return st;
}

/* Spare cursors must go before their transaction ends. */
static void drop_spares(struct tdns_txn *t)
{
	int i;

	for (i = 0; i < TDNS_DB_COUNT_; i++) {
		if (t->spare[i] == NULL)
			continue;
		mdb_cursor_close(t->spare[i]->cur);
		free(t->spare[i]);
		t->spare[i] = NULL;
	}
}

enum tdns_status store_commit(struct tdns_txn *t)
{
	int rc;

	if (t == NULL)
		return TDNS_EINVAL;
	drop_spares(t);
	if (fault_hit()) {
		mdb_txn_abort(t->txn);
		rc = MDB_MAP_FULL;
	} else {
		rc = mdb_txn_commit(t->txn);
	}
	free(t->memo);
	free(t);
	return store_err(rc);
}

void store_abort(struct tdns_txn *t)
{
	if (t == NULL)
		return;
	drop_spares(t);
	mdb_txn_abort(t->txn);
	free(t->memo);
	free(t);
}

void store_reset(struct tdns_txn *t)
{
	if (t != NULL && !t->write) {
		drop_spares(t);
		mdb_txn_reset(t->txn);
		t->snap = 0;
	}
}

static struct memo *memo_new(void)
{
	struct memo *m = calloc(1, sizeof(*m));

	if (m != NULL &&
	    getrandom(&m->seed, sizeof(m->seed), GRND_NONBLOCK) != sizeof(m->seed))
		m->seed = (uint64_t)(uintptr_t)m ^ 0x9e3779b97f4a7c15u;
	return m;
}

enum tdns_status store_renew(struct tdns_txn *t)
{
	int rc;

	if (t == NULL || t->write)
		return TDNS_EINVAL;
	if (fault_hit())
		return TDNS_EIO;
	rc = mdb_txn_renew(t->txn);
	if (rc != MDB_SUCCESS)
		return store_err(rc);
	/* Without memory for a memo the transaction reads LMDB every time. */
	if (t->memo == NULL)
		t->memo = memo_new();
	t->snap = t->memo != NULL ? (uint64_t)mdb_txn_id(t->txn) : 0;
	return TDNS_OK;
}

void store_txn_set_user(struct tdns_txn *t, void *user)
{
	t->user = user;
}

void *store_txn_user(const struct tdns_txn *t)
{
	return t->user;
}

uint64_t store_txn_id(struct tdns_txn *t)
{
	if (t->snap != 0)
		return t->snap; /* taken at store_renew */
	return t->write ? 0 : (uint64_t)mdb_txn_id(t->txn);
}

static bool db_ok(enum tdns_db db)
{
	return (unsigned)db < TDNS_DB_COUNT_;
}

/* The memo set of (db, key) and, in *hash, the key's hash (dnsproto.h).
 * klen <= MEMO_KEY_MAX. */
static struct memo_slot *memo_set(struct memo *m, enum tdns_db db,
				  const uint8_t *key, size_t klen, uint64_t *hash)
{
	uint64_t h = dns_key_hash(m->seed ^ ((uint64_t)db << 56), key, klen);

	*hash = h;
	return &m->slot[(h & (MEMO_SLOTS / MEMO_WAYS - 1)) * MEMO_WAYS];
}

enum tdns_status store_get(struct tdns_txn *t, enum tdns_db db, const uint8_t *key,
			   size_t klen, struct tdns_val *out)
{
	struct memo_slot *ms = NULL;
	uint64_t h = 0;
	MDB_val k, v;
	int rc;

	if (fault_hit())
		return TDNS_EIO;
	if (!db_ok(db))
		return TDNS_EINVAL;
	if (klen == 0 || t->s->absent[db])
		return TDNS_ENOTFOUND; /* LMDB cannot hold an empty key */
	if (t->snap != 0 && klen <= MEMO_KEY_MAX) {
		struct memo_slot *set;
		unsigned i;

		set = memo_set(t->memo, db, key, klen, &h);
		for (i = 0; i < MEMO_WAYS; i++) {
			ms = &set[i];
			if (ms->snap != t->snap)
				break; /* the free way, filled below */
			if (ms->tag == (uint32_t)(h >> 32) && ms->db == db &&
			    ms->klen == klen && memcmp(ms->key, key, klen) == 0) {
				if (ms->data == NULL)
					return TDNS_ENOTFOUND;
				out->data = ms->data;
				out->len = ms->len;
				return TDNS_OK;
			}
		}
		/* Ways fill in order, so a full set has no free way: evict one
		 * the hash picks. */
		if (i == MEMO_WAYS)
			ms = &set[(h >> 40) & (MEMO_WAYS - 1)];
	}
	k.mv_data = (void *)key;
	k.mv_size = klen;
	rc = mdb_get(t->txn, t->s->dbi[db], &k, &v);
	if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
		return store_err(rc);
	if (ms != NULL && (rc != MDB_SUCCESS || v.mv_size <= UINT32_MAX)) {
		ms->snap = t->snap;
		ms->tag = (uint32_t)(h >> 32);
		ms->data = rc == MDB_SUCCESS ? v.mv_data : NULL;
		ms->len = rc == MDB_SUCCESS ? (uint32_t)v.mv_size : 0;
		ms->db = (uint8_t)db;
		ms->klen = (uint8_t)klen;
		memcpy(ms->key, key, klen);
	}
	if (rc != MDB_SUCCESS)
		return store_err(rc);
	out->data = v.mv_data;
	out->len = v.mv_size;
	return TDNS_OK;
}

/* mdb_put with flags; on MDB_KEYEXIST (MDB_NOOVERWRITE) *old is the value
 * already there. */
static enum tdns_status put_flags(struct tdns_txn *t, enum tdns_db db,
				  const uint8_t *key, size_t klen, const void *val,
				  size_t vlen, unsigned flags, struct tdns_val *old)
{
	MDB_val k, v;
	int rc;

	if (fault_hit())
		return TDNS_EFULL;
	if (!db_ok(db) || !t->write || klen == 0)
		return TDNS_EINVAL;
	k.mv_data = (void *)key;
	k.mv_size = klen;
	v.mv_data = (void *)val;
	v.mv_size = vlen;
	rc = mdb_put(t->txn, t->s->dbi[db], &k, &v, flags);
	if (rc == MDB_KEYEXIST && old != NULL) {
		old->data = v.mv_data;
		old->len = v.mv_size;
	}
	return store_err(rc);
}

enum tdns_status store_put(struct tdns_txn *t, enum tdns_db db, const uint8_t *key,
			   size_t klen, const void *val, size_t vlen)
{
	return put_flags(t, db, key, klen, val, vlen, 0, NULL);
}

enum tdns_status store_put_new(struct tdns_txn *t, enum tdns_db db,
			       const uint8_t *key, size_t klen, const void *val,
			       size_t vlen, struct tdns_val *old)
{
	return put_flags(t, db, key, klen, val, vlen, MDB_NOOVERWRITE, old);
}

enum tdns_status store_del(struct tdns_txn *t, enum tdns_db db, const uint8_t *key,
			   size_t klen)
{
	MDB_val k;

	if (fault_hit())
		return TDNS_EFULL;
	if (!db_ok(db) || !t->write)
		return TDNS_EINVAL;
	if (klen == 0)
		return TDNS_ENOTFOUND;
	k.mv_data = (void *)key;
	k.mv_size = klen;
	return store_err(mdb_del(t->txn, t->s->dbi[db], &k, NULL));
}

size_t store_count(struct tdns_txn *t, enum tdns_db db)
{
	MDB_stat ms;
	uint64_t id;

	if (!db_ok(db) || t->s->absent[db])
		return 0;
	/* A renewed read transaction must look its databases up again
	 * before mdb_stat (a B-tree search of the main database): a worker
	 * asking per query (the cache hit path) keeps the answer for the
	 * snapshot instead. */
	id = store_txn_id(t);
	if (id != 0 && t->count_id[db] == id)
		return t->count[db];
	if (mdb_stat(t->txn, t->s->dbi[db], &ms) != MDB_SUCCESS)
		return 0;
	t->count_id[db] = id;
	t->count[db] = ms.ms_entries;
	return ms.ms_entries;
}

enum tdns_status store_clear(struct tdns_txn *t, enum tdns_db db)
{
	if (!db_ok(db) || !t->write)
		return TDNS_EINVAL;
	return store_err(mdb_drop(t->txn, t->s->dbi[db], 0));
}

enum tdns_status store_cursor_open(struct tdns_txn *t, enum tdns_db db,
				   struct tdns_cursor **out)
{
	struct tdns_cursor *c = NULL;
	enum tdns_status st;

	*out = NULL;
	if (fault_hit())
		return TDNS_EIO;
	if (!db_ok(db))
		return TDNS_EINVAL;
	if (t->s->absent[db])
		return TDNS_ENOTFOUND;
	if (t->spare[db] != NULL) {
		*out = t->spare[db];
		t->spare[db] = NULL;
		return TDNS_OK;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return TDNS_ENOMEM;
	st = store_err(mdb_cursor_open(t->txn, t->s->dbi[db], &c->cur));
	if (st != TDNS_OK) {
		free(c);
		return st;
	}
	c->t = t;
	c->db = db;
	*out = c;
	return TDNS_OK;
}

void store_cursor_close(struct tdns_cursor *c)
{
	if (c == NULL)
		return;
	if (c->t->spare[c->db] == NULL) {
		c->t->spare[c->db] = c;
		return;
	}
	mdb_cursor_close(c->cur);
	free(c);
}

static void fill(const MDB_val *mk, const MDB_val *mv, struct tdns_val *k,
		 struct tdns_val *v)
{
	if (k != NULL) {
		k->data = mk->mv_data;
		k->len = mk->mv_size;
	}
	if (v != NULL) {
		v->data = mv->mv_data;
		v->len = mv->mv_size;
	}
}

enum tdns_status store_cursor_seek(struct tdns_cursor *c, const uint8_t *key,
				   size_t klen, struct tdns_val *k, struct tdns_val *v)
{
	MDB_val mk = { 0, NULL }, mv = { 0, NULL };
	int rc;

	if (fault_hit())
		return TDNS_EIO;
	/* LMDB keys are never empty, so an empty key means "from the start"
	 * (the root name's key is empty). */
	if (key == NULL || klen == 0) {
		rc = mdb_cursor_get(c->cur, &mk, &mv, MDB_FIRST);
	} else {
		mk.mv_data = (void *)key;
		mk.mv_size = klen;
		rc = mdb_cursor_get(c->cur, &mk, &mv, MDB_SET_RANGE);
	}
	if (rc != MDB_SUCCESS)
		return store_err(rc);
	fill(&mk, &mv, k, v);
	return TDNS_OK;
}

enum tdns_status store_cursor_seek_le(struct tdns_cursor *c, const uint8_t *key,
				      size_t klen, struct tdns_val *k,
				      struct tdns_val *v)
{
	MDB_val mk = { klen, (void *)key }, mv = { 0, NULL };
	int rc;

	if (fault_hit())
		return TDNS_EIO;
	rc = mdb_cursor_get(c->cur, &mk, &mv, MDB_SET_RANGE);
	if (rc == MDB_NOTFOUND)
		rc = mdb_cursor_get(c->cur, &mk, &mv, MDB_LAST);
	else if (rc == MDB_SUCCESS &&
		 (mk.mv_size != klen || memcmp(mk.mv_data, key, klen) != 0))
		rc = mdb_cursor_get(c->cur, &mk, &mv, MDB_PREV);
	if (rc != MDB_SUCCESS)
		return store_err(rc);
	fill(&mk, &mv, k, v);
	return TDNS_OK;
}

enum tdns_status store_cursor_next(struct tdns_cursor *c, struct tdns_val *k,
				   struct tdns_val *v)
{
	MDB_val mk = { 0, NULL }, mv = { 0, NULL };
	int rc;

	if (fault_hit())
		return TDNS_EIO;
	rc = mdb_cursor_get(c->cur, &mk, &mv, MDB_NEXT);
	if (rc != MDB_SUCCESS)
		return store_err(rc);
	fill(&mk, &mv, k, v);
	return TDNS_OK;
}

enum tdns_status store_cursor_del(struct tdns_cursor *c)
{
	if (fault_hit())
		return TDNS_EFULL;
	return store_err(mdb_cursor_del(c->cur, 0));
}

size_t store_used_bytes(struct tdns_store *s)
{
	MDB_envinfo info;
	MDB_stat ms;

	if (mdb_env_info(s->env, &info) != MDB_SUCCESS ||
	    mdb_env_stat(s->env, &ms) != MDB_SUCCESS)
		return 0;
	return (info.me_last_pgno + 1) * (size_t)ms.ms_psize;
}
