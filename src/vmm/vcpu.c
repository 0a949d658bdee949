/* SPDX-License-Identifier: MIT */
/* vCPU threads: KVM_RUN, exit dispatch, parking while the VM is paused. */
#include <errno.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "common/log.h"
#include "vmm/vm.h"

#define VCPU_KICK_SIGNAL SIGUSR1

static void kick_handler(int sig)
{
	(void)sig; /* only there to make KVM_RUN return EINTR */
}

int vcpu_signal_setup(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: KVM_RUN must return */
	return sigaction(VCPU_KICK_SIGNAL, &sa, NULL) < 0 ? -errno : 0;
}

void vcpu_kick(struct vcpu *v)
{
	/* immediate_exit covers the window before the thread enters KVM_RUN;
	 * the signal covers a thread already inside it. */
	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (v->thread_started)
		pthread_kill(v->thread, VCPU_KICK_SIGNAL);
}

static void describe_crash(struct vcpu *v, const char *what)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	memset(&regs, 0, sizeof(regs));
	memset(&sregs, 0, sizeof(sregs));
	ioctl(v->fd, KVM_GET_REGS, &regs);
	ioctl(v->fd, KVM_GET_SREGS, &sregs);
	/* AMD's KVM resets the vCPU on a shutdown: these registers may be the
	 * reset state; the tables say more (vmm/boot_tables.h) */
	char tables[96];
	boot_tables_compare(&v->vm->mem, &v->vm->boot_tables, tables, sizeof(tables));
	vm_end(v->vm, VM_EXIT_GUEST_CRASH,
	       "vCPU %u: %s at rip=0x%llx rsp=0x%llx cs=0x%x cr0=0x%llx cr3=0x%llx cr4=0x%llx "
	       "efer=0x%llx%s%s",
	       v->index, what, (unsigned long long)regs.rip, (unsigned long long)regs.rsp,
	       sregs.cs.selector, (unsigned long long)sregs.cr0, (unsigned long long)sregs.cr3,
	       (unsigned long long)sregs.cr4, (unsigned long long)sregs.efer, *tables ? "; " : "",
	       tables);
}

static void handle_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	unsigned size = run->io.size;
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;

	for (uint32_t i = 0; i < run->io.count; i++, data += size) {
		uint32_t val = 0;
		if (is_write)
			memcpy(&val, data, size);
		iobus_dispatch(&v->vm->iobus, run->io.port, is_write, size, &val);
		if (!is_write)
			memcpy(data, &val, size);
	}
}

/* Returns false when the thread should leave. */
static bool handle_exit(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	char what[128];

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		handle_io(v);
		return true;
	case KVM_EXIT_MMIO:
		log_debug("vCPU %u: unclaimed MMIO %s at 0x%llx len %u", v->index,
			  run->mmio.is_write ? "write" : "read",
			  (unsigned long long)run->mmio.phys_addr, run->mmio.len);
		if (!run->mmio.is_write)
			memset(run->mmio.data, 0xff, sizeof(run->mmio.data));
		return true;
	case KVM_EXIT_DIRTY_RING_FULL:
		/* It may not run again before its ring is collected and reset;
		 * the collection also charges it against a dirty limit. */
		__atomic_fetch_add(&v->ring_full_exits, 1, __ATOMIC_RELAXED);
		if (dirty_log_collect_rings(&v->vm->dirty, &v->vm->mem, what, sizeof(what)) < 0) {
			vm_end(v->vm, VM_EXIT_ERROR, "vCPU %u: dirty ring: %s", v->index, what);
			return false;
		}
		return true;
	case KVM_EXIT_HLT:
		vm_end(v->vm, VM_EXIT_OK, "vCPU %u: guest halted", v->index);
		return false;
	case KVM_EXIT_SHUTDOWN:
		describe_crash(v, "guest triple fault (KVM_EXIT_SHUTDOWN)");
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		snprintf(what, sizeof(what), "KVM internal error (suberror %u)",
			 run->internal.suberror);
		describe_crash(v, what);
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(what, sizeof(what), "VM entry failed (hardware reason 0x%llx)",
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		describe_crash(v, what);
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		vm_end(v->vm, run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN ? VM_EXIT_OK
										   : VM_EXIT_GUEST_CRASH,
		       "vCPU %u: guest system event %u", v->index, run->system_event.type);
		return false;
	default:
		snprintf(what, sizeof(what), "unexpected KVM exit reason %u", run->exit_reason);
		describe_crash(v, what);
		return false;
	}
}

/* Parks while a pause is requested; returns false once the VM has ended. */
static bool wait_runnable(struct vcpu *v)
{
	struct vm *vm = v->vm;
	bool alive;

	pthread_mutex_lock(&vm->lock);
	while (!vm->ended && vm->pause_requested) {
		if (!v->parked) {
			v->parked = true;
			vm->parked++;
			pthread_cond_broadcast(&vm->cond);
		}
		pthread_cond_wait(&vm->cond, &vm->lock);
	}
	if (v->parked) {
		v->parked = false;
		vm->parked--;
	}
	alive = !vm->ended;
	if (alive)
		__atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&vm->lock);
	return alive;
}

void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	char name[16];
	sigset_t set;

	snprintf(name, sizeof(name), "vcpu%u", v->index);
	pthread_setname_np(pthread_self(), name);
	sigemptyset(&set);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);

	/* auto-converge's sleep and a dirty limit's hold first (throttle.c,
	 * dirtylimit.c): a pause cuts either short */
	while (vcpu_throttle_wait(v), vcpu_dirty_limit_wait(v), wait_runnable(v)) {
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			vm_end(v->vm, VM_EXIT_ERROR, "vCPU %u: KVM_RUN failed: %s", v->index,
			       strerror(errno));
			break;
		}
		if (!handle_exit(v))
			break;
	}
	return NULL;
}
