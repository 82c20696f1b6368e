/*
 * rrl.c - Response Rate Limiting, see rrl.h.
 */
#include "tierdns/rrl.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <ldns/ldns.h>

#include "tierdns/dnsproto.h"
#include "tierdns/log.h"
#include "tierdns/name.h"
#include "tierdns/siphash.h"

/* Tokens are kept in thousandths of a response, so a rate of r responses
 * per second refills r units per millisecond without division. */
#define RRL_UNIT 1000

struct rrl_bucket {
	atomic_flag lock;
	bool limited;        /* over the limit since the bucket was last full */
	uint8_t cls;         /* of the key that set `limited` (for its log) */
	uint8_t family;      /* AF_INET / AF_INET6 of that key */
	uint32_t stamp;      /* ms clock of the last refill (mod 2^32) */
	uint64_t tag;        /* the key's hash, 0: free */
	int64_t tokens;      /* RRL_UNIT per response, at most rate * RRL_UNIT */
	uint32_t slip_n;     /* limited responses, for every slip-th */
	uint32_t slipped;    /* in this limiting episode */
	uint32_t dropped;
	uint8_t prefix[16];  /* the masked address of that key */
};

struct tdns_rrl {
	struct tdns_rrl_cfg cfg;
	uint8_t secret[SIPHASH_KEY_LEN];
	uint64_t mask;             /* buckets - 1 */
	atomic_uint_fast64_t log_sec; /* the second log_n counts */
	atomic_uint log_n;
	struct rrl_bucket *b;
};

static const char *const class_names[RRL_CLASSES_] = {
	"answer", "nxdomain", "nodata", "referral", "wildcard", "error",
};

const char *rrl_class_str(enum rrl_class cls)
{
	return cls < RRL_CLASSES_ ? class_names[cls] : "?";
}

enum tdns_status rrl_new(const struct tdns_rrl_cfg *cfg, struct tdns_rrl **out)
{
	struct tdns_rrl *r;
	uint64_t n = 1;

	*out = NULL;
	if (cfg->rate == 0 || cfg->size == 0 || cfg->size > RRL_MAX_SIZE ||
	    cfg->ipv4_prefix < 8 || cfg->ipv4_prefix > 32 ||
	    cfg->ipv6_prefix < 16 || cfg->ipv6_prefix > 128)
		return TDNS_EINVAL;
	while (n < cfg->size)
		n <<= 1;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return TDNS_ENOMEM;
	r->b = calloc(n, sizeof(*r->b));
	if (r->b == NULL) {
		free(r);
		return TDNS_ENOMEM;
	}
	for (uint64_t i = 0; i < n; i++)
		atomic_flag_clear(&r->b[i].lock);
	if (getrandom(r->secret, sizeof(r->secret), 0) != (ssize_t)sizeof(r->secret)) {
		free(r->b);
		free(r);
		return TDNS_EIO;
	}
	r->cfg = *cfg;
	r->mask = n - 1;
	*out = r;
	return TDNS_OK;
}

void rrl_free(struct tdns_rrl *r)
{
	if (r == NULL)
		return;
	free(r->b);
	free(r);
}

static size_t ans_count(const struct tdns_answer *a, enum ans_section sec)
{
	size_t n = 0;

	for (size_t i = 0; i < a->n; i++)
		n += a->rrsets[i].section == sec;
	return n;
}

enum rrl_class rrl_classify(const struct tdns_qctx *q, const struct tdns_answer *a,
			    const uint8_t **name, size_t *name_len)
{
	*name = q->qkey;
	*name_len = a->zone_klen;
	if (a->rcode == DNS_RCODE_NXDOMAIN)
		return RRL_NXDOMAIN;
	if (a->rcode != DNS_RCODE_NOERROR || !q->has_q) {
		*name_len = 0;
		return RRL_ERROR;
	}
	if (a->wildcard)
		return RRL_WILDCARD;
	if (ans_count(a, ANS_ANSWER) > 0) {
		*name_len = q->qkey_len;
		return RRL_ANSWER;
	}
	return a->aa ? RRL_NODATA : RRL_REFERRAL;
}

/* The client's network: family, then the address masked to its prefix. */
static size_t peer_prefix(const struct tdns_rrl *r, const struct tdns_addr *peer,
			  uint8_t *family, uint8_t out[16])
{
	const uint8_t *addr;
	unsigned bits;
	size_t len;

	memset(out, 0, 16);
	if (peer->ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&peer->ss;

		addr = s6->sin6_addr.s6_addr;
		len = 16;
		bits = r->cfg.ipv6_prefix;
		*family = AF_INET6;
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)&peer->ss;

		addr = (const uint8_t *)&s4->sin_addr.s_addr;
		len = 4;
		bits = r->cfg.ipv4_prefix;
		*family = AF_INET;
	}
	memcpy(out, addr, (bits + 7) / 8);
	if (bits % 8)
		out[bits / 8] &= (uint8_t)(0xff << (8 - bits % 8));
	return len;
}

/* At most RRL_LOG_PER_SEC lines a second in all: an attack from many
 * prefixes must not turn into a flood of log lines. Approximate under
 * races, which is enough. */
static bool log_allowed(struct tdns_rrl *r, uint64_t now_ms)
{
	uint64_t sec = now_ms / 1000;

	if (atomic_load_explicit(&r->log_sec, memory_order_relaxed) != sec) {
		atomic_store_explicit(&r->log_sec, sec, memory_order_relaxed);
		atomic_store_explicit(&r->log_n, 0, memory_order_relaxed);
	}
	return atomic_fetch_add_explicit(&r->log_n, 1, memory_order_relaxed) <
	       RRL_LOG_PER_SEC;
}

static const char *prefix_str(const struct tdns_rrl *r, uint8_t family,
			      const uint8_t prefix[16], char *buf, size_t cap)
{
	char a[INET6_ADDRSTRLEN];

	if (inet_ntop(family, prefix, a, sizeof(a)) == NULL)
		snprintf(a, sizeof(a), "?");
	snprintf(buf, cap, "%s/%u", a,
		 family == AF_INET6 ? r->cfg.ipv6_prefix : r->cfg.ipv4_prefix);
	return buf;
}

static void log_start(struct tdns_rrl *r, uint8_t family, const uint8_t prefix[16],
		      enum rrl_class cls, const uint8_t *name, size_t name_len)
{
	uint8_t wire[NAME_WIRE_MAX];
	char pbuf[INET6_ADDRSTRLEN + 8];
	ldns_rdf *rdf = NULL;
	char *text = NULL;
	size_t wlen;

	if (name_len > 0 && name_key_to_wire(name, name_len, wire, &wlen) == TDNS_OK) {
		rdf = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME, wlen, wire);
		if (rdf != NULL)
			text = ldns_rdf2str(rdf);
	}
	log_warn("rrl: limiting %s %s%s%s (over %u responses/s; TC every %u%s)",
		 prefix_str(r, family, prefix, pbuf, sizeof(pbuf)), rrl_class_str(cls),
		 text != NULL ? " " : "", text != NULL ? text : "", r->cfg.rate,
		 r->cfg.slip, r->cfg.slip == 0 ? ": none, all dropped" : "");
	free(text);
	ldns_rdf_deep_free(rdf);
}

enum rrl_verdict rrl_check(struct tdns_rrl *r, const struct tdns_addr *peer,
			   enum rrl_class cls, const uint8_t *name, size_t name_len,
			   uint64_t now_ms, struct rrl_counters *c)
{
	uint8_t key[1 + 16 + 1 + NAME_KEY_MAX];
	uint8_t prefix[16], family, old_prefix[16], old_family = 0, old_cls = 0;
	const int64_t cap = (int64_t)r->cfg.rate * RRL_UNIT;
	enum rrl_verdict v = RRL_PASS;
	bool started = false, stopped = false;
	uint32_t slipped = 0, dropped = 0, elapsed;
	struct rrl_bucket *b;
	size_t plen, klen;
	uint64_t h, tag;

	plen = peer_prefix(r, peer, &family, prefix);
	key[0] = family;
	memcpy(key + 1, prefix, plen);
	key[1 + plen] = (uint8_t)cls;
	if (name_len > NAME_KEY_MAX)
		name_len = NAME_KEY_MAX;
	if (name_len > 0)
		memcpy(key + 2 + plen, name, name_len);
	klen = 2 + plen + name_len;
	h = siphash24(r->secret, key, klen);
	tag = h | 1;
	b = &r->b[(h >> 17) & r->mask];

	while (atomic_flag_test_and_set_explicit(&b->lock, memory_order_acquire))
		;
	elapsed = (uint32_t)now_ms - b->stamp;
	if (b->tag == 0 || elapsed >= 1000 ||
	    b->tokens + (int64_t)elapsed * r->cfg.rate >= cap) {
		/* Full again (or never used): the old key went quiet. */
		if (b->limited) {
			stopped = true;
			old_family = b->family;
			old_cls = b->cls;
			memcpy(old_prefix, b->prefix, sizeof(old_prefix));
			slipped = b->slipped;
			dropped = b->dropped;
		}
		b->tag = tag;
		b->tokens = cap;
		b->limited = false;
	} else {
		/* Another key in this bucket shares its limit until it is idle. */
		b->tokens += (int64_t)elapsed * r->cfg.rate;
	}
	b->stamp = (uint32_t)now_ms;
	if (b->tokens >= RRL_UNIT) {
		b->tokens -= RRL_UNIT;
	} else {
		if (!b->limited) {
			b->limited = true;
			started = true;
			b->cls = (uint8_t)cls;
			b->family = family;
			memcpy(b->prefix, prefix, sizeof(b->prefix));
			b->slip_n = 0;
			b->slipped = 0;
			b->dropped = 0;
		}
		if (r->cfg.slip > 0 && ++b->slip_n % r->cfg.slip == 0) {
			v = RRL_SLIP;
			b->slipped++;
		} else {
			v = RRL_DROP;
			b->dropped++;
		}
	}
	atomic_flag_clear_explicit(&b->lock, memory_order_release);

	if (v == RRL_SLIP)
		stats_inc(&c->slipped);
	else if (v == RRL_DROP)
		stats_inc(&c->dropped);
	if (stopped && log_allowed(r, now_ms)) {
		char pbuf[INET6_ADDRSTRLEN + 8];

		log_info("rrl: stopped limiting %s %s: %u slipped, %u dropped",
			 prefix_str(r, old_family, old_prefix, pbuf, sizeof(pbuf)),
			 rrl_class_str(old_cls), slipped, dropped);
	}
	if (started && log_allowed(r, now_ms))
		log_start(r, family, prefix, cls, name, name_len);
	return v;
}

uint64_t rrl_limited_now(struct tdns_rrl *r, uint64_t now_ms)
{
	const int64_t cap = (int64_t)r->cfg.rate * RRL_UNIT;
	uint64_t n = 0;
	uint32_t elapsed;

	for (uint64_t i = 0; i <= r->mask; i++) {
		struct rrl_bucket *b = &r->b[i];

		while (atomic_flag_test_and_set_explicit(&b->lock, memory_order_acquire))
			;
		/* The negation of rrl_check's "full again". */
		elapsed = (uint32_t)now_ms - b->stamp;
		if (b->limited && b->tag != 0 && elapsed < 1000 &&
		    b->tokens + (int64_t)elapsed * r->cfg.rate < cap)
			n++;
		atomic_flag_clear_explicit(&b->lock, memory_order_release);
	}
	return n;
}
