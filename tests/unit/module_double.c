/* SPDX-License-Identifier: MIT */
#include "module_double.h"

#include <sys/mman.h>
#include <unistd.h>

struct boot_module module_double(const char *name, const void *bytes, size_t len)
{
	struct boot_module m = {.name = (char *)name, .fd = -1, .size = len};
	int fd = memfd_create(name, MFD_CLOEXEC);
	if (fd < 0)
		return m;
	if (pwrite(fd, bytes, len, 0) != (ssize_t)len) {
		close(fd);
		return m;
	}
	m.fd = fd;
	return m;
}

void module_double_close(struct boot_module *m, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (m[i].fd >= 0)
			close(m[i].fd);
}
