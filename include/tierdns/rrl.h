/*
 * rrl.h - Response Rate Limiting for the authoritative tier, as NSD, Knot
 * and BIND implement it (the scheme of Vixie and Schryver): it keeps the
 * server from being a reflector that multiplies a forged source's traffic.
 *
 * Every UDP response is filed under a key: the client's network prefix
 * (/24 IPv4, /56 IPv6 by default), the response class (answer, NXDOMAIN,
 * NODATA, referral, wildcard, error) and a name (the query name for
 * answers, the zone for NXDOMAIN, NODATA, referrals and wildcards, none for
 * errors: a flood of random names in one zone is one key). Each key has a
 * token bucket of `rate` responses per second (a burst of one second's worth).
 * Over the limit, every `slip`-th response is sent truncated (TC, no
 * records) so that a real client behind the prefix retries over TCP, and the
 * others are dropped. TCP is never limited (a forged source cannot complete
 * a handshake).
 *
 * The table is shared by every worker (a client spread over SO_REUSEPORT
 * sockets is counted once) and fixed in size: keys are hashed with
 * SipHash-2-4 under a random secret into `size` buckets, so an attacker
 * cannot aim at one bucket; two keys that share a bucket share a limit
 * until the older goes idle. Each bucket has its own one-byte spin lock,
 * held for a few instructions; nothing else is shared between workers.
 *
 * A log line is written when a key starts being limited and when it stops
 * (with how many responses were slipped and dropped), at most
 * RRL_LOG_PER_SEC lines per second in all.
 */
#ifndef TIERDNS_RRL_H
#define TIERDNS_RRL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tierdns/answer.h"
#include "tierdns/netio.h"
#include "tierdns/qctx.h"
#include "tierdns/stats.h"
#include "tierdns/status.h"

#define RRL_DEFAULT_SLIP 2
#define RRL_DEFAULT_IPV4_PREFIX 24
#define RRL_DEFAULT_IPV6_PREFIX 56
#define RRL_DEFAULT_SIZE 65536  /* buckets (rounded up to a power of two) */
#define RRL_MAX_SIZE (1u << 24)
#define RRL_LOG_PER_SEC 10

struct tdns_rrl_cfg {
	uint32_t rate;        /* responses per second per key; 0: RRL off */
	uint32_t slip;        /* 0: drop all limited; 1: truncate all; n: every n-th */
	uint8_t ipv4_prefix;  /* 8-32 */
	uint8_t ipv6_prefix;  /* 16-128 */
	uint32_t size;        /* buckets */
};

enum rrl_class {
	RRL_ANSWER = 0,
	RRL_NXDOMAIN,
	RRL_NODATA,
	RRL_REFERRAL,
	RRL_WILDCARD,
	RRL_ERROR,
	RRL_CLASSES_,
};

enum rrl_verdict {
	RRL_PASS = 0, /* send the response */
	RRL_SLIP,     /* send it truncated: TC, no records */
	RRL_DROP,     /* send nothing */
};

/* What one worker counted (its own memory: no sharing on the query path;
 * written by that worker's thread only, read by any with stats_get:
 * stats.h). */
struct rrl_counters {
	tdns_counter slipped;
	tdns_counter dropped;
};

struct tdns_rrl;

/* A table for cfg (rate > 0), with a fresh random secret. */
enum tdns_status rrl_new(const struct tdns_rrl_cfg *cfg, struct tdns_rrl **out);
void rrl_free(struct tdns_rrl *r);

/* The class and name of the response a to q (the name is a name key,
 * name.h, borrowed from q). */
enum rrl_class rrl_classify(const struct tdns_qctx *q, const struct tdns_answer *a,
			    const uint8_t **name, size_t *name_len);

/* Account one UDP response of class cls about name to peer at now_ms
 * (monotonic milliseconds) and say what to do with it. Safe from every
 * worker at once; c is the calling worker's. */
enum rrl_verdict rrl_check(struct tdns_rrl *r, const struct tdns_addr *peer,
			   enum rrl_class cls, const uint8_t *name, size_t name_len,
			   uint64_t now_ms, struct rrl_counters *c);

const char *rrl_class_str(enum rrl_class cls);

/* Keys in a limiting episode at now_ms (their bucket not full again), for
 * statistics: a walk of the whole table taking each bucket's lock, so from
 * a control thread on demand, never on the query path. */
uint64_t rrl_limited_now(struct tdns_rrl *r, uint64_t now_ms);

#endif
