/* SPDX-License-Identifier: MIT */
/*
 * memguest: the smallest VMM that embeds libvmig. Its "guest" is a memory
 * region and a thread that keeps writing into it, tracking every write in
 * a dirty bitmap of its own (no KVM anywhere). It migrates that guest live
 * to a second copy of itself over UNIX-domain sockets it opens itself,
 * using only the installed library:
 *
 *   cc memguest.c $(pkg-config --cflags --libs libvmig) -o memguest
 *   memguest dest   /tmp/mg.sock &          # waits for the guest
 *   memguest source /tmp/mg.sock [CHANNELS]  # runs it, then moves it
 *
 * Both sides print "memguest: ram XXXXXXXX writes N": the source once its
 * guest is paused for good, the destination when it resumes it; they must
 * match. Exit status 0 on success.
 *
 * With MEMGUEST_TLS_PSK=FILE (one line IDENTITY:HEXKEY) in the environment
 * of both, libvmig runs TLS 1.3 with that pre-shared key over the sockets.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <vmig/migration.h>

#define RAM_BYTES (32u << 20)
#define PAGES (RAM_BYTES / VMIG_PAGE_SIZE)
#define WORDS ((PAGES + 63) / 64)

struct memguest {
	uint8_t *ram;
	uint64_t dirty[WORDS];    /* one bit per page, set by the writer */
	pthread_mutex_t lock;     /* guards dirty, paused, writes */
	pthread_cond_t cond;
	int paused, stop, tracking;
	uint64_t writes, seed;
	pthread_t writer;
};

/* The workload: a word into a pseudo-random page, about 20,000 a second. */
static void *writer_thread(void *arg)
{
	struct memguest *g = arg;
	pthread_mutex_lock(&g->lock);
	while (!g->stop) {
		if (g->paused) {
			pthread_cond_wait(&g->cond, &g->lock);
			continue;
		}
		for (int i = 0; i < 20; i++) {
			g->seed = g->seed * 6364136223846793005ull + 1442695040888963407ull;
			uint64_t page = (g->seed >> 33) % PAGES, off = (g->seed >> 20) % 512 * 8;
			memcpy(g->ram + page * VMIG_PAGE_SIZE + off, &g->writes, 8);
			g->dirty[page / 64] |= 1ull << (page % 64);
			g->writes++;
		}
		pthread_mutex_unlock(&g->lock);
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
		pthread_mutex_lock(&g->lock);
	}
	pthread_mutex_unlock(&g->lock);
	return NULL;
}

static uint32_t ram_hash(const struct memguest *g)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (size_t i = 0; i < RAM_BYTES; i++)
		h = (h ^ g->ram[i]) * 16777619u;
	return h;
}

/* ---- the guest interface (vmig/guest.h) ---- */

static unsigned mg_regions(void *o, struct vmig_ram_region *out, unsigned max)
{
	struct memguest *g = o;
	out[0] = (struct vmig_ram_region){.gpa = 0, .size = RAM_BYTES, .host = g->ram};
	return max ? 1 : 0;
}

static int mg_dirty_start(void *o, char *err, size_t errlen)
{
	struct memguest *g = o;
	pthread_mutex_lock(&g->lock);
	g->tracking = 1;
	pthread_mutex_unlock(&g->lock);
	return 0;
}

static void mg_dirty_stop(void *o)
{
	struct memguest *g = o;
	pthread_mutex_lock(&g->lock);
	g->tracking = 0;
	pthread_mutex_unlock(&g->lock);
}

static int mg_harvest(void *o, unsigned region, uint64_t *bitmap, char *err, size_t errlen)
{
	struct memguest *g = o;
	pthread_mutex_lock(&g->lock);
	for (unsigned w = 0; w < WORDS; w++)
		bitmap[w] |= g->dirty[w];
	pthread_mutex_unlock(&g->lock);
	return 0;
}

static int mg_clear(void *o, unsigned region, uint64_t first, uint64_t n, const uint64_t *bits,
		    char *err, size_t errlen)
{
	struct memguest *g = o;
	pthread_mutex_lock(&g->lock);
	for (uint64_t w = 0; w < (n + 63) / 64; w++)
		g->dirty[first / 64 + w] &= ~bits[w];
	pthread_mutex_unlock(&g->lock);
	return 0;
}

static int mg_pause(void *o)
{
	struct memguest *g = o;
	pthread_mutex_lock(&g->lock);
	g->paused = 1; /* the writer checks it under the lock: no write after this */
	pthread_mutex_unlock(&g->lock);
	return 0;
}

static int mg_resume(void *o)
{
	struct memguest *g = o;
	pthread_mutex_lock(&g->lock);
	g->paused = 0;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
	return 0;
}

/* The "device state": the writer's position. */
static int mg_save(void *o, uint8_t **blob, size_t *len, char *err, size_t errlen)
{
	struct memguest *g = o;
	uint64_t *s = malloc(16);
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s[0] = g->writes;
	s[1] = g->seed;
	*blob = (uint8_t *)s;
	*len = 16;
	return 0;
}

static int mg_load(void *o, const uint8_t *blob, size_t len, char *err, size_t errlen)
{
	struct memguest *g = o;
	if (len != 16) {
		snprintf(err, errlen, "memguest state is 16 bytes, got %zu", len);
		return -EINVAL;
	}
	memcpy(&g->writes, blob, 8);
	memcpy(&g->seed, blob + 8, 8);
	return 0;
}

static const struct vmig_guest_ops mg_ops = {
	.ram_regions = mg_regions,
	.dirty_start = mg_dirty_start,
	.dirty_stop = mg_dirty_stop,
	.dirty_harvest = mg_harvest,
	.dirty_clear = mg_clear,
	.pause = mg_pause,
	.resume = mg_resume,
	.save_state = mg_save,
	.load_state = mg_load,
};

/* ---- the two sides ---- */

static void log_line(void *opaque, enum vmig_log_level level, const char *line)
{
	fprintf(stderr, "memguest [libvmig %s]: %s\n", level <= VMIG_LOG_WARN ? "warning" : "info",
		line);
}

static struct sockaddr_un unix_addr(const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	return a;
}

static int run_source(struct memguest *g, const char *path, unsigned channels)
{
	int fds[1 + VMIG_MAX_DATA_CHANNELS];
	char err[VMIG_MAX_ERROR];
	struct sockaddr_un a = unix_addr(path);
	for (unsigned i = 0; i <= channels; i++) {
		fds[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&a, sizeof(a)) < 0) {
			perror("memguest: connect");
			return 1;
		}
	}
	pthread_create(&g->writer, NULL, writer_thread, g);
	sleep(1); /* let the guest work a little first */
	struct vmig_guest guest = {&mg_ops, g};
	struct vmig_migrate_params p = VMIG_MIGRATE_PARAMS_INIT;
	p.fds = fds;
	p.nr_fds = channels + 1;
	p.codec = "lz4";
	p.downtime_limit_ms = 50;
	p.tls_psk_file = getenv("MEMGUEST_TLS_PSK");
	struct vmig_migration *m;
	if (vmig_migration_start(&guest, &p, &m, err, sizeof(err))) {
		fprintf(stderr, "memguest: %s\n", err);
		return 1;
	}
	struct vmig_migrate_stats st = VMIG_MIGRATE_STATS_INIT;
	do {
		usleep(20000);
		vmig_migration_query(m, &st);
	} while (st.status != VMIG_MIG_COMPLETED && st.status != VMIG_MIG_FAILED &&
		 st.status != VMIG_MIG_CANCELLED && st.status != VMIG_MIG_UNCONFIRMED);
	vmig_migration_free(m);
	if (st.status != VMIG_MIG_COMPLETED) {
		fprintf(stderr, "memguest: migration %s: %s\n", vmig_mig_status_name(st.status),
			st.error);
		return 1;
	}
	/* The guest stays paused here for good: its RAM is what moved. */
	printf("memguest: ram %08x writes %llu\n", ram_hash(g), (unsigned long long)g->writes);
	if (st.tls[0])
		printf("memguest: tls %s\n", st.tls);
	printf("memguest: migrated in %llu ms, downtime %llu ms, %llu passes, %.1f MiB on the wire\n",
	       (unsigned long long)st.total_ms, (unsigned long long)st.downtime_ms,
	       (unsigned long long)st.iterations, (double)st.wire_bytes / 1048576.0);
	return 0;
}

/* On the destination the hash must be of the RAM as it arrived: take it
 * when GO resumes the guest, before the writer can run. */
static int mg_resume_and_report(void *o)
{
	struct memguest *g = o;
	pthread_mutex_lock(&g->lock);
	printf("memguest: ram %08x writes %llu\n", ram_hash(g), (unsigned long long)g->writes);
	fflush(stdout);
	pthread_mutex_unlock(&g->lock);
	return mg_resume(o);
}

static const struct vmig_guest_ops mg_dest_ops = {
	.ram_regions = mg_regions,
	.dirty_start = mg_dirty_start,
	.dirty_stop = mg_dirty_stop,
	.dirty_harvest = mg_harvest,
	.dirty_clear = mg_clear,
	.pause = mg_pause,
	.resume = mg_resume_and_report,
	.save_state = mg_save,
	.load_state = mg_load,
};

/* Accepts the source's connections itself (main + data channels) and hands
 * them to libvmig: no TCP, no listening socket inside the library. */
static int run_dest(struct memguest *g, const char *path)
{
	char err[VMIG_MAX_ERROR];
	struct sockaddr_un a = unix_addr(path);
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	unlink(path);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 16) < 0) {
		perror("memguest: listen");
		return 1;
	}
	fprintf(stderr, "memguest: waiting on %s\n", path);
	/* The main connection first; its HELLO says how many data channels
	 * follow, so hand libvmig the listening socket for those. */
	struct vmig_incoming_params ip = VMIG_INCOMING_PARAMS_INIT;
	int first = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	ip.fds = &first;
	ip.nr_fds = 1;
	ip.listen_fd = lfd;
	ip.accept_timeout_ms = 30000;
	ip.tls_psk_file = getenv("MEMGUEST_TLS_PSK");
	struct vmig_incoming *in = NULL;
	struct vmig_incoming_config cfg;
	struct vmig_incoming_stats st;
	int r = vmig_incoming_create(&ip, &in, err, sizeof(err));
	if (!r)
		r = vmig_incoming_accept(in, &cfg, err, sizeof(err));
	if (!r && (cfg.nr_regions != 1 || cfg.regions[0].size != RAM_BYTES)) {
		snprintf(err, sizeof(err), "the source's guest is not a memguest");
		vmig_incoming_refuse(in, err);
		r = -EINVAL;
	}
	g->paused = 1; /* the writer waits for the resume that GO brings */
	pthread_create(&g->writer, NULL, writer_thread, g);
	struct vmig_guest guest = {&mg_dest_ops, g};
	if (!r)
		r = vmig_incoming_run(in, &guest, &st, err, sizeof(err));
	if (!r) {
		printf("memguest: received %llu pages in %llu passes, verified %s\n",
		       (unsigned long long)(st.pages_normal + st.pages_zero),
		       (unsigned long long)st.passes, st.verified ? "yes" : "no");
	}
	if (in)
		vmig_incoming_free(in);
	unlink(path);
	if (r) {
		fprintf(stderr, "memguest: incoming migration failed: %s\n", err);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct memguest g;
	if (argc < 3 || (strcmp(argv[1], "source") && strcmp(argv[1], "dest"))) {
		fprintf(stderr, "usage: memguest source|dest SOCKET_PATH [CHANNELS]\n");
		return 2;
	}
	vmig_set_log_handler(log_line, NULL, VMIG_LOG_INFO);
	fprintf(stderr, "memguest: libvmig %s\n", vmig_version());
	g.ram = calloc(1, RAM_BYTES);
	pthread_mutex_init(&g.lock, NULL);
	pthread_cond_init(&g.cond, NULL);
	g.seed = 42;
	int r;
	if (!strcmp(argv[1], "source")) {
		unsigned channels = argc > 3 ? (unsigned)atoi(argv[3]) : 2;
		if (channels > VMIG_MAX_DATA_CHANNELS)
			channels = VMIG_MAX_DATA_CHANNELS;
		for (unsigned i = 0; i < PAGES; i += 3) /* some data, some zero pages */
			memset(g.ram + (size_t)i * VMIG_PAGE_SIZE, (int)(i % 251) + 1, VMIG_PAGE_SIZE / 2);
		r = run_source(&g, argv[2], channels);
	} else {
		r = run_dest(&g, argv[2]);
	}
	pthread_mutex_lock(&g.lock);
	g.stop = 1;
	pthread_cond_broadcast(&g.cond);
	pthread_mutex_unlock(&g.lock);
	if (g.writer)
		pthread_join(g.writer, NULL);
	free(g.ram);
	return r;
}
