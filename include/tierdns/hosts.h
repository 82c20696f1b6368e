/*
 * hosts.h - /etc/hosts-format files as local records of a policy
 * (policy.h), as dnsmasq serves them: each line "ADDRESS NAME [ALIAS...]"
 * gives every name an A (IPv4) or AAAA (IPv6) record, and the address's
 * reverse name (in-addr.arpa, ip6.arpa) a PTR to the line's first name
 * (the first line of an address wins). '#' starts a comment. The records
 * have TTL 0 (dnsmasq's local-ttl default): a change of the file is seen
 * by clients at once. The unspecified addresses (0.0.0.0, ::) of
 * blocklist-style files get no PTR.
 */
#ifndef TIERDNS_HOSTS_H
#define TIERDNS_HOSTS_H

#include "tierdns/policy.h"
#include "tierdns/status.h"

#define HOSTS_TTL 0

/* Add the records of the file at path to b. A bad line (not an address,
 * a bad name, no name) is logged as FILE:LINE and skipped; a file that
 * cannot be read is logged and adds nothing. Only running out of memory
 * fails (TDNS_ENOMEM). */
enum tdns_status hosts_load(struct tdns_policy_build *b, const char *path);

#endif
