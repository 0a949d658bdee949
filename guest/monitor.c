/* SPDX-License-Identifier: MIT */
/*
 * What vCPU 0 does besides its own share of the work: the heartbeat port
 * (~1 kHz, one VM exit each), the per-second progress line summed over all
 * workers, and the end of a time= run.
 *
 *   passes = passes completed by the slowest worker, i.e. full passes over
 *            the whole working set (equal to worker 0's with one vCPU);
 *   dirty  = working-set pages written since the previous line, as MiB/s
 *            over the TSC time between the two lines.
 */
#include "guest.h"
#include "io.h"
#include "serial.h"

static struct {
	uint64_t hb_next, hb_count;
	uint64_t next_line; /* tsc of the next whole second; 0: not started */
	uint64_t last_tsc, last_pages;
	uint32_t last_request; /* VMIG_PORT_REQUEST as last read */
} M;

void monitor_heartbeat(uint64_t now)
{
	if (now < M.hb_next)
		return;
	outl(VMIG_PORT_HEARTBEAT, (uint32_t)M.hb_count++);
	M.hb_next = now + G.tsc_khz;
}

void monitor_start(uint64_t now)
{
	M.next_line = now + G.tsc_hz;
	M.last_tsc = now;
	M.last_pages = 0;
	if (G.mods.hash)
		M.last_request = inl(VMIG_PORT_REQUEST);
}

/* The host asks for a module check by changing the request count. */
static void serve_request(void)
{
	if (!G.mods.hash)
		return;
	uint32_t r = inl(VMIG_PORT_REQUEST);
	if (r == M.last_request)
		return;
	M.last_request = r;
	check_all_modules();
}

static void totals(uint64_t *pages, uint64_t *passes, uint64_t *errors)
{
	*pages = *errors = 0;
	*passes = UINT64_MAX;
	for (unsigned i = 0; i < G.nvcpus; i++) {
		const struct vcpu_stats *st = &G.st[i];
		*pages += __atomic_load_n(&st->pages, __ATOMIC_RELAXED);
		*errors += __atomic_load_n(&st->errors, __ATOMIC_RELAXED);
		uint64_t p = __atomic_load_n(&st->passes, __ATOMIC_RELAXED);
		/* Workers with an empty slice (ws smaller than vcpus) do not count. */
		uint64_t lo, hi;
		ws_slice(i, &lo, &hi);
		if (hi > lo && p < *passes)
			*passes = p;
	}
	if (*passes == UINT64_MAX)
		*passes = 0;
}

void monitor_tick(uint64_t now)
{
	monitor_heartbeat(now);
	if (!M.next_line || now < M.next_line)
		return;

	/* A pause (migration downtime) can skip seconds: t comes from the TSC. */
	uint64_t t = (now - G.start_tsc) / G.tsc_hz;
	M.next_line = G.start_tsc + (t + 1) * G.tsc_hz;

	uint64_t pages, passes, errors;
	totals(&pages, &passes, &errors);
	uint64_t us = (now - M.last_tsc) * 1000 / G.tsc_khz;
	/* MiB/s * 10 = pages * 4 KiB * 10 / MiB / s = pages * 10 / 256 / s */
	uint64_t tenths = us ? (pages - M.last_pages) * 10000000ull / (256 * us) : 0;
	M.last_tsc = now;
	M.last_pages = pages;

	struct line l;
	line_init(&l, "t=");
	line_u64(&l, t);
	line_str(&l, "s passes=");
	line_u64(&l, passes);
	line_str(&l, " dirty=");
	line_tenths(&l, tenths);
	line_str(&l, "MiB/s errors=");
	line_u64(&l, errors);
	line_emit(&l);
	serve_request();

	if (G.cfg.time_s && t >= G.cfg.time_s) {
		if (G.mods.hash) {
			check_all_modules();
			totals(&pages, &passes, &errors);
		}
		line_init(&l, "done t=");
		line_u64(&l, t);
		line_str(&l, "s passes=");
		line_u64(&l, passes);
		line_str(&l, " errors=");
		line_u64(&l, errors);
		line_emit(&l);
		guest_exit(errors ? EXIT_ERRORS : EXIT_OK);
	}
}
