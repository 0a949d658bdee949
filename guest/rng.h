/* SPDX-License-Identifier: MIT */
/* Small, fast, deterministic pseudo-random numbers (splitmix64). */
#ifndef GUESTLOAD_RNG_H
#define GUESTLOAD_RNG_H

#include <stdint.h>

/* A good 64-bit finaliser: every input bit affects every output bit. */
static inline uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline uint64_t rng_next(uint64_t *state)
{
	*state += 0x9e3779b97f4a7c15ull;
	return mix64(*state);
}

#endif
