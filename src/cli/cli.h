/* SPDX-License-Identifier: MIT */
/* Subcommands of the vmig binary; each returns the process exit status. */
#ifndef VMIG_CLI_H
#define VMIG_CLI_H

int cmd_run(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_migrate(int argc, char **argv);

/* Exit status for usage errors (bad flags or values). */
#define CLI_EXIT_USAGE 2
/* --resume-timeout when not given (s), on both vmig migrate and vmig run --incoming */
#define CLI_RESUME_TIMEOUT_DEFAULT_S 60

#endif
