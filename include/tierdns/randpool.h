/*
 * randpool.h - random bytes from the kernel's CSPRNG (getrandom(2)), taken
 * from a pool refilled RANDPOOL_BYTES at a time: the same randomness as
 * one getrandom call per use (RFC 5452 9.2: query IDs; 0x20 case bits),
 * without a system call per query.
 *
 * The caller owns the pool (embedded in its own state, zeroed to start:
 * an empty pool fills at first use). Each byte is handed out once and
 * wiped from the pool. One pool per thread: not thread-safe.
 */
#ifndef TIERDNS_RANDPOOL_H
#define TIERDNS_RANDPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "tierdns/status.h"

#define RANDPOOL_BYTES 256u

struct tdns_randpool {
	uint8_t buf[RANDPOOL_BYTES]; /* getrandom output not used yet: */
	size_t left;                 /* its last `left` bytes */
};

/* n random bytes into out. TDNS_EIO when the kernel gives none (out is
 * then partly written and must not be used). */
enum tdns_status randpool_bytes(struct tdns_randpool *p, void *out, size_t n);

/* The seed of a process-private hash table (dnsproto.h dns_key_hash), so
 * that which keys collide is not known outside: from getrandom without
 * waiting, else from the address of owner (the table then works, with a
 * layout a peer could guess). */
uint64_t randpool_seed(const void *owner);

#endif
