/* SPDX-License-Identifier: MIT */
/* vmig migrate: start a live migration on a running VM and follow it. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/tls_args.h"
#include "common/control_client.h"
#include "common/json.h"
#include "common/parse.h"
#include "vmig/vmig.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vmig migrate --control PATH tcp:HOST:PORT [OPTIONS]\n"
		"\n"
		"Live-migrate the VM behind the control socket to a destination started\n"
		"with 'vmig run --incoming tcp:HOST:PORT'. The guest keeps running here\n"
		"until the destination has verified everything; any failure before the\n"
		"handover leaves it running here, untouched.\n"
		"\n"
		"  -C, --control PATH        the source VM's control socket\n"
		"  -d, --downtime-ms N       switch over when the expected pause is under N ms\n"
		"                            (default 300)\n"
		"  -b, --max-bandwidth RATE  cap the link use, bytes/s with K/M/G suffix\n"
		"                            (e.g. 125M = 1 Gbit/s; default unlimited)\n"
		"  -t, --timeout S           give up (the guest keeps running here) after S s\n"
		"      --resume-timeout S    a link lost before the handover: reconnect and\n"
		"                            resume for up to S s, the guest running here\n"
		"                            (default 60; 0: fail at once)\n"
		"  -n, --channels N          data connections besides the main one, each with\n"
		"                            its own thread on both sides (0..16, default 0)\n"
		"  -z, --codec NAME          compress page batches: none (default), lz4, zstd,\n"
		"                            deflate (ISA-L), qat (deflate on Intel QAT)\n"
		"  -l, --level N             codec level (lz4 1-12, zstd 1-19, deflate 0-3)\n"
		"  -a, --accel KIND          offload engine: cpu (worker threads), qat, auto\n"
		"                            (QAT when present, else CPU)\n"
		"      --qat-fallback HOW    QAT without a device: cpu (default: vmig's CPU\n"
		"                            deflate, and the summary says so), qatzip\n"
		"                            (QATzip's software path, slow), none (fail)\n"
		"      --qatzip-log LEVEL    QATzip's own stderr lines: none (default), error,\n"
		"                            warning, info, debug\n"
		"      --compress-threads N  CPU backend workers (default: one per CPU)\n"
		"  -x, --xbzrle on|off       send re-dirtied pages as XBZRLE deltas\n"
		"      --xbzrle-cache SIZE   XBZRLE cache (default 64M when on), split per channel\n"
		"      --policy auto|fixed   auto (default): vmig picks codec, level, threads,\n"
		"                            channels, XBZRLE and auto-converge from both hosts'\n"
		"                            spare CPU and memory, the link and the guest, and\n"
		"                            re-plans each pass; options given here stay as set.\n"
		"                            fixed: exactly the options given\n"
		"      --plan                print what --policy auto would start with, its\n"
		"                            reasons and expected speed; migrate nothing\n"
		"      --auto-converge       throttle the vCPUs while the guest dirties memory\n"
		"                            faster than the link carries it (QEMU's meaning)\n"
		"      --throttle-trigger P  a pass dirtying over P %% of what it sent counts (50)\n"
		"      --throttle-initial P  first vCPU throttle step, %% (20)\n"
		"      --throttle-increment P  each later step (10)\n"
		"      --throttle-max P      at most (99)\n"
		"      --throttle-tailslow   later steps only as large as the excess needs\n"
		"      --throttle-mode MODE  auto-converge (QEMU's steps above) or dirty-rate:\n"
		"                            the share that makes the next pass shrink, from\n"
		"                            the measured dirty and link rates, corrected each\n"
		"                            pass (what --policy auto picks); turns it on\n"
		"      --dirty-limit RATE    hold the guest's dirty rate to RATE bytes/s (K/M/G)\n"
		"                            from the first pass on, whatever the link (a VM\n"
		"                            run with --dirty-ring: only the vCPUs that dirty)\n"
		TLS_ARGS_HELP
		"      --tls-hostname NAME   the name the destination's certificate must carry\n"
		"                            (default: HOST of the destination address)\n"
		"  -j, --json                print one JSON object with the final figures\n"
		"  -h, --help                this text\n"
		"\n"
		"Exit status: 0 migrated (the guest runs on the destination, this VM ends),\n"
		"1 failed or cancelled (the guest runs here), 2 bad usage, 3 handover\n"
		"unconfirmed: GO went out but the destination never confirmed that the guest\n"
		"runs there; the guest stays paused here until you check the destination,\n"
		"then 'cont' here (it does not run there) or 'quit' here (it does).\n");
}

/* A number member (integer or real); 0 if absent. */
static double num(const json_t *o, const char *key)
{
	return json_number_value(json_object_get(o, key));
}

static const char *str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* How the VMM tracked dirty pages and throttled; with the dirty ring, what
 * each vCPU dirtied and how long a dirty limit held it. */
static void print_dirty_tracking(const json_t *r)
{
	const char *mode = str(r, "dirty_tracking"), *path = str(r, "throttle_path");
	if (!mode)
		return; /* a VMM that does not say */
	printf("  dirty tracking    %s, throttle %s\n", mode, path ? path : "?");
	const json_t *v = json_object_get(r, "vcpus");
	for (size_t i = 0; i < json_array_size(v); i++) {
		const json_t *c = json_array_get(v, i);
		printf("    vCPU %-3.0f       %8.0f pages dirtied, %.0f ring-full exits, held %.0f ms "
		       "(%.0f times)\n", num(c, "index"), num(c, "dirty_pages"),
		       num(c, "ring_full_exits"), num(c, "held_ms"), num(c, "holds"));
	}
}

/* A string member to print: "?" if the VMM left it out (printf's %s
 * must never see NULL). */
static const char *text(const json_t *o, const char *key)
{
	const char *s = str(o, key);
	return s ? s : "?";
}

static void print_progress(const json_t *r, const char *status)
{
	double total = num(r, "pass_pages"), done = num(r, "pass_pages_done");
	double ram = num(r, "ram_bytes");
	const json_t *pages = json_object_get(r, "pages");
	double sent = (num(pages, "normal") + num(pages, "zero")) * 4096.0;
	if (!strcmp(status, "reconnecting")) {
		fprintf(stderr, "\r%-12s link lost: try %.0f, %.1f s lost so far, the guest runs here%30s",
			status, num(r, "reconnect_attempts"), num(r, "reconnect_ms") / 1000.0, "");
		return;
	}
	fprintf(stderr,
		"\r%-9s pass %-3.0f %5.1f%% of pass, sent %4.0f%% of RAM, %8.1f MiB/s, dirty %7.1f MiB/s, "
		"expected downtime %5.0f ms, throttle %2.0f%%   ",
		status, num(r, "iterations"), total > 0 ? 100.0 * done / total : 0.0,
		ram > 0 ? 100.0 * sent / ram : 0.0, num(r, "throughput_mibs"), num(r, "dirty_rate_mibs"),
		num(r, "expected_downtime_ms"), num(r, "throttle_pct"));
}

static void print_summary(const json_t *r, const char *status)
{
	const json_t *pages = json_object_get(r, "pages");
	const char *error = str(r, "error");
	printf("migration %s\n", status);
	if (error)
		printf("  %s\n", error);
	printf("  total time        %8.0f ms (setup %.0f ms)\n", num(r, "total_ms"), num(r, "setup_ms"));
	printf("  downtime          %8.0f ms\n", num(r, "downtime_ms"));
	double gd = num(r, "guest_downtime_ms");
	if (gd >= 0)
		printf("  guest-observed    %8.0f ms (largest heartbeat gap)\n", gd);
	printf("  passes            %8.0f\n", num(r, "iterations"));
	printf("  RAM               %8.1f MiB\n", num(r, "ram_bytes") / 1048576.0);
	printf("  on the wire       %8.1f MiB\n", num(r, "wire_bytes") / 1048576.0);
	if (num(r, "reconnect_attempts") > 0)
		printf("  link lost         %8.0f ms (%.0f tries, %.0f times resumed)\n",
		       num(r, "reconnect_ms"), num(r, "reconnect_attempts"), num(r, "resumes"));
	if (pages)
		printf("  pages             %8.0f normal (%.0f compressed), %.0f zero, %.0f XBZRLE\n",
		       num(pages, "normal"), num(pages, "compressed"), num(pages, "zero"),
		       num(pages, "xbzrle"));
	const char *codec = str(r, "codec"), *accel = str(r, "accelerator");
	if (codec && strcmp(codec, "none"))
		printf("  compression       %8.2fx %s on %s; %.2f CPU s here, %.2f there\n",
		       num(r, "compression_ratio"), codec, accel ? accel : "", num(r, "compress_cpu_s"),
		       num(r, "dest_decompress_cpu_s"));
	const json_t *x = json_object_get(r, "xbzrle");
	if (num(x, "cache_hits") + num(x, "cache_misses") > 0)
		printf("  XBZRLE            %8.0f hits, %.0f misses, %.0f overflows, %.1f MiB saved\n",
		       num(x, "cache_hits"), num(x, "cache_misses"), num(x, "overflows"),
		       num(x, "bytes_saved") / 1048576.0);
	const json_t *pol = json_object_get(r, "policy");
	const json_t *dec = json_object_get(pol, "decisions");
	if (json_array_size(dec))
		printf("  policy            %s\n", text(pol, "strategy"));
	for (size_t i = 0; i < json_array_size(dec); i++) {
		const json_t *d = json_array_get(dec, i);
		printf("    pass %-3.0f %6.0f ms  %s: %s\n", num(d, "pass"), num(d, "t_ms"), text(d, "change"),
		       text(d, "reason"));
	}
	if (num(r, "throttle_steps") > 0)
		printf("  %-17s %8.0f throttle changes (vCPU throttle lifted)\n",
		       str(r, "throttle_mode") ? str(r, "throttle_mode") : "throttle",
		       num(r, "throttle_steps"));
	print_dirty_tracking(r);
	printf("  throughput        %8.1f MiB/s\n", num(r, "throughput_mibs"));
	const json_t *ch = json_object_get(r, "channels");
	for (size_t i = 0; i < json_array_size(ch); i++) {
		const json_t *c = json_array_get(ch, i);
		printf("    channel %-2zu       %8.1f MiB/s (%.1f MiB)\n", i, num(c, "throughput_mibs"),
		       num(c, "bytes") / 1048576.0);
	}
	if (str(r, "tls"))
		printf("  TLS               %s\n", str(r, "tls"));
	printf("  RAM digest        %s\n",
	       json_is_true(json_object_get(r, "verified")) ? "verified by the destination"
							    : "not verified");
}

/* What the command line asks; 0 in a number means the VMM's default (the key is not sent). */
struct migrate_opts {
	const char *control, *uri, *codec, *accel, *qatzip;
	uint64_t downtime, bw, timeout, channels, threads, xcache;
	long level;
	bool have_level, xbzrle, json, help;
	bool auto_converge, tailslow;
	uint64_t throttle[4]; /* trigger, initial, increment, max (OPT_THR_* below) */
	const char *policy;   /* auto (default) or fixed */
	const char *qat_fallback, *qatzip_log;
	const char *throttle_mode; /* auto-converge or dirty-rate; NULL: not given */
	uint64_t dirty_limit;
	bool plan;            /* print the plan, migrate nothing */
	struct tls_args tls;
	uint64_t resume_timeout; /* s; CLI_RESUME_TIMEOUT_DEFAULT_S unless given */
};



/* Long-only options (no short letter), and the migrate arguments the throttle ones set. */
enum { OPT_AUTO_CONVERGE = 1000, OPT_POLICY, OPT_PLAN, OPT_TAILSLOW, OPT_THR_TRIGGER, OPT_THR_INITIAL,
       OPT_THR_INCREMENT, OPT_THR_MAX, OPT_QAT_FALLBACK, OPT_QATZIP_LOG,
       OPT_THROTTLE_MODE, OPT_DIRTY_LIMIT, OPT_TLS_CREDS, OPT_TLS_PSK, OPT_TLS_HOSTNAME,
       OPT_RESUME_TIMEOUT };
static const char *const throttle_keys[4] = {"throttle_trigger", "throttle_initial",
					     "throttle_increment", "throttle_max"};
static const char *const throttle_flags[4] = {"--throttle-trigger", "--throttle-initial",
					      "--throttle-increment", "--throttle-max"};

/* What the parse_*_value group parsers return for an option of another group. */
#define NOT_THIS_GROUP 1

/* The link and its timing (control socket, downtime, bandwidth, timeouts):
 * 0, -1 after saying what is wrong, or NOT_THIS_GROUP. */
static int parse_link_value(int c, const char *arg, struct migrate_opts *o)
{
	switch (c) {
	case 'C': o->control = arg; return 0;
	case 'd':
		if (!parse_u64(arg, 1, 3600000, &o->downtime))
			return 0;
		fprintf(stderr, "vmig migrate: invalid --downtime-ms '%s'\n", arg);
		return -1;
	case 'b':
		if (!parse_size(arg, 1, &o->bw) && o->bw >= 4096)
			return 0;
		fprintf(stderr, "vmig migrate: invalid --max-bandwidth '%s' (bytes/s, >= 4K)\n",
			arg);
		return -1;
	case 't':
		if (!parse_u64(arg, 1, 86400, &o->timeout))
			return 0;
		fprintf(stderr, "vmig migrate: invalid --timeout '%s': want 1..86400 s\n", arg);
		return -1;
	case OPT_RESUME_TIMEOUT:
		if (!parse_u64(arg, 0, 86400, &o->resume_timeout))
			return 0;
		fprintf(stderr, "vmig migrate: invalid --resume-timeout '%s': want 0..86400 s\n",
			arg);
		return -1;
	}
	return NOT_THIS_GROUP;
}

/* What goes on the wire and how many carry it (codec, level, threads,
 * channels, XBZRLE): 0, -1 after saying what is wrong, or NOT_THIS_GROUP. */
static int parse_compress_value(int c, const char *arg, struct migrate_opts *o)
{
	char *end;

	switch (c) {
	case 'z': o->codec = arg; return 0;
	case 'l':
		o->level = strtol(arg, &end, 10);
		o->have_level = true;
		if (!*end && end != arg && o->level >= -100 && o->level <= 100)
			return 0;
		fprintf(stderr, "vmig migrate: invalid --level '%s'\n", arg);
		return -1;
	case 'T':
		if (!parse_u64(arg, 1, 64, &o->threads))
			return 0;
		fprintf(stderr, "vmig migrate: invalid --compress-threads '%s': want 1..64\n", arg);
		return -1;
	case 'n':
		if (!parse_u64(arg, 0, VMIG_MAX_DATA_CHANNELS, &o->channels))
			return 0;
		fprintf(stderr, "vmig migrate: invalid --channels '%s': want 0..%d\n", arg,
			VMIG_MAX_DATA_CHANNELS);
		return -1;
	case 'x':
		o->xbzrle = !strcmp(arg, "on");
		if (o->xbzrle || !strcmp(arg, "off"))
			return 0;
		fprintf(stderr, "vmig migrate: --xbzrle wants on or off\n");
		return -1;
	case 'X':
		if (!parse_size(arg, 1 << 20, &o->xcache) && o->xcache >= 4096)
			return 0;
		fprintf(stderr, "vmig migrate: invalid --xbzrle-cache '%s'\n", arg);
		return -1;
	}
	return NOT_THIS_GROUP;
}

/* The offload engine and what it fails over to (--accel, QAT, QATzip):
 * 0, -1 after saying what is wrong, or NOT_THIS_GROUP. */
static int parse_offload_value(int c, const char *arg, struct migrate_opts *o)
{
	switch (c) {
	case 'a': o->accel = arg; return 0;
	case 'Q': o->qatzip = arg; return 0;
	case OPT_QAT_FALLBACK:
		o->qat_fallback = arg;
		if (!strcmp(arg, "none") || !strcmp(arg, "qatzip") || !strcmp(arg, "cpu"))
			return 0;
		fprintf(stderr, "vmig migrate: --qat-fallback wants none, qatzip or cpu\n");
		return -1;
	case OPT_QATZIP_LOG:
		o->qatzip_log = arg;
		if (!strcmp(arg, "none") || !strcmp(arg, "error") || !strcmp(arg, "warning") ||
		    !strcmp(arg, "info") || !strcmp(arg, "debug"))
			return 0;
		fprintf(stderr,
			"vmig migrate: --qatzip-log wants none, error, warning, info or debug\n");
		return -1;
	}
	return NOT_THIS_GROUP;
}

/* One of --throttle-trigger/-initial/-increment/-max (c) into o->throttle:
 * 0, or -1 after saying what is wrong. QEMU's ranges: the trigger up to
 * 100 %, the throttle steps up to 99 %. */
static int parse_throttle_pct(int c, const char *arg, struct migrate_opts *o)
{
	unsigned k = (unsigned)(c - OPT_THR_TRIGGER);
	int max = c == OPT_THR_TRIGGER ? 100 : 99;

	if (!parse_u64(arg, 1, (uint64_t)max, &o->throttle[k]))
		return 0;
	fprintf(stderr, "vmig migrate: invalid %s '%s': want a percentage (1..%d)\n",
		throttle_flags[k], arg, max);
	return -1;
}

/* Convergence: the policy and what slows a guest that outruns the link
 * (auto-converge, throttle-*, dirty limit): 0, -1 after saying what is
 * wrong, or NOT_THIS_GROUP. */
static int parse_converge_value(int c, const char *arg, struct migrate_opts *o)
{
	switch (c) {
	case OPT_POLICY:
		o->policy = arg;
		if (!strcmp(arg, "auto") || !strcmp(arg, "fixed"))
			return 0;
		fprintf(stderr, "vmig migrate: --policy wants auto or fixed\n");
		return -1;
	case OPT_PLAN: o->plan = true; return 0;
	case OPT_AUTO_CONVERGE: o->auto_converge = true; return 0;
	case OPT_TAILSLOW: o->tailslow = true; return 0;
	case OPT_THR_TRIGGER:
	case OPT_THR_INITIAL:
	case OPT_THR_INCREMENT:
	case OPT_THR_MAX: return parse_throttle_pct(c, arg, o);
	case OPT_THROTTLE_MODE:
		o->throttle_mode = arg;
		if (!strcmp(arg, "auto-converge") || !strcmp(arg, "dirty-rate"))
			return 0;
		fprintf(stderr,
			"vmig migrate: --throttle-mode wants auto-converge or dirty-rate\n");
		return -1;
	case OPT_DIRTY_LIMIT:
		if (!parse_size(arg, 1, &o->dirty_limit) && o->dirty_limit >= 4096)
			return 0;
		fprintf(stderr, "vmig migrate: invalid --dirty-limit '%s' (bytes/s, >= 4K)\n", arg);
		return -1;
	}
	return NOT_THIS_GROUP;
}

/* TLS (checked together by tls_args_check once all options are read):
 * 0, or NOT_THIS_GROUP. */
static int parse_tls_value(int c, const char *arg, struct tls_args *tls)
{
	switch (c) {
	case OPT_TLS_CREDS: tls->creds = arg; return 0;
	case OPT_TLS_PSK: tls->psk = arg; return 0;
	case OPT_TLS_HOSTNAME: tls->hostname = arg; return 0;
	}
	return NOT_THIS_GROUP;
}

/* One option's value into o: 0, or -1 after saying what is wrong with it. */
static int parse_value(int c, const char *arg, struct migrate_opts *o)
{
	int r = parse_link_value(c, arg, o);

	if (r == NOT_THIS_GROUP)
		r = parse_compress_value(c, arg, o);
	if (r == NOT_THIS_GROUP)
		r = parse_offload_value(c, arg, o);
	if (r == NOT_THIS_GROUP)
		r = parse_converge_value(c, arg, o);
	if (r == NOT_THIS_GROUP)
		r = parse_tls_value(c, arg, &o->tls);
	/* Only an option in parse_opts' table that no group takes gets here: a bug, not input. */
	return r == NOT_THIS_GROUP ? -1 : r;
}

/* The command line into o: 0, or CLI_EXIT_USAGE after saying why. */
static int parse_opts(int argc, char **argv, struct migrate_opts *o)
{
	static const struct option opts[] = {
		{"control", required_argument, NULL, 'C'},
		{"downtime-ms", required_argument, NULL, 'd'},
		{"max-bandwidth", required_argument, NULL, 'b'},
		{"timeout", required_argument, NULL, 't'},
		{"json", no_argument, NULL, 'j'},
		{"channels", required_argument, NULL, 'n'},
		{"codec", required_argument, NULL, 'z'},
		{"level", required_argument, NULL, 'l'},
		{"accel", required_argument, NULL, 'a'},
		{"compress-threads", required_argument, NULL, 'T'},
		{"xbzrle", required_argument, NULL, 'x'},
		{"xbzrle-cache", required_argument, NULL, 'X'},
		{"qatzip-path", required_argument, NULL, 'Q'},
		{"auto-converge", no_argument, NULL, OPT_AUTO_CONVERGE},
		{"policy", required_argument, NULL, OPT_POLICY},
		{"plan", no_argument, NULL, OPT_PLAN},
		{"throttle-tailslow", no_argument, NULL, OPT_TAILSLOW},
		{"throttle-trigger", required_argument, NULL, OPT_THR_TRIGGER},
		{"throttle-initial", required_argument, NULL, OPT_THR_INITIAL},
		{"throttle-increment", required_argument, NULL, OPT_THR_INCREMENT},
		{"throttle-max", required_argument, NULL, OPT_THR_MAX},
		{"qat-fallback", required_argument, NULL, OPT_QAT_FALLBACK},
		{"qatzip-log", required_argument, NULL, OPT_QATZIP_LOG},
		{"throttle-mode", required_argument, NULL, OPT_THROTTLE_MODE},
		{"dirty-limit", required_argument, NULL, OPT_DIRTY_LIMIT},
		{"tls-creds", required_argument, NULL, OPT_TLS_CREDS},
		{"tls-psk", required_argument, NULL, OPT_TLS_PSK},
		{"tls-hostname", required_argument, NULL, OPT_TLS_HOSTNAME},
		{"resume-timeout", required_argument, NULL, OPT_RESUME_TIMEOUT},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":C:d:b:t:n:z:l:a:T:x:X:Q:jh", opts, NULL)) != -1) {
		if (c == 'j') {
			o->json = true;
		} else if (c == 'h') {
			o->help = true;
			return 0;
		} else if (c == ':') {
			fprintf(stderr, "vmig migrate: option '%s' needs a value\n", argv[optind - 1]);
			return CLI_EXIT_USAGE;
		} else if (c == '?') {
			fprintf(stderr, "vmig migrate: unknown option '%s'\n", argv[optind - 1]);
			usage(stderr);
			return CLI_EXIT_USAGE;
		} else if (parse_value(c, optarg, o) < 0) {
			return CLI_EXIT_USAGE;
		}
	}
	if (optind < argc)
		o->uri = argv[optind++];
	if (!o->control || !o->uri || optind < argc) {
		fprintf(stderr, "vmig migrate: need --control PATH and one destination tcp:HOST:PORT\n");
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (strncmp(o->uri, "tcp:", 4) != 0) {
		fprintf(stderr, "vmig migrate: destination '%s' must be tcp:HOST:PORT\n", o->uri);
		return CLI_EXIT_USAGE;
	}
	return tls_args_check("vmig migrate", &o->tls, false) ? CLI_EXIT_USAGE : 0;
}

/* The migrate command's arguments (docs/control.md), or NULL (not UTF-8, or no memory). */
static json_t *migrate_args(const struct migrate_opts *o)
{
	json_t *a = json_pack("{s:s, s:s*, s:s*, s:s*, s:s*, s:s*}", "uri", o->uri, "codec",
			      o->codec, "accel", o->accel, "qatzip_path", o->qatzip, "qat_fallback",
			      o->qat_fallback, "qatzip_log", o->qatzip_log);
	int bad = 0;

	if (a && o->downtime)
		bad |= json_object_set_new(a, "downtime_ms", json_integer(json_u64(o->downtime)));
	if (a && o->bw)
		bad |= json_object_set_new(a, "max_bandwidth", json_integer(json_u64(o->bw)));
	if (a && o->timeout)
		bad |= json_object_set_new(a, "timeout_ms", json_integer(json_u64(o->timeout * 1000)));
	if (a && o->channels)
		bad |= json_object_set_new(a, "channels", json_integer(json_u64(o->channels)));
	if (a && o->have_level)
		bad |= json_object_set_new(a, "level", json_integer(o->level));
	if (a && o->threads)
		bad |= json_object_set_new(a, "compress_threads", json_integer(json_u64(o->threads)));
	if (a && o->xbzrle)
		bad |= json_object_set_new(a, "xbzrle_cache",
					   json_integer(json_u64(o->xcache ? o->xcache : 64ull << 20)));
	if (a && o->auto_converge)
		bad |= json_object_set_new(a, "auto_converge", json_true());
	if (a)
		bad |= json_object_set_new(a, "policy", json_string(o->policy ? o->policy : "auto"));
	if (a && o->tailslow)
		bad |= json_object_set_new(a, "throttle_tailslow", json_true());
	if (a && o->throttle_mode)
		bad |= json_object_set_new(a, "throttle_mode", json_string(o->throttle_mode));
	if (a)
		bad |= json_object_set_new(a, "resume_timeout_ms",
					   json_integer(json_u64(o->resume_timeout * 1000)));
	if (a && o->dirty_limit)
		bad |= json_object_set_new(a, "dirty_limit", json_integer(json_u64(o->dirty_limit)));
	if (a && o->tls.creds)
		bad |= json_object_set_new(a, "tls_creds", json_string(o->tls.creds_abs));
	if (a && o->tls.psk)
		bad |= json_object_set_new(a, "tls_psk", json_string(o->tls.psk_abs));
	if (a && o->tls.hostname)
		bad |= json_object_set_new(a, "tls_hostname", json_string(o->tls.hostname));
	for (unsigned k = 0; a && k < 4; k++)
		if (o->throttle[k])
			bad |= json_object_set_new(a, throttle_keys[k],
						   json_integer(json_u64(o->throttle[k])));
	if (bad) {
		json_decref(a);
		return NULL;
	}
	return a;
}

/* --json when the migration never started: the status and why. */
static void print_start_failure(const char *why)
{
	json_t *o = json_pack("{s:s, s:s}", "status", "failed", "error", why);
	char *text = o ? json_dumps(o, VMIG_JSON_DUMP) : NULL;
	printf("%s\n", text ? text : "{\"status\": \"failed\"}");
	free(text);
	json_decref(o);
}

/* Send migrate: 0, or -1 after saying why. */
static int request(int fd, const struct migrate_opts *o)
{
	json_t *args = migrate_args(o);
	char err[512];
	int r;

	if (!args) {
		fprintf(stderr, "vmig migrate: cannot encode the request (are the names UTF-8?)\n");
		return -1;
	}
	r = control_call(fd, "migrate", args, NULL, err, sizeof(err));
	json_decref(args);
	if (r) {
		fprintf(stderr, "vmig migrate: %s\n", err);
		if (o->json) /* a script reading --json gets its object either way */
			print_start_failure(err);
		return -1;
	}
	return 0;
}

static bool is_final(const char *st)
{
	static const char *const final[] = {"completed", "failed", "cancelled", "unconfirmed", "none"};
	for (size_t i = 0; i < sizeof(final) / sizeof(final[0]); i++)
		if (!strcmp(st, final[i]))
			return true;
	return false;
}

/* Poll query-migrate until the migration ends, showing progress; the exit status. */
static int follow_until_final(int fd, const struct migrate_opts *o, json_t *args)
{
	bool tty = isatty(STDERR_FILENO) && !o->json;
	char err[512];

	for (;;) {
		struct timespec ts = {0, 100 * 1000 * 1000};
		json_t *rep = NULL;
		nanosleep(&ts, NULL);
		if (control_call(fd, "query-migrate", args, &rep, err, sizeof(err))) {
			fprintf(stderr, "%svmig migrate: lost the source VM: %s\n", tty ? "\n" : "", err);
			return 1;
		}
		const char *st = str(rep, "status");
		if (!st)
			st = "?";
		if (!is_final(st)) {
			if (tty)
				print_progress(rep, st);
			json_decref(rep);
			continue;
		}
		if (tty)
			fprintf(stderr, "\n");
		char *text = o->json ? json_dumps(rep, VMIG_JSON_DUMP) : NULL;
		if (o->json)
			printf("%s\n", text ? text : "{}");
		else
			print_summary(rep, st);
		free(text);
		int status = !strcmp(st, "completed") ? 0 : !strcmp(st, "unconfirmed") ? 3 : 1;
		json_decref(rep);
		return status;
	}
}

static int follow(int fd, const struct migrate_opts *o)
{
	/* "release": this is the reader that prints the result, so the source
	 * may exit once it has seen it (other readers do not end its wait). */
	json_t *args = json_pack("{s:b}", "release", 1);
	if (!args) {
		fprintf(stderr, "vmig migrate: out of memory\n");
		return 1;
	}
	int status = follow_until_final(fd, o, args);
	json_decref(args);
	return status;
}

/* The plan's throttle line: which controller would slow a guest that
 * outruns the link, and the dirty limit if one is set. */
static void print_plan_throttle(json_t *rep)
{
	const char *mode = str(rep, "throttle_mode");
	if (!mode || !*mode)
		printf("  throttle          none (the guest is never slowed down)\n");
	else if (!strcmp(mode, "dirty-limit"))
		printf("  throttle          dirty-limit: the guest held to %.1f MiB/s of dirtied RAM%s\n",
		       num(rep, "dirty_limit") / 1048576.0,
		       strcmp(text(rep, "throttle_path"), "per-vcpu") ? ""
		       : ", per vCPU (dirty ring)");
	else if (!strcmp(mode, "dirty-rate"))
		printf("  throttle          dirty-rate: the share the dirty and link rates call for, "
		       "corrected each pass\n");
	else
		printf("  throttle          %s: QEMU's steps when a pass does not shrink\n", mode);
}

/* --plan: what --policy auto would start with, and why; migrates nothing. */
static int show_plan(int fd, const struct migrate_opts *o)
{
	json_t *args = migrate_args(o), *rep = NULL;
	char err[512];
	int r = args ? control_call(fd, "query-migrate-plan", args, &rep, err, sizeof(err)) : -1;
	json_decref(args);
	if (r) {
		fprintf(stderr, "vmig migrate: %s\n", args ? err : "cannot encode the request");
		return 1;
	}
	if (o->json) {
		char *s = json_dumps(rep, JSON_COMPACT);
		printf("%s\n", s ? s : "{}");
		free(s);
	} else {
		printf("plan (nothing migrated)\n");
		printf("  codec             %s%s\n", text(rep, "codec"),
		       num(rep, "level") ? "" : " (default level)");
		printf("  threads           %.0f compressing, %.0f data channels\n", num(rep, "threads"),
		       num(rep, "channels"));
		printf("  XBZRLE            %s\n", num(rep, "xbzrle_cache") ? "on" : "off");
		print_plan_throttle(rep);
		printf("  expected          %.0f MiB/s of RAM, first pass %.1f s\n", num(rep, "ram_mibs"),
		       num(rep, "first_pass_ms") / 1000.0);
		printf("  why               %s\n", text(rep, "reason"));
	}
	json_decref(rep);
	return 0;
}

int cmd_migrate(int argc, char **argv)
{
	struct migrate_opts o = {.resume_timeout = CLI_RESUME_TIMEOUT_DEFAULT_S};
	char err[512];
	int fd, status;

	status = parse_opts(argc, argv, &o);
	if (status || o.help) {
		if (o.help)
			usage(stdout);
		return status;
	}
	if (control_connect(o.control, &fd, err, sizeof(err))) {
		fprintf(stderr, "vmig migrate: %s\n", err);
		return 1;
	}
	if (o.plan)
		status = show_plan(fd, &o);
	else
		status = request(fd, &o) < 0 ? 1 : follow(fd, &o);
	close(fd);
	return status;
}
