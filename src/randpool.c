/*
 * randpool.c - random bytes from a pool of getrandom(2) output
 * (randpool.h).
 */
#include "tierdns/randpool.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

uint64_t randpool_seed(const void *owner)
{
	uint64_t seed;

	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed))
		seed = (uint64_t)(uintptr_t)owner ^ 0x9e3779b97f4a7c15u;
	return seed;
}

enum tdns_status randpool_bytes(struct tdns_randpool *p, void *out, size_t n)
{
	uint8_t *o = out;
	size_t take;
	ssize_t got;

	while (n > 0) {
		if (p->left == 0) {
			do {
				got = getrandom(p->buf, sizeof(p->buf), 0);
			} while (got < 0 && errno == EINTR);
			if (got != (ssize_t)sizeof(p->buf))
				return TDNS_EIO;
			p->left = sizeof(p->buf);
		}
		take = n < p->left ? n : p->left;
		memcpy(o, p->buf + sizeof(p->buf) - p->left, take);
		explicit_bzero(p->buf + sizeof(p->buf) - p->left, take);
		p->left -= take;
		o += take;
		n -= take;
	}
	return TDNS_OK;
}
