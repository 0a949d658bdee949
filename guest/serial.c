/* SPDX-License-Identifier: MIT */
/*
 * COM1 output. Each OUT is a VM exit (~25 us here), so lines are built in
 * memory first and written in one go; no LSR polling, since both QEMU's and
 * vmig's 8250 take a THR write at any time.
 */
#include "serial.h"

#include "io.h"
#include "guest_abi.h"

static int serial_lock;

void serial_write(const char *s, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		outb(VMIG_PORT_SERIAL, (uint8_t)s[i]);
}

static void lock(void)
{
	while (__atomic_exchange_n(&serial_lock, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&serial_lock, __ATOMIC_RELAXED))
			cpu_relax();
}

static void unlock(void)
{
	__atomic_store_n(&serial_lock, 0, __ATOMIC_RELEASE);
}

void line_emit_raw(struct line *l)
{
	if (l->len >= LINE_MAX)
		l->len = LINE_MAX - 1;
	l->buf[l->len++] = '\n';
	serial_write(l->buf, l->len);
}

void line_emit(struct line *l)
{
	lock();
	line_emit_raw(l);
	unlock();
}

void say(const char *msg)
{
	struct line l;
	line_init(&l, msg);
	line_emit(&l);
}
