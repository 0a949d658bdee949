/* SPDX-License-Identifier: MIT */
/*
 * Runs a fuzz target's LLVMFuzzerTestOneInput over inputs, for builds
 * without libFuzzer (the gcc ASan/UBSan build of `make test`): each
 * argument is a file, or a directory whose files are run in name order.
 * A crash or sanitizer report ends the run as it would a fuzzing one; a
 * path that cannot be read fails it with a message. Prints one line per
 * directory and "replayed N inputs".
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_target.h"

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	size_t cap = 1 << 16, len = 0;
	uint8_t *buf = malloc(cap);
	size_t n;
	while (buf && (n = fread(buf + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len == cap) {
			uint8_t *bigger = realloc(buf, cap *= 2);
			if (!bigger)
				free(buf);
			buf = bigger;
		}
	}
	int bad = ferror(f);
	fclose(f);
	if (!buf || bad) {
		fprintf(stderr, "replay: %s: %s\n", path, buf ? "read error" : "out of memory");
		free(buf);
		return -1;
	}
	/* An exact-size copy, as libFuzzer gives: ASan sees a read past the end. */
	uint8_t *exact = malloc(len ? len : 1);
	if (exact)
		memcpy(exact, buf, len);
	free(buf);
	if (!exact)
		return -1;
	LLVMFuzzerTestOneInput(exact, len);
	free(exact);
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_dir(const char *dir, unsigned long *count)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0;
	int r = 0;
	if (!d) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char **more = realloc(names, (n + 1) * sizeof(*names));
		if (!more || !(more[n] = strdup(e->d_name))) {
			names = more ? more : names;
			r = -1;
			break;
		}
		names = more;
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof(*names), by_name);
	for (size_t i = 0; i < n && !r; i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (!(r = run_file(path)))
			(*count)++;
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	printf("%s: %zu inputs\n", dir, n);
	return r;
}

int main(int argc, char **argv)
{
	unsigned long count = 0;
	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		struct stat st;
		int r = stat(argv[i], &st)
			    ? (fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno)), -1)
			: S_ISDIR(st.st_mode) ? run_dir(argv[i], &count)
			: run_file(argv[i])   ? -1
					      : (count++, 0);
		if (r)
			return 1;
	}
	printf("replayed %lu inputs\n", count);
	return 0;
}
