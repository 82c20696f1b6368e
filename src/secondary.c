/*
 * secondary.c - zones kept in step with their primaries (secondary.h).
 */
#include "tierdns/secondary.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <stdbool.h>
#include <ldns/ldns.h>

#include "tierdns/clock.h"
#include "tierdns/dnsproto.h"
#include "tierdns/encode.h"
#include "tierdns/journal.h"
#include "tierdns/log.h"
#include "tierdns/name.h"
#include "tierdns/zonedb.h"
#include "tierdns/zoneload.h"
#include "tierdns/zonesign.h"

/* Timers while the zone is absent or its SOA unreadable (RFC 1912 2.2's
 * usual values). */
#define DEFAULT_REFRESH 3600u
#define DEFAULT_RETRY 600u
#define DEFAULT_EXPIRE 604800u

#define SPOOL_REC_MAX 65535u /* a record of a message fits in one */

enum zstate { Z_IDLE = 0, Z_SOA, Z_XFR };

/* What the transfer's second record says it is (RFC 1995 4). */
enum xform { FORM_UNKNOWN = 0, FORM_AXFR, FORM_IXFR };

struct szone {
	struct tdns_secondary *sec;
	const struct secondary_zone *z;
	size_t idx;              /* z's index in the zones given (the sink's i) */
	char name[LDNS_MAX_DOMAINLEN + 2];
	uint8_t wire[NAME_WIRE_MAX];
	size_t wire_len;
	/* The fields secondary_status reads from another thread are atomic;
	 * the rest belong to the loop's thread. */
	_Atomic enum zstate state;
	_Atomic unsigned primary; /* the one being asked */
	struct tdns_out *o;
	struct tdns_timer *timeout;
	struct tsig_state *tsig;
	uint16_t id;
	_Atomic bool have;       /* the store holds the zone */
	_Atomic uint32_t serial; /* its serial when have */
	uint32_t refresh, retry, expire;
	_Atomic uint64_t next_ms; /* the next SOA check (monotonic) */
	_Atomic uint64_t last_ok; /* the last refresh (epoch s) */
	atomic_bool notified;
	atomic_bool expired;
	bool ixfr;               /* the transfer asked for IXFR */
	bool force_axfr;         /* an IXFR did not apply: the next is AXFR */
	enum xform form;
	/* The records while the form is unknown, then an IXFR's (their
	 * number is the change's); an AXFR's go to spool instead, an
	 * unlinked temporary file, in wire form (spool_rr). */
	ldns_rr_list *rrs;
	FILE *spool;
	ldns_buffer *line;       /* one record on its way to spool */
	uint8_t *rec;            /* one record read back (SPOOL_REC_MAX) */
	size_t count;            /* records received */
	_Atomic uint64_t bytes;  /* the transfer's message bytes received */
	_Atomic uint64_t xfr_records; /* count, for secondary_status */
	_Atomic uint64_t started_ms;  /* when the transfer began (monotonic) */
	_Atomic bool xfr_ixfr;        /* IXFR asked, or its form once known */
	uint64_t deadline_ms;    /* the transfer's end (monotonic) */
	unsigned soa_seen;       /* SOAs with the new serial seen */
	uint32_t new_serial;
};

struct tdns_secondary {
	struct tdns_loop *l;
	struct secondary_sink sink;
	struct tdns_store *s;                /* the store sink's */
	const struct secondary_zone *zones;  /* the store sink's */
	struct szone *z;
	size_t n;
	struct tdns_timer *tick;
};

static void schedule(struct szone *z, uint32_t seconds)
{
	z->next_ms = clock_mono_ms() + (uint64_t)seconds * 1000u;
}

/* The store sink's refreshed: the time into the store
 * (zonedb_put_refreshed). */
static void store_refreshed(void *ctx, size_t i, uint64_t when)
{
	struct tdns_secondary *sec = ctx;
	const struct secondary_zone *sz = &sec->zones[i];
	struct tdns_txn *t = NULL;
	enum tdns_status st;

	st = store_begin(sec->s, true, &t);
	if (st == TDNS_OK)
		st = zonedb_put_refreshed(t, sz->apex, sz->apex_len, when);
	if (st == TDNS_OK)
		st = store_commit(t);
	else
		store_abort(t);
	if (st != TDNS_OK)
		log_warn("secondary: the time of a refresh is not stored (%s): a restart "
			 "counts the expire time from the last transfer", tdns_strerror(st));
}

/* The store sink (secondary_new): the stored zone's serial and timers, and
 * since when: its last transfer or its last refresh, the later. */
static void store_held(void *ctx, size_t i, struct secondary_held *out)
{
	struct tdns_secondary *sec = ctx;
	const struct secondary_zone *sz = &sec->zones[i];
	struct tdns_txn *t = NULL;
	struct tdns_rrset_view v;
	struct tdns_zone_meta m;
	uint64_t refreshed;
	const uint8_t *rd;
	uint16_t rdlen;
	size_t pos = 0, at;

	if (store_begin(sec->s, false, &t) != TDNS_OK)
		return;
	if (zonedb_get_meta(t, sz->apex, sz->apex_len, &m) == TDNS_OK &&
	    zonedb_get_rrset(t, sz->apex, sz->apex_len, DNS_TYPE_SOA, &v) == TDNS_OK &&
	    rrset_next(&v, &pos, &rd, &rdlen) && (at = zonedb_soa_serial_at(rd, rdlen)) > 0) {
		out->have = true;
		out->serial = dns_rd32(rd + at);
		out->refresh = dns_rd32(rd + at + 4);
		out->retry = dns_rd32(rd + at + 8);
		out->expire = dns_rd32(rd + at + 12);
		out->since = m.loaded_at;
		if (zonedb_get_refreshed(t, sz->apex, sz->apex_len, &refreshed) == TDNS_OK &&
		    refreshed > out->since)
			out->since = refreshed;
	}
	store_abort(t);
}

/* A transfer's write transaction for zone sz, and what its parent's
 * transfers carry at its cut before the change (journal.h journal_cut).
 * A parent that is a secondary zone here too is not followed (*cut NULL):
 * its serial is its primary's, and raised here it would pass the
 * primary's next one, whose version would then never be transferred. */
static enum tdns_status store_start(const struct tdns_secondary *sec,
				    const struct secondary_zone *sz, struct tdns_txn **t,
				    struct journal_cut **cut)
{
	const uint8_t *parent;
	size_t plen;
	enum tdns_status st;

	*cut = NULL;
	st = store_begin(sec->s, true, t);
	if (st == TDNS_OK)
		st = journal_cut_take(*t, sz->apex, sz->apex_len, cut);
	if (st != TDNS_OK || *cut == NULL)
		return st;
	parent = journal_cut_parent(*cut, &plen);
	for (size_t i = 0; i < sec->n; i++) {
		if (sec->z[i].z->apex_len == plen && memcmp(sec->z[i].z->apex, parent, plen) == 0) {
			journal_cut_free(*cut);
			*cut = NULL;
			break;
		}
	}
	return st;
}

/* The end of a transfer's write transaction t: the primary's version is
 * the zone now, so signing keys a `tierdns-zone sign` of this store
 * remembered for it are forgotten, as a load forgets them (zonesign.h); a
 * parent held here whose delegation to the zone changed follows it
 * (zonesign_follow_cut); t is committed (aborted on failure) and cut
 * freed. */
static enum tdns_status store_finish(struct tdns_txn *t, const struct secondary_zone *sz,
				     struct journal_cut *cut, enum tdns_status st, char *err,
				     size_t cap)
{
	char name[4 * NAME_WIRE_MAX], child[4 * NAME_WIRE_MAX];
	const uint8_t *parent;
	size_t plen;
	uint32_t serial = 0;
	bool followed = false;

	if (st == TDNS_OK)
		st = zonesign_forget(t, sz->apex, sz->apex_len);
	if (st == TDNS_OK)
		st = zonesign_follow_cut(t, cut, &followed, &serial, err, cap);
	if (st == TDNS_OK) {
		st = store_commit(t);
		t = NULL;
	}
	store_abort(t);
	if (st == TDNS_OK && followed) {
		parent = journal_cut_parent(cut, &plen);
		zoneload_key_str(parent, plen, name, sizeof(name));
		zoneload_key_str(sz->apex, sz->apex_len, child, sizeof(child));
		log_info("zone %s: serial %u (its delegation of %s changed)", name,
			 (unsigned)serial, child);
	}
	journal_cut_free(cut);
	return st;
}

/* The store sink: the new zone in one write transaction. */
static enum tdns_status store_apply(void *ctx, size_t i, const struct secondary_update *u,
				    char *err, size_t cap)
{
	struct tdns_secondary *sec = ctx;
	struct tdns_zoneset *zs = zoneload_new();
	struct tdns_txn *t = NULL;
	struct journal_cut *cut = NULL;
	enum tdns_status st;

	st = zs == NULL ? TDNS_ENOMEM : zoneload_records(zs, u->next, u->it, u->name, err, cap);
	if (st == TDNS_OK) {
		err[0] = '\0';
		st = store_start(sec, &sec->zones[i], &t, &cut);
		if (st == TDNS_OK)
			st = zoneload_apply(zs, t);
		st = store_finish(t, &sec->zones[i], cut, st, err, cap);
		if (st != TDNS_OK && err[0] == '\0')
			snprintf(err, cap, "the transferred zone could not be stored: %s",
				 tdns_strerror(st));
	} else if (zs == NULL) {
		snprintf(err, cap, "%s", tdns_strerror(st));
	}
	zoneload_free(zs);
	if (st == TDNS_OK)
		log_info("secondary %s: serial %u stored (%s, %zu records)", u->name,
			 (unsigned)u->serial, u->how, u->records);
	return st;
}

/* The store sink: an IXFR's difference sequences in one write
 * transaction, each a diff of the zone's journal. */
static enum tdns_status store_apply_diff(void *ctx, size_t i, const struct secondary_diff *d,
					 char *err, size_t cap)
{
	struct tdns_secondary *sec = ctx;
	const struct secondary_zone *sz = &sec->zones[i];
	struct zoneload_diff_info info;
	struct tdns_txn *t = NULL;
	struct journal_cut *cut = NULL;
	unsigned long deleted = 0, added = 0, written = 0, occluded = 0;
	enum tdns_status st;

	st = store_start(sec, sz, &t, &cut);
	for (size_t k = 0; st == TDNS_OK && k < d->n_seq; k++) {
		st = zoneload_diff(t, sz->apex, sz->apex_len, d->seq[k].del, d->seq[k].n_del,
				   d->seq[k].add, d->seq[k].n_add, &info, err, cap);
		deleted += info.deleted;
		added += info.added;
		written += info.rrsets_written;
		occluded += info.occluded;
	}
	st = store_finish(t, sz, cut, st, err, cap);
	if (st != TDNS_OK) {
		if (err[0] == '\0')
			snprintf(err, cap, "the IXFR could not be stored: %s", tdns_strerror(st));
		return st;
	}
	/* The counts say what was written: the change, not the zone. */
	log_info("secondary %s: serial %u stored (IXFR, %zu difference sequence%s: "
		 "%lu records deleted, %lu added, %lu RRsets written)", d->name,
		 (unsigned)d->serial, d->n_seq, d->n_seq == 1 ? "" : "s", deleted, added,
		 written);
	if (occluded > 0)
		log_info("secondary %s: %lu record(s) at or below a deeper zone held in "
			 "this store were not stored (that zone answers for them)", d->name,
			 occluded);
	return TDNS_OK;
}

/* The held zone's serial and timers, from the sink. */
static void read_zone(struct szone *z)
{
	struct secondary_held h;

	memset(&h, 0, sizeof(h));
	z->sec->sink.held(z->sec->sink.ctx, z->idx, &h);
	z->have = h.have;
	/* Without a zone, the sink's timers when it gives some. */
	z->refresh = h.have || h.refresh > 0 ? h.refresh : DEFAULT_REFRESH;
	z->retry = h.have || h.retry > 0 ? h.retry : DEFAULT_RETRY;
	z->expire = h.have || h.expire > 0 ? h.expire : DEFAULT_EXPIRE;
	if (h.have) {
		z->serial = h.serial;
		if (z->last_ok == 0)
			z->last_ok = h.since;
	}
}

char *secondary_update_text(const struct secondary_update *u)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	ldns_rr *rr = NULL;
	bool ok = f != NULL;

	while (ok && (ok = u->next(u->it, &rr)) && rr != NULL) {
		ldns_rr_print(f, rr);
		ldns_rr_free(rr);
		rr = NULL;
	}
	if (f != NULL && fclose(f) != 0)
		ok = false;
	if (!ok) {
		free(buf);
		return NULL;
	}
	return buf;
}

bool secondary_held_from_text(const char *text, struct secondary_held *out)
{
	FILE *f = fmemopen((void *)(uintptr_t)text, strlen(text), "r");
	ldns_rr *rr = NULL;
	ldns_rdf *origin = NULL, *prev = NULL;
	uint32_t ttl = 0;
	int line = 0;
	bool found = false;

	memset(out, 0, sizeof(*out));
	if (f == NULL)
		return false;
	while (!found && !feof(f)) {
		ldns_status ls = ldns_rr_new_frm_fp_l(&rr, f, &ttl, &origin, &prev, &line);

		if (ls == LDNS_STATUS_OK && ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA &&
		    ldns_rr_rd_count(rr) == 7) {
			out->have = found = true;
			out->serial = ldns_rdf2native_int32(ldns_rr_rdf(rr, 2));
			out->refresh = ldns_rdf2native_int32(ldns_rr_rdf(rr, 3));
			out->retry = ldns_rdf2native_int32(ldns_rr_rdf(rr, 4));
			out->expire = ldns_rdf2native_int32(ldns_rr_rdf(rr, 5));
		} else if (ls != LDNS_STATUS_OK && ls != LDNS_STATUS_SYNTAX_ORIGIN &&
			   ls != LDNS_STATUS_SYNTAX_EMPTY && ls != LDNS_STATUS_SYNTAX_TTL) {
			break;
		}
		ldns_rr_free(rr);
		rr = NULL;
	}
	ldns_rdf_deep_free(origin);
	ldns_rdf_deep_free(prev);
	fclose(f);
	return found;
}

static void end_exchange(struct szone *z)
{
	if (z->o != NULL)
		netio_out_close(z->o);
	z->o = NULL;
	if (z->timeout != NULL)
		netio_timer_cancel(z->sec->l, z->timeout);
	z->timeout = NULL;
	tsig_state_free(z->tsig);
	z->tsig = NULL;
	ldns_rr_list_deep_free(z->rrs);
	z->rrs = NULL;
	if (z->spool != NULL)
		fclose(z->spool);
	z->spool = NULL;
	ldns_buffer_free(z->line);
	z->line = NULL;
	free(z->rec);
	z->rec = NULL;
	z->state = Z_IDLE;
}

/* The exchange with this primary failed: the next one, or retry later. */
static void failed(struct szone *z, const char *why)
{
	char as[64];

	log_warn("%s %s: primary %s: %s", z->sec->sink.label, z->name,
		 netio_addr_str(&z->z->primaries[z->primary], as, sizeof(as)), why);
	end_exchange(z);
	if (++z->primary < z->z->n_primaries) {
		z->next_ms = 0;
		return;
	}
	z->primary = 0;
	schedule(z, z->retry);
}

/* A refresh: the zone is as current as its primary's (secondary.h). */
static void refreshed(struct szone *z)
{
	z->last_ok = clock_now();
	if (atomic_load(&z->expired)) {
		log_info("%s %s: refreshed again", z->sec->sink.label, z->name);
		atomic_store(&z->expired, false);
	}
}

/* The zone's transfer time in seconds (secondary_zone.xfr_time_s). */
static unsigned xfr_time_s(const struct szone *z)
{
	return z->z->xfr_time_s > 0 ? z->z->xfr_time_s : SECONDARY_XFR_TIME_S;
}

static void timed_out(void *ctx)
{
	struct szone *z = ctx;
	char why[96];

	z->timeout = NULL;
	if (z->state == Z_SOA)
		snprintf(why, sizeof(why), "no answer to the SOA query");
	else if (clock_mono_ms() >= z->deadline_ms)
		snprintf(why, sizeof(why), "the transfer took longer than %u s",
			 xfr_time_s(z));
	else
		snprintf(why, sizeof(why), "the transfer stalled");
	failed(z, why);
}

/* The transfer's timer: its silence allowed, not past its deadline. */
static void xfr_timer(struct szone *z)
{
	uint64_t now = clock_mono_ms(), ms = SECONDARY_XFR_IDLE_MS;

	if (z->timeout != NULL)
		netio_timer_cancel(z->sec->l, z->timeout);
	if (z->deadline_ms < now + ms)
		ms = z->deadline_ms > now ? z->deadline_ms - now : 0;
	z->timeout = netio_timer_add(z->sec->l, (unsigned)ms, timed_out, z);
}

/* A query for the zone (SOA, AXFR or IXFR with our SOA), signed when the
 * zone has a key; NULL on failure. */
static ldns_pkt *make_query(struct szone *z, ldns_rr_type type)
{
	ldns_pkt *p = NULL;
	ldns_rdf *owner = ldns_dname_new_frm_data((uint16_t)z->wire_len, z->wire);
	ldns_rr *soa = NULL;
	char text[LDNS_MAX_DOMAINLEN + 64];

	if (owner == NULL)
		return NULL;
	p = ldns_pkt_query_new(owner, type, LDNS_RR_CLASS_IN, 0);
	if (p == NULL)
		return NULL;
	if (getrandom(&z->id, sizeof(z->id), 0) != (ssize_t)sizeof(z->id))
		z->id = (uint16_t)(z->id * 31u + 1u);
	ldns_pkt_set_id(p, z->id);
	if (type == LDNS_RR_TYPE_IXFR) {
		snprintf(text, sizeof(text), "%s 0 IN SOA . . %u 0 0 0 0", z->name,
			 (unsigned)z->serial);
		if (ldns_rr_new_frm_str(&soa, text, 0, NULL, NULL) != LDNS_STATUS_OK) {
			ldns_pkt_free(p);
			return NULL;
		}
		ldns_pkt_push_rr(p, LDNS_SECTION_AUTHORITY, soa);
	}
	return p;
}

/* Send query p (freed here) on z->o, signed with the zone's key when it
 * has one. */
static bool send_query(struct szone *z, ldns_pkt *p)
{
	uint8_t *wire = NULL, buf[1024];
	size_t len = 0;
	bool ok = false;

	if (ldns_pkt2wire(&wire, p, &len) != LDNS_STATUS_OK || len > 512)
		goto out;
	memcpy(buf, wire, len);
	if (z->z->key != NULL &&
	    tsig_sign_query(z->z->key, buf, &len, sizeof(buf), &z->tsig) != TDNS_OK)
		goto out;
	ok = netio_out_send(z->o, buf, len) == TDNS_OK;
out:
	LDNS_FREE(wire);
	ldns_pkt_free(p);
	return ok;
}

/* A reply to our query: ID, QR, question, TSIG; its packet or NULL. */
/* A reply to our query: ID, QR, TSIG. false: not ours (ignored) or
 * failed here. */
static bool reply_ours(struct szone *z, const uint8_t *msg, size_t len)
{
	if (len < DNS_HDR_LEN || dns_rd16(msg) != z->id || !(msg[2] & 0x80))
		return false;
	if (z->tsig != NULL && !tsig_verify_next(z->tsig, msg, len)) {
		failed(z, "the answer's TSIG does not verify");
		return false;
	}
	return true;
}

static ldns_pkt *check_reply(struct szone *z, const uint8_t *msg, size_t len)
{
	ldns_pkt *p = NULL;

	if (!reply_ours(z, msg, len))
		return NULL;
	if (ldns_wire2pkt(&p, msg, len) != LDNS_STATUS_OK) {
		failed(z, "a malformed answer");
		return NULL;
	}
	return p;
}

static void start_xfr(struct szone *z);

/* A primary's serial that is not newer than the zone's: the same one is a
 * refresh (the zone is current); an older one is this primary's failure,
 * so that the next is tried and the zone expires when none is current,
 * as BIND and NSD do. */
static void not_newer(struct szone *z, uint32_t serial)
{
	char why[96];

	if (serial == z->serial) {
		end_exchange(z);
		refreshed(z);
		if (z->sec->sink.refreshed != NULL)
			z->sec->sink.refreshed(z->sec->sink.ctx, z->idx, z->last_ok);
		log_debug("%s %s: serial %u is current", z->sec->sink.label, z->name,
			  (unsigned)serial);
		z->primary = 0;
		schedule(z, z->refresh);
		return;
	}
	snprintf(why, sizeof(why), "its serial %u is older than ours (%u)", (unsigned)serial,
		 (unsigned)z->serial);
	failed(z, why);
}

static void soa_reply(void *ctx, struct tdns_out *o, const uint8_t *msg, size_t len)
{
	struct szone *z = ctx;
	ldns_rr_list *ans;
	ldns_pkt *p;
	uint32_t serial;
	char why[64];

	(void)o;
	if (msg == NULL) {
		failed(z, "network error on the SOA query");
		return;
	}
	p = check_reply(z, msg, len);
	if (p == NULL)
		return;
	ans = ldns_pkt_answer(p);
	if (ldns_pkt_get_rcode(p) != LDNS_RCODE_NOERROR || ldns_rr_list_rr_count(ans) < 1 ||
	    ldns_rr_get_type(ldns_rr_list_rr(ans, 0)) != LDNS_RR_TYPE_SOA) {
		snprintf(why, sizeof(why), "SOA query answered rcode %d without an SOA",
			 (int)ldns_pkt_get_rcode(p));
		ldns_pkt_free(p);
		failed(z, why);
		return;
	}
	serial = ldns_rdf2native_int32(ldns_rr_rdf(ldns_rr_list_rr(ans, 0), 2));
	ldns_pkt_free(p);
	end_exchange(z);
	if (z->have && !zonedb_serial_gt(serial, z->serial)) {
		not_newer(z, serial);
		return;
	}
	log_info("%s %s: primary has serial %u (ours %s%u): transfer", z->sec->sink.label,
		 z->name,
		 (unsigned)serial, z->have ? "" : "none, ", (unsigned)(z->have ? z->serial : 0));
	start_xfr(z);
}

static void soa_check(struct szone *z)
{
	ldns_pkt *p;

	z->state = Z_SOA;
	p = make_query(z, LDNS_RR_TYPE_SOA);
	if (p == NULL || netio_out_udp_from(z->sec->l, &z->z->primaries[z->primary],
					    z->z->source, soa_reply, z, &z->o) != TDNS_OK) {
		ldns_pkt_free(p);
		failed(z, "cannot send the SOA query");
		return;
	}
	/* Signed like the transfer when the zone has a key (RFC 8945: the
	 * answer is then checked too, so a forged SOA cannot start a
	 * transfer or hold one back). */
	if (!send_query(z, p)) {
		failed(z, "cannot send the SOA query");
		return;
	}
	z->timeout = netio_timer_add(z->sec->l, SECONDARY_QUERY_MS, timed_out, z);
}

/* The zone held as text (sink.text), as an ldns record list, or NULL. */
static ldns_rr_list *stored_zone(struct szone *z)
{
	ldns_zone *lz = NULL;
	ldns_rr_list *l = NULL;
	char *buf = z->sec->sink.text(z->sec->sink.ctx, z->idx);
	FILE *in = buf != NULL ? fmemopen(buf, strlen(buf), "r") : NULL;

	if (in != NULL &&
	    ldns_zone_new_frm_fp(&lz, in, NULL, 0, LDNS_RR_CLASS_IN) == LDNS_STATUS_OK) {
		l = ldns_rr_list_clone(ldns_zone_rrs(lz));
		if (l != NULL)
			ldns_rr_list_push_rr(l, ldns_rr_clone(ldns_zone_soa(lz)));
	}
	if (in != NULL)
		fclose(in);
	free(buf);
	ldns_zone_deep_free(lz);
	return l;
}

/* Remove the first record equal to rr from l (names case-insensitively,
 * TTL ignored as RFC 1995 diffs are by record). */
static bool list_remove(ldns_rr_list *l, const ldns_rr *rr)
{
	size_t n = ldns_rr_list_rr_count(l);

	for (size_t i = 0; i < n; i++) {
		if (ldns_rr_compare_no_rdata(ldns_rr_list_rr(l, i), rr) == 0 &&
		    ldns_rr_compare(ldns_rr_list_rr(l, i), rr) == 0) {
			ldns_rr_free(ldns_rr_list_rr(l, i));
			ldns_rr_list_set_rr(l, ldns_rr_list_rr(l, n - 1), i);
			ldns_rr_list_set_rr_count(l, n - 1);
			return true;
		}
	}
	return false;
}

/* Apply an RFC 1995 response (rrs: SOA new, then difference sequences,
 * then SOA new) to the zone held as text (a sink without apply_diff);
 * the records of the new zone, SOA first, or NULL. */
static ldns_rr_list *apply_ixfr(struct szone *z, const char **why)
{
	ldns_rr_list *l = stored_zone(z);
	size_t n = ldns_rr_list_rr_count(z->rrs), i;
	bool adding = false;
	int soas = 0;

	*why = "the stored zone cannot be read";
	if (l == NULL)
		return NULL;
	*why = "a deleted record is not in the zone";
	/* The stored SOA goes with the first deletion. */
	for (i = 1; i + 1 < n; i++) {
		ldns_rr *rr = ldns_rr_list_rr(z->rrs, i);

		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA) {
			adding = soas++ % 2 == 1;
			if (!adding && !list_remove(l, rr))
				goto out;
			if (adding && !ldns_rr_list_push_rr(l, ldns_rr_clone(rr)))
				goto out;
			continue;
		}
		if (adding) {
			if (!ldns_rr_list_push_rr(l, ldns_rr_clone(rr)))
				goto out;
		} else if (!list_remove(l, rr)) {
			goto out;
		}
	}
	/* The SOA first, as an AXFR has it (secondary_update). */
	for (i = 0; i < ldns_rr_list_rr_count(l); i++) {
		ldns_rr *rr = ldns_rr_list_rr(l, i);

		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA) {
			ldns_rr_list_set_rr(l, ldns_rr_list_rr(l, 0), i);
			ldns_rr_list_set_rr(l, rr, 0);
			break;
		}
	}
	*why = NULL;
	return l;
out:
	ldns_rr_list_deep_free(l);
	return NULL;
}

/* The difference sequences of the IXFR response in z->rrs (SOA new,
 * sequences, SOA new) into d; *all (malloc'd, as d->seq) holds the
 * records' pointers. false when they are not whole sequences from an SOA
 * to the new serial. */
static bool split_ixfr(struct szone *z, struct secondary_diff *d, ldns_rr ***all,
		       struct secondary_seq **seq)
{
	size_t n = ldns_rr_list_rr_count(z->rrs), soas = 0, k = 0;
	struct secondary_seq *q = NULL;

	*all = malloc((n > 2 ? n - 2 : 1) * sizeof(**all));
	*seq = malloc((n / 2 + 1) * sizeof(**seq));
	if (*all == NULL || *seq == NULL)
		return false;
	for (size_t i = 1; i + 1 < n; i++) {
		ldns_rr *rr = ldns_rr_list_rr(z->rrs, i);

		(*all)[i - 1] = rr;
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA && soas++ % 2 == 0) {
			q = &(*seq)[k++];
			q->del = *all + (i - 1);
			q->n_del = 0;
			q->add = NULL;
			q->n_add = 0;
		} else if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA) {
			q->add = *all + (i - 1);
		}
		if (q->add != NULL)
			q->n_add++;
		else
			q->n_del++;
	}
	d->name = z->name;
	d->serial = z->new_serial;
	d->seq = *seq;
	d->n_seq = k;
	return k > 0 && q->add != NULL && ldns_rr_rd_count(q->add[0]) >= 3 &&
	       ldns_rdf2native_int32(ldns_rr_rdf(q->add[0], 2)) == z->new_serial;
}

/* The complete IXFR to the sink's apply_diff. */
static enum tdns_status apply_diff(struct szone *z, char *err, size_t cap)
{
	struct secondary_diff d;
	struct secondary_seq *seq = NULL;
	ldns_rr **all = NULL;
	enum tdns_status st = TDNS_EINVAL;

	if (!split_ixfr(z, &d, &all, &seq))
		snprintf(err, cap, "%s", all == NULL || seq == NULL ? "out of memory" :
			 "the IXFR is not made of whole difference sequences");
	else
		st = z->sec->sink.apply_diff(z->sec->sink.ctx, z->idx, &d, err, cap);
	free(all);
	free(seq);
	return st;
}

/* secondary_update.next over the records of a list (the new zone the text
 * path makes). */
struct list_it {
	const ldns_rr_list *l;
	size_t i;
};

static bool list_next(void *ctx, ldns_rr **rr)
{
	struct list_it *it = ctx;

	*rr = NULL;
	if (it->i >= ldns_rr_list_rr_count(it->l))
		return true;
	*rr = ldns_rr_clone(ldns_rr_list_rr(it->l, it->i++));
	return *rr != NULL;
}

static bool spool_next(void *ctx, ldns_rr **rr);

/* The complete transfer to the sink (the store: one write transaction). */
static void apply(struct szone *z)
{
	char err[ZONELOAD_ERR_MAX];
	const char *why = NULL;
	bool ixfr = z->form == FORM_IXFR;
	struct secondary_update u;
	struct list_it lit = { NULL, 0 };
	ldns_rr_list *l = NULL;
	enum tdns_status st;

	err[0] = '\0';
	if (ixfr && z->sec->sink.apply_diff != NULL) {
		st = apply_diff(z, err, sizeof(err));
		/* Nothing changed; the zone held may not be the version the
		 * primary's diff starts from: the whole zone next time. */
		z->force_axfr = st != TDNS_OK;
		goto done;
	}
	u.name = z->name;
	u.how = ixfr ? "IXFR" : "AXFR";
	u.serial = z->new_serial;
	u.records = z->count;
	if (ixfr) {
		l = apply_ixfr(z, &why);
		z->force_axfr = l == NULL;
		if (l == NULL) {
			failed(z, why != NULL ? why : "out of memory");
			return;
		}
		lit.l = l;
		u.next = list_next;
		u.it = &lit;
	} else if (fflush(z->spool) == 0 && fseek(z->spool, 0, SEEK_SET) == 0) {
		u.next = spool_next;
		u.it = z;
	} else {
		failed(z, "the transfer's temporary file cannot be read back");
		return;
	}
	st = z->sec->sink.apply(z->sec->sink.ctx, z->idx, &u, err, sizeof(err));
	ldns_rr_list_deep_free(l);
done:
	if (st != TDNS_OK) {
		failed(z, err[0] != '\0' ? err : tdns_strerror(st));
		return;
	}
	end_exchange(z);
	refreshed(z);
	z->primary = 0;
	read_zone(z);
	schedule(z, z->refresh);
}

/* rr onto the spool: u16 length, the record in uncompressed wire form
 * (through one buffer for the whole transfer). */
static bool spool_rr(struct szone *z, const ldns_rr *rr)
{
	uint8_t hdr[2];
	size_t len;

	ldns_buffer_clear(z->line);
	if (ldns_rr2buffer_wire(z->line, rr, LDNS_SECTION_ANSWER) != LDNS_STATUS_OK)
		return false;
	len = ldns_buffer_position(z->line);
	if (len > SPOOL_REC_MAX)
		return false;
	hdr[0] = (uint8_t)(len >> 8);
	hdr[1] = (uint8_t)len;
	return fwrite(hdr, 1, 2, z->spool) == 2 &&
	       fwrite(ldns_buffer_begin(z->line), 1, len, z->spool) == len;
}

/* secondary_update.next over the spool. */
static bool spool_next(void *ctx, ldns_rr **rr)
{
	struct szone *z = ctx;
	uint8_t hdr[2];
	size_t got, len, pos = 0;

	*rr = NULL;
	got = fread(hdr, 1, 2, z->spool);
	if (got == 0 && feof(z->spool) && !ferror(z->spool))
		return true;
	if (got != 2)
		return false;
	len = dns_rd16(hdr);
	if (fread(z->rec, 1, len, z->spool) != len ||
	    ldns_wire2rr(rr, z->rec, len, &pos, LDNS_SECTION_ANSWER) != LDNS_STATUS_OK ||
	    pos != len) {
		ldns_rr_free(*rr);
		*rr = NULL;
		return false;
	}
	return true;
}

/* An AXFR's records from now on go to an unlinked temporary file (the
 * ones held so far first): a large zone is not held in memory while it
 * arrives. false (why says so) when it cannot be made. */
static bool spool_start(struct szone *z, char *why, size_t cap)
{
	const char *dir = getenv("TMPDIR");
	char path[4096];
	int fd;

	if (dir == NULL || dir[0] == '\0')
		dir = "/tmp";
	snprintf(path, sizeof(path), "%s/tierdns-xfr.XXXXXX", dir);
	fd = mkstemp(path);
	if (fd < 0) {
		snprintf(why, cap, "cannot create a temporary file for the transfer in %s: %s",
			 dir, strerror(errno));
		return false;
	}
	/* Nothing is left behind, however the transfer ends. */
	unlink(path);
	z->spool = fdopen(fd, "w+");
	z->line = ldns_buffer_new(512);
	z->rec = malloc(SPOOL_REC_MAX);
	if (z->spool == NULL || z->line == NULL || z->rec == NULL) {
		if (z->spool == NULL)
			close(fd);
		snprintf(why, cap, "out of memory");
		return false;
	}
	for (size_t i = 0; i < ldns_rr_list_rr_count(z->rrs); i++) {
		if (!spool_rr(z, ldns_rr_list_rr(z->rrs, i))) {
			snprintf(why, cap, "cannot write the transfer's temporary file");
			return false;
		}
	}
	ldns_rr_list_deep_free(z->rrs);
	z->rrs = NULL;
	return true;
}

/* One record of the transfer: held (an IXFR's) or spooled (an AXFR's).
 * *done at the closing SOA; false (why says so) on failure. */
static bool take(struct szone *z, const ldns_rr *rr, bool *done, char *why, size_t cap)
{
	bool soa = ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA && ldns_rr_rd_count(rr) >= 3;
	uint32_t serial = soa ? ldns_rdf2native_int32(ldns_rr_rdf(rr, 2)) : 0;
	ldns_rr *copy;

	if (z->count == 0 && !soa) {
		snprintf(why, cap, "the transfer does not start with the SOA");
		return false;
	}
	if (z->count == 0)
		z->new_serial = serial;
	z->count++;
	if (soa && serial == z->new_serial)
		z->soa_seen++;
	/* An IXFR's second record is the old SOA (RFC 1995 4). */
	if (z->count == 2)
		z->form = soa && serial != z->new_serial ? FORM_IXFR : FORM_AXFR;
	/* The new SOA closes an AXFR (its second time) or an IXFR's
	 * difference sequences (its third: first, last sequence's, closing). */
	*done = soa && serial == z->new_serial &&
		z->soa_seen >= (z->form == FORM_IXFR ? 3u : 2u);
	if (z->form == FORM_AXFR) {
		if (z->spool == NULL && !spool_start(z, why, cap))
			return false;
		/* The closing SOA once: it is the first record's. */
		if ((!*done && !spool_rr(z, rr)) || ferror(z->spool)) {
			snprintf(why, cap, "cannot write the transfer's temporary file");
			return false;
		}
		return true;
	}
	copy = ldns_rr_clone(rr);
	if (copy == NULL || !ldns_rr_list_push_rr(z->rrs, copy)) {
		ldns_rr_free(copy);
		snprintf(why, cap, "out of memory");
		return false;
	}
	return true;
}

static void xfr_reply(void *ctx, struct tdns_out *o, const uint8_t *msg, size_t len)
{
	struct szone *z = ctx;
	size_t i, n, qd, pos = DNS_HDR_LEN, before = z->count;
	bool done = false, ok;
	char why[160];

	(void)o;
	if (msg == NULL) {
		failed(z, "the transfer connection closed before its end");
		return;
	}
	if (!reply_ours(z, msg, len))
		return;
	z->bytes += len;
	if (z->z->xfr_size_max > 0 && atomic_load(&z->bytes) > z->z->xfr_size_max) {
		snprintf(why, sizeof(why), "the transfer came to more than %llu bytes",
			 (unsigned long long)z->z->xfr_size_max);
		failed(z, why);
		return;
	}
	if ((msg[3] & 0x0f) != LDNS_RCODE_NOERROR) {
		snprintf(why, sizeof(why), z->count == 0 ? "transfer refused (rcode %d)"
			 : "the primary ended the transfer (rcode %d)", msg[3] & 0x0f);
		failed(z, why);
		return;
	}
	/* Record by record, each freed before the next: a message's
	 * records never pile up (a heap that grows and shrinks by a whole
	 * message each time costs page faults at every message). */
	qd = dns_rd16(msg + 4);
	n = qd + dns_rd16(msg + 6);
	for (i = 0; i < n && !done; i++) {
		ldns_rr *rr = NULL;

		if (ldns_wire2rr(&rr, msg, len, &pos, i < qd ? LDNS_SECTION_QUESTION
							     : LDNS_SECTION_ANSWER) !=
		    LDNS_STATUS_OK) {
			failed(z, "a malformed answer");
			return;
		}
		ok = i < qd || take(z, rr, &done, why, sizeof(why));
		ldns_rr_free(rr);
		if (!ok) {
			failed(z, why);
			return;
		}
	}
	z->xfr_records = z->count;
	z->xfr_ixfr = z->form == FORM_UNKNOWN ? z->ixfr : z->form == FORM_IXFR;
	xfr_timer(z);
	if (z->count == 0) {
		failed(z, "the transfer does not start with the SOA");
		return;
	}
	/* An IXFR answered by the SOA alone: nothing changed (RFC 1995 4). A
	 * newer serial alone opens a transfer sent a record a message. */
	if (z->ixfr && z->count == 1 && before == 0 &&
	    !zonedb_serial_gt(z->new_serial, z->serial)) {
		not_newer(z, z->new_serial);
		return;
	}
	if (done)
		apply(z);
}

static void start_xfr(struct szone *z)
{
	ldns_pkt *p;

	z->ixfr = z->have && !z->force_axfr;
	z->force_axfr = false;
	z->form = FORM_UNKNOWN;
	z->count = 0;
	z->bytes = 0;
	z->xfr_records = 0;
	z->xfr_ixfr = z->ixfr;
	z->started_ms = clock_mono_ms();
	z->deadline_ms = z->started_ms + (uint64_t)xfr_time_s(z) * 1000u;
	z->state = Z_XFR; /* after the fields secondary_status reads with it */
	z->soa_seen = 0;
	z->rrs = ldns_rr_list_new();
	p = make_query(z, z->ixfr ? LDNS_RR_TYPE_IXFR : LDNS_RR_TYPE_AXFR);
	if (z->rrs == NULL || p == NULL ||
	    netio_out_tcp_from(z->sec->l, &z->z->primaries[z->primary], z->z->source,
			       xfr_reply, z, &z->o) != TDNS_OK) {
		ldns_pkt_free(p);
		failed(z, "cannot start the transfer");
		return;
	}
	if (!send_query(z, p)) {
		failed(z, "cannot send the transfer query");
		return;
	}
	xfr_timer(z);
}

static void tick(void *ctx)
{
	struct tdns_secondary *sec = ctx;
	uint64_t now = clock_mono_ms();

	sec->tick = NULL;
	for (size_t i = 0; i < sec->n; i++) {
		struct szone *z = &sec->z[i];

		if (z->have && !atomic_load(&z->expired) && z->last_ok > 0 &&
		    clock_now() > z->last_ok + z->expire) {
			log_err("%s %s: not refreshed for the expire time (%u s): %s",
				z->sec->sink.label, z->name, (unsigned)z->expire,
				z->sec->sink.on_expire);
			atomic_store(&z->expired, true);
		}
		if (z->state != Z_IDLE)
			continue;
		if (atomic_exchange(&z->notified, false) || now >= z->next_ms) {
			read_zone(z);
			soa_check(z);
		}
	}
	sec->tick = netio_timer_add(sec->l, SECONDARY_TICK_MS, tick, sec);
}

static enum tdns_status new_secondary(struct tdns_loop *l, const struct secondary_sink *sink,
				      struct tdns_store *s, const struct secondary_zone *zones,
				      size_t n, struct tdns_secondary **out);

enum tdns_status secondary_new(struct tdns_loop *l, struct tdns_store *s,
			       const struct secondary_zone *zones, size_t n,
			       struct tdns_secondary **out)
{
	/* ctx NULL: the secondary itself (new_secondary). */
	static const struct secondary_sink sink = {
		.held = store_held,
		.refreshed = store_refreshed,
		.apply = store_apply,
		.apply_diff = store_apply_diff,
		.label = "secondary",
		.on_expire = "the zone answers SERVFAIL",
		.status_what = "secondary of",
	};

	return new_secondary(l, &sink, s, zones, n, out);
}

enum tdns_status secondary_new_sink(struct tdns_loop *l, const struct secondary_sink *sink,
				    const struct secondary_zone *zones, size_t n,
				    struct tdns_secondary **out)
{
	return new_secondary(l, sink, NULL, zones, n, out);
}

/* A sink whose ctx is NULL is the store sink, whose ctx is the secondary. */
static enum tdns_status new_secondary(struct tdns_loop *l, const struct secondary_sink *sink,
				      struct tdns_store *s, const struct secondary_zone *zones,
				      size_t n, struct tdns_secondary **out)
{
	struct tdns_secondary *sec;
	ldns_rdf *d;
	char *text;

	*out = NULL;
	sec = calloc(1, sizeof(*sec));
	if (sec == NULL || (sec->z = calloc(n ? n : 1, sizeof(*sec->z))) == NULL) {
		free(sec);
		return TDNS_ENOMEM;
	}
	sec->l = l;
	sec->sink = *sink;
	if (sec->sink.ctx == NULL)
		sec->sink.ctx = sec;
	sec->s = s;
	sec->zones = zones;
	for (size_t i = 0; i < n; i++) {
		struct szone *z = &sec->z[sec->n];

		if (zones[i].n_primaries == 0 ||
		    name_key_to_wire(zones[i].apex, zones[i].apex_len, z->wire,
				     &z->wire_len) != TDNS_OK)
			continue;
		z->sec = sec;
		z->z = &zones[i];
		z->idx = i;
		d = ldns_dname_new_frm_data((uint16_t)z->wire_len, z->wire);
		text = d != NULL ? ldns_rdf2str(d) : NULL;
		snprintf(z->name, sizeof(z->name), "%s", text != NULL ? text : "?");
		free(text);
		ldns_rdf_deep_free(d);
		atomic_init(&z->notified, false);
		atomic_init(&z->expired, false);
		atomic_init(&z->primary, 0u);
		atomic_init(&z->have, false);
		atomic_init(&z->serial, 0u);
		atomic_init(&z->next_ms, 0u);
		atomic_init(&z->last_ok, 0u);
		read_zone(z);
		sec->n++;
	}
	if (sec->n > 0)
		sec->tick = netio_timer_add(l, 0, tick, sec);
	*out = sec;
	return TDNS_OK;
}

void secondary_free(struct tdns_secondary *sec)
{
	if (sec == NULL)
		return;
	for (size_t i = 0; i < sec->n; i++)
		end_exchange(&sec->z[i]);
	if (sec->tick != NULL)
		netio_timer_cancel(sec->l, sec->tick);
	free(sec->z);
	free(sec);
}

static struct szone *find(const struct tdns_secondary *sec, const uint8_t *apex,
			  size_t apex_len)
{
	for (size_t i = 0; sec != NULL && i < sec->n; i++)
		if (sec->z[i].z->apex_len == apex_len &&
		    memcmp(sec->z[i].z->apex, apex, apex_len) == 0)
			return &sec->z[i];
	return NULL;
}

enum secondary_notify secondary_notify(struct tdns_secondary *sec, const uint8_t *apex,
				       size_t apex_len, const struct tdns_addr *peer)
{
	struct szone *z = find(sec, apex, apex_len);

	if (z == NULL)
		return SECONDARY_NOTIFY_NOTAUTH;
	for (unsigned i = 0; i < z->z->n_primaries; i++) {
		/* The port of a NOTIFY is the primary's choice. */
		if (netio_addr_same_host(&z->z->primaries[i], peer)) {
			atomic_store(&z->notified, true);
			return SECONDARY_NOTIFY_OK;
		}
	}
	return SECONDARY_NOTIFY_REFUSED;
}

void secondary_notify_answer(struct tdns_secondary *sec, const struct tdns_qctx *q,
			     const struct tdns_addr *peer, struct tdns_answer *a)
{
	if (q->qclass != DNS_CLASS_IN || q->qtype != DNS_TYPE_SOA || peer == NULL) {
		a->rcode = DNS_RCODE_FORMERR;
		return;
	}
	switch (secondary_notify(sec, q->qkey, q->qkey_len, peer)) {
	case SECONDARY_NOTIFY_OK:
		a->aa = true;
		break;
	case SECONDARY_NOTIFY_REFUSED:
		a->rcode = DNS_RCODE_REFUSED;
		break;
	case SECONDARY_NOTIFY_NOTAUTH:
		a->rcode = DNS_RCODE_NOTAUTH;
		break;
	}
}

bool secondary_refresh(struct tdns_secondary *sec, const uint8_t *apex, size_t apex_len)
{
	struct szone *z = find(sec, apex, apex_len);

	if (z == NULL)
		return false;
	atomic_store(&z->notified, true);
	return true;
}

bool secondary_expired(const struct tdns_secondary *sec, const uint8_t *apex,
		       size_t apex_len)
{
	const struct szone *z = find(sec, apex, apex_len);

	return z != NULL && atomic_load(&z->expired);
}

bool secondary_status(const struct tdns_secondary *sec, const uint8_t *apex,
		      size_t apex_len, FILE *out)
{
	const struct szone *z = find(sec, apex, apex_len);
	uint64_t now = clock_mono_ms(), next, last, began;
	char as[64], when[32];
	time_t t;
	struct tm tm;

	if (z == NULL)
		return false;
	fprintf(out, "%s:", z->sec->sink.status_what);
	for (unsigned i = 0; i < z->z->n_primaries; i++)
		fprintf(out, " %s", netio_addr_str(&z->z->primaries[i], as, sizeof(as)));
	fprintf(out, "%s\n", z->z->key != NULL ? " (TSIG)" : "");
	if (atomic_load(&z->have))
		fprintf(out, "serial: %u\n", (unsigned)atomic_load(&z->serial));
	else
		fprintf(out, "serial: none (not transferred yet)\n");
	last = atomic_load(&z->last_ok);
	t = (time_t)last;
	if (last > 0 && gmtime_r(&t, &tm) != NULL &&
	    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) > 0)
		fprintf(out, "last refresh: %s\n", when);
	else
		fprintf(out, "last refresh: never\n");
	next = atomic_load(&z->next_ms);
	fprintf(out, "next refresh: in %llu s (primary %s)\n",
		(unsigned long long)(next > now ? (next - now + 999) / 1000 : 0),
		netio_addr_str(&z->z->primaries[atomic_load(&z->primary) % z->z->n_primaries],
			       as, sizeof(as)));
	began = atomic_load(&z->started_ms);
	if (atomic_load(&z->state) == Z_XFR)
		fprintf(out, "transfer: %s from %s, %llu records, %llu bytes, %llu s\n",
			atomic_load(&z->xfr_ixfr) ? "IXFR" : "AXFR",
			netio_addr_str(&z->z->primaries[atomic_load(&z->primary) %
							 z->z->n_primaries], as, sizeof(as)),
			(unsigned long long)atomic_load(&z->xfr_records),
			(unsigned long long)atomic_load(&z->bytes),
			(unsigned long long)(now > began ? (now - began) / 1000 : 0));
	else
		fprintf(out, "transfer: none\n");
	fprintf(out, "expired: %s%s%s\n", atomic_load(&z->expired) ? "yes (" : "no",
		atomic_load(&z->expired) ? z->sec->sink.on_expire : "",
		atomic_load(&z->expired) ? ")" : "");
	return true;
}
