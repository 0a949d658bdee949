/* SPDX-License-Identifier: MIT */
/* The err/errlen convention: a function that fails says why into a buffer
 * its caller gives, which may be absent (NULL or 0 bytes: nothing is said). */
#ifndef VMIG_COMMON_ERRMSG_H
#define VMIG_COMMON_ERRMSG_H

#include <stddef.h>

__attribute__((format(printf, 3, 4))) void errmsg_set(char *err, size_t errlen, const char *fmt,
						      ...);

#endif
