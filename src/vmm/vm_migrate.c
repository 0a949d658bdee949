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
#include "vmm/migrate_args.h"
#include "vmm/migrate_figures.h"
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
	*ret = migrate_plan_figures(&plan);
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
	{0},
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
	 "\"accel\", \"compress_threads\", \"xbzrle_cache\" (bytes), \"xbzrle\" (on|off), "
	 "\"qatzip_path\", "
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
