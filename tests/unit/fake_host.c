/* SPDX-License-Identifier: MIT */
#include "fake_host.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int fake_host_put(const struct fake_host *h, const char *rel, const char *text)
{
	char path[256], tmp[272];
	snprintf(path, sizeof(path), "%s/%s", h->root, rel);
	for (char *s = path + strlen(h->root) + 1; (s = strchr(s, '/')); s++) {
		*s = 0;
		if (mkdir(path, 0755) && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fputs(text, f);
	if (fclose(f))
		return -errno;
	return rename(tmp, path) ? -errno : 0;
}

int fake_host_new(struct fake_host *h)
{
	snprintf(h->root, sizeof(h->root), "/tmp/vmig-fake-host-XXXXXX");
	if (!mkdtemp(h->root))
		return -errno;
	int r = fake_host_put(h, "proc/self/cgroup", "0::/vm\n");
	if (!r)
		r = fake_host_put(h, "proc/self/mountinfo",
				  "25 20 0:22 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n");
	if (!r)
		r = fake_host_put(h, "sys/fs/cgroup/vm/cpu.max", "max 100000\n");
	if (!r)
		r = fake_host_put(h, "proc/meminfo",
				  "MemTotal:        8388608 kB\nMemAvailable:    4194304 kB\n");
	return r;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

void fake_host_free(struct fake_host *h)
{
	nftw(h->root, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}
