/* SPDX-License-Identifier: MIT */
/* The migrate command's arguments as the engine's parameters: see migrate_args.h. */
#include "vmm/migrate_args.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

const struct control_arg migrate_spec[] = {
	CONTROL_ARG_S(struct migrate_args, uri, true),
	CONTROL_ARG_U(struct migrate_args, downtime_ms, false, 0, 3600000),
	/* bytes/s, 0: unlimited */
	CONTROL_ARG_U(struct migrate_args, max_bandwidth, false, 0, INT64_MAX),
	CONTROL_ARG_U(struct migrate_args, timeout_ms, false, 0, 86400000),
	CONTROL_ARG_U(struct migrate_args, io_timeout_ms, false, 0, 3600000),
	CONTROL_ARG_U(struct migrate_args, channels, false, 0, VMIG_MAX_DATA_CHANNELS),
	CONTROL_ARG_S(struct migrate_args, codec, false),
	CONTROL_ARG_I(struct migrate_args, level, false, -100, 100),
	CONTROL_ARG_S(struct migrate_args, accel, false),
	CONTROL_ARG_U(struct migrate_args, compress_threads, false, 0, 64),
	/* bytes, 0: off; given, it turns XBZRLE on */
	CONTROL_ARG_U(struct migrate_args, xbzrle_cache, false, 0, 1ll << 40),
	/* "on" or "off": pinned either way under auto (absent: planned) */
	CONTROL_ARG_S(struct migrate_args, xbzrle, false),
	CONTROL_ARG_S(struct migrate_args, qatzip_path, false),
	/* auto-converge, QEMU's meaning; 0: QEMU's defaults (50, 20, 10, 99) */
	CONTROL_ARG_B(struct migrate_args, auto_converge, false),
	CONTROL_ARG_U(struct migrate_args, throttle_trigger, false, 0, 100),
	CONTROL_ARG_U(struct migrate_args, throttle_initial, false, 0, 99),
	CONTROL_ARG_U(struct migrate_args, throttle_increment, false, 0, 99),
	CONTROL_ARG_U(struct migrate_args, throttle_max, false, 0, 99),
	CONTROL_ARG_B(struct migrate_args, throttle_tailslow, false),
	/* "auto": the engine plans what is not given here; "fixed" (default): as given */
	CONTROL_ARG_S(struct migrate_args, policy, false),
	/* QAT without a device: "none", "qatzip" or "cpu" (default); QATzip's log level */
	CONTROL_ARG_S(struct migrate_args, qat_fallback, false),
	CONTROL_ARG_S(struct migrate_args, qatzip_log, false),
	/* "auto-converge" (default) or "dirty-rate": how auto-converge throttles;
	 * given, it turns auto-converge on */
	CONTROL_ARG_S(struct migrate_args, throttle_mode, false),
	/* bytes/s the guest may dirty, 0: no limit */
	CONTROL_ARG_U(struct migrate_args, dirty_limit, false, 0, INT64_MAX),
	/* TLS 1.3: X.509 directory (QEMU's layout) or PSK file; the name to check */
	CONTROL_ARG_S(struct migrate_args, tls_creds, false),
	CONTROL_ARG_S(struct migrate_args, tls_psk, false),
	CONTROL_ARG_S(struct migrate_args, tls_hostname, false),
	/* a link lost before the handover is reconnected for this long; 0: fail at once */
	CONTROL_ARG_U(struct migrate_args, resume_timeout_ms, false, 0, 86400000),
	{0},
};

#define XBZRLE_CACHE_DEFAULT (64ull << 20) /* "xbzrle": "on" without a size */

/* XBZRLE's cache, and VMIG_PIN_XBZRLE when the caller set it either way:
 * "off" must pin it too, or auto turns it on after pass 1. <0: bad args. */
static int xbzrle_params(const struct migrate_args *a, struct vmig_migrate_params *p, char *err,
			 size_t errlen)
{
	p->xbzrle_cache_bytes = a->xbzrle_cache;
	if (!a->xbzrle)
		return a->xbzrle_cache ? VMIG_PIN_XBZRLE : 0;
	if (!strcmp(a->xbzrle, "off")) {
		if (!a->xbzrle_cache)
			return VMIG_PIN_XBZRLE;
		snprintf(err, errlen, "xbzrle is off but an xbzrle_cache is given");
		return -EINVAL;
	}
	if (strcmp(a->xbzrle, "on")) {
		snprintf(err, errlen, "xbzrle wants on or off");
		return -EINVAL;
	}
	if (!p->xbzrle_cache_bytes)
		p->xbzrle_cache_bytes = XBZRLE_CACHE_DEFAULT;
	return VMIG_PIN_XBZRLE;
}

int migrate_params(const struct migrate_args *a, struct vmig_migrate_params *p, char *err,
		   size_t errlen)
{
	p->uri = a->uri;
	p->downtime_limit_ms = a->downtime_ms;
	p->max_bandwidth = a->max_bandwidth;
	p->timeout_ms = a->timeout_ms;
	p->io_timeout_ms = (int)a->io_timeout_ms;
	p->channels = (unsigned)a->channels;
	p->codec = a->codec;
	p->level = (int)a->level;
	p->accel = a->accel;
	p->compress_threads = (unsigned)a->compress_threads;
	p->qatzip_library = a->qatzip_path;
	p->auto_converge = a->auto_converge;
	p->throttle_trigger_pct = (unsigned)a->throttle_trigger;
	p->throttle_initial_pct = (unsigned)a->throttle_initial;
	p->throttle_increment_pct = (unsigned)a->throttle_increment;
	p->throttle_max_pct = (unsigned)a->throttle_max;
	p->throttle_tailslow = a->throttle_tailslow;
	p->qat_fallback = a->qat_fallback;
	p->qatzip_log = a->qatzip_log;
	p->tls_creds_dir = a->tls_creds;
	p->tls_psk_file = a->tls_psk;
	p->tls_hostname = a->tls_hostname;
	/* under auto, every knob given a value is pinned; the rest is planned */
	p->policy = a->policy && !strcmp(a->policy, "auto") ? VMIG_POLICY_AUTO : VMIG_POLICY_FIXED;
	int xbz_pin = xbzrle_params(a, p, err, errlen);
	if (xbz_pin < 0)
		return xbz_pin;
	p->pinned = (a->codec ? VMIG_PIN_CODEC : 0) | (a->level ? VMIG_PIN_LEVEL : 0) |
		    (a->compress_threads ? VMIG_PIN_THREADS : 0) |
		    (a->channels ? VMIG_PIN_CHANNELS : 0) | (unsigned)xbz_pin |
		    (a->auto_converge || a->throttle_mode ? VMIG_PIN_CONVERGE : 0);
	p->dirty_limit = a->dirty_limit;
	p->resume_timeout_ms = a->resume_timeout_ms;
	if (!a->throttle_mode)
		return 0;
	p->auto_converge = true;
	if (!strcmp(a->throttle_mode, "dirty-rate"))
		p->throttle_mode = VMIG_THROTTLE_DIRTY_RATE;
	else if (strcmp(a->throttle_mode, "auto-converge")) {
		snprintf(err, errlen, "throttle_mode wants auto-converge or dirty-rate");
		return -EINVAL;
	}
	return 0;
}
