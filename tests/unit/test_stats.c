/*
 * test_stats.c - the statistics (stats.h): an add by the writer is seen
 * whole by a reader on another thread and none is lost; answers counted by
 * rcode, transport, opcode and qtype, summed, reset by subtraction; every
 * counter of the text output has its Prometheus sample, and each family's
 * samples are together.
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tierdns/dnsproto.h"
#include "tierdns/resolve.h"
#include "tierdns/stats.h"

#define ADDS 2000000u

struct race {
	tdns_counter c;
	atomic_bool go, done;
};

static void *writer(void *arg)
{
	struct race *r = arg;

	/* the reader is in its loop before the first add (a loaded machine
	 * may run the whole writer before the reader gets a turn) */
	while (!atomic_load(&r->go))
		sched_yield();
	for (unsigned i = 0; i < ADDS; i++)
		stats_add(&r->c, (i & 1) ? 1 : 0x100000001ull);
	atomic_store(&r->done, true);
	return NULL;
}

/* Odd adds are 1, even ones 2^32 + 1: a torn read (half of an old value,
 * half of a new) would show a high word ahead of or behind the low word's
 * count, and a lost add a total short of the sum. */
static void test_single_writer(void **state)
{
	struct race r;
	pthread_t t;
	uint64_t v, last = 0, reads = 0;

	(void)state;
	memset(&r, 0, sizeof(r));
	assert_int_equal(pthread_create(&t, NULL, writer, &r), 0);
	while (!atomic_load(&r.done)) {
		v = stats_get(&r.c);
		atomic_store(&r.go, true);
		assert_true(v >= last);
		/* after k adds: high = ceil(k/2), low = k */
		assert_true((v >> 32) == ((v & 0xffffffffu) + 1) / 2);
		last = v;
		reads++;
	}
	pthread_join(t, NULL);
	assert_int_equal(stats_get(&r.c), ((uint64_t)(ADDS / 2) << 32) + ADDS);
	assert_true(reads > 0);
}

static void test_answers_summed(void **state)
{
	struct tdns_stats *s = calloc(2, sizeof(*s));
	struct tdns_stats_sum sum, base;

	(void)state;
	assert_non_null(s);
	stats_answered(&s[0], false, true, DNS_RCODE_NOERROR, 0, true, DNS_TYPE_A);
	stats_answered(&s[0], false, true, DNS_RCODE_NXDOMAIN, 0, true, DNS_TYPE_AAAA);
	stats_answered(&s[0], true, true, DNS_RCODE_NOERROR, 0, true, DNS_TYPE_MX);
	stats_answered(&s[1], false, true, DNS_RCODE_NOTIMP, 5, false, 0);
	stats_answered(&s[1], false, true, DNS_RCODE_BADCOOKIE, 0, true, 65280);
	stats_answered(&s[1], true, false, 0, 0, false, 0);
	memset(&sum, 0, sizeof(sum));
	stats_sum_add(&sum, &s[0]);
	stats_sum_add(&sum, &s[1]);
	assert_int_equal(sum.queries_udp, 4);
	assert_int_equal(sum.queries_tcp, 2);
	assert_int_equal(sum.dropped, 1);
	assert_int_equal(sum.rcode[DNS_RCODE_NOERROR], 2);
	assert_int_equal(sum.rcode[DNS_RCODE_NXDOMAIN], 1);
	assert_int_equal(sum.rcode[DNS_RCODE_NOTIMP], 1);
	assert_int_equal(sum.rcode[DNS_RCODE_BADCOOKIE & 0x0f], 1); /* header rcode */
	assert_int_equal(sum.opcode[0], 4);
	assert_int_equal(sum.opcode[5], 1);
	assert_int_equal(sum.qtype[STATS_QT_A], 1);
	assert_int_equal(sum.qtype[STATS_QT_AAAA], 1);
	assert_int_equal(sum.qtype[STATS_QT_MX], 1);
	assert_int_equal(sum.qtype[STATS_QT_OTHER], 1);
	/* a reset: the counters of now less a base */
	base = sum;
	stats_answered(&s[0], false, true, DNS_RCODE_NOERROR, 0, true, DNS_TYPE_A);
	memset(&sum, 0, sizeof(sum));
	stats_sum_add(&sum, &s[0]);
	stats_sum_add(&sum, &s[1]);
	stats_sum_sub(&sum, &base);
	assert_int_equal(sum.queries_udp, 1);
	assert_int_equal(sum.queries_tcp, 0);
	assert_int_equal(sum.qtype[STATS_QT_A], 1);
	assert_int_equal(sum.rcode[DNS_RCODE_NXDOMAIN], 0);
	free(s);
}

/* The output of sum as text (local or upper) into buf. */
static void print(const struct tdns_stats_sum *sum, bool local, bool prom, char *buf,
		  size_t cap)
{
	FILE *f = fmemopen(buf, cap, "w");

	assert_non_null(f);
	if (prom)
		stats_print_prometheus(f, sum, local);
	else
		stats_print(f, sum, local);
	fclose(f);
}

static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
		if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
			return true;
	return false;
}

static void test_new_counters_printed(void **state)
{
	static char buf[1 << 16];
	struct tdns_stats_sum sum;

	(void)state;
	memset(&sum, 0, sizeof(sum));
	sum.rrl_slipped = 3;
	sum.rrl_dropped = 4;
	sum.rrl_limited = 1;
	sum.cookie_valid = 5;
	sum.cookie_bad = 6;
	sum.cookie_client_only = 7;
	sum.cookie_badcookie = 2;
	sum.dnstap_dropped = 8;
	sum.upstream_cookie_forged = 9;
	sum.dnssec[1] = 10;
	sum.dnssec[2] = 11;
	sum.dnssec[3] = 12;
	sum.servfail_why[RESOLVER_SF_DEAD] = 13;
	sum.servfail_why[RESOLVER_SF_BOGUS] = 14;

	print(&sum, false, false, buf, sizeof(buf));
	assert_true(has_line(buf, "rrl.slipped=3"));
	assert_true(has_line(buf, "rrl.dropped=4"));
	assert_true(has_line(buf, "rrl.limited=1"));
	assert_true(has_line(buf, "cookies.valid=5"));
	assert_true(has_line(buf, "cookies.bad=6"));
	assert_true(has_line(buf, "cookies.missing=7"));
	assert_true(has_line(buf, "cookies.badcookie_sent=2"));
	assert_true(has_line(buf, "dnstap.dropped=8"));
	assert_null(strstr(buf, "servfail."));
	assert_null(strstr(buf, "dnssec."));

	print(&sum, true, false, buf, sizeof(buf));
	assert_null(strstr(buf, "rrl."));
	assert_true(has_line(buf, "cookies.valid=5"));
	assert_true(has_line(buf, "cookies.missing=7"));
	assert_true(has_line(buf, "dnstap.dropped=8"));
	assert_true(has_line(buf, "upstream.cookie_forged=9"));
	assert_true(has_line(buf, "dnssec.secure=10"));
	assert_true(has_line(buf, "dnssec.insecure=11"));
	assert_true(has_line(buf, "dnssec.bogus=12"));
	assert_true(has_line(buf, "servfail.dead=13"));
	assert_true(has_line(buf, "servfail.bogus=14"));
	assert_true(has_line(buf, "servfail.timeout=0"));

	print(&sum, true, true, buf, sizeof(buf));
	assert_true(has_line(buf, "tierdns_servfail_reason_total{reason=\"dead\"} 13"));
	assert_true(has_line(buf, "tierdns_dnssec_verdicts_total{verdict=\"bogus\"} 12"));
	assert_true(has_line(buf, "tierdns_upstream_cookie_forged_total 9"));
	print(&sum, false, true, buf, sizeof(buf));
	assert_true(has_line(buf, "tierdns_rrl_responses_total{action=\"slipped\"} 3"));
	assert_true(has_line(buf, "tierdns_cookie_queries_total{server_cookie=\"missing\"} 7"));
	assert_true(has_line(buf, "tierdns_cookie_badcookie_total 2"));
	assert_true(has_line(buf, "tierdns_dnstap_dropped_total 8"));
}

/* Every family's HELP comes once, before all of its samples. */
static void test_families_together(void **state)
{
	static char buf[1 << 16];
	struct tdns_stats_sum sum;
	char seen[128][96], *line, *save = NULL;
	unsigned n = 0;

	(void)state;
	memset(&sum, 0, sizeof(sum));
	sum.n_upstream = 2;
	snprintf(sum.up[0].addr, sizeof(sum.up[0].addr), "192.0.2.1:53");
	snprintf(sum.up[1].addr, sizeof(sum.up[1].addr), "192.0.2.2:53");
	for (int local = 0; local < 2; local++) {
		print(&sum, local, true, buf, sizeof(buf));
		n = 0;
		for (line = strtok_r(buf, "\n", &save); line != NULL;
		     line = strtok_r(NULL, "\n", &save)) {
			char fam[96];

			if (strncmp(line, "# HELP ", 7) != 0)
				continue;
			assert_int_equal(sscanf(line + 7, "%95s", fam), 1);
			for (unsigned i = 0; i < n; i++)
				assert_string_not_equal(seen[i], fam);
			assert_true(n < 128);
			snprintf(seen[n++], sizeof(seen[0]), "%s", fam);
		}
		assert_true(n >= 15);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_writer),
		cmocka_unit_test(test_answers_summed),
		cmocka_unit_test(test_new_counters_printed),
		cmocka_unit_test(test_families_together),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
