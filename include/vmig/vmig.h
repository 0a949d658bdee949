/* SPDX-License-Identifier: MIT */
/*
 * libvmig: live migration of virtual machines, as a library.
 *
 *   #include <vmig/vmig.h>        this file: version, limits, logging
 *   #include <vmig/guest.h>       what the engine needs of a VM (you implement it)
 *   #include <vmig/migration.h>   source and destination
 *
 * Build with `pkg-config --cflags --libs libvmig`. Every name the library
 * exports starts with vmig_; everything else in it is hidden.
 *
 * Threading: each outgoing migration runs on a thread of its own (plus one
 * per data channel); the guest ops are called from those threads. A
 * destination runs on the caller's thread (plus one per data channel).
 * Details with each function in migration.h.
 */
#ifndef VMIG_VMIG_H
#define VMIG_VMIG_H

#include <stdint.h>

#define VMIG_API __attribute__((visibility("default")))

#define VMIG_VERSION_MAJOR 0
#define VMIG_VERSION_MINOR 2
#define VMIG_VERSION_PATCH 0

/* Limits the library enforces (and an embedder may size its own arrays by). */
#define VMIG_MAX_DATA_CHANNELS 16  /* data connections besides the main one */
#define VMIG_MAX_RAM_REGIONS 4     /* RAM regions of a guest */
#define VMIG_MAX_ERROR 512         /* bytes of an error message, NUL included */
#define VMIG_MAX_DECISIONS 16      /* policy decisions kept in the stats */

enum vmig_log_level {
	VMIG_LOG_ERROR = 0,
	VMIG_LOG_WARN = 1,
	VMIG_LOG_INFO = 2,
	VMIG_LOG_DEBUG = 3,
};

/* Receives one line (no newline) at a time, from any of the library's threads. */
typedef void (*vmig_log_fn)(void *opaque, enum vmig_log_level level, const char *line);

/*
 * Where the library's messages go: by default, stderr ("vmig: ..."),
 * errors, warnings and information. fn NULL restores the default. Call it
 * before starting any migration: it is a process-wide setting, not
 * synchronised with migrations already running.
 */
VMIG_API void vmig_set_log_handler(vmig_log_fn fn, void *opaque, enum vmig_log_level max_level);

/* "MAJOR.MINOR.PATCH" of the library actually loaded. */
VMIG_API const char *vmig_version(void);

#endif
