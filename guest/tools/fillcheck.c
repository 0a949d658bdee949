/* SPDX-License-Identifier: MIT */
/*
 * Host-side check of guestload's page generators (not built by meson):
 *
 *   gcc -O2 -I guest -I include guest/tools/fillcheck.c guest/fill.c -o /tmp/fillcheck
 *   /tmp/fillcheck text 16384 | gzip -c | wc -c      # bytes out of 64 MiB
 *   /tmp/fillcheck -t mixed 262144                   # generation speed
 *
 * Writes N 4 KiB pages of the kind (zero|text|binary|random|mixed) to
 * stdout, each with a 16-byte header like the guest's, or with -t only
 * times the generation.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fill.h"

int main(int argc, char **argv)
{
	static const char *const names[] = {"zero", "text", "binary", "random", "mixed"};
	static uint64_t page[512];
	int timing = argc > 1 && !strcmp(argv[1], "-t");
	int kind = -1;

	if (argc != 3 + timing) {
		fprintf(stderr, "usage: fillcheck [-t] zero|text|binary|random|mixed PAGES\n");
		return 2;
	}
	for (int i = 0; i < 5; i++)
		if (!strcmp(argv[1 + timing], names[i]))
			kind = i;
	long n = atol(argv[2 + timing]);
	if (kind < 0 || n <= 0) {
		fprintf(stderr, "fillcheck: bad kind or page count\n");
		return 2;
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < n; i++) {
		uint64_t pageno = 0x1000 + (uint64_t)i;
		enum fill_kind k = fill_kind_of((enum fill_kind)kind, pageno);
		memset(page, 0, 16);
		if (k != FILL_ZERO)
			page[0] = pageno | 1ull << 32, page[1] = pageno * 0x9e3779b97f4a7c15ull;
		fill_bytes(k, page + 2, 4096 - 16, pageno * 31 + 1);
		if (!timing && fwrite(page, 4096, 1, stdout) != 1)
			return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (timing) {
		double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
		printf("%s: %ld pages in %.3f s = %.0f MiB/s\n", names[kind], n, s,
		       (double)n * 4096 / s / 1048576);
	}
	return 0;
}
