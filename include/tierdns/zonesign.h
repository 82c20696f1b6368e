/*
 * zonesign.h - DNSSEC for the zones of a store, with ldns's signer and
 * verifier (no crypto of our own): sign a zone with key files, print the
 * DS records for its parent, verify a signed zone as ldns-verify-zone
 * does.
 *
 * Keys are BIND/ldns key pairs as ldns-keygen writes them:
 * K<zone>+<alg>+<tag>.key (the DNSKEY record) and .private (the private
 * key). A key whose DNSKEY has the SEP flag (257) is a KSK and signs the
 * DNSKEY RRset only; the others (ZSKs) sign the rest (ldns's KSK/ZSK
 * split; a single key signs everything). Algorithms 8 (RSASHA256), 13
 * (ECDSA P-256) and 15 (Ed25519). Private keys are read from their files
 * for the signing only; nothing of them is stored.
 *
 * Not thread-safe (ldns's signer); one call at a time per process.
 */
#ifndef TIERDNS_ZONESIGN_H
#define TIERDNS_ZONESIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tierdns/status.h"
#include "tierdns/store.h"

#define ZONESIGN_VALIDITY (30u * 86400u) /* signatures valid for 30 days */
#define ZONESIGN_INCEPTION_SKEW 3600u    /* and from an hour ago */

struct zonesign_opts {
	bool nsec3;           /* NSEC3 (RFC 5155) instead of NSEC */
	bool optout;          /* NSEC3 opt-out (RFC 5155 6) */
	uint16_t iterations;  /* NSEC3 extra iterations; RFC 9276: 0 */
	const uint8_t *salt;  /* NSEC3 salt; RFC 9276: none */
	uint8_t salt_len;
	uint32_t validity;    /* seconds; 0: ZONESIGN_VALIDITY */
	uint32_t refresh;     /* seconds: a signature of ours that expires
			       * later than this from now is kept; 0 renews
			       * every signature */
	uint64_t now;         /* epoch seconds of the signing */
};

/*
 * (Re-)sign the zone (presentation name, e.g. "site.") held in store s
 * with the key files (each the path of a .key or .private file, or their
 * common base name), in one write transaction. The keys' DNSKEY records
 * are added to the apex if missing and the SOA serial goes up by one (RFC
 * 1982). A signature already there is kept when it is by one of these
 * keys, valid now and expires more than o->refresh seconds from now (the
 * SOA's and the DNSKEY RRset's are always made again); every other RRset
 * is signed anew (valid from now - 1 h to now + validity). The NSEC or
 * NSEC3 chain is built again; a chain record that came out unchanged
 * keeps its fresh signatures. A zone held in the same store below this
 * one is a delegation (its apex NS records are shown to the signer, so
 * the NSEC/NSEC3 there lists NS). The key paths (made absolute) and the
 * options are remembered in the store for zonesign_resign.
 * TDNS_ENOTFOUND: no such zone; TDNS_EINVAL / TDNS_EIO: a key file that
 * cannot be read or does not belong to the zone, an unsupported
 * algorithm, or the signer failed (err says which).
 */
enum tdns_status zonesign_sign(struct tdns_store *s, const char *zone,
			       const char *const *keyfiles, size_t nkeys,
			       const struct zonesign_opts *o, char *err,
			       size_t errlen);

/*
 * After an edit of the zone with apex key apex[0..alen) in write
 * transaction t (add, delete), inside the journal_begin that follows it
 * (journal.h, nested): sign what the edit changed with the keys and
 * options of the zone's last zonesign_sign in this store, keeping the
 * serial (the edit raised it). Incremental, in t: the RRsets the journal
 * noted as changed are signed (the DNSKEY RRset by the KSKs, others by
 * the ZSKs), the SOA again, and the NSEC or NSEC3 records of their names
 * (and for NSEC3 of the empty non-terminals above them) made, changed or
 * removed, with the predecessor whose next name changes; a delegation
 * made or removed also settles every name below it (glue loses its
 * signatures and chain records, or gets them). Every other record stays
 * byte for byte, so the work grows with the change, not with the zone,
 * and the result is what zonesign_sign of the edited zone makes (the
 * signatures' times aside). The whole zone is signed as zonesign_sign
 * does (keeping fresh signatures) instead, with an info log line that
 * says why, when the chain TTL changes (the SOA's TTL or minimum did,
 * RFC 9077), the NSEC3PARAM changed, the chain is not of the kind the
 * options say, a key's DNSKEY is not at the apex, or the journal lost
 * the change. The changes go into the journal diff the caller follows.
 * TDNS_OK with *resigned false when the zone is not signed (no DNSKEY at
 * its apex), and also when it is but no keys are known here or they
 * cannot be read, or the whole-zone signer fails: then nothing of the
 * signing is written (the edit stands, unsigned) and a warning is logged
 * that validators will find the change bogus until the zone is signed
 * again. Other errors (store, memory, an incremental signing that failed
 * after writing): err says which, the caller aborts t. Not thread-safe
 * (ldns's signer).
 */
enum tdns_status zonesign_resign(struct tdns_txn *t, const uint8_t *apex, size_t alen,
				 uint64_t now, bool *resigned, char *err, size_t errlen);

/* Forget the keys and options zonesign_sign remembered for the zone (a
 * load replaces the zone with a file's, remove-zone removes it: an edit
 * must not sign them with keys chosen for the zone before). TDNS_OK also
 * when none were remembered. */
enum tdns_status zonesign_forget(struct tdns_txn *t, const uint8_t *apex, size_t alen);

/*
 * The parent's side of a change of a child zone held in the same store
 * (journal.h journal_cut): cut was taken (journal_cut_take) in t before the
 * child changed, and the child's own diff is written. When the delegation
 * the parent's transfers carry changed, the parent follows it in t: its
 * serial goes up by its policy (zoneload_bump_serial, ZONEDB_SERIAL_ZONE),
 * a signed parent's SOA is signed again (zonesign_resign), and the change
 * is the parent's journal diff, so that a secondary of the parent that
 * follows by SOA serial and IXFR gets what an AXFR gives. *serial is then
 * the parent's new serial and *followed true; cut NULL or no change:
 * *followed false, nothing written. Every writer of a zone's data follows
 * this (tierdns-zone, a secondary's transfer, a zone's removal). On error
 * err may say why and the caller aborts t. Not thread-safe (as
 * zonesign_resign).
 */
struct journal_cut;
enum tdns_status zonesign_follow_cut(struct tdns_txn *t, struct journal_cut *cut,
				     bool *followed, uint32_t *serial, char *err, size_t errlen);

/* Remove the zone with apex key from t (tierdns-zone remove-zone,
 * tierdns-control zone remove): its data, metadata and journal
 * (zonedb_delete_zone), the signing keys remembered for it
 * (zonesign_forget), and a parent held in the store follows the loss of
 * the delegation (zonesign_follow_cut, *followed and *serial as there).
 * *cut (the caller frees it: journal_cut_free; NULL when no zone held
 * encloses this one) names the parent. TDNS_ENOTFOUND: no such zone. On
 * error err may say why and the caller aborts t. */
enum tdns_status zonesign_remove_zone(struct tdns_txn *t, const uint8_t *apex, size_t alen,
				      struct journal_cut **cut, bool *followed, uint32_t *serial,
				      char *err, size_t errlen);

/* The DS records (SHA-256, RFC 4509) of the zone's KSKs (of every DNSKEY
 * when none has the SEP flag) as master-file lines to out.
 * TDNS_ENOTFOUND: no such zone or no DNSKEY at its apex. */
enum tdns_status zonesign_ds(struct tdns_txn *t, const char *zone, FILE *out);

/*
 * Verify the signed zone at time now, as ldns-verify-zone does: every
 * authoritative RRset (not the delegation NS or glue below a cut) has a
 * signature by a DNSKEY of the apex that is valid now; the NSEC or NSEC3
 * chain is closed (each record's next name is the next record's owner,
 * the last points back to the first) and every authoritative name has
 * its NSEC, or its NSEC3 (names of unsigned delegations excepted under
 * opt-out). Each problem is one line to out; *problems counts them (0: the
 * zone verifies). TDNS_ENOTFOUND: no such zone; TDNS_EINVAL: it is not
 * signed (no DNSKEY at the apex).
 */
enum tdns_status zonesign_verify(struct tdns_txn *t, const char *zone,
				 uint64_t now, FILE *out, unsigned *problems);

/*
 * The earliest expiration of a signature in the zone with apex key
 * apex[0..apex_len) - its RRsets' and its NSEC/NSEC3 chain's - in Unix
 * seconds (RFC 4034 3.1.5 serial arithmetic, resolved around now).
 * *signed_zone false (and *expiry 0) when it holds no signature; a zone
 * without a DNSKEY at its apex counts as unsigned without being walked.
 */
enum tdns_status zonesign_earliest_expiry(struct tdns_txn *t, const uint8_t *apex,
					  size_t apex_len, uint64_t now, bool *signed_zone,
					  uint64_t *expiry);

#endif
