/*
 * test_validate.c - the DNSSEC verdict (validate.h) on packed answers
 * signed here with a fresh ECDSA P-256 key for "test." (the trust anchor
 * is its DS), and the trust anchor files (anchor.h). Time is the fixed
 * T0: signatures are made valid around it, or expired before it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"
#include "tierdns/anchor.h"
#include "tierdns/cache.h"
#include "tierdns/chain.h"
#include "tierdns/dnsproto.h"
#include "tierdns/msg.h"
#include "tierdns/negcache.h"
#include "tierdns/validate.h"

#define T0 1700000000u
#define MAXRR 6

static ldns_key_list *keys;       /* the zone's key (KSK = ZSK here) */
static ldns_rr *dnskey;           /* its DNSKEY record */
static struct tdns_anchors *ta;   /* DS of dnskey for "test.", insecure.test. */
static char anchor_path[64];

static ldns_rr *rr(const char *text)
{
	ldns_rr *r = NULL;

	assert_int_equal(ldns_rr_new_frm_str(&r, text, 0, NULL, NULL), LDNS_STATUS_OK);
	return r;
}

/* A key for zone whose signatures are valid from inception to
 * expiration. */
static ldns_key_list *make_zone_keys(const char *zone, uint32_t inception, uint32_t expiration,
				     ldns_rr **krr)
{
	ldns_key_list *kl = ldns_key_list_new();
	ldns_key *k = ldns_key_new_frm_algorithm(LDNS_SIGN_ECDSAP256SHA256, 256);

	assert_non_null(k);
	ldns_key_set_pubkey_owner(k, ldns_dname_new_frm_str(zone));
	ldns_key_set_flags(k, 257);
	ldns_key_set_inception(k, inception);
	ldns_key_set_expiration(k, expiration);
	*krr = ldns_key2rr(k);
	ldns_key_set_keytag(k, ldns_calc_keytag(*krr));
	ldns_key_list_push_key(kl, k);
	return kl;
}

static ldns_key_list *make_keys(uint32_t inception, uint32_t expiration, ldns_rr **krr)
{
	return make_zone_keys("test.", inception, expiration, krr);
}

/* Every record of l (may be NULL) owned by name from now on. */
static void rename_all(ldns_rr_list *l, const char *name)
{
	for (size_t i = 0; l != NULL && i < ldns_rr_list_rr_count(l); i++) {
		ldns_rr *r = ldns_rr_list_rr(l, i);

		ldns_rdf_deep_free(ldns_rr_owner(r));
		ldns_rr_set_owner(r, ldns_dname_new_frm_str(name));
	}
}

/* The packed value of a reply to (qname, qtype) with the records of an
 * and ns (master-file text, NULL-terminated), each RRset signed with kl
 * unless of unsigned_type; with tamper_to, an A record is replaced by it
 * after signing; with wild_as, an answer RRset owned by a wildcard is
 * expanded to that owner after signing (RFC 4592: its RRSIGs keep their Labels). */
static void pack_wild(const char *qname, uint16_t qtype, ldns_pkt_rcode rcode,
		      const char *const *an, const char *const *ns, ldns_key_list *kl,
		      uint16_t unsigned_type, const char *tamper_to, const char *wild_as,
		      struct tdns_cache_value *v)
{
	ldns_pkt *p = ldns_pkt_new();
	ldns_rdf *qn = ldns_dname_new_frm_str(qname);
	struct tdns_msg *m = malloc(sizeof(*m));
	uint8_t *wire = NULL;
	size_t size = 0;

	assert_non_null(m);
	ldns_pkt_set_qr(p, true);
	ldns_pkt_set_rcode(p, (uint8_t)rcode);
	ldns_pkt_push_rr(p, LDNS_SECTION_QUESTION,
			 ldns_rr_new_frm_type(LDNS_RR_TYPE_A));
	ldns_rr_set_owner(ldns_rr_list_rr(ldns_pkt_question(p), 0), qn);
	ldns_rr_set_type(ldns_rr_list_rr(ldns_pkt_question(p), 0), (ldns_rr_type)qtype);
	for (int sec = 0; sec < 2; sec++) {
		const char *const *lines = sec == 0 ? an : ns;
		ldns_rr_list *set = ldns_rr_list_new();

		for (size_t i = 0; lines != NULL && lines[i] != NULL; i++)
			ldns_rr_list_push_rr(set, rr(lines[i]));
		/* one RRset per run of owner and type */
		while (ldns_rr_list_rr_count(set) > 0) {
			ldns_rr_list *one = ldns_rr_list_pop_rrset(set);
			ldns_rr_list *sigs = NULL;

			if (ldns_rr_get_type(ldns_rr_list_rr(one, 0)) != unsigned_type)
				sigs = ldns_sign_public(one, kl);
			if (tamper_to != NULL &&
			    ldns_rr_get_type(ldns_rr_list_rr(one, 0)) == LDNS_RR_TYPE_A) {
				ldns_rr_free(ldns_rr_list_pop_rr(one));
				ldns_rr_list_push_rr(one, rr(tamper_to));
			}
			if (wild_as != NULL && sec == 0 &&
			    ldns_dname_is_wildcard(ldns_rr_owner(ldns_rr_list_rr(one, 0)))) {
				rename_all(one, wild_as);
				rename_all(sigs, wild_as);
			}
			for (size_t i = 0; i < ldns_rr_list_rr_count(one); i++)
				ldns_pkt_push_rr(p, sec ? LDNS_SECTION_AUTHORITY : LDNS_SECTION_ANSWER,
						 ldns_rr_list_rr(one, i));
			for (size_t i = 0; sigs != NULL && i < ldns_rr_list_rr_count(sigs); i++)
				ldns_pkt_push_rr(p, sec ? LDNS_SECTION_AUTHORITY : LDNS_SECTION_ANSWER,
						 ldns_rr_list_rr(sigs, i));
			ldns_rr_list_free(one);
			ldns_rr_list_free(sigs);
		}
		ldns_rr_list_free(set);
	}
	assert_int_equal(ldns_pkt2wire(&wire, p, &size), LDNS_STATUS_OK);
	assert_int_equal(msg_parse(m, wire, size), MSG_OK);
	assert_int_equal(cache_value_build(NULL, ldns_rdf_data(qn), ldns_rdf_size(qn), qtype, m,
					   T0, v),
			 TDNS_OK);
	free(wire);
	free(m);
	ldns_pkt_free(p);
}

static void pack(const char *qname, uint16_t qtype, ldns_pkt_rcode rcode,
		 const char *const *an, const char *const *ns, ldns_key_list *kl,
		 uint16_t unsigned_type, const char *tamper_to, struct tdns_cache_value *v)
{
	pack_wild(qname, qtype, rcode, an, ns, kl, unsigned_type, tamper_to, NULL, v);
}

struct have;
static bool lookup(void *ctx, const uint8_t *name, size_t name_len, uint16_t type,
		   const uint8_t **val, size_t *vlen);

/* valid_check of v, the answer to (qname, qtype), at T0 with what h has. */
static enum valid_step judge(const char *qname, uint16_t qtype, const struct tdns_cache_value *v,
			     struct have *h, struct valid_verdict *out)
{
	ldns_rdf *qn = ldns_dname_new_frm_str(qname);
	enum valid_step step;

	assert_non_null(qn);
	step = valid_check(ta, ldns_rdf_data(qn), ldns_rdf_size(qn), qtype, v->data, v->len, T0,
			   lookup, h, out);
	ldns_rdf_deep_free(qn);
	return step;
}

/* What the lookup has: the secure DNSKEY answer of test. (or a bogus one). */
struct have {
	struct tdns_cache_value dnskey;
	bool dnskey_bogus;
	struct tdns_cache_value ds; /* the DS answer of child.test., if any */
	unsigned asked;
};

static bool lookup(void *ctx, const uint8_t *name, size_t name_len, uint16_t type,
		   const uint8_t **val, size_t *vlen)
{
	struct have *h = ctx;
	static const uint8_t test[] = { 4, 't', 'e', 's', 't', 0 };

	static const uint8_t child[] = { 5, 'c', 'h', 'i', 'l', 'd', 4, 't', 'e', 's', 't', 0 };

	h->asked++;
	if (type == DNS_TYPE_DS && name_len == sizeof(child) &&
	    memcmp(name, child, sizeof(child)) == 0 && h->ds.data != NULL) {
		*val = h->ds.data;
		*vlen = h->ds.len;
		return true;
	}
	if (type != DNS_TYPE_DNSKEY || name_len != sizeof(test) ||
	    memcmp(name, test, sizeof(test)) != 0 || h->dnskey.data == NULL)
		return false;
	*val = h->dnskey.data;
	*vlen = h->dnskey.len;
	return true;
}

static int setup(void **state)
{
	FILE *f;
	ldns_rr *ds;
	char *text;
	int fd;

	(void)state;
	keys = make_keys(T0 - 3600, T0 + 86400, &dnskey);
	ds = ldns_key_rr2ds(dnskey, LDNS_SHA256);
	text = ldns_rr2str(ds);
	snprintf(anchor_path, sizeof(anchor_path), "/tmp/tdns-anchor.XXXXXX");
	fd = mkstemp(anchor_path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fprintf(f, "; the test zone's anchor\n$TTL 3600\n%s", text);
	fclose(f);
	free(text);
	ldns_rr_free(ds);
	assert_int_equal(anchors_new(&ta), TDNS_OK);
	{
		char err[256];

		assert_int_equal(anchors_load(ta, anchor_path, err, sizeof(err)), TDNS_OK);
	}
	assert_int_equal(anchors_add_insecure(ta, "insecure.test"), TDNS_OK);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(anchor_path);
	anchors_free(ta);
	ldns_key_list_free(keys);
	ldns_rr_free(dnskey);
	return 0;
}

/* The DNSKEY answer of test. packed, validated against the anchor. */
static void dnskey_value(struct tdns_cache_value *v)
{
	char *k = ldns_rr2str(dnskey);
	const char *an[] = { k, NULL };
	struct valid_verdict out;
	struct have none = { 0 };
	static const uint8_t test[] = { 4, 't', 'e', 's', 't', 0 };

	k[strlen(k) - 1] = '\0'; /* the newline */
	pack("test.", DNS_TYPE_DNSKEY, LDNS_RCODE_NOERROR, an, NULL, keys, 0, NULL, v);
	free(k);
	/* A DNSKEY RRset at the anchor needs nothing else. */
	assert_int_equal(valid_check(ta, test, sizeof(test), DNS_TYPE_DNSKEY, v->data, v->len,
				     T0, lookup, &none, &out),
			 VALID_DONE);
	assert_int_equal(out.status, VALID_SECURE);
	assert_int_equal(none.asked, 0);
	cache_value_set_status(v, VALID_SECURE, 0, UINT64_MAX);
}

struct vcase {
	const char *what;
	const char *qname;
	uint16_t qtype;
	ldns_pkt_rcode rcode;
	const char *an[MAXRR];
	const char *ns[MAXRR];
	uint16_t unsigned_type; /* this type goes without RRSIG */
	const char *tamper_to;  /* the A record replaced after signing */
	bool expired_key;       /* signed by the key with past validity */
	bool dnskey_bogus;      /* the DNSKEY answer of test. is bogus */
	enum valid_status want;
	uint16_t want_ede;
};

#define SOA "test. 300 IN SOA ns.test. h.test. 1 3600 900 604800 300"

static const struct vcase vcases[] = {
	{ "signed A", "www.test.", DNS_TYPE_A, LDNS_RCODE_NOERROR,
	  { "www.test. 300 IN A 192.0.2.1", "www.test. 300 IN A 192.0.2.2" }, { 0 }, 0,
	  NULL, false, false, VALID_SECURE, 0 },
	{ "CNAME and target, both signed", "alias.test.", DNS_TYPE_A, LDNS_RCODE_NOERROR,
	  { "alias.test. 300 IN CNAME www.test.", "www.test. 300 IN A 192.0.2.1" }, { 0 }, 0,
	  NULL, false, false, VALID_SECURE, 0 },
	{ "A altered after signing", "www.test.", DNS_TYPE_A, LDNS_RCODE_NOERROR,
	  { "www.test. 300 IN A 192.0.2.1" }, { 0 }, 0, "www.test. 300 IN A 192.0.2.66", false,
	  false, VALID_BOGUS, EDE_DNSSEC_BOGUS },
	{ "signature expired", "www.test.", DNS_TYPE_A, LDNS_RCODE_NOERROR,
	  { "www.test. 300 IN A 192.0.2.1" }, { 0 }, 0, NULL, true, false, VALID_BOGUS,
	  EDE_SIG_EXPIRED },
	{ "signer's DNSKEY bogus", "www.test.", DNS_TYPE_A, LDNS_RCODE_NOERROR,
	  { "www.test. 300 IN A 192.0.2.1" }, { 0 }, 0, NULL, false, true, VALID_BOGUS,
	  EDE_DNSKEY_MISSING },
	{ "unsigned data at the anchor's apex", "test.", DNS_TYPE_A, LDNS_RCODE_NOERROR,
	  { "test. 300 IN A 192.0.2.1" }, { 0 }, DNS_TYPE_A, NULL, false, false, VALID_BOGUS,
	  EDE_RRSIGS_MISSING },
	{ "NXDOMAIN with its NSEC proof", "nosuch.test.", DNS_TYPE_A, LDNS_RCODE_NXDOMAIN,
	  { 0 }, { SOA, "test. 300 IN NSEC www.test. SOA NS RRSIG NSEC DNSKEY" }, 0, NULL,
	  false, false, VALID_SECURE, 0 },
	{ "NODATA with its NSEC proof", "www.test.", DNS_TYPE_TXT, LDNS_RCODE_NOERROR,
	  { 0 }, { SOA, "www.test. 300 IN NSEC test. A RRSIG NSEC" }, 0, NULL, false, false,
	  VALID_SECURE, 0 },
	{ "NODATA whose NSEC shows the type", "www.test.", DNS_TYPE_A, LDNS_RCODE_NOERROR,
	  { 0 }, { SOA, "www.test. 300 IN NSEC test. A RRSIG NSEC" }, 0, NULL, false, false,
	  VALID_BOGUS, EDE_DNSSEC_BOGUS },
	{ "NXDOMAIN without NSEC", "nosuch.test.", DNS_TYPE_A, LDNS_RCODE_NXDOMAIN,
	  { 0 }, { SOA }, 0, NULL, false, false, VALID_BOGUS, EDE_NSEC_MISSING },
	{ "an insecure domain", "www.insecure.test.", DNS_TYPE_A, LDNS_RCODE_NOERROR,
	  { "www.insecure.test. 300 IN A 192.0.2.1" }, { 0 }, DNS_TYPE_A, NULL, false, false,
	  VALID_INSECURE, 0 },
	{ "under no trust anchor", "www.other.", DNS_TYPE_A, LDNS_RCODE_NOERROR,
	  { "www.other. 300 IN A 192.0.2.1" }, { 0 }, DNS_TYPE_A, NULL, false, false,
	  VALID_INSECURE, 0 },
};

static void test_validate_table(void **state)
{
	ldns_rr *old_krr = NULL;
	ldns_key_list *old = make_keys(T0 - 40 * 86400, T0 - 10 * 86400, &old_krr);
	struct tdns_cache_value key = { 0 };

	(void)state;
	/* The expired case is signed by another key of the zone whose
	 * signatures ended before T0: its DNSKEY is the one looked up. */
	dnskey_value(&key);
	for (size_t c = 0; c < sizeof(vcases) / sizeof(vcases[0]); c++) {
		const struct vcase *vc = &vcases[c];
		struct tdns_cache_value v = { 0 };
		struct valid_verdict out;
		struct have h = { 0 };
		ldns_rdf *qn = ldns_dname_new_frm_str(vc->qname);
		enum valid_step step;

		pack(vc->qname, vc->qtype, vc->rcode, vc->an, vc->ns,
		     vc->expired_key ? old : keys, vc->unsigned_type, vc->tamper_to, &v);
		/* First without the DNSKEY: a signed answer needs it. */
		step = valid_check(ta, ldns_rdf_data(qn), ldns_rdf_size(qn), vc->qtype, v.data,
				   v.len, T0, lookup, &h, &out);
		if (step == VALID_NEED) {
			assert_int_equal(out.need_type, DNS_TYPE_DNSKEY);
			assert_int_equal(out.need_len, 6);
			if (vc->expired_key) {
				char *k = ldns_rr2str(old_krr);
				const char *an[] = { k, NULL };

				k[strlen(k) - 1] = '\0';
				pack("test.", DNS_TYPE_DNSKEY, LDNS_RCODE_NOERROR, an, NULL, keys, 0,
				     NULL, &h.dnskey);
				free(k);
				cache_value_set_status(&h.dnskey, VALID_SECURE, 0, UINT64_MAX);
			} else {
				h.dnskey.data = malloc(key.len);
				memcpy(h.dnskey.data, key.data, key.len);
				h.dnskey.len = key.len;
				if (vc->dnskey_bogus)
					cache_value_set_status(&h.dnskey, VALID_BOGUS, 6, UINT64_MAX);
			}
			step = valid_check(ta, ldns_rdf_data(qn), ldns_rdf_size(qn), vc->qtype,
					   v.data, v.len, T0, lookup, &h, &out);
		}
		if (step != VALID_DONE || out.status != vc->want || out.ede != vc->want_ede)
			fail_msg("%s: got step %d status %d EDE %u (%s), want status %d EDE %u",
				 vc->what, step, out.status, out.ede, out.why, vc->want,
				 vc->want_ede);
		cache_value_clear(&h.dnskey);
		cache_value_clear(&v);
		ldns_rdf_deep_free(qn);
	}
	cache_value_clear(&key);
	ldns_key_list_free(old);
	ldns_rr_free(old_krr);
}

/* The NSEC3 owner label (base32hex of the SHA-1 hash, 0 iterations, no
 * salt) of name, as text without the trailing dot. */
static void hashed(const char *name, char *out, size_t cap)
{
	ldns_rdf *n = ldns_dname_new_frm_str(name);
	ldns_rdf *h = ldns_nsec3_hash_name(n, 1, 0, 0, NULL);
	char *t = ldns_rdf2str(h);

	snprintf(out, cap, "%.*s", (int)strlen(t) - 1, t);
	free(t);
	ldns_rdf_deep_free(h);
	ldns_rdf_deep_free(n);
}

/* The NSEC3 chain of a zone with two names, test. and www.test.
 * (SHA-1, 0 iterations, no salt, the flags given): from_lo is the span
 * from the lower hash (lo) to the higher (hi), from_hi the one wrapping
 * back, so every other hash falls in one of the two. */
struct two_spans {
	char ht[64], hw[64];
	const char *lo, *hi;
	char from_lo[256], from_hi[256];
};

static void two_spans(struct two_spans *sp, unsigned flags)
{
	hashed("test.", sp->ht, sizeof(sp->ht));
	hashed("www.test.", sp->hw, sizeof(sp->hw));
	sp->lo = strcmp(sp->ht, sp->hw) < 0 ? sp->ht : sp->hw;
	sp->hi = sp->lo == sp->ht ? sp->hw : sp->ht;
	snprintf(sp->from_lo, sizeof(sp->from_lo), "%s.test. 300 IN NSEC3 1 %u 0 - %s %s",
		 sp->lo, flags, sp->hi,
		 sp->lo == sp->ht ? "SOA NS RRSIG DNSKEY NSEC3PARAM" : "A RRSIG");
	snprintf(sp->from_hi, sizeof(sp->from_hi), "%s.test. 300 IN NSEC3 1 %u 0 - %s %s",
		 sp->hi, flags, sp->lo,
		 sp->hi == sp->ht ? "SOA NS RRSIG DNSKEY NSEC3PARAM" : "A RRSIG");
}

/* RFC 5155 8.4, 8.5: NSEC3 denials of a zone with two names (test. and
 * www.test.): the chain is h(test.) -> h(www.test.) -> back, so every other
 * hash is covered by one of the two. */
static void test_validate_nsec3(void **state)
{
	char ht[64], hw[64], apex[256], www[256];
	const char *lo, *hi, *lo_types, *hi_types;
	struct tdns_cache_value key = { 0 };
	static const struct {
		const char *what, *qname;
		uint16_t qtype;
		ldns_pkt_rcode rcode;
		bool with_apex;
		enum valid_status want;
	} cases[] = {
		{ "NXDOMAIN: closest encloser test., next closer and wildcard covered",
		  "nosuch.test.", DNS_TYPE_A, LDNS_RCODE_NXDOMAIN, true, VALID_SECURE },
		{ "NXDOMAIN without the encloser's NSEC3", "nosuch.test.", DNS_TYPE_A,
		  LDNS_RCODE_NXDOMAIN, false, VALID_BOGUS },
		{ "NODATA: the name's NSEC3 lacks the type", "www.test.", DNS_TYPE_TXT,
		  LDNS_RCODE_NOERROR, false, VALID_SECURE },
		{ "NODATA whose NSEC3 has the type", "www.test.", DNS_TYPE_A, LDNS_RCODE_NOERROR,
		  false, VALID_BOGUS },
	};

	(void)state;
	hashed("test.", ht, sizeof(ht));
	hashed("www.test.", hw, sizeof(hw));
	lo = strcmp(ht, hw) < 0 ? ht : hw;
	hi = lo == ht ? hw : ht;
	lo_types = lo == ht ? "SOA NS RRSIG DNSKEY NSEC3PARAM" : "A RRSIG";
	hi_types = lo == ht ? "A RRSIG" : "SOA NS RRSIG DNSKEY NSEC3PARAM";
	snprintf(apex, sizeof(apex), "%s.test. 300 IN NSEC3 1 0 0 - %s %s", lo, hi, lo_types);
	snprintf(www, sizeof(www), "%s.test. 300 IN NSEC3 1 0 0 - %s %s", hi, lo, hi_types);
	if (lo != ht) { /* apex names the record of test. */
		char tmp[256];

		memcpy(tmp, apex, sizeof(tmp));
		memcpy(apex, www, sizeof(apex));
		memcpy(www, tmp, sizeof(www));
	}
	dnskey_value(&key);
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		const char *ns[] = { SOA, www, cases[c].with_apex ? apex : NULL, NULL };
		struct tdns_cache_value v = { 0 };
		struct valid_verdict out;
		struct have h = { 0 };
		ldns_rdf *qn = ldns_dname_new_frm_str(cases[c].qname);
		enum valid_step step;

		h.dnskey = key;
		pack(cases[c].qname, cases[c].qtype, cases[c].rcode, NULL, ns, keys, 0, NULL, &v);
		step = valid_check(ta, ldns_rdf_data(qn), ldns_rdf_size(qn), cases[c].qtype, v.data,
				   v.len, T0, lookup, &h, &out);
		if (step != VALID_DONE || out.status != cases[c].want)
			fail_msg("%s: got step %d status %d (%s), want %d", cases[c].what, step,
				 out.status, out.why, cases[c].want);
		cache_value_clear(&v);
		ldns_rdf_deep_free(qn);
	}
	cache_value_clear(&key);
}

/* RFC 4035 5.3.4, RFC 5155 8.8: an answer expanded from a wildcard is
 * secure only with the proof that the name itself does not exist. The
 * zone holds test., *.w.test. and www.test.; x.w.test. is asked. */
static void test_wildcard_proof(void **state)
{
	struct two_spans sp, opt;
	char hx[64];
	const char *covering, *other;
	struct tdns_cache_value key = { 0 };
	const char *wild_w = "*.w.test. 300 IN A 192.0.2.7";
	const char *wild_apex = "*.test. 300 IN A 192.0.2.7";
	const char *nsec_w = "*.w.test. 300 IN NSEC www.test. A RRSIG NSEC";
	struct {
		const char *what;
		const char *answer; /* expanded to x.w.test. */
		const char *ns[3];
		enum valid_status want;
		uint16_t want_ede;
	} cases[] = {
		{ "NSEC covering the name, encloser w.test.", NULL, { nsec_w }, VALID_SECURE, 0 },
		{ "no proof at all", NULL, { 0 }, VALID_BOGUS, EDE_NSEC_MISSING },
		{ "an NSEC that does not cover the name", NULL,
		  { "test. 300 IN NSEC *.w.test. SOA NS RRSIG NSEC DNSKEY" }, VALID_BOGUS,
		  EDE_DNSSEC_BOGUS },
		{ "*.test. expanded, but the NSEC shows the encloser w.test.", wild_apex,
		  { nsec_w }, VALID_BOGUS, EDE_DNSSEC_BOGUS },
		{ "NSEC3 covering the next closer name", NULL, { NULL }, VALID_SECURE, 0 },
		{ "NSEC3 covering another span only", NULL, { NULL }, VALID_BOGUS,
		  EDE_DNSSEC_BOGUS },
		{ "NSEC3 opt-out span over the next closer name", NULL, { NULL },
		  VALID_INSECURE, 0 },
	};

	(void)state;
	/* NSEC3 chain test. <-> www.test.: x.w.test. (the next closer name
	 * under the encloser w.test.) hashes into one of the two spans */
	two_spans(&sp, 0);
	two_spans(&opt, 1);
	hashed("x.w.test.", hx, sizeof(hx));
	covering = strcmp(sp.lo, hx) < 0 && strcmp(hx, sp.hi) < 0 ? sp.from_lo : sp.from_hi;
	other = covering == sp.from_lo ? sp.from_hi : sp.from_lo;
	cases[4].ns[0] = covering;
	cases[5].ns[0] = other;
	cases[6].ns[0] = covering == sp.from_lo ? opt.from_lo : opt.from_hi;
	dnskey_value(&key);
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		const char *an[] = { cases[c].answer != NULL ? cases[c].answer : wild_w, NULL };
		struct tdns_cache_value v = { 0 };
		struct valid_verdict out;
		struct have h = { .dnskey = key };
		enum valid_step step;

		pack_wild("x.w.test.", DNS_TYPE_A, LDNS_RCODE_NOERROR, an, cases[c].ns, keys, 0,
			  NULL, "x.w.test.", &v);
		step = judge("x.w.test.", DNS_TYPE_A, &v, &h, &out);
		if (step != VALID_DONE || out.status != cases[c].want || out.ede != cases[c].want_ede)
			fail_msg("%s: got step %d status %d EDE %u (%s), want %d EDE %u",
				 cases[c].what, step, out.status, out.ede, out.why, cases[c].want,
				 cases[c].want_ede);
		cache_value_clear(&v);
	}
	cache_value_clear(&key);
}

/* RFC 4035 5.2: unsigned data at child.test. is insecure only when the
 * (secure) DS answer of child.test. proves a delegation without DS: an
 * NSEC with NS and without DS, or an opt-out NSEC3 span over it (RFC 5155
 * 8.6); otherwise it is bogus (RRSIGs missing). */
static void test_unsigned_delegation(void **state)
{
	struct two_spans sp, plain;
	struct tdns_cache_value key = { 0 };
	const char *an[] = { "child.test. 300 IN A 192.0.2.9", NULL };
	struct {
		const char *what;
		const char *ns[4];
		enum valid_status want;
	} cases[] = {
		{ "NSEC: NS without DS", { SOA, "child.test. 300 IN NSEC www.test. NS RRSIG NSEC" },
		  VALID_INSECURE },
		{ "NSEC: no NS (not a delegation)",
		  { SOA, "child.test. 300 IN NSEC www.test. A RRSIG NSEC" }, VALID_BOGUS },
		{ "NSEC3 opt-out span over it", { SOA, sp.from_lo, sp.from_hi }, VALID_INSECURE },
		{ "NSEC3 covering it without opt-out", { SOA, plain.from_lo, plain.from_hi },
		  VALID_BOGUS },
	};

	(void)state;
	/* a two-name chain test. <-> www.test.; child.test. falls in a span */
	two_spans(&sp, 1);
	two_spans(&plain, 0);
	dnskey_value(&key);
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct tdns_cache_value v = { 0 };
		struct valid_verdict out;
		struct have h = { 0 };
		ldns_rdf *qn = ldns_dname_new_frm_str("child.test.");
		enum valid_step step;

		h.dnskey = key;
		pack("child.test.", DNS_TYPE_A, LDNS_RCODE_NOERROR, an, NULL, keys, DNS_TYPE_A, NULL,
		     &v);
		step = valid_check(ta, ldns_rdf_data(qn), ldns_rdf_size(qn), DNS_TYPE_A, v.data,
				   v.len, T0, lookup, &h, &out);
		assert_int_equal(step, VALID_NEED);
		assert_int_equal(out.need_type, DNS_TYPE_DS);
		pack("child.test.", DNS_TYPE_DS, LDNS_RCODE_NOERROR, NULL, cases[c].ns, keys, 0,
		     NULL, &h.ds);
		cache_value_set_status(&h.ds, VALID_SECURE, 0, UINT64_MAX);
		step = valid_check(ta, ldns_rdf_data(qn), ldns_rdf_size(qn), DNS_TYPE_A, v.data,
				   v.len, T0, lookup, &h, &out);
		if (step != VALID_DONE || out.status != cases[c].want ||
		    (cases[c].want == VALID_BOGUS && out.ede != EDE_RRSIGS_MISSING))
			fail_msg("%s: got step %d status %d EDE %u (%s), want %d", cases[c].what, step,
				 out.status, out.ede, out.why, cases[c].want);
		cache_value_clear(&h.ds);
		cache_value_clear(&v);
		ldns_rdf_deep_free(qn);
	}
	cache_value_clear(&key);
}

/* RFC 4035 5.2: a child whose DS records all name a digest this build
 * cannot compute is insecure, not bogus; one whose DS matches no key is
 * bogus (DNSKEY missing). */
static void test_unusable_ds(void **state)
{
	ldns_rr *ckrr = NULL;
	ldns_key_list *ck = make_zone_keys("child.test.", T0 - 3600, T0 + 86400, &ckrr);
	struct tdns_cache_value key = { 0 }, v = { 0 };
	char *k = ldns_rr2str(ckrr);
	const char *an[] = { k, NULL };
	static const struct {
		const char *ds;
		enum valid_status want;
	} cases[] = {
		{ "child.test. 300 IN DS 1 13 99 00112233", VALID_INSECURE },
		{ "child.test. 300 IN DS 1 13 2 "
		  "0011223344556677889900112233445566778899001122334455667788990011", VALID_BOGUS },
	};

	(void)state;
	k[strlen(k) - 1] = '\0';
	/* the child's DNSKEY RRset, signed by its own key */
	pack("child.test.", DNS_TYPE_DNSKEY, LDNS_RCODE_NOERROR, an, NULL, ck, 0, NULL, &v);
	dnskey_value(&key);
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		const char *ds[] = { cases[c].ds, NULL };
		struct valid_verdict out;
		struct have h = { 0 };
		ldns_rdf *qn = ldns_dname_new_frm_str("child.test.");

		h.dnskey = key;
		pack("child.test.", DNS_TYPE_DS, LDNS_RCODE_NOERROR, ds, NULL, keys, 0, NULL, &h.ds);
		cache_value_set_status(&h.ds, VALID_SECURE, 0, UINT64_MAX);
		assert_int_equal(valid_check(ta, ldns_rdf_data(qn), ldns_rdf_size(qn),
					     DNS_TYPE_DNSKEY, v.data, v.len, T0, lookup, &h, &out),
				 VALID_DONE);
		if (out.status != cases[c].want)
			fail_msg("%s: got status %d EDE %u (%s), want %d", cases[c].ds, out.status,
				 out.ede, out.why, cases[c].want);
		cache_value_clear(&h.ds);
		ldns_rdf_deep_free(qn);
	}
	cache_value_clear(&key);
	cache_value_clear(&v);
	free(k);
	ldns_key_list_free(ck);
	ldns_rr_free(ckrr);
}

/* Every record of v expires at the latest at until? */
static bool records_until(const struct tdns_cache_value *v, uint64_t until)
{
	struct cache_rec r;
	size_t pos = 0;
	unsigned idx = 0, n = 0;

	while (cache_value_next(v->data, v->len, &pos, &idx, &r)) {
		n++;
		if (r.expiry > until)
			return false;
	}
	return n > 0;
}

/* RFC 4035 5.3.3: a secure answer is good until the first signature it
 * was validated with expires, and no longer than that signature's
 * Original TTL (a TTL raised on the way counts for nothing); the value
 * and its records are then cut to that. */
static void test_secure_until(void **state)
{
	ldns_key *k = ldns_key_list_key(keys, 0);
	static const struct {
		const char *what;
		const char *tamper_to;  /* the A record as served */
		uint32_t sig_expiration;
		uint64_t want_until;
		bool outlives;          /* as built, a record outlives want_until */
	} cases[] = {
		{ "TTL 300, signature good for a day", NULL, T0 + 86400, T0 + 300, false },
		{ "A TTL raised to 86400 after signing: the Original TTL bounds it",
		  "www.test. 86400 IN A 192.0.2.1", T0 + 86400, T0 + 300, true },
		{ "signature expiring in 120 s", NULL, T0 + 120, T0 + 120, true },
	};
	struct tdns_cache_value key = { 0 };

	(void)state;
	dnskey_value(&key);
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		const char *an[] = { "www.test. 300 IN A 192.0.2.1", NULL };
		struct tdns_cache_value v = { 0 };
		struct valid_verdict out;
		struct have h = { 0 };
		ldns_rdf *qn = ldns_dname_new_frm_str("www.test.");

		ldns_key_set_expiration(k, cases[c].sig_expiration);
		pack("www.test.", DNS_TYPE_A, LDNS_RCODE_NOERROR, an, NULL, keys, 0,
		     cases[c].tamper_to, &v);
		ldns_key_set_expiration(k, T0 + 86400);
		h.dnskey = key;
		assert_int_equal(valid_check(ta, ldns_rdf_data(qn), ldns_rdf_size(qn), DNS_TYPE_A,
					     v.data, v.len, T0, lookup, &h, &out),
				 VALID_DONE);
		if (out.status != VALID_SECURE || out.until != cases[c].want_until ||
		    records_until(&v, cases[c].want_until) == cases[c].outlives)
			fail_msg("%s: status %d (%s) until T0%+lld", cases[c].what, out.status,
				 out.why, (long long)(out.until - T0));
		cache_value_set_status(&v, out.status, 0, out.until);
		assert_int_equal(v.expiry, cases[c].want_until);
		assert_true(records_until(&v, cases[c].want_until));
		cache_value_clear(&v);
		ldns_rdf_deep_free(qn);
	}
	cache_value_clear(&key);
}

/* A DNSKEY the resolver could not fetch (chain_failed): the answer that
 * needed it is bogus, EDE 9 DNSKEY Missing, the failed fetch in the
 * reason. */
static void test_chain_failed(void **state)
{
	const char *an[] = { "www.test. 300 IN A 192.0.2.1", NULL };
	struct tdns_cache_value v = { 0 };
	struct tdns_chain *c = chain_new();
	ldns_rdf *qn = ldns_dname_new_frm_str("www.test.");

	(void)state;
	assert_non_null(c);
	pack("www.test.", DNS_TYPE_A, LDNS_RCODE_NOERROR, an, NULL, keys, 0, NULL, &v);
	chain_begin(c, &v);
	assert_int_equal(chain_check(c, ta, ldns_rdf_data(qn), ldns_rdf_size(qn), DNS_TYPE_A, T0),
			 VALID_NEED);
	assert_int_equal(c->last.need_type, DNS_TYPE_DNSKEY);
	assert_int_equal(chain_failed(c, "upstream error rcode"), TDNS_OK);
	assert_int_equal(chain_check(c, ta, ldns_rdf_data(qn), ldns_rdf_size(qn), DNS_TYPE_A, T0),
			 VALID_DONE);
	assert_int_equal(c->last.status, VALID_BOGUS);
	assert_int_equal(c->last.ede, EDE_DNSKEY_MISSING);
	if (strstr(c->last.why, "failed to fetch test. DNSKEY (upstream error rcode)") == NULL)
		fail_msg("reason: %s", c->last.why);
	ldns_rdf_deep_free(qn);
	chain_free(c);
}

/* RFC 8198 (negcache.h): a secure NXDOMAIN for b.test. with the NSECs
 * a.test. -> m.test. and test. -> a.test. (over *.test.) proves the names
 * of that span absent, and nothing else; a delegation's NSEC proves
 * nothing below it. */
static void test_negcache(void **state)
{
	const char *ns[] = { SOA, "a.test. 300 IN NSEC m.test. A RRSIG NSEC",
			     "test. 300 IN NSEC a.test. SOA NS RRSIG NSEC DNSKEY", NULL };
	const char *ns_cut[] = { SOA, "a.test. 300 IN NSEC m.test. NS RRSIG NSEC",
				 "test. 300 IN NSEC a.test. SOA NS RRSIG NSEC DNSKEY", NULL };
	const char *chain[] = { "b.test. 300 IN CNAME bb.test.", NULL };
	static const struct {
		const char *name;
		uint64_t at;
		bool cut;   /* the NSEC at a.test. is a delegation's */
		bool cname; /* the answer is a CNAME to bb.test., which is denied */
		bool want;
	} cases[] = {
		{ "c.test.", T0, false, false, true },
		{ "x.c.TEST.", T0 + 299, false, false, true },
		{ "n.test.", T0, false, false, false },     /* after m.test.: not held */
		{ "test.", T0, false, false, false },       /* the apex exists */
		{ "c.other.", T0, false, false, false },    /* another zone */
		{ "c.test.", T0 + 300, false, false, false }, /* expired */
		{ "c.test.", T0, true, false, true },
		{ "x.a.test.", T0, true, false, false },    /* below the delegation */
		{ "c.test.", T0, false, true, false },      /* not kept: a chain */
	};

	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct tdns_negcache *n = NULL;
		struct tdns_cache_value v = { 0 };
		ldns_rdf *q = ldns_dname_new_frm_str(cases[c].name);
		const uint8_t *val = NULL;
		size_t len = 0;
		bool got;

		assert_int_equal(negcache_new(4, &n), TDNS_OK);
		pack("b.test.", DNS_TYPE_A, LDNS_RCODE_NXDOMAIN, cases[c].cname ? chain : NULL,
		     cases[c].cut ? ns_cut : ns, keys, 0, NULL, &v);
		/* only a secure answer is taken */
		negcache_add(n, v.data, v.len, T0);
		assert_false(negcache_find(n, ldns_rdf_data(q), ldns_rdf_size(q), T0, &val, &len));
		cache_value_set_status(&v, VALID_SECURE, 0, UINT64_MAX);
		negcache_add(n, v.data, v.len, T0);
		got = negcache_find(n, ldns_rdf_data(q), ldns_rdf_size(q), cases[c].at, &val, &len);
		if (got != cases[c].want || (got && (len != v.len || memcmp(val, v.data, len) != 0)))
			fail_msg("%s at T0%+lld%s: got %d, want %d", cases[c].name,
				 (long long)(cases[c].at - T0), cases[c].cut ? " (cut)" : "", got,
				 cases[c].want);
		ldns_rdf_deep_free(q);
		cache_value_clear(&v);
		negcache_free(n);
	}
}

/* The status stored with a value; a bound shortens its life. */
static void test_status_in_value(void **state)
{
	struct tdns_cache_value v = { 0 };
	const char *an[] = { "www.test. 300 IN A 192.0.2.1", NULL };

	(void)state;
	pack("www.test.", DNS_TYPE_A, LDNS_RCODE_NOERROR, an, NULL, keys, 0, NULL, &v);
	assert_int_equal(cache_value_status(v.data, v.len), VALID_UNCHECKED);
	cache_value_set_status(&v, VALID_SECURE, 0, UINT64_MAX);
	assert_int_equal(cache_value_status(v.data, v.len), VALID_SECURE);
	assert_int_equal(v.expiry, T0 + 300);
	assert_true(records_until(&v, T0 + 300));
	cache_value_set_status(&v, VALID_BOGUS, EDE_SIG_EXPIRED, T0 + 60);
	assert_int_equal(cache_value_status(v.data, v.len), VALID_BOGUS);
	assert_int_equal(v.expiry, T0 + 60);
	assert_true(records_until(&v, T0 + 60));
	cache_value_clear(&v);
}

/* Anchor files: what is refused, with the file and line. */
static void test_anchor_files(void **state)
{
	static const struct {
		const char *text;
		enum tdns_status want;
		const char *err;
	} files[] = {
		{ "; nothing\n", TDNS_EINVAL, "no DS or DNSKEY" },
		{ ". 3600 IN A 192.0.2.1\n", TDNS_EPARSE, ":1: a trust anchor is a DS" },
		{ "$ORIGIN example.\n@ 3600 IN DS 1 13 2 zz\n", TDNS_EPARSE, ":2:" },
	};
	struct tdns_anchors *a = NULL;
	char path[64], err[256];
	static const uint8_t www_test[] = { 3, 'w', 'w', 'w', 4, 't', 'e', 's', 't', 0 };
	static const uint8_t x_insecure[] = { 1, 'x', 8, 'i', 'n', 's', 'e', 'c', 'u', 'r', 'e',
					     4, 't', 'e', 's', 't', 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		FILE *f;
		int fd;

		snprintf(path, sizeof(path), "/tmp/tdns-anchor.XXXXXX");
		fd = mkstemp(path);
		f = fdopen(fd, "w");
		fputs(files[i].text, f);
		fclose(f);
		assert_int_equal(anchors_new(&a), TDNS_OK);
		assert_int_equal(anchors_load(a, path, err, sizeof(err)), files[i].want);
		if (strstr(err, files[i].err) == NULL)
			fail_msg("%s: got \"%s\", want \"%s\"", files[i].text, err, files[i].err);
		assert_int_equal(anchors_count(a), 0);
		anchors_free(a);
		unlink(path);
	}
	assert_int_equal(anchors_new(&a), TDNS_OK);
	assert_int_equal(anchors_load(a, "/nonexistent/anchor", err, sizeof(err)), TDNS_EIO);
	anchors_free(a);
	/* The loaded one: "test." covers www.test., nothing covers "." */
	assert_non_null(anchors_find(ta, www_test, sizeof(www_test)));
	assert_null(anchors_find(ta, (const uint8_t *)"", 1));
	assert_true(anchors_insecure(ta, x_insecure, sizeof(x_insecure)));
	assert_false(anchors_insecure(ta, www_test, sizeof(www_test)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_validate_table),
		cmocka_unit_test(test_validate_nsec3),
		cmocka_unit_test(test_wildcard_proof),
		cmocka_unit_test(test_unsigned_delegation),
		cmocka_unit_test(test_unusable_ds),
		cmocka_unit_test(test_secure_until),
		cmocka_unit_test(test_chain_failed),
		cmocka_unit_test(test_negcache),
		cmocka_unit_test(test_status_in_value),
		cmocka_unit_test(test_anchor_files),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
