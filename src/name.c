/*
 * name.c - canonical, label-reversed name keys (see name.h for the layout).
 */
#include "tierdns/name.h"

#include <string.h>

#include "tierdns/dnsproto.h"

enum tdns_status name_key_from_wire(const uint8_t *wire, size_t wire_len,
				    uint8_t *key, size_t *key_len)
{
	size_t starts[NAME_WIRE_MAX / 2 + 1];
	size_t nlabels = 0, pos = 0, out = 0, i, j;

	/* First pass: find the label starts and the terminator. */
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
		starts[nlabels++] = pos;
		pos += 1 + (size_t)len;
	}
	/* Second pass: emit the labels root side first, lower-cased. */
	for (i = nlabels; i > 0; i--) {
		size_t s = starts[i - 1];
		uint8_t len = wire[s];

		key[out++] = len;
		for (j = 1; j <= len; j++)
			key[out++] = dns_lower(wire[s + j]);
	}
	*key_len = out;
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
