/*
 * fuzz_diff.c - an IXFR difference sequence as a primary sends it (RFC 1995
 * 4), applied to a stored zone by zoneload_diff (what a secondary's store
 * sink does with each sequence), inside a write transaction that is
 * aborted afterwards so the store never changes.
 *
 * Input: one byte n, then records in wire form up to the end (names may be
 * compressed against earlier bytes of the input, as in a message): the
 * first n are the deletions (the old SOA first), the rest the additions
 * (the new SOA first). The first record that does not parse ends the
 * input.
 *
 * Checks: a rejection says why; an accepted sequence leaves the zone one
 * SOA whose serial is the one reported, and the zone's metadata records
 * that serial.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "tierdns/dnsproto.h"
#include "tierdns/name.h"
#include "tierdns/rrset.h"
#include "tierdns/zonedb.h"
#include "tierdns/zoneload.h"

#define MAX_RECORDS 512

/* The zone the sequences change, and a deeper zone held in the same store
 * (records at or below it are left to it). */
static const char *const zones[] = {
	"$ORIGIN example.\n$TTL 300\n"
	"@ SOA ns1 hm 10 3600 600 86400 300\n@ NS ns1\nns1 A 192.0.2.1\n"
	"www A 192.0.2.2\nwww AAAA 2001:db8::2\nmail MX 10 www\n*.wild TXT \"w\"\n"
	"sub NS ns.sub\nns.sub A 192.0.2.53\ndeep NS ns.deep\nns.deep A 192.0.2.54\n",
	"$ORIGIN deep.example.\n$TTL 300\n"
	"@ SOA ns hm 1 3600 600 86400 300\n@ NS ns\nns A 192.0.2.54\nx A 192.0.2.55\n",
	NULL,
};

static void check_applied(struct tdns_txn *t, const uint8_t *apex, size_t apex_len,
			  const struct zoneload_diff_info *info)
{
	struct tdns_rrset_view v;
	struct tdns_zone_meta m;
	const uint8_t *rd;
	uint16_t rdlen;
	size_t pos = 0, at;

	FUZZ_CHECK(zonedb_get_rrset(t, apex, apex_len, DNS_TYPE_SOA, &v) == TDNS_OK);
	FUZZ_CHECK(v.count == 1);
	FUZZ_CHECK(rrset_next(&v, &pos, &rd, &rdlen));
	at = zonedb_soa_serial_at(rd, rdlen);
	FUZZ_CHECK(at > 0);
	FUZZ_CHECK(dns_rd32(rd + at) == info->serial);
	FUZZ_CHECK(zonedb_get_meta(t, apex, apex_len, &m) == TDNS_OK);
	FUZZ_CHECK(m.serial == info->serial);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tdns_store *store;
	static uint8_t apex[NAME_KEY_MAX];
	static size_t apex_len;
	ldns_rr *recs[MAX_RECORDS];
	size_t n = 0, n_del, pos = 1;
	struct zoneload_diff_info info;
	char err[ZONELOAD_ERR_MAX] = "";
	struct tdns_txn *t = NULL;
	enum tdns_status st;

	if (store == NULL) {
		fuzz_init();
		store = fuzz_store_new(zones);
		FUZZ_CHECK(zoneload_name_key("example.", apex, &apex_len) == TDNS_OK);
	}
	if (size < 1)
		return 0;
	while (pos < size && n < MAX_RECORDS &&
	       ldns_wire2rr(&recs[n], data, size, &pos, LDNS_SECTION_ANSWER) == LDNS_STATUS_OK)
		n++;
	n_del = data[0] < n ? data[0] : n;
	FUZZ_CHECK(store_begin(store, true, &t) == TDNS_OK);
	memset(&info, 0, sizeof(info));
	st = zoneload_diff(t, apex, apex_len, recs, n_del, recs + n_del, n - n_del, &info, err,
			   sizeof(err));
	if (fuzz_verbose())
		fprintf(stderr, "%zu deleted, %zu added: %s %s\n", n_del, n - n_del,
			tdns_strerror(st), err);
	if (st == TDNS_OK)
		check_applied(t, apex, apex_len, &info);
	else if (st == TDNS_ENOTFOUND || st == TDNS_EINVAL)
		FUZZ_CHECK(err[0] != '\0');
	store_abort(t);
	for (size_t i = 0; i < n; i++)
		ldns_rr_free(recs[i]);
	return 0;
}
