/* SPDX-License-Identifier: MIT */
/*
 * The hot-page watch before pass 1 (migration/hotpages.c): its stepping
 * rule alone, and the watch on a bare migration struct over the TEST
 * DOUBLE guest (fake_guest.h).
 */
#include <stdlib.h>
#include <string.h>

#include "fake_guest.h"
#include "migration/hotpages.h"
#include "migration/sender_internal.h"
#include "unittest.h"

TEST(a_step_finding_a_mib_of_new_pages_goes_on)
{
	CHECK(hot_watch_goes_on(HOT_PROBE_MIN_NEW_PAGES, HOT_PROBE_STEP_MS));
}

TEST(a_step_finding_less_ends_the_watch)
{
	CHECK(!hot_watch_goes_on(HOT_PROBE_MIN_NEW_PAGES - 1, HOT_PROBE_STEP_MS));
}

TEST(the_watch_ends_at_its_length_whatever_it_finds)
{
	CHECK(!hot_watch_goes_on(1u << 20, HOT_PROBE_MS));
}

/* Pass 1's bitmap (every page) over the fake guest's two regions, the
 * guest's log on, then the watch. 0 or -errno. */
static int watch(struct vmig_migration *m, struct fake_guest *g)
{
	char err[128];
	memset(m, 0, sizeof(*m));
	m->g = (struct vmig_guest){&fg_ops, g};
	m->ram.nr = 2;
	for (unsigned i = 0; i < 2; i++) {
		m->ram.pages[i] = g->pages / 2;
		if (!(m->bits[i] = malloc(vmig_bitmap_words(g->pages / 2) * 8)))
			return -1;
		memset(m->bits[i], 0xff, vmig_bitmap_words(g->pages / 2) * 8);
	}
	int r = fg_ops.dirty_start(g, err, sizeof(err));
	return r ? r : hot_pages_leave_out(m, err, sizeof(err));
}

static unsigned left_out(const struct vmig_migration *m)
{
	unsigned n = 0;
	for (unsigned i = 0; i < 2; i++)
		for (uint64_t w = 0; m->carry[i] && w < vmig_bitmap_words(m->ram.pages[i]); w++)
			n += (unsigned)__builtin_popcountll(m->carry[i][w]);
	return n;
}

static void free_watch(struct vmig_migration *m)
{
	for (unsigned i = 0; i < 2; i++) {
		free(m->bits[i]);
		free(m->carry[i]);
	}
}

/* A guest that writes nothing is watched one step, not 200 ms: the link
 * no longer sits idle for it. */
TEST(a_guest_that_writes_nothing_is_watched_one_step)
{
	struct fake_guest g;
	struct vmig_migration m;
	fg_init(&g, true);
	CHECK_EQ_INT(watch(&m, &g), 0);
	CHECK_EQ_INT(m.hot_watch_steps, 1);
	CHECK_EQ_INT(left_out(&m), 0);
	free_watch(&m);
	fg_free(&g);
}

/* Whatever it finds, the watch leaves out every page the guest wrote
 * during it: a few pages, under a step's worth, still go to m->carry. */
TEST(pages_written_during_a_short_watch_are_left_out)
{
	struct fake_guest g;
	struct vmig_migration m;
	fg_init(&g, true);
	g.hot = 16;
	fg_start_writer(&g);
	CHECK_EQ_INT(watch(&m, &g), 0);
	fg_stop_writer(&g);
	CHECK_EQ_INT(m.hot_watch_steps, 1); /* 16 pages are under a step's worth */
	CHECK(left_out(&m) > 0 && left_out(&m) <= 16);
	free_watch(&m);
	fg_free(&g);
}

/* A guest writing all the while: one short look, then the rest of the
 * watch in one step, two harvests in all. */
TEST(a_guest_writing_many_pages_is_watched_in_two_steps)
{
	struct fake_guest g;
	struct vmig_migration m;
	fg_init(&g, true);
	unsigned was = sender_hot_probe_ms, was_step = sender_hot_step_ms;
	fg_start_writer(&g);
	/* the writer dirties about 8 pages a ms: over a 300 ms first step,
	 * far more than HOT_PROBE_MIN_NEW_PAGES of the 4096 */
	sender_hot_probe_ms = 600;
	sender_hot_step_ms = 300;
	int r = watch(&m, &g);
	sender_hot_probe_ms = was;
	sender_hot_step_ms = was_step;
	fg_stop_writer(&g);
	CHECK_EQ_INT(r, 0);
	CHECK_EQ_INT(m.hot_watch_steps, 2);
	free_watch(&m);
	fg_free(&g);
}

RUN_TESTS("hotpages", UT(a_step_finding_a_mib_of_new_pages_goes_on),
	  UT(a_step_finding_less_ends_the_watch),
	  UT(the_watch_ends_at_its_length_whatever_it_finds),
	  UT(a_guest_that_writes_nothing_is_watched_one_step),
	  UT(pages_written_during_a_short_watch_are_left_out),
	  UT(a_guest_writing_many_pages_is_watched_in_two_steps))
