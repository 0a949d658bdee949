/* SPDX-License-Identifier: MIT */
/* The VMM's parser of guestload's serial lines. */
#include "unittest.h"
#include "guest_abi.h"
#include "vmm/guestdev.h"

TEST(progress_line)
{
	struct guest_progress p = {0};
	CHECK(guest_progress_parse(&p, "guestload: t=12s passes=340 dirty=812.3MiB/s errors=0"));
	CHECK(p.seen);
	CHECK_EQ_INT(p.t_s, 12);
	CHECK_EQ_INT(p.passes, 340);
	CHECK(p.dirty_mibs > 812.29 && p.dirty_mibs < 812.31);
	CHECK_EQ_INT(p.errors, 0);
	CHECK(guest_progress_parse(&p, "guestload: t=13s passes=341 dirty=0.0MiB/s errors=7"));
	CHECK_EQ_INT(p.errors, 7);
	CHECK_STR(p.last_line, "guestload: t=13s passes=341 dirty=0.0MiB/s errors=7");
}

TEST(layout_and_done)
{
	struct guest_progress p = {0};
	CHECK(guest_progress_parse(&p, "guestload: layout ws_base=0x400000 ws_pages=16384 "
				       "owned_base=0x300000 owned_pages=60000 vcpus=1 fill=mixed"));
	CHECK(p.layout_seen);
	CHECK_EQ_INT(p.ws_base, 0x400000);
	CHECK_EQ_INT(p.ws_pages, 16384);
	CHECK_EQ_INT(p.owned_base, 0x300000);
	CHECK_EQ_INT(p.owned_pages, 60000);
	CHECK(!p.done);
	CHECK(guest_progress_parse(&p, "guestload: done t=5s passes=100 errors=2"));
	CHECK(p.done);
	CHECK_EQ_INT(p.errors, 2);
}

TEST(other_lines)
{
	struct guest_progress p = {0};
	CHECK(!guest_progress_parse(&p, "hello"));
	CHECK(!p.seen);
	/* malformed guestload lines are remembered but change no figure */
	CHECK(guest_progress_parse(&p, "guestload: t=xs passes=1"));
	CHECK(!p.seen);
	CHECK(guest_progress_parse(&p, "guestload: ERROR page=0x1000 want_gen=3 got_gen=2 bad checksum"));
	CHECK(!p.seen);
}

/* The module-check request port: the guest sees the count change once
 * per request, and nothing else moves it. */
TEST(check_request_port)
{
	struct guestdev g;
	uint32_t v = 0xdead;

	guestdev_init(&g, NULL, NULL);
	guestdev_io(&g, VMIG_PORT_REQUEST, false, 4, &v);
	CHECK_EQ_INT(v, 0);
	guestdev_request_check(&g);
	guestdev_request_check(&g);
	guestdev_io(&g, VMIG_PORT_REQUEST, false, 4, &v);
	CHECK_EQ_INT(v, 2);
	v = 7; /* a write does not set it */
	guestdev_io(&g, VMIG_PORT_REQUEST, true, 4, &v);
	guestdev_io(&g, VMIG_PORT_REQUEST, false, 4, &v);
	CHECK_EQ_INT(v, 2);
	guestdev_destroy(&g);
}

RUN_TESTS("guest_progress", UT(progress_line), UT(layout_and_done), UT(other_lines),
	  UT(check_request_port))
