/*
 * edns.h - EDNS options (RFC 6891 6.1.2) of raw messages, bytes in, bytes
 * out, without a parse: the client side of tierdns-local adds an option to
 * the query it sends (a COOKIE, RFC 7873; edns-tcp-keepalive, RFC 7828)
 * and reads one from the reply before the resolver parses it.
 *
 * Stateless; nothing is allocated. A message that cannot be walked is
 * never read past its end.
 */
#ifndef TIERDNS_EDNS_H
#define TIERDNS_EDNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Copy the query q[0..len) into out (cap bytes) with one EDNS option added
 * at the end of its OPT: code, then data[0..dlen) (data may be NULL when
 * dlen is 0). *out_len its length. False (out untouched) when q is not a
 * one-question query whose only other record is a last OPT without an
 * option of that code, or out is too small: then q goes as it is. */
bool edns_opt_append(const uint8_t *q, size_t len, uint16_t code, const uint8_t *data,
		     size_t dlen, uint8_t *out, size_t cap, size_t *out_len);

/* The first option of that code in the first OPT record of the message
 * m[0..len) (any section: a reply is walked record by record): true with
 * *data (into m, valid as long as m) and *dlen. False when there is none,
 * or m cannot be walked (the parser that reads it later judges it). */
bool edns_opt_find(const uint8_t *m, size_t len, uint16_t code, const uint8_t **data,
		   size_t *dlen);

#endif
