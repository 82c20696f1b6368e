/*
 * cache.h - the local tier's persistent answer cache (the store's `cache` DB).
 *
 * One entry per question (class IN only): the key is the cache key, a u32
 * hash of the name key (name.h) of the lower-cased qname, then the record
 * key (name.h name_record_key) of that qname and the qtype (below). The value
 * is packed field by field, every integer in network order, never a struct
 * dump:
 *
 *   u8  version (CACHE_VALUE_VERSION)
 *   u8  rcode              (NOERROR or NXDOMAIN)
 *   u64 expiry             absolute, epoch seconds: min of the record expiries
 *   u16 ancount            records of the answer section (the CNAME chain)
 *   u16 nscount            records of the authority section (the SOA of a
 *                          negative answer, or none)
 *   u8  status             enum valid_status: what DNSSEC validation said
 *   u8  ede                RFC 8914 INFO-CODE of a bogus value, else 0
 *   u32 ttl                expiry minus the time the value was built: the
 *                          TTL it was stored with (prefetch)
 *   (ancount + nscount) times:
 *     owner                uncompressed wire name, case as received
 *     u16 type | u16 class | u64 expiry (absolute) | u16 rdlength | rdata
 *
 * What is cached (RFC 5452 5, RFC 2308): only the CNAME chain that starts at
 * the question name (each CNAME owned by the previous target), then the RRset
 * of qtype owned by the last target (one TTL for it, the smallest: RFC 2181
 * 5.2); for NXDOMAIN/NODATA the SOA of the authority section whose owner is
 * the last name of the chain or an ancestor of it (the zone that denies
 * it), with the negative TTL min(SOA TTL, SOA MINIMUM) (RFC 2308 5), which
 * is also the TTL the SOA is served with. Everything else in an
 * upstream reply (unrelated answers, authority NS, additional data) is
 * discarded. TTLs with the top bit set count as 0 (RFC 2181 8); a reply with
 * a TTL of 0 anywhere on what would be cached is answered but not cached.
 * Positive TTLs are capped by max_ttl, negative ones by max_neg_ttl.
 *
 * With DNSSEC (the upstream asked with DO): each RRset of the answer is
 * followed by its RRSIGs, and a negative answer's authority holds the SOA,
 * its RRSIGs, and the NSEC/NSEC3 records with theirs (the denial proof);
 * so does a positive answer's with an RRset expanded from a wildcard (an
 * RRSIG whose Labels field is below its owner's label count): the NSEC/
 * NSEC3 records with theirs, the proof that no closer name exists (RFC
 * 4035 3.1.3.3), their TTLs capped as positive ones.
 * DO=0 clients are not given RRSIG, NSEC and NSEC3 records unless they
 * asked for that type (RFC 4035 3.2.1). Version 1 values (without status
 * and ede) are still read, as VALID_UNCHECKED; version 2 values (without
 * ttl) too, never due for prefetch.
 *
 * Serving counts TTLs down from the absolute expiry (TTL = expiry - now) and
 * never up; an entry whose expiry is not in the future is a miss.
 *
 * The size of the cache (keys + values) is kept in the meta database under
 * "cache_bytes" (u64, network order), written in the same transaction as
 * every cache write and delete, so it survives restarts and kill -9.
 *
 * Entries are stored under their cache key (store.h `cache`): u32 hash of
 * the name key (network order) || the record key. In hash order, the
 * entries that follow a random seek are a uniform sample of the cache's
 * names, whatever those names or the expiries (eviction with a sketch,
 * cache_store), and the entries of one name lie together.
 * The expiry index (store.h `cache_exp`): one entry per cache entry, key =
 * u64 expiry (the value's header expiry, network order; 0 for a value that
 * cannot be read) || the entry's record key, value empty. Every write of
 * this module that puts, overwrites or deletes a cache entry updates the
 * index in the same transaction, so the two agree after any commit, also
 * across kill -9; eviction walks the index from its start (the soonest
 * expiry), so its work is what it evicts, never the size of the cache.
 * Meta "cache_index" (u8 4) says the index was built for this layout. A
 * store without it or with another version (written before the index or
 * this layout existed), or whose index holds another number of entries
 * than the cache, has the index - and the size account - rebuilt from the
 * cache entries in the first cache write transaction (cache_store,
 * cache_store_many, cache_purge, cache_flush), logged once: every entry
 * under its cache key is kept, any other key (an entry of an older layout,
 * which no lookup finds) is deleted.
 * Writes to the cache database that bypass this module (store_put) leave
 * the index out of step until then. Readers (lookups, cache_dump,
 * cache_count) never need the index.
 *
 * Time is always a parameter (epoch seconds, clock.h clock_now()).
 */
#ifndef TIERDNS_CACHE_H
#define TIERDNS_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <ldns/ldns.h>

#include "tierdns/answer.h"
#include "tierdns/msg.h"
#include "tierdns/name.h"
#include "tierdns/qctx.h"
#include "tierdns/status.h"
#include "tierdns/store.h"

#define CACHE_VALUE_VERSION 3u

/* The DNSSEC status stored with a value (RFC 4035 4.3). */
enum valid_status {
	VALID_UNCHECKED = 0, /* not validated: validation off, or static data */
	VALID_SECURE,
	VALID_INSECURE,
	VALID_BOGUS,         /* served only to CD=1 clients */
};
#define CACHE_CHAIN_MAX 16 /* CNAME hops followed before giving up */
#define CACHE_SAMPLE 8     /* entries an eviction with a sketch compares */

struct tdns_sketch;

struct tdns_cache_cfg {
	uint32_t max_ttl;     /* cap for positive answers; 0 = 86400 */
	uint32_t max_neg_ttl; /* cap for NXDOMAIN/NODATA; 0 = 3600 */
	uint64_t max_bytes;   /* budget for keys + values; 0 = none (see
			       * cache_store); the map needs four times it */
	uint32_t keep_stale;  /* seconds an expired entry is kept for
			       * serve-stale (RFC 8767) before eviction may
			       * treat it as expired; 0 = not kept */
	struct tdns_sketch *sketch; /* how often questions are asked lately
			       * (sketch.h; it may be shared by the
			       * threads that write); NULL: evict by
			       * expiry alone (see cache_store) */
};

/*
 * A packed cache value in memory (the layout above). `data` is heap memory
 * owned by the struct: release with cache_value_clear. cacheable is false when
 * the reply may be answered but must not be stored (a TTL of 0, a negative
 * answer without a usable SOA, an incomplete chain).
 */
struct tdns_cache_value {
	uint8_t *data;
	size_t len;
	uint64_t expiry;
	bool cacheable;
};

/*
 * Extract what may be cached from an upstream reply `resp` (msg.h, parsed
 * by msg_parse) to the question (qname: an uncompressed wire name of
 * qname_len bytes; qtype; class IN) at time now into v. Owner names and
 * the names in rdata are written uncompressed (ldns's rdata layouts, see
 * msg.h), so the value stands alone. Only NOERROR and NXDOMAIN replies are
 * accepted (TDNS_EINVAL otherwise, and for a qname that is no wire name or
 * rdata that grows past 64 KiB uncompressed). For qtype ANY the records of
 * every type owned by qname are taken (no chain is followed); ANY and the
 * other meta types (AXFR, IXFR, OPT, MAILA, MAILB) are never cacheable.
 * TDNS_ENOMEM on allocation failure (one allocation: v's data). On TDNS_OK,
 * v owns its data (cache_value_clear) and cache_value_answer turns it into
 * the answer a client sees, whether or not it is cacheable. resp is only
 * read during the call.
 */
enum tdns_status cache_value_build(const struct tdns_cache_cfg *cfg,
				   const uint8_t *qname, size_t qname_len,
				   uint16_t qtype, const struct tdns_msg *resp,
				   uint64_t now, struct tdns_cache_value *v);

/*
 * A value in the layout above (rcode NOERROR, records idx[0..n) of m, in
 * that order, each followed by the answer section's RRSIGs of its RRset,
 * in the answer section, none in authority), names and rdata
 * uncompressed, each record expiring at now + its TTL (a TTL with the top
 * bit set counts as 0, RFC 2181 8; no cap); v->expiry the earliest. The
 * resolver keeps the CNAMEs of a chain it chases this way. Never
 * cacheable. TDNS_EINVAL for n > MSG_RR_MAX or rdata over 64 KiB once
 * uncompressed, TDNS_ENOMEM.
 */
enum tdns_status cache_value_records(const struct tdns_msg *m,
				     const uint16_t *idx, size_t n,
				     uint64_t now, struct tdns_cache_value *v);
void cache_value_clear(struct tdns_cache_value *v);

/* A value without records, rcode as given, standing for an answer that
 * could not be had (a validator's failed fetch, chain.h); never
 * cacheable, expiry 0. TDNS_ENOMEM. */
enum tdns_status cache_value_none(uint8_t rcode, struct tdns_cache_value *v);

/* Set the validation status (and the EDE of a bogus one) of v, which
 * then expires at the latest at until (epoch seconds; UINT64_MAX: no
 * bound), the value and each of its records (the TTLs it is served
 * with): a bogus one soon (RFC 9520 3.2), a secure one when the first
 * signature it was validated with expires or its original TTL ends (RFC
 * 4035 5.3.3; validate.h). */
void cache_value_set_status(struct tdns_cache_value *v, enum valid_status status,
			    uint16_t ede, uint64_t until);

/* The status stored in a packed value (VALID_UNCHECKED for a
 * version 1 or unreadable one). */
enum valid_status cache_value_status(const uint8_t *val, size_t len);

/* One record of a packed value, as cache_value_next reads it: pointers
 * into the value (borrowed). */
struct cache_rec {
	const uint8_t *owner; /* uncompressed wire name */
	size_t owner_len;
	uint16_t type;
	uint16_t rclass;
	uint64_t expiry;
	const uint8_t *rdata; /* uncompressed */
	uint16_t rdlen;
	bool authority;       /* in the authority section */
};

/* Iterate over the records of a packed value: *pos 0 to begin, *idx the
 * record's number. true with *r filled, false at the end or on a
 * malformed value. */
bool cache_value_next(const uint8_t *val, size_t len, size_t *pos, unsigned *idx,
		      struct cache_rec *r);

/*
 * Fill reply (an ldns packet whose header and question are the caller's)
 * from a packed value: its rcode, the
 * chain in the answer section, the SOA in authority, every TTL = record
 * expiry - now (0 when already past). The value is validated first and only
 * read (it may be unaligned LMDB memory); TDNS_EINVAL if malformed (reply
 * may then hold part of the records: discard it), TDNS_ENOMEM.
 */
enum tdns_status cache_value_render(const uint8_t *val, size_t len, uint64_t now,
				    ldns_pkt *reply);

/* As cache_value_render, but a record already expired gets TTL
 * expired_ttl instead of 0 (RFC 8767 4: stale answers go out with TTL 30). */
enum tdns_status cache_value_render_ttl(const uint8_t *val, size_t len,
					uint64_t now, uint32_t expired_ttl,
					ldns_pkt *reply);

/*
 * Serve-stale (RFC 8767): copy the entry for the question into out
 * (out->data heap memory, release with cache_value_clear; out->expiry set;
 * out->cacheable false) if its expiry + max_stale is in the future - a
 * fresh entry or one expired at most max_stale seconds ago. TDNS_ENOTFOUND
 * otherwise, TDNS_EINVAL for a corrupt value, TDNS_ENOMEM.
 */
enum tdns_status cache_get(struct tdns_txn *t, const uint8_t *qkey,
			   size_t qkey_len, uint16_t qtype, uint64_t now,
			   uint32_t max_stale, struct tdns_cache_value *out);

/*
 * The answer to q from a packed value (as cache_value_build makes it,
 * cacheable or not) into the descriptor a: its rcode, the chain in the
 * answer section, the SOA in authority, one entry per RRset (consecutive
 * records with one owner, type and class), TTL = expiry - now, or
 * expired_ttl once past (RFC 8767 4: stale answers go out with TTL 30;
 * 0 otherwise). An owner equal to the question name is the question's
 * (written in the client's case). The entries borrow val: it must outlive
 * the encoding. TDNS_EINVAL if the value is malformed (a may then hold
 * part of it: discard it). The DNSSEC status goes into a->dnssec: bogus
 * data becomes SERVFAIL with the stored EDE unless q has CD; secure data
 * sets AD when q has DO or AD (RFC 4035 3.2.3).
 */
enum tdns_status cache_value_answer(const uint8_t *val, size_t len, uint64_t now,
				    uint32_t expired_ttl,
				    const struct tdns_qctx *q,
				    struct tdns_answer *a);

/* When a value's answer changes: it is fresh until expiry, and due for a
 * prefetch from due_at on, the start of the last tenth of the TTL it was
 * stored with (Unbound's rule; expiry, never due while fresh, when a value
 * of an older layout does not record that TTL). */
struct cache_times {
	uint64_t expiry;
	uint64_t due_at;
};
/* The times of a value that reads as one (cache_value_answer's did). */
void cache_value_times(const uint8_t *val, size_t len, struct cache_times *ct);

/* The token of the cache entry for (qkey, qtype) in store s, for
 * cache_token_unchanged: 0 when the store cannot tell its changes
 * (store_key_token). */
uint64_t cache_entry_token(const struct tdns_store *s, const uint8_t *qkey, size_t qkey_len,
			   uint16_t qtype);

/* Whether the cache entry of token is the one t's store held in snapshot
 * `since`: no commit since changed it, as far as the store can tell
 * (store_token_unchanged; false when unsure). */
bool cache_token_unchanged(const struct tdns_txn *t, uint64_t token, uint64_t since);

/*
 * The fresh cache entry for q (its name key, qtype, class IN) in read
 * transaction t, as cache_value_answer; the entries borrow the snapshot.
 * times (NULL: not asked) are set on a hit.
 * TDNS_ENOTFOUND on a miss, an expired entry or a type never cached;
 * TDNS_EINVAL for a corrupt entry (a miss: the upstream's answer replaces
 * it); other store errors as store.h (never to be read as a miss).
 */
enum tdns_status cache_answer(struct tdns_txn *t, const struct tdns_qctx *q,
			      uint64_t now, struct cache_times *times, struct tdns_answer *a);

/*
 * Store a cacheable value under (qkey, qtype) in its own write transaction,
 * with the size account (meta "cache_bytes": the sum of the cache's key and
 * value lengths) updated in the same transaction.
 *
 * Size bound: when the write would take the cache over cfg->max_bytes,
 * entries are evicted in the same transaction, from the start of the
 * expiry index: every entry expired past the keep_stale window, then the
 * soonest-expiring (stale ones within the window first, being the
 * soonest) until the value and 16 more of its size fit (at most a
 * sixteenth of the budget beyond the value). The work is proportional to
 * what is evicted.
 *
 * With a sketch (cfg->sketch, TinyLFU): the expired entries still go first,
 * then each victim is the least asked of CACHE_SAMPLE entries drawn from a
 * random point of the cache, in hash order (a uniform sample: not the oldest
 * entries, which with one TTL for most answers the soonest-expiring are).
 * Admission: when even that victim was asked more often than the value's
 * own question, nothing more is evicted for it, and the value is stored
 * only if it fits the bound already (else it is not stored, and that is
 * TDNS_OK: the policy, not a failure). A value that replaces an entry of
 * its key is always admitted. So one-off misses do not push out what is
 * asked often.
 *
 * The budget must leave the map headroom: an LMDB map that is completely
 * full cannot even delete (every delete copies pages), so TDNS_EFULL from
 * the map is only the fallback - the transaction is aborted, an eighth,
 * then half, then all entries are evicted (from the start of the index,
 * in transactions of at most 16 deletions, fewer while even that does not
 * fit), and the write retried each time; TDNS_EFULL when not even one
 * deletion fits. If the index has to be built and the map has no room
 * for it, the cache is emptied instead.
 *
 * TDNS_EINVAL for a value that is not cacheable, TDNS_ESPACE for one larger
 * than a quarter of the budget, TDNS_EFULL if it never fit. The caller must
 * not hold a write transaction on this thread.
 */
enum tdns_status cache_store(struct tdns_store *s, const struct tdns_cache_cfg *cfg,
			     const uint8_t *qkey, size_t qkey_len, uint16_t qtype,
			     const struct tdns_cache_value *v, uint64_t now);

/* One answer for cache_store_many. */
struct tdns_cache_put {
	const uint8_t *qkey;              /* name key of the qname */
	size_t qkey_len;
	uint16_t qtype;
	const struct tdns_cache_value *v; /* cacheable; borrowed for the call */
	enum tdns_status st;              /* out: as cache_store would say */
	uint64_t stored_in;               /* out: the snapshot id of the
					   * commit that put the value in the
					   * cache; 0 when it is not known to
					   * be there (the admission policy
					   * turned it away: st is then TDNS_OK;
					   * the batch did not fit and the
					   * value went alone; a failure) */
};

/*
 * Store n answers as cache_store would, but in ONE write transaction (one
 * LMDB commit for the lot: a commit costs several syscalls and a new root
 * path, which is most of the price of a miss when it is paid per answer),
 * budget evictions included. When the batch does not fit (the map,
 * TDNS_EFULL, or TDNS_ESPACE), it is stored entry by entry with
 * cache_store, which has the map-full fallback;
 * any other failure is every entry's. puts[i].st tells each entry's fate; the
 * return value is TDNS_OK when every entry was stored, else the first
 * failure. The caller must not hold a write transaction on this thread.
 */
enum tdns_status cache_store_many(struct tdns_store *s,
				  const struct tdns_cache_cfg *cfg,
				  struct tdns_cache_put *puts, size_t n,
				  uint64_t now);

/*
 * Evict in write transaction t, from the start of the expiry index: every
 * entry expired at now and, when want_free is non-zero, then the
 * soonest-expiring entries until want_free entries have gone in total.
 * *evicted (may be NULL) receives the number of entries removed. The
 * index and the size account follow (and the index is built first if it
 * is missing, see above).
 */
enum tdns_status cache_purge(struct tdns_txn *t, uint64_t now, size_t want_free,
			     size_t *evicted);

/* Number of entries in the cache database, expired ones included (the
 * index is not counted). */
size_t cache_count(struct tdns_txn *t);
/* The size account: bytes of keys and values in the cache database. */
uint64_t cache_bytes(struct tdns_txn *t);

/* What cache_flush removes. */
enum cache_flush_what {
	CACHE_FLUSH_NAME = 0, /* the entries of the name: of qtype, or of every
			       * type with qtype 0 */
	CACHE_FLUSH_TREE,     /* every entry at and below the name */
	CACHE_FLUSH_NEGATIVE, /* every NXDOMAIN and NODATA entry */
	CACHE_FLUSH_ALL,      /* everything */
};

/*
 * Remove entries in write transaction t (the operator's "cache flush"
 * commands), expired or not, with the expiry index and the size account
 * kept in step. qkey is the name key (name.h) of the name, unused for
 * NEGATIVE and ALL. *removed (may be NULL) gets the number of entries
 * removed (0 is no error). The work is one seek and a walk of the name's
 * own entries for NAME (of qtype, or of every type), a walk of the whole
 * cache (in hash order, so a subtree's entries lie anywhere in it) for
 * TREE and NEGATIVE, and constant for ALL (the databases are emptied page
 * by page). TDNS_EINVAL for a missing or over-long key; store errors as
 * store.h (abort t then).
 * In-process memory of the resolvers (their failure caches) is not
 * touched here: resolve.h resolver_cache_flushed.
 */
enum tdns_status cache_flush(struct tdns_txn *t, enum cache_flush_what what,
			     const uint8_t *qkey, size_t qkey_len, uint16_t qtype,
			     size_t *removed);

/* Entries one step of a walking flush visits (cache_flush_step): at most
 * a millisecond or two of LMDB's single writer when every one of them is
 * removed, so that the workers' cache writes never wait longer than that
 * for a flush, whatever the cache's size (tierdns-cache-stall -f -S N
 * measures a step of N). */
#define CACHE_FLUSH_STEP 512

/* The longest key of the cache database: a 4-byte hash, then a record
 * key (name.h). */
#define CACHE_KEY_MAX (4 + RECORD_KEY_MAX)

/* Where a walking flush goes on from. Zero it before the first step. */
struct cache_flush_walk {
	size_t len;                    /* the key to go on from: key[0..len) */
	uint8_t key[CACHE_KEY_MAX];
	bool done;                     /* nothing is left to visit */
};

/*
 * One step of cache_flush: the same removals, but a TREE or NEGATIVE walk
 * visits at most `step` entries (0: all) in t, from where w says, and
 * leaves w where the next step goes on, each step in its own write
 * transaction. NAME and ALL are done in one step. Entries stored between
 * the steps may be removed or not, as if stored before or after the whole
 * flush; every entry there when the first step began and still there is
 * visited once. *removed is this step's.
 */
enum tdns_status cache_flush_step(struct tdns_txn *t, enum cache_flush_what what,
				  const uint8_t *qkey, size_t qkey_len,
				  uint16_t qtype, size_t step,
				  struct cache_flush_walk *w, size_t *removed);

/* Entries evicted by this process to keep the cache within its budget
 * (any thread; a relaxed read). */
uint64_t cache_evictions(void);

/*
 * Print every live entry as master-file text (RFC 1035 5) with its remaining
 * TTL: a comment naming the question and its rcode, then its records; a last
 * comment line gives the number of live entries. Expired entries are skipped.
 */
enum tdns_status cache_dump(struct tdns_txn *t, uint64_t now, FILE *out);

#endif
