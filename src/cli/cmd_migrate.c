/* SPDX-License-Identifier: MIT */
/* vmig migrate: start a live migration on a running VM and follow it. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/control_client.h"
#include "common/json.h"
#include "common/parse.h"

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
		"  -n, --channels N          data connections besides the main one, each with\n"
		"                            its own thread on both sides (0..16, default 0)\n"
		"  -z, --codec NAME          compress page batches: none (default), lz4, zstd,\n"
		"                            deflate (ISA-L), qat (deflate on Intel QAT)\n"
		"  -l, --level N             codec level (lz4 1-12, zstd 1-19, deflate 0-3)\n"
		"  -a, --accel KIND          offload engine: cpu (worker threads), qat, auto\n"
		"                            (QAT when present, else CPU)\n"
		"      --compress-threads N  CPU backend workers (default: one per CPU)\n"
		"  -x, --xbzrle on|off       send re-dirtied pages as XBZRLE deltas\n"
		"      --xbzrle-cache SIZE   XBZRLE cache (default 64M when on), split per channel\n"
		"  -j, --json                print one JSON object with the final figures\n"
		"  -h, --help                this text\n"
		"\n"
		"Exit status: 0 migrated (the guest runs on the destination, this VM ends),\n"
		"1 failed or cancelled (the guest runs here), 2 bad usage, 3 handover\n"
		"unconfirmed: GO went out but the destination never confirmed that the guest\n"
		"runs there; the guest stays paused here until you check the destination,\n"
		"then 'cont' here (it does not run there) or 'quit' here (it does).\n");
}

static double num(const struct json_value *o, const char *key)
{
	double d = 0;
	json_get_double(o, key, &d);
	return d;
}

static void print_progress(const struct json_value *r, const char *status)
{
	double total = num(r, "pass_pages"), done = num(r, "pass_pages_done");
	double ram = num(r, "ram_bytes");
	const struct json_value *pages = json_get(r, "pages");
	double sent = pages ? (num(pages, "normal") + num(pages, "zero")) * 4096.0 : 0;
	fprintf(stderr,
		"\r%-9s pass %-3.0f %5.1f%% of pass, sent %4.0f%% of RAM, %8.1f MiB/s, dirty %7.1f MiB/s, "
		"expected downtime %5.0f ms   ",
		status, num(r, "iterations"), total > 0 ? 100.0 * done / total : 0.0,
		ram > 0 ? 100.0 * sent / ram : 0.0, num(r, "throughput_mibs"), num(r, "dirty_rate_mibs"),
		num(r, "expected_downtime_ms"));
}

static void print_summary(const struct json_value *r, const char *status)
{
	const struct json_value *pages = json_get(r, "pages");
	const char *error = NULL;
	bool verified = false;
	json_get_string(r, "error", &error);
	json_get_bool(r, "verified", &verified);
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
	if (pages)
		printf("  pages             %8.0f normal (%.0f compressed), %.0f zero, %.0f XBZRLE\n",
		       num(pages, "normal"), num(pages, "compressed"), num(pages, "zero"),
		       num(pages, "xbzrle"));
	const char *codec = "none", *accel = "";
	json_get_string(r, "codec", &codec);
	json_get_string(r, "accelerator", &accel);
	if (strcmp(codec, "none"))
		printf("  compression       %8.2fx %s on %s; %.2f CPU s here, %.2f there\n",
		       num(r, "compression_ratio"), codec, accel, num(r, "compress_cpu_s"),
		       num(r, "dest_decompress_cpu_s"));
	const struct json_value *x = json_get(r, "xbzrle");
	if (x && num(x, "cache_hits") + num(x, "cache_misses") > 0)
		printf("  XBZRLE            %8.0f hits, %.0f misses, %.0f overflows, %.1f MiB saved\n",
		       num(x, "cache_hits"), num(x, "cache_misses"), num(x, "overflows"),
		       num(x, "bytes_saved") / 1048576.0);
	printf("  throughput        %8.1f MiB/s\n", num(r, "throughput_mibs"));
	const struct json_value *ch = json_get(r, "channels");
	for (size_t i = 0; ch && i < json_array_len(ch); i++) {
		const struct json_value *c = json_array_at(ch, i);
		printf("    channel %-2zu       %8.1f MiB/s (%.1f MiB)\n", i, num(c, "throughput_mibs"),
		       num(c, "bytes") / 1048576.0);
	}
	printf("  RAM digest        %s\n", verified ? "verified by the destination" : "not verified");
}

int cmd_migrate(int argc, char **argv)
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
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *control = NULL, *uri = NULL;
	uint64_t downtime = 0, bw = 0, timeout = 0, channels = 0, threads = 0, xcache = 0;
	const char *codec = NULL, *accel = NULL, *qatzip = NULL;
	long level = 0;
	bool xbzrle = false, have_level = false;
	bool json = false;
	char err[512];
	int c, fd, r;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":C:d:b:t:n:z:l:a:T:x:X:Q:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'C': control = optarg; break;
		case 'd':
			if (parse_u64(optarg, 1, 3600000, &downtime)) {
				fprintf(stderr, "vmig migrate: invalid --downtime-ms '%s'\n", optarg);
				return CLI_EXIT_USAGE;
			}
			break;
		case 'b':
			if (parse_size(optarg, 1, &bw) || bw < 4096) {
				fprintf(stderr, "vmig migrate: invalid --max-bandwidth '%s' (bytes/s, >= 4K)\n",
					optarg);
				return CLI_EXIT_USAGE;
			}
			break;
		case 't':
			if (parse_u64(optarg, 1, 86400, &timeout)) {
				fprintf(stderr, "vmig migrate: invalid --timeout '%s': want 1..86400 s\n", optarg);
				return CLI_EXIT_USAGE;
			}
			break;
		case 'j': json = true; break;
		case 'z': codec = optarg; break;
		case 'a': accel = optarg; break;
		case 'Q': qatzip = optarg; break;
		case 'l': {
			char *end;
			level = strtol(optarg, &end, 10);
			if (*end || end == optarg || level < -100 || level > 100) {
				fprintf(stderr, "vmig migrate: invalid --level '%s'\n", optarg);
				return CLI_EXIT_USAGE;
			}
			have_level = true;
			break;
		}
		case 'T':
			if (parse_u64(optarg, 1, 64, &threads)) {
				fprintf(stderr, "vmig migrate: invalid --compress-threads '%s': want 1..64\n", optarg);
				return CLI_EXIT_USAGE;
			}
			break;
		case 'x':
			if (!strcmp(optarg, "on"))
				xbzrle = true;
			else if (!strcmp(optarg, "off"))
				xbzrle = false;
			else {
				fprintf(stderr, "vmig migrate: --xbzrle wants on or off\n");
				return CLI_EXIT_USAGE;
			}
			break;
		case 'X':
			if (parse_size(optarg, 1 << 20, &xcache) || xcache < 4096) {
				fprintf(stderr, "vmig migrate: invalid --xbzrle-cache '%s'\n", optarg);
				return CLI_EXIT_USAGE;
			}
			break;
		case 'n':
			if (parse_u64(optarg, 0, 16, &channels)) {
				fprintf(stderr, "vmig migrate: invalid --channels '%s': want 0..16\n", optarg);
				return CLI_EXIT_USAGE;
			}
			break;
		case 'h': usage(stdout); return 0;
		case ':':
			fprintf(stderr, "vmig migrate: option '%s' needs a value\n", argv[optind - 1]);
			return CLI_EXIT_USAGE;
		default:
			fprintf(stderr, "vmig migrate: unknown option '%s'\n", argv[optind - 1]);
			usage(stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (optind < argc)
		uri = argv[optind++];
	if (!control || !uri || optind < argc) {
		fprintf(stderr, "vmig migrate: need --control PATH and one destination tcp:HOST:PORT\n");
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (strncmp(uri, "tcp:", 4) != 0) {
		fprintf(stderr, "vmig migrate: destination '%s' must be tcp:HOST:PORT\n", uri);
		return CLI_EXIT_USAGE;
	}
	if ((r = control_connect(control, &fd, err, sizeof(err)))) {
		fprintf(stderr, "vmig migrate: %s\n", err);
		return 1;
	}
	struct json_writer w;
	jw_init(&w);
	jw_object_begin(&w);
	jw_key(&w, "uri");
	jw_string(&w, uri);
	if (downtime) {
		jw_key(&w, "downtime_ms");
		jw_uint(&w, downtime);
	}
	if (bw) {
		jw_key(&w, "max_bandwidth");
		jw_uint(&w, bw);
	}
	if (timeout) {
		jw_key(&w, "timeout_ms");
		jw_uint(&w, timeout * 1000);
	}
	if (channels) {
		jw_key(&w, "channels");
		jw_uint(&w, channels);
	}
	if (codec) {
		jw_key(&w, "codec");
		jw_string(&w, codec);
	}
	if (have_level) {
		jw_key(&w, "level");
		jw_int(&w, level);
	}
	if (accel) {
		jw_key(&w, "accel");
		jw_string(&w, accel);
	}
	if (qatzip) {
		jw_key(&w, "qatzip_path");
		jw_string(&w, qatzip);
	}
	if (threads) {
		jw_key(&w, "compress_threads");
		jw_uint(&w, threads);
	}
	if (xbzrle) {
		jw_key(&w, "xbzrle_cache");
		jw_uint(&w, xcache ? xcache : 64ull << 20);
	}
	jw_object_end(&w);
	size_t len;
	const char *args = jw_result(&w, &len);
	struct json_value *rep = NULL;
	r = control_call(fd, "migrate", args, &rep, err, sizeof(err));
	jw_free(&w);
	json_free(rep);
	if (r) {
		fprintf(stderr, "vmig migrate: %s\n", err);
		close(fd);
		return 1;
	}

	bool tty = isatty(STDERR_FILENO) && !json;
	int status = 1;
	for (;;) {
		struct timespec ts = {0, 100 * 1000 * 1000};
		nanosleep(&ts, NULL);
		rep = NULL;
		if ((r = control_call(fd, "query-migrate", NULL, &rep, err, sizeof(err)))) {
			if (tty)
				fprintf(stderr, "\n");
			fprintf(stderr, "vmig migrate: lost the source VM: %s\n", err);
			break;
		}
		const char *st = "?";
		json_get_string(rep, "status", &st);
		bool final = !strcmp(st, "completed") || !strcmp(st, "failed") || !strcmp(st, "cancelled") ||
			     !strcmp(st, "unconfirmed") || !strcmp(st, "none");
		if (tty && !final)
			print_progress(rep, st);
		if (final) {
			if (tty)
				fprintf(stderr, "\n");
			if (json) {
				struct json_writer o;
				jw_init(&o);
				jw_value(&o, rep);
				const char *s = jw_result(&o, &len);
				printf("%s\n", s ? s : "{}");
				jw_free(&o);
			} else {
				print_summary(rep, st);
			}
			status = !strcmp(st, "completed") ? 0 : !strcmp(st, "unconfirmed") ? 3 : 1;
			json_free(rep);
			break;
		}
		json_free(rep);
	}
	close(fd);
	return status;
}
