/* SPDX-License-Identifier: MIT */
/*
 * Page content generators. Pure functions of (kind, seed): no ports, no
 * globals, no ring-0 parts, so tools/fillcheck.c can run them on the host.
 */
#ifndef GUESTLOAD_FILL_H
#define GUESTLOAD_FILL_H

#include <stdint.h>

#include "config.h"

/* The kind of page pageno holds under fill setting `fill` (never FILL_MIXED;
 * FILL_MODULES: as FILL_MIXED, for the working set). */
enum fill_kind fill_kind_of(enum fill_kind fill, uint64_t pageno);

/* Writes len bytes (len a multiple of 8, dst 8-byte aligned) of that kind. */
void fill_bytes(enum fill_kind kind, void *dst, unsigned len, uint64_t seed);

#endif
