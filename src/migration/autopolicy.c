/* SPDX-License-Identifier: MIT */
#include "migration/autopolicy.h"
#include "migration/linkprobe.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "migration/active_channels.h"
#include "migration/converge.h"
#include "host/probe.h"
#include "migration/sender_internal.h"
#include "policy/channels.h"
#include "policy/sample.h"

/* plan_after_pass asked again after each change it makes: codec, level,
 * XBZRLE and what a host's figures held off can all move after one pass. */
#define MAX_CHANGES_A_PASS 4

_Static_assert(VMIG_PIN_CODEC == PLAN_PIN_CODEC && VMIG_PIN_LEVEL == PLAN_PIN_LEVEL &&
		       VMIG_PIN_THREADS == PLAN_PIN_THREADS && VMIG_PIN_CHANNELS == PLAN_PIN_CHANNELS &&
		       VMIG_PIN_XBZRLE == PLAN_PIN_XBZRLE && VMIG_PIN_CONVERGE == PLAN_PIN_CONVERGE,
	       "the public pins and the planner's are the same bits");

void autopolicy_record(struct vmig_migration *m, const char *change, const char *reason)
{
	log_info("policy: %s: %s", change, reason);
	pthread_mutex_lock(&m->lock);
	unsigned i = m->st.nr_decisions;
	if (i < VMIG_MAX_DECISIONS) {
		struct vmig_decision *d = &m->st.decisions[i];
		d->t_ms = m->t0_ns ? (now_ns() - m->t0_ns) / 1000000 : 0;
		d->pass = m->pass;
		snprintf(d->change, sizeof(d->change), "%s", change);
		snprintf(d->reason, sizeof(d->reason), "%s", reason);
		m->st.nr_decisions++;
	}
	pthread_mutex_unlock(&m->lock);
}

/* The caller's values, as the planner's pinned knobs. */
static void pinned_values(const struct vmig_migrate_params *p, struct plan *v)
{
	enum codec_id c = CODEC_NONE;
	if (p->codec && codec_parse(p->codec, &c))
		c = CODEC_DEFLATE; /* "qat": deflate on QAT */
	*v = (struct plan){.codec = c, .level = p->level, .threads = p->compress_threads,
			   .channels = p->channels, .xbzrle_bytes = p->xbzrle_cache_bytes,
			   .auto_converge = p->auto_converge,
			   .dirty_rate = p->throttle_mode == VMIG_THROTTLE_DIRTY_RATE};
}

/* What a host has to spare, from its figures. The CPUs it may use (a
 * quota counts), times the idle share once measured; before the probe's
 * first interval, all of them (the next re-plan corrects it). */
static void spare_of(const struct wire_host_info *hi, struct plan_host *h)
{
	double usable = hi->usable_cpus_milli / 1000.0;
	h->idle_measured = hi->flags & WIRE_HOST_IDLE;
	h->idle_cpus = h->idle_measured ? usable * hi->cpu_idle_permille / 1000.0 : usable;
	h->mem_avail = hi->mem_free_bytes;
	h->cpus = hi->ncpus;
}

bool autopolicy_idle_cpu_to_compress(const struct vmig_migration *m)
{
	struct wire_host_info hi;
	struct plan_host here;
	host_probe_get(m->probe, &hi, NULL);
	spare_of(&hi, &here);
	if (plan_probe_pays(&here))
		return true;
	log_info("no link probe: %.2f idle CPUs here, under %.2f", here.idle_cpus,
		 PLAN_PROBE_MIN_IDLE_CPUS);
	return false;
}

/* Both hosts' latest figures: this one's probe, with the CPUs the
 * migration's own compressing took counted as idle, and the destination's
 * report (which counts its decompressing the same way). After a pass
 * (over_pass), this host's idle share is the pass's average, the window
 * own_cpus was measured over; the next pass's window starts now. */
static void sense_hosts(struct vmig_migration *m, struct plan_inputs *in, double own_cpus,
			bool over_pass)
{
	struct wire_host_info hi;
	if (over_pass)
		host_probe_get_since_mark(m->probe, &hi);
	else
		host_probe_get(m->probe, &hi, NULL);
	host_probe_mark(m->probe);
	probe_credit_own_work(&hi, own_cpus);
	spare_of(&hi, &in->src);
	pthread_mutex_lock(&m->lock);
	struct wire_host_info dh = m->dest_host;
	in->dst_known = m->dest_host_ns != 0;
	pthread_mutex_unlock(&m->lock);
	if (in->dst_known)
		spare_of(&dh, &in->dst);
}

int autopolicy_sample_guest(struct vmig_migration *m, char *err, size_t errlen)
{
	if (m->p.policy != VMIG_POLICY_AUTO)
		return 0;
	uint64_t t0 = now_ns();
	if (sample_guest_memory(&m->ram, &m->plan_in)) {
		snprintf(err, errlen, "out of memory sampling guest pages");
		return -ENOMEM;
	}
	m->guest_sampled_ns = now_ns();
	log_debug("guest pages sampled in %.1f ms", (double)(m->guest_sampled_ns - t0) / 1e6);
	for (int c = 1; c < CODEC_COUNT; c++) {
		const struct plan_codec_sample *s = &m->plan_in.codec[c];
		log_debug("sample %s: ratio %.3f, %.0f MiB/s compressing, %.0f decompressing",
			  codec_name((enum codec_id)c), s->ratio, s->mibs_per_core,
			  s->dec_mibs_per_core);
	}
	return 0;
}

int autopolicy_start(struct vmig_migration *m, char *err, size_t errlen)
{
	snprintf(m->st.policy, sizeof(m->st.policy), "%s",
		 m->p.policy == VMIG_POLICY_AUTO ? "auto" : "fixed");
	if (m->p.policy != VMIG_POLICY_AUTO)
		return 0;
	struct plan_inputs *in = &m->plan_in;
	sense_hosts(m, in, 0, false);
	in->ram_bytes = m->ram.total_pages * VMIG_PAGE_SIZE;
	in->link_mibs = m->p.max_bandwidth ? (double)m->p.max_bandwidth / 1048576.0 : 0;
	in->xbzrle_hit_rate = -1;
	in->pinned = m->p.pinned;
	if (m->nr_byo_fds) /* the caller's connections are all there is */
		in->pinned |= PLAN_PIN_CHANNELS;
	struct plan pins;
	char why[PLAN_REASON_MAX], change[96];
	pinned_values(&m->p, &pins);
	plan_initial(in, &pins, &m->plan, why, sizeof(why));
	m->may_compress = true; /* the codec may change between passes */
	if (!(m->p.pinned & VMIG_PIN_CODEC))
		m->p.codec = codec_name(m->plan.codec);
	m->p.level = m->plan.level;
	m->p.compress_threads = m->plan.threads;
	m->p.channels = m->plan.channels_max; /* connected; m->plan.channels carry pages */
	m->p.xbzrle_cache_bytes = m->plan.xbzrle_bytes;
	m->plan_xbz_judge_from = 3; /* pass 2 fills the cache (pass 1 is all of RAM) */
	m->p.auto_converge = m->plan.auto_converge && m->g.ops->throttle;
	m->p.throttle_mode = m->plan.dirty_rate ? VMIG_THROTTLE_DIRTY_RATE : VMIG_THROTTLE_STEPS;
	char of[24] = "";
	if (m->plan.channels_max > m->plan.channels)
		snprintf(of, sizeof(of), " of %u", m->plan.channels_max);
	char lvl[16] = "";
	if (m->plan.level)
		snprintf(lvl, sizeof(lvl), " level %d", m->plan.level);
	/* The throttle goes with the reason: the change must fit a decision's
	 * 64 bytes ("start zstd level 3, 8 threads, 1 of 8 channels, XBZRLE
	 * off" is 59), where the reason has 160. */
	snprintf(change, sizeof(change), "start %s%s, %u threads, %u%s channels, XBZRLE %s",
		 m->p.codec ? m->p.codec : "none", lvl, m->plan.threads, m->plan.channels, of,
		 m->plan.xbzrle_bytes ? "on" : "off");
	size_t n = strlen(why);
	if (m->p.auto_converge)
		snprintf(why + n, sizeof(why) - n, "; throttle: %s",
			 m->plan.dirty_rate ? "dirty-rate" : "auto-converge");
	autopolicy_record(m, change, why);
	return 0;
}

/* CPUs' worth of time the compressing threads took in a pass of secs. */
static double compress_cpus(struct vmig_migration *m, double secs)
{
	if (!m->accel)
		return 0;
	struct accel_stats as;
	accel_get_stats(m->accel, &as);
	uint64_t used = as.compress_ns - m->plan_compress_ns;
	m->plan_compress_ns = as.compress_ns;
	return (double)used / 1e9 / secs;
}

/* This pass's XBZRLE hit rate, or -1 without XBZRLE. */
static double xbzrle_hits(struct vmig_migration *m)
{
	struct vmig_migrate_stats st = VMIG_MIGRATE_STATS_INIT;
	if (!m->plan.xbzrle_bytes)
		return -1;
	vmig_migration_query(m, &st);
	uint64_t h = st.xbzrle_hits - m->plan_hits, n = h + st.xbzrle_misses - m->plan_misses;
	m->plan_hits = st.xbzrle_hits;
	m->plan_misses = st.xbzrle_misses;
	if (m->pass < m->plan_xbz_judge_from)
		return -1; /* the cache was still learning: every page a miss */
	return n > 1000 ? (double)h / (double)n : -1; /* too few to judge */
}

/* XBZRLE on every stream in use, the cache shared out; all or none. */
static int start_xbzrle(struct vmig_migration *m, uint64_t bytes)
{
	for (unsigned i = 0; i < m->active_streams; i++)
		if (stream_start_xbzrle(&m->streams[i], bytes / m->active_streams)) {
			for (unsigned k = 0; k <= i; k++)
				stream_drop_xbzrle(&m->streams[k]);
			return -ENOMEM;
		}
	return 0;
}

/* Puts a new plan into effect; stream threads are idle between passes.
 * Returns false if it could not (no memory for an XBZRLE cache). */
static bool apply(struct vmig_migration *m, const struct plan *next)
{
	if (next->xbzrle_bytes && !m->plan.xbzrle_bytes) {
		if (start_xbzrle(m, next->xbzrle_bytes)) {
			m->plan_in.xbzrle_dropped = true; /* not worth asking again */
			return false;
		}
		m->p.xbzrle_cache_bytes = next->xbzrle_bytes;
		/* the next pass fills the cache; the one after can hit */
		m->plan_xbz_judge_from = m->pass + 2;
	}
	/* the name stays as the caller gave it unless the codec changes:
	 * "qat" travels as deflate, and a re-plan of XBZRLE or threads must
	 * not report it as CPU deflate */
	bool renamed = next->codec != m->codec;
	m->codec = next->codec;
	m->p.level = next->level ? next->level : codec_default_level(next->codec);
	pthread_mutex_lock(&m->lock);
	m->st.level = m->p.level;
	pthread_mutex_unlock(&m->lock);
	if (!next->xbzrle_bytes && m->plan.xbzrle_bytes) {
		for (unsigned i = 0; i < m->nr_streams; i++)
			stream_drop_xbzrle(&m->streams[i]);
		m->plan_in.xbzrle_dropped = true;
	}
	if (renamed) {
		pthread_mutex_lock(&m->lock);
		snprintf(m->st.codec, sizeof(m->st.codec), "%s", codec_name(next->codec));
		pthread_mutex_unlock(&m->lock);
	}
	m->plan = *next;
	return true;
}

/* The channels in use for the next pass (policy/channels.h). */
static int replan_channels(struct vmig_migration *m, char *err, size_t errlen)
{
	struct plan next;
	char change[64], why[PLAN_REASON_MAX];
	if (!plan_channels_after_pass(&m->plan_in, &m->plan, &next, change, sizeof(change), why,
				      sizeof(why)))
		return 0;
	int r = active_channels_set(m, next.channels, err, errlen);
	if (r)
		return r;
	m->plan.channels = next.channels;
	autopolicy_record(m, change, why);
	return 0;
}

int autopolicy_after_pass(struct vmig_migration *m, double secs, uint64_t wire, uint64_t dirty,
			  char *err, size_t errlen)
{
	if (m->p.policy != VMIG_POLICY_AUTO || secs <= 0)
		return 0;
	struct plan_inputs *in = &m->plan_in;
	double own = compress_cpus(m, secs);
	sense_hosts(m, in, own, true);
	/* A pass the CPU limited says only that the link is at least this fast. */
	double measured = (double)wire / secs / 1048576.0;
	bool cpu_bound = m->codec != CODEC_NONE && own > 0.8 * m->plan.threads;
	in->link_mibs = cpu_bound ? 0 : measured;
	double cap = (double)m->p.max_bandwidth / 1048576.0;
	if (m->p.max_bandwidth && (in->link_mibs == 0 || in->link_mibs > cap))
		in->link_mibs = cap;
	/* The cap is the link the operator declared: what the channels need
	 * to keep up with, whether or not this pass reached it. An uncapped
	 * link's rate is not known (a pass's figure may be the channels'). */
	in->link_limit_mibs = cap;
	in->dirty_mibs = (double)dirty * VMIG_PAGE_SIZE / secs / 1048576.0;
	in->hot_bytes = dirty * VMIG_PAGE_SIZE; /* what the next pass sends again */
	in->xbzrle_hit_rate = xbzrle_hits(m);
	/* Every change that applies, not just the first: a codec change the
	 * CPU noise asked for held XBZRLE back a pass each time, and a hot
	 * set went raw four passes more (KVM, 1 Gbit/s: 14.6 s against 6). */
	struct plan next;
	char change[64], why[PLAN_REASON_MAX];
	for (unsigned k = 0; k < MAX_CHANGES_A_PASS &&
			     plan_after_pass(in, &m->plan, &next, change, sizeof(change), why, sizeof(why));
	     k++) {
		if (!apply(m, &next)) {
			log_warn("policy: %s: no memory for it", change);
			break;
		}
		autopolicy_record(m, change, why);
	}
	return replan_channels(m, err, errlen);
}

int autopolicy_after_probe(struct vmig_migration *m, double secs, uint64_t wire, char *err,
			   size_t errlen)
{
	m->plan_xbz_judge_from++; /* an XBZRLE cache fills in the first full pass */
	/* a probe of zero pages says little of the link: records of a few
	 * bytes each go out as fast as the pages are scanned */
	if (wire < sender_link_probe_bytes / LINK_PROBE_MIN_WIRE_SHARE)
		return 0;
	/* with nothing dirtied to judge by, only the codec and channels move */
	return autopolicy_after_pass(m, secs, wire, 0, err, errlen);
}

void autopolicy_report(const struct vmig_migration *m, struct vmig_migrate_plan *out)
{
	const struct plan *pl = &m->plan;
	uint32_t size = out->size;
	memset(out, 0, sizeof(*out));
	out->size = size;
	snprintf(out->codec, sizeof(out->codec), "%s", m->p.codec ? m->p.codec : "none");
	out->level = pl->level;
	out->threads = pl->threads;
	out->channels = pl->channels;
	out->xbzrle_cache_bytes = pl->xbzrle_bytes;
	out->auto_converge = m->p.auto_converge;
	snprintf(out->throttle_mode, sizeof(out->throttle_mode), "%s", converge_mode_name(&m->p));
	out->dirty_limit = m->p.dirty_limit;
	out->ram_mibs = plan_rate_at(&m->plan_in, pl->codec, pl->level, pl->threads);
	double ram_mib = (double)m->plan_in.ram_bytes / 1048576.0;
	out->first_pass_ms = out->ram_mibs > 0 ? (uint64_t)(ram_mib / out->ram_mibs * 1000.0) : 0;
	if (m->st.nr_decisions)
		snprintf(out->reason, sizeof(out->reason), "%s", m->st.decisions[0].reason);
}
