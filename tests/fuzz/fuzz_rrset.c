/*
 * fuzz_rrset.c - the decoders of values read back from LMDB, which a
 * damaged or foreign store can fill with anything:
 *   - rrset_decode / rrset_next (rrset.h), the packed RRset of the `rr`
 *     database, and zoneload_rrset_to_ldns, which turns the records of a
 *     decoded RRset into ldns records for one of several types (rdata that
 *     does not fit the type's layout must become RFC 3597 data);
 *   - cache_value_render (cache.h), the decoder of a `cache` entry.
 * The whole input is tried as both kinds of value.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "fuzz.h"
#include "tierdns/cache.h"
#include "tierdns/rrset.h"
#include "oracle.h"
#include "tierdns/zoneload.h"

/* Types whose rdata ldns parses field by field, and one it does not know. */
static const uint16_t types[] = {
	LDNS_RR_TYPE_A,    LDNS_RR_TYPE_NS,   LDNS_RR_TYPE_CNAME,
	LDNS_RR_TYPE_SOA,  LDNS_RR_TYPE_MX,   LDNS_RR_TYPE_TXT,
	LDNS_RR_TYPE_AAAA, LDNS_RR_TYPE_SRV,  LDNS_RR_TYPE_NAPTR,
	LDNS_RR_TYPE_DS,   LDNS_RR_TYPE_CAA,  65280,
};

static void try_rrset(const uint8_t *data, size_t size, const ldns_rdf *owner)
{
	struct tdns_rrset_view v;
	ldns_rr_list *list = NULL;
	const uint8_t *rdata;
	uint16_t rdlen;
	size_t pos = 0, n = 0, bytes = RRSET_HDR_LEN;
	uint16_t type;

	if (rrset_decode(data, size, &v) != TDNS_OK)
		return;
	/* A valid view and its signature tail cover the value exactly and
	 * yield their counts of records, each inside the value. */
	while (rrset_next(&v, &pos, &rdata, &rdlen) == 1) {
		FUZZ_CHECK(rdlen == 0 || (rdata >= data && rdata + rdlen <= data + size));
		bytes += 2u + rdlen;
		n++;
		FUZZ_CHECK(n <= v.count);
	}
	FUZZ_CHECK(n == v.count);
	/* Then the signature tail, when there is one: a view of its own. */
	if (v.sig_count > 0) {
		struct tdns_rrset_view sigs;

		rrset_sigs(&v, &sigs);
		FUZZ_CHECK(sigs.count == v.sig_count);
		bytes += RRSET_HDR_LEN;
		pos = n = 0;
		while (rrset_next(&sigs, &pos, &rdata, &rdlen) == 1) {
			FUZZ_CHECK(rdlen == 0 ||
				   (rdata >= data && rdata + rdlen <= data + size));
			bytes += 2u + rdlen;
			n++;
		}
		FUZZ_CHECK(n == v.sig_count);
	}
	FUZZ_CHECK(bytes == size);

	type = types[v.ttl % (sizeof(types) / sizeof(types[0]))];
	if (zoneload_rrset_to_ldns(owner, type, &v, &list) == TDNS_OK) {
		FUZZ_CHECK(ldns_rr_list_rr_count(list) == (size_t)v.count + v.sig_count);
		for (size_t i = 0; i < ldns_rr_list_rr_count(list); i++) {
			char *text = ldns_rr2str(ldns_rr_list_rr(list, i));

			FUZZ_CHECK(text != NULL);
			free(text);
		}
		ldns_rr_list_deep_free(list);
	}
}

static void try_cache_value(const uint8_t *data, size_t size,
			    const struct tdns_query *q)
{
	ldns_pkt *reply = wire_reply_new(q, LDNS_RCODE_NOERROR);
	uint8_t *w = NULL;
	size_t n = 0;

	FUZZ_CHECK(reply != NULL);
	if (cache_value_render(data, size, FUZZ_T0, reply) == TDNS_OK) {
		/* What renders must go out as wire data. */
		FUZZ_CHECK(ldns_pkt2wire(&w, reply, &n) == LDNS_STATUS_OK);
		free(w);
	}
	ldns_pkt_free(reply);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	static ldns_rdf *owner;
	static struct tdns_query q;
	static uint8_t err[WIRE_MAX_MSG];
	/* www.example. A, RD: the question the rendered replies answer */
	static const uint8_t query[] = {
		0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
		3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0,
		0, 1, 0, 1,
	};
	size_t err_len = 0;

	if (!ready) {
		fuzz_init();
		owner = ldns_dname_new_frm_str("www.example.");
		FUZZ_CHECK(owner != NULL);
		FUZZ_CHECK(wire_parse_query(query, sizeof(query), &q, err,
					    &err_len) == WIRE_OK);
		ready = true;
	}
	try_rrset(data, size, owner);
	try_cache_value(data, size, &q);
	return 0;
}
