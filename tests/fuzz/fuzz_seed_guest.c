/* SPDX-License-Identifier: MIT */
/* The seed guest of fuzz_seed_guest.h. */
#include "fuzz_seed_guest.h"

#include <stdio.h>
#include <string.h>

#include "fuzz_stream_input.h"
#include "migration/ram.h"

void fuzz_seed_guest(struct fake_guest *g, bool data)
{
	fg_init(g, false);
	g->pages = FUZZ_GUEST_PAGES;
	if (!data)
		return;
	static const uint64_t pages[] = {1, 2, 3, FUZZ_GUEST_PAGES / 2 + 5, FUZZ_GUEST_PAGES - 1};
	for (size_t k = 0; k < sizeof(pages) / sizeof(pages[0]); k++)
		for (unsigned i = 0; i < 4096; i += 64)
			snprintf((char *)g->mem + pages[k] * 4096 + i, 64, "page %llu line %u",
				 (unsigned long long)pages[k], i / 64);
	snprintf(g->state, sizeof(g->state), "cpu state of the seed guest");
}

struct fake_guest *fuzz_destination_guest(vmig_log_fn log, enum vmig_log_level level)
{
	static struct fake_guest g;
	static bool ready;
	if (!ready) {
		fuzz_seed_guest(&g, false);
		vmig_set_log_handler(log, NULL, level);
		ready = true;
	}
	memset(g.mem, 0, (size_t)g.pages * VMIG_PAGE_SIZE);
	memset(g.state, 0, sizeof(g.state));
	g.resumed = g.paused = false;
	return &g;
}

bool fuzz_seed_digest_keyed(struct wire_digest *d, const struct wire_key *k)
{
	static uint64_t hash[FUZZ_GUEST_PAGES], plain;
	static bool ready;
	if (!ready) { /* the table the destination holds once it has it all */
		struct fake_guest g;
		fuzz_seed_guest(&g, true);
		for (unsigned i = 0; i < FUZZ_GUEST_PAGES; i++)
			hash[i] = page_hash(g.mem + (size_t)i * VMIG_PAGE_SIZE);
		plain = ram_digest_of(hash, FUZZ_GUEST_PAGES);
		fg_free(&g);
		ready = true;
	}
	if (d->digest != plain || d->total_pages != FUZZ_GUEST_PAGES)
		return false;
	d->digest = ram_digest_of_keyed(hash, FUZZ_GUEST_PAGES, k);
	return true;
}
