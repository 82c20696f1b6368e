/*
 * replay.c - main() for running a fuzz target without libFuzzer: every file
 * named on the command line, and every regular file in a directory named
 * there, is passed once to LLVMFuzzerTestOneInput. ctest runs it over the
 * seed corpus on every build (tests/fuzz/replay.cmake), so an input that once
 * crashed a target keeps failing the tests until the bug is fixed.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* libFuzzer's default -max_len is 4096; seeds are far smaller, but a
 * reproducer may be as large as a TCP message. */
#define REPLAY_MAX (1u << 20)

static int run_file(const char *path, size_t *count)
{
	uint8_t *buf = NULL;
	FILE *f = NULL;
	size_t n;
	int rc = 1;

	buf = malloc(REPLAY_MAX);
	f = fopen(path, "rb");
	if (buf == NULL || f == NULL) {
		fprintf(stderr, "%s: cannot read\n", path);
		goto out;
	}
	n = fread(buf, 1, REPLAY_MAX, f);
	if (ferror(f) || !feof(f)) {
		fprintf(stderr, "%s: unreadable or larger than %u bytes\n", path,
			REPLAY_MAX);
		goto out;
	}
	fprintf(stderr, "replay %s (%zu bytes)\n", path, n);
	/* A copy of exactly n bytes, so ASan sees reads past the input. */
	{
		uint8_t *exact = malloc(n > 0 ? n : 1);

		if (exact == NULL)
			goto out;
		memcpy(exact, buf, n);
		LLVMFuzzerTestOneInput(exact, n);
		free(exact);
	}
	(*count)++;
	rc = 0;
out:
	if (f != NULL)
		fclose(f);
	free(buf);
	return rc;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int run_dir(const char *dir, size_t *count)
{
	struct dirent **ents = NULL;
	char path[4096];
	struct stat sb;
	int n, rc = 0;

	n = scandir(dir, &ents, NULL, by_name);
	if (n < 0) {
		fprintf(stderr, "%s: cannot list\n", dir);
		return 1;
	}
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name);
		if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode))
			rc |= run_file(path, count);
		free(ents[i]);
	}
	free(ents);
	return rc;
}

int main(int argc, char **argv)
{
	struct stat sb;
	size_t count = 0;
	int rc = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		if (stat(argv[i], &sb) != 0) {
			fprintf(stderr, "%s: not found\n", argv[i]);
			rc = 1;
		} else if (S_ISDIR(sb.st_mode)) {
			rc |= run_dir(argv[i], &count);
		} else {
			rc |= run_file(argv[i], &count);
		}
	}
	printf("%zu inputs replayed without a crash\n", count);
	if (count == 0)
		rc = 1;
	return rc;
}
