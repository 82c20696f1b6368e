/*
 * test_journal.c - the zones' diffs (journal.h) as every kind of change
 * writes them, and the transfers built from them (xfr.h), bytes out.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "testutil.h"

#include "tierdns/journal.h"
#include "tierdns/xfr.h"
#include "tierdns/zonedb.h"
#include "tierdns/zoneload.h"

static const char *const ZONE =
	"$ORIGIN j.test.\n$TTL 300\n"
	"@ SOA ns1 hm 10 3600 600 86400 300\n"
	"@ NS ns1\nns1 A 192.0.2.1\nwww A 192.0.2.2\nwww A 192.0.2.3\n";

struct fx {
	char dir[64];
	struct tdns_store *s;
	uint8_t apex[NAME_KEY_MAX];
	size_t apex_len;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[ZONELOAD_ERR_MAX];

	assert_non_null(f);
	tu_tmpdir(f->dir);
	assert_int_equal(store_open(f->dir, NULL, &f->s), TDNS_OK);
	assert_int_equal(zoneload_string(f->s, ZONE, err, sizeof(err)), TDNS_OK);
	assert_int_equal(zoneload_name_key("j.test.", f->apex, &f->apex_len), TDNS_OK);
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

/* The records of the diff from serial `from` as "owner type rdata" text,
 * '|'-separated: deleted first, then "+", then added. */
static void diff_text(struct fx *f, uint32_t from, char *out, size_t cap, uint32_t *to)
{
	struct tdns_txn *t = NULL;
	struct journal_diff d;
	struct journal_rr rr;
	size_t pos = 0, len = 0;
	uint32_t n = 0;

	out[0] = '\0';
	assert_int_equal(store_begin(f->s, false, &t), TDNS_OK);
	assert_int_equal(journal_get(t, f->apex, f->apex_len, from, &d), TDNS_OK);
	*to = d.to;
	while (journal_next(&d, &pos, &rr)) {
		ldns_rdf *o = ldns_dname_new_frm_data((uint16_t)qctx_name_len(rr.owner, 255),
						      rr.owner);
		ldns_rr_list *l = NULL;
		char *os = ldns_rdf2str(o);
		struct tdns_rrset_view v;
		uint8_t val[600];
		struct tdns_rrset_enc e;
		char *rs;

		rrset_enc_init(&e, val, sizeof(val), rr.ttl);
		assert_int_equal(rrset_enc_add(&e, rr.rd + 2, rr.rdlen), TDNS_OK);
		assert_int_equal(rrset_decode(val, e.len, &v), TDNS_OK);
		assert_int_equal(zoneload_rrset_to_ldns(o, rr.type, &v, &l), TDNS_OK);
		rs = ldns_rdf2str(ldns_rr_rdf(ldns_rr_list_rr(l, 0), 0));
		if (n == d.deleted)
			len += (size_t)snprintf(out + len, cap - len, "+|");
		len += (size_t)snprintf(out + len, cap - len, "%s %u %s|", os, rr.type,
					rr.type == 6 ? "soa" : rs);
		n++;
		free(rs);
		free(os);
		ldns_rr_list_deep_free(l);
		ldns_rdf_deep_free(o);
	}
	assert_int_equal(n, d.deleted + d.added);
	store_abort(t);
}

static void edit(struct fx *f, bool add, const char *a, const char *b, const char *c)
{
	struct tdns_txn *t = NULL;
	char err[ZONELOAD_ERR_MAX];

	assert_int_equal(store_begin(f->s, true, &t), TDNS_OK);
	if (add)
		assert_int_equal(zoneload_add(t, a, err, sizeof(err)), TDNS_OK);
	else
		assert_int_equal(zoneload_delete(t, a, b, c, err, sizeof(err)), TDNS_OK);
	assert_int_equal(store_commit(t), TDNS_OK);
}

/* add, delete, reload: each a diff from the serial before, unchanged
 * records in neither list, the SOAs first. */
static void test_diffs(void **state)
{
	struct fx *f = *state;
	char text[2048], err[ZONELOAD_ERR_MAX];
	uint32_t to;
	struct tdns_txn *t = NULL;

	edit(f, true, "new.j.test. 60 IN A 192.0.2.9", NULL, NULL);
	diff_text(f, 10, text, sizeof(text), &to);
	assert_int_equal(to, 11);
	assert_string_equal(text, "j.test. 6 soa|+|j.test. 6 soa|new.j.test. 1 192.0.2.9|");

	edit(f, false, "www.j.test.", "A", "192.0.2.2");
	diff_text(f, 11, text, sizeof(text), &to);
	assert_int_equal(to, 12);
	assert_string_equal(text, "j.test. 6 soa|www.j.test. 1 192.0.2.2|+|j.test. 6 soa|");

	/* A new file with the same serial as the stored one: serial 13. */
	assert_int_equal(zoneload_string(f->s,
		"$ORIGIN j.test.\n$TTL 300\n@ SOA ns1 hm 10 3600 600 86400 300\n"
		"@ NS ns1\nns1 A 192.0.2.1\nwww A 192.0.2.3\nwww A 192.0.2.4\n"
		"new 60 A 192.0.2.9\n", err, sizeof(err)), TDNS_OK);
	diff_text(f, 12, text, sizeof(text), &to);
	assert_int_equal(to, 13);
	assert_string_equal(text, "j.test. 6 soa|+|j.test. 6 soa|www.j.test. 1 192.0.2.4|");

	/* The zone deleted: its journal goes with it. */
	assert_int_equal(store_begin(f->s, true, &t), TDNS_OK);
	assert_int_equal(zonedb_delete_zone(t, f->apex, f->apex_len), TDNS_OK);
	assert_int_equal(store_commit(t), TDNS_OK);
	assert_int_equal(store_begin(f->s, false, &t), TDNS_OK);
	{
		struct journal_diff d;

		assert_int_equal(journal_get(t, f->apex, f->apex_len, 10, &d), TDNS_ENOTFOUND);
		assert_int_equal(journal_get(t, f->apex, f->apex_len, 12, &d), TDNS_ENOTFOUND);
	}
	store_abort(t);
}

/* Nested journal_begin/end (an edit signed again in the same transaction,
 * tools/zone.c): the outer pair writes one diff of every step, from the
 * serial before the whole change; an inner load that keeps the edit's
 * serial is not raised again. */
static void test_nested(void **state)
{
	struct fx *f = *state;
	struct tdns_txn *t = NULL;
	struct tdns_zoneset *zs = zoneload_new();
	struct journal_diff d;
	char text[2048], err[ZONELOAD_ERR_MAX];
	uint32_t to;

	assert_non_null(zs);
	assert_int_equal(store_begin(f->s, true, &t), TDNS_OK);
	assert_int_equal(journal_begin(t, f->apex, f->apex_len), TDNS_OK);
	assert_int_equal(zoneload_add(t, "new.j.test. 60 IN A 192.0.2.9", err, sizeof(err)),
			 TDNS_OK);
	/* The zone as the edit left it (serial 11), one record more. */
	assert_int_equal(zoneload_text(zs, "$ORIGIN j.test.\n$TTL 300\n"
				       "@ SOA ns1 hm 11 3600 600 86400 300\n@ NS ns1\n"
				       "ns1 A 192.0.2.1\nwww A 192.0.2.2\nwww A 192.0.2.3\n"
				       "new 60 A 192.0.2.9\nmore A 192.0.2.10\n", "inline",
				       err, sizeof(err)), TDNS_OK);
	assert_int_equal(zoneload_apply(zs, t), TDNS_OK);
	assert_int_equal(journal_end(t, true), TDNS_OK);
	assert_int_equal(store_commit(t), TDNS_OK);
	zoneload_free(zs);
	diff_text(f, 10, text, sizeof(text), &to);
	assert_int_equal(to, 11);
	assert_string_equal(text, "j.test. 6 soa|+|j.test. 6 soa|new.j.test. 1 192.0.2.9|"
				  "more.j.test. 1 192.0.2.10|");
	assert_int_equal(store_begin(f->s, false, &t), TDNS_OK);
	assert_int_equal(journal_get(t, f->apex, f->apex_len, 11, &d), TDNS_ENOTFOUND);
	store_abort(t);
}

/* journal_changes: "owner/type" per record, '|'-separated. */
static int change_text(void *ctx, const uint8_t *owner, size_t olen, uint16_t type)
{
	char *out = ctx, name[NAME_WIRE_MAX * 4];
	ldns_rdf *o = ldns_dname_new_frm_data((uint16_t)olen, owner);
	char *os = o != NULL ? ldns_rdf2str(o) : NULL;

	assert_non_null(os);
	snprintf(name, sizeof(name), "%s/%u|", os, (unsigned)type);
	strcat(out, name);
	free(os);
	ldns_rdf_deep_free(o);
	return 0;
}

/* The RRsets an edit changed, as a signer of the edit reads them: each
 * record deleted then added with its owner and type, a signature as the
 * type it covers; nothing outside a followed zone. */
static void test_changes(void **state)
{
	struct fx *f = *state;
	struct tdns_txn *t = NULL;
	struct tdns_rrset_enc e;
	uint8_t val[128], key[NAME_KEY_MAX], rd[18] = { 0, 1 }; /* RRSIG covering A */
	size_t klen;
	char text[1024] = "", err[ZONELOAD_ERR_MAX];

	assert_int_equal(store_begin(f->s, true, &t), TDNS_OK);
	assert_int_equal(journal_changes(t, change_text, text), TDNS_OK);
	assert_string_equal(text, ""); /* nothing followed */
	assert_int_equal(journal_begin(t, f->apex, f->apex_len), TDNS_OK);
	assert_int_equal(zoneload_delete(t, "www.j.test.", "A", "192.0.2.3", err, sizeof(err)),
			 TDNS_OK);
	/* A signed RRset written by hand: its signature counts as an A. */
	assert_int_equal(zoneload_name_key("sig.j.test.", key, &klen), TDNS_OK);
	rrset_enc_init(&e, val, sizeof(val), 60);
	assert_int_equal(rrset_enc_add(&e, (const uint8_t *)"\xc0\0\2\1", 4), TDNS_OK);
	assert_int_equal(rrset_enc_sigs(&e, 60), TDNS_OK);
	assert_int_equal(rrset_enc_add(&e, rd, sizeof(rd)), TDNS_OK);
	assert_int_equal(zonedb_put_rrset(t, key, klen, 1, val, e.len), TDNS_OK);
	assert_int_equal(journal_changes(t, change_text, text), TDNS_OK);
	/* Deleted: www's two A and the old SOA; added: www's one A, the new
	 * SOA (the serial), sig's A and its signature. */
	assert_string_equal(text, "www.j.test./1|www.j.test./1|j.test./6|"
				  "www.j.test./1|j.test./6|sig.j.test./1|sig.j.test./1|");
	journal_end(t, false);
	store_abort(t);
}

/* journal_cut (a child's delegation in its parent's journal): nothing
 * above the top zone; a change of the child's data beside
 * the delegation is none; a change of its NS set and glue is, and noted
 * in the parent's diff (followed, its serial raised) it is what left and
 * joined the delegation; the note goes only to the parent's tracker. */
static void test_cut(void **state)
{
	struct fx *f = *state;
	struct tdns_txn *t = NULL;
	struct journal_cut *cut = NULL, *none = NULL;
	uint8_t child[NAME_KEY_MAX], other[NAME_KEY_MAX];
	const uint8_t *parent;
	size_t clen, olen, plen;
	char text[2048], err[ZONELOAD_ERR_MAX];
	uint32_t to;
	bool changed = true;

	assert_int_equal(zoneload_string(f->s,
		"$ORIGIN c.j.test.\n$TTL 600\n@ SOA ns1 hm 1 3600 600 86400 300\n"
		"@ NS ns1\n@ NS ns.elsewhere.test.\nns1 A 192.0.2.53\nx A 192.0.2.7\n",
		err, sizeof(err)), TDNS_OK);
	assert_int_equal(zoneload_name_key("c.j.test.", child, &clen), TDNS_OK);
	assert_int_equal(zoneload_name_key("d.j.test.", other, &olen), TDNS_OK);
	assert_int_equal(store_begin(f->s, true, &t), TDNS_OK);
	/* Nothing to follow for the top zone; below a zone but no zone
	 * itself, the enclosing zone's own RRsets there (none: unchanged). */
	assert_int_equal(journal_cut_take(t, f->apex, f->apex_len, &none), TDNS_OK);
	assert_null(none);
	assert_int_equal(journal_cut_changed(t, NULL, &changed), TDNS_OK);
	assert_false(changed);
	assert_int_equal(journal_cut_take(t, other, olen, &none), TDNS_OK);
	assert_non_null(none);
	assert_int_equal(zoneload_add(t, "x.c.j.test. 600 IN A 192.0.2.9", err, sizeof(err)),
			 TDNS_OK);
	assert_int_equal(journal_cut_changed(t, none, &changed), TDNS_OK);
	assert_false(changed);
	journal_cut_free(none);

	assert_int_equal(journal_cut_take(t, child, clen, &cut), TDNS_OK);
	assert_non_null(cut);
	parent = journal_cut_parent(cut, &plen);
	assert_memory_equal(parent, f->apex, f->apex_len);
	assert_int_equal(plen, f->apex_len);
	assert_int_equal(zoneload_add(t, "x.c.j.test. 600 IN A 192.0.2.8", err, sizeof(err)),
			 TDNS_OK);
	assert_int_equal(journal_cut_changed(t, cut, &changed), TDNS_OK);
	assert_false(changed);
	journal_cut_free(cut);

	assert_int_equal(journal_cut_take(t, child, clen, &cut), TDNS_OK);
	parent = journal_cut_parent(cut, &plen);
	assert_int_equal(zoneload_add(t, "c.j.test. 600 IN NS ns2.c.j.test.", err, sizeof(err)),
			 TDNS_OK);
	assert_int_equal(zoneload_add(t, "ns2.c.j.test. 600 IN A 192.0.2.54", err, sizeof(err)),
			 TDNS_OK);
	assert_int_equal(zoneload_delete(t, "c.j.test.", "NS", "ns.elsewhere.test.", err,
					 sizeof(err)), TDNS_OK);
	/* The same address with another TTL: a changed record. */
	assert_int_equal(zoneload_delete(t, "ns1.c.j.test.", "A", NULL, err, sizeof(err)),
			 TDNS_OK);
	assert_int_equal(zoneload_add(t, "ns1.c.j.test. 900 IN A 192.0.2.53", err, sizeof(err)),
			 TDNS_OK);
	assert_int_equal(journal_cut_changed(t, cut, &changed), TDNS_OK);
	assert_true(changed);
	/* Not into the child's diff. */
	assert_int_equal(journal_begin(t, child, clen), TDNS_OK);
	assert_int_equal(journal_cut_note(t, cut), TDNS_EINVAL);
	assert_int_equal(journal_end(t, false), TDNS_OK);
	assert_int_equal(journal_begin(t, parent, plen), TDNS_OK);
	assert_int_equal(zoneload_bump_serial(t, parent, plen, ZONEDB_SERIAL_ZONE), TDNS_OK);
	assert_int_equal(journal_cut_note(t, cut), TDNS_OK);
	assert_int_equal(journal_end(t, true), TDNS_OK);
	journal_cut_free(cut);
	assert_int_equal(store_commit(t), TDNS_OK);
	diff_text(f, 10, text, sizeof(text), &to);
	assert_int_equal(to, 11);
	assert_string_equal(text, "j.test. 6 soa|c.j.test. 2 ns.elsewhere.test.|"
				  "ns1.c.j.test. 1 192.0.2.53|+|j.test. 6 soa|"
				  "c.j.test. 2 ns2.c.j.test.|ns1.c.j.test. 1 192.0.2.53|"
				  "ns2.c.j.test. 1 192.0.2.54|");
}

/* A transfer's messages until the last: the answer RRs as text lines. */
static int transfer(struct fx *f, const char *qtype, int serial, char *out, size_t cap)
{
	ldns_pkt *q = NULL, *p;
	uint8_t *wire = NULL, msg[65535];
	struct xfr_out *x = NULL;
	size_t wlen, len, o = 0;
	int n = 0;
	bool more;
	char soa[128];

	assert_int_equal(ldns_pkt_query_new_frm_str(&q, "j.test.",
						    ldns_get_rr_type_by_name(qtype),
						    LDNS_RR_CLASS_IN, 0), LDNS_STATUS_OK);
	if (serial >= 0) {
		ldns_rr *rr = NULL;

		snprintf(soa, sizeof(soa), "j.test. 0 IN SOA . . %d 0 0 0 0", serial);
		assert_int_equal(ldns_rr_new_frm_str(&rr, soa, 0, NULL, NULL), LDNS_STATUS_OK);
		ldns_pkt_push_rr(q, LDNS_SECTION_AUTHORITY, rr);
	}
	assert_int_equal(ldns_pkt2wire(&wire, q, &wlen), LDNS_STATUS_OK);
	assert_int_equal(xfr_start(f->s, wire, wlen, NULL, 0, &x), TDNS_OK);
	out[0] = '\0';
	do {
		more = xfr_next(x, msg, &len);
		assert_true(len > 0);
		assert_int_equal(ldns_wire2pkt(&p, msg, len), LDNS_STATUS_OK);
		for (size_t i = 0; i < ldns_pkt_ancount(p); i++) {
			ldns_rr *rr = ldns_rr_list_rr(ldns_pkt_answer(p), i);
			char *s = ldns_rdf2str(ldns_rr_rdf(rr, ldns_rr_get_type(rr) ==
							   LDNS_RR_TYPE_SOA ? 2 : 0));

			o += (size_t)snprintf(out + o, cap - o, "%s%s", o ? "|" : "", s);
			free(s);
		}
		ldns_pkt_free(p);
		n++;
	} while (more);
	xfr_free(x);
	LDNS_FREE(wire);
	ldns_pkt_free(q);
	return n;
}

static void test_xfr(void **state)
{
	struct fx *f = *state;
	char text[4096];

	edit(f, true, "new.j.test. 60 IN A 192.0.2.9", NULL, NULL);
	edit(f, false, "www.j.test.", "A", "192.0.2.2");
	/* SOA serials and the records' first rdata field. */
	transfer(f, "AXFR", -1, text, sizeof(text));
	assert_string_equal(text, "12|ns1.j.test.|192.0.2.9|192.0.2.1|192.0.2.3|12");
	transfer(f, "IXFR", 10, text, sizeof(text));
	assert_string_equal(text, "12|10|11|192.0.2.9|11|192.0.2.2|12|12");
	transfer(f, "IXFR", 11, text, sizeof(text));
	assert_string_equal(text, "12|11|192.0.2.2|12|12");
	transfer(f, "IXFR", 12, text, sizeof(text));
	assert_string_equal(text, "12");
	/* Older than the journal: the whole zone. */
	transfer(f, "IXFR", 9, text, sizeof(text));
	assert_string_equal(text, "12|ns1.j.test.|192.0.2.9|192.0.2.1|192.0.2.3|12");
}

/* A zone of 20,000 RRsets goes out in several messages, each under 64 KiB,
 * every RRset once, from one snapshot: a change committed between two
 * messages is not in it. */
static void test_xfr_many_messages(void **state)
{
	struct fx *f = *state;
	char *zone = malloc(1u << 20), err[ZONELOAD_ERR_MAX];
	size_t o;
	ldns_pkt *q = NULL, *p;
	uint8_t *wire = NULL, msg[65535];
	struct xfr_out *x = NULL;
	size_t wlen, len;
	unsigned a = 0, soa = 0, msgs = 0;
	bool more, late = false;

	assert_non_null(zone);
	o = (size_t)snprintf(zone, 1u << 20, "$ORIGIN j.test.\n$TTL 300\n"
			     "@ SOA ns1 hm 20 3600 600 86400 300\n@ NS ns1\n");
	for (int i = 0; i < 20000; i++)
		o += (size_t)snprintf(zone + o, (1u << 20) - o, "h%d A 10.0.%d.%d\n", i,
				      i / 256 % 256, i % 256);
	assert_int_equal(zoneload_string(f->s, zone, err, sizeof(err)), TDNS_OK);
	assert_int_equal(ldns_pkt_query_new_frm_str(&q, "j.test.", LDNS_RR_TYPE_AXFR,
						    LDNS_RR_CLASS_IN, 0), LDNS_STATUS_OK);
	assert_int_equal(ldns_pkt2wire(&wire, q, &wlen), LDNS_STATUS_OK);
	assert_int_equal(xfr_start(f->s, wire, wlen, NULL, 0, &x), TDNS_OK);
	do {
		more = xfr_next(x, msg, &len);
		if (msgs == 1)
			edit(f, true, "late.j.test. 60 IN A 192.0.2.99", NULL, NULL);
		assert_true(len > 0 && len <= 65535);
		assert_int_equal(ldns_wire2pkt(&p, msg, len), LDNS_STATUS_OK);
		for (size_t i = 0; i < ldns_pkt_ancount(p); i++) {
			ldns_rr *rr = ldns_rr_list_rr(ldns_pkt_answer(p), i);

			a += ldns_rr_get_type(rr) == LDNS_RR_TYPE_A;
			soa += ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA;
			late = late ||
			       memcmp(ldns_rdf_data(ldns_rr_owner(rr)), "\4late", 5) == 0;
		}
		ldns_pkt_free(p);
		msgs++;
	} while (more);
	assert_true(msgs > 3);
	assert_int_equal(a, 20000);
	assert_int_equal(soa, 2);
	assert_false(late);
	xfr_free(x);
	LDNS_FREE(wire);
	ldns_pkt_free(q);
	free(zone);
}

/* RFC 1982 serials and the two policies of add/delete. */
static void test_serials(void **state)
{
	(void)state;
	assert_int_equal(zonedb_next_serial(5, ZONEDB_SERIAL_INCREMENT, 1000), 6);
	assert_int_equal(zonedb_next_serial(0xffffffffu, ZONEDB_SERIAL_INCREMENT, 0), 0);
	assert_int_equal(zonedb_next_serial(5, ZONEDB_SERIAL_UNIXTIME, 1700000000u),
			 1700000000u);
	/* The clock behind the serial (a date-based serial, 2026120601):
	 * by one. */
	assert_int_equal(zonedb_next_serial(2026120601u, ZONEDB_SERIAL_UNIXTIME, 1700000000u),
			 2026120602u);
	assert_int_equal(zonedb_next_serial(1700000000u, ZONEDB_SERIAL_UNIXTIME, 1700000000u),
			 1700000001u);
	assert_true(zonedb_serial_gt(6, 5));
	assert_false(zonedb_serial_gt(5, 5));
	assert_false(zonedb_serial_gt(5, 6));
	assert_true(zonedb_serial_gt(0, 0xffffffffu));
	assert_false(zonedb_serial_gt(77 + 0x80000000u, 77));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_serials),
		cmocka_unit_test_setup_teardown(test_diffs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nested, setup, teardown),
		cmocka_unit_test_setup_teardown(test_changes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cut, setup, teardown),
		cmocka_unit_test_setup_teardown(test_xfr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_xfr_many_messages, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
