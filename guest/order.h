/* SPDX-License-Identifier: MIT */
/*
 * The order a vCPU visits its slice of the working set in one pass:
 * x = 0..2^bits-1 through a bijection of [0, 2^bits), keeping the images
 * below n (in plain order for pattern=seq). Multiply by an odd number, add
 * and xorshift are each bijective modulo 2^bits. Shared by guestload
 * (worker.c) and the host's test double of it (bench/enginesim), so both
 * dirty the same pages in the same order.
 */
#ifndef GUESTLOAD_ORDER_H
#define GUESTLOAD_ORDER_H

#include <stdint.h>

#include "rng.h"

struct order {
	uint64_t n, x, mask, a, b, c;
	unsigned shift;
	int random;
};

static inline void order_init(struct order *o, uint64_t n, int random, uint64_t seed)
{
	unsigned bits = 1;
	while (bits < 63 && (1ull << bits) < n)
		bits++;
	*o = (struct order){.n = n, .mask = (1ull << bits) - 1, .random = random};
	o->a = rng_next(&seed) | 1;
	o->b = rng_next(&seed) | 1;
	o->c = rng_next(&seed);
	o->shift = bits / 2 + 1;
}

/* The next index, or UINT64_MAX once the pass is over. */
static inline uint64_t order_next(struct order *o)
{
	if (!o->random)
		return o->x < o->n ? o->x++ : UINT64_MAX;
	while (o->x <= o->mask) {
		uint64_t y = (o->x++ * o->a + o->c) & o->mask;
		y ^= y >> o->shift;
		y = (y * o->b) & o->mask;
		if (y < o->n)
			return y;
	}
	return UINT64_MAX;
}

/* A pass's seed, different for every pass and vCPU. */
static inline uint64_t order_seed(uint64_t seed, uint64_t pass, unsigned vcpu)
{
	return seed ^ mix64(pass * 0x100 + vcpu);
}

#endif
