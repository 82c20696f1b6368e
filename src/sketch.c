/*
 * sketch.c - a count-min sketch of 4-bit counters with aging, see sketch.h.
 */
#include "tierdns/sketch.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define ROWS 4
#define WORDS (SKETCH_WIDTH / 16) /* 16 counters of 4 bits per uint64_t */

struct tdns_sketch {
	uint64_t seed;
	uint32_t adds;             /* since the last halving */
	uint64_t row[ROWS][WORDS];
};

enum tdns_status sketch_new(struct tdns_sketch **out)
{
	struct tdns_sketch *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (s == NULL)
		return TDNS_ENOMEM;
	if (getrandom(&s->seed, sizeof(s->seed), 0) != (ssize_t)sizeof(s->seed)) {
		free(s);
		return TDNS_EIO;
	}
	*out = s;
	return TDNS_OK;
}

void sketch_free(struct tdns_sketch *s)
{
	free(s);
}

static inline uint64_t mix(uint64_t x)
{
	/* The finaliser of SplitMix64: every input bit reaches every output bit. */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

uint64_t sketch_hash(const struct tdns_sketch *s, const uint8_t *key, size_t len,
		     uint16_t type)
{
	uint64_t h = s->seed ^ ((uint64_t)type << 48) ^ len, w;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&w, key + i, 8);
		h = mix(h ^ w);
	}
	w = 0;
	memcpy(&w, key + i, len - i);
	return mix(h ^ w);
}

/* Row r's counter of h: word index and shift. Each row takes its own 16
 * bits of h for the counter and mixes them apart. */
static inline void slot(uint64_t h, unsigned r, size_t *word, unsigned *shift)
{
	uint32_t x = (uint32_t)(h >> (16 * r)) & (SKETCH_WIDTH - 1);

	*word = x / 16;
	*shift = (x % 16) * 4;
}

void sketch_add(struct tdns_sketch *s, uint64_t h)
{
	unsigned shift;
	size_t w;

	for (unsigned r = 0; r < ROWS; r++) {
		slot(h, r, &w, &shift);
		if (((s->row[r][w] >> shift) & 0xf) < SKETCH_MAX)
			s->row[r][w] += 1ull << shift;
	}
	if (++s->adds < SKETCH_SAMPLE)
		return;
	/* Halve every counter: shift each word and drop the bit that moved
	 * into the next counter's top. */
	for (unsigned r = 0; r < ROWS; r++)
		for (size_t i = 0; i < WORDS; i++)
			s->row[r][i] = (s->row[r][i] >> 1) & 0x7777777777777777ull;
	s->adds = 0;
}

unsigned sketch_count(const struct tdns_sketch *s, uint64_t h)
{
	unsigned min = SKETCH_MAX, c, shift;
	size_t w;

	for (unsigned r = 0; r < ROWS; r++) {
		slot(h, r, &w, &shift);
		c = (unsigned)(s->row[r][w] >> shift) & 0xf;
		if (c < min)
			min = c;
	}
	return min;
}
