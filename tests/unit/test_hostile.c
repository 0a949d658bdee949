/* SPDX-License-Identifier: MIT */
/*
 * The hostile-stream cases of tests/tools/hostile_streams.c (the ones
 * tests/integration/test_hostile_stream.py plays against a KVM
 * destination, and more: data channels, duplicated and reordered
 * records) against the real receiver running into the TEST DOUBLE guest
 * of fake_guest.h, over loopback TCP, so they run where /dev/kvm is
 * absent. One test per case. A stream that fails before a valid HELLO
 * comes from a stranger: refused, and the destination keeps listening.
 * After a valid HELLO, a bad stream ends the incoming migration with a
 * clear error, within its deadlines, and the guest never runs.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../tools/hostile_streams.h"
#include "fake_guest.h"
#include "migration/wire.h"
#include "unittest.h"

#define IO_TIMEOUT_MS 1000 /* the destination's deadlines */
#define END_BOUND_MS 4000  /* a refused stream ends the destination within this */
#define HANG_MS 15000	   /* past this the destination counts as hung and is cancelled */
#define REPLY_WAIT_MS 3000 /* for the first answer (a truncated HELLO's takes IO_TIMEOUT_MS) */
#define STILL_WAITING_MS 300

/* What one run showed. */
struct outcome {
	bool setup_failed;
	char setup_err[256];
	bool hung;  /* the destination outlived its deadline (it was then cancelled) */
	bool stuck; /* not even cancel ended it: its thread and memory are left behind */
	int result;
	char err[512];
	bool accepted, resumed, verified;
	bool waiting;	   /* before HELLO: still listening STILL_WAITING_MS after the answer */
	uint64_t took_ms;  /* start to the destination's end */
	uint32_t reply;	   /* the source's first answer on the main connection */
	bool reply_closed; /* instead, the connection was closed */
	char reply_msg[WIRE_MAX_STRING];
	uint32_t chan_reply; /* the first record on data connection 0 */
	char chan_msg[WIRE_MAX_STRING];
	bool hangup;	 /* the source hung up without reading an answer */
	uint8_t page0;	 /* the destination's RAM afterwards: page 0's first byte */
	uint8_t page100; /* and page 100's (pages the late cases send after READY) */
};

/* One run: a destination on a fake guest, and a hostile source. */
struct hx {
	struct fake_guest g;
	struct dest_run d;
	struct hostile_stream s;
	struct hostile_run r;
	char uri[64];
	const char *name;
	uint64_t t0;
};

static const char fake_state[64] = "state from a hostile source (any 64 bytes load)";

/* The fake guest's layout (fg_regions), an empty VMM config. */
static void fake_layout(struct hostile_layout *l)
{
	memset(l, 0, sizeof(*l));
	l->nr_regions = 2;
	l->regions[0] = (struct wire_region){0, (uint64_t)PAGES / 2 * 4096};
	l->regions[1] = (struct wire_region){1ull << 32, (uint64_t)PAGES / 2 * 4096};
	l->state = (const uint8_t *)fake_state;
	l->state_len = sizeof(fake_state);
}

/* Builds the case, starts the destination, sends the stream. */
static struct hx *hx_start(const char *name, struct outcome *o)
{
	struct hostile_layout l;
	struct hx *x = calloc(1, sizeof(*x));
	memset(o, 0, sizeof(*o));
	if (!x) {
		o->setup_failed = true;
		return NULL;
	}
	x->name = name;
	fg_init(&x->g, false);
	fake_layout(&l);
	if (hostile_stream_build(name, &l, &x->s, o->setup_err, sizeof(o->setup_err)) ||
	    listen_any(&x->d.lfd, x->uri, sizeof(x->uri))) {
		o->setup_failed = true;
		hostile_stream_free(&x->s);
		fg_free(&x->g);
		free(x);
		return NULL;
	}
	x->d.g = &x->g;
	x->d.io_timeout_ms = IO_TIMEOUT_MS;
	x->t0 = mono_ms();
	dest_start(&x->d);
	if (hostile_send(&x->r, x->uri, &x->s, 2000, REPLY_WAIT_MS, o->setup_err,
			 sizeof(o->setup_err)))
		o->setup_failed = true;
	o->hangup = x->s.hangup;
	o->reply = x->r.first_reply;
	o->reply_closed = x->r.closed;
	snprintf(o->reply_msg, sizeof(o->reply_msg), "%s", x->r.reply_msg);
	return x;
}

/* Joins the destination by deadline_ms (mono_ms); past it, cancels it and
 * gives it 5 s more. Returns whether it ended by the deadline. */
static bool join_by(struct dest_run *d, uint64_t deadline_ms, bool *stuck)
{
	while (pthread_tryjoin_np(d->thread, NULL) != 0) {
		if (mono_ms() >= deadline_ms) {
			dest_cancel(d);
			uint64_t end = mono_ms() + 5000;
			while (pthread_tryjoin_np(d->thread, NULL) != 0) {
				if (mono_ms() >= end) {
					*stuck = true;
					return false;
				}
				usleep(5000);
			}
			return false;
		}
		usleep(2000);
	}
	return true;
}

/* Joins the destination, records what happened, frees everything (but
 * what a stuck destination thread still uses). */
static void hx_end(struct hx *x, struct outcome *o, uint64_t deadline_ms)
{
	o->hung = !join_by(&x->d, deadline_ms, &o->stuck);
	o->took_ms = mono_ms() - x->t0;
	if (o->stuck) {
		hostile_close(&x->r);
		return; /* leaked on purpose: the destination thread may still use it */
	}
	o->result = x->d.result;
	snprintf(o->err, sizeof(o->err), "%s", x->d.err);
	o->accepted = x->d.accepted;
	o->verified = x->d.st.verified;
	o->resumed = fg_was_resumed(&x->g);
	o->page0 = x->g.mem[0];
	o->page100 = x->g.mem[100 * 4096];
	o->chan_reply = hostile_chan_reply(&x->r, 0, 500, o->chan_msg, sizeof(o->chan_msg));
	if (getenv("HOSTILE_VERBOSE")) /* what each case got, for whoever changes the receiver */
		fprintf(stderr, "%s: result %d in %llu ms: %s\n", x->name, o->result,
			(unsigned long long)o->took_ms, o->err);
	hostile_close(&x->r);
	hostile_stream_free(&x->s);
	fg_free(&x->g);
	free(x);
}

/* A source that got past HELLO: plays the case through, until the
 * destination hangs up. */
static void run_after_hello(const char *name, struct outcome *o)
{
	struct hx *x = hx_start(name, o);
	if (!x)
		return;
	if (!o->setup_failed)
		hostile_finish(&x->r, &x->s, HANG_MS);
	hx_end(x, o, x->t0 + HANG_MS);
}

/* A stranger: checks the destination still listens, then cancels it. */
static void run_before_hello(const char *name, struct outcome *o)
{
	struct hx *x = hx_start(name, o);
	if (!x)
		return;
	usleep(STILL_WAITING_MS * 1000);
	struct vmig_incoming *in = __atomic_load_n(&x->d.in, __ATOMIC_ACQUIRE);
	o->waiting = in && !__atomic_load_n(&x->d.accepted, __ATOMIC_ACQUIRE) &&
		     pthread_tryjoin_np(x->d.thread, NULL) == EBUSY;
	if (o->waiting)
		dest_cancel(&x->d);
	hx_end(x, o, mono_ms() + 2000);
}

/* After a valid HELLO, a bad stream must end the incoming migration with
 * an error naming expect, in time, the guest never resumed. */
static void check_refused(struct ut_state *ut_, const struct outcome *o, const char *expect)
{
	CHECK_MSG(!o->setup_failed, "setup: %s", o->setup_err);
	CHECK_MSG(!o->hung, "destination still running after %d ms%s", HANG_MS,
		  o->stuck ? ", and after cancel (thread left behind)" : " (cancelled)");
	CHECK_MSG(o->hangup || o->reply == REC_HELLO_ACK, "first answer %s (%s), want HELLO_ACK",
		  wire_type_name(o->reply), o->reply_msg);
	CHECK_MSG(!o->resumed,
		  "the guest was resumed (result %d, err \"%s\"; RAM page 100 now starts %#x)",
		  o->result, o->err, o->page100);
	CHECK_MSG(o->result != 0, "the destination accepted the stream (verified %d)", o->verified);
	CHECK_MSG(strstr(o->err, expect) != NULL, "err \"%s\" lacks \"%s\"", o->err, expect);
	CHECK_MSG(o->took_ms < END_BOUND_MS, "ended after %llu ms (err \"%s\")",
		  (unsigned long long)o->took_ms, o->err);
}

static void expect_refused(struct ut_state *ut_, const char *name, const char *expect)
{
	struct outcome o;
	run_after_hello(name, &o);
	check_refused(ut_, &o, expect);
}

/* As expect_refused, and data connection 0 was refused with why. */
static void expect_refused_channel(struct ut_state *ut_, const char *name, const char *expect,
				   const char *why)
{
	struct outcome o;
	run_after_hello(name, &o);
	check_refused(ut_, &o, expect);
	if (ut_->failed_here)
		return;
	CHECK_MSG(o.chan_reply == REC_ERROR, "data connection got %s, want ERROR",
		  wire_type_name(o.chan_reply));
	CHECK_MSG(strstr(o.chan_msg, why) != NULL, "data connection told \"%s\", want \"%s\"",
		  o.chan_msg, why);
}

/* Before a valid HELLO: the connection is refused (with an ERROR naming
 * expect, or at least closed if may_just_close) and the destination keeps
 * listening until cancelled. */
static void expect_stranger(struct ut_state *ut_, const char *name, const char *expect,
			    bool may_just_close)
{
	struct outcome o;
	run_before_hello(name, &o);
	CHECK_MSG(!o.setup_failed, "setup: %s", o.setup_err);
	CHECK_MSG(o.waiting, "the destination stopped listening (result %d, err \"%s\")", o.result,
		  o.err);
	CHECK_MSG(!o.hung, "cancel did not end the wait%s", o.stuck ? " (thread left behind)" : "");
	if (o.reply == REC_ERROR)
		CHECK_MSG(strstr(o.reply_msg, expect) != NULL, "refused with \"%s\", want \"%s\"",
			  o.reply_msg, expect);
	else
		CHECK_MSG(may_just_close && o.reply_closed, "the stranger got %s%s, want ERROR",
			  wire_type_name(o.reply), o.reply_closed ? " (closed)" : " (still open)");
	CHECK_EQ_INT(o.result, -ECANCELED);
	CHECK(!o.accepted);
	CHECK(!o.resumed);
}

/* A valid stream: taken, verified, the guest resumed with its pages. */
static void expect_accepted(struct ut_state *ut_, const char *name)
{
	struct outcome o;
	run_after_hello(name, &o);
	CHECK_MSG(!o.setup_failed, "setup: %s", o.setup_err);
	CHECK_MSG(!o.hung, "destination still running after %d ms", HANG_MS);
	CHECK_MSG(o.result == 0, "refused: %d \"%s\"", o.result, o.err);
	CHECK(o.verified);
	CHECK(o.resumed);
	CHECK_EQ_INT(o.page0, 1); /* hostile_streams.c fills batch page i with i + 1 */
	CHECK_MSG(o.took_ms < END_BOUND_MS, "took %llu ms", (unsigned long long)o.took_ms);
}

/* ---- the builders make valid streams: what the cases break is all that is wrong ---- */

TEST(valid_with_data_channels_is_accepted)
{
	expect_accepted(ut_, "valid");
}

TEST(valid_on_the_main_channel_is_accepted)
{
	expect_accepted(ut_, "valid-main");
}

/* ---- strangers: before a valid HELLO ---- */

TEST(garbage)
{
	expect_stranger(ut_, "garbage", "bad", true);
}

TEST(truncated)
{
	expect_stranger(ut_, "truncated", "first record incomplete", false);
}

TEST(version)
{
	expect_stranger(ut_, "version", "unsupported migration protocol version 99", false);
}

TEST(magic)
{
	expect_stranger(ut_, "magic", "bad magic", false);
}

/* ---- the main channel ---- */

TEST(page_range)
{
	expect_refused(ut_, "page-range", "page 4096 (kind 0) is beyond guest RAM");
}

TEST(bad_checksum)
{
	expect_refused(ut_, "bad-checksum", "bad PAGES record: checksum mismatch");
}

TEST(bad_page)
{
	expect_refused(ut_, "bad-page", "does not match its hash");
}

TEST(bad_xbzrle)
{
	expect_refused(ut_, "bad-xbzrle", "malformed XBZRLE delta for page 5");
}

TEST(bad_compressed)
{
	expect_refused(ut_, "bad-compressed", "zstd data does not decompress");
}

TEST(huge_length)
{
	expect_refused(ut_, "huge-length", "exceeds");
}

TEST(bad_count)
{
	expect_refused(ut_, "bad-count", "bad PAGES record: truncated page list");
}

TEST(wrong_order)
{
	expect_refused(ut_, "wrong-order", "COMPLETE before state and digest");
}

TEST(state_garbage)
{
	expect_refused(ut_, "state-garbage", "digest mismatch");
}

TEST(digest)
{
	expect_refused(ut_, "digest", "digest mismatch");
}

TEST(hangup)
{
	expect_refused(ut_, "hangup", "connection closed by the peer");
}

/* ---- reordered and duplicated records ---- */

TEST(reversed)
{
	expect_refused(ut_, "reversed", "COMPLETE before state and digest");
}

TEST(digest_before_pages)
{
	expect_refused(ut_, "digest-before-pages",
		       "protocol error: DIGEST for pass 1, pass 0 is the last one closed");
}

TEST(shuffled)
{
	expect_refused(ut_, "shuffled", "bad PAGES record: pass 1 while pass 2 is open");
}

TEST(hello_twice)
{
	expect_refused(ut_, "hello-twice", "protocol error: unexpected HELLO record");
}

TEST(complete_twice)
{
	expect_refused(ut_, "complete-twice", "protocol error: expected GO, got COMPLETE");
}

TEST(state_twice_then_complete_without_digest)
{
	expect_refused(ut_, "state-twice", "COMPLETE before state and digest");
}

TEST(go_before_ready)
{
	expect_refused(ut_, "go-before-ready", "protocol error: unexpected GO record");
}

TEST(ready_from_the_source)
{
	expect_refused(ut_, "ready-from-source", "protocol error: unexpected READY record");
}

TEST(channel_end_on_the_main_channel)
{
	expect_refused(ut_, "end-on-main", "protocol error: unexpected CHANNEL_END record");
}

TEST(sync_on_the_main_channel)
{
	expect_refused(ut_, "sync-on-main", "protocol error: unexpected SYNC record");
}

TEST(pages_on_the_main_channel)
{
	expect_refused(ut_, "pages-on-main", "bad PAGES record");
}

/* ---- data channels ---- */

TEST(chan_page_range)
{
	expect_refused(ut_, "chan-page-range",
		       "data channel 0: bad PAGES record: page 4096 (kind 0) is beyond guest RAM");
}

TEST(chan_index_not_announced)
{
	expect_refused_channel(ut_, "chan-index", "data channel 1 of 1 did not connect in time",
			       "does not belong to this migration");
}

TEST(chan_wrong_session)
{
	expect_refused_channel(ut_, "chan-wrong-session",
			       "data channel 1 of 1 did not connect in time",
			       "does not belong to this migration");
}

TEST(chan_hello_twice)
{
	expect_refused(
	    ut_, "chan-hello-twice",
	    "data channel 0: protocol error: unexpected CHANNEL_HELLO record on data channel 0");
}

TEST(chan_same_index)
{
	expect_refused(ut_, "chan-same-index", "data channel 2 of 2 did not connect in time");
}

TEST(sync_twice)
{
	expect_refused(ut_, "sync-twice",
		       "data channel 0: protocol error: SYNC of pass 1 after pass 1");
}

TEST(sync_from_the_future)
{
	expect_refused(ut_, "sync-future",
		       "data channel 0: protocol error: SYNC of pass 2 after pass 0");
}

TEST(pages_after_the_final_sync)
{
	/* DIGEST waits for CHANNEL_END, which this source sends only after
	 * READY: the channel's deadline ends the wait. */
	expect_refused(ut_, "pages-after-final-sync", "data channel 0: connection stalled");
}

TEST(digest_of_a_pass_no_channel_synced)
{
	expect_refused(ut_, "digest-unsynced-pass",
		       "a data channel ended on another pass than the final one (2)");
}

TEST(chan_pages_of_a_pass_not_open)
{
	expect_refused(ut_, "chan-pages-future-pass",
		       "data channel 0: bad PAGES record: pass 2 while pass 1 is open");
}

TEST(digest_of_a_pass_not_closed_on_the_main_channel)
{
	expect_refused(ut_, "digest-pass-main",
		       "protocol error: DIGEST for pass 2, pass 1 is the last one closed");
}

TEST(pages_after_digest)
{
	expect_refused(ut_, "pages-after-digest", "protocol error: PAGES after DIGEST");
}

TEST(pages_after_channel_end)
{
	expect_refused(ut_, "pages-after-end", "digest mismatch");
}

RUN_TESTS("hostile", UT(valid_with_data_channels_is_accepted),
	  UT(valid_on_the_main_channel_is_accepted), UT(garbage), UT(truncated), UT(version),
	  UT(magic), UT(page_range), UT(bad_checksum), UT(bad_page), UT(bad_xbzrle),
	  UT(bad_compressed), UT(huge_length), UT(bad_count), UT(wrong_order), UT(state_garbage),
	  UT(digest), UT(hangup), UT(reversed), UT(digest_before_pages), UT(shuffled),
	  UT(hello_twice), UT(complete_twice), UT(state_twice_then_complete_without_digest),
	  UT(go_before_ready), UT(ready_from_the_source), UT(channel_end_on_the_main_channel),
	  UT(sync_on_the_main_channel), UT(pages_on_the_main_channel), UT(chan_page_range),
	  UT(chan_index_not_announced), UT(chan_wrong_session), UT(chan_hello_twice),
	  UT(chan_same_index), UT(sync_twice), UT(sync_from_the_future),
	  UT(pages_after_the_final_sync), UT(digest_of_a_pass_no_channel_synced),
	  UT(chan_pages_of_a_pass_not_open), UT(digest_of_a_pass_not_closed_on_the_main_channel),
	  UT(pages_after_digest), UT(pages_after_channel_end))
