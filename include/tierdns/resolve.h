/*
 * resolve.h - the local tier's query logic: CHAOS, static zones, the cache,
 * then the upstreams. Bytes in, bytes out (STYLE rule 1): the resolver never
 * sees a socket. It reaches the network through a transport (struct
 * tdns_transport: upstream.h is the real one, the unit tests use a fake) and
 * hands deferred answers back through the daemon's client ops.
 *
 * A miss creates an outstanding upstream query keyed by (lower-case qname,
 * qtype, qclass, and CD when validating); identical misses arriving
 * meanwhile wait on that one query instead of sending their own
 * (coalescing, CVE-2020-25686). Each waiting client keeps its own ID,
 * question case, EDNS and size limit.
 *
 * Every upstream attempt gets a fresh token, a fresh ID from the kernel's
 * CSPRNG (getrandom(2), fetched 256 bytes at a time) and (in the real
 * transport) a fresh socket with a random source port. A reply is
 * accepted only if its ID, QR bit, opcode and question (name case-
 * insensitively, type, class) match; anything else is counted and ignored
 * while the attempt keeps waiting (RFC 5452 4, 9); only an error reply
 * may come without a question. TC over UDP is retried over TCP with the
 * same upstream; FORMERR is retried once without EDNS (RFC 6891 7).
 * SERVFAIL, REFUSED, other rcodes (extended ones included), garbage,
 * socket failure and timeouts move on to the next upstream; when none is
 * left or the query's time budget (timeout_ms) is spent, every waiting
 * client gets SERVFAIL.
 *
 * CNAME chasing (RFC 1034 5.3.3 step 3, 4.3.2 step 3a): an accepted
 * NOERROR reply whose CNAME chain from the qname ends at a name with no
 * RRset of qtype and no SOA (the upstream stopped at the edge of its data)
 * makes the resolver ask for (target, qtype) in turn, the way a client
 * query goes (failure cache, static zones, cache, then an upstream query,
 * coalesced), within the first query's time budget. The clients get the
 * chain so far + the target's answer, with the target's rcode and
 * authority (RFC 6604); the whole is cached under the question, the
 * target's answer under its own. At most 8 CNAMEs in all are followed; a
 * loop (a name twice on the chain, within one reply or across replies)
 * and a longer chain are SERVFAIL and not cached; a failed target lookup
 * is SERVFAIL. Not for qtype CNAME or ANY.
 *
 * Stub zones (policy.h POLICY_FWD_STUB): the zone's servers are asked with
 * RD clear. A referral from one of them to a zone delegated within the
 * stub zone (referral.h has the rules: closer each time, glue within the
 * delegated zone, at most 8) is followed: the delegated zone's servers, at
 * their glue addresses on port 53, are asked the same question through
 * transport.send_to, one after the other as upstreams are (an even share
 * of the budget left each, 0x20 as configured), within the query's
 * budget, but with no health kept for them (they are none of the
 * upstreams, infra.h); their answer is cached as the stub server's would
 * be. A referral that is not followed moves on to the next server of the
 * set that gave it; after the last one the query fails (SERVFAIL, reason
 * "referral", logged with referral.h's text).
 *
 * DNSSEC validation (cfg.anchors, validate.h): upstream queries set DO,
 * and CD for a client's CD=1 miss, and for the CNAME targets, DNSKEYs
 * and DS its answer needs. CD is part of the coalescing key: a CD=1 miss
 * never joins a CD=0 upstream query nor the other way round (from a
 * validating upstream one gets bogus data, the other SERVFAIL). Every accepted NOERROR/NXDOMAIN answer of class IN is judged before
 * it is cached or sent: the DNSKEY and DS answers the verdict needs are
 * asked for the way a chased CNAME target is (cache, coalesced upstream
 * queries, each judged in turn), within the first query's budget; a
 * fetch that fails makes the answer bogus (EDE 9 DNSKEY Missing where the
 * key was needed, as Unbound; the failed fetch and its reason logged:
 * chain.h chain_failed). The verdict is stored with the
 * value (cache.h): bogus ones for at most 60 s, logged with their
 * reason; secure ones no longer than their signatures last or their
 * Original TTL (validate.h until, RFC 4035 5.3.3), the served TTLs cut
 * alike; cache.h turns it into AD or SERVFAIL per client. A cached
 * entry whose verdict does not fit the configuration (unchecked with
 * validation on, judged with it off) is a miss.
 *
 * AXFR and IXFR are answered REFUSED at once (RFC 5936 4.2; tierdns-local
 * is the transfer source of no zone), never forwarded.
 *
 * Hardening (issue 4):
 *  - Failover. Each upstream has a smoothed RTT, a count of failures in a
 *    row and a backoff. An attempt gets an even share of the budget left
 *    among the upstreams still to try (at least 250 ms; the last one gets
 *    all that is left); with others left, at most 4 x RTT (at least
 *    500 ms) once the RTT is known, and at most 2 x RTT (at least 250 ms)
 *    after a failure. Silence, socket failures and garbage count against
 *    an upstream (an error rcode does not: the server is alive); after 2
 *    in a row it is dead: skipped while a later upstream is usable, and
 *    after a backoff of 1 s doubling to 60 s one query at a time probes
 *    it (an answer revives it). A dead upstream with no usable one after
 *    it is still asked (when all are down, the first answer ends the
 *    outage, not the next probe).
 *  - Failure cache (RFC 9520 3.2): a question whose resolution failed is
 *    answered SERVFAIL from memory for 5 s, doubling for failures that
 *    recur soon after, up to 5 min; a fixed table per resolver (bounded
 *    memory; a full set forgets the entry nearest its end). An answer for
 *    the question clears it.
 *  - Serve-stale (RFC 8767), cfg.serve_stale: when the query fails, or
 *    1.8 s after it started (the client-response timer, RFC 8767 5), an
 *    entry expired at most stale_ttl seconds ago answers with TTL 30 for
 *    its expired records; the upstream query goes on and refreshes the
 *    cache (one per question: coalescing). The cache must keep expired
 *    entries that long (cache.h keep_stale).
 *  - Extended DNS Errors (RFC 8914) for clients that sent EDNS: 22 No
 *    Reachable Authority (timeouts, dead or refusing upstreams), 23
 *    Network Error (sockets, garbage), 13 Cached Error (failure cache),
 *    3 Stale Answer, 18 Prohibited (resolver_refuse), 0 Other (local
 *    overload). Every SERVFAIL's reason is logged, at most 5 lines a
 *    second, the rest counted.
 *  - Prefetch (cfg.prefetch, Unbound's prefetch): a cache hit on an entry
 *    in the last tenth of the TTL it was stored with is answered from the
 *    cache and starts one upstream query for the question with no client
 *    waiting (none when one is already out: coalescing, nor when the
 *    failure cache remembers the question or max_outstanding is reached);
 *    its answer replaces the entry. Off: one test of a flag per hit.
 *  - 0x20 (cfg.use_0x20): the question's letters go out in random case
 *    (getrandom) and a reply must echo it byte for byte; an upstream that
 *    answers with another case is asked again without 0x20 and is never
 *    sent 0x20 again.
 *  - Bounds: a reply whose header counts more than max_records records is
 *    garbage, before any parsing.
 *
 * Threading: a resolver belongs to one thread (one event loop). All entry
 * points below and all callbacks happen on that thread. Callbacks must not
 * call back into the resolver, except transport.done which may be called
 * while the transport is inside resolver_on_reply.
 */
#ifndef TIERDNS_RESOLVE_H
#define TIERDNS_RESOLVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tierdns/auth.h"
#include "tierdns/anchor.h"
#include "tierdns/cache.h"
#include "tierdns/cookie.h"
#include "tierdns/infra.h"
#include "tierdns/stats.h"
#include "tierdns/netio.h"
#include "tierdns/status.h"
#include "tierdns/store.h"

struct tdns_resolver;
struct tdns_policy_box;

/* How the resolver reaches its upstreams. */
struct tdns_transport {
	/* Send msg (copy it; valid only during the call) to upstream number
	 * `upstream` (0 .. n_upstream-1), over TCP (2-byte framing) when tcp,
	 * as the attempt `token`. Messages received for it are delivered with
	 * resolver_on_reply(r, token, msg, len); a socket failure or a closed
	 * TCP connection with resolver_on_reply(r, token, NULL, 0). A non-OK
	 * return makes the resolver try the next upstream. */
	enum tdns_status (*send)(void *ctx, uint64_t token, unsigned upstream,
				 bool tcp, const uint8_t *msg, size_t len);
	/* The same to a server that is none of the upstreams, at addr
	 * (copied): a name server that a stub zone's server referred to
	 * (referral.h). Its replies come back as send's do. NULL: such
	 * servers cannot be asked (every attempt at one fails). */
	enum tdns_status (*send_to)(void *ctx, uint64_t token, const struct tdns_addr *addr,
				    bool tcp, const uint8_t *msg, size_t len);
	/* The attempt `token` is over: release its socket. No
	 * resolver_on_reply for this token may follow. */
	void (*done)(void *ctx, uint64_t token);
	/* Call resolver_tick once the monotonic clock (clock.h clock_mono_ms)
	 * reaches deadline_ms; replaces the previous request. UINT64_MAX:
	 * nothing is pending. */
	void (*wake)(void *ctx, uint64_t deadline_ms);
	void *ctx;
};

/* The daemon's side of a deferred client. */
struct tdns_client_ops {
	/* Turn the request handle passed to resolver_query into one that
	 * outlives that call (netio_request_hold). NULL when out of memory:
	 * the resolver then answers SERVFAIL at once. */
	void *(*hold)(void *ctx, void *request);
	/* Deliver the answer to a held client and release the handle. msg is
	 * valid only during the call; msg NULL (len 0) means no answer will
	 * ever come (resolver_free): release the handle without sending. */
	void (*answer)(void *ctx, void *held, const uint8_t *msg, size_t len);
	/* Put the per-client EDNS options (a server cookie, cookie.h; the
	 * RFC 7828 idle timeout) into the answer a to the query q of request
	 * (the one passed to resolver_query, or a held handle). Called for
	 * every answer to a QUERY with a handle; NULL: none. */
	void (*edns)(void *ctx, void *request, const struct tdns_qctx *q,
		     struct tdns_answer *a);
	/* Answer the NOTIFY q of request (RFC 1996; the local takes them for
	 * the response policy zones it transfers, secondary.h). NULL: NOTIFY
	 * is NOTIMP, as every opcode but QUERY. */
	void (*notify)(void *ctx, void *request, const struct tdns_qctx *q,
		       struct tdns_answer *a);
	void *ctx;
};

struct tdns_resolver_cfg {
	struct tdns_store *store;      /* static zones + cache; borrowed */
	struct tdns_auth_cfg chaos;    /* CHAOS TXT answers (strings borrowed) */
	struct tdns_cache_cfg cache;   /* TTL caps */
	/* upstream i's address, for log lines (NULL: they say "#i" only) */
	const struct tdns_addr *upstream_addrs;
	unsigned n_upstream;           /* >= 1 */
	unsigned timeout_ms;           /* whole budget of a miss; 0 = 2000 */
	unsigned max_outstanding;      /* upstream queries at once; 0 = 1024 */
	unsigned max_waiters;          /* clients per upstream query; 0 = 64 */
	bool serve_stale;              /* RFC 8767, see below */
	uint32_t stale_ttl;            /* how long past expiry; 0 = 86400 s */
	bool use_0x20;                 /* randomise the upstream question's case */
	bool prefetch;                 /* refresh entries asked in their last
					* tenth, see below */
	const struct tdns_anchors *anchors; /* DNSSEC validation (anchor.h,
					* validate.h) with these trust anchors;
					* NULL: off. Borrowed, read-only */
	bool aggressive_nsec;          /* with anchors: NXDOMAIN synthesized
					* from validated NSEC answers (RFC
					* 8198, negcache.h), before asking
					* upstream; CD=1 misses are not */
	unsigned packet_cache;         /* replies to cache hits kept for
					* replay, per resolver (replycache.h);
					* 0: none */
	unsigned max_records;          /* records per upstream reply; 0 = 512,
					* at most MSG_RR_MAX (msg.h) */
	struct tdns_infra *infra;      /* upstream health shared by the
					* resolvers of all workers (infra.h,
					* n_upstream entries; borrowed, must
					* outlive them); NULL: this resolver
					* keeps its own */
	struct tdns_policy_box *policy; /* local data and per-domain
					 * upstreams (policy.h; borrowed, must
					 * outlive the resolver); NULL: none,
					 * every question to every upstream */
	struct tdns_transport transport;
	struct tdns_client_ops client;
};

enum resolver_verdict {
	RESOLVER_REPLY = 0, /* the answer is in out[0..*out_len) */
	RESOLVER_DROP,      /* send nothing (not a query, RFC 1035 4.1.1) */
	RESOLVER_DEFER,     /* the client was held (client.hold); exactly one
			     * client.answer call follows for it */
};

/* Why a client was answered SERVFAIL (the resolver's failure kinds, as its
 * log lines name them, and a DNSSEC bogus answer). */
enum resolver_servfail {
	RESOLVER_SF_TIMEOUT = 0, /* no upstream answered in time */
	RESOLVER_SF_DEAD,        /* no upstream could be asked (the last of a
	                          * set is asked even when marked dead) */
	RESOLVER_SF_NETWORK,     /* socket failure, no upstream took it */
	RESOLVER_SF_TLS_AUTH,    /* a DoT upstream's certificate failed */
	RESOLVER_SF_RCODE,       /* the upstream said SERVFAIL, REFUSED, ... */
	RESOLVER_SF_GARBAGE,     /* malformed or oversized upstream reply */
	RESOLVER_SF_OVERLOAD,    /* max_outstanding / max_waiters */
	RESOLVER_SF_CACHED,      /* the failure cache (RFC 9520) */
	RESOLVER_SF_LOOP,        /* a CNAME loop */
	RESOLVER_SF_CHAIN,       /* a CNAME chain too long */
	RESOLVER_SF_INTERNAL,    /* out of memory and the like */
	RESOLVER_SF_STORE,       /* the local store failed */
	RESOLVER_SF_REFERRAL,    /* a stub zone's server referred further */
	RESOLVER_SF_BOGUS,       /* DNSSEC validation failed (validate.h) */
	RESOLVER_SF_COUNT
};
_Static_assert(RESOLVER_SF_COUNT == STATS_SERVFAIL_COUNT, "stats.h SERVFAIL reasons");

/* Its name in statistics ("timeout", "dead", ...). */
const char *resolver_servfail_name(unsigned why);

/* Written by the resolver's thread only, readable from any thread with
 * stats_get (stats.h has the contract). */
struct tdns_resolver_stats {
	tdns_counter static_answers;   /* answered from the static zones */
	tdns_counter cache_hits;
	tdns_counter replays;          /* of those, sent from the packet cache */
	tdns_counter misses;           /* queries that waited on an upstream */
	tdns_counter coalesced;        /* of those, joined to an outstanding query */
	tdns_counter prefetched;       /* hits that started a prefetch query */
	tdns_counter upstream_sent;    /* attempts sent (UDP and TCP) */
	tdns_counter upstream_ignored; /* replies dropped: ID/QR/opcode/question */
	tdns_counter upstream_failed;  /* attempts ended: bad rcode, garbage, socket */
	tdns_counter upstream_timeouts;
	tdns_counter tcp_retries;      /* TC over UDP, retried over TCP */
	tdns_counter cache_stored;
	tdns_counter cache_errors;     /* store failures (the answer still goes out) */
	tdns_counter servfail;         /* SERVFAIL answers given to clients */
	tdns_counter servfail_why[RESOLVER_SF_COUNT]; /* the same by reason */
	tdns_counter dnssec[STATS_DNSSEC_COUNT]; /* verdicts by enum
						  * valid_status (cache.h)
						  * of validated answers */
	tdns_counter overload;         /* refused by max_outstanding / max_waiters */
	tdns_counter refused_acl;      /* clients refused by the access list */
	tdns_counter upstream_skipped; /* dead upstreams passed over */
	tdns_counter upstream_probes;  /* attempts probing a dead upstream */
	tdns_counter upstream_dead;    /* upstreams declared dead */
	tdns_counter upstream_oversized; /* replies over max_records */
	tdns_counter fallback_0x20;    /* upstreams found not to echo the case */
	tdns_counter failcache_hits;   /* SERVFAIL from the failure cache */
	tdns_counter stale_answers;    /* expired entries served (RFC 8767) */
	tdns_counter servfail_logged;  /* SERVFAIL reasons logged */
	tdns_counter log_suppressed;   /* ... and left out by the rate limit */
	tdns_counter upstream_answers; /* clients answered from an upstream */
	struct cookie_counters cookies; /* clients' COOKIEs as client.edns
					 * judged them (cookie.h), once a query */
	/* Per upstream (all: STATS_MAX_UPSTREAM): attempts sent, answered
	 * (any reply that kept it alive), timed out, and the sum of the RTTs
	 * of the answered ones in ms. */
	tdns_counter up_sent[STATS_MAX_UPSTREAM];
	tdns_counter up_answered[STATS_MAX_UPSTREAM];
	tdns_counter up_timeouts[STATS_MAX_UPSTREAM];
	tdns_counter up_rtt_ms[STATS_MAX_UPSTREAM];
};

/* Create a resolver; the cfg is copied. *out owned by the caller
 * (resolver_free). TDNS_EINVAL for a missing store, callback or upstream. */
enum tdns_status resolver_new(const struct tdns_resolver_cfg *cfg,
			      struct tdns_resolver **out);

/* Release every outstanding query: transport.done for each open attempt,
 * client.answer(NULL) for each waiting client. NULL is allowed. */
void resolver_free(struct tdns_resolver *r);

/*
 * Handle one client query in[0..len) that came over transport (TCP and
 * TLS: no size limit on the answer; TLS: padded, encode.h). out must hold DNS_MSG_MAX bytes. `request` is the
 * daemon's handle, passed to client.hold only when the answer is deferred.
 * Every reply has RA set (RFC 1035 4.1.1); the local tier always recurses.
 */
enum resolver_verdict resolver_query(struct tdns_resolver *r, const uint8_t *in,
				     size_t len, enum qctx_transport transport,
				     void *request,
				     uint8_t *out, size_t cap, size_t *out_len);

/*
 * Answer a client the access list denies (tierdns-local is not an open
 * resolver, RFC 5358 4): REFUSED with Extended DNS Error 18 "Prohibited"
 * (RFC 8914 4.19) when the query carried EDNS. A packet that is not a
 * well-formed query gets no reply at all (nothing to reflect).
 */
enum resolver_verdict resolver_refuse(struct tdns_resolver *r, const uint8_t *in,
				      size_t len, enum qctx_transport transport,
				      uint8_t *out,
				      size_t cap, size_t *out_len);

/* A message (or, with msg NULL, a failure) from the transport for attempt
 * token. Stale tokens are ignored. */
void resolver_on_reply(struct tdns_resolver *r, uint64_t token,
		       const uint8_t *msg, size_t len);

/* A failure of attempt token the transport can name, with the errno of
 * the system call that failed (0: none; resolver_on_reply with NULL is
 * RESOLVER_FAIL_NETWORK without one). Stale tokens are ignored. */
enum resolver_failure {
	RESOLVER_FAIL_NETWORK = 0, /* socket, connection, TLS session */
	RESOLVER_FAIL_TLS_AUTH,    /* the DoT upstream's certificate failed
				    * verification (RFC 8310 strict) */
};
void resolver_on_failure(struct tdns_resolver *r, uint64_t token,
			 enum resolver_failure why, int err);

/*
 * Commit the answers that came since the last call to the cache, in one
 * write transaction, then send them to their clients. An answer that is
 * to be cached goes out only after its commit ("acknowledged => cached":
 * it survives a crash of the daemon), and one commit per batch instead of
 * one per answer is most of what a miss costs. The daemon calls this once
 * per event-loop iteration, after the events of one epoll_wait and before
 * it waits again (netio_loop_set_flush); answers that are not cached
 * (failures, TTL 0, class other than IN) do not wait for it. Every user of
 * a resolver MUST call it: a query whose answer waits for its commit has
 * no deadline, so without a flush its clients are never answered.
 */
void resolver_flush(struct tdns_resolver *r);

/* A batch of client queries begins (begin true) or ends (false): the
 * queries in between share one read snapshot of the store, renewed once
 * per batch instead of once per query (netio on_batch; tierdns-upper does
 * the same). Outside a batch every query takes the latest snapshot. */
void resolver_batch(struct tdns_resolver *r, bool begin);

/* Expire attempts whose deadline is <= now_ms (monotonic milliseconds). */
void resolver_tick(struct tdns_resolver *r, uint64_t now_ms);

/* The earliest attempt deadline, UINT64_MAX when nothing is outstanding. */
uint64_t resolver_next_deadline(const struct tdns_resolver *r);

/* Forget a held client (its TCP connection went away) without answering
 * it; the upstream query goes on for the others and for the cache. Returns
 * false if the handle is not waiting here. The caller releases the handle. */
bool resolver_cancel(struct tdns_resolver *r, void *held);

/* The cache was flushed (cache.h cache_flush) by another thread: before
 * it next consults its failure cache, the resolver forgets every failure
 * it remembers, so that no flushed question is answered SERVFAIL from
 * memory. The only entry point that any thread may call. */
void resolver_cache_flushed(struct tdns_resolver *r);

/* Number of upstream queries outstanding. */
size_t resolver_outstanding(const struct tdns_resolver *r);

/* Counters since resolver_new (borrowed, valid until resolver_free; read
 * them with stats_get from other threads). */
const struct tdns_resolver_stats *resolver_stats(const struct tdns_resolver *r);

#endif
