/*
 * name.c - canonical, label-reversed name keys (see name.h for the layout).
 */
#include "tierdns/name.h"

#include <string.h>

#include "tierdns/dnsproto.h"

/* dns_lower as a table, for the labels that take no word (below). */
static const uint8_t lower_tab[256] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
	0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f,
	0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f,
	0x40, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f,
	0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x5b, 0x5c, 0x5d, 0x5e, 0x5f,
	0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f,
	0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x7b, 0x7c, 0x7d, 0x7e, 0x7f,
	0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f,
	0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f,
	0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf,
	0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf,
	0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf,
	0xd0, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf,
	0xe0, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xeb, 0xec, 0xed, 0xee, 0xef,
	0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe, 0xff,
};

/* Copy 8 bytes of a name, lower-cased. */
static inline void lower_word(uint8_t *to, const uint8_t *from)
{
	uint64_t w;

	memcpy(&w, from, 8);
	w = dns_lower8(w);
	memcpy(to, &w, 8);
}

/*
 * The second pass of name_key_from_wire for a name with a label of 8
 * bytes or more: the label at wire offset p (m bytes with its length
 * byte) lands at key offset klen - p - m, lower-cased (a length byte, at
 * most 63, is no letter). A short label goes byte by byte; a longer one
 * eight bytes at a time from its end, and its first bytes take one more
 * word that starts before it where there is room on both sides: that
 * word reads bytes of the labels before it in wire and writes over where
 * the labels after it go in the key, which are written next. Out of
 * line, so that the usual name of short labels keeps a leaf function.
 */
static __attribute__((noinline)) void key_words(const uint8_t *wire, size_t klen,
						uint8_t *key)
{
	for (size_t p = 0; p < klen;) {
		size_t m = (size_t)wire[p] + 1, d = klen - p - m, e = m;

		if (m >= 8) {
			for (; e >= 8; e -= 8)
				lower_word(key + d + e - 8, wire + p + e - 8);
			if (e > 0 && p + e >= 8 && d + e >= 8) {
				lower_word(key + d + e - 8, wire + p + e - 8);
				e = 0;
			}
		}
		for (size_t j = 0; j < e; j++)
			key[d + j] = lower_tab[wire[p + j]];
		p += m;
	}
}

enum tdns_status name_key_from_wire(const uint8_t *wire, size_t wire_len,
				    uint8_t *key, size_t *key_len)
{
	size_t pos = 0, klen, p;
	uint8_t wide = 0; /* the lengths or'ed: 8 or more if one is */

	/* First pass: check the labels and find the terminator. */
	for (;;) {
		uint8_t len;

		if (pos >= wire_len || pos >= NAME_WIRE_MAX)
			return TDNS_EINVAL;
		len = wire[pos];
		if (len == 0)
			break;
		if (len > LABEL_MAX)
			return TDNS_EINVAL; /* also rejects compression pointers */
		if (pos + 1 + len >= wire_len || pos + 1 + len >= NAME_WIRE_MAX)
			return TDNS_EINVAL;
		wide |= len;
		pos += 1 + (size_t)len;
	}
	klen = pos;
	*key_len = klen;
	if (wide >= 8) {
		key_words(wire, klen, key);
		return TDNS_OK;
	}
	/* Second pass: the key is the wire name without its terminator, the
	 * labels in reverse order: the label at wire offset p (its length
	 * byte and len bytes) lands at key offset klen - p - 1 - len. One
	 * pass over the bytes, lower-cased; no table of label starts. This
	 * loop's form (the length byte apart, a byte counter) costs the
	 * usual short name about 18 Ir less than key_words' byte loop. */
	for (p = 0; p < klen;) {
		uint8_t len = wire[p];
		uint8_t *d = key + (klen - p - 1 - len);
		const uint8_t *s = wire + p + 1;

		d[0] = len;
		for (uint8_t j = 0; j < len; j++)
			d[1 + j] = lower_tab[s[j]];
		p += 1 + (size_t)len;
	}
	return TDNS_OK;
}

/* Walk the label starts of a key; returns the label count or -1. */
static int key_scan(const uint8_t *key, size_t key_len, size_t *starts)
{
	size_t pos = 0;
	int n = 0;

	if (key_len > NAME_KEY_MAX)
		return -1;
	while (pos < key_len) {
		uint8_t len = key[pos];

		if (len == 0 || len > LABEL_MAX || pos + 1 + len > key_len)
			return -1;
		if (starts != NULL)
			starts[n] = pos;
		n++;
		pos += 1 + (size_t)len;
	}
	return n;
}

enum tdns_status name_key_to_wire(const uint8_t *key, size_t key_len,
				  uint8_t *wire, size_t *wire_len)
{
	size_t starts[NAME_KEY_MAX / 2 + 1];
	size_t out = 0;
	int n, i;

	n = key_scan(key, key_len, starts);
	if (n < 0)
		return TDNS_EINVAL;
	for (i = n; i > 0; i--) {
		size_t s = starts[i - 1];
		size_t len = (size_t)key[s] + 1;

		memcpy(wire + out, key + s, len);
		out += len;
	}
	wire[out++] = 0;
	*wire_len = out;
	return TDNS_OK;
}

int name_key_labels(const uint8_t *key, size_t key_len)
{
	return key_scan(key, key_len, NULL);
}

int name_key_ancestors(const uint8_t *key, size_t key_len, size_t *ends)
{
	int n = key_scan(key, key_len, ends);

	if (n >= 0)
		ends[n] = key_len;
	return n;
}

size_t name_key_prefix_len(const uint8_t *key, size_t key_len, int labels)
{
	size_t pos = 0;
	int n;

	for (n = 0; n < labels && pos < key_len; n++)
		pos += 1 + (size_t)key[pos];
	return pos > key_len ? key_len : pos;
}

bool name_key_is_subdomain(const uint8_t *name, size_t name_len,
			   const uint8_t *apex, size_t apex_len)
{
	/* The apex key is a prefix of a well-formed key only at a label
	 * boundary: both keys are parsed from the same first length byte. */
	return apex_len <= name_len && memcmp(name, apex, apex_len) == 0;
}

size_t name_record_key(const uint8_t *key, size_t key_len, uint16_t type,
		       uint8_t *out)
{
	memcpy(out, key, key_len);
	out[key_len] = 0;
	out[key_len + 1] = (uint8_t)(type >> 8);
	out[key_len + 2] = (uint8_t)(type & 0xff);
	return key_len + 3;
}

bool name_record_key_split(const uint8_t *rkey, size_t rkey_len,
			   size_t *key_len, uint16_t *type)
{
	size_t pos = 0;

	for (;;) {
		uint8_t len;

		if (pos >= rkey_len)
			return false;
		len = rkey[pos];
		if (len == 0)
			break;
		if (len > LABEL_MAX)
			return false;
		pos += 1 + (size_t)len;
	}
	if (pos > NAME_KEY_MAX || pos + 3 != rkey_len)
		return false;
	*key_len = pos;
	*type = (uint16_t)((rkey[pos + 1] << 8) | rkey[pos + 2]);
	return true;
}

bool name_wire_read(const uint8_t *w, size_t len, size_t off,
		    size_t min_target, uint8_t *out, size_t *plain, size_t *end)
{
	size_t p = off, o = 0, stop = 0;
	unsigned hops = 0;

	for (;;) {
		size_t c;

		if (p >= len)
			return false;
		c = w[p];
		if ((c & 0xc0) == 0xc0) {
			size_t target;

			if (p + 1 >= len)
				return false;
			target = (c & 0x3f) << 8 | w[p + 1];
			if (target >= p || target < min_target ||
			    ++hops > NAME_MAX_POINTERS)
				return false;
			if (stop == 0)
				stop = p + 2;
			p = target;
			continue;
		}
		/* 0x40 and 0x80 label types are not in use (RFC 6891 5). */
		if (c > LABEL_MAX || len - p < c + 1 || o + c + 1 > NAME_WIRE_MAX)
			return false;
		if (out != NULL)
			memcpy(out + o, w + p, c + 1);
		o += c + 1;
		p += c + 1;
		if (c == 0)
			break;
	}
	*plain = o;
	*end = stop != 0 ? stop : p;
	return true;
}
