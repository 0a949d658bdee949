/* SPDX-License-Identifier: MIT */
/*
 * Ring-3 entry, reached the same way on both boot paths (entry.S):
 * vCPU 0 reads the boot info and arguments, calibrates the TSC and lays
 * out owned RAM; then every vCPU fills its share of owned RAM and, once
 * all are done, runs its worker.
 */
#include "args.h"
#include "fill.h"
#include "guest.h"
#include "io.h"
#include "serial.h"
#include "tsc.h"

struct guest G;

static void wait_phase(int phase)
{
	while (__atomic_load_n(&G.phase, __ATOMIC_ACQUIRE) < phase)
		cpu_relax();
}

__attribute__((noreturn)) static void fail(const char *msg, uint32_t code)
{
	say(msg);
	guest_exit(code);
}

static void set_clock(const struct vmig_boot_info *bi)
{
	struct line l;
	const char *src = "boot info";

	G.tsc_khz = bi->tsc_khz;
	if (!G.tsc_khz && G.cfg.tsc_khz) {
		G.tsc_khz = G.cfg.tsc_khz;
		src = "tsckhz=";
	}
	if (!G.tsc_khz) {
		G.tsc_khz = tsc_calibrate_khz();
		src = "PIT";
	}
	if (!G.tsc_khz) {
		G.tsc_khz = 2000000;
		src = "a guess: no PIT";
	}
	G.tsc_hz = G.tsc_khz * 1000;
	line_init(&l, "tsc_khz=");
	line_u64(&l, G.tsc_khz);
	line_str(&l, " (");
	line_str(&l, src);
	line_str(&l, ")");
	line_emit(&l);
}

static void print_layout(void)
{
	struct line l;

	if (G.L.ws_pages < G.L.ws_wanted) {
		line_init(&l, "note: ws clamped from ");
		line_u64(&l, G.L.ws_wanted);
		line_str(&l, " to ");
		line_u64(&l, G.L.ws_pages);
		line_str(&l, " pages (largest contiguous owned RAM)");
		line_emit(&l);
	}
	line_init(&l, "layout ws_base=");
	line_hex(&l, G.L.ws_base);
	line_str(&l, " ws_pages=");
	line_u64(&l, G.L.ws_pages);
	line_str(&l, " owned_base=");
	line_hex(&l, G.L.r[0].base);
	line_str(&l, " owned_pages=");
	line_u64(&l, G.L.owned_pages);
	line_str(&l, " vcpus=");
	line_u64(&l, G.nvcpus);
	line_str(&l, " fill=");
	line_str(&l, fill_name(G.cfg.fill));
	line_emit(&l);
}

/* The loader's module list, read before anything is written to RAM (its
 * copy may lie where owned RAM will be). */
static void setup_modules(const struct vmig_boot_info *bi)
{
	const char *why = "";
	struct line l;

	if (modules_init(&G.mods, bi, (uint64_t)(uintptr_t)__image_end, &why))
		fail(why, EXIT_BAD_BOOT);
	if (G.cfg.fill == FILL_MODULES && !G.mods.pages)
		fail("bad argument 'fill=modules' (the loader gave no modules: vmig run --module, "
		     "qemu -initrd)", EXIT_BAD_ARGS);
	if (G.cfg.modcorrupt > G.mods.pages || (G.cfg.modcorrupt && G.cfg.fill != FILL_MODULES))
		fail("bad argument 'modcorrupt=' (wants fill=modules and a module page number)",
		     EXIT_BAD_ARGS);
	for (unsigned m = 0; m < G.mods.count; m++) {
		const struct vmig_module *v = &G.mods.list[m];
		line_init(&l, "module ");
		line_u64(&l, m);
		line_str(&l, " start=");
		line_hex(&l, v->mod_start);
		line_str(&l, " bytes=");
		line_u64(&l, v->mod_end - v->mod_start);
		line_str(&l, " name=");
		line_str(&l, v->string ? (const char *)(uintptr_t)v->string : "");
		line_emit(&l);
	}
}

/* vCPU 0 only; everything here runs before the other vCPUs leave wait_phase. */
static void setup(const struct vmig_boot_info *bi)
{
	struct line err;

	if (bi->magic != VMIG_BOOT_INFO_MAGIC || bi->version != VMIG_ABI_VERSION)
		fail("bad boot info (magic or version)", EXIT_BAD_BOOT);
	G.nvcpus = bi->nr_vcpus ? bi->nr_vcpus : 1;
	if (G.nvcpus > VMIG_MAX_VCPUS)
		G.nvcpus = VMIG_MAX_VCPUS;
	if (args_parse((const char *)(uintptr_t)bi->cmdline, &G.cfg, &err)) {
		line_emit(&err);
		guest_exit(EXIT_BAD_ARGS);
	}
	set_clock(bi);
	setup_modules(bi);
	uint64_t image_end = (uint64_t)(uintptr_t)__image_end;
	uint64_t floor = G.mods.end > image_end ? G.mods.end : image_end;
	uint64_t hashes = G.cfg.fill == FILL_MODULES ? G.mods.pages : 0;
	if (layout_build(&G.L, bi, floor, G.cfg.ws_bytes, hashes))
		fail("no usable RAM above the image", EXIT_BAD_BOOT);
	if (hashes)
		G.mods.hash = G.L.hashes;
	print_layout();
}

/* Every owned page as the fill setting says: content at gen 1, or zeros. */
static void fill_share(unsigned vcpu)
{
	uint64_t n = G.nvcpus, lo = G.L.owned_pages * vcpu / n;
	uint64_t hi = G.L.owned_pages * (vcpu + 1) / n;

	for (uint64_t idx = lo; idx < hi; idx++) {
		uint64_t gpa = layout_gpa(&G.L, idx);
		uint32_t pageno = (uint32_t)(gpa >> 12);
		enum fill_kind kind = fill_kind_of(G.cfg.fill, pageno);
		/* fill=modules: the modules are the content, the rest is free memory */
		if (G.cfg.fill == FILL_MODULES && idx - G.L.ws_first >= G.L.ws_pages)
			kind = FILL_ZERO;
		void *page = (void *)(uintptr_t)gpa;

		if (kind == FILL_ZERO) {
			/* RAM normally starts zeroed; reading keeps it unallocated. */
			const uint64_t *w = page;
			uint64_t any = 0;
			for (unsigned i = 0; i < PAGE_WORDS; i++)
				any |= w[i];
			if (any)
				page_clear(page);
			G.L.gens[idx] = 0;
		} else {
			page_write_full(page, pageno, 1, kind, page_seed(pageno, 1));
			G.L.gens[idx] = 1;
		}
		if (vcpu == 0 && !(idx & 15))
			monitor_heartbeat(rdtsc());
	}
	if (G.mods.hash)
		modules_hash_range(&G.mods, G.mods.pages * vcpu / n, G.mods.pages * (vcpu + 1) / n);
}

/* vCPU 0, once the module hashes are taken: what they hold, and the
 * deliberate corruption modcorrupt= asks for. */
static void report_modules(void)
{
	struct line l;

	if (!G.mods.hash)
		return;
	line_init(&l, "modules count=");
	line_u64(&l, G.mods.count);
	line_str(&l, " pages=");
	line_u64(&l, G.mods.pages);
	line_str(&l, " hashed");
	line_emit(&l);
	if (G.cfg.modcorrupt) {
		modules_corrupt_page(&G.mods, G.cfg.modcorrupt - 1);
		line_init(&l, "note: module page ");
		line_u64(&l, G.cfg.modcorrupt - 1);
		line_str(&l, " corrupted on purpose (modcorrupt=)");
		line_emit(&l);
	}
}

void guest_main(struct vmig_boot_info *bi, uint64_t vcpu)
{
	if (vcpu == 0) {
		setup(bi);
		__atomic_store_n(&G.phase, PHASE_FILL, __ATOMIC_RELEASE);
	} else {
		wait_phase(PHASE_FILL);
		if (vcpu >= G.nvcpus)
			for (;;)
				cpu_relax(); /* more vCPUs than the boot info says: idle */
	}

	uint64_t t0 = rdtsc();
	fill_share((unsigned)vcpu);
	__atomic_add_fetch(&G.filled, 1, __ATOMIC_ACQ_REL);

	if (vcpu == 0) {
		while (__atomic_load_n(&G.filled, __ATOMIC_ACQUIRE) < G.nvcpus) {
			monitor_heartbeat(rdtsc());
			cpu_relax();
		}
		struct line l;
		G.start_tsc = rdtsc();
		line_init(&l, "filled ");
		line_u64(&l, G.L.owned_pages >> 8);
		line_str(&l, " MiB in ");
		line_u64(&l, (G.start_tsc - t0) / G.tsc_khz);
		line_str(&l, " ms");
		line_emit(&l);
		report_modules();
		monitor_start(G.start_tsc);
		__atomic_store_n(&G.phase, PHASE_RUN, __ATOMIC_RELEASE);
	} else {
		wait_phase(PHASE_RUN);
	}
	worker_run((unsigned)vcpu);
}
