/* SPDX-License-Identifier: MIT */
/* The engine's figures as query-migrate's JSON: see migrate_figures.h. */
#include "vmm/migrate_figures.h"

/* pages{...}, channels[...] and xbzrle{...} of query-migrate. */
static json_t *migrate_detail(const struct vmig_migrate_stats *st)
{
	json_t *chans = json_array();
	double secs = (double)st->total_ms / 1000.0;

	for (unsigned i = 0; chans && i < st->nr_channels && i < VMIG_MAX_DATA_CHANNELS; i++) {
		double mibs = st->total_ms ? (double)st->channel_bytes[i] / 1048576.0 / secs : 0;
		if (json_array_append_new(chans, json_pack("{s:I, s:I, s:f}", "index", (json_int_t)i,
							   "bytes", json_u64(st->channel_bytes[i]),
							   "throughput_mibs", mibs))) {
			json_decref(chans);
			chans = NULL;
		}
	}
	return json_pack("{s:{s:I, s:I, s:I, s:I}, s:o, s:{s:I, s:I, s:I, s:I}}", "pages", "normal",
			 json_u64(st->pages_normal), "zero", json_u64(st->pages_zero), "compressed",
			 json_u64(st->pages_compressed), "xbzrle", json_u64(st->pages_xbzrle),
			 "channels", chans, "xbzrle", "cache_hits", json_u64(st->xbzrle_hits),
			 "cache_misses", json_u64(st->xbzrle_misses), "overflows",
			 json_u64(st->xbzrle_overflows), "bytes_saved",
			 json_u64(st->xbzrle_bytes_saved));
}

/* {"strategy": "auto"|"fixed", "decisions": [{t_ms, pass, change, reason}]} */
static json_t *policy_figures(const struct vmig_migrate_stats *st)
{
	json_t *d = json_array();
	for (unsigned i = 0; d && i < st->nr_decisions && i < VMIG_MAX_DECISIONS; i++)
		json_array_append_new(
			d, json_pack("{s:I, s:I, s:o, s:o}", "t_ms", (json_int_t)st->decisions[i].t_ms,
				     "pass", (json_int_t)st->decisions[i].pass, "change",
				     json_string_lossy(st->decisions[i].change), "reason",
				     json_string_lossy(st->decisions[i].reason)));
	return json_pack("{s:s, s:o*}", "strategy", st->policy[0] ? st->policy : "fixed",
			 "decisions", d);
}

json_t *migrate_figures(const struct vmig_migrate_stats *st)
{
	double ratio = st->bytes_after_compression ? (double)st->bytes_before_compression /
							     (double)st->bytes_after_compression
						   : 1.0;
	json_t *r = json_pack(
		"{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:o, s:f, s:o, s:o, "
		"s:I, s:I, s:I, s:o, s:o, s:o, s:I, s:b}",
		"status", vmig_mig_status_name(st->status), "total_ms", json_u64(st->total_ms),
		"setup_ms", json_u64(st->setup_ms), "downtime_ms", json_u64(st->downtime_ms),
		"guest_downtime_ms", (json_int_t)st->guest_downtime_ms, "iterations",
		json_u64(st->iterations), "ram_bytes", json_u64(st->ram_bytes), "wire_bytes",
		json_u64(st->wire_bytes), "pages_xbzrle", json_u64(st->pages_xbzrle),
		"pages_compressed", json_u64(st->pages_compressed), "codec",
		st->codec[0] ? st->codec : "none", "accelerator", json_string_lossy(st->accel),
		"compression_ratio", ratio, "compress_cpu_s", json_finite(st->compress_cpu_s),
		"dest_decompress_cpu_s", json_finite(st->dest_decompress_cpu_s), "pass_pages",
		json_u64(st->pages_this_pass), "pass_pages_done", json_u64(st->pages_sent_this_pass),
		"remaining_bytes", json_u64(st->remaining_bytes), "throughput_mibs",
		json_finite(st->throughput_mibs), "bandwidth_mibs", json_finite(st->bandwidth_mibs),
		"dirty_rate_mibs", json_finite(st->dirty_rate_mibs), "expected_downtime_ms",
		json_u64(st->expected_downtime_ms), "verified", st->verified);
	if (r && json_object_update_new(r, migrate_detail(st)) < 0) {
		json_decref(r);
		return NULL;
	}
	if (r && st->tls[0] && json_object_set_new(r, "tls", json_string_lossy(st->tls)) < 0) {
		json_decref(r);
		return NULL;
	}
	if (r && json_object_set_new(r, "level", json_integer(st->level)) < 0) {
		json_decref(r);
		return NULL;
	}
	if (r && json_object_update_new(r, json_pack("{s:I, s:I, s:s}", "throttle_pct",
						       (json_int_t)st->throttle_pct, "throttle_steps",
						       (json_int_t)st->throttle_steps, "throttle_mode",
						       st->throttle_mode)) < 0) {
		json_decref(r);
		return NULL;
	}
	/* How many of the data channels carry pages now (the auto policy turns it). */
	if (r && json_object_set_new(r, "active_channels", json_integer(st->active_channels)) < 0) {
		json_decref(r);
		return NULL;
	}
	if (r && json_object_update_new(r, json_pack("{s:I, s:I, s:I}", "reconnect_attempts",
						       json_u64(st->reconnect_attempts), "reconnect_ms",
						       json_u64(st->reconnect_ms), "resumes",
						       json_u64(st->resumes))) < 0) {
		json_decref(r);
		return NULL;
	}
	if (r && json_object_set_new(r, "policy", policy_figures(st)) < 0) {
		json_decref(r);
		return NULL;
	}
	if (r && st->error[0] && json_object_set_new(r, "error", json_string_lossy(st->error)) < 0) {
		json_decref(r);
		return NULL;
	}
	return r;
}

json_t *migrate_plan_figures(const struct vmig_migrate_plan *plan)
{
	return json_pack("{s:s, s:i, s:i, s:i, s:I, s:b, s:s, s:I, s:f, s:I, s:o}", "codec",
			 plan->codec, "level", plan->level, "threads", (int)plan->threads,
			 "channels", (int)plan->channels, "xbzrle_cache",
			 (json_int_t)plan->xbzrle_cache_bytes, "auto_converge", plan->auto_converge,
			 "throttle_mode", plan->throttle_mode, "dirty_limit",
			 (json_int_t)plan->dirty_limit, "ram_mibs", plan->ram_mibs, "first_pass_ms",
			 (json_int_t)plan->first_pass_ms, "reason", json_string_lossy(plan->reason));
}
