/*
 * test_acl.c - CIDR parsing and address matching, as tables.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "tierdns/acl.h"

/* Build a sockaddr for text (v4 or v6). */
static socklen_t mkaddr(const char *text, struct sockaddr_storage *ss)
{
	struct sockaddr_in *v4 = (struct sockaddr_in *)(void *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)(void *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, text, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons(5353);
		return sizeof(*v4);
	}
	assert_int_equal(inet_pton(AF_INET6, text, &v6->sin6_addr), 1);
	v6->sin6_family = AF_INET6;
	return sizeof(*v6);
}

static void test_parse(void **state)
{
	static const struct {
		const char *text;
		bool ok;
		int family;
		unsigned prefix;
		const char *net; /* the network after masking */
	} cases[] = {
		{ "192.0.2.0/24", true, AF_INET, 24, "192.0.2.0" },
		{ "192.0.2.77/24", true, AF_INET, 24, "192.0.2.0" },
		{ "172.31.255.255/12", true, AF_INET, 12, "172.16.0.0" },
		{ "127.0.0.2", true, AF_INET, 32, "127.0.0.2" },
		{ "0.0.0.0/0", true, AF_INET, 0, "0.0.0.0" },
		{ "2001:db8::1/32", true, AF_INET6, 32, "2001:db8::" },
		{ "fdff::1/7", true, AF_INET6, 7, "fc00::" },
		{ "::1", true, AF_INET6, 128, "::1" },
		{ "::/0", true, AF_INET6, 0, "::" },
		{ "10.0.0.0/33", false, 0, 0, NULL },
		{ "::/129", false, 0, 0, NULL },
		{ "10.0.0.0/", false, 0, 0, NULL },
		{ "10.0.0.0/-1", false, 0, 0, NULL },
		{ "10.0.0.0/8x", false, 0, 0, NULL },
		{ "10.0.0/8", false, 0, 0, NULL },
		{ "/8", false, 0, 0, NULL },
		{ "", false, 0, 0, NULL },
		{ "example.com/8", false, 0, 0, NULL },
		{ "1.2.3.4 /8", false, 0, 0, NULL },
	};
	struct tdns_acl_entry e;
	uint8_t net[16];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum tdns_status st = acl_parse(cases[i].text, &e);

		if (!cases[i].ok) {
			assert_int_equal(st, TDNS_EINVAL);
			continue;
		}
		assert_int_equal(st, TDNS_OK);
		assert_int_equal(e.family, cases[i].family);
		assert_int_equal(e.prefix, cases[i].prefix);
		assert_int_equal(inet_pton(e.family, cases[i].net, net), 1);
		assert_memory_equal(e.addr, net, e.family == AF_INET ? 4 : 16);
	}
}

static void test_match(void **state)
{
	static const struct {
		const char *addr;
		bool allowed_by_default;
		bool allowed_by_custom; /* 127.0.0.2/32, 2001:db8::/32 */
	} cases[] = {
		{ "127.0.0.1", true, false },
		{ "127.255.255.254", true, false },
		{ "127.0.0.2", true, true },
		{ "10.1.2.3", true, false },
		{ "172.16.0.1", true, false },
		{ "172.31.255.255", true, false },
		{ "172.32.0.1", false, false },
		{ "172.15.255.255", false, false },
		{ "192.168.200.1", true, false },
		{ "192.169.0.1", false, false },
		{ "8.8.8.8", false, false },
		{ "::1", true, false },
		{ "::2", false, false },
		{ "fc00::1", true, false },
		{ "fdff:ffff::1", true, false },
		{ "fe80::1", false, false },
		{ "2001:db8::5", false, true },
		{ "2001:db9::5", false, false },
		/* IPv4-mapped: matched as the IPv4 address. */
		{ "::ffff:127.0.0.1", true, false },
		{ "::ffff:127.0.0.2", true, true },
		{ "::ffff:8.8.8.8", false, false },
	};
	static const char *const custom_text[] = { "127.0.0.2/32", "2001:db8::/32" };
	struct tdns_acl_entry def[ACL_N_DEFAULT], custom[2];
	struct sockaddr_storage ss;
	socklen_t len;

	(void)state;
	for (size_t i = 0; i < ACL_N_DEFAULT; i++)
		assert_int_equal(acl_parse(acl_default[i], &def[i]), TDNS_OK);
	for (size_t i = 0; i < 2; i++)
		assert_int_equal(acl_parse(custom_text[i], &custom[i]), TDNS_OK);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		len = mkaddr(cases[i].addr, &ss);
		assert_int_equal(acl_allows(def, ACL_N_DEFAULT,
					    (struct sockaddr *)&ss, len),
				 cases[i].allowed_by_default);
		assert_int_equal(acl_allows(custom, 2, (struct sockaddr *)&ss, len),
				 cases[i].allowed_by_custom);
	}
	/* An empty list, a short address, another family: nobody. */
	len = mkaddr("127.0.0.1", &ss);
	assert_false(acl_allows(def, 0, (struct sockaddr *)&ss, len));
	assert_false(acl_allows(def, ACL_N_DEFAULT, (struct sockaddr *)&ss, 4));
	ss.ss_family = AF_UNIX;
	assert_false(acl_allows(def, ACL_N_DEFAULT, (struct sockaddr *)&ss, len));
	assert_false(acl_allows(def, ACL_N_DEFAULT, NULL, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_match),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
