/*
 * attempt.c - one upstream attempt of an outstanding query (attempt.h):
 * the server chosen, the query sent, its time, the reply screened, and
 * what each outcome tells the upstreams' shared health (infra.h).
 */
#include "attempt.h"

#include <stdlib.h>
#include <string.h>

#include "tierdns/encode.h"
#include "tierdns/log.h"
#include "tierdns/netio.h"

#include "fail.h"

#define MIN_ATTEMPT_MS 250u
/* With an RTT estimate and another upstream left, an attempt waits at most
 * RTO_FACTOR * RTT (but at least RTO_MIN_MS) before moving on. */
#define RTO_FACTOR 4u
#define RTO_MIN_MS 500u
/* Upstream health (dead, probes, backoff, 0x20) is infra.h's, shared by
 * all workers. After one failure an upstream is suspect: still asked
 * first, but with others left it gets at most SUSPECT_FACTOR x RTT (at
 * least MIN_ATTEMPT_MS) before they are asked, so a silent upstream costs
 * the clients one full wait, not one per query. */
#define SUSPECT_FACTOR 2u
/* The servers a stub zone's referral names are asked at their glue
 * addresses on the DNS port (RFC 1035 4.2). */
#define DNS_PORT 53u
/* Header, the question, one OPT record (RFC 6891 6.1.2). */
#define UPQ_MSG_MAX (DNS_HDR_LEN + NAME_WIRE_MAX + 4 + 11)

/* How many of u's upstreams from `from` on may be asked now. */
static unsigned usable_from(const struct tdns_resolver *r, const struct upq *u,
			    unsigned from, uint64_t now_ms)
{
	unsigned n = 0;

	if (u->ref != NULL)
		return from < u->ref->n_addr ? u->ref->n_addr - from : 0;
	for (unsigned i = from; i < u->set_end; i++)
		if (infra_peek(r->infra, i, now_ms) != INFRA_SKIP)
			n++;
	return n;
}

/* "#2 (192.0.2.1:53)" for log lines: the upstream's place and address. */
static const char *up_label(const struct tdns_resolver *r, unsigned i, char *buf, size_t cap)
{
	char a[64];

	if (r->cfg.upstream_addrs != NULL)
		snprintf(buf, cap, "#%u (%s)", i + 1,
			 netio_addr_str(&r->cfg.upstream_addrs[i], a, sizeof(a)));
	else
		snprintf(buf, cap, "#%u", i + 1);
	return buf;
}

/* The outcome of u's attempt, told to the shared table; what changes
 * once (dead, alive again) is logged and counted by the worker that saw
 * it happen. */
static void up_verdict(struct tdns_resolver *r, struct upq *u, bool alive,
		       uint64_t now_ms)
{
	uint64_t rtt = now_ms > u->sent_ms ? now_ms - u->sent_ms : 1;
	uint32_t backoff = 0;
	char lb[80], fb[224];

	if (u->ref != NULL)
		return; /* a referral's server: no upstream's health */
	if (alive && u->upstream < STATS_MAX_UPSTREAM) {
		stats_inc(&r->stats.up_answered[u->upstream]);
		stats_add(&r->stats.up_rtt_ms[u->upstream], rtt);
	}
	switch (infra_report(r->infra, u->upstream, alive, rtt, u->probe, now_ms,
			     &backoff)) {
	case INFRA_EV_ALIVE:
		log_info("upstream %s answers again", up_label(r, u->upstream, lb, sizeof(lb)));
		break;
	case INFRA_EV_DEAD:
		stats_inc(&r->stats.upstream_dead);
		/* "Another" is one of the same set (policy.h): a forward:
		 * set of one has none, whatever the other sets hold. */
		if (u->set_end - u->set_first > 1)
			log_warn("upstream %s: %u failures in a row (the last: %s), "
				 "skipped while another works, probed after %u ms",
				 up_label(r, u->upstream, lb, sizeof(lb)), INFRA_DEAD_AFTER,
				 fail_reason(u->why, u->ref_bad, u->err, fb, sizeof(fb)), backoff);
		else
			log_warn("upstream %s: %u failures in a row (the last: %s), "
				 "probed again after %u ms", up_label(r, u->upstream, lb, sizeof(lb)),
				 INFRA_DEAD_AFTER, fail_reason(u->why, u->ref_bad, u->err, fb, sizeof(fb)),
				 backoff);
		break;
	case INFRA_EV_NONE:
		break;
	}
	u->probe = false;
}

/* How long the attempt at upstream `up` may take: an even share of the
 * budget left among the upstreams still to try (so a silent first one
 * leaves time for the others, and the last one gets all that is left),
 * and with more to try, less for a suspect upstream or one whose RTT is
 * known (RFC 6298 in spirit: the wait follows the measured RTT). */
static uint64_t attempt_time(const struct tdns_resolver *r, const struct upq *u,
			     unsigned up, uint64_t now_ms)
{
	uint64_t left = u->deadline - now_ms, per, rto;
	unsigned n = usable_from(r, u, up + 1, now_ms);
	struct infra_state st = { 0 };

	/* With none usable after it, the dead ones after it are tried. */
	n = 1 + (n > 0 || u->ref != NULL ? n : u->set_end - up - 1);
	per = left / n;
	if (per < MIN_ATTEMPT_MS)
		per = MIN_ATTEMPT_MS;
	if (u->ref == NULL)
		infra_get(r->infra, up, &st);
	if (n > 1 && st.fails > 0) {
		rto = (uint64_t)SUSPECT_FACTOR * st.srtt_ms;
		if (rto < MIN_ATTEMPT_MS)
			rto = MIN_ATTEMPT_MS;
		if (rto < per)
			per = rto;
	} else if (n > 1 && st.srtt_ms != 0) {
		rto = (uint64_t)RTO_FACTOR * st.srtt_ms;
		if (rto < RTO_MIN_MS)
			rto = RTO_MIN_MS;
		if (rto < per)
			per = rto;
	}
	return per < left ? per : left;
}

/* Close the current attempt (if any) with the transport; a probe that
 * ends without a verdict frees the upstream for the next probe. */
void attempt_close(struct tdns_resolver *r, struct upq *u)
{
	if (u->token != 0)
		r->cfg.transport.done(r->cfg.transport.ctx, u->token);
	u->token = 0;
	if (u->probe) {
		infra_probe_abandon(r->infra, u->upstream);
		u->probe = false;
	}
}

/* The qname as this attempt sends it: lower case, or with 0x20 each
 * letter's case from a random bit (draft-vixie-dnsext-dns0x20), which a
 * forger must also guess. */
static void set_qsent(struct tdns_resolver *r, struct upq *u, bool mix)
{
	uint8_t bits[NAME_WIRE_MAX];
	size_t n = u->qname_len;

	memcpy(u->qsent, u->qname, n);
	u->used_0x20 = false;
	if (!mix || randpool_bytes(&r->rand, bits, n) != TDNS_OK)
		return;
	for (size_t i = 0; i < n && u->qsent[i] != 0; i += (size_t)u->qsent[i] + 1) {
		for (size_t j = i + 1; j <= i + u->qsent[i] && j < n; j++)
			if (u->qsent[j] >= 'a' && u->qsent[j] <= 'z' && (bits[j] & 1))
				u->qsent[j] ^= 0x20;
	}
	u->used_0x20 = true;
}

/* The upstream query message (encode.h encode_query): RD set (clear for
 * a stub zone's servers, RFC 1034 4.3.1: they answer from their data and
 * do not recurse), one question
 * (qsent), an OPT advertising 1232 bytes (RFC 6891 6.2.5, DNS flag day
 * 2020) unless this upstream refused EDNS; DO and CD when validating. */
static size_t build_query(const struct tdns_resolver *r, const struct upq *u,
			  uint8_t *m)
{
	unsigned flags = u->no_edns ? 0 : ENC_Q_EDNS;

	/* A validator asks for the signatures (RFC 4035 4.9.1), and passes
	 * a client's CD on (4.9.2: the upstream need not validate for it). */
	if (r->cfg.anchors != NULL && !u->no_edns)
		flags |= ENC_Q_DO;
	if (u->cd)
		flags |= ENC_Q_CD;
	if (u->stub)
		flags |= ENC_Q_NORD;
	return encode_query(u->id, u->qsent, u->qname_len, u->qtype, u->qclass, flags, m,
			    UPQ_MSG_MAX);
}

/* Send u's current question (the attempt's token and ID set) to server
 * `up` of its set: an upstream, or a referral's server (u->ref). */
static enum tdns_status attempt_send(struct tdns_resolver *r, const struct upq *u,
				     unsigned up, bool tcp, const uint8_t *msg, size_t len)
{
	const struct tdns_transport *t = &r->cfg.transport;

	if (u->ref == NULL)
		return t->send(t->ctx, u->token, up, tcp, msg, len);
	if (t->send_to == NULL)
		return TDNS_EINVAL;
	return t->send_to(t->ctx, u->token, &u->ref->addr[up], tcp, msg, len);
}

/*
 * Start an attempt on the first server from `first` that takes it: a new
 * token and a new random ID every time (RFC 5452 9.2). Dead upstreams are
 * skipped unless due for their one probe (a referral's servers have no
 * health: each is asked in turn). tcp and no_edns apply to `first` only; a
 * further server is asked over UDP with EDNS. Returns false when none could
 * be sent to (u->why says why).
 */
bool attempt_start(struct tdns_resolver *r, struct upq *u, unsigned first,
			  bool tcp, bool no_edns, uint64_t now_ms)
{
	uint8_t msg[UPQ_MSG_MAX];
	struct infra_state st = { 0 };
	enum infra_use use = INFRA_USE;
	unsigned end = u->ref != NULL ? u->ref->n_addr : u->set_end;
	size_t len;

	attempt_close(r, u);
	for (unsigned up = first; up < end;
	     up++, tcp = false, no_edns = false) {
		/* Out of time before asking (a reply read after the budget
		 * ran out, before the timer): the query timed out, whatever
		 * the upstreams' health. */
		if (now_ms >= u->deadline) {
			if (u->why == FAIL_DEAD)
				u->why = FAIL_TIMEOUT;
			return false;
		}
		/* A probe taken here is this attempt's until its verdict
		 * (up_verdict) or attempt_close gives it back. */
		if (u->ref == NULL)
			use = infra_claim(r->infra, up, now_ms);
		if (use == INFRA_SKIP && usable_from(r, u, up + 1, now_ms) > 0) {
			stats_inc(&r->stats.upstream_skipped);
			continue;
		}
		u->upstream = up;
		u->probe = use == INFRA_PROBE;
		/* A dead upstream with no usable one after it is asked all
		 * the same: failing without asking would only prolong an
		 * outage of every upstream past its end. */
		if (randpool_bytes(&r->rand, &u->id, sizeof(u->id)) != TDNS_OK) {
			attempt_close(r, u);
			u->why = FAIL_INTERNAL;
			return false;
		}
		u->no_edns = no_edns;
		if (u->ref == NULL)
			infra_get(r->infra, up, &st);
		set_qsent(r, u, r->cfg.use_0x20 && !st.no_0x20 && !u->plain_case);
		if (++r->seq == 0)
			r->seq = 1;
		u->token = (uint64_t)r->seq << SLOT_BITS | u->slot;
		len = build_query(r, u, msg);
		if (attempt_send(r, u, up, tcp, msg, len) == TDNS_OK) {
			stats_inc(&r->stats.upstream_sent);
			if (u->ref == NULL && up < STATS_MAX_UPSTREAM)
				stats_inc(&r->stats.up_sent[up]);
			u->tcp = tcp;
			u->sent_ms = now_ms;
			if (u->probe)
				stats_inc(&r->stats.upstream_probes);
			u->attempt_deadline = now_ms + attempt_time(r, u, up, now_ms);
			wake_at(r, upq_next(u));
			return true;
		}
		r->cfg.transport.done(r->cfg.transport.ctx, u->token);
		u->token = 0;
		stats_inc(&r->stats.upstream_failed);
		u->why = FAIL_NETWORK;
		up_verdict(r, u, false, now_ms);
	}
	return false;
}

enum qmatch {
	Q_NO = 0, /* not our question: ignore the reply */
	Q_YES,
	Q_CASE,   /* our question, but not the case we sent (0x20) */
};

/* Does the reply's question match what u asked? (RFC 5452 4.2) The name
 * matches case-insensitively (RFC 1035 2.3.3), and with 0x20 byte for
 * byte. */
static enum qmatch question_match(const struct upq *u, const struct tdns_msg *m)
{
	uint8_t qn[NAME_WIRE_MAX];

	if (m->qdcount != 1 || m->opcode != DNS_OPCODE_QUERY ||
	    m->qtype != u->qtype || m->qclass != u->qclass ||
	    m->qname_len != u->qname_len ||
	    !msg_name_eq(m, m->qname, u->qname, u->qname_len))
		return Q_NO;
	if (!u->used_0x20)
		return Q_YES;
	return msg_name(m, m->qname, qn) == u->qname_len &&
			       memcmp(qn, u->qsent, u->qname_len) == 0
		       ? Q_YES
		       : Q_CASE;
}

/* An accepted answer tells whether its upstream keeps the case we send:
 * an exact 0x20 echo clears its strikes, an answer that came only after
 * falling back to plain case adds one. */
static void case_verdict(struct tdns_resolver *r, const struct upq *u)
{
	char lb[80];

	if (!r->cfg.use_0x20 || (!u->used_0x20 && !u->plain_case) || u->ref != NULL)
		return;
	if (infra_case_report(r->infra, u->upstream, u->used_0x20)) {
		stats_inc(&r->stats.fallback_0x20);
		log_info("upstream %s does not echo the question's case: 0x20 off for it",
			 up_label(r, u->upstream, lb, sizeof(lb)));
	}
}

void attempt_lost(struct tdns_resolver *r, struct upq *u, enum fail_kind why, bool alive,
		  uint64_t now_ms)
{
	stats_inc(&r->stats.upstream_failed);
	u->why = why;
	up_verdict(r, u, alive, now_ms);
}

void attempt_timeout(struct tdns_resolver *r, struct upq *u, uint64_t now_ms)
{
	stats_inc(&r->stats.upstream_timeouts);
	if (u->ref == NULL && u->upstream < STATS_MAX_UPSTREAM)
		stats_inc(&r->stats.up_timeouts[u->upstream]);
	up_verdict(r, u, false, now_ms);
}

/* The same server asked again (sent) or not (none took it). */
static enum attempt_reply asked_again(bool sent)
{
	return sent ? ATTEMPT_SENT : ATTEMPT_FAIL;
}

/* A referral (RFC 1034 4.3.2 step 3b): not authoritative, no answer, the
 * NS records of a zone below in the authority section. */
static bool referral(const struct tdns_msg *m)
{
	if (m->rcode != DNS_RCODE_NOERROR || m->aa || m->ancount > 0)
		return false;
	for (size_t i = msg_ns_start(m); i < msg_ar_start(m); i++)
		if (m->rr[i].type == DNS_TYPE_NS)
			return true;
	return false;
}

/*
 * A stub zone's server (or one a referral named) referred u further
 * (RFC 1034 4.3.2 step 3b): when referral.h takes it, the delegated zone's
 * servers are asked the same question, with what is left of u's budget;
 * otherwise (a loop, out of the zone, no glue, too many) the next server
 * of the current set is tried, and when none is left u fails with the
 * referral's reason (FAIL_REFERRAL). Returns ATTEMPT_SENT, _NEXT or _FAIL.
 */
static enum attempt_reply referral_take(struct tdns_resolver *r, struct upq *u,
					const struct tdns_msg *m, uint64_t now_ms)
{
	struct referral_state *s = u->ref;
	enum referral_verdict v;
	char zone[NAME_TEXT_MAX];

	if (s == NULL) {
		s = malloc(sizeof(*s));
		if (s == NULL) {
			u->why = FAIL_INTERNAL;
			return ATTEMPT_NEXT;
		}
		referral_begin(s, u->stub_len);
	}
	v = referral_follow(s, m, u->key, u->qkey_len, DNS_PORT);
	if (v != REFERRAL_OK) {
		if (s != u->ref)
			free(s);
		stats_inc(&r->stats.upstream_failed);
		u->why = FAIL_REFERRAL;
		u->ref_bad = (uint8_t)v;
		return ATTEMPT_NEXT;
	}
	attempt_close(r, u);
	u->ref = s;
	if (log_get_level() >= TDNS_LOG_DEBUG)
		log_debug("stub zone referral %u to %s (%u addresses) followed", s->hops,
			  fail_key_text(u->key, s->zone_len, zone, sizeof(zone)), s->n_addr);
	return asked_again(attempt_start(r, u, 0, false, false, now_ms));
}

enum attempt_reply attempt_reply(struct tdns_resolver *r, struct upq *u, const uint8_t *msg,
				 size_t len, uint64_t now_ms, struct tdns_msg *m)
{
	uint8_t rcode;
	enum qmatch qm;
	unsigned counts;

	/* RFC 5452 9.1: anything without our ID and QR=1 may be a forgery:
	 * ignore it and keep waiting for the real answer. */
	if (len < DNS_HDR_LEN || dns_rd16(msg) != u->id || !(msg[2] & DNS_FLAG_QR)) {
		stats_inc(&r->stats.upstream_ignored);
		return ATTEMPT_WAIT;
	}
	/* Bounds before parsing: a reply claiming more records than any
	 * sane answer to one question is garbage, however long it is (the
	 * cost of parsing and walking it must stay small). */
	counts = (unsigned)dns_rd16(msg + 4) + dns_rd16(msg + 6) + dns_rd16(msg + 8) +
		 dns_rd16(msg + 10);
	if (counts > r->cfg.max_records) {
		stats_inc(&r->stats.upstream_oversized);
		attempt_lost(r, u, FAIL_GARBAGE, false, now_ms);
		return ATTEMPT_NEXT;
	}
	/* Parsed once, into a view on the stack (msg.h): an ldns_pkt would
	 * cost an allocation per record and name, most of a miss. */
	if (msg_parse(m, msg, len) != MSG_OK) {
		attempt_lost(r, u, FAIL_GARBAGE, false, now_ms);
		return ATTEMPT_NEXT;
	}
	rcode = m->rcode;
	qm = question_match(u, m);
	if (qm == Q_NO &&
	    !(m->qdcount == 0 && rcode != DNS_RCODE_NOERROR &&
	      rcode != DNS_RCODE_NXDOMAIN)) {
		/* An error reply without a question is let through: servers
		 * send FORMERR like that, and it carries nothing to cache. */
		stats_inc(&r->stats.upstream_ignored);
		return ATTEMPT_WAIT;
	}
	if (qm == Q_CASE) {
		/* Our question, but not in the case we sent: either the
		 * upstream does not preserve case, or a forger guessed ID and
		 * port but not the case bits. The reply is not used either
		 * way. This query is asked again without 0x20 (new ID, new
		 * port); only an upstream that needs this for CASE_STRIKES
		 * queries in a row loses 0x20 for good, so one forged reply
		 * cannot switch the protection off (draft-vixie-dnsext-dns0x20
		 * 5.5). */
		stats_inc(&r->stats.upstream_ignored);
		u->plain_case = true;
		up_verdict(r, u, true, now_ms);
		return asked_again(attempt_start(r, u, u->upstream, u->tcp, u->no_edns, now_ms));
	}
	if (m->tc && !u->tcp) {
		/* RFC 1035 4.2.1, RFC 7766 5: truncated over UDP, ask again
		 * over TCP at the same upstream. */
		stats_inc(&r->stats.tcp_retries);
		up_verdict(r, u, true, now_ms);
		return asked_again(attempt_start(r, u, u->upstream, true, u->no_edns, now_ms));
	}
	if (m->edns && !u->tcp &&
	    ((unsigned)m->edns_ext_rcode << 4 | rcode) == DNS_RCODE_BADCOOKIE) {
		/* RFC 7873 5.3: the server wants a fresh server cookie,
		 * which the transport took from this reply (upstream.h)
		 * when the client cookie was ours. Asked again with it once
		 * over UDP; a second BADCOOKIE, over TCP, where servers
		 * check none. */
		bool again = u->badcookie;

		u->badcookie = true;
		up_verdict(r, u, true, now_ms);
		return asked_again(attempt_start(r, u, u->upstream, again, u->no_edns, now_ms));
	}
	if (rcode == DNS_RCODE_FORMERR && !u->no_edns) {
		/* RFC 6891 7: a server that does not know EDNS may answer
		 * FORMERR; ask it once more without the OPT record. */
		up_verdict(r, u, true, now_ms);
		return asked_again(attempt_start(r, u, u->upstream, u->tcp, true, now_ms));
	}
	/* An extended rcode (BADVERS, ...) is a failure whatever the header
	 * says (RFC 6891 6.1.3). The next upstream is tried, but a server
	 * that answers with an error rcode is alive: it answers other names
	 * (an upstream is declared dead only for silence, broken sockets and
	 * garbage). */
	if ((rcode != DNS_RCODE_NOERROR && rcode != DNS_RCODE_NXDOMAIN) ||
	    (m->edns && m->edns_ext_rcode != 0) || m->tc) {
		attempt_lost(r, u, FAIL_RCODE, true, now_ms);
		return ATTEMPT_NEXT;
	}
	up_verdict(r, u, true, now_ms);
	case_verdict(r, u);
	if (u->stub && referral(m))
		return referral_take(r, u, m, now_ms);
	return ATTEMPT_ANSWER;
}
