/*
 * fuzz.h - what the libFuzzer targets in tests/fuzz/ share.
 *
 * Every target defines LLVMFuzzerTestOneInput and sets itself up lazily on
 * its first input, so the same object links into two programs: the fuzzer
 * (clang, -fsanitize=fuzzer, built with -DFUZZ=ON) and a replay program
 * (replay.c, any compiler) that ctest runs over the committed seed corpus
 * tests/fuzz/corpus/<target>/.
 *
 * A failed check calls abort(): both libFuzzer and the replay program then
 * stop with the input that caused it.
 */
#ifndef TIERDNS_FUZZ_H
#define TIERDNS_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ldns/ldns.h>

#include "tierdns/cache.h"
#include "tierdns/resolve.h"
#include "tierdns/store.h"

/* The epoch second every target's fake clock is fixed at. */
#define FUZZ_T0 1700000000u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort with a message when cond is false (kept in release builds). */
#define FUZZ_CHECK(cond)                                                   \
	do {                                                               \
		if (!(cond))                                               \
			fuzz_fail(__FILE__, __LINE__, #cond);              \
	} while (0)
void fuzz_fail(const char *file, int line, const char *what)
	__attribute__((noreturn));

/* True when TDNS_FUZZ_VERBOSE is set: targets then log at debug level and
 * say what each input did (to check that the seeds reach their paths). */
bool fuzz_verbose(void);

/* Quiet logging, fake clock at FUZZ_T0. Called by every target once. */
void fuzz_init(void);

/* A fresh store in a new temporary directory (removed at exit), without
 * fsync per commit, with each zone text of the NULL-terminated list zones
 * (may be NULL) loaded through zoneload_string. Aborts on failure: a target cannot run without it. The
 * store is closed at exit. */
struct tdns_store *fuzz_store_new(const char *const *zones);

/* Check a reply the server is about to send to the query in[0..in_len):
 * it parses with ldns, has QR set and the query's ID, and fits the
 * transport (RFC 1035 4.2.1: over UDP at most our EDNS payload size). */
void fuzz_check_reply(const uint8_t *in, size_t in_len, const uint8_t *out,
		      size_t out_len, bool tcp);

/*
 * The fake network of the resolver targets: a transport that records what
 * the resolver sends (each message must be a well-formed query) and a
 * daemon side whose held clients are the address of `client`.
 */
#define FUZZ_NET_SENT 8
#define FUZZ_NET_MSG 1024

struct fuzz_sent {
	uint64_t token;
	unsigned upstream;
	bool tcp;
	bool done;
	uint8_t msg[FUZZ_NET_MSG];
	size_t len;
};

struct fuzz_net {
	struct fuzz_sent sent[FUZZ_NET_SENT];
	size_t n_sent;
	/* the client query being answered, for fuzz_check_reply */
	const uint8_t *query;
	size_t query_len;
	bool query_tcp;
	int client;       /* its address is the request handle */
	size_t answers;   /* client.answer calls with a message */
	uint8_t last[65535]; /* the last answer given (WIRE_MAX_MSG) */
	size_t last_len;
	size_t released;  /* client.answer calls without one */
};

/* A resolver on store s (its static zones and cache) with n_upstream fake
 * upstreams, the cache TTL caps of the daemon's defaults, net cleared.
 * hardened: also 0x20 case randomisation, serve-stale and a low cap of 64
 * records per upstream reply. */
struct tdns_resolver *fuzz_resolver_new(struct fuzz_net *net,
					struct tdns_store *s,
					unsigned n_upstream, bool hardened);

/* cache_insert (tests/support/oracle.h) of a reply held as an ldns packet (the targets
 * seed their caches with ldns-built replies): written to wire
 * (uncompressed), parsed with msg_parse as the resolver reads replies. */
enum tdns_status fuzz_cache_insert(struct tdns_store *s,
				   const struct tdns_cache_cfg *cfg,
				   const ldns_rdf *qname, uint16_t qtype,
				   const ldns_pkt *resp, uint64_t now);

/* The newest attempt the resolver has not closed, or NULL. */
struct fuzz_sent *fuzz_net_open(struct fuzz_net *net);

#endif
