/* SPDX-License-Identifier: MIT */
/* Parsing of command-line values: sizes, counts, rates. */
#ifndef VMIG_PARSE_H
#define VMIG_PARSE_H

#include <stddef.h>
#include <stdint.h>

/*
 * "512", "512M", "1G", "64K", "2T", "1.5G" (no suffix: default_unit bytes,
 * e.g. 1 << 20 for MiB like QEMU's -m). Suffixes are binary (K = 1024).
 * Returns 0, -EINVAL for malformed text, -ERANGE on overflow.
 */
int parse_size(const char *text, uint64_t default_unit, uint64_t *out);

/* A non-negative decimal integer in [min, max]; -EINVAL / -ERANGE. */
int parse_u64(const char *text, uint64_t min, uint64_t max, uint64_t *out);

/* "1024M" -> "1024 MiB", "1.5 GiB"; buf of at least 32 bytes. */
const char *format_size(uint64_t bytes, char *buf, size_t len);

#endif
