/* SPDX-License-Identifier: MIT */
/* The control-socket commands of a VM (QMP-like; see docs/control.md). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "vmm/control.h"
#include "vmm/vm.h"

static const char *state_name(enum vm_state s)
{
	switch (s) {
	case VM_CREATED: return "created";
	case VM_RUNNING: return "running";
	case VM_PAUSED: return "paused";
	case VM_SHUTDOWN: return "shutdown";
	}
	return "unknown";
}

static int cmd_query_status(void *ctx, json_t *args, json_t **ret, char *err, size_t errlen)
{
	struct vm *vm = ctx;

	*ret = json_pack("{s:s, s:I, s:I, s:I, s:s}", "status", state_name(vm_get_state(vm)),
			 "uptime_ms", json_u64((now_ns() - vm->start_ns) / 1000000), "vcpus",
			 (json_int_t)vm->nr_vcpus, "mem_bytes", json_u64(vm->mem.size), "boot",
			 vm->plan.mode == BOOT_DIRECT ? "direct" : "multiboot");
	/* How dirty pages are tracked, and a per-vCPU dirty limit in force. */
	if (*ret && json_object_update_new(*ret, json_pack("{s:s, s:I, s:I}", "dirty_tracking",
							   dirty_log_mode_name(&vm->dirty),
							   "dirty_ring_entries",
							   (json_int_t)vm->dirty.ring.entries,
							   "dirty_limit", json_u64(vm_dirty_limit_get(vm)))) < 0)
		return -ENOMEM;
	if (*ret && vm_handover_unconfirmed(vm) &&
	    json_object_set_new(*ret, "handover", json_string("unconfirmed")) < 0)
		return -ENOMEM;
	return *ret ? 0 : -ENOMEM;
}

static int cmd_stop(void *ctx, json_t *args, json_t **ret, char *err, size_t errlen)
{
	int r = vm_pause(ctx);
	if (r) {
		snprintf(err, errlen, "cannot stop: the VM has shut down");
		return r;
	}
	return 0;
}

static int cmd_cont(void *ctx, json_t *args, json_t **ret, char *err, size_t errlen)
{
	int r = vm_resume(ctx);
	if (r) {
		snprintf(err, errlen, "cannot continue: %s",
			 r == -EBUSY ? "a migration is switching over" : "the VM has shut down or migrated");
		return r;
	}
	return 0;
}

static int cmd_quit(void *ctx, json_t *args, json_t **ret, char *err, size_t errlen)
{
	struct vm *vm = ctx;
	vm_end(vm, VM_EXIT_OK, "quit requested on the control socket");
	return CONTROL_REPLY_AND_CLOSE;
}

static int cmd_query_guest(void *ctx, json_t *args, json_t **ret, char *err, size_t errlen)
{
	struct vm *vm = ctx;
	struct guest_progress p;
	struct guest_heartbeat hb;
	uint64_t now = now_ns();

	guestdev_snapshot(&vm->gdev, &p, &hb);
	/* dirty_mibs and last_line come from the guest: any double, any bytes. */
	*ret = json_pack("{s:b, s:I, s:I, s:o, s:I, s:b, s:o, s:I, s:o, s:o, s:I, s:I, s:I, s:I}",
			 "progress_seen", p.seen, "t_s", json_u64(p.t_s), "passes",
			 json_u64(p.passes), "dirty_mibs", json_finite(p.dirty_mibs), "errors",
			 json_u64(p.errors), "done", p.done, "last_line",
			 json_string_lossy(p.last_line), "heartbeats", json_u64(hb.count),
			 "heartbeat_last_ms_ago",
			 json_real(hb.last_ns ? (double)(now - hb.last_ns) / 1e6 : -1.0),
			 "heartbeat_max_gap_ms", json_real((double)hb.max_gap_ns / 1e6), "ws_base",
			 json_u64(p.ws_base), "ws_pages", json_u64(p.ws_pages), "owned_base",
			 json_u64(p.owned_base), "owned_pages", json_u64(p.owned_pages));
	return *ret ? 0 : -ENOMEM;
}

static int cmd_reset_gap(void *ctx, json_t *args, json_t **ret, char *err, size_t errlen)
{
	struct vm *vm = ctx;
	guestdev_reset_gap(&vm->gdev);
	return 0;
}

struct corrupt_args {
	uint64_t gpa;
};

static const struct control_arg corrupt_spec[] = {
	CONTROL_ARG_U(struct corrupt_args, gpa, true, 0, INT64_MAX),
	{0},
};

/* Debug aid for tests: flips bytes in the middle of one guest page so the
 * guest's page check must report it (proves the check can fail). */
static int cmd_corrupt_page(void *ctx, json_t *args, json_t **ret, char *err, size_t errlen)
{
	struct vm *vm = ctx;
	struct corrupt_args a = {0};
	int r = control_args_unpack("x-corrupt-guest-page", args, corrupt_spec, &a, err, errlen);
	if (r)
		return r;
	uint64_t gpa = a.gpa & ~(GUEST_PAGE_SIZE - 1);
	uint8_t *p = guest_memory_ptr(&vm->mem, gpa, GUEST_PAGE_SIZE);
	if (!p || gpa < VMIG_GUEST_LOAD_ADDR) {
		snprintf(err, errlen, "gpa 0x%llx is not a guest RAM page the guest owns",
			 (unsigned long long)gpa);
		return -EINVAL;
	}
	for (unsigned i = 2048; i < 2048 + 8; i++)
		p[i] ^= 0x5a;
	dirty_log_mark(&vm->dirty, &vm->mem, gpa + 2048, 8);
	*ret = json_pack("{s:I}", "gpa", json_u64(gpa));
	return *ret ? 0 : -ENOMEM;
}

static int cmd_guest_check(void *ctx, json_t *args, json_t **ret, char *err, size_t errlen)
{
	struct vm *vm = ctx;
	guestdev_request_check(&vm->gdev);
	return 0;
}

static const struct control_command vm_commands[] = {
	{"query-status", cmd_query_status, "VM state, uptime, vCPUs, memory", NULL},
	{"stop", cmd_stop, "pause all vCPUs", NULL},
	{"cont", cmd_cont, "resume all vCPUs", NULL},
	{"quit", cmd_quit, "end the VM and exit", NULL},
	{"query-guest", cmd_query_guest, "guestload progress, errors and heartbeat timing", NULL},
	{"x-reset-heartbeat-gap", cmd_reset_gap, "forget the largest heartbeat gap seen so far",
	 NULL},
	{"x-guest-check", cmd_guest_check,
	 "ask guestload to check its module pages now (serial: 'modules pages=N bad=N')", NULL},
	{"x-corrupt-guest-page", cmd_corrupt_page, "debug: corrupt guest page {\"gpa\": N}",
	 corrupt_spec},
};

int vm_control_start(struct vm *vm, const char *path, char *err, size_t errlen)
{
	size_t n1 = sizeof(vm_commands) / sizeof(vm_commands[0]), n2 = vm_migrate_nr_commands;
	vm->ctl_cmds = calloc(n1 + n2, sizeof(*vm->ctl_cmds));
	if (!vm->ctl_cmds) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	memcpy(vm->ctl_cmds, vm_commands, sizeof(vm_commands));
	memcpy(vm->ctl_cmds + n1, vm_migrate_commands, n2 * sizeof(*vm->ctl_cmds));
	return control_server_start(&vm->control, path, vm->ctl_cmds, n1 + n2, vm, err, errlen);
}
