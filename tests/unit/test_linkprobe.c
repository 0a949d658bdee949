/* SPDX-License-Identifier: MIT */
/*
 * The link probe's page bookkeeping (migration/linkprobe.c) on a bare
 * migration struct: pass 1 is a probe of a few pages, the rest waits in
 * m->carry, and the pages pass 1 left out as hot wait one pass more.
 */
#include <stdlib.h>
#include <string.h>

#include "migration/linkprobe.h"
#include "migration/sender_internal.h"
#include "unittest.h"

#define RAM_PAGES 256
#define WORDS (RAM_PAGES / 64)
#define PROBE_PAGES 16

static unsigned count(const uint64_t *b)
{
	unsigned n = 0;
	for (unsigned w = 0; b && w < WORDS; w++)
		n += (unsigned)__builtin_popcountll(b[w]);
	return n;
}

/* One region of RAM_PAGES, all to be sent but pages 0-63, which pass 1
 * left out as hot (in m->carry, as hot_pages_leave_out leaves them); then the
 * probe held back. */
static int probe_with_a_hot_set(struct vmig_migration *m, bool hot)
{
	char err[64];
	memset(m, 0, sizeof(*m));
	m->ram.nr = 1;
	m->ram.pages[0] = m->ram.total_pages = RAM_PAGES;
	m->bits[0] = calloc(WORDS, 8);
	if (!m->bits[0])
		return -1;
	memset(m->bits[0], 0xff, WORDS * 8);
	if (hot) {
		if (!(m->carry[0] = calloc(WORDS, 8)))
			return -1;
		m->carry[0][0] = ~0ull;
		m->bits[0][0] = 0;
	}
	sender_link_probe_bytes = PROBE_PAGES * VMIG_PAGE_SIZE;
	return link_probe_hold_back(m, err, sizeof(err));
}

/* What the harvest after the probe pass does: the carry joins the pages
 * to send; the guest rewrote its hot pages meanwhile. */
static void harvest_after_the_probe(struct vmig_migration *m)
{
	for (unsigned w = 0; w < WORDS; w++)
		m->bits[0][w] = m->carry[0] ? m->carry[0][w] : 0;
	free(m->carry[0]);
	m->carry[0] = NULL;
	m->bits[0][0] = ~0ull;
}

static void free_migration(struct vmig_migration *m)
{
	free(m->bits[0]);
	free(m->carry[0]);
	free(m->hot_later[0]);
}

TEST(the_probe_sends_its_pages_and_the_rest_waits)
{
	struct vmig_migration m;
	CHECK_EQ_INT(probe_with_a_hot_set(&m, true), 0);
	CHECK_EQ_INT(count(m.bits[0]), PROBE_PAGES);
	CHECK_EQ_INT(count(m.carry[0]), RAM_PAGES - 64 - PROBE_PAGES);
	CHECK_EQ_INT(count(m.hot_later[0]), 64); /* apart from the rest */
	free_migration(&m);
}

TEST(the_pass_after_the_probe_leaves_the_hot_pages_out_too)
{
	struct vmig_migration m;
	CHECK_EQ_INT(probe_with_a_hot_set(&m, true), 0);
	harvest_after_the_probe(&m);
	link_probe_defer_hot(&m);
	CHECK(m.bits[0][0] == 0); /* not in the long pass that sends the rest */
	CHECK_EQ_INT(count(m.bits[0]), RAM_PAGES - 64 - PROBE_PAGES);
	CHECK(m.carry[0] && m.carry[0][0] == ~0ull); /* the next harvest adds them */
	CHECK_EQ_INT(count(m.carry[0]), 64);
	CHECK(m.hot_later[0] == NULL);
	free_migration(&m);
}

TEST(without_hot_pages_the_pass_after_the_probe_sends_all_it_has)
{
	struct vmig_migration m;
	CHECK_EQ_INT(probe_with_a_hot_set(&m, false), 0);
	harvest_after_the_probe(&m);
	link_probe_defer_hot(&m);
	/* the rest, and the pages the guest rewrote: no hot set was known */
	CHECK_EQ_INT(count(m.bits[0]), RAM_PAGES);
	CHECK(m.carry[0] == NULL);
	free_migration(&m);
}

/* A 1 GiB guest under the auto policy, probes of 64 MiB. */
static void auto_migration(struct vmig_migration *m)
{
	memset(m, 0, sizeof(*m));
	m->p.policy = VMIG_POLICY_AUTO;
	m->ram.total_pages = (1ull << 30) / VMIG_PAGE_SIZE;
	sender_link_probe_bytes = LINK_PROBE_BYTES;
}

/* No host figures at all (no probe here): idle not measured, probed. */
TEST(an_unannounced_link_is_probed)
{
	struct vmig_migration m;
	auto_migration(&m);
	CHECK(link_probe_wanted(&m));
}

TEST(a_pinned_codec_is_not_probed_for)
{
	struct vmig_migration m;
	auto_migration(&m);
	m.p.pinned = VMIG_PIN_CODEC;
	CHECK(!link_probe_wanted(&m));
}

TEST(a_capped_link_is_not_probed)
{
	struct vmig_migration m;
	auto_migration(&m);
	m.p.max_bandwidth = 100 << 20;
	CHECK(!link_probe_wanted(&m));
}

TEST(a_fixed_policy_is_not_probed_for)
{
	struct vmig_migration m;
	auto_migration(&m);
	m.p.policy = VMIG_POLICY_FIXED;
	CHECK(!link_probe_wanted(&m));
}

RUN_TESTS("linkprobe", UT(an_unannounced_link_is_probed), UT(a_pinned_codec_is_not_probed_for),
	  UT(a_capped_link_is_not_probed), UT(a_fixed_policy_is_not_probed_for),
	  UT(the_probe_sends_its_pages_and_the_rest_waits),
	  UT(the_pass_after_the_probe_leaves_the_hot_pages_out_too),
	  UT(without_hot_pages_the_pass_after_the_probe_sends_all_it_has))
