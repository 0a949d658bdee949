/* SPDX-License-Identifier: MIT */
/* This host's spare CPU and memory, from /proc (policy input, sent in HELLO). */
#ifndef VMIG_MIGRATION_HOSTINFO_H
#define VMIG_MIGRATION_HOSTINFO_H

#include "migration/wire.h"

/* Samples /proc/stat over ~50 ms and reads /proc/meminfo. Never fails:
 * unknown figures are left 0. */
void hostinfo_read(struct wire_host_info *hi);

#endif
