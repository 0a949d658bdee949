/* SPDX-License-Identifier: MIT */
/* The workload's settings, from the command line (see args.c). */
#ifndef GUESTLOAD_CONFIG_H
#define GUESTLOAD_CONFIG_H

#include <stdint.h>

enum pattern { PATTERN_SEQ, PATTERN_RANDOM };
enum write_mode { WRITE_WORD, WRITE_PAGE };
/* Page contents; FILL_MIXED picks one of the others per page. FILL_MODULES:
 * the boot modules are the static content, the other owned pages stay
 * zero, the working set is mixed (modules.h). */
enum fill_kind { FILL_ZERO, FILL_TEXT, FILL_BINARY, FILL_RANDOM, FILL_MIXED, FILL_MODULES };

struct config {
	uint64_t ws_bytes;  /* ws=: working set */
	uint64_t rate_mib;  /* rate=: MiB/s over all workers, 0 = unlimited */
	uint64_t time_s;    /* time=: 0 = run forever */
	uint64_t seed;      /* seed= */
	uint64_t tsc_khz;   /* tsckhz=: 0 = not given */
	uint64_t modcorrupt; /* modcorrupt=N: flip a byte of module page N-1 (0 = off) */
	uint64_t writers;   /* writers=N: only vCPUs 0..N-1 write the working set, the
			     * others only compute (a dirty limit must not slow them); 0 = all */
	enum pattern pattern;
	enum write_mode write;
	enum fill_kind fill;
};

#endif
