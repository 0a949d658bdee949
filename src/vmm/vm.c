/* SPDX-License-Identifier: MIT */
/* VM lifecycle: create, start, pause/resume, end, destroy. */
#include "vmm/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/log.h"
#include "guest_abi.h"
#include "vmm/control.h"
#include "vmm/x86_state.h"

static void on_guest_exit(void *opaque, uint32_t code)
{
	struct vm *vm = opaque;
	vm_end(vm, (int)(code & 0xff), "guest exited with code %u", code);
}

static int open_serial(struct vm *vm, char *err, size_t errlen)
{
	const char *s = vm->cfg.serial ? vm->cfg.serial : "stdio";
	vm->serial_fd_owned = false;
	if (!strcmp(s, "stdio")) {
		vm->serial_fd = STDOUT_FILENO;
	} else if (!strcmp(s, "none")) {
		vm->serial_fd = -1;
	} else {
		vm->serial_fd = open(s, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (vm->serial_fd < 0) {
			int e = errno;
			snprintf(err, errlen, "cannot open serial output '%s': %s", s, strerror(e));
			return -e;
		}
		vm->serial_fd_owned = true;
	}
	return 0;
}

static int load_guest(struct vm *vm, uint64_t tsc_khz, char *err, size_t errlen)
{
	struct guest_image img;
	struct vmig_boot_header hdr;
	char herr[256];
	int r;

	if ((r = guest_image_read(vm->cfg.guest_path, &img, err, errlen)))
		return r;
	struct boot_args args = {
		.cmdline = vm->cfg.guest_args,
		.nr_vcpus = vm->nr_vcpus,
		.tsc_khz = tsc_khz,
		.modules = &vm->modules,
	};
	enum boot_mode mode = vm->cfg.boot;
	if (mode == BOOT_AUTO) {
		r = boot_direct_find_header(&img, &hdr, herr, sizeof(herr));
		mode = r == -ENOENT ? BOOT_MULTIBOOT : BOOT_DIRECT;
	}
	if (mode == BOOT_DIRECT) {
		r = boot_direct_prepare(&img, &vm->mem, &args, &vm->plan, err, errlen);
		if (!r && boot_tables_keep(&vm->mem, &vm->boot_tables))
			log_warn("no memory to keep the boot tables: a crash will not say if they changed");
	} else
		r = boot_multiboot_prepare(&img, &vm->mem, &args, &vm->plan, err, errlen);
	guest_image_free(&img);
	boot_modules_close(&vm->modules); /* in guest RAM now */
	if (!r && mode == BOOT_MULTIBOOT && vm->nr_vcpus > 1)
		log_warn("multiboot entry starts only the boot vCPU; the other %u wait for SIPI",
			 vm->nr_vcpus - 1);
	return r;
}

/* A VM with nothing opened yet: every fd -1, its locks ready. NULL if out of memory. */
static struct vm *vm_alloc(const struct vm_config *cfg)
{
	struct vm *vm = calloc(1, sizeof(*vm));

	if (!vm)
		return NULL;
	vm->cfg = *cfg;
	vm->nr_vcpus = cfg->nr_vcpus;
	vm->kvm.kvm_fd = vm->kvm.vm_fd = -1;
	vm->mem.memfd = -1;
	vm->serial_fd = -1;
	vm->end_fd = -1;
	pthread_mutex_init(&vm->lock, NULL);
	pthread_cond_init(&vm->cond, NULL);
	pthread_mutex_init(&vm->mig_lock, NULL);
	vm->state = VM_CREATED;
	return vm;
}

/* What comes before KVM: the vCPU count, the end eventfd, the vCPU kick
 * signal, the boot modules and the serial output. */
static int open_host_side(struct vm *vm, char *err, size_t errlen)
{
	const struct vm_config *cfg = &vm->cfg;
	int r;

	if (cfg->nr_vcpus < 1 || cfg->nr_vcpus > VMIG_MAX_VCPUS) {
		snprintf(err, errlen, "--vcpus must be 1..%d", VMIG_MAX_VCPUS);
		return -EINVAL;
	}
	vm->end_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->end_fd < 0) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		return -errno;
	}
	if ((r = vcpu_signal_setup())) {
		snprintf(err, errlen, "sigaction: %s", strerror(-r));
		return r;
	}
	/* A missing module or a set too large for the RAM is an error before
	 * KVM or guest RAM are touched. */
	if (cfg->modules && !cfg->incoming &&
	    ((r = boot_modules_open(cfg->modules, &vm->modules, err, errlen)) ||
	     (r = boot_modules_precheck(&vm->modules, cfg->mem_bytes, err, errlen))))
		return r;
	return open_serial(vm, err, errlen);
}

/* KVM, guest RAM and its dirty tracking, the RAM mapped into KVM. */
static int open_kvm_and_memory(struct vm *vm, char *err, size_t errlen)
{
	const struct vm_config *cfg = &vm->cfg;
	int r;

	if ((r = kvm_init(&vm->kvm, err, errlen)))
		return r;
	if ((r = guest_memory_init(&vm->mem, cfg->mem_bytes, err, errlen)))
		return r;
	/* Before any vCPU: KVM enables the dirty ring only then. */
	if ((r = dirty_log_init(&vm->dirty, &vm->kvm, &vm->mem, cfg->dirty_ring_entries,
				vm->nr_vcpus, err, errlen)))
		return r;
	return kvm_map_memory(&vm->kvm, &vm->mem, err, errlen);
}

/* The guest's devices: serial port, heartbeat, exit and request ports. */
static void register_devices(struct vm *vm)
{
	guestdev_init(&vm->gdev, on_guest_exit, vm);
	serial_init(&vm->serial, vm->serial_fd, guestdev_on_serial_line, &vm->gdev);
	iobus_register(&vm->iobus, VMIG_PORT_SERIAL, 8, "serial", serial_io, &vm->serial);
	iobus_register(&vm->iobus, VMIG_PORT_HEARTBEAT, 4, "heartbeat", guestdev_io, &vm->gdev);
	iobus_register(&vm->iobus, VMIG_PORT_EXIT, 4, "exit", guestdev_io, &vm->gdev);
	iobus_register(&vm->iobus, VMIG_PORT_REQUEST, 4, "request", guestdev_io, &vm->gdev);
}

/* Every vCPU with its kvm_run mapping and, with the dirty ring, its ring. */
static int create_vcpus(struct vm *vm, char *err, size_t errlen)
{
	int r;

	vm->vcpus = calloc(vm->nr_vcpus, sizeof(*vm->vcpus));
	if (!vm->vcpus) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	/* No fd yet for any: vm_destroy closes each vCPU's fd, and after a
	 * failure the later vCPUs were never created. */
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vm->vcpus[i].fd = -1;
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		v->vm = vm;
		v->index = i;
		if ((r = kvm_create_vcpu(&vm->kvm, i, &v->fd, err, errlen)))
			return r;
		v->run = mmap(NULL, vm->kvm.run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
		if (v->run == MAP_FAILED) {
			v->run = NULL;
			snprintf(err, errlen, "mmap of kvm_run: %s", strerror(errno));
			return -errno;
		}
		if (vm->dirty.ring.entries &&
		    (r = dirty_ring_map_vcpu(&vm->dirty.ring, i, v->fd, err, errlen)))
			return r;
	}
	return 0;
}

/* Where the vCPUs start: nothing for an incoming VM (registers, devices
 * and RAM arrive from the source), else the guest loaded and every vCPU
 * set up for its entry. */
static int prepare_guest(struct vm *vm, char *err, size_t errlen)
{
	int r;

	if (vm->cfg.incoming) {
		vm->plan.mode = vm->cfg.boot == BOOT_MULTIBOOT ? BOOT_MULTIBOOT : BOOT_DIRECT;
		vm->plan.nr_vcpus = vm->nr_vcpus;
		return 0;
	}
	if ((r = load_guest(vm, kvm_vcpu_tsc_khz(vm->vcpus[0].fd), err, errlen)))
		return r;
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		if ((r = x86_setup_vcpu(vm->vcpus[i].fd, &vm->plan, i, err, errlen)))
			return r;
	return 0;
}

/* On failure *out may still hold the VM, partly built: vm_destroy frees it. */
int vm_create(const struct vm_config *cfg, struct vm **out, char *err, size_t errlen)
{
	struct vm *vm = vm_alloc(cfg);
	int r;

	if (!vm) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	*out = vm;
	if ((r = open_host_side(vm, err, errlen)) || (r = open_kvm_and_memory(vm, err, errlen)))
		return r;
	register_devices(vm);
	if ((r = create_vcpus(vm, err, errlen)))
		return r;
	if (vm->dirty.ring.entries && (r = vm_dirty_limit_init(vm, err, errlen)))
		return r;
	if ((r = x86_msr_list_init(&vm->kvm, err, errlen)) || (r = prepare_guest(vm, err, errlen)))
		return r;
	if (cfg->control_path && (r = vm_control_start(vm, cfg->control_path, err, errlen)))
		return r;
	return 0;
}

int vm_start(struct vm *vm, char *err, size_t errlen)
{
	vm->start_ns = now_ns();
	pthread_mutex_lock(&vm->lock);
	vm->state = VM_RUNNING;
	pthread_mutex_unlock(&vm->lock);
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		int r = pthread_create(&v->thread, NULL, vcpu_thread, v);
		if (r) {
			snprintf(err, errlen, "cannot start vCPU thread: %s", strerror(r));
			vm_end(vm, VM_EXIT_ERROR, "vCPU thread creation failed");
			return -r;
		}
		v->thread_started = true;
	}
	vm->started = true;
	return 0;
}

int vm_pause(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	if (vm->ended) {
		pthread_mutex_unlock(&vm->lock);
		return -ESHUTDOWN;
	}
	if (vm->state == VM_PAUSED) {
		pthread_mutex_unlock(&vm->lock);
		return 0;
	}
	vm->pause_requested = true;
	pthread_cond_broadcast(&vm->cond); /* wakes vCPUs sleeping off a throttle */
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	while (!vm->ended && vm->parked < vm->nr_vcpus)
		pthread_cond_wait(&vm->cond, &vm->lock);
	int r = vm->ended ? -ESHUTDOWN : 0;
	if (!r)
		vm->state = VM_PAUSED;
	pthread_mutex_unlock(&vm->lock);
	return r;
}

int vm_resume(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	if (vm->ended || vm->migrated) {
		pthread_mutex_unlock(&vm->lock);
		return -ESHUTDOWN;
	}
	if (vm->mig_paused) {
		pthread_mutex_unlock(&vm->lock);
		return -EBUSY;
	}
	if (vm->handover_unconfirmed) {
		/* The operator's word: the destination never started the guest. */
		vm->handover_unconfirmed = false;
		log_warn("resuming the guest here after an unconfirmed handover");
	}
	vm->pause_requested = false;
	vm->state = VM_RUNNING;
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
	return 0;
}

void vm_end(struct vm *vm, int exit_status, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&vm->lock);
	if (vm->ended) {
		pthread_mutex_unlock(&vm->lock);
		return;
	}
	vm->ended = true;
	vm->state = VM_SHUTDOWN;
	vm->exit_status = exit_status;
	va_start(ap, fmt);
	vsnprintf(vm->end_reason, sizeof(vm->end_reason), fmt, ap);
	va_end(ap);
	pthread_cond_broadcast(&vm->cond);
	for (unsigned i = 0; vm->vcpus && i < vm->nr_vcpus; i++)
		if (vm->vcpus[i].run)
			vcpu_kick(&vm->vcpus[i]);
	pthread_mutex_unlock(&vm->lock);
	uint64_t one = 1;
	if (write(vm->end_fd, &one, sizeof(one)) < 0)
		log_warn("eventfd write: %s", strerror(errno));
}

enum vm_state vm_get_state(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	enum vm_state s = vm->state;
	pthread_mutex_unlock(&vm->lock);
	return s;
}

bool vm_handover_unconfirmed(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	bool u = vm->handover_unconfirmed;
	pthread_mutex_unlock(&vm->lock);
	return u;
}

void vm_destroy(struct vm *vm)
{
	if (!vm)
		return;
	if (vm->control)
		control_server_stop(vm->control);
	free(vm->ctl_cmds);
	vm_migration_cleanup(vm);
	vm_throttle_stop(vm);
	if (vm->vcpus) {
		vm_end(vm, VM_EXIT_OK, "VM destroyed");
		for (unsigned i = 0; i < vm->nr_vcpus; i++) {
			struct vcpu *v = &vm->vcpus[i];
			if (v->thread_started)
				pthread_join(v->thread, NULL);
			if (v->run)
				munmap(v->run, vm->kvm.run_size);
			if (v->fd >= 0)
				close(v->fd);
		}
		free(vm->vcpus);
	}
	dirty_log_destroy(&vm->dirty);
	vm_dirty_limit_destroy(vm);
	kvm_close(&vm->kvm);
	guest_memory_destroy(&vm->mem);
	boot_tables_free(&vm->boot_tables);
	boot_modules_close(&vm->modules);
	if (vm->serial_fd_owned)
		close(vm->serial_fd);
	if (vm->end_fd >= 0)
		close(vm->end_fd);
	pthread_mutex_destroy(&vm->lock);
	pthread_cond_destroy(&vm->cond);
	pthread_mutex_destroy(&vm->mig_lock);
	free(vm);
}
