/* SPDX-License-Identifier: MIT */
/* The migrate command's JSON arguments as the engine's parameters
 * (vmm/migrate_args.c): what each pins under the auto policy. */
#include <errno.h>
#include <jansson.h>

#include "unittest.h"
#include "vmm/migrate_args.h"

/* migrate_params over the arguments in `text`; <0 with err on refusal. */
static int params(const char *text, struct vmig_migrate_params *p, char *err, size_t errlen)
{
	json_t *args = json_loads(text, 0, NULL);
	struct migrate_args a = {0};
	int r = args ? control_args_unpack("migrate", args, migrate_spec, &a, err, errlen) : -100;
	if (!r)
		r = migrate_params(&a, p, err, errlen);
	json_decref(args); /* a's strings point into args: p's too, only read above */
	return r;
}

/* The arguments in `text` are accepted and pin XBZRLE with this cache (0: off). */
static bool xbzrle_pinned_with(const char *text, uint64_t cache)
{
	struct vmig_migrate_params p = {0};
	char err[256];
	return params(text, &p, err, sizeof(err)) == 0 && (p.pinned & VMIG_PIN_XBZRLE) &&
	       p.xbzrle_cache_bytes == cache;
}

TEST(xbzrle_off_pins_it_off)
{
	CHECK(
	    xbzrle_pinned_with("{\"uri\":\"tcp:h:1\",\"policy\":\"auto\",\"xbzrle\":\"off\"}", 0));
}

TEST(xbzrle_on_without_a_size_gets_the_default_cache)
{
	CHECK(xbzrle_pinned_with("{\"uri\":\"tcp:h:1\",\"xbzrle\":\"on\"}", 64ull << 20));
}

TEST(a_cache_size_alone_pins_xbzrle_on)
{
	CHECK(xbzrle_pinned_with("{\"uri\":\"tcp:h:1\",\"xbzrle_cache\":1048576}", 1048576));
}

TEST(no_xbzrle_argument_leaves_it_to_the_planner)
{
	struct vmig_migrate_params p = {0};
	char err[256];
	CHECK_EQ_INT(params("{\"uri\":\"tcp:h:1\",\"policy\":\"auto\"}", &p, err, sizeof(err)), 0);
	CHECK(!(p.pinned & VMIG_PIN_XBZRLE));
}

TEST(xbzrle_off_with_a_cache_size_is_refused)
{
	struct vmig_migrate_params p = {0};
	char err[256];
	CHECK_EQ_INT(params("{\"uri\":\"tcp:h:1\",\"xbzrle\":\"off\",\"xbzrle_cache\":1048576}", &p,
			    err, sizeof(err)),
		     -EINVAL);
	CHECK_STR(err, "xbzrle is off but an xbzrle_cache is given");
}

TEST(xbzrle_neither_on_nor_off_is_refused)
{
	struct vmig_migrate_params p = {0};
	char err[256];
	CHECK_EQ_INT(params("{\"uri\":\"tcp:h:1\",\"xbzrle\":\"yes\"}", &p, err, sizeof(err)),
		     -EINVAL);
	CHECK_STR(err, "xbzrle wants on or off");
}

RUN_TESTS("migrate_args", UT(xbzrle_off_pins_it_off),
	  UT(xbzrle_on_without_a_size_gets_the_default_cache),
	  UT(a_cache_size_alone_pins_xbzrle_on), UT(no_xbzrle_argument_leaves_it_to_the_planner),
	  UT(xbzrle_off_with_a_cache_size_is_refused), UT(xbzrle_neither_on_nor_off_is_refused))
