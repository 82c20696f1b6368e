/*
 * fuzz_util.c - temporary stores and reply checks for the fuzz targets.
 */
#include "fuzz.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "tierdns/clock.h"
#include "tierdns/log.h"
#include "tierdns/msg.h"
#include "oracle.h"
#include "tierdns/zoneload.h"

#define FUZZ_MAX_STORES 4

static struct {
	struct tdns_store *store;
	char dir[64];
} stores[FUZZ_MAX_STORES];
static size_t n_stores;

void fuzz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
	abort();
}

bool fuzz_verbose(void)
{
	static int verbose = -1;

	if (verbose < 0)
		verbose = getenv("TDNS_FUZZ_VERBOSE") != NULL;
	return verbose != 0;
}

void fuzz_init(void)
{
	log_init("fuzz", fuzz_verbose() ? TDNS_LOG_DEBUG : TDNS_LOG_ERR);
	clock_set_fake(FUZZ_T0);
}

static int rm_entry(const char *path, const struct stat *sb, int flag,
		    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void stores_release(void)
{
	for (size_t i = 0; i < n_stores; i++) {
		store_close(stores[i].store);
		stores[i].store = NULL;
		nftw(stores[i].dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	}
	n_stores = 0;
}

struct tdns_store *fuzz_store_new(const char *const *zones)
{
	struct tdns_store_opts opts = { .map_size = 64u << 20,
					.flags = STORE_NOSYNC };
	char err[ZONELOAD_ERR_MAX] = "";
	enum tdns_status st;

	FUZZ_CHECK(n_stores < FUZZ_MAX_STORES);
	if (n_stores == 0)
		atexit(stores_release);
	strcpy(stores[n_stores].dir, "/tmp/tdns-fuzz-XXXXXX");
	FUZZ_CHECK(mkdtemp(stores[n_stores].dir) != NULL);
	st = store_open(stores[n_stores].dir, &opts, &stores[n_stores].store);
	if (st != TDNS_OK) {
		fprintf(stderr, "store_open %s: %s\n", stores[n_stores].dir,
			tdns_strerror(st));
		abort();
	}
	n_stores++;
	for (size_t i = 0; zones != NULL && zones[i] != NULL; i++) {
		st = zoneload_string(stores[n_stores - 1].store, zones[i], err,
				     sizeof(err));
		if (st != TDNS_OK) {
			fprintf(stderr, "seed zone: %s: %s\n", tdns_strerror(st),
				err);
			abort();
		}
	}
	return stores[n_stores - 1].store;
}

void fuzz_check_reply(const uint8_t *in, size_t in_len, const uint8_t *out,
		      size_t out_len, bool tcp)
{
	ldns_pkt *p = NULL;

	FUZZ_CHECK(out_len >= WIRE_HDR_LEN);
	FUZZ_CHECK(out_len <= WIRE_MAX_MSG);
	if (!tcp)
		FUZZ_CHECK(out_len <= WIRE_EDNS_OUR_SIZE);
	FUZZ_CHECK(in_len >= 2 && out[0] == in[0] && out[1] == in[1]);
	FUZZ_CHECK((out[2] & 0x80) != 0); /* QR */
	if (ldns_wire2pkt(&p, out, out_len) != LDNS_STATUS_OK) {
		fprintf(stderr, "reply of %zu bytes does not parse\n", out_len);
		abort();
	}
	ldns_pkt_free(p);
}

/* Every message the resolver sends upstream must be a query (QR clear, one
 * question) that parses: it is our output. */
static enum tdns_status net_send(void *ctx, uint64_t token, unsigned upstream,
				 bool tcp, const uint8_t *msg, size_t len)
{
	struct fuzz_net *net = ctx;
	struct fuzz_sent *s;
	ldns_pkt *p = NULL;

	FUZZ_CHECK(len >= WIRE_HDR_LEN && len <= FUZZ_NET_MSG);
	FUZZ_CHECK(ldns_wire2pkt(&p, msg, len) == LDNS_STATUS_OK);
	FUZZ_CHECK(!ldns_pkt_qr(p) && ldns_pkt_qdcount(p) == 1);
	ldns_pkt_free(p);
	if (net->n_sent == FUZZ_NET_SENT)
		return TDNS_ENET; /* as a socket failure: try the next one */
	s = &net->sent[net->n_sent++];
	s->token = token;
	s->upstream = upstream;
	s->tcp = tcp;
	s->done = false;
	memcpy(s->msg, msg, len);
	s->len = len;
	return TDNS_OK;
}

static void net_done(void *ctx, uint64_t token)
{
	struct fuzz_net *net = ctx;

	for (size_t i = 0; i < net->n_sent; i++)
		if (net->sent[i].token == token)
			net->sent[i].done = true;
}

static void net_wake(void *ctx, uint64_t deadline_ms)
{
	(void)ctx;
	(void)deadline_ms;
}

static void *net_hold(void *ctx, void *request)
{
	(void)ctx;
	return request;
}

static void net_answer(void *ctx, void *held, const uint8_t *msg, size_t len)
{
	struct fuzz_net *net = ctx;

	FUZZ_CHECK(held == &net->client);
	if (msg == NULL) {
		net->released++;
		return;
	}
	net->answers++;
	FUZZ_CHECK(net->query != NULL);
	fuzz_check_reply(net->query, net->query_len, msg, len, net->query_tcp);
	FUZZ_CHECK(len <= sizeof(net->last));
	memcpy(net->last, msg, len);
	net->last_len = len;
}

struct tdns_resolver *fuzz_resolver_new(struct fuzz_net *net,
					struct tdns_store *s,
					unsigned n_upstream, bool hardened)
{
	struct tdns_resolver_cfg cfg;
	struct tdns_resolver *r = NULL;

	memset(net, 0, sizeof(*net));
	memset(&cfg, 0, sizeof(cfg));
	cfg.store = s;
	cfg.chaos.version = "tierdns fuzz";
	cfg.chaos.identity = "fuzz";
	cfg.cache.max_ttl = 86400;
	cfg.cache.max_neg_ttl = 3600;
	cfg.n_upstream = n_upstream;
	cfg.timeout_ms = 2000;
	cfg.use_0x20 = hardened;
	cfg.serve_stale = hardened;
	cfg.max_records = hardened ? 64 : 0;
	cfg.packet_cache = 64; /* as the daemon: replies are kept */
	cfg.transport.send = net_send;
	cfg.transport.done = net_done;
	cfg.transport.wake = net_wake;
	cfg.transport.ctx = net;
	cfg.client.hold = net_hold;
	cfg.client.answer = net_answer;
	cfg.client.ctx = net;
	FUZZ_CHECK(resolver_new(&cfg, &r) == TDNS_OK);
	return r;
}

struct fuzz_sent *fuzz_net_open(struct fuzz_net *net)
{
	for (size_t i = net->n_sent; i > 0; i--)
		if (!net->sent[i - 1].done)
			return &net->sent[i - 1];
	return NULL;
}

enum tdns_status fuzz_cache_insert(struct tdns_store *s,
				   const struct tdns_cache_cfg *cfg,
				   const ldns_rdf *qname, uint16_t qtype,
				   const ldns_pkt *resp, uint64_t now)
{
	static struct tdns_msg m;
	ldns_buffer *b = ldns_buffer_new(LDNS_MAX_PACKETLEN);
	enum tdns_status st = TDNS_ENOMEM;

	/* Uncompressed: ldns compresses names that differ in case. */
	if (b != NULL && ldns_pkt2buffer_wire_compress(b, resp, NULL) == LDNS_STATUS_OK)
		st = msg_parse(&m, ldns_buffer_begin(b), ldns_buffer_position(b)) == MSG_OK
			     ? cache_insert(s, cfg, ldns_rdf_data(qname),
					    ldns_rdf_size(qname), qtype, &m, now)
			     : TDNS_EINVAL;
	ldns_buffer_free(b);
	return st;
}
