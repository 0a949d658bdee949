/* SPDX-License-Identifier: MIT */
/*
 * loopback: one migration inside one process for the benchmarks. A still
 * guest (one region, never dirtied) migrates over TCP on 127.0.0.1 to a
 * destination thread that receives into a second still guest; the run
 * counts only if it completed, the destination verified the RAM digest
 * and both RAMs are equal.
 */
#ifndef VMIG_BENCH_LOOPBACK_H
#define VMIG_BENCH_LOOPBACK_H

#include <stddef.h>
#include <stdint.h>

#include "vmig/migration.h"

/* A guest that never writes: one region, no dirty pages after pass 1. */
struct still_guest {
	uint8_t *ram;
	uint64_t bytes;
};

/* How one loopback migration is set up; zero fields take the engine's defaults. */
struct loopback_cfg {
	const char *creds, *psk; /* TLS: X.509 directory or PSK file; both NULL: plaintext */
	unsigned channels;       /* data channels besides the main one */
	const char *codec;       /* NULL or "none": uncompressed */
	int level;               /* 0: the codec's default */
	unsigned compress_threads; /* source CPU backend workers, 0: one per CPU */
	uint64_t max_bandwidth;  /* bytes/s, 0: unlimited */
	const char *dest_accel;  /* destination decompression offload (NULL: channel threads) */
};

/* What one loopback migration measured. */
struct loopback_result {
	double ms;               /* engine's total_ms, start to handover */
	double cpu_s;            /* CPU of the whole process: source and destination */
	struct vmig_migrate_stats stats; /* the source's final figures */
};

/*
 * Migrates src with c to a fresh destination guest. 0, or -1 after saying
 * why on stderr prefixed with who.
 */
int loopback_run(const char *who, const struct still_guest *src, const struct loopback_cfg *c,
		 struct loopback_result *out);

/* CPU seconds (user + system) of this process so far. */
double loopback_cpu_s(void);

/* Median of n values (n >= 1); v is left as it was. */
double loopback_median(const double *v, unsigned n);

#endif
