/* SPDX-License-Identifier: MIT */
/* enginesim's two modes (bench/enginesim.c): each returns the exit status
 * (0 done, 1 failed, CLI_EXIT_USAGE on bad usage). */
#ifndef VMIG_ENGINESIM_H
#define VMIG_ENGINESIM_H

#define ENGINESIM_MEM_MIN (16ull << 20) /* guest RAM: as vmig run's --mem */
#define ENGINESIM_WARMUP_DEFAULT_S 2.0
#define ENGINESIM_WARMUP_MAX_S 3600.0
#define ENGINESIM_WRITE_FAULT_MAX_NS 1000000 /* a millisecond: far beyond any real fault */
#define ENGINESIM_SAMPLE_MS 100          /* --samples: a line this often */
#define ENGINESIM_DEST_RUN_MS 1000       /* a destination runs its guest this long */

int enginesim_source(int argc, char **argv);
int enginesim_dest(int argc, char **argv);

/* This host's memory in bytes (the largest guest either side takes). */
unsigned long long enginesim_host_mem(void);

#endif
