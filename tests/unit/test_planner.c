/* SPDX-License-Identifier: MIT */
/* The planner alone (policy/planner.c): measurements in, a plan out. One
 * scenario per test; the codec samples are typical of guestload's mixed
 * memory on these machines (lz4 fast and light, zstd and deflate slower
 * and tighter). */
#include <string.h>

#include "policy/channels.h"
#include "policy/planner.h"
#include "unittest.h"

#define MiB (1ull << 20)

static struct plan_inputs typical(double link, double src_idle, double dst_idle)
{
	struct plan_inputs in = {.src = {src_idle, 8192 * MiB}, .dst = {dst_idle, 8192 * MiB},
				 .dst_known = true, .ram_bytes = 1024 * MiB, .zero_share = 0.2,
				 .link_mibs = link, .xbzrle_hit_rate = -1};
	in.codec[CODEC_LZ4] = (struct plan_codec_sample){1.8, 800, 3000};
	in.codec[CODEC_ZSTD] = (struct plan_codec_sample){2.6, 300, 1000};
	in.codec[CODEC_DEFLATE] = (struct plan_codec_sample){2.4, 150, 600};
	return in;
}

static struct plan start(const struct plan_inputs *in)
{
	struct plan pins = {0}, out;
	char why[PLAN_REASON_MAX];
	plan_initial(in, &pins, &out, why, sizeof(why));
	return out;
}

TEST(fast_link_sends_raw)
{
	/* loopback: the link outruns any codec's CPU */
	struct plan_inputs in = typical(4000, 2, 2);
	CHECK_EQ_INT(start(&in).codec, CODEC_NONE);
	CHECK_EQ_INT(start(&in).channels, 0);
}

TEST(slow_link_with_idle_cpu_compresses_hard)
{
	struct plan_inputs in = typical(110, 2, 2); /* 1 Gbit/s */
	struct plan p = start(&in);
	CHECK_EQ_INT(p.codec, CODEC_ZSTD);
	CHECK_EQ_INT(p.threads, 2);
	CHECK_EQ_INT(p.channels, 2); /* so the destination inflates on two threads */
}

/* bench/thread_scaling on 16 idle cores: 8 zstd threads were 2.7x one,
 * not 8x (the model was linear before) */
TEST(eight_threads_buy_what_the_scaling_bench_measured)
{
	struct plan_inputs in = typical(100000, 16, 16);
	double gain = plan_rate(&in, CODEC_ZSTD, 8) / plan_rate(&in, CODEC_ZSTD, 1);
	CHECK(gain > 2.2 && gain < 3.4);
}

TEST(many_idle_cores_get_a_channel_per_thread)
{
	struct plan_inputs in = typical(50, 16, 16);
	struct plan p = start(&in);
	CHECK_EQ_INT(p.threads, 8);
	CHECK_EQ_INT(p.channels, 8);
}

/* A source with 0.3 idle CPUs (on KVM: the other core runs the guest)
 * compresses once it knows the link is 1 Gbit/s, so it is worth probing
 * the link first; the bar was 0.5 and pass 1 went raw. */
TEST(a_source_the_planner_compresses_on_is_worth_a_link_probe)
{
	struct plan_inputs in = typical(110, 0.3, 1);
	in.src.idle_measured = true;
	CHECK(start(&in).codec != CODEC_NONE);
	CHECK(plan_probe_pays(&in.src));
}

TEST(a_source_with_no_idle_cpu_is_not_probed)
{
	struct plan_host src = {.idle_cpus = 0.1, .idle_measured = true};
	CHECK(!plan_probe_pays(&src));
}

TEST(a_source_not_yet_measured_is_probed)
{
	struct plan_host src = {.idle_cpus = 0, .idle_measured = false};
	CHECK(plan_probe_pays(&src));
}

TEST(busy_source_cpu_compresses_lightly)
{
	struct plan_inputs in = typical(110, 0.3, 2);
	struct plan p = start(&in);
	CHECK_EQ_INT(p.codec, CODEC_LZ4);
	CHECK_EQ_INT(p.threads, 1);
}

TEST(busy_destination_gets_a_codec_cheap_to_inflate)
{
	struct plan_inputs in = typical(110, 2, 0.2);
	CHECK_EQ_INT(start(&in).codec, CODEC_LZ4);
}

TEST(incompressible_memory_is_sent_raw)
{
	struct plan_inputs in = typical(110, 2, 2);
	in.codec[CODEC_LZ4].ratio = 1.02;
	in.codec[CODEC_ZSTD].ratio = 1.05;
	in.codec[CODEC_DEFLATE].ratio = 1.04;
	CHECK_EQ_INT(start(&in).codec, CODEC_NONE);
}

TEST(hot_guest_with_memory_to_spare_gets_xbzrle)
{
	struct plan_inputs in = typical(110, 2, 2);
	in.hot_bytes = 256 * MiB;
	in.dirty_mibs = 1000;
	CHECK_EQ_INT(start(&in).xbzrle_bytes, 512 * MiB);
}

TEST(tight_memory_gets_no_xbzrle)
{
	struct plan_inputs in = typical(110, 2, 2);
	in.hot_bytes = 256 * MiB;
	in.dirty_mibs = 1000;
	in.src.mem_avail = 600 * MiB;
	CHECK_EQ_INT(start(&in).xbzrle_bytes, 0);
}

TEST(dirty_rate_above_the_link_has_auto_converge)
{
	struct plan_inputs in = typical(110, 2, 2);
	in.dirty_mibs = 7000;
	CHECK(start(&in).auto_converge);
}

TEST(pinned_knobs_stay_as_set)
{
	struct plan_inputs in = typical(4000, 2, 2);
	in.pinned = PLAN_PIN_CODEC | PLAN_PIN_LEVEL | PLAN_PIN_CHANNELS | PLAN_PIN_CONVERGE;
	struct plan pins = {.codec = CODEC_DEFLATE, .level = 2, .channels = 3}, out;
	char why[PLAN_REASON_MAX];
	plan_initial(&in, &pins, &out, why, sizeof(why));
	CHECK_EQ_INT(out.codec, CODEC_DEFLATE);
	CHECK_EQ_INT(out.level, 2);
	CHECK_EQ_INT(out.channels, 3);
	CHECK(!out.auto_converge);
}

TEST(a_fast_measured_link_drops_compression)
{
	struct plan_inputs in = typical(4000, 2, 2);
	struct plan cur = {.codec = CODEC_ZSTD, .threads = 2, .channels = 2}, next;
	char change[64], why[PLAN_REASON_MAX];
	CHECK(plan_after_pass(&in, &cur, &next, change, sizeof(change), why, sizeof(why)));
	CHECK_EQ_INT(next.codec, CODEC_NONE);
	CHECK_STR(change, "codec zstd -> none");
}

TEST(a_destination_out_of_idle_cpu_gets_raw_pages)
{
	/* its guests took the last idle CPU mid-migration: decompressing
	 * there would only slow them down, even over a slow link */
	struct plan_inputs in = typical(110, 2, 0.05);
	struct plan cur = {.codec = CODEC_ZSTD, .threads = 2, .channels = 2}, next;
	char change[64], why[PLAN_REASON_MAX];
	CHECK(plan_after_pass(&in, &cur, &next, change, sizeof(change), why, sizeof(why)));
	CHECK_EQ_INT(next.codec, CODEC_NONE);
	CHECK(strstr(why, "0.1 there") != NULL || strstr(why, "0.0 there") != NULL);
}

/* After a pass: the guest re-dirtied 256 MiB at dirty_mibs, XBZRLE off. */
static bool xbzrle_after_pass(double dirty_mibs, bool dropped, uint64_t mem_avail,
			      struct plan *next, char *change)
{
	struct plan_inputs in = typical(110, 2, 2);
	in.hot_bytes = 256 * MiB;
	in.dirty_mibs = dirty_mibs;
	in.xbzrle_dropped = dropped;
	in.src.mem_avail = mem_avail;
	struct plan cur = {.codec = CODEC_ZSTD, .threads = 2, .channels = 2};
	char why[PLAN_REASON_MAX];
	return plan_after_pass(&in, &cur, next, change, 64, why, sizeof(why));
}

TEST(a_hot_set_resent_mid_migration_turns_xbzrle_on)
{
	struct plan next;
	char change[64];
	CHECK(xbzrle_after_pass(100, false, 8192 * MiB, &next, change));
	CHECK_EQ_INT(next.xbzrle_bytes, 512 * MiB);
	CHECK_STR(change, "XBZRLE on, 512 MiB cache");
}

/* The engine asks again after each change (autopolicy_after_pass): a codec
 * change first must not hold XBZRLE back a pass, and asking a third time
 * changes nothing, so the loop ends. */
TEST(a_codec_change_and_xbzrle_both_come_after_one_pass)
{
	struct plan_inputs in = typical(110, 2, 2);
	in.hot_bytes = 256 * MiB;
	in.dirty_mibs = 100;
	struct plan cur = {.codec = CODEC_NONE, .threads = 2, .channels = 2}, next, again;
	char change[64], why[PLAN_REASON_MAX];
	CHECK(plan_after_pass(&in, &cur, &next, change, sizeof(change), why, sizeof(why)));
	CHECK(strstr(change, "codec none ->") != NULL);
	CHECK(plan_after_pass(&in, &next, &again, change, sizeof(change), why, sizeof(why)));
	CHECK(strstr(change, "XBZRLE on") != NULL);
	CHECK(again.codec == next.codec && again.xbzrle_bytes > 0);
	CHECK(!plan_after_pass(&in, &again, &next, change, sizeof(change), why, sizeof(why)));
}

TEST(a_slow_dirtier_gets_no_xbzrle_mid_migration)
{
	/* 10 MiB/s of re-sends over a 110 MiB/s link: it converges anyway */
	struct plan next;
	char change[64];
	CHECK(!xbzrle_after_pass(10, false, 8192 * MiB, &next, change));
}

TEST(xbzrle_dropped_for_poor_hits_stays_off)
{
	struct plan next;
	char change[64];
	CHECK(!xbzrle_after_pass(100, true, 8192 * MiB, &next, change));
}

TEST(tight_memory_keeps_xbzrle_off_mid_migration_and_says_so)
{
	/* a 512 MiB cache for the 256 MiB hot set wants 2 GiB free */
	struct plan next;
	char change[64];
	CHECK(xbzrle_after_pass(100, false, 1024 * MiB, &next, change));
	CHECK_EQ_INT(next.xbzrle_bytes, 0);
	CHECK_STR(change, "XBZRLE kept off");
	CHECK(next.held & PLAN_HELD_XBZRLE);
}

TEST(xbzrle_kept_off_is_said_once)
{
	struct plan_inputs in = typical(110, 2, 2);
	in.hot_bytes = 256 * MiB;
	in.dirty_mibs = 100;
	in.src.mem_avail = 1024 * MiB;
	struct plan cur = {.codec = CODEC_ZSTD, .threads = 2, .channels = 2}, next, again;
	char change[64], why[PLAN_REASON_MAX];
	CHECK(plan_after_pass(&in, &cur, &next, change, sizeof(change), why, sizeof(why)));
	CHECK(strstr(why, "1024 MiB is free here") != NULL);
	CHECK(!plan_after_pass(&in, &next, &again, change, sizeof(change), why, sizeof(why)));
}

/* Raw pages over a 1 Gbit/s link between two 4-CPU hosts with nothing idle. */
static bool busy_hosts_after_pass(unsigned src_cpus, struct plan *cur, struct plan *next,
				  char *change, char *why)
{
	struct plan_inputs in = typical(110, 0.0, 0.0);
	in.src.cpus = src_cpus;
	in.dst.cpus = 4;
	in.src.idle_measured = in.dst.idle_measured = true;
	return plan_after_pass(&in, cur, next, change, 64, why, PLAN_REASON_MAX);
}

TEST(busy_hosts_keep_compression_off_and_say_why)
{
	struct plan cur = {.codec = CODEC_NONE, .threads = 1}, next;
	char change[64], why[PLAN_REASON_MAX];
	CHECK(busy_hosts_after_pass(4, &cur, &next, change, why));
	CHECK_EQ_INT(next.codec, CODEC_NONE);
	CHECK_STR(change, "compression kept off");
	CHECK(strstr(why, "0.0 idle CPUs here, 0.0 there") != NULL);
}

TEST(compression_kept_off_is_said_once)
{
	struct plan cur = {.codec = CODEC_NONE, .threads = 1}, next, again;
	char change[64], why[PLAN_REASON_MAX];
	CHECK(busy_hosts_after_pass(4, &cur, &next, change, why));
	CHECK(!busy_hosts_after_pass(4, &next, &again, change, why));
}

/* The hosts got busy mid-migration: the codec goes, and asking again
 * (autopolicy_after_pass loops) must not say it a second time as
 * "compression kept off". */
TEST(compression_dropped_for_busy_hosts_is_said_once)
{
	struct plan cur = {.codec = CODEC_ZSTD, .threads = 1}, next, again;
	char change[64], why[PLAN_REASON_MAX];
	CHECK(busy_hosts_after_pass(4, &cur, &next, change, why));
	CHECK_STR(change, "codec zstd -> none");
	CHECK(!busy_hosts_after_pass(4, &next, &again, change, why));
}

TEST(hosts_of_unknown_size_say_nothing_of_compression_kept_off)
{
	struct plan cur = {.codec = CODEC_NONE, .threads = 1}, next;
	char change[64], why[PLAN_REASON_MAX];
	CHECK(!busy_hosts_after_pass(0, &cur, &next, change, why));
}

static void start_reason(bool measured, char *why)
{
	struct plan_inputs in = typical(0, 2, 2);
	in.src.idle_measured = measured;
	struct plan pins = {0}, out;
	plan_initial(&in, &pins, &out, why, PLAN_REASON_MAX);
}

TEST(a_start_before_the_idle_share_is_measured_says_so)
{
	char why[PLAN_REASON_MAX];
	start_reason(false, why);
	CHECK(strstr(why, "2.0 CPUs here (idle not yet measured)") != NULL);
	start_reason(true, why);
	CHECK(strstr(why, "2.0 idle CPUs here,") != NULL);
}

TEST(a_slow_measured_link_turns_compression_on)
{
	struct plan_inputs in = typical(110, 2, 2);
	struct plan cur = {.codec = CODEC_NONE, .threads = 2}, next;
	char change[64], why[PLAN_REASON_MAX];
	CHECK(plan_after_pass(&in, &cur, &next, change, sizeof(change), why, sizeof(why)));
	CHECK(next.codec != CODEC_NONE);
}

TEST(small_differences_do_not_flip_the_codec)
{
	/* lz4 and zstd within 15 % of each other: keep what runs */
	struct plan_inputs in = typical(110, 2, 0.2);
	struct plan cur = {.codec = CODEC_ZSTD, .threads = 2, .channels = 2}, next;
	char change[64], why[PLAN_REASON_MAX];
	CHECK(!plan_after_pass(&in, &cur, &next, change, sizeof(change), why, sizeof(why)));
}

/* After the link probe, samples like the KVM 1G cell's: lz4, tried first,
 * beats raw by the margin; zstd and deflate beat lz4 by 10 and 14 %,
 * under the margin, and lz4 was kept (KVM runs: 686-748 MiB on the wire
 * against 606). The margin guards the codec in use; among the others
 * zstd wins: within 5 % of deflate and cheaper in CPU. */
TEST(a_faster_challenger_wins_whatever_the_order_tried)
{
	struct plan_inputs in = typical(112, 0.7, 0.8);
	in.zero_share = 0.21;
	in.codec[CODEC_LZ4] = (struct plan_codec_sample){1.36, 423, 1443};
	in.codec[CODEC_ZSTD] = (struct plan_codec_sample){1.50, 309, 915};
	in.codec[CODEC_DEFLATE] = (struct plan_codec_sample){1.55, 329, 490};
	struct plan cur = {.codec = CODEC_NONE, .threads = 2}, next;
	char change[64], why[PLAN_REASON_MAX];
	CHECK(plan_after_pass(&in, &cur, &next, change, sizeof(change), why, sizeof(why)));
	CHECK_EQ_INT(next.codec, CODEC_ZSTD);
}

TEST(poor_xbzrle_hits_switch_it_off)
{
	struct plan_inputs in = typical(110, 2, 2);
	in.xbzrle_hit_rate = 0.05;
	struct plan cur = {.codec = CODEC_ZSTD, .threads = 2, .channels = 2,
			   .xbzrle_bytes = 64 * MiB}, next;
	char change[64], why[PLAN_REASON_MAX];
	CHECK(plan_after_pass(&in, &cur, &next, change, sizeof(change), why, sizeof(why)));
	CHECK_EQ_INT(next.xbzrle_bytes, 0);
	CHECK_STR(change, "XBZRLE off");
}

/* typical() with zstd's raised level sampled as on the "typical VM"
 * content: ratio 2.62 for 208 MiB/s a core (level 1: 2.50, 356). */
static struct plan_inputs with_zstd3(double link, double src_idle, double dst_idle)
{
	struct plan_inputs in = typical(link, src_idle, dst_idle);
	in.codec[CODEC_ZSTD] = (struct plan_codec_sample){2.50, 356, 1060};
	in.raised[CODEC_ZSTD] = (struct plan_codec_sample){2.62, 208, 1130};
	return in;
}

/* 110 MiB/s, 8 idle CPUs each side: zstd either way, the link the limit,
 * so level 3's ratio moves more RAM. */
TEST(link_bound_with_idle_cpus_starts_at_the_raised_level)
{
	struct plan_inputs in = with_zstd3(110, 8, 8);
	struct plan p = start(&in);
	CHECK_EQ_INT(p.codec, CODEC_ZSTD);
	CHECK_EQ_INT(p.level, 3);
}

/* One idle CPU: level 3 would make the CPU the limit. */
TEST(cpu_bound_keeps_the_default_level)
{
	struct plan_inputs in = with_zstd3(110, 1, 8);
	struct plan p = start(&in);
	CHECK_EQ_INT(p.codec, CODEC_ZSTD);
	CHECK_EQ_INT(p.level, 0);
}

static bool level_after(struct plan_inputs *in, int cur_level, struct plan *next, char *change,
			char *why)
{
	struct plan cur = {.codec = CODEC_ZSTD, .level = cur_level, .threads = 8, .channels = 8,
			   .channels_max = 8};
	return plan_after_pass(in, &cur, next, change, 64, why, PLAN_REASON_MAX);
}

TEST(a_pass_bound_by_the_link_raises_the_level_and_says_why)
{
	struct plan_inputs in = with_zstd3(110, 8, 8);
	struct plan next;
	char change[64], why[PLAN_REASON_MAX];
	CHECK(level_after(&in, 0, &next, change, why));
	CHECK_STR(change, "zstd level 1 -> 3");
	CHECK_EQ_INT(next.level, 3);
	CHECK(strstr(why, "link 110 MiB/s") != NULL);
}

/* The host got busy: at 1 idle CPU level 3 is the limit, level 1 not. */
TEST(a_busy_host_lowers_the_level_again)
{
	struct plan_inputs in = with_zstd3(110, 1, 8);
	struct plan next;
	char change[64], why[PLAN_REASON_MAX];
	CHECK(level_after(&in, 3, &next, change, why));
	CHECK_STR(change, "zstd level 3 -> 1");
	CHECK_EQ_INT(next.level, 0);
}

TEST(a_pinned_level_is_not_raised)
{
	struct plan_inputs in = with_zstd3(110, 8, 8);
	in.pinned = PLAN_PIN_LEVEL;
	struct plan next;
	char change[64], why[PLAN_REASON_MAX];
	CHECK(!level_after(&in, 0, &next, change, why));
}

/* --codec zstd without --level: the level is still the planner's. */
TEST(a_pinned_codec_leaves_the_level_to_the_planner)
{
	struct plan_inputs in = with_zstd3(110, 8, 8);
	in.pinned = PLAN_PIN_CODEC;
	struct plan pins = {.codec = CODEC_ZSTD}, out;
	char why[PLAN_REASON_MAX];
	plan_initial(&in, &pins, &out, why, sizeof(why));
	CHECK_EQ_INT(out.level, 3);
}

/* Without a sample of the raised level nothing is raised. */
TEST(an_unsampled_level_is_never_chosen)
{
	struct plan_inputs in = typical(110, 8, 8);
	CHECK_EQ_INT(start(&in).level, 0);
}

/* XBZRLE on with a 512 MiB cache, hits good; the source has mem_avail. */
static bool xbzrle_on_after_pass(uint64_t mem_avail, unsigned pinned, struct plan *next,
				 char *change, char *why)
{
	struct plan_inputs in = typical(110, 2, 2);
	in.xbzrle_hit_rate = 0.6;
	in.src.mem_avail = mem_avail;
	in.pinned = pinned;
	struct plan cur = {.codec = CODEC_ZSTD, .threads = 2, .channels = 2,
			   .xbzrle_bytes = 512 * MiB};
	return plan_after_pass(&in, &cur, next, change, 64, why, PLAN_REASON_MAX);
}

/* The cache fills page by page: with less free than it may still take,
 * the next pages could get the VMM, and the guest, OOM-killed. */
TEST(memory_tightening_under_the_cache_switches_xbzrle_off)
{
	struct plan next;
	char change[64], why[PLAN_REASON_MAX];
	CHECK(xbzrle_on_after_pass(300 * MiB, 0, &next, change, why));
	CHECK_EQ_INT(next.xbzrle_bytes, 0);
	CHECK_STR(change, "XBZRLE off");
	CHECK(strstr(why, "300 MiB free here") && strstr(why, "512 MiB cache"));
}

/* Raw pages over a 110 MiB/s link with idle CPUs would turn zstd on this
 * pass; the cache going first is what keeps the VMM alive. */
TEST(memory_tightening_goes_before_a_codec_change)
{
	struct plan_inputs in = typical(110, 2, 2);
	in.xbzrle_hit_rate = 0.6;
	in.src.mem_avail = 300 * MiB;
	struct plan cur = {.codec = CODEC_NONE, .threads = 2, .xbzrle_bytes = 512 * MiB}, next;
	char change[64], why[PLAN_REASON_MAX];
	CHECK(plan_after_pass(&in, &cur, &next, change, sizeof(change), why, sizeof(why)));
	CHECK_STR(change, "XBZRLE off");
	CHECK_EQ_INT(next.codec, CODEC_NONE);
}

TEST(memory_enough_for_the_cache_keeps_xbzrle_on)
{
	struct plan next;
	char change[64], why[PLAN_REASON_MAX];
	CHECK(!xbzrle_on_after_pass(2048 * MiB, 0, &next, change, why));
}

TEST(free_memory_unknown_keeps_xbzrle_on)
{
	struct plan next;
	char change[64], why[PLAN_REASON_MAX];
	CHECK(!xbzrle_on_after_pass(0, 0, &next, change, why));
}

TEST(a_pinned_cache_stays_when_memory_tightens)
{
	struct plan next;
	char change[64], why[PLAN_REASON_MAX];
	CHECK(!xbzrle_on_after_pass(300 * MiB, PLAN_PIN_XBZRLE | PLAN_PIN_CODEC, &next, change,
				    why));
}

/* The channel knob (policy/channels.h): 4 of 8 connected in use, zstd. */
static bool channels_after(const struct plan_inputs *in, unsigned active, struct plan *next,
			   char *change, char *why)
{
	struct plan cur = {.codec = CODEC_ZSTD, .threads = 4, .channels = active, .channels_max = 8};
	return plan_channels_after_pass(in, &cur, next, change, 64, why, PLAN_REASON_MAX);
}

TEST(channels_start_with_one_per_thread_and_connect_one_per_cpu)
{
	struct plan_inputs in = typical(110, 2, 2);
	in.src.cpus = 16;
	struct plan p = start(&in);
	CHECK_EQ_INT(p.channels, 2);
	CHECK_EQ_INT(p.channels_max, 8);
}

TEST(a_busy_source_starts_on_one_channel_of_several)
{
	struct plan_inputs in = typical(110, 0.5, 2);
	in.src.cpus = 2;
	struct plan p = start(&in);
	CHECK_EQ_INT(p.channels, 1);
	CHECK_EQ_INT(p.channels_max, 2);
}

TEST(pinned_channels_are_all_connected_and_never_turned)
{
	struct plan_inputs in = typical(110, 2, 0.5);
	in.pinned = PLAN_PIN_CHANNELS;
	in.src.cpus = 16;
	struct plan pins = {.channels = 3}, out, next;
	char why[PLAN_REASON_MAX], change[64];
	plan_initial(&in, &pins, &out, why, sizeof(why));
	CHECK_EQ_INT(out.channels, 3);
	CHECK_EQ_INT(out.channels_max, 3);
	CHECK(!plan_channels_after_pass(&in, &out, &next, change, 64, why, sizeof(why)));
}

TEST(a_busy_destination_gets_fewer_channels)
{
	struct plan_inputs in = typical(0, 8, 1.6);
	struct plan next;
	char change[64], why[PLAN_REASON_MAX];
	CHECK(channels_after(&in, 4, &next, change, why));
	CHECK_EQ_INT(next.channels, 1);
	CHECK_STR(change, "channels 4 -> 1");
	CHECK(strstr(why, "destination busy: 1.6 idle CPUs there") != NULL);
}

TEST(a_link_slower_than_the_codec_gets_fewer_channels)
{
	/* held to 50 MiB/s: 163 MiB/s of RAM as zstd, one thread inflates 1000 there */
	struct plan_inputs in = typical(50, 8, 8);
	in.link_limit_mibs = 50;
	struct plan next;
	char change[64], why[PLAN_REASON_MAX];
	CHECK(channels_after(&in, 4, &next, change, why));
	CHECK_EQ_INT(next.channels, 1);
	CHECK(strstr(why, "link slower than the codec") != NULL);
}

TEST(idle_cpus_on_both_sides_get_more_channels_up_to_the_maximum)
{
	struct plan_inputs in = typical(0, 16, 16);
	struct plan next;
	char change[64], why[PLAN_REASON_MAX];
	CHECK(channels_after(&in, 4, &next, change, why));
	CHECK_EQ_INT(next.channels, 8);
	CHECK_STR(change, "channels 4 -> 8");
}

TEST(more_channels_only_with_a_cpu_for_each_on_both_sides)
{
	struct plan_inputs in = typical(0, 0.6, 16); /* this host busy */
	struct plan next;
	char change[64], why[PLAN_REASON_MAX];
	CHECK(!channels_after(&in, 4, &next, change, why));
	in = typical(0, 16, 4.5); /* there, room for the four in use only */
	CHECK(!channels_after(&in, 4, &next, change, why));
	in = typical(0, 2.5, 16); /* here, two more */
	CHECK(channels_after(&in, 4, &next, change, why));
	CHECK_EQ_INT(next.channels, 6);
}

TEST(a_link_the_channels_keep_up_with_gets_no_more)
{
	struct plan_inputs in = typical(50, 16, 16);
	in.link_limit_mibs = 50;
	struct plan next;
	char change[64], why[PLAN_REASON_MAX];
	CHECK(!channels_after(&in, 1, &next, change, why));
}

TEST(raw_pages_get_no_more_channels)
{
	struct plan_inputs in = typical(0, 16, 16);
	struct plan cur = {.codec = CODEC_NONE, .threads = 4, .channels = 2, .channels_max = 8}, next;
	char change[64], why[PLAN_REASON_MAX];
	CHECK(!plan_channels_after_pass(&in, &cur, &next, change, 64, why, sizeof(why)));
}

TEST(a_single_connected_channel_is_left_alone)
{
	struct plan_inputs in = typical(0, 16, 0.2);
	struct plan cur = {.codec = CODEC_ZSTD, .threads = 1, .channels = 1, .channels_max = 1}, next;
	char change[64], why[PLAN_REASON_MAX];
	CHECK(!plan_channels_after_pass(&in, &cur, &next, change, 64, why, sizeof(why)));
}

RUN_TESTS("planner", UT(fast_link_sends_raw), UT(slow_link_with_idle_cpu_compresses_hard),
	  UT(eight_threads_buy_what_the_scaling_bench_measured),
	  UT(many_idle_cores_get_a_channel_per_thread), UT(a_source_the_planner_compresses_on_is_worth_a_link_probe),
	  UT(a_source_with_no_idle_cpu_is_not_probed), UT(a_source_not_yet_measured_is_probed),
	  UT(busy_source_cpu_compresses_lightly),
	  UT(busy_destination_gets_a_codec_cheap_to_inflate),
	  UT(a_destination_out_of_idle_cpu_gets_raw_pages),
	  UT(a_hot_set_resent_mid_migration_turns_xbzrle_on),
	  UT(a_codec_change_and_xbzrle_both_come_after_one_pass),
	  UT(a_slow_dirtier_gets_no_xbzrle_mid_migration), UT(xbzrle_dropped_for_poor_hits_stays_off),
	  UT(tight_memory_keeps_xbzrle_off_mid_migration_and_says_so),
	  UT(xbzrle_kept_off_is_said_once), UT(busy_hosts_keep_compression_off_and_say_why),
	  UT(compression_kept_off_is_said_once),
	  UT(compression_dropped_for_busy_hosts_is_said_once),
	  UT(hosts_of_unknown_size_say_nothing_of_compression_kept_off),
	  UT(a_start_before_the_idle_share_is_measured_says_so),
	  UT(incompressible_memory_is_sent_raw), UT(hot_guest_with_memory_to_spare_gets_xbzrle),
	  UT(tight_memory_gets_no_xbzrle), UT(dirty_rate_above_the_link_has_auto_converge),
	  UT(pinned_knobs_stay_as_set), UT(a_fast_measured_link_drops_compression),
	  UT(a_slow_measured_link_turns_compression_on), UT(small_differences_do_not_flip_the_codec),
	  UT(a_faster_challenger_wins_whatever_the_order_tried), UT(poor_xbzrle_hits_switch_it_off),
	  UT(link_bound_with_idle_cpus_starts_at_the_raised_level),
	  UT(cpu_bound_keeps_the_default_level),
	  UT(a_pass_bound_by_the_link_raises_the_level_and_says_why),
	  UT(a_busy_host_lowers_the_level_again), UT(a_pinned_level_is_not_raised),
	  UT(a_pinned_codec_leaves_the_level_to_the_planner), UT(an_unsampled_level_is_never_chosen),
	  UT(memory_tightening_under_the_cache_switches_xbzrle_off),
	  UT(memory_tightening_goes_before_a_codec_change),
	  UT(memory_enough_for_the_cache_keeps_xbzrle_on), UT(free_memory_unknown_keeps_xbzrle_on),
	  UT(a_pinned_cache_stays_when_memory_tightens),
	  UT(channels_start_with_one_per_thread_and_connect_one_per_cpu),
	  UT(a_busy_source_starts_on_one_channel_of_several),
	  UT(pinned_channels_are_all_connected_and_never_turned),
	  UT(a_busy_destination_gets_fewer_channels),
	  UT(a_link_slower_than_the_codec_gets_fewer_channels),
	  UT(idle_cpus_on_both_sides_get_more_channels_up_to_the_maximum),
	  UT(more_channels_only_with_a_cpu_for_each_on_both_sides),
	  UT(a_link_the_channels_keep_up_with_gets_no_more),
	  UT(raw_pages_get_no_more_channels), UT(a_single_connected_channel_is_left_alone))
