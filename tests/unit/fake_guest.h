/* SPDX-License-Identifier: MIT */
/*
 * TEST DOUBLE of the guest interface (include/vmig/guest.h) for engine
 * tests that need no KVM: plain memory in two regions, dirty tracking by
 * hand, a writer thread standing in for vCPUs, and a destination thread
 * that runs the real receiver into such a guest.
 */
#ifndef VMIG_TESTS_FAKE_GUEST_H
#define VMIG_TESTS_FAKE_GUEST_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmig/migration.h"

#define PAGES 4096 /* 16 MiB in two regions */

struct fake_guest {
	uint8_t *mem;
	uint64_t pages;
	uint64_t *dirty;       /* bit per page, set by the writer */
	pthread_mutex_t lock;  /* guards dirty and paused */
	bool paused, tracking, resumed;
	bool fail_resume;      /* resume fails, as a VMM that cannot start vCPUs would */
	bool clear_on_harvest; /* harvest clears what it reports (KVM without manual protect) */
	uint64_t write_ms;     /* writer stops this long after tracking starts (0: never) */
	uint64_t tracking_since_ms;
	unsigned throttle_pct; /* under lock: the writer sleeps that share of its time */
	unsigned throttle_calls;
	uint64_t writes;
	char state[64];
	/* writer stand-in for a vCPU */
	pthread_t writer;
	bool stop;
	unsigned seed;
	uint64_t hot;          /* writer touches only pages [0, hot) if set */
	bool whole_pages;      /* writer rewrites a whole page a write: XBZRLE cannot help */
};

extern const struct vmig_guest_ops fg_ops;

/* fill: non-zero contents (every third page zero) and a state string. */
void fg_init(struct fake_guest *g, bool fill);
/* The same with another size: pages, a multiple of 128 (two regions). */
void fg_init_pages(struct fake_guest *g, uint64_t pages, bool fill);
void fg_free(struct fake_guest *g);
void fg_start_writer(struct fake_guest *g);
void fg_stop_writer(struct fake_guest *g);
bool fg_is_paused(struct fake_guest *g);
bool fg_was_resumed(struct fake_guest *g);

/* The real receiver on its own thread, into a fake guest. */
struct dest_run {
	struct fake_guest *g;
	int lfd;
	int io_timeout_ms;        /* 0: 3000 */
	uint64_t max_ram_bytes;
	const char *probe_root;   /* host_probe_root: a fake /proc and cgroup tree; NULL: real */
	const char *tls_creds_dir, *tls_psk_file; /* TLS required of the source if set */
	struct vmig_incoming *in; /* set once created, cleared before freed */
	pthread_mutex_t lock;     /* guards `in` against dest_cancel() */
	int result;
	char err[512];
	struct vmig_incoming_stats st;
	pthread_t thread;
	bool accepted;
	/* decompression offload, as in vmig_incoming_params (NULL: none) */
	const char *accel, *qatzip_library, *qat_fallback, *qatzip_log;
	uint64_t resume_timeout_ms; /* as in vmig_incoming_params */
};
void dest_start(struct dest_run *d);
int dest_join(struct dest_run *d);
/* Cancels the receiver if it still exists; returns whether it did. */
bool dest_cancel(struct dest_run *d);

/* Listens on a free loopback port; uri gets its address. */
int listen_any(int *lfd, char *uri, size_t urilen);
/* Polls until the migration ends (any final status) or 30 s pass. */
void wait_final(struct vmig_migration *m, struct vmig_migrate_stats *st);
bool final_status(enum vmig_mig_status s);
uint64_t mono_ms(void);

/* The directory of the running test binary (build/tests); -1 if unknown. */
int test_binary_dir(char *dir, size_t len);
/* The QATzip TEST DOUBLE beside the test binaries (tests/qat_standin). */
const char *qatzip_double(char *buf, size_t len);
/* The QATzip a QAT test loads: the real one when `make test` built it
 * (VMIG_TEST_REAL_QATZIP), else the TEST DOUBLE; *real says which. A case
 * that calls it needs "qat" in its name: pytest waits for the real QATzip's
 * background build only before those (tests/conftest.py). */
const char *qatzip_for_test(char *buf, size_t len, bool *real);

#endif
