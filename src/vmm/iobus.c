/* SPDX-License-Identifier: MIT */
#include "vmm/iobus.h"

#include <errno.h>

#include "common/log.h"

int iobus_register(struct iobus *bus, uint16_t base, uint16_t len, const char *name,
		   io_handler fn, void *opaque)
{
	if (bus->nr == IOBUS_MAX_DEVICES || len == 0)
		return -ENOSPC;
	for (unsigned i = 0; i < bus->nr; i++) {
		const struct io_device *d = &bus->dev[i];
		if (base < d->base + d->len && d->base < base + len)
			return -EEXIST;
	}
	bus->dev[bus->nr++] = (struct io_device){base, len, name, fn, opaque};
	return 0;
}

void iobus_dispatch(struct iobus *bus, uint16_t port, bool is_write, unsigned size,
		    uint32_t *val)
{
	for (unsigned i = 0; i < bus->nr; i++) {
		struct io_device *d = &bus->dev[i];
		if (port >= d->base && port < d->base + d->len) {
			d->fn(d->opaque, port, is_write, size, val);
			return;
		}
	}
	if (!is_write)
		*val = 0xffffffffu;
	log_debug("unclaimed port %s 0x%x size %u value 0x%x", is_write ? "write" : "read",
		  port, size, is_write ? *val : 0);
}
