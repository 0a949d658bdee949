/* SPDX-License-Identifier: MIT */
/*
 * The guestload side-channel: the heartbeat port (timestamped here, so the
 * guest-observed pause of a migration can be measured as the largest gap),
 * the exit port, and the parsed progress lines guestload prints on serial.
 */
#ifndef VMIG_VMM_GUESTDEV_H
#define VMIG_VMM_GUESTDEV_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/clock.h"
#include "vmm/serial.h"

struct guest_progress {
	bool seen;          /* at least one progress line parsed */
	uint64_t t_s, passes, errors;
	double dirty_mibs;
	bool layout_seen;
	uint64_t ws_base, ws_pages, owned_base, owned_pages;
	bool done;          /* "guestload: done" seen */
	char last_line[SERIAL_LINE_MAX];
};

struct guest_heartbeat {
	uint64_t count;
	uint64_t last_ns;   /* CLOCK_MONOTONIC of the last beat, 0 if none */
	uint64_t max_gap_ns;
	uint64_t last_value;
	uint64_t last_real_ns; /* CLOCK_REALTIME of the last beat (comparable across hosts) */
};

/* Called when the guest writes the exit port. */
typedef void (*guest_exit_fn)(void *opaque, uint32_t code);

struct guestdev {
	pthread_mutex_t lock;
	struct guest_progress progress;
	struct guest_heartbeat hb;
	guest_exit_fn on_exit;
	void *opaque;
	uint32_t check_requests; /* atomic: read by the guest at VMIG_PORT_REQUEST */
};

void guestdev_init(struct guestdev *g, guest_exit_fn on_exit, void *opaque);
void guestdev_destroy(struct guestdev *g);

/* Port handler for VMIG_PORT_HEARTBEAT, VMIG_PORT_EXIT and VMIG_PORT_REQUEST. */
void guestdev_io(void *opaque, uint16_t port, bool is_write, unsigned size, uint32_t *val);

/* serial_line_fn: parses guestload's lines. */
void guestdev_on_serial_line(void *opaque, const char *line);

/* Parse one line into p; returns true if it was a guestload line it knows. */
bool guest_progress_parse(struct guest_progress *p, const char *line);

void guestdev_snapshot(struct guestdev *g, struct guest_progress *p, struct guest_heartbeat *hb);
/* Replaces the progress (a migration's destination takes the source's). */
void guestdev_restore(struct guestdev *g, const struct guest_progress *p);

/*
 * Migration encoding of struct guest_progress, little-endian, no padding:
 *   u8 seen, u64 t_s, u64 passes, u64 errors, u64 dirty_mibs (IEEE-754
 *   bits), u8 layout_seen, u64 ws_base, u64 ws_pages, u64 owned_base,
 *   u64 owned_pages, u8 done, char last_line[SERIAL_LINE_MAX] (NUL-terminated,
 *   zero-padded)
 */
#define GUEST_PROGRESS_WIRE_SIZE (3 + 8 * 8 + SERIAL_LINE_MAX)
void guest_progress_encode(const struct guest_progress *p, struct vbuf *out);
/* Decodes exactly `len` bytes: booleans 0 or 1, dirty rate finite and not
 * negative, last_line NUL-terminated within its field; 0, or -EINVAL with
 * the reason in err. */
int guest_progress_decode(const uint8_t *data, size_t len, struct guest_progress *out, char *err,
			  size_t errlen);

/* Asks the guest to check its module pages (it notices within a second). */
void guestdev_request_check(struct guestdev *g);

/* Forget the largest gap (e.g. after a deliberate stop/cont). */
void guestdev_reset_gap(struct guestdev *g);


#endif
