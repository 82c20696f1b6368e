/*
 * rpz.c - response policy zone files into policy triggers, see rpz.h.
 */
#include "tierdns/rpz.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ldns/ldns.h>

#include "tierdns/dnsproto.h"
#include "tierdns/log.h"
#include "tierdns/name.h"

#define RPZ_DEFAULT_TTL 3600

/* The action a CNAME target names (rpz.h), POLICY_RPZ_DATA for any other. */
static enum policy_rpz cname_action(const ldns_rdf *target)
{
	static const struct {
		const char *name;
		enum policy_rpz action;
	} special[] = {
		{ ".", POLICY_RPZ_NXDOMAIN },
		{ "*.", POLICY_RPZ_NODATA },
		{ "rpz-passthru.", POLICY_RPZ_PASSTHRU },
		{ "rpz-drop.", POLICY_RPZ_DROP },
		{ "rpz-tcp-only.", POLICY_RPZ_TCP_ONLY },
	};
	char *text = ldns_rdf2str(target);
	enum policy_rpz action = POLICY_RPZ_DATA;

	for (size_t i = 0; text != NULL && i < sizeof(special) / sizeof(special[0]); i++)
		if (strcasecmp(text, special[i].name) == 0)
			action = special[i].action;
	free(text);
	return action;
}

/* Triggers that are not QNAME triggers: their first label under the
 * origin names their kind. */
static bool other_trigger(const uint8_t *tkey, size_t tklen)
{
	static const char *const kinds[] = { "rpz-ip", "rpz-nsdname", "rpz-nsip",
					     "rpz-client-ip" };

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		size_t n = strlen(kinds[i]);

		if (tklen >= 1 + n && tkey[0] == n && memcmp(tkey + 1, kinds[i], n) == 0)
			return true;
	}
	return false;
}

/* One record of the zone: its trigger and action. */
static enum tdns_status rpz_rr(struct tdns_policy_build *b, const ldns_rr *rr,
			       const uint8_t *okey, size_t oklen, unsigned *skipped,
			       const char *path, int line, char *err, size_t cap)
{
	uint8_t key[NAME_KEY_MAX];
	const ldns_rdf *owner = ldns_rr_owner(rr);
	enum policy_rpz action;
	uint16_t type = (uint16_t)ldns_rr_get_type(rr);
	size_t klen;
	enum tdns_status st;

	if (name_key_from_wire(ldns_rdf_data(owner), ldns_rdf_size(owner), key, &klen) != TDNS_OK ||
	    !name_key_is_subdomain(key, klen, okey, oklen)) {
		snprintf(err, cap, "%s:%d: a name outside the zone", path, line);
		return TDNS_EPARSE;
	}
	if (klen == oklen)
		return TDNS_OK; /* the apex: SOA, NS */
	if (other_trigger(key + oklen, klen - oklen)) {
		(*skipped)++;
		return TDNS_OK;
	}
	action = POLICY_RPZ_DATA;
	if (type == DNS_TYPE_CNAME && ldns_rr_rd_count(rr) == 1)
		action = cname_action(ldns_rr_rdf(rr, 0));
	st = policy_build_rpz(b, key + oklen, klen - oklen, action);
	if (st != TDNS_OK || action != POLICY_RPZ_DATA)
		return st;
	st = policy_build_rr(b, POLICY_T_RPZ, key + oklen, klen - oklen, rr);
	if (st == TDNS_EINVAL) {
		snprintf(err, cap, "%s:%d: rdata too long", path, line);
		st = TDNS_EPARSE;
	}
	return st;
}

/* The zone read from f; path names it in messages. */
static enum tdns_status rpz_read(struct tdns_policy_build *b, FILE *f, const char *path,
				 char *err, size_t cap)
{
	uint8_t okey[NAME_KEY_MAX];
	uint32_t ttl = RPZ_DEFAULT_TTL;
	ldns_rdf *origin = NULL, *prev = NULL;
	ldns_rr *rr = NULL;
	ldns_status ls;
	size_t oklen = 0;
	unsigned skipped = 0, records = 0;
	bool have_soa = false;
	enum tdns_status st = TDNS_EPARSE;
	int line = 0;

	for (;;) {
		ls = ldns_rr_new_frm_fp_l(&rr, f, &ttl, &origin, &prev, &line);
		if (ls == LDNS_STATUS_OK) {
			if (!have_soa) {
				const ldns_rdf *o = ldns_rr_owner(rr);

				if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_SOA ||
				    name_key_from_wire(ldns_rdf_data(o), ldns_rdf_size(o), okey,
						       &oklen) != TDNS_OK) {
					snprintf(err, cap, "%s:%d: the zone must begin with its SOA",
						 path, line);
					goto out;
				}
				have_soa = true;
			}
			if (ldns_rr_get_class(rr) == LDNS_RR_CLASS_IN) {
				st = rpz_rr(b, rr, okey, oklen, &skipped, path, line, err, cap);
				if (st != TDNS_OK)
					goto out;
				records++;
			}
			ldns_rr_free(rr);
			rr = NULL;
		} else if (ls != LDNS_STATUS_SYNTAX_ORIGIN && ls != LDNS_STATUS_SYNTAX_EMPTY &&
			   ls != LDNS_STATUS_SYNTAX_TTL) {
			snprintf(err, cap, "%s:%d: %s", path, line,
				 ls == LDNS_STATUS_SYNTAX_INCLUDE ? "$INCLUDE is not supported"
								  : ldns_get_errorstr_by_id(ls));
			st = TDNS_EPARSE;
			goto out;
		}
		if (feof(f))
			break;
	}
	if (!have_soa) {
		snprintf(err, cap, "%s: no SOA: not a zone", path);
		st = TDNS_EPARSE;
		goto out;
	}
	if (skipped > 0)
		log_warn("rpz %s: %u records of IP, NSDNAME, NSIP or client-IP triggers left "
			 "out (QNAME triggers only)", path, skipped);
	log_info("rpz %s: %u records read", path, records);
	st = TDNS_OK;
out:
	ldns_rr_free(rr);
	ldns_rdf_deep_free(origin);
	ldns_rdf_deep_free(prev);
	return st;
}

/* The zone read from f, closed here; f NULL: it could not be opened
 * (errno says why). */
static enum tdns_status rpz_read_close(struct tdns_policy_build *b, FILE *f,
				       const char *label, char *err, size_t cap)
{
	enum tdns_status st;

	if (f == NULL) {
		snprintf(err, cap, "rpz %s: %s", label, strerror(errno));
		return TDNS_EPARSE;
	}
	st = rpz_read(b, f, label, err, cap);
	fclose(f);
	return st;
}

enum tdns_status rpz_load(struct tdns_policy_build *b, const char *path, char *err,
			  size_t cap)
{
	return rpz_read_close(b, fopen(path, "r"), path, err, cap);
}

enum tdns_status rpz_load_text(struct tdns_policy_build *b, const char *label,
			       const char *text, char *err, size_t cap)
{
	return rpz_read_close(b, fmemopen((void *)(uintptr_t)text, strlen(text), "r"), label,
			      err, cap);
}
