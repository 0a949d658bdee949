/* SPDX-License-Identifier: MIT */
/* policy/memfit: whether the caller's XBZRLE cache fits in what is free. */
#include <string.h>

#include "policy/memfit.h"
#include "unittest.h"

#define MIB (1ull << 20)

TEST(a_cache_with_the_work_memory_beside_it_fits)
{
	struct wire_host_info hi = {.mem_free_bytes = 80 * MIB};
	char why[512] = "";
	CHECK(xbzrle_cache_fits(&hi, 64 * MIB, why, sizeof(why)));
	CHECK_STR(why, "");
}

TEST(a_cache_without_room_for_the_work_memory_does_not_fit)
{
	struct wire_host_info hi = {.mem_free_bytes = 70 * MIB};
	char why[512] = "";
	CHECK(!xbzrle_cache_fits(&hi, 64 * MIB, why, sizeof(why)));
	CHECK(strstr(why, "XBZRLE cache of 64 MiB does not fit: 70 MiB is free here, and the "
			  "migration needs about 16 MiB more") != NULL);
	CHECK(strstr(why, "--xbzrle off") != NULL);
}

TEST(a_cgroup_limit_is_named_in_the_reason)
{
	struct wire_host_info hi = {.mem_free_bytes = 90 * MIB, .flags = WIRE_HOST_MEM_LIMIT};
	char why[512] = "";
	CHECK(!xbzrle_cache_fits(&hi, 512 * MIB, why, sizeof(why)));
	CHECK(strstr(why, "90 MiB is free here (under a cgroup memory limit)") != NULL);
}

TEST(unknown_free_memory_is_not_a_reason_to_refuse)
{
	struct wire_host_info hi = {0};
	char why[512] = "";
	CHECK(xbzrle_cache_fits(&hi, 512 * MIB, why, sizeof(why)));
}

TEST(no_cache_always_fits)
{
	struct wire_host_info hi = {.mem_free_bytes = 1 * MIB};
	char why[512] = "";
	CHECK(xbzrle_cache_fits(&hi, 0, why, sizeof(why)));
}

RUN_TESTS("memfit", UT(a_cache_with_the_work_memory_beside_it_fits),
	  UT(a_cache_without_room_for_the_work_memory_does_not_fit),
	  UT(a_cgroup_limit_is_named_in_the_reason), UT(unknown_free_memory_is_not_a_reason_to_refuse),
	  UT(no_cache_always_fits))
