/*
 * anchor.h - DNSSEC trust anchors and insecure domains of the validator
 * (the local tier's --trust-anchor FILE and --insecure-domain NAME).
 *
 * A trust anchor file holds DS or DNSKEY records in master-file format
 * (RFC 1035 5, as Unbound's trust-anchor-file): comments, $ORIGIN and $TTL
 * are understood, owners may be relative; any other record type is an
 * error. Anchors are static: RFC 5011 automatic rollover is not done (the
 * daemon reads the file once, at start).
 *
 * An insecure domain (Unbound's domain-insecure) is a name at and below
 * which answers are treated as insecure, whatever the anchors say.
 *
 * Ownership: a struct tdns_anchors is built once (anchors_new, then loads
 * and adds), then only read, by any number of threads at once; it owns
 * every ldns object in it until anchors_free. Returned pointers borrow it.
 */
#ifndef TIERDNS_ANCHOR_H
#define TIERDNS_ANCHOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ldns/ldns.h>

#include "tierdns/name.h"
#include "tierdns/status.h"

/* The trust anchor of one name: its DS and DNSKEY records (either may be
 * empty, not both). */
struct tdns_anchor {
	uint8_t name[NAME_WIRE_MAX]; /* uncompressed wire name, lower case */
	size_t name_len;
	ldns_rr_list *ds;
	ldns_rr_list *keys;
};

struct tdns_anchors;

/* An empty set (validation with it is off until an anchor is loaded).
 * TDNS_ENOMEM. */
enum tdns_status anchors_new(struct tdns_anchors **out);
void anchors_free(struct tdns_anchors *ta);

/*
 * Read the anchors of path into ta. On failure (TDNS_EIO: the file cannot
 * be read; TDNS_EPARSE: a record that does not parse, or of a type other
 * than DS and DNSKEY; TDNS_EINVAL: no anchor at all) err receives a
 * message naming the file and line, and ta keeps what it had.
 */
enum tdns_status anchors_load(struct tdns_anchors *ta, const char *path, char *err,
			      size_t errlen);

/* Mark name (text, absolute or not) insecure. TDNS_EINVAL for a name that
 * does not parse, TDNS_ENOMEM. */
enum tdns_status anchors_add_insecure(struct tdns_anchors *ta, const char *name);

/* Number of anchors (names with anchor records). */
size_t anchors_count(const struct tdns_anchors *ta);

/* The deepest anchor at or above the wire name, NULL when none covers it. */
const struct tdns_anchor *anchors_find(const struct tdns_anchors *ta,
				       const uint8_t *name, size_t name_len);

/* Is the wire name at or below an insecure domain? */
bool anchors_insecure(const struct tdns_anchors *ta, const uint8_t *name,
		      size_t name_len);

#endif
