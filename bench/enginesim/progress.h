/* SPDX-License-Identifier: MIT */
/*
 * The guest's serial log: once a second of the guest's running, a line in
 * guestload's progress format (bench/suite/guestlog.py reads it):
 *
 *   guestload: t=12s passes=340 dirty=812.3MiB/s errors=0
 *
 * t: seconds of the guest's clock (since it started on the source; a
 * destination carries it on); passes: whole sweeps of the working set, the
 * slowest writer's count (a writer's sweep: each page of its slice written
 * once), so a throttled or starved guest shows in fewer passes; dirty: MiB
 * the writers wrote since the last line over the time between the lines;
 * errors: pages that did not hold what was last written there. No line
 * while the guest is paused (a paused guest prints nothing).
 */
#ifndef VMIG_ENGINESIM_PROGRESS_H
#define VMIG_ENGINESIM_PROGRESS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "workload.h"

struct progress {
	FILE *out;
	struct workload *w;
	uint64_t start_ns;   /* CLOCK_MONOTONIC when the guest started running here */
	uint64_t base_ms;    /* the guest's clock then */
	unsigned lines;      /* atomic */
	bool stop;           /* under lock */
	pthread_mutex_t lock;
	pthread_cond_t cond; /* CLOCK_MONOTONIC */
	pthread_t thread;
	bool on;
};

/* Starts the line every second on out, the guest's clock at base_ms now. */
int progress_start(struct progress *p, FILE *out, struct workload *w, uint64_t base_ms);
void progress_stop(struct progress *p);
/* Lines written so far. */
unsigned progress_lines(struct progress *p);
/* The guest's clock now, ms. */
uint64_t progress_guest_ms(const struct progress *p);

#endif
