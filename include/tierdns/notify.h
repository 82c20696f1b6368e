/*
 * notify.h - NOTIFY to the secondaries of changed zones (RFC 1996).
 *
 * The notifier watches the store: every NOTIFY_POLL_MS it renews a read
 * snapshot and, when the snapshot moved (store_txn_id: tierdns-zone
 * committed something, in any process), compares each configured zone's
 * serial with the one it last announced. A zone whose serial changed (and
 * every configured zone once at start, as NSD does) gets a NOTIFY (opcode
 * 4, AA, the zone's SOA as the question) to each of its notify targets
 * over UDP, from a fresh socket (bound to the zone's source address when
 * it has one: a secondary accepts a NOTIFY only from an address it knows
 * as the zone's primary, RFC 1996 3.10) and a random ID, retried after 1, 2, 4, 8
 * and 16 s (RFC 1996 3.6: until a response, with growing intervals) and
 * then given up with a log line. Any response from the target with the
 * same ID and opcode ends it; a newer serial restarts it.
 *
 * One notifier runs on one loop (its timers and sockets are the loop's)
 * and its own read transaction. Owned by its creator: notify_free before
 * the loop is freed.
 */
#ifndef TIERDNS_NOTIFY_H
#define TIERDNS_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

#include "tierdns/netio.h"
#include "tierdns/status.h"
#include "tierdns/store.h"

#define NOTIFY_POLL_MS 200
#define NOTIFY_RETRIES 5

struct tdns_notifier;

/* One zone to watch: its apex key, where to send and from which local
 * address (borrowed: they must live as long as the notifier). */
struct notify_zone {
	const uint8_t *apex;
	size_t apex_len;
	const struct tdns_addr *targets;
	unsigned n_targets;
	const struct tdns_addr *source; /* notify-source (netio_out_udp_from);
					 * NULL: the kernel's choice */
};

/* Watch zones[0..n) of store s on loop l (zones without targets are
 * skipped); the first check runs at once. TDNS_ENOMEM, or the store's
 * error beginning the read transaction. */
enum tdns_status notify_new(struct tdns_loop *l, struct tdns_store *s,
			    const struct notify_zone *zones, size_t n,
			    struct tdns_notifier **out);
/* NULL is allowed. Closes its sockets and cancels its timers. */
void notify_free(struct tdns_notifier *n);

/* The NOTIFY message for the zone with wire name apex (uncompressed),
 * ID id, into out (cap bytes). Returns its length, 0 if it does not fit. */
size_t notify_encode(uint16_t id, const uint8_t *apex, size_t apex_len, uint8_t *out,
		     size_t cap);
/* True when msg[0..len) answers the NOTIFY with ID id (QR, opcode NOTIFY). */
bool notify_is_reply(const uint8_t *msg, size_t len, uint16_t id);

/* NOTIFY messages sent and acknowledged so far (for tests and logs). */
void notify_counts(const struct tdns_notifier *n, uint64_t *sent, uint64_t *acked);

#endif
