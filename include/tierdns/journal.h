/*
 * journal.h - the history of a zone's changes, for IXFR (RFC 1995).
 *
 * Every change to a zone that was already held (a load of a new version,
 * add, delete, signing) is kept as one diff from the serial before to the
 * serial after, written in the same write transaction as the change, so
 * the zone and its history never disagree. In the store's `journal`
 * database (store.h):
 *   apex key | 0x00 | u32 serial before
 *     -> u32 serial after | u32 deleted | u32 added | records
 * and each record, every integer in network order:
 *   u8 owner length | owner (uncompressed wire name, lower case) |
 *   u16 type | u32 ttl | u16 rdlength | rdata
 * The deleted records come first, the old SOA the first of them, then the
 * added ones, the new SOA the first of them: the order of one difference
 * sequence of RFC 1995 4. A record both deleted and added (unchanged) is
 * in neither list.
 *
 * How a change is followed: the writer calls journal_begin before it
 * changes the zone in write transaction t and journal_end before the
 * commit; in between, zonedb.c calls journal_note for every RRset it
 * writes or deletes in t (the old and the new value) and for the NSEC3
 * records of the denial index. A zone not yet held (its first load) gets
 * no diff. The diffs of a zone are bounded in all, to its journal-size
 * (zonedb_get_journal_max) or JOURNAL_MAX_BYTES: the oldest go first; a single diff larger than that empties the zone's
 * journal (IXFR then answers with the whole zone, RFC 1995 4).
 *
 * The tracker lives on the transaction (store_txn_set_user): one zone per
 * transaction at a time. Calls nest: a journal_begin for the zone already
 * followed (an edit that re-signs the zone, each step following it on its
 * own) only counts, and its journal_end only uncounts, so the outermost
 * pair writes the one diff of all the steps. A caller therefore calls
 * journal_end once per journal_begin (with keep=false on its error path
 * only). Views returned by journal_get borrow from the
 * transaction (store.h).
 */
#ifndef TIERDNS_JOURNAL_H
#define TIERDNS_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tierdns/status.h"
#include "tierdns/store.h"

#define JOURNAL_MAX_BYTES (16u << 20) /* per zone, unless its journal-size */
/* The range of a zone's journal-size (tierdns.conf(5)). */
#define JOURNAL_SIZE_MIN (64ull << 10)
#define JOURNAL_SIZE_MAX (4ull << 30)

/* Start following the zone with apex in write transaction t (*serial is
 * its serial now, when it is held). TDNS_OK also when the zone is not held
 * (nothing is followed then); TDNS_ENOMEM. */
enum tdns_status journal_begin(struct tdns_txn *t, const uint8_t *apex,
			       size_t apex_len);

/* The RRset (key, type) of the followed zone changes from old to new
 * (packed rrset.h values, either may be NULL: created / deleted). A no-op
 * when nothing is followed. Out of memory is remembered: the zone's
 * journal is then emptied at journal_end. */
void journal_note(struct tdns_txn *t, const uint8_t *key, size_t klen,
		  uint16_t type, const uint8_t *old, size_t old_len,
		  const uint8_t *new_val, size_t new_len);

/* True while a zone is followed in t and something changed in it. */
bool journal_changed(const struct tdns_txn *t);

/* The RRsets changed so far in the zone followed in t: cb once per record
 * deleted or added, with its owner (uncompressed lower-case wire name,
 * borrowed for the call) and type, an RRSIG record's as the type it
 * covers; an RRset of several records is seen several times. A non-zero
 * return from cb stops. TDNS_ENOMEM when the tracker lost records (out of
 * memory while following: the list is not whole); TDNS_OK also when
 * nothing is followed. */
typedef int (*journal_change_cb)(void *ctx, const uint8_t *owner, size_t olen,
				 uint16_t type);
enum tdns_status journal_changes(const struct tdns_txn *t, journal_change_cb cb,
				 void *ctx);

/* While a zone is followed in t: true and *serial its serial at the
 * outermost journal_begin (the version secondaries may hold). */
bool journal_from(const struct tdns_txn *t, uint32_t *serial);

/* Stop following: with keep, write the diff (old serial -> the serial in
 * the zone's metadata now) and drop the oldest diffs over the bound;
 * without, forget it (the caller aborts). Nothing changed: nothing written.
 * A change that kept the serial cannot be a diff: the zone's journal is
 * emptied (secondaries then need a full transfer). */
enum tdns_status journal_end(struct tdns_txn *t, bool keep);

/*
 * A child zone's delegation in its parent's journal. A parent's transfers
 * carry the delegation to a child zone held in the same store
 * (zonedb_cut_walk: the child's apex NS RRset and glue), which the store
 * keeps as the child's data only, so a change of the child that changes
 * it must also be a diff of the parent's; so must the child's first load
 * and its removal, which swap the parent's own RRsets at and below the cut
 * (what its transfers carried before) for the delegation, and back. The
 * writer takes what the parent's transfers carry there (journal_cut_take)
 * before it changes, adds or removes the child in t, and after the
 * child's own journal_end asks journal_cut_changed; when it changed, it
 * follows the parent (journal_begin), raises its serial, and calls
 * journal_cut_note before the parent's journal_end: the records that left
 * the delegation go into the parent's diff as deleted, those that joined
 * it as added. The note comes last, after any re-signing of the parent
 * (which reads journal_changes and must not take them for the parent's
 * own RRsets: a parent signs neither NS nor glue at a cut, RFC 4035 2.2).
 */
struct journal_cut;
/* What the transfers of the zone enclosing the name key child carry at
 * and below child as t holds it now: the delegation when child is a zone
 * held, else the enclosing zone's own RRsets there; into *out (owned by
 * the caller: journal_cut_free). *out is NULL, with TDNS_OK, when no zone
 * held encloses child (or child is the root). TDNS_ENOMEM, or the store's
 * error. */
enum tdns_status journal_cut_take(struct tdns_txn *t, const uint8_t *child,
				  size_t child_len, struct journal_cut **out);
/* Whether the delegation in t now differs from the one taken (false for
 * c NULL). Call it once per take. */
enum tdns_status journal_cut_changed(struct tdns_txn *t, struct journal_cut *c,
				     bool *changed);
/* The parent's apex key (borrowed from c). */
const uint8_t *journal_cut_parent(const struct journal_cut *c, size_t *len);
/* The change journal_cut_changed found, into the diff of the parent
 * followed in t. TDNS_EINVAL when t does not follow the parent. */
enum tdns_status journal_cut_note(struct tdns_txn *t, const struct journal_cut *c);
/* NULL is allowed. */
void journal_cut_free(struct journal_cut *c);

/* Remove every diff of the zone (its deletion). */
enum tdns_status journal_drop(struct tdns_txn *t, const uint8_t *apex,
			      size_t apex_len);

/* One stored diff (borrowed from the transaction). */
struct journal_diff {
	uint32_t from, to;
	uint32_t deleted, added;
	const uint8_t *recs; /* deleted then added records, format above */
	size_t len;
};

/* The diff starting at serial from. TDNS_ENOTFOUND if none, TDNS_EINVAL
 * when the stored value does not hold together (logged). */
enum tdns_status journal_get(struct tdns_txn *t, const uint8_t *apex,
			     size_t apex_len, uint32_t from,
			     struct journal_diff *d);

/* One record of a diff: owner (uncompressed wire name) and rd (u16
 * rdlength then rdata, the packed layout of rrset.h), both borrowed. */
struct journal_rr {
	const uint8_t *owner;
	uint16_t type;
	uint32_t ttl;
	const uint8_t *rd;
	uint16_t rdlen;
};

/* Iterate the records of d: *pos starts at 0; 1 per record, 0 at the end
 * (journal_get checked every record). */
int journal_next(const struct journal_diff *d, size_t *pos, struct journal_rr *rr);

#endif
