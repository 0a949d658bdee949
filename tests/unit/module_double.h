/* SPDX-License-Identifier: MIT */
/*
 * Test double for a `--module` file: its bytes held in a memfd, so unit
 * tests load modules without touching the disk. The result is what
 * boot_modules_open gives for a real file: a name, an open fd, a size.
 */
#ifndef VMIG_TEST_MODULE_DOUBLE_H
#define VMIG_TEST_MODULE_DOUBLE_H

#include <stddef.h>

#include "vmm/module_files.h"

/* name is kept, not copied; fd is -1 when the memfd could not be made. */
struct boot_module module_double(const char *name, const void *bytes, size_t len);

/* Closes the fds of n doubles. */
void module_double_close(struct boot_module *m, unsigned n);

#endif
