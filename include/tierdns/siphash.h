/*
 * siphash.h - SipHash-2-4 (Aumasson and Bernstein, 2012): a keyed 64-bit
 * hash for tables an attacker must not be able to aim at (rrl.h) and for
 * DNS server cookies (RFC 9018 uses SipHash-2-4).
 */
#ifndef TIERDNS_SIPHASH_H
#define TIERDNS_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

#define SIPHASH_KEY_LEN 16

/* SipHash-2-4 of in[0..len) under key. */
uint64_t siphash24(const uint8_t key[SIPHASH_KEY_LEN], const void *in, size_t len);

#endif
