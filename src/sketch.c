/*
 * sketch.c - a count-min sketch of 4-bit counters with aging, see sketch.h.
 */
#include "tierdns/sketch.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "tierdns/dnsproto.h"

#define WORDS_MIN 1024u
#define WORDS_MAX 131072u
#define PERIOD_PER_WORD 10u /* counted questions per word between halvings */
#define HALF_MASK 0x7777777777777777ull

struct tdns_sketch {
	uint64_t ones[256]; /* ones[b]: a 1 at the low bit of the key's counter
			     * in each quarter, chosen by the 2-bit fields
			     * of b (see counters) */
	uint64_t seed;
	uint64_t id;        /* unique per sketch made, so that a thread's
			     * counts (struct mine) never carry over to a
			     * new sketch at a freed one's address */
	uint64_t mask;      /* words - 1 */
	uint32_t period;    /* counted by one thread between its halvings */
	_Atomic uint64_t word[]; /* 16 counters of 4 bits each */
};

/* What one thread counted, of the last sketch it used: a thread's own
 * counts, so that the threads sharing a sketch share no counter that every
 * question would write. */
struct mine {
	uint64_t id; /* the sketch's (0: none yet) */
	uint32_t tick; /* sketch_seen's questions */
	uint32_t adds; /* counted since this thread's last halving */
};

static _Thread_local struct mine me;
static _Atomic uint64_t last_id;

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
	for (size_t i = 0; i < words; i++)
		atomic_init(&s->word[i], 0);
	for (unsigned b = 0; b < 256; b++)
		for (unsigned q = 0; q < 4; q++)
			s->ones[b] |= 1ull << (q * 16 + (b >> 2 * q & 3) * 4);
	s->id = atomic_fetch_add_explicit(&last_id, 1, memory_order_relaxed) + 1;
	s->mask = words - 1;
	s->period = (uint32_t)(words * PERIOD_PER_WORD);
	*out = s;
	return TDNS_OK;
}

void sketch_free(struct tdns_sketch *s)
{
	free(s);
}

/* A seeded hash of (key, type). */
static inline uint64_t key_hash(const struct tdns_sketch *s, const uint8_t *key,
				size_t len, uint16_t type)
{
	return dns_key_hash(s->seed ^ ((uint64_t)type << 32), key, len);
}

/* The key's four counters in its word: ones[] of the top 8 bits of the
 * hash (the word is picked by the low bits). */
static inline uint64_t counters(const struct tdns_sketch *s, uint64_t h)
{
	return s->ones[h >> 56];
}

/* Halve every counter: shift each word and drop the bit that moved into
 * the top of the counter below. Another thread's update racing with it
 * may be lost or undo one word's halving: a count stays approximate. */
static void halve(struct tdns_sketch *s)
{
	uint64_t w;

	for (uint64_t i = 0; i <= s->mask; i++) {
		w = atomic_load_explicit(&s->word[i], memory_order_relaxed);
		atomic_store_explicit(&s->word[i], w >> 1 & HALF_MASK,
				      memory_order_relaxed);
	}
}

void sketch_add(struct tdns_sketch *s, const uint8_t *key, size_t len,
		uint16_t type)
{
	uint64_t h = key_hash(s, key, len, type);
	_Atomic uint64_t *p = &s->word[h & s->mask];
	uint64_t m = counters(s, h), w, x, inc;

	/* Each of the four counters that is not at SKETCH_MAX (all four bits
	 * set) gets one more, all in one add: x has a zero counter where the
	 * key's counter is full, and its bits ORed down mark the others. A
	 * load and a store, not an atomic add: an update racing with another
	 * thread's may be lost, which costs a count, not a lock. */
	w = atomic_load_explicit(p, memory_order_relaxed);
	x = (w & m * 0xf) ^ m * 0xf;
	inc = (x | x >> 1 | x >> 2 | x >> 3) & m;
	if (inc != 0) /* a popular key's full counters: no write to share */
		atomic_store_explicit(p, w + inc, memory_order_relaxed);
	if (me.id != s->id) {
		me.id = s->id;
		me.tick = me.adds = 0;
	}
	if (++me.adds < s->period)
		return;
	halve(s);
	me.adds = 0;
}

void sketch_seen(struct tdns_sketch *s, const uint8_t *key, size_t len,
		 uint16_t type)
{
	if (me.id == s->id && ++me.tick % SKETCH_EVERY != 0)
		return;
	sketch_add(s, key, len, type);
}

unsigned sketch_count(const struct tdns_sketch *s, const uint8_t *key,
		      size_t len, uint16_t type)
{
	uint64_t h = key_hash(s, key, len, type);
	uint64_t w = atomic_load_explicit(&s->word[h & s->mask], memory_order_relaxed);
	uint64_t m = counters(s, h);
	unsigned min = SKETCH_MAX, c;

	for (unsigned q = 0; q < 4; q++) {
		/* The lowest set bit of m in quarter q is the counter's. */
		c = (unsigned)(w >> __builtin_ctzll(m) & 0xf);
		if (c < min)
			min = c;
		m &= m - 1;
	}
	return min;
}
