/* SPDX-License-Identifier: MIT */
/*
 * The VM as the migration engine sees it: the guest interface of
 * include/vmig/guest.h over KVM (RAM, dirty log, pause/resume, state),
 * and the VMM configuration a source sends in HELLO so that the
 * destination can build the same VM.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "vmig/migration.h"
#include "vmm/vm.h"
#include "vmm/vm_state.h"

#define VMM_CONFIG_VERSION 1

/* ---- guest interface ---- */

static unsigned g_ram_regions(void *opaque, struct vmig_ram_region *out, unsigned max)
{
	struct vm *vm = opaque;
	unsigned n = 0;
	for (; n < vm->mem.nr_regions && n < max; n++)
		out[n] = (struct vmig_ram_region){vm->mem.regions[n].gpa, vm->mem.regions[n].size,
						  vm->mem.host + vm->mem.regions[n].offset};
	return n;
}

static int g_dirty_start(void *opaque, char *err, size_t errlen)
{
	struct vm *vm = opaque;
	return dirty_log_start(&vm->dirty, &vm->kvm, &vm->mem, err, errlen);
}

static void g_dirty_stop(void *opaque)
{
	struct vm *vm = opaque;
	dirty_log_stop(&vm->dirty, &vm->kvm, &vm->mem);
}

static int g_dirty_harvest(void *opaque, unsigned region, uint64_t *bitmap, char *err,
			   size_t errlen)
{
	struct vm *vm = opaque;
	return dirty_log_harvest(&vm->dirty, &vm->kvm, &vm->mem, region, bitmap, err, errlen);
}

static int g_dirty_clear(void *opaque, unsigned region, uint64_t first, uint64_t n,
			 const uint64_t *bits, char *err, size_t errlen)
{
	struct vm *vm = opaque;
	return dirty_log_clear(&vm->dirty, &vm->kvm, &vm->mem, region, first, n, bits, err, errlen);
}

static int g_pause(void *opaque)
{
	struct vm *vm = opaque;
	int r = vm_pause(vm);
	if (!r) {
		pthread_mutex_lock(&vm->lock);
		vm->mig_paused = true;
		pthread_mutex_unlock(&vm->lock);
	}
	return r;
}

static int g_resume(void *opaque)
{
	struct vm *vm = opaque;
	char err[256];
	pthread_mutex_lock(&vm->lock);
	vm->mig_paused = false;
	pthread_mutex_unlock(&vm->lock);
	if (!vm->started) {
		int r = vm_start(vm, err, sizeof(err));
		if (r)
			log_err("%s", err);
		return r;
	}
	return vm_resume(vm);
}

static uint64_t g_last_alive(void *opaque)
{
	struct vm *vm = opaque;
	struct guest_heartbeat hb;
	guestdev_snapshot(&vm->gdev, NULL, &hb);
	return hb.last_real_ns;
}

/* The blob's format, its checks and the two-phase load live in vm_state.c. */
static int g_save_state(void *opaque, uint8_t **blob, size_t *len, char *err, size_t errlen)
{
	return vm_state_save(opaque, blob, len, err, errlen);
}

static int g_load_state(void *opaque, const uint8_t *blob, size_t len, char *err, size_t errlen)
{
	return vm_state_load(opaque, blob, len, err, errlen);
}

static int g_throttle(void *opaque, unsigned pct)
{
	return vm_throttle_set(opaque, pct);
}

static const struct vmig_guest_ops vm_guest_ops = {
	.ram_regions = g_ram_regions,
	.dirty_start = g_dirty_start,
	.dirty_stop = g_dirty_stop,
	.dirty_harvest = g_dirty_harvest,
	.dirty_clear = g_dirty_clear,
	.pause = g_pause,
	.resume = g_resume,
	.last_alive_ns = g_last_alive,
	.save_state = g_save_state,
	.load_state = g_load_state,
	.throttle = g_throttle,
};

void vm_guest_iface(struct vm *vm, struct vmig_guest *g)
{
	g->ops = &vm_guest_ops;
	g->opaque = vm;
}

/* ---- configuration carried in HELLO ---- */

int vm_config_encode(struct vm *vm, uint8_t **out, size_t *len)
{
	struct vbuf b;
	vbuf_init(&b);
	vbuf_put_u32(&b, VMM_CONFIG_VERSION);
	vbuf_put_u32(&b, vm->nr_vcpus);
	vbuf_put_u64(&b, vm->mem.size);
	vbuf_put_u32(&b, vm->plan.mode);
	if (b.oom) {
		vbuf_free(&b);
		return -ENOMEM;
	}
	*out = b.data;
	*len = b.len;
	return 0;
}

int vm_config_decode(const uint8_t *p, size_t len, struct vm_config *cfg, char *err, size_t errlen)
{
	struct vreader r;
	vreader_init(&r, p, len);
	uint32_t version = vr_u32(&r);
	uint32_t vcpus = vr_u32(&r);
	uint64_t mem = vr_u64(&r);
	uint32_t mode = vr_u32(&r);
	if (r.bad || r.left || version != VMM_CONFIG_VERSION) {
		snprintf(err, errlen, "unsupported VM configuration from the source (version %u)", version);
		return -EPROTO;
	}
	if (vcpus < 1 || vcpus > 64 || mem < (16ull << 20) || mem > (128ull << 30) ||
	    mem % (2ull << 20) || (mode != BOOT_DIRECT && mode != BOOT_MULTIBOOT)) {
		snprintf(err, errlen, "the source's VM configuration is out of range (%u vCPUs, %llu bytes)",
			 vcpus, (unsigned long long)mem);
		return -EINVAL;
	}
	cfg->nr_vcpus = vcpus;
	cfg->mem_bytes = mem;
	cfg->boot = (enum boot_mode)mode;
	cfg->incoming = true;
	return 0;
}
