/* SPDX-License-Identifier: MIT */
/*
 * Measures the channel knob against a destination that goes busy
 * mid-migration (not a test: run by hand).
 *
 *   bench_channels [MIB [BUSY_AT_MS [RUNS]]]   (default 64 300 3)
 *
 * A TEST DOUBLE guest of MIB MiB (a third of its pages zero, a writer all
 * over it for the first 3 s; zstd level 12 and a 1 ms downtime limit keep
 * pre-copy going until it stops) migrates over loopback,
 * XBZRLE and throttling off, both hosts' probes reading the fake trees of
 * fake_host.h. BUSY_AT_MS after the start the destination gets busy: its
 * fake cgroup quota drops to one CPU and a burner thread per CPU but one
 * spins in this process (the two sides share the machine). Each run is
 * done twice, alternating: the channels pinned at the count the policy
 * connects ("pinned"), and left to the policy ("auto"). Prints status,
 * digest, total time, downtime, the channels in use at the end and the
 * migration's CPU seconds (both sides: the process's, less the burners'
 * and the guest writer's), and the CPUs' worth the burners got while they
 * ran (what the busy host's own work kept).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "fake_guest.h"
#include "fake_host.h"

#define CPU_MAX "sys/fs/cgroup/vm/cpu.max"
#define WRITE_MS 3000
#define DOWNTIME_MS 1 /* passes go on while the writer writes */
#define ZSTD_LEVEL 12   /* slower than the writer dirties: no convergence before it stops */
#define MAX_BURNERS 64

struct burner {
	pthread_t t;
	bool *stop;
	double cpu_s;
};

static double thread_cpu_s(clockid_t id)
{
	struct timespec ts;
	return clock_gettime(id, &ts) ? 0 : (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *burn(void *arg)
{
	struct burner *b = arg;
	volatile uint64_t x = 0;
	while (!__atomic_load_n(b->stop, __ATOMIC_ACQUIRE))
		for (int i = 0; i < 100000; i++)
			x += (uint64_t)i;
	b->cpu_s = thread_cpu_s(CLOCK_THREAD_CPUTIME_ID);
	return NULL;
}

static double process_cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

struct result {
	struct vmig_migrate_stats st;
	bool dest_ok, same;
	double cpu_s;
	double burnt_share; /* the burners' CPU per second they ran: the busy host's own work */
};

static int one_run(uint64_t pages, uint64_t busy_at_ms, bool pinned, unsigned burners,
		   struct result *out)
{
	struct fake_guest src, dst;
	struct fake_host here, there;
	struct dest_run d = {0};
	struct burner b[MAX_BURNERS];
	bool stop = false;
	char uri[64], err[512];
	struct vmig_migration *m;
	if (fake_host_new(&here) || fake_host_new(&there))
		return -1;
	fg_init_pages(&src, pages, true);
	fg_init_pages(&dst, pages, false);
	src.write_ms = WRITE_MS;
	if (listen_any(&d.lfd, uri, sizeof(uri)))
		return -1;
	d.g = &dst;
	d.probe_root = there.root;
	dest_start(&d);
	double cpu0 = process_cpu_s();
	fg_start_writer(&src);
	struct vmig_guest g = {&fg_ops, &src};
	struct vmig_migrate_params p = VMIG_MIGRATE_PARAMS_INIT;
	p.uri = uri;
	p.codec = "zstd";
	p.level = ZSTD_LEVEL;
	p.policy = VMIG_POLICY_AUTO;
	p.pinned = VMIG_PIN_CODEC | VMIG_PIN_LEVEL | VMIG_PIN_XBZRLE | VMIG_PIN_CONVERGE;
	p.host_probe_root = here.root;
	p.downtime_limit_ms = DOWNTIME_MS;
	p.timeout_ms = 120000;
	if (pinned) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		p.channels = cpus > 8 ? 8 : cpus < 2 ? 2 : (unsigned)cpus; /* what auto connects */
		p.pinned |= VMIG_PIN_CHANNELS;
	}
	if (vmig_migration_start(&g, &p, &m, err, sizeof(err))) {
		fprintf(stderr, "bench_channels: %s\n", err);
		dest_cancel(&d);
		dest_join(&d);
		return -1;
	}
	usleep((useconds_t)busy_at_ms * 1000);
	fake_host_put(&there, CPU_MAX, "100000 100000\n");
	uint64_t burn0_ms = mono_ms();
	for (unsigned i = 0; i < burners; i++) {
		b[i] = (struct burner){.stop = &stop};
		pthread_create(&b[i].t, NULL, burn, &b[i]);
	}
	out->st = (struct vmig_migrate_stats)VMIG_MIGRATE_STATS_INIT;
	wait_final(m, &out->st);
	clockid_t wc;
	double writer_s = pthread_getcpuclockid(src.writer, &wc) ? 0 : thread_cpu_s(wc);
	__atomic_store_n(&stop, true, __ATOMIC_RELEASE);
	double burnt = 0, burn_wall = (double)(mono_ms() - burn0_ms) / 1000.0;
	for (unsigned i = 0; i < burners; i++) {
		pthread_join(b[i].t, NULL);
		burnt += b[i].cpu_s;
	}
	out->burnt_share = burn_wall > 0 ? burnt / burn_wall : 0;
	vmig_migration_free(m);
	fg_stop_writer(&src);
	out->dest_ok = dest_join(&d) == 0 && d.st.verified;
	out->cpu_s = process_cpu_s() - cpu0 - burnt - writer_s;
	out->same = memcmp(src.mem, dst.mem, (size_t)pages * 4096) == 0;
	fg_free(&src);
	fg_free(&dst);
	fake_host_free(&here);
	fake_host_free(&there);
	return 0;
}

static void print_run(const char *mode, const struct result *r)
{
	printf("%-7s %-10s %-8s %8llu %8llu %3u of %-3u %7.2f %8.2f\n", mode,
	       vmig_mig_status_name(r->st.status), r->st.verified && r->dest_ok && r->same ? "yes" : "NO",
	       (unsigned long long)r->st.total_ms, (unsigned long long)r->st.downtime_ms,
	       r->st.active_channels, r->st.nr_channels, r->cpu_s, r->burnt_share);
	for (unsigned i = 0; i < r->st.nr_decisions && i < VMIG_MAX_DECISIONS; i++)
		if (strstr(r->st.decisions[i].change, "channels "))
			printf("        pass %llu, %llu ms: %s: %s\n",
			       (unsigned long long)r->st.decisions[i].pass,
			       (unsigned long long)r->st.decisions[i].t_ms, r->st.decisions[i].change,
			       r->st.decisions[i].reason);
}

int main(int argc, char **argv)
{
	uint64_t mib = argc > 1 ? strtoull(argv[1], NULL, 10) : 64;
	uint64_t busy_at = argc > 2 ? strtoull(argv[2], NULL, 10) : 300;
	unsigned runs = argc > 3 ? (unsigned)atoi(argv[3]) : 3;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned burners = cpus > 1 ? (unsigned)(cpus - 1) : 1;
	if (!mib || mib > (1u << 16) || !runs || burners > MAX_BURNERS) {
		fprintf(stderr, "usage: bench_channels [MIB (1..65536) [BUSY_AT_MS [RUNS (1..)]]]\n");
		return 2;
	}
	uint64_t pages = mib * 256;
	if (getenv("BENCH_DEBUG"))
		vmig_set_log_handler(NULL, NULL, VMIG_LOG_DEBUG);
	printf("%llu MiB test double, destination busy after %llu ms (%u burner threads)\n",
	       (unsigned long long)mib, (unsigned long long)busy_at, burners);
	printf("mode    status     verified total_ms downtime channels  cpu_s  burners\n");
	for (unsigned i = 0; i < runs; i++)
		for (int pinned = 1; pinned >= 0; pinned--) {
			struct result r;
			if (one_run(pages, busy_at, pinned, burners, &r))
				return 1;
			print_run(pinned ? "pinned" : "auto", &r);
		}
	return 0;
}
