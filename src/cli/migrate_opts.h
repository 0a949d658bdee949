/* SPDX-License-Identifier: MIT */
/*
 * `vmig migrate`'s options (all but --control, --json and --help mean
 * something to the engine) into the migrate command's JSON arguments
 * (docs/control.md). One parser for every program that takes them
 * (vmig migrate, bench/enginesim), so a flag means the same everywhere;
 * src/vmm/migrate_args.h turns the arguments into the engine's parameters.
 */
#ifndef VMIG_CLI_MIGRATE_OPTS_H
#define VMIG_CLI_MIGRATE_OPTS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cli/tls_args.h"
#include "common/json.h"

/* The options' lines of a usage text (a printf format: %% stands for %). */
#define MIGRATE_OPTS_HELP \
	"  -d, --downtime-ms N       switch over when the expected pause is under N ms\n" \
	"                            (default 300; the auto policy aims at 50 within it)\n" \
	"  -b, --max-bandwidth RATE  cap the link use, bytes/s with K/M/G suffix\n" \
	"                            (e.g. 125M = 1 Gbit/s; default unlimited)\n" \
	"  -t, --timeout S           give up (the guest keeps running here) after S s\n" \
	"      --resume-timeout S    a link lost before the handover: reconnect and\n" \
	"                            resume for up to S s, the guest running here\n" \
	"                            (default 60; 0: fail at once)\n" \
	"  -n, --channels N          data connections besides the main one, each with\n" \
	"                            its own thread on both sides (0..16, default 0)\n" \
	"  -z, --codec NAME          compress page batches: none (default), lz4, zstd,\n" \
	"                            deflate (ISA-L), qat (deflate on Intel QAT)\n" \
	"  -l, --level N             codec level (lz4 1-12, zstd 1-19, deflate 0-3)\n" \
	"  -a, --accel KIND          offload engine: cpu (worker threads), qat, auto\n" \
	"                            (QAT when present, else CPU)\n" \
	"      --qat-fallback HOW    QAT without a device: cpu (default: vmig's CPU\n" \
	"                            deflate, and the summary says so), qatzip\n" \
	"                            (QATzip's software path, slow), none (fail)\n" \
	"      --qatzip-log LEVEL    QATzip's own stderr lines: none (default), error,\n" \
	"                            warning, info, debug\n" \
	"      --compress-threads N  CPU backend workers (default: one per CPU)\n" \
	"  -x, --xbzrle on|off       send re-dirtied pages as XBZRLE deltas\n" \
	"      --xbzrle-cache SIZE   XBZRLE cache (default 64M when on; given alone, it\n" \
	"                            turns XBZRLE on), split per channel\n" \
	"      --policy auto|fixed   auto (default): vmig picks codec, level, threads,\n" \
	"                            channels, XBZRLE and auto-converge from both hosts'\n" \
	"                            spare CPU and memory, the link and the guest, and\n" \
	"                            re-plans each pass; options given here stay as set.\n" \
	"                            fixed: exactly the options given\n" \
	"      --plan                print what --policy auto would start with, its\n" \
	"                            reasons and expected speed; migrate nothing\n" \
	"      --auto-converge       throttle the vCPUs while the guest dirties memory\n" \
	"                            faster than the link carries it (QEMU's meaning)\n" \
	"      --throttle-trigger P  a pass dirtying over P %% of what it sent counts (50)\n" \
	"      --throttle-initial P  first vCPU throttle step, %% (20)\n" \
	"      --throttle-increment P  each later step (10)\n" \
	"      --throttle-max P      at most (99)\n" \
	"      --throttle-tailslow   later steps only as large as the excess needs\n" \
	"      --throttle-mode MODE  auto-converge (QEMU's steps above) or dirty-rate:\n" \
	"                            the share that makes the next pass shrink, from\n" \
	"                            the measured dirty and link rates, corrected each\n" \
	"                            pass (what --policy auto picks); turns it on\n" \
	"      --dirty-limit RATE    hold the guest's dirty rate to RATE bytes/s (K/M/G)\n" \
	"                            from the first pass on, whatever the link (a VM\n" \
	"                            run with --dirty-ring: only the vCPUs that dirty)\n" \
	TLS_ARGS_HELP \
	"      --tls-hostname NAME   the name the destination's certificate must carry\n" \
	"                            (default: HOST of the destination address)\n"

/* What the command line asks; 0 in a number means the VMM's default (the key is not sent). */
struct migrate_opts {
	const char *prog;     /* who says what is wrong: "vmig migrate" */
	bool need_control;    /* --control PATH required (vmig migrate) */
	const char *control, *uri, *codec, *accel, *qatzip;
	uint64_t downtime, bw, timeout, channels, threads, xcache;
	long level;
	bool have_level, json, help;
	const char *xbzrle;   /* "on", "off", or NULL: the policy's */
	bool auto_converge, tailslow;
	uint64_t throttle[4]; /* trigger, initial, increment, max (OPT_THR_* in migrate_opts.c) */
	const char *policy;   /* auto (default) or fixed */
	const char *qat_fallback, *qatzip_log;
	const char *throttle_mode; /* auto-converge or dirty-rate; NULL: not given */
	uint64_t dirty_limit;
	bool plan;            /* print the plan, migrate nothing */
	struct tls_args tls;
	uint64_t resume_timeout; /* s; CLI_RESUME_TIMEOUT_DEFAULT_S unless given */
};

/* Defaults (the resume timeout) and who parses: prog names the program in
 * messages; need_control: --control PATH is required. */
void migrate_opts_init(struct migrate_opts *o, const char *prog, bool need_control);

/*
 * argv[1..argc) (options, then the destination tcp:HOST:PORT) into o:
 * 0 (o->help set: --help was given), or CLI_EXIT_USAGE after saying why
 * (and usage(stderr) where the whole usage helps).
 */
int migrate_opts_parse(int argc, char **argv, struct migrate_opts *o, void (*usage)(FILE *));

/* The migrate command's arguments, or NULL (not UTF-8, or no memory). */
json_t *migrate_opts_args(const struct migrate_opts *o);

#endif
