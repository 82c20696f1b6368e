/*
 * sketch.c - a count-min sketch of 4-bit counters with aging, see sketch.h.
 */
#include "tierdns/sketch.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define WORDS_MIN 1024u
#define WORDS_MAX 131072u
#define PERIOD_PER_WORD 10u /* counted questions per word between halvings */
#define HALF_MASK 0x7777777777777777ull

struct tdns_sketch {
	uint64_t seed;
	uint64_t mask;    /* words - 1 */
	uint32_t adds;    /* counted since the last halving */
	uint32_t period;  /* counted between halvings */
	uint64_t word[];  /* 16 counters of 4 bits each */
};

enum tdns_status sketch_new(size_t entries, struct tdns_sketch **out)
{
	struct tdns_sketch *s;
	size_t words = WORDS_MIN;

	*out = NULL;
	while (words < entries && words < WORDS_MAX)
		words *= 2;
	s = calloc(1, sizeof(*s) + words * sizeof(s->word[0]));
	if (s == NULL)
		return TDNS_ENOMEM;
	if (getrandom(&s->seed, sizeof(s->seed), 0) != (ssize_t)sizeof(s->seed)) {
		free(s);
		return TDNS_EIO;
	}
	s->mask = words - 1;
	s->period = (uint32_t)(words * PERIOD_PER_WORD);
	*out = s;
	return TDNS_OK;
}

void sketch_free(struct tdns_sketch *s)
{
	free(s);
}

static inline uint64_t load64(const uint8_t *p)
{
	uint64_t w;

	memcpy(&w, p, sizeof(w));
	return w;
}

/* A seeded hash of (key, type): a multiply per 8 bytes (a name key of 8
 * bytes or more ends with an overlapping word, so no byte loop), then the
 * SplitMix64 finaliser, which spreads every input bit over the result. */
static inline uint64_t key_hash(const struct tdns_sketch *s, const uint8_t *key,
				size_t len, uint16_t type)
{
	uint64_t h = s->seed ^ ((uint64_t)type << 32) ^ len;
	size_t i;

	if (len >= 8) {
		for (i = 0; i + 8 < len; i += 8)
			h = (h ^ load64(key + i)) * 0x9e3779b97f4a7c15ull;
		h ^= load64(key + len - 8);
	} else {
		for (i = 0; i < len; i++)
			h = (h ^ key[i]) * 0x100000001b3ull;
	}
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebull;
	return h ^ (h >> 31);
}

/* The bit offset of the key's counter in quarter q of its word: two bits
 * of the hash each, above the ones that pick the word. */
static inline unsigned slot(uint64_t h, unsigned q)
{
	return (q * 4 + (unsigned)(h >> (56 + 2 * q) & 3)) * 4;
}

void sketch_add(struct tdns_sketch *s, const uint8_t *key, size_t len,
		uint16_t type)
{
	uint64_t h = key_hash(s, key, len, type);
	uint64_t w = s->word[h & s->mask];
	unsigned sh;

	for (unsigned q = 0; q < 4; q++) {
		sh = slot(h, q);
		if ((w >> sh & 0xf) != SKETCH_MAX)
			w += 1ull << sh;
	}
	s->word[h & s->mask] = w;
	if (++s->adds < s->period)
		return;
	/* Halve every counter: shift each word and drop the bit that moved
	 * into the top of the counter below. */
	for (uint64_t i = 0; i <= s->mask; i++)
		s->word[i] = s->word[i] >> 1 & HALF_MASK;
	s->adds = 0;
}

unsigned sketch_count(const struct tdns_sketch *s, const uint8_t *key,
		      size_t len, uint16_t type)
{
	uint64_t h = key_hash(s, key, len, type);
	uint64_t w = s->word[h & s->mask];
	unsigned min = SKETCH_MAX, c;

	for (unsigned q = 0; q < 4; q++) {
		c = (unsigned)(w >> slot(h, q) & 0xf);
		if (c < min)
			min = c;
	}
	return min;
}
