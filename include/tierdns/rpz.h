/*
 * rpz.h - response policy zones (the blocklist format of BIND, Unbound and
 * Knot Resolver) read from a master file into a policy (policy.h).
 *
 * The zone's origin is its SOA owner (give the file an $ORIGIN or an
 * absolute SOA owner). Every other name is a QNAME trigger: the name
 * relative to the origin ("ads.example.rpz.local." triggers for
 * "ads.example."), "*.name" for every name below name. Its records give
 * the action (policy.h POLICY_RPZ_*): CNAME . NXDOMAIN, CNAME *. NODATA,
 * CNAME rpz-passthru. PASSTHRU, CNAME rpz-drop. DROP, CNAME rpz-tcp-only.
 * TCP-ONLY, any other records local data. Triggers under rpz-ip,
 * rpz-nsdname, rpz-nsip and rpz-client-ip are not supported: they are
 * counted, logged once per file and left out.
 */
#ifndef TIERDNS_RPZ_H
#define TIERDNS_RPZ_H

#include "tierdns/policy.h"
#include "tierdns/status.h"

/* Add the triggers of the zone file at path to b. A file that cannot be
 * read or parsed is TDNS_EPARSE with err (cap bytes) naming FILE:LINE: a
 * blocklist is read whole or not at all. */
enum tdns_status rpz_load(struct tdns_policy_build *b, const char *path, char *err,
			  size_t cap);

/* The same for a zone held in memory (master-file text, e.g. one
 * transferred from an RPZ primary); label names it in err and the log. */
enum tdns_status rpz_load_text(struct tdns_policy_build *b, const char *label,
			       const char *text, char *err, size_t cap);

#endif
