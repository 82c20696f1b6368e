/*
 * failcache.c - recent failures by question (failcache.h).
 */
#include "tierdns/failcache.h"

#include <stdlib.h>
#include <string.h>

struct failent {
	uint8_t key[FAILCACHE_KEY_MAX];
	size_t key_len;       /* 0 = empty */
	uint64_t until_ms;    /* answer SERVFAIL from memory until */
	uint64_t forget_ms;   /* a failure before this grows the duration */
	uint32_t dur_ms;
	bool unreachable;     /* the last failure was one of reaching upstreams, */
	uint32_t epoch;       /* at this infra epoch */
};

struct tdns_failcache {
	struct failent e[FAILCACHE_SETS * FAILCACHE_WAYS];
};

enum tdns_status failcache_new(struct tdns_failcache **out)
{
	*out = calloc(1, sizeof(**out));
	return *out != NULL ? TDNS_OK : TDNS_ENOMEM;
}

void failcache_free(struct tdns_failcache *fc)
{
	free(fc);
}

void failcache_clear(struct tdns_failcache *fc)
{
	memset(fc->e, 0, sizeof(fc->e));
}

/* The index of the question's entry in fc->e, or -1. */
static long find(const struct tdns_failcache *fc, const uint8_t *key,
		 size_t key_len, uint32_t hash)
{
	size_t set = (hash & (FAILCACHE_SETS - 1)) * FAILCACHE_WAYS;

	for (size_t i = set; i < set + FAILCACHE_WAYS; i++)
		if (fc->e[i].key_len == key_len &&
		    memcmp(fc->e[i].key, key, key_len) == 0)
			return (long)i;
	return -1;
}

enum failcache_hit failcache_hit(const struct tdns_failcache *fc, const uint8_t *key,
				 size_t key_len, uint32_t hash, uint64_t now_ms,
				 uint32_t epoch)
{
	long i = find(fc, key, key_len, hash);

	if (i < 0 || now_ms >= fc->e[i].until_ms)
		return FAILCACHE_NONE;
	if (!fc->e[i].unreachable)
		return FAILCACHE_RETURNED;
	return fc->e[i].epoch == epoch ? FAILCACHE_UNREACHABLE : FAILCACHE_NONE;
}

uint32_t failcache_add(struct tdns_failcache *fc, const uint8_t *key,
		       size_t key_len, uint32_t hash, uint64_t now_ms, bool unreachable,
		       uint32_t epoch)
{
	struct failent *set = &fc->e[(hash & (FAILCACHE_SETS - 1)) * FAILCACHE_WAYS];
	struct failent *f = NULL;
	uint32_t dur = FAILCACHE_MIN_MS;
	long at;

	if (key_len == 0 || key_len > FAILCACHE_KEY_MAX)
		return 0;
	at = find(fc, key, key_len, hash);
	if (at >= 0)
		f = &fc->e[at];
	if (f != NULL && now_ms < f->forget_ms)
		dur = f->dur_ms >= FAILCACHE_MAX_MS / 2 ? FAILCACHE_MAX_MS
							: f->dur_ms * 2;
	if (f == NULL) {
		f = &set[0];
		for (unsigned i = 0; i < FAILCACHE_WAYS; i++) {
			if (set[i].key_len == 0 || set[i].forget_ms <= now_ms) {
				f = &set[i];
				break;
			}
			if (set[i].forget_ms < f->forget_ms)
				f = &set[i];
		}
		memcpy(f->key, key, key_len);
		f->key_len = key_len;
	}
	f->dur_ms = dur;
	f->unreachable = unreachable;
	f->epoch = epoch;
	f->until_ms = now_ms + dur;
	f->forget_ms = f->until_ms + dur;
	return dur;
}

void failcache_forget(struct tdns_failcache *fc, const uint8_t *key,
		      size_t key_len, uint32_t hash)
{
	long i = find(fc, key, key_len, hash);

	if (i >= 0)
		fc->e[i].key_len = 0;
}
