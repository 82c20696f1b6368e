/*
 * name.h - canonical name keys.
 *
 * A name key is the owner name with its labels in reverse order (root side
 * first), each label lower-cased (ASCII only, RFC 4343) and preceded by its
 * length byte. The root name's key is empty. Example: "WebApp.Site." ->
 * "\x04site\x06webapp". Because the length byte leads each label, the key of
 * a zone apex is a byte prefix of the key of every name in that zone, and no
 * two names share a key (labels containing 0x00 or '.' stay unambiguous).
 *
 * A record key (the key of an RRset in the store) is the name key, one 0x00
 * byte (the root label, which cannot be a label length elsewhere), and the RR
 * type in network order: NAME_KEY || 0x00 || TYPE_HI || TYPE_LO.
 *
 * All functions here are pure byte functions: no allocation, no I/O.
 */
#ifndef TIERDNS_NAME_H
#define TIERDNS_NAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tierdns/status.h"

#define NAME_WIRE_MAX 255              /* RFC 1035 2.3.4 */
#define LABEL_MAX 63                   /* RFC 1035 2.3.4 */
#define NAME_KEY_MAX 254               /* wire length minus the root byte */
#define RECORD_KEY_MAX (NAME_KEY_MAX + 3)

#define NAME_MAX_POINTERS 127 /* compression pointers followed per name */

/*
 * Read the possibly compressed name at w[off] of a DNS message of len bytes
 * (RFC 1035 4.1.4). Each pointer must lead strictly backwards from where it
 * stands, to min_target or later (DNS_HDR_LEN: not into the header; 0:
 * anywhere), and at most NAME_MAX_POINTERS are followed: with the 255-octet
 * limit that bounds the walk. out (NULL: not written; else NAME_WIRE_MAX
 * bytes) receives the name uncompressed, *plain its length, *end the offset
 * just past it where it stands. false for a malformed name (truncated, a
 * label over 63 octets or of type 0x40/0x80, a pointer that breaks the
 * rules, over 255 octets).
 */
bool name_wire_read(const uint8_t *w, size_t len, size_t off,
		    size_t min_target, uint8_t *out, size_t *plain, size_t *end);

/*
 * Build the name key of an uncompressed wire-format name (length-prefixed
 * labels ending with the 0 root label, as in an ldns_rdf of type DNAME).
 * key must hold NAME_KEY_MAX bytes; *key_len is the wire name's length
 * less 1 (its root label), wherever the name ends within wire_len.
 * Returns TDNS_EINVAL for a wire name that is malformed (label > 63, no
 * terminator within wire_len, > 255 bytes).
 */
enum tdns_status name_key_from_wire(const uint8_t *wire, size_t wire_len,
				    uint8_t *key, size_t *key_len);

/*
 * Inverse of name_key_from_wire: write the (lower-case) wire name of a key
 * into wire (NAME_WIRE_MAX bytes). TDNS_EINVAL if key is malformed.
 */
enum tdns_status name_key_to_wire(const uint8_t *key, size_t key_len,
				  uint8_t *wire, size_t *wire_len);

/* Number of labels in a key (root = 0); -1 if malformed. */
int name_key_labels(const uint8_t *key, size_t key_len);

/* The key's ancestors in one pass: its label count n (as name_key_labels,
 * -1 if malformed), and for l = 0..n in ends[l] the length of the key of
 * its ancestor with l labels, a prefix of key (ends[0] = 0, the root;
 * ends[n] = key_len). ends: NAME_KEY_ENDS entries. */
#define NAME_KEY_ENDS (NAME_KEY_MAX / 2 + 2)
int name_key_ancestors(const uint8_t *key, size_t key_len, size_t *ends);

/* Length of the key of the ancestor with `labels` labels (a prefix of key).
 * labels must be <= name_key_labels(key). */
size_t name_key_prefix_len(const uint8_t *key, size_t key_len, int labels);

/* True if `name` equals `apex` or lies below it (apex key is a prefix at a
 * label boundary - always true for well-formed keys that share the prefix). */
bool name_key_is_subdomain(const uint8_t *name, size_t name_len,
			   const uint8_t *apex, size_t apex_len);

/* Record key = key || 0x00 || type (network order). out: RECORD_KEY_MAX. */
size_t name_record_key(const uint8_t *key, size_t key_len, uint16_t type,
		       uint8_t *out);

/* Split a record key back into name key length and type. false if malformed. */
bool name_record_key_split(const uint8_t *rkey, size_t rkey_len,
			   size_t *key_len, uint16_t *type);

#endif
