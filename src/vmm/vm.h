/* SPDX-License-Identifier: MIT */
/*
 * The VM: the VMM's top object. It owns KVM handles, guest RAM, vCPU
 * threads, the port bus and its devices, and the control socket. All the
 * VMM's mutable state lives here.
 */
#ifndef VMIG_VMM_VM_H
#define VMIG_VMM_VM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/boot.h"
#include "vmm/boot_tables.h"
#include "vmm/dirtylimit.h"
#include "vmm/dirtylog.h"
#include "vmm/guestdev.h"
#include "vmm/iobus.h"
#include "vmm/kvm.h"
#include "vmm/memory.h"
#include "vmm/serial.h"

struct control_server;
struct vmig_migration;
struct vmig_guest;

struct vm_config {
	uint64_t mem_bytes;
	unsigned nr_vcpus;
	const char *guest_path;
	const char *guest_args;   /* may be NULL */
	const char *modules;      /* comma-separated boot module files, may be NULL */
	const char *serial;       /* "stdio" (default), "none", or a file path */
	const char *control_path; /* may be NULL */
	enum boot_mode boot;
	bool incoming;            /* RAM and state will come from a migration */
	uint32_t dirty_ring_entries; /* per vCPU; 0: track with the bitmap */
};

enum vm_state { VM_CREATED, VM_RUNNING, VM_PAUSED, VM_SHUTDOWN };

/* Exit statuses of `vmig run` besides the guest's own exit code. */
#define VM_EXIT_OK 0
#define VM_EXIT_ERROR 1
#define VM_EXIT_GUEST_CRASH 70

struct vcpu {
	struct vm *vm;
	unsigned index;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool thread_started;
	bool parked;           /* under vm->lock: waiting while paused */
	uint64_t throttle_sleep_ns; /* atomic: sleep this long before running again */
	/* The per-vCPU dirty limit (dirtylimit.c), all atomic. */
	uint64_t hold_until_ns;    /* monotonic: wait until then before running again */
	uint64_t held_ns;          /* time spent held */
	uint64_t holds;            /* times held */
	uint64_t ring_full_exits;  /* KVM_EXIT_DIRTY_RING_FULL seen */
};

struct vm {
	struct vm_config cfg;
	struct kvm_handles kvm;
	struct guest_memory mem;
	struct dirty_log dirty;
	struct iobus iobus;
	struct serial serial;
	int serial_fd;
	bool serial_fd_owned;
	struct guestdev gdev;
	struct boot_plan plan;
	struct boot_tables_copy boot_tables; /* direct entry's, as built (crash reports) */
	struct boot_modules modules; /* opened before KVM is touched; closed once loaded */
	unsigned nr_vcpus;
	struct vcpu *vcpus;
	struct control_server *control;
	struct control_command *ctl_cmds;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	enum vm_state state;   /* under lock */
	bool pause_requested;  /* under lock */
	unsigned parked;       /* under lock: vCPUs parked */
	bool ended;            /* under lock */
	int exit_status;       /* under lock, valid once ended */
	char end_reason[256];  /* under lock */
	int end_fd;            /* eventfd, readable once ended */
	uint64_t start_ns;
	bool started;          /* vCPU threads exist */

	/* Outgoing migration (vm_migrate.c), under mig_lock. */
	pthread_mutex_t mig_lock;
	struct vmig_migration *mig;
	bool migrated;         /* under lock: handed over, this copy must never run again */
	bool mig_paused;       /* under lock: the migration engine holds the pause */
	bool handover_unconfirmed; /* under lock: GO sent, no confirmation; paused until the operator decides */

	/* Auto-converge (throttle.c): vCPUs sleep throttle_pct % of the time. */
	unsigned throttle_pct;  /* atomic */
	pthread_t throttle_thread;
	bool throttle_thread_on; /* under lock */
	bool throttle_used;     /* atomic: a timed throttle was applied since the last migrate */
	struct dirty_limit dlimit; /* per-vCPU dirty limit (dirty ring only) */
	bool mig_vcpu_limit;    /* under mig_lock: this migration's dirty limit is per vCPU */
	uint64_t mig_dirty_limit; /* under mig_lock: its rate, bytes/s */
	bool final_stats_read; /* a client saw the final migration status */
	uint64_t migrated_ns;
};

int vm_create(const struct vm_config *cfg, struct vm **out, char *err, size_t errlen);
/* Starts the vCPU threads. */
int vm_start(struct vm *vm, char *err, size_t errlen);
/* Stops all vCPUs and waits until each is out of KVM_RUN. Idempotent. */
int vm_pause(struct vm *vm);
int vm_resume(struct vm *vm);
/* Ends the VM (first caller wins); vCPU threads leave, vm->end_fd fires. */
void vm_end(struct vm *vm, int exit_status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Joins vCPU threads (after the VM ended) and frees everything. */
void vm_destroy(struct vm *vm);

enum vm_state vm_get_state(struct vm *vm);
bool vm_handover_unconfirmed(struct vm *vm);

/* vCPU thread body (vcpu.c). */
void *vcpu_thread(void *arg);
/* Interrupt a vCPU that may be in KVM_RUN (vcpu.c). */
void vcpu_kick(struct vcpu *v);
int vcpu_signal_setup(void);

/* The guest interface of include/vmig/guest.h over this VM (vm_migrate.c). */
void vm_guest_iface(struct vm *vm, struct vmig_guest *g);
/* VMM configuration sent in HELLO so the destination can build the VM. */
int vm_config_encode(struct vm *vm, uint8_t **out, size_t *len);
int vm_config_decode(const uint8_t *p, size_t len, struct vm_config *cfg, char *err, size_t errlen);
/* Control commands for migration (vm_migrate.c). */
struct control_command;
extern const struct control_command *const vm_migrate_commands;
extern const unsigned vm_migrate_nr_commands;
void vm_migration_cleanup(struct vm *vm);

/* vCPU throttling for auto-converge (throttle.c). */
int vm_throttle_set(struct vm *vm, unsigned pct);
/* Called by a vCPU thread before it enters the guest. */
void vcpu_throttle_wait(struct vcpu *v);
/* Stops the throttle thread (vm_destroy). */
void vm_throttle_stop(struct vm *vm);

/* The per-vCPU dirty limit (dirtylimit.c): needs the dirty ring. */
int vm_dirty_limit_init(struct vm *vm, char *err, size_t errlen);
void vm_dirty_limit_destroy(struct vm *vm);
/* bytes/s the guest may dirty, 0 lifts it; -EOPNOTSUPP without the ring. */
int vm_dirty_limit_set(struct vm *vm, uint64_t bytes_per_s);
uint64_t vm_dirty_limit_get(struct vm *vm);
/* Called by a vCPU thread before it enters the guest: waits out a hold. */
void vcpu_dirty_limit_wait(struct vcpu *v);

/* Control-socket commands of a running VM (vm_commands.c). */
int vm_control_start(struct vm *vm, const char *path, char *err, size_t errlen);

#endif
