/*
 * testutil.h - shared helpers for the CMocka unit tests.
 */
#ifndef TIERDNS_TESTUTIL_H
#define TIERDNS_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

/* stdbool.h first: without it ldns/common.h defines bool as signed char,
 * which no longer matches the bool of the other modules. */
#include <stdbool.h>
#include <ldns/ldns.h>

#include "tierdns/cache.h"
#include "tierdns/store.h"

/* Create a fresh temporary directory (for an LMDB environment) and return its
 * path in a static buffer of the caller: buf must hold 64 bytes. */
char *tu_tmpdir(char *buf);
/* Remove a directory made by tu_tmpdir and everything in it. */
void tu_rmdir(const char *path);
/* Write text to a fresh temporary file; path returned in buf (64 bytes). */
char *tu_tmpfile(char *buf, const char *text);

/* Bytes from hex text (spaces ignored, lower case) into out (cap bytes);
 * returns how many. A bad character, an odd digit count or no room fails
 * the test. */
size_t tu_unhex(const char *s, uint8_t *out, size_t cap);

/* Redirect stderr into a temporary file until tu_stderr_release, which
 * restores it and copies what was written into log (cap bytes, NUL
 * terminated, cut). Failures to redirect abort the test program. */
struct tu_capture {
	char path[64];
	int saved;
};
void tu_stderr_capture(struct tu_capture *c);
void tu_stderr_release(struct tu_capture *c, char *log, size_t cap);

/*
 * cache_value_build and cache_insert for a reply the tests hold as an ldns
 * packet: it is written to wire (uncompressed: ldns compresses names that
 * differ in case, which would lose an owner's case) and parsed with
 * msg_parse, as the resolver reads replies.
 * TDNS_EINVAL when it does not come back as a message.
 */
enum tdns_status tu_cache_value_build(const struct tdns_cache_cfg *cfg,
				      const ldns_rdf *qname, uint16_t qtype,
				      const ldns_pkt *resp, uint64_t now,
				      struct tdns_cache_value *v);
enum tdns_status tu_cache_insert(struct tdns_store *s,
				 const struct tdns_cache_cfg *cfg,
				 const ldns_rdf *qname, uint16_t qtype,
				 const ldns_pkt *resp, uint64_t now);

#endif
