/*
 * acl.h - the local tier's access list: which client addresses may query
 * (tierdns-local is not an open resolver, RFC 5358 4).
 *
 * Pure: CIDR text in, a prefix out; an address in, a verdict out. No
 * allocation, nothing owned. An IPv4-mapped IPv6 peer (::ffff:a.b.c.d, as a
 * dual-stack listener on :: reports IPv4 clients) is matched as the IPv4
 * address it carries.
 */
#ifndef TIERDNS_ACL_H
#define TIERDNS_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "tierdns/status.h"

/* One allowed prefix. */
struct tdns_acl_entry {
	int family;        /* AF_INET or AF_INET6 */
	uint8_t addr[16];  /* network order; host bits cleared; 4 used for v4 */
	uint8_t mask[16];  /* the prefix as a mask: addr & mask == addr; for
			    * v4, both are 0 past the fourth byte (acl_parse
			    * makes every entry: acl_allows relies on it) */
	uint8_t prefix;    /* 0-32 (v4) or 0-128 (v6) */
};

/* The default list (RFC 5358 4: local clients only): loopback 127.0.0.0/8
 * and ::1/128, RFC 1918 10/8, 172.16/12, 192.168/16, ULA fc00::/7. */
#define ACL_N_DEFAULT 6
extern const char *const acl_default[ACL_N_DEFAULT];

/* Parse "192.0.2.0/24", "2001:db8::/32" or a bare address (a host prefix:
 * /32 or /128). Host bits set beyond the prefix are cleared. TDNS_EINVAL for
 * anything else (a bad address, a prefix out of range, trailing text). */
enum tdns_status acl_parse(const char *text, struct tdns_acl_entry *out);

/* True when sa (AF_INET or AF_INET6; len bytes) falls in one of list[0..n).
 * Any other family, or a NULL/short address, is not allowed. */
bool acl_allows(const struct tdns_acl_entry *list, size_t n,
		const struct sockaddr *sa, socklen_t len);

#endif
