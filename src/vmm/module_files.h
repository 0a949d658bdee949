/* SPDX-License-Identifier: MIT */
/*
 * Boot module files: `vmig run --module a,b` read whole before anything
 * is allocated for the guest (vmm/modules.h places and loads them). Apart
 * from the VMM so that enginesim's guest double reads the same lists.
 */
#ifndef VMIG_VMM_MODULE_FILES_H
#define VMIG_VMM_MODULE_FILES_H

#include <stddef.h>
#include <stdint.h>

struct boot_module {
	char *name;       /* the path as given: the guest sees it as the module's string */
	uint8_t *data;
	uint64_t size;
};

struct boot_modules {
	unsigned count;
	struct boot_module *m;
};

/* Splits a comma-separated list and reads every file whole. A bad list,
 * more than VMIG_MAX_MODULES files, or a file that is missing,
 * unreadable, not a regular file or larger than low guest RAM is an
 * error with the file named in err. 0 or -errno; *out is empty on error. */
int boot_modules_read(const char *list, struct boot_modules *out, char *err, size_t errlen);
void boot_modules_free(struct boot_modules *mods);

#endif
