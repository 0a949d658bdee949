/* SPDX-License-Identifier: MIT */
/* Clocks in nanoseconds, for every part of vmig. */
#ifndef VMIG_CLOCK_H
#define VMIG_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC: intervals and deadlines. */
uint64_t now_ns(void);
/* CLOCK_REALTIME: instants compared across hosts (guest-observed downtime). */
uint64_t realtime_ns(void);
/* CLOCK_THREAD_CPUTIME_ID: CPU time the calling thread has used. */
uint64_t thread_cpu_ns(void);

#endif
