/*
 * dnsproto.h - DNS protocol constants (RFC 1035 and successors) and the
 * byte-level helpers every module shares: big-endian reads and writes of
 * possibly unaligned bytes, ASCII case folding (RFC 4343: DNS names
 * compare case-insensitively in ASCII only, never by locale), and the
 * seeded hash of keys that in-memory tables index by.
 *
 * Header-only, no state, no dependency: safe to include anywhere.
 */
#ifndef TIERDNS_DNSPROTO_H
#define TIERDNS_DNSPROTO_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* RR types (IANA DNS parameters). */
enum {
	DNS_TYPE_A = 1,
	DNS_TYPE_NS = 2,
	DNS_TYPE_MD = 3,
	DNS_TYPE_MF = 4,
	DNS_TYPE_CNAME = 5,
	DNS_TYPE_SOA = 6,
	DNS_TYPE_MB = 7,
	DNS_TYPE_MG = 8,
	DNS_TYPE_MR = 9,
	DNS_TYPE_NULL = 10,
	DNS_TYPE_PTR = 12,
	DNS_TYPE_HINFO = 13,
	DNS_TYPE_MINFO = 14,
	DNS_TYPE_MX = 15,
	DNS_TYPE_TXT = 16,
	DNS_TYPE_AAAA = 28,
	DNS_TYPE_SRV = 33,
	DNS_TYPE_DNAME = 39,
	DNS_TYPE_OPT = 41,
	DNS_TYPE_DS = 43,
	DNS_TYPE_RRSIG = 46,
	DNS_TYPE_NSEC = 47,
	DNS_TYPE_DNSKEY = 48,
	DNS_TYPE_NSEC3 = 50,
	DNS_TYPE_TSIG = 250,
	DNS_TYPE_IXFR = 251,
	DNS_TYPE_AXFR = 252,
	DNS_TYPE_MAILB = 253,
	DNS_TYPE_MAILA = 254,
	DNS_TYPE_ANY = 255,
};

/* Classes. */
enum {
	DNS_CLASS_IN = 1,
	DNS_CLASS_CH = 3,
	DNS_CLASS_HS = 4,
	DNS_CLASS_NONE = 254,
	DNS_CLASS_ANY = 255,
};

/* Opcodes (RFC 1035 4.1.1, RFC 1996, RFC 2136). */
enum {
	DNS_OPCODE_QUERY = 0,
	DNS_OPCODE_IQUERY = 1,
	DNS_OPCODE_STATUS = 2,
	DNS_OPCODE_NOTIFY = 4,
	DNS_OPCODE_UPDATE = 5,
};

/* Response codes; values above 15 need EDNS (RFC 6891 6.1.3). */
enum {
	DNS_RCODE_NOERROR = 0,
	DNS_RCODE_FORMERR = 1,
	DNS_RCODE_SERVFAIL = 2,
	DNS_RCODE_NXDOMAIN = 3,
	DNS_RCODE_NOTIMP = 4,
	DNS_RCODE_REFUSED = 5,
	DNS_RCODE_NOTAUTH = 9,
	DNS_RCODE_BADVERS = 16,
	DNS_RCODE_BADCOOKIE = 23,
};

/* Header layout (RFC 1035 4.1.1): flag bits within bytes 2 and 3. */
#define DNS_HDR_LEN 12
#define DNS_MSG_MAX 65535 /* RFC 1035 4.2.2: the largest message (TCP) */
#define DNS_FLAG_QR 0x80 /* byte 2 */
#define DNS_FLAG_AA 0x04 /* byte 2 */
#define DNS_FLAG_TC 0x02 /* byte 2 */
#define DNS_FLAG_RD 0x01 /* byte 2 */
#define DNS_FLAG_RA 0x80 /* byte 3 */
#define DNS_FLAG_AD 0x20 /* byte 3 */
#define DNS_FLAG_CD 0x10 /* byte 3 */
#define DNS_OPCODE_OF(b2) (((b2) >> 3) & 0x0f)

#define DNS_EDNS_DO 0x8000u /* in the OPT TTL's low 16 bits (RFC 3225) */

/* EDNS option codes. */
enum {
	DNS_OPT_NSID = 3,
	DNS_OPT_COOKIE = 10,
	DNS_OPT_TCP_KEEPALIVE = 11,
	DNS_OPT_PADDING = 12,
	DNS_OPT_EDE = 15,
};

static inline uint16_t dns_rd16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static inline uint32_t dns_rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t dns_rd64(const uint8_t *p)
{
	return (uint64_t)dns_rd32(p) << 32 | dns_rd32(p + 4);
}

static inline void dns_wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void dns_wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void dns_wr64(uint8_t *p, uint64_t v)
{
	dns_wr32(p, (uint32_t)(v >> 32));
	dns_wr32(p + 4, (uint32_t)v);
}

/* ASCII lower case (RFC 4343 3); bytes outside A-Z are unchanged. */
static inline uint8_t dns_lower(uint8_t c)
{
	return (uint8_t)((unsigned)(c - 'A') < 26u ? c + ('a' - 'A') : c);
}

/* dns_lower of each of the 8 bytes of w at once. Per byte, t is its low
 * seven bits: t + (0x80 - 'A') has the high bit set when t >= 'A', and
 * t + (0x80 - 'Z' - 1) when t > 'Z'; neither sum carries into the next
 * byte. A byte with its own high bit set is no letter. */
static inline uint64_t dns_lower8(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101ull, high = ones * 0x80;
	uint64_t t = w & ~high;
	uint64_t ge_a = t + ones * (0x80 - 'A');
	uint64_t gt_z = t + ones * (0x80 - 'Z' - 1);

	return w | (ge_a & ~gt_z & ~w & high) >> 2;
}

/* Are a[0..n) and b[0..n) equal, ASCII case ignored (RFC 4343)? Eight
 * bytes at a time; from 8 bytes on the last word overlaps the one before
 * (bytes it repeats were equal), so only shorter runs take a byte loop. */
static inline bool dns_caseeq(const uint8_t *a, const uint8_t *b, size_t n)
{
	uint64_t x, y;
	size_t i;

	if (n < 8) {
		for (i = 0; i < n; i++)
			if (a[i] != b[i] && dns_lower(a[i]) != dns_lower(b[i]))
				return false;
		return true;
	}
	for (i = 0;; i += 8) {
		if (i + 8 > n)
			i = n - 8;
		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		if (x != y && dns_lower8(x) != dns_lower8(y))
			return false;
		if (i + 8 == n)
			return true;
	}
}

/* The high and low halves of a * b folded together: one multiply that
 * spreads every bit of both over the result. */
static inline uint64_t dns_fold(uint64_t a, uint64_t b)
{
	unsigned __int128 r = (unsigned __int128)a * b;

	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

/*
 * A seeded 64-bit hash of a key's bytes (a name key, a record key): a
 * folded multiply per 8 bytes, a key of 8 bytes or more ending with an
 * overlapping word, so no byte loop. Every bit of the result depends on
 * every byte; a random seed keeps which keys collide unknown outside the
 * process (in-memory tables). The cache also stores it under a fixed seed
 * in its keys (cache.c struct ckey, in host byte order like every LMDB
 * file): changing this function changes that layout, which needs a new
 * cache index version there.
 */
static inline uint64_t dns_key_hash(uint64_t seed, const uint8_t *key, size_t len)
{
	uint64_t h = seed ^ len, w = 0, x;
	size_t i;

	if (len >= 8) {
		for (i = 0; i + 8 < len; i += 8) {
			memcpy(&x, key + i, 8);
			h = dns_fold(h ^ x, 0x9e3779b97f4a7c15ull);
		}
		memcpy(&w, key + len - 8, 8);
	} else {
		for (i = 0; i < len; i++)
			w = w << 8 | key[i];
	}
	return dns_fold(h ^ w, 0xbf58476d1ce4e5b9ull);
}

#endif
