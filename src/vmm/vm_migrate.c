/* SPDX-License-Identifier: MIT */
/* The migration control commands: migrate, query-migrate, migrate-cancel. */
#include <errno.h>
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
		log_warn("migration %s: %s; the guest keeps running here",
			 vmig_mig_status_name(st->status), st->error);
	}
}

static int cmd_migrate(void *ctx, const struct json_value *args, struct json_writer *w, char *err,
		       size_t errlen)
{
	struct vm *vm = ctx;
	struct vmig_migrate_params p = VMIG_MIGRATE_PARAMS_INIT;
	const char *uri;
	uint64_t v;
	int r;

	if (!args || json_get_string(args, "uri", &uri)) {
		snprintf(err, errlen, "migrate needs a string argument 'uri' (tcp:HOST:PORT)");
		return -EINVAL;
	}
	p.uri = uri;
	if (!json_get_uint(args, "downtime_ms", &v))
		p.downtime_limit_ms = v;
	if (!json_get_uint(args, "max_bandwidth", &v))
		p.max_bandwidth = v;
	if (!json_get_uint(args, "timeout_ms", &v))
		p.timeout_ms = v;
	if (!json_get_uint(args, "io_timeout_ms", &v) && v > 0 && v < 3600000)
		p.io_timeout_ms = (int)v;
	const char *str;
	if (!json_get_string(args, "codec", &str))
		p.codec = str;
	if (!json_get_string(args, "accel", &str))
		p.accel = str;
	int64_t lvl;
	if (!json_get_int(args, "level", &lvl)) {
		if (lvl < -100 || lvl > 100) {
			snprintf(err, errlen, "level out of range");
			return -EINVAL;
		}
		p.level = (int)lvl;
	}
	if (!json_get_uint(args, "compress_threads", &v))
		p.compress_threads = v > 64 ? 64 : (unsigned)v;
	if (!json_get_uint(args, "xbzrle_cache", &v))
		p.xbzrle_cache_bytes = v;
	if (!json_get_string(args, "qatzip_path", &str))
		p.qatzip_library = str;
	if (!json_get_uint(args, "channels", &v)) {
		if (v > 16) {
			snprintf(err, errlen, "channels must be 0..16");
			return -EINVAL;
		}
		p.channels = (unsigned)v;
	}
	if (vm_get_state(vm) == VM_SHUTDOWN) {
		snprintf(err, errlen, "the VM is not running");
		return -ESHUTDOWN;
	}
	if (vm_handover_unconfirmed(vm)) {
		snprintf(err, errlen, "the last migration's handover is unconfirmed: find out whether the "
				      "guest runs on the destination, then 'cont' (it does not) or 'quit' (it does)");
		return -EBUSY;
	}
	pthread_mutex_lock(&vm->mig_lock);
	if (vm->mig) {
		struct vmig_migrate_stats st = VMIG_MIGRATE_STATS_INIT;
		vmig_migration_query(vm->mig, &st);
		if (st.status != VMIG_MIG_FAILED && st.status != VMIG_MIG_CANCELLED &&
		    st.status != VMIG_MIG_UNCONFIRMED) {
			pthread_mutex_unlock(&vm->mig_lock);
			snprintf(err, errlen, "a migration is already %s", vmig_mig_status_name(st.status));
			return -EBUSY;
		}
		vmig_migration_free(vm->mig);
		vm->mig = NULL;
	}
	uint8_t *cfg = NULL;
	size_t cfg_len = 0;
	if ((r = vm_config_encode(vm, &cfg, &cfg_len))) {
		pthread_mutex_unlock(&vm->mig_lock);
		snprintf(err, errlen, "out of memory");
		return r;
	}
	p.vmm_config = cfg;
	p.vmm_config_len = cfg_len;
	p.done = migration_done;
	p.opaque = vm;
	struct vmig_guest g;
	vm_guest_iface(vm, &g);
	vm->final_stats_read = false;
	r = vmig_migration_start(&g, &p, &vm->mig, err, errlen);
	free(cfg);
	pthread_mutex_unlock(&vm->mig_lock);
	if (r)
		return r;
	jw_object_begin(w);
	jw_object_end(w);
	return 0;
}

static int cmd_query_migrate(void *ctx, const struct json_value *args, struct json_writer *w,
			     char *err, size_t errlen)
{
	struct vm *vm = ctx;
	struct vmig_migrate_stats st = VMIG_MIGRATE_STATS_INIT;

	pthread_mutex_lock(&vm->mig_lock);
	if (!vm->mig) {
		pthread_mutex_unlock(&vm->mig_lock);
		jw_object_begin(w);
		jw_key(w, "status");
		jw_string(w, "none");
		jw_object_end(w);
		return 0;
	}
	vmig_migration_query(vm->mig, &st);
	if (st.status == VMIG_MIG_COMPLETED)
		vm->final_stats_read = true;
	pthread_mutex_unlock(&vm->mig_lock);

	jw_object_begin(w);
	jw_key(w, "status");
	jw_string(w, vmig_mig_status_name(st.status));
	if (st.error[0]) {
		jw_key(w, "error");
		jw_string(w, st.error);
	}
	jw_key(w, "total_ms");
	jw_uint(w, st.total_ms);
	jw_key(w, "setup_ms");
	jw_uint(w, st.setup_ms);
	jw_key(w, "downtime_ms");
	jw_uint(w, st.downtime_ms);
	jw_key(w, "guest_downtime_ms");
	jw_int(w, st.guest_downtime_ms);
	jw_key(w, "iterations");
	jw_uint(w, st.iterations);
	jw_key(w, "ram_bytes");
	jw_uint(w, st.ram_bytes);
	jw_key(w, "wire_bytes");
	jw_uint(w, st.wire_bytes);
	jw_key(w, "pages");
	jw_object_begin(w);
	jw_key(w, "normal");
	jw_uint(w, st.pages_normal);
	jw_key(w, "zero");
	jw_uint(w, st.pages_zero);
	jw_key(w, "compressed");
	jw_uint(w, st.pages_compressed);
	jw_key(w, "xbzrle");
	jw_uint(w, st.pages_xbzrle);
	jw_object_end(w);
	jw_key(w, "pages_xbzrle");
	jw_uint(w, st.pages_xbzrle);
	jw_key(w, "pages_compressed");
	jw_uint(w, st.pages_compressed);
	jw_key(w, "codec");
	jw_string(w, st.codec[0] ? st.codec : "none");
	jw_key(w, "accelerator");
	jw_string(w, st.accel);
	jw_key(w, "compression_ratio");
	jw_double(w, st.bytes_after_compression
			     ? (double)st.bytes_before_compression / (double)st.bytes_after_compression
			     : 1.0);
	jw_key(w, "compress_cpu_s");
	jw_double(w, st.compress_cpu_s);
	jw_key(w, "dest_decompress_cpu_s");
	jw_double(w, st.dest_decompress_cpu_s);
	jw_key(w, "channels");
	jw_array_begin(w);
	for (unsigned i = 0; i < st.nr_channels && i < 16; i++) {
		jw_object_begin(w);
		jw_key(w, "index");
		jw_uint(w, i);
		jw_key(w, "bytes");
		jw_uint(w, st.channel_bytes[i]);
		jw_key(w, "throughput_mibs");
		jw_double(w, st.total_ms ? (double)st.channel_bytes[i] / 1048576.0 / ((double)st.total_ms / 1000.0) : 0);
		jw_object_end(w);
	}
	jw_array_end(w);
	jw_key(w, "xbzrle");
	jw_object_begin(w);
	jw_key(w, "cache_hits");
	jw_uint(w, st.xbzrle_hits);
	jw_key(w, "cache_misses");
	jw_uint(w, st.xbzrle_misses);
	jw_key(w, "overflows");
	jw_uint(w, st.xbzrle_overflows);
	jw_key(w, "bytes_saved");
	jw_uint(w, st.xbzrle_bytes_saved);
	jw_object_end(w);
	jw_key(w, "pass_pages");
	jw_uint(w, st.pages_this_pass);
	jw_key(w, "pass_pages_done");
	jw_uint(w, st.pages_sent_this_pass);
	jw_key(w, "remaining_bytes");
	jw_uint(w, st.remaining_bytes);
	jw_key(w, "throughput_mibs");
	jw_double(w, st.throughput_mibs);
	jw_key(w, "bandwidth_mibs");
	jw_double(w, st.bandwidth_mibs);
	jw_key(w, "dirty_rate_mibs");
	jw_double(w, st.dirty_rate_mibs);
	jw_key(w, "expected_downtime_ms");
	jw_uint(w, st.expected_downtime_ms);
	jw_key(w, "verified");
	jw_bool(w, st.verified);
	jw_object_end(w);
	return 0;
}

static int cmd_migrate_cancel(void *ctx, const struct json_value *args, struct json_writer *w,
			      char *err, size_t errlen)
{
	struct vm *vm = ctx;
	pthread_mutex_lock(&vm->mig_lock);
	if (vm->mig)
		vmig_migration_cancel(vm->mig);
	pthread_mutex_unlock(&vm->mig_lock);
	jw_object_begin(w);
	jw_object_end(w);
	return 0;
}

static const struct control_command migrate_commands[] = {
	{"migrate", cmd_migrate,
	 "start a live migration {\"uri\": \"tcp:HOST:PORT\", \"downtime_ms\", \"max_bandwidth\" "
	 "(bytes/s), \"timeout_ms\", \"channels\", \"codec\", \"level\", \"accel\", "
	 "\"compress_threads\", \"xbzrle_cache\" (bytes)}"},
	{"query-migrate", cmd_query_migrate, "progress and figures of the current migration"},
	{"migrate-cancel", cmd_migrate_cancel, "cancel the migration; the guest keeps running here"},
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
