/* SPDX-License-Identifier: MIT */
#ifndef GUESTLOAD_TSC_H
#define GUESTLOAD_TSC_H

#include <stdint.h>

/* Measures the TSC against PIT channel 2 (~50 ms, ring 3 with IOPL=3).
 * Returns kHz, or 0 if the PIT did not respond. */
uint64_t tsc_calibrate_khz(void);

#endif
