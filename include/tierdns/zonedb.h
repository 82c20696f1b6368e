/*
 * zonedb.h - zones and RRsets on top of store.h (no MDB_* here).
 *
 * A zone is identified by its apex name key. Its RRsets are the `rr`
 * entries whose name key has the apex key as prefix, minus those that lie
 * inside another (deeper) zone held in the same store. Zone metadata value in
 * the `zones` database, network order:
 *   u64 loaded_at (epoch s) | u32 serial | u32 rrsets | u32 records
 * Its key is the apex name key followed by one 0x00 byte: the root zone's
 * name key is empty and LMDB keys cannot be.
 *
 * One store holds one copy of each (name, type). Where zones nest (the root
 * zone `.` and `site.` both loaded), the deeper zone owns every key at and
 * below its apex: the parent's delegation NS and glue records there are not
 * stored (they would never be served: RFC 1034 4.3.2 picks the closest
 * enclosing zone), and deleting the deeper zone does not bring them back
 * until the parent is loaded again. The exception is the DS RRset at the
 * deeper apex: it is the parent side of the cut (RFC 4035 3.1.4.1), stored
 * and walked as the parent's (the deeper zone's walks skip it while its
 * parent is held here).
 *
 * Signed zones (RFC 4034, RFC 5155): an RRSIG is stored in the value of the
 * RRset it covers (rrset.h). NSEC RRsets are stored at their owner like
 * any other and, like the NSEC3 RRsets, in the zone's denial index (the
 * `dnssec` database), which orders them so that the record matching or
 * covering a name is one cursor seek:
 *   apex key | 0x00 | 0x01 | canonical form of the owner below the apex
 *     -> u8 owner key length | owner key | packed NSEC RRset (rrset.h)
 *   apex key | 0x00 | 0x03 | hashed owner label (base32hex, lower case)
 *     -> u8 owner key length | owner key | packed NSEC3 RRset
 * The canonical form lists the owner's labels below the apex from the
 * root side, each lower-cased with 0x00 and 0x01 escaped (0x01 0x01,
 * 0x01 0x02) and ended by 0x00, so that byte order is the canonical DNS
 * order of RFC 4034 6.1. NSEC3 RRsets live in the index only: their owners
 * are not names of the zone (RFC 5155 7.2.8), so they never appear in the
 * `rr` database and lookups of a hashed name find nothing there.
 *
 * All pointers returned through views borrow from the transaction (store.h).
 */
#ifndef TIERDNS_ZONEDB_H
#define TIERDNS_ZONEDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tierdns/rrset.h"
#include "tierdns/status.h"
#include "tierdns/store.h"

struct tdns_zone_meta {
	uint64_t loaded_at;
	uint32_t serial;
	uint32_t rrsets;
	uint32_t records;
};

/* Closest enclosing zone of the name key (RFC 1034 4.3.2 step 2):
 * *apex_len is the length of the apex key (a prefix of key).
 * TDNS_ENOTFOUND when no zone in the store encloses the name. */
enum tdns_status zonedb_find(struct tdns_txn *t, const uint8_t *key, size_t klen,
			     size_t *apex_len, struct tdns_zone_meta *meta);

/* The RRset (name, type). TDNS_ENOTFOUND if absent. */
enum tdns_status zonedb_get_rrset(struct tdns_txn *t, const uint8_t *key,
				  size_t klen, uint16_t type,
				  struct tdns_rrset_view *v);

enum zonedb_name_state {
	ZONEDB_NAME_NONE = 0,     /* no RRset at or below the name */
	ZONEDB_NAME_DATA = 1,     /* at least one RRset at the name */
	ZONEDB_NAME_CHILDREN = 2, /* RRsets below the name (bit, may combine) */
};
/* *state: a bitmask of enum zonedb_name_state (an empty non-terminal is
 * CHILDREN only). TDNS_OK, or the store's error with *state NONE: a caller
 * must never read "no such name" into a failed lookup (an error is never
 * an answer: SERVFAIL, not NXDOMAIN). */
enum tdns_status zonedb_name_state(struct tdns_txn *t, const uint8_t *key,
				   size_t klen, unsigned *state);

/*
 * The walks below share one contract. cb's non-zero return stops the walk
 * and is stored in *stop (may be NULL; 0 when the walk went to its end).
 * The return value is TDNS_OK when the walk completed or cb stopped it,
 * otherwise the store's error (cursor open, seek or next failing): a
 * store failure is never mistaken for "no more entries", so callers can
 * tell a complete result from a partial one.
 */

/* Call cb for every RRset at exactly this name, in type order. A stored
 * value that does not decode is TDNS_EINVAL (logged): the caller gets all
 * the name's RRsets or an error, never some of them. */
typedef int (*zonedb_rrset_cb)(void *ctx, uint16_t type,
			       const struct tdns_rrset_view *v);
enum tdns_status zonedb_name_rrsets(struct tdns_txn *t, const uint8_t *key,
				    size_t klen, zonedb_rrset_cb cb, void *ctx,
				    int *stop);

/* Walk every RRset of the zone with apex key (skipping deeper zones), in key
 * order: cb receives the owner name key and type. Entries that do not
 * decode are logged and skipped (dump and diff tools, not answers). */
typedef int (*zonedb_walk_cb)(void *ctx, const uint8_t *key, size_t klen,
			      uint16_t type, const struct tdns_rrset_view *v);
enum tdns_status zonedb_walk(struct tdns_txn *t, const uint8_t *apex,
			     size_t apex_len, zonedb_walk_cb cb, void *ctx,
			     int *stop);

/* zonedb_walk starting at the record key from (name.h: name key, 0x00,
 * type): the RRsets at and after it in walk order, so that a long walk
 * (a zone transfer) can stop and resume in a later transaction of the
 * same snapshot. from NULL: the whole zone. */
enum tdns_status zonedb_walk_from(struct tdns_txn *t, const uint8_t *apex,
				  size_t apex_len, const uint8_t *from,
				  size_t from_len, zonedb_walk_cb cb, void *ctx,
				  int *stop);

/* The delegations the zone makes to deeper zones held in the same store,
 * which the store keeps only as those zones' data: at each cut (in key
 * order) the deeper zone's apex NS RRset, then the A and AAAA RRsets of
 * the NS names at or below the cut (glue), in key order, all without
 * signatures (RFC 4035 2.2: a parent signs neither). cb as zonedb_walk's.
 * What a transfer of the zone sends besides zonedb_walk's RRsets. */
#define ZONEDB_GLUE_MAX 32 /* NS names of one cut given glue */
enum tdns_status zonedb_cut_walk(struct tdns_txn *t, const uint8_t *apex,
				 size_t apex_len, zonedb_walk_cb cb, void *ctx,
				 int *stop);
/* The part of zonedb_cut_walk for the one deeper zone with apex key
 * child: its apex NS RRset and the glue, as above (nothing when it has no
 * NS RRset). The views borrow from t until it changes. */
enum tdns_status zonedb_delegation_walk(struct tdns_txn *t, const uint8_t *child,
					size_t child_len, zonedb_walk_cb cb, void *ctx,
					int *stop);

/* List zones: cb per zone in key order. Malformed zone entries are logged
 * and skipped (zonedb_find reports them as errors). */
typedef int (*zonedb_zone_cb)(void *ctx, const uint8_t *apex, size_t apex_len,
			      const struct tdns_zone_meta *meta);
enum tdns_status zonedb_list(struct tdns_txn *t, zonedb_zone_cb cb, void *ctx,
			     int *stop);

/* One line of a zone list, as tierdns-zone list and tierdns-control zone
 * list print it: the apex in presentation form, serial, RRsets, records,
 * load time (UTC); apex NULL: the column headings. */
void zonedb_print_zone(FILE *out, const uint8_t *apex, size_t apex_len,
		       const struct tdns_zone_meta *m);

/* Remove the zone (its metadata and its RRsets, not deeper zones'). */
enum tdns_status zonedb_delete_zone(struct tdns_txn *t, const uint8_t *apex,
				    size_t apex_len);

/* Write one RRset (replacing any previous value) / remove one. */
enum tdns_status zonedb_put_rrset(struct tdns_txn *t, const uint8_t *key,
				  size_t klen, uint16_t type, const uint8_t *val,
				  size_t vlen);
enum tdns_status zonedb_del_rrset(struct tdns_txn *t, const uint8_t *key,
				  size_t klen, uint16_t type);
enum tdns_status zonedb_put_meta(struct tdns_txn *t, const uint8_t *apex,
				 size_t apex_len, const struct tdns_zone_meta *m);

/* SOA serials (RFC 1982). How tierdns-zone add/delete raise a zone's
 * serial: by one, or to the time (seconds since the epoch) when that is
 * ahead of the serial, else by one. */
enum zonedb_serial_policy {
	ZONEDB_SERIAL_INCREMENT = 0,
	ZONEDB_SERIAL_UNIXTIME,
	ZONEDB_SERIAL_ZONE, /* the zone's own (zonedb_get_serial_policy) */
};
uint32_t zonedb_next_serial(uint32_t old, enum zonedb_serial_policy policy,
			    uint64_t now);
/* A zone's serial policy and journal bound (the serial-policy and
 * journal-size keys of its stanza in tierdns.conf(5), which tierdns-upper
 * records at start and reload, for every process that changes the zone),
 * kept in the store's meta database under "serial-policy:" + apex key: the
 * policy byte, then the bound in bytes (8, big-endian) when one is given.
 * ZONEDB_SERIAL_ZONE with journal_max 0 clears both. get_serial_policy:
 * ZONEDB_SERIAL_INCREMENT when none is recorded; get_journal_max: 0 when
 * none is (journal.h's default applies). */
enum tdns_status zonedb_put_zone_policy(struct tdns_txn *t, const uint8_t *apex,
					size_t apex_len, enum zonedb_serial_policy p,
					uint64_t journal_max);
enum tdns_status zonedb_get_serial_policy(struct tdns_txn *t, const uint8_t *apex,
					  size_t apex_len, enum zonedb_serial_policy *p);
enum tdns_status zonedb_get_journal_max(struct tdns_txn *t, const uint8_t *apex,
					size_t apex_len, uint64_t *journal_max);
/* A secondary zone's last refresh (epoch seconds: an SOA query found its
 * serial current), kept in the meta database under "secondary-refresh:" +
 * apex key, 8 bytes, so that a restart counts the expire time from it and
 * not from the last transfer (BIND touches the zone file for the same
 * reason). get: TDNS_ENOTFOUND when none is recorded. */
enum tdns_status zonedb_put_refreshed(struct tdns_txn *t, const uint8_t *apex,
				      size_t apex_len, uint64_t when);
enum tdns_status zonedb_get_refreshed(struct tdns_txn *t, const uint8_t *apex,
				      size_t apex_len, uint64_t *when);
/* a is after b in serial number arithmetic (RFC 1982 3.2). */
bool zonedb_serial_gt(uint32_t a, uint32_t b);
/* The offset in SOA rdata rd[0..rdlen) of its serial, after MNAME and
 * RNAME (uncompressed); the refresh, retry, expire and minimum follow
 * it, 4 bytes each. 0 when the rdata does not hold all five. */
size_t zonedb_soa_serial_at(const uint8_t *rd, size_t rdlen);
/* Write serial into the zone's SOA record (its only one; signatures kept,
 * now stale) and metadata. TDNS_EINVAL when the SOA does not hold one. */
enum tdns_status zonedb_set_serial(struct tdns_txn *t, const uint8_t *apex,
				   size_t apex_len, uint32_t serial);

/* Metadata of the zone with exactly this apex. TDNS_ENOTFOUND if none. */
enum tdns_status zonedb_get_meta(struct tdns_txn *t, const uint8_t *apex,
				 size_t apex_len, struct tdns_zone_meta *m);

/* Delete every RRset of the zone range (apex and below, skipping deeper
 * zones) and its denial index, keeping the metadata; the numbers removed are added to *rrsets and
 * *records (either may be NULL). Used to replace a zone in one transaction. */
enum tdns_status zonedb_clear(struct tdns_txn *t, const uint8_t *apex,
			      size_t apex_len, uint32_t *rrsets,
			      uint32_t *records);

/* Visit the raw entries of the zone range (apex and below, skipping deeper
 * zones) in key order, in a write transaction: cb sees the record key and the
 * value (borrowed, valid during the call) and sets *del to delete the entry.
 * A non-zero return from cb stops the sweep (the result is still TDNS_OK).
 * Used to replace a zone by difference instead of rewriting it. */
typedef int (*zonedb_sweep_cb)(void *ctx, const uint8_t *rkey, size_t rklen,
			       const uint8_t *val, size_t vlen, bool *del);
enum tdns_status zonedb_sweep(struct tdns_txn *t, const uint8_t *apex,
			      size_t apex_len, zonedb_sweep_cb cb, void *ctx);

/* *deeper: the name key lies at or below the apex of a zone held in the
 * store that is deeper than apex (so it belongs to that zone, not to
 * apex's). TDNS_OK, or the store's error (*deeper then false). */
enum tdns_status zonedb_in_deeper_zone(struct tdns_txn *t, const uint8_t *apex,
				       size_t apex_len, const uint8_t *key,
				       size_t klen, bool *deeper);

/* The two chains of the denial index. */
enum zonedb_chain {
	ZONEDB_NSEC = 1,
	ZONEDB_NSEC3 = 3,
};

/* Put the NSEC or NSEC3 RRset val (packed, with its signatures) owned by
 * the name key owner into the denial index of the zone with apex (see
 * above). TDNS_EINVAL when the owner is not below the apex (NSEC3: not
 * exactly one label below it) or the index key would be too long. */
enum tdns_status zonedb_put_denial(struct tdns_txn *t, const uint8_t *apex,
				   size_t apex_len, enum zonedb_chain chain,
				   const uint8_t *owner, size_t olen,
				   const uint8_t *val, size_t vlen);

/* Remove the NSEC or NSEC3 record of owner from the zone's denial index
 * (the NSEC RRset stored at its owner is the caller's to delete).
 * TDNS_ENOTFOUND when there is none; TDNS_EINVAL as zonedb_put_denial. */
enum tdns_status zonedb_del_denial(struct tdns_txn *t, const uint8_t *apex,
				   size_t apex_len, enum zonedb_chain chain,
				   const uint8_t *owner, size_t olen);

/*
 * The denial record for a name in the zone with apex. NSEC: probe is the
 * name key; NSEC3: probe is the hashed owner label (base32hex, lower
 * case). *exact: the record's owner is the probe (it matches); else it is
 * the record that covers the probe: the last one before it in the chain's
 * order (for NSEC3 the last of the chain when the probe sorts before the
 * first, RFC 5155 the chain wraps around). *owner (borrowed) is its owner
 * key, v its RRset. TDNS_ENOTFOUND when the zone has no such chain, or
 * (NSEC) no record before the probe.
 */
enum tdns_status zonedb_denial_find(struct tdns_txn *t, const uint8_t *apex,
				    size_t apex_len, enum zonedb_chain chain,
				    const uint8_t *probe, size_t plen,
				    const uint8_t **owner, size_t *olen,
				    bool *exact, struct tdns_rrset_view *v);

/* Walk the zone's chain in index order (cb as zonedb_walk's, with the
 * owner key and the type NSEC or NSEC3). Malformed entries are skipped. */
enum tdns_status zonedb_denial_walk(struct tdns_txn *t, const uint8_t *apex,
				    size_t apex_len, enum zonedb_chain chain,
				    zonedb_walk_cb cb, void *ctx, int *stop);
/* The same from the record whose owner key is from (it included when
 * present), to resume a walk; from NULL: from the start. */
enum tdns_status zonedb_denial_walk_from(struct tdns_txn *t, const uint8_t *apex,
					 size_t apex_len, enum zonedb_chain chain,
					 const uint8_t *from, size_t from_len,
					 zonedb_walk_cb cb, void *ctx, int *stop);

#define ZONEDB_NSEC3_HASH 20  /* SHA-1, RFC 5155 11's only hash */
#define ZONEDB_NSEC3_LABEL 32 /* its base32hex form */

/* The hashed owner label of the name key (RFC 5155 5: SHA-1 with the
 * salt, iterations extra rounds) into label (ZONEDB_NSEC3_LABEL bytes,
 * base32hex, lower case, the index's probe). TDNS_EINVAL for a bad key. */
enum tdns_status zonedb_nsec3_label(uint16_t iterations, const uint8_t *salt,
				    uint8_t salt_len, const uint8_t *key,
				    size_t klen, uint8_t *label);

/* The same hash as raw bytes (ZONEDB_NSEC3_HASH of them), as an NSEC3
 * record's next hashed owner field holds it (RFC 5155 3.2). */
enum tdns_status zonedb_nsec3_hash(uint16_t iterations, const uint8_t *salt,
				   uint8_t salt_len, const uint8_t *key, size_t klen,
				   uint8_t *hash);

/* in[0..n) in base32hex (RFC 4648 7, lower case, no padding; the digits
 * of whole 5-bit groups) into out; returns the digits written. */
size_t zonedb_base32hex(const uint8_t *in, size_t n, uint8_t *out);

/* Remove the zone's whole denial index (both chains). */
enum tdns_status zonedb_denial_clear(struct tdns_txn *t, const uint8_t *apex,
				     size_t apex_len);

/* A per-worker copy of the zone list,
 * so that finding the zone of a query costs no store lookup while the store
 * is unchanged. Owned by one thread (no locking). Each entry also records
 * whether the zone has any NS RRset below its apex (a zone cut), so that
 * answering from a zone without delegations needs no cut search. */
struct zonedb_cache;

enum tdns_status zonedb_cache_new(struct zonedb_cache **out);
/* NULL is allowed. */
void zonedb_cache_free(struct zonedb_cache *c);

/* zonedb_find through the cache, plus *has_cuts (see above; true when not
 * known). The list is re-read when t reads another snapshot than the one
 * it was read from (store_txn_id) unless no commit since changed the zones
 * or the records (store_db_unchanged: a resolver's cache commits do not),
 * so a zone committed meanwhile is seen by the next transaction begun or
 * renewed. In a write transaction (whose own changes are not a committed
 * snapshot) the cache is bypassed. */
enum tdns_status zonedb_cache_find(struct zonedb_cache *c, struct tdns_txn *t,
				   const uint8_t *key, size_t klen,
				   size_t *apex_len, struct tdns_zone_meta *meta,
				   bool *has_cuts);

/* True when the snapshot t holds no zone that is the name of key (a
 * well-formed name key) or an ancestor of it, read through the cache as
 * zonedb_cache_find; false when unsure (a write transaction, a list that
 * skipped malformed entries, an error), so that the caller goes on to the
 * full lookup. A resolver asks it before answering from its static zones:
 * with a few zones it is a compare per zone. */
bool zonedb_cache_outside(struct zonedb_cache *c, struct tdns_txn *t,
			  const uint8_t *key, size_t klen);

#endif
