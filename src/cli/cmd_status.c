/* SPDX-License-Identifier: MIT */
/* vmig status --control PATH [--json]: what a running VM and its guest are doing. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/control_client.h"
#include "common/json.h"
#include "common/log.h"
#include "common/parse.h"

/* Called by main.c with argv[0] == "status". */
int cmd_status(int argc, char **argv);

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: vmig status --control PATH [--json]\n"
		"Show the state of a running VM and of its guest workload.\n"
		"\n"
		"  -c, --control PATH  the VM's control socket (as given to vmig run)\n"
		"  -j, --json          print {\"status\": ..., \"guest\": ...} as one JSON object\n"
		"  -h, --help          show this help\n");
}

/* Copy s for a terminal: control bytes become '?', at most cap bytes. */
static const char *printable(const char *s, char *buf, size_t cap)
{
	size_t n = 0;

	if (!s)
		return "?";
	for (; *s && n + 1 < cap; s++)
		buf[n++] = ((unsigned char)*s < 0x20 || *s == 0x7f) ? '?' : *s;
	buf[n] = 0;
	return buf;
}

/* A member that is an integer >= 0: 0, or -1 if absent or of another kind. */
static int get_u64(const json_t *obj, const char *key, uint64_t *v)
{
	json_t *j = json_object_get(obj, key);
	if (!json_is_integer(j) || json_integer_value(j) < 0)
		return -1;
	*v = (uint64_t)json_integer_value(j);
	return 0;
}

static void print_u64(const json_t *obj, const char *key)
{
	uint64_t v;
	if (get_u64(obj, key, &v) == 0)
		printf("%" PRIu64, v);
	else
		fputs("?", stdout);
}

static void print_f(const json_t *obj, const char *key, const char *fmt)
{
	json_t *j = json_object_get(obj, key);
	if (json_is_number(j))
		printf(fmt, json_number_value(j));
	else
		fputs("?", stdout);
}

/* dirty tracking: ring, 4096 entries per vCPU; per-vCPU dirty limit 32.0 MiB/s
 * (only from a VMM that reports it) */
static void print_dirty_tracking(const json_t *st)
{
	const char *mode = json_string_value(json_object_get(st, "dirty_tracking"));
	char buf[32];
	uint64_t u;

	if (!mode)
		return;
	printf("dirty tracking: %s", printable(mode, buf, sizeof(buf)));
	if (get_u64(st, "dirty_ring_entries", &u) == 0 && u)
		printf(", %" PRIu64 " entries per vCPU", u);
	if (get_u64(st, "dirty_limit", &u) == 0 && u)
		printf("; per-vCPU dirty limit %.1f MiB/s", (double)u / 1048576.0);
	putchar('\n');
}

static void print_human(const json_t *st, const json_t *g)
{
	const char *s;
	char buf[208];
	uint64_t u;

	/* VM: running  uptime 12.3 s  vcpus 2  mem 1024 MiB */
	s = json_string_value(json_object_get(st, "status"));
	printf("VM: %s  uptime ", printable(s, buf, sizeof(buf)));
	if (get_u64(st, "uptime_ms", &u) == 0)
		printf("%.1f s", (double)u / 1000.0);
	else
		fputs("?", stdout);
	fputs("  vcpus ", stdout);
	print_u64(st, "vcpus");
	fputs("  mem ", stdout);
	if (get_u64(st, "mem_bytes", &u) == 0) {
		if (u % (1u << 20) == 0)
			printf("%" PRIu64 " MiB", u >> 20);
		else
			fputs(format_size(u, buf, sizeof(buf)), stdout);
	} else {
		fputs("?", stdout);
	}
	putchar('\n');
	print_dirty_tracking(st);

	/* guest: t=12s passes=340 dirty=812.3 MiB/s errors=0 */
	if (json_is_true(json_object_get(g, "progress_seen"))) {
		fputs("guest: t=", stdout);
		print_u64(g, "t_s");
		fputs("s passes=", stdout);
		print_u64(g, "passes");
		fputs(" dirty=", stdout);
		print_f(g, "dirty_mibs", "%.1f");
		fputs(" MiB/s errors=", stdout);
		print_u64(g, "errors");
		putchar('\n');
	} else {
		s = json_string_value(json_object_get(g, "last_line"));
		if (s && s[0])
			printf("guest: no progress report yet (last line: \"%s\")\n",
			       printable(s, buf, sizeof(buf)));
		else
			printf("guest: no progress report yet\n");
	}

	/* heartbeat: 11873 beats, last 0.4 ms ago, largest gap 3.1 ms */
	if (get_u64(g, "heartbeats", &u) == 0 && u == 0) {
		printf("heartbeat: none yet\n");
	} else {
		fputs("heartbeat: ", stdout);
		print_u64(g, "heartbeats");
		fputs(" beats, last ", stdout);
		print_f(g, "heartbeat_last_ms_ago", "%.1f");
		fputs(" ms ago, largest gap ", stdout);
		print_f(g, "heartbeat_max_gap_ms", "%.1f");
		fputs(" ms\n", stdout);
	}
}

static int print_json(json_t *st, json_t *g)
{
	json_t *both = json_pack("{s:O, s:O}", "status", st, "guest", g);
	char *text = both ? json_dumps(both, VMIG_JSON_DUMP) : NULL;

	json_decref(both);
	if (!text) {
		log_err("cannot encode the status: out of memory");
		return -1;
	}
	puts(text);
	free(text);
	return 0;
}

/* The options into *path and *json: -1 to go on, else the exit status
 * (0 after --help, 2 after saying what is wrong). */
static int parse_status_opts(int argc, char **argv, const char **path, bool *json)
{
	static const struct option opts[] = {
		{"control", required_argument, NULL, 'c'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	optind = 0; /* glibc: restart scanning for this argv */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			*path = optarg;
			break;
		case 'j':
			*json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case ':':
			fprintf(stderr, "vmig status: option '%s' needs a value\n", argv[optind - 1]);
			usage(stderr);
			return 2;
		default:
			if (optopt)
				fprintf(stderr, "vmig status: unknown option '-%c'\n", optopt);
			else
				fprintf(stderr, "vmig status: unknown option '%s'\n", argv[optind - 1]);
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vmig status: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (!*path) {
		fprintf(stderr, "vmig status: --control PATH is required\n");
		usage(stderr);
		return 2;
	}
	return -1;
}

int cmd_status(int argc, char **argv)
{
	const char *path = NULL;
	bool json = false;
	json_t *st = NULL, *g = NULL;
	char err[512];
	int fd, rc, ret = parse_status_opts(argc, argv, &path, &json);

	if (ret >= 0)
		return ret;
	ret = 1;
	rc = control_connect(path, &fd, err, sizeof(err));
	if (rc < 0) {
		log_err("%s", err);
		return 1;
	}
	rc = control_call(fd, "query-status", NULL, &st, err, sizeof(err));
	if (rc < 0) {
		log_err("query-status: %s", err);
		goto out;
	}
	rc = control_call(fd, "query-guest", NULL, &g, err, sizeof(err));
	if (rc < 0) {
		log_err("query-guest: %s", err);
		goto out;
	}
	if (json) {
		if (print_json(st, g) < 0)
			goto out;
	} else {
		print_human(st, g);
	}
	if (fflush(stdout) != 0) {
		log_err("cannot write the status: %s", strerror(errno));
		goto out;
	}
	ret = 0;
out:
	json_decref(st);
	json_decref(g);
	close(fd);
	return ret;
}
