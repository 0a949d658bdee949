/* SPDX-License-Identifier: MIT */
/*
 * TEST DOUBLE of a host's /proc and cgroup tree, for the host probe
 * (host_probe_root in the migration parameters): a cgroup v2 host with
 * the process in /vm, 4 GiB of 8 available, no /proc/stat. Its figures
 * are fixed, whatever else runs on the machine: usable CPUs = the
 * affinity mask's count capped by /vm's cpu.max, all of them idle (no
 * idle share measured).
 */
#ifndef VMIG_TESTS_FAKE_HOST_H
#define VMIG_TESTS_FAKE_HOST_H

struct fake_host {
	char root[64];
};

/* Creates the tree under /tmp with no CPU quota: 0 or -errno. */
int fake_host_new(struct fake_host *h);
/* Writes root/rel whole (a temp file renamed over it), so a probe's
 * thread never reads half of it: 0 or -errno. */
int fake_host_put(const struct fake_host *h, const char *rel, const char *text);
void fake_host_free(struct fake_host *h);

#endif
