/* SPDX-License-Identifier: MIT */
/*
 * tls_cost: what TLS costs a migration on loopback. One process holds both
 * ends: a still guest of SIZE MiB (every page non-zero, a third of each
 * random so it neither compresses to nothing nor is skipped as zero)
 * migrates to a second guest over TCP on 127.0.0.1, plaintext and with
 * TLS alternately, RUNS times each, unlimited bandwidth or capped at MBPS
 * (10^6 bytes/s: 125 is 1 Gbit/s).
 *
 *   tls_cost CREDS_DIR|PSK_FILE [SIZE_MIB=256] [RUNS=3] [CHANNELS=0] [CODEC=none] [MBPS=0]
 *
 * Prints each run (wall ms from start to handover, CPU seconds of the
 * whole process, i.e. source and destination together) and the medians.
 * Every run must complete with the RAM digest verified, or it exits 1.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "loopback.h"

#define MAX_RUNS 15

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: tls_cost CREDS_DIR|PSK_FILE [SIZE_MIB] [RUNS] [CHANNELS] [CODEC] "
				"[MBPS]\n");
		return 2;
	}
	struct stat sb;
	if (stat(argv[1], &sb)) {
		fprintf(stderr, "tls_cost: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	uint64_t mib = argc > 2 ? strtoull(argv[2], NULL, 10) : 256;
	unsigned runs = argc > 3 ? (unsigned)atoi(argv[3]) : 3;
	struct loopback_cfg tls = {.channels = argc > 4 ? (unsigned)atoi(argv[4]) : 0,
				   .codec = argc > 5 ? argv[5] : NULL,
				   .max_bandwidth = argc > 6 ? strtoull(argv[6], NULL, 10) * 1000000ull : 0};
	struct loopback_cfg plain = tls;
	if (S_ISDIR(sb.st_mode))
		tls.creds = argv[1];
	else
		tls.psk = argv[1];
	if (!mib || mib > 65536 || !runs || runs > MAX_RUNS) {
		fprintf(stderr, "tls_cost: SIZE_MIB 1..65536, RUNS 1..%d\n", MAX_RUNS);
		return 2;
	}
	struct still_guest src = {.bytes = mib << 20, .ram = malloc(mib << 20)};
	unsigned seed = 1;
	for (uint64_t i = 0; i < src.bytes; i++)
		src.ram[i] = i % 4096 < 1365 ? (uint8_t)(seed = seed * 1103515245u + 12345u) >> 3
					     : (uint8_t)(i / 4096 + 1);
	double ms[2][MAX_RUNS], cpu[2][MAX_RUNS];
	char desc[2][96];
	for (unsigned i = 0; i < runs; i++)
		for (int t = 0; t < 2; t++) {
			struct loopback_result res;
			if (loopback_run("tls_cost", &src, t ? &tls : &plain, &res))
				return 1;
			ms[t][i] = res.ms;
			cpu[t][i] = res.cpu_s;
			snprintf(desc[t], sizeof(desc[t]), "%s",
				 res.stats.tls[0] ? res.stats.tls : "plaintext");
			printf("run %u %-9s %7.0f ms %6.2f CPU s  (%s)\n", i + 1, t ? "tls" : "plaintext",
			       ms[t][i], cpu[t][i], desc[t]);
			fflush(stdout);
		}
	printf("median of %u, %llu MiB, %u data channels, codec %s, %s:\n", runs,
	       (unsigned long long)mib, tls.channels, tls.codec ? tls.codec : "none",
	       tls.max_bandwidth ? "capped" : "unlimited");
	for (int t = 0; t < 2; t++)
		printf("  %-9s %7.0f ms %6.2f CPU s  %7.1f MiB/s  (%s)\n", t ? "tls" : "plaintext",
		       loopback_median(ms[t], runs), loopback_median(cpu[t], runs),
		       (double)mib / (loopback_median(ms[t], runs) / 1000.0), desc[t]);
	free(src.ram);
	return 0;
}
