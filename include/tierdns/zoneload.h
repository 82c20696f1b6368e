/*
 * zoneload.h - RFC 1035 master files into a store, and stored RRsets back
 * into ldns records and master-file text.
 *
 * Loading happens in two phases so that a bad file never touches a store:
 *   1. zoneload_file()/zoneload_text() parse a whole master file with ldns
 *      into memory ($ORIGIN, $TTL, relative names, comments, parentheses,
 *      any RR type including RFC 3597 "\#" rdata) and validate it:
 *      exactly one SOA, whose owner is the zone apex; every record at or
 *      below the apex; class IN; no meta types (OPT, TSIG, AXFR, ANY ...);
 *      CNAME alone at its name (RFC 1034 3.6.2, RFC 2181 10.1).
 *      Records are grouped into RRsets in zone-file order; exact duplicates
 *      are dropped silently (as NSD does; names in rdata compare
 *      case-insensitively); differing TTLs inside one RRset are lowered to
 *      the smallest with a warning (RFC 2181 5.2). A record without a TTL and
 *      no $TTL in force gets 3600 (ldns's default).
 *      Signed zones (zonedb.h): each RRSIG joins the RRset of its Type
 *      Covered (its own TTL, settled the same way); an RRSIG covering a
 *      type absent at its name is dropped with a warning. NSEC and NSEC3
 *      RRsets also go into the zone's denial index; NSEC3 RRsets only there.
 *   2. zoneload_commit() replaces every parsed zone in ONE write
 *      transaction: for each zone, its old RRsets are deleted (not those of
 *      deeper zones held in the same store), the new ones written in key
 *      order and its metadata updated. Readers see the old zones or the new
 *      ones, never a mix; several files in one set load all or nothing.
 * Errors are written to the caller's buffer as "FILE:LINE: what is wrong"
 * (or "FILE: what is wrong" when no line applies); warnings are logged.
 *
 * A zone set and everything in it is owned by its creator (zoneload_free).
 * Not thread-safe: one set per thread.
 */
#ifndef TIERDNS_ZONELOAD_H
#define TIERDNS_ZONELOAD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* stdbool.h first: without it ldns/common.h defines bool as signed char,
 * which no longer matches the bool of the other modules. */
#include <stdbool.h>
#include <ldns/ldns.h>

#include "tierdns/name.h"
#include "tierdns/rrset.h"
#include "tierdns/status.h"
#include "tierdns/store.h"
#include "tierdns/zonedb.h"

#define ZONELOAD_ERR_MAX 512  /* a good size for error buffers */
#define ZONELOAD_DEFAULT_TTL 3600

struct tdns_zoneset;

/* Per zone in a set. name is owned by the set. */
struct zoneload_info {
	const char *name;   /* apex in presentation form, e.g. "site." */
	const char *file;   /* the file (or label) it came from */
	uint32_t serial;
	uint32_t rrsets;    /* after grouping and dropping duplicates */
	uint32_t records;
	uint32_t occluded;  /* records not stored after commit because they lie
			     * in a deeper zone held in the store (zonedb.h) */
};

/* NULL on ENOMEM. */
struct tdns_zoneset *zoneload_new(void);
void zoneload_free(struct tdns_zoneset *zs);

/* Applying zs, a zone already held that changed while its serial did not
 * go up (RFC 1982) is refused - logged, TDNS_EINVAL, nothing of zs is
 * stored - instead of being stored with the old serial + 1 (the default,
 * which a secondary's transfer and the signer rely on). */
void zoneload_refuse_old_serial(struct tdns_zoneset *zs);

/* Parse and validate one master file (one zone) into zs. On error nothing of
 * the file is kept, err holds "FILE:LINE: ..." and the result is TDNS_EPARSE
 * (bad content), TDNS_EIO (unreadable), TDNS_EEXIST (a zone already in the
 * set) or TDNS_ENOMEM. err may be NULL; errlen 0 is allowed. */
enum tdns_status zoneload_file(struct tdns_zoneset *zs, const char *path,
			       char *err, size_t errlen);
/* The same from a string; label names it in errors (e.g. "inline"). */
enum tdns_status zoneload_text(struct tdns_zoneset *zs, const char *text,
			       const char *label, char *err, size_t errlen);

size_t zoneload_count(const struct tdns_zoneset *zs);
/* i < zoneload_count(zs). The info is valid until zs changes. */
void zoneload_info(const struct tdns_zoneset *zs, size_t i,
		   struct zoneload_info *out);

/* Replace every zone of zs in the store in one write transaction. On failure
 * nothing is written (TDNS_EFULL: the map is full). After success the info's
 * occluded counts are filled in. */
enum tdns_status zoneload_commit(struct tdns_zoneset *zs, struct tdns_store *s);
/* The same inside the caller's write transaction (not committed here; on
 * failure the caller must abort it). */
enum tdns_status zoneload_apply(struct tdns_zoneset *zs, struct tdns_txn *t);

/* Convenience for tests and tools: parse text and commit it. */
enum tdns_status zoneload_string(struct tdns_store *s, const char *text,
				 char *err, size_t errlen);

/*
 * One stored RRset as ldns records, followed by the RRSIG records of its
 * signature tail (rrset.h): owner is cloned into each record (pass
 * the name in the case you want printed), class IN. Rdata that does not
 * match the type's layout is kept as RFC 3597 unknown data. *out is owned by
 * the caller (ldns_rr_list_deep_free).
 */
enum tdns_status zoneload_rrset_to_ldns(const ldns_rdf *owner, uint16_t type,
					const struct tdns_rrset_view *v,
					ldns_rr_list **out);
/* The same with the owner given as a name key (printed lower-case). */
enum tdns_status zoneload_rrset_key_to_ldns(const uint8_t *key, size_t klen,
					    uint16_t type,
					    const struct tdns_rrset_view *v,
					    ldns_rr_list **out);

/* The uncompressed wire rdata of rr (names as written) into out, which
 * holds zoneload_rdata_len(rr) bytes: the rdata of a packed RRset
 * (rrset.h) as a load stores it. */
size_t zoneload_rdata_len(const ldns_rr *rr);
void zoneload_rdata_write(const ldns_rr *rr, uint8_t *out);

/* Print the zone with this apex key as master-file text (SOA first, then
 * every RRset in key order with its signatures, then its NSEC records at
 * the apex of deeper zones held in the store, then the NSEC3 chain;
 * deeper zones not included). TDNS_ENOTFOUND if
 * there is no such zone. */
enum tdns_status zoneload_dump(struct tdns_txn *t, const uint8_t *apex,
			       size_t apex_len, FILE *out);

/* Parse a presentation name ("site", "site.", "." ; relative names are taken
 * as absolute) into a name key. TDNS_EINVAL if it is not a valid name. */
enum tdns_status zoneload_name_key(const char *name, uint8_t *key,
				   size_t *klen);

/* Format an error message into err (errlen bytes, truncated; nothing when
 * err is NULL or errlen 0): the err/errlen convention of this header and
 * zonesign.h. */
void zoneload_seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* How add and delete raise a zone's serial; the program sets it before
 * editing (default ZONEDB_SERIAL_ZONE: the zone's recorded policy,
 * zonedb.h, else by one). A load keeps the file's serial, raised by one
 * (with a warning) when the zone changed but the file's serial is not
 * above the stored one (RFC 1982), so IXFR stays possible - or refused
 * (zoneload_refuse_old_serial). */
extern enum zonedb_serial_policy zoneload_serial_policy;

/* The presentation form of a name key ("site."), RFC 1035 5.1 escapes,
 * into out (cap bytes, truncated to fit). */
void zoneload_key_str(const uint8_t *key, size_t klen, char *out, size_t cap);

/* Raise the serial of the zone with apex key in t by policy
 * (ZONEDB_SERIAL_ZONE: the zone's recorded one, else by one), as an edit
 * does (the SOA's signature is not renewed: zonesign_resign). */
enum tdns_status zoneload_bump_serial(struct tdns_txn *t, const uint8_t *apex,
				      size_t apex_len, enum zonedb_serial_policy policy);

/*
 * Add one record given in master-file form ("www.site. 300 IN A 192.0.2.1";
 * every name must end in a dot: there is no $ORIGIN, so a relative owner or
 * rdata name is TDNS_EINVAL; the TTL defaults to 3600) to the
 * RRset at its name in the closest enclosing zone, inside write transaction
 * t. The RRset takes the new record's TTL (RFC 2181 5.2: one TTL per RRset).
 * An SOA replaces the apex SOA and updates the zone's serial; any other
 * record raises the serial by zoneload_serial_policy (zonedb.h). Add and
 * delete, like a load that replaces a zone, write the change into the
 * zone's journal (journal.h) in t.
 * RRSIG, NSEC and NSEC3 records are refused (TDNS_EINVAL): a signed zone
 * is changed by loading its signed file again or signing it again
 * (zonesign.h). The changed RRset loses its signatures: the caller signs
 * the zone again in t (zonesign_resign), inside a journal_begin of its
 * own around both so that the edit and the signing are one diff.
 * TDNS_ENOTFOUND: no zone encloses the name; TDNS_EEXIST: already present;
 * TDNS_EPARSE/TDNS_EINVAL: bad text or a rule above broken (err says which).
 */
enum tdns_status zoneload_add(struct tdns_txn *t, const char *rr_text,
			      char *err, size_t errlen);

/*
 * Delete the RRset (name, type), or with rdata (presentation form, e.g.
 * "192.0.2.1") the one matching record, inside write transaction t.
 * TDNS_ENOTFOUND if absent. The apex SOA cannot be deleted (TDNS_EINVAL).
 */
enum tdns_status zoneload_delete(struct tdns_txn *t, const char *name,
				 const char *type, const char *rdata,
				 char *err, size_t errlen);

#endif
