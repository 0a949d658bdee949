/* SPDX-License-Identifier: MIT */
/*
 * enginesim: vmig's real engine and policy migrating a TEST DOUBLE guest
 * (guestload's workload run by threads over plain memory) between two
 * processes over real sockets, so that issue 9's scenario matrix can run
 * where /dev/kvm is absent. A benchmark tool; it does not replace the KVM
 * runs (docs/benchmarks.md, "The engine on a test-double guest").
 *
 *   enginesim dest --incoming tcp:HOST:PORT [...]
 *   enginesim source --mem SIZE [...] -- [vmig migrate's options] tcp:HOST:PORT
 *
 * The modes are in bench/enginesim/ (source.c, dest.c).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/log.h"
#include "enginesim.h"

unsigned long long enginesim_host_mem(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
	return pages > 0 && size > 0 ? (unsigned long long)pages * (unsigned long long)size : 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: enginesim dest --incoming tcp:HOST:PORT [OPTIONS]\n"
		   "       enginesim source --mem SIZE [OPTIONS] -- [vmig migrate's options] "
		   "tcp:HOST:PORT\n"
		   "\n"
		   "vmig's engine migrating a TEST DOUBLE guest (guestload's workload on plain\n"
		   "memory and threads; no KVM) between two processes. 'enginesim MODE --help'\n"
		   "describes a mode's options. VMIG_LOG=debug: the engine's debug lines.\n");
}

int main(int argc, char **argv)
{
	const char *env = getenv("VMIG_LOG");
	if (env && !strcmp(env, "debug"))
		log_set_level(VMIG_LOG_DEBUG);
	/* a peer that goes away is an error the engine reports, not a signal */
	signal(SIGPIPE, SIG_IGN);
	if (argc >= 2 && !strcmp(argv[1], "source"))
		return enginesim_source(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "dest"))
		return enginesim_dest(argc - 1, argv + 1);
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	if (argc >= 2)
		fprintf(stderr, "enginesim: unknown mode '%s'\n", argv[1]);
	usage(stderr);
	return CLI_EXIT_USAGE;
}
