/*
 * sigverify.h - one RRSIG over one RRset checked against a list of DNSKEYs
 * (RFC 4034 3.1.8.1, RFC 4035 5.3), with the keys' OpenSSL forms kept per
 * thread.
 *
 * sigverify_rrsig gives the verdict of ldns_verify_rrsig_keylist_time on
 * the same arguments (the same ldns_status, so the same reason and EDE):
 * the signed data is built as ldns builds it (the RRset with the RRSIG's
 * Original TTL, a wildcard owner per the Labels field, canonical form,
 * canonical order, after the RRSIG rdata without the signature), the
 * keys tried in order (key tag, then algorithm, then the signature),
 * inception and expiration checked last with serial arithmetic (RFC 4034
 * 3.1.5). One difference: a DNSKEY without the Zone Key flag or with a
 * Protocol other than 3 is not used (RFC 4035 5.3.1, RFC 4034 2.1.2, as
 * Unbound; ldns checks neither), so a
 * signature only such a key matches is LDNS_STATUS_CRYPTO_NO_MATCHING_
 * KEYTAG_DNSKEY. The other difference is the cost: for algorithms
 * 8, 10, 13, 14 and 15 the DNSKEY is turned into an EVP_PKEY once per
 * thread and kept (SIGVERIFY_CACHE_KEYS entries, the oldest replaced),
 * with its verify context for RSA and ECDSA (EVP_PKEY_verify on the
 * SHA-2 digest; Ed25519 with EVP_DigestVerify); any other
 * algorithm, a key OpenSSL will not take, an OpenSSL error or a malformed
 * record is left to ldns itself, whose status is returned.
 *
 * Like ldns, it lower-cases the RRSIG's owner name in place.
 */
#ifndef TIERDNS_SIGVERIFY_H
#define TIERDNS_SIGVERIFY_H

#include <stdint.h>

/* stdbool.h before ldns: ldns/common.h defines bool otherwise */
#include <stdbool.h>
#include <ldns/ldns.h>

#define SIGVERIFY_CACHE_KEYS 128

/* The verdict on rrset (borrowed, not changed), rrsig and keys at now
 * (epoch seconds): LDNS_STATUS_OK when one key verifies it and now is
 * within its validity, else the ldns_status ldns would give. */
ldns_status sigverify_rrsig(const ldns_rr_list *rrset, ldns_rr *rrsig, const ldns_rr_list *keys,
			    uint64_t now);

/* Frees the calling thread's kept keys (also done when a thread that
 * kept some exits); the next call starts an empty cache. */
void sigverify_thread_free(void);

/* How many keys the calling thread keeps, how many were made since its
 * cache began (for tests: a second verification with the same key makes
 * none), and how many of its calls were left to ldns. */
void sigverify_cache_counts(unsigned *kept, unsigned long *made, unsigned long *to_ldns);

#endif
