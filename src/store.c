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
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <lmdb.h>

#include "tierdns/dnsproto.h"
#include "tierdns/log.h"
#include "tierdns/randpool.h"

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
};

/* Databases of older stores that nothing reads any more (store.h):
 * dropped by a writable open. */
static const char *const db_retired[] = { "cache_pick" };

/* Databases a store of the same schema version may lack (written before
 * they existed): created at a writable open, read as empty otherwise. */
static const bool db_optional[TDNS_DB_COUNT_] = {
	[TDNS_DB_CACHE_EXP] = true,
	[TDNS_DB_JOURNAL] = true,
};

struct tdns_store {
	MDB_env *env;
	MDB_dbi dbi[TDNS_DB_COUNT_];
	bool absent[TDNS_DB_COUNT_]; /* optional and missing (read-only) */
	unsigned flags;
	uint64_t seed; /* of the memo's and the stamps' hash */
	struct stamps *stamps;
};

/*
 * The memo of a long-lived read transaction: the answers of store_get
 * (value or absence) by database and key, so that a worker answering the
 * same names again (every busy server) skips the B-tree descent. A slot
 * holds one of:
 * - an absence, or a copy of a value of at most MEMO_COPY_MAX bytes: good
 *   in every later snapshot in which no commit has changed the key (the
 *   store's stamps, below);
 * - a pointer to a larger value in the map: good only while the
 *   transaction is again at the snapshot it was read in (LMDB's pages
 *   reachable from the last committed snapshot stay where they are until
 *   a later commit).
 * MEMO_SLOTS slots in sets of MEMO_WAYS, keys of at most MEMO_KEY_MAX
 * bytes (longer ones always go to LMDB); a full set evicts, but never a
 * copy handed out since the last renewal (the caller may still read it).
 * The hash is seeded per store, so which names evict which is not known
 * outside.
 */
#define MEMO_SLOTS 8192u
#define MEMO_WAYS 4u
#define MEMO_KEY_MAX 94u /* a cache key of a 88-byte name; a slot is 320 bytes */
#define MEMO_COPY_MAX 192u

struct memo_slot {
	uint64_t snap; /* snapshot the slot holds the key's state of; 0: empty */
	const void *data; /* NULL: absent; copy: copied; else in the map */
	uint64_t hash; /* of (db, key) */
	uint32_t len;
	uint32_t lent; /* the memo's epoch in which the copy was handed out */
	uint8_t db;
	uint8_t klen;
	uint8_t key[MEMO_KEY_MAX];
	uint8_t copy[MEMO_COPY_MAX];
};

_Static_assert(sizeof(struct memo_slot) % 64 == 0, "a memo slot fills whole cache lines");

struct memo {
	uint32_t epoch; /* renewals so far */
	/* Each slot starts a cache line: a probe reads the heads of a set. */
	_Alignas(64) struct memo_slot slot[MEMO_SLOTS];
};

/*
 * What a memo copy taken in snapshot C needs to know to be used in a later
 * snapshot S of the same store: that no commit in (C, S] changed its key.
 * - Every write transaction of this process, before it commits as id X,
 *   sets the stamp of each key it writes (by hash, many keys to a stamp)
 *   to X, and cleared[db] to X when it empties db. A copy is good while
 *   its key's stamp and its database's cleared are <= C.
 * - Commits of other processes (tierdns-zone) or other handles set no
 *   stamps: `known` is the id up to which every commit is either this
 *   handle's (stamped) or covered by `wall`, and a renewal that finds its
 *   snapshot above `known` raises the wall to it, which voids every copy
 *   taken below it. A commit of this handle advances `known` from X - 1
 *   to X; one of another process leaves a gap only a wall closes.
 * - A renewal may see this handle's commit X before `known` does: X is
 *   then `pending`, and that transaction alone treats X as a wall (its
 *   copies are likely good, but a commit that failed after LMDB let go of
 *   its lock may have left X to another process).
 * - Each write transaction also sets changed[db] to X at its first write
 *   of db: what a reader derived from a whole database in snapshot C is
 *   good in S under the same rules, with changed[db] for the stamp
 *   (store_db_unchanged).
 * The stamps are stored before LMDB publishes the commit and loaded after a
 * renewal has read it, so a reader that sees a commit sees its stamps.
 */
#define STAMPS 65536u

struct stamps {
	_Atomic uint64_t known;
	_Atomic uint64_t wall;
	_Atomic uint64_t pending; /* the id this handle is committing, or 0 */
	_Atomic uint64_t checked; /* store_txn_checked: its snapshot, or 0 */
	_Atomic uint64_t cleared[TDNS_DB_COUNT_];
	/* Written once per commit: apart from what the lookups read. */
	_Alignas(64) _Atomic uint64_t changed[TDNS_DB_COUNT_];
	_Alignas(64) _Atomic uint64_t stamp[STAMPS];
};

/* What a write transaction puts is also handed to the memo of its
 * thread's long-lived read transaction when it commits (store.h): up to
 * WRITE_THROUGH_MAX small values of the databases store_get reads. */
#define WRITE_THROUGH_MAX 32u

struct through {
	uint64_t hash;
	uint32_t len;
	uint8_t db;
	uint8_t klen;
	uint8_t key[MEMO_KEY_MAX];
	uint8_t val[MEMO_COPY_MAX];
};

struct through_list {
	unsigned n;
	uint64_t bloom; /* bit (hash & 63) of every entry's hash */
	struct through e[WRITE_THROUGH_MAX];
};

/* Databases only walked by cursors: nothing of theirs is remembered, so
 * their keys need no stamps and nothing is written through. */
static const bool db_walked[TDNS_DB_COUNT_] = {
	[TDNS_DB_CACHE_EXP] = true,
	[TDNS_DB_JOURNAL] = true,
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
	uint64_t wall; /* the store's wall at the renewal */
	struct memo *memo; /* allocated at the first store_renew */
	/* A write transaction: whether it changed anything, and what it
	 * writes through (allocated at its first such put). */
	bool dirty;
	bool changed[TDNS_DB_COUNT_]; /* databases it set stamps->changed of */
	bool checked; /* store_txn_checked */
	uint64_t pending; /* the id it set as the store's pending, or 0 */
	struct through_list *through;
	struct through_list *through_spare; /* a reader's, for its thread's writes */
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
	for (i = 0; !rdonly && i < (int)(sizeof(db_retired) / sizeof(db_retired[0])); i++) {
		MDB_dbi dbi;

		rc = mdb_dbi_open(txn, db_retired[i], 0, &dbi);
		if (rc == MDB_NOTFOUND)
			continue;
		if (rc == MDB_SUCCESS)
			rc = mdb_drop(txn, dbi, 1);
		if (rc != MDB_SUCCESS) {
			log_err("%s: cannot drop the unused database '%s': %s", dir,
				db_retired[i], mdb_strerror(rc));
			st = store_err(rc);
			goto out;
		}
		log_info("%s: dropped the unused database '%s'", dir, db_retired[i]);
	}
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

/* n zeroed bytes for a memo or the stamps, mapped from the kernel: their
 * pages are taken only as they fill, where calloc would clear the whole
 * of a block this large once its heap serves one (after the first is
 * freed). NULL if it cannot be had. */
static void *zeroed_map(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static void zeroed_unmap(void *p, size_t n)
{
	if (p != NULL)
		munmap(p, n);
}

/* The stamps (struct stamps) of a store just opened: nothing is memoized
 * yet, so every commit so far is known. */
static enum tdns_status stamps_init(struct tdns_store *s)
{
	MDB_envinfo info;

	s->stamps = zeroed_map(sizeof(*s->stamps));
	if (s->stamps == NULL)
		return TDNS_ENOMEM;
	s->seed = randpool_seed(s);
	if (mdb_env_info(s->env, &info) == MDB_SUCCESS) {
		atomic_store(&s->stamps->known, info.me_last_txnid);
		atomic_store(&s->stamps->wall, info.me_last_txnid);
	}
	return TDNS_OK;
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
	/* A store that need not survive power loss (the local's cache) is
	 * also written in place in the map (MDB_WRITEMAP): no copy of each
	 * dirty page in the heap and no write of it at commit (measured: 800
	 * instructions less per cached answer), as Knot's asynchronous
	 * journal mode does. The map is then writable, so a stray write of
	 * this process could reach the data; and the file is sized to the
	 * whole map (sparse). Another process (tierdns-zone) may still open
	 * the store without it: the page cache is one. */
	if (s->flags & STORE_NOSYNC)
		envflags |= MDB_NOSYNC | MDB_NOMETASYNC | MDB_WRITEMAP;

	rc = mdb_env_create(&s->env);
	if (rc != MDB_SUCCESS) {
		st = store_err(rc);
		goto out;
	}
	rc = mdb_env_set_maxdbs(s->env, TDNS_DB_COUNT_ + sizeof(db_retired) /
					   sizeof(db_retired[0]));
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
	st = stamps_init(s);
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
	zeroed_unmap(s->stamps, sizeof(*s->stamps));
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

/* The long-lived read transaction of this thread that was renewed last:
 * what this thread's write transactions on its store write through to. */
static _Thread_local struct tdns_txn *thread_reader;

/* The hash of (db, key) under s's seed (dnsproto.h); klen <= MEMO_KEY_MAX. */
static uint64_t key_hash(const struct tdns_store *s, enum tdns_db db,
			 const uint8_t *key, size_t klen)
{
	return dns_key_hash(s->seed ^ ((uint64_t)db << 56), key, klen);
}

static _Atomic uint64_t *stamp_of(const struct tdns_store *s, uint64_t hash)
{
	return &s->stamps->stamp[(hash >> 20) & (STAMPS - 1)];
}

/* Raise *a to at least v. */
static void atomic_raise(_Atomic uint64_t *a, uint64_t v)
{
	uint64_t cur = atomic_load(a);

	while (cur < v && !atomic_compare_exchange_weak(a, &cur, v))
		;
}

/* The first slot of the memo set of hash. */
static struct memo_slot *memo_set(struct memo *m, uint64_t hash)
{
	return &m->slot[(hash & (MEMO_SLOTS / MEMO_WAYS - 1)) * MEMO_WAYS];
}

static bool slot_copied(const struct memo_slot *ms)
{
	return ms->data == NULL || ms->data == ms->copy;
}

/* The rule of struct stamps: whether what read transaction t's thread
 * read of database db in snapshot `since` is still good in t's snapshot,
 * stamp being the stamp that covers it (a key's, or the database's
 * changed). Neither a later snapshot's nor one a wall voided. */
static inline bool stamped_good(const struct tdns_txn *t, enum tdns_db db,
				uint64_t since, const _Atomic uint64_t *stamp)
{
	return since <= t->snap && since >= t->wall &&
	       atomic_load_explicit(stamp, memory_order_acquire) <= since &&
	       atomic_load_explicit(&t->s->stamps->cleared[db], memory_order_acquire) <=
		       since;
}

/* Whether filled slot ms may answer for read transaction t (struct memo,
 * struct stamps): a map pointer only in its own snapshot. */
static inline bool slot_good(const struct tdns_txn *t, const struct memo_slot *ms)
{
	if (ms->snap == t->snap)
		return true;
	return slot_copied(ms) &&
	       stamped_good(t, ms->db, ms->snap, stamp_of(t->s, ms->hash));
}

/* Whether ms holds a copy handed out by t since its renewal. */
static bool slot_lent(const struct tdns_txn *t, const struct memo_slot *ms)
{
	return ms->data != NULL && ms->data == ms->copy &&
	       ms->lent == t->memo->epoch;
}

/* Whether the n bytes at a and b are equal: memcmp without its call, for
 * the few words of a memo key (n <= MEMO_KEY_MAX); a key of 8 bytes or
 * more ends with an overlapping word. */
static bool key_same(const uint8_t *a, const uint8_t *b, size_t n)
{
	uint64_t x, y;
	size_t i;

	if (n < 8) {
		for (i = 0; i < n; i++)
			if (a[i] != b[i])
				return false;
		return true;
	}
	for (i = 0; i + 8 < n; i += 8) {
		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		if (x != y)
			return false;
	}
	memcpy(&x, a + n - 8, 8);
	memcpy(&y, b + n - 8, 8);
	return x == y;
}

static bool slot_is(const struct memo_slot *ms, uint64_t hash, enum tdns_db db,
		    const uint8_t *key, size_t klen)
{
	return ms->hash == hash && ms->snap != 0 && ms->db == db &&
	       ms->klen == klen && key_same(ms->key, key, klen);
}

/* The way of set to fill with (db, key, hash) for t: the key's own when
 * it may be replaced, else an empty one, else one that can no longer
 * answer (not even in a later snapshot), else one the hash picks; never a
 * copy t lent out. NULL when every way holds one. */
static struct memo_slot *memo_victim(const struct tdns_txn *t,
				     struct memo_slot *set, enum tdns_db db,
				     const uint8_t *key, size_t klen, uint64_t hash)
{
	struct memo_slot *ms, *empty = NULL, *dead = NULL;
	unsigned i, pick = (unsigned)(hash >> 40);

	for (i = 0; i < MEMO_WAYS; i++) {
		ms = &set[i];
		if (ms->snap == 0) {
			empty = empty != NULL ? empty : ms;
		} else if (!slot_lent(t, ms)) {
			if (slot_is(ms, hash, db, key, klen))
				return ms;
			if (dead == NULL && ms->snap <= t->snap && !slot_good(t, ms))
				dead = ms;
		}
	}
	if (empty != NULL || dead != NULL)
		return empty != NULL ? empty : dead;
	for (i = 0; i < MEMO_WAYS; i++) {
		ms = &set[(pick + i) & (MEMO_WAYS - 1)];
		if (!slot_lent(t, ms))
			return ms;
	}
	return NULL;
}

/* Fill ms with (db, key) as of snapshot snap: absent (data NULL), copied
 * (len <= MEMO_COPY_MAX) or, when `pointer`, by its place in the map. */
static void memo_fill(struct memo_slot *ms, uint64_t snap, uint64_t hash,
		      enum tdns_db db, const uint8_t *key, size_t klen,
		      const void *data, size_t len, bool pointer)
{
	ms->snap = snap;
	ms->hash = hash;
	ms->db = (uint8_t)db;
	ms->klen = (uint8_t)klen;
	memcpy(ms->key, key, klen);
	ms->len = (uint32_t)len;
	if (data == NULL || pointer) {
		ms->data = data;
	} else {
		memcpy(ms->copy, data, len);
		ms->data = ms->copy;
	}
}

/* Write transaction t writes (db, key): stamp the key, and forget what it
 * would have written through for it (a delete, or a value written again).
 * Keys the memo never holds need no stamp. */
static void write_mark(struct tdns_txn *t, enum tdns_db db, const uint8_t *key,
		       size_t klen, uint64_t *hash)
{
	struct through_list *tl = t->through;
	uint64_t h;

	t->dirty = true;
	if (!t->changed[db]) {
		t->changed[db] = true;
		atomic_store_explicit(&t->s->stamps->changed[db],
				      (uint64_t)mdb_txn_id(t->txn), memory_order_release);
	}
	if (klen > MEMO_KEY_MAX || db_walked[db])
		return;
	h = key_hash(t->s, db, key, klen);
	*hash = h;
	atomic_store_explicit(stamp_of(t->s, h), (uint64_t)mdb_txn_id(t->txn),
			      memory_order_release);
	if (tl == NULL || !(tl->bloom >> (h & 63) & 1))
		return;
	for (unsigned i = 0; i < tl->n; i++) {
		if (tl->e[i].hash == h && tl->e[i].db == db &&
		    tl->e[i].klen == klen && key_same(tl->e[i].key, key, klen)) {
			tl->e[i] = tl->e[--tl->n];
			break;
		}
	}
}

/* The reader write transaction t writes through to: this thread's, if it
 * reads t's store and has a memo; else NULL. */
static struct tdns_txn *through_reader(const struct tdns_txn *t)
{
	struct tdns_txn *r = thread_reader;

	return r != NULL && r->s == t->s && r->memo != NULL ? r : NULL;
}

/* Keep (db, key, val) to write through at the commit of t, if it is of
 * the kind the memo holds and this thread has a reader for the store. */
static void write_keep(struct tdns_txn *t, enum tdns_db db, const uint8_t *key,
		       size_t klen, const void *val, size_t vlen, uint64_t hash)
{
	struct tdns_txn *r;
	struct through *e;

	if (klen > MEMO_KEY_MAX || vlen > MEMO_COPY_MAX || db_walked[db] ||
	    (r = through_reader(t)) == NULL)
		return;
	if (t->through == NULL) {
		t->through = r->through_spare != NULL ? r->through_spare
						      : malloc(sizeof(*t->through));
		r->through_spare = NULL;
		if (t->through == NULL)
			return;
		t->through->n = 0;
		t->through->bloom = 0;
	}
	if (t->through->n == WRITE_THROUGH_MAX)
		return;
	t->through->bloom |= (uint64_t)1 << (hash & 63);
	e = &t->through->e[t->through->n++];
	e->hash = hash;
	e->db = (uint8_t)db;
	e->klen = (uint8_t)klen;
	e->len = (uint32_t)vlen;
	memcpy(e->key, key, klen);
	memcpy(e->val, val, vlen);
}

/* After t committed as snapshot id: hand what it kept to the thread's
 * reader. A slot of one of these keys that the reader lent out keeps its
 * old copy (the stamps void it); the new one goes to another way. */
static void write_through(const struct tdns_txn *t, uint64_t id)
{
	struct tdns_txn *r = through_reader(t);
	struct memo_slot *ms;

	if (t->through == NULL || r == NULL)
		return;
	for (unsigned i = 0; i < t->through->n; i++) {
		const struct through *e = &t->through->e[i];

		ms = memo_victim(r, memo_set(r->memo, e->hash), e->db, e->key,
				 e->klen, e->hash);
		if (ms != NULL)
			memo_fill(ms, id, e->hash, e->db, e->key, e->klen, e->val,
				  e->len, false);
	}
}

/* The end of transaction t (committed as snapshot id when non-zero). */
static void txn_free(struct tdns_txn *t, uint64_t id)
{
	if (thread_reader == t)
		thread_reader = NULL;
	if (id != 0) {
		uint64_t prev = id - 1;

		/* Every commit up to id is known if every one up to id - 1
		 * was (struct stamps). */
		atomic_compare_exchange_strong(&t->s->stamps->known, &prev, id);
	}
	if (t->pending != 0) {
		/* No longer pending; a later commit's own mark stays. */
		uint64_t mine = t->pending;

		atomic_compare_exchange_strong(&t->s->stamps->pending, &mine, 0);
	}
	if (id != 0)
		write_through(t, id);
	if (t->through != NULL && thread_reader != NULL &&
	    thread_reader->through_spare == NULL)
		thread_reader->through_spare = t->through; /* for the next one */
	else
		free(t->through);
	free(t->through_spare);
	zeroed_unmap(t->memo, sizeof(*t->memo));
	free(t);
}

enum tdns_status store_commit(struct tdns_txn *t)
{
	uint64_t id, base;
	int rc;

	if (t == NULL)
		return TDNS_EINVAL;
	drop_spares(t);
	id = t->write && t->dirty ? (uint64_t)mdb_txn_id(t->txn) : 0;
	base = t->write ? (uint64_t)mdb_txn_id(t->txn) - 1 : 0;
	/* The stamps and `pending` before LMDB publishes the commit (struct
	 * stamps). */
	if (id != 0) {
		t->pending = id;
		atomic_store(&t->s->stamps->pending, id);
	}
	atomic_thread_fence(memory_order_seq_cst);
	if (fault_hit()) {
		mdb_txn_abort(t->txn);
		rc = MDB_MAP_FULL;
	} else {
		rc = mdb_txn_commit(t->txn);
	}
	if (rc == MDB_SUCCESS && t->checked)
		atomic_store(&t->s->stamps->checked, id != 0 ? id : base);
	txn_free(t, rc == MDB_SUCCESS ? id : 0);
	return store_err(rc);
}

void store_abort(struct tdns_txn *t)
{
	if (t == NULL)
		return;
	drop_spares(t);
	mdb_txn_abort(t->txn);
	txn_free(t, 0);
}

void store_reset(struct tdns_txn *t)
{
	if (t != NULL && !t->write) {
		drop_spares(t);
		mdb_txn_reset(t->txn);
		t->snap = 0;
	}
}

enum tdns_status store_renew(struct tdns_txn *t)
{
	struct stamps *sp = t != NULL ? t->s->stamps : NULL;
	uint64_t id;
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
		t->memo = zeroed_map(sizeof(*t->memo));
	if (t->memo == NULL) {
		t->snap = 0;
		return TDNS_OK;
	}
	id = (uint64_t)mdb_txn_id(t->txn);
	/* The stamps after the renewal read the commit (struct stamps). */
	atomic_thread_fence(memory_order_seq_cst);
	t->wall = 0;
	if (id > atomic_load(&sp->known)) {
		if (id == atomic_load(&sp->pending)) {
			t->wall = id; /* this handle's, still publishing */
		} else {
			/* Another process's commit (or more than one): void
			 * every older copy. */
			atomic_raise(&sp->wall, id);
			atomic_raise(&sp->known, id);
		}
	}
	if (t->wall < atomic_load(&sp->wall))
		t->wall = atomic_load(&sp->wall);
	t->snap = id;
	t->memo->epoch++;
	thread_reader = t;
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

void store_txn_checked(struct tdns_txn *t)
{
	if (t->write)
		t->checked = true;
}

bool store_txn_follows_checked(struct tdns_txn *t)
{
	uint64_t checked = atomic_load(&t->s->stamps->checked);

	return t->write && checked != 0 &&
	       (uint64_t)mdb_txn_id(t->txn) - 1 == checked;
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

bool store_db_unchanged(const struct tdns_txn *t, enum tdns_db db, uint64_t since)
{
	if (t->write || !db_ok(db) || t->snap == 0 || since == 0)
		return false;
	return stamped_good(t, db, since, &t->s->stamps->changed[db]);
}

uint64_t store_key_token(const struct tdns_store *s, enum tdns_db db, const uint8_t *key,
			 size_t klen)
{
	if (!db_ok(db) || db_walked[db] || klen > MEMO_KEY_MAX)
		return 0;
	return key_hash(s, db, key, klen);
}

bool store_token_unchanged(const struct tdns_txn *t, enum tdns_db db, uint64_t token,
			   uint64_t since)
{
	if (t->write || !db_ok(db) || token == 0 || t->snap == 0 || since == 0)
		return false;
	return stamped_good(t, db, since, stamp_of(t->s, token));
}

uint64_t store_write_id(struct tdns_txn *t)
{
	return t->write ? (uint64_t)mdb_txn_id(t->txn) : 0;
}

enum tdns_status store_get(struct tdns_txn *t, enum tdns_db db, const uint8_t *key,
			   size_t klen, struct tdns_val *out)
{
	struct memo_slot *set = NULL, *ms, *fill = NULL;
	uint64_t h = 0;
	MDB_val k, v;
	int rc;

	if (fault_hit())
		return TDNS_EIO;
	if (!db_ok(db))
		return TDNS_EINVAL;
	if (klen == 0 || t->s->absent[db])
		return TDNS_ENOTFOUND; /* LMDB cannot hold an empty key */
	if (t->snap != 0 && klen <= MEMO_KEY_MAX && !db_walked[db]) {
		unsigned i;

		h = key_hash(t->s, db, key, klen);
		set = memo_set(t->memo, h);
		for (i = 0; i < MEMO_WAYS; i++) {
			ms = &set[i];
			if (ms->snap == 0) {
				fill = fill != NULL ? fill : ms; /* an empty way */
				continue;
			}
			if (!slot_is(ms, h, db, key, klen))
				continue;
			if (!slot_good(t, ms)) {
				/* The key's own, gone stale (not a later
				 * snapshot's: that one is newer news). */
				if (!slot_lent(t, ms) && ms->snap < t->snap)
					fill = ms;
				continue;
			}
			if (ms->data == NULL)
				return TDNS_ENOTFOUND;
			if (ms->data == ms->copy)
				ms->lent = t->memo->epoch;
			out->data = ms->data;
			out->len = ms->len;
			return TDNS_OK;
		}
	}
	k.mv_data = (void *)key;
	k.mv_size = klen;
	rc = mdb_get(t->txn, t->s->dbi[db], &k, &v);
	if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
		return store_err(rc);
	if (set == NULL || (rc == MDB_SUCCESS && v.mv_size > UINT32_MAX))
		ms = NULL;
	else
		ms = fill != NULL ? fill : memo_victim(t, set, db, key, klen, h);
	if (ms != NULL)
		memo_fill(ms, t->snap, h, db, key, klen,
			  rc == MDB_SUCCESS ? v.mv_data : NULL,
			  rc == MDB_SUCCESS ? v.mv_size : 0,
			  rc == MDB_SUCCESS && v.mv_size > MEMO_COPY_MAX);
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
	uint64_t h = 0;
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
	if (rc == MDB_SUCCESS) {
		write_mark(t, db, key, klen, &h);
		write_keep(t, db, key, klen, val, vlen, h);
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
	uint64_t h;
	MDB_val k;
	int rc;

	if (fault_hit())
		return TDNS_EFULL;
	if (!db_ok(db) || !t->write)
		return TDNS_EINVAL;
	if (klen == 0)
		return TDNS_ENOTFOUND;
	k.mv_data = (void *)key;
	k.mv_size = klen;
	rc = mdb_del(t->txn, t->s->dbi[db], &k, NULL);
	if (rc == MDB_SUCCESS)
		write_mark(t, db, key, klen, &h);
	return store_err(rc);
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
	struct through_list *tl = t->through;
	int rc;

	if (!db_ok(db) || !t->write)
		return TDNS_EINVAL;
	rc = mdb_drop(t->txn, t->s->dbi[db], 0);
	if (rc != MDB_SUCCESS)
		return store_err(rc);
	t->dirty = true;
	atomic_store_explicit(&t->s->stamps->cleared[db],
			      (uint64_t)mdb_txn_id(t->txn), memory_order_release);
	for (unsigned i = 0; tl != NULL && i < tl->n;) {
		if (tl->e[i].db == db)
			tl->e[i] = tl->e[--tl->n];
		else
			i++;
	}
	return TDNS_OK;
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
	MDB_val mk = { 0, NULL }, mv = { 0, NULL };
	uint8_t key[MEMO_KEY_MAX];
	uint64_t h;
	int rc = MDB_SUCCESS;

	if (fault_hit())
		return TDNS_EFULL;
	/* The key, for write_mark (which reads only keys the memo can
	 * hold, of databases it remembers), before its page changes. */
	if (!db_walked[c->db])
		rc = mdb_cursor_get(c->cur, &mk, &mv, MDB_GET_CURRENT);
	if (rc == MDB_SUCCESS && mk.mv_size > 0 && mk.mv_size <= MEMO_KEY_MAX)
		memcpy(key, mk.mv_data, mk.mv_size);
	if (rc == MDB_SUCCESS)
		rc = mdb_cursor_del(c->cur, 0);
	if (rc == MDB_SUCCESS)
		write_mark(c->t, c->db, key, mk.mv_size, &h);
	return store_err(rc);
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
