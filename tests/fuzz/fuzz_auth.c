/*
 * fuzz_auth.c - the upper tier's whole query path, auth_answer(): wire in,
 * wire out, against a small store seeded once with the zones below (every
 * branch of RFC 1034 4.3.2: answers, CNAME chains in and out of the zone,
 * NXDOMAIN, NODATA, empty non-terminals, wildcards (RFC 4592), a referral
 * with glue, a nested zone) and the CHAOS names.
 *
 * The input is the query exactly as received. Bit 0 of its first byte (the
 * low bit of the ID's high byte, which changes no answer) picks UDP or TCP,
 * so both truncation paths are reached without another input format.
 * Every reply must parse, carry the query's ID and fit the transport.
 */
#include <stdbool.h>
#include <stdint.h>

#include "fuzz.h"
#include "tierdns/auth.h"
#include "tierdns/wire.h"

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
	NULL,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tdns_store *store;
	static uint8_t out[WIRE_MAX_MSG];
	const struct tdns_auth_cfg cfg = { .version = "tierdns fuzz",
					   .identity = "fuzz" };
	struct tdns_txn *t = NULL;
	size_t out_len = 0;
	bool tcp = size > 0 && (data[0] & 1) != 0;

	if (store == NULL) {
		fuzz_init();
		store = fuzz_store_new(zones);
	}
	FUZZ_CHECK(store_begin(store, false, &t) == TDNS_OK);
	if (auth_answer(NULL, t, &cfg, data, size, tcp, out, sizeof(out), &out_len))
		fuzz_check_reply(data, size, out, out_len, tcp);
	store_abort(t);
	return 0;
}
