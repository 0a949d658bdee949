/* SPDX-License-Identifier: MIT */
/*
 * Page contents that compress like the real thing, generated fast enough
 * to fill a GiB in well under a second:
 *  - text: words from a built-in vocabulary, common words more likely,
 *    with commas, full stops, capitals and newlines (gzip: ~3x);
 *  - binary: x86-64 instruction shapes, small integers and pointers that
 *    share their high bytes, a little noise (gzip: ~2x);
 *  - random: incompressible.
 * Generators emit chunks of up to CHUNK bytes with unaligned 8-byte stores;
 * the last few bytes of a buffer go through a small bounce buffer.
 */
#include "fill.h"

#include "rng.h"

#define CHUNK 16

static inline void st64(uint8_t *p, uint64_t v)
{
	__builtin_memcpy(p, &v, 8);
}

/* ---- text ---- */

struct word {
	char w[15];    /* the word and a space, zero-padded */
	uint8_t len;   /* bytes used, space included */
};
#define W(s) {s " ", sizeof(s)}

/* Roughly by frequency: the generator picks low indices more often. */
static const struct word vocab[] = {
	W("the"), W("of"), W("and"), W("to"), W("a"), W("in"), W("is"), W("it"),
	W("you"), W("that"), W("he"), W("was"), W("for"), W("on"), W("are"), W("with"),
	W("as"), W("his"), W("they"), W("be"), W("at"), W("one"), W("have"), W("this"),
	W("from"), W("or"), W("had"), W("by"), W("word"), W("but"), W("what"), W("some"),
	W("we"), W("can"), W("out"), W("other"), W("were"), W("all"), W("there"), W("when"),
	W("up"), W("use"), W("your"), W("how"), W("said"), W("an"), W("each"), W("she"),
	W("which"), W("do"), W("their"), W("time"), W("if"), W("will"), W("way"), W("about"),
	W("many"), W("then"), W("them"), W("write"), W("would"), W("like"), W("so"), W("these"),
	W("her"), W("long"), W("make"), W("thing"), W("see"), W("him"), W("two"), W("has"),
	W("look"), W("more"), W("day"), W("could"), W("go"), W("come"), W("did"), W("number"),
	W("sound"), W("no"), W("most"), W("people"), W("my"), W("over"), W("know"), W("water"),
	W("than"), W("call"), W("first"), W("who"), W("may"), W("down"), W("side"), W("been"),
	W("now"), W("find"), W("any"), W("new"), W("work"), W("part"), W("take"), W("get"),
	W("place"), W("made"), W("live"), W("where"), W("after"), W("back"), W("little"), W("only"),
	W("round"), W("man"), W("year"), W("came"), W("show"), W("every"), W("good"), W("me"),
	W("give"), W("our"), W("under"), W("name"), W("very"), W("through"), W("just"), W("form"),
	W("sentence"), W("great"), W("think"), W("say"), W("help"), W("low"), W("line"),
	W("turn"), W("cause"), W("much"), W("mean"), W("before"), W("move"), W("right"),
	W("old"), W("too"), W("same"), W("tell"), W("does"), W("set"), W("three"), W("want"),
	W("air"), W("well"), W("also"), W("play"), W("small"), W("end"), W("put"), W("home"),
	W("read"), W("hand"), W("large"), W("add"), W("even"), W("land"),
	W("here"), W("must"), W("big"), W("high"), W("such"), W("follow"), W("act"), W("why"),
	W("ask"), W("men"), W("change"), W("went"), W("light"), W("kind"), W("off"), W("need"),
	W("house"), W("picture"), W("try"), W("us"), W("again"), W("animal"), W("point"), W("mother"),
	W("world"), W("near"), W("build"), W("self"), W("earth"), W("father"), W("head"), W("stand"),
	W("own"), W("page"), W("should"), W("country"), W("found"), W("answer"), W("school"), W("grow"),
	W("study"), W("still"), W("learn"), W("plant"), W("cover"), W("food"), W("sun"), W("four"),
	W("between"), W("state"), W("keep"), W("eye"), W("never"), W("last"), W("let"), W("thought"),
	W("city"), W("tree"), W("hard"), W("start"), W("might"), W("story"),
	W("saw"), W("far"), W("sea"), W("left"), W("late"), W("run"), W("while"),
	W("press"), W("close"), W("night"), W("real"), W("life"), W("few"), W("memory"),
	W("government"), W("information"), W("development"), W("understanding"), W("migration"),
	W("experience"), W("particular"), W("important"), W("everything"), W("nevertheless"),
	W("machine"), W("together"), W("children"), W("question"), W("something"), W("beautiful"),
};

_Static_assert(sizeof(vocab) / sizeof(vocab[0]) == 256, "index is 8 bits");

struct text_state {
	uint64_t rng;
	int cap; /* capitalise the next word (after a full stop) */
};

static inline unsigned text_step(uint8_t *p, struct text_state *g)
{
	uint64_t r = rng_next(&g->rng);
	/* The product of two uniform bytes favours small indices (Zipf-like). */
	unsigned idx = ((unsigned)(r & 0xff) * (unsigned)((r >> 8) & 0xff)) >> 8;
	const struct word *w = &vocab[idx];
	uint64_t lo, hi;
	unsigned n = w->len, punct = (r >> 16) & 0xff;

	__builtin_memcpy(&lo, w->w, 8);
	__builtin_memcpy(&hi, w->w + 8, 8);
	if (g->cap) {
		lo &= ~0x20ull; /* vocabulary words start with a lowercase letter */
		g->cap = 0;
	}
	st64(p, lo);
	st64(p + 8, hi); /* byte 15 (the length) is overwritten or dropped */
	if (punct < 20) {
		p[n - 1] = ',';
		p[n++] = ' ';
	} else if (punct < 36) {
		p[n - 1] = '.';
		p[n++] = punct < 24 ? '\n' : ' ';
		g->cap = 1;
	}
	return n;
}

/* ---- binary ---- */

/* An instruction or data shape: bytes (little-endian), random bits, length. */
struct shape {
	uint64_t bytes, rand;
	unsigned len;
};

static const struct shape shapes[32] = {
	{0x0000000000c08948ull, 0x00000000003f0000ull, 3}, /* mov %r64,%r64 */
	{0x0000000000458b48ull, 0x00000000f8380000ull, 4}, /* mov -x(%rbp),%r64 */
	{0x0000000000458948ull, 0x00000000f8380000ull, 4}, /* mov %r64,-x(%rbp) */
	{0x000000ffff0000e8ull, 0x0000000000ffff00ull, 5}, /* call rel32 (backwards) */
	{0x0000000000441f0full, 0x0000000000000000ull, 5}, /* nopl 0(%rax,%rax) */
	{0x0000000000000050ull, 0x0000000000000007ull, 1}, /* push %r */
	{0x0000000000000058ull, 0x0000000000000007ull, 1}, /* pop %r */
	{0x0000000000ec8348ull, 0x0000000078000000ull, 4}, /* sub $x,%rsp */
	{0x000000000074c085ull, 0x000000003f000000ull, 4}, /* test;je */
	{0x000000000000c031ull, 0x0000000000003f00ull, 2}, /* xor %r32,%r32 */
	{0x00000000000000b8ull, 0x000000000000ff07ull, 5}, /* mov $imm,%r32 */
	{0x00000000003d8d48ull, 0x00000fffff000000ull, 7}, /* lea rel32(%rip),%rdi */
	{0x00000000000000e9ull, 0x0000000000ffff00ull, 5}, /* jmp rel32 */
	{0x0000000000005c41ull, 0x0000000000000300ull, 2}, /* pop %r12-15 */
	{0x000000000000058bull, 0x00000000ffff3800ull, 6}, /* mov rel32(%rip),%r32 */
	{0x00000000ccccccc3ull, 0x0000000000000000ull, 4}, /* ret; int3 padding */
	{0x0000000000c0c748ull, 0x00000000ff070000ull, 7}, /* mov $imm,%r64 */
	{0x0000000000000074ull, 0x0000000000003f01ull, 2}, /* je/jne short */
	{0x0000000000c08548ull, 0x00000000003f0000ull, 3}, /* test %r64,%r64 */
	{0x0000000000c0b60full, 0x00000000003f0000ull, 3}, /* movzbl */
	{0x0000000000478b48ull, 0x0000000078380000ull, 4}, /* mov x(%rdi),%r64 */
	{0x0000000000c48348ull, 0x0000000078000000ull, 4}, /* add $x,%rsp */
	{0xffffffff81000000ull, 0x00000000003ffff8ull, 8}, /* kernel text pointer */
	{0xffff888000000000ull, 0x00000000fffff000ull, 8}, /* direct-map pointer */
	{0x00007f5a3c000000ull, 0x0000000000fffff0ull, 8}, /* user heap pointer */
	{0x0000000000000000ull, 0x00000000000000ffull, 4}, /* small int32 */
	{0x0000000000000000ull, 0x00000000000003ffull, 8}, /* small int64 */
	{0x0000000000000000ull, 0x0000000000000000ull, 8}, /* zero */
	{0x0000000000000000ull, 0x0000000000000000ull, 8}, /* zero */
	{0x0000000000000001ull, 0x0000000000000000ull, 4}, /* flag */
	{0x0000000000000000ull, 0x000000000000ffffull, 8}, /* small int64 */
	{0x0000000000000000ull, 0x000000000000ffffull, 4}, /* 16-bit value */
};

static inline unsigned binary_step(uint8_t *p, uint64_t *rng)
{
	uint64_t r = rng_next(rng);
	const struct shape *s = &shapes[r >> 59];
	st64(p, s->bytes ^ (r & s->rand));
	return s->len;
}

/* ---- driver ---- */

/* Runs step(ptr, st) until [p, end) is full; the tail goes through a bounce buffer. */
#define GENERATE(p, end, step, st)                                           \
	do {                                                                 \
		while ((end) - (p) >= CHUNK)                                 \
			(p) += step((p), (st));                              \
		while ((p) < (end)) {                                        \
			uint8_t tmp_[CHUNK] = {0}; /* -O3 cannot see step fill it */ \
			unsigned n_ = step(tmp_, (st));                      \
			for (unsigned i_ = 0; i_ < n_ && (p) < (end); i_++)  \
				*(p)++ = tmp_[i_];                           \
		}                                                            \
	} while (0)

void fill_bytes(enum fill_kind kind, void *dst, unsigned len, uint64_t seed)
{
	uint8_t *p = dst, *end = p + len;
	uint64_t rng = mix64(seed ^ 0x5eed5eed5eedull);

	switch (kind) {
	case FILL_TEXT: {
		struct text_state g = {rng, 1};
		GENERATE(p, end, text_step, &g);
		break;
	}
	case FILL_BINARY:
		GENERATE(p, end, binary_step, &rng);
		break;
	case FILL_RANDOM:
		for (; p < end; p += 8)
			st64(p, rng_next(&rng));
		break;
	default:
		for (; p < end; p += 8)
			st64(p, 0);
		break;
	}
}

enum fill_kind fill_kind_of(enum fill_kind fill, uint64_t pageno)
{
	if (fill != FILL_MIXED && fill != FILL_MODULES)
		return fill;
	/* 30% zero, 35% text, 25% binary, 10% random. */
	unsigned h = (unsigned)(mix64(pageno ^ 0x6d69786564ull) % 100);
	if (h < 30)
		return FILL_ZERO;
	if (h < 65)
		return FILL_TEXT;
	if (h < 90)
		return FILL_BINARY;
	return FILL_RANDOM;
}
