/* SPDX-License-Identifier: MIT */
/* vmig: accelerated live migration for KVM virtual machines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/log.h"

static const struct {
	const char *name;
	int (*fn)(int, char **);
	const char *summary;
} commands[] = {
	{"run", cmd_run, "run a VM (guestload or another multiboot/vmig guest)"},
	{"status", cmd_status, "show a running VM's state and guest progress"},
	{"migrate", cmd_migrate, "live-migrate a running VM to another vmig"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: vmig [-v] COMMAND [OPTIONS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'vmig COMMAND --help' describes a command's options.\n"
		   "-v, --verbose   debug logging (also VMIG_LOG=debug)\n");
}

int main(int argc, char **argv)
{
	int i = 1;
	const char *env = getenv("VMIG_LOG");

	if (env && !strcmp(env, "debug"))
		log_set_level(VMIG_LOG_DEBUG);
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) {
			log_set_level(VMIG_LOG_DEBUG);
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--version")) {
			printf("vmig %s\n", vmig_version());
			return 0;
		} else {
			fprintf(stderr, "vmig: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++)
		if (!strcmp(argv[i], commands[c].name))
			return commands[c].fn(argc - i, argv + i);
	if (!strcmp(argv[i], "help")) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "vmig: unknown command '%s'\n", argv[i]);
	usage(stderr);
	return CLI_EXIT_USAGE;
}
