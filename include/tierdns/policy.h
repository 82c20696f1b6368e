/*
 * policy.h - the local tier's resolver policy: which upstreams a name goes
 * to, and what is answered locally without a whole zone (Unbound's
 * forward-zone, local-zone and local-data; dnsmasq's server=/d/ip, --local
 * and hosts files). Bytes in, bytes out: no sockets, no store.
 *
 * A policy is one table of names (name.h keys). Each name may carry:
 *   - a route (forward:, stub:), for the name and every name below it
 *     unless a longer name has its own: an upstream set (a range of the
 *     resolver's upstream indices, with the failover and health rules of
 *     resolve.h), asked with RD (forward:) or without it, as the zone's
 *     authoritative servers (stub:, Unbound's stub-zone), or "never
 *     forward" (answered NXDOMAIN or REFUSED, dnsmasq --local);
 *   - a local zone type (local-zone:), for the name and below, with
 *     Unbound's meanings (POLICY_Z_* below);
 *   - local records (local-data:, hosts files), exactly at the name.
 * and a second table holds the triggers of response policy zones (rpz.h):
 * a name's action, a wildcard's at "*.name".
 *
 * Two decisions are asked of it:
 *   - policy_answer, before the static zones and the cache: local records
 *     and local zone types (a record overrides only its own name and type;
 *     ANY at a name with records gets its RRsets, one over UDP as RFC 8482
 *     4.1 allows; what it does not answer goes on to the static zones, the
 *     cache and
 *     the upstreams), then the RPZ triggers (POLICY_RPZ_* below);
 *   - policy_route, when a question misses and is about to go upstream:
 *     the longest matching forward: name picks the upstream set; none
 *     matching, the default set. The reverse zones of private and special
 *     ranges (RFC 6303 4) are routed "private" by default: answered
 *     locally, NXDOMAIN with a locally served SOA, as Unbound does, unless
 *     a forward: entry names the zone or a parent of it other than the
 *     root, or a local-zone "nodefault" names it (a forward: entry below
 *     it takes its own names only, by the longest match). The loopback
 *     addresses' names have a PTR to localhost., and localhost. itself is
 *     a built-in redirect zone (A 127.0.0.1, AAAA ::1; RFC 6761 6.3)
 *     unless a forward: entry or a local-zone names it.
 *
 * Ownership and threads: a policy is immutable once built and reference
 * counted; a struct tdns_policy_box holds the current one for every
 * worker, and a reload replaces it (policy_box_set) while queries run. A
 * worker keeps a reference to the policy it uses and takes the new one at
 * its next query (one atomic load per query when nothing changed): answer
 * entries that borrow the policy's records stay valid until then.
 */
#ifndef TIERDNS_POLICY_H
#define TIERDNS_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* stdbool.h first: ldns/common.h would define its own bool otherwise. */
#include <ldns/ldns.h>

#include "tierdns/answer.h"
#include "tierdns/netio.h"
#include "tierdns/qctx.h"
#include "tierdns/status.h"

/* Local zone types, Unbound's names and meanings (unbound.conf(5)). */
enum policy_zone {
	POLICY_Z_NONE = 0,
	POLICY_Z_TRANSPARENT,        /* records answer; their names' other
				      * types NODATA; other names resolved */
	POLICY_Z_TYPETRANSPARENT,    /* records answer; everything else is
				      * resolved (records given without a
				      * local-zone behave so) */
	POLICY_Z_STATIC,             /* records answer; anything else NODATA
				      * or NXDOMAIN, with the zone's SOA */
	POLICY_Z_REDIRECT,           /* the zone name's records answer for
				      * every name below it */
	POLICY_Z_REFUSE,             /* records answer, else REFUSED */
	POLICY_Z_DENY,               /* records answer, else no reply */
	POLICY_Z_ALWAYS_NXDOMAIN,    /* NXDOMAIN, records or not */
	POLICY_Z_ALWAYS_REFUSE,      /* REFUSED, records or not */
	POLICY_Z_ALWAYS_TRANSPARENT, /* resolved, records or not */
	POLICY_Z_NODEFAULT,          /* no RFC 6303 default for this name */
};

/* How forward: and stub: route a name. The values after POLICY_FWD_STUB
 * are not forwarded at all. */
enum policy_fwd {
	POLICY_FWD_DEFAULT = 0, /* the default upstreams */
	POLICY_FWD_SET,         /* a forward: set */
	POLICY_FWD_STUB,        /* a stub: set: authoritative servers, asked
				 * with RD clear */
	POLICY_FWD_NXDOMAIN,    /* never forwarded: NXDOMAIN */
	POLICY_FWD_REFUSED,     /* never forwarded: REFUSED */
	POLICY_FWD_PRIVATE,     /* RFC 6303: a locally served zone */
};

/* What a response policy zone trigger does (draft-vixie-dnsop-dns-rpz
 * 4): its CNAME target says, any other records are local data. */
enum policy_rpz {
	POLICY_RPZ_NONE = 0,
	POLICY_RPZ_NXDOMAIN,  /* CNAME .              NXDOMAIN */
	POLICY_RPZ_NODATA,    /* CNAME *.             NOERROR, no answer */
	POLICY_RPZ_PASSTHRU,  /* CNAME rpz-passthru.  resolved as usual */
	POLICY_RPZ_DROP,      /* CNAME rpz-drop.      no reply */
	POLICY_RPZ_TCP_ONLY,  /* CNAME rpz-tcp-only.  TC over UDP, else resolved */
	POLICY_RPZ_DATA,      /* records: those of the qtype (a CNAME for
			       * any), else NODATA */
};

/* The tables a source writes to. */
enum policy_table {
	POLICY_T_LOCAL = 0,
	POLICY_T_RPZ,
};

/* One forward: or stub: entry as the options give it (opts.h). */
struct policy_forward {
	const char *name;      /* domain, absolute or not */
	enum policy_fwd how;   /* POLICY_FWD_SET, _STUB, _NXDOMAIN or _REFUSED */
	struct tdns_addr addr; /* POLICY_FWD_SET, _STUB: one upstream of the set */
};

/* What a policy is built from; every pointer is borrowed for the call. */
struct policy_src {
	unsigned n_default;            /* upstreams 0..n_default-1: the default set */
	/* forward: and stub: entries; the upstream of entry i (a set) is upstream
	 * number n_default + k, k counting the set entries before it, and
	 * the entries of one name must be adjacent (policy_forward_sort) */
	const struct policy_forward *forward;
	unsigned n_forward;
	const char *const *local_zone;  /* "NAME TYPE" */
	unsigned n_local_zone;
	const char *const *local_data;  /* one record in master-file syntax */
	unsigned n_local_data;
	const char *const *hosts;       /* /etc/hosts-format files */
	unsigned n_hosts;
	const char *const *rpz;         /* response policy zone files */
	unsigned n_rpz;
	/* response policy zones held in memory (master-file text, as
	 * transferred from an RPZ primary), named rpz_text_name[i] in
	 * messages; a NULL text is skipped (not transferred yet) */
	const char *const *rpz_text;
	const char *const *rpz_text_name;
	unsigned n_rpz_text;
};

struct tdns_policy;

/*
 * Build a policy. A bad local-zone or local-data entry fails the build
 * (TDNS_EPARSE, err says which and why: configuration is checked as a
 * whole). A bad line of a hosts file is logged as FILE:LINE and skipped;
 * a hosts file that cannot be read is logged and leaves its names out.
 * *out is owned by the caller (policy_release).
 */
enum tdns_status policy_build(const struct policy_src *src, struct tdns_policy **out,
			      char *err, size_t cap);

/* Another reference / drop one (the last frees). NULL is allowed. */
struct tdns_policy *policy_ref(struct tdns_policy *p);
void policy_release(struct tdns_policy *p);

/* Local names with records, RPZ triggers (for the log). */
size_t policy_names(const struct tdns_policy *p);
size_t policy_rpz_triggers(const struct tdns_policy *p);

/* Sort forward entries so that those of one name are adjacent (stable:
 * the order of a name's upstreams is kept). Names compare as DNS names. */
void policy_forward_sort(struct policy_forward *f, unsigned n);

enum policy_verdict {
	POLICY_PASS = 0, /* not answered here: static zones, cache, upstream */
	POLICY_ANSWER,   /* a holds the answer */
	POLICY_DROP,     /* send nothing (local-zone deny) */
};

/* The local answer to q (class IN), if any. a's entries borrow p. */
enum policy_verdict policy_answer(const struct tdns_policy *p, const struct tdns_qctx *q,
				  struct tdns_answer *a);

/*
 * The response policy zones applied to the names a CNAME chain in answer
 * a leads to (the chain of a cached or upstream answer to q), as Unbound
 * (1.14 on), BIND and PowerDNS do, so that a blocked name cannot be
 * reached through an alias (CNAME cloaking). At the first target with a
 * trigger the chain is cut after its CNAME and the action answers for the
 * target: NXDOMAIN or NODATA (the chain alone), the trigger's records of
 * q's type (or its CNAME) owned by the target, DROP, or TC over UDP for
 * TCP-only; EDE 15 Blocked, AD and AA clear. A PASSTHRU target exempts the
 * rest of the chain. POLICY_PASS: a unchanged (no RPZ, no CNAME, no
 * trigger). Entries added borrow p and a's CNAME rdata.
 */
enum policy_verdict policy_rpz_chain(const struct tdns_policy *p, const struct tdns_qctx *q,
				     struct tdns_answer *a);

/* The route of a name key. POLICY_FWD_DEFAULT, _SET and _STUB: upstreams
 * [*first, *end). *zone_len: the length of the key of the forward: or
 * stub: name that routes it (a prefix of qkey), 0 for the default set. */
enum policy_fwd policy_route(const struct tdns_policy *p, const uint8_t *qkey,
			     size_t qkey_len, unsigned *first, unsigned *end, size_t *zone_len);

/* The answer to q for a route that is not forwarded (NXDOMAIN, REFUSED,
 * PRIVATE); a's entries borrow p. */
void policy_route_answer(const struct tdns_policy *p, enum policy_fwd how,
			 const struct tdns_qctx *q, struct tdns_answer *a);

/* ---- for the modules that read a source (hosts.h) ---- */

/* A policy being built. */
struct tdns_policy_build;

/* Add one record (class IN) at the name key of table; rdata is copied.
 * Records of one name and type become one RRset in the order added (the
 * first one's TTL; a record given twice counts once); single: the RRset
 * keeps only its first record. */
enum tdns_status policy_build_record(struct tdns_policy_build *b, enum policy_table table,
				     const uint8_t *key, size_t klen, uint16_t type,
				     uint32_t ttl, const uint8_t *rdata, size_t rdlen, bool single);

/* The same for a record parsed by ldns (its type, TTL and rdata; the
 * owner is key). TDNS_EINVAL: rdata over 65535 bytes. */
enum tdns_status policy_build_rr(struct tdns_policy_build *b, enum policy_table table,
				 const uint8_t *key, size_t klen, const ldns_rr *rr);

/* Set the RPZ action of a trigger (its key; "*.name" for a wildcard).
 * The first action given to a name holds, except POLICY_RPZ_DATA, which
 * another action replaces. */
enum tdns_status policy_build_rpz(struct tdns_policy_build *b, const uint8_t *key,
				  size_t klen, enum policy_rpz action);

/* ---- the current policy, shared by the workers ---- */

struct tdns_policy_box;

/* A box holding p (the reference is taken over). */
enum tdns_status policy_box_new(struct tdns_policy *p, struct tdns_policy_box **out);
void policy_box_free(struct tdns_policy_box *b); /* NULL is allowed */

/* Replace the current policy by p (reference taken over), from any thread. */
void policy_box_set(struct tdns_policy_box *b, struct tdns_policy *p);

/*
 * For a worker holding *cur (a reference, or NULL) taken at generation
 * *gen: when the box changed since, *cur is replaced by the current
 * policy (the old reference released) and *gen updated. Returns *cur.
 */
const struct tdns_policy *policy_box_get(struct tdns_policy_box *b, unsigned *gen,
					 struct tdns_policy **cur);

#endif
