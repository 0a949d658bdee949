/* SPDX-License-Identifier: MIT */
#ifndef GUESTLOAD_ARGS_H
#define GUESTLOAD_ARGS_H

#include "config.h"
#include "serial.h"

/*
 * Parses "key=value key=value ..." into cfg (defaults first). On a bad or
 * unknown argument returns -1 with a complete "guestload: bad argument ..."
 * line in *err. cmdline may be 0 (all defaults).
 */
int args_parse(const char *cmdline, struct config *cfg, struct line *err);

/* Finds a plain decimal key=N; 0 if found. Ring-0 safe (no SSE). */
int args_find_u64(const char *cmdline, const char *key, uint64_t *v);

const char *fill_name(enum fill_kind k);

#endif
