/* SPDX-License-Identifier: MIT */
#include "migration/hostinfo.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int read_cpu(unsigned long long *idle, unsigned long long *total)
{
	unsigned long long v[10] = {0};
	FILE *f = fopen("/proc/stat", "r");
	if (!f)
		return -1;
	int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
		       &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]);
	fclose(f);
	if (n < 4)
		return -1;
	*idle = v[3] + v[4]; /* idle + iowait */
	*total = 0;
	for (int i = 0; i < 8; i++) /* guest time is already in user */
		*total += v[i];
	return 0;
}

void hostinfo_read(struct wire_host_info *hi)
{
	unsigned long long i0, t0, i1, t1;
	memset(hi, 0, sizeof(*hi));
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	hi->ncpus = n > 0 ? (uint32_t)n : 0;
	if (read_cpu(&i0, &t0) == 0) {
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
		if (read_cpu(&i1, &t1) == 0 && t1 > t0)
			hi->cpu_idle_permille = (uint32_t)((i1 - i0) * 1000 / (t1 - t0));
	}
	FILE *f = fopen("/proc/meminfo", "r");
	if (!f)
		return;
	char line[256];
	unsigned long long kb;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "MemTotal: %llu kB", &kb) == 1)
			hi->mem_total_bytes = kb * 1024;
		else if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
			hi->mem_free_bytes = kb * 1024;
	}
	fclose(f);
}
