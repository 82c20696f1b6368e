/*
 * testutil.h - shared helpers for the CMocka unit tests.
 */
#ifndef TIERDNS_TESTUTIL_H
#define TIERDNS_TESTUTIL_H

#include <stddef.h>

/* Create a fresh temporary directory (for an LMDB environment) and return its
 * path in a static buffer of the caller: buf must hold 64 bytes. */
char *tu_tmpdir(char *buf);
/* Remove a directory made by tu_tmpdir and everything in it. */
void tu_rmdir(const char *path);
/* Write text to a fresh temporary file; path returned in buf (64 bytes). */
char *tu_tmpfile(char *buf, const char *text);

#endif
