/* SPDX-License-Identifier: MIT */
/*
 * tls_cost: what TLS costs a migration on loopback. One process holds both
 * ends: a still guest of SIZE MiB (every page non-zero, a third of each
 * random so it neither compresses to nothing nor is skipped as zero)
 * migrates to a second guest over TCP on 127.0.0.1, plaintext and with
 * TLS alternately, RUNS times each, unlimited bandwidth or capped at MBPS
 * (10^6 bytes/s: 125 is 1 Gbit/s).
 *
 *   tls_cost CREDS_DIR|PSK_FILE [SIZE_MIB=256] [RUNS=3] [CHANNELS=0] [CODEC=none] [MBPS=0]
 *
 * Prints each run (wall ms from start to handover, CPU seconds of the
 * whole process, i.e. source and destination together) and the medians.
 * Every run must complete with the RAM digest verified, or it exits 1.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vmig/migration.h"

#define MAX_RUNS 15

/* A guest that never writes: one region, no dirty pages after pass 1. */
struct still_guest {
	uint8_t *ram;
	uint64_t bytes;
};

static unsigned sg_regions(void *o, struct vmig_ram_region *out, unsigned max)
{
	struct still_guest *g = o;
	out[0] = (struct vmig_ram_region){0, g->bytes, g->ram};
	return 1;
}

static int sg_dirty_start(void *o, char *err, size_t errlen) { return 0; }
static void sg_dirty_stop(void *o) {}
static int sg_harvest(void *o, unsigned region, uint64_t *bitmap, char *err, size_t errlen)
{
	struct still_guest *g = o;
	memset(bitmap, 0, (g->bytes / VMIG_PAGE_SIZE + 63) / 64 * 8);
	return 0;
}
static int sg_clear(void *o, unsigned region, uint64_t first, uint64_t n, const uint64_t *bits,
		    char *err, size_t errlen)
{
	return 0;
}
static int sg_pause(void *o) { return 0; }
static int sg_resume(void *o) { return 0; }
static int sg_save(void *o, uint8_t **blob, size_t *len, char *err, size_t errlen)
{
	*blob = (uint8_t *)strdup("still");
	*len = 6;
	return *blob ? 0 : -ENOMEM;
}
static int sg_load(void *o, const uint8_t *blob, size_t len, char *err, size_t errlen) { return 0; }

static const struct vmig_guest_ops sg_ops = {
	.ram_regions = sg_regions, .dirty_start = sg_dirty_start, .dirty_stop = sg_dirty_stop,
	.dirty_harvest = sg_harvest, .dirty_clear = sg_clear, .pause = sg_pause,
	.resume = sg_resume, .save_state = sg_save, .load_state = sg_load,
};

struct dest {
	struct still_guest g;
	int lfd;
	const char *creds, *psk;
	int result;
	char err[VMIG_MAX_ERROR];
};

static void *dest_thread(void *arg)
{
	struct dest *d = arg;
	struct vmig_incoming_params ip = VMIG_INCOMING_PARAMS_INIT;
	struct vmig_incoming *in;
	struct vmig_incoming_config cfg;
	struct vmig_incoming_stats st;
	ip.listen_fd = d->lfd;
	ip.accept_timeout_ms = 10000;
	ip.tls_creds_dir = d->creds;
	ip.tls_psk_file = d->psk;
	d->result = vmig_incoming_create(&ip, &in, d->err, sizeof(d->err));
	if (d->result)
		return NULL;
	d->result = vmig_incoming_accept(in, &cfg, d->err, sizeof(d->err));
	struct vmig_guest g = {&sg_ops, &d->g};
	if (!d->result)
		d->result = vmig_incoming_run(in, &g, &st, d->err, sizeof(d->err));
	if (!d->result && !st.verified)
		d->result = -EBADMSG;
	vmig_incoming_free(in);
	return NULL;
}

static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

struct run_cfg {
	const char *creds, *psk; /* both NULL: plaintext */
	unsigned channels;
	const char *codec;
	uint64_t max_bandwidth;  /* bytes/s, 0: unlimited */
};

/* One migration; its wall ms and CPU s, or -1 after saying why. */
static int one_run(struct still_guest *src, uint64_t bytes, const struct run_cfg *c, double *ms,
		   double *cpu, char *tls, size_t tlslen)
{
	static int port = 0;
	char uri[64], err[VMIG_MAX_ERROR];
	struct dest d = {.creds = c->creds, .psk = c->psk};
	if (!port)
		port = 30000 + getpid() % 20000;
	for (int tries = 0;; tries++) {
		snprintf(uri, sizeof(uri), "tcp:127.0.0.1:%d", port++);
		if (vmig_incoming_listen(uri, &d.lfd, err, sizeof(err)) == 0)
			break;
		if (tries > 100) {
			fprintf(stderr, "tls_cost: %s\n", err);
			return -1;
		}
	}
	d.g.bytes = bytes;
	d.g.ram = calloc(1, bytes);
	pthread_t t;
	pthread_create(&t, NULL, dest_thread, &d);
	struct vmig_guest g = {&sg_ops, src};
	struct vmig_migrate_params p = VMIG_MIGRATE_PARAMS_INIT;
	p.uri = uri;
	p.channels = c->channels;
	p.codec = c->codec && strcmp(c->codec, "none") ? c->codec : NULL;
	p.max_bandwidth = c->max_bandwidth;
	p.tls_creds_dir = c->creds;
	p.tls_psk_file = c->psk;
	p.tls_hostname = c->creds ? "localhost" : NULL;
	struct vmig_migration *m;
	struct vmig_migrate_stats st = VMIG_MIGRATE_STATS_INIT;
	double cpu0 = cpu_s();
	int r = vmig_migration_start(&g, &p, &m, err, sizeof(err));
	if (!r) {
		do {
			usleep(5000);
			vmig_migration_query(m, &st);
		} while (st.status == VMIG_MIG_SETUP || st.status == VMIG_MIG_ACTIVE ||
			 st.status == VMIG_MIG_DEVICE);
		vmig_migration_free(m);
	}
	pthread_join(t, NULL);
	*cpu = cpu_s() - cpu0;
	*ms = (double)st.total_ms;
	snprintf(tls, tlslen, "%s", st.tls[0] ? st.tls : "plaintext");
	int ok = !r && st.status == VMIG_MIG_COMPLETED && st.verified && !d.result &&
		 !memcmp(src->ram, d.g.ram, bytes);
	if (!ok)
		fprintf(stderr, "tls_cost: run failed: %s / %s / %s\n", r ? err : st.error,
			vmig_mig_status_name(st.status), d.err);
	free(d.g.ram);
	return ok ? 0 : -1;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(const double *v, unsigned n)
{
	double s[MAX_RUNS];
	memcpy(s, v, n * sizeof(*v));
	qsort(s, n, sizeof(*s), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: tls_cost CREDS_DIR|PSK_FILE [SIZE_MIB] [RUNS] [CHANNELS] [CODEC] "
				"[MBPS]\n");
		return 2;
	}
	struct stat sb;
	if (stat(argv[1], &sb)) {
		fprintf(stderr, "tls_cost: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	uint64_t mib = argc > 2 ? strtoull(argv[2], NULL, 10) : 256;
	unsigned runs = argc > 3 ? (unsigned)atoi(argv[3]) : 3;
	struct run_cfg tls = {.channels = argc > 4 ? (unsigned)atoi(argv[4]) : 0,
			      .codec = argc > 5 ? argv[5] : NULL,
			      .max_bandwidth = argc > 6 ? strtoull(argv[6], NULL, 10) * 1000000ull : 0};
	struct run_cfg plain = tls;
	if (S_ISDIR(sb.st_mode))
		tls.creds = argv[1];
	else
		tls.psk = argv[1];
	if (!mib || mib > 65536 || !runs || runs > MAX_RUNS) {
		fprintf(stderr, "tls_cost: SIZE_MIB 1..65536, RUNS 1..%d\n", MAX_RUNS);
		return 2;
	}
	struct still_guest src = {.bytes = mib << 20, .ram = malloc(mib << 20)};
	unsigned seed = 1;
	for (uint64_t i = 0; i < src.bytes; i++)
		src.ram[i] = i % 4096 < 1365 ? (uint8_t)(seed = seed * 1103515245u + 12345u) >> 3
					     : (uint8_t)(i / 4096 + 1);
	double ms[2][MAX_RUNS], cpu[2][MAX_RUNS];
	char desc[2][96];
	for (unsigned i = 0; i < runs; i++)
		for (int t = 0; t < 2; t++) {
			if (one_run(&src, src.bytes, t ? &tls : &plain, &ms[t][i], &cpu[t][i], desc[t],
				    sizeof(desc[t])))
				return 1;
			printf("run %u %-9s %7.0f ms %6.2f CPU s  (%s)\n", i + 1, t ? "tls" : "plaintext",
			       ms[t][i], cpu[t][i], desc[t]);
			fflush(stdout);
		}
	printf("median of %u, %llu MiB, %u data channels, codec %s, %s:\n", runs,
	       (unsigned long long)mib, tls.channels, tls.codec ? tls.codec : "none",
	       tls.max_bandwidth ? "capped" : "unlimited");
	for (int t = 0; t < 2; t++)
		printf("  %-9s %7.0f ms %6.2f CPU s  %7.1f MiB/s  (%s)\n", t ? "tls" : "plaintext",
		       median(ms[t], runs), median(cpu[t], runs),
		       (double)mib / (median(ms[t], runs) / 1000.0), desc[t]);
	free(src.ram);
	return 0;
}
