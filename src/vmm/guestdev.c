/* SPDX-License-Identifier: MIT */
#include "vmm/guestdev.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "guest_abi.h"

void guestdev_init(struct guestdev *g, guest_exit_fn on_exit, void *opaque)
{
	memset(g, 0, sizeof(*g));
	pthread_mutex_init(&g->lock, NULL);
	g->on_exit = on_exit;
	g->opaque = opaque;
}

void guestdev_destroy(struct guestdev *g)
{
	pthread_mutex_destroy(&g->lock);
}

void guestdev_io(void *opaque, uint16_t port, bool is_write, unsigned size, uint32_t *val)
{
	struct guestdev *g = opaque;

	if (!is_write) {
		*val = port == VMIG_PORT_REQUEST ? __atomic_load_n(&g->check_requests, __ATOMIC_RELAXED)
						 : 0;
		return;
	}
	if (port == VMIG_PORT_HEARTBEAT) {
		uint64_t now = now_ns();
		pthread_mutex_lock(&g->lock);
		if (g->hb.last_ns && now - g->hb.last_ns > g->hb.max_gap_ns)
			g->hb.max_gap_ns = now - g->hb.last_ns;
		g->hb.last_ns = now;
		g->hb.last_real_ns = realtime_ns();
		g->hb.count++;
		g->hb.last_value = *val;
		pthread_mutex_unlock(&g->lock);
	} else if (port == VMIG_PORT_EXIT) {
		if (g->on_exit)
			g->on_exit(g->opaque, *val);
	}
	(void)size;
}

void guestdev_request_check(struct guestdev *g)
{
	__atomic_add_fetch(&g->check_requests, 1, __ATOMIC_RELAXED);
}

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool guest_progress_parse(struct guest_progress *p, const char *line)
{
	unsigned long long t, passes, errors, a, b, c, d;
	double dirty;

	if (!starts_with(line, "guestload: "))
		return false;
	snprintf(p->last_line, sizeof(p->last_line), "%s", line);
	/* A NaN or negative rate ("dirty=nan") is no figure: it would not
	 * survive migration (guest_progress_decode refuses it). */
	if (sscanf(line, "guestload: t=%llus passes=%llu dirty=%lfMiB/s errors=%llu", &t, &passes,
		   &dirty, &errors) == 4 && isfinite(dirty) && dirty >= 0) {
		p->seen = true;
		p->t_s = t;
		p->passes = passes;
		p->dirty_mibs = dirty;
		p->errors = errors;
		return true;
	}
	if (sscanf(line, "guestload: layout ws_base=%llx ws_pages=%llu owned_base=%llx owned_pages=%llu",
		   &a, &b, &c, &d) == 4) {
		p->layout_seen = true;
		p->ws_base = a;
		p->ws_pages = b;
		p->owned_base = c;
		p->owned_pages = d;
		return true;
	}
	if (sscanf(line, "guestload: done t=%llus passes=%llu errors=%llu", &t, &passes, &errors) == 3) {
		p->done = true;
		p->t_s = t;
		p->passes = passes;
		p->errors = errors;
		return true;
	}
	return true;
}

void guestdev_on_serial_line(void *opaque, const char *line)
{
	struct guestdev *g = opaque;
	pthread_mutex_lock(&g->lock);
	guest_progress_parse(&g->progress, line);
	pthread_mutex_unlock(&g->lock);
}

void guestdev_snapshot(struct guestdev *g, struct guest_progress *p, struct guest_heartbeat *hb)
{
	pthread_mutex_lock(&g->lock);
	if (p)
		*p = g->progress;
	if (hb)
		*hb = g->hb;
	pthread_mutex_unlock(&g->lock);
}

void guestdev_restore(struct guestdev *g, const struct guest_progress *p)
{
	pthread_mutex_lock(&g->lock);
	g->progress = *p;
	pthread_mutex_unlock(&g->lock);
}

void guestdev_reset_gap(struct guestdev *g)
{
	pthread_mutex_lock(&g->lock);
	g->hb.max_gap_ns = 0;
	pthread_mutex_unlock(&g->lock);
}

void guest_progress_encode(const struct guest_progress *p, struct vbuf *out)
{
	uint64_t dirty_bits;
	memcpy(&dirty_bits, &p->dirty_mibs, sizeof(dirty_bits));
	vbuf_put_u8(out, p->seen);
	vbuf_put_u64(out, p->t_s);
	vbuf_put_u64(out, p->passes);
	vbuf_put_u64(out, p->errors);
	vbuf_put_u64(out, dirty_bits);
	vbuf_put_u8(out, p->layout_seen);
	vbuf_put_u64(out, p->ws_base);
	vbuf_put_u64(out, p->ws_pages);
	vbuf_put_u64(out, p->owned_base);
	vbuf_put_u64(out, p->owned_pages);
	vbuf_put_u8(out, p->done);
	/* The string, then zeros: bytes past the NUL would be stale host memory. */
	char line[SERIAL_LINE_MAX] = {0};
	memcpy(line, p->last_line, strnlen(p->last_line, sizeof(line) - 1));
	vbuf_put(out, line, sizeof(line));
}

/* A wire byte that must be a C bool: anything but 0 or 1 is refused here,
 * before it can reach a bool (loading 2 from a bool is undefined). */
static int get_bool(struct vreader *r, const char *name, bool *out, char *err, size_t errlen)
{
	uint8_t v = vr_u8(r);
	if (!r->bad && v > 1) {
		snprintf(err, errlen, "%s is %u, not 0 or 1", name, v);
		return -EINVAL;
	}
	*out = v == 1;
	return 0;
}

int guest_progress_decode(const uint8_t *data, size_t len, struct guest_progress *out, char *err,
			  size_t errlen)
{
	struct guest_progress p;
	struct vreader r;
	uint64_t dirty_bits;

	if (len != GUEST_PROGRESS_WIRE_SIZE) {
		snprintf(err, errlen, "%zu bytes, expected %d", len, GUEST_PROGRESS_WIRE_SIZE);
		return -EINVAL;
	}
	memset(&p, 0, sizeof(p));
	vreader_init(&r, data, len);
	if (get_bool(&r, "seen", &p.seen, err, errlen))
		return -EINVAL;
	p.t_s = vr_u64(&r);
	p.passes = vr_u64(&r);
	p.errors = vr_u64(&r);
	dirty_bits = vr_u64(&r);
	memcpy(&p.dirty_mibs, &dirty_bits, sizeof(p.dirty_mibs));
	if (get_bool(&r, "layout_seen", &p.layout_seen, err, errlen))
		return -EINVAL;
	p.ws_base = vr_u64(&r);
	p.ws_pages = vr_u64(&r);
	p.owned_base = vr_u64(&r);
	p.owned_pages = vr_u64(&r);
	if (get_bool(&r, "done", &p.done, err, errlen))
		return -EINVAL;
	const uint8_t *line = vr_take(&r, SERIAL_LINE_MAX);
	if (r.bad || r.left) { /* cannot happen with the exact length above */
		snprintf(err, errlen, "malformed");
		return -EINVAL;
	}
	if (!isfinite(p.dirty_mibs) || p.dirty_mibs < 0) {
		snprintf(err, errlen, "dirty_mibs is %g, not a rate", p.dirty_mibs);
		return -EINVAL;
	}
	if (!memchr(line, 0, SERIAL_LINE_MAX)) {
		snprintf(err, errlen, "last_line has no NUL within its %d bytes", SERIAL_LINE_MAX);
		return -EINVAL;
	}
	memcpy(p.last_line, line, SERIAL_LINE_MAX);
	*out = p;
	return 0;
}
