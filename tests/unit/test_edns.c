/*
 * test_edns.c - EDNS options of raw messages: edns_opt_find on replies and
 * queries, edns_opt_append on queries (the edns-tcp-keepalive a DoT
 * upstream's first query asks for, RFC 7828, and what must be left alone).
 * Packets are inline hex, spaces ignored.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"
#include "tierdns/edns.h"

#define HDR_Q1 "1234 0100 0001 0000 0000 "   /* ID 0x1234, RD, QDCOUNT 1 (ARCOUNT follows) */
#define QN "06 576542617070 04 53695465 00 " /* WeBapp.SiTe. */
#define A_IN "0001 0001 "
#define OPT_4096 "00 0029 1000 00000000 0000 "
#define OPT_DO_COOKIE "00 0029 0200 00008000 0008 fde9 0004 deadbeef "
#define REPLY_HDR(an, ar) "1234 8180 0001 " an " 0000 " ar " "
#define ANS_A "c00c 0001 0001 00000e10 0004 c0000201 "
#define OPT_KA(t) "00 0029 1000 00000000 0006 000b 0002 " t " "

static void test_opt_find(void **state)
{
	static const struct {
		const char *hex;
		uint16_t code;
		bool found;
		const char *data; /* hex of the option's data when found */
	} cases[] = {
		{ REPLY_HDR("0001", "0001") QN A_IN ANS_A OPT_KA("0019"), 11, true, "0019" },
		{ REPLY_HDR("0001", "0001") QN A_IN ANS_A OPT_KA("0019"), 10, false, NULL },
		{ REPLY_HDR("0001", "0001") QN A_IN ANS_A OPT_4096, 11, false, NULL },
		{ REPLY_HDR("0001", "0000") QN A_IN ANS_A, 11, false, NULL },
		/* a cookie, then the keepalive */
		{ REPLY_HDR("0000", "0001") QN A_IN "00 0029 1000 00000000 000e "
		  "000a 0004 deadbeef 000b 0002 0000", 11, true, "0000" },
		/* an empty keepalive (as in a query) */
		{ HDR_Q1 "0001 " QN A_IN "00 0029 1000 00000000 0004 000b 0000", 11, true, "" },
		/* an option longer than its OPT: not walked */
		{ REPLY_HDR("0000", "0001") QN A_IN "00 0029 1000 00000000 0006 000b 0004 0019",
		  11, false, NULL },
		/* a record cut short before the OPT */
		{ REPLY_HDR("0001", "0001") QN A_IN "c00c 0001 0001 00000e10 0004 c000", 11, false,
		  NULL },
		/* a label type not in use (0x40) in the answer's owner */
		{ REPLY_HDR("0001", "0001") QN A_IN "41 00 0001 0001 00000e10 0004 c0000201 "
		  OPT_KA("0019"), 11, false, NULL },
	};
	uint8_t in[512], want[16];
	const uint8_t *data;
	size_t len, dlen, i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		len = tu_unhex(cases[i].hex, in, sizeof(in));
		data = NULL;
		dlen = 99;
		assert_int_equal(edns_opt_find(in, len, cases[i].code, &data, &dlen),
				 cases[i].found);
		if (!cases[i].found)
			continue;
		assert_int_equal(dlen, tu_unhex(cases[i].data, want, sizeof(want)));
		assert_memory_equal(data, want, dlen);
		/* Cut anywhere, it is never read past the end (ASan). */
		for (size_t cut = 0; cut < len; cut++)
			(void)edns_opt_find(in, cut, cases[i].code, &data, &dlen);
	}
}

static void test_opt_append(void **state)
{
	static const struct {
		const char *q;
		const char *want; /* NULL: refused, out untouched */
	} cases[] = {
		{ HDR_Q1 "0001 " QN A_IN OPT_4096,
		  HDR_Q1 "0001 " QN A_IN "00 0029 1000 00000000 0004 000b 0000" },
		{ HDR_Q1 "0001 " QN A_IN OPT_DO_COOKIE,
		  HDR_Q1 "0001 " QN A_IN "00 0029 0200 00008000 000c fde9 0004 deadbeef "
		  "000b 0000" },
		/* no OPT: nothing to add to */
		{ HDR_Q1 "0000 " QN A_IN, NULL },
		/* the option is there already */
		{ HDR_Q1 "0001 " QN A_IN "00 0029 1000 00000000 0004 000b 0000", NULL },
		/* bytes after the OPT */
		{ HDR_Q1 "0001 " QN A_IN OPT_4096 "00", NULL },
		/* two questions */
		{ "1234 0100 0002 0000 0000 0001 " QN A_IN QN A_IN OPT_4096, NULL },
	};
	uint8_t q[512], out[512], want[512];
	size_t qlen, out_len, i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		qlen = tu_unhex(cases[i].q, q, sizeof(q));
		memset(out, 0xee, sizeof(out));
		out_len = 0;
		assert_int_equal(edns_opt_append(q, qlen, 11, NULL, 0, out, sizeof(out), &out_len),
				 cases[i].want != NULL);
		if (cases[i].want == NULL) {
			assert_int_equal(out[0], 0xee);
			continue;
		}
		assert_int_equal(out_len, tu_unhex(cases[i].want, want, sizeof(want)));
		assert_memory_equal(out, want, out_len);
		/* No room for it: refused. */
		assert_false(edns_opt_append(q, qlen, 11, NULL, 0, out, qlen + 3, &out_len));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_opt_find),
		cmocka_unit_test(test_opt_append),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
