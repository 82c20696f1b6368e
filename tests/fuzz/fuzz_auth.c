/*
 * fuzz_auth.c - the upper tier's whole query path, auth_answer(): wire in,
 * wire out, against a small store seeded once with the zones below (every
 * branch of RFC 1034 4.3.2: answers, CNAME chains in and out of the zone,
 * NXDOMAIN, NODATA, empty non-terminals, wildcards (RFC 4592), a referral
 * with glue, a nested zone) and the CHAOS names.
 *
 * Two signed zones (made-up signatures: the server never checks them)
 * take the DNSSEC paths: signed. with an NSEC chain, hashed. with an NSEC3
 * chain (real SHA-1 hashes, no salt, 0 iterations, opt-out) holding an
 * insecure and a secure delegation, a wildcard and empty non-terminals.
 *
 * The input is the query exactly as received. Bit 0 of its first byte (the
 * low bit of the ID's high byte, which changes no answer) picks UDP or TCP,
 * so both truncation paths are reached without another input format; bit
 * 1 appends an OPT with DO set (RFC 3225), so half the inputs ask for
 * DNSSEC (a query that has an OPT already then has two: FORMERR).
 * Every reply must parse, carry the query's ID and fit the transport, and
 * be the same byte for byte when the zone is found through a worker's
 * zone list (zonedb_cache) instead of the store.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "tierdns/auth.h"
#include "tierdns/zonedb.h"
#include "oracle.h"

/* Kept in step with tests/fuzz/make_corpus.py, which asks these names. */
static const char *const zones[] = {
	"$ORIGIN example.\n"
	"$TTL 3600\n"
	"@ IN SOA ns1 hostmaster 2024010101 7200 900 1209600 300\n"
	"@ NS ns1\n"
	"@ NS ns2.example.net.\n"
	"@ MX 10 mail\n"
	"@ TXT \"v=spf1 -all\"\n"
	"ns1 A 192.0.2.53\n"
	"ns1 AAAA 2001:db8::53\n"
	"www A 192.0.2.1\n"
	"www A 192.0.2.2\n"
	"www AAAA 2001:db8::1\n"
	"mail A 192.0.2.25\n"
	"alias CNAME www\n"
	"chain CNAME alias\n"
	"out CNAME www.example.net.\n"
	"loop1 CNAME loop2\n"
	"loop2 CNAME loop1\n"
	"*.wild A 192.0.2.99\n"
	"*.wild TXT \"wildcard\"\n"
	"a.b.c.ent A 192.0.2.7\n"
	"_sip._udp SRV 10 60 5060 www\n"
	/* one RRset of about 900 bytes: UDP answers without EDNS truncate */
	"big TXT \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"\n"
	"big TXT \"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\"\n"
	"big TXT \"cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
	"cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
	"cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\"\n"
	"big TXT \"dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
	"dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
	"dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd\"\n"
	"sub NS ns.sub\n"
	"sub NS ns.elsewhere.net.\n"
	"ns.sub A 192.0.2.200\n"
	"ns.sub AAAA 2001:db8::200\n"
	"unk TYPE65280 \\# 4 deadbeef\n",
	"$ORIGIN deep.example.\n"
	"$TTL 600\n"
	"@ IN SOA ns1.deep.example. hostmaster.deep.example. 7 3600 600 86400 60\n"
	"@ NS ns1\n"
	"ns1 A 192.0.2.77\n"
	"host A 192.0.2.78\n"
	"cname-up CNAME www.example.\n",
#define SIG(cov, lab, ttl) " RRSIG " cov " 13 " lab " " ttl \
	" 20300101000000 20200101000000 1 "
	"$ORIGIN signed.\n"
	"$TTL 300\n"
	"@ SOA ns hm 1 7200 900 1209600 60\n"
	"@" SIG("SOA", "1", "300") "signed. c29h\n"
	"@ NS ns\n"
	"@" SIG("NS", "1", "300") "signed. bnMx\n"
	"@ DNSKEY 257 3 13 a2V5a2V5\n"
	"@" SIG("DNSKEY", "1", "300") "signed. a2V5\n"
	"@ 60 NSEC a.ent NS SOA RRSIG NSEC DNSKEY\n"
	"@ 60" SIG("NSEC", "1", "60") "signed. bjAx\n"
	"a.ent A 192.0.2.4\n"
	"a.ent" SIG("A", "3", "300") "signed. ZW50\n"
	"a.ent 60 NSEC kid A RRSIG NSEC\n"
	"a.ent 60" SIG("NSEC", "3", "60") "signed. bjAy\n"
	"kid NS ns.kid\n"
	"kid DS 1 13 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
	"kid" SIG("DS", "2", "300") "signed. ZHNz\n"
	"ns.kid A 192.0.2.6\n"
	"kid 60 NSEC ns NS DS RRSIG NSEC\n"
	"kid 60" SIG("NSEC", "2", "60") "signed. bjAz\n"
	"ns A 192.0.2.1\n"
	"ns" SIG("A", "2", "300") "signed. bnNh\n"
	"ns 60 NSEC *.w A RRSIG NSEC\n"
	"ns 60" SIG("NSEC", "2", "60") "signed. bjA0\n"
	"*.w A 192.0.2.3\n"
	"*.w" SIG("A", "2", "300") "signed. d2xk\n"
	"*.w 60 NSEC www A RRSIG NSEC\n"
	"*.w 60" SIG("NSEC", "2", "60") "signed. bjA1\n"
	"www A 192.0.2.2\n"
	"www" SIG("A", "2", "300") "signed. d3d3\n"
	"www 60 NSEC signed. A RRSIG NSEC\n"
	"www 60" SIG("NSEC", "2", "60") "signed. bjA2\n",
#define N3(h, next, types) h " 60 NSEC3 1 1 0 - " next " " types "\n" \
	h " 60" SIG("NSEC3", "2", "60") "hashed. bjMx\n"
	"$ORIGIN hashed.\n"
	"$TTL 300\n"
	"@ SOA ns hm 1 7200 900 1209600 60\n"
	"@" SIG("SOA", "1", "300") "hashed. c29h\n"
	"@ NS ns.signed.\n"
	"@" SIG("NS", "1", "300") "hashed. bnMx\n"
	"@ NSEC3PARAM 1 0 0 -\n"
	"@" SIG("NSEC3PARAM", "1", "300") "hashed. cGFy\n"
	"www A 192.0.2.2\n"
	"www" SIG("A", "2", "300") "hashed. d3d3\n"
	"*.w A 192.0.2.3\n"
	"*.w" SIG("A", "2", "300") "hashed. d2xk\n"
	"a.ent A 192.0.2.4\n"
	"a.ent" SIG("A", "3", "300") "hashed. ZW50\n"
	"deleg NS ns.deleg\n"
	"ns.deleg A 192.0.2.5\n"
	"secure NS ns.secure\n"
	"secure DS 1 13 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
	"secure" SIG("DS", "2", "300") "hashed. ZHNz\n"
	"ns.secure A 192.0.2.6\n"
	N3("3ko8bqb9rhp7gih03mti57l928flrutb", "5s3l3nfi4tsdabq0o4i5l1i2ipe79qpm", "A RRSIG")
	N3("5s3l3nfi4tsdabq0o4i5l1i2ipe79qpm", "dm0ji90lq6gkaig3nm8emfls57gkfnct",
	   "NS SOA RRSIG NSEC3PARAM")
	N3("dm0ji90lq6gkaig3nm8emfls57gkfnct", "e41m4hfactvfspp8p2mq8ma88t6bsf7b", "")
	N3("e41m4hfactvfspp8p2mq8ma88t6bsf7b", "ma81joh24bshlkh92ao1eq6esvvmstaa", "NS DS RRSIG")
	N3("ma81joh24bshlkh92ao1eq6esvvmstaa", "neuaapo7grg64kcr1jpqlf5v0nk83h2h", "A RRSIG")
	N3("neuaapo7grg64kcr1jpqlf5v0nk83h2h", "t7t3vqsvknmemk4g7nnqbn9hk8mu4376", "")
	N3("t7t3vqsvknmemk4g7nnqbn9hk8mu4376", "3ko8bqb9rhp7gih03mti57l928flrutb", "A RRSIG"),
	NULL,
};

#define DO_OPT_LEN 11

/* data with an OPT (payload 4096, DO) appended and ARCOUNT raised, in buf
 * (size + DO_OPT_LEN bytes); size when data has no complete header. */
static size_t with_do(const uint8_t *data, size_t size, uint8_t *buf)
{
	static const uint8_t opt[DO_OPT_LEN] = { 0, 0, 41, 0x10, 0, 0, 0, 0x80, 0, 0, 0 };
	unsigned ar;

	memcpy(buf, data, size);
	if (size < 12)
		return size;
	ar = (unsigned)(buf[10] << 8 | buf[11]) + 1;
	buf[10] = (uint8_t)(ar >> 8);
	buf[11] = (uint8_t)ar;
	memcpy(buf + size, opt, sizeof(opt));
	return size + sizeof(opt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tdns_store *store;
	static struct zonedb_cache *zc;
	static uint8_t out[WIRE_MAX_MSG], in[WIRE_MAX_MSG + DO_OPT_LEN];
	static uint8_t out_zc[WIRE_MAX_MSG];
	size_t zc_len = 0;
	bool answered;
	const struct tdns_auth_cfg cfg = { .version = "tierdns fuzz",
					   .identity = "fuzz" };
	struct tdns_txn *t = NULL;
	size_t out_len = 0;
	bool tcp = size > 0 && (data[0] & 1) != 0;

	if (store == NULL) {
		fuzz_init();
		store = fuzz_store_new(zones);
		FUZZ_CHECK(zonedb_cache_new(&zc) == TDNS_OK);
	}
	if (size > WIRE_MAX_MSG)
		return 0;
	if (size > 0 && (data[0] & 2) != 0) {
		size = with_do(data, size, in);
		data = in;
	}
	FUZZ_CHECK(store_begin(store, false, &t) == TDNS_OK);
	answered = auth_answer(NULL, t, &cfg, data, size, tcp, out, sizeof(out), &out_len);
	if (answered)
		fuzz_check_reply(data, size, out, out_len, tcp);
	/* Through a worker's zone list (zonedb_cache, kept from run to run
	 * as the daemon keeps it), the same bytes. */
	FUZZ_CHECK(auth_answer(zc, t, &cfg, data, size, tcp, out_zc, sizeof(out_zc),
			       &zc_len) == answered);
	FUZZ_CHECK(zc_len == out_len && memcmp(out, out_zc, out_len) == 0);
	store_abort(t);
	return 0;
}
