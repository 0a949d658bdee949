/* SPDX-License-Identifier: MIT */
/* One migration of a still guest over loopback TCP inside one process (loopback.h). */
#include "loopback.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Ports tried for the destination's listener before giving up. */
#define LISTEN_TRIES 100

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
	memset(bitmap, 0, vmig_bitmap_words(g->bytes / VMIG_PAGE_SIZE) * 8);
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
	const struct loopback_cfg *cfg;
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
	ip.tls_creds_dir = d->cfg->creds;
	ip.tls_psk_file = d->cfg->psk;
	ip.accel = d->cfg->dest_accel;
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

double loopback_cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

/* A listener on a free loopback port: its uri and fd, or -1 after saying why. */
static int listen_loopback(const char *who, char *uri, size_t urilen, int *lfd)
{
	static int port = 0;
	char err[VMIG_MAX_ERROR];
	if (!port)
		port = 30000 + getpid() % 20000;
	for (int tries = 0; tries < LISTEN_TRIES; tries++) {
		snprintf(uri, urilen, "tcp:127.0.0.1:%d", port++);
		if (vmig_incoming_listen(uri, lfd, err, sizeof(err)) == 0)
			return 0;
	}
	fprintf(stderr, "%s: %s\n", who, err);
	return -1;
}

static void source_params(const struct loopback_cfg *c, const char *uri,
			  struct vmig_migrate_params *p)
{
	p->uri = uri;
	p->channels = c->channels;
	p->codec = c->codec && strcmp(c->codec, "none") ? c->codec : NULL;
	p->level = c->level;
	p->compress_threads = c->compress_threads;
	p->max_bandwidth = c->max_bandwidth;
	p->tls_creds_dir = c->creds;
	p->tls_psk_file = c->psk;
	p->tls_hostname = c->creds ? "localhost" : NULL;
}

int loopback_run(const char *who, const struct still_guest *src, const struct loopback_cfg *c,
		 struct loopback_result *out)
{
	char uri[64], err[VMIG_MAX_ERROR] = "";
	struct dest d = {.cfg = c};
	if (listen_loopback(who, uri, sizeof(uri), &d.lfd))
		return -1;
	d.g.bytes = src->bytes;
	d.g.ram = calloc(1, src->bytes);
	if (!d.g.ram) {
		fprintf(stderr, "%s: no memory for the destination guest\n", who);
		close(d.lfd);
		return -1;
	}
	pthread_t t;
	pthread_create(&t, NULL, dest_thread, &d);
	struct vmig_guest g = {&sg_ops, (void *)src};
	struct vmig_migrate_params p = VMIG_MIGRATE_PARAMS_INIT;
	source_params(c, uri, &p);
	struct vmig_migration *m;
	struct vmig_migrate_stats *st = &out->stats;
	*st = (struct vmig_migrate_stats)VMIG_MIGRATE_STATS_INIT;
	double cpu0 = loopback_cpu_s();
	int r = vmig_migration_start(&g, &p, &m, err, sizeof(err));
	if (!r) {
		do {
			usleep(5000);
			vmig_migration_query(m, st);
		} while (st->status == VMIG_MIG_SETUP || st->status == VMIG_MIG_ACTIVE ||
			 st->status == VMIG_MIG_DEVICE);
		vmig_migration_free(m);
	}
	pthread_join(t, NULL);
	out->cpu_s = loopback_cpu_s() - cpu0;
	out->ms = (double)st->total_ms;
	int ok = !r && st->status == VMIG_MIG_COMPLETED && st->verified && !d.result &&
		 !memcmp(src->ram, d.g.ram, src->bytes);
	if (!ok)
		fprintf(stderr, "%s: run failed: %s / %s / %s\n", who, r ? err : st->error,
			vmig_mig_status_name(st->status), d.err);
	free(d.g.ram);
	return ok ? 0 : -1;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

double loopback_median(const double *v, unsigned n)
{
	double *s = malloc(n * sizeof(*s));
	if (!s)
		return v[0];
	memcpy(s, v, n * sizeof(*v));
	qsort(s, n, sizeof(*s), cmp_double);
	double m = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	free(s);
	return m;
}
