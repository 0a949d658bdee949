/* SPDX-License-Identifier: MIT */
#include "vmm/module_files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guest_abi.h"
#include "vmm/memory.h" /* GUEST_LOW_RAM_MAX */

void boot_modules_close(struct boot_modules *mods)
{
	for (unsigned i = 0; i < mods->count; i++) {
		free(mods->m[i].name);
		if (mods->m[i].fd >= 0)
			close(mods->m[i].fd);
	}
	free(mods->m);
	mods->m = NULL;
	mods->count = 0;
}

/* Opens one regular file and takes its size. */
static int open_module(struct boot_module *m, char *err, size_t errlen)
{
	struct stat st;
	int r;

	m->fd = open(m->name, O_RDONLY | O_CLOEXEC);
	if (m->fd < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot open module '%s': %s", m->name, strerror(-r));
		return r;
	}
	if (fstat(m->fd, &st) || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "module '%s' is not a regular file", m->name);
		return -EINVAL;
	}
	if ((uint64_t)st.st_size > GUEST_LOW_RAM_MAX) {
		snprintf(err, errlen, "module '%s' has %llu MiB; guest RAM below 4 GiB holds at most %llu",
			 m->name, (unsigned long long)st.st_size >> 20,
			 (unsigned long long)GUEST_LOW_RAM_MAX >> 20);
		return -E2BIG;
	}
	m->size = (uint64_t)st.st_size;
	return 0;
}

int boot_module_read_into(const struct boot_module *m, uint8_t *dst, char *err, size_t errlen)
{
	for (uint64_t done = 0; done < m->size;) {
		/* pread from 0: the same module may be read again */
		ssize_t n = pread(m->fd, dst + done, m->size - done, (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int r = n < 0 ? -errno : -EIO;
			snprintf(err, errlen, "cannot read module '%s': %s", m->name,
				 n < 0 ? strerror(-r) : "the file shrank since it was opened");
			return r;
		}
		done += (uint64_t)n;
	}
	uint64_t tail = (GUEST_PAGE_SIZE - m->size % GUEST_PAGE_SIZE) % GUEST_PAGE_SIZE;
	memset(dst + m->size, 0, tail);
	return 0;
}

/* Splits list at commas into mods->m[].name (each non-empty). */
static int split_list(const char *list, struct boot_modules *mods, char *err, size_t errlen)
{
	unsigned n = 1;
	for (const char *p = list; *p; p++)
		n += *p == ',';
	if (n > VMIG_MAX_MODULES) {
		snprintf(err, errlen, "%u modules given; at most %d", n, VMIG_MAX_MODULES);
		return -E2BIG;
	}
	mods->m = calloc(n, sizeof(*mods->m));
	if (!mods->m) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (const char *s = list;; mods->count++) {
		const char *e = strchr(s, ',');
		size_t len = e ? (size_t)(e - s) : strlen(s);
		if (!len) {
			snprintf(err, errlen, "empty file name in module list '%s'", list);
			return -EINVAL;
		}
		mods->m[mods->count].fd = -1;
		mods->m[mods->count].name = strndup(s, len);
		if (!mods->m[mods->count].name) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		if (!e) {
			mods->count++;
			return 0;
		}
		s = e + 1;
	}
}

int boot_modules_open(const char *list, struct boot_modules *out, char *err, size_t errlen)
{
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = split_list(list, out, err, errlen)))
		goto fail;
	for (unsigned i = 0; i < out->count; i++)
		if ((r = open_module(&out->m[i], err, errlen)))
			goto fail;
	return 0;
fail:
	boot_modules_close(out);
	return r;
}
