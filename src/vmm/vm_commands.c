/* SPDX-License-Identifier: MIT */
/* The control-socket commands of a VM (QMP-like; see docs/control.md). */
#include <errno.h>
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

static int cmd_query_status(void *ctx, const struct json_value *args, struct json_writer *w,
			    char *err, size_t errlen)
{
	struct vm *vm = ctx;
	jw_object_begin(w);
	jw_key(w, "status");
	jw_string(w, state_name(vm_get_state(vm)));
	jw_key(w, "uptime_ms");
	jw_uint(w, (now_ns() - vm->start_ns) / 1000000);
	jw_key(w, "vcpus");
	jw_uint(w, vm->nr_vcpus);
	jw_key(w, "mem_bytes");
	jw_uint(w, vm->mem.size);
	jw_key(w, "boot");
	jw_string(w, vm->plan.mode == BOOT_DIRECT ? "direct" : "multiboot");
	if (vm_handover_unconfirmed(vm)) {
		jw_key(w, "handover");
		jw_string(w, "unconfirmed");
	}
	jw_object_end(w);
	return 0;
}

static int cmd_stop(void *ctx, const struct json_value *args, struct json_writer *w, char *err,
		    size_t errlen)
{
	int r = vm_pause(ctx);
	if (r) {
		snprintf(err, errlen, "cannot stop: the VM has shut down");
		return r;
	}
	jw_object_begin(w);
	jw_object_end(w);
	return 0;
}

static int cmd_cont(void *ctx, const struct json_value *args, struct json_writer *w, char *err,
		    size_t errlen)
{
	int r = vm_resume(ctx);
	if (r) {
		snprintf(err, errlen, "cannot continue: %s",
			 r == -EBUSY ? "a migration is switching over" : "the VM has shut down or migrated");
		return r;
	}
	jw_object_begin(w);
	jw_object_end(w);
	return 0;
}

static int cmd_quit(void *ctx, const struct json_value *args, struct json_writer *w, char *err,
		    size_t errlen)
{
	struct vm *vm = ctx;
	vm_end(vm, VM_EXIT_OK, "quit requested on the control socket");
	jw_object_begin(w);
	jw_object_end(w);
	return CONTROL_REPLY_AND_CLOSE;
}

static int cmd_query_guest(void *ctx, const struct json_value *args, struct json_writer *w,
			   char *err, size_t errlen)
{
	struct vm *vm = ctx;
	struct guest_progress p;
	struct guest_heartbeat hb;
	uint64_t now = now_ns();

	guestdev_snapshot(&vm->gdev, &p, &hb);
	jw_object_begin(w);
	jw_key(w, "progress_seen");
	jw_bool(w, p.seen);
	jw_key(w, "t_s");
	jw_uint(w, p.t_s);
	jw_key(w, "passes");
	jw_uint(w, p.passes);
	jw_key(w, "dirty_mibs");
	jw_double(w, p.dirty_mibs);
	jw_key(w, "errors");
	jw_uint(w, p.errors);
	jw_key(w, "done");
	jw_bool(w, p.done);
	jw_key(w, "last_line");
	jw_string(w, p.last_line);
	jw_key(w, "heartbeats");
	jw_uint(w, hb.count);
	jw_key(w, "heartbeat_last_ms_ago");
	jw_double(w, hb.last_ns ? (double)(now - hb.last_ns) / 1e6 : -1.0);
	jw_key(w, "heartbeat_max_gap_ms");
	jw_double(w, (double)hb.max_gap_ns / 1e6);
	jw_key(w, "ws_base");
	jw_uint(w, p.ws_base);
	jw_key(w, "ws_pages");
	jw_uint(w, p.ws_pages);
	jw_key(w, "owned_base");
	jw_uint(w, p.owned_base);
	jw_key(w, "owned_pages");
	jw_uint(w, p.owned_pages);
	jw_object_end(w);
	return 0;
}

static int cmd_reset_gap(void *ctx, const struct json_value *args, struct json_writer *w,
			 char *err, size_t errlen)
{
	struct vm *vm = ctx;
	guestdev_reset_gap(&vm->gdev);
	jw_object_begin(w);
	jw_object_end(w);
	return 0;
}

/* Debug aid for tests: flips bytes in the middle of one guest page so the
 * guest's page check must report it (proves the check can fail). */
static int cmd_corrupt_page(void *ctx, const struct json_value *args, struct json_writer *w,
			    char *err, size_t errlen)
{
	struct vm *vm = ctx;
	uint64_t gpa;

	if (!args || json_get_uint(args, "gpa", &gpa)) {
		snprintf(err, errlen, "x-corrupt-guest-page needs an integer argument 'gpa'");
		return -EINVAL;
	}
	gpa &= ~(GUEST_PAGE_SIZE - 1);
	uint8_t *p = guest_memory_ptr(&vm->mem, gpa, GUEST_PAGE_SIZE);
	if (!p || gpa < VMIG_GUEST_LOAD_ADDR) {
		snprintf(err, errlen, "gpa 0x%llx is not a guest RAM page the guest owns",
			 (unsigned long long)gpa);
		return -EINVAL;
	}
	for (unsigned i = 2048; i < 2048 + 8; i++)
		p[i] ^= 0x5a;
	dirty_log_mark(&vm->dirty, &vm->mem, gpa + 2048, 8);
	jw_object_begin(w);
	jw_key(w, "gpa");
	jw_uint(w, gpa);
	jw_object_end(w);
	return 0;
}

static const struct control_command vm_commands[] = {
	{"query-status", cmd_query_status, "VM state, uptime, vCPUs, memory"},
	{"stop", cmd_stop, "pause all vCPUs"},
	{"cont", cmd_cont, "resume all vCPUs"},
	{"quit", cmd_quit, "end the VM and exit"},
	{"query-guest", cmd_query_guest, "guestload progress, errors and heartbeat timing"},
	{"x-reset-heartbeat-gap", cmd_reset_gap, "forget the largest heartbeat gap seen so far"},
	{"x-corrupt-guest-page", cmd_corrupt_page, "debug: corrupt guest page {\"gpa\": N}"},
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
