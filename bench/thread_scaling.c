/* SPDX-License-Identifier: MIT */
/*
 * thread_scaling: how a migration's multi-thread compression scales with
 * the source's compression threads (the CPU backend's workers) and data
 * channels. Both ends live in one process (bench/loopback.h): a still
 * guest whose pages compress like real memory migrates over TCP on
 * 127.0.0.1, unlimited bandwidth, for every codec x threads x channels
 * setting, RUNS rounds, the settings' order reversed every other round so
 * that warm-up and drift do not favour one end of the list.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loopback.h"

#define DEFAULT_SIZE_MIB 1024
#define MAX_SIZE_MIB 65536
#define DEFAULT_RUNS 3
#define MAX_RUNS 15
#define MAX_LIST 16 /* entries in a THREADS or CHANNELS list */
#define MAX_THREADS_ARG 1024 /* parsing bound only: the engine refuses what it cannot run */
/* Level 1 of both codecs: the speed end, what a planner picks when CPU is the limit. */
#define CODEC_LEVEL 1

static const char *const codecs[] = {"zstd", "deflate"};
#define NR_CODECS (sizeof(codecs) / sizeof(codecs[0]))

static const char usage[] =
	"usage: thread_scaling [SIZE_MIB] [RUNS] [THREADS] [CHANNELS]\n"
	"\n"
	"Migrates a still guest of SIZE_MIB MiB (default 1024) to a second one in\n"
	"this process over TCP on 127.0.0.1, unlimited bandwidth, RUNS times (default\n"
	"3, at most 15) for every setting of: codec zstd and deflate (level 1),\n"
	"source compression threads THREADS (a comma list, default 1,2,4,8,16; 0:\n"
	"one per CPU) and data channels CHANNELS (a comma list, default 0,4). The\n"
	"guest's pages are a third zero, a third text-like and a third random,\n"
	"filled deterministically.\n"
	"The order of settings is reversed every other round.\n"
	"\n"
	"Prints each run, then per setting: median, min and max of the total ms\n"
	"(start to handover), throughput (SIZE_MIB / median s), median CPU seconds\n"
	"of the whole process (source and destination together), median CPU seconds\n"
	"of compression (source offload engine) and decompression (destination),\n"
	"the compression ratio of the compressed pages and the MiB on the wire.\n"
	"Every run must complete with the RAM verified, or it exits 1; bad\n"
	"arguments exit 2.\n";

struct setting {
	const char *codec;
	unsigned threads, channels;
	double ms[MAX_RUNS], cpu[MAX_RUNS];
	double ratio, wire_mib;
	double comp_cpu[MAX_RUNS], decomp_cpu[MAX_RUNS]; /* each side's codec CPU s */
};

/* A comma list of 0..max values into out; its length, or 0 if malformed. */
static unsigned parse_list(const char *s, unsigned max, unsigned *out)
{
	unsigned n = 0;
	while (*s) {
		char *end;
		unsigned long v = strtoul(s, &end, 10);
		if (end == s || v > max || n == MAX_LIST || (*end && *end != ','))
			return 0;
		out[n++] = (unsigned)v;
		s = *end ? end + 1 : end;
	}
	return n;
}

static uint64_t next_rand(uint64_t *x)
{
	/* xorshift64: deterministic, fast enough to fill GiBs */
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* Words of a text-like page: compressible about like logs and source text. */
static void fill_text(uint8_t *p, uint64_t *x)
{
	static const char *const words[] = {
		"the ",    "migration ", "page ",   "of ",     "guest ", "memory ", "kernel ",
		"buffer ", "0x7f3a ",    "error: ", "ok\n",    "struct ", "return ", "int ",
		"load ",   "store ",     "cache ",  "thread ", "= ",     "{\n",     "}\n",
	};
	unsigned nw = sizeof(words) / sizeof(words[0]);
	size_t off = 0;
	while (off < VMIG_PAGE_SIZE) {
		const char *w = words[next_rand(x) % nw];
		size_t len = strlen(w);
		if (len > VMIG_PAGE_SIZE - off)
			len = VMIG_PAGE_SIZE - off;
		memcpy(p + off, w, len);
		off += len;
	}
}

/* Page i: zero, text-like or random by i % 3, from a seed fixed per page. */
static void fill_guest(struct still_guest *g)
{
	for (uint64_t i = 0; i < g->bytes / VMIG_PAGE_SIZE; i++) {
		uint8_t *p = g->ram + i * VMIG_PAGE_SIZE;
		uint64_t x = 0x9e3779b97f4a7c15ull ^ (i * 0xbf58476d1ce4e5b9ull);
		if (!x)
			x = 1;
		if (i % 3 == 0)
			memset(p, 0, VMIG_PAGE_SIZE);
		else if (i % 3 == 1)
			fill_text(p, &x);
		else
			for (size_t o = 0; o < VMIG_PAGE_SIZE; o += 8) {
				uint64_t v = next_rand(&x);
				memcpy(p + o, &v, 8);
			}
	}
}

static int run_setting(const struct still_guest *g, struct setting *s, unsigned round)
{
	struct loopback_cfg c = {.codec = s->codec, .level = CODEC_LEVEL,
				 .compress_threads = s->threads, .channels = s->channels};
	struct loopback_result r;
	if (loopback_run("thread_scaling", g, &c, &r))
		return -1;
	s->ms[round] = r.ms;
	s->cpu[round] = r.cpu_s;
	s->ratio = r.stats.bytes_after_compression
			   ? (double)r.stats.bytes_before_compression / r.stats.bytes_after_compression
			   : 0;
	s->wire_mib = (double)r.stats.wire_bytes / (1 << 20);
	s->comp_cpu[round] = r.stats.compress_cpu_s;
	s->decomp_cpu[round] = r.stats.dest_decompress_cpu_s;
	printf("round %u %-7s threads %2u channels %u: %7.0f ms %6.2f CPU s  ratio %.2f  (%s)\n",
	       round + 1, s->codec, s->threads, s->channels, r.ms, r.cpu_s, s->ratio, r.stats.accel);
	fflush(stdout);
	return 0;
}

static void print_table(const struct setting *s, unsigned n, unsigned runs, uint64_t mib)
{
	printf("\n%llu MiB, %u runs, level %d, unlimited bandwidth; ms: median (min-max)\n",
	       (unsigned long long)mib, runs, CODEC_LEVEL);
	printf("| codec | threads | channels | total ms | MiB/s | CPU s | compress CPU s | "
	       "decompress CPU s | ratio | wire MiB |\n");
	printf("|---|---|---|---|---|---|---|---|---|---|\n");
	for (unsigned i = 0; i < n; i++) {
		double lo = s[i].ms[0], hi = s[i].ms[0], med = loopback_median(s[i].ms, runs);
		for (unsigned r = 1; r < runs; r++) {
			lo = s[i].ms[r] < lo ? s[i].ms[r] : lo;
			hi = s[i].ms[r] > hi ? s[i].ms[r] : hi;
		}
		printf("| %s | %u | %u | %.0f (%.0f-%.0f) | %.0f | %.2f | %.2f | %.2f | %.2f | %.0f |\n",
		       s[i].codec, s[i].threads, s[i].channels, med, lo, hi,
		       (double)mib / (med / 1000.0), loopback_median(s[i].cpu, runs),
		       loopback_median(s[i].comp_cpu, runs), loopback_median(s[i].decomp_cpu, runs),
		       s[i].ratio, s[i].wire_mib);
	}
}

int main(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(usage, stdout);
		return 0;
	}
	unsigned threads[MAX_LIST] = {1, 2, 4, 8, 16}, channels[MAX_LIST] = {0, 4};
	unsigned nt = 5, nc = 2;
	char *end = NULL;
	uint64_t mib = argc > 1 ? strtoull(argv[1], &end, 10) : DEFAULT_SIZE_MIB;
	int bad = argc > 5 || (end && *end) || !mib || mib > MAX_SIZE_MIB;
	long runs = argc > 2 ? strtol(argv[2], &end, 10) : DEFAULT_RUNS;
	bad |= (argc > 2 && *end) || runs < 1 || runs > MAX_RUNS;
	if (argc > 3 && !bad)
		bad |= !(nt = parse_list(argv[3], MAX_THREADS_ARG, threads));
	if (argc > 4 && !bad)
		bad |= !(nc = parse_list(argv[4], VMIG_MAX_DATA_CHANNELS, channels));
	if (bad) {
		fprintf(stderr, "thread_scaling: bad arguments (SIZE_MIB 1..%d, RUNS 1..%d, lists of "
				"up to %d numbers, channels 0..%d)\n\n%s",
			MAX_SIZE_MIB, MAX_RUNS, MAX_LIST, VMIG_MAX_DATA_CHANNELS, usage);
		return 2;
	}
	unsigned n = NR_CODECS * nt * nc;
	struct setting *set = calloc(n, sizeof(*set));
	struct still_guest g = {.bytes = mib << 20, .ram = malloc(mib << 20)};
	if (!set || !g.ram) {
		fprintf(stderr, "thread_scaling: no memory for a %llu MiB guest\n",
			(unsigned long long)mib);
		return 1;
	}
	for (unsigned i = 0; i < n; i++)
		set[i] = (struct setting){.codec = codecs[i / (nt * nc)],
					  .threads = threads[i / nc % nt], .channels = channels[i % nc]};
	fill_guest(&g);
	for (unsigned round = 0; round < (unsigned)runs; round++)
		for (unsigned k = 0; k < n; k++)
			if (run_setting(&g, &set[round % 2 ? n - 1 - k : k], round))
				return 1;
	print_table(set, n, (unsigned)runs, mib);
	free(set);
	free(g.ram);
	return 0;
}
