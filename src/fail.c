/*
 * fail.c - why a query failed (fail.h): its text, rcode and Extended DNS
 * Error, the SERVFAIL counters, and the log line of each failure, rate
 * limited.
 */
#include "fail.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "tierdns/clock.h"
#include "tierdns/dnsproto.h"
#include "tierdns/log.h"
#include "tierdns/name.h"
#include "tierdns/referral.h"

/* SERVFAIL reasons logged per second at most. */
#define LOG_BURST 5u
#define LOG_WINDOW_MS 1000u

/* The failure kinds are the first SERVFAIL reasons of the statistics. */
_Static_assert((int)FAIL_TIMEOUT == RESOLVER_SF_TIMEOUT && (int)FAIL_DEAD == RESOLVER_SF_DEAD &&
		       (int)FAIL_NETWORK == RESOLVER_SF_NETWORK &&
		       (int)FAIL_TLS_AUTH == RESOLVER_SF_TLS_AUTH &&
		       (int)FAIL_RCODE == RESOLVER_SF_RCODE &&
		       (int)FAIL_GARBAGE == RESOLVER_SF_GARBAGE &&
		       (int)FAIL_OVERLOAD == RESOLVER_SF_OVERLOAD &&
		       (int)FAIL_CACHED == RESOLVER_SF_CACHED && (int)FAIL_LOOP == RESOLVER_SF_LOOP &&
		       (int)FAIL_CHAIN == RESOLVER_SF_CHAIN &&
		       (int)FAIL_INTERNAL == RESOLVER_SF_INTERNAL &&
		       (int)FAIL_STORE == RESOLVER_SF_STORE &&
		       (int)FAIL_REFERRAL == RESOLVER_SF_REFERRAL,
	       "enum fail_kind and enum resolver_servfail");

const char *fail_text(enum fail_kind why)
{
	switch (why) {
	case FAIL_TIMEOUT: return "upstream timed out";
	case FAIL_DEAD: return "no upstream reachable";
	case FAIL_NETWORK: return "network error";
	case FAIL_TLS_AUTH: return "upstream TLS authentication failed";
	case FAIL_RCODE: return "upstream error rcode";
	case FAIL_GARBAGE: return "malformed upstream reply";
	case FAIL_OVERLOAD: return "resolver overloaded";
	case FAIL_CACHED: return "cached failure";
	case FAIL_LOOP: return "CNAME loop";
	case FAIL_CHAIN: return "CNAME chain too long";
	case FAIL_STORE: return "local store error";
	case FAIL_REFUSED: return "CNAME target in a domain never forwarded (refused)";
	case FAIL_REFERRAL: return "referral from a stub zone's server not followed";
	case FAIL_INTERNAL: break;
	}
	return "internal error";
}

const char *fail_reason(enum fail_kind why, uint8_t ref_bad, int err, char *buf, size_t cap)
{
	if (why == FAIL_REFERRAL)
		snprintf(buf, cap, "%s: %s", fail_text(why),
			 referral_text((enum referral_verdict)ref_bad));
	else if (why == FAIL_NETWORK && err != 0)
		snprintf(buf, cap, "%s (%s)", fail_text(why), strerror(err));
	else
		return fail_text(why);
	return buf;
}

const char *resolver_servfail_name(unsigned why)
{
	static const char *const names[RESOLVER_SF_COUNT] = {
		"timeout", "dead", "network", "tls_auth", "rcode", "garbage",
		"overload", "cached", "loop", "chain", "internal", "store",
		"referral", "bogus",
	};

	return why < RESOLVER_SF_COUNT ? names[why] : "?";
}

/* A client is answered SERVFAIL for why (enum resolver_servfail). */
void fail_count(struct tdns_resolver_stats *s, unsigned why)
{
	stats_inc(&s->servfail);
	stats_inc(&s->servfail_why[why]);
}

/* RFC 8914 4: 22 No Reachable Authority for servers that did not answer
 * (or refused), 23 Network Error for broken exchanges, 13 Cached Error
 * for the failure cache (RFC 9520 3.2), 0 Other for local trouble. */
uint16_t fail_ede(enum fail_kind why)
{
	switch (why) {
	case FAIL_TIMEOUT:
	case FAIL_DEAD:
	case FAIL_RCODE:
		return EDE_NO_REACHABLE_AUTHORITY;
	case FAIL_NETWORK:
	case FAIL_TLS_AUTH:
	case FAIL_GARBAGE:
		return EDE_NETWORK_ERROR;
	case FAIL_CACHED:
		return EDE_CACHED_ERROR;
	case FAIL_LOOP:
	case FAIL_CHAIN:
	case FAIL_OVERLOAD:
	case FAIL_INTERNAL:
	case FAIL_STORE:
	case FAIL_REFUSED:
	case FAIL_REFERRAL:
		break;
	}
	return 0;
}

/* The rcode of a failure: SERVFAIL, except what the policy refuses. */
uint16_t fail_rcode(enum fail_kind why)
{
	return why == FAIL_REFUSED ? DNS_RCODE_REFUSED : DNS_RCODE_SERVFAIL;
}

/* Failures of reaching the upstreams, not of the name (failcache.h). */
bool fail_unreachable(enum fail_kind why)
{
	return why == FAIL_TIMEOUT || why == FAIL_DEAD || why == FAIL_NETWORK ||
	       why == FAIL_TLS_AUTH;
}

/* The name of the key qkey[0..len) into buf, for log lines. */
const char *fail_key_text(const uint8_t *qkey, size_t len, char *buf, size_t cap)
{
	uint8_t wire[NAME_WIRE_MAX];
	size_t wlen;
	ldns_rdf *d = NULL;
	char *text = NULL;

	snprintf(buf, cap, "?");
	if (name_key_to_wire(qkey, len, wire, &wlen) == TDNS_OK)
		d = ldns_dname_new_frm_data((uint16_t)wlen, wire);
	if (d != NULL)
		text = ldns_rdf2str(d);
	if (text != NULL)
		snprintf(buf, cap, "%s", text);
	free(text);
	ldns_rdf_deep_free(d);
	return buf;
}

/* Every SERVFAIL (and every REFUSED of a failure, fail_rcode) is logged
 * with its reason, at most LOG_BURST lines a second; the lines left out
 * are counted and reported in the next window (a dead upstream under load
 * must not flood the log). */
void fail_log(struct fail_log *l, struct tdns_resolver_stats *s, uint16_t rcode,
	      const uint8_t *qkey, size_t qkey_len, uint16_t qtype, const char *why,
	      uint32_t remembered_ms, bool unreachable)
{
	const char *rc = rcode == DNS_RCODE_REFUSED ? "REFUSED" : "SERVFAIL";
	uint64_t now_ms = clock_mono_ms();
	char name[NAME_TEXT_MAX], *type;

	if (now_ms >= l->window + LOG_WINDOW_MS) {
		if (l->pending != 0)
			log_warn("%llu more SERVFAIL reasons not logged (rate limit)",
				 (unsigned long long)l->pending);
		l->window = now_ms;
		l->lines = 0;
		l->pending = 0;
	}
	if (l->lines >= LOG_BURST) {
		l->pending++;
		stats_inc(&s->log_suppressed);
		return;
	}
	l->lines++;
	stats_inc(&s->servfail_logged);
	fail_key_text(qkey, qkey_len, name, sizeof(name));
	type = ldns_rr_type2str((ldns_rr_type)qtype);
	if (remembered_ms > 0)
		log_warn("%s %s %s: %s; answered from memory for %u s%s", rc, name,
			 type != NULL ? type : "?", why, (unsigned)(remembered_ms / 1000),
			 unreachable ? " or until an upstream answers" : "");
	else
		log_warn("%s %s %s: %s", rc, name, type != NULL ? type : "?", why);
	free(type);
}
