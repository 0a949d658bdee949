/* SPDX-License-Identifier: MIT */
#include <errno.h>

#include "common/parse.h"
#include "unittest.h"

TEST(sizes)
{
	uint64_t v;
	CHECK_EQ_INT(parse_size("512", 1 << 20, &v), 0);
	CHECK_EQ_INT(v, 512ull << 20);
	CHECK_EQ_INT(parse_size("1G", 1, &v), 0);
	CHECK_EQ_INT(v, 1ull << 30);
	CHECK_EQ_INT(parse_size("64k", 1, &v), 0);
	CHECK_EQ_INT(v, 65536);
	CHECK_EQ_INT(parse_size("1.5G", 1, &v), 0);
	CHECK_EQ_INT(v, 3ull << 29);
	CHECK_EQ_INT(parse_size("256MiB", 1, &v), 0);
	CHECK_EQ_INT(v, 256ull << 20);
	CHECK_EQ_INT(parse_size("100MB", 1, &v), 0);
	CHECK_EQ_INT(v, 100ull << 20);
}

/* Found by fuzz_cli_values: frac_num * unit overflowed 64 bits for a
 * TiB with eight or nine fraction digits, and the size came out wrong. */
TEST(fine_fraction_of_a_tebibyte)
{
	uint64_t v;
	CHECK_EQ_INT(parse_size("1.99999999T", 1, &v), 0);
	CHECK_EQ_INT(v, 2199023244556ull);
	CHECK_EQ_INT(parse_size("0.999999999TiB", 1, &v), 0);
	CHECK_EQ_INT(v, 1099511626676ull);
	CHECK_EQ_INT(parse_size("0.5T", 1, &v), 0);
	CHECK_EQ_INT(v, 1ull << 39);
}

TEST(bad_sizes)
{
	uint64_t v;
	CHECK_EQ_INT(parse_size("", 1, &v), -EINVAL);
	CHECK_EQ_INT(parse_size("G", 1, &v), -EINVAL);
	CHECK_EQ_INT(parse_size("12X", 1, &v), -EINVAL);
	CHECK_EQ_INT(parse_size("-1", 1, &v), -EINVAL);
	CHECK_EQ_INT(parse_size("1.", 1, &v), -EINVAL);
	CHECK_EQ_INT(parse_size("1GG", 1, &v), -EINVAL);
	CHECK_EQ_INT(parse_size("99999999999999999999", 1, &v), -ERANGE);
	CHECK_EQ_INT(parse_size("99999999999T", 1, &v), -ERANGE);
}

TEST(integers)
{
	uint64_t v;
	CHECK_EQ_INT(parse_u64("4", 1, 64, &v), 0);
	CHECK_EQ_INT(v, 4);
	CHECK_EQ_INT(parse_u64("0", 1, 64, &v), -ERANGE);
	CHECK_EQ_INT(parse_u64("65", 1, 64, &v), -ERANGE);
	CHECK_EQ_INT(parse_u64("4x", 1, 64, &v), -EINVAL);
	CHECK_EQ_INT(parse_u64("", 1, 64, &v), -EINVAL);
	CHECK_EQ_INT(parse_u64(" 4", 1, 64, &v), -EINVAL);
}

TEST(format)
{
	char buf[32];
	CHECK_STR(format_size(1ull << 30, buf, sizeof(buf)), "1 GiB");
	CHECK_STR(format_size(1536ull << 20, buf, sizeof(buf)), "1.5 GiB");
	CHECK_STR(format_size(100, buf, sizeof(buf)), "100 B");
}

RUN_TESTS("parse", UT(sizes), UT(fine_fraction_of_a_tebibyte), UT(bad_sizes), UT(integers), UT(format))
