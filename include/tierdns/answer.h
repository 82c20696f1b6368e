/*
 * answer.h - the answer descriptor: what a reply says, never its bytes.
 *
 * A lookup (auth.h for zones, cache.h for the cache, the resolver for its
 * failures) fills one struct tdns_answer: the rcode, the AA/TC/RA flags, an
 * optional Extended DNS Error (RFC 8914) and, per section, a list of RRsets.
 * Each RRset is a borrowed view: its owner name and records point into the
 * LMDB snapshot the lookup read (or into the query, or into the answer's
 * own small arena), so nothing is copied until encode.h writes the message.
 *
 * Ownership: everything an entry points to must outlive the encoding. For
 * LMDB data that means the read transaction stays open until encode_reply
 * returns. The struct itself is plain memory, reused across queries with
 * answer_reset; it holds no heap pointers and needs no destructor.
 *
 * The records of an entry are count x ( skip bytes | u16 rdlength | rdata ),
 * so the encoder steps over what it does not use without parsing it: skip
 * is ANS_REC_PACKED (0) for the rrset.h layout; the cache (cache.h) sets it
 * to its record's owner, type, class and expiry, which the records of one
 * entry share (owner, type, class and TTL are the entry's). rdata is
 * uncompressed wire rdata; the encoder compresses the names in the rdata of
 * the RFC 1035 types that RFC 3597 4 allows.
 */
#ifndef TIERDNS_ANSWER_H
#define TIERDNS_ANSWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tierdns/name.h"
#include "tierdns/status.h"

struct replycache_slot;

enum ans_section {
	ANS_ANSWER = 0,
	ANS_AUTHORITY,
	ANS_ADDITIONAL,
	ANS_SECTIONS_,
};

#define ANS_REC_PACKED 0 /* skip of the rrset.h layout */

/* Entry flags. */
#define ANS_F_REQUIRED 0x01 /* additional data whose loss sets TC: the
			     * in-domain glue of a referral (RFC 9471 3) */
#define ANS_F_SIGS 0x02     /* the RRSIGs of the entry before it (same
			     * section): the two go into a reply together
			     * or not at all (RFC 4035 3.1.1) */

/* Entries per answer; more sets TC. A zone transfer message holds up to
 * this many RRsets less one: 1023 A records make about 24 KB (NSD's
 * messages hold about 16 KB); fewer records a message made a transfer
 * slower to read than NSD's. */
#define ANS_MAX_RRSETS 1024
#define ANS_ARENA 1024       /* bytes for owner names and synthesized rdata */
#define ANS_EDE_TEXT_MAX 64  /* EXTRA-TEXT of an EDE option, bytes */
#define ANS_COOKIE_MAX 40    /* COOKIE option data (RFC 7873 4) */

struct tdns_ans_rrset {
	const uint8_t *owner; /* uncompressed wire name; NULL: the question
			       * name as the client wrote it */
	const uint8_t *rdata; /* count records, each after `skip` bytes */
	size_t rdata_len;     /* bytes at rdata */
	uint32_t ttl;
	uint16_t type;
	uint16_t rclass;
	uint16_t count;
	uint16_t skip;        /* bytes before each record's rdlength */
	uint8_t section;      /* enum ans_section */
	uint8_t flags;        /* ANS_F_* */
};

struct tdns_answer {
	uint16_t rcode;  /* 12 bits: values above 15 go into the OPT (RFC 6891) */
	bool aa;
	bool ra;
	bool tc;         /* set by a lookup that could not list everything */
	bool has_ede;
	bool wildcard;   /* the answer was synthesized from a wildcard (RFC 4592) */
	bool ad;         /* AD: the data was validated secure (RFC 4035 3.2.3) */
	uint8_t dnssec;  /* cache.h enum valid_status of cached data, else 0 */
	uint16_t ede_code;          /* RFC 8914 4 INFO-CODE */
	uint8_t ede_text_len;
	char ede_text[ANS_EDE_TEXT_MAX];
	/* The reply's COOKIE option (cookie.h), sent when cookie_len > 0;
	 * cookie_ok: the query's server cookie was valid. */
	bool cookie_ok;
	uint8_t cookie_len;
	uint8_t cookie[ANS_COOKIE_MAX];
	/* RFC 7828 edns-tcp-keepalive TIMEOUT (100 ms units) to send; 0: none.
	 * Only ever set on TCP. */
	uint16_t keepalive;
	/* The zone that answered: the query's name key truncated to zone_klen
	 * bytes (name.h keys put the apex first); 0 when none did. For rate
	 * limiting (rrl.h), which files negative answers under their zone. */
	size_t zone_klen;
	/* A reply encoded before that stands for this descriptor
	 * (replycache.h): the pipeline sends it with the query's ID and
	 * question case, its TTLs less replay_age seconds, instead of encoding
	 * the entries (there are none). NULL: encode. Only a pipeline with no
	 * limit stage may be given one (that stage edits the entries). */
	const struct replycache_slot *replay;
	uint32_t replay_age;
	size_t arena_len;
	uint8_t arena[ANS_ARENA];
	size_t n;                   /* entries used */
	/* Last: a reply uses its first few entries, a transfer message up
	 * to all; the fields above stay together whatever its size. */
	struct tdns_ans_rrset rrsets[ANS_MAX_RRSETS];
};

/* Empty the descriptor: rcode NOERROR, no flags, no entries, no EDE. */
void answer_reset(struct tdns_answer *a);
/* Empty it for another try at the same query: as answer_reset, but RA and
 * the per-client EDNS options an earlier stage put in (the COOKIE, its
 * verdict, the keepalive) stay. */
void answer_restart(struct tdns_answer *a);

/*
 * Append one RRset to section sec. owner and rdata are borrowed (see the
 * ownership rule above). When the descriptor is full the entry is not added
 * and a->tc is set: the reply then says it is incomplete (RFC 2181 9).
 * Returns the entry or NULL (full).
 */
struct tdns_ans_rrset *answer_add(struct tdns_answer *a, enum ans_section sec,
				  const uint8_t *owner, uint16_t type,
				  uint16_t rclass, uint32_t ttl, uint16_t skip,
				  uint16_t count, const uint8_t *rdata,
				  size_t rdata_len);

/* Drop every entry and set TC, keeping the rcode, flags and EDE: the
 * truncated reply that tells a client to retry over TCP. */
void answer_truncate(struct tdns_answer *a);

/* RFC 8482 4.1: the answer to ANY over UDP keeps one RRset of the answer
 * section (the first added: the first in type order, with its
 * signatures), so that ANY is no lever for amplification; the other
 * sections (a CNAME chain's, a denial) stay. Over TCP a client gets them
 * all. */
void answer_minimal_any(struct tdns_answer *a);

/* Copy n bytes into the answer's arena; the copy lives as long as the
 * descriptor's current contents (until answer_reset). NULL when full. */
const uint8_t *answer_keep(struct tdns_answer *a, const void *p, size_t n);

/* The wire name of a name key (name.h), kept in the arena. NULL when the
 * key is malformed or the arena is full. */
const uint8_t *answer_name_from_key(struct tdns_answer *a, const uint8_t *key,
				    size_t klen);

/* Number of entries of section sec. */
size_t answer_count(const struct tdns_answer *a, enum ans_section sec);

/*
 * Turn the answer into an error: every entry removed, AA cleared, rcode set
 * (SERVFAIL for a failed lookup), and an EDE option (RFC 8914) with code
 * and text (text NULL: none) that goes out when the query had EDNS.
 */
void answer_fail(struct tdns_answer *a, uint16_t rcode, uint16_t ede_code,
		 const char *text);

/* Attach an EDE option without changing anything else. */
void answer_set_ede(struct tdns_answer *a, uint16_t ede_code, const char *text);

/* RFC 8914 4 INFO-CODEs in use. */
enum {
	EDE_OTHER = 0,
	EDE_STALE_ANSWER = 3,
	EDE_DNSSEC_BOGUS = 6,       /* the DNSSEC verdicts (validate.h) */
	EDE_SIG_EXPIRED = 7,
	EDE_SIG_NOT_YET_VALID = 8,
	EDE_DNSKEY_MISSING = 9,
	EDE_RRSIGS_MISSING = 10,
	EDE_NSEC_MISSING = 12,
	EDE_CACHED_ERROR = 13,
	EDE_BLOCKED = 15,
	EDE_PROHIBITED = 18,
	EDE_NOT_AUTHORITATIVE = 20,
	EDE_NO_REACHABLE_AUTHORITY = 22,
	EDE_NETWORK_ERROR = 23,
};

#endif
