/*
 * store.h - the LMDB environment of one tier. The only module that names
 * MDB_* types or sees LMDB error codes (translated to enum tdns_status here).
 *
 * One environment per tier, a directory holding data.mdb and lock.mdb, with
 * these named databases:
 *   meta   "schema" -> u32 STORE_SCHEMA_VERSION (network order), and the
 *          small values of other modules under keys of their own (the
 *          tier stamp, the cache's size account and index state, zones'
 *          serial policies and DNSSEC settings, secondary zones' last
 *          refresh)
 *   zones  zone apex name key -> zone metadata (see zonedb.h)
 *   rr     record key (name.h) -> packed RRset (rrset.h)
 *   cache  u32 hash of the name key of the question's qname || the
 *          record key of the question (qname, qtype) -> cache entry
 *          (cache.h; in hash order, so a seek to a random key finds random
 *          names, and the entries of one name lie together)
 *   cache_exp  the cache's expiry index: u64 expiry || record key -> empty
 *          (cache.h keeps it in step with `cache`)
 *   dnssec the denial-of-existence index of signed zones (zonedb.h): the
 *          NSEC records in canonical order and the NSEC3 records by hash
 *   journal the zones' change history for IXFR (journal.h): apex key |
 *          0x00 | u32 serial before -> the diff to the next serial
 *
 * A store of STORE_SCHEMA_VERSION has the dnssec database and keeps each
 * RRSIG inside the RRset it covers (rrset.h); a store of any other version
 * is refused, with a message saying how to migrate (load the zones into a
 * new store).
 *
 * A database newer than the schema version (cache_exp) may be absent from
 * a store written before it existed: a writable open creates it empty, a
 * read-only open treats it as empty (store_get TDNS_ENOTFOUND, store_count
 * 0, store_cursor_open TDNS_ENOTFOUND). A database no longer used
 * (cache_pick, the cache's sampling index before the cache itself was
 * kept in hash order) is dropped, pages freed, by a writable open.
 *
 * Ownership: a struct tdns_store is owned by whoever opened it and is shared
 * by all threads. A struct tdns_txn belongs to the thread that began it;
 * a write transaction must be committed or aborted on that thread. Values
 * returned through struct tdns_val point into the LMDB map: they may be
 * unaligned and are valid only until the transaction ends, is reset, or the
 * same key is written in it. Copy them out (rrset.h decoding only reads).
 */
#ifndef TIERDNS_STORE_H
#define TIERDNS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tierdns/status.h"

#define STORE_SCHEMA_VERSION 2u

enum tdns_db {
	TDNS_DB_META = 0,
	TDNS_DB_ZONES,
	TDNS_DB_RR,
	TDNS_DB_CACHE,
	TDNS_DB_CACHE_EXP,
	TDNS_DB_DNSSEC,
	TDNS_DB_JOURNAL,
	TDNS_DB_COUNT_
};

enum tdns_store_flags {
	STORE_RDONLY = 1u << 0, /* open read-only: no schema creation */
	STORE_NOSYNC = 1u << 1, /* no fsync per commit: survives kill -9
				 * (data is in the OS page cache), not power loss;
				 * written in place in the map (the file is the
				 * map's size, sparse); used for the local tier's
				 * cache */
	/*
	 * Which daemon the store belongs to (at most one of the two). meta
	 * "tier" holds "upper" or "local" (ASCII): a daemon stamps its store
	 * at its first writable open, and an open for the other tier fails
	 * with TDNS_EWRONGTIER (the error logged names both). A store not yet
	 * stamped that holds cache entries is a local store. Without either
	 * flag (tierdns-zone: zones go into either tier's store) nothing is
	 * stamped or checked.
	 */
	STORE_TIER_UPPER = 1u << 2,
	STORE_TIER_LOCAL = 1u << 3,
};

struct tdns_store_opts {
	size_t map_size;      /* bytes; 0 = 1 GiB */
	unsigned flags;       /* enum tdns_store_flags */
	unsigned max_readers; /* 0 = 126 (LMDB default) */
};

struct tdns_store;
struct tdns_txn;
struct tdns_cursor;

/* Borrowed bytes (see ownership above). */
struct tdns_val {
	const uint8_t *data;
	size_t len;
};

/*
 * Open (creating dir and databases if missing) the environment in dir.
 * Clears stale reader slots (mdb_reader_check). Writes the schema key in a new
 * store; TDNS_ESCHEMA (and an error logged naming the versions) if the store
 * holds another version; TDNS_EWRONGTIER (logged) if it belongs to the other
 * tier (STORE_TIER_*). opts may be NULL for defaults. *out owned by
 * caller, released with store_close(). With STORE_RDONLY nothing is created:
 * TDNS_ENOTFOUND if dir holds no store (or one never initialised).
 * TDNS_EACCES when the directory or its files may not be read or written
 * (or created) by this user; the caller reports it, nothing is logged here
 * but a directory that could not be created.
 */
enum tdns_status store_open(const char *dir, const struct tdns_store_opts *opts,
			    struct tdns_store **out);
void store_close(struct tdns_store *s);

/* Begin a transaction; *out is released by store_commit or store_abort. */
enum tdns_status store_begin(struct tdns_store *s, bool write,
			     struct tdns_txn **out);
/* Commit and free t (also on failure). TDNS_EFULL if the map filled up. */
enum tdns_status store_commit(struct tdns_txn *t);
/* Abort and free t. NULL is allowed. */
void store_abort(struct tdns_txn *t);
/* For long-lived read transactions (one per worker): release the snapshot
 * without freeing, then take a fresh snapshot. Read-only transactions only.
 * A renewed transaction remembers what store_get found (or did not) per
 * key, so a name asked again in a later batch costs a hash probe instead
 * of a B-tree descent; small values and absences are remembered across
 * commits that did not change them, and what a write transaction of the
 * same thread commits is remembered at once (store.c). A value store_get
 * returned stays valid until the next store_reset, as LMDB's own do. */
void store_reset(struct tdns_txn *t);
enum tdns_status store_renew(struct tdns_txn *t);

/* TDNS_ENOTFOUND if absent. */
enum tdns_status store_get(struct tdns_txn *t, enum tdns_db db, const uint8_t *key,
			   size_t klen, struct tdns_val *out);
/* Insert or overwrite. TDNS_EFULL on a full map: the transaction is then
 * unusable and must be aborted. */
enum tdns_status store_put(struct tdns_txn *t, enum tdns_db db, const uint8_t *key,
			   size_t klen, const void *val, size_t vlen);
/* Insert only if the key is absent (one B-tree descent where a get then a
 * put take two): TDNS_EEXIST, with *old set to the value already there
 * (valid as store_get's) and nothing written, when present; the
 * transaction stays usable then. Other errors as store_put. */
enum tdns_status store_put_new(struct tdns_txn *t, enum tdns_db db,
			       const uint8_t *key, size_t klen, const void *val,
			       size_t vlen, struct tdns_val *old);
/* TDNS_ENOTFOUND if absent. */
enum tdns_status store_del(struct tdns_txn *t, enum tdns_db db, const uint8_t *key,
			   size_t klen);
/* Number of entries in db. */
size_t store_count(struct tdns_txn *t, enum tdns_db db);
/* Delete every entry of db in write transaction t (the database stays,
 * empty; its pages are freed without being copied). Cursors on db must be
 * re-seeked afterwards. */
enum tdns_status store_clear(struct tdns_txn *t, enum tdns_db db);

/* Cursors live inside their transaction; close before it ends. */
enum tdns_status store_cursor_open(struct tdns_txn *t, enum tdns_db db,
				   struct tdns_cursor **out);
void store_cursor_close(struct tdns_cursor *c);
/* Position at the first key >= key (key NULL: the first key). Fills k and v.
 * TDNS_ENOTFOUND when there is no such key. */
enum tdns_status store_cursor_seek(struct tdns_cursor *c, const uint8_t *key,
				   size_t klen, struct tdns_val *k, struct tdns_val *v);
/* Position at the last key <= key (klen > 0). TDNS_ENOTFOUND when every
 * key is greater (or db is empty). */
enum tdns_status store_cursor_seek_le(struct tdns_cursor *c, const uint8_t *key,
				      size_t klen, struct tdns_val *k,
				      struct tdns_val *v);
/* Next key; TDNS_ENOTFOUND at the end. */
enum tdns_status store_cursor_next(struct tdns_cursor *c, struct tdns_val *k,
				   struct tdns_val *v);
/* Delete the entry under the cursor (write transactions). */
enum tdns_status store_cursor_del(struct tdns_cursor *c);

/* One pointer of the caller's riding on a transaction (NULL at begin),
 * for a module that follows the changes made in it (journal.h); the
 * store never reads it. */
void store_txn_set_user(struct tdns_txn *t, void *user);
void *store_txn_user(const struct tdns_txn *t);

/* For a module that keeps an invariant across databases in every write
 * transaction of its own (cache.c's expiry index) and checks it at the start
 * of each: store_txn_checked says write transaction t checked it (or
 * followed a checked one, below) and keeps it; store_txn_follows_checked
 * is true when t starts from the snapshot such a transaction of this
 * handle committed (or checked and left unchanged), so nothing else has
 * written since and the check may be skipped. */
void store_txn_checked(struct tdns_txn *t);
bool store_txn_follows_checked(struct tdns_txn *t);

/* The id of the snapshot t reads
 * (LMDB's transaction id, which every committed write increases). Caches
 * derived from the store compare it to know they are still current.
 * 0 for a write transaction: its changes are not a committed snapshot. */
uint64_t store_txn_id(struct tdns_txn *t);

/* Whether no commit in (since, t's snapshot] changed database db, as far
 * as this handle can tell: what a reader derived from the whole of db in
 * snapshot `since` (a store_txn_id) is then still good in t's. False when
 * unsure: t a write transaction or not renewed with a memo (store_renew),
 * since later than t's snapshot, or a commit of another process or
 * handle since. Costs two loads. */
bool store_db_unchanged(const struct tdns_txn *t, enum tdns_db db, uint64_t since);

/* What store_token_unchanged needs of (db, key), computed once for this
 * handle: 0 when the handle keeps no stamps of the key (one longer than
 * the memo's keys, about 90 bytes, or of a database only walked). */
uint64_t store_key_token(const struct tdns_store *s, enum tdns_db db, const uint8_t *key,
			 size_t klen);

/* Whether no commit in (since, t's snapshot] changed the key of token (a
 * nonzero store_key_token of t's store and db), as far as this handle can
 * tell: the memo's own rule (store.c struct stamps), for what a reader
 * derived from the key's value in snapshot `since`. False when unsure, as
 * store_db_unchanged. Costs a few loads. */
bool store_token_unchanged(const struct tdns_txn *t, enum tdns_db db, uint64_t token,
			   uint64_t since);

/* The snapshot id write transaction t becomes when it commits (0 for a
 * read transaction). */
uint64_t store_write_id(struct tdns_txn *t);

/* Bytes of the map in use (pages * page size), for list/bench output. */
size_t store_used_bytes(struct tdns_store *s);

#ifdef TDNS_FAULT_INJECT
/*
 * Fault injection for tests: compiled only with -DTDNS_FAULT_INJECT (the
 * tierdns_fault library of tests/), never into a product binary.
 *
 * Every call of store_begin, store_renew, store_commit, store_get,
 * store_put, store_put_new, store_del, store_cursor_open,
 * store_cursor_seek, store_cursor_seek_le, store_cursor_next and
 * store_cursor_del is one
 * operation. store_fault_arm(n) resets the count and makes the n-th
 * operation from now (1: the next one) fail, once, without touching LMDB:
 * reads (begin, renew, get, cursor open/seek/next) with TDNS_EIO, writes
 * (put, del, cursor del, commit) with TDNS_EFULL as a full map would; a
 * failed commit still frees its transaction, a failed begin leaves *out
 * NULL. n = 0 disarms (operations are still counted).
 * store_fault_arm_sticky(n) is the same, except that every operation from
 * the n-th on fails (a store that stays broken), until the next arm.
 * store_fault_calls() is the number of operations since the last arm.
 * The state is per thread (_Thread_local): arm on the thread that runs
 * the operations.
 */
void store_fault_arm(unsigned long n);
void store_fault_arm_sticky(unsigned long n);
unsigned long store_fault_calls(void);
#endif

#endif
