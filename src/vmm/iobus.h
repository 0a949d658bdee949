/* SPDX-License-Identifier: MIT */
/*
 * The port-I/O bus: devices claim port ranges; vCPU threads dispatch
 * KVM_EXIT_IO here. Unclaimed ports read as all-ones and ignore writes
 * (logged at debug level). Devices do their own locking: several vCPUs
 * may call them at once.
 */
#ifndef VMIG_VMM_IOBUS_H
#define VMIG_VMM_IOBUS_H

#include <stdbool.h>
#include <stdint.h>

/* size is 1, 2 or 4; on a read the handler fills *val. */
typedef void (*io_handler)(void *opaque, uint16_t port, bool is_write, unsigned size,
			   uint32_t *val);

#define IOBUS_MAX_DEVICES 16

struct io_device {
	uint16_t base;
	uint16_t len;
	const char *name;
	io_handler fn;
	void *opaque;
};

struct iobus {
	unsigned nr;
	struct io_device dev[IOBUS_MAX_DEVICES];
};

/* Register before vCPUs start; the table is read-only afterwards. */
int iobus_register(struct iobus *bus, uint16_t base, uint16_t len, const char *name,
		   io_handler fn, void *opaque);

void iobus_dispatch(struct iobus *bus, uint16_t port, bool is_write, unsigned size,
		    uint32_t *val);

#endif
