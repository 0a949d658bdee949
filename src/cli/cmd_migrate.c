/* SPDX-License-Identifier: MIT */
/* vmig migrate: start a live migration on a running VM and follow it. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/migrate_opts.h"
#include "common/control_client.h"
#include "common/json.h"
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
		MIGRATE_OPTS_HELP
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
	json_t *args = migrate_opts_args(o);
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
	json_t *args = migrate_opts_args(o), *rep = NULL;
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
		if (num(rep, "level"))
			printf("  codec             %s level %.0f\n", text(rep, "codec"),
			       num(rep, "level"));
		else
			printf("  codec             %s (default level)\n", text(rep, "codec"));
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
	struct migrate_opts o;
	char err[512];
	int fd, status;

	migrate_opts_init(&o, "vmig migrate", true);
	status = migrate_opts_parse(argc, argv, &o, usage);
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
