/* SPDX-License-Identifier: MIT */
/* Page verification shared by the working-set loop and the static sweep. */
#include "fill.h"
#include "guest.h"
#include "io.h"
#include "rng.h"
#include "serial.h"

#define ERROR_LINES_PER_S 5

uint64_t page_seed(uint32_t pageno, uint32_t gen)
{
	return mix64(G.cfg.seed ^ mix64(((uint64_t)pageno << 32) | gen));
}

/* At most ERROR_LINES_PER_S lines a second over all vCPUs: each line is
 * ~80 port exits, and a flood would slow the workload it reports on. */
static struct {
	uint64_t window; /* tsc at the start of the current second */
	unsigned lines;
	uint64_t hidden;
} R;

static void report(uint64_t gpa, uint32_t want, uint32_t got, enum page_verdict v)
{
	uint64_t now = rdtsc(), w = __atomic_load_n(&R.window, __ATOMIC_RELAXED);
	struct line l;

	if (now - w >= G.tsc_hz &&
	    __atomic_compare_exchange_n(&R.window, &w, now, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
		uint64_t hidden = __atomic_exchange_n(&R.hidden, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&R.lines, 0, __ATOMIC_RELAXED);
		if (hidden) {
			line_init(&l, "ERROR lines not shown: ");
			line_u64(&l, hidden);
			line_emit(&l);
		}
	}
	if (__atomic_fetch_add(&R.lines, 1, __ATOMIC_RELAXED) >= ERROR_LINES_PER_S) {
		__atomic_fetch_add(&R.hidden, 1, __ATOMIC_RELAXED);
		return;
	}
	line_init(&l, "ERROR page=");
	line_hex(&l, gpa);
	line_str(&l, " want_gen=");
	line_u64(&l, want);
	line_str(&l, " got_gen=");
	line_u64(&l, got);
	line_str(&l, " ");
	line_str(&l, page_verdict_name(v));
	line_emit(&l);
}

enum page_verdict check_page(unsigned vcpu, uint64_t gpa, uint32_t want_gen, struct page_sums *s)
{
	uint32_t got;
	enum page_verdict v = page_verify((const void *)(uintptr_t)gpa, (uint32_t)(gpa >> 12),
					  want_gen, s, &got);
	if (v != PAGE_OK) {
		struct vcpu_stats *st = &G.st[vcpu];
		__atomic_store_n(&st->errors, st->errors + 1, __ATOMIC_RELAXED);
		report(gpa, want_gen, got, v);
	}
	return v;
}

void check_static(unsigned vcpu, uint64_t idx)
{
	uint64_t gpa = layout_gpa(&G.L, idx);
	uint32_t want = G.L.gens[idx], pageno = (uint32_t)(gpa >> 12);
	struct page_sums s;
	void *page = (void *)(uintptr_t)gpa;

	if (check_page(vcpu, gpa, want, &s) == PAGE_OK)
		return;
	if (want)
		page_write_full(page, pageno, want, fill_kind_of(G.cfg.fill, pageno),
				page_seed(pageno, want));
	else
		page_clear(page);
}

void check_module(unsigned vcpu, uint64_t i)
{
	if (modules_check_page(&G.mods, i) != 1)
		return;
	struct vcpu_stats *st = &G.st[vcpu];
	uint64_t at;
	unsigned len;
	__atomic_store_n(&st->errors, st->errors + 1, __ATOMIC_RELAXED);
	report(modules_page(&G.mods, i, &at, &len), 0, 0, PAGE_MODULE_CHANGED);
}

void check_all_modules(void)
{
	struct line l;

	for (uint64_t i = 0; i < G.mods.pages; i++) {
		check_module(0, i);
		if (!(i & 15))
			monitor_heartbeat(rdtsc());
	}
	line_init(&l, "modules pages=");
	line_u64(&l, G.mods.pages);
	line_str(&l, " bad=");
	line_u64(&l, __atomic_load_n(&G.mods.bad, __ATOMIC_RELAXED));
	line_emit(&l);
}
