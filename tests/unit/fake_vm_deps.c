/* SPDX-License-Identifier: MIT */
/* TEST DOUBLES: see fake_vm_deps.h. */
#include "fake_vm_deps.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/control.h"
#include "vmm/vm.h"
#include "vmm/x86_state.h"

#define FAKE_RUN_SIZE 4096

int fake_vm_deps_fail_vcpu = -1;

int kvm_init(struct kvm_handles *k, char *err, size_t errlen)
{
	k->run_size = FAKE_RUN_SIZE;
	return 0;
}

void kvm_close(struct kvm_handles *k)
{
}

int kvm_map_memory(struct kvm_handles *k, const struct guest_memory *mem, char *err, size_t errlen)
{
	return 0;
}

int kvm_create_vcpu(struct kvm_handles *k, unsigned index, int *fd_out, char *err, size_t errlen)
{
	if ((int)index == fake_vm_deps_fail_vcpu) {
		snprintf(err, errlen, "KVM_CREATE_VCPU %u: test double fails", index);
		return -EMFILE;
	}
	int fd = memfd_create("fake-kvm-run", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, FAKE_RUN_SIZE) < 0) {
		snprintf(err, errlen, "memfd for the fake kvm_run: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -EIO;
	}
	*fd_out = fd;
	return 0;
}

uint64_t kvm_vcpu_tsc_khz(int vcpu_fd)
{
	return 0;
}

int guest_memory_init(struct guest_memory *mem, uint64_t size, char *err, size_t errlen)
{
	return 0;
}

void guest_memory_destroy(struct guest_memory *mem)
{
}

int dirty_log_init(struct dirty_log *d, struct kvm_handles *k, const struct guest_memory *mem,
		   uint32_t ring_entries, unsigned nr_vcpus, char *err, size_t errlen)
{
	return 0;
}

void dirty_log_destroy(struct dirty_log *d)
{
}

int dirty_ring_map_vcpu(struct dirty_ring *r, unsigned index, int vcpu_fd, char *err, size_t errlen)
{
	return 0;
}

int vm_dirty_limit_init(struct vm *vm, char *err, size_t errlen)
{
	return 0;
}

void vm_dirty_limit_destroy(struct vm *vm)
{
}

int x86_msr_list_init(struct kvm_handles *k, char *err, size_t errlen)
{
	return 0;
}

int x86_setup_vcpu(int vcpu_fd, const struct boot_plan *plan, unsigned index, char *err,
		   size_t errlen)
{
	return 0;
}

int vcpu_signal_setup(void)
{
	return 0;
}

void vcpu_kick(struct vcpu *v)
{
}

void *vcpu_thread(void *arg)
{
	return NULL;
}

void guestdev_init(struct guestdev *g, guest_exit_fn on_exit, void *opaque)
{
}

void guestdev_io(void *opaque, uint16_t port, bool is_write, unsigned size, uint32_t *val)
{
}

void guestdev_on_serial_line(void *opaque, const char *line)
{
}

void serial_init(struct serial *s, int out_fd, serial_line_fn on_line, void *opaque)
{
}

void serial_io(void *opaque, uint16_t port, bool is_write, unsigned size, uint32_t *val)
{
}

int iobus_register(struct iobus *bus, uint16_t base, uint16_t len, const char *name, io_handler fn,
		   void *opaque)
{
	return 0;
}

int guest_image_read(const char *path, struct guest_image *img, char *err, size_t errlen)
{
	snprintf(err, errlen, "test double: no guest image");
	return -ENOENT;
}

void guest_image_free(struct guest_image *img)
{
}

int boot_direct_find_header(const struct guest_image *img, struct vmig_boot_header *hdr, char *err,
			    size_t errlen)
{
	return -ENOENT;
}

int boot_direct_prepare(const struct guest_image *img, struct guest_memory *mem,
			const struct boot_args *args, struct boot_plan *plan, char *err,
			size_t errlen)
{
	return -ENOEXEC;
}

int boot_tables_keep(const struct guest_memory *mem, struct boot_tables_copy *c)
{
	memset(c, 0, sizeof(*c)); /* boot_direct_prepare above never builds them */
	return 0;
}

void boot_tables_free(struct boot_tables_copy *c)
{
}

int boot_multiboot_prepare(const struct guest_image *img, struct guest_memory *mem,
			   const struct boot_args *args, struct boot_plan *plan, char *err,
			   size_t errlen)
{
	return -ENOEXEC;
}

int boot_modules_open(const char *list, struct boot_modules *out, char *err, size_t errlen)
{
	return 0;
}

int boot_modules_precheck(const struct boot_modules *mods, uint64_t mem_bytes, char *err,
			  size_t errlen)
{
	return 0;
}

void boot_modules_close(struct boot_modules *mods)
{
}

int vm_control_start(struct vm *vm, const char *path, char *err, size_t errlen)
{
	return 0;
}

void control_server_stop(struct control_server *srv)
{
}

void vm_migration_cleanup(struct vm *vm)
{
}

void vm_throttle_stop(struct vm *vm)
{
}
