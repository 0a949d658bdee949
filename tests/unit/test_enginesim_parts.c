/* SPDX-License-Identifier: MIT */
/*
 * bench/enginesim's parts that a migration over loopback does not pin
 * down alone (tests/integration/test_enginesim.py runs the whole): the
 * state a destination decodes from the wire, the RAM hash a destination
 * takes while its guest already writes, and the guest double's dirty log
 * and pause.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "guest_double.h"
#include "guest_state.h"
#include "module_double.h"
#include "modules_ram.h"
#include "ramhash.h"
#include "unittest.h"

TEST(state_round_trips)
{
	struct guest_state in = {.vcpus = 3, .t_ms = 12345, .passes = 678, .mod_first = 9,
				 .mod_pages = 10, .mod_hash = UINT64_MAX - 1}, out;
	uint8_t *blob;
	size_t len;
	char err[128];
	snprintf(in.args, sizeof(in.args), "fill=mixed ws=16M rate=0 write=page");
	CHECK_EQ_INT(guest_state_encode(&in, &blob, &len, err, sizeof(err)), 0);
	CHECK_EQ_INT(guest_state_decode(blob, len, &out, err, sizeof(err)), 0);
	free(blob);
	CHECK_EQ_INT(out.vcpus, 3);
	CHECK_EQ_INT(out.t_ms, 12345);
	CHECK_EQ_INT(out.passes, 678);
	CHECK_EQ_INT(out.mod_first, 9);
	CHECK_EQ_INT(out.mod_pages, 10);
	CHECK(out.mod_hash == UINT64_MAX - 1);
	CHECK_STR(out.args, in.args);
}

/* Every prefix of a good blob but the whole is refused with a reason. */
TEST(state_cut_short_is_refused_with_a_reason)
{
	struct guest_state in = {.vcpus = 1}, out;
	uint8_t *blob;
	size_t len;
	char err[128];
	snprintf(in.args, sizeof(in.args), "ws=4M");
	CHECK_EQ_INT(guest_state_encode(&in, &blob, &len, err, sizeof(err)), 0);
	/* up to "args=": the arguments themselves may be any length, even 0 */
	size_t args_at = len - strlen(in.args);
	for (size_t n = 0; n < args_at; n++) {
		err[0] = 0;
		int r = guest_state_decode(blob, n, &out, err, sizeof(err));
		if (r != -EINVAL || !err[0]) {
			free(blob);
			CHECK(!"a cut-short state was taken");
		}
	}
	free(blob);
}

#define NO_MODULES "mod_first=0\nmod_pages=0\nmod_hash=0\n"

TEST(state_with_a_bad_vcpu_count_or_nul_is_refused)
{
	static const char *const bad[] = {
		"enginesim-state 2\nvcpus=0\nt_ms=0\npasses=0\n" NO_MODULES "args=",
		"enginesim-state 2\nvcpus=65\nt_ms=0\npasses=0\n" NO_MODULES "args=",
		"enginesim-state 2\nvcpus=99999999999999999999999\nt_ms=0\npasses=0\n" NO_MODULES "args=",
		"enginesim-state 1\nvcpus=1\nt_ms=0\npasses=0\n" NO_MODULES "args=",
		"enginesim-state 2\nvcpus=1\nt_ms=x\npasses=0\n" NO_MODULES "args=",
		"enginesim-state 2\nvcpus=1\nt_ms=0\npasses=0\nargs=",
	};
	struct guest_state out;
	char err[128];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ_INT(guest_state_decode((const uint8_t *)bad[i], strlen(bad[i]), &out, err,
						sizeof(err)), -EINVAL);
	static const char nul[] = "enginesim-state 2\nvcpus=1\nt_ms=0\npasses=0\n" NO_MODULES "args=ws\0=4M";
	CHECK_EQ_INT(guest_state_decode((const uint8_t *)nul, sizeof(nul) - 1, &out, err,
					sizeof(err)), -EINVAL);
}

#define HASH_PAGES 2048

struct rewriter {
	struct ramhash_snap *snap;
	uint8_t *ram;
};

/* A guest's writes right after the resume: each page hashed before it changes. */
static void *rewrite_all(void *arg)
{
	struct rewriter *w = arg;
	for (uint64_t i = 0; i < HASH_PAGES; i++) {
		ramhash_snap_touch(w->snap, i);
		memset(w->ram + i * VMIG_PAGE_SIZE, (int)(i + 7), 64);
	}
	return NULL;
}

TEST(snapshot_hash_is_the_ram_before_the_guest_wrote)
{
	uint8_t *ram = malloc(HASH_PAGES * VMIG_PAGE_SIZE);
	CHECK(ram);
	for (size_t i = 0; i < HASH_PAGES * VMIG_PAGE_SIZE; i++)
		ram[i] = (uint8_t)(i * 31 / 7);
	uint64_t before = ramhash_all(ram, HASH_PAGES);
	struct ramhash_snap snap;
	struct rewriter w = {&snap, ram};
	pthread_t t;
	CHECK_EQ_INT(ramhash_snap_init(&snap, ram, HASH_PAGES), 0);
	CHECK_EQ_INT(pthread_create(&t, NULL, rewrite_all, &w), 0);
	CHECK_EQ_INT(ramhash_snap_start(&snap), 0);
	pthread_join(t, NULL);
	uint64_t snapped = ramhash_snap_finish(&snap);
	uint64_t after = ramhash_all(ram, HASH_PAGES);
	free(ram);
	CHECK(snapped == before);
	CHECK(after != before);
}

TEST(harvest_takes_the_bits_and_a_write_after_sets_them_again)
{
	struct guest_double g;
	struct gd_hooks hooks = {0};
	struct vmig_guest guest;
	char err[128];
	uint64_t bits[64] = {0};
	CHECK_EQ_INT(gd_create(&g, 16ull << 20, err, sizeof(err)), 0); /* 4096 pages, one region */
	gd_iface(&g, &hooks, &guest);
	gd_mark_dirty(&g, 5); /* not tracking yet: not logged */
	CHECK_EQ_INT(guest.ops->dirty_start(guest.opaque, err, sizeof(err)), 0);
	CHECK_EQ_INT(guest.ops->dirty_harvest(guest.opaque, 0, bits, err, sizeof(err)), 0);
	CHECK(bits[0] == ~0ull && bits[63] == ~0ull); /* start: every page */
	memset(bits, 0, sizeof(bits));
	CHECK_EQ_INT(guest.ops->dirty_harvest(guest.opaque, 0, bits, err, sizeof(err)), 0);
	CHECK(bits[0] == 0); /* the harvest took them */
	gd_mark_dirty(&g, 70);
	CHECK_EQ_INT(guest.ops->dirty_harvest(guest.opaque, 0, bits, err, sizeof(err)), 0);
	CHECK(bits[1] == 1ull << 6 && bits[0] == 0);
	CHECK_EQ_INT(guest.ops->dirty_harvest(guest.opaque, 1, bits, err, sizeof(err)), -EINVAL);
	gd_destroy(&g);
}

/* A 16 MiB double tracking its writes, a write fault costing fault_ns,
 * its log harvested once (every bit cleared): 0 or -1. */
static int tracked_and_harvested(struct guest_double *g, uint64_t fault_ns)
{
	static struct gd_hooks hooks;
	struct vmig_guest guest;
	char err[128];
	uint64_t bits[64];
	if (gd_create(g, 16ull << 20, err, sizeof(err)))
		return -1;
	g->write_fault_ns = fault_ns;
	gd_iface(g, &hooks, &guest);
	if (guest.ops->dirty_start(guest.opaque, err, sizeof(err)))
		return -1;
	gd_mark_dirty(g, 9); /* dirty from the start: no fault */
	return g->write_faults == 0 ? guest.ops->dirty_harvest(guest.opaque, 0, bits, err, sizeof(err))
				    : -1;
}

TEST(a_write_faults_once_after_its_bit_was_cleared)
{
	/* as KVM write-protects a page when its dirty bit is cleared: the
	 * first write after costs a fault, the next ones are free */
	struct guest_double g;
	CHECK_EQ_INT(tracked_and_harvested(&g, 1000), 0);
	uint64_t t0 = now_ns();
	gd_mark_dirty(&g, 9);
	CHECK(now_ns() - t0 >= 1000);
	gd_mark_dirty(&g, 9);
	gd_mark_dirty(&g, 10);
	CHECK_EQ_INT(g.write_faults, 2); /* page 9 once, page 10 once */
	gd_destroy(&g);
}

TEST(writes_are_free_without_a_fault_cost)
{
	struct guest_double g;
	CHECK_EQ_INT(tracked_and_harvested(&g, 0), 0);
	gd_mark_dirty(&g, 9);
	CHECK_EQ_INT(g.write_faults, 0);
	gd_destroy(&g);
}

TEST(ram_past_3_gib_is_a_second_region_at_4_gib)
{
	struct guest_double g;
	char err[128];
	/* NORESERVE and never touched: nothing of it is allocated */
	CHECK_EQ_INT(gd_create(&g, 4ull << 30, err, sizeof(err)), 0);
	CHECK_EQ_INT(g.nr_regions, 2);
	CHECK(g.regions[0].r.gpa == 0 && g.regions[0].r.size == 3ull << 30);
	CHECK(g.regions[1].r.gpa == 4ull << 30 && g.regions[1].r.size == 1ull << 30);
	CHECK(g.regions[1].first == (3ull << 30) / VMIG_PAGE_SIZE);
	gd_destroy(&g);
}

struct inside {
	struct guest_double *g;
	int phase; /* atomic: 1 inside, 2 let go */
};

static void *stay_inside(void *arg)
{
	struct inside *in = arg;
	if (!gd_vcpu_enter(in->g, 0))
		return NULL;
	__atomic_store_n(&in->phase, 1, __ATOMIC_SEQ_CST);
	nanosleep(&(struct timespec){0, 50000000}, NULL); /* 50 ms in the guest */
	__atomic_store_n(&in->phase, 2, __ATOMIC_SEQ_CST);
	gd_vcpu_leave(in->g, 0);
	/* paused now: waits here until the end */
	gd_vcpu_enter(in->g, 0);
	return NULL;
}

TEST(pause_returns_once_no_vcpu_is_inside)
{
	struct guest_double g;
	struct gd_hooks hooks = {0};
	struct vmig_guest guest;
	struct inside in = {&g, 0};
	pthread_t t;
	char err[128];
	CHECK_EQ_INT(gd_create(&g, 16ull << 20, err, sizeof(err)), 0);
	CHECK_EQ_INT(gd_set_vcpus(&g, 1), 0);
	gd_iface(&g, &hooks, &guest);
	gd_run(&g);
	CHECK_EQ_INT(pthread_create(&t, NULL, stay_inside, &in), 0);
	while (__atomic_load_n(&in.phase, __ATOMIC_SEQ_CST) < 1)
		nanosleep(&(struct timespec){0, 1000000}, NULL);
	CHECK_EQ_INT(guest.ops->pause(guest.opaque), 0);
	int phase = __atomic_load_n(&in.phase, __ATOMIC_SEQ_CST);
	gd_stop(&g);
	pthread_join(t, NULL);
	gd_destroy(&g);
	CHECK_EQ_INT(phase, 2); /* it had left before pause returned */
}

/* Two module files as memfd doubles (no disk), 5000 bytes and one whole page, for a
 * 16 MiB double. */
struct mod_fixture {
	struct guest_double g;
	struct boot_module m[2];
	struct boot_modules mods;
	struct module_span span;
	char err[256];
};

static uint8_t mod_a[5000], mod_b[VMIG_PAGE_SIZE];

static int mod_fixture_init(struct mod_fixture *f)
{
	memset(mod_a, 0x11, sizeof(mod_a));
	memset(mod_b, 0x22, sizeof(mod_b));
	f->m[0] = module_double("a", mod_a, sizeof(mod_a));
	f->m[1] = module_double("b", mod_b, sizeof(mod_b));
	f->mods = (struct boot_modules){.count = 2, .m = f->m};
	f->err[0] = 0;
	if (f->m[0].fd < 0 || f->m[1].fd < 0)
		return -1;
	return gd_create(&f->g, 16ull << 20, f->err, sizeof(f->err));
}

static void mod_fixture_destroy(struct mod_fixture *f)
{
	gd_destroy(&f->g);
	module_double_close(f->m, 2);
}

TEST(modules_lie_page_aligned_one_after_the_other_tails_zero)
{
	struct mod_fixture f;
	CHECK_EQ_INT(mod_fixture_init(&f), 0);
	memset(f.g.ram, 0xaa, f.g.ram_bytes); /* what a fill left */
	CHECK_EQ_INT(modules_ram_load(&f.g, 100, &f.mods, &f.span, f.err, sizeof(f.err)), 0);
	const uint8_t *p = gd_page(&f.g, 100);
	bool a_ok = !memcmp(p, mod_a, sizeof(mod_a));
	bool tail_zero = p[sizeof(mod_a)] == 0 && p[2 * VMIG_PAGE_SIZE - 1] == 0;
	bool b_ok = !memcmp(gd_page(&f.g, 102), mod_b, sizeof(mod_b));
	bool after_kept = gd_page(&f.g, 103)[0] == 0xaa;
	uint64_t hash = modules_ram_hash(&f.g, &f.span);
	mod_fixture_destroy(&f);
	CHECK(a_ok && tail_zero && b_ok && after_kept);
	CHECK_EQ_INT(f.span.first, 100);
	CHECK_EQ_INT(f.span.pages, 3);
	CHECK(f.span.hash == hash);
}

TEST(a_changed_module_page_changes_their_hash)
{
	struct mod_fixture f;
	CHECK_EQ_INT(mod_fixture_init(&f), 0);
	CHECK_EQ_INT(modules_ram_load(&f.g, 0, &f.mods, &f.span, f.err, sizeof(f.err)), 0);
	gd_page(&f.g, 2)[4095] ^= 1;
	uint64_t hash = modules_ram_hash(&f.g, &f.span);
	mod_fixture_destroy(&f);
	CHECK(hash != f.span.hash);
}

TEST(modules_past_the_end_of_ram_are_refused_with_the_sizes)
{
	struct mod_fixture f;
	CHECK_EQ_INT(mod_fixture_init(&f), 0);
	int r = modules_ram_load(&f.g, f.g.pages - 2, &f.mods, &f.span, f.err, sizeof(f.err));
	mod_fixture_destroy(&f);
	CHECK_EQ_INT(r, -E2BIG);
	CHECK(strstr(f.err, "the modules take") != NULL);
}

RUN_TESTS("test_enginesim_parts", UT(state_round_trips), UT(state_cut_short_is_refused_with_a_reason),
	  UT(state_with_a_bad_vcpu_count_or_nul_is_refused),
	  UT(snapshot_hash_is_the_ram_before_the_guest_wrote),
	  UT(harvest_takes_the_bits_and_a_write_after_sets_them_again),
	  UT(a_write_faults_once_after_its_bit_was_cleared),
	  UT(writes_are_free_without_a_fault_cost), UT(ram_past_3_gib_is_a_second_region_at_4_gib),
	  UT(pause_returns_once_no_vcpu_is_inside),
	  UT(modules_lie_page_aligned_one_after_the_other_tails_zero),
	  UT(a_changed_module_page_changes_their_hash),
	  UT(modules_past_the_end_of_ram_are_refused_with_the_sizes))
