#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
