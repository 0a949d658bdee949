/* SPDX-License-Identifier: MIT */
/*
 * A loopback migration of the engine's TEST DOUBLE guest (16 MiB, a writer
 * thread dirtying it) between two threads of this process, for comparing
 * codecs and QATzip set-ups without KVM: mixed memory (runs of zero, text
 * and random pages, a third each) or text-like memory (a fifth zero), codec
 * qat or deflate.
 * Prints one line of figures: status, time, compression ratio, pages sent
 * raw, passes, both sides' accelerators and CPU seconds, and how many
 * lines were written to stderr during the migration (QATzip's own too).
 *
 * usage: qat_loopback --codec qat|deflate --fill mixed|text [--qatzip LIB]
 *                     [--qat-fallback none|qatzip|cpu] [--dest-accel qat|cpu]
 *                     [--channels N] [--qatzip-log LEVEL]
 * Exit status: 0 migrated with identical memory, 1 not, 2 bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../unit/fake_guest.h"

struct opts {
	const char *codec, *fill, *qatzip, *fallback, *dest_accel, *qatzip_log;
	unsigned channels;
};

static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* A page of English-like text: words from a small vocabulary and numbers. */
static void text_page(uint8_t *p, uint64_t *s)
{
	static const char *const words[] = {"migration", "page",   "dirty", "memory", "the",
					    "guest",     "kernel", "of",    "and",    "buffer",
					    "socket",    "device", "log",   "error",  "to"};
	size_t off = 0;
	while (off < 4096) {
		char w[32];
		uint64_t r = next_rand(s);
		int n = r % 7 == 0 ? snprintf(w, sizeof(w), "%u ", (unsigned)(r >> 20) % 100000)
				   : snprintf(w, sizeof(w), "%s ", words[(r >> 8) % 15]);
		for (int i = 0; i < n && off < 4096; i++)
			p[off++] = (uint8_t)w[i];
	}
}

static void fill_memory(struct fake_guest *g, const char *fill)
{
	uint64_t s = 0x9E3779B97F4A7C15ull;
	bool mixed = strcmp(fill, "mixed") == 0;
	for (uint64_t pg = 0; pg < g->pages; pg++) {
		uint8_t *p = g->mem + pg * 4096;
		/* mixed: runs of 512 pages of each kind, so whole batches are random */
		unsigned kind = mixed ? (unsigned)((pg / 512) % 3) : (pg % 5 == 0 ? 0 : 1);
		if (kind == 0)
			memset(p, 0, 4096);
		else if (kind == 1)
			text_page(p, &s);
		else
			for (unsigned i = 0; i < 4096; i += 8) {
				uint64_t v = next_rand(&s);
				memcpy(p + i, &v, 8);
			}
	}
}

static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{"codec", required_argument, NULL, 'z'},	{"fill", required_argument, NULL, 'f'},
		{"qatzip", required_argument, NULL, 'Q'},	{"qat-fallback", required_argument, NULL, 'F'},
		{"dest-accel", required_argument, NULL, 'D'}, {"channels", required_argument, NULL, 'n'},
		{"qatzip-log", required_argument, NULL, 'L'}, {NULL, 0, NULL, 0},
	};
	int c;
	*o = (struct opts){.codec = "deflate", .fill = "mixed", .fallback = "qatzip", .channels = 2};
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'z': o->codec = optarg; break;
		case 'f': o->fill = optarg; break;
		case 'Q': o->qatzip = optarg; break;
		case 'F': o->fallback = optarg; break;
		case 'D': o->dest_accel = optarg; break;
		case 'L': o->qatzip_log = optarg; break;
		case 'n': o->channels = (unsigned)atoi(optarg); break;
		default: return -1;
		}
	}
	if (optind != argc || (strcmp(o->fill, "mixed") && strcmp(o->fill, "text")) ||
	    o->channels > VMIG_MAX_DATA_CHANNELS)
		return -1;
	return 0;
}

/* Lines in the file behind fd, which is then closed. */
static unsigned count_lines(int fd)
{
	char buf[8192];
	ssize_t n;
	unsigned lines = 0;
	lseek(fd, 0, SEEK_SET);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < n; i++)
			lines += buf[i] == '\n';
	close(fd);
	return lines;
}

int main(int argc, char **argv)
{
	struct opts o;
	if (parse(argc, argv, &o)) {
		fprintf(stderr, "usage: qat_loopback --codec qat|deflate --fill mixed|text "
				"[--qatzip LIB] [--qat-fallback none|qatzip|cpu] "
				"[--dest-accel qat|cpu] [--channels N] [--qatzip-log LEVEL]\n");
		return 2;
	}
	struct fake_guest src, dst;
	fg_init(&src, true);
	fg_init(&dst, false);
	fill_memory(&src, o.fill);

	/* Everything written to stderr from here on is counted (QATzip's lines too). */
	char tmpl[] = "/tmp/qat-loopback-XXXXXX";
	int logfd = mkstemp(tmpl);
	if (logfd < 0) {
		perror("qat_loopback: mkstemp");
		return 1;
	}
	unlink(tmpl);
	fflush(stderr);
	int real_stderr = dup(2);
	dup2(logfd, 2);

	struct dest_run d = {.g = &dst, .accel = o.dest_accel, .qatzip_library = o.qatzip,
			     .qat_fallback = o.fallback, .qatzip_log = o.qatzip_log};
	char uri[64], err[512] = "";
	struct vmig_migrate_params p = {.size = sizeof(p), .downtime_limit_ms = 50,
					.channels = o.channels, .codec = o.codec,
					.compress_threads = 2, .qatzip_library = o.qatzip,
					.qat_fallback = o.fallback, .qatzip_log = o.qatzip_log};
	struct vmig_migrate_stats st = VMIG_MIGRATE_STATS_INIT;
	struct vmig_migration *m = NULL;
	int r = listen_any(&d.lfd, uri, sizeof(uri));
	uint64_t t0 = mono_ms();
	if (!r) {
		dest_start(&d);
		fg_start_writer(&src);
		struct vmig_guest g = {&fg_ops, &src};
		p.uri = uri;
		r = vmig_migration_start(&g, &p, &m, err, sizeof(err));
		if (!r) {
			wait_final(m, &st);
			vmig_migration_free(m);
		} else {
			close(d.lfd);
		}
		fg_stop_writer(&src);
		dest_join(&d);
	}
	uint64_t ms = mono_ms() - t0;
	fflush(stderr);
	dup2(real_stderr, 2);
	close(real_stderr);
	unsigned lines = count_lines(logfd);

	bool same = memcmp(src.mem, dst.mem, src.pages * 4096) == 0;
	bool ok = !r && st.status == VMIG_MIG_COMPLETED && d.result == 0 && same;
	double ratio = st.bytes_after_compression
			       ? (double)st.bytes_before_compression / (double)st.bytes_after_compression
			       : 0;
	printf("codec=%s fill=%s status=%s time_ms=%llu ratio=%.2f pages_normal=%llu "
	       "pages_compressed=%llu pages_raw=%llu passes=%llu src_compress_cpu_s=%.3f "
	       "dst_decompress_cpu_s=%.3f stderr_lines=%u memory=%s\n",
	       o.codec, o.fill, ok ? "completed" : "FAILED", (unsigned long long)ms, ratio,
	       (unsigned long long)st.pages_normal, (unsigned long long)st.pages_compressed,
	       (unsigned long long)(st.pages_normal - st.pages_compressed),
	       (unsigned long long)st.iterations, st.compress_cpu_s,
	       (double)d.st.decompress_ns / 1e9, lines, same ? "identical" : "DIFFERENT");
	printf("  source accelerator: %s\n  destination: %s\n", st.accel[0] ? st.accel : "-",
	       d.st.accel[0] ? d.st.accel : "channel threads");
	if (!ok)
		printf("  error: %s%s%s\n", err, st.error[0] ? st.error : "", d.err);
	fg_free(&src);
	fg_free(&dst);
	return ok ? 0 : 1;
}
