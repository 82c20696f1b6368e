/*
 * acl.c - CIDR prefixes and the match of a client address (see acl.h).
 */
#include "tierdns/acl.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

const char *const acl_default[ACL_N_DEFAULT] = {
	"127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
	"fc00::/7",
};

/* Clear every bit of a[] beyond the first `prefix`. */
static void mask_bits(uint8_t *a, size_t len, unsigned prefix)
{
	for (size_t i = 0; i < len; i++) {
		unsigned keep = prefix >= 8 * (i + 1) ? 8
				: prefix > 8 * i ? prefix - 8 * (unsigned)i : 0;

		a[i] &= (uint8_t)(0xff00u >> keep);
	}
}

enum tdns_status acl_parse(const char *text, struct tdns_acl_entry *out)
{
	char buf[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(text, '/');
	size_t alen = slash != NULL ? (size_t)(slash - text) : strlen(text);
	unsigned long prefix;
	unsigned max;
	char *end;

	memset(out, 0, sizeof(*out));
	if (alen == 0 || alen >= sizeof(buf))
		return TDNS_EINVAL;
	memcpy(buf, text, alen);
	buf[alen] = '\0';
	if (inet_pton(AF_INET, buf, out->addr) == 1) {
		out->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
		out->family = AF_INET6;
		max = 128;
	} else {
		return TDNS_EINVAL;
	}
	prefix = max;
	if (slash != NULL) {
		if (slash[1] < '0' || slash[1] > '9')
			return TDNS_EINVAL;
		prefix = strtoul(slash + 1, &end, 10);
		if (*end != '\0' || prefix > max)
			return TDNS_EINVAL;
	}
	out->prefix = (uint8_t)prefix;
	memset(out->mask, 0xff, max / 8);
	mask_bits(out->mask, max / 8, (unsigned)prefix);
	mask_bits(out->addr, max / 8, (unsigned)prefix);
	return TDNS_OK;
}

bool acl_allows(const struct tdns_acl_entry *list, size_t n,
		const struct sockaddr *sa, socklen_t len)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	uint8_t addr[16] = { 0 };
	uint64_t a0, a1, m0, m1, e0, e1;
	int family;

	if (sa == NULL)
		return false;
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		memcpy(addr, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
		family = AF_INET;
	} else if (sa->sa_family == AF_INET6 &&
		   len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		memcpy(addr, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
		family = AF_INET6;
		if (memcmp(addr, mapped, sizeof(mapped)) == 0) {
			memmove(addr, addr + 12, 4);
			memset(addr + 4, 0, 12);
			family = AF_INET;
		}
	} else {
		return false;
	}
	/* Every query passes here: the mask is precomputed (acl_parse), and
	 * an IPv4 entry's bytes past the fourth are 0 in both its address
	 * and its mask, so one 16-byte test serves both families. */
	memcpy(&a0, addr, 8);
	memcpy(&a1, addr + 8, 8);
	for (size_t i = 0; i < n; i++) {
		if (list[i].family != family)
			continue;
		memcpy(&m0, list[i].mask, 8);
		memcpy(&m1, list[i].mask + 8, 8);
		memcpy(&e0, list[i].addr, 8);
		memcpy(&e1, list[i].addr + 8, 8);
		if ((((a0 & m0) ^ e0) | ((a1 & m1) ^ e1)) == 0)
			return true;
	}
	return false;
}
