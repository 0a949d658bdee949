/* SPDX-License-Identifier: MIT */
#include "vmm/modules.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guest_abi.h"

#define MODULE_ADDR_LIMIT (1ull << 32) /* mod_start/mod_end are 32-bit */

static uint64_t page_up(uint64_t v)
{
	return (v + GUEST_PAGE_SIZE - 1) & ~(GUEST_PAGE_SIZE - 1);
}

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

int module_layout(const struct module_layout_req *req, struct module_place *out, uint64_t *top,
		  char *err, size_t errlen)
{
	uint64_t at = page_up(req->image_end), names = 0;
	uint64_t limit = req->ram_end < MODULE_ADDR_LIMIT ? req->ram_end : MODULE_ADDR_LIMIT;

	if (req->count > VMIG_MAX_MODULES) {
		snprintf(err, errlen, "%u modules given; at most %d", req->count, VMIG_MAX_MODULES);
		return -E2BIG;
	}
	for (unsigned i = 0; i < req->count; i++) {
		if (req->name_lens[i] >= VMIG_MODNAMES_SIZE - names) {
			snprintf(err, errlen, "module names take more than %d bytes", VMIG_MODNAMES_SIZE);
			return -E2BIG;
		}
		out[i].string = VMIG_DIRECT_MODNAMES + names;
		names += req->name_lens[i] + 1;
		/* Compared as room left, so huge sizes cannot wrap around. */
		if (at > limit || req->sizes[i] > limit - at) {
			uint64_t need = at - page_up(req->image_end);
			for (unsigned j = i; j < req->count; j++) {
				/* saturating: only the message needs the sum */
				uint64_t s = req->sizes[j] > (UINT64_MAX >> 1) ? UINT64_MAX >> 1
									: page_up(req->sizes[j]);
				need = need > UINT64_MAX - s ? UINT64_MAX : need + s;
			}
			snprintf(err, errlen,
				 "the modules do not fit in guest RAM: they need %llu MiB from 0x%llx "
				 "(above the guest image), RAM there ends at 0x%llx",
				 (unsigned long long)((need >> 20) + !!(need & ((1 << 20) - 1))),
				 (unsigned long long)page_up(req->image_end), (unsigned long long)limit);
			return -E2BIG;
		}
		out[i].start = at;
		out[i].end = at + req->sizes[i];
		at = page_up(out[i].end);
	}
	*top = at;
	return 0;
}

/* The RAM region that holds gpa, as the layout's ram_end; 0 if none. */
static uint64_t region_end(const struct guest_memory *mem, uint64_t gpa)
{
	for (unsigned i = 0; i < mem->nr_regions; i++) {
		const struct mem_region *r = &mem->regions[i];
		if (gpa >= r->gpa && gpa - r->gpa <= r->size)
			return r->gpa + r->size;
	}
	return 0;
}

static int plan(const struct boot_modules *mods, uint64_t image_end, uint64_t ram_end,
		struct module_place *out, char *err, size_t errlen)
{
	uint64_t sizes[VMIG_MAX_MODULES], lens[VMIG_MAX_MODULES], top;
	unsigned n = mods->count < VMIG_MAX_MODULES ? mods->count : VMIG_MAX_MODULES;

	for (unsigned i = 0; i < n; i++) {
		sizes[i] = mods->m[i].size;
		lens[i] = strlen(mods->m[i].name);
	}
	struct module_layout_req req = {image_end, ram_end, mods->count, sizes, lens};
	return module_layout(&req, out, &top, err, errlen);
}

int boot_modules_precheck(const struct boot_modules *mods, uint64_t mem_bytes, char *err,
			  size_t errlen)
{
	struct module_place out[VMIG_MAX_MODULES];
	uint64_t low = mem_bytes < GUEST_LOW_RAM_MAX ? mem_bytes : GUEST_LOW_RAM_MAX;
	return plan(mods, VMIG_GUEST_LOAD_ADDR, low, out, err, errlen);
}

int boot_modules_load(const struct boot_modules *mods, struct guest_memory *mem,
		      uint64_t image_end, uint32_t *count, uint64_t *list_gpa, char *err,
		      size_t errlen)
{
	struct module_place out[VMIG_MAX_MODULES];
	int r;

	*count = 0;
	*list_gpa = 0;
	if (!mods || !mods->count)
		return 0;
	if ((r = plan(mods, image_end, region_end(mem, image_end), out, err, errlen)))
		return r;
	struct vmig_module *list =
		guest_memory_ptr(mem, VMIG_DIRECT_MODLIST, VMIG_MAX_MODULES * sizeof(*list));
	char *names = guest_memory_ptr(mem, VMIG_DIRECT_MODNAMES, VMIG_MODNAMES_SIZE);
	if (!list || !names) {
		snprintf(err, errlen, "guest RAM has no room for the module list");
		return -EINVAL;
	}
	memset(list, 0, VMIG_MAX_MODULES * sizeof(*list));
	memset(names, 0, VMIG_MODNAMES_SIZE);
	for (unsigned i = 0; i < mods->count; i++) {
		const struct boot_module *m = &mods->m[i];
		/* The whole last page, so its tail is zero whatever was there. */
		uint64_t span = page_up(m->size);
		uint8_t *dst = guest_memory_ptr(mem, out[i].start, span ? span : 1);
		if (!dst) {
			snprintf(err, errlen, "module '%s' at 0x%llx is outside guest RAM", m->name,
				 (unsigned long long)out[i].start);
			return -EINVAL;
		}
		memcpy(dst, m->data, m->size);
		memset(dst + m->size, 0, span - m->size);
		strcpy(names + (out[i].string - VMIG_DIRECT_MODNAMES), m->name);
		list[i] = (struct vmig_module){(uint32_t)out[i].start, (uint32_t)out[i].end,
					       (uint32_t)out[i].string, 0};
	}
	*count = mods->count;
	*list_gpa = VMIG_DIRECT_MODLIST;
	return 0;
}
