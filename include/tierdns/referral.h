/*
 * referral.h - following the referrals of a stub zone's servers, as
 * Unbound's stub-zone does (RFC 1034 4.3.2 step 3b, 5.3.3 step 4): the
 * servers of the stub zone answer from their data, and for a zone they
 * delegated they give its NS records and the glue addresses; those servers
 * are then asked the same question, and so on, down the names of one
 * question within the stub zone. Bytes in, bytes out: no sockets.
 *
 * A referral is followed only when it leads somewhere (the state is left
 * as it was otherwise):
 *   - at most REFERRAL_HOPS_MAX referrals per question;
 *   - the NS records of the authority section all have one owner, the
 *     delegated zone ("the child");
 *   - the child lies within the stub zone, strictly below the zone of the
 *     servers that referred (closer to the question: a referral up,
 *     sideways or to the same zone is a loop), and holds the question's
 *     name;
 *   - the addresses asked next are the A and AAAA records of the
 *     additional section owned by one of the child's NS names, and only
 *     of the NS names within the child (in bailiwick of the delegation,
 *     RFC 9471 2.1): an address given for any other name is not the
 *     referring server's to give, so it is ignored. The names of NS records
 *     outside the child are not resolved; a referral with none left has no
 *     usable glue.
 *
 * All zones of one state are the question's ancestors, so the state keeps
 * them as lengths of prefixes of the question's name key (name.h).
 */
#ifndef TIERDNS_REFERRAL_H
#define TIERDNS_REFERRAL_H

#include <stddef.h>
#include <stdint.h>

#include "tierdns/msg.h"
#include "tierdns/netio.h"

/* Referrals followed for one question at most (as CNAMEs chased). */
#define REFERRAL_HOPS_MAX 8u
/* Glue addresses kept of one referral, in the order of the NS records. */
#define REFERRAL_ADDRS_MAX 16u

enum referral_verdict {
	REFERRAL_OK = 0,      /* followed: the state names the child's servers */
	REFERRAL_HOPS,        /* REFERRAL_HOPS_MAX were followed already */
	REFERRAL_MALFORMED,   /* no NS, or NS records of more than one name */
	REFERRAL_OUT_OF_ZONE, /* the child is not within the stub zone */
	REFERRAL_NOT_CLOSER,  /* not strictly below the referring zone */
	REFERRAL_NOT_QNAME,   /* the child does not hold the question's name */
	REFERRAL_NO_GLUE,     /* no address for an NS name within the child */
};

/* Where one question stands (plain data: copy it, no release). */
struct referral_state {
	size_t stub_len;  /* the stub zone: qkey[0 .. stub_len) */
	size_t zone_len;  /* the zone of the servers asked now, at or
			   * below the stub zone: qkey[0 .. zone_len) */
	unsigned hops;    /* referrals followed */
	struct tdns_addr addr[REFERRAL_ADDRS_MAX]; /* the servers of zone */
	unsigned n_addr;
};

/* A question whose stub zone's key is qkey[0 .. stub_len): its servers
 * are the stub zone's own (none in the state: n_addr 0). */
void referral_begin(struct referral_state *s, size_t stub_len);

/*
 * Judge m, a referral (NOERROR, no answer, NS in authority) from the
 * servers of s->zone_len for the question whose name key is
 * qkey[0..qkey_len); on REFERRAL_OK move s to the child (its servers at
 * port `port`, hops + 1), else leave s unchanged.
 */
enum referral_verdict referral_follow(struct referral_state *s, const struct tdns_msg *m,
				      const uint8_t *qkey, size_t qkey_len, uint16_t port);

/* What a verdict means, for log lines (static text). */
const char *referral_text(enum referral_verdict v);

#endif
