/*
 * xfr.h - outgoing zone transfers: AXFR (RFC 5936) and IXFR (RFC 1995).
 *
 * Bytes out, no sockets: a transfer is a producer of messages that the
 * caller pulls one at a time (netio_request_stream), each written by the
 * one encoder (encode.h) from an answer descriptor whose RRsets borrow
 * from the transfer's own LMDB read snapshot. The whole transfer reads
 * that one snapshot, so it is the zone of one moment even while
 * tierdns-zone changes it, and memory stays one descriptor and one
 * message whatever the zone's size.
 *
 * AXFR: the SOA, every RRset of the zone (its signatures after it), the
 * NSEC3 chain, the SOA again (RFC 5936 2.2). IXFR (TCP): the client's
 * serial from the query's authority SOA; the current SOA alone when the
 * client is up to date; else the diffs of the journal (journal.h) from
 * its serial to the current one, each as old SOA, deletions, new SOA,
 * additions (RFC 1995 4), between two current SOAs; the whole zone in
 * AXFR form when the journal does not reach back that far.
 *
 * Who may transfer is the caller's business (auth.c checks the zone's
 * transfer ACL first); xfr answers whoever it is given.
 */
#ifndef TIERDNS_XFR_H
#define TIERDNS_XFR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tierdns/answer.h"
#include "tierdns/qctx.h"
#include "tierdns/status.h"
#include "tierdns/store.h"
#include "tierdns/tsig.h"

struct xfr_out;

/*
 * A transfer answering the AXFR or IXFR query msg[0..len) (copied) from a
 * fresh read snapshot of s. Always gives a transfer when memory allows
 * (TDNS_ENOMEM otherwise): a query that is not a transfer of a zone the
 * snapshot holds at its apex, or a snapshot that cannot be taken, makes
 * a one-message transfer with the error (NOTAUTH, SERVFAIL). A query
 * signed with one of keys[0..n_keys) (tsig.h) gets every message signed
 * (RFC 8945 5.3.1). Owned by the caller: xfr_free. Used on one thread.
 */
enum tdns_status xfr_start(struct tdns_store *s, const uint8_t *msg, size_t len,
			   const struct tdns_tsig_key *keys, unsigned n_keys,
			   struct xfr_out **out);

/* The next message into out (QCTX_MAX_MSG bytes), *len its length; true
 * while more follow (netio_stream_fn). A store error mid-way ends the
 * transfer with a SERVFAIL message (RFC 5936 2.2). */
bool xfr_next(void *x, uint8_t *out, size_t *len);

/* Release the transfer and its snapshot. NULL is allowed. */
void xfr_free(void *x);

/* What x sends, for the log: "AXFR", "IXFR", "IXFR (the whole zone)" or
 * "refused transfer" (a static string). */
const char *xfr_kind(const struct xfr_out *x);

/* The client's serial in an IXFR query (its authority SOA, RFC 1995 3).
 * false when there is none. */
bool xfr_ixfr_serial(const uint8_t *msg, size_t len, uint32_t *serial);

/*
 * IXFR over UDP (RFC 1995 2) in read transaction t, for the zone whose apex
 * is q's name: the current SOA alone when the client's serial is not
 * older; else an empty answer with TC, so that the client retries over
 * TCP. NOTAUTH when no zone has its apex there.
 */
void xfr_udp_ixfr(struct tdns_txn *t, const struct tdns_qctx *q,
		  struct tdns_answer *a);

#endif
