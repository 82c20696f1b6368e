#include "testutil.h"

#include "oracle.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

char *tu_tmpdir(char *buf)
{
	strcpy(buf, "/tmp/tdns-test-XXXXXX");
	if (mkdtemp(buf) == NULL) {
		perror("mkdtemp");
		abort();
	}
	return buf;
}

void tu_rmdir(const char *path)
{
	char cmd[128];

	if (strncmp(path, "/tmp/tdns-test-", 15) != 0)
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", path);
}

char *tu_tmpfile(char *buf, const char *text)
{
	FILE *f;
	int fd;

	strcpy(buf, "/tmp/tdns-test-XXXXXX");
	fd = mkstemp(buf);
	if (fd < 0) {
		perror("mkstemp");
		abort();
	}
	f = fdopen(fd, "w");
	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
		perror("write");
		abort();
	}
	return buf;
}

void tu_stderr_capture(struct tu_capture *c)
{
	int fd;

	fflush(stderr);
	tu_tmpfile(c->path, "");
	fd = open(c->path, O_WRONLY | O_TRUNC);
	c->saved = dup(STDERR_FILENO);
	if (fd < 0 || c->saved < 0 || dup2(fd, STDERR_FILENO) != STDERR_FILENO) {
		perror("capturing stderr");
		abort();
	}
	close(fd);
}

void tu_stderr_release(struct tu_capture *c, char *log, size_t cap)
{
	FILE *fp;
	size_t n;

	fflush(stderr);
	if (dup2(c->saved, STDERR_FILENO) != STDERR_FILENO) {
		perror("restoring stderr");
		abort();
	}
	close(c->saved);
	fp = fopen(c->path, "r");
	if (fp == NULL) {
		perror(c->path);
		abort();
	}
	n = fread(log, 1, cap - 1, fp);
	log[n] = '\0';
	fclose(fp);
	unlink(c->path);
}

/* resp written to wire without compression (ldns compresses names that
 * differ in case, which would lose the case a test gives an owner) into
 * *b (ldns_buffer_free), parsed into *m. */
static enum tdns_status tu_msg(const ldns_pkt *resp, struct tdns_msg *m,
			       ldns_buffer **b)
{
	*b = ldns_buffer_new(LDNS_MAX_PACKETLEN);
	if (*b == NULL ||
	    ldns_pkt2buffer_wire_compress(*b, resp, NULL) != LDNS_STATUS_OK)
		return TDNS_ENOMEM;
	return msg_parse(m, ldns_buffer_begin(*b), ldns_buffer_position(*b)) == MSG_OK
		       ? TDNS_OK
		       : TDNS_EINVAL;
}

enum tdns_status tu_cache_value_build(const struct tdns_cache_cfg *cfg,
				      const ldns_rdf *qname, uint16_t qtype,
				      const ldns_pkt *resp, uint64_t now,
				      struct tdns_cache_value *v)
{
	static struct tdns_msg m;
	ldns_buffer *b = NULL;
	enum tdns_status st = tu_msg(resp, &m, &b);

	if (st == TDNS_OK)
		st = cache_value_build(cfg, ldns_rdf_data(qname), ldns_rdf_size(qname),
				       qtype, &m, now, v);
	else
		memset(v, 0, sizeof(*v));
	ldns_buffer_free(b);
	return st;
}

enum tdns_status tu_cache_insert(struct tdns_store *s,
				 const struct tdns_cache_cfg *cfg,
				 const ldns_rdf *qname, uint16_t qtype,
				 const ldns_pkt *resp, uint64_t now)
{
	static struct tdns_msg m;
	ldns_buffer *b = NULL;
	enum tdns_status st = tu_msg(resp, &m, &b);

	if (st == TDNS_OK)
		st = cache_insert(s, cfg, ldns_rdf_data(qname), ldns_rdf_size(qname),
				  qtype, &m, now);
	ldns_buffer_free(b);
	return st;
}

size_t tu_unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;
	int hi = -1;

	for (; *s != '\0'; s++) {
		int v = 0;

		if (*s == ' ')
			continue;
		if (*s >= '0' && *s <= '9')
			v = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			v = *s - 'a' + 10;
		else
			fail_msg("bad hex character '%c'", *s);
		if (hi < 0) {
			hi = v;
			continue;
		}
		assert_true(n < cap);
		out[n++] = (uint8_t)(hi << 4 | v);
		hi = -1;
	}
	assert_int_equal(hi, -1);
	return n;
}
