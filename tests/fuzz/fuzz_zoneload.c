/*
 * fuzz_zoneload.c - the zone loader on fuzzed master-file text: parse and
 * validate (zoneload_text: ldns's parser plus tierdns's rules), then for a
 * zone that passes, write it into a store (zoneload_apply, inside a write
 * transaction that is aborted afterwards so the store never grows), print it
 * back (zoneload_dump) and load the printed text again: what tierdns-zone
 * dumps must load to the same zone (serial, RRsets, records).
 *
 * The input is the text; a NUL in it ends it, as in a C string.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "tierdns/name.h"
#include "tierdns/zonedb.h"
#include "tierdns/zoneload.h"

/*
 * ldns's printer and text parser disagree on names with unusual octets, so
 * a dump holding such a name may not load back as it was (known, reported,
 * not checked here; corpus/zoneload/limit-* show them):
 *   - a name token must be shorter than 255 characters (LDNS_MAX_DOMAINLEN),
 *     but a name of 255 octets takes up to four times that once its
 *     non-printable octets are written as \DDD (RFC 1035 5.1);
 *   - a token that starts with '@' is read as the origin, whatever follows
 *     ("@a.example." becomes "."), but ldns prints a label "@a" unescaped;
 *   - '"' in a label is printed unescaped and then read as the start of a
 *     quoted string (two TXT records come back as one).
 * So the round trip is checked only for zones whose owner names are made of
 * letters, digits, '-', '_' and '*' (rdata names are not screened).
 */
static bool plain_octet(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '*';
}

static int screen_owner(void *ctx, const uint8_t *key, size_t klen,
			uint16_t type, const struct tdns_rrset_view *v)
{
	uint8_t wire[NAME_WIRE_MAX];
	size_t wlen = 0;
	bool *plain = ctx;

	(void)type;
	(void)v;
	if (name_key_to_wire(key, klen, wire, &wlen) != TDNS_OK) {
		*plain = false;
		return 1;
	}
	for (size_t i = 0; i < wlen; i += 1u + wire[i])
		for (size_t j = 1; j <= wire[i] && i + j < wlen; j++)
			if (!plain_octet(wire[i + j])) {
				*plain = false;
				return 1;
			}
	return 0;
}

static void round_trip(struct tdns_store *s, struct tdns_zoneset *zs)
{
	struct zoneload_info a, b;
	struct tdns_zoneset *again = NULL;
	struct tdns_txn *t = NULL;
	uint8_t apex[NAME_KEY_MAX];
	size_t apex_len = 0, dump_len = 0;
	char *dump = NULL, err[ZONELOAD_ERR_MAX] = "";
	FILE *f = NULL;
	bool plain;

	zoneload_info(zs, 0, &a);
	FUZZ_CHECK(zoneload_name_key(a.name, apex, &apex_len) == TDNS_OK);
	FUZZ_CHECK(store_begin(s, true, &t) == TDNS_OK);
	if (zoneload_apply(zs, t) != TDNS_OK)
		goto out; /* too large for the map: not a bug */
	f = open_memstream(&dump, &dump_len);
	FUZZ_CHECK(f != NULL);
	FUZZ_CHECK(zoneload_dump(t, apex, apex_len, f) == TDNS_OK);
	FUZZ_CHECK(fclose(f) == 0);
	f = NULL;

	again = zoneload_new();
	FUZZ_CHECK(again != NULL);
	plain = true;
	FUZZ_CHECK(zonedb_walk(t, apex, apex_len, screen_owner, &plain, NULL) ==
		   TDNS_OK);
	if (!plain)
		goto out;
	if (zoneload_text(again, dump, "dump", err, sizeof(err)) != TDNS_OK) {
		fprintf(stderr, "the dump does not load: %s\n%s", err, dump);
		abort();
	}
	zoneload_info(again, 0, &b);
	if (a.serial != b.serial || a.rrsets != b.rrsets ||
	    a.records != b.records) {
		fprintf(stderr,
			"the dump loads differently: serial %u/%u, rrsets %u/%u, "
			"records %u/%u\n%s",
			a.serial, b.serial, a.rrsets, b.rrsets, a.records,
			b.records, dump);
		abort();
	}
out:
	zoneload_free(again);
	free(dump);
	store_abort(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tdns_store *store;
	struct tdns_zoneset *zs = NULL;
	char err[ZONELOAD_ERR_MAX] = "";
	char *text;

	if (store == NULL) {
		fuzz_init();
		store = fuzz_store_new(NULL);
	}
	text = malloc(size + 1);
	FUZZ_CHECK(text != NULL);
	memcpy(text, data, size);
	text[size] = '\0';
	zs = zoneload_new();
	FUZZ_CHECK(zs != NULL);
	if (zoneload_text(zs, text, "fuzz", err, sizeof(err)) == TDNS_OK) {
		FUZZ_CHECK(zoneload_count(zs) == 1);
		round_trip(store, zs);
	} else {
		/* Every rejection says why. */
		FUZZ_CHECK(err[0] != '\0');
	}
	zoneload_free(zs);
	free(text);
	return 0;
}
