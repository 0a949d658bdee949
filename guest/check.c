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

static void report(struct vcpu_stats *st, uint64_t gpa, uint32_t want, uint32_t got,
		   enum page_verdict v)
{
	uint64_t now = rdtsc();
	struct line l;

	if (now - st->err_window >= G.tsc_hz) {
		if (st->err_hidden) {
			line_init(&l, "ERROR lines not shown: ");
			line_u64(&l, st->err_hidden);
			line_emit(&l);
		}
		st->err_window = now;
		st->err_lines = 0;
		st->err_hidden = 0;
	}
	if (st->err_lines >= ERROR_LINES_PER_S) {
		st->err_hidden++;
		return;
	}
	st->err_lines++;
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
		report(st, gpa, want_gen, got, v);
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
