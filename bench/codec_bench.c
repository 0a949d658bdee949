/* SPDX-License-Identifier: MIT */
/*
 * codec_bench: single-core throughput of every page codec and level, on
 * single 4 KiB pages and on 64-page batches, for five kinds of page
 * (zero, English-like text, x86-like binary, random, and a mix), plus the
 * zero-page scan.
 *
 *   codec_bench [--quick] [--codec NAME] [--ms N] [--file PATH]... [--pool-mib N]
 *
 * --file measures a file's own pages instead (a content set from
 * bench/content/, repeatable): its zero pages are counted and left out
 * (migration sends them as a flag), and up to --pool-mib (default 16) of
 * its non-zero pages, evenly spread over the file, form the pool.
 *
 * MB/s are millions of uncompressed bytes per second of this thread's CPU
 * time (so "per core", and not skewed by other load on the machine).
 * Ratio is uncompressed / compressed. Every batch decoded is compared with
 * its original, so the figures are for correct output.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lz4.h>
#include <zstd.h>

#include "codec/codec.h"

/* From libvmig (src/migration/ram.c). */
bool page_is_zero(const void *page);

#define PAGE 4096u
#define BATCH 64u

/* ---- data ---- */

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rnd(uint64_t *s)
{
	*s += 0x9e3779b97f4a7c15ull;
	return mix64(*s);
}

enum kind { K_ZERO, K_TEXT, K_BINARY, K_RANDOM, K_MIXED, K_COUNT };
static const char *const kind_name[K_COUNT] = {"zero", "text", "binary", "random", "mixed"};

/* Roughly by frequency; the generator favours low indices (Zipf-like). */
static const char *const vocab[] = {
    "the",	 "of",	       "and",	     "to",	    "a",	   "in",
    "is",	 "it",	       "you",	     "that",	    "he",	   "was",
    "for",	 "on",	       "are",	     "with",	    "as",	   "his",
    "they",	 "be",	       "at",	     "one",	    "have",	   "this",
    "from",	 "or",	       "had",	     "by",	    "word",	   "but",
    "what",	 "some",       "we",	     "can",	    "out",	   "other",
    "were",	 "all",	       "there",	     "when",	    "up",	   "use",
    "your",	 "how",	       "said",	     "an",	    "each",	   "she",
    "which",	 "do",	       "their",	     "time",	    "if",	   "will",
    "way",	 "about",      "many",	     "then",	    "them",	   "write",
    "would",	 "like",       "so",	     "these",	    "her",	   "long",
    "make",	 "thing",      "see",	     "him",	    "two",	   "has",
    "look",	 "more",       "day",	     "could",	    "go",	   "come",
    "did",	 "number",     "sound",	     "no",	    "most",	   "people",
    "my",	 "over",       "know",	     "water",	    "than",	   "call",
    "first",	 "who",	       "may",	     "down",	    "side",	   "been",
    "now",	 "find",       "any",	     "new",	    "work",	   "part",
    "take",	 "get",	       "place",	     "made",	    "live",	   "where",
    "after",	 "back",       "little",     "only",	    "round",	   "man",
    "year",	 "came",       "show",	     "every",	    "good",	   "me",
    "give",	 "our",	       "under",	     "name",	    "very",	   "through",
    "just",	 "form",       "sentence",   "great",	    "think",	   "say",
    "help",	 "low",	       "line",	     "differ",	    "turn",	   "cause",
    "much",	 "mean",       "before",     "move",	    "right",	   "boy",
    "old",	 "too",	       "same",	     "tell",	    "does",	   "set",
    "three",	 "want",       "air",	     "well",	    "also",	   "play",
    "small",	 "end",	       "put",	     "home",	    "read",	   "hand",
    "port",	 "large",      "spell",	     "add",	    "even",	   "land",
    "here",	 "must",       "big",	     "high",	    "such",	   "follow",
    "act",	 "why",	       "ask",	     "men",	    "change",	   "went",
    "light",	 "kind",       "off",	     "need",	    "house",	   "picture",
    "try",	 "us",	       "again",	     "animal",	    "point",	   "mother",
    "world",	 "near",       "build",	     "self",	    "earth",	   "father",
    "head",	 "stand",      "own",	     "page",	    "should",	   "country",
    "found",	 "answer",     "school",     "grow",	    "study",	   "still",
    "learn",	 "plant",      "cover",	     "food",	    "sun",	   "four",
    "between",	 "state",      "keep",	     "eye",	    "never",	   "last",
    "let",	 "thought",    "city",	     "tree",	    "cross",	   "farm",
    "hard",	 "start",      "might",	     "story",	    "saw",	   "far",
    "sea",	 "draw",       "left",	     "late",	    "run",	   "while",
    "press",	 "close",      "night",	     "real",	    "life",	   "few",
    "north",	 "memory",     "government", "information", "development", "understanding",
    "migration", "experience", "particular", "important",   "everything",  "nevertheless",
    "machine",	 "together",   "children",   "question",    "something",   "beautiful",
};
#define NVOCAB (sizeof(vocab) / sizeof(vocab[0]))

static void gen_text(uint8_t *p, size_t n, uint64_t *s)
{
	size_t i = 0;
	bool cap = true;
	while (i < n) {
		uint64_t r = rnd(s);
		unsigned idx = (unsigned)(((r & 0xff) * ((r >> 8) & 0xff)) >> 8) % NVOCAB;
		unsigned punct = (unsigned)(r >> 16) & 0xff;
		const char *w = vocab[idx];
		for (size_t k = 0; w[k] && i < n; k++, cap = false)
			p[i++] = (uint8_t)(cap ? w[k] - 32 : w[k]);
		if (i < n && punct < 20)
			p[i++] = ',';
		else if (i < n && punct < 36) {
			p[i++] = '.';
			cap = true;
		}
		if (i < n)
			p[i++] = (punct >= 20 && punct < 24) ? '\n' : ' ';
	}
}

/* x86-64 code and data shapes: bytes (little-endian), random bits, length. */
static const struct {
	uint64_t bytes, rand;
	unsigned len;
} shapes[16] = {
    {0x0000000000c08948ull, 0x00000000003f0000ull, 3}, /* mov %r64,%r64 */
    {0x0000000000458b48ull, 0x00000000f8380000ull, 4}, /* mov -x(%rbp),%r64 */
    {0x000000ffff0000e8ull, 0x0000000000ffff00ull, 5}, /* call rel32 */
    {0x0000000000441f0full, 0, 5},		       /* nopl */
    {0x0000000000000050ull, 0x0000000000000007ull, 1}, /* push */
    {0x0000000000ec8348ull, 0x0000000078000000ull, 4}, /* sub $x,%rsp */
    {0x000000000074c085ull, 0x000000003f000000ull, 4}, /* test; je */
    {0x00000000003d8d48ull, 0x00000fffff000000ull, 7}, /* lea rel32(%rip) */
    {0x00000000ccccccc3ull, 0, 4},		       /* ret; int3 */
    {0x0000000000c0c748ull, 0x00000000ff070000ull, 7}, /* mov $imm,%r64 */
    {0xffffffff81000000ull, 0x00000000003ffff8ull, 8}, /* kernel text pointer */
    {0xffff888000000000ull, 0x00000000fffff000ull, 8}, /* direct-map pointer */
    {0x0000000000000000ull, 0x00000000000000ffull, 4}, /* small int32 */
    {0x0000000000000000ull, 0x00000000000003ffull, 8}, /* small int64 */
    {0, 0, 8},					       /* zero */
    {0x0000000000000001ull, 0, 4},		       /* flag */
};

static void gen_binary(uint8_t *p, size_t n, uint64_t *s)
{
	size_t i = 0;
	while (i < n) {
		uint64_t r = rnd(s);
		unsigned k = (unsigned)(r >> 60);
		uint64_t v = shapes[k].bytes ^ (r & shapes[k].rand);
		for (unsigned b = 0; b < shapes[k].len && i < n; b++)
			p[i++] = (uint8_t)(v >> (8 * b));
	}
}

static void gen_page(enum kind k, uint8_t *p, uint64_t seed)
{
	uint64_t s = mix64(seed);
	switch (k) {
	case K_ZERO: memset(p, 0, PAGE); break;
	case K_TEXT: gen_text(p, PAGE, &s); break;
	case K_BINARY: gen_binary(p, PAGE, &s); break;
	case K_RANDOM:
		for (unsigned i = 0; i < PAGE; i += 8) {
			uint64_t v = rnd(&s);
			memcpy(p + i, &v, 8);
		}
		break;
	default: {
		/* 30% zero, 35% text, 25% binary, 10% random, like guestload. */
		unsigned h = (unsigned)(rnd(&s) % 100);
		gen_page(h < 30	  ? K_ZERO
			 : h < 65 ? K_TEXT
			 : h < 90 ? K_BINARY
				  : K_RANDOM,
			 p, seed ^ 0xabcdef);
		break;
	}
	}
}

/* ---- timing ---- */

static double cpu_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

struct result {
	double comp_mbs, decomp_mbs, ratio;
	bool ok;
};

/*
 * Compresses the pool unit by unit (unit = 1 page or a 64-page batch),
 * first once to get the ratio and the compressed units, then again until
 * min_s of CPU time has passed; then decompresses likewise, checking the
 * first pass against the original.
 */
static struct result run(struct codec_ctx *ctx, enum codec_id id, int level, const uint8_t *pool,
			 size_t pool_len, size_t unit, double min_s, uint8_t *cbuf, size_t *clens,
			 uint8_t *out)
{
	struct result r = {0};
	size_t units = pool_len / unit, cap = codec_bound(id, unit), total_c = 0;
	double t0, t, bytes = 0;

	t0 = cpu_now();
	for (size_t u = 0; u < units; u++) {
		if (codec_compress(ctx, id, level, pool + u * unit, unit, cbuf + u * cap, cap,
				   &clens[u]) != 0)
			return r;
		total_c += clens[u];
	}
	bytes = (double)pool_len;
	for (size_t u = 0; (t = cpu_now() - t0) < min_s; u = (u + 1) % units) {
		size_t n;
		codec_compress(ctx, id, level, pool + u * unit, unit, out, cap, &n);
		bytes += (double)unit;
	}
	r.comp_mbs = bytes / t / 1e6;
	r.ratio = (double)pool_len / (double)total_c;

	t0 = cpu_now();
	for (size_t u = 0; u < units; u++) {
		if (codec_decompress(ctx, id, cbuf + u * cap, clens[u], out, unit, unit) != 0 ||
		    memcmp(out, pool + u * unit, unit) != 0)
			return r;
	}
	bytes = (double)pool_len;
	for (size_t u = 0; (t = cpu_now() - t0) < min_s; u = (u + 1) % units) {
		codec_decompress(ctx, id, cbuf + u * cap, clens[u], out, unit, unit);
		bytes += (double)unit;
	}
	r.decomp_mbs = bytes / t / 1e6;
	r.ok = true;
	return r;
}

/* ---- content from files ---- */

#define MAX_DATA 8

struct dataset {
	char name[40];
	uint8_t *pool;
	size_t len; /* a multiple of BATCH pages */
};

/* The file's non-zero pages, evenly spread, at most max_bytes, in whole
 * batches (cycled when the file has fewer than one batch). */
static int load_file_pool(const char *path, size_t max_bytes, struct dataset *d)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "codec_bench: cannot open '%s': %s\n", path, strerror(errno));
		return -1;
	}
	size_t cap = 1 << 20, len = 0;
	uint8_t *buf = malloc(cap);
	for (size_t n; buf && (n = fread(buf + len, 1, cap - len, f)) > 0;) {
		len += n;
		if (len == cap) {
			uint8_t *nb = realloc(buf, cap *= 2);
			if (!nb)
				free(buf);
			buf = nb;
		}
	}
	fclose(f);
	if (!buf) {
		fprintf(stderr, "codec_bench: out of memory reading '%s'\n", path);
		return -1;
	}
	size_t pages = (len + PAGE - 1) / PAGE, nonzero = 0;
	memset(buf + len, 0, pages * PAGE - len); /* cap > len: room for the tail */
	for (size_t p = 0; p < pages; p++)
		if (!page_is_zero(buf + p * PAGE))
			memmove(buf + nonzero++ * PAGE, buf + p * PAGE, PAGE);
	if (!nonzero) {
		fprintf(stderr, "codec_bench: '%s' has no non-zero page\n", path);
		free(buf);
		return -1;
	}
	size_t want = nonzero < max_bytes / PAGE ? nonzero : max_bytes / PAGE;
	want = want < BATCH ? BATCH : want / BATCH * BATCH;
	d->pool = malloc(want * PAGE);
	if (!d->pool) {
		free(buf);
		return -1;
	}
	for (size_t i = 0; i < want; i++) {
		size_t src = nonzero >= want ? i * (nonzero / want) : i % nonzero;
		memcpy(d->pool + i * PAGE, buf + src * PAGE, PAGE);
	}
	d->len = want * PAGE;
	const char *base = strrchr(path, '/');
	snprintf(d->name, sizeof(d->name), "%s", base ? base + 1 : path);
	char *dot = strchr(d->name, '.');
	if (dot && dot != d->name)
		*dot = 0; /* "typical.img" -> "typical" */
	printf("%s: %zu pages, %.1f %% zero (not in the pool); pool: %zu of its %zu non-zero pages\n",
	       d->name, pages, 100.0 * (double)(pages - nonzero) / (double)pages, want, nonzero);
	free(buf);
	return 0;
}

/* ---- zero-page scan ---- */

static void zero_scan(size_t bytes, double min_s)
{
	uint8_t *buf = malloc(bytes);
	size_t pages = bytes / PAGE, found = 0;
	double t0, t, scanned = 0;
	if (!buf) {
		printf("  (no memory for %zu MiB)\n", bytes >> 20);
		return;
	}
	/* Real, distinct pages: never-written memory (or pages the host merged)
	 * would all be one cached zero page and flatter the figure. */
	memset(buf, 0xff, bytes);
	memset(buf, 0, bytes);

	/* All zero: every byte must be read. */
	t0 = cpu_now();
	do {
		for (size_t p = 0; p < pages; p++)
			found += page_is_zero(buf + p * PAGE);
		scanned += (double)bytes;
	} while ((t = cpu_now() - t0) < min_s);
	printf("  %-15s %7zu KiB working set: %7.2f GB/s\n", "zero pages,", bytes >> 10,
	       scanned / t / 1e9);

	/* Non-zero in the last byte: the worst non-zero case. */
	for (size_t p = 0; p < pages; p++)
		buf[p * PAGE + PAGE - 1] = 1;
	scanned = 0;
	t0 = cpu_now();
	do {
		for (size_t p = 0; p < pages; p++)
			found += page_is_zero(buf + p * PAGE);
		scanned += (double)bytes;
	} while ((t = cpu_now() - t0) < min_s);
	printf("  %-15s %7zu KiB working set: %7.2f GB/s\n", "last byte set,", bytes >> 10,
	       scanned / t / 1e9);

	/* Non-zero in the first word: the early out. */
	for (size_t p = 0; p < pages; p++)
		buf[p * PAGE] = 1;
	scanned = 0;
	t0 = cpu_now();
	do {
		for (size_t p = 0; p < pages; p++)
			found += page_is_zero(buf + p * PAGE);
		scanned += (double)pages;
	} while ((t = cpu_now() - t0) < min_s);
	printf("  %-15s %7zu KiB working set: %7.1f Mpages/s (early out)\n", "first byte set,",
	       bytes >> 10, scanned / t / 1e6);
	if (found == (size_t)-1)
		printf("impossible\n"); /* keeps the calls from being optimised out */
	free(buf);
}

/* ---- main ---- */

static void cpu_model(char *out, size_t len)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[256];
	snprintf(out, len, "unknown CPU");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *c = strchr(line, ':');
		if (strncmp(line, "model name", 10) == 0 && c) {
			snprintf(out, len, "%s", c + 2);
			out[strcspn(out, "\n")] = 0;
			break;
		}
	}
	fclose(f);
}

static void usage(void)
{
	fprintf(stderr, "usage: codec_bench [--quick] [--codec none|lz4|zstd|deflate] [--ms N]\n"
			"                   [--file PATH]... (at most %d) [--pool-mib N]\n", MAX_DATA);
}

/* What the command line asks. */
struct bench_opts {
	bool quick;
	int only;     /* the one codec to measure, -1: all */
	double min_s; /* CPU seconds per figure at least */
	const char *files[MAX_DATA];
	unsigned nfiles;
	size_t file_pool_max;
};

/* The command line into o: 0, or 2 (the exit status) after the usage text. */
static int parse_args(int argc, char **argv, struct bench_opts *o)
{
	*o = (struct bench_opts){.only = -1, .min_s = -1, .file_pool_max = 16u << 20};
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0) {
			o->quick = true;
		} else if (strcmp(argv[i], "--codec") == 0 && i + 1 < argc) {
			enum codec_id id;
			if (codec_parse(argv[++i], &id) != 0) {
				usage();
				return 2;
			}
			o->only = (int)id;
		} else if (strcmp(argv[i], "--ms") == 0 && i + 1 < argc) {
			o->min_s = atof(argv[++i]) / 1000.0;
		} else if (strcmp(argv[i], "--file") == 0 && i + 1 < argc && o->nfiles < MAX_DATA) {
			o->files[o->nfiles++] = argv[++i];
		} else if (strcmp(argv[i], "--pool-mib") == 0 && i + 1 < argc &&
			   atoi(argv[i + 1]) > 0) {
			o->file_pool_max = (size_t)atoi(argv[++i]) << 20;
		} else {
			usage();
			return 2;
		}
	}
	if (o->min_s <= 0)
		o->min_s = o->quick ? 0.004 : 0.03;
	return 0;
}

/* The codec context and the buffers every run shares. */
struct bench_bufs {
	struct codec_ctx *ctx;
	uint8_t *cbuf; /* each unit's compressed output */
	size_t *clens; /* and its length */
	uint8_t *out;  /* one unit, decompressed */
};

/* Room for pool_len bytes compressed page by page or batch by batch, in any codec. */
static int alloc_bufs(size_t pool_len, struct bench_bufs *b)
{
	b->ctx = codec_ctx_new();
	size_t max_cap = codec_bound(CODEC_LZ4, BATCH * PAGE);
	for (unsigned i = 0; i < CODEC_COUNT; i++)
		if (codec_bound((enum codec_id)i, BATCH * PAGE) > max_cap)
			max_cap = codec_bound((enum codec_id)i, BATCH * PAGE);
	b->cbuf = malloc(pool_len / PAGE * (codec_bound(CODEC_ZSTD, PAGE) + 64) + 4 * max_cap);
	b->clens = malloc(pool_len / PAGE * sizeof(size_t));
	b->out = malloc(max_cap);
	if (!b->ctx || !b->cbuf || !b->clens || !b->out) {
		fprintf(stderr, "codec_bench: out of memory\n");
		return -1;
	}
	return 0;
}

/* One pool of pool_len bytes per kind of generated page. */
static int generate_data(struct dataset *data, size_t pool_len)
{
	for (unsigned k = 0; k < K_COUNT; k++) {
		snprintf(data[k].name, sizeof(data[k].name), "%s", kind_name[k]);
		data[k].len = pool_len;
		data[k].pool = malloc(pool_len);
		if (!data[k].pool) {
			fprintf(stderr, "codec_bench: out of memory\n");
			return -1;
		}
		for (size_t p = 0; p < pool_len / PAGE; p++)
			gen_page((enum kind)k, data[k].pool + p * PAGE, k * 1000003ull + p);
	}
	return 0;
}

static void print_header(const struct bench_opts *o, size_t pool_len)
{
	char cpu[128];
	cpu_model(cpu, sizeof(cpu));
	printf("codec_bench: %s; lz4 %s, zstd %s, ISA-L igzip (deflate)\n", cpu,
	       LZ4_versionString(), ZSTD_versionString());
	printf("one thread; MB/s = 10^6 uncompressed bytes per CPU-second; ratio = in/out;\n"
	       "pool %zu KiB per data kind, at least %.0f ms per figure%s\n\n",
	       pool_len >> 10, o->min_s * 1000, o->quick ? " (--quick: some levels only)" : "");
	printf("%-8s %3s %-8s|  4 KiB pages: comp   decomp  ratio |  64-page batch: comp   decomp  "
	       "ratio\n",
	       "codec", "lvl", "data");
	printf("---------------------+-----------------------------------+--------------------------"
	       "------------\n");
}

/* Levels shown: all of them, or a few in --quick. */
static bool level_shown(const struct bench_opts *o, enum codec_id id, int lv)
{
	static const int quick_levels[CODEC_COUNT][5] = {
	    [CODEC_NONE] = {0, -1},
	    [CODEC_LZ4] = {1, 3, 9, -1},
	    [CODEC_ZSTD] = {1, 3, 9, -1},
	    [CODEC_DEFLATE] = {0, 1, 2, 3, -1},
	};
	bool shown = false;

	if (!o->quick)
		return true;
	for (unsigned q = 0; quick_levels[id][q] >= 0; q++)
		shown |= quick_levels[id][q] == lv;
	return shown;
}

/* One codec's rows: each level shown, each data set, pages and batches.
 * Returns the number of failed round trips. */
static int measure_codec(const struct bench_opts *o, struct bench_bufs *b, enum codec_id id,
			 const struct dataset *data, unsigned ndata)
{
	int mn, mx, failures = 0;

	codec_levels(id, &mn, &mx, NULL);
	for (int lv = mn; lv <= mx; lv++) {
		if (!level_shown(o, id, lv))
			continue;
		for (unsigned k = 0; k < ndata; k++) {
			struct result pg = run(b->ctx, id, lv, data[k].pool, data[k].len, PAGE,
					       o->min_s, b->cbuf, b->clens, b->out);
			struct result ba = run(b->ctx, id, lv, data[k].pool, data[k].len,
					       BATCH * PAGE, o->min_s, b->cbuf, b->clens, b->out);
			if (!pg.ok || !ba.ok) {
				printf("%-8s %3d %-8s| FAILED (round trip)\n", codec_name(id), lv,
				       data[k].name);
				failures++;
				continue;
			}
			printf("%-8s %3d %-8s| %13.0f %8.0f %6.2f | %17.0f %8.0f %6.2f\n",
			       k == 0 ? codec_name(id) : "", lv, data[k].name, pg.comp_mbs,
			       pg.decomp_mbs, pg.ratio, ba.comp_mbs, ba.decomp_mbs, ba.ratio);
			fflush(stdout);
		}
	}
	return failures;
}

int main(int argc, char **argv)
{
	struct bench_opts o;
	struct bench_bufs b;
	struct dataset data[MAX_DATA];
	int failures = 0;

	if (parse_args(argc, argv, &o))
		return 2;
	/* The pool: 2 batches (quick) or 4 batches of pages per data kind. */
	size_t pool_len = (o.quick ? 2 : 4) * (size_t)BATCH * PAGE;
	unsigned ndata = o.nfiles ? o.nfiles : K_COUNT;
	for (unsigned k = 0; k < o.nfiles; k++) {
		if (load_file_pool(o.files[k], o.file_pool_max, &data[k]))
			return 1;
		if (data[k].len > pool_len)
			pool_len = data[k].len;
	}
	if (alloc_bufs(pool_len, &b) || (!o.nfiles && generate_data(data, pool_len)))
		return 1;

	print_header(&o, pool_len);
	for (unsigned i = 0; i < CODEC_COUNT; i++)
		if (o.only < 0 || (int)i == o.only)
			failures += measure_codec(&o, &b, (enum codec_id)i, data, ndata);

	if (!o.nfiles) {
		printf("\nzero-page scan (page_is_zero, one thread):\n");
		zero_scan(1 << 20, o.min_s * 4);
		zero_scan((o.quick ? 64u : 256u) << 20, o.min_s * 8);
	}

	for (unsigned k = 0; k < ndata; k++)
		free(data[k].pool);
	free(b.cbuf);
	free(b.clens);
	free(b.out);
	codec_ctx_free(b.ctx);
	return failures ? 1 : 0;
}
