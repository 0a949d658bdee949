/* SPDX-License-Identifier: MIT */
/*
 * TSC calibration with PIT channel 2, the way PC firmware does it: gate
 * the channel through port 0x61, program mode 0 (interrupt on terminal
 * count) and poll the OUT bit. Each IN is a VM exit (~25 us here), which
 * limits the precision to about 0.1% over 50 ms.
 */
#include "tsc.h"

#include "io.h"

#define PIT_HZ 1193182ull
#define PIT_COUNT 59659u /* 50 ms */
#define PORT_PIT_CH2 0x42
#define PORT_PIT_CMD 0x43
#define PORT_SPEAKER 0x61 /* bit 0: ch2 gate, bit 1: speaker, bit 5: ch2 OUT */

uint64_t tsc_calibrate_khz(void)
{
	uint8_t ctl = inb(PORT_SPEAKER);

	outb(PORT_SPEAKER, (uint8_t)((ctl & ~0x03) | 0x01)); /* gate on, speaker off */
	outb(PORT_PIT_CMD, 0xb0); /* channel 2, lobyte/hibyte, mode 0, binary */
	outb(PORT_PIT_CH2, PIT_COUNT & 0xff);
	uint64_t t0 = rdtsc();
	outb(PORT_PIT_CH2, PIT_COUNT >> 8); /* counting starts with the high byte */

	/* 200k polls take several seconds even at ~25 us each: far beyond 50 ms. */
	unsigned polls = 0;
	while (!(inb(PORT_SPEAKER) & 0x20))
		if (++polls > 200000)
			return 0;
	uint64_t t1 = rdtsc();
	outb(PORT_SPEAKER, ctl);
	if (polls < 2)
		return 0; /* OUT was already high: no PIT behind the port */
	return (t1 - t0) * PIT_HZ / (PIT_COUNT * 1000ull);
}
