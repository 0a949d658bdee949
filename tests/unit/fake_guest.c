/* SPDX-License-Identifier: MIT */
/* TEST DOUBLE of the guest interface: see fake_guest.h. */
#include "fake_guest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>


static unsigned fg_regions(void *o, struct vmig_ram_region *out, unsigned max)
{
	struct fake_guest *g = o;
	uint64_t half = g->pages / 2 * 4096;
	out[0] = (struct vmig_ram_region){0, half, g->mem};
	out[1] = (struct vmig_ram_region){1ull << 32, half, g->mem + half};
	return 2;
}

static int fg_dirty_start(void *o, char *err, size_t errlen)
{
	struct fake_guest *g = o;
	pthread_mutex_lock(&g->lock);
	g->tracking = true;
	g->tracking_since_ms = mono_ms();
	memset(g->dirty, 0xff, g->pages / 8);
	pthread_mutex_unlock(&g->lock);
	return 0;
}

static void fg_dirty_stop(void *o)
{
	struct fake_guest *g = o;
	pthread_mutex_lock(&g->lock);
	g->tracking = false;
	pthread_mutex_unlock(&g->lock);
}

static int fg_harvest(void *o, unsigned region, uint64_t *bitmap, char *err, size_t errlen)
{
	struct fake_guest *g = o;
	uint64_t first = region * g->pages / 2;
	pthread_mutex_lock(&g->lock);
	for (uint64_t w = 0; w < g->pages / 2 / 64; w++) {
		bitmap[w] |= g->dirty[first / 64 + w];
		if (g->clear_on_harvest)
			g->dirty[first / 64 + w] = 0;
	}
	pthread_mutex_unlock(&g->lock);
	return 0;
}

static int fg_clear(void *o, unsigned region, uint64_t first, uint64_t n, const uint64_t *bits,
		    char *err, size_t errlen)
{
	struct fake_guest *g = o;
	uint64_t base = region * g->pages / 2 + first;
	pthread_mutex_lock(&g->lock);
	for (uint64_t i = 0; i < n; i++)
		if (bits[i / 64] & (1ull << (i % 64)))
			g->dirty[(base + i) / 64] &= ~(1ull << ((base + i) % 64));
	pthread_mutex_unlock(&g->lock);
	return 0;
}

static int fg_pause(void *o)
{
	struct fake_guest *g = o;
	pthread_mutex_lock(&g->lock);
	g->paused = true;
	pthread_mutex_unlock(&g->lock);
	return 0;
}

static int fg_resume(void *o)
{
	struct fake_guest *g = o;
	if (g->fail_resume)
		return -EIO;
	pthread_mutex_lock(&g->lock);
	g->paused = false;
	g->resumed = true;
	pthread_mutex_unlock(&g->lock);
	return 0;
}

static int fg_save(void *o, uint8_t **blob, size_t *len, char *err, size_t errlen)
{
	struct fake_guest *g = o;
	*blob = malloc(sizeof(g->state));
	memcpy(*blob, g->state, sizeof(g->state));
	*len = sizeof(g->state);
	return 0;
}

static int fg_load(void *o, const uint8_t *blob, size_t len, char *err, size_t errlen)
{
	struct fake_guest *g = o;
	if (len != sizeof(g->state)) {
		snprintf(err, errlen, "bad state");
		return -EINVAL;
	}
	memcpy(g->state, blob, len);
	return 0;
}

static int fg_throttle(void *o, unsigned pct)
{
	struct fake_guest *g = o;
	pthread_mutex_lock(&g->lock);
	g->throttle_pct = pct;
	g->throttle_calls++;
	pthread_mutex_unlock(&g->lock);
	return 0;
}

const struct vmig_guest_ops fg_ops = {
	.ram_regions = fg_regions,
	.dirty_start = fg_dirty_start,
	.dirty_stop = fg_dirty_stop,
	.dirty_harvest = fg_harvest,
	.dirty_clear = fg_clear,
	.pause = fg_pause,
	.resume = fg_resume,
	.save_state = fg_save,
	.load_state = fg_load,
	.throttle = fg_throttle,
};

/* A real vCPU writes guest RAM behind ThreadSanitizer's back (in KVM)
 * while the engine copies pages without stopping it: that race is by
 * design, a page written during its copy is dirty again and sent again.
 * The stand-in vCPU stores the same way, unseen by TSan, so that TSan
 * checks the engine's own synchronisation and not this intended race. */
__attribute__((no_sanitize_thread, noinline)) static void guest_store(uint8_t *at, uint64_t v)
{
	memcpy(at, &v, 8);
}

/* Writes random words into random pages while not paused, marking them
 * dirty under the lock as KVM would. */
static void *writer_thread(void *arg)
{
	struct fake_guest *g = arg;
	while (!__atomic_load_n(&g->stop, __ATOMIC_ACQUIRE)) {
		pthread_mutex_lock(&g->lock);
		bool quiet = g->write_ms && g->tracking && mono_ms() - g->tracking_since_ms > g->write_ms;
		if (!g->paused && !quiet) {
			for (int k = 0; k < 8; k++) {
				uint64_t p = (uint64_t)rand_r(&g->seed) % (g->hot ? g->hot : g->pages);
				uint64_t off = p * 4096 + ((uint64_t)rand_r(&g->seed) % 512) * 8;
				uint64_t v = ((uint64_t)rand_r(&g->seed) << 32) | (uint64_t)rand_r(&g->seed);
				if (g->whole_pages)
					for (unsigned w = 0; w < 512; w++)
						guest_store(g->mem + p * 4096 + w * 8, v * (w + 1));
				else
					guest_store(g->mem + off, v);
				if (g->tracking)
					g->dirty[p / 64] |= 1ull << (p % 64);
				g->writes++;
			}
		}
		/* 1 ms of "running", stretched as a throttled vCPU would be:
		 * at p %, it runs only (100 - p) % of the time */
		unsigned pct = g->throttle_pct;
		pthread_mutex_unlock(&g->lock);
		struct timespec ts = {0, 1000000L * 100 / (100 - (pct > 99 ? 99 : pct))};
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec = ts.tv_nsec / 1000000000L;
			ts.tv_nsec %= 1000000000L;
		}
		nanosleep(&ts, NULL);
	}
	return NULL;
}

void fg_init(struct fake_guest *g, bool fill)
{
	fg_init_pages(g, PAGES, fill);
}

void fg_init_pages(struct fake_guest *g, uint64_t pages, bool fill)
{
	memset(g, 0, sizeof(*g));
	g->pages = pages;
	g->mem = calloc(pages, 4096);
	g->dirty = calloc(pages / 64, 8);
	pthread_mutex_init(&g->lock, NULL);
	g->seed = 12345;
	if (fill) {
		for (uint64_t p = 0; p < pages; p++)
			if (p % 3) /* every third page stays zero */
				for (unsigned i = 0; i < 4096; i += 8) {
					uint64_t v = p * 1000003u + i;
					memcpy(g->mem + p * 4096 + i, &v, 8);
				}
		snprintf(g->state, sizeof(g->state), "cpu state of the test double");
	}
}

void fg_free(struct fake_guest *g)
{
	free(g->mem);
	free(g->dirty);
	pthread_mutex_destroy(&g->lock);
}

void fg_start_writer(struct fake_guest *g)
{
	pthread_create(&g->writer, NULL, writer_thread, g);
}

void fg_stop_writer(struct fake_guest *g)
{
	__atomic_store_n(&g->stop, true, __ATOMIC_RELEASE);
	pthread_join(g->writer, NULL);
}

bool fg_is_paused(struct fake_guest *g)
{
	pthread_mutex_lock(&g->lock);
	bool p = g->paused;
	pthread_mutex_unlock(&g->lock);
	return p;
}

bool fg_was_resumed(struct fake_guest *g)
{
	pthread_mutex_lock(&g->lock);
	bool r = g->resumed;
	pthread_mutex_unlock(&g->lock);
	return r;
}

static void *dest_thread(void *arg)
{
	struct dest_run *d = arg;
	struct vmig_incoming *in;
	struct vmig_incoming_config cfg;
	struct vmig_incoming_params p = {.size = sizeof(struct vmig_incoming_params), .listen_fd = d->lfd, .accept_timeout_ms = 10000,
					 .io_timeout_ms = d->io_timeout_ms ? d->io_timeout_ms : 3000,
					 .max_ram_bytes = d->max_ram_bytes, .accel = d->accel,
					 .qatzip_library = d->qatzip_library,
					 .qat_fallback = d->qat_fallback,
					 .qatzip_log = d->qatzip_log,
					 .host_probe_root = d->probe_root,
					 .tls_creds_dir = d->tls_creds_dir, .tls_psk_file = d->tls_psk_file,
					 .resume_timeout_ms = d->resume_timeout_ms};
	d->result = vmig_incoming_create(&p, &in, d->err, sizeof(d->err));
	if (d->result)
		return NULL;
	pthread_mutex_lock(&d->lock);
	__atomic_store_n(&d->in, in, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&d->lock);
	d->result = vmig_incoming_accept(in, &cfg, d->err, sizeof(d->err));
	if (!d->result) {
		d->accepted = true;
		struct vmig_guest g = {&fg_ops, d->g};
		d->result = vmig_incoming_run(in, &g, &d->st, d->err, sizeof(d->err));
	}
	/* Under the lock: a dest_cancel() in progress finishes with `in`
	 * before it is freed. */
	pthread_mutex_lock(&d->lock);
	__atomic_store_n(&d->in, NULL, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&d->lock);
	vmig_incoming_free(in);
	return NULL;
}

void dest_start(struct dest_run *d)
{
	pthread_mutex_init(&d->lock, NULL);
	pthread_create(&d->thread, NULL, dest_thread, d);
}

bool dest_cancel(struct dest_run *d)
{
	pthread_mutex_lock(&d->lock);
	struct vmig_incoming *in = d->in;
	if (in)
		vmig_incoming_cancel(in);
	pthread_mutex_unlock(&d->lock);
	return in != NULL;
}

int dest_join(struct dest_run *d)
{
	pthread_join(d->thread, NULL);
	return d->result;
}

int listen_any(int *lfd, char *uri, size_t urilen)
{
	static int next;
	char err[256];
	if (!next)
		next = 23000 + (int)(getpid() % 1000) * 7;
	for (int tries = 0; tries < 2000; tries++) {
		int port = 20000 + (next++ - 20000) % 40000;
		snprintf(uri, urilen, "tcp:127.0.0.1:%d", port);
		if (vmig_incoming_listen(uri, lfd, err, sizeof(err)) == 0)
			return 0;
	}
	return -1;
}

bool final_status(enum vmig_mig_status s)
{
	return s == VMIG_MIG_COMPLETED || s == VMIG_MIG_FAILED || s == VMIG_MIG_CANCELLED ||
	       s == VMIG_MIG_UNCONFIRMED;
}

void wait_final(struct vmig_migration *m, struct vmig_migrate_stats *st)
{
	for (int i = 0; i < 3000; i++) {
		vmig_migration_query(m, st);
		if (final_status(st->status))
			return;
		usleep(10000);
	}
}

uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int test_binary_dir(char *dir, size_t len)
{
	char exe[512];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -1;
	exe[n] = 0;
	char *slash = strrchr(exe, '/');
	if (!slash)
		return -1;
	*slash = 0;
	snprintf(dir, len, "%s", exe);
	return 0;
}

const char *qatzip_double(char *buf, size_t len)
{
	char dir[512];
	if (test_binary_dir(dir, sizeof(dir)))
		return NULL;
	snprintf(buf, len, "%s/qat_standin/libqatzip.so.3", dir);
	return buf;
}

const char *qatzip_for_test(char *buf, size_t len, bool *real)
{
	const char *env = getenv("VMIG_TEST_REAL_QATZIP");
	*real = env && env[0] && access(env, R_OK) == 0;
	return *real ? env : qatzip_double(buf, len);
}
