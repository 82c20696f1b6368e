/*
 * test_zoneload.c - master files into the store and back (zoneload.h).
 * Zone text is inline; each test gets a fresh store directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"
#include "tierdns/clock.h"
#include "tierdns/journal.h"
#include "tierdns/log.h"
#include "tierdns/name.h"
#include "tierdns/store.h"
#include "tierdns/zonedb.h"
#include "tierdns/zoneload.h"

struct fx {
	char dir[64];
	struct tdns_store *s;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	log_init("test_zoneload", TDNS_LOG_ERR);
	tu_tmpdir(f->dir);
	if (store_open(f->dir, NULL, &f->s) != TDNS_OK)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	store_close(f->s);
	tu_rmdir(f->dir);
	free(f);
	return 0;
}

static void load_ok(struct tdns_store *s, const char *text)
{
	char err[ZONELOAD_ERR_MAX] = "";

	if (zoneload_string(s, text, err, sizeof(err)) != TDNS_OK)
		fail_msg("load failed: %s", err);
}

static size_t key_of(const char *name, uint8_t *key)
{
	size_t klen = 0;

	assert_int_equal(zoneload_name_key(name, key, &klen), TDNS_OK);
	return klen;
}

/* The RRset (name, type) as presentation rdata joined by "|", "" if absent. */
static void rrset_text(struct tdns_store *s, const char *name, uint16_t type,
		       char *out, size_t cap, uint32_t *ttl)
{
	struct tdns_txn *t = NULL;
	struct tdns_rrset_view v;
	ldns_rr_list *list = NULL;
	uint8_t key[NAME_KEY_MAX];
	size_t klen = key_of(name, key), i, o = 0;

	out[0] = '\0';
	assert_int_equal(store_begin(s, false, &t), TDNS_OK);
	if (zonedb_get_rrset(t, key, klen, type, &v) != TDNS_OK)
		goto out;
	if (ttl != NULL)
		*ttl = v.ttl;
	assert_int_equal(zoneload_rrset_key_to_ldns(key, klen, type, &v, &list), TDNS_OK);
	for (i = 0; i < ldns_rr_list_rr_count(list); i++) {
		ldns_rr *rr = ldns_rr_list_rr(list, i);
		size_t j;

		for (j = 0; j < ldns_rr_rd_count(rr); j++) {
			char *str = ldns_rdf2str(ldns_rr_rdf(rr, j));

			o += (size_t)snprintf(out + o, cap - o, "%s%s",
					      o == 0 ? "" : (j == 0 ? "|" : " "), str);
			free(str);
		}
	}
out:
	ldns_rr_list_deep_free(list);
	store_abort(t);
}

/* Everything `tierdns-zone list` and `dump` would show, as one string. */
static char *snapshot(struct tdns_store *s)
{
	struct tdns_txn *t = NULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);
	struct tdns_cursor *c = NULL;
	struct tdns_val k, v;
	enum tdns_status st;
	int db;

	assert_non_null(fp);
	assert_int_equal(store_begin(s, false, &t), TDNS_OK);
	/* Every key and value of every database, raw. */
	for (db = 0; db < TDNS_DB_COUNT_; db++) {
		assert_int_equal(store_cursor_open(t, (enum tdns_db)db, &c), TDNS_OK);
		for (st = store_cursor_seek(c, NULL, 0, &k, &v); st == TDNS_OK;
		     st = store_cursor_next(c, &k, &v)) {
			fprintf(fp, "%d:", db);
			fwrite(k.data, 1, k.len, fp);
			fputc('=', fp);
			fwrite(v.data, 1, v.len, fp);
			fputc('\n', fp);
		}
		store_cursor_close(c);
	}
	store_abort(t);
	fclose(fp);
	return buf;
}

static void test_parse_features(void **state)
{
	static const char *const zone =
		"; a comment line\n"
		"$ORIGIN site.\n"
		"$TTL 300\n"
		"@  IN SOA ns1 hostmaster (\n"
		"      2024010101 ; serial\n"
		"      3600 900 604800 300 )\n"
		"   IN NS ns1             ; owner from the previous line\n"
		"   IN NS ns2.example.\n"
		"ns1 600 IN A 192.0.2.53\n"
		"www IN A 192.0.2.2\n"
		"www IN A 192.0.2.1\n"
		"www IN A 192.0.2.2       ; a duplicate, dropped\n"
		"WWW IN AAAA 2001:db8::1  ; names are case-insensitive\n"
		"mail IN MX 10 www\n"
		"txt IN TXT \"hello world\" \"two\"\n"
		"odd IN TYPE65280 \\# 3 abcdef\n"
		"empty IN TYPE65281 \\# 0\n"
		"srv._tcp IN SRV 0 5 5060 www\n"
		"alias IN CNAME www\n"
		"$ORIGIN sub.site.\n"
		"deep IN A 192.0.2.77\n";
	static const struct {
		const char *name;
		uint16_t type;
		const char *rdata;
		uint32_t ttl;
	} expect[] = {
		{ "site.", LDNS_RR_TYPE_SOA,
		  "ns1.site. hostmaster.site. 2024010101 3600 900 604800 300", 300 },
		{ "site.", LDNS_RR_TYPE_NS, "ns1.site.|ns2.example.", 300 },
		{ "ns1.site.", LDNS_RR_TYPE_A, "192.0.2.53", 600 },
		/* Zone-file order kept, duplicate dropped. */
		{ "www.site.", LDNS_RR_TYPE_A, "192.0.2.2|192.0.2.1", 300 },
		{ "www.site.", LDNS_RR_TYPE_AAAA, "2001:db8::1", 300 },
		{ "mail.site.", LDNS_RR_TYPE_MX, "10 www.site.", 300 },
		{ "txt.site.", LDNS_RR_TYPE_TXT, "\"hello world\" \"two\"", 300 },
		{ "odd.site.", 65280, "\\# 3 abcdef", 300 },
		{ "srv._tcp.site.", LDNS_RR_TYPE_SRV, "0 5 5060 www.site.", 300 },
		{ "alias.site.", LDNS_RR_TYPE_CNAME, "www.site.", 300 },
		{ "deep.sub.site.", LDNS_RR_TYPE_A, "192.0.2.77", 300 },
		{ "nosuch.site.", LDNS_RR_TYPE_A, "", 0 },
	};
	struct fx *f = *state;
	struct tdns_zoneset *zs = zoneload_new();
	struct zoneload_info info;
	char err[ZONELOAD_ERR_MAX] = "";
	size_t i;

	assert_non_null(zs);
	assert_int_equal(zoneload_text(zs, zone, "site.zone", err, sizeof(err)), TDNS_OK);
	assert_int_equal(zoneload_count(zs), 1);
	zoneload_info(zs, 0, &info);
	assert_string_equal(info.name, "site.");
	assert_string_equal(info.file, "site.zone");
	assert_int_equal(info.serial, 2024010101);
	assert_int_equal(info.rrsets, 12);
	assert_int_equal(info.records, 14);
	assert_int_equal(zoneload_commit(zs, f->s), TDNS_OK);
	zoneload_free(zs);

	for (i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
		char got[512];
		uint32_t ttl = 0;

		print_message("%s %u\n", expect[i].name, (unsigned)expect[i].type);
		rrset_text(f->s, expect[i].name, expect[i].type, got, sizeof(got), &ttl);
		assert_string_equal(got, expect[i].rdata);
		assert_int_equal(ttl, expect[i].ttl);
	}
	{
		/* Empty rdata survives as an RRset of one empty record. */
		struct tdns_txn *t = NULL;
		struct tdns_rrset_view v;
		uint8_t key[NAME_KEY_MAX];
		size_t klen = key_of("empty.site.", key);

		assert_int_equal(store_begin(f->s, false, &t), TDNS_OK);
		assert_int_equal(zonedb_get_rrset(t, key, klen, 65281, &v), TDNS_OK);
		assert_int_equal(v.count, 1);
		assert_int_equal(v.data_len, 2);
		store_abort(t);
	}
}

static void test_duplicates(void **state)
{
	static const struct {
		const char *records; /* after the SOA, in zone site. */
		const char *name;
		uint16_t type;
		const char *rdata;
	} cases[] = {
		/* Names in rdata compare case-insensitively; the first is kept. */
		{ "m IN MX 10 Mail.site.\nm IN MX 10 mail.SITE.\n", "m.site.",
		  LDNS_RR_TYPE_MX, "10 Mail.site." },
		/* Only names fold: preference 65 ('A') is not 97 ('a'). */
		{ "m IN MX 65 a.site.\nm IN MX 97 a.site.\n", "m.site.",
		  LDNS_RR_TYPE_MX, "65 a.site.|97 a.site." },
		/* Text is case-sensitive. */
		{ "t IN TXT \"A\"\nt IN TXT \"a\"\nt IN TXT \"A\"\n", "t.site.",
		  LDNS_RR_TYPE_TXT, "\"A\"|\"a\"" },
		/* Duplicates anywhere in the file, interleaved with other names. */
		{ "x IN A 192.0.2.1\ny IN A 192.0.2.9\nx IN A 192.0.2.3\n"
		  "x IN A 192.0.2.1\n", "x.site.", LDNS_RR_TYPE_A,
		  "192.0.2.1|192.0.2.3" },
	};
	struct fx *f = *state;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[512], got[256];

		snprintf(text, sizeof(text), "$ORIGIN site.\n$TTL 60\n"
			 "@ IN SOA ns hm %zu 2 3 4 5\n%s", i + 1, cases[i].records);
		load_ok(f->s, text);
		rrset_text(f->s, cases[i].name, cases[i].type, got, sizeof(got), NULL);
		assert_string_equal(got, cases[i].rdata);
	}
}

/* Garbage never crashes the loader: it parses or says where it failed. */
static void test_garbage_input(void **state)
{
	static const char *const pieces[] = {
		"x.", " ", "IN", "SOA", "A", "TXT", "(", ")", "\"", ";", "\n", "$ORIGIN",
		"$TTL", "@", "\\#", "1", "65535", "192.0.2.1", "\\", ".", "*",
		"TYPE65280", "\t", "\xff", "ns", "CNAME", "\r\n", "0",
	};
	uint32_t rnd = 12345;
	int round;

	(void)state;
	for (round = 0; round < 300; round++) {
		struct tdns_zoneset *zs = zoneload_new();
		char text[1024], err[ZONELOAD_ERR_MAX] = "";
		size_t o = 0;
		enum tdns_status st;

		assert_non_null(zs);
		o += (size_t)snprintf(text, sizeof(text), "x. IN SOA ns hm 1 2 3 4 5\n");
		while (o < sizeof(text) - 16) {
			rnd = rnd * 1103515245u + 12345u;
			o += (size_t)snprintf(text + o, sizeof(text) - o, "%s ",
					      pieces[(rnd >> 16) % (sizeof(pieces) /
								sizeof(pieces[0]))]);
		}
		st = zoneload_text(zs, text, "g", err, sizeof(err));
		assert_true(st == TDNS_OK || (st == TDNS_EPARSE && strncmp(err, "g", 1) == 0));
		zoneload_free(zs);
	}
}

static void test_ttl_rules(void **state)
{
	static const char *const zone =
		"example. 3600 IN SOA ns hm 1 2 3 4 5\n"
		"a.example. 300 IN A 192.0.2.1\n"
		"a.example. 60 IN A 192.0.2.2\n"
		"a.example. 900 IN A 192.0.2.3\n"
		"b.example. IN A 192.0.2.9\n"         /* no $TTL: the default */
		"$TTL 120\n"
		"c.example. IN A 192.0.2.10\n";
	struct fx *f = *state;
	char got[256];
	uint32_t ttl = 0;

	load_ok(f->s, zone);
	rrset_text(f->s, "a.example.", LDNS_RR_TYPE_A, got, sizeof(got), &ttl);
	assert_string_equal(got, "192.0.2.1|192.0.2.2|192.0.2.3");
	assert_int_equal(ttl, 60); /* RFC 2181 5.2: the lowest */
	rrset_text(f->s, "b.example.", LDNS_RR_TYPE_A, got, sizeof(got), &ttl);
	assert_int_equal(ttl, ZONELOAD_DEFAULT_TTL);
	rrset_text(f->s, "c.example.", LDNS_RR_TYPE_A, got, sizeof(got), &ttl);
	assert_int_equal(ttl, 120);
}

static void test_no_origin_means_apex(void **state)
{
	/* Without $ORIGIN, relative names after the SOA are relative to the SOA
	 * owner (the apex), as NSD takes the zone name; so are the SOA's own. */
	struct fx *f = *state;
	char got[256];

	load_ok(f->s, "x. 60 IN SOA ns hm 1 2 3 4 5\nwww 60 IN CNAME web\n"
		      "web 60 IN A 192.0.2.1\n");
	rrset_text(f->s, "x.", LDNS_RR_TYPE_SOA, got, sizeof(got), NULL);
	assert_string_equal(got, "ns.x. hm.x. 1 2 3 4 5");
	rrset_text(f->s, "www.x.", LDNS_RR_TYPE_CNAME, got, sizeof(got), NULL);
	assert_string_equal(got, "web.x.");
	rrset_text(f->s, "web.x.", LDNS_RR_TYPE_A, got, sizeof(got), NULL);
	assert_string_equal(got, "192.0.2.1");
}

static void test_errors_name_file_and_line(void **state)
{
	static const struct {
		const char *text;
		const char *err; /* expected prefix of the message */
		enum tdns_status st;
	} cases[] = {
		{ "x. IN SOA ns hm 1 2 3 4 5\n\nwww.x. IN A 999.0.0.1\n",
		  "t:3: ", TDNS_EPARSE },
		{ "x. IN SOA ns hm 1 2 3 4 5\ny.x. IN A 192.0.2.1\nother. IN A 192.0.2.1\n",
		  "t:3: other. is outside the zone x.", TDNS_EPARSE },
		{ "x. IN SOA ns hm 1 2 3 4 5\nx. IN SOA ns hm 2 2 3 4 5\n",
		  "t:2: second SOA record (the first is on line 1)", TDNS_EPARSE },
		{ "a.x. IN A 192.0.2.1\n", "t: no SOA record", TDNS_EPARSE },
		{ "; nothing\n", "t: no records", TDNS_EPARSE },
		{ "", "t: no records", TDNS_EPARSE },
		{ "x. IN SOA ns hm 1 2 3 4 5\nx. CH TXT \"v\"\n",
		  "t:2: class CH is not supported", TDNS_EPARSE },
		{ "www IN A 192.0.2.1\nx. IN SOA ns hm 1 2 3 4 5\n",
		  "t:1: relative owner name and no $ORIGIN", TDNS_EPARSE },
		{ "@ IN SOA ns hm 1 2 3 4 5\n",
		  "t:1: relative owner name and no $ORIGIN", TDNS_EPARSE },
		{ "a.x. IN CNAME b\nx. IN SOA ns hm 1 2 3 4 5\n",
		  "t:1: relative name in rdata before the SOA", TDNS_EPARSE },
		{ "x. IN SOA ns hm 1 2 3 4 5\n$INCLUDE other.zone\n",
		  "t:2: $INCLUDE is not supported", TDNS_EPARSE },
		{ "x. IN SOA ns hm 1 2 3 4 5\na.x. IN CNAME b.x.\na.x. IN A 192.0.2.1\n",
		  "t:2: CNAME at a.x. next to other data (A on line 3)", TDNS_EPARSE },
		{ "x. IN SOA ns hm 1 2 3 4 5\na.x. IN CNAME b.x.\na.x. IN CNAME c.x.\n",
		  "t:2: more than one CNAME at a.x.", TDNS_EPARSE },
		{ "x. IN SOA ns hm 1 2 3 4 5\nx. IN CNAME b.x.\n",
		  "t:2: CNAME at x. next to other data (SOA on line 1)", TDNS_EPARSE },
		{ "x. IN SOA ns hm 1 2 3 4 5\na.x. IN TYPE255 \\# 0\n",
		  "t:2: type ANY cannot appear in a zone", TDNS_EPARSE },
		{ "x. IN SOA ns hm 1 2 3 4 5\nb.x. IN NOSUCHTYPE 1\n", "t:2: ",
		  TDNS_EPARSE },
		{ "x. IN SOA ns hm 1 2 3 4 5\nb.x. IN TYPE65280 \\# 3 ab\n", "t:2: ",
		  TDNS_EPARSE },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tdns_zoneset *zs = zoneload_new();
		char err[ZONELOAD_ERR_MAX] = "";

		assert_non_null(zs);
		print_message("case %zu\n", i);
		assert_int_equal(zoneload_text(zs, cases[i].text, "t", err, sizeof(err)),
				 cases[i].st);
		print_message("  -> %s\n", err);
		assert_memory_equal(err, cases[i].err, strlen(cases[i].err));
		assert_int_equal(zoneload_count(zs), 0);
		zoneload_free(zs);
	}
}

static void test_bad_late_line_leaves_store_unchanged(void **state)
{
	struct fx *f = *state;
	char path[64], err[ZONELOAD_ERR_MAX] = "", want[128];
	char *before, *after, *text = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&text, &len);
	struct tdns_zoneset *zs = zoneload_new();
	int i;

	load_ok(f->s, "$ORIGIN site.\n@ 300 IN SOA ns hm 1 2 3 4 5\n"
		      "www 300 IN A 192.0.2.1\n");
	before = snapshot(f->s);

	/* Line 1 SOA, lines 2..499 good records, line 500 bad. */
	fprintf(fp, "$ORIGIN site.\n");
	fprintf(fp, "@ 300 IN SOA ns hm 2 2 3 4 5\n");
	for (i = 3; i < 500; i++)
		fprintf(fp, "n%d 300 IN A 192.0.2.%d\n", i, i % 250);
	fprintf(fp, "bad 300 IN A not-an-address\n");
	for (i = 501; i < 510; i++)
		fprintf(fp, "n%d 300 IN A 192.0.2.%d\n", i, i % 250);
	fclose(fp);
	tu_tmpfile(path, text);
	free(text);

	assert_non_null(zs);
	assert_int_equal(zoneload_file(zs, path, err, sizeof(err)), TDNS_EPARSE);
	snprintf(want, sizeof(want), "%s:500: ", path);
	print_message("%s\n", err);
	assert_memory_equal(err, want, strlen(want));
	/* Nothing to commit: the set is empty and the store untouched. */
	assert_int_equal(zoneload_count(zs), 0);
	assert_int_equal(zoneload_commit(zs, f->s), TDNS_OK);
	after = snapshot(f->s);
	assert_string_equal(before, after);
	zoneload_free(zs);
	unlink(path);
	free(before);
	free(after);
}

static void test_reload_replaces_zone(void **state)
{
	struct fx *f = *state;
	struct tdns_txn *t = NULL;
	struct tdns_zone_meta m;
	uint8_t key[NAME_KEY_MAX];
	size_t klen = key_of("site.", key);
	char got[256];

	load_ok(f->s, "$ORIGIN site.\n@ 300 IN SOA ns hm 1 2 3 4 5\n"
		      "www 300 IN A 192.0.2.1\nold 300 IN A 192.0.2.9\n");
	load_ok(f->s, "$ORIGIN site.\n@ 300 IN SOA ns hm 2 2 3 4 5\n"
		      "www 300 IN A 192.0.2.2\nnew 300 IN TXT \"n\"\n");
	rrset_text(f->s, "www.site.", LDNS_RR_TYPE_A, got, sizeof(got), NULL);
	assert_string_equal(got, "192.0.2.2");
	rrset_text(f->s, "old.site.", LDNS_RR_TYPE_A, got, sizeof(got), NULL);
	assert_string_equal(got, "");
	rrset_text(f->s, "new.site.", LDNS_RR_TYPE_TXT, got, sizeof(got), NULL);
	assert_string_equal(got, "\"n\"");
	assert_int_equal(store_begin(f->s, false, &t), TDNS_OK);
	assert_int_equal(zonedb_get_meta(t, key, klen, &m), TDNS_OK);
	assert_int_equal(m.serial, 2);
	assert_int_equal(m.rrsets, 3);
	assert_int_equal(m.records, 3);
	assert_int_equal(store_count(t, TDNS_DB_RR), 3);
	store_abort(t);
}

static char *numbered_zone(int serial, int n, int changed)
{
	char *text = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&text, &len);
	int i;

	fprintf(fp, "$ORIGIN site.\n@ 300 IN SOA ns hm %d 2 3 4 5\n", serial);
	for (i = 0; i < n; i++)
		fprintf(fp, "h%d 300 IN A 10.0.%d.%d\n", i, i / 250,
			i == changed ? 251 : i % 250);
	fclose(fp);
	return text;
}

static void test_reload_writes_only_differences(void **state)
{
	struct fx *f = *state;
	char *v1 = numbered_zone(1, 3000, -1), *v2 = numbered_zone(1, 3000, 1234);
	char *before, *after, got[64];
	size_t used;

	clock_set_fake(1700000000);
	load_ok(f->s, v1);
	before = snapshot(f->s);
	used = store_used_bytes(f->s);
	/* The same zone again: the store is byte-for-byte what it was and the
	 * map did not grow by a second copy of the zone. */
	load_ok(f->s, v1);
	after = snapshot(f->s);
	assert_string_equal(before, after);
	assert_true(store_used_bytes(f->s) < used + 64 * 1024);
	/* One changed RRset: just that one differs. */
	load_ok(f->s, v2);
	rrset_text(f->s, "h1234.site.", LDNS_RR_TYPE_A, got, sizeof(got), NULL);
	assert_string_equal(got, "10.0.4.251");
	rrset_text(f->s, "h1235.site.", LDNS_RR_TYPE_A, got, sizeof(got), NULL);
	assert_string_equal(got, "10.0.4.235");
	clock_set_fake(0);
	free(before);
	free(after);
	free(v1);
	free(v2);
}

static void test_full_map_leaves_store_unchanged(void **state)
{
	struct fx *f = *state;
	struct tdns_store_opts small = { 256 * 1024, 0, 0 };
	struct tdns_zoneset *zs = zoneload_new();
	char dir[64], err[ZONELOAD_ERR_MAX] = "", *before, *after, *text = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&text, &len);
	struct tdns_store *s = NULL;
	int i;

	(void)f;
	tu_tmpdir(dir);
	assert_int_equal(store_open(dir, &small, &s), TDNS_OK);
	load_ok(s, "$ORIGIN site.\n@ 300 IN SOA ns hm 1 2 3 4 5\nwww 300 IN A 192.0.2.1\n");
	before = snapshot(s);
	fprintf(fp, "$ORIGIN site.\n@ 300 IN SOA ns hm 2 2 3 4 5\n");
	for (i = 0; i < 20000; i++)
		fprintf(fp, "name-number-%d 300 IN TXT \"some text to fill pages\"\n", i);
	fclose(fp);
	assert_int_equal(zoneload_text(zs, text, "big", err, sizeof(err)), TDNS_OK);
	assert_int_equal(zoneload_commit(zs, s), TDNS_EFULL);
	after = snapshot(s);
	assert_string_equal(before, after);
	zoneload_free(zs);
	free(text);
	free(before);
	free(after);
	store_close(s);
	tu_rmdir(dir);
}

static void test_readers_see_old_or_new(void **state)
{
	struct fx *f = *state;
	struct tdns_txn *r = NULL;
	struct tdns_rrset_view v;
	uint8_t k1[NAME_KEY_MAX], k2[NAME_KEY_MAX];
	size_t l1 = key_of("a.site.", k1), l2 = key_of("b.site.", k2);

	load_ok(f->s, "$ORIGIN site.\n@ 300 IN SOA ns hm 1 2 3 4 5\n"
		      "a 300 IN A 192.0.2.1\n");
	assert_int_equal(store_begin(f->s, false, &r), TDNS_OK);
	load_ok(f->s, "$ORIGIN site.\n@ 300 IN SOA ns hm 2 2 3 4 5\n"
		      "b 300 IN A 192.0.2.2\n");
	/* The reader's snapshot still holds the whole old zone ... */
	assert_int_equal(zonedb_get_rrset(r, k1, l1, LDNS_RR_TYPE_A, &v), TDNS_OK);
	assert_int_equal(zonedb_get_rrset(r, k2, l2, LDNS_RR_TYPE_A, &v), TDNS_ENOTFOUND);
	/* ... and its next snapshot the whole new one. */
	store_reset(r);
	assert_int_equal(store_renew(r), TDNS_OK);
	assert_int_equal(zonedb_get_rrset(r, k1, l1, LDNS_RR_TYPE_A, &v), TDNS_ENOTFOUND);
	assert_int_equal(zonedb_get_rrset(r, k2, l2, LDNS_RR_TYPE_A, &v), TDNS_OK);
	store_abort(r);
}

static const char *const root_v1 =
	". 86400 IN SOA a.root. admin.root. 1 3600 900 604800 300\n"
	". 86400 IN NS a.root.\n"
	"a.root. 86400 IN A 127.0.0.1\n"
	"site. 86400 IN NS ns1.site.\n"        /* delegation to site. */
	"ns1.site. 86400 IN A 192.0.2.53\n";   /* glue */
static const char *const root_v2 =
	". 86400 IN SOA a.root. admin.root. 2 3600 900 604800 300\n"
	". 86400 IN NS a.root.\n"
	"b.root. 86400 IN A 127.0.0.2\n";
static const char *const site =
	"$ORIGIN site.\n$TTL 300\n"
	"@ IN SOA ns1 hm 7 2 3 4 5\n@ IN NS ns1\nns1 IN A 192.0.2.1\n"
	"webapp IN A 192.0.2.10\n";

static void test_root_reload_keeps_site(void **state)
{
	struct fx *f = *state;
	struct tdns_txn *t = NULL;
	struct tdns_zone_meta m;
	char got[256];
	uint32_t ttl;

	load_ok(f->s, root_v1);
	load_ok(f->s, site);
	/* site. took over its range: its own NS and A, not the root's glue. */
	rrset_text(f->s, "ns1.site.", LDNS_RR_TYPE_A, got, sizeof(got), &ttl);
	assert_string_equal(got, "192.0.2.1");
	assert_int_equal(ttl, 300);
	assert_int_equal(store_begin(f->s, false, &t), TDNS_OK);
	assert_int_equal(zonedb_get_meta(t, (const uint8_t *)"", 0, &m), TDNS_OK);
	assert_int_equal(m.rrsets, 3); /* the delegation left the root's count */
	assert_int_equal(m.records, 3);
	store_abort(t);

	load_ok(f->s, root_v2);
	rrset_text(f->s, "webapp.site.", LDNS_RR_TYPE_A, got, sizeof(got), NULL);
	assert_string_equal(got, "192.0.2.10");
	rrset_text(f->s, "site.", LDNS_RR_TYPE_SOA, got, sizeof(got), NULL);
	assert_string_equal(got, "ns1.site. hm.site. 7 2 3 4 5");
	rrset_text(f->s, "a.root.", LDNS_RR_TYPE_A, got, sizeof(got), NULL);
	assert_string_equal(got, "");
	rrset_text(f->s, "b.root.", LDNS_RR_TYPE_A, got, sizeof(got), NULL);
	assert_string_equal(got, "127.0.0.2");

	/* Reloading the root with records inside site.: they are not stored. */
	load_ok(f->s, root_v1);
	rrset_text(f->s, "ns1.site.", LDNS_RR_TYPE_A, got, sizeof(got), &ttl);
	assert_string_equal(got, "192.0.2.1");
	assert_int_equal(store_begin(f->s, false, &t), TDNS_OK);
	assert_int_equal(store_count(t, TDNS_DB_RR), 3 + 4);
	store_abort(t);
}

static void test_set_loads_nested_zones_together(void **state)
{
	struct fx *f = *state;
	struct tdns_zoneset *zs = zoneload_new();
	struct zoneload_info info;
	char err[ZONELOAD_ERR_MAX] = "", got[128];

	assert_non_null(zs);
	assert_int_equal(zoneload_text(zs, root_v1, "root", err, sizeof(err)), TDNS_OK);
	assert_int_equal(zoneload_text(zs, site, "site", err, sizeof(err)), TDNS_OK);
	/* The same zone twice in one set is refused. */
	assert_int_equal(zoneload_text(zs, site, "again", err, sizeof(err)), TDNS_EEXIST);
	assert_string_equal(err, "again: zone site. is already given by site");
	assert_int_equal(zoneload_commit(zs, f->s), TDNS_OK);
	zoneload_info(zs, 0, &info);
	assert_int_equal(info.occluded, 2);
	rrset_text(f->s, "ns1.site.", LDNS_RR_TYPE_A, got, sizeof(got), NULL);
	assert_string_equal(got, "192.0.2.1");
	zoneload_free(zs);
}

static void test_dump_round_trip(void **state)
{
	struct fx *f = *state;
	static const char *const zone =
		"$ORIGIN site.\n$TTL 300\n"
		"@ IN SOA ns1 hm 7 2 3 4 5\n@ IN NS ns1\nns1 IN A 192.0.2.1\n"
		"txt IN TXT \"a b\" \"c\"\nodd IN TYPE65280 \\# 2 beef\n"
		"mx IN MX 10 Mail.Example.\n";
	struct tdns_txn *t = NULL;
	struct tdns_store *s2 = NULL;
	char *d1 = NULL, *d2 = NULL, dir2[64];
	size_t l1 = 0, l2 = 0;
	uint8_t key[NAME_KEY_MAX];
	size_t klen = key_of("site", key);
	FILE *fp;

	load_ok(f->s, zone);
	fp = open_memstream(&d1, &l1);
	assert_int_equal(store_begin(f->s, false, &t), TDNS_OK);
	assert_int_equal(zoneload_dump(t, key, klen, fp), TDNS_OK);
	assert_int_equal(zoneload_dump(t, (const uint8_t *)"\3com", 4, fp),
			 TDNS_ENOTFOUND);
	store_abort(t);
	fclose(fp);
	/* SOA first. */
	assert_non_null(strstr(d1, "\nsite.\t300\tIN\tSOA\t"));
	assert_true(strstr(d1, "SOA") < strstr(d1, "\tNS\t"));
	assert_non_null(strstr(d1, "Mail.Example."));

	tu_tmpdir(dir2);
	assert_int_equal(store_open(dir2, NULL, &s2), TDNS_OK);
	load_ok(s2, d1);
	fp = open_memstream(&d2, &l2);
	assert_int_equal(store_begin(s2, false, &t), TDNS_OK);
	assert_int_equal(zoneload_dump(t, key, klen, fp), TDNS_OK);
	store_abort(t);
	fclose(fp);
	assert_string_equal(d1, d2);
	store_close(s2);
	tu_rmdir(dir2);
	free(d1);
	free(d2);
}

/* Load text with warnings on and stderr captured into log. */
static void load_capturing(struct tdns_store *s, const char *text, char *log,
			   size_t cap)
{
	struct tu_capture c;

	tu_stderr_capture(&c);
	log_init("test_zoneload", TDNS_LOG_WARN);
	load_ok(s, text);
	log_init("test_zoneload", TDNS_LOG_ERR);
	tu_stderr_release(&c, log, cap);
}

/* NSEC3 owners: base32hex of made-up hashes, in chain order. */
#define H1 "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom"
#define H2 "35mthgpgcu1qg68fab165klnsnk3dpvl"
#define H3 "b4um86eghhds6nea196smvmlo4ors995"
#define SIGS " 20300101000000 20200101000000 1 site. "
static const char SIGNED_SITE[] =
	"$ORIGIN site.\n$TTL 300\n"
	"@ SOA ns1 hm 7 2 3 4 5\n"
	"@ 600 RRSIG SOA 13 1 300" SIGS "c29h\n"
	"@ NS ns1\n"
	"@ 600 RRSIG NS 13 1 300" SIGS "bnMx\n"
	"@ NSEC3PARAM 1 0 0 -\n"
	"@ 600 RRSIG NSEC3PARAM 13 1 300" SIGS "cGFy\n"
	"ns1 A 192.0.2.1\n"
	"ns1 600 RRSIG A 13 2 300" SIGS "YTEx\n"
	"ns1 600 RRSIG A 13 2 300 20300101000000 20200101000000 2 site. YTEy\n"
	/* An RRSIG for a type the name does not have: dropped. */
	"ns1 600 RRSIG MX 13 2 300" SIGS "bXh4\n"
	H1 " NSEC3 1 0 0 - " H2 " NS SOA RRSIG NSEC3PARAM\n"
	H1 " 600 RRSIG NSEC3 13 2 300" SIGS "bjEx\n"
	H2 " NSEC3 1 0 0 - " H3 " A RRSIG\n"
	H2 " 600 RRSIG NSEC3 13 2 300" SIGS "bjEy\n"
	H3 " NSEC3 1 0 0 - " H1 " A RRSIG\n"
	H3 " 600 RRSIG NSEC3 13 2 300" SIGS "bjEz\n";

/*
 * A signed zone: every RRSIG is stored with the RRset it covers, with its
 * own TTL (no "TTL differs" warning), an orphan RRSIG is dropped with a
 * warning, the NSEC3 RRsets are only in the denial index (their owners are
 * no names of the zone), and a dump loads back to the same zone.
 */
static void test_signed_zone(void **state)
{
	struct fx *f = *state;
	struct tdns_txn *t = NULL;
	struct tdns_rrset_view v;
	struct tdns_zone_meta m;
	const uint8_t *owner;
	uint8_t key[NAME_KEY_MAX], apex[NAME_KEY_MAX];
	size_t klen, alen = key_of("site", apex), olen, l1 = 0, l2 = 0;
	unsigned state_bits;
	char log[4096], text[512], *d1 = NULL, *d2 = NULL, dir2[64];
	struct tdns_store *s2 = NULL;
	bool exact;
	FILE *fp;

	load_capturing(f->s, SIGNED_SITE, log, sizeof(log));
	assert_null(strstr(log, "TTL"));
	assert_non_null(strstr(log, "RRSIG for ns1.site. MX"));
	assert_int_equal(store_begin(f->s, false, &t), TDNS_OK);
	/* 7 RRsets (SOA NS NSEC3PARAM A, 3 NSEC3), 15 records with the
	 * signatures, the orphan not counted. */
	assert_int_equal(zonedb_get_meta(t, apex, alen, &m), TDNS_OK);
	assert_int_equal(m.rrsets, 7);
	assert_int_equal(m.records, 15);
	klen = key_of("ns1.site", key);
	assert_int_equal(zonedb_get_rrset(t, key, klen, LDNS_RR_TYPE_A, &v), TDNS_OK);
	assert_int_equal(v.ttl, 300);
	assert_int_equal(v.count, 1);
	assert_int_equal(v.sig_count, 2);
	assert_int_equal(v.sig_ttl, 600);
	assert_int_equal(zonedb_get_rrset(t, key, klen, LDNS_RR_TYPE_RRSIG, &v),
			 TDNS_ENOTFOUND);
	assert_int_equal(zonedb_get_rrset(t, key, klen, LDNS_RR_TYPE_MX, &v),
			 TDNS_ENOTFOUND);
	/* The NSEC3 owners are not names of the zone ... */
	klen = key_of(H2 ".site", key);
	assert_int_equal(zonedb_name_state(t, key, klen, &state_bits), TDNS_OK);
	assert_int_equal(state_bits, ZONEDB_NAME_NONE);
	/* ... but their chain is one seek away: a match, a cover, the wrap. */
	assert_int_equal(zonedb_denial_find(t, apex, alen, ZONEDB_NSEC3,
					    (const uint8_t *)H2, 32, &owner,
					    &olen, &exact, &v), TDNS_OK);
	assert_true(exact);
	assert_int_equal(olen, klen);
	assert_memory_equal(owner, key, klen);
	assert_int_equal(v.sig_count, 1);
	assert_int_equal(zonedb_denial_find(t, apex, alen, ZONEDB_NSEC3,
					    (const uint8_t *)"35MTHGPGCU1QG68FAB165KLNSNK3DPVM",
					    32, &owner, &olen, &exact, &v), TDNS_OK);
	assert_false(exact);
	assert_memory_equal(owner, key, klen); /* H2 covers it (any case) */
	assert_int_equal(zonedb_denial_find(t, apex, alen, ZONEDB_NSEC3,
					    (const uint8_t *)"00000000000000000000000000000000",
					    32, &owner, &olen, &exact, &v), TDNS_OK);
	assert_false(exact);
	klen = key_of(H3 ".site", key);
	assert_memory_equal(owner, key, klen); /* before the first: the last */
	fp = open_memstream(&d1, &l1);
	assert_int_equal(zoneload_dump(t, apex, alen, fp), TDNS_OK);
	fclose(fp);
	store_abort(t);
	assert_non_null(strstr(d1, "RRSIG\tA 13 2 300"));
	assert_non_null(strstr(d1, H3 ".site.\t300\tIN\tNSEC3\t"));
	assert_null(strstr(d1, "RRSIG\tMX"));

	/* The dump loads back to the same zone. */
	tu_tmpdir(dir2);
	assert_int_equal(store_open(dir2, NULL, &s2), TDNS_OK);
	load_ok(s2, d1);
	fp = open_memstream(&d2, &l2);
	assert_int_equal(store_begin(s2, false, &t), TDNS_OK);
	assert_int_equal(zoneload_dump(t, apex, alen, fp), TDNS_OK);
	store_abort(t);
	fclose(fp);
	assert_string_equal(d1, d2);
	store_close(s2);
	tu_rmdir(dir2);

	/* Reloaded without its NSEC3 chain, the zone's index is empty. */
	load_ok(f->s, "$ORIGIN site.\n@ SOA ns1 hm 8 2 3 4 5\n@ NS ns1\n");
	assert_int_equal(store_begin(f->s, false, &t), TDNS_OK);
	assert_int_equal(zonedb_denial_find(t, apex, alen, ZONEDB_NSEC3,
					    (const uint8_t *)H2, 32, &owner,
					    &olen, &exact, &v), TDNS_ENOTFOUND);
	store_abort(t);
	rrset_text(f->s, "site", LDNS_RR_TYPE_NS, text, sizeof(text), NULL);
	assert_string_equal(text, "ns1.site.");
	free(d1);
	free(d2);
}

/* The DS at the apex of a child zone held in the same store is the
 * parent's (RFC 4035 3.1.4.1): loading or reloading either zone keeps it,
 * the parent's dump shows it, the child's does not. */
static void test_parent_ds_at_child_apex(void **state)
{
	struct fx *f = *state;
	static const char *const parent =
		"$ORIGIN site.\n@ SOA ns1 hm 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\n"
		"kid NS ns1.kid\nns1.kid A 192.0.2.2\n"
		"kid DS 1 13 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n";
	static const char *const child =
		"$ORIGIN kid.site.\n@ SOA ns1 hm 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.2\n";
	struct tdns_txn *t = NULL;
	uint8_t apex[NAME_KEY_MAX];
	size_t alen;
	char text[256], *d = NULL;
	size_t l = 0;
	FILE *fp;
	int round;

	for (round = 0; round < 2; round++) {
		/* Parent then child, then both again the other way round. */
		load_ok(f->s, round == 0 ? parent : child);
		load_ok(f->s, round == 0 ? child : parent);
		load_ok(f->s, child);
		rrset_text(f->s, "kid.site", LDNS_RR_TYPE_DS, text, sizeof(text), NULL);
		assert_string_equal(text, "1 13 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
		rrset_text(f->s, "kid.site", LDNS_RR_TYPE_SOA, text, sizeof(text), NULL);
		assert_string_equal(text, "ns1.kid.site. hm.kid.site. 1 2 3 4 5");
	}
	alen = key_of("kid.site", apex);
	fp = open_memstream(&d, &l);
	assert_int_equal(store_begin(f->s, false, &t), TDNS_OK);
	assert_int_equal(zoneload_dump(t, apex, alen, fp), TDNS_OK);
	fclose(fp);
	assert_null(strstr(d, "DS"));
	free(d);
	d = NULL;
	alen = key_of("site", apex);
	fp = open_memstream(&d, &l);
	assert_int_equal(zoneload_dump(t, apex, alen, fp), TDNS_OK);
	fclose(fp);
	store_abort(t);
	assert_non_null(strstr(d, "kid.site.\t3600\tIN\tDS\t"));
	free(d);
	/* The parent without the DS: it goes. */
	load_ok(f->s, "$ORIGIN site.\n@ SOA ns1 hm 2 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\n"
		      "kid NS ns1.kid\nns1.kid A 192.0.2.2\n");
	rrset_text(f->s, "kid.site", LDNS_RR_TYPE_DS, text, sizeof(text), NULL);
	assert_string_equal(text, "");
}

static void test_add_and_delete(void **state)
{
	static const struct {
		bool add;
		const char *a, *b, *c; /* add: a = RR; delete: NAME TYPE [RDATA] */
		enum tdns_status st;
		const char *name;      /* then the RRset (name, type) reads */
		uint16_t type;
		const char *rdata;
	} steps[] = {
		{ true, "www.site. 300 IN A 192.0.2.1", NULL, NULL, TDNS_OK,
		  "www.site.", LDNS_RR_TYPE_A, "192.0.2.1" },
		{ true, "www.site. 300 IN A 192.0.2.2", NULL, NULL, TDNS_OK,
		  "www.site.", LDNS_RR_TYPE_A, "192.0.2.1|192.0.2.2" },
		/* Relative names: there is no $ORIGIN to complete them with
		 * (completed with the root, "www" would land in zone "."). */
		{ true, "www.site 300 IN A 192.0.2.3", NULL, NULL, TDNS_EINVAL,
		  "www.site.", LDNS_RR_TYPE_A, "192.0.2.1|192.0.2.2" },
		{ true, "www 300 IN A 192.0.2.3", NULL, NULL, TDNS_EINVAL,
		  "www.", LDNS_RR_TYPE_A, "" },
		{ true, "@ 300 IN A 192.0.2.3", NULL, NULL, TDNS_EINVAL,
		  ".", LDNS_RR_TYPE_A, "" },
		{ true, "mx.site. 300 IN MX 10 mail", NULL, NULL, TDNS_EINVAL,
		  "mx.site.", LDNS_RR_TYPE_MX, "" },
		{ true, "WWW.site. 300 IN A 192.0.2.2", NULL, NULL, TDNS_EEXIST,
		  "www.site.", LDNS_RR_TYPE_A, "192.0.2.1|192.0.2.2" },
		{ true, "www.other. 300 IN A 192.0.2.2", NULL, NULL, TDNS_ENOTFOUND,
		  "www.other.", LDNS_RR_TYPE_A, "" },
		{ true, "www.site. 300 IN CNAME x.site.", NULL, NULL, TDNS_EINVAL,
		  "www.site.", LDNS_RR_TYPE_CNAME, "" },
		{ true, "www.site. IN A 300.1.1.1", NULL, NULL, TDNS_EPARSE,
		  "www.site.", LDNS_RR_TYPE_A, "192.0.2.1|192.0.2.2" },
		{ true, "sub.www.site. 300 IN SOA a b 1 2 3 4 5", NULL, NULL, TDNS_EINVAL,
		  "sub.www.site.", LDNS_RR_TYPE_SOA, "" },
		{ true, "mx.site. 300 IN MX 10 Mail.Site.", NULL, NULL, TDNS_OK,
		  "mx.site.", LDNS_RR_TYPE_MX, "10 Mail.Site." },
		{ false, "mx.site.", "MX", "10 mail.site.", TDNS_OK,
		  "mx.site.", LDNS_RR_TYPE_MX, "" },
		{ false, "www.site.", "A", "192.0.2.9", TDNS_ENOTFOUND,
		  "www.site.", LDNS_RR_TYPE_A, "192.0.2.1|192.0.2.2" },
		{ false, "www.site.", "A", "192.0.2.1", TDNS_OK,
		  "www.site.", LDNS_RR_TYPE_A, "192.0.2.2" },
		{ false, "www.site.", "A", NULL, TDNS_OK,
		  "www.site.", LDNS_RR_TYPE_A, "" },
		{ false, "www.site.", "A", NULL, TDNS_ENOTFOUND,
		  "www.site.", LDNS_RR_TYPE_A, "" },
		/* Each of the six edits that succeeded raised the serial. */
		{ false, "site.", "SOA", NULL, TDNS_EINVAL,
		  "site.", LDNS_RR_TYPE_SOA, "ns1.site. hm.site. 7 2 3 4 5" },
		{ false, "site.", "NOSUCHTYPE", NULL, TDNS_EINVAL,
		  "site.", LDNS_RR_TYPE_SOA, "ns1.site. hm.site. 7 2 3 4 5" },
		{ true, "site. 60 IN SOA ns1.site. hm.site. 9 2 3 4 5", NULL, NULL, TDNS_OK,
		  "site.", LDNS_RR_TYPE_SOA, "ns1.site. hm.site. 9 2 3 4 5" },
	};
	struct fx *f = *state;
	struct tdns_zone_meta m;
	struct tdns_txn *t = NULL;
	uint8_t key[NAME_KEY_MAX];
	size_t klen = key_of("site.", key), i;

	load_ok(f->s, "$ORIGIN site.\n@ 300 IN SOA ns1 hm 1 2 3 4 5\n");
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		char err[ZONELOAD_ERR_MAX] = "", got[256];
		enum tdns_status st;

		print_message("step %zu\n", i);
		assert_int_equal(store_begin(f->s, true, &t), TDNS_OK);
		if (steps[i].add)
			st = zoneload_add(t, steps[i].a, err, sizeof(err));
		else
			st = zoneload_delete(t, steps[i].a, steps[i].b, steps[i].c, err,
					     sizeof(err));
		print_message("  -> %s\n", err);
		assert_int_equal(st, steps[i].st);
		assert_true(st == TDNS_OK || err[0] != '\0');
		if (st == TDNS_OK)
			assert_int_equal(store_commit(t), TDNS_OK);
		else
			store_abort(t);
		rrset_text(f->s, steps[i].name, steps[i].type, got, sizeof(got), NULL);
		assert_string_equal(got, steps[i].rdata);
	}
	assert_int_equal(store_begin(f->s, false, &t), TDNS_OK);
	assert_int_equal(zonedb_get_meta(t, key, klen, &m), TDNS_OK);
	assert_int_equal(m.serial, 9);
	assert_int_equal(m.rrsets, 1);
	assert_int_equal(m.records, 1);
	store_abort(t);
}


/* ---- difference sequences (zoneload_diff) ---- */

#define DZ "$ORIGIN ex.\n$TTL 300\n@ SOA ns1 hm 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\n" \
	   "www A 192.0.2.2\nwww TXT \"a\"\nwww TXT \"b\"\nmx MX 10 Mail.ex.\n"
#define DSOA1 "- ex. 300 IN SOA ns1.ex. hm.ex. 1 2 3 4 5\n"
#define DSOA2 "+ ex. 300 IN SOA ns1.ex. hm.ex. 2 2 3 4 5\n"
#define DSIG " 20300101000000 20200101000000 1 site. "
#define DSIGNED "$ORIGIN site.\n$TTL 300\n@ SOA ns1 hm 7 2 3 4 5\n" \
	"@ 600 RRSIG SOA 13 1 300" DSIG "c29h\n@ NS ns1\n@ 600 RRSIG NS 13 1 300" DSIG "bnMx\n" \
	"@ NSEC3PARAM 1 0 0 -\n@ 600 RRSIG NSEC3PARAM 13 1 300" DSIG "cGFy\n" \
	"ns1 A 192.0.2.1\nns1 600 RRSIG A 13 2 300" DSIG "YTEx\n" \
	H1 " NSEC3 1 0 0 - " H2 " NS SOA RRSIG NSEC3PARAM\n" \
	H1 " 600 RRSIG NSEC3 13 2 300" DSIG "bjEx\n" \
	H2 " NSEC3 1 0 0 - " H1 " A RRSIG\n" H2 " 600 RRSIG NSEC3 13 2 300" DSIG "bjEy\n"
#define DPARENT "$ORIGIN p.\n$TTL 300\n@ SOA ns1 hm 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\n"
#define DCHILD "$ORIGIN kid.p.\n@ SOA ns1 hm 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.2\n"
#define DSREC "kid.p. 300 IN DS 1 13 2 " \
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"

/* The zone of apex dumped (and its counts), malloc'd. */
static char *zone_state(struct tdns_store *s, const char *apex_name)
{
	struct tdns_txn *t = NULL;
	struct tdns_zone_meta m;
	uint8_t apex[NAME_KEY_MAX];
	size_t alen = key_of(apex_name, apex), len = 0;
	char *buf = NULL;
	FILE *fp = open_memstream(&buf, &len);

	assert_non_null(fp);
	assert_int_equal(store_begin(s, false, &t), TDNS_OK);
	assert_int_equal(zonedb_get_meta(t, apex, alen, &m), TDNS_OK);
	fprintf(fp, "serial %u rrsets %u records %u\n", (unsigned)m.serial,
		(unsigned)m.rrsets, (unsigned)m.records);
	assert_int_equal(zoneload_dump(t, apex, alen, fp), TDNS_OK);
	store_abort(t);
	fclose(fp);
	return buf;
}

/*
 * One IXFR difference sequence applied to a stored zone: the result is the
 * zone a load of the new version gives (its dump and its counts), the
 * journal holds the diff; a sequence that does not apply changes nothing.
 */
static void test_diff(void **state)
{
	static const struct {
		const char *apex;
		const char *child;  /* a deeper zone held in the store too, or NULL */
		const char *before; /* the zone */
		const char *seq;    /* "- record" deleted, "+ record" added, in order */
		enum tdns_status want;
		const char *after;  /* the zone a load of the new version makes */
		uint32_t j_del, j_add; /* the journal's diff: records deleted, added */
		uint32_t written, occluded;
	} cases[] = {
		/* names in any case, TTL ignored for deletions */
		{ "ex.", NULL, DZ, DSOA1 "- WWW.EX. 999 IN A 192.0.2.2\n" DSOA2
		  "+ www.ex. 300 IN A 192.0.2.3\n", TDNS_OK,
		  "$ORIGIN ex.\n$TTL 300\n@ SOA ns1 hm 2 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\n"
		  "www A 192.0.2.3\nwww TXT \"a\"\nwww TXT \"b\"\nmx MX 10 Mail.ex.\n",
		  2, 2, 2, 0 },
		/* a name in rdata compared case-insensitively; the RRset goes */
		{ "ex.", NULL, DZ, DSOA1 "- mx.ex. 300 IN MX 10 MAIL.EX.\n" DSOA2, TDNS_OK,
		  "$ORIGIN ex.\n$TTL 300\n@ SOA ns1 hm 2 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\n"
		  "www A 192.0.2.2\nwww TXT \"a\"\nwww TXT \"b\"\n", 2, 1, 2, 0 },
		/* one record of two; a record added that is there is kept once,
		 * the RRset takes the TTL of the last added (RFC 2181 5.2) */
		{ "ex.", NULL, DZ, DSOA1 "- www.ex. 300 IN TXT \"b\"\n" DSOA2
		  "+ www.ex. 60 IN TXT \"a\"\n+ www.ex. 60 IN TXT \"c\"\n+ new.ex. 5 IN A 192.0.2.9\n",
		  TDNS_OK,
		  "$ORIGIN ex.\n$TTL 300\n@ SOA ns1 hm 2 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\n"
		  "www A 192.0.2.2\nwww 60 TXT \"a\"\nwww 60 TXT \"c\"\nmx MX 10 Mail.ex.\n"
		  "new 5 A 192.0.2.9\n", 3, 4, 3, 0 },
		/* a deleted record that is not there: another version */
		{ "ex.", NULL, DZ, DSOA1 "- www.ex. 300 IN A 192.0.2.99\n" DSOA2, TDNS_ENOTFOUND, NULL,
		  0, 0, 0, 0 },
		/* so is another old SOA */
		{ "ex.", NULL, DZ, "- ex. 300 IN SOA ns1.ex. hm.ex. 7 2 3 4 5\n" DSOA2, TDNS_ENOTFOUND,
		  NULL, 0, 0, 0, 0 },
		/* the old SOA kept: two SOAs */
		{ "ex.", NULL, DZ, "- www.ex. 300 IN A 192.0.2.2\n" DSOA2, TDNS_EINVAL, NULL, 0, 0, 0, 0 },
		/* a record out of the zone */
		{ "ex.", NULL, DZ, DSOA1 DSOA2 "+ www.other. 300 IN A 192.0.2.3\n", TDNS_EINVAL, NULL,
		  0, 0, 0, 0 },
		/* signed: signatures go with their RRset, NSEC3 to the index */
		{ "site.", NULL, DSIGNED,
		  "- site. 300 IN SOA ns1.site. hm.site. 7 2 3 4 5\n"
		  "- site. 600 IN RRSIG SOA 13 1 300" DSIG "c29h\n"
		  "- ns1.site. 300 IN A 192.0.2.1\n"
		  "- ns1.site. 600 IN RRSIG A 13 2 300" DSIG "YTEx\n"
		  "- " H2 ".site. 300 IN NSEC3 1 0 0 - " H1 " A RRSIG\n"
		  "- " H2 ".site. 600 IN RRSIG NSEC3 13 2 300" DSIG "bjEy\n"
		  "+ site. 300 IN SOA ns1.site. hm.site. 8 2 3 4 5\n"
		  "+ site. 600 IN RRSIG SOA 13 1 300" DSIG "c29i\n"
		  "+ ns1.site. 300 IN A 192.0.2.2\n"
		  "+ ns1.site. 600 IN RRSIG A 13 2 300" DSIG "YTEy\n"
		  "+ " H3 ".site. 300 IN NSEC3 1 0 0 - " H1 " A RRSIG\n"
		  "+ " H3 ".site. 600 IN RRSIG NSEC3 13 2 300" DSIG "bjEz\n"
		  "+ www.site. 300 IN A 192.0.2.7\n", TDNS_OK,
		  "$ORIGIN site.\n$TTL 300\n@ SOA ns1 hm 8 2 3 4 5\n"
		  "@ 600 RRSIG SOA 13 1 300" DSIG "c29i\n@ NS ns1\n"
		  "@ 600 RRSIG NS 13 1 300" DSIG "bnMx\n"
		  "@ NSEC3PARAM 1 0 0 -\n@ 600 RRSIG NSEC3PARAM 13 1 300" DSIG "cGFy\n"
		  "ns1 A 192.0.2.2\nns1 600 RRSIG A 13 2 300" DSIG "YTEy\n"
		  H1 " NSEC3 1 0 0 - " H2 " NS SOA RRSIG NSEC3PARAM\n"
		  H1 " 600 RRSIG NSEC3 13 2 300" DSIG "bjEx\n"
		  H3 " NSEC3 1 0 0 - " H1 " A RRSIG\n" H3 " 600 RRSIG NSEC3 13 2 300" DSIG "bjEz\n"
		  "www A 192.0.2.7\n", 6, 7, 5, 0 },
		/* a deeper zone in the store keeps its names; the DS at its apex
		 * is the parent's (RFC 4035 3.1.4.1) */
		{ "p.", DCHILD, DPARENT, "- p. 300 IN SOA ns1.p. hm.p. 1 2 3 4 5\n"
		  "+ p. 300 IN SOA ns1.p. hm.p. 2 2 3 4 5\n+ kid.p. 300 IN NS ns1.kid.p.\n"
		  "+ ns1.kid.p. 300 IN A 192.0.2.2\n+ " DSREC, TDNS_OK,
		  "$ORIGIN p.\n$TTL 300\n@ SOA ns1 hm 2 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\n"
		  "kid NS ns1.kid\nns1.kid A 192.0.2.2\n" DSREC, 1, 2, 2, 2 },
	};
	struct fx *f = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ldns_rr *del[16], *add[16];
		size_t n_del = 0, n_add = 0;
		char err[ZONELOAD_ERR_MAX] = "", dir2[64];
		const char *apex_name = cases[i].apex;
		char *seq = strdup(cases[i].seq), *line, *save = NULL, *before, *after, *want;
		struct zoneload_diff_info info;
		struct tdns_store *s2 = NULL;
		struct tdns_txn *t = NULL;
		struct journal_diff jd;
		uint8_t apex[NAME_KEY_MAX];
		size_t alen;
		enum tdns_status st;

		assert_non_null(seq);
		assert_int_equal(store_begin(f->s, true, &t), TDNS_OK);
		assert_int_equal(store_clear(t, TDNS_DB_RR), TDNS_OK);
		assert_int_equal(store_clear(t, TDNS_DB_ZONES), TDNS_OK);
		assert_int_equal(store_clear(t, TDNS_DB_DNSSEC), TDNS_OK);
		assert_int_equal(store_clear(t, TDNS_DB_JOURNAL), TDNS_OK);
		assert_int_equal(store_commit(t), TDNS_OK);
		if (cases[i].child != NULL)
			load_ok(f->s, cases[i].child);
		load_ok(f->s, cases[i].before);
		for (line = strtok_r(seq, "\n", &save); line != NULL;
		     line = strtok_r(NULL, "\n", &save)) {
			ldns_rr *rr = NULL;

			assert_int_equal(ldns_rr_new_frm_str(&rr, line + 2, 0, NULL, NULL),
					 LDNS_STATUS_OK);
			if (line[0] == '-')
				del[n_del++] = rr;
			else
				add[n_add++] = rr;
		}
		alen = key_of(apex_name, apex);
		before = zone_state(f->s, apex_name);
		assert_int_equal(store_begin(f->s, true, &t), TDNS_OK);
		st = zoneload_diff(t, apex, alen, del, n_del, add, n_add, &info, err,
				   sizeof(err));
		if (st != cases[i].want)
			fail_msg("case %zu: %s, want %s (%s)", i, tdns_strerror(st),
				 tdns_strerror(cases[i].want), err);
		if (st != TDNS_OK) {
			store_abort(t);
			assert_true(err[0] != '\0');
			after = zone_state(f->s, apex_name);
			assert_string_equal(before, after);
		} else {
			assert_int_equal(store_commit(t), TDNS_OK);
			if (info.rrsets_written != cases[i].written ||
			    info.occluded != cases[i].occluded)
				fail_msg("case %zu: %u RRsets written, %u occluded", i,
					 (unsigned)info.rrsets_written, (unsigned)info.occluded);
			after = zone_state(f->s, apex_name);
			tu_tmpdir(dir2);
			assert_int_equal(store_open(dir2, NULL, &s2), TDNS_OK);
			if (cases[i].child != NULL)
				load_ok(s2, cases[i].child);
			load_ok(s2, cases[i].after);
			want = zone_state(s2, apex_name);
			if (strcmp(after, want) != 0)
				fail_msg("case %zu: got\n%s\nwant\n%s", i, after, want);
			free(want);
			store_close(s2);
			tu_rmdir(dir2);
			/* The diff from the old serial, for this store's own
			 * secondaries. */
			assert_int_equal(store_begin(f->s, false, &t), TDNS_OK);
			assert_int_equal(journal_get(t, apex, alen,
						     ldns_rdf2native_int32(ldns_rr_rdf(del[0], 2)),
						     &jd), TDNS_OK);
			if (jd.to != info.serial || jd.deleted != cases[i].j_del ||
			    jd.added != cases[i].j_add)
				fail_msg("case %zu: journal %u -> %u, -%u +%u", i, (unsigned)jd.from,
					 (unsigned)jd.to, (unsigned)jd.deleted,
					 (unsigned)jd.added);
			store_abort(t);
		}
		free(before);
		free(after);
		for (size_t k = 0; k < n_del; k++)
			ldns_rr_free(del[k]);
		for (size_t k = 0; k < n_add; k++)
			ldns_rr_free(add[k]);
		free(seq);
	}
}

/* zoneload_records: records given one at a time make the zone their text
 * makes; a record that cannot be read adds nothing. */
struct rec_it {
	ldns_rr_list *l;
	size_t i, fail_at; /* next fails at record fail_at (0: never) */
};

static bool rec_next(void *ctx, ldns_rr **rr)
{
	struct rec_it *it = ctx;

	*rr = NULL;
	if (it->fail_at > 0 && it->i + 1 == it->fail_at)
		return false;
	if (it->i < ldns_rr_list_rr_count(it->l))
		*rr = ldns_rr_clone(ldns_rr_list_rr(it->l, it->i++));
	return true;
}

static void test_records(void **state)
{
	struct fx *f = *state;
	struct rec_it it = { NULL, 0, 0 };
	struct tdns_zoneset *zs;
	struct tdns_store *s2 = NULL;
	ldns_zone *lz = NULL;
	FILE *fp = fmemopen((void *)(uintptr_t)DSIGNED, strlen(DSIGNED), "r");
	char err[ZONELOAD_ERR_MAX] = "", dir2[64], *got, *want;

	assert_non_null(fp);
	assert_int_equal(ldns_zone_new_frm_fp(&lz, fp, NULL, 0, LDNS_RR_CLASS_IN),
			 LDNS_STATUS_OK);
	fclose(fp);
	it.l = ldns_rr_list_clone(ldns_zone_rrs(lz));
	assert_non_null(it.l);
	assert_true(ldns_rr_list_push_rr(it.l, ldns_rr_clone(ldns_zone_soa(lz))));
	ldns_zone_deep_free(lz);

	zs = zoneload_new();
	it.fail_at = 3;
	assert_int_equal(zoneload_records(zs, rec_next, &it, "xfr", err, sizeof(err)),
			 TDNS_EIO);
	assert_string_equal(err, "xfr: record 3 cannot be read");
	assert_int_equal(zoneload_count(zs), 0);
	it.i = 0;
	it.fail_at = 0;
	assert_int_equal(zoneload_records(zs, rec_next, &it, "xfr", err, sizeof(err)),
			 TDNS_OK);
	assert_int_equal(zoneload_commit(zs, f->s), TDNS_OK);
	zoneload_free(zs);
	got = zone_state(f->s, "site.");
	tu_tmpdir(dir2);
	assert_int_equal(store_open(dir2, NULL, &s2), TDNS_OK);
	load_ok(s2, DSIGNED);
	want = zone_state(s2, "site.");
	assert_string_equal(got, want);
	store_close(s2);
	tu_rmdir(dir2);
	free(got);
	free(want);
	ldns_rr_list_deep_free(it.l);
}

/* A record a primary's transfer cut short, an SOA whose rdata ends after
 * its retry field (ldns's wire parser takes it, five fields of seven), is
 * refused as its text would be: its rdata does not have its type's
 * layout. */
static void test_records_short_soa(void **state)
{
	struct rec_it it = { NULL, 0, 0 };
	struct tdns_zoneset *zs = zoneload_new();
	ldns_rr *soa = NULL, *ns = NULL;
	char err[ZONELOAD_ERR_MAX] = "";

	(void)state;
	assert_non_null(zs);
	assert_int_equal(ldns_rr_new_frm_str(&soa, "cut. 300 IN SOA ns.cut. hm.cut. 1 2 3 4 5",
					     0, NULL, NULL), LDNS_STATUS_OK);
	assert_int_equal(ldns_rr_new_frm_str(&ns, "cut. 300 IN NS ns.cut.", 0, NULL, NULL),
			 LDNS_STATUS_OK);
	ldns_rdf_deep_free(ldns_rr_pop_rdf(soa));
	ldns_rdf_deep_free(ldns_rr_pop_rdf(soa));
	it.l = ldns_rr_list_new();
	assert_non_null(it.l);
	assert_true(ldns_rr_list_push_rr(it.l, soa));
	assert_true(ldns_rr_list_push_rr(it.l, ns));
	assert_int_equal(zoneload_records(zs, rec_next, &it, "xfr", err, sizeof(err)),
			 TDNS_EPARSE);
	assert_non_null(strstr(err, "does not have the layout of type SOA"));
	assert_int_equal(zoneload_count(zs), 0);
	zoneload_free(zs);
	ldns_rr_list_deep_free(it.l);
}

/* Opaque types may be empty (RFC 3597 5: \# 0): NULL, whose one field
 * ldns does not lay out, and a type it does not know, load; a known type
 * short of its fields (an MX of one) does not. */
static void test_empty_opaque_rdata(void **state)
{
	struct fx *f = *state;
	struct tdns_store *s = f->s;
	char err[ZONELOAD_ERR_MAX] = "";

	load_ok(s, "$ORIGIN op.\n$TTL 300\n@ SOA ns h 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n"
		   "n NULL \\# 0\nu TYPE54 \\# 0\nv TYPE65280 \\# 0\n");
	assert_int_equal(zoneload_string(s, "$ORIGIN op2.\n$TTL 300\n@ SOA ns h 1 2 3 4 5\n"
					    "@ NS ns\nns A 192.0.2.1\nm MX \\# 2 000a\n",
					 err, sizeof(err)), TDNS_EPARSE);
	assert_non_null(strstr(err, "layout of type MX"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_parse_features, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicates, setup, teardown),
		cmocka_unit_test(test_garbage_input),
		cmocka_unit_test_setup_teardown(test_ttl_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_origin_means_apex, setup, teardown),
		cmocka_unit_test(test_errors_name_file_and_line),
		cmocka_unit_test_setup_teardown(test_bad_late_line_leaves_store_unchanged,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload_replaces_zone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload_writes_only_differences, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_full_map_leaves_store_unchanged, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_readers_see_old_or_new, setup, teardown),
		cmocka_unit_test_setup_teardown(test_root_reload_keeps_site, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_loads_nested_zones_together, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_dump_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_signed_zone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parent_ds_at_child_apex, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_add_and_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_diff, setup, teardown),
		cmocka_unit_test_setup_teardown(test_records, setup, teardown),
		cmocka_unit_test(test_records_short_soa),
		cmocka_unit_test_setup_teardown(test_empty_opaque_rdata, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
