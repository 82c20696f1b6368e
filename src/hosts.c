/*
 * hosts.c - hosts files into policy records, see hosts.h.
 */
#include "tierdns/hosts.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tierdns/dnsproto.h"
#include "tierdns/log.h"
#include "tierdns/name.h"
#include "tierdns/zoneload.h"

#define HOSTS_LINE_MAX 4096
#define HOSTS_NAMES_MAX 64

/* The reverse name of an address (RFC 1035 3.5, RFC 3596 2.5) as text. */
static void reverse_name(int af, const uint8_t *addr, char *out, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (af == AF_INET) {
		snprintf(out, cap, "%u.%u.%u.%u.in-addr.arpa.", addr[3], addr[2], addr[1], addr[0]);
		return;
	}
	for (int i = 15; i >= 0 && o + 4 < cap; i--) {
		out[o++] = hex[addr[i] & 0xf];
		out[o++] = '.';
		out[o++] = hex[addr[i] >> 4];
		out[o++] = '.';
	}
	snprintf(out + o, cap - o, "ip6.arpa.");
}

static bool unspecified(const uint8_t *addr, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (addr[i] != 0)
			return false;
	return true;
}

/* One line (comment already cut). Returns false for a bad line, with why;
 * *st is set only when memory ran out. */
static bool hosts_line(struct tdns_policy_build *b, char *line, const char **why,
		       enum tdns_status *st)
{
	uint8_t addr[16], key[NAME_KEY_MAX], first[NAME_WIRE_MAX];
	char rev[80], *tok, *save = NULL, *name[HOSTS_NAMES_MAX];
	size_t klen, first_len = 0, alen;
	int af;
	unsigned names = 0;

	tok = strtok_r(line, " \t\r\n", &save);
	if (tok == NULL)
		return true; /* blank */
	if (inet_pton(AF_INET, tok, addr) == 1) {
		af = AF_INET;
		alen = 4;
	} else if (inet_pton(AF_INET6, tok, addr) == 1) {
		af = AF_INET6;
		alen = 16;
	} else {
		*why = "not an IPv4 or IPv6 address";
		return false;
	}
	/* Every name is checked before any is added: a bad line adds nothing. */
	while ((tok = strtok_r(NULL, " \t\r\n", &save)) != NULL) {
		if (names == HOSTS_NAMES_MAX) {
			*why = "too many names";
			return false;
		}
		if (zoneload_name_key(tok, key, &klen) != TDNS_OK || klen == 0) {
			*why = "not a host name";
			return false;
		}
		name[names++] = tok;
	}
	for (unsigned i = 0; i < names; i++) {
		if (zoneload_name_key(name[i], key, &klen) != TDNS_OK)
			continue;
		*st = policy_build_record(b, POLICY_T_LOCAL, key, klen, af == AF_INET ? DNS_TYPE_A : DNS_TYPE_AAAA,
					  HOSTS_TTL, addr, alen, false);
		if (*st != TDNS_OK)
			return false;
		if (i == 0 && name_key_to_wire(key, klen, first, &first_len) != TDNS_OK)
			first_len = 0;
	}
	if (names == 0) {
		*why = "an address without a name";
		return false;
	}
	if (first_len == 0 || unspecified(addr, alen))
		return true;
	reverse_name(af, addr, rev, sizeof(rev));
	if (zoneload_name_key(rev, key, &klen) != TDNS_OK)
		return true;
	*st = policy_build_record(b, POLICY_T_LOCAL, key, klen, DNS_TYPE_PTR, HOSTS_TTL, first, first_len, true);
	return *st == TDNS_OK;
}

enum tdns_status hosts_load(struct tdns_policy_build *b, const char *path)
{
	char line[HOSTS_LINE_MAX], *hash;
	enum tdns_status st = TDNS_OK;
	const char *why;
	unsigned lineno = 0, bad = 0;
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		log_err("hosts file %s: %s", path, strerror(errno));
		return TDNS_OK;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			int c;

			while ((c = fgetc(f)) != EOF && c != '\n')
				;
			log_warn("%s:%u: line too long, skipped", path, lineno);
			bad++;
			continue;
		}
		hash = strchr(line, '#');
		if (hash != NULL)
			*hash = '\0';
		why = NULL;
		if (hosts_line(b, line, &why, &st))
			continue;
		if (st != TDNS_OK)
			break;
		log_warn("%s:%u: %s, line skipped", path, lineno, why);
		bad++;
	}
	fclose(f);
	if (st == TDNS_OK)
		log_info("hosts file %s: %u line%s read, %u skipped", path, lineno,
			 lineno == 1 ? "" : "s", bad);
	return st;
}
