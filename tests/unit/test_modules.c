/* SPDX-License-Identifier: MIT */
/*
 * Boot modules (`vmig run --module`): the placement as a pure function,
 * and opening and reading the files, whose failures must name the file.
 * No KVM.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unittest.h"
#include "guest_abi.h"
#include "vmm/modules.h"

#define IMAGE_END 0x1a3456ull /* not page aligned, like a real .bss end */
#define PAGE 4096ull

static int layout(uint64_t ram_end, unsigned n, const uint64_t *sizes, struct module_place *out,
		  uint64_t *top, char *err)
{
	uint64_t lens[VMIG_MAX_MODULES + 1];
	for (unsigned i = 0; i < n && i <= VMIG_MAX_MODULES; i++)
		lens[i] = 5;
	struct module_layout_req req = {IMAGE_END, ram_end, n, sizes, lens};
	return module_layout(&req, out, top, err, 256);
}

TEST(layout_places_modules_page_aligned_in_order)
{
	const uint64_t sizes[] = {10000, PAGE, 1};
	struct module_place p[3];
	uint64_t top;
	char err[256];

	CHECK_EQ_INT(layout(64 << 20, 3, sizes, p, &top, err), 0);
	CHECK_EQ_INT(p[0].start, 0x1a4000);
	CHECK_EQ_INT(p[0].end, 0x1a4000 + 10000);
	CHECK_EQ_INT(p[1].start, 0x1a4000 + 3 * PAGE); /* 10000 B take 3 pages */
	CHECK_EQ_INT(p[1].end, p[1].start + PAGE);
	CHECK_EQ_INT(p[2].start, p[1].end);
	CHECK_EQ_INT(top, p[2].start + PAGE);
	/* names one after the other, each with its NUL */
	CHECK_EQ_INT(p[0].string, VMIG_DIRECT_MODNAMES);
	CHECK_EQ_INT(p[2].string, VMIG_DIRECT_MODNAMES + 12);
}

TEST(layout_never_overlaps_the_image)
{
	uint64_t sizes[8];
	struct module_place p[8];
	uint64_t top;
	char err[256];

	for (unsigned i = 0; i < 8; i++)
		sizes[i] = (i * 7919) % 20000; /* empty ones too */
	CHECK_EQ_INT(layout(64 << 20, 8, sizes, p, &top, err), 0);
	for (unsigned i = 0; i < 8; i++) {
		CHECK(p[i].start >= IMAGE_END);
		CHECK(p[i].start % PAGE == 0);
		CHECK(i == 0 || p[i].start >= p[i - 1].end);
	}
	CHECK(top >= p[7].end && top % PAGE == 0);
}

TEST(layout_with_no_modules_is_the_image_end)
{
	struct module_place p[1];
	uint64_t top;
	char err[256];

	CHECK_EQ_INT(layout(64 << 20, 0, NULL, p, &top, err), 0);
	CHECK_EQ_INT(top, 0x1a4000);
}

TEST(layout_refuses_a_set_larger_than_ram)
{
	const uint64_t sizes[] = {8 << 20, 8 << 20};
	struct module_place p[2];
	uint64_t top;
	char err[256];

	/* exactly fits: 16 MiB from 0x1a4000 */
	CHECK_EQ_INT(layout(0x1a4000 + (16 << 20), 2, sizes, p, &top, err), 0);
	CHECK_EQ_INT(layout(0x1a4000 + (16 << 20) - 1, 2, sizes, p, &top, err), -E2BIG);
	CHECK_STR(err, "the modules do not fit in guest RAM: they need 16 MiB from 0x1a4000 "
		       "(above the guest image), RAM there ends at 0x11a3fff");
}

TEST(layout_refuses_sizes_that_would_wrap)
{
	const uint64_t sizes[] = {PAGE, UINT64_MAX - PAGE};
	struct module_place p[2];
	uint64_t top;
	char err[256];

	CHECK_EQ_INT(layout(3ull << 30, 2, sizes, p, &top, err), -E2BIG);
	CHECK(strstr(err, "do not fit in guest RAM") != NULL);
}

TEST(layout_keeps_below_4_gib)
{
	const uint64_t sizes[] = {4ull << 30};
	struct module_place p[1];
	uint64_t top;
	char err[256];

	/* RAM beyond 4 GiB does not help: the list's addresses are 32-bit */
	CHECK_EQ_INT(layout(8ull << 30, 1, sizes, p, &top, err), -E2BIG);
	CHECK(strstr(err, "RAM there ends at 0x100000000") != NULL);
}

TEST(layout_refuses_too_many_modules)
{
	uint64_t sizes[VMIG_MAX_MODULES + 1] = {0};
	struct module_place p[VMIG_MAX_MODULES + 1];
	uint64_t top;
	char err[256];

	CHECK_EQ_INT(layout(64 << 20, VMIG_MAX_MODULES, sizes, p, &top, err), 0);
	CHECK_EQ_INT(layout(64 << 20, VMIG_MAX_MODULES + 1, sizes, p, &top, err), -E2BIG);
	CHECK_STR(err, "65 modules given; at most 64");
}

TEST(layout_refuses_names_too_long)
{
	const uint64_t sizes[] = {1, 1};
	const uint64_t lens[] = {VMIG_MODNAMES_SIZE / 2, VMIG_MODNAMES_SIZE / 2};
	struct module_place p[2];
	uint64_t top;
	char err[256];
	struct module_layout_req req = {IMAGE_END, 64 << 20, 2, sizes, lens};

	CHECK_EQ_INT(module_layout(&req, p, &top, err, sizeof(err)), -E2BIG);
	CHECK_STR(err, "module names take more than 16384 bytes");
}

static char *write_temp(const char *bytes, size_t len)
{
	static char path[64];
	strcpy(path, "/tmp/vmig-module-XXXXXX");
	int fd = mkstemp(path);
	if (fd < 0 || write(fd, bytes, len) != (ssize_t)len)
		return NULL;
	close(fd);
	return path;
}

TEST(open_sizes_each_file_and_read_into_copies_it)
{
	char a[64], b[64], list[140], err[256], got[4096];
	struct boot_modules m;

	snprintf(a, sizeof(a), "%s", write_temp("hello", 5));
	snprintf(b, sizeof(b), "%s", write_temp("", 0));
	snprintf(list, sizeof(list), "%s,%s", a, b);
	CHECK_EQ_INT(boot_modules_open(list, &m, err, sizeof(err)), 0);
	unlink(a);
	unlink(b);
	CHECK_EQ_INT(m.count, 2);
	CHECK_STR(m.m[0].name, a);
	CHECK_EQ_INT(m.m[0].size, 5);
	CHECK_STR(m.m[1].name, b);
	CHECK_EQ_INT(m.m[1].size, 0);
	int r = boot_module_read_into(&m.m[0], (uint8_t *)got, err, sizeof(err));
	boot_modules_close(&m);
	CHECK_EQ_INT(r, 0);
	CHECK(!memcmp(got, "hello", 5));
}

/* A module's last page is all its own: what the RAM held after its bytes
 * is zeroed, as guestload's module check expects. */
TEST(read_into_zeroes_the_rest_of_the_last_page)
{
	char path[64], err[256];
	uint8_t got[4096];
	struct boot_modules m;

	memset(got, 0xaa, sizeof(got));
	snprintf(path, sizeof(path), "%s", write_temp("hello", 5));
	CHECK_EQ_INT(boot_modules_open(path, &m, err, sizeof(err)), 0);
	unlink(path);
	int r = boot_module_read_into(&m.m[0], got, err, sizeof(err));
	boot_modules_close(&m);
	CHECK_EQ_INT(r, 0);
	CHECK(!memcmp(got, "hello", 5));
	bool rest_zero = true;
	for (size_t i = 5; i < sizeof(got); i++)
		rest_zero = rest_zero && got[i] == 0;
	CHECK(rest_zero);
}

/* The layout is planned on the size at open: a file cut short before it
 * is read must fail the boot, not leave the module's tail as whatever
 * the RAM held. */
TEST(read_into_refuses_a_file_that_shrank)
{
	char path[64], err[256];
	uint8_t got[4096];
	struct boot_modules m;

	snprintf(path, sizeof(path), "%s", write_temp("hello", 5));
	CHECK_EQ_INT(boot_modules_open(path, &m, err, sizeof(err)), 0);
	int t = truncate(path, 2);
	unlink(path);
	int r = boot_module_read_into(&m.m[0], got, err, sizeof(err));
	boot_modules_close(&m);
	CHECK_EQ_INT(t, 0);
	CHECK_EQ_INT(r, -EIO);
	CHECK(strstr(err, "the file shrank since it was opened") != NULL);
}

TEST(open_refuses_a_missing_file)
{
	char err[256];
	struct boot_modules m;

	CHECK_EQ_INT(boot_modules_open("/nonexistent/a.bin", &m, err, sizeof(err)), -ENOENT);
	CHECK_STR(err, "cannot open module '/nonexistent/a.bin': No such file or directory");
	CHECK_EQ_INT(m.count, 0);
}

TEST(open_refuses_a_directory)
{
	char err[256];
	struct boot_modules m;

	CHECK_EQ_INT(boot_modules_open("/tmp", &m, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "module '/tmp' is not a regular file");
}

TEST(open_refuses_an_unreadable_file)
{
	char err[256], path[64];
	struct boot_modules m;

	if (geteuid() == 0)
		SKIP_TEST("running as root: file permissions do not stop root from reading");
	snprintf(path, sizeof(path), "%s", write_temp("x", 1));
	chmod(path, 0);
	int r = boot_modules_open(path, &m, err, sizeof(err));
	unlink(path);
	CHECK_EQ_INT(r, -EACCES);
	CHECK(strstr(err, "cannot open module") && strstr(err, "Permission denied"));
}

TEST(open_refuses_an_empty_name)
{
	char err[256];
	struct boot_modules m;

	CHECK_EQ_INT(boot_modules_open("/tmp/a,,/tmp/b", &m, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "empty file name in module list '/tmp/a,,/tmp/b'");
	CHECK_EQ_INT(boot_modules_open("", &m, err, sizeof(err)), -EINVAL);
}

TEST(precheck_refuses_a_set_larger_than_the_vm)
{
	char err[256];
	struct boot_module one = {.name = "big.bin", .fd = -1, .size = (15 << 20) + 1};
	struct boot_modules m = {1, &one};

	CHECK_EQ_INT(boot_modules_precheck(&m, 18 << 20, err, sizeof(err)), 0);
	CHECK_EQ_INT(boot_modules_precheck(&m, 16 << 20, err, sizeof(err)), -E2BIG);
	CHECK(strstr(err, "do not fit in guest RAM: they need 16 MiB") != NULL);
}

RUN_TESTS("modules", UT(layout_places_modules_page_aligned_in_order),
	  UT(layout_never_overlaps_the_image), UT(layout_with_no_modules_is_the_image_end),
	  UT(layout_refuses_a_set_larger_than_ram), UT(layout_refuses_sizes_that_would_wrap),
	  UT(layout_keeps_below_4_gib), UT(layout_refuses_too_many_modules),
	  UT(layout_refuses_names_too_long), UT(open_sizes_each_file_and_read_into_copies_it),
	  UT(read_into_refuses_a_file_that_shrank), UT(read_into_zeroes_the_rest_of_the_last_page),
	  UT(open_refuses_a_missing_file), UT(open_refuses_a_directory),
	  UT(open_refuses_an_unreadable_file), UT(open_refuses_an_empty_name),
	  UT(precheck_refuses_a_set_larger_than_the_vm))
