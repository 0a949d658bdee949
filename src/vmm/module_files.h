/* SPDX-License-Identifier: MIT */
/*
 * Boot module files: `vmig run --module a,b` opened and sized before
 * anything is allocated for the guest (vmm/modules.h places them), then
 * read straight into guest RAM. Never read whole into a buffer first: a
 * 512 MiB content set would cost 512 MiB twice, over the memory cgroup a
 * tight host gives the VMM. Apart from the VMM so that enginesim's guest
 * double reads the same lists.
 */
#ifndef VMIG_VMM_MODULE_FILES_H
#define VMIG_VMM_MODULE_FILES_H

#include <stddef.h>
#include <stdint.h>

struct boot_module {
	char *name;       /* the path as given: the guest sees it as the module's string */
	int fd;           /* open read-only until boot_modules_close; -1 when not */
	uint64_t size;    /* as the file was when opened: the layout is planned on it */
};

struct boot_modules {
	unsigned count;
	struct boot_module *m;
};

/* Splits a comma-separated list, opens every file and takes its size. A
 * bad list, more than VMIG_MAX_MODULES files, or a file that is missing,
 * unreadable, not a regular file or larger than low guest RAM is an
 * error with the file named in err. 0 or -errno; *out is empty on error. */
int boot_modules_open(const char *list, struct boot_modules *out, char *err, size_t errlen);

/* Reads m's first m->size bytes into dst and zeroes the rest of their last
 * page, whatever was there (dst holds m->size rounded up to whole pages,
 * as a module is laid). A file that shrank since it was opened is -EIO,
 * one that grew keeps its tail out; err names the file. */
int boot_module_read_into(const struct boot_module *m, uint8_t *dst, char *err, size_t errlen);

/* Closes the files and frees the list; *mods is empty after. */
void boot_modules_close(struct boot_modules *mods);

#endif
