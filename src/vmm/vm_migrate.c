/* SPDX-License-Identifier: MIT */
/* The migration control commands: migrate, query-migrate, migrate-cancel. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/log.h"
#include "vmig/migration.h"
#include "vmm/control.h"
#include "vmm/vm.h"

/* ---- control commands ---- */

static void migration_done(void *opaque, const struct vmig_migrate_stats *st)
{
	struct vm *vm = opaque;
	/* Like the engine's timed throttle: lifted whatever the outcome. */
	vm_dirty_limit_set(vm, 0);
	if (st->status == VMIG_MIG_COMPLETED) {
		pthread_mutex_lock(&vm->lock);
		vm->migrated = true;
		pthread_mutex_unlock(&vm->lock);
		pthread_mutex_lock(&vm->mig_lock);
		vm->migrated_ns = now_ns();
		pthread_mutex_unlock(&vm->mig_lock);
		log_info("migration completed in %llu ms (downtime %llu ms); this VM has moved",
			 (unsigned long long)st->total_ms, (unsigned long long)st->downtime_ms);
	} else if (st->status == VMIG_MIG_UNCONFIRMED) {
		/* The engine lets go of its pause; the operator now holds it. */
		pthread_mutex_lock(&vm->lock);
		vm->mig_paused = false;
		vm->handover_unconfirmed = true;
		pthread_mutex_unlock(&vm->lock);
		log_err("migration: %s", st->error);
	} else {
		/* cancelled because the VM itself ended (a guest crash, a quit):
		 * there is no guest left here to keep running */
		pthread_mutex_lock(&vm->lock);
		bool ended = vm->ended;
		pthread_mutex_unlock(&vm->lock);
		log_warn("migration %s: %s; %s", vmig_mig_status_name(st->status), st->error,
			 ended ? "the VM here has ended" : "the guest keeps running here");
	}
}

/* The migrate command's arguments: absent ones stay 0, the engine's default. */
struct migrate_args {
	const char *uri, *codec, *accel, *qatzip_path;
	uint64_t downtime_ms, max_bandwidth, timeout_ms, io_timeout_ms, channels;
	uint64_t compress_threads, xbzrle_cache;
	int64_t level;
	bool auto_converge, throttle_tailslow;
	uint64_t throttle_trigger, throttle_initial, throttle_increment, throttle_max;
	const char *policy;
	const char *qat_fallback, *qatzip_log;
	const char *throttle_mode;
	uint64_t dirty_limit;
	const char *tls_creds, *tls_psk, *tls_hostname; /* absolute paths (the VMM's cwd is its own) */
	uint64_t resume_timeout_ms;
};

static const struct control_arg migrate_spec[] = {
	CONTROL_ARG_S(struct migrate_args, uri, true),
	CONTROL_ARG_U(struct migrate_args, downtime_ms, false, 0, 3600000),
	/* bytes/s, 0: unlimited */
	CONTROL_ARG_U(struct migrate_args, max_bandwidth, false, 0, INT64_MAX),
	CONTROL_ARG_U(struct migrate_args, timeout_ms, false, 0, 86400000),
	CONTROL_ARG_U(struct migrate_args, io_timeout_ms, false, 0, 3600000),
	CONTROL_ARG_U(struct migrate_args, channels, false, 0, VMIG_MAX_DATA_CHANNELS),
	CONTROL_ARG_S(struct migrate_args, codec, false),
	CONTROL_ARG_I(struct migrate_args, level, false, -100, 100),
	CONTROL_ARG_S(struct migrate_args, accel, false),
	CONTROL_ARG_U(struct migrate_args, compress_threads, false, 0, 64),
	/* bytes, 0: off */
	CONTROL_ARG_U(struct migrate_args, xbzrle_cache, false, 0, 1ll << 40),
	CONTROL_ARG_S(struct migrate_args, qatzip_path, false),
	/* auto-converge, QEMU's meaning; 0: QEMU's defaults (50, 20, 10, 99) */
	CONTROL_ARG_B(struct migrate_args, auto_converge, false),
	CONTROL_ARG_U(struct migrate_args, throttle_trigger, false, 0, 100),
	CONTROL_ARG_U(struct migrate_args, throttle_initial, false, 0, 99),
	CONTROL_ARG_U(struct migrate_args, throttle_increment, false, 0, 99),
	CONTROL_ARG_U(struct migrate_args, throttle_max, false, 0, 99),
	CONTROL_ARG_B(struct migrate_args, throttle_tailslow, false),
	/* "auto": the engine plans what is not given here; "fixed" (default): as given */
	CONTROL_ARG_S(struct migrate_args, policy, false),
	/* QAT without a device: "none", "qatzip" or "cpu" (default); QATzip's log level */
	CONTROL_ARG_S(struct migrate_args, qat_fallback, false),
	CONTROL_ARG_S(struct migrate_args, qatzip_log, false),
	/* "auto-converge" (default) or "dirty-rate": how auto-converge throttles;
	 * given, it turns auto-converge on */
	CONTROL_ARG_S(struct migrate_args, throttle_mode, false),
	/* bytes/s the guest may dirty, 0: no limit */
	CONTROL_ARG_U(struct migrate_args, dirty_limit, false, 0, INT64_MAX),
	/* TLS 1.3: X.509 directory (QEMU's layout) or PSK file; the name to check */
	CONTROL_ARG_S(struct migrate_args, tls_creds, false),
	CONTROL_ARG_S(struct migrate_args, tls_psk, false),
	CONTROL_ARG_S(struct migrate_args, tls_hostname, false),
	/* a link lost before the handover is reconnected for this long; 0: fail at once */
	CONTROL_ARG_U(struct migrate_args, resume_timeout_ms, false, 0, 86400000),
	{NULL},
};

/* The arguments as the engine's parameters: 0, or -EINVAL with err. */
static int migrate_params(const struct migrate_args *a, struct vmig_migrate_params *p, char *err,
			  size_t errlen)
{
	p->uri = a->uri;
	p->downtime_limit_ms = a->downtime_ms;
	p->max_bandwidth = a->max_bandwidth;
	p->timeout_ms = a->timeout_ms;
	p->io_timeout_ms = (int)a->io_timeout_ms;
	p->channels = (unsigned)a->channels;
	p->codec = a->codec;
	p->level = (int)a->level;
	p->accel = a->accel;
	p->compress_threads = (unsigned)a->compress_threads;
	p->xbzrle_cache_bytes = a->xbzrle_cache;
	p->qatzip_library = a->qatzip_path;
	p->auto_converge = a->auto_converge;
	p->throttle_trigger_pct = (unsigned)a->throttle_trigger;
	p->throttle_initial_pct = (unsigned)a->throttle_initial;
	p->throttle_increment_pct = (unsigned)a->throttle_increment;
	p->throttle_max_pct = (unsigned)a->throttle_max;
	p->throttle_tailslow = a->throttle_tailslow;
	p->qat_fallback = a->qat_fallback;
	p->qatzip_log = a->qatzip_log;
	p->tls_creds_dir = a->tls_creds;
	p->tls_psk_file = a->tls_psk;
	p->tls_hostname = a->tls_hostname;
	/* under auto, every knob given a value is pinned; the rest is planned */
	p->policy = a->policy && !strcmp(a->policy, "auto") ? VMIG_POLICY_AUTO : VMIG_POLICY_FIXED;
	p->pinned = (a->codec ? VMIG_PIN_CODEC : 0) | (a->level ? VMIG_PIN_LEVEL : 0) |
		    (a->compress_threads ? VMIG_PIN_THREADS : 0) |
		    (a->channels ? VMIG_PIN_CHANNELS : 0) | (a->xbzrle_cache ? VMIG_PIN_XBZRLE : 0) |
		    (a->auto_converge || a->throttle_mode ? VMIG_PIN_CONVERGE : 0);
	p->dirty_limit = a->dirty_limit;
	p->resume_timeout_ms = a->resume_timeout_ms;
	if (!a->throttle_mode)
		return 0;
	p->auto_converge = true;
	if (!strcmp(a->throttle_mode, "dirty-rate"))
		p->throttle_mode = VMIG_THROTTLE_DIRTY_RATE;
	else if (strcmp(a->throttle_mode, "auto-converge")) {
		snprintf(err, errlen, "throttle_mode wants auto-converge or dirty-rate");
		return -EINVAL;
	}
	return 0;
}

/* Whether a migration may start now; vm->mig_lock held. Frees a finished one. */
static int migrate_may_start(struct vm *vm, char *err, size_t errlen)
{
	if (vm_get_state(vm) == VM_SHUTDOWN) {
		snprintf(err, errlen, "the VM is not running");
		return -ESHUTDOWN;
	}
	if (vm_handover_unconfirmed(vm)) {
		snprintf(err, errlen,
			 "the last migration's handover is unconfirmed: find out whether the guest "
			 "runs on the destination, then 'cont' (it does not) or 'quit' (it does)");
		return -EBUSY;
	}
	if (vm->mig) {
		struct vmig_migrate_stats st = VMIG_MIGRATE_STATS_INIT;
		vmig_migration_query(vm->mig, &st);
		if (st.status != VMIG_MIG_FAILED && st.status != VMIG_MIG_CANCELLED &&
		    st.status != VMIG_MIG_UNCONFIRMED) {
			snprintf(err, errlen, "a migration is already %s",
				 vmig_mig_status_name(st.status));
			return -EBUSY;
		}
		vmig_migration_free(vm->mig);
		vm->mig = NULL;
	}
	return 0;
}

/*
 * A dirty limit with the dirty ring: the VMM holds the vCPUs that dirty
 * (dirtylimit.c) and the engine throttles nothing, as with its own dirty
 * limit, which overrides auto-converge. Without the ring the engine's
 * timed throttle enforces the limit, every vCPU alike.
 */
static bool take_vcpu_dirty_limit(struct vm *vm, struct vmig_migrate_params *p)
{
	if (!p->dirty_limit || !vm->dirty.ring.entries)
		return false;
	p->dirty_limit = 0;
	p->auto_converge = false;
	p->pinned |= VMIG_PIN_CONVERGE; /* --policy auto must not add a throttle */
	return true;
}

static int cmd_migrate(void *ctx, json_t *args, json_t **ret, char *err, size_t errlen)
{
	struct vm *vm = ctx;
	struct vmig_migrate_params p = VMIG_MIGRATE_PARAMS_INIT;
	struct migrate_args a = {0};
	struct vmig_guest g;
	uint8_t *cfg = NULL;
	size_t cfg_len = 0;
	int r;

	if ((r = control_args_unpack("migrate", args, migrate_spec, &a, err, errlen)))
		return r;
	if ((r = migrate_params(&a, &p, err, errlen)))
		return r;
	pthread_mutex_lock(&vm->mig_lock);
	if ((r = migrate_may_start(vm, err, errlen))) {
		pthread_mutex_unlock(&vm->mig_lock);
		return r;
	}
	if ((r = vm_config_encode(vm, &cfg, &cfg_len))) {
		pthread_mutex_unlock(&vm->mig_lock);
		snprintf(err, errlen, "out of memory");
		return r;
	}
	p.vmm_config = cfg;
	p.vmm_config_len = cfg_len;
	p.done = migration_done;
	p.opaque = vm;
	vm_guest_iface(vm, &g);
	vm->final_stats_read = false;
	vm->mig_dirty_limit = a.dirty_limit;
	vm->mig_vcpu_limit = take_vcpu_dirty_limit(vm, &p);
	__atomic_store_n(&vm->throttle_used, false, __ATOMIC_RELEASE);
	/* Before the start: it acts from the first pass, and a migration
	 * that ends at once lifts it in migration_done. */
	if (vm->mig_vcpu_limit)
		vm_dirty_limit_set(vm, a.dirty_limit);
	r = vmig_migration_start(&g, &p, &vm->mig, err, errlen);
	if (r && vm->mig_vcpu_limit)
		vm_dirty_limit_set(vm, 0);
	free(cfg);
	pthread_mutex_unlock(&vm->mig_lock);
	return r;
}

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

static json_t *migrate_figures(const struct vmig_migrate_stats *st)
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

/* What --policy auto would start with for these arguments; migrates nothing. */
static int cmd_query_migrate_plan(void *ctx, json_t *args, json_t **ret, char *err, size_t errlen)
{
	struct vm *vm = ctx;
	struct migrate_args a = {0};
	struct vmig_migrate_params p = VMIG_MIGRATE_PARAMS_INIT;
	struct vmig_migrate_plan plan = VMIG_MIGRATE_PLAN_INIT;
	struct vmig_guest g;
	int r = control_args_unpack("query-migrate-plan", args, migrate_spec, &a, err, errlen);
	if (r)
		return r;
	if ((r = migrate_params(&a, &p, err, errlen)))
		return r;
	vm_guest_iface(vm, &g);
	if ((r = vmig_migration_plan(&g, &p, &plan, err, errlen)))
		return r;
	*ret = json_pack("{s:s, s:i, s:i, s:i, s:I, s:b, s:s, s:I, s:f, s:I, s:o}", "codec", plan.codec,
			 "level", plan.level, "threads", (int)plan.threads, "channels",
			 (int)plan.channels, "xbzrle_cache", (json_int_t)plan.xbzrle_cache_bytes,
			 "auto_converge", plan.auto_converge, "throttle_mode", plan.throttle_mode,
			 "dirty_limit", (json_int_t)plan.dirty_limit, "ram_mibs", plan.ram_mibs,
			 "first_pass_ms", (json_int_t)plan.first_pass_ms, "reason",
			 json_string_lossy(plan.reason));
	const char *path = !plan.throttle_mode[0] ? "none"
			   : plan.dirty_limit && vm->dirty.ring.entries ? "per-vcpu" : "timed";
	if (*ret && json_object_update_new(*ret, json_pack("{s:s, s:s}", "dirty_tracking",
							   dirty_log_mode_name(&vm->dirty),
							   "throttle_path", path)) < 0) {
		json_decref(*ret);
		*ret = NULL;
	}
	return *ret ? 0 : -ENOMEM;
}

/* Each vCPU's dirty figures: what the ring says it dirtied, and the time
 * a dirty limit held it. */
static json_t *vcpu_dirty_figures(struct vm *vm)
{
	json_t *a = json_array();
	for (unsigned i = 0; a && i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		json_t *o = json_pack(
			"{s:I, s:I, s:I, s:I, s:I}", "index", (json_int_t)i, "dirty_pages",
			json_u64(__atomic_load_n(&vm->dirty.ring.vcpu_pages[i], __ATOMIC_RELAXED)),
			"ring_full_exits", json_u64(__atomic_load_n(&v->ring_full_exits, __ATOMIC_RELAXED)),
			"holds", json_u64(__atomic_load_n(&v->holds, __ATOMIC_RELAXED)), "held_ms",
			json_u64(__atomic_load_n(&v->held_ns, __ATOMIC_RELAXED) / 1000000));
		if (json_array_append_new(a, o) < 0) {
			json_decref(a);
			a = NULL;
		}
	}
	return a;
}

/*
 * What the VMM adds to the engine's figures: how dirty pages were tracked
 * and which path throttled: "per-vcpu" (the dirty ring's per-vCPU dirty
 * limit), "timed" (the engine's throttle, every vCPU alike) or "none".
 */
static int add_vmm_figures(struct vm *vm, bool vcpu_limit, uint64_t limit, json_t *r)
{
	bool timed = __atomic_load_n(&vm->throttle_used, __ATOMIC_ACQUIRE);
	const char *path = vcpu_limit ? "per-vcpu" : timed ? "timed" : "none";
	if (json_object_update_new(r, json_pack("{s:s, s:s}", "dirty_tracking",
						dirty_log_mode_name(&vm->dirty), "throttle_path",
						path)) < 0)
		return -ENOMEM;
	/* The engine was given no limit: the VMM enforces it. */
	if (vcpu_limit && json_object_update_new(r, json_pack("{s:s, s:I}", "throttle_mode",
							      "dirty-limit", "dirty_limit",
							      json_u64(limit))) < 0)
		return -ENOMEM;
	if (vm->dirty.ring.entries && json_object_set_new(r, "vcpus", vcpu_dirty_figures(vm)) < 0)
		return -ENOMEM;
	return 0;
}

/* query-migrate's one argument. "release": this reader reports the final
 * result (vmig migrate does), so once it has seen the migration completed
 * the source may exit. A monitor polling alongside reads the same status
 * without it, and so never takes the result from under vmig migrate. */
struct query_migrate_args {
	bool release;
};

static const struct control_arg query_migrate_spec[] = {
	CONTROL_ARG_B(struct query_migrate_args, release, false),
	{NULL},
};

static int cmd_query_migrate(void *ctx, json_t *args, json_t **ret, char *err, size_t errlen)
{
	struct vm *vm = ctx;
	struct vmig_migrate_stats st = VMIG_MIGRATE_STATS_INIT;
	struct query_migrate_args a = {0};
	int r = control_args_unpack("query-migrate", args, query_migrate_spec, &a, err, errlen);
	if (r)
		return r;

	pthread_mutex_lock(&vm->mig_lock);
	if (!vm->mig) {
		pthread_mutex_unlock(&vm->mig_lock);
		*ret = json_pack("{s:s}", "status", "none");
		return *ret ? 0 : -ENOMEM;
	}
	vmig_migration_query(vm->mig, &st);
	if (st.status == VMIG_MIG_COMPLETED && a.release)
		vm->final_stats_read = true;
	bool vcpu_limit = vm->mig_vcpu_limit;
	uint64_t limit = vm->mig_dirty_limit;
	pthread_mutex_unlock(&vm->mig_lock);
	*ret = migrate_figures(&st);
	if (*ret && add_vmm_figures(vm, vcpu_limit, limit, *ret)) {
		json_decref(*ret);
		*ret = NULL;
	}
	return *ret ? 0 : -ENOMEM;
}

static int cmd_migrate_cancel(void *ctx, json_t *args, json_t **ret, char *err, size_t errlen)
{
	struct vm *vm = ctx;
	pthread_mutex_lock(&vm->mig_lock);
	if (vm->mig)
		vmig_migration_cancel(vm->mig);
	pthread_mutex_unlock(&vm->mig_lock);
	return 0;
}

static const struct control_command migrate_commands[] = {
	{"migrate", cmd_migrate,
	 "start a live migration {\"uri\": \"tcp:HOST:PORT\", \"downtime_ms\", \"max_bandwidth\" "
	 "(bytes/s), \"timeout_ms\", \"io_timeout_ms\", \"channels\", \"codec\", \"level\", "
	 "\"accel\", \"compress_threads\", \"xbzrle_cache\" (bytes), \"qatzip_path\", "
	 "\"auto_converge\", \"throttle_trigger\", \"throttle_initial\", \"throttle_increment\", "
	 "\"throttle_max\", \"throttle_tailslow\", \"policy\" (auto|fixed), "
	 "\"qat_fallback\" (none|qatzip|cpu), \"qatzip_log\" (none|error|warning|info|debug), "
	 "\"throttle_mode\" (auto-converge|dirty-rate), \"dirty_limit\" (bytes/s), "
	 "\"tls_creds\" (dir), \"tls_psk\" (file), \"tls_hostname\"}",
	 migrate_spec},
	{"query-migrate", cmd_query_migrate,
	 "progress and figures of the current migration {\"release\" (bool: this reader reports "
	 "the final result; once it has seen it completed the source may exit)}",
	 query_migrate_spec},
	{"query-migrate-plan", cmd_query_migrate_plan,
	 "what --policy auto would start with for these migrate arguments, and why", migrate_spec},
	{"migrate-cancel", cmd_migrate_cancel, "cancel the migration; the guest keeps running here",
	 NULL},
};
const struct control_command *const vm_migrate_commands = migrate_commands;
const unsigned vm_migrate_nr_commands = sizeof(migrate_commands) / sizeof(migrate_commands[0]);

void vm_migration_cleanup(struct vm *vm)
{
	pthread_mutex_lock(&vm->mig_lock);
	struct vmig_migration *m = vm->mig;
	vm->mig = NULL;
	pthread_mutex_unlock(&vm->mig_lock);
	if (m) {
		vmig_migration_cancel(m);
		vmig_migration_free(m);
	}
}
