/*
 * notify.c - NOTIFY to the secondaries of changed zones (notify.h).
 */
#include "tierdns/notify.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "tierdns/dnsproto.h"
#include "tierdns/encode.h"
#include "tierdns/log.h"
#include "tierdns/name.h"
#include "tierdns/zonedb.h"

#define NOTIFY_FIRST_RETRY_MS 1000u

/* One zone and one target: the NOTIFY in flight, if any. */
struct pending {
	struct tdns_notifier *n;
	const struct notify_zone *z;
	const struct tdns_addr *target;
	struct tdns_out *o;
	struct tdns_timer *retry;
	uint16_t id;
	unsigned attempts;
	uint32_t serial;
};

struct watched {
	const struct notify_zone *z;
	bool known;      /* serial below is the one last announced */
	uint32_t serial;
	uint8_t wire[NAME_WIRE_MAX];
	size_t wire_len;
	struct pending *p; /* z->n_targets of them */
};

struct tdns_notifier {
	struct tdns_loop *l;
	struct tdns_txn *t;
	uint64_t txn_id;   /* the snapshot last checked (0: none yet) */
	struct watched *w;
	size_t n;
	struct tdns_timer *poll;
};

size_t notify_encode(uint16_t id, const uint8_t *apex, size_t apex_len, uint8_t *out,
		     size_t cap)
{
	size_t len = encode_query(id, apex, apex_len, DNS_TYPE_SOA, DNS_CLASS_IN, false,
				  out, cap);

	if (len == 0)
		return 0;
	/* RFC 1996 3.7: opcode NOTIFY, AA set, no RD. */
	out[2] = (uint8_t)(DNS_OPCODE_NOTIFY << 3 | 0x04);
	out[3] = 0;
	return len;
}

bool notify_is_reply(const uint8_t *msg, size_t len, uint16_t id)
{
	return len >= DNS_HDR_LEN && dns_rd16(msg) == id && (msg[2] & 0x80) &&
	       DNS_OPCODE_OF(msg[2]) == DNS_OPCODE_NOTIFY;
}

static void pending_stop(struct pending *p)
{
	if (p->o != NULL)
		netio_out_close(p->o);
	p->o = NULL;
	if (p->retry != NULL)
		netio_timer_cancel(p->n->l, p->retry);
	p->retry = NULL;
}

static void send_one(struct pending *p);

static void retry_fired(void *ctx)
{
	struct pending *p = ctx;

	p->retry = NULL;
	send_one(p);
}

static void reply_in(void *ctx, struct tdns_out *o, const uint8_t *msg, size_t len)
{
	struct pending *p = ctx;
	char as[64];

	(void)o;
	if (msg == NULL || !notify_is_reply(msg, len, p->id))
		return; /* a socket error or a stray datagram: the retry goes on */
	log_info("notify: %s acknowledged zone serial %u (rcode %u)",
		 netio_addr_str(p->target, as, sizeof(as)), (unsigned)p->serial,
		 (unsigned)(msg[3] & 0x0f));
	pending_stop(p);
}

/* (Re)send p's NOTIFY from a fresh socket and ID; after NOTIFY_RETRIES
 * retries give up. */
static void send_one(struct pending *p)
{
	struct watched *w = &p->n->w[0];
	uint8_t msg[NAME_WIRE_MAX + 64];
	size_t len, i;
	char as[64];

	for (i = 0; i < p->n->n; i++)
		if (p->n->w[i].z == p->z)
			w = &p->n->w[i];
	if (p->o != NULL)
		netio_out_close(p->o);
	p->o = NULL;
	if (p->attempts > NOTIFY_RETRIES) {
		log_warn("notify: %s did not answer for zone serial %u; giving up",
			 netio_addr_str(p->target, as, sizeof(as)), (unsigned)p->serial);
		return;
	}
	if (getrandom(&p->id, sizeof(p->id), 0) != (ssize_t)sizeof(p->id))
		p->id = (uint16_t)(p->id * 31u + 7u);
	len = notify_encode(p->id, w->wire, w->wire_len, msg, sizeof(msg));
	if (len == 0 ||
	    netio_out_udp_from(p->n->l, p->target, p->z->source, reply_in, p, &p->o) !=
		    TDNS_OK ||
	    netio_out_send(p->o, msg, len) != TDNS_OK)
		log_warn("notify: cannot send to %s",
			 netio_addr_str(p->target, as, sizeof(as)));
	p->retry = netio_timer_add(p->n->l, (uint64_t)NOTIFY_FIRST_RETRY_MS << p->attempts,
				   retry_fired, p);
	p->attempts++;
}

static void announce(struct watched *w, uint32_t serial)
{
	char as[64];

	w->known = true;
	w->serial = serial;
	for (unsigned i = 0; i < w->z->n_targets; i++) {
		struct pending *p = &w->p[i];

		pending_stop(p);
		p->serial = serial;
		p->attempts = 0;
		log_info("notify: zone serial %u to %s", (unsigned)serial,
			 netio_addr_str(p->target, as, sizeof(as)));
		send_one(p);
	}
}

static void poll_fired(void *ctx);

/* One look at the store: the zones whose serial moved are announced. */
static void check(struct tdns_notifier *n)
{
	struct tdns_zone_meta m;
	enum tdns_status st;
	uint64_t id;

	st = store_renew(n->t);
	if (st != TDNS_OK) {
		log_err("notify: store snapshot: %s", tdns_strerror(st));
		return;
	}
	id = store_txn_id(n->t);
	if (id != n->txn_id) {
		n->txn_id = id;
		for (size_t i = 0; i < n->n; i++) {
			struct watched *w = &n->w[i];

			st = zonedb_get_meta(n->t, w->z->apex, w->z->apex_len, &m);
			if (st == TDNS_OK && (!w->known || w->serial != m.serial))
				announce(w, m.serial);
			else if (st != TDNS_OK && st != TDNS_ENOTFOUND)
				log_err("notify: zone metadata: %s", tdns_strerror(st));
		}
	}
	store_reset(n->t);
}

static void poll_fired(void *ctx)
{
	struct tdns_notifier *n = ctx;

	n->poll = NULL;
	check(n);
	n->poll = netio_timer_add(n->l, NOTIFY_POLL_MS, poll_fired, n);
}

enum tdns_status notify_new(struct tdns_loop *l, struct tdns_store *s,
			    const struct notify_zone *zones, size_t nz,
			    struct tdns_notifier **out)
{
	struct tdns_notifier *n;
	enum tdns_status st;
	size_t i, k = 0;

	*out = NULL;
	n = calloc(1, sizeof(*n));
	if (n == NULL || (n->w = calloc(nz ? nz : 1, sizeof(*n->w))) == NULL) {
		free(n);
		return TDNS_ENOMEM;
	}
	n->l = l;
	for (i = 0; i < nz; i++) {
		struct watched *w = &n->w[k];

		if (zones[i].n_targets == 0 ||
		    name_key_to_wire(zones[i].apex, zones[i].apex_len, w->wire,
				     &w->wire_len) != TDNS_OK)
			continue;
		w->z = &zones[i];
		w->p = calloc(zones[i].n_targets, sizeof(*w->p));
		if (w->p == NULL) {
			n->n = k;
			notify_free(n);
			return TDNS_ENOMEM;
		}
		for (unsigned j = 0; j < zones[i].n_targets; j++) {
			w->p[j].n = n;
			w->p[j].z = &zones[i];
			w->p[j].target = &zones[i].targets[j];
		}
		k++;
	}
	n->n = k;
	st = store_begin(s, false, &n->t);
	if (st != TDNS_OK) {
		notify_free(n);
		return st;
	}
	store_reset(n->t);
	/* Nothing to tell anyone: no polling at all. */
	if (n->n > 0)
		poll_fired(n);
	*out = n;
	return TDNS_OK;
}

void notify_free(struct tdns_notifier *n)
{
	if (n == NULL)
		return;
	for (size_t i = 0; i < n->n; i++) {
		for (unsigned j = 0; j < n->w[i].z->n_targets; j++)
			pending_stop(&n->w[i].p[j]);
		free(n->w[i].p);
	}
	if (n->poll != NULL)
		netio_timer_cancel(n->l, n->poll);
	store_abort(n->t);
	free(n->w);
	free(n);
}
