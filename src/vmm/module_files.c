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

void boot_modules_free(struct boot_modules *mods)
{
	for (unsigned i = 0; i < mods->count; i++) {
		free(mods->m[i].name);
		free(mods->m[i].data);
	}
	free(mods->m);
	mods->m = NULL;
	mods->count = 0;
}

/* Reads one whole regular file into m->data. */
static int read_module(struct boot_module *m, char *err, size_t errlen)
{
	int fd = open(m->name, O_RDONLY | O_CLOEXEC);
	struct stat st;
	int r = 0;

	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot open module '%s': %s", m->name, strerror(-r));
		return r;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "module '%s' is not a regular file", m->name);
		close(fd);
		return -EINVAL;
	}
	if ((uint64_t)st.st_size > GUEST_LOW_RAM_MAX) {
		snprintf(err, errlen, "module '%s' has %llu MiB; guest RAM below 4 GiB holds at most %llu",
			 m->name, (unsigned long long)st.st_size >> 20,
			 (unsigned long long)GUEST_LOW_RAM_MAX >> 20);
		close(fd);
		return -E2BIG;
	}
	m->size = (uint64_t)st.st_size;
	m->data = malloc(m->size ? m->size : 1);
	if (!m->data) {
		snprintf(err, errlen, "out of memory reading module '%s'", m->name);
		close(fd);
		return -ENOMEM;
	}
	for (uint64_t done = 0; done < m->size;) {
		ssize_t n = read(fd, m->data + done, m->size - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			snprintf(err, errlen, "cannot read module '%s': %s", m->name,
				 n < 0 ? strerror(-r) : "the file shrank while being read");
			break;
		}
		done += (uint64_t)n;
	}
	close(fd);
	return r;
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

int boot_modules_read(const char *list, struct boot_modules *out, char *err, size_t errlen)
{
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = split_list(list, out, err, errlen)))
		goto fail;
	for (unsigned i = 0; i < out->count; i++)
		if ((r = read_module(&out->m[i], err, errlen)))
			goto fail;
	return 0;
fail:
	boot_modules_free(out);
	return r;
}
