/* SPDX-License-Identifier: MIT */
#include "vmm/serial.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define UART_LCR_DLAB 0x80
#define UART_LSR_THRE 0x20
#define UART_LSR_TEMT 0x40
#define UART_IIR_NO_INT 0x01
#define UART_MSR_DCD_DSR_CTS 0xb0

void serial_init(struct serial *s, int out_fd, serial_line_fn on_line, void *opaque)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->out_fd = out_fd;
	s->on_line = on_line;
	s->opaque = opaque;
	s->regs.dll = 0x0c; /* 9600 baud, the power-on default */
}

void serial_destroy(struct serial *s)
{
	pthread_mutex_destroy(&s->lock);
}

static void write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return; /* output is best effort; never stall the vCPU on it */
		}
		buf += n;
		len -= (size_t)n;
	}
}

/* Called with the lock held. */
static void serial_put(struct serial *s, uint8_t c)
{
	if (s->out_fd >= 0)
		write_all(s->out_fd, (const char *)&c, 1);
	if (c == '\n' || s->line_len == SERIAL_LINE_MAX - 1) {
		s->line[s->line_len] = 0;
		if (s->on_line)
			s->on_line(s->opaque, s->line);
		s->line_len = 0;
	} else if (c != '\r') {
		s->line[s->line_len++] = (char)c;
	}
}

void serial_io(void *opaque, uint16_t port, bool is_write, unsigned size, uint32_t *val)
{
	struct serial *s = opaque;
	unsigned reg = port & 7;
	uint8_t v = (uint8_t)*val;

	pthread_mutex_lock(&s->lock);
	bool dlab = s->regs.lcr & UART_LCR_DLAB;
	if (is_write) {
		switch (reg) {
		case 0:
			if (dlab)
				s->regs.dll = v;
			else
				serial_put(s, v);
			break;
		case 1:
			if (dlab)
				s->regs.dlm = v;
			else
				s->regs.ier = v & SERIAL_IER_MASK;
			break;
		case 2: s->regs.fcr = v; break;
		case 3: s->regs.lcr = v; break;
		case 4: s->regs.mcr = v & SERIAL_MCR_MASK; break;
		case 7: s->regs.scr = v; break;
		default: break; /* LSR/MSR are read-only */
		}
	} else {
		uint32_t r = 0;
		switch (reg) {
		case 0: r = dlab ? s->regs.dll : 0; break;
		case 1: r = dlab ? s->regs.dlm : s->regs.ier; break;
		case 2: r = UART_IIR_NO_INT | ((s->regs.fcr & 1) ? 0xc0 : 0); break;
		case 3: r = s->regs.lcr; break;
		case 4: r = s->regs.mcr; break;
		case 5: r = UART_LSR_THRE | UART_LSR_TEMT; break;
		case 6: r = UART_MSR_DCD_DSR_CTS; break;
		case 7: r = s->regs.scr; break;
		}
		*val = r;
	}
	pthread_mutex_unlock(&s->lock);
	(void)size;
}

void serial_save(struct serial *s, struct serial_state *out)
{
	pthread_mutex_lock(&s->lock);
	*out = s->regs;
	pthread_mutex_unlock(&s->lock);
}

void serial_load(struct serial *s, const struct serial_state *in)
{
	pthread_mutex_lock(&s->lock);
	s->regs = *in;
	pthread_mutex_unlock(&s->lock);
}

void serial_state_encode(const struct serial_state *st, struct vbuf *out)
{
	const uint8_t b[7] = {st->ier, st->lcr, st->mcr, st->scr, st->dll, st->dlm, st->fcr};
	vbuf_put(out, b, sizeof(b));
}

int serial_state_decode(const uint8_t *p, size_t len, struct serial_state *out, char *err,
			size_t errlen)
{
	if (len != 7) {
		snprintf(err, errlen, "%zu bytes, expected 7", len);
		return -EINVAL;
	}
	struct serial_state st = {p[0], p[1], p[2], p[3], p[4], p[5], p[6]};
	/* A guest cannot set the IER/MCR bits serial_io masks off, so a state
	 * with them set did not come from a running UART. */
	if (st.ier & ~SERIAL_IER_MASK) {
		snprintf(err, errlen, "IER 0x%02x has bits outside 0x%02x", st.ier, SERIAL_IER_MASK);
		return -EINVAL;
	}
	if (st.mcr & ~SERIAL_MCR_MASK) {
		snprintf(err, errlen, "MCR 0x%02x has bits outside 0x%02x", st.mcr, SERIAL_MCR_MASK);
		return -EINVAL;
	}
	*out = st;
	return 0;
}
