/* SPDX-License-Identifier: MIT */
/*
 * 8250/16550 UART (COM1 at 0x3f8), output only: bytes the guest writes to
 * THR go to a file descriptor and to a line callback (the VMM parses
 * guestload's progress lines from it). Reads see an always-ready
 * transmitter and an empty receiver. No interrupts are raised.
 */
#ifndef VMIG_VMM_SERIAL_H
#define VMIG_VMM_SERIAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define SERIAL_LINE_MAX 512

typedef void (*serial_line_fn)(void *opaque, const char *line);

/* Register state a migration carries (save/restore pair). */
struct serial_state {
	uint8_t ier, lcr, mcr, scr, dll, dlm, fcr;
};

/* Bits the guest can set in IER and MCR (serial_io masks writes so). */
#define SERIAL_IER_MASK 0x0f
#define SERIAL_MCR_MASK 0x1f

struct serial {
	pthread_mutex_t lock;
	struct serial_state regs;
	int out_fd;                 /* -1: discard */
	serial_line_fn on_line;
	void *opaque;
	char line[SERIAL_LINE_MAX]; /* current partial line */
	unsigned line_len;
};

void serial_init(struct serial *s, int out_fd, serial_line_fn on_line, void *opaque);
void serial_destroy(struct serial *s);
void serial_io(void *opaque, uint16_t port, bool is_write, unsigned size, uint32_t *val);

void serial_save(struct serial *s, struct serial_state *out);
void serial_load(struct serial *s, const struct serial_state *in);

/* Migration encoding: one byte per register (IER LCR MCR SCR DLL DLM FCR). */
void serial_state_encode(const struct serial_state *st, struct vbuf *out);
/* Decodes exactly `len` bytes and checks every register is one the guest
 * could have written; 0, or -EINVAL with the reason in err. */
int serial_state_decode(const uint8_t *p, size_t len, struct serial_state *out, char *err,
			size_t errlen);

#endif
