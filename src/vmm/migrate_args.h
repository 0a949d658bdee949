/* SPDX-License-Identifier: MIT */
/*
 * The migrate command's JSON arguments (docs/control.md) as the engine's
 * parameters: the one translation every embedder of the engine that takes
 * `vmig migrate`'s arguments uses (the VMM's migrate and
 * query-migrate-plan commands, bench/enginesim), so a flag means the same
 * everywhere. Needs no KVM.
 */
#ifndef VMIG_VMM_MIGRATE_ARGS_H
#define VMIG_VMM_MIGRATE_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmig/migration.h"
#include "vmm/control.h"

/* The migrate command's arguments: absent ones stay 0, the engine's default. */
struct migrate_args {
	const char *uri, *codec, *accel, *qatzip_path;
	uint64_t downtime_ms, max_bandwidth, timeout_ms, io_timeout_ms, channels;
	uint64_t compress_threads, xbzrle_cache;
	int64_t level;
	bool auto_converge, throttle_tailslow;
	uint64_t throttle_trigger, throttle_initial, throttle_increment, throttle_max;
	const char *policy;
	const char *xbzrle; /* "on" or "off": either pins XBZRLE under auto */
	const char *qat_fallback, *qatzip_log;
	const char *throttle_mode;
	uint64_t dirty_limit;
	const char *tls_creds, *tls_psk, *tls_hostname; /* absolute paths (the VMM's cwd is its own) */
	uint64_t resume_timeout_ms;
};

/* Their spec for control_args_unpack, ended by {NULL}. */
extern const struct control_arg migrate_spec[];

/*
 * The arguments as the engine's parameters (p initialised by the caller,
 * VMIG_MIGRATE_PARAMS_INIT): 0, or -EINVAL with err. p's strings point
 * into a, whose strings point into the JSON arguments: keep both alive
 * while p is used.
 */
int migrate_params(const struct migrate_args *a, struct vmig_migrate_params *p, char *err,
		   size_t errlen);

#endif
